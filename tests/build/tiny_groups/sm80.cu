// Device code of the builder's group test: only the fatbin matters, nothing launches it.
#include "paths.h"

#ifndef KGET_CUDA_PATH_SM80
#error "sm80.cu is compiled, so its group is built, but KGET_CUDA_PATH_SM80 is not defined"
#endif

namespace {
__global__ void sm80_scale(float* x, float factor, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) {
    x[i] *= factor;
  }
}
} // namespace

int tiny_launch_sm80(float* x, float factor, int n) {
  sm80_scale<<<(n + 255) / 256, 256>>>(x, factor, n);
  return 0;
}
