#include "config/router.h"

#include <algorithm>
#include <cassert>

#include "absl/strings/ascii.h"

namespace ringway::config {
namespace {

// Drops the port and one trailing dot. "[::1]:8080" keeps its brackets: "[::1]".
std::string_view StripHost(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    if (close != std::string_view::npos) host = host.substr(0, close + 1);
  } else if (size_t colon = host.find(':'); colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  return host;
}

// Debian's Abseil has its own string_view type (ABSL_OPTION_USE_STD_STRING_VIEW is 0), which
// does not convert from std::string_view implicitly.
absl::string_view ToAbsl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

std::string NormalizeName(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  return absl::AsciiStrToLower(ToAbsl(name));
}

}  // namespace

Router::Router(const Config& cfg) : listeners_(cfg.listeners.size()), servers_(cfg.servers.size()) {
  for (size_t s = 0; s < cfg.servers.size(); ++s) {
    const Server& server = cfg.servers[s];
    ServerRoutes& out = servers_[s];
    out.upstream = server.upstream;
    for (const Route& r : server.routes) out.routes.push_back({r.path_prefix, r.upstream, r.tries});
    // Stable, so that of two equal prefixes the first written wins.
    std::stable_sort(
        out.routes.begin(), out.routes.end(),
        [](const RouteEntry& a, const RouteEntry& b) { return a.prefix.size() > b.prefix.size(); });
  }

  for (size_t l = 0; l < cfg.listeners.size(); ++l) {
    std::vector<uint32_t> members = cfg.listeners[l].servers;
    if (members.empty()) {
      for (uint32_t s = 0; s < cfg.servers.size(); ++s) members.push_back(s);
    }
    HostTable& table = listeners_[l];
    for (uint32_t s : members) {
      if (s >= cfg.servers.size()) continue;  // validation rejects this; stay safe regardless
      const Server& server = cfg.servers[s];
      const int index = static_cast<int>(s);
      if (server.default_server && table.default_server < 0) table.default_server = index;
      for (const std::string& raw : server.server_names) {
        std::string name = NormalizeName(raw);
        // try_emplace keeps the first server that claims a name.
        if (name.size() > 2 && name[0] == '*' && name[1] == '.') {
          table.wildcard.try_emplace(name.substr(1), index);
        } else if (!name.empty()) {
          table.exact.try_emplace(std::move(name), index);
        }
      }
    }
  }
}

int Router::FindServer(uint32_t listener, std::string_view host) const {
  if (listener >= listeners_.size()) return -1;
  const HostTable& table = listeners_[listener];
  host = StripHost(host);
  if (host.empty()) return table.default_server;
  if (host.size() > kMaxHostLength) return -1;

  char buf[kMaxHostLength];
  for (size_t i = 0; i < host.size(); ++i) buf[i] = absl::ascii_tolower(host[i]);
  const absl::string_view name(buf, host.size());

  if (auto it = table.exact.find(name); it != table.exact.end()) return it->second;
  if (!table.wildcard.empty()) {
    // Suffixes from the longest: for "a.b.acme.com" try ".b.acme.com", then ".acme.com", ".com".
    // The search starts at 1 so that a wildcard never matches an empty label.
    for (size_t dot = name.find('.', 1); dot != absl::string_view::npos;
         dot = name.find('.', dot + 1)) {
      if (auto it = table.wildcard.find(name.substr(dot)); it != table.wildcard.end()) {
        return it->second;
      }
    }
  }
  return table.default_server;
}

uint32_t Router::FindUpstream(int server, std::string_view path, uint32_t* tries) const {
  assert(server >= 0 && static_cast<size_t>(server) < servers_.size());
  const ServerRoutes& routes = servers_[static_cast<size_t>(server)];
  if (size_t q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
  for (const RouteEntry& r : routes.routes) {
    if (path.starts_with(r.prefix)) {
      if (tries) *tries = r.tries;
      return r.upstream;
    }
  }
  if (tries) *tries = 0;
  return routes.upstream;
}

}  // namespace ringway::config
