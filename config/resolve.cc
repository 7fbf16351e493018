// ResolveNames: the backends given by host name get their socket address, with getaddrinfo. It
// blocks (up to the resolver's timeouts), so it runs where a configuration is put to use, never
// on the data path. Each distinct name and port is looked up once, and the lookups run side by
// side, so that several names a resolver cannot answer cost one timeout, not one each.
#include <arpa/inet.h>
#include <netdb.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <future>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "config/config.h"

namespace ringway::config {
namespace {

// Lookups at once; more names than this wait for a free one.
constexpr size_t kMaxParallelLookups = 16;

struct Lookup {
  std::string host;
  std::string port;
  sockaddr_storage storage{};
  socklen_t len = 0;
  std::string error;  // why it did not resolve; "" when len > 0
};

void Resolve(Lookup* l) {
  if (l->host == "localhost") {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(std::stoul(l->port)));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::memcpy(&l->storage, &sa, sizeof(sa));
    l->len = sizeof(sa);
    return;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const int rc = getaddrinfo(l->host.c_str(), l->port.c_str(), &hints, &res);
  if (rc != 0) {
    l->error = rc == EAI_SYSTEM ? absl::StrCat(gai_strerror(rc), ": ", strerror(errno))
                                : std::string(gai_strerror(rc));
    return;
  }
  for (const addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    if ((ai->ai_family == AF_INET || ai->ai_family == AF_INET6) && ai->ai_addr != nullptr &&
        ai->ai_addrlen <= sizeof(l->storage)) {
      std::memcpy(&l->storage, ai->ai_addr, ai->ai_addrlen);
      l->len = ai->ai_addrlen;
      break;
    }
  }
  freeaddrinfo(res);
  if (l->len == 0) l->error = "no IPv4 or IPv6 address";
}

}  // namespace

std::vector<std::string> ResolveNames(Config* cfg) {
  // The distinct names, in the order they appear.
  std::vector<Lookup> lookups;
  absl::flat_hash_map<std::string, size_t> index;  // by SocketAddress::text
  for (const Upstream& u : cfg->upstreams) {
    for (const Backend& b : u.backends) {
      const SocketAddress& a = b.address;
      if (a.host.empty() || index.contains(a.text)) continue;
      const size_t colon = a.text.rfind(':');
      Lookup l;
      l.host = a.host;
      l.port = colon == std::string::npos ? "" : a.text.substr(colon + 1);
      if (l.port.empty() || l.port.size() > 5 ||
          !std::all_of(l.port.begin(), l.port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        l.error = "no port";  // (the loader always writes one)
      }
      index.emplace(a.text, lookups.size());
      lookups.push_back(std::move(l));
    }
  }
  for (size_t start = 0; start < lookups.size(); start += kMaxParallelLookups) {
    const size_t end = std::min(lookups.size(), start + kMaxParallelLookups);
    if (end - start == 1) {
      if (lookups[start].error.empty()) Resolve(&lookups[start]);
      continue;
    }
    std::vector<std::future<void>> running;
    for (size_t i = start; i < end; ++i) {
      if (!lookups[i].error.empty()) continue;
      try {
        running.push_back(std::async(std::launch::async, Resolve, &lookups[i]));
      } catch (const std::system_error&) {
        Resolve(&lookups[i]);  // no thread to be had: looked up here instead
      }
    }
    for (auto& f : running) f.wait();
  }

  std::vector<std::string> unresolved;
  for (Upstream& u : cfg->upstreams) {
    for (Backend& b : u.backends) {
      SocketAddress& a = b.address;
      if (a.host.empty()) continue;
      const Lookup& l = lookups[index.at(a.text)];
      a.storage = l.storage;
      a.len = l.len;
      if (a.len == 0) {
        unresolved.push_back(
            absl::StrFormat("upstream '%s': backend %s: %s", u.name, a.text, l.error));
      }
    }
  }
  return unresolved;
}

}  // namespace ringway::config
