// The CUDA variants of rmsnorm and activation, as `kget build` makes them (the kernels.cuda.build_*
// fixtures of CMakeLists.txt, kernels/matrix.toml with --cuda-arch 9.0), loaded through dlopen and
// kget_kernel_init as kget loads them. All four library paths are compiled in (this build tree)
// and each has an environment variable of the same name that overrides it, so that the binary
// runs from a folder staged on another machine (library_path, kernel_test_support.h):
//   KGET_RMSNORM_CUDA_LIBRARY, KGET_ACTIVATION_CUDA_LIBRARY   the CUDA variants under test
//   KGET_RMSNORM_LIBRARY, KGET_ACTIVATION_LIBRARY             the CPU variants, for comparison
//   KGET_KERNEL_TESTS_REQUIRE_GPU=1   what would skip (no CUDA variant, driver, device, or one
//                                     the variant cannot run on) fails instead: on a GPU
//                                     machine, a skip is a failure
//
// CudaVariant.* run on every host: the descriptor, device errors without a usable device, and the
// CPU path the CUDA library carries. CudaNumerics.* need a CUDA device and skip without one: every
// op against the float64 references of the CPU tests, on host tensors copied to the device (guards
// included) and back, outputs filled with 0xFF bytes before each call, on a non-blocking stream.
#include "cuda_driver.h"
#include "kernel_test_support.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <gtest/gtest.h>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <regex>
#include <sstream>
#include <thread>
#include <unistd.h>

namespace kget_kernel_tests {
namespace {

using cuda::Driver;

constexpr DType kDTypes[] = {DType::kFloat32, DType::kFloat16, DType::kBFloat16};

// ---------------------------------------------------------------------------------------------
// The libraries

struct CudaVariant {
  const KernelLibrary* library = nullptr;
  std::string problem; // why library is null
  bool not_built = false;
  std::string path;
};

// The CUDA variant of `kernel` at library_path(variable, default_path) (the default is where the
// kernels.cuda.build_* fixtures put it), loaded once per process.
CudaVariant load_cuda_variant(const char* variable, const char* default_path,
                              const std::string& kernel) {
  static std::map<std::string, std::unique_ptr<KernelLibrary>> loaded;
  const LibraryPath found = library_path(variable, default_path);
  const std::string& path = found.path;
  if (access(path.c_str(), R_OK) != 0 && found.from_environment) {
    return {nullptr, std::string(variable) + "=" + path + ": no such file", false, path};
  }
  if (access(path.c_str(), R_OK) != 0) {
    return {nullptr,
            "the CUDA variant was not built: " + path + " does not exist (ctest's " +
                "kernels.cuda.build_" + kernel + " builds it, and skips without the CUDA " +
                "toolkit; " + variable + " can name another)",
            true, path};
  }
  std::unique_ptr<KernelLibrary>& slot = loaded[path];
  if (!slot) {
    slot = std::make_unique<KernelLibrary>(path.c_str());
  }
  if (!slot->descriptor()) {
    return {nullptr, path + ": " + slot->load_error(), false, path};
  }
  return {slot.get(), "", false, path};
}

// KGET_KERNEL_TESTS_REQUIRE_GPU set to anything but "" or "0".
bool gpu_required() {
  const char* value = std::getenv("KGET_KERNEL_TESTS_REQUIRE_GPU");
  return value && *value && std::strcmp(value, "0") != 0;
}

// Skips the test with `reason`, or fails it where KGET_KERNEL_TESTS_REQUIRE_GPU asks for a GPU
// run. In SetUp, either way the test body does not run.
#define SKIP_UNLESS_GPU_REQUIRED(reason)                                                           \
  do {                                                                                             \
    if (gpu_required()) {                                                                          \
      FAIL() << (reason) << " (KGET_KERNEL_TESTS_REQUIRE_GPU is set: this run must use a GPU)";    \
    }                                                                                              \
    GTEST_SKIP() << (reason);                                                                      \
  } while (0)

// Both CUDA variants loaded; skipped where they were not built (no CUDA toolkit).
class CudaVariantTest : public ::testing::Test {
protected:
  void SetUp() override {
    const CudaVariant rmsnorm = load_cuda_variant("KGET_RMSNORM_CUDA_LIBRARY",
                                                  KGET_RMSNORM_CUDA_LIBRARY_DEFAULT, "rmsnorm");
    const CudaVariant activation = load_cuda_variant(
        "KGET_ACTIVATION_CUDA_LIBRARY", KGET_ACTIVATION_CUDA_LIBRARY_DEFAULT, "activation");
    for (const CudaVariant* variant : {&rmsnorm, &activation}) {
      if (variant->not_built) {
        SKIP_UNLESS_GPU_REQUIRED(variant->problem);
      }
      ASSERT_NE(variant->library, nullptr) << variant->problem;
    }
    rmsnorm_ = rmsnorm.library;
    activation_ = activation.library;
    paths_ = {rmsnorm.path, activation.path};
  }

  kget_op_fn rmsnorm_op(const char* name) const { return rmsnorm_->op(name); }
  kget_op_fn activation_op(const char* name) const { return activation_->op(name); }

  const KernelLibrary* rmsnorm_ = nullptr;
  const KernelLibrary* activation_ = nullptr;
  std::vector<std::string> paths_; // of both libraries
};

// ---------------------------------------------------------------------------------------------
// Checks on host tensors (after a round trip through the device)

std::vector<uint32_t> snapshot(const HostTensor& tensor) {
  std::vector<uint32_t> bits(static_cast<size_t>(tensor.numel()));
  for (int64_t i = 0; i < tensor.numel(); ++i) {
    bits[static_cast<size_t>(i)] = tensor.bits(i);
  }
  return bits;
}

// The bits of an element whose bytes are all 0xFF (a NaN in every dtype).
uint32_t all_ones_bits(const HostTensor& tensor) {
  return tensor.element_size() == 4 ? 0xffffffffu : 0xffffu;
}

// Element `index` (row-major) is close to `expected`; else a failure that shows both.
bool expect_element_close(const HostTensor& got, int64_t index, double expected,
                          Tolerance tolerance) {
  if (close(got.get(index), expected, tolerance)) {
    return true;
  }
  ADD_FAILURE() << "element " << index << ": got " << got.get(index) << " (bits 0x" << std::hex
                << got.bits(index) << std::dec << "), expected " << expected << " ("
                << dtype_label(got.dtype()) << ", rtol " << tolerance.rtol << ", atol "
                << tolerance.atol << ")";
  return false;
}

// Every element is close to `expected` (row-major); stops after a few failures.
void expect_close(const HostTensor& got, const std::vector<double>& expected, Tolerance tolerance) {
  int failures = 0;
  for (int64_t i = 0; i < got.numel() && failures < 5; ++i) {
    if (!expect_element_close(got, i, expected[static_cast<size_t>(i)], tolerance)) {
      ++failures;
    }
  }
}

// The op wrote every element (none holds `poison` any more) and nothing else: the guards around
// the tensor and the gaps between strided rows still hold `poison`.
void expect_written_exactly(const HostTensor& tensor, uint32_t poison) {
  for (int64_t i = 0; i < tensor.numel(); ++i) {
    if (tensor.bits(i) == poison) {
      ADD_FAILURE() << "element " << i << " was not written (still the poison 0x" << std::hex
                    << poison << ")";
      return;
    }
  }
  for (int64_t slot = 0; slot < tensor.storage_elements(); ++slot) {
    if (!tensor.slot_is_element(slot) && tensor.storage_bits(slot) != poison) {
      ADD_FAILURE() << "storage slot " << slot << " outside the tensor was written";
      return;
    }
  }
}

// A read-only tensor came back as it went: elements and the host poison around them.
void expect_unchanged(const HostTensor& tensor, const std::vector<uint32_t>& before) {
  EXPECT_EQ(snapshot(tensor), before) << "a read-only tensor was modified";
  expect_written_exactly(tensor, tensor.poison_bits()); // elements are no poison: they are data
}

// ---------------------------------------------------------------------------------------------
// Device tensors and calls

// A HostTensor's storage (guards included) in device memory, `misalign` elements past the start
// of the allocation (which is 256-byte aligned), with a kDLCUDA DLTensor of the same shape,
// strides and byte_offset. A misalign that is not a multiple of 16 bytes takes the kernels off
// their 16-byte vector path.
class DeviceTensor {
public:
  std::string create(HostTensor* host, int64_t misalign = 0) {
    host_ = host;
    offset_ = static_cast<size_t>(misalign * host->element_size());
    const std::string failure =
        buffer_.allocate(offset_ + static_cast<size_t>(host->storage_bytes()));
    dl_ = *host->dl();
    dl_.data = reinterpret_cast<void*>(static_cast<uintptr_t>(buffer_.address() + offset_));
    dl_.device.device_type = kDLCUDA;
    dl_.device.device_id = 0;
    return failure;
  }

  DLTensor* dl() { return &dl_; }
  // The host storage as it is (data and poisoned guards) to the device.
  std::string upload() const {
    return buffer_.upload(offset_, host_->storage_data(),
                          static_cast<size_t>(host_->storage_bytes()));
  }
  // Every byte of the device storage 0xFF: elements and guards hold all_ones_bits().
  std::string fill_with_ones() const { return buffer_.fill(0xff); }
  // The device storage back into the host tensor.
  std::string download() const {
    return buffer_.download(host_->storage_data(), offset_,
                            static_cast<size_t>(host_->storage_bytes()));
  }

private:
  HostTensor* host_ = nullptr;
  size_t offset_ = 0;
  cuda::DeviceBuffer buffer_;
  DLTensor dl_{};
};

// Waits for everything on the device: uploads and fills (cuMemsetD8 is asynchronous) before an
// op on a non-blocking stream, the op's work after it. Faults of a kernel surface here.
std::string synchronize_device() {
  const Driver& driver = Driver::instance();
  const cuda::CUresult result = driver.api().cuCtxSynchronize();
  return result == cuda::CUDA_SUCCESS ? "" : driver.describe("cuCtxSynchronize", result);
}

std::string synchronize_stream(cuda::CUstream stream) {
  const Driver& driver = Driver::instance();
  const cuda::CUresult result = driver.api().cuStreamSynchronize(stream);
  return result == cuda::CUDA_SUCCESS ? "" : driver.describe("cuStreamSynchronize", result);
}

// Calls `op`; "" when it returned KGET_KERNEL_OK, else the status and message.
std::string call_ok(kget_op_fn op, const std::vector<kget_arg>& args) {
  if (!op) {
    return "the op is missing from the descriptor";
  }
  std::string message;
  const int status = call(op, args, &message);
  return status == KGET_KERNEL_OK ? "" : "status " + std::to_string(status) + ": " + message;
}

// Holds a stream at a host function until open(), so that a test sees that what an op enqueued
// there has not run yet. The wait gives up after a minute, so that an op that synchronises its
// stream inside the call cannot hang the test (timed_out() then says so).
class StreamGate {
public:
  ~StreamGate() {
    open();
    if (stream_) {
      synchronize_stream(stream_);
    }
  }

  std::string close(cuda::CUstream stream) {
    stream_ = stream;
    const Driver& driver = Driver::instance();
    const cuda::CUresult result = driver.api().cuLaunchHostFunc(stream, &StreamGate::hold, this);
    return result == cuda::CUDA_SUCCESS ? "" : driver.describe("cuLaunchHostFunc", result);
  }

  void open() {
    const std::lock_guard<std::mutex> lock(mutex_);
    open_ = true;
    opened_.notify_all();
  }

  bool timed_out() {
    const std::lock_guard<std::mutex> lock(mutex_);
    return timed_out_;
  }

private:
  static void hold(void* self) {
    StreamGate& gate = *static_cast<StreamGate*>(self);
    std::unique_lock<std::mutex> lock(gate.mutex_);
    gate.timed_out_ =
        !gate.opened_.wait_for(lock, std::chrono::seconds(60), [&gate] { return gate.open_; });
  }

  cuda::CUstream stream_ = nullptr;
  std::mutex mutex_;
  std::condition_variable opened_;
  bool open_ = false;
  bool timed_out_ = false;
};

// ---------------------------------------------------------------------------------------------
// On every host: the descriptor, device errors, the CPU path

TEST_F(CudaVariantTest, DescriptorMatchesTheCpuVariant) {
  const std::pair<const KernelLibrary*, const KernelLibrary*> pairs[] = {
      {rmsnorm_, &rmsnorm_library()}, {activation_, &activation_library()}};
  for (const auto& [cuda_variant, cpu_variant] : pairs) {
    ASSERT_NE(cpu_variant->descriptor(), nullptr)
        << cpu_variant->load_error()
        << " (the CPU variant; KGET_RMSNORM_LIBRARY / KGET_ACTIVATION_LIBRARY name another)";
    const kget_kernel_descriptor& got = *cuda_variant->descriptor();
    const kget_kernel_descriptor& expected = *cpu_variant->descriptor();
    EXPECT_STREQ(got.name, expected.name);
    EXPECT_STREQ(got.version, expected.version);
    ASSERT_EQ(got.num_ops, expected.num_ops) << got.name;
    for (size_t i = 0; i < got.num_ops; ++i) {
      EXPECT_STREQ(got.ops[i].name, expected.ops[i].name);
      EXPECT_STREQ(got.ops[i].schema, expected.ops[i].schema);
    }
  }
}

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// Every op of both kernels on kDLCUDA tensors of `device_id` at a non-NULL address that is no
// device memory: the op must fail with KGET_KERNEL_ERROR_DEVICE before touching it, and say why.
// Returns the messages, for the caller's checks on their wording.
std::vector<std::string> call_every_op_on_device(const KernelLibrary& rmsnorm,
                                                 const KernelLibrary& activation,
                                                 int32_t device_id) {
  int64_t shape[] = {4, 64};
  int64_t weight_shape[] = {64};
  int64_t half_shape[] = {4, 32};
  DLTensor tensor{};
  tensor.data = reinterpret_cast<void*>(uintptr_t{0x7f0000100000});
  tensor.device = {kDLCUDA, device_id};
  tensor.ndim = 2;
  tensor.dtype = {kDLFloat, 32, 1};
  tensor.shape = shape;
  DLTensor other = tensor; // a disjoint address: out and input must not overlap partially
  other.data = reinterpret_cast<void*>(uintptr_t{0x7f0000200000});
  DLTensor weight = tensor;
  weight.data = reinterpret_cast<void*>(uintptr_t{0x7f0000300000});
  weight.ndim = 1;
  weight.shape = weight_shape;
  DLTensor half = other;
  half.shape = half_shape;

  std::vector<std::string> messages;
  auto expect_device_error = [&messages](const kget_kernel_descriptor& descriptor, size_t op,
                                         const std::vector<kget_arg>& args) {
    std::string message;
    const int status = call(descriptor.ops[op].call, args, &message);
    EXPECT_EQ(status, KGET_KERNEL_ERROR_DEVICE)
        << descriptor.ops[op].name << " on CUDA device: " << message;
    messages.push_back(std::string(descriptor.ops[op].name) + ": " + message);
  };
  const kget_kernel_descriptor& norms = *rmsnorm.descriptor();
  for (size_t op = 0; op < norms.num_ops; ++op) {
    expect_device_error(norms, op,
                        {tensor_arg(&tensor), tensor_arg(&other), tensor_arg(&weight),
                         float_arg(1e-6), stream_arg()});
  }
  const kget_kernel_descriptor& activations = *activation.descriptor();
  for (size_t op = 0; op < activations.num_ops; ++op) {
    const bool gated = std::strstr(activations.ops[op].name, "_and_mul") != nullptr;
    expect_device_error(activations, op,
                        {tensor_arg(gated ? &half : &other), tensor_arg(&tensor), stream_arg()});
  }
  return messages;
}

TEST_F(CudaVariantTest, MissingDeviceIsADeviceErrorThatSaysWhy) {
  const Driver& driver = Driver::instance();
  const std::vector<std::string> messages = call_every_op_on_device(*rmsnorm_, *activation_, 99);
  for (const std::string& message : messages) {
    std::printf("device 99: %s\n", message.c_str());
    const std::string text = lowercase(message);
    if (!driver.library_loaded()) {
      EXPECT_NE(text.find("driver"), std::string::npos)
          << "without libcuda.so.1 the message should name the missing driver: " << message;
    } else if (driver.usable()) {
      EXPECT_TRUE(text.find("99") != std::string::npos || text.find("ordinal") != std::string::npos)
          << "the message should name the invalid device ordinal: " << message;
    }
    EXPECT_NE(text.find("cuda"), std::string::npos) << message;
  }
  if (!driver.usable()) {
    // Device 0 does not exist either.
    for (const std::string& message : call_every_op_on_device(*rmsnorm_, *activation_, 0)) {
      EXPECT_NE(lowercase(message).find("cuda"), std::string::npos) << message;
    }
  }
}

// The op's results on `library` for host tensors, bit for bit.
struct HostRun {
  std::vector<uint32_t> first;  // out (or input for fused_add_rms_norm)
  std::vector<uint32_t> second; // residual for fused_add_rms_norm
  std::string failure;
};

HostRun run_rms_on_host(const KernelLibrary& library, const char* op, DType dtype,
                        const std::vector<int64_t>& shape, uint64_t seed) {
  Random random(seed);
  HostTensor input(dtype, shape);
  HostTensor second(dtype, shape); // out, or residual
  HostTensor weight(dtype, {shape.back()});
  input.fill([&] { return random.normal(2.0); });
  second.fill([&] { return random.normal(2.0); });
  weight.fill([&] { return 1.0 + random.normal(0.3); });
  const bool fused = std::strcmp(op, "fused_add_rms_norm") == 0;
  std::vector<kget_arg> args = {fused ? tensor_arg(input.dl()) : tensor_arg(second.dl()),
                                fused ? tensor_arg(second.dl()) : tensor_arg(input.dl()),
                                tensor_arg(weight.dl()), float_arg(1e-6), stream_arg()};
  HostRun run;
  run.failure = call_ok(library.op(op), args);
  run.first = snapshot(fused ? input : second);
  run.second = fused ? snapshot(second) : std::vector<uint32_t>{};
  return run;
}

HostRun run_activation_on_host(const KernelLibrary& library, const char* op, DType dtype,
                               std::vector<int64_t> shape, uint64_t seed) {
  Random random(seed);
  HostTensor input(dtype, shape);
  if (std::strstr(op, "_and_mul")) {
    shape.back() /= 2;
  }
  HostTensor out(dtype, shape);
  input.fill([&] { return random.normal(3.0); });
  HostRun run;
  run.failure =
      call_ok(library.op(op), {tensor_arg(out.dl()), tensor_arg(input.dl()), stream_arg()});
  run.first = snapshot(out);
  return run;
}

// The CUDA library carries the CPU backend too (the same sources): with kDLCPU tensors it must
// give what the CPU variant gives, bit for bit.
TEST_F(CudaVariantTest, CpuPathGivesTheCpuVariantsResults) {
  // Even last dimensions, for the gated ops; d = 17 is no multiple of a vector.
  const std::vector<std::vector<int64_t>> shapes = {{3, 34}, {64, 4096}, {2, 3, 1030}};
  uint64_t seed = 1;
  for (const DType dtype : kDTypes) {
    for (const auto& shape : shapes) {
      for (const char* op : {"rms_norm", "fused_add_rms_norm"}) {
        SCOPED_TRACE(std::string(op) + " " + dtype_label(dtype) + " " + extents_text(shape));
        const HostRun expected = run_rms_on_host(rmsnorm_library(), op, dtype, shape, seed);
        const HostRun got = run_rms_on_host(*rmsnorm_, op, dtype, shape, seed++);
        ASSERT_EQ(expected.failure, "");
        ASSERT_EQ(got.failure, "");
        EXPECT_TRUE(got.first == expected.first && got.second == expected.second);
      }
      for (size_t i = 0; i < activation_->descriptor()->num_ops; ++i) {
        const char* op = activation_->descriptor()->ops[i].name;
        SCOPED_TRACE(std::string(op) + " " + dtype_label(dtype) + " " + extents_text(shape));
        const HostRun expected =
            run_activation_on_host(activation_library(), op, dtype, shape, seed);
        const HostRun got = run_activation_on_host(*activation_, op, dtype, shape, seed++);
        ASSERT_EQ(expected.failure, "");
        ASSERT_EQ(got.failure, "");
        EXPECT_TRUE(got.first == expected.first);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// On a CUDA device

// What a variant needs of the driver and the GPU, from the metadata.json beside its library
// (`kget build` writes it from the fatbin), or <name>.metadata.json for lib<name>.so where
// variants of several kernels share a folder: "" when device 0 can run it, else why not.
std::string why_device_cannot_run(const std::string& library_path, const Driver& driver) {
  const size_t slash = library_path.find_last_of('/') + 1;
  const std::string folder = library_path.substr(0, slash);
  std::string metadata_path = folder + "metadata.json";
  const std::string file_name = library_path.substr(slash);
  if (access(metadata_path.c_str(), R_OK) != 0 && file_name.rfind("lib", 0) == 0 &&
      file_name.size() > 6 && file_name.compare(file_name.size() - 3, 3, ".so") == 0) {
    metadata_path = folder + file_name.substr(3, file_name.size() - 6) + ".metadata.json";
  }
  std::ifstream file(metadata_path);
  std::stringstream text;
  text << file.rdbuf();
  const std::string metadata = text.str();
  std::smatch match;
  if (!std::regex_search(metadata, match, std::regex(R"re("min_driver"\s*:\s*"(\d+)\.(\d+)")re"))) {
    return ""; // no metadata to go by: let the calls tell
  }
  const int min_driver = 1000 * std::stoi(match[1]) + 10 * std::stoi(match[2]);
  if (driver.version() < min_driver) {
    return "the CUDA driver supports CUDA " + std::to_string(driver.version() / 1000) + "." +
           std::to_string(driver.version() % 1000 / 10) + ", " + library_path + " needs at least " +
           match[1].str() + "." + match[2].str() + " (" + metadata_path + ", min_driver)";
  }
  // SASS sm_XY runs on X.Z for Z >= Y; PTX compute_XY on any capability >= XY.
  const int capability = driver.compute_capability();
  const std::regex target(R"re("(sm|compute)_(\d+)[af]?")re");
  for (auto it = std::sregex_iterator(metadata.begin(), metadata.end(), target);
       it != std::sregex_iterator(); ++it) {
    const int built = std::stoi((*it)[2]);
    const bool sass = (*it)[1] == "sm";
    if (sass ? built / 10 == capability / 10 && built <= capability : built <= capability) {
      return "";
    }
  }
  return "device 0 has compute capability " + std::to_string(capability / 10) + "." +
         std::to_string(capability % 10) + ", for which " + library_path +
         " has neither SASS nor older PTX (the test fixtures build sm_90 only: --cuda-arch 9.0)";
}

// The CUDA variants on device 0, each call on a non-blocking stream of the test's.
class CudaNumerics : public CudaVariantTest {
protected:
  void SetUp() override {
    CudaVariantTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) {
      return;
    }
    const Driver& driver = Driver::instance();
    if (!driver.usable()) {
      SKIP_UNLESS_GPU_REQUIRED(driver.unusable_reason());
    }
    for (const std::string& path : paths_) {
      const std::string reason = why_device_cannot_run(path, driver);
      if (!reason.empty()) {
        SKIP_UNLESS_GPU_REQUIRED(reason);
      }
    }
    ASSERT_STEP(driver.make_context_current());
    ASSERT_STEP(stream_.create());
  }

  void* stream() const { return static_cast<void*>(stream_.handle()); }

  // Uploads and fills done, then `args` run on the test's stream, then the device is idle.
  std::string run(kget_op_fn op, const std::vector<kget_arg>& args) const {
    std::string failure = synchronize_device();
    if (failure.empty()) {
      failure = call_ok(op, args);
    }
    if (failure.empty()) {
      failure = synchronize_stream(stream_.handle());
    }
    return failure.empty() ? synchronize_device() : failure;
  }

  cuda::Stream stream_;
};

// A row op's tensors: shape, then for the first and second row tensor (rms_norm: input and out;
// fused_add_rms_norm: input and residual) strides (empty: contiguous) and misalignment in
// elements, and the weight's misalignment.
struct RowCase {
  std::vector<int64_t> shape;
  std::vector<int64_t> first_strides = {};
  std::vector<int64_t> second_strides = {};
  int64_t first_misalign = 0;
  int64_t second_misalign = 0;
  int64_t weight_misalign = 0;
};

std::string describe(DType dtype, const RowCase& c) {
  return std::string(dtype_label(dtype)) + " shape " + extents_text(c.shape) + " strides " +
         extents_text(c.first_strides) + " / " + extents_text(c.second_strides) + " misaligned " +
         std::to_string(c.first_misalign) + " / " + std::to_string(c.second_misalign) + " / " +
         std::to_string(c.weight_misalign) + " elements";
}

RowCase contiguous_rows(std::vector<int64_t> shape) {
  RowCase c;
  c.shape = std::move(shape);
  return c;
}

RowCase strided_rows(std::vector<int64_t> shape, std::vector<int64_t> first_strides,
                     std::vector<int64_t> second_strides) {
  RowCase c;
  c.shape = std::move(shape);
  c.first_strides = std::move(first_strides);
  c.second_strides = std::move(second_strides);
  return c;
}

RowCase misaligned_rows(std::vector<int64_t> shape, int64_t first, int64_t second, int64_t weight) {
  RowCase c;
  c.shape = std::move(shape);
  c.first_misalign = first;
  c.second_misalign = second;
  c.weight_misalign = weight;
  return c;
}

const std::vector<int64_t> kHiddenSizes = {
    1,    2,    3,    7,    8,    15,    16,        17,    31,    32,       33,
    63,   64,   65,   127,  255,  257,   1000,      1023,  1024,  2048,     4095,
    4096, 4097, 8191, 8192, 8193, 12289, 16384 + 3, 32768, 65536, 65536 + 5};

// Tensors too large for the checks below: 2^28 elements take 2 GB as a float64 reference and
// 1 GB as a snapshot. Their values are a function of (seed, index), so that a check computes a
// row's inputs again instead of keeping a copy, and takes the float64 reference a row at a time.

// A pseudo-random value in [-scale, scale) for element `index` (a splitmix64 hash).
double value_at(uint64_t seed, int64_t index, double scale) {
  uint64_t z = seed * 0x9e3779b97f4a7c15u + static_cast<uint64_t>(index);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  z ^= z >> 31;
  return scale * (static_cast<double>(z >> 11) * 0x1p-52 - 1.0);
}

// Element i of `tensor` (row-major) is value_at(seed, first + i, scale), rounded to the dtype.
void fill_with_values(HostTensor* tensor, uint64_t seed, int64_t first, double scale) {
  int64_t index = first;
  tensor->fill([&] { return value_at(seed, index++, scale); });
}

// Element `index` of `got` has the bits of element `expected_index` of `expected`; else a
// failure that says `what`.
bool expect_same_bits(const HostTensor& got, int64_t index, const HostTensor& expected,
                      int64_t expected_index, const char* what) {
  if (got.bits(index) == expected.bits(expected_index)) {
    return true;
  }
  ADD_FAILURE() << what << ": element " << index << " has bits 0x" << std::hex << got.bits(index)
                << ", expected 0x" << expected.bits(expected_index) << std::dec;
  return false;
}

class CudaRmsNorm : public CudaNumerics {
protected:
  // rms_norm(out, input, weight) on the device, out filled with 0xFF bytes first; out and input
  // come back into the host tensors.
  void rms_norm_on_device(const RowCase& c, double eps, HostTensor* input, HostTensor* out,
                          HostTensor* weight) {
    DeviceTensor device_input;
    DeviceTensor device_out;
    DeviceTensor device_weight;
    ASSERT_STEP(device_input.create(input, c.first_misalign));
    ASSERT_STEP(device_out.create(out, c.second_misalign));
    ASSERT_STEP(device_weight.create(weight, c.weight_misalign));
    ASSERT_STEP(device_input.upload());
    ASSERT_STEP(device_weight.upload());
    ASSERT_STEP(device_out.fill_with_ones());
    ASSERT_STEP(run(rmsnorm_op("rms_norm"),
                    {tensor_arg(device_out.dl()), tensor_arg(device_input.dl()),
                     tensor_arg(device_weight.dl()), float_arg(eps), stream_arg(stream())}));
    ASSERT_STEP(device_out.download());
    ASSERT_STEP(device_input.download());
  }

  // fused_add_rms_norm(input, residual, weight) on the device; input and residual come back.
  void fused_add_on_device(const RowCase& c, double eps, HostTensor* input, HostTensor* residual,
                           HostTensor* weight) {
    DeviceTensor device_input;
    DeviceTensor device_residual;
    DeviceTensor device_weight;
    ASSERT_STEP(device_input.create(input, c.first_misalign));
    ASSERT_STEP(device_residual.create(residual, c.second_misalign));
    ASSERT_STEP(device_weight.create(weight, c.weight_misalign));
    ASSERT_STEP(device_input.upload());
    ASSERT_STEP(device_residual.upload());
    ASSERT_STEP(device_weight.upload());
    ASSERT_STEP(run(rmsnorm_op("fused_add_rms_norm"),
                    {tensor_arg(device_input.dl()), tensor_arg(device_residual.dl()),
                     tensor_arg(device_weight.dl()), float_arg(eps), stream_arg(stream())}));
    ASSERT_STEP(device_input.download());
    ASSERT_STEP(device_residual.download());
  }

  void check_rms_norm(DType dtype, const RowCase& c, double eps, uint64_t seed) {
    SCOPED_TRACE("rms_norm " + describe(dtype, c));
    Random random(seed);
    HostTensor input(dtype, c.shape, c.first_strides);
    HostTensor out(dtype, c.shape, c.second_strides);
    HostTensor weight(dtype, {c.shape.back()});
    const double scale = random.uniform(0.1, 10.0);
    input.fill([&] { return random.normal(scale); });
    weight.fill([&] { return 1.0 + random.normal(0.3); });
    const std::vector<uint32_t> input_before = snapshot(input);
    ASSERT_NO_FATAL_FAILURE(rms_norm_on_device(c, eps, &input, &out, &weight));
    expect_close(out, reference_rms_norm(input, weight, eps), dtype_tolerance(dtype));
    expect_written_exactly(out, all_ones_bits(out));
    expect_unchanged(input, input_before);
  }

  void check_fused_add(DType dtype, const RowCase& c, double eps, uint64_t seed) {
    SCOPED_TRACE("fused_add_rms_norm " + describe(dtype, c));
    Random random(seed);
    HostTensor input(dtype, c.shape, c.first_strides);
    HostTensor residual(dtype, c.shape, c.second_strides);
    HostTensor weight(dtype, {c.shape.back()});
    input.fill([&] { return random.normal(1.0); });
    residual.fill([&] { return random.normal(3.0); });
    weight.fill([&] { return 1.0 + random.normal(0.3); });
    // residual' = round(input + residual), exact in float32 (docs/kernels.md, "Arithmetic").
    HostTensor expected_residual(dtype, c.shape);
    for (int64_t i = 0; i < input.numel(); ++i) {
      expected_residual.set(i, round_to(dtype, input.get(i) + residual.get(i)));
    }
    const std::vector<double> expected_input = reference_rms_norm(expected_residual, weight, eps);
    ASSERT_NO_FATAL_FAILURE(fused_add_on_device(c, eps, &input, &residual, &weight));
    EXPECT_EQ(snapshot(residual), snapshot(expected_residual))
        << "residual is not input + residual";
    expect_close(input, expected_input, dtype_tolerance(dtype));
    // Both are written in place: their guards and row gaps keep the host poison.
    expect_written_exactly(input, input.poison_bits());
    expect_written_exactly(residual, residual.poison_bits());
  }

  // check_rms_norm on a contiguous [rows, hidden] too large for it: inputs from value_at, the
  // reference and the comparisons a row at a time (host memory: the two tensors).
  void check_rms_norm_row_by_row(DType dtype, const std::vector<int64_t>& shape, double eps,
                                 uint64_t seed) {
    const RowCase c = contiguous_rows(shape);
    SCOPED_TRACE("rms_norm, checked row by row, " + describe(dtype, c));
    const int64_t rows = shape[0];
    const int64_t hidden = shape[1];
    Random random(seed);
    HostTensor input(dtype, shape);
    HostTensor out(dtype, shape);
    HostTensor weight(dtype, {hidden});
    fill_with_values(&input, seed, 0, 2.0);
    weight.fill([&] { return 1.0 + random.normal(0.3); });
    ASSERT_NO_FATAL_FAILURE(rms_norm_on_device(c, eps, &input, &out, &weight));
    HostTensor row_input(dtype, {hidden});
    int failures = 0;
    for (int64_t row = 0; row < rows && failures < 5; ++row) {
      fill_with_values(&row_input, seed, row * hidden, 2.0);
      const std::vector<double> expected = reference_rms_norm(row_input, weight, eps);
      for (int64_t j = 0; j < hidden; ++j) {
        const int64_t index = row * hidden + j;
        if (!expect_same_bits(input, index, row_input, j, "a read-only tensor was modified") ||
            !expect_element_close(out, index, expected[static_cast<size_t>(j)],
                                  dtype_tolerance(dtype))) {
          ++failures;
          break; // on to the next row
        }
      }
    }
    expect_written_exactly(out, all_ones_bits(out));
    expect_written_exactly(input, input.poison_bits()); // its guards
  }

  // check_fused_add on a contiguous [rows, hidden] too large for it, as above.
  void check_fused_add_row_by_row(DType dtype, const std::vector<int64_t>& shape, double eps,
                                  uint64_t seed) {
    const RowCase c = contiguous_rows(shape);
    SCOPED_TRACE("fused_add_rms_norm, checked row by row, " + describe(dtype, c));
    const int64_t rows = shape[0];
    const int64_t hidden = shape[1];
    const uint64_t residual_seed = seed + 1;
    Random random(seed);
    HostTensor input(dtype, shape);
    HostTensor residual(dtype, shape);
    HostTensor weight(dtype, {hidden});
    fill_with_values(&input, seed, 0, 1.0);
    fill_with_values(&residual, residual_seed, 0, 3.0);
    weight.fill([&] { return 1.0 + random.normal(0.3); });
    ASSERT_NO_FATAL_FAILURE(fused_add_on_device(c, eps, &input, &residual, &weight));
    HostTensor row_sum(dtype, {hidden}); // the row's input, then round(input + residual)
    HostTensor row_residual(dtype, {hidden});
    int failures = 0;
    for (int64_t row = 0; row < rows && failures < 5; ++row) {
      fill_with_values(&row_sum, seed, row * hidden, 1.0);
      fill_with_values(&row_residual, residual_seed, row * hidden, 3.0);
      for (int64_t j = 0; j < hidden; ++j) {
        row_sum.set(j, round_to(dtype, row_sum.get(j) + row_residual.get(j)));
      }
      const std::vector<double> expected = reference_rms_norm(row_sum, weight, eps);
      for (int64_t j = 0; j < hidden; ++j) {
        const int64_t index = row * hidden + j;
        if (!expect_same_bits(residual, index, row_sum, j, "residual is not input + residual") ||
            !expect_element_close(input, index, expected[static_cast<size_t>(j)],
                                  dtype_tolerance(dtype))) {
          ++failures;
          break;
        }
      }
    }
    expect_written_exactly(input, input.poison_bits());
    expect_written_exactly(residual, residual.poison_bits());
  }

  // rms_norm with out = input: 9 rows of `hidden` at a row pitch of `pitch` elements (hidden:
  // contiguous), `misalign` elements past a 16-byte boundary.
  void check_rms_norm_in_place(DType dtype, int64_t hidden, int64_t pitch, int64_t misalign,
                               uint64_t seed) {
    SCOPED_TRACE(std::string("rms_norm in place, ") + dtype_label(dtype) + " hidden " +
                 std::to_string(hidden) + " pitch " + std::to_string(pitch) + " misaligned " +
                 std::to_string(misalign));
    Random random(seed);
    HostTensor x(dtype, {9, hidden},
                 pitch == hidden ? std::vector<int64_t>{} : std::vector<int64_t>{pitch, 1});
    HostTensor weight(dtype, {hidden});
    x.fill([&] { return random.normal(2.0); });
    weight.fill([&] { return random.normal(1.0); });
    const std::vector<double> expected = reference_rms_norm(x, weight, 1e-6);
    DeviceTensor device_x;
    DeviceTensor device_weight;
    ASSERT_STEP(device_x.create(&x, misalign));
    ASSERT_STEP(device_weight.create(&weight));
    ASSERT_STEP(device_x.upload());
    ASSERT_STEP(device_weight.upload());
    ASSERT_STEP(run(rmsnorm_op("rms_norm"),
                    {tensor_arg(device_x.dl()), tensor_arg(device_x.dl()),
                     tensor_arg(device_weight.dl()), float_arg(1e-6), stream_arg(stream())}));
    ASSERT_STEP(device_x.download());
    expect_close(x, expected, dtype_tolerance(dtype));
    expect_written_exactly(x, x.poison_bits());
  }
};

TEST_F(CudaRmsNorm, RowsOfEverySize) {
  uint64_t seed = 1;
  for (const DType dtype : kDTypes) {
    for (const int64_t hidden : kHiddenSizes) {
      check_rms_norm(dtype, contiguous_rows({3, hidden}), 1e-6, seed++);
    }
  }
}

TEST_F(CudaRmsNorm, LeadingDimensionsAndManyRows) {
  uint64_t seed = 100;
  for (const DType dtype : kDTypes) {
    check_rms_norm(dtype, contiguous_rows({64}), 1e-5, seed++);            // one row, 1-D
    check_rms_norm(dtype, contiguous_rows({1, 1}), 1e-5, seed++);          // one element
    check_rms_norm(dtype, contiguous_rows({2, 3, 65}), 1e-5, seed++);      // 3-D
    check_rms_norm(dtype, contiguous_rows({2, 1, 3, 1, 33}), 0.5, seed++); // extents of 1
    check_rms_norm(dtype, contiguous_rows({1000, 17}), 1e-6, seed++);      // many short rows
    check_rms_norm(dtype, contiguous_rows({70000, 8}), 1e-6, seed++);      // rows > 65535
    check_rms_norm(dtype, contiguous_rows({512, 8192}), 1e-6, seed++);     // 4M elements
    check_rms_norm(dtype, contiguous_rows({0, 64}), 1e-6, seed++);         // no rows
  }
}

TEST_F(CudaRmsNorm, RowStrides) {
  uint64_t seed = 200;
  for (const DType dtype : kDTypes) {
    check_rms_norm(dtype, strided_rows({5, 33}, {40, 1}, {}), 1e-6, seed++);
    check_rms_norm(dtype, strided_rows({300, 1031}, {1100, 1}, {1031 + 7, 1}), 1e-6, seed++);
    // A pitch of 4097: every row after the first starts off the 16-byte grid.
    check_rms_norm(dtype, strided_rows({33, 4096}, {4097, 1}, {4097, 1}), 1e-6, seed++);
    // A pitch of 4104 (a multiple of 8 elements): every row on the grid.
    check_rms_norm(dtype, strided_rows({33, 4096}, {4104, 1}, {}), 1e-6, seed++);
    // Leading dimensions that cannot be merged (a transposed batch).
    check_rms_norm(dtype, strided_rows({3, 4, 65}, {65, 3 * 65 + 5, 1}, {4 * 70, 70, 1}), 1e-6,
                   seed++);
    // Broadcast input rows (stride 0) into distinct out rows.
    check_rms_norm(dtype, strided_rows({4, 100}, {0, 1}, {}), 1e-6, seed++);
    // Leading dimensions that cannot be merged (64 != 4 * 200) on the 16-byte path: strides of
    // 64 and 200 elements are multiples of 16 bytes in every dtype, and the 12 rows of 64 at
    // offsets i * 64 + j * 200 do not overlap. Row offsets take row_offsets' general case.
    check_rms_norm(dtype, strided_rows({3, 4, 64}, {64, 200, 1}, {}), 1e-6, seed++);
    check_rms_norm(dtype, strided_rows({3, 4, 64}, {}, {64, 200, 1}), 1e-6, seed++);
  }
}

TEST_F(CudaRmsNorm, MisalignedPointersTakeTheScalarPath) {
  uint64_t seed = 300;
  for (const DType dtype : kDTypes) {
    for (const int64_t hidden : {8, 64, 4096, 4099}) {
      check_rms_norm(dtype, misaligned_rows({5, hidden}, 1, 0, 0), 1e-6, seed++);
      check_rms_norm(dtype, misaligned_rows({5, hidden}, 0, 1, 0), 1e-6, seed++);
      check_rms_norm(dtype, misaligned_rows({5, hidden}, 0, 0, 3), 1e-6, seed++);
      check_rms_norm(dtype, misaligned_rows({5, hidden}, 2, 3, 1), 1e-6, seed++);
    }
  }
}

TEST_F(CudaRmsNorm, InPlace) {
  uint64_t seed = 400;
  for (const DType dtype : kDTypes) {
    for (const int64_t hidden : {17, 4096, 16384 + 3}) {
      for (const int64_t misalign : {0, 1}) {
        check_rms_norm_in_place(dtype, hidden, hidden + 3, misalign, seed++);
      }
    }
  }
}

// In place on the 16-byte path: a pitch of hidden (contiguous) or hidden + 8 elements keeps every
// row on the 16-byte grid in every dtype. hidden 4096 and 16384 take the block-per-row path with
// rows cached in registers (P = 1024 or 4096 float32 packs, 512 or 2048 half packs); 65536 the
// two-pass streaming path (P = 16384 or 8192), whose second pass re-reads what it overwrites.
TEST_F(CudaRmsNorm, InPlaceOnTheVectorPath) {
  uint64_t seed = 1300;
  for (const DType dtype : kDTypes) {
    for (const int64_t hidden : {4096, 16384, 65536}) {
      for (const int64_t pitch : {hidden, hidden + 8}) {
        check_rms_norm_in_place(dtype, hidden, pitch, 0, seed++);
        // fused_add_rms_norm is always in place, on both of its row tensors.
        check_fused_add(dtype, strided_rows({9, hidden}, {pitch, 1}, {pitch, 1}), 1e-6, seed++);
      }
    }
  }
}

TEST_F(CudaRmsNorm, ZeroRowGivesZero) {
  for (const DType dtype : kDTypes) {
    for (const int64_t hidden : {40, 4096}) {
      HostTensor input(dtype, {2, hidden});
      HostTensor out(dtype, {2, hidden});
      HostTensor weight(dtype, {hidden});
      input.fill([] { return 0.0; });
      weight.fill([] { return 1.0; });
      DeviceTensor device_input;
      DeviceTensor device_out;
      DeviceTensor device_weight;
      ASSERT_STEP(device_input.create(&input));
      ASSERT_STEP(device_out.create(&out));
      ASSERT_STEP(device_weight.create(&weight));
      ASSERT_STEP(device_input.upload());
      ASSERT_STEP(device_weight.upload());
      ASSERT_STEP(device_out.fill_with_ones());
      ASSERT_STEP(run(rmsnorm_op("rms_norm"),
                      {tensor_arg(device_out.dl()), tensor_arg(device_input.dl()),
                       tensor_arg(device_weight.dl()), float_arg(1e-6), stream_arg(stream())}));
      ASSERT_STEP(device_out.download());
      for (int64_t i = 0; i < out.numel(); ++i) {
        ASSERT_EQ(out.get(i), 0.0) << dtype_label(dtype) << " element " << i;
      }
    }
  }
}

TEST_F(CudaRmsNorm, FusedAddRowsOfEverySize) {
  uint64_t seed = 500;
  for (const DType dtype : kDTypes) {
    for (const int64_t hidden : kHiddenSizes) {
      check_fused_add(dtype, contiguous_rows({2, hidden}), 1e-6, seed++);
    }
  }
}

TEST_F(CudaRmsNorm, FusedAddLayouts) {
  uint64_t seed = 600;
  for (const DType dtype : kDTypes) {
    check_fused_add(dtype, contiguous_rows({100}), 1e-5, seed++);
    check_fused_add(dtype, contiguous_rows({2, 3, 257}), 1e-5, seed++);
    check_fused_add(dtype, contiguous_rows({70000, 8}), 1e-6, seed++);
    check_fused_add(dtype, contiguous_rows({256, 8192}), 1e-6, seed++);
    check_fused_add(dtype, contiguous_rows({0, 64}), 1e-6, seed++);
    check_fused_add(dtype, strided_rows({7, 33}, {50, 1}, {}), 1e-6, seed++);
    check_fused_add(dtype, strided_rows({40, 2050}, {2060, 1}, {2051, 1}), 1e-6, seed++);
    check_fused_add(dtype, strided_rows({33, 4096}, {4097, 1}, {4101, 1}), 1e-6, seed++);
    check_fused_add(dtype, strided_rows({3, 4, 65}, {65, 3 * 65 + 5, 1}, {}), 1e-6, seed++);
    for (const int64_t hidden : {64, 4096, 4099}) {
      check_fused_add(dtype, misaligned_rows({5, hidden}, 1, 0, 0), 1e-6, seed++);
      check_fused_add(dtype, misaligned_rows({5, hidden}, 0, 3, 0), 1e-6, seed++);
      check_fused_add(dtype, misaligned_rows({5, hidden}, 0, 0, 1), 1e-6, seed++);
    }
    // Unmergeable leading dimensions on the 16-byte path (CudaRmsNorm.RowStrides).
    check_fused_add(dtype, strided_rows({3, 4, 64}, {64, 200, 1}, {}), 1e-6, seed++);
    check_fused_add(dtype, strided_rows({3, 4, 64}, {64, 200, 1}, {64, 200, 1}), 1e-6, seed++);
  }
}

// Rows past the grid's cap of cuda::kMaxGridBlocks = 65536 blocks, which blocks reach by going
// round again (rmsnorm_cuda.cu, plan_rows). P is the packs per row: 16-byte packs (4 float32 or 8
// half values) where every row is 16-byte aligned and hidden a whole number of them, else one
// element; a warp per row for P <= 128, a block per row for P <= 4096, else streaming.
//   [300000, 8], every dtype: P = 2 (float32) or 1, a warp per row and 4 rows a block:
//     ceil(300000 / 4) = 75000 blocks > 65536, and 65536 * 4 = 262144 < 300000 rows.
//   [70000, 131], float16: 131 % 8 != 0, so one-element packs, P = 131 > 128: a block per row,
//     70000 rows > 65536 blocks.
//   [70000, 1024], float32: P = 1024 / 4 = 256, in (128, 4096]: a block per row (cached),
//     70000 > 65536.
// Host memory: at most about 2.2 GB (fused_add_rms_norm on [70000, 1024] float32).
TEST_F(CudaRmsNorm, RowsPastTheGridCap) {
  uint64_t seed = 1200;
  for (const DType dtype : kDTypes) {
    check_rms_norm(dtype, contiguous_rows({300000, 8}), 1e-6, seed++);
    check_fused_add(dtype, contiguous_rows({300000, 8}), 1e-6, seed++);
  }
  check_rms_norm(DType::kFloat16, contiguous_rows({70000, 131}), 1e-6, seed++);
  check_fused_add(DType::kFloat16, contiguous_rows({70000, 131}), 1e-6, seed++);
  check_rms_norm(DType::kFloat32, contiguous_rows({70000, 1024}), 1e-6, seed++);
  check_fused_add(DType::kFloat32, contiguous_rows({70000, 1024}), 1e-6, seed++);
}

// The streaming path past the grid's cap: [65540, 4099] float16, 4099 % 8 != 0, so one-element
// packs, P = 4099 > 4096, a block per row: 65540 rows > 65536 blocks. 268.7M elements (537 MB a
// tensor, 805 MB with HostTensor's slot map), so checked row by row: about 1.6 GB of host memory.
TEST_F(CudaRmsNorm, LongRowsPastTheGridCap) {
  check_rms_norm_row_by_row(DType::kFloat16, {65540, 4099}, 1e-6, 1250);
  check_fused_add_row_by_row(DType::kFloat16, {65540, 4099}, 1e-6, 1260);
}

// ---------------------------------------------------------------------------------------------
// Activations on the device

struct ActivationOp {
  const char* name;
  double (*reference)(double);
  bool gated;
};

const ActivationOp kActivationOps[] = {
    {"gelu_fast", reference_gelu_tanh, false},  {"gelu_tanh", reference_gelu_tanh, false},
    {"gelu", reference_gelu_erf, false},        {"silu", reference_silu, false},
    {"gelu_and_mul", reference_gelu_erf, true}, {"gelu_tanh_and_mul", reference_gelu_tanh, true},
    {"silu_and_mul", reference_silu, true},
};

// An activation's tensors: input shape (gated: [..., 2d]), strides, misalignment in elements.
struct ActivationCase {
  std::vector<int64_t> input_shape;
  std::vector<int64_t> input_strides = {};
  std::vector<int64_t> out_strides = {};
  int64_t input_misalign = 0;
  int64_t out_misalign = 0;
};

ActivationCase contiguous(std::vector<int64_t> shape) {
  ActivationCase c;
  c.input_shape = std::move(shape);
  return c;
}

ActivationCase strided(std::vector<int64_t> shape, std::vector<int64_t> input_strides,
                       std::vector<int64_t> out_strides) {
  ActivationCase c;
  c.input_shape = std::move(shape);
  c.input_strides = std::move(input_strides);
  c.out_strides = std::move(out_strides);
  return c;
}

ActivationCase misaligned(std::vector<int64_t> shape, int64_t input, int64_t out) {
  ActivationCase c;
  c.input_shape = std::move(shape);
  c.input_misalign = input;
  c.out_misalign = out;
  return c;
}

// How an output is poisoned before the call: every byte 0xFF, or the host tensor's poison NaN
// (a payload the kernels never produce, for inputs whose results are NaN).
enum class Poison { kAllOnes, kHostNan };

// The float64 reference of `op` for `input`, in out's shape (row-major).
std::vector<double> expected_of(const ActivationOp& op, const HostTensor& input,
                                const HostTensor& out) {
  std::vector<double> expected(static_cast<size_t>(out.numel()));
  if (!op.gated) {
    for (int64_t i = 0; i < input.numel(); ++i) {
      expected[static_cast<size_t>(i)] = op.reference(input.get(i));
    }
    return expected;
  }
  const int64_t d = out.shape().back();
  const int64_t rows = d > 0 ? out.numel() / d : 0;
  for (int64_t row = 0; row < rows; ++row) {
    for (int64_t j = 0; j < d; ++j) {
      const double product =
          op.reference(input.get(row * 2 * d + j)) * input.get(row * 2 * d + d + j);
      // A product beyond the dtype's range is infinite in the kernel's float32 arithmetic
      // (special values: 1e30 * 1e30); within range, the unrounded product is the judge.
      const double rounded = round_to(out.dtype(), product);
      expected[static_cast<size_t>(row * d + j)] = std::isinf(rounded) ? rounded : product;
    }
  }
  return expected;
}

class CudaActivation : public CudaNumerics {
protected:
  void check(const ActivationOp& op, DType dtype, const ActivationCase& c,
             const std::function<double()>& next, Poison poison = Poison::kAllOnes) {
    std::vector<int64_t> out_shape = c.input_shape;
    if (op.gated) {
      out_shape.back() /= 2;
    }
    SCOPED_TRACE(std::string(op.name) + " " + dtype_label(dtype) + " input shape " +
                 extents_text(c.input_shape) + " strides " + extents_text(c.input_strides) + " / " +
                 extents_text(c.out_strides) + " misaligned " + std::to_string(c.input_misalign) +
                 " / " + std::to_string(c.out_misalign));
    HostTensor input(dtype, c.input_shape, c.input_strides);
    HostTensor out(dtype, out_shape, c.out_strides);
    input.fill(next);
    const std::vector<uint32_t> input_before = snapshot(input);

    DeviceTensor device_input;
    DeviceTensor device_out;
    ASSERT_STEP(device_input.create(&input, c.input_misalign));
    ASSERT_STEP(device_out.create(&out, c.out_misalign));
    ASSERT_STEP(device_input.upload());
    ASSERT_STEP(poison == Poison::kAllOnes ? device_out.fill_with_ones() : device_out.upload());
    ASSERT_STEP(run(activation_op(op.name), {tensor_arg(device_out.dl()),
                                             tensor_arg(device_input.dl()), stream_arg(stream())}));
    ASSERT_STEP(device_out.download());
    ASSERT_STEP(device_input.download());
    expect_close(out, expected_of(op, input, out), dtype_tolerance(dtype));
    expect_written_exactly(out,
                           poison == Poison::kAllOnes ? all_ones_bits(out) : out.poison_bits());
    expect_unchanged(input, input_before);
  }

  // A unary op with out = input: 7 rows of 1001 at a row pitch of `pitch` elements,
  // `misalign` elements past a 16-byte boundary.
  void check_in_place(const ActivationOp& op, DType dtype, int64_t pitch, int64_t misalign,
                      const std::function<double()>& next) {
    SCOPED_TRACE(std::string(op.name) + " in place, " + dtype_label(dtype) + " pitch " +
                 std::to_string(pitch) + " misaligned " + std::to_string(misalign));
    HostTensor x(dtype, {7, 1001}, {pitch, 1});
    x.fill(next);
    std::vector<double> expected(static_cast<size_t>(x.numel()));
    for (int64_t i = 0; i < x.numel(); ++i) {
      expected[static_cast<size_t>(i)] = op.reference(x.get(i));
    }
    DeviceTensor device_x;
    ASSERT_STEP(device_x.create(&x, misalign));
    ASSERT_STEP(device_x.upload());
    ASSERT_STEP(run(activation_op(op.name),
                    {tensor_arg(device_x.dl()), tensor_arg(device_x.dl()), stream_arg(stream())}));
    ASSERT_STEP(device_x.download());
    expect_close(x, expected, dtype_tolerance(dtype));
    expect_written_exactly(x, x.poison_bits());
  }
};

TEST_F(CudaActivation, ElementwiseOnRandomInputs) {
  const std::vector<std::vector<int64_t>> shapes = {
      {},           {0},        {1},         {7},
      {8},          {15},       {16},        {17},
      {31},         {33},       {100},       {1000},
      {4097},       {65537},    {300007},    {(1 << 20) + 3},
      {3, 5},       {4, 64},    {2, 3, 129}, {64, 4099},
      {1, 1, 1, 9}, {70000, 9}, {16384 + 3}};
  uint64_t seed = 700;
  for (const ActivationOp& op : kActivationOps) {
    if (op.gated) {
      continue;
    }
    for (const DType dtype : kDTypes) {
      for (const auto& shape : shapes) {
        Random random(seed++);
        check(op, dtype, contiguous(shape), [&] { return random.normal(3.0); });
      }
    }
  }
}

TEST_F(CudaActivation, ElementwiseOverTheirRange) {
  for (const ActivationOp& op : kActivationOps) {
    if (op.gated) {
      continue;
    }
    for (const DType dtype : kDTypes) {
      int64_t i = 0;
      const int64_t count = 60001;
      check(op, dtype, contiguous({count}),
            [&] { return -30.0 + 60.0 * static_cast<double>(i++) / (count - 1); });
    }
  }
}

TEST_F(CudaActivation, ElementwiseOnSpecialValues) {
  const double infinity = HUGE_VAL;
  const std::vector<double> values = {0.0,   -0.0,  1e-30,    -1e-30,    1e-7,  -1e-7, 6e-5,
                                      -6e-5, 60000, -60000,   1e30,      -1e30, 3e38,  -3e38,
                                      NAN,   -NAN,  infinity, -infinity, 88.0,  -88.0, 89.0,
                                      -89.0, 14.9,  -14.9,    15.1,      -15.1, 1.0,   -1.0};
  for (const ActivationOp& op : kActivationOps) {
    for (const DType dtype : kDTypes) {
      size_t i = 0;
      const int64_t count = static_cast<int64_t>(values.size());
      // Several rows, so that each value lands in vector lanes and in tails.
      check(
          op, dtype, contiguous({5, (op.gated ? 2 : 1) * count}),
          [&] { return values[i++ % values.size()]; }, Poison::kHostNan);
    }
  }
}

TEST_F(CudaActivation, ElementwiseStridedMisalignedAndInPlace) {
  uint64_t seed = 800;
  for (const ActivationOp& op : kActivationOps) {
    if (op.gated) {
      continue;
    }
    for (const DType dtype : kDTypes) {
      Random random(seed++);
      auto next = [&] { return random.normal(3.0); };
      check(op, dtype, strided({5, 33}, {40, 1}, {}), next);
      check(op, dtype, strided({5, 33}, {}, {35, 1}), next);
      check(op, dtype, strided({100, 3000}, {3001, 1}, {3003, 1}), next);
      check(op, dtype, strided({33, 4096}, {4097, 1}, {4104, 1}), next);
      check(op, dtype, strided({3, 4, 65}, {65, 3 * 65 + 5, 1}, {}), next);
      for (const int64_t numel : {7, 64, 4096, 100003}) {
        check(op, dtype, misaligned({numel}, 1, 0), next);
        check(op, dtype, misaligned({numel}, 0, 1), next);
        check(op, dtype, misaligned({numel}, 3, 3), next); // equally misaligned
      }
      // The 16-byte path with a tail on every row: a pitch of 40 elements keeps each row on the
      // 16-byte grid in every dtype, and 33 = 4 * 8 + 1 = 8 * 4 + 1 leaves one element a row.
      check(op, dtype, strided({5, 33}, {40, 1}, {40, 1}), next);
      // Leading dimensions that cannot be merged (64 != 4 * 200) on the 16-byte path (strides of
      // 64 and 200 elements are multiples of 16 bytes in every dtype; the rows do not overlap).
      check(op, dtype, strided({3, 4, 64}, {64, 200, 1}, {}), next);

      // A pitch of 1010 takes every row after the first off the 16-byte grid (1010 * 2 and
      // 1010 * 4 bytes are no multiples of 16); 1008 keeps every row on it, in every dtype, so
      // misalign 0 runs in place on the 16-byte path (1001 = 125 * 8 + 1 = 250 * 4 + 1: a tail).
      for (const int64_t pitch : {1010, 1008}) {
        for (const int64_t misalign : {0, 1}) {
          check_in_place(op, dtype, pitch, misalign, next);
        }
      }
    }
  }
}

// Rows and columns past the grid's caps (activation_cuda.cu, plan): gridDim.y <= 65535
// (cuda::kMaxGridY) and gridDim.x * gridDim.y <= 65536 blocks (cuda::kMaxGridBlocks); threads go
// round again over the rows and the tiles of a row beyond. Blocks are 256 threads: columns =
// min(256, ceil(packs / kPacks) rounded up to 32) by 256 / columns rows, and a block column covers
// a tile of columns * kPacks packs of a row, kPacks = 4 (unary) or 2 (gated) per thread.
//   gated [600000, 2], every op and dtype: d = 1, one-element packs, 32 columns by 8 rows:
//     ceil(600000 / 8) = 75000 block rows > 65535, and 65535 * 8 = 524280 < 600000 rows.
//   gated [600000, 16], every op and dtype: d = 8, 16-byte packs (2 float32, 1 half), the same
//     32 by 8 blocks: the rows past the cap on the vectorized path.
//   gated [70000, 1030] float32: d = 515, 515 % 4 != 0, so one-element packs, 256 columns by 1
//     row: 70000 block rows > 65535, and max(1, 65536 / 65535) = 1 block column, whose tiles of
//     512 packs < 515, so each row takes 2 rounds (the second with 3 packs).
//   unary [600000, 3], row pitch 4, every op and dtype: float32 rows are 16-byte aligned, with
//     3 / 4 = 0 packs and a tail of 3; half rows (8 bytes apart) are one-element packs, 3 a row;
//     either way 32 columns by 8 rows, 75000 block rows > 65535.
//   unary [600000, 9], row pitch 16, every op and dtype: every row 16-byte aligned, 2 float32
//     packs and a tail of 1, or 1 half pack and a tail of 1: the rows past the cap on the
//     vectorized path, with the tails on rows of the second round.
//   unary [70000, 1030] float32, input row pitch 1031 (rows off the 16-byte grid), gelu_fast:
//     one-element packs, 256 columns by 1 row, 1 block column with tiles of 1024 packs, so 2
//     rounds a row (the second with 6 packs).
// Host memory: at most about 1.4 GB ([70000, 1030] float32).
TEST_F(CudaActivation, RowsAndColumnsPastTheGridCaps) {
  uint64_t seed = 1400;
  for (const ActivationOp& op : kActivationOps) {
    for (const DType dtype : kDTypes) {
      Random random(seed++);
      auto next = [&] { return random.normal(3.0); };
      if (op.gated) {
        check(op, dtype, contiguous({600000, 2}), next);
        check(op, dtype, contiguous({600000, 16}), next);
      } else {
        check(op, dtype, strided({600000, 3}, {4, 1}, {4, 1}), next);
        check(op, dtype, strided({600000, 9}, {16, 1}, {16, 1}), next);
      }
    }
    Random random(seed++);
    auto next = [&] { return random.normal(3.0); };
    if (op.gated) {
      check(op, DType::kFloat32, contiguous({70000, 1030}), next);
    } else if (&op == &kActivationOps[0]) {
      // Once: the tile loop is the same code for every activation, and this case is large.
      check(op, DType::kFloat32, strided({70000, 1030}, {1031, 1}, {}), next);
    }
  }
}

TEST_F(CudaActivation, Gated) {
  uint64_t seed = 900;
  for (const ActivationOp& op : kActivationOps) {
    if (!op.gated) {
      continue;
    }
    for (const DType dtype : kDTypes) {
      Random random(seed++);
      auto next = [&] { return random.normal(3.0); };
      for (const int64_t d : {1, 3, 8, 16, 17, 64, 1000, 4096, 4099, 16384 + 3}) {
        check(op, dtype, contiguous({5, 2 * d}), next);
      }
      check(op, dtype, contiguous({2}), next);         // 1-D
      check(op, dtype, contiguous({0, 8}), next);      // no rows
      check(op, dtype, contiguous({2, 3, 130}), next); // 3-D
      check(op, dtype, contiguous({70000, 16}), next); // rows > 65535
      check(op, dtype, contiguous({64, 8194}), next);  // d = 4097
      check(op, dtype, contiguous({1, 600002}), next); // one long row
      check(op, dtype, strided({6, 34}, {40, 1}, {20, 1}), next);
      check(op, dtype, strided({3, 4, 66}, {66, 3 * 66 + 2, 1}, {}), next);
      check(op, dtype, strided({9, 8192}, {8197, 1}, {4099, 1}), next); // rows off the grid
      for (const int64_t d : {8, 4096, 4099}) {
        check(op, dtype, misaligned({5, 2 * d}, 1, 0), next);
        check(op, dtype, misaligned({5, 2 * d}, 0, 1), next);
      }
      int64_t i = 0;
      check(op, dtype, contiguous({4, 30002}),
            [&] { return -30.0 + 60.0 * static_cast<double>(i++ % 30002) / 30001; });
      // Leading dimensions that cannot be merged (128 != 4 * 400) on the 16-byte path: d = 64
      // packs evenly, strides of 128 and 400 elements are multiples of 16 bytes in every dtype,
      // and the rows of 128 at i * 128 + j * 400 do not overlap.
      check(op, dtype, strided({3, 4, 128}, {128, 400, 1}, {}), next);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Streams and empty tensors on the device

// Each op enqueues its work on the given stream and returns without waiting for it: with the
// stream held by a host function, the call returns and the output is untouched until the stream
// is let go.
TEST_F(CudaNumerics, OpsRunOnTheGivenStreamWithoutWaiting) {
  const DType dtype = DType::kFloat16;
  Random random(1000);
  HostTensor input(dtype, {64, 4096});
  HostTensor out(dtype, {64, 4096});
  HostTensor residual(dtype, {64, 4096});
  HostTensor weight(dtype, {4096});
  HostTensor gated_out(dtype, {64, 2048});
  input.fill([&] { return random.normal(2.0); });
  residual.fill([&] { return random.normal(2.0); });
  weight.fill([&] { return random.normal(1.0); });
  DeviceTensor device_input;
  DeviceTensor device_out;
  DeviceTensor device_residual;
  DeviceTensor device_weight;
  DeviceTensor device_gated_out;
  ASSERT_STEP(device_input.create(&input));
  ASSERT_STEP(device_out.create(&out));
  ASSERT_STEP(device_residual.create(&residual));
  ASSERT_STEP(device_weight.create(&weight));
  ASSERT_STEP(device_gated_out.create(&gated_out));
  ASSERT_STEP(device_input.upload());
  ASSERT_STEP(device_residual.upload());
  ASSERT_STEP(device_weight.upload());

  // `watched` is written by the op: filled with 0xFF bytes first, or (fused_add_rms_norm's
  // residual, which the op reads) uploaded again.
  struct Case {
    const char* name;
    kget_op_fn op;
    std::vector<kget_arg> args;
    DeviceTensor* watched;
    HostTensor* host;
    bool fill_with_ones;
  };
  const Case cases[] = {
      {"rms_norm",
       rmsnorm_op("rms_norm"),
       {tensor_arg(device_out.dl()), tensor_arg(device_input.dl()), tensor_arg(device_weight.dl()),
        float_arg(1e-6), stream_arg(stream())},
       &device_out,
       &out,
       true},
      // Its input is rms_norm's finite output from the case before.
      {"fused_add_rms_norm",
       rmsnorm_op("fused_add_rms_norm"),
       {tensor_arg(device_out.dl()), tensor_arg(device_residual.dl()),
        tensor_arg(device_weight.dl()), float_arg(1e-6), stream_arg(stream())},
       &device_residual,
       &residual,
       false},
      {"gelu_fast",
       activation_op("gelu_fast"),
       {tensor_arg(device_out.dl()), tensor_arg(device_input.dl()), stream_arg(stream())},
       &device_out,
       &out,
       true},
      {"silu_and_mul",
       activation_op("silu_and_mul"),
       {tensor_arg(device_gated_out.dl()), tensor_arg(device_input.dl()), stream_arg(stream())},
       &device_gated_out,
       &gated_out,
       true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    // Once ungated first: with lazy loading (CUDA_MODULE_LOADING=LAZY, the default), loading a
    // kernel may wait for the whole context, and so for the gated stream.
    ASSERT_STEP(run(c.op, c.args));
    ASSERT_STEP(c.fill_with_ones ? c.watched->fill_with_ones() : c.watched->upload());
    ASSERT_STEP(synchronize_device());
    ASSERT_STEP(c.watched->download());
    const std::vector<uint32_t> before = snapshot(*c.host);
    StreamGate gate;
    ASSERT_STEP(gate.close(stream_.handle()));
    ASSERT_STEP(call_ok(c.op, c.args));
    // The legacy default stream does not wait for a non-blocking stream: this copy sees the
    // output as it is while the op's work waits behind the gate.
    ASSERT_STEP(c.watched->download());
    ASSERT_TRUE(snapshot(*c.host) == before)
        << "the output was written before the stream reached the op's work: the op did not run "
           "on the stream it was given";
    gate.open();
    ASSERT_STEP(synchronize_stream(stream_.handle()));
    EXPECT_FALSE(gate.timed_out()) << "the op waited for its stream inside the call; CUDA ops "
                                      "must only enqueue (docs/kernel-abi.md, \"Devices and "
                                      "streams\")";
    ASSERT_STEP(c.watched->download());
    const std::vector<uint32_t> after = snapshot(*c.host);
    const auto unchanged = std::inner_product(after.begin(), after.end(), before.begin(), size_t{0},
                                              std::plus<>(), std::equal_to<>());
    if (c.fill_with_ones) {
      EXPECT_EQ(unchanged, 0u) << "elements not written once the stream went on";
    } else {
      EXPECT_LT(unchanged, after.size() / 2) << "residual not updated once the stream went on";
    }
  }
}

// A failed call (device 99 does not exist) leaves no CUDA error behind for the next call to
// report: the runtime keeps the last error per thread until cudaGetLastError reads it.
TEST_F(CudaNumerics, FailedCallLeavesNoErrorBehind) {
  call_every_op_on_device(*rmsnorm_, *activation_, 99);
  const DType dtype = DType::kFloat32;
  HostTensor input(dtype, {4, 256});
  HostTensor out(dtype, {4, 256});
  HostTensor gated_out(dtype, {4, 128});
  HostTensor weight(dtype, {256});
  input.fill([] { return 0.5; });
  weight.fill([] { return 1.0; });
  DeviceTensor device_input;
  DeviceTensor device_out;
  DeviceTensor device_gated_out;
  DeviceTensor device_weight;
  ASSERT_STEP(device_input.create(&input));
  ASSERT_STEP(device_out.create(&out));
  ASSERT_STEP(device_gated_out.create(&gated_out));
  ASSERT_STEP(device_weight.create(&weight));
  ASSERT_STEP(device_input.upload());
  ASSERT_STEP(device_weight.upload());
  const kget_kernel_descriptor& norms = *rmsnorm_->descriptor();
  for (size_t op = 0; op < norms.num_ops; ++op) {
    SCOPED_TRACE(norms.ops[op].name);
    ASSERT_STEP(device_out.fill_with_ones());
    ASSERT_STEP(run(norms.ops[op].call,
                    {tensor_arg(device_out.dl()), tensor_arg(device_input.dl()),
                     tensor_arg(device_weight.dl()), float_arg(1e-6), stream_arg(stream())}));
    call_every_op_on_device(*rmsnorm_, *activation_, 99); // again, before the next op
  }
  const kget_kernel_descriptor& activations = *activation_->descriptor();
  for (size_t op = 0; op < activations.num_ops; ++op) {
    SCOPED_TRACE(activations.ops[op].name);
    const bool gated = std::strstr(activations.ops[op].name, "_and_mul") != nullptr;
    ASSERT_STEP(
        run(activations.ops[op].call, {tensor_arg(gated ? device_gated_out.dl() : device_out.dl()),
                                       tensor_arg(device_input.dl()), stream_arg(stream())}));
    call_every_op_on_device(*rmsnorm_, *activation_, 99);
  }
}

// NULL (the legacy default stream), cudaStreamLegacy (1) and cudaStreamPerThread (2) are valid
// streams (docs/kernel-abi.md, "Devices and streams").
TEST_F(CudaNumerics, SpecialStreamHandles) {
  const DType dtype = DType::kBFloat16;
  Random random(1100);
  HostTensor input(dtype, {17, 1000});
  HostTensor out(dtype, {17, 1000});
  HostTensor weight(dtype, {1000});
  input.fill([&] { return random.normal(2.0); });
  weight.fill([&] { return random.normal(1.0); });
  const std::vector<double> expected = reference_rms_norm(input, weight, 1e-6);
  std::vector<double> expected_gelu(static_cast<size_t>(input.numel()));
  for (int64_t i = 0; i < input.numel(); ++i) {
    expected_gelu[static_cast<size_t>(i)] = reference_gelu_tanh(input.get(i));
  }
  DeviceTensor device_input;
  DeviceTensor device_out;
  DeviceTensor device_weight;
  ASSERT_STEP(device_input.create(&input));
  ASSERT_STEP(device_out.create(&out));
  ASSERT_STEP(device_weight.create(&weight));
  ASSERT_STEP(device_input.upload());
  ASSERT_STEP(device_weight.upload());
  for (const uintptr_t handle : {uintptr_t{0}, uintptr_t{1}, uintptr_t{2}}) {
    SCOPED_TRACE("stream " + std::to_string(handle));
    void* const special = reinterpret_cast<void*>(handle);
    ASSERT_STEP(device_out.fill_with_ones());
    ASSERT_STEP(synchronize_device());
    ASSERT_STEP(call_ok(rmsnorm_op("rms_norm"),
                        {tensor_arg(device_out.dl()), tensor_arg(device_input.dl()),
                         tensor_arg(device_weight.dl()), float_arg(1e-6), stream_arg(special)}));
    ASSERT_STEP(synchronize_device());
    ASSERT_STEP(device_out.download());
    expect_close(out, expected, dtype_tolerance(dtype));
    ASSERT_STEP(device_out.fill_with_ones());
    ASSERT_STEP(synchronize_device());
    ASSERT_STEP(
        call_ok(activation_op("gelu_fast"),
                {tensor_arg(device_out.dl()), tensor_arg(device_input.dl()), stream_arg(special)}));
    ASSERT_STEP(synchronize_device());
    ASSERT_STEP(device_out.download());
    expect_close(out, expected_gelu, dtype_tolerance(dtype));
  }
}

// An op called on a thread that has no current CUDA context (a fresh std::thread, as in a thread
// pool that never touched CUDA) makes the tensors' device current only for its launch: the thread
// has no context afterwards, as before (cuda::DeviceGuard, docs/kernels.md "Devices, streams and
// errors"), rather than device 0's primary context the runtime would leave, and the results are
// right. Each kernel library has its own CUDA runtime, so both are called, each twice on one
// thread (the second call finds its runtime already set up for that thread) and once on another,
// on the test's stream and on the legacy default stream.
TEST_F(CudaNumerics, ThreadWithoutContextKeepsNone) {
  const DType dtype = DType::kBFloat16;
  Random random(1500);
  HostTensor input(dtype, {33, 1000});
  HostTensor weight(dtype, {1000});
  HostTensor norm_out(dtype, {33, 1000});
  HostTensor gelu_out(dtype, {33, 1000});
  HostTensor gated_out(dtype, {33, 500});
  input.fill([&] { return random.normal(2.0); });
  weight.fill([&] { return 1.0 + random.normal(0.3); });
  DeviceTensor device_input;
  DeviceTensor device_weight;
  DeviceTensor device_norm_out;
  DeviceTensor device_gelu_out;
  DeviceTensor device_gated_out;
  ASSERT_STEP(device_input.create(&input));
  ASSERT_STEP(device_weight.create(&weight));
  ASSERT_STEP(device_norm_out.create(&norm_out));
  ASSERT_STEP(device_gelu_out.create(&gelu_out));
  ASSERT_STEP(device_gated_out.create(&gated_out));
  ASSERT_STEP(device_input.upload());
  ASSERT_STEP(device_weight.upload());
  for (const DeviceTensor* out : {&device_norm_out, &device_gelu_out, &device_gated_out}) {
    ASSERT_STEP(out->fill_with_ones());
  }
  ASSERT_STEP(synchronize_device());

  struct Call {
    const char* name;
    kget_op_fn op;
    std::vector<kget_arg> args;
  };
  // What a thread saw: the current context before its first call and after each, as
  // cuCtxGetCurrent's status and value, and each call's failure ("" for OK).
  struct Seen {
    std::vector<cuda::CUresult> statuses;
    std::vector<cuda::CUcontext> contexts;
    std::vector<std::string> failures;
  };
  const cuda::DriverApi& api = Driver::instance().api();
  const auto on_fresh_thread = [&api](const std::vector<Call>& calls) {
    Seen seen;
    std::thread thread([&] {
      const auto look = [&] {
        // Not null, so that a cuCtxGetCurrent that wrote nothing cannot pass for "none".
        cuda::CUcontext context = reinterpret_cast<cuda::CUcontext>(uintptr_t{1});
        seen.statuses.push_back(api.cuCtxGetCurrent(&context));
        seen.contexts.push_back(context);
      };
      look();
      for (const Call& call : calls) {
        seen.failures.push_back(call_ok(call.op, call.args));
        look();
      }
    });
    thread.join();
    return seen;
  };
  const Call norm = {"rms_norm",
                     rmsnorm_op("rms_norm"),
                     {tensor_arg(device_norm_out.dl()), tensor_arg(device_input.dl()),
                      tensor_arg(device_weight.dl()), float_arg(1e-6), stream_arg(stream())}};
  const Call gelu = {
      "gelu_fast",
      activation_op("gelu_fast"),
      {tensor_arg(device_gelu_out.dl()), tensor_arg(device_input.dl()), stream_arg(stream())}};
  const Call gated = {
      "silu_and_mul",
      activation_op("silu_and_mul"),
      {tensor_arg(device_gated_out.dl()), tensor_arg(device_input.dl()), stream_arg(nullptr)}};
  // Out of place: calling an op again writes the same results.
  const std::vector<std::vector<Call>> threads = {{norm, gelu, norm, gelu}, {gated}};
  for (const std::vector<Call>& calls : threads) {
    const Seen seen = on_fresh_thread(calls);
    ASSERT_EQ(seen.statuses.size(), calls.size() + 1);
    ASSERT_EQ(seen.statuses[0], cuda::CUDA_SUCCESS)
        << Driver::instance().describe("cuCtxGetCurrent", seen.statuses[0]);
    ASSERT_EQ(seen.contexts[0], nullptr) << "a new thread should start without a CUDA context";
    for (size_t i = 0; i < calls.size(); ++i) {
      SCOPED_TRACE(calls[i].name);
      EXPECT_EQ(seen.failures[i], "");
      EXPECT_EQ(seen.statuses[i + 1], cuda::CUDA_SUCCESS)
          << Driver::instance().describe("cuCtxGetCurrent", seen.statuses[i + 1]);
      EXPECT_EQ(seen.contexts[i + 1], nullptr)
          << "the op left a CUDA context current on a thread that had none";
    }
  }

  // The work the threads enqueued, checked from this thread (which holds the primary context).
  ASSERT_STEP(synchronize_device());
  ASSERT_STEP(device_norm_out.download());
  ASSERT_STEP(device_gelu_out.download());
  ASSERT_STEP(device_gated_out.download());
  {
    SCOPED_TRACE("rms_norm");
    expect_close(norm_out, reference_rms_norm(input, weight, 1e-6), dtype_tolerance(dtype));
    expect_written_exactly(norm_out, all_ones_bits(norm_out));
  }
  std::vector<double> expected_gelu(static_cast<size_t>(input.numel()));
  for (int64_t i = 0; i < input.numel(); ++i) {
    expected_gelu[static_cast<size_t>(i)] = reference_gelu_tanh(input.get(i));
  }
  {
    SCOPED_TRACE("gelu_fast");
    expect_close(gelu_out, expected_gelu, dtype_tolerance(dtype));
    expect_written_exactly(gelu_out, all_ones_bits(gelu_out));
  }
  const ActivationOp silu_and_mul{"silu_and_mul", reference_silu, true};
  {
    SCOPED_TRACE("silu_and_mul");
    expect_close(gated_out, expected_of(silu_and_mul, input, gated_out), dtype_tolerance(dtype));
    expect_written_exactly(gated_out, all_ones_bits(gated_out));
  }
}

// Empty tensors need no data (docs/kernels.md, "Notes on the rules"): with data NULL every op
// returns OK and launches nothing (a launch of zero blocks would be a CUDA error).
TEST_F(CudaNumerics, EmptyTensorsWithoutData) {
  int64_t empty_rows[] = {0, 64};
  int64_t empty_half_rows[] = {0, 32};
  DLTensor empty{};
  empty.device = {kDLCUDA, 0};
  empty.ndim = 2;
  empty.dtype = {kDLFloat, 16, 1};
  empty.shape = empty_rows;
  DLTensor empty_half = empty;
  empty_half.shape = empty_half_rows;
  HostTensor weight(DType::kFloat16, {64});
  weight.fill([] { return 1.0; });
  DeviceTensor device_weight;
  ASSERT_STEP(device_weight.create(&weight));
  ASSERT_STEP(device_weight.upload());
  const kget_kernel_descriptor& norms = *rmsnorm_->descriptor();
  for (size_t op = 0; op < norms.num_ops; ++op) {
    SCOPED_TRACE(norms.ops[op].name);
    ASSERT_STEP(run(norms.ops[op].call,
                    {tensor_arg(&empty), tensor_arg(&empty), tensor_arg(device_weight.dl()),
                     float_arg(1e-6), stream_arg(stream())}));
  }
  const kget_kernel_descriptor& activations = *activation_->descriptor();
  for (size_t op = 0; op < activations.num_ops; ++op) {
    SCOPED_TRACE(activations.ops[op].name);
    const bool gated = std::strstr(activations.ops[op].name, "_and_mul") != nullptr;
    ASSERT_STEP(run(activations.ops[op].call, {tensor_arg(gated ? &empty_half : &empty),
                                               tensor_arg(&empty), stream_arg(stream())}));
  }
}

} // namespace
} // namespace kget_kernel_tests
