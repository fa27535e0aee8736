#include "kernel_test_support.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>

#if defined(__x86_64__)
#include <cpuid.h>
#endif
#include <limits>

namespace kget_kernel_tests {

using kget_kernels::bf16_to_f32;
using kget_kernels::bits_float;
using kget_kernels::f16_to_f32;
using kget_kernels::f32_to_bf16;
using kget_kernels::f32_to_f16;
using kget_kernels::float_bits;

KernelLibrary::KernelLibrary(const char* path) {
  void* handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    load_error_ = std::string("dlopen: ") + dlerror();
    return;
  }
  void* symbol = dlsym(handle, KGET_KERNEL_INIT_SYMBOL);
  if (!symbol) {
    load_error_ = std::string("dlsym: ") + dlerror();
    return;
  }
  init_ = reinterpret_cast<kget_kernel_init_fn>(symbol);
  descriptor_ = init_(KGET_KERNEL_ABI_VERSION_MAJOR, KGET_KERNEL_ABI_VERSION_MINOR);
  if (!descriptor_) {
    load_error_ = "kget_kernel_init(1, 0) returned NULL";
  }
}

kget_op_fn KernelLibrary::op(const std::string& name) const {
  if (!descriptor_) {
    return nullptr;
  }
  for (size_t i = 0; i < descriptor_->num_ops; ++i) {
    if (name == descriptor_->ops[i].name) {
      return descriptor_->ops[i].call;
    }
  }
  return nullptr;
}

LibraryPath library_path(const char* variable, const char* default_path) {
  const char* value = std::getenv(variable);
  if (value && *value) {
    return {value, true};
  }
  return {default_path, false};
}

const KernelLibrary& rmsnorm_library() {
  static const KernelLibrary library(
      library_path("KGET_RMSNORM_LIBRARY", KGET_RMSNORM_LIBRARY).path.c_str());
  return library;
}

const KernelLibrary& activation_library() {
  static const KernelLibrary library(
      library_path("KGET_ACTIVATION_LIBRARY", KGET_ACTIVATION_LIBRARY).path.c_str());
  return library;
}

HostTensor::HostTensor(DType dtype, std::vector<int64_t> shape, std::vector<int64_t> strides)
    : dtype_(dtype), shape_(std::move(shape)), strides_(std::move(strides)),
      explicit_strides_(!strides_.empty()) {
  element_size_ = kget_kernels::dtype_size(dtype_);
  const size_t ndim = shape_.size();
  if (!explicit_strides_) {
    strides_.assign(ndim, 1);
    for (size_t d = ndim; d-- > 1;) {
      strides_[d - 1] = strides_[d] * shape_[d];
    }
  }
  numel_ = 1;
  int64_t last = 0;
  for (size_t d = 0; d < ndim; ++d) {
    numel_ *= shape_[d];
    if (shape_[d] > 0) {
      last += (shape_[d] - 1) * strides_[d];
    }
  }
  storage_elements_ = (numel_ > 0 ? last + 1 : 0) + 2 * kGuard;
  storage_.assign(static_cast<size_t>((storage_elements_ * element_size_ + 7) / 8), 0);
  for (int64_t slot = 0; slot < storage_elements_; ++slot) {
    const uint32_t poison = poison_bits();
    std::memcpy(slot_address(slot), &poison, static_cast<size_t>(element_size_));
  }
  is_element_.assign(static_cast<size_t>(storage_elements_), 0);
  for (int64_t i = 0; i < numel_; ++i) {
    is_element_[static_cast<size_t>(storage_offset(i))] = 1;
  }
  dl_.data = storage_.data();
  dl_.device.device_type = kDLCPU;
  dl_.device.device_id = 0;
  dl_.ndim = static_cast<int32_t>(ndim);
  dl_.dtype.code = static_cast<uint8_t>(dtype_ == DType::kBFloat16 ? kDLBfloat : kDLFloat);
  dl_.dtype.bits = static_cast<uint8_t>(element_size_ * 8);
  dl_.dtype.lanes = 1;
  dl_.shape = shape_.data();
  dl_.strides = explicit_strides_ ? strides_.data() : nullptr;
  dl_.byte_offset = static_cast<uint64_t>(kGuard * element_size_);
}

int64_t HostTensor::storage_offset(int64_t index) const {
  int64_t offset = kGuard;
  for (size_t d = shape_.size(); d-- > 0;) {
    offset += (index % shape_[d]) * strides_[d];
    index /= shape_[d];
  }
  return offset;
}

char* HostTensor::slot_address(int64_t slot) {
  return reinterpret_cast<char*>(storage_.data()) + slot * element_size_;
}

const char* HostTensor::slot_address(int64_t slot) const {
  return reinterpret_cast<const char*>(storage_.data()) + slot * element_size_;
}

uint32_t HostTensor::poison_bits() const {
  // A quiet NaN with a payload the kernels never produce.
  return dtype_ == DType::kFloat32 ? 0x7fc0dead : (dtype_ == DType::kFloat16 ? 0x7e5a : 0x7fda);
}

uint32_t HostTensor::storage_bits(int64_t slot) const {
  uint32_t bits = 0;
  std::memcpy(&bits, slot_address(slot), static_cast<size_t>(element_size_));
  return bits;
}

bool HostTensor::slot_is_element(int64_t slot) const {
  return is_element_[static_cast<size_t>(slot)] != 0;
}

uint32_t HostTensor::bits(int64_t index) const {
  return storage_bits(storage_offset(index));
}

double HostTensor::get(int64_t index) const {
  const uint32_t raw = bits(index);
  switch (dtype_) {
  case DType::kFloat32:
    return bits_float(raw);
  case DType::kFloat16:
    return f16_to_f32(static_cast<uint16_t>(raw));
  case DType::kBFloat16:
    return bf16_to_f32(static_cast<uint16_t>(raw));
  }
  return 0.0;
}

void HostTensor::set(int64_t index, double value) {
  const float rounded = static_cast<float>(value);
  uint32_t raw = float_bits(rounded);
  if (dtype_ == DType::kFloat16) {
    raw = f32_to_f16(rounded);
  } else if (dtype_ == DType::kBFloat16) {
    raw = f32_to_bf16(rounded);
  }
  std::memcpy(slot_address(storage_offset(index)), &raw, static_cast<size_t>(element_size_));
}

void HostTensor::set_bits(int64_t index, uint32_t bits) {
  std::memcpy(slot_address(storage_offset(index)), &bits, static_cast<size_t>(element_size_));
}

kget_arg tensor_arg(const DLTensor* tensor) {
  kget_arg arg{};
  arg.kind = KGET_ARG_TENSOR;
  arg.value.tensor = tensor;
  return arg;
}

kget_arg float_arg(double value) {
  kget_arg arg{};
  arg.kind = KGET_ARG_FLOAT;
  arg.value.f = value;
  return arg;
}

kget_arg int_arg(int64_t value) {
  kget_arg arg{};
  arg.kind = KGET_ARG_INT;
  arg.value.i = value;
  return arg;
}

kget_arg stream_arg(void* stream) {
  kget_arg arg{};
  arg.kind = KGET_ARG_STREAM;
  arg.value.stream = stream;
  return arg;
}

kget_arg none_arg() {
  return kget_arg{};
}

int call(kget_op_fn op, const std::vector<kget_arg>& args, std::string* message) {
  kget_error error;
  error.message[0] = '\0';
  const int status = op(args.empty() ? nullptr : args.data(), args.size(), &error);
  if (message) {
    *message = error.message;
  }
  return status;
}

double round_to(DType dtype, double value) {
  const float rounded = static_cast<float>(value);
  switch (dtype) {
  case DType::kFloat32:
    return rounded;
  case DType::kFloat16:
    return f16_to_f32(f32_to_f16(rounded));
  case DType::kBFloat16:
    return bf16_to_f32(f32_to_bf16(rounded));
  }
  return rounded;
}

bool close(double got, double expected, Tolerance tolerance) {
  if (std::isnan(expected) || std::isnan(got)) {
    return std::isnan(expected) && std::isnan(got);
  }
  if (std::isinf(expected) || std::isinf(got)) {
    return got == expected;
  }
  return std::fabs(got - expected) <= tolerance.atol + tolerance.rtol * std::fabs(expected);
}

const char* dtype_label(DType dtype) {
  return kget_kernels::dtype_name(dtype);
}

Tolerance dtype_tolerance(DType dtype) {
  switch (dtype) {
  case DType::kFloat32:
    return {5e-6, 1e-8};
  case DType::kFloat16:
    return {1.5e-3, 2e-6};
  case DType::kBFloat16:
    return {1e-2, 2e-5};
  }
  return {0, 0};
}

std::vector<double> reference_rms_norm(const HostTensor& input, const HostTensor& weight,
                                       double eps) {
  const int64_t hidden = input.shape().empty() ? 1 : input.shape().back();
  const int64_t rows = hidden > 0 ? input.numel() / hidden : 0;
  std::vector<double> result(static_cast<size_t>(input.numel()));
  for (int64_t row = 0; row < rows; ++row) {
    double sum = 0.0;
    for (int64_t i = 0; i < hidden; ++i) {
      sum += input.get(row * hidden + i) * input.get(row * hidden + i);
    }
    const double inverse = 1.0 / std::sqrt(sum / static_cast<double>(hidden) + eps);
    for (int64_t i = 0; i < hidden; ++i) {
      result[static_cast<size_t>(row * hidden + i)] =
          input.get(row * hidden + i) * inverse * weight.get(i);
    }
  }
  return result;
}

double reference_gelu_tanh(double x) {
  const double u = std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x);
  return x / (1.0 + std::exp(-2.0 * u));
}

double reference_gelu_erf(double x) {
  return 0.5 * x * std::erfc(-x / std::sqrt(2.0));
}

double reference_silu(double x) {
  return x / (1.0 + std::exp(-x));
}

std::string extents_text(const std::vector<int64_t>& values) {
  std::string text = "[";
  for (size_t i = 0; i < values.size(); ++i) {
    text += (i ? ", " : "") + std::to_string(values[i]);
  }
  return text + "]";
}

std::string forced_isa() {
  const char* value = std::getenv("KGET_KERNEL_CPU_ISA");
  if (!value || std::strcmp(value, "auto") == 0) {
    return "";
  }
  return value;
}

#if defined(__x86_64__)
// CPUID.1:ECX.F16C[bit 29], read directly: clang 14's __builtin_cpu_supports does not know "f16c".
static bool has_f16c() {
  unsigned eax = 0;
  unsigned ebx = 0;
  unsigned ecx = 0;
  unsigned edx = 0;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & (1u << 29)) != 0;
}
#endif

bool forced_isa_runs_here() {
  const std::string isa = forced_isa();
#if defined(__x86_64__)
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && has_f16c();
  if (isa == "avx2") {
    return avx2;
  }
  if (isa == "avx512") {
#ifdef KGET_KERNEL_TESTS_AVX512_EMULATED
    return avx2; // the test libraries emulate AVX-512 with AVX2
#else
    return avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#endif
  }
#else
  if (isa == "avx2" || isa == "avx512") {
    return false;
  }
#endif
  return true;
}

} // namespace kget_kernel_tests
