#!/usr/bin/env bash
# kiln train on a tiny byte-level GPT (examples/gpt2.kiln with a 256-token
# vocabulary, no weights: initialized from the graph) on the reference
# interpreter: the loss falls on a small text; the CSV and SVG are written;
# a checkpoint round trip (train --out, then kiln run --weights) gives
# logits whose cross-entropy, computed here in numpy, is the loss the
# training graph reports for those weights; fresh weights follow the
# initialization rule; and bad input fails with one clear line.
source "$(dirname "$0")/lib.bash"
TINY=("$KILN_SOURCE_DIR/examples/gpt2.kiln" --set vocab_size=256 --set n_layer=2 --set n_embd=32 --set n_head=4
      --set n_positions=64)
TEXT="$KILN_SOURCE_DIR/README.md" # a few KB of English

# ---- the loss falls: 50 steps of 4 windows of 33 bytes, lr 3e-3 ----
"$KILN" train "${TINY[@]}" --data "$TEXT" --steps 50 --batch 4 --seq 32 --lr 3e-3 --seed 7 --eval-every 25 \
  --device ref --csv "$TMP/loss.csv" --plot "$TMP/loss.svg" --out "$TMP/ck.st" 2>"$TMP/log" \
  || { fail "training the tiny model did not run"; cat "$TMP/log" >&2; }
grep -q "tokens/s" "$TMP/log" || fail "no summary with tokens/s on stderr"
python3 - "$TMP/loss.csv" <<'EOF' || fail "the loss did not fall as expected"
import csv, math, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == 50, len(rows)
train = [float(r["train_loss"]) for r in rows]
val = [(int(r["step"]), float(r["val_loss"])) for r in rows if r["val_loss"]]
# weights ~ normal(0, 0.02) give logits near 0: the first loss is that of a
# uniform guess over 256 bytes, ln 256 = 5.545
assert abs(train[0] - math.log(256)) < 0.1, train[0]
# English text has a byte entropy near 3 nats; even unigram statistics,
# learnt in 50 steps, put the loss well under 4.5 (uniform: 5.5)
tail = sum(train[-10:]) / 10
assert tail < 4.5, tail
assert [s for s, _ in val] == [25, 50], val
assert val[-1][1] < 4.5 and val[-1][1] < val[0][1] + 0.05, val
print("loss %.3f -> %.3f, validation %s" % (train[0], tail, val))
EOF
grep -q "<polyline" "$TMP/loss.svg" || fail "the plot has no curve"

# ---- checkpoint round trip ----
python3 - "$TMP/batch.st" <<'EOF'
import sys
import numpy as np
from safetensors.numpy import save_file
text = b"The quick brown fox jumps over the lazy dog, and the dog sleeps on."
ids = np.frombuffer(text[:60], dtype=np.uint8).astype(np.int64).reshape(2, 30)
save_file({"input_ids": ids}, sys.argv[1])
EOF
"$KILN" run "${TINY[@]}" --weights "$TMP/ck.st" --inputs "$TMP/batch.st" --out "$TMP/logits.st" --device ref 2>/dev/null \
  || fail "kiln run with the checkpoint failed"
# kiln generate with the checkpoint: a byte-level model without tokenizer
# files reads the prompt as bytes and prints the bytes of the ids it
# generates ("To be" is bytes 84 111 32 98 101), saying so on stderr
"$KILN" generate "${TINY[@]}" --weights "$TMP/ck.st" --prompt "To be" -n 20 --device ref >"$TMP/gen.txt" 2>"$TMP/gen.err" \
  || fail "kiln generate with the checkpoint failed"
grep -q "read and written as bytes" "$TMP/gen.err" || fail "no note that the text is bytes"
"$KILN" generate "${TINY[@]}" --weights "$TMP/ck.st" --prompt-ids 84,111,32,98,101 --ids -n 20 --device ref \
  >"$TMP/gen.ids" 2>/dev/null || fail "kiln generate --ids with the checkpoint failed"
python3 - "$TMP/gen.txt" "$TMP/gen.ids" <<'EOF2' || fail "generated text is not the prompt then the bytes of the generated ids"
import sys
text = open(sys.argv[1], "rb").read()
ids = [int(t) for t in open(sys.argv[2]).read().split()]
assert len(ids) == 15, ids  # -n counts the 5 prompt tokens
assert text.rstrip(b"\n") == (b"To be" + bytes(ids)).rstrip(b"\n"), (text, ids)
EOF2
"$KILN" train "${TINY[@]}" --weights "$TMP/ck.st" --tokens "$TMP/batch.st" --steps 1 --device ref --quiet \
  --grads-out "$TMP/g.st" || fail "training from the checkpoint failed"
python3 - "$TMP/logits.st" "$TMP/batch.st" "$TMP/g.st" <<'EOF' || fail "checkpoint round trip: losses differ"
import sys
import numpy as np
from safetensors.numpy import load_file
logits = load_file(sys.argv[1])["logits"].astype(np.float64)
ids = load_file(sys.argv[2])["input_ids"]
reported = float(load_file(sys.argv[3])["train_loss"][0])
# Hugging Face's shift: position t predicts token t + 1
x = logits[:, :-1]
lse = np.log(np.exp(x - x.max(-1, keepdims=True)).sum(-1)) + x.max(-1)
picked = np.take_along_axis(x, ids[:, 1:, None], -1)[..., 0]
want = float((lse - picked).mean())
# both are f32 computations of the same graph (forward then loss) on ref:
# only the loss's own rounding differs; rtol 1e-5
assert abs(reported - want) <= 1e-5 * want, (reported, want)
assert want < 4.5, want  # the trained weights came back, not fresh ones (ln 256 = 5.5)
print("round trip loss %.6f == %.6f" % (reported, want))
EOF

# ---- fresh weights: norm scales 1, other vectors 0, matrices normal(0, 0.02) ----
"$KILN" train "${TINY[@]}" --tokens "$TMP/batch.st" --steps 0 --seed 3 --device ref --quiet --out "$TMP/init.st" \
  || fail "--steps 0 --out did not write the initial weights"
python3 - "$TMP/init.st" <<'EOF' || fail "initialization does not follow the rule"
import sys
import numpy as np
from safetensors.numpy import load_file
w = load_file(sys.argv[1])
assert np.all(w["transformer.h.0.ln_1.weight"] == 1) and np.all(w["transformer.ln_f.weight"] == 1)
assert np.all(w["transformer.h.0.ln_1.bias"] == 0) and np.all(w["transformer.h.1.mlp.c_fc.bias"] == 0)
e = w["transformer.wte.weight"]  # 8192 values: the sample std is within 3% of 0.02 (5 sigma)
assert abs(e.std() - 0.02) < 0.0006 and abs(e.mean()) < 0.0015, (e.mean(), e.std())
assert not np.array_equal(w["transformer.h.0.attn.c_attn.weight"], w["transformer.h.1.attn.c_attn.weight"])
EOF
"$KILN" train "${TINY[@]}" --tokens "$TMP/batch.st" --steps 0 --seed 3 --device ref --quiet --out "$TMP/init2.st"
"$KILN" train "${TINY[@]}" --tokens "$TMP/batch.st" --steps 0 --seed 4 --device ref --quiet --out "$TMP/init3.st"
cmp -s "$TMP/init.st" "$TMP/init2.st" || fail "the same seed gave different weights"
cmp -s "$TMP/init.st" "$TMP/init3.st" && fail "another seed gave the same weights"

# ---- errors ----
G="$FIX/gpt2-tiny"
echo "tiny" >"$TMP/short.txt"
expect_error "no output 'logits'" "$KILN" train "$FIX/bert-tiny" --tokens "$TMP/batch.st" --device ref
expect_error "use --seq 127 or less" "$KILN" train "$G" --data "$TEXT" --seq 200 --device ref
expect_error "shorter than one window" "$KILN" train "${TINY[@]}" --data "$TMP/short.txt" --seq 8 --device ref
expect_error "unknown device 'gpu9'" "$KILN" train "$G" --data "$TEXT" --device gpu9
expect_error "exactly one of --data" "$KILN" train "$G" --device ref
expect_error "exactly one of --data" "$KILN" train "$G" --data "$TEXT" --tokens "$TMP/batch.st" --device ref
expect_error "cannot open" "$KILN" train "$G" --data "$TMP/none.txt" --device ref
python3 -c "
import numpy as np, sys
from safetensors.numpy import save_file
save_file({'input_ids': np.array([[1, 300]], dtype=np.int64)}, sys.argv[1])
save_file({'x': np.zeros(3, dtype=np.float32)}, sys.argv[2])" "$TMP/big.st" "$TMP/noids.st"
expect_error "outside the model's vocabulary" "$KILN" train "${TINY[@]}" --tokens "$TMP/big.st" --device ref
expect_error "no tensor 'input_ids'" "$KILN" train "${TINY[@]}" --tokens "$TMP/noids.st" --device ref
expect_error "--steps -1" "$KILN" train "$G" --data "$TEXT" --steps -1
expect_error "betas" "$KILN" train "${TINY[@]}" --tokens "$TMP/batch.st" --beta2 1 --device ref
expect_error "too few to read the text as bytes" "$KILN" train "$KILN_SOURCE_DIR/examples/gpt2.kiln" --set vocab_size=100 \
  --set n_layer=1 --set n_embd=16 --set n_head=2 --set n_positions=64 --data "$TEXT" --seq 8 --device ref
finish
