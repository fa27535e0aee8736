// Shared by the cache's tests: a cache in a temporary directory, files to put into it, and
// downloads that are plain lambdas writing into the sink.
#pragma once

#include "cache/cache.hpp"
#include "digest/digest.hpp"
#include "support/temp_dir.hpp"

#include <filesystem>
#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace kget::cache::testing {

namespace fs = std::filesystem;

inline const std::string commit_a = "0123456789abcdef0123456789abcdef01234567";
inline const std::string commit_b = "89abcdef0123456789abcdef0123456789abcdef";
inline const std::string repo_id = "acme/relu";

inline std::string git_oid(const std::string& content) {
  digest::GitBlobHasher hasher(content.size());
  hasher.update(content);
  return hasher.finish_hex();
}

inline std::string sha512_hex(const std::string& content) {
  digest::Hasher hasher(digest::Algorithm::sha512);
  hasher.update(content);
  return hasher.finish_hex();
}

// A file as the Hub lists an LFS file: named by its sha256.
inline FileSpec lfs_file(const std::string& path, const std::string& content) {
  return {path, content.size(), digest::sha256_hex(content), "", ""};
}

// A file as the Hub lists a plain git file: named by its git blob id.
inline FileSpec git_file(const std::string& path, const std::string& content) {
  return {path, content.size(), git_oid(content), "", ""};
}

// A download that writes `content` in small pieces and counts its calls.
inline Download serve(std::string content, int* calls = nullptr) {
  return [content = std::move(content), calls](util::ByteSink& sink) -> Result<void> {
    if (calls != nullptr) {
      ++*calls;
    }
    for (size_t at = 0; at < content.size(); at += 7) {
      KGET_TRY(sink.write(std::string_view(content).substr(at, 7)));
    }
    return {};
  };
}

// Every file whose name marks it as work in progress, anywhere under `dir`.
inline std::vector<fs::path> temporary_files(const fs::path& dir) {
  std::vector<fs::path> found;
  if (!fs::exists(dir)) {
    return found;
  }
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    std::string name = entry.path().filename().string();
    if (name.find(".kget-tmp.") != std::string::npos || name.ends_with(".incomplete")) {
      found.push_back(entry.path());
    }
  }
  return found;
}

class CacheTest : public ::testing::Test {
protected:
  fs::path root() const { return m_dir.path() / "hub"; }
  fs::path repo() const { return root() / "kernels--acme--relu"; }
  fs::path blob(const FileSpec& file) const { return repo() / "blobs" / file.etag; }
  fs::path snapshot_path(const FileSpec& file, const std::string& commit = commit_a) const {
    return repo() / "snapshots" / commit / file.path;
  }

  EnsureResult ensure(const FileSpec& file, const std::string& content,
                      const std::string& commit = commit_a) {
    auto result = m_cache.ensure_file(repo_id, commit, file, serve(content));
    EXPECT_TRUE(result) << result.error().message;
    return result.value_or(EnsureResult{});
  }

  kget::testing::TempDir m_dir;
  Cache m_cache = Cache::at(m_dir.path() / "hub");
};

} // namespace kget::cache::testing
