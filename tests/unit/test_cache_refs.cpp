#include "support/temp_dir.hpp"
#include "test_cache_support.hpp"

#include <filesystem>
#include <gtest/gtest.h>

using namespace kget;
using namespace kget::cache;
using namespace kget::cache::testing;
using kget::testing::read_file;
using kget::testing::write_file;
using namespace std::string_literals;

namespace {

using RefsTest = CacheTest;
using NotesTest = CacheTest;
using FindFileTest = CacheTest;

TEST_F(RefsTest, RoundTripIncludingNestedNames) {
  ASSERT_TRUE(m_cache.write_ref(repo_id, "main", commit_a));
  ASSERT_TRUE(m_cache.write_ref(repo_id, "v1", commit_b));
  ASSERT_TRUE(m_cache.write_ref(repo_id, "refs/pr/1", commit_b));
  EXPECT_EQ(m_cache.read_ref(repo_id, "main"), commit_a);
  EXPECT_EQ(m_cache.read_ref(repo_id, "refs/pr/1"), commit_b);
  // The Hub layout: one file per revision, nested directories for '/', no newline.
  EXPECT_EQ(read_file(repo() / "refs" / "refs" / "pr" / "1"), commit_b);
  EXPECT_EQ(read_file(repo() / "refs" / "main"), commit_a);

  ASSERT_TRUE(m_cache.write_ref(repo_id, "main", commit_b));
  EXPECT_EQ(m_cache.read_ref(repo_id, "main"), commit_b);

  using Refs = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(m_cache.list_refs(repo_id),
            (Refs{{"main", commit_b}, {"refs/pr/1", commit_b}, {"v1", commit_b}}));
  EXPECT_TRUE(temporary_files(root()).empty());
  EXPECT_TRUE(fs::exists(root() / "CACHEDIR.TAG"));
}

TEST_F(RefsTest, AbsentOrGarbageIsNoRef) {
  EXPECT_EQ(m_cache.read_ref(repo_id, "main"), std::nullopt);
  EXPECT_TRUE(m_cache.list_refs(repo_id).empty());
  write_file(repo() / "refs" / "main", "not a commit\n");
  write_file(repo() / "refs" / "v1", commit_a.substr(0, 39));
  write_file(repo() / "refs" / "v2", commit_a + "\n"); // huggingface_hub may leave a newline
  EXPECT_EQ(m_cache.read_ref(repo_id, "main"), std::nullopt);
  EXPECT_EQ(m_cache.read_ref(repo_id, "v1"), std::nullopt);
  EXPECT_EQ(m_cache.read_ref(repo_id, "v2"), commit_a);
  using Refs = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(m_cache.list_refs(repo_id), (Refs{{"v2", commit_a}}));
}

TEST_F(RefsTest, InvalidNamesAreRefused) {
  for (std::string revision : {"../escape", "/abs", "a//b", "", ".hidden", "a/./b", "a\\b"}) {
    auto written = m_cache.write_ref(repo_id, revision, commit_a);
    ASSERT_FALSE(written) << revision;
    EXPECT_EQ(written.error().kind, ErrorKind::invalid_reference);
    EXPECT_NE(written.error().message.find("invalid revision"), std::string::npos);
    EXPECT_EQ(m_cache.read_ref(repo_id, revision), std::nullopt);
  }
  auto bad_commit = m_cache.write_ref(repo_id, "main", "HEAD");
  ASSERT_FALSE(bad_commit);
  EXPECT_EQ(bad_commit.error().kind, ErrorKind::invalid_reference);
  EXPECT_NE(bad_commit.error().message.find("40 lower-case hex digits"), std::string::npos);
  auto bad_repo = m_cache.write_ref("../../x", "main", commit_a);
  ASSERT_FALSE(bad_repo);
  EXPECT_EQ(bad_repo.error().kind, ErrorKind::invalid_reference);
  EXPECT_FALSE(fs::exists(root()));
}

TEST_F(NotesTest, RoundTripVerbatim) {
  EXPECT_EQ(m_cache.read_note(repo_id, commit_a, "listing.json"), std::nullopt);
  std::string content = "{\"files\": []}\n\0binary"s;
  ASSERT_TRUE(m_cache.write_note(repo_id, commit_a, "listing.json", content));
  EXPECT_EQ(m_cache.read_note(repo_id, commit_a, "listing.json"), content);
  EXPECT_EQ(read_file(repo() / ".kget" / commit_a / "listing.json"), content);
  ASSERT_TRUE(m_cache.write_note(repo_id, commit_a, "listing.json", "v2"));
  EXPECT_EQ(m_cache.read_note(repo_id, commit_a, "listing.json"), "v2");
  EXPECT_EQ(m_cache.read_note(repo_id, commit_b, "listing.json"), std::nullopt);
  EXPECT_TRUE(temporary_files(root()).empty());
}

TEST_F(NotesTest, NamesAndCommitsCannotEscape) {
  for (std::string name : {"../x", "a/b", ".hidden", "", "/etc/passwd", "..", "x\ny"}) {
    auto written = m_cache.write_note(repo_id, commit_a, name, "x");
    ASSERT_FALSE(written) << name;
    EXPECT_EQ(written.error().kind, ErrorKind::usage);
    EXPECT_NE(written.error().message.find("invalid note name"), std::string::npos);
    EXPECT_EQ(m_cache.read_note(repo_id, commit_a, name), std::nullopt);
  }
  auto bad_commit = m_cache.write_note(repo_id, "../../..", "x", "x");
  ASSERT_FALSE(bad_commit);
  EXPECT_EQ(bad_commit.error().kind, ErrorKind::invalid_reference);
  EXPECT_FALSE(fs::exists(root()));
}

TEST_F(FindFileTest, FindsOnlyResolvedFilesInsideTheCache) {
  auto file = git_file("build/v/x.txt", "x\n");
  EXPECT_EQ(m_cache.find_file(repo_id, commit_a, file.path), std::nullopt);
  ensure(file, "x\n");
  EXPECT_EQ(m_cache.find_file(repo_id, commit_a, file.path), snapshot_path(file));
  EXPECT_EQ(m_cache.find_file(repo_id, commit_a, "build/v"), std::nullopt); // a directory
  EXPECT_EQ(m_cache.find_file(repo_id, commit_a, "build/../build/v/x.txt"), std::nullopt);

  // A link out of the cache is not a cached file.
  write_file(m_dir.path() / "outside.txt", "secret");
  fs::create_symlink(m_dir.path() / "outside.txt", snapshot_path(file).parent_path() / "out.txt");
  EXPECT_EQ(m_cache.find_file(repo_id, commit_a, "build/v/out.txt"), std::nullopt);

  // A dangling link is not one either.
  fs::remove(blob(file));
  EXPECT_EQ(m_cache.find_file(repo_id, commit_a, file.path), std::nullopt);
}

} // namespace
