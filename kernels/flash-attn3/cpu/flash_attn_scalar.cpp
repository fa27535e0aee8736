// The scalar instance of the block function (portable C++, the baseline target).
#include "../../common/simd_scalar.h"
#include "flash_attn_isa_table.h"

namespace kget_kernels::flash_attn3 {

const IsaKernels& scalar_kernels() {
  static constexpr IsaKernels kKernels = make_isa_kernels<simd::Scalar>();
  return kKernels;
}

} // namespace kget_kernels::flash_attn3
