// Publishing a checked plan: into a file:// store, or (registry_client.cpp) through kget-registry.
#include "publish/publish.hpp"

#include <cctype>
#include <map>

namespace kget::publish {

namespace fs = std::filesystem;

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

// RFC 8089 file URLs carry their path percent-encoded ("/srv/my%20store").
Result<std::string> percent_decode(std::string_view url, std::string_view text) {
  std::string decoded;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      decoded.push_back(text[i]);
      continue;
    }
    int high = i + 2 < text.size() ? hex_value(text[i + 1]) : -1;
    int low = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
    if (high < 0 || low < 0) {
      return fail(ErrorKind::usage,
                  "\"{}\": '%' must start an escape such as %20; write a literal '%' as %25", url);
    }
    char byte = static_cast<char>(high * 16 + low);
    if (byte == '\0') {
      return fail(ErrorKind::usage, "\"{}\": %00 is not allowed in a path", url);
    }
    decoded.push_back(byte);
    i += 2;
  }
  return decoded;
}

Result<fs::path> store_root_from_file_url(std::string_view url) {
  std::string_view rest = url.substr(std::string_view("file://").size());
  size_t slash = rest.find('/');
  std::string_view host = rest.substr(0, slash);
  if (slash == std::string_view::npos || (!host.empty() && host != "localhost")) {
    return fail(ErrorKind::usage,
                "\"{}\" is not a local file URL; write file:///absolute/path/to/store", url);
  }
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return fail(ErrorKind::usage, "\"{}\": a store URL has no query or fragment", url);
  }
  KGET_TRY_ASSIGN(auto path, percent_decode(url, rest.substr(slash)));
  return fs::path(path).lexically_normal();
}

// A tag already naming other files is a conflict. Finding it before copying any blob keeps a
// refused push from leaving blobs that nothing uses.
Result<void> check_not_published_otherwise(const store::Store& store, const PushPlan& plan) {
  if (!store.has_repo(plan.repo)) {
    return {};
  }
  auto commit_id = store.resolve_revision(plan.repo, ref::tag_name(plan.version));
  if (!commit_id) {
    return commit_id.error().kind == ErrorKind::not_found
               ? Result<void>{}
               : Result<void>(std::unexpected(commit_id.error()));
  }
  KGET_TRY_ASSIGN(auto commit, store.read_commit(plan.repo, *commit_id));
  std::map<std::string, const store::FileEntry*> published;
  for (const auto& file : commit.files) {
    published[file.path] = &file;
  }
  auto conflict = [&](std::string what) {
    return fail(ErrorKind::conflict,
                "version {} of {} is already published as commit {} with other files ({}); "
                "publish a new version instead",
                ref::to_string(plan.version), plan.repo, commit.id, what);
  };
  for (const auto& file : plan.files) {
    auto it = published.find(file.path);
    if (it == published.end()) {
      return conflict(file.path + " is new");
    }
    if (it->second->sha256 != file.sha256 || it->second->size != file.size) {
      return conflict(file.path + " has other content");
    }
    published.erase(it);
  }
  if (!published.empty()) {
    return conflict(published.begin()->first + " is missing");
  }
  return {};
}

store::PublishRequest publish_request(const PushPlan& plan) {
  store::PublishRequest request{plan.repo, plan.version, plan.message, {}};
  for (const auto& file : plan.files) {
    request.files.push_back({file.path, file.sha256, file.size});
  }
  return request;
}

} // namespace

std::vector<const PlannedFile*> unique_blobs(const PushPlan& plan) {
  std::vector<const PlannedFile*> blobs;
  std::map<std::string_view, bool> seen;
  for (const auto& file : plan.files) {
    if (seen.emplace(file.sha256, true).second) {
      blobs.push_back(&file);
    }
  }
  return blobs;
}

Result<Destination> parse_destination(std::string_view url) {
  Destination destination;
  destination.url = std::string(url);
  if (url.starts_with("file://")) {
    destination.kind = Destination::Kind::store;
    KGET_TRY_ASSIGN(destination.store_root, store_root_from_file_url(url));
    return destination;
  }
  if (url.starts_with("http://") || url.starts_with("https://")) {
    destination.kind = Destination::Kind::registry;
    return destination;
  }
  if (url.starts_with("/")) {
    return fail(ErrorKind::usage, "\"{}\" is a path, not a URL; for a store write file://{}", url,
                url);
  }
  return fail(ErrorKind::usage,
              "\"{}\": unsupported destination; kget push publishes to http(s):// (a "
              "kget-registry) or file:///path (a store)",
              url);
}

Result<PushOutcome> push_to_store(const store::Store& store, const PushPlan& plan) {
  KGET_TRY(check_not_published_otherwise(store, plan));
  PushOutcome outcome;
  for (const PlannedFile* blob : unique_blobs(plan)) {
    if (store.has_blob(blob->sha256)) {
      ++outcome.blobs_present;
      outcome.bytes_present += blob->size;
      continue;
    }
    KGET_TRY_ASSIGN(auto sha256, store.add_blob_from_file(blob->source));
    if (sha256 != blob->sha256) {
      return fail(ErrorKind::integrity,
                  "{} changed while it was pushed: its sha256 was {} when checked and {} when "
                  "copied",
                  blob->source.string(), blob->sha256, sha256);
    }
    ++outcome.blobs_uploaded;
    outcome.bytes_uploaded += blob->size;
  }
  KGET_TRY_ASSIGN(outcome.published, store.publish(publish_request(plan)));
  return outcome;
}

Result<PushOutcome> push(const PushPlan& plan, const Destination& destination,
                         std::string_view token) {
  if (destination.kind == Destination::Kind::store) {
    KGET_TRY_ASSIGN(auto store, store::Store::open_or_create(destination.store_root));
    return push_to_store(store, plan);
  }
  KGET_TRY_ASSIGN(auto client, http::Client::create());
  return push_to_registry(client, destination.url, token, plan);
}

} // namespace kget::publish
