// Cache::ensure_file: a blob is streamed into a temporary file beside its final name, hashed as
// it arrives, checked, and only then renamed to its etag and linked from the snapshot.
#include "cache/cache.hpp"
#include "cache/internal.hpp"
#include "digest/digest.hpp"
#include "util/fs.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

namespace kget::cache {

namespace fs = std::filesystem;
using namespace detail;

namespace {

// The temporary blob as the download sees it: every byte is written and hashed, and no more
// bytes than the listing announced are accepted, so a runaway body cannot fill the disk.
class BlobSink final : public util::ByteSink {
public:
  BlobSink(util::AtomicFile& file, const FileSpec& spec, std::string label)
      : m_file(file), m_expected_size(spec.size), m_hasher(digest_needs(spec)),
        m_label(std::move(label)) {
    m_hasher.begin(m_expected_size);
  }

  uint64_t size() const override { return m_size; }

  Result<void> write(std::string_view data) override {
    if (data.size() > m_expected_size - m_size) {
      m_overflowed = true;
      return overflow_failure();
    }
    KGET_TRY(m_file.write(data));
    m_hasher.update(data);
    m_size += data.size();
    start_writeback();
    return {};
  }

  Result<void> restart() override {
    if (::ftruncate(m_file.fd(), 0) != 0 || ::lseek(m_file.fd(), 0, SEEK_SET) != 0) {
      return fail(ErrorKind::io, "cannot truncate {}: {}", m_file.temporary_path().string(),
                  std::strerror(errno));
    }
    m_size = 0;
    m_written_back = 0;
    m_overflowed = false;
    m_hasher.begin(m_expected_size);
    return {};
  }

  bool overflowed() const { return m_overflowed; }

  // The blob is fsynced before it is committed. Asking the kernel to start writing back every
  // few MiB while the download goes on leaves that fsync little to do, instead of the whole file.
  void start_writeback() {
    constexpr uint64_t step = 8u << 20;
    if (m_size - m_written_back >= step) {
      (void)::sync_file_range(m_file.fd(), static_cast<off_t>(m_written_back),
                              static_cast<off_t>(m_size - m_written_back), SYNC_FILE_RANGE_WRITE);
      m_written_back = m_size;
    }
  }

  std::unexpected<Failure> overflow_failure() const {
    return fail(ErrorKind::integrity,
                "{}: the download sent more than the {} bytes expected; it was discarded", m_label,
                m_expected_size);
  }

  BlobDigests finish() {
    BlobDigests digests = m_hasher.finish();
    digests.size = m_size;
    return digests;
  }

private:
  util::AtomicFile& m_file;
  uint64_t m_expected_size;
  ContentHasher m_hasher;
  std::string m_label;
  uint64_t m_size = 0;
  uint64_t m_written_back = 0;
  bool m_overflowed = false;
};

// A listing and a metadata.json that disagree about a sha256 cannot both be met; say so before
// downloading anything.
Result<void> check_consistent(const FileSpec& file, std::string_view label) {
  if (file.digest_algorithm == "sha256" && !file.digest_hex.empty() &&
      digest::is_lower_hex(file.etag, 64) && file.digest_hex != file.etag) {
    return fail(ErrorKind::integrity,
                "{}: the registry names it by sha256 {} but metadata.json's digest is {}; the "
                "published variant is inconsistent",
                label, file.etag, file.digest_hex);
  }
  return {};
}

// A blob that is already in place is trusted by name (verify_files checks content); only a size
// that contradicts the listing is refused here, as it costs one stat.
Result<void> check_present_blob(const fs::path& blob, const FileSpec& file,
                                std::string_view label) {
  auto stamp = stamp_of(blob);
  if (stamp && stamp->size != file.size) {
    return fail(ErrorKind::integrity,
                "{}: the cached blob {} is {} bytes, expected {}; delete it and pull again", label,
                blob.string(), stamp->size, file.size);
  }
  return {};
}

Result<void> link_snapshot_file(const fs::path& repo_dir, std::string_view commit,
                                const FileSpec& file) {
  fs::path relative = fs::path("snapshots") / commit / file.path;
  KGET_TRY(make_real_directories(repo_dir, relative.parent_path()));
  return place_symlink(repo_dir / relative, blob_link_target(file.path, file.etag));
}

} // namespace

Result<EnsureResult> Cache::ensure_file(std::string_view repo_id, std::string_view commit,
                                        const FileSpec& file, const Download& download) const {
  KGET_TRY(check_repo_id(repo_id));
  KGET_TRY(check_commit(commit));
  KGET_TRY(check_file_spec(file));
  std::string label = fmt::format("{} of {} at {}", file.path, repo_id, commit);
  KGET_TRY(check_consistent(file, label));

  fs::path repo = repo_dir(repo_id);
  fs::path blob = repo / "blobs" / file.etag;
  EnsureResult result{snapshot_dir(repo_id, commit) / file.path, false, 0};
  // Nothing but the link is written when the blob is present, so a read-only cache whose links
  // exist keeps working.
  if (is_plain_file(blob)) {
    KGET_TRY(check_present_blob(blob, file, label));
    KGET_TRY(link_snapshot_file(repo, commit, file));
    return result;
  }

  KGET_TRY(prepare_repo(m_root, repo));

  // huggingface_hub locks the same file (file_download.py), so the two tools take turns.
  KGET_TRY_ASSIGN(auto lock, util::FileLock::acquire(m_root / ".locks" / repo_folder_name(repo_id) /
                                                     fmt::format("{}.lock", file.etag)));
  if (is_plain_file(blob)) { // another process finished it while this one waited
    KGET_TRY(check_present_blob(blob, file, label));
    KGET_TRY(link_snapshot_file(repo, commit, file));
    return result;
  }
  KGET_TRY(make_real_directories(repo, "blobs"));
  KGET_TRY_ASSIGN(auto temporary, util::AtomicFile::create(blob));
  BlobSink sink(temporary, file, label);
  auto downloaded = download(sink);
  if (sink.overflowed()) {
    return sink.overflow_failure();
  }
  KGET_TRY(downloaded);
  BlobDigests digests = sink.finish();
  if (auto mismatch = describe_mismatch(file, digests); !mismatch.empty()) {
    return fail(ErrorKind::integrity, "{}: the download does not match: {}; it was discarded",
                label, mismatch);
  }
  KGET_TRY(temporary.commit());
  if (auto stamp = stamp_of(blob)) {
    write_record(repo, file.etag, {*stamp, recorded_digests(digests)});
  }
  KGET_TRY(link_snapshot_file(repo, commit, file));
  result.downloaded = true;
  result.bytes = digests.size;
  return result;
}

} // namespace kget::cache
