// kget's push protocol (docs/registry.md, "Push protocol"): ask which blobs are missing, upload
// each by its sha256, then publish a version whose manifest names them. Bodies stream into the
// store; nothing is visible before its digest is checked.
#include "digest/digest.hpp"
#include "ref/kernel_ref.hpp"
#include "ref/version.hpp"
#include "registry/router.hpp"
#include "registry/router_internal.hpp"

#include <functional>
#include <set>
#include <sys/stat.h>

namespace kget::registry {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

namespace {

Response too_large(std::string_view what, uint64_t limit) {
  return error_response(413, "PayloadTooLarge",
                        fmt::format("{} is larger than this registry accepts ({} bytes; see "
                                    "kget-registry --max-upload-size)",
                                    what, limit));
}

Response malformed(std::string_view message) {
  return error_response(400, "MalformedJSON", message);
}

// A JSON body read into memory up to a limit, then handed to `respond`.
class JsonBody : public BodyReader {
public:
  using Respond = std::function<Response(std::string_view body)>;
  JsonBody(uint64_t limit, Respond respond) : m_limit(limit), m_respond(std::move(respond)) {}

  bool consume(std::string_view data) override {
    if (m_body.size() + data.size() > m_limit) {
      m_overflow += data.size();
      return m_overflow <= k_max_drain;
    }
    m_body.append(data);
    return true;
  }

  Response finish() override {
    if (m_overflow > 0) {
      return too_large("the JSON body", m_limit);
    }
    return m_respond(m_body);
  }

private:
  uint64_t m_limit;
  Respond m_respond;
  std::string m_body;
  uint64_t m_overflow = 0;
};

// A blob upload: streamed into the store (hashed as it is written) and committed under its
// digest only when that digest is the one the URL names. A blob the store already holds is only
// hashed, to answer DigestMismatch all the same when the bytes are not the ones named.
class BlobUpload : public BodyReader {
public:
  BlobUpload(std::string sha256, std::optional<uint64_t> declared_size, uint64_t limit,
             std::optional<store::BlobWriter> writer)
      : m_sha256(std::move(sha256)), m_declared_size(declared_size), m_limit(limit),
        m_writer(std::move(writer)) {
    if (!m_writer) {
      m_existing_hash.emplace(digest::Algorithm::sha256);
    }
  }

  bool consume(std::string_view data) override {
    m_received += data.size();
    if (m_received > m_limit && !m_too_large) {
      m_too_large = true;
      m_writer.reset(); // removes the partial blob
    }
    if (m_too_large || m_failure) {
      m_drained += data.size();
      return m_drained <= k_max_drain;
    }
    if (m_writer) {
      if (auto written = m_writer->write(data); !written) {
        m_failure = written.error();
        m_writer.reset();
      }
    } else {
      m_existing_hash->update(data);
    }
    return true;
  }

  Response finish() override {
    if (m_too_large) {
      return too_large(fmt::format("blob {}", m_sha256), m_limit);
    }
    if (m_failure) {
      return failure_response(*m_failure);
    }
    if (!m_writer) {
      std::string received = m_existing_hash->finish_hex();
      if (received != m_sha256) {
        return mismatch(received);
      }
      return stored(200);
    }
    auto committed = m_writer->commit(m_sha256, m_declared_size);
    if (!committed) {
      if (committed.error().kind == ErrorKind::integrity) {
        return error_response(
            400, "DigestMismatch",
            fmt::format("blob {}: {}; nothing was stored", m_sha256, committed.error().message));
      }
      return failure_response(committed.error());
    }
    return stored(201);
  }

private:
  Response mismatch(std::string_view received) const {
    return error_response(400, "DigestMismatch",
                          fmt::format("the URL names sha256 {}, the received bytes have sha256 "
                                      "{}; nothing was stored",
                                      m_sha256, received));
  }

  Response stored(unsigned status) const {
    ordered_json body = {{"sha256", m_sha256}, {"size", m_received}};
    return json_response(dump_json(body), status);
  }

  std::string m_sha256;
  std::optional<uint64_t> m_declared_size;
  uint64_t m_limit;
  std::optional<store::BlobWriter> m_writer;
  std::optional<digest::Hasher> m_existing_hash;
  uint64_t m_received = 0;
  uint64_t m_drained = 0;
  bool m_too_large = false;
  std::optional<Failure> m_failure;
};

std::optional<Response> check_json_length(const Request& request) {
  if (auto length = request.content_length(); length && *length > k_max_json_body) {
    return too_large("the JSON body", k_max_json_body);
  }
  return std::nullopt;
}

// The body as JSON, or the 400 MalformedJSON to answer.
std::expected<json, Response> parse_json_body(std::string_view body) {
  json document = json::parse(body, nullptr, false);
  if (document.is_discarded()) {
    return std::unexpected(malformed("the request body is not valid JSON (UTF-8)"));
  }
  if (!document.is_object()) {
    return std::unexpected(malformed("the request body must be a JSON object"));
  }
  return document;
}

// The publish request of a versions body, or the 400 to answer. Checks the whole document
// before anything touches the store, naming the first offending field.
std::expected<store::PublishRequest, Response> parse_version_body(std::string_view repo,
                                                                  std::string_view body) {
  auto document = parse_json_body(body);
  if (!document) {
    return std::unexpected(std::move(document.error()));
  }
  store::PublishRequest request;
  request.repo = std::string(repo);
  auto version = document->find("version");
  if (version == document->end() || !version->is_string()) {
    return std::unexpected(malformed("\"version\" must be a string such as \"1.2.0\""));
  }
  auto parsed = ref::parse_version(version->get<std::string>());
  if (!parsed) {
    return std::unexpected(error_response(400, "InvalidVersion", parsed.error().message));
  }
  request.version = std::move(*parsed);
  if (auto message = document->find("message"); message != document->end()) {
    if (!message->is_string()) {
      return std::unexpected(malformed("\"message\" must be a string"));
    }
    request.message = message->get<std::string>();
  }
  auto files = document->find("files");
  if (files == document->end() || !files->is_array()) {
    return std::unexpected(malformed("\"files\" must be an array of {path, sha256, size}"));
  }
  if (files->empty()) {
    return std::unexpected(malformed("\"files\" is empty: a version needs at least one file"));
  }
  std::set<std::string> paths;
  for (size_t i = 0; i < files->size(); ++i) {
    const json& file = (*files)[i];
    auto field = [&](const char* name) -> const json* {
      auto it = file.is_object() ? file.find(name) : file.end();
      return file.is_object() && it != file.end() ? &*it : nullptr;
    };
    const json* path = field("path");
    const json* sha256 = field("sha256");
    const json* size = field("size");
    if (!path || !path->is_string() || !sha256 || !sha256->is_string() || !size ||
        !size->is_number_unsigned()) {
      return std::unexpected(malformed(
          fmt::format("files[{}] must be an object with \"path\" (string), \"sha256\" (string) "
                      "and \"size\" (non-negative integer)",
                      i)));
    }
    store::NewFile entry{path->get<std::string>(), sha256->get<std::string>(),
                         size->get<uint64_t>()};
    if (auto valid = store::validate_repo_path(entry.path); !valid) {
      return std::unexpected(error_response(
          400, "InvalidPath", fmt::format("files[{}]: {}", i, valid.error().message)));
    }
    if (!paths.insert(entry.path).second) {
      return std::unexpected(error_response(
          400, "InvalidPath", fmt::format("files[{}]: {} is listed twice", i, entry.path)));
    }
    if (!digest::is_lower_hex(entry.sha256, 64)) {
      return std::unexpected(
          error_response(400, "InvalidDigest",
                         fmt::format("files[{}] ({}): \"{}\" is not a sha256 (64 lower-case hex "
                                     "digits)",
                                     i, entry.path, entry.sha256)));
    }
    request.files.push_back(std::move(entry));
  }
  // A file and a folder of the same name cannot both exist in a checkout.
  for (auto it = paths.begin(); it != paths.end(); ++it) {
    auto next = std::next(it);
    if (next != paths.end() && next->starts_with(*it + "/")) {
      return std::unexpected(
          error_response(400, "InvalidPath", fmt::format("{} is both a file and a folder", *it)));
    }
  }
  return request;
}

// Every blob present with the declared size, or the 400 to answer (MissingBlob, SizeMismatch).
std::optional<Response> check_blobs(const store::Store& store,
                                    const store::PublishRequest& request) {
  for (const auto& file : request.files) {
    struct stat info {};
    if (::stat(store.blob_path(file.sha256).c_str(), &info) != 0) {
      return error_response(400, "MissingBlob",
                            fmt::format("{}: blob sha256 {} is not in the store; upload it first "
                                        "(PUT /api/kget/v1/blobs/sha256/{})",
                                        file.path, file.sha256, file.sha256));
    }
    if (static_cast<uint64_t>(info.st_size) != file.size) {
      return error_response(400, "SizeMismatch",
                            fmt::format("{}: declared {} bytes, but blob {} has {}", file.path,
                                        file.size, file.sha256, info.st_size));
    }
  }
  return std::nullopt;
}

Response publish_failure(const Failure& failure) {
  switch (failure.kind) {
  case ErrorKind::conflict:
    return error_response(409, "VersionExists", failure.message);
  case ErrorKind::not_found: // a blob vanished between the check and the publish
    return error_response(400, "MissingBlob", failure.message);
  case ErrorKind::integrity:
    return error_response(400, "SizeMismatch", failure.message);
  default:
    return failure_response(failure, "InvalidRequest");
  }
}

} // namespace

Dispatch Router::push_missing_blobs(const Request& request) const {
  if (auto refused = check_json_length(request)) {
    return std::move(*refused);
  }
  const store::Store& store = m_store;
  return std::make_unique<JsonBody>(k_max_json_body, [&store](std::string_view body) {
    auto document = parse_json_body(body);
    if (!document) {
      return std::move(document.error());
    }
    auto digests = document->find("sha256");
    if (digests == document->end() || !digests->is_array()) {
      return malformed("expected {\"sha256\": [\"<64 hex digits>\", ...]}");
    }
    ordered_json missing = ordered_json::array();
    std::set<std::string> seen;
    for (size_t i = 0; i < digests->size(); ++i) {
      const json& digest = (*digests)[i];
      if (!digest.is_string() || !digest::is_lower_hex(digest.get<std::string>(), 64)) {
        return error_response(400, "InvalidDigest",
                              fmt::format("sha256[{}] is not a sha256 (64 lower-case hex digits): "
                                          "{}",
                                          i, dump_json(digest)));
      }
      const std::string& text = digest.get_ref<const std::string&>();
      if (seen.insert(text).second && !store.has_blob(text)) {
        missing.push_back(text);
      }
    }
    ordered_json answer = {{"missing", std::move(missing)}};
    return json_response(dump_json(answer));
  });
}

Dispatch Router::push_blob(const Request& request, std::string_view sha256) const {
  if (!digest::is_lower_hex(sha256, 64)) {
    return error_response(
        400, "InvalidDigest",
        fmt::format("\"{}\" is not a sha256 (64 lower-case hex digits)", header_safe(sha256)));
  }
  auto length = request.content_length();
  if (length && *length > m_config.max_upload_size) {
    return too_large(fmt::format("blob {} ({} bytes)", sha256, *length), m_config.max_upload_size);
  }
  std::optional<store::BlobWriter> writer;
  if (!m_store.has_blob(sha256)) {
    auto created = m_store.new_blob();
    if (!created) {
      return failure_response(created.error());
    }
    writer.emplace(std::move(*created));
  }
  return std::make_unique<BlobUpload>(std::string(sha256), length, m_config.max_upload_size,
                                      std::move(writer));
}

Dispatch Router::push_version(const Request& request, std::string_view repo) const {
  if (auto valid = ref::validate_repo_id(repo); !valid) {
    return error_response(400, "InvalidRepoName", valid.error().message);
  }
  if (auto refused = check_json_length(request)) {
    return std::move(*refused);
  }
  const store::Store& store = m_store;
  std::string repo_id(repo);
  return std::make_unique<JsonBody>(k_max_json_body, [&store, repo_id](std::string_view body) {
    auto parsed = parse_version_body(repo_id, body);
    if (!parsed) {
      return std::move(parsed.error());
    }
    if (auto refused = check_blobs(store, *parsed)) {
      return std::move(*refused);
    }
    auto published = store.publish(*parsed);
    if (!published) {
      return publish_failure(published.error());
    }
    ordered_json answer = {{"commit", published->commit},
                           {"branch", published->branch},
                           {"tag", published->tag},
                           {"created", published->created},
                           {"movedMain", published->moved_main}};
    return json_response(dump_json(answer), published->created ? 201 : 200);
  });
}

} // namespace kget::registry
