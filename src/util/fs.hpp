// Filesystem helpers that return Results instead of throwing.
#pragma once

#include "util/result.hpp"

#include <filesystem>
#include <string>

namespace kget::util {

// Owns a file descriptor; closes it on destruction.
class FileDescriptor {
public:
  explicit FileDescriptor(int fd) : m_fd(fd) {}
  ~FileDescriptor();
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return m_fd; }

private:
  int m_fd;
};

// The whole file; fails with ErrorKind::not_found when it does not exist, ErrorKind::io otherwise.
// Refuses files larger than `max_size` bytes.
Result<std::string> read_file(const std::filesystem::path& path, size_t max_size = 64u << 20);

} // namespace kget::util
