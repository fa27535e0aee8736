// The registry's on-disk store: repositories `org/name` with immutable commits, branches and
// tags, and file contents addressed by sha256. kget-registry serves it over HTTP; the client
// reads it directly through a `file://` endpoint; `kget push` writes it. Layout and rules:
// docs/registry.md ("The store").
//
// Reads take no lock: every file is written once under a temporary name and renamed into place,
// and the refs of a repository, the last thing a publish writes, are one file replaced in one
// rename. Publishes to one repository are serialised by an flock on `repos/<org>/<name>/lock`.
#pragma once

#include "ref/version.hpp"
#include "util/fs.hpp"
#include "util/result.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kget::store {

// One file of a commit. Files the Hub would keep in git-lfs (lfs = true: binaries and anything
// of 10 MiB or more) are served with their sha256 as ETag; the others with their git blob id.
struct FileEntry {
  std::string path; // relative, '/'-separated, validated by validate_repo_path
  uint64_t size = 0;
  std::string sha256;
  std::string git_oid; // sha1("blob <size>\0" + content)
  bool lfs = false;
  friend bool operator==(const FileEntry&, const FileEntry&) = default;
};

struct Commit {
  std::string id;                   // 40 lower-case hex: sha1 of the commit document
  std::vector<std::string> parents; // the previous head of the branch, if any
  std::string version;              // "1.2.0", as published
  std::string message;
  std::string created;          // "2026-11-21T12:00:00.000Z"
  std::vector<FileEntry> files; // sorted by path
  // The entry for `path`, or nullptr.
  const FileEntry* find(std::string_view path) const;
};

struct Refs {
  std::map<std::string, std::string> branches; // name -> commit id
  std::map<std::string, std::string> tags;
};

// A file to publish: its path in the repository and the digest of a blob already in the store.
struct NewFile {
  std::string path;
  std::string sha256;
  uint64_t size = 0;
};

struct PublishRequest {
  std::string repo; // "org/name"
  ref::Version version;
  std::string message;
  std::vector<NewFile> files;
};

struct PublishResult {
  std::string commit;
  std::string branch;   // "v1"
  std::string tag;      // "v1.2.0"
  bool created = false; // false: the same version with the same files was already there
  bool moved_main = false;
};

// A blob being received (an upload, a copy): hashed while written, committed under its digest.
class BlobWriter {
public:
  Result<void> write(std::string_view data);
  uint64_t size() const { return m_size; }
  // Checks the digest (and size, when given) and renames the blob into place; on a mismatch the
  // temporary file is removed and nothing is stored.
  Result<std::string> commit(std::optional<std::string_view> expected_sha256 = std::nullopt,
                             std::optional<uint64_t> expected_size = std::nullopt);

private:
  friend class Store;
  BlobWriter(util::AtomicFile file, std::filesystem::path blobs_root);
  std::optional<util::AtomicFile> m_file; // reset once committed or refused
  std::filesystem::path m_blobs_root;
  struct Hashing;
  std::shared_ptr<Hashing> m_hashing;
  uint64_t m_size = 0;
};

// What fsck found. Errors make a store inconsistent; notes (leftovers of interrupted writes,
// blobs no commit uses) do not.
struct FsckReport {
  std::vector<std::string> errors;
  std::vector<std::string> notes;
  size_t repositories = 0;
  size_t commits = 0;
  size_t blobs = 0;
  bool ok() const { return errors.empty(); }
};

class Store {
public:
  // An existing store; not_found when `root` has no store marker (`kget-store.json`).
  static Result<Store> open(const std::filesystem::path& root);
  // Opens `root`, creating an empty store there first when it does not exist or is empty.
  static Result<Store> open_or_create(const std::filesystem::path& root);

  const std::filesystem::path& root() const { return m_root; }

  // "org/name" of every repository, sorted.
  Result<std::vector<std::string>> list_repos() const;
  bool has_repo(std::string_view repo) const;
  // not_found when the repository does not exist.
  Result<Refs> read_refs(std::string_view repo) const;
  // A branch or tag name (also as refs/heads/<b>, refs/tags/<t>) or a 40-hex commit id of the
  // repository; not_found (naming what was asked) otherwise.
  Result<std::string> resolve_revision(std::string_view repo, std::string_view revision) const;
  Result<Commit> read_commit(std::string_view repo, std::string_view commit_id) const;

  std::filesystem::path blob_path(std::string_view sha256) const;
  bool has_blob(std::string_view sha256) const;
  // A writer for a new blob (under the store's tmp/ until committed).
  Result<BlobWriter> new_blob() const;
  // Copies a file into the store; returns its sha256.
  Result<std::string> add_blob_from_file(const std::filesystem::path& source) const;

  // Records `request.version` as a commit on branch v<major> (parent: the branch's head), tags it
  // v<version> and moves main when this major is the highest one. Every blob must be present.
  // Publishing a version again with the same files changes nothing (created = false); with other
  // files it fails with ErrorKind::conflict.
  Result<PublishResult> publish(const PublishRequest& request) const;

  // Checks every blob's digest, every commit's id and files, and every ref.
  FsckReport fsck() const;

private:
  explicit Store(std::filesystem::path root) : m_root(std::move(root)) {}
  std::filesystem::path repo_dir(std::string_view repo) const;
  std::filesystem::path m_root;
};

// Rules for a path inside a repository: relative, '/'-separated, no empty, "." or ".." segment,
// no backslash, NUL or control character, at most 1024 bytes. The message names the rule.
Result<void> validate_repo_path(std::string_view path);

// The canonical git-lfs pointer text for a blob; its length is the Hub's `lfs.pointerSize`.
std::string lfs_pointer(std::string_view sha256, uint64_t size);

} // namespace kget::store
