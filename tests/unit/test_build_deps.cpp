// build.toml's deps: the pinned CUTLASS wheel (src/build/deps.cpp). A directory that already holds
// it is used as it is; pip is run with --require-hashes, so a wheel with other bytes is refused,
// and every failure names the package and its version and leaves no partial install behind.
// The install from PyPI itself is exercised by the CUTLASS test kernel's build (tests/kernels).
#include "build/deps.hpp"
#include "support/temp_dir.hpp"

#include <cstdlib>
#include <gtest/gtest.h>

namespace kget::build {
namespace {

namespace fs = std::filesystem;
using kget::testing::TempDir;
using kget::testing::write_file;

// Sets environment variables for one test and puts the old values back.
class ScopedEnvironment {
public:
  void set(const char* name, const std::string& value) {
    const char* old = std::getenv(name);
    m_saved.emplace_back(name, old != nullptr ? std::optional<std::string>(old) : std::nullopt);
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnvironment() {
    for (auto it = m_saved.rbegin(); it != m_saved.rend(); ++it) {
      if (it->second) {
        ::setenv(it->first.c_str(), it->second->c_str(), 1);
      } else {
        ::unsetenv(it->first.c_str());
      }
    }
  }

private:
  std::vector<std::pair<std::string, std::optional<std::string>>> m_saved;
};

std::vector<std::string> partial_installs(const fs::path& deps) {
  std::vector<std::string> found;
  for (const auto& entry : fs::directory_iterator(deps)) {
    if (entry.path().filename().string().find(".partial-") != std::string::npos) {
      found.push_back(entry.path().filename().string());
    }
  }
  return found;
}

TEST(BuildDepsTest, KnowsCutlassAtItsPin) {
  const Dependency* cutlass = find_dependency("cutlass");
  ASSERT_NE(cutlass, nullptr);
  EXPECT_EQ(cutlass->requirement, "nvidia-cutlass==4.2.0.0");
  EXPECT_EQ(cutlass->sha256.size(), 64u);
  EXPECT_EQ(find_dependency("cutlas"), nullptr);
  EXPECT_EQ(dependency_names(), (std::vector<std::string>{"cutlass"}));
}

// An air-gapped machine puts the wheel's files there by hand (docs/build.md): no pip is run.
TEST(BuildDepsTest, UsesAnInstalledDirectoryWithoutPip) {
  TempDir dir;
  fs::path installed = dir.path() / "nvidia-cutlass-4.2.0.0";
  write_file(installed / "cutlass_library/source/include/cute/tensor.hpp", "#pragma once\n");
  auto includes = ensure_dependency(*find_dependency("cutlass"), dir.path(), dir.path() / "log");
  ASSERT_TRUE(includes) << includes.error().message;
  EXPECT_EQ(*includes,
            (std::vector<fs::path>{installed / "cutlass_library/source/include",
                                   installed / "cutlass_library/source/tools/util/include"}));
  EXPECT_FALSE(fs::exists(dir.path() / ".venv"));
}

// A wheel of that name and version with other bytes (here from a local find-links directory, no
// index): pip refuses it for its hash, and the error says which package and pin.
TEST(BuildDepsTest, RefusesAWheelWhoseHashIsNotThePin) {
  TempDir dir;
  fs::path links = dir.path() / "links";
  write_file(links / "nvidia_cutlass-4.2.0.0-py3-none-any.whl", "not the real wheel");
  ScopedEnvironment env;
  env.set("PIP_NO_INDEX", "1");
  env.set("PIP_FIND_LINKS", links.string());
  env.set("PIP_NO_CACHE_DIR", "1");
  fs::path deps = dir.path() / "deps";
  auto includes = ensure_dependency(*find_dependency("cutlass"), deps, deps / "install.log");
  ASSERT_FALSE(includes);
  EXPECT_EQ(includes.error().kind, ErrorKind::not_found);
  const std::string& message = includes.error().message;
  EXPECT_NE(
      message.find("build.toml asks for cutlass (nvidia-cutlass==4.2.0.0), which could not be "
                   "installed"),
      std::string::npos)
      << message;
  EXPECT_NE(
      message.find("pip install --no-deps --target " + (deps / "nvidia-cutlass-4.2.0.0").string()),
      std::string::npos)
      << message;
  EXPECT_NE(kget::testing::read_file(deps / "install.log").find("HASHES"), std::string::npos);
  EXPECT_FALSE(fs::exists(deps / "nvidia-cutlass-4.2.0.0"));
  EXPECT_TRUE(partial_installs(deps).empty());
}

TEST(BuildDepsTest, UnreachableIndexFailsNamingThePackage) {
  TempDir dir;
  ScopedEnvironment env;
  env.set("PIP_INDEX_URL", "http://127.0.0.1:9/simple");
  env.set("PIP_RETRIES", "0");
  env.set("PIP_TIMEOUT", "5");
  env.set("PIP_NO_CACHE_DIR", "1");
  fs::path deps = dir.path() / "deps";
  auto includes = ensure_dependency(*find_dependency("cutlass"), deps, deps / "install.log");
  ASSERT_FALSE(includes);
  EXPECT_NE(includes.error().message.find("nvidia-cutlass==4.2.0.0"), std::string::npos)
      << includes.error().message;
  EXPECT_NE(includes.error().message.find("no access to the package index"), std::string::npos)
      << includes.error().message;
  EXPECT_FALSE(fs::exists(deps / "nvidia-cutlass-4.2.0.0"));
  EXPECT_TRUE(partial_installs(deps).empty());
}

} // namespace
} // namespace kget::build
