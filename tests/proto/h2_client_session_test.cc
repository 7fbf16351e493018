// The HTTP/2 session in the client role (ClientSession) against a scripted backend: the client
// preface, opening streams within the server's concurrency, response heads (interim, final,
// malformed), DATA and content-length, trailers, flow control both ways, RST_STREAM, GOAWAY and
// the streams it leaves unprocessed, PING, frames a client must refuse (PUSH_PROMISE, HEADERS on
// streams it did not open, ENABLE_PUSH), sending trailers and resets, shutdown, and the server
// methods refused. Response-head rules on ParseResponse directly: h2_response_test.cc.
#include <cstdint>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "proto/h2_frame.h"
#include "proto/h2_frame_writer.h"
#include "proto/h2_session.h"
#include "tests/proto/h2_client_session_test_util.h"

namespace ringway::h2 {
namespace {

using testing::ClientEvent;
using testing::ExpectClientConnectionError;
using testing::ExpectClientStreamError;
using testing::Fields;
using testing::SentFrame;
using testing::TestServer;

// No server-role event reached the handler.
void ExpectNoServerEvents(const TestServer& s) {
  EXPECT_TRUE(s.handler.Of(ClientEvent::kUnexpected).empty());
}

// The fields of a decoded HEADERS frame, as submitted.
void ExpectFields(const SentFrame& f, const Fields& want) {
  ASSERT_EQ(f.type(), FrameType::kHeaders);
  EXPECT_EQ(f.fields, want);
}

// ---------------------------------------------------------------------------------------------
// Preface

TEST(ClientPreface, MagicThenSettingsWithoutConcurrency) {
  TestServer s;
  ASSERT_TRUE(s.session.output().starts_with(kClientPreface));
  EXPECT_EQ(s.session.role(), Role::kClient);
  const std::vector<SentFrame> out = s.Output();
  ASSERT_EQ(out.size(), 2u);
  ASSERT_EQ(out[0].type(), FrameType::kSettings);
  EXPECT_FALSE(out[0].ack());
  EXPECT_EQ(out[0].stream(), 0u);
  EXPECT_EQ(out[0].SettingValue(SettingId::kEnablePush), 0u);
  // Push is off: the server opens no stream, so a concurrency limit would say nothing.
  EXPECT_FALSE(out[0].SettingValue(SettingId::kMaxConcurrentStreams).has_value());
  EXPECT_EQ(out[0].SettingValue(SettingId::kMaxHeaderListSize),
            SessionLimits{}.max_header_list_size);
  // The connection window, raised from 65535 right after SETTINGS.
  ASSERT_EQ(out[1].type(), FrameType::kWindowUpdate);
  EXPECT_EQ(out[1].stream(), 0u);
  EXPECT_EQ(out[1].increment, (1u << 20) - 65535u);
  EXPECT_FALSE(s.session.got_peer_settings());
}

TEST(ClientPreface, NoWindowUpdateAtTheDefaultConnectionWindow) {
  SessionLimits limits;
  limits.connection_window = 65535;
  TestServer s(limits);
  const std::vector<SentFrame> out = s.Output();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type(), FrameType::kSettings);
}

TEST(ClientPreface, SettingsCarryNonDefaultLimits) {
  SessionLimits limits;
  limits.header_table_size = 8192;
  limits.initial_stream_window = 1 << 20;
  limits.max_frame_size = 32768;
  limits.max_header_list_size = 1000;
  TestServer s(limits);
  const std::vector<SentFrame> out = s.Output();
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out[0].SettingValue(SettingId::kHeaderTableSize), 8192u);
  EXPECT_EQ(out[0].SettingValue(SettingId::kInitialWindowSize), 1u << 20);
  EXPECT_EQ(out[0].SettingValue(SettingId::kMaxFrameSize), 32768u);
  EXPECT_EQ(out[0].SettingValue(SettingId::kMaxHeaderListSize), 1000u);
  EXPECT_EQ(out[0].SettingValue(SettingId::kEnablePush), 0u);
  EXPECT_FALSE(out[0].SettingValue(SettingId::kMaxConcurrentStreams).has_value());
}

TEST(ClientPreface, ServerSettingsAcknowledged) {
  TestServer s;
  s.Handshake({{SettingId::kMaxConcurrentStreams, 10}, {SettingId::kMaxFrameSize, 20000}});
  EXPECT_TRUE(s.session.got_peer_settings());
  EXPECT_EQ(s.session.peer_settings().max_concurrent_streams, 10u);
  EXPECT_EQ(s.session.peer_settings().max_frame_size, 20000u);
  ExpectNoServerEvents(s);
}

TEST(ClientPreface, FirstServerFrameNotSettings) {
  {
    TestServer s;
    s.Output();
    s.Feed(s.Ping(1));
    ExpectClientConnectionError(s, ErrorCode::kProtocolError);
  }
  {  // A SETTINGS ACK is not the server's preface either.
    TestServer s;
    s.Output();
    s.Feed(s.SettingsAck());
    ExpectClientConnectionError(s, ErrorCode::kProtocolError);
  }
  {  // Nor a response to a request sent before the server's SETTINGS.
    TestServer s;
    ASSERT_EQ(s.Get(), 1u);
    s.Output();
    s.Feed(s.Response(1, "200", {}, true));
    ExpectClientConnectionError(s, ErrorCode::kProtocolError);
    EXPECT_TRUE(s.handler.Of(ClientEvent::kResponse).empty());
    EXPECT_EQ(s.session.SubmitRequest({}, true), 0u);
  }
}

// RFC 9113 section 3.4: a client may send requests right after its preface, before the server's.
TEST(ClientPreface, RequestBeforeServerSettings) {
  TestServer s;
  EXPECT_GT(s.session.OpenableStreams(), 1000u);  // no limit known yet
  ASSERT_EQ(s.Get("/early"), 1u);
  s.Handshake();
  ASSERT_EQ(s.preface.size(), 3u);  // SETTINGS, WINDOW_UPDATE, HEADERS
  EXPECT_EQ(s.preface[2].type(), FrameType::kHeaders);
  EXPECT_EQ(s.preface[2].Field(":path"), "/early");
  ASSERT_TRUE(s.Feed(s.Response(1, "200", {}, true)).ok);
  EXPECT_EQ(s.handler.Of(ClientEvent::kResponse).size(), 1u);
}

TEST(ClientPreface, SettingsAckTimeout) {
  SessionLimits limits;
  limits.settings_timeout_ms = 1000;
  {
    TestServer s(limits, 5000);
    s.Output();
    ASSERT_TRUE(s.Feed(s.Settings()).ok);  // SETTINGS, but no ACK of ours
    ASSERT_TRUE(s.session.Tick(5999).ok);
    const FeedResult r = s.session.Tick(6000);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, ErrorCode::kSettingsTimeout);
    const auto g = s.TakeGoaway();
    ASSERT_TRUE(g.has_value());
    EXPECT_EQ(g->code, ErrorCode::kSettingsTimeout);
    EXPECT_EQ(g->last_stream_id, 0u);
  }
  {
    TestServer s(limits, 5000);
    s.Handshake();
    EXPECT_TRUE(s.session.Tick(60000).ok);
  }
}

// ---------------------------------------------------------------------------------------------
// Opening streams

TEST(ClientRequest, IdsOddAndIncreasingHeadersEncoded) {
  TestServer s;
  s.Handshake();
  const Fields get = {{":method", "GET"},  {":scheme", "https"}, {":authority", "backend.example"},
                      {":path", "/a?b=c"}, {"accept", "*/*"},    {"x-request-id", "42"}};
  const Fields post = {{":method", "POST"},
                       {":scheme", "http"},
                       {":authority", "backend.example:8080"},
                       {":path", "/upload"},
                       {"content-type", "application/json"},
                       {"content-length", "2"}};
  EXPECT_EQ(s.Submit(get, true), 1u);
  EXPECT_EQ(s.Submit(post, false), 3u);
  EXPECT_EQ(s.Submit(get, true), 5u);  // the same head again: from the dynamic table
  const std::vector<SentFrame> out = s.Output();
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].stream(), 1u);
  EXPECT_EQ(out[1].stream(), 3u);
  EXPECT_EQ(out[2].stream(), 5u);
  ExpectFields(out[0], get);
  ExpectFields(out[1], post);
  ExpectFields(out[2], get);
  EXPECT_LT(out[2].payload.size(), out[0].payload.size());
  EXPECT_TRUE(out[0].end_stream());
  EXPECT_FALSE(out[1].end_stream());
  EXPECT_TRUE(out[2].end_stream());
  for (const auto& f : out) EXPECT_TRUE(f.header.has(kFlagEndHeaders));
  EXPECT_EQ(s.session.stream_state(1), StreamState::kHalfClosedLocal);
  EXPECT_EQ(s.session.stream_state(3), StreamState::kOpen);
  EXPECT_EQ(s.session.stream_state(7), StreamState::kIdle);
  EXPECT_EQ(s.session.active_streams(), 3u);
  EXPECT_EQ(s.session.stats().requests, 3u);
}

// A head over the server's SETTINGS_MAX_FRAME_SIZE goes out as HEADERS and CONTINUATION frames.
TEST(ClientRequest, LargeHeadSplitIntoContinuation) {
  TestServer s;
  s.Handshake();
  Fields f = TestServer::RequestFields();
  std::string big;
  for (int i = 0; i < 40000; ++i) big.push_back(static_cast<char>('a' + (i * 7919) % 26));
  f.emplace_back("x-big", big);
  ASSERT_EQ(s.Submit(f, true), 1u);
  const std::vector<SentFrame> out = s.Output();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_GE(out[0].continuations, 1u);
  EXPECT_LE(out[0].payload.size(), kDefaultMaxFrameSize);
  EXPECT_TRUE(out[0].end_stream());
  ExpectFields(out[0], f);
}

TEST(ClientRequest, ConcurrencyFromServerSettings) {
  TestServer s;
  EXPECT_EQ(s.session.OpenableStreams(), kUnlimited);  // before the server's SETTINGS
  s.Handshake({{SettingId::kMaxConcurrentStreams, 2}});
  EXPECT_EQ(s.session.OpenableStreams(), 2u);
  EXPECT_EQ(s.Get(), 1u);
  EXPECT_EQ(s.session.OpenableStreams(), 1u);
  EXPECT_EQ(s.Post(), 3u);
  EXPECT_EQ(s.session.OpenableStreams(), 0u);
  s.Output();
  EXPECT_EQ(s.Get(), 0u);           // refused...
  EXPECT_TRUE(s.Output().empty());  // ...with nothing sent
  EXPECT_EQ(s.session.active_streams(), 2u);
  // Stream 1 ends: one more may open, with the next id (0 used none).
  ASSERT_TRUE(s.Feed(s.Response(1, "204", {}, true)).ok);
  EXPECT_EQ(s.session.stream_state(1), StreamState::kClosed);
  EXPECT_EQ(s.session.OpenableStreams(), 1u);
  EXPECT_EQ(s.Get(), 5u);
  EXPECT_EQ(s.session.OpenableStreams(), 0u);
  // A half-closed (remote) stream still counts: 3 gets its whole response while our body is
  // still to come.
  ASSERT_TRUE(s.Feed(s.Response(3, "200", {}, true)).ok);
  EXPECT_EQ(s.session.stream_state(3), StreamState::kHalfClosedRemote);
  EXPECT_EQ(s.session.OpenableStreams(), 0u);
  char hdr[kFrameHeaderSize];
  ASSERT_TRUE(s.session.PrepareData(3, 0, true, hdr));
  EXPECT_EQ(s.session.OpenableStreams(), 1u);
}

// Handlers may open streams (the contract allows any call but Feed and Tick); the frames that
// follow in the same Feed still find their streams.
TEST(ClientRequest, SubmitFromInsideHandlers) {
  TestServer s;
  s.Handshake();
  for (uint32_t i = 0; i < 16; ++i) ASSERT_EQ(s.Get(), 2 * i + 1);
  s.Output();
  std::vector<uint32_t> opened;
  s.handler.on_response = [&](uint32_t, const ResponseHead&, bool) {
    for (int i = 0; i < 20; ++i) opened.push_back(s.Get());
  };
  ASSERT_TRUE(s.Feed({s.Response(1, "200"), s.Data(1, "abc", false), s.Response(3, "200", {}, true),
                      s.Data(1, "def", true), s.Response(31, "200"), s.Data(31, "xyz", true)})
                  .ok)
      << s.last.detail;
  ASSERT_EQ(opened.size(), 60u);
  for (size_t i = 0; i < opened.size(); ++i) EXPECT_EQ(opened[i], 33 + 2 * i);
  EXPECT_EQ(s.handler.Body(1), "abcdef");
  EXPECT_EQ(s.handler.Body(31), "xyz");
  EXPECT_EQ(s.session.active_streams(), 16u - 3u + 60u);
  const auto h = s.Take(FrameType::kHeaders);
  ASSERT_EQ(h.size(), 60u);
  EXPECT_EQ(h.back().stream(), 33u + 2 * 59);
  EXPECT_EQ(h.back().Field(":method"), "GET");
}

TEST(ClientRequest, LimitLoweredBelowOpenStreams) {
  TestServer s;
  s.Handshake();
  EXPECT_EQ(s.Get(), 1u);
  EXPECT_EQ(s.Get(), 3u);
  EXPECT_EQ(s.Get(), 5u);
  ASSERT_TRUE(s.Feed(s.Settings({{SettingId::kMaxConcurrentStreams, 1}})).ok);
  EXPECT_EQ(s.session.OpenableStreams(), 0u);
  EXPECT_EQ(s.Get(), 0u);
  ASSERT_TRUE(s.Feed({s.Response(1, "200", {}, true), s.Response(3, "200", {}, true)}).ok);
  EXPECT_EQ(s.session.OpenableStreams(), 0u);  // 5 is still open: 1 of 1
  ASSERT_TRUE(s.Feed(s.Response(5, "200", {}, true)).ok);
  EXPECT_EQ(s.session.OpenableStreams(), 1u);
  EXPECT_EQ(s.Get(), 7u);
}

TEST(ClientRequest, NoneAfterGoaway) {
  TestServer s;
  s.Handshake();
  EXPECT_EQ(s.Get(), 1u);
  ASSERT_TRUE(s.Feed(s.Goaway(kMaxStreamId)).ok);
  EXPECT_TRUE(s.session.peer_sent_goaway());
  EXPECT_EQ(s.session.OpenableStreams(), 0u);
  s.Output();
  EXPECT_EQ(s.Get(), 0u);
  EXPECT_TRUE(s.Output().empty());
  EXPECT_EQ(s.session.stream_state(1), StreamState::kHalfClosedLocal);  // still running
}

TEST(ClientRequest, NoneAfterFailure) {
  {
    TestServer s;
    s.Handshake();
    EXPECT_EQ(s.Get(), 1u);
    s.Feed(s.Headers(2, TestServer::RequestFields(), true));  // a push-like HEADERS: fails
    ExpectClientConnectionError(s, ErrorCode::kProtocolError);
    EXPECT_EQ(s.Get(), 0u);
    EXPECT_TRUE(s.Output().empty());
  }
  {
    TestServer s;
    s.Handshake();
    s.session.Close(ErrorCode::kInternalError, "backend going away");
    EXPECT_TRUE(s.session.failed());
    EXPECT_EQ(s.session.OpenableStreams(), 0u);
    EXPECT_EQ(s.Get(), 0u);
    const auto g = s.TakeGoaway();
    ASSERT_TRUE(g.has_value());
    EXPECT_EQ(g->code, ErrorCode::kInternalError);
    EXPECT_EQ(g->last_stream_id, 0u);
    EXPECT_FALSE(s.Feed(s.Ping(1)).ok);  // the session stays failed
  }
}

// ---------------------------------------------------------------------------------------------
// Response heads

TEST(ClientResponse, FinalHeadAndBody) {
  TestServer s;
  s.Handshake();
  ASSERT_EQ(s.Get(), 1u);
  ASSERT_TRUE(s.Feed(s.Response(1, "200",
                                {{"content-type", "text/plain"},
                                 {"content-length", "5"},
                                 {"set-cookie", "a=1"},
                                 {"set-cookie", "b=2"}}))
                  .ok);
  const auto resp = s.handler.Of(ClientEvent::kResponse);
  ASSERT_EQ(resp.size(), 1u);
  EXPECT_EQ(resp[0].stream_id, 1u);
  EXPECT_EQ(resp[0].status, 200);
  EXPECT_FALSE(resp[0].end_stream);
  EXPECT_EQ(resp[0].content_length, 5u);
  const Fields want = {{"content-type", "text/plain"},
                       {"content-length", "5"},
                       {"set-cookie", "a=1"},
                       {"set-cookie", "b=2"}};
  EXPECT_EQ(resp[0].fields, want);  // ":status" excluded, order kept
  EXPECT_EQ(s.session.stream_state(1), StreamState::kHalfClosedLocal);
  ASSERT_TRUE(s.Feed(s.Data(1, "hello", true)).ok);
  EXPECT_EQ(s.handler.Body(1), "hello");
  EXPECT_TRUE(s.events.back().end_stream);
  EXPECT_EQ(s.session.stream_state(1), StreamState::kClosed);
  EXPECT_EQ(s.session.active_streams(), 0u);
  EXPECT_TRUE(s.handler.Of(ClientEvent::kClosed).empty());  // a normal end is not reported
  EXPECT_TRUE(s.Take(FrameType::kRstStream).empty());
  ExpectNoServerEvents(s);
}

TEST(ClientResponse, InterimHeadsThenFinal) {
  TestServer s;
  s.Handshake();
  ASSERT_EQ(s.Post(), 1u);
  ASSERT_TRUE(
      s.Feed({s.Response(1, "100"), s.Response(1, "103", {{"link", "</a.css>; rel=preload"}}),
              s.Response(1, "200", {}, true)})
          .ok);
  const auto resp = s.handler.Of(ClientEvent::kResponse);
  ASSERT_EQ(resp.size(), 3u);
  EXPECT_EQ(resp[0].status, 100);
  EXPECT_FALSE(resp[0].end_stream);
  EXPECT_EQ(resp[1].status, 103);
  EXPECT_FALSE(resp[1].end_stream);
  ASSERT_EQ(resp[1].fields.size(), 1u);
  EXPECT_EQ(resp[1].fields[0].first, "link");
  EXPECT_EQ(resp[2].status, 200);
  EXPECT_TRUE(resp[2].end_stream);
  EXPECT_EQ(s.session.stream_state(1), StreamState::kHalfClosedRemote);
  EXPECT_TRUE(s.handler.Of(ClientEvent::kClosed).empty());
}

// Each malformed response head: stream error PROTOCOL_ERROR (RFC 9113 section 8.1.1), reported
// to OnStreamClosed with by_peer false, never to OnResponse; the connection goes on.
TEST(ClientResponse, MalformedHeadsAreStreamErrors) {
  struct Case {
    const char* what;
    Fields fields;
    bool end_stream = false;
  };
  const std::vector<Case> cases = {
      {"101", {{":status", "101"}, {"upgrade", "websocket"}}},
      {"101 alone", {{":status", "101"}}},
      {"missing :status", {{"content-type", "text/plain"}}},
      {"no fields", {}},
      {"two digits", {{":status", "20"}}},
      {"four digits", {{":status", "2000"}}},
      {"letters", {{":status", "abc"}}},
      {"below 100", {{":status", "099"}}},
      {"repeated :status", {{":status", "200"}, {":status", "200"}}},
      {":path in a response", {{":status", "200"}, {":path", "/"}}},
      {":method in a response", {{":method", "GET"}, {":status", "200"}}},
      {"pseudo after regular", {{"server", "x"}, {":status", "200"}}},
      {"uppercase name", {{":status", "200"}, {"Content-Type", "text/plain"}}},
      {"bad value", {{":status", "200"}, {"x-a", "a\r\nb: c"}}},
      {"connection", {{":status", "200"}, {"connection", "close"}}},
      {"keep-alive", {{":status", "200"}, {"keep-alive", "timeout=5"}}},
      {"transfer-encoding", {{":status", "200"}, {"transfer-encoding", "chunked"}}},
      {"te", {{":status", "200"}, {"te", "trailers"}}},
      {"bad content-length", {{":status", "200"}, {"content-length", "1x"}}},
      {"conflicting content-length",
       {{":status", "200"}, {"content-length", "1"}, {"content-length", "2"}}},
      {"1xx with END_STREAM", {{":status", "103"}}, true},
      {"100 with END_STREAM", {{":status", "100"}}, true},
      {"content-length without DATA", {{":status", "200"}, {"content-length", "3"}}, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    TestServer s;
    s.Handshake();
    ASSERT_EQ(s.Get(), 1u);
    s.Output();
    s.Feed(s.Headers(1, c.fields, c.end_stream));
    ExpectClientStreamError(s, 1, ErrorCode::kProtocolError);
    EXPECT_TRUE(s.handler.Of(ClientEvent::kResponse).empty());
    EXPECT_EQ(s.session.stats().stream_errors, 1u);
    // Frames still in flight on the reset stream are ignored, and the HPACK state kept: the
    // next stream works.
    ASSERT_TRUE(s.Feed(s.Data(1, "late", true)).ok);
    EXPECT_TRUE(s.handler.Of(ClientEvent::kData).empty());
    ASSERT_EQ(s.Get(), 3u);
    ASSERT_TRUE(s.Feed(s.Response(3, "200", {{"server", "test"}}, true)).ok) << s.last.detail;
    const auto resp = s.handler.Of(ClientEvent::kResponse);
    ASSERT_EQ(resp.size(), 1u);
    EXPECT_EQ(resp[0].stream_id, 3u);
    EXPECT_TRUE(s.Take(FrameType::kGoaway).empty());
  }
}

TEST(ClientResponse, InterimAfterInterimAnd1xxWithoutEndStreamPass) {
  TestServer s;
  s.Handshake();
  ASSERT_EQ(s.Get(), 1u);
  ASSERT_TRUE(
      s.Feed({s.Response(1, "102"), s.Response(1, "199"), s.Response(1, "999", {}, true)}).ok);
  const auto resp = s.handler.Of(ClientEvent::kResponse);
  ASSERT_EQ(resp.size(), 3u);
  EXPECT_EQ(resp[2].status, 999);
  EXPECT_TRUE(s.handler.Of(ClientEvent::kClosed).empty());
  EXPECT_EQ(s.session.stream_state(1), StreamState::kClosed);
}

// A response head over our SETTINGS_MAX_HEADER_LIST_SIZE: a stream error, the HPACK state kept.
TEST(ClientResponse, HeadOverOurHeaderListSize) {
  SessionLimits limits;
  limits.max_header_list_size = 200;
  TestServer s(limits);
  s.Handshake();
  ASSERT_EQ(s.Get(), 1u);
  s.Output();
  s.Feed(s.Response(1, "200", {{"x-big", std::string(300, 'v')}, {"x-next", "kept"}}));
  ExpectClientStreamError(s, 1, ErrorCode::kProtocolError);
  EXPECT_TRUE(s.handler.Of(ClientEvent::kResponse).empty());
  ASSERT_EQ(s.Get(), 3u);
  ASSERT_TRUE(s.Feed(s.Response(3, "200", {{"x-next", "kept"}}, true)).ok) << s.last.detail;
  const auto resp = s.handler.Of(ClientEvent::kResponse);
  ASSERT_EQ(resp.size(), 1u);
  ASSERT_EQ(resp[0].fields.size(), 1u);
  EXPECT_EQ(resp[0].fields[0].second, "kept");
}

// HEAD, 204 and 304 carry no content whatever content-length says (RFC 9110 sections 9.3.2, 6.4.1;
// RFC 9113 section 8.1.1).
TEST(ClientResponse, NoContentResponsesWithContentLength) {
  {
    TestServer s;
    s.Handshake();
    ASSERT_EQ(s.Head(), 1u);
    ASSERT_TRUE(s.Feed(s.Response(1, "200", {{"content-length", "10"}}, true)).ok);
    const auto resp = s.handler.Of(ClientEvent::kResponse);
    ASSERT_EQ(resp.size(), 1u);
    EXPECT_EQ(resp[0].content_length, 10u);
    EXPECT_TRUE(resp[0].end_stream);
    EXPECT_TRUE(s.handler.Of(ClientEvent::kClosed).empty());
    EXPECT_TRUE(s.Take(FrameType::kRstStream).empty());
  }
  {  // HEAD answered with an empty DATA END_STREAM after the head: fine too.
    TestServer s;
    s.Handshake();
    ASSERT_EQ(s.Head(), 1u);
    ASSERT_TRUE(s.Feed({s.Response(1, "200", {{"content-length", "10"}}), s.Data(1, "", true)}).ok);
    EXPECT_TRUE(s.handler.Of(ClientEvent::kClosed).empty());
    EXPECT_EQ(s.session.stream_state(1), StreamState::kClosed);
  }
  for (const char* status : {"204", "304"}) {
    SCOPED_TRACE(status);
    TestServer s;
    s.Handshake();
    ASSERT_EQ(s.Get(), 1u);
    ASSERT_TRUE(s.Feed(s.Response(1, status, {{"content-length", "10"}}, true)).ok);
    ASSERT_EQ(s.handler.Of(ClientEvent::kResponse).size(), 1u);
    EXPECT_TRUE(s.handler.Of(ClientEvent::kClosed).empty());
    EXPECT_TRUE(s.Take(FrameType::kRstStream).empty());
  }
  {  // The same head on a GET with 200 is malformed: no DATA can follow to make up 10 bytes.
    TestServer s;
    s.Handshake();
    ASSERT_EQ(s.Get(), 1u);
    s.Output();
    s.Feed(s.Response(1, "200", {{"content-length", "10"}}, true));
    ExpectClientStreamError(s, 1, ErrorCode::kProtocolError);
  }
}

// A response head split over HEADERS and CONTINUATION frames.
TEST(ClientResponse, HeadInContinuationFrames) {
  TestServer s;
  s.Handshake();
  ASSERT_EQ(s.Get(), 1u);
  const std::string block = s.Block({{":status", "200"}, {"server", "split"}, {"x-a", "1"}});
  ASSERT_GE(block.size(), 3u);
  ASSERT_TRUE(s.Feed({TestServer::HeadersFragment(1, block.substr(0, 1), true),
                      TestServer::Continuation(1, block.substr(1, 1), false),
                      TestServer::Continuation(1, block.substr(2), true)})
                  .ok)
      << s.last.detail;
  const auto resp = s.handler.Of(ClientEvent::kResponse);
  ASSERT_EQ(resp.size(), 1u);
  EXPECT_EQ(resp[0].status, 200);
  EXPECT_TRUE(resp[0].end_stream);
  const Fields want = {{"server", "split"}, {"x-a", "1"}};
  EXPECT_EQ(resp[0].fields, want);
}

TEST(ClientResponse, FrameInsideFieldBlockIsConnectionError) {
  TestServer s;
  s.Handshake();
  ASSERT_EQ(s.Get(), 1u);
  const std::string block = s.Block({{":status", "200"}});
  s.Output();
  s.Feed({TestServer::HeadersFragment(1, block, true), s.Ping(7)});
  ExpectClientConnectionError(s, ErrorCode::kProtocolError);
  EXPECT_TRUE(s.handler.Of(ClientEvent::kResponse).empty());
}

// After both END_STREAMs, a HEADERS on the stream is a connection error STREAM_CLOSED
// (RFC 9113 section 5.1); on a half-closed (remote) stream a stream error STREAM_CLOSED.
TEST(ClientResponse, HeadersOnClosedStreams) {
  {
    TestServer s;
    s.Handshake();
    ASSERT_EQ(s.Get(), 1u);
    ASSERT_TRUE(s.Feed(s.Response(1, "200", {}, true)).ok);
    s.Output();
    s.Feed(s.Response(1, "200", {}, true));
    ExpectClientConnectionError(s, ErrorCode::kStreamClosed);
  }
  {
    TestServer s;
    s.Handshake();
    ASSERT_EQ(s.Post(), 1u);
    ASSERT_TRUE(s.Feed(s.Response(1, "200", {}, true)).ok);
    s.Output();
    s.Feed(s.Trailers(1, {{"x-late", "1"}}));
    ExpectClientStreamError(s, 1, ErrorCode::kStreamClosed);
    EXPECT_TRUE(s.handler.Of(ClientEvent::kTrailers).empty());
  }
}

// ---------------------------------------------------------------------------------------------
// DATA

TEST(ClientData, DeliveredInPiecesAsViewsIntoTheInput) {
  TestServer s;
  s.Handshake();
  ASSERT_EQ(s.Get(), 1u);
  ASSERT_TRUE(s.Feed(s.Response(1, "200")).ok);
  const std::string body(3000, 'z');
  const std::string frames = TestServer::Data(1, body.substr(0, 1000), false) +
                             TestServer::Data(1, body.substr(1000), true);
  ASSERT_TRUE(s.FeedSplit(frames, {5, 9, 500, 1009, 1013, 2000}).ok);
  EXPECT_EQ(s.handler.Body(1), body);
  const auto data = s.handler.Of(ClientEvent::kData);
  ASSERT_GE(data.size(), 3u);
  for (const auto& e : data) {
    EXPECT_TRUE(e.data_in_feed);
    EXPECT_FALSE(e.data.empty());
  }
  EXPECT_TRUE(data.back().end_stream);
  for (size_t i = 0; i + 1 < data.size(); ++i) EXPECT_FALSE(data[i].end_stream);
  EXPECT_EQ(s.session.stats().data_bytes, 3000u);
  EXPECT_EQ(s.session.stream_state(1), StreamState::kClosed);
}

TEST(ClientData, BeforeTheResponseHeadIsStreamError) {
  {
    TestServer s;
    s.Handshake();
    ASSERT_EQ(s.Get(), 1u);
    s.Output();
    s.Feed(s.Data(1, "early", false));
    ExpectClientStreamError(s, 1, ErrorCode::kProtocolError);
    EXPECT_TRUE(s.handler.Of(ClientEvent::kData).empty());
  }
  {  // An interim head is not the response head.
    TestServer s;
    s.Handshake();
    ASSERT_EQ(s.Get(), 1u);
    ASSERT_TRUE(s.Feed(s.Response(1, "103")).ok);
    s.Output();
    s.Feed(s.Data(1, "early", true));
    ExpectClientStreamError(s, 1, ErrorCode::kProtocolError);
    EXPECT_TRUE(s.handler.Of(ClientEvent::kData).empty());
  }
}

// A response without content (to HEAD, 204, 304) that carries DATA anyway: a stream error,
// nothing delivered, so an HTTP/1.1 client downstream never gets stray bytes.
TEST(ClientData, InAResponseWithoutContentIsStreamError) {
  {
    TestServer s;
    s.Handshake();
    ASSERT_EQ(s.Head(), 1u);
    ASSERT_TRUE(s.Feed(s.Response(1, "200", {{"content-length", "5"}})).ok);
    s.Output();
    s.Feed(s.Data(1, "hello", true));
    ExpectClientStreamError(s, 1, ErrorCode::kProtocolError);
    EXPECT_TRUE(s.handler.Of(ClientEvent::kData).empty());
  }
  for (const char* status : {"204", "304"}) {
    TestServer s;
    s.Handshake();
    ASSERT_EQ(s.Get(), 1u);
    ASSERT_TRUE(s.Feed(s.Response(1, status)).ok);
    s.Output();
    s.Feed(s.Data(1, "x", true));
    ExpectClientStreamError(s, 1, ErrorCode::kProtocolError);
    EXPECT_TRUE(s.handler.Of(ClientEvent::kData).empty()) << status;
  }
  {  // An empty DATA with END_STREAM ends it normally.
    TestServer s;
    s.Handshake();
    ASSERT_EQ(s.Head(), 1u);
    ASSERT_TRUE(s.Feed(s.Response(1, "200", {{"content-length", "5"}})).ok);
    ASSERT_TRUE(s.Feed(s.Data(1, "", true)).ok);
    EXPECT_EQ(s.session.stream_state(1), StreamState::kClosed);
  }
}

TEST(ClientData, ContentLengthMismatch) {
  {  // More DATA than content-length: refused before any of it is delivered.
    TestServer s;
    s.Handshake();
    ASSERT_EQ(s.Get(), 1u);
    ASSERT_TRUE(
        s.Feed({s.Response(1, "200", {{"content-length", "5"}}), s.Data(1, "abc", false)}).ok);
    s.Output();
    s.Feed(s.Data(1, "def", false));
    ExpectClientStreamError(s, 1, ErrorCode::kProtocolError);
    EXPECT_EQ(s.handler.Body(1), "abc");
  }
  {  // END_STREAM short of it.
    TestServer s;
    s.Handshake();
    ASSERT_EQ(s.Get(), 1u);
    ASSERT_TRUE(s.Feed(s.Response(1, "200", {{"content-length", "10"}})).ok);
    s.Output();
    s.Feed(s.Data(1, "short", true));
    ExpectClientStreamError(s, 1, ErrorCode::kProtocolError);
    EXPECT_TRUE(s.handler.Of(ClientEvent::kData).empty());
  }
  {  // Exactly content-length over two frames: fine.
    TestServer s;
    s.Handshake();
    ASSERT_EQ(s.Get(), 1u);
    ASSERT_TRUE(s.Feed({s.Response(1, "200", {{"content-length", "10"}}), s.Data(1, "0123", false),
                        s.Data(1, "456789", true)})
                    .ok);
    EXPECT_EQ(s.handler.Body(1), "0123456789");
    EXPECT_TRUE(s.handler.Of(ClientEvent::kClosed).empty());
    EXPECT_EQ(s.session.stream_state(1), StreamState::kClosed);
  }
}

TEST(ClientData, OnIdleStreamIsConnectionError) {
  TestServer s;
  s.Handshake();
  ASSERT_EQ(s.Get(), 1u);
  s.Output();
  s.Feed(s.Data(3, "x", true));
  ExpectClientConnectionError(s, ErrorCode::kProtocolError);
}

// ---------------------------------------------------------------------------------------------
// Trailers

TEST(ClientTrailers, AfterTheFinalResponse) {
  TestServer s;
  s.Handshake();
  ASSERT_EQ(s.Get(), 1u);
  ASSERT_TRUE(s.Feed({s.Response(1, "200", {{"content-type", "application/grpc"}}),
                      s.Data(1, "body", false),
                      s.Trailers(1, {{"grpc-status", "0"}, {"grpc-message", "ok"}})})
                  .ok);
  const auto tr = s.handler.Of(ClientEvent::kTrailers);
  ASSERT_EQ(tr.size(), 1u);
  EXPECT_EQ(tr[0].stream_id, 1u);
  const Fields want = {{"grpc-status", "0"}, {"grpc-message", "ok"}};
  EXPECT_EQ(tr[0].fields, want);
  EXPECT_EQ(s.handler.Of(ClientEvent::kResponse).size(), 1u);  // not a second response
  EXPECT_EQ(s.session.stream_state(1), StreamState::kClosed);
  EXPECT_TRUE(s.handler.Of(ClientEvent::kClosed).empty());
}

TEST(ClientTrailers, WithoutEndStreamIsStreamError) {
  TestServer s;
  s.Handshake();
  ASSERT_EQ(s.Get(), 1u);
  ASSERT_TRUE(s.Feed(s.Response(1, "200")).ok);
  s.Output();
  s.Feed(s.Trailers(1, {{"grpc-status", "0"}}, /*end_stream=*/false));
  ExpectClientStreamError(s, 1, ErrorCode::kProtocolError);
  EXPECT_TRUE(s.handler.Of(ClientEvent::kTrailers).empty());
}

TEST(ClientTrailers, MalformedTrailers) {
  struct Case {
    const char* what;
    Fields fields;
  };
  const std::vector<Case> cases = {
      {"pseudo-header field", {{":status", "200"}}},
      {"uppercase", {{"Grpc-Status", "0"}}},
      {"connection-specific", {{"connection", "close"}}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    TestServer s;
    s.Handshake();
    ASSERT_EQ(s.Get(), 1u);
    ASSERT_TRUE(s.Feed(s.Response(1, "200")).ok);
    s.Output();
    s.Feed(s.Trailers(1, c.fields));
    ExpectClientStreamError(s, 1, ErrorCode::kProtocolError);
    EXPECT_TRUE(s.handler.Of(ClientEvent::kTrailers).empty());
  }
}

TEST(ClientTrailers, ContentLengthCheckedAtTrailers) {
  TestServer s;
  s.Handshake();
  ASSERT_EQ(s.Get(), 1u);
  ASSERT_TRUE(
      s.Feed({s.Response(1, "200", {{"content-length", "10"}}), s.Data(1, "12345", false)}).ok);
  s.Output();
  s.Feed(s.Trailers(1, {{"x-checksum", "abc"}}));
  ExpectClientStreamError(s, 1, ErrorCode::kProtocolError);
  EXPECT_TRUE(s.handler.Of(ClientEvent::kTrailers).empty());
}

// ---------------------------------------------------------------------------------------------
// Flow control

TEST(ClientFlow, StreamWindowFromServerSettings) {
  TestServer s;
  s.Handshake({{SettingId::kInitialWindowSize, 1000}});
  ASSERT_EQ(s.Post(), 1u);
  EXPECT_EQ(s.session.SendWindow(1), 1000u);
  EXPECT_EQ(s.session.SendableBytes(1), 1000u);
  char hdr[kFrameHeaderSize];
  EXPECT_FALSE(s.session.PrepareData(1, 1001, false, hdr));
  ASSERT_TRUE(s.session.PrepareData(1, 1000, false, hdr));
  FrameHeader h;
  ASSERT_TRUE(DecodeFrameHeader(std::string_view(hdr, sizeof hdr), &h));
  EXPECT_EQ(h.type, FrameType::kData);
  EXPECT_EQ(h.length, 1000u);
  EXPECT_EQ(h.stream_id, 1u);
  EXPECT_FALSE(h.has(kFlagEndStream));
  EXPECT_EQ(s.session.SendableBytes(1), 0u);  // arms OnSendWindow
  EXPECT_FALSE(s.session.PrepareData(1, 1, false, hdr));
  EXPECT_TRUE(s.handler.Of(ClientEvent::kSendWindow).empty());
  ASSERT_TRUE(s.Feed(s.WindowUpdate(1, 2000)).ok);
  const auto w = s.handler.Of(ClientEvent::kSendWindow);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].stream_id, 1u);
  EXPECT_EQ(s.session.SendableBytes(1), 2000u);
  // END_STREAM with no payload needs no window.
  ASSERT_TRUE(s.session.PrepareData(1, 0, true, hdr));
  ASSERT_TRUE(DecodeFrameHeader(std::string_view(hdr, sizeof hdr), &h));
  EXPECT_TRUE(h.has(kFlagEndStream));
  EXPECT_EQ(s.session.stream_state(1), StreamState::kHalfClosedLocal);
  EXPECT_EQ(s.session.SendableBytes(1), 0u);
}

TEST(ClientFlow, NothingToSendOnAGetOrUnknownStream) {
  TestServer s;
  s.Handshake();
  ASSERT_EQ(s.Get(), 1u);
  char hdr[kFrameHeaderSize];
  EXPECT_EQ(s.session.SendableBytes(1), 0u);  // END_STREAM already sent
  EXPECT_FALSE(s.session.PrepareData(1, 1, false, hdr));
  EXPECT_EQ(s.session.SendableBytes(3), 0u);
  EXPECT_FALSE(s.session.PrepareData(3, 0, true, hdr));
}

TEST(ClientFlow, ConnectionWindowSharedByStreams) {
  TestServer s;
  s.Handshake({{SettingId::kInitialWindowSize, 1 << 20}});
  ASSERT_EQ(s.Post(), 1u);
  ASSERT_EQ(s.Post(), 3u);
  EXPECT_EQ(s.session.SendWindow(1), 65535u);  // the connection's is the smaller
  char hdr[kFrameHeaderSize];
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(s.session.SendableBytes(1), 16384u);  // capped by the frame size
    ASSERT_TRUE(s.session.PrepareData(1, 16384, false, hdr));
  }
  EXPECT_EQ(s.session.SendableBytes(1), 16383u);
  EXPECT_EQ(s.session.SendableBytes(3), 16383u);
  ASSERT_TRUE(s.session.PrepareData(3, 16383, false, hdr));
  EXPECT_EQ(s.session.SendableBytes(1), 0u);
  EXPECT_EQ(s.session.SendableBytes(3), 0u);
  EXPECT_EQ(s.session.SendWindow(3), 0u);
  // A stream WINDOW_UPDATE does not open the connection's window.
  ASSERT_TRUE(s.Feed(s.WindowUpdate(3, 5000)).ok);
  EXPECT_TRUE(s.handler.Of(ClientEvent::kSendWindow).empty());
  ASSERT_TRUE(s.Feed(s.WindowUpdate(0, 50000)).ok);
  const auto w = s.handler.Of(ClientEvent::kSendWindow);
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0].stream_id, 1u);
  EXPECT_EQ(w[1].stream_id, 3u);
  EXPECT_EQ(s.session.SendableBytes(3), 16384u);
  EXPECT_EQ(s.session.SendWindow(3), 50000u);
}

// RFC 9113 section 6.9.2: a stream opened before the server's SETTINGS moves with its
// INITIAL_WINDOW_SIZE.
TEST(ClientFlow, InitialWindowChangeShiftsOpenStreams) {
  TestServer s;
  ASSERT_EQ(s.Post(), 1u);
  EXPECT_EQ(s.session.SendWindow(1), 65535u);
  s.Handshake({{SettingId::kInitialWindowSize, 1000}});
  EXPECT_EQ(s.session.SendWindow(1), 1000u);
  EXPECT_EQ(s.session.SendableBytes(1), 1000u);
}

TEST(ClientFlow, InitialWindowIncreaseWakesBlockedStreams) {
  TestServer s;
  s.Handshake({{SettingId::kInitialWindowSize, 100}});
  ASSERT_EQ(s.Post(), 1u);
  char hdr[kFrameHeaderSize];
  ASSERT_TRUE(s.session.PrepareData(1, 100, false, hdr));
  EXPECT_EQ(s.session.SendableBytes(1), 0u);
  ASSERT_TRUE(s.Feed(s.Settings({{SettingId::kInitialWindowSize, 3000}})).ok);
  const auto w = s.handler.Of(ClientEvent::kSendWindow);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].stream_id, 1u);
  EXPECT_EQ(s.session.SendableBytes(1), 2900u);
}

TEST(ClientFlow, ServerMaxFrameSizeCapsSendable) {
  TestServer s;
  s.Handshake({{SettingId::kMaxFrameSize, 20000}, {SettingId::kInitialWindowSize, 1 << 20}});
  ASSERT_TRUE(s.Feed(s.WindowUpdate(0, 1 << 20)).ok);
  ASSERT_EQ(s.Post(), 1u);
  EXPECT_EQ(s.session.SendableBytes(1), 20000u);
}

TEST(ClientFlow, ConsumeDataQueuesWindowUpdates) {
  SessionLimits limits;
  limits.connection_window = 65535;  // thresholds: 32767 for the stream and the connection
  TestServer s(limits);
  s.Handshake();
  ASSERT_EQ(s.Get(), 1u);
  const std::string chunk(16384, 'd');
  ASSERT_TRUE(s.Feed({s.Response(1, "200"), s.Data(1, chunk, false), s.Data(1, chunk, false)}).ok);
  EXPECT_EQ(s.handler.Body(1).size(), 32768u);
  EXPECT_TRUE(s.Take(FrameType::kWindowUpdate).empty());  // nothing released yet
  s.session.ConsumeData(1, 16384);
  EXPECT_TRUE(s.Take(FrameType::kWindowUpdate).empty());  // under half a window
  s.session.ConsumeData(1, 16384);
  const auto w = s.Take(FrameType::kWindowUpdate);
  ASSERT_EQ(w.size(), 2u);
  bool stream = false, conn = false;
  for (const auto& f : w) {
    EXPECT_EQ(f.increment, 32768u);
    stream |= f.stream() == 1;
    conn |= f.stream() == 0;
  }
  EXPECT_TRUE(stream);
  EXPECT_TRUE(conn);
  // More than delivered is never credited.
  s.session.ConsumeData(1, 1 << 20);
  EXPECT_TRUE(s.Take(FrameType::kWindowUpdate).empty());
}

TEST(ClientFlow, DataBeyondOurStreamWindow) {
  SessionLimits limits;
  limits.initial_stream_window = 1000;
  TestServer s(limits);
  s.Handshake();  // the server's ACK puts our 1000 in force
  ASSERT_EQ(s.Get(), 1u);
  ASSERT_TRUE(s.Feed({s.Response(1, "200"), s.Data(1, std::string(600, 'a'), false)}).ok);
  s.Output();
  s.Feed(s.Data(1, std::string(401, 'b'), false));
  ExpectClientStreamError(s, 1, ErrorCode::kFlowControlError);
  EXPECT_EQ(s.handler.Body(1).size(), 600u);
}

TEST(ClientFlow, OurSmallerWindowOnlyOnceAcknowledged) {
  SessionLimits limits;
  limits.initial_stream_window = 1000;
  TestServer s(limits);
  s.Output();
  ASSERT_TRUE(s.Feed(s.Settings()).ok);  // no ACK yet: 65535 is in force
  ASSERT_EQ(s.Get(), 1u);
  ASSERT_TRUE(s.Feed({s.Response(1, "200"), s.Data(1, std::string(5000, 'a'), false)}).ok);
  EXPECT_EQ(s.handler.Body(1).size(), 5000u);
  EXPECT_TRUE(s.handler.Of(ClientEvent::kClosed).empty());
  ASSERT_TRUE(s.Feed(s.SettingsAck()).ok);  // now 1000 - 5000 left: nothing more fits
  s.Output();
  s.Feed(s.Data(1, "x", false));
  ExpectClientStreamError(s, 1, ErrorCode::kFlowControlError);
}

TEST(ClientFlow, DataBeyondOurConnectionWindow) {
  SessionLimits limits;
  limits.connection_window = 65535;
  limits.initial_stream_window = 1 << 20;
  TestServer s(limits);
  s.Handshake();
  ASSERT_EQ(s.Get(), 1u);
  ASSERT_EQ(s.Get(), 3u);
  const std::string chunk(16384, 'd');
  ASSERT_TRUE(s.Feed({s.Response(1, "200"), s.Response(3, "200"), s.Data(1, chunk, false),
                      s.Data(3, chunk, false), s.Data(1, chunk, false),
                      s.Data(3, std::string(16383, 'e'), false)})
                  .ok);  // exactly 65535
  s.Feed(s.Data(1, "x", false));
  ExpectClientConnectionError(s, ErrorCode::kFlowControlError);
}

// ---------------------------------------------------------------------------------------------
// RST_STREAM

TEST(ClientRst, ServerResetsReported) {
  TestServer s;
  s.Handshake();
  ASSERT_EQ(s.Get(), 1u);
  ASSERT_EQ(s.Post(), 3u);
  ASSERT_EQ(s.Get(), 5u);
  s.Output();
  ASSERT_TRUE(s.Feed({s.Rst(1, ErrorCode::kRefusedStream), s.Response(3, "200"),
                      s.Rst(3, ErrorCode::kCancel), s.Rst(5, static_cast<ErrorCode>(0x77))})
                  .ok);
  const auto closed = s.handler.Of(ClientEvent::kClosed);
  ASSERT_EQ(closed.size(), 3u);
  EXPECT_EQ(closed[0].stream_id, 1u);
  EXPECT_EQ(closed[0].code, ErrorCode::kRefusedStream);
  EXPECT_TRUE(closed[0].by_peer);
  EXPECT_EQ(closed[1].stream_id, 3u);
  EXPECT_EQ(closed[1].code, ErrorCode::kCancel);
  EXPECT_TRUE(closed[1].by_peer);
  EXPECT_EQ(closed[2].stream_id, 5u);
  EXPECT_EQ(closed[2].code, static_cast<ErrorCode>(0x77));  // unknown codes passed through
  EXPECT_TRUE(closed[2].by_peer);
  for (uint32_t id : {1u, 3u, 5u}) EXPECT_EQ(s.session.stream_state(id), StreamState::kClosed);
  EXPECT_EQ(s.session.active_streams(), 0u);
  EXPECT_EQ(s.session.stats().peer_resets, 3u);
  EXPECT_TRUE(s.Take(FrameType::kRstStream).empty());  // never answered with RST_STREAM
  // A second reset of the same stream is ignored.
  ASSERT_TRUE(s.Feed(s.Rst(1, ErrorCode::kCancel)).ok);
  EXPECT_EQ(s.handler.Of(ClientEvent::kClosed).size(), 3u);
}

// CVE-2023-44487 is about clients resetting streams a server works on; a server refusing or
// cancelling our streams costs us nothing and must not fail the connection.
TEST(ClientRst, NoRapidResetAccountingForAClient) {
  TestServer s;
  s.Handshake();
  const int n = static_cast<int>(AbuseLimits{}.max_rapid_resets) * 3;
  std::string resets;
  for (int i = 0; i < n; ++i) {
    const uint32_t id = s.Get();
    ASSERT_EQ(id, static_cast<uint32_t>(2 * i + 1));
    resets += TestServer::Rst(id, i % 2 ? ErrorCode::kCancel : ErrorCode::kRefusedStream);
  }
  s.Output();
  ASSERT_TRUE(s.Feed(resets).ok) << s.last.detail;
  EXPECT_EQ(s.handler.Of(ClientEvent::kClosed).size(), static_cast<size_t>(n));
  EXPECT_EQ(s.session.abuse_stats().rapid_resets, 0u);
  EXPECT_FALSE(s.session.failed());
  EXPECT_TRUE(s.Take(FrameType::kGoaway).empty());
  EXPECT_GT(s.session.OpenableStreams(), 0u);
}

// RFC 9113 section 8.1: a server may answer before the request is complete and then stop the
// request body with RST_STREAM NO_ERROR; the response stands.
TEST(ClientRst, NoErrorAfterCompleteResponse) {
  TestServer s;
  s.Handshake();
  ASSERT_EQ(s.Post(), 1u);
  ASSERT_TRUE(s.Feed({s.Response(1, "413", {{"content-length", "4"}}), s.Data(1, "big!", true),
                      s.Rst(1, ErrorCode::kNoError)})
                  .ok);
  ASSERT_EQ(s.events.size(), 3u);
  EXPECT_EQ(s.events[0].kind, ClientEvent::kResponse);
  EXPECT_EQ(s.events[0].status, 413);
  EXPECT_EQ(s.events[1].kind, ClientEvent::kData);
  EXPECT_TRUE(s.events[1].end_stream);
  EXPECT_EQ(s.events[2].kind, ClientEvent::kClosed);
  EXPECT_EQ(s.events[2].code, ErrorCode::kNoError);
  EXPECT_TRUE(s.events[2].by_peer);
  EXPECT_EQ(s.session.SendableBytes(1), 0u);
  char hdr[kFrameHeaderSize];
  EXPECT_FALSE(s.session.PrepareData(1, 0, true, hdr));
}

TEST(ClientRst, OnIdleStreamIsConnectionError) {
  TestServer s;
  s.Handshake();
  ASSERT_EQ(s.Get(), 1u);
  s.Output();
  s.Feed(s.Rst(3, ErrorCode::kCancel));
  ExpectClientConnectionError(s, ErrorCode::kProtocolError);
}

// After the server's RST_STREAM, DATA on the stream is a stream error STREAM_CLOSED.
TEST(ClientRst, DataAfterServerResetIsStreamClosed) {
  TestServer s;
  s.Handshake();
  ASSERT_EQ(s.Get(), 1u);
  ASSERT_TRUE(s.Feed({s.Response(1, "200"), s.Rst(1, ErrorCode::kInternalError)}).ok);
  s.Output();
  ASSERT_TRUE(s.Feed(s.Data(1, "x", false)).ok);
  EXPECT_TRUE(s.TakeRst(1, ErrorCode::kStreamClosed));
  EXPECT_TRUE(s.handler.Of(ClientEvent::kData).empty());
  EXPECT_EQ(s.handler.Of(ClientEvent::kClosed).size(), 1u);  // reported once, for the RST
}

// ---------------------------------------------------------------------------------------------
// GOAWAY

TEST(ClientGoaway, StreamsAboveLastStreamIdRefused) {
  TestServer s;
  s.Handshake();
  for (uint32_t want : {1u, 3u, 5u, 7u}) ASSERT_EQ(s.Get(), want);
  s.Output();
  ASSERT_TRUE(s.Feed(s.Goaway(3, ErrorCode::kNoError, "maintenance")).ok);
  ASSERT_EQ(s.events.size(), 3u);
  EXPECT_EQ(s.events[0].kind, ClientEvent::kGoaway);
  EXPECT_EQ(s.events[0].last_stream_id, 3u);
  EXPECT_EQ(s.events[0].code, ErrorCode::kNoError);
  EXPECT_EQ(s.events[0].data, "maintenance");
  for (size_t i = 1; i < 3; ++i) {
    EXPECT_EQ(s.events[i].kind, ClientEvent::kClosed);
    EXPECT_EQ(s.events[i].code, ErrorCode::kRefusedStream);
    EXPECT_TRUE(s.events[i].by_peer);
  }
  EXPECT_EQ(s.events[1].stream_id, 5u);
  EXPECT_EQ(s.events[2].stream_id, 7u);
  EXPECT_TRUE(s.Output().empty());  // no RST_STREAM for them, no GOAWAY of ours
  EXPECT_TRUE(s.session.peer_sent_goaway());
  EXPECT_EQ(s.session.peer_goaway_last(), 3u);
  EXPECT_EQ(s.session.OpenableStreams(), 0u);
  EXPECT_EQ(s.Get(), 0u);
  EXPECT_EQ(s.session.active_streams(), 2u);
  EXPECT_FALSE(s.session.finished());
  // 1 and 3 run to completion.
  ASSERT_TRUE(s.Feed({s.Response(1, "200", {}, true), s.Response(3, "200")}).ok);
  EXPECT_EQ(s.handler.Of(ClientEvent::kResponse).size(), 2u);
  EXPECT_FALSE(s.session.finished());
  ASSERT_TRUE(s.Feed(s.Data(3, "done", true)).ok);
  EXPECT_EQ(s.handler.Body(3), "done");
  EXPECT_TRUE(s.session.finished());
  EXPECT_FALSE(s.session.failed());
  // Late frames on the refused streams are ignored.
  ASSERT_TRUE(s.Feed(s.Rst(5, ErrorCode::kRefusedStream)).ok);
  EXPECT_EQ(s.handler.Of(ClientEvent::kClosed).size(), 2u);
}

TEST(ClientGoaway, HandlerMayNotReopenFromOnStreamClosed) {
  TestServer s;
  s.Handshake();
  ASSERT_EQ(s.Get(), 1u);
  ASSERT_EQ(s.Get(), 3u);
  std::vector<uint32_t> retried;
  s.handler.on_closed = [&](uint32_t, ErrorCode, bool) { retried.push_back(s.Get()); };
  ASSERT_TRUE(s.Feed(s.Goaway(1)).ok);
  ASSERT_EQ(retried.size(), 1u);
  EXPECT_EQ(retried[0], 0u);  // no new stream on a connection going away
}

TEST(ClientGoaway, LastStreamIdMayOnlyFall) {
  {
    TestServer s;
    s.Handshake();
    for (uint32_t want : {1u, 3u, 5u, 7u}) ASSERT_EQ(s.Get(), want);
    ASSERT_TRUE(s.Feed(s.Goaway(kMaxStreamId)).ok);  // graceful first step: nothing refused
    EXPECT_TRUE(s.handler.Of(ClientEvent::kClosed).empty());
    ASSERT_TRUE(s.Feed(s.Goaway(5)).ok);
    ASSERT_EQ(s.handler.Of(ClientEvent::kClosed).size(), 1u);
    EXPECT_EQ(s.handler.Of(ClientEvent::kClosed)[0].stream_id, 7u);
    ASSERT_TRUE(s.Feed(s.Goaway(5)).ok);  // the same again: fine
    ASSERT_TRUE(s.Feed(s.Goaway(1)).ok);  // lower: refuses 3 and 5
    EXPECT_EQ(s.handler.Of(ClientEvent::kClosed).size(), 3u);
    EXPECT_EQ(s.session.peer_goaway_last(), 1u);
    s.Output();
    s.Feed(s.Goaway(3));  // higher: a connection error
    ExpectClientConnectionError(s, ErrorCode::kProtocolError);
  }
  {
    TestServer s;
    s.Handshake();
    for (uint32_t want : {1u, 3u, 5u, 7u}) ASSERT_EQ(s.Get(), want);
    ASSERT_TRUE(s.Feed(s.Goaway(3)).ok);
    s.Output();
    s.Feed(s.Goaway(9));
    ExpectClientConnectionError(s, ErrorCode::kProtocolError);
    EXPECT_EQ(s.handler.Of(ClientEvent::kGoaway).size(), 1u);
  }
}

TEST(ClientGoaway, WithErrorCodeAndNoStreams) {
  TestServer s;
  s.Handshake();
  ASSERT_TRUE(s.Feed(s.Goaway(0, ErrorCode::kEnhanceYourCalm, "calm")).ok);
  const auto g = s.handler.Of(ClientEvent::kGoaway);
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].code, ErrorCode::kEnhanceYourCalm);
  EXPECT_EQ(g[0].data, "calm");
  EXPECT_TRUE(s.session.finished());
  EXPECT_EQ(s.Get(), 0u);
}

// ---------------------------------------------------------------------------------------------
// PING

TEST(ClientPing, ServerPingAnswered) {
  TestServer s;
  s.Handshake();
  ASSERT_TRUE(s.Feed(s.Ping(0x1122334455667788)).ok);
  const auto p = s.Take(FrameType::kPing);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_TRUE(p[0].ack());
  EXPECT_EQ(p[0].opaque, 0x1122334455667788u);
  EXPECT_TRUE(s.handler.Of(ClientEvent::kPingAck).empty());
}

TEST(ClientPing, SendPingAndAck) {
  TestServer s;
  s.Handshake();
  EXPECT_FALSE(s.session.ping_outstanding());
  ASSERT_TRUE(s.session.SendPing());
  EXPECT_TRUE(s.session.ping_outstanding());
  auto p = s.Take(FrameType::kPing);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_FALSE(p[0].ack());
  const uint64_t opaque = p[0].opaque;
  EXPECT_FALSE(s.session.SendPing());  // one at a time
  EXPECT_TRUE(s.Output().empty());
  // An ACK with other data is not ours.
  ASSERT_TRUE(s.Feed(s.Ping(opaque ^ 1, true)).ok);
  EXPECT_TRUE(s.handler.Of(ClientEvent::kPingAck).empty());
  EXPECT_TRUE(s.session.ping_outstanding());
  ASSERT_TRUE(s.Feed(s.Ping(opaque, true)).ok);
  EXPECT_EQ(s.handler.Of(ClientEvent::kPingAck).size(), 1u);
  EXPECT_FALSE(s.session.ping_outstanding());
  EXPECT_TRUE(s.Output().empty());  // an ACK is never answered
  // The same ACK again: nothing.
  ASSERT_TRUE(s.Feed(s.Ping(opaque, true)).ok);
  EXPECT_EQ(s.handler.Of(ClientEvent::kPingAck).size(), 1u);
  ASSERT_TRUE(s.session.SendPing());
  p = s.Take(FrameType::kPing);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].opaque, opaque);
}

// ---------------------------------------------------------------------------------------------
// Frames a client refuses

TEST(ClientFrames, PushPromiseIsConnectionError) {
  TestServer s;
  s.Handshake();
  ASSERT_EQ(s.Get(), 1u);
  s.Output();
  s.Feed(s.PushPromise(1, 2, TestServer::RequestFields("GET", "/pushed")));
  ExpectClientConnectionError(s, ErrorCode::kProtocolError);
  EXPECT_TRUE(s.handler.Of(ClientEvent::kResponse).empty());
  EXPECT_TRUE(s.handler.Of(ClientEvent::kClosed).empty());  // not reported on a connection error
}

TEST(ClientFrames, HeadersOnEvenStream) {
  TestServer s;
  s.Handshake();
  ASSERT_EQ(s.Get(), 1u);
  s.Output();
  s.Feed(s.Response(2, "200", {}, true));
  ExpectClientConnectionError(s, ErrorCode::kProtocolError);
  EXPECT_TRUE(s.handler.Of(ClientEvent::kResponse).empty());
}

TEST(ClientFrames, HeadersOnIdleOddStream) {
  {
    TestServer s;
    s.Handshake();
    ASSERT_EQ(s.Get(), 1u);
    s.Output();
    s.Feed(s.Response(3, "200", {}, true));
    ExpectClientConnectionError(s, ErrorCode::kProtocolError);
    EXPECT_TRUE(s.handler.Of(ClientEvent::kResponse).empty());
  }
  {  // Before any request at all.
    TestServer s;
    s.Handshake();
    s.Feed(s.Response(1, "200", {}, true));
    ExpectClientConnectionError(s, ErrorCode::kProtocolError);
  }
}

TEST(ClientFrames, WindowUpdateOnIdleStream) {
  TestServer s;
  s.Handshake();
  ASSERT_EQ(s.Get(), 1u);
  s.Output();
  s.Feed(s.WindowUpdate(5, 1000));
  ExpectClientConnectionError(s, ErrorCode::kProtocolError);
}

// PRIORITY is ignored (RFC 9113 section 5.3.2), and one that breaks the frame rules on a stream
// the client has not opened must not draw a RST_STREAM: section 6.4 forbids RST_STREAM on an idle
// stream (the server would answer with a connection error PROTOCOL_ERROR), and an odd id is one
// this client opens later. A connection error would be allowed (section 5.4.1); the client must
// not act as if the id were used.
TEST(ClientFrames, BadPriorityOnIdleStreamDrawsNoRstStream) {
  for (const uint32_t idle : {3u, 2u}) {
    SCOPED_TRACE(idle);
    TestServer s;
    s.Handshake();
    ASSERT_EQ(s.Get(), 1u);
    s.Output();
    std::string prio;
    AppendPriority(idle, Priority{false, idle, 15}, &prio);  // depends on itself
    const FeedResult r = s.Feed(prio);
    for (const auto& f : s.Output()) {
      EXPECT_FALSE(f.type() == FrameType::kRstStream && f.stream() == idle)
          << "RST_STREAM " << ErrorCodeName(f.code) << " on idle stream " << idle;
    }
    if (!r.ok) continue;  // a connection error is an acceptable answer
    EXPECT_TRUE(s.handler.Of(ClientEvent::kClosed).empty());
    ASSERT_TRUE(s.Feed(s.Response(1, "200", {}, true)).ok);
    ASSERT_EQ(s.Get(), 3u);
    ASSERT_TRUE(s.Feed(s.Response(3, "200", {}, true)).ok) << s.last.detail;
    EXPECT_EQ(s.handler.Of(ClientEvent::kResponse).size(), 2u);
  }
}

// On a stream the client opened, a bad PRIORITY is a stream error like any other.
TEST(ClientFrames, BadPriorityOnOpenStream) {
  TestServer s;
  s.Handshake();
  ASSERT_EQ(s.Get(), 1u);
  s.Output();
  s.Feed(TestServer::Frame(FrameType::kPriority, 0, 1, "1234"));  // length 4
  ExpectClientStreamError(s, 1, ErrorCode::kFrameSizeError);
  ASSERT_TRUE(s.Feed(TestServer::Frame(FrameType::kPriority, 0, 1, std::string(5, '\0'))).ok);
  EXPECT_TRUE(s.Output().empty());  // on a closed stream PRIORITY is fine
}

// ---------------------------------------------------------------------------------------------
// SETTINGS

TEST(ClientSettings, EnablePushFromServerIsProtocolError) {
  {
    TestServer s;
    s.Output();
    s.Feed(s.Settings({{SettingId::kEnablePush, 1}}));
    ExpectClientConnectionError(s, ErrorCode::kProtocolError);
  }
  {  // Later too.
    TestServer s;
    s.Handshake();
    s.Feed(s.Settings({{SettingId::kEnablePush, 1}}));
    ExpectClientConnectionError(s, ErrorCode::kProtocolError);
  }
  {  // 0 is fine.
    TestServer s;
    s.Handshake({{SettingId::kEnablePush, 0}});
    EXPECT_FALSE(s.session.failed());
  }
}

// The server's HEADER_TABLE_SIZE reaches our encoder: its decoder (4096 here) must keep up when
// the table shrinks to nothing.
TEST(ClientSettings, HeaderTableSizeFromServer) {
  TestServer s;
  s.Handshake();
  const Fields f = {{":method", "GET"},
                    {":scheme", "https"},
                    {":authority", "backend.example"},
                    {":path", "/"},
                    {"x-custom", "value-value"}};
  ASSERT_EQ(s.Submit(f, true), 1u);
  ASSERT_TRUE(s.Feed(s.Settings({{SettingId::kHeaderTableSize, 0}})).ok);
  ASSERT_EQ(s.Submit(f, true), 3u);
  const auto h = s.Take(FrameType::kHeaders);
  ASSERT_EQ(h.size(), 2u);
  ExpectFields(h[0], f);
  ExpectFields(h[1], f);
  EXPECT_EQ(s.decoder.table().size(), 0u);
}

// ---------------------------------------------------------------------------------------------
// Sending trailers, resetting

TEST(ClientSend, TrailersEndTheRequest) {
  TestServer s;
  s.Handshake();
  ASSERT_EQ(s.Post(), 1u);
  char hdr[kFrameHeaderSize];
  ASSERT_TRUE(s.session.PrepareData(1, 5, false, hdr));
  s.Output();
  const hpack::HeaderField trailers[] = {{"X-Checksum", "abc"}, {"connection", "close"}};
  ASSERT_TRUE(s.session.SubmitTrailers(1, trailers));
  const auto h = s.Take(FrameType::kHeaders);
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h[0].stream(), 1u);
  EXPECT_TRUE(h[0].end_stream());
  const Fields want = {{"x-checksum", "abc"}};  // lowercased, connection field dropped
  EXPECT_EQ(h[0].fields, want);
  EXPECT_EQ(s.session.stream_state(1), StreamState::kHalfClosedLocal);
  EXPECT_FALSE(s.session.SubmitTrailers(1, trailers));  // our side is done
  EXPECT_EQ(s.session.SendableBytes(1), 0u);
  // A GET's side ended with its HEADERS.
  ASSERT_EQ(s.Get(), 3u);
  EXPECT_FALSE(s.session.SubmitTrailers(3, trailers));
  EXPECT_FALSE(s.session.SubmitTrailers(5, trailers));  // no such stream
}

TEST(ClientSend, EmptyTrailersAreAnEmptyDataWithEndStream) {
  TestServer s;
  s.Handshake();
  ASSERT_EQ(s.Post(), 1u);
  s.Output();
  ASSERT_TRUE(s.session.SubmitTrailers(1, {}));
  const auto out = s.Output();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type(), FrameType::kData);
  EXPECT_EQ(out[0].header.length, 0u);
  EXPECT_TRUE(out[0].end_stream());
  EXPECT_EQ(s.session.stream_state(1), StreamState::kHalfClosedLocal);
}

TEST(ClientSend, ResetStreamThenLateFramesIgnoredAndCredited) {
  SessionLimits limits;
  limits.connection_window = 65535;  // a WINDOW_UPDATE once 32767 bytes are due
  TestServer s(limits);
  s.Handshake();
  ASSERT_EQ(s.Get(), 1u);
  ASSERT_TRUE(s.Feed(s.Response(1, "200")).ok);
  s.Output();
  ASSERT_TRUE(s.session.ResetStream(1, ErrorCode::kCancel));
  EXPECT_TRUE(s.TakeRst(1, ErrorCode::kCancel));
  EXPECT_EQ(s.session.stream_state(1), StreamState::kClosed);
  EXPECT_TRUE(s.handler.Of(ClientEvent::kClosed).empty());  // the proxy's own reset
  EXPECT_FALSE(s.session.ResetStream(1, ErrorCode::kCancel));
  const std::string chunk(16384, 'x');
  // Late DATA and trailers: dropped, the DATA credited to the connection by the session, the
  // trailers' block still decoded (it adds "x-dyn" to the dynamic table stream 3 refers to).
  ASSERT_TRUE(s.Feed({s.Data(1, chunk, false), s.Data(1, chunk, false),
                      s.Trailers(1, {{"x-dyn", "dynamic-value"}})})
                  .ok)
      << s.last.detail;
  EXPECT_TRUE(s.handler.Of(ClientEvent::kData).empty());
  EXPECT_TRUE(s.handler.Of(ClientEvent::kTrailers).empty());
  EXPECT_EQ(s.session.stats().discarded_data_bytes, 32768u);
  const auto w = s.Take(FrameType::kWindowUpdate);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].stream(), 0u);
  EXPECT_EQ(w[0].increment, 32768u);
  ASSERT_EQ(s.Get(), 3u);
  ASSERT_TRUE(s.Feed(s.Response(3, "200", {{"x-dyn", "dynamic-value"}}, true)).ok) << s.last.detail;
  const auto resp = s.handler.Of(ClientEvent::kResponse);
  ASSERT_EQ(resp.size(), 2u);
  ASSERT_EQ(resp[1].fields.size(), 1u);
  EXPECT_EQ(resp[1].fields[0].second, "dynamic-value");
}

TEST(ClientSend, ResetFromOnDataStopsDelivery) {
  TestServer s;
  s.Handshake();
  ASSERT_EQ(s.Get(), 1u);
  s.handler.on_data = [&](uint32_t id, std::string_view, bool) {
    EXPECT_TRUE(s.session.ResetStream(id, ErrorCode::kCancel));
  };
  ASSERT_TRUE(s.Feed(s.Response(1, "200")).ok);
  const std::string frame = TestServer::Data(1, std::string(100, 'a'), false);
  ASSERT_TRUE(s.FeedSplit(frame, {20}).ok);  // the rest of the frame arrives after the reset
  EXPECT_EQ(s.handler.Of(ClientEvent::kData).size(), 1u);
  EXPECT_TRUE(s.TakeRst(1, ErrorCode::kCancel));
  EXPECT_FALSE(s.session.failed());
}

// ---------------------------------------------------------------------------------------------
// Shutdown

TEST(ClientShutdown, GoawayWithLastStreamIdZero) {
  TestServer s;
  s.Handshake();
  ASSERT_EQ(s.Get(), 1u);
  s.Output();
  s.session.Shutdown();
  const auto out = s.Output();
  ASSERT_EQ(out.size(), 1u);  // one GOAWAY, no PING
  EXPECT_EQ(out[0].type(), FrameType::kGoaway);
  EXPECT_EQ(out[0].last_stream_id, 0u);
  EXPECT_EQ(out[0].code, ErrorCode::kNoError);
  EXPECT_TRUE(s.session.draining());
  EXPECT_EQ(s.session.OpenableStreams(), 0u);
  EXPECT_EQ(s.Get(), 0u);
  EXPECT_FALSE(s.session.finished());
  // The stream in flight completes.
  ASSERT_TRUE(s.Feed(s.Response(1, "200", {}, true)).ok);
  EXPECT_EQ(s.handler.Of(ClientEvent::kResponse).size(), 1u);
  EXPECT_TRUE(s.session.finished());
  EXPECT_FALSE(s.session.failed());
  s.session.Shutdown();  // once only
  EXPECT_TRUE(s.Output().empty());
  EXPECT_TRUE(s.session.Tick(100000).ok);  // no second GOAWAY to time
  EXPECT_TRUE(s.Output().empty());
}

TEST(ClientShutdown, IdleConnectionFinishesAtOnce) {
  TestServer s;
  s.Handshake();
  s.session.Shutdown();
  EXPECT_TRUE(s.session.finished());
  const auto g = s.TakeGoaway();
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->last_stream_id, 0u);
}

// ---------------------------------------------------------------------------------------------
// Roles

TEST(ClientRole, ServerMethodsRefused) {
  TestServer s;
  s.Handshake();
  ASSERT_EQ(s.Post(), 1u);
  s.Output();
  EXPECT_FALSE(s.session.SubmitResponse(1, Response(200), false));
  EXPECT_FALSE(s.session.SubmitResponse(1, Response(200), true));
  EXPECT_FALSE(s.session.SubmitResponse(3, Response(200), true));
  EXPECT_TRUE(s.Output().empty());
  EXPECT_EQ(s.session.stream_state(1), StreamState::kOpen);
  ExpectNoServerEvents(s);
}

TEST(ClientRole, ClientMethodsRefusedByAServer) {
  testing::ClientRecorder handler;
  ServerSession server(SessionLimits{}, &handler);
  EXPECT_EQ(server.role(), Role::kServer);
  EXPECT_EQ(server.OpenableStreams(), 0u);
  const hpack::HeaderField fields[] = {{":method", "GET"}, {":path", "/"}};
  EXPECT_EQ(server.SubmitRequest(fields, true), 0u);
  EXPECT_FALSE(server.SendPing());
  EXPECT_FALSE(server.ping_outstanding());
  EXPECT_EQ(server.active_streams(), 0u);
}

}  // namespace
}  // namespace ringway::h2
