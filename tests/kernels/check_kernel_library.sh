#!/usr/bin/env bash
# Checks a built kernel library the way `kget check` will (docs/kernels.md, "Runtime
# dependencies"): it exports kget_kernel_init and nothing else, needs only glibc, libstdc++ and
# libgcc_s, and no symbol version newer than manylinux_2_28 allows (GLIBC 2.28, GLIBCXX 3.4.24,
# CXXABI 1.3.11, GCC 7.0.0). Usage: check_kernel_library.sh lib<name>.so
set -euo pipefail
library=$1
status=0
fail() {
  echo "FAIL: $library: $*" >&2
  status=1
}

exports=$(nm -D --defined-only "$library" | awk '{print $3}' | sort)
[[ $exports == "kget_kernel_init" ]] || fail "exports [$(echo $exports)], expected only kget_kernel_init"

allowed_needed='^(libc\.so\.6|libm\.so\.6|libstdc\+\+\.so\.6|libgcc_s\.so\.1|ld-linux-x86-64\.so\.2|ld-linux-aarch64\.so\.1)$'
while read -r needed; do
  [[ $needed =~ $allowed_needed ]] || fail "needs $needed"
done < <(readelf -d "$library" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')

# Highest version needed of each family, compared with sort -V.
check_version() {
  local family=$1 limit=$2 highest
  highest=$(objdump -T "$library" | grep -oE "\(${family}_[0-9.]+\)" | tr -d '()' |
    sed "s/^${family}_//" | sort -V | tail -1)
  if [[ -n $highest && $(printf '%s\n%s\n' "$highest" "$limit" | sort -V | tail -1) != "$limit" ]]; then
    fail "needs ${family}_$highest, newer than ${family}_$limit (manylinux_2_28)"
  fi
  echo "$library: ${family} <= ${highest:-none} (limit $limit)"
}
check_version GLIBC 2.28
check_version GLIBCXX 3.4.24
check_version CXXABI 1.3.11
check_version GCC 7.0.0

if readelf -d "$library" | grep -qE '\((RPATH|RUNPATH)\).*\[/'; then
  fail "has an absolute RPATH/RUNPATH"
fi
exit $status
