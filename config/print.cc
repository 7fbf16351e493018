// PrintYaml: the configuration as a small tree of YAML nodes (what differs from the defaults,
// plus the keys that name each listener, server and upstream), then that tree as text, with the
// notes of Config::origins as comments above the keys they belong to.
#include "config/print.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "config/loader.h"

namespace ringway::config {
namespace {

// A value to print. Scalars hold their text as it is written (quoted where needed).
struct Node {
  struct Field;
  enum class Kind : uint8_t { kScalar, kFlowList, kMap, kList };
  Kind kind = Kind::kMap;
  std::string scalar;             // kScalar
  std::vector<std::string> flow;  // kFlowList: items as written
  std::vector<Field> entries;     // kMap, in order
  std::vector<Node> items;        // kList

  bool Empty() const {
    return (kind == Kind::kMap && entries.empty()) || (kind == Kind::kList && items.empty());
  }
};

struct Node::Field {
  std::string key;
  Node value;
};

Node Scalar(std::string written) {
  Node n;
  n.kind = Node::Kind::kScalar;
  n.scalar = std::move(written);
  return n;
}

Node List() {
  Node n;
  n.kind = Node::Kind::kList;
  return n;
}

Node Flow(const std::vector<std::string>& texts) {
  Node n;
  n.kind = Node::Kind::kFlowList;
  for (const std::string& t : texts) n.flow.push_back(YamlScalar(t));
  return n;
}

void Set(Node* map, std::string_view key, std::string written) {
  map->entries.push_back(Node::Field{std::string(key), Scalar(std::move(written))});
}

void SetText(Node* map, std::string_view key, std::string_view text) {
  Set(map, key, YamlScalar(text));
}

// Adds a mapping or list only when it holds something: an empty one reads back as null.
void SetNode(Node* map, std::string_view key, Node child) {
  if (child.Empty()) return;
  map->entries.push_back(Node::Field{std::string(key), std::move(child)});
}

std::string Bool(bool b) { return b ? "true" : "false"; }
std::string Number(uint64_t n) { return absl::StrCat(n); }

// "250ms", "5s", "2m", "1h" as the loader reads them; "0" for zero (where zero is allowed).
std::string Duration(uint64_t ms) {
  if (ms == 0) return "0";
  if (ms % 3'600'000 == 0) return absl::StrCat(ms / 3'600'000, "h");
  if (ms % 60'000 == 0) return absl::StrCat(ms / 60'000, "m");
  if (ms % 1'000 == 0) return absl::StrCat(ms / 1'000, "s");
  return absl::StrCat(ms, "ms");
}

// "8k", "1m", "2g", or a bare number of bytes.
std::string Size(uint64_t bytes) {
  constexpr uint64_t kK = 1024;
  if (bytes == 0) return "0";
  if (bytes % (kK * kK * kK) == 0) return absl::StrCat(bytes / (kK * kK * kK), "g");
  if (bytes % (kK * kK) == 0) return absl::StrCat(bytes / (kK * kK), "m");
  if (bytes % kK == 0) return absl::StrCat(bytes / kK, "k");
  return absl::StrCat(bytes);
}

bool IsHashing(Algorithm a) { return a == Algorithm::kMaglev || a == Algorithm::kKetama; }

std::string_view AlgorithmName(Algorithm a) {
  switch (a) {
    case Algorithm::kRoundRobin:
      return "round_robin";
    case Algorithm::kRandom:
      return "random";
    case Algorithm::kLeastRequest:
      return "least_request";
    case Algorithm::kP2cEwma:
      return "p2c_ewma";
    case Algorithm::kMaglev:
      return "maglev";
    case Algorithm::kKetama:
      return "ketama";
  }
  return "round_robin";
}

std::string_view HealthTypeName(HealthCheck::Type t) {
  switch (t) {
    case HealthCheck::Type::kTcp:
      return "tcp";
    case HealthCheck::Type::kHttp:
      return "http";
    case HealthCheck::Type::kGrpc:
      return "grpc";
  }
  return "tcp";
}

std::string_view StateName(BackendState s) {
  switch (s) {
    case BackendState::kReady:
      return "ready";
    case BackendState::kDrain:
      return "drain";
    case BackendState::kMaint:
      return "maint";
  }
  return "ready";
}

// The upstream a server or route is written with: an upstream ExpandTags made stands for the
// one it was made from (kNoUpstream for "every backend with the tag").
uint32_t WrittenUpstream(const Config& cfg, uint32_t index) {
  if (index >= cfg.upstreams.size()) return index;
  const Upstream& u = cfg.upstreams[index];
  if (!u.derived) return index;
  if (u.derived_from < 0 || static_cast<size_t>(u.derived_from) >= cfg.upstreams.size()) {
    return kNoUpstream;
  }
  return static_cast<uint32_t>(u.derived_from);
}

// --- global -------------------------------------------------------------------------------

Node LogNode(const Logging& log) {
  const Logging def;
  Node n;
  if (log.level != def.level) Set(&n, "level", std::string(LogLevelName(log.level)));
  if (log.format != def.format) {
    Set(&n, "format", log.format == LogFormat::kJson ? "json" : "text");
  }
  if (!log.access_log) {
    Set(&n, "access_log", "false");
  } else if (!log.access_log_path.empty()) {
    SetText(&n, "access_log", log.access_log_path);
  }
  return n;
}

Node TimeoutsNode(const Timeouts& t) {
  const Timeouts def;
  Node n;
  for (const internal::TimeoutField& f : internal::kTimeoutFields) {
    if (t.*f.member != def.*f.member) Set(&n, f.key, Duration(t.*f.member));
  }
  return n;
}

Node LimitsNode(const Limits& l) {
  const Limits def;
  Node n;
  if (l.max_request_line != def.max_request_line) {
    Set(&n, "max_request_line", Size(l.max_request_line));
  }
  if (l.max_header_size != def.max_header_size) {
    Set(&n, "max_header_size", Size(l.max_header_size));
  }
  if (l.max_headers != def.max_headers) Set(&n, "max_headers", Number(l.max_headers));
  if (l.max_body_size != def.max_body_size) Set(&n, "max_body_size", Size(l.max_body_size));
  if (l.max_connections != def.max_connections) {
    Set(&n, "max_connections", Number(l.max_connections));
  }
  return n;
}

Node BuffersNode(const Buffers& b) {
  const Buffers def;
  Node n;
  if (b.size != def.size) Set(&n, "size", Size(b.size));
  if (b.count != def.count) Set(&n, "count", Number(b.count));
  if (b.reserve != std::min(def.reserve, b.count)) Set(&n, "reserve", Number(b.reserve));
  if (b.splice != def.splice) Set(&n, "splice", b.splice == 0 ? "off" : Size(b.splice));
  if (b.splice_h2 != def.splice_h2) Set(&n, "splice_h2", Bool(b.splice_h2));
  return n;
}

Node Http2Node(const Http2& h) {
  const Http2 def;
  Node n;
  if (h.max_concurrent_streams != def.max_concurrent_streams) {
    Set(&n, "max_concurrent_streams", Number(h.max_concurrent_streams));
  }
  if (h.initial_window != def.initial_window) Set(&n, "initial_window", Size(h.initial_window));
  if (h.connection_window != def.connection_window) {
    Set(&n, "connection_window", Size(h.connection_window));
  }
  if (h.max_frame_size != def.max_frame_size) Set(&n, "max_frame_size", Size(h.max_frame_size));
  if (h.max_rapid_resets != def.max_rapid_resets) {
    Set(&n, "max_rapid_resets", Number(h.max_rapid_resets));
  }
  if (h.glitch_budget != def.glitch_budget) Set(&n, "glitch_budget", Number(h.glitch_budget));
  return n;
}

// The keys of `h` that differ from `base`: the defaults for global.health_check, and
// global.health_check's values for an upstream's own (which the loader starts from).
Node HealthNode(const HealthCheck& h, const HealthCheck& base) {
  Node n;
  if (h.enabled != base.enabled) Set(&n, "enabled", Bool(h.enabled));
  const bool path = h.path != base.path;
  // `path` alone makes the check HTTP: `type` is written when it says something else, or when
  // the type differs from the base and no `path` implies it.
  const bool implied = path && h.type == HealthCheck::Type::kHttp;
  if ((h.type != base.type && !implied) || (path && !implied)) {
    Set(&n, "type", std::string(HealthTypeName(h.type)));
  }
  if (path) SetText(&n, "path", h.path);
  if (h.method != base.method) SetText(&n, "method", h.method);
  if (h.host != base.host && !h.host.empty()) SetText(&n, "host", h.host);
  if (h.service != base.service) {
    Set(&n, "service", h.service.empty() ? std::string("\"\"") : YamlScalar(h.service));
  }
  if (h.expect_min != base.expect_min || h.expect_max != base.expect_max) {
    Set(&n, "expect",
        h.expect_min == h.expect_max
            ? Number(h.expect_min)
            : YamlScalar(absl::StrFormat("%d-%d", h.expect_min, h.expect_max)));
  }
  if (h.interval_ms != base.interval_ms) Set(&n, "interval", Duration(h.interval_ms));
  if (h.timeout_ms != base.timeout_ms) Set(&n, "timeout", Duration(h.timeout_ms));
  if (h.jitter_ms != base.jitter_ms) Set(&n, "jitter", Duration(h.jitter_ms));
  if (h.rise != base.rise) Set(&n, "rise", Number(h.rise));
  if (h.fall != base.fall) Set(&n, "fall", Number(h.fall));
  return n;
}

Node AdminNode(const Admin& a) {
  Node n;
  if (!a.bind.text.empty() && a.bind.text != "127.0.0.1:9901") SetText(&n, "bind", a.bind.text);
  if (!a.token.empty()) SetText(&n, "token", a.token);
  if (a.metrics_bind.len != 0 || !a.metrics_bind.text.empty()) {
    SetText(&n, "metrics_bind", a.metrics_bind.text);
  }
  return n;
}

Node GlobalNode(const Config& cfg) {
  Node g;
  if (cfg.workers != 0) Set(&g, "workers", Number(cfg.workers));
  SetNode(&g, "log", LogNode(cfg.logging));
  SetNode(&g, "timeouts", TimeoutsNode(cfg.timeouts));
  SetNode(&g, "limits", LimitsNode(cfg.limits));
  SetNode(&g, "buffers", BuffersNode(cfg.buffers));
  SetNode(&g, "http2", Http2Node(cfg.http2));
  if (!cfg.admin.enabled) {
    Set(&g, "admin", "off");
  } else {
    SetNode(&g, "admin", AdminNode(cfg.admin));
  }
  if (!cfg.metrics) Set(&g, "metrics", "false");
  if (cfg.watch_config) Set(&g, "watch_config", "true");
  if (!cfg.state_file.empty()) SetText(&g, "state_file", cfg.state_file);
  SetNode(&g, "health_check", HealthNode(cfg.default_health, HealthCheck{}));
  return g;
}

// --- listeners ----------------------------------------------------------------------------

Node CertificateNode(const TlsCertificate& c) {
  Node n;
  SetText(&n, "cert", c.cert);
  SetText(&n, "key", c.key);
  if (!c.server_names.empty()) SetNode(&n, "server_names", Flow(c.server_names));
  return n;
}

Node ListenerTlsNode(const ListenerTls& t) {
  const ListenerTls def;
  Node n;
  size_t listed = 0;  // certificates before this one are written inline
  // The inline cert/key is the default certificate; it cannot carry server_names.
  if (!t.certificates.empty() && t.certificates[0].server_names.empty()) {
    SetText(&n, "cert", t.certificates[0].cert);
    SetText(&n, "key", t.certificates[0].key);
    listed = 1;
  }
  Node list = List();
  for (size_t i = listed; i < t.certificates.size(); ++i) {
    list.items.push_back(CertificateNode(t.certificates[i]));
  }
  SetNode(&n, "certificates", std::move(list));
  if (t.self_signed) Set(&n, "self_signed", "true");
  if (!t.ca.empty()) {
    SetText(&n, "ca", t.ca);
    if (t.client_cert_optional) Set(&n, "client_certificate", "optional");
  }
  if (t.min_version != def.min_version) {
    Set(&n, "min_version", t.min_version == TlsVersion::k13 ? "\"1.3\"" : "\"1.2\"");
  }
  if (!t.ciphers.empty()) SetText(&n, "ciphers", t.ciphers);
  if (t.alpn_given) SetNode(&n, "alpn", Flow(t.alpn));
  if (t.session_tickets != def.session_tickets) {
    Set(&n, "session_tickets", Bool(t.session_tickets));
  }
  if (t.ticket_rotation_ms != def.ticket_rotation_ms) {
    Set(&n, "ticket_rotation", Duration(t.ticket_rotation_ms));
  }
  return n;
}

Node ListenerNode(const Config& cfg, const Listener& l) {
  const Listener def;
  Node n;
  SetText(&n, "name", l.name);
  SetText(&n, "bind", l.bind.text);
  if (!l.servers.empty()) {
    std::vector<std::string> names;
    for (uint32_t s : l.servers) {
      if (s < cfg.servers.size()) names.push_back(cfg.servers[s].name);
    }
    SetNode(&n, "servers", Flow(names));
  }
  if (l.http2 != def.http2) Set(&n, "http2", Bool(l.http2));
  if (l.h2c != def.h2c) Set(&n, "h2c", Bool(l.h2c));
  if (l.underscores_in_headers != def.underscores_in_headers) {
    Set(&n, "underscores_in_headers", Bool(l.underscores_in_headers));
  }
  if (l.tls.enabled || l.tls.self_signed) {
    Node tls = ListenerTlsNode(l.tls);
    if (tls.Empty()) {
      Set(&n, "tls", "{}");
    } else {
      SetNode(&n, "tls", std::move(tls));
    }
  }
  return n;
}

// --- servers ------------------------------------------------------------------------------

Node RouteNode(const Config& cfg, const Route& r) {
  Node n;
  SetText(&n, "path", r.path_prefix);
  uint32_t u = WrittenUpstream(cfg, r.upstream);
  if (u < cfg.upstreams.size()) SetText(&n, "upstream", cfg.upstreams[u].name);
  if (r.tries != 0) Set(&n, "tries", Number(r.tries));
  if (!r.backends_tag.empty()) SetText(&n, "enabled_backends_tag", r.backends_tag);
  return n;
}

Node ServerNode(const Config& cfg, const Server& s) {
  Node n;
  SetText(&n, "name", s.name);
  if (!s.server_names.empty()) SetNode(&n, "server_name", Flow(s.server_names));
  uint32_t u = WrittenUpstream(cfg, s.upstream);
  if (u < cfg.upstreams.size()) SetText(&n, "upstream", cfg.upstreams[u].name);
  if (!s.backends_tag.empty()) SetText(&n, "enabled_backends_tag", s.backends_tag);
  if (s.default_server) Set(&n, "default", "true");
  if (s.tls) Set(&n, "tls", "true");
  if (s.redirect_https) Set(&n, "redirect_https", "true");
  if (!s.hsts.empty()) SetText(&n, "hsts", s.hsts);
  Node routes = List();
  for (const Route& r : s.routes) routes.items.push_back(RouteNode(cfg, r));
  SetNode(&n, "routes", std::move(routes));
  return n;
}

// --- upstreams ----------------------------------------------------------------------------

Node BackendNode(const Upstream& u, const Backend& b) {
  const Backend def;
  const std::string default_id = absl::StrCat(u.name, "-", b.address.text);
  const bool plain = b.weight == def.weight && b.health_check_path.empty() &&
                     (b.id.empty() || b.id == default_id) && b.tags.empty() && b.state == def.state;
  if (plain) return Scalar(YamlScalar(b.address.text));
  Node n;
  SetText(&n, "address", b.address.text);
  if (b.weight != def.weight) Set(&n, "weight", Number(b.weight));
  if (!b.health_check_path.empty()) SetText(&n, "health_check_path", b.health_check_path);
  if (!b.id.empty() && b.id != default_id) SetText(&n, "id", b.id);
  if (!b.tags.empty()) SetNode(&n, "tags", Flow(b.tags));
  if (b.state != def.state) Set(&n, "state", std::string(StateName(b.state)));
  return n;
}

Node UpstreamTlsNode(const UpstreamTls& t) {
  const UpstreamTls def;
  Node n;
  if (t.verify != def.verify) Set(&n, "verify", Bool(t.verify));
  if (!t.ca.empty()) SetText(&n, "ca", t.ca);
  if (!t.server_name.empty()) SetText(&n, "server_name", t.server_name);
  return n;
}

Node PassiveNode(const PassiveHealth& p) {
  const PassiveHealth def;
  Node n;
  if (p.consecutive_failures != def.consecutive_failures) {
    Set(&n, "consecutive_failures", Number(p.consecutive_failures));
  }
  if (p.on_connect_failure != def.on_connect_failure || p.on_reset != def.on_reset ||
      p.statuses != def.statuses) {
    std::vector<std::string> on;
    if (p.on_connect_failure) on.emplace_back("connect_failure");
    if (p.on_reset) on.emplace_back("reset");
    for (uint16_t s : p.statuses) on.push_back(Number(s));
    // An empty list is refused; nothing counting is written as consecutive_failures: 0.
    if (on.empty()) {
      if (p.consecutive_failures != 0) Set(&n, "consecutive_failures", "0");
    } else {
      Node flow;
      flow.kind = Node::Kind::kFlowList;
      flow.flow = std::move(on);
      SetNode(&n, "on", std::move(flow));
    }
  }
  if (p.base_ejection_ms != def.base_ejection_ms) {
    Set(&n, "base_ejection", Duration(p.base_ejection_ms));
  }
  if (p.max_ejection_ms != def.max_ejection_ms) {
    Set(&n, "max_ejection", Duration(p.max_ejection_ms));
  }
  return n;
}

Node RetryNode(const Retry& r) {
  const Retry def;
  Node n;
  if (r.tries != def.tries) Set(&n, "tries", Number(r.tries));
  if (r.budget_percent != def.budget_percent) {
    Set(&n, "budget", absl::StrCat(r.budget_percent, "%"));
  }
  if (r.min_retries != def.min_retries) Set(&n, "min_retries", Number(r.min_retries));
  return n;
}

Node UpstreamNode(const Config& cfg, const Upstream& u) {
  const Upstream def;
  Node n;
  SetText(&n, "name", u.name);
  Node backends = List();
  for (const Backend& b : u.backends) backends.items.push_back(BackendNode(u, b));
  if (backends.Empty()) {
    Set(&n, "servers", "[]");
  } else {
    n.entries.push_back(Node::Field{"servers", std::move(backends)});
  }
  if (u.keepalive != def.keepalive) Set(&n, "keepalive", Number(u.keepalive));
  if (u.algorithm != def.algorithm) Set(&n, "algorithm", std::string(AlgorithmName(u.algorithm)));
  if (IsHashing(u.algorithm) && u.hash_key.source != HashKey::Source::kClientIp) {
    std::string_view prefix = u.hash_key.source == HashKey::Source::kHeader ? "header" : "cookie";
    SetText(&n, "hash_on", std::string(prefix) + ":" + u.hash_key.name);
  }
  if (u.sticky.enabled) {
    const Sticky sdef;
    if (u.sticky.cookie == sdef.cookie && u.sticky.ttl_s == sdef.ttl_s) {
      Set(&n, "sticky", "true");
    } else {
      Node s;
      if (u.sticky.cookie != sdef.cookie) SetText(&s, "cookie", u.sticky.cookie);
      if (u.sticky.ttl_s != sdef.ttl_s) Set(&s, "ttl", Duration(uint64_t{u.sticky.ttl_s} * 1000));
      SetNode(&n, "sticky", std::move(s));
    }
  }
  if (u.slow_start_ms != def.slow_start_ms) Set(&n, "slow_start", Duration(u.slow_start_ms));
  // A server's tls: true turns TLS on for its upstreams as it loads; written here as well, the
  // text loads to the same whether or not the server's flag is read first.
  if (u.tls.enabled) {
    Node t = UpstreamTlsNode(u.tls);
    if (t.Empty()) {
      Set(&n, "tls", "true");
    } else {
      SetNode(&n, "tls", std::move(t));
    }
  }
  if (u.protocol != def.protocol) {
    Set(&n, "protocol", u.protocol == UpstreamProtocol::kH2 ? "h2" : "h2c");
    Node ping;
    if (u.ping_interval_ms != def.ping_interval_ms) {
      Set(&ping, "interval", Duration(u.ping_interval_ms));
    }
    if (u.ping_timeout_ms != def.ping_timeout_ms) {
      Set(&ping, "timeout", Duration(u.ping_timeout_ms));
    }
    SetNode(&n, "keepalive_ping", std::move(ping));
  }
  SetNode(&n, "health_check", HealthNode(u.health, cfg.default_health));
  SetNode(&n, "passive_health", PassiveNode(u.passive));
  SetNode(&n, "retry", RetryNode(u.retry));
  return n;
}

// --- text ---------------------------------------------------------------------------------

// Writes nodes as block YAML, two spaces a level, with each origin's note as a comment above
// the key or list item its path names.
class Writer {
 public:
  explicit Writer(const std::vector<Origin>& origins) : origins_(origins) {
    for (size_t i = 0; i < origins.size(); ++i) notes_[origins[i].path].push_back(i);
  }

  void Map(const Node& map, const std::string& path, int indent) {
    for (const auto& [key, value] : map.entries) {
      std::string p = Join(path, key);
      Comments(p, indent);
      Entry(std::string(indent, ' '), key, value, p, indent);
    }
  }

  void List(const Node& list, const std::string& path, int indent) {
    const std::string dash = std::string(indent, ' ') + "- ";
    for (size_t i = 0; i < list.items.size(); ++i) {
      const Node& item = list.items[i];
      std::string p = absl::StrCat(path, "[", i, "]");
      Comments(p, indent);
      switch (item.kind) {
        case Node::Kind::kScalar:
          out_ += dash + item.scalar + "\n";
          break;
        case Node::Kind::kFlowList:
          out_ += dash + FlowText(item) + "\n";
          break;
        case Node::Kind::kList:
          out_ += std::string(indent, ' ') + "-\n";
          List(item, p, indent + 2);
          break;
        case Node::Kind::kMap: {
          if (item.entries.empty()) {
            out_ += dash + "{}\n";
            break;
          }
          // The first key shares the line with the dash; a comment for it goes above both.
          const auto& [key, value] = item.entries[0];
          std::string first = Join(p, key);
          Comments(first, indent);
          Entry(dash, key, value, first, indent + 2);
          for (size_t e = 1; e < item.entries.size(); ++e) {
            const auto& [k, v] = item.entries[e];
            std::string ep = Join(p, k);
            Comments(ep, indent + 2);
            Entry(std::string(indent + 2, ' '), k, v, ep, indent + 2);
          }
          break;
        }
      }
    }
  }

  void Line(std::string_view text) {
    out_ += text;
    out_ += "\n";
  }

  // Notes whose paths name nothing that was printed (a section left at its defaults).
  std::vector<std::pair<std::string, size_t>> Unused() const {
    std::vector<std::pair<std::string, size_t>> left;
    for (const auto& [path, indexes] : notes_) {
      if (used_.count(path) != 0) continue;
      for (size_t i : indexes) left.emplace_back(path, i);
    }
    std::sort(left.begin(), left.end(),
              [](const auto& a, const auto& b) { return a.second < b.second; });
    return left;
  }

  const std::string& text() const { return out_; }

  // "# from NOTE", then `tail`; a note of several lines continues on "#   " lines.
  static std::string CommentLines(std::string_view note, int indent, std::string_view tail = {}) {
    std::string out;
    std::string pad(indent, ' ');
    for (size_t start = 0;;) {
      size_t end = note.find('\n', start);
      std::string_view line = note.substr(start, end == std::string_view::npos ? end : end - start);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      out += pad;
      out += start == 0 ? "# from " : "#   ";
      out += line;
      if (end == std::string_view::npos) break;
      out += "\n";
      start = end + 1;
    }
    out += tail;
    out += "\n";
    return out;
  }

 private:
  static std::string Join(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : path + "." + std::string(key);
  }

  static std::string FlowText(const Node& n) {
    return absl::StrCat("[", absl::StrJoin(n.flow, ", "), "]");
  }

  // `lead` is what comes before the key on its line: indentation, or indentation and a dash.
  void Entry(const std::string& lead, const std::string& key, const Node& value,
             const std::string& path, int indent) {
    // Keys are the schema's own words, written as the reference writes them (`on:` too).
    std::string line = lead + key + ":";
    switch (value.kind) {
      case Node::Kind::kScalar:
        absl::StrAppend(&out_, line, " ", value.scalar, "\n");
        break;
      case Node::Kind::kFlowList:
        absl::StrAppend(&out_, line, " ", FlowText(value), "\n");
        break;
      case Node::Kind::kMap:
        absl::StrAppend(&out_, line, "\n");
        Map(value, path, indent + 2);
        break;
      case Node::Kind::kList:
        absl::StrAppend(&out_, line, "\n");
        List(value, path, indent + 2);
        break;
    }
  }

  void Comments(const std::string& path, int indent) {
    auto it = notes_.find(path);
    if (it == notes_.end()) return;
    used_.insert(path);
    for (size_t i : it->second) out_ += CommentLines(origins_[i].note, indent);
  }

 private:
  const std::vector<Origin>& origins_;
  std::map<std::string, std::vector<size_t>> notes_;  // path -> indexes into origins_
  std::set<std::string> used_;
  std::string out_;
};

// A source path on one comment line.
std::string OneLine(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return out;
}

bool IsPlainChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '/' || c == '-';
}

}  // namespace

std::string YamlScalar(std::string_view text) {
  // Plain when it is made of characters that mean nothing to YAML in block or flow context,
  // starts with a letter, '/' or '_' (so never a number, a date, ".inf" or an indicator), and
  // is not a word that YAML reads as null or a boolean.
  bool plain = !text.empty() && std::all_of(text.begin(), text.end(), IsPlainChar);
  if (plain) {
    char c = text[0];
    plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '/' || c == '_';
  }
  if (plain) {
    std::string lower(text);
    for (char& c : lower) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    static constexpr std::string_view kWords[] = {"null", "true", "false", "yes", "no",
                                                  "on",   "off",  "y",     "n"};
    plain = std::find(std::begin(kWords), std::end(kWords), lower) == std::end(kWords);
  }
  if (plain) return std::string(text);
  std::string out = "\"";
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    switch (ch) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          absl::StrAppendFormat(&out, "\\x%02x", c);
        } else {
          out += ch;
        }
    }
  }
  out += "\"";
  return out;
}

std::string PrintYaml(const Config& cfg) {
  Writer w(cfg.origins);

  Node global = GlobalNode(cfg);
  if (!global.Empty()) {
    Node root;
    root.entries.push_back(Node::Field{"global", std::move(global)});
    w.Map(root, "", 0);
    w.Line("");
  }

  Node listeners = List();
  for (const Listener& l : cfg.listeners) listeners.items.push_back(ListenerNode(cfg, l));
  if (listeners.Empty()) {
    w.Line("listeners: []");
  } else {
    Node root;
    root.entries.push_back(Node::Field{"listeners", std::move(listeners)});
    w.Map(root, "", 0);
  }

  if (!cfg.servers.empty()) {
    Node servers = List();
    for (const Server& s : cfg.servers) servers.items.push_back(ServerNode(cfg, s));
    Node root;
    root.entries.push_back(Node::Field{"servers", std::move(servers)});
    w.Line("");
    w.Map(root, "", 0);
  }

  // Upstreams ExpandTags made are not written: loading the text makes them again. They follow
  // the real ones, so the index of each real upstream is its index in the text.
  Node upstreams = List();
  for (const Upstream& u : cfg.upstreams) {
    if (!u.derived) upstreams.items.push_back(UpstreamNode(cfg, u));
  }
  if (!upstreams.Empty()) {
    Node root;
    root.entries.push_back(Node::Field{"upstreams", std::move(upstreams)});
    w.Line("");
    w.Map(root, "", 0);
  }

  std::string out = "# ringway configuration, native schema\n";
  if (!cfg.source.empty()) {
    absl::StrAppend(&out, cfg.shape != Shape::kNative ? "# converted from " : "# from ",
                    OneLine(cfg.source), "\n");
  }
  // Notes for parts that print nothing (all at their defaults) go in the header.
  for (const auto& [path, index] : w.Unused()) {
    out += Writer::CommentLines(cfg.origins[index].note, 0,
                                absl::StrCat(" (", OneLine(path), ": the defaults)"));
  }
  out += w.text();
  return out;
}

}  // namespace ringway::config
