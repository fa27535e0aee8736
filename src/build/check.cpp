#include "build/check.hpp"

#include "build/elf_inspect.hpp"
#include "digest/digest.hpp"
#include "host/elf_versions.hpp"
#include "host/host.hpp"
#include "loader/loader.hpp"
#include "metadata/variant_name.hpp"
#include "publish/publish.hpp"
#include "settings/environment.hpp"
#include "util/fs.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <set>
#include <variant>

namespace kget::build {

namespace fs = std::filesystem;

namespace {

struct PolicyLimit {
  std::string_view family;
  std::vector<int> highest;
};
const std::array<PolicyLimit, 3> k_policy = {{
    {"GLIBC", {2, 28}},
    {"GLIBCXX", {3, 4, 24}},
    {"CXXABI", {1, 3, 11}},
}};

// What a kernel library may export besides kget_kernel_init: linker-defined markers.
const std::set<std::string> k_allowed_exports = {"kget_kernel_init", "_init", "_fini",
                                                 "_edata",           "_end",  "__bss_start"};

// Libraries of the CUDA toolkit (not the driver): kernels link their static forms or nothing.
const std::array<std::string_view, 17> k_toolkit_libraries = {
    "libcudart",   "libcublas", "libcublasLt",  "libcufft",  "libcurand", "libcusparse",
    "libcusolver", "libnvrtc",  "libnvJitLink", "libcudnn",  "libnccl",   "libnvToolsExt",
    "libnpp",      "libnvjpeg", "libcupti",     "libcufile", "libnvblas"};

bool is_toolkit_library(std::string_view needed) {
  return std::any_of(k_toolkit_libraries.begin(), k_toolkit_libraries.end(),
                     [&](std::string_view prefix) {
                       return needed.starts_with(prefix) &&
                              (needed.size() == prefix.size() || needed[prefix.size()] == '.' ||
                               needed[prefix.size()] == '_');
                     });
}

// Which symbols of `library` need `version`, for a message: "arc4random, getrandom".
std::string symbols_needing(const fs::path& library, const std::string& version) {
  constexpr size_t k_shown = 8;
  auto symbols = host::read_versioned_symbols(library.string());
  std::vector<std::string> names;
  size_t count = 0;
  for (const auto& symbol : symbols ? *symbols : std::vector<host::VersionedSymbol>{}) {
    if (!symbol.defined && symbol.version == version && count++ < k_shown) {
      names.push_back(symbol.name);
    }
  }
  if (names.empty()) {
    return "symbols not listed";
  }
  std::sort(names.begin(), names.end());
  return util::join(names, ", ") +
         (count > k_shown ? fmt::format(" and {} more", count - k_shown) : std::string{});
}

std::string quoted_list(const std::vector<std::string>& items) {
  if (items.empty()) {
    return "none";
  }
  std::vector<std::string> quoted;
  for (const auto& item : items) {
    quoted.push_back(fmt::format("\"{}\"", item));
  }
  return "[" + util::join(quoted, ", ") + "]";
}

std::vector<std::string> target_names(const std::vector<metadata::CudaTarget>& targets) {
  std::vector<std::string> names;
  for (const auto& target : targets) {
    names.push_back(metadata::to_string(target));
  }
  std::sort(names.begin(), names.end());
  return names;
}

class Checker {
public:
  Checker(fs::path directory, const CheckOptions& options)
      : m_directory(std::move(directory)), m_options(options) {}

  CheckReport run() {
    m_report.variant = variant_directory_name();
    auto name = check_name();
    if (!read_metadata()) {
      return std::move(m_report);
    }
    const auto& meta = *m_report.metadata;
    if (name) {
      if (auto contradiction = metadata::name_contradiction(*name, meta)) {
        add("name", ErrorKind::invalid_metadata,
            fmt::format("metadata.json contradicts the variant name {}: {}", m_report.variant,
                        *contradiction));
      }
    }
    check_digests(meta);
    fs::path library = m_directory / fs::path(meta.kget.library).lexically_normal();
    auto dynamic = read_dynamic_info(library);
    if (!dynamic) {
      add("library", dynamic.error().kind, dynamic.error().message);
      return std::move(m_report);
    }
    check_exports(*dynamic);
    check_needed(*dynamic, meta);
    check_rpaths(*dynamic);
    bool versions_ok = check_symbol_versions(library, meta);
    check_cuda_targets(library, *dynamic, meta);
    if (m_options.load && versions_ok && m_report.clean()) {
      check_by_loading(meta);
    }
    return std::move(m_report);
  }

private:
  void add(std::string rule, ErrorKind kind, std::string message) {
    m_report.violations.push_back({std::move(rule), kind, std::move(message)});
  }

  std::string variant_directory_name() const {
    fs::path absolute = fs::absolute(m_directory).lexically_normal();
    if (!absolute.has_filename()) {
      absolute = absolute.parent_path();
    }
    return absolute.filename().string();
  }

  std::optional<metadata::KgetVariantName> check_name() {
    auto parsed = metadata::parse_variant_name(m_report.variant);
    if (auto* name = std::get_if<metadata::KgetVariantName>(&parsed)) {
      return *name;
    }
    std::string reason = std::holds_alternative<metadata::ForeignVariantName>(parsed)
                             ? std::get<metadata::ForeignVariantName>(parsed).reason
                             : std::get<metadata::UnrecognisedVariantName>(parsed).reason;
    add("name", ErrorKind::usage,
        fmt::format("expected a directory named kget<ABI>-<backend>-<cpu>-<os> such as "
                    "kget1-cpu-x86_64-linux, found \"{}\": {}",
                    m_report.variant, reason));
    return std::nullopt;
  }

  bool read_metadata() {
    auto text = util::read_file(m_directory / "metadata.json");
    if (!text) {
      add("metadata", ErrorKind::invalid_metadata,
          fmt::format("expected {}, found none: {}", (m_directory / "metadata.json").string(),
                      text.error().message));
      return false;
    }
    auto parsed = metadata::parse_metadata(*text);
    if (!parsed) {
      add("metadata", parsed.error().kind, parsed.error().message);
      return false;
    }
    m_report.metadata = std::move(*parsed);
    return true;
  }

  void check_digests(const metadata::VariantMetadata& meta) {
    auto files = publish::list_variant_files(m_directory);
    if (!files) {
      add("digest", files.error().kind, files.error().message);
      return;
    }
    std::set<std::string> present;
    auto algorithm =
        meta.digest_algorithm == "sha512" ? digest::Algorithm::sha512 : digest::Algorithm::sha256;
    for (const auto& file : *files) {
      if (file.relative == "metadata.json") {
        continue;
      }
      present.insert(file.relative);
      auto listed = meta.digest_files.find(file.relative);
      if (listed == meta.digest_files.end()) {
        add("digest", ErrorKind::integrity,
            fmt::format("{} is not listed in metadata.json's digest.files; every file of a variant "
                        "is listed with its digest",
                        file.relative));
        continue;
      }
      auto hex = digest::hash_file_hex(file.source, algorithm);
      if (!hex) {
        add("digest", hex.error().kind, hex.error().message);
        continue;
      }
      std::string found = digest::hex_to_base64(*hex);
      if (found != listed->second) {
        add("digest", ErrorKind::integrity,
            fmt::format("{}: expected {} {} (metadata.json), found {}", file.relative,
                        meta.digest_algorithm, listed->second, found));
      }
    }
    for (const auto& [relative, listed] : meta.digest_files) {
      if (!present.contains(relative)) {
        add("digest", ErrorKind::integrity,
            fmt::format("{}: listed in metadata.json's digest.files, but there is no such file",
                        relative));
      }
    }
  }

  void check_exports(const ElfDynamicInfo& dynamic) {
    bool has_init = std::find(dynamic.exported.begin(), dynamic.exported.end(),
                              "kget_kernel_init") != dynamic.exported.end();
    if (!has_init) {
      add("exports", ErrorKind::abi,
          "expected the library to export kget_kernel_init (include/kget/kernel_abi.h), found it "
          "missing");
    }
    std::vector<std::string> extra;
    for (const auto& symbol : dynamic.exported) {
      if (!k_allowed_exports.contains(symbol)) {
        extra.push_back(symbol);
      }
    }
    if (!extra.empty()) {
      constexpr size_t k_shown = 20;
      std::vector<std::string> shown(
          extra.begin(), extra.begin() + static_cast<long>(std::min(extra.size(), k_shown)));
      add("exports", ErrorKind::abi,
          fmt::format("expected kget_kernel_init to be the only exported symbol, found {} more: "
                      "{}{}; link with a version script that keeps everything else local "
                      "(kernels/common/exports.map) and build with -fvisibility=hidden",
                      extra.size(), util::join(shown, ", "),
                      extra.size() > k_shown ? ", ..." : ""));
    }
  }

  void check_needed(const ElfDynamicInfo& dynamic, const metadata::VariantMetadata& meta) {
    for (const auto& needed : dynamic.needed) {
      if (is_toolkit_library(needed)) {
        add("needed", ErrorKind::abi,
            fmt::format("expected no CUDA toolkit library at run time (link the static forms, "
                        "e.g. libcudart_static.a), found NEEDED {}",
                        needed));
      } else if (needed.starts_with("libcuda.so") && meta.backend_type != "cuda") {
        add("needed", ErrorKind::abi,
            fmt::format("expected a CPU variant to run without the NVIDIA driver, found NEEDED {}",
                        needed));
      }
    }
  }

  void check_rpaths(const ElfDynamicInfo& dynamic) {
    for (const auto* list : {&dynamic.rpath, &dynamic.runpath}) {
      for (const auto& entry : *list) {
        if (entry.starts_with("/")) {
          add("rpath", ErrorKind::abi,
              fmt::format("expected no absolute {} (only $ORIGIN-relative entries), found \"{}\"",
                          list == &dynamic.rpath ? "RPATH" : "RUNPATH", entry));
        }
      }
    }
  }

  // Returns whether the library's versions are within policy (and so loadable for comparison).
  bool check_symbol_versions(const fs::path& library, const metadata::VariantMetadata& meta) {
    auto needed = required_symbol_versions(library);
    if (!needed) {
      add("symbol-versions", needed.error().kind, needed.error().message);
      return false;
    }
    bool within_policy = true;
    for (const auto& version : *needed) {
      if (auto limit = policy_limit_exceeded(version)) {
        within_policy = false;
        add("policy", ErrorKind::abi,
            fmt::format("expected symbol versions within manylinux_2_28 (at most {}), found {} "
                        "needed by {} for {}",
                        *limit, version, meta.kget.library, symbols_needing(library, version)));
      }
    }
    std::vector<std::string> declared = meta.kget.symbol_versions;
    std::sort(declared.begin(), declared.end());
    declared.erase(std::unique(declared.begin(), declared.end()), declared.end());
    if (declared != *needed) {
      add("symbol-versions", ErrorKind::abi,
          fmt::format("metadata.json's $.kget.requires.symbol_versions must be what the library "
                      "needs: expected {}, found {}",
                      quoted_list(*needed), quoted_list(declared)));
    }
    return within_policy;
  }

  void check_cuda_targets(const fs::path& library, const ElfDynamicInfo& dynamic,
                          const metadata::VariantMetadata& meta) {
    if (!meta.kget.cuda) {
      if (dynamic.has_fatbin) {
        add("cuda-targets", ErrorKind::abi,
            "expected no device code in a CPU variant, found a .nv_fatbin section");
      }
      return;
    }
    auto targets = read_fatbin_targets(library);
    if (!targets) {
      add("cuda-targets", targets.error().kind, targets.error().message);
      return;
    }
    auto compare = [&](const char* what, const std::vector<metadata::CudaTarget>& found,
                       const std::vector<metadata::CudaTarget>& declared) {
      auto found_names = target_names(found);
      auto declared_names = target_names(declared);
      if (found_names != declared_names) {
        add("cuda-targets", ErrorKind::abi,
            fmt::format("$.kget.cuda.{} must list the fatbin's targets: expected {}, found {}",
                        what, quoted_list(found_names), quoted_list(declared_names)));
      }
    };
    compare("sass", targets->sass, meta.kget.cuda->sass);
    compare("ptx", targets->ptx, meta.kget.cuda->ptx);
  }

  void check_by_loading(const metadata::VariantMetadata& meta) {
    auto host = host::detect(settings::Environment::process());
    if (!host) {
      add("load", host.error().kind, host.error().message);
      return;
    }
    loader::LoadRequest request{m_directory, m_report.variant, meta};
    auto loaded = loader::load(request, *host);
    if (!loaded) {
      add("load", loaded.error().kind, loaded.error().message);
      return;
    }
    m_report.loaded = true;
  }

  fs::path m_directory;
  CheckOptions m_options;
  CheckReport m_report;
};

} // namespace

std::optional<std::string> policy_limit_exceeded(const std::string& version) {
  auto parsed = metadata::parse_symbol_version(version);
  if (!parsed) {
    return std::nullopt;
  }
  for (const auto& limit : k_policy) {
    if (parsed->family == limit.family && parsed->version > limit.highest) {
      return fmt::format("{}_{}", limit.family, util::format_dotted(limit.highest));
    }
  }
  return std::nullopt;
}

Result<std::vector<std::string>> required_symbol_versions(const fs::path& path) {
  KGET_TRY_ASSIGN(auto needs, host::read_version_needs(path.string()));
  std::vector<std::string> versions;
  for (auto& version : needs) {
    if (metadata::parse_symbol_version(version)) {
      versions.push_back(std::move(version));
    }
  }
  std::sort(versions.begin(), versions.end());
  versions.erase(std::unique(versions.begin(), versions.end()), versions.end());
  return versions;
}

Result<CheckReport> check_variant_directory(const fs::path& directory,
                                            const CheckOptions& options) {
  std::error_code error;
  if (!fs::is_directory(directory, error)) {
    return fail(ErrorKind::not_found,
                "{} is not a directory; expected a variant directory build/<variant>/ holding "
                "metadata.json",
                directory.string());
  }
  return Checker(directory, options).run();
}

} // namespace kget::build
