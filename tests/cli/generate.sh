#!/usr/bin/env bash
# kiln generate on every device in $KILN_TEST_DEVICES (default ref):
#  - the README's main job (the bundled stories260K, tokenizer beside it)
#    prints exactly ../shared's expected_greedy_200.txt (plus a final
#    newline); the .gguf with --ids prints the expected ids after the 4
#    prompt ids (the id file counts the prompt, as llama2.c's -n does);
#  - the HF fixtures' greedy_tokens (transformers' generate) come back with
#    --prompt-ids ... --ids;
#  - seeded sampling repeats with the same seed and changes with another;
#  - errors are one line.
source "$(dirname "$0")/lib.bash"
: "${KILN_SOURCE_DIR:?}"
ST="$KILN_SHARED/models/stories260K"
devices=${KILN_TEST_DEVICES:-ref}

# "a b c" of a fixture tensor (row 0), from index FROM on
ids_of() { # FILE NAME FROM SEP
  python3 - "$@" <<'EOF'
import json, struct, sys
path, name, start, sep = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
with open(path, 'rb') as f:
    n = struct.unpack('<Q', f.read(8))[0]
    head = json.loads(f.read(n))
    base = 8 + n
    info = head[name]
    assert info['dtype'] == 'I64'
    a, b = info['data_offsets']
    f.seek(base + a)
    raw = f.read(b - a)
vals = struct.unpack('<%dq' % ((b - a) // 8), raw)[:info['shape'][-1]]
print(sep.join(str(v) for v in vals[start:]))
EOF
}

for dev in $devices; do
  # the main job, exactly as setup.sh runs it (from the source folder)
  if (cd "$KILN_SOURCE_DIR" && "$KILN" generate examples/stories260K/stories260K.bin --prompt "Once upon a time" \
        -n 200 --device "$dev") >"$TMP/story.txt" 2>"$TMP/story.err"; then
    printf '\n' >"$TMP/nl"
    cat "$ST/expected_greedy_200.txt" "$TMP/nl" >"$TMP/want.txt"
    cmp -s "$TMP/story.txt" "$TMP/want.txt" || { fail "stories260K.bin on $dev: text differs"; diff "$TMP/story.txt" "$TMP/want.txt" >&2 || true; }
    grep -q "prefill 5 tokens .* tok/s), decode 195 tokens .* tok/s)" "$TMP/story.err" \
      || { fail "stories260K.bin on $dev: no speed line on stderr"; cat "$TMP/story.err" >&2; }
  else
    fail "stories260K.bin on $dev did not run"; cat "$TMP/story.err" >&2
  fi

  # the GGUF conversion, token ids only
  if "$KILN" generate "$ST/stories260K.gguf" --prompt "Once upon a time" -n 200 --ids --device "$dev" \
       >"$TMP/ids.txt" 2>/dev/null; then
    want=$(tr -s ' \n' ' ' <"$ST/expected_greedy_200_token_ids.txt" | cut -d' ' -f5-200)
    [ "$(cat "$TMP/ids.txt")" = "$want" ] || fail "stories260K.gguf on $dev: ids differ: $(cat "$TMP/ids.txt")"
  else
    fail "stories260K.gguf on $dev did not run"
  fi

  # the same prompt as ids, BOS (1 in llama2.c) first: -n counts it the same way
  pids="1,$(tr -s ' \n' ' ' <"$ST/expected_greedy_200_token_ids.txt" | cut -d' ' -f1-4 | tr ' ' ,)"
  got=$("$KILN" generate "$ST/stories260K.bin" --prompt-ids "$pids" -n 200 --ids --device "$dev" 2>/dev/null) \
    || fail "stories260K.bin --prompt-ids on $dev did not run"
  [ "$got" = "$want" ] || fail "stories260K.bin --prompt-ids on $dev: ids differ"

  for m in gpt2 llama t5; do
    exp="$FIX/$m-tiny/expected.safetensors"
    if [ $m = t5 ]; then
      prompt=$(ids_of "$exp" input_ids 0 ,); want=$(ids_of "$exp" greedy_tokens 1 ' '); n=12
    else
      prompt=$(ids_of "$exp" greedy_prompt 0 ,)
      np=$(echo "$prompt" | tr ',' '\n' | wc -l)
      want=$(ids_of "$exp" greedy_tokens "$np" ' '); n=$(ids_of "$exp" greedy_tokens 0 ' ' | wc -w)
    fi
    got=$("$KILN" generate "$FIX/$m-tiny" --prompt-ids "$prompt" --ids -n "$n" --device "$dev" 2>"$TMP/err") \
      || { fail "$m-tiny on $dev did not run"; cat "$TMP/err" >&2; continue; }
    [ "$got" = "$want" ] || fail "$m-tiny on $dev: got '$got', transformers gave '$want'"
  done
done

# seeded sampling: reproducible, and the seed matters
run_seed() { "$KILN" generate "$ST/stories260K.bin" --prompt "Once upon a time" -n 40 --temperature 1 --top-p 0.9 --seed "$1" --device ref 2>/dev/null; }
a=$(run_seed 1); b=$(run_seed 1); c=$(run_seed 2)
[ -n "$a" ] && [ "$a" = "$b" ] || fail "same seed gave different text"
[ "$a" != "$c" ] || fail "seeds 1 and 2 gave the same text"
# temperature 0 is greedy
g1=$("$KILN" generate "$ST/stories260K.bin" --prompt "Once upon a time" -n 30 --device ref 2>/dev/null)
g2=$("$KILN" generate "$ST/stories260K.bin" --prompt "Once upon a time" -n 30 --temperature 0 --device ref 2>/dev/null)
[ -n "$g1" ] && [ "$g1" = "$g2" ] || fail "--temperature 0 differs from greedy"

# help documents the default
"$KILN" generate --help | grep -q "greedy.*(the default)" || fail "generate --help does not name the default decoding"

# one-line errors
mkdir -p "$TMP/bare" && ln -s "$ST/stories260K.bin" "$TMP/bare/model.bin"
expect_error "no tokenizer found" "$KILN" generate "$TMP/bare/model.bin" --prompt "Hi" --device ref
expect_error "no tokenizer found" "$KILN" generate "$FIX/llama-tiny" --prompt "Hi" --device ref
expect_error "longer than llama-tiny's context of 4 (max_position_embeddings)" \
  "$KILN" generate "$FIX/llama-tiny" --set max_position_embeddings=4 --prompt-ids 1,2,3,4,5 --ids --device ref
printf 'x' >"$TMP/model.xyz"
expect_error "unsupported model format '.xyz'" "$KILN" generate "$TMP/model.xyz" --prompt "Hi"
expect_error "cannot generate text" "$KILN" generate "$FIX/bert-tiny" --prompt-ids 1,2 --ids --device ref
expect_error "--greedy cannot be combined" "$KILN" generate "$ST/stories260K.bin" --greedy --temperature 0.5
expect_error "--prompt-ids expects" "$KILN" generate "$ST/stories260K.bin" --prompt-ids 1,x,3 --ids
expect_error "--top-p must be in (0, 1]" "$KILN" generate "$ST/stories260K.bin" --top-p 1.5
expect_error "not both" "$KILN" generate "$ST/stories260K.bin" --prompt a --prompt-ids 1
expect_error "leaves no room for new tokens" "$KILN" generate "$ST/stories260K.bin" --prompt "Once upon a time" -n 4 --device ref
expect_error "outside the vocabulary" "$KILN" generate "$ST/stories260K.bin" --prompt-ids 1,600 --ids --device ref
finish
