// Process-wide logging: levelled lines to stderr as text or JSON, set once at start-up.
//
// Lines are short and written with one write(2) each, so lines from workers never interleave.
//   core::Log(core::LogLevel::kWarn, "backend %s refused: %s", addr, strerror(err));
#ifndef RINGWAY_CORE_LOG_H_
#define RINGWAY_CORE_LOG_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace ringway::core {

enum class LogLevel : uint8_t { kDebug, kInfo, kWarn, kError };

void SetLogLevel(LogLevel level);
void SetLogJson(bool json);
bool LogEnabled(LogLevel level);
bool LogJson();

// printf-style; the message is truncated at 2 KiB.
void Log(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

// Appends `s` to `out` escaped for a JSON string body (no quotes added).
void AppendJsonEscaped(std::string* out, std::string_view s);

// Current wall time as "2026-11-21T23:41:00.123Z".
void FormatTimestamp(char (&buf)[64]);

}  // namespace ringway::core

#define RW_LOG(level, ...)                                                            \
  do {                                                                                \
    if (::ringway::core::LogEnabled(level)) ::ringway::core::Log(level, __VA_ARGS__); \
  } while (0)

#endif  // RINGWAY_CORE_LOG_H_
