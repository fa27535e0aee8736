// build.toml and matrix.toml parsing: values, defaults, and errors that name file:line.
#include "build/config.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

namespace kget::build {
namespace {

using kget::testing::TempDir;
using kget::testing::write_file;

constexpr const char* k_minimal_kernel = R"toml([general]
name = "demo"
version = 2
license = "MIT"
abi = "1.0"
backends = ["cpu"]

[[ops]]
name = "op_a"
schema = "op_a(Tensor! out) -> ()"

[kernel.cpu]
src = ["a.cpp"]
version-script = "exports.map"

[kernel.cpu.isa.avx2]
arch = ["x86_64"]
src = ["a_avx2.cpp"]
cxx-flags = ["-mavx2"]
define = "HAVE_AVX2"
)toml";

class KernelSpecTest : public ::testing::Test {
protected:
  void SetUp() override {
    write_file(dir.path() / "a.cpp", "");
    write_file(dir.path() / "a_avx2.cpp", "");
    write_file(dir.path() / "exports.map", "{ global: kget_kernel_init; local: *; };\n");
  }
  Result<KernelSpec> parse(const std::string& text) {
    write_file(dir.path() / "build.toml", text);
    return load_kernel_spec(dir.path());
  }
  TempDir dir;
};

TEST_F(KernelSpecTest, ParsesEveryKey) {
  auto spec = parse(k_minimal_kernel);
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->name, "demo");
  EXPECT_EQ(spec->version, 2);
  EXPECT_EQ(spec->license, "MIT");
  EXPECT_EQ(spec->abi_major, 1);
  EXPECT_EQ(spec->abi_minor, 0);
  ASSERT_EQ(spec->ops.size(), 1u);
  EXPECT_EQ(spec->ops[0].schema, "op_a(Tensor! out) -> ()");
  ASSERT_TRUE(spec->cpu);
  EXPECT_FALSE(spec->cuda);
  EXPECT_EQ(spec->cpu->cxx_standard, 17);
  ASSERT_EQ(spec->cpu->sources.size(), 1u);
  EXPECT_TRUE(spec->cpu->sources[0].is_absolute());
  EXPECT_EQ(spec->cpu->sources[0].filename(), "a.cpp");
  ASSERT_TRUE(spec->cpu->version_script);
  ASSERT_EQ(spec->cpu->isa.size(), 1u);
  EXPECT_EQ(spec->cpu->isa[0].name, "avx2");
  EXPECT_EQ(spec->cpu->isa[0].define, "HAVE_AVX2");
}

TEST_F(KernelSpecTest, ErrorsNameFileLineAndKey) {
  std::string text = k_minimal_kernel;
  text.replace(text.find("version = 2"), 11, "version = \"2\"");
  auto spec = parse(text);
  ASSERT_FALSE(spec);
  EXPECT_EQ(spec.error().kind, ErrorKind::invalid_metadata);
  EXPECT_NE(spec.error().message.find(
                "build.toml:3: general.version: expected an integer, found a string"),
            std::string::npos)
      << spec.error().message;
}

TEST_F(KernelSpecTest, RefusesUnknownKeys) {
  std::string text = k_minimal_kernel;
  text.replace(text.find("license"), 7, "licence");
  auto spec = parse(text);
  ASSERT_FALSE(spec);
  EXPECT_NE(spec.error().message.find(":4: general.licence: unknown key"), std::string::npos)
      << spec.error().message;
}

TEST_F(KernelSpecTest, RefusesMissingSourceFiles) {
  std::string text = k_minimal_kernel;
  text.replace(text.find("\"a.cpp\""), 7, "\"missing.cpp\"");
  auto spec = parse(text);
  ASSERT_FALSE(spec);
  EXPECT_NE(spec.error().message.find("kernel.cpu.src[0]: \"missing.cpp\" does not exist"),
            std::string::npos)
      << spec.error().message;
}

TEST_F(KernelSpecTest, RefusesABackendWithoutItsTable) {
  std::string text = k_minimal_kernel;
  text.replace(text.find("backends = [\"cpu\"]"), 18, "backends = [\"cpu\", \"cuda\"]");
  auto spec = parse(text);
  ASSERT_FALSE(spec);
  EXPECT_NE(spec.error().message.find(":6: general.backends[1]: \"cuda\" is listed but there is no "
                                      "[kernel.cuda] table"),
            std::string::npos)
      << spec.error().message;
}

TEST_F(KernelSpecTest, ParsesCudaCapabilities) {
  write_file(dir.path() / "k.cu", "");
  std::string text = k_minimal_kernel;
  text.replace(text.find("backends = [\"cpu\"]"), 18, "backends = [\"cpu\", \"cuda\"]");
  text += "\n[kernel.cuda]\nsrc = [\"k.cu\"]\ncuda-capabilities = [\"8.0\", \"9.0a\", \"10.0f\"]\n";
  auto spec = parse(text);
  ASSERT_TRUE(spec) << spec.error().message;
  ASSERT_TRUE(spec->cuda);
  ASSERT_EQ(spec->cuda->cuda_capabilities.size(), 3u);
  EXPECT_EQ(metadata::to_string(spec->cuda->cuda_capabilities[1]), "sm_90a");
  EXPECT_EQ(metadata::to_string(spec->cuda->cuda_capabilities[2]), "sm_100f");

  text.replace(text.find("\"9.0a\""), 6, "\"sm_90\"");
  auto bad = parse(text);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("kernel.cuda.cuda-capabilities[1]: \"sm_90\" is not a CUDA "
                                     "capability"),
            std::string::npos)
      << bad.error().message;
}

// A kernel with architecture groups: [kernel.cuda] src shared, each group its own files.
constexpr const char* k_grouped_kernel = R"toml([general]
name = "demo"
version = 1
abi = "1.0"
backends = ["cuda"]

[[ops]]
name = "op_a"
schema = "op_a(Tensor! out) -> ()"

[kernel.cuda]
src = ["a.cpp", "shared.cu"]
deps = ["cutlass"]

[kernel.cuda.group.sm90]
capabilities = ["9.0a"]
src = ["hopper.cu"]
cuda-flags = ["-lineinfo"]

[kernel.cuda.group.sm80]
capabilities = ["8.0", "8.6", "12.0"]
ptx = true
src = ["ampere.cu"]
)toml";

class GroupedSpecTest : public KernelSpecTest {
protected:
  void SetUp() override {
    KernelSpecTest::SetUp();
    for (const char* name : {"shared.cu", "hopper.cu", "ampere.cu", "extra.cpp"}) {
      write_file(dir.path() / name, "");
    }
  }
  // k_grouped_kernel with `from` replaced by `to`.
  Result<KernelSpec> parse_changed(std::string_view from, std::string_view to) {
    std::string text = k_grouped_kernel;
    size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
    return parse(text);
  }
};

TEST_F(GroupedSpecTest, ParsesGroups) {
  auto spec = parse(k_grouped_kernel);
  ASSERT_TRUE(spec) << spec.error().message;
  ASSERT_TRUE(spec->cuda);
  EXPECT_EQ(spec->cuda->deps, (std::vector<std::string>{"cutlass"}));
  EXPECT_TRUE(spec->cuda->cuda_capabilities.empty());
  ASSERT_EQ(spec->cuda->sources.size(), 2u);
  ASSERT_EQ(spec->cuda->groups.size(), 2u);
  const CudaGroup* hopper = nullptr;
  const CudaGroup* ampere = nullptr;
  for (const auto& group : spec->cuda->groups) {
    (group.name == "sm90" ? hopper : ampere) = &group;
  }
  ASSERT_TRUE(hopper && ampere);
  ASSERT_EQ(hopper->capabilities.size(), 1u);
  EXPECT_EQ(metadata::to_string(hopper->capabilities[0]), "sm_90a");
  EXPECT_EQ(hopper->capability_lines, (std::vector<int>{16}));
  EXPECT_FALSE(hopper->ptx);
  EXPECT_EQ(hopper->cuda_flags, (std::vector<std::string>{"-lineinfo"}));
  ASSERT_EQ(hopper->sources.size(), 1u);
  EXPECT_EQ(hopper->sources[0].filename(), "hopper.cu");
  EXPECT_EQ(ampere->name, "sm80");
  EXPECT_EQ(ampere->capabilities.size(), 3u);
  EXPECT_TRUE(ampere->ptx);
}

struct GroupError {
  const char* from;
  const char* to;
  const char* message;
};

class GroupErrorTest : public GroupedSpecTest, public ::testing::WithParamInterface<GroupError> {};

TEST_P(GroupErrorTest, IsRefusedWithFileLineAndKey) {
  auto spec = parse_changed(GetParam().from, GetParam().to);
  ASSERT_FALSE(spec);
  EXPECT_EQ(spec.error().kind, ErrorKind::invalid_metadata);
  EXPECT_NE(spec.error().message.find(GetParam().message), std::string::npos)
      << spec.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    Groups, GroupErrorTest,
    ::testing::Values(
        GroupError{"ptx = true", "pxt = true",
                   "build.toml:22: kernel.cuda.group.sm80.pxt: unknown key; expected one of "
                   "capabilities, ptx, src, cuda-flags"},
        GroupError{"capabilities = [\"9.0a\"]", "capabilities = []",
                   "build.toml:16: kernel.cuda.group.sm90.capabilities: a group needs the CUDA "
                   "capabilities"},
        GroupError{"src = [\"hopper.cu\"]", "src = []",
                   "build.toml:17: kernel.cuda.group.sm90.src: a group needs at least one .cu "
                   "source"},
        GroupError{"src = [\"hopper.cu\"]", "src = [\"extra.cpp\"]",
                   "build.toml:17: kernel.cuda.group.sm90.src[0]: \"extra.cpp\" is not a .cu file"},
        GroupError{"src = [\"ampere.cu\"]", "src = [\"hopper.cu\"]",
                   "kernel.cuda.group.sm90.src[0]: \"hopper.cu\" is already a source of "
                   "[kernel.cuda] or of another group"},
        GroupError{"src = [\"ampere.cu\"]", "src = [\"shared.cu\"]",
                   "kernel.cuda.group.sm80.src[0]: \"shared.cu\" is already a source"},
        GroupError{"deps = [\"cutlass\"]", "deps = [\"cutlass\"]\ncuda-capabilities = [\"9.0\"]",
                   "build.toml:14: kernel.cuda.cuda-capabilities: with [kernel.cuda.group.<name>] "
                   "tables the capabilities belong to the groups"},
        GroupError{"capabilities = [\"9.0a\"]\nsrc", "capabilities = [\"9.0a\"]\nptx = true\nsrc",
                   "build.toml:17: kernel.cuda.group.sm90.ptx: the group's newest capability is "
                   "sm_90a"},
        GroupError{"ptx = true", "ptx = \"yes\"",
                   "build.toml:22: kernel.cuda.group.sm80.ptx: expected true or false, found a "
                   "string"},
        GroupError{"[kernel.cuda.group.sm90]", "[kernel.cuda.group.Hopper]",
                   "kernel.cuda.group.Hopper: a group name is lower-case letters, digits and '_'"},
        GroupError{"\"8.6\", \"12.0\"", "\"8.6\", \"8.6\"",
                   "build.toml:21: kernel.cuda.group.sm80.capabilities[2]: \"8.6\" is listed "
                   "twice"},
        GroupError{"deps = [\"cutlass\"]", "deps = [\"cutlas\"]",
                   "build.toml:13: kernel.cuda.deps[0]: unknown dependency \"cutlas\"; kget "
                   "provides cutlass"}));

TEST_F(KernelSpecTest, ReportsTomlSyntaxErrorsWithLine) {
  auto spec = parse("[general]\nname = \"x\"\nversion = = 1\n");
  ASSERT_FALSE(spec);
  EXPECT_NE(spec.error().message.find("build.toml:3: not valid TOML"), std::string::npos)
      << spec.error().message;
}

TEST(MatrixTest, ParsesTheRepositoryMatrix) {
  auto matrix = load_matrix(std::filesystem::path(KGET_SOURCE_DIR) / "kernels/matrix.toml");
  ASSERT_TRUE(matrix) << matrix.error().message;
  ASSERT_GE(matrix->cells.size(), 2u);
  const auto& cpu = matrix->cells[0];
  EXPECT_EQ(cpu.name, "cpu-x86_64");
  EXPECT_EQ(cpu.backend, "cpu");
  const auto& cu130 = matrix->cells[1];
  EXPECT_EQ(cu130.backend, "cuda");
  EXPECT_EQ(util::to_string(cu130.toolkit), "13.0");
  EXPECT_EQ(metadata::to_string(cu130.sass.front()), "sm_75");
  EXPECT_TRUE(cu130.ptx_newest);

  KernelSpec kernel;
  kernel.abi_major = 1;
  EXPECT_EQ(variant_name(kernel, cpu), "kget1-cpu-x86_64-linux");
  EXPECT_EQ(variant_name(kernel, cu130), "kget1-cu130-x86_64-linux");
}

TEST(MatrixTest, ErrorsNameFileLineAndKey) {
  auto matrix = parse_matrix("[[cell]]\nname = \"c\"\nbackend = \"cuda\"\ncuda-root = \"/x\"\n"
                             "toolkit = \"13\"\nsass = [\"9.0\"]\n",
                             "matrix.toml");
  ASSERT_FALSE(matrix);
  EXPECT_NE(matrix.error().message.find("matrix.toml:5: cell[0].toolkit: expected \"MAJOR.MINOR\""),
            std::string::npos)
      << matrix.error().message;

  auto cpu_with_cuda_key =
      parse_matrix("[[cell]]\nname = \"c\"\nbackend = \"cpu\"\nsass = [\"9.0\"]\n", "matrix.toml");
  ASSERT_FALSE(cpu_with_cuda_key);
  EXPECT_NE(
      cpu_with_cuda_key.error().message.find(":4: cell[0].sass: only cuda cells take this key"),
      std::string::npos)
      << cpu_with_cuda_key.error().message;
}

} // namespace
} // namespace kget::build
