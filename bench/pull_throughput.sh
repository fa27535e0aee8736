#!/bin/bash
# A cold `kget pull` of a large variant against curl and huggingface_hub, over loopback, with
# hyperfine.
#
#   bench/pull_throughput.sh [BUILD_DIR]   (default build-bench; built here when missing)
#
# A kernel whose one variant holds a SIZE_MIB (default 1024) MiB random library is pushed to
# kget-registry on a loopback port. Each run starts from nothing on the client side:
#   kget        `kget pull` into a fresh cache (refs, listing, metadata, then the library streamed
#               into the cache with its sha256 checked while it arrives, fsynced, renamed)
#   curl        `curl -s -o FILE` of the library's resolve URL: the bytes alone
#   curl+sha    `curl -s URL | sha256sum`: the bytes and a sha256 (coreutils: no SHA-NI)
#   curl+ossl   `curl -s URL | openssl dgst -sha256`: the same with OpenSSL's sha256, as kget's
#   curl+sync   `curl -s -o FILE` then `sync FILE`: the bytes, durable on disk as kget makes them
#   hf          huggingface_hub.snapshot_download(allow_patterns=the variant) into a fresh cache,
#               from the venv VENV (default build/venv-hf; created as tests/compat/hf_compat.sh
#               does; this peer is skipped when pip cannot install kernels)
# Big files live under TMPDIR (default /tmp) and are removed at the end. RUNS (default 5) runs
# after one warm-up each. Prints each command's median, MiB/s and the ratios of kget to each peer.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-bench}
size_mib=${SIZE_MIB:-1024}
runs=${RUNS:-5}
venv=${VENV:-$root/build/venv-hf}

if ! command -v hyperfine >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends hyperfine >/dev/null
fi
if [ ! -x "$build/server/kget-registry" ] || [ ! -x "$build/cli/kget" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" --target kget_registry_server kget_cli >/dev/null
fi
kget="$build/cli/kget"

have_hf=1
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import huggingface_hub" 2>/dev/null; then
  python3 -m venv "$venv"
  if ! timeout 300 "$venv/bin/pip" install --quiet --disable-pip-version-check kernels; then
    echo "note: pip could not install kernels/huggingface_hub into $venv: no hf peer" >&2
    rm -rf "$venv"
    have_hf=0
  fi
fi

# shellcheck source=scripts/lib/session.sh
. "$(cd "$(dirname "$0")/.." && pwd)/scripts/lib/session.sh"
# shellcheck disable=SC2119 # no names to keep
clear_kget_settings

work=$(mktemp -d "${TMPDIR:-/tmp}/kget-bench-pull-XXXXXX")
cleanup() {
  stop_registry
  rm -rf "$work"
}
trap cleanup EXIT
export HF_HOME="$work/hf-home"

# The kernel: one variant, its "library" SIZE_MIB of random bytes (a pull never loads it).
variant="kget1-cpu-$(uname -m)-linux"
variant_dir="$work/kernel/build/$variant"
mkdir -p "$variant_dir"
head -c $((size_mib << 20)) /dev/urandom >"$variant_dir/libbig.so"
digest=$(openssl dgst -sha256 -binary "$variant_dir/libbig.so" | base64)
cat >"$variant_dir/metadata.json" <<EOF
{"name": "big", "id": "_big", "version": 1, "license": "MIT", "backend": {"type": "cpu"},
 "digest": {"algorithm": "sha256", "files": {"libbig.so": "$digest"}},
 "kget": {"abi": {"major": 1, "minor": 0}, "library": "libbig.so",
          "ops": [{"name": "f", "schema": "f(Tensor! out) -> ()"}]}}
EOF

echo "bench-token" >"$work/tokens"
start_registry "$build/server/kget-registry" "$work" --token-file "$work/tokens" \
  --access-log "$work/access.log"
endpoint="$registry_url"
"$kget" push "$work/kernel" --repo bench/big --version 1.0.0 --to "$endpoint" \
  --token bench-token >/dev/null
rm -rf "$work/kernel" # the store holds the bytes now; keep the page cache for them
commit=$(curl -sf "$endpoint/api/kernels/bench/big/refs" |
  python3 -c 'import json,sys; print(next(b["targetCommit"] for b in json.load(sys.stdin)["branches"] if b["name"] == "v1"))')
url="$endpoint/kernels/bench/big/resolve/$commit/build/$variant/libbig.so"

commands=(
  -n kget --prepare "rm -rf $work/kget-cache"
  "KGET_ENDPOINT=$endpoint KGET_CACHE=$work/kget-cache $kget pull --quiet bench/big@1"
  -n curl --prepare "rm -f $work/curl.out" "curl -sf -o $work/curl.out $url"
  -n curl+sha --prepare "true" "curl -sf $url | sha256sum"
  -n curl+ossl --prepare "true" "curl -sf $url | openssl dgst -sha256"
  -n curl+sync --prepare "rm -f $work/curl.out" "curl -sf -o $work/curl.out $url && sync $work/curl.out"
)
if [ "$have_hf" = 1 ]; then
  cat >"$work/hf_pull.py" <<EOF
import huggingface_hub as hub
hub.snapshot_download("bench/big", repo_type="kernel", revision="v1",
                      allow_patterns=["build/$variant/*"])
EOF
  commands+=(-n hf --prepare "rm -rf $work/hf-cache"
    "HF_ENDPOINT=$endpoint HF_HUB_CACHE=$work/hf-cache HF_HUB_DISABLE_PROGRESS_BARS=1 $venv/bin/python $work/hf_pull.py")
fi

uptime
hyperfine --warmup 1 --runs "$runs" --style basic --export-json "$work/results.json" "${commands[@]}"
uptime
rm -rf "$work/kget-cache" "$work/hf-cache" "$work/curl.out"

echo
echo "$size_mib MiB over loopback, $runs runs after 1 warm-up; $(nproc) cores;$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
python3 - "$work/results.json" "$size_mib" <<'EOF'
import json, statistics, sys
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
mib = float(sys.argv[2])
median = {name: statistics.median(r["times"]) for name, r in results.items()}
print()
print("| command | median s | min s | max s | MiB/s (median) |")
print("| --- | ---: | ---: | ---: | ---: |")
for name, r in results.items():
    print(f"| {name} | {median[name]:.3f} | {min(r['times']):.3f} | {max(r['times']):.3f} | "
          f"{mib / median[name]:.0f} |")
print()
for peer, target in (("curl", 0.9), ("curl+sha", 0.9), ("curl+ossl", None), ("curl+sync", None), ("hf", 2.0)):
    if peer in median:
        ratio = median[peer] / median["kget"]  # throughput of kget / throughput of the peer
        verdict = "" if target is None else f" (target >= {target}: {'met' if ratio >= target else 'missed'})"
        print(f"kget/{peer}: {ratio:.2f}{verdict}")
EOF
