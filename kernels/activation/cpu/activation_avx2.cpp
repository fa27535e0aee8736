// The avx2 instance of the row functions, compiled with the avx2 flags (CMakeLists.txt).
#include "../../common/simd_avx2.h"
#include "activation_rows.h"

namespace kget_kernels::activation {

const IsaKernels& avx2_kernels() {
  static constexpr IsaKernels kKernels = make_isa_kernels<simd::Avx2>();
  return kKernels;
}

} // namespace kget_kernels::activation
