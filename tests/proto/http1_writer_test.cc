#include "proto/http1_writer.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace ringway::http1 {
namespace {

// Parses `in` (which must be a complete head) and writes the upstream request.
std::string Forward(std::string_view in, ForwardedInfo fwd = {"10.0.0.7", "http"}) {
  Field fields[100];
  RequestHead req;
  ParseResult r = ParseRequest(in, ParseLimits{}, fields, &req);
  EXPECT_EQ(r.status, ParseStatus::kComplete) << r.error;
  if (r.status != ParseStatus::kComplete) return "";
  std::string out;
  WriteRequestHead(req, fwd, &out);
  return out;
}

std::string Respond(std::string_view in, bool keep_alive, bool http10, bool dechunk) {
  Field fields[100];
  ResponseHead resp;
  ParseResult r = ParseResponse(in, ParseLimits{}, fields, &resp);
  EXPECT_EQ(r.status, ParseStatus::kComplete) << r.error;
  if (r.status != ParseStatus::kComplete) return "";
  std::string out;
  WriteResponseHead(resp, keep_alive, http10, dechunk, &out);
  return out;
}

// The written head must itself parse, as a complete head spanning all of it.
void ExpectWellFormedRequest(const std::string& out, RequestHead* req, Field* storage) {
  ParseResult r = ParseRequest(out, ParseLimits{}, std::span<Field>(storage, 100), req);
  ASSERT_EQ(r.status, ParseStatus::kComplete) << r.error << "\n" << out;
  EXPECT_EQ(r.consumed, out.size());
}

TEST(WriteRequestHead, Basic) {
  const std::string out = Forward(
      "GET /a?b HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.0\r\nAccept: */*\r\n\r\n");
  EXPECT_EQ(out,
            "GET /a?b HTTP/1.1\r\n"
            "Host: example.com\r\n"
            "User-Agent: curl/8.0\r\n"
            "Accept: */*\r\n"
            "X-Forwarded-For: 10.0.0.7\r\n"
            "X-Forwarded-Proto: http\r\n"
            "X-Forwarded-Host: example.com\r\n"
            "\r\n");
}

TEST(WriteRequestHead, AppendsToExistingOutput) {
  Field fields[4];
  RequestHead req;
  ASSERT_EQ(ParseRequest("GET / HTTP/1.1\r\nHost: h\r\n\r\n", ParseLimits{}, fields, &req).status,
            ParseStatus::kComplete);
  std::string out = "previous";
  WriteRequestHead(req, {"1.2.3.4", "https"}, &out);
  EXPECT_EQ(out,
            "previousGET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.2.3.4\r\n"
            "X-Forwarded-Proto: https\r\nX-Forwarded-Host: h\r\n\r\n");
}

TEST(WriteRequestHead, DropsHopByHopFields) {
  const std::string out = Forward(
      "GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, X-Secret , x-other\r\n"
      "Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\n"
      "Trailer: X-Sum\r\nUpgrade: websocket\r\nX-Secret: 1\r\nX-Other: 2\r\nX-Kept: 3\r\n"
      "Accept: */*\r\n\r\n");
  EXPECT_EQ(out,
            "GET / HTTP/1.1\r\nHost: h\r\nX-Kept: 3\r\nAccept: */*\r\n"
            "X-Forwarded-For: 10.0.0.7\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: h\r\n\r\n");
}

TEST(WriteRequestHead, FramingFieldsCannotBeDroppedByConnection) {
  const std::string out = Forward(
      "POST / HTTP/1.1\r\nHost: h\r\nConnection: Content-Length, host\r\nContent-Length: "
      "5\r\n\r\n");
  EXPECT_NE(out.find("\r\nContent-Length: 5\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("\r\nHost: h\r\n"), std::string::npos) << out;
  const std::string chunked = Forward(
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
      "Connection: transfer-encoding\r\n\r\n");
  EXPECT_NE(chunked.find("\r\nTransfer-Encoding: chunked\r\n"), std::string::npos) << chunked;
  Field f[100];
  RequestHead req;
  ExpectWellFormedRequest(chunked, &req, f);
  EXPECT_EQ(req.framing.body, BodyKind::kChunked);
}

TEST(WriteRequestHead, XForwardedForAppends) {
  std::string out = Forward("GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 192.0.2.1\r\n\r\n",
                            {"2001:db8::1", "https"});
  EXPECT_NE(out.find("\r\nX-Forwarded-For: 192.0.2.1, 2001:db8::1\r\n"), std::string::npos) << out;

  // Several fields merge into one list, in order.
  out = Forward(
      "GET / HTTP/1.1\r\nHost: h\r\nx-forwarded-for: 1.1.1.1, 2.2.2.2\r\nAccept: */*\r\n"
      "X-Forwarded-For: 3.3.3.3\r\n\r\n");
  EXPECT_NE(out.find("\r\nX-Forwarded-For: 1.1.1.1, 2.2.2.2, 3.3.3.3, 10.0.0.7\r\n"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("x-forwarded-for"), std::string::npos) << out;

  // An empty value contributes nothing.
  out = Forward("GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For:\r\n\r\n");
  EXPECT_NE(out.find("\r\nX-Forwarded-For: 10.0.0.7\r\n"), std::string::npos) << out;
}

TEST(WriteRequestHead, XForwardedForWithoutClientAddress) {
  std::string out =
      Forward("GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.1.1.1\r\n\r\n", {"", ""});
  EXPECT_EQ(out,
            "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.1.1.1\r\nX-Forwarded-Host: h\r\n\r\n");
  out = Forward("GET / HTTP/1.1\r\nHost: h\r\n\r\n", {"", ""});
  EXPECT_EQ(out, "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-Host: h\r\n\r\n");
}

TEST(WriteRequestHead, XForwardedProtoAndHostAreReplaced) {
  const std::string out = Forward(
      "GET / HTTP/1.1\r\nX-Forwarded-Proto: https\r\nHost: real.example\r\n"
      "X-Forwarded-Host: evil.example\r\nx-forwarded-proto: gopher\r\n\r\n",
      {"10.0.0.7", "http"});
  EXPECT_EQ(out,
            "GET / HTTP/1.1\r\nHost: real.example\r\nX-Forwarded-For: 10.0.0.7\r\n"
            "X-Forwarded-Proto: http\r\nX-Forwarded-Host: real.example\r\n\r\n");
}

TEST(WriteRequestHead, Http10WithoutHost) {
  const std::string out = Forward("GET /old HTTP/1.0\r\nAccept: */*\r\n\r\n");
  EXPECT_EQ(out,
            "GET /old HTTP/1.1\r\nAccept: */*\r\nX-Forwarded-For: 10.0.0.7\r\n"
            "X-Forwarded-Proto: http\r\n\r\n");
}

TEST(WriteRequestHead, UpgradeIsKept) {
  const std::string out = Forward(
      "GET /chat HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n"
      "Sec-WebSocket-Version: 13\r\n\r\n");
  EXPECT_EQ(out,
            "GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
            "Connection: upgrade\r\nX-Forwarded-For: 10.0.0.7\r\nX-Forwarded-Proto: http\r\n"
            "X-Forwarded-Host: h\r\n\r\n");
  Field f[100];
  RequestHead req;
  ExpectWellFormedRequest(out, &req, f);
  EXPECT_TRUE(req.framing.upgrade);
}

TEST(WriteRequestHead, UpstreamRequestIsPersistentAndKeepsFraming) {
  const std::string out = Forward(
      "POST /p HTTP/1.1\r\nHost: h\r\nConnection: close\r\nTransfer-Encoding: gzip, chunked\r\n"
      "Expect: 100-continue\r\n\r\n");
  Field f[100];
  RequestHead req;
  ExpectWellFormedRequest(out, &req, f);
  EXPECT_TRUE(req.framing.keep_alive);
  EXPECT_EQ(req.framing.body, BodyKind::kChunked);
  EXPECT_TRUE(req.framing.expect_continue);
  EXPECT_NE(out.find("\r\nTransfer-Encoding: gzip, chunked\r\n"), std::string::npos);

  const std::string cl =
      Forward("PUT /p HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 10\r\n\r\n");
  EXPECT_EQ(cl.rfind("PUT /p HTTP/1.1\r\n", 0), 0u) << cl;
  EXPECT_NE(cl.find("\r\nContent-Length: 10\r\n"), std::string::npos);
  EXPECT_EQ(cl.find("Connection"), std::string::npos) << cl;
}

// An absolute-form target goes upstream in origin-form, with Host (and X-Forwarded-Host) taken
// from its authority, not from the client's Host field (RFC 9112 section 3.2.2).
TEST(WriteRequestHead, AbsoluteFormBecomesOriginFormWithHostFromTarget) {
  const std::string out = Forward(
      "GET http://a.test:8080/x?y HTTP/1.1\r\nHost: b.test\r\nAccept: */*\r\n"
      "X-Forwarded-Host: c.test\r\n\r\n");
  EXPECT_EQ(out,
            "GET /x?y HTTP/1.1\r\n"
            "Host: a.test:8080\r\n"
            "Accept: */*\r\n"
            "X-Forwarded-For: 10.0.0.7\r\n"
            "X-Forwarded-Proto: http\r\n"
            "X-Forwarded-Host: a.test:8080\r\n"
            "\r\n");
  Field f[100];
  RequestHead req;
  ExpectWellFormedRequest(out, &req, f);
  EXPECT_EQ(req.form, TargetForm::kOrigin);
  EXPECT_EQ(req.framing.host, "a.test:8080");
}

TEST(WriteRequestHead, AbsoluteFormTargets) {
  struct Case {
    std::string line, want;
  } cases[] = {
      {"GET HTTP://Other.Test/x HTTP/1.1", "GET /x HTTP/1.1\r\nHost: Other.Test\r\n"},
      {"GET https://h HTTP/1.1", "GET / HTTP/1.1\r\nHost: h\r\n"},
      {"GET http://h?q=1 HTTP/1.1", "GET /?q=1 HTTP/1.1\r\nHost: h\r\n"},
      {"GET http://[::1]:81/ HTTP/1.1", "GET / HTTP/1.1\r\nHost: [::1]:81\r\n"},
      {"POST http://h/a//b HTTP/1.1", "POST /a//b HTTP/1.1\r\nHost: h\r\n"},
      // RFC 9112 section 3.2.4: OPTIONS for the whole server is forwarded as "*".
      {"OPTIONS http://h:8080 HTTP/1.1", "OPTIONS * HTTP/1.1\r\nHost: h:8080\r\n"},
      {"OPTIONS http://h?x HTTP/1.1", "OPTIONS /?x HTTP/1.1\r\nHost: h\r\n"},
      {"OPTIONS http://h/ HTTP/1.1", "OPTIONS / HTTP/1.1\r\nHost: h\r\n"},
      // Not absolute-form: forwarded as sent, with the client's Host.
      {"OPTIONS * HTTP/1.1", "OPTIONS * HTTP/1.1\r\nHost: client.test\r\n"},
      {"GET /http://h/ HTTP/1.1", "GET /http://h/ HTTP/1.1\r\nHost: client.test\r\n"},
  };
  for (const Case& c : cases) {
    const std::string out = Forward(c.line + "\r\nHost: client.test\r\n\r\n", {"", ""});
    EXPECT_EQ(out.substr(0, c.want.size()), c.want) << c.line << "\n" << out;
    Field f[100];
    RequestHead req;
    ExpectWellFormedRequest(out, &req, f);
    EXPECT_NE(req.form, TargetForm::kAbsolute) << c.line;
  }
}

TEST(WriteRequestHead, AbsoluteFormHttp10GetsHostFromTarget) {
  const std::string out = Forward("GET http://h.test/old HTTP/1.0\r\nAccept: */*\r\n\r\n");
  EXPECT_EQ(out,
            "GET /old HTTP/1.1\r\nHost: h.test\r\nAccept: */*\r\nX-Forwarded-For: 10.0.0.7\r\n"
            "X-Forwarded-Proto: http\r\nX-Forwarded-Host: h.test\r\n\r\n");
}

// Every Host field the caller hands in is replaced, including one it added itself.
TEST(WriteRequestHead, AbsoluteFormDropsEveryHostField) {
  const Field fields[] = {{"host", "a"}, {"Accept", "*/*"}, {"HOST", "b"}};
  RequestHead req;
  req.method = "GET";
  req.target = "http://t.test/p";
  req.form = TargetForm::kAbsolute;
  req.authority = "t.test";
  req.origin = "/p";
  req.fields = fields;
  req.framing.host = "a";
  std::string out;
  WriteRequestHead(req, {"", ""}, &out);
  EXPECT_EQ(out,
            "GET /p HTTP/1.1\r\nHost: t.test\r\nAccept: */*\r\nX-Forwarded-Host: t.test\r\n\r\n");
}

// CGI-style backends read X_Forwarded_For and X-Forwarded-For as the same variable.
TEST(WriteRequestHead, FieldsWithUnderscoresAreDroppedByDefault) {
  const std::string in =
      "GET / HTTP/1.1\r\nHost: h\r\nX_Forwarded_For: 6.6.6.6\r\nX-Real-IP: 1.1.1.1\r\n"
      "X_Real_IP: 6.6.6.6\r\n_: x\r\nContent_Length: 5\r\nAccept: */*\r\n\r\n";
  std::string out = Forward(in);
  EXPECT_EQ(out,
            "GET / HTTP/1.1\r\nHost: h\r\nX-Real-IP: 1.1.1.1\r\nAccept: */*\r\n"
            "X-Forwarded-For: 10.0.0.7\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: h\r\n\r\n");

  ForwardedInfo pass{"10.0.0.7", "http"};
  pass.pass_underscore_fields = true;
  out = Forward(in, pass);
  EXPECT_EQ(out,
            "GET / HTTP/1.1\r\nHost: h\r\nX_Forwarded_For: 6.6.6.6\r\nX-Real-IP: 1.1.1.1\r\n"
            "X_Real_IP: 6.6.6.6\r\n_: x\r\nContent_Length: 5\r\nAccept: */*\r\n"
            "X-Forwarded-For: 10.0.0.7\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: h\r\n\r\n");
}

TEST(WriteResponseHead, KeepAliveHttp11Client) {
  EXPECT_EQ(
      Respond("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: s\r\n\r\n", true, false, false),
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: s\r\n\r\n");
}

TEST(WriteResponseHead, ClientConnectionClose) {
  EXPECT_EQ(Respond("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", false, false, false),
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(Respond("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", false, true, false),
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\n");
}

TEST(WriteResponseHead, Http10ClientKeptAlive) {
  EXPECT_EQ(Respond("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true, true, false),
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\n");
}

TEST(WriteResponseHead, DropsUpstreamHopByHop) {
  EXPECT_EQ(Respond("HTTP/1.0 404 Not Found\r\nConnection: keep-alive, X-Internal\r\n"
                    "Keep-Alive: timeout=5, max=100\r\nProxy-Connection: close\r\nX-Internal: 1\r\n"
                    "Content-Length: 0\r\n\r\n",
                    true, false, false),
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
  // Framing fields survive being named by Connection.
  EXPECT_EQ(Respond("HTTP/1.1 200 OK\r\nConnection: content-length\r\nContent-Length: 5\r\n\r\n",
                    true, false, false),
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
}

TEST(WriteResponseHead, DechunkDropsTransferEncodingAndCloses) {
  const std::string out =
      Respond("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n",
              true, true, true);
  EXPECT_EQ(out, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n");
  // Without dechunk the coding travels on.
  EXPECT_EQ(Respond("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", true, false, false),
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
}

TEST(WriteResponseHead, ContentLengthWithChunkedIsDropped) {
  EXPECT_EQ(Respond("HTTP/1.1 200 OK\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n",
                    false, false, false),
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
}

TEST(WriteResponseHead, SwitchingProtocolsKeepsUpgrade) {
  EXPECT_EQ(
      Respond("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
              "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
              true, false, false),
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
      "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nConnection: upgrade\r\n\r\n");
  // Outside a 101, an Upgrade named by Connection is hop-by-hop like any other.
  EXPECT_EQ(
      Respond("HTTP/1.1 200 OK\r\nUpgrade: h2c\r\nConnection: Upgrade\r\nContent-Length: 0\r\n\r\n",
              true, false, false),
      "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
}

TEST(WriteResponseHead, InterimResponseGetsNoConnectionField) {
  EXPECT_EQ(Respond("HTTP/1.1 100 Continue\r\n\r\n", false, false, false),
            "HTTP/1.1 100 Continue\r\n\r\n");
  EXPECT_EQ(
      Respond("HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n", true, true, false),
      "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n");
}

TEST(WriteResponseHead, EmptyReasonStaysWellFormed) {
  const std::string out = Respond("HTTP/1.1 204\r\n\r\n", true, false, false);
  EXPECT_EQ(out, "HTTP/1.1 204 \r\n\r\n");
  Field f[4];
  ResponseHead resp;
  ParseResult r = ParseResponse(out, ParseLimits{}, f, &resp);
  ASSERT_EQ(r.status, ParseStatus::kComplete);
  EXPECT_EQ(resp.status, 204);
}

TEST(ErrorResponse, ExactBytes) {
  EXPECT_EQ(ErrorResponse(502, true),
            "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n"
            "Connection: close\r\n\r\nBad Gateway\n");
  EXPECT_EQ(ErrorResponse(400, false),
            "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n"
            "Connection: keep-alive\r\n\r\nBad Request\n");
}

TEST(ErrorResponse, BodyAlone) {
  EXPECT_EQ(ErrorBody(502), "Bad Gateway\n");
  EXPECT_EQ(ErrorBody(408), "Request Timeout\n");
  EXPECT_EQ(ErrorBody(299), "Internal Server Error\n");  // unknown statuses are 500s
}

TEST(ErrorResponse, MethodNotAllowedListsAllow) {
  EXPECT_EQ(ErrorResponse(405, true),
            "HTTP/1.1 405 Method Not Allowed\r\n"
            "Allow: GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH, TRACE\r\n"
            "Content-Type: text/plain\r\nContent-Length: 19\r\nConnection: close\r\n\r\n"
            "Method Not Allowed\n");
  Field f[8];
  ResponseHead resp;
  const std::string_view bytes = ErrorResponse(405, false);
  ParseResult r = ParseResponse(bytes, ParseLimits{}, f, &resp);
  ASSERT_EQ(r.status, ParseStatus::kComplete);
  bool allow = false;
  for (const Field& field : resp.fields) {
    if (EqualsIgnoreCase(field.name, "allow")) {
      allow = true;
      EXPECT_EQ(field.value, kAllowedMethods);
    }
  }
  EXPECT_TRUE(allow);
  EXPECT_TRUE(resp.framing.keep_alive);
}

TEST(ErrorResponse, EveryStatusIsAWellFormedResponse) {
  const std::vector<std::pair<uint16_t, std::string>> statuses = {
      {400, "Bad Request"},           {404, "Not Found"},
      {405, "Method Not Allowed"},    {408, "Request Timeout"},
      {413, "Content Too Large"},     {414, "URI Too Long"},
      {421, "Misdirected Request"},   {431, "Request Header Fields Too Large"},
      {500, "Internal Server Error"}, {501, "Not Implemented"},
      {502, "Bad Gateway"},           {503, "Service Unavailable"},
      {504, "Gateway Timeout"},
  };
  for (const auto& [code, reason] : statuses) {
    for (bool close : {false, true}) {
      const std::string_view bytes = ErrorResponse(code, close);
      Field f[8];
      ResponseHead resp;
      ParseResult r = ParseResponse(bytes, ParseLimits{}, f, &resp);
      ASSERT_EQ(r.status, ParseStatus::kComplete) << code;
      EXPECT_EQ(resp.status, code);
      EXPECT_EQ(resp.reason, reason);
      ASSERT_EQ(resp.framing.body, BodyKind::kContentLength);
      const std::string_view body = bytes.substr(r.consumed);
      EXPECT_EQ(resp.framing.content_length, body.size()) << code;
      EXPECT_EQ(body, reason + "\n");
      EXPECT_EQ(resp.framing.keep_alive, !close) << code;
      // Only 405 carries Allow (RFC 9110 section 15.5.6).
      bool allow = false;
      for (const Field& field : resp.fields) allow |= EqualsIgnoreCase(field.name, "allow");
      EXPECT_EQ(allow, code == 405) << code;
      // Static storage: the same bytes every time.
      EXPECT_EQ(ErrorResponse(code, close).data(), bytes.data());
    }
  }
}

TEST(ErrorResponse, UnknownStatusIs500) {
  for (uint16_t code : {0, 200, 401, 406, 999}) {
    EXPECT_EQ(ErrorResponse(code, true), ErrorResponse(500, true)) << code;
    EXPECT_EQ(ErrorResponse(code, false), ErrorResponse(500, false)) << code;
  }
  EXPECT_NE(ErrorResponse(500, true), ErrorResponse(500, false));
  EXPECT_EQ(ErrorResponse(500, true).substr(0, 35), "HTTP/1.1 500 Internal Server Error\r");
}

TEST(ContinueResponse, Bytes) {
  Field f[1];
  ResponseHead resp;
  ParseResult r = ParseResponse(kContinueResponse, ParseLimits{}, f, &resp);
  ASSERT_EQ(r.status, ParseStatus::kComplete);
  EXPECT_EQ(r.consumed, kContinueResponse.size());
  EXPECT_EQ(resp.status, 100);
}

}  // namespace
}  // namespace ringway::http1
