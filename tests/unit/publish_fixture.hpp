// Real variant directories for the publish tests: files written to a temporary directory and a
// metadata.json listing their digests, valid unless a test spoils it on purpose.
#pragma once

#include "digest/digest.hpp"
#include "support/temp_dir.hpp"

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string>
#include <vector>

namespace kget::testing {

namespace fs = std::filesystem;

inline std::string base64_digest(const std::string& content, const EVP_MD* md) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(content.data(), content.size(), digest, &length, md, nullptr);
  std::string text(4 * ((length + 2) / 3) + 1, '\0');
  int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(text.data()), digest,
                                static_cast<int>(length));
  text.resize(static_cast<size_t>(written));
  return text;
}

// A valid metadata document for variant `name` (kget1-cpu-… or kget1-cuXY-…) listing `files`.
inline nlohmann::json variant_metadata(const std::string& name,
                                       const std::map<std::string, std::string>& files,
                                       int major = 1, const std::string& kernel = "demo",
                                       const EVP_MD* md = EVP_sha256()) {
  nlohmann::json digests = nlohmann::json::object();
  for (const auto& [path, content] : files) {
    digests[path] = base64_digest(content, md);
  }
  nlohmann::json document = {
      {"name", kernel},
      {"version", major},
      {"license", "Apache-2.0"},
      {"digest", {{"algorithm", md == EVP_sha256() ? "sha256" : "sha512"}, {"files", digests}}},
      {"kget",
       {{"abi", {{"major", 1}, {"minor", 0}}},
        {"library", files.begin()->first},
        {"ops",
         {{{"name", "rms_norm"},
           {"schema", "rms_norm(Tensor! out, Tensor input, Tensor weight, float eps) -> ()"}}}},
        {"requires",
         {{"symbol_versions", {"GLIBC_2.17"}}, {"cpu_features", nlohmann::json::array()}}}}}};
  std::string backend = name.substr(name.find('-') + 1, name.find('-', 6) - name.find('-') - 1);
  if (backend == "cpu") {
    document["backend"] = {{"type", "cpu"}};
  } else {
    std::string digits = backend.substr(2);
    std::string toolkit =
        digits.substr(0, digits.size() - 1) + "." + digits.substr(digits.size() - 1);
    document["backend"] = {{"type", "cuda"}, {"archs", {"9.0a"}}};
    document["kget"]["cuda"] = {{"toolkit", toolkit},
                                {"min_driver", toolkit.substr(0, toolkit.find('.')) + ".0"},
                                {"sass", {"sm_90a"}},
                                {"ptx", nlohmann::json::array()}};
  }
  return document;
}

// Writes <parent>/<name>/ with `files` and a metadata.json listing them; returns the directory.
inline fs::path write_variant(const fs::path& parent, const std::string& name,
                              const std::map<std::string, std::string>& files, int major = 1,
                              const std::string& kernel = "demo") {
  fs::path directory = parent / name;
  for (const auto& [path, content] : files) {
    write_file(directory / path, content);
  }
  write_file(directory / "metadata.json", variant_metadata(name, files, major, kernel).dump(2));
  return directory;
}

// A kernel directory <root>/build/ with a CPU and a CUDA variant sharing one library.
inline fs::path write_kernel(const fs::path& root, const std::string& library = "library bytes") {
  write_variant(root / "build", "kget1-cpu-x86_64-linux", {{"libdemo.so", library}});
  write_variant(root / "build", "kget1-cu130-x86_64-linux",
                {{"libdemo.so", library + " for CUDA"}, {"README.md", "read me\n"}});
  return root;
}

// Every blob file under a store's blobs/ directory.
inline std::vector<fs::path> blob_files(const fs::path& store_root) {
  std::vector<fs::path> blobs;
  if (!fs::exists(store_root / "blobs")) {
    return blobs;
  }
  for (const auto& entry : fs::recursive_directory_iterator(store_root / "blobs")) {
    if (entry.is_regular_file()) {
      blobs.push_back(entry.path());
    }
  }
  return blobs;
}

} // namespace kget::testing
