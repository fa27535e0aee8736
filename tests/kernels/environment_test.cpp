// The environment overrides of the CPU kernels, each in a process of its own (CMakeLists.txt
// sets the variable): a malformed value makes every op fail with a message, never a crash or a
// silent fallback.
#include "kernel_test_support.h"

#include <cstdlib>
#include <gtest/gtest.h>
#include <string>

namespace kget_kernel_tests {
namespace {

std::string run_rms_norm(int* status) {
  HostTensor out(DType::kFloat32, {2, 8});
  HostTensor input(DType::kFloat32, {2, 8});
  HostTensor weight(DType::kFloat32, {8});
  std::string message;
  *status = call(rmsnorm_library().op("rms_norm"),
                 {tensor_arg(out.dl()), tensor_arg(input.dl()), tensor_arg(weight.dl()),
                  float_arg(1e-6), stream_arg()},
                 &message);
  return message;
}

std::string run_gelu(int* status) {
  HostTensor out(DType::kFloat32, {8});
  HostTensor input(DType::kFloat32, {8});
  std::string message;
  *status = call(activation_library().op("gelu"),
                 {tensor_arg(out.dl()), tensor_arg(input.dl()), stream_arg()}, &message);
  return message;
}

TEST(Environment, BadIsaValueIsRefused) {
  const char* value = std::getenv("KGET_KERNEL_CPU_ISA");
  ASSERT_TRUE(value && std::string(value) == "avx9")
      << "run by ctest with KGET_KERNEL_CPU_ISA=avx9";
  int status = 0;
  EXPECT_EQ(run_rms_norm(&status),
            "KGET_KERNEL_CPU_ISA=avx9: expected auto, scalar, avx2 or avx512");
  EXPECT_EQ(status, KGET_KERNEL_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(run_gelu(&status), "KGET_KERNEL_CPU_ISA=avx9: expected auto, scalar, avx2 or avx512");
  EXPECT_EQ(status, KGET_KERNEL_ERROR_INVALID_ARGUMENT);
}

TEST(Environment, BadThreadCountIsRefused) {
  const char* value = std::getenv("KGET_KERNEL_CPU_THREADS");
  ASSERT_TRUE(value && std::string(value) == "0") << "run by ctest with KGET_KERNEL_CPU_THREADS=0";
  int status = 0;
  EXPECT_EQ(run_rms_norm(&status), "KGET_KERNEL_CPU_THREADS=0: expected an integer from 1 to 1024");
  EXPECT_EQ(status, KGET_KERNEL_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(run_gelu(&status), "KGET_KERNEL_CPU_THREADS=0: expected an integer from 1 to 1024");
  EXPECT_EQ(status, KGET_KERNEL_ERROR_INVALID_ARGUMENT);
}

} // namespace
} // namespace kget_kernel_tests
