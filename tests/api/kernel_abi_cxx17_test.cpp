// include/kget/kernel_abi.h compiles as C++17 (this file is built with -std=c++17 -Wall -Wextra
// -Wpedantic -Werror), its layout assertions hold there too, and its types and helpers behave as
// in C: a C++ kernel is written against the same header.
#include <cstdio>
#include <cstring>
#include <kget/kernel_abi.h>
#include <stdexcept>
#include <type_traits>

static_assert(__cplusplus == 201703L, "this test must be compiled as C++17");
static_assert(KGET_KERNEL_ABI_OWN_DLPACK == 1, "no dlpack.h here: kget declares DLPack's types");
static_assert(KGET_KERNEL_ABI_VERSION_MAJOR == 1 && KGET_KERNEL_ABI_VERSION_MINOR == 0);

// Everything that crosses the boundary is a plain C type: copyable with memcpy, no constructors.
static_assert(std::is_standard_layout_v<DLTensor> && std::is_trivial_v<DLTensor>);
static_assert(std::is_standard_layout_v<kget_arg> && std::is_trivial_v<kget_arg>);
static_assert(std::is_standard_layout_v<kget_op> && std::is_trivial_v<kget_op>);
static_assert(std::is_standard_layout_v<kget_kernel_descriptor> &&
              std::is_trivial_v<kget_kernel_descriptor>);
static_assert(std::is_standard_layout_v<kget_error> && std::is_trivial_v<kget_error>);
// DLPack fixes the device type's underlying type at int32_t in C++.
static_assert(std::is_same_v<std::underlying_type_t<DLDeviceType>, int32_t>);
static_assert(sizeof(kget_arg) == 16 && offsetof(kget_arg, value) == 8);
static_assert(sizeof(DLTensor) == 48 && offsetof(DLTensor, byte_offset) == 40);
static_assert(sizeof(kget_kernel_descriptor) == 40 && sizeof(kget_op) == 32);
static_assert(kDLCUDAManaged == 13 && kDLBfloat == 4 && kDLFloat8_e5m2 == 12);
static_assert(std::is_same_v<kget_kernel_init_fn, decltype(&kget_kernel_init)>);

namespace {

int failures = 0;
int passes = 0;

void check(bool ok, const char* what) {
  if (ok) {
    ++passes;
  } else {
    ++failures;
    std::fprintf(stderr, "FAIL: %s\n", what);
  }
}

// An op written in C++: exceptions stay inside, as docs/kernel-abi.md requires.
int scale(const kget_arg* args, size_t nargs, kget_error* error) noexcept {
  try {
    if (nargs != 2 || args[0].kind != KGET_ARG_TENSOR || args[1].kind != KGET_ARG_FLOAT) {
      return kget_set_error(error, KGET_KERNEL_ERROR_INVALID_ARGUMENT,
                            "expected (Tensor! out, float factor), got %zu arguments", nargs);
    }
    const DLTensor* out = args[0].value.tensor;
    if (!kget_dtype_is(out->dtype, kDLFloat, 32)) {
      throw std::runtime_error("not float32");
    }
    auto* data = static_cast<float*>(kget_tensor_data(out));
    for (int64_t i = 0; i < kget_tensor_numel(out); ++i) {
      data[i] = static_cast<float>(data[i] * args[1].value.f);
    }
    return KGET_KERNEL_OK;
  } catch (const std::exception& exception) {
    return kget_set_error(error, KGET_KERNEL_ERROR_INVALID_ARGUMENT, "%s", exception.what());
  }
}

} // namespace

int main() {
  float values[3] = {1.0f, -2.0f, 4.0f};
  int64_t shape[1] = {3};
  DLTensor tensor{};
  tensor.data = values;
  tensor.device = DLDevice{kDLCPU, 0};
  tensor.ndim = 1;
  tensor.dtype = DLDataType{kDLFloat, 32, 1};
  tensor.shape = shape;

  kget_arg args[2]{};
  args[0].kind = KGET_ARG_TENSOR;
  args[0].value.tensor = &tensor;
  args[1].kind = KGET_ARG_FLOAT;
  args[1].value.f = 0.5;
  kget_error error{};
  check(scale(args, 2, &error) == KGET_KERNEL_OK, "a C++ op through kget_arg");
  check(values[0] == 0.5f && values[1] == -1.0f && values[2] == 2.0f, "its values");

  tensor.dtype = DLDataType{kDLBfloat, 16, 1};
  check(scale(args, 2, &error) == KGET_KERNEL_ERROR_INVALID_ARGUMENT &&
            std::strcmp(error.message, "not float32") == 0,
        "an exception becomes a status and a message");
  check(std::strcmp(kget_dtype_name(tensor.dtype), "bfloat16") == 0, "kget_dtype_name");
  check(std::strcmp(kget_arg_kind_name(KGET_ARG_STREAM), "stream") == 0, "kget_arg_kind_name");
  check(std::strcmp(kget_arg_kind_name(99), "unknown") == 0, "unknown kinds");
  check(kget_tensor_is_contiguous(&tensor) && kget_tensor_same_shape(&tensor, &tensor),
        "tensor helpers");

  const kget_op op{"scale", "scale(Tensor! out, float factor) -> ()", scale, nullptr};
  const kget_kernel_descriptor descriptor{
      KGET_KERNEL_ABI_VERSION_MAJOR, KGET_KERNEL_ABI_VERSION_MINOR, "scale", "1", 1, &op};
  check(descriptor.num_ops == 1 && descriptor.ops[0].call == scale, "aggregate init");

  std::printf("%d passed, %d failed\n", passes, failures);
  return failures == 0 ? 0 : 1;
}
