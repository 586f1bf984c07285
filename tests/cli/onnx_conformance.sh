#!/usr/bin/env bash
# The ONNX backend node tests (../shared/conformance/onnx-node) on the
# reference interpreter: no test may fail, and the number passing may not
# drop below the count recorded in tests/onnx_conformance_baseline.txt
# (raise it there when more pass). Tolerances: see `kiln onnx-test --help`.
source "$(dirname "$0")/lib.bash"
dir="$KILN_SHARED/conformance/onnx-node"
baseline_file="$KILN_SOURCE_DIR/tests/onnx_conformance_baseline.txt"
baseline=$(grep -v '^#' "$baseline_file" | head -n 1 | tr -d '[:space:]')
rc=0
"$KILN" onnx-test "$dir" --device "${KILN_ONNX_DEVICE:-ref}" >"$TMP/out" 2>"$TMP/err" || rc=$?
summary=$(tail -n 1 "$TMP/out")
echo "$summary"
case "$summary" in
  "onnx-test: "*) ;;
  *) fail "no summary line (rc $rc)"; cat "$TMP/err" >&2; finish ;;
esac
passed=$(echo "$summary" | sed -n 's/^onnx-test: \([0-9]*\) passed, \([0-9]*\) failed.*/\1/p')
failed=$(echo "$summary" | sed -n 's/^onnx-test: \([0-9]*\) passed, \([0-9]*\) failed.*/\2/p')
[ "$failed" = 0 ] || { fail "$failed test(s) failed"; grep '^FAIL' "$TMP/out" >&2; }
[ "$rc" -eq 0 ] || [ "$failed" != 0 ] || fail "exit status $rc without failures"
[ "$passed" -ge "$baseline" ] || fail "$passed passed, below the baseline of $baseline"
finish
