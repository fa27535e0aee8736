// What `kget build` and `kget check` read from a built kernel library: its dynamic section
// (NEEDED, RPATH, RUNPATH), the symbols it exports, and the CUDA targets inside its fatbin. Read
// from the file itself, bounds-checked, never through the dynamic loader. Symbol versions come
// from host/elf_versions.hpp.
#pragma once

#include "metadata/metadata.hpp"
#include "util/result.hpp"

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace kget::build {

struct ElfDynamicInfo {
  std::vector<std::string> needed;   // DT_NEEDED, in file order
  std::vector<std::string> rpath;    // DT_RPATH entries (split at ':')
  std::vector<std::string> runpath;  // DT_RUNPATH entries (split at ':')
  std::vector<std::string> exported; // defined dynamic symbols of default/protected visibility
  bool has_fatbin = false;           // a .nv_fatbin section is present
};

// Errors: io when unreadable, abi when not a well-formed 64-bit little-endian ELF file.
Result<ElfDynamicInfo> read_dynamic_info(const std::filesystem::path& path);
Result<ElfDynamicInfo> parse_dynamic_info(std::string_view image, std::string_view name);

// SASS and PTX targets of every fatbin entry in the file's .nv_fatbin section, sorted and
// without duplicates (one library holds one fatbin per CUDA translation unit). No section gives
// empty lists. The format (docs/build.md, "Fatbin targets"): fatbins of a 16-byte header (magic
// 0xBA55ED50, u16 version, u16 header size, u64 payload size), then entries (u16 kind 1 = PTX,
// 2 = ELF, u16 version, u32 header size, u64 payload size, ..., u32 arch at +28, u32 flags at
// +40 with 0x100000 = "a" and 0x200000 = "f" targets).
struct FatbinTargets {
  std::vector<metadata::CudaTarget> sass;
  std::vector<metadata::CudaTarget> ptx;
};
Result<FatbinTargets> read_fatbin_targets(const std::filesystem::path& path);
Result<FatbinTargets> parse_fatbin_targets(std::string_view image, std::string_view name);
// The targets of a .nv_fatbin section's bytes alone.
Result<FatbinTargets> parse_fatbin_section(std::string_view section, std::string_view name);

} // namespace kget::build
