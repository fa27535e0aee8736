// Real processes against one cache: concurrent pulls of one blob, and a pull killed midway.
#include "support/temp_dir.hpp"
#include "test_cache_support.hpp"

#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace kget;
using namespace kget::cache;
using namespace kget::cache::testing;
using kget::testing::read_file;

namespace {

// 256 KiB that differ from one offset to the next, so a torn write would show.
std::string large_content() {
  std::string content;
  for (int i = 0; content.size() < (256u << 10); ++i) {
    content += fmt::format("line {:08}\n", i);
  }
  return content;
}

// Appends one line to `path` with O_APPEND, so concurrent writers never lose a line.
void append_line(const fs::path& path, const std::string& line) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd >= 0) {
    std::string text = line + "\n";
    (void)!::write(fd, text.data(), text.size());
    ::close(fd);
  }
}

int count_lines(const std::string& text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

using ProcessTest = CacheTest;

TEST_F(ProcessTest, SixteenProcessesDownloadOneBlobOnce) {
  const std::string content = large_content();
  const auto file = lfs_file("build/v/librelu.so", content);
  const auto counter = m_dir.path() / "downloads";
  constexpr int processes = 16;

  // Every child waits on the pipe until the parent closes it, then all call ensure_file at once.
  int start[2];
  ASSERT_EQ(::pipe(start), 0);
  std::vector<pid_t> children;
  for (int i = 0; i < processes; ++i) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(start[1]);
      char byte;
      (void)!::read(start[0], &byte, 1);
      Download download = [&](util::ByteSink& sink) -> Result<void> {
        append_line(counter, std::to_string(::getpid()));
        for (size_t at = 0; at < content.size(); at += 4096) {
          KGET_TRY(sink.write(std::string_view(content).substr(at, 4096)));
          if (at % (64u << 10) == 0) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5)); // widen the race window
          }
        }
        return {};
      };
      auto cache = Cache::at(root());
      auto result = cache.ensure_file(repo_id, commit_a, file, download);
      bool ok = result && read_file(result->path) == content;
      ::_exit(ok ? 0 : 1);
    }
    children.push_back(pid);
  }
  ::close(start[0]);
  ::close(start[1]);
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child " << pid;
  }
  EXPECT_EQ(count_lines(read_file(counter)), 1);
  EXPECT_EQ(read_file(blob(file)), content);
  EXPECT_EQ(read_file(snapshot_path(file)), content);
  EXPECT_TRUE(temporary_files(root()).empty());
}

TEST_F(ProcessTest, APullKilledMidwayLeavesACacheTheNextPullRepairs) {
  const std::string content = large_content();
  const auto file = lfs_file("build/v/librelu.so", content);

  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(ready[0]);
    Download half_then_hang = [&](util::ByteSink& sink) -> Result<void> {
      KGET_TRY(sink.write(std::string_view(content).substr(0, content.size() / 2)));
      (void)!::write(ready[1], "r", 1);
      while (true) {
        ::pause();
      }
    };
    auto cache = Cache::at(root());
    (void)cache.ensure_file(repo_id, commit_a, file, half_then_hang);
    ::_exit(2);
  }
  ::close(ready[1]);
  char byte = 0;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1);
  ::close(ready[0]);
  ASSERT_EQ(::kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status));

  auto leftovers = temporary_files(repo() / "blobs");
  ASSERT_EQ(leftovers.size(), 1u);
  EXPECT_EQ(fs::file_size(leftovers[0]), content.size() / 2);
  EXPECT_FALSE(fs::exists(blob(file)));

  // The lock died with the child: the next pull proceeds and ignores the leftover.
  int calls = 0;
  auto result = m_cache.ensure_file(repo_id, commit_a, file, serve(content, &calls));
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(read_file(result->path), content);

  auto report = m_cache.verify();
  EXPECT_TRUE(report.ok());
  ASSERT_EQ(report.notes.size(), 1u);
  EXPECT_EQ(report.notes[0].path, leftovers[0]);

  auto pruned = m_cache.prune({});
  ASSERT_TRUE(pruned) << pruned.error().message;
  EXPECT_EQ(pruned->removed, std::vector<fs::path>{leftovers[0]});
  EXPECT_EQ(pruned->bytes, content.size() / 2);

  auto clean = m_cache.verify();
  EXPECT_TRUE(clean.ok());
  EXPECT_TRUE(clean.notes.empty());
  EXPECT_EQ(read_file(snapshot_path(file)), content);
}

} // namespace
