#include "lock/lock.hpp"

#include "util/fs.hpp"

#include <sstream>
#include <toml++/toml.h>

namespace kget::lock {

namespace {

constexpr int format_version = 1;

bool is_commit(std::string_view text) {
  return text.size() == 40 && text.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

std::string where(const std::filesystem::path& path, const toml::node& node) {
  return fmt::format("{}:{}", path.string(), node.source().begin.line);
}

Result<std::string> string_at(const std::filesystem::path& path, const toml::table& table,
                              std::string_view key, std::string_view context) {
  const toml::node* node = table.get(key);
  if (node == nullptr || !node->is_string()) {
    return fail(ErrorKind::invalid_metadata, "{}: {} has no string \"{}\"",
                node ? where(path, *node) : path.string(), context, key);
  }
  return std::string(**node->as_string());
}

Result<LockedVariant> read_variant(const std::filesystem::path& path, const toml::table& table,
                                   const std::string& context) {
  LockedVariant variant;
  KGET_TRY_ASSIGN(variant.digest_algorithm, string_at(path, table, "digest", context));
  if (variant.digest_algorithm != "sha256" && variant.digest_algorithm != "sha512") {
    return fail(ErrorKind::invalid_metadata, "{}: {}: digest is \"{}\"; expected sha256 or sha512",
                path.string(), context, variant.digest_algorithm);
  }
  const toml::table* files = table["files"].as_table();
  if (files == nullptr || files->empty()) {
    return fail(ErrorKind::invalid_metadata, "{}: {} has no files table", path.string(), context);
  }
  size_t length = variant.digest_algorithm == "sha256" ? 64 : 128;
  for (const auto& [name, node] : *files) {
    const auto* digest = node.as_string();
    std::string text = digest ? std::string(**digest) : "";
    if (text.size() != length || text.find_first_not_of("0123456789abcdef") != std::string::npos) {
      return fail(ErrorKind::invalid_metadata,
                  "{}: {} file \"{}\": expected {} lower-case hex digits", where(path, node),
                  context, std::string(name.str()), length);
    }
    variant.files.emplace(std::string(name.str()), std::move(text));
  }
  return variant;
}

Result<LockedKernel> read_kernel(const std::filesystem::path& path, const std::string& repo,
                                 const toml::table& table) {
  std::string context = fmt::format("kernel \"{}\"", repo);
  LockedKernel kernel;
  kernel.repo = repo;
  KGET_TRY_ASSIGN(kernel.spec, string_at(path, table, "spec", context));
  KGET_TRY_ASSIGN(kernel.commit, string_at(path, table, "commit", context));
  if (!is_commit(kernel.commit)) {
    return fail(ErrorKind::invalid_metadata,
                "{}: {}: commit \"{}\" is not 40 lower-case hex digits", path.string(), context,
                kernel.commit);
  }
  const toml::table* variants = table["variants"].as_table();
  if (variants == nullptr) {
    return fail(ErrorKind::invalid_metadata, "{}: {} has no variants table", path.string(),
                context);
  }
  for (const auto& [name, node] : *variants) {
    const toml::table* variant = node.as_table();
    std::string variant_context =
        fmt::format("{} variant \"{}\"", context, std::string(name.str()));
    if (variant == nullptr) {
      return fail(ErrorKind::invalid_metadata, "{}: {} is not a table", where(path, node),
                  variant_context);
    }
    KGET_TRY_ASSIGN(auto locked, read_variant(path, *variant, variant_context));
    kernel.variants.emplace(std::string(name.str()), std::move(locked));
  }
  return kernel;
}

} // namespace

Result<LockFile> read_lock_file(const std::filesystem::path& path) {
  std::error_code error;
  if (!std::filesystem::exists(path, error)) {
    return fail(ErrorKind::not_found, "lock file {} does not exist; write it with `kget lock`",
                path.string());
  }
  KGET_TRY_ASSIGN(auto text, util::read_file(path, 16u << 20));
  toml::table root;
  try {
    root = toml::parse(text, path.string());
  } catch (const toml::parse_error& failure) {
    return fail(ErrorKind::invalid_metadata, "{}:{}:{}: {}", path.string(),
                failure.source().begin.line, failure.source().begin.column, failure.description());
  }
  auto version = root["version"].value<int64_t>();
  if (!version || *version != format_version) {
    return fail(ErrorKind::invalid_metadata,
                "{}: version must be {}; this kget reads lock files of version {} only",
                path.string(), format_version, format_version);
  }
  LockFile lock;
  if (const toml::table* kernels = root["kernels"].as_table()) {
    for (const auto& [repo, node] : *kernels) {
      const toml::table* table = node.as_table();
      if (table == nullptr) {
        return fail(ErrorKind::invalid_metadata, "{}: kernels.\"{}\" is not a table",
                    where(path, node), std::string(repo.str()));
      }
      KGET_TRY_ASSIGN(auto kernel, read_kernel(path, std::string(repo.str()), *table));
      lock.kernels.emplace(kernel.repo, std::move(kernel));
    }
  }
  return lock;
}

Result<void> write_lock_file(const std::filesystem::path& path, const LockFile& lock) {
  toml::table kernels;
  for (const auto& [repo, kernel] : lock.kernels) {
    toml::table variants;
    for (const auto& [name, variant] : kernel.variants) {
      toml::table files;
      for (const auto& [file, digest] : variant.files) {
        files.insert(file, digest);
      }
      variants.insert(name, toml::table{{"digest", variant.digest_algorithm}, {"files", files}});
    }
    kernels.insert(
        repo,
        toml::table{{"spec", kernel.spec}, {"commit", kernel.commit}, {"variants", variants}});
  }
  toml::table root{{"version", format_version}, {"kernels", kernels}};
  std::ostringstream text;
  text << "# kget.lock: written by `kget lock`, read by `kget pull --locked` and get_kernel.\n"
       << "# Each kernel is pinned to a commit; every variant's files to their digests.\n"
       << root << "\n";
  return util::write_file_atomic(path, text.str());
}

Result<const LockedKernel*> find(const LockFile& lock, const std::filesystem::path& path,
                                 const std::string& repo, const std::string& spec) {
  auto found = lock.kernels.find(repo);
  if (found == lock.kernels.end()) {
    return fail(ErrorKind::not_found, "{} has no entry for {}; add it with `kget lock {}`",
                path.string(), repo, spec.empty() ? repo : repo + "@" + spec);
  }
  if (!spec.empty() && spec != found->second.spec && spec != found->second.commit) {
    return fail(ErrorKind::conflict,
                "{} pins {}@{} (commit {}); asked for @{}: run `kget lock {}@{}` to change it",
                path.string(), repo, found->second.spec, found->second.commit, spec, repo, spec);
  }
  return &found->second;
}

} // namespace kget::lock
