#!/usr/bin/env bash
# Quick start, step 1: install what is missing, build kiln into build/, and
# run the main job: generate a story with the bundled stories260K model.
set -euo pipefail
cd "$(dirname "$0")"
tools/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
echo
./build/kiln generate examples/stories260K/stories260K.bin --prompt "Once upon a time" -n 200
