#!/bin/bash
# The main job: installs what is needed, builds kget, shows what it detects on this host, and
# resolves the demo kernel for an H100 with a CUDA 13.0 driver, for an older driver, and for
# this machine; then publishes the example kernel to kget-registry and to a file:// store. (It
# grows to pull and run kernels from the local registry as the project grows.)
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
registry_pid=""
cleanup() {
  [ -z "$registry_pid" ] || kill -TERM "$registry_pid" 2>/dev/null || true
  [ -z "$registry_pid" ] || wait "$registry_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
variant="$work/relu/build/kget1-cpu-x86_64-linux"
mkdir -p "$variant"
cp "$root/build/tests/librelu.so" "$variant/librelu.so"
python3 - "$variant" <<'PY'
import base64, hashlib, json, sys
from pathlib import Path
variant = Path(sys.argv[1])
digest = base64.b64encode(hashlib.sha256((variant / "librelu.so").read_bytes()).digest()).decode()
(variant / "metadata.json").write_text(json.dumps({
    "name": "relu", "id": "_relu_example", "version": 1, "license": "Apache-2.0",
    "backend": {"type": "cpu"},
    "digest": {"algorithm": "sha256", "files": {"librelu.so": digest}},
    "kget": {"abi": {"major": 1, "minor": 0}, "library": "librelu.so",
             "ops": [{"name": "relu", "schema": "relu(Tensor! out, Tensor input) -> ()"}],
             "requires": {"symbol_versions": ["GLIBC_2.2.5"], "cpu_features": []}}}, indent=2))
PY
echo "main-job-token" >"$work/tokens"
"$root/build/server/kget-registry" --root "$work/store" --listen 127.0.0.1:0 \
  --token-file "$work/tokens" --access-log "$work/access.log" >"$work/registry.out" &
registry_pid=$!
for _ in $(seq 50); do grep -q "listening on" "$work/registry.out" && break; sleep 0.1; done
endpoint=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$work/registry.out")
KGET_TOKEN=main-job-token "$kget" push "$work/relu" --repo kernels-community/relu --version 1.0.0 \
  --to "$endpoint"
echo "refs served by kget-registry:"
curl -sf "$endpoint/api/kernels/kernels-community/relu/refs"
echo
"$kget" push "$work/relu" --repo kernels-community/relu --version 1.0.0 --to "file://$work/file-store"
"$root/build/server/kget-registry" fsck --root "$work/file-store"
