#include "util/fs.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace kget::util {

FileDescriptor::~FileDescriptor() {
  if (m_fd >= 0) {
    ::close(m_fd);
  }
}

FileDescriptor& FileDescriptor::operator=(FileDescriptor&& other) noexcept {
  if (this != &other) {
    if (m_fd >= 0) {
      ::close(m_fd);
    }
    m_fd = other.release();
  }
  return *this;
}

int FileDescriptor::release() noexcept {
  int fd = m_fd;
  m_fd = -1;
  return fd;
}

namespace {

constexpr std::string_view temporary_infix = ".kget-tmp.";

Result<void> sync_directory(const std::filesystem::path& directory) {
  FileDescriptor fd(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0 || ::fsync(fd.get()) != 0) {
    return fail(ErrorKind::io, "cannot sync directory {}: {}", directory.string(),
                std::strerror(errno));
  }
  return {};
}

} // namespace

AtomicFile::AtomicFile(FileDescriptor fd, std::filesystem::path temporary,
                       std::filesystem::path target)
    : m_fd(std::move(fd)), m_temporary(std::move(temporary)), m_target(std::move(target)) {}

AtomicFile::AtomicFile(AtomicFile&& other) noexcept
    : m_fd(std::move(other.m_fd)), m_temporary(std::move(other.m_temporary)),
      m_target(std::move(other.m_target)), m_done(other.m_done) {
  other.m_done = true;
}

AtomicFile::~AtomicFile() {
  if (!m_done && !m_temporary.empty()) {
    ::unlink(m_temporary.c_str());
  }
}

Result<AtomicFile> AtomicFile::create(const std::filesystem::path& target, mode_t mode) {
  auto directory = target.parent_path().empty() ? std::filesystem::path(".") : target.parent_path();
  std::string pattern =
      (directory / ("." + target.filename().string() + std::string(temporary_infix) + "XXXXXX"))
          .string();
  FileDescriptor fd(::mkostemp(pattern.data(), O_CLOEXEC));
  if (fd.get() < 0) {
    return fail(ErrorKind::io, "cannot create a temporary file for {}: {}", target.string(),
                std::strerror(errno));
  }
  // mkostemp creates 0600; a committed file must be readable as any other.
  if (::fchmod(fd.get(), mode) != 0) {
    int error = errno;
    ::unlink(pattern.c_str());
    return fail(ErrorKind::io, "cannot set the mode of {}: {}", pattern, std::strerror(error));
  }
  return AtomicFile(std::move(fd), pattern, target);
}

Result<AtomicFile> AtomicFile::create_in(const std::filesystem::path& directory, mode_t mode) {
  KGET_TRY_ASSIGN(auto file, create(directory / "blob", mode));
  file.m_target.clear();
  return file;
}

Result<void> AtomicFile::write(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(m_fd.get(), data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return fail(ErrorKind::io, "cannot write {}: {}", m_temporary.string(), std::strerror(errno));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

Result<void> AtomicFile::commit() {
  if (m_target.empty()) {
    return fail(ErrorKind::internal, "AtomicFile::commit without a target; use commit_as");
  }
  return commit_as(m_target);
}

Result<void> AtomicFile::commit_as(const std::filesystem::path& target) {
  if (m_done) {
    return fail(ErrorKind::internal, "AtomicFile for {} committed twice", target.string());
  }
  if (::fsync(m_fd.get()) != 0) {
    return fail(ErrorKind::io, "cannot flush {} to disk: {}", m_temporary.string(),
                std::strerror(errno));
  }
  if (::rename(m_temporary.c_str(), target.c_str()) != 0) {
    return fail(ErrorKind::io, "cannot rename {} to {}: {}", m_temporary.string(), target.string(),
                std::strerror(errno));
  }
  m_done = true;
  auto directory = target.parent_path().empty() ? std::filesystem::path(".") : target.parent_path();
  return sync_directory(directory);
}

Result<void> write_file_atomic(const std::filesystem::path& target, std::string_view content,
                               mode_t mode) {
  KGET_TRY_ASSIGN(auto file, AtomicFile::create(target, mode));
  KGET_TRY(file.write(content));
  return file.commit();
}

bool is_temporary_name(std::string_view file_name) {
  auto at = file_name.find(temporary_infix);
  return !file_name.empty() && file_name.front() == '.' && at != std::string_view::npos &&
         file_name.size() == at + temporary_infix.size() + 6;
}

namespace {

Result<FileLock> lock_file(const std::filesystem::path& path, FileLock::Mode mode, bool wait,
                           FileLock (*make)(FileDescriptor)) {
  if (path.has_parent_path()) {
    KGET_TRY(util::create_directories(path.parent_path()));
  }
  FileDescriptor fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (fd.get() < 0) {
    return fail(ErrorKind::io, "cannot open lock file {}: {}", path.string(), std::strerror(errno));
  }
  int operation = (mode == FileLock::Mode::shared ? LOCK_SH : LOCK_EX) | (wait ? 0 : LOCK_NB);
  while (::flock(fd.get(), operation) != 0) {
    if (errno == EINTR) {
      continue;
    }
    if (errno == EWOULDBLOCK) {
      return fail(ErrorKind::io, "{} is locked by another process", path.string());
    }
    return fail(ErrorKind::io, "cannot lock {}: {}", path.string(), std::strerror(errno));
  }
  return make(std::move(fd));
}

} // namespace

Result<FileLock> FileLock::acquire(const std::filesystem::path& path, Mode mode) {
  return lock_file(path, mode, true, [](FileDescriptor fd) { return FileLock(std::move(fd)); });
}

Result<FileLock> FileLock::try_acquire(const std::filesystem::path& path, Mode mode) {
  return lock_file(path, mode, false, [](FileDescriptor fd) { return FileLock(std::move(fd)); });
}

Result<uint64_t> read_chunks(const std::filesystem::path& path,
                             const std::function<void(uint64_t size)>& on_open,
                             const std::function<Result<void>(std::string_view chunk)>& consume) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below.
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) {
    int error = errno;
    return fail(error == ENOENT ? ErrorKind::not_found : ErrorKind::io, "cannot open {}: {}",
                path.string(), std::strerror(error));
  }
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0 || !S_ISREG(info.st_mode)) {
    return fail(ErrorKind::io, "cannot read {}: not a regular file", path.string());
  }
  auto size = static_cast<uint64_t>(info.st_size);
  on_open(size);
  std::string buffer(1 << 20, '\0');
  uint64_t total = 0;
  while (true) {
    ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return fail(ErrorKind::io, "cannot read {}: {}", path.string(), std::strerror(errno));
    }
    if (n == 0) {
      break;
    }
    KGET_TRY(consume(std::string_view(buffer.data(), static_cast<size_t>(n))));
    total += static_cast<uint64_t>(n);
  }
  if (total != size) {
    return fail(ErrorKind::io, "{} changed size while it was read ({} bytes, then {})",
                path.string(), size, total);
  }
  return size;
}

Result<void> create_directories(const std::filesystem::path& path) {
  std::error_code error;
  std::filesystem::create_directories(path, error);
  if (error) {
    return fail(ErrorKind::io, "cannot create directory {}: {}", path.string(), error.message());
  }
  return {};
}

Result<std::string> read_file(const std::filesystem::path& path, size_t max_size) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; anything but a regular file is refused.
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) {
    int error = errno;
    return fail(error == ENOENT ? ErrorKind::not_found : ErrorKind::io, "cannot open {}: {}",
                path.string(), std::strerror(error));
  }
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) {
    return fail(ErrorKind::io, "cannot stat {}: {}", path.string(), std::strerror(errno));
  }
  if (S_ISDIR(info.st_mode)) {
    return fail(ErrorKind::io, "cannot read {}: it is a directory", path.string());
  }
  if (!S_ISREG(info.st_mode)) {
    return fail(ErrorKind::io, "cannot read {}: it is not a regular file", path.string());
  }
  if (static_cast<size_t>(info.st_size) > max_size) {
    return fail(ErrorKind::io, "{} is {} bytes, more than the {} allowed", path.string(),
                info.st_size, max_size);
  }
  std::string content;
  char buffer[65536];
  while (true) {
    ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return fail(ErrorKind::io, "cannot read {}: {}", path.string(), std::strerror(errno));
    }
    if (n == 0) {
      return content;
    }
    content.append(buffer, static_cast<size_t>(n));
    if (content.size() > max_size) {
      return fail(ErrorKind::io, "{} is larger than the {} bytes allowed", path.string(), max_size);
    }
  }
}

} // namespace kget::util
