// The cutlass-groups test kernel (tests/build/cutlass_groups): a CUDA variant whose gemm has two
// code paths from two build.toml architecture groups, sm90 (wgmma, sm_90a) and sm80 (mma.sync,
// sm_80 + compute_80), chosen at run time (kernels/common/cuda_paths.h). Loaded through dlopen
// and kget_kernel_init as kget loads it, from KGET_CUTLASS_GROUPS_LIBRARY, else the compiled-in
// KGET_CUTLASS_GROUPS_LIBRARY_DEFAULT.
//
// CutlassGroupsLibrary.* run on every host where the library was built: the descriptor and the
// arguments refused before any CUDA call. CutlassGroupsGpu.* need a CUDA device and skip without
// one: gemm against a float64 reference, on the path the process forces with
// KGET_KERNEL_CUDA_PATH (read once per process by the library, so ctest runs this binary once
// per value: unset, sm90, sm80, and an unknown name for UnknownForcedPathIsRefused).
#include "cuda_driver.h"
#include "kernel_test_support.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <gtest/gtest.h>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

namespace kget_kernel_tests {
namespace {

using cuda::Driver;

constexpr const char* kSchema = "gemm(Tensor! out, Tensor a, Tensor b, Stream stream) -> ()";

struct Loaded {
  const KernelLibrary* library = nullptr;
  std::string problem;    // why library is null
  bool not_built = false; // the default path does not exist: skip, don't fail
};

const Loaded& loaded() {
  static const Loaded result = [] {
    Loaded found;
    const char* variable = std::getenv("KGET_CUTLASS_GROUPS_LIBRARY");
    const bool from_environment = variable && *variable;
    const std::string path = from_environment ? variable : KGET_CUTLASS_GROUPS_LIBRARY_DEFAULT;
    if (access(path.c_str(), R_OK) != 0) {
      found.not_built = !from_environment;
      found.problem = from_environment
                          ? "KGET_CUTLASS_GROUPS_LIBRARY=" + path + ": no such file"
                          : "the cutlass-groups CUDA variant was not built: " + path +
                                " does not exist (its ctest fixture builds it, and skips without "
                                "the CUDA toolkit; KGET_CUTLASS_GROUPS_LIBRARY can name another)";
      return found;
    }
    static const KernelLibrary library(path.c_str());
    if (!library.descriptor()) {
      found.problem = path + ": " + library.load_error();
      return found;
    }
    found.library = &library;
    return found;
  }();
  return result;
}

// The KGET_KERNEL_CUDA_PATH this process runs with, as the library reads it ("" for unset or
// "auto").
std::string forced_path() {
  const char* value = std::getenv("KGET_KERNEL_CUDA_PATH");
  if (!value || std::strcmp(value, "auto") == 0) {
    return "";
  }
  return value;
}

bool is_known_path(const std::string& name) {
  return name.empty() || name == "sm90" || name == "sm80";
}

class CutlassGroupsLibrary : public ::testing::Test {
protected:
  void SetUp() override {
    const Loaded& found = loaded();
    if (found.not_built) {
      GTEST_SKIP() << found.problem;
    }
    ASSERT_NE(found.library, nullptr) << found.problem;
    gemm_ = found.library->op("gemm");
    ASSERT_NE(gemm_, nullptr) << "the descriptor has no op gemm";
  }

  kget_op_fn gemm_ = nullptr;
};

// A kDLCUDA DLTensor at a fake, 256-byte-aligned address of its own (1 GiB apart, so that no two
// overlap): only for calls that must be refused before anything touches the data.
struct FakeDeviceTensor {
  FakeDeviceTensor(DLDataType dtype, std::vector<int64_t> extents) : shape(std::move(extents)) {
    static uintptr_t next_address = uintptr_t{1} << 40;
    dl.data = reinterpret_cast<void*>(next_address);
    next_address += uintptr_t{1} << 30;
    dl.device = {kDLCUDA, 0};
    dl.ndim = static_cast<int32_t>(shape.size());
    dl.dtype = dtype;
    dl.shape = shape.data();
  }
  FakeDeviceTensor(const FakeDeviceTensor&) = delete;
  FakeDeviceTensor& operator=(const FakeDeviceTensor&) = delete;

  std::vector<int64_t> shape;
  DLTensor dl{};
};

constexpr DLDataType kF32 = {kDLFloat, 32, 1};
constexpr DLDataType kF16 = {kDLFloat, 16, 1};

// The op's status and message for out, a, b; EXPECTs the status and that the message contains
// `part`.
void expect_refused(kget_op_fn gemm, const DLTensor* out, const DLTensor* a, const DLTensor* b,
                    int status, const std::string& part) {
  std::string message;
  EXPECT_EQ(call(gemm, {tensor_arg(out), tensor_arg(a), tensor_arg(b), stream_arg()}, &message),
            status)
      << message;
  EXPECT_NE(message.find(part), std::string::npos) << "\"" << part << "\" is not in: " << message;
}

TEST_F(CutlassGroupsLibrary, DescriptorHasTheOneOp) {
  const kget_kernel_descriptor* descriptor = loaded().library->descriptor();
  EXPECT_STREQ(descriptor->name, "cutlass_groups");
  EXPECT_STREQ(descriptor->version, "1");
  ASSERT_EQ(descriptor->num_ops, 1u);
  EXPECT_STREQ(descriptor->ops[0].name, "gemm");
  EXPECT_STREQ(descriptor->ops[0].schema, kSchema);
}

TEST_F(CutlassGroupsLibrary, HostTensorsAreRefused) {
  HostTensor out(DType::kFloat32, {64, 64});
  HostTensor a(DType::kFloat16, {64, 64});
  HostTensor b(DType::kFloat16, {64, 64});
  expect_refused(gemm_, out.dl(), a.dl(), b.dl(), KGET_KERNEL_ERROR_INVALID_ARGUMENT,
                 "expected a CUDA tensor (kDLCUDA), got host memory: this kernel has no CPU "
                 "backend");
}

TEST_F(CutlassGroupsLibrary, WrongDtypesAreRefused) {
  FakeDeviceTensor out(kF32, {64, 64});
  FakeDeviceTensor half_out(kF16, {64, 64});
  FakeDeviceTensor a(kF16, {64, 64});
  FakeDeviceTensor b(kF16, {64, 64});
  FakeDeviceTensor float_b(kF32, {64, 64});
  expect_refused(gemm_, &half_out.dl, &a.dl, &b.dl, KGET_KERNEL_ERROR_INVALID_ARGUMENT,
                 "argument 0 (out): expected dtype float32, got float16");
  expect_refused(gemm_, &out.dl, &a.dl, &float_b.dl, KGET_KERNEL_ERROR_INVALID_ARGUMENT,
                 "argument 2 (b): expected dtype float16, got float32");
}

TEST_F(CutlassGroupsLibrary, BadShapesAreRefused) {
  FakeDeviceTensor out(kF32, {64, 128});
  FakeDeviceTensor a(kF16, {64, 64});
  FakeDeviceTensor b(kF16, {128, 64});
  FakeDeviceTensor b_other_k(kF16, {128, 128});
  FakeDeviceTensor a_k40(kF16, {64, 40});
  FakeDeviceTensor b_k40(kF16, {128, 40});
  FakeDeviceTensor out_m96(kF32, {96, 128});
  FakeDeviceTensor a_m96(kF16, {96, 64});
  FakeDeviceTensor a_3d(kF16, {1, 64, 64});
  FakeDeviceTensor out_wrong(kF32, {64, 64});
  expect_refused(gemm_, &out.dl, &a.dl, &b_other_k.dl, KGET_KERNEL_ERROR_INVALID_ARGUMENT,
                 "argument 2 (b): expected 64 (K, the second dimension of a) in dimension 1, got "
                 "128");
  expect_refused(gemm_, &out_wrong.dl, &a.dl, &b.dl, KGET_KERNEL_ERROR_INVALID_ARGUMENT,
                 "argument 0 (out): expected 128 (N, the first dimension of b) in dimension 1, "
                 "got 64");
  expect_refused(gemm_, &out.dl, &a_3d.dl, &b.dl, KGET_KERNEL_ERROR_INVALID_ARGUMENT,
                 "argument 1 (a): expected a 2-D tensor (M, K), got 3-D");
  expect_refused(gemm_, &out.dl, &a_k40.dl, &b_k40.dl, KGET_KERNEL_ERROR_UNSUPPORTED,
                 "argument 1 (a): K = 40 is not a multiple of 64");
  expect_refused(gemm_, &out_m96.dl, &a_m96.dl, &b.dl, KGET_KERNEL_ERROR_UNSUPPORTED,
                 "argument 1 (a): M = 96 is not a multiple of 64");
}

TEST_F(CutlassGroupsLibrary, MisalignedDataIsRefused) {
  FakeDeviceTensor out(kF32, {64, 64});
  FakeDeviceTensor a(kF16, {64, 64});
  FakeDeviceTensor b(kF16, {64, 64});
  a.dl.byte_offset = 8;
  expect_refused(gemm_, &out.dl, &a.dl, &b.dl, KGET_KERNEL_ERROR_INVALID_ARGUMENT,
                 "argument 1 (a): expected data + byte_offset aligned to 16 bytes");
}

// Valid arguments reach the CUDA runtime, which finds no driver or device: a device error that
// says so, not a crash. Only where no device is usable: on a GPU the fake addresses would run.
TEST_F(CutlassGroupsLibrary, WithoutAUsableDeviceTheOpSaysWhy) {
  if (Driver::instance().usable()) {
    GTEST_SKIP() << "a CUDA device is usable here; CutlassGroupsGpu.* run instead";
  }
  FakeDeviceTensor out(kF32, {64, 64});
  FakeDeviceTensor a(kF16, {64, 64});
  FakeDeviceTensor b(kF16, {64, 64});
  expect_refused(gemm_, &out.dl, &a.dl, &b.dl, KGET_KERNEL_ERROR_DEVICE, "gemm on CUDA device 0: ");
}

// ---------------------------------------------------------------------------------------------
// On a GPU

// A HostTensor's storage (guards included) in device memory, with a kDLCUDA DLTensor of the same
// shape and byte_offset: the allocation is 256-byte aligned, so the data is 16-byte aligned.
class DeviceCopy {
public:
  std::string create(HostTensor* host) {
    host_ = host;
    const std::string failure = buffer_.allocate(static_cast<size_t>(host->storage_bytes()));
    dl_ = *host->dl();
    dl_.data = reinterpret_cast<void*>(static_cast<uintptr_t>(buffer_.address()));
    dl_.device = {kDLCUDA, 0};
    return failure;
  }
  DLTensor* dl() { return &dl_; }
  std::string upload() const {
    return buffer_.upload(0, host_->storage_data(), static_cast<size_t>(host_->storage_bytes()));
  }
  std::string download() const {
    return buffer_.download(host_->storage_data(), 0, static_cast<size_t>(host_->storage_bytes()));
  }

private:
  HostTensor* host_ = nullptr;
  cuda::DeviceBuffer buffer_;
  DLTensor dl_{};
};

class CutlassGroupsGpu : public CutlassGroupsLibrary {
protected:
  void SetUp() override {
    CutlassGroupsLibrary::SetUp();
    if (IsSkipped() || HasFatalFailure()) {
      return;
    }
    const Driver& driver = Driver::instance();
    if (!driver.usable()) {
      GTEST_SKIP() << "needs a CUDA device: " << driver.unusable_reason();
    }
    ASSERT_STEP(driver.make_context_current());
    capability_ = driver.compute_capability();
  }

  // Whether the path this process forces can run on device 0 (the library refuses it if not).
  bool forced_path_runs() const {
    const std::string forced = forced_path();
    if (forced == "sm90") {
      return capability_ == 90;
    }
    return capability_ >= 80; // sm80's PTX runs on every later GPU; unforced picks one of both
  }

  // gemm on device copies of the host tensors, on a non-blocking stream; "" or what failed.
  // *status and *message are the op's.
  std::string run(HostTensor* out, HostTensor* a, HostTensor* b, int* status,
                  std::string* message) {
    DeviceCopy device_out;
    DeviceCopy device_a;
    DeviceCopy device_b;
    cuda::Stream stream;
    std::string failure = device_out.create(out);
    failure = failure.empty() ? device_a.create(a) : failure;
    failure = failure.empty() ? device_b.create(b) : failure;
    failure = failure.empty() ? device_out.upload() : failure;
    failure = failure.empty() ? device_a.upload() : failure;
    failure = failure.empty() ? device_b.upload() : failure;
    failure = failure.empty() ? stream.create() : failure;
    if (!failure.empty()) {
      return failure;
    }
    *status = call(gemm_,
                   {tensor_arg(device_out.dl()), tensor_arg(device_a.dl()),
                    tensor_arg(device_b.dl()), stream_arg(stream.handle())},
                   message);
    const Driver& driver = Driver::instance();
    const cuda::CUresult synchronized = driver.api().cuStreamSynchronize(stream.handle());
    if (synchronized != cuda::CUDA_SUCCESS) {
      return driver.describe("cuStreamSynchronize", synchronized);
    }
    return device_out.download();
  }

  int capability_ = 0;
};

// out[i][j] = sum_k a[i][k] b[j][k] in float64, with the bound of its float32 accumulation:
// every product of two float16 values is exact in float32, the sum of K of them is off by at
// most about K * 2^-24 * sum |a b| in the worst case; 2^-16 * sum |a b| leaves room for the
// tensor cores' accumulation order while catching any misplaced or missing K block (an error of
// the order of the values themselves).
void expect_gemm(const HostTensor& out, const HostTensor& a, const HostTensor& b) {
  const int64_t m = a.shape()[0];
  const int64_t k = a.shape()[1];
  const int64_t n = b.shape()[0];
  int failures = 0;
  for (int64_t i = 0; i < m && failures < 5; ++i) {
    for (int64_t j = 0; j < n && failures < 5; ++j) {
      double sum = 0.0;
      double magnitude = 0.0;
      for (int64_t l = 0; l < k; ++l) {
        const double product = a.get(i * k + l) * b.get(j * k + l);
        sum += product;
        magnitude += std::fabs(product);
      }
      const double got = out.get(i * n + j);
      const double bound = std::ldexp(magnitude, -16) + 1e-30;
      if (!(std::fabs(got - sum) <= bound)) {
        ADD_FAILURE() << "out[" << i << "][" << j << "] = " << got << ", expected " << sum
                      << " (bound " << bound << ")";
        ++failures;
      }
    }
  }
}

// The guards around out still hold the host poison: nothing outside it was written.
void expect_guards_intact(const HostTensor& out) {
  for (int64_t slot = 0; slot < out.storage_elements(); ++slot) {
    if (!out.slot_is_element(slot) && out.storage_bits(slot) != out.poison_bits()) {
      ADD_FAILURE() << "storage slot " << slot << " outside out was written";
      return;
    }
  }
}

struct Shape {
  int64_t m;
  int64_t n;
  int64_t k;
};

TEST_F(CutlassGroupsGpu, GemmMatchesTheFloat64Reference) {
  const std::string forced = forced_path();
  if (!is_known_path(forced)) {
    GTEST_SKIP() << "KGET_KERNEL_CUDA_PATH=" << forced
                 << " names no path; UnknownForcedPathIsRefused covers it";
  }
  // One tile; several tiles in both directions with several K tiles (both stages of the
  // pipeline, odd and even counts); a wide, shallow one; more tiles than SMs.
  const Shape shapes[] = {{64, 64, 64}, {128, 192, 320}, {64, 512, 128}, {1024, 1024, 64}};
  Random random(20260124);
  for (const Shape& shape : shapes) {
    SCOPED_TRACE("M " + std::to_string(shape.m) + ", N " + std::to_string(shape.n) + ", K " +
                 std::to_string(shape.k) + ", path " + (forced.empty() ? "auto" : forced));
    HostTensor out(DType::kFloat32, {shape.m, shape.n});
    HostTensor a(DType::kFloat16, {shape.m, shape.k});
    HostTensor b(DType::kFloat16, {shape.n, shape.k});
    a.fill([&] { return random.normal(); });
    b.fill([&] { return random.normal(); });
    int status = -1;
    std::string message;
    ASSERT_STEP(run(&out, &a, &b, &status, &message));
    if (!forced_path_runs()) {
      EXPECT_NE(status, KGET_KERNEL_OK) << "a path that cannot run here was not refused";
      EXPECT_NE(message.find("compute capability"), std::string::npos) << message;
      GTEST_SKIP() << "the forced path cannot run on this GPU (compute capability "
                   << capability_ / 10 << "." << capability_ % 10
                   << "), and was refused: " << message;
    }
    if (status == KGET_KERNEL_ERROR_UNSUPPORTED &&
        message.find("built without") != std::string::npos) {
      GTEST_SKIP() << "this build of the library lacks the forced path: " << message;
    }
    ASSERT_EQ(status, KGET_KERNEL_OK) << message;
    expect_gemm(out, a, b);
    expect_guards_intact(out);
  }
}

TEST_F(CutlassGroupsGpu, ZeroDepthWritesZeros) {
  if (!is_known_path(forced_path()) || !forced_path_runs()) {
    GTEST_SKIP() << "the forced path does not run here";
  }
  HostTensor out(DType::kFloat32, {128, 64});
  HostTensor a(DType::kFloat16, {128, 0});
  HostTensor b(DType::kFloat16, {64, 0});
  int status = -1;
  std::string message;
  ASSERT_STEP(run(&out, &a, &b, &status, &message));
  ASSERT_EQ(status, KGET_KERNEL_OK) << message;
  for (int64_t i = 0; i < out.numel(); ++i) {
    ASSERT_EQ(out.bits(i), 0u) << "element " << i;
  }
  expect_guards_intact(out);
}

TEST_F(CutlassGroupsGpu, AGpuNoPathCoversIsRefused) {
  if (capability_ >= 80 || !forced_path().empty()) {
    GTEST_SKIP() << "every GPU of compute capability 8.0 or newer runs the sm80 path";
  }
  HostTensor out(DType::kFloat32, {64, 64});
  HostTensor a(DType::kFloat16, {64, 64});
  HostTensor b(DType::kFloat16, {64, 64});
  int status = -1;
  std::string message;
  ASSERT_STEP(run(&out, &a, &b, &status, &message));
  EXPECT_EQ(status, KGET_KERNEL_ERROR_DEVICE) << message;
  EXPECT_NE(message.find("this variant has no code for it; it runs on compute capability 8.0 "
                         "and newer (sm_80, compute_80) and 9.0 (sm_90a)"),
            std::string::npos)
      << message;
}

TEST_F(CutlassGroupsGpu, UnknownForcedPathIsRefused) {
  const std::string forced = forced_path();
  if (is_known_path(forced)) {
    GTEST_SKIP() << "run with KGET_KERNEL_CUDA_PATH set to a name that is no path (ctest "
                    "kernels.cutlass_groups.unknown_path sets sm70)";
  }
  HostTensor out(DType::kFloat32, {64, 64});
  HostTensor a(DType::kFloat16, {64, 64});
  HostTensor b(DType::kFloat16, {64, 64});
  int status = -1;
  std::string message;
  ASSERT_STEP(run(&out, &a, &b, &status, &message));
  EXPECT_EQ(status, KGET_KERNEL_ERROR_INVALID_ARGUMENT) << message;
  EXPECT_NE(message.find("KGET_KERNEL_CUDA_PATH=" + forced + ": expected auto, sm90 or sm80"),
            std::string::npos)
      << message;
}

} // namespace
} // namespace kget_kernel_tests
