#include "metadata/local_tree.hpp"
#include "support/temp_dir.hpp"

#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>

namespace fs = std::filesystem;
using kget::ErrorKind;
using kget::metadata::read_local_variants;

namespace {

using kget::testing::TempDir;

TEST(LocalTree, ReadsTheDemoFixture) {
  auto variants = read_local_variants(fs::path(KGET_FIXTURES_DIR) / "kernels/demo");
  ASSERT_TRUE(variants) << variants.error().message;
  ASSERT_EQ(variants->size(), 8u);
  EXPECT_EQ(variants->front().name, "kget1-cpu-x86_64-linux"); // sorted by name
  size_t readable = 0;
  for (const auto& variant : *variants) {
    readable += variant.metadata.has_value() ? 1 : 0;
    EXPECT_TRUE(fs::is_directory(variant.directory));
  }
  EXPECT_EQ(readable, 6u); // the broken cu124 and the PyTorch variant fail to parse
}

TEST(LocalTree, AcceptsTheBuildDirectoryItself) {
  auto variants = read_local_variants(fs::path(KGET_FIXTURES_DIR) / "kernels/demo/build");
  ASSERT_TRUE(variants) << variants.error().message;
  EXPECT_EQ(variants->size(), 8u);
}

TEST(LocalTree, MissingDirectoryIsNotFound) {
  auto variants = read_local_variants("/nonexistent/kernel");
  ASSERT_FALSE(variants);
  EXPECT_EQ(variants.error().kind, ErrorKind::not_found);
  EXPECT_NE(variants.error().message.find("/nonexistent/kernel is not a directory"),
            std::string::npos);
}

TEST(LocalTree, EmptyBuildDirectoryIsNotFound) {
  TempDir dir;
  fs::create_directories(dir.path() / "build");
  auto variants = read_local_variants(dir.path());
  ASSERT_FALSE(variants);
  EXPECT_EQ(variants.error().kind, ErrorKind::not_found);
  EXPECT_NE(variants.error().message.find("holds no variant directories"), std::string::npos);
}

TEST(LocalTree, VariantWithoutMetadataIsRejectedAlone) {
  TempDir dir;
  fs::create_directories(dir.path() / "build/kget1-cpu-x86_64-linux");
  std::ofstream(dir.path() / "build/stray-file") << "not a directory";
  auto variants = read_local_variants(dir.path());
  ASSERT_TRUE(variants);
  ASSERT_EQ(variants->size(), 1u);
  ASSERT_FALSE(variants->front().metadata);
  EXPECT_NE(variants->front().metadata.error().message.find("has no metadata.json"),
            std::string::npos);
}

} // namespace
