#!/bin/bash
# kget-registry against nginx serving the same bytes, measured with wrk side by side.
#
#   bench/registry_wrk.sh [BUILD_DIR]     (default build-release; built here when missing)
#
# Both servers run on loopback with the same number of worker threads/processes. nginx serves the
# store's blobs (hard links) and the registry's own JSON answers, saved as static files, at the
# same URL paths, so each row compares the same request and the same response bytes. Needs
# Debian's wrk and nginx-light (installed here when missing). Prints a Markdown table.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-release}
duration=${DURATION:-10s}
threads=${THREADS:-2}

for tool in wrk nginx; do
  if ! command -v "$tool" >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      wrk nginx-light >/dev/null
  fi
done
if [ ! -x "$build/server/kget-registry" ] || [ ! -x "$build/cli/kget" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DKGET_BUILD_TESTS=OFF >/dev/null
  cmake --build "$build" --target kget_registry_server kget_cli >/dev/null
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/kget-bench-XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# A kernel with a 1 MiB and a 256 MiB file.
variant=kget1-cpu-x86_64-linux
mkdir -p "$work/kernel/build/$variant"
head -c $((1 << 20)) /dev/urandom >"$work/kernel/build/$variant/small.bin"
head -c $((256 << 20)) /dev/urandom >"$work/kernel/build/$variant/large.bin"
python3 - "$work/kernel/build/$variant" <<'EOF'
import base64, hashlib, json, sys
from pathlib import Path
root = Path(sys.argv[1])
files = {p.name: base64.b64encode(hashlib.sha256(p.read_bytes()).digest()).decode()
         for p in root.iterdir()}
(root / "metadata.json").write_text(json.dumps({
    "name": "bench", "id": "_bench", "version": 1, "license": "MIT",
    "backend": {"type": "cpu"}, "digest": {"algorithm": "sha256", "files": files},
    "kget": {"abi": {"major": 1, "minor": 0}, "library": "small.bin",
             "ops": [{"name": "f", "schema": "f(Tensor! out) -> ()"}],
             "requires": {"symbol_versions": [], "cpu_features": []}}}))
EOF
"$build/cli/kget" push "$work/kernel" --repo bench/kernel --version 1.0.0 \
  --to "file://$work/store" >/dev/null

port_kget=$((20000 + RANDOM % 10000))
port_nginx=$((port_kget + 1))
"$build/server/kget-registry" --root "$work/store" --listen "127.0.0.1:$port_kget" \
  --threads "$threads" ${KGET_REGISTRY_ARGS:-} --access-log "$work/kget-access.log" >"$work/kget.out" 2>&1 &
pids+=($!)
sleep 0.5
kget_url="http://127.0.0.1:$port_kget"
commit=$(curl -sf "$kget_url/api/kernels/bench/kernel/refs" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["tags"][0]["targetCommit"])')

routes=(
  "file 1 MiB|/kernels/bench/kernel/resolve/$commit/build/$variant/small.bin"
  "file 256 MiB|/kernels/bench/kernel/resolve/$commit/build/$variant/large.bin"
  "refs (JSON)|/api/kernels/bench/kernel/refs"
  "tree (JSON)|/api/kernels/bench/kernel/tree/$commit/build/$variant"
)

# nginx's document root: the same bytes at the same paths.
docroot="$work/nginx-root"
for route in "${routes[@]}"; do
  path=${route#*|}
  mkdir -p "$docroot$(dirname "$path")"
  case "$path" in
  */resolve/*) ln "$work/store/blobs/sha256/"*/"$(sha256sum "$work/kernel/build/$variant/$(basename "$path")" | cut -c1-64)" "$docroot$path" ;;
  *) curl -sf "$kget_url$path" >"$docroot$path" ;;
  esac
done
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes $threads;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 4096; }
http {
  default_type application/octet-stream;
  access_log $work/nginx/access.log;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  server {
    listen 127.0.0.1:$port_nginx;
    root $docroot;
  }
}
EOF
nginx -c "$work/nginx/nginx.conf" -g "daemon off; user $(id -un);" &
pids+=($!)
sleep 0.5
nginx_url="http://127.0.0.1:$port_nginx"

# wrk's summary as "requests/s MiB/s errors".
measure() { # measure URL CONNECTIONS
  local out
  local wrk_threads=$((threads < $2 ? threads : $2)) # wrk wants connections >= threads
  out=$(wrk -t "$wrk_threads" -c "$2" -d "$duration" --timeout 30s "$1" 2>&1)
  python3 - "$out" <<'EOF'
import re, sys
out = sys.argv[1]
if "Requests/sec" not in out:
    sys.exit("wrk failed:\n" + out)
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
rate, unit = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", out).groups()
mib = float(rate) * {"B": 1 / 2**20, "KB": 1 / 1024, "MB": 1, "GB": 1024}[unit]
errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
errors += int(non2xx.group(1)) if non2xx else 0
print(f"{rps:.1f} {mib:.0f} {errors}")
EOF
}

echo "kget-registry $("$build/server/kget-registry" --version 2>/dev/null || true) vs $(nginx -v 2>&1)"
echo "wrk -t$threads -d$duration; $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
echo
echo "| route | connections | kget-registry req/s | MiB/s | errors | nginx req/s | MiB/s | errors | kget/nginx |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for route in "${routes[@]}"; do
  name=${route%%|*}
  path=${route#*|}
  for connections in 1 16 256; do
    read -r k_rps k_mib k_err < <(measure "$kget_url$path" "$connections")
    read -r n_rps n_mib n_err < <(measure "$nginx_url$path" "$connections")
    # Files compare by bytes moved (the 256 MiB rows are a few requests a second); JSON by
    # requests, since the two servers' headers differ in length.
    case "$name" in
    file*) ratio=$(python3 -c "print(f'{$k_mib / max($n_mib, 1):.2f}')") ;;
    *) ratio=$(python3 -c "print(f'{$k_rps / max($n_rps, 1):.2f}')") ;;
    esac
    echo "| $name | $connections | $k_rps | $k_mib | $k_err | $n_rps | $n_mib | $n_err | $ratio |"
  done
done
