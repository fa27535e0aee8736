// The CUDA cell of kget build on a tiny kernel (tests/build/tiny_cuda) with the system nvcc,
// for one capability: SASS and PTX read back from the fatbin into metadata.json, no
// libcudart.so needed. Skipped where /usr/local/cuda has no nvcc.
#include "build/builder.hpp"
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
  // On this glibc 2.36 build host, libcudart_static.a binds dlopen, pthread_* and sem_* to their
  // GLIBC_2.34 versions, so the policy check refuses the variant (docs/build.md, "CUDA cells and
  // glibc"); the build itself, the fatbin reading and the metadata are what this test checks.
  auto report = build_kernel(request);
  fs::path variant_dir = dir.path() / "out/build/kget1-cu130-x86_64-linux";
  if (!report) {
    EXPECT_EQ(report.error().kind, ErrorKind::abi);
    EXPECT_NE(report.error().message.find("policy: expected symbol versions within "
                                          "manylinux_2_28 (at most GLIBC_2.28), found GLIBC_2.34"),
              std::string::npos)
        << report.error().message;
    EXPECT_EQ(report.error().message.find("cuda-targets"), std::string::npos);
    EXPECT_EQ(report.error().message.find("needed:"), std::string::npos); // no libcudart.so
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
