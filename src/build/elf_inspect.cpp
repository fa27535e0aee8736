#include "build/elf_inspect.hpp"

#include "util/fs.hpp"
#include "util/strings.hpp"

#include <algorithm>
#include <cstring>
#include <elf.h>
#include <optional>

namespace kget::build {

namespace {

// Kernel libraries with fatbins for a dozen architectures reach hundreds of MiB.
constexpr size_t k_max_library_size = size_t{4} << 30;

// Bounds-checked views into an ELF image: every offset and size comes from the file.
class ElfImage {
public:
  ElfImage(std::string_view image, std::string_view name) : m_image(image), m_name(name) {}

  template <class... Args>
  std::unexpected<Failure> malformed(fmt::format_string<Args...> format, Args&&... args) const {
    return fail(ErrorKind::abi, "{}: not a well-formed ELF shared library: {}", m_name,
                fmt::format(format, std::forward<Args>(args)...));
  }

  template <class T>
  std::optional<T> read(uint64_t offset) const {
    if (offset > m_image.size() || m_image.size() - offset < sizeof(T)) {
      return std::nullopt;
    }
    T value;
    std::memcpy(&value, m_image.data() + offset, sizeof(T));
    return value;
  }

  std::optional<std::string_view> bytes(uint64_t offset, uint64_t size) const {
    if (offset > m_image.size() || m_image.size() - offset < size) {
      return std::nullopt;
    }
    return m_image.substr(offset, size);
  }

  Result<void> load_headers() {
    auto header = read<Elf64_Ehdr>(0);
    if (!header || std::memcmp(header->e_ident, ELFMAG, SELFMAG) != 0) {
      return malformed("no ELF magic");
    }
    if (header->e_ident[EI_CLASS] != ELFCLASS64 || header->e_ident[EI_DATA] != ELFDATA2LSB) {
      return malformed("only 64-bit little-endian ELF is supported");
    }
    if (header->e_shentsize != sizeof(Elf64_Shdr) && header->e_shnum != 0) {
      return malformed("section header size {} (expected {})", header->e_shentsize,
                       sizeof(Elf64_Shdr));
    }
    for (uint16_t i = 0; i < header->e_shnum; ++i) {
      auto section = read<Elf64_Shdr>(header->e_shoff + uint64_t{i} * sizeof(Elf64_Shdr));
      if (!section) {
        return malformed("section header {} lies outside the file", i);
      }
      m_sections.push_back(*section);
    }
    m_shstrndx = header->e_shstrndx;
    return {};
  }

  const std::vector<Elf64_Shdr>& sections() const { return m_sections; }

  // The contents of a section (empty for SHT_NOBITS).
  Result<std::string_view> contents(const Elf64_Shdr& section) const {
    if (section.sh_type == SHT_NOBITS) {
      return std::string_view{};
    }
    auto data = bytes(section.sh_offset, section.sh_size);
    if (!data) {
      return malformed("a section lies outside the file (offset {}, size {})", section.sh_offset,
                       section.sh_size);
    }
    return *data;
  }

  // A NUL-terminated string at `offset` of string table `table`.
  Result<std::string> string_at(const Elf64_Shdr& table, uint64_t offset) const {
    KGET_TRY_ASSIGN(auto data, contents(table));
    if (offset >= data.size()) {
      return malformed("string offset {} beyond its table ({} bytes)", offset, data.size());
    }
    auto end = data.find('\0', offset);
    if (end == std::string_view::npos) {
      return malformed("unterminated string at offset {}", offset);
    }
    return std::string(data.substr(offset, end - offset));
  }

  Result<const Elf64_Shdr*> linked(const Elf64_Shdr& section) const {
    if (section.sh_link >= m_sections.size()) {
      return malformed("section link {} out of range", section.sh_link);
    }
    return &m_sections[section.sh_link];
  }

  Result<std::optional<Elf64_Shdr>> section_named(std::string_view wanted) const {
    if (m_shstrndx == SHN_UNDEF || m_shstrndx >= m_sections.size()) {
      return std::optional<Elf64_Shdr>{};
    }
    for (const auto& section : m_sections) {
      KGET_TRY_ASSIGN(auto name, string_at(m_sections[m_shstrndx], section.sh_name));
      if (name == wanted) {
        return std::optional<Elf64_Shdr>{section};
      }
    }
    return std::optional<Elf64_Shdr>{};
  }

private:
  std::string_view m_image;
  std::string_view m_name;
  std::vector<Elf64_Shdr> m_sections;
  uint16_t m_shstrndx = SHN_UNDEF;
};

std::vector<std::string> split_path_list(const std::string& list) {
  std::vector<std::string> entries;
  for (auto part : util::split(list, ':')) {
    entries.emplace_back(part);
  }
  return entries;
}

Result<void> read_dynamic_entries(const ElfImage& elf, const Elf64_Shdr& dynamic,
                                  ElfDynamicInfo& info) {
  KGET_TRY_ASSIGN(auto data, elf.contents(dynamic));
  KGET_TRY_ASSIGN(const Elf64_Shdr* strings, elf.linked(dynamic));
  for (size_t offset = 0; offset + sizeof(Elf64_Dyn) <= data.size(); offset += sizeof(Elf64_Dyn)) {
    Elf64_Dyn entry;
    std::memcpy(&entry, data.data() + offset, sizeof entry);
    if (entry.d_tag == DT_NULL) {
      break;
    }
    if (entry.d_tag == DT_NEEDED || entry.d_tag == DT_RPATH || entry.d_tag == DT_RUNPATH) {
      KGET_TRY_ASSIGN(auto text, elf.string_at(*strings, entry.d_un.d_val));
      if (entry.d_tag == DT_NEEDED) {
        info.needed.push_back(std::move(text));
      } else {
        auto& list = entry.d_tag == DT_RPATH ? info.rpath : info.runpath;
        auto entries = split_path_list(text);
        list.insert(list.end(), entries.begin(), entries.end());
      }
    }
  }
  return {};
}

Result<void> read_exported_symbols(const ElfImage& elf, const Elf64_Shdr& dynsym,
                                   ElfDynamicInfo& info) {
  KGET_TRY_ASSIGN(auto data, elf.contents(dynsym));
  KGET_TRY_ASSIGN(const Elf64_Shdr* strings, elf.linked(dynsym));
  for (size_t offset = 0; offset + sizeof(Elf64_Sym) <= data.size(); offset += sizeof(Elf64_Sym)) {
    Elf64_Sym symbol;
    std::memcpy(&symbol, data.data() + offset, sizeof symbol);
    unsigned binding = ELF64_ST_BIND(symbol.st_info);
    unsigned visibility = ELF64_ST_VISIBILITY(symbol.st_other);
    bool global = binding == STB_GLOBAL || binding == STB_WEAK || binding == STB_GNU_UNIQUE;
    bool visible = visibility == STV_DEFAULT || visibility == STV_PROTECTED;
    if (symbol.st_shndx == SHN_UNDEF || !global || !visible) {
      continue;
    }
    KGET_TRY_ASSIGN(auto name, elf.string_at(*strings, symbol.st_name));
    if (!name.empty()) {
      info.exported.push_back(std::move(name));
    }
  }
  std::sort(info.exported.begin(), info.exported.end());
  info.exported.erase(std::unique(info.exported.begin(), info.exported.end()), info.exported.end());
  return {};
}

constexpr uint32_t k_fatbin_magic = 0xBA55ED50;
constexpr uint16_t k_fatbin_kind_ptx = 1;
constexpr uint16_t k_fatbin_kind_elf = 2;
constexpr uint32_t k_fatbin_flag_arch_specific = 0x100000;
constexpr uint32_t k_fatbin_flag_family = 0x200000;
constexpr size_t k_fatbin_entry_min_header = 44; // up to and including the flags word

struct FatbinHeader {
  uint32_t magic;
  uint16_t version;
  uint16_t header_size;
  uint64_t payload_size;
};
static_assert(sizeof(FatbinHeader) == 16);

template <class T>
T load(std::string_view bytes, size_t offset) {
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

Result<void> add_fatbin_entries(std::string_view entries, std::string_view name,
                                FatbinTargets& targets) {
  size_t offset = 0;
  while (offset < entries.size()) {
    if (entries.size() - offset < k_fatbin_entry_min_header) {
      return fail(ErrorKind::abi, "{}: truncated fatbin entry header at offset {}", name, offset);
    }
    auto kind = load<uint16_t>(entries, offset);
    auto header_size = load<uint32_t>(entries, offset + 4);
    auto payload_size = load<uint64_t>(entries, offset + 8);
    auto arch = load<uint32_t>(entries, offset + 28);
    auto flags = load<uint32_t>(entries, offset + 40);
    if (header_size < k_fatbin_entry_min_header || header_size > entries.size() - offset ||
        payload_size > entries.size() - offset - header_size) {
      return fail(ErrorKind::abi,
                  "{}: fatbin entry at offset {} claims {} + {} bytes, beyond its fatbin", name,
                  offset, header_size, payload_size);
    }
    if (kind == k_fatbin_kind_elf || kind == k_fatbin_kind_ptx) {
      metadata::CudaTarget target;
      target.kind = kind == k_fatbin_kind_elf ? metadata::CudaTarget::Kind::sass
                                              : metadata::CudaTarget::Kind::ptx;
      target.capability = {static_cast<int>(arch / 10), static_cast<int>(arch % 10)};
      if ((flags & k_fatbin_flag_arch_specific) != 0) {
        target.suffix = metadata::CudaTarget::Suffix::arch_specific;
      } else if ((flags & k_fatbin_flag_family) != 0) {
        target.suffix = metadata::CudaTarget::Suffix::family;
      }
      (kind == k_fatbin_kind_elf ? targets.sass : targets.ptx).push_back(target);
    }
    offset += header_size + payload_size;
  }
  return {};
}

void sort_unique(std::vector<metadata::CudaTarget>& targets) {
  std::sort(targets.begin(), targets.end());
  targets.erase(std::unique(targets.begin(), targets.end()), targets.end());
}

} // namespace

Result<ElfDynamicInfo> parse_dynamic_info(std::string_view image, std::string_view name) {
  ElfImage elf(image, name);
  KGET_TRY(elf.load_headers());
  ElfDynamicInfo info;
  bool found_dynamic = false;
  for (const auto& section : elf.sections()) {
    if (section.sh_type == SHT_DYNAMIC) {
      found_dynamic = true;
      KGET_TRY(read_dynamic_entries(elf, section, info));
    } else if (section.sh_type == SHT_DYNSYM) {
      KGET_TRY(read_exported_symbols(elf, section, info));
    }
  }
  if (!found_dynamic) {
    return elf.malformed("no dynamic section: not a shared library");
  }
  KGET_TRY_ASSIGN(auto fatbin, elf.section_named(".nv_fatbin"));
  info.has_fatbin = fatbin.has_value();
  return info;
}

Result<ElfDynamicInfo> read_dynamic_info(const std::filesystem::path& path) {
  KGET_TRY_ASSIGN(auto image, util::read_file(path, k_max_library_size));
  return parse_dynamic_info(image, path.string());
}

Result<FatbinTargets> parse_fatbin_section(std::string_view section, std::string_view name) {
  FatbinTargets targets;
  size_t offset = 0;
  while (offset < section.size()) {
    if (section.size() - offset < sizeof(FatbinHeader)) {
      break; // alignment padding at the end
    }
    auto header = load<FatbinHeader>(section, offset);
    if (header.magic == 0) {
      offset += 8; // fatbins are 8-byte aligned; padding between them is zero
      continue;
    }
    if (header.magic != k_fatbin_magic) {
      return fail(ErrorKind::abi, "{}: .nv_fatbin at offset {}: magic {:#x}, expected {:#x}", name,
                  offset, header.magic, k_fatbin_magic);
    }
    if (header.header_size < sizeof(FatbinHeader) || header.header_size > section.size() - offset ||
        header.payload_size > section.size() - offset - header.header_size) {
      return fail(ErrorKind::abi, "{}: .nv_fatbin at offset {} claims {} bytes, beyond the section",
                  name, offset, header.payload_size);
    }
    KGET_TRY(add_fatbin_entries(section.substr(offset + header.header_size, header.payload_size),
                                name, targets));
    offset += header.header_size + header.payload_size;
    offset = (offset + 7) & ~size_t{7};
  }
  sort_unique(targets.sass);
  sort_unique(targets.ptx);
  return targets;
}

Result<FatbinTargets> parse_fatbin_targets(std::string_view image, std::string_view name) {
  ElfImage elf(image, name);
  KGET_TRY(elf.load_headers());
  KGET_TRY_ASSIGN(auto section, elf.section_named(".nv_fatbin"));
  if (!section) {
    return FatbinTargets{};
  }
  KGET_TRY_ASSIGN(auto data, elf.contents(*section));
  return parse_fatbin_section(data, name);
}

Result<FatbinTargets> read_fatbin_targets(const std::filesystem::path& path) {
  KGET_TRY_ASSIGN(auto image, util::read_file(path, k_max_library_size));
  return parse_fatbin_targets(image, path.string());
}

} // namespace kget::build
