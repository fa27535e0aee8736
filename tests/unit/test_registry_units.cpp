// The registry's pure parts: URL decoding, Range, option values, tree folders, the access log
// line.
#include "registry/access_log.hpp"
#include "registry/config.hpp"
#include "registry/range.hpp"
#include "registry/router.hpp"
#include "registry/tree.hpp"
#include "registry/url.hpp"
#include "test_registry_support.hpp"

#include <gtest/gtest.h>

namespace {

using namespace kget::registry;
using kget::ErrorKind;
using Kind = RangeChoice::Kind;

TEST(RegistryUrl, DecodesEachSegmentAfterSplitting) {
  auto target =
      parse_target("/api/kernels/acme/relu/tree/refs%2Fpr%2F1/build%2Fcpu?recursive=True");
  ASSERT_TRUE(target) << target.error().message;
  std::vector<std::string> expected = {"api",  "kernels",   "acme",     "relu",
                                       "tree", "refs/pr/1", "build/cpu"};
  EXPECT_EQ(target->segments, expected);
  ASSERT_EQ(target->query.size(), 1u);
  EXPECT_EQ(target->query[0].first, "recursive");
  EXPECT_EQ(target->query[0].second, "True");
}

TEST(RegistryUrl, DecodesQueryPlusAndPercent) {
  auto target = parse_target("/x?a=b+c%2Bd&flag&&e=%41");
  ASSERT_TRUE(target);
  ASSERT_EQ(target->query.size(), 3u);
  EXPECT_EQ(target->query[0].second, "b c+d");
  EXPECT_EQ(target->query[1].first, "flag");
  EXPECT_EQ(target->query[1].second, "");
  EXPECT_EQ(target->query[2].second, "A");
}

TEST(RegistryUrl, KeepsPlusInPathAndDecodesNul) {
  auto target = parse_target("/a+b/c%00d");
  ASSERT_TRUE(target);
  EXPECT_EQ(target->segments[0], "a+b");
  EXPECT_EQ(target->segments[1], std::string("c\0d", 3));
}

TEST(RegistryUrl, RefusesMalformedEscapesAndNonPathTargets) {
  EXPECT_FALSE(parse_target("/a%2"));
  EXPECT_FALSE(parse_target("/a%zz"));
  EXPECT_FALSE(parse_target("http://host/a"));
  EXPECT_FALSE(parse_target("*"));
}

TEST(RegistryUrl, EncodesEverythingButUnreserved) {
  EXPECT_EQ(percent_encode("build/cpu x~.-_"), "build%2Fcpu%20x~.-_");
  EXPECT_EQ(percent_encode(std::string("\xff", 1)), "%FF");
}

TEST(RegistryUrl, QueryBooleans) {
  EXPECT_TRUE(query_true("true"));
  EXPECT_TRUE(query_true("True"));
  EXPECT_TRUE(query_true("TRUE"));
  EXPECT_TRUE(query_true("1"));
  EXPECT_FALSE(query_true("false"));
  EXPECT_FALSE(query_true("False"));
  EXPECT_FALSE(query_true("0"));
  EXPECT_FALSE(query_true(""));
  EXPECT_FALSE(query_true("yes"));
}

TEST(RegistryRange, SingleRanges) {
  auto r = choose_range("bytes=0-9", 100);
  EXPECT_EQ(r.kind, Kind::partial);
  EXPECT_EQ(r.first, 0u);
  EXPECT_EQ(r.length, 10u);
  r = choose_range("bytes=90-", 100);
  EXPECT_EQ(r.kind, Kind::partial);
  EXPECT_EQ(r.first, 90u);
  EXPECT_EQ(r.length, 10u);
  r = choose_range("bytes=-30", 100);
  EXPECT_EQ(r.kind, Kind::partial);
  EXPECT_EQ(r.first, 70u);
  EXPECT_EQ(r.length, 30u);
  r = choose_range("bytes=-300", 100); // a suffix longer than the file: all of it
  EXPECT_EQ(r.kind, Kind::partial);
  EXPECT_EQ(r.first, 0u);
  EXPECT_EQ(r.length, 100u);
  r = choose_range("bytes=50-1000", 100); // the last position is clamped
  EXPECT_EQ(r.kind, Kind::partial);
  EXPECT_EQ(r.length, 50u);
  r = choose_range(" Bytes=5-5 ", 100);
  EXPECT_EQ(r.kind, Kind::partial);
  EXPECT_EQ(r.length, 1u);
}

TEST(RegistryRange, UnsatisfiableAndIgnored) {
  EXPECT_EQ(choose_range("bytes=100-", 100).kind, Kind::unsatisfiable);
  EXPECT_EQ(choose_range("bytes=200-300", 100).kind, Kind::unsatisfiable);
  EXPECT_EQ(choose_range("bytes=-0", 100).kind, Kind::unsatisfiable);
  EXPECT_EQ(choose_range("bytes=0-", 0).kind, Kind::unsatisfiable);
  EXPECT_EQ(choose_range(std::nullopt, 100).kind, Kind::whole);
  EXPECT_EQ(choose_range("bytes=0-1,5-6", 100).kind, Kind::whole);
  EXPECT_EQ(choose_range("bytes=9-1", 100).kind, Kind::whole);
  EXPECT_EQ(choose_range("items=0-1", 100).kind, Kind::whole);
  EXPECT_EQ(choose_range("bytes=abc", 100).kind, Kind::whole);
  EXPECT_EQ(choose_range("bytes=-", 100).kind, Kind::whole);
}

TEST(RegistryConfig, ByteSizes) {
  EXPECT_EQ(parse_byte_size("--max-upload-size", "4G").value(), uint64_t{4} << 30);
  EXPECT_EQ(parse_byte_size("--max-upload-size", "512m").value(), uint64_t{512} << 20);
  EXPECT_EQ(parse_byte_size("--max-upload-size", "64KiB").value(), uint64_t{64} << 10);
  EXPECT_EQ(parse_byte_size("--max-upload-size", "1000").value(), 1000u);
  EXPECT_EQ(parse_byte_size("--max-upload-size", "1MB").value(), uint64_t{1} << 20);
  for (const char* bad : {"", "G", "4X", "-1", "4 G G", "99999999999999999999"}) {
    auto parsed = parse_byte_size("--max-upload-size", bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.error().kind, ErrorKind::invalid_setting);
    EXPECT_NE(parsed.error().message.find("--max-upload-size"), std::string::npos);
  }
}

TEST(RegistryConfig, TokenFile) {
  test_support::TempDir dir;
  test_support::write_file(dir.path() / "tokens", "# pushers\n\n  alpha  \nbeta\n# end\n");
  auto tokens = read_token_file(dir.path() / "tokens");
  ASSERT_TRUE(tokens) << tokens.error().message;
  EXPECT_EQ(*tokens, (std::vector<std::string>{"alpha", "beta"}));

  test_support::write_file(dir.path() / "empty", "# nothing\n\n");
  auto empty = read_token_file(dir.path() / "empty");
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().kind, ErrorKind::invalid_setting);
  EXPECT_FALSE(read_token_file(dir.path() / "missing"));
}

TEST(RegistryConfig, ListenAddressAndPublicUrl) {
  auto v4 = parse_listen_address("127.0.0.1:0");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 0);
  auto v6 = parse_listen_address("[::1]:8080");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 8080);
  for (const char* bad : {"127.0.0.1", ":80", "::1:80", "host:99999", "host:x"}) {
    auto parsed = parse_listen_address(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_NE(parsed.error().message.find("--listen"), std::string::npos);
  }
  EXPECT_EQ(parse_public_url("https://reg.example.com/kget/").value(),
            "https://reg.example.com/kget");
  EXPECT_FALSE(parse_public_url("reg.example.com"));
  EXPECT_FALSE(parse_public_url("http://"));
  EXPECT_FALSE(parse_public_url("http://x/?a=1"));
}

kget::store::Commit sample_commit() {
  kget::store::Commit commit;
  commit.id = std::string(40, 'c');
  auto file = [](std::string path, std::string oid) {
    kget::store::FileEntry entry;
    entry.path = std::move(path);
    entry.git_oid = std::move(oid);
    entry.sha256 = std::string(64, 'a');
    entry.size = 3;
    return entry;
  };
  // git's empty-blob id stands in for every file; the tree ids below are what git computes.
  const std::string empty_blob = "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391";
  commit.files = {file("README.md", empty_blob), file("build/a/x.so", empty_blob),
                  file("build/a/y.json", empty_blob), file("build/b/z", empty_blob)};
  return commit;
}

TEST(RegistryTree, ListsChildrenFoldersFirst) {
  auto commit = sample_commit();
  auto root = list_tree(commit, "", false);
  ASSERT_TRUE(root);
  ASSERT_EQ(root->size(), 2u);
  EXPECT_TRUE((*root)[0].directory);
  EXPECT_EQ((*root)[0].path, "build");
  EXPECT_FALSE((*root)[1].directory);
  EXPECT_EQ((*root)[1].path, "README.md");

  auto build = list_tree(commit, "build", false);
  ASSERT_TRUE(build);
  ASSERT_EQ(build->size(), 2u);
  EXPECT_EQ((*build)[0].path, "build/a");
  EXPECT_EQ((*build)[1].path, "build/b");

  auto all = list_tree(commit, "", true);
  ASSERT_TRUE(all);
  std::vector<std::string> paths;
  for (const auto& item : *all) {
    paths.push_back(item.path);
  }
  EXPECT_EQ(paths, (std::vector<std::string>{"build", "build/a", "build/a/x.so", "build/a/y.json",
                                             "build/b", "build/b/z", "README.md"}));
}

TEST(RegistryTree, FolderOidsAreGitTreeIds) {
  auto commit = sample_commit();
  auto build = list_tree(commit, "build", false);
  ASSERT_TRUE(build);
  // The ids git gives these trees (`git mktree`; the same formula gives the well-known empty
  // tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904).
  EXPECT_EQ((*build)[0].oid, "8314254edb03439e3ae41567cc57a30ba9a85175");
  EXPECT_EQ((*build)[1].oid, "08c56681eceec443b14ad503fa7ebf1c46652c50");
  auto root = list_tree(commit, "", false);
  ASSERT_TRUE(root);
  EXPECT_EQ((*root)[0].oid, "15023e9fedcf7a8c683d76b9b839859037e502f0");
}

TEST(RegistryTree, FileAndMissingPaths) {
  auto commit = sample_commit();
  auto file = list_tree(commit, "build/a/x.so", false);
  ASSERT_TRUE(file);
  ASSERT_EQ(file->size(), 1u);
  EXPECT_EQ((*file)[0].path, "build/a/x.so");
  auto missing = list_tree(commit, "build/c", false);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::not_found);
  EXPECT_FALSE(list_tree(commit, "build/a/x.so/deeper", false));
}

TEST(RegistryAccessLog, OneStableLine) {
  AccessEntry entry;
  entry.client = "127.0.0.1";
  entry.method = "GET";
  entry.target = "/api/kernels/a/b/refs";
  entry.version = "HTTP/1.1";
  entry.status = 200;
  entry.bytes = 123;
  entry.duration = std::chrono::microseconds(400);
  EXPECT_EQ(format_access_line(entry), "127.0.0.1 \"GET /api/kernels/a/b/refs HTTP/1.1\" 200 123 "
                                       "0.4ms");
  entry.target = "/x\"\n y";
  entry.status = 0;
  entry.aborted = "client";
  EXPECT_EQ(format_access_line(entry),
            "127.0.0.1 \"GET /x\\x22\\x0a\\x20y HTTP/1.1\" - 123 0.4ms aborted:client");
}

Request make_request(std::string method, std::string target,
                     std::map<std::string, std::string> headers = {}) {
  Request request;
  request.method = std::move(method);
  request.target = std::move(target);
  request.version = "HTTP/1.1";
  auto parsed = parse_target(request.target).value();
  request.segments = std::move(parsed.segments);
  request.query = std::move(parsed.query);
  request.headers = std::move(headers);
  return request;
}

TEST(RegistryRouter, AnswersInProcess) {
  test_support::TempDir dir;
  auto fixture = test_support::build_fixture_store(dir.path() / "store", dir.path() / "scratch");
  Config config;
  config.root = fixture.root;
  config.tokens = {"secret"};
  config.push_enabled = true;
  Router router(config, kget::store::Store::open(fixture.root).value(), "http://127.0.0.1:9");

  auto refs = router.handle(make_request("GET", "/api/kernels/acme/relu/refs"));
  EXPECT_EQ(refs.status, 200u);
  EXPECT_EQ(refs.find_header("Content-Type"), "application/json");

  auto file = router.handle(make_request(
      "GET", "/kernels/acme/relu/resolve/main/" + fixture.big_path, {{"range", "bytes=10-19"}}));
  EXPECT_EQ(file.status, 206u);
  ASSERT_TRUE(file.file.has_value());
  EXPECT_EQ(file.file->offset, 10u);
  EXPECT_EQ(file.content_length(), 10u);
  EXPECT_GE(file.file->fd.get(), 0);

  auto head = router.handle(make_request("HEAD", "/kernels/acme/relu/resolve/main/README.md"));
  EXPECT_EQ(head.status, 200u);
  EXPECT_EQ(head.content_length(), fixture.contents.at("README.md").size());

  // Without a Host header, the listening address is the base of the Link.
  Config paged = config;
  paged.tree_page_size = 1;
  Router small(paged, kget::store::Store::open(fixture.root).value(), "http://127.0.0.1:9");
  auto page = small.handle(make_request("GET", "/api/models/acme/relu/tree/main"));
  EXPECT_EQ(page.find_header("Link").value_or("").substr(0, 38),
            "<http://127.0.0.1:9/api/models/acme/re");

  std::string blob = "pushed in process";
  auto pushed = router.handle(
      make_request(
          "PUT", "/api/kget/v1/blobs/sha256/" + test_support::sha256_of(blob),
          {{"authorization", "Bearer secret"}, {"content-length", std::to_string(blob.size())}}),
      blob);
  EXPECT_EQ(pushed.status, 201u) << pushed.body;
  auto denied = router.handle(make_request("POST", "/api/kget/v1/blobs/missing"), "{}");
  EXPECT_EQ(denied.status, 401u);
  EXPECT_EQ(denied.find_header("X-Error-Code"), "Unauthorized");
}

} // namespace
