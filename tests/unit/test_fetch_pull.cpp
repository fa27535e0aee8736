// fetch::pull through the real kget-registry, with a fault-injecting proxy in front of it
// (tests/support/fault_server.hpp) so that every request is counted and any can be spoiled.
#include "fetch/fetch.hpp"
#include "fetch/revision.hpp"
#include "publish/publish.hpp"
#include "publish_fixture.hpp"
#include "support/fault_server.hpp"
#include "test_registry_support.hpp"

#include <gtest/gtest.h>

namespace kget::fetch {
namespace {

namespace fs = std::filesystem;
using kget::testing::Fault;
using kget::testing::FaultServer;
using kget::testing::TempDir;
using registry::test_support::random_bytes;
using registry::test_support::ServerProcess;

constexpr const char* cpu_variant = "kget1-cpu-x86_64-linux";
constexpr const char* cuda_variant = "kget1-cu130-x86_64-linux";

host::HostInfo cpu_only_host() {
  auto env = settings::Environment::from_map({{"KGET_OVERRIDE_CUDA_DRIVER", "none"}});
  auto host = host::detect(env);
  EXPECT_TRUE(host.has_value());
  return *host;
}

// acme/demo 1.0.0 and 1.1.0 (CPU and CUDA variants; the CPU library is 3 MiB so that a transfer
// can break in the middle), served by kget-registry, behind a proxy that counts and spoils.
class PullTest : public ::testing::Test {
protected:
  void SetUp() override {
    fs::path store = dir.path() / "store";
    library_v1 = random_bytes(3u << 20, 1);
    library_v11 = random_bytes(3u << 20, 2);
    publish("1.0.0", library_v1);
    publish("1.1.0", library_v11);
    server = std::make_unique<ServerProcess>(std::vector<std::string>{"--root", store.string(),
                                                                      "--listen", "127.0.0.1:0",
                                                                      "--tree-page-size", "2"},
                                             dir.path() / "registry.err");
    ASSERT_TRUE(server->started());
    proxy.forward_to(server->port());
    config.endpoints = {proxy.base_url()};
    config.cache_root = dir.path() / "cache";
    config.parallel_downloads = 4;
  }

  void publish(const std::string& version, const std::string& library,
               const std::string& extra = "") {
    fs::path kernel = dir.path() / ("kernel-" + version);
    std::map<std::string, std::string> files{{"libdemo.so", library}};
    if (!extra.empty()) {
      files.emplace("data/extra.bin", extra);
    }
    int major = std::stoi(version);
    testing::write_variant(kernel / "build", cpu_variant, files, major);
    testing::write_variant(kernel / "build", cuda_variant, {{"libdemo.so", "cuda " + version}},
                           major);
    auto plan = publish::plan_push({{kernel}, "acme/demo", version, ""});
    ASSERT_TRUE(plan.has_value()) << plan.error().message;
    auto store = store::Store::open_or_create(dir.path() / "store");
    ASSERT_TRUE(store.has_value());
    auto pushed = publish::push_to_store(*store, *plan);
    ASSERT_TRUE(pushed.has_value()) << pushed.error().message;
  }

  Result<Pulled> pull(const std::string& reference) {
    auto parsed = ref::parse_kernel_ref(reference);
    EXPECT_TRUE(parsed.has_value());
    PullRequest request{*parsed, &host, {}, {}};
    return fetch::pull(request, config);
  }

  size_t requests() const { return proxy.requests().size(); }

  size_t requests_for(std::string_view part) const {
    size_t count = 0;
    for (const auto& request : proxy.requests()) {
      count += request.target.find(part) != std::string::npos ? 1 : 0;
    }
    return count;
  }

  // Nothing but committed blobs and links: no temporary or incomplete file anywhere.
  std::vector<std::string> leftovers() const {
    std::vector<std::string> found;
    if (!fs::exists(config.cache_root)) {
      return found;
    }
    for (const auto& entry : fs::recursive_directory_iterator(config.cache_root)) {
      std::string name = entry.path().filename().string();
      if (name.find(".kget-tmp.") != std::string::npos || name.ends_with(".incomplete")) {
        found.push_back(entry.path().string());
      }
    }
    return found;
  }

  fs::path library_blob() const {
    return config.cache_root / "kernels--acme--demo" / "blobs" /
           registry::test_support::sha256_of(library_v11);
  }

  TempDir dir;
  std::string library_v1;
  std::string library_v11;
  std::unique_ptr<ServerProcess> server;
  FaultServer proxy;
  Config config;
  host::HostInfo host = cpu_only_host();
};

TEST_F(PullTest, ColdPullListsOnceReadsMetadataAndDownloadsTheChosenVariant) {
  auto pulled = pull("acme/demo@1");
  ASSERT_TRUE(pulled.has_value()) << pulled.error().message;
  EXPECT_EQ(pulled->variant, cpu_variant);
  EXPECT_EQ(pulled->revision.name, "v1");
  EXPECT_EQ(testing::read_file(pulled->variant_dir / "libdemo.so"), library_v11);
  EXPECT_TRUE(fs::is_symlink(pulled->variant_dir / "libdemo.so"));
  EXPECT_EQ(requests_for("/refs"), 1u);
  // The registry pages its tree two entries at a time: the listing follows every page.
  EXPECT_GE(requests_for("/tree/"), 2u);
  EXPECT_EQ(requests_for(std::string(cpu_variant) + "/libdemo.so"), 1u);
  EXPECT_EQ(requests_for(std::string(cuda_variant) + "/libdemo.so"), 0u);
  // With no CUDA driver, the CUDA variant is out by its name: its metadata is not even read.
  EXPECT_EQ(requests_for(std::string(cuda_variant) + "/metadata.json"), 0u);
  EXPECT_EQ(requests_for(std::string(cpu_variant) + "/metadata.json"), 1u);
  EXPECT_EQ(cache::Cache::at(config.cache_root).read_ref("acme/demo", "v1"),
            pulled->revision.commit);
  EXPECT_TRUE(leftovers().empty());
}

TEST_F(PullTest, WarmPullOfABranchMakesOneRequestAndOfACommitNone) {
  auto cold = pull("acme/demo@1");
  ASSERT_TRUE(cold.has_value()) << cold.error().message;
  size_t before = requests();
  auto warm = pull("acme/demo@1");
  ASSERT_TRUE(warm.has_value()) << warm.error().message;
  EXPECT_EQ(requests() - before, 1u);
  EXPECT_EQ(warm->files_downloaded, 0u);
  before = requests();
  auto pinned = pull("acme/demo@" + cold->revision.commit);
  ASSERT_TRUE(pinned.has_value()) << pinned.error().message;
  EXPECT_EQ(requests(), before);
  EXPECT_EQ(pinned->variant_dir, cold->variant_dir);
}

TEST_F(PullTest, EverySpecKindResolves) {
  auto tag = pull("acme/demo@1.0.0");
  ASSERT_TRUE(tag.has_value()) << tag.error().message;
  EXPECT_EQ(testing::read_file(tag->variant_dir / "libdemo.so"), library_v1);
  auto range = pull("acme/demo@<1.1");
  ASSERT_TRUE(range.has_value()) << range.error().message;
  EXPECT_EQ(range->revision.name, "v1.0.0");
  auto highest = pull("acme/demo");
  ASSERT_TRUE(highest.has_value()) << highest.error().message;
  EXPECT_EQ(highest->revision.name, "v1");
  auto main_branch = pull("acme/demo@main");
  ASSERT_TRUE(main_branch.has_value()) << main_branch.error().message;
  EXPECT_EQ(main_branch->revision.commit, highest->revision.commit);
  auto missing = pull("acme/demo@7");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().kind, ErrorKind::not_found);
  EXPECT_NE(missing.error().message.find("v1.0.0, v1.1.0"), std::string::npos)
      << missing.error().message;
}

TEST_F(PullTest, ADroppedConnectionResumesWithRange) {
  proxy.add_fault(Fault::drop_after(1u << 20).for_target("libdemo.so"));
  auto pulled = pull("acme/demo@1");
  ASSERT_TRUE(pulled.has_value()) << pulled.error().message;
  EXPECT_EQ(testing::read_file(pulled->variant_dir / "libdemo.so"), library_v11);
  bool resumed = false;
  for (const auto& request : proxy.requests()) {
    resumed = resumed || request.header("range").starts_with("bytes=");
  }
  EXPECT_TRUE(resumed);
  EXPECT_TRUE(leftovers().empty());
}

TEST_F(PullTest, ATruncatedBodyAndServerErrorsAreRetried) {
  proxy.add_fault(Fault::truncate_after(12345).for_target("libdemo.so"));
  proxy.add_fault(Fault::answer(503, "1").for_target("/refs"));
  proxy.add_fault(Fault::answer(500).for_target("/tree/"));
  auto pulled = pull("acme/demo@1");
  ASSERT_TRUE(pulled.has_value()) << pulled.error().message;
  EXPECT_EQ(testing::read_file(pulled->variant_dir / "libdemo.so"), library_v11);
}

TEST_F(PullTest, ACorruptedBodyIsRefusedAndNothingIsCommitted) {
  proxy.add_fault(Fault::corrupt_at(777).for_target("libdemo.so").always());
  auto pulled = pull("acme/demo@1");
  ASSERT_FALSE(pulled.has_value());
  EXPECT_EQ(pulled.error().kind, ErrorKind::integrity) << pulled.error().message;
  EXPECT_NE(pulled.error().message.find("libdemo.so"), std::string::npos);
  EXPECT_FALSE(fs::exists(library_blob()));
  EXPECT_FALSE(fs::exists(config.cache_root / "kernels--acme--demo" / "snapshots" /
                          *cache::Cache::at(config.cache_root).read_ref("acme/demo", "v1") /
                          "build" / cpu_variant / "libdemo.so"));
  EXPECT_TRUE(leftovers().empty());
  // Once the registry answers honestly again, the same pull completes.
  FaultServer honest;
  honest.forward_to(server->port());
  config.endpoints = {honest.base_url()};
  auto repaired = pull("acme/demo@1");
  ASSERT_TRUE(repaired.has_value()) << repaired.error().message;
  EXPECT_EQ(testing::read_file(repaired->variant_dir / "libdemo.so"), library_v11);
}

TEST_F(PullTest, PersistentRateLimitingFailsNamingTheStatusAndLeavesNothing) {
  proxy.add_fault(Fault::answer(429, "0").for_target("libdemo.so").always());
  auto pulled = pull("acme/demo@1");
  ASSERT_FALSE(pulled.has_value());
  EXPECT_EQ(pulled.error().kind, ErrorKind::network);
  EXPECT_NE(pulled.error().message.find("429"), std::string::npos) << pulled.error().message;
  EXPECT_FALSE(fs::exists(library_blob()));
  EXPECT_TRUE(leftovers().empty());
}

TEST_F(PullTest, ARedirectToAnotherHostIsFollowedWithoutTheToken) {
  FaultServer other("127.0.0.2");
  other.forward_to(server->port());
  proxy.add_fault(Fault::redirect_to(other.base_url()).for_target("libdemo.so"));
  config.token = "secret-token";
  auto pulled = pull("acme/demo@1");
  ASSERT_TRUE(pulled.has_value()) << pulled.error().message;
  EXPECT_EQ(testing::read_file(pulled->variant_dir / "libdemo.so"), library_v11);
  ASSERT_FALSE(other.requests().empty());
  for (const auto& request : other.requests()) {
    EXPECT_FALSE(request.has_header("authorization")) << request.target;
  }
  EXPECT_EQ(proxy.requests().front().header("authorization"), "Bearer secret-token");
}

TEST_F(PullTest, AFailingEndpointFallsThroughToTheMirror) {
  FaultServer broken;
  broken.add_fault(Fault::answer(503).always());
  config.endpoints = {broken.base_url(), proxy.base_url()};
  auto pulled = pull("acme/demo@1");
  ASSERT_TRUE(pulled.has_value()) << pulled.error().message;
  EXPECT_EQ(pulled->source, proxy.base_url());
  ASSERT_EQ(pulled->warnings.size(), 1u);
  EXPECT_NE(pulled->warnings[0].find(broken.base_url()), std::string::npos);
  EXPECT_NE(pulled->warnings[0].find("503"), std::string::npos) << pulled->warnings[0];
}

TEST_F(PullTest, AnEndpointWithoutTheKernelFallsThroughToTheMirror) {
  auto empty = store::Store::open_or_create(dir.path() / "empty-store");
  ASSERT_TRUE(empty.has_value());
  config.endpoints = {"file://" + (dir.path() / "empty-store").string(), proxy.base_url()};
  auto pulled = pull("acme/demo@1");
  ASSERT_TRUE(pulled.has_value()) << pulled.error().message;
  EXPECT_EQ(pulled->source, proxy.base_url());
}

TEST_F(PullTest, AFileStoreEndpointNeedsNoServer) {
  config.endpoints = {"file://" + (dir.path() / "store").string()};
  auto pulled = pull("acme/demo@1.0.0");
  ASSERT_TRUE(pulled.has_value()) << pulled.error().message;
  EXPECT_EQ(testing::read_file(pulled->variant_dir / "libdemo.so"), library_v1);
  EXPECT_EQ(requests(), 0u);
}

TEST_F(PullTest, OfflineUsesTheCacheAloneAndSaysWhatIsMissing) {
  ASSERT_TRUE(pull("acme/demo@1").has_value());
  FaultServer closed;
  config.endpoints = {closed.base_url()};
  config.offline = true;
  auto cached = pull("acme/demo@1");
  ASSERT_TRUE(cached.has_value()) << cached.error().message;
  EXPECT_EQ(cached->variant, cpu_variant);
  EXPECT_EQ(closed.connections(), 0);
  auto missing = pull("acme/demo@1.0.0");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().kind, ErrorKind::not_found);
  EXPECT_NE(missing.error().message.find("offline"), std::string::npos);
  EXPECT_NE(missing.error().message.find("v1.0.0"), std::string::npos) << missing.error().message;
  EXPECT_EQ(closed.connections(), 0);
}

TEST_F(PullTest, AnUnreachableRegistryLeavesTheCacheToAnswer) {
  ASSERT_TRUE(pull("acme/demo@1").has_value());
  server->stop();
  auto cached = pull("acme/demo@1");
  ASSERT_TRUE(cached.has_value()) << cached.error().message;
  ASSERT_FALSE(cached->warnings.empty());
  EXPECT_NE(cached->warnings[0].find("used the cache"), std::string::npos);
  auto uncached = pull("acme/demo@1.0.0");
  ASSERT_FALSE(uncached.has_value());
  EXPECT_EQ(uncached.error().kind, ErrorKind::network) << uncached.error().message;
}

TEST_F(PullTest, ParallelPullsInOneProcessDownloadOnce) {
  std::vector<std::jthread> threads;
  std::vector<Result<Pulled>> results(8, fail(ErrorKind::internal, "not run"));
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = pull("acme/demo@1"); });
  }
  threads.clear();
  for (const auto& result : results) {
    ASSERT_TRUE(result.has_value()) << result.error().message;
    EXPECT_EQ(testing::read_file(result->variant_dir / "libdemo.so"), library_v11);
  }
  EXPECT_EQ(requests_for(std::string(cpu_variant) + "/libdemo.so"), 1u);
}

TEST_F(PullTest, OneDownloadAtATimeStillFetchesEveryFile) {
  publish("2.0.0", random_bytes(4096, 3), random_bytes(5000, 4));
  config.parallel_downloads = 1;
  auto pulled = pull("acme/demo@2");
  ASSERT_TRUE(pulled.has_value()) << pulled.error().message;
  EXPECT_EQ(pulled->files.size(), 3u); // metadata.json, libdemo.so, data/extra.bin
  EXPECT_EQ(testing::read_file(pulled->variant_dir / "data" / "extra.bin"), random_bytes(5000, 4));
  EXPECT_EQ(testing::read_file(pulled->variant_dir / "libdemo.so"), random_bytes(4096, 3));
}

TEST_F(PullTest, NoCompatibleVariantExplainsEveryVariant) {
  auto parsed = ref::parse_kernel_ref("acme/demo@1");
  PullRequest request{*parsed, &host, {resolve::DeviceChoice::Kind::cuda, 0}, {}};
  auto pulled = fetch::pull(request, config);
  ASSERT_FALSE(pulled.has_value());
  EXPECT_EQ(pulled.error().kind, ErrorKind::no_compatible_variant);
  EXPECT_NE(pulled.error().message.find(cpu_variant), std::string::npos) << pulled.error().message;
  EXPECT_NE(pulled.error().message.find(cuda_variant), std::string::npos);
  EXPECT_EQ(requests_for("libdemo.so"), 0u);
}

TEST(RevisionFromRefs, AppliesEachSpecToBranchesAndTags) {
  remote::Refs refs;
  std::string a(40, 'a'), b(40, 'b'), c(40, 'c'), d(40, 'd');
  refs.branches = {{"main", a}, {"v1", b}, {"v2", a}};
  refs.tags = {{"v1.0.0", c}, {"v1.2.0", b}, {"v2.0.0", a}, {"v2.1.0-rc.1", d}};
  auto resolve = [&](const std::string& text) {
    return revision_from_refs(*ref::parse_kernel_ref(text), refs, "at test");
  };
  EXPECT_EQ(resolve("o/k")->name, "v2");
  EXPECT_EQ(resolve("o/k@1")->commit, b);
  EXPECT_EQ(resolve("o/k@1.0.0")->commit, c);
  EXPECT_EQ(resolve("o/k@^1.0")->name, "v1.2.0");
  EXPECT_EQ(resolve("o/k@>=2")->name, "v2.0.0");
  EXPECT_EQ(resolve("o/k@main")->commit, a);
  EXPECT_EQ(resolve("o/k@" + d)->commit, d);
  auto missing = resolve("o/k@3");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().message,
            "o/k has no branch v3 at test; it has v1, v2, v1.0.0, v1.2.0, v2.0.0, v2.1.0-rc.1");
  EXPECT_FALSE(resolve("o/k@^3").has_value());
  remote::Refs none;
  auto no_branch = revision_from_refs(*ref::parse_kernel_ref("o/k"), none, "at test");
  ASSERT_FALSE(no_branch.has_value());
  EXPECT_NE(no_branch.error().message.find("o/k@main"), std::string::npos);
}

} // namespace
} // namespace kget::fetch
