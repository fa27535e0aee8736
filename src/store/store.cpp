#include "store/store.hpp"

#include "digest/digest.hpp"
#include "ref/kernel_ref.hpp"
#include "util/strings.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

namespace kget::store {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr std::string_view marker_name = "kget-store.json";
constexpr int store_format = 1;
// git-lfs is what the Hub uses for large files; 10 MiB is its hard threshold for plain git.
constexpr uint64_t lfs_size_threshold = 10u << 20;
// git's own binary heuristic: a NUL among the first 8000 bytes.
constexpr size_t binary_probe_size = 8000;
constexpr size_t max_repo_path_size = 1024;
constexpr size_t max_document_size = 64u << 20;

std::string now_iso8601() {
  auto now = std::chrono::system_clock::now();
  auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", utc.tm_year + 1900,
                     utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, millis);
}

Result<json> read_json(const fs::path& path, std::string_view what) {
  KGET_TRY_ASSIGN(auto text, util::read_file(path, max_document_size));
  json document = json::parse(text, nullptr, false);
  if (document.is_discarded() || !document.is_object()) {
    return fail(ErrorKind::invalid_metadata, "{} {} is not a JSON object", what, path.string());
  }
  return document;
}

json to_json(const Refs& refs) {
  return json{{"branches", refs.branches}, {"tags", refs.tags}};
}

Result<Refs> refs_from_json(const json& document, const fs::path& path) {
  Refs refs;
  for (auto [key, target] : {std::pair{"branches", &refs.branches}, {"tags", &refs.tags}}) {
    auto it = document.find(key);
    if (it == document.end() || !it->is_object()) {
      return fail(ErrorKind::invalid_metadata, "{}: \"{}\" must be an object", path.string(), key);
    }
    for (const auto& [name, commit] : it->items()) {
      if (!commit.is_string() || !digest::is_lower_hex(commit.get<std::string>(), 40)) {
        return fail(ErrorKind::invalid_metadata, "{}: {} \"{}\" must name a 40-hex commit",
                    path.string(), key, name);
      }
      (*target)[name] = commit.get<std::string>();
    }
  }
  return refs;
}

std::string commit_document(const Commit& commit) {
  json files = json::array();
  for (const auto& file : commit.files) {
    files.push_back({{"path", file.path},
                     {"size", file.size},
                     {"sha256", file.sha256},
                     {"oid", file.git_oid},
                     {"lfs", file.lfs}});
  }
  json document{{"format", store_format},    {"parents", commit.parents},
                {"version", commit.version}, {"message", commit.message},
                {"created", commit.created}, {"files", files}};
  return document.dump(1) + "\n";
}

Result<Commit> commit_from_document(std::string_view text, std::string_view id,
                                    const fs::path& path) {
  json document = json::parse(text, nullptr, false);
  auto invalid = [&](std::string_view why) {
    return fail(ErrorKind::invalid_metadata, "commit {} ({}): {}", id, path.string(), why);
  };
  if (document.is_discarded() || !document.is_object()) {
    return invalid("not a JSON object");
  }
  try {
    Commit commit;
    commit.id = std::string(id);
    commit.parents = document.at("parents").get<std::vector<std::string>>();
    commit.version = document.at("version").get<std::string>();
    commit.message = document.at("message").get<std::string>();
    commit.created = document.at("created").get<std::string>();
    for (const auto& file : document.at("files")) {
      commit.files.push_back(
          FileEntry{file.at("path").get<std::string>(), file.at("size").get<uint64_t>(),
                    file.at("sha256").get<std::string>(), file.at("oid").get<std::string>(),
                    file.at("lfs").get<bool>()});
    }
    return commit;
  } catch (const json::exception& error) {
    return invalid(error.what());
  }
}

// Whether the Hub would keep a blob in git-lfs, and the id of the git blob that git would hold
// for it: the content itself, or for an LFS file its pointer text. Small files are read whole,
// LFS files only up to the binary probe.
struct BlobFacts {
  std::string git_oid;
  bool lfs = false;
};

std::string git_blob_oid(std::string_view content) {
  digest::GitBlobHasher hasher(content.size());
  hasher.update(content);
  return hasher.finish_hex();
}

Result<BlobFacts> blob_facts(const fs::path& path, std::string_view sha256, uint64_t size) {
  bool lfs = size >= lfs_size_threshold;
  if (!lfs) {
    KGET_TRY_ASSIGN(auto content, util::read_file(path, lfs_size_threshold));
    lfs =
        std::string_view(content).substr(0, binary_probe_size).find('\0') != std::string_view::npos;
    if (!lfs) {
      return BlobFacts{git_blob_oid(content), false};
    }
  }
  return BlobFacts{git_blob_oid(lfs_pointer(sha256, size)), true};
}

Result<uint64_t> stat_size(const fs::path& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    return fail(errno == ENOENT ? ErrorKind::not_found : ErrorKind::io, "cannot stat {}: {}",
                path.string(), std::strerror(errno));
  }
  return static_cast<uint64_t>(info.st_size);
}

Result<void> check_repo(std::string_view repo) {
  return ref::validate_repo_id(repo);
}

// The files of two commits as the publisher sees them: path, content and size.
bool same_files(const std::vector<FileEntry>& existing, const std::vector<NewFile>& proposed) {
  if (existing.size() != proposed.size()) {
    return false;
  }
  for (size_t i = 0; i < existing.size(); ++i) {
    if (existing[i].path != proposed[i].path || existing[i].sha256 != proposed[i].sha256 ||
        existing[i].size != proposed[i].size) {
      return false;
    }
  }
  return true;
}

std::string first_difference(const std::vector<FileEntry>& existing,
                             const std::vector<NewFile>& proposed) {
  std::map<std::string, std::string> old_files;
  for (const auto& file : existing) {
    old_files[file.path] = file.sha256;
  }
  for (const auto& file : proposed) {
    auto it = old_files.find(file.path);
    if (it == old_files.end()) {
      return fmt::format("{} is new", file.path);
    }
    if (it->second != file.sha256) {
      return fmt::format("{} has other content", file.path);
    }
    old_files.erase(it);
  }
  return old_files.empty() ? "the file sizes differ"
                           : fmt::format("{} is missing", old_files.begin()->first);
}

} // namespace

const FileEntry* Commit::find(std::string_view path) const {
  auto it =
      std::lower_bound(files.begin(), files.end(), path,
                       [](const FileEntry& file, std::string_view p) { return file.path < p; });
  return it != files.end() && it->path == path ? &*it : nullptr;
}

Result<void> validate_repo_path(std::string_view path) {
  auto invalid = [&](std::string_view why) {
    return fail(ErrorKind::usage, "invalid path \"{}\" in the repository: {}", path, why);
  };
  if (path.empty()) {
    return invalid("it is empty");
  }
  if (path.size() > max_repo_path_size) {
    return invalid(fmt::format("it is longer than {} bytes", max_repo_path_size));
  }
  if (path.front() == '/') {
    return invalid("it starts with '/'; paths are relative to the repository root");
  }
  for (char c : path) {
    if (c == '\\') {
      return invalid("it contains a backslash; separate directories with '/'");
    }
    if (c == '\0') {
      return invalid("it contains a NUL byte");
    }
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return invalid("it contains a control character");
    }
  }
  for (const auto& segment : util::split(path, '/')) {
    if (segment.empty()) {
      return invalid("it has an empty segment ('//' or a trailing '/')");
    }
    if (segment == "." || segment == "..") {
      return invalid(fmt::format("it has a \"{}\" segment", segment));
    }
  }
  return {};
}

std::string lfs_pointer(std::string_view sha256, uint64_t size) {
  return fmt::format("version https://git-lfs.github.com/spec/v1\noid sha256:{}\nsize {}\n", sha256,
                     size);
}

// --- blobs --------------------------------------------------------------------------------------

struct BlobWriter::Hashing {
  digest::Hasher sha256{digest::Algorithm::sha256};
};

BlobWriter::BlobWriter(util::AtomicFile file, fs::path blobs_root)
    : m_file(std::move(file)), m_blobs_root(std::move(blobs_root)),
      m_hashing(std::make_shared<Hashing>()) {}

Result<void> BlobWriter::write(std::string_view data) {
  if (!m_file) {
    return fail(ErrorKind::internal, "BlobWriter::write after commit");
  }
  KGET_TRY(m_file->write(data));
  m_hashing->sha256.update(data);
  m_size += data.size();
  return {};
}

Result<std::string> BlobWriter::commit(std::optional<std::string_view> expected_sha256,
                                       std::optional<uint64_t> expected_size) {
  if (!m_file) {
    return fail(ErrorKind::internal, "BlobWriter::commit twice");
  }
  // Whatever happens below, the temporary file is gone when this returns.
  auto file = std::move(*m_file);
  m_file.reset();
  std::string sha256 = m_hashing->sha256.finish_hex();
  if (expected_size && *expected_size != m_size) {
    return fail(ErrorKind::integrity, "expected {} bytes, received {}", *expected_size, m_size);
  }
  if (expected_sha256 && *expected_sha256 != sha256) {
    return fail(ErrorKind::integrity, "expected sha256 {}, the received bytes have sha256 {}",
                *expected_sha256, sha256);
  }
  fs::path target = m_blobs_root / sha256.substr(0, 2) / sha256;
  std::error_code error;
  if (fs::exists(target, error)) {
    return sha256; // content-addressed: the same bytes are already there
  }
  KGET_TRY(util::create_directories(target.parent_path()));
  KGET_TRY(file.commit_as(target));
  return sha256;
}

// --- the store
// ------------------------------------------------------------------------------------

Result<Store> Store::open(const fs::path& root) {
  fs::path marker = root / marker_name;
  auto document = read_json(marker, "store marker");
  if (!document) {
    if (document.error().kind == ErrorKind::not_found) {
      return fail(ErrorKind::not_found,
                  "{} is not a kget store (no {}); create one with kget push "
                  "or kget-registry --root",
                  root.string(), marker_name);
    }
    return std::unexpected(document.error());
  }
  if (document->value("format", 0) != store_format) {
    return fail(ErrorKind::invalid_metadata, "{}: store format {} is not supported (expected {})",
                marker.string(), document->value("format", 0), store_format);
  }
  return Store(root);
}

Result<Store> Store::open_or_create(const fs::path& root) {
  std::error_code error;
  if (fs::exists(root / marker_name, error)) {
    return open(root);
  }
  if (fs::exists(root, error) && !fs::is_empty(root, error)) {
    return fail(ErrorKind::io,
                "{} is neither empty nor a kget store (no {}); give an empty or "
                "new directory",
                root.string(), marker_name);
  }
  for (const char* directory : {"blobs/sha256", "repos", "tmp"}) {
    KGET_TRY(util::create_directories(root / directory));
  }
  json marker{{"format", store_format}, {"created", now_iso8601()}};
  KGET_TRY(util::write_file_atomic(root / marker_name, marker.dump(1) + "\n"));
  return Store(root);
}

fs::path Store::repo_dir(std::string_view repo) const {
  return m_root / "repos" / fs::path(std::string(repo));
}

Result<std::vector<std::string>> Store::list_repos() const {
  std::vector<std::string> repos;
  std::error_code error;
  for (const auto& org : fs::directory_iterator(m_root / "repos", error)) {
    if (!org.is_directory()) {
      continue;
    }
    for (const auto& name : fs::directory_iterator(org.path(), error)) {
      if (fs::exists(name.path() / "refs.json")) {
        repos.push_back(org.path().filename().string() + "/" + name.path().filename().string());
      }
    }
  }
  if (error) {
    return fail(ErrorKind::io, "cannot list {}: {}", (m_root / "repos").string(), error.message());
  }
  std::sort(repos.begin(), repos.end());
  return repos;
}

bool Store::has_repo(std::string_view repo) const {
  std::error_code error;
  return check_repo(repo) && fs::exists(repo_dir(repo) / "refs.json", error);
}

Result<Refs> Store::read_refs(std::string_view repo) const {
  KGET_TRY(check_repo(repo));
  fs::path path = repo_dir(repo) / "refs.json";
  auto document = read_json(path, "refs");
  if (!document) {
    if (document.error().kind == ErrorKind::not_found) {
      return fail(ErrorKind::not_found, "repository {} not found in the store {}", repo,
                  m_root.string());
    }
    return std::unexpected(document.error());
  }
  return refs_from_json(*document, path);
}

Result<std::string> Store::resolve_revision(std::string_view repo,
                                            std::string_view revision) const {
  KGET_TRY_ASSIGN(auto refs, read_refs(repo));
  if (digest::is_lower_hex(revision, 40)) {
    std::error_code error;
    if (fs::exists(repo_dir(repo) / "commits" / (std::string(revision) + ".json"), error)) {
      return std::string(revision);
    }
    return fail(ErrorKind::not_found, "commit {} not found in {}", revision, repo);
  }
  auto lookup = [&](const std::map<std::string, std::string>& names,
                    std::string_view name) -> std::optional<std::string> {
    auto it = names.find(std::string(name));
    return it == names.end() ? std::nullopt : std::optional(it->second);
  };
  std::optional<std::string> found;
  if (util::starts_with(revision, "refs/heads/")) {
    found = lookup(refs.branches, revision.substr(11));
  } else if (util::starts_with(revision, "refs/tags/")) {
    found = lookup(refs.tags, revision.substr(10));
  } else {
    found = lookup(refs.branches, revision);
    if (!found) {
      found = lookup(refs.tags, revision);
    }
  }
  if (!found) {
    return fail(ErrorKind::not_found, "revision {} not found in {} (no such branch, tag or commit)",
                revision, repo);
  }
  return *found;
}

Result<Commit> Store::read_commit(std::string_view repo, std::string_view commit_id) const {
  KGET_TRY(check_repo(repo));
  if (!digest::is_lower_hex(commit_id, 40)) {
    return fail(ErrorKind::not_found, "\"{}\" is not a commit id (40 lower-case hex digits)",
                commit_id);
  }
  fs::path path = repo_dir(repo) / "commits" / (std::string(commit_id) + ".json");
  auto text = util::read_file(path, max_document_size);
  if (!text) {
    if (text.error().kind == ErrorKind::not_found) {
      return fail(ErrorKind::not_found, "commit {} not found in {}", commit_id, repo);
    }
    return std::unexpected(text.error());
  }
  return commit_from_document(*text, commit_id, path);
}

fs::path Store::blob_path(std::string_view sha256) const {
  std::string name(sha256);
  return m_root / "blobs" / "sha256" / name.substr(0, 2) / name;
}

bool Store::has_blob(std::string_view sha256) const {
  std::error_code error;
  return digest::is_lower_hex(sha256, 64) && fs::exists(blob_path(sha256), error);
}

Result<BlobWriter> Store::new_blob() const {
  KGET_TRY(util::create_directories(m_root / "tmp"));
  KGET_TRY_ASSIGN(auto file, util::AtomicFile::create_in(m_root / "tmp", 0444));
  return BlobWriter(std::move(file), m_root / "blobs" / "sha256");
}

Result<std::string> Store::add_blob_from_file(const fs::path& source) const {
  KGET_TRY_ASSIGN(auto writer, new_blob());
  KGET_TRY(util::read_chunks(
      source, [](uint64_t) {}, [&](std::string_view chunk) { return writer.write(chunk); }));
  return writer.commit();
}

namespace {

Result<std::vector<NewFile>> sorted_checked_files(const PublishRequest& request) {
  if (request.files.empty()) {
    return fail(ErrorKind::usage, "nothing to publish: version {} of {} has no files",
                ref::to_string(request.version), request.repo);
  }
  std::vector<NewFile> files = request.files;
  std::sort(files.begin(), files.end(),
            [](const NewFile& a, const NewFile& b) { return a.path < b.path; });
  for (size_t i = 0; i < files.size(); ++i) {
    KGET_TRY(validate_repo_path(files[i].path));
    if (!digest::is_lower_hex(files[i].sha256, 64)) {
      return fail(ErrorKind::usage, "{}: \"{}\" is not a sha256 (64 lower-case hex digits)",
                  files[i].path, files[i].sha256);
    }
    if (i > 0 && files[i].path == files[i - 1].path) {
      return fail(ErrorKind::usage, "{} is listed twice", files[i].path);
    }
    // A file and a directory of the same name cannot both exist in a checkout.
    if (i > 0 && util::starts_with(files[i].path, files[i - 1].path + "/")) {
      return fail(ErrorKind::usage, "{} is both a file and a directory", files[i - 1].path);
    }
  }
  return files;
}

// Whether `version` should become the head of a ref whose head is now `current_head`.
bool advances(const ref::Version& version, const std::optional<Commit>& current_head) {
  if (version.is_prerelease()) {
    return false;
  }
  if (!current_head) {
    return true;
  }
  auto current = ref::parse_version(current_head->version);
  return !current || std::is_gt(version <=> *current);
}

} // namespace

Result<PublishResult> Store::publish(const PublishRequest& request) const {
  KGET_TRY(check_repo(request.repo));
  KGET_TRY_ASSIGN(auto files, sorted_checked_files(request));
  // Blobs are immutable once stored, so they can be checked before taking the lock, and a
  // refused publish creates nothing.
  for (const auto& file : files) {
    if (!has_blob(file.sha256)) {
      return fail(ErrorKind::not_found,
                  "{}: its content (sha256 {}) is not in the store; upload the blob first",
                  file.path, file.sha256);
    }
    KGET_TRY_ASSIGN(uint64_t size, stat_size(blob_path(file.sha256)));
    if (size != file.size) {
      return fail(ErrorKind::integrity, "{}: declared {} bytes, but blob {} has {}", file.path,
                  file.size, file.sha256, size);
    }
  }
  fs::path directory = repo_dir(request.repo);
  KGET_TRY(util::create_directories(directory / "commits"));
  KGET_TRY_ASSIGN(auto lock, util::FileLock::acquire(directory / "lock"));

  Refs refs;
  if (auto existing = read_refs(request.repo)) {
    refs = std::move(*existing);
  } else if (existing.error().kind != ErrorKind::not_found) {
    return std::unexpected(existing.error());
  }

  PublishResult result;
  result.branch = ref::branch_name(request.version.major);
  result.tag = ref::tag_name(request.version);
  if (auto tagged = refs.tags.find(result.tag); tagged != refs.tags.end()) {
    KGET_TRY_ASSIGN(auto published, read_commit(request.repo, tagged->second));
    if (!same_files(published.files, files)) {
      return fail(ErrorKind::conflict,
                  "version {} of {} is already published as commit {} with other files ({}); "
                  "publish a new version instead",
                  ref::to_string(request.version), request.repo, published.id,
                  first_difference(published.files, files));
    }
    result.commit = published.id;
    return result;
  }

  std::optional<Commit> branch_head;
  if (auto head = refs.branches.find(result.branch); head != refs.branches.end()) {
    KGET_TRY_ASSIGN(auto commit, read_commit(request.repo, head->second));
    branch_head = std::move(commit);
  }
  // Digests of unchanged files carry over from the branch head instead of re-reading the blob.
  std::map<std::string, BlobFacts> known;
  if (branch_head) {
    for (const auto& file : branch_head->files) {
      known[file.sha256] = BlobFacts{file.git_oid, file.lfs};
    }
  }

  Commit commit;
  commit.version = ref::to_string(request.version);
  commit.message = request.message;
  commit.created = now_iso8601();
  if (branch_head) {
    commit.parents.push_back(branch_head->id);
  }
  for (const auto& file : files) {
    uint64_t size = file.size; // checked against the blob above
    auto facts = known.find(file.sha256);
    if (facts == known.end()) {
      KGET_TRY_ASSIGN(auto computed, blob_facts(blob_path(file.sha256), file.sha256, size));
      facts = known.emplace(file.sha256, std::move(computed)).first;
    }
    commit.files.push_back(
        FileEntry{file.path, size, file.sha256, facts->second.git_oid, facts->second.lfs});
  }

  std::string document = commit_document(commit);
  commit.id = digest::sha1_hex(document);
  KGET_TRY(util::write_file_atomic(directory / "commits" / (commit.id + ".json"), document));

  // The refs are written last, in one rename: a reader sees the old or the new refs, and every
  // commit a ref names is already complete on disk.
  result.commit = commit.id;
  result.created = true;
  refs.tags[result.tag] = commit.id;
  if (advances(request.version, branch_head)) {
    refs.branches[result.branch] = commit.id;
  }
  std::optional<Commit> main_head;
  if (auto main = refs.branches.find("main"); main != refs.branches.end()) {
    KGET_TRY_ASSIGN(auto head, read_commit(request.repo, main->second));
    main_head = std::move(head);
  }
  if (advances(request.version, main_head)) {
    refs.branches["main"] = commit.id;
    result.moved_main = true;
  }
  KGET_TRY(util::write_file_atomic(directory / "refs.json", to_json(refs).dump(1) + "\n"));
  return result;
}

// --- fsck ---------------------------------------------------------------------------------------

namespace {

void note_temporary(FsckReport& report, const fs::path& path) {
  report.notes.push_back(
      fmt::format("{}: temporary file of an interrupted write (safe to delete)", path.string()));
}

// sha256 -> (git oid, size) of every blob whose content matches its name.
using VerifiedBlobs = std::map<std::string, digest::FileDigests>;

VerifiedBlobs check_blobs(const fs::path& root, FsckReport& report) {
  VerifiedBlobs verified;
  std::error_code error;
  for (const auto& entry : fs::recursive_directory_iterator(root / "blobs", error)) {
    if (!entry.is_regular_file()) {
      continue;
    }
    std::string name = entry.path().filename().string();
    if (util::is_temporary_name(name)) {
      note_temporary(report, entry.path());
      continue;
    }
    ++report.blobs;
    if (!digest::is_lower_hex(name, 64) ||
        entry.path().parent_path().filename() != name.substr(0, 2)) {
      report.errors.push_back(fmt::format("{}: not a blob name (blobs/sha256/<2 hex>/<64 hex>)",
                                          entry.path().string()));
      continue;
    }
    auto digests = digest::hash_file(entry.path());
    if (!digests) {
      report.errors.push_back(digests.error().message);
    } else if (digests->sha256 != name) {
      report.errors.push_back(fmt::format("{}: content has sha256 {}, not its name",
                                          entry.path().string(), digests->sha256));
    } else {
      verified.emplace(name, std::move(*digests));
    }
  }
  if (error) {
    report.errors.push_back(
        fmt::format("cannot walk {}: {}", (root / "blobs").string(), error.message()));
  }
  return verified;
}

void check_commit(std::string_view repo, const Commit& commit,
                  const std::set<std::string>& commit_ids, const VerifiedBlobs& blobs,
                  std::set<std::string>& used_blobs, FsckReport& report) {
  auto error = [&](std::string message) {
    report.errors.push_back(fmt::format("{} commit {}: {}", repo, commit.id, message));
  };
  for (const auto& parent : commit.parents) {
    if (!commit_ids.contains(parent)) {
      error(fmt::format("parent {} does not exist", parent));
    }
  }
  if (!std::is_sorted(commit.files.begin(), commit.files.end(),
                      [](const auto& a, const auto& b) { return a.path < b.path; })) {
    error("files are not sorted by path");
  }
  for (const auto& file : commit.files) {
    used_blobs.insert(file.sha256);
    if (auto valid = validate_repo_path(file.path); !valid) {
      error(valid.error().message);
    }
    auto blob = blobs.find(file.sha256);
    if (blob == blobs.end()) {
      error(fmt::format("{}: blob {} is missing or corrupt", file.path, file.sha256));
    } else {
      // What git would hold: the content, or for an LFS file its pointer.
      std::string oid = file.lfs ? git_blob_oid(lfs_pointer(file.sha256, blob->second.size))
                                 : blob->second.git_oid;
      if (blob->second.size != file.size || oid != file.git_oid) {
        error(fmt::format("{}: recorded size {} and oid {}, blob has {} and {}", file.path,
                          file.size, file.git_oid, blob->second.size, oid));
      }
    }
  }
}

void check_repo_dir(const Store& store, const std::string& repo, const VerifiedBlobs& blobs,
                    std::set<std::string>& used_blobs, FsckReport& report) {
  fs::path directory = store.root() / "repos" / repo;
  std::set<std::string> commit_ids;
  std::vector<fs::path> commit_files;
  std::error_code walk_error;
  for (const auto& entry : fs::directory_iterator(directory / "commits", walk_error)) {
    std::string name = entry.path().filename().string();
    if (util::is_temporary_name(name)) {
      note_temporary(report, entry.path());
      continue;
    }
    std::string id = entry.path().stem().string();
    if (entry.path().extension() != ".json" || !digest::is_lower_hex(id, 40)) {
      report.errors.push_back(fmt::format("{}: not a commit file", entry.path().string()));
      continue;
    }
    commit_ids.insert(id);
    commit_files.push_back(entry.path());
  }
  for (const auto& path : commit_files) {
    std::string id = path.stem().string();
    ++report.commits;
    auto text = util::read_file(path, max_document_size);
    if (!text) {
      report.errors.push_back(text.error().message);
      continue;
    }
    if (digest::sha1_hex(*text) != id) {
      report.errors.push_back(fmt::format("{}: content has sha1 {}, not its name", path.string(),
                                          digest::sha1_hex(*text)));
      continue;
    }
    auto commit = commit_from_document(*text, id, path);
    if (!commit) {
      report.errors.push_back(commit.error().message);
      continue;
    }
    check_commit(repo, *commit, commit_ids, blobs, used_blobs, report);
  }
  auto refs = store.read_refs(repo);
  if (!refs) {
    report.errors.push_back(refs.error().message);
    return;
  }
  for (const auto& [kind, names] : {std::pair{"branch", &refs->branches}, {"tag", &refs->tags}}) {
    for (const auto& [name, target] : *names) {
      if (!commit_ids.contains(target)) {
        report.errors.push_back(fmt::format("{} {} {} points at commit {}, which does not exist",
                                            repo, kind, name, target));
      }
    }
  }
  for (const auto& entry : fs::directory_iterator(directory, walk_error)) {
    if (util::is_temporary_name(entry.path().filename().string())) {
      note_temporary(report, entry.path());
    }
  }
}

} // namespace

FsckReport Store::fsck() const {
  FsckReport report;
  VerifiedBlobs blobs = check_blobs(m_root, report);
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(m_root / "tmp", error)) {
    note_temporary(report, entry.path());
  }
  auto repos = list_repos();
  if (!repos) {
    report.errors.push_back(repos.error().message);
    return report;
  }
  std::set<std::string> used_blobs;
  for (const auto& repo : *repos) {
    ++report.repositories;
    check_repo_dir(*this, repo, blobs, used_blobs, report);
  }
  for (const auto& [sha256, digests] : blobs) {
    if (!used_blobs.contains(sha256)) {
      report.notes.push_back(fmt::format("blob {} ({} bytes) is used by no commit (an upload "
                                         "never published)",
                                         sha256, digests.size));
    }
  }
  return report;
}

} // namespace kget::store
