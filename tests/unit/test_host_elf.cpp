// The ELF version-definition reader, on the real libc and on synthetic and damaged images, and the
// runtime ABI detection built on it.
#include "host/elf_versions.hpp"
#include "host/runtime.hpp"
#include "support/temp_dir.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <elf.h>
#include <filesystem>
#include <fstream>
#include <gnu/libc-version.h>
#include <gtest/gtest.h>
#include <random>
#include <sstream>
#include <string>
#include <unistd.h>

using namespace kget::host;
using kget::ErrorKind;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream out;
  out << file.rdbuf();
  return out.str();
}

void write_file(const std::string& path, std::string_view bytes) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

bool contains(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

using kget::testing::TempDir;

// A minimal ELF64 image: a string table and a version-definition section with the base entry
// "libfoo.so" and the versions FOO_1.0 and FOO_2.0. Offsets are kept so that tests can damage it.
struct SyntheticElf {
  std::string image;
  std::size_t strtab_offset = 0;
  std::size_t verdef_offset = 0;
  std::size_t shdr_offset = 0;

  static constexpr std::size_t k_entry_size = sizeof(Elf64_Verdef) + sizeof(Elf64_Verdaux);

  SyntheticElf() {
    const std::string strings("\0libfoo.so\0FOO_1.0\0FOO_2.0\0", 27);
    const std::array<std::uint32_t, 3> name_offsets{1, 11, 19};
    strtab_offset = sizeof(Elf64_Ehdr);
    verdef_offset = align(strtab_offset + strings.size());
    shdr_offset = align(verdef_offset + 3 * k_entry_size);
    image.assign(shdr_offset + 3 * sizeof(Elf64_Shdr), '\0');

    Elf64_Ehdr header{};
    std::memcpy(header.e_ident, ELFMAG, SELFMAG);
    header.e_ident[EI_CLASS] = ELFCLASS64;
    header.e_ident[EI_DATA] = ELFDATA2LSB;
    header.e_ident[EI_VERSION] = EV_CURRENT;
    header.e_type = ET_DYN;
    header.e_version = EV_CURRENT;
    header.e_ehsize = sizeof(Elf64_Ehdr);
    header.e_shoff = shdr_offset;
    header.e_shentsize = sizeof(Elf64_Shdr);
    header.e_shnum = 3;
    put(0, header);
    image.replace(strtab_offset, strings.size(), strings);

    for (std::uint16_t i = 0; i < 3; ++i) {
      Elf64_Verdef definition{};
      definition.vd_version = VER_DEF_CURRENT;
      definition.vd_flags = i == 0 ? VER_FLG_BASE : 0;
      definition.vd_ndx = static_cast<std::uint16_t>(i + 1);
      definition.vd_cnt = 1;
      definition.vd_aux = sizeof(Elf64_Verdef);
      definition.vd_next = i == 2 ? 0 : k_entry_size;
      put(verdef_offset + i * k_entry_size, definition);
      Elf64_Verdaux aux{};
      aux.vda_name = name_offsets[i];
      put(verdef_offset + i * k_entry_size + sizeof(Elf64_Verdef), aux);
    }

    Elf64_Shdr strtab{};
    strtab.sh_type = SHT_STRTAB;
    strtab.sh_offset = strtab_offset;
    strtab.sh_size = strings.size();
    put(shdr_offset + sizeof(Elf64_Shdr), strtab);
    Elf64_Shdr verdef{};
    verdef.sh_type = SHT_GNU_verdef;
    verdef.sh_offset = verdef_offset;
    verdef.sh_size = 3 * k_entry_size;
    verdef.sh_link = 1;
    verdef.sh_info = 3;
    put(shdr_offset + 2 * sizeof(Elf64_Shdr), verdef);
  }

  static std::size_t align(std::size_t offset) { return (offset + 7) & ~std::size_t{7}; }

  template <class T>
  void put(std::size_t offset, const T& value) {
    std::memcpy(image.data() + offset, &value, sizeof(T));
  }
  template <class T>
  T get(std::size_t offset) const {
    T value;
    std::memcpy(&value, image.data() + offset, sizeof(T));
    return value;
  }
  std::size_t section(int index) const { return shdr_offset + index * sizeof(Elf64_Shdr); }
  std::size_t definition(int index) const { return verdef_offset + index * k_entry_size; }

  template <class T, class Edit>
  void edit(std::size_t offset, Edit change) {
    T value = get<T>(offset);
    change(value);
    put(offset, value);
  }

  kget::Result<std::vector<std::string>> parse() const {
    return parse_version_definitions(image, "synthetic.so");
  }
};

void expect_abi_error(const kget::Result<std::vector<std::string>>& result,
                      const std::string& fragment) {
  ASSERT_FALSE(result.has_value()) << "parsed although damaged";
  EXPECT_EQ(result.error().kind, ErrorKind::abi);
  EXPECT_NE(result.error().message.find(fragment), std::string::npos) << result.error().message;
}

} // namespace

TEST(HostElf, SyntheticImageParses) {
  SyntheticElf elf;
  auto names = elf.parse();
  ASSERT_TRUE(names.has_value()) << names.error().message;
  EXPECT_EQ(*names, (std::vector<std::string>{"FOO_1.0", "FOO_2.0"}));
}

TEST(HostElf, NoVersionDefinitionSectionGivesEmptyList) {
  SyntheticElf elf;
  elf.edit<Elf64_Shdr>(elf.section(2), [](auto& s) { s.sh_type = SHT_PROGBITS; });
  auto names = elf.parse();
  ASSERT_TRUE(names.has_value()) << names.error().message;
  EXPECT_TRUE(names->empty());
}

TEST(HostElf, ExtendedSectionNumbering) {
  SyntheticElf elf;
  elf.edit<Elf64_Ehdr>(0, [](auto& h) { h.e_shnum = 0; });
  elf.edit<Elf64_Shdr>(elf.section(0), [](auto& s) { s.sh_size = 3; });
  auto names = elf.parse();
  ASSERT_TRUE(names.has_value()) << names.error().message;
  EXPECT_EQ(names->size(), 2u);
}

TEST(HostElf, DamagedHeadersAreErrors) {
  struct Case {
    const char* what;
    std::function<void(SyntheticElf&)> damage;
    const char* fragment;
  };
  const std::vector<Case> cases{
      {"bad magic", [](auto& e) { e.image[1] = 'X'; }, "not an ELF file"},
      {"32-bit", [](auto& e) { e.image[EI_CLASS] = ELFCLASS32; }, "ELFCLASS32"},
      {"unknown class", [](auto& e) { e.image[EI_CLASS] = 7; }, "unknown ELF class 7"},
      {"big-endian", [](auto& e) { e.image[EI_DATA] = ELFDATA2MSB; }, "byte order"},
      {"small section entries",
       [](auto& e) { e.template edit<Elf64_Ehdr>(0, [](auto& h) { h.e_shentsize = 10; }); },
       "section header size 10"},
      {"section table past the end",
       [](auto& e) { e.template edit<Elf64_Ehdr>(0, [](auto& h) { h.e_shoff = 1 << 20; }); },
       "lies outside the file"},
      {"section table offset overflows",
       [](auto& e) {
         e.template edit<Elf64_Ehdr>(0, [](auto& h) { h.e_shoff = ~std::uint64_t{0} - 8; });
       },
       "lies outside the file"},
      {"too many sections",
       [](auto& e) { e.template edit<Elf64_Ehdr>(0, [](auto& h) { h.e_shnum = 0xffff; }); },
       "lies outside the file"},
      {"extended count overflows",
       [](auto& e) {
         e.template edit<Elf64_Ehdr>(0, [](auto& h) { h.e_shnum = 0; });
         e.template edit<Elf64_Shdr>(e.section(0),
                                     [](auto& s) { s.sh_size = ~std::uint64_t{0} / 2; });
       },
       "overflow"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    SyntheticElf elf;
    c.damage(elf);
    expect_abi_error(elf.parse(), c.fragment);
  }
}

TEST(HostElf, DamagedVersionSectionsAreErrors) {
  struct Case {
    const char* what;
    std::function<void(SyntheticElf&)> damage;
    const char* fragment;
  };
  auto section = [](int index, std::function<void(Elf64_Shdr&)> change) {
    return [index, change](SyntheticElf& e) { e.edit<Elf64_Shdr>(e.section(index), change); };
  };
  auto definition = [](int index, std::function<void(Elf64_Verdef&)> change) {
    return [index, change](SyntheticElf& e) { e.edit<Elf64_Verdef>(e.definition(index), change); };
  };
  const std::vector<Case> cases{
      {"link out of range", section(2, [](auto& s) { s.sh_link = 9; }), "not a string table"},
      {"link to a non-string table", section(2, [](auto& s) { s.sh_link = 0; }),
       "not a string table"},
      {"section past the end", section(2, [](auto& s) { s.sh_offset = 1 << 20; }),
       "lies outside the file"},
      {"section size huge", section(2, [](auto& s) { s.sh_size = ~std::uint64_t{0}; }),
       "lies outside the file"},
      {"string table past the end", section(1, [](auto& s) { s.sh_size = 1 << 20; }),
       "lies outside the file"},
      {"section cut inside an entry", section(2, [](auto& s) { s.sh_size = 30; }),
       "lies outside its section"},
      {"next past the section", definition(1, [](auto& d) { d.vd_next = 1000; }),
       "lies outside its section"},
      {"next wraps", definition(0, [](auto& d) { d.vd_next = 0xffffffff; }),
       "lies outside its section"},
      {"aux past the section", definition(2, [](auto& d) { d.vd_aux = 0xfffffff0; }),
       "lies outside its section"},
      {"unknown revision", definition(0, [](auto& d) { d.vd_version = 2; }), "revision 2"},
      {"no name entry", definition(1, [](auto& d) { d.vd_cnt = 0; }), "has no name"},
      {"name outside the string table",
       [](SyntheticElf& e) {
         e.edit<Elf64_Verdaux>(e.definition(1) + sizeof(Elf64_Verdef),
                               [](auto& a) { a.vda_name = 5000; });
       },
       "outside the string table"},
      {"unterminated name", section(1, [](auto& s) { s.sh_size = 22; }), "not terminated"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    SyntheticElf elf;
    c.damage(elf);
    expect_abi_error(elf.parse(), c.fragment);
  }
}

// Every prefix of the image: an error or (never, here) a result, but no crash or over-read.
TEST(HostElf, EveryTruncationOfSyntheticImageIsAnError) {
  SyntheticElf elf;
  for (std::size_t size = 0; size < elf.image.size(); ++size) {
    auto names = parse_version_definitions(std::string_view(elf.image).substr(0, size), "cut");
    EXPECT_FALSE(names.has_value()) << "prefix of " << size << " bytes parsed";
  }
}

TEST(HostElf, EverySingleByteCorruptionIsSafe) {
  SyntheticElf original;
  for (std::size_t offset = 0; offset < original.image.size(); ++offset) {
    for (unsigned char value : {0x00, 0x01, 0x7f, 0x80, 0xff}) {
      SyntheticElf elf;
      elf.image[offset] = static_cast<char>(value);
      (void)elf.parse();
    }
  }
}

class HostElfOnLibc : public ::testing::Test {
protected:
  void SetUp() override {
    m_libc = detect_runtime().libc_path;
    if (m_libc.empty()) {
      GTEST_SKIP() << "no libc.so.6 loaded (static build?)";
    }
    m_image = read_file(m_libc);
    ASSERT_GT(m_image.size(), 4096u);
  }

  std::string m_libc;
  std::string m_image;
  TempDir m_dir;
};

TEST_F(HostElfOnLibc, ReadsLibcDefinitions) {
  auto names = read_version_definitions(m_libc);
  ASSERT_TRUE(names.has_value()) << names.error().message;
  EXPECT_TRUE(contains(*names, "GLIBC_2.17"));
  EXPECT_TRUE(contains(*names, "GLIBC_PRIVATE"));
  EXPECT_FALSE(contains(*names, "libc.so.6")) << "the base definition is not a version";
  auto from_memory = parse_version_definitions(m_image, m_libc);
  ASSERT_TRUE(from_memory.has_value());
  EXPECT_EQ(*from_memory, *names);
}

// glibc 2.34 moved pthread_create into libc.so.6 under a new default version and kept the old
// one as a non-default alias of the same code: what the builder's symbol pins rely on.
TEST_F(HostElfOnLibc, ReadsLibcSymbolsWithTheirVersions) {
  auto symbols = read_versioned_symbols(m_libc);
  ASSERT_TRUE(symbols.has_value()) << symbols.error().message;
  EXPECT_GT(symbols->size(), 1000u);
  std::vector<VersionedSymbol> pthread_create;
  for (const auto& symbol : *symbols) {
    if (symbol.name == "pthread_create") {
      pthread_create.push_back(symbol);
    }
  }
  ASSERT_FALSE(pthread_create.empty());
  size_t defaults = 0;
  for (const auto& symbol : pthread_create) {
    EXPECT_TRUE(symbol.defined);
    EXPECT_TRUE(symbol.version.starts_with("GLIBC_2.")) << symbol.version;
    EXPECT_EQ(symbol.value, pthread_create.front().value) << "one code under every version";
    defaults += symbol.is_default ? 1 : 0;
  }
  EXPECT_EQ(defaults, 1u);
  if (kget::util::parse_dotted(gnu_get_libc_version()).value_or(std::vector<int>{}) >=
      std::vector<int>{2, 34}) {
    ASSERT_EQ(pthread_create.size(), 2u);
    for (const auto& symbol : pthread_create) {
      EXPECT_EQ(symbol.version, symbol.is_default ? "GLIBC_2.34" : "GLIBC_2.2.5");
    }
  }
  auto from_memory = parse_versioned_symbols(m_image, m_libc);
  ASSERT_TRUE(from_memory.has_value());
  EXPECT_EQ(from_memory->size(), symbols->size());
}

// What a library needs: undefined symbols with the versions of the libraries it was linked with.
TEST(HostElf, ReadsNeededSymbolVersionsOfThisProgram) {
  auto symbols = read_versioned_symbols("/proc/self/exe");
  ASSERT_TRUE(symbols.has_value()) << symbols.error().message;
  bool found = false;
  for (const auto& symbol : *symbols) {
    // Not memcpy: under AddressSanitizer the runtime's interceptor answers it, unversioned.
    if (symbol.name == "gnu_get_libc_version" && !symbol.defined) {
      found = true;
      EXPECT_TRUE(symbol.version.starts_with("GLIBC_")) << symbol.version;
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(HostElfOnLibc, SymbolReadingOfDamagedCopiesIsSafe) {
  for (std::size_t cut : {std::size_t{64}, m_image.size() / 2, m_image.size() - 65}) {
    auto symbols = parse_versioned_symbols(std::string_view(m_image).substr(0, cut), "cut");
    ASSERT_FALSE(symbols.has_value()) << cut;
    EXPECT_EQ(symbols.error().kind, ErrorKind::abi);
  }
  std::mt19937 random(777);
  for (int round = 0; round < 300; ++round) {
    std::string image = m_image;
    for (int i = 0; i < 4; ++i) {
      image[random() % image.size()] = static_cast<char>(random());
    }
    (void)parse_versioned_symbols(image, "fuzzed");
  }
}

TEST_F(HostElfOnLibc, TruncatedCopiesAreErrors) {
  const std::vector<std::size_t> cuts{0,
                                      1,
                                      4,
                                      16,
                                      63,
                                      64,
                                      100,
                                      4096,
                                      m_image.size() / 2,
                                      m_image.size() - 4096,
                                      m_image.size() - 65,
                                      m_image.size() - 1};
  for (std::size_t cut : cuts) {
    SCOPED_TRACE(cut);
    std::string path = m_dir.file("libc-cut-" + std::to_string(cut) + ".so");
    write_file(path, std::string_view(m_image).substr(0, cut));
    auto names = read_version_definitions(path);
    ASSERT_FALSE(names.has_value());
    EXPECT_EQ(names.error().kind, ErrorKind::abi);
    EXPECT_NE(names.error().message.find(path), std::string::npos) << names.error().message;
  }
}

TEST_F(HostElfOnLibc, ThirtyTwoBitIsAClearError) {
  std::string image = m_image;
  image[EI_CLASS] = ELFCLASS32;
  std::string path = m_dir.file("libc32.so");
  write_file(path, image);
  auto names = read_version_definitions(path);
  ASSERT_FALSE(names.has_value());
  EXPECT_NE(names.error().message.find("ELFCLASS32"), std::string::npos);
}

// A small deterministic fuzz over the parts the reader looks at.
TEST_F(HostElfOnLibc, RandomCorruptionIsSafe) {
  auto header = parse_version_definitions(m_image, "libc");
  ASSERT_TRUE(header.has_value());
  Elf64_Ehdr ehdr;
  std::memcpy(&ehdr, m_image.data(), sizeof(ehdr));
  std::size_t table_start = ehdr.e_shoff;
  std::size_t table_size = std::size_t{ehdr.e_shnum} * ehdr.e_shentsize;
  std::mt19937 random(12345);
  for (int round = 0; round < 2000; ++round) {
    std::string image = m_image;
    int edits = 1 + static_cast<int>(random() % 8);
    for (int i = 0; i < edits; ++i) {
      std::size_t offset =
          random() % 3 == 0 ? random() % sizeof(Elf64_Ehdr) : table_start + random() % table_size;
      image[offset] = static_cast<char>(random());
    }
    if (random() % 4 == 0) {
      image.resize(random() % image.size());
    }
    (void)parse_version_definitions(image, "fuzzed");
  }
}

TEST(HostElf, NonElfFilesAreErrors) {
  TempDir dir;
  std::string empty = dir.file("empty.so");
  write_file(empty, "");
  std::string text = dir.file("text.so");
  write_file(text, "INPUT(-lc)\n/* a linker script, not a library */\n" + std::string(200, ' '));
  std::string garbage = dir.file("garbage.so");
  std::mt19937 random(7);
  std::string noise(65536, '\0');
  for (auto& c : noise) {
    c = static_cast<char>(random());
  }
  write_file(garbage, noise);
  for (const auto& path : {empty, text, garbage}) {
    SCOPED_TRACE(path);
    auto names = read_version_definitions(path);
    ASSERT_FALSE(names.has_value());
    EXPECT_EQ(names.error().kind, ErrorKind::abi);
    EXPECT_NE(names.error().message.find("not an ELF file"), std::string::npos);
  }
}

TEST(HostElf, UnreadablePathsAreIoErrors) {
  auto missing = read_version_definitions("/nonexistent/libc.so.6");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().kind, ErrorKind::io);
  EXPECT_NE(missing.error().message.find("/nonexistent/libc.so.6"), std::string::npos);
  EXPECT_NE(missing.error().message.find("No such file"), std::string::npos);

  auto directory = read_version_definitions("/");
  ASSERT_FALSE(directory.has_value());
  EXPECT_EQ(directory.error().kind, ErrorKind::io);
  EXPECT_NE(directory.error().message.find("not a regular file"), std::string::npos);
}

TEST(HostRuntime, GlibcHighestIsTheRunningGlibc) {
  const RuntimeAbi& runtime = detect_runtime();
  EXPECT_EQ(runtime.glibc_version, gnu_get_libc_version());
  auto running = kget::util::parse_dotted(gnu_get_libc_version());
  ASSERT_TRUE(running.has_value());
  EXPECT_EQ(runtime.glibc.highest, *running);
  EXPECT_EQ(runtime.source, "ELF version definitions");
}

TEST(HostRuntime, LibrariesAndFamilies) {
  const RuntimeAbi& runtime = detect_runtime();
  EXPECT_TRUE(runtime.libc_path.ends_with("/libc.so.6")) << runtime.libc_path;
  EXPECT_TRUE(runtime.libstdcxx_path.ends_with("libstdc++.so.6")) << runtime.libstdcxx_path;
  EXPECT_EQ(runtime.glibc.prefix, "GLIBC");
  EXPECT_EQ(runtime.glibcxx.prefix, "GLIBCXX");
  EXPECT_EQ(runtime.cxxabi.prefix, "CXXABI");
  EXPECT_FALSE(runtime.glibcxx.highest.empty());
  EXPECT_FALSE(runtime.cxxabi.highest.empty());
  // g++ 12's runtime is at least GLIBCXX_3.4.30 / CXXABI_1.3.13; any supported one is >= 3.4.
  EXPECT_GE(runtime.glibcxx.highest, (std::vector<int>{3, 4}));
  EXPECT_GE(runtime.cxxabi.highest, (std::vector<int>{1, 3}));
}

TEST(HostRuntime, ProvidedVersionsAreSortedAndComplete) {
  const RuntimeAbi& runtime = detect_runtime();
  const auto& provided = runtime.provided_versions;
  EXPECT_TRUE(std::is_sorted(provided.begin(), provided.end()));
  EXPECT_EQ(std::adjacent_find(provided.begin(), provided.end()), provided.end());
  EXPECT_TRUE(contains(provided, "GLIBC_2.17"));
  EXPECT_TRUE(contains(provided, "GLIBC_" + std::string(gnu_get_libc_version())));
  EXPECT_TRUE(contains(provided, "GLIBCXX_" + kget::util::format_dotted(runtime.glibcxx.highest)));
  EXPECT_TRUE(contains(provided, "CXXABI_" + kget::util::format_dotted(runtime.cxxabi.highest)));
  EXPECT_TRUE(contains(provided, "GLIBCXX_3.4"));
}

TEST(HostRuntime, HighestInFamily) {
  const std::vector<std::string> versions{
      "GLIBC_2.2.5",    "GLIBC_2.17",  "GLIBC_PRIVATE", "GLIBC_2.9",   "GLIBCXX_3.4.9",
      "GLIBCXX_3.4.30", "GLIBCXX_3.4", "CXXABI_1.3.13", "CXXABI_TM_1", "CXXABI_FLOAT128",
      "GLIBC_",         "GLIBC_2.x",   "glibc_9.9"};
  EXPECT_EQ(highest_in_family(versions, "GLIBC"), (std::vector<int>{2, 17}));
  EXPECT_EQ(highest_in_family(versions, "GLIBCXX"), (std::vector<int>{3, 4, 30}));
  EXPECT_EQ(highest_in_family(versions, "CXXABI"), (std::vector<int>{1, 3, 13}));
  EXPECT_TRUE(highest_in_family(versions, "OTHER").empty());
  EXPECT_TRUE(highest_in_family({}, "GLIBC").empty());
}

// binutils' reading of the same file, when readelf is installed.
TEST_F(HostElfOnLibc, AgreesWithReadelf) {
  std::string command = "readelf -V --wide '" + m_libc + "' 2>/dev/null";
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  std::array<char, 4096> buffer{};
  while (std::size_t got = std::fread(buffer.data(), 1, buffer.size(), pipe)) {
    output.append(buffer.data(), got);
  }
  if (::pclose(pipe) != 0 || output.empty()) {
    GTEST_SKIP() << "readelf not available";
  }
  // Lines such as "  0x001c: Rev: 1  Flags: none  Index: 2  Cnt: 1  Name: GLIBC_2.2.5" between
  // "Version definition section" and the next section.
  std::vector<std::string> expected;
  std::istringstream lines(output);
  bool in_definitions = false;
  for (std::string line; std::getline(lines, line);) {
    if (line.find("Version definition section") != std::string::npos) {
      in_definitions = true;
    } else if (line.find("section '") != std::string::npos) {
      in_definitions = false;
    } else if (in_definitions && line.find("Rev:") != std::string::npos &&
               line.find("Flags: BASE") == std::string::npos) {
      auto name = line.find("Name: ");
      ASSERT_NE(name, std::string::npos) << line;
      expected.push_back(line.substr(name + 6));
    }
  }
  EXPECT_GT(expected.size(), 30u);
  auto names = read_version_definitions(m_libc);
  ASSERT_TRUE(names.has_value());
  EXPECT_EQ(*names, expected);
}
