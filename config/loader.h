// What the config loader's files share (not part of the public API): the Loader class, whose
// methods are defined one file per schema section (global.cc, listeners.cc, servers.cc,
// upstreams.cc, health.cc), the typed value readers (values.cc) and small text helpers.
#ifndef RINGWAY_CONFIG_LOADER_H_
#define RINGWAY_CONFIG_LOADER_H_

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "config/config.h"
#include "config/yaml_node.h"

namespace ringway::config::internal {

#define CONFIG_RETURN_IF_ERROR(expr)                    \
  do {                                                  \
    if (absl::Status status_ = (expr); !status_.ok()) { \
      return status_;                                   \
    }                                                   \
  } while (0)

using Kind = YamlNode::Kind;
using Keys = std::initializer_list<std::string_view>;

// Optimal string alignment distance: edits, with a swap of neighbours counting as one. Takes
// O(|a| * |b|) time; callers keep the words short (see Closest).
size_t EditDistance(std::string_view a, std::string_view b);

// Suggestions are for typos in names: a longer word is not a typo, and comparing long words
// would cost time quadratic in their length.
inline constexpr size_t kMaxSuggestLength = 64;

// The candidate within two edits of `word` (and closer than rewriting it whole), or "".
template <typename Range>
std::string Closest(std::string_view word, const Range& candidates) {
  std::string best;
  size_t best_distance = 3;
  if (word.size() > kMaxSuggestLength) return best;
  for (const auto& candidate : candidates) {
    std::string_view c(candidate);
    // The distance is at least the difference in length, so most candidates cost nothing.
    size_t length_gap = c.size() > word.size() ? c.size() - word.size() : word.size() - c.size();
    if (length_gap >= best_distance) continue;
    size_t d = EditDistance(word, c);
    if (d < best_distance && d < word.size()) {
      best_distance = d;
      best = std::string(c);
    }
  }
  return best;
}

std::string Quoted(const std::vector<std::string>& names);
std::string Where(std::string_view key, std::string_view where);
std::string DurationText(uint64_t ms);

// RFC 9110 token characters: what method, header and cookie names are made of.
bool IsToken(std::string_view s);
// A space, a control character or DEL: never allowed in a request path or a Host value.
bool IsSpaceOrControl(char c);
std::string Lowered(std::string_view s);

// global.timeouts: each key and the field it sets (the loader reads them, the printer writes).
struct TimeoutField {
  std::string_view key;
  uint32_t Timeouts::*member;
};
inline constexpr TimeoutField kTimeoutFields[] = {
    {"client_header", &Timeouts::client_header_ms},
    {"client_body", &Timeouts::client_body_ms},
    {"client_send", &Timeouts::client_send_ms},
    {"keepalive", &Timeouts::keepalive_ms},
    {"upstream_connect", &Timeouts::upstream_connect_ms},
    {"upstream_response", &Timeouts::upstream_response_ms},
    {"shutdown", &Timeouts::shutdown_ms},
    {"tunnel", &Timeouts::tunnel_ms},
};

// How a duration key reads its value.
struct DurationRule {
  bool zero_ok = false;  // 0 (with any unit) is allowed and means "off"
  bool bare_ms = false;  // a bare number counts milliseconds (timeout_ms), not seconds
  uint32_t min_ms = 1;   // the shortest allowed, unless zero
};

// Where a health-check interval or timeout was set: by a key in the file, or by default.
struct HealthOrigin {
  bool set = false;
  Mark at;
  std::string key;    // as written: "interval", "interval_seconds", ...
  std::string where;  // "global.health_check", "health_check of upstream 'web'"
};

struct HealthOrigins {
  HealthOrigin interval;
  HealthOrigin timeout;
};

// Positions kept beside the structs for checks that run after everything is loaded.
struct ServerMarks {
  Mark at;    // the server's mapping
  Mark name;  // the name key's value, else the first server_name, else `at`
  std::vector<Mark> server_names;
  Mark default_flag;
};

class Loader {
 public:
  explicit Loader(std::string_view filename) : file_(filename) {}

  absl::StatusOr<Config> Load(std::string_view text);

 private:
  // values.cc: positioned errors and the typed readers every section uses.
  absl::Status Error(Mark at, std::string_view message) const {
    return ErrorAt(file_, at, message);
  }
  absl::Status Error(const YamlNode& at, std::string_view message) const {
    return ErrorAt(file_, at.mark, message);
  }
  std::string At(Mark m) const { return absl::StrFormat("%s:%d:%d", file_, m.line, m.column); }
  absl::Status TypeError(const YamlNode& node, std::string_view what, std::string_view expected,
                         std::string_view hint = {}) const;
  absl::Status CheckKeys(const YamlNode& map, Keys allowed, std::string_view where) const;
  absl::Status ExpectMapping(const YamlNode& node, std::string_view what) const;
  absl::Status ExpectList(const YamlNode& node, std::string_view what,
                          std::string_view example) const;
  absl::StatusOr<const YamlNode*> Require(const YamlNode& map, std::string_view key,
                                          std::string_view where, std::string_view example) const;
  absl::StatusOr<std::string> String(const YamlNode& node, std::string_view what) const;
  absl::StatusOr<int64_t> Integer(const YamlNode& node, std::string_view what, int64_t lo,
                                  int64_t hi) const;
  absl::StatusOr<bool> Bool(const YamlNode& node, std::string_view what) const;
  absl::StatusOr<uint32_t> Duration(const YamlNode& node, std::string_view what) const;
  absl::StatusOr<uint32_t> Duration(const YamlNode& node, std::string_view what,
                                    const DurationRule& rule) const;
  absl::StatusOr<uint64_t> Size(const YamlNode& node, std::string_view what, uint64_t lo,
                                uint64_t hi) const;
  absl::StatusOr<SocketAddress> Address(const YamlNode& node, std::string_view what) const;
  absl::StatusOr<const YamlNode::Entry*> FindOne(const YamlNode& map, Keys names,
                                                 std::string_view where) const;
  absl::Status RefuseSeedKeys(const YamlNode& map, std::string_view where) const;
  absl::StatusOr<std::string> HttpPath(const YamlNode& node, std::string_view what) const;
  // A backend id or tag: see config::ValidTag.
  absl::StatusOr<std::string> Tag(const YamlNode& node, std::string_view what) const;
  absl::StatusOr<uint32_t> Percent(const YamlNode& node, std::string_view what) const;

  // load.cc: a native tree (as written, or made from another schema by shapes.cc).
  absl::StatusOr<Config> LoadNative(const YamlNode& root, Mark start);
  bool IsToml() const;

  // shapes.cc: the schemas of earlier proxies, rewritten as native trees.
  absl::StatusOr<Shape> DetectShape(const YamlNode& root) const;
  absl::StatusOr<YamlNode> FromServerShape(const YamlNode& root);
  absl::StatusOr<YamlNode> FromServicesShape(const YamlNode& root);
  absl::StatusOr<YamlNode> FromVhostsShape(const YamlNode& root);
  absl::StatusOr<YamlNode> SeedLogLevel(const YamlNode& node, std::string_view what) const;
  void Note(std::string path, Mark at, std::string_view what);

  // global.cc
  absl::Status LoadGlobal(const YamlNode& global);
  absl::Status LoadLog(const YamlNode& log);
  absl::Status LoadTimeouts(const YamlNode& timeouts);
  absl::Status LoadLimits(const YamlNode& limits);
  absl::Status LoadBuffers(const YamlNode& buffers);
  absl::Status LoadHttp2(const YamlNode& h2);
  absl::Status LoadAdmin(const YamlNode& admin);

  // listeners.cc
  absl::Status LoadGlobalTls(const YamlNode& tls);
  absl::Status LoadTls(const YamlNode& node, std::string_view where, ListenerTls* tls) const;
  absl::Status LoadCertificate(const YamlNode& node, std::string_view where, bool entry,
                               TlsCertificate* cert) const;
  absl::Status LoadListeners(const YamlNode* list);
  absl::Status LoadListener(const YamlNode& item, size_t index);
  absl::Status AddListener(Listener listener, Mark name_at, Mark bind_at);
  absl::Status CheckListenerServers();

  // servers.cc
  absl::Status LoadServers(const YamlNode& list);
  absl::Status LoadServer(const YamlNode& item, size_t index);
  absl::Status LoadRoutes(const YamlNode& list, std::string_view where, Server* server);
  absl::StatusOr<std::string> ServerName(const YamlNode& node, std::string_view what) const;
  absl::StatusOr<uint32_t> UpstreamRef(const YamlNode& node, std::string_view what) const;

  // upstreams.cc
  absl::Status LoadUpstreams(const YamlNode& list);
  absl::Status LoadUpstream(const YamlNode& item, size_t index);
  absl::Status LoadBackend(const YamlNode& item, std::string_view where, Upstream* upstream,
                           std::vector<const YamlNode*>* check_paths,
                           absl::flat_hash_set<std::string>* addresses);
  absl::StatusOr<SocketAddress> BackendUrl(const YamlNode& node, std::string_view what) const;
  absl::Status LoadUpstreamTls(const YamlNode& node, std::string_view where,
                               UpstreamTls* tls) const;
  absl::Status LoadRetry(const YamlNode& node, std::string_view where, Retry* retry) const;
  absl::Status LoadBalancing(const YamlNode& item, std::string_view where,
                             Upstream* upstream) const;
  absl::Status LoadSticky(const YamlNode& node, std::string_view where, Sticky* sticky) const;

  // health.cc
  absl::Status LoadHealthCheck(const YamlNode& node, std::string_view where, HealthCheck* health,
                               HealthOrigins* origins, const YamlNode** type_node) const;
  absl::Status LoadPassiveHealth(const YamlNode& node, std::string_view where,
                                 PassiveHealth* passive) const;

  std::string file_;
  Config cfg_;
  std::vector<Origin> origins_;  // shapes.cc: where each native part came from
  std::map<std::string, uint32_t, std::less<>> upstream_index_;
  std::vector<Mark> upstream_marks_;
  std::map<std::string, uint32_t, std::less<>> server_index_;
  std::map<std::string, std::string, std::less<>> backend_ids_;  // id -> where it was given
  std::vector<ServerMarks> server_marks_;
  std::vector<Mark> listener_name_marks_;
  std::vector<Mark> listener_bind_marks_;
  absl::flat_hash_map<std::string, uint32_t> listener_by_name_;  // index into cfg_.listeners
  absl::flat_hash_map<std::string, uint32_t> listener_by_bind_;  // by SocketAddress::text
  HealthCheck global_health_;  // defaults with global.health_check applied
  HealthOrigins global_health_origins_;
  const YamlNode* global_port_ = nullptr;       // validated by LoadGlobal
  const YamlNode* global_tls_ = nullptr;        // validated by LoadGlobalTls
  ListenerTls global_listener_tls_;             // global.tls, for the listener global.port makes
  bool from_port_ = false;                      // cfg_.listeners[0] comes from global.port
  bool global_underscores_in_headers_ = false;  // every listener's default
};

}  // namespace ringway::config::internal

#endif  // RINGWAY_CONFIG_LOADER_H_
