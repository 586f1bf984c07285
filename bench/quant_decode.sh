#!/usr/bin/env bash
# Decode speed of a Llama model in f32 and quantized (q8_0, q4_0), measured
# in the same run on the same device: the hook for the dequantizing GEMV /
# GEMM kernels of the CPU and Vulkan backends (docs/quantization.md).
#
#   bench/quant_decode.sh [-k KILN] [-d DEVICE] [-n TOKENS] [-r REPEATS] [MODEL]
#
# MODEL defaults to ../shared/models/stories260K/stories260K.gguf (any GGUF,
# llama2.c .bin or HF Llama folder kiln quantize takes). Each variant runs
# REPEATS times (default 3) greedily from BOS; the best decode rate counts.
# Prints one line per variant with tokens/s and the ratio to f32, and
# whether the greedy ids equal f32's for the whole run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
KILN=${KILN:-$here/../build/kiln}
DEV=auto
N=200
REP=3
while getopts "k:d:n:r:" o; do
  case $o in
    k) KILN=$OPTARG ;; d) DEV=$OPTARG ;; n) N=$OPTARG ;; r) REP=$OPTARG ;;
    *) sed -n '2,12p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
MODEL=${1:-$here/../../shared/models/stories260K/stories260K.gguf}
[ -x "$KILN" ] || { echo "no kiln binary at $KILN (use -k)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for t in q8_0 q4_0; do
  "$KILN" quantize "$MODEL" --type $t -o "$tmp/$t.gguf" 2>"$tmp/$t.log" || { cat "$tmp/$t.log" >&2; exit 1; }
done

best_rate() { # FILE: best "decode N tokens in S s (R tok/s)" rate over REP runs; ids into $tmp/ids
  local best=0 r
  for _ in $(seq "$REP"); do
    "$KILN" generate "$1" --prompt-ids 1 --ids -n "$N" -d "$DEV" >"$tmp/ids" 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
    r=$(sed -n 's/.*decode [0-9]* tokens in [0-9.]* s (\([0-9.]*\) tok\/s).*/\1/p' "$tmp/err")
    best=$(python3 -c "import sys; print(max(float(sys.argv[1]), float(sys.argv[2] or 0)))" "$best" "$r")
  done
  echo "$best"
}

echo "model: $MODEL   device: $DEV   tokens: $N   best of $REP"
f32=$(best_rate "$MODEL")
cp "$tmp/ids" "$tmp/f32.ids"
printf "  %-6s %10.1f tok/s\n" f32 "$f32"
for t in q8_0 q4_0; do
  r=$(best_rate "$tmp/$t.gguf")
  same=$(cmp -s "$tmp/ids" "$tmp/f32.ids" && echo "same ids as f32" || echo "ids differ from f32")
  printf "  %-6s %10.1f tok/s   %.2fx f32   %s   (%s)\n" $t "$r" "$(python3 -c "print($r / $f32 if $f32 else 0)")" \
    "$(du -h "$tmp/$t.gguf" | cut -f1)" "$same"
done
