#!/usr/bin/env bash
# kiln generate on an ONNX export: an imported graph has no KV-cache
# variant to compile, so it fails with one line saying so (it once said
# "kiln_lang_compile: no source text"), in token-id mode and with a
# tokenizer alike.
source "$(dirname "$0")/lib.bash"
model="$FIX/gpt2-tiny/model.onnx"
expect_error "ONNX graphs have no KV-cache variant" "$KILN" generate "$model" --prompt-ids 1,2 --ids -n 4 --device ref
expect_error "ONNX graphs have no KV-cache variant" \
  "$KILN" generate "$model" --prompt hi --tokenizer "$KILN_SHARED/models/gpt2-tokenizer" -n 4 --device ref
finish
