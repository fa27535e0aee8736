// flash-attn3's CPU variant (kernels/flash-attn3, docs/attention.md) against a float64
// reference, and every rejected argument, through dlopen and kget_kernel_init as kget loads it.
// ctest runs this binary once per CPU path (KGET_KERNEL_CPU_ISA = auto, scalar, avx2, avx512);
// a path this CPU cannot run must be refused by the ops, and its tests are then skipped.
//
// Tolerances (docs/attention.md, "Accuracy"). The kernel computes in float32 and rounds out to
// the dtype once, so against the float64 reference of the same (rounded) inputs:
//   |out - ref| <= ulp(ref) + 2^-14 max|v|
// ulp(ref) is the spacing of the dtype at |ref| (2^-7 or 2^-10 relative): rounding costs half of
// it, and the other half covers a float32 result just across a rounding boundary or a binade.
// 2^-14 max|v| (out is a convex combination of rows of v) bounds the float32 error: exp's
// polynomial (1.6e-7 relative), tanh's few ulp times softcap, dot products of <= 256 terms and
// sums of <= a few hundred probabilities, each ~1e-6 relative. The LSE, float32 throughout:
//   |lse - ref| <= 1e-5 (1 + |ref|); +inf exactly where no key is allowed (as FlashAttention).
#include "kernel_test_support.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <gtest/gtest.h>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#ifndef KGET_FLASH_ATTN3_LIBRARY
#error "KGET_FLASH_ATTN3_LIBRARY must name the library under test"
#endif

namespace kget_kernel_tests {
namespace {

const KernelLibrary& flash_attn_library() {
  static const KernelLibrary library(
      library_path("KGET_FLASH_ATTN3_LIBRARY", KGET_FLASH_ATTN3_LIBRARY).path.c_str());
  return library;
}

constexpr double kMinusInfinity = -std::numeric_limits<double>::infinity();

// A strided view of a 1-D compact HostTensor: several views may share one base (q, k and v as
// slices of one packed qkv tensor). Not copyable: the DLTensor points into it.
class View {
public:
  View(std::shared_ptr<HostTensor> base, int64_t offset, std::vector<int64_t> shape,
       std::vector<int64_t> strides)
      : base_(std::move(base)), offset_(offset), shape_(std::move(shape)),
        strides_(std::move(strides)) {
    dl_ = *base_->dl();
    dl_.ndim = static_cast<int32_t>(shape_.size());
    dl_.shape = shape_.data();
    dl_.strides = strides_.data();
    dl_.byte_offset += static_cast<uint64_t>(offset_ * base_->element_size());
  }
  View(const View&) = delete;
  View& operator=(const View&) = delete;

  // A compact view over a base of its own.
  static std::unique_ptr<View> compact(DType dtype, const std::vector<int64_t>& shape) {
    std::vector<int64_t> strides(shape.size(), 1);
    for (size_t d = shape.size(); d-- > 1;) {
      strides[d - 1] = strides[d] * shape[d];
    }
    return padded(dtype, shape, strides);
  }
  // A view with the given strides over a base of its own, just large enough.
  static std::unique_ptr<View> padded(DType dtype, const std::vector<int64_t>& shape,
                                      const std::vector<int64_t>& strides) {
    int64_t span = 1;
    for (size_t d = 0; d < shape.size(); ++d) {
      if (shape[d] == 0) {
        span = 0;
        break;
      }
      span += (shape[d] - 1) * strides[d];
    }
    auto base = std::make_shared<HostTensor>(dtype, std::vector<int64_t>{span});
    return std::make_unique<View>(base, 0, shape, strides);
  }

  DLTensor* dl() { return &dl_; }
  DType dtype() const { return base_->dtype(); }
  const std::vector<int64_t>& shape() const { return shape_; }
  HostTensor& base() { return *base_; }
  int64_t numel() const {
    int64_t count = 1;
    for (const int64_t extent : shape_) {
      count *= extent;
    }
    return count;
  }
  // Calls fn(position) for every element of the view, in row-major order of its shape.
  template <class Fn>
  void for_each_position(Fn&& fn) const {
    if (numel() == 0) {
      return;
    }
    std::vector<int64_t> index(shape_.size(), 0);
    int64_t position = offset_;
    for (int64_t i = 0; i < numel(); ++i) {
      fn(position);
      for (size_t d = shape_.size(); d-- > 0;) {
        position += strides_[d];
        if (++index[d] < shape_[d]) {
          break;
        }
        position -= index[d] * strides_[d];
        index[d] = 0;
      }
    }
  }
  // The elements as double, row-major (compact) order of the shape.
  std::vector<double> dense() const {
    std::vector<double> values;
    values.reserve(static_cast<size_t>(numel()));
    for_each_position([&](int64_t position) { values.push_back(base_->get(position)); });
    return values;
  }

private:
  std::shared_ptr<HostTensor> base_;
  int64_t offset_;
  std::vector<int64_t> shape_;
  std::vector<int64_t> strides_;
  DLTensor dl_{};
};

void fill_normal(View& view, Random& random, double scale) {
  HostTensor& base = view.base();
  view.for_each_position([&](int64_t position) { base.set(position, random.normal(scale)); });
}

// Base elements outside the view still hold the poison (nothing written out of bounds).
void expect_untouched_outside(View& view) {
  HostTensor& base = view.base();
  std::vector<char> inside(static_cast<size_t>(base.numel()), 0);
  view.for_each_position([&](int64_t position) { inside[static_cast<size_t>(position)] = 1; });
  int failures = 0;
  for (int64_t i = 0; i < base.numel() && failures < 3; ++i) {
    if (!inside[static_cast<size_t>(i)] && base.bits(i) != base.poison_bits()) {
      ADD_FAILURE() << "element " << i << " of the storage outside the tensor was written";
      ++failures;
    }
  }
  for (int64_t slot = 0; slot < base.storage_elements() && failures < 3; ++slot) {
    if (!base.slot_is_element(slot) && base.storage_bits(slot) != base.poison_bits()) {
      ADD_FAILURE() << "guard slot " << slot << " was written";
      ++failures;
    }
  }
}

// An int32 vector as a DLTensor.
struct Int32Tensor {
  std::vector<int32_t> values;
  int64_t shape[1];
  DLTensor dl{};
  explicit Int32Tensor(std::vector<int32_t> v) : values(std::move(v)) {
    shape[0] = static_cast<int64_t>(values.size());
    dl.data = values.data();
    dl.device = {kDLCPU, 0};
    dl.ndim = 1;
    dl.dtype = {kDLInt, 32, 1};
    dl.shape = shape;
  }
  Int32Tensor(const Int32Tensor&) = delete;
  Int32Tensor& operator=(const Int32Tensor&) = delete;
};

kget_arg bool_arg(bool value) {
  kget_arg arg{};
  arg.kind = KGET_ARG_BOOL;
  arg.value.b = value ? 1 : 0;
  return arg;
}

// The options of one call.
struct Options {
  double scale = 0.0; // 0: 1 / sqrt(head_dim)
  bool causal = false;
  int64_t window_left = -1;
  int64_t window_right = -1;
  double softcap = 0.0;
};

std::string describe(const Options& options) {
  return "scale " + std::to_string(options.scale) + (options.causal ? ", causal" : "") +
         ", window (" + std::to_string(options.window_left) + ", " +
         std::to_string(options.window_right) + "), softcap " + std::to_string(options.softcap);
}

// The keys query i of a sequence may attend, as docs/attention.md defines them.
bool allowed(int64_t i, int64_t j, int64_t seqlen_q, int64_t seqlen_k, const Options& options) {
  const int64_t diagonal = i + seqlen_k - seqlen_q;
  const int64_t right = options.causal ? 0 : options.window_right;
  if (options.window_left >= 0 && j < diagonal - options.window_left) {
    return false;
  }
  return right < 0 || j <= diagonal + right;
}

double unit_in_last_place(DType dtype, double value) {
  const double magnitude = std::fabs(value);
  const int mantissa_bits = dtype == DType::kBFloat16 ? 7 : 10;
  const double smallest = dtype == DType::kBFloat16 ? std::ldexp(1.0, -133) : std::ldexp(1.0, -24);
  if (magnitude == 0.0) {
    return smallest;
  }
  return std::max(smallest, std::ldexp(1.0, std::ilogb(magnitude) - mantissa_bits));
}

double max_abs(const std::vector<double>& values) {
  double result = 0.0;
  for (const double value : values) {
    result = std::max(result, std::fabs(value));
  }
  return result;
}

// The four tensors of a call as dense float64 arrays, (batch, token, head, dim) or (token, head,
// dim) row-major, and the results read back the same way.
struct Dense {
  std::vector<double> q, k, v, out, lse;
  int64_t tokens_q = 0; // per batch entry (mha_fwd) or in all (varlen)
  int64_t tokens_k = 0;
  int64_t heads_q = 0;
  int64_t heads_kv = 0;
  int64_t head_dim = 0;
};

// One sequence: q rows [q0, q0 + seqlen_q) and k/v rows [k0, k0 + seqlen_k) of batch entry
// `batch_index` (-1: varlen, no batch dimension; lse is then (heads, total_q)).
struct Sequence {
  int64_t batch_index;
  int64_t q0;
  int64_t k0;
  int64_t seqlen_q;
  int64_t seqlen_k;
};

void check_sequence(const Dense& t, const Sequence& seq, const Options& options, DType dtype,
                    const std::string& what) {
  const int64_t head_dim = t.head_dim;
  const double scale = options.scale != 0.0 ? options.scale : 1.0 / std::sqrt(double(head_dim));
  const bool varlen = seq.batch_index < 0;
  const int64_t batch = varlen ? 0 : seq.batch_index;
  auto q_row = [&](int64_t token, int64_t head) {
    return t.q.data() + ((batch * t.tokens_q + token) * t.heads_q + head) * head_dim;
  };
  auto out_row = [&](int64_t token, int64_t head) {
    return t.out.data() + ((batch * t.tokens_q + token) * t.heads_q + head) * head_dim;
  };
  auto kv_offset = [&](int64_t token, int64_t head) {
    return ((batch * t.tokens_k + token) * t.heads_kv + head) * head_dim;
  };
  const double atol = std::ldexp(max_abs(t.v), -14);
  int failures = 0;
  std::vector<double> logits(static_cast<size_t>(seq.seqlen_k));
  std::vector<double> expected(static_cast<size_t>(head_dim));
  for (int64_t h = 0; h < t.heads_q; ++h) {
    const int64_t kv = h / (t.heads_q / t.heads_kv);
    for (int64_t i = 0; i < seq.seqlen_q && failures < 5; ++i) {
      const double* q = q_row(seq.q0 + i, h);
      double max = kMinusInfinity;
      for (int64_t j = 0; j < seq.seqlen_k; ++j) {
        logits[static_cast<size_t>(j)] = kMinusInfinity;
        if (!allowed(i, j, seq.seqlen_q, seq.seqlen_k, options)) {
          continue;
        }
        const double* k = t.k.data() + kv_offset(seq.k0 + j, kv);
        double dot = 0.0;
        for (int64_t d = 0; d < head_dim; ++d) {
          dot += q[d] * k[d];
        }
        double logit = dot * scale;
        if (options.softcap > 0.0) {
          logit = options.softcap * std::tanh(logit / options.softcap);
        }
        logits[static_cast<size_t>(j)] = logit;
        max = std::max(max, logit);
      }
      double sum = 0.0;
      std::fill(expected.begin(), expected.end(), 0.0);
      for (int64_t j = 0; j < seq.seqlen_k && max != kMinusInfinity; ++j) {
        const double logit = logits[static_cast<size_t>(j)];
        if (logit == kMinusInfinity) {
          continue;
        }
        const double p = std::exp(logit - max);
        sum += p;
        const double* v = t.v.data() + kv_offset(seq.k0 + j, kv);
        for (int64_t d = 0; d < head_dim; ++d) {
          expected[static_cast<size_t>(d)] += p * v[d];
        }
      }
      // No allowed key: +inf, as FlashAttention writes it (docs/attention.md).
      const double expected_lse =
          sum > 0.0 ? max + std::log(sum) : std::numeric_limits<double>::infinity();
      const int64_t lse_index =
          varlen ? h * t.tokens_q + seq.q0 + i : (batch * t.heads_q + h) * t.tokens_q + i;
      const double got_lse = t.lse[static_cast<size_t>(lse_index)];
      const bool lse_ok = std::isinf(expected_lse) ? got_lse == expected_lse
                                                   : std::fabs(got_lse - expected_lse) <=
                                                         1e-5 * (1.0 + std::fabs(expected_lse));
      if (!lse_ok) {
        ADD_FAILURE() << what << ": lse of head " << h << ", query " << i << ": got " << got_lse
                      << ", expected " << expected_lse;
        ++failures;
      }
      const double* out = out_row(seq.q0 + i, h);
      for (int64_t d = 0; d < head_dim && failures < 5; ++d) {
        const double reference = sum > 0.0 ? expected[static_cast<size_t>(d)] / sum : 0.0;
        const double tolerance = unit_in_last_place(dtype, reference) + atol;
        if (!(std::fabs(out[d] - reference) <= tolerance)) {
          ADD_FAILURE() << what << ": out of head " << h << ", query " << i << ", dim " << d
                        << ": got " << out[d] << ", expected " << reference << " (tolerance "
                        << tolerance << ")";
          ++failures;
        }
      }
    }
  }
}

std::vector<kget_arg> option_args(const Options& options, int64_t head_dim) {
  const double scale = options.scale != 0.0 ? options.scale : 1.0 / std::sqrt(double(head_dim));
  return {float_arg(scale),
          bool_arg(options.causal),
          int_arg(options.window_left),
          int_arg(options.window_right),
          float_arg(options.softcap),
          stream_arg()};
}

enum class Layout { kCompact, kPackedQkv, kPadded };

struct FwdCase {
  int64_t batch;
  int64_t seqlen_q;
  int64_t seqlen_k;
  int64_t heads_q;
  int64_t heads_kv;
  Options options;
  Layout layout = Layout::kCompact;
};

constexpr DType kDTypes[] = {DType::kFloat16, DType::kBFloat16};
constexpr int64_t kHeadDims[] = {64, 128, 256};

const char* layout_name(Layout layout) {
  switch (layout) {
  case Layout::kCompact:
    return "compact";
  case Layout::kPackedQkv:
    return "q/k/v sliced from one packed qkv";
  case Layout::kPadded:
    return "padded strides";
  }
  return "?";
}

class FlashAttnCpu : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_NE(flash_attn_library().descriptor(), nullptr) << flash_attn_library().load_error();
    fwd_ = flash_attn_library().op("mha_fwd");
    varlen_ = flash_attn_library().op("mha_varlen_fwd");
    ASSERT_NE(fwd_, nullptr);
    ASSERT_NE(varlen_, nullptr);
    if (!forced_isa_runs_here()) {
      auto q = View::compact(DType::kBFloat16, {1, 2, 1, 64});
      auto out = View::compact(DType::kBFloat16, {1, 2, 1, 64});
      auto lse = View::compact(DType::kFloat32, {1, 1, 2});
      std::vector<kget_arg> args = {tensor_arg(out->dl()), tensor_arg(lse->dl()),
                                    tensor_arg(q->dl()), tensor_arg(q->dl()), tensor_arg(q->dl())};
      for (const kget_arg& arg : option_args(Options{}, 64)) {
        args.push_back(arg);
      }
      std::string message;
      EXPECT_EQ(call(fwd_, args, &message), KGET_KERNEL_ERROR_UNSUPPORTED);
      EXPECT_NE(message.find("KGET_KERNEL_CPU_ISA=" + forced_isa()), std::string::npos) << message;
      GTEST_SKIP() << "KGET_KERNEL_CPU_ISA=" << forced_isa()
                   << ": this CPU cannot run that path (the op refuses it, as checked)";
    }
  }

  void run_fwd(const FwdCase& c, DType dtype, int64_t head_dim, uint64_t seed) {
    const std::string what =
        std::string(dtype_label(dtype)) + ", head_dim " + std::to_string(head_dim) + ", batch " +
        std::to_string(c.batch) + ", seqlen " + std::to_string(c.seqlen_q) + "/" +
        std::to_string(c.seqlen_k) + ", heads " + std::to_string(c.heads_q) + "/" +
        std::to_string(c.heads_kv) + ", " + describe(c.options) + ", " + layout_name(c.layout);
    SCOPED_TRACE(what);
    const int64_t b = c.batch;
    const std::vector<int64_t> q_shape = {b, c.seqlen_q, c.heads_q, head_dim};
    const std::vector<int64_t> kv_shape = {b, c.seqlen_k, c.heads_kv, head_dim};
    std::unique_ptr<View> q, k, v, out, lse;
    if (c.layout == Layout::kPackedQkv) {
      // qkv (batch, seqlen, 3, heads, head_dim): seqlen_q == seqlen_k, heads_q == heads_kv.
      const int64_t h = c.heads_q;
      const int64_t s = c.seqlen_q;
      auto base =
          std::make_shared<HostTensor>(dtype, std::vector<int64_t>{b * s * 3 * h * head_dim});
      const std::vector<int64_t> strides = {s * 3 * h * head_dim, 3 * h * head_dim, head_dim, 1};
      q = std::make_unique<View>(base, 0, q_shape, strides);
      k = std::make_unique<View>(base, h * head_dim, kv_shape, strides);
      v = std::make_unique<View>(base, 2 * h * head_dim, kv_shape, strides);
    } else if (c.layout == Layout::kPadded) {
      auto padded = [&](const std::vector<int64_t>& shape, int64_t pad) {
        const int64_t head = head_dim + pad;
        const int64_t token = shape[2] * head + 2 * pad;
        return View::padded(dtype, shape, {shape[1] * token + pad, token, head, 1});
      };
      q = padded(q_shape, 64);
      k = padded(kv_shape, 32);
      v = padded(kv_shape, 96);
      out = padded(q_shape, 16);
      lse = View::padded(DType::kFloat32, {b, c.heads_q, c.seqlen_q},
                         {c.heads_q * (c.seqlen_q + 5) + 1, c.seqlen_q + 5, 1});
    } else {
      q = View::compact(dtype, q_shape);
      k = View::compact(dtype, kv_shape);
      v = View::compact(dtype, kv_shape);
    }
    if (!out) {
      out = View::compact(dtype, q_shape);
      lse = View::compact(DType::kFloat32, {b, c.heads_q, c.seqlen_q});
    }
    Random random(seed);
    fill_normal(*q, random, 1.0);
    fill_normal(*k, random, 1.0);
    fill_normal(*v, random, 1.0);
    std::vector<kget_arg> args = {tensor_arg(out->dl()), tensor_arg(lse->dl()), tensor_arg(q->dl()),
                                  tensor_arg(k->dl()), tensor_arg(v->dl())};
    for (const kget_arg& arg : option_args(c.options, head_dim)) {
      args.push_back(arg);
    }
    std::string message;
    ASSERT_EQ(call(fwd_, args, &message), KGET_KERNEL_OK) << message;
    const Dense dense{q->dense(), k->dense(), v->dense(), out->dense(), lse->dense(),
                      c.seqlen_q, c.seqlen_k, c.heads_q,  c.heads_kv,   head_dim};
    for (int64_t i = 0; i < b; ++i) {
      check_sequence(dense, {i, 0, 0, c.seqlen_q, c.seqlen_k}, c.options, dtype, what);
    }
    expect_untouched_outside(*out);
    expect_untouched_outside(*lse);
  }

  void run_all_dtypes(const std::vector<FwdCase>& cases) {
    uint64_t seed = 1;
    for (const FwdCase& c : cases) {
      for (const DType dtype : kDTypes) {
        for (const int64_t head_dim : kHeadDims) {
          run_fwd(c, dtype, head_dim, seed++);
        }
      }
    }
  }

  kget_op_fn fwd_ = nullptr;
  kget_op_fn varlen_ = nullptr;
};

Options causal() {
  Options options;
  options.causal = true;
  return options;
}

Options window(int64_t left, int64_t right) {
  Options options;
  options.window_left = left;
  options.window_right = right;
  return options;
}

Options softcap(double cap, Options options = {}) {
  options.softcap = cap;
  return options;
}

// Sequence lengths around the block sizes (64 rows, 64 keys): partial blocks at both ends.
TEST_F(FlashAttnCpu, PlainAttentionMatchesTheReference) {
  Options big_scale;
  big_scale.scale = 0.5; // peaked softmax: large logits, the running max changes often
  run_all_dtypes({{2, 70, 77, 2, 2, Options{}}, {1, 5, 130, 1, 1, big_scale}});
}

TEST_F(FlashAttnCpu, CausalIsAlignedBottomRight) {
  run_all_dtypes({{1, 70, 70, 2, 2, causal()},
                  {1, 37, 100, 1, 1, causal()},   // seqlen_q < seqlen_k: query 0 sees 64 keys
                  {1, 100, 37, 1, 1, causal()}}); // seqlen_q > seqlen_k: 63 rows see no key
}

TEST_F(FlashAttnCpu, SlidingWindowMatchesTheReference) {
  run_all_dtypes({{1, 90, 90, 1, 1, window(16, 8)},
                  {1, 40, 150, 1, 1, window(5, -1)},
                  {1, 70, 50, 1, 1, window(-1, 3)},
                  {1, 66, 66, 1, 1, window(0, 0)}}); // each query sees its own key only
}

TEST_F(FlashAttnCpu, SoftcapMatchesTheReference) {
  Options capped_scale = softcap(1.5);
  capped_scale.scale = 0.4;
  run_all_dtypes({{1, 33, 70, 2, 2, softcap(1.5)}, {1, 20, 20, 1, 1, capped_scale}});
}

TEST_F(FlashAttnCpu, GroupedAndMultiQueryAttention) {
  run_all_dtypes({{1, 45, 45, 8, 2, causal()},                    // GQA 4:1
                  {1, 30, 70, 6, 1, softcap(2.0, window(10, 4))}, // MQA with window, softcap
                  {1, 3, 40, 80, 1, Options{}}}); // 80 heads of one KV head: 2 blocks
}

TEST_F(FlashAttnCpu, DecodeWithOneQuery) {
  run_all_dtypes({{2, 1, 133, 4, 1, causal()},                       // GQA 4:1 decode
                  {1, 1, 100, 2, 2, softcap(5.0, window(20, -1))}}); // window and softcap
}

TEST_F(FlashAttnCpu, OptionsInPairs) {
  Options causal_window = causal();
  causal_window.window_left = 12;
  Options causal_window_cap = softcap(3.0, causal_window);
  Options window_cap = softcap(3.0, window(7, 2));
  run_all_dtypes({{1, 50, 80, 4, 2, causal_window},
                  {1, 80, 50, 2, 1, causal_window_cap},
                  {1, 65, 65, 2, 2, window_cap}});
}

TEST_F(FlashAttnCpu, NonContiguousLayouts) {
  run_all_dtypes({{2, 40, 40, 2, 2, causal(), Layout::kPackedQkv},
                  {2, 30, 50, 4, 2, softcap(2.0, window(9, 3)), Layout::kPadded}});
}

TEST_F(FlashAttnCpu, EmptyBatchAndEmptySequences) {
  run_all_dtypes({{0, 10, 10, 2, 1, Options{}},
                  {2, 0, 10, 2, 1, causal()},
                  {2, 5, 0, 2, 1, Options{}}}); // no keys: out 0 and lse +inf everywhere
}

// Three ragged sequences, one of them empty, in packed (total, heads, head_dim) tensors.
TEST_F(FlashAttnCpu, VariableLengthSequences) {
  struct VarlenCase {
    std::vector<int32_t> cu_q;
    std::vector<int32_t> cu_k;
    int64_t heads_q;
    int64_t heads_kv;
    Options options;
  };
  const std::vector<VarlenCase> cases = {
      {{0, 17, 17, 90}, {0, 30, 30, 95}, 2, 2, Options{}},
      {{0, 17, 17, 90}, {0, 30, 30, 95}, 4, 1, causal()},
      {{0, 1, 2, 3}, {0, 70, 70, 71}, 4, 2, softcap(2.0, window(40, -1))},
      {{0, 40, 40, 41}, {0, 20, 29, 29}, 2, 2, causal()}, // q past k; keys of an empty q seq
      {{0}, {0}, 2, 2, Options{}},                        // empty batch
  };
  uint64_t seed = 1000;
  for (const VarlenCase& c : cases) {
    for (const DType dtype : kDTypes) {
      for (const int64_t head_dim : kHeadDims) {
        const int64_t total_q = c.cu_q.back();
        const int64_t total_k = c.cu_k.back();
        const std::string what = std::string("varlen ") + dtype_label(dtype) + ", head_dim " +
                                 std::to_string(head_dim) + ", " + describe(c.options);
        SCOPED_TRACE(what);
        auto q = View::compact(dtype, {total_q, c.heads_q, head_dim});
        auto k = View::compact(dtype, {total_k, c.heads_kv, head_dim});
        auto v = View::compact(dtype, {total_k, c.heads_kv, head_dim});
        auto out = View::compact(dtype, {total_q, c.heads_q, head_dim});
        auto lse = View::compact(DType::kFloat32, {c.heads_q, total_q});
        Random random(seed++);
        fill_normal(*q, random, 1.0);
        fill_normal(*k, random, 1.0);
        fill_normal(*v, random, 1.0);
        Int32Tensor cu_q(c.cu_q);
        Int32Tensor cu_k(c.cu_k);
        int64_t max_q = 0;
        int64_t max_k = 0;
        for (size_t i = 1; i < c.cu_q.size(); ++i) {
          max_q = std::max<int64_t>(max_q, c.cu_q[i] - c.cu_q[i - 1]);
          max_k = std::max<int64_t>(max_k, c.cu_k[i] - c.cu_k[i - 1]);
        }
        std::vector<kget_arg> args = {
            tensor_arg(out->dl()), tensor_arg(lse->dl()), tensor_arg(q->dl()),
            tensor_arg(k->dl()),   tensor_arg(v->dl()),   tensor_arg(&cu_q.dl),
            tensor_arg(&cu_k.dl),  int_arg(max_q),        int_arg(max_k)};
        for (const kget_arg& arg : option_args(c.options, head_dim)) {
          args.push_back(arg);
        }
        std::string message;
        ASSERT_EQ(call(varlen_, args, &message), KGET_KERNEL_OK) << message;
        const Dense dense{q->dense(), k->dense(), v->dense(), out->dense(), lse->dense(),
                          total_q,    total_k,    c.heads_q,  c.heads_kv,   head_dim};
        for (size_t i = 0; i + 1 < c.cu_q.size(); ++i) {
          check_sequence(
              dense,
              {-1, c.cu_q[i], c.cu_k[i], c.cu_q[i + 1] - c.cu_q[i], c.cu_k[i + 1] - c.cu_k[i]},
              c.options, dtype, what);
        }
        expect_untouched_outside(*out);
        expect_untouched_outside(*lse);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Validation: each bad argument gives its status and a message that names it.

class FlashAttnValidation : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_NE(flash_attn_library().descriptor(), nullptr) << flash_attn_library().load_error();
    fwd_ = flash_attn_library().op("mha_fwd");
    varlen_ = flash_attn_library().op("mha_varlen_fwd");
    ASSERT_NE(fwd_, nullptr);
    ASSERT_NE(varlen_, nullptr);
  }

  // A valid mha_fwd call: batch 1, seqlen 4/5, heads 2/1, head_dim 64, bfloat16; `mutate` edits
  // the tensors (by shape, dtype, strides) or the arguments before the call.
  struct FwdCall {
    HostTensor out{DType::kBFloat16, {1, 4, 2, 64}};
    HostTensor lse{DType::kFloat32, {1, 2, 4}};
    HostTensor q{DType::kBFloat16, {1, 4, 2, 64}};
    HostTensor k{DType::kBFloat16, {1, 5, 1, 64}};
    HostTensor v{DType::kBFloat16, {1, 5, 1, 64}};
    std::vector<kget_arg> args;
    FwdCall() {
      q.fill([] { return 0.5; });
      k.fill([] { return 0.25; });
      v.fill([] { return 1.0; });
      args = {tensor_arg(out.dl()), tensor_arg(lse.dl()), tensor_arg(q.dl()), tensor_arg(k.dl()),
              tensor_arg(v.dl()),   float_arg(0.125),     bool_arg(false),    int_arg(-1),
              int_arg(-1),          float_arg(0.0),       stream_arg()};
    }
  };

  struct VarlenCall {
    HostTensor out{DType::kFloat16, {6, 2, 128}};
    HostTensor lse{DType::kFloat32, {2, 6}};
    HostTensor q{DType::kFloat16, {6, 2, 128}};
    HostTensor k{DType::kFloat16, {7, 2, 128}};
    HostTensor v{DType::kFloat16, {7, 2, 128}};
    Int32Tensor cu_q{{0, 2, 2, 6}};
    Int32Tensor cu_k{{0, 3, 4, 7}};
    std::vector<kget_arg> args;
    VarlenCall() {
      q.fill([] { return 0.5; });
      k.fill([] { return 0.25; });
      v.fill([] { return 1.0; });
      args = {tensor_arg(out.dl()), tensor_arg(lse.dl()), tensor_arg(q.dl()),   tensor_arg(k.dl()),
              tensor_arg(v.dl()),   tensor_arg(&cu_q.dl), tensor_arg(&cu_k.dl), int_arg(4),
              int_arg(3),           float_arg(0.125),     bool_arg(true),       int_arg(-1),
              int_arg(-1),          float_arg(0.0),       stream_arg()};
    }
  };

  static void expect_error(kget_op_fn op, const std::vector<kget_arg>& args, int status,
                           const std::string& named, const std::string& also = "") {
    std::string message;
    EXPECT_EQ(call(op, args, &message), status) << message;
    EXPECT_NE(message.find(named), std::string::npos) << "message: " << message;
    if (!also.empty()) {
      EXPECT_NE(message.find(also), std::string::npos) << "message: " << message;
    }
  }

  kget_op_fn fwd_ = nullptr;
  kget_op_fn varlen_ = nullptr;
};

constexpr int kInvalid = KGET_KERNEL_ERROR_INVALID_ARGUMENT;

TEST_F(FlashAttnValidation, DescriptorListsBothOpsWithTheirSchemas) {
  const kget_kernel_descriptor* descriptor = flash_attn_library().descriptor();
  EXPECT_STREQ(descriptor->name, "flash-attn3");
  EXPECT_STREQ(descriptor->version, "1");
  ASSERT_EQ(descriptor->num_ops, 2u);
  EXPECT_STREQ(descriptor->ops[0].schema,
               "mha_fwd(Tensor! out, Tensor! softmax_lse, Tensor q, Tensor k, Tensor v, "
               "float softmax_scale, bool causal, int window_left, int window_right, "
               "float softcap, Stream stream) -> ()");
  EXPECT_STREQ(descriptor->ops[1].schema,
               "mha_varlen_fwd(Tensor! out, Tensor! softmax_lse, Tensor q, Tensor k, Tensor v, "
               "Tensor cu_seqlens_q, Tensor cu_seqlens_k, int max_seqlen_q, int max_seqlen_k, "
               "float softmax_scale, bool causal, int window_left, int window_right, "
               "float softcap, Stream stream) -> ()");
}

TEST_F(FlashAttnValidation, ValidCallsSucceed) {
  FwdCall fwd;
  std::string message;
  EXPECT_EQ(call(fwd_, fwd.args, &message), KGET_KERNEL_OK) << message;
  VarlenCall varlen;
  EXPECT_EQ(call(varlen_, varlen.args, &message), KGET_KERNEL_OK) << message;
}

TEST_F(FlashAttnValidation, CountAndKinds) {
  {
    FwdCall c;
    c.args.pop_back();
    expect_error(fwd_, c.args, kInvalid, "expected 11 arguments");
  }
  {
    VarlenCall c;
    c.args.pop_back();
    expect_error(varlen_, c.args, kInvalid, "expected 15 arguments");
  }
  const struct {
    size_t index;
    const char* name;
    kget_arg replacement;
  } kinds[] = {
      {0, "argument 0 (out)", int_arg(1)},
      {5, "argument 5 (softmax_scale)", int_arg(1)},
      {6, "argument 6 (causal)", int_arg(1)},
      {7, "argument 7 (window_left)", float_arg(1.0)},
      {8, "argument 8 (window_right)", bool_arg(true)},
      {9, "argument 9 (softcap)", int_arg(0)},
      {10, "argument 10 (stream)", none_arg()},
  };
  for (const auto& kind : kinds) {
    FwdCall c;
    c.args[kind.index] = kind.replacement;
    expect_error(fwd_, c.args, kInvalid, kind.name);
  }
  VarlenCall c;
  c.args[5] = int_arg(0);
  expect_error(varlen_, c.args, kInvalid, "argument 5 (cu_seqlens_q)");
}

TEST_F(FlashAttnValidation, ScalarRanges) {
  const struct {
    size_t index;
    kget_arg value;
    const char* name;
  } cases[] = {
      {5, float_arg(std::nan("")), "argument 5 (softmax_scale)"},
      {5, float_arg(1e300), "argument 5 (softmax_scale)"},
      {6,
       [] {
         kget_arg arg = bool_arg(true);
         arg.value.b = 2;
         return arg;
       }(),
       "argument 6 (causal)"},
      {7, int_arg(-2), "argument 7 (window_left)"},
      {8, int_arg(-7), "argument 8 (window_right)"},
      {9, float_arg(-1.0), "argument 9 (softcap)"},
      {9, float_arg(INFINITY), "argument 9 (softcap)"},
  };
  for (const auto& c : cases) {
    FwdCall call_args;
    call_args.args[c.index] = c.value;
    expect_error(fwd_, call_args.args, kInvalid, c.name);
  }
  const struct {
    size_t index;
    int64_t value;
    const char* name;
  } lengths[] = {
      {7, -1, "argument 7 (max_seqlen_q)"},
      {7, 3, "argument 7 (max_seqlen_q)"}, // the longest q sequence has 4 tokens
      {8, 2, "argument 8 (max_seqlen_k)"},
      {8, int64_t{1} << 40, "argument 8 (max_seqlen_k)"},
  };
  for (const auto& c : lengths) {
    VarlenCall call_args;
    call_args.args[c.index] = int_arg(c.value);
    expect_error(varlen_, call_args.args, kInvalid, c.name);
  }
}

TEST_F(FlashAttnValidation, DtypesShapesAndHeads) {
  {
    FwdCall c;
    HostTensor q(DType::kFloat32, {1, 4, 2, 64});
    c.args[2] = tensor_arg(q.dl());
    expect_error(fwd_, c.args, kInvalid, "argument 2 (q)", "float16 or bfloat16");
  }
  {
    FwdCall c;
    HostTensor k(DType::kFloat16, {1, 5, 1, 64});
    c.args[3] = tensor_arg(k.dl());
    expect_error(fwd_, c.args, kInvalid, "argument 3 (k)", "bfloat16");
  }
  {
    FwdCall c;
    HostTensor v(DType::kBFloat16, {1, 6, 1, 64});
    c.args[4] = tensor_arg(v.dl());
    expect_error(fwd_, c.args, kInvalid, "argument 4 (v)");
  }
  {
    FwdCall c;
    HostTensor q(DType::kBFloat16, {4, 2, 64});
    c.args[2] = tensor_arg(q.dl());
    expect_error(fwd_, c.args, kInvalid, "argument 2 (q)", "4 dimensions");
  }
  {
    FwdCall c;
    HostTensor k(DType::kBFloat16, {2, 5, 1, 64});
    c.args[3] = tensor_arg(k.dl());
    expect_error(fwd_, c.args, kInvalid, "argument 3 (k)", "batch");
  }
  {
    FwdCall c;
    HostTensor k(DType::kBFloat16, {1, 5, 1, 128});
    c.args[3] = tensor_arg(k.dl());
    expect_error(fwd_, c.args, kInvalid, "argument 3 (k)", "head_dim");
  }
  {
    FwdCall c; // 2 query heads over 3 KV heads
    HostTensor k(DType::kBFloat16, {1, 5, 3, 64});
    HostTensor v(DType::kBFloat16, {1, 5, 3, 64});
    c.args[3] = tensor_arg(k.dl());
    c.args[4] = tensor_arg(v.dl());
    expect_error(fwd_, c.args, kInvalid, "argument 3 (k)", "heads_kv");
  }
  {
    FwdCall c;
    HostTensor q(DType::kBFloat16, {1, 4, 2, 96});
    HostTensor k(DType::kBFloat16, {1, 5, 1, 96});
    HostTensor out(DType::kBFloat16, {1, 4, 2, 96});
    c.args[0] = tensor_arg(out.dl());
    c.args[2] = tensor_arg(q.dl());
    c.args[3] = tensor_arg(k.dl());
    c.args[4] = tensor_arg(k.dl());
    expect_error(fwd_, c.args, KGET_KERNEL_ERROR_UNSUPPORTED, "argument 2 (q)", "64, 128, 256");
  }
  {
    FwdCall c;
    HostTensor out(DType::kFloat16, {1, 4, 2, 64});
    c.args[0] = tensor_arg(out.dl());
    expect_error(fwd_, c.args, kInvalid, "argument 0 (out)");
  }
  {
    FwdCall c;
    HostTensor out(DType::kBFloat16, {1, 4, 1, 64});
    c.args[0] = tensor_arg(out.dl());
    expect_error(fwd_, c.args, kInvalid, "argument 0 (out)");
  }
  {
    FwdCall c;
    HostTensor lse(DType::kBFloat16, {1, 2, 4});
    c.args[1] = tensor_arg(lse.dl());
    expect_error(fwd_, c.args, kInvalid, "argument 1 (softmax_lse)", "float32");
  }
  {
    FwdCall c;
    HostTensor lse(DType::kFloat32, {1, 4, 2}); // (batch, seqlen, heads): the wrong order
    c.args[1] = tensor_arg(lse.dl());
    expect_error(fwd_, c.args, kInvalid, "argument 1 (softmax_lse)", "heads_q");
  }
  {
    VarlenCall c;
    HostTensor lse(DType::kFloat32, {6, 2}); // (total_q, heads): the wrong order
    c.args[1] = tensor_arg(lse.dl());
    expect_error(varlen_, c.args, kInvalid, "argument 1 (softmax_lse)");
  }
  {
    VarlenCall c;
    HostTensor q(DType::kFloat16, {1, 6, 2, 128});
    c.args[2] = tensor_arg(q.dl());
    expect_error(varlen_, c.args, kInvalid, "argument 2 (q)", "3 dimensions");
  }
}

TEST_F(FlashAttnValidation, LayoutDeviceAndMemory) {
  {
    FwdCall c; // the head dimension with stride 2
    HostTensor q(DType::kBFloat16, {1, 4, 2, 64}, {1024, 256, 128, 2});
    c.args[2] = tensor_arg(q.dl());
    expect_error(fwd_, c.args, kInvalid, "argument 2 (q)", "stride 1");
  }
  {
    FwdCall c;
    DLTensor q = *c.q.dl();
    q.byte_offset += 1;
    c.args[2] = tensor_arg(&q);
    expect_error(fwd_, c.args, kInvalid, "argument 2 (q)", "aligned");
  }
  {
    FwdCall c;
    DLTensor q = *c.q.dl();
    q.data = nullptr;
    c.args[2] = tensor_arg(&q);
    expect_error(fwd_, c.args, kInvalid, "argument 2 (q)", "NULL");
  }
  {
    FwdCall c;
    DLTensor k = *c.k.dl();
    k.device = {kDLCUDA, 0};
    c.args[3] = tensor_arg(&k);
    expect_error(fwd_, c.args, kInvalid, "argument 3 (k)", "device");
  }
  {
    FwdCall c; // out is q itself
    c.args[0] = tensor_arg(c.q.dl());
    expect_error(fwd_, c.args, kInvalid, "argument 0 (out)", "disjoint");
  }
  {
    FwdCall c; // overlapping rows of a written tensor
    HostTensor out(DType::kBFloat16, {1, 4, 2, 64}, {128, 32, 64, 1});
    c.args[0] = tensor_arg(out.dl());
    expect_error(fwd_, c.args, kInvalid, "argument 0 (out)", "overlap");
  }
  {
    FwdCall c;
    c.args[2] = tensor_arg(nullptr);
    expect_error(fwd_, c.args, kInvalid, "argument 2 (q)", "NULL");
  }
}

TEST_F(FlashAttnValidation, CuSeqlens) {
  {
    VarlenCall c;
    HostTensor cu(DType::kFloat32, {4});
    c.args[5] = tensor_arg(cu.dl());
    expect_error(varlen_, c.args, kInvalid, "argument 5 (cu_seqlens_q)", "int32");
  }
  const struct {
    size_t index;
    std::vector<int32_t> values;
    const char* name;
    const char* also;
  } cases[] = {
      {5, {1, 2, 2, 6}, "argument 5 (cu_seqlens_q)", "element 0"},
      {5, {0, 3, 2, 6}, "argument 5 (cu_seqlens_q)", "non-decreasing"},
      {5, {0, 2, 2, 7}, "argument 5 (cu_seqlens_q)", "6 tokens"},
      {6, {0, 3, 4, 8}, "argument 6 (cu_seqlens_k)", "7 tokens"},
      {6, {0, 3, 7}, "argument 6 (cu_seqlens_k)", "batch + 1"},
      {5, {}, "argument 5 (cu_seqlens_q)", "batch + 1"},
  };
  for (const auto& c : cases) {
    VarlenCall call_args;
    Int32Tensor cu(c.values);
    call_args.args[c.index] = tensor_arg(&cu.dl);
    expect_error(varlen_, call_args.args, kInvalid, c.name, c.also);
  }
  {
    VarlenCall c;
    c.cu_q.dl.device = {kDLCUDA, 0};
    expect_error(varlen_, c.args, kInvalid, "argument 5 (cu_seqlens_q)", "device");
  }
  {
    VarlenCall c;
    c.cu_k.dl.byte_offset = 2;
    expect_error(varlen_, c.args, kInvalid, "argument 6 (cu_seqlens_k)", "aligned");
  }
}

TEST_F(FlashAttnValidation, EmptyCallsAreValid) {
  HostTensor out(DType::kBFloat16, {0, 4, 2, 64});
  HostTensor lse(DType::kFloat32, {0, 2, 4});
  HostTensor q(DType::kBFloat16, {0, 4, 2, 64});
  HostTensor k(DType::kBFloat16, {0, 5, 1, 64});
  std::vector<kget_arg> args = {tensor_arg(out.dl()), tensor_arg(lse.dl()), tensor_arg(q.dl()),
                                tensor_arg(k.dl()),   tensor_arg(k.dl()),   float_arg(0.125),
                                bool_arg(true),       int_arg(-1),          int_arg(-1),
                                float_arg(0.0),       stream_arg()};
  std::string message;
  EXPECT_EQ(call(fwd_, args, &message), KGET_KERNEL_OK) << message;
}

} // namespace
} // namespace kget_kernel_tests
