// `kget push`: finds the variant directories to publish, checks each against its metadata.json,
// and publishes them as one version of a repository, either straight into a `file://` store or
// through kget-registry's push API (docs/cli.md, "kget push"; the push API: docs/registry.md).
//
// Everything is read and checked before anything is written: a push that fails its checks
// leaves the destination untouched.
#pragma once

#include "http/http.hpp"
#include "metadata/metadata.hpp"
#include "ref/version.hpp"
#include "store/store.hpp"
#include "util/result.hpp"

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace kget::publish {

// One file to publish: where it is on disk and where it goes in the repository.
struct PlannedFile {
  std::string path;             // "build/<variant>/<path inside the variant directory>"
  std::filesystem::path source; // the file on disk (a symlink's target, see list_variant_files)
  uint64_t size = 0;
  std::string sha256; // lower-case hex, as the file was when checked
};

struct PlannedVariant {
  std::string name;                // "kget1-cu130-x86_64-linux"
  std::filesystem::path directory; // where it was found
  size_t files = 0;                // metadata.json included
};

// A checked push: what `push_to_store` and `push_to_registry` publish.
struct PushPlan {
  std::string repo; // "org/name"
  ref::Version version;
  std::string message;
  std::vector<PlannedVariant> variants; // sorted by name
  std::vector<PlannedFile> files;       // sorted by path
  uint64_t total_bytes() const;
};

// The first file of each distinct content, in path order: what is uploaded once.
std::vector<const PlannedFile*> unique_blobs(const PushPlan& plan);

struct PlanRequest {
  // Any mix of kernel directories (holding build/<variant>/), build directories (holding variant
  // directories) and variant directories (holding metadata.json).
  std::vector<std::filesystem::path> inputs;
  std::string repo;    // "org/name"; invalid_reference when malformed
  std::string version; // "1.2.0"; invalid_reference when not a semantic version
  std::string message; // empty: "Publish version <version>"
};

// The variant directories the inputs name, in the order given. A directory holding
// metadata.json is a variant; one holding build/ is a kernel directory; any other is a build
// directory whose subdirectories are all variants. A variant named twice is a usage error.
Result<std::vector<std::filesystem::path>>
find_variant_directories(const std::vector<std::filesystem::path>& inputs);

// A file found in a variant directory.
struct LocalFile {
  std::string relative;         // '/'-separated, relative to the variant directory
  std::filesystem::path source; // what to read
};

// Every file under `directory`, sorted by relative path. A symlink is followed when it ends at a
// regular file inside `directory` (libfoo.so -> libfoo.so.1) and refused otherwise, as are
// symlinked directories and anything but regular files: the published tree is exactly what the
// directory shows, and nothing outside it is read.
Result<std::vector<LocalFile>> list_variant_files(const std::filesystem::path& directory);

// One variant directory, checked: a kget variant name, a metadata.json that parses and agrees
// with the name, and exactly the files its `digest.files` lists (plus metadata.json), each with
// the listed digest. A digest that differs, a listed file that is missing and a file that is not
// listed are ErrorKind::integrity: clients verify every file against that list.
struct CheckedVariant {
  std::string name;
  std::filesystem::path directory;
  metadata::VariantMetadata metadata;
  std::vector<PlannedFile> files; // sorted by path
};
Result<CheckedVariant> check_variant(const std::filesystem::path& directory);

// Reads and checks everything the request names; writes nothing.
Result<PushPlan> plan_push(const PlanRequest& request);

// Where a push goes: `file:///abs/path` (a store, created when absent) or an http(s) registry.
struct Destination {
  enum class Kind { store, registry };
  Kind kind = Kind::store;
  std::string url;                  // as given
  std::filesystem::path store_root; // for Kind::store
};

// usage for another scheme, a relative or remote file URL, or a URL with a query or fragment.
Result<Destination> parse_destination(std::string_view url);

struct PushOutcome {
  store::PublishResult published; // commit, branch, tag, created, moved_main
  size_t blobs_uploaded = 0;      // distinct contents sent (or copied into the store)
  size_t blobs_present = 0;       // distinct contents the destination already had
  uint64_t bytes_uploaded = 0;
  uint64_t bytes_present = 0;
};

// Publishes into a store. A version already published with other files is a conflict found
// before any blob is copied; with the same files it changes nothing (published.created = false).
Result<PushOutcome> push_to_store(const store::Store& store, const PushPlan& plan);

// Publishes through kget-registry's push API under `endpoint`: asks which blobs are missing,
// uploads those (streamed from disk), then posts the version. Refusals map to error kinds:
// 401/403 permission, 409 conflict, 400 by X-Error-Code, 413 usage, 404 not_found, else network.
Result<PushOutcome> push_to_registry(http::Client& client, std::string_view endpoint,
                                     std::string_view token, const PushPlan& plan);

// Opens (or creates) the store, or connects to the registry, and pushes.
Result<PushOutcome> push(const PushPlan& plan, const Destination& destination,
                         std::string_view token);

} // namespace kget::publish
