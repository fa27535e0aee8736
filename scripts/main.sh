#!/bin/bash
# The main job: installs what is needed, builds kget, shows what it detects on this host, and
# resolves the demo kernel for an H100 with a CUDA 13.0 driver, for an older driver, and for
# this machine; then publishes the example kernel to kget-registry and to a file:// store, pulls it
# back from the registry into a fresh cache, and loads and runs it through libkget with
# examples/get_kernel, online and then offline.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

"$root/scripts/install-deps.sh"
export CCACHE_DIR="${CCACHE_DIR:-$root/.cache/ccache}"
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$root/build" -j "$(nproc)" --target kget_cli
kget="$root/build/cli/kget"
demo="$root/tests/fixtures/kernels/demo"

echo "== kget env"
"$kget" env
echo
echo "== kget resolve --explain, as an H100 with a CUDA 13.0 driver"
KGET_OVERRIDE_CUDA_DRIVER=13.0 KGET_OVERRIDE_CUDA_ARCH=9.0 "$kget" resolve --explain "$demo"
echo
echo "== kget resolve --explain, as an H100 with a CUDA 12.8 driver"
KGET_OVERRIDE_CUDA_DRIVER=12.8 KGET_OVERRIDE_CUDA_ARCH=9.0 "$kget" resolve --explain "$demo"
echo
echo "== kget resolve --explain, on this machine"
"$kget" resolve --explain "$demo"

# Publishing: the example kernel (examples/minimal_kernel) as a kget1-cpu variant, pushed with
# kget push to kget-registry on a loopback port and to a file:// store, the embedded default.
echo
echo "== kget push to kget-registry and to a file:// store"
cmake --build "$root/build" -j "$(nproc)" --target kget_registry_server kget_example_relu
work=$(mktemp -d "${TMPDIR:-/tmp}/kget-main-XXXXXX")
# shellcheck source=scripts/lib/session.sh
. "$root/scripts/lib/session.sh"
cleanup() {
  stop_registry
  rm -rf "$work"
}
trap cleanup EXIT
write_variant "$work/relu" "$root/build/tests/librelu.so" relu "relu(Tensor! out, Tensor input) -> ()"
echo "main-job-token" >"$work/tokens"
start_registry "$root/build/server/kget-registry" "$work" --token-file "$work/tokens" \
  --access-log "$work/access.log"
endpoint="$registry_url"
KGET_TOKEN=main-job-token "$kget" push "$work/relu" --repo kernels-community/relu --version 1.0.0 \
  --to "$endpoint"
echo "refs served by kget-registry:"
curl -sf "$endpoint/api/kernels/kernels-community/relu/refs"
echo
"$kget" push "$work/relu" --repo kernels-community/relu --version 1.0.0 --to "file://$work/file-store"
"$root/build/server/kget-registry" fsck --root "$work/file-store"

# Fetching and running: the kernel just published, pulled from kget-registry into a fresh cache,
# listed and described by the CLI, then loaded and run through libkget by examples/get_kernel
# (which checks relu against a float64 reference and prints PASS), online and then offline.
echo
echo "== kget pull kernels-community/relu@1 from kget-registry into a fresh cache"
cmake --build "$root/build" -j "$(nproc)" --target kget_example_get_kernel
export KGET_ENDPOINT="$endpoint" KGET_CACHE="$work/cache"
"$kget" pull kernels-community/relu@1
echo
echo "== kget list kernels-community/relu"
"$kget" list kernels-community/relu
echo
echo "== kget info kernels-community/relu@1"
"$kget" info kernels-community/relu@1
echo
echo "== kget-example kernels-community/relu@1 (examples/get_kernel)"
"$root/build/tests/kget-example" kernels-community/relu@1
echo
echo "== kget-example kernels-community/relu@1 with KGET_OFFLINE=1: the cache is enough"
KGET_OFFLINE=1 "$root/build/tests/kget-example" kernels-community/relu@1

# The kernels this repository ships (kernels/), built through the matrix builder (the CPU cell
# and the CUDA 13.0 cell, SASS sm_75..sm_121 + PTX; a cell whose toolkit is missing says why),
# published with every variant, then pulled and run the same way: on this machine without a GPU
# the resolver picks the CPU variant, and an H100 with a CUDA 13.0 driver would get the cu130
# one (shown with the host overrides).
for kernel in rmsnorm activation; do
  echo
  echo "== kget build kernels/$kernel"
  "$kget" build "$root/kernels/$kernel" --out "$work/out-$kernel"
  echo
  echo "== kget push kernels-community/$kernel 1.0.0 to kget-registry"
  KGET_TOKEN=main-job-token "$kget" push "$work/out-$kernel/build" \
    --repo "kernels-community/$kernel" --version 1.0.0 --to "$endpoint"
  echo
  echo "== kget resolve --explain kernels-community/$kernel@1 as an H100 with a CUDA 13.0 driver"
  KGET_OVERRIDE_CUDA_DRIVER=13.0 KGET_OVERRIDE_CUDA_ARCH=9.0 "$kget" resolve --explain \
    "kernels-community/$kernel@1"
  echo
  echo "== kget pull kernels-community/$kernel@1"
  "$kget" pull "kernels-community/$kernel@1"
  echo
  echo "== kget-example kernels-community/$kernel@1"
  "$root/build/tests/kget-example" "kernels-community/$kernel@1"
done
