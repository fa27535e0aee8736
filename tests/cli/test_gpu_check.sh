#!/bin/bash
# scripts/gpu-check.sh on a machine without a GPU: `prepare` stages every GPU program, the CUDA
# variant of each kernel and the CUTLASS test kernel in one folder well under 64 MiB, and `run`
# refuses with "no CUDA device" instead of passing. Needs $KGET_SOURCE_DIR and $KGET_BUILD_DIR
# from ctest; exit 77 (skipped) without the CUDA toolkit.
. "$(dirname "$0")/lib.sh"
if [ ! -x /usr/local/cuda/bin/nvcc ]; then
  echo "SKIP: no CUDA toolkit (/usr/local/cuda/bin/nvcc), so nothing to stage"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stage="$work/stage"
script="$KGET_SOURCE_DIR/scripts/gpu-check.sh"

run bash "$script" prepare "$stage" "$KGET_BUILD_DIR"
expect_exit 0
expect_out "== staged"
for file in bin/test_kernels_gpu bin/test_kernels_cutlass_groups bin/bench_kernels_gpu \
  lib/cpu/librmsnorm.so lib/cpu/libactivation.so lib/cuda/librmsnorm.so \
  lib/cuda/libactivation.so lib/cuda/libcutlass_groups.so lib/cuda/rmsnorm.metadata.json \
  scripts/gpu-check.sh manifest.txt; do
  [ -s "$stage/$file" ]
  report $? "staged $file"
done
size=$(du -sb "$stage" | cut -f1)
[ "$size" -lt $((64 << 20)) ]
report $? "the staged folder is under 64 MiB ($size bytes)"
# Hopper targets only: the one-list kernels sm_90 + compute_90.
run python3 -c '
import json, sys
cuda = json.load(open(sys.argv[1]))["kget"]["cuda"]
assert cuda["sass"] == ["sm_90"] and cuda["ptx"] == ["compute_90"], cuda
print("hopper only")' "$stage/lib/cuda/rmsnorm.metadata.json"
expect_out "hopper only"

# No GPU: nvidia-smi as on a machine whose driver sees no device (and none at all).
mkdir -p "$work/fake"
printf '#!/bin/sh\necho "No devices were found"\nexit 6\n' >"$work/fake/nvidia-smi"
chmod +x "$work/fake/nvidia-smi"
PATH="$work/fake:$PATH" run bash "$stage/scripts/gpu-check.sh" run "$stage"
expect_exit 1
expect_out "gpu-check: no CUDA device (nvidia-smi is missing or lists no GPU); nothing was run"
[ ! -e "$stage/results" ]
report $? "nothing was run (no results folder)"
PATH="$work/fake:$PATH" run bash "$script" run "$work/nothing-staged"
expect_exit 1
expect_out "gpu-check: no CUDA device"

run bash "$script" sideways
expect_exit 2
expect_err "usage: "

finish
