#!/usr/bin/env bash
# kiln run and kiln generate on --device vulkan: the four HF fixtures with
# the validation layer on (a run it reports anything for fails), fp16,
# --profile and --trace, generation against the reference, `auto` never
# picking a CPU Vulkan device, and the errors for a missing loader, driver
# or device and for running out of device memory.
source "$(dirname "$0")/lib.bash"
if ! "$KILN" devices 2>/dev/null | grep -q '^vulkan:'; then
  if [ "${KILN_REQUIRE_VULKAN:-0}" != 0 ]; then fail "KILN_REQUIRE_VULKAN is set but kiln finds no Vulkan device"; finish; fi
  echo "skipped: no Vulkan device (set KILN_REQUIRE_VULKAN=1 to make this a failure)"; exit 0
fi
names_of() {
  case $1 in bert) echo "last_hidden_state pooler_output" ;; t5) echo "logits encoder_last_hidden_state" ;; *) echo logits ;; esac
}

# fp32 at the fixtures' tolerance (fixtures.sh explains atol 1e-4, rtol 1e-3)
for m in gpt2 bert t5 llama; do
  if ! KILN_VK_VALIDATION=1 "$KILN" run "$FIX/$m-tiny" --inputs "$FIX/$m-tiny/expected.safetensors" --out "$TMP/$m.st" \
      --device vulkan 2>"$TMP/err"; then
    fail "$m on vulkan with validation did not run"; cat "$TMP/err" >&2; continue
  fi
  grep -q "validation" "$TMP/err" && { fail "$m: the validation layer spoke"; cat "$TMP/err" >&2; }
  python3 "$STCMP" "$TMP/$m.st" "$FIX/$m-tiny/expected.safetensors" $(names_of $m) --atol 1e-4 --rtol 1e-3 >"$TMP/cmp" \
    || { fail "$m on vulkan differs from transformers"; cat "$TMP/cmp" >&2; }
done

# fp16 storage: each stored value is rounded to 11 significant bits (4.9e-4
# relative) once per kernel, through up to ~15 kernels of these tiny
# models; the worst seen is 1e-2 on outputs of magnitude ~1. 3e-2 absolute
# and relative still fails any real error (those are O(1)).
for m in gpt2 llama; do
  KILN_VK_VALIDATION=1 "$KILN" run "$FIX/$m-tiny" --inputs "$FIX/$m-tiny/expected.safetensors" --out "$TMP/$m-h.st" \
    --device vulkan --precision fp16 2>"$TMP/err" || { fail "$m fp16 did not run"; cat "$TMP/err" >&2; continue; }
  python3 "$STCMP" "$TMP/$m-h.st" "$FIX/$m-tiny/expected.safetensors" logits --atol 3e-2 --rtol 3e-2 >"$TMP/cmp" \
    || { fail "$m fp16 differs"; cat "$TMP/cmp" >&2; }
  # and it does store f16: results are not bit-equal to fp32's
  python3 "$STCMP" "$TMP/$m-h.st" "$TMP/$m.st" logits --atol 0 --rtol 0 >/dev/null 2>&1 && fail "$m fp16 equals fp32 exactly"
done

# --profile prints a table per kernel; --trace writes one event per dispatch
"$KILN" run "$FIX/llama-tiny" --inputs "$FIX/llama-tiny/expected.safetensors" --device vulkan --profile \
  --trace "$TMP/trace.json" >"$TMP/out" 2>"$TMP/prof" || fail "profile/trace run failed"
grep -q "rms_norm" "$TMP/prof" && grep -q "^total" "$TMP/prof" || { fail "no profile table"; cat "$TMP/prof" >&2; }
python3 - "$TMP/trace.json" "$TMP/prof" <<'PY' || fail "bad trace"
import json, re, sys
ev = json.load(open(sys.argv[1]))["traceEvents"]
total = re.search(r"^total\s+(\d+)", open(sys.argv[2]).read(), re.M)
assert total and len(ev) == int(total.group(1)) > 0, (len(ev), total)
assert all(e["ph"] == "X" and e["dur"] >= 0 and e["name"] for e in ev)
assert sorted(e["ts"] for e in ev) == [e["ts"] for e in ev]
PY

# generation: greedy and sampled text equal the reference interpreter's
M="$KILN_SHARED/models/stories260K/stories260K.bin"
for args in "--greedy" "--temperature 0.8 --top-k 20 --seed 4"; do
  KILN_VK_VALIDATION=1 "$KILN" generate "$M" -p "Once upon a time" -n 60 --ids --device vulkan $args >"$TMP/gv" 2>"$TMP/err" \
    || { fail "generate on vulkan ($args)"; cat "$TMP/err" >&2; }
  "$KILN" generate "$M" -p "Once upon a time" -n 60 --ids --device ref $args >"$TMP/gr" 2>/dev/null
  cmp -s "$TMP/gv" "$TMP/gr" || fail "generate on vulkan ($args) differs from ref"
done

# auto uses Vulkan only on a real GPU, never on lavapipe/llvmpipe
if "$KILN" devices 2>/dev/null | grep -A1 '^vulkan:0' | grep -q 'type  *CPU'; then
  "$KILN" run "$FIX/gpt2-tiny" --inputs "$FIX/gpt2-tiny/expected.safetensors" --out "$TMP/a.st" 2>"$TMP/err" \
    || fail "auto run failed"
  grep -q " on vulkan:" "$TMP/err" && fail "auto picked a CPU Vulkan device"
  grep -q " on vulkan" "$TMP/err" && fail "auto picked a CPU Vulkan device"
fi

# errors: one line, naming what is missing, pointing at --device cpu
expect_error "use --device cpu" env KILN_VULKAN_LIBRARY=/nonexistent/libvulkan.so.1 "$KILN" run "$FIX/gpt2-tiny" --device vulkan
expect_error "use --device cpu" env VK_DRIVER_FILES=/nonexistent/icd.json VK_ICD_FILENAMES=/nonexistent/icd.json \
  "$KILN" run "$FIX/gpt2-tiny" --device vulkan
expect_error "does not exist" "$KILN" run "$FIX/gpt2-tiny" --device vulkan:99
expect_error "only fp32, and fp16 on --device vulkan" "$KILN" run "$FIX/gpt2-tiny" --device ref --precision fp16
expect_error "cannot write a kernel trace" "$KILN" run "$FIX/gpt2-tiny" --device ref --trace "$TMP/t.json" \
  --inputs "$FIX/gpt2-tiny/expected.safetensors"
# a million tokens need ~190 GiB of logits: out of device memory, said so
python3 -c "
import numpy as np, sys
from safetensors.numpy import save_file
save_file({'input_ids': np.zeros((1, 1000000), dtype=np.int64)}, sys.argv[1])" "$TMP/big.st"
expect_error "out of device memory" "$KILN" run "$FIX/gpt2-tiny" --inputs "$TMP/big.st" --device vulkan --out "$TMP/big.out"
finish
