// The `upstreams` list: backends (addresses or URLs), keep-alive, balancing algorithm and hash
// key, sticky sessions, slow start, retries and TLS to the backends.
#include "config/loader.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace ringway::config::internal {
namespace {

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

}  // namespace

// address.cc: a backend's address, an IP literal or "host.name:port" (SocketAddress::host set,
// len 0 until ResolveNames); whether `host` is written as a host name (valid or not) rather
// than as an IP address.
absl::StatusOr<SocketAddress> ParseBackendAddress(std::string_view text);
bool NamesBackendHost(std::string_view host);

// A backend written as a URL, as other proxies do: "http://127.0.0.1:3003", "http://api.internal"
// (a host name without a port means port 80).
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
    // The scheme cannot turn TLS on for one backend: an upstream's connections all speak TLS
    // or none do, so the setting is the upstream's, and the URL is pointed there.
    std::string address(text.substr(sep + 3));
    if (!address.empty() && address.back() == '/') address.pop_back();
    // A host name alone meant port 443, which the address form needs written.
    if (address.find(':') == std::string::npos && NamesBackendHost(address)) {
      absl::StrAppend(&address, ":443");
    }
    return Error(node, absl::StrFormat("%s is '%s'; TLS to backends is set for the whole "
                                       "upstream, not by the URL: write the backend as \"%s\" "
                                       "and add tls: true to the upstream (see \"Upstream TLS\" "
                                       "in docs/configuration.md)",
                                       what, text, address));
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
  std::string host_port(authority);
  if (!has_port) {
    if (authority[0] == '[' || !NamesBackendHost(authority)) {
      return Error(node, absl::StrFormat("%s is '%s', which has no port; write it with one, such "
                                         "as \"http://%s:80\"",
                                         what, text, authority));
    }
    absl::StrAppend(&host_port, ":80");
  }
  absl::StatusOr<SocketAddress> address = ParseBackendAddress(host_port);
  if (!address.ok()) {
    return Error(node, absl::StrFormat("%s: %s", what, address.status().message()));
  }
  return *std::move(address);
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
                                 std::vector<const YamlNode*>* check_paths,
                                 absl::flat_hash_set<std::string>* addresses) {
  Backend backend;
  const YamlNode* id_node = nullptr;
  const YamlNode* address_node = &item;
  // Anything with a scheme is read as a URL, as other proxies write backends.
  bool is_url = item.kind == Kind::kString && item.text.find("://") != std::string::npos;
  std::string address_what(where);
  if (item.kind == Kind::kMapping) {
    CONFIG_RETURN_IF_ERROR(CheckKeys(
        item, {"address", "url", "weight", "health_check_path", "id", "tags", "state"}, where));
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
    if (const YamlNode* id = item.Find("id")) {
      absl::StatusOr<std::string> v = Tag(*id, Where("id", where));
      if (!v.ok()) return v.status();
      backend.id = *v;
      id_node = id;
    }
    if (const YamlNode* tags = item.Find("tags")) {
      CONFIG_RETURN_IF_ERROR(ExpectList(*tags, Where("tags", where), "[\"a\", \"stable\"]"));
      for (const YamlNode& t : tags->items) {
        absl::StatusOr<std::string> v = Tag(t, Where("tags", where));
        if (!v.ok()) return v.status();
        if (std::find(backend.tags.begin(), backend.tags.end(), *v) == backend.tags.end()) {
          backend.tags.push_back(*v);
        }
      }
    }
    if (const YamlNode* st = item.Find("state")) {
      absl::StatusOr<std::string> v = String(*st, Where("state", where));
      if (!v.ok()) return v.status();
      if (*v == "ready") {
        backend.state = BackendState::kReady;
      } else if (*v == "drain") {
        backend.state = BackendState::kDrain;
      } else if (*v == "maint") {
        backend.state = BackendState::kMaint;
      } else {
        return Error(*st, absl::StrFormat("%s is '%s'; use ready, drain or maint",
                                          Where("state", where), *v));
      }
    }
  } else if (item.kind != Kind::kString) {
    return TypeError(item, where, "an address string or a mapping {address, weight}",
                     "write \"127.0.0.1:3001\" or {address: \"127.0.0.1:3001\", weight: 2}");
  }
  absl::StatusOr<SocketAddress> address;
  if (is_url) {
    address = BackendUrl(*address_node, address_what);
  } else if (address_node->kind != Kind::kString) {
    address = Address(*address_node, address_what);  // (its type error)
  } else if (absl::StatusOr<SocketAddress> a = ParseBackendAddress(address_node->text); a.ok()) {
    address = *std::move(a);
  } else {
    return Error(*address_node, absl::StrFormat("%s: %s", address_what, a.status().message()));
  }
  if (!address.ok()) return address.status();
  if (!addresses->insert(address->text).second) {
    return Error(*address_node,
                 absl::StrFormat("backend %s appears twice in upstream '%s'; list it once "
                                 "and give it a weight to send it more requests",
                                 address->text, upstream->name));
  }
  backend.address = *std::move(address);
  if (backend.id.empty()) backend.id = absl::StrCat(upstream->name, "-", backend.address.text);
  if (auto [it, inserted] = backend_ids_.try_emplace(backend.id, At(item.mark)); !inserted) {
    return Error(id_node ? *id_node : item,
                 absl::StrFormat("backend id '%s' is already used at %s; give each backend a "
                                 "unique id",
                                 backend.id, it->second));
  }
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
                 "health_check", "passive_health", "retry", "tls", "protocol", "keepalive_ping"},
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
  std::vector<const YamlNode*> check_paths;    // backends' health_check_path values
  absl::flat_hash_set<std::string> addresses;  // backends' normalised addresses
  for (size_t j = 0; j < (*servers)->items.size(); ++j) {
    std::string backend_where = absl::StrFormat("server #%d of %s", j + 1, where);
    CONFIG_RETURN_IF_ERROR(
        LoadBackend((*servers)->items[j], backend_where, &upstream, &check_paths, &addresses));
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
  if (const YamlNode* protocol = item.Find("protocol")) {
    absl::StatusOr<std::string> v = String(*protocol, Where("protocol", where));
    if (!v.ok()) return v.status();
    if (*v == "http1" || *v == "http/1.1") {
      upstream.protocol = UpstreamProtocol::kHttp1;
    } else if (*v == "h2") {
      upstream.protocol = UpstreamProtocol::kH2;
      if (!upstream.tls.enabled) {
        return Error(*protocol, absl::StrFormat("protocol: h2 in %s is HTTP/2 over TLS, but the "
                                                "upstream has no tls; add tls: true, or write "
                                                "protocol: h2c for HTTP/2 in cleartext",
                                                where));
      }
    } else if (*v == "h2c") {
      upstream.protocol = UpstreamProtocol::kH2c;
      if (upstream.tls.enabled) {
        return Error(*protocol, absl::StrFormat("protocol: h2c in %s is HTTP/2 in cleartext, but "
                                                "the upstream has tls; write protocol: h2 for "
                                                "HTTP/2 over TLS, or remove tls",
                                                where));
      }
    } else {
      return Error(*protocol, absl::StrFormat("unknown protocol '%s' in %s; write http1, h2 "
                                              "(HTTP/2 over TLS) or h2c (HTTP/2 in cleartext)",
                                              *v, where));
    }
  }
  if (const YamlNode* ping = item.Find("keepalive_ping")) {
    const std::string what = absl::StrFormat("keepalive_ping of %s", where);
    if (upstream.protocol == UpstreamProtocol::kHttp1) {
      return Error(*ping, absl::StrFormat("%s is for HTTP/2 upstreams (PING frames); add "
                                          "protocol: h2c or h2, or remove it",
                                          what));
    }
    CONFIG_RETURN_IF_ERROR(ExpectMapping(*ping, what));
    CONFIG_RETURN_IF_ERROR(CheckKeys(*ping, {"interval", "timeout"}, what));
    if (const YamlNode* n = ping->Find("interval")) {
      absl::StatusOr<uint32_t> ms = Duration(*n, Where("interval", what));
      if (!ms.ok()) return ms.status();
      upstream.ping_interval_ms = *ms;
    }
    if (const YamlNode* n = ping->Find("timeout")) {
      absl::StatusOr<uint32_t> ms = Duration(*n, Where("timeout", what));
      if (!ms.ok()) return ms.status();
      upstream.ping_timeout_ms = *ms;
    }
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
  // keep the upstream's check), so it contradicts an explicit type: tcp or grpc.
  if (!check_paths.empty() && type_node != nullptr &&
      upstream.health.type != HealthCheck::Type::kHttp) {
    return Error(
        *check_paths[0],
        absl::StrFormat("'health_check_path' asks for an HTTP check, but the "
                        "health_check of %s says type: %s (line %d, column %d); "
                        "remove one of them",
                        where, type_node->text, type_node->mark.line, type_node->mark.column));
  }
  // gRPC checks speak HTTP/2: in cleartext for h2c, over TLS for h2 (global.health_check
  // cannot ask for them, so type_node is this upstream's).
  if (upstream.health.type == HealthCheck::Type::kGrpc) {
    const YamlNode* protocol = item.Find("protocol");
    if (upstream.protocol == UpstreamProtocol::kHttp1) {
      std::string now = protocol != nullptr ? absl::StrFormat("protocol: %s (line %d)",
                                                              protocol->text, protocol->mark.line)
                                            : std::string("http1, the default");
      return Error(*type_node,
                   absl::StrFormat("type: grpc in the health_check of %s needs HTTP/2, and the "
                                   "upstream speaks HTTP/1.1 (%s); add protocol: h2c for a "
                                   "gRPC service in cleartext, or use type: tcp or http",
                                   where, now));
    }
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
  for (size_t i = 0; i < list.items.size(); ++i) {
    CONFIG_RETURN_IF_ERROR(LoadUpstream(list.items[i], i));
  }
  return absl::OkStatus();
}

}  // namespace ringway::config::internal
