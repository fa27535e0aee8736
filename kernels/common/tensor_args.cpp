#include "tensor_args.h"

#include "dtype.h"

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <utility>

namespace kget_kernels {
namespace {

constexpr int kInvalid = KGET_KERNEL_ERROR_INVALID_ARGUMENT;

// "[2, 3, 4]", truncated with "..." when it does not fit.
void format_extents(const int64_t* values, int ndim, char* buffer, size_t size) {
  size_t used = static_cast<size_t>(std::snprintf(buffer, size, "["));
  for (int d = 0; d < ndim && used < size; ++d) {
    used += static_cast<size_t>(
        std::snprintf(buffer + used, size - used, "%s%" PRId64, d ? ", " : "", values[d]));
  }
  if (used < size) {
    std::snprintf(buffer + used, size - used, "]");
  } else if (size > 4) {
    std::snprintf(buffer + size - 4, 4, "...");
  }
}

struct Extents {
  char text[96];
};

Extents shape_of(const Tensor& tensor) {
  Extents extents;
  format_extents(tensor.dl->shape, tensor.ndim(), extents.text, sizeof extents.text);
  return extents;
}

Extents strides_of(const Tensor& tensor) {
  Extents extents;
  int64_t strides[64];
  const int ndim = tensor.ndim() < 64 ? tensor.ndim() : 64;
  for (int d = 0; d < ndim; ++d) {
    strides[d] = tensor.stride(d);
  }
  format_extents(strides, ndim, extents.text, sizeof extents.text);
  return extents;
}

bool is_host(DLDeviceType type) {
  return type == kDLCPU || type == kDLCUDAHost;
}

struct DeviceText {
  char text[48];
};

DeviceText describe_device(const DLDevice& device) {
  DeviceText result;
  switch (device.device_type) {
  case kDLCPU:
    std::snprintf(result.text, sizeof result.text, "CPU");
    break;
  case kDLCUDAHost:
    std::snprintf(result.text, sizeof result.text, "CUDA pinned host memory");
    break;
  case kDLCUDA:
    std::snprintf(result.text, sizeof result.text, "CUDA device %d", device.device_id);
    break;
  case kDLCUDAManaged:
    std::snprintf(result.text, sizeof result.text, "CUDA managed memory (device %d)",
                  device.device_id);
    break;
  default:
    std::snprintf(result.text, sizeof result.text, "DLPack device type %d (id %d)",
                  static_cast<int>(device.device_type), device.device_id);
    break;
  }
  return result;
}

// The largest element offset (sum of (extent - 1) * stride), or false on int64 overflow.
// Assumes non-negative strides and no zero extent.
bool max_element_offset(const Tensor& tensor, int64_t* result) {
  int64_t offset = 0;
  for (int d = 0; d < tensor.ndim(); ++d) {
    const int64_t steps = tensor.size(d) - 1;
    const int64_t stride = tensor.stride(d);
    if (steps > 0 && stride > (INT64_MAX - offset) / steps) {
      return false;
    }
    offset += steps * stride;
  }
  *result = offset;
  return true;
}

// Bytes from the first element to one past the last, as checked by check_memory.
uint64_t byte_span(const Tensor& tensor) {
  int64_t offset = 0;
  max_element_offset(tensor, &offset);
  return static_cast<uint64_t>(offset + 1) * static_cast<uint64_t>(tensor.element_size);
}

// True when two index tuples may reach one element: the dimensions sorted by stride must each
// step past everything the smaller ones reach. Sufficient for "no overlap", and exact for the
// layouts frameworks produce.
bool may_self_overlap(const Tensor& tensor) {
  int64_t strides[64];
  int64_t extents[64];
  int count = 0;
  for (int d = 0; d < tensor.ndim(); ++d) {
    if (tensor.size(d) > 1) {
      if (count == 64) {
        return true;
      }
      strides[count] = tensor.stride(d);
      extents[count] = tensor.size(d);
      ++count;
    }
  }
  for (int i = 1; i < count; ++i) { // insertion sort by stride: ndim is small
    for (int j = i; j > 0 && strides[j] < strides[j - 1]; --j) {
      std::swap(strides[j], strides[j - 1]);
      std::swap(extents[j], extents[j - 1]);
    }
  }
  int64_t reach = 1; // elements spanned by the dimensions so far
  for (int i = 0; i < count; ++i) {
    if (strides[i] < reach) {
      return true;
    }
    reach = strides[i] * (extents[i] - 1) + reach; // fits: max_element_offset was checked
  }
  return false;
}

bool same_layout(const Tensor& a, const Tensor& b) {
  if (a.ndim() != b.ndim() || a.element_size != b.element_size) {
    return false;
  }
  for (int d = 0; d < a.ndim(); ++d) {
    if (a.size(d) != b.size(d) || (a.size(d) > 1 && a.stride(d) != b.stride(d))) {
      return false;
    }
  }
  return true;
}

} // namespace

int64_t Tensor::stride(int dim) const {
  if (dl->strides) {
    return dl->strides[dim];
  }
  int64_t stride = 1;
  for (int d = dl->ndim - 1; d > dim; --d) {
    stride *= dl->shape[d];
  }
  return stride;
}

int Args::check_count(size_t expected) const {
  if (nargs_ != expected || (!args_ && expected > 0)) {
    return kget_set_error(error_, kInvalid, "expected %zu arguments (%s), got %zu%s", expected,
                          signature_, nargs_, args_ ? "" : " and a NULL argument array");
  }
  return KGET_KERNEL_OK;
}

int Args::check_kind(size_t index, const char* name, int32_t kind) const {
  if (args_[index].kind != kind) {
    return kget_set_error(error_, kInvalid, "argument %zu (%s): expected a %s, got %s", index, name,
                          kget_arg_kind_name(kind), kget_arg_kind_name(args_[index].kind));
  }
  return KGET_KERNEL_OK;
}

int Args::dl_tensor(size_t index, const char* name, const DLTensor** out) const {
  KGET_KERNEL_CHECK(check_kind(index, name, KGET_ARG_TENSOR));
  const DLTensor* dl = args_[index].value.tensor;
  if (!dl) {
    return kget_set_error(error_, kInvalid, "argument %zu (%s): the DLTensor pointer is NULL",
                          index, name);
  }
  if (kget_tensor_numel(dl) < 0) {
    return kget_set_error(error_, kInvalid,
                          "argument %zu (%s): expected ndim >= 0, extents >= 0 and fewer than "
                          "2^63 elements, got a malformed shape (ndim %d)",
                          index, name, static_cast<int>(dl->ndim));
  }
  *out = dl;
  return KGET_KERNEL_OK;
}

int Args::tensor(size_t index, const char* name, Tensor* out) const {
  const DLTensor* dl = nullptr;
  KGET_KERNEL_CHECK(dl_tensor(index, name, &dl));
  const int64_t numel = kget_tensor_numel(dl);
  DType dtype;
  if (!dtype_from_dlpack(dl->dtype, &dtype)) {
    const char* found = kget_dtype_name(dl->dtype);
    return kget_set_error(error_, kInvalid,
                          "argument %zu (%s): expected dtype float32, float16 or bfloat16, got "
                          "%s (code %d, bits %d, lanes %d)",
                          index, name, found ? found : "another dtype", dl->dtype.code,
                          dl->dtype.bits, dl->dtype.lanes);
  }
  out->dl = dl;
  out->index = index;
  out->name = name;
  out->dtype = dtype;
  out->element_size = dtype_size(dtype);
  out->numel = numel;
  return KGET_KERNEL_OK;
}

int Args::float_value(size_t index, const char* name, double* out) const {
  KGET_KERNEL_CHECK(check_kind(index, name, KGET_ARG_FLOAT));
  const double value = args_[index].value.f;
  if (!std::isfinite(value)) {
    return kget_set_error(error_, kInvalid, "argument %zu (%s): expected a finite number, got %g",
                          index, name, value);
  }
  *out = value;
  return KGET_KERNEL_OK;
}

int Args::int_value(size_t index, const char* name, int64_t* out) const {
  KGET_KERNEL_CHECK(check_kind(index, name, KGET_ARG_INT));
  *out = args_[index].value.i;
  return KGET_KERNEL_OK;
}

int Args::bool_value(size_t index, const char* name, bool* out) const {
  KGET_KERNEL_CHECK(check_kind(index, name, KGET_ARG_BOOL));
  const int32_t value = args_[index].value.b;
  if (value != 0 && value != 1) {
    return kget_set_error(error_, kInvalid, "argument %zu (%s): expected a bool, 0 or 1, got %d",
                          index, name, static_cast<int>(value));
  }
  *out = value == 1;
  return KGET_KERNEL_OK;
}

int Args::stream(size_t index, const char* name, void** out) const {
  KGET_KERNEL_CHECK(check_kind(index, name, KGET_ARG_STREAM));
  *out = args_[index].value.stream;
  return KGET_KERNEL_OK;
}

int check_devices(const Tensor* const* tensors, size_t count, Backend* backend, kget_error* error) {
  const Tensor& first = *tensors[0];
  const DLDevice device = first.dl->device;
  if (is_host(device.device_type)) {
    *backend = Backend::kCpu;
#ifdef KGET_KERNEL_WITH_CUDA
  } else if (device.device_type == kDLCUDA) {
    *backend = Backend::kCuda;
#endif
  } else {
#ifdef KGET_KERNEL_WITH_CUDA
    const char* expected = "a CPU tensor (kDLCPU, kDLCUDAHost) or a CUDA tensor (kDLCUDA)";
#else
    const char* expected = "a CPU tensor (kDLCPU or kDLCUDAHost): this build runs on the CPU only";
#endif
    return kget_set_error(error, kInvalid, "argument %zu (%s): expected %s, got %s", first.index,
                          first.name, expected, describe_device(device).text);
  }
  for (size_t i = 1; i < count; ++i) {
    const Tensor& tensor = *tensors[i];
    const DLDevice other = tensor.dl->device;
    const bool compatible = *backend == Backend::kCpu ? is_host(other.device_type)
                                                      : other.device_type == device.device_type &&
                                                            other.device_id == device.device_id;
    if (!compatible) {
      return kget_set_error(error, kInvalid,
                            "argument %zu (%s): expected a tensor on the device of %s (%s), got %s",
                            tensor.index, tensor.name, first.name, describe_device(device).text,
                            describe_device(other).text);
    }
  }
  return KGET_KERNEL_OK;
}

int check_dtype_like(const Tensor& tensor, const Tensor& reference, kget_error* error) {
  if (tensor.dtype != reference.dtype) {
    return kget_set_error(error, kInvalid, "argument %zu (%s): expected dtype %s like %s, got %s",
                          tensor.index, tensor.name, dtype_name(reference.dtype), reference.name,
                          dtype_name(tensor.dtype));
  }
  return KGET_KERNEL_OK;
}

int check_shape_like(const Tensor& tensor, const Tensor& reference, kget_error* error) {
  if (!kget_tensor_same_shape(tensor.dl, reference.dl)) {
    return kget_set_error(error, kInvalid, "argument %zu (%s): expected shape %s like %s, got %s",
                          tensor.index, tensor.name, shape_of(reference).text, reference.name,
                          shape_of(tensor).text);
  }
  return KGET_KERNEL_OK;
}

int check_min_ndim(const Tensor& tensor, int ndim, kget_error* error) {
  if (tensor.ndim() < ndim) {
    return kget_set_error(
        error, kInvalid, "argument %zu (%s): expected at least %d dimension%s, got shape %s",
        tensor.index, tensor.name, ndim, ndim == 1 ? "" : "s", shape_of(tensor).text);
  }
  return KGET_KERNEL_OK;
}

int check_vector(const Tensor& tensor, int64_t size, const char* size_name, kget_error* error) {
  if (tensor.ndim() != 1 || tensor.size(0) != size) {
    return kget_set_error(error, kInvalid,
                          "argument %zu (%s): expected shape [%" PRId64 "] (%s), got %s",
                          tensor.index, tensor.name, size, size_name, shape_of(tensor).text);
  }
  return KGET_KERNEL_OK;
}

int check_leading_shape_like(const Tensor& tensor, const Tensor& reference, kget_error* error) {
  bool same = tensor.ndim() == reference.ndim();
  for (int d = 0; same && d + 1 < tensor.ndim(); ++d) {
    same = tensor.size(d) == reference.size(d);
  }
  if (!same) {
    return kget_set_error(error, kInvalid,
                          "argument %zu (%s): expected the leading dimensions of %s %s, got "
                          "shape %s",
                          tensor.index, tensor.name, reference.name, shape_of(reference).text,
                          shape_of(tensor).text);
  }
  return KGET_KERNEL_OK;
}

int check_memory(const Tensor& tensor, bool written, kget_error* error) {
  if (tensor.numel == 0) {
    return KGET_KERNEL_OK; // nothing is read or written
  }
  for (int d = 0; d < tensor.ndim(); ++d) {
    if (tensor.stride(d) < 0) {
      return kget_set_error(error, kInvalid,
                            "argument %zu (%s): expected non-negative strides, got strides %s",
                            tensor.index, tensor.name, strides_of(tensor).text);
    }
  }
  int64_t last = 0;
  const char* base = tensor.data();
  if (!max_element_offset(tensor, &last) ||
      static_cast<uint64_t>(last) >= UINT64_MAX / static_cast<uint64_t>(tensor.element_size) ||
      reinterpret_cast<uintptr_t>(base) > UINTPTR_MAX - byte_span(tensor)) {
    return kget_set_error(error, kInvalid,
                          "argument %zu (%s): shape %s with strides %s reaches beyond the "
                          "address space",
                          tensor.index, tensor.name, shape_of(tensor).text,
                          strides_of(tensor).text);
  }
  if (!tensor.dl->data) {
    return kget_set_error(error, kInvalid,
                          "argument %zu (%s): data is NULL for %" PRId64 " elements", tensor.index,
                          tensor.name, tensor.numel);
  }
  if (reinterpret_cast<uintptr_t>(base) % static_cast<uintptr_t>(tensor.element_size) != 0) {
    return kget_set_error(error, kInvalid,
                          "argument %zu (%s): expected data + byte_offset aligned to %" PRId64
                          " bytes (%s), got address %p",
                          tensor.index, tensor.name, tensor.element_size, dtype_name(tensor.dtype),
                          static_cast<const void*>(base));
  }
  if (written && may_self_overlap(tensor)) {
    return kget_set_error(error, kInvalid,
                          "argument %zu (%s): expected a written tensor whose elements do not "
                          "overlap, got shape %s with strides %s",
                          tensor.index, tensor.name, shape_of(tensor).text,
                          strides_of(tensor).text);
  }
  return KGET_KERNEL_OK;
}

int check_rows_contiguous(const Tensor& tensor, kget_error* error) {
  const int last = tensor.ndim() - 1;
  if (last >= 0 && tensor.size(last) > 1 && tensor.stride(last) != 1) {
    return kget_set_error(error, kInvalid,
                          "argument %zu (%s): expected the last dimension to be contiguous "
                          "(stride 1), got strides %s",
                          tensor.index, tensor.name, strides_of(tensor).text);
  }
  return KGET_KERNEL_OK;
}

int check_contiguous(const Tensor& tensor, kget_error* error) {
  if (!kget_tensor_is_contiguous(tensor.dl)) {
    return kget_set_error(error, kInvalid,
                          "argument %zu (%s): expected a contiguous tensor, got shape %s with "
                          "strides %s",
                          tensor.index, tensor.name, shape_of(tensor).text,
                          strides_of(tensor).text);
  }
  return KGET_KERNEL_OK;
}

int check_disjoint(const Tensor& written, const Tensor& other, kget_error* error) {
  if (written.numel == 0 || other.numel == 0) {
    return KGET_KERNEL_OK;
  }
  const uintptr_t a = reinterpret_cast<uintptr_t>(written.data());
  const uintptr_t b = reinterpret_cast<uintptr_t>(other.data());
  if (a < b + byte_span(other) && b < a + byte_span(written)) {
    return kget_set_error(error, kInvalid, "argument %zu (%s): expected memory disjoint from %s",
                          written.index, written.name, other.name);
  }
  return KGET_KERNEL_OK;
}

int check_same_or_disjoint(const Tensor& written, const Tensor& other, kget_error* error) {
  if (written.data() == other.data() && same_layout(written, other)) {
    return KGET_KERNEL_OK;
  }
  if (written.numel == 0 || other.numel == 0) {
    return KGET_KERNEL_OK;
  }
  const uintptr_t a = reinterpret_cast<uintptr_t>(written.data());
  const uintptr_t b = reinterpret_cast<uintptr_t>(other.data());
  if (a < b + byte_span(other) && b < a + byte_span(written)) {
    return kget_set_error(error, kInvalid,
                          "argument %zu (%s): expected either exactly the memory of %s (in "
                          "place) or memory disjoint from it, got a partial overlap",
                          written.index, written.name, other.name);
  }
  return KGET_KERNEL_OK;
}

} // namespace kget_kernels
