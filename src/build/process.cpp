#include "build/process.hpp"

#include "util/fs.hpp"
#include "util/strings.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace kget::build {

namespace {

// Closes the descriptor when it goes out of scope.
struct Descriptor {
  int fd = -1;
  ~Descriptor() {
    if (fd >= 0) {
      ::close(fd);
    }
  }
};

Result<int> spawn_and_wait(const std::vector<std::string>& argv, int out_fd, int err_fd) {
  if (argv.empty()) {
    return fail(ErrorKind::internal, "run_process: empty command");
  }
  std::vector<char*> args;
  for (const auto& arg : argv) {
    args.push_back(const_cast<char*>(arg.c_str()));
  }
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (out_fd >= 0) {
    posix_spawn_file_actions_adddup2(&actions, out_fd, STDOUT_FILENO);
  }
  if (err_fd >= 0) {
    posix_spawn_file_actions_adddup2(&actions, err_fd, STDERR_FILENO);
  }
  pid_t pid = 0;
  int error = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (error != 0) {
    return fail(ErrorKind::io, "cannot run {}: {}", argv[0], std::strerror(error));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return fail(ErrorKind::io, "waiting for {} failed: {}", argv[0], std::strerror(errno));
    }
  }
  if (WIFSIGNALED(status)) {
    return 128 + WTERMSIG(status);
  }
  return WEXITSTATUS(status);
}

} // namespace

Result<int> run_process(const ProcessRequest& request) {
  Descriptor log;
  if (!request.log.empty()) {
    log.fd = ::open(request.log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log.fd < 0) {
      return fail(ErrorKind::io, "cannot open {}: {}", request.log.string(), std::strerror(errno));
    }
    std::string header = fmt::format("$ {}\n", shell_quote(request.argv));
    if (::write(log.fd, header.data(), header.size()) < 0) {
      return fail(ErrorKind::io, "cannot write {}: {}", request.log.string(), std::strerror(errno));
    }
  }
  return spawn_and_wait(request.argv, log.fd, log.fd);
}

Result<std::string> capture_output(const std::vector<std::string>& argv) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return fail(ErrorKind::io, "pipe failed: {}", std::strerror(errno));
  }
  Descriptor read_end{pipe_fds[0]};
  Descriptor null{::open("/dev/null", O_WRONLY | O_CLOEXEC)};
  Result<int> status = [&] {
    Descriptor write_end{pipe_fds[1]};
    return spawn_and_wait(argv, write_end.fd, null.fd);
  }();
  // The child has exited, so the pipe holds all it wrote (short outputs only: --version).
  std::string output;
  char buffer[4096];
  ssize_t got = 0;
  while ((got = ::read(read_end.fd, buffer, sizeof buffer)) > 0) {
    output.append(buffer, static_cast<size_t>(got));
  }
  KGET_TRY(status);
  if (*status != 0) {
    return fail(ErrorKind::io, "{} exited with status {}", shell_quote(argv), *status);
  }
  return output;
}

std::string tail_of_file(const std::filesystem::path& path, size_t lines) {
  auto text = util::read_file(path);
  if (!text) {
    return {};
  }
  std::string_view view = *text;
  while (view.ends_with('\n')) {
    view.remove_suffix(1);
  }
  size_t start = view.size();
  for (size_t seen = 0; start > 0 && seen < lines; --start) {
    if (view[start - 1] == '\n' && ++seen == lines) {
      break;
    }
  }
  return std::string(view.substr(start));
}

std::string shell_quote(const std::vector<std::string>& argv) {
  std::vector<std::string> quoted;
  for (const auto& arg : argv) {
    bool plain =
        !arg.empty() && arg.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                              "0123456789-_./=:,+@%") == std::string::npos;
    if (plain) {
      quoted.push_back(arg);
    } else {
      std::string escaped = "'";
      for (char c : arg) {
        escaped += c == '\'' ? std::string("'\\''") : std::string(1, c);
      }
      quoted.push_back(escaped + "'");
    }
  }
  return util::join(quoted, " ");
}

} // namespace kget::build
