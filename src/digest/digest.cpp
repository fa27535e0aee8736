#include "digest/digest.hpp"

#include "util/fs.hpp"

#include <algorithm>
#include <array>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <optional>
#include <stdexcept>

namespace kget::digest {

struct Hasher::State {
  EVP_MD_CTX* context = nullptr;
  ~State() { EVP_MD_CTX_free(context); }
};

Hasher::Hasher(Algorithm algorithm) : m_state(std::make_unique<State>()) {
  m_state->context = EVP_MD_CTX_new();
  const EVP_MD* md = algorithm == Algorithm::sha256 ? EVP_sha256()
                     : algorithm == Algorithm::sha1 ? EVP_sha1()
                                                    : EVP_sha512();
  // Failing here means OpenSSL is out of memory or broken; there is no sensible way on.
  if (m_state->context == nullptr || EVP_DigestInit_ex(m_state->context, md, nullptr) != 1) {
    throw std::runtime_error("OpenSSL cannot initialise a digest");
  }
}

Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;
Hasher::~Hasher() = default;

void Hasher::update(std::string_view data) {
  EVP_DigestUpdate(m_state->context, data.data(), data.size());
}

std::string Hasher::finish_hex() {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  EVP_DigestFinal_ex(m_state->context, digest.data(), &length);
  static constexpr char hex[] = "0123456789abcdef";
  std::string text;
  text.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    text.push_back(hex[digest[i] >> 4]);
    text.push_back(hex[digest[i] & 15]);
  }
  return text;
}

std::string sha256_hex(std::string_view data) {
  Hasher hasher(Algorithm::sha256);
  hasher.update(data);
  return hasher.finish_hex();
}

std::string sha1_hex(std::string_view data) {
  Hasher hasher(Algorithm::sha1);
  hasher.update(data);
  return hasher.finish_hex();
}

bool is_lower_hex(std::string_view text, size_t length) {
  if (text.size() != length) {
    return false;
  }
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

GitBlobHasher::GitBlobHasher(uint64_t size) : m_sha1(Algorithm::sha1) {
  std::string header = fmt::format("blob {}", size);
  header.push_back('\0');
  m_sha1.update(header);
}

Result<FileDigests> hash_file(const std::filesystem::path& path) {
  Hasher sha256(Algorithm::sha256);
  std::optional<GitBlobHasher> git; // needs the size, known once the file is open
  KGET_TRY_ASSIGN(uint64_t size, util::read_chunks(
                                     path, [&](uint64_t file_size) { git.emplace(file_size); },
                                     [&](std::string_view chunk) -> Result<void> {
                                       sha256.update(chunk);
                                       git->update(chunk);
                                       return {};
                                     }));
  return FileDigests{size, sha256.finish_hex(), git->finish_hex()};
}

Result<std::string> hash_file_hex(const std::filesystem::path& path, Algorithm algorithm) {
  Hasher hasher(algorithm);
  KGET_TRY(util::read_chunks(
      path, [](uint64_t) {},
      [&](std::string_view chunk) -> Result<void> {
        hasher.update(chunk);
        return {};
      }));
  return hasher.finish_hex();
}

std::string hex_to_base64(std::string_view hex) {
  auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  std::string bytes;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    bytes.push_back(static_cast<char>(nibble(hex[i]) * 16 + nibble(hex[i + 1])));
  }
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string text;
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t chunk = static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    size_t available = std::min<size_t>(3, bytes.size() - i);
    if (available > 1) {
      chunk |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    }
    if (available > 2) {
      chunk |= static_cast<unsigned char>(bytes[i + 2]);
    }
    for (size_t j = 0; j < 4; ++j) {
      text.push_back(j <= available ? alphabet[(chunk >> (18 - 6 * j)) & 63] : '=');
    }
  }
  return text;
}

std::optional<std::string> base64_to_hex(std::string_view base64) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') {
      return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
      return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
      return c - '0' + 52;
    }
    return c == '+' ? 62 : c == '/' ? 63 : -1;
  };
  if (base64.empty() || base64.size() % 4 != 0) {
    return std::nullopt;
  }
  size_t padding = base64.ends_with("==") ? 2 : base64.ends_with("=") ? 1 : 0;
  static constexpr char digits[] = "0123456789abcdef";
  std::string hex;
  for (size_t i = 0; i < base64.size(); i += 4) {
    uint32_t chunk = 0;
    bool last = i + 4 == base64.size();
    for (size_t j = 0; j < 4; ++j) {
      char c = base64[i + j];
      int v = (last && c == '=' && j >= 4 - padding) ? 0 : value(c);
      if (v < 0) {
        return std::nullopt;
      }
      chunk = chunk << 6 | static_cast<uint32_t>(v);
    }
    size_t bytes = last ? 3 - padding : 3;
    for (size_t j = 0; j < bytes; ++j) {
      auto byte = (chunk >> (16 - 8 * j)) & 0xff;
      hex.push_back(digits[byte >> 4]);
      hex.push_back(digits[byte & 0xf]);
    }
  }
  return hex;
}

} // namespace kget::digest
