// The avx512 instance of the row functions, compiled with the avx512 flags (CMakeLists.txt).
#include "../../common/simd_avx512.h"
#include "rmsnorm_isa_table.h"

namespace kget_kernels::rmsnorm {

const IsaKernels& avx512_kernels() {
  static constexpr IsaKernels kKernels = make_isa_kernels<simd::Avx512>();
  return kKernels;
}

} // namespace kget_kernels::rmsnorm
