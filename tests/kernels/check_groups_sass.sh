#!/bin/bash
# The machine code of the cutlass-groups test kernel (tests/build/cutlass_groups), built with two
# architecture groups: each group's sources compiled for its own targets only, and nothing but
# real code in the library. Checks, on any machine, without a GPU:
#   - the cubins are exactly sm_80 and sm_90a, the PTX exactly compute_80 (cuobjdump's
#     "sm_80.ptx"): no target of one group leaked into the other's sources;
#   - every function in the sm_90a SASS is the sm90 group's wgmma kernel and has HGMMA (and no
#     HMMA); every function in the sm_80 SASS is the sm80 group's kernel and has HMMA (and no
#     HGMMA); the PTX has mma.sync and no wgmma;
#   - no arch-conditional stub: no BPT (CuTe's CUTE_INVALID_CONTROL_PATH compiles to printf and a
#     breakpoint trap) in any SASS function, no trap/brkpt in the PTX, and none of the stubs'
#     messages ("Arch conditional ...", "Attempting to use ...") anywhere in the library.
#
# Usage: check_groups_sass.sh VENV LIBRARY
#   VENV     a virtual environment in the build tree; cuobjdump and nvdisasm (the
#            nvidia-cuda-cuobjdump and nvidia-cuda-nvdisasm wheels) are pip-installed there when
#            missing, as check_sass.sh does.
#   - metadata.json beside LIBRARY lists exactly those targets (kget check compares it with the
#     fatbin; this pins what the fatbin must be).
# Exit 77 (ctest: skipped) when LIBRARY was not built (no CUDA toolkit: a failed build, e.g. no
# CUTLASS wheel, fails its fixture instead) or pip cannot install the tools.
set -euo pipefail
if [ $# -ne 2 ]; then
  echo "usage: $0 VENV LIBRARY" >&2
  exit 2
fi
venv=$1
library=$2
name=$(basename "$library")

if [ ! -f "$library" ]; then
  echo "SKIP: $library was not built (its build skips without the CUDA toolkit)"
  exit 77
fi

. "$(dirname "$0")/cuda_tools.sh"
use_cuda_tools "$venv"

work=$(mktemp -d "${TMPDIR:-/tmp}/kget-groups-sass-XXXXXX")
trap 'rm -rf "$work"' EXIT
failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

echo "== $library"
# "ELF file    1: libx.1.sm_90a.cubin", "PTX file    1: libx.1.sm_80.ptx": the architectures.
cuobjdump -lelf "$library" >"$work/elf.txt" || true
cuobjdump -lptx "$library" >"$work/ptx.txt" || true
sed 's/^/  /' "$work/elf.txt" "$work/ptx.txt"
cubins=$(sed -n 's/.*\.\(sm_[0-9]*[af]\{0,1\}\)\.cubin$/\1/p' "$work/elf.txt" | sort -u | xargs)
ptx=$(sed -n 's/.*\.\(sm_[0-9]*[af]\{0,1\}\)\.ptx$/\1/p' "$work/ptx.txt" | sort -u | xargs)
[ "$cubins" = "sm_80 sm_90a" ] || fail "$name: cubins for '$cubins', expected exactly 'sm_80 sm_90a'"
[ "$ptx" = "sm_80" ] || fail "$name: PTX for '$ptx', expected exactly compute_80 ('sm_80')"

# "<arch> <HGMMA> <HMMA> <BPT> <mangled name>" per function of the SASS.
cuobjdump -sass "$library" >"$work/sass.txt"
awk '
  /^[[:space:]]*code for sm_/ { arch = $3 }
  /^[[:space:]]*Function : / {
    if (name != "") print function_arch, hgmma, hmma, bpt, name
    name = $3; function_arch = arch
    hgmma = 0; hmma = 0; bpt = 0
    next
  }
  name != "" && /[[:space:];]HGMMA\./ { hgmma++ }
  name != "" && /[[:space:];]HMMA\./ { hmma++ }
  name != "" && /[[:space:];]BPT\./ { bpt++ }
  END { if (name != "") print function_arch, hgmma, hmma, bpt, name }
' "$work/sass.txt" >"$work/functions.txt"

sm90_functions=0
sm80_functions=0
while read -r arch hgmma hmma bpt mangled; do
  demangled=$(c++filt "$mangled")
  echo "  $arch: $hgmma x HGMMA, $hmma x HMMA, $bpt x BPT: $demangled"
  [ "$bpt" -eq 0 ] || fail "$name: $arch $demangled has a breakpoint trap (an arch-conditional stub?)"
  case "$arch" in
  sm_90a)
    sm90_functions=$((sm90_functions + 1))
    [[ "$demangled" == *gemm_sm90_kernel* ]] ||
      fail "$name: $demangled is in the sm_90a code, which only the sm90 group's kernel belongs in"
    [ "$hgmma" -gt 0 ] || fail "$name: sm_90a $demangled has no HGMMA (wgmma)"
    [ "$hmma" -eq 0 ] || fail "$name: sm_90a $demangled has HMMA: the sm80 path leaked into sm_90a"
    ;;
  sm_80)
    sm80_functions=$((sm80_functions + 1))
    [[ "$demangled" == *gemm_sm80_kernel* ]] ||
      fail "$name: $demangled is in the sm_80 code, which only the sm80 group's kernel belongs in"
    [ "$hmma" -gt 0 ] || fail "$name: sm_80 $demangled has no HMMA (mma.sync)"
    [ "$hgmma" -eq 0 ] || fail "$name: sm_80 $demangled has HGMMA"
    ;;
  *)
    fail "$name: $demangled is compiled for $arch, which no group targets"
    ;;
  esac
done <"$work/functions.txt"
[ "$sm90_functions" -gt 0 ] || fail "$name: no function in the sm_90a SASS"
[ "$sm80_functions" -gt 0 ] || fail "$name: no function in the sm_80 SASS"

cuobjdump -ptx "$library" >"$work/ptx_text.txt"
grep -q 'mma\.sync\.aligned\.m16n8k16' "$work/ptx_text.txt" ||
  fail "$name: the compute_80 PTX has no mma.sync.aligned.m16n8k16"
if grep -q 'wgmma' "$work/ptx_text.txt"; then
  fail "$name: the compute_80 PTX has wgmma: the sm90 group's source was compiled for compute_80"
fi
if grep -Eq '^[[:space:]]*(trap|brkpt);' "$work/ptx_text.txt"; then
  fail "$name: the compute_80 PTX has a trap or brkpt (an arch-conditional stub?)"
fi

# The stubs' printf texts, in the fatbin or the host code's .rodata alike.
if strings -a "$library" | grep -Ei 'arch conditional|attempting to use|CUTE_ARCH_|instructions has not been enabled' \
  >"$work/stub_strings.txt"; then
  sed 's/^/  /' "$work/stub_strings.txt"
  fail "$name: arch-conditional stub messages in the library (above)"
fi

# What the builder wrote from the fatbin: the groups' targets and nothing else.
if ! python3 - "$(dirname "$library")/metadata.json" <<'PY'
import json, sys
cuda = json.load(open(sys.argv[1]))["kget"]["cuda"]
assert cuda["sass"] == ["sm_80", "sm_90a"] and cuda["ptx"] == ["compute_80"], cuda
print("  metadata.json: sass", cuda["sass"], "ptx", cuda["ptx"])
PY
then
  fail "$name: metadata.json does not list exactly sm_80, sm_90a and compute_80"
fi

if [ "$failures" -gt 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "ok: cubins sm_80 and sm_90a, PTX compute_80 (and so the metadata); HGMMA in every sm_90a function, HMMA in" \
  "every sm_80 one; no arch-conditional stubs"
