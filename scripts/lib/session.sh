# shellcheck shell=bash
# Shell helpers for scripts that run kget against a real kget-registry: the main job, the API
# tests and the benchmarks. Source it; it defines functions only.

# clear_kget_settings [KEEP...]: unsets every KGET_*/HF_* variable (and KERNELS_CACHE,
# LOCAL_KERNELS), except those matching a KEEP glob, so that nothing reaches the caller's cache
# or registry.
clear_kget_settings() {
  local name keep
  for name in $(env | sed -n 's/^\(\(KGET\|HF\)_[A-Z0-9_]*\)=.*/\1/p'); do
    for keep in "$@"; do
      # shellcheck disable=SC2254 # KEEP is a glob on purpose
      case "$name" in $keep) continue 2 ;; esac
    done
    unset "$name"
  done
  unset KERNELS_CACHE LOCAL_KERNELS
}

# write_variant DIR LIBRARY NAME SCHEMA...: DIR/build/kget1-cpu-<arch>-linux/ holding LIBRARY and
# the metadata.json `kget build` would write for it (one op per SCHEMA, named as the schema).
write_variant() {
  local dir="$1" library="$2" name="$3"
  shift 3
  local variant_dir
  variant_dir="$dir/build/kget1-cpu-$(uname -m)-linux"
  mkdir -p "$variant_dir"
  cp "$library" "$variant_dir/"
  python3 - "$variant_dir" "$(basename "$library")" "$name" "$@" <<'PY'
import base64, hashlib, json, sys
from pathlib import Path
variant, library, name, schemas = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
digest = base64.b64encode(hashlib.sha256((variant / library).read_bytes()).digest()).decode()
(variant / "metadata.json").write_text(json.dumps({
    "name": name, "id": f"_{name}_example", "version": 1, "license": "Apache-2.0",
    "backend": {"type": "cpu"},
    "digest": {"algorithm": "sha256", "files": {library: digest}},
    "kget": {"abi": {"major": 1, "minor": 0}, "library": library,
             "ops": [{"name": s[:s.index("(")], "schema": s} for s in schemas],
             "requires": {"symbol_versions": ["GLIBC_2.2.5"], "cpu_features": []}}}, indent=2))
PY
}

# start_registry BINARY WORKDIR [ARGS...]: starts kget-registry on 127.0.0.1:0 with its store in
# WORKDIR/store, its output in WORKDIR/registry.out and .err, and ARGS; sets registry_pid and
# registry_url. Fails, showing the output, when it does not start within 10 s.
start_registry() {
  local binary="$1" work="$2"
  shift 2
  "$binary" --root "$work/store" --listen 127.0.0.1:0 "$@" \
    >"$work/registry.out" 2>"$work/registry.err" &
  registry_pid=$!
  local _
  for _ in $(seq 100); do
    grep -q "listening on" "$work/registry.out" 2>/dev/null && break
    sleep 0.1
  done
  registry_url=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$work/registry.out")
  if [ -z "$registry_url" ]; then
    echo "kget-registry did not start:" >&2
    cat "$work/registry.out" "$work/registry.err" >&2
    return 1
  fi
}

# stop_registry: SIGTERM and wait, when one was started.
stop_registry() {
  if [ -n "${registry_pid:-}" ]; then
    kill -TERM "$registry_pid" 2>/dev/null || true
    wait "$registry_pid" 2>/dev/null || true
    registry_pid=""
  fi
}
