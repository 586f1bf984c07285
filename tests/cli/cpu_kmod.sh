#!/usr/bin/env bash
# kiln compile / kiln run on .kmod modules (CPU builds only): the gpt2 and
# llama fixtures compiled ahead of time, run from the module with embedded
# weights and with --weights, against transformers' outputs at the fixture
# tolerance (atol 1e-4, rtol 1e-3, as fixtures.sh), and equal to the JIT's
# outputs bit for bit; refusals with one clear line.
source "$(dirname "$0")/lib.bash"
case " ${KILN_TEST_DEVICES:-} " in
  *" cpu "*) ;;
  *) echo "skipped: this build has no cpu backend"; exit 0 ;;
esac
for m in gpt2 llama; do
  "$KILN" compile "$FIX/$m-tiny" --device cpu -o "$TMP/$m.kmod" --embed-weights 2>"$TMP/log" \
    || { fail "compiling $m"; cat "$TMP/log" >&2; continue; }
  "$KILN" compile "$FIX/$m-tiny" -o "$TMP/$m-nw.kmod" 2>/dev/null || fail "compiling $m without weights"
  "$KILN" run "$TMP/$m.kmod" --inputs "$FIX/$m-tiny/expected.safetensors" --out "$TMP/$m-mod.safetensors" 2>/dev/null \
    || fail "running $m.kmod"
  "$KILN" run "$TMP/$m-nw.kmod" --weights "$FIX/$m-tiny/model.safetensors" \
    --inputs "$FIX/$m-tiny/expected.safetensors" --out "$TMP/$m-nw.safetensors" 2>/dev/null \
    || fail "running $m-nw.kmod with --weights"
  "$KILN" run "$FIX/$m-tiny" --device cpu --inputs "$FIX/$m-tiny/expected.safetensors" --out "$TMP/$m-jit.safetensors" \
    2>/dev/null || fail "running $m with the JIT"
  python3 "$STCMP" "$TMP/$m-mod.safetensors" "$FIX/$m-tiny/expected.safetensors" logits --atol 1e-4 --rtol 1e-3 >"$TMP/cmp" \
    || { fail "$m from the module differs from transformers"; cat "$TMP/cmp" >&2; }
  for other in mod nw; do
    python3 "$STCMP" "$TMP/$m-$other.safetensors" "$TMP/$m-jit.safetensors" logits --atol 0 --rtol 0 >"$TMP/cmp" \
      || { fail "$m ($other) differs from the JIT"; cat "$TMP/cmp" >&2; }
  done
done
expect_error "has no embedded weights" "$KILN" run "$TMP/gpt2-nw.kmod" --inputs "$FIX/gpt2-tiny/expected.safetensors"
expect_error "run it with --device cpu" "$KILN" run "$TMP/gpt2.kmod" --device ref
expect_error "--device cpu only" "$KILN" compile "$FIX/gpt2-tiny" --device vulkan -o "$TMP/x.kmod"
expect_error "needs --cpu" "$KILN" compile "$FIX/gpt2-tiny" --features +avx2 -o "$TMP/x.kmod"
head -c 1000 "$TMP/gpt2.kmod" >"$TMP/cut.kmod"
expect_error "truncated" "$KILN" run "$TMP/cut.kmod"
printf 'not a module at all' >"$TMP/junk.kmod"
expect_error "not a kiln module" "$KILN" run "$TMP/junk.kmod"
finish
