#include "loopback_server.hpp"
#include "publish/publish.hpp"
#include "publish_fixture.hpp"

#include <gtest/gtest.h>
#include <optional>
#include <set>

namespace fs = std::filesystem;
using kget::ErrorKind;
using kget::publish::Destination;
using kget::publish::parse_destination;
using kget::publish::plan_push;
using kget::publish::push_to_registry;
using kget::publish::push_to_store;
using kget::publish::PushPlan;
using kget::store::Store;
using nlohmann::json;
using namespace kget::testing;

namespace {

#define EXPECT_FAILS_WITH(result, error_kind, text)                                                \
  do {                                                                                             \
    auto&& outcome_ = (result);                                                                    \
    ASSERT_FALSE(outcome_) << "expected a failure containing: " << (text);                         \
    EXPECT_EQ(outcome_.error().kind, (error_kind)) << outcome_.error().message;                    \
    EXPECT_NE(outcome_.error().message.find(text), std::string::npos) << outcome_.error().message; \
  } while (false)

PushPlan plan_for(const fs::path& kernel, const std::string& version = "1.2.0") {
  auto plan = plan_push({{kernel}, "acme/demo", version, "a message"});
  EXPECT_TRUE(plan) << plan.error().message;
  return std::move(*plan);
}

Store open_store(const fs::path& root) {
  auto store = Store::open_or_create(root);
  EXPECT_TRUE(store) << store.error().message;
  return std::move(*store);
}

// --- destinations ------------------------------------------------------------------------------

TEST(PublishDestination, FileUrlsAreStores) {
  auto destination = parse_destination("file:///srv/kget%20store/");
  ASSERT_TRUE(destination) << destination.error().message;
  EXPECT_EQ(destination->kind, Destination::Kind::store);
  EXPECT_EQ(destination->store_root, fs::path("/srv/kget store/"));
  auto localhost = parse_destination("file://localhost/srv/store");
  ASSERT_TRUE(localhost) << localhost.error().message;
  EXPECT_EQ(localhost->store_root, fs::path("/srv/store"));
}

TEST(PublishDestination, HttpUrlsAreRegistries) {
  for (const char* url : {"http://127.0.0.1:8080", "https://kernels.example.com/"}) {
    auto destination = parse_destination(url);
    ASSERT_TRUE(destination) << destination.error().message;
    EXPECT_EQ(destination->kind, Destination::Kind::registry);
    EXPECT_EQ(destination->url, url);
  }
}

TEST(PublishDestination, OtherDestinationsAreRefused) {
  EXPECT_FAILS_WITH(parse_destination("ftp://host/x"), ErrorKind::usage, "unsupported destination");
  EXPECT_FAILS_WITH(parse_destination("s3://bucket"), ErrorKind::usage, "unsupported destination");
  EXPECT_FAILS_WITH(parse_destination("/srv/store"), ErrorKind::usage,
                    "for a store write file:///srv/store");
  EXPECT_FAILS_WITH(parse_destination("file://server/share"), ErrorKind::usage,
                    "not a local file URL");
  EXPECT_FAILS_WITH(parse_destination("file://relative"), ErrorKind::usage, "not a local file URL");
  EXPECT_FAILS_WITH(parse_destination("file:///srv/a%2"), ErrorKind::usage, "escape");
  EXPECT_FAILS_WITH(parse_destination("file:///srv/a?x=1"), ErrorKind::usage, "no query");
}

// --- file:// stores ----------------------------------------------------------------------------

TEST(PublishToStore, PublishesAVersionReadableThroughTheStore) {
  TempDir dir;
  fs::path kernel = write_kernel(dir.path() / "k");
  PushPlan plan = plan_for(kernel);
  Store store = open_store(dir.path() / "store");
  auto outcome = push_to_store(store, plan);
  ASSERT_TRUE(outcome) << outcome.error().message;
  EXPECT_TRUE(outcome->published.created);
  EXPECT_TRUE(outcome->published.moved_main);
  EXPECT_EQ(outcome->published.branch, "v1");
  EXPECT_EQ(outcome->published.tag, "v1.2.0");
  EXPECT_EQ(outcome->blobs_uploaded, 5u);
  EXPECT_EQ(outcome->blobs_present, 0u);
  EXPECT_EQ(outcome->bytes_uploaded, plan.total_bytes());

  for (const char* revision : {"v1", "v1.2.0", "main"}) {
    auto commit_id = store.resolve_revision("acme/demo", revision);
    ASSERT_TRUE(commit_id) << commit_id.error().message;
    EXPECT_EQ(*commit_id, outcome->published.commit) << revision;
  }
  auto commit = store.read_commit("acme/demo", outcome->published.commit);
  ASSERT_TRUE(commit) << commit.error().message;
  EXPECT_EQ(commit->version, "1.2.0");
  EXPECT_EQ(commit->message, "a message");
  ASSERT_EQ(commit->files.size(), plan.files.size());
  for (size_t i = 0; i < plan.files.size(); ++i) {
    const auto& stored = commit->files[i];
    EXPECT_EQ(stored.path, plan.files[i].path);
    EXPECT_EQ(stored.sha256, plan.files[i].sha256);
    EXPECT_EQ(stored.size, plan.files[i].size);
    EXPECT_EQ(read_file(store.blob_path(stored.sha256)), read_file(plan.files[i].source))
        << stored.path;
  }
  EXPECT_TRUE(store.fsck().ok());
}

TEST(PublishToStore, PushingTheSameVersionAgainChangesNothing) {
  TempDir dir;
  fs::path kernel = write_kernel(dir.path() / "k");
  PushPlan plan = plan_for(kernel);
  Store store = open_store(dir.path() / "store");
  auto first = push_to_store(store, plan);
  ASSERT_TRUE(first) << first.error().message;
  auto refs_before = read_file(dir.path() / "store/repos/acme/demo/refs.json");
  auto again = push_to_store(store, plan);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_FALSE(again->published.created);
  EXPECT_EQ(again->published.commit, first->published.commit);
  EXPECT_EQ(again->blobs_uploaded, 0u);
  EXPECT_EQ(again->blobs_present, 5u);
  EXPECT_EQ(read_file(dir.path() / "store/repos/acme/demo/refs.json"), refs_before);
}

TEST(PublishToStore, AConflictingVersionIsRefusedBeforeAnyBlobIsWritten) {
  TempDir dir;
  Store store = open_store(dir.path() / "store");
  ASSERT_TRUE(push_to_store(store, plan_for(write_kernel(dir.path() / "k1", "one"))));
  auto blobs_before = blob_files(dir.path() / "store");
  auto refs_before = read_file(dir.path() / "store/repos/acme/demo/refs.json");

  PushPlan other = plan_for(write_kernel(dir.path() / "k2", "two"));
  EXPECT_FAILS_WITH(push_to_store(store, other), ErrorKind::conflict,
                    "version 1.2.0 of acme/demo is already published");
  EXPECT_EQ(blob_files(dir.path() / "store"), blobs_before);
  EXPECT_EQ(read_file(dir.path() / "store/repos/acme/demo/refs.json"), refs_before);

  // Fewer files is a conflict too.
  PushPlan fewer = plan_for(dir.path() / "k1/build/kget1-cpu-x86_64-linux");
  EXPECT_FAILS_WITH(push_to_store(store, fewer), ErrorKind::conflict, "is missing");
}

TEST(PublishToStore, ANewVersionReusesTheBlobsAlreadyThere) {
  TempDir dir;
  fs::path kernel = write_kernel(dir.path() / "k");
  Store store = open_store(dir.path() / "store");
  auto first = push_to_store(store, plan_for(kernel, "1.2.0"));
  ASSERT_TRUE(first) << first.error().message;
  write_variant(kernel / "build", "kget1-cpu-x86_64-linux", {{"libdemo.so", "new build"}});
  auto second = push_to_store(store, plan_for(kernel, "1.3.0"));
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_TRUE(second->published.created);
  EXPECT_EQ(second->blobs_uploaded, 2u); // the new library and its metadata.json
  EXPECT_EQ(second->blobs_present, 3u);
  auto v1 = store.resolve_revision("acme/demo", "v1");
  ASSERT_TRUE(v1);
  EXPECT_EQ(*v1, second->published.commit);
  auto commit = store.read_commit("acme/demo", second->published.commit);
  ASSERT_TRUE(commit);
  EXPECT_EQ(commit->parents, std::vector<std::string>{first->published.commit});
}

TEST(PublishToStore, ContentSharedByVariantsIsCopiedOnce) {
  TempDir dir;
  write_variant(dir.path() / "k/build", "kget1-cpu-x86_64-linux", {{"libdemo.so", "same"}});
  write_variant(dir.path() / "k/build", "kget1-cpu-aarch64-linux", {{"libdemo.so", "same"}});
  Store store = open_store(dir.path() / "store");
  auto outcome = push_to_store(store, plan_for(dir.path() / "k"));
  ASSERT_TRUE(outcome) << outcome.error().message;
  EXPECT_EQ(outcome->blobs_uploaded, 2u);
  EXPECT_EQ(blob_files(dir.path() / "store").size(), 2u);
}

TEST(PublishToStore, PushCreatesTheStoreOnlyWhenThePlanIsGood) {
  TempDir dir;
  fs::path kernel = write_kernel(dir.path() / "k");
  auto destination = parse_destination("file://" + (dir.path() / "new-store").string());
  ASSERT_TRUE(destination);
  auto outcome = kget::publish::push(plan_for(kernel), *destination, "");
  ASSERT_TRUE(outcome) << outcome.error().message;
  EXPECT_TRUE(fs::exists(dir.path() / "new-store/kget-store.json"));
}

// --- the registry's push API, against a scripted server ----------------------------------------

// Answers the three calls of the push API the way kget-registry does, recording what it got.
class FakeRegistry {
public:
  std::set<std::string> blobs; // what the registry has
  std::optional<CannedResponse> refuse_upload;
  std::optional<CannedResponse> refuse_version;

  CannedResponse answer(const ReceivedRequest& request) {
    if (request.target == "/api/kget/v1/blobs/missing") {
      json missing = json::array();
      json asked = json::parse(request.body);
      for (const auto& digest : asked["sha256"]) {
        if (!blobs.contains(digest.get<std::string>())) {
          missing.push_back(digest);
        }
      }
      return {200, {}, json{{"missing", missing}}.dump()};
    }
    if (request.method == "PUT") {
      if (refuse_upload) {
        return *refuse_upload;
      }
      std::string digest = request.target.substr(request.target.rfind('/') + 1);
      bool had = !blobs.insert(digest).second;
      return {had ? 200 : 201, {}, json{{"sha256", digest}, {"size", request.body.size()}}.dump()};
    }
    if (refuse_version) {
      return *refuse_version;
    }
    return {201,
            {},
            json{{"commit", std::string(40, 'c')},
                 {"branch", "v1"},
                 {"tag", "v1.2.0"},
                 {"created", true},
                 {"movedMain", true}}
                .dump()};
  }
};

struct RegistryFixture {
  FakeRegistry registry;
  std::mutex mutex;
  LoopbackServer server{[this](const ReceivedRequest& request) {
    std::lock_guard lock(mutex);
    return registry.answer(request);
  }};
  kget::http::Client client = std::move(*kget::http::Client::create());
};

CannedResponse refusal(int status, const std::string& code, const std::string& message) {
  return {status,
          {{"X-Error-Code", code}, {"X-Error-Message", message}},
          json{{"error", message}}.dump()};
}

TEST(PublishToRegistry, UploadsOnlyMissingBlobsThenPostsTheVersion) {
  TempDir dir;
  PushPlan plan = plan_for(write_kernel(dir.path() / "k"));
  RegistryFixture fixture;
  fixture.registry.blobs.insert(plan.files[0].sha256); // the registry has one already
  auto outcome = push_to_registry(fixture.client, fixture.server.url("/"), "tok", plan);
  ASSERT_TRUE(outcome) << outcome.error().message;
  EXPECT_EQ(outcome->published.commit, std::string(40, 'c'));
  EXPECT_TRUE(outcome->published.created);
  EXPECT_TRUE(outcome->published.moved_main);
  EXPECT_EQ(outcome->blobs_uploaded, 4u);
  EXPECT_EQ(outcome->blobs_present, 1u);
  EXPECT_EQ(outcome->bytes_present, plan.files[0].size);

  auto requests = fixture.server.requests();
  ASSERT_EQ(requests.size(), 6u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].target, "/api/kget/v1/blobs/missing");
  EXPECT_EQ(json::parse(requests[0].body)["sha256"].size(), 5u);
  for (size_t i = 1; i <= 4; ++i) {
    EXPECT_EQ(requests[i].method, "PUT");
    std::string digest =
        requests[i].target.substr(std::string("/api/kget/v1/blobs/sha256/").size());
    EXPECT_EQ(kget::digest::sha256_hex(requests[i].body), digest);
    EXPECT_NE(digest, plan.files[0].sha256);
  }
  EXPECT_EQ(requests[5].target, "/api/kget/v1/repos/acme/demo/versions");
  json version = json::parse(requests[5].body);
  EXPECT_EQ(version["version"], "1.2.0");
  EXPECT_EQ(version["message"], "a message");
  ASSERT_EQ(version["files"].size(), plan.files.size());
  EXPECT_EQ(version["files"][0]["path"], plan.files[0].path);
  EXPECT_EQ(version["files"][0]["sha256"], plan.files[0].sha256);
  EXPECT_EQ(version["files"][0]["size"], plan.files[0].size);
  for (const auto& request : requests) {
    EXPECT_EQ(request.header("authorization"), "Bearer tok") << request.target;
  }
  EXPECT_EQ(fixture.server.connections(), 1);
}

TEST(PublishToRegistry, RefusalsBecomeTheirErrorKinds) {
  TempDir dir;
  PushPlan plan = plan_for(write_kernel(dir.path() / "k"));
  struct Case {
    CannedResponse response;
    bool on_upload;
    std::string token;
    ErrorKind kind;
    std::string text;
  };
  std::vector<Case> cases = {
      {refusal(401, "Unauthorized", "a token is required"), false, "", ErrorKind::permission,
       "set KGET_TOKEN or --token"},
      {refusal(403, "Forbidden", "bad token"), false, "wrong", ErrorKind::permission,
       "refused the token (403 Forbidden: bad token)"},
      {refusal(409, "VersionExists", "1.2.0 exists with other files"), false, "t",
       ErrorKind::conflict, "version 1.2.0 of acme/demo: 1.2.0 exists with other files"},
      {refusal(400, "InvalidVersion", "nope"), false, "t", ErrorKind::invalid_reference,
       "400 InvalidVersion: nope"},
      {refusal(400, "MissingBlob", "blob gone"), false, "t", ErrorKind::not_found, "blob gone"},
      {refusal(400, "InvalidPath", "bad path"), false, "t", ErrorKind::usage, "bad path"},
      {refusal(400, "DigestMismatch", "got other bytes"), true, "t", ErrorKind::integrity,
       "got other bytes"},
      {refusal(413, "PayloadTooLarge", "the limit is 1 GiB"), true, "t", ErrorKind::usage,
       "as too large (413 PayloadTooLarge: the limit is 1 GiB)"},
      {CannedResponse{503, {}, "{\"error\":\"overloaded\"}"}, false, "t", ErrorKind::network,
       "the registry answered 503: overloaded"},
      {CannedResponse{404, {}, "Not Found"}, false, "t", ErrorKind::not_found,
       "a kget-registry? kget push needs its push API"},
  };
  for (const auto& test : cases) {
    RegistryFixture fixture;
    (test.on_upload ? fixture.registry.refuse_upload : fixture.registry.refuse_version) =
        test.response;
    auto outcome = push_to_registry(fixture.client, fixture.server.url(""), test.token, plan);
    SCOPED_TRACE(test.text);
    EXPECT_FAILS_WITH(outcome, test.kind, test.text);
  }
}

TEST(PublishToRegistry, AnUnreachableRegistryIsANetworkError) {
  TempDir dir;
  PushPlan plan = plan_for(write_kernel(dir.path() / "k"));
  std::string url;
  {
    LoopbackServer gone([](const ReceivedRequest&) { return CannedResponse{}; });
    url = gone.url("");
  }
  auto client = kget::http::Client::create();
  ASSERT_TRUE(client);
  EXPECT_FAILS_WITH(push_to_registry(*client, url, "t", plan), ErrorKind::network,
                    url + "/api/kget/v1/blobs/missing");
}

TEST(PublishToRegistry, AnAnswerThatIsNotThePushApiIsRefused) {
  TempDir dir;
  PushPlan plan = plan_for(write_kernel(dir.path() / "k"));
  LoopbackServer html([](const ReceivedRequest&) {
    return CannedResponse{200, {}, "<html>hello</html>"};
  });
  auto client = kget::http::Client::create();
  ASSERT_TRUE(client);
  EXPECT_FAILS_WITH(push_to_registry(*client, html.url(""), "t", plan), ErrorKind::network,
                    "not a JSON object");
}

} // namespace
