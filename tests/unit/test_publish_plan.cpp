#include "publish/publish.hpp"
#include "publish_fixture.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

namespace fs = std::filesystem;
using kget::ErrorKind;
using kget::publish::check_variant;
using kget::publish::find_variant_directories;
using kget::publish::list_variant_files;
using kget::publish::plan_push;
using kget::publish::PlanRequest;
using kget::publish::PushPlan;
using kget::publish::unique_blobs;
using namespace kget::testing;

namespace {

PlanRequest request_for(std::vector<fs::path> inputs, std::string version = "1.2.0") {
  return {std::move(inputs), "acme/demo", std::move(version), ""};
}

#define EXPECT_FAILS_WITH(result, error_kind, text)                                                \
  do {                                                                                             \
    auto&& outcome_ = (result);                                                                    \
    ASSERT_FALSE(outcome_) << "expected a failure containing: " << (text);                         \
    EXPECT_EQ(outcome_.error().kind, (error_kind)) << outcome_.error().message;                    \
    EXPECT_NE(outcome_.error().message.find(text), std::string::npos) << outcome_.error().message; \
  } while (false)

std::vector<std::string> paths_of(const PushPlan& plan) {
  std::vector<std::string> paths;
  for (const auto& file : plan.files) {
    paths.push_back(file.path);
  }
  return paths;
}

TEST(PublishPlan, PlansEveryFileOfEveryVariantSortedByPath) {
  TempDir dir;
  write_kernel(dir.path() / "k", "lib");
  auto plan = plan_push(request_for({dir.path() / "k"}));
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(plan->repo, "acme/demo");
  EXPECT_EQ(kget::ref::to_string(plan->version), "1.2.0");
  EXPECT_EQ(plan->message, "Publish version 1.2.0");
  std::vector<std::string> expected = {
      "build/kget1-cpu-x86_64-linux/libdemo.so", "build/kget1-cpu-x86_64-linux/metadata.json",
      "build/kget1-cu130-x86_64-linux/README.md", "build/kget1-cu130-x86_64-linux/libdemo.so",
      "build/kget1-cu130-x86_64-linux/metadata.json"};
  EXPECT_EQ(paths_of(*plan), expected);
  ASSERT_EQ(plan->variants.size(), 2u);
  EXPECT_EQ(plan->variants[0].name, "kget1-cpu-x86_64-linux");
  EXPECT_EQ(plan->variants[0].files, 2u);
  EXPECT_EQ(plan->variants[1].files, 3u);
  const auto& library = plan->files[0];
  EXPECT_EQ(library.size, 3u);
  EXPECT_EQ(library.sha256, kget::digest::sha256_hex("lib"));
  EXPECT_EQ(library.source, dir.path() / "k/build/kget1-cpu-x86_64-linux/libdemo.so");
  uint64_t total = 0;
  for (const auto& file : plan->files) {
    total += file.size;
  }
  EXPECT_EQ(plan->total_bytes(), total);
}

TEST(PublishPlan, AcceptsKernelBuildAndVariantDirectoriesAlike) {
  TempDir dir;
  fs::path kernel = write_kernel(dir.path() / "k");
  auto from_kernel = plan_push(request_for({kernel}));
  auto from_build = plan_push(request_for({kernel / "build"}));
  auto from_variants = plan_push(request_for(
      {kernel / "build/kget1-cu130-x86_64-linux/", kernel / "build/kget1-cpu-x86_64-linux"}));
  ASSERT_TRUE(from_kernel) << from_kernel.error().message;
  ASSERT_TRUE(from_build) << from_build.error().message;
  ASSERT_TRUE(from_variants) << from_variants.error().message;
  EXPECT_EQ(paths_of(*from_kernel), paths_of(*from_build));
  EXPECT_EQ(paths_of(*from_kernel), paths_of(*from_variants));
}

TEST(PublishPlan, MixesInputsFromSeveralPlaces) {
  TempDir dir;
  write_variant(dir.path() / "a/build", "kget1-cpu-x86_64-linux", {{"libdemo.so", "cpu"}});
  fs::path cuda =
      write_variant(dir.path() / "elsewhere", "kget1-cu129-x86_64-linux", {{"libdemo.so", "gpu"}});
  auto plan = plan_push(request_for({dir.path() / "a", cuda}));
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(plan->variants.size(), 2u);
  EXPECT_EQ(plan->variants[1].name, "kget1-cu129-x86_64-linux");
}

TEST(PublishPlan, SharedContentIsOneBlob) {
  TempDir dir;
  write_variant(dir.path() / "build", "kget1-cpu-x86_64-linux", {{"libdemo.so", "same"}});
  write_variant(dir.path() / "build", "kget1-cpu-aarch64-linux", {{"libdemo.so", "same"}});
  auto plan = plan_push(request_for({dir.path()}));
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(plan->files.size(), 4u);
  // The libraries are equal, and so are the two metadata.json (nothing in them names the CPU).
  EXPECT_EQ(unique_blobs(*plan).size(), 2u);
}

TEST(PublishPlan, AVariantGivenTwiceIsRefused) {
  TempDir dir;
  fs::path kernel = write_kernel(dir.path() / "k");
  EXPECT_FAILS_WITH(find_variant_directories({kernel, kernel / "build/kget1-cpu-x86_64-linux"}),
                    ErrorKind::usage, "variant kget1-cpu-x86_64-linux is given twice");
  write_variant(dir.path() / "other", "kget1-cpu-x86_64-linux", {{"libdemo.so", "x"}});
  EXPECT_FAILS_WITH(plan_push(request_for({kernel, dir.path() / "other"})), ErrorKind::usage,
                    "given twice");
}

TEST(PublishPlan, InputsThatAreNotVariantsAreRefused) {
  TempDir dir;
  EXPECT_FAILS_WITH(find_variant_directories({dir.path() / "nope"}), ErrorKind::not_found,
                    "is not a directory");
  write_file(dir.path() / "plain-file", "x");
  EXPECT_FAILS_WITH(find_variant_directories({dir.path() / "plain-file"}), ErrorKind::not_found,
                    "is not a directory");
  fs::create_directories(dir.path() / "empty/build");
  EXPECT_FAILS_WITH(find_variant_directories({dir.path() / "empty"}), ErrorKind::not_found,
                    "holds no variant directories");
  write_variant(dir.path() / "k/build", "kget1-cpu-x86_64-linux", {{"libdemo.so", "x"}});
  write_file(dir.path() / "k/build/stray.txt", "x");
  EXPECT_FAILS_WITH(find_variant_directories({dir.path() / "k"}), ErrorKind::usage,
                    "stray.txt is not a variant directory");
  EXPECT_FAILS_WITH(find_variant_directories({}), ErrorKind::usage, "nothing to push");
}

TEST(PublishPlan, ForeignAndUnknownVariantNamesAreRefusedWithTheParsersReason) {
  TempDir dir;
  fs::path torch = write_variant(dir.path() / "build", "torch28-cxx11-cu128-x86_64-linux",
                                 {{"libdemo.so", "x"}});
  EXPECT_FAILS_WITH(check_variant(torch), ErrorKind::usage, "built for PyTorch/Python");
  EXPECT_FAILS_WITH(check_variant(torch), ErrorKind::usage, "kget push publishes kget variants");
  fs::path odd = write_variant(dir.path() / "build2", "kget1-rocm63-x86_64-linux", {{"a.so", "x"}});
  EXPECT_FAILS_WITH(check_variant(odd), ErrorKind::usage, "not supported by kget");
  fs::path junk = write_variant(dir.path() / "build3", "whatever", {{"a.so", "x"}});
  EXPECT_FAILS_WITH(check_variant(junk), ErrorKind::usage, "variant \"whatever\"");
}

TEST(PublishPlan, MetadataMustExistParseAndAgreeWithTheName) {
  TempDir dir;
  fs::path variant = dir.path() / "kget1-cpu-x86_64-linux";
  fs::create_directories(variant);
  write_file(variant / "libdemo.so", "x");
  EXPECT_FAILS_WITH(check_variant(variant), ErrorKind::invalid_metadata, "has no metadata.json");

  write_file(variant / "metadata.json", "{not json");
  EXPECT_FAILS_WITH(check_variant(variant), ErrorKind::invalid_metadata, variant.string());

  auto document = variant_metadata("kget1-cpu-x86_64-linux", {{"libdemo.so", "x"}});
  document["version"] = "1";
  write_file(variant / "metadata.json", document.dump());
  EXPECT_FAILS_WITH(check_variant(variant), ErrorKind::invalid_metadata,
                    "$.version: expected an integer");

  // CUDA metadata in a directory named for the CPU.
  write_file(variant / "metadata.json",
             variant_metadata("kget1-cu130-x86_64-linux", {{"libdemo.so", "x"}}).dump());
  EXPECT_FAILS_WITH(check_variant(variant), ErrorKind::invalid_metadata,
                    "contradicts the variant name: the name says cpu");

  fs::path cuda = dir.path() / "kget1-cu129-x86_64-linux";
  write_file(cuda / "libdemo.so", "x");
  write_file(cuda / "metadata.json",
             variant_metadata("kget1-cu130-x86_64-linux", {{"libdemo.so", "x"}}).dump());
  EXPECT_FAILS_WITH(check_variant(cuda), ErrorKind::invalid_metadata,
                    "the name says CUDA 12.9, $.kget.cuda.toolkit says 13.0");
}

TEST(PublishPlan, ADigestMismatchNamesFileExpectedAndFound) {
  TempDir dir;
  fs::path variant =
      write_variant(dir.path(), "kget1-cpu-x86_64-linux", {{"libdemo.so", "original"}});
  write_file(variant / "libdemo.so", "tampered");
  auto checked = check_variant(variant);
  EXPECT_FAILS_WITH(checked, ErrorKind::integrity, (variant / "libdemo.so").string());
  EXPECT_NE(checked.error().message.find(base64_digest("original", EVP_sha256())),
            std::string::npos);
  EXPECT_NE(checked.error().message.find(base64_digest("tampered", EVP_sha256())),
            std::string::npos);
}

TEST(PublishPlan, TheDirectoryMustHoldExactlyTheListedFiles) {
  TempDir dir;
  fs::path variant = write_variant(dir.path(), "kget1-cpu-x86_64-linux",
                                   {{"libdemo.so", "x"}, {"sub/data.bin", "y"}});
  EXPECT_TRUE(check_variant(variant));
  write_file(variant / "sub/extra.txt", "unlisted");
  EXPECT_FAILS_WITH(check_variant(variant), ErrorKind::integrity,
                    "sub/extra.txt: not listed in metadata.json's digest.files");
  fs::remove(variant / "sub/extra.txt");
  fs::remove(variant / "sub/data.bin");
  EXPECT_FAILS_WITH(check_variant(variant), ErrorKind::integrity,
                    "sub/data.bin: listed in metadata.json's digest.files");
}

TEST(PublishPlan, NestedFilesKeepTheirPath) {
  TempDir dir;
  fs::path variant = write_variant(dir.path(), "kget1-cpu-x86_64-linux",
                                   {{"libdemo.so", "x"}, {"share/doc/notes.txt", "y"}});
  auto checked = check_variant(variant);
  ASSERT_TRUE(checked) << checked.error().message;
  ASSERT_EQ(checked->files.size(), 3u);
  EXPECT_EQ(checked->files[2].path, "build/kget1-cpu-x86_64-linux/share/doc/notes.txt");
}

TEST(PublishPlan, Sha512DigestsAreCheckedToo) {
  TempDir dir;
  fs::path variant = dir.path() / "kget1-cpu-x86_64-linux";
  write_file(variant / "libdemo.so", "x");
  auto document =
      variant_metadata("kget1-cpu-x86_64-linux", {{"libdemo.so", "x"}}, 1, "demo", EVP_sha512());
  write_file(variant / "metadata.json", document.dump());
  auto checked = check_variant(variant);
  ASSERT_TRUE(checked) << checked.error().message;
  EXPECT_EQ(checked->files[0].sha256, kget::digest::sha256_hex("x"));
  write_file(variant / "libdemo.so", "z");
  EXPECT_FAILS_WITH(check_variant(variant), ErrorKind::integrity, "metadata.json lists sha512");
}

TEST(PublishPlan, SymlinksAreFollowedOnlyToFilesInsideTheVariant) {
  TempDir dir;
  fs::path variant = write_variant(dir.path(), "kget1-cpu-x86_64-linux",
                                   {{"libdemo.so.1", "lib"}, {"libdemo.so", "lib"}});
  fs::remove(variant / "libdemo.so");
  fs::create_symlink("libdemo.so.1", variant / "libdemo.so");
  auto checked = check_variant(variant);
  ASSERT_TRUE(checked) << checked.error().message;
  ASSERT_EQ(checked->files.size(), 3u);
  EXPECT_EQ(checked->files[0].path, "build/kget1-cpu-x86_64-linux/libdemo.so");
  EXPECT_EQ(checked->files[0].source, fs::canonical(variant / "libdemo.so.1"));
  EXPECT_EQ(checked->files[0].sha256, kget::digest::sha256_hex("lib"));

  fs::remove(variant / "libdemo.so");
  write_file(dir.path() / "outside.so", "lib");
  fs::create_symlink(dir.path() / "outside.so", variant / "libdemo.so");
  EXPECT_FAILS_WITH(list_variant_files(variant), ErrorKind::usage, "outside the variant directory");

  fs::remove(variant / "libdemo.so");
  fs::create_symlink("missing-target", variant / "libdemo.so");
  EXPECT_FAILS_WITH(list_variant_files(variant), ErrorKind::usage, "is a symlink to nothing");

  fs::remove(variant / "libdemo.so");
  fs::create_directories(variant / "real-dir");
  fs::create_directory_symlink("real-dir", variant / "libdemo.so");
  EXPECT_FAILS_WITH(list_variant_files(variant), ErrorKind::usage, "which is not a regular file");
}

TEST(PublishPlan, SpecialFilesAreRefused) {
  TempDir dir;
  fs::path variant = write_variant(dir.path(), "kget1-cpu-x86_64-linux", {{"libdemo.so", "x"}});
  ASSERT_EQ(::mkfifo((variant / "pipe").c_str(), 0600), 0);
  EXPECT_FAILS_WITH(list_variant_files(variant), ErrorKind::usage, "pipe is not a regular file");
}

TEST(PublishPlan, FileNamesTheRepositoryCannotHoldAreRefused) {
  TempDir dir;
  fs::path variant = write_variant(dir.path(), "kget1-cpu-x86_64-linux", {{"libdemo.so", "x"}});
  write_file(variant / "back\\slash", "x");
  EXPECT_FAILS_WITH(check_variant(variant), ErrorKind::usage, "backslash");
  fs::remove(variant / "back\\slash");
  write_file(variant / "new\nline", "x");
  EXPECT_FAILS_WITH(check_variant(variant), ErrorKind::usage, "control character");
}

TEST(PublishPlan, TheVersionMustBeOnTheMetadatasMajorBranch) {
  TempDir dir;
  write_kernel(dir.path());
  EXPECT_FAILS_WITH(plan_push(request_for({dir.path()}, "2.0.0")), ErrorKind::usage,
                    "metadata.json says major version 1 (branch v1), but version 2.0.0 goes on "
                    "branch v2");
}

TEST(PublishPlan, OnePushPublishesOneKernel) {
  TempDir dir;
  write_variant(dir.path() / "build", "kget1-cpu-x86_64-linux", {{"a.so", "x"}}, 1, "alpha");
  write_variant(dir.path() / "build", "kget1-cpu-aarch64-linux", {{"a.so", "x"}}, 1, "beta");
  EXPECT_FAILS_WITH(plan_push(request_for({dir.path()})), ErrorKind::usage, "one kernel");
}

TEST(PublishPlan, RepoAndVersionAreValidated) {
  TempDir dir;
  write_kernel(dir.path());
  PlanRequest bad_repo = request_for({dir.path()});
  bad_repo.repo = "no-slash";
  EXPECT_FAILS_WITH(plan_push(bad_repo), ErrorKind::invalid_reference, "the org is missing");
  EXPECT_FAILS_WITH(plan_push(request_for({dir.path()}, "1.2")), ErrorKind::invalid_reference,
                    "invalid version \"1.2\"");
  EXPECT_FAILS_WITH(plan_push(request_for({dir.path()}, "v1.2.0")), ErrorKind::invalid_reference,
                    "invalid version");
  PlanRequest with_message = request_for({dir.path()}, "1.0.0-rc.1");
  with_message.message = "first release candidate";
  auto plan = plan_push(with_message);
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(plan->message, "first release candidate");
  EXPECT_TRUE(plan->version.is_prerelease());
}

} // namespace
