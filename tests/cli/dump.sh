#!/usr/bin/env bash
# kiln dump: textual IR, passes, fusion groups, and the issue's targets:
# a GPT-2 layer is at most 8 kernels and the planned arena is smaller than
# the unplanned sum.
source "$(dirname "$0")/lib.bash"
G="$FIX/gpt2-tiny"

"$KILN" dump "$G" >"$TMP/ir.txt" || fail "dump"
grep -q '^graph "gpt2-tiny" {' "$TMP/ir.txt" || fail "dump prints a graph header"
grep -q 'layer_norm(' "$TMP/ir.txt" || fail "dump shows layer_norm"
grep -q '@ "gpt2.kiln":' "$TMP/ir.txt" || fail "nodes name their .kiln line"

kernels() { "$KILN" dump "$G" --stats --shape seq=16 --set n_layer="$1" | sed -n 's/^kernels: \([0-9]*\).*/\1/p'; }
k1=$(kernels 1); k2=$(kernels 2)
per_layer=$((k2 - k1))
[ "$per_layer" -ge 1 ] && [ "$per_layer" -le 8 ] || fail "a GPT-2 layer is $per_layer kernels (want 1..8)"

"$KILN" dump "$G" --stats --shape seq=128 >"$TMP/stats" || fail "dump --stats"
planned=$(sed -n 's/^arena bytes: \([0-9]*\) planned, \([0-9]*\) unplanned.*/\1/p' "$TMP/stats")
unplanned=$(sed -n 's/^arena bytes: \([0-9]*\) planned, \([0-9]*\) unplanned.*/\2/p' "$TMP/stats")
[ -n "$planned" ] && [ "$planned" -lt "$unplanned" ] || fail "planned arena ($planned) not below unplanned ($unplanned)"

"$KILN" dump "$G" --after fusion >"$TMP/fusion" || fail "dump --after fusion"
grep -q '"matmul+add+gelu_tanh"' "$TMP/fusion" || fail "matmul, bias and GELU fuse into one kernel"
grep -q '"attention"' "$TMP/fusion" || fail "attention is one kernel"
"$KILN" dump "$G" --after cse >"$TMP/cse" || fail "dump --after cse"
grep -q '^graph' "$TMP/cse" || fail "--after cse prints a graph"
expect_error "unknown pass" "$KILN" dump "$G" --after nosuchpass
expect_error "no symbol 'nosuch'" "$KILN" dump "$G" --stats --shape nosuch=3
finish
