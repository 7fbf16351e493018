// The admin API's overlay (proxy/state.h): applying it to a loaded config, its JSON form and
// its file next to the config.
#include "proxy/state.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "config/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ringway::proxy {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

// Servers: 0 acme.com (+www), 1 shop.com (route /api/ -> api), 2 api.com.
// Upstreams: 0 web [web-1 stable, web-2 canary], 1 api [api-1].
constexpr std::string_view kBase = R"yaml(listeners:
  - name: public
    bind: "127.0.0.1:8080"
    servers: [shop.com, api.com]
  - name: all
    bind: "127.0.0.1:8081"
servers:
  - server_name: [acme.com, www.acme.com]
    upstream: web
  - server_name: shop.com
    upstream: web
    redirect_https: true
    routes:
      - {path: /api/, upstream: api}
  - server_name: api.com
    upstream: api
upstreams:
  - name: web
    servers:
      - {address: "127.0.0.1:3001", id: web-1, tags: [stable]}
      - {address: "127.0.0.1:3002", id: web-2, tags: [canary], weight: 2}
  - name: api
    servers:
      - {address: "127.0.0.1:4001", id: api-1}
)yaml";

config::Config Load(std::string_view yaml) {
  absl::StatusOr<config::Config> cfg = config::LoadString(yaml, "test.yaml");
  EXPECT_TRUE(cfg.ok()) << cfg.status();
  return cfg.ok() ? *std::move(cfg) : config::Config{};
}

config::Config Base() { return Load(kBase); }

std::vector<std::string> Ids(const config::Upstream& u) {
  std::vector<std::string> out;
  for (const auto& b : u.backends) out.push_back(b.id);
  return out;
}

std::vector<std::string> UpstreamNames(const config::Config& cfg) {
  std::vector<std::string> out;
  for (const auto& u : cfg.upstreams) out.push_back(u.name);
  return out;
}

std::vector<std::string> ServerNames(const config::Config& cfg) {
  std::vector<std::string> out;
  for (const auto& s : cfg.servers) out.push_back(s.name);
  return out;
}

// An entry as the API's POST makes it (an edit of a domain of the file, when the file has it).
Overlay::Domain Domain(std::string_view d) {
  Overlay::Domain x;
  x.domain = std::string(d);
  x.added = true;
  return x;
}

Overlay::Backend NewBackend(std::string_view id, std::string_view address) {
  Overlay::Backend b;
  b.id = std::string(id);
  b.added = true;
  b.address = std::string(address);
  return b;
}

Overlay::Backend Deleted(std::string_view id) {
  Overlay::Backend b;
  b.id = std::string(id);
  b.deleted = true;
  return b;
}

// ---------------------------------------------------------------------------------------------
// ApplyOverlay: domains

TEST(ApplyOverlayTest, EmptyOverlayChangesNothing) {
  config::Config cfg = Base();
  ASSERT_TRUE(ApplyOverlay(Overlay{}, &cfg).ok());
  EXPECT_THAT(ServerNames(cfg), ElementsAre("acme.com", "shop.com", "api.com"));
  EXPECT_THAT(UpstreamNames(cfg), ElementsAre("web", "api"));
  EXPECT_THAT(Ids(cfg.upstreams[0]), ElementsAre("web-1", "web-2"));
}

TEST(ApplyOverlayTest, NewDomainWithTagAndNoUpstream) {
  config::Config cfg = Base();
  Overlay o;
  Overlay::Domain d = Domain("new.com");
  d.tag = "canary";
  d.http_to_https = true;
  o.domains.push_back(d);
  ASSERT_TRUE(ApplyOverlay(o, &cfg).ok());

  ASSERT_EQ(cfg.servers.size(), 4u);
  const config::Server& s = cfg.servers[3];
  EXPECT_EQ(s.name, "new.com");
  EXPECT_THAT(s.server_names, ElementsAre("new.com"));
  EXPECT_EQ(s.upstream, config::kNoUpstream);
  EXPECT_EQ(s.backends_tag, "canary");
  EXPECT_TRUE(s.redirect_https);
  EXPECT_EQ(FindDomain(cfg, "new.com"), 3);

  // Expanded, it gets every backend with the tag.
  config::ExpandTags(&cfg);
  ASSERT_LT(cfg.servers[3].upstream, cfg.upstreams.size());
  const config::Upstream& u = cfg.upstreams[cfg.servers[3].upstream];
  EXPECT_EQ(u.name, "tag:canary");
  EXPECT_THAT(Ids(u), ElementsAre("web-2"));
}

TEST(ApplyOverlayTest, NewDomainWithUpstream) {
  config::Config cfg = Base();
  Overlay o;
  Overlay::Domain d = Domain("new.com");
  d.upstream = "api";
  o.domains.push_back(d);
  ASSERT_TRUE(ApplyOverlay(o, &cfg).ok());
  ASSERT_EQ(cfg.servers.size(), 4u);
  EXPECT_EQ(cfg.servers[3].name, "new.com");
  EXPECT_EQ(cfg.servers[3].upstream, 1u);
  EXPECT_EQ(cfg.servers[3].backends_tag, "");
  EXPECT_FALSE(cfg.servers[3].redirect_https);
}

TEST(ApplyOverlayTest, NewDomainWithUnknownUpstreamIsNotFound) {
  config::Config cfg = Base();
  Overlay o;
  Overlay::Domain d = Domain("new.com");
  d.upstream = "nope";
  o.domains.push_back(d);
  absl::Status st = ApplyOverlay(o, &cfg);
  EXPECT_EQ(st.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(st.message(), "domain 'new.com': upstream 'nope' is not defined");
}

TEST(ApplyOverlayTest, NewDomainWithNeitherUpstreamNorTagIsRefused) {
  config::Config cfg = Base();
  Overlay o;
  Overlay::Domain d = Domain("new.com");
  d.http_to_https = true;
  o.domains.push_back(d);
  absl::Status st = ApplyOverlay(o, &cfg);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()),
              StartsWith("domain 'new.com' has neither an upstream nor"));
}

// A new domain that another server answers already is refused: the router could not tell them
// apart.
TEST(ApplyOverlayTest, NewDomainThatIsAnotherServersName) {
  config::Config cfg = Base();
  Overlay o;
  Overlay::Domain d = Domain("www.acme.com");
  d.tag = "a";
  o.domains = {d};
  absl::Status st = ApplyOverlay(o, &cfg);
  EXPECT_EQ(st.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(std::string(st.message()), HasSubstr("is a name of domain 'acme.com' already"));
}

TEST(ApplyOverlayTest, EditOfDomainFromFile) {
  config::Config cfg = Base();
  Overlay o;
  Overlay::Domain acme = Domain("acme.com");  // its first server_name: the domain
  acme.tag = "canary";
  acme.http_to_https = true;
  Overlay::Domain shop = Domain("shop.com");
  shop.http_to_https = false;
  o.domains = {acme, shop};
  ASSERT_TRUE(ApplyOverlay(o, &cfg).ok());

  ASSERT_EQ(cfg.servers.size(), 3u);  // edited in place, nothing added
  EXPECT_EQ(cfg.servers[0].backends_tag, "canary");
  EXPECT_TRUE(cfg.servers[0].redirect_https);
  EXPECT_EQ(cfg.servers[0].upstream, 0u);
  EXPECT_EQ(cfg.servers[1].backends_tag, "");
  EXPECT_FALSE(cfg.servers[1].redirect_https);  // was true in the file
  ASSERT_EQ(cfg.servers[1].routes.size(), 1u);
  EXPECT_EQ(cfg.servers[1].routes[0].upstream, 1u);
}

TEST(ApplyOverlayTest, EmptyTagRemovesTheTagAndUpstreamSwitches) {
  config::Config cfg = Load(R"yaml(global:
  port: 8080
servers:
  - server_name: acme.com
    upstream: web
    enabled_backends_tag: canary
upstreams:
  - name: web
    servers: ["127.0.0.1:3001"]
  - name: api
    servers: ["127.0.0.1:4001"]
)yaml");
  Overlay o;
  Overlay::Domain d = Domain("acme.com");
  d.tag = "";
  d.upstream = "api";
  o.domains.push_back(d);
  ASSERT_TRUE(ApplyOverlay(o, &cfg).ok());
  EXPECT_EQ(cfg.servers[0].backends_tag, "");
  EXPECT_EQ(cfg.servers[0].upstream, 1u);
}

TEST(ApplyOverlayTest, RemovingTheTagOfATagOnlyDomainIsRefused) {
  config::Config cfg = Load(R"yaml(global:
  port: 8080
servers:
  - server_name: acme.com
    enabled_backends_tag: canary
upstreams:
  - name: web
    servers: ["127.0.0.1:3001"]
)yaml");
  Overlay o;
  Overlay::Domain d = Domain("acme.com");
  d.tag = "";
  o.domains.push_back(d);
  absl::Status st = ApplyOverlay(o, &cfg);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()),
              HasSubstr("domain 'acme.com' has neither an upstream nor"));
}

TEST(ApplyOverlayTest, DeleteOfDomainRenumbersListenerServers) {
  config::Config cfg = Base();
  ASSERT_EQ(cfg.listeners.size(), 2u);
  ASSERT_THAT(cfg.listeners[0].servers, ElementsAre(1u, 2u));
  ASSERT_THAT(cfg.listeners[1].servers, IsEmpty());
  Overlay o;
  Overlay::Domain d = Domain("acme.com");  // deletes the whole server 0 (www.acme.com too)
  d.deleted = true;
  o.domains.push_back(d);
  ASSERT_TRUE(ApplyOverlay(o, &cfg).ok());

  EXPECT_THAT(ServerNames(cfg), ElementsAre("shop.com", "api.com"));
  EXPECT_THAT(cfg.listeners[0].servers, ElementsAre(0u, 1u));
  EXPECT_THAT(cfg.listeners[1].servers, IsEmpty());
  EXPECT_EQ(FindDomain(cfg, "acme.com"), -1);
  EXPECT_EQ(FindDomain(cfg, "api.com"), 1);
}

TEST(ApplyOverlayTest, DeleteOfListedDomainDropsItFromTheListener) {
  config::Config cfg = Base();
  Overlay o;
  Overlay::Domain d = Domain("shop.com");
  d.deleted = true;
  o.domains.push_back(d);
  ASSERT_TRUE(ApplyOverlay(o, &cfg).ok());

  EXPECT_THAT(ServerNames(cfg), ElementsAre("acme.com", "api.com"));
  EXPECT_THAT(cfg.listeners[0].servers, ElementsAre(1u));  // api.com, renumbered from 2
  EXPECT_EQ(cfg.servers[cfg.listeners[0].servers[0]].name, "api.com");
  // Upstreams are not touched by a domain delete.
  EXPECT_THAT(UpstreamNames(cfg), ElementsAre("web", "api"));
}

// Known bug (proxy/state.cc RemoveServer): a listener whose `servers` named only the deleted
// domain is left with an empty list, and an empty list means "every server", so the listener
// starts serving every other domain. Enable once ApplyOverlay refuses the delete or otherwise
// keeps such a listener closed to other domains.
TEST(ApplyOverlayTest, DeleteOfOnlyListedDomainDoesNotOpenTheListenerToAll) {
  config::Config cfg = Load(R"yaml(listeners:
  - {name: internal, bind: "127.0.0.1:8080", servers: [admin.com]}
  - {name: public, bind: "127.0.0.1:8081", servers: [shop.com]}
servers:
  - {server_name: admin.com, upstream: web}
  - {server_name: shop.com, upstream: web}
upstreams:
  - name: web
    servers: ["127.0.0.1:3001"]
)yaml");
  Overlay o;
  Overlay::Domain d = Domain("admin.com");
  d.deleted = true;
  o.domains.push_back(d);
  if (!ApplyOverlay(o, &cfg).ok()) return;  // refusing the delete is one fix
  ASSERT_EQ(cfg.listeners.size(), 2u);
  EXPECT_THAT(cfg.listeners[0].servers, Not(IsEmpty()))
      << "listener 'internal' now serves every domain, shop.com included";
}

TEST(ApplyOverlayTest, DeleteOfUnknownDomainIsFine) {
  config::Config cfg = Base();
  Overlay o;
  Overlay::Domain d = Domain("gone.com");
  d.deleted = true;
  o.domains.push_back(d);
  ASSERT_TRUE(ApplyOverlay(o, &cfg).ok());
  EXPECT_THAT(ServerNames(cfg), ElementsAre("acme.com", "shop.com", "api.com"));
  EXPECT_THAT(cfg.listeners[0].servers, ElementsAre(1u, 2u));
}

// ---------------------------------------------------------------------------------------------
// ApplyOverlay: backends

TEST(ApplyOverlayTest, NewBackendCreatesTheBackendsUpstream) {
  config::Config cfg = Base();
  Overlay o;
  Overlay::Backend b = NewBackend("b-1", "127.0.0.1:5001");
  b.tags = std::vector<std::string>{"canary", "v2"};
  b.weight = 7;
  b.state = config::BackendState::kDrain;
  o.backends.push_back(b);
  // A new domain in the same overlay may name it: backends are applied first.
  Overlay::Domain d = Domain("new.com");
  d.upstream = std::string(kApiUpstream);
  o.domains.push_back(d);
  ASSERT_TRUE(ApplyOverlay(o, &cfg).ok());

  ASSERT_THAT(UpstreamNames(cfg), ElementsAre("web", "api", "backends"));
  const config::Upstream& api = cfg.upstreams[2];
  ASSERT_EQ(api.backends.size(), 1u);
  const config::Backend& nb = api.backends[0];
  EXPECT_EQ(nb.id, "b-1");
  EXPECT_EQ(nb.address.text, "127.0.0.1:5001");
  EXPECT_THAT(nb.tags, ElementsAre("canary", "v2"));
  EXPECT_EQ(nb.weight, 7u);
  EXPECT_EQ(nb.state, config::BackendState::kDrain);
  EXPECT_EQ(cfg.servers[3].upstream, 2u);
  uint32_t up = 99, pos = 99;
  ASSERT_TRUE(FindBackendId(cfg, "b-1", &up, &pos));
  EXPECT_EQ(up, 2u);
  EXPECT_EQ(pos, 0u);
}

TEST(ApplyOverlayTest, NewBackendsShareOneBackendsUpstream) {
  config::Config cfg = Base();
  Overlay o;
  o.backends = {NewBackend("b-1", "127.0.0.1:5001"), NewBackend("b-2", "[::1]:5002")};
  ASSERT_TRUE(ApplyOverlay(o, &cfg).ok());
  ASSERT_THAT(UpstreamNames(cfg), ElementsAre("web", "api", "backends"));
  EXPECT_THAT(Ids(cfg.upstreams[2]), ElementsAre("b-1", "b-2"));
  EXPECT_EQ(cfg.upstreams[2].backends[1].address.text, "[::1]:5002");
  EXPECT_EQ(cfg.upstreams[2].backends[0].weight, 1u);  // defaults without the fields
  EXPECT_EQ(cfg.upstreams[2].backends[0].state, config::BackendState::kReady);
}

TEST(ApplyOverlayTest, NewBackendIntoNamedUpstream) {
  config::Config cfg = Base();
  Overlay o;
  Overlay::Backend b = NewBackend("api-2", "127.0.0.1:4002");
  b.upstream = "api";
  o.backends.push_back(b);
  ASSERT_TRUE(ApplyOverlay(o, &cfg).ok());
  EXPECT_THAT(UpstreamNames(cfg), ElementsAre("web", "api"));
  EXPECT_THAT(Ids(cfg.upstreams[1]), ElementsAre("api-1", "api-2"));
  EXPECT_EQ(cfg.upstreams[1].backends[1].address.text, "127.0.0.1:4002");
}

TEST(ApplyOverlayTest, NewBackendIntoUnknownUpstreamIsNotFound) {
  config::Config cfg = Base();
  Overlay o;
  Overlay::Backend b = NewBackend("x", "127.0.0.1:4002");
  b.upstream = "nope";
  o.backends.push_back(b);
  absl::Status st = ApplyOverlay(o, &cfg);
  EXPECT_EQ(st.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(st.message(), "backend 'x': upstream 'nope' is not defined");
}

TEST(ApplyOverlayTest, DuplicateAddressInUpstreamAlreadyExists) {
  config::Config cfg = Base();
  Overlay o;
  Overlay::Backend b = NewBackend("x", "127.0.0.1:3002");
  b.upstream = "web";
  o.backends.push_back(b);
  absl::Status st = ApplyOverlay(o, &cfg);
  EXPECT_EQ(st.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(st.message(),
            "backend 'x': upstream 'web' already has backend 127.0.0.1:3002 (id 'web-2')");
}

TEST(ApplyOverlayTest, SameAddressInAnotherUpstreamIsFine) {
  config::Config cfg = Base();
  Overlay o;
  Overlay::Backend b = NewBackend("x", "127.0.0.1:3002");
  b.upstream = "api";
  o.backends.push_back(b);
  ASSERT_TRUE(ApplyOverlay(o, &cfg).ok());
  EXPECT_THAT(Ids(cfg.upstreams[1]), ElementsAre("api-1", "x"));
}

TEST(ApplyOverlayTest, EditToAddressOfSiblingAlreadyExists) {
  config::Config cfg = Base();
  Overlay o;
  Overlay::Backend b;
  b.id = "web-1";
  b.address = "127.0.0.1:3002";
  o.backends.push_back(b);
  absl::Status st = ApplyOverlay(o, &cfg);
  EXPECT_EQ(st.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(std::string(st.message()), HasSubstr("(id 'web-2')"));
}

TEST(ApplyOverlayTest, NewBackendWithoutAddressIsRefused) {
  config::Config cfg = Base();
  Overlay o;
  Overlay::Backend b;
  b.id = "ghost";
  b.added = true;
  b.weight = 3;
  o.backends.push_back(b);
  absl::Status st = ApplyOverlay(o, &cfg);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), StartsWith("backend 'ghost' was added with no address"));
}

// Edits of what the file had, once the file has dropped it (a backend drained, then removed
// from the file; a domain switched, then removed): they are let go, not errors, and the domain
// does not come back.
TEST(ApplyOverlayTest, EditsOfWhatTheFileDroppedAreIgnored) {
  config::Config cfg = Base();
  const size_t servers = cfg.servers.size();
  Overlay o;
  Overlay::Backend b;
  b.id = "gone";
  b.state = config::BackendState::kDrain;
  o.backends.push_back(b);
  Overlay::Domain d;
  d.domain = "gone.com";
  d.tag = "b";
  o.domains.push_back(d);
  ASSERT_TRUE(ApplyOverlay(o, &cfg).ok());
  EXPECT_EQ(cfg.servers.size(), servers);
  EXPECT_EQ(FindDomain(cfg, "gone.com"), -1);
  uint32_t u = 0, i = 0;
  EXPECT_FALSE(FindBackendId(cfg, "gone", &u, &i));
}

TEST(ApplyOverlayTest, AddressIsNormalised) {
  config::Config cfg = Base();
  Overlay o;
  o.backends.push_back(NewBackend("x", "localhost:5001"));
  o.backends.push_back(NewBackend("y", "[0:0::1]:5002"));
  ASSERT_TRUE(ApplyOverlay(o, &cfg).ok());
  ASSERT_EQ(cfg.upstreams.size(), 3u);
  EXPECT_EQ(cfg.upstreams[2].backends[0].address.text, "127.0.0.1:5001");
  EXPECT_EQ(cfg.upstreams[2].backends[1].address.text, "[::1]:5002");
}

TEST(ApplyOverlayTest, BadAddressIsInvalidArgument) {
  config::Config cfg = Base();
  Overlay o;
  o.backends.push_back(NewBackend("x", "web.internal:80"));
  absl::Status st = ApplyOverlay(o, &cfg);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), StartsWith("backend 'x': address 'web.internal:80'"));
  EXPECT_THAT(std::string(st.message()), HasSubstr("host names are not resolved"));
  o.backends[0].address = "127.0.0.1:0";
  st = ApplyOverlay(o, &cfg);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("out of range"));
}

TEST(ApplyOverlayTest, DeletingTheLastBackendOfAFileUpstreamIsRefused) {
  config::Config cfg = Base();
  Overlay o;
  o.backends.push_back(Deleted("api-1"));
  absl::Status st = ApplyOverlay(o, &cfg);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(st.message()), StartsWith("upstream 'api' would have no backend left"));
}

TEST(ApplyOverlayTest, MovingTheLastBackendOutOfAFileUpstreamIsRefused) {
  config::Config cfg = Base();
  Overlay o;
  Overlay::Backend b;
  b.id = "api-1";
  b.upstream = "web";
  o.backends.push_back(b);
  absl::Status st = ApplyOverlay(o, &cfg);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(st.message()), HasSubstr("upstream 'api' would have no backend left"));
}

TEST(ApplyOverlayTest, DeletingOneOfTwoBackends) {
  config::Config cfg = Base();
  Overlay o;
  o.backends.push_back(Deleted("web-1"));
  ASSERT_TRUE(ApplyOverlay(o, &cfg).ok());
  EXPECT_THAT(Ids(cfg.upstreams[0]), ElementsAre("web-2"));
  uint32_t up = 0, pos = 0;
  EXPECT_FALSE(FindBackendId(cfg, "web-1", &up, &pos));
}

TEST(ApplyOverlayTest, DeletedEntryForMissingBackendIsFine) {
  config::Config cfg = Base();
  Overlay o;
  o.backends.push_back(Deleted("gone"));
  ASSERT_TRUE(ApplyOverlay(o, &cfg).ok());
  EXPECT_THAT(UpstreamNames(cfg), ElementsAre("web", "api"));
  EXPECT_THAT(Ids(cfg.upstreams[0]), ElementsAre("web-1", "web-2"));
  EXPECT_THAT(Ids(cfg.upstreams[1]), ElementsAre("api-1"));
}

// A file whose "backends" upstream sits between two others, so removing it shifts indexes.
constexpr std::string_view kWithBackends = R"yaml(global:
  port: 8080
servers:
  - server_name: acme.com
    upstream: web
    routes:
      - {path: /api/, upstream: api}
      - {path: /web/, upstream: web}
  - server_name: api.com
    upstream: api
upstreams:
  - name: web
    servers: [{address: "127.0.0.1:3001", id: web-1}]
  - name: backends
    servers: [{address: "127.0.0.1:5001", id: b-1}]
  - name: api
    servers: [{address: "127.0.0.1:4001", id: api-1}]
)yaml";

TEST(ApplyOverlayTest, BackendsUpstreamGoesWithItsLastBackendAndIndexesShift) {
  config::Config cfg = Load(kWithBackends);
  ASSERT_EQ(cfg.servers[1].upstream, 2u);
  Overlay o;
  o.backends.push_back(Deleted("b-1"));
  ASSERT_TRUE(ApplyOverlay(o, &cfg).ok());

  ASSERT_THAT(UpstreamNames(cfg), ElementsAre("web", "api"));
  EXPECT_EQ(cfg.servers[0].upstream, 0u);            // web: before it, unchanged
  EXPECT_EQ(cfg.servers[0].routes[0].upstream, 1u);  // api: 2 -> 1
  EXPECT_EQ(cfg.servers[0].routes[1].upstream, 0u);  // web
  EXPECT_EQ(cfg.servers[1].upstream, 1u);            // api: 2 -> 1
  EXPECT_EQ(cfg.upstreams[cfg.servers[1].upstream].name, "api");
}

TEST(ApplyOverlayTest, BackendsUpstreamGoesWhenItsBackendMovesAway) {
  config::Config cfg = Load(kWithBackends);
  Overlay o;
  Overlay::Backend b;
  b.id = "b-1";
  b.upstream = "api";
  o.backends.push_back(b);
  ASSERT_TRUE(ApplyOverlay(o, &cfg).ok());
  ASSERT_THAT(UpstreamNames(cfg), ElementsAre("web", "api"));
  EXPECT_THAT(Ids(cfg.upstreams[1]), ElementsAre("api-1", "b-1"));
  EXPECT_EQ(cfg.servers[1].upstream, 1u);
}

TEST(ApplyOverlayTest, BackendsUpstreamStaysEmptyWhileSomethingRoutesToIt) {
  config::Config cfg = Load(R"yaml(global:
  port: 8080
servers:
  - server_name: acme.com
    upstream: web
    routes:
      - {path: /b/, upstream: backends}
upstreams:
  - name: web
    servers: [{address: "127.0.0.1:3001", id: web-1}]
  - name: backends
    servers: [{address: "127.0.0.1:5001", id: b-1}]
)yaml");
  Overlay o;
  o.backends.push_back(Deleted("b-1"));
  ASSERT_TRUE(ApplyOverlay(o, &cfg).ok());
  ASSERT_THAT(UpstreamNames(cfg), ElementsAre("web", "backends"));
  EXPECT_THAT(cfg.upstreams[1].backends, IsEmpty());
  EXPECT_EQ(cfg.servers[0].routes[0].upstream, 1u);
}

TEST(ApplyOverlayTest, BackendsUpstreamRemovalKeepsTagOnlyServers) {
  config::Config cfg = Load(R"yaml(global:
  port: 8080
servers:
  - server_name: acme.com
    enabled_backends_tag: canary
  - server_name: api.com
    upstream: api
upstreams:
  - name: backends
    servers: [{address: "127.0.0.1:5001", id: b-1}]
  - name: api
    servers: [{address: "127.0.0.1:4001", id: api-1, tags: [canary]}]
)yaml");
  Overlay o;
  o.backends.push_back(Deleted("b-1"));
  ASSERT_TRUE(ApplyOverlay(o, &cfg).ok());
  ASSERT_THAT(UpstreamNames(cfg), ElementsAre("api"));
  EXPECT_EQ(cfg.servers[0].upstream, config::kNoUpstream);  // not shifted
  EXPECT_EQ(cfg.servers[1].upstream, 0u);
}

TEST(ApplyOverlayTest, EditOfBackendKeepsItsPlace) {
  config::Config cfg = Base();
  Overlay o;
  Overlay::Backend b;
  b.id = "web-1";
  b.address = "127.0.0.1:3009";
  b.tags = std::vector<std::string>{"canary"};
  b.weight = 1000;
  b.state = config::BackendState::kMaint;
  o.backends.push_back(b);
  ASSERT_TRUE(ApplyOverlay(o, &cfg).ok());

  ASSERT_THAT(Ids(cfg.upstreams[0]), ElementsAre("web-1", "web-2"));
  const config::Backend& e = cfg.upstreams[0].backends[0];
  EXPECT_EQ(e.address.text, "127.0.0.1:3009");
  EXPECT_THAT(e.tags, ElementsAre("canary"));
  EXPECT_EQ(e.weight, 1000u);
  EXPECT_EQ(e.state, config::BackendState::kMaint);
  // The sibling is untouched.
  EXPECT_EQ(cfg.upstreams[0].backends[1].weight, 2u);
  EXPECT_THAT(cfg.upstreams[0].backends[1].tags, ElementsAre("canary"));
}

TEST(ApplyOverlayTest, PartialEditOfBackendKeepsTheFileValues) {
  config::Config cfg = Base();
  Overlay o;
  Overlay::Backend b;
  b.id = "web-2";
  b.state = config::BackendState::kDrain;
  o.backends.push_back(b);
  ASSERT_TRUE(ApplyOverlay(o, &cfg).ok());
  const config::Backend& e = cfg.upstreams[0].backends[1];
  EXPECT_EQ(e.id, "web-2");
  EXPECT_EQ(e.address.text, "127.0.0.1:3002");
  EXPECT_THAT(e.tags, ElementsAre("canary"));
  EXPECT_EQ(e.weight, 2u);
  EXPECT_EQ(e.state, config::BackendState::kDrain);
}

TEST(ApplyOverlayTest, EmptyTagListClearsTags) {
  config::Config cfg = Base();
  Overlay o;
  Overlay::Backend b;
  b.id = "web-1";
  b.tags = std::vector<std::string>{};
  o.backends.push_back(b);
  ASSERT_TRUE(ApplyOverlay(o, &cfg).ok());
  EXPECT_THAT(cfg.upstreams[0].backends[0].tags, IsEmpty());
}

TEST(ApplyOverlayTest, EditMovesBackendToAnotherUpstream) {
  config::Config cfg = Base();
  Overlay o;
  Overlay::Backend b;
  b.id = "web-1";
  b.upstream = "api";
  o.backends.push_back(b);
  ASSERT_TRUE(ApplyOverlay(o, &cfg).ok());
  EXPECT_THAT(Ids(cfg.upstreams[0]), ElementsAre("web-2"));
  EXPECT_THAT(Ids(cfg.upstreams[1]), ElementsAre("api-1", "web-1"));
  EXPECT_EQ(cfg.upstreams[1].backends[1].address.text, "127.0.0.1:3001");
}

// ---------------------------------------------------------------------------------------------
// Look-ups

// A domain is its server's first name; its other names find the server, not a domain.
TEST(StateLookupTest, FindDomainMatchesTheFirstServerName) {
  config::Config cfg = Base();
  EXPECT_EQ(FindDomain(cfg, "acme.com"), 0);
  EXPECT_EQ(FindDomain(cfg, "www.acme.com"), -1);
  EXPECT_EQ(FindServerName(cfg, "www.acme.com"), 0);
  EXPECT_EQ(FindServerName(cfg, "nope.com"), -1);
  EXPECT_EQ(FindDomain(cfg, "shop.com"), 1);
  EXPECT_EQ(FindDomain(cfg, "nope.com"), -1);
  EXPECT_EQ(FindDomain(cfg, ""), -1);
}

TEST(StateLookupTest, FindBackendIdGivesUpstreamAndPosition) {
  config::Config cfg = Base();
  uint32_t up = 99, pos = 99;
  ASSERT_TRUE(FindBackendId(cfg, "web-2", &up, &pos));
  EXPECT_EQ(up, 0u);
  EXPECT_EQ(pos, 1u);
  ASSERT_TRUE(FindBackendId(cfg, "api-1", &up, &pos));
  EXPECT_EQ(up, 1u);
  EXPECT_EQ(pos, 0u);
  EXPECT_FALSE(FindBackendId(cfg, "web", &up, &pos));
}

TEST(StateLookupTest, StateNamesRoundTrip) {
  for (auto s :
       {config::BackendState::kReady, config::BackendState::kDrain, config::BackendState::kMaint}) {
    std::optional<config::BackendState> back = ParseState(StateName(s));
    ASSERT_TRUE(back.has_value()) << StateName(s);
    EXPECT_EQ(*back, s);
  }
  EXPECT_STREQ(StateName(config::BackendState::kDrain), "drain");
  EXPECT_FALSE(ParseState("Ready").has_value());
  EXPECT_FALSE(ParseState("").has_value());
}

TEST(StateLookupTest, OverlayFindsItsEntries) {
  Overlay o;
  o.domains = {Domain("a.com"), Domain("b.com")};
  o.backends = {NewBackend("x", "127.0.0.1:1")};
  ASSERT_NE(o.FindDomain("b.com"), nullptr);
  EXPECT_EQ(o.FindDomain("b.com")->domain, "b.com");
  EXPECT_EQ(o.FindDomain("c.com"), nullptr);
  ASSERT_NE(o.FindBackend("x"), nullptr);
  EXPECT_EQ(o.FindBackend("x")->address, "127.0.0.1:1");
  EXPECT_EQ(o.FindBackend("y"), nullptr);
  EXPECT_FALSE(o.empty());
  EXPECT_TRUE(Overlay{}.empty());
}

// ---------------------------------------------------------------------------------------------
// StatePath

TEST(StatePathTest, NextToTheConfig) {
  EXPECT_EQ(StatePath("/etc/ringway/ringway.yaml"), "/etc/ringway/ringway.state.json");
  EXPECT_EQ(StatePath("ringway.yml"), "ringway.state.json");
  EXPECT_EQ(StatePath("a.b.yaml"), "a.b.state.json");
}

TEST(StatePathTest, NoExtension) {
  EXPECT_EQ(StatePath("/etc/ringway/ringway"), "/etc/ringway/ringway.state.json");
  EXPECT_EQ(StatePath("ringway"), "ringway.state.json");
}

TEST(StatePathTest, DotsInDirectories) {
  EXPECT_EQ(StatePath("/etc/ring.way/ringway"), "/etc/ring.way/ringway.state.json");
  EXPECT_EQ(StatePath("/etc/ring.way/ringway.yaml"), "/etc/ring.way/ringway.state.json");
  EXPECT_EQ(StatePath("./conf/ringway.yaml"), "./conf/ringway.state.json");
  EXPECT_EQ(StatePath("../ringway"), "../ringway.state.json");
}

// ---------------------------------------------------------------------------------------------
// JSON

// Every optional field set in one entry or another.
Overlay Full() {
  Overlay o;
  Overlay::Domain a = Domain("a.com");
  a.tag = "canary";
  a.http_to_https = true;
  a.upstream = "web";
  Overlay::Domain b = Domain("b.com");
  b.deleted = true;
  Overlay::Domain c = Domain("*.c.com");
  c.tag = "";
  c.http_to_https = false;
  o.domains = {a, b, c};
  Overlay::Backend x = NewBackend("x", "127.0.0.1:3001");
  x.tags = std::vector<std::string>{"a", "b:1", "[v6]@x"};
  x.weight = 1000;
  x.state = config::BackendState::kDrain;
  x.upstream = "api";
  Overlay::Backend y = Deleted("y");
  Overlay::Backend z;
  z.id = "z";
  z.tags = std::vector<std::string>{};
  z.weight = 1;
  z.state = config::BackendState::kMaint;
  o.backends = {x, y, z};
  return o;
}

void ExpectSame(const Overlay& a, const Overlay& b) {
  ASSERT_EQ(a.domains.size(), b.domains.size());
  for (size_t i = 0; i < a.domains.size(); ++i) {
    SCOPED_TRACE(a.domains[i].domain);
    EXPECT_EQ(a.domains[i].domain, b.domains[i].domain);
    EXPECT_EQ(a.domains[i].deleted, b.domains[i].deleted);
    EXPECT_EQ(a.domains[i].tag, b.domains[i].tag);
    EXPECT_EQ(a.domains[i].http_to_https, b.domains[i].http_to_https);
    EXPECT_EQ(a.domains[i].upstream, b.domains[i].upstream);
  }
  ASSERT_EQ(a.backends.size(), b.backends.size());
  for (size_t i = 0; i < a.backends.size(); ++i) {
    SCOPED_TRACE(a.backends[i].id);
    EXPECT_EQ(a.backends[i].id, b.backends[i].id);
    EXPECT_EQ(a.backends[i].deleted, b.backends[i].deleted);
    EXPECT_EQ(a.backends[i].address, b.backends[i].address);
    EXPECT_EQ(a.backends[i].tags, b.backends[i].tags);
    EXPECT_EQ(a.backends[i].weight, b.backends[i].weight);
    EXPECT_EQ(a.backends[i].state, b.backends[i].state);
    EXPECT_EQ(a.backends[i].upstream, b.backends[i].upstream);
  }
}

TEST(OverlayJsonTest, WritesTheDocumentedForm) {
  Overlay o;
  Overlay::Domain d = Domain("a.com");
  d.tag = "v2";
  o.domains.push_back(d);
  Overlay::Backend b = NewBackend("x", "127.0.0.1:1");
  b.weight = 3;
  b.state = config::BackendState::kMaint;
  o.backends.push_back(b);
  o.backends.push_back(Deleted("y"));
  EXPECT_EQ(OverlayToJson(o),
            "{\"version\":1,\"domains\":[{\"domain\":\"a.com\",\"added\":true,"
            "\"enabled_backends_tag\":\"v2\"}],\"backends\":[{\"id\":\"x\",\"added\":true,"
            "\"address\":\"127.0.0.1:1\",\"weight\":3,\"state\":\"maint\"},{\"id\":\"y\","
            "\"deleted\":true}]}\n");
  EXPECT_EQ(OverlayToJson(Overlay{}), "{\"version\":1,\"domains\":[],\"backends\":[]}\n");
}

TEST(OverlayJsonTest, RoundTripKeepsEveryField) {
  const Overlay o = Full();
  const std::string json = OverlayToJson(o);
  absl::StatusOr<Overlay> back = OverlayFromJson(json);
  ASSERT_TRUE(back.ok()) << back.status() << "\n" << json;
  ExpectSame(o, *back);
  EXPECT_EQ(OverlayToJson(*back), json);
  // Spot checks on values, not only on equality with the writer's input.
  EXPECT_EQ(back->domains[2].domain, "*.c.com");
  EXPECT_EQ(back->domains[2].tag, std::optional<std::string>(""));
  EXPECT_EQ(back->domains[2].http_to_https, std::optional<bool>(false));
  EXPECT_EQ(back->domains[1].tag, std::nullopt);
  EXPECT_TRUE(back->backends[2].tags.has_value());
  EXPECT_THAT(*back->backends[2].tags, IsEmpty());
  EXPECT_EQ(back->backends[2].address, std::nullopt);
  EXPECT_EQ(back->backends[0].weight, std::optional<uint32_t>(1000));
}

TEST(OverlayJsonTest, ReadsHandWrittenJson) {
  absl::StatusOr<Overlay> o = OverlayFromJson(R"json({
    "backends": [{"upstream": "web", "id": "n1", "address": "[::1]:80", "weight": 1,
                  "state": "ready", "tags": ["x"], "deleted": false}],
    "domains": [{"domain": "a.com", "upstream": "web", "deleted": false}],
    "version": 1
  })json");
  ASSERT_TRUE(o.ok()) << o.status();
  ASSERT_EQ(o->backends.size(), 1u);
  EXPECT_EQ(o->backends[0].id, "n1");
  EXPECT_EQ(o->backends[0].upstream, std::optional<std::string>("web"));
  EXPECT_EQ(o->backends[0].address, std::optional<std::string>("[::1]:80"));
  EXPECT_EQ(o->backends[0].state, std::optional(config::BackendState::kReady));
  EXPECT_FALSE(o->backends[0].deleted);
  ASSERT_EQ(o->domains.size(), 1u);
  EXPECT_EQ(o->domains[0].upstream, std::optional<std::string>("web"));
  EXPECT_EQ(o->domains[0].tag, std::nullopt);

  absl::StatusOr<Overlay> empty = OverlayFromJson("{}");
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_TRUE(empty->empty());
}

void ExpectRefused(std::string_view json, std::string_view message_part) {
  absl::StatusOr<Overlay> o = OverlayFromJson(json);
  ASSERT_FALSE(o.ok()) << "accepted: " << json;
  EXPECT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument) << json;
  EXPECT_THAT(std::string(o.status().message()), HasSubstr(message_part)) << json;
}

TEST(OverlayJsonTest, IsStrict) {
  ExpectRefused("", "not valid JSON");
  ExpectRefused("{\"domains\":[", "not valid JSON");
  // Where the file is at fault, and a key written twice (which of the two would count?).
  ExpectRefused("{\n  \"domains\": [],\n  \"domains\": []\n}",
                "not valid JSON: line 3, column 3: a key appears twice");
  ExpectRefused("[]", "the top level is not an object");
  ExpectRefused(R"({"domain":[]})", "unknown field 'domain'");
  ExpectRefused(R"({"domains":{}})", "'domains' is not a list");
  ExpectRefused(R"({"backends":"x"})", "'backends' is not a list");
  ExpectRefused(R"({"domains":[1]})", "an entry is not an object");
  // Unknown fields, and fields of the other kind of entry.
  ExpectRefused(R"({"domains":[{"domain":"a.com","extra":1}]})", "field 'extra'");
  ExpectRefused(R"({"domains":[{"domain":"a.com","id":"x"}]})", "field 'id'");
  ExpectRefused(R"({"domains":[{"domain":"a.com","weight":2}]})", "field 'weight'");
  ExpectRefused(R"({"backends":[{"id":"x","domain":"a.com"}]})", "field 'domain'");
  ExpectRefused(R"({"backends":[{"id":"x","http_to_https":true}]})", "field 'http_to_https'");
  ExpectRefused(R"({"backends":[{"id":"x","enabled_backends_tag":"t"}]})",
                "field 'enabled_backends_tag'");
  // Wrong types.
  ExpectRefused(R"({"domains":[{"domain":1}]})", "field 'domain'");
  ExpectRefused(R"({"domains":[{"domain":"a.com","deleted":"yes"}]})", "field 'deleted'");
  ExpectRefused(R"({"domains":[{"domain":"a.com","http_to_https":1}]})", "field 'http_to_https'");
  ExpectRefused(R"({"domains":[{"domain":"a.com","enabled_backends_tag":null}]})",
                "field 'enabled_backends_tag'");
  ExpectRefused(R"({"domains":[{"domain":"a.com","upstream":["web"]}]})", "field 'upstream'");
  ExpectRefused(R"({"backends":[{"id":7}]})", "field 'id'");
  ExpectRefused(R"({"backends":[{"id":"x","address":80}]})", "field 'address'");
  ExpectRefused(R"({"backends":[{"id":"x","weight":"5"}]})", "field 'weight'");
  ExpectRefused(R"({"backends":[{"id":"x","weight":2.5}]})", "field 'weight'");
  ExpectRefused(R"({"backends":[{"id":"x","weight":-1}]})", "field 'weight'");
  ExpectRefused(R"({"backends":[{"id":"x","state":1}]})", "field 'state'");
  ExpectRefused(R"({"backends":[{"id":"x","tags":"a"}]})", "'tags' is not a list");
  ExpectRefused(R"({"backends":[{"id":"x","tags":[1]}]})", "a tag is not valid");
}

TEST(OverlayJsonTest, RefusesOutOfRangeValues) {
  ExpectRefused(R"({"backends":[{"id":"x","weight":0}]})", "field 'weight'");
  ExpectRefused(R"({"backends":[{"id":"x","weight":1001}]})", "field 'weight'");
  ExpectRefused(R"({"backends":[{"id":"x","weight":18446744073709551616}]})", "");
  ExpectRefused(R"({"backends":[{"id":"x","state":"paused"}]})", "field 'state'");
  ExpectRefused(R"({"backends":[{"id":"x","state":"Ready"}]})", "field 'state'");
  ExpectRefused(R"({"backends":[{"id":"x","tags":["a b"]}]})", "a tag is not valid");
  ExpectRefused(R"({"backends":[{"id":"x","tags":["a/b"]}]})", "a tag is not valid");
  ExpectRefused(R"({"backends":[{"id":"x","tags":[""]}]})", "a tag is not valid");
  ExpectRefused(
      absl::StrCat(R"({"backends":[{"id":"x","tags":[")", std::string(129, 'a'), R"("]}]})"),
      "a tag is not valid");
  // The limits themselves are fine.
  absl::StatusOr<Overlay> edge = OverlayFromJson(
      absl::StrCat(R"({"backends":[{"id":"x","weight":1},{"id":"y","weight":1000,"tags":[")",
                   std::string(128, 'a'), R"("]}]})"));
  ASSERT_TRUE(edge.ok()) << edge.status();
  EXPECT_EQ(edge->backends[0].weight, std::optional<uint32_t>(1));
  EXPECT_EQ(edge->backends[1].weight, std::optional<uint32_t>(1000));
  EXPECT_EQ(edge->backends[1].tags->at(0).size(), 128u);
}

TEST(OverlayJsonTest, RefusesEntriesWithoutTheirKey) {
  ExpectRefused(R"({"domains":[{"tag":"x"}]})", "field 'tag'");
  ExpectRefused(R"({"domains":[{"deleted":true}]})", "a domain entry has no 'domain'");
  ExpectRefused(R"({"domains":[{"domain":""}]})", "field 'domain' is unknown or has a wrong value");
  ExpectRefused(R"({"domains":[{}]})", "a domain entry has no 'domain'");
  ExpectRefused(R"({"backends":[{"address":"127.0.0.1:1"}]})", "a backend entry has no 'id'");
  ExpectRefused(R"({"backends":[{"id":""}]})", "field 'id' is unknown or has a wrong value");
}

// Known bug (proxy/state.cc OverlayFromJson): a backend's tags are checked with ValidTag, but a
// domain's enabled_backends_tag, a backend id and a domain name are taken as they come, though
// the API refuses all of these (control_objects.cc: ValidTag, ValidDomain) and the YAML loader
// refuses the first two. A hand-edited state file can so make upstream names such as
// "web#a b/\"c" and ids the API cannot address. Enable once OverlayFromJson checks them.
TEST(OverlayJsonTest, RefusesWhatTheApiRefuses) {
  ExpectRefused(R"({"domains":[{"domain":"a.com","enabled_backends_tag":"a b"}]})", "");
  ExpectRefused(R"({"domains":[{"domain":"a.com","enabled_backends_tag":"x/y"}]})", "");
  ExpectRefused(R"({"backends":[{"id":"a/b","address":"127.0.0.1:1"}]})", "");
  ExpectRefused(R"({"backends":[{"id":"a b","address":"127.0.0.1:1"}]})", "");
  ExpectRefused(R"({"domains":[{"domain":"ACME.com","upstream":"web"}]})", "");
  ExpectRefused(R"({"domains":[{"domain":"a.com\nx","upstream":"web"}]})", "");
  // "" still removes a tag.
  absl::StatusOr<Overlay> o =
      OverlayFromJson(R"({"domains":[{"domain":"a.com","enabled_backends_tag":""}]})");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->domains[0].tag, std::optional<std::string>(""));
}

// ---------------------------------------------------------------------------------------------
// The file

class OverlayFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ringway_state_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    for (const std::string& f : Files()) std::remove((dir_ + "/" + f).c_str());
    rmdir(dir_.c_str());
  }
  std::vector<std::string> Files() const {
    std::vector<std::string> out;
    if (DIR* d = opendir(dir_.c_str())) {
      while (dirent* e = readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != "..") out.push_back(n);
      }
      closedir(d);
    }
    return out;
  }
  void Write(const std::string& path, std::string_view text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
  }

  std::string dir_;
};

TEST_F(OverlayFileTest, SaveThenLoadRoundTrips) {
  const std::string path = StatePath(dir_ + "/ringway.yaml");
  ASSERT_TRUE(SaveOverlay(path, Full()).ok());
  EXPECT_THAT(Files(), ElementsAre("ringway.state.json"));  // no .tmp left behind
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  absl::StatusOr<Overlay> back = LoadOverlay(path);
  ASSERT_TRUE(back.ok()) << back.status();
  ExpectSame(Full(), *back);

  // Saving again replaces the file.
  Overlay smaller;
  smaller.backends.push_back(Deleted("only"));
  ASSERT_TRUE(SaveOverlay(path, smaller).ok());
  EXPECT_THAT(Files(), ElementsAre("ringway.state.json"));
  back = LoadOverlay(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(back->domains.empty());
  ASSERT_EQ(back->backends.size(), 1u);
  EXPECT_EQ(back->backends[0].id, "only");
  EXPECT_TRUE(back->backends[0].deleted);
}

TEST_F(OverlayFileTest, MissingFileIsAnEmptyOverlay) {
  absl::StatusOr<Overlay> o = LoadOverlay(dir_ + "/none.state.json");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(o->empty());
}

TEST_F(OverlayFileTest, MalformedFileIsAnErrorNamingThePath) {
  const std::string path = dir_ + "/ringway.state.json";
  Write(path, "{\"domains\": [");
  absl::StatusOr<Overlay> o = LoadOverlay(path);
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(o.status().message()),
              StartsWith(path + " (changes made through the admin API): "));
  EXPECT_THAT(std::string(o.status().message()), HasSubstr("not valid JSON"));
  EXPECT_THAT(std::string(o.status().message()), HasSubstr("fix or remove the file"));

  Write(path, R"({"backends":[{"id":"x","weight":0}]})");
  o = LoadOverlay(path);
  ASSERT_FALSE(o.ok());
  EXPECT_THAT(std::string(o.status().message()), StartsWith(path));
  EXPECT_THAT(std::string(o.status().message()), HasSubstr("field 'weight'"));
}

TEST_F(OverlayFileTest, SaveIntoMissingDirectoryFailsAndNamesIt) {
  const std::string path = dir_ + "/no/such/dir/ringway.state.json";
  absl::Status st = SaveOverlay(path, Full());
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(st.message()), HasSubstr(dir_ + "/no/such/dir/ringway.state.json"));
  EXPECT_THAT(Files(), IsEmpty());
}

TEST_F(OverlayFileTest, LoadedOverlayAppliesToTheConfig) {
  const std::string path = dir_ + "/ringway.state.json";
  Write(path, R"({"version":1,
    "domains":[{"domain":"new.com","added":true,"enabled_backends_tag":"v2"}],
    "backends":[{"id":"n1","added":true,"address":"127.0.0.1:5001","tags":["v2"]}]})");
  absl::StatusOr<Overlay> o = LoadOverlay(path);
  ASSERT_TRUE(o.ok()) << o.status();
  config::Config cfg = Base();
  ASSERT_TRUE(ApplyOverlay(*o, &cfg).ok());
  config::ExpandTags(&cfg);
  const int s = FindDomain(cfg, "new.com");
  ASSERT_EQ(s, 3);
  const config::Upstream& u = cfg.upstreams[cfg.servers[3].upstream];
  EXPECT_EQ(u.name, "tag:v2");
  EXPECT_THAT(Ids(u), ElementsAre("n1"));
}

}  // namespace
}  // namespace ringway::proxy
