// The upstream policy settings: health checks (active and passive), retries, balancing
// algorithms, hashing keys, sticky sessions, slow start, per-route tries, and the settings of
// earlier proxies that ringway reads under their old names.
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/config/load_util.h"

namespace ringway::config {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

using testutil::ErrorOf;
using testutil::MustLoad;

// Lines 1 to 5; the upstream 'web' continues on line 6, indented by four spaces.
constexpr std::string_view kHead = R"yaml(global: {port: 80}
servers: [{server_name: acme.com, upstream: web}]
upstreams:
  - name: web
    servers: ["127.0.0.1:3001"]
)yaml";

// A config whose upstream 'web' also has `lines` (the first of them is line 6).
std::string Up(std::string_view lines) { return std::string(kHead) + std::string(lines); }

// The one upstream of Up(lines), loaded.
Upstream UpOf(std::string_view lines) {
  Config cfg = MustLoad(Up(lines));
  return cfg.upstreams.empty() ? Upstream{} : cfg.upstreams[0];
}

void ExpectDefaultHealth(const HealthCheck& h) {
  HealthCheck d;
  EXPECT_EQ(h.enabled, d.enabled);
  EXPECT_EQ(h.type, d.type);
  EXPECT_EQ(h.method, d.method);
  EXPECT_EQ(h.path, d.path);
  EXPECT_EQ(h.host, d.host);
  EXPECT_EQ(h.expect_min, d.expect_min);
  EXPECT_EQ(h.expect_max, d.expect_max);
  EXPECT_EQ(h.interval_ms, d.interval_ms);
  EXPECT_EQ(h.timeout_ms, d.timeout_ms);
  EXPECT_EQ(h.jitter_ms, d.jitter_ms);
  EXPECT_EQ(h.rise, d.rise);
  EXPECT_EQ(h.fall, d.fall);
}

// ---------------------------------------------------------------------------------------------
// Defaults

TEST(UpstreamPolicy, DefaultsWhenNothingIsWritten) {
  Config cfg = MustLoad(kHead);
  ASSERT_EQ(cfg.upstreams.size(), 1u);
  const Upstream& u = cfg.upstreams[0];
  EXPECT_EQ(u.algorithm, Algorithm::kRoundRobin);
  EXPECT_EQ(u.hash_key.source, HashKey::Source::kClientIp);
  EXPECT_EQ(u.hash_key.name, "");
  EXPECT_FALSE(u.sticky.enabled);
  EXPECT_EQ(u.sticky.cookie, "ringway_sticky");
  EXPECT_EQ(u.sticky.ttl_s, 0u);
  EXPECT_EQ(u.slow_start_ms, 0u);
  EXPECT_EQ(u.keepalive, 64u);
  ExpectDefaultHealth(u.health);
  // The documented defaults, spelled out once.
  EXPECT_TRUE(u.health.enabled);
  EXPECT_EQ(u.health.type, HealthCheck::Type::kTcp);
  EXPECT_EQ(u.health.interval_ms, 2'000u);
  EXPECT_EQ(u.health.timeout_ms, 1'000u);
  EXPECT_EQ(u.health.jitter_ms, 200u);
  EXPECT_EQ(u.health.rise, 2u);
  EXPECT_EQ(u.health.fall, 3u);
  EXPECT_EQ(u.health.expect_min, 200);
  EXPECT_EQ(u.health.expect_max, 399);
  EXPECT_EQ(u.passive.consecutive_failures, 5u);
  EXPECT_TRUE(u.passive.on_connect_failure);
  EXPECT_TRUE(u.passive.on_reset);
  EXPECT_EQ(u.passive.statuses, (std::vector<uint16_t>{502, 503, 504}));
  EXPECT_EQ(u.passive.base_ejection_ms, 10'000u);
  EXPECT_EQ(u.passive.max_ejection_ms, 300'000u);
  EXPECT_EQ(u.retry.tries, 3u);
  EXPECT_EQ(u.retry.budget_percent, 20u);
  EXPECT_EQ(u.retry.min_retries, 3u);
  ASSERT_EQ(u.backends.size(), 1u);
  EXPECT_EQ(u.backends[0].health_check_path, "");
}

// ---------------------------------------------------------------------------------------------
// Every key at a value other than its default

TEST(UpstreamPolicy, EveryKeyLoads) {
  Config cfg = MustLoad(R"yaml(global:
  port: 80
servers:
  - server_name: example.com
    upstream: web
    routes:
      - path: /api
        upstream: api
        tries: 2
      - path: /static
        upstream: web
upstreams:
  - name: web
    algorithm: least_request
    sticky: {cookie: srv, ttl: 1h}
    slow_start: 30s
    keepalive: 16
    servers:
      - "127.0.0.1:3001"
      - address: "127.0.0.1:3002"
        weight: 2
        health_check_path: /health
      - url: "http://127.0.0.1:3003"
    health_check:
      enabled: true
      type: http
      path: /healthz
      method: HEAD
      host: example.com
      expect: 200-299
      interval: 5s
      timeout: 500ms
      jitter: 0
      rise: 4
      fall: 6
    passive_health:
      consecutive_failures: 7
      on: [reset, 500, 503]
      base_ejection: 2s
      max_ejection: 1m
    retry:
      tries: 5
      budget: 50%
      min_retries: 0
  - name: api
    algorithm: maglev
    hash_on: "header:X-User"
    servers: ["127.0.0.1:4001", "127.0.0.1:4002"]
)yaml");
  ASSERT_EQ(cfg.upstreams.size(), 2u);
  const Upstream& web = cfg.upstreams[0];
  EXPECT_EQ(web.algorithm, Algorithm::kLeastRequest);
  EXPECT_TRUE(web.sticky.enabled);
  EXPECT_EQ(web.sticky.cookie, "srv");
  EXPECT_EQ(web.sticky.ttl_s, 3600u);
  EXPECT_EQ(web.slow_start_ms, 30'000u);
  EXPECT_EQ(web.keepalive, 16u);

  ASSERT_EQ(web.backends.size(), 3u);
  EXPECT_EQ(web.backends[0].address.text, "127.0.0.1:3001");
  EXPECT_EQ(web.backends[0].health_check_path, "");
  EXPECT_EQ(web.backends[1].address.text, "127.0.0.1:3002");
  EXPECT_EQ(web.backends[1].weight, 2u);
  EXPECT_EQ(web.backends[1].health_check_path, "/health");
  EXPECT_EQ(web.backends[2].address.text, "127.0.0.1:3003");
  EXPECT_EQ(web.backends[2].weight, 1u);

  const HealthCheck& h = web.health;
  EXPECT_TRUE(h.enabled);
  EXPECT_EQ(h.type, HealthCheck::Type::kHttp);
  EXPECT_EQ(h.path, "/healthz");
  EXPECT_EQ(h.method, "HEAD");
  EXPECT_EQ(h.host, "example.com");
  EXPECT_EQ(h.expect_min, 200);
  EXPECT_EQ(h.expect_max, 299);
  EXPECT_EQ(h.interval_ms, 5'000u);
  EXPECT_EQ(h.timeout_ms, 500u);
  EXPECT_EQ(h.jitter_ms, 0u);
  EXPECT_EQ(h.rise, 4u);
  EXPECT_EQ(h.fall, 6u);

  EXPECT_EQ(web.passive.consecutive_failures, 7u);
  EXPECT_FALSE(web.passive.on_connect_failure);
  EXPECT_TRUE(web.passive.on_reset);
  EXPECT_EQ(web.passive.statuses, (std::vector<uint16_t>{500, 503}));
  EXPECT_EQ(web.passive.base_ejection_ms, 2'000u);
  EXPECT_EQ(web.passive.max_ejection_ms, 60'000u);

  EXPECT_EQ(web.retry.tries, 5u);
  EXPECT_EQ(web.retry.budget_percent, 50u);
  EXPECT_EQ(web.retry.min_retries, 0u);

  const Upstream& api = cfg.upstreams[1];
  EXPECT_EQ(api.algorithm, Algorithm::kMaglev);
  EXPECT_EQ(api.hash_key.source, HashKey::Source::kHeader);
  EXPECT_EQ(api.hash_key.name, "X-User");
  ExpectDefaultHealth(api.health);

  ASSERT_EQ(cfg.servers.size(), 1u);
  ASSERT_EQ(cfg.servers[0].routes.size(), 2u);
  EXPECT_EQ(cfg.servers[0].routes[0].tries, 2u);
  EXPECT_EQ(cfg.servers[0].routes[0].upstream, 1u);
  EXPECT_EQ(cfg.servers[0].routes[1].tries, 0u);  // the upstream's retry.tries
}

// ---------------------------------------------------------------------------------------------
// Algorithms, hashing keys, slow start, sticky sessions

TEST(UpstreamPolicy, AlgorithmNamesAndAliases) {
  struct Case {
    std::string_view name;
    Algorithm want;
  };
  for (const Case& c :
       {Case{"round_robin", Algorithm::kRoundRobin},
        Case{"weighted_round_robin", Algorithm::kRoundRobin}, Case{"random", Algorithm::kRandom},
        Case{"least_request", Algorithm::kLeastRequest},
        Case{"least_conn", Algorithm::kLeastRequest}, Case{"p2c_ewma", Algorithm::kP2cEwma},
        Case{"peak_ewma", Algorithm::kP2cEwma}, Case{"maglev", Algorithm::kMaglev},
        Case{"ketama", Algorithm::kKetama}, Case{"consistent_hash", Algorithm::kKetama}}) {
    EXPECT_EQ(UpOf("    algorithm: " + std::string(c.name) + "\n").algorithm, c.want) << c.name;
  }
}

TEST(UpstreamPolicy, HashOnSources) {
  Upstream u = UpOf("    algorithm: ketama\n");
  EXPECT_EQ(u.hash_key.source, HashKey::Source::kClientIp);  // the default

  u = UpOf("    algorithm: maglev\n    hash_on: client_ip\n");
  EXPECT_EQ(u.hash_key.source, HashKey::Source::kClientIp);
  EXPECT_EQ(u.hash_key.name, "");

  u = UpOf("    algorithm: consistent_hash\n    hash_on: header:X-Tenant-Id\n");
  EXPECT_EQ(u.hash_key.source, HashKey::Source::kHeader);
  EXPECT_EQ(u.hash_key.name, "X-Tenant-Id");

  u = UpOf("    algorithm: maglev\n    hash_on: \"cookie:session\"\n");
  EXPECT_EQ(u.hash_key.source, HashKey::Source::kCookie);
  EXPECT_EQ(u.hash_key.name, "session");
}

TEST(UpstreamPolicy, SlowStart) {
  EXPECT_EQ(UpOf("    slow_start: 30s\n").slow_start_ms, 30'000u);
  EXPECT_EQ(UpOf("    slow_start: 90\n").slow_start_ms, 90'000u);  // bare number: seconds
  EXPECT_EQ(UpOf("    slow_start: 0\n").slow_start_ms, 0u);
  EXPECT_EQ(UpOf("    slow_start: 0s\n").slow_start_ms, 0u);
  // Off is allowed with the hashing algorithms, which ignore weights.
  EXPECT_EQ(UpOf("    algorithm: maglev\n    slow_start: 0\n").slow_start_ms, 0u);
}

TEST(UpstreamPolicy, StickyForms) {
  Upstream u = UpOf("    sticky: true\n");
  EXPECT_TRUE(u.sticky.enabled);
  EXPECT_EQ(u.sticky.cookie, "ringway_sticky");
  EXPECT_EQ(u.sticky.ttl_s, 0u);

  EXPECT_FALSE(UpOf("    sticky: false\n").sticky.enabled);

  u = UpOf("    sticky: {cookie: backend_id}\n");
  EXPECT_TRUE(u.sticky.enabled);
  EXPECT_EQ(u.sticky.cookie, "backend_id");
  EXPECT_EQ(u.sticky.ttl_s, 0u);

  u = UpOf("    sticky: {ttl: 90m}\n");
  EXPECT_TRUE(u.sticky.enabled);
  EXPECT_EQ(u.sticky.cookie, "ringway_sticky");
  EXPECT_EQ(u.sticky.ttl_s, 5400u);

  u = UpOf("    sticky: {ttl: 0}\n");
  EXPECT_EQ(u.sticky.ttl_s, 0u);

  u = UpOf("    sticky: {}\n");  // an empty mapping: on, with the defaults
  EXPECT_TRUE(u.sticky.enabled);

  u = UpOf("    algorithm: maglev\n    sticky: true\n");
  EXPECT_TRUE(u.sticky.enabled);
}

// ---------------------------------------------------------------------------------------------
// Health checks: the aliases, type inference, expect, the global defaults

TEST(UpstreamPolicy, HealthCheckIntervalAliases) {
  for (std::string_view key : {"interval", "interval_seconds", "interval_secs", "frequency_secs"}) {
    Upstream u = UpOf("    health_check:\n      " + std::string(key) + ": 5\n");
    EXPECT_EQ(u.health.interval_ms, 5'000u) << key;  // a bare number: seconds
    u = UpOf("    health_check:\n      " + std::string(key) + ": 1500ms\n");
    EXPECT_EQ(u.health.interval_ms, 1'500u) << key;
  }
}

TEST(UpstreamPolicy, HealthCheckTimeoutAliases) {
  for (std::string_view key : {"timeout", "timeout_seconds", "timeout_secs"}) {
    Upstream u = UpOf("    health_check:\n      " + std::string(key) + ": 1\n");
    EXPECT_EQ(u.health.timeout_ms, 1'000u) << key;  // a bare number: seconds
  }
  // timeout_ms counts a bare number in milliseconds, and takes units too.
  EXPECT_EQ(UpOf("    health_check:\n      timeout_ms: 500\n").health.timeout_ms, 500u);
  EXPECT_EQ(UpOf("    health_check:\n      timeout_ms: \"750\"\n").health.timeout_ms, 750u);
  EXPECT_EQ(UpOf("    health_check:\n      timeout_ms: 1s\n").health.timeout_ms, 1'000u);
}

TEST(UpstreamPolicy, HealthCheckThresholdAliases) {
  Upstream u = UpOf("    health_check: {healthy_threshold: 5, unhealthy_threshold: 7}\n");
  EXPECT_EQ(u.health.rise, 5u);
  EXPECT_EQ(u.health.fall, 7u);
  u = UpOf("    health_check: {failure_threshold: 9}\n");
  EXPECT_EQ(u.health.fall, 9u);
  EXPECT_EQ(u.health.rise, 2u);
  u = UpOf("    health_check: {rise: 1, fall: 100}\n");
  EXPECT_EQ(u.health.rise, 1u);
  EXPECT_EQ(u.health.fall, 100u);
}

TEST(UpstreamPolicy, HealthCheckTypeFollowsPath) {
  Upstream u = UpOf("    health_check: {path: /healthz}\n");
  EXPECT_EQ(u.health.type, HealthCheck::Type::kHttp);
  EXPECT_EQ(u.health.path, "/healthz");

  u = UpOf("    health_check: {type: http}\n");
  EXPECT_EQ(u.health.type, HealthCheck::Type::kHttp);
  EXPECT_EQ(u.health.path, "/");

  u = UpOf("    health_check: {type: tcp}\n");
  EXPECT_EQ(u.health.type, HealthCheck::Type::kTcp);

  u = UpOf("    health_check: {type: http, path: \"/status?full=1\"}\n");
  EXPECT_EQ(u.health.type, HealthCheck::Type::kHttp);
  EXPECT_EQ(u.health.path, "/status?full=1");

  u = UpOf("    health_check: {enabled: false}\n");
  EXPECT_FALSE(u.health.enabled);
  EXPECT_EQ(u.health.type, HealthCheck::Type::kTcp);
}

// A backend's health_check_path makes that backend's check HTTP on its path (the prober reads
// it per backend); the upstream's own check, for the other backends, is left as it is.
TEST(UpstreamPolicy, BackendHealthCheckPathIsPerBackend) {
  Config cfg = MustLoad(R"yaml(global: {port: 80}
servers: [{server_name: acme.com, upstream: web}]
upstreams:
  - name: web
    servers:
      - {address: "127.0.0.1:3001", health_check_path: /ping}
      - "127.0.0.1:3002"
)yaml");
  ASSERT_GE(cfg.upstreams.size(), 1u);
  const Upstream& u = cfg.upstreams[0];
  EXPECT_EQ(u.health.type, HealthCheck::Type::kTcp);  // for the backend without a path
  EXPECT_EQ(u.backends[0].health_check_path, "/ping");
  EXPECT_EQ(u.backends[1].health_check_path, "");

  // type: http says the same thing, so it may stand beside it.
  cfg = MustLoad(R"yaml(global: {port: 80}
servers: [{server_name: acme.com, upstream: web}]
upstreams:
  - name: web
    servers: [{address: "127.0.0.1:3001", health_check_path: /ping}]
    health_check: {type: http}
)yaml");
  ASSERT_GE(cfg.upstreams.size(), 1u);
  EXPECT_EQ(cfg.upstreams[0].health.type, HealthCheck::Type::kHttp);

  // type: tcp from global.health_check is only a default: the backend's own path stands.
  cfg = MustLoad(R"yaml(global:
  port: 80
  health_check: {type: tcp}
servers: [{server_name: acme.com, upstream: web}]
upstreams:
  - name: web
    servers: [{address: "127.0.0.1:3001", health_check_path: /ping}, "127.0.0.1:3002"]
)yaml");
  ASSERT_GE(cfg.upstreams.size(), 1u);
  EXPECT_EQ(cfg.upstreams[0].health.type, HealthCheck::Type::kTcp);
  EXPECT_EQ(cfg.upstreams[0].backends[0].health_check_path, "/ping");
}

TEST(UpstreamPolicy, HealthCheckExpect) {
  Upstream u = UpOf("    health_check: {expect: 204}\n");
  EXPECT_EQ(u.health.expect_min, 204);
  EXPECT_EQ(u.health.expect_max, 204);
  u = UpOf("    health_check: {expect: \"200\"}\n");
  EXPECT_EQ(u.health.expect_min, 200);
  EXPECT_EQ(u.health.expect_max, 200);
  u = UpOf("    health_check: {expect: 100-599}\n");
  EXPECT_EQ(u.health.expect_min, 100);
  EXPECT_EQ(u.health.expect_max, 599);
  u = UpOf("    health_check: {expect: \"301-301\"}\n");
  EXPECT_EQ(u.health.expect_min, 301);
  EXPECT_EQ(u.health.expect_max, 301);
}

TEST(UpstreamPolicy, HealthCheckMethodHostJitter) {
  Upstream u =
      UpOf("    health_check: {method: OPTIONS, host: \"example.com:8080\", jitter: 1s}\n");
  EXPECT_EQ(u.health.method, "OPTIONS");
  EXPECT_EQ(u.health.host, "example.com:8080");
  EXPECT_EQ(u.health.jitter_ms, 1'000u);
  EXPECT_EQ(UpOf("    health_check: {jitter: 0ms}\n").health.jitter_ms, 0u);
}

TEST(UpstreamPolicy, GlobalHealthCheckGivesDefaults) {
  Config cfg = MustLoad(R"yaml(global:
  port: 80
  health_check:
    path: /healthz
    interval: 10s
    timeout: 3s
    rise: 4
    expect: 200
servers: [{server_name: acme.com, upstream: a}]
upstreams:
  - name: a
    servers: ["127.0.0.1:3001"]
  - name: b
    servers: ["127.0.0.1:3002"]
    health_check:
      timeout: 5s
      fall: 9
  - name: c
    servers: ["127.0.0.1:3003"]
    health_check: {enabled: false}
  - name: d
    servers: ["127.0.0.1:3004"]
    health_check: {type: tcp}
)yaml");
  ASSERT_EQ(cfg.upstreams.size(), 4u);
  // a: the global values, the defaults for the rest.
  const HealthCheck& a = cfg.upstreams[0].health;
  EXPECT_TRUE(a.enabled);
  EXPECT_EQ(a.type, HealthCheck::Type::kHttp);
  EXPECT_EQ(a.path, "/healthz");
  EXPECT_EQ(a.interval_ms, 10'000u);
  EXPECT_EQ(a.timeout_ms, 3'000u);
  EXPECT_EQ(a.rise, 4u);
  EXPECT_EQ(a.fall, 3u);
  EXPECT_EQ(a.expect_min, 200);
  EXPECT_EQ(a.expect_max, 200);
  EXPECT_EQ(a.jitter_ms, 200u);
  EXPECT_EQ(a.method, "GET");
  // b: its own timeout and fall over the global values.
  const HealthCheck& b = cfg.upstreams[1].health;
  EXPECT_EQ(b.type, HealthCheck::Type::kHttp);
  EXPECT_EQ(b.path, "/healthz");
  EXPECT_EQ(b.interval_ms, 10'000u);
  EXPECT_EQ(b.timeout_ms, 5'000u);
  EXPECT_EQ(b.rise, 4u);
  EXPECT_EQ(b.fall, 9u);
  // c: off, with the global values kept.
  const HealthCheck& c = cfg.upstreams[2].health;
  EXPECT_FALSE(c.enabled);
  EXPECT_EQ(c.interval_ms, 10'000u);
  // d: its own type wins over the path it inherits; no clash, the path is simply unused.
  const HealthCheck& d = cfg.upstreams[3].health;
  EXPECT_EQ(d.type, HealthCheck::Type::kTcp);
  EXPECT_EQ(d.interval_ms, 10'000u);
}

TEST(UpstreamPolicy, GlobalHealthCheckTypeIsOverriddenByAnUpstreamPath) {
  Config cfg = MustLoad(R"yaml(global:
  port: 80
  health_check: {type: tcp, interval_secs: 3}
servers: [{server_name: acme.com, upstream: web}]
upstreams:
  - name: web
    servers: ["127.0.0.1:3001"]
    health_check: {path: /up}
  - name: plain
    servers: ["127.0.0.1:3002"]
)yaml");
  ASSERT_GE(cfg.upstreams.size(), 2u);
  EXPECT_EQ(cfg.upstreams[0].health.type, HealthCheck::Type::kHttp);
  EXPECT_EQ(cfg.upstreams[0].health.path, "/up");
  EXPECT_EQ(cfg.upstreams[0].health.interval_ms, 3'000u);
  EXPECT_EQ(cfg.upstreams[1].health.type, HealthCheck::Type::kTcp);
  EXPECT_EQ(cfg.upstreams[1].health.interval_ms, 3'000u);
}

TEST(UpstreamPolicy, GlobalAndUpstreamIntervalAndTimeoutCombine) {
  // The global interval and the upstream's timeout, each valid alone, are checked together.
  Config cfg = MustLoad(R"yaml(global:
  port: 80
  health_check: {interval: 30s}
servers: [{server_name: acme.com, upstream: web}]
upstreams:
  - name: web
    servers: ["127.0.0.1:3001"]
    health_check: {timeout: 10s}
)yaml");
  ASSERT_GE(cfg.upstreams.size(), 1u);
  EXPECT_EQ(cfg.upstreams[0].health.interval_ms, 30'000u);
  EXPECT_EQ(cfg.upstreams[0].health.timeout_ms, 10'000u);
}

// ---------------------------------------------------------------------------------------------
// Passive health and retries

TEST(UpstreamPolicy, PassiveHealth) {
  Upstream u = UpOf("    passive_health: {consecutive_failures: 0}\n");
  EXPECT_EQ(u.passive.consecutive_failures, 0u);  // off
  EXPECT_EQ(u.passive.statuses, (std::vector<uint16_t>{502, 503, 504}));

  u = UpOf("    passive_health:\n      on: [connect_failure]\n");
  EXPECT_TRUE(u.passive.on_connect_failure);
  EXPECT_FALSE(u.passive.on_reset);
  EXPECT_TRUE(u.passive.statuses.empty());

  u = UpOf("    passive_health: {on: [599, connect_failure, reset, 500]}\n");
  EXPECT_TRUE(u.passive.on_connect_failure);
  EXPECT_TRUE(u.passive.on_reset);
  EXPECT_EQ(u.passive.statuses, (std::vector<uint16_t>{599, 500}));

  u = UpOf("    passive_health: {base_ejection: 1m, max_ejection: 1m}\n");
  EXPECT_EQ(u.passive.base_ejection_ms, 60'000u);
  EXPECT_EQ(u.passive.max_ejection_ms, 60'000u);

  u = UpOf("    passive_health: {max_ejection: 1h}\n");
  EXPECT_EQ(u.passive.base_ejection_ms, 10'000u);
  EXPECT_EQ(u.passive.max_ejection_ms, 3'600'000u);
}

TEST(UpstreamPolicy, RetryBudgetForms) {
  struct Case {
    std::string_view text;
    uint32_t percent;
  };
  for (const Case& c :
       {Case{"20%", 20}, Case{"0%", 0}, Case{"100%", 100}, Case{"0.25", 25}, Case{"0.5", 50},
        Case{"0.07", 7}, Case{"0", 0}, Case{"1", 100}, Case{"1.0", 100}, Case{"0.0", 0}}) {
    EXPECT_EQ(UpOf("    retry: {budget: " + std::string(c.text) + "}\n").retry.budget_percent,
              c.percent)
        << c.text;
  }
}

TEST(UpstreamPolicy, RetryTriesAndMinRetries) {
  Upstream u = UpOf("    retry: {tries: 1, min_retries: 1000}\n");
  EXPECT_EQ(u.retry.tries, 1u);
  EXPECT_EQ(u.retry.min_retries, 1000u);
  EXPECT_EQ(u.retry.budget_percent, 20u);
  EXPECT_EQ(UpOf("    retry: {tries: 10}\n").retry.tries, 10u);
}

TEST(UpstreamPolicy, RouteTries) {
  Config cfg = MustLoad(R"yaml(global: {port: 80}
servers:
  - server_name: acme.com
    upstream: web
    routes:
      - {path: /a, upstream: web, tries: 1}
      - {path: /b, upstream: web, tries: 10}
      - {path: /c, upstream: web}
upstreams: [{name: web, servers: ["127.0.0.1:3001"]}]
)yaml");
  ASSERT_EQ(cfg.servers.size(), 1u);
  ASSERT_EQ(cfg.servers[0].routes.size(), 3u);
  EXPECT_EQ(cfg.servers[0].routes[0].tries, 1u);
  EXPECT_EQ(cfg.servers[0].routes[1].tries, 10u);
  EXPECT_EQ(cfg.servers[0].routes[2].tries, 0u);
}

// ---------------------------------------------------------------------------------------------
// Backends written as URLs, and the schemas of earlier proxies

TEST(UpstreamPolicy, BackendUrls) {
  Config cfg = MustLoad(R"yaml(global: {port: 80}
servers: [{server_name: acme.com, upstream: web}]
upstreams:
  - name: web
    servers:
      - url: "http://127.0.0.1:3003"
      - {url: "HTTP://[::1]:3004/", weight: 5}
      - "http://localhost:3005"
      - {url: "http://10.0.0.9:80", health_check_path: /hc}
      - address: "http://10.0.0.10:8080"
)yaml");
  ASSERT_GE(cfg.upstreams.size(), 1u);
  const Upstream& u = cfg.upstreams[0];
  ASSERT_EQ(u.backends.size(), 5u);
  EXPECT_EQ(u.backends[0].address.text, "127.0.0.1:3003");
  EXPECT_EQ(u.backends[1].address.text, "[::1]:3004");
  EXPECT_EQ(u.backends[1].weight, 5u);
  EXPECT_EQ(u.backends[2].address.text, "127.0.0.1:3005");
  EXPECT_EQ(u.backends[3].address.text, "10.0.0.9:80");
  EXPECT_EQ(u.backends[3].health_check_path, "/hc");
  EXPECT_EQ(u.backends[4].address.text, "10.0.0.10:8080");  // a URL under address: read as one
}

TEST(UpstreamPolicy, SeedSchemasLoad) {
  // health_check_path per backend.
  Config cfg = MustLoad(R"yaml(global: {port: 80}
servers: [{server_name: acme.com, upstream: web}]
upstreams:
  - name: web
    servers:
      - {address: "127.0.0.1:3001", health_check_path: /health}
      - {address: "127.0.0.1:3002", health_check_path: /health}
)yaml");
  ASSERT_GE(cfg.upstreams.size(), 1u);
  EXPECT_EQ(cfg.upstreams[0].backends[0].health_check_path, "/health");
  EXPECT_EQ(cfg.upstreams[0].backends[1].health_check_path, "/health");

  // health_checks: {interval_seconds, timeout_seconds, failure_threshold}, renamed health_check.
  Upstream u =
      UpOf("    health_check: {interval_seconds: 10, timeout_seconds: 2, failure_threshold: 3}\n");
  EXPECT_EQ(u.health.interval_ms, 10'000u);
  EXPECT_EQ(u.health.timeout_ms, 2'000u);
  EXPECT_EQ(u.health.fall, 3u);

  // [health_check] interval_secs, timeout_secs, healthy_threshold, unhealthy_threshold.
  cfg = MustLoad(R"yaml(global:
  port: 80
  health_check:
    interval_secs: 5
    timeout_secs: 2
    healthy_threshold: 2
    unhealthy_threshold: 4
servers: [{server_name: acme.com, upstream: web}]
upstreams: [{name: web, servers: ["127.0.0.1:3001"]}]
)yaml");
  ASSERT_GE(cfg.upstreams.size(), 1u);
  EXPECT_EQ(cfg.upstreams[0].health.interval_ms, 5'000u);
  EXPECT_EQ(cfg.upstreams[0].health.timeout_ms, 2'000u);
  EXPECT_EQ(cfg.upstreams[0].health.rise, 2u);
  EXPECT_EQ(cfg.upstreams[0].health.fall, 4u);

  // health_check: {timeout_ms, frequency_secs}.
  u = UpOf("    health_check: {timeout_ms: 800, frequency_secs: 15}\n");
  EXPECT_EQ(u.health.timeout_ms, 800u);
  EXPECT_EQ(u.health.interval_ms, 15'000u);

  // url: per backend.
  cfg = MustLoad(R"yaml(global: {port: 80}
servers: [{server_name: acme.com, upstream: web}]
upstreams:
  - name: web
    servers: [{url: "http://127.0.0.1:3001"}, {url: "http://127.0.0.1:3002"}]
    algorithm: round_robin
)yaml");
  ASSERT_GE(cfg.upstreams.size(), 1u);
  EXPECT_EQ(cfg.upstreams[0].backends[1].address.text, "127.0.0.1:3002");
  EXPECT_EQ(cfg.upstreams[0].algorithm, Algorithm::kRoundRobin);
}

// ---------------------------------------------------------------------------------------------
// Unknown keys: the new keys and aliases are suggested

TEST(UpstreamPolicyErrors, UnknownUpstreamKeySuggestsNewKeys) {
  EXPECT_EQ(ErrorOf(Up("    algoritm: maglev\n")),
            "test.yaml:6:5: unknown key 'algoritm' in upstream 'web'; did you mean 'algorithm'?");
  EXPECT_EQ(ErrorOf(Up("    health_checks: {interval_seconds: 5}\n")),
            "test.yaml:6:5: unknown key 'health_checks' in upstream 'web'; did you mean "
            "'health_check'?");
  EXPECT_EQ(ErrorOf(Up("    passive_heath: {}\n")),
            "test.yaml:6:5: unknown key 'passive_heath' in upstream 'web'; did you mean "
            "'passive_health'?");
  EXPECT_EQ(ErrorOf(Up("    retyr: {tries: 2}\n")),
            "test.yaml:6:5: unknown key 'retyr' in upstream 'web'; did you mean 'retry'?");
  EXPECT_EQ(ErrorOf(Up("    slowstart: 10s\n")),
            "test.yaml:6:5: unknown key 'slowstart' in upstream 'web'; did you mean "
            "'slow_start'?");
  EXPECT_EQ(ErrorOf(Up("    hashon: client_ip\n")),
            "test.yaml:6:5: unknown key 'hashon' in upstream 'web'; did you mean 'hash_on'?");
  EXPECT_THAT(ErrorOf(Up("    colour: red\n")),
              AllOf(StartsWith("test.yaml:6:5: unknown key 'colour' in upstream 'web'; the keys "
                               "allowed here are "),
                    HasSubstr("'algorithm', 'hash_on', 'sticky', 'slow_start', 'health_check', "
                              "'passive_health', 'retry'")));
}

TEST(UpstreamPolicyErrors, UnknownKeysInTheNewSections) {
  EXPECT_EQ(ErrorOf(Up("    health_check:\n      intervall: 5s\n")),
            "test.yaml:7:7: unknown key 'intervall' in health_check of upstream 'web'; did you "
            "mean 'interval'?");
  EXPECT_EQ(ErrorOf(Up("    health_check:\n      interval_sec: 5\n")),
            "test.yaml:7:7: unknown key 'interval_sec' in health_check of upstream 'web'; did you "
            "mean 'interval_secs'?");
  EXPECT_EQ(ErrorOf(Up("    health_check:\n      healthy_treshold: 2\n")),
            "test.yaml:7:7: unknown key 'healthy_treshold' in health_check of upstream 'web'; did "
            "you mean 'healthy_threshold'?");
  EXPECT_EQ(ErrorOf(Up("    passive_health:\n      consecutive_failure: 3\n")),
            "test.yaml:7:7: unknown key 'consecutive_failure' in passive_health of upstream "
            "'web'; did you mean 'consecutive_failures'?");
  EXPECT_EQ(ErrorOf(Up("    retry:\n      budjet: 10%\n")),
            "test.yaml:7:7: unknown key 'budjet' in retry of upstream 'web'; did you mean "
            "'budget'?");
  EXPECT_EQ(ErrorOf(Up("    sticky:\n      cokie: x\n")),
            "test.yaml:7:7: unknown key 'cokie' in sticky of upstream 'web'; did you mean "
            "'cookie'?");
  EXPECT_THAT(ErrorOf(Up("    health_check:\n      colour: red\n")),
              AllOf(StartsWith("test.yaml:7:7: unknown key 'colour' in health_check of upstream "
                               "'web'; the keys allowed here are"),
                    HasSubstr("'interval_seconds', 'interval_secs', 'frequency_secs'"),
                    HasSubstr("'timeout_ms'"), HasSubstr("'failure_threshold'")));
}

TEST(UpstreamPolicyErrors, UnknownKeysInGlobalHealthBackendAndRoute) {
  EXPECT_EQ(ErrorOf(R"yaml(global:
  port: 80
  health_check:
    fal: 3
servers: [{server_name: acme.com, upstream: web}]
upstreams: [{name: web, servers: ["127.0.0.1:3001"]}]
)yaml"),
            "test.yaml:4:5: unknown key 'fal' in global.health_check; did you mean 'fall'?");
  EXPECT_EQ(ErrorOf(R"yaml(global:
  port: 80
  healthcheck: {}
servers: [{server_name: acme.com, upstream: web}]
upstreams: [{name: web, servers: ["127.0.0.1:3001"]}]
)yaml"),
            "test.yaml:3:3: unknown key 'healthcheck' in global; did you mean 'health_check'?");
  EXPECT_EQ(ErrorOf(R"yaml(global: {port: 80}
servers: [{server_name: acme.com, upstream: web}]
upstreams:
  - name: web
    servers:
      - {address: "127.0.0.1:3001", health_check_pth: /x}
)yaml"),
            "test.yaml:6:37: unknown key 'health_check_pth' in server #1 of upstream 'web'; did "
            "you mean 'health_check_path'?");
  EXPECT_EQ(ErrorOf(R"yaml(global: {port: 80}
servers:
  - server_name: acme.com
    upstream: web
    routes:
      - {path: /a, upstream: web, trys: 2}
upstreams: [{name: web, servers: ["127.0.0.1:3001"]}]
)yaml"),
            "test.yaml:6:35: unknown key 'trys' in route #1 of server 'acme.com'; did you mean "
            "'tries'?");
}

TEST(UpstreamPolicyErrors, GlobalHealthCheckAtTheTopLevel) {
  std::string e = ErrorOf(
      "health_check: {interval: 5s}\nglobal: {port: 80}\n"
      "servers: [{server_name: acme.com, upstream: web}]\n"
      "upstreams: [{name: web, servers: [\"127.0.0.1:3001\"]}]\n");
  EXPECT_EQ(e,
            "test.yaml:1:1: unknown key 'health_check' at the top level; it belongs under "
            "'global:', indented");
}

TEST(UpstreamPolicyErrors, OtherProxiesAlgorithmKeysPointToAlgorithm) {
  EXPECT_THAT(ErrorOf(Up("    load_balancing: {strategy: round_robin}\n")),
              AllOf(StartsWith("test.yaml:6:5: unknown key 'load_balancing' in upstream 'web'; "
                               "ringway sets the balancing algorithm on each upstream with "
                               "'algorithm', such as algorithm: round_robin"),
                    HasSubstr("Settings from earlier proxies")));
  EXPECT_THAT(ErrorOf(Up("    strategy: round_robin\n")),
              StartsWith("test.yaml:6:5: unknown key 'strategy' in upstream 'web'; ringway sets "
                         "the balancing algorithm"));
  EXPECT_THAT(ErrorOf("global: {port: 80, load_balancing: {strategy: round_robin}}\n"
                      "servers: [{server_name: acme.com, upstream: web}]\n"
                      "upstreams: [{name: web, servers: [\"127.0.0.1:3001\"]}]\n"),
              StartsWith("test.yaml:1:20: unknown key 'load_balancing' in global; ringway sets "
                         "the balancing algorithm on each upstream"));
  EXPECT_THAT(ErrorOf("load_balancing: {strategy: round_robin}\nglobal: {port: 80}\n"
                      "servers: [{server_name: acme.com, upstream: web}]\n"
                      "upstreams: [{name: web, servers: [\"127.0.0.1:3001\"]}]\n"),
              AllOf(StartsWith("test.yaml:1:1: 'load_balancing' belongs to the server/backends "
                               "schema"),
                    HasSubstr("but 'global' at line 2, column 1 belongs to ringway's own schema"),
                    HasSubstr("the balancing algorithm is set on each upstream with 'algorithm'")));
}

// ---------------------------------------------------------------------------------------------
// An alias beside its canonical key, or two aliases of one setting

TEST(UpstreamPolicyErrors, AliasWithItsCanonicalKey) {
  EXPECT_EQ(ErrorOf(Up("    health_check:\n      interval: 5s\n      interval_seconds: 5\n")),
            "test.yaml:8:7: 'interval_seconds' and 'interval' (line 7, column 7) in health_check "
            "of upstream 'web' set the same thing ('interval_seconds' is another name for "
            "'interval'); keep one of them");
  EXPECT_EQ(ErrorOf(Up("    health_check:\n      timeout_ms: 500\n      timeout: 1s\n")),
            "test.yaml:8:7: 'timeout' and 'timeout_ms' (line 7, column 7) in health_check of "
            "upstream 'web' set the same thing ('timeout_ms' is another name for 'timeout'); "
            "keep one of them");
  EXPECT_EQ(ErrorOf(Up("    health_check:\n      rise: 2\n      healthy_threshold: 2\n")),
            "test.yaml:8:7: 'healthy_threshold' and 'rise' (line 7, column 7) in health_check of "
            "upstream 'web' set the same thing ('healthy_threshold' is another name for 'rise'); "
            "keep one of them");
  EXPECT_EQ(ErrorOf(Up("    health_check:\n      fall: 2\n      unhealthy_threshold: 2\n")),
            "test.yaml:8:7: 'unhealthy_threshold' and 'fall' (line 7, column 7) in health_check "
            "of upstream 'web' set the same thing ('unhealthy_threshold' is another name for "
            "'fall'); keep one of them");
}

TEST(UpstreamPolicyErrors, TwoAliasesOfOneSetting) {
  EXPECT_EQ(ErrorOf(Up("    health_check:\n      timeout_secs: 1\n      timeout_ms: 500\n")),
            "test.yaml:8:7: 'timeout_ms' and 'timeout_secs' (line 7, column 7) in health_check "
            "of upstream 'web' set the same thing (both are other names for 'timeout'); keep one "
            "of them");
  EXPECT_EQ(ErrorOf(Up("    health_check: {frequency_secs: 5, interval_secs: 5}\n")),
            "test.yaml:6:39: 'interval_secs' and 'frequency_secs' (line 6, column 20) in "
            "health_check of upstream 'web' set the same thing (both are other names for "
            "'interval'); keep one of them");
  EXPECT_EQ(
      ErrorOf(Up("    health_check: {unhealthy_threshold: 2, failure_threshold: 2}\n")),
      "test.yaml:6:44: 'failure_threshold' and 'unhealthy_threshold' (line 6, column 20) in "
      "health_check of upstream 'web' set the same thing (both are other names for 'fall'); keep "
      "one of them");
  EXPECT_EQ(ErrorOf(R"yaml(global:
  port: 80
  health_check: {interval_seconds: 5, frequency_secs: 5}
servers: [{server_name: acme.com, upstream: web}]
upstreams: [{name: web, servers: ["127.0.0.1:3001"]}]
)yaml"),
            "test.yaml:3:39: 'frequency_secs' and 'interval_seconds' (line 3, column 18) in "
            "global.health_check set the same thing (both are other names for 'interval'); keep "
            "one of them");
}

TEST(UpstreamPolicyErrors, AddressAndUrlTogether) {
  EXPECT_EQ(ErrorOf(R"yaml(global: {port: 80}
servers: [{server_name: acme.com, upstream: web}]
upstreams:
  - name: web
    servers:
      - address: "127.0.0.1:3001"
        url: "http://127.0.0.1:3001"
)yaml"),
            "test.yaml:7:9: 'url' and 'address' (line 6, column 9) in server #1 of upstream 'web' "
            "set the same thing ('url' is another name for 'address'); keep one of them");
}

// ---------------------------------------------------------------------------------------------
// Interval and timeout

TEST(UpstreamPolicyErrors, TimeoutNotShorterThanInterval) {
  EXPECT_EQ(ErrorOf(Up("    health_check:\n      interval: 2s\n      timeout: 2s\n")),
            "test.yaml:8:16: 'timeout' in health_check of upstream 'web' is 2s, not shorter than "
            "the interval (2s, 'interval' in health_check of upstream 'web', line 7); a check "
            "must time out before the next one is due: write a shorter timeout, such as timeout: "
            "1s, or a longer interval");
  // Against the default interval (2s).
  EXPECT_EQ(ErrorOf(Up("    health_check:\n      timeout_ms: 5000\n")),
            "test.yaml:7:19: 'timeout_ms' in health_check of upstream 'web' is 5s, not shorter "
            "than the interval (2s, the default); a check must time out before the next one is "
            "due: write a shorter timeout, such as timeout_ms: 1s, or a longer interval");
  // Only the interval written; the timeout is the default (1s).
  EXPECT_EQ(ErrorOf(Up("    health_check:\n      interval_seconds: 1\n")),
            "test.yaml:7:25: 'interval_seconds' in health_check of upstream 'web' is 1s, not "
            "longer than the timeout (1s, the default); a check must time out before the next "
            "one is due: write a longer interval, such as interval_seconds: 2s, or a shorter "
            "timeout");
  // Interval of 10ms: no shorter timeout is allowed, so only a longer interval is suggested.
  EXPECT_THAT(ErrorOf(Up("    health_check: {interval: 10ms, timeout: 10ms}\n")),
              AllOf(StartsWith("test.yaml:6:45: 'timeout' in health_check of upstream 'web' is "
                               "10ms, not shorter than the interval (10ms"),
                    HasSubstr("write a longer interval")));
}

TEST(UpstreamPolicyErrors, TimeoutAgainstTheGlobalInterval) {
  EXPECT_EQ(ErrorOf(R"yaml(global:
  port: 80
  health_check:
    interval: 3s
servers: [{server_name: acme.com, upstream: web}]
upstreams:
  - name: web
    servers: ["127.0.0.1:3001"]
    health_check:
      timeout: 5s
)yaml"),
            "test.yaml:10:16: 'timeout' in health_check of upstream 'web' is 5s, not shorter than "
            "the interval (3s, 'interval' in global.health_check, line 4); a check must time out "
            "before the next one is due: write a shorter timeout, such as timeout: 1500ms, or a "
            "longer interval");
  // Inside global.health_check itself.
  EXPECT_EQ(ErrorOf(R"yaml(global:
  port: 80
  health_check:
    frequency_secs: 1
    timeout_secs: 1
servers: [{server_name: acme.com, upstream: web}]
upstreams: [{name: web, servers: ["127.0.0.1:3001"]}]
)yaml"),
            "test.yaml:5:19: 'timeout_secs' in global.health_check is 1s, not shorter than the "
            "interval (1s, 'frequency_secs' in global.health_check, line 4); a check must time "
            "out before the next one is due: write a shorter timeout, such as timeout_secs: "
            "500ms, or a longer interval");
  // An upstream interval shorter than the global timeout.
  EXPECT_THAT(ErrorOf(R"yaml(global:
  port: 80
  health_check: {timeout: 4s, interval: 8s}
servers: [{server_name: acme.com, upstream: web}]
upstreams:
  - name: web
    servers: ["127.0.0.1:3001"]
    health_check: {interval: 4s}
)yaml"),
              StartsWith("test.yaml:8:30: 'interval' in health_check of upstream 'web' is 4s, "
                         "not longer than the timeout (4s, 'timeout' in global.health_check, line "
                         "3)"));
}

TEST(UpstreamPolicyErrors, IntervalAndTimeoutAtLeastTenMilliseconds) {
  EXPECT_EQ(ErrorOf(Up("    health_check:\n      interval: 5ms\n")),
            "test.yaml:7:17: 'interval' in health_check of upstream 'web' is 5ms; the shortest "
            "allowed is 10ms");
  EXPECT_EQ(ErrorOf(Up("    health_check:\n      timeout_ms: 9\n")),
            "test.yaml:7:19: 'timeout_ms' in health_check of upstream 'web' is 9ms; the shortest "
            "allowed is 10ms");
  EXPECT_THAT(ErrorOf(Up("    health_check:\n      timeout_ms: 0\n")),
              AllOf(StartsWith("test.yaml:7:19: 'timeout_ms' in health_check of upstream 'web': "
                               "duration '0ms' is zero"),
                    HasSubstr("(a bare number here counts milliseconds)")));
  EXPECT_THAT(ErrorOf(Up("    health_check:\n      interval: 0\n")),
              StartsWith("test.yaml:7:17: 'interval' in health_check of upstream 'web': duration "
                         "'0' is zero"));
  EXPECT_THAT(ErrorOf(Up("    health_check:\n      interval_secs: 0.5\n")),
              AllOf(StartsWith("test.yaml:7:22: 'interval_secs' in health_check of upstream "
                               "'web' must be a duration"),
                    HasSubstr("1500ms instead of 1.5")));
  EXPECT_THAT(ErrorOf(Up("    health_check:\n      jitter: soon\n")),
              StartsWith("test.yaml:7:15: 'jitter' in health_check of upstream 'web': 'soon' is "
                         "not a duration"));
}

// ---------------------------------------------------------------------------------------------
// Health check values

TEST(UpstreamPolicyErrors, HealthCheckMustBeAMapping) {
  EXPECT_THAT(ErrorOf(Up("    health_check: true\n")),
              StartsWith("test.yaml:6:19: 'health_check' in upstream 'web' must be a mapping "
                         "(key: value lines), found a boolean (true)"));
  EXPECT_THAT(ErrorOf("global: {port: 80, health_check: [1]}\n"
                      "servers: [{server_name: acme.com, upstream: web}]\n"
                      "upstreams: [{name: web, servers: [\"127.0.0.1:3001\"]}]\n"),
              StartsWith("test.yaml:1:34: 'health_check' in global must be a mapping"));
  EXPECT_THAT(ErrorOf(Up("    passive_health: 5\n")),
              StartsWith("test.yaml:6:21: 'passive_health' in upstream 'web' must be a mapping"));
  EXPECT_THAT(ErrorOf(Up("    retry: 3\n")),
              StartsWith("test.yaml:6:12: 'retry' in upstream 'web' must be a mapping"));
}

TEST(UpstreamPolicyErrors, HealthCheckType) {
  EXPECT_EQ(ErrorOf(Up("    health_check:\n      type: udp\n")),
            "test.yaml:7:13: health check type 'udp' in health_check of upstream 'web' is not "
            "known; use 'tcp' (connect only), 'http' (send a request, check the status) or "
            "'grpc' (ask grpc.health.v1.Health/Check)");
  EXPECT_EQ(ErrorOf(Up("    health_check:\n      type: HTTP\n")),
            "test.yaml:7:13: health check type 'HTTP' in health_check of upstream 'web' is not "
            "known; write it in lower case: http");
  EXPECT_EQ(ErrorOf(Up("    health_check:\n      type: tcp\n      path: /healthz\n")),
            "test.yaml:8:13: 'path' in health_check of upstream 'web' is given, but 'type' is tcp "
            "(line 7, column 13), and a TCP check sends no request; remove 'path', or write type: "
            "http");
  EXPECT_EQ(ErrorOf(R"yaml(global:
  port: 80
  health_check: {path: /x, type: tcp}
servers: [{server_name: acme.com, upstream: web}]
upstreams: [{name: web, servers: ["127.0.0.1:3001"]}]
)yaml"),
            "test.yaml:3:24: 'path' in global.health_check is given, but 'type' is tcp (line 3, "
            "column 34), and a TCP check sends no request; remove 'path', or write type: http");
}

TEST(UpstreamPolicyErrors, TcpTypeWithABackendHealthCheckPath) {
  EXPECT_EQ(ErrorOf(R"yaml(global: {port: 80}
servers: [{server_name: acme.com, upstream: web}]
upstreams:
  - name: web
    servers:
      - "127.0.0.1:3001"
      - address: "127.0.0.1:3002"
        health_check_path: /health
    health_check:
      type: tcp
)yaml"),
            "test.yaml:8:28: 'health_check_path' asks for an HTTP check, but the health_check of "
            "upstream 'web' says type: tcp (line 10, column 13); remove one of them");
}

TEST(UpstreamPolicyErrors, HealthCheckPaths) {
  EXPECT_EQ(ErrorOf(Up("    health_check:\n      path: healthz\n")),
            "test.yaml:7:13: 'path' in health_check of upstream 'web' is 'healthz', which does not "
            "start with '/'; write it as '/healthz'");
  EXPECT_EQ(ErrorOf(Up("    health_check:\n      path: \"/health check\"\n")),
            "test.yaml:7:13: 'path' in health_check of upstream 'web' is '/health check', which "
            "holds a space or a control character; percent-encode it (a space is %20)");
  EXPECT_EQ(ErrorOf(Up("    health_check:\n      path: \"/a\\tb\"\n")),
            "test.yaml:7:13: 'path' in health_check of upstream 'web' is '/a\tb', which holds a "
            "space or a control character; percent-encode it (a space is %20)");
  EXPECT_EQ(ErrorOf(R"yaml(global: {port: 80}
servers: [{server_name: acme.com, upstream: web}]
upstreams:
  - name: web
    servers:
      - {address: "127.0.0.1:3001", health_check_path: health}
)yaml"),
            "test.yaml:6:56: 'health_check_path' in server #1 of upstream 'web' is 'health', which "
            "does not start with '/'; write it as '/health'");
}

TEST(UpstreamPolicyErrors, HealthCheckMethodAndHost) {
  EXPECT_EQ(ErrorOf(Up("    health_check:\n      method: get\n")),
            "test.yaml:7:15: 'method' in health_check of upstream 'web' is 'get'; methods are "
            "case-sensitive, write it in upper case: GET");
  EXPECT_EQ(ErrorOf(Up("    health_check:\n      method: \"GET /\"\n")),
            "test.yaml:7:15: 'method' in health_check of upstream 'web' is 'GET /', not an HTTP "
            "method; write one such as GET or HEAD");
  EXPECT_THAT(ErrorOf(Up("    health_check:\n      host: example.com/health\n")),
              AllOf(StartsWith("test.yaml:7:13: 'host' in health_check of upstream 'web' is "
                               "'example.com/health'; write only the Host header's value"),
                    HasSubstr("the path goes under 'path'")));
  EXPECT_THAT(ErrorOf(Up("    health_check:\n      host: \"a b\"\n")),
              StartsWith("test.yaml:7:13: 'host' in health_check of upstream 'web' is 'a b'; "));
  EXPECT_THAT(ErrorOf(Up("    health_check:\n      host: \"\"\n")),
              StartsWith("test.yaml:7:13: 'host' in health_check of upstream 'web' is empty"));
}

TEST(UpstreamPolicyErrors, HealthCheckExpect) {
  EXPECT_EQ(ErrorOf(Up("    health_check:\n      expect: 99\n")),
            "test.yaml:7:15: 'expect' in health_check of upstream 'web' is 99, out of range; use "
            "a value from 100 to 599");
  EXPECT_EQ(ErrorOf(Up("    health_check:\n      expect: 399-200\n")),
            "test.yaml:7:15: 'expect' in health_check of upstream 'web' is '399-200', a range "
            "that runs backwards; write \"200-399\"");
  EXPECT_EQ(ErrorOf(Up("    health_check:\n      expect: 200-600\n")),
            "test.yaml:7:15: 'expect' in health_check of upstream 'web' is '200-600', out of "
            "range; statuses run from 100 to 599");
  EXPECT_EQ(ErrorOf(Up("    health_check:\n      expect: 2xx\n")),
            "test.yaml:7:15: 'expect' in health_check of upstream 'web' is '2xx', not a status or "
            "a range of statuses; write the range as \"200-299\"");
  EXPECT_EQ(ErrorOf(Up("    health_check:\n      expect: ok\n")),
            "test.yaml:7:15: 'expect' in health_check of upstream 'web' is 'ok', not a status or "
            "a range of statuses; write one status such as 200, or a range such as \"200-399\", "
            "within 100 to 599");
  EXPECT_EQ(ErrorOf(Up("    health_check:\n      expect: [200, 204]\n")),
            "test.yaml:7:15: 'expect' in health_check of upstream 'web' must be a status code or "
            "a range of them, found a list; write one status such as 200, or a range such as "
            "\"200-399\", within 100 to 599");
}

TEST(UpstreamPolicyErrors, HealthCheckThresholdsAndEnabled) {
  EXPECT_EQ(ErrorOf(Up("    health_check:\n      rise: 0\n")),
            "test.yaml:7:13: 'rise' in health_check of upstream 'web' is 0, out of range; use a "
            "value from 1 to 100");
  EXPECT_EQ(ErrorOf(Up("    health_check:\n      failure_threshold: 101\n")),
            "test.yaml:7:26: 'failure_threshold' in health_check of upstream 'web' is 101, out of "
            "range; use a value from 1 to 100");
  EXPECT_THAT(ErrorOf(Up("    health_check:\n      healthy_threshold: \"2\"\n")),
              AllOf(StartsWith("test.yaml:7:26: 'healthy_threshold' in health_check of upstream "
                               "'web' must be an integer from 1 to 100"),
                    HasSubstr("remove the quotes")));
  EXPECT_THAT(ErrorOf(Up("    health_check:\n      enabled: \"no\"\n")),
              StartsWith("test.yaml:7:16: 'enabled' in health_check of upstream 'web' must be a "
                         "boolean (true or false), found a string (\"no\")"));
}

// ---------------------------------------------------------------------------------------------
// Passive health and retry values

TEST(UpstreamPolicyErrors, PassiveHealthOn) {
  EXPECT_EQ(ErrorOf(Up("    passive_health:\n      on: []\n")),
            "test.yaml:7:11: 'on' in passive_health of upstream 'web' is empty; list what counts "
            "as a failure, such as [connect_failure, reset, 502, 503, 504], or set "
            "consecutive_failures: 0 to turn passive health off");
  EXPECT_EQ(ErrorOf(Up("    passive_health:\n      on: [reset, 404]\n")),
            "test.yaml:7:19: entry #2 of 'on' in passive_health of upstream 'web' is 404; only "
            "statuses from 500 to 599 count as backend failures");
  EXPECT_EQ(ErrorOf(Up("    passive_health:\n      on: [conect_failure]\n")),
            "test.yaml:7:12: entry #1 of 'on' in passive_health of upstream 'web' is "
            "'conect_failure', which is not a failure ringway knows; did you mean "
            "'connect_failure'? (use connect_failure, reset, or a status code from 500 to 599)");
  EXPECT_EQ(ErrorOf(Up("    passive_health:\n      on: [502, reset, 502]\n")),
            "test.yaml:7:24: 'on' in passive_health of upstream 'web' lists 502 a second time "
            "(entry #3); list it once");
  EXPECT_EQ(ErrorOf(Up("    passive_health:\n      on: [reset, reset]\n")),
            "test.yaml:7:19: 'on' in passive_health of upstream 'web' lists reset a second time "
            "(entry #2); list it once");
  EXPECT_THAT(ErrorOf(Up("    passive_health:\n      on: 502\n")),
              AllOf(StartsWith("test.yaml:7:11: 'on' in passive_health of upstream 'web' must be "
                               "a list, found an integer (502)"),
                    HasSubstr("[connect_failure, reset, 502, 503, 504]")));
  EXPECT_THAT(ErrorOf(Up("    passive_health:\n      on: [true]\n")),
              StartsWith("test.yaml:7:12: entry #1 of 'on' in passive_health of upstream 'web' "
                         "must be connect_failure, reset or a status code from 500 to 599, found "
                         "a boolean (true)"));
}

TEST(UpstreamPolicyErrors, PassiveHealthCountsAndEjection) {
  EXPECT_EQ(ErrorOf(Up("    passive_health:\n      consecutive_failures: -1\n")),
            "test.yaml:7:29: 'consecutive_failures' in passive_health of upstream 'web' is -1, "
            "out of range; use a value from 0 to 1000");
  EXPECT_EQ(ErrorOf(Up("    passive_health:\n      base_ejection: 30s\n      max_ejection: 10s\n")),
            "test.yaml:8:21: 'max_ejection' in passive_health of upstream 'web' is 10s, shorter "
            "than base_ejection (30s); the back-off doubles from base_ejection up to "
            "max_ejection, so write max_ejection: 30s or longer");
  EXPECT_EQ(ErrorOf(Up("    passive_health:\n      max_ejection: 5s\n")),
            "test.yaml:7:21: 'max_ejection' in passive_health of upstream 'web' is 5s, shorter "
            "than base_ejection (10s, the default); the back-off doubles from base_ejection up to "
            "max_ejection, so write max_ejection: 10s or longer");
  EXPECT_EQ(ErrorOf(Up("    passive_health:\n      base_ejection: 10m\n")),
            "test.yaml:7:22: 'base_ejection' in passive_health of upstream 'web' is 10m, longer "
            "than max_ejection (5m, the default); the back-off doubles from base_ejection up to "
            "max_ejection, so write a shorter base_ejection or add max_ejection: 10m");
  EXPECT_THAT(ErrorOf(Up("    passive_health:\n      base_ejection: 0s\n")),
              StartsWith("test.yaml:7:22: 'base_ejection' in passive_health of upstream 'web': "
                         "duration '0s' is zero"));
}

TEST(UpstreamPolicyErrors, RetryTries) {
  EXPECT_EQ(ErrorOf(Up("    retry:\n      tries: 0\n")),
            "test.yaml:7:14: 'tries' in retry of upstream 'web' is 0, out of range; use a value "
            "from 1 to 10");
  EXPECT_EQ(ErrorOf(Up("    retry:\n      tries: 11\n")),
            "test.yaml:7:14: 'tries' in retry of upstream 'web' is 11, out of range; use a value "
            "from 1 to 10");
  EXPECT_EQ(ErrorOf(Up("    retry:\n      min_retries: 1001\n")),
            "test.yaml:7:20: 'min_retries' in retry of upstream 'web' is 1001, out of range; use "
            "a value from 0 to 1000");
  EXPECT_EQ(ErrorOf(R"yaml(global: {port: 80}
servers:
  - server_name: acme.com
    upstream: web
    routes:
      - path: /a
        upstream: web
        tries: 11
upstreams: [{name: web, servers: ["127.0.0.1:3001"]}]
)yaml"),
            "test.yaml:8:16: 'tries' in route #1 of server 'acme.com' is 11, out of range; use a "
            "value from 1 to 10");
}

TEST(UpstreamPolicyErrors, RetryBudget) {
  EXPECT_EQ(ErrorOf(Up("    retry:\n      budget: 20\n")),
            "test.yaml:7:15: 'budget' in retry of upstream 'web' is 20, not a fraction from 0 to "
            "1; did you mean 20%? (write a percentage such as 20% or a fraction such as 0.2)");
  EXPECT_EQ(ErrorOf(Up("    retry:\n      budget: 500\n")),
            "test.yaml:7:15: 'budget' in retry of upstream 'web' is 500, not a fraction from 0 to "
            "1 (write a percentage such as 20% or a fraction such as 0.2)");
  EXPECT_EQ(ErrorOf(Up("    retry:\n      budget: 150%\n")),
            "test.yaml:7:15: 'budget' in retry of upstream 'web' is 150%, out of range; use 0% to "
            "100%");
  EXPECT_EQ(ErrorOf(Up("    retry:\n      budget: 1.5\n")),
            "test.yaml:7:15: 'budget' in retry of upstream 'web' is 1.5, not a fraction from 0 to "
            "1; write a percentage such as 20% or a fraction such as 0.2");
  EXPECT_EQ(ErrorOf(Up("    retry:\n      budget: 0.125\n")),
            "test.yaml:7:15: 'budget' in retry of upstream 'web' is 0.125 (12.5%); ringway counts "
            "whole percents, so write 12% or 13%");
  EXPECT_EQ(ErrorOf(Up("    retry:\n      budget: 12.5%\n")),
            "test.yaml:7:15: 'budget' in retry of upstream 'web' is '12.5%', not a whole "
            "percentage; write a percentage such as 20% or a fraction such as 0.2");
  EXPECT_EQ(ErrorOf(Up("    retry:\n      budget: lots\n")),
            "test.yaml:7:15: 'budget' in retry of upstream 'web' must be a percentage or a "
            "fraction from 0 to 1, found a string (\"lots\"); write a percentage such as 20% or a "
            "fraction such as 0.2");
}

// ---------------------------------------------------------------------------------------------
// Algorithm, hash_on, slow_start, sticky values

TEST(UpstreamPolicyErrors, UnknownAlgorithm) {
  EXPECT_EQ(ErrorOf(Up("    algorithm: round_robbin\n")),
            "test.yaml:6:16: algorithm 'round_robbin' in upstream 'web' is not known; did you "
            "mean 'round_robin'? (use one of 'round_robin', 'random', 'least_request', "
            "'p2c_ewma', 'maglev', 'ketama')");
  EXPECT_EQ(ErrorOf(Up("    algorithm: Maglev\n")),
            "test.yaml:6:16: algorithm 'Maglev' in upstream 'web' is not known; did you mean "
            "'maglev'? (use one of 'round_robin', 'random', 'least_request', 'p2c_ewma', "
            "'maglev', 'ketama')");
  EXPECT_THAT(ErrorOf(Up("    algorithm: fastest\n")),
              AllOf(StartsWith("test.yaml:6:16: algorithm 'fastest' in upstream 'web' is not "
                               "known (use one of"),
                    Not(HasSubstr("did you mean"))));
  EXPECT_THAT(ErrorOf(Up("    algorithm: 3\n")),
              StartsWith("test.yaml:6:16: algorithm '3' in upstream 'web' is not known"));
}

TEST(UpstreamPolicyErrors, HashOnNeedsAHashingAlgorithm) {
  EXPECT_EQ(ErrorOf(Up("    hash_on: client_ip\n")),
            "test.yaml:6:14: 'hash_on' in upstream 'web' only applies to the consistent-hashing "
            "algorithms, and the algorithm is round_robin, the default; remove hash_on, or write "
            "algorithm: maglev (or ketama)");
  EXPECT_EQ(ErrorOf(Up("    algorithm: least_conn\n    hash_on: \"header:X-User\"\n")),
            "test.yaml:7:14: 'hash_on' in upstream 'web' only applies to the consistent-hashing "
            "algorithms, and the algorithm is 'least_conn' (line 6); remove hash_on, or write "
            "algorithm: maglev (or ketama)");
}

TEST(UpstreamPolicyErrors, HashOnValues) {
  EXPECT_EQ(ErrorOf(Up("    algorithm: maglev\n    hash_on: ip\n")),
            "test.yaml:7:14: 'hash_on' in upstream 'web' is 'ip', which ringway cannot hash on; "
            "write client_ip, \"header:NAME\" (such as \"header:X-User\") or \"cookie:NAME\"");
  EXPECT_EQ(ErrorOf(Up("    algorithm: maglev\n    hash_on: \"query:id\"\n")),
            "test.yaml:7:14: 'hash_on' in upstream 'web' is 'query:id', which ringway cannot hash "
            "on; write client_ip, \"header:NAME\" (such as \"header:X-User\") or \"cookie:NAME\"");
  EXPECT_EQ(ErrorOf(Up("    algorithm: ketama\n    hash_on: \"header:\"\n")),
            "test.yaml:7:14: 'hash_on' in upstream 'web' is 'header:', and '' is not a valid "
            "header name; use letters, digits and - _ . (no spaces), such as \"header:X-User\"");
  EXPECT_EQ(ErrorOf(Up("    algorithm: ketama\n    hash_on: \"cookie:a b\"\n")),
            "test.yaml:7:14: 'hash_on' in upstream 'web' is 'cookie:a b', and 'a b' is not a valid "
            "cookie name; use letters, digits and - _ . (no spaces), such as \"cookie:session\"");
}

TEST(UpstreamPolicyErrors, SlowStartValues) {
  EXPECT_EQ(ErrorOf(Up("    algorithm: ketama\n    slow_start: 30s\n")),
            "test.yaml:7:17: 'slow_start' in upstream 'web' has no effect with the algorithm "
            "'ketama' (line 6): consistent hashing keeps each key on its backend whatever the "
            "weights; remove slow_start");
  EXPECT_THAT(ErrorOf(Up("    slow_start: fast\n")),
              StartsWith("test.yaml:6:17: 'slow_start' in upstream 'web': 'fast' is not a "
                         "duration"));
}

TEST(UpstreamPolicyErrors, StickyValues) {
  EXPECT_EQ(ErrorOf(Up("    sticky: \"yes\"\n")),
            "test.yaml:6:13: 'sticky' in upstream 'web' must be true, false or a mapping {cookie, "
            "ttl}, found a string (\"yes\"); write sticky: true, or sticky: {cookie: "
            "ringway_sticky, ttl: 1h}");
  EXPECT_EQ(ErrorOf(Up("    sticky: {cookie: \"a=b\"}\n")),
            "test.yaml:6:22: 'cookie' in sticky of upstream 'web' is 'a=b', which is not a valid "
            "cookie name; use letters, digits and - _ . (no spaces, '=', ';' or quotes), such as "
            "ringway_sticky");
  EXPECT_EQ(ErrorOf(Up("    sticky:\n      ttl: 1500ms\n")),
            "test.yaml:7:12: 'ttl' in sticky of upstream 'web' is 1500ms; a cookie lives a whole "
            "number of seconds, so write 2s");
  EXPECT_THAT(ErrorOf(Up("    sticky:\n      ttl: forever\n")),
              StartsWith("test.yaml:7:12: 'ttl' in sticky of upstream 'web': 'forever' is not a "
                         "duration"));
}

// ---------------------------------------------------------------------------------------------
// Backend URLs

TEST(UpstreamPolicyErrors, BackendUrls) {
  auto backend = [](std::string_view server) {
    return "global: {port: 80}\n"
           "servers: [{server_name: acme.com, upstream: web}]\n"
           "upstreams:\n"
           "  - name: web\n"
           "    servers:\n"
           "      - " +
           std::string(server) + "\n";
  };
  // https:// points at the upstream's tls key, which exists, instead of a later release.
  EXPECT_EQ(ErrorOf(backend("url: \"https://127.0.0.1:3443\"")),
            "test.yaml:6:14: 'url' in server #1 of upstream 'web' is 'https://127.0.0.1:3443'; "
            "TLS to backends is set for the whole upstream, not by the URL: write the backend as "
            "\"127.0.0.1:3443\" and add tls: true to the upstream (see \"Upstream TLS\" in "
            "docs/configuration.md)");
  EXPECT_EQ(ErrorOf(backend("\"https://127.0.0.1:3443/\"")),
            "test.yaml:6:9: server #1 of upstream 'web' is 'https://127.0.0.1:3443/'; TLS to "
            "backends is set for the whole upstream, not by the URL: write the backend as "
            "\"127.0.0.1:3443\" and add tls: true to the upstream (see \"Upstream TLS\" in "
            "docs/configuration.md)");
  // What the message says to write loads, with TLS on for the upstream.
  Config fixed = MustLoad(backend("\"127.0.0.1:3443\"\n    tls: true"));
  ASSERT_EQ(fixed.upstreams.size(), 1u);
  EXPECT_TRUE(fixed.upstreams[0].tls.enabled);
  EXPECT_EQ(fixed.upstreams[0].backends[0].address.text, "127.0.0.1:3443");
  EXPECT_EQ(ErrorOf(backend("url: \"ftp://127.0.0.1:21\"")),
            "test.yaml:6:14: 'url' in server #1 of upstream 'web' is 'ftp://127.0.0.1:21', whose "
            "scheme 'ftp' ringway does not speak; write http://IP:PORT, such as "
            "\"http://127.0.0.1:3001\"");
  EXPECT_EQ(ErrorOf(backend("url: \"127.0.0.1:3001\"")),
            "test.yaml:6:14: 'url' in server #1 of upstream 'web' is '127.0.0.1:3001', which has "
            "no scheme; write http://IP:PORT, such as \"http://127.0.0.1:3001\", or give the "
            "backend as address: IP:PORT");
  EXPECT_EQ(ErrorOf(backend("url: \"http://127.0.0.1:3001/api\"")),
            "test.yaml:6:14: 'url' in server #1 of upstream 'web' is 'http://127.0.0.1:3001/api', "
            "which has a path or query; ringway forwards each request's own path, so write only "
            "http://IP:PORT");
  EXPECT_EQ(ErrorOf(backend("url: \"http://127.0.0.1\"")),
            "test.yaml:6:14: 'url' in server #1 of upstream 'web' is 'http://127.0.0.1', which "
            "has no port; write it with one, such as \"http://127.0.0.1:80\"");
  EXPECT_EQ(ErrorOf(backend("url: \"http://[::1]/\"")),
            "test.yaml:6:14: 'url' in server #1 of upstream 'web' is 'http://[::1]/', which has "
            "no port; write it with one, such as \"http://[::1]:80\"");
  EXPECT_EQ(ErrorOf(backend("url: \"http://:3001\"")),
            "test.yaml:6:14: 'url' in server #1 of upstream 'web' is 'http://:3001', which has no "
            "host; write http://IP:PORT, such as \"http://127.0.0.1:3001\"");
  EXPECT_EQ(ErrorOf(backend("url: \"http://user@127.0.0.1:3001\"")),
            "test.yaml:6:14: 'url' in server #1 of upstream 'web' is "
            "'http://user@127.0.0.1:3001', which has user information; write only "
            "http://IP:PORT");
  // A host name is kept as written and resolved later, off the data path (config::ResolveNames).
  Config named = MustLoad(backend("url: \"http://backend.internal:8080\""));
  EXPECT_EQ(named.upstreams[0].backends[0].address.text, "backend.internal:8080");
  EXPECT_EQ(named.upstreams[0].backends[0].address.host, "backend.internal");
  EXPECT_EQ(named.upstreams[0].backends[0].address.len, 0u);
  EXPECT_EQ(ErrorOf(backend("{weight: 2}")),
            "test.yaml:6:9: server #1 of upstream 'web' has no 'address' key; add address: "
            "\"127.0.0.1:3001\" (or url: \"http://127.0.0.1:3001\")");
  EXPECT_THAT(ErrorOf(backend("url: 3001")),
              StartsWith("test.yaml:6:14: 'url' in server #1 of upstream 'web' is '3001', which "
                         "has no scheme"));
}

TEST(UpstreamPolicyErrors, UrlAndAddressOfOneBackendAreDuplicates) {
  EXPECT_EQ(ErrorOf(R"yaml(global: {port: 80}
servers: [{server_name: acme.com, upstream: web}]
upstreams:
  - name: web
    servers:
      - "127.0.0.1:3001"
      - url: "http://127.0.0.1:3001/"
)yaml"),
            "test.yaml:7:14: backend 127.0.0.1:3001 appears twice in upstream 'web'; list it once "
            "and give it a weight to send it more requests");
}

}  // namespace
}  // namespace ringway::config
