// Field blocks in the HTTP/2 server session: HEADERS and CONTINUATION sequencing (RFC 9113
// sections 4.3, 6.2, 6.10), HPACK state kept in step across refused, reset and oversized blocks,
// block size limits, and the response heads the session encodes (split at the peer's max frame
// size, never on closed streams, trailers).
#include <functional>
#include <optional>
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

// ---------------------------------------------------------------------------------------------
// Extended CONNECT (RFC 8441): SessionLimits::enable_connect_protocol announces
// SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 and lets :protocol through to OnRequest.

Fields WebSocketConnect(std::string_view path = "/chat") {
  return {{":method", "CONNECT"},       {":protocol", "websocket"},
          {":scheme", "https"},         {":authority", "example.com"},
          {":path", std::string(path)}, {"sec-websocket-version", "13"}};
}

// The value of `id` in the session's first SETTINGS frame (its preface), if it is there.
std::optional<uint32_t> PrefaceSetting(const TestClient& c, SettingId id) {
  for (const OutFrame& f : c.sent) {
    if (f.type() != FrameType::kSettings || f.header.has(kFlagAck)) continue;
    std::optional<uint32_t> value;
    for (const Setting s : SettingsView(f.payload)) {
      if (s.id == id) value = s.value;
    }
    return value;
  }
  ADD_FAILURE() << "no SETTINGS from the session";
  return std::nullopt;
}

TEST(ExtendedConnect, SettingAnnouncedOnlyWhenEnabled) {
  SessionLimits limits;
  limits.enable_connect_protocol = true;
  TestClient on(limits);
  on.Handshake();
  EXPECT_EQ(PrefaceSetting(on, SettingId::kEnableConnectProtocol), 1u);
  TestClient off;
  off.Handshake();
  EXPECT_EQ(PrefaceSetting(off, SettingId::kEnableConnectProtocol), std::nullopt);
}

TEST(ExtendedConnect, SettingFromClientIsNotANewLicence) {
  // ENABLE_CONNECT_PROTOCOL is the server's to send: a client's 1 is accepted and ignored, and
  // does not let :protocol through a session that did not announce it.
  TestClient c;
  c.Handshake({{SettingId::kEnableConnectProtocol, 1}});
  ASSERT_TRUE(c.Feed(c.Headers(1, WebSocketConnect(), false)).ok);
  EXPECT_TRUE(c.TakeRst(1, ErrorCode::kProtocolError));
  EXPECT_TRUE(c.handler.Of(Event::kRequest).empty());
}

TEST(ExtendedConnect, DeliveredToOnRequestWithProtocol) {
  SessionLimits limits;
  limits.enable_connect_protocol = true;
  TestClient c(limits);
  c.Handshake();
  std::string protocol = "unset";
  c.handler.on_request = [&](uint32_t, const Request& r, bool) { protocol = r.protocol; };
  Fields f = WebSocketConnect("/ws?x=1");
  f.emplace_back("sec-websocket-protocol", "chat");
  ASSERT_TRUE(c.Feed(c.Headers(1, f, false)).ok);
  ASSERT_EQ(c.events.size(), 1u);
  const Event& e = c.events[0];
  EXPECT_EQ(e.kind, Event::kRequest);
  EXPECT_EQ(protocol, "websocket");
  EXPECT_TRUE(e.is_connect);
  EXPECT_EQ(e.method, "CONNECT");
  EXPECT_EQ(e.scheme, "https");
  EXPECT_EQ(e.authority, "example.com");
  EXPECT_EQ(e.path, "/ws?x=1");
  EXPECT_TRUE(e.has_body);
  EXPECT_FALSE(e.end_stream);
  EXPECT_EQ(e.fields,
            (Fields{{"sec-websocket-version", "13"}, {"sec-websocket-protocol", "chat"}}));
  EXPECT_EQ(c.session.stats().requests, 1u);
  // A plain request on the same connection carries no :protocol.
  ASSERT_TRUE(c.Feed(c.Get(3, "/plain")).ok);
  EXPECT_EQ(protocol, "");
  EXPECT_FALSE(c.events.back().is_connect);
}

TEST(ExtendedConnect, TunnelCarriesDataBothWaysAndHalfCloses) {
  SessionLimits limits;
  limits.enable_connect_protocol = true;
  TestClient c(limits);
  c.Handshake();
  ASSERT_TRUE(c.Feed(c.Headers(1, WebSocketConnect(), false)).ok);
  // 200 without END_STREAM opens the tunnel (RFC 8441 section 5).
  ASSERT_TRUE(c.session.SubmitResponse(1, {200}, false));
  auto out = c.Output();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].Field(":status"), "200");
  EXPECT_FALSE(out[0].header.has(kFlagEndStream));
  // Client to server: DATA delivered, no content-length to check against.
  const std::string frame("\x81\x85\x01\x02\x03\x04igohn", 11);  // a masked WebSocket frame
  ASSERT_TRUE(c.Feed(c.Data(1, frame, false)).ok);
  ASSERT_EQ(c.handler.Of(Event::kData).size(), 1u);
  EXPECT_EQ(c.handler.Of(Event::kData)[0].data, frame);
  c.session.ConsumeData(1, frame.size());
  // Server to client.
  char hdr[9];
  ASSERT_GT(c.session.SendableBytes(1), 7u);
  ASSERT_TRUE(c.session.PrepareData(1, 7, false, hdr));
  FrameHeader fh;
  ASSERT_TRUE(DecodeFrameHeader(std::string_view(hdr, 9), &fh));
  EXPECT_EQ(fh.type, FrameType::kData);
  EXPECT_EQ(fh.stream_id, 1u);
  EXPECT_EQ(fh.length, 7u);
  // The client half-closes; the server can still send, then ends its side.
  ASSERT_TRUE(c.Feed(c.Data(1, "", true)).ok);
  EXPECT_TRUE(c.events.back().end_stream);
  EXPECT_EQ(c.events.back().kind, Event::kData);
  EXPECT_GT(c.session.SendableBytes(1), 0u);
  ASSERT_TRUE(c.session.PrepareData(1, 0, true, hdr));
  EXPECT_EQ(c.session.active_streams(), 0u);
  EXPECT_TRUE(c.handler.Of(Event::kClosed).size() <= 1u);
}

TEST(ExtendedConnect, ClientResetEndsTheTunnel) {
  SessionLimits limits;
  limits.enable_connect_protocol = true;
  TestClient c(limits);
  c.Handshake();
  ASSERT_TRUE(c.Feed(c.Headers(1, WebSocketConnect(), false)).ok);
  ASSERT_TRUE(c.session.SubmitResponse(1, {200}, false));
  ASSERT_TRUE(c.Feed(c.Rst(1, ErrorCode::kCancel)).ok);
  const auto closed = c.handler.Of(Event::kClosed);
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].stream_id, 1u);
  EXPECT_EQ(closed[0].code, ErrorCode::kCancel);
  EXPECT_TRUE(closed[0].by_peer);
  EXPECT_EQ(c.session.active_streams(), 0u);
}

TEST(ExtendedConnect, WithoutTheSettingProtocolIsRefused) {
  TestClient c;  // enable_connect_protocol is off by default
  c.Handshake();
  ASSERT_TRUE(c.Feed(c.Headers(1, WebSocketConnect(), false)).ok);
  EXPECT_TRUE(c.TakeRst(1, ErrorCode::kProtocolError));
  ASSERT_EQ(c.events.size(), 1u);
  EXPECT_EQ(c.events[0].kind, Event::kRejected);
  EXPECT_EQ(c.events[0].status, 400);
  EXPECT_EQ(c.events[0].detail, "unknown pseudo-header field");
  EXPECT_EQ(c.session.stats().malformed_requests, 1u);
  // DATA already on its way is dropped; the connection goes on.
  ASSERT_TRUE(c.Feed(c.Data(1, "x", false)).ok);
  ASSERT_TRUE(c.Feed(c.Get(3, "/after")).ok);
  EXPECT_EQ(c.events.back().kind, Event::kRequest);
  EXPECT_EQ(c.events.back().path, "/after");
  EXPECT_FALSE(c.session.failed());
}

TEST(ExtendedConnect, MalformedWhenEnabled) {
  SessionLimits limits;
  limits.enable_connect_protocol = true;
  TestClient c(limits);
  c.Handshake();
  const Fields cases[] = {
      {{":method", "GET"},
       {":protocol", "websocket"},
       {":scheme", "https"},
       {":authority", "example.com"},
       {":path", "/"}},
      {{":method", "CONNECT"}, {":protocol", "websocket"}, {":scheme", "https"}, {":path", "/"}},
      {{":method", "CONNECT"},
       {":protocol", "websocket"},
       {":authority", "example.com"},
       {":path", "/"}},
      {{":method", "CONNECT"},
       {":protocol", "websocket"},
       {":scheme", "https"},
       {":authority", "example.com"}},
  };
  uint32_t id = 1;
  for (const Fields& f : cases) {
    ASSERT_TRUE(c.Feed(c.Headers(id, f, false)).ok);
    EXPECT_TRUE(c.TakeRst(id, ErrorCode::kProtocolError)) << id;
    EXPECT_EQ(c.events.back().kind, Event::kRejected) << id;
    id += 2;
  }
  EXPECT_TRUE(c.handler.Of(Event::kRequest).empty());
  ASSERT_TRUE(c.Feed(c.Headers(id, WebSocketConnect(), false)).ok);
  EXPECT_EQ(c.events.back().kind, Event::kRequest);
  EXPECT_FALSE(c.session.failed());
}

}  // namespace
}  // namespace ringway::h2
