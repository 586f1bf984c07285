#!/usr/bin/env bash
# The held-out Hugging Face folders (tests/tools/make_hf_cases.py, in
# $KILN_HF_CASES; skipped when unset) on the cpu, from the JIT and from a
# .kmod with embedded weights, against transformers' outputs at the fixture
# tolerance (atol 1e-4, rtol 1e-3, as fixtures.sh and test_model_hf).
source "$(dirname "$0")/lib.bash"
case " ${KILN_TEST_DEVICES:-} " in
  *" cpu "*) ;;
  *) echo "skipped: this build has no cpu backend"; exit 0 ;;
esac
if [ -z "${KILN_HF_CASES:-}" ]; then
  echo "skipped: set KILN_HF_CASES to a folder made by tests/tools/make_hf_cases.py"; exit 0
fi
n=0
for d in "$KILN_HF_CASES"/*/; do
  [ -f "$d/config.json" ] || continue
  c=$(basename "$d"); n=$((n + 1))
  "$KILN" run "$d" --device cpu --inputs "$d/expected.safetensors" --out "$TMP/$c-jit.safetensors" 2>"$TMP/err" \
    || { fail "$c did not run: $(tail -1 "$TMP/err")"; continue; }
  "$KILN" compile "$d" -o "$TMP/$c.kmod" --embed-weights 2>"$TMP/err" \
    && "$KILN" run "$TMP/$c.kmod" --inputs "$d/expected.safetensors" --out "$TMP/$c-kmod.safetensors" 2>>"$TMP/err" \
    || { fail "$c from a .kmod did not run: $(tail -1 "$TMP/err")"; continue; }
  # the outputs both files hold
  names=$(python3 - "$TMP/$c-jit.safetensors" "$d/expected.safetensors" <<'PY'
import json, struct, sys
def keys(p):
    with open(p, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return [k for k in json.loads(f.read(n)) if k != "__metadata__"]
have = set(keys(sys.argv[1]))
print(" ".join(sorted(k for k in keys(sys.argv[2]) if k in have)))
PY
)
  [ -n "$names" ] || { fail "$c: no output in common with expected.safetensors"; continue; }
  for how in jit kmod; do
    python3 "$STCMP" "$TMP/$c-$how.safetensors" "$d/expected.safetensors" $names --atol 1e-4 --rtol 1e-3 >"$TMP/cmp" \
      || { fail "$c ($how) differs from transformers"; cat "$TMP/cmp" >&2; }
  done
done
[ $n -gt 0 ] || fail "no case folders in $KILN_HF_CASES"
echo "$n held-out cases"
finish
