// The local cache, in the Hugging Face hub cache layout so that kget and Python's
// huggingface_hub/kernels share it (docs/cache.md):
//
//   <root>/CACHEDIR.TAG
//   <root>/.locks/kernels--org--name/<etag>.lock       flock, the same lock huggingface_hub takes
//   <root>/kernels--org--name/blobs/<etag>             etag: sha256 (LFS files) or git blob id
//   <root>/kernels--org--name/refs/<revision>          the 40-hex commit a branch or tag pointed at
//   <root>/kernels--org--name/snapshots/<commit>/<path>  relative symlink to ../../blobs/<etag>
//   <root>/kernels--org--name/.kget/                   kget's bookkeeping (listings, verification)
//
// Rules: a blob is written to a temporary file in blobs/, hashed while it streams, verified, and
// only then renamed to its etag; nothing unverified ever has its final name. Writers of one blob
// are serialised by an flock on its .locks file; a killed process releases it, and the next call
// ignores (and prune removes) the temporary file it left.
#pragma once

#include "util/result.hpp"
#include "util/sink.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kget::cache {

// "kernels--org--name" for "org/name".
std::string repo_folder_name(std::string_view repo_id);

// One file of a repository at a commit, as the registry's listing describes it, plus the digest
// the variant's metadata.json promises for it (absent for metadata.json itself).
struct FileSpec {
  std::string path; // in the repository, '/'-separated, e.g. "build/kget1-cpu-x86_64-linux/x.so"
  uint64_t size = 0;
  // The blob name: the sha256 for LFS files (64 hex), the git blob id otherwise (40 hex). The
  // content is checked against it: sha256 for 64 hex, git blob sha1 for 40 hex.
  std::string etag;
  // From metadata.json's digest: "sha256" or "sha512" and the lower-case hex digest; empty when
  // the metadata does not list this file.
  std::string digest_algorithm;
  std::string digest_hex;
};

// Writes the content of one file into `sink`, e.g. an HTTP download. Called at most once per
// ensure_file, with the blob lock held.
using Download = std::function<Result<void>(util::ByteSink& sink)>;

struct EnsureResult {
  std::filesystem::path path; // snapshots/<commit>/<path>
  bool downloaded = false;    // false: the blob was already in the cache
  uint64_t bytes = 0;         // bytes downloaded
};

// What a cheap verification compares (stat), and what a full one does (re-hash every file).
enum class VerifyMode { cheap, full };

struct VerifyIssue {
  std::filesystem::path path;
  std::string problem; // "sha256 is ab12…, expected cd34…", "missing", "dangling symlink"
};

struct VerifyReport {
  size_t repos = 0;
  size_t snapshots_files = 0;
  size_t blobs = 0;
  std::vector<VerifyIssue>
      errors; // corruption: a blob that does not match its name, a dangling link
  std::vector<VerifyIssue> notes; // leftovers: incomplete or temporary files
  bool ok() const { return errors.empty(); }
};

struct RepoSummary {
  std::string repo_id;                                   // "org/name"
  std::vector<std::pair<std::string, std::string>> refs; // revision -> commit, sorted
  std::vector<std::string> snapshots;                    // commits, sorted
  uint64_t blob_bytes = 0;
  size_t blobs = 0;
  std::string repo_type = "kernel"; // "kernel" (kernels--org--name) or "model" (models--...)
};

struct PruneOptions {
  // Only files last modified longer ago than this are removed (0: any age).
  std::chrono::seconds older_than{0};
  bool dry_run = false;
};

struct PruneReport {
  std::vector<std::filesystem::path> removed; // or, with dry_run, what would be
  uint64_t bytes = 0;
};

class Cache {
public:
  // The cache at `root`; nothing is created until something is written.
  static Cache at(std::filesystem::path root);

  const std::filesystem::path& root() const { return m_root; }
  std::filesystem::path repo_dir(std::string_view repo_id) const;
  std::filesystem::path snapshot_dir(std::string_view repo_id, std::string_view commit) const;

  // refs/<revision>: the commit it names, or nullopt when absent. A file that does not hold a
  // 40-hex commit is treated as absent (huggingface_hub writes them without fsync).
  std::optional<std::string> read_ref(std::string_view repo_id, std::string_view revision) const;
  // Every refs/ file, including nested names ("refs/pr/1"), sorted by revision.
  std::vector<std::pair<std::string, std::string>> list_refs(std::string_view repo_id) const;
  // Atomically replaces refs/<revision>.
  Result<void> write_ref(std::string_view repo_id, std::string_view revision,
                         std::string_view commit) const;

  // Whether blobs/<etag> is present (then ensure_file only links it); false for an invalid etag.
  bool has_blob(std::string_view repo_id, std::string_view etag) const;

  // snapshots/<commit>/<path> when it resolves to an existing regular file, else nullopt.
  std::optional<std::filesystem::path> find_file(std::string_view repo_id, std::string_view commit,
                                                 std::string_view path) const;

  // Makes snapshots/<commit>/<file.path> present and verified:
  // - when blobs/<etag> exists (kget's or huggingface_hub's), only the snapshot link is made;
  // - otherwise, under the blob's flock, `download` streams into a temporary file in blobs/ that is
  //   hashed as it is written; its size, its etag digest and the metadata digest (when given) are
  //   checked, and only then is it renamed to blobs/<etag>. A mismatch is ErrorKind::integrity
  //   naming the file, what was expected and what arrived; the temporary file is removed.
  // Concurrent callers for one blob download it once: the others wait for the lock and find it.
  Result<EnsureResult> ensure_file(std::string_view repo_id, std::string_view commit,
                                   const FileSpec& file, const Download& download) const;

  // Checks that the files of one variant, already present, are still what was verified: `cheap`
  // compares each file's size, mtime and inode with the record ensure_file (or a previous full
  // check) wrote under .kget/; `full` re-hashes each file against its digest and refreshes the
  // record. A file without a record (downloaded by huggingface_hub) is hashed once, then recorded.
  Result<void> verify_files(std::string_view repo_id, std::string_view commit,
                            const std::vector<FileSpec>& files, VerifyMode mode) const;

  // kget's bookkeeping for a commit, e.g. the registry's listing of build/ as JSON text: written
  // atomically under .kget/, read back verbatim; nullopt when absent.
  std::optional<std::string> read_note(std::string_view repo_id, std::string_view commit,
                                       std::string_view name) const;
  Result<void> write_note(std::string_view repo_id, std::string_view commit, std::string_view name,
                          std::string_view content) const;

  // `kget cache ls|verify|prune`.
  Result<std::vector<RepoSummary>> list() const;
  VerifyReport verify() const;
  Result<PruneReport> prune(const PruneOptions& options) const;

private:
  explicit Cache(std::filesystem::path root) : m_root(std::move(root)) {}
  std::filesystem::path m_root;
};

} // namespace kget::cache
