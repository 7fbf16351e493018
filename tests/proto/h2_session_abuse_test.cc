// One test per misbehaving HTTP/2 peer: each floods or abuses one mechanism and must end with
// GOAWAY ENHANCE_YOUR_CALM (or, for a stream-level abuse, a stream error with the connection
// going on), with the event counted in the stats. The same budgets must leave a polite client
// alone: the decay and refund tests send the same frames slowly or among useful work.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "proto/h2_abuse.h"
#include "proto/h2_session.h"
#include "tests/proto/h2_frame_test_util.h"
#include "tests/proto/h2_session_test_util.h"

namespace ringway::h2 {
namespace {

using testing::Event;
using testing::ExpectConnectionError;
using testing::Fields;
using testing::TestClient;

size_t Count(const TestClient& c, Glitch g) {
  return c.session.abuse_stats().glitches[static_cast<size_t>(g)];
}

// Feeds `frame` up to `n` times, one Feed each, until the connection fails; returns how many
// went in before it did.
int FloodUntilFailure(TestClient& c, const std::string& frame, int n) {
  for (int i = 0; i < n; ++i) {
    if (!c.Feed(frame).ok) return i;
    c.Output();  // a client that reads: only the glitch budget may stop it
  }
  return n;
}

TEST(RapidReset, OpenAndResetPastTheBudget) {
  SessionLimits limits;
  limits.abuse.max_rapid_resets = 50;
  TestClient c(limits);
  c.Handshake();
  uint32_t id = 1;
  for (int i = 0; i < 50; ++i, id += 2) {
    ASSERT_TRUE(c.Feed(c.Get(id) + c.Rst(id)).ok) << i;
  }
  EXPECT_EQ(c.session.abuse_stats().rapid_resets, 50u);
  c.Feed(c.Get(id) + c.Rst(id));
  ExpectConnectionError(c, ErrorCode::kEnhanceYourCalm);
  EXPECT_STREQ(c.last.detail, "rapid reset");
}

TEST(RapidReset, ManyPairsPerRead) {
  // 300 open-and-reset pairs per read: the per-read stream cap (100) refuses the rest, which
  // costs the client glitches and us nothing; the rapid-reset bucket (200) ends it on the third.
  TestClient c;
  c.Handshake();
  uint32_t id = 1;
  int reads = 0;
  while (reads < 10) {
    std::string bytes;
    for (int i = 0; i < 300; ++i, id += 2) bytes += c.Post(id) + c.Rst(id);
    ++reads;
    if (!c.Feed(bytes).ok) break;
    c.Output();
  }
  EXPECT_EQ(reads, 3);
  ExpectConnectionError(c, ErrorCode::kEnhanceYourCalm);
  EXPECT_EQ(c.handler.Of(Event::kRequest).size(), 201u);
  EXPECT_EQ(c.session.stats().refused_streams, 400u);
}

TEST(RapidReset, ResetsAfterTheResponseDoNotCount) {
  SessionLimits limits;
  limits.abuse.max_rapid_resets = 5;
  TestClient c(limits);
  c.Handshake();
  c.handler.on_request = [&](uint32_t id, const Request&, bool) {
    c.session.SubmitResponse(id, {200}, false);
  };
  for (uint32_t id = 1; id < 200; id += 2) ASSERT_TRUE(c.Feed(c.Get(id) + c.Rst(id)).ok);
  EXPECT_EQ(c.session.abuse_stats().rapid_resets, 0u);
  EXPECT_EQ(c.session.stats().peer_resets, 100u);
}

TEST(RapidReset, BudgetRefillsOverTime) {
  SessionLimits limits;
  limits.abuse.max_rapid_resets = 10;
  limits.abuse.rapid_reset_window_ms = 1000;
  TestClient c(limits);
  c.Handshake();
  uint32_t id = 1;
  // 10 per second for a minute: always within the budget.
  for (int s = 0; s < 60; ++s) {
    for (int i = 0; i < 10; ++i, id += 2) ASSERT_TRUE(c.Feed(c.Get(id) + c.Rst(id)).ok);
    ASSERT_TRUE(c.session.Tick(1000 * (s + 1)).ok);
  }
  EXPECT_EQ(c.session.abuse_stats().rapid_resets, 600u);
}

TEST(StreamsPerFeed, ExtraStreamsRefused) {
  SessionLimits limits;
  limits.abuse.max_streams_per_feed = 10;
  TestClient c(limits);
  c.Handshake();
  std::string bytes;
  for (uint32_t i = 0; i < 12; ++i) bytes += c.Get(1 + 2 * i);
  ASSERT_TRUE(c.Feed(bytes).ok);
  EXPECT_EQ(c.handler.Of(Event::kRequest).size(), 10u);
  int refused = 0;
  for (const auto& f : c.Output()) {
    if (f.type() == FrameType::kRstStream && f.code == ErrorCode::kRefusedStream) {
      EXPECT_TRUE(f.stream() == 21 || f.stream() == 23);
      ++refused;
    }
  }
  EXPECT_EQ(refused, 2);
  EXPECT_EQ(c.session.stats().refused_streams, 2u);
  ASSERT_TRUE(c.Feed(c.Get(25)).ok);  // a new read, a new allowance
  EXPECT_EQ(c.events.back().stream_id, 25u);
}

// Each flood: the frame, and the glitch kind it is counted as.
struct Flood {
  const char* what;
  std::string frame;
  Glitch kind;
};

TEST(Floods, EachEndsWithEnhanceYourCalm) {
  const Flood floods[] = {
      {"SETTINGS", TestClient::Settings({{SettingId::kMaxFrameSize, 16384}}), Glitch::kSettings},
      {"PING", TestClient::Ping(1), Glitch::kPing},
      {"PRIORITY", TestClient::PriorityFrame(3, 0), Glitch::kPriority},
      {"WINDOW_UPDATE of 1", TestClient::WindowUpdate(0, 1), Glitch::kSmallWindowUpdate},
      {"unknown frame", testing::Frame(0xab, 0, 0, "x"), Glitch::kUnknownFrame},
      {"SETTINGS ACK", TestClient::SettingsAck(), Glitch::kUnsolicitedAck},
      {"PING ACK", TestClient::Ping(1, true), Glitch::kUnsolicitedAck},
      {"empty DATA", TestClient::Data(1, "", false), Glitch::kEmptyData},
      {"RST_STREAM on a reset stream", TestClient::Rst(1), Glitch::kRstStream},
  };
  for (const Flood& f : floods) {
    TestClient c;
    c.Handshake();
    ASSERT_TRUE(c.Feed(c.Post(1)).ok);
    if (f.kind == Glitch::kRstStream) {
      ASSERT_TRUE(c.Feed(c.Rst(1)).ok);
    }
    c.Output();
    const int sent = FloodUntilFailure(c, f.frame, 5000);
    EXPECT_LT(sent, 1100) << f.what;
    EXPECT_GT(sent, 500) << f.what;  // a handful is never a problem
    ExpectConnectionError(c, ErrorCode::kEnhanceYourCalm);
    EXPECT_GT(Count(c, f.kind), 500u) << f.what;
  }
}

TEST(Floods, EmptyContinuationFrames) {
  {
    // The CONTINUATION count per block stops it first.
    TestClient c;
    c.Handshake();
    std::string bytes = testing::Frame(testing::kHeaders, 0, 1, "");
    for (int i = 0; i < 100; ++i) bytes += testing::Frame(testing::kContinuation, 0, 1, "");
    c.Feed(bytes);
    ExpectConnectionError(c, ErrorCode::kEnhanceYourCalm);
  }
  {
    // Without that cap, the glitch budget does.
    SessionLimits limits;
    limits.abuse.max_continuation_frames = 1 << 30;
    TestClient c(limits);
    c.Handshake();
    std::string bytes = testing::Frame(testing::kHeaders, 0, 1, "");
    for (int i = 0; i < 2000; ++i) bytes += testing::Frame(testing::kContinuation, 0, 1, "");
    c.Feed(bytes);
    ExpectConnectionError(c, ErrorCode::kEnhanceYourCalm);
    EXPECT_GT(Count(c, Glitch::kEmptyContinuation), 900u);
  }
}

TEST(Floods, StreamErrorsAreCounted) {
  // Malformed requests one after another: each a stream error, the stream of them a glitch
  // flood.
  TestClient c;
  c.Handshake();
  uint32_t id = 1;
  bool failed = false;
  for (int i = 0; i < 3000 && !failed; ++i, id += 2) {
    failed = !c.Feed(c.Headers(id, {{":method", "GET"}, {":path", "/"}}, true)).ok;
    c.Output();
  }
  EXPECT_TRUE(failed);
  EXPECT_EQ(c.last.error, ErrorCode::kEnhanceYourCalm);
  EXPECT_GT(c.session.stats().malformed_requests, 900u);
}

TEST(Floods, SlowTrickleDecays) {
  // The same frames, 50 a second for ten minutes, never close the connection.
  TestClient c;
  c.Handshake();
  uint64_t now = 0;
  for (int s = 0; s < 600; ++s) {
    std::string bytes;
    for (int i = 0; i < 10; ++i) {
      bytes += c.Ping(i) + c.PriorityFrame(3, 0) + c.WindowUpdate(0, 1) + c.SettingsAck() +
               testing::Frame(0xab, 0, 0, "");
    }
    ASSERT_TRUE(c.Feed(bytes).ok) << s;
    c.Output();
    now += 1000;
    ASSERT_TRUE(c.session.Tick(now).ok);
  }
  EXPECT_GE(c.session.abuse_stats().glitch_points, 30000u);
}

TEST(Floods, UsefulWorkRefunds) {
  // A PING per 16 KiB of upload, without any Tick: the data pays for the PINGs.
  SessionLimits limits;
  limits.connection_window = kMaxWindowSize;
  limits.initial_stream_window = kMaxWindowSize;
  TestClient c(limits);
  c.Handshake();
  ASSERT_TRUE(c.Feed(c.Post(1)).ok);
  const std::string chunk(16384, 'u');
  for (int i = 0; i < 3000; ++i) {
    ASSERT_TRUE(c.Feed(c.Ping(i) + c.Data(1, chunk, false)).ok) << i;
    c.session.ConsumeData(1, chunk.size());
    c.Output();
  }
}

TEST(OutputBound, PeerThatDoesNotRead) {
  SessionLimits limits;
  limits.max_output_bytes = 4096;
  TestClient c(limits);
  c.Handshake();
  // PINGs whose ACKs nobody takes: each ACK is 17 bytes.
  std::string bytes;
  for (int i = 0; i < 400; ++i) bytes += c.Ping(i);
  c.Feed(bytes);
  EXPECT_FALSE(c.last.ok);
  EXPECT_EQ(c.last.error, ErrorCode::kEnhanceYourCalm);
  EXPECT_STREQ(c.last.detail, "peer does not read");
  EXPECT_LE(c.session.output().size(), 4096u + 17u + 64u);
}

TEST(Hpack, BombIsAStreamError) {
  // A 2900-byte field put in the table once, then named 25 times by a one-byte index: a list
  // of 73 KB from a block of a few dozen bytes. The decoder stops at the list limit; the
  // request gets a 431 and the connection goes on with the table in step.
  TestClient c;
  c.Handshake();
  Fields first = TestClient::GetFields("/fill");
  first.emplace_back("x-bomb", std::string(2900, 'b'));
  ASSERT_TRUE(c.Feed(c.Headers(1, first, true)).ok);
  ASSERT_EQ(c.events.back().kind, Event::kRequest);
  Fields bomb = TestClient::GetFields("/bomb");
  for (int i = 0; i < 25; ++i) bomb.emplace_back("x-bomb", std::string(2900, 'b'));
  const std::string frame = c.Headers(3, bomb, true);
  EXPECT_LT(frame.size(), 200u);
  ASSERT_TRUE(c.Feed(frame).ok);
  EXPECT_EQ(c.events.back().kind, Event::kRejected);
  EXPECT_EQ(c.events.back().status, 431);
  EXPECT_EQ(c.session.stats().oversized_headers, 1u);
  ASSERT_TRUE(c.Feed(c.Headers(5, first, true)).ok);
  EXPECT_EQ(c.events.back().kind, Event::kRequest);
  EXPECT_EQ(c.events.back().fields[0].second.size(), 2900u);
}

TEST(Guard, BudgetArithmetic) {
  AbuseLimits l;
  l.glitch_budget = 10;
  l.glitch_decay_per_second = 3;
  l.useful_bytes_per_point = 100;
  l.max_rapid_resets = 2;
  l.rapid_reset_window_ms = 1000;
  AbuseGuard g(l, 0);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(g.Charge(Glitch::kPing));
  EXPECT_FALSE(g.Charge(Glitch::kPing));
  // 3 points a second, in many small steps: 1000 steps of 1 ms forgive 3 points.
  for (uint64_t t = 1; t <= 1000; ++t) g.Tick(t);
  EXPECT_EQ(g.points(), 8u);
  g.UsefulBytes(250);
  EXPECT_EQ(g.points(), 6u);
  g.UsefulBytes(50);
  EXPECT_EQ(g.points(), 5u);
  EXPECT_TRUE(g.RapidReset());
  EXPECT_TRUE(g.RapidReset());
  EXPECT_FALSE(g.RapidReset());
  g.Tick(1500);  // half the window: one more
  EXPECT_TRUE(g.RapidReset());
  EXPECT_FALSE(g.RapidReset());
  EXPECT_EQ(g.stats().glitches[static_cast<size_t>(Glitch::kPing)], 11u);
  EXPECT_EQ(GlitchName(Glitch::kEmptyData), "empty_data");
}

}  // namespace
}  // namespace ringway::h2
