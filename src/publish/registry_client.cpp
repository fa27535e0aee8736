// The client side of kget-registry's push API (docs/registry.md), all under
// {endpoint}/api/kget/v1 with the bearer token:
//   POST blobs/missing                 {"sha256": [...]}            -> {"missing": [...]}
//   PUT  blobs/sha256/<hex>            the bytes                    -> 201 stored / 200 present
//   POST repos/<org>/<name>/versions   {"version","message","files"} -> {"commit","branch",...}
// Refusals carry X-Error-Code and X-Error-Message; they become the error kinds of kget push.
#include "digest/digest.hpp"
#include "publish/publish.hpp"

#include <nlohmann/json.hpp>
#include <set>

namespace kget::publish {

namespace {

using nlohmann::json;

// Asking about a few thousand digests at once keeps each request body small.
constexpr size_t k_missing_batch = 1000;

std::string api_base(std::string_view endpoint) {
  std::string base(endpoint);
  while (!base.empty() && base.back() == '/') {
    base.pop_back();
  }
  return base + "/api/kget/v1";
}

std::string server_message(const http::Response& response) {
  if (auto message = response.headers.get("X-Error-Message"); message && !message->empty()) {
    return std::string(*message);
  }
  json body = json::parse(response.body, nullptr, false);
  if (body.is_object() && body.contains("error") && body["error"].is_string()) {
    return body["error"].get<std::string>();
  }
  std::string text(util::trim(response.body.substr(0, 200)));
  return text.empty() ? "no message" : text;
}

class RegistrySession {
public:
  RegistrySession(http::Client& client, std::string_view endpoint, std::string_view token)
      : m_client(client), m_endpoint(endpoint), m_base(api_base(endpoint)), m_token(token) {}

  Result<std::set<std::string>> missing_blobs(const std::vector<const PlannedFile*>& blobs);
  // True when the registry stored it, false when it already had it.
  Result<bool> upload_blob(const PlannedFile& blob);
  Result<store::PublishResult> publish_version(const PushPlan& plan);

private:
  http::Request request(std::string method, std::string path) const;
  // Sends; a status other than 200 or 201 becomes the failure it stands for.
  Result<http::Response> call(const http::Request& request, const PushPlan* plan = nullptr,
                              const PlannedFile* blob = nullptr);
  Failure refusal(const http::Request& request, const http::Response& response,
                  const PushPlan* plan, const PlannedFile* blob) const;
  Result<json> json_body(const http::Request& request, const http::Response& response) const;

  http::Client& m_client;
  std::string m_endpoint;
  std::string m_base;
  std::string m_token;
};

http::Request RegistrySession::request(std::string method, std::string path) const {
  http::Request request;
  request.method = std::move(method);
  request.url = m_base + path;
  request.bearer_token = m_token;
  request.headers.emplace_back("Accept", "application/json");
  return request;
}

Result<http::Response> RegistrySession::call(const http::Request& request, const PushPlan* plan,
                                             const PlannedFile* blob) {
  KGET_TRY_ASSIGN(auto response, m_client.send(request));
  if (response.status != 200 && response.status != 201) {
    return std::unexpected(refusal(request, response, plan, blob));
  }
  return response;
}

Failure RegistrySession::refusal(const http::Request& request, const http::Response& response,
                                 const PushPlan* plan, const PlannedFile* blob) const {
  std::string code(response.headers.get("X-Error-Code").value_or(""));
  std::string status =
      code.empty() ? std::to_string(response.status) : fmt::format("{} {}", response.status, code);
  std::string message = server_message(response);
  auto failure = [&](ErrorKind kind, std::string text) { return Failure{kind, std::move(text)}; };
  switch (response.status) {
  case 401:
    return failure(ErrorKind::permission,
                   fmt::format("the registry at {} wants a token to push ({}: {}); set "
                               "KGET_TOKEN or --token",
                               m_endpoint, status, message));
  case 403:
    return failure(ErrorKind::permission,
                   m_token.empty()
                       ? fmt::format("the registry at {} refused a push without a token ({}: {}); "
                                     "set KGET_TOKEN or --token",
                                     m_endpoint, status, message)
                       : fmt::format("the registry at {} refused the token ({}: {})", m_endpoint,
                                     status, message));
  case 404:
    return failure(ErrorKind::not_found,
                   fmt::format("{} {}: {}: {}; is {} a kget-registry? kget push needs its push "
                               "API under /api/kget/v1",
                               request.method, request.url, status, message, m_endpoint));
  case 409:
    return failure(
        ErrorKind::conflict,
        plan != nullptr
            ? fmt::format("version {} of {}: {} ({})", ref::to_string(plan->version), plan->repo,
                          message, status)
            : fmt::format("{} {}: {}: {}", request.method, request.url, status, message));
  case 413:
    return failure(ErrorKind::usage,
                   blob != nullptr
                       ? fmt::format("the registry refused {} ({} bytes) as too large ({}: {})",
                                     blob->path, blob->size, status, message)
                       : fmt::format("the registry refused {} {} as too large ({}: {})",
                                     request.method, request.url, status, message));
  default:
    break;
  }
  std::string where = fmt::format("{} {}: {}: {}", request.method, request.url, status, message);
  if (response.status == 400) {
    if (code == "DigestMismatch" || code == "SizeMismatch") {
      return failure(ErrorKind::integrity,
                     blob != nullptr
                         ? fmt::format("{} ({}): {}", blob->path, blob->source.string(), where)
                         : where);
    }
    if (code == "InvalidVersion" || code == "InvalidRepoName") {
      return failure(ErrorKind::invalid_reference, where);
    }
    if (code == "MalformedJSON") {
      return failure(ErrorKind::invalid_metadata, where);
    }
    if (code == "MissingBlob") {
      return failure(ErrorKind::not_found, where);
    }
    return failure(ErrorKind::usage, where);
  }
  return failure(ErrorKind::network, fmt::format("{} {}: the registry answered {}: {}",
                                                 request.method, request.url, status, message));
}

Result<json> RegistrySession::json_body(const http::Request& request,
                                        const http::Response& response) const {
  json body = json::parse(response.body, nullptr, false);
  if (!body.is_object()) {
    return fail(ErrorKind::network,
                "{} {}: the registry answered {} with a body that is not a "
                "JSON object; is {} a kget-registry?",
                request.method, request.url, response.status, m_endpoint);
  }
  return body;
}

Result<std::set<std::string>>
RegistrySession::missing_blobs(const std::vector<const PlannedFile*>& blobs) {
  std::set<std::string> asked;
  std::set<std::string> missing;
  for (size_t start = 0; start < blobs.size(); start += k_missing_batch) {
    json digests = json::array();
    for (size_t i = start; i < std::min(blobs.size(), start + k_missing_batch); ++i) {
      digests.push_back(blobs[i]->sha256);
      asked.insert(blobs[i]->sha256);
    }
    http::Request request = this->request("POST", "/blobs/missing");
    request.headers.emplace_back("Content-Type", "application/json");
    request.body = json{{"sha256", digests}}.dump();
    KGET_TRY_ASSIGN(auto response, call(request));
    KGET_TRY_ASSIGN(auto body, json_body(request, response));
    if (!body.contains("missing") || !body["missing"].is_array()) {
      return fail(ErrorKind::network, "{} {}: the answer has no \"missing\" array", request.method,
                  request.url);
    }
    for (const auto& digest : body["missing"]) {
      if (!digest.is_string() || !asked.contains(digest.get<std::string>())) {
        return fail(ErrorKind::network, "{} {}: the answer names {}, which was not asked about",
                    request.method, request.url, digest.dump());
      }
      missing.insert(digest.get<std::string>());
    }
  }
  return missing;
}

Result<bool> RegistrySession::upload_blob(const PlannedFile& blob) {
  http::Request request = this->request("PUT", "/blobs/sha256/" + blob.sha256);
  request.headers.emplace_back("Content-Type", "application/octet-stream");
  request.body = http::FileBody{blob.source, blob.size};
  KGET_TRY_ASSIGN(auto response, call(request, nullptr, &blob));
  KGET_TRY_ASSIGN(auto body, json_body(request, response));
  if (body.contains("sha256") && body["sha256"] != blob.sha256) {
    return fail(ErrorKind::integrity, "{} {}: the registry stored {} as sha256 {}", request.method,
                request.url, blob.path, body["sha256"].dump());
  }
  return response.status == 201;
}

Result<store::PublishResult> RegistrySession::publish_version(const PushPlan& plan) {
  json files = json::array();
  for (const auto& file : plan.files) {
    files.push_back({{"path", file.path}, {"sha256", file.sha256}, {"size", file.size}});
  }
  json document = {
      {"version", ref::to_string(plan.version)}, {"message", plan.message}, {"files", files}};
  http::Request request = this->request("POST", "/repos/" + plan.repo + "/versions");
  request.headers.emplace_back("Content-Type", "application/json");
  request.body = document.dump();
  KGET_TRY_ASSIGN(auto response, call(request, &plan));
  KGET_TRY_ASSIGN(auto body, json_body(request, response));
  auto text = [&](const char* key) -> std::string {
    return body.contains(key) && body[key].is_string() ? body[key].get<std::string>() : "";
  };
  store::PublishResult result;
  result.commit = text("commit");
  result.branch = text("branch");
  result.tag = text("tag");
  result.created = body.value("created", response.status == 201);
  result.moved_main = body.value("movedMain", false);
  if (!digest::is_lower_hex(result.commit, 40)) {
    return fail(ErrorKind::network, "{} {}: the answer has no commit id (found {})", request.method,
                request.url, body.contains("commit") ? body["commit"].dump() : "none");
  }
  return result;
}

} // namespace

Result<PushOutcome> push_to_registry(http::Client& client, std::string_view endpoint,
                                     std::string_view token, const PushPlan& plan) {
  RegistrySession session(client, endpoint, token);
  PushOutcome outcome;
  auto blobs = unique_blobs(plan);
  KGET_TRY_ASSIGN(auto missing, session.missing_blobs(blobs));
  for (const PlannedFile* blob : blobs) {
    bool stored = false;
    if (missing.contains(blob->sha256)) {
      KGET_TRY_ASSIGN(stored, session.upload_blob(*blob));
    }
    ++(stored ? outcome.blobs_uploaded : outcome.blobs_present);
    (stored ? outcome.bytes_uploaded : outcome.bytes_present) += blob->size;
  }
  KGET_TRY_ASSIGN(outcome.published, session.publish_version(plan));
  return outcome;
}

} // namespace kget::publish
