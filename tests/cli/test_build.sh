#!/bin/bash
# kget build of kernels/rmsnorm's CPU cell, kget check of the result (clean and tampered), and
# kget push of it into a file:// store. Needs $KGET and $KGET_SOURCE_DIR from ctest.
. "$(dirname "$0")/lib.sh"
unset KGET_ENDPOINT HF_ENDPOINT KGET_TOKEN HF_TOKEN
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
variant=kget1-cpu-x86_64-linux
dir="$work/out/build/$variant"

run "$KGET" build "$KGET_SOURCE_DIR/kernels/rmsnorm" --variant "$variant" --out "$work/out" --jobs 2
expect_exit 0
expect_out "building $variant (cell cpu-x86_64)"
expect_out "built $variant -> $dir (check: clean, descriptor loaded)"
expect_no_out "cmake" # the toolchain's chatter goes to the log
[ -f "$work/out/.work/$variant/build.log" ]; report $? "build.log kept in .work/<variant>/"

# Metadata computed by the builder: the library, its digest, symbol versions from the ELF.
meta="$dir/metadata.json"
run python3 -c '
import json, sys, base64, hashlib
meta = json.load(open(sys.argv[1]))
lib = open(sys.argv[2], "rb").read()
assert meta["name"] == "rmsnorm", meta["name"]
assert meta["version"] == 1
assert meta["backend"]["type"] == "cpu"
assert meta["kget"]["library"] == "librmsnorm.so"
assert [op["name"] for op in meta["kget"]["ops"]] == ["rms_norm", "fused_add_rms_norm"]
assert meta["digest"]["files"] == {"librmsnorm.so": base64.b64encode(hashlib.sha256(lib).digest()).decode()}
versions = meta["kget"]["requires"]["symbol_versions"]
assert any(v.startswith("GLIBCXX_") for v in versions), versions
assert meta["kget"]["requires"]["cpu_features"] == []
assert "cuda" not in meta["kget"]
print("metadata ok")
' "$meta" "$dir/librmsnorm.so"
expect_exit 0
expect_out "metadata ok"
run sh -c "readelf -d '$dir/librmsnorm.so' | grep -E 'RPATH|RUNPATH'"
expect_exit 1

run "$KGET" check "$dir"
expect_exit 0
expect_out "$dir: ok (descriptor loaded and matches)"

# A cell whose toolkit is not installed: asked for by name, it is an error that says why (the
# whole matrix skips it with the same reason). The cu130 cell itself is built by the
# kernels.cuda.build_* tests, for one architecture.
if [ ! -x /usr/local/cuda-12.9/bin/nvcc ]; then
  run "$KGET" build "$KGET_SOURCE_DIR/kernels/rmsnorm" --variant kget1-cu129-x86_64-linux --out "$work/out"
  expect_exit 5
  expect_err "cannot build kget1-cu129-x86_64-linux (cell cu129 of $KGET_SOURCE_DIR/kernels/matrix.toml): toolchain not available: /usr/local/cuda-12.9/bin/nvcc not found"
fi

# Architecture groups (tests/build/tiny_groups: sm90 = 9.0a, sm80 = 8.0 + PTX) beside the tiny
# kernel's CPU variant: the CUDA variant lists exactly the groups' targets, and the resolver,
# told the GPU with KGET_OVERRIDE_CUDA_ARCH, offers it only to GPUs a group covers; others get
# the CPU variant, or with --device cuda the reason. The builder's own tests are in test_build.
if [ -x /usr/local/cuda/bin/nvcc ]; then
  groups="$work/groups"
  cat >"$work/matrix-groups.toml" <<'TOML'
[[cell]]
name = "cpu-x86_64"
backend = "cpu"

[[cell]]
name = "cu130"
backend = "cuda"
cuda-root = "/usr/local/cuda"
toolkit = "13.0"
sass = ["7.5", "8.0", "8.6", "9.0"]
TOML
  run "$KGET" build "$KGET_SOURCE_DIR/tests/build/tiny" --matrix "$work/matrix-groups.toml" \
    --variant kget1-cpu-x86_64-linux --out "$groups" --jobs 2
  expect_exit 0
  run "$KGET" build "$KGET_SOURCE_DIR/tests/build/tiny_groups" --matrix "$work/matrix-groups.toml" \
    --out "$groups" --jobs 2
  expect_exit 0
  expect_out "nvcc: "
  expect_out "built kget1-cu130-x86_64-linux -> $groups/build/kget1-cu130-x86_64-linux (check: clean, descriptor loaded)"
  run python3 -c '
import json, sys
meta = json.load(open(sys.argv[1]))
assert meta["kget"]["cuda"]["sass"] == ["sm_80", "sm_90a"], meta["kget"]["cuda"]
assert meta["kget"]["cuda"]["ptx"] == ["compute_80"], meta["kget"]["cuda"]
assert meta["backend"]["archs"] == ["8.0", "9.0a", "8.0+PTX"], meta["backend"]
print("group targets ok")
' "$groups/build/kget1-cu130-x86_64-linux/metadata.json"
  expect_out "group targets ok"

  export KGET_OVERRIDE_CUDA_DRIVER=13.0
  KGET_OVERRIDE_CUDA_ARCH=9.0 run "$KGET" resolve --explain "$groups"
  expect_exit 0
  expect_out "kget1-cu130-x86_64-linux  chosen      exact SASS sm_90a for cuda:0 (compute capability 9.0)"
  KGET_OVERRIDE_CUDA_ARCH=8.6 run "$KGET" resolve --explain "$groups"
  expect_out "kget1-cu130-x86_64-linux  chosen      SASS sm_80 (same major, older minor)"
  KGET_OVERRIDE_CUDA_ARCH=10.0 run "$KGET" resolve --explain "$groups"
  expect_out "kget1-cu130-x86_64-linux  chosen      PTX compute_80 (JIT-compiled by the driver)"
  KGET_OVERRIDE_CUDA_ARCH=7.5 run "$KGET" resolve --explain "$groups"
  expect_exit 0
  expect_out "kget1-cpu-x86_64-linux    chosen"
  expect_out "hint: built for sm_80, sm_90a, PTX compute_80; this GPU is sm_75"
  KGET_OVERRIDE_CUDA_ARCH=7.5 run "$KGET" resolve --explain --device cuda "$groups"
  expect_exit 6
  expect_out "kget1-cu130-x86_64-linux  rejected    no SASS or PTX in it runs on cuda:0 (compute capability 7.5)"
  unset KGET_OVERRIDE_CUDA_DRIVER

  # --cuda-arch: malformed, and a capability no group has.
  run "$KGET" build "$KGET_SOURCE_DIR/tests/build/tiny_groups" --matrix "$work/matrix-groups.toml" \
    --out "$groups" --cuda-arch 9.x
  expect_exit 2
  expect_err '--cuda-arch 9.x: "9.x" is not a CUDA capability; expected a list such as 8.0,9.0'
  run "$KGET" build "$KGET_SOURCE_DIR/tests/build/tiny_groups" --matrix "$work/matrix-groups.toml" \
    --out "$groups" --cuda-arch 8.6
  expect_exit 2
  expect_err "--cuda-arch 8.6: $KGET_SOURCE_DIR/tests/build/tiny_groups/build.toml has none of these capabilities; it lists group sm80 (sm_80); group sm90 (sm_90a)"
fi

# kget push accepts what kget build made.
run "$KGET" push "$work/out" --repo kernels-community/rmsnorm --version 1.0.0 --to "file://$work/store"
expect_exit 0
expect_out "pushed kernels-community/rmsnorm 1.0.0"
expect_out "$variant"

# A tampered library: the digest rule, exit code integrity (9).
cp -r "$dir" "$work/$variant"
printf 'x' >>"$work/$variant/librmsnorm.so"
run "$KGET" check --no-load "$work/$variant"
expect_exit 9
expect_err "$work/$variant: digest: librmsnorm.so: expected sha256"

finish
