// enabled_backends_tag: ExpandTags on configs built in code, and the YAML keys that feed it
// (backend id, tags and state; a server's tag with and without an upstream) with their errors.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "config/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/config/load_util.h"

namespace ringway::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

using testutil::ErrorOf;
using testutil::MustLoad;

Backend MakeBackend(std::string_view address, std::vector<std::string> tags,
                    std::string_view id = "") {
  Backend b;
  absl::StatusOr<SocketAddress> a = ParseSocketAddress(address);
  EXPECT_TRUE(a.ok()) << a.status();
  if (a.ok()) b.address = *a;
  b.tags = std::move(tags);
  b.id = id.empty() ? std::string(address) : std::string(id);
  return b;
}

Upstream MakeUpstream(std::string_view name, std::vector<Backend> backends) {
  Upstream u;
  u.name = std::string(name);
  u.backends = std::move(backends);
  return u;
}

Server MakeServer(std::string_view name, uint32_t upstream, std::string_view tag = "") {
  Server s;
  s.name = std::string(name);
  s.server_names = {std::string(name)};
  s.upstream = upstream;
  s.backends_tag = std::string(tag);
  return s;
}

std::vector<std::string> Addresses(const Upstream& u) {
  std::vector<std::string> out;
  for (const Backend& b : u.backends) out.push_back(b.address.text);
  return out;
}

std::vector<std::string> Ids(const Upstream& u) {
  std::vector<std::string> out;
  for (const Backend& b : u.backends) out.push_back(b.id);
  return out;
}

// web: 3001 [stable], 3002 [canary, stable], 3003 [canary].
// api: 4001 [canary], 3002 [canary] (the address web has too), 4002 [].
Config TwoUpstreams() {
  Config cfg;
  Upstream web = MakeUpstream("web", {MakeBackend("127.0.0.1:3001", {"stable"}, "web-1"),
                                      MakeBackend("127.0.0.1:3002", {"canary", "stable"}, "web-2"),
                                      MakeBackend("127.0.0.1:3003", {"canary"}, "web-3")});
  web.keepalive = 7;
  web.algorithm = Algorithm::kLeastRequest;
  web.retry.tries = 2;
  Upstream api = MakeUpstream("api", {MakeBackend("127.0.0.1:4001", {"canary"}, "api-1"),
                                      MakeBackend("127.0.0.1:3002", {"canary"}, "api-2"),
                                      MakeBackend("127.0.0.1:4002", {}, "api-3")});
  api.keepalive = 9;
  api.algorithm = Algorithm::kMaglev;
  cfg.upstreams = {web, api};
  return cfg;
}

TEST(ExpandTagsTest, ServerWithTagGetsDerivedUpstreamOfTaggedBackends) {
  Config cfg = TwoUpstreams();
  cfg.servers = {MakeServer("acme.com", 0, "canary")};
  ExpandTags(&cfg);

  ASSERT_EQ(cfg.upstreams.size(), 3u);
  ASSERT_EQ(cfg.servers[0].upstream, 2u);
  const Upstream& d = cfg.upstreams[2];
  EXPECT_EQ(d.name, "web#canary");
  EXPECT_EQ(d.tag, "canary");
  EXPECT_EQ(d.derived_from, 0);
  EXPECT_TRUE(d.derived);
  EXPECT_THAT(Ids(d), ElementsAre("web-2", "web-3"));
  EXPECT_THAT(Addresses(d), ElementsAre("127.0.0.1:3002", "127.0.0.1:3003"));
  // The base's settings come along.
  EXPECT_EQ(d.keepalive, 7u);
  EXPECT_EQ(d.algorithm, Algorithm::kLeastRequest);
  EXPECT_EQ(d.retry.tries, 2u);
  // The base itself is left whole, and is not marked derived.
  EXPECT_EQ(cfg.upstreams[0].backends.size(), 3u);
  EXPECT_FALSE(cfg.upstreams[0].derived);
  EXPECT_EQ(cfg.upstreams[0].derived_from, -1);
  EXPECT_EQ(cfg.upstreams[0].tag, "");
  // The server keeps its tag (the API shows it).
  EXPECT_EQ(cfg.servers[0].backends_tag, "canary");
}

TEST(ExpandTagsTest, ServerWithoutUpstreamPicksEveryTaggedBackendOncePerAddress) {
  Config cfg = TwoUpstreams();
  cfg.servers = {MakeServer("all.acme.com", kNoUpstream, "canary")};
  ExpandTags(&cfg);

  ASSERT_EQ(cfg.upstreams.size(), 3u);
  ASSERT_EQ(cfg.servers[0].upstream, 2u);
  const Upstream& d = cfg.upstreams[2];
  EXPECT_EQ(d.name, "tag:canary");
  EXPECT_EQ(d.tag, "canary");
  EXPECT_EQ(d.derived_from, -1);
  EXPECT_TRUE(d.derived);
  // 3002 is in both upstreams with the tag: only web's (the first) is taken.
  EXPECT_THAT(Ids(d), ElementsAre("web-2", "web-3", "api-1"));
  EXPECT_THAT(Addresses(d), ElementsAre("127.0.0.1:3002", "127.0.0.1:3003", "127.0.0.1:4001"));
  // Settings of the first upstream holding a backend with the tag: web.
  EXPECT_EQ(d.keepalive, 7u);
  EXPECT_EQ(d.algorithm, Algorithm::kLeastRequest);
}

TEST(ExpandTagsTest, TagUpstreamTakesSettingsOfFirstUpstreamHoldingTheTag) {
  Config cfg = TwoUpstreams();
  // A tag only api-3 carries: the settings are api's, not web's.
  cfg.upstreams[1].backends[2].tags = {"blue"};
  cfg.servers = {MakeServer("blue.acme.com", kNoUpstream, "blue")};
  ExpandTags(&cfg);

  ASSERT_EQ(cfg.upstreams.size(), 3u);
  const Upstream& d = cfg.upstreams[cfg.servers[0].upstream];
  EXPECT_EQ(d.name, "tag:blue");
  EXPECT_THAT(Ids(d), ElementsAre("api-3"));
  EXPECT_EQ(d.keepalive, 9u);
  EXPECT_EQ(d.algorithm, Algorithm::kMaglev);
  EXPECT_EQ(d.derived_from, -1);
  EXPECT_EQ(d.tag, "blue");
}

TEST(ExpandTagsTest, RoutesInheritTheServerTagUnlessTheyHaveTheirOwn) {
  Config cfg = TwoUpstreams();
  Server s = MakeServer("acme.com", 0, "canary");
  s.routes = {Route{"/api/", 1, 0, ""}, Route{"/img/", 0, 0, "stable"}, Route{"/web/", 0, 0, ""}};
  cfg.servers = {s};
  ExpandTags(&cfg);

  const Server& out = cfg.servers[0];
  ASSERT_EQ(out.routes.size(), 3u);
  // /api/ inherits canary on its own upstream.
  const Upstream& api = cfg.upstreams[out.routes[0].upstream];
  EXPECT_EQ(api.name, "api#canary");
  EXPECT_EQ(api.derived_from, 1);
  EXPECT_THAT(Ids(api), ElementsAre("api-1", "api-2"));
  // /img/ has its own tag.
  const Upstream& img = cfg.upstreams[out.routes[1].upstream];
  EXPECT_EQ(img.name, "web#stable");
  EXPECT_EQ(img.tag, "stable");
  EXPECT_THAT(Ids(img), ElementsAre("web-1", "web-2"));
  // /web/ inherits canary on web: the very upstream the server got.
  EXPECT_EQ(out.routes[2].upstream, out.upstream);
  EXPECT_EQ(cfg.upstreams[out.upstream].name, "web#canary");
  // web#canary, api#canary, web#stable: three made, none twice.
  EXPECT_EQ(cfg.upstreams.size(), 5u);
  // Route tags are not rewritten.
  EXPECT_EQ(out.routes[0].backends_tag, "");
  EXPECT_EQ(out.routes[1].backends_tag, "stable");
}

TEST(ExpandTagsTest, RouteTagInServerWithoutTagLeavesTheServerAlone) {
  Config cfg = TwoUpstreams();
  Server s = MakeServer("acme.com", 0);
  s.routes = {Route{"/api/", 1, 0, "canary"}, Route{"/plain/", 1, 0, ""}};
  cfg.servers = {s};
  ExpandTags(&cfg);

  ASSERT_EQ(cfg.upstreams.size(), 3u);
  EXPECT_EQ(cfg.servers[0].upstream, 0u);
  EXPECT_EQ(cfg.servers[0].routes[0].upstream, 2u);
  EXPECT_EQ(cfg.upstreams[2].name, "api#canary");
  EXPECT_EQ(cfg.servers[0].routes[1].upstream, 1u);
}

TEST(ExpandTagsTest, SameUpstreamAndTagIsMadeOnce) {
  Config cfg = TwoUpstreams();
  cfg.servers = {
      MakeServer("a.com", 0, "canary"),           MakeServer("b.com", 0, "canary"),
      MakeServer("c.com", 1, "canary"),           MakeServer("d.com", kNoUpstream, "canary"),
      MakeServer("e.com", kNoUpstream, "canary"), MakeServer("f.com", 0, "stable")};
  ExpandTags(&cfg);

  // web#canary, api#canary, tag:canary, web#stable.
  ASSERT_EQ(cfg.upstreams.size(), 6u);
  EXPECT_EQ(cfg.servers[0].upstream, 2u);
  EXPECT_EQ(cfg.servers[1].upstream, 2u);
  EXPECT_EQ(cfg.servers[2].upstream, 3u);
  EXPECT_EQ(cfg.servers[3].upstream, 4u);
  EXPECT_EQ(cfg.servers[4].upstream, 4u);
  EXPECT_EQ(cfg.servers[5].upstream, 5u);
  EXPECT_EQ(cfg.upstreams[2].name, "web#canary");
  EXPECT_EQ(cfg.upstreams[3].name, "api#canary");
  EXPECT_EQ(cfg.upstreams[4].name, "tag:canary");
  EXPECT_EQ(cfg.upstreams[5].name, "web#stable");
}

TEST(ExpandTagsTest, TagNoBackendHasGivesEmptyUpstream) {
  Config cfg = TwoUpstreams();
  cfg.servers = {MakeServer("a.com", 1, "nope"), MakeServer("b.com", kNoUpstream, "nope")};
  ExpandTags(&cfg);

  ASSERT_EQ(cfg.upstreams.size(), 4u);
  const Upstream& based = cfg.upstreams[cfg.servers[0].upstream];
  EXPECT_EQ(based.name, "api#nope");
  EXPECT_TRUE(based.derived);
  EXPECT_TRUE(based.backends.empty());
  EXPECT_EQ(based.keepalive, 9u);  // still the base's settings
  const Upstream& any = cfg.upstreams[cfg.servers[1].upstream];
  EXPECT_EQ(any.name, "tag:nope");
  EXPECT_EQ(any.tag, "nope");
  EXPECT_TRUE(any.derived);
  EXPECT_EQ(any.derived_from, -1);
  EXPECT_TRUE(any.backends.empty());
  EXPECT_EQ(any.keepalive, Upstream{}.keepalive);  // defaults: no upstream to copy
}

TEST(ExpandTagsTest, ServersWithoutTagsAreUntouched) {
  Config cfg = TwoUpstreams();
  Server s = MakeServer("acme.com", 1);
  s.routes = {Route{"/w/", 0, 2, ""}};
  cfg.servers = {s, MakeServer("b.com", 0)};
  ExpandTags(&cfg);

  EXPECT_EQ(cfg.upstreams.size(), 2u);
  EXPECT_EQ(cfg.servers[0].upstream, 1u);
  EXPECT_EQ(cfg.servers[0].routes[0].upstream, 0u);
  EXPECT_EQ(cfg.servers[0].routes[0].tries, 2u);
  EXPECT_EQ(cfg.servers[1].upstream, 0u);
  EXPECT_EQ(cfg.upstreams[0].backends.size(), 3u);
  EXPECT_EQ(cfg.upstreams[1].backends.size(), 3u);
}

TEST(ExpandTagsTest, DerivedBackendsKeepWeightAndState) {
  Config cfg = TwoUpstreams();
  cfg.upstreams[0].backends[1].weight = 5;
  cfg.upstreams[0].backends[1].state = BackendState::kDrain;
  cfg.servers = {MakeServer("acme.com", 0, "canary")};
  ExpandTags(&cfg);

  const Upstream& d = cfg.upstreams[cfg.servers[0].upstream];
  ASSERT_EQ(d.backends.size(), 2u);
  EXPECT_EQ(d.backends[0].weight, 5u);
  EXPECT_EQ(d.backends[0].state, BackendState::kDrain);
  EXPECT_THAT(d.backends[0].tags, ElementsAre("canary", "stable"));
  EXPECT_EQ(d.backends[1].weight, 1u);
  EXPECT_EQ(d.backends[1].state, BackendState::kReady);
}

// ---------------------------------------------------------------------------------------------
// YAML

constexpr std::string_view kTagged = R"yaml(global:
  port: 8080
servers:
  - server_name: acme.com
    upstream: web
    enabled_backends_tag: canary
    routes:
      - path: /api/
        upstream: api
      - path: /img/
        upstream: web
        enabled_backends_tag: stable
  - server_name: all.acme.com
    enabled_backends_tag: canary
  - server_name: plain.acme.com
    upstream: web
upstreams:
  - name: web
    servers:
      - {address: "127.0.0.1:3001", id: web-1, tags: [stable]}
      - {address: "127.0.0.1:3002", id: web-2, tags: [canary, stable, canary], weight: 3, state: drain}
      - {address: "127.0.0.1:3003", state: maint}
  - name: api
    servers:
      - {address: "127.0.0.1:4001", id: "api@1", tags: ["canary"], state: ready}
      - "127.0.0.1:4002"
)yaml";

TEST(TagsYamlTest, LoadsBackendIdsTagsAndStates) {
  Config cfg = MustLoad(kTagged);
  ASSERT_EQ(cfg.upstreams.size(), 2u);
  const Upstream& web = cfg.upstreams[0];
  ASSERT_EQ(web.backends.size(), 3u);
  EXPECT_EQ(web.backends[0].id, "web-1");
  EXPECT_THAT(web.backends[0].tags, ElementsAre("stable"));
  EXPECT_EQ(web.backends[0].state, BackendState::kReady);
  EXPECT_EQ(web.backends[1].id, "web-2");
  EXPECT_THAT(web.backends[1].tags, ElementsAre("canary", "stable"));  // written once each
  EXPECT_EQ(web.backends[1].weight, 3u);
  EXPECT_EQ(web.backends[1].state, BackendState::kDrain);
  // No id: "<upstream>-<address>".
  EXPECT_EQ(web.backends[2].id, "web-127.0.0.1:3003");
  EXPECT_TRUE(web.backends[2].tags.empty());
  EXPECT_EQ(web.backends[2].state, BackendState::kMaint);
  const Upstream& api = cfg.upstreams[1];
  EXPECT_EQ(api.backends[0].id, "api@1");
  EXPECT_EQ(api.backends[0].state, BackendState::kReady);
  EXPECT_EQ(api.backends[1].id, "api-127.0.0.1:4002");
  EXPECT_TRUE(ValidTag(api.backends[1].id));
}

TEST(TagsYamlTest, ServerTagWithAndWithoutUpstream) {
  Config cfg = MustLoad(kTagged);
  ASSERT_EQ(cfg.servers.size(), 3u);
  EXPECT_EQ(cfg.servers[0].upstream, 0u);
  EXPECT_EQ(cfg.servers[0].backends_tag, "canary");
  EXPECT_EQ(cfg.servers[0].routes[0].backends_tag, "");
  EXPECT_EQ(cfg.servers[0].routes[1].backends_tag, "stable");
  EXPECT_EQ(cfg.servers[1].upstream, kNoUpstream);
  EXPECT_EQ(cfg.servers[1].backends_tag, "canary");
  EXPECT_EQ(cfg.servers[2].upstream, 0u);
  EXPECT_EQ(cfg.servers[2].backends_tag, "");
}

TEST(TagsYamlTest, LoadedConfigExpands) {
  Config cfg = MustLoad(kTagged);
  ExpandTags(&cfg);
  auto name_of = [&](uint32_t i) {
    return i < cfg.upstreams.size() ? cfg.upstreams[i].name : std::string("(out of range)");
  };
  const Server& acme = cfg.servers[0];
  EXPECT_EQ(name_of(acme.upstream), "web#canary");
  EXPECT_THAT(Ids(cfg.upstreams[acme.upstream]), ElementsAre("web-2"));
  EXPECT_EQ(name_of(acme.routes[0].upstream), "api#canary");
  EXPECT_THAT(Ids(cfg.upstreams[acme.routes[0].upstream]), ElementsAre("api@1"));
  EXPECT_EQ(name_of(acme.routes[1].upstream), "web#stable");
  EXPECT_THAT(Ids(cfg.upstreams[acme.routes[1].upstream]), ElementsAre("web-1", "web-2"));
  const Server& all = cfg.servers[1];
  EXPECT_EQ(name_of(all.upstream), "tag:canary");
  EXPECT_THAT(Ids(cfg.upstreams[all.upstream]), ElementsAre("web-2", "api@1"));
  EXPECT_EQ(name_of(cfg.servers[2].upstream), "web");
  EXPECT_EQ(cfg.upstreams.size(), 2u + 4u);
}

TEST(TagsYamlTest, DuplicateBackendIdNamesTheFirstPosition) {
  std::string msg = ErrorOf(R"yaml(global:
  port: 8080
servers:
  - server_name: acme.com
    upstream: web
upstreams:
  - name: web
    servers:
      - {address: "127.0.0.1:3001", id: same}
  - name: api
    servers:
      - address: "127.0.0.1:4001"
        id: same
)yaml");
  // The second one is at line 13 (its id), the first one's entry at line 9, column 9.
  EXPECT_THAT(msg, StartsWith("test.yaml:13:"));
  EXPECT_THAT(msg, HasSubstr("backend id 'same' is already used at test.yaml:9:9"));
  EXPECT_THAT(msg, HasSubstr("unique id"));
}

TEST(TagsYamlTest, DefaultIdCollidingWithGivenIdIsRefused) {
  std::string msg = ErrorOf(R"yaml(global:
  port: 8080
servers:
  - server_name: acme.com
    upstream: web
upstreams:
  - name: web
    servers:
      - {address: "127.0.0.1:3001", id: "web-127.0.0.1:3002"}
      - "127.0.0.1:3002"
)yaml");
  EXPECT_THAT(msg, StartsWith("test.yaml:10:"));
  EXPECT_THAT(msg, HasSubstr("backend id 'web-127.0.0.1:3002' is already used at test.yaml:9:"));
}

TEST(TagsYamlTest, BadTagCharactersAreRefused) {
  std::string tag = ErrorOf(R"yaml(global:
  port: 8080
servers:
  - server_name: acme.com
    upstream: web
upstreams:
  - name: web
    servers:
      - {address: "127.0.0.1:3001", tags: [ok, "not ok"]}
)yaml");
  EXPECT_THAT(tag, StartsWith("test.yaml:9:"));
  EXPECT_THAT(tag, HasSubstr("'not ok'"));
  EXPECT_THAT(tag, HasSubstr("use 1 to 128 letters, digits"));

  std::string id = ErrorOf(R"yaml(global:
  port: 8080
servers:
  - server_name: acme.com
    upstream: web
upstreams:
  - name: web
    servers:
      - {address: "127.0.0.1:3001", id: "a/b"}
)yaml");
  EXPECT_THAT(id, HasSubstr("'a/b'"));
  EXPECT_THAT(id, HasSubstr("no spaces or slashes"));

  std::string server = ErrorOf(R"yaml(global:
  port: 8080
servers:
  - server_name: acme.com
    upstream: web
    enabled_backends_tag: "canary?"
upstreams:
  - name: web
    servers: ["127.0.0.1:3001"]
)yaml");
  EXPECT_THAT(server, StartsWith("test.yaml:6:"));
  EXPECT_THAT(server, HasSubstr("enabled_backends_tag"));
  EXPECT_THAT(server, HasSubstr("'canary?'"));

  std::string route = ErrorOf(R"yaml(global:
  port: 8080
servers:
  - server_name: acme.com
    upstream: web
    routes:
      - {path: /a/, upstream: web, enabled_backends_tag: "x y"}
upstreams:
  - name: web
    servers: ["127.0.0.1:3001"]
)yaml");
  EXPECT_THAT(route, StartsWith("test.yaml:7:"));
  EXPECT_THAT(route, HasSubstr("'x y'"));

  std::string long_tag = ErrorOf(absl::StrCat(R"yaml(global:
  port: 8080
servers:
  - server_name: acme.com
    upstream: web
upstreams:
  - name: web
    servers:
      - {address: "127.0.0.1:3001", tags: [)yaml",
                                              std::string(129, 'a'), "]}\n"));
  EXPECT_THAT(long_tag, HasSubstr("use 1 to 128"));
}

TEST(TagsYamlTest, TagOf128CharactersLoads) {
  Config cfg = MustLoad(absl::StrCat(R"yaml(global:
  port: 8080
servers:
  - server_name: acme.com
    upstream: web
upstreams:
  - name: web
    servers:
      - {address: "127.0.0.1:3001", tags: [)yaml",
                                     std::string(128, 'a'), "]}\n"));
  ASSERT_EQ(cfg.upstreams.size(), 1u);
  EXPECT_THAT(cfg.upstreams[0].backends[0].tags, ElementsAre(std::string(128, 'a')));
}

TEST(TagsYamlTest, BadStateIsRefused) {
  std::string msg = ErrorOf(R"yaml(global:
  port: 8080
servers:
  - server_name: acme.com
    upstream: web
upstreams:
  - name: web
    servers:
      - {address: "127.0.0.1:3001", state: paused}
)yaml");
  EXPECT_THAT(msg, StartsWith("test.yaml:9:"));
  EXPECT_THAT(msg, HasSubstr("is 'paused'; use ready, drain or maint"));
}

TEST(TagsYamlTest, ServerWithNeitherUpstreamNorTagIsRefused) {
  std::string msg = ErrorOf(R"yaml(global:
  port: 8080
servers:
  - server_name: acme.com
upstreams:
  - name: web
    servers: ["127.0.0.1:3001"]
)yaml");
  EXPECT_THAT(msg, StartsWith("test.yaml:4:"));
  EXPECT_THAT(msg, HasSubstr("server 'acme.com' has no 'upstream' key"));
  EXPECT_THAT(msg, HasSubstr("enabled_backends_tag"));
}

TEST(TagsYamlTest, TagServerNeedsNoUpstreamsAtAll) {
  // A tag no backend has yet: loads, and expands to an empty upstream (503 until one is added).
  Config cfg = MustLoad(R"yaml(global:
  port: 8080
servers:
  - server_name: acme.com
    enabled_backends_tag: v2
)yaml");
  ASSERT_EQ(cfg.servers.size(), 1u);
  EXPECT_TRUE(cfg.upstreams.empty());
  EXPECT_EQ(cfg.servers[0].upstream, kNoUpstream);
  ExpandTags(&cfg);
  ASSERT_EQ(cfg.upstreams.size(), 1u);
  EXPECT_EQ(cfg.servers[0].upstream, 0u);
  EXPECT_EQ(cfg.upstreams[0].name, "tag:v2");
  EXPECT_TRUE(cfg.upstreams[0].backends.empty());
}

// A server's `tls: true` reaches the upstream of its tag even without an upstream of its own:
// its backends are spoken to in TLS ("tag:x+tls"), whatever other servers of the tag do.
TEST(TagsYamlTest, TlsOnTagOnlyServerReachesItsUpstream) {
  Config cfg = MustLoad(R"yaml(global:
  port: 8080
servers:
  - server_name: a.com
    enabled_backends_tag: x
    tls: true
upstreams:
  - name: web
    servers: [{address: "127.0.0.1:3001", tags: [x]}]
)yaml");
  ExpandTags(&cfg);
  ASSERT_LT(cfg.servers[0].upstream, cfg.upstreams.size());
  EXPECT_EQ(cfg.upstreams[cfg.servers[0].upstream].name, "tag:x+tls");
  EXPECT_TRUE(cfg.upstreams[cfg.servers[0].upstream].tls.enabled);
}

}  // namespace
}  // namespace ringway::config
