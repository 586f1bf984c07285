#!/usr/bin/env bash
# The four Hugging Face fixtures through `kiln run` on every device this
# build has, against transformers' outputs at atol 1e-4, rtol 1e-3 (float32:
# different summation orders differ by ~1e-6 relative; 1e-3 leaves room for
# the long reductions of the logits without hiding real errors, which show
# up as O(1) differences).
source "$(dirname "$0")/lib.bash"
devices=${KILN_TEST_DEVICES:-ref}
for dev in $devices; do
  for m in gpt2 bert t5 llama; do
    case $m in
      bert) names="last_hidden_state pooler_output" ;;
      t5) names="logits encoder_last_hidden_state" ;;
      *) names="logits" ;;
    esac
    out="$TMP/$m-$dev.safetensors"
    if ! "$KILN" run "$FIX/$m-tiny" --inputs "$FIX/$m-tiny/expected.safetensors" --out "$out" --device "$dev"; then
      fail "$m on $dev did not run"; continue
    fi
    python3 "$STCMP" "$out" "$FIX/$m-tiny/expected.safetensors" $names --atol 1e-4 --rtol 1e-3 >"$TMP/cmp" \
      || { fail "$m on $dev differs from transformers"; cat "$TMP/cmp" >&2; }
  done
done
finish
