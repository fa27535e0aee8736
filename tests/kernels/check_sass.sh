#!/bin/bash
# The machine code of the CUDA variants (ctest kernels.cuda.sass): each library carries SASS for
# sm_90 and PTX, and every vectorized instantiation of the named kernels moves memory with 128-bit
# global loads and stores (LDG.E.128, STG.E.128), the 16-byte access docs/kernels.md promises,
# with as many of those loads in flight as the kernel is written to issue before it uses any.
# A change that loses the vector accesses (a Pack without its alignment, a pointer the compiler can
# no longer prove aligned) or serializes the loads (back to one in flight per thread, short of
# HBM bandwidth) fails here, on any machine, without a GPU.
#
# Usage: check_sass.sh VENV LIBRARY KERNELS [LIBRARY KERNELS]...
#   VENV     a virtual environment in the build tree; cuobjdump and nvdisasm (the
#            nvidia-cuda-cuobjdump and nvidia-cuda-nvdisasm wheels) are pip-installed there when
#            missing. The CUDA 13.0 install has no cuobjdump.
#   KERNELS  comma-separated NAME[:COUNT[:IN_FLIGHT]], NAME a __global__ function template in
#            LIBRARY. Its vectorized instantiations are those whose element type comes with the
#            16-byte pack count: <...Float32, 4...> or <...Float16, 8...> / <...BFloat16, 8...>
#            (kernels/common/cuda_common.cuh, Pack<E, kVectorCount<E>>). Each NAME needs at least
#            COUNT of them (default 1) for every element type, e.g. one per activation, and each
#            of them at least IN_FLIGHT 128-bit loads in flight (default 1).
#
# Loads in flight: for each LDG.E.128 of a function, the LDG.E.128 issued from it (itself
# included), in address order, before the first instruction that reads one of its destination
# registers; the function's count is the largest. A loop body that loads four packs into registers
# and then computes counts 4; one that loads, uses and stores a pack at a time counts 1.
# Exit 77 (ctest: skipped) when a library was not built (no CUDA toolkit) or pip cannot install
# the tools (no access to the package index).
set -euo pipefail
if [ $# -lt 3 ] || [ $(($# % 2)) -ne 1 ]; then
  echo "usage: $0 VENV LIBRARY KERNELS [LIBRARY KERNELS]..." >&2
  exit 2
fi
venv=$1
shift


for ((i = 1; i <= $#; i += 2)); do
  library=${!i}
  if [ ! -f "$library" ]; then
    echo "SKIP: $library was not built (kernels.cuda.build_* skip without the CUDA toolkit)"
    exit 77
  fi
done

. "$(dirname "$0")/cuda_tools.sh"
use_cuda_tools "$venv"

work=$(mktemp -d "${TMPDIR:-/tmp}/kget-sass-XXXXXX")
trap 'rm -rf "$work"' EXIT
failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# Prints "<128-bit loads> <128-bit stores> <128-bit loads in flight> <mangled name>" per function
# of the sm_90 SASS.
count_vector_accesses() {
  awk '
    # The registers in an operand list, one per " R<n> ": R<n>.64 is two, a 128-bit operand
    # (wide, outside an address) four; uniform registers and RZ are not data.
    function registers(text, wide,    out, token, n, k) {
      gsub(/URZ|UR[0-9]+|RZ/, "", text)
      out = " "
      while (match(text, /R[0-9]+(\.64)?/)) {
        token = substr(text, RSTART, RLENGTH)
        text = substr(text, RSTART + RLENGTH)
        n = substr(token, 2) + 0
        k = 1
        if (token ~ /\.64$/) k = 2
        else if (wide && substr(text, 1, 1) != ".") k = 4
        for (; k > 0; k--) out = out "R" (n + k - 1) " "
      }
      return out
    }
    function finish() {
      if (name != "") print loads, stores, in_flight, name
      pending = 0
    }
    /^[[:space:]]*code for sm_/ { arch = $3 }
    /^[[:space:]]*Function : / {
      finish()
      name = (arch == "sm_90") ? $3 : ""
      loads = 0; stores = 0; in_flight = 0
      next
    }
    # "/*0150*/  @!P0 LDG.E.128 R16, desc[UR30][R34.64] ;  /* 0x... */"
    name != "" && /^[[:space:]]*\/\*[0-9a-f]+\*\// {
      line = $0
      sub(/^[[:space:]]*\/\*[0-9a-f]+\*\/[[:space:]]*/, "", line)
      sub(/[[:space:]]*;.*$/, "", line)
      sub(/^@!?U?P[0-9T]+[[:space:]]+/, "", line)
      opcode = line
      sub(/[[:space:]].*$/, "", opcode)
      rest = line
      sub(/^[^[:space:]]+[[:space:]]*/, "", rest)
      count = split(rest, operands, ",")
      # The first operand is the destination, except for stores and reductions.
      sources = " "
      for (i = (opcode ~ /^(ST|RED)/) ? 1 : 2; i <= count; i++) {
        sources = sources registers(operands[i], opcode ~ /\.128$/ && operands[i] !~ /\[/)
      }
      kept = 0
      for (p = 1; p <= pending; p++) {
        used = 0
        split(destinations[p], words, " ")
        for (w in words) if (index(sources, " " words[w] " ")) used = 1
        if (used) {
          if (ahead[p] > in_flight) in_flight = ahead[p]
        } else {
          kept++
          destinations[kept] = destinations[p]
          ahead[kept] = ahead[p]
        }
      }
      pending = kept
      if (opcode ~ /^LDG\.E(\.[A-Z0-9_]+)*\.128$/) {
        loads++
        for (p = 1; p <= pending; p++) ahead[p]++
        pending++
        destinations[pending] = registers(operands[1], 1)
        ahead[pending] = 1
      }
      if (opcode ~ /^STG\.E(\.[A-Z0-9_]+)*\.128$/) stores++
    }
    END { finish() }
  ' "$1"
}

check_library() {
  local library=$1 kernels=$2
  local name
  name=$(basename "$library")
  echo "== $library"
  cuobjdump -lelf "$library" >"$work/elf.txt"
  cuobjdump -lptx "$library" >"$work/ptx.txt"
  sed 's/^/  /' "$work/elf.txt" "$work/ptx.txt"
  grep -q 'sm_90\.cubin' "$work/elf.txt" || fail "$name has no SASS for sm_90 (cuobjdump -lelf)"
  grep -q '\.ptx' "$work/ptx.txt" || fail "$name has no PTX (cuobjdump -lptx)"

  cuobjdump -sass "$library" >"$work/sass.txt"
  count_vector_accesses "$work/sass.txt" >"$work/counts.txt"
  while read -r loads stores in_flight mangled; do
    printf '%s\t%s\t%s\t%s\t%s\n' "$loads" "$stores" "$in_flight" "$mangled" "$(c++filt "$mangled")"
  done <"$work/counts.txt" >"$work/functions.tsv"
  echo "  $(wc -l <"$work/functions.tsv") functions in the sm_90 SASS"

  local entry kernel minimum wanted_in_flight element count fields
  IFS=, read -r -a kernel_list <<<"$kernels"
  for entry in "${kernel_list[@]}"; do
    IFS=: read -r -a fields <<<"$entry"
    kernel=${fields[0]}
    minimum=${fields[1]:-1}
    wanted_in_flight=${fields[2]:-1}
    for element in "Float32, 4" "Float16, 8" "BFloat16, 8"; do
      # Demangled: "void ns::kernel<kget_kernels::cuda::Float32, 4, ...>(Args)" or "...4>(Args)".
      awk -F'\t' -v kernel="$kernel" -v element="$element" '
        {
          pattern = "[: ]" kernel "<[^<>]*::" element "[,>]"
          if ($5 ~ pattern) print
        }' "$work/functions.tsv" >"$work/matched.tsv"
      count=$(wc -l <"$work/matched.tsv")
      if [ "$count" -lt "$minimum" ]; then
        fail "$name: $count vectorized instantiation(s) $kernel<...${element}...> in the sm_90" \
          "SASS, expected at least $minimum"
      fi
      while IFS=$'\t' read -r loads stores in_flight mangled demangled; do
        echo "  $loads x LDG.E.128 ($in_flight in flight), $stores x STG.E.128: $demangled"
        [ "$loads" -gt 0 ] || fail "$name: $demangled has no 128-bit global load (LDG.E.128)"
        [ "$stores" -gt 0 ] || fail "$name: $demangled has no 128-bit global store (STG.E.128)"
        [ "$in_flight" -ge "$wanted_in_flight" ] ||
          fail "$name: $demangled has at most $in_flight LDG.E.128 in flight before the first" \
            "use of their data, expected at least $wanted_in_flight"
      done <"$work/matched.tsv"
    done
  done
}

while [ $# -gt 0 ]; do
  check_library "$1" "$2"
  shift 2
done

if [ "$failures" -gt 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "ok: SASS for sm_90 and PTX; every vectorized kernel loads and stores 16 bytes at a time," \
  "with the loads in flight it is written for"
