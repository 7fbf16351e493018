#include "config/config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_format.h"
#include "config/units.h"
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

// A valid servers/upstreams tail for tests that only vary the global section.
constexpr std::string_view kTail = R"yaml(servers:
  - server_name: acme.com
    upstream: web
upstreams:
  - name: web
    servers: ["127.0.0.1:3001"]
)yaml";

std::string WithTail(std::string_view head) { return std::string(head) + std::string(kTail); }

// The product's original schema, exactly as ARCHITECTURE.md shows it.
constexpr std::string_view kOriginal = R"yaml(global:
  port: 8080
  tls:                 # optional: TLS termination on the port
    cert: /path/to/cert.pem
    key: /path/to/key.pem
    ca: /path/to/ca.pem  # optional: client certificate verification
servers:
  - server_name: ["acme.com", "www.acme.com"]
    upstream: web_servers
    tls: false           # optional: talk TLS to this server's upstream
  - server_name: ["api.acme.com"]
    upstream: api_servers
upstreams:
  - name: web_servers
    servers: ["127.0.0.1:3001", "127.0.0.1:3002"]
  - name: api_servers
    servers: ["127.0.0.1:9090", "127.0.0.1:9091"]
)yaml";

uint16_t PortOf(const SocketAddress& a) {
  if (a.storage.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&a.storage)->sin6_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in*>(&a.storage)->sin_port);
}

std::string IpOf(const SocketAddress& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (a.storage.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&a.storage)->sin6_addr, buf,
              sizeof(buf));
  } else {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&a.storage)->sin_addr, buf,
              sizeof(buf));
  }
  return buf;
}

// ---------------------------------------------------------------------------------------------
// Schemas that load

TEST(ConfigLoad, OriginalSchemaLoadsUnchanged) {
  Config cfg = MustLoad(kOriginal);
  EXPECT_EQ(cfg.source, "test.yaml");
  EXPECT_EQ(cfg.workers, 0u);

  ASSERT_EQ(cfg.listeners.size(), 1u);
  EXPECT_EQ(cfg.listeners[0].name, "default");
  EXPECT_EQ(cfg.listeners[0].bind.text, "0.0.0.0:8080");
  EXPECT_EQ(cfg.listeners[0].bind.storage.ss_family, AF_INET);
  EXPECT_EQ(cfg.listeners[0].bind.len, sizeof(sockaddr_in));
  EXPECT_EQ(PortOf(cfg.listeners[0].bind), 8080);
  EXPECT_TRUE(cfg.listeners[0].servers.empty());  // all servers

  const ListenerTls& tls = cfg.listeners[0].tls;  // global.tls: TLS on global.port
  EXPECT_TRUE(tls.enabled);
  ASSERT_EQ(tls.certificates.size(), 1u);
  EXPECT_EQ(tls.certificates[0].cert, "/path/to/cert.pem");
  EXPECT_EQ(tls.certificates[0].key, "/path/to/key.pem");
  EXPECT_EQ(tls.ca, "/path/to/ca.pem");

  ASSERT_EQ(cfg.servers.size(), 2u);
  EXPECT_EQ(cfg.servers[0].name, "acme.com");
  EXPECT_EQ(cfg.servers[0].server_names, (std::vector<std::string>{"acme.com", "www.acme.com"}));
  EXPECT_EQ(cfg.servers[0].upstream, 0u);
  EXPECT_FALSE(cfg.servers[0].tls);
  EXPECT_FALSE(cfg.servers[0].default_server);
  EXPECT_TRUE(cfg.servers[0].routes.empty());
  EXPECT_EQ(cfg.servers[1].name, "api.acme.com");
  EXPECT_EQ(cfg.servers[1].server_names, (std::vector<std::string>{"api.acme.com"}));
  EXPECT_EQ(cfg.servers[1].upstream, 1u);

  ASSERT_EQ(cfg.upstreams.size(), 2u);
  EXPECT_EQ(cfg.upstreams[0].name, "web_servers");
  ASSERT_EQ(cfg.upstreams[0].backends.size(), 2u);
  EXPECT_EQ(cfg.upstreams[0].backends[0].address.text, "127.0.0.1:3001");
  EXPECT_EQ(PortOf(cfg.upstreams[0].backends[0].address), 3001);
  EXPECT_EQ(IpOf(cfg.upstreams[0].backends[0].address), "127.0.0.1");
  EXPECT_EQ(cfg.upstreams[0].backends[0].weight, 1u);
  EXPECT_EQ(cfg.upstreams[0].backends[1].address.text, "127.0.0.1:3002");
  EXPECT_FALSE(cfg.upstreams[0].tls.enabled);
  EXPECT_EQ(cfg.upstreams[0].keepalive, 64u);
  EXPECT_EQ(cfg.upstreams[1].name, "api_servers");
  ASSERT_EQ(cfg.upstreams[1].backends.size(), 2u);
  EXPECT_EQ(cfg.upstreams[1].backends[0].address.text, "127.0.0.1:9090");
  EXPECT_EQ(cfg.upstreams[1].backends[1].address.text, "127.0.0.1:9091");

  // Everything not written keeps its default.
  Config defaults;
  EXPECT_EQ(cfg.timeouts.client_header_ms, defaults.timeouts.client_header_ms);
  EXPECT_EQ(cfg.timeouts.upstream_response_ms, defaults.timeouts.upstream_response_ms);
  EXPECT_EQ(cfg.limits.max_headers, defaults.limits.max_headers);
  EXPECT_EQ(cfg.limits.max_body_size, 0u);
  EXPECT_EQ(cfg.buffers.size, 16u * 1024);
  EXPECT_EQ(cfg.buffers.count, 1024u);
  EXPECT_EQ(cfg.logging.level, LogLevel::kInfo);
  EXPECT_EQ(cfg.logging.format, LogFormat::kText);
  EXPECT_TRUE(cfg.logging.access_log);
  EXPECT_EQ(cfg.logging.access_log_path, "");
}

constexpr std::string_view kExtended = R"yaml(global:
  port: 8080
  workers: 4
  tls: {cert: a.pem, key: b.pem}
  log: {level: debug, format: json, access_log: /var/log/ringway/access.log}
  timeouts:
    client_header: 5s
    client_body: 30s
    client_send: 45s
    keepalive: 2m
    upstream_connect: 250ms
    upstream_response: 1h
    shutdown: 10
  limits:
    max_request_line: 4k
    max_header_size: 32K
    max_headers: 50
    max_body_size: 10mb
    max_connections: 5000
  buffers: {size: 32k, count: 2048}
listeners:
  - name: public
    bind: "0.0.0.0:8443"
    servers: [web, api]
  - name: internal
    bind: "[::1]:9000"
servers:
  - name: web
    server_name: ["Acme.COM", "*.acme.com"]
    upstream: web_servers
    default: true
    routes:
      - path: /api/
        upstream: api_servers
      - path: /static/
        upstream: web_servers
  - name: api
    server_name: api.acme.com
    upstream: api_servers
    tls: true
  - name: admin
    server_name: admin.internal
    upstream: admin
upstreams:
  - name: web_servers
    servers: ["127.0.0.1:3001", {address: "127.0.0.1:3002", weight: 3}]
    keepalive: 0
  - name: api_servers
    servers: ["[::1]:9090"]
  - name: admin
    servers: ["localhost:7000"]
)yaml";

TEST(ConfigLoad, ExtendedSchemaLoads) {
  Config cfg = MustLoad(kExtended);
  EXPECT_EQ(cfg.workers, 4u);
  ASSERT_FALSE(cfg.listeners.empty());
  const ListenerTls& tls = cfg.listeners[0].tls;  // global.tls: TLS on global.port
  EXPECT_TRUE(tls.enabled);
  ASSERT_EQ(tls.certificates.size(), 1u);
  EXPECT_EQ(tls.certificates[0].cert, "a.pem");
  EXPECT_EQ(tls.certificates[0].key, "b.pem");
  EXPECT_EQ(tls.ca, "");

  EXPECT_EQ(cfg.logging.level, LogLevel::kDebug);
  EXPECT_EQ(cfg.logging.format, LogFormat::kJson);
  EXPECT_TRUE(cfg.logging.access_log);
  EXPECT_EQ(cfg.logging.access_log_path, "/var/log/ringway/access.log");

  EXPECT_EQ(cfg.timeouts.client_header_ms, 5'000u);
  EXPECT_EQ(cfg.timeouts.client_body_ms, 30'000u);
  EXPECT_EQ(cfg.timeouts.client_send_ms, 45'000u);
  EXPECT_EQ(cfg.timeouts.keepalive_ms, 120'000u);
  EXPECT_EQ(cfg.timeouts.upstream_connect_ms, 250u);
  EXPECT_EQ(cfg.timeouts.upstream_response_ms, 3'600'000u);
  EXPECT_EQ(cfg.timeouts.shutdown_ms, 10'000u);

  EXPECT_EQ(cfg.limits.max_request_line, 4096u);
  EXPECT_EQ(cfg.limits.max_header_size, 32768u);
  EXPECT_EQ(cfg.limits.max_headers, 50u);
  EXPECT_EQ(cfg.limits.max_body_size, 10u * 1024 * 1024);
  EXPECT_EQ(cfg.limits.max_connections, 5000u);
  EXPECT_EQ(cfg.buffers.size, 32768u);
  EXPECT_EQ(cfg.buffers.count, 2048u);

  ASSERT_EQ(cfg.listeners.size(), 3u);
  EXPECT_EQ(cfg.listeners[0].name, "default");
  EXPECT_EQ(cfg.listeners[0].bind.text, "0.0.0.0:8080");
  EXPECT_EQ(cfg.listeners[1].name, "public");
  EXPECT_EQ(cfg.listeners[1].bind.text, "0.0.0.0:8443");
  EXPECT_EQ(cfg.listeners[1].servers, (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(cfg.listeners[2].name, "internal");
  EXPECT_EQ(cfg.listeners[2].bind.text, "[::1]:9000");
  EXPECT_EQ(cfg.listeners[2].bind.storage.ss_family, AF_INET6);
  EXPECT_EQ(cfg.listeners[2].bind.len, sizeof(sockaddr_in6));
  EXPECT_TRUE(cfg.listeners[2].servers.empty());

  ASSERT_EQ(cfg.servers.size(), 3u);
  EXPECT_EQ(cfg.servers[0].name, "web");
  EXPECT_EQ(cfg.servers[0].server_names, (std::vector<std::string>{"acme.com", "*.acme.com"}));
  EXPECT_TRUE(cfg.servers[0].default_server);
  EXPECT_EQ(cfg.servers[0].upstream, 0u);
  ASSERT_EQ(cfg.servers[0].routes.size(), 2u);
  EXPECT_EQ(cfg.servers[0].routes[0].path_prefix, "/api/");
  EXPECT_EQ(cfg.servers[0].routes[0].upstream, 1u);
  EXPECT_EQ(cfg.servers[0].routes[1].path_prefix, "/static/");
  EXPECT_EQ(cfg.servers[0].routes[1].upstream, 0u);
  EXPECT_EQ(cfg.servers[1].name, "api");
  EXPECT_EQ(cfg.servers[1].server_names, (std::vector<std::string>{"api.acme.com"}));
  EXPECT_TRUE(cfg.servers[1].tls);
  EXPECT_EQ(cfg.servers[2].upstream, 2u);

  ASSERT_EQ(cfg.upstreams.size(), 3u);
  EXPECT_EQ(cfg.upstreams[0].keepalive, 0u);
  ASSERT_EQ(cfg.upstreams[0].backends.size(), 2u);
  EXPECT_EQ(cfg.upstreams[0].backends[0].weight, 1u);
  EXPECT_EQ(cfg.upstreams[0].backends[1].address.text, "127.0.0.1:3002");
  EXPECT_EQ(cfg.upstreams[0].backends[1].weight, 3u);
  EXPECT_FALSE(cfg.upstreams[0].tls.enabled);
  EXPECT_TRUE(cfg.upstreams[1].tls.enabled);  // server 'api' says tls: true
  EXPECT_EQ(cfg.upstreams[1].backends[0].address.text, "[::1]:9090");
  EXPECT_EQ(cfg.upstreams[2].backends[0].address.text, "127.0.0.1:7000");
  EXPECT_FALSE(cfg.upstreams[2].tls.enabled);
}

TEST(ConfigLoad, TlsServerMarksItsUpstreamAndRouteUpstreams) {
  Config cfg = MustLoad(R"yaml(global: {port: 80}
servers:
  - server_name: a.com
    upstream: one
    tls: true
    routes: [{path: /x/, upstream: two}]
  - server_name: b.com
    upstream: three
upstreams:
  - {name: one, servers: ["10.0.0.1:443"]}
  - {name: two, servers: ["10.0.0.2:443"]}
  - {name: three, servers: ["10.0.0.3:80"]}
)yaml");
  ASSERT_EQ(cfg.upstreams.size(), 3u);
  EXPECT_TRUE(cfg.upstreams[0].tls.enabled);
  EXPECT_TRUE(cfg.upstreams[1].tls.enabled);
  EXPECT_FALSE(cfg.upstreams[2].tls.enabled);
}

TEST(ConfigLoad, ListenersAloneAreEnough) {
  Config cfg = MustLoad(R"yaml(listeners:
  - {name: a, bind: ":8080"}
  - {name: b, bind: "localhost:8081"}
)yaml" + std::string(kTail));
  ASSERT_EQ(cfg.listeners.size(), 2u);
  EXPECT_EQ(cfg.listeners[0].bind.text, "0.0.0.0:8080");
  EXPECT_EQ(cfg.listeners[1].bind.text, "127.0.0.1:8081");
}

TEST(ConfigLoad, BuffersSpliceThresholdOrOff) {
  EXPECT_EQ(MustLoad(WithTail("global: {port: 80}\n")).buffers.splice, 32u * 1024);
  EXPECT_EQ(MustLoad(WithTail("global: {port: 80, buffers: {splice: 256k}}\n")).buffers.splice,
            256u * 1024);
  EXPECT_EQ(MustLoad(WithTail("global: {port: 80, buffers: {splice: off}}\n")).buffers.splice, 0u);
  EXPECT_EQ(MustLoad(WithTail("global: {port: 80, buffers: {splice: 0}}\n")).buffers.splice, 0u);
  EXPECT_EQ(MustLoad(WithTail("global: {port: 80, buffers: {splice: on}}\n")).buffers.splice,
            32u * 1024);
  // The words in quotes mean the same.
  EXPECT_EQ(MustLoad(WithTail("global: {port: 80, buffers: {splice: 'off'}}\n")).buffers.splice,
            0u);
  EXPECT_EQ(MustLoad(WithTail("global: {port: 80, buffers: {splice: \"On\"}}\n")).buffers.splice,
            32u * 1024);
  EXPECT_THAT(ErrorOf(WithTail("global:\n  port: 80\n  buffers:\n    splice: 2g\n")),
              AllOf(StartsWith("test.yaml:4:13: 'splice' in global.buffers is 2g"),
                    HasSubstr("out of range")));
  EXPECT_THAT(ErrorOf(WithTail("global:\n  port: 80\n  buffers:\n    splice: lots\n")),
              StartsWith("test.yaml:4:13: 'splice' in global.buffers"));
}

TEST(ConfigLoad, BuffersReserveAtMostTheCount) {
  EXPECT_EQ(MustLoad(WithTail("global: {port: 80}\n")).buffers.reserve, 64u);
  EXPECT_EQ(MustLoad(WithTail("global: {port: 80, buffers: {reserve: 200}}\n")).buffers.reserve,
            200u);
  // The default follows a smaller ring.
  EXPECT_EQ(MustLoad(WithTail("global: {port: 80, buffers: {count: 16}}\n")).buffers.reserve, 16u);
  EXPECT_EQ(
      MustLoad(WithTail("global: {port: 80, buffers: {count: 64, reserve: 64}}\n")).buffers.reserve,
      64u);
  EXPECT_THAT(
      ErrorOf(WithTail("global:\n  port: 80\n  buffers:\n    count: 32\n    reserve: 64\n")),
      AllOf(StartsWith("test.yaml:5:14: 'reserve' in global.buffers is 64, more than 'count' (32)"),
            HasSubstr("use at most 32")));
  EXPECT_THAT(ErrorOf(WithTail("global:\n  port: 80\n  buffers:\n    reserve: 0\n")),
              StartsWith("test.yaml:4:14: 'reserve' in global.buffers"));
  EXPECT_THAT(ErrorOf(WithTail("global:\n  port: 80\n  buffers:\n    reserve: lots\n")),
              StartsWith("test.yaml:4:14: 'reserve' in global.buffers"));
}

TEST(ConfigLoad, BuffersSpliceToHttp2ClientsOffUnlessAsked) {
  EXPECT_FALSE(MustLoad(WithTail("global: {port: 80}\n")).buffers.splice_h2);
  EXPECT_TRUE(
      MustLoad(WithTail("global: {port: 80, buffers: {splice_h2: true}}\n")).buffers.splice_h2);
  EXPECT_TRUE(
      MustLoad(WithTail("global: {port: 80, buffers: {splice_h2: on}}\n")).buffers.splice_h2);
  EXPECT_TRUE(
      MustLoad(WithTail("global: {port: 80, buffers: {splice_h2: 'On'}}\n")).buffers.splice_h2);
  EXPECT_FALSE(
      MustLoad(WithTail("global: {port: 80, buffers: {splice_h2: off}}\n")).buffers.splice_h2);
  EXPECT_THAT(ErrorOf(WithTail("global:\n  port: 80\n  buffers:\n    splice_h2: 32k\n")),
              StartsWith("test.yaml:4:16: 'splice_h2' in global.buffers"));
}

TEST(ConfigLoad, WorkersAutoAndNumber) {
  EXPECT_EQ(MustLoad(WithTail("global: {port: 80, workers: auto}\n")).workers, 0u);
  EXPECT_EQ(MustLoad(WithTail("global: {port: 80, workers: 1024}\n")).workers, 1024u);
}

TEST(ConfigLoad, AccessLogFalse) {
  Config cfg = MustLoad(WithTail("global: {port: 80, log: {access_log: false}}\n"));
  EXPECT_FALSE(cfg.logging.access_log);
  EXPECT_EQ(cfg.logging.access_log_path, "");
}

TEST(ConfigLoad, DefaultServerNeedsNoServerName) {
  Config cfg = MustLoad(R"yaml(global: {port: 80}
servers:
  - default: true
    upstream: web
upstreams:
  - {name: web, servers: ["127.0.0.1:3001"]}
)yaml");
  ASSERT_EQ(cfg.servers.size(), 1u);
  EXPECT_TRUE(cfg.servers[0].default_server);
  EXPECT_TRUE(cfg.servers[0].server_names.empty());
  EXPECT_EQ(cfg.servers[0].name, "default");
}

TEST(ConfigLoad, ServerNamesAreLowerCasedAndMayBeWildcardsOrIpLiterals) {
  Config cfg = MustLoad(R"yaml(global: {port: 80}
servers:
  - server_name: ["WWW.Acme.Com", "*.Acme.com", "127.0.0.1", "[::1]"]
    upstream: web
upstreams:
  - {name: web, servers: ["127.0.0.1:3001"]}
)yaml");
  ASSERT_EQ(cfg.servers.size(), 1u);
  EXPECT_EQ(cfg.servers[0].server_names,
            (std::vector<std::string>{"www.acme.com", "*.acme.com", "127.0.0.1", "[::1]"}));
  EXPECT_EQ(cfg.servers[0].name, "www.acme.com");
}

TEST(ConfigLoad, SameServerNameOnSeparateListenersIsAllowed) {
  Config cfg = MustLoad(R"yaml(listeners:
  - {name: outside, bind: ":80", servers: [public]}
  - {name: inside, bind: ":81", servers: [private]}
servers:
  - {name: public, server_name: acme.com, upstream: web, default: true}
  - {name: private, server_name: acme.com, upstream: web, default: true}
upstreams:
  - {name: web, servers: ["127.0.0.1:3001"]}
)yaml");
  ASSERT_EQ(cfg.servers.size(), 2u);
  EXPECT_EQ(cfg.listeners[0].servers, (std::vector<uint32_t>{0}));
  EXPECT_EQ(cfg.listeners[1].servers, (std::vector<uint32_t>{1}));
}

TEST(ConfigLoad, AnchorsAndAliasesExpand) {
  Config cfg = MustLoad(R"yaml(global: {port: 80}
servers:
  - server_name: acme.com
    upstream: web
upstreams:
  - name: web
    servers: &pool ["127.0.0.1:3001", "127.0.0.1:3002"]
  - name: web_copy
    servers: *pool
)yaml");
  ASSERT_EQ(cfg.upstreams.size(), 2u);
  ASSERT_EQ(cfg.upstreams[1].backends.size(), 2u);
  EXPECT_EQ(cfg.upstreams[1].backends[1].address.text, "127.0.0.1:3002");
}

// Every YAML example in docs/configuration.md loads, so the reference cannot drift from the code.
TEST(ConfigLoad, ReferenceExamplesLoad) {
  std::string source = __FILE__;  // .../tests/config/config_test.cc
  std::string doc = source.substr(0, source.rfind("/tests/")) + "/docs/configuration.md";
  FILE* f = std::fopen(doc.c_str(), "rb");
  ASSERT_NE(f, nullptr) << doc;
  std::string text;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof(buf), f)) > 0;) text.append(buf, n);
  std::fclose(f);

  int examples = 0;
  for (size_t at = text.find("```yaml\n"); at != std::string::npos;
       at = text.find("```yaml\n", at)) {
    size_t begin = at + 8;
    size_t end = text.find("```", begin);
    ASSERT_NE(end, std::string::npos);
    absl::StatusOr<Config> cfg = LoadString(text.substr(begin, end - begin), doc);
    EXPECT_TRUE(cfg.ok()) << cfg.status();
    ++examples;
    at = end + 3;
  }
  EXPECT_EQ(examples, 12);
}

// ---------------------------------------------------------------------------------------------
// Unknown keys

TEST(ConfigErrors, UnknownKeySuggestsTheClosestKey) {
  std::string e = ErrorOf(R"yaml(global:
  port: 8080
servers:
  - server_name: acme.com
    upstream: web
upstreams:
  - name: web
    servres: ["127.0.0.1:3001"]
)yaml");
  EXPECT_EQ(e, "test.yaml:8:5: unknown key 'servres' in upstream 'web'; did you mean 'servers'?");
}

TEST(ConfigErrors, UnknownKeyInGlobalSuggests) {
  std::string e = ErrorOf(WithTail("global:\n  port: 8080\n  wrokers: 4\n"));
  EXPECT_THAT(e, StartsWith("test.yaml:3:3: unknown key 'wrokers' in global"));
  EXPECT_THAT(e, HasSubstr("did you mean 'workers'?"));
}

TEST(ConfigErrors, UnknownKeyWithoutCloseMatchListsAllowedKeys) {
  std::string e = ErrorOf(WithTail("global:\n  port: 8080\n  colour: red\n"));
  EXPECT_THAT(e, StartsWith("test.yaml:3:3: unknown key 'colour' in global"));
  EXPECT_THAT(e, Not(HasSubstr("did you mean")));
  EXPECT_THAT(e, HasSubstr("'port', 'workers', 'tls', 'log', 'timeouts', 'limits', 'buffers'"));
}

TEST(ConfigErrors, UnknownKeyInNestedSections) {
  EXPECT_THAT(ErrorOf(WithTail("global:\n  port: 80\n  timeouts:\n    keepalve: 5s\n")),
              AllOf(StartsWith("test.yaml:4:5: unknown key 'keepalve' in global.timeouts"),
                    HasSubstr("did you mean 'keepalive'?")));
  EXPECT_THAT(ErrorOf(R"yaml(global: {port: 80}
servers:
  - server_name: acme.com
    upstrem: web
upstreams:
  - {name: web, servers: ["127.0.0.1:3001"]}
)yaml"),
              AllOf(StartsWith("test.yaml:4:5: unknown key 'upstrem' in server 'acme.com'"),
                    HasSubstr("did you mean 'upstream'?")));
}

TEST(ConfigErrors, GlobalKeyAtTopLevelSaysWhereItBelongs) {
  std::string e = ErrorOf(WithTail("port: 8080\n"));
  EXPECT_THAT(e, StartsWith("test.yaml:1:1: unknown key 'port' at the top level"));
  EXPECT_THAT(e, HasSubstr("belongs under 'global:'"));
}

TEST(ConfigErrors, TopLevelTypoSuggests) {
  std::string e = ErrorOf("global: {port: 80}\nupstream: []\n" + std::string(kTail));
  EXPECT_THAT(e, StartsWith("test.yaml:2:1: unknown key 'upstream' in the top level"));
  EXPECT_THAT(e, HasSubstr("did you mean 'upstreams'?"));
}

// ---------------------------------------------------------------------------------------------
// Wrong types

TEST(ConfigErrors, ExpectedMapping) {
  std::string e = ErrorOf(WithTail("global: [8080]\n"));
  EXPECT_THAT(e, StartsWith("test.yaml:1:9: 'global' must be a mapping"));
  EXPECT_THAT(e, HasSubstr("found a list"));
}

TEST(ConfigErrors, ExpectedMappingFoundNothing) {
  std::string e = ErrorOf(WithTail("global:\n"));
  EXPECT_THAT(e, StartsWith("test.yaml:1:8: 'global' must be a mapping"));
  EXPECT_THAT(e, HasSubstr("found nothing"));
  EXPECT_THAT(e, HasSubstr("write its keys on the lines below it"));
}

TEST(ConfigErrors, ExpectedList) {
  std::string e = ErrorOf(R"yaml(global: {port: 80}
servers:
  - server_name: acme.com
    upstream: web
upstreams:
  name: web
)yaml");
  EXPECT_THAT(e, StartsWith("test.yaml:6:3: 'upstreams' must be a list, found a mapping"));
  EXPECT_THAT(e, HasSubstr("'- ' item per line"));
}

TEST(ConfigErrors, ExpectedString) {
  std::string e = ErrorOf(R"yaml(global: {port: 80}
servers:
  - server_name: acme.com
    upstream: [web]
upstreams:
  - {name: web, servers: ["127.0.0.1:3001"]}
)yaml");
  EXPECT_THAT(e, StartsWith("test.yaml:4:15: 'upstream' in server 'acme.com' must be a string, "
                            "found a list"));
}

TEST(ConfigErrors, ExpectedStringFoundBoolean) {
  std::string e = ErrorOf(R"yaml(global: {port: 80}
servers:
  - server_name: acme.com
    upstream: web
upstreams:
  - name: yes
    servers: ["127.0.0.1:3001"]
)yaml");
  EXPECT_THAT(e, StartsWith("test.yaml:6:11: 'name' in upstream #1 must be a string, found a "
                            "boolean (yes)"));
  EXPECT_THAT(e, HasSubstr("in quotes"));
}

TEST(ConfigErrors, ExpectedInteger) {
  std::string e = ErrorOf(WithTail("global:\n  port: \"8080\"\n"));
  EXPECT_THAT(e, StartsWith("test.yaml:2:9: 'port' in global must be an integer from 1 to 65535, "
                            "found a string (\"8080\")"));
  EXPECT_THAT(e, HasSubstr("remove the quotes"));
}

TEST(ConfigErrors, ExpectedBoolean) {
  std::string e = ErrorOf(R"yaml(global: {port: 80}
servers:
  - server_name: acme.com
    upstream: web
    tls: "false"
upstreams:
  - {name: web, servers: ["127.0.0.1:3001"]}
)yaml");
  EXPECT_THAT(e, StartsWith("test.yaml:5:10: 'tls' in server 'acme.com' must be a boolean (true "
                            "or false), found a string (\"false\")"));
  EXPECT_THAT(e, HasSubstr("remove the quotes"));
}

TEST(ConfigErrors, TopLevelMustBeAMapping) {
  std::string e = ErrorOf("- a\n- b\n");
  EXPECT_THAT(e, StartsWith("test.yaml:1:1: the top level of the configuration must be a mapping, "
                            "found a list"));
}

TEST(ConfigErrors, WorkersMustBeNumberOrAuto) {
  EXPECT_THAT(ErrorOf(WithTail("global:\n  port: 80\n  workers: many\n")),
              AllOf(StartsWith("test.yaml:3:12: 'workers' in global must be an integer from 1 "
                               "to 1024 or \"auto\""),
                    HasSubstr("workers: auto")));
  EXPECT_THAT(ErrorOf(WithTail("global:\n  port: 80\n  workers: 0\n")),
              AllOf(StartsWith("test.yaml:3:12: 'workers' in global is 0, out of range"),
                    HasSubstr("from 1 to 1024")));
}

TEST(ConfigErrors, BackendMustBeStringOrMapping) {
  std::string e = ErrorOf(R"yaml(global: {port: 80}
servers: [{server_name: acme.com, upstream: web}]
upstreams:
  - name: web
    servers: [3001]
)yaml");
  EXPECT_THAT(e, StartsWith("test.yaml:5:15: server #1 of upstream 'web' must be an address string "
                            "or a mapping {address, weight}, found an integer (3001)"));
}

TEST(ConfigErrors, AccessLogMustBeBoolOrPath) {
  std::string e = ErrorOf(WithTail("global:\n  port: 80\n  log: {access_log: 1}\n"));
  EXPECT_THAT(e, StartsWith("test.yaml:3:21: 'access_log' in global.log must be true, false or a "
                            "file path, found an integer (1)"));
}

TEST(ConfigErrors, LogLevelAndFormatWords) {
  EXPECT_THAT(ErrorOf(WithTail("global:\n  port: 80\n  log: {level: verbose}\n")),
              AllOf(StartsWith("test.yaml:3:16: log level 'verbose' is not known"),
                    HasSubstr("'debug', 'info', 'warn', 'error'")));
  EXPECT_THAT(ErrorOf(WithTail("global:\n  port: 80\n  log: {format: xml}\n")),
              AllOf(StartsWith("test.yaml:3:17: log format 'xml' is not known"),
                    HasSubstr("'text' or 'json'")));
}

// ---------------------------------------------------------------------------------------------
// Missing required keys: the position is the mapping that lacks the key.

TEST(ConfigErrors, MissingUpstreamServers) {
  std::string e = ErrorOf(R"yaml(global: {port: 80}
servers: [{server_name: acme.com, upstream: web}]
upstreams:
  - name: web
    keepalive: 8
)yaml");
  EXPECT_THAT(e, StartsWith("test.yaml:4:5: upstream 'web' has no 'servers' key"));
  EXPECT_THAT(e, HasSubstr("add servers: [\"127.0.0.1:3001\"]"));
}

TEST(ConfigErrors, MissingUpstreamName) {
  std::string e = ErrorOf(R"yaml(global: {port: 80}
servers: [{server_name: acme.com, upstream: web}]
upstreams:
  - servers: ["127.0.0.1:3001"]
)yaml");
  EXPECT_THAT(e, StartsWith("test.yaml:4:5: upstream #1 has no 'name' key; add name:"));
}

TEST(ConfigErrors, MissingServerUpstream) {
  std::string e = ErrorOf(R"yaml(global: {port: 80}
servers:
  - server_name: acme.com
upstreams:
  - {name: web, servers: ["127.0.0.1:3001"]}
)yaml");
  EXPECT_THAT(e,
              StartsWith("test.yaml:3:5: server 'acme.com' has no 'upstream' key; add upstream:"));
}

TEST(ConfigErrors, MissingServerNameWithoutDefault) {
  std::string e = ErrorOf(R"yaml(global: {port: 80}
servers:
  - upstream: web
upstreams:
  - {name: web, servers: ["127.0.0.1:3001"]}
)yaml");
  EXPECT_THAT(e, StartsWith("test.yaml:3:5: server #1 has no 'server_name' key"));
  EXPECT_THAT(e, HasSubstr("default: true"));
}

TEST(ConfigErrors, MissingListenerBind) {
  std::string e = ErrorOf(R"yaml(listeners:
  - name: public
servers: [{server_name: acme.com, upstream: web}]
upstreams: [{name: web, servers: ["127.0.0.1:3001"]}]
)yaml");
  EXPECT_THAT(e, StartsWith("test.yaml:2:5: listener 'public' has no 'bind' key"));
  EXPECT_THAT(e, HasSubstr("bind: \"0.0.0.0:8080\""));
}

TEST(ConfigErrors, MissingTlsKey) {
  std::string e = ErrorOf(WithTail("global:\n  port: 443\n  tls:\n    cert: a.pem\n"));
  EXPECT_THAT(e, StartsWith("test.yaml:4:5: global.tls has no 'key' key; add key:"));
}

TEST(ConfigErrors, MissingRoutePath) {
  std::string e = ErrorOf(R"yaml(global: {port: 80}
servers:
  - server_name: acme.com
    upstream: web
    routes:
      - upstream: web
upstreams: [{name: web, servers: ["127.0.0.1:3001"]}]
)yaml");
  EXPECT_THAT(e, StartsWith("test.yaml:6:9: route #1 of server 'acme.com' has no 'path' key"));
}

// No servers yet: every request gets 404 until the admin API adds domains.
TEST(ConfigLoad, UpstreamsWithoutServers) {
  absl::StatusOr<Config> c = LoadString(R"yaml(global: {port: 80}
upstreams: [{name: web, servers: ["127.0.0.1:3001"]}]
)yaml",
                                        "test.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->servers.empty());
  ASSERT_EQ(c->upstreams.size(), 1u);
  EXPECT_EQ(c->upstreams[0].backends[0].id, "web-127.0.0.1:3001");
}

// ---------------------------------------------------------------------------------------------
// Dangling references

TEST(ConfigErrors, ServerUpstreamNotDefined) {
  std::string e = ErrorOf(R"yaml(global: {port: 80}
servers:
  - server_name: acme.com
    upstream: web_server
upstreams:
  - {name: web_servers, servers: ["127.0.0.1:3001"]}
  - {name: api, servers: ["127.0.0.1:3002"]}
)yaml");
  EXPECT_THAT(e, StartsWith("test.yaml:4:15: upstream 'web_server' is not defined"));
  EXPECT_THAT(e, HasSubstr("did you mean 'web_servers'?"));
  EXPECT_THAT(e, HasSubstr("defined upstreams: 'web_servers', 'api'"));
}

TEST(ConfigErrors, RouteUpstreamNotDefined) {
  std::string e = ErrorOf(R"yaml(global: {port: 80}
servers:
  - server_name: acme.com
    upstream: web
    routes:
      - path: /api/
        upstream: nowhere
upstreams: [{name: web, servers: ["127.0.0.1:3001"]}]
)yaml");
  EXPECT_THAT(e, StartsWith("test.yaml:7:19: upstream 'nowhere' is not defined"));
  EXPECT_THAT(e, Not(HasSubstr("did you mean")));
  EXPECT_THAT(e, HasSubstr("defined upstreams: 'web'"));
}

TEST(ConfigErrors, ListenerServerNotDefined) {
  std::string e = ErrorOf(R"yaml(listeners:
  - name: public
    bind: ":80"
    servers: [web, api]
servers:
  - {name: web, server_name: acme.com, upstream: up}
  - {name: api1, server_name: api.acme.com, upstream: up}
upstreams: [{name: up, servers: ["127.0.0.1:3001"]}]
)yaml");
  EXPECT_THAT(e, StartsWith("test.yaml:4:20: server 'api' is not defined"));
  EXPECT_THAT(e, HasSubstr("did you mean 'api1'?"));
  EXPECT_THAT(e, HasSubstr("defined servers: 'web', 'api1'"));
}

// ---------------------------------------------------------------------------------------------
// Duplicates

TEST(ConfigErrors, DuplicateUpstreamName) {
  std::string e = ErrorOf(R"yaml(global: {port: 80}
servers: [{server_name: acme.com, upstream: web}]
upstreams:
  - name: web
    servers: ["127.0.0.1:3001"]
  - name: web
    servers: ["127.0.0.1:3002"]
)yaml");
  EXPECT_THAT(e, StartsWith("test.yaml:6:11: upstream name 'web' is already used at line 4, "
                            "column 11"));
  EXPECT_THAT(e, HasSubstr("unique name"));
}

TEST(ConfigErrors, DuplicateServerName) {
  std::string e = ErrorOf(R"yaml(global: {port: 80}
servers:
  - name: site
    server_name: a.com
    upstream: web
  - name: site
    server_name: b.com
    upstream: web
upstreams: [{name: web, servers: ["127.0.0.1:3001"]}]
)yaml");
  EXPECT_THAT(e, StartsWith("test.yaml:6:11: server name 'site' is already used by the server at "
                            "line 3, column 11"));
  EXPECT_THAT(e, HasSubstr("unique 'name'"));
}

TEST(ConfigErrors, DuplicateServerNameTakenFromServerName) {
  std::string e = ErrorOf(R"yaml(listeners:
  - {name: a, bind: ":80", servers: [acme.com]}
servers:
  - server_name: acme.com
    upstream: web
  - server_name: [acme.com, www.acme.com]
    upstream: web
upstreams: [{name: web, servers: ["127.0.0.1:3001"]}]
)yaml");
  EXPECT_THAT(e, StartsWith("test.yaml:6:19: server name 'acme.com' (taken from its first "
                            "server_name) is already used"));
  EXPECT_THAT(e, HasSubstr("line 4, column 18"));
  EXPECT_THAT(e, HasSubstr("unique 'name'"));
}

TEST(ConfigErrors, DuplicateListenerName) {
  std::string e = ErrorOf(R"yaml(listeners:
  - name: public
    bind: ":80"
  - name: public
    bind: ":81"
)yaml" + std::string(kTail));
  EXPECT_THAT(e, StartsWith("test.yaml:4:11: listener name 'public' is already used at line 2, "
                            "column 11"));
  EXPECT_THAT(e, HasSubstr("unique name"));
}

TEST(ConfigErrors, ListenerNamedDefaultClashesWithGlobalPort) {
  std::string e = ErrorOf(R"yaml(global:
  port: 8080
listeners:
  - name: default
    bind: ":81"
)yaml" + std::string(kTail));
  EXPECT_THAT(e, StartsWith("test.yaml:4:11: listener name 'default' is already used at line 2, "
                            "column 9 by global.port"));
}

TEST(ConfigErrors, DuplicateBind) {
  std::string e = ErrorOf(R"yaml(listeners:
  - name: a
    bind: "127.0.0.1:80"
  - name: b
    bind: "127.0.0.1:80"
)yaml" + std::string(kTail));
  EXPECT_THAT(e, StartsWith("test.yaml:5:11: listener 'b' binds 127.0.0.1:80, which listener 'a' "
                            "already binds at line 3, column 11"));
  EXPECT_THAT(e, HasSubstr("use another port"));
}

TEST(ConfigErrors, BindSameAsGlobalPortAfterNormalising) {
  std::string e = ErrorOf(R"yaml(global:
  port: 8080
listeners:
  - name: public
    bind: ":8080"
)yaml" + std::string(kTail));
  EXPECT_THAT(e, StartsWith("test.yaml:5:11: listener 'public' binds 0.0.0.0:8080, which "
                            "global.port already binds at line 2, column 9"));
}

TEST(ConfigErrors, SameServerNameInTwoServersOfOneListener) {
  std::string e = ErrorOf(R"yaml(global: {port: 80}
servers:
  - name: one
    server_name: [a.com, Shop.Acme.com]
    upstream: web
  - name: two
    server_name: [b.com, shop.acme.com]
    upstream: web
upstreams: [{name: web, servers: ["127.0.0.1:3001"]}]
)yaml");
  EXPECT_THAT(e, StartsWith("test.yaml:7:26: server name 'shop.acme.com' is claimed by server "
                            "'two' and by server 'one' (line 3), and listener 'default' serves "
                            "both"));
  EXPECT_THAT(e, HasSubstr("remove it from one of them"));
}

TEST(ConfigErrors, SameServerNameTwiceInOneServer) {
  std::string e = ErrorOf(R"yaml(global: {port: 80}
servers:
  - server_name: [a.com, A.com]
    upstream: web
upstreams: [{name: web, servers: ["127.0.0.1:3001"]}]
)yaml");
  EXPECT_THAT(e, StartsWith("test.yaml:3:26: server name 'a.com' appears twice in server 'a.com' "
                            "(first at line 3, column 19)"));
}

TEST(ConfigErrors, TwoDefaultServersOnOneListener) {
  std::string e = ErrorOf(R"yaml(listeners:
  - {name: outside, bind: ":80", servers: [one, two]}
  - {name: inside, bind: ":81", servers: [one]}
servers:
  - name: one
    default: true
    upstream: web
  - name: two
    server_name: b.com
    default: true
    upstream: web
upstreams: [{name: web, servers: ["127.0.0.1:3001"]}]
)yaml");
  EXPECT_THAT(e, StartsWith("test.yaml:10:14: listener 'outside' would have two default servers, "
                            "'one' (line 6) and 'two'"));
  EXPECT_THAT(e, HasSubstr("keep default: true on only one"));
}

TEST(ConfigErrors, DuplicateMappingKey) {
  std::string e = ErrorOf(WithTail("global:\n  port: 8080\n  port: 9090\n"));
  EXPECT_THAT(e, StartsWith("test.yaml:3:3: duplicate key 'port' (first at line 2, column 3)"));
}

TEST(ConfigErrors, DuplicateBackend) {
  std::string e = ErrorOf(R"yaml(global: {port: 80}
servers: [{server_name: acme.com, upstream: web}]
upstreams:
  - name: web
    servers: ["127.0.0.1:3001", {address: "127.0.0.1:3001", weight: 2}]
)yaml");
  EXPECT_THAT(e, StartsWith("test.yaml:5:43: backend 127.0.0.1:3001 appears twice in upstream "
                            "'web'"));
  EXPECT_THAT(e, HasSubstr("weight"));
}

TEST(ConfigErrors, DuplicateRoutePath) {
  std::string e = ErrorOf(R"yaml(global: {port: 80}
servers:
  - server_name: acme.com
    upstream: web
    routes:
      - {path: /api/, upstream: web}
      - {path: /api/, upstream: web}
upstreams: [{name: web, servers: ["127.0.0.1:3001"]}]
)yaml");
  EXPECT_THAT(e, StartsWith("test.yaml:7:16: route path '/api/' appears twice in server "
                            "'acme.com' (first at line 6, column 16)"));
}

TEST(ConfigErrors, ListenerListsServerTwice) {
  std::string e = ErrorOf(R"yaml(listeners:
  - {name: a, bind: ":80", servers: [acme.com, acme.com]}
)yaml" + std::string(kTail));
  EXPECT_THAT(e, StartsWith("test.yaml:2:48: server 'acme.com' is listed twice in listener 'a'"));
}

// ---------------------------------------------------------------------------------------------
// Listeners, empty lists, values out of range

TEST(ConfigErrors, NoListener) {
  std::string e = ErrorOf(kTail);
  EXPECT_THAT(e, StartsWith("test.yaml:1:1: no listener is configured"));
  EXPECT_THAT(e, HasSubstr("add global: {port: 8080} or a listeners list"));
  EXPECT_THAT(ErrorOf("listeners: []\n" + std::string(kTail)),
              StartsWith("test.yaml:1:1: no listener is configured"));
}

// A config without servers or upstreams loads: ringway answers 404 until the admin API adds
// domains and backends.
TEST(ConfigLoad, NoServersNoUpstreams) {
  absl::StatusOr<Config> c =
      LoadString("global: {port: 80}\nservers: []\nupstreams: []\n", "t.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->servers.empty());
  EXPECT_TRUE(c->upstreams.empty());
  c = LoadString("global: {port: 80}\n", "t.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
}

TEST(ConfigErrors, ServerNamesAMissingUpstream) {
  std::string e = ErrorOf(R"yaml(global: {port: 80}
servers: [{server_name: acme.com, upstream: web}]
upstreams: []
)yaml");
  EXPECT_THAT(e,
              StartsWith("test.yaml:2:45: upstream 'web' is not defined; no upstream is defined"));
}

TEST(ConfigErrors, EmptyBackendList) {
  std::string e = ErrorOf(R"yaml(global: {port: 80}
servers: [{server_name: acme.com, upstream: web}]
upstreams:
  - name: web
    servers: []
)yaml");
  EXPECT_THAT(e, StartsWith("test.yaml:5:14: 'servers' in upstream 'web' is empty; list at least "
                            "one backend"));
}

TEST(ConfigErrors, EmptyListenerServers) {
  std::string e =
      ErrorOf("listeners: [{name: a, bind: \":80\", servers: []}]\n" + std::string(kTail));
  EXPECT_THAT(e, StartsWith("test.yaml:1:45: 'servers' in listener 'a' is empty"));
  EXPECT_THAT(e, HasSubstr("remove the key to serve all servers"));
}

TEST(ConfigErrors, EmptyServerNameList) {
  std::string e = ErrorOf(R"yaml(global: {port: 80}
servers: [{server_name: [], upstream: web}]
upstreams: [{name: web, servers: ["127.0.0.1:3001"]}]
)yaml");
  EXPECT_THAT(e, StartsWith("test.yaml:2:25: 'server_name' in server #1 is empty"));
}

TEST(ConfigErrors, RoutePathMustStartWithSlash) {
  std::string e = ErrorOf(R"yaml(global: {port: 80}
servers:
  - server_name: acme.com
    upstream: web
    routes:
      - path: api/
        upstream: web
upstreams: [{name: web, servers: ["127.0.0.1:3001"]}]
)yaml");
  EXPECT_THAT(e, StartsWith("test.yaml:6:15: route path 'api/' in server 'acme.com' does not "
                            "start with '/'; write it as '/api/'"));
}

TEST(ConfigErrors, WeightOutOfRange) {
  constexpr std::string_view kHead = R"yaml(global: {port: 80}
servers: [{server_name: acme.com, upstream: web}]
upstreams:
  - name: web
    servers:
      - "127.0.0.1:3001"
)yaml";
  EXPECT_THAT(ErrorOf(std::string(kHead) + "      - {address: \"127.0.0.1:3002\", weight: 0}\n"),
              AllOf(StartsWith("test.yaml:7:45: 'weight' in server #2 of upstream 'web' is 0, "
                               "out of range; use a value from 1 to 1000")));
  EXPECT_THAT(ErrorOf(std::string(kHead) + "      - {address: \"127.0.0.1:3002\", weight: 1001}\n"),
              StartsWith("test.yaml:7:45: 'weight' in server #2 of upstream 'web' is 1001"));
  EXPECT_THAT(ErrorOf(std::string(kHead) + "      - {weight: 2}\n"),
              StartsWith("test.yaml:7:9: server #2 of upstream 'web' has no 'address' key"));
}

TEST(ConfigErrors, KeepaliveOutOfRange) {
  std::string e = ErrorOf(R"yaml(global: {port: 80}
servers: [{server_name: acme.com, upstream: web}]
upstreams:
  - name: web
    servers: ["127.0.0.1:3001"]
    keepalive: 100001
)yaml");
  EXPECT_THAT(e, StartsWith("test.yaml:6:16: 'keepalive' in upstream 'web' is 100001, out of "
                            "range; use a value from 0 to 100000"));
}

TEST(ConfigErrors, PortOutOfRange) {
  EXPECT_THAT(ErrorOf(WithTail("global:\n  port: 70000\n")),
              StartsWith("test.yaml:2:9: 'port' in global is 70000, out of range; use a value "
                         "from 1 to 65535"));
}

std::string ServerNameError(std::string_view name) {
  return ErrorOf(
      "global: {port: 80}\nservers:\n  - server_name: \"" + std::string(name) +
      "\"\n    upstream: web\nupstreams: [{name: web, servers: [\"127.0.0.1:3001\"]}]\n");
}

TEST(ConfigErrors, BadServerNames) {
  EXPECT_THAT(ServerNameError("a.*.com"),
              AllOf(StartsWith("test.yaml:3:18: server name 'a.*.com' has a '*'"),
                    HasSubstr("leading '*.' label")));
  EXPECT_THAT(ServerNameError("*"), StartsWith("test.yaml:3:18: server name '*' has a '*'"));
  EXPECT_THAT(ServerNameError("acme.com:8080"),
              AllOf(StartsWith("test.yaml:3:18: server name 'acme.com:8080' has a port"),
                    HasSubstr("without its port")));
  EXPECT_THAT(ServerNameError("acme..com"),
              StartsWith("test.yaml:3:18: server name 'acme..com' has an empty label"));
  EXPECT_THAT(ServerNameError("acme.com."),
              AllOf(StartsWith("test.yaml:3:18: server name 'acme.com.' ends with a dot"),
                    HasSubstr("remove the trailing dot")));
  EXPECT_THAT(ServerNameError("acme com"),
              StartsWith("test.yaml:3:18: server name 'acme com' contains ' '"));
  EXPECT_THAT(ServerNameError("[::g]"),
              StartsWith("test.yaml:3:18: server name '[::g]' is not a bracketed IPv6 address"));
}

// ---------------------------------------------------------------------------------------------
// Durations and sizes

TEST(Units, Durations) {
  EXPECT_EQ(*ParseDurationMs("250ms"), 250u);
  EXPECT_EQ(*ParseDurationMs("5s"), 5'000u);
  EXPECT_EQ(*ParseDurationMs("2m"), 120'000u);
  EXPECT_EQ(*ParseDurationMs("1h"), 3'600'000u);
  EXPECT_EQ(*ParseDurationMs("30"), 30'000u);
  EXPECT_EQ(*ParseDurationMs("4294967295ms"), 4'294'967'295u);
  EXPECT_EQ(*ParseDurationMs("1193h"), 1193u * 3'600'000u);
}

TEST(Units, BadDurations) {
  for (std::string_view bad : {"", "s", "5x", "5 s", "1.5s", "-5s", "5S", "5sec", "ms5"}) {
    absl::StatusOr<uint32_t> d = ParseDurationMs(bad);
    ASSERT_FALSE(d.ok()) << bad;
    EXPECT_THAT(std::string(d.status().message()), HasSubstr("is not a duration")) << bad;
  }
  EXPECT_THAT(std::string(ParseDurationMs("0s").status().message()),
              HasSubstr("must be greater than zero"));
  EXPECT_THAT(std::string(ParseDurationMs("0").status().message()),
              HasSubstr("must be greater than zero"));
  EXPECT_THAT(std::string(ParseDurationMs("4294967296ms").status().message()),
              HasSubstr("too long"));
  EXPECT_THAT(std::string(ParseDurationMs("1194h").status().message()), HasSubstr("too long"));
  EXPECT_THAT(std::string(ParseDurationMs("99999999999999999999999s").status().message()),
              HasSubstr("too long"));
}

TEST(Units, Sizes) {
  EXPECT_EQ(*ParseSize("0"), 0u);
  EXPECT_EQ(*ParseSize("512"), 512u);
  EXPECT_EQ(*ParseSize("512b"), 512u);
  EXPECT_EQ(*ParseSize("8k"), 8192u);
  EXPECT_EQ(*ParseSize("8K"), 8192u);
  EXPECT_EQ(*ParseSize("8kb"), 8192u);
  EXPECT_EQ(*ParseSize("8KB"), 8192u);
  EXPECT_EQ(*ParseSize("64k"), 65536u);
  EXPECT_EQ(*ParseSize("1m"), 1048576u);
  EXPECT_EQ(*ParseSize("1MB"), 1048576u);
  EXPECT_EQ(*ParseSize("2g"), 2147483648u);
}

TEST(Units, BadSizes) {
  for (std::string_view bad : {"", "k", "8q", "8 k", "1.5m", "-1", "8kib", "8t"}) {
    absl::StatusOr<uint64_t> s = ParseSize(bad);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_THAT(std::string(s.status().message()), HasSubstr("is not a size")) << bad;
  }
  EXPECT_THAT(std::string(ParseSize("99999999999g").status().message()), HasSubstr("too large"));
  EXPECT_THAT(std::string(ParseSize("99999999999999999999999").status().message()),
              HasSubstr("too large"));
}

TEST(ConfigErrors, DurationValues) {
  EXPECT_THAT(ErrorOf(WithTail("global:\n  port: 80\n  timeouts:\n    keepalive: 0s\n")),
              AllOf(StartsWith("test.yaml:4:16: 'keepalive' in global.timeouts: duration '0s' is "
                               "zero"),
                    HasSubstr("greater than zero")));
  EXPECT_THAT(ErrorOf(WithTail("global:\n  port: 80\n  timeouts:\n    shutdown: 5x\n")),
              AllOf(StartsWith("test.yaml:4:15: 'shutdown' in global.timeouts: '5x' is not a "
                               "duration"),
                    HasSubstr("250ms, 5s, 2m or 1h")));
  EXPECT_THAT(ErrorOf(WithTail("global:\n  port: 80\n  timeouts:\n    client_body: 1.5\n")),
              AllOf(StartsWith("test.yaml:4:18: 'client_body' in global.timeouts must be a "
                               "duration"),
                    HasSubstr("found a number (1.5)"), HasSubstr("1500ms")));
  EXPECT_THAT(ErrorOf(WithTail("global:\n  port: 80\n  timeouts:\n    client_header: 50000h\n")),
              StartsWith("test.yaml:4:20: 'client_header' in global.timeouts: duration '50000h' "
                         "is too long"));
}

TEST(ConfigErrors, SizeAndCountRanges) {
  EXPECT_THAT(ErrorOf(WithTail("global:\n  port: 80\n  limits:\n    max_header_size: 2m\n")),
              AllOf(StartsWith("test.yaml:4:22: 'max_header_size' in global.limits is 2m "
                               "(2097152 bytes), out of range"),
                    HasSubstr("use 1k to 1m")));
  EXPECT_THAT(ErrorOf(WithTail("global:\n  port: 80\n  limits:\n    max_request_line: 8q\n")),
              StartsWith("test.yaml:4:23: 'max_request_line' in global.limits: '8q' is not a "
                         "size"));
  EXPECT_THAT(ErrorOf(WithTail("global:\n  port: 80\n  limits:\n    max_headers: 10001\n")),
              StartsWith("test.yaml:4:18: 'max_headers' in global.limits is 10001, out of range; "
                         "use a value from 1 to 10000"));
  EXPECT_THAT(ErrorOf(WithTail("global:\n  port: 80\n  limits:\n    max_headers: 0\n")),
              StartsWith("test.yaml:4:18: 'max_headers' in global.limits is 0, out of range"));
  EXPECT_THAT(ErrorOf(WithTail("global:\n  port: 80\n  limits:\n    max_connections: 2000000\n")),
              StartsWith("test.yaml:4:22: 'max_connections' in global.limits is 2000000, out of "
                         "range"));
  EXPECT_THAT(ErrorOf(WithTail("global:\n  port: 80\n  buffers:\n    size: 24k\n")),
              AllOf(StartsWith("test.yaml:4:11: 'size' in global.buffers is 24k (24576 bytes), "
                               "not a power of two"),
                    HasSubstr("16k, 32k")));
  EXPECT_THAT(ErrorOf(WithTail("global:\n  port: 80\n  buffers:\n    size: 2k\n")),
              AllOf(StartsWith("test.yaml:4:11: 'size' in global.buffers is 2k (2048 bytes), out "
                               "of range"),
                    HasSubstr("use 4k to 1m")));
  EXPECT_THAT(ErrorOf(WithTail("global:\n  port: 80\n  buffers:\n    count: 1000\n")),
              AllOf(StartsWith("test.yaml:4:12: 'count' in global.buffers is 1000, not a power "
                               "of two"),
                    HasSubstr("16, 32, 64")));
  EXPECT_THAT(ErrorOf(WithTail("global:\n  port: 80\n  buffers:\n    count: 8\n")),
              StartsWith("test.yaml:4:12: 'count' in global.buffers is 8, out of range; use a "
                         "value from 16 to 32768"));
}

TEST(ConfigLoad, SizesAndDurationsInPlace) {
  Config cfg = MustLoad(WithTail(R"yaml(global:
  port: 80
  timeouts: {client_header: 1500ms, keepalive: "90"}
  limits: {max_body_size: 2g, max_request_line: 512, max_header_size: 1m}
  buffers: {size: 4k, count: 16}
)yaml"));
  EXPECT_EQ(cfg.timeouts.client_header_ms, 1500u);
  EXPECT_EQ(cfg.timeouts.keepalive_ms, 90'000u);
  EXPECT_EQ(cfg.limits.max_body_size, uint64_t{2} << 30);
  EXPECT_EQ(cfg.limits.max_request_line, 512u);
  EXPECT_EQ(cfg.limits.max_header_size, 1u << 20);
  EXPECT_EQ(cfg.buffers.size, 4096u);
  EXPECT_EQ(cfg.buffers.count, 16u);
}

// ---------------------------------------------------------------------------------------------
// Addresses

TEST(Address, Ipv4) {
  absl::StatusOr<SocketAddress> a = ParseSocketAddress("10.1.2.3:3001");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->text, "10.1.2.3:3001");
  EXPECT_EQ(a->storage.ss_family, AF_INET);
  EXPECT_EQ(a->len, sizeof(sockaddr_in));
  EXPECT_EQ(IpOf(*a), "10.1.2.3");
  EXPECT_EQ(PortOf(*a), 3001);
}

TEST(Address, Ipv6IsNormalised) {
  absl::StatusOr<SocketAddress> a = ParseSocketAddress("[0:0:0:0:0:0:0:1]:3001");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->text, "[::1]:3001");
  EXPECT_EQ(a->storage.ss_family, AF_INET6);
  EXPECT_EQ(a->len, sizeof(sockaddr_in6));
  EXPECT_EQ(IpOf(*a), "::1");
  EXPECT_EQ(PortOf(*a), 3001);
  EXPECT_EQ(ParseSocketAddress("[FE80::1]:80")->text, "[fe80::1]:80");
}

TEST(Address, PortOnlyMeansAllIpv4) {
  absl::StatusOr<SocketAddress> a = ParseSocketAddress(":8080");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->text, "0.0.0.0:8080");
  EXPECT_EQ(a->storage.ss_family, AF_INET);
  EXPECT_EQ(PortOf(*a), 8080);
}

TEST(Address, Localhost) {
  absl::StatusOr<SocketAddress> a = ParseSocketAddress("localhost:65535");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->text, "127.0.0.1:65535");
  EXPECT_EQ(IpOf(*a), "127.0.0.1");
  EXPECT_EQ(PortOf(*a), 65535);
}

TEST(Address, Bad) {
  auto message = [](std::string_view text) {
    absl::StatusOr<SocketAddress> a = ParseSocketAddress(text);
    EXPECT_FALSE(a.ok()) << text;
    return a.ok() ? std::string("(parsed)") : std::string(a.status().message());
  };
  EXPECT_THAT(message("backend.local:3001"),
              HasSubstr("host names are not resolved; write an IP address such as "
                        "127.0.0.1:3001"));
  EXPECT_THAT(message("127.0.0.1"), HasSubstr("missing port"));
  EXPECT_THAT(message("127.0.0.1:"), HasSubstr("port '' is not a number"));
  EXPECT_THAT(message("127.0.0.1:http"), HasSubstr("port 'http' is not a number"));
  EXPECT_THAT(message("127.0.0.1:0"), HasSubstr("port 0 is out of range"));
  EXPECT_THAT(message("127.0.0.1:65536"), HasSubstr("port 65536 is out of range"));
  EXPECT_THAT(message("127.0.0.1:99999999999"), HasSubstr("out of range"));
  EXPECT_THAT(message("256.0.0.1:80"), HasSubstr("'256.0.0.1' is not an IPv4 address"));
  EXPECT_THAT(message("::1:80"), HasSubstr("needs brackets"));
  EXPECT_THAT(message("[::1]"), HasSubstr("missing port after ']'"));
  EXPECT_THAT(message("[::1:80"), HasSubstr("missing ']'"));
  EXPECT_THAT(message("[::g]:80"), HasSubstr("'::g' is not an IPv6 address"));
  EXPECT_THAT(message(""), HasSubstr("empty address"));
}

TEST(ConfigErrors, BadAddressesCarryTheirPosition) {
  EXPECT_THAT(ErrorOf(R"yaml(global: {port: 80}
servers: [{server_name: acme.com, upstream: web}]
upstreams:
  - name: web
    servers: ["back_end.local:3001"]
)yaml"),
              StartsWith("test.yaml:5:15: server #1 of upstream 'web': address "
                         "'back_end.local:3001': 'back_end.local' is not a valid host name: '_' "
                         "is not allowed in a host name"));
  EXPECT_THAT(ErrorOf("listeners: [{name: a, bind: 8080}]\n" + std::string(kTail)),
              AllOf(StartsWith("test.yaml:1:29: 'bind' in listener 'a' must be an address "
                               "string, found an integer (8080)"),
                    HasSubstr("\":8080\"")));
  EXPECT_THAT(ErrorOf("listeners: [{name: a, bind: \"1.2.3.4:0\"}]\n" + std::string(kTail)),
              StartsWith("test.yaml:1:29: 'bind' in listener 'a': address '1.2.3.4:0': port 0 is "
                         "out of range"));
}

// ---------------------------------------------------------------------------------------------
// YAML itself, and files

TEST(ConfigErrors, YamlSyntaxErrorHasLibyamlPosition) {
  std::string e = ErrorOf("global: port: 8080\n");
  EXPECT_THAT(e, StartsWith("test.yaml:1:13: invalid YAML: mapping values are not allowed in this "
                            "context"));
  EXPECT_THAT(ErrorOf("global:\n  port: 80\n  tls: {cert: a\n"),
              AllOf(StartsWith("test.yaml:4:1: invalid YAML: did not find expected ',' or '}'"),
                    HasSubstr("while parsing a flow mapping at line 3, column 8")));
}

TEST(ConfigErrors, InvalidUtf8) {
  EXPECT_THAT(ErrorOf("global:\n  port: 80\n  x: \"a\xff\"\n"),
              AllOf(StartsWith("test.yaml:3:8: invalid YAML: invalid leading UTF-8 octet"),
                    HasSubstr("UTF-8")));
}

TEST(ConfigErrors, EmptyDocument) {
  EXPECT_THAT(ErrorOf(""), StartsWith("test.yaml:1:1: the configuration is empty"));
  EXPECT_THAT(ErrorOf("# only a comment\n"),
              StartsWith("test.yaml:1:1: the configuration is empty"));
}

TEST(ConfigErrors, SecondDocument) {
  std::string e = ErrorOf(std::string(kOriginal) + "---\nglobal: {port: 81}\n");
  EXPECT_THAT(e, StartsWith("test.yaml:18:1: a second YAML document starts here"));
}

TEST(ConfigErrors, AliasLoopsAndBombsAreRefused) {
  EXPECT_THAT(ErrorOf("global: &g {port: *g}\n"), StartsWith("test.yaml:1:19: unknown alias '*g'"));
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char c = 'b'; c <= 'h'; ++c) {
    bomb += absl::StrFormat("%c: &%c [*%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c]\n", c, c,
                            c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1);
  }
  EXPECT_THAT(ErrorOf(bomb), HasSubstr("once aliases are expanded"));
  std::string deep(200, '[');
  EXPECT_THAT(ErrorOf("a: " + deep + "\n"), HasSubstr("nested more than 64 levels deep"));
}

class ConfigFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/ringway_config_test_XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
  }
  void TearDown() override {
    for (const std::string& f : files_) std::remove(f.c_str());
    rmdir(dir_.c_str());
  }
  std::string Write(std::string_view name, std::string_view text) {
    std::string path = dir_ + "/" + std::string(name);
    FILE* f = std::fopen(path.c_str(), "wb");
    EXPECT_NE(f, nullptr);
    std::fwrite(text.data(), 1, text.size(), f);
    std::fclose(f);
    files_.push_back(path);
    return path;
  }
  std::string dir_;
  std::vector<std::string> files_;
};

TEST_F(ConfigFile, LoadsAndRecordsSource) {
  std::string path = Write("ringway.yaml", kOriginal);
  absl::StatusOr<Config> cfg = LoadFile(path);
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  EXPECT_EQ(cfg->source, path);
  EXPECT_EQ(cfg->servers.size(), 2u);
}

TEST_F(ConfigFile, ErrorsNameThePath) {
  std::string path = Write("bad.yaml", "global:\n  port: 0\n");
  absl::StatusOr<Config> cfg = LoadFile(path);
  ASSERT_FALSE(cfg.ok());
  EXPECT_THAT(std::string(cfg.status().message()), StartsWith(path + ":2:9: 'port' in global"));
}

TEST_F(ConfigFile, MissingFile) {
  std::string path = dir_ + "/missing.yaml";
  absl::StatusOr<Config> cfg = LoadFile(path);
  ASSERT_FALSE(cfg.ok());
  EXPECT_EQ(cfg.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(cfg.status().message()),
              AllOf(HasSubstr(path), HasSubstr("No such file or directory")));
}

TEST_F(ConfigFile, DirectoryIsNotAFile) {
  absl::StatusOr<Config> cfg = LoadFile(dir_);
  ASSERT_FALSE(cfg.ok());
  EXPECT_THAT(std::string(cfg.status().message()),
              AllOf(HasSubstr(dir_), HasSubstr("Is a directory")));
}

}  // namespace
}  // namespace ringway::config
