// A pull: a kernel reference in, a verified variant directory in the cache out. It resolves the
// spec to a commit, lists build/ once, reads the metadata of the variants whose names could fit,
// lets the resolver choose, and downloads the chosen variant's files into the cache, in parallel,
// each verified before it is visible. Endpoints are tried in order (KGET_ENDPOINT, then
// KGET_MIRRORS); offline, nothing opens a socket. The requests it makes: docs/pull.md.
#pragma once

#include "cache/cache.hpp"
#include "host/host.hpp"
#include "lock/lock.hpp"
#include "metadata/metadata.hpp"
#include "ref/kernel_ref.hpp"
#include "remote/remote.hpp"
#include "resolve/resolver.hpp"
#include "settings/environment.hpp"

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace kget::fetch {

// Everything a pull reads from the environment, resolved once (config_from) or set by an API
// caller.
struct Config {
  std::vector<std::string> endpoints; // the first, then the mirrors
  std::string token;
  bool offline = false;
  std::filesystem::path cache_root;
  std::map<std::string, std::filesystem::path> local_kernels; // "org/name" -> build directory
  int parallel_downloads = 8;
  cache::VerifyMode verify = cache::VerifyMode::cheap;
};

// KGET_ENDPOINT/HF_ENDPOINT, KGET_MIRRORS, KGET_TOKEN/HF_TOKEN/the HF token file, KGET_OFFLINE,
// KGET_CACHE and its fallbacks, KGET_LOCAL_KERNELS; malformed values are invalid_setting.
Result<Config> config_from(const settings::Environment& env);

// The cache root the settings name: KGET_CACHE, KERNELS_CACHE, HF_HUB_CACHE, $HF_HOME/hub,
// $XDG_CACHE_HOME/huggingface/hub, ~/.cache/huggingface/hub.
std::filesystem::path default_cache_root(const settings::Environment& env);

struct FileProgress {
  std::string path; // in the repository
  uint64_t received = 0;
  uint64_t total = 0;
  bool done = false;
};
// Called from download threads, possibly at once; must be thread-safe.
using ProgressCallback = std::function<void(const FileProgress&)>;

// How a spec became a commit.
struct Revision {
  std::string commit;
  std::string name; // the branch or tag it came through ("v1", "v1.2.0"); "" for a commit spec
  std::string how;  // for people: "branch v1", "highest tag matching ^1.2: v1.3.0"
};

struct Pulled {
  std::string repo_id;
  Revision revision;
  std::string source; // the endpoint that answered, "the cache (offline)", or the local directory
  std::vector<std::string> warnings; // e.g. fell back to the cache after network errors
  resolve::Resolution resolution;
  std::string variant;
  std::filesystem::path variant_dir; // snapshots/<commit>/build/<variant>, or the local build
  metadata::VariantMetadata metadata;
  std::string metadata_json;          // the chosen variant's metadata.json, verbatim
  std::vector<cache::FileSpec> files; // metadata.json and every file its digest lists
  size_t files_downloaded = 0;        // metadata of candidates included
  uint64_t bytes_downloaded = 0;
  bool local = false; // from KGET_LOCAL_KERNELS
};

struct PullRequest {
  ref::KernelRef ref;
  const host::HostInfo* host = nullptr;
  resolve::DeviceChoice device;
  ProgressCallback progress;
  // From kget.lock: the commit replaces the spec (no request for refs), and the chosen variant's
  // files, metadata.json included, must have the locked digests (else ErrorKind::integrity).
  const lock::LockedKernel* locked = nullptr;
};

// Failures: not_found (kernel, revision), no_compatible_variant (the message is the explanation
// table), network (every endpoint failed, each named), integrity, invalid_metadata, io.
Result<Pulled> pull(const PullRequest& request, const Config& config);

// The branches and tags of a repository (from the first endpoint that answers, or offline from
// the cache's refs/).
struct VersionList {
  std::string source;
  remote::Refs refs;
};
Result<VersionList> list_versions(std::string_view repo_id, const Config& config);

// Every variant of a revision with its metadata (all fetched into the cache, whatever the host),
// and the resolution for this host, for `kget info`.
struct KernelInfo {
  std::string repo_id;
  Revision revision;
  std::string source;
  std::vector<resolve::Candidate> variants;
  resolve::Resolution resolution;
};
Result<KernelInfo> info(const PullRequest& request, const Config& config);

// The lock entry for a kernel: its commit and, for every variant whose metadata is valid, the
// digests of its files and of its metadata.json (fetched into the cache by `info`).
Result<lock::LockedKernel> lock_entry(const KernelInfo& info, const ref::KernelRef& ref,
                                      const Config& config);

} // namespace kget::fetch
