// What ringway speaks to an upstream's backends (`protocol: http1 | h2 | h2c`, and how it goes
// with `tls`), and the gRPC health checks that only an HTTP/2 upstream (h2c or h2) can have.
#include <string>
#include <string_view>

#include "config/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/config/load_util.h"

namespace ringway::config {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
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

std::string Up(std::string_view lines) { return std::string(kHead) + std::string(lines); }

Upstream UpOf(std::string_view lines) {
  Config cfg = MustLoad(Up(lines));
  return cfg.upstreams.empty() ? Upstream{} : cfg.upstreams[0];
}

// ---------------------------------------------------------------------------------------------
// protocol

TEST(UpstreamProtocol, Http1IsTheDefault) {
  Upstream u = UpOf("");
  EXPECT_EQ(u.protocol, UpstreamProtocol::kHttp1);
  EXPECT_FALSE(u.tls.enabled);
  EXPECT_EQ(UpOf("    protocol: http1\n").protocol, UpstreamProtocol::kHttp1);
  EXPECT_EQ(UpOf("    protocol: http/1.1\n").protocol, UpstreamProtocol::kHttp1);
  // HTTP/1.1 goes over TLS as well as without it.
  u = UpOf("    protocol: http1\n    tls: true\n");
  EXPECT_EQ(u.protocol, UpstreamProtocol::kHttp1);
  EXPECT_TRUE(u.tls.enabled);
}

// A server's tls: true turns TLS on for its upstream: with protocol h2c that is a contradiction,
// and a gRPC check (cleartext only) could never pass.
TEST(UpstreamProtocol, ServerTlsMeetsH2c) {
  const std::string err = ErrorOf(R"yaml(global: {port: 80}
servers: [{server_name: acme.com, upstream: web, tls: true}]
upstreams:
  - name: web
    protocol: h2c
    servers: ["127.0.0.1:3001"]
)yaml");
  EXPECT_THAT(err, AllOf(HasSubstr(":4:"), HasSubstr("protocol: h2c"), HasSubstr("tls: true")));
}

TEST(UpstreamProtocol, KeepalivePing) {
  Upstream u = UpOf("    protocol: h2c\n");
  EXPECT_EQ(u.ping_interval_ms, 30'000u);
  EXPECT_EQ(u.ping_timeout_ms, 10'000u);
  u = UpOf("    protocol: h2c\n    keepalive_ping: {interval: 5s, timeout: 500ms}\n");
  EXPECT_EQ(u.ping_interval_ms, 5'000u);
  EXPECT_EQ(u.ping_timeout_ms, 500u);
  // PING frames are HTTP/2's: on an HTTP/1 upstream the key is a mistake.
  EXPECT_THAT(ErrorOf(Up("    keepalive_ping: {interval: 5s}\n")),
              AllOf(HasSubstr(":6:"), HasSubstr("protocol: h2c")));
  EXPECT_THAT(ErrorOf(Up("    protocol: h2c\n    keepalive_ping: {every: 5s}\n")),
              HasSubstr("every"));
  EXPECT_THAT(ErrorOf(Up("    protocol: h2c\n    keepalive_ping: {timeout: 0s}\n")),
              HasSubstr("timeout"));
}

TEST(UpstreamProtocol, H2WithTls) {
  Upstream u = UpOf("    protocol: h2\n    tls: true\n");
  EXPECT_EQ(u.protocol, UpstreamProtocol::kH2);
  EXPECT_TRUE(u.tls.enabled);
  // Written in either order, and with a tls mapping.
  u = UpOf("    tls: {server_name: api.internal, verify: false}\n    protocol: h2\n");
  EXPECT_EQ(u.protocol, UpstreamProtocol::kH2);
  EXPECT_EQ(u.tls.server_name, "api.internal");
}

TEST(UpstreamProtocol, H2c) {
  Upstream u = UpOf("    protocol: h2c\n");
  EXPECT_EQ(u.protocol, UpstreamProtocol::kH2c);
  EXPECT_FALSE(u.tls.enabled);
  EXPECT_EQ(UpOf("    protocol: h2c\n    tls: false\n").protocol, UpstreamProtocol::kH2c);
}

TEST(UpstreamProtocolErrors, H2WithoutTls) {
  EXPECT_EQ(ErrorOf(Up("    protocol: h2\n")),
            "test.yaml:6:15: protocol: h2 in upstream 'web' is HTTP/2 over TLS, but the upstream "
            "has no tls; add tls: true, or write protocol: h2c for HTTP/2 in cleartext");
  EXPECT_THAT(ErrorOf(Up("    protocol: h2\n    tls: false\n")),
              AllOf(StartsWith("test.yaml:6:15: "), HasSubstr("add tls: true")));
}

TEST(UpstreamProtocolErrors, H2cWithTls) {
  EXPECT_EQ(ErrorOf(Up("    protocol: h2c\n    tls: true\n")),
            "test.yaml:6:15: protocol: h2c in upstream 'web' is HTTP/2 in cleartext, but the "
            "upstream has tls; write protocol: h2 for HTTP/2 over TLS, or remove tls");
  EXPECT_THAT(ErrorOf(Up("    tls: {verify: false}\n    protocol: h2c\n")),
              AllOf(StartsWith("test.yaml:7:15: "), HasSubstr("has tls")));
}

TEST(UpstreamProtocolErrors, UnknownValue) {
  EXPECT_EQ(ErrorOf(Up("    protocol: http2\n")),
            "test.yaml:6:15: unknown protocol 'http2' in upstream 'web'; write http1, h2 (HTTP/2 "
            "over TLS) or h2c (HTTP/2 in cleartext)");
  EXPECT_THAT(ErrorOf(Up("    protocol: H2C\n")),
              StartsWith("test.yaml:6:15: unknown protocol 'H2C' in upstream 'web'"));
  EXPECT_THAT(ErrorOf(Up("    protocol: [h2c]\n")), StartsWith("test.yaml:6:15: "));
}

// ---------------------------------------------------------------------------------------------
// Health checks of type grpc

TEST(GrpcHealthCheck, OnAnH2cUpstream) {
  Upstream u = UpOf("    protocol: h2c\n    health_check: {type: grpc}\n");
  EXPECT_EQ(u.health.type, HealthCheck::Type::kGrpc);
  EXPECT_EQ(u.health.service, "");
  EXPECT_EQ(u.health.host, "");
  EXPECT_TRUE(u.health.enabled);

  u = UpOf(
      "    protocol: h2c\n"
      "    health_check: {type: grpc, service: my.pkg.Greeter, host: grpc.internal, interval: "
      "200ms, timeout: 150ms, rise: 1, fall: 2}\n");
  EXPECT_EQ(u.health.type, HealthCheck::Type::kGrpc);
  EXPECT_EQ(u.health.service, "my.pkg.Greeter");
  EXPECT_EQ(u.health.host, "grpc.internal");
  EXPECT_EQ(u.health.interval_ms, 200u);
  EXPECT_EQ(u.health.timeout_ms, 150u);
  EXPECT_EQ(u.health.rise, 1u);
  EXPECT_EQ(u.health.fall, 2u);

  // An empty service is the whole server, as when it is not given.
  u = UpOf("    protocol: h2c\n    health_check: {type: grpc, service: \"\"}\n");
  EXPECT_EQ(u.health.service, "");
}

TEST(GrpcHealthCheck, TakesTheGlobalTimings) {
  Config cfg = MustLoad(R"yaml(global:
  port: 80
  health_check: {interval: 5s, timeout: 2s, fall: 4}
servers: [{server_name: acme.com, upstream: g}]
upstreams:
  - {name: g, protocol: h2c, servers: ["127.0.0.1:50051"], health_check: {type: grpc}}
  - {name: w, servers: ["127.0.0.1:3001"]}
)yaml");
  ASSERT_EQ(cfg.upstreams.size(), 2u);
  EXPECT_EQ(cfg.upstreams[0].health.type, HealthCheck::Type::kGrpc);
  EXPECT_EQ(cfg.upstreams[0].health.interval_ms, 5000u);
  EXPECT_EQ(cfg.upstreams[0].health.fall, 4u);
  EXPECT_EQ(cfg.upstreams[1].health.type, HealthCheck::Type::kTcp);
  EXPECT_EQ(cfg.default_health.type, HealthCheck::Type::kTcp);
}

TEST(GrpcHealthCheck, OverTlsOnAnH2Upstream) {
  Upstream u = UpOf(
      "    protocol: h2\n    tls: {server_name: g.internal}\n    health_check:\n      type: "
      "grpc\n      service: my.Svc\n");
  EXPECT_EQ(u.protocol, UpstreamProtocol::kH2);
  EXPECT_TRUE(u.tls.enabled);
  EXPECT_EQ(u.health.type, HealthCheck::Type::kGrpc);
  EXPECT_EQ(u.health.service, "my.Svc");
  EXPECT_TRUE(u.health.enabled);
}

TEST(GrpcHealthCheckErrors, NeedsHttp2) {
  EXPECT_EQ(ErrorOf(Up("    health_check:\n      type: grpc\n")),
            "test.yaml:7:13: type: grpc in the health_check of upstream 'web' needs HTTP/2, and "
            "the upstream speaks HTTP/1.1 (http1, the default); add protocol: h2c for a gRPC "
            "service in cleartext, or use type: tcp or http");
  EXPECT_EQ(ErrorOf(Up("    protocol: http1\n    health_check: {type: grpc}\n")),
            "test.yaml:7:26: type: grpc in the health_check of upstream 'web' needs HTTP/2, and "
            "the upstream speaks HTTP/1.1 (protocol: http1 (line 6)); add protocol: h2c for a "
            "gRPC service in cleartext, or use type: tcp or http");
  // The type is wrong for the upstream even while its checks are off.
  EXPECT_THAT(ErrorOf(Up("    health_check: {type: grpc, enabled: false}\n")),
              AllOf(StartsWith("test.yaml:6:26: "), HasSubstr("needs HTTP/2")));
}

TEST(GrpcHealthCheckErrors, NotInGlobalHealthCheck) {
  EXPECT_EQ(ErrorOf(R"yaml(global:
  port: 80
  health_check: {type: grpc}
servers: [{server_name: acme.com, upstream: web}]
upstreams: [{name: web, protocol: h2c, servers: ["127.0.0.1:3001"]}]
)yaml"),
            "test.yaml:3:24: type: grpc in global.health_check would apply to every upstream, "
            "and gRPC checks need HTTP/2 (protocol: h2c or h2); write health_check: {type: "
            "grpc} in each such upstream instead");
}

TEST(GrpcHealthCheckErrors, HttpCheckKeysBesideIt) {
  EXPECT_EQ(ErrorOf(Up("    protocol: h2c\n    health_check:\n      type: grpc\n      path: /x\n")),
            "test.yaml:9:13: 'path' in health_check of upstream 'web' is given, but 'type' is "
            "grpc (line 8, column 13), and a gRPC check always sends POST "
            "/grpc.health.v1.Health/Check and passes on SERVING; remove 'path' (name the gRPC "
            "service under 'service')");
  EXPECT_THAT(ErrorOf(Up("    protocol: h2c\n    health_check: {type: grpc, method: HEAD}\n")),
              AllOf(StartsWith("test.yaml:7:40: 'method' in health_check of upstream 'web' is "
                               "given, but 'type' is grpc"),
                    HasSubstr("remove 'method'")));
  EXPECT_THAT(
      ErrorOf(Up("    protocol: h2c\n    health_check: {type: grpc, expect: 200}\n")),
      AllOf(StartsWith("test.yaml:7:40: 'expect' in health_check"), HasSubstr("remove 'expect'")));
}

TEST(GrpcHealthCheckErrors, ServiceWithoutGrpc) {
  EXPECT_EQ(ErrorOf(Up("    protocol: h2c\n    health_check: {service: my.Svc}\n")),
            "test.yaml:7:29: 'service' in health_check of upstream 'web' names a gRPC service, "
            "but the check is not a gRPC one; add type: grpc beside it (for an upstream with "
            "protocol: h2c), or remove 'service'");
  EXPECT_THAT(ErrorOf(Up("    health_check: {type: http, service: my.Svc}\n")),
              StartsWith("test.yaml:6:41: 'service' in health_check of upstream 'web' names a "
                         "gRPC service, but the check is not a gRPC one"));
}

TEST(GrpcHealthCheckErrors, BadServiceNames) {
  EXPECT_EQ(ErrorOf(Up("    protocol: h2c\n    health_check: {type: grpc, service: \"my svc\"}\n")),
            "test.yaml:7:41: 'service' in health_check of upstream 'web' is 'my svc'; write a "
            "gRPC service name such as my.package.MyService (at most 255 bytes, no spaces or "
            "control characters), or \"\" for the whole server");
  EXPECT_THAT(ErrorOf(Up("    protocol: h2c\n    health_check: {type: grpc, service: " +
                         std::string(256, 's') + "}\n")),
              AllOf(StartsWith("test.yaml:7:41: 'service'"), HasSubstr("at most 255 bytes")));
  EXPECT_EQ(UpOf("    protocol: h2c\n    health_check: {type: grpc, service: " +
                 std::string(255, 's') + "}\n")
                .health.service.size(),
            255u);
  EXPECT_THAT(ErrorOf(Up("    protocol: h2c\n    health_check: {type: grpc, service: [a]}\n")),
              StartsWith("test.yaml:7:41: "));
}

TEST(GrpcHealthCheckErrors, BesideABackendHealthCheckPath) {
  EXPECT_EQ(ErrorOf(R"yaml(global: {port: 80}
servers: [{server_name: acme.com, upstream: web}]
upstreams:
  - name: web
    protocol: h2c
    servers:
      - address: "127.0.0.1:3002"
        health_check_path: /health
    health_check:
      type: grpc
)yaml"),
            "test.yaml:8:28: 'health_check_path' asks for an HTTP check, but the health_check of "
            "upstream 'web' says type: grpc (line 10, column 13); remove one of them");
}

TEST(GrpcHealthCheckErrors, TypeSpelling) {
  EXPECT_EQ(ErrorOf(Up("    protocol: h2c\n    health_check: {type: GRPC}\n")),
            "test.yaml:7:26: health check type 'GRPC' in health_check of upstream 'web' is not "
            "known; write it in lower case: grpc");
}

}  // namespace
}  // namespace ringway::config
