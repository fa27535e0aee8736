// The pins live here and nowhere else: the wheel's hash is what makes a build reproducible, and
// the include paths are where that wheel keeps its headers.
#include "build/deps.hpp"

#include "build/process.hpp"
#include "util/fs.hpp"
#include "util/strings.hpp"

#include <unistd.h>

namespace kget::build {

namespace fs = std::filesystem;

namespace {

// nvidia-cutlass 4.2.0.0 carries CUTLASS and CuTe as headers under cutlass_library/source; its
// Python requirements (cuda-python, networkx, ...) are not needed for them, hence --no-deps.
const std::vector<Dependency>& dependencies() {
  static const std::vector<Dependency> table = {
      {"cutlass",
       "nvidia-cutlass==4.2.0.0",
       "f9599ada45c7bcb6bf53f7d3f0a7d154183e53451c01bfa59eecd37dd4a693f6",
       {"cutlass_library/source/include", "cutlass_library/source/tools/util/include"},
       "cutlass_library/source/include/cute/tensor.hpp",
       // CuTe calls constexpr host functions from device code.
       {"--expt-relaxed-constexpr"},
       // The test kernel's CuTe units peaked at 1.1-2.1 GB; larger ones reach 3-4 GB.
       uint64_t{4} << 30},
  };
  return table;
}

// "nvidia-cutlass==4.2.0.0" -> "nvidia-cutlass-4.2.0.0"
std::string directory_name(const Dependency& dependency) {
  std::string name(dependency.requirement);
  if (auto at = name.find("=="); at != std::string::npos) {
    name.replace(at, 2, "-");
  }
  return name;
}

std::vector<fs::path> include_paths(const Dependency& dependency, const fs::path& root) {
  std::vector<fs::path> paths;
  for (auto relative : dependency.include) {
    paths.push_back(root / relative);
  }
  return paths;
}

Result<void> install(const Dependency& dependency, const fs::path& deps_dir, const fs::path& target,
                     const fs::path& log) {
  std::string what =
      fmt::format("build.toml asks for {} ({})", dependency.name, dependency.requirement);
  fs::path venv = deps_dir / ".venv";
  std::error_code error;
  if (!fs::exists(venv / "bin" / "pip", error)) {
    auto status = run_process({{"python3", "-m", "venv", venv.string()}, log});
    if (!status || *status != 0) { // not started (no python3), or failed
      return fail(ErrorKind::not_found,
                  "{}, and installing it needs python3 with venv: python3 -m venv {} failed "
                  "({}; install python3 and python3-venv); see {}",
                  what, venv.string(),
                  status ? fmt::format("exit status {}", *status) : status.error().message,
                  log.string());
    }
  }
  fs::path requirements =
      deps_dir / fmt::format(".{}.requirements.txt", directory_name(dependency));
  KGET_TRY(util::write_file_atomic(
      requirements,
      fmt::format("{} --hash=sha256:{}\n", dependency.requirement, dependency.sha256)));
  // Under the lock: partial installs left here are of builds that were killed.
  std::string partial_prefix = fmt::format(".{}.partial-", directory_name(dependency));
  for (const auto& entry : fs::directory_iterator(deps_dir, error)) {
    if (entry.path().filename().string().starts_with(partial_prefix)) {
      std::error_code ignored;
      fs::remove_all(entry.path(), ignored);
    }
  }
  fs::path staging = deps_dir / fmt::format("{}{}", partial_prefix, ::getpid());
  auto status = run_process(
      {{(venv / "bin" / "pip").string(), "install", "--quiet", "--disable-pip-version-check",
        "--no-deps", "--require-hashes", "--target", staging.string(), "-r", requirements.string()},
       log});
  if (!status || *status != 0) {
    fs::remove_all(staging, error);
    return fail(ErrorKind::not_found,
                "{}, which could not be installed (pip: {}; no access to the package index, or "
                "a wheel whose sha256 is not {}); see {}. On a machine without the index, "
                "install it there with `pip install --no-deps --target {} {}` from a downloaded "
                "wheel",
                what, status ? fmt::format("exit status {}", *status) : status.error().message,
                dependency.sha256, log.string(), target.string(), dependency.requirement);
  }
  if (!fs::exists(staging / dependency.probe, error)) {
    fs::remove_all(staging, error);
    return fail(ErrorKind::not_found, "{}, but the installed wheel has no {}", what,
                std::string(dependency.probe));
  }
  // A directory without the probe file (a half-done install by hand) is replaced.
  fs::remove_all(target, error);
  fs::rename(staging, target, error);
  if (error) {
    fs::remove_all(staging, error);
    return fail(ErrorKind::io, "{}: moving {} into place failed: {}", what, target.string(),
                error.message());
  }
  return {};
}

} // namespace

const Dependency* find_dependency(std::string_view name) {
  for (const auto& dependency : dependencies()) {
    if (dependency.name == name) {
      return &dependency;
    }
  }
  return nullptr;
}

std::vector<std::string> dependency_names() {
  std::vector<std::string> names;
  for (const auto& dependency : dependencies()) {
    names.emplace_back(dependency.name);
  }
  return names;
}

Result<std::vector<fs::path>> ensure_dependency(const Dependency& dependency,
                                                const fs::path& deps_dir, const fs::path& log) {
  fs::path target = deps_dir / directory_name(dependency);
  std::error_code error;
  if (fs::exists(target / dependency.probe, error)) {
    return include_paths(dependency, target);
  }
  KGET_TRY(util::create_directories(deps_dir));
  KGET_TRY_ASSIGN(auto lock, util::FileLock::acquire(deps_dir / ".lock"));
  if (!fs::exists(target / dependency.probe, error)) { // another build may have installed it
    KGET_TRY(install(dependency, deps_dir, target, log));
  }
  return include_paths(dependency, target);
}

} // namespace kget::build
