// What a kget::Kernel holds: where its variant came from and the loaded library with its ops.
#pragma once

#include "loader/loader.hpp"

#include <kget/kget.hpp>
#include <memory>
#include <string>
#include <vector>

namespace kget::detail {

struct KernelState {
  std::string repo_id;
  std::string commit;
  std::string revision;
  std::string variant;
  std::string reason;
  std::string source;
  std::string path;
  std::string library_path;
  std::string metadata_json;
  std::vector<std::string> warnings;
  std::shared_ptr<const loader::LoadedKernel> loaded;
};

} // namespace kget::detail
