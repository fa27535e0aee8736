#!/bin/bash
# The test command: installs what is needed, builds with warnings as errors, runs every test, then
# builds and runs them again under AddressSanitizer and UndefinedBehaviorSanitizer.
# Usage: scripts/test.sh [--no-sanitizers]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

"$root/scripts/install-deps.sh"

jobs=$(nproc)
export CCACHE_DIR="${CCACHE_DIR:-$root/.cache/ccache}"

build_and_test() { # build_and_test DIR [cmake args...]
  local dir=$1
  shift
  cmake -S "$root" -B "$dir" -G Ninja -DKGET_WARNINGS_AS_ERRORS=ON "$@"
  cmake --build "$dir" -j "$jobs"
  ctest --test-dir "$dir" --output-on-failure -j "$jobs"
}

echo "== build and test (RelWithDebInfo)"
build_and_test "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo

if [ "${1:-}" != "--no-sanitizers" ]; then
  echo "== build and test under AddressSanitizer + UndefinedBehaviorSanitizer"
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  # The first pass's CUTLASS install: the same nvcc command lines, so ccache gives the CUDA
  # variants back instead of compiling them again (host sanitizers do not reach device code).
  build_and_test "$root/build-asan" -DCMAKE_BUILD_TYPE=Debug -DKGET_SANITIZE=address,undefined \
    -DKGET_BUILD_BENCHMARKS=OFF -DKGET_DEPS_DIR="$root/build/deps"
fi
echo "== all tests passed"
