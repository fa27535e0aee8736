// Running the toolchain (cmake, nvcc, python) as child processes.
#pragma once

#include "util/result.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace kget::build {

struct ProcessRequest {
  std::vector<std::string> argv; // argv[0] is looked up in PATH unless it holds a '/'
  std::filesystem::path log;     // stdout and stderr are appended here; empty: inherited
};

// Runs the command to completion; the exit status (128 + signal when killed). Fails (io) only
// when it cannot be started.
Result<int> run_process(const ProcessRequest& request);

// Runs the command and returns its stdout (stderr discarded); nullopt-like failure when it
// cannot start or exits non-zero.
Result<std::string> capture_output(const std::vector<std::string>& argv);

// The last `lines` lines of a text file, for showing a failed step's log.
std::string tail_of_file(const std::filesystem::path& path, size_t lines);

// The command as a shell would show it, for logs and --verbose.
std::string shell_quote(const std::vector<std::string>& argv);

} // namespace kget::build
