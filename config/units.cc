#include "config/units.h"

#include <limits>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"

namespace ringway::config {
namespace {

// Splits "250ms" into 250 and "ms". False when there is no leading number or it overflows.
bool SplitNumber(std::string_view text, uint64_t* value, std::string_view* unit, bool* overflow) {
  size_t i = 0;
  uint64_t v = 0;
  *overflow = false;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    uint64_t digit = static_cast<uint64_t>(text[i] - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - digit) / 10) *overflow = true;
    v = v * 10 + digit;
    ++i;
  }
  if (i == 0) return false;
  *value = v;
  *unit = text.substr(i);
  return true;
}

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

absl::StatusOr<uint32_t> ParseDurationMs(std::string_view text) {
  uint64_t value = 0;
  std::string_view unit;
  bool overflow = false;
  uint64_t scale = 0;
  if (SplitNumber(text, &value, &unit, &overflow)) {
    if (unit == "ms") {
      scale = 1;
    } else if (unit.empty() || unit == "s") {
      scale = 1000;
    } else if (unit == "m") {
      scale = 60 * 1000;
    } else if (unit == "h") {
      scale = 60 * 60 * 1000;
    }
  }
  if (scale == 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "'%s' is not a duration; write a whole number followed by ms, s, m or h, such as 250ms, "
        "5s, 2m or 1h (a bare number means seconds)",
        text));
  }
  constexpr uint64_t kMax = std::numeric_limits<uint32_t>::max();
  if (overflow || value > kMax / scale) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "duration '%s' is too long; the longest is %dms (about 49 days)", text, kMax));
  }
  if (value == 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("duration '%s' is zero; it must be greater than zero", text));
  }
  return static_cast<uint32_t>(value * scale);
}

absl::StatusOr<uint64_t> ParseSize(std::string_view text) {
  uint64_t value = 0;
  std::string_view unit;
  bool overflow = false;
  uint64_t scale = 0;
  if (SplitNumber(text, &value, &unit, &overflow)) {
    std::string u;
    for (char c : unit) u.push_back(Lower(c));
    if (u.empty() || u == "b") {
      scale = 1;
    } else if (u == "k" || u == "kb") {
      scale = uint64_t{1} << 10;
    } else if (u == "m" || u == "mb") {
      scale = uint64_t{1} << 20;
    } else if (u == "g" || u == "gb") {
      scale = uint64_t{1} << 30;
    }
  }
  if (scale == 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "'%s' is not a size; write a whole number of bytes, optionally followed by k, m or g, "
        "such as 512, 8k, 1m or 2g",
        text));
  }
  if (overflow || value > std::numeric_limits<uint64_t>::max() / scale) {
    return absl::InvalidArgumentError(absl::StrFormat("size '%s' is too large", text));
  }
  return value * scale;
}

}  // namespace ringway::config
