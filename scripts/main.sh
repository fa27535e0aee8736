#!/bin/bash
# The main job: installs what is needed, builds kget, shows what it detects on this host, and
# resolves the demo kernel for an H100 with a CUDA 13.0 driver, for an older driver, and for
# this machine. (It grows to pull and run kernels from a local registry as the project grows.)
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
