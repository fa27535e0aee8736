#include "support/temp_dir.hpp"
#include "test_cache_support.hpp"

#include <filesystem>
#include <gtest/gtest.h>
#include <sys/stat.h>

using namespace kget;
using namespace kget::cache;
using namespace kget::cache::testing;
using kget::testing::read_file;
using kget::testing::write_file;

namespace {

const std::string library_bytes = std::string("\x7f"
                                              "ELF",
                                              4) +
                                  std::string(1000, '\x01') + "end";
const std::string metadata_bytes = "{\"name\": \"relu\", \"version\": \"1.2.0\"}\n";
const std::string library_path = "build/kget1-cpu-x86_64-linux/librelu.so";
const std::string metadata_path = "build/kget1-cpu-x86_64-linux/metadata.json";

using EnsureTest = CacheTest;

TEST(CacheNames, RepoFolderNameFollowsTheHubLayout) {
  EXPECT_EQ(repo_folder_name("acme/relu"), "kernels--acme--relu");
  auto cache = Cache::at("/c");
  EXPECT_EQ(cache.repo_dir("acme/relu"), fs::path("/c/kernels--acme--relu"));
  EXPECT_EQ(cache.snapshot_dir("acme/relu", commit_a),
            fs::path("/c/kernels--acme--relu/snapshots") / commit_a);
}

TEST_F(EnsureTest, DownloadsIntoAnEmptyCacheAndLinksRelatively) {
  auto file = lfs_file(library_path, library_bytes);
  int calls = 0;
  auto result = m_cache.ensure_file(repo_id, commit_a, file, serve(library_bytes, &calls));
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(result->downloaded);
  EXPECT_EQ(result->bytes, library_bytes.size());
  EXPECT_EQ(result->path, snapshot_path(file));

  EXPECT_EQ(read_file(blob(file)), library_bytes);
  EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(blob(file))));
  ASSERT_TRUE(fs::is_symlink(fs::symlink_status(result->path)));
  // Two directories in the path: two more "../" than a file at the snapshot's top.
  EXPECT_EQ(fs::read_symlink(result->path), fs::path("../../../../blobs/" + file.etag));
  EXPECT_EQ(fs::canonical(result->path), fs::canonical(blob(file)));
  EXPECT_EQ(read_file(result->path), library_bytes);

  // The verification record, and the cache directory tag.
  EXPECT_TRUE(fs::is_regular_file(repo() / ".kget" / "verified" / (file.etag + ".json")));
  EXPECT_TRUE(read_file(root() / "CACHEDIR.TAG")
                  .starts_with("Signature: 8a477f597d28d172789f06886806bc55"));
  EXPECT_TRUE(fs::exists(root() / ".locks" / "kernels--acme--relu" / (file.etag + ".lock")));
  EXPECT_TRUE(temporary_files(root()).empty());
}

TEST_F(EnsureTest, AFileAtTheTopOfTheSnapshotLinksTwoLevelsUp) {
  auto file = git_file("README.md", "hello\n");
  auto result = ensure(file, "hello\n");
  EXPECT_EQ(fs::read_symlink(result.path), fs::path("../../blobs/" + file.etag));
  EXPECT_EQ(read_file(result.path), "hello\n");
}

TEST_F(EnsureTest, ASecondCallFindsTheBlobWithoutDownloading) {
  auto file = lfs_file(library_path, library_bytes);
  ensure(file, library_bytes);
  int calls = 0;
  auto again = m_cache.ensure_file(repo_id, commit_a, file, serve(library_bytes, &calls));
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_FALSE(again->downloaded);
  EXPECT_EQ(again->bytes, 0u);
  EXPECT_EQ(calls, 0);

  // Another commit with the same file shares the blob.
  auto other = m_cache.ensure_file(repo_id, commit_b, file, serve(library_bytes, &calls));
  ASSERT_TRUE(other) << other.error().message;
  EXPECT_FALSE(other->downloaded);
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(read_file(snapshot_path(file, commit_b)), library_bytes);
}

TEST_F(EnsureTest, UsesABlobPlacedByHuggingFaceHub) {
  // huggingface_hub leaves a plain file blobs/<sha256> and nothing of kget's.
  auto file = lfs_file(library_path, library_bytes);
  write_file(blob(file), library_bytes);
  int calls = 0;
  auto result = m_cache.ensure_file(repo_id, commit_a, file, serve(library_bytes, &calls));
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(calls, 0);
  EXPECT_FALSE(result->downloaded);
  EXPECT_EQ(read_file(result->path), library_bytes);
  EXPECT_EQ(m_cache.find_file(repo_id, commit_a, library_path), result->path);
}

TEST_F(EnsureTest, ReplacesAWrongLinkAndKeepsARightOne) {
  auto file = git_file(metadata_path, metadata_bytes);
  auto link = snapshot_path(file);
  fs::create_directories(link.parent_path());
  fs::create_symlink("../../../../blobs/" + std::string(40, 'e'), link);
  ensure(file, metadata_bytes);
  EXPECT_EQ(fs::read_symlink(link), fs::path("../../../../blobs/" + file.etag));
  EXPECT_EQ(read_file(link), metadata_bytes);

  // A right link is kept as it is, not replaced by an equal one.
  struct stat before {};
  ASSERT_EQ(::lstat(link.c_str(), &before), 0);
  ensure(file, metadata_bytes);
  struct stat after {};
  ASSERT_EQ(::lstat(link.c_str(), &after), 0);
  EXPECT_EQ(after.st_ino, before.st_ino);
  EXPECT_TRUE(temporary_files(root()).empty());
}

TEST_F(EnsureTest, ChecksTheMetadataDigestsWhenTheyMatch) {
  auto library = lfs_file(library_path, library_bytes);
  library.digest_algorithm = "sha512";
  library.digest_hex = sha512_hex(library_bytes);
  EXPECT_TRUE(ensure(library, library_bytes).downloaded);

  auto metadata = git_file(metadata_path, metadata_bytes);
  metadata.digest_algorithm = "sha256";
  metadata.digest_hex = digest::sha256_hex(metadata_bytes);
  EXPECT_TRUE(ensure(metadata, metadata_bytes).downloaded);
}

// The integrity failures: an error naming the file, expected and actual values; nothing under
// the blob's name or the snapshot path; no temporary file.
class EnsureIntegrityTest : public CacheTest {
protected:
  void expect_refused(const FileSpec& file, const Download& download,
                      const std::vector<std::string>& message_parts,
                      ErrorKind kind = ErrorKind::integrity) {
    auto result = m_cache.ensure_file(repo_id, commit_a, file, download);
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().kind, kind) << result.error().message;
    for (const auto& part : message_parts) {
      EXPECT_NE(result.error().message.find(part), std::string::npos)
          << "\"" << part << "\" missing from: " << result.error().message;
    }
    EXPECT_FALSE(fs::exists(fs::symlink_status(blob(file))));
    EXPECT_FALSE(fs::exists(fs::symlink_status(snapshot_path(file))));
    EXPECT_TRUE(temporary_files(root()).empty());
  }
};

TEST_F(EnsureIntegrityTest, WrongSize) {
  auto file = lfs_file(library_path, library_bytes);
  file.size += 1;
  expect_refused(file, serve(library_bytes),
                 {library_path, fmt::format("size is {} bytes, expected {}", library_bytes.size(),
                                            library_bytes.size() + 1)});
}

TEST_F(EnsureIntegrityTest, MoreBytesThanAnnouncedAreRefusedAsTheyArrive) {
  auto file = lfs_file(library_path, library_bytes);
  expect_refused(file, serve(library_bytes + "trailing garbage"),
                 {library_path, fmt::format("more than the {} bytes", library_bytes.size())});
}

TEST_F(EnsureIntegrityTest, WrongSha256Etag) {
  auto file = lfs_file(library_path, library_bytes);
  std::string tampered = library_bytes;
  tampered[100] ^= 1;
  expect_refused(file, serve(tampered),
                 {library_path, file.etag, digest::sha256_hex(tampered), "sha256"});
}

TEST_F(EnsureIntegrityTest, WrongGitBlobId) {
  auto file = git_file(metadata_path, metadata_bytes);
  std::string tampered = metadata_bytes;
  tampered[3] = 'X';
  expect_refused(file, serve(tampered), {metadata_path, file.etag, git_oid(tampered), "git"});
}

TEST_F(EnsureIntegrityTest, WrongMetadataSha256) {
  auto file = git_file(metadata_path, metadata_bytes);
  file.digest_algorithm = "sha256";
  file.digest_hex = digest::sha256_hex("something else");
  expect_refused(file, serve(metadata_bytes),
                 {metadata_path, file.digest_hex, digest::sha256_hex(metadata_bytes)});
}

TEST_F(EnsureIntegrityTest, MetadataSha256ContradictingTheEtagFailsBeforeDownloading) {
  auto file = lfs_file(library_path, library_bytes);
  file.digest_algorithm = "sha256";
  file.digest_hex = digest::sha256_hex("something else");
  int calls = 0;
  expect_refused(file, serve(library_bytes, &calls), {library_path, file.digest_hex, file.etag});
  EXPECT_EQ(calls, 0);
}

TEST_F(EnsureIntegrityTest, WrongMetadataSha512) {
  auto file = lfs_file(library_path, library_bytes);
  file.digest_algorithm = "sha512";
  file.digest_hex = sha512_hex("something else");
  expect_refused(file, serve(library_bytes),
                 {library_path, "sha512", file.digest_hex, sha512_hex(library_bytes)});
}

TEST_F(EnsureIntegrityTest, DownloadFailingMidway) {
  auto file = lfs_file(library_path, library_bytes);
  Download broken = [&](util::ByteSink& sink) -> Result<void> {
    KGET_TRY(sink.write(std::string_view(library_bytes).substr(0, 500)));
    return fail(ErrorKind::network, "connection reset after 500 bytes");
  };
  expect_refused(file, broken, {"connection reset after 500 bytes"}, ErrorKind::network);
}

TEST_F(EnsureTest, RestartThenTheFullBodyIsCorrect) {
  auto file = lfs_file(library_path, library_bytes);
  Download resumed = [&](util::ByteSink& sink) -> Result<void> {
    KGET_TRY(sink.write("garbage that is not the start of the file"));
    EXPECT_EQ(sink.size(), 41u);
    KGET_TRY(sink.restart());
    EXPECT_EQ(sink.size(), 0u);
    return serve(library_bytes)(sink);
  };
  auto result = m_cache.ensure_file(repo_id, commit_a, file, resumed);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->bytes, library_bytes.size());
  EXPECT_EQ(read_file(blob(file)), library_bytes);
  EXPECT_TRUE(temporary_files(root()).empty());
}

TEST_F(EnsureTest, ACachedBlobOfTheWrongSizeIsRefused) {
  auto file = lfs_file(library_path, library_bytes);
  write_file(blob(file), "short");
  auto result = m_cache.ensure_file(repo_id, commit_a, file, serve(library_bytes));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::integrity);
  EXPECT_NE(result.error().message.find("delete it and pull again"), std::string::npos)
      << result.error().message;
}

// Names become paths only when they cannot leave the cache.
TEST_F(EnsureTest, InvalidNamesAreRefusedBeforeTouchingTheDisk) {
  auto file = lfs_file(library_path, library_bytes);
  struct Case {
    std::string repo;
    std::string commit;
    std::string path;
    std::string etag;
    ErrorKind kind;
    std::string says;
  };
  std::vector<Case> cases = {
      {"acme", commit_a, file.path, file.etag, ErrorKind::invalid_reference, "org/name"},
      {"acme/../x", commit_a, file.path, file.etag, ErrorKind::invalid_reference, "one '/'"},
      {"../relu", commit_a, file.path, file.etag, ErrorKind::invalid_reference, "\"--\" or \"..\""},
      {"acme/re lu", commit_a, file.path, file.etag, ErrorKind::invalid_reference, "letters"},
      {"acme--x/relu", commit_a, file.path, file.etag, ErrorKind::invalid_reference, "\"--\""},
      {repo_id, "main", file.path, file.etag, ErrorKind::invalid_reference, "40 lower-case hex"},
      {repo_id, std::string(40, 'A'), file.path, file.etag, ErrorKind::invalid_reference, "hex"},
      {repo_id, commit_a, "../../../etc/passwd", file.etag, ErrorKind::usage, "\"..\" segment"},
      {repo_id, commit_a, "/etc/passwd", file.etag, ErrorKind::usage, "absolute"},
      {repo_id, commit_a, "build//x.so", file.etag, ErrorKind::usage, "empty segment"},
      {repo_id, commit_a, "build/./x.so", file.etag, ErrorKind::usage, "\".\" segment"},
      {repo_id, commit_a, "", file.etag, ErrorKind::usage, "empty"},
      {repo_id, commit_a, file.path, "../../etc/passwd", ErrorKind::usage, "etag"},
      {repo_id, commit_a, file.path, std::string(64, 'F'), ErrorKind::usage, "etag"},
      {repo_id, commit_a, file.path, std::string(63, 'a'), ErrorKind::usage, "etag"},
  };
  for (const auto& c : cases) {
    FileSpec spec = file;
    spec.path = c.path;
    spec.etag = c.etag;
    int calls = 0;
    auto result = m_cache.ensure_file(c.repo, c.commit, spec, serve(library_bytes, &calls));
    ASSERT_FALSE(result) << c.repo << " " << c.commit << " " << c.path << " " << c.etag;
    EXPECT_EQ(result.error().kind, c.kind) << result.error().message;
    EXPECT_NE(result.error().message.find(c.says), std::string::npos) << result.error().message;
    EXPECT_EQ(calls, 0);
  }
  auto bad_digest = file;
  bad_digest.digest_algorithm = "md5";
  bad_digest.digest_hex = "00";
  auto result = m_cache.ensure_file(repo_id, commit_a, bad_digest, serve(library_bytes));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::usage);
  EXPECT_FALSE(fs::exists(root()));
}

TEST_F(EnsureTest, APlantedSymlinkInTheSnapshotIsNotFollowed) {
  auto outside = m_dir.path() / "outside";
  fs::create_directories(outside);
  fs::create_directories(repo() / "snapshots" / commit_a);
  fs::create_directory_symlink(outside, repo() / "snapshots" / commit_a / "build");
  auto file = lfs_file(library_path, library_bytes);
  auto result = m_cache.ensure_file(repo_id, commit_a, file, serve(library_bytes));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::io);
  EXPECT_NE(result.error().message.find("symbolic link"), std::string::npos)
      << result.error().message;
  EXPECT_TRUE(fs::is_empty(outside));
}

} // namespace
