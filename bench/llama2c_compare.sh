#!/usr/bin/env bash
# stories260K decode speed: kiln generate --device cpu against llama2.c's
# run.c, all measured in this one run, alternating, on this machine.
#
#   bench/llama2c_compare.sh [-k KILN] [-r RUNS] [-n STEPS] [-m MODEL_DIR] RUN_C
#
# RUN_C is llama2.c's run.c (karpathy/llama2.c, the version whose encoder
# adds the dummy-prefix space and falls back to bytes, e.g. bd182289c5; it
# is third-party code and not part of kiln). It is built under a temporary
# folder the way llama2.c's Makefile builds its targets:
#   run       gcc -O3 -o run run.c -lm
#   runfast   gcc -Ofast -march=native -o runfast run.c -lm
#   runomp    gcc -Ofast -fopenmp -march=native -o runomp run.c -lm
# Without RUN_C (or without gcc) it says so and exits 0.
#
# What is compared: greedy generation from BOS (run.c without -i, kiln
# without --prompt), STEPS positions (default 256, run.c's default). Both
# print the same story (checked) and so run the same number of one-token
# forward passes. run.c reports "achieved tok/s" over every forward after
# the first (its clock has millisecond resolution: hence many runs); kiln's
# figure is its decode rate over the same forwards (every token after the
# first, timed from the first token's sampling to the end, printing
# included, as run.c's). Each of RUNS rounds (default 15) runs every
# variant once, in turn; medians (and the spread) are reported, with the
# ratio of kiln's median to each run.c build's. End-to-end wall times are
# medians too: kiln with its kernel cache warm, and with --no-cache (JIT
# compile included, a few runs), against run.c's (built beforehand).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
KILN=${KILN:-$here/../build/kiln}
RUNS=15
STEPS=256
MODEL=$here/../../shared/models/stories260K
while getopts "k:r:n:m:" o; do
  case $o in
    k) KILN=$OPTARG ;; r) RUNS=$OPTARG ;; n) STEPS=$OPTARG ;; m) MODEL=$OPTARG ;;
    *) sed -n '2,28p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
RUNC=${1:-}
if [ -z "$RUNC" ] || [ ! -f "$RUNC" ]; then
  echo "llama2c_compare: skipped: give the path to llama2.c's run.c (not found: '${RUNC}')"
  exit 0
fi
command -v gcc >/dev/null || { echo "llama2c_compare: skipped: no gcc to build run.c"; exit 0; }
[ -x "$KILN" ] || { echo "no kiln binary at $KILN (use -k)" >&2; exit 2; }
BIN=$MODEL/stories260K.bin TOK=$MODEL/tok512.bin
[ -f "$BIN" ] && [ -f "$TOK" ] || { echo "no stories260K.bin / tok512.bin in $MODEL (use -m)" >&2; exit 2; }

tmp=$(mktemp -d /tmp/kiln-llama2c.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cp "$RUNC" "$tmp/run.c"
variants=(run runfast)
(cd "$tmp" && gcc -O3 -o run run.c -lm && gcc -Ofast -march=native -o runfast run.c -lm)
if (cd "$tmp" && gcc -Ofast -fopenmp -march=native -o runomp run.c -lm 2>/dev/null); then
  variants+=(runomp)
else
  echo "(no OpenMP: runomp left out)"
fi
export XDG_CACHE_HOME="$tmp/cache" # kiln's kernel cache: filled by the first run

now_ns() { date +%s%N; }

# one_run NAME: appends "rate wall_seconds" to $tmp/NAME.txt
one_run() {
  local name=$1 t0 t1 rate
  t0=$(now_ns)
  case $name in
    kiln) "$KILN" generate "$BIN" -n "$STEPS" --device cpu >"$tmp/out.kiln" 2>"$tmp/err" ;;
    kiln_nocache) "$KILN" generate "$BIN" -n "$STEPS" --device cpu --no-cache >"$tmp/out.kiln" 2>"$tmp/err" ;;
    *) "$tmp/$name" "$BIN" -z "$TOK" -t 0 -n "$STEPS" >"$tmp/out.$name" 2>"$tmp/err" ;;
  esac
  t1=$(now_ns)
  case $name in
    kiln*) rate=$(sed -n 's/.*decode [0-9]* tokens in [0-9.]* s (\([0-9.]*\) tok\/s).*/\1/p' "$tmp/err") ;;
    *) rate=$(sed -n 's/^achieved tok\/s: \([0-9.]*\).*/\1/p' "$tmp/err") ;;
  esac
  [ -n "$rate" ] || { echo "$name printed no rate:" >&2; cat "$tmp/err" >&2; exit 1; }
  echo "$rate $(( (t1 - t0) / 1000 ))" >>"$tmp/$name.txt"
}

# the same story from every variant (and the kernel cache filled)
one_run kiln
for v in "${variants[@]}"; do
  one_run "$v"
  cmp -s "$tmp/out.kiln" "$tmp/out.$v" || { echo "kiln and $v print different stories" >&2; exit 1; }
done
rm -f "$tmp"/*.txt

for r in $(seq "$RUNS"); do
  one_run kiln
  for v in "${variants[@]}"; do one_run "$v"; done
  if [ "$r" -le 3 ]; then one_run kiln_nocache; fi
done
ntok=$("$KILN" generate "$BIN" -n "$STEPS" --device cpu 2>&1 >/dev/null | sed -n 's/.*decode \([0-9]*\) tokens.*/\1/p')

python3 - "$tmp" "$RUNS" "$STEPS" "$ntok" "$(nproc)" "${variants[@]}" <<'EOF'
import statistics, sys
tmp, runs, steps, ntok, cores, variants = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6:]
def load(name):
    rows = [l.split() for l in open(f"{tmp}/{name}.txt")]
    return [float(r[0]) for r in rows], [int(r[1]) / 1e6 for r in rows]
label = {"kiln": "kiln generate --device cpu", "run": "run.c  gcc -O3",
         "runfast": "run.c  gcc -Ofast -march=native", "runomp": "run.c  gcc -Ofast -fopenmp -march=native"}
print(f"stories260K, greedy from BOS, -n {steps}: {ntok} timed one-token forwards per run; "
      f"{runs} alternating rounds on {cores} cores")
print(f"  {'':42} {'decode tok/s (median, min-max)':>34}   {'wall s (median)':>15}")
kr, kw = load("kiln")
for name in ["kiln"] + variants:
    r, w = load(name)
    print(f"  {label[name]:42} {statistics.median(r):12.0f} ({min(r):.0f}-{max(r):.0f}){'':>6}   {statistics.median(w):15.3f}")
r, w = load("kiln_nocache")
print(f"  {'kiln, --no-cache (JIT compile included)':42} {statistics.median(r):12.0f}{'':>22}   {statistics.median(w):15.3f}")
for name in variants:
    r, _ = load(name)
    print(f"  kiln / {label[name]}: {statistics.median(kr) / statistics.median(r):.2f}x")
EOF
