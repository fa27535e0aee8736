#!/bin/bash
# Installs what kget needs to build and test on Debian 12, as root. Skips apt when all is there.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git python3 python3-venv curl
  libfmt-dev nlohmann-json3-dev libcli11-dev libtomlplusplus-dev
  libcurl4-openssl-dev libssl-dev libarchive-dev libzstd-dev
  libgtest-dev libgmock-dev libbenchmark-dev libdlpack-dev libmicrohttpd-dev libsimde-dev
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo_cmd=""
if [ "$(id -u)" != 0 ]; then
  sudo_cmd="sudo"
fi
$sudo_cmd apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
