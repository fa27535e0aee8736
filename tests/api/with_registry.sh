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

root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=scripts/lib/session.sh
. "$root/scripts/lib/session.sh"
clear_kget_settings KGET_REGISTRY "KGET_*_LIBRARY" KGET_KERNELS_SOURCE_DIR # this script's inputs
unset XDG_CACHE_HOME

work=$(mktemp -d "${TMPDIR:-/tmp}/kget-api-test-XXXXXX")
cleanup() {
  stop_registry
  rm -rf "$work"
}
trap cleanup EXIT
export HF_HOME="$work/hf-home" # a default cache that is ours, should anything fall back to it

# The example kernel as `kget build` would lay it out: build/<variant>/ with the library and a
# metadata.json listing its sha256.
variant="kget1-cpu-$(uname -m)-linux"
write_variant "$work/relu" "$KGET_RELU_LIBRARY" relu "relu(Tensor! out, Tensor input) -> ()"

"$KGET" push "$work/relu" --repo kernels-community/relu --version 1.0.0 \
  --to "file://$work/file-store" >"$work/push-file.out"

echo "api-test-token" >"$work/tokens"
start_registry "$KGET_REGISTRY" "$work" --token-file "$work/tokens"
endpoint="$registry_url"
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
