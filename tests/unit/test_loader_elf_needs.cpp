// host::read_version_needs, which the loader runs on a kernel library before dlopen: on real
// libraries built by the test build, on files that are not ELF, and on damaged images.
#include "host/elf_versions.hpp"
#include "support/temp_dir.hpp"

#include <algorithm>
#include <cstring>
#include <elf.h>
#include <gtest/gtest.h>
#include <random>
#include <string>

using kget::ErrorKind;
using kget::testing::read_file;
using kget::testing::TempDir;
using kget::testing::write_file;

namespace {

bool contains(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

TEST(VersionNeeds, ReadsTheVersionsAKernelNeeds) {
  auto relu = kget::host::read_version_needs(KGET_EXAMPLE_RELU);
  ASSERT_TRUE(relu) << relu.error().message;
  EXPECT_TRUE(contains(*relu, "GLIBC_2.2.5")) << "vsnprintf is GLIBC_2.2.5 on x86-64";
  for (const auto& name : *relu) {
    EXPECT_TRUE(name.starts_with("GLIBC_")) << name;
  }

  auto helper = kget::host::read_version_needs(KGET_LOADER_TEST_NEEDS_HELPER);
  ASSERT_TRUE(helper) << helper.error().message;
  EXPECT_TRUE(contains(*helper, "GLIBCXX_99.0"));
  EXPECT_EQ(std::count(helper->begin(), helper->end(), "GLIBCXX_99.0"), 1);
}

TEST(VersionNeeds, MatchesTheInMemoryParser) {
  const std::string image = read_file(KGET_LOADER_TEST_NEEDS_HELPER);
  auto from_file = kget::host::read_version_needs(KGET_LOADER_TEST_NEEDS_HELPER);
  auto from_memory = kget::host::parse_version_needs(image, "helper");
  ASSERT_TRUE(from_file && from_memory);
  EXPECT_EQ(*from_file, *from_memory);
}

TEST(VersionNeeds, ReportsFilesThatAreNotElf) {
  TempDir dir;
  write_file(dir.path() / "libnot.so", "#!/bin/sh\necho this is not a library\n");
  auto text = kget::host::read_version_needs(dir.file("libnot.so"));
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().kind, ErrorKind::abi);
  EXPECT_NE(text.error().message.find("not an ELF file"), std::string::npos)
      << text.error().message;

  auto missing = kget::host::read_version_needs(dir.file("absent.so"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::io);

  auto directory = kget::host::read_version_needs(dir.path().string());
  ASSERT_FALSE(directory);
  EXPECT_EQ(directory.error().kind, ErrorKind::io);
  EXPECT_NE(directory.error().message.find("not a regular file"), std::string::npos);
}

// Where the version-need section of a real library lies, so that tests can damage it.
struct NeedSection {
  std::size_t offset = 0;
  std::size_t size = 0;
};

NeedSection find_need_section(const std::string& image) {
  Elf64_Ehdr header;
  std::memcpy(&header, image.data(), sizeof header);
  for (std::size_t i = 0; i < header.e_shnum; ++i) {
    Elf64_Shdr section;
    std::memcpy(&section, image.data() + header.e_shoff + i * header.e_shentsize, sizeof section);
    if (section.sh_type == SHT_GNU_verneed) {
      return {section.sh_offset, section.sh_size};
    }
  }
  return {};
}

TEST(VersionNeeds, DamagedImagesGiveErrorsNotCrashes) {
  const std::string image = read_file(KGET_LOADER_TEST_NEEDS_HELPER);
  const NeedSection needs = find_need_section(image);
  ASSERT_GT(needs.size, 0u);

  // Cut inside the section: the section header table at the end of the file is gone too.
  auto truncated = kget::host::parse_version_needs(image.substr(0, needs.offset + 8), "cut");
  ASSERT_FALSE(truncated);
  EXPECT_EQ(truncated.error().kind, ErrorKind::abi);

  // A revision other than 1.
  std::string revision = image;
  revision[needs.offset] = 7;
  auto bad_revision = kget::host::parse_version_needs(revision, "revision");
  ASSERT_FALSE(bad_revision);
  EXPECT_NE(bad_revision.error().message.find("version need revision 7"), std::string::npos)
      << bad_revision.error().message;

  // vn_aux pointing past the section.
  std::string aux = image;
  Elf64_Verneed need;
  std::memcpy(&need, aux.data() + needs.offset, sizeof need);
  need.vn_aux = 0x7fffffff;
  std::memcpy(aux.data() + needs.offset, &need, sizeof need);
  auto bad_aux = kget::host::parse_version_needs(aux, "aux");
  ASSERT_FALSE(bad_aux);
  EXPECT_NE(bad_aux.error().message.find("lies outside its section"), std::string::npos)
      << bad_aux.error().message;

  // A chain that links one byte on would walk the section in overlapping steps.
  std::string chain = image;
  std::memcpy(&need, chain.data() + needs.offset, sizeof need);
  need.vn_next = 1;
  std::memcpy(chain.data() + needs.offset, &need, sizeof need);
  auto bad_chain = kget::host::parse_version_needs(chain, "chain");
  ASSERT_FALSE(bad_chain);
  EXPECT_NE(bad_chain.error().message.find("links 1 bytes on"), std::string::npos)
      << bad_chain.error().message;

  // Random bytes anywhere in the section: an answer or an error, never a crash (run under ASan).
  std::mt19937 random(20240611);
  for (int round = 0; round < 2000; ++round) {
    std::string damaged = image;
    for (int flips = 0; flips < 4; ++flips) {
      std::size_t at = needs.offset + random() % needs.size;
      damaged[at] = static_cast<char>(random());
    }
    (void)kget::host::parse_version_needs(damaged, "random");
  }
  for (std::size_t length = 0; length < image.size(); length += 97) {
    (void)kget::host::parse_version_needs(image.substr(0, length), "prefix");
  }
}

} // namespace
