// The ELF readers of kget build/check on real libraries, on crafted fatbins, and on garbage.
#include "build/check.hpp"
#include "build/elf_inspect.hpp"
#include "host/runtime.hpp"

#include <algorithm>
#include <cstring>
#include <gtest/gtest.h>

namespace kget::build {
namespace {

bool contains(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

TEST(ElfInspectTest, ReadsTheRealLibstdcxx) {
  const auto& runtime = host::detect_runtime();
  ASSERT_FALSE(runtime.libstdcxx_path.empty());
  auto info = read_dynamic_info(runtime.libstdcxx_path);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_TRUE(contains(info->needed, "libc.so.6"));
  EXPECT_TRUE(contains(info->exported, "_ZSt9terminatev")); // std::terminate()
  EXPECT_TRUE(info->rpath.empty());
  EXPECT_FALSE(info->has_fatbin);

  auto versions = required_symbol_versions(runtime.libstdcxx_path);
  ASSERT_TRUE(versions) << versions.error().message;
  EXPECT_TRUE(std::all_of(versions->begin(), versions->end(),
                          [](const std::string& v) { return v.starts_with("GLIBC_"); }));
  EXPECT_TRUE(contains(*versions, "GLIBC_2.2.5"));

  auto targets = read_fatbin_targets(runtime.libstdcxx_path);
  ASSERT_TRUE(targets) << targets.error().message;
  EXPECT_TRUE(targets->sass.empty());
  EXPECT_TRUE(targets->ptx.empty());
}

TEST(ElfInspectTest, RefusesGarbage) {
  auto info = parse_dynamic_info("this is not an ELF file at all, just text", "garbage.so");
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().kind, ErrorKind::abi);
  EXPECT_NE(
      info.error().message.find("garbage.so: not a well-formed ELF shared library: no ELF magic"),
      std::string::npos);

  // A real header whose section table points past the end of the file.
  const auto& runtime = host::detect_runtime();
  auto image = std::string(4096, '\0');
  FILE* file = std::fopen(runtime.libc_path.c_str(), "rb");
  ASSERT_NE(file, nullptr);
  ASSERT_EQ(std::fread(image.data(), 1, image.size(), file), image.size());
  std::fclose(file);
  auto truncated = parse_dynamic_info(image, "libc-head.so");
  ASSERT_FALSE(truncated);
  EXPECT_EQ(truncated.error().kind, ErrorKind::abi);
}

void put32(std::string& bytes, size_t offset, uint32_t value) {
  std::memcpy(bytes.data() + offset, &value, sizeof value);
}
void put16(std::string& bytes, size_t offset, uint16_t value) {
  std::memcpy(bytes.data() + offset, &value, sizeof value);
}
void put64(std::string& bytes, size_t offset, uint64_t value) {
  std::memcpy(bytes.data() + offset, &value, sizeof value);
}

// One fatbin entry as nvcc 13 lays it out (docs/build.md, "Fatbin targets").
std::string entry(uint16_t kind, uint32_t arch, uint32_t flags, size_t payload) {
  std::string bytes(64 + payload, '\0');
  put16(bytes, 0, kind);
  put16(bytes, 2, 0x101);
  put32(bytes, 4, 64);
  put64(bytes, 8, payload);
  put32(bytes, 28, arch);
  put32(bytes, 40, flags);
  return bytes;
}

std::string fatbin(const std::string& entries) {
  std::string header(16, '\0');
  put32(header, 0, 0xBA55ED50);
  put16(header, 4, 1);
  put16(header, 6, 16);
  put64(header, 8, entries.size());
  std::string bytes = header + entries;
  bytes.resize((bytes.size() + 7) & ~size_t{7}, '\0');
  return bytes;
}

TEST(FatbinTest, ReadsTargetsOfEveryFatbin) {
  std::string section = fatbin(entry(2, 90, 0x100011, 24) + entry(1, 90, 0x8011, 13)) +
                        fatbin(entry(2, 80, 0x11, 8) + entry(2, 100, 0x1200011, 8)) +
                        fatbin(entry(2, 90, 0x100011, 8)); // duplicates collapse
  auto targets = parse_fatbin_section(section, "lib.so");
  ASSERT_TRUE(targets) << targets.error().message;
  std::vector<std::string> sass;
  for (const auto& target : targets->sass) {
    sass.push_back(metadata::to_string(target));
  }
  EXPECT_EQ(sass, (std::vector<std::string>{"sm_80", "sm_90a", "sm_100f"}));
  ASSERT_EQ(targets->ptx.size(), 1u);
  EXPECT_EQ(metadata::to_string(targets->ptx[0]), "compute_90");
}

TEST(FatbinTest, RefusesLyingSizes) {
  std::string section = fatbin(entry(2, 90, 0x11, 8));
  put64(section, 16 + 8, 1u << 20); // the entry claims a megabyte
  auto targets = parse_fatbin_section(section, "lib.so");
  ASSERT_FALSE(targets);
  EXPECT_EQ(targets.error().kind, ErrorKind::abi);
  EXPECT_NE(targets.error().message.find("beyond its fatbin"), std::string::npos);

  std::string bad_magic = fatbin(entry(2, 90, 0x11, 8));
  put32(bad_magic, 0, 0x12345678);
  auto refused = parse_fatbin_section(bad_magic, "lib.so");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("magic 0x12345678, expected 0xba55ed50"),
            std::string::npos)
      << refused.error().message;
}

TEST(PolicyTest, KnowsTheManylinux228Limits) {
  EXPECT_EQ(policy_limit_exceeded("GLIBC_2.28"), std::nullopt);
  EXPECT_EQ(policy_limit_exceeded("GLIBC_2.2.5"), std::nullopt);
  EXPECT_EQ(policy_limit_exceeded("GLIBC_2.34"), "GLIBC_2.28");
  EXPECT_EQ(policy_limit_exceeded("GLIBCXX_3.4.24"), std::nullopt);
  EXPECT_EQ(policy_limit_exceeded("GLIBCXX_3.4.30"), "GLIBCXX_3.4.24");
  EXPECT_EQ(policy_limit_exceeded("CXXABI_1.3.13"), "CXXABI_1.3.11");
  EXPECT_EQ(policy_limit_exceeded("GCC_12.0.0"), std::nullopt); // not a family kget tracks
}

} // namespace
} // namespace kget::build
