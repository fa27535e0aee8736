// The kernel libraries as kget sees them: the kget_kernel_init handshake, the descriptor and
// schemas, and every argument the ops must refuse, with the status and the message (which
// argument, what was expected, what was found).
#include "kernel_test_support.h"

#include <cstring>
#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace kget_kernel_tests {
namespace {

constexpr int kInvalid = KGET_KERNEL_ERROR_INVALID_ARGUMENT;

void expect_rejected(kget_op_fn op, const std::vector<kget_arg>& args, int status,
                     const std::string& fragment) {
  std::string message;
  EXPECT_EQ(call(op, args, &message), status) << message;
  EXPECT_NE(message.find(fragment), std::string::npos)
      << "message \"" << message << "\" lacks \"" << fragment << "\"";
  EXPECT_LT(message.size(), static_cast<size_t>(KGET_KERNEL_ERROR_MESSAGE_SIZE));
}

void expect_accepted(kget_op_fn op, const std::vector<kget_arg>& args) {
  std::string message;
  EXPECT_EQ(call(op, args, &message), KGET_KERNEL_OK) << message;
}

// ---------------------------------------------------------------------------------------------
// Handshake and descriptor

struct ExpectedOp {
  const char* name;
  const char* schema;
};

void expect_descriptor(const KernelLibrary& library, const char* name,
                       const std::vector<ExpectedOp>& ops) {
  ASSERT_NE(library.descriptor(), nullptr) << library.load_error();
  const kget_kernel_descriptor* descriptor = library.descriptor();
  EXPECT_EQ(descriptor->abi_version_major, 1u);
  EXPECT_EQ(descriptor->abi_version_minor, 0u);
  EXPECT_STREQ(descriptor->name, name);
  EXPECT_STREQ(descriptor->version, "1");
  ASSERT_EQ(descriptor->num_ops, ops.size());
  for (size_t i = 0; i < ops.size(); ++i) {
    EXPECT_STREQ(descriptor->ops[i].name, ops[i].name);
    EXPECT_STREQ(descriptor->ops[i].schema, ops[i].schema);
    EXPECT_NE(descriptor->ops[i].call, nullptr);
    EXPECT_EQ(descriptor->ops[i].reserved, nullptr);
  }
  EXPECT_EQ(library.init()(1, 0), descriptor) << "the same pointer every time";
  EXPECT_EQ(library.init()(1, 9), descriptor) << "a newer 1.x host is served";
  EXPECT_EQ(library.init()(2, 0), nullptr) << "another major is refused";
  EXPECT_EQ(library.init()(0, 0), nullptr);
}

TEST(Handshake, RmsnormDescriptor) {
  expect_descriptor(
      rmsnorm_library(), "rmsnorm",
      {{"rms_norm",
        "rms_norm(Tensor! out, Tensor input, Tensor weight, float eps, Stream stream) -> ()"},
       {"fused_add_rms_norm", "fused_add_rms_norm(Tensor! input, Tensor! residual, Tensor "
                              "weight, float eps, Stream stream) -> ()"}});
}

TEST(Handshake, ActivationDescriptor) {
  std::vector<ExpectedOp> ops;
  static const std::vector<std::string> names = {"gelu_fast",   "gelu_tanh",    "gelu",
                                                 "silu",        "gelu_and_mul", "gelu_tanh_and_mul",
                                                 "silu_and_mul"};
  static std::vector<std::string> schemas;
  for (const std::string& name : names) {
    schemas.push_back(name + "(Tensor! out, Tensor input, Stream stream) -> ()");
  }
  for (size_t i = 0; i < names.size(); ++i) {
    ops.push_back({names[i].c_str(), schemas[i].c_str()});
  }
  expect_descriptor(activation_library(), "activation", ops);
}

// ---------------------------------------------------------------------------------------------
// Argument lists: count and kinds, for every op

struct OpSignature {
  const KernelLibrary& (*library)();
  const char* name;
  std::vector<int32_t> kinds;
  const char* parameters;
};

std::vector<OpSignature> all_ops() {
  const std::vector<int32_t> rms = {KGET_ARG_TENSOR, KGET_ARG_TENSOR, KGET_ARG_TENSOR,
                                    KGET_ARG_FLOAT, KGET_ARG_STREAM};
  const std::vector<int32_t> unary = {KGET_ARG_TENSOR, KGET_ARG_TENSOR, KGET_ARG_STREAM};
  const char* unary_parameters = "Tensor! out, Tensor input, Stream stream";
  std::vector<OpSignature> ops = {
      {rmsnorm_library, "rms_norm", rms,
       "Tensor! out, Tensor input, Tensor weight, float eps, Stream stream"},
      {rmsnorm_library, "fused_add_rms_norm", rms,
       "Tensor! input, Tensor! residual, Tensor weight, float eps, Stream stream"},
  };
  for (const char* name : {"gelu_fast", "gelu_tanh", "gelu", "silu", "gelu_and_mul",
                           "gelu_tanh_and_mul", "silu_and_mul"}) {
    ops.push_back({activation_library, name, unary, unary_parameters});
  }
  return ops;
}

TEST(Arguments, WrongCountIsRefused) {
  for (const OpSignature& op : all_ops()) {
    SCOPED_TRACE(op.name);
    kget_op_fn fn = op.library().op(op.name);
    ASSERT_NE(fn, nullptr);
    const size_t n = op.kinds.size();
    std::vector<kget_arg> args(n - 1, none_arg());
    expect_rejected(fn, args, kInvalid,
                    "expected " + std::to_string(n) + " arguments (" + op.parameters + "), got " +
                        std::to_string(n - 1));
    args.resize(n + 1, none_arg());
    expect_rejected(fn, args, kInvalid, "got " + std::to_string(n + 1));
    kget_error error;
    error.message[0] = '\0';
    EXPECT_EQ(fn(nullptr, n, &error), kInvalid);
    EXPECT_NE(std::strstr(error.message, "a NULL argument array"), nullptr) << error.message;
  }
}

TEST(Arguments, WrongKindsAreRefused) {
  HostTensor tensor(DType::kFloat32, {2, 4});
  for (const OpSignature& op : all_ops()) {
    kget_op_fn fn = op.library().op(op.name);
    for (size_t slot = 0; slot < op.kinds.size(); ++slot) {
      SCOPED_TRACE(std::string(op.name) + " argument " + std::to_string(slot));
      std::vector<kget_arg> args;
      for (size_t i = 0; i < op.kinds.size(); ++i) {
        args.push_back(op.kinds[i] == KGET_ARG_TENSOR  ? tensor_arg(tensor.dl())
                       : op.kinds[i] == KGET_ARG_FLOAT ? float_arg(1e-6)
                                                       : stream_arg());
      }
      // Replace one argument by a value of another kind: an int where a tensor, float or stream
      // belongs, none for the stream.
      const int32_t expected = op.kinds[slot];
      args[slot] = expected == KGET_ARG_STREAM ? none_arg() : int_arg(3);
      const char* expected_name = kget_arg_kind_name(expected);
      const char* found_name = expected == KGET_ARG_STREAM ? "none" : "int";
      expect_rejected(fn, args, kInvalid, "argument " + std::to_string(slot) + " (");
      expect_rejected(fn, args, kInvalid,
                      std::string("expected a ") + expected_name + ", got " + found_name);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// rms_norm: every tensor rule

class RmsNormArguments : public ::testing::Test {
protected:
  RmsNormArguments()
      : out(DType::kFloat32, {4, 64}), input(DType::kFloat32, {4, 64}),
        weight(DType::kFloat32, {64}) {}

  std::vector<kget_arg> args(double eps = 1e-6) {
    return {tensor_arg(out.dl()), tensor_arg(input.dl()), tensor_arg(weight.dl()), float_arg(eps),
            stream_arg()};
  }
  kget_op_fn op() const { return rmsnorm_library().op("rms_norm"); }

  HostTensor out;
  HostTensor input;
  HostTensor weight;
};

TEST_F(RmsNormArguments, TheValidCallIsAccepted) {
  expect_accepted(op(), args());
}

TEST_F(RmsNormArguments, NullTensorPointer) {
  std::vector<kget_arg> list = args();
  list[1].value.tensor = nullptr;
  expect_rejected(op(), list, kInvalid, "argument 1 (input): the DLTensor pointer is NULL");
}

TEST_F(RmsNormArguments, MalformedShapes) {
  int64_t negative[] = {4, -64};
  input.dl()->shape = negative;
  expect_rejected(op(), args(), kInvalid,
                  "argument 1 (input): expected ndim >= 0, extents >= 0 and fewer than 2^63 "
                  "elements, got a malformed shape (ndim 2)");
  input.dl()->ndim = -1;
  expect_rejected(op(), args(), kInvalid, "malformed shape (ndim -1)");
  int64_t huge[] = {INT64_MAX / 2, 64};
  input.dl()->ndim = 2;
  input.dl()->shape = huge;
  expect_rejected(op(), args(), kInvalid, "argument 1 (input): expected ndim >= 0");
}

TEST_F(RmsNormArguments, UnsupportedDtypes) {
  input.dl()->dtype.bits = 64;
  expect_rejected(op(), args(), kInvalid,
                  "argument 1 (input): expected dtype float32, float16 or bfloat16, got float64 "
                  "(code 2, bits 64, lanes 1)");
  input.dl()->dtype = {kDLFloat, 32, 4};
  expect_rejected(op(), args(), kInvalid, "got another dtype (code 2, bits 32, lanes 4)");
  input.dl()->dtype = {kDLInt, 8, 1};
  expect_rejected(op(), args(), kInvalid, "got int8");
  input.dl()->dtype = {kDLFloat8_e4m3fn, 8, 1};
  expect_rejected(op(), args(), kInvalid, "got float8_e4m3fn");
}

TEST_F(RmsNormArguments, MismatchedDtypes) {
  HostTensor bf16_out(DType::kBFloat16, {4, 64});
  std::vector<kget_arg> list = args();
  list[0] = tensor_arg(bf16_out.dl());
  expect_rejected(op(), list, kInvalid,
                  "argument 0 (out): expected dtype float32 like input, got bfloat16");
  HostTensor half_weight(DType::kFloat16, {64});
  list = args();
  list[2] = tensor_arg(half_weight.dl());
  expect_rejected(op(), list, kInvalid,
                  "argument 2 (weight): expected dtype float32 like input, got float16");
}

TEST_F(RmsNormArguments, Devices) {
  input.dl()->device = {kDLCUDA, 0};
  expect_rejected(op(), args(), kInvalid,
                  "argument 1 (input): expected a tensor on the device of out (CPU), got CUDA "
                  "device 0");
  input.dl()->device = {kDLCPU, 0};
  out.dl()->device = {kDLCUDA, 1};
  expect_rejected(op(), args(), kInvalid,
                  "argument 0 (out): expected a CPU tensor (kDLCPU or kDLCUDAHost): this build "
                  "runs on the CPU only, got CUDA device 1");
  out.dl()->device = {kDLCUDAManaged, 0};
  expect_rejected(op(), args(), kInvalid, "got CUDA managed memory (device 0)");
  out.dl()->device = {kDLROCM, 0};
  expect_rejected(op(), args(), kInvalid, "got DLPack device type 10 (id 0)");
  // Pinned host memory is host memory: accepted, also mixed with kDLCPU.
  out.dl()->device = {kDLCUDAHost, 0};
  expect_accepted(op(), args());
}

TEST_F(RmsNormArguments, Shapes) {
  HostTensor scalar(DType::kFloat32, {});
  std::vector<kget_arg> list = args();
  list[0] = tensor_arg(scalar.dl());
  list[1] = tensor_arg(scalar.dl());
  expect_rejected(op(), list, kInvalid,
                  "argument 1 (input): expected at least 1 dimension, got shape []");
  HostTensor narrow(DType::kFloat32, {4, 63});
  list = args();
  list[0] = tensor_arg(narrow.dl());
  expect_rejected(op(), list, kInvalid,
                  "argument 0 (out): expected shape [4, 64] like input, got [4, 63]");
  HostTensor short_weight(DType::kFloat32, {63});
  list = args();
  list[2] = tensor_arg(short_weight.dl());
  expect_rejected(op(), list, kInvalid,
                  "argument 2 (weight): expected shape [64] (the last dimension of input), got "
                  "[63]");
  HostTensor matrix_weight(DType::kFloat32, {1, 64});
  list[2] = tensor_arg(matrix_weight.dl());
  expect_rejected(op(), list, kInvalid, "got [1, 64]");
}

TEST_F(RmsNormArguments, NullDataAndAlignment) {
  input.dl()->data = nullptr;
  input.dl()->byte_offset = 0;
  expect_rejected(op(), args(), kInvalid, "argument 1 (input): data is NULL for 256 elements");
  HostTensor fresh(DType::kFloat32, {4, 64});
  std::vector<kget_arg> list = args();
  list[1] = tensor_arg(fresh.dl());
  fresh.dl()->byte_offset += 2;
  expect_rejected(op(), list, kInvalid,
                  "argument 1 (input): expected data + byte_offset aligned to 4 bytes (float32)");
  // Empty tensors may have NULL data.
  HostTensor empty_out(DType::kFloat32, {0, 64});
  HostTensor empty_in(DType::kFloat32, {0, 64});
  empty_out.dl()->data = nullptr;
  empty_in.dl()->data = nullptr;
  list = args();
  list[0] = tensor_arg(empty_out.dl());
  list[1] = tensor_arg(empty_in.dl());
  expect_accepted(op(), list);
}

TEST_F(RmsNormArguments, Strides) {
  int64_t negative[] = {-64, 1};
  input.dl()->strides = negative;
  expect_rejected(op(), args(), kInvalid,
                  "argument 1 (input): expected non-negative strides, got strides [-64, 1]");
  int64_t column_major[] = {1, 4};
  input.dl()->strides = column_major;
  expect_rejected(op(), args(), kInvalid,
                  "argument 1 (input): expected the last dimension to be contiguous (stride 1), "
                  "got strides [1, 4]");
  input.dl()->strides = nullptr;
  int64_t overlapping[] = {32, 1};
  out.dl()->strides = overlapping;
  expect_rejected(op(), args(), kInvalid,
                  "argument 0 (out): expected a written tensor whose elements do not overlap, "
                  "got shape [4, 64] with strides [32, 1]");
  int64_t broadcast[] = {0, 1};
  out.dl()->strides = broadcast;
  expect_rejected(op(), args(), kInvalid, "whose elements do not overlap");
  out.dl()->strides = nullptr;
  int64_t huge[] = {INT64_MAX / 2, 1};
  input.dl()->strides = huge;
  expect_rejected(op(), args(), kInvalid,
                  "argument 1 (input): shape [4, 64] with strides [4611686018427387903, 1] "
                  "reaches beyond the address space");
  input.dl()->strides = nullptr;
  int64_t strided_weight[] = {2};
  weight.dl()->strides = strided_weight;
  expect_rejected(op(), args(), kInvalid,
                  "argument 2 (weight): expected a contiguous tensor, got shape [64] with "
                  "strides [2]");
}

TEST_F(RmsNormArguments, TooManyUnmergeableLeadingDimensions) {
  // 7 leading dimensions of extent 2, each stride leaving a gap: nothing merges.
  std::vector<int64_t> shape = {2, 2, 2, 2, 2, 2, 2, 8};
  std::vector<int64_t> strides(8);
  int64_t stride = 1;
  for (size_t d = 8; d-- > 0;) {
    strides[d] = stride;
    stride = stride * shape[d] + 1;
  }
  HostTensor wide_in(DType::kFloat32, shape, strides);
  HostTensor wide_out(DType::kFloat32, shape);
  HostTensor small_weight(DType::kFloat32, {8});
  expect_rejected(op(),
                  {tensor_arg(wide_out.dl()), tensor_arg(wide_in.dl()),
                   tensor_arg(small_weight.dl()), float_arg(1e-6), stream_arg()},
                  KGET_KERNEL_ERROR_UNSUPPORTED,
                  "argument 0 (out): more than 6 leading dimensions whose strides cannot be "
                  "merged");
}

TEST_F(RmsNormArguments, Aliasing) {
  // out shares part of input's memory.
  HostTensor buffer(DType::kFloat32, {5, 64});
  DLTensor first = *buffer.dl();
  DLTensor second = *buffer.dl();
  int64_t shape[] = {4, 64};
  first.shape = shape;
  second.shape = shape;
  second.byte_offset += 64 * sizeof(float);
  std::vector<kget_arg> list = args();
  list[0] = tensor_arg(&second);
  list[1] = tensor_arg(&first);
  expect_rejected(op(), list, kInvalid,
                  "argument 0 (out): expected either exactly the memory of input (in place) or "
                  "memory disjoint from it, got a partial overlap");
  // Exactly the same memory: in place, accepted.
  list[0] = tensor_arg(&first);
  expect_accepted(op(), list);
  // out over the weight.
  DLTensor over_weight = *out.dl();
  over_weight.data = weight.dl()->data;
  over_weight.byte_offset = weight.dl()->byte_offset;
  int64_t one_row[] = {1, 64};
  over_weight.shape = one_row;
  HostTensor one_input(DType::kFloat32, {1, 64});
  list = args();
  list[0] = tensor_arg(&over_weight);
  list[1] = tensor_arg(one_input.dl());
  expect_rejected(op(), list, kInvalid, "argument 0 (out): expected memory disjoint from weight");
}

TEST_F(RmsNormArguments, Eps) {
  expect_rejected(op(), args(-1.0), kInvalid,
                  "argument 3 (eps): expected a number from 0 to 3.40282e+38 (float32), got -1");
  expect_rejected(op(), args(1e39), kInvalid, "got 1e+39");
  expect_rejected(op(), args(NAN), kInvalid, "argument 3 (eps): expected a finite number, got nan");
  expect_rejected(op(), args(HUGE_VAL), kInvalid, "expected a finite number, got inf");
  expect_accepted(op(), args(0.0));
}

TEST_F(RmsNormArguments, StreamValueIsIgnoredOnTheCpu) {
  std::vector<kget_arg> list = args();
  list[4].value.stream = reinterpret_cast<void*>(uintptr_t{2}); // cudaStreamPerThread
  expect_accepted(op(), list);
}

// ---------------------------------------------------------------------------------------------
// fused_add_rms_norm

class FusedAddArguments : public ::testing::Test {
protected:
  FusedAddArguments()
      : input(DType::kBFloat16, {3, 32}), residual(DType::kBFloat16, {3, 32}),
        weight(DType::kBFloat16, {32}) {
    input.fill([] { return 1.0; });
    residual.fill([] { return 2.0; });
    weight.fill([] { return 1.0; });
  }

  std::vector<kget_arg> args() {
    return {tensor_arg(input.dl()), tensor_arg(residual.dl()), tensor_arg(weight.dl()),
            float_arg(1e-6), stream_arg()};
  }
  kget_op_fn op() const { return rmsnorm_library().op("fused_add_rms_norm"); }

  HostTensor input;
  HostTensor residual;
  HostTensor weight;
};

TEST_F(FusedAddArguments, TheValidCallIsAccepted) {
  expect_accepted(op(), args());
}

TEST_F(FusedAddArguments, Rules) {
  HostTensor other(DType::kBFloat16, {3, 31});
  std::vector<kget_arg> list = args();
  list[1] = tensor_arg(other.dl());
  expect_rejected(op(), list, kInvalid,
                  "argument 1 (residual): expected shape [3, 32] like input, got [3, 31]");
  HostTensor f32(DType::kFloat32, {3, 32});
  list[1] = tensor_arg(f32.dl());
  expect_rejected(op(), list, kInvalid,
                  "argument 1 (residual): expected dtype bfloat16 like input, got float32");
  list = args();
  list[1] = tensor_arg(input.dl());
  expect_rejected(op(), list, kInvalid,
                  "argument 1 (residual): expected memory disjoint from input");
  int64_t overlapping[] = {16, 1};
  residual.dl()->strides = overlapping;
  expect_rejected(op(), args(), kInvalid,
                  "argument 1 (residual): expected a written tensor whose elements do not "
                  "overlap");
  residual.dl()->strides = nullptr;
  input.dl()->device = {kDLCUDA, 0};
  expect_rejected(op(), args(), kInvalid, "argument 0 (input): expected a CPU tensor");
  input.dl()->device = {kDLCPU, 0};
  DLTensor weight_in_residual = *weight.dl();
  weight_in_residual.data = residual.dl()->data;
  weight_in_residual.byte_offset = residual.dl()->byte_offset;
  list = args();
  list[2] = tensor_arg(&weight_in_residual);
  expect_rejected(op(), list, kInvalid,
                  "argument 1 (residual): expected memory disjoint from weight");
  int64_t pitch[] = {1, 3};
  residual.dl()->strides = pitch;
  expect_rejected(op(), args(), kInvalid,
                  "argument 1 (residual): expected the last dimension to be contiguous");
}

// ---------------------------------------------------------------------------------------------
// Activations

TEST(ActivationArguments, ElementwiseRules) {
  kget_op_fn gelu = activation_library().op("gelu_fast");
  HostTensor out(DType::kFloat16, {4, 10});
  HostTensor input(DType::kFloat16, {4, 10});
  auto args = [&](DLTensor* o, DLTensor* i) {
    return std::vector<kget_arg>{tensor_arg(o), tensor_arg(i), stream_arg()};
  };
  expect_accepted(gelu, args(out.dl(), input.dl()));
  expect_accepted(gelu, args(input.dl(), input.dl())); // in place
  HostTensor wrong_shape(DType::kFloat16, {4, 11});
  expect_rejected(gelu, args(wrong_shape.dl(), input.dl()), kInvalid,
                  "argument 0 (out): expected shape [4, 10] like input, got [4, 11]");
  HostTensor wrong_dtype(DType::kBFloat16, {4, 10});
  expect_rejected(gelu, args(wrong_dtype.dl(), input.dl()), kInvalid,
                  "argument 0 (out): expected dtype float16 like input, got bfloat16");
  // Non-contiguous last dimension: refused only when the pair is not contiguous as a whole.
  int64_t transposed[] = {1, 4};
  DLTensor column_major = *input.dl();
  column_major.strides = transposed;
  expect_rejected(gelu, args(out.dl(), &column_major), kInvalid,
                  "argument 1 (input): expected the last dimension to be contiguous (stride 1), "
                  "got strides [1, 4]");
  // Partial overlap.
  DLTensor shifted = *input.dl();
  shifted.byte_offset += 2 * sizeof(uint16_t);
  expect_rejected(gelu, args(&shifted, input.dl()), kInvalid,
                  "argument 0 (out): expected either exactly the memory of input (in place)");
  // 0-d tensors are elementwise too.
  HostTensor scalar_out(DType::kFloat32, {});
  HostTensor scalar_in(DType::kFloat32, {});
  scalar_in.set(0, 1.0);
  expect_accepted(gelu, args(scalar_out.dl(), scalar_in.dl()));
  input.dl()->device = {kDLCUDA, 0};
  expect_rejected(gelu, args(out.dl(), input.dl()), kInvalid,
                  "argument 1 (input): expected a tensor on the device of out (CPU), got CUDA "
                  "device 0");
}

TEST(ActivationArguments, GatedRules) {
  kget_op_fn silu_and_mul = activation_library().op("silu_and_mul");
  HostTensor out(DType::kFloat32, {4, 3});
  HostTensor input(DType::kFloat32, {4, 6});
  auto args = [&](const DLTensor* o, const DLTensor* i) {
    return std::vector<kget_arg>{tensor_arg(o), tensor_arg(i), stream_arg()};
  };
  expect_accepted(silu_and_mul, args(out.dl(), input.dl()));
  HostTensor odd(DType::kFloat32, {4, 7});
  expect_rejected(silu_and_mul, args(out.dl(), odd.dl()), kInvalid,
                  "argument 1 (input): expected an even last dimension (2 * d), got 7");
  HostTensor full(DType::kFloat32, {4, 6});
  expect_rejected(silu_and_mul, args(full.dl(), input.dl()), kInvalid,
                  "argument 0 (out): expected the last dimension to be 3 (half of input's 6), "
                  "got 6");
  HostTensor rows(DType::kFloat32, {5, 3});
  expect_rejected(silu_and_mul, args(rows.dl(), input.dl()), kInvalid,
                  "argument 0 (out): expected the leading dimensions of input [4, 6], got shape "
                  "[5, 3]");
  HostTensor flat(DType::kFloat32, {12});
  expect_rejected(silu_and_mul, args(flat.dl(), input.dl()), kInvalid,
                  "expected the leading dimensions of input");
  HostTensor scalar(DType::kFloat32, {});
  expect_rejected(silu_and_mul, args(out.dl(), scalar.dl()), kInvalid,
                  "argument 1 (input): expected at least 1 dimension, got shape []");
  // out inside input (even the first half, which would be safe in practice) is refused.
  DLTensor first_half = *input.dl();
  int64_t half_shape[] = {4, 3};
  int64_t half_strides[] = {6, 1};
  first_half.shape = half_shape;
  first_half.strides = half_strides;
  expect_rejected(silu_and_mul, args(&first_half, input.dl()), kInvalid,
                  "argument 0 (out): expected memory disjoint from input");
  HostTensor half_dtype(DType::kBFloat16, {4, 3});
  expect_rejected(silu_and_mul, args(half_dtype.dl(), input.dl()), kInvalid,
                  "argument 0 (out): expected dtype float32 like input, got bfloat16");
  int64_t pitch[] = {1, 4};
  DLTensor column_major = *input.dl();
  column_major.strides = pitch;
  expect_rejected(silu_and_mul, args(out.dl(), &column_major), kInvalid,
                  "argument 1 (input): expected the last dimension to be contiguous");
}

} // namespace
} // namespace kget_kernel_tests
