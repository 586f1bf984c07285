#!/usr/bin/env bash
# Malformed inputs give one clear line on stderr and a non-zero exit, never a crash.
source "$(dirname "$0")/lib.bash"

expect_error "unknown command" "$KILN" frobnicate
expect_error "missing argument" "$KILN" run
expect_error "did you mean '--inputs'" "$KILN" run "$FIX/gpt2-tiny" --input x
expect_error "nonexistent" "$KILN" run "$TMP/nonexistent"
expect_error "unknown device" "$KILN" run "$FIX/gpt2-tiny" --device tpu

# a Hugging Face folder with broken pieces
mk() { rm -rf "$TMP/m"; mkdir "$TMP/m"; cp "$FIX/gpt2-tiny/config.json" "$FIX/gpt2-tiny/model.safetensors" "$TMP/m/"; }
mk; printf '{"model_type": "gpt2", "n_embd": 32,,}' >"$TMP/m/config.json"
expect_error "config.json:1:" "$KILN" dump "$TMP/m"
mk; sed -i 's/"gpt2"/"gpt-nine"/' "$TMP/m/config.json"
expect_error "gpt-nine" "$KILN" dump "$TMP/m"
mk; sed -i 's/"n_head": 4/"n_head": "four"/' "$TMP/m/config.json"
expect_error "n_head" "$KILN" dump "$TMP/m"
mk; head -c 1000 "$FIX/gpt2-tiny/model.safetensors" >"$TMP/m/model.safetensors"
expect_error "model.safetensors" "$KILN" run "$TMP/m" --inputs "$FIX/gpt2-tiny/expected.safetensors"
mk; printf '\xff\xff\xff\xff\xff\xff\x00\x00{}' >"$TMP/m/model.safetensors"
expect_error "model.safetensors" "$KILN" run "$TMP/m" --inputs "$FIX/gpt2-tiny/expected.safetensors"
# config says one width, the weights another
expect_error "transformer.wte.weight" "$KILN" run "$FIX/gpt2-tiny" --set n_embd=64 --inputs "$FIX/gpt2-tiny/expected.safetensors"
# a weight the description needs is missing from the file
mk; python3 - "$FIX/gpt2-tiny/model.safetensors" "$TMP/m/model.safetensors" <<'PY'
import json, struct, sys
raw = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
h = json.loads(raw[8:8 + n])
del h['transformer.ln_f.bias']
hb = json.dumps(h).encode()
hb += b' ' * (-len(hb) % 8)
open(sys.argv[2], 'wb').write(struct.pack('<Q', len(hb)) + hb + raw[8 + n:])
PY
expect_error "transformer.ln_f.bias" "$KILN" run "$TMP/m" --inputs "$FIX/gpt2-tiny/expected.safetensors"

# inputs: missing, wrong dtype
python3 - "$TMP/float_ids.safetensors" <<'PY'
import json, struct, sys
h = {"input_ids": {"dtype": "F32", "shape": [1, 2], "data_offsets": [0, 8]}}
hb = json.dumps(h).encode(); hb += b' ' * (-len(hb) % 8)
open(sys.argv[1], 'wb').write(struct.pack('<Q', len(hb)) + hb + struct.pack('<2f', 1.0, 2.0))
PY
expect_error "input_ids" "$KILN" run "$FIX/gpt2-tiny" --inputs "$TMP/float_ids.safetensors"
expect_error "input_ids" "$KILN" run "$FIX/gpt2-tiny" --inputs "$FIX/bert-tiny/expected_onnxruntime.safetensors"

# .kiln syntax and type errors name file:line:col
printf 'config {\n  n = 3\n}\ninput x: f32[n]\noutput y = x +\n' >"$TMP/bad.kiln"
expect_error "bad.kiln:6:1: expected an expression" "$KILN" dump "$TMP/bad.kiln"
printf 'input x: f32[4]\noutput y = x + "text"\n' >"$TMP/type.kiln"
expect_error "type.kiln:2:" "$KILN" dump "$TMP/type.kiln"
printf 'input x: f32[4]\ninput w: f32[3, 2]\noutput y = reshape(x, [2, 2]) @ w\n' >"$TMP/shape.kiln"
expect_error "shape.kiln:3:" "$KILN" dump "$TMP/shape.kiln"

# help works everywhere
"$KILN" --help | grep -q "usage: kiln COMMAND" || fail "kiln --help"
for c in run dump; do "$KILN" "$c" --help | grep -q "usage: kiln $c" || fail "kiln $c --help"; done
finish
