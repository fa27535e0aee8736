// The Hugging Face Hub read routes, with the fields, headers and error codes of
// research/hub-protocol.md §2: repository info, refs, tree, resolve, and the organization
// overview of the `kernels` library's trust check.
#include "ref/kernel_ref.hpp"
#include "registry/range.hpp"
#include "registry/router.hpp"
#include "registry/router_internal.hpp"
#include "registry/tree.hpp"
#include "registry/url.hpp"
#include "util/strings.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>

namespace kget::registry {

using ordered_json = nlohmann::ordered_json;

namespace {

ordered_json ref_items(const std::map<std::string, std::string>& names, std::string_view kind) {
  ordered_json items = ordered_json::array();
  for (const auto& [name, commit] : names) {
    items.push_back(
        {{"name", name}, {"ref", fmt::format("refs/{}/{}", kind, name)}, {"targetCommit", commit}});
  }
  return items;
}

ordered_json tree_item_json(const TreeItem& item) {
  if (item.directory) {
    return {{"type", "directory"}, {"oid", item.oid}, {"size", 0}, {"path", item.path}};
  }
  const store::FileEntry& file = *item.file;
  ordered_json entry = {{"type", "file"}, {"oid", file.git_oid}, {"size", file.size}};
  if (file.lfs) {
    entry["lfs"] = {{"oid", file.sha256},
                    {"size", file.size},
                    {"pointerSize", store::lfs_pointer(file.sha256, file.size).size()}};
  }
  entry["path"] = file.path;
  return entry;
}

// The ETag value of a file as the Hub gives it: the sha256 of LFS files, the git blob id of the
// others; huggingface_hub names the cached blob after it.
std::string quoted_etag(const store::FileEntry& file) {
  return "\"" + (file.lfs ? file.sha256 : file.git_oid) + "\"";
}

// If-None-Match (RFC 9110 §13.1.2, weak comparison): "*" or a list holding the ETag.
bool etag_matches(std::string_view header, std::string_view quoted) {
  for (std::string_view candidate : util::split(header, ',')) {
    candidate = util::trim(candidate);
    if (util::starts_with(candidate, "W/")) {
      candidate.remove_prefix(2);
    }
    if (candidate == "*" || candidate == quoted) {
      return true;
    }
  }
  return false;
}

std::string content_type(std::string_view path) {
  return path.ends_with(".json") ? "application/json" : "application/octet-stream";
}

// The tree page's limit: ?limit= when given and smaller than the configured page size.
size_t page_size(const Request& request, size_t configured) {
  if (auto limit = request.query_value("limit")) {
    if (auto value = util::parse_uint(*limit); value && *value > 0) {
      return std::min(static_cast<size_t>(*value), configured);
    }
  }
  return configured;
}

} // namespace

Response Router::repo_info(const Request&, std::string_view repo, std::string_view revision) const {
  auto at = open_revision(repo, revision);
  if (!at) {
    return std::move(at.error());
  }
  const store::Commit& commit = *at->commit;
  ordered_json siblings = ordered_json::array();
  for (const auto& file : commit.files) {
    siblings.push_back({{"rfilename", file.path}});
  }
  ordered_json info = {
      {"id", repo},
      {"author", repo.substr(0, repo.find('/'))},
      {"sha", commit.id},
      {"private", m_config.private_reads},
      {"gated", false},
      {"disabled", false},
      {"downloads", 0},
      {"likes", 0},
      {"tags", ordered_json::array()},
      {"lastModified", commit.created},
      {"siblings", std::move(siblings)},
  };
  return json_response(dump_json(info));
}

Response Router::repo_refs(const Request& request, std::string_view repo) const {
  if (!ref::validate_repo_id(repo) || !m_store.has_repo(repo)) {
    return error_response(404, "RepoNotFound", fmt::format("repository {} not found", repo));
  }
  auto refs = m_store.read_refs(repo);
  if (!refs) {
    return failure_response(refs.error());
  }
  // huggingface_hub indexes branches, converts and tags unconditionally.
  ordered_json body = {{"branches", ref_items(refs->branches, "heads")},
                       {"converts", ordered_json::array()},
                       {"tags", ref_items(refs->tags, "tags")}};
  if (auto prs = request.query_value("include_prs"); prs && query_true(*prs)) {
    body["pullRequests"] = ordered_json::array();
  }
  return json_response(dump_json(body));
}

Response Router::repo_tree(const Request& request, std::string_view family, std::string_view repo,
                           std::string_view revision, std::string_view path) const {
  auto at = open_revision(repo, revision);
  if (!at) {
    return std::move(at.error());
  }
  std::string directory(path);
  while (!directory.empty() && directory.back() == '/') {
    directory.pop_back();
  }
  bool recursive =
      request.query_value("recursive") && query_true(*request.query_value("recursive"));
  auto items = list_tree(*at->commit, directory, recursive);
  if (!items) {
    Response response = error_response(
        404, "EntryNotFound",
        fmt::format("{} has no file or folder \"{}\" at {}", repo, directory, at->commit->id));
    response.add_header("X-Repo-Commit", at->commit->id);
    return response;
  }

  size_t start = 0;
  if (auto cursor = request.query_value("cursor")) {
    auto offset = util::parse_uint(*cursor);
    if (!offset) {
      return error_response(400, "BadRequest",
                            fmt::format("invalid cursor \"{}\": pass back the one the Link "
                                        "header gave",
                                        header_safe(*cursor)));
    }
    start = std::min(static_cast<size_t>(*offset), items->size());
  }
  size_t limit = page_size(request, m_config.tree_page_size);
  size_t end = std::min(items->size(), start + limit);
  ordered_json page = ordered_json::array();
  for (size_t i = start; i < end; ++i) {
    page.push_back(tree_item_json((*items)[i]));
  }
  Response response = json_response(dump_json(page));
  if (end < items->size()) {
    // Absolute (httpx does not resolve relative links), at the commit rather than the revision
    // asked for, so that a branch moving between two pages cannot mix two listings.
    bool expand = request.query_value("expand") && query_true(*request.query_value("expand"));
    std::string url =
        fmt::format("{}/api/{}/{}/tree/{}", base_url(request), family, repo, at->commit->id);
    if (!directory.empty()) {
      url += "/" + percent_encode(directory);
    }
    url += fmt::format("?recursive={}&expand={}&cursor={}", recursive, expand, end);
    if (request.query_value("limit")) {
      url += fmt::format("&limit={}", limit);
    }
    response.add_header("Link", fmt::format("<{}>; rel=\"next\"", url));
  }
  return response;
}

Response Router::resolve_file(const Request& request, std::string_view repo,
                              std::string_view revision, std::string_view path) const {
  auto at = open_revision(repo, revision);
  if (!at) {
    return std::move(at.error());
  }
  const std::string& commit_id = at->commit->id;
  // The client's path is only ever looked up in the commit's manifest; the file served is the
  // blob the manifest names, so no path a client sends reaches the filesystem.
  const store::FileEntry* file = at->commit->find(path);
  if (file == nullptr) {
    Response response = error_response(
        404, "EntryNotFound", fmt::format("{} has no file \"{}\" at {}", repo, path, commit_id));
    response.add_header("X-Repo-Commit", commit_id);
    return response;
  }

  std::string etag = quoted_etag(*file);
  auto describe = [&](Response response) {
    response.add_header("X-Repo-Commit", commit_id);
    response.add_header("ETag", etag);
    if (file->lfs) {
      response.add_header("X-Linked-Etag", etag);
      response.add_header("X-Linked-Size", std::to_string(file->size));
    }
    response.add_header("Accept-Ranges", "bytes");
    return response;
  };
  if (auto tags = request.header("if-none-match"); tags && etag_matches(*tags, etag)) {
    Response not_modified;
    not_modified.status = 304;
    return describe(std::move(not_modified));
  }

  std::string blob = m_store.blob_path(file->sha256).string();
  util::FileDescriptor fd(::open(blob.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat info {};
  if (fd.get() < 0 || ::fstat(fd.get(), &info) != 0) {
    return error_response(500, "InternalError",
                          fmt::format("the store has no readable blob {} for {} ({}); run "
                                      "kget-registry fsck",
                                      file->sha256, path, std::strerror(errno)));
  }
  if (static_cast<uint64_t>(info.st_size) != file->size) {
    return error_response(500, "InternalError",
                          fmt::format("blob {} has {} bytes, the manifest says {}; run "
                                      "kget-registry fsck",
                                      file->sha256, info.st_size, file->size));
  }

  // Range applies to GET only (RFC 9110 §14.2); If-Range with another validator means "all".
  std::optional<std::string_view> range;
  if (request.method == "GET") {
    range = request.header("range");
    if (auto if_range = request.header("if-range"); if_range && util::trim(*if_range) != etag) {
      range.reset();
    }
  }
  RangeChoice choice = choose_range(range, file->size);
  if (choice.kind == RangeChoice::Kind::unsatisfiable) {
    Response response =
        error_response(416, "RangeNotSatisfiable",
                       fmt::format("the range \"{}\" is outside the file's {} bytes",
                                   header_safe(*range), file->size));
    response.add_header("Content-Range", fmt::format("bytes */{}", file->size));
    response.add_header("X-Repo-Commit", commit_id);
    return response;
  }
  Response response;
  response.add_header("Content-Type", content_type(path));
  if (choice.kind == RangeChoice::Kind::partial) {
    response.status = 206;
    response.add_header("Content-Range", fmt::format("bytes {}-{}/{}", choice.first,
                                                     choice.first + choice.length - 1, file->size));
    response.file = FileBody{std::move(fd), choice.first, choice.length};
  } else {
    response.file = FileBody{std::move(fd), 0, file->size};
  }
  return describe(std::move(response));
}

Response Router::organization_overview(std::string_view org) const {
  bool valid = static_cast<bool>(ref::validate_repo_id(std::string(org) + "/x"));
  bool trusted = valid && m_config.trusted_orgs.contains(std::string(org));
  bool known = trusted;
  if (valid && !known) {
    auto repos = m_store.list_repos();
    if (!repos) {
      return failure_response(repos.error());
    }
    for (const auto& repo : *repos) {
      known = known || util::starts_with(repo, std::string(org) + "/");
    }
  }
  if (!known) {
    return error_response(404, "OrganizationNotFound",
                          fmt::format("no organization \"{}\" on this registry (it has no "
                                      "repository and is not a trusted publisher)",
                                      org));
  }
  ordered_json body = {
      {"name", org}, {"fullname", org}, {"type", "org"}, {"trustedKernelPublisher", trusted}};
  return json_response(dump_json(body));
}

} // namespace kget::registry
