#!/usr/bin/env bash
# Builds a relocatable kiln for the lent GPU machine (../shared/DEVICE.md)
# into dist-device/, with the data its checks need and a run script.
#
#   bench/vk_device_build.sh            # Vulkan build: kiln, test_vk_ops, kiln_vk_graphs
#   KILN_DEVICE_LLVM=1 bench/vk_device_build.sh   # kiln also with the CPU backend
#                                        # (LLVM linked statically: KILN_LLVM_STATIC)
#
# Then, from a session that has a GPU, with carry [".gl", "dist-device"]:
#   bash dist-device/run.sh all          # or: tests | bench; results under $OUT
#
# Why it is built this way:
#   - the machine has no package registry and no Vulkan loader: .gl/ holds
#     libvulkan1 and friends as .deb files (fetched here once, unpacked there);
#     kiln opens the loader with dlopen, so the binary itself does not need it;
#   - glslang, libstdc++ and libgcc are linked statically (and LLVM, with
#     KILN_DEVICE_LLVM=1): nothing else is installed there;
#   - generic x86-64 code: the device CPU is an Intel Xeon, this one may not
#     be the same (the LLVM JIT targets whatever host it runs on);
#   - carry is 64 MiB with the working tree (about 7 MiB): binaries are
#     stripped and only the fixtures' needed files are copied. A kiln with
#     static LLVM is ~40 MiB, which is why it is optional.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${KILN_SHARED:-$(cd "$ROOT/../shared" && pwd)}
BUILD=${BUILD:-$ROOT/build-device}
DIST=$ROOT/dist-device
LLVM=${KILN_DEVICE_LLVM:-0}

# dist-device/ and .gl/ stay out of git (DEVICE.md)
mkdir -p "$ROOT/.git/info"
for p in /.gl/ /dist-device/; do grep -qxF "$p" "$ROOT/.git/info/exclude" 2>/dev/null || echo "$p" >>"$ROOT/.git/info/exclude"; done

if [ ! -d "$ROOT/.gl" ] || ! ls "$ROOT"/.gl/libvulkan1_*.deb >/dev/null 2>&1; then
  echo "fetching the Vulkan loader packages into .gl/ (amd64, Ubuntu/Debian archive of this machine)"
  mkdir -p "$ROOT/.gl" /tmp/amd64/partial
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  # shellcheck disable=SC2086
  apt-get $o update >/dev/null && (cd "$ROOT/.gl" && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
fi

cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DKILN_WITH_VULKAN=ON \
  -DKILN_WITH_LLVM=$([ "$LLVM" = 1 ] && echo ON || echo OFF) -DKILN_LLVM_STATIC=ON \
  -DCMAKE_C_FLAGS="-O2 -mtune=generic" -DCMAKE_CXX_FLAGS="-O2 -mtune=generic" \
  -DCMAKE_EXE_LINKER_FLAGS="-static-libstdc++ -static-libgcc" >/dev/null
make -C "$BUILD" -j"${JOBS:-2}" kiln test_vk_ops kiln_vk_graphs

rm -rf "$DIST"
mkdir -p "$DIST/bin" "$DIST/shared/fixtures/hf" "$DIST/shared/models" "$DIST/shared/tools"
for b in kiln kiln_vk_graphs tests/test_vk_ops; do strip -o "$DIST/bin/$(basename $b)" "$BUILD/$b"; done
for m in gpt2 bert t5 llama; do
  mkdir -p "$DIST/shared/fixtures/hf/$m-tiny"
  for f in config.json model.safetensors expected.safetensors generation_config.json meta.json; do
    [ -f "$SHARED/fixtures/hf/$m-tiny/$f" ] && cp "$SHARED/fixtures/hf/$m-tiny/$f" "$DIST/shared/fixtures/hf/$m-tiny/"
  done
done
cp -r "$SHARED/models/stories260K" "$DIST/shared/models/"
cp "$SHARED/tools/stcmp.py" "$DIST/shared/tools/"
cp "$ROOT/examples/gpt2.kiln" "$DIST/"

cat >"$DIST/run.sh" <<'RUN'
#!/usr/bin/env bash
# Runs on the lent GPU machine (written by bench/vk_device_build.sh):
#   bash dist-device/run.sh [all|tests|bench]      results under $OUT
set -u
D=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-/tmp/kiln-device-out}
mkdir -p "$OUT"
if ls .gl/*.deb >/dev/null 2>&1; then for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig; fi
NV=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$NV" ] && export VK_DRIVER_FILES=$NV
export KILN_SHARED=$D/shared XDG_CACHE_HOME=$OUT/cache KILN_TEST_VK_VALIDATION=0
K=$D/bin/kiln F=$D/shared/fixtures/hf
mode=${1:-all}
"$K" devices >"$OUT/devices.txt" 2>&1; cat "$OUT/devices.txt"
if [ "$mode" = all ] || [ "$mode" = tests ]; then
  (time "$D/bin/test_vk_ops") >"$OUT/test_vk_ops.txt" 2>&1; grep -E "checks|FAIL|failed|real" "$OUT/test_vk_ops.txt" | head -20
  for m in gpt2 bert t5 llama; do
    case $m in bert) n="last_hidden_state pooler_output" ;; t5) n="logits encoder_last_hidden_state" ;; *) n=logits ;; esac
    for p in fp32 fp16; do
      tol="--atol 1e-4 --rtol 1e-3"; [ $p = fp16 ] && tol="--atol 3e-2 --rtol 3e-2"
      "$K" run "$F/$m-tiny" --inputs "$F/$m-tiny/expected.safetensors" --out "$OUT/$m-$p.st" --device vulkan \
        --precision $p --profile >"$OUT/$m-$p.txt" 2>&1
      python3 "$D/shared/tools/stcmp.py" "$OUT/$m-$p.st" "$F/$m-tiny/expected.safetensors" $n $tol >>"$OUT/$m-$p.txt" 2>&1 \
        && echo "$m $p: PASS" || echo "$m $p: FAIL (see $m-$p.txt)"
    done
  done
  S=$D/shared/models/stories260K
  "$K" generate "$S/stories260K.bin" -p "Once upon a time" -n 200 --ids --device vulkan >"$OUT/gen.txt" 2>"$OUT/gen.err"
  tr -s ' \n' '\n\n' <"$OUT/gen.txt" | grep -v '^$' >"$OUT/gen.ids"
  tr -s ' \n' '\n\n' <"$S/expected_greedy_200_token_ids.txt" | grep -v '^$' | tail -n +5 >"$OUT/gen.want"
  cmp -s "$OUT/gen.ids" "$OUT/gen.want" && echo "stories260K greedy: PASS" || echo "stories260K greedy: FAIL"
  tail -1 "$OUT/gen.err"
  # the optional tensor-core matmul (untested until now): fp16 fixtures through it
  for m in gpt2 llama; do
    KILN_VK_COOPMAT=1 "$K" run "$F/$m-tiny" --inputs "$F/$m-tiny/expected.safetensors" --out "$OUT/$m-cm.st" \
      --device vulkan --precision fp16 --profile >"$OUT/$m-coopmat.txt" 2>&1
    python3 "$D/shared/tools/stcmp.py" "$OUT/$m-cm.st" "$F/$m-tiny/expected.safetensors" logits --atol 3e-2 --rtol 3e-2 \
      >>"$OUT/$m-coopmat.txt" 2>&1 && echo "$m fp16 KILN_VK_COOPMAT=1: PASS" || echo "$m fp16 KILN_VK_COOPMAT=1: FAIL"
  done
fi
if [ "$mode" = all ] || [ "$mode" = bench ]; then
  "$D/bin/kiln_vk_graphs" --model "$D/gpt2.kiln" --matmul 4096 --gpt2 1024 --reps 5 --trace "$OUT/gpt2-trace.json" \
    >"$OUT/bench.txt" 2>&1
  cat "$OUT/bench.txt"
  KILN_VK_COOPMAT=1 "$D/bin/kiln_vk_graphs" --matmul 4096 --gpt2 0 --reps 5 >"$OUT/bench-coopmat.txt" 2>&1
  echo "with KILN_VK_COOPMAT=1 (fp16 rows use tensor cores when the device has VK_NV_cooperative_matrix):"
  cat "$OUT/bench-coopmat.txt"
fi
RUN
chmod +x "$DIST/run.sh"
du -sh "$DIST" "$ROOT/.gl" 2>/dev/null || true
echo "dist-device/ is ready: run 'bash dist-device/run.sh all' on the GPU machine with carry [\".gl\", \"dist-device\"]"
