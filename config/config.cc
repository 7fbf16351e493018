// Loader: walks the YAML tree (yaml_node.h) against the schema in docs/configuration.md, fills
// the structs of config.h, and cross-checks references and duplicates. The first problem found
// is returned as "FILE:LINE:COL: what is wrong; what to change".
#include "config/config.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "config/units.h"
#include "config/yaml_node.h"

namespace ringway::config {
namespace {

#define CONFIG_RETURN_IF_ERROR(expr)                    \
  do {                                                  \
    if (absl::Status status_ = (expr); !status_.ok()) { \
      return status_;                                   \
    }                                                   \
  } while (0)

using Kind = YamlNode::Kind;
using Keys = std::initializer_list<std::string_view>;

constexpr size_t kMaxFileBytes = 16 << 20;

// Optimal string alignment distance: edits, with a swap of neighbours counting as one.
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// The candidate within two edits of `word` (and closer than rewriting it whole), or "".
template <typename Range>
std::string Closest(std::string_view word, const Range& candidates) {
  std::string best;
  size_t best_distance = 3;
  for (const auto& candidate : candidates) {
    size_t d = EditDistance(word, candidate);
    if (d < best_distance && d < word.size()) {
      best_distance = d;
      best = std::string(candidate);
    }
  }
  return best;
}

std::string Quoted(const std::vector<std::string>& names) {
  std::vector<std::string> q;
  q.reserve(names.size());
  for (const std::string& n : names) q.push_back("'" + n + "'");
  return absl::StrJoin(q, ", ");
}

std::string Where(std::string_view key, std::string_view where) {
  return absl::StrFormat("'%s' in %s", key, where);
}

std::string SizeText(uint64_t bytes) {
  if (bytes >= (1u << 20) && bytes % (1u << 20) == 0) return absl::StrFormat("%dm", bytes >> 20);
  if (bytes >= (1u << 10) && bytes % (1u << 10) == 0) return absl::StrFormat("%dk", bytes >> 10);
  return absl::StrFormat("%d", bytes);
}

bool IsPowerOfTwo(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

std::string DurationText(uint64_t ms) {
  if (ms == 0) return "0";
  if (ms % 3'600'000 == 0) return absl::StrFormat("%dh", ms / 3'600'000);
  if (ms % 60'000 == 0) return absl::StrFormat("%dm", ms / 60'000);
  if (ms % 1'000 == 0) return absl::StrFormat("%ds", ms / 1'000);
  return absl::StrFormat("%dms", ms);
}

// RFC 9110 token characters: what method, header and cookie names are made of.
bool IsTokenChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool IsToken(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), IsTokenChar);
}

// A space, a control character or DEL: never allowed in a request path or a Host value.
bool IsSpaceOrControl(char c) {
  auto u = static_cast<unsigned char>(c);
  return u <= 0x20 || u == 0x7f;
}

std::string Lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// How a duration key reads its value.
struct DurationRule {
  bool zero_ok = false;  // 0 (with any unit) is allowed and means "off"
  bool bare_ms = false;  // a bare number counts milliseconds (timeout_ms), not seconds
  uint32_t min_ms = 1;   // the shortest allowed, unless zero
};

// True for "0", "00", "0ms", "0s", "0m", "0h".
bool IsZeroDuration(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && text[i] == '0') ++i;
  if (i == 0) return false;
  std::string_view unit = text.substr(i);
  return unit.empty() || unit == "ms" || unit == "s" || unit == "m" || unit == "h";
}

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

// A health_check mapping's keys: each setting, then its other names.
// clang-format off
const std::initializer_list<std::string_view> kHealthCheckKeys = {
    "enabled", "type", "path", "method", "host", "expect",
    "interval", "interval_seconds", "interval_secs", "frequency_secs",
    "timeout", "timeout_seconds", "timeout_secs", "timeout_ms",
    "jitter", "rise", "healthy_threshold", "fall", "unhealthy_threshold", "failure_threshold"};
// clang-format on

// Other proxies' names for the balancing algorithm, refused with a pointer to ours.
constexpr std::string_view kAlgorithmSeedKeys[] = {"load_balancing", "strategy"};

struct AlgorithmName {
  std::string_view name;
  Algorithm value;
};

constexpr AlgorithmName kAlgorithms[] = {
    {"round_robin", Algorithm::kRoundRobin},  {"weighted_round_robin", Algorithm::kRoundRobin},
    {"random", Algorithm::kRandom},           {"least_request", Algorithm::kLeastRequest},
    {"least_conn", Algorithm::kLeastRequest}, {"p2c_ewma", Algorithm::kP2cEwma},
    {"peak_ewma", Algorithm::kP2cEwma},       {"maglev", Algorithm::kMaglev},
    {"ketama", Algorithm::kKetama},           {"consistent_hash", Algorithm::kKetama},
};

bool IsHashing(Algorithm a) { return a == Algorithm::kMaglev || a == Algorithm::kKetama; }

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
  absl::Status Error(Mark at, std::string_view message) const {
    return ErrorAt(file_, at, message);
  }
  absl::Status Error(const YamlNode& at, std::string_view message) const {
    return ErrorAt(file_, at.mark, message);
  }
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
  absl::StatusOr<std::string> ServerName(const YamlNode& node, std::string_view what) const;
  absl::StatusOr<uint32_t> UpstreamRef(const YamlNode& node, std::string_view what) const;
  absl::StatusOr<const YamlNode::Entry*> FindOne(const YamlNode& map, Keys names,
                                                 std::string_view where) const;
  absl::Status RefuseSeedKeys(const YamlNode& map, std::string_view where) const;
  absl::StatusOr<std::string> HttpPath(const YamlNode& node, std::string_view what) const;
  absl::StatusOr<SocketAddress> BackendUrl(const YamlNode& node, std::string_view what) const;
  absl::StatusOr<uint32_t> Percent(const YamlNode& node, std::string_view what) const;

  absl::Status LoadGlobal(const YamlNode& global);
  absl::Status LoadGlobalTls(const YamlNode& tls);
  absl::Status LoadTls(const YamlNode& node, std::string_view where, ListenerTls* tls) const;
  absl::Status LoadCertificate(const YamlNode& node, std::string_view where, bool entry,
                               TlsCertificate* cert) const;
  absl::Status LoadUpstreamTls(const YamlNode& node, std::string_view where,
                               UpstreamTls* tls) const;
  std::string At(Mark m) const { return absl::StrFormat("%s:%d:%d", file_, m.line, m.column); }
  absl::Status LoadLog(const YamlNode& log);
  absl::Status LoadTimeouts(const YamlNode& timeouts);
  absl::Status LoadLimits(const YamlNode& limits);
  absl::Status LoadBuffers(const YamlNode& buffers);
  absl::Status LoadHealthCheck(const YamlNode& node, std::string_view where, HealthCheck* health,
                               HealthOrigins* origins, const YamlNode** type_node) const;
  absl::Status LoadPassiveHealth(const YamlNode& node, std::string_view where,
                                 PassiveHealth* passive) const;
  absl::Status LoadRetry(const YamlNode& node, std::string_view where, Retry* retry) const;
  absl::Status LoadBalancing(const YamlNode& item, std::string_view where,
                             Upstream* upstream) const;
  absl::Status LoadSticky(const YamlNode& node, std::string_view where, Sticky* sticky) const;
  absl::Status LoadUpstreams(const YamlNode& list);
  absl::Status LoadUpstream(const YamlNode& item, size_t index);
  absl::Status LoadBackend(const YamlNode& item, std::string_view where, Upstream* upstream,
                           std::vector<const YamlNode*>* check_paths);
  absl::Status LoadServers(const YamlNode& list);
  absl::Status LoadServer(const YamlNode& item, size_t index);
  absl::Status LoadRoutes(const YamlNode& list, std::string_view where, Server* server);
  absl::Status LoadListeners(const YamlNode* list);
  absl::Status LoadListener(const YamlNode& item, size_t index);
  absl::Status AddListener(Listener listener, Mark name_at, Mark bind_at);
  absl::Status CheckListenerServers();

  std::string file_;
  Config cfg_;
  std::map<std::string, uint32_t, std::less<>> upstream_index_;
  std::vector<Mark> upstream_marks_;
  std::map<std::string, uint32_t, std::less<>> server_index_;
  std::vector<ServerMarks> server_marks_;
  std::vector<Mark> listener_name_marks_;
  std::vector<Mark> listener_bind_marks_;
  HealthCheck global_health_;  // defaults with global.health_check applied
  HealthOrigins global_health_origins_;
  const YamlNode* global_port_ = nullptr;  // validated by LoadGlobal
  const YamlNode* global_tls_ = nullptr;   // validated by LoadGlobalTls
  ListenerTls global_listener_tls_;        // global.tls, for the listener global.port makes
  bool from_port_ = false;                 // cfg_.listeners[0] comes from global.port
};

absl::Status Loader::TypeError(const YamlNode& node, std::string_view what,
                               std::string_view expected, std::string_view hint) const {
  std::string message = absl::StrFormat("%s must be %s, found %s", what, expected, node.Describe());
  std::string auto_hint;
  if (hint.empty()) {
    bool wants_int = expected.find("integer") != std::string_view::npos;
    bool wants_bool = expected.find("boolean") != std::string_view::npos;
    bool wants_string = expected.find("string") != std::string_view::npos;
    int64_t ignored = 0;
    if (node.kind == Kind::kString && wants_int && absl::SimpleAtoi(node.text, &ignored)) {
      auto_hint = "remove the quotes around the number";
    } else if (node.kind == Kind::kString && wants_bool &&
               (node.text == "true" || node.text == "false")) {
      auto_hint = "remove the quotes around " + node.text;
    } else if (node.kind == Kind::kBool && wants_string) {
      auto_hint = absl::StrFormat("write \"%s\" in quotes if you mean the text", node.text);
    } else if (node.kind == Kind::kNull) {
      auto_hint = "write a value after the colon";
    }
    hint = auto_hint;
  }
  if (!hint.empty()) absl::StrAppendFormat(&message, "; %s", hint);
  return Error(node, message);
}

absl::Status Loader::CheckKeys(const YamlNode& map, Keys allowed, std::string_view where) const {
  for (const YamlNode::Entry& entry : map.entries) {
    const std::string& key = entry.key.text;
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
    std::string message = absl::StrFormat("unknown key '%s' in %s", key, where);
    std::string suggestion = Closest(key, allowed);
    if (!suggestion.empty()) {
      absl::StrAppendFormat(&message, "; did you mean '%s'?", suggestion);
    } else {
      std::vector<std::string> names(allowed.begin(), allowed.end());
      absl::StrAppendFormat(&message, "; the keys allowed here are %s", Quoted(names));
    }
    return Error(entry.key, message);
  }
  return absl::OkStatus();
}

absl::Status Loader::ExpectMapping(const YamlNode& node, std::string_view what) const {
  if (node.kind == Kind::kMapping) return absl::OkStatus();
  return TypeError(node, what, "a mapping (key: value lines)",
                   node.kind == Kind::kNull
                       ? "write its keys on the lines below it, indented"
                       : "write its keys on the lines below it, indented, or as {key: value}");
}

absl::Status Loader::ExpectList(const YamlNode& node, std::string_view what,
                                std::string_view example) const {
  if (node.kind == Kind::kSequence) return absl::OkStatus();
  return TypeError(node, what, "a list",
                   absl::StrFormat("write one '- ' item per line or a list such as %s", example));
}

absl::StatusOr<const YamlNode*> Loader::Require(const YamlNode& map, std::string_view key,
                                                std::string_view where,
                                                std::string_view example) const {
  if (const YamlNode* value = map.Find(key)) return value;
  return Error(map, absl::StrFormat("%s has no '%s' key; add %s", where, key, example));
}

absl::StatusOr<std::string> Loader::String(const YamlNode& node, std::string_view what) const {
  if (node.kind != Kind::kString && node.kind != Kind::kInt && node.kind != Kind::kFloat) {
    return TypeError(node, what, "a string");
  }
  if (node.text.empty()) {
    return Error(node, absl::StrFormat("%s is empty; write a value", what));
  }
  return node.text;
}

absl::StatusOr<int64_t> Loader::Integer(const YamlNode& node, std::string_view what, int64_t lo,
                                        int64_t hi) const {
  if (node.kind != Kind::kInt) {
    return TypeError(node, what, absl::StrFormat("an integer from %d to %d", lo, hi));
  }
  int64_t value = 0;
  if (!absl::SimpleAtoi(node.text, &value) || value < lo || value > hi) {
    return Error(node, absl::StrFormat("%s is %s, out of range; use a value from %d to %d", what,
                                       node.text, lo, hi));
  }
  return value;
}

absl::StatusOr<bool> Loader::Bool(const YamlNode& node, std::string_view what) const {
  if (node.kind != Kind::kBool) return TypeError(node, what, "a boolean (true or false)");
  return node.BoolValue();
}

absl::StatusOr<uint32_t> Loader::Duration(const YamlNode& node, std::string_view what) const {
  return Duration(node, what, DurationRule{});
}

absl::StatusOr<uint32_t> Loader::Duration(const YamlNode& node, std::string_view what,
                                          const DurationRule& rule) const {
  if (node.kind != Kind::kInt && node.kind != Kind::kString) {
    std::string hint = node.kind == Kind::kFloat
                           ? "use whole numbers with a unit, such as 1500ms instead of 1.5"
                           : "write a whole number followed by ms, s, m or h, such as 30s";
    return TypeError(node, what, "a duration such as 250ms, 5s, 2m or 1h", hint);
  }
  std::string text = node.text;
  if (rule.bare_ms && !text.empty() &&
      std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    text += "ms";
  }
  if (rule.zero_ok && IsZeroDuration(text)) return 0u;
  absl::StatusOr<uint32_t> ms = ParseDurationMs(text);
  if (!ms.ok()) {
    std::string message = absl::StrFormat("%s: %s", what, ms.status().message());
    if (rule.bare_ms && node.kind == Kind::kInt) {
      absl::StrAppend(&message, " (a bare number here counts milliseconds)");
    }
    return Error(node, message);
  }
  if (*ms < rule.min_ms) {
    return Error(node, absl::StrFormat("%s is %s; the shortest allowed is %s%s", what,
                                       DurationText(*ms), DurationText(rule.min_ms),
                                       rule.zero_ok ? " (or 0 to turn it off)" : ""));
  }
  return *ms;
}

absl::StatusOr<uint64_t> Loader::Size(const YamlNode& node, std::string_view what, uint64_t lo,
                                      uint64_t hi) const {
  if (node.kind != Kind::kInt && node.kind != Kind::kString) {
    return TypeError(node, what, "a size such as 8k, 64k, 1m or 2g",
                     "write a whole number of bytes, optionally followed by k, m or g");
  }
  absl::StatusOr<uint64_t> bytes = ParseSize(node.text);
  if (!bytes.ok()) {
    return Error(node, absl::StrFormat("%s: %s", what, bytes.status().message()));
  }
  if (*bytes < lo || *bytes > hi) {
    return Error(node, absl::StrFormat("%s is %s (%d bytes), out of range; use %s to %s", what,
                                       node.text, *bytes, SizeText(lo), SizeText(hi)));
  }
  return *bytes;
}

absl::StatusOr<SocketAddress> Loader::Address(const YamlNode& node, std::string_view what) const {
  if (node.kind != Kind::kString) {
    std::string hint = node.kind == Kind::kInt
                           ? absl::StrFormat(
                                 "write an address with a port, such as \":%s\" or "
                                 "\"127.0.0.1:%s\"",
                                 node.text, node.text)
                           : "write an IP address and port such as \"127.0.0.1:3001\"";
    return TypeError(node, what, "an address string", hint);
  }
  absl::StatusOr<SocketAddress> address = ParseSocketAddress(node.text);
  if (!address.ok()) {
    return Error(node, absl::StrFormat("%s: %s", what, address.status().message()));
  }
  return *std::move(address);
}

// Lower-cases and checks one host name pattern: "acme.com" or "*.acme.com".
absl::StatusOr<std::string> Loader::ServerName(const YamlNode& node, std::string_view what) const {
  absl::StatusOr<std::string> text = String(node, what);
  if (!text.ok()) return text.status();
  std::string name = *text;
  for (char& c : name) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  auto bad = [&](std::string_view problem) {
    return Error(node, absl::StrFormat("server name '%s' %s", *text, problem));
  };
  if (name.find(':') != std::string::npos && name.front() != '[') {
    return bad(
        "has a port; server names match the Host header without its port, so write "
        "only the name (listeners choose ports)");
  }
  if (name.front() == '[') {  // an IPv6 literal, as a Host header writes it
    in6_addr ip6{};
    if (name.back() != ']' ||
        inet_pton(AF_INET6, name.substr(1, name.size() - 2).c_str(), &ip6) != 1) {
      return bad("is not a bracketed IPv6 address; write one such as [::1]");
    }
    return name;
  }
  std::string_view rest = name;
  if (rest.substr(0, 2) == "*.") rest.remove_prefix(2);
  if (rest.find('*') != std::string_view::npos) {
    return bad("has a '*' that is not a leading '*.' label; write a wildcard as *.acme.com");
  }
  if (!rest.empty() && rest.back() == '.') return bad("ends with a dot; remove the trailing dot");
  size_t label = 0;
  for (size_t i = 0; i <= rest.size(); ++i) {
    if (i == rest.size() || rest[i] == '.') {
      if (i == label) {
        return bad("has an empty label; write names such as acme.com or *.acme.com");
      }
      label = i + 1;
      continue;
    }
    char c = rest[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) {
      return bad(
          absl::StrFormat("contains '%c'; use letters, digits, '-' and '.', with an "
                          "optional leading '*.'",
                          c));
    }
  }
  return name;
}

absl::StatusOr<uint32_t> Loader::UpstreamRef(const YamlNode& node, std::string_view what) const {
  absl::StatusOr<std::string> name = String(node, what);
  if (!name.ok()) return name.status();
  auto it = upstream_index_.find(*name);
  if (it != upstream_index_.end()) return it->second;
  std::vector<std::string> names;
  for (const Upstream& u : cfg_.upstreams) names.push_back(u.name);
  std::string message = absl::StrFormat("upstream '%s' is not defined", *name);
  std::string suggestion = Closest(*name, names);
  if (!suggestion.empty()) absl::StrAppendFormat(&message, "; did you mean '%s'?", suggestion);
  absl::StrAppendFormat(&message, " (defined upstreams: %s)", Quoted(names));
  return Error(node, message);
}

// The entry for a setting written under any of its names (`names` starts with the canonical
// one, then its aliases); nullptr when none is written, an error when two are.
absl::StatusOr<const YamlNode::Entry*> Loader::FindOne(const YamlNode& map, Keys names,
                                                       std::string_view where) const {
  const YamlNode::Entry* found = nullptr;
  std::string_view canonical = *names.begin();
  for (const YamlNode::Entry& entry : map.entries) {
    if (std::find(names.begin(), names.end(), entry.key.text) == names.end()) continue;
    if (found == nullptr) {
      found = &entry;
      continue;
    }
    std::string why;
    if (found->key.text == canonical || entry.key.text == canonical) {
      const std::string& alias = found->key.text == canonical ? entry.key.text : found->key.text;
      why = absl::StrFormat("'%s' is another name for '%s'", alias, canonical);
    } else {
      why = absl::StrFormat("both are other names for '%s'", canonical);
    }
    return Error(entry.key, absl::StrFormat("'%s' and '%s' (line %d, column %d) in %s set the same "
                                            "thing (%s); keep one of them",
                                            entry.key.text, found->key.text, found->key.mark.line,
                                            found->key.mark.column, where, why));
  }
  return found;
}

// Keys other proxies use for the balancing algorithm: say what ringway calls it.
absl::Status Loader::RefuseSeedKeys(const YamlNode& map, std::string_view where) const {
  for (const YamlNode::Entry& entry : map.entries) {
    for (std::string_view seed : kAlgorithmSeedKeys) {
      if (entry.key.text != seed) continue;
      return Error(entry.key,
                   absl::StrFormat("unknown key '%s' in %s; ringway sets the balancing algorithm "
                                   "on each upstream with 'algorithm', such as algorithm: "
                                   "round_robin (see docs/configuration.md, \"Settings from "
                                   "earlier proxies\")",
                                   seed, where));
    }
  }
  return absl::OkStatus();
}

// A request path for health checks: starts with '/', no spaces or control characters.
absl::StatusOr<std::string> Loader::HttpPath(const YamlNode& node, std::string_view what) const {
  absl::StatusOr<std::string> path = String(node, what);
  if (!path.ok()) return path.status();
  if ((*path)[0] != '/') {
    return Error(node, absl::StrFormat("%s is '%s', which does not start with '/'; write it as "
                                       "'/%s'",
                                       what, *path, *path));
  }
  if (std::any_of(path->begin(), path->end(), IsSpaceOrControl)) {
    return Error(node, absl::StrFormat("%s is '%s', which holds a space or a control character; "
                                       "percent-encode it (a space is %%20)",
                                       what, *path));
  }
  return path;
}

// A backend written as a URL, as other proxies do: "http://127.0.0.1:3003".
absl::StatusOr<SocketAddress> Loader::BackendUrl(const YamlNode& node,
                                                 std::string_view what) const {
  absl::StatusOr<std::string> url = String(node, what);
  if (!url.ok()) return url.status();
  std::string_view text = *url;
  size_t sep = text.find("://");
  if (sep == std::string_view::npos) {
    return Error(node,
                 absl::StrFormat("%s is '%s', which has no scheme; write http://IP:PORT, such "
                                 "as \"http://127.0.0.1:3001\", or give the backend as "
                                 "address: IP:PORT",
                                 what, text));
  }
  std::string scheme = Lowered(text.substr(0, sep));
  if (scheme == "https") {
    return Error(node, absl::StrFormat("%s is '%s', but TLS to upstreams comes in a later "
                                       "release; use http:// for now",
                                       what, text));
  }
  if (scheme != "http") {
    return Error(node, absl::StrFormat("%s is '%s', whose scheme '%s' ringway does not speak; "
                                       "write http://IP:PORT, such as \"http://127.0.0.1:3001\"",
                                       what, text, scheme));
  }
  std::string_view authority = text.substr(sep + 3);
  size_t end = authority.find_first_of("/?#");
  if (end != std::string_view::npos) {
    if (authority.substr(end) != "/") {
      return Error(node,
                   absl::StrFormat("%s is '%s', which has a path or query; ringway forwards each "
                                   "request's own path, so write only http://IP:PORT",
                                   what, text));
    }
    authority = authority.substr(0, end);
  }
  if (authority.find('@') != std::string_view::npos) {
    return Error(
        node, absl::StrFormat("%s is '%s', which has user information; write only http://IP:PORT",
                              what, text));
  }
  if (authority.empty() || authority[0] == ':') {
    return Error(node,
                 absl::StrFormat("%s is '%s', which has no host; write http://IP:PORT, such as "
                                 "\"http://127.0.0.1:3001\"",
                                 what, text));
  }
  bool has_port = authority[0] == '['
                      ? authority.find("]:") != std::string_view::npos
                      : authority.find(':') !=
                            std::string_view::npos;  // several ':' unbracketed: refused below
  if (!has_port) {
    return Error(node, absl::StrFormat("%s is '%s', which has no port; write it with one, such as "
                                       "\"http://%s:80\"",
                                       what, text, authority));
  }
  absl::StatusOr<SocketAddress> address = ParseSocketAddress(authority);
  if (!address.ok()) {
    return Error(node, absl::StrFormat("%s: %s", what, address.status().message()));
  }
  return *std::move(address);
}

// A share written as "20%" or as a fraction from 0 to 1; returns whole percent.
absl::StatusOr<uint32_t> Loader::Percent(const YamlNode& node, std::string_view what) const {
  constexpr std::string_view kHint = "write a percentage such as 20% or a fraction such as 0.2";
  if (node.kind == Kind::kString && !node.text.empty() && node.text.back() == '%') {
    std::string_view number = std::string_view(node.text).substr(0, node.text.size() - 1);
    int64_t v = -1;
    if (number.empty() ||
        !std::all_of(number.begin(), number.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        !absl::SimpleAtoi(std::string(number), &v)) {
      return Error(
          node, absl::StrFormat("%s is '%s', not a whole percentage; %s", what, node.text, kHint));
    }
    if (v > 100) {
      return Error(node,
                   absl::StrFormat("%s is %s, out of range; use 0%% to 100%%", what, node.text));
    }
    return static_cast<uint32_t>(v);
  }
  if (node.kind == Kind::kInt) {
    int64_t v = -1;
    if (absl::SimpleAtoi(node.text, &v) && (v == 0 || v == 1)) {
      return static_cast<uint32_t>(v * 100);
    }
    std::string hint = v > 1 && v <= 100 ? absl::StrFormat("; did you mean %d%%?", v) : "";
    return Error(node, absl::StrFormat("%s is %s, not a fraction from 0 to 1%s (%s)", what,
                                       node.text, hint, kHint));
  }
  if (node.kind == Kind::kFloat) {
    double v = -1;
    if (!absl::SimpleAtod(node.text, &v) || !(v >= 0 && v <= 1)) {
      return Error(node, absl::StrFormat("%s is %s, not a fraction from 0 to 1; %s", what,
                                         node.text, kHint));
    }
    double percent = v * 100;
    double whole = std::round(percent);
    if (std::fabs(percent - whole) > 1e-6) {
      return Error(node,
                   absl::StrFormat("%s is %s (%g%%); ringway counts whole percents, so "
                                   "write %d%% or %d%%",
                                   what, node.text, percent, static_cast<int>(std::floor(percent)),
                                   static_cast<int>(std::ceil(percent))));
    }
    return static_cast<uint32_t>(whole);
  }
  return TypeError(node, what, "a percentage or a fraction from 0 to 1", kHint);
}

absl::Status Loader::LoadGlobal(const YamlNode& global) {
  CONFIG_RETURN_IF_ERROR(ExpectMapping(global, "'global'"));
  CONFIG_RETURN_IF_ERROR(RefuseSeedKeys(global, "global"));
  CONFIG_RETURN_IF_ERROR(CheckKeys(
      global, {"port", "workers", "tls", "log", "timeouts", "limits", "buffers", "health_check"},
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
  if (const YamlNode* tls = global.Find("tls")) CONFIG_RETURN_IF_ERROR(LoadGlobalTls(*tls));
  if (const YamlNode* log = global.Find("log")) CONFIG_RETURN_IF_ERROR(LoadLog(*log));
  if (const YamlNode* t = global.Find("timeouts")) CONFIG_RETURN_IF_ERROR(LoadTimeouts(*t));
  if (const YamlNode* limits = global.Find("limits")) CONFIG_RETURN_IF_ERROR(LoadLimits(*limits));
  if (const YamlNode* b = global.Find("buffers")) CONFIG_RETURN_IF_ERROR(LoadBuffers(*b));
  if (const YamlNode* health = global.Find("health_check")) {
    CONFIG_RETURN_IF_ERROR(ExpectMapping(*health, Where("health_check", "global")));
    const YamlNode* type_node = nullptr;
    CONFIG_RETURN_IF_ERROR(LoadHealthCheck(*health, "global.health_check", &global_health_,
                                           &global_health_origins_, &type_node));
  }
  return absl::OkStatus();
}

absl::Status Loader::LoadGlobalTls(const YamlNode& tls) {
  CONFIG_RETURN_IF_ERROR(LoadTls(tls, "global.tls", &global_listener_tls_));
  global_tls_ = &tls;
  return absl::OkStatus();
}

absl::Status Loader::LoadCertificate(const YamlNode& node, std::string_view where, bool entry,
                                     TlsCertificate* cert) const {
  if (entry) {
    CONFIG_RETURN_IF_ERROR(ExpectMapping(node, where));
    CONFIG_RETURN_IF_ERROR(CheckKeys(node, {"cert", "key", "ocsp", "server_names"}, where));
  }
  absl::StatusOr<const YamlNode*> c = Require(node, "cert", where, "cert: /path/to/cert.pem");
  if (!c.ok()) return c.status();
  absl::StatusOr<const YamlNode*> k = Require(node, "key", where, "key: /path/to/key.pem");
  if (!k.ok()) return k.status();
  absl::StatusOr<std::string> cert_path = String(**c, Where("cert", where));
  if (!cert_path.ok()) return cert_path.status();
  absl::StatusOr<std::string> key_path = String(**k, Where("key", where));
  if (!key_path.ok()) return key_path.status();
  if (cert_path->empty())
    return Error(**c, absl::StrFormat("%s is empty; name a PEM file", Where("cert", where)));
  if (key_path->empty())
    return Error(**k, absl::StrFormat("%s is empty; name a PEM file", Where("key", where)));
  cert->cert = *cert_path;
  cert->key = *key_path;
  cert->at = At((*c)->mark);
  if (const YamlNode* o = node.Find("ocsp")) {
    // wolfSSL staples only after verifying the response against the certificate's issuer in
    // the context's trust store, which is also the store client certificates are checked
    // against; until that is separated, a stapling setting is refused rather than ignored.
    return Error(*o, absl::StrFormat("%s: OCSP stapling is not supported yet; remove this key "
                                     "(clients fetch OCSP themselves meanwhile)",
                                     Where("ocsp", where)));
  }
  if (const YamlNode* names = node.Find("server_names")) {
    CONFIG_RETURN_IF_ERROR(
        ExpectList(*names, Where("server_names", where), "[\"acme.com\", \"*.acme.com\"]"));
    for (size_t i = 0; i < names->items.size(); ++i) {
      absl::StatusOr<std::string> n = ServerName(
          names->items[i], absl::StrFormat("entry #%d of 'server_names' in %s", i + 1, where));
      if (!n.ok()) return n.status();
      cert->server_names.push_back(*n);
    }
  }
  return absl::OkStatus();
}

absl::Status Loader::LoadTls(const YamlNode& node, std::string_view where, ListenerTls* tls) const {
  CONFIG_RETURN_IF_ERROR(ExpectMapping(node, where));
  CONFIG_RETURN_IF_ERROR(
      CheckKeys(node,
                {"cert", "key", "ocsp", "ca", "client_certificate", "certificates", "min_version",
                 "ciphers", "alpn", "session_tickets", "ticket_rotation"},
                where));
  tls->enabled = true;
  tls->at = At(node.mark);
  const YamlNode* cert = node.Find("cert");
  const YamlNode* key = node.Find("key");
  if (cert != nullptr || key != nullptr) {
    TlsCertificate c;
    CONFIG_RETURN_IF_ERROR(LoadCertificate(node, where, /*entry=*/false, &c));
    tls->certificates.push_back(std::move(c));
  } else if (const YamlNode* ocsp = node.Find("ocsp")) {
    return Error(*ocsp, absl::StrFormat("'ocsp' in %s belongs to a certificate; add cert: and "
                                        "key: beside it, or move it into a certificates entry",
                                        where));
  }
  if (const YamlNode* list = node.Find("certificates")) {
    CONFIG_RETURN_IF_ERROR(ExpectList(*list, Where("certificates", where),
                                      "[{cert: /etc/ringway/a.pem, key: /etc/ringway/a.key}]"));
    for (size_t i = 0; i < list->items.size(); ++i) {
      TlsCertificate c;
      std::string label = absl::StrFormat("certificate #%d in %s", i + 1, where);
      CONFIG_RETURN_IF_ERROR(LoadCertificate(list->items[i], label, /*entry=*/true, &c));
      tls->certificates.push_back(std::move(c));
    }
  }
  if (tls->certificates.empty()) {
    return Error(node, absl::StrFormat("%s names no certificate; add cert: /path/to/cert.pem and "
                                       "key: /path/to/key.pem, or a certificates: list",
                                       where));
  }
  if (const YamlNode* ca = node.Find("ca")) {
    absl::StatusOr<std::string> v = String(*ca, Where("ca", where));
    if (!v.ok()) return v.status();
    tls->ca = *v;
  }
  if (const YamlNode* cc = node.Find("client_certificate")) {
    absl::StatusOr<std::string> v = String(*cc, Where("client_certificate", where));
    if (!v.ok()) return v.status();
    if (*v == "required") {
      tls->client_cert_optional = false;
    } else if (*v == "optional") {
      tls->client_cert_optional = true;
    } else {
      return Error(*cc, absl::StrFormat("%s must be \"required\" or \"optional\", found '%s'",
                                        Where("client_certificate", where), *v));
    }
    if (tls->ca.empty()) {
      return Error(*cc, absl::StrFormat("%s needs 'ca' beside it: the CA bundle that client "
                                        "certificates are verified against",
                                        Where("client_certificate", where)));
    }
  }
  if (const YamlNode* mv = node.Find("min_version")) {
    std::string v = mv->text;
    if (mv->kind == Kind::kFloat || mv->kind == Kind::kString || mv->kind == Kind::kInt) {
      if (absl::StartsWithIgnoreCase(v, "tls")) v = v.substr(3);
      if (!v.empty() && (v[0] == 'v' || v[0] == 'V')) v = v.substr(1);
    }
    if (v == "1.2") {
      tls->min_version = TlsVersion::k12;
    } else if (v == "1.3") {
      tls->min_version = TlsVersion::k13;
    } else {
      return Error(*mv, absl::StrFormat("%s must be \"1.2\" or \"1.3\", found '%s'; TLS 1.0 "
                                        "and 1.1 are not offered",
                                        Where("min_version", where), mv->text));
    }
  }
  if (const YamlNode* c = node.Find("ciphers")) {
    absl::StatusOr<std::string> v = String(*c, Where("ciphers", where));
    if (!v.ok()) return v.status();
    tls->ciphers = *v;
  }
  if (const YamlNode* a = node.Find("alpn")) {
    CONFIG_RETURN_IF_ERROR(ExpectList(*a, Where("alpn", where), "[\"http/1.1\"]"));
    tls->alpn.clear();
    for (size_t i = 0; i < a->items.size(); ++i) {
      absl::StatusOr<std::string> v =
          String(a->items[i], absl::StrFormat("entry #%d of 'alpn' in %s", i + 1, where));
      if (!v.ok()) return v.status();
      if (*v != "http/1.1") {
        return Error(a->items[i],
                     absl::StrFormat("'%s' in 'alpn' of %s is not a protocol ringway speaks yet; "
                                     "use \"http/1.1\" (\"h2\" comes with HTTP/2)",
                                     *v, where));
      }
      tls->alpn.push_back(*v);
    }
  }
  if (const YamlNode* t = node.Find("session_tickets")) {
    absl::StatusOr<bool> v = Bool(*t, Where("session_tickets", where));
    if (!v.ok()) return v.status();
    tls->session_tickets = *v;
  }
  if (const YamlNode* r = node.Find("ticket_rotation")) {
    absl::StatusOr<uint32_t> v =
        Duration(*r, Where("ticket_rotation", where), DurationRule{.min_ms = 1000});
    if (!v.ok()) return v.status();
    tls->ticket_rotation_ms = *v;
  }
  return absl::OkStatus();
}

absl::Status Loader::LoadUpstreamTls(const YamlNode& node, std::string_view where,
                                     UpstreamTls* tls) const {
  tls->at = At(node.mark);
  if (node.kind == Kind::kBool) {
    absl::StatusOr<bool> v = Bool(node, where);
    if (!v.ok()) return v.status();
    tls->enabled = *v;
    return absl::OkStatus();
  }
  if (node.kind != Kind::kMapping) {
    return TypeError(node, where, "true, false or a mapping",
                     "write tls: true, or tls: {ca: /path/to/ca.pem, server_name: api.internal}");
  }
  CONFIG_RETURN_IF_ERROR(CheckKeys(node, {"verify", "ca", "server_name"}, where));
  tls->enabled = true;
  if (const YamlNode* v = node.Find("verify")) {
    absl::StatusOr<bool> b = Bool(*v, Where("verify", where));
    if (!b.ok()) return b.status();
    tls->verify = *b;
  }
  if (const YamlNode* ca = node.Find("ca")) {
    absl::StatusOr<std::string> v = String(*ca, Where("ca", where));
    if (!v.ok()) return v.status();
    tls->ca = *v;
  }
  if (const YamlNode* n = node.Find("server_name")) {
    absl::StatusOr<std::string> v = String(*n, Where("server_name", where));
    if (!v.ok()) return v.status();
    tls->server_name = *v;
  }
  if (!tls->verify && !tls->ca.empty()) {
    return Error(
        *node.Find("ca"),
        absl::StrFormat("'ca' in %s has no effect with verify: false; remove one of them", where));
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
  struct Field {
    std::string_view key;
    uint32_t Timeouts::*member;
  };
  static constexpr Field kFields[] = {
      {"client_header", &Timeouts::client_header_ms},
      {"client_body", &Timeouts::client_body_ms},
      {"client_send", &Timeouts::client_send_ms},
      {"keepalive", &Timeouts::keepalive_ms},
      {"upstream_connect", &Timeouts::upstream_connect_ms},
      {"upstream_response", &Timeouts::upstream_response_ms},
      {"shutdown", &Timeouts::shutdown_ms},
  };
  CONFIG_RETURN_IF_ERROR(CheckKeys(timeouts,
                                   {"client_header", "client_body", "client_send", "keepalive",
                                    "upstream_connect", "upstream_response", "shutdown"},
                                   "global.timeouts"));
  for (const Field& field : kFields) {
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
  CONFIG_RETURN_IF_ERROR(CheckKeys(buffers, {"size", "count"}, "global.buffers"));
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
  return absl::OkStatus();
}

absl::Status Loader::LoadHealthCheck(const YamlNode& node, std::string_view where,
                                     HealthCheck* health, HealthOrigins* origins,
                                     const YamlNode** type_node) const {
  CONFIG_RETURN_IF_ERROR(CheckKeys(node, kHealthCheckKeys, where));
  if (const YamlNode* n = node.Find("enabled")) {
    absl::StatusOr<bool> v = Bool(*n, Where("enabled", where));
    if (!v.ok()) return v.status();
    health->enabled = *v;
  }

  // `path` asks for an HTTP check unless `type` in the same mapping says otherwise.
  const YamlNode* path = node.Find("path");
  if (path != nullptr) {
    absl::StatusOr<std::string> v = HttpPath(*path, Where("path", where));
    if (!v.ok()) return v.status();
    health->path = *v;
  }
  *type_node = node.Find("type");
  if (const YamlNode* type = *type_node) {
    absl::StatusOr<std::string> v = String(*type, Where("type", where));
    if (!v.ok()) return v.status();
    if (*v == "tcp") {
      health->type = HealthCheck::Type::kTcp;
    } else if (*v == "http") {
      health->type = HealthCheck::Type::kHttp;
    } else {
      std::string lower = Lowered(*v);
      std::string hint = lower == "tcp" || lower == "http"
                             ? absl::StrFormat("write it in lower case: %s", lower)
                             : "use 'tcp' (connect only) or 'http' (send a request, check the "
                               "status)";
      return Error(
          *type, absl::StrFormat("health check type '%s' in %s is not known; %s", *v, where, hint));
    }
    if (health->type == HealthCheck::Type::kTcp && path != nullptr) {
      return Error(*path, absl::StrFormat("'path' in %s is given, but 'type' is tcp (line %d, "
                                          "column %d), and a TCP check sends no request; remove "
                                          "'path', or write type: http",
                                          where, type->mark.line, type->mark.column));
    }
  } else if (path != nullptr) {
    health->type = HealthCheck::Type::kHttp;
  }

  if (const YamlNode* n = node.Find("method")) {
    absl::StatusOr<std::string> v = String(*n, Where("method", where));
    if (!v.ok()) return v.status();
    std::string upper = *v;
    for (char& c : upper) {
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    }
    if (!IsToken(*v)) {
      return Error(*n, absl::StrFormat("'method' in %s is '%s', not an HTTP method; write one "
                                       "such as GET or HEAD",
                                       where, *v));
    }
    if (upper != *v) {
      return Error(*n, absl::StrFormat("'method' in %s is '%s'; methods are case-sensitive, "
                                       "write it in upper case: %s",
                                       where, *v, upper));
    }
    health->method = *v;
  }
  if (const YamlNode* n = node.Find("host")) {
    absl::StatusOr<std::string> v = String(*n, Where("host", where));
    if (!v.ok()) return v.status();
    if (std::any_of(v->begin(), v->end(), IsSpaceOrControl) ||
        v->find_first_of("/?#@") != std::string::npos) {
      return Error(*n, absl::StrFormat("'host' in %s is '%s'; write only the Host header's "
                                       "value, a name with an optional port such as "
                                       "example.com or example.com:8080 (the path goes under "
                                       "'path')",
                                       where, *v));
    }
    health->host = *v;
  }
  if (const YamlNode* n = node.Find("expect")) {
    std::string what = Where("expect", where);
    constexpr std::string_view kExpectHint =
        "write one status such as 200, or a range such as \"200-399\", within 100 to 599";
    if (n->kind == Kind::kInt) {
      absl::StatusOr<int64_t> v = Integer(*n, what, 100, 599);
      if (!v.ok()) return v.status();
      health->expect_min = health->expect_max = static_cast<uint16_t>(*v);
    } else if (n->kind == Kind::kString) {
      std::string_view text = n->text;
      size_t dash = text.find('-');
      std::string_view lo_text = text.substr(0, dash);
      std::string_view hi_text = dash == std::string_view::npos ? lo_text : text.substr(dash + 1);
      int64_t lo = 0;
      int64_t hi = 0;
      auto digits = [](std::string_view d) {
        return !d.empty() && d.size() <= 3 &&
               std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; });
      };
      if (!digits(lo_text) || !digits(hi_text) || !absl::SimpleAtoi(std::string(lo_text), &lo) ||
          !absl::SimpleAtoi(std::string(hi_text), &hi)) {
        std::string hint(kExpectHint);
        if (text.size() == 3 && text[0] >= '1' && text[0] <= '5' &&
            Lowered(text.substr(1)) == "xx") {
          hint = absl::StrFormat("write the range as \"%c00-%c99\"", text[0], text[0]);
        }
        return Error(*n, absl::StrFormat("%s is '%s', not a status or a range of statuses; %s",
                                         what, text, hint));
      }
      if (lo < 100 || hi > 599) {
        return Error(*n, absl::StrFormat("%s is '%s', out of range; statuses run from 100 to 599",
                                         what, text));
      }
      if (lo > hi) {
        return Error(*n, absl::StrFormat("%s is '%s', a range that runs backwards; write "
                                         "\"%d-%d\"",
                                         what, text, hi, lo));
      }
      health->expect_min = static_cast<uint16_t>(lo);
      health->expect_max = static_cast<uint16_t>(hi);
    } else {
      return TypeError(*n, what, "a status code or a range of them", kExpectHint);
    }
  }

  bool interval_here = false;
  bool timeout_here = false;
  absl::StatusOr<const YamlNode::Entry*> interval =
      FindOne(node, {"interval", "interval_seconds", "interval_secs", "frequency_secs"}, where);
  if (!interval.ok()) return interval.status();
  if (*interval != nullptr) {
    const YamlNode::Entry& e = **interval;
    absl::StatusOr<uint32_t> ms =
        Duration(e.value, Where(e.key.text, where), DurationRule{.min_ms = 10});
    if (!ms.ok()) return ms.status();
    health->interval_ms = *ms;
    origins->interval = HealthOrigin{true, e.value.mark, e.key.text, std::string(where)};
    interval_here = true;
  }
  absl::StatusOr<const YamlNode::Entry*> timeout =
      FindOne(node, {"timeout", "timeout_seconds", "timeout_secs", "timeout_ms"}, where);
  if (!timeout.ok()) return timeout.status();
  if (*timeout != nullptr) {
    const YamlNode::Entry& e = **timeout;
    absl::StatusOr<uint32_t> ms =
        Duration(e.value, Where(e.key.text, where),
                 DurationRule{.bare_ms = e.key.text == "timeout_ms", .min_ms = 10});
    if (!ms.ok()) return ms.status();
    health->timeout_ms = *ms;
    origins->timeout = HealthOrigin{true, e.value.mark, e.key.text, std::string(where)};
    timeout_here = true;
  }
  if (const YamlNode* n = node.Find("jitter")) {
    absl::StatusOr<uint32_t> ms = Duration(*n, Where("jitter", where), {.zero_ok = true});
    if (!ms.ok()) return ms.status();
    health->jitter_ms = *ms;
  }
  auto count = [&](Keys names, uint32_t* out) -> absl::Status {
    absl::StatusOr<const YamlNode::Entry*> e = FindOne(node, names, where);
    if (!e.ok()) return e.status();
    if (*e == nullptr) return absl::OkStatus();
    absl::StatusOr<int64_t> v = Integer((*e)->value, Where((*e)->key.text, where), 1, 100);
    if (!v.ok()) return v.status();
    *out = static_cast<uint32_t>(*v);
    return absl::OkStatus();
  };
  CONFIG_RETURN_IF_ERROR(count({"rise", "healthy_threshold"}, &health->rise));
  CONFIG_RETURN_IF_ERROR(
      count({"fall", "unhealthy_threshold", "failure_threshold"}, &health->fall));

  // A check must give up before the next one is due. Reported at the value this mapping
  // wrote; the other may come from global.health_check or the defaults.
  if ((interval_here || timeout_here) && health->timeout_ms >= health->interval_ms) {
    auto describe = [](const HealthOrigin& o) {
      return o.set ? absl::StrFormat("'%s' in %s, line %d", o.key, o.where, o.at.line)
                   : std::string("the default");
    };
    if (timeout_here) {
      const HealthOrigin& t = origins->timeout;
      uint32_t shorter = health->interval_ms / 2 >= 10 ? health->interval_ms / 2 : 0;
      std::string fix = shorter != 0 ? absl::StrFormat(
                                           "write a shorter timeout, such as %s: %s, "
                                           "or a longer interval",
                                           t.key, DurationText(shorter))
                                     : std::string("write a longer interval");
      return Error(t.at, absl::StrFormat("'%s' in %s is %s, not shorter than the interval (%s, "
                                         "%s); a check must time out before the next one is "
                                         "due: %s",
                                         t.key, where, DurationText(health->timeout_ms),
                                         DurationText(health->interval_ms),
                                         describe(origins->interval), fix));
    }
    const HealthOrigin& i = origins->interval;
    return Error(i.at, absl::StrFormat("'%s' in %s is %s, not longer than the timeout (%s, %s); "
                                       "a check must time out before the next one is due: write "
                                       "a longer interval, such as %s: %s, or a shorter timeout",
                                       i.key, where, DurationText(health->interval_ms),
                                       DurationText(health->timeout_ms), describe(origins->timeout),
                                       i.key, DurationText(uint64_t{health->timeout_ms} * 2)));
  }
  return absl::OkStatus();
}

absl::Status Loader::LoadPassiveHealth(const YamlNode& node, std::string_view where,
                                       PassiveHealth* passive) const {
  CONFIG_RETURN_IF_ERROR(
      CheckKeys(node, {"consecutive_failures", "on", "base_ejection", "max_ejection"}, where));
  if (const YamlNode* n = node.Find("consecutive_failures")) {
    absl::StatusOr<int64_t> v = Integer(*n, Where("consecutive_failures", where), 0, 1000);
    if (!v.ok()) return v.status();
    passive->consecutive_failures = static_cast<uint32_t>(*v);
  }
  if (const YamlNode* on = node.Find("on")) {
    constexpr std::string_view kExample = "[connect_failure, reset, 502, 503, 504]";
    CONFIG_RETURN_IF_ERROR(ExpectList(*on, Where("on", where), kExample));
    if (on->items.empty()) {
      return Error(*on, absl::StrFormat("'on' in %s is empty; list what counts as a failure, "
                                        "such as %s, or set consecutive_failures: 0 to turn "
                                        "passive health off",
                                        where, kExample));
    }
    passive->on_connect_failure = false;
    passive->on_reset = false;
    passive->statuses.clear();
    std::vector<std::string> seen;
    for (size_t i = 0; i < on->items.size(); ++i) {
      const YamlNode& item = on->items[i];
      std::string what = absl::StrFormat("entry #%d of 'on' in %s", i + 1, where);
      std::string name;
      if (item.kind == Kind::kInt) {
        int64_t status = 0;
        if (!absl::SimpleAtoi(item.text, &status) || status < 500 || status > 599) {
          return Error(item, absl::StrFormat("%s is %s; only statuses from 500 to 599 count as "
                                             "backend failures",
                                             what, item.text));
        }
        passive->statuses.push_back(static_cast<uint16_t>(status));
        name = std::to_string(status);
      } else if (item.kind == Kind::kString &&
                 (item.text == "connect_failure" || item.text == "reset")) {
        (item.text == "reset" ? passive->on_reset : passive->on_connect_failure) = true;
        name = item.text;
      } else if (item.kind == Kind::kString) {
        std::string message =
            absl::StrFormat("%s is '%s', which is not a failure ringway knows", what, item.text);
        std::string suggestion =
            Closest(item.text, std::vector<std::string>{"connect_failure", "reset"});
        if (!suggestion.empty())
          absl::StrAppendFormat(&message, "; did you mean '%s'?", suggestion);
        absl::StrAppend(&message,
                        " (use connect_failure, reset, or a status code from 500 to 599)");
        return Error(item, message);
      } else {
        return TypeError(item, what, "connect_failure, reset or a status code from 500 to 599");
      }
      if (std::find(seen.begin(), seen.end(), name) != seen.end()) {
        return Error(item, absl::StrFormat("%s lists %s a second time (entry #%d); list it once",
                                           Where("on", where), name, i + 1));
      }
      seen.push_back(name);
    }
  }
  const YamlNode* base = node.Find("base_ejection");
  const YamlNode* max = node.Find("max_ejection");
  if (base != nullptr) {
    absl::StatusOr<uint32_t> ms = Duration(*base, Where("base_ejection", where));
    if (!ms.ok()) return ms.status();
    passive->base_ejection_ms = *ms;
  }
  if (max != nullptr) {
    absl::StatusOr<uint32_t> ms = Duration(*max, Where("max_ejection", where));
    if (!ms.ok()) return ms.status();
    passive->max_ejection_ms = *ms;
  }
  if (passive->max_ejection_ms < passive->base_ejection_ms) {
    std::string base_text = DurationText(passive->base_ejection_ms);
    std::string max_text = DurationText(passive->max_ejection_ms);
    if (max != nullptr) {
      return Error(*max, absl::StrFormat("'max_ejection' in %s is %s, shorter than base_ejection "
                                         "(%s%s); the back-off doubles from base_ejection up to "
                                         "max_ejection, so write max_ejection: %s or longer",
                                         where, max_text, base_text,
                                         base != nullptr ? "" : ", the default", base_text));
    }
    return Error(*base, absl::StrFormat("'base_ejection' in %s is %s, longer than max_ejection "
                                        "(%s, the default); the back-off doubles from "
                                        "base_ejection up to max_ejection, so write a shorter "
                                        "base_ejection or add max_ejection: %s",
                                        where, base_text, max_text, base_text));
  }
  return absl::OkStatus();
}

absl::Status Loader::LoadRetry(const YamlNode& node, std::string_view where, Retry* retry) const {
  CONFIG_RETURN_IF_ERROR(CheckKeys(node, {"tries", "budget", "min_retries"}, where));
  if (const YamlNode* n = node.Find("tries")) {
    absl::StatusOr<int64_t> v = Integer(*n, Where("tries", where), 1, 10);
    if (!v.ok()) return v.status();
    retry->tries = static_cast<uint32_t>(*v);
  }
  if (const YamlNode* n = node.Find("budget")) {
    absl::StatusOr<uint32_t> v = Percent(*n, Where("budget", where));
    if (!v.ok()) return v.status();
    retry->budget_percent = *v;
  }
  if (const YamlNode* n = node.Find("min_retries")) {
    absl::StatusOr<int64_t> v = Integer(*n, Where("min_retries", where), 0, 1000);
    if (!v.ok()) return v.status();
    retry->min_retries = static_cast<uint32_t>(*v);
  }
  return absl::OkStatus();
}

// algorithm, hash_on and slow_start, which depend on one another.
absl::Status Loader::LoadBalancing(const YamlNode& item, std::string_view where,
                                   Upstream* upstream) const {
  const YamlNode* algorithm = item.Find("algorithm");
  if (algorithm != nullptr) {
    absl::StatusOr<std::string> name = String(*algorithm, Where("algorithm", where));
    if (!name.ok()) return name.status();
    bool found = false;
    for (const AlgorithmName& a : kAlgorithms) {
      if (a.name == *name) {
        upstream->algorithm = a.value;
        found = true;
      }
    }
    if (!found) {
      std::vector<std::string> names;
      for (const AlgorithmName& a : kAlgorithms) names.emplace_back(a.name);
      std::string message = absl::StrFormat("algorithm '%s' in %s is not known", *name, where);
      std::string suggestion = Closest(Lowered(*name), names);
      if (!suggestion.empty()) absl::StrAppendFormat(&message, "; did you mean '%s'?", suggestion);
      absl::StrAppend(&message,
                      " (use one of 'round_robin', 'random', 'least_request', "
                      "'p2c_ewma', 'maglev', 'ketama')");
      return Error(*algorithm, message);
    }
  }
  std::string algorithm_text =
      algorithm != nullptr
          ? absl::StrFormat("'%s' (line %d)", algorithm->text, algorithm->mark.line)
          : std::string("round_robin, the default");

  if (const YamlNode* n = item.Find("hash_on")) {
    std::string what = Where("hash_on", where);
    if (!IsHashing(upstream->algorithm)) {
      return Error(*n, absl::StrFormat("%s only applies to the consistent-hashing algorithms, "
                                       "and the algorithm is %s; remove hash_on, or write "
                                       "algorithm: maglev (or ketama)",
                                       what, algorithm_text));
    }
    absl::StatusOr<std::string> text = String(*n, what);
    if (!text.ok()) return text.status();
    constexpr std::string_view kHint =
        "write client_ip, \"header:NAME\" (such as \"header:X-User\") or \"cookie:NAME\"";
    HashKey key;
    std::string_view v = *text;
    size_t colon = v.find(':');
    std::string_view prefix = v.substr(0, colon);
    if (colon == std::string_view::npos && v == "client_ip") {
      key.source = HashKey::Source::kClientIp;
    } else if (colon != std::string_view::npos && (prefix == "header" || prefix == "cookie")) {
      key.source = prefix == "header" ? HashKey::Source::kHeader : HashKey::Source::kCookie;
      key.name = std::string(v.substr(colon + 1));
      if (!IsToken(key.name)) {
        return Error(*n, absl::StrFormat("%s is '%s', and '%s' is not a valid %s name; use "
                                         "letters, digits and - _ . (no spaces), such as "
                                         "\"%s:%s\"",
                                         what, v, key.name, prefix, prefix,
                                         prefix == "header" ? "X-User" : "session"));
      }
    } else {
      return Error(*n,
                   absl::StrFormat("%s is '%s', which ringway cannot hash on; %s", what, v, kHint));
    }
    upstream->hash_key = std::move(key);
  }

  if (const YamlNode* n = item.Find("slow_start")) {
    absl::StatusOr<uint32_t> ms = Duration(*n, Where("slow_start", where), {.zero_ok = true});
    if (!ms.ok()) return ms.status();
    if (*ms != 0 && IsHashing(upstream->algorithm)) {
      return Error(*n, absl::StrFormat("'slow_start' in %s has no effect with the algorithm %s: "
                                       "consistent hashing keeps each key on its backend "
                                       "whatever the weights; remove slow_start",
                                       where, algorithm_text));
    }
    upstream->slow_start_ms = *ms;
  }
  return absl::OkStatus();
}

absl::Status Loader::LoadSticky(const YamlNode& node, std::string_view where,
                                Sticky* sticky) const {
  if (node.kind == Kind::kBool) {
    sticky->enabled = node.BoolValue();
    return absl::OkStatus();
  }
  if (node.kind != Kind::kMapping) {
    return TypeError(node, Where("sticky", where), "true, false or a mapping {cookie, ttl}",
                     "write sticky: true, or sticky: {cookie: ringway_sticky, ttl: 1h}");
  }
  std::string sticky_where = absl::StrFormat("sticky of %s", where);
  CONFIG_RETURN_IF_ERROR(CheckKeys(node, {"cookie", "ttl"}, sticky_where));
  sticky->enabled = true;
  if (const YamlNode* n = node.Find("cookie")) {
    absl::StatusOr<std::string> v = String(*n, Where("cookie", sticky_where));
    if (!v.ok()) return v.status();
    if (!IsToken(*v)) {
      return Error(*n, absl::StrFormat("'cookie' in %s is '%s', which is not a valid cookie "
                                       "name; use letters, digits and - _ . (no spaces, '=', "
                                       "';' or quotes), such as ringway_sticky",
                                       sticky_where, *v));
    }
    sticky->cookie = *v;
  }
  if (const YamlNode* n = node.Find("ttl")) {
    absl::StatusOr<uint32_t> ms = Duration(*n, Where("ttl", sticky_where), {.zero_ok = true});
    if (!ms.ok()) return ms.status();
    if (*ms % 1000 != 0) {
      return Error(*n,
                   absl::StrFormat("'ttl' in %s is %s; a cookie lives a whole number of "
                                   "seconds, so write %ds",
                                   sticky_where, DurationText(*ms), (uint64_t{*ms} + 999) / 1000));
    }
    sticky->ttl_s = *ms / 1000;
  }
  return absl::OkStatus();
}

absl::Status Loader::LoadBackend(const YamlNode& item, std::string_view where, Upstream* upstream,
                                 std::vector<const YamlNode*>* check_paths) {
  Backend backend;
  const YamlNode* address_node = &item;
  // Anything with a scheme is read as a URL, as other proxies write backends.
  bool is_url = item.kind == Kind::kString && item.text.find("://") != std::string::npos;
  std::string address_what(where);
  if (item.kind == Kind::kMapping) {
    CONFIG_RETURN_IF_ERROR(
        CheckKeys(item, {"address", "url", "weight", "health_check_path"}, where));
    absl::StatusOr<const YamlNode::Entry*> entry = FindOne(item, {"address", "url"}, where);
    if (!entry.ok()) return entry.status();
    if (*entry == nullptr) {
      return Error(item, absl::StrFormat("%s has no 'address' key; add address: "
                                         "\"127.0.0.1:3001\" (or url: \"http://127.0.0.1:3001\")",
                                         where));
    }
    address_node = &(*entry)->value;
    is_url = (*entry)->key.text == "url" || address_node->text.find("://") != std::string::npos;
    address_what = Where((*entry)->key.text, where);
    if (const YamlNode* weight = item.Find("weight")) {
      absl::StatusOr<int64_t> w = Integer(*weight, Where("weight", where), 1, 1000);
      if (!w.ok()) return w.status();
      backend.weight = static_cast<uint32_t>(*w);
    }
    if (const YamlNode* path = item.Find("health_check_path")) {
      absl::StatusOr<std::string> p = HttpPath(*path, Where("health_check_path", where));
      if (!p.ok()) return p.status();
      backend.health_check_path = *p;
      check_paths->push_back(path);
    }
  } else if (item.kind != Kind::kString) {
    return TypeError(item, where, "an address string or a mapping {address, weight}",
                     "write \"127.0.0.1:3001\" or {address: \"127.0.0.1:3001\", weight: 2}");
  }
  absl::StatusOr<SocketAddress> address =
      is_url ? BackendUrl(*address_node, address_what) : Address(*address_node, address_what);
  if (!address.ok()) return address.status();
  for (const Backend& seen : upstream->backends) {
    if (seen.address.text == address->text) {
      return Error(*address_node,
                   absl::StrFormat("backend %s appears twice in upstream '%s'; list it once "
                                   "and give it a weight to send it more requests",
                                   address->text, upstream->name));
    }
  }
  backend.address = *std::move(address);
  upstream->backends.push_back(std::move(backend));
  return absl::OkStatus();
}

absl::Status Loader::LoadUpstream(const YamlNode& item, size_t index) {
  std::string label = absl::StrFormat("upstream #%d", index + 1);
  CONFIG_RETURN_IF_ERROR(ExpectMapping(item, label));
  absl::StatusOr<const YamlNode*> name_node = Require(item, "name", label, "name: web_servers");
  if (!name_node.ok()) return name_node.status();
  absl::StatusOr<std::string> name = String(**name_node, Where("name", label));
  if (!name.ok()) return name.status();
  std::string where = absl::StrFormat("upstream '%s'", *name);
  CONFIG_RETURN_IF_ERROR(RefuseSeedKeys(item, where));
  CONFIG_RETURN_IF_ERROR(
      CheckKeys(item,
                {"name", "servers", "keepalive", "algorithm", "hash_on", "sticky", "slow_start",
                 "health_check", "passive_health", "retry", "tls"},
                where));
  if (auto it = upstream_index_.find(*name); it != upstream_index_.end()) {
    Mark first = upstream_marks_[it->second];
    return Error(**name_node,
                 absl::StrFormat("upstream name '%s' is already used at line %d, column %d; "
                                 "give each upstream a unique name",
                                 *name, first.line, first.column));
  }
  Upstream upstream;
  upstream.name = *name;
  absl::StatusOr<const YamlNode*> servers =
      Require(item, "servers", where, "servers: [\"127.0.0.1:3001\"]");
  if (!servers.ok()) return servers.status();
  CONFIG_RETURN_IF_ERROR(
      ExpectList(**servers, Where("servers", where), "[\"127.0.0.1:3001\", \"127.0.0.1:3002\"]"));
  if ((*servers)->items.empty()) {
    return Error(**servers, absl::StrFormat("'servers' in %s is empty; list at least one "
                                            "backend, such as [\"127.0.0.1:3001\"]",
                                            where));
  }
  std::vector<const YamlNode*> check_paths;  // backends' health_check_path values
  for (size_t j = 0; j < (*servers)->items.size(); ++j) {
    std::string backend_where = absl::StrFormat("server #%d of %s", j + 1, where);
    CONFIG_RETURN_IF_ERROR(
        LoadBackend((*servers)->items[j], backend_where, &upstream, &check_paths));
  }
  if (const YamlNode* keepalive = item.Find("keepalive")) {
    absl::StatusOr<int64_t> k = Integer(*keepalive, Where("keepalive", where), 0, 100'000);
    if (!k.ok()) return k.status();
    upstream.keepalive = static_cast<uint32_t>(*k);
  }
  CONFIG_RETURN_IF_ERROR(LoadBalancing(item, where, &upstream));
  if (const YamlNode* tls = item.Find("tls")) {
    CONFIG_RETURN_IF_ERROR(LoadUpstreamTls(*tls, Where("tls", where), &upstream.tls));
  }
  if (const YamlNode* sticky = item.Find("sticky")) {
    CONFIG_RETURN_IF_ERROR(LoadSticky(*sticky, where, &upstream.sticky));
  }

  // Health checks: global.health_check's values, then this upstream's own keys over them.
  upstream.health = global_health_;
  const YamlNode* type_node = nullptr;
  if (const YamlNode* health = item.Find("health_check")) {
    CONFIG_RETURN_IF_ERROR(ExpectMapping(*health, Where("health_check", where)));
    HealthOrigins origins = global_health_origins_;
    CONFIG_RETURN_IF_ERROR(LoadHealthCheck(*health, absl::StrFormat("health_check of %s", where),
                                           &upstream.health, &origins, &type_node));
  }
  // A backend's health_check_path gives that backend an HTTP check on its path (the others
  // keep the upstream's check), so it contradicts an explicit type: tcp.
  if (!check_paths.empty() && type_node != nullptr &&
      upstream.health.type == HealthCheck::Type::kTcp) {
    return Error(*check_paths[0],
                 absl::StrFormat("'health_check_path' asks for an HTTP check, but the "
                                 "health_check of %s says type: tcp (line %d, column %d); "
                                 "remove one of them",
                                 where, type_node->mark.line, type_node->mark.column));
  }
  if (const YamlNode* passive = item.Find("passive_health")) {
    CONFIG_RETURN_IF_ERROR(ExpectMapping(*passive, Where("passive_health", where)));
    CONFIG_RETURN_IF_ERROR(LoadPassiveHealth(
        *passive, absl::StrFormat("passive_health of %s", where), &upstream.passive));
  }
  if (const YamlNode* retry = item.Find("retry")) {
    CONFIG_RETURN_IF_ERROR(ExpectMapping(*retry, Where("retry", where)));
    CONFIG_RETURN_IF_ERROR(
        LoadRetry(*retry, absl::StrFormat("retry of %s", where), &upstream.retry));
  }

  upstream_index_.emplace(upstream.name, static_cast<uint32_t>(cfg_.upstreams.size()));
  upstream_marks_.push_back((*name_node)->mark);
  cfg_.upstreams.push_back(std::move(upstream));
  return absl::OkStatus();
}

absl::Status Loader::LoadUpstreams(const YamlNode& list) {
  CONFIG_RETURN_IF_ERROR(ExpectList(list, "'upstreams'", "[{name: web, servers: [...]}]"));
  if (list.items.empty()) {
    return Error(list,
                 "'upstreams' is empty; add at least one upstream, such as "
                 "{name: web, servers: [\"127.0.0.1:3001\"]}");
  }
  for (size_t i = 0; i < list.items.size(); ++i) {
    CONFIG_RETURN_IF_ERROR(LoadUpstream(list.items[i], i));
  }
  return absl::OkStatus();
}

absl::Status Loader::LoadRoutes(const YamlNode& list, std::string_view where, Server* server) {
  CONFIG_RETURN_IF_ERROR(
      ExpectList(list, Where("routes", where), "[{path: /api/, upstream: api_servers}]"));
  std::vector<Mark> path_marks;
  for (size_t i = 0; i < list.items.size(); ++i) {
    const YamlNode& item = list.items[i];
    std::string label = absl::StrFormat("route #%d of %s", i + 1, where);
    CONFIG_RETURN_IF_ERROR(ExpectMapping(item, label));
    CONFIG_RETURN_IF_ERROR(CheckKeys(item, {"path", "upstream", "tries"}, label));
    absl::StatusOr<const YamlNode*> path_node = Require(item, "path", label, "path: /api/");
    if (!path_node.ok()) return path_node.status();
    absl::StatusOr<std::string> path = String(**path_node, Where("path", label));
    if (!path.ok()) return path.status();
    if ((*path)[0] != '/') {
      return Error(**path_node, absl::StrFormat("route path '%s' in %s does not start with '/'; "
                                                "write it as '/%s'",
                                                *path, where, *path));
    }
    for (size_t j = 0; j < server->routes.size(); ++j) {
      if (server->routes[j].path_prefix == *path) {
        return Error(**path_node,
                     absl::StrFormat("route path '%s' appears twice in %s (first at line %d, "
                                     "column %d); keep one of them",
                                     *path, where, path_marks[j].line, path_marks[j].column));
      }
    }
    absl::StatusOr<const YamlNode*> upstream_node =
        Require(item, "upstream", label, "upstream: <name of an upstream>");
    if (!upstream_node.ok()) return upstream_node.status();
    absl::StatusOr<uint32_t> upstream = UpstreamRef(**upstream_node, Where("upstream", label));
    if (!upstream.ok()) return upstream.status();
    Route route{*path, *upstream};
    if (const YamlNode* tries = item.Find("tries")) {
      absl::StatusOr<int64_t> n = Integer(*tries, Where("tries", label), 1, 10);
      if (!n.ok()) return n.status();
      route.tries = static_cast<uint32_t>(*n);
    }
    server->routes.push_back(std::move(route));
    path_marks.push_back((*path_node)->mark);
  }
  return absl::OkStatus();
}

absl::Status Loader::LoadServer(const YamlNode& item, size_t index) {
  std::string label = absl::StrFormat("server #%d", index + 1);
  CONFIG_RETURN_IF_ERROR(ExpectMapping(item, label));
  Server server;
  ServerMarks marks;
  marks.at = item.mark;
  marks.name = item.mark;

  // A label for messages before the name is validated: the name, else the first server_name.
  const YamlNode* name_node = item.Find("name");
  const YamlNode* names_node = item.Find("server_name");
  if (name_node != nullptr && name_node->kind == Kind::kString) {
    label = absl::StrFormat("server '%s'", name_node->text);
  } else if (names_node != nullptr && names_node->kind == Kind::kString) {
    label = absl::StrFormat("server '%s'", names_node->text);
  } else if (names_node != nullptr && names_node->kind == Kind::kSequence &&
             !names_node->items.empty() && names_node->items[0].kind == Kind::kString) {
    label = absl::StrFormat("server '%s'", names_node->items[0].text);
  }
  CONFIG_RETURN_IF_ERROR(CheckKeys(
      item,
      {"name", "server_name", "upstream", "tls", "default", "routes", "redirect_https", "hsts"},
      label));

  if (const YamlNode* flag = item.Find("default")) {
    absl::StatusOr<bool> v = Bool(*flag, Where("default", label));
    if (!v.ok()) return v.status();
    server.default_server = *v;
    marks.default_flag = flag->mark;
  }
  if (const YamlNode* tls = item.Find("tls")) {
    absl::StatusOr<bool> v = Bool(*tls, Where("tls", label));
    if (!v.ok()) return v.status();
    server.tls = *v;
  }
  if (const YamlNode* r = item.Find("redirect_https")) {
    absl::StatusOr<bool> v = Bool(*r, Where("redirect_https", label));
    if (!v.ok()) return v.status();
    server.redirect_https = *v;
  }
  if (const YamlNode* h = item.Find("hsts")) {
    if (h->kind == Kind::kBool) {
      absl::StatusOr<bool> v = Bool(*h, Where("hsts", label));
      if (!v.ok()) return v.status();
      if (*v) server.hsts = "max-age=31536000";
    } else {
      absl::StatusOr<std::string> v = String(*h, Where("hsts", label));
      if (!v.ok()) return v.status();
      if (!absl::StartsWithIgnoreCase(*v, "max-age=") ||
          v->find_first_of("\r\n") != std::string::npos) {
        return Error(*h, absl::StrFormat("%s must be true, or a header value that starts with "
                                         "max-age=, such as \"max-age=31536000; "
                                         "includeSubDomains\"",
                                         Where("hsts", label)));
      }
      server.hsts = *v;
    }
  }

  if (names_node == nullptr) {
    if (!server.default_server) {
      return Error(item, absl::StrFormat("%s has no 'server_name' key; add server_name: "
                                         "[\"example.com\"], or default: true to answer every "
                                         "host that no server names",
                                         label));
    }
  } else {
    std::vector<const YamlNode*> entries;
    if (names_node->kind == Kind::kSequence) {
      for (const YamlNode& n : names_node->items) entries.push_back(&n);
      if (entries.empty() && !server.default_server) {
        return Error(*names_node,
                     absl::StrFormat("'server_name' in %s is empty; list at least one host "
                                     "name, or set default: true",
                                     label));
      }
    } else if (names_node->IsScalar()) {
      entries.push_back(names_node);
    } else {
      return TypeError(*names_node, Where("server_name", label), "a string or a list of strings",
                       "write server_name: [\"acme.com\", \"www.acme.com\"]");
    }
    for (size_t i = 0; i < entries.size(); ++i) {
      absl::StatusOr<std::string> name = ServerName(
          *entries[i], names_node->kind == Kind::kSequence
                           ? absl::StrFormat("entry #%d of 'server_name' in %s", i + 1, label)
                           : Where("server_name", label));
      if (!name.ok()) return name.status();
      for (size_t j = 0; j < server.server_names.size(); ++j) {
        if (server.server_names[j] == *name) {
          return Error(*entries[i],
                       absl::StrFormat("server name '%s' appears twice in %s (first at line %d, "
                                       "column %d); list it once",
                                       *name, label, marks.server_names[j].line,
                                       marks.server_names[j].column));
        }
      }
      server.server_names.push_back(*name);
      marks.server_names.push_back(entries[i]->mark);
    }
  }

  if (name_node != nullptr) {
    absl::StatusOr<std::string> name = String(*name_node, Where("name", label));
    if (!name.ok()) return name.status();
    server.name = *name;
    marks.name = name_node->mark;
  } else if (!server.server_names.empty()) {
    server.name = server.server_names[0];
    marks.name = marks.server_names[0];
  } else {
    server.name = "default";
  }
  label = absl::StrFormat("server '%s'", server.name);
  if (auto it = server_index_.find(server.name); it != server_index_.end()) {
    Mark first = server_marks_[it->second].name;
    std::string how = name_node != nullptr ? "" : " (taken from its first server_name)";
    if (name_node == nullptr && server.server_names.empty()) {
      how = " (given to a default server without a name)";
    }
    return Error(marks.name, absl::StrFormat("server name '%s'%s is already used by the server "
                                             "at line %d, column %d; give each server a unique "
                                             "'name' key",
                                             server.name, how, first.line, first.column));
  }

  absl::StatusOr<const YamlNode*> upstream_node =
      Require(item, "upstream", label, "upstream: <name of an upstream>");
  if (!upstream_node.ok()) return upstream_node.status();
  absl::StatusOr<uint32_t> upstream = UpstreamRef(**upstream_node, Where("upstream", label));
  if (!upstream.ok()) return upstream.status();
  server.upstream = *upstream;

  if (const YamlNode* routes = item.Find("routes")) {
    CONFIG_RETURN_IF_ERROR(LoadRoutes(*routes, label, &server));
  }

  server_index_.emplace(server.name, static_cast<uint32_t>(cfg_.servers.size()));
  server_marks_.push_back(std::move(marks));
  cfg_.servers.push_back(std::move(server));
  return absl::OkStatus();
}

absl::Status Loader::LoadServers(const YamlNode& list) {
  CONFIG_RETURN_IF_ERROR(
      ExpectList(list, "'servers'", "[{server_name: [acme.com], upstream: web_servers}]"));
  if (list.items.empty()) {
    return Error(list,
                 "'servers' is empty; add at least one server, such as "
                 "{server_name: [\"acme.com\"], upstream: web_servers}");
  }
  for (size_t i = 0; i < list.items.size(); ++i) {
    CONFIG_RETURN_IF_ERROR(LoadServer(list.items[i], i));
  }
  return absl::OkStatus();
}

absl::Status Loader::AddListener(Listener listener, Mark name_at, Mark bind_at) {
  for (size_t i = 0; i < cfg_.listeners.size(); ++i) {
    const Listener& seen = cfg_.listeners[i];
    if (seen.name == listener.name) {
      Mark first = listener_name_marks_[i];
      std::string by =
          from_port_ && i == 0 ? " by global.port, which makes a listener of that name" : "";
      return Error(name_at, absl::StrFormat("listener name '%s' is already used at line %d, "
                                            "column %d%s; give each listener a unique name",
                                            listener.name, first.line, first.column, by));
    }
    if (seen.bind.text == listener.bind.text) {
      Mark first = listener_bind_marks_[i];
      std::string other = from_port_ && i == 0 ? std::string("global.port")
                                               : absl::StrFormat("listener '%s'", seen.name);
      return Error(bind_at, absl::StrFormat("listener '%s' binds %s, which %s already binds at "
                                            "line %d, column %d; use another port or serve both "
                                            "sets of servers from one listener",
                                            listener.name, listener.bind.text, other, first.line,
                                            first.column));
    }
  }
  listener_name_marks_.push_back(name_at);
  listener_bind_marks_.push_back(bind_at);
  cfg_.listeners.push_back(std::move(listener));
  return absl::OkStatus();
}

absl::Status Loader::LoadListener(const YamlNode& item, size_t index) {
  std::string label = absl::StrFormat("listener #%d", index + 1);
  CONFIG_RETURN_IF_ERROR(ExpectMapping(item, label));
  absl::StatusOr<const YamlNode*> name_node = Require(item, "name", label, "name: public");
  if (!name_node.ok()) return name_node.status();
  absl::StatusOr<std::string> name = String(**name_node, Where("name", label));
  if (!name.ok()) return name.status();
  label = absl::StrFormat("listener '%s'", *name);
  CONFIG_RETURN_IF_ERROR(CheckKeys(item, {"name", "bind", "servers", "tls"}, label));

  Listener listener;
  listener.name = *name;
  absl::StatusOr<const YamlNode*> bind_node =
      Require(item, "bind", label, "bind: \"0.0.0.0:8080\"");
  if (!bind_node.ok()) return bind_node.status();
  absl::StatusOr<SocketAddress> bind = Address(**bind_node, Where("bind", label));
  if (!bind.ok()) return bind.status();
  listener.bind = *std::move(bind);
  if (const YamlNode* tls = item.Find("tls")) {
    CONFIG_RETURN_IF_ERROR(LoadTls(*tls, Where("tls", label), &listener.tls));
  }

  if (const YamlNode* servers = item.Find("servers")) {
    CONFIG_RETURN_IF_ERROR(ExpectList(*servers, Where("servers", label), "[web, api]"));
    if (servers->items.empty()) {
      return Error(*servers, absl::StrFormat("'servers' in %s is empty; name at least one "
                                             "server, or remove the key to serve all servers",
                                             label));
    }
    for (size_t i = 0; i < servers->items.size(); ++i) {
      const YamlNode& ref = servers->items[i];
      absl::StatusOr<std::string> server =
          String(ref, absl::StrFormat("entry #%d of 'servers' in %s", i + 1, label));
      if (!server.ok()) return server.status();
      auto it = server_index_.find(*server);
      if (it == server_index_.end()) {
        std::vector<std::string> names;
        for (const Server& s : cfg_.servers) names.push_back(s.name);
        std::string message = absl::StrFormat("server '%s' is not defined", *server);
        std::string suggestion = Closest(*server, names);
        if (!suggestion.empty()) {
          absl::StrAppendFormat(&message, "; did you mean '%s'?", suggestion);
        }
        absl::StrAppendFormat(&message,
                              " (defined servers: %s; a server's name is its 'name' key, else "
                              "its first server_name)",
                              Quoted(names));
        return Error(ref, message);
      }
      if (std::find(listener.servers.begin(), listener.servers.end(), it->second) !=
          listener.servers.end()) {
        return Error(ref, absl::StrFormat("server '%s' is listed twice in %s; list it once",
                                          *server, label));
      }
      listener.servers.push_back(it->second);
    }
  }
  return AddListener(std::move(listener), (*name_node)->mark, (*bind_node)->mark);
}

absl::Status Loader::LoadListeners(const YamlNode* list) {
  if (global_port_ != nullptr) {
    absl::StatusOr<SocketAddress> bind =
        ParseSocketAddress(absl::StrFormat(":%s", global_port_->text));
    if (!bind.ok()) return Error(*global_port_, std::string(bind.status().message()));
    Listener listener;
    listener.name = "default";
    listener.bind = *std::move(bind);
    listener.tls = global_listener_tls_;  // global.tls: TLS on global.port
    from_port_ = true;
    CONFIG_RETURN_IF_ERROR(
        AddListener(std::move(listener), global_port_->mark, global_port_->mark));
  }
  if (global_tls_ != nullptr && global_port_ == nullptr) {
    return Error(*global_tls_,
                 "global.tls terminates TLS on global.port, and there is no global.port; add "
                 "port: 443 beside it, or move this block under a listener as its tls:");
  }
  if (list != nullptr) {
    CONFIG_RETURN_IF_ERROR(
        ExpectList(*list, "'listeners'", "[{name: public, bind: \"0.0.0.0:8080\"}]"));
    for (size_t i = 0; i < list->items.size(); ++i) {
      CONFIG_RETURN_IF_ERROR(LoadListener(list->items[i], i));
    }
  }
  return absl::OkStatus();
}

// Per listener: a host name belongs to one server, and there is at most one default server.
absl::Status Loader::CheckListenerServers() {
  for (size_t l = 0; l < cfg_.listeners.size(); ++l) {
    const Listener& listener = cfg_.listeners[l];
    std::vector<uint32_t> members = listener.servers;
    if (members.empty()) {
      for (uint32_t i = 0; i < cfg_.servers.size(); ++i) members.push_back(i);
    }
    std::sort(members.begin(), members.end());  // report the later server in the file
    std::map<std::string_view, uint32_t> owner;
    std::optional<uint32_t> default_server;
    for (uint32_t s : members) {
      const Server& server = cfg_.servers[s];
      for (size_t k = 0; k < server.server_names.size(); ++k) {
        auto [it, inserted] = owner.emplace(server.server_names[k], s);
        if (inserted) continue;
        const Server& first = cfg_.servers[it->second];
        Mark first_at = server_marks_[it->second].at;
        return Error(server_marks_[s].server_names[k],
                     absl::StrFormat("server name '%s' is claimed by server '%s' and by server "
                                     "'%s' (line %d), and listener '%s' serves both; remove it "
                                     "from one of them or serve them from different listeners",
                                     server.server_names[k], server.name, first.name, first_at.line,
                                     listener.name));
      }
      if (server.default_server) {
        if (default_server.has_value()) {
          const Server& first = cfg_.servers[*default_server];
          Mark first_at = server_marks_[*default_server].default_flag;
          return Error(server_marks_[s].default_flag,
                       absl::StrFormat("listener '%s' would have two default servers, '%s' "
                                       "(line %d) and '%s'; keep default: true on only one of "
                                       "them, or serve them from different listeners",
                                       listener.name, first.name, first_at.line, server.name));
        }
        default_server = s;
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Config> Loader::Load(std::string_view text) {
  absl::StatusOr<YamlDocument> doc = ParseYaml(text, file_);
  if (!doc.ok()) return doc.status();
  const YamlNode& root = doc->root;
  if (doc->empty || root.kind == Kind::kNull) {
    return Error(doc->start,
                 "the configuration is empty; it needs at least 'global: {port: ...}' "
                 "(or 'listeners'), 'servers' and 'upstreams'");
  }
  if (root.kind != Kind::kMapping) {
    return TypeError(root, "the top level of the configuration", "a mapping",
                     "start with keys such as global:, servers: and upstreams:");
  }
  static constexpr std::string_view kGlobalKeys[] = {
      "port", "workers", "tls", "log", "timeouts", "limits", "buffers", "health_check"};
  for (const YamlNode::Entry& entry : root.entries) {
    if (std::find(std::begin(kGlobalKeys), std::end(kGlobalKeys), entry.key.text) !=
        std::end(kGlobalKeys)) {
      return Error(entry.key, absl::StrFormat("unknown key '%s' at the top level; it belongs "
                                              "under 'global:', indented",
                                              entry.key.text));
    }
  }
  CONFIG_RETURN_IF_ERROR(RefuseSeedKeys(root, "the top level"));
  CONFIG_RETURN_IF_ERROR(
      CheckKeys(root, {"global", "listeners", "servers", "upstreams"}, "the top level"));

  cfg_.source = file_;
  const YamlNode* global = root.Find("global");
  if (global != nullptr) CONFIG_RETURN_IF_ERROR(LoadGlobal(*global));

  absl::StatusOr<const YamlNode*> upstreams =
      Require(root, "upstreams", "the configuration",
              "an upstreams list, such as upstreams: [{name: web, servers: [\"127.0.0.1:3001\"]}]");
  if (!upstreams.ok()) return upstreams.status();
  absl::StatusOr<const YamlNode*> servers =
      Require(root, "servers", "the configuration",
              "a servers list, such as servers: [{server_name: [\"acme.com\"], upstream: web}]");
  if (!servers.ok()) return servers.status();
  CONFIG_RETURN_IF_ERROR(LoadUpstreams(**upstreams));
  CONFIG_RETURN_IF_ERROR(LoadServers(**servers));

  CONFIG_RETURN_IF_ERROR(LoadListeners(root.Find("listeners")));
  if (cfg_.listeners.empty()) {
    return Error(doc->start,
                 "no listener is configured, so ringway would accept no "
                 "connections; add global: {port: 8080} or a listeners list such "
                 "as listeners: [{name: public, bind: \"0.0.0.0:8080\"}]");
  }
  CONFIG_RETURN_IF_ERROR(CheckListenerServers());

  for (const Server& server : cfg_.servers) {
    if (!server.tls) continue;
    cfg_.upstreams[server.upstream].tls.enabled = true;
    for (const Route& route : server.routes) cfg_.upstreams[route.upstream].tls.enabled = true;
  }
  // The prober speaks plain HTTP: an HTTP check on a TLS backend would always fail.
  for (size_t i = 0; i < cfg_.upstreams.size(); ++i) {
    const Upstream& u = cfg_.upstreams[i];
    if (u.tls.enabled && u.health.enabled && u.health.type == HealthCheck::Type::kHttp) {
      return Error(upstream_marks_[i],
                   absl::StrFormat("upstream '%s' speaks TLS to its backends, and HTTP health "
                                   "checks do not speak TLS yet; use health_check: {type: tcp} "
                                   "(and no health_check_path) for it",
                                   u.name));
    }
  }
  return std::move(cfg_);
}

}  // namespace

absl::StatusOr<Config> LoadString(std::string_view yaml, std::string_view filename) {
  Loader loader(filename);
  return loader.Load(yaml);
}

absl::StatusOr<Config> LoadFile(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  auto fail = [&](int err) -> absl::Status {
    std::string message =
        absl::StrFormat("cannot read config file '%s': %s", path, std::strerror(err));
    if (err == ENOENT) return absl::NotFoundError(message);
    if (err == EACCES) return absl::PermissionDeniedError(message);
    return absl::FailedPreconditionError(message);
  };
  if (!file) return fail(errno);
  std::string text;
  char buf[64 * 1024];
  for (;;) {
    size_t n = std::fread(buf, 1, sizeof(buf), file.get());
    text.append(buf, n);
    if (text.size() > kMaxFileBytes) {
      return absl::FailedPreconditionError(
          absl::StrFormat("config file '%s' is larger than %d MiB; is it the right file?", path,
                          kMaxFileBytes >> 20));
    }
    if (n < sizeof(buf)) break;
  }
  if (std::ferror(file.get())) return fail(errno);
  return LoadString(text, path);
}

}  // namespace ringway::config
