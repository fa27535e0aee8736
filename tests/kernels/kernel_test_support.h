// Shared by the kernel tests: loading a kernel library as kget does (dlopen, kget_kernel_init),
// host tensors with poisoned storage, argument builders, float64 references and tolerances.
#pragma once

#include "common/dtype.h"

#include <cstdint>
#include <kget/kernel_abi.h>
#include <random>
#include <string>
#include <vector>

namespace kget_kernel_tests {

using kget_kernels::DType;

// A kernel library loaded with RTLD_NOW | RTLD_LOCAL and checked through kget_kernel_init(1, 0).
// Never unloaded, like kget does.
class KernelLibrary {
public:
  explicit KernelLibrary(const char* path);
  const kget_kernel_descriptor* descriptor() const { return descriptor_; }
  kget_kernel_init_fn init() const { return init_; }
  // The op's entry point, or nullptr.
  kget_op_fn op(const std::string& name) const;
  const std::string& load_error() const { return load_error_; }

private:
  kget_kernel_init_fn init_ = nullptr;
  const kget_kernel_descriptor* descriptor_ = nullptr;
  std::string load_error_;
};

// Where a test finds a kernel library: the path in environment variable `variable` when it is
// set and not empty, else `default_path` (compiled in: this build tree's library). The variables
// let a test binary run from a folder staged on another machine, whose build tree is gone.
struct LibraryPath {
  std::string path;
  bool from_environment = false;
};
LibraryPath library_path(const char* variable, const char* default_path);

// The CPU variants: KGET_RMSNORM_LIBRARY and KGET_ACTIVATION_LIBRARY (environment), else the
// paths of the same names compiled in. Loaded once per process.
const KernelLibrary& rmsnorm_library();
const KernelLibrary& activation_library();

// A CPU tensor over its own storage. The storage covers every element the strides reach plus
// `kGuard` elements on each side, all filled with a NaN of the dtype ("poison") at creation, so
// that a test sees any element an op failed to write and any write outside the tensor.
class HostTensor {
public:
  static constexpr int64_t kGuard = 16;

  // strides empty: compact row-major (DLTensor::strides stays NULL).
  HostTensor(DType dtype, std::vector<int64_t> shape, std::vector<int64_t> strides = {});

  DLTensor* dl() { return &dl_; }
  const DLTensor* dl() const { return &dl_; }
  DType dtype() const { return dtype_; }
  const std::vector<int64_t>& shape() const { return shape_; }
  int64_t numel() const { return numel_; }
  int64_t storage_elements() const { return storage_elements_; }

  // Element `index` in row-major order of the shape, as double / set from double (rounded to the
  // dtype, nearest even).
  double get(int64_t index) const;
  void set(int64_t index, double value);
  // Sets the raw bits of element `index` (float32 bits, or the 16 bits of a half type).
  void set_bits(int64_t index, uint32_t bits);
  // The raw bits of element `index` (float32 bits, or the 16 bits of a half type).
  uint32_t bits(int64_t index) const;
  // Storage slot `slot` (0 .. storage_elements) as raw bits, for guard and gap checks.
  uint32_t storage_bits(int64_t slot) const;
  // True when storage slot `slot` holds an element of the tensor.
  bool slot_is_element(int64_t slot) const;
  // The poison value's bits.
  uint32_t poison_bits() const;
  // The whole storage (guards included), for copying it to and from device memory; dl()->data
  // points at its start.
  void* storage_data() { return storage_.data(); }
  const void* storage_data() const { return storage_.data(); }
  int64_t storage_bytes() const { return storage_elements_ * element_size_; }
  int64_t element_size() const { return element_size_; }

  // Fills every element from `next()`, a double generator, rounding to the dtype.
  template <class Generator>
  void fill(Generator&& next) {
    for (int64_t i = 0; i < numel_; ++i) {
      set(i, next());
    }
  }

private:
  int64_t storage_offset(int64_t index) const; // storage slot of element `index`
  char* slot_address(int64_t slot);
  const char* slot_address(int64_t slot) const;

  DType dtype_;
  std::vector<int64_t> shape_;
  std::vector<int64_t> strides_; // always filled (row-major when not given)
  bool explicit_strides_ = false;
  int64_t numel_ = 0;
  int64_t element_size_ = 4;
  int64_t storage_elements_ = 0;
  std::vector<uint64_t> storage_; // 8-byte aligned
  std::vector<char> is_element_;
  DLTensor dl_{};
};

kget_arg tensor_arg(const DLTensor* tensor);
kget_arg float_arg(double value);
kget_arg int_arg(int64_t value);
kget_arg stream_arg(void* stream = nullptr);
kget_arg none_arg();

// Calls `op` with a fresh error buffer; returns the status and leaves the message in `message`.
int call(kget_op_fn op, const std::vector<kget_arg>& args, std::string* message = nullptr);

// Value rounded to the dtype, as double.
double round_to(DType dtype, double value);

// |got - expected| <= atol + rtol |expected|, NaN only where expected is NaN, infinities equal.
struct Tolerance {
  double rtol;
  double atol;
};
bool close(double got, double expected, Tolerance tolerance);

// Random normal values with the given scale, from a fixed seed per test.
class Random {
public:
  explicit Random(uint64_t seed) : engine_(seed) {}
  double normal(double scale = 1.0) {
    return std::normal_distribution<double>(0.0, scale)(engine_);
  }
  double uniform(double low, double high) {
    return std::uniform_real_distribution<double>(low, high)(engine_);
  }

private:
  std::mt19937_64 engine_;
};

const char* dtype_label(DType dtype);

// The float64 references and tolerances of the numerics tests, shared by the CPU and the CUDA
// variants' tests (docs/kernels.md, "Arithmetic" and "Accuracy").

// Per dtype: |got - expected| <= atol + rtol |expected|. The half types are rounded twice (the
// normalized value or the activation, then the product with the weight or `up`), so rtol is a
// little over 2 units of rounding (2^-8 for bfloat16, 2^-11 for float16); float32 allows a few
// ulp of accumulated float32 arithmetic.
Tolerance dtype_tolerance(DType dtype);
// out = x / sqrt(mean(x^2) + eps) * w per row of input's last dimension, row-major.
std::vector<double> reference_rms_norm(const HostTensor& input, const HostTensor& weight,
                                       double eps);
// x * sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3): the 1 + tanh form cancels for x << 0.
double reference_gelu_tanh(double x);
double reference_gelu_erf(double x);
double reference_silu(double x);
// "[2, 3, 4]"
std::string extents_text(const std::vector<int64_t>& values);

// The CPU path this process forced with KGET_KERNEL_CPU_ISA ("" when not set or "auto").
std::string forced_isa();
// True when this CPU can run the forced path (always for "", "scalar").
bool forced_isa_runs_here();

} // namespace kget_kernel_tests
