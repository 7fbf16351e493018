// The schemas of the proxies ringway replaces, read as written. The schema is recognised from
// the top-level keys (never guessed: keys of two schemas in one file are an error naming both),
// then the file is rewritten as a native tree whose nodes keep their positions in the file, and
// that tree is loaded as any native file is. So a bad value in an old file gets the same checks
// and the same "FILE:LINE:COL: what to change" as in a native one, and `ringway config print`
// shows the native equivalent (Config::origins says which part came from where).
//
//   server/backends (a Rust reverse proxy's config.yaml):
//     server: {host, port} -> listener "default"; backends -> upstream "backends";
//     load_balancing.strategy -> its algorithm; health_checks -> its health_check;
//     logging -> global.log; timeouts.{request,connect}_timeout_seconds -> global.timeouts.
//   services (a Pingora proxy's config/default.yaml):
//     each service -> a listener, a default server and an upstream of its own, with TCP
//     checks (timeout_ms 500, frequency_secs 5 unless given; one failure takes a backend out
//     and one pass brings it back); tls: true -> TLS to upstreams.
//   virtual hosts (a Pingora virtual-host proxy's config.toml):
//     [proxy] listen_addr -> listener "https" (self-signed certificate: the file names none),
//     listen_addr_http -> listener "http", management_api_addr -> global.admin.bind;
//     [metrics] -> global.metrics and global.admin.metrics_bind; [health_check] ->
//     global.health_check; [[virtual_hosts]] -> servers (domain, enabled_backends_tag,
//     http_to_https -> redirect_https); [[backends]] -> upstream "backends" (id, address, tags).
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "config/loader.h"

namespace ringway::config::internal {
namespace {

struct ShapeInfo {
  Shape shape;
  std::string_view name;               // for messages
  std::vector<std::string_view> keys;  // its top-level keys
};

// clang-format off
const ShapeInfo kShapes[] = {
    {Shape::kNative, "ringway's own schema (global, listeners, servers, upstreams)",
     {"global", "listeners", "servers", "upstreams"}},
    {Shape::kServer, "the server/backends schema (server, backends, load_balancing, "
     "health_checks, logging, timeouts)",
     {"server", "backends", "load_balancing", "health_checks", "logging", "timeouts"}},
    {Shape::kServices, "the services schema (services: [{name, bind_address, upstreams}])",
     {"services"}},
    {Shape::kVhosts, "the virtual-hosts schema ([proxy], [logging], [metrics], [health_check], "
     "[[virtual_hosts]], [[backends]])",
     {"proxy", "logging", "metrics", "health_check", "virtual_hosts", "backends",
      "lets_encrypt"}},
};
// clang-format on

// Keys ringway's own schema has under global:, which a native file may have put at the top by
// mistake; such a file gets the "belongs under 'global:'" message, not a mixed-schema one.
constexpr std::string_view kNativeGlobalKeys[] = {
    "port",    "workers",      "tls",
    "log",     "timeouts",     "limits",
    "buffers", "health_check", "underscores_in_headers",
    "http2"};

bool IsNativeGlobalKey(std::string_view key) {
  return std::find(std::begin(kNativeGlobalKeys), std::end(kNativeGlobalKeys), key) !=
         std::end(kNativeGlobalKeys);
}

const ShapeInfo& InfoOf(Shape s) {
  for (const ShapeInfo& info : kShapes) {
    if (info.shape == s) return info;
  }
  return kShapes[0];
}

bool Has(const std::vector<std::string_view>& keys, std::string_view key) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

// Node builders: generated nodes carry the position of what they were made from.
YamlNode Scalar(YamlNode::Kind kind, std::string text, Mark at) {
  YamlNode n;
  n.kind = kind;
  n.text = std::move(text);
  n.mark = at;
  return n;
}
YamlNode Text(std::string text, Mark at) {
  return Scalar(YamlNode::Kind::kString, std::move(text), at);
}
YamlNode Flag(bool v, Mark at) { return Scalar(YamlNode::Kind::kBool, v ? "true" : "false", at); }
YamlNode Number(int64_t v, Mark at) { return Scalar(YamlNode::Kind::kInt, std::to_string(v), at); }
YamlNode MapAt(Mark at) {
  YamlNode n;
  n.kind = YamlNode::Kind::kMapping;
  n.mark = at;
  return n;
}
YamlNode ListAt(Mark at) {
  YamlNode n;
  n.kind = YamlNode::Kind::kSequence;
  n.mark = at;
  return n;
}
void Put(YamlNode* map, std::string key, YamlNode value) {
  YamlNode::Entry e;
  e.key = Text(std::move(key), value.mark);
  e.value = std::move(value);
  map->entries.push_back(std::move(e));
}

}  // namespace

absl::StatusOr<Shape> Loader::DetectShape(const YamlNode& root) const {
  // First, keys no schema has: the suggestion looks at every schema's keys.
  std::vector<std::string_view> all;
  for (const ShapeInfo& info : kShapes) {
    for (std::string_view k : info.keys) {
      if (!Has(all, k)) all.push_back(k);
    }
  }
  bool native = false;
  for (const YamlNode::Entry& e : root.entries) {
    if (Has(kShapes[0].keys, e.key.text)) native = true;
  }
  // A native file with a global key at the top gets its own message (Load).
  for (const YamlNode::Entry& e : root.entries) {
    if (Has(all, e.key.text)) continue;
    if (IsNativeGlobalKey(e.key.text)) continue;
    std::string message = absl::StrFormat("unknown key '%s' in the top level", e.key.text);
    std::string suggestion = Closest(e.key.text, all);
    if (!suggestion.empty()) {
      absl::StrAppendFormat(&message, "; did you mean '%s'?", suggestion);
    } else {
      absl::StrAppendFormat(&message,
                            "; ringway reads its own schema (global, listeners, servers, "
                            "upstreams) and those of the proxies it replaces (server/backends, "
                            "services, virtual hosts): see docs/configuration.md, \"Coming "
                            "from another proxy\"");
    }
    return Error(e.key, message);
  }
  // A native file holds only native keys (and misplaced global ones, reported by Load).
  if (native) {
    const YamlNode::Entry* first_native = nullptr;
    for (const YamlNode::Entry& e : root.entries) {
      if (Has(kShapes[0].keys, e.key.text)) {
        first_native = &e;
        break;
      }
    }
    for (const YamlNode::Entry& e : root.entries) {
      if (Has(kShapes[0].keys, e.key.text) || IsNativeGlobalKey(e.key.text)) continue;
      std::vector<std::string> owners;
      for (const ShapeInfo& info : kShapes) {
        if (Has(info.keys, e.key.text)) owners.push_back(std::string(info.name));
      }
      std::string message = absl::StrFormat(
          "'%s' belongs to %s, but '%s' at line %d, column %d belongs to %s; a file is "
          "written in one schema: keep one set of keys (`ringway config print --config FILE` "
          "shows a file of any schema in ringway's own)",
          e.key.text, absl::StrJoin(owners, " and to "), first_native->key.text,
          first_native->key.mark.line, first_native->key.mark.column, kShapes[0].name);
      if (e.key.text == "load_balancing") {
        message +=
            "; in ringway's own schema the balancing algorithm is set on each upstream with "
            "'algorithm', such as algorithm: round_robin (see docs/configuration.md, \"Settings "
            "from earlier proxies\")";
      }
      return Error(e.key, message);
    }
    return Shape::kNative;
  }
  // Then the schema: a key only one schema has decides it. Keys of two schemas cannot mix.
  const YamlNode::Entry* decided_by = nullptr;
  Shape decided = Shape::kNative;
  for (const YamlNode::Entry& e : root.entries) {
    if (native && IsNativeGlobalKey(e.key.text)) continue;  // "belongs under 'global:'" (Load)
    std::vector<Shape> owners;
    for (const ShapeInfo& info : kShapes) {
      if (Has(info.keys, e.key.text)) owners.push_back(info.shape);
    }
    if (owners.size() != 1) continue;  // shared by two schemas: backends, logging
    if (decided_by == nullptr) {
      decided_by = &e;
      decided = owners[0];
    } else if (owners[0] != decided) {
      // In a native file, the foreign key is the one in the wrong place.
      const YamlNode::Entry* at = &e;
      const YamlNode::Entry* other = decided_by;
      Shape at_shape = owners[0];
      Shape other_shape = decided;
      if (owners[0] == Shape::kNative) {
        std::swap(at, other);
        std::swap(at_shape, other_shape);
      }
      std::string message = absl::StrFormat(
          "'%s' belongs to %s, but '%s' at line %d, column %d belongs to %s; a file is written "
          "in one schema: keep one set of keys (`ringway config print --config FILE` shows a "
          "file of any schema in ringway's own)",
          at->key.text, InfoOf(at_shape).name, other->key.text, other->key.mark.line,
          other->key.mark.column, InfoOf(other_shape).name);
      if (other_shape == Shape::kNative && at->key.text == "load_balancing") {
        message +=
            "; in ringway's own schema the balancing algorithm is set on each upstream "
            "with 'algorithm', such as algorithm: round_robin (see docs/configuration.md, "
            "\"Settings from earlier proxies\")";
      }
      return Error(at->key, message);
    }
  }
  if (native) return Shape::kNative;
  if (decided_by != nullptr) return decided;
  // Only keys two schemas share (backends, logging): the file's syntax decides.
  for (const YamlNode::Entry& e : root.entries) {
    if (e.key.text == "backends" || e.key.text == "logging") {
      return IsToml() ? Shape::kVhosts : Shape::kServer;
    }
  }
  return Shape::kNative;
}

void Loader::Note(std::string path, Mark at, std::string_view what) {
  origins_.push_back(Origin{std::move(path), absl::StrCat(At(at), ": ", std::string(what))});
}

// A log level of the schemas that have trace (finer than debug): ringway's finest is debug.
absl::StatusOr<YamlNode> Loader::SeedLogLevel(const YamlNode& node, std::string_view what) const {
  absl::StatusOr<std::string> v = String(node, what);
  if (!v.ok()) return v.status();
  std::string level = Lowered(*v);
  if (level == "trace") level = "debug";
  if (level == "warning") level = "warn";
  return Text(level, node.mark);
}

// server/backends ------------------------------------------------------------------------------

absl::StatusOr<YamlNode> Loader::FromServerShape(const YamlNode& root) {
  constexpr std::string_view kWhere = "the top level (server/backends schema)";
  CONFIG_RETURN_IF_ERROR(CheckKeys(
      root, {"server", "backends", "load_balancing", "health_checks", "logging", "timeouts"},
      kWhere));
  YamlNode out = MapAt(root.mark);
  YamlNode global = MapAt(root.mark);

  absl::StatusOr<const YamlNode*> server =
      Require(root, "server", kWhere, "server: {host: \"127.0.0.1\", port: 3000}");
  if (!server.ok()) return server.status();
  CONFIG_RETURN_IF_ERROR(ExpectMapping(**server, "'server'"));
  CONFIG_RETURN_IF_ERROR(CheckKeys(**server, {"host", "port"}, "server"));
  absl::StatusOr<const YamlNode*> port_node = Require(**server, "port", "server", "port: 3000");
  if (!port_node.ok()) return port_node.status();
  absl::StatusOr<int64_t> port = Integer(**port_node, "'port' in server", 1, 65535);
  if (!port.ok()) return port.status();
  std::string host = "127.0.0.1";
  Mark host_at = (*server)->mark;
  if (const YamlNode* h = (*server)->Find("host")) {
    absl::StatusOr<std::string> v = String(*h, "'host' in server");
    if (!v.ok()) return v.status();
    host = Lowered(*v);
    host_at = h->mark;
    if (host == "localhost") host = "127.0.0.1";
  }
  std::string bind = host.find(':') != std::string::npos ? absl::StrFormat("[%s]:%d", host, *port)
                                                         : absl::StrFormat("%s:%d", host, *port);
  if (!ParseSocketAddress(bind).ok()) {
    return Error(host_at, absl::StrFormat("'host' in server is '%s', not an IP address; write "
                                          "one such as \"127.0.0.1\" (this machine only) or "
                                          "\"0.0.0.0\" (every interface)",
                                          host));
  }
  YamlNode listener = MapAt((*server)->mark);
  Put(&listener, "name", Text("default", (*server)->mark));
  Put(&listener, "bind", Text(bind, host_at));
  YamlNode listeners = ListAt((*server)->mark);
  listeners.items.push_back(std::move(listener));
  Note("listeners[0]", (*server)->mark,
       absl::StrFormat("server: {host: %s, port: %d}", host, *port));

  absl::StatusOr<const YamlNode*> backends =
      Require(root, "backends", kWhere,
              "backends: [{url: \"http://127.0.0.1:3001\", weight: 1, health_check_path: "
              "\"/health\"}]");
  if (!backends.ok()) return backends.status();
  YamlNode upstream = MapAt((*backends)->mark);
  Put(&upstream, "name", Text("backends", (*backends)->mark));
  Put(&upstream, "servers", **backends);
  Note("upstreams[0]", (*backends)->mark, "backends");
  if (const YamlNode* lb = root.Find("load_balancing")) {
    CONFIG_RETURN_IF_ERROR(ExpectMapping(*lb, "'load_balancing'"));
    CONFIG_RETURN_IF_ERROR(CheckKeys(*lb, {"strategy"}, "load_balancing"));
    if (const YamlNode* strategy = lb->Find("strategy")) {
      absl::StatusOr<std::string> v = String(*strategy, "'strategy' in load_balancing");
      if (!v.ok()) return v.status();
      Put(&upstream, "algorithm", Text(Lowered(*v), strategy->mark));
      Note("upstreams[0]", strategy->mark, absl::StrCat("load_balancing.strategy: ", *v));
    }
  }
  if (const YamlNode* health = root.Find("health_checks")) {
    CONFIG_RETURN_IF_ERROR(ExpectMapping(*health, "'health_checks'"));
    Put(&upstream, "health_check", *health);
    Note("upstreams[0].health_check", health->mark, "health_checks");
  }
  YamlNode upstreams = ListAt((*backends)->mark);
  upstreams.items.push_back(std::move(upstream));

  YamlNode srv = MapAt((*server)->mark);
  Put(&srv, "name", Text("default", (*server)->mark));
  Put(&srv, "default", Flag(true, (*server)->mark));
  Put(&srv, "upstream", Text("backends", (*server)->mark));
  YamlNode servers = ListAt((*server)->mark);
  servers.items.push_back(std::move(srv));
  Note("servers[0]", (*server)->mark, "every request goes to the backends");

  if (const YamlNode* logging = root.Find("logging")) {
    CONFIG_RETURN_IF_ERROR(ExpectMapping(*logging, "'logging'"));
    CONFIG_RETURN_IF_ERROR(CheckKeys(*logging, {"level", "format"}, "logging"));
    YamlNode log = MapAt(logging->mark);
    if (const YamlNode* level = logging->Find("level")) {
      absl::StatusOr<YamlNode> v = SeedLogLevel(*level, "'level' in logging");
      if (!v.ok()) return v.status();
      Put(&log, "level", *std::move(v));
    }
    if (const YamlNode* format = logging->Find("format")) Put(&log, "format", *format);
    Put(&global, "log", std::move(log));
    Note("global.log", logging->mark, "logging");
  }
  if (const YamlNode* timeouts = root.Find("timeouts")) {
    CONFIG_RETURN_IF_ERROR(ExpectMapping(*timeouts, "'timeouts'"));
    CONFIG_RETURN_IF_ERROR(
        CheckKeys(*timeouts, {"request_timeout_seconds", "connect_timeout_seconds"}, "timeouts"));
    YamlNode t = MapAt(timeouts->mark);
    // A bare number is seconds in ringway's durations too.
    if (const YamlNode* r = timeouts->Find("request_timeout_seconds")) {
      Put(&t, "upstream_response", *r);
      Note("global.timeouts", r->mark,
           "timeouts.request_timeout_seconds (the wait for the backend's response)");
    }
    if (const YamlNode* c = timeouts->Find("connect_timeout_seconds")) {
      Put(&t, "upstream_connect", *c);
      Note("global.timeouts", c->mark, "timeouts.connect_timeout_seconds");
    }
    Put(&global, "timeouts", std::move(t));
  }
  if (!global.entries.empty()) Put(&out, "global", std::move(global));
  Put(&out, "listeners", std::move(listeners));
  Put(&out, "servers", std::move(servers));
  Put(&out, "upstreams", std::move(upstreams));
  return out;
}

// services -------------------------------------------------------------------------------------

absl::StatusOr<YamlNode> Loader::FromServicesShape(const YamlNode& root) {
  constexpr std::string_view kWhere = "the top level (services schema)";
  CONFIG_RETURN_IF_ERROR(CheckKeys(root, {"services"}, kWhere));
  const YamlNode& services = *root.Find("services");
  CONFIG_RETURN_IF_ERROR(
      ExpectList(services, "'services'",
                 "[{name: web, bind_address: \"0.0.0.0:6188\", upstreams: [\"127.0.0.1:3001\"]}]"));
  if (services.items.empty()) {
    return Error(services,
                 "'services' is empty; list at least one service, such as {name: web, "
                 "bind_address: \"0.0.0.0:6188\", upstreams: [\"127.0.0.1:3001\"]}");
  }
  YamlNode listeners = ListAt(services.mark);
  YamlNode servers = ListAt(services.mark);
  YamlNode upstreams = ListAt(services.mark);
  for (size_t i = 0; i < services.items.size(); ++i) {
    const YamlNode& item = services.items[i];
    std::string label = absl::StrFormat("service #%d", i + 1);
    CONFIG_RETURN_IF_ERROR(ExpectMapping(item, label));
    absl::StatusOr<const YamlNode*> name = Require(item, "name", label, "name: web");
    if (!name.ok()) return name.status();
    absl::StatusOr<std::string> name_text = String(**name, Where("name", label));
    if (!name_text.ok()) return name_text.status();
    label = absl::StrFormat("service '%s'", *name_text);
    CONFIG_RETURN_IF_ERROR(
        CheckKeys(item, {"name", "bind_address", "upstreams", "tls", "health_check"}, label));
    absl::StatusOr<const YamlNode*> bind =
        Require(item, "bind_address", label, "bind_address: \"0.0.0.0:6188\"");
    if (!bind.ok()) return bind.status();
    absl::StatusOr<const YamlNode*> ups =
        Require(item, "upstreams", label, "upstreams: [\"127.0.0.1:3001\"]");
    if (!ups.ok()) return ups.status();

    const std::string index = std::to_string(i);
    YamlNode listener = MapAt(item.mark);
    Put(&listener, "name", **name);
    Put(&listener, "bind", **bind);
    YamlNode only = ListAt(item.mark);
    only.items.push_back(**name);
    Put(&listener, "servers", std::move(only));
    listeners.items.push_back(std::move(listener));
    Note("listeners[" + index + "]", item.mark,
         absl::StrFormat("service '%s' (bind_address)", *name_text));

    YamlNode server = MapAt(item.mark);
    Put(&server, "name", **name);
    Put(&server, "default", Flag(true, item.mark));
    Put(&server, "upstream", **name);
    servers.items.push_back(std::move(server));
    Note("servers[" + index + "]", item.mark,
         absl::StrFormat("service '%s': every request goes to its upstreams", *name_text));

    YamlNode upstream = MapAt(item.mark);
    Put(&upstream, "name", **name);
    Put(&upstream, "servers", **ups);
    Note("upstreams[" + index + "]", (*ups)->mark,
         absl::StrFormat("service '%s' (upstreams)", *name_text));
    if (const YamlNode* tls = item.Find("tls")) {
      absl::StatusOr<bool> on = Bool(*tls, Where("tls", label));
      if (!on.ok()) return on.status();
      // The service's tls is the upstream peer's: the proxy speaks TLS to its upstreams.
      if (*on) {
        Put(&upstream, "tls", Flag(true, tls->mark));
        Note("upstreams[" + index + "]", tls->mark, "tls: true (TLS to the upstreams)");
      }
    }
    // TCP checks, with the schema's defaults (500 ms, every 5 s) unless given.
    YamlNode health = MapAt(item.mark);
    Put(&health, "type", Text("tcp", item.mark));
    const YamlNode* given = item.Find("health_check");
    if (given != nullptr) {
      CONFIG_RETURN_IF_ERROR(ExpectMapping(*given, Where("health_check", label)));
      CONFIG_RETURN_IF_ERROR(CheckKeys(*given, {"timeout_ms", "frequency_secs"},
                                       absl::StrCat("health_check of ", label)));
    }
    const YamlNode* timeout = given != nullptr ? given->Find("timeout_ms") : nullptr;
    const YamlNode* frequency = given != nullptr ? given->Find("frequency_secs") : nullptr;
    Put(&health, "timeout_ms", timeout != nullptr ? *timeout : Number(500, item.mark));
    Put(&health, "frequency_secs", frequency != nullptr ? *frequency : Number(5, item.mark));
    // One failed check takes a backend out and one passed check brings it back, as there.
    Put(&health, "fall", Number(1, item.mark));
    Put(&health, "rise", Number(1, item.mark));
    Put(&upstream, "health_check", std::move(health));
    Note("upstreams[" + index + "].health_check", given != nullptr ? given->mark : item.mark,
         given != nullptr ? absl::StrFormat("service '%s' health_check (TCP; one failed check "
                                            "takes a backend out, one passed check brings it "
                                            "back)",
                                            *name_text)
                          : absl::StrFormat("service '%s' has no health_check: TCP checks with "
                                            "the defaults, timeout_ms 500, frequency_secs 5, "
                                            "down after one failed check, up after one passed",
                                            *name_text));
    upstreams.items.push_back(std::move(upstream));
  }
  YamlNode out = MapAt(root.mark);
  Put(&out, "listeners", std::move(listeners));
  Put(&out, "servers", std::move(servers));
  Put(&out, "upstreams", std::move(upstreams));
  return out;
}

// virtual hosts --------------------------------------------------------------------------------

absl::StatusOr<YamlNode> Loader::FromVhostsShape(const YamlNode& root) {
  constexpr std::string_view kWhere = "the top level (virtual-hosts schema)";
  CONFIG_RETURN_IF_ERROR(CheckKeys(
      root,
      {"proxy", "logging", "metrics", "health_check", "virtual_hosts", "backends", "lets_encrypt"},
      kWhere));
  for (const YamlNode::Entry& e : root.entries) {
    if (e.key.text != "lets_encrypt") continue;
    return Error(e.key,
                 "[lets_encrypt] (certificates from an ACME CA) is not supported yet; remove "
                 "the section (the HTTPS listener then serves a self-signed certificate and "
                 "says so in the log), or convert the file with `ringway config print` and "
                 "give the https listener tls: {cert: FILE, key: FILE}");
  }
  YamlNode out = MapAt(root.mark);
  YamlNode global = MapAt(root.mark);
  YamlNode admin = MapAt(root.mark);

  // [proxy], with the defaults the schema documents.
  const YamlNode* proxy = root.Find("proxy");
  if (proxy != nullptr) {
    CONFIG_RETURN_IF_ERROR(ExpectMapping(*proxy, "[proxy]"));
    CONFIG_RETURN_IF_ERROR(
        CheckKeys(*proxy, {"listen_addr", "listen_addr_http", "management_api_addr"}, "[proxy]"));
  }
  // A key the file leaves out takes the default the schema documents; the note says which.
  auto proxy_value = [&](std::string_view key, std::string_view fallback, std::string* how) {
    const YamlNode* n = proxy != nullptr ? proxy->Find(key) : nullptr;
    if (n != nullptr) {
      *how = absl::StrFormat("[proxy] %s %s", key, n->text);
      return *n;
    }
    *how = absl::StrFormat("no [proxy] %s: its default, %s", key, fallback);
    return Text(std::string(fallback), proxy != nullptr ? proxy->mark : root.mark);
  };
  const Mark proxy_at = proxy != nullptr ? proxy->mark : root.mark;
  std::string how;
  YamlNode https = MapAt(proxy_at);
  Put(&https, "name", Text("https", proxy_at));
  YamlNode https_bind = proxy_value("listen_addr", "0.0.0.0:443", &how);
  Put(&https, "bind", https_bind);
  Note("listeners[0]", https_bind.mark,
       absl::StrCat(how,
                    " (HTTPS; the file names no certificate, so a self-signed one is made "
                    "at start)"));
  YamlNode tls = MapAt(proxy_at);
  Put(&tls, "self_signed", Flag(true, proxy_at));
  Put(&https, "tls", std::move(tls));
  YamlNode http = MapAt(proxy_at);
  Put(&http, "name", Text("http", proxy_at));
  YamlNode http_bind = proxy_value("listen_addr_http", "0.0.0.0:80", &how);
  Put(&http, "bind", http_bind);
  Note("listeners[1]", http_bind.mark, how);
  YamlNode listeners = ListAt(proxy_at);
  listeners.items.push_back(std::move(https));
  listeners.items.push_back(std::move(http));
  YamlNode api = proxy_value("management_api_addr", "127.0.0.1:8080", &how);
  Put(&admin, "bind", api);
  Note("global.admin", api.mark, how);

  if (const YamlNode* logging = root.Find("logging")) {
    CONFIG_RETURN_IF_ERROR(ExpectMapping(*logging, "[logging]"));
    CONFIG_RETURN_IF_ERROR(
        CheckKeys(*logging, {"level", "format", "output", "file_path"}, "[logging]"));
    YamlNode log = MapAt(logging->mark);
    if (const YamlNode* level = logging->Find("level")) {
      absl::StatusOr<YamlNode> v = SeedLogLevel(*level, "'level' in [logging]");
      if (!v.ok()) return v.status();
      Put(&log, "level", *std::move(v));
    }
    if (const YamlNode* format = logging->Find("format")) Put(&log, "format", *format);
    if (const YamlNode* output = logging->Find("output")) {
      absl::StatusOr<std::string> v = String(*output, "'output' in [logging]");
      if (!v.ok()) return v.status();
      if (*v != "console" && *v != "stdout" && *v != "stderr") {
        return Error(*output,
                     absl::StrFormat("'output' in [logging] is '%s'; ringway writes its log to "
                                     "standard error (the journal under systemd; logrotate "
                                     "needs no part in it): write output = \"console\"",
                                     *v));
      }
    }
    Put(&global, "log", std::move(log));
    Note("global.log", logging->mark, "[logging]");
  }

  if (const YamlNode* metrics = root.Find("metrics")) {
    CONFIG_RETURN_IF_ERROR(ExpectMapping(*metrics, "[metrics]"));
    CONFIG_RETURN_IF_ERROR(CheckKeys(*metrics, {"enabled", "listen_addr"}, "[metrics]"));
    bool enabled = true;
    if (const YamlNode* e = metrics->Find("enabled")) {
      absl::StatusOr<bool> v = Bool(*e, "'enabled' in [metrics]");
      if (!v.ok()) return v.status();
      enabled = *v;
    }
    Put(&global, "metrics", Flag(enabled, metrics->mark));
    if (enabled) {
      const YamlNode* listen = metrics->Find("listen_addr");
      YamlNode bind = listen != nullptr ? *listen : Text("0.0.0.0:9090", metrics->mark);
      Put(&admin, "metrics_bind", bind);
      Note("global.admin", bind.mark,
           absl::StrFormat("[metrics] listen_addr %s (/metrics and /api/v1/metrics only)",
                           bind.text));
    }
  }
  Put(&global, "admin", std::move(admin));

  if (const YamlNode* health = root.Find("health_check")) {
    CONFIG_RETURN_IF_ERROR(ExpectMapping(*health, "[health_check]"));
    CONFIG_RETURN_IF_ERROR(CheckKeys(
        *health, {"interval_secs", "timeout_secs", "unhealthy_threshold", "healthy_threshold"},
        "[health_check]"));
    Put(&global, "health_check", *health);
    Note("global.health_check", health->mark, "[health_check] (TCP checks of every backend)");
  }

  const YamlNode* backends = root.Find("backends");
  bool have_backends = false;
  YamlNode upstreams = ListAt(root.mark);
  if (backends != nullptr) {
    CONFIG_RETURN_IF_ERROR(
        ExpectList(*backends, "[[backends]]", "[[backends]] tables with id, address and tags"));
    for (size_t i = 0; i < backends->items.size(); ++i) {
      const YamlNode& b = backends->items[i];
      std::string label = absl::StrFormat("[[backends]] #%d", i + 1);
      CONFIG_RETURN_IF_ERROR(ExpectMapping(b, label));
      CONFIG_RETURN_IF_ERROR(CheckKeys(b, {"id", "address", "tags"}, label));
    }
    if (!backends->items.empty()) {
      have_backends = true;
      YamlNode upstream = MapAt(backends->mark);
      Put(&upstream, "name", Text("backends", backends->mark));
      Put(&upstream, "servers", *backends);
      upstreams.items.push_back(std::move(upstream));
      Note("upstreams[0]", backends->mark,
           "[[backends]]: every backend; a domain picks those with its enabled_backends_tag");
    }
  }

  YamlNode servers = ListAt(root.mark);
  if (const YamlNode* vhosts = root.Find("virtual_hosts")) {
    CONFIG_RETURN_IF_ERROR(ExpectList(*vhosts, "[[virtual_hosts]]",
                                      "[[virtual_hosts]] tables with domain and "
                                      "enabled_backends_tag"));
    for (size_t i = 0; i < vhosts->items.size(); ++i) {
      const YamlNode& v = vhosts->items[i];
      std::string label = absl::StrFormat("[[virtual_hosts]] #%d", i + 1);
      CONFIG_RETURN_IF_ERROR(ExpectMapping(v, label));
      CONFIG_RETURN_IF_ERROR(
          CheckKeys(v, {"domain", "enabled_backends_tag", "http_to_https"}, label));
      absl::StatusOr<const YamlNode*> domain =
          Require(v, "domain", label, "domain = \"example.com\"");
      if (!domain.ok()) return domain.status();
      YamlNode server = MapAt(v.mark);
      Put(&server, "name", **domain);
      YamlNode names = ListAt((*domain)->mark);
      names.items.push_back(**domain);
      Put(&server, "server_name", std::move(names));
      if (const YamlNode* tag = v.Find("enabled_backends_tag")) {
        Put(&server, "enabled_backends_tag", *tag);
      } else if (have_backends) {
        Put(&server, "upstream", Text("backends", v.mark));
      } else {
        return Error(v, absl::StrFormat("%s has no enabled_backends_tag and the file has no "
                                        "[[backends]]; add enabled_backends_tag = \"a\" (backends "
                                        "can be added later through the API) or a [[backends]] "
                                        "table",
                                        label));
      }
      if (const YamlNode* r = v.Find("http_to_https")) Put(&server, "redirect_https", *r);
      servers.items.push_back(std::move(server));
      Note("servers[" + std::to_string(i) + "]", v.mark,
           absl::StrFormat("[[virtual_hosts]] domain %s", (*domain)->text));
    }
  }

  Put(&out, "global", std::move(global));
  Put(&out, "listeners", std::move(listeners));
  if (!servers.items.empty()) Put(&out, "servers", std::move(servers));
  if (!upstreams.items.empty()) Put(&out, "upstreams", std::move(upstreams));
  return out;
}

}  // namespace ringway::config::internal

namespace ringway::config {

const char* LogLevelName(LogLevel level) {
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

const char* ShapeName(Shape shape) {
  switch (shape) {
    case Shape::kNative:
      return "native";
    case Shape::kServer:
      return "server/backends";
    case Shape::kServices:
      return "services";
    case Shape::kVhosts:
      return "virtual-hosts";
  }
  return "native";
}

}  // namespace ringway::config
