// What the cache's source files share: name validation, the hashing of blobs, symlinks, and
// kget's verification records. Not part of the module's interface.
#pragma once

#include "cache/cache.hpp"
#include "util/result.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kget::cache::detail {

namespace fs = std::filesystem;

// <repo>/.kget/: kget's bookkeeping. Notes live in .kget/<commit>/ (a commit is 40 hex), the
// verification records in .kget/verified/<etag>.json, so the two never collide.
constexpr std::string_view kget_dir_name = ".kget";
constexpr std::string_view records_dir_name = "verified";

// Every name is checked before it becomes part of a path, so nothing leaves the cache root.
// Repository ids and revisions fail with ErrorKind::invalid_reference, the rest with usage.
Result<void> check_repo_id(std::string_view repo_id);
Result<void> check_commit(std::string_view commit);
Result<void> check_revision(std::string_view revision);
Result<void> check_repo_path(std::string_view path);
Result<void> check_etag(std::string_view etag);
Result<void> check_note_name(std::string_view name);
Result<void> check_file_spec(const FileSpec& file);

// The relative target of snapshots/<commit>/<path>: "../../blobs/<etag>", with one more "../"
// for every directory in `path`.
std::string blob_link_target(std::string_view path, std::string_view etag);

// A file a writer leaves while it works: AtomicFile's `.<name>.kget-tmp.XXXXXX` or
// huggingface_hub's `<etag>[.<id>].incomplete`.
bool is_leftover_name(std::string_view file_name);
// The blob a leftover in blobs/ was going to become, when its name says so.
std::optional<std::string> leftover_etag(std::string_view file_name);

// base/relative, created one directory at a time; an existing component that is not a real
// directory (a symlink, a file) is refused, so a planted link cannot redirect a write.
Result<void> make_real_directories(const fs::path& base, const fs::path& relative);

// Makes `link` a symlink to `target`: kept when it already is one, otherwise a new link is made
// under a temporary name and renamed over whatever is there.
Result<void> place_symlink(const fs::path& link, const std::string& target);

// Writes CACHEDIR.TAG at `root` unless it exists.
Result<void> write_cachedir_tag(const fs::path& root);

// lstat: a regular file, not a link to one.
bool is_plain_file(const fs::path& path);

// The digests one read of a blob yields. Empty strings for those not asked for.
struct BlobDigests {
  uint64_t size = 0;
  std::string sha256;
  std::string git_sha1;
  std::string sha512;
};

// What a blob must be hashed with to check it against `file`: its etag and its metadata digest.
struct DigestNeeds {
  bool git_sha1 = false;
  bool sha512 = false;
};
DigestNeeds digest_needs(const FileSpec& file);

// Hashes bytes as they stream; begin() starts over (git's blob id needs the size first).
class ContentHasher {
public:
  explicit ContentHasher(DigestNeeds needs);
  ContentHasher(ContentHasher&&) noexcept;
  ~ContentHasher();
  void begin(uint64_t size);
  void update(std::string_view data);
  BlobDigests finish();

private:
  struct State;
  DigestNeeds m_needs;
  std::unique_ptr<State> m_state;
};

Result<BlobDigests> hash_blob(const fs::path& path, DigestNeeds needs);

// How `actual` differs from what `file` promises, e.g. "sha256 is ab…, expected cd…"; empty
// when it matches.
std::string describe_mismatch(const FileSpec& file, const BlobDigests& actual);

// What stat says of a file; a blob whose stamp still matches its record was not rewritten.
struct FileStamp {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t inode = 0;
  uint64_t device = 0;
  bool operator==(const FileStamp&) const = default;
};
// stat(2), following links; nullopt when it fails.
std::optional<FileStamp> stamp_of(const fs::path& path);
std::string describe_stamp_change(const FileStamp& recorded, const FileStamp& now);

// The proof that a blob was hashed: its stamp then, and the digests it had ("sha256",
// "git-sha1", "sha512" -> hex).
struct VerificationRecord {
  FileStamp stamp;
  std::map<std::string, std::string> digests;
};
fs::path record_path(const fs::path& repo_dir, std::string_view etag);
std::optional<VerificationRecord> read_record(const fs::path& repo_dir, std::string_view etag);
// Best effort: a cache on a read-only filesystem still works, it only hashes again next time.
void write_record(const fs::path& repo_dir, std::string_view etag,
                  const VerificationRecord& record);
std::map<std::string, std::string> recorded_digests(const BlobDigests& digests);

// Every refs/ file of a repository that holds a commit, sorted by revision.
std::vector<std::pair<std::string, std::string>> list_refs_in(const fs::path& repo_dir);

// The root's CACHEDIR.TAG and the repository folder, before anything is written into it.
Result<void> prepare_repo(const fs::path& root, const fs::path& repo_dir);

} // namespace kget::cache::detail
