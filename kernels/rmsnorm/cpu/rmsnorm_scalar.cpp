// The scalar instance of the row functions (portable C++, the baseline target).
#include "../../common/simd_scalar.h"
#include "rmsnorm_isa_table.h"

namespace kget_kernels::rmsnorm {

const IsaKernels& scalar_kernels() {
  static constexpr IsaKernels kKernels = make_isa_kernels<simd::Scalar>();
  return kKernels;
}

} // namespace kget_kernels::rmsnorm
