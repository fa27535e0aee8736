// A registry over the Hub HTTP API (kget-registry, huggingface.co, Artifactory/Nexus/Olah
// mirrors): the `kernels` family of routes, as docs/pull.md lists them.
#include "digest/digest.hpp"
#include "remote/remote_internal.hpp"
#include "util/strings.hpp"
#include "util/url.hpp"

#include <nlohmann/json.hpp>

namespace kget::remote {

namespace {

using json = nlohmann::json;

// A revision or tree sub-path is one URL segment (huggingface_hub quotes them with safe="").
std::string segment(std::string_view text) {
  return util::percent_encode(text);
}

std::string describe_status(const http::Response& response) {
  std::string text = fmt::format("HTTP {}", response.status);
  if (auto code = response.headers.get("X-Error-Code")) {
    text += fmt::format(" {}", *code);
  }
  if (auto message = response.headers.get("X-Error-Message"); message && !message->empty()) {
    text += fmt::format(": {}", *message);
  }
  return text;
}

// The Hub's error answers as kget failures; `what` says what was asked ("the refs of org/name").
Failure failure_for(const http::Response& response, std::string_view what, const std::string& url) {
  auto code = response.headers.get("X-Error-Code").value_or("");
  std::string detail = describe_status(response);
  if (code == "RepoNotFound" || code == "RevisionNotFound" || code == "EntryNotFound" ||
      response.status == 404) {
    std::string hint = response.status == 401
                           ? " (the Hub answers 401 for a repository that is private or absent; "
                             "set KGET_TOKEN if it is private)"
                           : "";
    return {ErrorKind::not_found, fmt::format("{}: {} ({}){}", what, detail, url, hint)};
  }
  if (response.status == 401 || response.status == 403) {
    return {ErrorKind::permission,
            fmt::format("{}: {} ({}); set KGET_TOKEN (or HF_TOKEN) to a token this registry "
                        "accepts",
                        what, detail, url)};
  }
  return {ErrorKind::network, fmt::format("{}: {} ({})", what, detail, url)};
}

Result<json> parse_json(const http::Response& response, std::string_view what,
                        const std::string& url) {
  json document = json::parse(response.body, nullptr, false);
  if (document.is_discarded()) {
    return fail(ErrorKind::network, "{}: the answer from {} is not JSON (is this a Hub API?)", what,
                url);
  }
  return document;
}

// rel="next" of a Link header, which the Hub sends as an absolute URL.
std::optional<std::string> next_link(const http::Headers& headers) {
  for (const auto& [name, value] : headers.fields()) {
    if (util::to_lower(name) != "link") {
      continue;
    }
    for (auto part : util::split(value, ',')) {
      auto open = part.find('<');
      auto close = part.find('>');
      if (open != std::string_view::npos && close != std::string_view::npos && open < close &&
          part.find("rel=\"next\"") != std::string_view::npos) {
        return std::string(part.substr(open + 1, close - open - 1));
      }
    }
  }
  return std::nullopt;
}

Result<std::string> string_field(const json& object, const char* key, std::string_view what) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) {
    return fail(ErrorKind::network, "{}: the registry's answer has no string \"{}\"", what, key);
  }
  return it->get<std::string>();
}

Result<std::map<std::string, std::string>> read_ref_list(const json& document, const char* key,
                                                         std::string_view what) {
  std::map<std::string, std::string> refs;
  auto it = document.find(key);
  if (it == document.end()) {
    return refs;
  }
  if (!it->is_array()) {
    return fail(ErrorKind::network, "{}: \"{}\" is not an array", what, key);
  }
  for (const auto& item : *it) {
    if (!item.is_object()) {
      return fail(ErrorKind::network, "{}: an entry of \"{}\" is not an object", what, key);
    }
    KGET_TRY_ASSIGN(auto name, string_field(item, "name", what));
    KGET_TRY_ASSIGN(auto commit, string_field(item, "targetCommit", what));
    if (!digest::is_lower_hex(commit, 40)) {
      return fail(ErrorKind::network, "{}: {} \"{}\" points at \"{}\", not a 40-hex commit", what,
                  key, name, commit);
    }
    refs.emplace(std::move(name), std::move(commit));
  }
  return refs;
}

Result<TreeFile> read_tree_file(const json& item, std::string_view what) {
  TreeFile file;
  KGET_TRY_ASSIGN(file.path, string_field(item, "path", what));
  KGET_TRY_ASSIGN(file.git_oid, string_field(item, "oid", what));
  auto size = item.find("size");
  if (size == item.end() || !size->is_number_unsigned()) {
    return fail(ErrorKind::network, "{}: \"{}\" has no size", what, file.path);
  }
  file.size = size->get<uint64_t>();
  if (auto lfs = item.find("lfs"); lfs != item.end() && lfs->is_object()) {
    KGET_TRY_ASSIGN(file.lfs_sha256, string_field(*lfs, "oid", what));
    if (!digest::is_lower_hex(file.lfs_sha256, 64)) {
      return fail(ErrorKind::network, "{}: \"{}\" has an LFS oid that is not a sha256", what,
                  file.path);
    }
  } else if (!digest::is_lower_hex(file.git_oid, 40)) {
    return fail(ErrorKind::network, "{}: \"{}\" has an oid that is not a git blob id", what,
                file.path);
  }
  return file;
}

class HubRemote final : public Remote {
public:
  HubRemote(std::string endpoint, EndpointOptions options, http::Client client)
      : m_endpoint(std::move(endpoint)), m_options(std::move(options)),
        m_client(std::move(client)) {}

  const std::string& endpoint() const override { return m_endpoint; }

  Result<Refs> list_refs(std::string_view repo_id) override {
    std::string what = fmt::format("the refs of {} at {}", repo_id, m_endpoint);
    std::string url = fmt::format("{}/api/kernels/{}/refs", m_endpoint, repo_id);
    KGET_TRY_ASSIGN(auto response, get(url));
    if (response.status != 200) {
      return std::unexpected(failure_for(response, what, url));
    }
    KGET_TRY_ASSIGN(auto document, parse_json(response, what, url));
    if (!document.is_object()) {
      return fail(ErrorKind::network, "{}: the answer is not a JSON object", what);
    }
    Refs refs;
    KGET_TRY_ASSIGN(refs.branches, read_ref_list(document, "branches", what));
    KGET_TRY_ASSIGN(refs.tags, read_ref_list(document, "tags", what));
    return refs;
  }

  Result<std::string> resolve_revision(std::string_view repo_id,
                                       std::string_view revision) override {
    std::string what = fmt::format("revision \"{}\" of {} at {}", revision, repo_id, m_endpoint);
    std::string url =
        fmt::format("{}/api/kernels/{}/revision/{}", m_endpoint, repo_id, segment(revision));
    KGET_TRY_ASSIGN(auto response, get(url));
    if (response.status != 200) {
      return std::unexpected(failure_for(response, what, url));
    }
    KGET_TRY_ASSIGN(auto document, parse_json(response, what, url));
    if (!document.is_object()) {
      return fail(ErrorKind::network, "{}: the answer is not a JSON object", what);
    }
    KGET_TRY_ASSIGN(auto sha, string_field(document, "sha", what));
    if (!digest::is_lower_hex(sha, 40)) {
      return fail(ErrorKind::network, "{}: \"sha\" is \"{}\", not a 40-hex commit", what, sha);
    }
    return sha;
  }

  Result<std::vector<TreeFile>> list_files(std::string_view repo_id, std::string_view commit,
                                           std::string_view directory) override {
    std::string what =
        fmt::format("the files under {}/ of {} at {}", directory, repo_id, m_endpoint);
    std::string url = fmt::format("{}/api/kernels/{}/tree/{}/{}?recursive=true&expand=false",
                                  m_endpoint, repo_id, segment(commit), segment(directory));
    std::vector<TreeFile> files;
    // Pages are followed until the registry stops sending rel="next"; the bound only stops a
    // registry that links a page to itself.
    for (int page = 0; page < 100000; ++page) {
      KGET_TRY_ASSIGN(auto response, get(url));
      if (response.status != 200) {
        return std::unexpected(failure_for(response, what, url));
      }
      KGET_TRY_ASSIGN(auto document, parse_json(response, what, url));
      if (!document.is_array()) {
        return fail(ErrorKind::network, "{}: the answer is not a JSON array", what);
      }
      for (const auto& item : document) {
        if (item.is_object() && item.value("type", "") == "file") {
          KGET_TRY_ASSIGN(auto file, read_tree_file(item, what));
          files.push_back(std::move(file));
        }
      }
      auto next = next_link(response.headers);
      if (!next) {
        return files;
      }
      url = *next;
    }
    return fail(ErrorKind::network, "{}: the listing does not end", what);
  }

  Result<void> download(std::string_view repo_id, std::string_view commit, std::string_view path,
                        util::ByteSink& sink, const http::ProgressCallback& progress) override {
    http::Request request;
    request.url = fmt::format("{}/kernels/{}/resolve/{}/{}", m_endpoint, repo_id, segment(commit),
                              util::percent_encode(path, /*keep_slash=*/true));
    request.bearer_token = m_options.token;
    KGET_TRY_ASSIGN(auto result, m_client.download(request, sink, progress));
    (void)result;
    return {};
  }

  Result<std::unique_ptr<Remote>> clone() const override { return open_hub(m_endpoint, m_options); }

private:
  Result<http::Response> get(const std::string& url) {
    http::Request request;
    request.url = url;
    request.bearer_token = m_options.token;
    // Mirrors answer API calls with relative redirects; huggingface_hub follows those, so do we.
    request.follow_redirects = true;
    return m_client.send(request);
  }

  std::string m_endpoint;
  EndpointOptions m_options;
  http::Client m_client;
};

} // namespace

Result<std::unique_ptr<Remote>> open_hub(std::string_view endpoint,
                                         const EndpointOptions& options) {
  http::ClientOptions client_options = options.client;
  client_options.retry = options.retry;
  if (!options.user_agent.empty()) {
    client_options.user_agent = options.user_agent;
  }
  KGET_TRY_ASSIGN(auto client, http::Client::create(client_options));
  std::string base(endpoint);
  while (!base.empty() && base.back() == '/') {
    base.pop_back();
  }
  return std::make_unique<HubRemote>(std::move(base), options, std::move(client));
}

} // namespace kget::remote
