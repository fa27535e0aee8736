// Streaming SHA-256 and SHA-1 (OpenSSL), and the digests the Hub protocol names files by: the
// sha256 of the content, and git's blob id, sha1("blob <size>\0" + content).
#pragma once

#include "util/result.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace kget::digest {

enum class Algorithm { sha256, sha1, sha512 };

class Hasher {
public:
  explicit Hasher(Algorithm algorithm);
  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;
  ~Hasher();
  void update(std::string_view data);
  // Lower-case hex of the digest; the hasher cannot be updated afterwards.
  std::string finish_hex();

private:
  struct State;
  std::unique_ptr<State> m_state;
};

std::string sha256_hex(std::string_view data);
std::string sha1_hex(std::string_view data);

// True when `text` is exactly `length` lower-case hex digits (64 for sha256, 40 for sha1).
bool is_lower_hex(std::string_view text, size_t length);

// Git's object id of a blob, as the Hub reports it in `oid`; needs the size up front, which is
// why it is a hasher of its own.
class GitBlobHasher {
public:
  explicit GitBlobHasher(uint64_t size);
  void update(std::string_view data) { m_sha1.update(data); }
  std::string finish_hex() { return m_sha1.finish_hex(); }

private:
  Hasher m_sha1;
};

struct FileDigests {
  uint64_t size = 0;
  std::string sha256;
  std::string git_oid;
};

// Reads `path` once, computing both digests.
Result<FileDigests> hash_file(const std::filesystem::path& path);

// Lower-case hex of one digest of a file.
Result<std::string> hash_file_hex(const std::filesystem::path& path, Algorithm algorithm);

// Lower-case hex digest to padded base64 (RFC 4648 §4), the form of metadata.json's
// digest.files. `hex` must be a digest as Hasher gives it.
std::string hex_to_base64(std::string_view hex);
// The reverse: padded base64 to lower-case hex; nullopt when `base64` is not valid padded base64.
std::optional<std::string> base64_to_hex(std::string_view base64);

} // namespace kget::digest
