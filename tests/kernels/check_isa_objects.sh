#!/usr/bin/env bash
# Checks that AVX2/AVX-512 object files define no symbol the linker could share with another
# instruction set's code: every weak (COMDAT) definition must belong to the ISA's own vector type
# (simd::Avx2 or simd::Avx512, in the name). Otherwise the linker may keep this file's copy of
# an inline function for the whole library, and the scalar path would run AVX-512 instructions
# (kernels/common/simd_avx2.h). Usage: check_isa_objects.sh avx2|avx512 object.o...
set -euo pipefail
isa=$1
shift
case $isa in
  avx2) own='Avx2' ;;
  avx512) own='Avx512' ;;
  *) echo "unknown ISA $isa" >&2; exit 2 ;;
esac
status=0
for object in "$@"; do
  # DW.ref.* are data (pointers to the exception personality routine), not code.
  shared=$(nm -C "$object" | awk '$2 ~ /^[WVu]$/' | grep -v -e "simd::$own" -e ' DW\.ref\.' || true)
  if [[ -n $shared ]]; then
    echo "FAIL: $object defines weak symbols outside simd::$own:" >&2
    echo "$shared" >&2
    status=1
  else
    echo "$object: every weak symbol is simd::$own's"
  fi
done
exit $status
