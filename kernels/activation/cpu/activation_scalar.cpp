// The scalar instance of the row functions (portable C++, the baseline target).
#include "../../common/simd_scalar.h"
#include "activation_rows.h"

namespace kget_kernels::activation {

const IsaKernels& scalar_kernels() {
  static constexpr IsaKernels kKernels = make_isa_kernels<simd::Scalar>();
  return kKernels;
}

} // namespace kget_kernels::activation
