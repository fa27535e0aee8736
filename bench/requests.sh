#!/bin/bash
# How many requests a `kget pull` makes, counted in kget-registry's access log: cold (empty
# cache), warm by version (@1), warm by commit (@<40 hex>) and warm offline.
#
#   bench/requests.sh [BUILD_DIR]     (default build-bench; built here when missing)
#
# The kernel is the example relu kernel (examples/minimal_kernel, one variant, one library),
# pushed with `kget push` to kget-registry on a loopback port. Target (DESIGN.md, Performance):
# online but cached, at most one request. Prints a Markdown table, and the requests of each pull.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-bench}

if [ ! -x "$build/server/kget-registry" ] || [ ! -x "$build/cli/kget" ] ||
  [ ! -f "$build/tests/librelu.so" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" --target kget_registry_server kget_cli kget_example_relu >/dev/null
fi
kget="$build/cli/kget"

# Nothing from the caller's settings reaches the cache or the registry measured here.
for name in $(env | sed -n 's/^\(\(KGET\|HF\)_[A-Z0-9_]*\)=.*/\1/p'); do
  unset "$name"
done
unset KERNELS_CACHE LOCAL_KERNELS

work=$(mktemp -d "${TMPDIR:-/tmp}/kget-bench-requests-XXXXXX")
registry_pid=""
cleanup() {
  [ -z "$registry_pid" ] || kill -TERM "$registry_pid" 2>/dev/null || true
  [ -z "$registry_pid" ] || wait "$registry_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
export HF_HOME="$work/hf-home"

variant="kget1-cpu-$(uname -m)-linux"
mkdir -p "$work/relu/build/$variant"
cp "$build/tests/librelu.so" "$work/relu/build/$variant/librelu.so"
digest=$(openssl dgst -sha256 -binary "$work/relu/build/$variant/librelu.so" | base64)
cat >"$work/relu/build/$variant/metadata.json" <<EOF
{"name": "relu", "id": "_relu_example", "version": 1, "license": "Apache-2.0",
 "backend": {"type": "cpu"},
 "digest": {"algorithm": "sha256", "files": {"librelu.so": "$digest"}},
 "kget": {"abi": {"major": 1, "minor": 0}, "library": "librelu.so",
          "ops": [{"name": "relu", "schema": "relu(Tensor! out, Tensor input) -> ()"}]}}
EOF

echo "bench-token" >"$work/tokens"
"$build/server/kget-registry" --root "$work/store" --listen 127.0.0.1:0 \
  --token-file "$work/tokens" --access-log "$work/access.log" >"$work/registry.out" &
registry_pid=$!
for _ in $(seq 100); do
  grep -q "listening on" "$work/registry.out" && break
  sleep 0.1
done
endpoint=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$work/registry.out")
[ -n "$endpoint" ] || { echo "kget-registry did not start" >&2; exit 1; }
"$kget" push "$work/relu" --repo kernels-community/relu --version 1.0.0 --to "$endpoint" \
  --token bench-token >/dev/null
export KGET_ENDPOINT="$endpoint" KGET_CACHE="$work/cache"

# pull NAME [ENV=VALUE...] -- ARGS...: runs `kget pull ARGS`, keeps the access-log lines it caused.
rows=()
pull() {
  local name=$1
  shift
  local settings=()
  while [ "$1" != "--" ]; do
    settings+=("$1")
    shift
  done
  shift
  local before after
  before=$(wc -l <"$work/access.log")
  env "${settings[@]}" "$kget" pull --json "$@" >"$work/pull.json"
  sleep 0.1 # the registry writes its log line after the answer
  after=$(wc -l <"$work/access.log")
  tail -n +"$((before + 1))" "$work/access.log" >"$work/$name.requests"
  local downloaded
  downloaded=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["files_downloaded"])' \
    "$work/pull.json")
  rows+=("$name|$*|$((after - before))|$downloaded")
}

pull cold -- kernels-community/relu@1
commit=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["commit"])' "$work/pull.json")
pull warm-version -- kernels-community/relu@1
pull warm-commit -- "kernels-community/relu@$commit"
pull warm-offline KGET_OFFLINE=1 -- kernels-community/relu@1

echo "$("$kget" --version 2>/dev/null | head -1) against kget-registry on loopback; $(date -u +%F)"
echo
echo "| pull | command | requests | files downloaded |"
echo "| --- | --- | ---: | ---: |"
for row in "${rows[@]}"; do
  IFS='|' read -r name reference requests downloaded <<<"$row"
  note=""
  [ "$name" != warm-offline ] || note=" with KGET_OFFLINE=1"
  echo "| $name | \`kget pull ${reference/$commit/<commit>}\`$note | $requests | $downloaded |"
done
echo
for name in cold warm-version warm-commit warm-offline; do
  echo "$name:"
  sed -e "s/$commit/<commit>/g" -e 's/^/  /' "$work/$name.requests"
done
