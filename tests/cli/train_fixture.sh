#!/usr/bin/env bash
# ctest-label: slow  (a cold CPU compile of the training graph takes ~12 s, lavapipe ~10 s)
# kiln train reproduces the one-step Hugging Face reference of gpt2-tiny
# (expected_train.safetensors: transformers' loss with labels = input_ids,
# its gradients, then one torch.optim.AdamW step with lr 1e-3, weight decay
# 0.1, betas 0.9/0.999, eps 1e-8, no clipping) on every device this build
# has: ref, cpu and vulkan (lavapipe here, with the validation layer; skipped
# without a Vulkan device unless KILN_REQUIRE_VULKAN=1). The comparison and
# its tolerances (issue 7's) are in tests/tools/train_fixture_check.py.
# It caught the cpu and vulkan matmuls summing K = 50257 in one f32 running
# total (docs/training.md).
source "$(dirname "$0")/lib.bash"
CHECK="$KILN_SOURCE_DIR/tests/tools/train_fixture_check.py"
G="$FIX/gpt2-tiny"
python3 - "$G/expected.safetensors" "$TMP/in.st" <<'EOF'
import sys
from safetensors.numpy import load_file, save_file
save_file({"input_ids": load_file(sys.argv[1])["input_ids"]}, sys.argv[2])
EOF

devices=${KILN_TEST_DEVICES:-ref cpu vulkan}
for d in $devices; do
  [ "$d" = kir ] && continue # the kernel evaluator is minutes here; ref and cpu cover its plans' inputs
  if [ "$d" = vulkan ] && ! "$KILN" devices 2>/dev/null | grep -q '^vulkan:'; then
    [ "${KILN_REQUIRE_VULKAN:-0}" != 0 ] && fail "KILN_REQUIRE_VULKAN is set but kiln finds no Vulkan device"
    echo "vulkan: skipped (no Vulkan device)"; continue
  fi
  if ! KILN_VK_VALIDATION=1 "$KILN" train "$G" --tokens "$TMP/in.st" --steps 1 --lr 1e-3 --weight-decay 0.1 \
      --beta1 0.9 --beta2 0.999 --eps 1e-8 --grad-clip 0 --device "$d" --quiet \
      --out "$TMP/w-$d.st" --grads-out "$TMP/g-$d.st" 2>"$TMP/err"; then
    fail "kiln train on $d did not run"; cat "$TMP/err" >&2; continue
  fi
  grep -qi "validation" "$TMP/err" && { fail "$d: the Vulkan validation layer spoke"; cat "$TMP/err" >&2; }
  if python3 "$CHECK" "$G/expected_train.safetensors" "$TMP/w-$d.st" "$TMP/g-$d.st" >"$TMP/cmp"; then
    echo "$d: $(tail -1 "$TMP/cmp")"
  else
    fail "$d: one training step differs from transformers + torch (docs/training.md, Known gaps)"
    grep -v ' ok$' "$TMP/cmp" >&2
  fi
done

# --out writes the model's own tensor names, and a Hugging Face folder runs
# with them through --weights: every parameter of model.safetensors is there
python3 - "$G/model.safetensors" "$TMP/w-ref.st" <<'EOF' || fail "--out does not hold the model's tensors"
import sys
from safetensors.numpy import load_file
a, b = load_file(sys.argv[1]), load_file(sys.argv[2])
missing = sorted(set(a) - set(b))
assert not missing, missing
assert all(a[k].shape == b[k].shape for k in a)
EOF
finish
