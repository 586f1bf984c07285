#!/usr/bin/env bash
# ctest-label: slow (the sanitizer run skips it: minutes under ASan)
# kiln generate prints exactly what llama2.c's run.c prints, greedy, for the
# prompts in tests/data/llama2c (NAME.prompt -> NAME.expected, made by
# tests/tools/llama2c_greedy_ref.sh from run.c's own output; "bos" is run.c
# without -i, which is kiln without --prompt). Every prompt on every device
# in $KILN_TEST_DEVICES for the llama2.c .bin, and on the cpu also for the
# .gguf conversion (its tokenizer comes from the GGUF metadata), except:
#  - kir (the kernel-IR evaluator, ~10 s per story) runs three prompts that
#    between them cover plain text, byte fallback and newlines;
#  - vulkan (lavapipe here, ~5 s per story) runs five.
# The cpu runs share a fresh kernel cache ($XDG_CACHE_HOME in $TMP), so after
# the first the compile is a cache hit.
source "$(dirname "$0")/lib.bash"
: "${KILN_SOURCE_DIR:?}"
ST="$KILN_SHARED/models/stories260K"
DATA="$KILN_SOURCE_DIR/tests/data/llama2c"
export XDG_CACHE_HOME="$TMP/cache"

all=()
for f in "$DATA"/*.prompt; do all+=("$(basename "$f" .prompt)"); done
[ ${#all[@]} -ge 10 ] || fail "expected at least 10 reference prompts in $DATA, found ${#all[@]}"

# check MODEL DEVICE NAME...: each NAME's story on DEVICE equals NAME.expected
check() {
  local model=$1 dev=$2; shift 2
  local n p
  for n in "$@"; do
    p=$(cat "$DATA/$n.prompt"; printf x)
    p=${p%x}
    local args=("$model" -n 200 --device "$dev")
    [ "$n" = bos ] || args+=(--prompt "$p")
    if ! "$KILN" generate "${args[@]}" >"$TMP/out" 2>"$TMP/err"; then
      fail "$(basename "$model") '$n' on $dev did not run"; cat "$TMP/err" >&2; continue
    fi
    if ! cmp -s "$TMP/out" "$DATA/$n.expected"; then
      fail "$(basename "$model") '$n' on $dev differs from run.c"
      diff <(od -c "$TMP/out") <(od -c "$DATA/$n.expected") | head -10 >&2 || true
    fi
  done
}

# the kernel cache: --no-cache writes no entry; a plain run writes one that
# the next run loads (and prints the same story)
case " ${KILN_TEST_DEVICES:-} " in *" cpu "*)
  export XDG_CACHE_HOME="$TMP/cache1"
  "$KILN" generate "$ST/stories260K.bin" --prompt "Once upon a time" -n 200 --device cpu --no-cache >"$TMP/nc" 2>/dev/null \
    || fail "--no-cache did not run"
  cmp -s "$TMP/nc" "$DATA/once.expected" || fail "--no-cache: story differs"
  [ -z "$(ls -A "$TMP/cache1/kiln/cpu" 2>/dev/null)" ] || fail "--no-cache wrote a cache entry"
  "$KILN" generate "$ST/stories260K.bin" --prompt "Once upon a time" -n 200 --device cpu >/dev/null 2>&1 || fail "cached run failed"
  [ "$(ls "$TMP/cache1/kiln/cpu" | grep -c '\.kmod$')" = 1 ] || fail "expected one cache entry: $(ls "$TMP/cache1/kiln/cpu")"
  export XDG_CACHE_HOME="$TMP/cache"
esac

for dev in ${KILN_TEST_DEVICES:-ref}; do
  case $dev in
    kir) check "$ST/stories260K.bin" "$dev" once emoji newlines ;;
    vulkan) check "$ST/stories260K.bin" "$dev" bos once cjk newlines long ;;
    *) check "$ST/stories260K.bin" "$dev" "${all[@]}" ;;
  esac
  [ "$dev" = cpu ] && check "$ST/stories260K.gguf" cpu "${all[@]}"
done
finish
