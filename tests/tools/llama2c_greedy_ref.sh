#!/usr/bin/env bash
# Writes the llama2.c references in tests/data/llama2c/: for each prompt
# below, NAME.prompt (the prompt's exact bytes) and NAME.expected (what
# llama2.c's run.c prints to stdout for it, greedy, 200 positions):
#
#   run stories260K.bin -z tok512.bin -t 0 -n 200 -i PROMPT
#
# A prompt NAME of "bos" is run.c without -i (generation from BOS alone).
#
#   tests/tools/llama2c_greedy_ref.sh RUN [MODEL_DIR]
#
# RUN is a run binary built from llama2.c's run.c (karpathy/llama2.c at
# bd182289c596fa6059eb7b3b7c8ccd04b5c90fc3, `gcc -O3 -o run run.c -lm`: its
# encoder adds the dummy-prefix space and falls back to bytes); run.c itself
# is not part of kiln. MODEL_DIR defaults to ../shared/models/stories260K
# beside the repository. The -O3 build is the reference: -Ofast reorders
# float sums and may pick other tokens.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
RUN=${1:?usage: $0 RUN [MODEL_DIR]}
MODEL=${2:-$here/../../../shared/models/stories260K}
OUT=$here/../data/llama2c
mkdir -p "$OUT"

names=() prompts=()
add() { names+=("$1"); prompts+=("$2"); }
add bos ""
add once "Once upon a time"
add punct "Hello, world! \"Yes,\" she said; (maybe?) -- ok..."
add digits "In 1999 there were 42 cats and 7 dogs, 3.14 pies."
add emoji $'Lily saw a \xf0\x9f\x90\xb6 and said: h\xc3\xa9llo!'
add cjk $'The sign said \xe6\x97\xa5\xe6\x9c\xac and \xc3\xbc\xc3\xb1\xc3\xaf'
add newlines $'Tom was sad.\nHe cried.\n\nThen'
add spaces "  Two  spaces and a tab	here "
add long "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends. One day, she found a big red ball under a tree. She picked it up and ran to her mom. Her mom smiled and said"
add single "a"

for i in "${!names[@]}"; do
  n=${names[$i]} p=${prompts[$i]}
  printf '%s' "$p" >"$OUT/$n.prompt"
  if [ "$n" = bos ]; then
    "$RUN" "$MODEL/stories260K.bin" -z "$MODEL/tok512.bin" -t 0 -n 200 >"$OUT/$n.expected" 2>/dev/null
  else
    "$RUN" "$MODEL/stories260K.bin" -z "$MODEL/tok512.bin" -t 0 -n 200 -i "$p" >"$OUT/$n.expected" 2>/dev/null
  fi
  echo "$n: $(wc -c <"$OUT/$n.expected") bytes"
done
