// Hashing blobs, comparing them with what the listing and metadata.json promise, and the records
// that let a later check trust stat instead of hashing again.
#include "cache/internal.hpp"
#include "digest/digest.hpp"
#include "util/fs.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>

namespace kget::cache::detail {

namespace {

constexpr int record_format = 1;
constexpr size_t max_record_size = 64u << 10;

} // namespace

DigestNeeds digest_needs(const FileSpec& file) {
  return {digest::is_lower_hex(file.etag, 40),
          !file.digest_hex.empty() && file.digest_algorithm == "sha512"};
}

struct ContentHasher::State {
  digest::Hasher sha256{digest::Algorithm::sha256};
  std::optional<digest::GitBlobHasher> git_sha1;
  std::optional<digest::Hasher> sha512;
};

ContentHasher::ContentHasher(DigestNeeds needs) : m_needs(needs) {
  begin(0);
}

ContentHasher::ContentHasher(ContentHasher&&) noexcept = default;
ContentHasher::~ContentHasher() = default;

void ContentHasher::begin(uint64_t size) {
  m_state = std::make_unique<State>();
  if (m_needs.git_sha1) {
    m_state->git_sha1.emplace(size);
  }
  if (m_needs.sha512) {
    m_state->sha512.emplace(digest::Algorithm::sha512);
  }
}

void ContentHasher::update(std::string_view data) {
  m_state->sha256.update(data);
  if (m_state->git_sha1) {
    m_state->git_sha1->update(data);
  }
  if (m_state->sha512) {
    m_state->sha512->update(data);
  }
}

BlobDigests ContentHasher::finish() {
  BlobDigests digests;
  digests.sha256 = m_state->sha256.finish_hex();
  if (m_state->git_sha1) {
    digests.git_sha1 = m_state->git_sha1->finish_hex();
  }
  if (m_state->sha512) {
    digests.sha512 = m_state->sha512->finish_hex();
  }
  m_state.reset();
  return digests;
}

Result<BlobDigests> hash_blob(const fs::path& path, DigestNeeds needs) {
  ContentHasher hasher(needs);
  KGET_TRY_ASSIGN(uint64_t size, util::read_chunks(
                                     path, [&](uint64_t file_size) { hasher.begin(file_size); },
                                     [&](std::string_view chunk) -> Result<void> {
                                       hasher.update(chunk);
                                       return {};
                                     }));
  BlobDigests digests = hasher.finish();
  digests.size = size;
  return digests;
}

std::string describe_mismatch(const FileSpec& file, const BlobDigests& actual) {
  if (actual.size != file.size) {
    return fmt::format("size is {} bytes, expected {}", actual.size, file.size);
  }
  if (digest::is_lower_hex(file.etag, 64) && actual.sha256 != file.etag) {
    return fmt::format("sha256 is {}, expected {} (its etag)", actual.sha256, file.etag);
  }
  if (digest::is_lower_hex(file.etag, 40) && actual.git_sha1 != file.etag) {
    return fmt::format("git blob id is {}, expected {} (its etag)", actual.git_sha1, file.etag);
  }
  if (!file.digest_hex.empty()) {
    const std::string& got = file.digest_algorithm == "sha512" ? actual.sha512 : actual.sha256;
    if (got != file.digest_hex) {
      return fmt::format("{} is {}, expected {} (metadata.json's digest)", file.digest_algorithm,
                         got, file.digest_hex);
    }
  }
  return {};
}

std::optional<FileStamp> stamp_of(const fs::path& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    return std::nullopt;
  }
  return FileStamp{static_cast<uint64_t>(info.st_size),
                   static_cast<int64_t>(info.st_mtim.tv_sec) * 1'000'000'000 + info.st_mtim.tv_nsec,
                   static_cast<uint64_t>(info.st_ino), static_cast<uint64_t>(info.st_dev)};
}

std::string describe_stamp_change(const FileStamp& recorded, const FileStamp& now) {
  if (recorded.size != now.size) {
    return fmt::format("it changed since it was verified: size is {} bytes, was {}", now.size,
                       recorded.size);
  }
  if (recorded.inode != now.inode || recorded.device != now.device) {
    return "it was replaced by another file since it was verified (inode changed)";
  }
  return fmt::format("it was modified since it was verified (mtime {} ns, was {} ns)", now.mtime_ns,
                     recorded.mtime_ns);
}

fs::path record_path(const fs::path& repo_dir, std::string_view etag) {
  return repo_dir / kget_dir_name / records_dir_name / fmt::format("{}.json", etag);
}

std::optional<VerificationRecord> read_record(const fs::path& repo_dir, std::string_view etag) {
  auto text = util::read_file(record_path(repo_dir, etag), max_record_size);
  if (!text) {
    return std::nullopt;
  }
  auto document = nlohmann::json::parse(*text, nullptr, false);
  // A record kget cannot read is no record: the blob is hashed again and the record rewritten.
  try {
    if (document.is_discarded() || document.value("format", 0) != record_format) {
      return std::nullopt;
    }
    VerificationRecord record;
    record.stamp.size = document.at("size").get<uint64_t>();
    record.stamp.mtime_ns = document.at("mtime_ns").get<int64_t>();
    record.stamp.inode = document.at("inode").get<uint64_t>();
    record.stamp.device = document.at("device").get<uint64_t>();
    record.digests = document.at("digests").get<std::map<std::string, std::string>>();
    return record;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

void write_record(const fs::path& repo_dir, std::string_view etag,
                  const VerificationRecord& record) {
  nlohmann::json document = {{"format", record_format},           {"size", record.stamp.size},
                             {"mtime_ns", record.stamp.mtime_ns}, {"inode", record.stamp.inode},
                             {"device", record.stamp.device},     {"digests", record.digests}};
  fs::path relative = fs::path(kget_dir_name) / records_dir_name;
  if (make_real_directories(repo_dir, relative)) {
    (void)util::write_file_atomic(record_path(repo_dir, etag), document.dump(1) + "\n");
  }
}

std::map<std::string, std::string> recorded_digests(const BlobDigests& digests) {
  std::map<std::string, std::string> recorded{{"sha256", digests.sha256}};
  if (!digests.git_sha1.empty()) {
    recorded["git-sha1"] = digests.git_sha1;
  }
  if (!digests.sha512.empty()) {
    recorded["sha512"] = digests.sha512;
  }
  return recorded;
}

} // namespace kget::cache::detail
