# Helpers sourced by the tests/cli/*.sh scripts.
set -euo pipefail
: "${KILN:?KILN must point at the kiln binary}"
: "${KILN_SHARED:?KILN_SHARED must point at ../shared}"
FIX="$KILN_SHARED/fixtures/hf"
STCMP="$KILN_SHARED/tools/stcmp.py"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failures=0

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# expect_error NEEDLE CMD...: the command must exit non-zero (but not crash:
# no signal), print exactly one line to stderr, and that line must contain NEEDLE.
expect_error() {
  local needle=$1; shift
  local rc=0
  "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
  if [ $rc -eq 0 ]; then fail "expected failure: $*"; return; fi
  if [ $rc -ge 128 ]; then fail "crashed (rc $rc): $*"; cat "$TMP/err" >&2; return; fi
  if [ "$(wc -l <"$TMP/err")" -ne 1 ]; then fail "expected one line on stderr: $*"; cat "$TMP/err" >&2; fi
  grep -qF -- "$needle" "$TMP/err" || { fail "stderr lacks '$needle': $*"; cat "$TMP/err" >&2; }
}

finish() {
  if [ $failures -ne 0 ]; then echo "$failures failure(s)" >&2; exit 1; fi
  echo "all passed"
}
