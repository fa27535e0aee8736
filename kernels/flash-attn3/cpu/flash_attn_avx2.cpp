// The avx2 instance of the block function, compiled with the avx2 flags (CMakeLists.txt).
#include "../../common/simd_avx2.h"
#include "flash_attn_isa_table.h"

namespace kget_kernels::flash_attn3 {

const IsaKernels& avx2_kernels() {
  static constexpr IsaKernels kKernels = make_isa_kernels<simd::Avx2>();
  return kKernels;
}

} // namespace kget_kernels::flash_attn3
