// HTTP/2 message rules (RFC 9113 section 8): every malformed-request rule, checked on
// ParseRequest directly and through a session (RST_STREAM PROTOCOL_ERROR, no OnRequest, the
// connection going on); content-length against DATA; trailers; CONNECT; cookies; response
// heads as sent (":status", lowercase names, no connection-specific fields, 1xx).
#include "proto/h2_request.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "proto/h2_session.h"
#include "tests/proto/h2_session_test_util.h"

namespace ringway::h2 {
namespace {

using testing::Event;
using testing::Fields;
using testing::TestClient;

std::vector<hpack::HeaderField> View(const Fields& f) {
  std::vector<hpack::HeaderField> out;
  for (const auto& [n, v] : f) out.push_back({n, v});
  return out;
}

Fields Base(std::string_view method = "GET") {
  return {{":method", std::string(method)},
          {":scheme", "https"},
          {":authority", "example.com"},
          {":path", "/"}};
}

Fields With(Fields f, std::string name, std::string value) {
  f.emplace_back(std::move(name), std::move(value));
  return f;
}

Fields Without(Fields f, std::string_view name) {
  std::erase_if(f, [&](const auto& p) { return p.first == name; });
  return f;
}

Fields Replace(Fields f, std::string_view name, std::string value) {
  for (auto& p : f) {
    if (p.first == name) p.second = std::move(value);
  }
  return f;
}

struct MalformedCase {
  const char* what;
  Fields fields;
  bool end_stream = true;
};

std::vector<MalformedCase> MalformedCases() {
  const Fields base = Base();
  return {
      // 8.2: uppercase names; 8.2.1: forbidden bytes
      {"uppercase name", With(base, "X-Upper", "1")},
      {"uppercase pseudo name", {{":Method", "GET"}, {":scheme", "https"}, {":path", "/"}}},
      {"empty name", With(base, "", "x")},
      {"space in name", With(base, "x y", "1")},
      {"colon in name", With(base, "x:y", "1")},
      {"non-token name", With(base, "x(y)", "1")},
      {"DEL in name", With(base, "x\x7f", "1")},
      {"high byte in name", With(base, "x\xc3\xa9", "1")},
      {"NUL in value", With(base, "x", std::string("a\0b", 3))},
      {"CR in value", With(base, "x", "a\rb")},
      {"LF in value", With(base, "x", "a\nb")},
      {"leading SP", With(base, "x", " a")},
      {"trailing SP", With(base, "x", "a ")},
      {"leading HTAB", With(base, "x", "\ta")},
      {"trailing HTAB", With(base, "x", "a\t")},
      {"control byte", With(base, "x", "a\x01")},
      {"CR in :path", Replace(base, ":path", "/a\r\nx: y")},
      {"CR in :authority", Replace(base, ":authority", "a\rb")},
      // 8.2.2
      {"connection", With(base, "connection", "close")},
      {"keep-alive", With(base, "keep-alive", "5")},
      {"proxy-connection", With(base, "proxy-connection", "keep-alive")},
      {"transfer-encoding", With(base, "transfer-encoding", "chunked")},
      {"upgrade", With(base, "upgrade", "websocket")},
      {"te gzip", With(base, "te", "gzip")},
      {"te list", With(base, "te", "trailers, gzip")},
      // 8.3
      {"pseudo after regular",
       {{":method", "GET"}, {":scheme", "https"}, {"x", "1"}, {":path", "/"}}},
      {"unknown pseudo", With(base, ":foo", "1")},
      {"response pseudo",
       {{":status", "200"}, {":method", "GET"}, {":scheme", "https"}, {":path", "/"}}},
      {":protocol (extended CONNECT is off)",
       {{":method", "CONNECT"},
        {":protocol", "websocket"},
        {":scheme", "https"},
        {":authority", "a.com"},
        {":path", "/chat"}}},
      {"repeated :method", With(base, ":method", "GET")},
      {"repeated :scheme", With(Without(base, ":path"), ":scheme", "http")},
      {"repeated :path",
       {{":method", "GET"}, {":scheme", "https"}, {":path", "/"}, {":path", "/x"}}},
      {"repeated :authority",
       {{":method", "GET"},
        {":scheme", "https"},
        {":authority", "a"},
        {":authority", "b"},
        {":path", "/"}}},
      // 8.3.1
      {"missing :method", Without(base, ":method")},
      {"missing :scheme", Without(base, ":scheme")},
      {"missing :path", Without(base, ":path")},
      {"empty :path", Replace(base, ":path", "")},
      {"relative :path", Replace(base, ":path", "index.html")},
      {"asterisk for GET", Replace(base, ":path", "*")},
      {"space in :path", Replace(base, ":path", "/a b")},
      {"fragment in :path", Replace(base, ":path", "/a#b")},
      {"bad :method", Replace(base, ":method", "GE T")},
      {"empty :method", Replace(base, ":method", "")},
      {"bad :scheme", Replace(base, ":scheme", "1http")},
      {"empty :authority", Replace(base, ":authority", "")},
      {"userinfo in :authority", Replace(base, ":authority", "user@example.com")},
      {"host differs from :authority", With(base, "host", "other.com")},
      {"two host fields", With(With(Without(base, ":authority"), "host", "a"), "host", "a")},
      // 8.1.1 content-length
      {"content-length not a number", With(base, "content-length", "1x"), false},
      {"content-length negative", With(base, "content-length", "-1"), false},
      {"content-length list", With(base, "content-length", "1, 1"), false},
      {"content-length overflow", With(base, "content-length", "18446744073709551616"), false},
      {"content-length twice", With(With(base, "content-length", "1"), "content-length", "1"),
       false},
      {"content-length without DATA", With(base, "content-length", "10"), true},
      // 8.5
      {"CONNECT with :path", {{":method", "CONNECT"}, {":authority", "a.com:443"}, {":path", "/"}}},
      {"CONNECT with :scheme",
       {{":method", "CONNECT"}, {":authority", "a.com:443"}, {":scheme", "https"}}},
      {"CONNECT without :authority", {{":method", "CONNECT"}}},
  };
}

TEST(Malformed, ParseRequestRefusesEachRule) {
  for (const MalformedCase& k : MalformedCases()) {
    const auto f = View(k.fields);
    Request r;
    const MessageCheck c = ParseRequest(f, k.end_stream, &r);
    EXPECT_FALSE(c.ok) << k.what;
    EXPECT_STRNE(c.detail, "") << k.what;
  }
}

TEST(Malformed, SessionResetsEachWithProtocolError) {
  // One connection for all of them: each is a stream error, the connection goes on, and the
  // request after it (whose block uses the HPACK state every refused block left) is fine.
  TestClient c;
  c.Handshake();
  uint32_t id = 1;
  for (const MalformedCase& k : MalformedCases()) {
    ASSERT_TRUE(c.Feed(c.Headers(id, k.fields, k.end_stream)).ok) << k.what;
    EXPECT_TRUE(c.TakeRst(id, ErrorCode::kProtocolError)) << k.what;
    ASSERT_FALSE(c.events.empty());
    EXPECT_EQ(c.events.back().kind, Event::kRejected) << k.what;
    EXPECT_EQ(c.events.back().status, 400);
    if (!k.end_stream) {
      // DATA already on its way is ignored (the stream was reset by us).
      ASSERT_TRUE(c.Feed(c.Data(id, "x", true)).ok);
      EXPECT_TRUE(c.Output().empty()) << k.what;
    }
    id += 2;
    ASSERT_TRUE(c.Feed(c.Get(id, "/ok")).ok) << k.what;
    ASSERT_EQ(c.events.back().kind, Event::kRequest) << k.what;
    EXPECT_EQ(c.events.back().path, "/ok");
    id += 2;
  }
  EXPECT_EQ(c.handler.Of(Event::kRequest).size(), MalformedCases().size());
  EXPECT_EQ(c.session.stats().malformed_requests, MalformedCases().size());
}

TEST(Malformed, OptionalBadRequestReply) {
  SessionLimits limits;
  limits.reply_to_malformed = true;
  TestClient c(limits);
  c.Handshake();
  ASSERT_TRUE(c.Feed(c.Headers(1, With(Base(), "X-Up", "1"), true)).ok);
  auto out = c.Output();
  ASSERT_EQ(out.size(), 1u);  // the request had ended: the 400 closes the stream
  EXPECT_EQ(out[0].Field(":status"), "400");
  EXPECT_TRUE(out[0].header.has(kFlagEndStream));
  ASSERT_TRUE(c.Feed(c.Headers(3, With(Base("POST"), "X-Up", "1"), false)).ok);
  out = c.Output();
  ASSERT_EQ(out.size(), 2u);  // a body was coming: 400, then RST_STREAM PROTOCOL_ERROR
  EXPECT_EQ(out[0].Field(":status"), "400");
  EXPECT_EQ(out[1].type(), FrameType::kRstStream);
  EXPECT_EQ(out[1].code, ErrorCode::kProtocolError);
}

TEST(Valid, RequestsThatMustPass) {
  const Fields cases[] = {
      Base(),
      {{":method", "OPTIONS"}, {":scheme", "https"}, {":authority", "a"}, {":path", "*"}},
      {{":method", "GET"}, {":scheme", "https"}, {":path", "/"}, {"host", "a.com"}},
      With(Base(), "host", "EXAMPLE.com"),  // same authority, other case
      With(Base(), "te", "trailers"),
      With(Base(), "te", "Trailers"),
      With(Base(), "x", ""),             // empty value
      With(Base(), "x", "a\tb c"),       // inner HTAB and SP
      With(Base(), "x", "caf\xc3\xa9"),  // obs-text
      With(Base(), "x-!#$%&'*+-.^_`|~09", "1"),
      Replace(Base(), ":path", "/a?b=c&d=%20"),
      Replace(Base(), ":authority", "[::1]:8443"),
      Replace(Base(), ":scheme", "custom+scheme"),  // any scheme, :path not checked for '/'
      {{":method", "CONNECT"}, {":authority", "a.com:443"}},
      With(Base("POST"), "content-length", "0"),
  };
  for (const Fields& f : cases) {
    const auto v = View(f);
    Request r;
    const MessageCheck c = ParseRequest(v, true, &r);
    EXPECT_TRUE(c.ok) << c.detail << " for " << f.back().first << ": " << f.back().second;
  }
}

TEST(Valid, RequestViews) {
  const Fields f = {{":method", "POST"},     {":scheme", "http"},     {":path", "/x"},
                    {":authority", "a.com"}, {"content-length", "7"}, {"cookie", "a=1"},
                    {"cookie", "b=2"},       {"host", "a.com"}};
  const auto v = View(f);
  Request r;
  ASSERT_TRUE(ParseRequest(v, false, &r).ok);
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.scheme, "http");
  EXPECT_EQ(r.path, "/x");
  EXPECT_EQ(r.authority, "a.com");
  EXPECT_EQ(r.host, "a.com");
  EXPECT_EQ(r.content_length, 7u);
  EXPECT_TRUE(r.has_body);
  EXPECT_FALSE(r.is_connect);
  ASSERT_EQ(r.fields.size(), 4u);
  EXPECT_EQ(r.fields.data(), v.data() + 4);  // a view, not a copy
  std::string cookie;
  ASSERT_TRUE(JoinCookies(r.fields, &cookie));
  EXPECT_EQ(cookie, "a=1; b=2");
}

TEST(Cookies, JoinedForHttp1) {
  std::string out = "stale";
  EXPECT_FALSE(JoinCookies({}, &out));
  EXPECT_EQ(out, "");
  const Fields one_field = {{"cookie", "a=1"}};
  const auto one = View(one_field);
  ASSERT_TRUE(JoinCookies(one, &out));
  EXPECT_EQ(out, "a=1");
  TestClient c;
  c.Handshake();
  ASSERT_TRUE(
      c.Feed(
           c.Headers(1, With(With(With(Base(), "cookie", "a=1"), "x", "y"), "cookie", "b=2"), true))
          .ok);
  EXPECT_EQ(c.events[0].fields, (Fields{{"cookie", "a=1"}, {"x", "y"}, {"cookie", "b=2"}}));
}

// ---------------------------------------------------------------------------------------------
// content-length against DATA (RFC 9113 section 8.1.1)

TEST(ContentLength, MatchingBodyPasses) {
  TestClient c;
  c.Handshake();
  ASSERT_TRUE(c.Feed(c.Post(1, 5) + c.Data(1, "ab", false) + c.Data(1, "cde", true)).ok);
  EXPECT_TRUE(c.handler.Of(Event::kClosed).empty());
  EXPECT_TRUE(c.events.back().end_stream);
}

TEST(ContentLength, ShortBodyIsMalformed) {
  TestClient c;
  c.Handshake();
  ASSERT_TRUE(c.Feed(c.Post(1, 5) + c.Data(1, "ab", false) + c.Data(1, "cd", true)).ok);
  EXPECT_TRUE(c.TakeRst(1, ErrorCode::kProtocolError));
  // The END_STREAM is never delivered: the proxy learns of the failure instead.
  const auto data = c.handler.Of(Event::kData);
  ASSERT_EQ(data.size(), 1u);
  EXPECT_FALSE(data[0].end_stream);
  EXPECT_EQ(c.events.back().kind, Event::kClosed);
  EXPECT_EQ(c.events.back().code, ErrorCode::kProtocolError);
}

TEST(ContentLength, LongBodyRefusedBeforeDelivery) {
  TestClient c;
  c.Handshake();
  ASSERT_TRUE(c.Feed(c.Post(1, 5) + c.Data(1, "abc", false) + c.Data(1, "def", false)).ok);
  EXPECT_TRUE(c.TakeRst(1, ErrorCode::kProtocolError));
  const auto data = c.handler.Of(Event::kData);
  ASSERT_EQ(data.size(), 1u);  // "def" never reaches the handler
  EXPECT_EQ(data[0].data, "abc");
}

TEST(ContentLength, TrailersCheckTheSum) {
  TestClient c;
  c.Handshake();
  ASSERT_TRUE(
      c.Feed({c.Post(1, 5), c.Data(1, "abc", false), c.Headers(1, {{"x-t", "1"}}, true)}).ok);
  EXPECT_TRUE(c.TakeRst(1, ErrorCode::kProtocolError));
  EXPECT_TRUE(c.handler.Of(Event::kTrailers).empty());
}

// ---------------------------------------------------------------------------------------------
// Trailers (RFC 9113 sections 8.1, 8.3)

TEST(Trailers, Rules) {
  const struct {
    const char* what;
    Fields trailers;
    bool end_stream;
  } cases[] = {
      {"pseudo-header in trailers", {{":path", "/"}}, true},
      {"status in trailers", {{":status", "200"}}, true},
      {"uppercase in trailers", {{"X-T", "1"}}, true},
      {"connection-specific in trailers", {{"connection", "close"}}, true},
      {"second HEADERS without END_STREAM", {{"x-t", "1"}}, false},
  };
  for (const auto& k : cases) {
    TestClient c;
    c.Handshake();
    ASSERT_TRUE(c.Feed({c.Post(1), c.Headers(1, k.trailers, k.end_stream)}).ok) << k.what;
    EXPECT_TRUE(c.TakeRst(1, ErrorCode::kProtocolError)) << k.what;
    EXPECT_TRUE(c.handler.Of(Event::kTrailers).empty());
    EXPECT_EQ(c.events.back().kind, Event::kClosed);
    ASSERT_TRUE(c.Feed(c.Get(3)).ok);
  }
}

TEST(Trailers, HeadersAfterTrailers) {
  // Trailers end the request: the stream is half-closed (remote), and a HEADERS after them is
  // the stream error STREAM_CLOSED of RFC 9113 section 5.1 (h2spec 5.1 expects that code).
  TestClient c;
  c.Handshake();
  ASSERT_TRUE(c.Feed({c.Post(1), c.Data(1, "x", false), c.Headers(1, {{"x-t", "1"}}, true),
                      c.Headers(1, {{"x-u", "2"}}, true)})
                  .ok);
  EXPECT_EQ(c.handler.Of(Event::kTrailers).size(), 1u);
  EXPECT_TRUE(c.TakeRst(1, ErrorCode::kStreamClosed));
  EXPECT_EQ(c.events.back().kind, Event::kClosed);
  ASSERT_TRUE(c.Feed(c.Get(3)).ok);
  EXPECT_EQ(c.events.back().kind, Event::kRequest);
}

TEST(Trailers, CheckTrailersDirectly) {
  EXPECT_TRUE(CheckTrailers(View({{"grpc-status", "0"}, {"x", "y"}})).ok);
  EXPECT_FALSE(CheckTrailers(View({{":path", "/"}})).ok);
  EXPECT_FALSE(CheckTrailers(View({{"x", "a\nb"}})).ok);
  EXPECT_FALSE(CheckTrailers(View({{"transfer-encoding", "chunked"}})).ok);
}

// ---------------------------------------------------------------------------------------------
// CONNECT (RFC 9113 section 8.5)

TEST(Connect, ParsedForTheProxyToRefuse) {
  TestClient c;
  c.Handshake();
  ASSERT_TRUE(
      c.Feed(c.Headers(1, {{":method", "CONNECT"}, {":authority", "db.internal:5432"}}, false)).ok);
  ASSERT_EQ(c.events.size(), 1u);
  EXPECT_TRUE(c.events[0].is_connect);
  EXPECT_EQ(c.events[0].authority, "db.internal:5432");
  EXPECT_EQ(c.events[0].path, "");
  ASSERT_TRUE(c.session.SubmitResponse(1, {405}, true));
  EXPECT_EQ(c.Output()[0].Field(":status"), "405");
}

// ---------------------------------------------------------------------------------------------
// Responses (RFC 9113 sections 8.2, 8.2.2, 8.3.2, 8.6)

TEST(Response, StatusFirstNamesLowercasedConnectionFieldsDropped) {
  TestClient c;
  c.Handshake();
  ASSERT_TRUE(c.Feed(c.Get(1)).ok);
  const hpack::HeaderField f[] = {
      {"Content-Type", "text/html"},
      {"Connection", "keep-alive, X-Hop"},
      {"Keep-Alive", "timeout=5"},
      {"Proxy-Connection", "close"},
      {"Transfer-Encoding", "chunked"},
      {"Upgrade", "h2c"},
      {"TE", "trailers"},
      {"X-Hop", "nominated by Connection"},
      {":status", "500"},             // pseudo-headers come from `status` only
      {"X-Bad", "a\r\nInjected: 1"},  // not representable: dropped
      {"Set-Cookie", "a=1"},
      {"Set-Cookie", "b=2"},
  };
  ASSERT_TRUE(c.session.SubmitResponse(1, {404, f}, true));
  const auto out = c.Output();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].fields, (Fields{{":status", "404"},
                                   {"content-type", "text/html"},
                                   {"set-cookie", "a=1"},
                                   {"set-cookie", "b=2"}}));
}

TEST(Response, NeverIndexedTravels) {
  std::vector<hpack::HeaderField> out;
  std::string names;
  char digits[3];
  const hpack::HeaderField in[] = {{"Authorization", "secret", true}};
  BuildResponseFields(200, in, digits, &out, &names);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].name, ":status");
  EXPECT_EQ(out[0].value, "200");
  EXPECT_EQ(out[1].name, "authorization");
  EXPECT_TRUE(out[1].never_indexed);
}

TEST(Response, InterimHeads) {
  TestClient c;
  c.Handshake();
  ASSERT_TRUE(c.Feed(c.Get(1)).ok);
  const hpack::HeaderField link[] = {{"Link", "</style.css>; rel=preload"}};
  EXPECT_FALSE(c.session.SubmitResponse(1, {101}, false));  // no 101 in HTTP/2
  EXPECT_FALSE(c.session.SubmitResponse(1, {103}, true));   // 1xx cannot end it
  EXPECT_FALSE(c.session.SubmitResponse(1, {99}, false));
  EXPECT_FALSE(c.session.SubmitResponse(1, {1000}, false));
  ASSERT_TRUE(c.session.SubmitResponse(1, {103, link}, false));
  ASSERT_TRUE(c.session.SubmitResponse(1, {100}, false));
  ASSERT_TRUE(c.session.SubmitResponse(1, {200}, true));
  EXPECT_FALSE(c.session.SubmitResponse(1, {200}, true));
  const auto out = c.Output();
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].Field(":status"), "103");
  EXPECT_EQ(out[0].Field("link"), "</style.css>; rel=preload");
  EXPECT_FALSE(out[0].header.has(kFlagEndStream));
  EXPECT_EQ(out[1].Field(":status"), "100");
  EXPECT_EQ(out[2].Field(":status"), "200");
  EXPECT_TRUE(out[2].header.has(kFlagEndStream));
}

TEST(FieldRules, NamesAndValues) {
  EXPECT_TRUE(IsValidFieldName("x-forwarded-for"));
  EXPECT_FALSE(IsValidFieldName(""));
  EXPECT_FALSE(IsValidFieldName("X"));
  EXPECT_FALSE(IsValidFieldName(":path"));
  EXPECT_TRUE(IsValidFieldValue(""));
  EXPECT_TRUE(IsValidFieldValue("a b\tc"));
  EXPECT_FALSE(IsValidFieldValue(" a"));
  EXPECT_FALSE(IsValidFieldValue(std::string_view("\0", 1)));
  EXPECT_FALSE(IsValidFieldValue("\x7f"));
}

// Every byte value at every position of values of 1 to 24 bytes (words and tails), against the
// definition: HTAB, SP, VCHAR and obs-text, no leading or trailing whitespace.
TEST(H2Request, FieldValueEveryByteEveryPosition) {
  for (size_t len = 1; len <= 24; ++len) {
    for (size_t pos = 0; pos < len; ++pos) {
      for (int b = 0; b < 256; ++b) {
        std::string v(len, 'x');
        v[pos] = static_cast<char>(b);
        const bool edge = pos == 0 || pos == len - 1;
        const bool ws = b == ' ' || b == '\t';
        const bool ok = (b == '\t' || (b >= 0x20 && b != 0x7f)) && !(edge && ws);
        ASSERT_EQ(IsValidFieldValue(v), ok) << "len " << len << " pos " << pos << " byte " << b;
      }
    }
  }
  for (const char* n :
       {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"}) {
    EXPECT_TRUE(IsConnectionSpecificField(n)) << n;
  }
  EXPECT_FALSE(IsConnectionSpecificField("te"));
  EXPECT_FALSE(IsConnectionSpecificField("content-length"));
}

// ---------------------------------------------------------------------------------------------
// Extended CONNECT (RFC 8441 sections 4, 5): :protocol with CONNECT, when the server announced
// SETTINGS_ENABLE_CONNECT_PROTOCOL (extended_connect), needs :scheme, :path and :authority.

Fields WebSocketConnect() {
  return {{":method", "CONNECT"},
          {":protocol", "websocket"},
          {":scheme", "https"},
          {":authority", "chat.example.com"},
          {":path", "/chat?room=1"},
          {"sec-websocket-version", "13"},
          {"sec-websocket-protocol", "chat, superchat"},
          {"sec-websocket-extensions", "permessage-deflate"},
          {"origin", "https://chat.example.com"}};
}

TEST(ExtendedConnect, WebSocketRequestParsed) {
  const Fields f = WebSocketConnect();
  const auto v = View(f);
  Request r;
  const MessageCheck c = ParseRequest(v, /*end_stream=*/false, &r, /*extended_connect=*/true);
  ASSERT_TRUE(c.ok) << c.detail;
  EXPECT_EQ(r.method, "CONNECT");
  EXPECT_TRUE(r.is_connect);
  EXPECT_EQ(r.protocol, "websocket");
  EXPECT_EQ(r.scheme, "https");
  EXPECT_EQ(r.authority, "chat.example.com");
  EXPECT_EQ(r.path, "/chat?room=1");
  EXPECT_TRUE(r.has_body);
  EXPECT_FALSE(r.content_length.has_value());
  ASSERT_EQ(r.fields.size(), 4u);
  EXPECT_EQ(r.fields.data(), v.data() + 5);  // the regular fields, as a view
  EXPECT_EQ(r.fields[0].name, "sec-websocket-version");
  EXPECT_EQ(r.fields[0].value, "13");
  EXPECT_EQ(r.fields[1].value, "chat, superchat");
  EXPECT_EQ(r.fields[2].value, "permessage-deflate");
}

TEST(ExtendedConnect, AcceptedForms) {
  const Fields cases[] = {
      WebSocketConnect(),
      // The pseudo-header fields in any order.
      {{":path", "/ws"},
       {":authority", "a.com"},
       {":protocol", "websocket"},
       {":scheme", "http"},
       {":method", "CONNECT"}},
      // With a port, an IPv6 literal, a matching host field.
      Replace(WebSocketConnect(), ":authority", "chat.example.com:8443"),
      Replace(WebSocketConnect(), ":authority", "[::1]:8080"),
      With(WebSocketConnect(), "host", "CHAT.example.com"),
      // Any token as :protocol: the proxy, not the parser, says which ones it serves.
      Replace(WebSocketConnect(), ":protocol", "foo"),
      Replace(WebSocketConnect(), ":protocol", "connect-udp"),
      Replace(WebSocketConnect(), ":protocol", "WebSocket"),
      // Without the optional WebSocket fields.
      {{":method", "CONNECT"},
       {":protocol", "websocket"},
       {":scheme", "https"},
       {":authority", "a.com"},
       {":path", "/"}},
      // content-length: 0 on CONNECT is just a field.
      With(WebSocketConnect(), "content-length", "0"),
  };
  for (const Fields& f : cases) {
    const auto v = View(f);
    for (const bool end_stream : {false, true}) {
      Request r;
      const MessageCheck c = ParseRequest(v, end_stream, &r, /*extended_connect=*/true);
      EXPECT_TRUE(c.ok) << c.detail << " for " << f[1].second << " " << f.back().second;
      EXPECT_TRUE(r.is_connect);
      EXPECT_FALSE(r.protocol.empty());
      EXPECT_EQ(r.has_body, !end_stream);
    }
  }
}

TEST(ExtendedConnect, PlainRequestsUnchangedWhenEnabled) {
  // Turning extended CONNECT on changes nothing for requests without :protocol: plain CONNECT
  // keeps the RFC 9113 section 8.5 form, and every malformed case stays malformed.
  const Fields plain = {{":method", "CONNECT"}, {":authority", "db.internal:5432"}};
  const auto pv = View(plain);
  Request r;
  const MessageCheck pc = ParseRequest(pv, false, &r, /*extended_connect=*/true);
  ASSERT_TRUE(pc.ok) << pc.detail;
  EXPECT_TRUE(r.is_connect);
  EXPECT_EQ(r.protocol, "");
  EXPECT_EQ(r.scheme, "");
  EXPECT_EQ(r.path, "");
  const Fields base = Base();  // (View keeps views into it: it must outlive them)
  const auto gv = View(base);
  ASSERT_TRUE(ParseRequest(gv, true, &r, /*extended_connect=*/true).ok);
  EXPECT_FALSE(r.is_connect);
  EXPECT_EQ(r.protocol, "");
  for (const MalformedCase& k : MalformedCases()) {
    if (std::string_view(k.what).find(":protocol") != std::string_view::npos) continue;
    const auto f = View(k.fields);
    Request out;
    EXPECT_FALSE(ParseRequest(f, k.end_stream, &out, /*extended_connect=*/true).ok) << k.what;
  }
}

std::vector<MalformedCase> MalformedExtendedConnectCases() {
  const Fields ws = WebSocketConnect();
  return {
      // RFC 8441 section 4: :protocol only with CONNECT.
      {":protocol on GET", With(Base("GET"), ":protocol", "websocket")},
      {":protocol on POST",
       {{":method", "POST"},
        {":protocol", "websocket"},
        {":scheme", "https"},
        {":authority", "a.com"},
        {":path", "/"}}},
      {":protocol without :method", Without(ws, ":method")},
      // ... and then :scheme, :path and :authority are all needed.
      {"without :scheme", Without(ws, ":scheme")},
      {"without :path", Without(ws, ":path")},
      {"without :authority", Without(ws, ":authority")},
      {"without :scheme and :path", Without(Without(ws, ":scheme"), ":path")},
      {"only :method and :protocol", {{":method", "CONNECT"}, {":protocol", "websocket"}}},
      {"host instead of :authority", With(Without(ws, ":authority"), "host", "a.com")},
      // :protocol's own value.
      {"empty :protocol", Replace(ws, ":protocol", "")},
      {"space in :protocol", Replace(ws, ":protocol", "web socket")},
      {"slash in :protocol", Replace(ws, ":protocol", "websocket/13")},
      {"CRLF in :protocol", Replace(ws, ":protocol", "websocket\r\nx: y")},
      {"leading SP in :protocol", Replace(ws, ":protocol", " websocket")},
      {"repeated :protocol",
       {{":method", "CONNECT"},
        {":protocol", "websocket"},
        {":protocol", "websocket"},
        {":scheme", "https"},
        {":authority", "a.com"},
        {":path", "/"}}},
      {":protocol after a regular field",
       {{":method", "CONNECT"},
        {":scheme", "https"},
        {":authority", "a.com"},
        {":path", "/"},
        {"sec-websocket-version", "13"},
        {":protocol", "websocket"}}},
      // The :path and :authority rules of other requests.
      {"empty :path", Replace(ws, ":path", "")},
      {"relative :path", Replace(ws, ":path", "chat")},
      {"asterisk :path", Replace(ws, ":path", "*")},
      {"space in :path", Replace(ws, ":path", "/a b")},
      {"bad :scheme", Replace(ws, ":scheme", "1ws")},
      {"empty :authority", Replace(ws, ":authority", "")},
      {"userinfo in :authority", Replace(ws, ":authority", "u@a.com")},
      {"host differs from :authority", With(ws, "host", "other.com")},
      // HTTP/1.1 handshake fields have no place in HTTP/2 (RFC 8441 section 5).
      {"upgrade field", With(ws, "upgrade", "websocket")},
      {"connection field", With(ws, "connection", "upgrade")},
      {"uppercase field name", With(ws, "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")},
      {"response pseudo-header", With(Without(ws, "origin"), ":status", "200")},
      {"unknown pseudo-header",
       {{":method", "CONNECT"},
        {":protocol", "websocket"},
        {":scheme", "https"},
        {":authority", "a.com"},
        {":path", "/"},
        {":foo", "1"}}},
  };
}

TEST(ExtendedConnect, MalformedForms) {
  for (const MalformedCase& k : MalformedExtendedConnectCases()) {
    const auto f = View(k.fields);
    Request r;
    const MessageCheck c = ParseRequest(f, k.end_stream, &r, /*extended_connect=*/true);
    EXPECT_FALSE(c.ok) << k.what;
    EXPECT_STRNE(c.detail, "") << k.what;
  }
}

TEST(ExtendedConnect, RefusedWhenNotAnnounced) {
  // Without SETTINGS_ENABLE_CONNECT_PROTOCOL, :protocol is an unknown pseudo-header field: the
  // well-formed WebSocket request and every form above are malformed (the default argument
  // and an explicit false alike).
  const Fields ws = WebSocketConnect();  // (outlives the views)
  const auto v = View(ws);
  Request r;
  MessageCheck c = ParseRequest(v, false, &r);
  EXPECT_FALSE(c.ok);
  EXPECT_STREQ(c.detail, "unknown pseudo-header field");
  c = ParseRequest(v, false, &r, /*extended_connect=*/false);
  EXPECT_FALSE(c.ok);
  for (const MalformedCase& k : MalformedExtendedConnectCases()) {
    const auto f = View(k.fields);
    EXPECT_FALSE(ParseRequest(f, k.end_stream, &r, /*extended_connect=*/false).ok) << k.what;
  }
  // Requests without :protocol parse the same either way.
  const Fields plain = {{":method", "CONNECT"}, {":authority", "a.com:443"}};
  const auto pv = View(plain);
  EXPECT_TRUE(ParseRequest(pv, false, &r, /*extended_connect=*/false).ok);
  const Fields base = Base();  // (View keeps views into it: it must outlive them)
  const auto gv = View(base);
  EXPECT_TRUE(ParseRequest(gv, true, &r, /*extended_connect=*/false).ok);
}

TEST(ExtendedConnect, OutUntouchedOnFailure) {
  Request r;
  r.method = "untouched";
  const Fields no_path = Without(WebSocketConnect(), ":path");  // (outlives the views)
  const auto v = View(no_path);
  ASSERT_FALSE(ParseRequest(v, false, &r, true).ok);
  EXPECT_EQ(r.method, "untouched");
  EXPECT_EQ(r.protocol, "");
}

TEST(ExtendedConnect, SessionResetsMalformedAndGoesOn) {
  // Through a session that announced the setting: each malformed form is RST_STREAM
  // PROTOCOL_ERROR, no OnRequest, and a WebSocket CONNECT after it on the same connection is
  // delivered.
  SessionLimits limits;
  limits.enable_connect_protocol = true;
  TestClient c(limits);
  c.Handshake();
  std::vector<std::string> protocols;
  c.handler.on_request = [&](uint32_t, const Request& r, bool) {
    protocols.emplace_back(r.protocol);
  };
  uint32_t id = 1;
  for (const MalformedCase& k : MalformedExtendedConnectCases()) {
    ASSERT_TRUE(c.Feed(c.Headers(id, k.fields, /*end_stream=*/false)).ok) << k.what;
    EXPECT_TRUE(c.TakeRst(id, ErrorCode::kProtocolError)) << k.what;
    ASSERT_FALSE(c.events.empty());
    EXPECT_EQ(c.events.back().kind, Event::kRejected) << k.what;
    id += 2;
    ASSERT_TRUE(c.Feed(c.Headers(id, WebSocketConnect(), false)).ok) << k.what;
    ASSERT_EQ(c.events.back().kind, Event::kRequest) << k.what;
    EXPECT_TRUE(c.events.back().is_connect);
    EXPECT_EQ(c.events.back().path, "/chat?room=1");
    ASSERT_TRUE(c.Feed(c.Rst(id)).ok);
    id += 2;
  }
  EXPECT_EQ(protocols.size(), MalformedExtendedConnectCases().size());
  for (const std::string& p : protocols) EXPECT_EQ(p, "websocket");
  EXPECT_EQ(c.session.stats().malformed_requests, MalformedExtendedConnectCases().size());
  EXPECT_FALSE(c.session.failed());
}

}  // namespace
}  // namespace ringway::h2
