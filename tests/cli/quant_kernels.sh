#!/usr/bin/env bash
# The quantized-weight matmul kernels of the cpu and vulkan backends on a
# whole model (stories260K quantized to q8_0 and q4_0 by kiln quantize),
# against the reference interpreter on the same quantized file:
#  - greedy generation from BOS gives the reference's ids for all N = 128
#    tokens (the decode kernels: one row per step);
#  - one forward pass over those 128 tokens (the prefill kernels: many
#    rows) gives the reference's logits within 1e-4 and the same argmax
#    at every position.
# Why all 128 tokens may be required: the backends differ from the
# reference only in the order of f32 sums (weights decode exactly), and
# greedy decoding can only flip where the top two logits are closer than
# twice that difference. Measured over these 128 positions: the smallest
# top-two gap is 0.025 (q8_0) and 0.0027 (q4_0), the largest |logit
# difference| 8.8e-6 (cpu) and 1.8e-5 (vulkan), 150x below the gap. A
# decoding error moves logits by far more (q4_0's own rounding, RMS 0.85,
# already diverges from f32 within 27 tokens: docs/quantization.md).
# Vulkan runs with the validation layer on (a message fails the run).
source "$(dirname "$0")/lib.bash"
ST="$KILN_SHARED/models/stories260K"
devices=""
for d in ${KILN_TEST_DEVICES:-}; do
  case $d in cpu | vulkan) devices="$devices $d" ;; esac
done
if [ -z "$devices" ]; then
  echo "skipped: no cpu or vulkan backend in this build"
  exit 0
fi
N=128

for t in q8_0 q4_0; do
  m="$TMP/$t.gguf"
  "$KILN" quantize "$ST/stories260K.gguf" --type $t -o "$m" 2>"$TMP/log" || { fail "quantize $t"; cat "$TMP/log" >&2; continue; }
  "$KILN" generate "$m" --prompt-ids 1 --ids -n $N -d ref >"$TMP/ref.ids" 2>"$TMP/err" || { fail "generate $t ref"; cat "$TMP/err" >&2; }
  [ "$(wc -w <"$TMP/ref.ids")" -eq $N ] || fail "$t: the reference made $(wc -w <"$TMP/ref.ids") tokens, expected $N"
  # the same tokens, BOS first, as one prefill input
  python3 - "$TMP/ref.ids" "$TMP/in.safetensors" <<'EOF'
import sys
import numpy as np
from safetensors.numpy import save_file
ids = [1] + [int(x) for x in open(sys.argv[1]).read().split()][:-1]
save_file({"input_ids": np.array([ids], dtype=np.int64)}, sys.argv[2])
EOF
  "$KILN" run "$m" -i "$TMP/in.safetensors" -o "$TMP/ref.safetensors" -d ref 2>"$TMP/err" || { fail "run $t ref"; cat "$TMP/err" >&2; }
  for d in $devices; do
    export KILN_VK_VALIDATION=$([ $d = vulkan ] && echo 1 || echo 0)
    "$KILN" generate "$m" --prompt-ids 1 --ids -n $N -d $d >"$TMP/$d.ids" 2>"$TMP/err" || { fail "generate $t $d"; cat "$TMP/err" >&2; }
    cmp -s "$TMP/ref.ids" "$TMP/$d.ids" || fail "$t on $d: greedy ids differ from the reference's: $(cat "$TMP/$d.ids")"
    "$KILN" run "$m" -i "$TMP/in.safetensors" -o "$TMP/$d.safetensors" -d $d 2>"$TMP/err" || { fail "run $t $d"; cat "$TMP/err" >&2; continue; }
    python3 - "$TMP/ref.safetensors" "$TMP/$d.safetensors" "$t on $d" <<'EOF' || fail "$t on $d: prefill logits"
import sys
import numpy as np
from safetensors.numpy import load_file
r, x = load_file(sys.argv[1])["logits"], load_file(sys.argv[2])["logits"]
diff = float(np.abs(x - r).max()) if x.shape == r.shape else float("inf")
same = x.shape == r.shape and bool((x.argmax(-1) == r.argmax(-1)).all())
if not (diff <= 1e-4 and same):
    print(f"{sys.argv[3]}: max |logit difference| {diff}, argmax equal: {same}", file=sys.stderr)
    sys.exit(1)
EOF
  done
  unset KILN_VK_VALIDATION
done
finish
