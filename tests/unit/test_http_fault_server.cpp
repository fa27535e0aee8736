// The FaultServer's proxy mode, which later integration tests put in front of a real
// kget-registry: requests and answers pass through unchanged except for the scripted faults.
#include "http/http.hpp"
#include "loopback_server.hpp"
#include "support/fault_server.hpp"
#include "support/memory_sink.hpp"

#include <gtest/gtest.h>

using kget::Result;
using kget::http::Client;
using kget::http::ClientOptions;
using kget::http::Request;
using kget::testing::CannedResponse;
using kget::testing::Fault;
using kget::testing::FaultServer;
using kget::testing::LoopbackServer;
using kget::testing::MemorySink;
using kget::testing::ReceivedRequest;

namespace {

Client quiet_client() {
  ClientOptions options;
  options.sleep = [](std::chrono::milliseconds) {};
  auto client = Client::create(std::move(options));
  EXPECT_TRUE(client) << client.error().message;
  return std::move(*client);
}

TEST(FaultServerProxy, ForwardsRangesAndAppliesFaults) {
  std::string blob(200000, 'k');
  blob[12] = 'x';
  FaultServer upstream;
  upstream.serve_file("/blobs/b1", blob);
  FaultServer proxy;
  proxy.forward_to(upstream.port());
  proxy.add_fault(Fault::drop_after(1000).for_target("/blobs/"));
  Client client = quiet_client();
  MemorySink sink;
  Request request;
  request.url = proxy.url("/blobs/b1");
  request.bearer_token = "t0k";
  auto result = client.download(request, sink);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->attempts, 2);
  EXPECT_EQ(result->headers.get("etag"), FaultServer::etag_of(blob));
  EXPECT_TRUE(sink.data == blob);
  auto forwarded = upstream.requests();
  ASSERT_EQ(forwarded.size(), 2u);
  EXPECT_FALSE(forwarded[0].has_header("range"));
  EXPECT_EQ(forwarded[1].header("range"), "bytes=1000-");
  EXPECT_EQ(forwarded[1].header("authorization"), "Bearer t0k");
  EXPECT_EQ(forwarded[1].header("host"), "127.0.0.1:" + std::to_string(proxy.port()));
  EXPECT_EQ(proxy.requests().at(1).header("authorization"), "Bearer t0k");
}

TEST(FaultServerProxy, IgnoringRangeStripsItBeforeForwarding) {
  FaultServer upstream;
  upstream.serve_file("/f", "0123456789");
  FaultServer proxy;
  proxy.forward_to(upstream.port());
  proxy.add_fault(Fault::ignore_range());
  Client client = quiet_client();
  Request request;
  request.url = proxy.url("/f");
  request.headers = {{"Range", "bytes=4-"}};
  auto response = client.send(request);
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "0123456789");
  EXPECT_FALSE(upstream.requests().at(0).has_header("range"));

  auto ranged = client.send(request); // the fault is used up
  ASSERT_TRUE(ranged) << ranged.error().message;
  EXPECT_EQ(ranged->status, 206);
  EXPECT_EQ(ranged->body, "456789");
  EXPECT_EQ(ranged->headers.get("content-range"), "bytes 4-9/10");
}

TEST(FaultServerProxy, PassesBodiesHeadAnswersAndErrorsThrough) {
  LoopbackServer upstream([](const ReceivedRequest& request) {
    if (request.method == "HEAD") {
      return CannedResponse{200, {{"X-Linked-Size", "42"}}, std::string(42, 'h')};
    }
    if (request.target == "/missing") {
      return CannedResponse{404, {{"X-Error-Code", "EntryNotFound"}}, "{}"};
    }
    return CannedResponse{201, {{"X-Echo", request.header("content-type")}}, request.body};
  });
  FaultServer proxy;
  proxy.forward_to(upstream.port());
  proxy.add_fault(Fault::answer(503, "0").on_request(1));
  Client client = quiet_client();

  Request post;
  post.method = "POST";
  post.url = proxy.url("/api/echo");
  post.headers = {{"Content-Type", "application/json"}};
  post.body = std::string("{\"a\":1}");
  auto posted = client.send(post); // request 1 gets the 503: POST is not retried
  ASSERT_TRUE(posted) << posted.error().message;
  EXPECT_EQ(posted->status, 503);
  EXPECT_EQ(posted->headers.get("retry-after"), "0");
  posted = client.send(post);
  ASSERT_TRUE(posted) << posted.error().message;
  EXPECT_EQ(posted->status, 201);
  EXPECT_EQ(posted->body, "{\"a\":1}");
  EXPECT_EQ(posted->headers.get("x-echo"), "application/json");

  Request head;
  head.method = "HEAD";
  head.url = proxy.url("/resolve/x");
  auto headed = client.send(head);
  ASSERT_TRUE(headed) << headed.error().message;
  EXPECT_EQ(headed->headers.get("content-length"), "42");
  EXPECT_EQ(headed->headers.get("x-linked-size"), "42");

  Request missing;
  missing.url = proxy.url("/missing");
  auto answered = client.send(missing);
  ASSERT_TRUE(answered) << answered.error().message;
  EXPECT_EQ(answered->status, 404);
  EXPECT_EQ(answered->headers.get("x-error-code"), "EntryNotFound");
  EXPECT_EQ(upstream.requests().size(), 3u); // the scripted 503 never reached it
}

} // namespace
