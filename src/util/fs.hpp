// Filesystem helpers that return Results instead of throwing.
#pragma once

#include "util/result.hpp"

#include <filesystem>
#include <string>

namespace kget::util {

// The whole file; fails with ErrorKind::not_found when it does not exist, ErrorKind::io otherwise.
// Refuses files larger than `max_size` bytes.
Result<std::string> read_file(const std::filesystem::path& path, size_t max_size = 64u << 20);

} // namespace kget::util
