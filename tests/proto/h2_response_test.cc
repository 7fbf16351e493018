// Response-head checks for the client role (ParseResponse, RFC 9113 sections 8.1.1, 8.2, 8.3.2,
// 8.6): a valid head and its views, every malformed case, content-length values, interim heads.
// The same rules through a ClientSession: h2_client_session_test.cc.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "proto/h2_request.h"
#include "proto/hpack.h"

namespace ringway::h2 {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

std::vector<hpack::HeaderField> View(const Fields& f) {
  std::vector<hpack::HeaderField> out;
  for (const auto& [n, v] : f) out.push_back({n, v});
  return out;
}

TEST(ParseResponse, ValidHead) {
  const Fields f = {{":status", "200"},         {"content-type", "text/html"},
                    {"content-length", "1234"}, {"set-cookie", "a=1"},
                    {"te-x", "not te"},         {"x-empty", ""}};
  const auto v = View(f);
  ResponseHead head;
  const MessageCheck c = ParseResponse(v, /*end_stream=*/false, &head);
  ASSERT_TRUE(c.ok) << c.detail;
  EXPECT_STREQ(c.detail, "");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.content_length, 1234u);
  ASSERT_EQ(head.fields.size(), 5u);  // ":status" excluded
  EXPECT_EQ(head.fields[0].name, "content-type");
  EXPECT_EQ(head.fields[0].value, "text/html");
  EXPECT_EQ(head.fields.data(), v.data() + 1);  // a view, not a copy
  EXPECT_EQ(head.fields[4].name, "x-empty");
}

TEST(ParseResponse, StatusRange) {
  for (const char* ok : {"100", "103", "199", "200", "204", "304", "404", "599", "999"}) {
    SCOPED_TRACE(ok);
    ResponseHead head;
    ASSERT_TRUE(ParseResponse(View({{":status", ok}}), false, &head).ok);
    EXPECT_EQ(head.status, std::stoi(ok));
    EXPECT_FALSE(head.content_length.has_value());
    EXPECT_TRUE(head.fields.empty());
  }
  for (const char* bad :
       {"", "2", "20", "2000", "abc", "20a", "099", "000", " 20", "+20", "2 0", "101"}) {
    SCOPED_TRACE(bad);
    ResponseHead head;
    const MessageCheck c = ParseResponse(View({{":status", bad}}), false, &head);
    EXPECT_FALSE(c.ok);
    EXPECT_STRNE(c.detail, "");
  }
}

TEST(ParseResponse, MalformedHeads) {
  struct Case {
    const char* what;
    Fields fields;
    bool end_stream = false;
  };
  const std::vector<Case> cases = {
      {"no fields", {}},
      {"missing :status", {{"content-type", "text/plain"}}},
      {"101", {{":status", "101"}, {"upgrade", "h2c"}}},
      {"repeated :status", {{":status", "200"}, {":status", "204"}}},
      {"repeated identical :status", {{":status", "200"}, {":status", "200"}}},
      {":path", {{":status", "200"}, {":path", "/"}}},
      {":method first", {{":method", "GET"}, {":status", "200"}}},
      {":authority", {{":status", "200"}, {":authority", "example.com"}}},
      {":protocol", {{":status", "200"}, {":protocol", "websocket"}}},
      {"unknown pseudo", {{":status", "200"}, {":foo", "bar"}}},
      {"pseudo after regular", {{"server", "x"}, {":status", "200"}}},
      {"empty name", {{":status", "200"}, {"", "x"}}},
      {"uppercase name", {{":status", "200"}, {"Server", "x"}}},
      {"space in name", {{":status", "200"}, {"x y", "z"}}},
      {"colon in regular name", {{":status", "200"}, {"x:y", "z"}}},
      {"CR in value", {{":status", "200"}, {"x-a", "a\rb"}}},
      {"LF in value", {{":status", "200"}, {"x-a", "a\nb"}}},
      {"NUL in value", {{":status", "200"}, {"x-a", std::string("a\0b", 3)}}},
      {"leading space in value", {{":status", "200"}, {"x-a", " a"}}},
      {"trailing tab in value", {{":status", "200"}, {"x-a", "a\t"}}},
      {"connection", {{":status", "200"}, {"connection", "keep-alive"}}},
      {"keep-alive", {{":status", "200"}, {"keep-alive", "timeout=5"}}},
      {"proxy-connection", {{":status", "200"}, {"proxy-connection", "close"}}},
      {"transfer-encoding", {{":status", "200"}, {"transfer-encoding", "chunked"}}},
      {"upgrade", {{":status", "200"}, {"upgrade", "h2c"}}},
      {"te trailers", {{":status", "200"}, {"te", "trailers"}}},
      {"te gzip", {{":status", "200"}, {"te", "gzip"}}},
      {"content-length not digits", {{":status", "200"}, {"content-length", "12a"}}},
      {"content-length negative", {{":status", "200"}, {"content-length", "-1"}}},
      {"content-length empty", {{":status", "200"}, {"content-length", ""}}},
      {"content-length list", {{":status", "200"}, {"content-length", "5, 5"}}},
      {"content-length over 2^64-1",
       {{":status", "200"}, {"content-length", "18446744073709551616"}}},
      {"conflicting content-length",
       {{":status", "200"}, {"content-length", "10"}, {"content-length", "11"}}},
      {"1xx with END_STREAM", {{":status", "103"}, {"link", "</a>"}}, true},
      {"100 with END_STREAM", {{":status", "100"}}, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    ResponseHead head;
    head.status = 7;  // untouched on failure
    const MessageCheck r = ParseResponse(View(c.fields), c.end_stream, &head);
    EXPECT_FALSE(r.ok);
    EXPECT_STRNE(r.detail, "");
    EXPECT_EQ(head.status, 7);
  }
}

TEST(ParseResponse, ContentLength) {
  {  // The same value twice is one value.
    ResponseHead head;
    ASSERT_TRUE(ParseResponse(
                    View({{":status", "200"}, {"content-length", "10"}, {"content-length", "10"}}),
                    false, &head)
                    .ok);
    EXPECT_EQ(head.content_length, 10u);
  }
  {
    ResponseHead head;
    ASSERT_TRUE(
        ParseResponse(View({{":status", "200"}, {"content-length", "18446744073709551615"}}), false,
                      &head)
            .ok);
    EXPECT_EQ(head.content_length, UINT64_MAX);
  }
  {  // A final head with END_STREAM: the session, not ParseResponse, knows whether content-length
     // may be non-zero (HEAD, 204, 304).
    ResponseHead head;
    ASSERT_TRUE(
        ParseResponse(View({{":status", "200"}, {"content-length", "10"}}), true, &head).ok);
    EXPECT_EQ(head.content_length, 10u);
  }
  {
    ResponseHead head;
    ASSERT_TRUE(ParseResponse(View({{":status", "204"}, {"content-length", "0"}}), true, &head).ok);
    EXPECT_EQ(head.content_length, 0u);
  }
}

TEST(ParseResponse, InterimAndFinalEndStream) {
  ResponseHead head;
  EXPECT_TRUE(ParseResponse(View({{":status", "103"}, {"link", "</a>"}}), false, &head).ok);
  EXPECT_EQ(head.status, 103);
  EXPECT_TRUE(ParseResponse(View({{":status", "200"}}), true, &head).ok);
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(ParseResponse(View({{":status", "404"}}), true, &head).ok);
  EXPECT_FALSE(ParseResponse(View({{":status", "199"}}), true, &head).ok);
}

}  // namespace
}  // namespace ringway::h2
