// Dispatch by path and method, access checks, and what the read and push routes share.
#include "registry/router.hpp"

#include "ref/kernel_ref.hpp"
#include "registry/router_internal.hpp"
#include "registry/url.hpp"
#include "util/strings.hpp"

namespace kget::registry {

namespace {

constexpr size_t k_commit_cache_size = 1024;

std::string join_segments(const std::vector<std::string>& segments, size_t from) {
  std::string joined;
  for (size_t i = from; i < segments.size(); ++i) {
    if (i > from) {
      joined += '/';
    }
    joined += segments[i];
  }
  return joined;
}

bool is_read_method(std::string_view method) {
  return method == "GET" || method == "HEAD";
}

// The token of "Authorization: Bearer <token>"; nullopt for no header or another scheme.
std::optional<std::string_view> bearer_token(const Request& request) {
  auto value = request.header("authorization");
  if (!value) {
    return std::nullopt;
  }
  std::string_view text = util::trim(*value);
  constexpr std::string_view scheme = "bearer ";
  if (text.size() <= scheme.size() || util::to_lower(text.substr(0, scheme.size())) != scheme) {
    return std::nullopt;
  }
  return util::trim(text.substr(scheme.size()));
}

// Compares without an early exit, so the time taken does not tell how much of a guess was right.
// (The length is not the secret.)
bool same_secret(std::string_view given, std::string_view known) {
  if (given.size() != known.size()) {
    return false;
  }
  unsigned char difference = 0;
  for (size_t i = 0; i < given.size(); ++i) {
    difference |= static_cast<unsigned char>(given[i] ^ known[i]);
  }
  return difference == 0;
}

} // namespace

Response method_not_allowed(std::string_view allowed) {
  Response response =
      error_response(405, "MethodNotAllowed", fmt::format("this route accepts only {}", allowed));
  response.add_header("Allow", std::string(allowed));
  return response;
}

Response route_not_found(const Request& request) {
  return error_response(404, "NotFound",
                        fmt::format("no route for {} {}; see docs/registry.md for the routes",
                                    request.method, header_safe(request.target)));
}

Router::Router(Config config, store::Store store, std::string listen_url)
    : m_config(std::move(config)), m_store(std::move(store)), m_listen_url(std::move(listen_url)) {}

Dispatch Router::begin(const Request& request) const {
  const auto& s = request.segments;
  if (!s.empty() && s[0] == "api") {
    if (s.size() >= 3 && s[1] == "kget" && s[2] == "v1") {
      return route_push(request);
    }
    if (auto denied = check_read_access(request)) {
      return std::move(*denied);
    }
    return route_api(request);
  }
  if (auto denied = check_read_access(request)) {
    return std::move(*denied);
  }
  return route_resolve(request);
}

Response Router::handle(const Request& request, std::string_view body) const {
  Dispatch dispatch = begin(request);
  if (auto* response = std::get_if<Response>(&dispatch)) {
    return std::move(*response);
  }
  auto& reader = std::get<std::unique_ptr<BodyReader>>(dispatch);
  if (!body.empty() && !reader->consume(body)) {
    return error_response(413, "PayloadTooLarge", "the request body is too large");
  }
  return reader->finish();
}

Dispatch Router::route_api(const Request& request) const {
  const auto& s = request.segments;
  bool repo_family = s.size() >= 4 && (s[1] == "models" || s[1] == "kernels");
  if (repo_family) {
    std::string repo = s[2] + "/" + s[3];
    std::string_view family = s[1];
    auto read_only = [&](auto&& respond) -> Dispatch {
      if (!is_read_method(request.method)) {
        return method_not_allowed("GET, HEAD");
      }
      return respond();
    };
    if (s.size() == 4) {
      return read_only([&] { return repo_info(request, repo, "main"); });
    }
    if (s[4] == "revision" && s.size() >= 6) {
      // A client that did not encode '/' in the revision sends it as several segments.
      return read_only([&] { return repo_info(request, repo, join_segments(s, 5)); });
    }
    if (s[4] == "refs" && s.size() == 5) {
      return read_only([&] { return repo_refs(request, repo); });
    }
    if (s[4] == "tree" && s.size() >= 6) {
      return read_only([&] { return repo_tree(request, family, repo, s[5], join_segments(s, 6)); });
    }
    return route_not_found(request);
  }
  if (s.size() == 4 && s[1] == "organizations" && s[3] == "overview") {
    if (!is_read_method(request.method)) {
      return method_not_allowed("GET, HEAD");
    }
    return organization_overview(s[2]);
  }
  return route_not_found(request);
}

Response Router::route_resolve(const Request& request) const {
  const auto& s = request.segments;
  // /kernels/{org}/{name}/resolve/{rev}/{path...} before /{org}/{name}/resolve/{rev}/{path...}:
  // a model repository under an org called "kernels" is still reachable when its name is not
  // itself followed by "resolve".
  size_t start = 0;
  if (s.size() >= 6 && s[0] == "kernels" && s[3] == "resolve") {
    start = 1;
  } else if (!(s.size() >= 5 && s[2] == "resolve")) {
    return route_not_found(request);
  }
  if (!is_read_method(request.method)) {
    return method_not_allowed("GET, HEAD");
  }
  std::string repo = s[start] + "/" + s[start + 1];
  return resolve_file(request, repo, s[start + 3], join_segments(s, start + 4));
}

Dispatch Router::route_push(const Request& request) const {
  const auto& s = request.segments;
  auto with_access = [&](std::string_view method, auto&& respond) -> Dispatch {
    if (request.method != method) {
      return method_not_allowed(method);
    }
    if (auto denied = check_push_access(request)) {
      return std::move(*denied);
    }
    return respond();
  };
  if (s.size() == 5 && s[3] == "blobs" && s[4] == "missing") {
    return with_access("POST", [&] { return push_missing_blobs(request); });
  }
  if (s.size() == 6 && s[3] == "blobs" && s[4] == "sha256") {
    return with_access("PUT", [&] { return push_blob(request, s[5]); });
  }
  if (s.size() == 7 && s[3] == "repos" && s[6] == "versions") {
    return with_access("POST", [&] { return push_version(request, s[4] + "/" + s[5]); });
  }
  return route_not_found(request);
}

bool Router::token_accepted(std::string_view token) const {
  bool accepted = false;
  for (const auto& known : m_config.tokens) {
    accepted |= same_secret(token, known);
  }
  return accepted;
}

std::optional<Response> Router::check_read_access(const Request& request) const {
  if (!m_config.private_reads) {
    return std::nullopt;
  }
  auto token = bearer_token(request);
  if (!token) {
    Response response = error_response(
        401, "Unauthorized",
        "this registry is private: send Authorization: Bearer <token> (HF_TOKEN or KGET_TOKEN)");
    response.add_header("WWW-Authenticate", "Bearer");
    return response;
  }
  if (!token_accepted(*token)) {
    return error_response(403, "Forbidden", "the token is not accepted by this registry");
  }
  return std::nullopt;
}

std::optional<Response> Router::check_push_access(const Request& request) const {
  if (!m_config.push_enabled) {
    return error_response(403, "Forbidden",
                          "pushes are disabled on this registry; start kget-registry with "
                          "--token-file FILE (one token per line) to accept them");
  }
  auto token = bearer_token(request);
  if (!token) {
    Response response = error_response(401, "Unauthorized",
                                       "pushing needs a token: send Authorization: Bearer <token>");
    response.add_header("WWW-Authenticate", "Bearer");
    return response;
  }
  if (!token_accepted(*token)) {
    return error_response(403, "Forbidden",
                          "the token is not accepted for pushes (it is not in the server's "
                          "--token-file)");
  }
  return std::nullopt;
}

std::shared_ptr<const store::Commit> Router::cached_commit(std::string_view repo,
                                                           std::string_view id) const {
  std::string key = std::string(repo) + "@" + std::string(id);
  std::lock_guard lock(m_commits_mutex);
  auto it = m_commits.find(key);
  return it == m_commits.end() ? nullptr : it->second;
}

std::expected<Router::RepoAt, Response> Router::open_revision(std::string_view repo,
                                                              std::string_view revision) const {
  if (!ref::validate_repo_id(repo) || !m_store.has_repo(repo)) {
    return std::unexpected(
        error_response(404, "RepoNotFound", fmt::format("repository {} not found", repo)));
  }
  auto commit_id = m_store.resolve_revision(repo, revision);
  if (!commit_id) {
    if (commit_id.error().kind == ErrorKind::not_found) {
      return std::unexpected(error_response(404, "RevisionNotFound", commit_id.error().message));
    }
    return std::unexpected(failure_response(commit_id.error()));
  }
  if (auto cached = cached_commit(repo, *commit_id)) {
    return RepoAt{std::string(repo), std::move(cached)};
  }
  auto commit = m_store.read_commit(repo, *commit_id);
  if (!commit) {
    // A ref naming a commit that cannot be read is damage, not a client error.
    Failure failure = commit.error();
    failure.kind = failure.kind == ErrorKind::io ? ErrorKind::io : ErrorKind::internal;
    return std::unexpected(failure_response(failure));
  }
  auto shared = std::make_shared<const store::Commit>(std::move(*commit));
  std::lock_guard lock(m_commits_mutex);
  if (m_commits.size() >= k_commit_cache_size) {
    m_commits.clear();
  }
  m_commits.emplace(std::string(repo) + "@" + *commit_id, shared);
  return RepoAt{std::string(repo), std::move(shared)};
}

std::string Router::base_url(const Request& request) const {
  if (!m_config.public_url.empty()) {
    return m_config.public_url;
  }
  if (auto host = request.header("host")) {
    bool plausible = !host->empty() && host->size() <= 255;
    for (char c : *host) {
      bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
      plausible = plausible && allowed;
    }
    if (plausible) {
      return "http://" + std::string(*host);
    }
  }
  return m_listen_url;
}

} // namespace kget::registry
