// kget build on a tiny kernel (tests/build/tiny) and kget check on what it builds, with flaws:
// an extra export, an absolute RPATH, GLIBC_2.34 needs (pinned) and GLIBC_2.36 needs (refused),
// tampered files and metadata.
#include "build/builder.hpp"
#include "build/check.hpp"
#include "build/elf_inspect.hpp"
#include "metadata/metadata.hpp"
#include "support/temp_dir.hpp"

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <kget/kernel_abi.h>
#include <nlohmann/json.hpp>

namespace kget::build {
namespace {

namespace fs = std::filesystem;
using kget::testing::read_file;
using kget::testing::TempDir;
using kget::testing::write_file;

const fs::path k_source_dir = KGET_SOURCE_DIR;
const fs::path k_tiny = k_source_dir / "tests/build/tiny";
constexpr const char* k_variant = "kget1-cpu-x86_64-linux";

struct Flaws {
  static Flaws with_defines(std::string defines, bool version_script = true) {
    Flaws flaws;
    flaws.defines = std::move(defines);
    flaws.version_script = version_script;
    return flaws;
  }
  static Flaws with_link_flags(std::string link_flags) {
    Flaws flaws;
    flaws.link_flags = std::move(link_flags);
    return flaws;
  }
  std::string defines;
  std::string link_flags;
  bool version_script = true;
  std::string schema = "noop(Tensor! out) -> ()";
};

// A build.toml for tiny.cpp with absolute paths, so that it can live in a temporary directory.
std::string tiny_build_toml(const Flaws& flaws) {
  std::string text = fmt::format(
      "[general]\nname = \"tiny\"\nversion = 1\nlicense = \"Apache-2.0\"\nabi = \"1.0\"\n"
      "backends = [\"cpu\"]\n\n[[ops]]\nname = \"noop\"\nschema = \"{}\"\n\n[kernel.cpu]\n"
      "include = [\"{}\"]\nsrc = [\"{}\"]\ndefine = [{}]\nlink-flags = [{}]\n",
      flaws.schema, (k_source_dir / "include").string(), (k_tiny / "tiny.cpp").string(),
      flaws.defines, flaws.link_flags);
  if (flaws.version_script) {
    text += fmt::format("version-script = \"{}\"\n",
                        (k_source_dir / "kernels/common/exports.map").string());
  }
  return text;
}

constexpr const char* k_cpu_matrix = R"([[cell]]
name = "cpu-x86_64"
backend = "cpu"
cpu = "x86_64"
link-flags = ["-Wl,-z,defs", "-Wl,--as-needed"]

[[cell]]
name = "cu130"
backend = "cuda"
cuda-root = "/usr/local/cuda"
toolkit = "13.0"
sass = ["9.0"]
)";

class BuildCheckTest : public ::testing::Test {
protected:
  Result<BuildReport> build(const Flaws& flaws) {
    write_file(dir.path() / "kernel" / "build.toml", tiny_build_toml(flaws));
    write_file(dir.path() / "matrix.toml", k_cpu_matrix);
    BuildRequest request;
    request.kernel = dir.path() / "kernel";
    request.matrix = dir.path() / "matrix.toml";
    request.out = dir.path() / "out";
    request.jobs = 1;
    request.note = [this](std::string_view line) { notes.emplace_back(line); };
    return build_kernel(request);
  }
  fs::path variant_dir() const { return dir.path() / "out" / "build" / k_variant; }

  TempDir dir;
  std::vector<std::string> notes;
};

const Violation* find_rule(const CheckReport& report, const std::string& rule) {
  for (const auto& violation : report.violations) {
    if (violation.rule == rule) {
      return &violation;
    }
  }
  return nullptr;
}

TEST_F(BuildCheckTest, BuildsACleanVariantWithComputedMetadata) {
  auto report = build({});
  ASSERT_TRUE(report) << report.error().message;
  ASSERT_EQ(report->variants.size(), 2u);
  EXPECT_TRUE(report->variants[0].built);
  EXPECT_TRUE(report->variants[0].check.clean());
  EXPECT_TRUE(report->variants[0].check.loaded);
  EXPECT_FALSE(report->variants[1].built);
  EXPECT_EQ(report->variants[1].skipped, "no [kernel.cuda] in build.toml");
  ASSERT_EQ(notes.size(), 3u);
  EXPECT_EQ(notes[2],
            "skipped kget1-cu130-x86_64-linux (cell cu130): no [kernel.cuda] in build.toml");

  auto meta = metadata::parse_metadata(read_file(variant_dir() / "metadata.json"));
  ASSERT_TRUE(meta) << meta.error().message;
  EXPECT_EQ(meta->name, "tiny");
  EXPECT_EQ(meta->backend_type, "cpu");
  EXPECT_EQ(meta->kget.library, "libtiny.so");
  ASSERT_EQ(meta->digest_files.size(), 1u);
  EXPECT_TRUE(meta->digest_files.contains("libtiny.so"));
  EXPECT_TRUE(meta->id.starts_with("_tiny_cpu_"));
  EXPECT_FALSE(meta->kget.cuda);
  auto needed = required_symbol_versions(variant_dir() / "libtiny.so");
  ASSERT_TRUE(needed);
  EXPECT_EQ(meta->kget.symbol_versions, *needed);

  auto check = check_variant_directory(variant_dir());
  ASSERT_TRUE(check);
  EXPECT_TRUE(check->clean());
}

TEST_F(BuildCheckTest, AnExtraExportFailsTheBuildNamingTheSymbol) {
  auto report = build(Flaws::with_defines("\"TINY_EXTRA_EXPORT\"", false));
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().kind, ErrorKind::abi);
  EXPECT_NE(
      report.error().message.find("exports: expected kget_kernel_init to be the only exported "
                                  "symbol, found 1 more: tiny_extra_symbol"),
      std::string::npos)
      << report.error().message;
}

TEST_F(BuildCheckTest, AnAbsoluteRpathIsAViolation) {
  auto report = build(Flaws::with_link_flags("\"-Wl,-rpath,/opt/kget-test/lib\""));
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().kind, ErrorKind::abi);
  auto check = check_variant_directory(variant_dir());
  ASSERT_TRUE(check);
  const Violation* rpath = find_rule(*check, "rpath");
  ASSERT_NE(rpath, nullptr);
  EXPECT_NE(rpath->message.find("found \"/opt/kget-test/lib\""), std::string::npos)
      << rpath->message;
}

TEST_F(BuildCheckTest, ANeedBeyondGlibc228WithoutOlderVersionIsAPolicyViolation) {
  auto report = build(Flaws::with_defines("\"TINY_NEEDS_GLIBC_2_36\""));
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().kind, ErrorKind::abi);
  auto check = check_variant_directory(variant_dir());
  ASSERT_TRUE(check);
  const Violation* policy = find_rule(*check, "policy");
  ASSERT_NE(policy, nullptr) << report.error().message;
  EXPECT_EQ(policy->message,
            "expected symbol versions within manylinux_2_28 (at most GLIBC_2.28), found "
            "GLIBC_2.36 needed by libtiny.so for arc4random");
  EXPECT_FALSE(check->loaded); // not loaded: it would not load on a manylinux_2_28 host
}

// pthread_create binds to GLIBC_2.34 on this glibc 2.36 host; the builder links again with the
// symbol pinned to GLIBC_2.2.5, and the pinned call really creates a thread.
TEST_F(BuildCheckTest, SymbolsGlibc234VersionedAnewArePinnedToTheirOlderVersion) {
  auto report = build(Flaws::with_defines("\"TINY_NEEDS_GLIBC_2_34\""));
  ASSERT_TRUE(report) << report.error().message;
  ASSERT_TRUE(report->variants[0].built);
  EXPECT_TRUE(report->variants[0].check.clean());
  EXPECT_TRUE(report->variants[0].check.loaded);
  bool noted = false;
  for (const auto& note : notes) {
    noted = noted || (note.find("linking again with") != std::string::npos &&
                      note.find("pthread_create@GLIBC_2.2.5") != std::string::npos);
  }
  EXPECT_TRUE(noted) << ::testing::PrintToString(notes);

  fs::path library = variant_dir() / "libtiny.so";
  auto needed = required_symbol_versions(library);
  ASSERT_TRUE(needed);
  for (const auto& version : *needed) {
    EXPECT_FALSE(policy_limit_exceeded(version)) << version;
  }
  auto dynamic = read_dynamic_info(library);
  ASSERT_TRUE(dynamic);
  EXPECT_NE(std::find(dynamic->needed.begin(), dynamic->needed.end(), "libpthread.so.0"),
            dynamic->needed.end()); // where pthread_create lives before glibc 2.34

  void* handle = ::dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(handle, nullptr) << ::dlerror();
  using Init = const kget_kernel_descriptor* (*)(uint32_t, uint32_t);
  auto init = reinterpret_cast<Init>(::dlsym(handle, "kget_kernel_init"));
  ASSERT_NE(init, nullptr);
  const kget_kernel_descriptor* descriptor = init(KGET_KERNEL_ABI_VERSION_MAJOR, 0);
  ASSERT_NE(descriptor, nullptr);
  kget_error error{};
  EXPECT_EQ(descriptor->ops[0].call(nullptr, 0, &error), KGET_KERNEL_OK);
  ::dlclose(handle);
}

TEST_F(BuildCheckTest, TamperedFilesAndMetadataAreReported) {
  ASSERT_TRUE(build({}));
  // An unlisted file, and metadata whose symbol versions were edited by hand.
  write_file(variant_dir() / "notes.txt", "hello");
  auto json = nlohmann::json::parse(read_file(variant_dir() / "metadata.json"));
  json["kget"]["requires"]["symbol_versions"] = {"GLIBC_2.17"};
  write_file(variant_dir() / "metadata.json", json.dump());

  auto check = check_variant_directory(variant_dir(), {.load = false});
  ASSERT_TRUE(check);
  const Violation* digest = find_rule(*check, "digest");
  ASSERT_NE(digest, nullptr);
  EXPECT_EQ(digest->kind, ErrorKind::integrity);
  EXPECT_NE(digest->message.find("notes.txt is not listed"), std::string::npos);
  const Violation* versions = find_rule(*check, "symbol-versions");
  ASSERT_NE(versions, nullptr);
  EXPECT_NE(versions->message.find("found [\"GLIBC_2.17\"]"), std::string::npos)
      << versions->message;
}

TEST_F(BuildCheckTest, ADescriptorThatDisagreesWithMetadataFailsTheLoadRule) {
  ASSERT_TRUE(build({}));
  auto json = nlohmann::json::parse(read_file(variant_dir() / "metadata.json"));
  json["kget"]["ops"][0]["schema"] = "noop(Tensor out) -> ()";
  write_file(variant_dir() / "metadata.json", json.dump());
  auto check = check_variant_directory(variant_dir());
  ASSERT_TRUE(check);
  const Violation* load = find_rule(*check, "load");
  ASSERT_NE(load, nullptr);
  EXPECT_EQ(load->kind, ErrorKind::abi);
  EXPECT_NE(load->message.find("noop(Tensor out) -> ()"), std::string::npos) << load->message;
}

TEST_F(BuildCheckTest, AMisnamedDirectoryIsReported) {
  ASSERT_TRUE(build({}));
  fs::path renamed = dir.path() / "out" / "build" / "kget1-cu130-x86_64-linux";
  fs::rename(variant_dir(), renamed);
  auto check = check_variant_directory(renamed, {.load = false});
  ASSERT_TRUE(check);
  const Violation* name = find_rule(*check, "name");
  ASSERT_NE(name, nullptr);
  EXPECT_EQ(name->kind, ErrorKind::invalid_metadata);
}

TEST_F(BuildCheckTest, AnUnknownVariantIsAUsageError) {
  write_file(dir.path() / "kernel" / "build.toml", tiny_build_toml({}));
  write_file(dir.path() / "matrix.toml", k_cpu_matrix);
  BuildRequest request;
  request.kernel = dir.path() / "kernel";
  request.matrix = dir.path() / "matrix.toml";
  request.out = dir.path() / "out";
  request.variants = {"kget1-rocm63-x86_64-linux"};
  auto report = build_kernel(request);
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().kind, ErrorKind::usage);
  EXPECT_NE(report.error().message.find(
                "its variants are kget1-cpu-x86_64-linux, kget1-cu130-x86_64-linux"),
            std::string::npos)
      << report.error().message;

  request.variants = {"kget1-cu130-x86_64-linux"};
  auto skipped = build_kernel(request);
  ASSERT_FALSE(skipped);
  EXPECT_NE(skipped.error().message.find("no [kernel.cuda] in build.toml"), std::string::npos);
}

} // namespace
} // namespace kget::build
