// One access-log line per exchange, appended to a worker's buffer (flushed once per loop turn).
//
// Text:  2026-11-21T23:41:00.123Z 127.0.0.1 "GET /path" 200 1234 127.0.0.1:3001 0.512ms
//        (a retried request ends with " tries=2": the upstream field names the last backend;
//        then " proto=h2c" for an HTTP/2 backend, " outcome=..." for an exchange that did not
//        end normally, " grpc_status=N" for a gRPC error ringway answered itself)
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
  // The protocol spoken to the backend when not HTTP/1.1 ("h2", "h2c"), else "".
  std::string_view upstream_proto;
  // How the exchange ended when not normally ("backend_reset:CANCEL", "cancelled", ...), else "".
  std::string_view outcome;
  int grpc_status = -1;  // the gRPC status ringway answered itself with, if it did
};

void AppendAccessLog(const AccessRecord& rec, bool json, std::string* out);

}  // namespace ringway::proxy

#endif  // RINGWAY_PROXY_ACCESS_LOG_H_
