// The CPU variants of rmsnorm and activation against float64 references, through dlopen and
// kget_kernel_init as kget loads them. ctest runs this binary once per CPU path
// (KGET_KERNEL_CPU_ISA = auto, scalar, avx2, avx512); a path this CPU cannot run must be refused
// by the ops, and its tests are then reported as skipped.
#include "kernel_test_support.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <gtest/gtest.h>
#include <map>
#include <sstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace kget_kernel_tests {
namespace {

constexpr DType kDTypes[] = {DType::kFloat32, DType::kFloat16, DType::kBFloat16};

int64_t product(const std::vector<int64_t>& values, size_t count) {
  int64_t result = 1;
  for (size_t i = 0; i < count; ++i) {
    result *= values[i];
  }
  return result;
}

// The largest errors seen per op and dtype, printed at exit when KGET_KERNEL_TEST_REPORT is set
// (the accuracy table of docs/kernels.md comes from there).
struct ErrorReport {
  struct Maxima {
    double relative = 0.0; // over |expected| >= 1e-3 (where atol plays no part)
    double absolute = 0.0; // over |expected| < 1e-3
  };
  std::map<std::string, Maxima> by_topic;
  std::string topic = "other";

  ~ErrorReport() {
    if (!std::getenv("KGET_KERNEL_TEST_REPORT")) {
      return;
    }
    for (const auto& [name, maxima] : by_topic) {
      std::printf("%-28s max relative error %.3g, max absolute error near 0 %.3g\n", name.c_str(),
                  maxima.relative, maxima.absolute);
    }
  }
};
ErrorReport error_report;

void record_error(DType dtype, double got, double expected) {
  if (!std::isfinite(got) || !std::isfinite(expected)) {
    return;
  }
  ErrorReport::Maxima& maxima =
      error_report.by_topic[error_report.topic + " " + dtype_label(dtype)];
  if (std::fabs(expected) >= 1e-3) {
    maxima.relative = std::max(maxima.relative, std::fabs(got - expected) / std::fabs(expected));
  } else {
    maxima.absolute = std::max(maxima.absolute, std::fabs(got - expected));
  }
}

// Every element of `got` is close to `expected` (row-major); stops at the first few failures.
void expect_close(const HostTensor& got, const std::vector<double>& expected, Tolerance tolerance) {
  int failures = 0;
  for (int64_t i = 0; i < got.numel(); ++i) {
    record_error(got.dtype(), got.get(i), expected[static_cast<size_t>(i)]);
  }
  for (int64_t i = 0; i < got.numel() && failures < 5; ++i) {
    if (!close(got.get(i), expected[static_cast<size_t>(i)], tolerance)) {
      ADD_FAILURE() << "element " << i << ": got " << got.get(i) << ", expected "
                    << expected[static_cast<size_t>(i)] << " (" << dtype_label(got.dtype())
                    << ", rtol " << tolerance.rtol << ", atol " << tolerance.atol << ")";
      ++failures;
    }
  }
}

// Storage slots outside the tensor's elements (guards, gaps between strided rows) are still
// poison: the op wrote nothing there.
void expect_untouched_outside(const HostTensor& tensor) {
  for (int64_t slot = 0; slot < tensor.storage_elements(); ++slot) {
    if (!tensor.slot_is_element(slot) && tensor.storage_bits(slot) != tensor.poison_bits()) {
      ADD_FAILURE() << "storage slot " << slot << " outside the tensor was written";
      return;
    }
  }
}

std::vector<uint32_t> snapshot(const HostTensor& tensor) {
  std::vector<uint32_t> bits(static_cast<size_t>(tensor.numel()));
  for (int64_t i = 0; i < tensor.numel(); ++i) {
    bits[static_cast<size_t>(i)] = tensor.bits(i);
  }
  return bits;
}

void expect_unchanged(const HostTensor& tensor, const std::vector<uint32_t>& before) {
  EXPECT_EQ(snapshot(tensor), before) << "a read-only tensor was modified";
}

// The fixture: the libraries are loaded, and the forced CPU path either runs here or is refused.
class CpuNumerics : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_NE(rmsnorm_library().descriptor(), nullptr) << rmsnorm_library().load_error();
    ASSERT_NE(activation_library().descriptor(), nullptr) << activation_library().load_error();
    if (!forced_isa_runs_here()) {
      expect_refused(rmsnorm_library().op("rms_norm"), true);
      expect_refused(activation_library().op("gelu_fast"), false);
      GTEST_SKIP() << "KGET_KERNEL_CPU_ISA=" << forced_isa()
                   << ": this CPU cannot run that path (the ops refuse it, as checked)";
    }
  }

  static void expect_refused(kget_op_fn op, bool is_rms_norm) {
    HostTensor out(DType::kFloat32, {2, 8});
    HostTensor input(DType::kFloat32, {2, 8});
    HostTensor weight(DType::kFloat32, {8});
    std::vector<kget_arg> args = {tensor_arg(out.dl()), tensor_arg(input.dl())};
    if (is_rms_norm) {
      args.push_back(tensor_arg(weight.dl()));
      args.push_back(float_arg(1e-6));
    }
    args.push_back(stream_arg());
    std::string message;
    EXPECT_EQ(call(op, args, &message), KGET_KERNEL_ERROR_UNSUPPORTED);
    EXPECT_NE(message.find("KGET_KERNEL_CPU_ISA=" + forced_isa()), std::string::npos) << message;
  }
};

// ---------------------------------------------------------------------------------------------
// rms_norm and fused_add_rms_norm

struct RowCase {
  std::vector<int64_t> shape;
  std::vector<int64_t> first_strides;  // input (rms_norm) or input (fused); empty: contiguous
  std::vector<int64_t> second_strides; // out (rms_norm) or residual (fused)
};

void check_rms_norm(DType dtype, const RowCase& c, double eps, uint64_t seed) {
  SCOPED_TRACE(std::string(dtype_label(dtype)) + " shape " + extents_text(c.shape) +
               " input strides " + extents_text(c.first_strides) + " out strides " +
               extents_text(c.second_strides));
  error_report.topic = "rms_norm";
  Random random(seed);
  HostTensor input(dtype, c.shape, c.first_strides);
  HostTensor out(dtype, c.shape, c.second_strides);
  HostTensor weight(dtype, {c.shape.back()});
  const double scale = random.uniform(0.1, 10.0);
  input.fill([&] { return random.normal(scale); });
  weight.fill([&] { return 1.0 + random.normal(0.3); });
  const std::vector<uint32_t> input_before = snapshot(input);

  std::string message;
  const int status = call(rmsnorm_library().op("rms_norm"),
                          {tensor_arg(out.dl()), tensor_arg(input.dl()), tensor_arg(weight.dl()),
                           float_arg(eps), stream_arg()},
                          &message);
  ASSERT_EQ(status, KGET_KERNEL_OK) << message;
  expect_close(out, reference_rms_norm(input, weight, eps), dtype_tolerance(dtype));
  expect_untouched_outside(out);
  expect_unchanged(input, input_before);
}

const std::vector<int64_t> kHiddenSizes = {1,    2,    3,    7,    8,    15,   16,   17,   31,
                                           32,   33,   63,   64,   65,   127,  255,  257,  1000,
                                           1023, 4095, 4096, 4097, 8191, 8192, 8193, 12289};

TEST_F(CpuNumerics, RmsNormContiguousRowsOfEverySize) {
  uint64_t seed = 1;
  for (const DType dtype : kDTypes) {
    for (const int64_t hidden : kHiddenSizes) {
      check_rms_norm(dtype, {{3, hidden}, {}, {}}, 1e-6, seed++);
    }
  }
}

TEST_F(CpuNumerics, RmsNormLeadingDimensions) {
  uint64_t seed = 100;
  for (const DType dtype : kDTypes) {
    check_rms_norm(dtype, {{64}, {}, {}}, 1e-5, seed++);            // one row, 1-D
    check_rms_norm(dtype, {{1, 1}, {}, {}}, 1e-5, seed++);          // one element
    check_rms_norm(dtype, {{2, 3, 65}, {}, {}}, 1e-5, seed++);      // 3-D
    check_rms_norm(dtype, {{2, 1, 3, 1, 33}, {}, {}}, 0.5, seed++); // extents of 1, large eps
    check_rms_norm(dtype, {{64, 4097}, {}, {}}, 1e-6, seed++);      // parallel: 262k elements
    check_rms_norm(dtype, {{1000, 17}, {}, {}}, 1e-6, seed++);      // many short rows
    check_rms_norm(dtype, {{0, 64}, {}, {}}, 1e-6, seed++);         // no rows
  }
}

TEST_F(CpuNumerics, RmsNormRowStrides) {
  uint64_t seed = 200;
  for (const DType dtype : kDTypes) {
    // Input rows with a pitch (a slice of a wider tensor), contiguous out.
    check_rms_norm(dtype, {{5, 33}, {40, 1}, {}}, 1e-6, seed++);
    // Both with pitches, and a parallel size.
    check_rms_norm(dtype, {{300, 1031}, {1100, 1}, {1031 + 7, 1}}, 1e-6, seed++);
    // 3-D with leading dimensions that cannot be merged (a transposed batch).
    check_rms_norm(dtype, {{3, 4, 65}, {65, 3 * 65 + 5, 1}, {4 * 70, 70, 1}}, 1e-6, seed++);
    // Broadcast input rows (stride 0) into distinct out rows.
    check_rms_norm(dtype, {{4, 100}, {0, 1}, {}}, 1e-6, seed++);
  }
}

TEST_F(CpuNumerics, RmsNormInPlace) {
  uint64_t seed = 300;
  for (const DType dtype : kDTypes) {
    for (const int64_t hidden : {17, 4096}) {
      SCOPED_TRACE(std::string(dtype_label(dtype)) + " hidden " + std::to_string(hidden));
      Random random(seed++);
      HostTensor x(dtype, {9, hidden}, {hidden + 3, 1});
      HostTensor weight(dtype, {hidden});
      x.fill([&] { return random.normal(2.0); });
      weight.fill([&] { return random.normal(1.0); });
      const std::vector<double> expected = reference_rms_norm(x, weight, 1e-6);
      std::string message;
      ASSERT_EQ(call(rmsnorm_library().op("rms_norm"),
                     {tensor_arg(x.dl()), tensor_arg(x.dl()), tensor_arg(weight.dl()),
                      float_arg(1e-6), stream_arg()},
                     &message),
                KGET_KERNEL_OK)
          << message;
      expect_close(x, expected, dtype_tolerance(dtype));
      expect_untouched_outside(x);
    }
  }
}

TEST_F(CpuNumerics, RmsNormZeroRowGivesZero) {
  for (const DType dtype : kDTypes) {
    HostTensor input(dtype, {2, 40});
    HostTensor out(dtype, {2, 40});
    HostTensor weight(dtype, {40});
    input.fill([] { return 0.0; });
    weight.fill([] { return 1.0; });
    ASSERT_EQ(call(rmsnorm_library().op("rms_norm"),
                   {tensor_arg(out.dl()), tensor_arg(input.dl()), tensor_arg(weight.dl()),
                    float_arg(1e-6), stream_arg()}),
              KGET_KERNEL_OK);
    for (int64_t i = 0; i < out.numel(); ++i) {
      EXPECT_EQ(out.get(i), 0.0) << dtype_label(dtype) << " element " << i;
    }
  }
}

void check_fused_add(DType dtype, const RowCase& c, double eps, uint64_t seed) {
  SCOPED_TRACE(std::string(dtype_label(dtype)) + " shape " + extents_text(c.shape) +
               " input strides " + extents_text(c.first_strides) + " residual strides " +
               extents_text(c.second_strides));
  error_report.topic = "fused_add_rms_norm";
  Random random(seed);
  HostTensor input(dtype, c.shape, c.first_strides);
  HostTensor residual(dtype, c.shape, c.second_strides);
  HostTensor weight(dtype, {c.shape.back()});
  input.fill([&] { return random.normal(1.0); });
  residual.fill([&] { return random.normal(3.0); });
  weight.fill([&] { return 1.0 + random.normal(0.3); });

  // residual' = round(input + residual): exactly, since float32 holds 2p + 2 bits of either type.
  HostTensor expected_residual(dtype, c.shape);
  for (int64_t i = 0; i < input.numel(); ++i) {
    expected_residual.set(i, round_to(dtype, input.get(i) + residual.get(i)));
  }
  const std::vector<double> expected_input = reference_rms_norm(expected_residual, weight, eps);

  std::string message;
  ASSERT_EQ(call(rmsnorm_library().op("fused_add_rms_norm"),
                 {tensor_arg(input.dl()), tensor_arg(residual.dl()), tensor_arg(weight.dl()),
                  float_arg(eps), stream_arg()},
                 &message),
            KGET_KERNEL_OK)
      << message;
  EXPECT_EQ(snapshot(residual), snapshot(expected_residual)) << "residual is not input + residual";
  expect_close(input, expected_input, dtype_tolerance(dtype));
  expect_untouched_outside(input);
  expect_untouched_outside(residual);
}

TEST_F(CpuNumerics, FusedAddRmsNormRowsOfEverySize) {
  uint64_t seed = 400;
  for (const DType dtype : kDTypes) {
    for (const int64_t hidden : kHiddenSizes) {
      check_fused_add(dtype, {{2, hidden}, {}, {}}, 1e-6, seed++);
    }
  }
}

TEST_F(CpuNumerics, FusedAddRmsNormLayouts) {
  uint64_t seed = 500;
  for (const DType dtype : kDTypes) {
    check_fused_add(dtype, {{100}, {}, {}}, 1e-5, seed++);
    check_fused_add(dtype, {{2, 3, 257}, {}, {}}, 1e-5, seed++);
    check_fused_add(dtype, {{64, 4097}, {}, {}}, 1e-6, seed++);
    check_fused_add(dtype, {{7, 33}, {50, 1}, {}}, 1e-6, seed++); // input rows with a pitch
    check_fused_add(dtype, {{40, 2050}, {2060, 1}, {2051, 1}}, 1e-6, seed++);
    check_fused_add(dtype, {{3, 4, 65}, {65, 3 * 65 + 5, 1}, {}}, 1e-6, seed++);
  }
}

// ---------------------------------------------------------------------------------------------
// Activations

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

int call_activation(const char* name, HostTensor& out, const HostTensor& input,
                    std::string* message) {
  return call(activation_library().op(name),
              {tensor_arg(out.dl()), tensor_arg(input.dl()), stream_arg()}, message);
}

void check_unary(const ActivationOp& op, DType dtype, const std::vector<int64_t>& shape,
                 const std::vector<int64_t>& input_strides, const std::vector<int64_t>& out_strides,
                 const std::function<double()>& next) {
  SCOPED_TRACE(std::string(op.name) + " " + dtype_label(dtype) + " shape " + extents_text(shape) +
               " input strides " + extents_text(input_strides) + " out strides " +
               extents_text(out_strides));
  error_report.topic = op.name;
  HostTensor input(dtype, shape, input_strides);
  HostTensor out(dtype, shape, out_strides);
  input.fill(next);
  const std::vector<uint32_t> input_before = snapshot(input);
  std::string message;
  ASSERT_EQ(call_activation(op.name, out, input, &message), KGET_KERNEL_OK) << message;
  std::vector<double> expected(static_cast<size_t>(input.numel()));
  for (int64_t i = 0; i < input.numel(); ++i) {
    expected[static_cast<size_t>(i)] = op.reference(input.get(i));
  }
  expect_close(out, expected, dtype_tolerance(dtype));
  expect_untouched_outside(out);
  expect_unchanged(input, input_before);
}

void check_gated(const ActivationOp& op, DType dtype, const std::vector<int64_t>& input_shape,
                 const std::vector<int64_t>& input_strides, const std::vector<int64_t>& out_strides,
                 const std::function<double()>& next) {
  std::vector<int64_t> out_shape = input_shape;
  out_shape.back() /= 2;
  SCOPED_TRACE(std::string(op.name) + " " + dtype_label(dtype) + " input shape " +
               extents_text(input_shape) + " input strides " + extents_text(input_strides) +
               " out strides " + extents_text(out_strides));
  error_report.topic = op.name;
  HostTensor input(dtype, input_shape, input_strides);
  HostTensor out(dtype, out_shape, out_strides);
  input.fill(next);
  const std::vector<uint32_t> input_before = snapshot(input);
  std::string message;
  ASSERT_EQ(call_activation(op.name, out, input, &message), KGET_KERNEL_OK) << message;
  const int64_t d = out_shape.back();
  const int64_t rows = product(out_shape, out_shape.size() - 1);
  std::vector<double> expected(static_cast<size_t>(out.numel()));
  for (int64_t row = 0; row < rows; ++row) {
    for (int64_t j = 0; j < d; ++j) {
      expected[static_cast<size_t>(row * d + j)] =
          op.reference(input.get(row * 2 * d + j)) * input.get(row * 2 * d + d + j);
    }
  }
  expect_close(out, expected, dtype_tolerance(dtype));
  expect_untouched_outside(out);
  expect_unchanged(input, input_before);
}

TEST_F(CpuNumerics, ElementwiseActivationsOnRandomInputs) {
  const std::vector<std::vector<int64_t>> shapes = {
      {},       {0},    {1},     {7},         {8},        {15},        {16},
      {17},     {31},   {33},    {100},       {1000},     {4097},      {65537},
      {300007}, {3, 5}, {4, 64}, {2, 3, 129}, {64, 4099}, {1, 1, 1, 9}};
  uint64_t seed = 600;
  for (const ActivationOp& op : kActivationOps) {
    if (op.gated) {
      continue;
    }
    for (const DType dtype : kDTypes) {
      for (const auto& shape : shapes) {
        Random random(seed++);
        check_unary(op, dtype, shape, {}, {}, [&] { return random.normal(3.0); });
      }
    }
  }
}

TEST_F(CpuNumerics, ElementwiseActivationsOverTheirRange) {
  // A dense sweep of [-30, 30] covers both tails, where cancellation would show.
  for (const ActivationOp& op : kActivationOps) {
    if (op.gated) {
      continue;
    }
    for (const DType dtype : kDTypes) {
      int64_t i = 0;
      const int64_t count = 60001;
      check_unary(op, dtype, {count}, {}, {},
                  [&] { return -30.0 + 60.0 * static_cast<double>(i++) / (count - 1); });
    }
  }
}

TEST_F(CpuNumerics, ElementwiseActivationsOnSpecialValues) {
  const double infinity = HUGE_VAL;
  // -inf gives NaN (x * 0), like evaluating the formula; docs/kernels.md says so.
  const std::vector<double> values = {0.0,   -0.0,  1e-30,    -1e-30,    1e-7,  -1e-7, 6e-5,
                                      -6e-5, 60000, -60000,   1e30,      -1e30, 3e38,  -3e38,
                                      NAN,   -NAN,  infinity, -infinity, 88.0,  -88.0, 89.0,
                                      -89.0, 14.9,  -14.9,    15.1,      -15.1, 1.0,   -1.0};
  for (const ActivationOp& op : kActivationOps) {
    if (op.gated) {
      continue;
    }
    for (const DType dtype : kDTypes) {
      size_t i = 0;
      check_unary(op, dtype, {static_cast<int64_t>(values.size())}, {}, {},
                  [&] { return values[i++ % values.size()]; });
    }
  }
}

TEST_F(CpuNumerics, ElementwiseActivationsStridedAndInPlace) {
  uint64_t seed = 700;
  for (const ActivationOp& op : kActivationOps) {
    if (op.gated) {
      continue;
    }
    for (const DType dtype : kDTypes) {
      Random random(seed++);
      auto next = [&] { return random.normal(3.0); };
      check_unary(op, dtype, {5, 33}, {40, 1}, {}, next);
      check_unary(op, dtype, {5, 33}, {}, {35, 1}, next);
      check_unary(op, dtype, {100, 3000}, {3001, 1}, {3003, 1}, next);   // parallel
      check_unary(op, dtype, {3, 4, 65}, {65, 3 * 65 + 5, 1}, {}, next); // transposed batch
      // In place.
      SCOPED_TRACE(std::string(op.name) + " in place, " + dtype_label(dtype));
      HostTensor x(dtype, {7, 1001}, {1010, 1});
      x.fill(next);
      std::vector<double> expected(static_cast<size_t>(x.numel()));
      for (int64_t i = 0; i < x.numel(); ++i) {
        expected[static_cast<size_t>(i)] = op.reference(x.get(i));
      }
      std::string message;
      ASSERT_EQ(call_activation(op.name, x, x, &message), KGET_KERNEL_OK) << message;
      expect_close(x, expected, dtype_tolerance(dtype));
      expect_untouched_outside(x);
    }
  }
}

TEST_F(CpuNumerics, GatedActivations) {
  uint64_t seed = 800;
  for (const ActivationOp& op : kActivationOps) {
    if (!op.gated) {
      continue;
    }
    for (const DType dtype : kDTypes) {
      Random random(seed++);
      auto next = [&] { return random.normal(3.0); };
      for (const int64_t d : {1, 3, 8, 16, 17, 64, 1000, 4099}) {
        check_gated(op, dtype, {5, 2 * d}, {}, {}, next);
      }
      check_gated(op, dtype, {2}, {}, {}, next);               // 1-D
      check_gated(op, dtype, {0, 8}, {}, {}, next);            // no rows
      check_gated(op, dtype, {2, 3, 130}, {}, {}, next);       // 3-D
      check_gated(op, dtype, {64, 8194}, {}, {}, next);        // parallel, d = 4097
      check_gated(op, dtype, {1, 600002}, {}, {}, next);       // one long row, split in blocks
      check_gated(op, dtype, {6, 34}, {40, 1}, {20, 1}, next); // pitches
      check_gated(op, dtype, {3, 4, 66}, {66, 3 * 66 + 2, 1}, {}, next);
      int64_t i = 0;
      check_gated(op, dtype, {4, 30002}, {}, {},
                  [&] { return -30.0 + 60.0 * static_cast<double>(i++ % 30002) / 30001; });
    }
  }
}

// NaN inputs of every payload give NaN: quiet and signaling, positive and negative, payload bits
// high and low (the vector bfloat16 rounding relies on it, see simd_avx2.h).
std::vector<uint32_t> nan_patterns(DType dtype) {
  switch (dtype) {
  case DType::kFloat32:
    return {0x7fc00000, 0xffc00000, 0x7fffffff, 0xffffffff, 0x7f800001, 0xff800001, 0x7fc0ffff};
  case DType::kFloat16:
    return {0x7e00, 0xfe00, 0x7fff, 0xffff, 0x7c01, 0xfc01};
  case DType::kBFloat16:
    return {0x7fc0, 0xffc0, 0x7fff, 0xffff, 0x7f81, 0xff81};
  }
  return {};
}

TEST_F(CpuNumerics, NanPayloadsStayNan) {
  for (const DType dtype : kDTypes) {
    const std::vector<uint32_t> patterns = nan_patterns(dtype);
    const int64_t n = static_cast<int64_t>(patterns.size());
    for (const ActivationOp& op : kActivationOps) {
      SCOPED_TRACE(std::string(op.name) + " " + dtype_label(dtype));
      // Each pattern in a row of 40 ones, at a different column (so vector lanes differ).
      HostTensor input(dtype, {n, op.gated ? 80 : 40});
      HostTensor out(dtype, {n, 40});
      input.fill([] { return 1.0; });
      for (int64_t r = 0; r < n; ++r) {
        input.set_bits(r * input.shape()[1] + (r * 7) % 40 + (op.gated ? (r % 2) * 40 : 0),
                       patterns[static_cast<size_t>(r)]);
      }
      std::string message;
      ASSERT_EQ(call_activation(op.name, out, input, &message), KGET_KERNEL_OK) << message;
      for (int64_t r = 0; r < n; ++r) {
        for (int64_t j = 0; j < 40; ++j) {
          const bool is_nan_position = j == (r * 7) % 40;
          EXPECT_EQ(std::isnan(out.get(r * 40 + j)), is_nan_position)
              << "row " << r << " column " << j << " (pattern " << std::hex
              << patterns[static_cast<size_t>(r)] << ")";
        }
      }
    }
    SCOPED_TRACE(std::string("rms_norm ") + dtype_label(dtype));
    HostTensor input(dtype, {n, 40});
    HostTensor out(dtype, {n, 40});
    HostTensor weight(dtype, {40});
    input.fill([] { return 1.0; });
    weight.fill([] { return 1.0; });
    for (int64_t r = 0; r < n; ++r) {
      input.set_bits(r * 40 + (r * 7) % 40, patterns[static_cast<size_t>(r)]);
    }
    HostTensor residual(dtype, {n, 40});
    residual.fill([] { return 0.5; });
    std::string message;
    ASSERT_EQ(call(rmsnorm_library().op("rms_norm"),
                   {tensor_arg(out.dl()), tensor_arg(input.dl()), tensor_arg(weight.dl()),
                    float_arg(1e-6), stream_arg()},
                   &message),
              KGET_KERNEL_OK)
        << message;
    ASSERT_EQ(call(rmsnorm_library().op("fused_add_rms_norm"),
                   {tensor_arg(input.dl()), tensor_arg(residual.dl()), tensor_arg(weight.dl()),
                    float_arg(1e-6), stream_arg()},
                   &message),
              KGET_KERNEL_OK)
        << message;
    for (int64_t i = 0; i < out.numel(); ++i) {
      // A NaN anywhere in a row makes its mean square, and so the whole row, NaN.
      EXPECT_TRUE(std::isnan(out.get(i))) << "rms_norm element " << i;
      EXPECT_TRUE(std::isnan(input.get(i))) << "fused_add_rms_norm element " << i;
      EXPECT_EQ(std::isnan(residual.get(i)), i % 40 == ((i / 40) * 7) % 40)
          << "fused_add_rms_norm residual element " << i;
    }
  }
}

// Several threads call ops at once: one gets the pool, the others run on their own threads;
// every result must still be right.
TEST_F(CpuNumerics, ConcurrentCallsFromManyThreads) {
  constexpr int kThreads = 6;
  std::vector<std::thread> threads;
  std::vector<std::string> failures(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t, &failures] {
      Random random(900 + static_cast<uint64_t>(t));
      const DType dtype = kDTypes[t % 3];
      HostTensor input(dtype, {64, 4096}); // large enough for the pool
      HostTensor out(dtype, {64, 4096});
      HostTensor weight(dtype, {4096});
      input.fill([&] { return random.normal(2.0); });
      weight.fill([&] { return random.normal(1.0); });
      const std::vector<double> expected = reference_rms_norm(input, weight, 1e-6);
      for (int repeat = 0; repeat < 5; ++repeat) {
        std::string message;
        const int status = call(rmsnorm_library().op("rms_norm"),
                                {tensor_arg(out.dl()), tensor_arg(input.dl()),
                                 tensor_arg(weight.dl()), float_arg(1e-6), stream_arg()},
                                &message);
        if (status != KGET_KERNEL_OK) {
          failures[static_cast<size_t>(t)] = message;
          return;
        }
        for (int64_t i = 0; i < out.numel(); ++i) {
          if (!close(out.get(i), expected[static_cast<size_t>(i)], dtype_tolerance(dtype))) {
            failures[static_cast<size_t>(t)] = "element " + std::to_string(i) + " differs";
            return;
          }
        }
        HostTensor activated(dtype, {64, 4096});
        if (call_activation("gelu_fast", activated, input, &message) != KGET_KERNEL_OK) {
          failures[static_cast<size_t>(t)] = message;
          return;
        }
        for (int64_t i = 0; i < activated.numel(); ++i) {
          if (!close(activated.get(i), reference_gelu_tanh(input.get(i)), dtype_tolerance(dtype))) {
            failures[static_cast<size_t>(t)] = "gelu element " + std::to_string(i) + " differs";
            return;
          }
        }
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(failures[static_cast<size_t>(t)], "") << "thread " << t;
  }
}

// After fork() the child has none of the parent's pool threads: its calls must run on its own
// thread instead of waiting for workers that do not exist.
TEST_F(CpuNumerics, ForkedChildRunsOpsOnItsOwnThread) {
  HostTensor input(DType::kFloat32, {64, 4096});
  HostTensor out(DType::kFloat32, {64, 4096});
  input.fill([] { return 0.5; });
  std::string message;
  ASSERT_EQ(call_activation("silu", out, input, &message), KGET_KERNEL_OK) << message; // pool up
  const pid_t child = fork();
  ASSERT_NE(child, -1);
  if (child == 0) {
    alarm(30); // a hang ends as SIGALRM, which the parent reports
    const int status = call_activation("silu", out, input, nullptr);
    _exit(status == KGET_KERNEL_OK && close(out.get(100), reference_silu(0.5), {1e-5, 0}) ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "child status " << status << (WIFSIGNALED(status) ? " (killed by a signal)" : "");
}

} // namespace
} // namespace kget_kernel_tests
