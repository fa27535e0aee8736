// kernels-community/flash-attn3: the kget C ABI glue. Validates every argument once, then hands
// an AttentionProblem to the backend of the tensors' device (cpu/ now; the CUDA path is not
// there yet). Semantics and rules: docs/attention.md.
#include "../common/dtype.h"
#include "../common/op_guard.h"
#include "../common/tensor_args.h"
#include "cpu/flash_attn_cpu.h"
#include "flash_attn_problem.h"

#include <cfloat>
#include <cinttypes>
#include <cstdio>
#include <kget/kernel_abi.h>
#include <string>

namespace kget_kernels::flash_attn3 {
namespace {

constexpr int kInvalid = KGET_KERNEL_ERROR_INVALID_ARGUMENT;

constexpr const char* kMhaFwdParameters =
    "Tensor! out, Tensor! softmax_lse, Tensor q, Tensor k, Tensor v, float softmax_scale, "
    "bool causal, int window_left, int window_right, float softcap, Stream stream";
constexpr const char* kMhaVarlenFwdParameters =
    "Tensor! out, Tensor! softmax_lse, Tensor q, Tensor k, Tensor v, Tensor cu_seqlens_q, "
    "Tensor cu_seqlens_k, int max_seqlen_q, int max_seqlen_k, float softmax_scale, bool causal, "
    "int window_left, int window_right, float softcap, Stream stream";
constexpr const char* kMhaFwdSchema =
    "mha_fwd(Tensor! out, Tensor! softmax_lse, Tensor q, Tensor k, Tensor v, float softmax_scale, "
    "bool causal, int window_left, int window_right, float softcap, Stream stream) -> ()";
constexpr const char* kMhaVarlenFwdSchema =
    "mha_varlen_fwd(Tensor! out, Tensor! softmax_lse, Tensor q, Tensor k, Tensor v, "
    "Tensor cu_seqlens_q, Tensor cu_seqlens_k, int max_seqlen_q, int max_seqlen_k, "
    "float softmax_scale, bool causal, int window_left, int window_right, float softcap, "
    "Stream stream) -> ()";

constexpr int64_t kHeadDims[] = {64, 128, 256};

std::string shape_text(const DLTensor* tensor) {
  std::string text = "[";
  for (int d = 0; d < tensor->ndim; ++d) {
    if (d) {
      text += ", ";
    }
    text += std::to_string(tensor->shape[d]);
  }
  return text + "]";
}

// A window size: -1 (unbounded) or a number of keys >= 0.
int read_window(const Args& args, size_t index, const char* name, int64_t* out) {
  int64_t value = 0;
  KGET_KERNEL_CHECK(args.int_value(index, name, &value));
  if (value < -1) {
    return kget_set_error(args.error(), kInvalid,
                          "argument %zu (%s): expected -1 (unbounded) or a number of keys >= 0, "
                          "got %" PRId64,
                          index, name, value);
  }
  *out = value;
  return KGET_KERNEL_OK;
}

// A max_seqlen: 0 to INT32_MAX (cu_seqlens are int32).
int read_max_seqlen(const Args& args, size_t index, const char* name, int64_t* out) {
  int64_t value = 0;
  KGET_KERNEL_CHECK(args.int_value(index, name, &value));
  if (value < 0 || value > INT32_MAX) {
    return kget_set_error(args.error(), kInvalid,
                          "argument %zu (%s): expected a length from 0 to %d, got %" PRId64, index,
                          name, INT32_MAX, value);
  }
  *out = value;
  return KGET_KERNEL_OK;
}

int read_float32(const Args& args, size_t index, const char* name, double low, float* out) {
  double value = 0.0;
  KGET_KERNEL_CHECK(args.float_value(index, name, &value));
  if (value < low || value > FLT_MAX) {
    return kget_set_error(args.error(), kInvalid,
                          "argument %zu (%s): expected a number from %g to %g (float32), got %g",
                          index, name, low, static_cast<double>(FLT_MAX), value);
  }
  *out = static_cast<float>(value);
  return KGET_KERNEL_OK;
}

// An int32 cu_seqlens tensor: shape [batch + 1], contiguous, readable host memory. Args::tensor
// takes floating-point dtypes only, so this takes the DLTensor from Args::dl_tensor and fills a
// Tensor whose dtype field is only a 4-byte placeholder for the memory checks.
int read_cu_seqlens(const Args& args, size_t index, const char* name, Tensor* out) {
  kget_error* error = args.error();
  const DLTensor* dl = nullptr;
  KGET_KERNEL_CHECK(args.dl_tensor(index, name, &dl));
  const int64_t numel = kget_tensor_numel(dl);
  if (!kget_dtype_is(dl->dtype, kDLInt, 32)) {
    const char* found = kget_dtype_name(dl->dtype);
    return kget_set_error(error, kInvalid,
                          "argument %zu (%s): expected dtype int32, got %s (code %d, bits %d, "
                          "lanes %d)",
                          index, name, found ? found : "another dtype", dl->dtype.code,
                          dl->dtype.bits, dl->dtype.lanes);
  }
  if (dl->ndim != 1 || dl->shape[0] < 1) {
    return kget_set_error(error, kInvalid,
                          "argument %zu (%s): expected shape [batch + 1] (at least one element), "
                          "got %s",
                          index, name, shape_text(dl).c_str());
  }
  out->dl = dl;
  out->index = index;
  out->name = name;
  out->dtype = DType::kFloat32; // 4 bytes, like int32: for check_memory only
  out->element_size = 4;
  out->numel = numel;
  if (reinterpret_cast<uintptr_t>(kget_tensor_data(dl)) % 4 != 0) {
    return kget_set_error(error, kInvalid,
                          "argument %zu (%s): expected data + byte_offset aligned to 4 bytes "
                          "(int32), got address %p",
                          index, name, kget_tensor_data(dl));
  }
  return KGET_KERNEL_OK;
}

int check_ndim(const Tensor& tensor, int ndim, const char* layout, kget_error* error) {
  if (tensor.ndim() != ndim) {
    return kget_set_error(error, kInvalid, "argument %zu (%s): expected %d dimensions %s, got %s",
                          tensor.index, tensor.name, ndim, layout, shape_text(tensor.dl).c_str());
  }
  return KGET_KERNEL_OK;
}

// tensor.size(dim) == expected; `what` names the dimension, `source` where `expected` is from.
int check_extent(const Tensor& tensor, int dim, int64_t expected, const char* what,
                 const char* source, kget_error* error) {
  if (tensor.size(dim) != expected) {
    return kget_set_error(
        error, kInvalid,
        "argument %zu (%s): expected dimension %d (%s) to be %" PRId64 " as in %s, got shape %s",
        tensor.index, tensor.name, dim, what, expected, source, shape_text(tensor.dl).c_str());
  }
  return KGET_KERNEL_OK;
}

int check_half_dtype(const Tensor& q, kget_error* error) {
  if (q.dtype != DType::kFloat16 && q.dtype != DType::kBFloat16) {
    return kget_set_error(error, kInvalid,
                          "argument %zu (%s): expected dtype float16 or bfloat16, got %s", q.index,
                          q.name, dtype_name(q.dtype));
  }
  return KGET_KERNEL_OK;
}

int check_head_dim(const Tensor& q, int64_t head_dim, kget_error* error) {
  for (const int64_t supported : kHeadDims) {
    if (head_dim == supported) {
      return KGET_KERNEL_OK;
    }
  }
  return kget_set_error(error, KGET_KERNEL_ERROR_UNSUPPORTED,
                        "argument %zu (%s): head_dim %" PRId64
                        " is not supported; supported head dims: 64, 128, 256",
                        q.index, q.name, head_dim);
}

int check_heads(const Tensor& k, int64_t heads_q, int64_t heads_kv, kget_error* error) {
  if (heads_kv < 1 || heads_q % heads_kv != 0) {
    return kget_set_error(error, kInvalid,
                          "argument %zu (%s): expected heads_kv >= 1 dividing heads_q = %" PRId64
                          " (GQA/MQA), got heads_kv = %" PRId64 " (shape %s)",
                          k.index, k.name, heads_q, heads_kv, shape_text(k.dl).c_str());
  }
  return KGET_KERNEL_OK;
}

struct Options {
  float softmax_scale = 1.0f;
  bool causal = false;
  int64_t window_left = -1;
  int64_t window_right = -1;
  float softcap = 0.0f;
};

// The five scalars from `first` on: softmax_scale, causal, window_left, window_right, softcap.
int read_options(const Args& args, size_t first, Options* options) {
  KGET_KERNEL_CHECK(read_float32(args, first, "softmax_scale", -FLT_MAX, &options->softmax_scale));
  KGET_KERNEL_CHECK(args.bool_value(first + 1, "causal", &options->causal));
  KGET_KERNEL_CHECK(read_window(args, first + 2, "window_left", &options->window_left));
  KGET_KERNEL_CHECK(read_window(args, first + 3, "window_right", &options->window_right));
  KGET_KERNEL_CHECK(read_float32(args, first + 4, "softcap", 0.0, &options->softcap));
  return KGET_KERNEL_OK;
}

void apply_options(const Options& options, AttentionProblem* problem) {
  problem->softmax_scale = options.softmax_scale;
  problem->softcap = options.softcap;
  problem->window_left = options.window_left;
  // causal is the window's right edge on the (bottom-right aligned) diagonal.
  problem->window_right = options.causal ? 0 : options.window_right;
}

// The layout checks both ops share once the shapes are known: memory, unit last strides, and
// which tensors may share memory (none of the written ones with anything).
int check_layouts(const Tensor& out, const Tensor& lse, const Tensor& q, const Tensor& k,
                  const Tensor& v, kget_error* error) {
  KGET_KERNEL_CHECK(check_memory(out, true, error));
  KGET_KERNEL_CHECK(check_memory(lse, true, error));
  KGET_KERNEL_CHECK(check_memory(q, false, error));
  KGET_KERNEL_CHECK(check_memory(k, false, error));
  KGET_KERNEL_CHECK(check_memory(v, false, error));
  KGET_KERNEL_CHECK(check_rows_contiguous(out, error));
  KGET_KERNEL_CHECK(check_rows_contiguous(q, error));
  KGET_KERNEL_CHECK(check_rows_contiguous(k, error));
  KGET_KERNEL_CHECK(check_rows_contiguous(v, error));
  const Tensor* inputs[] = {&q, &k, &v};
  for (const Tensor* input : inputs) {
    KGET_KERNEL_CHECK(check_disjoint(out, *input, error));
    KGET_KERNEL_CHECK(check_disjoint(lse, *input, error));
  }
  return check_disjoint(out, lse, error);
}

int check_lse_dtype(const Tensor& lse, kget_error* error) {
  if (lse.dtype != DType::kFloat32) {
    return kget_set_error(error, kInvalid, "argument %zu (%s): expected dtype float32, got %s",
                          lse.index, lse.name, dtype_name(lse.dtype));
  }
  return KGET_KERNEL_OK;
}

int dispatch(Backend backend, const AttentionProblem& problem, kget_error* error) {
  if (backend == Backend::kCpu) {
    return run_cpu(problem, error);
  }
  // check_devices accepts CUDA tensors only in a CUDA build, and there is none yet.
  return kget_set_error(error, KGET_KERNEL_ERROR_INTERNAL, "no backend for this device");
}

int mha_fwd(const kget_arg* raw_args, size_t nargs, kget_error* error) {
  const Args args(raw_args, nargs, kMhaFwdParameters, error);
  KGET_KERNEL_CHECK(args.check_count(11));
  Tensor out;
  Tensor lse;
  Tensor q;
  Tensor k;
  Tensor v;
  Options options;
  AttentionProblem problem;
  KGET_KERNEL_CHECK(args.tensor(0, "out", &out));
  KGET_KERNEL_CHECK(args.tensor(1, "softmax_lse", &lse));
  KGET_KERNEL_CHECK(args.tensor(2, "q", &q));
  KGET_KERNEL_CHECK(args.tensor(3, "k", &k));
  KGET_KERNEL_CHECK(args.tensor(4, "v", &v));
  KGET_KERNEL_CHECK(read_options(args, 5, &options));
  KGET_KERNEL_CHECK(args.stream(10, "stream", &problem.stream));

  const Tensor* tensors[] = {&out, &lse, &q, &k, &v};
  Backend backend = Backend::kCpu;
  KGET_KERNEL_CHECK(check_devices(tensors, 5, &backend, error));
  KGET_KERNEL_CHECK(check_ndim(q, 4, "(batch, seqlen_q, heads_q, head_dim)", error));
  KGET_KERNEL_CHECK(check_half_dtype(q, error));
  const int64_t batch = q.size(0);
  const int64_t seqlen_q = q.size(1);
  const int64_t heads_q = q.size(2);
  const int64_t head_dim = q.size(3);
  KGET_KERNEL_CHECK(check_ndim(k, 4, "(batch, seqlen_k, heads_kv, head_dim)", error));
  KGET_KERNEL_CHECK(check_dtype_like(k, q, error));
  KGET_KERNEL_CHECK(check_extent(k, 0, batch, "batch", "q", error));
  KGET_KERNEL_CHECK(check_extent(k, 3, head_dim, "head_dim", "q", error));
  KGET_KERNEL_CHECK(check_dtype_like(v, q, error));
  KGET_KERNEL_CHECK(check_shape_like(v, k, error));
  KGET_KERNEL_CHECK(check_heads(k, heads_q, k.size(2), error));
  KGET_KERNEL_CHECK(check_head_dim(q, head_dim, error));
  KGET_KERNEL_CHECK(check_dtype_like(out, q, error));
  KGET_KERNEL_CHECK(check_shape_like(out, q, error));
  KGET_KERNEL_CHECK(check_lse_dtype(lse, error));
  KGET_KERNEL_CHECK(check_ndim(lse, 3, "(batch, heads_q, seqlen_q)", error));
  KGET_KERNEL_CHECK(check_extent(lse, 0, batch, "batch", "q", error));
  KGET_KERNEL_CHECK(check_extent(lse, 1, heads_q, "heads_q", "q", error));
  KGET_KERNEL_CHECK(check_extent(lse, 2, seqlen_q, "seqlen_q", "q", error));
  KGET_KERNEL_CHECK(check_layouts(out, lse, q, k, v, error));

  problem.dtype = q.dtype;
  problem.batch = batch;
  problem.heads_q = heads_q;
  problem.heads_kv = k.size(2);
  problem.head_dim = head_dim;
  const auto sequences = static_cast<size_t>(batch);
  problem.q_start.assign(sequences, 0);
  problem.k_start.assign(sequences, 0);
  problem.seqlen_q.assign(sequences, seqlen_q);
  problem.seqlen_k.assign(sequences, k.size(1));
  problem.q = q.data();
  problem.k = k.data();
  problem.v = v.data();
  problem.out = out.data();
  problem.lse = reinterpret_cast<float*>(lse.data());
  problem.q_strides = {q.stride(0), q.stride(1), q.stride(2)};
  problem.k_strides = {k.stride(0), k.stride(1), k.stride(2)};
  problem.v_strides = {v.stride(0), v.stride(1), v.stride(2)};
  problem.out_strides = {out.stride(0), out.stride(1), out.stride(2)};
  problem.lse_strides = {lse.stride(0), lse.stride(2), lse.stride(1)};
  apply_options(options, &problem);
  problem.device = q.dl->device.device_id;
  return dispatch(backend, problem, error);
}

// cu_seqlens[0] == 0, non-decreasing, cu_seqlens[batch] <= total; the longest sequence fits in
// max_seqlen (argument `max_index`). Fills the starts and lengths.
int read_offsets(const Tensor& cu_seqlens, int64_t total, const char* total_name,
                 int64_t max_seqlen, size_t max_index, const char* max_name,
                 std::vector<int64_t>* starts, std::vector<int64_t>* lengths, kget_error* error) {
  const auto* values = reinterpret_cast<const int32_t*>(cu_seqlens.data());
  const int64_t count = cu_seqlens.size(0);
  const int64_t stride = cu_seqlens.stride(0);
  if (values[0] != 0) {
    return kget_set_error(error, kInvalid,
                          "argument %zu (%s): expected element 0 to be 0, got %" PRId32,
                          cu_seqlens.index, cu_seqlens.name, values[0]);
  }
  int64_t longest = 0;
  int64_t longest_index = 0;
  for (int64_t i = 1; i < count; ++i) {
    const int32_t previous = values[(i - 1) * stride];
    const int32_t current = values[i * stride];
    if (current < previous) {
      return kget_set_error(error, kInvalid,
                            "argument %zu (%s): expected non-decreasing offsets, got element "
                            "%" PRId64 " = %" PRId32 " after %" PRId32,
                            cu_seqlens.index, cu_seqlens.name, i, current, previous);
    }
    if (current > total) {
      return kget_set_error(error, kInvalid,
                            "argument %zu (%s): expected offsets up to the %" PRId64
                            " tokens of %s, got element %" PRId64 " = %" PRId32,
                            cu_seqlens.index, cu_seqlens.name, total, total_name, i, current);
    }
    if (current - previous > longest) {
      longest = current - previous;
      longest_index = i - 1;
    }
    starts->push_back(previous);
    lengths->push_back(current - previous);
  }
  if (longest > max_seqlen) {
    return kget_set_error(error, kInvalid,
                          "argument %zu (%s): expected at least the longest sequence of %s "
                          "(sequence %" PRId64 ", %" PRId64 " tokens), got %" PRId64,
                          max_index, max_name, cu_seqlens.name, longest_index, longest, max_seqlen);
  }
  return KGET_KERNEL_OK;
}

int mha_varlen_fwd(const kget_arg* raw_args, size_t nargs, kget_error* error) {
  const Args args(raw_args, nargs, kMhaVarlenFwdParameters, error);
  KGET_KERNEL_CHECK(args.check_count(15));
  Tensor out;
  Tensor lse;
  Tensor q;
  Tensor k;
  Tensor v;
  Tensor cu_q;
  Tensor cu_k;
  int64_t max_seqlen_q = 0;
  int64_t max_seqlen_k = 0;
  Options options;
  AttentionProblem problem;
  KGET_KERNEL_CHECK(args.tensor(0, "out", &out));
  KGET_KERNEL_CHECK(args.tensor(1, "softmax_lse", &lse));
  KGET_KERNEL_CHECK(args.tensor(2, "q", &q));
  KGET_KERNEL_CHECK(args.tensor(3, "k", &k));
  KGET_KERNEL_CHECK(args.tensor(4, "v", &v));
  KGET_KERNEL_CHECK(read_cu_seqlens(args, 5, "cu_seqlens_q", &cu_q));
  KGET_KERNEL_CHECK(read_cu_seqlens(args, 6, "cu_seqlens_k", &cu_k));
  KGET_KERNEL_CHECK(read_max_seqlen(args, 7, "max_seqlen_q", &max_seqlen_q));
  KGET_KERNEL_CHECK(read_max_seqlen(args, 8, "max_seqlen_k", &max_seqlen_k));
  KGET_KERNEL_CHECK(read_options(args, 9, &options));
  KGET_KERNEL_CHECK(args.stream(14, "stream", &problem.stream));

  const Tensor* tensors[] = {&out, &lse, &q, &k, &v, &cu_q, &cu_k};
  Backend backend = Backend::kCpu;
  KGET_KERNEL_CHECK(check_devices(tensors, 7, &backend, error));
  KGET_KERNEL_CHECK(check_ndim(q, 3, "(total_q, heads_q, head_dim)", error));
  KGET_KERNEL_CHECK(check_half_dtype(q, error));
  const int64_t total_q = q.size(0);
  const int64_t heads_q = q.size(1);
  const int64_t head_dim = q.size(2);
  KGET_KERNEL_CHECK(check_ndim(k, 3, "(total_k, heads_kv, head_dim)", error));
  KGET_KERNEL_CHECK(check_dtype_like(k, q, error));
  KGET_KERNEL_CHECK(check_extent(k, 2, head_dim, "head_dim", "q", error));
  KGET_KERNEL_CHECK(check_dtype_like(v, q, error));
  KGET_KERNEL_CHECK(check_shape_like(v, k, error));
  KGET_KERNEL_CHECK(check_heads(k, heads_q, k.size(1), error));
  KGET_KERNEL_CHECK(check_head_dim(q, head_dim, error));
  KGET_KERNEL_CHECK(check_dtype_like(out, q, error));
  KGET_KERNEL_CHECK(check_shape_like(out, q, error));
  KGET_KERNEL_CHECK(check_lse_dtype(lse, error));
  KGET_KERNEL_CHECK(check_ndim(lse, 2, "(heads_q, total_q)", error));
  KGET_KERNEL_CHECK(check_extent(lse, 0, heads_q, "heads_q", "q", error));
  KGET_KERNEL_CHECK(check_extent(lse, 1, total_q, "total_q", "q", error));
  KGET_KERNEL_CHECK(check_extent(cu_k, 0, cu_q.size(0), "batch + 1", "cu_seqlens_q", error));
  KGET_KERNEL_CHECK(check_memory(cu_q, false, error));
  KGET_KERNEL_CHECK(check_memory(cu_k, false, error));
  KGET_KERNEL_CHECK(check_layouts(out, lse, q, k, v, error));
  KGET_KERNEL_CHECK(read_offsets(cu_q, total_q, "q", max_seqlen_q, 7, "max_seqlen_q",
                                 &problem.q_start, &problem.seqlen_q, error));
  KGET_KERNEL_CHECK(read_offsets(cu_k, k.size(0), "k", max_seqlen_k, 8, "max_seqlen_k",
                                 &problem.k_start, &problem.seqlen_k, error));

  problem.dtype = q.dtype;
  problem.batch = cu_q.size(0) - 1;
  problem.heads_q = heads_q;
  problem.heads_kv = k.size(1);
  problem.head_dim = head_dim;
  problem.q = q.data();
  problem.k = k.data();
  problem.v = v.data();
  problem.out = out.data();
  problem.lse = reinterpret_cast<float*>(lse.data());
  problem.q_strides = {0, q.stride(0), q.stride(1)};
  problem.k_strides = {0, k.stride(0), k.stride(1)};
  problem.v_strides = {0, v.stride(0), v.stride(1)};
  problem.out_strides = {0, out.stride(0), out.stride(1)};
  problem.lse_strides = {0, lse.stride(1), lse.stride(0)};
  apply_options(options, &problem);
  problem.device = q.dl->device.device_id;
  return dispatch(backend, problem, error);
}

// Static storage, valid for as long as the library is loaded (docs/kernel-abi.md).
constexpr kget_op kOps[] = {
    {"mha_fwd", kMhaFwdSchema, &guarded_op<mha_fwd>, nullptr},
    {"mha_varlen_fwd", kMhaVarlenFwdSchema, &guarded_op<mha_varlen_fwd>, nullptr},
};

constexpr kget_kernel_descriptor kDescriptor = {
    KGET_KERNEL_ABI_VERSION_MAJOR,
    KGET_KERNEL_ABI_VERSION_MINOR,
    "flash-attn3",
    "1",
    sizeof kOps / sizeof kOps[0],
    kOps,
};

} // namespace
} // namespace kget_kernels::flash_attn3

// Uses nothing newer than ABI 1.0, so it serves every 1.x host; another major gets NULL.
extern "C" KGET_KERNEL_EXPORT const kget_kernel_descriptor* kget_kernel_init(uint32_t host_major,
                                                                             uint32_t host_minor) {
  (void)host_minor;
  if (host_major != KGET_KERNEL_ABI_VERSION_MAJOR) {
    return nullptr;
  }
  return &kget_kernels::flash_attn3::kDescriptor;
}
