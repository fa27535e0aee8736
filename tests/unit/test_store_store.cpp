#include "digest/digest.hpp"
#include "store/store.hpp"
#include "support/temp_dir.hpp"
#include "util/fs.hpp"

#include <csignal>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <random>
#include <sys/wait.h>
#include <unistd.h>

using namespace kget;
using kget::testing::TempDir;
namespace fs = std::filesystem;

namespace {

ref::Version version(const char* text) {
  return *ref::parse_version(text);
}

class StoreTest : public ::testing::Test {
protected:
  void SetUp() override {
    auto opened = store::Store::open_or_create(m_dir.path() / "store");
    ASSERT_TRUE(opened) << opened.error().message;
    m_store.emplace(std::move(*opened));
  }

  // Adds `content` as a blob and returns the file to publish under `path`.
  store::NewFile add(const std::string& path, const std::string& content) {
    auto source = m_dir.path() / "sources" / std::to_string(m_next++);
    kget::testing::write_file(source, content);
    auto sha256 = m_store->add_blob_from_file(source);
    EXPECT_TRUE(sha256) << sha256.error().message;
    return {path, sha256.value_or(""), content.size()};
  }

  Result<store::PublishResult> publish(const char* repo, const char* ver,
                                       std::vector<store::NewFile> files) {
    return m_store->publish({repo, version(ver), "publish " + std::string(ver), std::move(files)});
  }

  const store::Store& store() const { return *m_store; }
  fs::path root() const { return m_store->root(); }

  TempDir m_dir;
  std::optional<store::Store> m_store;
  int m_next = 0;
};

TEST_F(StoreTest, PublishMakesACommitOnTheMajorBranchAndATag) {
  auto metadata = add("build/kget1-cpu-x86_64-linux/metadata.json", "{\"name\":\"relu\"}\n");
  std::string library_bytes("\x7f"
                            "ELF\0\0binary",
                            12);
  auto library = add("build/kget1-cpu-x86_64-linux/librelu.so", library_bytes);
  auto published = publish("acme/relu", "1.2.0", {library, metadata});
  ASSERT_TRUE(published) << published.error().message;
  EXPECT_TRUE(published->created);
  EXPECT_TRUE(published->moved_main);
  EXPECT_EQ(published->branch, "v1");
  EXPECT_EQ(published->tag, "v1.2.0");
  EXPECT_TRUE(digest::is_lower_hex(published->commit, 40));

  auto refs = store().read_refs("acme/relu");
  ASSERT_TRUE(refs);
  EXPECT_EQ(refs->branches, (std::map<std::string, std::string>{{"main", published->commit},
                                                                {"v1", published->commit}}));
  EXPECT_EQ(refs->tags, (std::map<std::string, std::string>{{"v1.2.0", published->commit}}));

  auto commit = store().read_commit("acme/relu", published->commit);
  ASSERT_TRUE(commit) << commit.error().message;
  EXPECT_EQ(commit->version, "1.2.0");
  EXPECT_EQ(commit->message, "publish 1.2.0");
  EXPECT_TRUE(commit->parents.empty());
  ASSERT_EQ(commit->files.size(), 2u);
  // Sorted by path; binaries are LFS files, text is not; oids are git's.
  EXPECT_EQ(commit->files[0].path, "build/kget1-cpu-x86_64-linux/librelu.so");
  EXPECT_TRUE(commit->files[0].lfs);
  EXPECT_EQ(commit->files[0].sha256, digest::sha256_hex(library_bytes));
  const auto* json_entry = commit->find("build/kget1-cpu-x86_64-linux/metadata.json");
  ASSERT_NE(json_entry, nullptr);
  EXPECT_FALSE(json_entry->lfs);
  EXPECT_EQ(json_entry->size, 16u);
  digest::GitBlobHasher git(16);
  git.update("{\"name\":\"relu\"}\n");
  EXPECT_EQ(json_entry->git_oid, git.finish_hex());
  // An LFS file's oid is that of the pointer git holds for it, as on the Hub.
  auto pointer = store::lfs_pointer(commit->files[0].sha256, 12);
  digest::GitBlobHasher pointer_git(pointer.size());
  pointer_git.update(pointer);
  EXPECT_EQ(commit->files[0].git_oid, pointer_git.finish_hex());
  EXPECT_EQ(commit->find("build/nothing"), nullptr);
  // The commit id is the sha1 of the commit document.
  auto document = util::read_file(root() / "repos/acme/relu/commits" / (commit->id + ".json"));
  ASSERT_TRUE(document);
  EXPECT_EQ(digest::sha1_hex(*document), commit->id);

  EXPECT_EQ(*store().list_repos(), std::vector<std::string>{"acme/relu"});
  EXPECT_TRUE(store().has_repo("acme/relu"));
  EXPECT_FALSE(store().has_repo("acme/other"));
  EXPECT_FALSE(store().has_repo("../etc"));
  auto report = store().fsck();
  EXPECT_TRUE(report.ok()) << report.errors.front();
}

TEST_F(StoreTest, LargeFilesAreLfs) {
  auto big = add("build/v/weights.txt", std::string((10u << 20) + 1, 'a'));
  auto published = publish("acme/big", "1.0.0", {big});
  ASSERT_TRUE(published);
  EXPECT_TRUE(store().read_commit("acme/big", published->commit)->files[0].lfs);
}

TEST_F(StoreTest, ResolvesBranchesTagsAndCommits) {
  auto first = publish("acme/relu", "1.0.0", {add("a.txt", "1")});
  auto second = publish("acme/relu", "1.1.0", {add("a.txt", "2")});
  ASSERT_TRUE(first && second);
  EXPECT_EQ(*store().resolve_revision("acme/relu", "v1"), second->commit);
  EXPECT_EQ(*store().resolve_revision("acme/relu", "main"), second->commit);
  EXPECT_EQ(*store().resolve_revision("acme/relu", "v1.0.0"), first->commit);
  EXPECT_EQ(*store().resolve_revision("acme/relu", "refs/heads/v1"), second->commit);
  EXPECT_EQ(*store().resolve_revision("acme/relu", "refs/tags/v1.0.0"), first->commit);
  EXPECT_EQ(*store().resolve_revision("acme/relu", first->commit), first->commit);
  EXPECT_EQ(store().read_commit("acme/relu", second->commit)->parents,
            std::vector<std::string>{first->commit});

  for (const char* missing :
       {"v2", "refs/heads/v1.0.0", "refs/tags/v1", "0123456789012345678901234567890123456789"}) {
    auto resolved = store().resolve_revision("acme/relu", missing);
    ASSERT_FALSE(resolved) << missing;
    EXPECT_EQ(resolved.error().kind, ErrorKind::not_found);
    EXPECT_NE(resolved.error().message.find(missing), std::string::npos);
  }
  auto no_repo = store().resolve_revision("acme/none", "v1");
  ASSERT_FALSE(no_repo);
  EXPECT_EQ(no_repo.error().kind, ErrorKind::not_found);
  EXPECT_NE(no_repo.error().message.find("repository acme/none not found"), std::string::npos);
  EXPECT_EQ(store().read_commit("acme/relu", "../../x").error().kind, ErrorKind::not_found);
}

TEST_F(StoreTest, RepublishingTheSameFilesChangesNothing) {
  auto files = std::vector{add("a.txt", "same"), add("b.txt", "also")};
  auto first = publish("acme/relu", "1.0.0", files);
  ASSERT_TRUE(first);
  std::reverse(files.begin(), files.end()); // order of the request does not matter
  auto again = publish("acme/relu", "1.0.0", files);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->commit, first->commit);
  EXPECT_EQ(fs::directory_iterator(root() / "repos/acme/relu/commits")->path().stem(),
            first->commit);
}

TEST_F(StoreTest, RepublishingOtherFilesIsAConflictAndWritesNothing) {
  auto first = publish("acme/relu", "1.0.0", {add("a.txt", "one")});
  ASSERT_TRUE(first);
  auto refs_before = util::read_file(root() / "repos/acme/relu/refs.json");
  auto conflict = publish("acme/relu", "1.0.0", {add("a.txt", "two")});
  ASSERT_FALSE(conflict);
  EXPECT_EQ(conflict.error().kind, ErrorKind::conflict);
  EXPECT_NE(conflict.error().message.find("version 1.0.0 of acme/relu is already published"),
            std::string::npos);
  EXPECT_NE(conflict.error().message.find("a.txt has other content"), std::string::npos);
  EXPECT_EQ(*util::read_file(root() / "repos/acme/relu/refs.json"), *refs_before);
  auto added = publish("acme/relu", "1.0.0", {add("a.txt", "one"), add("b.txt", "new")});
  ASSERT_FALSE(added);
  EXPECT_NE(added.error().message.find("b.txt is new"), std::string::npos);
}

TEST_F(StoreTest, BranchesOnlyMoveForward) {
  auto v110 = publish("acme/relu", "1.1.0", {add("a", "110")});
  auto v100 = publish("acme/relu", "1.0.0", {add("a", "100")}); // a late patch of an old release
  auto rc = publish("acme/relu", "1.2.0-rc.1", {add("a", "rc")});
  auto v200 = publish("acme/relu", "2.0.0", {add("a", "200")});
  auto v130 = publish("acme/relu", "1.3.0", {add("a", "130")});
  ASSERT_TRUE(v110 && v100 && rc && v200 && v130);
  auto refs = *store().read_refs("acme/relu");
  EXPECT_EQ(refs.branches["v1"], v130->commit);
  EXPECT_EQ(refs.branches["v2"], v200->commit);
  EXPECT_EQ(refs.branches["main"], v200->commit); // main follows the highest release
  EXPECT_FALSE(v130->moved_main);
  EXPECT_FALSE(rc->moved_main);
  EXPECT_EQ(refs.tags.size(), 5u);
  EXPECT_EQ(refs.tags["v1.2.0-rc.1"], rc->commit);
  // v1.0.0 and the pre-release hang off the branch head but did not move it.
  EXPECT_EQ(store().read_commit("acme/relu", v100->commit)->parents,
            std::vector<std::string>{v110->commit});
}

TEST_F(StoreTest, RefusesBadRequestsAndWritesNothing) {
  auto file = add("a.txt", "x");
  struct Case {
    const char* repo;
    std::vector<store::NewFile> files;
    ErrorKind kind;
    const char* message;
  };
  std::vector<Case> cases = {
      {"acme/relu", {}, ErrorKind::usage, "has no files"},
      {"../relu", {file}, ErrorKind::invalid_reference, "repository id"},
      {"acme/relu", {{"../a.txt", file.sha256, 1}}, ErrorKind::usage, "\"..\" segment"},
      {"acme/relu", {{"/a.txt", file.sha256, 1}}, ErrorKind::usage, "starts with '/'"},
      {"acme/relu", {{"a\\b", file.sha256, 1}}, ErrorKind::usage, "backslash"},
      {"acme/relu", {{std::string("a\0b", 3), file.sha256, 1}}, ErrorKind::usage, "NUL"},
      {"acme/relu", {{"a//b", file.sha256, 1}}, ErrorKind::usage, "empty segment"},
      {"acme/relu", {file, file}, ErrorKind::usage, "listed twice"},
      {"acme/relu", {file, {"a.txt/b", file.sha256, 1}}, ErrorKind::usage, "both a file"},
      {"acme/relu", {{"a.txt", "ABC", 1}}, ErrorKind::usage, "not a sha256"},
      {"acme/relu", {{"a.txt", std::string(64, '0'), 1}}, ErrorKind::not_found, "upload the blob"},
      {"acme/relu", {{"a.txt", file.sha256, 2}}, ErrorKind::integrity, "declared 2 bytes"},
  };
  for (const auto& c : cases) {
    auto result = publish(c.repo, "1.0.0", c.files);
    ASSERT_FALSE(result) << c.message;
    EXPECT_EQ(result.error().kind, c.kind) << result.error().message;
    EXPECT_NE(result.error().message.find(c.message), std::string::npos) << result.error().message;
  }
  EXPECT_TRUE(store().list_repos()->empty());
  EXPECT_TRUE(fs::is_empty(root() / "repos"));
}

TEST_F(StoreTest, BlobWriterChecksDigestAndSize) {
  auto writer = store().new_blob();
  ASSERT_TRUE(writer);
  ASSERT_TRUE(writer->write("hello"));
  auto wrong = writer->commit(digest::sha256_hex("other"));
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().kind, ErrorKind::integrity);
  EXPECT_FALSE(store().has_blob(digest::sha256_hex("hello")));

  auto short_writer = store().new_blob();
  ASSERT_TRUE(short_writer->write("hel"));
  auto truncated = short_writer->commit(digest::sha256_hex("hello"), 5);
  ASSERT_FALSE(truncated);
  EXPECT_NE(truncated.error().message.find("expected 5 bytes, received 3"), std::string::npos);

  auto good = store().new_blob();
  ASSERT_TRUE(good->write("hel"));
  ASSERT_TRUE(good->write("lo"));
  auto sha256 = good->commit(digest::sha256_hex("hello"), 5);
  ASSERT_TRUE(sha256);
  EXPECT_TRUE(store().has_blob(*sha256));
  EXPECT_EQ(*util::read_file(store().blob_path(*sha256)), "hello");
  // Abandoned and refused writers left no temporary files behind.
  EXPECT_TRUE(fs::is_empty(root() / "tmp"));
}

TEST_F(StoreTest, OpenRefusesWhatIsNotAStore) {
  auto missing = store::Store::open(m_dir.path() / "nowhere");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::not_found);
  EXPECT_NE(missing.error().message.find("is not a kget store"), std::string::npos);
  kget::testing::write_file(m_dir.path() / "full" / "file", "x");
  auto full = store::Store::open_or_create(m_dir.path() / "full");
  ASSERT_FALSE(full);
  EXPECT_NE(full.error().message.find("neither empty nor a kget store"), std::string::npos);
  EXPECT_TRUE(store::Store::open(root()));
  EXPECT_TRUE(store::Store::open_or_create(root())); // again: opens the existing store
}

TEST_F(StoreTest, FsckFindsCorruptionAndDanglingRefs) {
  auto published = publish("acme/relu", "1.0.0", {add("a.txt", "content"), add("b.txt", "other")});
  ASSERT_TRUE(published);
  auto clean = store().fsck();
  EXPECT_TRUE(clean.ok());
  EXPECT_EQ(clean.repositories, 1u);
  EXPECT_EQ(clean.commits, 1u);
  EXPECT_EQ(clean.blobs, 2u);

  // A flipped byte in a blob.
  auto blob = store().blob_path(digest::sha256_hex("content"));
  fs::permissions(blob, fs::perms::owner_write, fs::perm_options::add);
  std::ofstream(blob, std::ios::binary | std::ios::in | std::ios::out).write("C", 1);
  auto corrupt = store().fsck();
  ASSERT_FALSE(corrupt.ok());
  EXPECT_NE(corrupt.errors[0].find("not its name"), std::string::npos) << corrupt.errors[0];
  bool commit_blames_blob = false;
  for (const auto& error : corrupt.errors) {
    commit_blames_blob |= error.find("a.txt: blob") != std::string::npos;
  }
  EXPECT_TRUE(commit_blames_blob);

  // A ref to a commit that does not exist; leftovers of interrupted writes are only notes.
  TempDir other;
  auto fresh = store::Store::open_or_create(other.path());
  fs::create_directories(other.path() / "repos/acme/x");
  ASSERT_TRUE(util::write_file_atomic(other.path() / "repos/acme/x/refs.json",
                                      "{\"branches\":{\"v1\":\"" + std::string(40, 'a') +
                                          "\"},\"tags\":{}}"));
  kget::testing::write_file(other.path() / "tmp/.blob.kget-tmp.AAAAAA", "partial");
  auto dangling = fresh->fsck();
  ASSERT_EQ(dangling.errors.size(), 1u);
  EXPECT_NE(dangling.errors[0].find("acme/x branch v1 points at commit aaaa"), std::string::npos);
  ASSERT_EQ(dangling.notes.size(), 1u);
  EXPECT_NE(dangling.notes[0].find("interrupted write"), std::string::npos);
}

TEST_F(StoreTest, FsckFindsATamperedCommit) {
  auto published = publish("acme/relu", "1.0.0", {add("a.txt", "content")});
  ASSERT_TRUE(published);
  auto path = root() / "repos/acme/relu/commits" / (published->commit + ".json");
  auto text = *util::read_file(path);
  text.replace(text.find("1.0.0"), 5, "9.9.9");
  fs::remove(path);
  kget::testing::write_file(path, text);
  auto report = store().fsck();
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.errors[0].find("not its name"), std::string::npos) << report.errors[0];
}

// Processes publishing different versions of one repository at once: all land.
TEST_F(StoreTest, ConcurrentPublishesAllLand) {
  constexpr int processes = 8;
  std::vector<store::NewFile> files;
  for (int i = 0; i < processes; ++i) {
    files.push_back(add("build/v/lib.so", "library " + std::to_string(i)));
  }
  std::vector<pid_t> children;
  for (int i = 0; i < processes; ++i) {
    pid_t child = ::fork();
    if (child == 0) {
      auto store = store::Store::open(root());
      auto published = store->publish({"acme/relu",
                                       version(("1." + std::to_string(i) + ".0").c_str()),
                                       "",
                                       {files[static_cast<size_t>(i)]}});
      ::_exit(published && published->created ? 0 : 1);
    }
    children.push_back(child);
  }
  for (pid_t child : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  auto refs = *store().read_refs("acme/relu");
  EXPECT_EQ(refs.tags.size(), static_cast<size_t>(processes));
  EXPECT_EQ(refs.branches["v1"], refs.tags["v1.7.0"]);
  auto report = store().fsck();
  EXPECT_TRUE(report.ok()) << report.errors[0];
  EXPECT_EQ(report.commits, static_cast<size_t>(processes));
}

// A publisher killed at random points leaves a store that fsck finds consistent, and the next
// publish of the same version succeeds.
TEST_F(StoreTest, KilledPublishersLeaveAConsistentStore) {
  std::mt19937 random(20261121);
  std::string big(3u << 20, 'x');
  for (int round = 0; round < 12; ++round) {
    big[static_cast<size_t>(round)] = 'y'; // new content each round, so blobs are written
    auto source = m_dir.path() / ("big" + std::to_string(round));
    kget::testing::write_file(source, big);
    std::string ver = "1." + std::to_string(round) + ".0";
    pid_t child = ::fork();
    if (child == 0) {
      auto store = store::Store::open(root());
      auto sha256 = store->add_blob_from_file(source);
      auto published = store->publish(
          {"acme/relu", version(ver.c_str()), "", {{"build/v/lib.so", *sha256, big.size()}}});
      ::_exit(published ? 0 : 1);
    }
    ::usleep(std::uniform_int_distribution<useconds_t>(0, 30000)(random));
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    auto report = store().fsck();
    ASSERT_TRUE(report.ok()) << "round " << round << ": " << report.errors[0];
    if (store().has_repo("acme/relu")) {
      ASSERT_TRUE(store().read_refs("acme/relu"));
    }
    // The same publish, done again, completes.
    auto sha256 = store().add_blob_from_file(source);
    ASSERT_TRUE(sha256);
    auto again = publish("acme/relu", ver.c_str(), {{"build/v/lib.so", *sha256, big.size()}});
    ASSERT_TRUE(again) << again.error().message;
  }
  EXPECT_EQ(store().read_refs("acme/relu")->tags.size(), 12u);
  EXPECT_TRUE(store().fsck().ok());
}

TEST(RepoPath, Rules) {
  for (const char* good :
       {"a", "build/kget1-cpu-x86_64-linux/metadata.json", "a/.hidden", "a b/c"}) {
    EXPECT_TRUE(store::validate_repo_path(good)) << good;
  }
  for (const std::string& bad :
       std::vector<std::string>{"", "/a", "a/", "a//b", "./a", "a/./b", "a/..", "..", "a\\b",
                                std::string("a\0", 2), "a\nb", "a\x7f", std::string(1025, 'a')}) {
    auto result = store::validate_repo_path(bad);
    ASSERT_FALSE(result) << bad;
    EXPECT_EQ(result.error().kind, ErrorKind::usage);
  }
}

TEST(LfsPointer, MatchesGitLfs) {
  std::string sha(64, 'a');
  auto pointer = store::lfs_pointer(sha, 12345);
  EXPECT_EQ(pointer,
            "version https://git-lfs.github.com/spec/v1\noid sha256:" + sha + "\nsize 12345\n");
  EXPECT_EQ(pointer.size(), 130u);
}

} // namespace
