// The CUDA cell of kget build on a tiny kernel (tests/build/tiny_cuda) with the system nvcc,
// for one capability: SASS and PTX read back from the fatbin into metadata.json, no
// libcudart.so needed, symbol versions within manylinux_2_28. Skipped where /usr/local/cuda has no
// nvcc.
#include "build/builder.hpp"
#include "build/check.hpp"
#include "build/elf_inspect.hpp"
#include "metadata/metadata.hpp"
#include "support/temp_dir.hpp"

#include <fstream>
#include <gtest/gtest.h>
#include <regex>

namespace kget::build {
namespace {

namespace fs = std::filesystem;

constexpr const char* k_cu130_cell = R"toml([[cell]]
name = "cu130"
backend = "cuda"
cuda-root = "/usr/local/cuda"
toolkit = "13.0"
sass = [{}]
ptx = "newest"
link-flags = ["-Wl,-z,defs", "-Wl,--as-needed"]
)toml";

std::vector<std::string> target_names(const std::vector<metadata::CudaTarget>& targets) {
  std::vector<std::string> names;
  for (const auto& target : targets) {
    names.push_back(metadata::to_string(target));
  }
  return names;
}

// The SASS and PTX in the object that the generated project compiles `source` into.
std::vector<std::string> object_targets(const fs::path& work, const std::string& source) {
  std::string cmake = kget::testing::read_file(work / "CMakeLists.txt");
  std::smatch match;
  std::regex command("add_custom_command\\(OUTPUT \\[=*\\[([^\\]]+\\.o)\\][^\\n]*/" + source +
                     "\\]");
  if (!std::regex_search(cmake, match, command)) {
    ADD_FAILURE() << "no nvcc command for " << source << " in\n" << cmake;
    return {};
  }
  auto targets = read_fatbin_targets(match[1].str());
  if (!targets) {
    ADD_FAILURE() << targets.error().message;
    return {};
  }
  auto names = target_names(targets->sass);
  auto ptx = target_names(targets->ptx);
  names.insert(names.end(), ptx.begin(), ptx.end());
  return names;
}

class BuildGroupsTest : public ::testing::Test {
protected:
  void SetUp() override {
    if (!fs::exists("/usr/local/cuda/bin/nvcc")) {
      GTEST_SKIP() << "no /usr/local/cuda/bin/nvcc";
    }
  }
  Result<BuildReport> build(const std::string& sass, std::vector<util::MajorMinor> cuda_arch = {}) {
    kget::testing::write_file(dir.path() / "matrix.toml", fmt::format(k_cu130_cell, sass));
    BuildRequest request;
    request.kernel = fs::path(KGET_SOURCE_DIR) / "tests/build/tiny_groups";
    request.matrix = dir.path() / "matrix.toml";
    request.out = dir.path() / "out";
    request.jobs = 2;
    request.cuda_arch = std::move(cuda_arch);
    request.note = [&](std::string_view line) { notes.emplace_back(line); };
    return build_kernel(request);
  }
  metadata::VariantMetadata built_metadata() {
    auto meta = metadata::parse_metadata(
        kget::testing::read_file(dir.path() / "out/build/kget1-cu130-x86_64-linux/metadata.json"));
    EXPECT_TRUE(meta) << meta.error().message;
    return meta ? *meta : metadata::VariantMetadata{};
  }
  fs::path work() const { return dir.path() / "out/.work/kget1-cu130-x86_64-linux"; }
  kget::testing::TempDir dir;
  std::vector<std::string> notes;
};

// Each group's file holds its own targets only, the shared file those of every group, and the
// metadata lists exactly the union: no target where no code of the kernel exists. The sources
// check the KGET_CUDA_PATH_* defines at compile time (tests/build/tiny_groups/paths.h).
TEST_F(BuildGroupsTest, BuildsEachGroupForItsOwnTargets) {
  auto report = build(R"("7.5", "8.0", "8.6", "9.0", "12.0")");
  ASSERT_TRUE(report) << report.error().message;
  ASSERT_EQ(report->variants.size(), 1u);
  EXPECT_TRUE(report->variants[0].check.clean());
  EXPECT_TRUE(report->variants[0].check.loaded);
  EXPECT_EQ(object_targets(work(), "sm90.cu"), (std::vector<std::string>{"sm_90a"}));
  EXPECT_EQ(object_targets(work(), "sm80.cu"), (std::vector<std::string>{"sm_80", "compute_80"}));
  EXPECT_EQ(object_targets(work(), "shared.cu"),
            (std::vector<std::string>{"sm_80", "sm_90a", "compute_80"}));
  auto meta = built_metadata();
  ASSERT_TRUE(meta.kget.cuda);
  EXPECT_EQ(target_names(meta.kget.cuda->sass), (std::vector<std::string>{"sm_80", "sm_90a"}));
  EXPECT_EQ(target_names(meta.kget.cuda->ptx), (std::vector<std::string>{"compute_80"}));
  EXPECT_EQ(meta.backend_archs, (std::vector<std::string>{"8.0", "9.0a", "8.0+PTX"}));
  bool pool_noted = std::any_of(notes.begin(), notes.end(), [](const std::string& line) {
    return line.starts_with("nvcc: ") && line.find("GiB per unit") != std::string::npos;
  });
  EXPECT_TRUE(pool_noted);
}

// --cuda-arch 9.0 keeps the sm90 group (9.0a) and leaves sm80 out: its file is not compiled
// (sm80.cu would fail without its define), and its targets are nowhere.
TEST_F(BuildGroupsTest, CudaArchLeavesOutGroupsWithoutSuchACapability) {
  auto report = build(R"("8.0", "9.0")", {{9, 0}});
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(object_targets(work(), "sm90.cu"), (std::vector<std::string>{"sm_90a"}));
  EXPECT_EQ(object_targets(work(), "shared.cu"), (std::vector<std::string>{"sm_90a"}));
  EXPECT_EQ(kget::testing::read_file(work() / "CMakeLists.txt").find("sm80.cu"), std::string::npos);
  auto meta = built_metadata();
  ASSERT_TRUE(meta.kget.cuda);
  EXPECT_EQ(target_names(meta.kget.cuda->sass), (std::vector<std::string>{"sm_90a"}));
  EXPECT_TRUE(meta.kget.cuda->ptx.empty());
}

TEST_F(BuildGroupsTest, CudaArchThatNoGroupHasIsAUsageError) {
  auto report = build(R"("8.0", "9.0")", {{7, 5}});
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().kind, ErrorKind::usage);
  EXPECT_NE(report.error().message.find("--cuda-arch 7.5: "), std::string::npos)
      << report.error().message;
  EXPECT_NE(report.error().message.find(
                "build.toml has none of these capabilities; it lists group sm80 (sm_80); group "
                "sm90 (sm_90a)"),
            std::string::npos)
      << report.error().message;
}

// A group whose newest kept capability is arch-specific gets no PTX even with ptx = true: here
// ["9.0a", "10.0"] with --cuda-arch 9.0 would otherwise add compute_90a, and paths.h (which wants
// KGET_CUDA_PATH_SM90 to be exactly sm_90a) would fail the compilation.
TEST_F(BuildGroupsTest, FilteredGroupWhoseNewestIsArchSpecificGetsNoPtx) {
  fs::path source = fs::path(KGET_SOURCE_DIR);
  kget::testing::write_file(dir.path() / "kernel/build.toml", fmt::format(R"toml([general]
name = "tiny"
version = 1
abi = "1.0"
backends = ["cuda"]

[[ops]]
name = "noop"
schema = "noop(Tensor! out) -> ()"

[kernel.cuda]
include = ["{0}/include"]
src = ["{0}/tests/build/tiny/tiny.cpp", "{0}/tests/build/tiny_groups/paths.cpp",
       "{0}/tests/build/tiny_groups/shared.cu"]
version-script = "{0}/kernels/common/exports.map"

[kernel.cuda.group.sm90]
capabilities = ["9.0a", "10.0"]
ptx = true
src = ["{0}/tests/build/tiny_groups/sm90.cu"]
)toml",
                                                                          source.string()));
  kget::testing::write_file(dir.path() / "matrix.toml",
                            fmt::format(k_cu130_cell, R"("9.0", "10.0")"));
  BuildRequest request;
  request.kernel = dir.path() / "kernel";
  request.matrix = dir.path() / "matrix.toml";
  request.out = dir.path() / "out";
  request.jobs = 2;
  request.cuda_arch = {{9, 0}};
  auto report = build_kernel(request);
  ASSERT_TRUE(report) << report.error().message;
  auto meta = built_metadata();
  ASSERT_TRUE(meta.kget.cuda);
  EXPECT_EQ(target_names(meta.kget.cuda->sass), (std::vector<std::string>{"sm_90a"}));
  EXPECT_TRUE(meta.kget.cuda->ptx.empty());
}

// The one-list form (tests/build/tiny_cuda: 9.0) on a cell that builds none of its capabilities:
// the cell is skipped with the reason, as it always was; named with --variant, it is an error.
TEST_F(BuildGroupsTest, OneListKernelSkipsACellThatBuildsNoneOfItsCapabilities) {
  kget::testing::write_file(dir.path() / "matrix.toml", fmt::format(k_cu130_cell, R"("8.0")"));
  BuildRequest request;
  request.kernel = fs::path(KGET_SOURCE_DIR) / "tests/build/tiny_cuda";
  request.matrix = dir.path() / "matrix.toml";
  request.out = dir.path() / "out";
  auto report = build_kernel(request);
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().kind, ErrorKind::not_found);
  EXPECT_NE(report.error().message.find("nothing was built"), std::string::npos)
      << report.error().message;
  request.variants = {"kget1-cu130-x86_64-linux"};
  report = build_kernel(request);
  ASSERT_FALSE(report);
  EXPECT_NE(report.error().message.find("cannot build kget1-cu130-x86_64-linux (cell cu130 of "),
            std::string::npos)
      << report.error().message;
  EXPECT_NE(report.error().message.find(
                "none of build.toml's cuda-capabilities is among the cell's sass targets"),
            std::string::npos)
      << report.error().message;
}

// A group asks for a capability the cell's toolkit does not build: an error at build.toml's line,
// not a silent drop (which would ship a variant without that path).
TEST_F(BuildGroupsTest, RefusesAGroupCapabilityTheCellCannotBuild) {
  auto report = build(R"("9.0")");
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().kind, ErrorKind::invalid_metadata);
  EXPECT_NE(report.error().message.find(
                "tiny_groups/build.toml:25: kernel.cuda.group.sm80.capabilities[0]: sm_80 cannot "
                "be built: cell cu130 (CUDA 13.0) builds 9.0 (" +
                (dir.path() / "matrix.toml").string() + ":1)"),
            std::string::npos)
      << report.error().message;
  EXPECT_FALSE(fs::exists(dir.path() / "out/build/kget1-cu130-x86_64-linux"));
}

TEST(BuildCudaTest, BuildsTheCudaCellAndReadsTargetsFromTheFatbin) {
  if (!fs::exists("/usr/local/cuda/bin/nvcc")) {
    GTEST_SKIP() << "no /usr/local/cuda/bin/nvcc";
  }
  kget::testing::TempDir dir;
  kget::testing::write_file(dir.path() / "matrix.toml", R"toml([[cell]]
name = "cu130"
backend = "cuda"
cuda-root = "/usr/local/cuda"
toolkit = "13.0"
sass = ["8.0", "9.0"]
ptx = "newest"
link-flags = ["-Wl,-z,defs", "-Wl,--as-needed"]
)toml");
  BuildRequest request;
  request.kernel = fs::path(KGET_SOURCE_DIR) / "tests/build/tiny_cuda";
  request.matrix = dir.path() / "matrix.toml";
  request.out = dir.path() / "out";
  request.jobs = 1;
  // The static CUDA runtime's pthread_*, dl* and sem_* bind to GLIBC_2.34 on a glibc 2.34+ host;
  // the builder pins them to their older versions, so the variant passes the policy check.
  std::vector<std::string> notes;
  request.note = [&](std::string_view line) { notes.emplace_back(line); };
  auto report = build_kernel(request);
  ASSERT_TRUE(report) << report.error().message;
  ASSERT_EQ(report->variants.size(), 1u);
  EXPECT_TRUE(report->variants[0].built);
  EXPECT_TRUE(report->variants[0].check.clean());
  EXPECT_TRUE(report->variants[0].check.loaded);
  fs::path variant_dir = dir.path() / "out/build/kget1-cu130-x86_64-linux";
  auto needed = required_symbol_versions(variant_dir / "libtiny.so");
  ASSERT_TRUE(needed);
  for (const auto& version : *needed) {
    EXPECT_FALSE(policy_limit_exceeded(version)) << version;
  }
  auto dynamic = read_dynamic_info(variant_dir / "libtiny.so");
  ASSERT_TRUE(dynamic);
  for (const auto& library : dynamic->needed) {
    EXPECT_FALSE(library.starts_with("libcudart")) << library;
  }

  auto meta = metadata::parse_metadata(kget::testing::read_file(variant_dir / "metadata.json"));
  ASSERT_TRUE(meta) << meta.error().message;
  ASSERT_TRUE(meta->kget.cuda);
  EXPECT_EQ(util::to_string(meta->kget.cuda->toolkit), "13.0");
  EXPECT_EQ(util::to_string(meta->kget.cuda->min_driver), "13.0");
  ASSERT_EQ(meta->kget.cuda->sass.size(), 1u); // 8.0 is not in build.toml's capabilities
  EXPECT_EQ(metadata::to_string(meta->kget.cuda->sass[0]), "sm_90");
  ASSERT_EQ(meta->kget.cuda->ptx.size(), 1u);
  EXPECT_EQ(metadata::to_string(meta->kget.cuda->ptx[0]), "compute_90");
  EXPECT_EQ(meta->backend_archs, (std::vector<std::string>{"9.0", "9.0+PTX"}));
}

} // namespace
} // namespace kget::build
