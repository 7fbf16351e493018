// Fuzz target for the admin API's state file (proxy/state.h): OverlayFromJson reads a file an
// operator may have edited by hand, and ApplyOverlay puts what it read over the config file at
// every start and reload, before config::ExpandTags.
// Invariants checked (trap on violation):
//  - no crash, no sanitizer report (libFuzzer and ASan see to those)
//  - an overlay that parses writes JSON that parses again, and writes the same JSON: the state
//    file is stable over a save and load
//  - applied to a fixed config (with listener server lists, routes, a tag-only server and a
//    "backends" upstream between two others), an overlay that applies leaves every index in
//    range: listeners' servers, and after ExpandTags every server's and route's upstream
//  - backend ids stay unique in the config, and addresses unique within each upstream
//  - every upstream of the file keeps a backend; only "backends" and derived ones may be empty
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_set.h"
#include "config/config.h"
#include "proxy/state.h"

namespace {

using ringway::config::Config;
using ringway::proxy::Overlay;

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

constexpr std::string_view kBase = R"yaml(listeners:
  - {name: public, bind: "127.0.0.1:8080", servers: [shop.com, api.com]}
  - {name: all, bind: "127.0.0.1:8081"}
servers:
  - server_name: [acme.com, www.acme.com]
    upstream: web
    enabled_backends_tag: canary
    routes:
      - {path: /api/, upstream: api}
      - {path: /b/, upstream: web, enabled_backends_tag: stable}
  - server_name: shop.com
    upstream: web
    redirect_https: true
  - server_name: api.com
    upstream: api
    routes:
      - {path: /x/, upstream: backends}
  - server_name: tag.com
    enabled_backends_tag: canary
upstreams:
  - name: web
    servers:
      - {address: "127.0.0.1:3001", id: web-1, tags: [stable]}
      - {address: "127.0.0.1:3002", id: web-2, tags: [canary]}
  - name: backends
    servers: [{address: "127.0.0.1:5001", id: b-1, tags: [canary]}]
  - name: api
    servers:
      - {address: "127.0.0.1:4001", id: api-1}
      - {address: "127.0.0.1:4002", id: api-2, tags: [canary]}
)yaml";

const Config& Base() {
  static const Config* base = [] {
    absl::StatusOr<Config> cfg = ringway::config::LoadString(kBase, "base.yaml");
    Check(cfg.ok());
    return new Config(*std::move(cfg));
  }();
  return *base;
}

void CheckApplied(const Config& cfg) {
  for (const auto& l : cfg.listeners) {
    for (uint32_t s : l.servers) Check(s < cfg.servers.size());
  }
  for (const auto& s : cfg.servers) {
    Check(s.upstream < cfg.upstreams.size() ||
          (s.upstream == ringway::config::kNoUpstream && !s.backends_tag.empty()));
    for (const auto& r : s.routes) Check(r.upstream < cfg.upstreams.size());
  }
  absl::flat_hash_set<std::string> ids;
  for (const auto& u : cfg.upstreams) {
    Check(!u.derived);
    Check(!u.backends.empty() || u.name == ringway::proxy::kApiUpstream);
    absl::flat_hash_set<std::string> addresses;
    for (const auto& b : u.backends) {
      Check(ids.insert(b.id).second);
      Check(addresses.insert(b.address.text).second);
      Check(b.weight >= 1 && b.weight <= 1000);
    }
  }
}

void CheckExpanded(const Config& cfg, size_t real) {
  for (const auto& s : cfg.servers) {
    Check(s.upstream < cfg.upstreams.size());
    if (!s.backends_tag.empty()) Check(cfg.upstreams[s.upstream].derived);
    for (const auto& r : s.routes) Check(r.upstream < cfg.upstreams.size());
  }
  for (size_t i = real; i < cfg.upstreams.size(); ++i) {
    const auto& u = cfg.upstreams[i];
    Check(u.derived && !u.tag.empty());
    Check(u.derived_from < static_cast<int64_t>(real));
    for (const auto& b : u.backends) {
      bool tagged = false;
      for (const auto& t : b.tags) tagged = tagged || t == u.tag;
      Check(tagged);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view json(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<Overlay> o = ringway::proxy::OverlayFromJson(json);
  if (!o.ok()) return 0;

  const std::string once = ringway::proxy::OverlayToJson(*o);
  absl::StatusOr<Overlay> again = ringway::proxy::OverlayFromJson(once);
  Check(again.ok());
  Check(ringway::proxy::OverlayToJson(*again) == once);

  Config cfg = Base();
  if (!ringway::proxy::ApplyOverlay(*o, &cfg).ok()) return 0;
  CheckApplied(cfg);
  const size_t real = cfg.upstreams.size();
  ringway::config::ExpandTags(&cfg);
  CheckExpanded(cfg, real);
  return 0;
}
