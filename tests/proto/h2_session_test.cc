// The HTTP/2 server session against a scripted client: preface and SETTINGS, requests with
// bodies split at every byte, stream states, per-type frame rules, PING, GOAWAY, graceful
// shutdown, extension frames. Field blocks and sending heads: h2_session_headers_test.cc. Flow
// control: h2_session_flow_test.cc. Message rules: h2_request_test.cc. Abuse:
// h2_session_abuse_test.cc.
//
// clang-format off
// RFC 9113 MUSTs that apply to a server, and the tests that cover them (S: this file,
// H: h2_session_headers_test, F: h2_session_flow_test, R: h2_request_test, A: h2_session_abuse_test):
//   3.4   server preface: SETTINGS first .................. S Preface.ServerSendsSettingsFirst
//   3.4   the client preface's SETTINGS acknowledged ...... S Preface.ClientSettingsAcknowledged,
//                                                             S Preface.SplitAtEveryByte
//   3.4   invalid preface: PROTOCOL_ERROR ................. S Preface.InvalidPreface,
//                                                             S Preface.FirstFrameNotSettings
//   4.1   undefined flags and the reserved bit ignored .... S Frames.UndefinedFlagsAndReservedBit
//   4.2   frame over our max frame size: FRAME_SIZE_ERROR . S Frames.OversizedFrames
//   4.2   never send over the peer's max frame size ....... H Send.HeadersSplitAtPeerMaxFrameSize,
//                                                             F Flow.SendableBytesCappedByFrameSize
//   4.3   undecodable field block: COMPRESSION_ERROR ...... H Hpack.BadBlockIsCompressionError
//   4.3   field blocks contiguous ......................... H Continuation.*
//   4.3   blocks of refused or reset streams decoded ...... H Hpack.StateKeptAcrossRefusedStream,
//                                                             H Hpack.StateKeptAcrossTooLargeBlock,
//                                                             S StreamStates.FramesAfterOurResetIgnored
//   5.1   idle: only HEADERS, PRIORITY (else PROTOCOL) .... S StreamStates.IdleFramesOtherThanHeadersAndPriority
//   5.1   half-closed (remote): STREAM_CLOSED ............. S StreamStates.HalfClosedRemote*
//   5.1   closed by the peer's RST: STREAM_CLOSED ......... S StreamStates.AfterPeerResetDataAndHeaders
//   5.1   closed by END_STREAM: connection STREAM_CLOSED .. S StreamStates.AfterEndStream*
//   5.1   after our RST: ignored, DATA counted ............ S StreamStates.FramesAfterOurResetIgnored,
//                                                             F Flow.DataAfterOurResetIsCredited
//   5.1   WINDOW_UPDATE, RST_STREAM after close ignored ... S StreamStates.WindowUpdateAndRstAfterCloseIgnored
//   5.1   nothing sent on a closed stream ................. H Send.NothingOnClosedStreams
//   5.1.1 client ids odd and increasing: PROTOCOL_ERROR ... S StreamIds.*
//   5.1.1 a new id closes lower idle ids .................. S StreamIds.SkippedIdsAreClosed
//   5.1.2 over MAX_CONCURRENT_STREAMS: REFUSED_STREAM ..... S Concurrency.HundredAndFirstRefused
//   5.3.1 self-dependency: stream PROTOCOL_ERROR .......... S Priority.SelfDependency
//   5.4.2 no RST_STREAM in answer to RST_STREAM ........... S StreamStates.AfterPeerResetRstIgnored
//   5.5   unknown frame types and settings ignored ........ S Extensions.UnknownFrameAndSettingIgnored
//   5.5   unknown frame inside a field block: PROTOCOL .... H Continuation.UnknownFrameInsideBlock
//   6.1   DATA on stream 0, bad padding ................... S Data.OnStreamZeroAndBadPadding
//   6.2   HEADERS on stream 0, bad padding ................ H Headers.OnStreamZeroAndBadPadding
//   6.3   PRIORITY on stream 0, length other than 5 ....... S Priority.Rules
//   6.4   RST_STREAM on stream 0, idle, bad length ........ S RstStream.Rules,
//                                                             S StreamStates.IdleFramesOtherThanHeadersAndPriority
//   6.5   SETTINGS: ACK with payload, stream, length ...... S Settings.Malformed
//   6.5.2 setting values out of range ..................... S Settings.BadValues
//   6.5.3 applied in order, ACK at once; ACK timeout ...... S Settings.AppliedInOrder, S Settings.AckTimeout
//   6.6   PUSH_PROMISE from a client: PROTOCOL_ERROR ...... S Push.PushPromiseFromClient
//   6.7   PING answered with its payload; ACK never ....... S Ping.*
//   6.8   GOAWAY on a stream; last id never grows; frames
//         after our GOAWAY minimally processed ............ S Goaway.*, S Shutdown.*
//   6.9   WINDOW_UPDATE of 0: stream or connection error .. F Flow.ZeroIncrementStream, F Flow.ZeroIncrementConnection
//   6.9.1 a window over 2^31-1: FLOW_CONTROL_ERROR ........ F Flow.SendWindowOverflowStream, F Flow.SendWindowOverflowConnection
//   6.9.1 DATA beyond our windows: FLOW_CONTROL_ERROR ..... F Flow.PeerExceedsStreamWindow, F Flow.PeerExceedsConnectionWindow
//   6.9.1 never send beyond the windows ................... F Flow.SendableBytesRespectsWindows
//   6.9.2 INITIAL_WINDOW_SIZE shifts every stream window,
//         negative windows, overflow: FLOW_CONTROL_ERROR .. F Flow.InitialWindowChangeShiftsOpenStreams,
//                                                             F Flow.InitialWindowChangeOverflow
//   6.9.2 our smaller window only once acknowledged ....... F Flow.OurWindowAppliesAtAck
//   6.10  CONTINUATION sequencing: PROTOCOL_ERROR ......... H Continuation.*
//   7     unknown error codes: no special behaviour ....... S RstStream.UnknownCodePassedThrough
//   8.1   a second HEADERS without END_STREAM: malformed .. R Trailers.Rules
//   8.1.1 malformed: stream PROTOCOL_ERROR, not forwarded . R Malformed.*
//   8.1.1 content-length against the DATA ................ R ContentLength.*
//   8.2   uppercase names malformed ....................... R Malformed.* ("uppercase name")
//   8.2   names sent lowercase ............................ R Response.StatusFirstNamesLowercasedConnectionFieldsDropped
//   8.2.1 forbidden bytes in names and values ............ R Malformed.*, R FieldRules.NamesAndValues
//   8.2.2 connection-specific fields, TE other than
//         "trailers": malformed; never sent ............... R Malformed.*, R Response.StatusFirst...
//   8.2.3 cookie crumbs joined with "; " ................. R Cookies.JoinedForHttp1, R Valid.RequestViews
//   8.3   pseudo-header fields: order, unknown, repeated,
//         response ones in requests, none in trailers ..... R Malformed.*, R Trailers.Rules
//   8.3.1 :method, :scheme, :path present; :path valid .... R Malformed.*, R Valid.RequestsThatMustPass
//   8.3.2 :status in every response ...................... R Response.StatusFirst..., R Response.InterimHeads
//   8.5   CONNECT: :authority only ........................ R Connect.ParsedForTheProxyToRefuse, R Malformed.*
//   8.6   no 101; 1xx interim responses ................... R Response.InterimHeads
//   10.5  (denial of service, SHOULDs) ................... A * (rapid reset, floods, HPACK bomb, output)
// clang-format on
// Left to the proxy layer: closing the socket after a connection error's GOAWAY (5.4.1);
// validating backend responses before forwarding (8.1.1); the Host field an HTTP/1.1 backend
// needs, from :authority (8.3.1); joining cookies for HTTP/1.1 (8.2.3, with JoinCookies);
// RST_STREAM NO_ERROR after a complete response when the request body is not wanted (8.1,
// ResetStream); TLS requirements (9.2); ALPN and h2c selection (3.2, 3.3).
#include "proto/h2_session.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/proto/h2_frame_test_util.h"
#include "tests/proto/h2_session_test_util.h"

namespace ringway::h2 {
namespace {

using testing::Event;
using testing::ExpectConnectionError;
using testing::Fields;
using testing::OutFrame;
using testing::TestClient;

// A client frame built byte by byte (malformed ones included).
std::string RawFrame(uint8_t type, uint8_t flags, uint32_t id, std::string_view payload) {
  return testing::Frame(type, flags, id, payload);
}

// ---------------------------------------------------------------------------------------------
// Preface and settings

TEST(Preface, ServerSendsSettingsFirst) {
  SessionLimits limits;
  limits.max_concurrent_streams = 50;
  limits.initial_stream_window = 1 << 18;
  limits.max_frame_size = 1 << 15;
  TestClient c(limits);
  // Before the client says anything: SETTINGS, then the connection window grows.
  const std::vector<OutFrame> out = c.Output();
  ASSERT_EQ(out.size(), 2u);
  ASSERT_EQ(out[0].type(), FrameType::kSettings);
  EXPECT_EQ(out[0].stream(), 0u);
  SettingsFrame sf;
  ASSERT_TRUE(DecodeSettings(out[0].header, out[0].payload, Role::kClient, &sf).ok());
  Settings s;
  for (const Setting x : sf.settings) s.Apply(x);
  EXPECT_FALSE(s.enable_push);
  EXPECT_EQ(s.max_concurrent_streams, 50u);
  EXPECT_EQ(s.initial_window_size, 1u << 18);
  EXPECT_EQ(s.max_frame_size, 1u << 15);
  EXPECT_EQ(s.max_header_list_size, 64u * 1024);
  EXPECT_TRUE(s.no_rfc7540_priorities);
  ASSERT_EQ(out[1].type(), FrameType::kWindowUpdate);
  EXPECT_EQ(out[1].stream(), 0u);
  EXPECT_EQ(out[1].increment, (1u << 20) - 65535);
}

TEST(Preface, ClientSettingsAcknowledged) {
  TestClient c;
  c.Output();
  ASSERT_TRUE(c.Feed(c.Preface() + c.Settings({{SettingId::kMaxFrameSize, 20000}})).ok);
  const auto out = c.Output();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type(), FrameType::kSettings);
  EXPECT_TRUE(out[0].header.has(kFlagAck));
  EXPECT_EQ(c.session.peer_settings().max_frame_size, 20000u);
}

TEST(Preface, SplitAtEveryByte) {
  const std::string bytes = TestClient::Preface() + TestClient::Settings() +
                            TestClient::SettingsAck() + TestClient::Ping(7);
  for (size_t cut = 0; cut <= bytes.size(); ++cut) {
    TestClient c;
    c.Output();
    ASSERT_TRUE(c.FeedSplit(bytes, {cut}).ok) << cut;
    const auto out = c.Output();
    ASSERT_EQ(out.size(), 2u) << cut;
    EXPECT_TRUE(out[0].header.has(kFlagAck));
    EXPECT_EQ(out[1].type(), FrameType::kPing);
    EXPECT_EQ(out[1].opaque, 7u);
  }
}

TEST(Preface, FramesRightAfterPreface) {
  // A client need not wait for our preface: preface, SETTINGS and a request in one read.
  TestClient c;
  ASSERT_TRUE(c.Feed(c.Preface() + c.Settings() + c.Get(1)).ok);
  ASSERT_EQ(c.events.size(), 1u);
  EXPECT_EQ(c.events[0].kind, Event::kRequest);
}

TEST(Preface, InvalidPreface) {
  TestClient c;
  c.Feed("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  ExpectConnectionError(c, ErrorCode::kProtocolError);
  // A mismatch inside a preface split across reads is seen as soon as its byte arrives.
  TestClient d;
  ASSERT_TRUE(d.Feed("PRI * HTTP/2").ok);
  d.Feed(".1\r\n");
  ExpectConnectionError(d, ErrorCode::kProtocolError);
  EXPECT_TRUE(d.events.empty());
}

TEST(Preface, FirstFrameNotSettings) {
  TestClient c;
  c.Feed(c.Preface() + c.Ping(1));
  ExpectConnectionError(c, ErrorCode::kProtocolError);
  TestClient d;
  d.Feed(d.Preface() + d.SettingsAck());  // an ACK is not the client's SETTINGS
  ExpectConnectionError(d, ErrorCode::kProtocolError);
  TestClient e;
  e.Feed(e.Preface() + e.Get(1));
  ExpectConnectionError(e, ErrorCode::kProtocolError);
  EXPECT_TRUE(e.events.empty());
}

TEST(Settings, AppliedInOrder) {
  TestClient c;
  c.Handshake({{SettingId::kMaxFrameSize, 30000}, {SettingId::kMaxFrameSize, 17000}});
  EXPECT_EQ(c.session.peer_settings().max_frame_size, 17000u);
}

TEST(Settings, Malformed) {
  {
    TestClient c;
    c.Handshake();
    c.Feed(RawFrame(testing::kSettings, kFlagAck, 0, testing::SettingBytes(1, 1)));
    ExpectConnectionError(c, ErrorCode::kFrameSizeError);
  }
  {
    TestClient c;
    c.Handshake();
    c.Feed(RawFrame(testing::kSettings, 0, 1, ""));
    ExpectConnectionError(c, ErrorCode::kProtocolError);
  }
  {
    TestClient c;
    c.Handshake();
    c.Feed(RawFrame(testing::kSettings, 0, 0, "12345"));
    ExpectConnectionError(c, ErrorCode::kFrameSizeError);
  }
}

TEST(Settings, BadValues) {
  const struct {
    uint16_t id;
    uint32_t value;
    ErrorCode code;
  } cases[] = {
      {2, 2, ErrorCode::kProtocolError},               // ENABLE_PUSH
      {4, 0x80000000u, ErrorCode::kFlowControlError},  // INITIAL_WINDOW_SIZE
      {5, 16383, ErrorCode::kProtocolError},           // MAX_FRAME_SIZE
      {5, 1u << 24, ErrorCode::kProtocolError},
  };
  for (const auto& k : cases) {
    TestClient c;
    c.Handshake();
    c.Feed(RawFrame(testing::kSettings, 0, 0, testing::SettingBytes(k.id, k.value)));
    ExpectConnectionError(c, k.code);
  }
}

TEST(Settings, NoRfc7540PrioritiesMayNotChange) {
  TestClient c;
  c.Handshake({{SettingId::kNoRfc7540Priorities, 1}});
  c.Feed(c.Settings({{SettingId::kNoRfc7540Priorities, 0}}));
  ExpectConnectionError(c, ErrorCode::kProtocolError);
}

TEST(Settings, AckTimeout) {
  SessionLimits limits;
  limits.settings_timeout_ms = 5000;
  TestClient c(limits, /*now_ms=*/1000);
  ASSERT_TRUE(c.Feed(c.Preface() + c.Settings()).ok);  // no ACK of ours
  EXPECT_TRUE(c.session.Tick(5999).ok);
  const FeedResult r = c.session.Tick(6000);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, ErrorCode::kSettingsTimeout);
  c.last = r;
  ExpectConnectionError(c, ErrorCode::kSettingsTimeout);

  TestClient d(limits, 1000);
  d.Handshake();
  EXPECT_TRUE(d.session.Tick(100000).ok);  // acknowledged: no timeout
}

TEST(Settings, HeaderTableSizeReachesTheEncoder) {
  TestClient c;
  c.Handshake({{SettingId::kHeaderTableSize, 0}});
  c.decoder.SetMaxTableSizeLimit(0);
  c.handler.on_request = [&](uint32_t id, const Request&, bool) {
    const std::string big(100, 'v');
    const hpack::HeaderField f[] = {{"x-big", big}};
    c.session.SubmitResponse(id, {200, f}, true);
  };
  ASSERT_TRUE(c.Feed(c.Get(1)).ok);
  // The block starts with a size update to 0 and inserts nothing, which a decoder held to 0
  // accepts; Output() fails the test on a decoding error.
  const auto out = c.Output();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].Field(":status"), "200");
  EXPECT_EQ(c.decoder.table().size(), 0u);
}

// ---------------------------------------------------------------------------------------------
// Requests

TEST(Requests, Get) {
  TestClient c;
  c.Handshake();
  ASSERT_TRUE(c.Feed(c.Headers(1,
                               {{":method", "GET"},
                                {":scheme", "https"},
                                {":authority", "example.com"},
                                {":path", "/a?b=c"},
                                {"accept", "*/*"},
                                {"user-agent", "test"}},
                               true))
                  .ok);
  ASSERT_EQ(c.events.size(), 1u);
  const Event& e = c.events[0];
  EXPECT_EQ(e.kind, Event::kRequest);
  EXPECT_EQ(e.stream_id, 1u);
  EXPECT_TRUE(e.end_stream);
  EXPECT_FALSE(e.has_body);
  EXPECT_EQ(e.method, "GET");
  EXPECT_EQ(e.scheme, "https");
  EXPECT_EQ(e.authority, "example.com");
  EXPECT_EQ(e.path, "/a?b=c");
  EXPECT_EQ(e.fields, (Fields{{"accept", "*/*"}, {"user-agent", "test"}}));
  EXPECT_EQ(c.session.stream_state(1), StreamState::kHalfClosedRemote);

  const hpack::HeaderField resp[] = {{"Content-Type", "text/plain"}, {"Content-Length", "5"}};
  ASSERT_TRUE(c.session.SubmitResponse(1, {200, resp}, false));
  ASSERT_EQ(c.session.SendableBytes(1), 16384u);
  char hdr[9];
  ASSERT_TRUE(c.session.PrepareData(1, 5, true, hdr));
  const auto out = c.Output();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type(), FrameType::kHeaders);
  EXPECT_EQ(out[0].fields,
            (Fields{{":status", "200"}, {"content-type", "text/plain"}, {"content-length", "5"}}));
  EXPECT_FALSE(out[0].header.has(kFlagEndStream));
  FrameHeader h;
  ASSERT_TRUE(DecodeFrameHeader(std::string_view(hdr, 9), &h));
  EXPECT_EQ(h.type, FrameType::kData);
  EXPECT_EQ(h.length, 5u);
  EXPECT_EQ(h.stream_id, 1u);
  EXPECT_TRUE(h.has(kFlagEndStream));
  EXPECT_EQ(c.session.stream_state(1), StreamState::kClosed);
  EXPECT_EQ(c.session.active_streams(), 0u);
}

TEST(Requests, PostBodySplitAtEveryByte) {
  // Zero copy: every piece lies inside the bytes of its Feed call and the pieces add up to the
  // body, whatever the split; padding never reaches the handler.
  std::string body;
  for (int i = 0; i < 300; ++i) body.push_back(static_cast<char>('a' + i % 26));
  TestClient proto;
  std::string bytes = proto.Post(1, body.size());
  bytes += TestClient::Data(1, body.substr(0, 100), false);
  // A padded DATA frame, built by hand: Pad Length 7.
  bytes += RawFrame(testing::kData, kFlagPadded, 1,
                    testing::Byte(7) + body.substr(100, 150) + std::string(7, '\0'));
  bytes += TestClient::Data(1, body.substr(250), true);
  for (size_t cut = 0; cut <= bytes.size(); ++cut) {
    for (size_t cut2 : {cut, cut + 1, cut + 9}) {
      if (cut2 > bytes.size()) continue;
      TestClient c;
      c.Handshake();
      std::string req = c.Post(1, body.size());  // same encoder state as `proto` had
      ASSERT_EQ(req, bytes.substr(0, req.size()));
      ASSERT_TRUE(c.FeedSplit(bytes, {cut, cut2}).ok) << cut;
      std::string got;
      bool ended = false;
      ASSERT_GE(c.events.size(), 2u);
      EXPECT_EQ(c.events[0].kind, Event::kRequest);
      EXPECT_EQ(c.events[0].content_length, body.size());
      for (size_t i = 1; i < c.events.size(); ++i) {
        const Event& e = c.events[i];
        ASSERT_EQ(e.kind, Event::kData) << cut;
        EXPECT_TRUE(e.data_in_feed);
        EXPECT_FALSE(ended);
        EXPECT_TRUE(!e.data.empty() || e.end_stream);
        got += e.data;
        ended = e.end_stream;
      }
      EXPECT_TRUE(ended) << cut;
      EXPECT_EQ(got, body) << cut;
    }
  }
}

TEST(Requests, EmptyDataEndsStream) {
  TestClient c;
  c.Handshake();
  ASSERT_TRUE(c.Feed(c.Post(1) + c.Data(1, "", true)).ok);
  ASSERT_EQ(c.events.size(), 2u);
  EXPECT_EQ(c.events[1].kind, Event::kData);
  EXPECT_TRUE(c.events[1].end_stream);
  EXPECT_TRUE(c.events[1].data.empty());
  EXPECT_EQ(c.session.stream_state(1), StreamState::kHalfClosedRemote);
}

TEST(Requests, ResponseBeforeRequestEnds) {
  // half-closed (local): we are done, the peer still sends; its END_STREAM closes the stream.
  TestClient c;
  c.Handshake();
  ASSERT_TRUE(c.Feed(c.Post(1)).ok);
  ASSERT_TRUE(c.session.SubmitResponse(1, {204}, true));
  EXPECT_EQ(c.session.stream_state(1), StreamState::kHalfClosedLocal);
  ASSERT_TRUE(c.Feed(c.Data(1, "late", true)).ok);
  EXPECT_EQ(c.session.stream_state(1), StreamState::kClosed);
  EXPECT_EQ(c.events.back().data, "late");
  EXPECT_TRUE(c.events.back().end_stream);
}

TEST(Requests, ManyStreamsInterleaved) {
  TestClient c;
  c.Handshake();
  std::string bytes;
  for (uint32_t id = 1; id <= 9; id += 2) bytes += c.Post(id);
  for (uint32_t id = 1; id <= 9; id += 2) bytes += c.Data(id, std::to_string(id), false);
  for (uint32_t id = 9; id >= 1 && id <= 9; id -= 2) bytes += c.Data(id, "!", true);
  ASSERT_TRUE(c.Feed(bytes).ok);
  EXPECT_EQ(c.handler.Of(Event::kRequest).size(), 5u);
  std::string per[10];
  for (const auto& e : c.handler.Of(Event::kData)) per[e.stream_id] += e.data;
  for (uint32_t id = 1; id <= 9; id += 2) EXPECT_EQ(per[id], std::to_string(id) + "!");
}

TEST(Requests, TrailersFromClient) {
  TestClient c;
  c.Handshake();
  ASSERT_TRUE(c.Feed({c.Post(1), c.Data(1, "x", false),
                      c.Headers(1, {{"grpc-status", "0"}, {"x-sum", "1"}}, true)})
                  .ok);
  const auto t = c.handler.Of(Event::kTrailers);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].fields, (Fields{{"grpc-status", "0"}, {"x-sum", "1"}}));
  EXPECT_EQ(c.session.stream_state(1), StreamState::kHalfClosedRemote);
}

TEST(Requests, HandlerAnswersInsideOnRequest) {
  TestClient c;
  c.Handshake();
  c.handler.on_request = [&](uint32_t id, const Request& r, bool) {
    EXPECT_TRUE(c.session.SubmitResponse(id, {r.is_connect ? uint16_t{405} : uint16_t{200}}, true));
  };
  ASSERT_TRUE(c.Feed({c.Get(1), c.Get(3)}).ok);
  EXPECT_EQ(c.session.active_streams(), 0u);
  const auto out = c.Output();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].stream(), 3u);
}

// ---------------------------------------------------------------------------------------------
// Frames in general

TEST(Frames, UndefinedFlagsAndReservedBit) {
  TestClient c;
  c.Handshake();
  // PING with every flag bit but ACK, and a stream id with the reserved bit set on a GET.
  ASSERT_TRUE(c.Feed(RawFrame(testing::kPing, 0xfe, 0, "12345678")).ok);
  EXPECT_EQ(c.Output().size(), 1u);
  std::string get = c.Get(1);
  get[5] = static_cast<char>(get[5] | 0x80);
  get[4] = static_cast<char>(get[4] | 0x02 | 0x10 | 0x40 | 0x80);  // undefined HEADERS flags
  ASSERT_TRUE(c.Feed(get).ok);
  ASSERT_EQ(c.events.size(), 1u);
  EXPECT_EQ(c.events[0].stream_id, 1u);
}

TEST(Frames, OversizedFrames) {
  TestClient c;
  c.Handshake();
  c.Feed(c.Data(1, std::string(16385, 'x'), false));
  ExpectConnectionError(c, ErrorCode::kFrameSizeError);
  // Seen from the header alone, before the payload arrives.
  TestClient d;
  d.Handshake();
  std::string big = RawFrame(testing::kHeaders, kFlagEndHeaders, 1, std::string(20000, 'x'));
  d.Feed(big.substr(0, 9));
  ExpectConnectionError(d, ErrorCode::kFrameSizeError);
  // A larger SETTINGS_MAX_FRAME_SIZE of ours is accepted at once.
  SessionLimits limits;
  limits.max_frame_size = 1 << 16;
  TestClient e(limits);
  e.Handshake();
  ASSERT_TRUE(e.Feed(e.Post(1) + e.Data(1, std::string(40000, 'x'), true)).ok);
  EXPECT_EQ(e.events.size(), 2u);
}

TEST(Extensions, UnknownFrameAndSettingIgnored) {
  TestClient c;
  c.Handshake({{static_cast<SettingId>(0x4242), 7}});
  ASSERT_TRUE(c.Feed(RawFrame(0xfa, 0xff, 0, "grease") + RawFrame(0x20, 0, 1, "") + c.Get(1)).ok);
  ASSERT_EQ(c.events.size(), 1u);
  EXPECT_TRUE(c.Output().empty());
}

// ---------------------------------------------------------------------------------------------
// Stream states

TEST(StreamStates, IdleFramesOtherThanHeadersAndPriority) {
  const std::string frames[] = {
      TestClient::Data(1, "x", true),   TestClient::Rst(1),
      TestClient::WindowUpdate(1, 100), RawFrame(testing::kContinuation, kFlagEndHeaders, 1, ""),
      TestClient::Data(2, "x", true),  // even ids are the server's: idle forever here
  };
  for (const std::string& f : frames) {
    TestClient c;
    c.Handshake();
    c.Feed(f);
    ExpectConnectionError(c, ErrorCode::kProtocolError);
  }
  // PRIORITY on an idle stream is fine, and leaves the id usable.
  TestClient c;
  c.Handshake();
  ASSERT_TRUE(c.Feed(c.PriorityFrame(5, 0) + c.Get(5)).ok);
  EXPECT_EQ(c.events.size(), 1u);
}

TEST(StreamStates, HalfClosedRemoteDataAndHeaders) {
  TestClient c;
  c.Handshake();
  ASSERT_TRUE(c.Feed(c.Get(1)).ok);
  ASSERT_TRUE(c.Feed(c.Data(1, "x", true)).ok);
  EXPECT_TRUE(c.TakeRst(1, ErrorCode::kStreamClosed));
  ASSERT_EQ(c.events.size(), 2u);
  EXPECT_EQ(c.events[1].kind, Event::kClosed);
  EXPECT_EQ(c.events[1].code, ErrorCode::kStreamClosed);
  EXPECT_FALSE(c.events[1].by_peer);

  ASSERT_TRUE(c.Feed(c.Get(3)).ok);
  ASSERT_TRUE(c.Feed(c.Get(3)).ok);  // HEADERS again after END_STREAM
  EXPECT_TRUE(c.TakeRst(3, ErrorCode::kStreamClosed));
  // The connection goes on, and the second block was decoded (HPACK in step).
  ASSERT_TRUE(c.Feed(c.Get(5, "/next")).ok);
  EXPECT_EQ(c.events.back().path, "/next");
}

TEST(StreamStates, HalfClosedRemoteAllowsWindowUpdatePriorityRst) {
  TestClient c;
  c.Handshake();
  ASSERT_TRUE(c.Feed(c.Get(1) + c.WindowUpdate(1, 5000) + c.PriorityFrame(1, 0)).ok);
  EXPECT_TRUE(c.Output().empty());
  ASSERT_TRUE(c.Feed(c.Rst(1, ErrorCode::kCancel)).ok);
  EXPECT_EQ(c.events.back().kind, Event::kClosed);
  EXPECT_TRUE(c.events.back().by_peer);
  EXPECT_EQ(c.events.back().code, ErrorCode::kCancel);
}

TEST(StreamStates, AfterPeerResetDataAndHeaders) {
  TestClient c;
  c.Handshake();
  ASSERT_TRUE(c.Feed(c.Post(1) + c.Rst(1)).ok);
  ASSERT_TRUE(c.Feed(c.Data(1, "x", true)).ok);
  EXPECT_TRUE(c.TakeRst(1, ErrorCode::kStreamClosed));
  ASSERT_TRUE(c.Feed(c.Headers(1, {{"x-t", "1"}}, true)).ok);
  EXPECT_TRUE(c.TakeRst(1, ErrorCode::kStreamClosed));
  ASSERT_TRUE(c.Feed(c.Get(3)).ok);
  EXPECT_EQ(c.events.back().stream_id, 3u);
}

TEST(StreamStates, AfterPeerResetRstIgnored) {
  // RFC 9113 section 5.4.2: no RST_STREAM in answer to a RST_STREAM.
  TestClient c;
  c.Handshake();
  ASSERT_TRUE(c.Feed(c.Post(1) + c.Rst(1) + c.Rst(1) + c.PriorityFrame(1, 0)).ok);
  EXPECT_TRUE(c.Output().empty());
}

TEST(StreamStates, AfterEndStreamDataIsConnectionError) {
  TestClient c;
  c.Handshake();
  ASSERT_TRUE(c.Feed(c.Get(1)).ok);
  ASSERT_TRUE(c.session.SubmitResponse(1, {200}, true));
  c.Output();
  c.Feed(c.Data(1, "x", true));
  ExpectConnectionError(c, ErrorCode::kStreamClosed);
}

TEST(StreamStates, AfterEndStreamHeadersIsConnectionError) {
  TestClient c;
  c.Handshake();
  ASSERT_TRUE(c.Feed(c.Get(1)).ok);
  ASSERT_TRUE(c.session.SubmitResponse(1, {200}, true));
  c.Output();
  c.Feed(c.Get(1));
  ExpectConnectionError(c, ErrorCode::kStreamClosed);
}

TEST(StreamStates, WindowUpdateAndRstAfterCloseIgnored) {
  TestClient c;
  c.Handshake();
  ASSERT_TRUE(c.Feed(c.Get(1)).ok);
  ASSERT_TRUE(c.session.SubmitResponse(1, {200}, true));
  c.Output();
  ASSERT_TRUE(c.Feed(c.WindowUpdate(1, 100) + c.Rst(1) + c.PriorityFrame(1, 0)).ok);
  EXPECT_TRUE(c.Output().empty());
  EXPECT_EQ(c.events.size(), 1u);
}

TEST(StreamStates, FramesAfterOurResetIgnored) {
  TestClient c;
  c.Handshake();
  ASSERT_TRUE(c.Feed(c.Post(1)).ok);
  ASSERT_TRUE(c.session.ResetStream(1, ErrorCode::kCancel));
  EXPECT_TRUE(c.TakeRst(1, ErrorCode::kCancel));
  // In-flight frames on the stream: ignored, HPACK still applied (the next request decodes).
  ASSERT_TRUE(c.Feed({c.Data(1, "abc", false), c.Headers(1, {{"x-trailer", "1"}}, true),
                      c.WindowUpdate(1, 10), c.Rst(1), c.Get(3, "/after")})
                  .ok);
  EXPECT_TRUE(c.Output().empty());
  ASSERT_EQ(c.events.size(), 2u);  // the POST, then the GET; no event for stream 1
  EXPECT_EQ(c.events[1].path, "/after");
  EXPECT_EQ(c.session.stats().discarded_data_bytes, 3u);
}

TEST(StreamStates, ForgottenStreams) {
  // The record of closed streams is bounded; past it, DATA gets STREAM_CLOSED (a stream
  // error) and HEADERS reuse of an id a PROTOCOL_ERROR.
  SessionLimits limits;
  limits.closed_stream_memory = 2;
  TestClient c(limits);
  c.Handshake();
  ASSERT_TRUE(c.Feed(c.Post(1)).ok);
  ASSERT_TRUE(c.session.ResetStream(1, ErrorCode::kCancel));
  ASSERT_TRUE(c.Feed({c.Get(3), c.Get(5), c.Get(7)}).ok);
  for (uint32_t id : {3u, 5u}) ASSERT_TRUE(c.session.SubmitResponse(id, {200}, true));
  c.Output();
  ASSERT_TRUE(c.Feed(c.Data(1, "x", false)).ok);
  EXPECT_TRUE(c.TakeRst(1, ErrorCode::kStreamClosed));
  c.Feed(c.Get(1));
  ExpectConnectionError(c, ErrorCode::kProtocolError);
}

TEST(StreamIds, EvenStreamIsProtocolError) {
  TestClient c;
  c.Handshake();
  c.Feed(c.Get(2));
  ExpectConnectionError(c, ErrorCode::kProtocolError);
}

TEST(StreamIds, DecreasingIdIsProtocolError) {
  TestClient c;
  c.Handshake();
  ASSERT_TRUE(c.Feed(c.Get(5)).ok);
  c.Feed(c.Get(3));
  ExpectConnectionError(c, ErrorCode::kProtocolError);
  EXPECT_EQ(c.sent.back().last_stream_id, 5u);
}

TEST(StreamIds, SkippedIdsAreClosed) {
  TestClient c;
  c.Handshake();
  ASSERT_TRUE(c.Feed(c.Get(7)).ok);
  EXPECT_EQ(c.session.stream_state(3), StreamState::kClosed);
  EXPECT_EQ(c.session.stream_state(9), StreamState::kIdle);
  ASSERT_TRUE(c.Feed(c.Data(3, "x", true)).ok);  // closed, not idle: a stream error
  EXPECT_TRUE(c.TakeRst(3, ErrorCode::kStreamClosed));
}

TEST(Concurrency, HundredAndFirstRefused) {
  TestClient c;
  c.Handshake();
  std::string bytes;
  for (uint32_t i = 0; i < 101; ++i) bytes += c.Post(1 + 2 * i);
  ASSERT_TRUE(c.Feed(bytes).ok);
  EXPECT_EQ(c.handler.Of(Event::kRequest).size(), 100u);
  EXPECT_EQ(c.session.active_streams(), 100u);
  EXPECT_TRUE(c.TakeRst(201, ErrorCode::kRefusedStream));
  EXPECT_EQ(c.session.stats().refused_streams, 1u);
  // One finishes; the next stream fits again, and the refused one stays closed.
  ASSERT_TRUE(c.Feed(c.Rst(1)).ok);
  ASSERT_TRUE(c.Feed(c.Get(203)).ok);
  EXPECT_EQ(c.events.back().kind, Event::kRequest);
  EXPECT_EQ(c.events.back().stream_id, 203u);
  EXPECT_EQ(c.session.stream_state(201), StreamState::kClosed);
}

// ---------------------------------------------------------------------------------------------
// Per-type rules

TEST(Data, OnStreamZeroAndBadPadding) {
  {
    TestClient c;
    c.Handshake();
    c.Feed(c.Data(0, "x", false));
    ExpectConnectionError(c, ErrorCode::kProtocolError);
  }
  {
    TestClient c;
    c.Handshake();
    ASSERT_TRUE(c.Feed(c.Post(1)).ok);
    c.Feed(RawFrame(testing::kData, kFlagPadded, 1, testing::Byte(4) + "abc"));
    ExpectConnectionError(c, ErrorCode::kProtocolError);
  }
  {
    TestClient c;
    c.Handshake();
    ASSERT_TRUE(c.Feed(c.Post(1)).ok);
    c.Feed(RawFrame(testing::kData, kFlagPadded, 1, ""));
    ExpectConnectionError(c, ErrorCode::kFrameSizeError);
  }
}

TEST(Priority, Rules) {
  {
    TestClient c;
    c.Handshake();
    c.Feed(c.PriorityFrame(0, 1));
    ExpectConnectionError(c, ErrorCode::kProtocolError);
  }
  TestClient c;
  c.Handshake();
  ASSERT_TRUE(c.Feed(c.Post(1)).ok);
  ASSERT_TRUE(c.Feed(RawFrame(testing::kPriority, 0, 1, "1234")).ok);  // length 4
  EXPECT_TRUE(c.TakeRst(1, ErrorCode::kFrameSizeError));
  EXPECT_EQ(c.events.back().kind, Event::kClosed);
  // On a closed stream PRIORITY is fine.
  ASSERT_TRUE(c.Feed(c.PriorityFrame(1, 0)).ok);
  EXPECT_TRUE(c.Output().empty());
}

TEST(Priority, SelfDependency) {
  TestClient c;
  c.Handshake();
  // HEADERS depending on itself: a stream error, the block still decoded.
  std::string h;
  AppendHeaders(1, Priority{false, 1, 15}, c.Block(TestClient::GetFields()), true, 16384, &h);
  ASSERT_TRUE(c.Feed(h).ok);
  EXPECT_TRUE(c.TakeRst(1, ErrorCode::kProtocolError));
  EXPECT_TRUE(c.events.empty());
  // A PRIORITY frame depending on itself, on an open stream and on an idle one.
  ASSERT_TRUE(c.Feed(c.Post(3) + c.PriorityFrame(3, 3)).ok);
  EXPECT_TRUE(c.TakeRst(3, ErrorCode::kProtocolError));
  ASSERT_TRUE(c.Feed(c.PriorityFrame(9, 9)).ok);
  EXPECT_TRUE(c.TakeRst(9, ErrorCode::kProtocolError));
  ASSERT_TRUE(c.Feed(c.Get(11, "/ok")).ok);
  EXPECT_EQ(c.events.back().path, "/ok");
}

// Even stream ids are the server's, which never opens one: a bad PRIORITY on one is ignored,
// since no RST_STREAM may name an idle stream (RFC 9113 section 6.4).
TEST(Priority, BadPriorityOnEvenIdleStreamDrawsNoRstStream) {
  TestClient c;
  c.Handshake();
  ASSERT_TRUE(c.Feed(c.PriorityFrame(2, 2)).ok);
  EXPECT_FALSE(c.TakeRst(2, ErrorCode::kProtocolError));
  ASSERT_TRUE(c.Feed(c.Get(1, "/ok")).ok);
  EXPECT_EQ(c.events.back().path, "/ok");
}

TEST(RstStream, Rules) {
  {
    TestClient c;
    c.Handshake();
    c.Feed(c.Rst(0));
    ExpectConnectionError(c, ErrorCode::kProtocolError);
  }
  {
    TestClient c;
    c.Handshake();
    ASSERT_TRUE(c.Feed(c.Post(1)).ok);
    c.Feed(RawFrame(testing::kRst, 0, 1, "123"));
    ExpectConnectionError(c, ErrorCode::kFrameSizeError);
  }
}

TEST(RstStream, UnknownCodePassedThrough) {
  TestClient c;
  c.Handshake();
  ASSERT_TRUE(c.Feed(c.Post(1) + c.Rst(1, static_cast<ErrorCode>(0x1234))).ok);
  EXPECT_EQ(c.events.back().kind, Event::kClosed);
  EXPECT_EQ(static_cast<uint32_t>(c.events.back().code), 0x1234u);
}

TEST(Push, PushPromiseFromClient) {
  TestClient c;
  c.Handshake();
  ASSERT_TRUE(c.Feed(c.Post(1)).ok);
  c.Feed(RawFrame(testing::kPush, kFlagEndHeaders, 1, testing::Be32(2) + "x"));
  ExpectConnectionError(c, ErrorCode::kProtocolError);
}

TEST(Ping, AnsweredWithSamePayload) {
  TestClient c;
  c.Handshake();
  ASSERT_TRUE(c.Feed(c.Ping(0x0102030405060708)).ok);
  const auto out = c.Output();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type(), FrameType::kPing);
  EXPECT_TRUE(out[0].header.has(kFlagAck));
  EXPECT_EQ(out[0].payload, "\x01\x02\x03\x04\x05\x06\x07\x08");
}

TEST(Ping, AckNotAnswered) {
  TestClient c;
  c.Handshake();
  ASSERT_TRUE(c.Feed(c.Ping(5, /*ack=*/true)).ok);
  EXPECT_TRUE(c.Output().empty());
}

TEST(Ping, Malformed) {
  {
    TestClient c;
    c.Handshake();
    c.Feed(RawFrame(testing::kPing, 0, 1, "12345678"));
    ExpectConnectionError(c, ErrorCode::kProtocolError);
  }
  {
    TestClient c;
    c.Handshake();
    c.Feed(RawFrame(testing::kPing, 0, 0, "1234567"));
    ExpectConnectionError(c, ErrorCode::kFrameSizeError);
  }
}

TEST(Goaway, FromPeer) {
  TestClient c;
  c.Handshake();
  ASSERT_TRUE(c.Feed(c.Get(1) + c.Goaway(0, ErrorCode::kNoError)).ok);
  EXPECT_TRUE(c.session.peer_sent_goaway());
  ASSERT_EQ(c.events.back().kind, Event::kGoaway);
  EXPECT_EQ(c.events.back().data, "bye");
  // Streams in flight still complete.
  EXPECT_TRUE(c.session.SubmitResponse(1, {200}, true));
  c.Feed(RawFrame(testing::kGoaway, 0, 1, std::string(8, '\0')));
  ExpectConnectionError(c, ErrorCode::kProtocolError);
}

TEST(Goaway, ConnectionErrorCarriesLastStreamId) {
  TestClient c;
  c.Handshake();
  ASSERT_TRUE(c.Feed({c.Get(1), c.Get(3)}).ok);
  // A PING split across reads, then a PING on a stream.
  ASSERT_TRUE(c.Feed(c.Ping(1).substr(0, 16)).ok);
  c.Feed(c.Ping(1).substr(16) + RawFrame(testing::kPing, 0, 3, "12345678"));
  ExpectConnectionError(c, ErrorCode::kProtocolError);
  EXPECT_EQ(c.sent.back().last_stream_id, 3u);
  // Nothing more happens after a connection error.
  const size_t events = c.events.size();
  EXPECT_FALSE(c.Feed(c.Get(5)).ok);
  EXPECT_EQ(c.events.size(), events);
  EXPECT_TRUE(c.Output().empty());
  EXPECT_FALSE(c.session.SubmitResponse(1, {200}, true));
  EXPECT_TRUE(c.session.finished());
}

// ---------------------------------------------------------------------------------------------
// Graceful shutdown

TEST(Shutdown, TwoStepsWithStreamsInFlight) {
  TestClient c;
  c.Handshake();
  ASSERT_TRUE(c.Feed({c.Get(1), c.Post(3)}).ok);
  c.session.Shutdown();
  EXPECT_TRUE(c.session.draining());
  auto out = c.Output();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].type(), FrameType::kGoaway);
  EXPECT_EQ(out[0].last_stream_id, kMaxStreamId);
  EXPECT_EQ(out[0].code, ErrorCode::kNoError);
  ASSERT_EQ(out[1].type(), FrameType::kPing);
  EXPECT_FALSE(out[1].header.has(kFlagAck));
  // A request that crossed the first GOAWAY is still served.
  ASSERT_TRUE(c.Feed(c.Get(5)).ok);
  EXPECT_EQ(c.handler.Of(Event::kRequest).size(), 3u);
  ASSERT_TRUE(c.Feed(c.Ping(out[1].opaque, /*ack=*/true)).ok);
  out = c.Output();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type(), FrameType::kGoaway);
  EXPECT_EQ(out[0].last_stream_id, 5u);
  // Later streams: ignored, their blocks decoded; streams in flight finish.
  ASSERT_TRUE(c.Feed({c.Get(7), c.Data(3, "body", true), c.Get(9, "/x")}).ok);
  EXPECT_EQ(c.handler.Of(Event::kRequest).size(), 3u);
  EXPECT_EQ(c.events.back().data, "body");
  EXPECT_FALSE(c.session.finished());
  for (uint32_t id : {1u, 3u, 5u}) ASSERT_TRUE(c.session.SubmitResponse(id, {200}, true));
  EXPECT_TRUE(c.session.finished());
  // DATA on an ignored stream still counts against the connection window and is credited.
  ASSERT_TRUE(c.Feed(c.Data(7, "zz", true)).ok);
  EXPECT_EQ(c.session.stats().discarded_data_bytes, 2u);
}

TEST(Shutdown, FinalGoawayAfterTimeout) {
  SessionLimits limits;
  limits.shutdown_timeout_ms = 1000;
  TestClient c(limits, 100);
  c.Handshake();
  ASSERT_TRUE(c.Feed(c.Get(1)).ok);
  ASSERT_TRUE(c.session.Tick(200).ok);
  c.session.Shutdown();
  c.Output();
  ASSERT_TRUE(c.session.Tick(1199).ok);
  EXPECT_TRUE(c.Output().empty());
  ASSERT_TRUE(c.session.Tick(1200).ok);
  const auto g = c.TakeGoaway();
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->last_stream_id, 1u);
}

TEST(Shutdown, LastStreamIdNeverGrows) {
  TestClient c;
  c.Handshake();
  ASSERT_TRUE(c.Feed(c.Get(1)).ok);
  c.session.Shutdown();
  ASSERT_TRUE(c.session.Tick(1u << 20).ok);            // final GOAWAY: last id 1
  ASSERT_TRUE(c.Feed(c.Get(3)).ok);                    // ignored
  c.Feed(RawFrame(testing::kPing, 0, 5, "12345678"));  // then a connection error
  ExpectConnectionError(c, ErrorCode::kProtocolError);
  uint32_t last = kMaxStreamId;
  int goaways = 0;
  for (const auto& f : c.sent) {
    if (f.type() != FrameType::kGoaway) continue;
    ++goaways;
    EXPECT_LE(f.last_stream_id, last);
    last = f.last_stream_id;
  }
  EXPECT_EQ(goaways, 3);
  EXPECT_EQ(last, 1u);
}

}  // namespace
}  // namespace ringway::h2
