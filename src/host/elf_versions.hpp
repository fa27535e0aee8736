// The symbol versions a shared library defines (its SHT_GNU_verdef section) and needs (its
// SHT_GNU_verneed section), read from the ELF file itself rather than through the dynamic loader,
// so that any library on disk can be inspected and a damaged file is reported instead of loaded.
// Used for the host's libc/libstdc++, and by the builder, `kget check` and the loader for kernel
// libraries.
#pragma once

#include "util/result.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kget::host {

// The version names defined by the ELF shared object at `path`, e.g. "GLIBC_2.17", in the order
// the file lists them, without the base definition (the library's own soname). A library without
// a version-definition section gives an empty list. Only 64-bit little-endian ELF is supported.
// Errors: ErrorKind::io when the file cannot be read, ErrorKind::abi when it is not a well-formed
// ELF file (every offset and size is checked against the file, so garbage gives an error).
Result<std::vector<std::string>> read_version_definitions(const std::string& path);

// The same over an image of the whole file already in memory (for fuzzing and tests); `name`
// only appears in error messages.
Result<std::vector<std::string>> parse_version_definitions(std::string_view image,
                                                           std::string_view name);

// The version names the ELF file at `path` needs from the libraries it links (its
// SHT_GNU_verneed section), e.g. "GLIBC_2.14", "GLIBCXX_3.4.21", in the order the file lists them
// and without duplicates (a version needed from two libraries appears once). A file without a
// version-need section gives an empty list. Errors as for read_version_definitions. The loader
// compares them with what the host provides before it dlopens a kernel.
Result<std::vector<std::string>> read_version_needs(const std::string& path);

// The same over an image of the whole file already in memory.
Result<std::vector<std::string>> parse_version_needs(std::string_view image, std::string_view name);

// One entry of a library's dynamic symbol table with its symbol version.
struct VersionedSymbol {
  std::string name;
  std::string version;      // "GLIBC_2.34"; empty for an unversioned symbol
  bool defined = false;     // defined here (false: needed from another library)
  bool is_default = true;   // false for a definition only older links reach (name@VERSION)
  bool is_function = false; // STT_FUNC or STT_GNU_IFUNC
  std::uint64_t value = 0;  // the address of a definition; two versions of one code share it
};

// The dynamic symbols of the ELF file at `path` (SHT_DYNSYM, SHT_GNU_versym and the version
// sections), in table order without the null entry. A file without a dynamic symbol table gives
// an empty list. Errors as for read_version_definitions. The builder uses it to find symbols that
// a newer libc versions anew although an older version of the same code is within policy.
Result<std::vector<VersionedSymbol>> read_versioned_symbols(const std::string& path);
Result<std::vector<VersionedSymbol>> parse_versioned_symbols(std::string_view image,
                                                             std::string_view name);

} // namespace kget::host
