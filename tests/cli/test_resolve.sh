#!/bin/bash
# kget resolve over the demo fixture (tests/fixtures/kernels/demo) with host overrides.
. "$(dirname "$0")/lib.sh"
demo="$FIXTURES/kernels/demo"
unset KGET_DEVICE KGET_OVERRIDE_GLIBC KGET_OVERRIDE_CPU_FEATURES

# H100 with a CUDA 13.0 driver: sm_90a beats sm_90 SASS beats PTX beats the CPU.
run env KGET_OVERRIDE_CUDA_DRIVER=13.0 KGET_OVERRIDE_CUDA_ARCH=9.0 "$KGET" resolve --explain "$demo"
expect_exit 0
expect_line 1 "host: linux x86_64"
expect_line 1 "CUDA driver 13.0, cuda:0 compute capability 9.0"
expect_line 2 "kget1-cu130-x86_64-linux"
expect_line 2 "chosen"
expect_line 2 "exact SASS sm_90a"
expect_line 3 "kget1-cu129-x86_64-linux"
expect_line 3 "exact SASS sm_90"
expect_line 4 "kget1-cu128-x86_64-linux"
expect_line 4 "PTX compute_80"
expect_line 5 "kget1-cu126-x86_64-linux"
expect_line 5 "PTX compute_75"
expect_line 6 "kget1-cpu-x86_64-linux"
expect_line 6 "compatible"
expect_out "built for aarch64 CPUs; this host is x86_64"
expect_out "\$.kget.cuda.sass: missing (required)"
expect_out "built for PyTorch/Python (torch 2.8), CUDA 12.8, x86_64-linux, not kget's C ABI"

# On an 8.6 GPU the sm_80 SASS build beats the PTX-only one, and sm_90a is rejected with a hint.
run env KGET_OVERRIDE_CUDA_DRIVER=13.0 KGET_OVERRIDE_CUDA_ARCH=8.6 "$KGET" resolve --explain "$demo"
expect_exit 0
expect_line 2 "kget1-cu129-x86_64-linux"
expect_line 2 "SASS sm_80 (same major, older minor)"
expect_out "hint: built for sm_90a; this GPU is sm_86"

# A 12.8 driver cannot run the cu130 build.
run env KGET_OVERRIDE_CUDA_DRIVER=12.8 KGET_OVERRIDE_CUDA_ARCH=9.0 "$KGET" resolve --explain "$demo"
expect_exit 0
expect_line 2 "kget1-cu129-x86_64-linux"
expect_line 2 "(minor-version compatibility)"
expect_out "built with CUDA 13.0, needs a driver for CUDA 13.0 or newer; this driver supports CUDA 12.8"
expect_out "hint: update the NVIDIA driver to 580.65.06 or newer, or use a cu12x variant"

# Without --explain: just the name, for scripts.
run env KGET_OVERRIDE_CUDA_DRIVER=12.8 KGET_OVERRIDE_CUDA_ARCH=9.0 "$KGET" resolve "$demo"
expect_exit 0
[ "$out" = "kget1-cu129-x86_64-linux" ]; report $? "stdout is only the variant name"

# No GPU build fits a V100: the CPU variant is the fallback. No driver at all: the same.
run env KGET_OVERRIDE_CUDA_DRIVER=13.0 KGET_OVERRIDE_CUDA_ARCH=7.0 "$KGET" resolve "$demo"
expect_exit 0
[ "$out" = "kget1-cpu-x86_64-linux" ]; report $? "falls back to the CPU variant"
run env KGET_OVERRIDE_CUDA_DRIVER=none "$KGET" resolve --explain "$demo"
expect_exit 0
expect_line 2 "kget1-cpu-x86_64-linux"
expect_out "needs a CUDA driver; none is usable here (KGET_OVERRIDE_CUDA_DRIVER=none)"

# Asking for the CUDA device removes the fallback: exit 6 with every reason, nearest miss first.
run env KGET_OVERRIDE_CUDA_DRIVER=13.0 KGET_OVERRIDE_CUDA_ARCH=7.0 KGET_DEVICE=cuda:0 "$KGET" resolve "$demo"
expect_exit 6
expect_err "error: no variant of $demo fits this host"
expect_err "hint: built for sm_80, sm_90; this GPU is sm_70"
expect_err "a CPU variant, but CUDA device 0 was asked for"
expect_err "nearest miss:"
run env KGET_OVERRIDE_CUDA_DRIVER=13.0 KGET_OVERRIDE_CUDA_ARCH=7.0 "$KGET" resolve --device 0 --explain "$demo"
expect_exit 6
expect_out "rejected"
expect_err "no variant of"

# --device cpu and the JSON document.
run env KGET_OVERRIDE_CUDA_DRIVER=13.0 KGET_OVERRIDE_CUDA_ARCH=9.0 "$KGET" resolve --device cpu --json "$demo"
expect_exit 0
expect_out '"chosen": "kget1-cpu-x86_64-linux"'
expect_out '"rule": "device-choice"'

# Host requirements: glibc too old for every variant (they need GLIBC_2.17).
run env KGET_OVERRIDE_GLIBC=2.12 KGET_OVERRIDE_CUDA_DRIVER=none "$KGET" resolve "$demo"
expect_exit 6
expect_err "needs GLIBC_2.17 (this host provides up to GLIBC_2.12)"

# Bad input: each names the cause.
run "$KGET" resolve /nonexistent/kernel
expect_exit 5
expect_err "\"/nonexistent/kernel\" is not a directory"
run "$KGET" resolve --device gpu "$demo"
expect_exit 2
expect_err "--device: device \"gpu\" is not a device"
run env KGET_DEVICE=gpu "$KGET" resolve "$demo"
expect_exit 4
expect_err "KGET_DEVICE: device \"gpu\""
run env KGET_OVERRIDE_CUDA_ARCH=sm_90 "$KGET" resolve "$demo"
expect_exit 4
expect_err "KGET_OVERRIDE_CUDA_ARCH"
empty=$(mktemp -d)
mkdir -p "$empty/build"
run "$KGET" resolve "$empty"
expect_exit 5
expect_err "holds no variant directories"
rm -rf "$empty"
run "$KGET" resolve
expect_exit 2

finish
