// Field blocks in the HTTP/2 server session: HEADERS and CONTINUATION sequencing (RFC 9113
// sections 4.3, 6.2, 6.10), HPACK state kept in step across refused, reset and oversized blocks,
// block size limits, and the response heads the session encodes (split at the peer's max frame
// size, never on closed streams, trailers).
#include <functional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "proto/h2_frame_writer.h"
#include "proto/h2_session.h"
#include "tests/proto/h2_frame_test_util.h"
#include "tests/proto/h2_session_test_util.h"

namespace ringway::h2 {
namespace {

using testing::Event;
using testing::ExpectConnectionError;
using testing::Fields;
using testing::OutFrame;
using testing::TestClient;

std::string RawFrame(uint8_t type, uint8_t flags, uint32_t id, std::string_view payload) {
  return testing::Frame(type, flags, id, payload);
}

TEST(Headers, OnStreamZeroAndBadPadding) {
  {
    TestClient c;
    c.Handshake();
    c.Feed(RawFrame(testing::kHeaders, kFlagEndHeaders, 0, ""));
    ExpectConnectionError(c, ErrorCode::kProtocolError);
  }
  {
    TestClient c;
    c.Handshake();
    c.Feed(
        RawFrame(testing::kHeaders, kFlagEndHeaders | kFlagPadded, 1, testing::Byte(10) + "abc"));
    ExpectConnectionError(c, ErrorCode::kProtocolError);
  }
}

TEST(Headers, PaddedAndWithPriority) {
  TestClient c;
  c.Handshake();
  const std::string block = c.Block(TestClient::GetFields("/p"));
  const std::string payload = testing::Byte(3) + testing::Be32(0x80000000u) + testing::Byte(200) +
                              block + std::string(3, '\0');
  ASSERT_TRUE(
      c.Feed(RawFrame(testing::kHeaders,
                      kFlagEndHeaders | kFlagEndStream | kFlagPadded | kFlagPriority, 1, payload))
          .ok);
  ASSERT_EQ(c.events.size(), 1u);
  EXPECT_EQ(c.events[0].path, "/p");
}

TEST(Continuation, ReassembledAcrossFrames) {
  TestClient c;
  c.Handshake();
  Fields f = TestClient::GetFields("/c");
  for (int i = 0; i < 20; ++i) f.emplace_back("x-h" + std::to_string(i), std::string(50, 'a' + i));
  // A block cut into 64-byte fragments, fed a byte at a time.
  const std::string bytes = c.Headers(1, f, true, /*max_frame=*/64);
  std::vector<size_t> cuts;
  for (size_t i = 1; i < bytes.size(); ++i) cuts.push_back(i);
  ASSERT_TRUE(c.FeedSplit(bytes, cuts).ok);
  ASSERT_EQ(c.events.size(), 1u);
  EXPECT_EQ(c.events[0].path, "/c");
  EXPECT_EQ(c.events[0].fields.size(), 20u);
}

TEST(Continuation, InterleavingErrors) {
  auto start = [](TestClient& c) {
    std::string h = c.Headers(1, TestClient::GetFields(), true, /*max_frame=*/10);
    // Keep only the HEADERS frame (without END_HEADERS) of the split block.
    FrameHeader fh;
    EXPECT_TRUE(DecodeFrameHeader(h, &fh));
    EXPECT_FALSE(fh.has(kFlagEndHeaders));
    return h.substr(0, 9 + fh.length);
  };
  const std::function<std::string(TestClient&)> followers[] = {
      [](TestClient& c) { return c.Ping(1); },
      [](TestClient& c) { return c.PriorityFrame(1, 0); },
      [](TestClient& c) { return c.Data(1, "x", true); },
      [](TestClient&) { return RawFrame(testing::kContinuation, kFlagEndHeaders, 3, ""); },
      [](TestClient&) { return RawFrame(testing::kContinuation, kFlagEndHeaders, 0, ""); },
      [](TestClient& c) { return c.Get(3); },
  };
  for (const auto& follow : followers) {
    TestClient c;
    c.Handshake();
    const std::string first = start(c);
    c.Feed(first + follow(c));
    ExpectConnectionError(c, ErrorCode::kProtocolError);
    EXPECT_TRUE(c.events.empty());
  }
}

TEST(Continuation, UnknownFrameInsideBlock) {
  TestClient c;
  c.Handshake();
  std::string h = c.Headers(1, TestClient::GetFields(), true, 10);
  FrameHeader fh;
  ASSERT_TRUE(DecodeFrameHeader(h, &fh));
  c.Feed(h.substr(0, 9 + fh.length) + RawFrame(0xbb, 0, 0, "x"));
  ExpectConnectionError(c, ErrorCode::kProtocolError);
}

TEST(Continuation, WithoutPrecedingBlock) {
  {
    TestClient c;
    c.Handshake();
    ASSERT_TRUE(c.Feed(c.Get(1)).ok);  // HEADERS with END_HEADERS
    c.Feed(RawFrame(testing::kContinuation, kFlagEndHeaders, 1, ""));
    ExpectConnectionError(c, ErrorCode::kProtocolError);
  }
  {
    TestClient c;
    c.Handshake();
    ASSERT_TRUE(c.Feed(c.Post(1)).ok);
    c.Feed(c.Data(1, "x", false) + RawFrame(testing::kContinuation, kFlagEndHeaders, 1, ""));
    ExpectConnectionError(c, ErrorCode::kProtocolError);
  }
  {
    // CONTINUATION after a CONTINUATION that ended the block.
    TestClient c;
    c.Handshake();
    ASSERT_TRUE(c.Feed(c.Headers(1, TestClient::GetFields(), true, 10)).ok);
    c.Feed(RawFrame(testing::kContinuation, kFlagEndHeaders, 1, ""));
    ExpectConnectionError(c, ErrorCode::kProtocolError);
  }
}

TEST(Hpack, BadBlockIsCompressionError) {
  TestClient c;
  c.Handshake();
  // Index 70 with an empty dynamic table.
  c.Feed(RawFrame(testing::kHeaders, kFlagEndHeaders | kFlagEndStream, 1, "\xc6"));
  ExpectConnectionError(c, ErrorCode::kCompressionError);
}

TEST(Hpack, StateKeptAcrossRefusedStream) {
  SessionLimits limits;
  limits.max_concurrent_streams = 1;
  TestClient c(limits);
  c.Handshake();
  ASSERT_TRUE(c.Feed(c.Post(1)).ok);
  // Refused for concurrency, but its block adds "x-new" to the table, which the next
  // request refers to by index.
  Fields f = TestClient::GetFields("/refused");
  f.emplace_back("x-new", "value");
  ASSERT_TRUE(c.Feed(c.Headers(3, f, true)).ok);
  EXPECT_TRUE(c.TakeRst(3, ErrorCode::kRefusedStream));
  ASSERT_TRUE(c.Feed(c.Rst(1)).ok);
  ASSERT_TRUE(c.Feed(c.Headers(5, f, true)).ok);
  EXPECT_EQ(c.events.back().kind, Event::kRequest);
  EXPECT_EQ(c.events.back().fields, (Fields{{"x-new", "value"}}));
}

TEST(Hpack, StateKeptAcrossTooLargeBlock) {
  SessionLimits limits;
  limits.max_header_list_size = 300;
  TestClient c(limits);
  c.Handshake();
  Fields f = TestClient::GetFields("/big");
  f.emplace_back("x-one", std::string(100, 'a'));
  f.emplace_back("x-two", std::string(100, 'b'));  // 454 octets in all
  ASSERT_TRUE(c.Feed(c.Headers(1, f, true)).ok);
  const auto out = c.Output();
  ASSERT_EQ(out.size(), 1u);  // a 431 that ends the stream: no RST needed
  EXPECT_EQ(out[0].type(), FrameType::kHeaders);
  EXPECT_EQ(out[0].Field(":status"), "431");
  EXPECT_TRUE(out[0].header.has(kFlagEndStream));
  ASSERT_EQ(c.events.size(), 1u);
  EXPECT_EQ(c.events[0].kind, Event::kRejected);
  EXPECT_EQ(c.events[0].status, 431);
  // Both big fields are in the table now; a request naming one by index (261 octets) decodes.
  ASSERT_TRUE(c.Feed(c.Headers(3,
                               {{":method", "GET"},
                                {":scheme", "https"},
                                {":path", "/"},
                                {"x-two", std::string(100, 'b')}},
                               true))
                  .ok);
  ASSERT_EQ(c.events.back().kind, Event::kRequest);
  EXPECT_EQ(c.events.back().fields[0].second, std::string(100, 'b'));
}

TEST(Hpack, TooLargeWithBodyGetsResetNoError) {
  SessionLimits limits;
  limits.max_header_list_size = 100;
  TestClient c(limits);
  c.Handshake();
  Fields f = {
      {":method", "POST"}, {":scheme", "https"}, {":path", "/"}, {"x-big", std::string(100, 'z')}};
  ASSERT_TRUE(c.Feed(c.Headers(1, f, false)).ok);
  const auto out = c.Output();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].Field(":status"), "431");
  EXPECT_EQ(out[1].type(), FrameType::kRstStream);
  EXPECT_EQ(out[1].code, ErrorCode::kNoError);
  // The body that was on its way is dropped and credited.
  ASSERT_TRUE(c.Feed(c.Data(1, "body", true)).ok);
  EXPECT_EQ(c.session.stats().discarded_data_bytes, 4u);
  // Without local replies: RST_STREAM only.
  limits.reply_to_large_headers = false;
  TestClient d(limits);
  d.Handshake();
  ASSERT_TRUE(d.Feed(d.Headers(1, f, false)).ok);
  EXPECT_TRUE(d.TakeRst(1, ErrorCode::kProtocolError));
}

TEST(Hpack, FieldBlockOverLimitIsConnectionError) {
  SessionLimits limits;
  limits.max_header_list_size = 1000;
  limits.max_header_block_bytes = 2000;
  TestClient c(limits);
  c.Handshake();
  Fields f = TestClient::GetFields();
  for (int i = 0; i < 30; ++i) f.emplace_back("x-" + std::to_string(i), std::string(90, 'q'));
  c.Feed(c.Headers(1, f, true, /*max_frame=*/500));
  ExpectConnectionError(c, ErrorCode::kEnhanceYourCalm);
}

TEST(Send, HeadersSplitAtPeerMaxFrameSize) {
  TestClient c;
  c.Handshake();
  ASSERT_TRUE(c.Feed(c.Get(1)).ok);
  std::vector<std::string> names, values;
  for (int i = 0; i < 40; ++i) {
    names.push_back("x-v" + std::to_string(i));
    values.push_back(std::string(1000, static_cast<char>('a' + i % 26)));
  }
  std::vector<hpack::HeaderField> f;
  for (int i = 0; i < 40; ++i) f.push_back({names[i], values[i]});
  ASSERT_TRUE(c.session.SubmitResponse(1, {200, f}, true));
  std::string bytes = c.session.output();
  size_t frames = 0;
  for (std::string_view in = bytes; !in.empty(); ++frames) {
    const ReadResult r = ReadFrame(in, kDefaultMaxFrameSize);
    ASSERT_EQ(r.status, ReadStatus::kFrame);
    in.remove_prefix(r.consumed);
  }
  EXPECT_GE(frames, 2u);
  const auto out = c.Output();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].fields.size(), 41u);
}

TEST(Send, NothingOnClosedStreams) {
  TestClient c;
  c.Handshake();
  ASSERT_TRUE(c.Feed({c.Get(1), c.Post(3)}).ok);
  ASSERT_TRUE(c.session.SubmitResponse(1, {200}, true));
  EXPECT_FALSE(c.session.SubmitResponse(1, {200}, true));
  EXPECT_FALSE(c.session.SubmitTrailers(1, {}));
  EXPECT_FALSE(c.session.ResetStream(1, ErrorCode::kCancel));
  char hdr[9];
  EXPECT_FALSE(c.session.PrepareData(1, 0, true, hdr));
  EXPECT_EQ(c.session.SendableBytes(1), 0u);
  ASSERT_TRUE(c.Feed(c.Rst(3)).ok);
  EXPECT_FALSE(c.session.SubmitResponse(3, {200}, true));
  EXPECT_FALSE(c.session.SubmitResponse(99, {200}, true));
  const auto out = c.Output();
  ASSERT_EQ(out.size(), 1u);
}

TEST(Send, NoDataBeforeFinalHead) {
  TestClient c;
  c.Handshake();
  ASSERT_TRUE(c.Feed(c.Get(1)).ok);
  char hdr[9];
  EXPECT_EQ(c.session.SendableBytes(1), 0u);
  EXPECT_FALSE(c.session.PrepareData(1, 1, false, hdr));
  ASSERT_TRUE(c.session.SubmitResponse(1, {103}, false));
  EXPECT_EQ(c.session.SendableBytes(1), 0u);
  ASSERT_TRUE(c.session.SubmitResponse(1, {200}, false));
  EXPECT_GT(c.session.SendableBytes(1), 0u);
  EXPECT_FALSE(c.session.PrepareData(1, 0, false, hdr));  // empty DATA without END_STREAM
}

TEST(Send, TrailersEndTheStream) {
  TestClient c;
  c.Handshake();
  ASSERT_TRUE(c.Feed({c.Get(1), c.Get(3)}).ok);
  ASSERT_TRUE(c.session.SubmitResponse(1, {200}, false));
  const hpack::HeaderField t[] = {{"Grpc-Status", "0"}, {"connection", "close"}};
  ASSERT_TRUE(c.session.SubmitTrailers(1, t));
  ASSERT_TRUE(c.session.SubmitResponse(3, {200}, false));
  ASSERT_TRUE(c.session.SubmitTrailers(3, {}));
  const auto out = c.Output();
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[1].fields, (Fields{{"grpc-status", "0"}}));
  EXPECT_TRUE(out[1].header.has(kFlagEndStream));
  EXPECT_EQ(out[3].type(), FrameType::kData);  // no fields: an empty DATA ends the stream
  EXPECT_TRUE(out[3].header.has(kFlagEndStream));
  EXPECT_EQ(c.session.active_streams(), 0u);
}

}  // namespace
}  // namespace ringway::h2
