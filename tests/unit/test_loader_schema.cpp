// The schema grammar of docs/kernel-abi.md ("Schemas") and the argument checks kget runs before
// every call into a kernel.
#include "loader/schema.hpp"

#include <gtest/gtest.h>
#include <string>
#include <vector>

using namespace kget::loader;
using kget::ErrorKind;

namespace {

TEST(Schema, ParsesEveryType) {
  auto schema = parse_schema("everything(Tensor! out, Tensor input, Tensor? bias, int n, int? m, "
                             "float eps, float? f, bool flag, bool? g, str mode, str? s, "
                             "ScalarType dtype, ScalarType? out_dtype, Stream stream) -> ()");
  ASSERT_TRUE(schema) << schema.error().message;
  EXPECT_EQ(schema->name, "everything");
  struct Expected {
    Parameter::Type type;
    bool optional;
    bool written;
    const char* name;
  };
  using T = Parameter::Type;
  const std::vector<Expected> expected{
      {T::tensor, false, true, "out"},
      {T::tensor, false, false, "input"},
      {T::tensor, true, false, "bias"},
      {T::int_, false, false, "n"},
      {T::int_, true, false, "m"},
      {T::float_, false, false, "eps"},
      {T::float_, true, false, "f"},
      {T::bool_, false, false, "flag"},
      {T::bool_, true, false, "g"},
      {T::str, false, false, "mode"},
      {T::str, true, false, "s"},
      {T::scalar_type, false, false, "dtype"},
      {T::scalar_type, true, false, "out_dtype"},
      {T::stream, false, false, "stream"},
  };
  ASSERT_EQ(schema->parameters.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const Parameter& parameter = schema->parameters[i];
    EXPECT_EQ(parameter.type, expected[i].type) << i;
    EXPECT_EQ(parameter.optional, expected[i].optional) << i;
    EXPECT_EQ(parameter.written, expected[i].written) << i;
    EXPECT_EQ(parameter.name, expected[i].name) << i;
  }
}

TEST(Schema, ValidSchemasRoundTripByteForByte) {
  const std::vector<std::string> valid{
      "relu(Tensor! out, Tensor input) -> ()",
      "rms_norm(Tensor! out, Tensor input, Tensor weight, float eps) -> ()",
      "noop() -> ()",
      "_x9(int _a, int B_2) -> ()",
      "gemm(Tensor! out, Tensor a, Tensor b, Tensor? scale, ScalarType? out_dtype, Stream "
      "stream) -> ()",
      "f(Tensor! inout) -> ()",
      // kernels/flash-attn3's ops (docs/attention.md).
      "mha_fwd(Tensor! out, Tensor! softmax_lse, Tensor q, Tensor k, Tensor v, float "
      "softmax_scale, bool causal, int window_left, int window_right, float softcap, Stream "
      "stream) -> ()",
      "mha_varlen_fwd(Tensor! out, Tensor! softmax_lse, Tensor q, Tensor k, Tensor v, Tensor "
      "cu_seqlens_q, Tensor cu_seqlens_k, int max_seqlen_q, int max_seqlen_k, float "
      "softmax_scale, bool causal, int window_left, int window_right, float softcap, Stream "
      "stream) -> ()",
  };
  for (const auto& text : valid) {
    auto schema = parse_schema(text);
    ASSERT_TRUE(schema) << text << ": " << schema.error().message;
    EXPECT_EQ(to_string(*schema), text);
  }
  auto relu = parse_schema("relu(Tensor! out, Tensor input) -> ()");
  ASSERT_TRUE(relu);
  EXPECT_EQ(signature(*relu), "relu(Tensor! out, Tensor input)");
  EXPECT_EQ(type_name(relu->parameters[0]), "Tensor!");
}

TEST(Schema, RejectsEverythingOutsideTheCanonicalForm) {
  struct Case {
    std::string text;
    std::string message; // a part of the error message
  };
  const std::vector<Case> invalid{
      {"", "at position 0: expected the op's name"},
      {"9relu(Tensor x) -> ()", "at position 0: expected the op's name"},
      {"relu (Tensor x) -> ()", "at position 4: expected \"(\" after the op's name, found a space"},
      {"relu(Tensor x)", "at position 14: expected \" -> ()\""},
      {"relu(Tensor x) -> ( )", "at position 19: expected \" -> ()\""},
      {"relu(Tensor x) -> Tensor", "at position 18: expected \" -> ()\""},
      {"relu(Tensor x)  -> ()", "at position 15: expected \" -> ()\""},
      {"relu(Tensor x) -> () ", "at position 20: expected the end of the schema"},
      {"relu(Tensor x) -> ()\n", "found byte 0x0a"},
      {"relu( Tensor x) -> ()", "at position 5: expected a type"},
      {"relu(Tensor  x) -> ()", "at position 12: expected a parameter name"},
      {"relu(Tensor x ) -> ()", "at position 13: expected \", \" before the next parameter"},
      {"relu(Tensor x,Tensor y) -> ()", "at position 13: expected \", \""},
      {"relu(Tensor x,  Tensor y) -> ()", "at position 15: expected a type"},
      {"relu(Tensor x, ) -> ()", "at position 15: expected a type"},
      {"relu(Tensor) -> ()", "at position 11: expected one space between the type"},
      {"relu(tensor x) -> ()", "at position 5: expected a type (Tensor, Tensor!,"},
      {"relu(Tensor[] x) -> ()", "at position 11: expected one space"},
      {"relu(int[] x) -> ()", "at position 8: expected one space"},
      {"relu(Tensor(a!) x) -> ()", "at position 11: expected one space"},
      {"relu(Tensor!? x) -> ()", "\"Tensor!?\" is not a type"},
      {"relu(Stream? s) -> ()", "\"Stream?\" is not a type"},
      {"relu(int! n) -> ()", "\"int!\" is not a type: only Tensor can be written"},
      {"relu(Stream! s) -> ()", "\"Stream!\" is not a type"},
      {"relu(Tensor?? x) -> ()", "at position 12: expected one space"},
      {"relu(Tensor x = None) -> ()", "at position 13: expected \", \""},
      {"relu(Tensor x, Tensor x) -> ()", "at position 22: parameter name \"x\" is used twice"},
      {"relu(Tensor 1x) -> ()", "at position 12: expected a parameter name"},
      {"r\xc3\xa9lu(Tensor x) -> ()", "found byte 0xc3"},
      {"relu(Tensor x\xc3\xa9) -> ()", "found byte 0xc3"},
      {"relu(Tensor x) -> ();", "expected the end of the schema"},
      {"relu(Tensor x) ->()", "at position 17: expected \" -> ()\""},
  };
  for (const auto& item : invalid) {
    auto schema = parse_schema(item.text);
    ASSERT_FALSE(schema) << item.text;
    EXPECT_EQ(schema.error().kind, ErrorKind::abi) << item.text;
    EXPECT_NE(schema.error().message.find(item.message), std::string::npos)
        << item.text << ": " << schema.error().message;
    EXPECT_NE(schema.error().message.find("invalid schema \"" + item.text + "\""),
              std::string::npos)
        << schema.error().message;
  }
}

TEST(Schema, DescribesKinds) {
  EXPECT_EQ(describe_kind(KGET_ARG_NONE), "none");
  EXPECT_EQ(describe_kind(KGET_ARG_TENSOR), "a tensor");
  EXPECT_EQ(describe_kind(KGET_ARG_INT), "an int");
  EXPECT_EQ(describe_kind(KGET_ARG_FLOAT), "a float");
  EXPECT_EQ(describe_kind(KGET_ARG_BOOL), "a bool");
  EXPECT_EQ(describe_kind(KGET_ARG_STRING), "a string");
  EXPECT_EQ(describe_kind(KGET_ARG_STREAM), "a stream");
  EXPECT_EQ(describe_kind(KGET_ARG_DTYPE), "a dtype (ScalarType)");
  EXPECT_EQ(describe_kind(42), "an unknown kind 42");
  EXPECT_EQ(describe_kind(-1), "an unknown kind -1");
}

// Arguments for "rms_norm(Tensor! out, Tensor input, Tensor weight, float eps)" and one of each
// other type, all valid; tests break one at a time.
class Arguments : public ::testing::Test {
protected:
  void SetUp() override {
    auto parsed = parse_schema(
        "all(Tensor! out, Tensor? bias, int n, float eps, bool flag, str mode, ScalarType dtype, "
        "Stream stream, int? m) -> ()");
    ASSERT_TRUE(parsed) << parsed.error().message;
    schema = *parsed;
    tensor.ndim = 1;
    tensor.shape = &extent;
    args.assign(9, kget_arg{});
    args[0].kind = KGET_ARG_TENSOR;
    args[0].value.tensor = &tensor;
    args[1].kind = KGET_ARG_TENSOR;
    args[1].value.tensor = &tensor;
    args[2].kind = KGET_ARG_INT;
    args[2].value.i = 3;
    args[3].kind = KGET_ARG_FLOAT;
    args[3].value.f = 1e-6;
    args[4].kind = KGET_ARG_BOOL;
    args[4].value.b = 1;
    args[5].kind = KGET_ARG_STRING;
    args[5].value.s = "fast";
    args[6].kind = KGET_ARG_DTYPE;
    args[6].value.dtype = DLDataType{kDLBfloat, 16, 1};
    args[7].kind = KGET_ARG_STREAM;
    args[7].value.stream = nullptr; // the default stream
    args[8].kind = KGET_ARG_INT;
    args[8].value.i = -1;
  }

  std::string error() const {
    auto checked = check_arguments(schema, args.data(), args.size());
    if (checked) {
      return "";
    }
    EXPECT_EQ(checked.error().kind, ErrorKind::usage);
    return checked.error().message;
  }

  static constexpr const char* k_signature = "all(Tensor! out, Tensor? bias, int n, float eps, "
                                             "bool flag, str mode, ScalarType dtype, Stream "
                                             "stream, int? m)";
  Schema schema;
  int64_t extent = 4;
  DLTensor tensor{};
  std::vector<kget_arg> args;
};

TEST_F(Arguments, AcceptsValidArgumentsAndNoneForOptionals) {
  EXPECT_EQ(error(), "");
  args[1] = kget_arg{};
  args[8] = kget_arg{};
  EXPECT_EQ(error(), "");
  tensor.ndim = 0;
  tensor.shape = nullptr; // a scalar tensor needs no shape
  EXPECT_EQ(error(), "");
}

TEST_F(Arguments, RejectsAWrongCount) {
  args.pop_back();
  EXPECT_EQ(error(), std::string(k_signature) + ": takes 9 arguments; got 8");
  auto one = parse_schema("one(Tensor x) -> ()");
  ASSERT_TRUE(one);
  auto checked = check_arguments(*one, nullptr, 0);
  ASSERT_FALSE(checked);
  EXPECT_EQ(checked.error().message, "one(Tensor x): takes 1 argument; got 0");
  auto none = parse_schema("none() -> ()");
  ASSERT_TRUE(none);
  EXPECT_TRUE(check_arguments(*none, nullptr, 0));
}

TEST_F(Arguments, RejectsANullArray) {
  auto checked = check_arguments(schema, nullptr, 9);
  ASSERT_FALSE(checked);
  EXPECT_EQ(checked.error().kind, ErrorKind::usage);
  EXPECT_EQ(checked.error().message,
            std::string(k_signature) + ": the argument array is NULL with 9 arguments");
}

TEST_F(Arguments, RejectsAWrongKind) {
  args[3].kind = KGET_ARG_INT;
  EXPECT_EQ(error(), std::string(k_signature) + ": argument 4 \"eps\" must be a float; got an int");
  SetUp();
  args[1].kind = KGET_ARG_FLOAT;
  EXPECT_EQ(error(), std::string(k_signature) +
                         ": argument 2 \"bias\" must be a tensor or none; got a float");
  SetUp();
  args[6].kind = 99;
  EXPECT_EQ(error(), std::string(k_signature) +
                         ": argument 7 \"dtype\" must be a dtype (ScalarType); got an unknown "
                         "kind 99");
  SetUp();
  args[7].kind = KGET_ARG_STRING;
  EXPECT_EQ(error(),
            std::string(k_signature) + ": argument 8 \"stream\" must be a stream; got a string");
  SetUp();
  args[8].kind = KGET_ARG_FLOAT;
  EXPECT_EQ(error(),
            std::string(k_signature) + ": argument 9 \"m\" must be an int or none; got a float");
}

TEST_F(Arguments, RejectsNoneForARequiredParameter) {
  args[0] = kget_arg{};
  EXPECT_EQ(error(), std::string(k_signature) + ": argument 1 \"out\" must be a tensor; got none");
  SetUp();
  args[7] = kget_arg{};
  EXPECT_EQ(error(),
            std::string(k_signature) + ": argument 8 \"stream\" must be a stream; got none");
}

TEST_F(Arguments, RejectsNullPointers) {
  args[0].value.tensor = nullptr;
  EXPECT_EQ(error(), std::string(k_signature) +
                         ": argument 1 \"out\" is a tensor with a NULL DLTensor pointer");
  SetUp();
  args[1].value.tensor = nullptr;
  EXPECT_EQ(error(), std::string(k_signature) +
                         ": argument 2 \"bias\" is a tensor with a NULL DLTensor pointer; pass "
                         "KGET_ARG_NONE for an absent optional tensor");
  SetUp();
  args[5].value.s = nullptr;
  EXPECT_EQ(error(),
            std::string(k_signature) + ": argument 6 \"mode\" is a string with a NULL pointer");
}

TEST_F(Arguments, RejectsMalformedTensorHeaders) {
  tensor.ndim = -1;
  EXPECT_EQ(error(), std::string(k_signature) +
                         ": argument 1 \"out\" is a tensor with ndim -1; expected ndim >= 0");
  tensor.ndim = 2;
  tensor.shape = nullptr;
  EXPECT_EQ(error(), std::string(k_signature) +
                         ": argument 1 \"out\" is a tensor with ndim 2 and a NULL shape pointer");
}

TEST_F(Arguments, RejectsABoolOtherThanZeroOrOne) {
  args[4].value.b = 0;
  EXPECT_EQ(error(), "");
  args[4].value.b = 2;
  EXPECT_EQ(error(),
            std::string(k_signature) + ": argument 5 \"flag\" must be a bool, 0 or 1; got 2");
  args[4].value.b = -1;
  EXPECT_EQ(error(),
            std::string(k_signature) + ": argument 5 \"flag\" must be a bool, 0 or 1; got -1");
}

TEST(ArgumentsExample, NamesTheParameterAsTheDocumentationShows) {
  auto schema = parse_schema("rms_norm(Tensor! out, Tensor input, Tensor weight, float eps) -> ()");
  ASSERT_TRUE(schema);
  DLTensor tensor{};
  std::vector<kget_arg> args(4);
  for (int i = 0; i < 3; ++i) {
    args[i].kind = KGET_ARG_TENSOR;
    args[i].value.tensor = &tensor;
  }
  args[3].kind = KGET_ARG_INT;
  args[3].value.i = 1;
  auto checked = check_arguments(*schema, args.data(), args.size());
  ASSERT_FALSE(checked);
  EXPECT_EQ(checked.error().message, "rms_norm(Tensor! out, Tensor input, Tensor weight, float "
                                     "eps): argument 4 \"eps\" must be a float; got an int");
  auto short_call = check_arguments(*schema, args.data(), 3);
  ASSERT_FALSE(short_call);
  EXPECT_EQ(short_call.error().message, "rms_norm(Tensor! out, Tensor input, Tensor weight, float "
                                        "eps): takes 4 arguments; got 3");
}

} // namespace
