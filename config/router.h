// The routing table compiled from one config snapshot: Host -> server, path -> upstream.
//
// Built once per snapshot (it allocates then); lookups allocate nothing and take no locks, so
// every worker can share one immutable Router for as long as it holds the snapshot.
//
//   config::Router router(cfg);
//   int server = router.FindServer(listener_index, host_header);
//   if (server < 0) { /* 404 */ }
//   uint32_t upstream = router.FindUpstream(server, request_target);
#ifndef RINGWAY_CONFIG_ROUTER_H_
#define RINGWAY_CONFIG_ROUTER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "config/config.h"

namespace ringway::config {

class Router {
 public:
  // Longest host name FindServer accepts (after the port and trailing dot are removed).
  static constexpr size_t kMaxHostLength = 255;

  explicit Router(const Config& cfg);

  // Server index for a Host value on listener `listener` (index into cfg.listeners), or -1
  // (answer 404). The Host is matched case-insensitively without its port ("a.com:8080",
  // "[::1]:8080") and trailing dot. Order: exact name, then the longest matching wildcard
  // ("*.acme.com" matches "x.acme.com" and "a.b.acme.com" but not "acme.com"), then the
  // listener's default server. An empty Host (HTTP/1.0 without one) goes to the default server.
  int FindServer(uint32_t listener, std::string_view host) const;

  // Upstream index for a request target on `server` (a FindServer result, not -1): the longest
  // route path_prefix that is a byte prefix of the path (query string ignored), else the
  // server's upstream. `tries`, when given, gets the route's try limit (0: the upstream's).
  uint32_t FindUpstream(int server, std::string_view path, uint32_t* tries = nullptr) const;

 private:
  struct HostTable {
    absl::flat_hash_map<std::string, int> exact;
    // "*.acme.com" is stored as ".acme.com": a host matches if it ends with the key and has at
    // least one byte before it.
    absl::flat_hash_map<std::string, int> wildcard;
    int default_server = -1;
  };
  struct RouteEntry {
    std::string prefix;
    uint32_t upstream;
    uint32_t tries;
  };
  struct ServerRoutes {
    std::vector<RouteEntry> routes;  // longest prefix first
    uint32_t upstream = 0;
  };

  std::vector<HostTable> listeners_;
  std::vector<ServerRoutes> servers_;
};

}  // namespace ringway::config

#endif  // RINGWAY_CONFIG_ROUTER_H_
