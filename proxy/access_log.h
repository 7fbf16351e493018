// One access-log line per exchange, appended to a worker's buffer (flushed once per loop turn).
//
// Text:  2026-11-21T23:41:00.123Z 127.0.0.1 "GET /path" 200 1234 127.0.0.1:3001 0.512ms
//        (a retried request ends with " tries=2": the upstream field names the last backend)
// JSON:  {"time":"...","client":"127.0.0.1","method":"GET","path":"/path","status":200,
//         "bytes":1234,"upstream":"127.0.0.1:3001","duration_ms":0.512,"tries":1}
#ifndef RINGWAY_PROXY_ACCESS_LOG_H_
#define RINGWAY_PROXY_ACCESS_LOG_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace ringway::proxy {

struct AccessRecord {
  std::string_view client;
  std::string_view method;
  std::string_view target;
  uint16_t status = 0;
  uint64_t bytes = 0;
  std::string_view upstream;  // backend address, or "-"
  uint64_t duration_us = 0;
  uint32_t tries = 1;  // attempts made (backends tried); the text line shows it when above 1
};

void AppendAccessLog(const AccessRecord& rec, bool json, std::string* out);

}  // namespace ringway::proxy

#endif  // RINGWAY_PROXY_ACCESS_LOG_H_
