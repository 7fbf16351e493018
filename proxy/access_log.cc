#include "proxy/access_log.h"

#include <time.h>

#include <cstdio>

#include "core/log.h"

namespace ringway::proxy {
namespace {

// The seconds part of the timestamp changes once a second; format it only then.
void AppendTime(std::string* out) {
  thread_local time_t cached_sec = 0;
  thread_local char cached[64];
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  if (ts.tv_sec != cached_sec) {
    tm t;
    gmtime_r(&ts.tv_sec, &t);
    snprintf(cached, sizeof(cached), "%04d-%02d-%02dT%02d:%02d:%02d", t.tm_year + 1900,
             t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec);
    cached_sec = ts.tv_sec;
  }
  char ms[24];
  snprintf(ms, sizeof(ms), ".%03ldZ", ts.tv_nsec / 1000000);
  out->append(cached).append(ms);
}

// Request targets come from the network: keep the text log one line per request.
void AppendSafe(std::string* out, std::string_view s) {
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    out->push_back(c < 0x21 || c == '"' || c == 0x7f ? '?' : ch);
  }
}

void AppendDuration(std::string* out, uint64_t us) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%llu.%03llu", static_cast<unsigned long long>(us / 1000),
           static_cast<unsigned long long>(us % 1000));
  out->append(buf);
}

}  // namespace

void AppendAccessLog(const AccessRecord& rec, bool json, std::string* out) {
  if (json) {
    out->append("{\"time\":\"");
    AppendTime(out);
    out->append("\",\"client\":\"");
    core::AppendJsonEscaped(out, rec.client);
    out->append("\",\"method\":\"");
    core::AppendJsonEscaped(out, rec.method);
    out->append("\",\"path\":\"");
    core::AppendJsonEscaped(out, rec.target);
    out->append("\",\"status\":").append(std::to_string(rec.status));
    out->append(",\"bytes\":").append(std::to_string(rec.bytes));
    out->append(",\"upstream\":\"");
    core::AppendJsonEscaped(out, rec.upstream);
    out->append("\",\"duration_ms\":");
    AppendDuration(out, rec.duration_us);
    out->append(",\"tries\":").append(std::to_string(rec.tries));
    if (!rec.upstream_proto.empty()) {
      out->append(",\"upstream_protocol\":\"").append(rec.upstream_proto).push_back('"');
    }
    if (!rec.outcome.empty()) out->append(",\"outcome\":\"").append(rec.outcome).push_back('"');
    if (rec.grpc_status >= 0) {
      out->append(",\"grpc_status\":").append(std::to_string(rec.grpc_status));
    }
    out->append("}\n");
    return;
  }
  AppendTime(out);
  out->push_back(' ');
  out->append(rec.client);
  out->append(" \"");
  AppendSafe(out, rec.method);
  out->push_back(' ');
  AppendSafe(out, rec.target);
  out->append("\" ").append(std::to_string(rec.status));
  out->push_back(' ');
  out->append(std::to_string(rec.bytes));
  out->push_back(' ');
  out->append(rec.upstream);
  out->push_back(' ');
  AppendDuration(out, rec.duration_us);
  out->append("ms");
  if (rec.tries > 1) out->append(" tries=").append(std::to_string(rec.tries));
  if (!rec.upstream_proto.empty()) out->append(" proto=").append(rec.upstream_proto);
  if (!rec.outcome.empty()) out->append(" outcome=").append(rec.outcome);
  if (rec.grpc_status >= 0) out->append(" grpc_status=").append(std::to_string(rec.grpc_status));
  out->push_back('\n');
}

}  // namespace ringway::proxy
