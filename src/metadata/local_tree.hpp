// Variants laid out on disk as in a kernel repository: <root>/build/<variant>/metadata.json.
#pragma once

#include "metadata/metadata.hpp"
#include "util/result.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace kget::metadata {

struct LocalVariant {
  std::string name;                 // the directory name under build/
  std::filesystem::path directory;  // <root>/build/<name>
  Result<VariantMetadata> metadata; // a failure here rejects this variant only
};

// Every directory under <root>/build (or under <root> itself when it holds no build/ but does hold
// variant directories), sorted by name. Fails when there is no such directory or it is empty.
Result<std::vector<LocalVariant>> read_local_variants(const std::filesystem::path& root);

} // namespace kget::metadata
