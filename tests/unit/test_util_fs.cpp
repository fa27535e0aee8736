#include "support/temp_dir.hpp"
#include "util/fs.hpp"

#include <filesystem>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace kget;
using kget::testing::TempDir;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> names_in(const fs::path& directory) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(directory)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

TEST(AtomicFile, NothingVisibleUnderTheFinalNameBeforeCommit) {
  TempDir dir;
  auto target = dir.path() / "refs.json";
  auto file = util::AtomicFile::create(target);
  ASSERT_TRUE(file) << file.error().message;
  ASSERT_TRUE(file->write("{}"));
  EXPECT_FALSE(fs::exists(target));
  auto temporary = file->temporary_path().filename().string();
  EXPECT_TRUE(util::is_temporary_name(temporary)) << temporary;
  ASSERT_TRUE(file->commit());
  EXPECT_EQ(names_in(dir.path()), std::vector<std::string>{"refs.json"});
  EXPECT_EQ(*util::read_file(target), "{}");
  struct stat info {};
  ASSERT_EQ(::stat(target.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0644u);
}

TEST(AtomicFile, ReplacesAnExistingFileWhole) {
  TempDir dir;
  auto target = dir.path() / "refs.json";
  ASSERT_TRUE(util::write_file_atomic(target, "old content, longer"));
  ASSERT_TRUE(util::write_file_atomic(target, "new"));
  EXPECT_EQ(*util::read_file(target), "new");
  EXPECT_EQ(names_in(dir.path()).size(), 1u);
}

TEST(AtomicFile, AbandonedFileLeavesNothing) {
  TempDir dir;
  {
    auto file = util::AtomicFile::create(dir.path() / "x");
    ASSERT_TRUE(file);
    ASSERT_TRUE(file->write("partial"));
  }
  EXPECT_TRUE(names_in(dir.path()).empty());
}

TEST(AtomicFile, CommitAsNamesContentWrittenFirst) {
  TempDir dir;
  auto file = util::AtomicFile::create_in(dir.path(), 0444);
  ASSERT_TRUE(file);
  ASSERT_TRUE(file->write("blob"));
  EXPECT_FALSE(file->commit()); // no target was given
  ASSERT_TRUE(file->commit_as(dir.path() / "named"));
  EXPECT_EQ(*util::read_file(dir.path() / "named"), "blob");
  EXPECT_FALSE(file->commit_as(dir.path() / "again"));
}

TEST(AtomicFile, FailsClearlyInAMissingDirectory) {
  TempDir dir;
  auto file = util::AtomicFile::create(dir.path() / "no" / "such" / "x");
  ASSERT_FALSE(file);
  EXPECT_EQ(file.error().kind, ErrorKind::io);
  EXPECT_NE(file.error().message.find("cannot create a temporary file"), std::string::npos);
}

TEST(AtomicFile, TemporaryNames) {
  EXPECT_TRUE(util::is_temporary_name(".refs.json.kget-tmp.AbC123"));
  EXPECT_FALSE(util::is_temporary_name("refs.json"));
  EXPECT_FALSE(util::is_temporary_name("refs.json.kget-tmp.AbC123"));   // not hidden
  EXPECT_FALSE(util::is_temporary_name(".refs.json.kget-tmp.AbC12"));   // mkstemp adds six
  EXPECT_FALSE(util::is_temporary_name(".refs.json.kget-tmp.AbC1234")); //
}

TEST(FileLock, ExclusiveExcludesOthersUntilReleased) {
  TempDir dir;
  auto path = dir.path() / "sub" / "lock";
  {
    auto held = util::FileLock::acquire(path);
    ASSERT_TRUE(held) << held.error().message;
    // flock belongs to the open file description, so a second open conflicts even here.
    auto second = util::FileLock::try_acquire(path);
    ASSERT_FALSE(second);
    EXPECT_NE(second.error().message.find("locked by another process"), std::string::npos);
  }
  EXPECT_TRUE(util::FileLock::try_acquire(path));
}

TEST(FileLock, SharedLocksCoexist) {
  TempDir dir;
  auto path = dir.path() / "lock";
  auto first = util::FileLock::acquire(path, util::FileLock::Mode::shared);
  ASSERT_TRUE(first);
  EXPECT_TRUE(util::FileLock::try_acquire(path, util::FileLock::Mode::shared));
  EXPECT_FALSE(util::FileLock::try_acquire(path, util::FileLock::Mode::exclusive));
}

TEST(FileLock, ReleasedWhenTheHolderIsKilled) {
  TempDir dir;
  auto path = dir.path() / "lock";
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t child = ::fork();
  if (child == 0) {
    auto lock = util::FileLock::acquire(path);
    char byte = lock ? 1 : 0;
    (void)!::write(ready[1], &byte, 1);
    ::pause();
    ::_exit(0);
  }
  char byte = 0;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1);
  ASSERT_EQ(byte, 1);
  EXPECT_FALSE(util::FileLock::try_acquire(path));
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_TRUE(util::FileLock::try_acquire(path)); // the lock file remains, the lock does not
  ::close(ready[0]);
  ::close(ready[1]);
}

} // namespace

namespace {

TEST(ReadChunks, GivesTheSizeThenEveryByteInOrder) {
  TempDir dir;
  std::string content(3u << 20, '\0');
  for (size_t i = 0; i < content.size(); ++i) {
    content[i] = static_cast<char>(i * 7);
  }
  kget::testing::write_file(dir.path() / "f", content);
  uint64_t announced = 0;
  std::string read;
  auto size = util::read_chunks(
      dir.path() / "f", [&](uint64_t s) { announced = s; },
      [&](std::string_view chunk) -> Result<void> {
        read.append(chunk);
        return {};
      });
  ASSERT_TRUE(size);
  EXPECT_EQ(*size, content.size());
  EXPECT_EQ(announced, content.size());
  EXPECT_EQ(read, content);
}

TEST(ReadChunks, StopsAtTheConsumersFailureAndRefusesNonFiles) {
  TempDir dir;
  kget::testing::write_file(dir.path() / "f", "data");
  auto stopped = util::read_chunks(
      dir.path() / "f", [](uint64_t) {},
      [](std::string_view) -> Result<void> { return fail(ErrorKind::integrity, "stop"); });
  ASSERT_FALSE(stopped);
  EXPECT_EQ(stopped.error().message, "stop");
  ASSERT_EQ(::mkfifo((dir.path() / "fifo").c_str(), 0600), 0);
  auto fifo = util::read_chunks(
      dir.path() / "fifo", [](uint64_t) {}, [](std::string_view) -> Result<void> { return {}; });
  ASSERT_FALSE(fifo);
  EXPECT_NE(fifo.error().message.find("not a regular file"), std::string::npos);
  EXPECT_EQ(util::read_chunks(
                dir.path() / "absent", [](uint64_t) {},
                [](std::string_view) -> Result<void> { return {}; })
                .error()
                .kind,
            ErrorKind::not_found);
}

} // namespace
