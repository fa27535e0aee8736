#!/bin/bash
# kget env on this host: detection, overrides, settings, JSON.
. "$(dirname "$0")/lib.sh"
unset KGET_OVERRIDE_CUDA_DRIVER KGET_OVERRIDE_CUDA_ARCH KGET_OVERRIDE_GLIBC KGET_OVERRIDE_CPU_FEATURES

run env KGET_CUDA_DRIVER_LIBRARY=libkget-no-such-driver.so.1 "$KGET" env
expect_exit 0
expect_out "OS:        linux"
expect_out "CUDA:      none (libkget-no-such-driver.so.1 not found)"
expect_out "glibc:     $(getconf GNU_LIBC_VERSION | cut -d' ' -f2)"
expect_out "GLIBCXX up to 3.4."
expect_out "CXXABI up to 1.3."
expect_out "KGET_ENDPOINT"
expect_out "Registry URL"

if [ ! -e /usr/lib/x86_64-linux-gnu/libcuda.so.1 ] && [ ! -e /usr/lib64/libcuda.so.1 ]; then
  run "$KGET" env
  expect_out "CUDA:      none (libcuda.so.1 not found)"
fi
if grep -qw avx2 /proc/cpuinfo; then
  features_line=$(printf '%s\n' "$out" | grep '^  features ')
  case "$features_line" in *" avx2 "*"[cpuid]"*) report 0 "";; *) report 1 "features line lists avx2: $features_line";; esac
fi

run env KGET_OVERRIDE_CUDA_DRIVER=13.0 KGET_OVERRIDE_CUDA_ARCH=8.0,9.0 KGET_OVERRIDE_GLIBC=2.28 \
  KGET_OVERRIDE_CPU_FEATURES=avx2,fma "$KGET" env
expect_exit 0
expect_out "driver for CUDA 13.0"
expect_out "cuda:0   override, compute capability 8.0"
expect_out "cuda:1   override, compute capability 9.0"
expect_out "features avx2 fma  [KGET_OVERRIDE_CPU_FEATURES]"
expect_out "GLIBC up to 2.28"
expect_out "Overrides:"

run env KGET_OVERRIDE_CUDA_ARCH=9 "$KGET" env
expect_exit 4
expect_err "KGET_OVERRIDE_CUDA_ARCH"
expect_err "expected"

run env KGET_OVERRIDE_CUDA_DRIVER=twelve "$KGET" env
expect_exit 4
expect_err "KGET_OVERRIDE_CUDA_DRIVER"

run env KGET_TOKEN=hf_secret_value "$KGET" env
expect_exit 0
expect_no_out "hf_secret_value"
expect_out "(set, hidden)"

run env KGET_TOKEN=hf_secret_value "$KGET" env --json
expect_exit 0
expect_no_out "hf_secret_value"
if command -v python3 >/dev/null; then
  printf '%s' "$out" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["host"]["os"] == "linux", d["host"]["os"]
assert d["host"]["cpu"]["arch"] in ("x86_64", "aarch64")
assert any(s["name"] == "KGET_TOKEN" and s["value"] is None and s["is_set"] for s in d["settings"])
assert any(s["name"] == "KGET_ENDPOINT" and s["fallbacks"] == ["HF_ENDPOINT"] for s in d["settings"])
'
  code=$?
  last_command="env --json | python3 checks"
  expect_exit 0
fi

run "$KGET" env --bogus
expect_exit 2

finish
