// The cache's lookups: refs, snapshot files, notes, and the verification of a variant's files.
#include "cache/cache.hpp"

#include "cache/internal.hpp"
#include "digest/digest.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <sys/stat.h>

namespace kget::cache {

namespace fs = std::filesystem;
using namespace detail;

namespace {

// A ref holds 40 hex digits and perhaps a newline; anything larger is not a ref.
constexpr size_t max_ref_size = 4096;
constexpr size_t max_note_size = 64u << 20;

std::optional<std::string> read_ref_file(const fs::path& path) {
  if (!is_plain_file(path)) {
    return std::nullopt;
  }
  auto text = util::read_file(path, max_ref_size);
  if (!text) {
    return std::nullopt;
  }
  auto commit = util::trim(*text);
  if (!digest::is_lower_hex(commit, 40)) {
    return std::nullopt;
  }
  return std::string(commit);
}

// True when `path` lies inside `root`, both resolved.
bool is_within(const fs::path& path, const fs::path& root) {
  return std::mismatch(root.begin(), root.end(), path.begin(), path.end()).first == root.end();
}

// Every part of a variant that is not its content: the link, the blob, the record.
std::optional<std::string> check_links(const fs::path& snapshot, const fs::path& blob,
                                       const FileSpec& file, std::optional<FileStamp>& blob_stamp) {
  if (!is_plain_file(blob)) {
    return fmt::format("its blob blobs/{} is missing", file.etag);
  }
  blob_stamp = stamp_of(blob);
  auto link_stamp = stamp_of(snapshot);
  if (!link_stamp) {
    return "it is missing from the snapshot";
  }
  if (!blob_stamp || link_stamp->inode != blob_stamp->inode ||
      link_stamp->device != blob_stamp->device) {
    return fmt::format("it does not point at its blob blobs/{}", file.etag);
  }
  return std::nullopt;
}

// What the record says of the digests `file` promises: nullopt when the record proves them all,
// a problem when it contradicts one, "" when it lacks one (the blob must be hashed).
std::optional<std::string> compare_with_record(const FileSpec& file,
                                               const VerificationRecord& record) {
  std::vector<std::pair<std::string, std::string>> promised;
  promised.emplace_back(digest::is_lower_hex(file.etag, 64) ? "sha256" : "git-sha1", file.etag);
  if (!file.digest_hex.empty()) {
    promised.emplace_back(file.digest_algorithm, file.digest_hex);
  }
  for (const auto& [algorithm, expected] : promised) {
    auto found = record.digests.find(algorithm);
    if (found == record.digests.end()) {
      return std::string();
    }
    if (found->second != expected) {
      return fmt::format("{} is {}, expected {}", algorithm, found->second, expected);
    }
  }
  return std::nullopt;
}

// One file of a variant; nullopt when it is what `file` promises.
std::optional<std::string> verify_file(const fs::path& repo_dir, const fs::path& snapshot,
                                       const FileSpec& file, VerifyMode mode) {
  fs::path blob = repo_dir / "blobs" / file.etag;
  std::optional<FileStamp> blob_stamp;
  if (auto problem = check_links(snapshot, blob, file, blob_stamp)) {
    return problem;
  }
  if (mode == VerifyMode::cheap) {
    if (auto record = read_record(repo_dir, file.etag)) {
      if (record->stamp != *blob_stamp) {
        return describe_stamp_change(record->stamp, *blob_stamp);
      }
      auto verdict = compare_with_record(file, *record);
      if (!verdict) {
        return std::nullopt;
      }
      if (!verdict->empty()) {
        return verdict;
      }
    }
  }
  auto digests = hash_blob(blob, digest_needs(file));
  if (!digests) {
    return digests.error().message;
  }
  if (auto mismatch = describe_mismatch(file, *digests); !mismatch.empty()) {
    return mismatch;
  }
  // The stamp from before hashing: a write during the hash makes the next cheap check fail.
  write_record(repo_dir, file.etag, {*blob_stamp, recorded_digests(*digests)});
  return std::nullopt;
}

} // namespace

namespace detail {

std::vector<std::pair<std::string, std::string>> list_refs_in(const fs::path& repo_dir) {
  std::vector<std::pair<std::string, std::string>> refs;
  fs::path refs_dir = repo_dir / "refs";
  std::error_code error;
  for (fs::recursive_directory_iterator it(refs_dir, error), end; !error && it != end;
       it.increment(error)) {
    if (!it->is_regular_file(error) || it->is_symlink(error) ||
        is_leftover_name(it->path().filename().string())) {
      continue;
    }
    if (auto commit = read_ref_file(it->path())) {
      refs.emplace_back(it->path().lexically_relative(refs_dir).generic_string(), *commit);
    }
  }
  std::sort(refs.begin(), refs.end());
  return refs;
}

Result<void> prepare_repo(const fs::path& root, const fs::path& repo_dir) {
  KGET_TRY(write_cachedir_tag(root));
  return util::create_directories(repo_dir);
}

} // namespace detail

Cache Cache::at(std::filesystem::path root) {
  return Cache(std::move(root));
}

fs::path Cache::repo_dir(std::string_view repo_id) const {
  return m_root / repo_folder_name(repo_id);
}

fs::path Cache::snapshot_dir(std::string_view repo_id, std::string_view commit) const {
  return repo_dir(repo_id) / "snapshots" / commit;
}

std::optional<std::string> Cache::read_ref(std::string_view repo_id,
                                           std::string_view revision) const {
  if (!check_repo_id(repo_id) || !check_revision(revision)) {
    return std::nullopt;
  }
  return read_ref_file(repo_dir(repo_id) / "refs" / revision);
}

std::vector<std::pair<std::string, std::string>> Cache::list_refs(std::string_view repo_id) const {
  if (!check_repo_id(repo_id)) {
    return {};
  }
  return list_refs_in(repo_dir(repo_id));
}

Result<void> Cache::write_ref(std::string_view repo_id, std::string_view revision,
                              std::string_view commit) const {
  KGET_TRY(check_repo_id(repo_id));
  KGET_TRY(check_revision(revision));
  KGET_TRY(check_commit(commit));
  fs::path repo = repo_dir(repo_id);
  KGET_TRY(prepare_repo(m_root, repo));
  fs::path ref = fs::path("refs") / revision;
  // A warm pull finds the branch where it was: rewriting it (fsync, rename, fsync) would cost
  // that pull more than everything else it does.
  if (read_ref(repo_id, revision) == commit) {
    return {};
  }
  KGET_TRY(make_real_directories(repo, ref.parent_path()));
  // No newline: huggingface_hub reads the file verbatim.
  return util::write_file_atomic(repo / ref, commit);
}

bool Cache::has_blob(std::string_view repo_id, std::string_view etag) const {
  if (!check_repo_id(repo_id) || !check_etag(etag)) {
    return false;
  }
  std::error_code error;
  return fs::is_regular_file(repo_dir(repo_id) / "blobs" / std::string(etag), error);
}

std::optional<fs::path> Cache::find_file(std::string_view repo_id, std::string_view commit,
                                         std::string_view path) const {
  if (!check_repo_id(repo_id) || !check_commit(commit) || !check_repo_path(path)) {
    return std::nullopt;
  }
  fs::path file = snapshot_dir(repo_id, commit) / path;
  std::error_code error;
  fs::path resolved = fs::canonical(file, error);
  if (error || !fs::is_regular_file(resolved, error)) {
    return std::nullopt;
  }
  fs::path root = fs::canonical(m_root, error);
  if (error || !is_within(resolved, root)) {
    return std::nullopt;
  }
  return file;
}

Result<void> Cache::verify_files(std::string_view repo_id, std::string_view commit,
                                 const std::vector<FileSpec>& files, VerifyMode mode) const {
  KGET_TRY(check_repo_id(repo_id));
  KGET_TRY(check_commit(commit));
  for (const auto& file : files) {
    KGET_TRY(check_file_spec(file));
  }
  fs::path repo = repo_dir(repo_id);
  fs::path snapshot = snapshot_dir(repo_id, commit);
  std::string problems;
  std::vector<std::string> damaged;
  for (const auto& file : files) {
    if (auto problem = verify_file(repo, snapshot / file.path, file, mode)) {
      problems += fmt::format("\n  {}: {}", (snapshot / file.path).string(), *problem);
      damaged.push_back((repo / "blobs" / file.etag).string());
    }
  }
  if (problems.empty()) {
    return {};
  }
  return fail(ErrorKind::integrity,
              "{} of the {} files of {} at {} failed verification:{}\nTo repair, delete {} and "
              "pull again; `kget cache verify` checks the whole cache (and accepts blobs that "
              "were only touched)",
              damaged.size(), files.size(), repo_id, commit, problems, util::join(damaged, " "));
}

std::optional<std::string> Cache::read_note(std::string_view repo_id, std::string_view commit,
                                            std::string_view name) const {
  if (!check_repo_id(repo_id) || !check_commit(commit) || !check_note_name(name)) {
    return std::nullopt;
  }
  fs::path note = repo_dir(repo_id) / kget_dir_name / commit / name;
  if (!is_plain_file(note)) {
    return std::nullopt;
  }
  auto content = util::read_file(note, max_note_size);
  if (!content) {
    return std::nullopt;
  }
  return std::move(*content);
}

Result<void> Cache::write_note(std::string_view repo_id, std::string_view commit,
                               std::string_view name, std::string_view content) const {
  KGET_TRY(check_repo_id(repo_id));
  KGET_TRY(check_commit(commit));
  KGET_TRY(check_note_name(name));
  fs::path repo = repo_dir(repo_id);
  KGET_TRY(prepare_repo(m_root, repo));
  KGET_TRY(make_real_directories(repo, fs::path(kget_dir_name) / commit));
  return util::write_file_atomic(repo / kget_dir_name / commit / name, content);
}

} // namespace kget::cache
