#include "config/router.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace ringway::config {
namespace {

Server MakeServer(std::vector<std::string> names, uint32_t upstream, bool is_default = false) {
  Server s;
  s.name = names.empty() ? "unnamed" : names.front();
  s.server_names = std::move(names);
  s.upstream = upstream;
  s.default_server = is_default;
  return s;
}

Listener MakeListener(std::string name, std::vector<uint32_t> servers = {}) {
  Listener l;
  l.name = std::move(name);
  l.servers = std::move(servers);
  return l;
}

// Servers:           0 acme.com www.acme.com   1 *.acme.com   2 *.api.acme.com
//                    3 [::1] 127.0.0.1 (default) 4 internal.example (only on listener 1)
Config MakeConfig() {
  Config cfg;
  cfg.upstreams.resize(6);
  cfg.servers.push_back(MakeServer({"acme.com", "www.acme.com"}, 0));
  cfg.servers.push_back(MakeServer({"*.acme.com"}, 1));
  cfg.servers.push_back(MakeServer({"*.api.acme.com"}, 2));
  cfg.servers.push_back(MakeServer({"[::1]", "127.0.0.1"}, 3, /*is_default=*/true));
  cfg.servers.push_back(MakeServer({"internal.example"}, 4, /*is_default=*/true));
  cfg.listeners.push_back(MakeListener("public"));              // all servers
  cfg.listeners.push_back(MakeListener("admin", {4, 0}));       // a subset
  cfg.listeners.push_back(MakeListener("no-default", {0, 1}));  // no default server
  return cfg;
}

class RouterTest : public ::testing::Test {
 protected:
  Config cfg_ = MakeConfig();
  Router router_{cfg_};
};

TEST_F(RouterTest, ExactName) {
  EXPECT_EQ(router_.FindServer(0, "acme.com"), 0);
  EXPECT_EQ(router_.FindServer(0, "www.acme.com"), 0);
  EXPECT_EQ(router_.FindServer(0, "127.0.0.1"), 3);
}

TEST_F(RouterTest, ExactBeatsWildcard) {
  // www.acme.com also matches *.acme.com; the exact name wins.
  EXPECT_EQ(router_.FindServer(0, "www.acme.com"), 0);
}

TEST_F(RouterTest, Wildcard) {
  EXPECT_EQ(router_.FindServer(0, "x.acme.com"), 1);
  EXPECT_EQ(router_.FindServer(0, "a.b.acme.com"), 1);
  // "*.acme.com" does not match the bare domain or an empty label.
  EXPECT_EQ(router_.FindServer(2, "acme.com"), 0);
  EXPECT_EQ(router_.FindServer(2, ".acme.com"), -1);
  EXPECT_EQ(router_.FindServer(2, "xacme.com"), -1);
}

TEST_F(RouterTest, LongestWildcardWins) {
  EXPECT_EQ(router_.FindServer(0, "v1.api.acme.com"), 2);
  EXPECT_EQ(router_.FindServer(0, "a.v1.api.acme.com"), 2);
  EXPECT_EQ(router_.FindServer(0, "api.acme.com"), 1);
}

TEST_F(RouterTest, CaseInsensitive) {
  EXPECT_EQ(router_.FindServer(0, "ACME.com"), 0);
  EXPECT_EQ(router_.FindServer(0, "Www.Acme.COM"), 0);
  EXPECT_EQ(router_.FindServer(0, "X.API.ACME.COM"), 2);
}

TEST_F(RouterTest, ConfigNamesAreNormalisedToo) {
  Config cfg;
  cfg.upstreams.resize(2);
  cfg.servers.push_back(MakeServer({"Mixed.Example.", "*.WILD.example"}, 1));
  cfg.listeners.push_back(MakeListener("l"));
  Router router(cfg);
  EXPECT_EQ(router.FindServer(0, "mixed.example"), 0);
  EXPECT_EQ(router.FindServer(0, "a.wild.example"), 0);
}

TEST_F(RouterTest, PortAndTrailingDotStripped) {
  EXPECT_EQ(router_.FindServer(0, "acme.com:8080"), 0);
  EXPECT_EQ(router_.FindServer(0, "acme.com."), 0);
  EXPECT_EQ(router_.FindServer(0, "acme.com.:443"), 0);
  EXPECT_EQ(router_.FindServer(0, "x.api.acme.com:80"), 2);
  EXPECT_EQ(router_.FindServer(0, "127.0.0.1:18082"), 3);
}

TEST_F(RouterTest, Ipv6Literal) {
  EXPECT_EQ(router_.FindServer(2, "[::1]"), -1);  // not on that listener
  EXPECT_EQ(router_.FindServer(0, "[::1]:8080"), 3);
  EXPECT_EQ(router_.FindServer(0, "[::1]"), 3);
  EXPECT_EQ(router_.FindServer(2, "[::2]:8080"), -1);
}

TEST_F(RouterTest, DefaultServer) {
  EXPECT_EQ(router_.FindServer(0, "unknown.example"), 3);
  EXPECT_EQ(router_.FindServer(0, ""), 3);  // HTTP/1.0 without Host
  EXPECT_EQ(router_.FindServer(0, ":8080"), 3);
  // Listener 0 serves every server; the first default in config order wins.
  EXPECT_EQ(router_.FindServer(0, "nowhere"), 3);
}

TEST_F(RouterTest, PerListenerServerSets) {
  EXPECT_EQ(router_.FindServer(1, "internal.example"), 4);
  EXPECT_EQ(router_.FindServer(1, "acme.com"), 0);
  // *.acme.com is not on listener 1: the listener's default answers.
  EXPECT_EQ(router_.FindServer(1, "x.acme.com"), 4);
  EXPECT_EQ(router_.FindServer(1, "127.0.0.1"), 4);
  // internal.example is only on listener 1; listener 0 falls back to its own default.
  EXPECT_EQ(router_.FindServer(0, "internal.example"), 4);
  EXPECT_EQ(router_.FindServer(2, "internal.example"), -1);
}

TEST_F(RouterTest, NoMatchWithoutDefault) {
  EXPECT_EQ(router_.FindServer(2, "unknown.example"), -1);
  EXPECT_EQ(router_.FindServer(2, ""), -1);
  EXPECT_EQ(router_.FindServer(7, "acme.com"), -1);  // no such listener
}

TEST_F(RouterTest, OverlongHostIsRefused) {
  std::string host(Router::kMaxHostLength - 9, 'a');
  host += ".acme.com";  // exactly the limit: a wildcard match
  EXPECT_EQ(router_.FindServer(0, host), 1);
  host.insert(0, "b");
  EXPECT_EQ(router_.FindServer(0, host), -1);
  EXPECT_EQ(router_.FindServer(0, host.substr(1) + ":8080"), 1);
}

TEST_F(RouterTest, EmptyConfig) {
  Config cfg;
  Router router(cfg);
  EXPECT_EQ(router.FindServer(0, "acme.com"), -1);
}

class RouteTest : public ::testing::Test {
 protected:
  static Config MakeRoutes() {
    Config cfg;
    cfg.upstreams.resize(5);
    Server s = MakeServer({"acme.com"}, 0, true);
    s.routes.push_back({"/api", 1, 0, {}});
    s.routes.push_back({"/api/v2/", 2, 0, {}});
    s.routes.push_back({"/static/", 3, 0, {}});
    s.routes.push_back({"/api", 4, 0, {}});  // duplicate: the first one written wins
    cfg.servers.push_back(std::move(s));
    cfg.servers.push_back(MakeServer({"plain.example"}, 4));
    cfg.listeners.push_back(MakeListener("l"));
    return cfg;
  }
  Config cfg_ = MakeRoutes();
  Router router_{cfg_};
};

TEST_F(RouteTest, LongestPrefixWins) {
  EXPECT_EQ(router_.FindUpstream(0, "/api/v2/users"), 2u);
  EXPECT_EQ(router_.FindUpstream(0, "/api/v1/users"), 1u);
  EXPECT_EQ(router_.FindUpstream(0, "/api"), 1u);
  EXPECT_EQ(router_.FindUpstream(0, "/static/app.js"), 3u);
}

TEST_F(RouteTest, RawBytePrefix) {
  EXPECT_EQ(router_.FindUpstream(0, "/apix"), 1u);
  EXPECT_EQ(router_.FindUpstream(0, "/API"), 0u);     // case-sensitive
  EXPECT_EQ(router_.FindUpstream(0, "/static"), 0u);  // "/static/" needs the slash
}

TEST_F(RouteTest, NoRouteMatchesFallsBackToServerUpstream) {
  EXPECT_EQ(router_.FindUpstream(0, "/"), 0u);
  EXPECT_EQ(router_.FindUpstream(0, "/index.html"), 0u);
  EXPECT_EQ(router_.FindUpstream(0, ""), 0u);
  EXPECT_EQ(router_.FindUpstream(1, "/api/v2/users"), 4u);  // server without routes
}

TEST_F(RouteTest, QueryStringIgnored) {
  EXPECT_EQ(router_.FindUpstream(0, "/ap?i/v2/"), 0u);
  EXPECT_EQ(router_.FindUpstream(0, "/api?x=/api/v2/"), 1u);
  EXPECT_EQ(router_.FindUpstream(0, "/api/v2/?q=1"), 2u);
  EXPECT_EQ(router_.FindUpstream(0, "/api/v2?q=/"), 1u);
}

}  // namespace
}  // namespace ringway::config
