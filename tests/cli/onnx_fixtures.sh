#!/usr/bin/env bash
# The ONNX exports of the GPT-2, BERT and Llama fixtures through `kiln run`
# against onnxruntime's outputs (ort_* in expected_onnxruntime.safetensors)
# at atol 1e-4, rtol 1e-3: float32 with different summation orders differs
# by ~1e-6 relative; the margin covers the logits' long reductions while real
# errors show up as O(1) differences.
source "$(dirname "$0")/lib.bash"
for dev in ${KILN_TEST_DEVICES:-ref}; do
  for m in gpt2 bert llama; do
    case $m in
      bert) names="last_hidden_state=ort_last_hidden_state pooler_output=ort_pooler_output" ;;
      *) names="logits=ort_logits" ;;
    esac
    out="$TMP/$m-$dev.safetensors"
    if ! "$KILN" run "$FIX/$m-tiny/model.onnx" --inputs "$FIX/$m-tiny/expected.safetensors" --out "$out" --device "$dev"; then
      fail "$m.onnx on $dev did not run"; continue
    fi
    python3 "$STCMP" "$out" "$FIX/$m-tiny/expected_onnxruntime.safetensors" $names --atol 1e-4 --rtol 1e-3 >"$TMP/cmp" \
      || { fail "$m.onnx on $dev differs from onnxruntime"; cat "$TMP/cmp" >&2; }
  done
done
# errors name the file and stay on one line
printf 'not a protobuf' >"$TMP/bad.onnx"
expect_error "bad.onnx: byte" "$KILN" run "$TMP/bad.onnx"
finish
