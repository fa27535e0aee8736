#include "util/fs.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace kget::util {

FileDescriptor::~FileDescriptor() {
  if (m_fd >= 0) {
    ::close(m_fd);
  }
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
