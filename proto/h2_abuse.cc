// Glitch budget and rapid-reset bucket. Integer arithmetic with carries, so that many small
// Tick steps forgive exactly what one big step would.
#include "proto/h2_abuse.h"

#include <algorithm>

namespace ringway::h2 {

std::string_view GlitchName(Glitch g) {
  switch (g) {
    case Glitch::kSettings:
      return "settings";
    case Glitch::kPing:
      return "ping";
    case Glitch::kPriority:
      return "priority";
    case Glitch::kRstStream:
      return "rst_stream";
    case Glitch::kSmallWindowUpdate:
      return "small_window_update";
    case Glitch::kEmptyData:
      return "empty_data";
    case Glitch::kEmptyContinuation:
      return "empty_continuation";
    case Glitch::kUnknownFrame:
      return "unknown_frame";
    case Glitch::kClosedStreamFrame:
      return "closed_stream_frame";
    case Glitch::kUnsolicitedAck:
      return "unsolicited_ack";
    case Glitch::kStreamError:
      return "stream_error";
    case Glitch::kRefusedStream:
      return "refused_stream";
    case Glitch::kCount:
      break;
  }
  return "unknown";
}

AbuseGuard::AbuseGuard(const AbuseLimits& limits, uint64_t now_ms)
    : limits_(limits), now_ms_(now_ms), reset_tokens_(uint64_t{limits.max_rapid_resets} * 1000) {}

bool AbuseGuard::Charge(Glitch kind, uint32_t points) {
  const auto i = static_cast<size_t>(kind);
  if (i < stats_.glitches.size()) ++stats_.glitches[i];
  stats_.glitch_points += points;
  points_ += points;
  return limits_.glitch_budget == 0 || points_ <= limits_.glitch_budget;
}

bool AbuseGuard::RapidReset() {
  ++stats_.rapid_resets;
  if (limits_.max_rapid_resets == 0) return true;
  if (reset_tokens_ < 1000) return false;
  reset_tokens_ -= 1000;
  return true;
}

void AbuseGuard::UsefulBytes(uint64_t n) {
  if (limits_.useful_bytes_per_point == 0) return;
  useful_carry_ += n;
  const uint64_t forgiven = useful_carry_ / limits_.useful_bytes_per_point;
  useful_carry_ %= limits_.useful_bytes_per_point;
  points_ -= std::min(points_, forgiven);
}

void AbuseGuard::Tick(uint64_t now_ms) {
  if (now_ms <= now_ms_) return;
  // Past a day nothing is left to refill; the cap keeps the products below in 64 bits.
  const uint64_t elapsed = std::min<uint64_t>(now_ms - now_ms_, 86'400'000);
  now_ms_ = now_ms;

  decay_carry_ += elapsed * limits_.glitch_decay_per_second;
  const uint64_t forgiven = decay_carry_ / 1000;
  decay_carry_ %= 1000;
  points_ -= std::min(points_, forgiven);

  if (limits_.max_rapid_resets != 0 && limits_.rapid_reset_window_ms != 0) {
    const uint64_t cap = uint64_t{limits_.max_rapid_resets} * 1000;
    reset_carry_ += elapsed * cap;
    const uint64_t add = reset_carry_ / limits_.rapid_reset_window_ms;
    reset_carry_ %= limits_.rapid_reset_window_ms;
    reset_tokens_ = std::min(cap, reset_tokens_ + add);
  }
}

}  // namespace ringway::h2
