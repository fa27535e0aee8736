// Finding the variant directories of a push and checking each against its metadata.json.
#include "digest/digest.hpp"
#include "metadata/variant_name.hpp"
#include "publish/publish.hpp"
#include "ref/kernel_ref.hpp"
#include "util/fs.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <system_error>
#include <variant>

namespace kget::publish {

namespace fs = std::filesystem;

namespace {

bool is_directory_quietly(const fs::path& path) {
  std::error_code error;
  return fs::is_directory(path, error);
}

bool exists_quietly(const fs::path& path) {
  std::error_code error;
  return fs::exists(fs::symlink_status(path, error));
}

// The name a directory is known by, also when given as ".", "dir/" or "a/b/..".
std::string directory_name(const fs::path& directory) {
  std::error_code error;
  fs::path absolute = fs::absolute(directory, error).lexically_normal();
  if (!absolute.has_filename()) {
    absolute = absolute.parent_path();
  }
  return absolute.filename().string();
}

Result<std::vector<fs::path>> subdirectories(const fs::path& build) {
  std::vector<fs::path> directories;
  std::error_code error;
  for (fs::directory_iterator it(build, error), end; !error && it != end; it.increment(error)) {
    if (!is_directory_quietly(it->path())) {
      return fail(ErrorKind::usage,
                  "{} is not a variant directory; a build directory holds only variant "
                  "directories such as kget1-cu130-x86_64-linux/",
                  it->path().string());
    }
    directories.push_back(it->path());
  }
  if (error) {
    return fail(ErrorKind::io, "cannot list {}: {}", build.string(), error.message());
  }
  if (directories.empty()) {
    return fail(ErrorKind::not_found,
                "{} holds no variant directories; expected build/<variant>/metadata.json, e.g. "
                "build/kget1-cu130-x86_64-linux/metadata.json",
                build.string());
  }
  std::sort(directories.begin(), directories.end());
  return directories;
}

Result<metadata::KgetVariantName> parse_kget_variant_name(const std::string& name,
                                                          const fs::path& directory) {
  auto parsed = metadata::parse_variant_name(name);
  if (const auto* kget_name = std::get_if<metadata::KgetVariantName>(&parsed)) {
    return *kget_name;
  }
  std::string reason = std::holds_alternative<metadata::ForeignVariantName>(parsed)
                           ? std::get<metadata::ForeignVariantName>(parsed).reason
                           : std::get<metadata::UnrecognisedVariantName>(parsed).reason;
  return fail(ErrorKind::usage,
              "{}: variant \"{}\": {}; kget push publishes kget variants only, named "
              "kget<ABI>-<backend>-<cpu>-<os> such as kget1-cu130-x86_64-linux",
              directory.string(), name, reason);
}

Result<metadata::VariantMetadata> read_variant_metadata(const fs::path& directory) {
  auto text = util::read_file(directory / "metadata.json");
  if (!text) {
    if (text.error().kind == ErrorKind::not_found) {
      return fail(ErrorKind::invalid_metadata, "{} has no metadata.json", directory.string());
    }
    return std::unexpected(text.error());
  }
  auto parsed = metadata::parse_metadata(*text);
  if (!parsed) {
    return fail(parsed.error().kind, "{}: {}", directory.string(), parsed.error().message);
  }
  return parsed;
}

// Clients reject a variant whose metadata contradicts its name; publishing one would only ship
// something nobody can load.
Result<void> check_name_against_metadata(const fs::path& directory,
                                         const metadata::KgetVariantName& name,
                                         const metadata::VariantMetadata& meta) {
  if (auto contradiction = metadata::name_contradiction(name, meta)) {
    return fail(ErrorKind::invalid_metadata, "{}: metadata.json contradicts the variant name: {}",
                directory.string(), *contradiction);
  }
  return {};
}

Result<void> check_listed_files(const fs::path& directory, const std::vector<LocalFile>& found,
                                const metadata::VariantMetadata& meta) {
  std::set<std::string> present;
  for (const auto& file : found) {
    present.insert(file.relative);
    if (file.relative != "metadata.json" && !meta.digest_files.contains(file.relative)) {
      return fail(ErrorKind::integrity,
                  "{}: not listed in metadata.json's digest.files; every file of a variant is "
                  "listed there with its digest, so that clients can verify it",
                  (directory / file.relative).string());
    }
  }
  for (const auto& [relative, digest] : meta.digest_files) {
    if (!present.contains(relative)) {
      return fail(ErrorKind::integrity,
                  "{}: listed in metadata.json's digest.files ({} {}), but there is no such file",
                  (directory / relative).string(), meta.digest_algorithm, digest);
    }
  }
  return {};
}

Result<void> check_digest(const fs::path& shown_path, const LocalFile& file,
                          const digest::FileDigests& digests,
                          const metadata::VariantMetadata& meta) {
  auto listed = meta.digest_files.find(file.relative);
  if (listed == meta.digest_files.end()) {
    return {}; // metadata.json itself
  }
  std::string found;
  if (meta.digest_algorithm == "sha256") {
    found = digest::hex_to_base64(digests.sha256);
  } else { // metadata may use sha512, which only publishing needs to check
    KGET_TRY_ASSIGN(auto hex, digest::hash_file_hex(file.source, digest::Algorithm::sha512));
    found = digest::hex_to_base64(hex);
  }
  if (found != listed->second) {
    return fail(ErrorKind::integrity,
                "{}: metadata.json lists {} {}, but the file's is {}; rebuild the variant or "
                "regenerate its metadata.json",
                shown_path.string(), meta.digest_algorithm, listed->second, found);
  }
  return {};
}

std::string repo_path(const std::string& variant, const LocalFile& file) {
  return "build/" + variant + "/" + file.relative;
}

} // namespace

uint64_t PushPlan::total_bytes() const {
  uint64_t total = 0;
  for (const auto& file : files) {
    total += file.size;
  }
  return total;
}

Result<std::vector<fs::path>> find_variant_directories(const std::vector<fs::path>& inputs) {
  std::vector<fs::path> variants;
  std::map<std::string, fs::path> seen; // variant name -> where it was found first
  for (const auto& input : inputs) {
    if (!is_directory_quietly(input)) {
      return fail(ErrorKind::not_found,
                  "{} is not a directory; kget push takes kernel directories (holding "
                  "build/<variant>/), build directories or variant directories",
                  input.string());
    }
    std::vector<fs::path> found;
    if (exists_quietly(input / "metadata.json")) {
      found.push_back(input);
    } else {
      KGET_TRY_ASSIGN(
          found, subdirectories(is_directory_quietly(input / "build") ? input / "build" : input));
    }
    for (auto& directory : found) {
      std::string name = directory_name(directory);
      auto [it, inserted] = seen.emplace(name, directory);
      if (!inserted) {
        return fail(ErrorKind::usage, "variant {} is given twice: {} and {}", name,
                    it->second.string(), directory.string());
      }
      variants.push_back(std::move(directory));
    }
  }
  if (variants.empty()) {
    return fail(ErrorKind::usage, "nothing to push: give at least one directory");
  }
  return variants;
}

Result<std::vector<LocalFile>> list_variant_files(const fs::path& directory) {
  std::error_code error;
  fs::path root = fs::canonical(directory, error);
  if (error) {
    return fail(ErrorKind::io, "cannot resolve {}: {}", directory.string(), error.message());
  }
  std::vector<LocalFile> files;
  fs::recursive_directory_iterator it(directory, error), end;
  for (; !error && it != end; it.increment(error)) {
    const fs::path& path = it->path();
    std::string relative = path.lexically_relative(directory).generic_string();
    fs::file_status status = it->symlink_status(error);
    if (error) {
      break;
    }
    if (fs::is_directory(status)) {
      continue;
    }
    if (fs::is_regular_file(status)) {
      files.push_back({relative, path});
      continue;
    }
    if (!fs::is_symlink(status)) {
      return fail(ErrorKind::usage, "{} is not a regular file; a variant holds only files",
                  path.string());
    }
    fs::path target = fs::canonical(path, error);
    if (error) {
      return fail(ErrorKind::usage, "{} is a symlink to nothing ({})", path.string(),
                  error.message());
    }
    fs::path inside = target.lexically_relative(root);
    if (inside.empty() || *inside.begin() == "..") {
      return fail(ErrorKind::usage,
                  "{} is a symlink to {}, outside the variant directory; kget push follows only "
                  "symlinks to files inside it",
                  path.string(), target.string());
    }
    if (!fs::is_regular_file(fs::status(target, error))) {
      return fail(ErrorKind::usage,
                  "{} is a symlink to {}, which is not a regular file; kget push follows only "
                  "symlinks to files",
                  path.string(), target.string());
    }
    files.push_back({relative, target});
  }
  if (error) {
    return fail(ErrorKind::io, "cannot list {}: {}", directory.string(), error.message());
  }
  std::sort(files.begin(), files.end(),
            [](const LocalFile& a, const LocalFile& b) { return a.relative < b.relative; });
  return files;
}

Result<CheckedVariant> check_variant(const fs::path& directory) {
  CheckedVariant variant;
  variant.name = directory_name(directory);
  variant.directory = directory;
  KGET_TRY_ASSIGN(auto name, parse_kget_variant_name(variant.name, directory));
  KGET_TRY_ASSIGN(variant.metadata, read_variant_metadata(directory));
  KGET_TRY(check_name_against_metadata(directory, name, variant.metadata));
  KGET_TRY_ASSIGN(auto found, list_variant_files(directory));
  // Names first: a file the repository could not hold is reported as such, listed or not.
  for (const auto& file : found) {
    KGET_TRY(store::validate_repo_path(repo_path(variant.name, file)));
  }
  KGET_TRY(check_listed_files(directory, found, variant.metadata));
  for (const auto& file : found) {
    KGET_TRY_ASSIGN(auto digests, digest::hash_file(file.source));
    KGET_TRY(check_digest(directory / file.relative, file, digests, variant.metadata));
    variant.files.push_back(
        {repo_path(variant.name, file), file.source, digests.size, digests.sha256});
  }
  return variant;
}

Result<PushPlan> plan_push(const PlanRequest& request) {
  PushPlan plan;
  KGET_TRY(ref::validate_repo_id(request.repo));
  plan.repo = request.repo;
  KGET_TRY_ASSIGN(plan.version, ref::parse_version(request.version));
  plan.message = request.message.empty()
                     ? fmt::format("Publish version {}", ref::to_string(plan.version))
                     : request.message;
  KGET_TRY_ASSIGN(auto directories, find_variant_directories(request.inputs));
  std::string kernel_name;
  for (const auto& directory : directories) {
    KGET_TRY_ASSIGN(auto variant, check_variant(directory));
    if (variant.metadata.version != plan.version.major) {
      return fail(ErrorKind::usage,
                  "{}: metadata.json says major version {} (branch v{}), but version {} goes on "
                  "branch v{}",
                  directory.string(), variant.metadata.version, variant.metadata.version,
                  ref::to_string(plan.version), plan.version.major);
    }
    if (kernel_name.empty()) {
      kernel_name = variant.metadata.name;
    } else if (variant.metadata.name != kernel_name) {
      return fail(ErrorKind::usage,
                  "{}: metadata.json names kernel \"{}\", the other variants \"{}\"; one push "
                  "publishes one kernel",
                  directory.string(), variant.metadata.name, kernel_name);
    }
    plan.variants.push_back({variant.name, directory, variant.files.size()});
    for (auto& file : variant.files) {
      plan.files.push_back(std::move(file));
    }
  }
  std::sort(plan.variants.begin(), plan.variants.end(),
            [](const PlannedVariant& a, const PlannedVariant& b) { return a.name < b.name; });
  std::sort(plan.files.begin(), plan.files.end(),
            [](const PlannedFile& a, const PlannedFile& b) { return a.path < b.path; });
  return plan;
}

} // namespace kget::publish
