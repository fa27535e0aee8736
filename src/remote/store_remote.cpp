// A registry's on-disk store read directly through a file:// endpoint: the same answers
// kget-registry would give, without a process or a socket.
#include "remote/remote_internal.hpp"
#include "store/store.hpp"
#include "util/fs.hpp"
#include "util/url.hpp"

namespace kget::remote {

namespace {

class StoreRemote final : public Remote {
public:
  StoreRemote(std::string endpoint, store::Store store)
      : m_endpoint(std::move(endpoint)), m_store(std::move(store)) {}

  const std::string& endpoint() const override { return m_endpoint; }

  Result<Refs> list_refs(std::string_view repo_id) override {
    KGET_TRY_ASSIGN(auto refs, m_store.read_refs(repo_id));
    return Refs{std::move(refs.branches), std::move(refs.tags)};
  }

  Result<std::string> resolve_revision(std::string_view repo_id,
                                       std::string_view revision) override {
    return m_store.resolve_revision(repo_id, revision);
  }

  Result<std::vector<TreeFile>> list_files(std::string_view repo_id, std::string_view commit,
                                           std::string_view directory) override {
    KGET_TRY_ASSIGN(auto found, m_store.read_commit(repo_id, commit));
    std::string prefix = std::string(directory) + "/";
    std::vector<TreeFile> files;
    for (const auto& entry : found.files) {
      if (entry.path.starts_with(prefix)) {
        files.push_back({entry.path, entry.size, entry.git_oid, entry.lfs ? entry.sha256 : ""});
      }
    }
    if (files.empty()) {
      return fail(ErrorKind::not_found, "{} has no {}/ at commit {} (in {})", repo_id, directory,
                  commit, m_endpoint);
    }
    return files;
  }

  Result<void> download(std::string_view repo_id, std::string_view commit, std::string_view path,
                        util::ByteSink& sink, const http::ProgressCallback& progress) override {
    KGET_TRY_ASSIGN(auto found, m_store.read_commit(repo_id, commit));
    const store::FileEntry* entry = found.find(path);
    if (entry == nullptr) {
      return fail(ErrorKind::not_found, "{} has no file \"{}\" at commit {} (in {})", repo_id, path,
                  commit, m_endpoint);
    }
    KGET_TRY(sink.restart());
    uint64_t received = 0;
    auto consume = [&](std::string_view chunk) -> Result<void> {
      KGET_TRY(sink.write(chunk));
      received += chunk.size();
      if (progress) {
        progress(received, entry->size);
      }
      return {};
    };
    KGET_TRY(util::read_chunks(
        m_store.blob_path(entry->sha256), [](uint64_t) {}, consume));
    return {};
  }

  Result<std::unique_ptr<Remote>> clone() const override {
    return std::make_unique<StoreRemote>(m_endpoint, m_store);
  }

private:
  std::string m_endpoint;
  store::Store m_store;
};

} // namespace

Result<std::unique_ptr<Remote>> open_store(std::string endpoint,
                                           const std::filesystem::path& root) {
  auto opened = store::Store::open(root);
  if (!opened) {
    return fail(opened.error().kind == ErrorKind::not_found ? ErrorKind::invalid_setting
                                                            : opened.error().kind,
                "the endpoint {} is not a kget store: {}", endpoint, opened.error().message);
  }
  return std::make_unique<StoreRemote>(std::move(endpoint), std::move(*opened));
}

Result<std::unique_ptr<Remote>> open(std::string_view endpoint, const EndpointOptions& options) {
  if (endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
    return open_hub(endpoint, options);
  }
  if (endpoint.starts_with("file://")) {
    auto root = util::file_url_path(endpoint);
    if (!root) {
      return fail(ErrorKind::invalid_setting, "{}", root.error().message);
    }
    return open_store(std::string(endpoint), *root);
  }
  return fail(ErrorKind::invalid_setting,
              "the endpoint \"{}\" is neither http(s):// nor file:///; write e.g. "
              "https://huggingface.co, http://127.0.0.1:8080 or file:///srv/kget-store",
              endpoint);
}

} // namespace kget::remote
