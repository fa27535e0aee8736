// The avx512 instance of the block function, compiled with the avx512 flags (CMakeLists.txt).
#include "../../common/simd_avx512.h"
#include "flash_attn_isa_table.h"

namespace kget_kernels::flash_attn3 {

const IsaKernels& avx512_kernels() {
  static constexpr IsaKernels kKernels = make_isa_kernels<simd::Avx512>();
  return kKernels;
}

} // namespace kget_kernels::flash_attn3
