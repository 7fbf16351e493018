// PrintYaml: every section of the native schema printed and loaded back to the same
// configuration, printing again to the same text; quoting; the header and origin comments;
// upstreams made by ExpandTags left out; the repository's own files round-tripped.
#include "config/print.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "config/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/config/load_util.h"

namespace ringway::config {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

using testutil::MustLoad;

// The text without its comment lines (the header and the origin notes).
std::string WithoutComments(std::string_view text) {
  std::istringstream in{std::string(text)};
  std::string out;
  for (std::string line; std::getline(in, line);) {
    size_t first = line.find_first_not_of(' ');
    if (first != std::string::npos && line[first] == '#') continue;
    out += line;
    out += '\n';
  }
  return out;
}

std::vector<std::string> Lines(std::string_view text) {
  std::istringstream in{std::string(text)};
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// The first line after `comment` (and after any comment lines that follow it), or "".
std::string LineAfter(std::string_view text, std::string_view comment) {
  std::vector<std::string> lines = Lines(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i] != comment) continue;
    for (size_t j = i + 1; j < lines.size(); ++j) {
      if (lines[j].find_first_not_of(' ') != std::string::npos &&
          lines[j][lines[j].find_first_not_of(' ')] == '#') {
        continue;
      }
      return lines[j];
    }
  }
  return "";
}

void ExpectSameAddress(const SocketAddress& a, const SocketAddress& b, std::string_view what) {
  EXPECT_EQ(a.text, b.text) << what;
  EXPECT_EQ(a.host, b.host) << what;
  EXPECT_EQ(a.len, b.len) << what;
}

void ExpectSameHealth(const HealthCheck& a, const HealthCheck& b, std::string_view what) {
  SCOPED_TRACE(what);
  EXPECT_EQ(a.enabled, b.enabled);
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.method, b.method);
  EXPECT_EQ(a.path, b.path);
  EXPECT_EQ(a.host, b.host);
  EXPECT_EQ(a.service, b.service);
  EXPECT_EQ(a.expect_min, b.expect_min);
  EXPECT_EQ(a.expect_max, b.expect_max);
  EXPECT_EQ(a.interval_ms, b.interval_ms);
  EXPECT_EQ(a.timeout_ms, b.timeout_ms);
  EXPECT_EQ(a.jitter_ms, b.jitter_ms);
  EXPECT_EQ(a.rise, b.rise);
  EXPECT_EQ(a.fall, b.fall);
}

void ExpectSameListenerTls(const ListenerTls& a, const ListenerTls& b) {
  EXPECT_EQ(a.enabled, b.enabled);
  ASSERT_EQ(a.certificates.size(), b.certificates.size());
  for (size_t i = 0; i < a.certificates.size(); ++i) {
    EXPECT_EQ(a.certificates[i].cert, b.certificates[i].cert);
    EXPECT_EQ(a.certificates[i].key, b.certificates[i].key);
    EXPECT_EQ(a.certificates[i].server_names, b.certificates[i].server_names);
  }
  EXPECT_EQ(a.ca, b.ca);
  EXPECT_EQ(a.client_cert_optional, b.client_cert_optional);
  EXPECT_EQ(a.min_version, b.min_version);
  EXPECT_EQ(a.ciphers, b.ciphers);
  EXPECT_EQ(a.alpn, b.alpn);
  EXPECT_EQ(a.alpn_given, b.alpn_given);
  EXPECT_EQ(a.self_signed, b.self_signed);
  EXPECT_EQ(a.session_tickets, b.session_tickets);
  EXPECT_EQ(a.ticket_rotation_ms, b.ticket_rotation_ms);
}

// Every field the loader sets, except positions ("at") and where the text came from.
void ExpectSameConfig(const Config& a, const Config& b) {
  EXPECT_EQ(a.workers, b.workers);
  EXPECT_EQ(a.metrics, b.metrics);
  EXPECT_EQ(a.watch_config, b.watch_config);
  EXPECT_EQ(a.state_file, b.state_file);

  const Timeouts &ta = a.timeouts, &tb = b.timeouts;
  EXPECT_EQ(ta.client_header_ms, tb.client_header_ms);
  EXPECT_EQ(ta.client_body_ms, tb.client_body_ms);
  EXPECT_EQ(ta.client_send_ms, tb.client_send_ms);
  EXPECT_EQ(ta.keepalive_ms, tb.keepalive_ms);
  EXPECT_EQ(ta.upstream_connect_ms, tb.upstream_connect_ms);
  EXPECT_EQ(ta.upstream_response_ms, tb.upstream_response_ms);
  EXPECT_EQ(ta.shutdown_ms, tb.shutdown_ms);
  EXPECT_EQ(ta.tunnel_ms, tb.tunnel_ms);

  EXPECT_EQ(a.limits.max_request_line, b.limits.max_request_line);
  EXPECT_EQ(a.limits.max_header_size, b.limits.max_header_size);
  EXPECT_EQ(a.limits.max_headers, b.limits.max_headers);
  EXPECT_EQ(a.limits.max_body_size, b.limits.max_body_size);
  EXPECT_EQ(a.limits.max_connections, b.limits.max_connections);

  EXPECT_EQ(a.buffers.size, b.buffers.size);
  EXPECT_EQ(a.buffers.count, b.buffers.count);
  EXPECT_EQ(a.buffers.splice, b.buffers.splice);
  EXPECT_EQ(a.buffers.splice_h2, b.buffers.splice_h2);

  EXPECT_EQ(a.http2.max_concurrent_streams, b.http2.max_concurrent_streams);
  EXPECT_EQ(a.http2.initial_window, b.http2.initial_window);
  EXPECT_EQ(a.http2.connection_window, b.http2.connection_window);
  EXPECT_EQ(a.http2.max_frame_size, b.http2.max_frame_size);
  EXPECT_EQ(a.http2.max_rapid_resets, b.http2.max_rapid_resets);
  EXPECT_EQ(a.http2.glitch_budget, b.http2.glitch_budget);

  EXPECT_EQ(a.logging.level, b.logging.level);
  EXPECT_EQ(a.logging.format, b.logging.format);
  EXPECT_EQ(a.logging.access_log, b.logging.access_log);
  EXPECT_EQ(a.logging.access_log_path, b.logging.access_log_path);

  EXPECT_EQ(a.admin.enabled, b.admin.enabled);
  ExpectSameAddress(a.admin.bind, b.admin.bind, "admin.bind");
  EXPECT_EQ(a.admin.token, b.admin.token);
  ExpectSameAddress(a.admin.metrics_bind, b.admin.metrics_bind, "admin.metrics_bind");

  ExpectSameHealth(a.default_health, b.default_health, "global.health_check");

  ASSERT_EQ(a.listeners.size(), b.listeners.size());
  for (size_t i = 0; i < a.listeners.size(); ++i) {
    const Listener &la = a.listeners[i], &lb = b.listeners[i];
    SCOPED_TRACE("listener " + la.name);
    EXPECT_EQ(la.name, lb.name);
    ExpectSameAddress(la.bind, lb.bind, "bind");
    EXPECT_EQ(la.http2, lb.http2);
    EXPECT_EQ(la.h2c, lb.h2c);
    EXPECT_EQ(la.servers, lb.servers);
    EXPECT_EQ(la.underscores_in_headers, lb.underscores_in_headers);
    ExpectSameListenerTls(la.tls, lb.tls);
  }

  ASSERT_EQ(a.servers.size(), b.servers.size());
  for (size_t i = 0; i < a.servers.size(); ++i) {
    const Server &sa = a.servers[i], &sb = b.servers[i];
    SCOPED_TRACE("server " + sa.name);
    EXPECT_EQ(sa.name, sb.name);
    EXPECT_EQ(sa.server_names, sb.server_names);
    EXPECT_EQ(sa.upstream, sb.upstream);
    EXPECT_EQ(sa.backends_tag, sb.backends_tag);
    EXPECT_EQ(sa.tls, sb.tls);
    EXPECT_EQ(sa.default_server, sb.default_server);
    EXPECT_EQ(sa.redirect_https, sb.redirect_https);
    EXPECT_EQ(sa.hsts, sb.hsts);
    ASSERT_EQ(sa.routes.size(), sb.routes.size());
    for (size_t r = 0; r < sa.routes.size(); ++r) {
      EXPECT_EQ(sa.routes[r].path_prefix, sb.routes[r].path_prefix);
      EXPECT_EQ(sa.routes[r].upstream, sb.routes[r].upstream);
      EXPECT_EQ(sa.routes[r].tries, sb.routes[r].tries);
      EXPECT_EQ(sa.routes[r].backends_tag, sb.routes[r].backends_tag);
    }
  }

  ASSERT_EQ(a.upstreams.size(), b.upstreams.size());
  for (size_t i = 0; i < a.upstreams.size(); ++i) {
    const Upstream &ua = a.upstreams[i], &ub = b.upstreams[i];
    SCOPED_TRACE("upstream " + ua.name);
    EXPECT_EQ(ua.name, ub.name);
    EXPECT_EQ(ua.derived, ub.derived);
    ASSERT_EQ(ua.backends.size(), ub.backends.size());
    for (size_t k = 0; k < ua.backends.size(); ++k) {
      const Backend &ba = ua.backends[k], &bb = ub.backends[k];
      ExpectSameAddress(ba.address, bb.address, "backend address");
      EXPECT_EQ(ba.weight, bb.weight);
      EXPECT_EQ(ba.health_check_path, bb.health_check_path);
      EXPECT_EQ(ba.id, bb.id);
      EXPECT_EQ(ba.tags, bb.tags);
      EXPECT_EQ(ba.state, bb.state);
    }
    EXPECT_EQ(ua.tls.enabled, ub.tls.enabled);
    EXPECT_EQ(ua.tls.verify, ub.tls.verify);
    EXPECT_EQ(ua.tls.ca, ub.tls.ca);
    EXPECT_EQ(ua.tls.server_name, ub.tls.server_name);
    EXPECT_EQ(ua.protocol, ub.protocol);
    EXPECT_EQ(ua.ping_interval_ms, ub.ping_interval_ms);
    EXPECT_EQ(ua.ping_timeout_ms, ub.ping_timeout_ms);
    EXPECT_EQ(ua.keepalive, ub.keepalive);
    EXPECT_EQ(ua.algorithm, ub.algorithm);
    EXPECT_EQ(ua.hash_key.source, ub.hash_key.source);
    EXPECT_EQ(ua.hash_key.name, ub.hash_key.name);
    EXPECT_EQ(ua.sticky.enabled, ub.sticky.enabled);
    EXPECT_EQ(ua.sticky.cookie, ub.sticky.cookie);
    EXPECT_EQ(ua.sticky.ttl_s, ub.sticky.ttl_s);
    EXPECT_EQ(ua.slow_start_ms, ub.slow_start_ms);
    ExpectSameHealth(ua.health, ub.health, "health_check");
    EXPECT_EQ(ua.passive.consecutive_failures, ub.passive.consecutive_failures);
    EXPECT_EQ(ua.passive.on_connect_failure, ub.passive.on_connect_failure);
    EXPECT_EQ(ua.passive.on_reset, ub.passive.on_reset);
    EXPECT_EQ(ua.passive.statuses, ub.passive.statuses);
    EXPECT_EQ(ua.passive.base_ejection_ms, ub.passive.base_ejection_ms);
    EXPECT_EQ(ua.passive.max_ejection_ms, ub.passive.max_ejection_ms);
    EXPECT_EQ(ua.retry.tries, ub.retry.tries);
    EXPECT_EQ(ua.retry.budget_percent, ub.retry.budget_percent);
    EXPECT_EQ(ua.retry.min_retries, ub.retry.min_retries);
  }
}

// Loads `yaml`, prints it, loads the print and prints that: the second load must equal the
// first and the second print the first (comments aside). Returns the first print.
std::string RoundTrip(std::string_view yaml, std::string_view name = testutil::kFile) {
  absl::StatusOr<Config> original = LoadString(yaml, name);
  EXPECT_TRUE(original.ok()) << original.status() << "\n" << yaml;
  if (!original.ok()) return "";
  std::string printed = PrintYaml(*original);
  absl::StatusOr<Config> reloaded = LoadString(printed, "printed.yaml");
  EXPECT_TRUE(reloaded.ok()) << reloaded.status() << "\n" << printed;
  if (!reloaded.ok()) return printed;
  {
    SCOPED_TRACE(printed);
    ExpectSameConfig(*original, *reloaded);
  }
  std::string again = PrintYaml(*reloaded);
  EXPECT_EQ(WithoutComments(printed), WithoutComments(again));
  return printed;
}

// A valid servers/upstreams tail for cases that vary other sections.
constexpr std::string_view kTail = R"yaml(servers:
  - server_name: acme.com
    upstream: web
upstreams:
  - name: web
    servers: ["127.0.0.1:3001"]
)yaml";

std::string WithTail(std::string_view head) { return std::string(head) + std::string(kTail); }

// A path in the source tree: under $RINGWAY_SRC when set, else next to this file's tree.
std::string RepoPath(std::string_view relative) {
  std::string root;
  if (const char* src = std::getenv("RINGWAY_SRC"); src != nullptr && *src != '\0') {
    root = src;
  } else {
    std::string source = __FILE__;  // .../tests/config/print_test.cc
    root = source.substr(0, source.rfind("/tests/"));
  }
  return root + "/" + std::string(relative);
}

std::string ReadRepoFile(std::string_view relative) {
  std::string path = RepoPath(relative);
  FILE* f = std::fopen(path.c_str(), "rb");
  EXPECT_NE(f, nullptr) << path;
  if (f == nullptr) return "";
  std::string text;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof(buf), f)) > 0;) text.append(buf, n);
  std::fclose(f);
  return text;
}

// ---------------------------------------------------------------------------------------------
// The shape of the text

TEST(PrintYaml, SmallestFileIsPrintedWithOnlyWhatNamesThings) {
  Config cfg = MustLoad(WithTail("global: {port: 8080}\n"));
  EXPECT_EQ(PrintYaml(cfg), R"yaml(# ringway configuration, native schema
# from test.yaml
listeners:
  - name: default
    bind: "0.0.0.0:8080"

servers:
  - name: acme.com
    server_name: [acme.com]
    upstream: web

upstreams:
  - name: web
    servers:
      - "127.0.0.1:3001"
)yaml");
}

TEST(PrintYaml, DefaultsWrittenOutPrintAsNothing) {
  std::string spelled = RoundTrip(R"yaml(global:
  port: 8080
  workers: auto
  underscores_in_headers: false
  log: {level: info, format: text, access_log: true}
  timeouts: {client_header: 10s, client_body: 60s, client_send: 1m, keepalive: 75s,
             upstream_connect: 5000ms, upstream_response: 60, shutdown: 30s, tunnel: 60m}
  limits: {max_request_line: 8k, max_header_size: 64k, max_headers: 100, max_body_size: 0}
  buffers: {size: 16k, count: 1024}
  http2: {max_concurrent_streams: 100, initial_window: 65535, connection_window: 1m,
          max_frame_size: 16k, max_rapid_resets: 200, glitch_budget: 1000}
  admin: {bind: "127.0.0.1:9901"}
  metrics: true
  watch_config: false
  health_check: {enabled: true, type: tcp, interval: 2s, timeout: 1s, jitter: 200ms, rise: 2,
                 fall: 3}
servers:
  - server_name: acme.com
    upstream: web
    default: false
    tls: false
    redirect_https: false
upstreams:
  - name: web
    servers: [{address: "127.0.0.1:3001", weight: 1, id: "web-127.0.0.1:3001", state: ready}]
    keepalive: 64
    algorithm: round_robin
    sticky: false
    slow_start: 0
    tls: false
    protocol: http1
    health_check: {method: GET, expect: 200-399}
    passive_health: {consecutive_failures: 5, on: [connect_failure, reset, 502, 503, 504],
                     base_ejection: 10s, max_ejection: 5m}
    retry: {tries: 3, budget: 20%, min_retries: 3}
)yaml");
  Config minimal = MustLoad(WithTail("global: {port: 8080}\n"));
  EXPECT_EQ(WithoutComments(spelled), WithoutComments(PrintYaml(minimal)));
}

TEST(PrintYaml, HeaderNamesTheSourceAndTheSchema) {
  Config cfg = MustLoad(WithTail("global: {port: 8080}\n"));
  cfg.source = "/etc/ringway/ringway.yaml";
  EXPECT_THAT(PrintYaml(cfg), StartsWith("# ringway configuration, native schema\n"
                                         "# from /etc/ringway/ringway.yaml\n"
                                         "listeners:\n"));
  cfg.shape = Shape::kVhosts;
  cfg.source = "/etc/ringway/ringway.toml";
  EXPECT_THAT(PrintYaml(cfg), StartsWith("# ringway configuration, native schema\n"
                                         "# converted from /etc/ringway/ringway.toml\n"
                                         "listeners:\n"));
  cfg.source.clear();
  EXPECT_THAT(PrintYaml(cfg), StartsWith("# ringway configuration, native schema\n"
                                         "listeners:\n"));
}

TEST(PrintYaml, IndentsTwoSpacesWithListsOfMappingsAsDashes) {
  std::string printed = RoundTrip(R"yaml(global:
  port: 8080
  log: {level: debug}
servers:
  - server_name: acme.com
    upstream: web
    routes: [{path: /api/, upstream: web, tries: 2}]
upstreams:
  - name: web
    servers: [{address: "127.0.0.1:3001", weight: 2, tags: [a, b]}]
)yaml");
  EXPECT_THAT(printed, HasSubstr("global:\n  log:\n    level: debug\n"));
  EXPECT_THAT(printed, HasSubstr("    routes:\n      - path: /api/\n        upstream: web\n"
                                 "        tries: 2\n"));
  EXPECT_THAT(printed, HasSubstr("    servers:\n      - address: \"127.0.0.1:3001\"\n"
                                 "        weight: 2\n        tags: [a, b]\n"));
}

// ---------------------------------------------------------------------------------------------
// Every section round-trips

TEST(PrintYamlRoundTrip, GlobalSettings) {
  std::string printed = RoundTrip(R"yaml(global:
  port: 8080
  workers: 4
  underscores_in_headers: true
  log: {level: debug, format: json, access_log: /var/log/ringway/access.log}
  timeouts: {client_header: 5s, client_body: 30s, client_send: 45s, keepalive: 2m,
             upstream_connect: 1500ms, upstream_response: 90s, shutdown: 10s, tunnel: 2h}
  limits: {max_request_line: 4k, max_header_size: 32k, max_headers: 50, max_body_size: 10m,
           max_connections: 5000}
  buffers: {size: 32k, count: 2048, splice: 128k, splice_h2: true}
  http2: {max_concurrent_streams: 250, initial_window: 128k, connection_window: 4m,
          max_frame_size: 32k, max_rapid_resets: 50, glitch_budget: 500}
  admin: {bind: "0.0.0.0:9902", token: "0123456789abcdef0123"}
  metrics: false
  watch_config: true
  state_file: /var/lib/ringway/state.json
  health_check: {path: /healthz, method: HEAD, host: acme.com, expect: 200-299, interval: 5s,
                 timeout: 2s, jitter: 0, rise: 3, fall: 4}
)yaml" + std::string(kTail));
  EXPECT_THAT(printed, HasSubstr("  workers: 4\n"));
  EXPECT_THAT(printed, HasSubstr("  timeouts:\n    client_header: 5s\n"));
  EXPECT_THAT(printed, HasSubstr("    upstream_connect: 1500ms\n"));
  EXPECT_THAT(printed, HasSubstr("    max_body_size: 10m\n"));
  EXPECT_THAT(printed, HasSubstr("  admin:\n    bind: \"0.0.0.0:9902\"\n"
                                 "    token: \"0123456789abcdef0123\"\n"));
  EXPECT_THAT(printed, HasSubstr("    expect: \"200-299\"\n"));
  EXPECT_THAT(printed, HasSubstr("    jitter: 0\n"));
  EXPECT_THAT(printed, HasSubstr("    underscores_in_headers: true\n"));
  // The upstream inherits global.health_check and has nothing of its own to print.
  EXPECT_THAT(printed.substr(printed.find("upstreams:")), Not(HasSubstr("health_check")));
}

TEST(PrintYamlRoundTrip, LogAndAdminOff) {
  std::string printed = RoundTrip(WithTail(R"yaml(global:
  port: 8080
  log: {level: warn, access_log: false}
  admin: off
)yaml"));
  EXPECT_THAT(printed, HasSubstr("    access_log: false\n"));
  EXPECT_THAT(printed, HasSubstr("  admin: off\n"));
  RoundTrip(WithTail(R"yaml(global:
  port: 8080
  log: {level: error, format: text, access_log: true}
  admin: {token: "aaaaaaaaaaaaaaaaaaaaaaaa"}
)yaml"));
}

TEST(PrintYamlRoundTrip, GlobalTlsBecomesTheDefaultListenersTls) {
  std::string printed = RoundTrip(WithTail(R"yaml(global:
  port: 443
  tls:
    cert: /etc/ringway/acme.pem
    key: /etc/ringway/acme.key
    ca: /etc/ringway/clients.pem
    client_certificate: optional
    min_version: "1.3"
    ciphers: "TLS13-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256"
    alpn: ["http/1.1"]
    session_tickets: false
    ticket_rotation: 30m
)yaml"));
  EXPECT_THAT(printed, HasSubstr(R"yaml(  - name: default
    bind: "0.0.0.0:443"
    tls:
      cert: /etc/ringway/acme.pem
      key: /etc/ringway/acme.key
      ca: /etc/ringway/clients.pem
      client_certificate: optional
      min_version: "1.3"
      ciphers: "TLS13-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256"
      alpn: [http/1.1]
      session_tickets: false
      ticket_rotation: 30m
)yaml"));
  EXPECT_THAT(printed, Not(HasSubstr("port:")));
}

TEST(PrintYamlRoundTrip, ListenersWithTlsAndCertificates) {
  std::string printed = RoundTrip(R"yaml(listeners:
  - name: public
    bind: "0.0.0.0:443"
    servers: [web, api]
    tls:
      cert: /etc/ringway/web.pem
      key: /etc/ringway/web.key
      certificates:
        - {cert: /etc/ringway/api.pem, key: /etc/ringway/api.key,
           server_names: ["API.acme.com", "*.api.acme.com"]}
        - {cert: /etc/ringway/rsa.pem, key: /etc/ringway/rsa.key}
  - name: sni_only
    bind: "[::]:8443"
    http2: false
    tls:
      certificates:
        - {cert: /a.pem, key: /a.key, server_names: [a.acme.com]}
        - {cert: /b.pem, key: /b.key}
  - name: plain
    bind: "127.0.0.1:8080"
    h2c: false
    underscores_in_headers: true
    servers: [api]
  - name: h2_only
    bind: "127.0.0.1:8444"
    tls: {cert: /c.pem, key: /c.key, alpn: [h2]}
servers:
  - {name: web, server_name: [acme.com, "*.acme.com"], upstream: web}
  - {name: api, server_name: api.acme.com, upstream: web}
upstreams:
  - name: web
    servers: ["127.0.0.1:3001"]
)yaml");
  EXPECT_THAT(printed, HasSubstr("    servers: [web, api]\n"));
  EXPECT_THAT(printed, HasSubstr("      certificates:\n        - cert: /etc/ringway/api.pem\n"
                                 "          key: /etc/ringway/api.key\n"
                                 "          server_names: [api.acme.com, \"*.api.acme.com\"]\n"));
  // A first certificate with server_names cannot be the inline one.
  EXPECT_THAT(printed, HasSubstr("    tls:\n      certificates:\n        - cert: /a.pem\n"));
  EXPECT_THAT(printed, HasSubstr("    bind: \"[::]:8443\"\n    http2: false\n"));
  EXPECT_THAT(printed, HasSubstr("      alpn: [h2]\n"));
}

TEST(PrintYamlRoundTrip, ServersRoutesRedirectsHstsAndTags) {
  std::string printed = RoundTrip(R"yaml(global: {port: 8080}
servers:
  - name: web
    server_name: ["Acme.com", "www.acme.com"]
    upstream: web
    default: true
    redirect_https: true
    hsts: true
    routes:
      - {path: /api/, upstream: api, tries: 2}
      - {path: /static/, upstream: static, enabled_backends_tag: blue}
  - server_name: shop.acme.com
    upstream: web
    hsts: "max-age=63072000; includeSubDomains; preload"
    enabled_backends_tag: green
  - name: secure
    server_name: [secure.acme.com]
    upstream: secure
    tls: true
    routes:
      - {path: /v2/, upstream: secure2}
  - name: canary
    server_name: [canary.acme.com]
    enabled_backends_tag: canary
upstreams:
  - name: web
    servers: [{address: "10.0.0.1:80", tags: [green]}, {address: "10.0.0.2:80", tags: [blue, canary]}]
  - name: api
    servers: ["10.0.1.1:80"]
  - name: static
    servers: [{address: "10.0.2.1:80", tags: [blue]}]
  - name: secure
    servers: ["10.0.3.1:443"]
  - name: secure2
    servers: ["10.0.3.2:443"]
)yaml");
  EXPECT_THAT(printed, HasSubstr("    server_name: [acme.com, www.acme.com]\n"));
  EXPECT_THAT(printed, HasSubstr("    hsts: \"max-age=31536000\"\n"));
  EXPECT_THAT(printed, HasSubstr("  - name: canary\n    server_name: [canary.acme.com]\n"
                                 "    enabled_backends_tag: canary\n"));
  // A server's tls: true turned TLS on for its upstreams; the print says so on both.
  EXPECT_THAT(printed, HasSubstr("  - name: secure2\n    servers:\n      - \"10.0.3.2:443\"\n"
                                 "    tls: true\n"));
}

TEST(PrintYamlRoundTrip, EveryAlgorithmAndHashKey) {
  std::string printed = RoundTrip(R"yaml(global: {port: 8080}
servers:
  - {server_name: acme.com, upstream: rr}
upstreams:
  - {name: rr, servers: ["10.0.0.1:80"], algorithm: weighted_round_robin}
  - {name: random, servers: ["10.0.0.1:80"], algorithm: random}
  - {name: least, servers: ["10.0.0.1:80"], algorithm: least_conn}
  - {name: ewma, servers: ["10.0.0.1:80"], algorithm: peak_ewma}
  - {name: maglev_ip, servers: ["10.0.0.1:80"], algorithm: maglev, hash_on: client_ip}
  - {name: maglev_header, servers: ["10.0.0.1:80"], algorithm: maglev, hash_on: "header:X-User"}
  - {name: ketama, servers: ["10.0.0.1:80"], algorithm: consistent_hash,
     hash_on: "cookie:session"}
  - {name: ketama2, servers: ["10.0.0.1:80"], algorithm: ketama}
)yaml");
  EXPECT_THAT(printed, HasSubstr("    algorithm: random\n"));
  EXPECT_THAT(printed, HasSubstr("    algorithm: least_request\n"));
  EXPECT_THAT(printed, HasSubstr("    algorithm: p2c_ewma\n"));
  EXPECT_THAT(printed, HasSubstr("    algorithm: maglev\n    hash_on: \"header:X-User\"\n"));
  EXPECT_THAT(printed, HasSubstr("    algorithm: ketama\n    hash_on: \"cookie:session\"\n"));
  EXPECT_THAT(printed, Not(HasSubstr("round_robin")));
  EXPECT_THAT(printed, Not(HasSubstr("client_ip")));
}

TEST(PrintYamlRoundTrip, StickyKeepaliveAndSlowStart) {
  std::string printed = RoundTrip(R"yaml(global: {port: 8080}
servers:
  - {server_name: acme.com, upstream: a}
upstreams:
  - {name: a, servers: ["10.0.0.1:80"], sticky: true, slow_start: 30s, keepalive: 0}
  - {name: b, servers: ["10.0.0.1:80"], sticky: {cookie: web_backend, ttl: 1h},
     algorithm: least_request, slow_start: 1500ms, keepalive: 256}
  - {name: c, servers: ["10.0.0.1:80"], sticky: {cookie: srv}}
  - {name: d, servers: ["10.0.0.1:80"], sticky: {ttl: 90s}}
  - {name: e, servers: ["10.0.0.1:80"], sticky: false}
  - {name: f, servers: ["10.0.0.1:80"], sticky: {}}
)yaml");
  EXPECT_THAT(printed, HasSubstr("    keepalive: 0\n    sticky: true\n    slow_start: 30s\n"));
  EXPECT_THAT(printed, HasSubstr("    sticky:\n      cookie: web_backend\n      ttl: 1h\n"));
  EXPECT_THAT(printed, HasSubstr("    sticky:\n      ttl: 90s\n"));
}

TEST(PrintYamlRoundTrip, PassiveHealthAndRetry) {
  std::string printed = RoundTrip(R"yaml(global: {port: 8080}
servers:
  - {server_name: acme.com, upstream: a}
upstreams:
  - {name: a, servers: ["10.0.0.1:80"], passive_health: {consecutive_failures: 0}}
  - name: b
    servers: ["10.0.0.1:80"]
    passive_health: {consecutive_failures: 3, on: [503, connect_failure, 502],
                     base_ejection: 5s, max_ejection: 2m}
  - {name: c, servers: ["10.0.0.1:80"], passive_health: {on: [reset]}, retry: {tries: 1}}
  - {name: d, servers: ["10.0.0.1:80"], retry: {tries: 5, budget: 0.5, min_retries: 0}}
  - {name: e, servers: ["10.0.0.1:80"], retry: {budget: 0}}
  - name: f
    servers: ["10.0.0.1:80"]
    passive_health: {base_ejection: 30s, max_ejection: 30s}
    retry: {budget: "100%", min_retries: 1000}
)yaml");
  EXPECT_THAT(printed, HasSubstr("    passive_health:\n      consecutive_failures: 3\n"
                                 "      on: [connect_failure, 503, 502]\n"
                                 "      base_ejection: 5s\n      max_ejection: 2m\n"));
  EXPECT_THAT(printed, HasSubstr("      on: [reset]\n"));
  EXPECT_THAT(printed, HasSubstr("    retry:\n      tries: 5\n      budget: 50%\n"
                                 "      min_retries: 0\n"));
  EXPECT_THAT(printed, HasSubstr("      budget: 0%\n"));
}

TEST(PrintYamlRoundTrip, ProtocolsKeepalivePingAndUpstreamTls) {
  std::string printed = RoundTrip(R"yaml(global: {port: 8080}
servers:
  - {server_name: acme.com, upstream: grpc}
upstreams:
  - name: grpc
    protocol: h2c
    servers: ["10.0.0.7:50051", "10.0.0.8:50051"]
    keepalive_ping: {interval: 20s, timeout: 5s}
    health_check: {type: grpc, service: my.package.Greeter, interval: 3s}
  - name: grpc_all
    protocol: h2c
    servers: ["10.0.0.9:50051"]
    health_check: {type: grpc, service: ""}
  - name: secure
    protocol: h2
    tls: {ca: /etc/ringway/backend-ca.pem, server_name: api.internal}
    keepalive_ping: {interval: 1m}
    servers: ["10.0.0.9:443"]
  - name: insecure
    tls: {verify: false}
    protocol: http1
    servers: ["10.0.0.10:443"]
  - {name: plain_tls, tls: true, protocol: "http/1.1", servers: ["10.0.0.11:443"]}
  - {name: h2_grpc, protocol: h2, tls: true, servers: ["10.0.0.12:443"],
     health_check: {type: grpc}}
  - {name: tls_off, tls: false, servers: ["10.0.0.13:80"]}
)yaml");
  EXPECT_THAT(printed, HasSubstr("    protocol: h2c\n    keepalive_ping:\n      interval: 20s\n"
                                 "      timeout: 5s\n    health_check:\n      type: grpc\n"
                                 "      service: my.package.Greeter\n      interval: 3s\n"));
  EXPECT_THAT(printed, HasSubstr("    tls:\n      ca: /etc/ringway/backend-ca.pem\n"
                                 "      server_name: api.internal\n    protocol: h2\n"
                                 "    keepalive_ping:\n      interval: 1m\n"));
  EXPECT_THAT(printed, HasSubstr("    tls:\n      verify: false\n"));
  EXPECT_THAT(printed, HasSubstr("    tls: true\n    protocol: h2\n"));
}

TEST(PrintYamlRoundTrip, BackendsStatesIdsTagsAndWeights) {
  std::string printed = RoundTrip(R"yaml(global: {port: 8080}
servers:
  - {server_name: acme.com, upstream: web}
upstreams:
  - name: web
    servers:
      - "10.0.0.1:3001"
      - {address: "10.0.0.2:3001", weight: 3}
      - {url: "http://10.0.0.3:3001/", health_check_path: /ready}
      - {address: "[fd00::2]:9090", id: v6-backend, tags: [stable, "v2"], state: drain}
      - {address: "localhost:9000", state: maint, weight: 1000}
      - {address: "10.0.0.4:3001", id: "web-10.0.0.4:3001"}
      - {id: "app@v1[blue]", address: "10.0.0.5:3001", tags: ["x:y", "a@b", "[c]"]}
      - "http://10.0.0.6:3001"
  - name: other
    servers: ["10.0.0.1:3001"]
)yaml");
  EXPECT_THAT(printed, HasSubstr(R"yaml(    servers:
      - "10.0.0.1:3001"
      - address: "10.0.0.2:3001"
        weight: 3
      - address: "10.0.0.3:3001"
        health_check_path: /ready
      - address: "[fd00::2]:9090"
        id: v6-backend
        tags: [stable, v2]
        state: drain
      - address: "127.0.0.1:9000"
        weight: 1000
        state: maint
      - "10.0.0.4:3001"
      - address: "10.0.0.5:3001"
        id: "app@v1[blue]"
        tags: ["x:y", "a@b", "[c]"]
      - "10.0.0.6:3001"
)yaml"));
}

TEST(PrintYamlRoundTrip, HealthChecksOverGlobalDefaults) {
  std::string printed = RoundTrip(R"yaml(global:
  port: 8080
  health_check: {path: /healthz, interval_secs: 10, timeout_ms: 2500, healthy_threshold: 4,
                 unhealthy_threshold: 5}
servers:
  - {server_name: acme.com, upstream: inherit}
upstreams:
  - {name: inherit, servers: ["10.0.0.1:80"]}
  - {name: tcp, servers: ["10.0.0.1:80"], health_check: {type: tcp}}
  - name: http_override
    servers: ["10.0.0.1:80"]
    health_check: {path: /status, expect: 204, method: OPTIONS, jitter: 1s}
  - {name: checks_off, servers: ["10.0.0.1:80"], health_check: {enabled: false}}
  - name: per_backend
    servers: [{address: "10.0.0.1:80", health_check_path: /b}, "10.0.0.2:80"]
    health_check: {interval: 20s, fall: 1}
)yaml");
  EXPECT_THAT(printed, HasSubstr("  health_check:\n    path: /healthz\n"
                                 "    interval: 10s\n    timeout: 2500ms\n    rise: 4\n"
                                 "    fall: 5\n"));
  EXPECT_THAT(printed, HasSubstr("  - name: tcp\n    servers:\n      - \"10.0.0.1:80\"\n"
                                 "    health_check:\n      type: tcp\n"));
  EXPECT_THAT(printed, HasSubstr("    health_check:\n      path: /status\n      method: OPTIONS\n"
                                 "      expect: 204\n      jitter: 1s\n"));
  EXPECT_THAT(printed, HasSubstr("    health_check:\n      enabled: false\n"));
}

TEST(PrintYamlRoundTrip, HealthCheckTypesWithoutPaths) {
  std::string printed = RoundTrip(R"yaml(global:
  port: 8080
  health_check: {type: http, interval: 500ms, timeout: 400ms}
servers:
  - {server_name: acme.com, upstream: a}
upstreams:
  - {name: a, servers: ["10.0.0.1:80"], health_check: {host: "example.com:8080", expect: "200-204"}}
  - {name: b, servers: ["10.0.0.1:80"], health_check: {type: tcp, interval: 1s, timeout: 100ms}}
  - {name: c, servers: ["10.0.0.1:80"], health_check: {path: /, type: http}}
)yaml");
  EXPECT_THAT(printed, HasSubstr("      host: \"example.com:8080\"\n      expect: \"200-204\"\n"));
  RoundTrip(WithTail("global:\n  port: 8080\n  health_check: {type: http}\n"));
  RoundTrip(R"yaml(global: {port: 8080}
servers:
  - {server_name: acme.com, upstream: a}
upstreams:
  - {name: a, servers: ["10.0.0.1:80"], health_check: {type: http, method: HEAD}}
  - {name: b, servers: ["10.0.0.1:80"], health_check: {path: /x, timeout: 1500ms, interval: 3s}}
)yaml");
}

// ---------------------------------------------------------------------------------------------
// Quoting

TEST(PrintYaml, ScalarsAreQuotedWhenYamlWouldReadThemOtherwise) {
  EXPECT_EQ(YamlScalar("web"), "web");
  EXPECT_EQ(YamlScalar("/etc/ringway/a.pem"), "/etc/ringway/a.pem");
  EXPECT_EQ(YamlScalar("http/1.1"), "http/1.1");
  EXPECT_EQ(YamlScalar("web_servers-2.b"), "web_servers-2.b");
  for (std::string_view s : {"on",
                             "On",
                             "OFF",
                             "yes",
                             "No",
                             "true",
                             "False",
                             "null",
                             "Null",
                             "~",
                             "y",
                             "N",
                             "123",
                             "1.5",
                             "-1",
                             ".inf",
                             "1e3",
                             "2024-01-01",
                             "",
                             " web",
                             "web ",
                             "a: b",
                             "a #b",
                             "[x]",
                             "{x}",
                             "*x",
                             "&x",
                             "!x",
                             "%x",
                             "@x",
                             "`x`",
                             "'x'",
                             "\"x\"",
                             "- x",
                             "-",
                             "?",
                             "a,b",
                             "|",
                             ">",
                             "*.acme.com",
                             "max-age=1; preload",
                             "10.0.0.1:80"}) {
    std::string q = YamlScalar(s);
    EXPECT_TRUE(q.size() >= 2 && q.front() == '"' && q.back() == '"') << s << " -> " << q;
  }
  EXPECT_EQ(YamlScalar("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(YamlScalar("tab\there\nnew\x01"), R"("tab\there\nnew\x01")");
}

TEST(PrintYamlRoundTrip, AwkwardNamesAndValuesReadBackTheSame) {
  std::string printed = RoundTrip(R"yaml(global:
  port: 8080
  log: {access_log: "true"}
  admin: {token: "quote\"back\\slash#: [x] {y}"}
  state_file: " /var/lib/ringway/state file.json "
servers:
  - name: "on"
    server_name: ["on", "yes.example", "123.example"]
    upstream: "123"
    hsts: "max-age=1; includeSubDomains"
  - name: "~"
    server_name: ["null"]
    upstream: "- dash"
  - name: "a: b #c"
    server_name: [x.example]
    upstream: "[list]"
    routes: [{path: "/a #b: c", upstream: "{map}"}]
upstreams:
  - {name: "123", servers: ["10.0.0.1:80"]}
  - name: "- dash"
    servers: ["10.0.0.1:80"]
    algorithm: ketama
    hash_on: "cookie:a#b"
  - name: "[list]"
    servers: ["10.0.0.1:80"]
    health_check: {host: "h.example", method: M-SEARCH, path: "/health?x=\"1\"&y='2'#z"}
  - {name: "{map}", servers: ["10.0.0.1:80"]}
  - {name: "tab\there é", servers: ["10.0.0.1:80"]}
  - {name: "yes", servers: ["10.0.0.1:80"]}
)yaml");
  EXPECT_THAT(printed, HasSubstr("    access_log: \"true\"\n"));
  EXPECT_THAT(printed, HasSubstr("    token: \"quote\\\"back\\\\slash#: [x] {y}\"\n"));
  EXPECT_THAT(printed, HasSubstr("  - name: \"on\"\n    server_name: [\"on\", yes.example, "
                                 "\"123.example\"]\n    upstream: \"123\"\n"));
  EXPECT_THAT(printed, HasSubstr("  - name: \"tab\\there é\"\n"));
}

// ---------------------------------------------------------------------------------------------
// Parts the loader does not read yet, and upstreams made later

TEST(PrintYamlRoundTrip, SelfSignedListenerAndMetricsBind) {
  std::string printed = RoundTrip(WithTail(R"yaml(global:
  admin: {bind: "127.0.0.1:9901", metrics_bind: "0.0.0.0:9100"}
listeners:
  - {name: https, bind: "0.0.0.0:8443", tls: {self_signed: true, min_version: "1.3"}}
  - {name: http, bind: "0.0.0.0:8080"}
)yaml"));
  EXPECT_THAT(printed, HasSubstr("  - name: https\n    bind: \"0.0.0.0:8443\"\n    tls:\n"
                                 "      self_signed: true\n      min_version: \"1.3\"\n"));
  EXPECT_THAT(printed, HasSubstr("global:\n  admin:\n    metrics_bind: \"0.0.0.0:9100\"\n"));
}

TEST(PrintYaml, SelfSignedWithoutEnabledStillPrintsTheBlock) {
  Config cfg = MustLoad(WithTail("listeners:\n  - {name: https, bind: \"0.0.0.0:8443\"}\n"));
  cfg.listeners[0].tls.self_signed = true;
  EXPECT_THAT(PrintYaml(cfg), HasSubstr("    tls:\n      self_signed: true\n"));
}

TEST(PrintYamlRoundTrip, HostNameBackendsKeepTheirNames) {
  std::string printed = RoundTrip(R"yaml(global: {port: 8080}
servers:
  - {server_name: acme.com, upstream: web}
upstreams:
  - name: web
    servers:
      - "backend.internal:8080"
      - {address: "api.example.com:443", weight: 2}
      - {url: "http://legacy.example.com:8000/", id: legacy}
)yaml");
  EXPECT_THAT(printed, HasSubstr(R"yaml(    servers:
      - "backend.internal:8080"
      - address: "api.example.com:443"
        weight: 2
      - address: "legacy.example.com:8000"
        id: legacy
)yaml"));
}

TEST(PrintYaml, UpstreamsMadeByExpandTagsAreLeftOut) {
  Config cfg = MustLoad(R"yaml(global: {port: 8080}
servers:
  - name: web
    server_name: [acme.com]
    upstream: web
    enabled_backends_tag: stable
    tls: true
    routes: [{path: /api/, upstream: api}, {path: /b/, upstream: api, enabled_backends_tag: b}]
  - name: all_canaries
    server_name: [canary.acme.com]
    enabled_backends_tag: canary
upstreams:
  - name: web
    servers: [{address: "10.0.0.1:80", tags: [stable]}, {address: "10.0.0.2:80", tags: [canary]}]
  - name: api
    servers: [{address: "10.0.1.1:80", tags: [stable, b]}]
)yaml");
  std::string before = PrintYaml(cfg);
  Config expanded = cfg;
  ExpandTags(&expanded);
  ASSERT_GT(expanded.upstreams.size(), cfg.upstreams.size());
  std::string after = PrintYaml(expanded);
  EXPECT_EQ(before, after);
  EXPECT_THAT(after, Not(HasSubstr("#stable")));
  EXPECT_THAT(after, Not(HasSubstr("tag:canary")));
}

// ---------------------------------------------------------------------------------------------
// Origins

TEST(PrintYaml, OriginsAreCommentsAboveTheirKeys) {
  Config cfg = MustLoad(R"yaml(global:
  port: 8080
  log: {level: debug}
  health_check: {interval: 5s}
servers:
  - {server_name: acme.com, upstream: web}
upstreams:
  - name: web
    servers: ["127.0.0.1:3001", {address: "127.0.0.1:3002", weight: 2}]
    health_check: {path: /health}
)yaml");
  cfg.source = "seed.yaml";
  cfg.shape = Shape::kServer;
  cfg.origins = {
      {"listeners[0]", "seed.yaml:2:1: server: {host, port}"},
      {"upstreams[0]", "seed.yaml:5:1: backends"},
      {"upstreams[0]", "seed.yaml:20:1: load_balancing"},
      {"upstreams[0].servers[1]", "seed.yaml:7:5: a backend with a weight"},
      {"upstreams[0].servers[0]", "seed.yaml:6:5: a backend"},
      {"upstreams[0].health_check", "seed.yaml:9:1: health_checks"},
      {"servers[0]", "seed.yaml:3:1: server_name\nand its routes"},
      {"global.log", "seed.yaml:12:1: logging"},
      {"global.health_check", "seed.yaml:9:1: health_checks (defaults)"},
      {"global.timeouts", "seed.yaml:14:1: timeouts"},
      {"global.admin", "seed.yaml:16:1: admin"},
  };
  std::string printed = PrintYaml(cfg);
  EXPECT_THAT(printed, StartsWith("# ringway configuration, native schema\n"
                                  "# converted from seed.yaml\n"
                                  "# from seed.yaml:14:1: timeouts (global.timeouts: the "
                                  "defaults)\n"
                                  "# from seed.yaml:16:1: admin (global.admin: the defaults)\n"
                                  "global:\n"
                                  "  # from seed.yaml:12:1: logging\n"
                                  "  log:\n"));
  EXPECT_EQ(LineAfter(printed, "  # from seed.yaml:2:1: server: {host, port}"),
            "  - name: default");
  EXPECT_EQ(LineAfter(printed, "  # from seed.yaml:9:1: health_checks (defaults)"),
            "  health_check:");
  // Two notes for one path: two lines, in order.
  EXPECT_THAT(printed, HasSubstr("  # from seed.yaml:5:1: backends\n"
                                 "  # from seed.yaml:20:1: load_balancing\n"
                                 "  - name: web\n"));
  EXPECT_EQ(LineAfter(printed, "      # from seed.yaml:6:5: a backend"),
            "      - \"127.0.0.1:3001\"");
  EXPECT_EQ(LineAfter(printed, "      # from seed.yaml:7:5: a backend with a weight"),
            "      - address: \"127.0.0.1:3002\"");
  EXPECT_EQ(LineAfter(printed, "    # from seed.yaml:9:1: health_checks"), "    health_check:");
  EXPECT_THAT(printed, HasSubstr("  # from seed.yaml:3:1: server_name\n  #   and its routes\n"
                                 "  - name: acme.com\n"));

  // Comments change nothing: the text loads back to the same configuration.
  absl::StatusOr<Config> reloaded = LoadString(printed, "printed.yaml");
  ASSERT_TRUE(reloaded.ok()) << reloaded.status() << "\n" << printed;
  ExpectSameConfig(cfg, *reloaded);
  EXPECT_EQ(WithoutComments(PrintYaml(*reloaded)), WithoutComments(printed));
}

// ---------------------------------------------------------------------------------------------
// The repository's own files

TEST(PrintYamlRoundTrip, DemoConfiguration) {
  std::string text = ReadRepoFile("config/ringway.yaml");
  ASSERT_FALSE(text.empty());
  std::string printed = RoundTrip(text, "config/ringway.yaml");
  EXPECT_THAT(printed, HasSubstr("# from config/ringway.yaml\n"));
  EXPECT_THAT(printed, HasSubstr("      - address: \"127.0.0.1:3001\"\n        id: web1\n"
                                 "        tags: [a]\n"));
}

TEST(PrintYamlRoundTrip, ReferenceExamples) {
  std::string text = ReadRepoFile("docs/configuration.md");
  ASSERT_FALSE(text.empty());
  int examples = 0;
  for (size_t at = text.find("```yaml\n"); at != std::string::npos;
       at = text.find("```yaml\n", at)) {
    size_t begin = at + 8;
    size_t end = text.find("```", begin);
    ASSERT_NE(end, std::string::npos);
    SCOPED_TRACE(examples);
    RoundTrip(text.substr(begin, end - begin), "docs/configuration.md");
    ++examples;
    at = end + 3;
  }
  EXPECT_GE(examples, 10);
}

// Files in the other schemas (tests/seeds) print as native YAML that loads to the same
// configuration, with the header saying what was converted.
TEST(PrintYamlRoundTrip, ConvertedSeedFiles) {
  std::string dir = RepoPath("tests/seeds");
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) GTEST_SKIP() << "no " << dir;
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::string ext = entry.path().extension().string();
    if (ext == ".yaml" || ext == ".toml") files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  for (const std::string& file : files) {
    SCOPED_TRACE(file);
    absl::StatusOr<Config> original = LoadFile(file);
    ASSERT_TRUE(original.ok()) << original.status();
    std::string printed = PrintYaml(*original);
    if (original->shape != Shape::kNative) {
      EXPECT_THAT(printed, HasSubstr("\n# converted from " + file + "\n"));
    }
    absl::StatusOr<Config> reloaded = LoadString(printed, "printed.yaml");
    ASSERT_TRUE(reloaded.ok()) << reloaded.status() << "\n" << printed;
    EXPECT_EQ(reloaded->shape, Shape::kNative);
    ExpectSameConfig(*original, *reloaded);
    EXPECT_EQ(WithoutComments(PrintYaml(*reloaded)), WithoutComments(printed));
  }
}

}  // namespace
}  // namespace ringway::config
