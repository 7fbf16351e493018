// Abuse accounting for an HTTP/2 server connection: a "glitch" budget for frames that cost us
// work without doing any for the peer (floods of SETTINGS, PING, PRIORITY, RST_STREAM, tiny
// WINDOW_UPDATE, empty DATA and CONTINUATION, unknown frames, frames on closed streams, peer
// stream errors), and a separate bucket for rapid resets (CVE-2023-44487). The session charges
// events here and fails the connection with ENHANCE_YOUR_CALM when either runs dry.
//
//   h2::AbuseGuard guard(limits.abuse, now_ms);
//   if (!guard.Charge(h2::Glitch::kPing)) { /* GOAWAY ENHANCE_YOUR_CALM */ }
//   guard.Tick(now_ms);           // time refills both
//   guard.UsefulBytes(n);         // so does work the peer asked for and we did
//
// The glitch idea is HAProxy's (mux_h2.c): count what a well-behaved client rarely does, close
// past a threshold. Unlike HAProxy the count decays (per second, and per useful byte or
// finished request), so a long-lived browser connection that sends the odd PING or PRIORITY
// for hours never reaches it, while a flood reaches it within one receive buffer or two.
// Envoy's protocol_constraints.h keeps similar per-kind counters; here one budget with
// per-kind counts for the log is enough.
#ifndef RINGWAY_PROTO_H2_ABUSE_H_
#define RINGWAY_PROTO_H2_ABUSE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ringway::h2 {

struct AbuseLimits {
  // Glitch points the connection may hold; one more and it is closed. 0 disables the check.
  uint32_t glitch_budget = 1000;
  // Points forgiven per second of Tick time, and one per this many bytes of useful work (DATA
  // delivered or a request answered counts as useful_request_bytes).
  uint32_t glitch_decay_per_second = 100;
  uint32_t useful_bytes_per_point = 16384;
  uint32_t useful_request_bytes = 16384;
  // Streams the peer resets before we sent their response head: this many per window. A burst
  // of max_rapid_resets is allowed, refilled continuously over rapid_reset_window_ms. 0
  // disables the check.
  uint32_t max_rapid_resets = 200;
  uint32_t rapid_reset_window_ms = 10000;
  // New streams accepted in one Feed call; more are refused with REFUSED_STREAM (and charged).
  uint32_t max_streams_per_feed = 100;
  // CONTINUATION frames in one field block before the connection is closed (a 64 KiB block
  // needs 4 at the smallest frame size).
  uint32_t max_continuation_frames = 64;
};

// What is charged, one point each unless the session says otherwise.
enum class Glitch : uint8_t {
  kSettings,           // a SETTINGS frame (its cost grows with its entry count)
  kPing,               // a PING that needs an ACK
  kPriority,           // a PRIORITY frame (ignored: RFC 9113 section 5.3.2)
  kRstStream,          // RST_STREAM on an already closed stream
  kSmallWindowUpdate,  // WINDOW_UPDATE of under 1 KiB, or of 0 on a stream
  kEmptyData,          // DATA without payload and without END_STREAM
  kEmptyContinuation,  // HEADERS or CONTINUATION carrying no block bytes, not ending the block
  kUnknownFrame,       // an extension frame type (ignored, RFC 9113 section 5.5)
  kClosedStreamFrame,  // DATA, HEADERS or WINDOW_UPDATE on a closed stream
  kUnsolicitedAck,     // a SETTINGS or PING ACK we did not ask for
  kStreamError,        // any stream error the peer caused (malformed request, window, state)
  kRefusedStream,      // a stream refused for concurrency or per-Feed limits
  kCount,
};

std::string_view GlitchName(Glitch g);

struct AbuseStats {
  std::array<uint64_t, static_cast<size_t>(Glitch::kCount)> glitches{};  // events per kind
  uint64_t glitch_points = 0;                                            // points charged in all
  uint64_t rapid_resets = 0;
};

class AbuseGuard {
 public:
  AbuseGuard(const AbuseLimits& limits, uint64_t now_ms);

  // Charges `points` for one event of `kind`. False when the budget is spent.
  [[nodiscard]] bool Charge(Glitch kind, uint32_t points = 1);
  // One stream reset by the peer before its response head. False past the rapid-reset limit.
  [[nodiscard]] bool RapidReset();
  void UsefulBytes(uint64_t n);
  void UsefulRequest() { UsefulBytes(limits_.useful_request_bytes); }
  // Time moves on (milliseconds, any monotonic origin; never backwards).
  void Tick(uint64_t now_ms);

  uint64_t points() const { return points_; }
  const AbuseStats& stats() const { return stats_; }

 private:
  AbuseLimits limits_;
  uint64_t now_ms_;
  uint64_t points_ = 0;        // held glitch points
  uint64_t useful_carry_ = 0;  // useful bytes not yet worth a point
  uint64_t decay_carry_ = 0;   // milliseconds x points/second not yet worth a point
  uint64_t reset_tokens_;      // rapid-reset bucket, in thousandths
  uint64_t reset_carry_ = 0;
  AbuseStats stats_;
};

}  // namespace ringway::h2

#endif  // RINGWAY_PROTO_H2_ABUSE_H_
