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
