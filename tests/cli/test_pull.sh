#!/bin/bash
# kget pull, list, info, resolve and cache against a real kget-registry ($KGET_REGISTRY) started
# here, and against file:// stores: the example relu kernel ($RELU), published as 1.0.0 and 1.1.0.
# Requests are counted in the registry's access log; files are checked in the cache.
. "$(dirname "$0")/lib.sh"
if [ -z "${KGET_REGISTRY:-}" ] || [ ! -x "$KGET_REGISTRY" ] || [ -z "${RELU:-}" ] || \
   [ ! -f "$RELU" ]; then
  echo "skip: KGET_REGISTRY and RELU must name the built kget-registry and librelu.so"
  exit 77
fi
case "$(uname -m)" in
  x86_64) glibc_symbol=GLIBC_2.2.5 ;;
  aarch64) glibc_symbol=GLIBC_2.17 ;;
  *) echo "skip: no kget CPU variant name for $(uname -m)"; exit 77 ;;
esac
variant="kget1-cpu-$(uname -m)-linux"

# Nothing from the caller's environment may point kget elsewhere (huggingface.co above all).
unset KGET_ENDPOINT HF_ENDPOINT KGET_MIRRORS KGET_TOKEN HF_TOKEN HF_TOKEN_PATH KGET_OFFLINE \
  HF_HUB_OFFLINE KGET_CACHE KERNELS_CACHE HF_HUB_CACHE HF_HOME XDG_CACHE_HOME KGET_LOCAL_KERNELS \
  KGET_DEVICE KGET_OVERRIDE_CUDA_DRIVER KGET_OVERRIDE_CUDA_ARCH
work=$(mktemp -d)
export HOME="$work/home"
mkdir -p "$HOME"
registry_pid=""
cleanup() {
  if [ -n "$registry_pid" ]; then
    kill "$registry_pid" 2>/dev/null
    wait "$registry_pid" 2>/dev/null
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# --- helpers ----------------------------------------------------------------------------------

# expect_json EXPR: stdout is JSON, and the Python expression EXPR over it (`d`) is true.
expect_json() {
  printf '%s' "$out" | python3 -c '
import json, sys
d = json.load(sys.stdin)
sys.exit(0 if eval(sys.argv[1]) else 1)' "$1" 2>/dev/null
  report $? "stdout JSON satisfies: $1"
}

# make_kernel DIR TRAILER [FILE...]: DIR/build/<cpu variant>/ with librelu.so (the example kernel
# followed by TRAILER, so that versions differ in their bytes), the FILEs, and a metadata.json
# listing the sha256 of each.
make_kernel() {
  local dir="$1/build/$variant"
  mkdir -p "$dir"
  { cat "$RELU"; printf '%s' "$2"; } >"$dir/librelu.so"
  shift 2
  local extra
  for extra in "$@"; do cp "$extra" "$dir/"; done
  python3 - "$dir" "$glibc_symbol" <<'PY'
import base64, hashlib, json, sys
from pathlib import Path
variant = Path(sys.argv[1])
files = {p.name: base64.b64encode(hashlib.sha256(p.read_bytes()).digest()).decode()
         for p in sorted(variant.iterdir()) if p.name != "metadata.json"}
(variant / "metadata.json").write_text(json.dumps({
    "name": "relu", "id": "_relu_example", "version": 1, "license": "Apache-2.0",
    "backend": {"type": "cpu"},
    "digest": {"algorithm": "sha256", "files": files},
    "kget": {"abi": {"major": 1, "minor": 0}, "library": "librelu.so",
             "ops": [{"name": "relu", "schema": "relu(Tensor! out, Tensor input) -> ()"}],
             "requires": {"symbol_versions": [sys.argv[2]], "cpu_features": []}}}, indent=2))
PY
}

# push DIR REPO VERSION DESTINATION: prints the commit.
push() {
  "$KGET" push "$1" --repo "$2" --version "$3" --to "$4" --token pull-test-token |
    sed -n 's/^  commit    //p'
}

# A TCP port on 127.0.0.1 that nothing listens on: bound, then closed.
closed_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# The registry logs a request when its exchange ends, which may be just after the client has read
# the answer. sync_log sends a request of its own and waits until it is logged: every exchange
# that ended before it is in the log by then.
sync_count=0
sync_log() {
  sync_count=$((sync_count + 1))
  curl -s -o /dev/null "$url/api/kernels/test-sync/marker-$sync_count/refs"
  local _
  for _ in $(seq 200); do
    grep -q "/test-sync/marker-$sync_count/" "$log" && return
    sleep 0.05
  done
}
log_mark() { sync_log; wc -l <"$log"; }
# requests_since MARK: the requests logged after MARK, without sync_log's own.
requests_since() {
  sync_log
  tail -n +$(($1 + 1)) "$log" | grep -v '/test-sync/'
}
count_requests() { # count_requests MARK PATTERN
  requests_since "$1" | grep -c -- "$2"
}

repo_cache() { echo "$1/kernels--kernels-community--relu"; }

# A bug the lead must fix, marked so that the rest of the suite stays useful: the checks between
# known_failure_begin and known_failure_end still print their FAIL lines, but count as one known
# failure. Once they all pass, the mark must go, and its staying is a failure.
known_failure_begin() {
  known_text="$1"
  known_failed_before=$failed
}
known_failure_end() {
  local new_failures=$((failed - known_failed_before))
  if [ "$new_failures" -gt 0 ]; then
    failed=$known_failed_before
    echo "KNOWN FAILURE ($new_failures checks above): $known_text"
  else
    last_command="(known_failure_end)"
    report 1 "the known failure no longer happens; remove its mark: $known_text"
  fi
}

# --- the registry, two versions, a file:// store ----------------------------------------------

printf 'pull-test-token\n' >"$work/tokens"
log="$work/access.log"
"$KGET_REGISTRY" --root "$work/served" --listen 127.0.0.1:0 --token-file "$work/tokens" \
  --access-log "$log" >"$work/registry.out" 2>"$work/registry.err" &
registry_pid=$!
url=""
for _ in $(seq 100); do
  url=$(sed -n '1s/^kget-registry: listening on \(http:[^ ]*\) .*/\1/p' "$work/registry.out")
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ]; report $? "kget-registry started (stderr: $(cat "$work/registry.err"))"

make_kernel "$work/k100" ""
make_kernel "$work/k110" "kget test: release 1.1.0"
lib100="$work/k100/build/$variant/librelu.so"
lib110="$work/k110/build/$variant/librelu.so"
cmp -s "$lib100" "$lib110"; [ $? = 1 ]; report $? "the two releases have different libraries"
c100=$(push "$work/k100" kernels-community/relu 1.0.0 "$url")
c110=$(push "$work/k110" kernels-community/relu 1.1.0 "$url")
[ ${#c100} = 40 ] && [ ${#c110} = 40 ] && [ "$c100" != "$c110" ]
report $? "both versions pushed to the registry ($c100, $c110)"
store="$work/store"
f100=$(push "$work/k100" kernels-community/relu 1.0.0 "file://$store")
f110=$(push "$work/k110" kernels-community/relu 1.1.0 "file://$store")
[ ${#f100} = 40 ] && [ ${#f110} = 40 ]; report $? "both versions pushed to file://$store"

export KGET_CACHE="$work/cache"
export KGET_ENDPOINT="$url"
relu_cache=$(repo_cache "$KGET_CACHE")
snapshot110="$relu_cache/snapshots/$c110/build/$variant"
snapshot100="$relu_cache/snapshots/$c100/build/$variant"

# --- pull by every kind of spec ---------------------------------------------------------------

# A cold pull of @1: the refs, the listing of build/, metadata.json and the library, once each.
mark=$(log_mark)
run "$KGET" pull kernels-community/relu@1
expect_exit 0
expect_line 1 "kernels-community/relu: branch v1 -> commit $c110 (from $url)"
expect_line 2 "  variant  $variant ("
expect_line 3 "  fetched  2 files"
expect_line 4 "  path     $snapshot110"
requests=$(requests_since "$mark")
[ "$(printf '%s\n' "$requests" | grep -c .)" = 4 ]
report $? "a cold pull makes 4 requests (made: $requests)"
printf '%s\n' "$requests" | grep -q "\"GET /api/kernels/kernels-community/relu/refs HTTP/1.1\" 200"
report $? "a cold pull GETs the refs"
printf '%s\n' "$requests" | grep -q "\"GET /api/kernels/kernels-community/relu/tree/$c110/build?recursive=true&expand=false HTTP/1.1\" 200"
report $? "a cold pull GETs the listing of build/"
printf '%s\n' "$requests" | grep -q "\"GET /kernels/kernels-community/relu/resolve/$c110/build/$variant/metadata.json HTTP/1.1\" 200"
report $? "a cold pull GETs metadata.json"
printf '%s\n' "$requests" | grep -q "\"GET /kernels/kernels-community/relu/resolve/$c110/build/$variant/librelu.so HTTP/1.1\" 200"
report $? "a cold pull GETs the library"

# The snapshot: links into blobs/ with the pushed bytes.
for file in librelu.so metadata.json; do
  [ -L "$snapshot110/$file" ]; report $? "snapshot $file is a symlink"
  case "$(readlink "$snapshot110/$file")" in
    ../../../../blobs/*) report 0 "" ;;
    *) report 1 "snapshot $file points into ../../../../blobs/ (it is $(readlink "$snapshot110/$file"))" ;;
  esac
  cmp -s "$snapshot110/$file" "$work/k110/build/$variant/$file"
  report $? "snapshot $file has the pushed bytes"
done
[ "$(cat "$relu_cache/refs/v1")" = "$c110" ]; report $? "refs/v1 holds the commit"
run "$KGET" cache verify
expect_exit 0
expect_out ": 1 repositories, 2 blobs, 2 snapshot files: ok"

# A warm pull of @1: one request, the refs.
mark=$(log_mark)
run "$KGET" pull kernels-community/relu@1
expect_exit 0
expect_line 1 "kernels-community/relu: branch v1 -> commit $c110"
expect_line 3 "  fetched  nothing: all 2 files were in the cache"
requests=$(requests_since "$mark")
[ "$(printf '%s\n' "$requests" | grep -c .)" = 1 ] &&
  printf '%s\n' "$requests" | grep -q '"GET /api/kernels/kernels-community/relu/refs '
report $? "a warm pull of @1 makes exactly one request, the refs (made: $requests)"

# @1.0.0 (a tag), @~1.0 and @^1.0 (ranges that differ), no spec, @main.
run "$KGET" pull kernels-community/relu@1.0.0
expect_exit 0
expect_line 1 "kernels-community/relu: tag v1.0.0 -> commit $c100 (from $url)"
expect_line 3 "  fetched  2 files"
expect_line 4 "  path     $snapshot100"
cmp -s "$snapshot100/librelu.so" "$lib100"; report $? "@1.0.0 has the 1.0.0 library"
run "$KGET" pull kernels-community/relu@~1.0
expect_exit 0
expect_line 1 "kernels-community/relu: highest release matching ~1.0: v1.0.0 -> commit $c100"
run "$KGET" pull "kernels-community/relu@^1.0"
expect_exit 0
expect_line 1 "kernels-community/relu: highest release matching ^1.0: v1.1.0 -> commit $c110"
run "$KGET" pull kernels-community/relu
expect_exit 0
expect_err "note: kernels-community/relu has no @version; using its highest vN branch"
expect_line 1 "kernels-community/relu: highest version branch: v1 -> commit $c110"
run "$KGET" pull kernels-community/relu@main
expect_exit 0
expect_line 1 "kernels-community/relu: revision main -> commit $c110"

# @<commit>, cached: no request at all.
mark=$(log_mark)
run "$KGET" pull "kernels-community/relu@$c100"
expect_exit 0
expect_line 1 "kernels-community/relu: commit $c100 -> commit $c100"
expect_line 3 "  fetched  nothing: all 2 files were in the cache"
requests=$(requests_since "$mark")
[ -z "$requests" ]; report $? "a cached pull by commit makes no request (made: $requests)"

# --json
run "$KGET" pull --json kernels-community/relu@1.0.0 "kernels-community/relu@^1.1"
expect_exit 0
expect_json "len(d) == 2"
expect_json "d[0]['reference'] == 'kernels-community/relu@1.0.0' and d[0]['repo'] == 'kernels-community/relu'"
expect_json "d[0]['commit'] == '$c100' and d[0]['revision'] == 'v1.0.0' and d[0]['resolved'] == 'tag v1.0.0'"
expect_json "d[0]['source'] == '$url' and d[0]['variant'] == '$variant' and d[0]['reason'] != ''"
expect_json "d[0]['path'] == '$snapshot100' and d[0]['files'] == 2 and d[0]['files_downloaded'] == 0"
expect_json "d[0]['bytes_downloaded'] == 0 and d[0]['local'] is False and d[0]['warnings'] == []"
expect_json "d[1]['commit'] == '$c110' and d[1]['revision'] == 'v1.1.0'"
[ -z "$err" ]; report $? "--json prints nothing on stderr"
run "$KGET" pull -q kernels-community/relu@1
expect_exit 0
[ -z "$out$err" ]; report $? "--quiet prints nothing"

run "$KGET" cache verify
expect_exit 0
expect_out ": 1 repositories, 4 blobs, 4 snapshot files: ok"

# --- file:// endpoint: the same result, no registry ---------------------------------------------

mark=$(log_mark)
file_cache="$work/cache-file"
run env KGET_ENDPOINT="file://$store" KGET_CACHE="$file_cache" "$KGET" pull kernels-community/relu@1
expect_exit 0
expect_line 1 "kernels-community/relu: branch v1 -> commit $f110 (from file://$store)"
expect_line 3 "  fetched  2 files"
file_snapshot="$(repo_cache "$file_cache")/snapshots/$f110/build/$variant"
expect_line 4 "  path     $file_snapshot"
cmp -s "$file_snapshot/librelu.so" "$lib110"; report $? "file:// pull: the 1.1.0 library"
[ -L "$file_snapshot/librelu.so" ]; report $? "file:// pull: the snapshot file is a symlink"
run env KGET_ENDPOINT="file://$store" KGET_CACHE="$file_cache" "$KGET" pull kernels-community/relu@1.0.0
expect_exit 0
cmp -s "$(repo_cache "$file_cache")/snapshots/$f100/build/$variant/librelu.so" "$lib100"
report $? "file:// pull of @1.0.0: the 1.0.0 library"
[ -z "$(requests_since "$mark")" ]; report $? "file:// pulls send no request to the registry"
run env KGET_CACHE="$file_cache" "$KGET" cache verify
expect_exit 0

# --- mirrors ----------------------------------------------------------------------------------

port=$(closed_port)
dead="http://127.0.0.1:$port"
run env KGET_ENDPOINT="$dead" KGET_MIRRORS="$url" KGET_CACHE="$work/cache-mirror" \
  "$KGET" pull kernels-community/relu@1
expect_exit 0
expect_err "warning: $dead failed: "
expect_line 1 "kernels-community/relu: branch v1 -> commit $c110 (from $url)"
cmp -s "$(repo_cache "$work/cache-mirror")/snapshots/$c110/build/$variant/librelu.so" "$lib110"
report $? "through the mirror: the 1.1.0 library"

# An endpoint without the kernel (a store holding another one) falls through to the mirror.
push "$work/k100" acme/other 1.0.0 "file://$work/other-store" >/dev/null
run env KGET_ENDPOINT="file://$work/other-store" KGET_MIRRORS="$dead, $url" \
  KGET_CACHE="$work/cache-mirror2" "$KGET" pull kernels-community/relu@1.0.0
expect_exit 0
expect_err "warning: file://$work/other-store failed: "
expect_err "warning: $dead failed: "
expect_line 1 "kernels-community/relu: tag v1.0.0 -> commit $c100 (from $url)"
run env KGET_MIRRORS=ftp://x "$KGET" pull kernels-community/relu@1
expect_exit 4
expect_err "KGET_ENDPOINT/KGET_MIRRORS: \"ftp://x\" is not an endpoint"

# --- offline ----------------------------------------------------------------------------------

offline_source="(from the cache at $KGET_CACHE (offline))"
for setting in KGET_OFFLINE HF_HUB_OFFLINE; do
  for spec in @1 @1.0.0 "@^1.0" "" "@$c100" @main; do
    run env "$setting=1" KGET_ENDPOINT="$dead" "$KGET" pull "kernels-community/relu$spec"
    expect_exit 0
    expect_line 1 "$offline_source"
  done
  run env "$setting=1" KGET_ENDPOINT="$dead" "$KGET" pull kernels-community/relu@1
  expect_line 1 "kernels-community/relu: branch v1 -> commit $c110 $offline_source"
  expect_line 3 "  fetched  nothing: all 2 files were in the cache"
  run env "$setting=1" KGET_ENDPOINT="$dead" "$KGET" pull kernels-community/relu@1.0.0
  expect_line 1 "kernels-community/relu: tag v1.0.0 -> commit $c100"
  # Not in the cache: not found, naming what is missing and saying to pull online.
  run env "$setting=1" KGET_ENDPOINT="$dead" "$KGET" pull kernels-community/absent@1
  expect_exit 5
  expect_err "error: kernels-community/absent@1: kernels-community/absent has no branch v1 in the cache at $KGET_CACHE/kernels--kernels-community--absent"
  expect_err "only the cache was consulted: pull it once online"
  run env "$setting=1" KGET_ENDPOINT="$dead" "$KGET" pull kernels-community/relu@1.0.1
  expect_exit 5
  expect_err "kernels-community/relu has no tag v1.0.1 in the cache"
  expect_err "pull it once online"
  run env "$setting=1" KGET_ENDPOINT="$dead" "$KGET" pull "kernels-community/relu@$(printf '%040d' 7)"
  expect_exit 5
  expect_err "is not in the cache"
  expect_err "pull it once online"
done
run env KGET_OFFLINE=maybe "$KGET" pull kernels-community/relu@1
expect_exit 4
expect_err "KGET_OFFLINE=\"maybe\": expected 1 or 0"

# --- an unreachable registry ------------------------------------------------------------------

run env KGET_ENDPOINT="$dead" KGET_CACHE="$work/cache-empty" "$KGET" pull kernels-community/relu@1
expect_exit 8
expect_err "$dead"
[ ! -e "$(repo_cache "$work/cache-empty")/snapshots" ]; report $? "a failed pull leaves no snapshot"
# With the kernel cached, online: the cache answers, with a warning.
run env KGET_ENDPOINT="$dead" "$KGET" pull kernels-community/relu@1
expect_exit 0
expect_line 1 "kernels-community/relu: branch v1 -> commit $c110"
expect_err "warning: $dead failed: "
expect_err "used the cache instead"

# --- not found, malformed references, bad settings ----------------------------------------------

run "$KGET" pull kernels-community/nope@1
expect_exit 5
expect_err "error: kernels-community/nope@1: "
expect_err "kernels-community/nope"
run "$KGET" pull kernels-community/relu@9
expect_exit 5
expect_err "kernels-community/relu has no branch v9 at $url; it has v1, v1.0.0, v1.1.0"
run "$KGET" pull "kernels-community/relu@^2"
expect_exit 5
expect_err "no release of kernels-community/relu matches ^2 at $url; it has v1, v1.0.0, v1.1.0"
run "$KGET" pull "kernels-community/relu@$(printf '%040d' 7)"
expect_exit 5
run "$KGET" pull kernels-community
expect_exit 3
run "$KGET" pull "kernels-community/relu@"
expect_exit 3
expect_err "nothing follows '@'"
run "$KGET" pull "Kernels Community/relu"
expect_exit 3
run env KGET_ENDPOINT=ftp://x "$KGET" pull kernels-community/relu@1
expect_exit 4
expect_err "\"ftp://x\""
run "$KGET" pull
expect_exit 2

# --- no compatible variant --------------------------------------------------------------------

run env KGET_DEVICE=cuda:0 "$KGET" pull kernels-community/relu@1
expect_exit 6
expect_err "$variant"
run "$KGET" pull --device cuda:0 kernels-community/relu@1
expect_exit 6
run "$KGET" pull --device gpu kernels-community/relu@1
expect_exit 2
expect_err "--device: "

# --- KGET_LOCAL_KERNELS -----------------------------------------------------------------------

mark=$(log_mark)
run env KGET_LOCAL_KERNELS="kernels-community/relu=$work/k100" KGET_ENDPOINT="$dead" \
  "$KGET" pull kernels-community/relu@1
expect_exit 0
expect_line 1 "kernels-community/relu: local build $work/k100"
expect_line 2 "  variant  $variant ("
expect_out "  path     $work/k100/build/$variant"
expect_no_out "fetched"
run env KGET_LOCAL_KERNELS="kernels-community/relu=$work/k100" "$KGET" pull --json kernels-community/relu@1
expect_exit 0
expect_json "d[0]['local'] is True and d[0]['path'] == '$work/k100/build/$variant'"
[ -z "$(requests_since "$mark")" ]; report $? "a local build makes no request"
run env KGET_LOCAL_KERNELS="kernels-community/relu" "$KGET" pull kernels-community/relu@1
expect_exit 4
expect_err "KGET_LOCAL_KERNELS"

# --- integrity --------------------------------------------------------------------------------

blob110=$(readlink -f "$snapshot110/librelu.so")
# tamper FILE: one byte changed in place, same size; the mtime is kept, so only hashing sees it.
tamper() {
  python3 - "$1" <<'PY'
import os, sys
path = sys.argv[1]
stat = os.stat(path)
os.chmod(path, 0o644)
with open(path, "r+b") as f:
    f.seek(stat.st_size // 2)
    byte = f.read(1)
    f.seek(stat.st_size // 2)
    f.write(bytes([byte[0] ^ 0xFF]))
os.chmod(path, stat.st_mode & 0o777)
os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
PY
}
size_before=$(stat -c %s "$blob110")
tamper "$blob110"
[ "$(stat -c %s "$blob110")" = "$size_before" ]; report $? "the tampered blob kept its size"
run "$KGET" cache verify
expect_exit 9
expect_out "error: $blob110: "
expect_out "delete it and pull again"
expect_out "1 errors"
run "$KGET" pull --verify kernels-community/relu@1
expect_exit 9
expect_err "librelu.so"
run "$KGET" pull --json --verify kernels-community/relu@1
expect_exit 9
expect_json "d[0]['kind'] == 'integrity' and 'librelu.so' in d[0]['error']"
rm -f "$blob110"
mark=$(log_mark)
run "$KGET" pull kernels-community/relu@1
expect_exit 0
expect_line 3 "  fetched  1 files"
cmp -s "$snapshot110/librelu.so" "$lib110"; report $? "the repaired blob has the pushed bytes"
[ "$(count_requests "$mark" "/resolve/$c110/build/$variant/librelu.so ")" = 1 ]
report $? "the repair downloads the library once"
run "$KGET" cache verify
expect_exit 0
run "$KGET" pull --verify kernels-community/relu@1
expect_exit 0

# A blob rewritten with its own bytes (new mtime): the cheap check of a pull refuses it until
# `kget cache verify` has hashed it again.
touch -d '+1 minute' "$blob110" 2>/dev/null || touch "$blob110"
run "$KGET" pull kernels-community/relu@1
expect_exit 9
expect_err "librelu.so"
run "$KGET" cache verify
expect_exit 0
run "$KGET" pull kernels-community/relu@1
expect_exit 0

# --- 16 pulls of a cold kernel at once --------------------------------------------------------

concurrent_cache="$work/cache-concurrent"
mark=$(log_mark)
pids=()
for i in $(seq 16); do
  KGET_CACHE="$concurrent_cache" "$KGET" pull kernels-community/relu@1.0.0 >"$work/concurrent.$i" 2>&1 &
  pids+=($!)
done
failures=0
for pid in "${pids[@]}"; do
  wait "$pid" || failures=$((failures + 1))
done
[ "$failures" = 0 ]; report $? "16 concurrent pulls all succeed ($(cat "$work"/concurrent.*))"
library_gets=$(count_requests "$mark" "/resolve/$c100/build/$variant/librelu.so ")
[ "$library_gets" = 1 ]; report $? "16 concurrent pulls GET the library once (got $library_gets)"
cmp -s "$(repo_cache "$concurrent_cache")/snapshots/$c100/build/$variant/librelu.so" "$lib100"
report $? "concurrent pulls: the 1.0.0 library"
run env KGET_CACHE="$concurrent_cache" "$KGET" cache verify --json
expect_exit 0
expect_json "d['ok'] is True and d['errors'] == [] and d['notes'] == [] and d['blobs'] == 2"

# --- pulls killed midway ----------------------------------------------------------------------

head -c $((64 << 20)) /dev/urandom >"$work/big.bin"
make_kernel "$work/kbig" "big" "$work/big.bin"
cbig=$(push "$work/kbig" kernels-community/big 1.0.0 "$url")
[ ${#cbig} = 40 ]; report $? "the 64 MiB variant was pushed"
kill_cache="$work/cache-kill"
big_snapshot="$kill_cache/kernels--kernels-community--big/snapshots/$cbig/build/$variant"
for round in $(seq 8); do
  # Every round starts without the big file, so that every kill lands in a download.
  if [ -L "$big_snapshot/big.bin" ]; then
    rm -f "$(readlink -f "$big_snapshot/big.bin")" "$big_snapshot/big.bin"
  fi
  KGET_CACHE="$kill_cache" "$KGET" pull -q kernels-community/big@1 >/dev/null 2>&1 &
  pid=$!
  sleep "$(printf '0.%03d' $((RANDOM % 201)))"
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  run env KGET_CACHE="$kill_cache" "$KGET" pull kernels-community/big@1
  expect_exit 0
  cmp -s "$big_snapshot/big.bin" "$work/big.bin"; report $? "round $round: the big file is complete"
  run env KGET_CACHE="$kill_cache" "$KGET" cache verify
  expect_exit 0
done
run env KGET_CACHE="$kill_cache" "$KGET" cache prune
expect_exit 0
expect_out "freed "
# (The cache root's own .CACHEDIR.TAG.kget-tmp.* is checked below, with a planted one.)
leftovers=$(find "$kill_cache" -name '*.kget-tmp.*' ! -path "$kill_cache/.CACHEDIR.TAG.kget-tmp.*")
[ -z "$leftovers" ]; report $? "prune removed every temporary file (left: $leftovers)"
run env KGET_CACHE="$kill_cache" "$KGET" cache verify --json
expect_exit 0
expect_json "d['ok'] is True and d['notes'] == [] and d['errors'] == []"
cmp -s "$big_snapshot/big.bin" "$work/big.bin"; report $? "prune kept the big file"

# --- kget list, info, resolve -----------------------------------------------------------------

run "$KGET" list kernels-community/relu
expect_exit 0
expect_line 1 "kernels-community/relu (from $url)"
expect_line 2 "branches:"
expect_out "  main "
expect_out "  v1                       $c110  (kernel reference @1)"
expect_out "releases, newest first:"
releases=$(printf '%s\n' "$out" | sed -n '/^releases/,$p')
[ "$(printf '%s\n' "$releases" | sed -n 2p)" = "  1.1.0                    $c110" ] &&
  [ "$(printf '%s\n' "$releases" | sed -n 3p)" = "  1.0.0                    $c100" ]
report $? "releases are listed newest first"
run "$KGET" list --json kernels-community/relu
expect_exit 0
expect_json "d['repo'] == 'kernels-community/relu' and d['source'] == '$url'"
expect_json "d['branches'] == {'main': '$c110', 'v1': '$c110'}"
expect_json "d['tags'] == {'v1.0.0': '$c100', 'v1.1.0': '$c110'}"
expect_json "d['versions'] == [{'version': '1.1.0', 'commit': '$c110'}, {'version': '1.0.0', 'commit': '$c100'}]"
run env KGET_OFFLINE=1 KGET_ENDPOINT="$dead" "$KGET" list kernels-community/relu
expect_exit 0
expect_line 1 "kernels-community/relu (from the cache at $KGET_CACHE (offline))"
run "$KGET" list kernels-community/nope
expect_exit 5
run "$KGET" list kernels-community
expect_exit 3
run env KGET_ENDPOINT="$dead" KGET_CACHE="$work/cache-empty" "$KGET" list kernels-community/relu
expect_exit 8
expect_err "$dead"

run "$KGET" info kernels-community/relu@1.0.0
expect_exit 0
expect_line 1 "kernels-community/relu: tag v1.0.0 -> commit $c100 (from $url)"
expect_out "$variant [chosen]"
expect_out "  backend  cpu"
expect_out "  library  librelu.so"
expect_out "  op       relu(Tensor! out, Tensor input) -> ()"
run "$KGET" info --json kernels-community/relu@1
expect_exit 0
expect_json "d['repo'] == 'kernels-community/relu' and d['commit'] == '$c110' and d['resolved'] == 'branch v1'"
expect_json "d['source'] == '$url' and d['chosen'] == '$variant' and len(d['variants']) == 1"
expect_json "d['variants'][0]['variant'] == '$variant' and d['variants'][0]['compatible'] is True"
expect_json "d['variants'][0]['backend'] == 'cpu' and d['variants'][0]['library'] == 'librelu.so'"
expect_json "d['variants'][0]['ops'] == ['relu(Tensor! out, Tensor input) -> ()'] and d['variants'][0]['license'] == 'Apache-2.0'"
run env KGET_DEVICE=cuda:0 "$KGET" info --json kernels-community/relu@1
expect_exit 0
expect_json "d['chosen'] is None and d['variants'][0]['compatible'] is False"
run "$KGET" info kernels-community/relu@9
expect_exit 5

run "$KGET" resolve --explain kernels-community/relu@1
expect_exit 0
expect_line 1 "host: linux"
expect_line 2 "$variant"
expect_line 2 "chosen"
run "$KGET" resolve kernels-community/relu@1.0.0
expect_exit 0
[ "$out" = "$variant" ]; report $? "kget resolve prints the variant"
run "$KGET" resolve --json kernels-community/relu@1
expect_exit 0
expect_json "isinstance(d, dict)"
run env KGET_DEVICE=cuda:0 "$KGET" resolve --explain kernels-community/relu@1
expect_exit 6
expect_err "no variant of kernels-community/relu@1 (branch v1, commit $c110) fits this host"

# --- kget cache path, ls, prune -----------------------------------------------------------------

run "$KGET" cache path
expect_exit 0
[ "$out" = "$KGET_CACHE" ]; report $? "cache path is KGET_CACHE"
run env -u KGET_CACHE "$KGET" cache path
expect_exit 0
[ "$out" = "$HOME/.cache/huggingface/hub" ]; report $? "cache path defaults to ~/.cache/huggingface/hub"
run env -u KGET_CACHE HF_HOME="$work/hf" "$KGET" cache path
[ "$out" = "$work/hf/hub" ]; report $? "cache path follows HF_HOME"
run "$KGET" cache --cache "$work/elsewhere" path
[ "$out" = "$work/elsewhere" ]; report $? "cache --cache DIR path"

run "$KGET" cache ls
expect_exit 0
expect_line 1 "$KGET_CACHE"
expect_out "kernels-community/relu  "
expect_out " in 4 blobs, 2 snapshots"
expect_out "  v1.0.0               $c100"
expect_out "  v1.1.0               $c110"
run "$KGET" cache ls --json
expect_exit 0
expect_json "d[0]['repo'] == 'kernels-community/relu' and d[0]['blobs'] == 4 and d[0]['bytes'] > 0"
expect_json "dict(d[0]['refs'])['v1'] == '$c110' and sorted(d[0]['snapshots']) == sorted(['$c100', '$c110'])"

# Leftovers: an unreferenced blob and a temporary file of an interrupted download.
orphan="$relu_cache/blobs/$(printf 'orphan' | sha256sum | cut -d' ' -f1)"
printf 'orphan' >"$orphan"
partial="$relu_cache/blobs/.$(printf 'partial' | sha256sum | cut -d' ' -f1).kget-tmp.AbC123"
printf 'partial' >"$partial"
run "$KGET" cache prune --dry-run
expect_exit 0
expect_out "would remove $orphan"
expect_out "would remove $partial"
expect_out "would free 2 files, 13 B"
[ -e "$orphan" ] && [ -e "$partial" ]; report $? "--dry-run removes nothing"
run "$KGET" cache prune --older-than 7d
expect_exit 0
expect_out "freed 0 files"
[ -e "$orphan" ] && [ -e "$partial" ]; report $? "--older-than 7d keeps new files"
touch -d '10 days ago' "$orphan" "$partial"
run "$KGET" cache prune --older-than 7d --json
expect_exit 0
expect_json "d['dry_run'] is False and sorted(d['removed']) == sorted(['$orphan', '$partial']) and d['bytes'] == 13"
[ ! -e "$orphan" ] && [ ! -e "$partial" ]; report $? "prune removed the leftovers"
cmp -s "$snapshot110/librelu.so" "$lib110"; report $? "prune kept what snapshots use"

# A pull killed while it writes CACHEDIR.TAG (the first write into a new cache) leaves
# <root>/.CACHEDIR.TAG.kget-tmp.XXXXXX; prune removes it too.
root_partial="$KGET_CACHE/.CACHEDIR.TAG.kget-tmp.XyZ789"
printf 'Signature' >"$root_partial"
run "$KGET" cache prune
expect_exit 0
expect_out "removed $root_partial"
[ ! -e "$root_partial" ]; report $? "prune removed the cache root's temporary file"
rm -f "$root_partial"
for age in 7x d 7 -1d 1.5h; do
  run "$KGET" cache prune --older-than "$age"
  expect_exit 2
  expect_err "--older-than \"$age\": expected a number and a unit"
done
for age in 30s 15m 12h 2w; do
  run "$KGET" cache prune --older-than "$age" --dry-run
  expect_exit 0
done
run "$KGET" cache verify
expect_exit 0
run "$KGET" cache
expect_exit 2

# --- kget lock, pull --locked -------------------------------------------------------------------

lockfile="$work/kget.lock"
run "$KGET" lock kernels-community/relu@1 --lock-file "$lockfile"
expect_exit 0
expect_line 1 "kernels-community/relu@1: branch v1 -> commit $c110, 1 variants"
grep -q "commit = '$c110'" "$lockfile"; report $? "the lock pins v1's commit"
grep -q "'librelu.so' = '$(sha256sum "$lib110" | cut -d' ' -f1)'" "$lockfile"
report $? "the lock holds the library's sha256"
# Resolving nothing and with everything cached, a locked pull makes no request at all.
mark=$(log_mark)
run "$KGET" pull --locked --lock-file "$lockfile"
expect_exit 0
expect_line 1 "kernels-community/relu: locked (kget.lock) -> commit $c110 (from $url)"
[ -z "$(requests_since "$mark")" ]; report $? "a cached locked pull makes no request"
# Into an empty cache: no refs, only the listing and the files.
mark=$(log_mark)
run env KGET_CACHE="$work/cache-locked" "$KGET" pull --locked --lock-file "$lockfile" \
  kernels-community/relu@1
expect_exit 0
[ "$(count_requests "$mark" "/refs")" = 0 ]; report $? "a locked pull does not ask for refs"
cmp -s "$(repo_cache "$work/cache-locked")/snapshots/$c110/build/$variant/librelu.so" "$lib110"
report $? "the locked pull fetched the locked library"
run "$KGET" pull --locked --lock-file "$lockfile" kernels-community/relu@1.0.0
expect_exit 13
expect_err "pins kernels-community/relu@1 (commit $c110); asked for @1.0.0"
run "$KGET" pull --locked --lock-file "$lockfile" acme/other@1
expect_exit 5
expect_err "has no entry for acme/other; add it with \`kget lock acme/other@1\`"
run "$KGET" pull --locked --lock-file "$work/missing.lock"
expect_exit 5
expect_err "does not exist; write it with \`kget lock\`"
printf 'version = [\n' >"$work/bad.lock"
run "$KGET" pull --locked --lock-file "$work/bad.lock"
expect_exit 7
expect_err "$work/bad.lock:"
# The registry (or a mirror) serving other bytes than those locked is refused.
zeros=$(printf '0%.0s' $(seq 64))
sed "s/'librelu.so' = '[0-9a-f]*'/'librelu.so' = '$zeros'/" "$lockfile" >"$work/tampered.lock"
run "$KGET" pull --locked --lock-file "$work/tampered.lock"
expect_exit 9
expect_err "kget.lock expects sha256 $zeros"

finish
