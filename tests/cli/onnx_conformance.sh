#!/usr/bin/env bash
# ctest-label: slow (the sanitizer run skips it: minutes under ASan)
# The ONNX backend node tests (../shared/conformance/onnx-node) per device:
# the whole suite on ref, kir and cpu (when built), and on vulkan (when a
# device is there) the families below with the validation layer on. No
# test may fail, nothing may be printed to stderr (a validation message
# would be), and no count of passing tests may drop below its line in
# tests/onnx_conformance_baseline.txt (raise it there when more pass).
# Tolerances: see `kiln onnx-test --help`.
#
# Time (2-core machine, cold caches): ref ~1 s, kir ~8 s, cpu ~40 s (tiny
# graphs are JIT-compiled without optimization, see docs/cpu.md), the
# vulkan subset ~45 s on lavapipe (SPIR-V compiles and pipelines per test).
source "$(dirname "$0")/lib.bash"
dir="$KILN_SHARED/conformance/onnx-node"
baseline_file="$KILN_SOURCE_DIR/tests/onnx_conformance_baseline.txt"
# private, cold caches: the timing CI sees, and nothing left in ~/.cache
export XDG_CACHE_HOME="$TMP/cache"

# Vulkan: softmax, gelu, norms, matmul/gemm, attention (plain, masks,
# causal, softcap, GQA, caches, qk outputs, fully masked rows), reductions,
# data movement, casts and elementwise math; the *_expanded forms are the
# same ops as primitives, which the other families cover.
vk_only='test_softmax*,test_gelu*,test_layer_normalization*,test_rms_normalization*,test_matmul*,test_gemm*'
vk_only+=',test_attention_3d,test_attention_3d_causal,test_attention_3d_softcap,test_attention_3d_gqa*'
vk_only+=',test_attention_3d_with_past_and_present,test_attention_4d,test_attention_4d_attn_mask*'
vk_only+=',test_attention_4d_causal,test_attention_4d_diff_heads_sizes,test_attention_4d_fp16'
vk_only+=',test_attention_4d_gqa_with_past_and_present*,test_attention_4d_with_qk_matmul*,test_attention_*nan_robustness'
vk_only+=',test_reduce_*,test_where*,test_gather*,test_concat*,test_slice*,test_reshape*,test_transpose*,test_expand*'
vk_only+=',test_cast*,test_add*,test_sub*,test_mul*,test_div*,test_exp,test_exp_*,test_sqrt*,test_tanh*'
vk_only+=',test_sigmoid*,test_pow*,test_erf*,test_neg*,test_abs*,test_log,test_sin,test_cos,test_relu*,test_reciprocal*'

# check NAME DEVICE [onnx-test options...]: one run against baseline NAME
check() {
  local name=$1 device=$2; shift 2
  local want rc=0 start=$SECONDS
  want=$(awk -v n="$name" '$1 == n { print $2 }' "$baseline_file")
  [ -n "$want" ] || { fail "$name: no baseline line in $baseline_file"; return; }
  "$KILN" onnx-test "$dir" --device "$device" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" || rc=$?
  local summary passed failed
  summary=$(tail -n 1 "$TMP/$name.out")
  echo "$name: $summary in $((SECONDS - start)) s"
  case "$summary" in
    "onnx-test: "*) ;;
    *) fail "$name: no summary line (rc $rc)"; cat "$TMP/$name.err" >&2; return ;;
  esac
  passed=$(echo "$summary" | sed -n 's/^onnx-test: \([0-9]*\) passed, \([0-9]*\) failed.*/\1/p')
  failed=$(echo "$summary" | sed -n 's/^onnx-test: \([0-9]*\) passed, \([0-9]*\) failed.*/\2/p')
  [ "$failed" = 0 ] || { fail "$name: $failed test(s) failed"; grep '^FAIL' "$TMP/$name.out" >&2; }
  [ "$rc" -eq 0 ] || [ "$failed" != 0 ] || fail "$name: exit status $rc without failures"
  [ ! -s "$TMP/$name.err" ] || { fail "$name: printed to stderr"; head -n 20 "$TMP/$name.err" >&2; }
  if [ "$passed" -lt "$want" ]; then fail "$name: $passed passed, below the baseline of $want"
  elif [ "$passed" -gt "$want" ]; then echo "$name: $passed passed, above the baseline of $want: raise it in $baseline_file"
  fi
}

devices=" ${KILN_TEST_DEVICES:-ref kir} "
check ref ref
case "$devices" in *" kir "*) check kir kir ;; esac
case "$devices" in *" cpu "*) check cpu cpu ;; esac
case "$devices" in
  *" vulkan "*)
    if "$KILN" devices 2>/dev/null | grep -q '^vulkan:'; then
      KILN_VK_VALIDATION=1 check vulkan-subset vulkan --only "$vk_only" --skip '*_expanded*'
    else
      echo "vulkan-subset: skipped (no Vulkan device)"
    fi ;;
esac
finish
