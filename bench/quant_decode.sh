#!/usr/bin/env bash
# Decode speed of a Llama model in f32 and quantized (q8_0, q4_0), measured
# in the same run on the same device (docs/quantization.md, "Speed").
#
#   bench/quant_decode.sh [-k KILN] [-d DEVICE] [-n TOKENS] [-r REPEATS] [-t THREADS] [-s] [MODEL]
#
# MODEL defaults to ../shared/models/stories260K/stories260K.gguf (any GGUF,
# llama2.c .bin or HF Llama folder kiln quantize takes; it is converted to
# an f32 GGUF first). -s instead makes a synthetic 4-layer, 1024-wide Llama
# with random weights (bench/quant_synth_llama.py: 117 M parameters, 446 MiB
# in f32), where streaming the weights dominates a decode step. The
# variants run in turn, REPEATS rounds (default 3), greedily from BOS; each
# variant's best decode rate counts. Prints one line per variant with tokens/s, the ratio to
# f32, the file size and whether the greedy ids equal f32's for the whole
# run (random weights make near-ties likely, so differing ids there say
# little).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
KILN=${KILN:-$here/../build/kiln}
DEV=auto
N=200
REP=3
THREADS=
SYNTH=0
while getopts "k:d:n:r:t:s" o; do
  case $o in
    k) KILN=$OPTARG ;; d) DEV=$OPTARG ;; n) N=$OPTARG ;; r) REP=$OPTARG ;; t) THREADS=$OPTARG ;; s) SYNTH=1 ;;
    *) sed -n '2,17p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ -x "$KILN" ] || { echo "no kiln binary at $KILN (use -k)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ "$SYNTH" = 1 ]; then
  python3 "$here/quant_synth_llama.py" "$tmp/synth" >&2
  MODEL=$tmp/synth
else
  MODEL=${1:-$here/../../shared/models/stories260K/stories260K.gguf}
fi
for t in f32 q8_0 q4_0; do
  "$KILN" quantize "$MODEL" --type $t -o "$tmp/$t.gguf" 2>"$tmp/$t.log" || { cat "$tmp/$t.log" >&2; exit 1; }
done
[ "$SYNTH" = 1 ] && rm -rf "$tmp/synth"

rate() { # FILE OUT: one run's decode rate (tokens/s); its ids into OUT
  "$KILN" generate "$1" --prompt-ids 1 --ids -n "$N" -d "$DEV" ${THREADS:+-t "$THREADS"} >"$2" 2>"$tmp/err" ||
    { cat "$tmp/err" >&2; exit 1; }
  sed -n 's/.*decode [0-9]* tokens in [0-9.]* s (\([0-9.]*\) tok\/s).*/\1/p' "$tmp/err"
}

echo "model: $([ "$SYNTH" = 1 ] && echo "synthetic 4 x 1024 Llama" || echo "$MODEL")   device: $DEV   tokens: $N   best of $REP"
# the variants take turns, REPEATS rounds, so a change in the machine's load
# falls on all of them alike; the best rate of each counts
declare -A best
for _ in $(seq "$REP"); do
  for t in f32 q8_0 q4_0; do
    r=$(rate "$tmp/$t.gguf" "$tmp/$t.ids")
    best[$t]=$(python3 -c "import sys; print(max(float(sys.argv[1]), float(sys.argv[2] or 0)))" "${best[$t]:-0}" "$r")
  done
done
f32=${best[f32]}
printf "  %-6s %10.1f tok/s   1.00x f32   %s\n" f32 "$f32" "$(du -h "$tmp/f32.gguf" | cut -f1)"
for t in q8_0 q4_0; do
  r=${best[$t]}
  same=$(cmp -s "$tmp/$t.ids" "$tmp/f32.ids" && echo "same ids as f32" || echo "ids differ from f32")
  printf "  %-6s %10.1f tok/s   %.2fx f32   %s   (%s)\n" $t "$r" "$(python3 -c "print($r / $f32 if $f32 else 0)")" \
    "$(du -h "$tmp/$t.gguf" | cut -f1)" "$same"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
