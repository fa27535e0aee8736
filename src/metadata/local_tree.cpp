#include "metadata/local_tree.hpp"

#include "util/fs.hpp"

#include <algorithm>
#include <system_error>

namespace kget::metadata {

namespace fs = std::filesystem;

namespace {

bool directory_exists(const fs::path& path) {
  std::error_code error;
  return fs::is_directory(path, error);
}

Result<std::vector<std::string>> list_subdirectories(const fs::path& path) {
  std::error_code error;
  std::vector<std::string> names;
  for (fs::directory_iterator it(path, error), end; !error && it != end; it.increment(error)) {
    if (directory_exists(it->path())) {
      names.push_back(it->path().filename().string());
    }
  }
  if (error) {
    return fail(ErrorKind::io, "cannot list {}: {}", path.string(), error.message());
  }
  std::sort(names.begin(), names.end());
  return names;
}

Result<VariantMetadata> read_metadata(const fs::path& directory) {
  auto text = util::read_file(directory / "metadata.json");
  if (!text) {
    if (text.error().kind == ErrorKind::not_found) {
      return fail(ErrorKind::invalid_metadata, "{} has no metadata.json", directory.string());
    }
    return std::unexpected(text.error());
  }
  return parse_metadata(*text);
}

} // namespace

Result<std::vector<LocalVariant>> read_local_variants(const fs::path& root) {
  if (!directory_exists(root)) {
    return fail(ErrorKind::not_found,
                "{} is not a directory; expected a kernel directory holding "
                "build/<variant>/metadata.json",
                root.string());
  }
  fs::path build = directory_exists(root / "build") ? root / "build" : root;
  KGET_TRY_ASSIGN(auto names, list_subdirectories(build));
  if (names.empty()) {
    return fail(ErrorKind::not_found,
                "{} holds no variant directories; expected "
                "build/<variant>/metadata.json, e.g. build/kget1-cu130-x86_64-linux/metadata.json",
                build.string());
  }
  std::vector<LocalVariant> variants;
  for (const auto& name : names) {
    fs::path directory = build / name;
    variants.push_back({name, directory, read_metadata(directory)});
  }
  return variants;
}

} // namespace kget::metadata
