#!/bin/bash
# Builds the CUDA variant of one kernel with `kget build` (which also runs `kget check` on it),
# for the GPU and SASS tests: the ctest fixtures kernels.cuda.build_<kernel>. The cu130 cell of
# kernels/matrix.toml, narrowed with --cuda-arch to the capabilities the tests need (9.0: the
# H100/H200 the GPU tests run on), so that a CI build compiles each .cu once or twice instead of
# twelve times. nvcc goes through ccache when it is installed, so the sanitizer pass of the test
# command gets these builds from the cache.
#
# Usage: build_cuda_variant.sh KGET KERNEL_DIR MATRIX OUT_DIR CUDA_ARCH DEPS_DIR
# Exit 77 (ctest: skipped) when the CUDA toolkit of the matrix, /usr/local/cuda, is not installed.
set -euo pipefail
kget=$1
kernel_dir=$2
matrix=$3
out=$4
cuda_arch=$5
deps=$6
nvcc=/usr/local/cuda/bin/nvcc
variant=kget1-cu130-x86_64-linux

if [ ! -x "$nvcc" ]; then
  echo "SKIP: no CUDA toolkit ($nvcc is missing), so no CUDA variant of $(basename "$kernel_dir");" \
    "install CUDA 13.0 there to build and test it"
  exit 77
fi
# --variant makes a cell that does not apply (no [kernel.cuda] yet) an error, not a silent skip.
"$kget" build "$kernel_dir" --matrix "$matrix" --variant "$variant" --out "$out" --jobs 2 \
  --cuda-arch "$cuda_arch" --deps "$deps"
library=$(find "$out/build/$variant" -maxdepth 1 -name 'lib*.so' -print -quit)
[ -n "$library" ] || { echo "FAIL: kget build wrote no library into $out/build/$variant"; exit 1; }
echo "built $library"
