// Filesystem helpers that return Results instead of throwing.
#pragma once

#include "util/result.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <utility>

namespace kget::util {

// Owns a file descriptor; closes it on destruction.
class FileDescriptor {
public:
  explicit FileDescriptor(int fd) : m_fd(fd) {}
  ~FileDescriptor();
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  FileDescriptor(FileDescriptor&& other) noexcept : m_fd(other.release()) {}
  FileDescriptor& operator=(FileDescriptor&& other) noexcept;
  int get() const { return m_fd; }
  int release() noexcept;

private:
  int m_fd;
};

// The one way kget writes a file that others may read: the bytes go to a temporary file in the
// directory of the final name (or in a given directory on the same filesystem), are flushed to
// disk, and appear under the final name in one rename. Until commit() succeeds, nothing is
// visible under the final name; an AtomicFile destroyed uncommitted removes its temporary file,
// and one left behind by a killed process is named `.<name>.kget-tmp.XXXXXX` (is_temporary_name).
class AtomicFile {
public:
  // A temporary file beside `target`, to be renamed over it.
  static Result<AtomicFile> create(const std::filesystem::path& target, mode_t mode = 0644);
  // A temporary file in `directory`, for content whose final name is known only after it is
  // written (a blob named by its digest); commit_as() names it.
  static Result<AtomicFile> create_in(const std::filesystem::path& directory, mode_t mode = 0644);
  AtomicFile(AtomicFile&& other) noexcept;
  AtomicFile& operator=(AtomicFile&&) = delete;
  ~AtomicFile();

  Result<void> write(std::string_view data);
  int fd() const { return m_fd.get(); }
  const std::filesystem::path& temporary_path() const { return m_temporary; }

  // fsync, rename over the target given to create(), fsync the directory.
  Result<void> commit();
  Result<void> commit_as(const std::filesystem::path& target);

private:
  AtomicFile(FileDescriptor fd, std::filesystem::path temporary, std::filesystem::path target);
  FileDescriptor m_fd;
  std::filesystem::path m_temporary;
  std::filesystem::path m_target;
  bool m_done = false;
};

// `content` under `target`, through an AtomicFile.
Result<void> write_file_atomic(const std::filesystem::path& target, std::string_view content,
                               mode_t mode = 0644);

// True for the names AtomicFile gives its temporary files.
bool is_temporary_name(std::string_view file_name);

// An flock(2) held on a file that stays in place: the kernel releases it when the holder exits,
// however it exits, so a crashed holder never blocks the next one.
class FileLock {
public:
  enum class Mode { shared, exclusive };
  // Creates `path` if needed (and its parent directories), then waits for the lock.
  static Result<FileLock> acquire(const std::filesystem::path& path, Mode mode = Mode::exclusive);
  // As acquire(), but fails with ErrorKind::io at once when another process holds it.
  static Result<FileLock> try_acquire(const std::filesystem::path& path,
                                      Mode mode = Mode::exclusive);

private:
  explicit FileLock(FileDescriptor fd) : m_fd(std::move(fd)) {}
  FileDescriptor m_fd;
};

// Reads the regular file at `path` in chunks of up to 1 MiB: `on_open` gets its size first,
// then `consume` every chunk in order. Fails if the size changes while it is read. Returns the
// size.
Result<uint64_t> read_chunks(const std::filesystem::path& path,
                             const std::function<void(uint64_t size)>& on_open,
                             const std::function<Result<void>(std::string_view chunk)>& consume);

// mkdir -p, with the failure as a Result.
Result<void> create_directories(const std::filesystem::path& path);

// The whole file; fails with ErrorKind::not_found when it does not exist, ErrorKind::io otherwise.
// Refuses files larger than `max_size` bytes.
Result<std::string> read_file(const std::filesystem::path& path, size_t max_size = 64u << 20);

} // namespace kget::util
