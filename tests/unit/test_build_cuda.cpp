// The CUDA cell of kget build on a tiny kernel (tests/build/tiny_cuda) with the system nvcc,
// for one capability: SASS and PTX read back from the fatbin into metadata.json, no
// libcudart.so needed, symbol versions within manylinux_2_28. Skipped where /usr/local/cuda has no
// nvcc.
#include "build/builder.hpp"
#include "build/check.hpp"
#include "build/elf_inspect.hpp"
#include "metadata/metadata.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

namespace kget::build {
namespace {

namespace fs = std::filesystem;

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
