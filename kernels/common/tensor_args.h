// Reading and validating op arguments (kget_arg, DLTensor) with the messages docs/kernel-abi.md
// asks for: "argument <index> (<name>): expected ..., got ...".
//
// Every check returns a kget_kernel_status: KGET_KERNEL_OK, or the failure after writing its
// message into `error`. Ops chain them with KGET_KERNEL_CHECK. The checks are backend-neutral:
// an op validates once, then dispatches on the tensors' device.
#pragma once

#include "storage_types.h"

#include <cstddef>
#include <cstdint>
#include <kget/kernel_abi.h>

// Returns from the enclosing function when `expr` (a status) is not KGET_KERNEL_OK.
#define KGET_KERNEL_CHECK(expr)                                                                    \
  do {                                                                                             \
    const int kget_kernel_status_ = (expr);                                                        \
    if (kget_kernel_status_ != KGET_KERNEL_OK) {                                                   \
      return kget_kernel_status_;                                                                  \
    }                                                                                              \
  } while (0)

namespace kget_kernels {

// Where an op's tensors live, as far as choosing a backend goes.
enum class Backend { kCpu, kCuda };

// A tensor argument that passed the per-tensor checks of Args::tensor: a well-formed shape and
// a dtype the kernels implement. Layout, device and data are checked by the functions below.
struct Tensor {
  const DLTensor* dl = nullptr;
  size_t index = 0;
  const char* name = "";
  DType dtype = DType::kFloat32;
  int64_t element_size = 4;
  int64_t numel = 0;

  int ndim() const { return dl->ndim; }
  int64_t size(int dim) const { return dl->shape[dim]; }
  // In elements; the row-major stride when DLTensor::strides is NULL.
  int64_t stride(int dim) const;
  // The first element: data + byte_offset.
  char* data() const { return static_cast<char*>(kget_tensor_data(dl)); }
};

// The op's argument list. `signature` is the schema's parameter list, for the count message.
class Args {
public:
  Args(const kget_arg* args, size_t nargs, const char* signature, kget_error* error)
      : args_(args), nargs_(nargs), signature_(signature), error_(error) {}

  int check_count(size_t expected) const;
  // A non-NULL DLTensor with ndim >= 0, extents >= 0, fewer than 2^63 elements, and dtype
  // float32, float16 or bfloat16 (lanes 1).
  int tensor(size_t index, const char* name, Tensor* out) const;
  // A non-NULL DLTensor with ndim >= 0, extents >= 0 and fewer than 2^63 elements, of any dtype
  // (tensor() above adds the dtype check): for ops that take other dtypes, such as int32 offsets.
  int dl_tensor(size_t index, const char* name, const DLTensor** out) const;
  // A finite float.
  int float_value(size_t index, const char* name, double* out) const;
  // An int.
  int int_value(size_t index, const char* name, int64_t* out) const;
  // A bool, 0 or 1.
  int bool_value(size_t index, const char* name, bool* out) const;
  // A Stream (its value is the backend's business; CPU ops ignore it).
  int stream(size_t index, const char* name, void** out) const;

  kget_error* error() const { return error_; }

private:
  int check_kind(size_t index, const char* name, int32_t kind) const;

  const kget_arg* args_;
  size_t nargs_;
  const char* signature_;
  kget_error* error_;
};

// All tensors are on devices one backend of this build runs: host memory (kDLCPU, kDLCUDAHost)
// for the CPU backend; one CUDA device (kDLCUDA) when built with KGET_KERNEL_WITH_CUDA. Sets
// *backend from the first tensor.
int check_devices(const Tensor* const* tensors, size_t count, Backend* backend, kget_error* error);

// `tensor` has the dtype of `reference`.
int check_dtype_like(const Tensor& tensor, const Tensor& reference, kget_error* error);
// `tensor` has the shape of `reference`.
int check_shape_like(const Tensor& tensor, const Tensor& reference, kget_error* error);
// `tensor` has at least `ndim` dimensions.
int check_min_ndim(const Tensor& tensor, int ndim, kget_error* error);
// `tensor` is 1-D with `size` elements.
int check_vector(const Tensor& tensor, int64_t size, const char* size_name, kget_error* error);
// The leading dimensions (all but the last) of `tensor` and `reference` have the same extents.
int check_leading_shape_like(const Tensor& tensor, const Tensor& reference, kget_error* error);

// Memory checks, shared by every layout: non-negative strides, an address range that fits in
// the address space, data non-NULL when there are elements, data aligned to the element size,
// and for a written tensor (`written`) no two elements at one address.
int check_memory(const Tensor& tensor, bool written, kget_error* error);
// The last dimension has stride 1 (or extent <= 1): rows are contiguous, any leading strides.
int check_rows_contiguous(const Tensor& tensor, kget_error* error);
// Compact row-major.
int check_contiguous(const Tensor& tensor, kget_error* error);

// `written` and `other` share no byte (compared as address ranges, so interleaved views of one
// buffer count as overlapping).
int check_disjoint(const Tensor& written, const Tensor& other, kget_error* error);
// Either disjoint, or exactly the same elements (same first element, shape and strides): the
// op runs in place.
int check_same_or_disjoint(const Tensor& written, const Tensor& other, kget_error* error);

} // namespace kget_kernels
