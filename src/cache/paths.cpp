// Names that become paths, and the filesystem operations that place them safely.
#include "cache/internal.hpp"
#include "digest/digest.hpp"
#include "util/fs.hpp"

#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <random>
#include <sys/stat.h>
#include <unistd.h>

namespace kget::cache {

std::string repo_folder_name(std::string_view repo_id) {
  std::string folder = "kernels--";
  for (char c : repo_id) {
    if (c == '/') {
      folder += "--";
    } else {
      folder.push_back(c);
    }
  }
  return folder;
}

} // namespace kget::cache

namespace kget::cache::detail {

namespace {

// The Hub's limit for "org/name"; longer ids cannot exist there.
constexpr size_t max_repo_id_size = 96;
constexpr size_t max_name_size = 255;
constexpr size_t max_path_size = 1024;
constexpr std::string_view kget_temporary_infix = ".kget-tmp.";
constexpr std::string_view hub_incomplete_suffix = ".incomplete";

bool is_repo_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
         c == '_' || c == '.';
}

bool is_control(char c) {
  auto byte = static_cast<unsigned char>(c);
  return byte < 0x20 || byte == 0x7f;
}

Result<void> check_repo_part(std::string_view repo_id, std::string_view part,
                             std::string_view what) {
  auto bad = [&](std::string_view why) {
    return fail(ErrorKind::invalid_reference,
                "invalid repository id \"{}\": the {} {}; a kernel is named org/name, e.g. "
                "acme/relu",
                repo_id, what, why);
  };
  if (part.empty()) {
    return bad("is empty");
  }
  for (char c : part) {
    if (!is_repo_char(c)) {
      return bad("may hold only letters, digits, '-', '_' and '.'");
    }
  }
  if (part.find("--") != std::string_view::npos || part.find("..") != std::string_view::npos) {
    return bad("must not contain \"--\" or \"..\"");
  }
  if (part.front() == '-' || part.front() == '.' || part.back() == '-' || part.back() == '.') {
    return bad("must not start or end with '-' or '.'");
  }
  return {};
}

// '/'-separated segments, none empty, ".", ".." or with a control character or a backslash.
std::optional<std::string> path_problem(std::string_view path) {
  if (path.empty()) {
    return "it is empty";
  }
  if (path.front() == '/') {
    return "it is absolute";
  }
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = std::min(path.find('/', start), path.size());
    std::string_view segment = path.substr(start, end - start);
    if (segment.empty()) {
      return "it has an empty segment (\"//\" or a trailing '/')";
    }
    if (segment == "." || segment == "..") {
      return fmt::format("it has a \"{}\" segment", segment);
    }
    if (segment.size() > max_name_size) {
      return fmt::format("a segment is longer than {} characters", max_name_size);
    }
    for (char c : segment) {
      if (is_control(c) || c == '\\') {
        return "it holds a control character or a backslash";
      }
    }
    start = end + 1;
  }
  return std::nullopt;
}

} // namespace

Result<void> check_repo_id(std::string_view repo_id) {
  size_t slash = repo_id.find('/');
  if (slash == std::string_view::npos || repo_id.find('/', slash + 1) != std::string_view::npos) {
    return fail(ErrorKind::invalid_reference,
                "invalid repository id \"{}\": expected exactly one '/', as in org/name (e.g. "
                "acme/relu)",
                repo_id);
  }
  if (repo_id.size() > max_repo_id_size) {
    return fail(ErrorKind::invalid_reference,
                "invalid repository id \"{}\": {} characters, at most {} are allowed", repo_id,
                repo_id.size(), max_repo_id_size);
  }
  KGET_TRY(check_repo_part(repo_id, repo_id.substr(0, slash), "org"));
  return check_repo_part(repo_id, repo_id.substr(slash + 1), "name");
}

Result<void> check_commit(std::string_view commit) {
  if (!digest::is_lower_hex(commit, 40)) {
    return fail(ErrorKind::invalid_reference,
                "invalid commit \"{}\": expected 40 lower-case hex digits", commit);
  }
  return {};
}

Result<void> check_revision(std::string_view revision) {
  auto problem = path_problem(revision);
  if (!problem && revision.size() > max_path_size) {
    problem = fmt::format("it is longer than {} characters", max_path_size);
  }
  // A leading '.' would hide a ref among temporary files (git forbids it too).
  if (!problem && (revision.front() == '.' || revision.find("/.") != std::string_view::npos)) {
    problem = "a segment starts with '.'";
  }
  if (problem) {
    return fail(ErrorKind::invalid_reference, "invalid revision \"{}\": {}", revision, *problem);
  }
  return {};
}

Result<void> check_repo_path(std::string_view path) {
  auto problem = path_problem(path);
  if (!problem && path.size() > max_path_size) {
    problem = fmt::format("it is longer than {} characters", max_path_size);
  }
  if (problem) {
    return fail(ErrorKind::usage,
                "invalid file path \"{}\" in the repository: {}; expected a relative path like "
                "build/<variant>/<file>",
                path, *problem);
  }
  return {};
}

Result<void> check_etag(std::string_view etag) {
  if (!digest::is_lower_hex(etag, 64) && !digest::is_lower_hex(etag, 40)) {
    return fail(ErrorKind::usage,
                "invalid blob name (etag) \"{}\": expected a sha256 (64 lower-case hex digits) or "
                "a git blob id (40)",
                etag);
  }
  return {};
}

Result<void> check_note_name(std::string_view name) {
  bool valid = !name.empty() && name.size() <= max_name_size && name.front() != '.';
  for (char c : name) {
    valid = valid && is_repo_char(c);
  }
  if (!valid) {
    return fail(ErrorKind::usage,
                "invalid note name \"{}\": expected one file name of letters, digits, '-', '_' "
                "and '.', not starting with '.'",
                name);
  }
  return {};
}

Result<void> check_file_spec(const FileSpec& file) {
  KGET_TRY(check_repo_path(file.path));
  KGET_TRY(check_etag(file.etag));
  if (file.digest_hex.empty()) {
    return {};
  }
  size_t length = file.digest_algorithm == "sha256"   ? 64
                  : file.digest_algorithm == "sha512" ? 128
                                                      : 0;
  if (length == 0) {
    return fail(ErrorKind::usage,
                "{}: unsupported digest algorithm \"{}\"; expected \"sha256\" or \"sha512\"",
                file.path, file.digest_algorithm);
  }
  if (!digest::is_lower_hex(file.digest_hex, length)) {
    return fail(ErrorKind::usage, "{}: the {} digest \"{}\" is not {} lower-case hex digits",
                file.path, file.digest_algorithm, file.digest_hex, length);
  }
  return {};
}

std::string blob_link_target(std::string_view path, std::string_view etag) {
  std::string target;
  for (char c : path) {
    if (c == '/') {
      target += "../";
    }
  }
  return fmt::format("{}../../blobs/{}", target, etag);
}

bool is_leftover_name(std::string_view file_name) {
  return util::is_temporary_name(file_name) || file_name.ends_with(hub_incomplete_suffix);
}

std::optional<std::string> leftover_etag(std::string_view file_name) {
  std::string_view candidate;
  if (util::is_temporary_name(file_name)) {
    // ".<etag>.kget-tmp.XXXXXX"
    candidate = file_name.substr(1, file_name.find(kget_temporary_infix) - 1);
  } else if (file_name.ends_with(hub_incomplete_suffix)) {
    // "<etag>.incomplete" or "<etag>.<id>.incomplete"
    candidate = file_name.substr(0, file_name.find('.'));
  }
  if (!check_etag(candidate)) {
    return std::nullopt;
  }
  return std::string(candidate);
}

Result<void> make_real_directories(const fs::path& base, const fs::path& relative) {
  fs::path current = base;
  for (const auto& segment : relative) {
    current /= segment;
    struct stat info {};
    if (::lstat(current.c_str(), &info) == 0) {
      if (!S_ISDIR(info.st_mode)) {
        return fail(ErrorKind::io,
                    "{} is in the way: expected a directory, found {}; remove it and try again",
                    current.string(), S_ISLNK(info.st_mode) ? "a symbolic link" : "a file");
      }
      continue;
    }
    if (::mkdir(current.c_str(), 0755) != 0 && errno != EEXIST) {
      return fail(ErrorKind::io, "cannot create directory {}: {}", current.string(),
                  std::strerror(errno));
    }
  }
  return {};
}

Result<void> place_symlink(const fs::path& link, const std::string& target) {
  std::error_code error;
  if (fs::is_symlink(fs::symlink_status(link, error)) && fs::read_symlink(link, error) == target &&
      !error) {
    return {};
  }
  static constexpr char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::random_device random;
  std::uniform_int_distribution<size_t> pick(0, sizeof alphabet - 2);
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::string suffix(6, ' ');
    for (char& c : suffix) {
      c = alphabet[pick(random)];
    }
    fs::path temporary = link.parent_path() / fmt::format(".{}{}{}", link.filename().string(),
                                                          kget_temporary_infix, suffix);
    if (::symlink(target.c_str(), temporary.c_str()) != 0) {
      if (errno == EEXIST) {
        continue;
      }
      return fail(ErrorKind::io, "cannot create symbolic link {}: {}", temporary.string(),
                  std::strerror(errno));
    }
    if (::rename(temporary.c_str(), link.c_str()) != 0) {
      int rename_error = errno;
      ::unlink(temporary.c_str());
      return fail(ErrorKind::io, "cannot put the symbolic link to {} at {}: {}", target,
                  link.string(), std::strerror(rename_error));
    }
    return {};
  }
  return fail(ErrorKind::io, "cannot find a free temporary name beside {}", link.string());
}

Result<void> write_cachedir_tag(const fs::path& root) {
  fs::path tag = root / "CACHEDIR.TAG";
  struct stat info {};
  if (::lstat(tag.c_str(), &info) == 0) {
    return {};
  }
  KGET_TRY(util::create_directories(root));
  // The signature line is what backup tools look for (https://bford.info/cachedir/).
  return util::write_file_atomic(tag, "Signature: 8a477f597d28d172789f06886806bc55\n"
                                      "# This file is a cache directory tag created by kget.\n"
                                      "# For information about cache directory tags, see:\n"
                                      "#\thttps://bford.info/cachedir/\n");
}

bool is_plain_file(const fs::path& path) {
  struct stat info {};
  return ::lstat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

} // namespace kget::cache::detail
