// Listeners: the one global.port makes and the `listeners` list, their TLS termination
// (global.tls and each listener's tls), and the per-listener checks of the servers they serve.
#include "config/loader.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"

namespace ringway::config::internal {
namespace {

constexpr size_t kMaxListenerHostNames = 4'000'000;

}  // namespace

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
                 "ciphers", "alpn", "session_tickets", "ticket_rotation", "self_signed"},
                where));
  tls->enabled = true;
  tls->at = At(node.mark);
  const YamlNode* cert = node.Find("cert");
  const YamlNode* key = node.Find("key");
  // self_signed: true instead of a certificate: one is made at start (tls/self_signed.h).
  if (const YamlNode* s = node.Find("self_signed")) {
    absl::StatusOr<bool> v = Bool(*s, Where("self_signed", where));
    if (!v.ok()) return v.status();
    tls->self_signed = *v;
    const YamlNode* given = cert;
    if (given == nullptr) given = key;
    if (given == nullptr) given = node.Find("certificates");
    if (*v && given != nullptr) {
      return Error(*given, absl::StrFormat("%s has self_signed: true (line %d, column %d) and "
                                           "names a certificate too; keep one of them: the "
                                           "certificate, or self_signed: true for one made at "
                                           "start",
                                           where, s->mark.line, s->mark.column));
    }
  }
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
  if (tls->certificates.empty() && !tls->self_signed) {
    return Error(node, absl::StrFormat("%s names no certificate; add cert: /path/to/cert.pem and "
                                       "key: /path/to/key.pem, or a certificates: list, or "
                                       "self_signed: true for a certificate made at start that "
                                       "clients do not trust (for tests)",
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
      if (*v != "http/1.1" && *v != "h2") {
        return Error(a->items[i],
                     absl::StrFormat("'%s' in 'alpn' of %s is not a protocol ringway speaks; "
                                     "use \"h2\" and \"http/1.1\"",
                                     *v, where));
      }
      tls->alpn_given = true;
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

absl::Status Loader::AddListener(Listener listener, Mark name_at, Mark bind_at) {
  // ALPN not written out: h2 first where HTTP/2 is on (clients pick the server's preference).
  if (!listener.tls.alpn_given) {
    listener.tls.alpn = listener.http2 ? std::vector<std::string>{"h2", "http/1.1"}
                                       : std::vector<std::string>{"http/1.1"};
  }
  // The earliest listener that clashes is reported, by name before bind when it is the same one.
  auto name_it = listener_by_name_.find(listener.name);
  auto bind_it = listener_by_bind_.find(listener.bind.text);
  size_t name_clash = name_it != listener_by_name_.end() ? name_it->second : SIZE_MAX;
  size_t bind_clash = bind_it != listener_by_bind_.end() ? bind_it->second : SIZE_MAX;
  size_t i = std::min(name_clash, bind_clash);
  if (i != SIZE_MAX && i == name_clash) {
    Mark first = listener_name_marks_[i];
    std::string by =
        from_port_ && i == 0 ? " by global.port, which makes a listener of that name" : "";
    return Error(name_at, absl::StrFormat("listener name '%s' is already used at line %d, "
                                          "column %d%s; give each listener a unique name",
                                          listener.name, first.line, first.column, by));
  }
  if (i != SIZE_MAX) {
    Mark first = listener_bind_marks_[i];
    std::string other = from_port_ && i == 0
                            ? std::string("global.port")
                            : absl::StrFormat("listener '%s'", cfg_.listeners[i].name);
    return Error(bind_at, absl::StrFormat("listener '%s' binds %s, which %s already binds at "
                                          "line %d, column %d; use another port or serve both "
                                          "sets of servers from one listener",
                                          listener.name, listener.bind.text, other, first.line,
                                          first.column));
  }
  listener_name_marks_.push_back(name_at);
  listener_bind_marks_.push_back(bind_at);
  auto index = static_cast<uint32_t>(cfg_.listeners.size());
  listener_by_name_.emplace(listener.name, index);
  listener_by_bind_.emplace(listener.bind.text, index);
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
  CONFIG_RETURN_IF_ERROR(CheckKeys(
      item, {"name", "bind", "servers", "tls", "underscores_in_headers", "http2", "h2c"}, label));

  Listener listener;
  listener.name = *name;
  listener.underscores_in_headers = global_underscores_in_headers_;
  if (const YamlNode* u = item.Find("underscores_in_headers")) {
    absl::StatusOr<bool> v = Bool(*u, Where("underscores_in_headers", label));
    if (!v.ok()) return v.status();
    listener.underscores_in_headers = *v;
  }
  if (const YamlNode* u = item.Find("http2")) {
    absl::StatusOr<bool> v = Bool(*u, Where("http2", label));
    if (!v.ok()) return v.status();
    listener.http2 = *v;
  }
  if (const YamlNode* u = item.Find("h2c")) {
    absl::StatusOr<bool> v = Bool(*u, Where("h2c", label));
    if (!v.ok()) return v.status();
    listener.h2c = *v;
  }
  absl::StatusOr<const YamlNode*> bind_node =
      Require(item, "bind", label, "bind: \"0.0.0.0:8080\"");
  if (!bind_node.ok()) return bind_node.status();
  absl::StatusOr<SocketAddress> bind = Address(**bind_node, Where("bind", label));
  if (!bind.ok()) return bind.status();
  listener.bind = *std::move(bind);
  if (const YamlNode* tls = item.Find("tls")) {
    CONFIG_RETURN_IF_ERROR(LoadTls(*tls, Where("tls", label), &listener.tls));
    const auto& alpn = listener.tls.alpn;
    if (!listener.http2 && std::find(alpn.begin(), alpn.end(), "h2") != alpn.end()) {
      return Error(*item.Find("http2"),
                   absl::StrFormat("%s has http2: false, and its tls.alpn offers \"h2\"; remove "
                                   "\"h2\" from alpn, or turn http2 on",
                                   label));
    }
  }

  if (const YamlNode* servers = item.Find("servers")) {
    CONFIG_RETURN_IF_ERROR(ExpectList(*servers, Where("servers", label), "[web, api]"));
    if (servers->items.empty()) {
      return Error(*servers, absl::StrFormat("'servers' in %s is empty; name at least one "
                                             "server, or remove the key to serve all servers",
                                             label));
    }
    absl::flat_hash_set<uint32_t> listed;
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
      if (!listed.insert(it->second).second) {
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
    listener.underscores_in_headers = global_underscores_in_headers_;
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
// Also bounds the routing table (config/router.h), which holds each listener's own copy of the
// names of the servers it serves: many listeners times many names would not fit in memory.
absl::Status Loader::CheckListenerServers() {
  size_t all_names = 0;  // server names of every server, what a listener without `servers` gets
  for (const Server& server : cfg_.servers) all_names += server.server_names.size();
  size_t table_names = 0;
  bool all_checked = false;  // every listener without `servers` has the same members
  for (size_t l = 0; l < cfg_.listeners.size(); ++l) {
    const Listener& listener = cfg_.listeners[l];
    size_t names = 0;
    if (listener.servers.empty()) {
      names = all_names;
    } else {
      for (uint32_t s : listener.servers) names += cfg_.servers[s].server_names.size();
    }
    table_names += names;
    if (table_names > kMaxListenerHostNames) {
      return Error(listener_name_marks_[l],
                   absl::StrFormat("listener '%s' takes the host names that listeners serve past "
                                   "%d in all (each listener keeps its own table of the names of "
                                   "the servers it serves); list fewer servers under each "
                                   "listener's 'servers' key, or use fewer listeners",
                                   listener.name, kMaxListenerHostNames));
    }
    if (listener.servers.empty()) {
      if (all_checked) continue;
      all_checked = true;
    }
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

}  // namespace ringway::config::internal
