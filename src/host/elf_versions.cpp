#include "host/elf_versions.hpp"

#include "util/fs.hpp"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <elf.h>
#include <fcntl.h>
#include <map>
#include <sys/stat.h>
#include <unistd.h>

namespace kget::host {

namespace {

// A section larger than this is not a version table or its string table, whatever it claims; the
// limit keeps a lying header from making us allocate gigabytes.
constexpr std::uint64_t k_max_section_size = std::uint64_t{256} << 20;

// Bytes of an ELF file, wherever they live. Callers check ranges against size() before reading.
class ByteSource {
public:
  virtual ~ByteSource() = default;
  virtual std::uint64_t size() const = 0;
  // Reads exactly `length` bytes at `offset`; false on an I/O error or a short read.
  virtual bool read(std::uint64_t offset, std::size_t length, char* out) const = 0;
};

class MemorySource final : public ByteSource {
public:
  explicit MemorySource(std::string_view image) : m_image(image) {}
  std::uint64_t size() const override { return m_image.size(); }
  bool read(std::uint64_t offset, std::size_t length, char* out) const override {
    std::memcpy(out, m_image.data() + offset, length);
    return true;
  }

private:
  std::string_view m_image;
};

// Reads only the parts needed (header, section headers, two sections), not the whole library.
class FileSource final : public ByteSource {
public:
  FileSource(int fd, std::uint64_t size) : m_fd(fd), m_size(size) {}
  std::uint64_t size() const override { return m_size; }
  bool read(std::uint64_t offset, std::size_t length, char* out) const override {
    while (length > 0) {
      ssize_t got = ::pread(m_fd, out, length, static_cast<off_t>(offset));
      if (got < 0 && errno == EINTR) {
        continue;
      }
      if (got == 0) {
        errno = EIO; // the file shrank under us
        return false;
      }
      if (got < 0) {
        return false;
      }
      out += got;
      offset += static_cast<std::uint64_t>(got);
      length -= static_cast<std::size_t>(got);
    }
    return true;
  }

private:
  int m_fd;
  std::uint64_t m_size;
};

// Reads the version sections of one ELF file: what it defines (SHT_GNU_verdef) or what it needs
// from the libraries it links (SHT_GNU_verneed).
class VersionSectionReader {
public:
  VersionSectionReader(const ByteSource& source, std::string_view name)
      : m_source(source), m_name(name) {}

  Result<std::vector<std::string>> read() {
    KGET_TRY_ASSIGN(Elf64_Ehdr header, read_header());
    KGET_TRY_ASSIGN(std::vector<Elf64_Shdr> sections, read_section_headers(header));
    for (const auto& section : sections) {
      if (section.sh_type == SHT_GNU_verdef) {
        return read_definitions(section, sections);
      }
    }
    return std::vector<std::string>{};
  }

  Result<std::vector<std::string>> read_needs() {
    KGET_TRY_ASSIGN(Elf64_Ehdr header, read_header());
    KGET_TRY_ASSIGN(std::vector<Elf64_Shdr> sections, read_section_headers(header));
    for (const auto& section : sections) {
      if (section.sh_type == SHT_GNU_verneed) {
        return read_need_entries(section, sections);
      }
    }
    return std::vector<std::string>{};
  }

  Result<std::vector<VersionedSymbol>> read_symbols() {
    KGET_TRY_ASSIGN(Elf64_Ehdr header, read_header());
    KGET_TRY_ASSIGN(std::vector<Elf64_Shdr> sections, read_section_headers(header));
    const Elf64_Shdr* dynsym = nullptr;
    const Elf64_Shdr* versym = nullptr;
    std::map<unsigned, std::string> indices;
    for (const auto& section : sections) {
      if (section.sh_type == SHT_DYNSYM) {
        dynsym = &section;
      } else if (section.sh_type == SHT_GNU_versym) {
        versym = &section;
      } else if (section.sh_type == SHT_GNU_verdef) {
        KGET_TRY(read_definitions(section, sections, &indices));
      } else if (section.sh_type == SHT_GNU_verneed) {
        KGET_TRY(read_need_entries(section, sections, &indices));
      }
    }
    if (dynsym == nullptr) {
      return std::vector<VersionedSymbol>{};
    }
    if (dynsym->sh_entsize != sizeof(Elf64_Sym)) {
      return corrupt(fmt::format("dynamic symbol entries of {} bytes, expected {}",
                                 dynsym->sh_entsize, sizeof(Elf64_Sym)));
    }
    if (dynsym->sh_link >= sections.size() || sections[dynsym->sh_link].sh_type != SHT_STRTAB) {
      return corrupt(
          fmt::format("dynamic symbols link to section {}, not a string table", dynsym->sh_link));
    }
    const Elf64_Shdr& strtab = sections[dynsym->sh_link];
    KGET_TRY_ASSIGN(std::string table,
                    read_bytes(dynsym->sh_offset, dynsym->sh_size, "dynamic symbol table"));
    KGET_TRY_ASSIGN(std::string strings,
                    read_bytes(strtab.sh_offset, strtab.sh_size, "dynamic string table"));
    std::string versions;
    if (versym != nullptr) {
      KGET_TRY_ASSIGN(versions,
                      read_bytes(versym->sh_offset, versym->sh_size, "symbol version table"));
    }
    std::size_t count = table.size() / sizeof(Elf64_Sym);
    std::vector<VersionedSymbol> symbols;
    for (std::size_t i = 1; i < count; ++i) {
      Elf64_Sym entry;
      std::memcpy(&entry, table.data() + i * sizeof(Elf64_Sym), sizeof entry);
      VersionedSymbol symbol;
      KGET_TRY_ASSIGN(symbol.name, string_in(strings, entry.st_name));
      symbol.defined = entry.st_shndx != SHN_UNDEF;
      symbol.value = entry.st_value;
      auto type = ELF64_ST_TYPE(entry.st_info);
      symbol.is_function = type == STT_FUNC || type == STT_GNU_IFUNC;
      if ((i + 1) * sizeof(Elf64_Half) <= versions.size()) {
        Elf64_Half index;
        std::memcpy(&index, versions.data() + i * sizeof index, sizeof index);
        symbol.is_default = (index & 0x8000u) == 0;
        // 0 and 1 are the local and global (unversioned) indices.
        if (auto found = indices.find(index & 0x7fffu); (index & 0x7fffu) > 1) {
          if (found == indices.end()) {
            return corrupt(fmt::format("symbol {} has version index {}, which no version "
                                       "section defines",
                                       symbol.name, index & 0x7fffu));
          }
          symbol.version = found->second;
        }
      }
      symbols.push_back(std::move(symbol));
    }
    return symbols;
  }

private:
  std::unexpected<Failure> corrupt(std::string_view what) const {
    return fail(ErrorKind::abi, "{}: truncated or corrupt ELF file: {}", m_name, what);
  }

  // The range lies inside the file and is of a plausible size.
  Result<void> check_range(std::uint64_t offset, std::uint64_t length,
                           std::string_view what) const {
    std::uint64_t end = 0;
    if (__builtin_add_overflow(offset, length, &end) || end > m_source.size()) {
      return fail(ErrorKind::abi,
                  "{}: truncated or corrupt ELF file: {} at offset {} ({} bytes) lies outside "
                  "the file ({} bytes)",
                  m_name, what, offset, length, m_source.size());
    }
    if (length > k_max_section_size) {
      return corrupt(fmt::format("{} claims {} bytes", what, length));
    }
    return {};
  }

  Result<void> read_into(std::uint64_t offset, std::uint64_t length, void* out,
                         std::string_view what) const {
    KGET_TRY(check_range(offset, length, what));
    if (!m_source.read(offset, static_cast<std::size_t>(length), static_cast<char*>(out))) {
      return fail(ErrorKind::io, "{}: cannot read {} bytes at offset {}: {}", m_name, length,
                  offset, std::strerror(errno));
    }
    return {};
  }

  Result<std::string> read_bytes(std::uint64_t offset, std::uint64_t length,
                                 std::string_view what) const {
    KGET_TRY(check_range(offset, length, what));
    std::string bytes(static_cast<std::size_t>(length), '\0');
    KGET_TRY(read_into(offset, length, bytes.data(), what));
    return bytes;
  }

  template <class T>
  Result<T> read_object(std::uint64_t offset, std::string_view what) const {
    T object{};
    KGET_TRY(read_into(offset, sizeof(T), &object, what));
    return object;
  }

  Result<Elf64_Ehdr> read_header() const {
    if (m_source.size() < EI_NIDENT) {
      return fail(ErrorKind::abi, "{}: not an ELF file ({} bytes, too short)", m_name,
                  m_source.size());
    }
    KGET_TRY_ASSIGN(std::string ident, read_bytes(0, EI_NIDENT, "ELF identification"));
    if (std::memcmp(ident.data(), ELFMAG, SELFMAG) != 0) {
      return fail(ErrorKind::abi, "{}: not an ELF file (no ELF magic number)", m_name);
    }
    auto elf_class = static_cast<unsigned char>(ident[EI_CLASS]);
    if (elf_class == ELFCLASS32) {
      return fail(ErrorKind::abi, "{}: 32-bit ELF (ELFCLASS32) is not supported, only ELFCLASS64",
                  m_name);
    }
    if (elf_class != ELFCLASS64) {
      return fail(ErrorKind::abi, "{}: unknown ELF class {}", m_name, elf_class);
    }
    auto native = std::endian::native == std::endian::little ? ELFDATA2LSB : ELFDATA2MSB;
    if (static_cast<unsigned char>(ident[EI_DATA]) != native) {
      return fail(ErrorKind::abi, "{}: ELF byte order {} differs from this machine's", m_name,
                  static_cast<unsigned char>(ident[EI_DATA]));
    }
    return read_object<Elf64_Ehdr>(0, "ELF header");
  }

  Result<std::vector<Elf64_Shdr>> read_section_headers(const Elf64_Ehdr& header) const {
    if (header.e_shoff == 0) {
      return std::vector<Elf64_Shdr>{}; // no section table: nothing to read versions from
    }
    if (header.e_shentsize < sizeof(Elf64_Shdr)) {
      return corrupt(fmt::format("section header size {} is smaller than {}", header.e_shentsize,
                                 sizeof(Elf64_Shdr)));
    }
    std::uint64_t count = header.e_shnum;
    if (count == 0) {
      // More than SHN_LORESERVE sections: the real count is in section 0's sh_size.
      KGET_TRY_ASSIGN(auto first, read_object<Elf64_Shdr>(header.e_shoff, "section header 0"));
      count = first.sh_size;
    }
    std::uint64_t table_size = 0;
    if (__builtin_mul_overflow(count, std::uint64_t{header.e_shentsize}, &table_size)) {
      return corrupt(fmt::format("{} section headers overflow", count));
    }
    KGET_TRY_ASSIGN(std::string table, read_bytes(header.e_shoff, table_size, "section headers"));
    std::vector<Elf64_Shdr> sections(static_cast<std::size_t>(count));
    for (std::size_t i = 0; i < sections.size(); ++i) {
      std::memcpy(&sections[i], table.data() + i * header.e_shentsize, sizeof(Elf64_Shdr));
    }
    return sections;
  }

  // `indices`, when given, receives each version's index (what SHT_GNU_versym entries hold).
  Result<std::vector<std::string>>
  read_definitions(const Elf64_Shdr& verdef, const std::vector<Elf64_Shdr>& sections,
                   std::map<unsigned, std::string>* indices = nullptr) const {
    if (verdef.sh_link >= sections.size() || sections[verdef.sh_link].sh_type != SHT_STRTAB) {
      return corrupt(fmt::format("version definitions link to section {}, not a string table",
                                 verdef.sh_link));
    }
    const Elf64_Shdr& strtab = sections[verdef.sh_link];
    KGET_TRY_ASSIGN(std::string table,
                    read_bytes(verdef.sh_offset, verdef.sh_size, "version definition section"));
    KGET_TRY_ASSIGN(std::string strings,
                    read_bytes(strtab.sh_offset, strtab.sh_size, "version string table"));

    std::vector<std::string> names;
    std::uint64_t offset = 0;
    while (true) {
      KGET_TRY_ASSIGN(auto definition,
                      object_in<Elf64_Verdef>(table, offset, "version definition"));
      if (definition.vd_version != VER_DEF_CURRENT) {
        return corrupt(fmt::format("version definition revision {} at offset {}",
                                   definition.vd_version, offset));
      }
      if (definition.vd_cnt == 0) {
        return corrupt(fmt::format("version definition at offset {} has no name", offset));
      }
      // The first auxiliary entry names the version; any further ones name its parents.
      std::uint64_t aux_offset = offset + definition.vd_aux; // both < 2^33: no overflow
      KGET_TRY_ASSIGN(auto aux, object_in<Elf64_Verdaux>(table, aux_offset, "version name entry"));
      KGET_TRY_ASSIGN(std::string name, string_in(strings, aux.vda_name));
      if (indices != nullptr) {
        (*indices)[definition.vd_ndx & 0x7fffu] = name;
      }
      if ((definition.vd_flags & VER_FLG_BASE) == 0) {
        names.push_back(std::move(name));
      }
      if (definition.vd_next == 0) {
        return names;
      }
      offset += definition.vd_next; // strictly increasing, so the walk ends at the bounds check
    }
  }

  Result<std::vector<std::string>>
  read_need_entries(const Elf64_Shdr& verneed, const std::vector<Elf64_Shdr>& sections,
                    std::map<unsigned, std::string>* indices = nullptr) const {
    if (verneed.sh_link >= sections.size() || sections[verneed.sh_link].sh_type != SHT_STRTAB) {
      return corrupt(
          fmt::format("version needs link to section {}, not a string table", verneed.sh_link));
    }
    const Elf64_Shdr& strtab = sections[verneed.sh_link];
    KGET_TRY_ASSIGN(std::string table,
                    read_bytes(verneed.sh_offset, verneed.sh_size, "version need section"));
    KGET_TRY_ASSIGN(std::string strings,
                    read_bytes(strtab.sh_offset, strtab.sh_size, "version string table"));

    std::vector<std::string> names;
    std::uint64_t offset = 0;
    while (true) {
      KGET_TRY_ASSIGN(auto need, object_in<Elf64_Verneed>(table, offset, "version need"));
      if (need.vn_version != VER_NEED_CURRENT) {
        return corrupt(
            fmt::format("version need revision {} at offset {}", need.vn_version, offset));
      }
      // One entry per library (vn_file), with one auxiliary entry per version needed from it.
      std::uint64_t aux_offset = offset + need.vn_aux; // both < 2^33: no overflow
      for (unsigned i = 0; i < need.vn_cnt; ++i) {
        KGET_TRY_ASSIGN(auto aux,
                        object_in<Elf64_Vernaux>(table, aux_offset, "version need entry"));
        KGET_TRY_ASSIGN(std::string name, string_in(strings, aux.vna_name));
        if (indices != nullptr) {
          (*indices)[aux.vna_other & 0x7fffu] = name;
        }
        if (std::find(names.begin(), names.end(), name) == names.end()) {
          names.push_back(std::move(name));
        }
        if (aux.vna_next == 0) {
          break;
        }
        // At least one entry further on, so that a lying chain ends within the section quickly.
        if (aux.vna_next < sizeof(Elf64_Vernaux)) {
          return corrupt(fmt::format("version need entry at offset {} links {} bytes on",
                                     aux_offset, aux.vna_next));
        }
        aux_offset += aux.vna_next;
      }
      if (need.vn_next == 0) {
        return names;
      }
      if (need.vn_next < sizeof(Elf64_Verneed)) {
        return corrupt(
            fmt::format("version need at offset {} links {} bytes on", offset, need.vn_next));
      }
      offset += need.vn_next;
    }
  }

  template <class T>
  Result<T> object_in(const std::string& table, std::uint64_t offset, std::string_view what) const {
    if (offset > table.size() || table.size() - offset < sizeof(T)) {
      return corrupt(fmt::format("{} at offset {} lies outside its section ({} bytes)", what,
                                 offset, table.size()));
    }
    T object;
    std::memcpy(&object, table.data() + offset, sizeof(T));
    return object;
  }

  Result<std::string> string_in(const std::string& strings, std::uint64_t offset) const {
    if (offset >= strings.size()) {
      return corrupt(fmt::format("version name at offset {} lies outside the string table ({} "
                                 "bytes)",
                                 offset, strings.size()));
    }
    auto end = strings.find('\0', static_cast<std::size_t>(offset));
    if (end == std::string::npos) {
      return corrupt(fmt::format("version name at offset {} is not terminated", offset));
    }
    return strings.substr(static_cast<std::size_t>(offset), end - static_cast<std::size_t>(offset));
  }

  const ByteSource& m_source;
  std::string_view m_name;
};

// Opens `path`, checks that it is a regular file, and runs `read` of a reader over it.
template <class T>
Result<T> read_from_file(const std::string& path, Result<T> (VersionSectionReader::*read)()) {
  util::FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    return fail(ErrorKind::io, "{}: cannot open: {}", path, std::strerror(errno));
  }
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) {
    return fail(ErrorKind::io, "{}: cannot stat: {}", path, std::strerror(errno));
  }
  if (!S_ISREG(info.st_mode)) {
    return fail(ErrorKind::io, "{}: not a regular file", path);
  }
  FileSource source(fd.get(), static_cast<std::uint64_t>(info.st_size));
  VersionSectionReader reader(source, path);
  return (reader.*read)();
}

} // namespace

Result<std::vector<std::string>> read_version_definitions(const std::string& path) {
  return read_from_file(path, &VersionSectionReader::read);
}

Result<std::vector<std::string>> parse_version_definitions(std::string_view image,
                                                           std::string_view name) {
  MemorySource source(image);
  return VersionSectionReader(source, name).read();
}

Result<std::vector<std::string>> read_version_needs(const std::string& path) {
  return read_from_file(path, &VersionSectionReader::read_needs);
}

Result<std::vector<std::string>> parse_version_needs(std::string_view image,
                                                     std::string_view name) {
  MemorySource source(image);
  return VersionSectionReader(source, name).read_needs();
}

Result<std::vector<VersionedSymbol>> read_versioned_symbols(const std::string& path) {
  return read_from_file(path, &VersionSectionReader::read_symbols);
}

Result<std::vector<VersionedSymbol>> parse_versioned_symbols(std::string_view image,
                                                             std::string_view name) {
  MemorySource source(image);
  return VersionSectionReader(source, name).read_symbols();
}

} // namespace kget::host
