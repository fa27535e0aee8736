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
# shellcheck source=scripts/lib/session.sh
. "$(cd "$(dirname "$0")/.." && pwd)/scripts/lib/session.sh"
# shellcheck disable=SC2119 # no names to keep
clear_kget_settings

work=$(mktemp -d "${TMPDIR:-/tmp}/kget-bench-requests-XXXXXX")
cleanup() {
  stop_registry
  rm -rf "$work"
}
trap cleanup EXIT
export HF_HOME="$work/hf-home"

write_variant "$work/relu" "$build/tests/librelu.so" relu "relu(Tensor! out, Tensor input) -> ()"

echo "bench-token" >"$work/tokens"
start_registry "$build/server/kget-registry" "$work" --token-file "$work/tokens" \
  --access-log "$work/access.log"
endpoint="$registry_url"
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
