// Publishing a checked plan: into a file:// store, or (registry_client.cpp) through kget-registry.
#include "publish/publish.hpp"
#include "util/url.hpp"

#include <map>

namespace kget::publish {

namespace fs = std::filesystem;

namespace {

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
    KGET_TRY_ASSIGN(destination.store_root, util::file_url_path(url));
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
