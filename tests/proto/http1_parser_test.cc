#include "proto/http1_parser.h"

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/proto/guarded_buffer.h"

namespace ringway::http1 {
namespace {

using ringway::testing_util::GuardedBuffer;

using namespace std::string_literals;

// Field storage lives on the heap so that the head's span stays valid when a result moves.
struct Req {
  ParseResult r;
  RequestHead head;
  std::unique_ptr<Field[]> fields = std::make_unique<Field[]>(100);
};

struct Resp {
  ParseResult r;
  ResponseHead head;
  std::unique_ptr<Field[]> fields = std::make_unique<Field[]>(100);
};

Req ParseReq(std::string_view in, const ParseLimits& limits = {}) {
  Req q;
  q.r = ParseRequest(in, limits, std::span<Field>(q.fields.get(), 100), &q.head);
  return q;
}

Resp ParseResp(std::string_view in, const ParseLimits& limits = {}) {
  Resp q;
  q.r = ParseResponse(in, limits, std::span<Field>(q.fields.get(), 100), &q.head);
  return q;
}

std::string_view FieldValue(std::span<const Field> fields, std::string_view name) {
  for (const Field& f : fields) {
    if (EqualsIgnoreCase(f.name, name)) return f.value;
  }
  return "<absent>";
}

// ---------------------------------------------------------------------------------------------
// Valid requests

TEST(Http1Request, SimpleGet) {
  const std::string in =
      "GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.0\r\n"
      "Accept: */*\r\n\r\n";
  Req q = ParseReq(in);
  ASSERT_EQ(q.r.status, ParseStatus::kComplete) << q.r.error;
  EXPECT_EQ(q.r.consumed, in.size());
  EXPECT_EQ(q.head.method, "GET");
  EXPECT_EQ(q.head.target, "/index.html?q=1");
  EXPECT_EQ(q.head.version_minor, 1);
  ASSERT_EQ(q.head.fields.size(), 3u);
  EXPECT_EQ(q.head.fields[0].name, "Host");
  EXPECT_EQ(q.head.fields[0].value, "example.com");
  EXPECT_EQ(q.head.fields[1].name, "User-Agent");
  EXPECT_EQ(q.head.fields[1].value, "curl/8.0");
  EXPECT_EQ(q.head.fields[2].value, "*/*");
  EXPECT_EQ(q.head.framing.body, BodyKind::kNone);
  EXPECT_TRUE(q.head.framing.keep_alive);
  EXPECT_FALSE(q.head.framing.expect_continue);
  EXPECT_FALSE(q.head.framing.upgrade);
  EXPECT_EQ(q.head.framing.host, "example.com");
  // Views point into the input.
  EXPECT_EQ(q.head.method.data(), in.data());
  EXPECT_EQ(q.head.fields[0].name.data(), in.data() + in.find("Host"));
}

TEST(Http1Request, OnlyTheHeadIsConsumed) {
  const std::string head = "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n";
  Req q = ParseReq(head + "helloGET / HTTP/1.1\r\n");
  ASSERT_EQ(q.r.status, ParseStatus::kComplete);
  EXPECT_EQ(q.r.consumed, head.size());
  EXPECT_EQ(q.head.framing.body, BodyKind::kContentLength);
  EXPECT_EQ(q.head.framing.content_length, 5u);
}

TEST(Http1Request, BareLfLineEndings) {
  Req q = ParseReq("GET / HTTP/1.1\nHost: h\nX: y\n\n");
  ASSERT_EQ(q.r.status, ParseStatus::kComplete);
  EXPECT_EQ(q.r.consumed, 29u);
  ASSERT_EQ(q.head.fields.size(), 2u);
  EXPECT_EQ(q.head.fields[1].value, "y");
}

TEST(Http1Request, LeadingEmptyLinesAreSkipped) {
  const std::string in = "\r\n\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n";
  Req q = ParseReq(in);
  ASSERT_EQ(q.r.status, ParseStatus::kComplete);
  EXPECT_EQ(q.r.consumed, in.size());
  EXPECT_EQ(q.head.method, "GET");
}

TEST(Http1Request, ValueWhitespaceIsTrimmed) {
  Req q = ParseReq("GET / HTTP/1.1\r\nHost:h\r\nA: \t a b \t \r\nB:\r\nC:   \r\nD:x\t\r\n\r\n");
  ASSERT_EQ(q.r.status, ParseStatus::kComplete);
  ASSERT_EQ(q.head.fields.size(), 5u);
  EXPECT_EQ(q.head.fields[0].value, "h");
  EXPECT_EQ(q.head.fields[1].value, "a b");
  EXPECT_EQ(q.head.fields[2].value, "");
  EXPECT_EQ(q.head.fields[3].value, "");
  EXPECT_EQ(q.head.fields[4].value, "x");
}

TEST(Http1Request, ObsTextAndLongValuesAccepted) {
  const std::string value = "caf\xc3\xa9 " + std::string(200, 'v') + "\t" + std::string(40, 'w');
  const std::string in = "GET / HTTP/1.1\r\nHost: h\r\nX-Long: " + value + "\r\n\r\n";
  Req q = ParseReq(in);
  ASSERT_EQ(q.r.status, ParseStatus::kComplete) << q.r.error;
  EXPECT_EQ(FieldValue(q.head.fields, "x-long"), value);
}

struct TargetCase {
  std::string method, target;
  TargetForm form;
  std::string authority, origin;
};

std::vector<TargetCase> ValidTargets() {
  using F = TargetForm;
  return {
      {"GET", "/", F::kOrigin, "", "/"},
      {"GET", "/a//b?c=/d?e", F::kOrigin, "", "/a//b?c=/d?e"},
      {"M-SEARCH", "/%20x~!$&'()*+,;=:@", F::kOrigin, "", "/%20x~!$&'()*+,;=:@"},
      {"GET", "/\xe2\x82\xac", F::kOrigin, "", "/\xe2\x82\xac"},
      {"OPTIONS", "/x", F::kOrigin, "", "/x"},
      {"GET", "http://example.com:8080/a?b", F::kAbsolute, "example.com:8080", "/a?b"},
      {"GET", "HTTP://Other.Test/x", F::kAbsolute, "Other.Test", "/x"},
      {"GET", "hTtPs://h", F::kAbsolute, "h", ""},
      {"GET", "http://h?q=1", F::kAbsolute, "h", "?q=1"},
      {"GET", "http://h/", F::kAbsolute, "h", "/"},
      {"GET", "http://h/a//b", F::kAbsolute, "h", "/a//b"},
      {"POST", "https://[2001:db8::1]:8443/p", F::kAbsolute, "[2001:db8::1]:8443", "/p"},
      {"GET", "http://[v1.fe80::a+en1]/", F::kAbsolute, "[v1.fe80::a+en1]", "/"},
      {"GET", "http://192.0.2.1:80/", F::kAbsolute, "192.0.2.1:80", "/"},
      {"GET", "http://[::ffff:192.0.2.1]/", F::kAbsolute, "[::ffff:192.0.2.1]", "/"},
      {"GET", "http://[V1F.x:y]:1/", F::kAbsolute, "[V1F.x:y]:1", "/"},
      {"GET", "http://h:/x", F::kAbsolute, "h:", "/x"},  // RFC 3986 allows an empty port
      {"GET", "http://h:65535", F::kAbsolute, "h:65535", ""},
      {"GET", "http://a-b.c_d~e!$&'()*+,;=%41/", F::kAbsolute, "a-b.c_d~e!$&'()*+,;=%41", "/"},
      {"OPTIONS", "http://h", F::kAbsolute, "h", ""},
      {"OPTIONS", "*", F::kAsterisk, "", "*"},
      {"GET", "//x", F::kOrigin, "", "//x"},  // an empty first segment is a valid path
      {"GET", "//", F::kOrigin, "", "//"},
      {"GET", "http://h//x?y", F::kAbsolute, "h", "//x?y"},
      {"CONNECT", "example.com:443", F::kAuthority, "", "example.com:443"},
      {"CONNECT", "[2001:db8::1]:443", F::kAuthority, "", "[2001:db8::1]:443"},
      {"CONNECT", "192.0.2.1:0", F::kAuthority, "", "192.0.2.1:0"},
  };
}

TEST(Http1Request, TargetForms) {
  for (const TargetCase& c : ValidTargets()) {
    const std::string in = c.method + " " + c.target + " HTTP/1.1\r\nHost: example.com\r\n\r\n";
    Req q = ParseReq(in);
    ASSERT_EQ(q.r.status, ParseStatus::kComplete) << c.target << ": " << q.r.error;
    EXPECT_EQ(q.head.method, c.method);
    EXPECT_EQ(q.head.target, c.target);
    EXPECT_EQ(q.head.form, c.form) << c.target;
    EXPECT_EQ(q.head.authority, c.authority) << c.target;
    EXPECT_EQ(q.head.origin, c.origin) << c.target;
    // Views into the target itself, not copies; the Host field is reported as it was.
    const char* t = q.head.target.data();
    EXPECT_EQ(t, in.data() + c.method.size() + 1);
    EXPECT_GE(q.head.origin.data(), t);
    EXPECT_LE(q.head.origin.data() + q.head.origin.size(), t + q.head.target.size());
    if (!c.authority.empty()) {
      EXPECT_EQ(q.head.authority.data(), t + q.head.target.find("://") + 3) << c.target;
      EXPECT_EQ(q.head.origin.data(), q.head.authority.data() + q.head.authority.size());
      EXPECT_EQ(q.head.origin.data() + q.head.origin.size(), t + q.head.target.size());
    }
    EXPECT_EQ(q.head.framing.host, "example.com");
  }
}

TEST(Http1Request, AbsoluteFormInHttp10NeedsNoHost) {
  Req q = ParseReq("GET http://h.test/x HTTP/1.0\r\n\r\n");
  ASSERT_EQ(q.r.status, ParseStatus::kComplete) << q.r.error;
  EXPECT_EQ(q.head.form, TargetForm::kAbsolute);
  EXPECT_EQ(q.head.authority, "h.test");
  EXPECT_EQ(q.head.framing.host, "");
  // HTTP/1.1 still requires Host, even next to an absolute-form target (RFC 9112 3.2).
  q = ParseReq("GET http://h.test/x HTTP/1.1\r\n\r\n");
  EXPECT_EQ(q.r.status, ParseStatus::kError);
  EXPECT_EQ(q.r.error_status, 400);
}

struct TargetReject {
  const char* what;
  std::string method, target;
  const char* error;  // a part of the expected error text
};

const std::vector<TargetReject>& TargetRejections() {
  static const std::vector<TargetReject> v = {
      {"CONNECT origin-form", "CONNECT", "/", "CONNECT needs an authority-form"},
      {"CONNECT absolute-form", "CONNECT", "http://h:443/", "CONNECT needs an authority-form"},
      {"CONNECT asterisk", "CONNECT", "*", "CONNECT needs an authority-form"},
      {"CONNECT without port", "CONNECT", "example.com", "CONNECT needs an authority-form"},
      {"CONNECT empty port", "CONNECT", "example.com:", "CONNECT needs an authority-form"},
      {"CONNECT port too big", "CONNECT", "h:65536", "CONNECT needs an authority-form"},
      {"CONNECT port too long", "CONNECT", "h:000443", "CONNECT needs an authority-form"},
      {"CONNECT empty host", "CONNECT", ":443", "CONNECT needs an authority-form"},
      {"CONNECT userinfo", "CONNECT", "u@h:443", "CONNECT needs an authority-form"},
      {"CONNECT two ports", "CONNECT", "h:443:80", "CONNECT needs an authority-form"},
      {"asterisk with GET", "GET", "*", "asterisk-form target without OPTIONS"},
      {"asterisk lower-case options", "options", "*", "asterisk-form target without OPTIONS"},
      {"star then more", "OPTIONS", "*x", "invalid request target"},
      {"authority-form with GET", "GET", "example.com:443",
       "authority-form target without CONNECT"},
      {"authority-form with lower-case connect", "connect", "h:443",
       "authority-form target without CONNECT"},
      {"at-sign start", "GET", "@host/x", "invalid request target"},
      {"relative path", "GET", "x/y", "invalid request target"},
      {"bare word", "GET", "index.html", "invalid request target"},
      {"scheme with one slash", "GET", "http:/x", "without \"//\""},
      {"scheme without slashes", "GET", "https:h/x", "without \"//\""},
      {"ftp scheme", "GET", "ftp://h/x", "scheme is not http or https"},
      {"httpx scheme", "GET", "httpx://h/", "scheme is not http or https"},
      {"ws scheme", "GET", "ws://h/", "scheme is not http or https"},
      {"javascript scheme", "GET", "javascript:alert(1)", "scheme is not http or https"},
      {"userinfo", "GET", "http://user@h/x", "userinfo"},
      {"userinfo with password", "GET", "http://user:pw@h/x", "userinfo"},
      {"userinfo naming another host", "GET", "http://good.test@evil.test/", "userinfo"},
      {"empty userinfo", "GET", "https://@h/", "userinfo"},
      {"empty authority", "GET", "http:///x", "empty authority"},
      {"empty authority before query", "GET", "http://?x", "empty authority"},
      {"nothing after scheme", "GET", "http://", "empty authority"},
      {"port too big", "GET", "http://h:99999/", "invalid authority"},
      {"port not digits", "GET", "http://h:8a/", "invalid authority"},
      {"two ports", "GET", "http://h:80:80/", "invalid authority"},
      {"empty host with port", "GET", "http://:80/", "invalid authority"},
      {"unclosed IP-literal", "GET", "http://[::1/", "invalid authority"},
      {"empty IP-literal", "GET", "http://[]/", "invalid authority"},
      {"junk after IP-literal", "GET", "http://[::1]x/", "invalid authority"},
      {"bracket in reg-name", "GET", "http://a]b/", "invalid authority"},
      {"nested bracket", "GET", "http://[[::1]]/", "invalid authority"},
      {"name in brackets", "GET", "http://[evil.test]/", "invalid authority"},
      {"IPv6 without colon", "GET", "http://[1234]/", "invalid authority"},
      {"IPv6 zone", "GET", "http://[fe80::1%25en0]/", "invalid authority"},
      {"IPvFuture without dot", "GET", "http://[v1]/", "invalid authority"},
      {"IPvFuture without version", "GET", "http://[v.x]/", "invalid authority"},
      {"IPvFuture empty tail", "GET", "http://[v1.]/", "invalid authority"},
      {"CONNECT name in brackets", "CONNECT", "[h]:443", "CONNECT needs an authority-form"},
      {"quote in authority", "GET", "http://h\"x/", "invalid authority"},
      {"brace in authority", "GET", "http://h{x}/", "invalid authority"},
      {"backslash in authority", "GET", "http://h\\evil/", "invalid authority"},
      {"obs-text in authority", "GET", "http://h\xc3\xa9/", "invalid authority"},
      {"fragment", "GET", "/a#b", "fragment"},
      {"fragment only", "GET", "#", "fragment"},
      {"empty fragment", "GET", "/#", "fragment"},
      {"fragment in absolute-form", "GET", "http://h/#x", "fragment"},
      {"fragment in authority", "GET", "http://h#@evil/", "fragment"},
      {"fragment after asterisk", "OPTIONS", "*#x", "fragment"},
      {"fragment after long path", "GET", "/" + std::string(40, 'p') + "#f", "fragment"},
  };
  return v;
}

TEST(Http1Request, TargetRejections) {
  for (const TargetReject& c : TargetRejections()) {
    Req q = ParseReq(c.method + " " + c.target + " HTTP/1.1\r\nHost: h\r\n\r\n");
    EXPECT_EQ(q.r.status, ParseStatus::kError) << c.what;
    EXPECT_EQ(q.r.error_status, 400) << c.what << ": " << q.r.error;
    EXPECT_NE(std::string_view(q.r.error).find(c.error), std::string_view::npos)
        << c.what << ": " << q.r.error;
  }
}

TEST(Http1Request, Http10DefaultsToClose) {
  Req q = ParseReq("GET / HTTP/1.0\r\n\r\n");
  ASSERT_EQ(q.r.status, ParseStatus::kComplete);
  EXPECT_EQ(q.head.version_minor, 0);
  EXPECT_FALSE(q.head.framing.keep_alive);
  EXPECT_EQ(q.head.framing.host, "");

  q = ParseReq("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
  ASSERT_EQ(q.r.status, ParseStatus::kComplete);
  EXPECT_TRUE(q.head.framing.keep_alive);

  q = ParseReq("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n");
  ASSERT_EQ(q.r.status, ParseStatus::kComplete);
  EXPECT_FALSE(q.head.framing.keep_alive);
}

TEST(Http1Request, ConnectionTokens) {
  struct Case {
    std::string fields;
    bool keep_alive, upgrade;
  } cases[] = {
      {"Connection: close\r\n", false, false},
      {"Connection: CLOSE\r\n", false, false},
      {"Connection: foo,  Close ,bar\r\n", false, false},
      {"Connection: closed\r\n", true, false},
      {"Connection: keep-alive\r\n", true, false},
      {"Connection: foo\r\nConnection: close\r\n", false, false},
      {"Connection: Upgrade\r\nUpgrade: websocket\r\n", true, true},
      {"Upgrade: h2c\r\nConnection: HTTP2-Settings, upgrade\r\n", true, true},
      {"Connection: upgrade\r\n", true, false},
      {"Upgrade: websocket\r\n", true, false},
      {"Connection: upgrade, close\r\nUpgrade: websocket\r\n", false, true},
  };
  for (const Case& c : cases) {
    Req q = ParseReq("GET / HTTP/1.1\r\nHost: h\r\n" + c.fields + "\r\n");
    ASSERT_EQ(q.r.status, ParseStatus::kComplete) << c.fields;
    EXPECT_EQ(q.head.framing.keep_alive, c.keep_alive) << c.fields;
    EXPECT_EQ(q.head.framing.upgrade, c.upgrade) << c.fields;
  }
  // Upgrade is ignored in HTTP/1.0.
  Req q = ParseReq("GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n");
  ASSERT_EQ(q.r.status, ParseStatus::kComplete);
  EXPECT_FALSE(q.head.framing.upgrade);
}

TEST(Http1Request, ExpectContinue) {
  EXPECT_TRUE(ParseReq("PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n")
                  .head.framing.expect_continue);
  EXPECT_TRUE(ParseReq("PUT / HTTP/1.1\r\nHost: h\r\nexpect:  100-Continue \r\n\r\n")
                  .head.framing.expect_continue);
  Req q = ParseReq("PUT / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\n\r\n");
  ASSERT_EQ(q.r.status, ParseStatus::kComplete);
  EXPECT_FALSE(q.head.framing.expect_continue);
  q = ParseReq("PUT / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n");
  ASSERT_EQ(q.r.status, ParseStatus::kComplete);
  EXPECT_FALSE(q.head.framing.expect_continue);
}

TEST(Http1Request, ContentLength) {
  Req q = ParseReq("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
  ASSERT_EQ(q.r.status, ParseStatus::kComplete);
  EXPECT_EQ(q.head.framing.body, BodyKind::kNone);
  EXPECT_EQ(q.head.framing.content_length, 0u);

  q = ParseReq("POST / HTTP/1.1\r\nHost: h\r\ncontent-length:  0042 \r\n\r\n");
  ASSERT_EQ(q.r.status, ParseStatus::kComplete);
  EXPECT_EQ(q.head.framing.body, BodyKind::kContentLength);
  EXPECT_EQ(q.head.framing.content_length, 42u);

  q = ParseReq("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551615\r\n\r\n");
  ASSERT_EQ(q.r.status, ParseStatus::kComplete);
  EXPECT_EQ(q.head.framing.content_length, UINT64_MAX);
}

TEST(Http1Request, Chunked) {
  for (std::string te :
       {"chunked", "Chunked", "CHUNKED", "gzip, chunked", "gzip,chunked", "deflate ,\tchunked"}) {
    Req q = ParseReq("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: " + te + "\r\n\r\n");
    ASSERT_EQ(q.r.status, ParseStatus::kComplete) << te << ": " << q.r.error;
    EXPECT_EQ(q.head.framing.body, BodyKind::kChunked) << te;
  }
  // Codings split across fields form one list.
  Req q = ParseReq(
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: "
      "chunked\r\n\r\n");
  ASSERT_EQ(q.r.status, ParseStatus::kComplete);
  EXPECT_EQ(q.head.framing.body, BodyKind::kChunked);
}

TEST(Http1Request, FieldsBeyondInterestingNamesAreKept) {
  Req q = ParseReq(
      "GET / HTTP/1.1\r\nHost: h\r\nHosts: x\r\nContent-Lengths: y\r\nX_Under: z\r\n"
      "!#$%&'*+-.^_`|~09azAZ: w\r\n\r\n");
  ASSERT_EQ(q.r.status, ParseStatus::kComplete) << q.r.error;
  ASSERT_EQ(q.head.fields.size(), 5u);
  EXPECT_EQ(q.head.framing.body, BodyKind::kNone);
  EXPECT_EQ(q.head.fields[4].name, "!#$%&'*+-.^_`|~09azAZ");
}

// ---------------------------------------------------------------------------------------------
// Rejections

struct Reject {
  const char* what;
  std::string input;
  uint16_t status;
};

const std::vector<Reject>& RequestRejections() {
  static const std::vector<Reject> v = {
      {"NUL in value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n"s, 400},
      {"NUL in name", "GET / HTTP/1.1\r\nHost: h\r\nX\0: a\r\n\r\n"s, 400},
      {"NUL in target", "GET /a\0b HTTP/1.1\r\nHost: h\r\n\r\n"s, 400},
      {"NUL in method", "G\0T / HTTP/1.1\r\nHost: h\r\n\r\n"s, 400},
      {"control in value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\x01z\r\n\r\n", 400},
      {"VT in value",
       "GET / HTTP/1.1\r\nHost: h\r\nContent-Length:\x0b"
       "5\r\n\r\n",
       400},
      {"DEL in value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\x7fz\r\n\r\n", 400},
      {"control in target", "GET /a\x1f HTTP/1.1\r\nHost: h\r\n\r\n", 400},
      {"DEL in target", "GET /a\x7f HTTP/1.1\r\nHost: h\r\n\r\n", 400},
      {"tab in target", "GET /a\tb HTTP/1.1\r\nHost: h\r\n\r\n", 400},
      {"bare CR in value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", 400},
      {"bare CR after request line", "GET / HTTP/1.1\rHost: h\r\n\r\n", 400},
      {"bare CR ending head", "GET / HTTP/1.1\r\nHost: h\r\n\rX", 400},
      {"bare CR before request", "\rGET / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
      {"two spaces", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
      {"space in target", "GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", 400},
      {"trailing space", "GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400},
      {"leading space", " GET / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
      {"bad method char", "G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
      {"no version", "GET /\r\nHost: h\r\n\r\n", 400},
      {"HTTP/1.2", "GET / HTTP/1.2\r\nHost: h\r\n\r\n", 400},
      {"HTTP/2.0", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 400},
      {"HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", 400},
      {"lowercase http", "GET / http/1.1\r\nHost: h\r\n\r\n", 400},
      {"HTTP/1.10", "GET / HTTP/1.10\r\nHost: h\r\n\r\n", 400},
      {"space before colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400},
      {"tab before colon", "GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding\t: chunked\r\n\r\n",
       400},
      {"obs-fold", "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", 400},
      {"obs-fold tab", "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tb\r\n\r\n", 400},
      {"first line folded", "GET / HTTP/1.1\r\n Host: h\r\n\r\n", 400},
      {"empty name", "GET / HTTP/1.1\r\nHost: h\r\n: a\r\n\r\n", 400},
      {"non-token name", "GET / HTTP/1.1\r\nHost: h\r\nX(y): a\r\n\r\n", 400},
      {"no colon", "GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", 400},
      {"obs-text name", "GET / HTTP/1.1\r\nHost: h\r\nX\xc3\xa9: a\r\n\r\n", 400},
      {"CL and TE",
       "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
       400},
      {"TE and CL",
       "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
       400},
      {"CL twice same",
       "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", 400},
      {"CL twice differ",
       "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\ncontent-length: 6\r\n\r\n", 400},
      {"CL list", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\n", 400},
      {"CL empty", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: \r\n\r\n", 400},
      {"CL sign", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\n", 400},
      {"CL negative", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400},
      {"CL hex", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x10\r\n\r\n", 400},
      {"CL inner space", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1 0\r\n\r\n", 400},
      {"CL overflow", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551616\r\n\r\n",
       400},
      {"CL huge", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n",
       400},
      {"TE chunked not last",
       "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400},
      {"TE chunked twice",
       "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400},
      {"TE chunked twice in two fields",
       "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
       "chunked\r\n\r\n",
       400},
      {"TE chunked then gzip field",
       "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
       "gzip\r\n\r\n",
       400},
      {"TE with parameter", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked;q=1\r\n\r\n",
       400},
      {"TE empty", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \r\n\r\n", 400},
      {"TE empty element", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked,\r\n\r\n",
       400},
      {"TE quoted", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", 400},
      {"TE inner space", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chun ked\r\n\r\n", 400},
      {"TE gzip only", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
      {"TE unknown", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n", 501},
      {"TE identity", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n", 501},
      {"TE unknown then chunked",
       "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: foo, chunked\r\n\r\n", 501},
      {"TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
      {"missing Host", "GET / HTTP/1.1\r\nX: y\r\n\r\n", 400},
      {"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400},
      {"two Hosts 1.0", "GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", 400},
      {"Host with space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
      {"Host with userinfo", "GET / HTTP/1.1\r\nHost: user@a\r\n\r\n", 400},
      {"Host with slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400},
  };
  // The target rejections as whole requests, for the prefix and guard-page tests below.
  static const std::vector<Reject> all = [] {
    std::vector<Reject> w = v;
    for (const TargetReject& t : TargetRejections()) {
      w.push_back({t.what, t.method + " " + t.target + " HTTP/1.1\r\nHost: h\r\n\r\n", 400});
    }
    return w;
  }();
  return all;
}

TEST(Http1Request, Rejections) {
  for (const Reject& c : RequestRejections()) {
    Req q = ParseReq(c.input);
    EXPECT_EQ(q.r.status, ParseStatus::kError) << c.what;
    EXPECT_EQ(q.r.error_status, c.status) << c.what << ": " << q.r.error;
    EXPECT_STRNE(q.r.error, "") << c.what;
  }
}

// A rejected input never turns into a complete head when cut short, and once a prefix is
// rejected every longer prefix is rejected too.
TEST(Http1Request, RejectionsAreStableUnderPrefixes) {
  for (const Reject& c : RequestRejections()) {
    bool failed = false;
    for (size_t n = 0; n <= c.input.size(); ++n) {
      Req q = ParseReq(std::string_view(c.input).substr(0, n));
      ASSERT_NE(q.r.status, ParseStatus::kComplete) << c.what << " at " << n;
      if (failed) {
        ASSERT_EQ(q.r.status, ParseStatus::kError) << c.what << " at " << n;
      }
      failed = q.r.status == ParseStatus::kError;
    }
    EXPECT_TRUE(failed) << c.what;
  }
}

// ---------------------------------------------------------------------------------------------
// Limits

TEST(Http1Request, RequestLineLimit) {
  ParseLimits lim;
  lim.max_request_line = 64;
  const std::string prefix = "GET /";
  const std::string suffix = " HTTP/1.1";
  // Exactly at the limit is fine.
  std::string line = prefix + std::string(64 - prefix.size() - suffix.size(), 'a') + suffix;
  ASSERT_EQ(line.size(), 64u);
  Req q = ParseReq(line + "\r\nHost: h\r\n\r\n", lim);
  EXPECT_EQ(q.r.status, ParseStatus::kComplete);
  q = ParseReq(line + "\nHost: h\r\n\r\n", lim);
  EXPECT_EQ(q.r.status, ParseStatus::kComplete);

  // One over, with the whole head present.
  line = prefix + std::string(65 - prefix.size() - suffix.size(), 'a') + suffix;
  q = ParseReq(line + "\r\nHost: h\r\n\r\n", lim);
  EXPECT_EQ(q.r.status, ParseStatus::kError);
  EXPECT_EQ(q.r.error_status, 414);
  q = ParseReq(line + "\n", lim);
  EXPECT_EQ(q.r.error_status, 414);

  // While incomplete: 64 bytes are not yet too many, the 65th (unless a CR) is.
  const std::string endless = "GET /" + std::string(200, 'a');
  q = ParseReq(std::string_view(endless).substr(0, 64), lim);
  EXPECT_EQ(q.r.status, ParseStatus::kIncomplete);
  q = ParseReq(std::string_view(endless).substr(0, 65), lim);
  EXPECT_EQ(q.r.status, ParseStatus::kError);
  EXPECT_EQ(q.r.error_status, 414);
  q = ParseReq(endless, lim);
  EXPECT_EQ(q.r.error_status, 414);

  // A CR right at the limit may still be the line end.
  line = prefix + std::string(64 - prefix.size() - suffix.size(), 'a') + suffix;
  q = ParseReq(line + "\r", lim);
  EXPECT_EQ(q.r.status, ParseStatus::kIncomplete);

  // Leading empty lines do not count against the request line.
  q = ParseReq("\r\n\r\n" + line + "\r\nHost: h\r\n\r\n", lim);
  EXPECT_EQ(q.r.status, ParseStatus::kComplete);
}

TEST(Http1Request, HugeLimitsDoNotOverflow) {
  ParseLimits lim;
  lim.max_request_line = SIZE_MAX;
  lim.max_head = SIZE_MAX;
  lim.max_fields = SIZE_MAX;
  Req q = ParseReq("GET / HTTP/1.1\r\nHost: h\r\n\r\n", lim);
  EXPECT_EQ(q.r.status, ParseStatus::kComplete);
  q = ParseReq("GET /" + std::string(100, 'a'), lim);
  EXPECT_EQ(q.r.status, ParseStatus::kIncomplete);
  lim.max_request_line = SIZE_MAX - 1;
  q = ParseReq("GET /" + std::string(100, 'a'), lim);
  EXPECT_EQ(q.r.status, ParseStatus::kIncomplete);
  Resp r = ParseResp("HTTP/1.1 200 OK\r\n\r\n", lim);
  EXPECT_EQ(r.r.status, ParseStatus::kComplete);
}

TEST(Http1Request, HeadLimit) {
  ParseLimits lim;
  lim.max_head = 100;
  const std::string start = "GET / HTTP/1.1\r\nHost: h\r\n";  // 25 bytes
  // Exactly max_head bytes including the final CRLF.
  std::string in = start + "X: " + std::string(100 - start.size() - 3 - 4, 'v') + "\r\n\r\n";
  ASSERT_EQ(in.size(), 100u);
  Req q = ParseReq(in, lim);
  EXPECT_EQ(q.r.status, ParseStatus::kComplete);
  EXPECT_EQ(q.r.consumed, 100u);
  // More input after a head that fits is fine.
  q = ParseReq(in + "BODY BYTES", lim);
  EXPECT_EQ(q.r.status, ParseStatus::kComplete);

  // One byte more.
  in = start + "X: " + std::string(100 - start.size() - 3 - 3, 'v') + "\r\n\r\n";
  q = ParseReq(in, lim);
  EXPECT_EQ(q.r.status, ParseStatus::kError);
  EXPECT_EQ(q.r.error_status, 431);
  // Still incomplete but already over.
  q = ParseReq(start + std::string(200, 'x'), lim);
  EXPECT_EQ(q.r.status, ParseStatus::kError);
  EXPECT_EQ(q.r.error_status, 431);
  // Incomplete at the limit is still incomplete.
  q = ParseReq((start + std::string(200, 'x')).substr(0, 100), lim);
  EXPECT_EQ(q.r.status, ParseStatus::kIncomplete);
  // Endless empty lines before a request are bounded by the head limit too.
  q = ParseReq(std::string(202, '\n'), lim);
  EXPECT_EQ(q.r.error_status, 431);
}

TEST(Http1Request, FieldCountLimit) {
  ParseLimits lim;
  lim.max_fields = 5;
  std::string in = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (int i = 0; i < 4; ++i) in += "X" + std::to_string(i) + ": v\r\n";
  Req q = ParseReq(in + "\r\n", lim);
  ASSERT_EQ(q.r.status, ParseStatus::kComplete);
  EXPECT_EQ(q.head.fields.size(), 5u);

  q = ParseReq(in + "X9: v\r\n\r\n", lim);
  EXPECT_EQ(q.r.status, ParseStatus::kError);
  EXPECT_EQ(q.r.error_status, 431);

  // Storage smaller than max_fields is a limit too.
  Field small[3];
  RequestHead head;
  ParseResult r = ParseRequest(in + "\r\n", ParseLimits{}, small, &head);
  EXPECT_EQ(r.status, ParseStatus::kError);
  EXPECT_EQ(r.error_status, 431);
  r = ParseRequest("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n", ParseLimits{}, small,
                   &head);
  EXPECT_EQ(r.status, ParseStatus::kComplete);
  EXPECT_EQ(head.fields.size(), 3u);

  // No storage at all: only a head without fields parses.
  r = ParseRequest("GET / HTTP/1.0\r\n\r\n", ParseLimits{}, std::span<Field>(), &head);
  EXPECT_EQ(r.status, ParseStatus::kComplete);
  r = ParseRequest("GET / HTTP/1.1\r\nHost: h\r\n\r\n", ParseLimits{}, std::span<Field>(), &head);
  EXPECT_EQ(r.error_status, 431);
}

// ---------------------------------------------------------------------------------------------
// Split input: every proper prefix is incomplete, the whole gives the same result.

std::vector<std::string> ValidRequests() {
  return {
      "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
      "GET / HTTP/1.0\r\n\r\n",
      "GET / HTTP/1.0\n\n",
      "\r\n\nGET /x HTTP/1.1\nHost: a\n\n",
      "POST /upload?id=1 HTTP/1.1\r\nHost: example.com:8080\r\nContent-Length: 12\r\n"
      "Content-Type: application/json\r\nExpect: 100-continue\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
      "GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
      "GET /" + std::string(100, 'p') + " HTTP/1.1\r\nHost: h\r\nCookie: " + std::string(300, 'c') +
          "\r\nA:\r\nB: \t\r\n\r\n",
      "GET HTTP://Example.test:8080/a?b HTTP/1.1\r\nHost: other\r\n\r\n",
      "GET https://[::1]?q HTTP/1.0\r\n\r\n",
      "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
      "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
  };
}

TEST(Http1Request, SplitAtEveryByte) {
  for (const std::string& in : ValidRequests()) {
    Req whole = ParseReq(in);
    ASSERT_EQ(whole.r.status, ParseStatus::kComplete) << in << whole.r.error;
    ASSERT_EQ(whole.r.consumed, in.size());
    for (size_t n = 0; n < in.size(); ++n) {
      Req part = ParseReq(std::string_view(in).substr(0, n));
      ASSERT_EQ(part.r.status, ParseStatus::kIncomplete) << "prefix " << n << " of " << in;
    }
    // A buffer that grows one byte at a time ends in the same result.
    std::string buf;
    Req last;
    for (char c : in) {
      buf.push_back(c);
      last = ParseReq(buf);
    }
    ASSERT_EQ(last.r.status, ParseStatus::kComplete);
    EXPECT_EQ(last.r.consumed, whole.r.consumed);
    EXPECT_EQ(last.head.method, whole.head.method);
    EXPECT_EQ(last.head.target, whole.head.target);
    EXPECT_EQ(last.head.form, whole.head.form);
    EXPECT_EQ(last.head.authority, whole.head.authority);
    EXPECT_EQ(last.head.origin, whole.head.origin);
    ASSERT_EQ(last.head.fields.size(), whole.head.fields.size());
    for (size_t i = 0; i < whole.head.fields.size(); ++i) {
      EXPECT_EQ(last.head.fields[i].name, whole.head.fields[i].name);
      EXPECT_EQ(last.head.fields[i].value, whole.head.fields[i].value);
    }
    EXPECT_EQ(last.head.framing.body, whole.head.framing.body);
    EXPECT_EQ(last.head.framing.content_length, whole.head.framing.content_length);
    EXPECT_EQ(last.head.framing.keep_alive, whole.head.framing.keep_alive);
    EXPECT_EQ(last.head.framing.upgrade, whole.head.framing.upgrade);
    EXPECT_EQ(last.head.framing.expect_continue, whole.head.framing.expect_continue);
  }
}

// ---------------------------------------------------------------------------------------------
// Guard page: the input ends where an unreadable page begins, so any read past it faults
// (tests/proto/guarded_buffer.h).

TEST(Http1Request, NeverReadsPastTheInput) {
  GuardedBuffer g;
  ASSERT_TRUE(g.ok());
  std::vector<std::string> inputs = ValidRequests();
  for (const Reject& c : RequestRejections()) inputs.push_back(c.input);
  inputs.push_back("GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(1000, 'x'));
  inputs.push_back("GET /" + std::string(2000, 'a'));
  ParseLimits small;
  small.max_request_line = 40;
  small.max_head = 120;
  small.max_fields = 3;
  size_t parsed = 0;
  for (const std::string& in : inputs) {
    ASSERT_LE(in.size(), g.capacity());
    for (size_t n = 0; n <= in.size(); ++n) {
      const std::string_view placed = g.Place(std::string_view(in).substr(0, n));
      Req q = ParseReq(placed);
      ASSERT_LE(q.r.consumed, n);
      Req s = ParseReq(placed, small);
      ASSERT_LE(s.r.consumed, n);
      ++parsed;
    }
  }
  EXPECT_GT(parsed, 5000u);
}

// ---------------------------------------------------------------------------------------------
// Responses

TEST(Http1Response, Simple) {
  const std::string in =
      "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1234\r\n\r\n";
  Resp q = ParseResp(in);
  ASSERT_EQ(q.r.status, ParseStatus::kComplete) << q.r.error;
  EXPECT_EQ(q.r.consumed, in.size());
  EXPECT_EQ(q.head.version_minor, 1);
  EXPECT_EQ(q.head.status, 200);
  EXPECT_EQ(q.head.reason, "OK");
  ASSERT_EQ(q.head.fields.size(), 2u);
  EXPECT_EQ(q.head.framing.body, BodyKind::kContentLength);
  EXPECT_EQ(q.head.framing.content_length, 1234u);
  EXPECT_TRUE(q.head.framing.keep_alive);
  EXPECT_EQ(ResponseBody(q.head, false), BodyKind::kContentLength);
  EXPECT_EQ(ResponseBody(q.head, true), BodyKind::kNone);
}

TEST(Http1Response, ReasonForms) {
  Resp q = ParseResp("HTTP/1.1 404 Not Found Here\r\n\r\n");
  ASSERT_EQ(q.r.status, ParseStatus::kComplete);
  EXPECT_EQ(q.head.status, 404);
  EXPECT_EQ(q.head.reason, "Not Found Here");
  q = ParseResp("HTTP/1.1 200 \r\n\r\n");
  ASSERT_EQ(q.r.status, ParseStatus::kComplete);
  EXPECT_EQ(q.head.reason, "");
  q = ParseResp("HTTP/1.1 200\r\n\r\n");
  ASSERT_EQ(q.r.status, ParseStatus::kComplete);
  EXPECT_EQ(q.head.status, 200);
  EXPECT_EQ(q.head.reason, "");
  q = ParseResp("HTTP/1.0 999 Odd\n\n");
  ASSERT_EQ(q.r.status, ParseStatus::kComplete);
  EXPECT_EQ(q.head.status, 999);
  EXPECT_EQ(q.head.version_minor, 0);
}

TEST(Http1Response, BodyKinds) {
  struct Case {
    std::string head;
    BodyKind body;
    bool keep_alive;
  } cases[] = {
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", BodyKind::kChunked, true},
      {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", BodyKind::kNone, true},
      {"HTTP/1.1 200 OK\r\n\r\n", BodyKind::kUntilClose, true},
      {"HTTP/1.0 200 OK\r\n\r\n", BodyKind::kUntilClose, false},
      {"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\n",
       BodyKind::kContentLength, true},
      {"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\n",
       BodyKind::kContentLength, false},
      {"HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", BodyKind::kNone, true},
      {"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", BodyKind::kNone, true},
      {"HTTP/1.1 100 Continue\r\n\r\n", BodyKind::kNone, true},
      {"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
       BodyKind::kNone, true},
      // CL+TE: chunked wins, and the connection is not reused.
      {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n",
       BodyKind::kChunked, false},
  };
  for (const Case& c : cases) {
    Resp q = ParseResp(c.head);
    ASSERT_EQ(q.r.status, ParseStatus::kComplete) << c.head << q.r.error;
    EXPECT_EQ(q.head.framing.body, c.body) << c.head;
    EXPECT_EQ(ResponseBody(q.head, false), c.body) << c.head;
    EXPECT_EQ(ResponseBody(q.head, true), BodyKind::kNone) << c.head;
    EXPECT_EQ(q.head.framing.keep_alive, c.keep_alive) << c.head;
  }
  Resp q = ParseResp(cases[9].head);
  EXPECT_TRUE(q.head.framing.upgrade);
}

TEST(Http1Response, ResponseBodyUsesStatus) {
  ResponseHead h;
  h.framing.body = BodyKind::kContentLength;
  for (uint16_t s : {100, 101, 199, 204, 304}) {
    h.status = s;
    EXPECT_EQ(ResponseBody(h, false), BodyKind::kNone) << s;
  }
  for (uint16_t s : {200, 201, 206, 301, 404, 500}) {
    h.status = s;
    EXPECT_EQ(ResponseBody(h, false), BodyKind::kContentLength) << s;
  }
}

TEST(Http1Response, Rejections) {
  const Reject cases[] = {
      {"bad version", "HTTP/1.2 200 OK\r\n\r\n", 502},
      {"HTTP/2", "HTTP/2 200 OK\r\n\r\n", 502},
      {"garbage", "<html>\r\n\r\n", 502},
      {"two-digit status", "HTTP/1.1 20 OK\r\n\r\n", 502},
      {"four-digit status", "HTTP/1.1 2000 OK\r\n\r\n", 502},
      {"status 099", "HTTP/1.1 099 OK\r\n\r\n", 502},
      {"status letters", "HTTP/1.1 2x0 OK\r\n\r\n", 502},
      {"two spaces", "HTTP/1.1  200 OK\r\n\r\n", 502},
      {"NUL in reason", "HTTP/1.1 200 O\0K\r\n\r\n"s, 502},
      {"bare CR", "HTTP/1.1 200 OK\rX: y\r\n\r\n", 502},
      {"obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", 502},
      {"space before colon", "HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n", 502},
      {"CL twice", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", 502},
      {"CL bad", "HTTP/1.1 200 OK\r\nContent-Length: 5a\r\n\r\n", 502},
      {"TE unknown", "HTTP/1.1 200 OK\r\nTransfer-Encoding: foo\r\n\r\n", 502},
      {"TE not last", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 502},
      {"TE in 1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 502},
      {"status line too long", "HTTP/1.1 200 " + std::string(9000, 'r') + "\r\n\r\n", 502},
      {"head too large", "HTTP/1.1 200 OK\r\nX: " + std::string(70000, 'v') + "\r\n\r\n", 502},
  };
  for (const Reject& c : cases) {
    Resp q = ParseResp(c.input);
    EXPECT_EQ(q.r.status, ParseStatus::kError) << c.what;
    EXPECT_EQ(q.r.error_status, c.status) << c.what << ": " << q.r.error;
  }
}

TEST(Http1Response, HostIsNotRequiredOrChecked) {
  Resp q = ParseResp("HTTP/1.1 200 OK\r\nHost: a b\r\nHost: c\r\nContent-Length: 1\r\n\r\n");
  ASSERT_EQ(q.r.status, ParseStatus::kComplete);
  EXPECT_EQ(q.head.framing.host, "");
}

TEST(Http1Response, SplitAtEveryByteAndGuardPage) {
  const std::string inputs[] = {
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
      "HTTP/1.1 200\r\n\r\n",
      "HTTP/1.0 404 Not Found\nServer: x\n\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nSet-Cookie: " + std::string(100, 's') +
          "\r\n\r\n",
  };
  GuardedBuffer g;
  ASSERT_TRUE(g.ok());
  for (const std::string& in : inputs) {
    Resp whole = ParseResp(in);
    ASSERT_EQ(whole.r.status, ParseStatus::kComplete) << in;
    ASSERT_EQ(whole.r.consumed, in.size());
    for (size_t n = 0; n < in.size(); ++n) {
      Resp part = ParseResp(g.Place(std::string_view(in).substr(0, n)));
      ASSERT_EQ(part.r.status, ParseStatus::kIncomplete) << "prefix " << n << " of " << in;
    }
    Resp placed = ParseResp(g.Place(in));
    ASSERT_EQ(placed.r.status, ParseStatus::kComplete);
    EXPECT_EQ(placed.head.status, whole.head.status);
    EXPECT_EQ(placed.head.framing.body, whole.head.framing.body);
    EXPECT_EQ(placed.head.fields.size(), whole.head.fields.size());
  }
}

TEST(Http1, EqualsIgnoreCase) {
  EXPECT_TRUE(EqualsIgnoreCase("Content-Length", "content-length"));
  EXPECT_TRUE(EqualsIgnoreCase("", ""));
  EXPECT_TRUE(EqualsIgnoreCase("ABC", "abc"));
  EXPECT_FALSE(EqualsIgnoreCase("abc", "abd"));
  EXPECT_FALSE(EqualsIgnoreCase("abc", "ab"));
  // Only ASCII letters fold: '@' and '`' differ by 0x20 but are not a case pair.
  EXPECT_FALSE(EqualsIgnoreCase("@", "`"));
  EXPECT_FALSE(EqualsIgnoreCase("\xc3", "\xe3"));
}

TEST(HasHeadEndTest, FindsBlankLinesEndingInTheNewBytes) {
  const std::string_view head = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  EXPECT_TRUE(HasHeadEnd(head, 0));
  EXPECT_TRUE(HasHeadEnd(head, head.size() - 1));  // only the final LF is new
  EXPECT_FALSE(HasHeadEnd(head, head.size()));     // nothing new
  EXPECT_FALSE(HasHeadEnd("GET / HTTP/1.1\r\nHost: a\r\n", 0));
  EXPECT_TRUE(HasHeadEnd("GET / HTTP/1.1\nHost: a\n\n", 20));  // bare LF
  // A terminator that ended before `from` does not count: it was seen already.
  EXPECT_FALSE(HasHeadEnd("a\r\n\r\nxyz", 5));
  EXPECT_FALSE(HasHeadEnd("", 0));
  EXPECT_FALSE(HasHeadEnd("\n", 0));
  EXPECT_TRUE(HasHeadEnd("\n\n", 1));
  // Every split point of a complete head: the piece holding the final LF reports it.
  for (size_t cut = 0; cut < head.size(); ++cut) {
    EXPECT_TRUE(HasHeadEnd(head, cut)) << cut;
  }
}

}  // namespace
}  // namespace ringway::http1
