#include "metadata/metadata.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

using kget::ErrorKind;
using kget::metadata::CudaTarget;
using kget::metadata::parse_cuda_target;
using kget::metadata::parse_metadata;
using nlohmann::json;

namespace {

json valid_cuda_document() {
  return json::parse(R"json({
    "name": "rmsnorm", "id": "_rmsnorm_cuda_1a2b3c4", "version": 1, "license": "Apache-2.0",
    "backend": {"type": "cuda", "archs": ["8.0", "9.0a", "9.0+PTX"]},
    "digest": {"algorithm": "sha256",
               "files": {"librmsnorm.so": "yj/56wyj51lVe0/Q2CU53BGR355R6dEPFcyQBhBlYag=",
                         "share/LICENSE": "yj/56wyj51lVe0/Q2CU53BGR355R6dEPFcyQBhBlYag="}},
    "provenance": {"kernel": {"commit": "abc", "dirty": false}},
    "kget": {
      "abi": {"major": 1, "minor": 0},
      "library": "librmsnorm.so",
      "ops": [{"name": "rms_norm", "schema": "rms_norm(Tensor! out, Tensor input, Tensor weight, float eps) -> ()"},
              {"name": "fused_add_rms_norm", "schema": "fused_add_rms_norm(Tensor! input, Tensor! residual, Tensor weight, float eps) -> ()"}],
      "cuda": {"toolkit": "13.0", "min_driver": "13.0", "sass": ["sm_80", "sm_90a", "sm_100f"], "ptx": ["compute_90"]},
      "requires": {"symbol_versions": ["GLIBC_2.17", "GLIBCXX_3.4.21", "CXXABI_1.3.9"],
                   "cpu_features": ["avx2"]}
    }
  })json");
}

TEST(MetadataParse, ValidCudaDocument) {
  auto parsed = parse_metadata(valid_cuda_document().dump());
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->name, "rmsnorm");
  EXPECT_EQ(parsed->version, 1);
  EXPECT_EQ(parsed->backend_type, "cuda");
  EXPECT_EQ(parsed->backend_archs.size(), 3u);
  EXPECT_EQ(parsed->digest_files.size(), 2u);
  EXPECT_EQ(parsed->kget.abi_major, 1);
  EXPECT_EQ(parsed->kget.library, "librmsnorm.so");
  ASSERT_EQ(parsed->kget.ops.size(), 2u);
  EXPECT_EQ(parsed->kget.ops[1].name, "fused_add_rms_norm");
  ASSERT_TRUE(parsed->kget.cuda);
  EXPECT_EQ(parsed->kget.cuda->toolkit, (kget::util::MajorMinor{13, 0}));
  ASSERT_EQ(parsed->kget.cuda->sass.size(), 3u);
  EXPECT_EQ(parsed->kget.cuda->sass[1].suffix, CudaTarget::Suffix::arch_specific);
  EXPECT_EQ(parsed->kget.cuda->sass[2].capability, (kget::util::MajorMinor{10, 0}));
  EXPECT_EQ(parsed->kget.cuda->ptx[0].kind, CudaTarget::Kind::ptx);
  EXPECT_EQ(parsed->kget.symbol_versions.size(), 3u);
  EXPECT_EQ(parsed->kget.cpu_features, std::vector<std::string>{"avx2"});
}

TEST(MetadataParse, ValidCpuDocumentWithoutOptionalKeys) {
  json document = valid_cuda_document();
  document["backend"] = {{"type", "cpu"}};
  document["kget"].erase("cuda");
  document["kget"].erase("requires");
  document.erase("license");
  document.erase("id");
  auto parsed = parse_metadata(document.dump());
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_FALSE(parsed->kget.cuda);
  EXPECT_TRUE(parsed->kget.symbol_versions.empty());
}

struct Mutation {
  const char* pointer;   // JSON pointer to change
  const char* new_value; // JSON text, or nullptr to remove the key
  const char* expected;  // substring of the error message
};

void PrintTo(const Mutation& mutation, std::ostream* out) {
  *out << mutation.pointer << " = " << (mutation.new_value ? mutation.new_value : "(removed)");
}

class MetadataMutation : public ::testing::TestWithParam<Mutation> {};

TEST_P(MetadataMutation, FailsNamingThePath) {
  const Mutation& mutation = GetParam();
  json document = valid_cuda_document();
  json::json_pointer pointer(mutation.pointer);
  if (mutation.new_value == nullptr) {
    document[pointer.parent_pointer()].erase(pointer.back());
  } else {
    document[pointer] = json::parse(mutation.new_value);
  }
  auto parsed = parse_metadata(document.dump());
  ASSERT_FALSE(parsed) << "accepted a document with " << mutation.pointer << " changed";
  EXPECT_EQ(parsed.error().kind, ErrorKind::invalid_metadata);
  EXPECT_NE(parsed.error().message.find(mutation.expected), std::string::npos)
      << "message: " << parsed.error().message << "\nexpected to contain: " << mutation.expected;
}

INSTANTIATE_TEST_SUITE_P(
    Fields, MetadataMutation,
    ::testing::Values(
        Mutation{"/name", nullptr, "$.name: missing (required)"},
        Mutation{"/name", "42", "$.name: expected a string, found an integer 42"},
        Mutation{"/name", "\"\"", "$.name: must not be empty"},
        Mutation{"/version", "\"1\"", "$.version: expected an integer, found a string \"1\""},
        Mutation{"/version", "-1", "$.version: -1 is out of range"},
        Mutation{"/version", "1.5", "$.version: expected an integer, found a number 1.5"},
        Mutation{"/id", "[]", "$.id: expected a string, found an array"},
        Mutation{"/backend", nullptr, "$.backend: missing (required)"},
        Mutation{"/backend", "\"cuda\"", "$.backend: expected an object"},
        Mutation{"/backend/type", "\"rocm\"",
                 "$.backend.type: \"rocm\" is not a backend kget loads"},
        Mutation{"/backend/archs", "[9]", "$.backend.archs[0]: expected a string"},
        Mutation{"/digest", nullptr, "$.digest: missing (required)"},
        Mutation{"/digest/algorithm", "\"md5\"", "$.digest.algorithm: \"md5\" is not a digest"},
        Mutation{"/digest/files", "{}", "$.digest.files: lists no files"},
        Mutation{"/digest/files/librmsnorm.so", "\"abc\"",
                 "$.digest.files[\"librmsnorm.so\"]: \"abc\" is not a base64 sha256 digest"},
        Mutation{"/digest/files/..~1evil.so", "\"yj/56wyj51lVe0/Q2CU53BGR355R6dEPFcyQBhBlYag=\"",
                 "the file path contains the path component \"..\""},
        Mutation{"/digest/files/~1etc~1passwd", "\"yj/56wyj51lVe0/Q2CU53BGR355R6dEPFcyQBhBlYag=\"",
                 "the file path contains an absolute path"},
        Mutation{"/digest/files/a\\\\b.so", "\"yj/56wyj51lVe0/Q2CU53BGR355R6dEPFcyQBhBlYag=\"",
                 "the file path contains a backslash"},
        Mutation{"/kget", nullptr, "$.kget: missing (required)"},
        Mutation{"/kget/abi/major", "\"1\"", "$.kget.abi.major: expected an integer"},
        Mutation{"/kget/abi/minor", nullptr, "$.kget.abi.minor: missing (required)"},
        Mutation{"/kget/library", "\"libother.so\"",
                 "$.kget.library: \"libother.so\" is not listed in $.digest.files"},
        Mutation{"/kget/library", "\"../librmsnorm.so\"", "$.kget.library: the path contains"},
        Mutation{"/kget/ops", "[]", "$.kget.ops: lists no ops"},
        Mutation{"/kget/ops", "{}", "$.kget.ops: expected an array of ops"},
        Mutation{"/kget/ops/0/schema", nullptr, "$.kget.ops[0].schema: missing (required)"},
        Mutation{"/kget/ops/1/name", "\"rms_norm\"",
                 "$.kget.ops[1].name: op \"rms_norm\" is listed twice"},
        Mutation{"/kget/ops/0/schema", "\"other(Tensor x) -> ()\"",
                 "$.kget.ops[0].schema: the schema \"other(Tensor x) -> ()\" does not start with "
                 "\"rms_norm(\""},
        Mutation{"/kget/cuda", nullptr,
                 "$.kget.cuda: missing (required when $.backend.type is \"cuda\")"},
        Mutation{"/kget/cuda/toolkit", "\"13\"",
                 "$.kget.cuda.toolkit: \"13\" is not a MAJOR.MINOR version"},
        Mutation{"/kget/cuda/min_driver", "13.0",
                 "$.kget.cuda.min_driver: expected a string, found a number"},
        Mutation{"/kget/cuda/sass/1", "\"sm90a\"",
                 "$.kget.cuda.sass[1]: \"sm90a\" is not a SASS target"},
        Mutation{"/kget/cuda/sass/0", "\"compute_80\"",
                 "$.kget.cuda.sass[0]: \"compute_80\" is not a SASS target"},
        Mutation{"/kget/cuda/ptx/0", "\"sm_90\"",
                 "$.kget.cuda.ptx[0]: \"sm_90\" is not a PTX target"},
        Mutation{"/kget/cuda/ptx", nullptr, "$.kget.cuda.ptx: missing (required)"},
        Mutation{"/kget/requires/symbol_versions/0", "\"GCC_7.0.0\"",
                 "$.kget.requires.symbol_versions[0]: \"GCC_7.0.0\" is not a GLIBC_x.y"},
        Mutation{"/kget/requires/symbol_versions/1", "\"GLIBCXX_3\"", "is not a GLIBC_x.y"},
        Mutation{"/kget/requires/cpu_features", "\"avx2\"",
                 "$.kget.requires.cpu_features: expected an array of strings"},
        Mutation{"/backend/type", "\"cpu\"",
                 "$.kget.cuda: present, but $.backend.type is not \"cuda\""}));

TEST(MetadataParse, CudaSectionWithNoTargetsIsRejected) {
  json document = valid_cuda_document();
  document["kget"]["cuda"]["sass"] = json::array();
  document["kget"]["cuda"]["ptx"] = json::array();
  auto parsed = parse_metadata(document.dump());
  ASSERT_FALSE(parsed);
  EXPECT_NE(parsed.error().message.find("$.kget.cuda: lists neither SASS nor PTX targets"),
            std::string::npos);
}

TEST(MetadataParse, NotJson) {
  for (const char* text : {"", "{", "not json", "{\"name\": }", "[1, 2"}) {
    auto parsed = parse_metadata(text);
    ASSERT_FALSE(parsed) << text;
    EXPECT_EQ(parsed.error().kind, ErrorKind::invalid_metadata);
    EXPECT_NE(parsed.error().message.find("metadata.json is not valid JSON"), std::string::npos);
  }
}

TEST(MetadataParse, TopLevelMustBeAnObject) {
  auto parsed = parse_metadata("[]");
  ASSERT_FALSE(parsed);
  EXPECT_NE(parsed.error().message.find("$: expected an object, found an array"),
            std::string::npos);
}

TEST(CudaTarget, ParsesSassAndPtx) {
  struct Case {
    const char* text;
    CudaTarget::Kind kind;
    int major;
    int minor;
    CudaTarget::Suffix suffix;
  };
  for (const Case& c : {
           Case{"sm_75", CudaTarget::Kind::sass, 7, 5, CudaTarget::Suffix::none},
           Case{"sm_90a", CudaTarget::Kind::sass, 9, 0, CudaTarget::Suffix::arch_specific},
           Case{"sm_100f", CudaTarget::Kind::sass, 10, 0, CudaTarget::Suffix::family},
           Case{"sm_121", CudaTarget::Kind::sass, 12, 1, CudaTarget::Suffix::none},
           Case{"compute_90", CudaTarget::Kind::ptx, 9, 0, CudaTarget::Suffix::none},
           Case{"compute_100a", CudaTarget::Kind::ptx, 10, 0, CudaTarget::Suffix::arch_specific},
       }) {
    auto target = parse_cuda_target(c.text);
    ASSERT_TRUE(target) << c.text;
    EXPECT_EQ(target->kind, c.kind) << c.text;
    EXPECT_EQ(target->capability, (kget::util::MajorMinor{c.major, c.minor})) << c.text;
    EXPECT_EQ(target->suffix, c.suffix) << c.text;
    EXPECT_EQ(to_string(*target), c.text);
  }
}

TEST(CudaTarget, RejectsMalformed) {
  for (const char* text : {"", "sm_", "sm_9", "sm_9000", "sm_090", "sm_90b", "sm90", "compute_",
                           "compute_x0", "SM_90", "sm_90aa", "lto_90", "sm_-1"}) {
    EXPECT_FALSE(parse_cuda_target(text)) << text;
  }
}

TEST(SymbolVersion, ParsesKnownFamilies) {
  auto glibcxx = kget::metadata::parse_symbol_version("GLIBCXX_3.4.21");
  ASSERT_TRUE(glibcxx);
  EXPECT_EQ(glibcxx->family, "GLIBCXX");
  EXPECT_EQ(glibcxx->version, (std::vector<int>{3, 4, 21}));
  auto glibc = kget::metadata::parse_symbol_version("GLIBC_2.2.5");
  ASSERT_TRUE(glibc);
  EXPECT_EQ(glibc->version, (std::vector<int>{2, 2, 5}));
  for (const char* text : {"GLIBC_PRIVATE", "GCC_3.0", "GLIBC_", "GLIBC2.17", "CXXABI_1",
                           "glibc_2.17", "GLIBCXX_3..4"}) {
    EXPECT_FALSE(kget::metadata::parse_symbol_version(text)) << text;
  }
}

} // namespace

namespace {

TEST(MetadataParse, DeeplyNestedValuesDoNotExhaustTheStack) {
  std::string deep = "{\"name\": " + std::string(100000, '[') + std::string(100000, ']') + "}";
  auto parsed = parse_metadata(deep);
  ASSERT_FALSE(parsed);
  EXPECT_NE(
      parsed.error().message.find("$.name: expected a string, found an array with 1 elements"),
      std::string::npos)
      << parsed.error().message.substr(0, 200);
}

TEST(MetadataParse, CpuFeatureNamesAreLowerCaseTokens) {
  json document = valid_cuda_document();
  document["kget"]["requires"]["cpu_features"] = {"avx2", "AVX512F"};
  auto parsed = parse_metadata(document.dump());
  ASSERT_FALSE(parsed);
  EXPECT_NE(parsed.error().message.find(
                "$.kget.requires.cpu_features[1]: \"AVX512F\" is not a CPU feature name"),
            std::string::npos)
      << parsed.error().message;
}

} // namespace
