// The registry's routes: the Hugging Face Hub read API (research/hub-protocol.md §2 and §5) for
// the model and kernel families, the organization overview the `kernels` library asks for, and
// kget's push protocol under /api/kget/v1 (docs/registry.md). Pure functions of a request and the
// store; no HTTP library here.
#pragma once

#include "registry/config.hpp"
#include "registry/message.hpp"
#include "store/store.hpp"

#include <expected>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace kget::registry {

// Receives the body of a request whose route needs one, then answers.
class BodyReader {
public:
  virtual ~BodyReader() = default;
  // The next piece of the body. false: stop and drop the connection, because the client keeps
  // sending far beyond what the route accepts (a response cannot be sent before the body ends).
  virtual bool consume(std::string_view data) = 0;
  // The whole body has arrived.
  virtual Response finish() = 0;
};

// What a request's head leads to: an answer now (the body, if any, is not read), or a reader.
using Dispatch = std::variant<Response, std::unique_ptr<BodyReader>>;

class Router {
public:
  // `listen_url` ("http://127.0.0.1:8080") is the base of absolute URLs when the configuration
  // gives no public URL and the request no Host header.
  Router(Config config, store::Store store, std::string listen_url);

  // Decides from the method, target and headers alone.
  Dispatch begin(const Request& request) const;
  // begin(), then `body` through the reader when there is one: the whole exchange at once.
  Response handle(const Request& request, std::string_view body = {}) const;

  const Config& config() const { return m_config; }
  const store::Store& store() const { return m_store; }

private:
  struct RepoAt; // a repository and the commit a revision resolved to

  Dispatch route_api(const Request& request) const;
  Dispatch route_push(const Request& request) const;
  Response route_resolve(const Request& request) const;

  std::optional<Response> check_read_access(const Request& request) const;
  std::optional<Response> check_push_access(const Request& request) const;
  bool token_accepted(std::string_view token) const;

  // The repository at `revision`, or the 404 (RepoNotFound, RevisionNotFound) to answer.
  std::expected<RepoAt, Response> open_revision(std::string_view repo,
                                                std::string_view revision) const;
  std::shared_ptr<const store::Commit> cached_commit(std::string_view repo,
                                                     std::string_view id) const;
  std::string base_url(const Request& request) const;

  Response repo_info(const Request& request, std::string_view repo,
                     std::string_view revision) const;
  Response repo_refs(const Request& request, std::string_view repo) const;
  Response repo_tree(const Request& request, std::string_view family, std::string_view repo,
                     std::string_view revision, std::string_view path) const;
  Response resolve_file(const Request& request, std::string_view repo, std::string_view revision,
                        std::string_view path) const;
  Response organization_overview(std::string_view org) const;

  Dispatch push_missing_blobs(const Request& request) const;
  Dispatch push_blob(const Request& request, std::string_view sha256) const;
  Dispatch push_version(const Request& request, std::string_view repo) const;

  Config m_config;
  store::Store m_store;
  std::string m_listen_url;
  // Commits never change once written, so parsed ones are kept (bounded) for the next request.
  mutable std::mutex m_commits_mutex;
  mutable std::map<std::string, std::shared_ptr<const store::Commit>> m_commits;
};

} // namespace kget::registry
