// The pull itself: one source at a time (an endpoint, or the cache alone), then the order in
// which sources are tried.
#include "digest/digest.hpp"
#include "fetch/fetch.hpp"
#include "fetch/revision.hpp"
#include "metadata/local_tree.hpp"
#include "util/fs.hpp"

#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <unistd.h>

namespace kget::fetch {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// The registry's listing of build/ at a commit, kept so that a commit is never listed twice.
constexpr std::string_view listing_note = "build-listing.json";
constexpr std::string_view build_dir = "build/";

// Where a pull reads from: an endpoint, or (remote == nullptr) the cache alone.
struct Source {
  std::string name;
  remote::Remote* remote = nullptr;
  bool offline() const { return remote == nullptr; }
};

enum class Mode {
  pull, // metadata of the variants that could fit, then the chosen variant's files
  info, // metadata of every variant, no files
};

std::string listing_to_json(const std::vector<remote::TreeFile>& files) {
  json document = json::array();
  for (const auto& file : files) {
    json item = {{"path", file.path}, {"size", file.size}, {"oid", file.git_oid}};
    if (!file.lfs_sha256.empty()) {
      item["lfs_sha256"] = file.lfs_sha256;
    }
    document.push_back(std::move(item));
  }
  return document.dump();
}

std::optional<std::vector<remote::TreeFile>> listing_from_json(const std::string& text) {
  json document = json::parse(text, nullptr, false);
  if (!document.is_array()) {
    return std::nullopt;
  }
  std::vector<remote::TreeFile> files;
  for (const auto& item : document) {
    if (!item.is_object() || !item.contains("path") || !item["path"].is_string() ||
        !item.contains("size") || !item["size"].is_number_unsigned() || !item.contains("oid") ||
        !item["oid"].is_string()) {
      return std::nullopt;
    }
    files.push_back({item["path"], item["size"], item["oid"], item.value("lfs_sha256", "")});
  }
  return files;
}

// What huggingface_hub left in snapshots/<commit>/build/, for an offline pull of a kernel kget
// never listed: each file's blob name (its etag) and size, from the link and the blob.
std::vector<remote::TreeFile>
listing_from_snapshot(const cache::Cache& cache, std::string_view repo, std::string_view commit) {
  std::vector<remote::TreeFile> files;
  fs::path snapshot = cache.snapshot_dir(repo, commit);
  std::error_code error;
  for (fs::recursive_directory_iterator it(snapshot / "build", error), end; !error && it != end;
       it.increment(error)) {
    if (!it->is_regular_file(error)) {
      continue;
    }
    fs::path target = it->is_symlink(error) ? fs::read_symlink(it->path(), error) : it->path();
    std::string etag = target.filename().string();
    remote::TreeFile file;
    file.path = it->path().lexically_relative(snapshot).generic_string();
    file.size = it->file_size(error);
    if (digest::is_lower_hex(etag, 64)) {
      file.lfs_sha256 = etag;
    } else if (digest::is_lower_hex(etag, 40)) {
      file.git_oid = etag;
    } else {
      continue; // a copy rather than a link: its etag is unknown
    }
    files.push_back(std::move(file));
  }
  std::sort(files.begin(), files.end(),
            [](const auto& a, const auto& b) { return a.path < b.path; });
  return files;
}

Result<std::vector<remote::TreeFile>> read_listing(const cache::Cache& cache, const Source& source,
                                                   const std::string& repo,
                                                   const std::string& commit) {
  if (auto note = cache.read_note(repo, commit, listing_note)) {
    if (auto files = listing_from_json(*note)) {
      return *files;
    }
  }
  if (source.offline()) {
    auto files = listing_from_snapshot(cache, repo, commit);
    if (files.empty()) {
      return fail(ErrorKind::not_found, "{} at commit {} is not in the cache at {}", repo, commit,
                  cache.root().string());
    }
    return files;
  }
  KGET_TRY_ASSIGN(auto files, source.remote->list_files(repo, commit, "build"));
  KGET_TRY(cache.write_note(repo, commit, listing_note, listing_to_json(files)));
  return files;
}

// build/<variant>/<rest> -> variant
std::map<std::string, std::vector<const remote::TreeFile*>>
group_by_variant(const std::vector<remote::TreeFile>& files) {
  std::map<std::string, std::vector<const remote::TreeFile*>> variants;
  for (const auto& file : files) {
    if (!file.path.starts_with(build_dir)) {
      continue;
    }
    std::string_view rest = std::string_view(file.path).substr(build_dir.size());
    size_t slash = rest.find('/');
    if (slash == std::string_view::npos || slash == 0) {
      continue;
    }
    variants[std::string(rest.substr(0, slash))].push_back(&file);
  }
  return variants;
}

cache::FileSpec spec_of(const remote::TreeFile& file) {
  return {file.path, file.size, file.etag(), "", ""};
}

Result<cache::EnsureResult> ensure_one(const cache::Cache& cache, remote::Remote* remote,
                                       const std::string& repo, const std::string& commit,
                                       const cache::FileSpec& spec,
                                       const ProgressCallback& progress) {
  return cache.ensure_file(repo, commit, spec, [&](util::ByteSink& sink) -> Result<void> {
    if (remote == nullptr) {
      return fail(ErrorKind::not_found, "{} of {} at commit {} is not in the cache at {}",
                  spec.path, repo, commit, cache.root().string());
    }
    http::ProgressCallback on_bytes;
    if (progress) {
      on_bytes = [&](uint64_t received, uint64_t total) {
        progress({spec.path, received, total ? total : spec.size, false});
      };
    }
    KGET_TRY(remote->download(repo, commit, spec.path, sink, on_bytes));
    if (progress) {
      progress({spec.path, spec.size, spec.size, true});
    }
    return {};
  });
}

// Every file present and verified. Files whose blobs the cache holds are only linked, here;
// the others download on up to `parallel` threads, each with its own connection. The first
// failure (in file order) is returned once every thread has stopped.
Result<std::vector<cache::EnsureResult>>
ensure_all(const cache::Cache& cache, const Source& source, const std::string& repo,
           const std::string& commit, const std::vector<cache::FileSpec>& files, int parallel,
           const ProgressCallback& progress) {
  std::vector<std::optional<Result<cache::EnsureResult>>> results(files.size());
  std::vector<size_t> missing;
  for (size_t i = 0; i < files.size(); ++i) {
    if (cache.has_blob(repo, files[i].etag) || source.offline()) {
      results[i] = ensure_one(cache, source.remote, repo, commit, files[i], progress);
    } else {
      missing.push_back(i);
    }
  }
  size_t threads = std::min<size_t>(missing.size(), static_cast<size_t>(std::max(parallel, 1)));
  if (threads == 1) {
    for (size_t i : missing) {
      results[i] = ensure_one(cache, source.remote, repo, commit, files[i], progress);
      if (!*results[i]) {
        break;
      }
    }
  } else if (threads > 1) {
    std::atomic<size_t> next{0};
    std::atomic<bool> failed{false};
    auto worker = [&] {
      auto own = source.remote->clone();
      for (size_t k = next++; k < missing.size() && !failed; k = next++) {
        size_t i = missing[k];
        results[i] = own ? ensure_one(cache, own->get(), repo, commit, files[i], progress)
                         : Result<cache::EnsureResult>(std::unexpected(own.error()));
        failed = failed || !*results[i];
      }
    };
    std::vector<std::jthread> pool;
    for (size_t t = 0; t < threads; ++t) {
      pool.emplace_back(worker);
    }
  }
  std::vector<cache::EnsureResult> ensured;
  for (auto& result : results) {
    if (result && !*result) {
      return std::unexpected(result->error());
    }
  }
  for (auto& result : results) {
    if (!result) { // not attempted: another file failed first
      return fail(ErrorKind::internal, "a download stopped without a failure");
    }
    ensured.push_back(std::move(**result));
  }
  return ensured;
}

// The variants, with metadata for those worth judging: all of them for `info`, for a pull only
// those whose names could fit this host, so a repository of fifty variants costs a few requests.
Result<std::vector<resolve::Candidate>>
read_candidates(const cache::Cache& cache, const Source& source, const std::string& repo,
                const std::string& commit,
                const std::map<std::string, std::vector<const remote::TreeFile*>>& variants,
                const host::HostInfo& host, const resolve::DeviceChoice& device, Mode mode,
                int parallel, Pulled* counts = nullptr,
                std::map<std::string, std::string>* texts = nullptr) {
  std::vector<resolve::Candidate> candidates;
  std::vector<cache::FileSpec> wanted;
  std::vector<size_t> wanted_candidate;
  for (const auto& [name, files] : variants) {
    candidates.push_back({name, fail(ErrorKind::invalid_metadata, "not read")});
    if (mode == Mode::pull && resolve::judge_without_metadata(name, host, device)) {
      continue; // rejected by its name and the device choice; the resolver says why
    }
    std::string metadata_path = fmt::format("build/{}/metadata.json", name);
    auto found = std::find_if(files.begin(), files.end(),
                              [&](const auto* file) { return file->path == metadata_path; });
    if (found == files.end()) {
      candidates.back().metadata =
          fail(ErrorKind::invalid_metadata, "build/{}/ has no metadata.json", name);
      continue;
    }
    wanted.push_back(spec_of(**found));
    wanted_candidate.push_back(candidates.size() - 1);
  }
  KGET_TRY_ASSIGN(auto ensured, ensure_all(cache, source, repo, commit, wanted, parallel, {}));
  for (size_t i = 0; i < ensured.size(); ++i) {
    if (counts != nullptr && ensured[i].downloaded) {
      counts->files_downloaded += 1;
      counts->bytes_downloaded += ensured[i].bytes;
    }
    auto text = util::read_file(ensured[i].path, 4u << 20);
    auto& candidate = candidates[wanted_candidate[i]];
    candidate.metadata = text ? metadata::parse_metadata(*text)
                              : Result<metadata::VariantMetadata>(std::unexpected(text.error()));
    if (text && texts != nullptr) {
      texts->emplace(candidate.name, std::move(*text));
    }
  }
  return candidates;
}

// metadata.json, then every file its digest lists, as the listing describes them. A file the
// digest lists and the registry lacks is an integrity failure: the variant is incomplete.
Result<std::vector<cache::FileSpec>>
variant_files(const std::string& variant, const std::vector<const remote::TreeFile*>& listed,
              const metadata::VariantMetadata& meta) {
  std::string prefix = fmt::format("build/{}/", variant);
  std::map<std::string, const remote::TreeFile*> by_path;
  for (const auto* file : listed) {
    by_path.emplace(file->path.substr(prefix.size()), file);
  }
  std::vector<cache::FileSpec> specs;
  specs.push_back(spec_of(*by_path.at("metadata.json")));
  for (const auto& [relative, base64] : meta.digest_files) {
    auto found = by_path.find(relative);
    if (found == by_path.end()) {
      return fail(ErrorKind::integrity,
                  "build/{}/metadata.json lists \"{}\", which the registry does not have; the "
                  "variant was published incomplete",
                  variant, relative);
    }
    auto spec = spec_of(*found->second);
    spec.digest_algorithm = meta.digest_algorithm;
    spec.digest_hex = digest::base64_to_hex(base64).value_or("");
    specs.push_back(std::move(spec));
  }
  return specs;
}

// The chosen variant against kget.lock: the digests metadata.json promises, and metadata.json's
// own, must be those locked.
Result<void> check_locked(const lock::LockedKernel& locked, const Pulled& pulled,
                          const cache::Cache& cache) {
  auto variant = locked.variants.find(pulled.variant);
  if (variant == locked.variants.end()) {
    return fail(ErrorKind::integrity,
                "kget.lock has no variant {} of {} at commit {}; the registry's listing differs "
                "from the one locked",
                pulled.variant, pulled.repo_id, locked.commit);
  }
  const auto& files = variant->second.files;
  for (const auto& spec : pulled.files) {
    std::string relative = spec.path.substr(fmt::format("build/{}/", pulled.variant).size());
    std::string actual = spec.digest_hex;
    if (relative == "metadata.json") {
      auto path = cache.find_file(pulled.repo_id, locked.commit, spec.path);
      if (!path) {
        return fail(ErrorKind::io, "{} vanished from the cache", spec.path);
      }
      KGET_TRY_ASSIGN(actual,
                      digest::hash_file_hex(*path, variant->second.digest_algorithm == "sha512"
                                                       ? digest::Algorithm::sha512
                                                       : digest::Algorithm::sha256));
    }
    auto expected = files.find(relative);
    if (expected == files.end() || expected->second != actual) {
      return fail(ErrorKind::integrity,
                  "{}: kget.lock expects {} {}, the registry's variant has {}; the kernel changed "
                  "since it was locked (run `kget lock` again only if you trust the change)",
                  spec.path, variant->second.digest_algorithm,
                  expected == files.end() ? std::string("no such file") : expected->second, actual);
    }
  }
  return {};
}

Result<Pulled> pull_from(const PullRequest& request, const Config& config,
                         const cache::Cache& cache, const Source& source) {
  std::string repo = ref::repo_id(request.ref);
  Pulled pulled;
  pulled.repo_id = repo;
  pulled.source = source.name;
  if (request.locked != nullptr) {
    pulled.revision = {request.locked->commit, "", "locked (kget.lock)"};
  } else {
    KGET_TRY_ASSIGN(pulled.revision, source.offline()
                                         ? resolve_offline(request.ref, cache)
                                         : resolve_online(request.ref, *source.remote));
  }
  const std::string& commit = pulled.revision.commit;
  if (!source.offline() && !pulled.revision.name.empty()) {
    KGET_TRY(cache.write_ref(repo, pulled.revision.name, commit));
  }
  KGET_TRY_ASSIGN(auto listing, read_listing(cache, source, repo, commit));
  auto variants = group_by_variant(listing);
  if (variants.empty()) {
    return fail(ErrorKind::not_found, "{} has no build/<variant>/ at commit {} ({})", repo, commit,
                source.name);
  }
  std::map<std::string, std::string> metadata_texts;
  KGET_TRY_ASSIGN(auto candidates,
                  read_candidates(cache, source, repo, commit, variants, *request.host,
                                  request.device, Mode::pull, config.parallel_downloads, &pulled,
                                  &metadata_texts));
  pulled.resolution = resolve::resolve(ref::to_string(request.ref) + " (commit " + commit + ")",
                                       candidates, *request.host, request.device);
  KGET_TRY_ASSIGN(auto chosen, resolve::choose(pulled.resolution));
  pulled.variant = chosen.variant;
  pulled.metadata_json = std::move(metadata_texts.at(chosen.variant));
  for (auto& candidate : candidates) {
    if (candidate.name == chosen.variant) {
      pulled.metadata = std::move(*candidate.metadata);
    }
  }
  KGET_TRY_ASSIGN(pulled.files,
                  variant_files(pulled.variant, variants.at(pulled.variant), pulled.metadata));
  KGET_TRY_ASSIGN(auto ensured, ensure_all(cache, source, repo, commit, pulled.files,
                                           config.parallel_downloads, request.progress));
  for (const auto& result : ensured) {
    pulled.files_downloaded += result.downloaded ? 1 : 0;
    pulled.bytes_downloaded += result.bytes;
  }
  KGET_TRY(cache.verify_files(repo, commit, pulled.files, config.verify));
  if (request.locked != nullptr) {
    KGET_TRY(check_locked(*request.locked, pulled, cache));
  }
  pulled.variant_dir = cache.snapshot_dir(repo, commit) / "build" / pulled.variant;
  return pulled;
}

Result<Pulled> pull_local(const PullRequest& request, const fs::path& directory) {
  Pulled pulled;
  pulled.repo_id = ref::repo_id(request.ref);
  pulled.source = directory.string();
  pulled.local = true;
  pulled.revision.how = "local build (KGET_LOCAL_KERNELS)";
  KGET_TRY_ASSIGN(auto variants, metadata::read_local_variants(directory));
  std::map<std::string, fs::path> directories;
  for (const auto& variant : variants) {
    directories.emplace(variant.name, variant.directory);
  }
  auto candidates = resolve::candidates_from(std::move(variants));
  pulled.resolution =
      resolve::resolve(directory.string(), candidates, *request.host, request.device);
  KGET_TRY_ASSIGN(auto chosen, resolve::choose(pulled.resolution));
  pulled.variant = chosen.variant;
  pulled.variant_dir = directories.at(chosen.variant);
  KGET_TRY_ASSIGN(pulled.metadata_json, util::read_file(pulled.variant_dir / "metadata.json"));
  for (auto& candidate : candidates) {
    if (candidate.name == chosen.variant) {
      pulled.metadata = std::move(*candidate.metadata);
    }
  }
  return pulled;
}

// Failures for which another endpoint may do better.
bool worth_another_endpoint(ErrorKind kind) {
  return kind == ErrorKind::network || kind == ErrorKind::not_found ||
         kind == ErrorKind::permission || kind == ErrorKind::integrity;
}

using EndpointFailures = std::vector<std::pair<std::string, Failure>>;

Failure combine(const EndpointFailures& failures) {
  if (failures.size() == 1) {
    return failures.front().second;
  }
  bool all_not_found = std::all_of(failures.begin(), failures.end(), [](const auto& entry) {
    return entry.second.kind == ErrorKind::not_found;
  });
  std::string message = "every endpoint failed:";
  for (const auto& [endpoint, failure] : failures) {
    message += fmt::format("\n  {}: {}", endpoint, failure.message);
  }
  return {all_not_found ? ErrorKind::not_found : ErrorKind::network, message};
}

Source offline_source(const Config& config) {
  return {fmt::format("the cache at {} (offline)", config.cache_root.string()), nullptr};
}

Failure offline_failure(const Failure& failure) {
  if (failure.kind != ErrorKind::not_found) {
    return failure;
  }
  return {failure.kind, failure.message + "; kget is offline (KGET_OFFLINE or HF_HUB_OFFLINE), so "
                                          "only the cache was consulted: pull it once online"};
}

// Remotes kept between pulls, so that a warm get_kernel reuses its connection rather than opening
// one per call (the connection is half of a warm online get_kernel). A pull takes a remote out of
// the pool for as long as it uses it. The pool is never destroyed: libcurl may be cleaned up
// before static destructors run. After a fork the child must not share the parent's
// connections, so a pool that finds another pid forgets its remotes without closing them.
class RemotePool {
public:
  static RemotePool& instance() {
    static auto* pool = new RemotePool;
    return *pool;
  }

  Result<std::unique_ptr<remote::Remote>> take(const std::string& endpoint,
                                               const std::string& token) {
    {
      std::lock_guard lock(m_mutex);
      forget_after_fork();
      auto& idle = m_idle[key(endpoint, token)];
      if (!idle.empty()) {
        auto remote = std::move(idle.back());
        idle.pop_back();
        return remote;
      }
    }
    remote::EndpointOptions options;
    options.token = token;
    return remote::open(endpoint, options);
  }

  void give_back(const std::string& endpoint, const std::string& token,
                 std::unique_ptr<remote::Remote> remote) {
    std::lock_guard lock(m_mutex);
    forget_after_fork();
    auto& idle = m_idle[key(endpoint, token)];
    if (idle.size() < max_idle_per_endpoint) {
      idle.push_back(std::move(remote));
    }
  }

private:
  static constexpr size_t max_idle_per_endpoint = 4;

  static std::string key(const std::string& endpoint, const std::string& token) {
    return endpoint + '\n' + token;
  }

  void forget_after_fork() {
    if (m_pid == ::getpid()) {
      return;
    }
    for (auto& [key, idle] : m_idle) {
      for (auto& remote : idle) {
        (void)remote.release(); // the parent's connections: neither used nor closed here
      }
    }
    m_idle.clear();
    m_pid = ::getpid();
  }

  std::mutex m_mutex;
  std::map<std::string, std::vector<std::unique_ptr<remote::Remote>>> m_idle;
  pid_t m_pid = ::getpid();
};

// `attempt` against the cache alone when offline, else against each endpoint in order until one
// answers or fails in a way another endpoint would not fix. With `cache_fallback`, registries that
// could not be reached at all leave the cache to answer. Endpoints that failed before the answer
// are reported through `failed`, and an answer from the cache after them sets `used_cache`.
template <class T>
Result<T> first_answer(const Config& config, bool cache_fallback, EndpointFailures& failed,
                       bool& used_cache, const std::function<Result<T>(const Source&)>& attempt) {
  if (config.offline) {
    auto answer = attempt(offline_source(config));
    return answer ? std::move(answer) : std::unexpected(offline_failure(answer.error()));
  }
  auto& pool = RemotePool::instance();
  for (const auto& endpoint : config.endpoints) {
    auto opened = pool.take(endpoint, config.token);
    auto answer =
        opened ? attempt({endpoint, opened->get()}) : Result<T>(std::unexpected(opened.error()));
    if (opened) {
      pool.give_back(endpoint, config.token, std::move(*opened));
    }
    if (answer || !worth_another_endpoint(answer.error().kind)) {
      return answer;
    }
    failed.emplace_back(endpoint, answer.error());
  }
  bool unreachable = std::all_of(failed.begin(), failed.end(), [](const auto& entry) {
    return entry.second.kind == ErrorKind::network;
  });
  if (cache_fallback && unreachable) {
    Source cache_only{fmt::format("the cache at {}", config.cache_root.string()), nullptr};
    if (auto cached = attempt(cache_only)) {
      used_cache = true;
      return cached;
    }
  }
  return std::unexpected(combine(failed));
}

} // namespace

Result<Pulled> pull(const PullRequest& request, const Config& config) {
  if (request.host == nullptr) {
    return fail(ErrorKind::internal, "fetch::pull without host facts");
  }
  if (auto local = config.local_kernels.find(ref::repo_id(request.ref));
      local != config.local_kernels.end()) {
    return pull_local(request, local->second);
  }
  auto cache = cache::Cache::at(config.cache_root);
  EndpointFailures failed;
  bool used_cache = false;
  auto pulled = first_answer<Pulled>(
      config, /*cache_fallback=*/true, failed, used_cache,
      [&](const Source& source) { return pull_from(request, config, cache, source); });
  if (pulled) {
    for (const auto& [endpoint, failure] : failed) {
      pulled->warnings.push_back(fmt::format("{} failed: {}{}", endpoint, failure.message,
                                             used_cache ? "; used the cache instead" : ""));
    }
  }
  return pulled;
}

Result<VersionList> list_versions(std::string_view repo_id, const Config& config) {
  auto cache = cache::Cache::at(config.cache_root);
  EndpointFailures failed;
  bool used_cache = false;
  return first_answer<VersionList>(
      config, /*cache_fallback=*/false, failed, used_cache,
      [&](const Source& source) -> Result<VersionList> {
        if (!source.offline()) {
          KGET_TRY_ASSIGN(auto refs, source.remote->list_refs(repo_id));
          return VersionList{source.name, std::move(refs)};
        }
        VersionList list{source.name, {}};
        for (auto& [name, commit] : cache.list_refs(repo_id)) {
          (ref::parse_tag(name) ? list.refs.tags : list.refs.branches).emplace(name, commit);
        }
        if (list.refs.branches.empty() && list.refs.tags.empty()) {
          return fail(ErrorKind::not_found, "{} has no refs in the cache at {}", repo_id,
                      config.cache_root.string());
        }
        return list;
      });
}

Result<KernelInfo> info(const PullRequest& request, const Config& config) {
  if (request.host == nullptr) {
    return fail(ErrorKind::internal, "fetch::info without host facts");
  }
  auto cache = cache::Cache::at(config.cache_root);
  EndpointFailures failed;
  bool used_cache = false;
  return first_answer<KernelInfo>(
      config, /*cache_fallback=*/true, failed, used_cache,
      [&](const Source& source) -> Result<KernelInfo> {
        KernelInfo result;
        result.repo_id = ref::repo_id(request.ref);
        result.source = source.name;
        if (request.locked != nullptr) {
          result.revision = {request.locked->commit, "", "locked (kget.lock)"};
        } else {
          KGET_TRY_ASSIGN(result.revision, source.offline()
                                               ? resolve_offline(request.ref, cache)
                                               : resolve_online(request.ref, *source.remote));
        }
        KGET_TRY_ASSIGN(auto listing,
                        read_listing(cache, source, result.repo_id, result.revision.commit));
        KGET_TRY_ASSIGN(result.variants,
                        read_candidates(cache, source, result.repo_id, result.revision.commit,
                                        group_by_variant(listing), *request.host, request.device,
                                        Mode::info, config.parallel_downloads));
        result.resolution = resolve::resolve(ref::to_string(request.ref), result.variants,
                                             *request.host, request.device);
        return result;
      });
}

Result<lock::LockedKernel> lock_entry(const KernelInfo& info, const ref::KernelRef& ref,
                                      const Config& config) {
  auto cache = cache::Cache::at(config.cache_root);
  lock::LockedKernel entry{info.repo_id, ref::to_string(ref.spec), info.revision.commit, {}};
  for (const auto& candidate : info.variants) {
    if (!candidate.metadata) {
      continue; // never loadable: nothing to lock
    }
    lock::LockedVariant variant{candidate.metadata->digest_algorithm, {}};
    auto algorithm = variant.digest_algorithm == "sha512" ? digest::Algorithm::sha512
                                                          : digest::Algorithm::sha256;
    for (const auto& [path, base64] : candidate.metadata->digest_files) {
      variant.files.emplace(path, digest::base64_to_hex(base64).value_or(""));
    }
    std::string metadata_path = fmt::format("build/{}/metadata.json", candidate.name);
    auto metadata_file = cache.find_file(info.repo_id, info.revision.commit, metadata_path);
    if (!metadata_file) {
      return fail(ErrorKind::io, "{} of {} is not in the cache", metadata_path, info.repo_id);
    }
    KGET_TRY_ASSIGN(auto metadata_digest, digest::hash_file_hex(*metadata_file, algorithm));
    variant.files.emplace("metadata.json", std::move(metadata_digest));
    entry.variants.emplace(candidate.name, std::move(variant));
  }
  if (entry.variants.empty()) {
    return fail(ErrorKind::not_found, "{} has no variant with valid metadata at commit {}",
                info.repo_id, info.revision.commit);
  }
  return entry;
}

} // namespace kget::fetch
