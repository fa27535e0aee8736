#!/bin/bash
# with_registry.sh PROGRAM [ARGS...]: runs PROGRAM against published kernels, as an application
# would meet them. It publishes the example kernel (examples/minimal_kernel, $KGET_RELU_LIBRARY) as
# kernels-community/relu 1.0.0 with the kget CLI ($KGET) to a file:// store and to a real
# kget-registry ($KGET_REGISTRY) started on a loopback port, then runs PROGRAM with:
#   KGET_TEST_HTTP_ENDPOINT  the registry, http://127.0.0.1:PORT
#   KGET_TEST_FILE_ENDPOINT  the store, file:///...
#   KGET_TEST_PUSH_TOKEN     a token the registry accepts for pushes
#   KGET_TEST_KERNEL_DIR     the kernel directory that was pushed (holds build/<variant>/)
#   KGET_TEST_VARIANT        its one variant, kget1-cpu-<arch>-linux
#   KGET_TEST_WORK           a directory for the program's files, removed afterwards (also TMPDIR)
# and with no KGET_*/HF_* setting from the caller's environment, so that nothing reaches the
# caller's cache or registry. Exits with PROGRAM's status.
set -euo pipefail
: "${KGET:?the kget CLI}" "${KGET_REGISTRY:?the kget-registry binary}"
: "${KGET_RELU_LIBRARY:?librelu.so of examples/minimal_kernel}"
if [ $# -eq 0 ]; then
  echo "usage: with_registry.sh PROGRAM [ARGS...]" >&2
  exit 2
fi

for name in $(env | sed -n 's/^\(\(KGET\|HF\)_[A-Z0-9_]*\)=.*/\1/p'); do
  case "$name" in
  KGET_REGISTRY | KGET_*_LIBRARY | KGET_KERNELS_SOURCE_DIR) ;; # this script's inputs
  *) unset "$name" ;;
  esac
done
unset KERNELS_CACHE LOCAL_KERNELS XDG_CACHE_HOME

work=$(mktemp -d "${TMPDIR:-/tmp}/kget-api-test-XXXXXX")
registry_pid=""
cleanup() {
  if [ -n "$registry_pid" ]; then
    kill -TERM "$registry_pid" 2>/dev/null || true
    wait "$registry_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
export HF_HOME="$work/hf-home" # a default cache that is ours, should anything fall back to it

# The example kernel as `kget build` would lay it out: build/<variant>/ with the library and a
# metadata.json listing its sha256.
variant="kget1-cpu-$(uname -m)-linux"
variant_dir="$work/relu/build/$variant"
mkdir -p "$variant_dir"
cp "$KGET_RELU_LIBRARY" "$variant_dir/librelu.so"
digest=$(openssl dgst -sha256 -binary "$variant_dir/librelu.so" | base64)
cat >"$variant_dir/metadata.json" <<EOF
{
  "name": "relu",
  "id": "_relu_example",
  "version": 1,
  "license": "Apache-2.0",
  "backend": {"type": "cpu"},
  "digest": {"algorithm": "sha256", "files": {"librelu.so": "$digest"}},
  "kget": {
    "abi": {"major": 1, "minor": 0},
    "library": "librelu.so",
    "ops": [{"name": "relu", "schema": "relu(Tensor! out, Tensor input) -> ()"}]
  }
}
EOF

"$KGET" push "$work/relu" --repo kernels-community/relu --version 1.0.0 \
  --to "file://$work/file-store" >"$work/push-file.out"

echo "api-test-token" >"$work/tokens"
"$KGET_REGISTRY" --root "$work/registry-store" --listen 127.0.0.1:0 --token-file "$work/tokens" \
  >"$work/registry.out" 2>"$work/registry.err" &
registry_pid=$!
for _ in $(seq 100); do
  grep -q "listening on" "$work/registry.out" && break
  sleep 0.1
done
endpoint=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$work/registry.out")
if [ -z "$endpoint" ]; then
  echo "kget-registry did not start:" >&2
  cat "$work/registry.out" "$work/registry.err" >&2
  exit 1
fi
KGET_TOKEN=api-test-token "$KGET" push "$work/relu" --repo kernels-community/relu --version 1.0.0 \
  --to "$endpoint" >"$work/push-http.out"

mkdir -p "$work/program"
export KGET_TEST_HTTP_ENDPOINT="$endpoint"
export KGET_TEST_FILE_ENDPOINT="file://$work/file-store"
export KGET_TEST_PUSH_TOKEN=api-test-token
export KGET_TEST_KERNEL_DIR="$work/relu"
export KGET_TEST_VARIANT="$variant"
export KGET_TEST_WORK="$work/program"
export TMPDIR="$work/program"
status=0
"$@" || status=$?
exit "$status"
