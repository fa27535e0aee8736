#!/bin/bash
# The real Python clients against kget-registry: a kernel directory pushed with `kget push` is
# served by kget-registry, and huggingface_hub (and kernels, which installs without PyTorch)
# download it byte-identical through HF_ENDPOINT.
#
# Environment: KGET (the kget binary), KGET_REGISTRY (the server binary), VENV (a virtual
# environment in the build tree, created here when missing). Exit 77 (ctest: skipped) when pip
# cannot install the clients, e.g. without access to PyPI.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${KGET:?}" "${KGET_REGISTRY:?}" "${VENV:?}"

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import huggingface_hub" 2>/dev/null; then
  python3 -m venv "$VENV"
  # kernels brings huggingface_hub; it installs without PyTorch, which it imports only to load.
  if ! timeout 300 "$VENV/bin/pip" install --quiet --disable-pip-version-check kernels; then
    echo "SKIP: pip could not install kernels/huggingface_hub into $VENV (no access to PyPI?)"
    rm -rf "$VENV"
    exit 77
  fi
fi
python="$VENV/bin/python"

work=$(mktemp -d "${TMPDIR:-/tmp}/kget-compat-XXXXXX")
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "secret-token" >"$work/tokens"
# A small tree page size, so that the client follows Link headers across pages.
"$KGET_REGISTRY" --root "$work/store" --listen 127.0.0.1:0 --token-file "$work/tokens" \
  --trusted-org kget-test --tree-page-size 2 --access-log "$work/access.log" >"$work/server.out" &
server_pid=$!
for _ in $(seq 100); do
  grep -q "listening on" "$work/server.out" 2>/dev/null && break
  sleep 0.1
done
endpoint=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$work/server.out")
[ -n "$endpoint" ] || { echo "kget-registry did not start"; cat "$work/server.out"; exit 1; }
echo "kget-registry at $endpoint"

"$python" "$here/hf_compat.py" make-kernel "$work/old" 0.9.0
"$python" "$here/hf_compat.py" make-kernel "$work/kernel" 1.0.0
KGET_TOKEN=secret-token "$KGET" push "$work/old" --repo kget-test/compat --version 0.9.0 --to "$endpoint"
KGET_TOKEN=secret-token "$KGET" push "$work/kernel/build" --repo kget-test/compat --version 1.0.0 \
  --to "$endpoint"

# Not HF_HUB_DISABLE_TELEMETRY: with it, kernels 0.17.2 builds a User-Agent ending in "; ",
# which httpx refuses as an illegal header value before any request is sent.
HF_ENDPOINT="$endpoint" HF_HUB_CACHE="$work/hub" HF_HUB_DISABLE_PROGRESS_BARS=1 HF_TOKEN="" \
  "$python" "$here/hf_compat.py" check "$work/kernel" kget-test/compat

# One cache for both tools (docs/cache.md). First huggingface_hub fills it and kget uses what
# it finds: offline, and online without fetching the library again.
HF_ENDPOINT="$endpoint" HF_HUB_CACHE="$work/hub-a" HF_HUB_DISABLE_PROGRESS_BARS=1 HF_TOKEN="" \
  "$python" "$here/hf_compat.py" hf-download kget-test/compat v1 "build/kget1-cpu-x86_64-linux/*"
KGET_CACHE="$work/hub-a" KGET_OFFLINE=1 KGET_ENDPOINT="http://127.0.0.1:1" \
  "$KGET" pull kget-test/compat@1 --json >"$work/pull-offline.json"
grep -q '"files_downloaded": 0' "$work/pull-offline.json" ||
  { echo "FAIL: kget downloaded in offline mode"; cat "$work/pull-offline.json"; exit 1; }
echo "ok: kget pull --offline uses the variant huggingface_hub downloaded"
before=$(grep -c "libcompat.so" "$work/access.log")
KGET_CACHE="$work/hub-a" KGET_ENDPOINT="$endpoint" "$KGET" pull kget-test/compat@1 --quiet
after=$(grep -c "libcompat.so" "$work/access.log")
[ "$before" = "$after" ] || { echo "FAIL: kget fetched libcompat.so again"; exit 1; }
echo "ok: kget pull online finds the library huggingface_hub downloaded and fetches it not again"
KGET_CACHE="$work/hub-a" "$KGET" cache verify
# Then kget fills a cache and huggingface_hub finds it offline.
KGET_CACHE="$work/hub-b" KGET_ENDPOINT="$endpoint" "$KGET" pull kget-test/compat@1 --quiet
HF_HUB_OFFLINE=1 HF_HUB_CACHE="$work/hub-b" HF_TOKEN="" \
  "$python" "$here/hf_compat.py" hf-offline kget-test/compat v1 "$work/kernel"

"$KGET_REGISTRY" fsck --root "$work/store"
echo "requests served: $(wc -l <"$work/access.log")"
