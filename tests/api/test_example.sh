#!/bin/bash
# examples/get_kernel (kget-example, $1) as its README use: against the registry and file:// store
# of with_registry.sh (run through it), online, then offline from the cache, then with kernels it
# cannot get. The shipped CPU kernels ($KGET_RMSNORM_LIBRARY, $KGET_ACTIVATION_LIBRARY, with
# their build.toml under $KGET_KERNELS_SOURCE_DIR) are published too, so that the example's
# rms_norm and gelu_fast checks run against real results.
set -uo pipefail
example="$1"
: "${KGET_TEST_WORK:?run through tests/api/with_registry.sh}"
failures=0
report() {
  if [ "$1" -eq 0 ]; then
    echo "ok: $2"
  else
    echo "FAIL: $2"
    failures=$((failures + 1))
  fi
}
# run [ENV=VALUE...] -- ARGS: runs the example, leaving $out, $err and $status.
run() {
  local assignments=()
  while [ "$1" != "--" ]; do
    assignments+=("$1")
    shift
  done
  shift
  out=$(env "${assignments[@]}" "$example" "$@" 2>"$KGET_TEST_WORK/stderr")
  status=$?
  err=$(cat "$KGET_TEST_WORK/stderr")
}
has() { grep -qF -- "$2" <<<"$1"; }

cache="$KGET_TEST_WORK/example-cache"
variant="$KGET_TEST_VARIANT"

run KGET_ENDPOINT="$KGET_TEST_HTTP_ENDPOINT" KGET_CACHE="$cache" -- kernels-community/relu@1
printf '%s\n%s\n' "$out" "$err"
[ "$status" -eq 0 ]; report $? "relu online exits 0 (got $status)"
has "$out" "downloaded build/$variant/librelu.so"; report $? "the progress callback reports the library"
has "$out" "variant    $variant"; report $? "prints the variant"
has "$out" "why        CPU variant: the fallback when no CUDA variant fits"; report $? "prints why"
has "$out" "from       $KGET_TEST_HTTP_ENDPOINT"; report $? "prints where it came from"
grep -qE '^commit     [0-9a-f]{40} \(branch v1\)$' <<<"$out"; report $? "prints the commit"
has "$out" "  relu(Tensor! out, Tensor input) -> ()"; report $? "lists the ops with schemas"
grep -qE '^relu +4000 values, max abs error 0 .*: PASS$' <<<"$out"; report $? "relu passes"

run KGET_ENDPOINT="$KGET_TEST_HTTP_ENDPOINT" KGET_CACHE="$cache" KGET_OFFLINE=1 -- \
  kernels-community/relu@1
[ "$status" -eq 0 ]; report $? "relu offline exits 0 (got $status: $err)"
! has "$out" "downloaded"; report $? "offline, nothing is downloaded"
has "$out" "(offline)"; report $? "offline, it comes from the cache"
grep -qE '^relu .*: PASS$' <<<"$out"; report $? "relu passes offline"

run KGET_ENDPOINT="$KGET_TEST_HTTP_ENDPOINT" KGET_CACHE="$cache" -- kernels-community/nope@1
[ "$status" -eq 5 ]; report $? "an unknown kernel exits 5 (got $status)"
has "$err" "kget-example: not_found error: "; report $? "prints the kind and the message"
run KGET_ENDPOINT="$KGET_TEST_HTTP_ENDPOINT" KGET_CACHE="$cache" KGET_DEVICE=cuda:0 -- \
  kernels-community/relu@1
[ "$status" -eq 6 ]; report $? "a CUDA device exits 6 (got $status)"
run --
[ "$status" -eq 2 ]; report $? "no argument exits 2 (got $status)"
has "$err" "usage:"; report $? "and prints the usage"

# publish_cpu_kernel NAME LIBRARY: the CPU variant of kernels/NAME, metadata from its build.toml,
# as kernels-community/NAME 1.0.0 in the file:// store.
publish_cpu_kernel() {
  local dir="$KGET_TEST_WORK/kernel-$1/build/$variant"
  mkdir -p "$dir"
  cp "$2" "$dir/lib$1.so"
  python3 - "$KGET_KERNELS_SOURCE_DIR/$1/build.toml" "$dir" "lib$1.so" <<'PY'
import base64, hashlib, json, sys, tomllib
from pathlib import Path
build = tomllib.loads(Path(sys.argv[1]).read_text())
variant, library = Path(sys.argv[2]), sys.argv[3]
general = build["general"]
major, minor = (int(part) for part in general["abi"].split("."))
digest = base64.b64encode(hashlib.sha256((variant / library).read_bytes()).digest()).decode()
(variant / "metadata.json").write_text(json.dumps({
    "name": general["name"], "id": f"_{general['name']}_cpu_test", "version": general["version"],
    "license": general["license"], "backend": {"type": "cpu"},
    "digest": {"algorithm": "sha256", "files": {library: digest}},
    "kget": {"abi": {"major": major, "minor": minor}, "library": library,
             "ops": [{"name": op["name"], "schema": op["schema"]} for op in build["ops"]]}},
    indent=2))
PY
  "$KGET" push "$KGET_TEST_WORK/kernel-$1" --repo "kernels-community/$1" --version 1.0.0 \
    --to "$KGET_TEST_FILE_ENDPOINT" >/dev/null
}

publish_cpu_kernel rmsnorm "$KGET_RMSNORM_LIBRARY"; report $? "rmsnorm is published"
publish_cpu_kernel activation "$KGET_ACTIVATION_LIBRARY"; report $? "activation is published"
run KGET_ENDPOINT="$KGET_TEST_FILE_ENDPOINT" KGET_CACHE="$cache" -- kernels-community/rmsnorm@1
printf '%s\n%s\n' "$out" "$err"
[ "$status" -eq 0 ]; report $? "rmsnorm exits 0 (got $status)"
grep -qE '^rms_norm +8192 values, .*: PASS$' <<<"$out"; report $? "rms_norm passes"
run KGET_ENDPOINT="$KGET_TEST_FILE_ENDPOINT" KGET_CACHE="$cache" -- kernels-community/activation@1
printf '%s\n%s\n' "$out" "$err"
[ "$status" -eq 0 ]; report $? "activation exits 0 (got $status)"
grep -qE '^gelu_fast +4000 values, .*: PASS$' <<<"$out"; report $? "gelu_fast passes"
! grep -q '^relu ' <<<"$out"; report $? "only the ops the kernel has are run"

echo "$failures failed"
[ "$failures" -eq 0 ]
