// kget's push protocol against the real kget-registry: blobs/missing, blob uploads, versions,
// and every refusal (tokens, digests, sizes, paths, conflicts), with the store checked after each.
#include "store/store.hpp"
#include "test_registry_support.hpp"

#include <atomic>
#include <filesystem>
#include <gtest/gtest.h>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

namespace {

using namespace kget::registry::test_support;
using json = nlohmann::json;
namespace fs = std::filesystem;

const std::string k_token = "push-token-123";
const std::string k_auth = "Authorization: Bearer " + k_token;

class RegistryPush : public ::testing::Test {
protected:
  void SetUp() override {
    write_file(dir.path() / "tokens", "# who may push\n" + k_token + "\nsecond-token\n");
    server = std::make_unique<ServerProcess>(
        std::vector<std::string>{"--root", root().string(), "--listen", "127.0.0.1:0",
                                 "--token-file", (dir.path() / "tokens").string(),
                                 "--max-upload-size", "2M", "--threads", "3"},
        dir.path() / "stderr.log");
    ASSERT_TRUE(server->started()) << server->first_line() << read_file(dir.path() / "stderr.log");
  }

  void TearDown() override {
    EXPECT_EQ(server->stop(), 0) << read_file(dir.path() / "stderr.log");
    auto store = kget::store::Store::open(root());
    ASSERT_TRUE(store);
    auto report = store->fsck();
    EXPECT_TRUE(report.ok()) << (report.errors.empty() ? "" : report.errors.front());
  }

  fs::path root() const { return dir.path() / "store"; }
  kget::store::Store store() const { return kget::store::Store::open(root()).value(); }
  std::string url(const std::string& path) const { return server->url() + path; }

  bool tmp_is_empty() const {
    std::error_code error;
    return fs::is_empty(root() / "tmp", error);
  }

  HttpResponse put_blob(const std::string& content, std::string digest = "",
                        std::vector<std::string> headers = {k_auth}, bool chunked = false) {
    if (digest.empty()) {
      digest = sha256_of(content);
    }
    return client.perform(
        {"PUT", url("/api/kget/v1/blobs/sha256/" + digest), std::move(headers), content, chunked});
  }

  HttpResponse post(const std::string& path, const std::string& body,
                    std::vector<std::string> headers = {k_auth}) {
    headers.push_back("Content-Type: application/json");
    return client.perform({"POST", url(path), std::move(headers), body, false});
  }

  HttpResponse publish(const std::string& repo, const json& body) {
    return post("/api/kget/v1/repos/" + repo + "/versions", body.dump());
  }

  static json file_entry(const std::string& path, const std::string& content) {
    return {{"path", path}, {"sha256", sha256_of(content)}, {"size", content.size()}};
  }

  static void expect_error(const HttpResponse& response, long status, const std::string& code) {
    EXPECT_EQ(response.status, status) << response.body;
    EXPECT_EQ(response.header("x-error-code"), code) << response.body;
    EXPECT_FALSE(response.header("x-error-message").empty());
    auto body = json::parse(response.body, nullptr, false);
    EXPECT_TRUE(body.is_object() && body.contains("error")) << response.body;
  }

  TempDir dir;
  std::unique_ptr<ServerProcess> server;
  HttpClient client;
};

// --- blobs -----------------------------------------------------------------------------------

TEST_F(RegistryPush, UploadStoresTheBlobOnce) {
  std::string content = random_bytes(1536 * 1024, 7); // several reads, and Expect: 100-continue
  auto created = put_blob(content);
  ASSERT_EQ(created.status, 201) << created.body;
  auto body = json::parse(created.body);
  EXPECT_EQ(body["sha256"], sha256_of(content));
  EXPECT_EQ(body["size"], content.size());
  EXPECT_TRUE(store().has_blob(sha256_of(content)));
  EXPECT_TRUE(read_file(store().blob_path(sha256_of(content))) == content);

  auto again = put_blob(content);
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(json::parse(again.body)["sha256"], sha256_of(content));
  EXPECT_TRUE(tmp_is_empty());
}

TEST_F(RegistryPush, ChunkedUploadAndEmptyBlob) {
  std::string content = random_bytes(300 * 1024, 8);
  auto chunked = put_blob(content, "", {k_auth}, true);
  ASSERT_EQ(chunked.status, 201) << chunked.body;
  EXPECT_TRUE(store().has_blob(sha256_of(content)));
  auto empty = put_blob("");
  ASSERT_EQ(empty.status, 201) << empty.body;
  EXPECT_EQ(json::parse(empty.body)["size"], 0);
  EXPECT_TRUE(store().has_blob(sha256_of("")));
}

TEST_F(RegistryPush, DigestMismatchStoresNothing) {
  std::string content = "these are not the bytes you named\n";
  std::string named = sha256_of("other bytes");
  auto response = put_blob(content, named);
  expect_error(response, 400, "DigestMismatch");
  EXPECT_NE(response.header("x-error-message").find(named), std::string::npos);
  EXPECT_NE(response.header("x-error-message").find(sha256_of(content)), std::string::npos);
  EXPECT_FALSE(store().has_blob(named));
  EXPECT_FALSE(store().has_blob(sha256_of(content)));
  EXPECT_TRUE(tmp_is_empty());

  // The same for a digest the store already holds.
  ASSERT_EQ(put_blob("other bytes").status, 201);
  expect_error(put_blob(content, named), 400, "DigestMismatch");
  EXPECT_TRUE(read_file(store().blob_path(named)) == "other bytes");
}

TEST_F(RegistryPush, InvalidDigestInTheUrl) {
  expect_error(put_blob("x", "not-a-digest"), 400, "InvalidDigest");
  expect_error(put_blob("x", std::string(64, 'A')), 400, "InvalidDigest");
  expect_error(put_blob("x", "..%2F..%2Fetc%2Fpasswd"), 400, "InvalidDigest");
}

TEST_F(RegistryPush, UploadsOverTheLimitAreRefused) {
  std::string content = random_bytes(3 << 20, 9);
  auto declared = put_blob(content);
  expect_error(declared, 413, "PayloadTooLarge");
  EXPECT_FALSE(store().has_blob(sha256_of(content)));

  auto chunked = put_blob(content, "", {k_auth}, true);
  expect_error(chunked, 413, "PayloadTooLarge");
  EXPECT_FALSE(store().has_blob(sha256_of(content)));
  EXPECT_TRUE(eventually([&] { return tmp_is_empty(); }));

  // Exactly the limit is fine.
  std::string at_limit = random_bytes(2 << 20, 10);
  EXPECT_EQ(put_blob(at_limit).status, 201);
}

// A client that disconnects mid-upload: RegistryEventLoop.ClientDisconnectingMidUploadLeavesNothing
// (test_registry_process.cpp), under both event loops.

TEST_F(RegistryPush, MissingBlobsListsTheAbsentOnes) {
  ASSERT_EQ(put_blob("present").status, 201);
  std::string absent = sha256_of("absent");
  json request = {{"sha256", {sha256_of("present"), absent, absent}}};
  auto response = post("/api/kget/v1/blobs/missing", request.dump());
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(json::parse(response.body), json({{"missing", {absent}}}));

  auto none = post("/api/kget/v1/blobs/missing", R"({"sha256":[]})");
  ASSERT_EQ(none.status, 200);
  EXPECT_EQ(json::parse(none.body)["missing"].size(), 0u);
}

TEST_F(RegistryPush, MissingBlobsRefusesMalformedBodies) {
  expect_error(post("/api/kget/v1/blobs/missing", "{not json"), 400, "MalformedJSON");
  expect_error(post("/api/kget/v1/blobs/missing", "[]"), 400, "MalformedJSON");
  expect_error(post("/api/kget/v1/blobs/missing", R"({"sha256":"abc"})"), 400, "MalformedJSON");
  expect_error(post("/api/kget/v1/blobs/missing", ""), 400, "MalformedJSON");
  expect_error(post("/api/kget/v1/blobs/missing", R"({"sha256":["abc"]})"), 400, "InvalidDigest");
  expect_error(post("/api/kget/v1/blobs/missing", R"({"sha256":[12]})"), 400, "InvalidDigest");
  json upper = {{"sha256", {std::string(64, 'F')}}};
  expect_error(post("/api/kget/v1/blobs/missing", upper.dump()), 400, "InvalidDigest");
}

// --- access ----------------------------------------------------------------------------------

TEST_F(RegistryPush, EveryRouteWantsAValidToken) {
  std::string digest = sha256_of("x");
  struct Route {
    std::string method;
    std::string path;
    std::string body;
  };
  std::vector<Route> routes = {
      {"POST", "/api/kget/v1/blobs/missing", R"({"sha256":[]})"},
      {"PUT", "/api/kget/v1/blobs/sha256/" + digest, "x"},
      {"POST", "/api/kget/v1/repos/acme/relu/versions", R"({"version":"1.0.0","files":[]})"}};
  for (const auto& route : routes) {
    auto anonymous = client.perform({route.method, url(route.path), {}, route.body, false});
    expect_error(anonymous, 401, "Unauthorized");
    EXPECT_EQ(anonymous.header("www-authenticate"), "Bearer") << route.path;

    auto basic = client.perform(
        {route.method, url(route.path), {"Authorization: Basic dXNlcjpwYXNz"}, route.body, false});
    expect_error(basic, 401, "Unauthorized");

    auto wrong = client.perform(
        {route.method, url(route.path), {"Authorization: Bearer wrong"}, route.body, false});
    expect_error(wrong, 403, "Forbidden");

    auto prefix = client.perform({route.method,
                                  url(route.path),
                                  {"Authorization: Bearer " + k_token.substr(0, 5)},
                                  route.body,
                                  false});
    expect_error(prefix, 403, "Forbidden");
  }
  EXPECT_FALSE(store().has_blob(digest));
  // The second token of the file works too, with the scheme in any case.
  EXPECT_EQ(put_blob("x", "", {"Authorization: bearer second-token"}).status, 201);
}

TEST_F(RegistryPush, RefusedBodiesAreReadSoTheConnectionStays) {
  // Without Expect: 100-continue the client sends the body at once; the server reads it, answers,
  // and keeps the connection.
  HttpClient fresh;
  std::string body(300000, 'x');
  auto refused = fresh.perform({"PUT",
                                url("/api/kget/v1/blobs/sha256/" + sha256_of(body)),
                                {"Expect:", "Authorization: Bearer wrong"},
                                body,
                                false});
  expect_error(refused, 403, "Forbidden");
  auto next = fresh.perform({"POST",
                             url("/api/kget/v1/blobs/missing"),
                             {"Expect:", k_auth},
                             std::string(R"({"sha256":[]})"),
                             false});
  EXPECT_EQ(next.status, 200) << next.body;
  EXPECT_EQ(next.new_connections, 0);
  auto wrong_method = fresh.perform(
      {"POST", url("/api/kernels/acme/relu"), {"Expect:"}, std::string(5000, 'y'), false});
  EXPECT_EQ(wrong_method.status, 405);
  EXPECT_EQ(fresh.get(url("/api/kernels/acme/relu")).new_connections, 0);

  // With Expect: 100-continue the refusal comes before the body is sent.
  std::string big = random_bytes(3 << 20, 21);
  auto early = fresh.perform({"PUT",
                              url("/api/kget/v1/blobs/sha256/" + sha256_of(big)),
                              {"Expect: 100-continue", k_auth},
                              big,
                              false});
  expect_error(early, 413, "PayloadTooLarge");
}

TEST_F(RegistryPush, PushRoutesCheckMethodsAndPaths) {
  auto get = client.get(url("/api/kget/v1/blobs/missing"), {k_auth});
  expect_error(get, 405, "MethodNotAllowed");
  EXPECT_EQ(get.header("allow"), "POST");
  expect_error(client.get(url("/api/kget/v1/nothing"), {k_auth}), 404, "NotFound");
  expect_error(client.get(url("/api/kget/v2/blobs/missing"), {k_auth}), 404, "NotFound");
}

TEST(RegistryPushDisabled, WithoutATokenFilePushesAreRefused) {
  TempDir dir;
  ServerProcess server({"--root", (dir.path() / "store").string(), "--listen", "127.0.0.1:0"},
                       dir.path() / "stderr.log");
  ASSERT_TRUE(server.started()) << server.first_line();
  HttpClient client;
  auto response = client.perform({"PUT",
                                  server.url() + "/api/kget/v1/blobs/sha256/" + sha256_of("x"),
                                  {"Authorization: Bearer anything"},
                                  std::string("x"),
                                  false});
  EXPECT_EQ(response.status, 403);
  EXPECT_EQ(response.header("x-error-code"), "Forbidden");
  EXPECT_NE(response.header("x-error-message").find("--token-file"), std::string::npos);
  auto anonymous = client.perform({"POST",
                                   server.url() + "/api/kget/v1/blobs/missing",
                                   {},
                                   std::string(R"({"sha256":[]})"),
                                   false});
  EXPECT_EQ(anonymous.status, 403);
  EXPECT_EQ(server.stop(), 0);
}

// --- versions --------------------------------------------------------------------------------

TEST_F(RegistryPush, PublishThenReadBackOverTheHubApi) {
  std::string metadata = "{\"name\":\"relu\"}\n";
  std::string library = random_bytes(500000, 12);
  ASSERT_EQ(put_blob(metadata).status, 201);
  ASSERT_EQ(put_blob(library).status, 201);
  json body = {{"version", "1.0.0"},
               {"message", "first"},
               {"files",
                {file_entry("build/kget1-cpu-x86_64-linux/metadata.json", metadata),
                 file_entry("build/kget1-cpu-x86_64-linux/librelu.so", library)}}};
  auto created = publish("acme/relu", body);
  ASSERT_EQ(created.status, 201) << created.body;
  auto result = json::parse(created.body);
  EXPECT_EQ(result["branch"], "v1");
  EXPECT_EQ(result["tag"], "v1.0.0");
  EXPECT_EQ(result["created"], true);
  EXPECT_EQ(result["movedMain"], true);
  std::string commit = result["commit"];
  EXPECT_EQ(commit.size(), 40u);

  auto info = client.get(url("/api/kernels/acme/relu/revision/v1.0.0"));
  ASSERT_EQ(info.status, 200);
  EXPECT_EQ(json::parse(info.body)["sha"], commit);
  auto file = client.get(url("/kernels/acme/relu/resolve/v1/build/kget1-cpu-x86_64-linux/"
                             "librelu.so"));
  ASSERT_EQ(file.status, 200);
  EXPECT_TRUE(file.body == library);
  EXPECT_EQ(file.header("x-repo-commit"), commit);

  // The same version with the same files again: nothing changes.
  auto again = publish("acme/relu", body);
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(json::parse(again.body)["created"], false);
  EXPECT_EQ(json::parse(again.body)["commit"], commit);

  // The same version with other files: a conflict.
  body["files"][0] = file_entry("build/kget1-cpu-x86_64-linux/metadata.json", library);
  expect_error(publish("acme/relu", body), 409, "VersionExists");

  // A lower major does not move main.
  ASSERT_EQ(
      publish("acme/relu", {{"version", "2.0.0"}, {"files", {file_entry("README.md", metadata)}}})
          .status,
      201);
  auto older =
      publish("acme/relu", {{"version", "1.1.0"}, {"files", {file_entry("README.md", metadata)}}});
  ASSERT_EQ(older.status, 201);
  EXPECT_EQ(json::parse(older.body)["movedMain"], false);
}

TEST_F(RegistryPush, PublishRefusesMalformedRequests) {
  std::string content = "content\n";
  ASSERT_EQ(put_blob(content).status, 201);
  json good_file = file_entry("README.md", content);
  const std::string versions = "/api/kget/v1/repos/acme/relu/versions";

  expect_error(post(versions, "{"), 400, "MalformedJSON");
  expect_error(post(versions, "[]"), 400, "MalformedJSON");
  expect_error(post(versions, std::string("{\"version\":\"1.0.0\",\"files\":[],\"x\":\"\xff\"}")),
               400, "MalformedJSON");
  expect_error(publish("acme/relu", {{"files", {good_file}}}), 400, "MalformedJSON");
  expect_error(publish("acme/relu", {{"version", 1}, {"files", {good_file}}}), 400,
               "MalformedJSON");
  expect_error(publish("acme/relu", {{"version", "1.0.0"}}), 400, "MalformedJSON");
  expect_error(publish("acme/relu", {{"version", "1.0.0"}, {"files", json::array()}}), 400,
               "MalformedJSON");
  expect_error(publish("acme/relu", {{"version", "1.0.0"}, {"files", {"README.md"}}}), 400,
               "MalformedJSON");
  json negative = good_file;
  negative["size"] = -1;
  expect_error(publish("acme/relu", {{"version", "1.0.0"}, {"files", {negative}}}), 400,
               "MalformedJSON");
  json text_size = good_file;
  text_size["size"] = "8";
  expect_error(publish("acme/relu", {{"version", "1.0.0"}, {"files", {text_size}}}), 400,
               "MalformedJSON");
  expect_error(publish("acme/relu", {{"version", "1.0.0"}, {"message", 3}, {"files", {good_file}}}),
               400, "MalformedJSON");

  for (const char* version : {"1.0", "v1.0.0", "01.0.0", "1.0.0-", ""}) {
    expect_error(publish("acme/relu", {{"version", version}, {"files", {good_file}}}), 400,
                 "InvalidVersion");
  }

  for (const std::string repo : {"acme/bad..name", "acme/has%20space", "acme/-x.git"}) {
    expect_error(post("/api/kget/v1/repos/" + repo + "/versions",
                      json({{"version", "1.0.0"}, {"files", {good_file}}}).dump()),
                 400, "InvalidRepoName");
  }

  for (const std::string& path :
       {std::string("../escape"), std::string("a/../../b"), std::string("/etc/passwd"),
        std::string("build\\x.so"), std::string("a\0b", 3), std::string("a//b"), std::string(""),
        std::string("a/./b"), std::string("trailing/")}) {
    json file = good_file;
    file["path"] = path;
    auto response = publish("acme/relu", {{"version", "1.0.0"}, {"files", {file}}});
    expect_error(response, 400, "InvalidPath");
  }
  // NUL written as \u0000 in the JSON text.
  std::string nul_body = std::string("{\"version\":\"1.0.0\",\"files\":[{\"path\":\"a\\u0000b\",") +
                         "\"sha256\":\"" + sha256_of(content) + "\",\"size\":8}]}";
  expect_error(post(versions, nul_body), 400, "InvalidPath");

  expect_error(publish("acme/relu", {{"version", "1.0.0"}, {"files", {good_file, good_file}}}), 400,
               "InvalidPath");
  json nested = file_entry("README.md/inner", content);
  expect_error(publish("acme/relu", {{"version", "1.0.0"}, {"files", {good_file, nested}}}), 400,
               "InvalidPath");

  json bad_digest = good_file;
  bad_digest["sha256"] = "xyz";
  expect_error(publish("acme/relu", {{"version", "1.0.0"}, {"files", {bad_digest}}}), 400,
               "InvalidDigest");

  json missing = file_entry("build/x.so", "never uploaded");
  auto missing_response =
      publish("acme/relu", {{"version", "1.0.0"}, {"files", {good_file, missing}}});
  expect_error(missing_response, 400, "MissingBlob");
  EXPECT_NE(missing_response.header("x-error-message").find("build/x.so"), std::string::npos);
  EXPECT_NE(missing_response.header("x-error-message").find(sha256_of("never uploaded")),
            std::string::npos);

  json wrong_size = good_file;
  wrong_size["size"] = 9999;
  expect_error(publish("acme/relu", {{"version", "1.0.0"}, {"files", {wrong_size}}}), 400,
               "SizeMismatch");

  // None of it published anything.
  EXPECT_FALSE(store().has_repo("acme/relu"));
  auto refs = client.get(url("/api/kernels/acme/relu/refs"));
  EXPECT_EQ(refs.status, 404);
}

TEST_F(RegistryPush, JsonBodiesHaveALimit) {
  std::string huge(17u << 20, ' ');
  huge[0] = '{';
  huge.back() = '}';
  expect_error(post("/api/kget/v1/blobs/missing", huge), 413, "PayloadTooLarge");
  auto chunked =
      client.perform({"POST", url("/api/kget/v1/repos/acme/relu/versions"), {k_auth}, huge, true});
  expect_error(chunked, 413, "PayloadTooLarge");
}

TEST_F(RegistryPush, ConcurrentPushesOfTwoVersionsBothLand) {
  constexpr int versions = 6;
  std::vector<std::thread> threads;
  std::vector<long> statuses(versions, 0);
  for (int i = 0; i < versions; ++i) {
    threads.emplace_back([&, i] {
      HttpClient own;
      std::string content = random_bytes(100000 + static_cast<size_t>(i), 100 + i);
      auto uploaded = own.perform({"PUT",
                                   url("/api/kget/v1/blobs/sha256/" + sha256_of(content)),
                                   {k_auth},
                                   content,
                                   false});
      if (uploaded.status != 201) {
        return;
      }
      json body = {{"version", "1." + std::to_string(i) + ".0"},
                   {"files", {file_entry("build/kget1-cpu-x86_64-linux/librelu.so", content)}}};
      auto published = own.perform({"POST",
                                    url("/api/kget/v1/repos/acme/relu/versions"),
                                    {k_auth, "Content-Type: application/json"},
                                    body.dump(),
                                    false});
      statuses[static_cast<size_t>(i)] = published.status;
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  for (int i = 0; i < versions; ++i) {
    EXPECT_EQ(statuses[static_cast<size_t>(i)], 201) << "version 1." << i << ".0";
  }
  auto refs = json::parse(client.get(url("/api/kernels/acme/relu/refs")).body);
  EXPECT_EQ(refs["tags"].size(), static_cast<size_t>(versions));
  std::string main_commit;
  std::string v1_commit;
  for (const auto& branch : refs["branches"]) {
    (branch["name"] == "main" ? main_commit : v1_commit) = branch["targetCommit"];
  }
  std::string highest;
  for (const auto& tag : refs["tags"]) {
    if (tag["name"] == "v1." + std::to_string(versions - 1) + ".0") {
      highest = tag["targetCommit"];
    }
  }
  EXPECT_EQ(main_commit, highest);
  EXPECT_EQ(v1_commit, highest);
}

} // namespace
