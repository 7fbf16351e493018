// Flow control of the HTTP/2 server session (RFC 9113 sections 5.2, 6.9): our send windows
// (WINDOW_UPDATE, SETTINGS_INITIAL_WINDOW_SIZE changes, negative windows, overflow), our
// receive windows (the peer overrunning them, WINDOW_UPDATE as the proxy releases data,
// per-stream backpressure) and DATA that the session drops but must still count.
#include <algorithm>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "proto/h2_session.h"
#include "tests/proto/h2_frame_test_util.h"
#include "tests/proto/h2_session_test_util.h"

namespace ringway::h2 {
namespace {

using testing::Event;
using testing::ExpectConnectionError;
using testing::OutFrame;
using testing::TestClient;

// Sends `n` response bytes on the stream in frames of at most SendableBytes; returns what went.
uint64_t SendBody(TestClient& c, uint32_t id, uint64_t n) {
  uint64_t sent = 0;
  while (sent < n) {
    const uint32_t room = c.session.SendableBytes(id);
    if (room == 0) break;
    const uint32_t k = static_cast<uint32_t>(std::min<uint64_t>(room, n - sent));
    char hdr[9];
    EXPECT_TRUE(c.session.PrepareData(id, k, false, hdr));
    sent += k;
  }
  return sent;
}

// Sum of WINDOW_UPDATE increments for a stream in new output.
uint64_t WindowUpdates(const std::vector<OutFrame>& out, uint32_t id) {
  uint64_t sum = 0;
  for (const auto& f : out) {
    if (f.type() == FrameType::kWindowUpdate && f.stream() == id) sum += f.increment;
  }
  return sum;
}

// `n` bytes of DATA on the stream in frames of at most 16384.
std::string Body(uint32_t id, size_t n, char fill = 'a') {
  std::string out;
  while (n > 0) {
    const size_t k = std::min<size_t>(n, 16384);
    out += TestClient::Data(id, std::string(k, fill), false);
    n -= k;
  }
  return out;
}

void Respond(TestClient& c, uint32_t id) {
  ASSERT_TRUE(c.session.SubmitResponse(id, {200}, false));
}

// ---------------------------------------------------------------------------------------------
// Sending: our windows

TEST(Flow, SendableBytesRespectsWindows) {
  TestClient c;
  c.Handshake();
  ASSERT_TRUE(c.Feed(c.Get(1)).ok);
  Respond(c, 1);
  EXPECT_EQ(c.session.SendableBytes(1), 16384u);
  EXPECT_EQ(SendBody(c, 1, 1 << 20), 65535u);  // the stream window and the connection's
  EXPECT_EQ(c.session.SendableBytes(1), 0u);
  char hdr[9];
  EXPECT_FALSE(c.session.PrepareData(1, 1, false, hdr));
  // The stream window opens, the connection's is still empty: not yet.
  ASSERT_TRUE(c.Feed(c.WindowUpdate(1, 100)).ok);
  EXPECT_TRUE(c.handler.Of(Event::kSendWindow).empty());
  EXPECT_EQ(c.session.SendableBytes(1), 0u);
  ASSERT_TRUE(c.Feed(c.WindowUpdate(0, 5000)).ok);
  const auto w = c.handler.Of(Event::kSendWindow);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].stream_id, 1u);
  EXPECT_EQ(c.session.SendableBytes(1), 100u);
  // END_STREAM with no payload needs no window.
  EXPECT_EQ(SendBody(c, 1, 100), 100u);
  EXPECT_TRUE(c.session.PrepareData(1, 0, true, hdr));
}

// SendWindow: the windows as they are, not capped by the frame size, never negative, and without
// arming OnSendWindow.
TEST(Flow, SendWindowIsTheSmallerWindow) {
  TestClient c;
  c.Handshake({{SettingId::kInitialWindowSize, 200000}});
  ASSERT_TRUE(c.Feed(c.Get(1)).ok);
  EXPECT_EQ(c.session.SendWindow(1), 65535u);  // the connection's window is the smaller
  ASSERT_TRUE(c.Feed(c.WindowUpdate(0, 1 << 20)).ok);
  EXPECT_EQ(c.session.SendWindow(1), 200000u);
  EXPECT_EQ(c.session.SendWindow(3), 0u);  // no such stream
  Respond(c, 1);
  EXPECT_EQ(SendBody(c, 1, 1 << 20), 200000u);
  EXPECT_EQ(c.session.SendWindow(1), 0u);
  ASSERT_TRUE(c.Feed(c.Settings({{SettingId::kInitialWindowSize, 1000}})).ok);
  EXPECT_EQ(c.session.SendWindow(1), 0u);  // -199000: reported as none
  ASSERT_TRUE(c.Feed(c.WindowUpdate(1, 199500)).ok);
  EXPECT_EQ(c.session.SendWindow(1), 500u);
}

TEST(Flow, SendableBytesCappedByFrameSize) {
  TestClient c;
  c.Handshake({{SettingId::kMaxFrameSize, 20000}, {SettingId::kInitialWindowSize, 1 << 20}});
  ASSERT_TRUE(c.Feed(c.WindowUpdate(0, 1 << 20) + c.Get(1)).ok);
  Respond(c, 1);
  EXPECT_EQ(c.session.SendableBytes(1), 20000u);
  char hdr[9];
  EXPECT_FALSE(c.session.PrepareData(1, 20001, false, hdr));
  EXPECT_TRUE(c.session.PrepareData(1, 20000, false, hdr));
}

TEST(Flow, InitialWindowChangeShiftsOpenStreams) {
  TestClient c;
  c.Handshake();
  ASSERT_TRUE(c.Feed({c.WindowUpdate(0, 1 << 20), c.Get(1), c.Get(3)}).ok);
  Respond(c, 1);
  Respond(c, 3);
  EXPECT_EQ(SendBody(c, 1, 60000), 60000u);  // stream 1: 5535 left
  // Down to 1000: stream 1 at 5535 - 64535 = -59000, stream 3 at 1000.
  ASSERT_TRUE(c.Feed(c.Settings({{SettingId::kInitialWindowSize, 1000}})).ok);
  EXPECT_EQ(c.session.SendableBytes(1), 0u);
  EXPECT_EQ(c.session.SendableBytes(3), 1000u);
  ASSERT_TRUE(c.Feed(c.WindowUpdate(1, 59000)).ok);  // back to 0: still nothing to send
  EXPECT_EQ(c.session.SendableBytes(1), 0u);
  EXPECT_TRUE(c.handler.Of(Event::kSendWindow).empty());
  ASSERT_TRUE(c.Feed(c.WindowUpdate(1, 10)).ok);
  ASSERT_EQ(c.handler.Of(Event::kSendWindow).size(), 1u);
  EXPECT_EQ(c.session.SendableBytes(1), 10u);
  // Up again: every stream gains the difference, and a blocked one is told.
  EXPECT_EQ(SendBody(c, 3, 1000), 1000u);
  EXPECT_EQ(c.session.SendableBytes(3), 0u);
  ASSERT_TRUE(c.Feed(c.Settings({{SettingId::kInitialWindowSize, 3000}})).ok);
  EXPECT_EQ(c.session.SendableBytes(1), 2010u);
  EXPECT_EQ(c.session.SendableBytes(3), 2000u);
  EXPECT_EQ(c.handler.Of(Event::kSendWindow).back().stream_id, 3u);
  // A new stream starts at the new value.
  ASSERT_TRUE(c.Feed(c.Get(5)).ok);
  Respond(c, 5);
  EXPECT_EQ(c.session.SendableBytes(5), 3000u);
}

TEST(Flow, InitialWindowChangeOverflow) {
  TestClient c;
  c.Handshake();
  ASSERT_TRUE(c.Feed(c.Get(1)).ok);
  ASSERT_TRUE(c.Feed(c.WindowUpdate(1, kMaxWindowSize - 65535)).ok);  // exactly 2^31-1
  EXPECT_TRUE(c.TakeGoaway() == std::nullopt);
  c.Feed(c.Settings({{SettingId::kInitialWindowSize, 65536}}));
  ExpectConnectionError(c, ErrorCode::kFlowControlError);
}

TEST(Flow, SendWindowOverflowStream) {
  TestClient c;
  c.Handshake();
  ASSERT_TRUE(c.Feed(c.Get(1) + c.WindowUpdate(1, kMaxWindowSize)).ok);
  EXPECT_TRUE(c.TakeRst(1, ErrorCode::kFlowControlError));
  ASSERT_EQ(c.events.back().kind, Event::kClosed);
  EXPECT_EQ(c.events.back().code, ErrorCode::kFlowControlError);
  ASSERT_TRUE(c.Feed(c.Get(3)).ok);
}

TEST(Flow, SendWindowOverflowConnection) {
  TestClient c;
  c.Handshake();
  ASSERT_TRUE(c.Feed(c.WindowUpdate(0, kMaxWindowSize - 65535)).ok);
  c.Feed(c.WindowUpdate(0, 1));
  ExpectConnectionError(c, ErrorCode::kFlowControlError);
}

TEST(Flow, ZeroIncrementStream) {
  TestClient c;
  c.Handshake();
  ASSERT_TRUE(c.Feed(c.Post(1) + c.WindowUpdate(1, 0)).ok);
  EXPECT_TRUE(c.TakeRst(1, ErrorCode::kProtocolError));
  ASSERT_TRUE(c.Feed(c.Get(3)).ok);
}

TEST(Flow, ZeroIncrementConnection) {
  TestClient c;
  c.Handshake();
  c.Feed(c.WindowUpdate(0, 0));
  ExpectConnectionError(c, ErrorCode::kProtocolError);
}

TEST(Flow, WindowUpdateBadLength) {
  TestClient c;
  c.Handshake();
  c.Feed(testing::Frame(testing::kWindowUpdate, 0, 0, "123"));
  ExpectConnectionError(c, ErrorCode::kFrameSizeError);
}

// ---------------------------------------------------------------------------------------------
// Receiving: the peer against our windows

TEST(Flow, PeerExceedsStreamWindow) {
  TestClient c;
  c.Handshake();
  std::string bytes = c.Post(1);
  for (int i = 0; i < 3; ++i) bytes += c.Data(1, std::string(16384, 'x'), false);
  bytes += c.Data(1, std::string(16383, 'x'), false);  // exactly 65535
  ASSERT_TRUE(c.Feed(bytes).ok);
  EXPECT_TRUE(c.Output().empty());
  ASSERT_TRUE(c.Feed(c.Data(1, "y", false)).ok);
  EXPECT_TRUE(c.TakeRst(1, ErrorCode::kFlowControlError));
  EXPECT_EQ(c.events.back().kind, Event::kClosed);
  ASSERT_TRUE(c.Feed(c.Get(3)).ok);  // the connection goes on
  EXPECT_EQ(c.events.back().kind, Event::kRequest);
}

TEST(Flow, PeerExceedsConnectionWindow) {
  SessionLimits limits;
  limits.connection_window = 65535;
  TestClient c(limits);
  c.Handshake();
  ASSERT_TRUE(
      c.Feed({c.Post(1), c.Post(3), c.Data(1, std::string(16384, 'a'), false),
              c.Data(1, std::string(16384, 'a'), false), c.Data(3, std::string(16384, 'a'), false),
              c.Data(3, std::string(16383, 'a'), false)})
          .ok);
  c.Feed(c.Data(3, "b", false));
  ExpectConnectionError(c, ErrorCode::kFlowControlError);
}

TEST(Flow, ConsumeDataSendsWindowUpdates) {
  SessionLimits limits;
  limits.connection_window = 100000;  // WINDOW_UPDATE on the connection every 50000
  TestClient c(limits);
  c.Handshake();
  ASSERT_TRUE(c.Feed(c.Post(1) + c.Data(1, std::string(16384, 'a'), false) +
                     c.Data(1, std::string(3616, 'a'), false))
                  .ok);
  c.session.ConsumeData(1, 20000);
  EXPECT_TRUE(c.Output().empty());  // under half of either window
  ASSERT_TRUE(c.Feed(c.Data(1, std::string(15000, 'b'), false)).ok);
  c.session.ConsumeData(1, 15000);
  auto out = c.Output();
  EXPECT_EQ(WindowUpdates(out, 1), 35000u);  // half of 65535 reached
  EXPECT_EQ(WindowUpdates(out, 0), 0u);
  ASSERT_TRUE(c.Feed(c.Data(1, std::string(16000, 'c'), true)).ok);
  c.session.ConsumeData(1, 16000);
  out = c.Output();
  EXPECT_EQ(WindowUpdates(out, 0), 51000u);
  EXPECT_EQ(WindowUpdates(out, 1), 0u);  // the stream has ended: no window to reopen
}

TEST(Flow, ConsumeDataNeverOverCredits) {
  SessionLimits limits;
  limits.connection_window = 65535;
  TestClient c(limits);
  c.Handshake();
  ASSERT_TRUE(c.Feed(c.Post(1) + Body(1, 40000)).ok);
  c.session.ConsumeData(1, 1'000'000'000);
  c.session.ConsumeData(3, 5);
  const auto out = c.Output();
  EXPECT_EQ(WindowUpdates(out, 0), 40000u);
  EXPECT_EQ(WindowUpdates(out, 1), 40000u);
}

TEST(Flow, ConsumeDataAfterStreamClosedCreditsConnection) {
  SessionLimits limits;
  limits.connection_window = 65535;
  TestClient c(limits);
  c.Handshake();
  ASSERT_TRUE(c.Feed(c.Post(1) + Body(1, 40000) + c.Rst(1)).ok);
  c.session.ConsumeData(1, 40000);
  const auto out = c.Output();
  EXPECT_EQ(WindowUpdates(out, 0), 40000u);
  EXPECT_EQ(WindowUpdates(out, 1), 0u);
}

TEST(Flow, SlowStreamDoesNotStallOthers) {
  // Stream 1's backend never takes anything; stream 3's takes everything. The client keeps to
  // the windows it is given; stream 3 moves 2 MiB while stream 1 holds its 64 KiB.
  TestClient c;
  c.Handshake();
  ASSERT_TRUE(c.Feed({c.Post(1), c.Post(3)}).ok);
  int64_t conn = (1 << 20);  // after our initial WINDOW_UPDATE
  int64_t w1 = 65535, w3 = 65535;
  const std::string chunk(16384, 'z');
  uint64_t moved3 = 0;
  bool stalled1 = false;
  for (int round = 0; round < 400 && moved3 < (2u << 20); ++round) {
    // The client sends what the windows allow on both streams.
    for (uint32_t id : {1u, 3u}) {
      int64_t& w = id == 1 ? w1 : w3;
      const int64_t n = std::min<int64_t>({w, conn, 16384});
      if (n <= 0) {
        if (id == 1) stalled1 = true;
        continue;
      }
      ASSERT_TRUE(c.Feed(c.Data(id, std::string_view(chunk).substr(0, n), false)).ok);
      w -= n;
      conn -= n;
      if (id == 3) {
        c.session.ConsumeData(3, n);
        moved3 += n;
      }
    }
    for (const auto& f : c.Output()) {
      if (f.type() != FrameType::kWindowUpdate) continue;
      if (f.stream() == 0) conn += f.increment;
      if (f.stream() == 1) w1 += f.increment;
      if (f.stream() == 3) w3 += f.increment;
    }
  }
  EXPECT_TRUE(stalled1);
  EXPECT_GE(moved3, 2u << 20);
  EXPECT_EQ(w1, 0);
  EXPECT_FALSE(c.session.failed());
}

TEST(Flow, OurWindowAppliesAtAck) {
  SessionLimits limits;
  limits.initial_stream_window = 16384;
  {
    // Before our SETTINGS are acknowledged the client may use 65535 per stream.
    TestClient c(limits);
    ASSERT_TRUE(c.Feed(c.Preface() + c.Settings() + c.Post(1) +
                       c.Data(1, std::string(16384, 'a'), false) +
                       c.Data(1, std::string(16384, 'a'), false))
                    .ok);
    EXPECT_FALSE(c.TakeRst(1, ErrorCode::kFlowControlError));
    // At the ACK the window drops by 49151: 65535 - 32768 - 49151 = -16384.
    ASSERT_TRUE(c.Feed(c.SettingsAck() + c.Data(1, "x", false)).ok);
    EXPECT_TRUE(c.TakeRst(1, ErrorCode::kFlowControlError));
    // A stream opened after the ACK gets 16384.
    ASSERT_TRUE(c.Feed(c.Post(3) + c.Data(3, std::string(16384, 'a'), false)).ok);
    EXPECT_TRUE(c.Output().empty());
    ASSERT_TRUE(c.Feed(c.Data(3, "x", false)).ok);
    EXPECT_TRUE(c.TakeRst(3, ErrorCode::kFlowControlError));
  }
  {
    limits.initial_stream_window = 200000;
    TestClient c(limits);
    ASSERT_TRUE(c.Feed(c.Preface() + c.Settings() + c.Post(1) +
                       c.Data(1, std::string(16384, 'a'), false) +
                       c.Data(1, std::string(16384, 'a'), false) +
                       c.Data(1, std::string(16384, 'a'), false) +
                       c.Data(1, std::string(16383, 'a'), false))
                    .ok);
    ASSERT_TRUE(c.Feed(c.SettingsAck() + Body(1, 49152, 'b')).ok);
    EXPECT_FALSE(c.TakeRst(1, ErrorCode::kFlowControlError));
    // ConsumeData reopens it at half of the new window.
    c.session.ConsumeData(1, 99999);
    EXPECT_EQ(WindowUpdates(c.Output(), 1), 0u);
    c.session.ConsumeData(1, 1);
    EXPECT_EQ(WindowUpdates(c.Output(), 1), 100000u);
  }
}

TEST(Flow, DataAfterOurResetIsCredited) {
  SessionLimits limits;
  limits.connection_window = 65535;
  TestClient c(limits);
  c.Handshake();
  ASSERT_TRUE(c.Feed(c.Post(1)).ok);
  ASSERT_TRUE(c.session.ResetStream(1, ErrorCode::kCancel));
  c.Output();
  ASSERT_TRUE(c.Feed(Body(1, 49152)).ok);
  // Counted against the connection window (the peer counted it), then returned by the session
  // itself, half a window at a time.
  EXPECT_EQ(WindowUpdates(c.Output(), 0), 32768u);
  EXPECT_EQ(c.session.stats().discarded_data_bytes, 49152u);
  // 65535 - 49152 + 32768 = 49151 left for the next stream.
  ASSERT_TRUE(c.Feed(c.Post(3) + Body(3, 49151, 'b')).ok);
  EXPECT_EQ(c.handler.Of(Event::kData).size(), 3u);
}

TEST(Flow, ResetInsideOnDataDropsTheRestOfTheFrame) {
  SessionLimits limits;
  limits.connection_window = 65535;
  TestClient c(limits);
  c.Handshake();
  ASSERT_TRUE(c.Feed(c.Post(1)).ok);
  c.handler.on_data = [&](uint32_t id, std::string_view data, bool) {
    c.session.ConsumeData(id, data.size());
    c.session.ResetStream(id, ErrorCode::kCancel);
  };
  const std::string frames = Body(1, 48000);  // 16384 + 16384 + 15232
  ASSERT_TRUE(c.FeedSplit(frames, {1000}).ok);
  const auto data = c.handler.Of(Event::kData);
  ASSERT_EQ(data.size(), 1u);
  EXPECT_EQ(data[0].data.size(), 991u);
  EXPECT_EQ(c.session.stats().discarded_data_bytes, 48000u - 991u);
  // All of it returns to the connection: 991 bytes by ConsumeData, the rest by the session.
  const auto out = c.Output();
  EXPECT_EQ(WindowUpdates(out, 0), 48000u - 15232u);  // the last frame is under half a window
}

TEST(Flow, PaddingIsCreditedBySession) {
  TestClient c;
  c.Handshake();
  ASSERT_TRUE(c.Feed(c.Post(1)).ok);
  // 100 frames of 10 data bytes and 255 bytes of padding; the proxy consumes the data.
  const std::string frame =
      testing::Frame(testing::kData, kFlagPadded, 1,
                     testing::Byte(255) + std::string(10, 'd') + std::string(255, '\0'));
  uint64_t credited = 0;
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(c.Feed(frame).ok);
    c.session.ConsumeData(1, 10);
    credited += WindowUpdates(c.Output(), 1);
  }
  // 53200 bytes of window used, 2000 of them data the proxy consumed: the stream window was
  // reopened past half of it only because the session returned the padding by itself.
  EXPECT_GT(credited, 32767u);
  EXPECT_LT(53200 - credited, 32767u);
}

}  // namespace
}  // namespace ringway::h2
