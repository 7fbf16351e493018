// The `global` section: workers, global.port (its listener is made in listeners.cc), logging,
// timeouts, limits, buffers, and the health-check defaults every upstream starts from.
#include "config/loader.h"

#include <limits>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/match.h"

namespace ringway::config::internal {
namespace {

bool IsPowerOfTwo(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

// A switch written as a YAML boolean or as the word on/off (also quoted, as a string); nullopt
// for anything else.
std::optional<bool> OnOff(const YamlNode& n) {
  if (n.kind == Kind::kBool) return n.BoolValue();
  if (n.kind != Kind::kString) return std::nullopt;
  if (absl::EqualsIgnoreCase(n.text, "on")) return true;
  if (absl::EqualsIgnoreCase(n.text, "off")) return false;
  return std::nullopt;
}

}  // namespace

absl::Status Loader::LoadGlobal(const YamlNode& global) {
  CONFIG_RETURN_IF_ERROR(ExpectMapping(global, "'global'"));
  CONFIG_RETURN_IF_ERROR(RefuseSeedKeys(global, "global"));
  CONFIG_RETURN_IF_ERROR(CheckKeys(
      global,
      {"port", "workers", "tls", "log", "timeouts", "limits", "buffers", "health_check",
       "underscores_in_headers", "http2", "admin", "metrics", "watch_config", "state_file"},
      "global"));
  if (const YamlNode* port = global.Find("port")) {
    absl::StatusOr<int64_t> n = Integer(*port, Where("port", "global"), 1, 65535);
    if (!n.ok()) return n.status();
    global_port_ = port;
  }
  if (const YamlNode* workers = global.Find("workers")) {
    if (workers->kind == Kind::kString && workers->text == "auto") {
      cfg_.workers = 0;
    } else if (workers->kind == Kind::kInt) {
      absl::StatusOr<int64_t> n = Integer(*workers, Where("workers", "global"), 1, 1024);
      if (!n.ok()) return n.status();
      cfg_.workers = static_cast<uint32_t>(*n);
    } else {
      return TypeError(*workers, Where("workers", "global"),
                       "an integer from 1 to 1024 or \"auto\"",
                       "write workers: auto for one worker per CPU");
    }
  }
  if (const YamlNode* u = global.Find("underscores_in_headers")) {
    absl::StatusOr<bool> v = Bool(*u, Where("underscores_in_headers", "global"));
    if (!v.ok()) return v.status();
    global_underscores_in_headers_ = *v;
  }
  if (const YamlNode* tls = global.Find("tls")) CONFIG_RETURN_IF_ERROR(LoadGlobalTls(*tls));
  if (const YamlNode* log = global.Find("log")) CONFIG_RETURN_IF_ERROR(LoadLog(*log));
  if (const YamlNode* t = global.Find("timeouts")) CONFIG_RETURN_IF_ERROR(LoadTimeouts(*t));
  if (const YamlNode* limits = global.Find("limits")) CONFIG_RETURN_IF_ERROR(LoadLimits(*limits));
  if (const YamlNode* b = global.Find("buffers")) CONFIG_RETURN_IF_ERROR(LoadBuffers(*b));
  if (const YamlNode* h = global.Find("http2")) CONFIG_RETURN_IF_ERROR(LoadHttp2(*h));
  if (const YamlNode* a = global.Find("admin")) CONFIG_RETURN_IF_ERROR(LoadAdmin(*a));
  if (const YamlNode* f = global.Find("state_file")) {
    absl::StatusOr<std::string> v = String(*f, Where("state_file", "global"));
    if (!v.ok()) return v.status();
    if (v->empty()) {
      return Error(*f,
                   "global.state_file is empty; name a file ringway may write, such as "
                   "/var/lib/ringway/state.json");
    }
    cfg_.state_file = *v;
  }
  for (auto [key, out] : {std::pair<const char*, bool*>{"metrics", &cfg_.metrics},
                          std::pair<const char*, bool*>{"watch_config", &cfg_.watch_config}}) {
    if (const YamlNode* n = global.Find(key)) {
      absl::StatusOr<bool> v = Bool(*n, Where(key, "global"));
      if (!v.ok()) return v.status();
      *out = *v;
    }
  }
  if (const YamlNode* health = global.Find("health_check")) {
    CONFIG_RETURN_IF_ERROR(ExpectMapping(*health, Where("health_check", "global")));
    const YamlNode* type_node = nullptr;
    CONFIG_RETURN_IF_ERROR(LoadHealthCheck(*health, "global.health_check", &global_health_,
                                           &global_health_origins_, &type_node));
  }
  return absl::OkStatus();
}

absl::Status Loader::LoadLog(const YamlNode& log) {
  CONFIG_RETURN_IF_ERROR(ExpectMapping(log, Where("log", "global")));
  CONFIG_RETURN_IF_ERROR(CheckKeys(log, {"level", "format", "access_log"}, "global.log"));
  if (const YamlNode* level = log.Find("level")) {
    static constexpr std::pair<std::string_view, LogLevel> kLevels[] = {
        {"debug", LogLevel::kDebug},
        {"info", LogLevel::kInfo},
        {"warn", LogLevel::kWarn},
        {"error", LogLevel::kError}};
    absl::StatusOr<std::string> text = String(*level, Where("level", "global.log"));
    if (!text.ok()) return text.status();
    bool found = false;
    for (const auto& [word, value] : kLevels) {
      if (*text == word) {
        cfg_.logging.level = value;
        found = true;
      }
    }
    if (!found) {
      return Error(*level, absl::StrFormat("log level '%s' is not known; use one of 'debug', "
                                           "'info', 'warn', 'error'",
                                           *text));
    }
  }
  if (const YamlNode* format = log.Find("format")) {
    absl::StatusOr<std::string> text = String(*format, Where("format", "global.log"));
    if (!text.ok()) return text.status();
    if (*text == "text") {
      cfg_.logging.format = LogFormat::kText;
    } else if (*text == "json") {
      cfg_.logging.format = LogFormat::kJson;
    } else {
      return Error(*format,
                   absl::StrFormat("log format '%s' is not known; use 'text' or 'json'", *text));
    }
  }
  if (const YamlNode* access = log.Find("access_log")) {
    if (access->kind == Kind::kBool) {
      cfg_.logging.access_log = access->BoolValue();
      cfg_.logging.access_log_path.clear();
    } else if (access->kind == Kind::kString && !access->text.empty()) {
      cfg_.logging.access_log = true;
      cfg_.logging.access_log_path = access->text;
    } else {
      return TypeError(
          *access, Where("access_log", "global.log"), "true, false or a file path",
          "write access_log: true (stdout), false, or \"/var/log/ringway/access.log\"");
    }
  }
  return absl::OkStatus();
}

absl::Status Loader::LoadTimeouts(const YamlNode& timeouts) {
  CONFIG_RETURN_IF_ERROR(ExpectMapping(timeouts, Where("timeouts", "global")));
  CONFIG_RETURN_IF_ERROR(CheckKeys(timeouts,
                                   {"client_header", "client_body", "client_send", "keepalive",
                                    "upstream_connect", "upstream_response", "shutdown", "tunnel"},
                                   "global.timeouts"));
  for (const TimeoutField& field : kTimeoutFields) {
    const YamlNode* node = timeouts.Find(field.key);
    if (node == nullptr) continue;
    absl::StatusOr<uint32_t> ms = Duration(*node, Where(field.key, "global.timeouts"));
    if (!ms.ok()) return ms.status();
    cfg_.timeouts.*field.member = *ms;
  }
  return absl::OkStatus();
}

absl::Status Loader::LoadLimits(const YamlNode& limits) {
  CONFIG_RETURN_IF_ERROR(ExpectMapping(limits, Where("limits", "global")));
  CONFIG_RETURN_IF_ERROR(CheckKeys(
      limits,
      {"max_request_line", "max_header_size", "max_headers", "max_body_size", "max_connections"},
      "global.limits"));
  constexpr std::string_view kWhere = "global.limits";
  if (const YamlNode* n = limits.Find("max_request_line")) {
    absl::StatusOr<uint64_t> v = Size(*n, Where("max_request_line", kWhere), 256, 1 << 20);
    if (!v.ok()) return v.status();
    cfg_.limits.max_request_line = static_cast<uint32_t>(*v);
  }
  if (const YamlNode* n = limits.Find("max_header_size")) {
    absl::StatusOr<uint64_t> v = Size(*n, Where("max_header_size", kWhere), 1 << 10, 1 << 20);
    if (!v.ok()) return v.status();
    cfg_.limits.max_header_size = static_cast<uint32_t>(*v);
  }
  if (const YamlNode* n = limits.Find("max_headers")) {
    absl::StatusOr<int64_t> v = Integer(*n, Where("max_headers", kWhere), 1, 10'000);
    if (!v.ok()) return v.status();
    cfg_.limits.max_headers = static_cast<uint32_t>(*v);
  }
  if (const YamlNode* n = limits.Find("max_body_size")) {
    absl::StatusOr<uint64_t> v =
        Size(*n, Where("max_body_size", kWhere), 0, std::numeric_limits<uint64_t>::max());
    if (!v.ok()) return v.status();
    cfg_.limits.max_body_size = *v;
  }
  if (const YamlNode* n = limits.Find("max_connections")) {
    absl::StatusOr<int64_t> v = Integer(*n, Where("max_connections", kWhere), 1, 1'000'000);
    if (!v.ok()) return v.status();
    cfg_.limits.max_connections = static_cast<uint32_t>(*v);
  }
  return absl::OkStatus();
}

absl::Status Loader::LoadBuffers(const YamlNode& buffers) {
  CONFIG_RETURN_IF_ERROR(ExpectMapping(buffers, Where("buffers", "global")));
  CONFIG_RETURN_IF_ERROR(
      CheckKeys(buffers, {"size", "count", "reserve", "splice", "splice_h2"}, "global.buffers"));
  if (const YamlNode* n = buffers.Find("size")) {
    absl::StatusOr<uint64_t> v = Size(*n, Where("size", "global.buffers"), 4 << 10, 1 << 20);
    if (!v.ok()) return v.status();
    if (!IsPowerOfTwo(*v)) {
      return Error(*n, absl::StrFormat("'size' in global.buffers is %s (%d bytes), not a power "
                                       "of two; use 4k, 8k, 16k, 32k, 64k ... 1m",
                                       n->text, *v));
    }
    cfg_.buffers.size = static_cast<uint32_t>(*v);
  }
  if (const YamlNode* n = buffers.Find("count")) {
    absl::StatusOr<int64_t> v = Integer(*n, Where("count", "global.buffers"), 16, 32768);
    if (!v.ok()) return v.status();
    if (!IsPowerOfTwo(static_cast<uint64_t>(*v))) {
      return Error(*n, absl::StrFormat("'count' in global.buffers is %d, not a power of two; use "
                                       "16, 32, 64 ... 32768",
                                       *v));
    }
    cfg_.buffers.count = static_cast<uint32_t>(*v);
  }
  if (const YamlNode* n = buffers.Find("reserve")) {
    absl::StatusOr<int64_t> v = Integer(*n, Where("reserve", "global.buffers"), 1, 32768);
    if (!v.ok()) return v.status();
    if (*v > cfg_.buffers.count) {
      return Error(*n, absl::StrFormat("'reserve' in global.buffers is %d, more than 'count' "
                                       "(%d); use at most %d, or raise 'count'",
                                       *v, cfg_.buffers.count, cfg_.buffers.count));
    }
    cfg_.buffers.reserve = static_cast<uint32_t>(*v);
  } else {
    cfg_.buffers.reserve = std::min(cfg_.buffers.reserve, cfg_.buffers.count);
  }
  if (const YamlNode* n = buffers.Find("splice")) {
    // off: never; on: the default threshold.
    if (const std::optional<bool> on = OnOff(*n)) {
      cfg_.buffers.splice = *on ? Buffers{}.splice : 0;
    } else {
      absl::StatusOr<uint64_t> v = Size(*n, Where("splice", "global.buffers"), 0, 1ull << 30);
      if (!v.ok()) return v.status();
      cfg_.buffers.splice = *v;
    }
  }
  if (const YamlNode* n = buffers.Find("splice_h2")) {
    if (const std::optional<bool> on = OnOff(*n)) {
      cfg_.buffers.splice_h2 = *on;
    } else {
      absl::StatusOr<bool> v = Bool(*n, Where("splice_h2", "global.buffers"));
      if (!v.ok()) return v.status();
      cfg_.buffers.splice_h2 = *v;
    }
  }
  return absl::OkStatus();
}

// global.admin: {bind, token, metrics_bind}, or `admin: off`. A bind other machines can reach
// needs a token; metrics_bind does not (it serves only read-only pages).
absl::Status Loader::LoadAdmin(const YamlNode& admin) {
  const std::string where = "global.admin";
  if (admin.kind != Kind::kMapping) {
    absl::StatusOr<bool> on = Bool(admin, Where("admin", "global"));
    if (!on.ok() || *on) {
      return TypeError(admin, Where("admin", "global"), "a mapping {bind, token} or off",
                       "write admin: {bind: \"127.0.0.1:9901\"} or admin: off");
    }
    cfg_.admin.enabled = false;
    return absl::OkStatus();
  }
  CONFIG_RETURN_IF_ERROR(CheckKeys(admin, {"bind", "token", "metrics_bind"}, where));
  cfg_.admin.at = At(admin.mark);
  if (const YamlNode* b = admin.Find("bind")) {
    absl::StatusOr<SocketAddress> bind = Address(*b, Where("bind", where));
    if (!bind.ok()) return bind.status();
    cfg_.admin.bind = *std::move(bind);
  }
  if (const YamlNode* t = admin.Find("token")) {
    absl::StatusOr<std::string> token = String(*t, Where("token", where));
    if (!token.ok()) return token.status();
    if (token->size() < 16) {
      return Error(*t, absl::StrFormat("%s is %zu characters; use at least 16 random ones "
                                       "(openssl rand -hex 16)",
                                       Where("token", where), token->size()));
    }
    cfg_.admin.token = *std::move(token);
  }
  if (!IsLoopback(cfg_.admin.bind) && cfg_.admin.token.empty()) {
    const YamlNode* b = admin.Find("bind");
    return Error(b ? *b : admin,
                 absl::StrFormat("%s %s can be reached from other machines, and no token is set: "
                                 "set global.admin.token (openssl rand -hex 16), or bind "
                                 "127.0.0.1",
                                 Where("bind", where), cfg_.admin.bind.text));
  }
  if (const YamlNode* m = admin.Find("metrics_bind")) {
    absl::StatusOr<SocketAddress> metrics = Address(*m, Where("metrics_bind", where));
    if (!metrics.ok()) return metrics.status();
    // The admin socket is bound first; the same address (or the same port on the wildcard
    // address of the same family) could not be bound again.
    const SocketAddress& a = cfg_.admin.bind;
    bool clash = metrics->text == a.text;
    if (!clash && metrics->storage.ss_family == a.storage.ss_family) {
      if (a.storage.ss_family == AF_INET) {
        const auto* x = reinterpret_cast<const sockaddr_in*>(&metrics->storage);
        const auto* y = reinterpret_cast<const sockaddr_in*>(&a.storage);
        clash = x->sin_port == y->sin_port && (x->sin_addr.s_addr == htonl(INADDR_ANY) ||
                                               y->sin_addr.s_addr == htonl(INADDR_ANY));
      } else if (a.storage.ss_family == AF_INET6) {
        const auto* x = reinterpret_cast<const sockaddr_in6*>(&metrics->storage);
        const auto* y = reinterpret_cast<const sockaddr_in6*>(&a.storage);
        clash = x->sin6_port == y->sin6_port &&
                (IN6_IS_ADDR_UNSPECIFIED(&x->sin6_addr) || IN6_IS_ADDR_UNSPECIFIED(&y->sin6_addr));
      }
    }
    if (clash) {
      const YamlNode* b = admin.Find("bind");
      std::string bind_at =
          b ? absl::StrFormat(" (line %d, column %d)", b->mark.line, b->mark.column)
            : " (its default)";
      return Error(*m, absl::StrFormat("global.admin.metrics_bind %s takes the address of "
                                       "global.admin.bind %s%s; give the metrics listener an "
                                       "address of its own, such as another port",
                                       metrics->text, a.text, bind_at));
    }
    cfg_.admin.metrics_bind = *std::move(metrics);
  }
  return absl::OkStatus();
}

absl::Status Loader::LoadHttp2(const YamlNode& h2) {
  const std::string where = "global.http2";
  CONFIG_RETURN_IF_ERROR(ExpectMapping(h2, Where("http2", "global")));
  CONFIG_RETURN_IF_ERROR(CheckKeys(h2,
                                   {"max_concurrent_streams", "initial_window", "connection_window",
                                    "max_frame_size", "max_rapid_resets", "glitch_budget"},
                                   where));
  Http2& out = cfg_.http2;
  if (const YamlNode* n = h2.Find("max_concurrent_streams")) {
    absl::StatusOr<int64_t> v = Integer(*n, Where("max_concurrent_streams", where), 1, 10000);
    if (!v.ok()) return v.status();
    out.max_concurrent_streams = static_cast<uint32_t>(*v);
  }
  // Windows: at least one frame; at most what RFC 9113 allows (2^31-1).
  if (const YamlNode* n = h2.Find("initial_window")) {
    absl::StatusOr<uint64_t> v = Size(*n, Where("initial_window", where), 16384, 2147483647);
    if (!v.ok()) return v.status();
    out.initial_window = static_cast<uint32_t>(*v);
  }
  if (const YamlNode* n = h2.Find("connection_window")) {
    absl::StatusOr<uint64_t> v = Size(*n, Where("connection_window", where), 65535, 2147483647);
    if (!v.ok()) return v.status();
    out.connection_window = static_cast<uint32_t>(*v);
  }
  if (const YamlNode* n = h2.Find("max_frame_size")) {
    absl::StatusOr<uint64_t> v = Size(*n, Where("max_frame_size", where), 16384, 16777215);
    if (!v.ok()) return v.status();
    out.max_frame_size = static_cast<uint32_t>(*v);
  }
  if (const YamlNode* n = h2.Find("max_rapid_resets")) {
    absl::StatusOr<int64_t> v = Integer(*n, Where("max_rapid_resets", where), 1, 1000000);
    if (!v.ok()) return v.status();
    out.max_rapid_resets = static_cast<uint32_t>(*v);
  }
  if (const YamlNode* n = h2.Find("glitch_budget")) {
    absl::StatusOr<int64_t> v = Integer(*n, Where("glitch_budget", where), 1, 1000000);
    if (!v.ok()) return v.status();
    out.glitch_budget = static_cast<uint32_t>(*v);
  }
  return absl::OkStatus();
}

}  // namespace ringway::config::internal
