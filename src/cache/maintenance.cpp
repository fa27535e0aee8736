// `kget cache ls|verify|prune`: walks over every repository folder of the cache.
#include "cache/cache.hpp"
#include "cache/internal.hpp"
#include "digest/digest.hpp"
#include "util/fs.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fmt/format.h>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

namespace kget::cache {

namespace fs = std::filesystem;
using namespace detail;

namespace {

struct RepoFolder {
  fs::path dir;
  std::string repo_type; // "kernel" or "model"
  std::string repo_id;
};

// "kernels--org--name" -> org/name; "models--org--name" and "models--name" (a model without an
// org) -> org/name and name. Anything else is not a repository folder.
std::optional<RepoFolder> parse_repo_folder(const fs::path& dir) {
  std::string name = dir.filename().string();
  for (auto [prefix, type] : {std::pair{"kernels--", "kernel"}, {"models--", "model"}}) {
    std::string_view prefix_view(prefix);
    if (!name.starts_with(prefix_view) || name.size() == prefix_view.size()) {
      continue;
    }
    std::string rest = name.substr(prefix_view.size());
    size_t separator = rest.find("--");
    if (separator == std::string::npos) {
      if (std::string_view(type) == "kernel") {
        return std::nullopt; // every kernel has an org
      }
      return RepoFolder{dir, type, rest};
    }
    if (separator == 0 || separator + 2 == rest.size()) {
      return std::nullopt;
    }
    return RepoFolder{dir, type, rest.replace(separator, 2, "/")};
  }
  return std::nullopt;
}

// The repository folders under `root`, sorted; none when the cache does not exist yet.
Result<std::vector<RepoFolder>> repo_folders(const fs::path& root, bool models_too) {
  std::vector<RepoFolder> folders;
  std::error_code error;
  if (!fs::exists(root, error)) {
    return folders;
  }
  for (fs::directory_iterator it(root, error), end; !error && it != end; it.increment(error)) {
    if (!it->is_directory(error) || it->is_symlink(error)) {
      continue;
    }
    auto folder = parse_repo_folder(it->path());
    if (folder && (models_too || folder->repo_type == "kernel")) {
      folders.push_back(std::move(*folder));
    }
  }
  if (error) {
    return fail(ErrorKind::io, "cannot list the cache at {}: {}", root.string(), error.message());
  }
  std::sort(folders.begin(), folders.end(), [](const RepoFolder& a, const RepoFolder& b) {
    return std::tie(a.repo_type, a.repo_id) < std::tie(b.repo_type, b.repo_id);
  });
  return folders;
}

struct Entry {
  fs::path path;
  fs::file_type type; // of the entry itself, links not followed
};

// The entries under `dir` (recursively or not), links not followed; none when `dir` is absent.
std::vector<Entry> entries_of(const fs::path& dir, bool recursive, std::error_code& error) {
  std::vector<Entry> entries;
  if (!fs::exists(fs::symlink_status(dir, error))) {
    error.clear();
    return entries;
  }
  auto visit = [&](auto&& iterator) {
    for (auto end = std::decay_t<decltype(iterator)>(); !error && iterator != end;
         iterator.increment(error)) {
      entries.push_back({iterator->path(), iterator->symlink_status(error).type()});
    }
  };
  if (recursive) {
    visit(fs::recursive_directory_iterator(dir, error));
  } else {
    visit(fs::directory_iterator(dir, error));
  }
  return entries;
}

// The blob a snapshot link points at, when it points into the repository's blobs/.
std::optional<std::string> linked_etag(const fs::path& link, const fs::path& blobs_dir) {
  std::error_code error;
  fs::path target = fs::read_symlink(link, error);
  if (error || target.is_absolute()) {
    return std::nullopt;
  }
  fs::path resolved = (link.parent_path() / target).lexically_normal();
  if (resolved.parent_path() != blobs_dir.lexically_normal()) {
    return std::nullopt;
  }
  return resolved.filename().string();
}

void list_blobs(const fs::path& repo_dir, RepoSummary& summary) {
  std::error_code error;
  for (const auto& entry : entries_of(repo_dir / "blobs", false, error)) {
    if (entry.type == fs::file_type::regular && check_etag(entry.path.filename().string())) {
      summary.blobs += 1;
      summary.blob_bytes += fs::file_size(entry.path, error);
    }
  }
}

std::vector<std::string> list_snapshots(const fs::path& repo_dir) {
  std::vector<std::string> snapshots;
  std::error_code error;
  for (const auto& entry : entries_of(repo_dir / "snapshots", false, error)) {
    if (entry.type == fs::file_type::directory) {
      snapshots.push_back(entry.path.filename().string());
    }
  }
  std::sort(snapshots.begin(), snapshots.end());
  return snapshots;
}

// Keeps a record in step with a blob that still hashes to its name: its content is the one that
// was recorded, so every recorded digest still holds; only the stamp may be new (a touch, a copy).
void refresh_record(const fs::path& repo_dir, const std::string& etag, const FileStamp& stamp,
                    const BlobDigests& digests) {
  VerificationRecord record{stamp, recorded_digests(digests)};
  if (auto previous = read_record(repo_dir, etag)) {
    auto name_digest =
        previous->digests.find(digest::is_lower_hex(etag, 64) ? "sha256" : "git-sha1");
    if (name_digest != previous->digests.end() && name_digest->second == etag) {
      if (previous->stamp == stamp) {
        return;
      }
      record.digests.merge(previous->digests);
    }
  }
  write_record(repo_dir, etag, record);
}

void verify_blobs(const fs::path& repo_dir, VerifyReport& report) {
  std::error_code error;
  for (const auto& entry : entries_of(repo_dir / "blobs", false, error)) {
    std::string name = entry.path.filename().string();
    if (is_leftover_name(name)) {
      report.notes.push_back({entry.path, "an interrupted download left this temporary file; "
                                          "`kget cache prune` removes it"});
      continue;
    }
    if (!check_etag(name)) {
      report.notes.push_back({entry.path, "not named like a blob; left alone"});
      continue;
    }
    report.blobs += 1;
    if (entry.type != fs::file_type::regular) {
      report.errors.push_back({entry.path, "not a regular file; delete it and pull again"});
      continue;
    }
    bool git_named = digest::is_lower_hex(name, 40);
    auto stamp = stamp_of(entry.path);
    auto digests = hash_blob(entry.path, {git_named, false});
    if (!stamp || !digests) {
      report.errors.push_back({entry.path, digests ? "cannot stat it" : digests.error().message});
      continue;
    }
    const std::string& actual = git_named ? digests->git_sha1 : digests->sha256;
    if (actual != name) {
      report.errors.push_back(
          {entry.path, fmt::format("{} is {}, expected {} (its name); delete it and pull again",
                                   git_named ? "git blob id" : "sha256", actual, name)});
      continue;
    }
    refresh_record(repo_dir, name, *stamp, *digests);
  }
  if (error) {
    report.errors.push_back({repo_dir / "blobs", error.message()});
  }
}

void verify_snapshots(const fs::path& repo_dir, VerifyReport& report) {
  fs::path blobs_dir = repo_dir / "blobs";
  std::error_code error;
  for (const auto& entry : entries_of(repo_dir / "snapshots", true, error)) {
    if (entry.type == fs::file_type::directory) {
      continue;
    }
    if (is_leftover_name(entry.path.filename().string())) {
      report.notes.push_back({entry.path,
                              "a temporary link left by an interrupted process; `kget cache prune` "
                              "removes it"});
      continue;
    }
    report.snapshots_files += 1;
    if (entry.type == fs::file_type::regular) {
      continue; // a copy, as huggingface_hub makes where symlinks are unsupported
    }
    if (entry.type != fs::file_type::symlink) {
      report.errors.push_back({entry.path, "neither a file nor a symbolic link"});
      continue;
    }
    std::error_code link_error;
    auto target = fs::read_symlink(entry.path, link_error).string();
    auto etag = linked_etag(entry.path, blobs_dir);
    if (!etag) {
      report.errors.push_back(
          {entry.path, fmt::format("points outside the repository's blobs/ (to {})", target)});
    } else if (!is_plain_file(blobs_dir / *etag)) {
      report.errors.push_back(
          {entry.path,
           fmt::format("dangling symlink: its blob {} is missing; pull again", target)});
    }
  }
  if (error) {
    report.errors.push_back({repo_dir / "snapshots", error.message()});
  }
}

void note_leftovers(const fs::path& dir, VerifyReport& report, bool recursive = true) {
  std::error_code error;
  for (const auto& entry : entries_of(dir, recursive, error)) {
    if (entry.type != fs::file_type::directory &&
        util::is_temporary_name(entry.path.filename().string())) {
      report.notes.push_back({entry.path, "a temporary file left by an interrupted process; "
                                          "`kget cache prune` removes it"});
    }
  }
}

// Removes, or with dry_run lists, what prune may remove from one repository folder.
class Pruner {
public:
  Pruner(const fs::path& root, const PruneOptions& options, PruneReport& report)
      : m_root(root), m_options(options), m_report(report),
        m_now(std::chrono::system_clock::now()) {}

  // The root's own temporary files: a process killed while writing CACHEDIR.TAG leaves one.
  Result<void> prune_root() {
    std::error_code error;
    for (const auto& entry : entries_of(m_root, false, error)) {
      if (entry.type != fs::file_type::directory &&
          util::is_temporary_name(entry.path.filename().string())) {
        KGET_TRY(remove(entry.path));
      }
    }
    return {};
  }

  Result<void> prune(const fs::path& repo_dir) {
    std::set<std::string> referenced = referenced_etags(repo_dir);
    std::set<std::string> removed_blobs;
    std::error_code error;
    for (const auto& entry : entries_of(repo_dir / "blobs", false, error)) {
      std::string name = entry.path.filename().string();
      if (is_leftover_name(name)) {
        KGET_TRY(remove_unless_locked(repo_dir, entry.path, leftover_etag(name)));
      } else if (check_etag(name) && !referenced.contains(name)) {
        KGET_TRY_ASSIGN(bool removed, remove_unless_locked(repo_dir, entry.path, name));
        if (removed) {
          removed_blobs.insert(name);
        }
      }
    }
    for (const char* dir : {"snapshots", "refs", ".kget"}) {
      for (const auto& entry : entries_of(repo_dir / dir, true, error)) {
        if (entry.type != fs::file_type::directory &&
            util::is_temporary_name(entry.path.filename().string())) {
          KGET_TRY(remove(entry.path));
        }
      }
    }
    KGET_TRY(remove_stale_records(repo_dir, removed_blobs));
    if (error) {
      return fail(ErrorKind::io, "cannot walk {}: {}", repo_dir.string(), error.message());
    }
    return {};
  }

private:
  static std::set<std::string> referenced_etags(const fs::path& repo_dir) {
    std::set<std::string> etags;
    std::error_code error;
    for (const auto& entry : entries_of(repo_dir / "snapshots", true, error)) {
      if (entry.type == fs::file_type::symlink) {
        if (auto etag = linked_etag(entry.path, repo_dir / "blobs")) {
          etags.insert(*etag);
        }
      }
    }
    return etags;
  }

  // A blob, or a blob's temporary file, unless a writer holds the blob's lock: it may be
  // downloading into it, or about to link it.
  Result<bool> remove_unless_locked(const fs::path& repo_dir, const fs::path& path,
                                    const std::optional<std::string>& etag) {
    std::optional<util::FileLock> lock;
    if (etag) {
      fs::path lock_path = m_root / ".locks" / repo_dir.filename() / fmt::format("{}.lock", *etag);
      // No lock file, no holder; try_acquire would create one.
      if (is_plain_file(lock_path)) {
        auto acquired = util::FileLock::try_acquire(lock_path);
        if (!acquired) {
          return false;
        }
        lock.emplace(std::move(*acquired));
      }
    }
    return remove(path);
  }

  Result<void> remove_stale_records(const fs::path& repo_dir,
                                    const std::set<std::string>& removed_blobs) {
    std::error_code error;
    for (const auto& entry :
         entries_of(repo_dir / kget_dir_name / records_dir_name, false, error)) {
      fs::path name = entry.path.filename();
      std::string etag = name.stem().string();
      if (name.extension() == ".json" && check_etag(etag) &&
          (removed_blobs.contains(etag) || !is_plain_file(repo_dir / "blobs" / etag))) {
        // Bookkeeping, not content: neither reported nor counted.
        if (!m_options.dry_run && ::unlink(entry.path.c_str()) != 0 && errno != ENOENT) {
          return fail(ErrorKind::io, "cannot remove {}: {}", entry.path.string(),
                      std::strerror(errno));
        }
      }
    }
    return {};
  }

  // True when `path` was removed (or, with dry_run, would be).
  Result<bool> remove(const fs::path& path) {
    struct stat info {};
    if (::lstat(path.c_str(), &info) != 0) {
      return false; // gone already
    }
    if (!old_enough(info)) {
      return false;
    }
    if (!m_options.dry_run && ::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return fail(ErrorKind::io, "cannot remove {}: {}", path.string(), std::strerror(errno));
    }
    m_report.removed.push_back(path);
    m_report.bytes += S_ISREG(info.st_mode) ? static_cast<uint64_t>(info.st_size) : 0;
    return true;
  }

  bool old_enough(const struct stat& info) const {
    if (m_options.older_than.count() <= 0) {
      return true;
    }
    auto modified = std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::seconds(info.st_mtim.tv_sec) +
            std::chrono::nanoseconds(info.st_mtim.tv_nsec)));
    return m_now - modified >= m_options.older_than;
  }

  const fs::path& m_root;
  const PruneOptions& m_options;
  PruneReport& m_report;
  std::chrono::system_clock::time_point m_now;
};

} // namespace

Result<std::vector<RepoSummary>> Cache::list() const {
  KGET_TRY_ASSIGN(auto folders, repo_folders(m_root, true));
  std::vector<RepoSummary> summaries;
  for (const auto& folder : folders) {
    RepoSummary summary;
    summary.repo_id = folder.repo_id;
    summary.repo_type = folder.repo_type;
    summary.refs = list_refs_in(folder.dir);
    summary.snapshots = list_snapshots(folder.dir);
    list_blobs(folder.dir, summary);
    summaries.push_back(std::move(summary));
  }
  return summaries;
}

VerifyReport Cache::verify() const {
  VerifyReport report;
  auto folders = repo_folders(m_root, false);
  if (!folders) {
    report.errors.push_back({m_root, folders.error().message});
    return report;
  }
  note_leftovers(m_root, report, /*recursive=*/false);
  for (const auto& folder : *folders) {
    report.repos += 1;
    verify_blobs(folder.dir, report);
    verify_snapshots(folder.dir, report);
    note_leftovers(folder.dir / "refs", report);
    note_leftovers(folder.dir / kget_dir_name, report);
  }
  return report;
}

Result<PruneReport> Cache::prune(const PruneOptions& options) const {
  KGET_TRY_ASSIGN(auto folders, repo_folders(m_root, false));
  PruneReport report;
  Pruner pruner(m_root, options, report);
  KGET_TRY(pruner.prune_root());
  for (const auto& folder : folders) {
    KGET_TRY(pruner.prune(folder.dir));
  }
  std::sort(report.removed.begin(), report.removed.end());
  return report;
}

} // namespace kget::cache
