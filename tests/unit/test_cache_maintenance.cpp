#include "support/temp_dir.hpp"
#include "test_cache_support.hpp"
#include "util/fs.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>

using namespace kget;
using namespace kget::cache;
using namespace kget::cache::testing;
using kget::testing::read_file;
using kget::testing::write_file;

namespace {

const std::string library_bytes(4096, 'L');
const std::string metadata_bytes = "{\"name\": \"relu\"}\n";

bool mentions(const std::string& message, const std::string& part) {
  return message.find(part) != std::string::npos;
}

// Rewrites a file in place: same inode, new bytes.
void overwrite(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::in | std::ios::out);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  out.close();
  ASSERT_TRUE(out.good());
}

void set_age(const fs::path& path, std::chrono::hours age) {
  fs::last_write_time(path, fs::file_time_type::clock::now() - age);
}

class VerifyFilesTest : public CacheTest {
protected:
  void SetUp() override {
    m_library = lfs_file("build/v/librelu.so", library_bytes);
    m_library.digest_algorithm = "sha512";
    m_library.digest_hex = sha512_hex(library_bytes);
    m_metadata = git_file("build/v/metadata.json", metadata_bytes);
    ensure(m_library, library_bytes);
    ensure(m_metadata, metadata_bytes);
  }

  Result<void> verify(VerifyMode mode) {
    return m_cache.verify_files(repo_id, commit_a, {m_library, m_metadata}, mode);
  }

  FileSpec m_library;
  FileSpec m_metadata;
};

TEST_F(VerifyFilesTest, FreshDownloadsPassBothModes) {
  EXPECT_TRUE(verify(VerifyMode::cheap)) << verify(VerifyMode::cheap).error().message;
  EXPECT_TRUE(verify(VerifyMode::full)) << verify(VerifyMode::full).error().message;
}

TEST_F(VerifyFilesTest, CheapDetectsAFileRewrittenWithAnotherSize) {
  { std::ofstream(blob(m_library), std::ios::binary | std::ios::app) << "appended"; }
  auto result = verify(VerifyMode::cheap);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::integrity);
  EXPECT_TRUE(mentions(result.error().message, snapshot_path(m_library).string()));
  EXPECT_TRUE(mentions(result.error().message, "size is 4104 bytes, was 4096"));
  EXPECT_TRUE(mentions(result.error().message, "delete " + blob(m_library).string()));
  EXPECT_TRUE(mentions(result.error().message, "pull again"));
  EXPECT_FALSE(mentions(result.error().message, m_metadata.path));
}

TEST_F(VerifyFilesTest, CheapDetectsAFileRewrittenWithAnotherMtime) {
  auto before = fs::last_write_time(blob(m_metadata));
  overwrite(blob(m_metadata), "{\"name\": \"evil\"}\n");
  fs::last_write_time(blob(m_metadata), before + std::chrono::seconds(5));
  auto result = verify(VerifyMode::cheap);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::integrity);
  EXPECT_TRUE(mentions(result.error().message, m_metadata.path));
  EXPECT_TRUE(mentions(result.error().message, "modified since it was verified"));
}

TEST_F(VerifyFilesTest, FullDetectsASameSizeCorruptionThatCheapCannotSee) {
  auto before = fs::last_write_time(blob(m_library));
  std::string corrupted = library_bytes;
  corrupted[10] = 'X';
  overwrite(blob(m_library), corrupted);
  fs::last_write_time(blob(m_library), before); // the stamp is what the record says
  EXPECT_TRUE(verify(VerifyMode::cheap));

  auto result = verify(VerifyMode::full);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::integrity);
  EXPECT_TRUE(mentions(result.error().message, m_library.path));
  EXPECT_TRUE(mentions(result.error().message, digest::sha256_hex(corrupted)));
  EXPECT_TRUE(mentions(result.error().message, m_library.etag));
}

TEST_F(VerifyFilesTest, AMissingRecordIsHashedOnceThenRecorded) {
  fs::remove_all(repo() / ".kget");
  EXPECT_TRUE(verify(VerifyMode::cheap));
  EXPECT_TRUE(fs::exists(repo() / ".kget" / "verified" / (m_library.etag + ".json")));
  EXPECT_TRUE(fs::exists(repo() / ".kget" / "verified" / (m_metadata.etag + ".json")));
}

TEST_F(VerifyFilesTest, AHuggingFaceBlobWithoutARecordIsHashed) {
  // Placed by huggingface_hub: no record, and its content does not match the metadata digest.
  auto other = lfs_file("build/v/other.so", "other content");
  other.digest_algorithm = "sha256";
  other.digest_hex = other.etag;
  write_file(blob(other), "other content");
  ensure(other, "other content");
  EXPECT_TRUE(m_cache.verify_files(repo_id, commit_a, {other}, VerifyMode::cheap));

  auto mislabelled = git_file("build/v/notes.txt", "notes");
  write_file(blob(mislabelled), "NOTES");
  ensure(mislabelled, "notes");
  auto result = m_cache.verify_files(repo_id, commit_a, {mislabelled}, VerifyMode::cheap);
  ASSERT_FALSE(result);
  EXPECT_TRUE(mentions(result.error().message, "git blob id is " + git_oid("NOTES")));
}

TEST_F(VerifyFilesTest, AMissingOrMisdirectedFileFails) {
  auto absent = lfs_file("build/v/absent.so", "absent");
  auto result = m_cache.verify_files(repo_id, commit_a, {absent}, VerifyMode::cheap);
  ASSERT_FALSE(result);
  EXPECT_TRUE(mentions(result.error().message, "missing"));

  fs::remove(snapshot_path(m_metadata));
  fs::create_symlink("../../../../blobs/" + m_library.etag, snapshot_path(m_metadata));
  result = verify(VerifyMode::cheap);
  ASSERT_FALSE(result);
  EXPECT_TRUE(mentions(result.error().message, "does not point at its blob"));
}

using CacheVerifyTest = CacheTest;

TEST_F(CacheVerifyTest, AnEmptyOrAbsentCacheIsClean) {
  auto report = m_cache.verify();
  EXPECT_TRUE(report.ok());
  EXPECT_EQ(report.repos, 0u);
  EXPECT_TRUE(report.notes.empty());
}

TEST_F(CacheVerifyTest, DetectsACorruptedBlobAndADanglingLink) {
  auto library = lfs_file("build/v/librelu.so", library_bytes);
  auto metadata = git_file("build/v/metadata.json", metadata_bytes);
  ensure(library, library_bytes);
  ensure(metadata, metadata_bytes);
  auto clean = m_cache.verify();
  EXPECT_TRUE(clean.ok());
  EXPECT_TRUE(clean.notes.empty());
  EXPECT_EQ(clean.repos, 1u);
  EXPECT_EQ(clean.blobs, 2u);
  EXPECT_EQ(clean.snapshots_files, 2u);

  overwrite(blob(library), "X");
  fs::remove(blob(metadata));
  auto report = m_cache.verify();
  ASSERT_EQ(report.errors.size(), 2u);
  EXPECT_FALSE(report.ok());
  auto find = [&](const fs::path& path) {
    return std::find_if(report.errors.begin(), report.errors.end(),
                        [&](const VerifyIssue& issue) { return issue.path == path; });
  };
  auto corrupt = find(blob(library));
  ASSERT_NE(corrupt, report.errors.end());
  EXPECT_TRUE(mentions(corrupt->problem, "sha256 is "));
  EXPECT_TRUE(mentions(corrupt->problem, "expected " + library.etag));
  auto dangling = find(snapshot_path(metadata));
  ASSERT_NE(dangling, report.errors.end());
  EXPECT_TRUE(mentions(dangling->problem, "dangling symlink"));
}

TEST_F(CacheVerifyTest, DetectsAGitBlobThatDoesNotMatchItsName) {
  auto metadata = git_file("metadata.json", metadata_bytes);
  write_file(blob(metadata), "something else");
  auto report = m_cache.verify();
  ASSERT_EQ(report.errors.size(), 1u);
  EXPECT_TRUE(mentions(report.errors[0].problem, "git blob id is " + git_oid("something else")));
}

TEST_F(CacheVerifyTest, ForgivesATouchAndRefreshesTheRecord) {
  auto library = lfs_file("build/v/librelu.so", library_bytes);
  library.digest_algorithm = "sha512";
  library.digest_hex = sha512_hex(library_bytes);
  ensure(library, library_bytes);
  set_age(blob(library), std::chrono::hours(1));
  EXPECT_FALSE(m_cache.verify_files(repo_id, commit_a, {library}, VerifyMode::cheap));
  EXPECT_TRUE(m_cache.verify().ok());
  auto again = m_cache.verify_files(repo_id, commit_a, {library}, VerifyMode::cheap);
  EXPECT_TRUE(again) << again.error().message;
}

TEST_F(CacheVerifyTest, LeftoversAreNotesNotErrors) {
  auto library = lfs_file("build/v/librelu.so", library_bytes);
  ensure(library, library_bytes);
  write_file(repo() / "blobs" / ("." + library.etag + ".kget-tmp.abc123"), "half");
  write_file(repo() / "blobs" / (library.etag + ".a1b2c3d4.incomplete"), "half");
  write_file(repo() / "refs" / ".main.kget-tmp.zzzzzz", "x");
  auto report = m_cache.verify();
  EXPECT_TRUE(report.ok());
  EXPECT_EQ(report.notes.size(), 3u);
  EXPECT_EQ(report.blobs, 1u);
}

using PruneTest = CacheTest;

TEST_F(PruneTest, RemovesUnreferencedBlobsAndLeftoversAndReportsBytes) {
  auto kept = lfs_file("build/v/librelu.so", library_bytes);
  ensure(kept, library_bytes);
  auto orphan = git_file("old.txt", "old content");
  ensure(orphan, "old content");
  fs::remove(snapshot_path(orphan));
  auto leftover = repo() / "blobs" / ("." + std::string(64, 'a') + ".kget-tmp.abc123");
  auto incomplete = repo() / "blobs" / (std::string(40, 'b') + ".incomplete");
  write_file(leftover, "12345");
  write_file(incomplete, "123");

  auto report = m_cache.prune({});
  ASSERT_TRUE(report) << report.error().message;
  auto& removed = report->removed;
  EXPECT_NE(std::find(removed.begin(), removed.end(), blob(orphan)), removed.end());
  EXPECT_NE(std::find(removed.begin(), removed.end(), leftover), removed.end());
  EXPECT_NE(std::find(removed.begin(), removed.end(), incomplete), removed.end());
  EXPECT_EQ(std::find(removed.begin(), removed.end(), blob(kept)), removed.end());
  EXPECT_GE(report->bytes, 11u + 5u + 3u);
  EXPECT_FALSE(fs::exists(blob(orphan)));
  EXPECT_FALSE(fs::exists(repo() / ".kget" / "verified" / (orphan.etag + ".json")));
  EXPECT_FALSE(fs::exists(leftover));
  EXPECT_FALSE(fs::exists(incomplete));
  EXPECT_EQ(read_file(snapshot_path(kept)), library_bytes);
  auto after = m_cache.verify();
  EXPECT_TRUE(after.ok());
  EXPECT_TRUE(after.notes.empty());
}

TEST_F(PruneTest, DryRunRemovesNothingAndOlderThanSparesRecentFiles) {
  auto old_orphan = git_file("old.txt", "old");
  auto new_orphan = git_file("new.txt", "new");
  ensure(old_orphan, "old");
  ensure(new_orphan, "new");
  fs::remove(snapshot_path(old_orphan));
  fs::remove(snapshot_path(new_orphan));
  set_age(blob(old_orphan), std::chrono::hours(48));

  PruneOptions options;
  options.older_than = std::chrono::hours(24);
  options.dry_run = true;
  auto dry = m_cache.prune(options);
  ASSERT_TRUE(dry) << dry.error().message;
  ASSERT_GE(dry->removed.size(), 1u);
  EXPECT_EQ(dry->removed[0], blob(old_orphan));
  EXPECT_EQ(std::count(dry->removed.begin(), dry->removed.end(), blob(new_orphan)), 0);
  EXPECT_EQ(dry->bytes, 3u);
  EXPECT_TRUE(fs::exists(blob(old_orphan)));

  options.dry_run = false;
  auto real = m_cache.prune(options);
  ASSERT_TRUE(real) << real.error().message;
  EXPECT_FALSE(fs::exists(blob(old_orphan)));
  EXPECT_TRUE(fs::exists(blob(new_orphan)));
}

TEST_F(PruneTest, AHeldLockProtectsATemporaryFile) {
  std::string etag(64, 'c');
  auto temporary = repo() / "blobs" / ("." + etag + ".kget-tmp.qwerty");
  write_file(temporary, "in progress");
  auto lock_path = root() / ".locks" / "kernels--acme--relu" / (etag + ".lock");
  {
    auto lock = util::FileLock::acquire(lock_path);
    ASSERT_TRUE(lock) << lock.error().message;
    auto report = m_cache.prune({});
    ASSERT_TRUE(report) << report.error().message;
    EXPECT_TRUE(report->removed.empty());
    EXPECT_TRUE(fs::exists(temporary));
  }
  auto report = m_cache.prune({});
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(report->removed, std::vector<fs::path>{temporary});
  EXPECT_FALSE(fs::exists(temporary));
}

using ListTest = CacheTest;

TEST_F(ListTest, ListsKernelAndModelRepositories) {
  auto library = lfs_file("build/v/librelu.so", library_bytes);
  auto metadata = git_file("build/v/metadata.json", metadata_bytes);
  ensure(library, library_bytes);
  ensure(metadata, metadata_bytes, commit_b);
  ASSERT_TRUE(m_cache.write_ref(repo_id, "v1", commit_b));
  ASSERT_TRUE(m_cache.write_ref(repo_id, "refs/pr/1", commit_a));
  write_file(repo() / "blobs" / (std::string(40, 'd') + ".incomplete"), "not counted");
  write_file(root() / "models--gpt2" / "refs" / "main", commit_a);
  write_file(root() / "models--org--model" / "blobs" / std::string(40, 'e'), "12");
  write_file(root() / "datasets--org--data" / "refs" / "main", commit_a);
  write_file(root() / "not-a-repo" / "x", "x");

  auto listed = m_cache.list();
  ASSERT_TRUE(listed) << listed.error().message;
  ASSERT_EQ(listed->size(), 3u);
  const auto& kernel = (*listed)[0];
  EXPECT_EQ(kernel.repo_id, "acme/relu");
  EXPECT_EQ(kernel.repo_type, "kernel");
  using Refs = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(kernel.refs, (Refs{{"refs/pr/1", commit_a}, {"v1", commit_b}}));
  EXPECT_EQ(kernel.snapshots, (std::vector<std::string>{commit_a, commit_b}));
  EXPECT_EQ(kernel.blobs, 2u);
  EXPECT_EQ(kernel.blob_bytes, library_bytes.size() + metadata_bytes.size());
  EXPECT_EQ((*listed)[1].repo_id, "gpt2");
  EXPECT_EQ((*listed)[1].repo_type, "model");
  EXPECT_EQ((*listed)[2].repo_id, "org/model");
  EXPECT_EQ((*listed)[2].blobs, 1u);
  EXPECT_EQ((*listed)[2].blob_bytes, 2u);
}

TEST_F(ListTest, AnAbsentCacheListsNothing) {
  auto listed = m_cache.list();
  ASSERT_TRUE(listed) << listed.error().message;
  EXPECT_TRUE(listed->empty());
}

} // namespace
