// enabled_backends_tag: servers and routes that pick backends by tag (config.h, ExpandTags).
#include <algorithm>
#include <map>
#include <string>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "config/config.h"

namespace ringway::config {

namespace {

bool HasTag(const Backend& b, const std::string& tag) {
  return std::find(b.tags.begin(), b.tags.end(), tag) != b.tags.end();
}

}  // namespace

void ExpandTags(Config* cfg) {
  const size_t real = cfg->upstreams.size();
  std::map<std::tuple<int64_t, std::string, bool>, uint32_t> made;
  // `tls`: a server with `tls: true` speaks TLS to the backends it picks (as to its upstream).
  auto derive = [&](uint32_t base, const std::string& tag, bool tls) -> uint32_t {
    const int64_t key = base == kNoUpstream ? -1 : static_cast<int64_t>(base);
    if (auto it = made.find({key, tag, tls}); it != made.end()) return it->second;
    Upstream u;
    if (base != kNoUpstream) {
      const Upstream& from = cfg->upstreams[base];
      u = from;
      u.backends.clear();
      for (const Backend& b : from.backends) {
        if (HasTag(b, tag)) u.backends.push_back(b);
      }
      u.name = absl::StrCat(from.name, "#", tag);
      u.derived_from = static_cast<int32_t>(base);
    } else {
      // Every backend of the config with the tag (once per address), under the settings of the
      // first upstream that holds one.
      absl::flat_hash_set<std::string> seen;
      bool settings = false;
      for (size_t i = 0; i < real; ++i) {
        for (const Backend& b : cfg->upstreams[i].backends) {
          if (!HasTag(b, tag) || !seen.insert(b.address.text).second) continue;
          if (!settings) {
            std::vector<Backend> keep = std::move(u.backends);
            u = cfg->upstreams[i];
            u.backends = std::move(keep);
            settings = true;
          }
          u.backends.push_back(b);
        }
      }
      u.name = absl::StrCat("tag:", tag);
      u.derived_from = -1;
    }
    if (tls && !u.tls.enabled) {
      u.tls.enabled = true;
      absl::StrAppend(&u.name, "+tls");
    }
    u.tag = tag;
    u.derived = true;
    cfg->upstreams.push_back(std::move(u));
    const uint32_t index = static_cast<uint32_t>(cfg->upstreams.size() - 1);
    made.emplace(std::make_tuple(key, tag, tls), index);
    return index;
  };
  for (Server& s : cfg->servers) {
    const uint32_t base = s.upstream;
    for (Route& r : s.routes) {
      const std::string& tag = r.backends_tag.empty() ? s.backends_tag : r.backends_tag;
      if (!tag.empty()) r.upstream = derive(r.upstream, tag, s.tls);
    }
    if (!s.backends_tag.empty()) s.upstream = derive(base, s.backends_tag, s.tls);
  }
}

}  // namespace ringway::config
