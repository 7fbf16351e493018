#include "core/log.h"

#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>

namespace ringway::core {
namespace {
std::atomic<uint8_t> g_level{static_cast<uint8_t>(LogLevel::kInfo)};
std::atomic<bool> g_json{false};

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}
}  // namespace

void SetLogLevel(LogLevel level) { g_level.store(static_cast<uint8_t>(level)); }
void SetLogJson(bool json) { g_json.store(json); }
bool LogEnabled(LogLevel level) {
  return static_cast<uint8_t>(level) >= g_level.load(std::memory_order_relaxed);
}
bool LogJson() { return g_json.load(std::memory_order_relaxed); }

void FormatTimestamp(char (&buf)[64]) {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  tm t;
  gmtime_r(&ts.tv_sec, &t);
  snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", t.tm_year + 1900, t.tm_mon + 1,
           t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, ts.tv_nsec / 1000000);
}

void AppendJsonEscaped(std::string* out, std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
    } else if (c < 0x20 || c == 0x7f) {
      out->append("\\u00");
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 15]);
    } else {
      out->push_back(static_cast<char>(c));
    }
  }
}

void Log(LogLevel level, const char* fmt, ...) {
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (n < 0) return;
  size_t len = static_cast<size_t>(n) < sizeof(msg) ? static_cast<size_t>(n) : sizeof(msg) - 1;
  char ts[64];
  FormatTimestamp(ts);
  std::string line;
  line.reserve(len + 64);
  if (LogJson()) {
    line.append("{\"time\":\"").append(ts).append("\",\"level\":\"").append(LevelName(level));
    line.append("\",\"msg\":\"");
    AppendJsonEscaped(&line, std::string_view(msg, len));
    line.append("\"}\n");
  } else {
    line.append(ts).append(" ").append(LevelName(level)).append(" ");
    line.append(msg, len).append("\n");
  }
  ssize_t w = write(STDERR_FILENO, line.data(), line.size());
  (void)w;
}

}  // namespace ringway::core
