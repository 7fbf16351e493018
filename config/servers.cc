// The `servers` list (virtual hosts by name) and each server's routes to upstreams.
#include "config/loader.h"

#include <arpa/inet.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"

namespace ringway::config::internal {

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
  if (names.empty()) {
    message += "; no upstream is defined: add an upstreams list";
  } else {
    absl::StrAppendFormat(&message, " (defined upstreams: %s)", Quoted(names));
  }
  return Error(node, message);
}

absl::Status Loader::LoadRoutes(const YamlNode& list, std::string_view where, Server* server) {
  CONFIG_RETURN_IF_ERROR(
      ExpectList(list, Where("routes", where), "[{path: /api/, upstream: api_servers}]"));
  absl::flat_hash_map<std::string, Mark> paths;  // where each path was first written
  for (size_t i = 0; i < list.items.size(); ++i) {
    const YamlNode& item = list.items[i];
    std::string label = absl::StrFormat("route #%d of %s", i + 1, where);
    CONFIG_RETURN_IF_ERROR(ExpectMapping(item, label));
    CONFIG_RETURN_IF_ERROR(
        CheckKeys(item, {"path", "upstream", "tries", "enabled_backends_tag"}, label));
    absl::StatusOr<const YamlNode*> path_node = Require(item, "path", label, "path: /api/");
    if (!path_node.ok()) return path_node.status();
    absl::StatusOr<std::string> path = String(**path_node, Where("path", label));
    if (!path.ok()) return path.status();
    if ((*path)[0] != '/') {
      return Error(**path_node, absl::StrFormat("route path '%s' in %s does not start with '/'; "
                                                "write it as '/%s'",
                                                *path, where, *path));
    }
    if (auto [it, inserted] = paths.try_emplace(*path, (*path_node)->mark); !inserted) {
      return Error(**path_node,
                   absl::StrFormat("route path '%s' appears twice in %s (first at line %d, "
                                   "column %d); keep one of them",
                                   *path, where, it->second.line, it->second.column));
    }
    absl::StatusOr<const YamlNode*> upstream_node =
        Require(item, "upstream", label, "upstream: <name of an upstream>");
    if (!upstream_node.ok()) return upstream_node.status();
    absl::StatusOr<uint32_t> upstream = UpstreamRef(**upstream_node, Where("upstream", label));
    if (!upstream.ok()) return upstream.status();
    Route route{*path, *upstream, 0, {}};
    if (const YamlNode* tag = item.Find("enabled_backends_tag")) {
      absl::StatusOr<std::string> t = Tag(*tag, Where("enabled_backends_tag", label));
      if (!t.ok()) return t.status();
      route.backends_tag = *t;
    }
    if (const YamlNode* tries = item.Find("tries")) {
      absl::StatusOr<int64_t> n = Integer(*tries, Where("tries", label), 1, 10);
      if (!n.ok()) return n.status();
      route.tries = static_cast<uint32_t>(*n);
    }
    server->routes.push_back(std::move(route));
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
  CONFIG_RETURN_IF_ERROR(CheckKeys(item,
                                   {"name", "server_name", "upstream", "tls", "default", "routes",
                                    "redirect_https", "hsts", "enabled_backends_tag"},
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
    absl::flat_hash_map<std::string, size_t> seen;  // name -> index in server_names
    for (size_t i = 0; i < entries.size(); ++i) {
      absl::StatusOr<std::string> name = ServerName(
          *entries[i], names_node->kind == Kind::kSequence
                           ? absl::StrFormat("entry #%d of 'server_name' in %s", i + 1, label)
                           : Where("server_name", label));
      if (!name.ok()) return name.status();
      if (auto [it, inserted] = seen.try_emplace(*name, server.server_names.size()); !inserted) {
        const Mark& first = marks.server_names[it->second];
        return Error(*entries[i],
                     absl::StrFormat("server name '%s' appears twice in %s (first at line %d, "
                                     "column %d); list it once",
                                     *name, label, first.line, first.column));
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

  if (const YamlNode* tag = item.Find("enabled_backends_tag")) {
    absl::StatusOr<std::string> t = Tag(*tag, Where("enabled_backends_tag", label));
    if (!t.ok()) return t.status();
    server.backends_tag = *t;
  }
  if (server.backends_tag.empty() || item.Find("upstream") != nullptr) {
    absl::StatusOr<const YamlNode*> upstream_node =
        Require(item, "upstream", label,
                "upstream: <name of an upstream> (or enabled_backends_tag: <tag> for every backend "
                "with that tag)");
    if (!upstream_node.ok()) return upstream_node.status();
    absl::StatusOr<uint32_t> upstream = UpstreamRef(**upstream_node, Where("upstream", label));
    if (!upstream.ok()) return upstream.status();
    server.upstream = *upstream;
  } else {
    server.upstream = kNoUpstream;
  }

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
  for (size_t i = 0; i < list.items.size(); ++i) {
    CONFIG_RETURN_IF_ERROR(LoadServer(list.items[i], i));
  }
  return absl::OkStatus();
}

}  // namespace ringway::config::internal
