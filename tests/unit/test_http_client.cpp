#include "http/http.hpp"
#include "loopback_server.hpp"
#include "support/temp_dir.hpp"

#include <arpa/inet.h>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace fs = std::filesystem;
using kget::ErrorKind;
using kget::http::Client;
using kget::http::FileBody;
using kget::http::Request;
using kget::testing::CannedResponse;
using kget::testing::LoopbackServer;
using kget::testing::ReceivedRequest;

namespace {

using kget::testing::TempDir;

Client make_client() {
  auto client = Client::create();
  EXPECT_TRUE(client) << client.error().message;
  return std::move(*client);
}

Request make(std::string method, std::string url, kget::http::Body body = {}) {
  Request request;
  request.method = std::move(method);
  request.url = std::move(url);
  request.body = std::move(body);
  return request;
}

Request with_token(Request request, std::string token) {
  request.bearer_token = std::move(token);
  return request;
}

Request following(Request request) {
  request.follow_redirects = true;
  return request;
}

Request limited(Request request, size_t max_body) {
  request.max_response_body = max_body;
  return request;
}

CannedResponse ok(std::string body = "ok") {
  return {200, {}, std::move(body)};
}

// A port on which nothing listens: bound once to learn a free number, then released.
uint16_t closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), length);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

TEST(HttpClient, ReturnsStatusHeadersAndBody) {
  LoopbackServer server([](const ReceivedRequest&) {
    return CannedResponse{404, {{"x-error-code", "EntryNotFound"}}, "{\"error\":\"nope\"}"};
  });
  Client client = make_client();
  auto response = client.send(make("GET", server.url("/a/b?c=d")));
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->status, 404); // any status is a response, not a failure
  EXPECT_EQ(response->headers.get("X-Error-Code"), "EntryNotFound");
  EXPECT_EQ(response->headers.get("X-ERROR-CODE"), "EntryNotFound");
  EXPECT_FALSE(response->headers.get("X-Missing"));
  EXPECT_EQ(response->body, "{\"error\":\"nope\"}");
  EXPECT_EQ(response->url, server.url("/a/b?c=d"));
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "GET");
  EXPECT_EQ(requests[0].target, "/a/b?c=d");
  EXPECT_EQ(requests[0].header("user-agent").rfind("kget/", 0), 0u);
}

TEST(HttpClient, ReusesOneConnectionForConsecutiveRequests) {
  LoopbackServer server([](const ReceivedRequest&) { return ok(); });
  Client client = make_client();
  for (int i = 0; i < 3; ++i) {
    auto response = client.send(make("GET", server.url("/r")));
    ASSERT_TRUE(response) << response.error().message;
    EXPECT_EQ(response->status, 200);
  }
  EXPECT_EQ(server.requests().size(), 3u);
  EXPECT_EQ(server.connections(), 1);
}

TEST(HttpClient, SendsTheBearerTokenOnlyWhenGiven) {
  LoopbackServer server([](const ReceivedRequest&) { return ok(); });
  Client client = make_client();
  ASSERT_TRUE(client.send(with_token(make("GET", server.url("/with")), "s3cret")));
  ASSERT_TRUE(client.send(make("GET", server.url("/without"))));
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].header("authorization"), "Bearer s3cret");
  EXPECT_EQ(requests[1].headers.count("authorization"), 0u);
}

TEST(HttpClient, PostsABodyFromMemoryWithItsHeaders) {
  LoopbackServer server([](const ReceivedRequest& request) { return ok(request.body); });
  Client client = make_client();
  Request request = make("POST", server.url("/api"), std::string("{\"a\":1}"));
  request.headers = {{"Content-Type", "application/json"}};
  auto response = client.send(request);
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->body, "{\"a\":1}");
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].header("content-type"), "application/json");
  EXPECT_EQ(requests[0].header("content-length"), "7");
}

TEST(HttpClient, PostWithoutBodySendsZeroLength) {
  LoopbackServer server([](const ReceivedRequest&) { return ok(); });
  Client client = make_client();
  ASSERT_TRUE(client.send(make("POST", server.url("/empty"))));
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].header("content-length"), "0");
}

TEST(HttpClient, StreamsAFileBodyWithItsLength) {
  TempDir dir;
  fs::path file = dir.path() / "blob.bin";
  std::string content(3u << 20, '\0'); // large enough for curl to ask "Expect: 100-continue"
  for (size_t i = 0; i < content.size(); ++i) {
    content[i] = static_cast<char>((i * 131) % 251);
  }
  std::ofstream(file, std::ios::binary) << content;
  LoopbackServer server([](const ReceivedRequest&) { return CannedResponse{201, {}, "{}"}; });
  Client client = make_client();
  for (const char* method : {"PUT", "POST", "PATCH"}) {
    Request request = make(method, server.url("/blob"), FileBody{file, content.size()});
    auto response = client.send(request);
    ASSERT_TRUE(response) << response.error().message;
    EXPECT_EQ(response->status, 201);
  }
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].method, "PUT");
  EXPECT_EQ(requests[1].method, "POST");
  EXPECT_EQ(requests[2].method, "PATCH");
  for (const auto& received : requests) {
    EXPECT_EQ(received.header("content-length"), std::to_string(content.size()));
    EXPECT_TRUE(received.body == content) << "the body arrived altered";
  }
}

TEST(HttpClient, RefusesAFileWhoseSizeIsNotTheAnnouncedOne) {
  TempDir dir;
  fs::path file = dir.path() / "blob.bin";
  std::ofstream(file, std::ios::binary) << "12345";
  LoopbackServer server([](const ReceivedRequest&) { return ok(); });
  Client client = make_client();
  auto response = client.send(make("PUT", server.url("/blob"), FileBody{file, 6}));
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().kind, ErrorKind::io);
  EXPECT_NE(response.error().message.find("has 5 bytes, 6 were expected"), std::string::npos)
      << response.error().message;
  EXPECT_TRUE(server.requests().empty());

  auto missing = client.send(make("PUT", server.url("/blob"), FileBody{dir.path() / "none", 1}));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::not_found);
}

TEST(HttpClient, HeadGetsHeadersOnly) {
  LoopbackServer server([](const ReceivedRequest&) {
    return CannedResponse{200, {{"ETag", "\"abc\""}}, "body that HEAD does not get"};
  });
  Client client = make_client();
  auto response = client.send(make("HEAD", server.url("/f")));
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->headers.get("etag"), "\"abc\"");
  EXPECT_EQ(response->body, "");
}

TEST(HttpClient, DoesNotFollowRedirectsUnlessAsked) {
  LoopbackServer target([](const ReceivedRequest&) { return ok("landed"); });
  LoopbackServer server([&](const ReceivedRequest& request) {
    if (request.target == "/moved") {
      return CannedResponse{302, {{"Location", target.url("/here")}}, ""};
    }
    return ok();
  });
  Client client = make_client();
  auto response = client.send(make("GET", server.url("/moved")));
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->status, 302);
  EXPECT_EQ(response->headers.get("location"), target.url("/here"));
  EXPECT_TRUE(target.requests().empty());

  auto followed = client.send(following(make("GET", server.url("/moved"))));
  ASSERT_TRUE(followed) << followed.error().message;
  EXPECT_EQ(followed->status, 200);
  EXPECT_EQ(followed->body, "landed");
  EXPECT_EQ(followed->url, target.url("/here"));
}

TEST(HttpClient, NeverSendsTheTokenToAnotherHost) {
  LoopbackServer elsewhere([](const ReceivedRequest&) { return ok("elsewhere"); });
  LoopbackServer server([&](const ReceivedRequest& request) {
    if (request.target == "/to-other-host") {
      // "localhost" is another host name than "127.0.0.1", and another port.
      return CannedResponse{302, {{"Location", elsewhere.url("/x", "localhost")}}, ""};
    }
    if (request.target == "/to-same-host") {
      return CannedResponse{302, {{"Location", "/final"}}, ""};
    }
    return ok("final");
  });
  Client client = make_client();
  auto other = client.send(following(with_token(make("GET", server.url("/to-other-host")), "tok")));
  ASSERT_TRUE(other) << other.error().message;
  EXPECT_EQ(other->body, "elsewhere");
  auto same = client.send(following(with_token(make("GET", server.url("/to-same-host")), "tok")));
  ASSERT_TRUE(same) << same.error().message;
  EXPECT_EQ(same->body, "final");

  auto at_elsewhere = elsewhere.requests();
  ASSERT_EQ(at_elsewhere.size(), 1u);
  EXPECT_EQ(at_elsewhere[0].headers.count("authorization"), 0u);
  for (const auto& request : server.requests()) {
    EXPECT_EQ(request.header("authorization"), "Bearer tok") << request.target;
  }
}

TEST(HttpClient, ABodyOverTheLimitFails) {
  LoopbackServer server([](const ReceivedRequest&) { return ok(std::string(1000, 'x')); });
  Client client = make_client();
  auto response = client.send(limited(make("GET", server.url("/big")), 100));
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().kind, ErrorKind::network);
  EXPECT_NE(response.error().message.find("exceeds 100 bytes"), std::string::npos)
      << response.error().message;
  // The handle is still usable afterwards.
  auto again = client.send(make("GET", server.url("/big")));
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->body.size(), 1000u);
}

TEST(HttpClient, ConnectionRefusedIsANetworkErrorNamingTheUrl) {
  Client client = make_client();
  std::string url = "http://127.0.0.1:" + std::to_string(closed_port()) + "/api/x";
  auto response = client.send(make("POST", url, std::string("{}")));
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().kind, ErrorKind::network);
  EXPECT_NE(response.error().message.find("POST " + url), std::string::npos)
      << response.error().message;
  EXPECT_NE(response.error().message.find("onnect"), std::string::npos) // "Couldn't connect"
      << response.error().message;
}

TEST(HttpClient, RefusesSchemesOtherThanHttp) {
  Client client = make_client();
  for (const char* url : {"file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://127.0.0.1/"}) {
    auto response = client.send(make("GET", url));
    ASSERT_FALSE(response) << url;
    EXPECT_EQ(response.error().kind, ErrorKind::network);
    EXPECT_NE(response.error().message.find(url), std::string::npos) << response.error().message;
  }
}

} // namespace
