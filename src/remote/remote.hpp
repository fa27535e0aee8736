// A registry as the client sees it: the few questions a pull asks, answered either over the Hub
// HTTP API (kget-registry, huggingface.co, a mirror) or by reading a `file://` store directly.
// Which requests are made, and why no more: docs/pull.md.
#pragma once

#include "http/http.hpp"
#include "util/result.hpp"
#include "util/sink.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kget::remote {

struct Refs {
  std::map<std::string, std::string> branches; // name -> 40-hex commit
  std::map<std::string, std::string> tags;
};

// One file of a commit as the registry lists it.
struct TreeFile {
  std::string path; // '/'-separated, from the repository root
  uint64_t size = 0;
  std::string git_oid;    // the git blob id (of the LFS pointer, for LFS files)
  std::string lfs_sha256; // set for LFS files: the content's sha256
  // The name the Hub cache gives the blob: the sha256 for LFS files, else the git blob id.
  const std::string& etag() const { return lfs_sha256.empty() ? git_oid : lfs_sha256; }
};

struct EndpointOptions {
  std::string token;          // bearer token, sent only to the endpoint's host
  std::string user_agent;     // default "kget/<version>"
  http::RetryPolicy retry;    // for every request
  http::ClientOptions client; // timeouts; its retry is replaced by `retry`
};

class Remote {
public:
  virtual ~Remote() = default;
  // The endpoint, for messages: "http://127.0.0.1:8080", "file:///srv/kget-store".
  virtual const std::string& endpoint() const = 0;

  // The branches and tags of a repository. not_found when the repository does not exist;
  // ErrorKind::network when the endpoint cannot answer (which is when mirrors are tried).
  virtual Result<Refs> list_refs(std::string_view repo_id) = 0;
  // The commit a branch, tag or commit names (repo info), for mirrors that do not serve refs.
  virtual Result<std::string> resolve_revision(std::string_view repo_id,
                                               std::string_view revision) = 0;
  // Every file under `directory` (recursively) at `commit`.
  virtual Result<std::vector<TreeFile>>
  list_files(std::string_view repo_id, std::string_view commit, std::string_view directory) = 0;
  // The content of `path` at `commit`, streamed into `sink` (resumed or restarted as needed).
  virtual Result<void> download(std::string_view repo_id, std::string_view commit,
                                std::string_view path, util::ByteSink& sink,
                                const http::ProgressCallback& progress) = 0;
  // A remote of the same endpoint for another thread (HTTP clients are one per thread).
  virtual Result<std::unique_ptr<Remote>> clone() const = 0;
};

// "http://…", "https://…" or "file:///absolute/path"; anything else is ErrorKind::invalid_setting
// naming the value and the accepted forms.
Result<std::unique_ptr<Remote>> open(std::string_view endpoint, const EndpointOptions& options);

} // namespace kget::remote
