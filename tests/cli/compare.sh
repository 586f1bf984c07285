#!/usr/bin/env bash
# kiln compare on a tiny budget: the table has a row per variant with the
# parameter count worked out below from the config, the plot one curve per
# variant, the CSV every step; the same seed reproduces the losses exactly,
# a different seed changes them; bad input fails fast with one line.
source "$(dirname "$0")/lib.bash"
EX="$KILN_SOURCE_DIR/examples/train"
DATA="$EX/shakespeare.txt"
# the reference interpreter: no compile time, and always built
TINY=(--set n_embd=16 --set n_layer=1 --set n_head=2 --steps 6 --batch 2 --seq 8 --eval-every 3 --eval-batches 1
      --device ref)

"$KILN" compare "$EX/gpt_gelu.kiln" "$EX/gpt_relu.kiln" --data "$DATA" "${TINY[@]}" \
    --plot "$TMP/a.svg" --csv "$TMP/a.csv" >"$TMP/out" 2>"$TMP/err" || { fail "compare failed"; cat "$TMP/err" >&2; }
cat "$TMP/out"

# parameters of gpt_gelu.kiln at n_embd 16, 1 layer, vocab 256, 256 positions:
# embeddings 2*256*16; per layer two norms (2*16 each), qkv 16*48+48,
# attention out 16*16+16, fc 16*64+64, mlp out 64*16+16; final norm 2*16.
E=16
want=$((2 * 256 * E + 2 * 2 * E + E * 3 * E + 3 * E + E * E + E + E * 4 * E + 4 * E + 4 * E * E + E + 2 * E))
for v in gpt_gelu gpt_relu; do
  row=$(grep -E "^$v +[0-9]" "$TMP/out" || true)
  [ -n "$row" ] || { fail "no table row for $v"; continue; }
  set -- $row
  [ $# -eq 6 ] || fail "row for $v has $# columns: $row"
  [ "$2" = "$want" ] || fail "$v: $2 parameters, expected $want"
  # losses are finite numbers; tokens/s positive
  python3 -c "import math,sys; t,v,r=map(float,sys.argv[1:]); sys.exit(not (math.isfinite(t) and math.isfinite(v) and r>0))" \
    "$3" "$4" "$5" || fail "$v: bad numbers in row: $row"
done

# one train and one validation curve per variant, nothing else
for v in gpt_gelu gpt_relu; do
  for kind in train val; do
    n=$(grep -c "<polyline class=\"series\" data-label=\"$v $kind\"" "$TMP/a.svg" || true)
    [ "$n" = 1 ] || fail "$v $kind: $n curves in the plot"
  done
done
[ "$(grep -c '<polyline class="series"' "$TMP/a.svg")" = 4 ] || fail "plot: expected 4 curves"

# the CSV: header, then 6 steps per variant; validation after steps 3 and 6.
# The first loss is near ln(256) = 5.545: with N(0, 0.02) weights every byte
# is about equally likely (0.15 allows for logits of a few hundredths).
python3 - "$TMP/a.csv" <<'PY' || fail "CSV content"
import csv, math, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == 12, len(rows)
for v in ("gpt_gelu", "gpt_relu"):
    r = [x for x in rows if x["variant"] == v]
    assert [int(x["step"]) for x in r] == list(range(1, 7)), r
    assert abs(float(r[0]["train_loss"]) - math.log(256)) < 0.15, r[0]
    assert [x["step"] for x in r if x["val_loss"]] == ["3", "6"], r
    assert all(math.isfinite(float(x["train_loss"])) for x in r)
PY

# the same seed gives the same losses; another seed other losses
"$KILN" compare "$EX/gpt_gelu.kiln" "$EX/gpt_relu.kiln" --data "$DATA" "${TINY[@]}" --csv "$TMP/b.csv" >/dev/null 2>&1 ||
  fail "second run failed"
cmp -s "$TMP/a.csv" "$TMP/b.csv" || fail "same seed, different losses"
"$KILN" compare "$EX/gpt_gelu.kiln" "$EX/gpt_relu.kiln" --data "$DATA" "${TINY[@]}" --seed 7 --csv "$TMP/c.csv" \
  >/dev/null 2>&1 || fail "seed 7 run failed"
cmp -s "$TMP/a.csv" "$TMP/c.csv" && fail "--seed 7 changed nothing"

# one variant twice: two labelled rows, identical losses (same data, same init)
"$KILN" compare "$EX/gpt_gelu.kiln" "$EX/gpt_gelu.kiln" --data "$DATA" "${TINY[@]}" --csv "$TMP/d.csv" >"$TMP/out" 2>&1 ||
  fail "duplicate variant run failed"
grep -qE '^gpt_gelu#2 ' "$TMP/out" || fail "second copy not labelled gpt_gelu#2"
diff <(grep '^gpt_gelu,' "$TMP/d.csv" | cut -d, -f2-) <(grep '^gpt_gelu#2,' "$TMP/d.csv" | cut -d, -f2-) >/dev/null ||
  fail "the same variant trained twice gave different losses"

# errors: one line, before any training
expect_error "$TMP/nonexistent.txt" "$KILN" compare "$EX/gpt_gelu.kiln" --data "$TMP/nonexistent.txt"
expect_error "--data" "$KILN" compare "$EX/gpt_gelu.kiln"
expect_error "--steps" "$KILN" compare "$EX/gpt_gelu.kiln" --data "$DATA" --steps 0
cat >"$TMP/nologits.kiln" <<'EOF'
config {
    n_embd = 8
    n_layer = 1
    n_head = 1
}
input input_ids: i64[batch, seq]
output hidden = embedding(param("wte.weight", [256, n_embd]), input_ids)
EOF
expect_error "no output 'logits'" "$KILN" compare "$EX/gpt_gelu.kiln" "$TMP/nologits.kiln" --data "$DATA" "${TINY[@]}"
grep -q "step" "$TMP/err" && fail "training started before the variant without logits was rejected"
expect_error "$TMP/missing.kiln" "$KILN" compare "$EX/gpt_gelu.kiln" "$TMP/missing.kiln" --data "$DATA"
# an unwritable plot is reported with its path
expect_error "$TMP/no/such/dir/p.svg" "$KILN" compare "$EX/gpt_gelu.kiln" --data "$DATA" "${TINY[@]}" \
  --plot "$TMP/no/such/dir/p.svg"

finish
