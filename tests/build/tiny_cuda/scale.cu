// Device code for the builder's CUDA test (tests/unit/test_build_cuda.cpp): only its fatbin
// matters, nothing launches it.
namespace {
__global__ void scale(float* x, float factor, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) {
    x[i] *= factor;
  }
}
} // namespace

int tiny_launch_scale(float* x, float factor, int n) {
  scale<<<(n + 255) / 256, 256>>>(x, factor, n);
  return 0;
}
