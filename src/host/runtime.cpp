#include "host/runtime.hpp"

#include "host/elf_versions.hpp"
#include "util/strings.hpp"

#include <algorithm>
#include <gnu/libc-version.h>
#include <link.h>

namespace kget::host {

namespace {

struct LoadedPaths {
  std::string libc;
  std::string libstdcxx;
};

std::string_view basename_of(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// The loader's list, not a search of the library path: what matters is the copy this process
// runs with, which may differ from the system's (containers, conda, LD_LIBRARY_PATH).
LoadedPaths find_loaded_runtime_libraries() {
  LoadedPaths paths;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* data) {
        auto* found = static_cast<LoadedPaths*>(data);
        std::string_view name = info->dlpi_name != nullptr ? info->dlpi_name : "";
        std::string_view base = basename_of(name);
        if (base == "libc.so.6" && found->libc.empty()) {
          found->libc = name;
        } else if (base == "libstdc++.so.6" && found->libstdcxx.empty()) {
          found->libstdcxx = name;
        }
        return 0;
      },
      &paths);
  return paths;
}

// Version definitions of one library, or none when it cannot be read: detection never fails.
std::vector<std::string> definitions_or_empty(const std::string& path) {
  if (path.empty()) {
    return {};
  }
  auto definitions = read_version_definitions(path);
  return definitions ? std::move(*definitions) : std::vector<std::string>{};
}

RuntimeAbi make_runtime_abi() {
  RuntimeAbi runtime;
  runtime.glibc_version = gnu_get_libc_version();
  LoadedPaths paths = find_loaded_runtime_libraries();
  runtime.libc_path = paths.libc;
  runtime.libstdcxx_path = paths.libstdcxx;

  std::vector<std::string> libc_versions = definitions_or_empty(paths.libc);
  std::vector<std::string> libstdcxx_versions = definitions_or_empty(paths.libstdcxx);
  runtime.glibc.highest = highest_in_family(libc_versions, runtime.glibc.prefix);
  runtime.glibcxx.highest = highest_in_family(libstdcxx_versions, runtime.glibcxx.prefix);
  runtime.cxxabi.highest = highest_in_family(libstdcxx_versions, runtime.cxxabi.prefix);
  runtime.source = "ELF version definitions";
  if (runtime.glibc.highest.empty()) {
    // A static or unusual libc we could not read: its own answer is the best left.
    if (auto version = util::parse_dotted(runtime.glibc_version)) {
      runtime.glibc.highest = *version;
      runtime.source = "gnu_get_libc_version";
    }
  }

  runtime.provided_versions = std::move(libc_versions);
  runtime.provided_versions.insert(runtime.provided_versions.end(), libstdcxx_versions.begin(),
                                   libstdcxx_versions.end());
  std::sort(runtime.provided_versions.begin(), runtime.provided_versions.end());
  runtime.provided_versions.erase(
      std::unique(runtime.provided_versions.begin(), runtime.provided_versions.end()),
      runtime.provided_versions.end());
  return runtime;
}

} // namespace

const RuntimeAbi& detect_runtime() {
  static const RuntimeAbi runtime = make_runtime_abi();
  return runtime;
}

std::vector<int> highest_in_family(const std::vector<std::string>& versions,
                                   std::string_view prefix) {
  std::string lead = std::string(prefix) + "_";
  std::vector<int> highest;
  for (const auto& name : versions) {
    if (!util::starts_with(name, lead)) {
      continue;
    }
    auto version = util::parse_dotted(std::string_view(name).substr(lead.size()));
    if (version && !version->empty() && *version > highest) {
      highest = std::move(*version);
    }
  }
  return highest;
}

} // namespace kget::host
