// The Hub read routes of the real kget-registry, over HTTP: repository info, refs, tree, resolve,
// organization overview, and the errors of each.
#include "store/store.hpp"
#include "test_registry_support.hpp"

#include <gtest/gtest.h>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

namespace {

using namespace kget::registry::test_support;
using json = nlohmann::json;

class RegistryReads : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    s_dir = std::make_unique<TempDir>();
    s_fixture = std::make_unique<FixtureStore>(
        build_fixture_store(s_dir->path() / "store", s_dir->path() / "scratch"));
    s_server = std::make_unique<ServerProcess>(
        std::vector<std::string>{"--root", (s_dir->path() / "store").string(), "--listen",
                                 "127.0.0.1:0", "--tree-page-size", "3", "--trusted-org",
                                 "trusted-org", "--threads", "2"},
        s_dir->path() / "stderr.log");
  }

  static void TearDownTestSuite() {
    std::string rest;
    EXPECT_EQ(s_server->stop(&rest), 0) << read_file(s_dir->path() / "stderr.log");
    EXPECT_NE(rest.find("stopped"), std::string::npos) << rest;
    s_server.reset();
    s_fixture.reset();
    s_dir.reset();
  }

  void SetUp() override {
    ASSERT_TRUE(s_server->started())
        << s_server->first_line() << read_file(s_dir->path() / "stderr.log");
  }

  static std::string url(const std::string& path) { return s_server->url() + path; }
  static const FixtureStore& fixture() { return *s_fixture; }

  static void expect_error(const HttpResponse& response, long status, const std::string& code) {
    EXPECT_EQ(response.status, status) << response.body;
    EXPECT_EQ(response.header("x-error-code"), code) << response.body;
    EXPECT_FALSE(response.header("x-error-message").empty());
    if (!response.body.empty()) {
      auto body = json::parse(response.body, nullptr, false);
      ASSERT_TRUE(body.is_object()) << response.body;
      EXPECT_TRUE(body.contains("error"));
    }
  }

  // Every page of a tree listing, following Link until there is none.
  static std::vector<json> all_pages(const std::string& first_url, size_t* pages = nullptr) {
    HttpClient client;
    std::vector<json> entries;
    std::string next = first_url;
    size_t count = 0;
    while (!next.empty()) {
      auto response = client.get(next);
      EXPECT_EQ(response.status, 200) << next << ": " << response.body;
      if (response.status != 200 || ++count > 100) {
        break;
      }
      for (const auto& entry : json::parse(response.body)) {
        entries.push_back(entry);
      }
      next.clear();
      std::string link = response.header("link");
      if (!link.empty()) {
        EXPECT_EQ(link.front(), '<');
        EXPECT_NE(link.find(">; rel=\"next\""), std::string::npos) << link;
        next = link.substr(1, link.find('>') - 1);
        EXPECT_EQ(next.rfind("http://127.0.0.1:", 0), 0u) << "absolute: " << next;
      }
    }
    if (pages != nullptr) {
      *pages = count;
    }
    return entries;
  }

  static std::unique_ptr<TempDir> s_dir;
  static std::unique_ptr<FixtureStore> s_fixture;
  static std::unique_ptr<ServerProcess> s_server;
  HttpClient client;
};

std::unique_ptr<TempDir> RegistryReads::s_dir;
std::unique_ptr<FixtureStore> RegistryReads::s_fixture;
std::unique_ptr<ServerProcess> RegistryReads::s_server;

// --- repository info -------------------------------------------------------------------------

TEST_F(RegistryReads, RepoInfoAtMainHasTheHubFields) {
  for (const std::string family : {"models", "kernels"}) {
    auto response = client.get(url("/api/" + family + "/acme/relu"));
    ASSERT_EQ(response.status, 200) << response.body;
    EXPECT_EQ(response.header("content-type"), "application/json");
    auto info = json::parse(response.body);
    EXPECT_EQ(info["id"], "acme/relu");
    EXPECT_EQ(info["author"], "acme");
    EXPECT_EQ(info["sha"], fixture().commit_v2_0_0);
    EXPECT_EQ(info["private"], false);
    EXPECT_EQ(info["gated"], false);
    EXPECT_EQ(info["disabled"], false);
    EXPECT_EQ(info["downloads"], 0);
    EXPECT_EQ(info["likes"], 0);
    EXPECT_TRUE(info["tags"].is_array());
    std::string modified = info["lastModified"];
    EXPECT_EQ(modified.size(), 24u) << modified; // 2026-11-21T12:00:00.000Z
    EXPECT_EQ(modified.back(), 'Z');
    std::set<std::string> names;
    for (const auto& sibling : info["siblings"]) {
      names.insert(sibling["rfilename"].get<std::string>());
    }
    std::set<std::string> expected;
    for (const auto& [path, content] : fixture().contents) {
      expected.insert(path);
    }
    EXPECT_EQ(names, expected);
  }
}

TEST_F(RegistryReads, RepoInfoByBranchTagCommitAndEncodedRef) {
  struct Case {
    std::string revision;
    std::string commit;
  };
  for (const Case& c : std::vector<Case>{{"v1", fixture().commit_v1_1_0},
                                         {"v1.0.0", fixture().commit_v1_0_0},
                                         {"v2.0.0", fixture().commit_v2_0_0},
                                         {fixture().commit_v1_0_0, fixture().commit_v1_0_0},
                                         {"refs%2Fheads%2Fv1", fixture().commit_v1_1_0},
                                         {"refs%2Ftags%2Fv1.0.0", fixture().commit_v1_0_0},
                                         {"refs/heads/v1", fixture().commit_v1_1_0}}) {
    auto response = client.get(url("/api/kernels/acme/relu/revision/" + c.revision));
    ASSERT_EQ(response.status, 200) << c.revision << ": " << response.body;
    EXPECT_EQ(json::parse(response.body)["sha"], c.commit) << c.revision;
  }
}

TEST_F(RegistryReads, RepoInfoErrors) {
  expect_error(client.get(url("/api/models/acme/nothing")), 404, "RepoNotFound");
  expect_error(client.get(url("/api/kernels/nobody/relu/revision/main")), 404, "RepoNotFound");
  expect_error(client.get(url("/api/kernels/acme/relu/revision/v9")), 404, "RevisionNotFound");
  expect_error(client.get(url("/api/kernels/acme/relu/revision/" + std::string(40, 'a'))), 404,
               "RevisionNotFound");
  expect_error(client.get(url("/api/models/..%2F..%2Fetc/passwd")), 404, "RepoNotFound");
  expect_error(client.get(url("/api/models/acme/relu%00")), 404, "RepoNotFound");
}

// --- refs ------------------------------------------------------------------------------------

TEST_F(RegistryReads, RefsListBranchesTagsAndConverts) {
  for (const std::string family : {"models", "kernels"}) {
    auto response = client.get(url("/api/" + family + "/acme/relu/refs"));
    ASSERT_EQ(response.status, 200) << response.body;
    auto refs = json::parse(response.body);
    EXPECT_TRUE(refs["converts"].is_array());
    EXPECT_TRUE(refs["converts"].empty());
    EXPECT_FALSE(refs.contains("pullRequests"));
    std::map<std::string, std::string> branches;
    for (const auto& branch : refs["branches"]) {
      EXPECT_EQ(branch["ref"], "refs/heads/" + branch["name"].get<std::string>());
      branches[branch["name"]] = branch["targetCommit"];
    }
    EXPECT_EQ(branches, (std::map<std::string, std::string>{{"main", fixture().commit_v2_0_0},
                                                            {"v1", fixture().commit_v1_1_0},
                                                            {"v2", fixture().commit_v2_0_0}}));
    std::map<std::string, std::string> tags;
    for (const auto& tag : refs["tags"]) {
      EXPECT_EQ(tag["ref"], "refs/tags/" + tag["name"].get<std::string>());
      tags[tag["name"]] = tag["targetCommit"];
    }
    EXPECT_EQ(tags, (std::map<std::string, std::string>{{"v1.0.0", fixture().commit_v1_0_0},
                                                        {"v1.1.0", fixture().commit_v1_1_0},
                                                        {"v2.0.0", fixture().commit_v2_0_0}}));
  }
  auto with_prs = json::parse(client.get(url("/api/kernels/acme/relu/refs?include_prs=1")).body);
  EXPECT_TRUE(with_prs["pullRequests"].is_array());
  expect_error(client.get(url("/api/kernels/acme/none/refs")), 404, "RepoNotFound");
}

// --- tree ------------------------------------------------------------------------------------

TEST_F(RegistryReads, TreeRootIsNonRecursiveByDefault) {
  auto entries = all_pages(url("/api/kernels/acme/relu/tree/main"));
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0]["type"], "directory");
  EXPECT_EQ(entries[0]["path"], "build");
  EXPECT_EQ(entries[0]["size"], 0);
  EXPECT_EQ(entries[0]["oid"].get<std::string>().size(), 40u);
  EXPECT_EQ(entries[1]["type"], "file");
  EXPECT_EQ(entries[1]["path"], "README.md");
}

TEST_F(RegistryReads, TreeOfBuildListsTheVariants) {
  // `kernels` sends "build" as is; huggingface_hub sends sub-paths quoted with safe="".
  for (const std::string path : {"build", "build%2F"}) {
    auto entries = all_pages(url("/api/kernels/acme/relu/tree/main/" + path + "?recursive=false"));
    ASSERT_EQ(entries.size(), 2u) << path;
    EXPECT_EQ(entries[0]["path"], "build/kget1-cpu-x86_64-linux");
    EXPECT_EQ(entries[1]["path"], "build/kget1-cu130-x86_64-linux");
    EXPECT_EQ(entries[0]["type"], "directory");
  }
  // A variant folder sent as one %2F-encoded segment, and at an older tag.
  auto variant =
      all_pages(url("/api/kernels/acme/relu/tree/v1.0.0/build%2Fkget1-cpu-x86_64-linux"));
  ASSERT_EQ(variant.size(), 2u);
  EXPECT_EQ(variant[0]["path"], fixture().big_path);
  EXPECT_EQ(variant[1]["path"], fixture().text_path);
}

TEST_F(RegistryReads, TreeFileEntriesCarryOidsAndLfs) {
  auto entries = all_pages(url("/api/models/acme/relu/tree/main?recursive=True&expand=False"));
  std::map<std::string, json> files;
  for (const auto& entry : entries) {
    if (entry["type"] == "file") {
      files[entry["path"]] = entry;
    }
  }
  ASSERT_EQ(files.size(), fixture().contents.size());
  auto store = kget::store::Store::open(fixture().root).value();
  auto commit = store.read_commit("acme/relu", fixture().commit_v2_0_0).value();

  const json& big = files.at(fixture().big_path);
  const auto* big_entry = commit.find(fixture().big_path);
  ASSERT_NE(big_entry, nullptr);
  EXPECT_EQ(big["size"], fixture().contents.at(fixture().big_path).size());
  EXPECT_EQ(big["oid"], big_entry->git_oid);
  ASSERT_TRUE(big.contains("lfs"));
  EXPECT_EQ(big["lfs"]["oid"], sha256_of(fixture().contents.at(fixture().big_path)));
  EXPECT_EQ(big["lfs"]["size"], big["size"]);
  EXPECT_EQ(big["lfs"]["pointerSize"],
            kget::store::lfs_pointer(big_entry->sha256, big_entry->size).size());
  EXPECT_FALSE(big.contains("xetHash"));

  const json& text = files.at(fixture().text_path);
  EXPECT_FALSE(text.contains("lfs"));
  EXPECT_EQ(text["oid"], commit.find(fixture().text_path)->git_oid);
  EXPECT_EQ(text["size"], fixture().contents.at(fixture().text_path).size());
}

TEST_F(RegistryReads, TreePaginationFollowsAbsoluteLinks) {
  size_t pages = 0;
  auto entries = all_pages(url("/api/kernels/acme/relu/tree/main?recursive=true"), &pages);
  // 6 files and 4 folders (build, two variants, include) in pages of 3.
  std::set<std::string> files;
  std::set<std::string> all;
  for (const auto& entry : entries) {
    all.insert(entry["path"].get<std::string>());
    if (entry["type"] == "file") {
      files.insert(entry["path"].get<std::string>());
    }
  }
  EXPECT_EQ(all.size(), entries.size()) << "no entry twice";
  std::set<std::string> expected;
  for (const auto& [path, content] : fixture().contents) {
    expected.insert(path);
  }
  EXPECT_EQ(files, expected);
  EXPECT_EQ(pages, (entries.size() + 2) / 3);
  EXPECT_GT(pages, 1u);

  // The Link keeps recursive and expand, and names the commit.
  auto first = client.get(url("/api/kernels/acme/relu/tree/main?recursive=true&expand=false"));
  std::string link = first.header("link");
  EXPECT_NE(link.find("/api/kernels/acme/relu/tree/" + fixture().commit_v2_0_0), std::string::npos)
      << link;
  EXPECT_NE(link.find("recursive=true"), std::string::npos) << link;
  EXPECT_NE(link.find("expand=false"), std::string::npos) << link;
  EXPECT_NE(link.find("cursor=3"), std::string::npos) << link;

  // A sub-path keeps its encoding in the link.
  auto sub = client.get(url("/api/kernels/acme/relu/tree/main/build%2Fkget1-cu130-x86_64-linux"
                            "?recursive=1"));
  EXPECT_NE(sub.header("link").find("/tree/" + fixture().commit_v2_0_0 +
                                    "/build%2Fkget1-cu130-x86_64-linux?recursive=true"),
            std::string::npos)
      << sub.header("link");
  auto sub_all = all_pages(url("/api/kernels/acme/relu/tree/main/build%2Fkget1-cu130-x86_64-linux"
                               "?recursive=1"));
  EXPECT_EQ(sub_all.size(), 4u); // metadata.json, librelu.so, include/, include/relu.h
}

TEST_F(RegistryReads, TreeLimitAndBadCursor) {
  auto limited = client.get(url("/api/kernels/acme/relu/tree/main?recursive=true&limit=2"));
  ASSERT_EQ(limited.status, 200);
  EXPECT_EQ(json::parse(limited.body).size(), 2u);
  EXPECT_NE(limited.header("link").find("limit=2"), std::string::npos);
  auto beyond = client.get(url("/api/kernels/acme/relu/tree/main?recursive=true&cursor=999"));
  ASSERT_EQ(beyond.status, 200);
  EXPECT_EQ(json::parse(beyond.body).size(), 0u);
  EXPECT_FALSE(beyond.has_header("link"));
  expect_error(client.get(url("/api/kernels/acme/relu/tree/main?cursor=abc")), 400, "BadRequest");
}

TEST_F(RegistryReads, TreeErrors) {
  auto missing = client.get(url("/api/kernels/acme/relu/tree/main/build%2Fnothing"));
  expect_error(missing, 404, "EntryNotFound");
  EXPECT_EQ(missing.header("x-repo-commit"), fixture().commit_v2_0_0);
  expect_error(client.get(url("/api/kernels/acme/relu/tree/v7")), 404, "RevisionNotFound");
  expect_error(client.get(url("/api/kernels/acme/nothing/tree/main")), 404, "RepoNotFound");
  // A file path lists that file alone.
  auto file = client.get(url("/api/kernels/acme/relu/tree/main/README.md"));
  ASSERT_EQ(file.status, 200);
  auto entries = json::parse(file.body);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0]["path"], "README.md");
}

TEST_F(RegistryReads, FolderOidsAreDeterministicAndFollowContent) {
  auto oid_of = [&](const std::string& revision, const std::string& folder) {
    for (const auto& entry :
         all_pages(url("/api/kernels/acme/relu/tree/" + revision + "?recursive=true"))) {
      if (entry["path"] == folder) {
        return entry["oid"].get<std::string>();
      }
    }
    return std::string();
  };
  std::string cpu = "build/kget1-cpu-x86_64-linux";
  EXPECT_EQ(oid_of("main", cpu), oid_of("main", cpu));
  EXPECT_NE(oid_of("v1.0.0", cpu), oid_of("v1.1.0", cpu)); // metadata.json changed
  EXPECT_NE(oid_of("v1.0.0", cpu), "");
}

// --- resolve ---------------------------------------------------------------------------------

TEST_F(RegistryReads, ResolveHeadAndGetOfAnLfsFile) {
  const std::string& content = fixture().contents.at(fixture().big_path);
  std::string sha = sha256_of(content);
  for (const std::string prefix : {"", "/kernels"}) {
    std::string file_url = url(prefix + "/acme/relu/resolve/main/" + fixture().big_path);
    auto head = client.head(file_url, {"Accept-Encoding: identity"});
    ASSERT_EQ(head.status, 200) << prefix;
    EXPECT_EQ(head.header("x-repo-commit"), fixture().commit_v2_0_0);
    EXPECT_EQ(head.header("etag"), "\"" + sha + "\"");
    EXPECT_EQ(head.header("x-linked-etag"), "\"" + sha + "\"");
    EXPECT_EQ(head.header("x-linked-size"), std::to_string(content.size()));
    EXPECT_EQ(head.header("content-length"), std::to_string(content.size()));
    EXPECT_EQ(head.header("accept-ranges"), "bytes");
    EXPECT_EQ(head.header("content-type"), "application/octet-stream");
    EXPECT_FALSE(head.has_header("x-xet-hash"));
    EXPECT_FALSE(head.has_header("link"));
    EXPECT_TRUE(head.body.empty());

    auto get = client.get(file_url);
    ASSERT_EQ(get.status, 200);
    EXPECT_EQ(get.header("content-length"), std::to_string(content.size()));
    EXPECT_EQ(get.header("etag"), head.header("etag"));
    EXPECT_EQ(get.body.size(), content.size());
    EXPECT_TRUE(get.body == content);
  }
}

TEST_F(RegistryReads, ResolveOfAPlainFileUsesTheGitOid) {
  auto store = kget::store::Store::open(fixture().root).value();
  auto commit = store.read_commit("acme/relu", fixture().commit_v1_0_0).value();
  const auto* entry = commit.find(fixture().text_path);
  ASSERT_NE(entry, nullptr);
  ASSERT_FALSE(entry->lfs);
  // By commit: X-Repo-Commit echoes it.
  std::string file_url =
      url("/kernels/acme/relu/resolve/" + fixture().commit_v1_0_0 + "/" + fixture().text_path);
  auto head = client.head(file_url);
  ASSERT_EQ(head.status, 200);
  EXPECT_EQ(head.header("x-repo-commit"), fixture().commit_v1_0_0);
  EXPECT_EQ(head.header("etag"), "\"" + entry->git_oid + "\"");
  EXPECT_FALSE(head.has_header("x-linked-etag"));
  EXPECT_FALSE(head.has_header("x-linked-size"));
  EXPECT_EQ(head.header("content-length"), std::to_string(entry->size));
  EXPECT_EQ(head.header("content-type"), "application/json");
  auto get = client.get(file_url);
  EXPECT_EQ(get.body, "{\"name\": \"relu\", \"version\": \"1.0.0\"}\n");
  // By an encoded branch name.
  auto branch =
      client.get(url("/kernels/acme/relu/resolve/refs%2Fheads%2Fv1/" + fixture().text_path));
  EXPECT_EQ(branch.header("x-repo-commit"), fixture().commit_v1_1_0);
  EXPECT_EQ(branch.body, "{\"name\": \"relu\", \"version\": \"1.1.0\"}\n");
}

TEST_F(RegistryReads, ResolveRanges) {
  const std::string& content = fixture().contents.at(fixture().big_path);
  std::string file_url = url("/kernels/acme/relu/resolve/main/" + fixture().big_path);
  std::string total = std::to_string(content.size());

  auto middle = client.get(file_url, {"Range: bytes=100-199"});
  ASSERT_EQ(middle.status, 206);
  EXPECT_EQ(middle.header("content-range"), "bytes 100-199/" + total);
  EXPECT_EQ(middle.header("content-length"), "100");
  EXPECT_TRUE(middle.body == content.substr(100, 100));

  uint64_t from = content.size() - 1000;
  auto tail = client.get(file_url, {"Range: bytes=" + std::to_string(from) + "-"});
  ASSERT_EQ(tail.status, 206);
  EXPECT_EQ(tail.header("content-range"), "bytes " + std::to_string(from) + "-" +
                                              std::to_string(content.size() - 1) + "/" + total);
  EXPECT_TRUE(tail.body == content.substr(from));

  auto suffix = client.get(file_url, {"Range: bytes=-10"});
  ASSERT_EQ(suffix.status, 206);
  EXPECT_TRUE(suffix.body == content.substr(content.size() - 10));

  auto beyond = client.get(file_url, {"Range: bytes=" + total + "-"});
  expect_error(beyond, 416, "RangeNotSatisfiable");
  EXPECT_EQ(beyond.header("content-range"), "bytes */" + total);

  auto multi = client.get(file_url, {"Range: bytes=0-1,5-6"});
  ASSERT_EQ(multi.status, 200);
  EXPECT_EQ(multi.body.size(), content.size());

  // Range means nothing to HEAD: the whole size.
  auto head = client.head(file_url, {"Range: bytes=0-9"});
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("content-length"), total);

  // If-Range with another validator: the whole file.
  auto stale = client.get(file_url, {"Range: bytes=0-9", "If-Range: \"other\""});
  EXPECT_EQ(stale.status, 200);
  EXPECT_EQ(stale.body.size(), content.size());
}

TEST_F(RegistryReads, ResolveIfNoneMatch) {
  std::string file_url = url("/kernels/acme/relu/resolve/main/" + fixture().big_path);
  std::string etag = client.head(file_url).header("etag");
  auto cached = client.get(file_url, {"If-None-Match: " + etag});
  EXPECT_EQ(cached.status, 304);
  EXPECT_TRUE(cached.body.empty());
  EXPECT_EQ(cached.header("etag"), etag);
  EXPECT_EQ(cached.header("x-repo-commit"), fixture().commit_v2_0_0);
  auto other = client.get(file_url, {"If-None-Match: \"nope\""});
  EXPECT_EQ(other.status, 200);
}

TEST_F(RegistryReads, ResolveMissingFileCarriesTheCommit) {
  for (const std::string path :
       {"kernel-status.toml", "build/kget1-cpu-x86_64-linux", "build/missing.so"}) {
    auto missing = client.head(url("/kernels/acme/relu/resolve/v1/" + path));
    EXPECT_EQ(missing.status, 404) << path;
    EXPECT_EQ(missing.header("x-error-code"), "EntryNotFound") << path;
    EXPECT_EQ(missing.header("x-repo-commit"), fixture().commit_v1_1_0) << path;
    expect_error(client.get(url("/kernels/acme/relu/resolve/v1/" + path)), 404, "EntryNotFound");
  }
  expect_error(client.get(url("/kernels/acme/relu/resolve/v9/README.md")), 404, "RevisionNotFound");
  expect_error(client.get(url("/kernels/acme/nothing/resolve/main/README.md")), 404,
               "RepoNotFound");
}

TEST_F(RegistryReads, PathTraversalNeverReachesTheFilesystem) {
  for (const std::string path :
       {"/acme/relu/resolve/main/../../etc/passwd",
        "/acme/relu/resolve/main/%2e%2e/%2e%2e/etc/passwd",
        "/kernels/acme/relu/resolve/main/..%2F..%2F..%2Fetc%2Fpasswd",
        "/kernels/acme/relu/resolve/main/README.md%00.txt",
        "/kernels/acme/relu/resolve/main//etc/passwd",
        "/kernels/acme/relu/resolve/main/%2Fetc%2Fpasswd",
        "/kernels/acme/relu/resolve/..%2F..%2F..%2F..%2Fetc/passwd",
        "/kernels/..%2F..%2Fetc/passwd/resolve/main/x", "/../../etc/passwd",
        "/api/kernels/acme/relu/tree/main/..%2F..%2F..", "/acme/relu/resolve/main/%ZZ"}) {
    auto response = client.get(url(path));
    EXPECT_TRUE(response.status == 404 || response.status == 400)
        << path << ": " << response.status;
    EXPECT_FALSE(response.header("x-error-code").empty()) << path;
    EXPECT_EQ(response.body.find("root:"), std::string::npos) << path;
  }
}

// --- other routes ----------------------------------------------------------------------------

TEST_F(RegistryReads, OrganizationOverview) {
  auto trusted = client.get(url("/api/organizations/trusted-org/overview"));
  ASSERT_EQ(trusted.status, 200) << trusted.body;
  auto body = json::parse(trusted.body);
  EXPECT_EQ(body["name"], "trusted-org");
  EXPECT_EQ(body["fullname"], "trusted-org");
  EXPECT_EQ(body["type"], "org");
  EXPECT_EQ(body["trustedKernelPublisher"], true);

  auto known = client.get(url("/api/organizations/acme/overview"));
  ASSERT_EQ(known.status, 200) << known.body;
  EXPECT_EQ(json::parse(known.body)["trustedKernelPublisher"], false);

  expect_error(client.get(url("/api/organizations/stranger/overview")), 404,
               "OrganizationNotFound");
}

TEST_F(RegistryReads, UnknownRoutesAndMethods) {
  expect_error(client.get(url("/")), 404, "NotFound");
  expect_error(client.get(url("/api/datasets/acme/relu")), 404, "NotFound");
  expect_error(client.get(url("/api/kernels/acme/relu/xet-read-token/main")), 404, "NotFound");
  auto post = client.perform({"POST", url("/api/kernels/acme/relu"), {}, std::string("{}"), false});
  expect_error(post, 405, "MethodNotAllowed");
  EXPECT_EQ(post.header("allow"), "GET, HEAD");
  auto del = client.perform(
      {"DELETE", url("/kernels/acme/relu/resolve/main/README.md"), {}, std::nullopt, false});
  expect_error(del, 405, "MethodNotAllowed");
}

TEST_F(RegistryReads, KeepAliveReusesTheConnection) {
  HttpClient fresh;
  auto first = fresh.get(url("/api/kernels/acme/relu/refs"));
  ASSERT_EQ(first.status, 200);
  EXPECT_EQ(first.new_connections, 1);
  auto second = fresh.head(url("/kernels/acme/relu/resolve/main/README.md"));
  ASSERT_EQ(second.status, 200);
  EXPECT_EQ(second.new_connections, 0);
  auto third = fresh.get(url("/kernels/acme/relu/resolve/main/" + fixture().big_path),
                         {"Range: bytes=0-99"});
  ASSERT_EQ(third.status, 206);
  EXPECT_EQ(third.new_connections, 0);
  auto fourth = fresh.get(url("/api/kernels/acme/nothing"));
  EXPECT_EQ(fourth.status, 404);
  EXPECT_EQ(fourth.new_connections, 0);
  auto fifth = fresh.get(url("/api/kernels/acme/relu"));
  EXPECT_EQ(fifth.status, 200);
  EXPECT_EQ(fifth.new_connections, 0) << "an error answer keeps the connection too";
}

TEST_F(RegistryReads, OversizedHeaderIsRefused) {
  auto response =
      client.get(url("/api/kernels/acme/relu"), {"X-Padding: " + std::string(128 * 1024, 'a')});
  EXPECT_GE(response.status, 400);
  EXPECT_LT(response.status, 500);
  // And the server is still there.
  HttpClient other;
  EXPECT_EQ(other.get(url("/api/kernels/acme/relu")).status, 200);
}

TEST_F(RegistryReads, AccessLogHasOneLinePerRequest) {
  HttpClient fresh;
  fresh.get(url("/api/kernels/acme/relu/refs?marker=access-log-test"));
  fresh.head(url("/kernels/acme/relu/resolve/main/README.md?marker=access-log-test"));
  std::string log;
  ASSERT_TRUE(eventually([&] {
    log = read_file(s_dir->path() / "stderr.log");
    return log.find("HEAD /kernels/acme/relu/resolve/main/README.md?marker=access-log-test") !=
           std::string::npos;
  }));
  EXPECT_NE(log.find("127.0.0.1 \"GET /api/kernels/acme/relu/refs?marker=access-log-test "
                     "HTTP/1.1\" 200 "),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("127.0.0.1 \"HEAD /kernels/acme/relu/resolve/main/README.md?marker=access-"
                     "log-test HTTP/1.1\" 200 0 "),
            std::string::npos)
      << log;
}

} // namespace
