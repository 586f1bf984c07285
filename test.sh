#!/usr/bin/env bash
# Quick start, step 2: build and run the whole test suite, then the same
# suite built with AddressSanitizer + UndefinedBehaviorSanitizer.
# Vulkan tests run on Mesa's lavapipe with the Khronos validation layer on;
# they fail (rather than skip) when no Vulkan device is found.
#   ./test.sh            everything
#   ./test.sh --quick    skip the sanitizer build
set -euo pipefail
cd "$(dirname "$0")"
tools/install-deps.sh
jobs=$(nproc)
export KILN_REQUIRE_VULKAN=1 KILN_VK_VALIDATION=1

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -j"$jobs")

if [ "${1:-}" != "--quick" ]; then
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DKILN_SANITIZE=ON >/dev/null
  cmake --build build-asan -j"$jobs"
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
  (cd build-asan && ctest --output-on-failure -j"$jobs" -LE slow)
fi
echo "kiln: all tests passed"
