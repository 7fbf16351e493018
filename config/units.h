// Durations and sizes as the configuration writes them: "250ms", "5s", "2m", "1h"; "8k", "1m".
// Pure functions; the loader adds the file position to their errors.
//
//   absl::StatusOr<uint32_t> ms = ParseDurationMs("2m");  // 120000
//   absl::StatusOr<uint64_t> bytes = ParseSize("64k");    // 65536
#ifndef RINGWAY_CONFIG_UNITS_H_
#define RINGWAY_CONFIG_UNITS_H_

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"

namespace ringway::config {

// A whole number followed by ms, s, m or h; a bare number means seconds. The result is in
// milliseconds, greater than zero and within uint32_t (about 49 days).
absl::StatusOr<uint32_t> ParseDurationMs(std::string_view text);

// A whole number of bytes, optionally followed by k, m or g (powers of 1024, either case, with
// or without a trailing "b"): "8k", "8K", "8kb", "1m", "2g", "512".
absl::StatusOr<uint64_t> ParseSize(std::string_view text);

}  // namespace ringway::config

#endif  // RINGWAY_CONFIG_UNITS_H_
