// TLS settings: listener certificates, global.tls for global.port, client certificates,
// versions, ALPN, tickets, HTTPS redirects, HSTS and upstream TLS, with their errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "config/config.h"
#include "tests/config/load_util.h"

namespace ringway::config {
namespace {

using ::testing::HasSubstr;

using testutil::ErrorOf;
using testutil::MustLoad;

constexpr std::string_view kTail = R"yaml(servers:
  - server_name: acme.com
    upstream: web
upstreams:
  - name: web
    servers: ["127.0.0.1:3001"]
)yaml";

std::string With(std::string_view head) { return std::string(head) + std::string(kTail); }

TEST(TlsConfig, GlobalTlsTerminatesOnGlobalPort) {
  Config cfg =
      MustLoad(With("global:\n  port: 443\n  tls: {cert: /c.pem, key: /k.pem, ca: "
                    "/ca.pem}\n"));
  ASSERT_EQ(cfg.listeners.size(), 1u);
  const ListenerTls& t = cfg.listeners[0].tls;
  EXPECT_TRUE(t.enabled);
  ASSERT_EQ(t.certificates.size(), 1u);
  EXPECT_EQ(t.certificates[0].cert, "/c.pem");
  EXPECT_EQ(t.certificates[0].key, "/k.pem");
  EXPECT_EQ(t.certificates[0].at, "test.yaml:3:15");
  EXPECT_EQ(t.ca, "/ca.pem");
  EXPECT_FALSE(t.client_cert_optional);
  EXPECT_EQ(t.min_version, TlsVersion::k12);
  EXPECT_EQ(t.alpn, (std::vector<std::string>{"h2", "http/1.1"}));  // h2 preferred
  EXPECT_TRUE(t.session_tickets);
  EXPECT_EQ(t.ticket_rotation_ms, 3'600'000u);
}

TEST(TlsConfig, ListenerCertificateListWithDefaultFirst) {
  Config cfg = MustLoad(With(R"yaml(listeners:
  - name: public
    bind: "127.0.0.1:8443"
    tls:
      cert: /a.pem
      key: /a.key
      certificates:
        - {cert: /b.pem, key: /b.key, server_names: ["API.example", "*.b.example"]}
        - {cert: /c.pem, key: /c.key}
      ca: /clients.pem
      client_certificate: optional
      min_version: "1.3"
      alpn: ["http/1.1"]
      session_tickets: false
      ticket_rotation: 30m
  - name: plain
    bind: "127.0.0.1:8080"
)yaml"));
  ASSERT_EQ(cfg.listeners.size(), 2u);
  const ListenerTls& t = cfg.listeners[0].tls;
  ASSERT_EQ(t.certificates.size(), 3u);
  EXPECT_EQ(t.certificates[0].cert, "/a.pem");
  EXPECT_EQ(t.certificates[1].server_names,
            (std::vector<std::string>{"api.example", "*.b.example"}));
  EXPECT_EQ(t.certificates[2].cert, "/c.pem");
  EXPECT_TRUE(t.client_cert_optional);
  EXPECT_EQ(t.min_version, TlsVersion::k13);
  EXPECT_FALSE(t.session_tickets);
  EXPECT_EQ(t.ticket_rotation_ms, 1'800'000u);
  EXPECT_FALSE(cfg.listeners[1].tls.enabled);
}

TEST(TlsConfig, Errors) {
  EXPECT_THAT(ErrorOf(With("global:\n  tls: {cert: /c.pem, key: /k.pem}\nlisteners: [{name: a, "
                           "bind: \"127.0.0.1:1\"}]\n")),
              HasSubstr("test.yaml:2:8: global.tls terminates TLS on global.port, and there is "
                        "no global.port"));
  EXPECT_THAT(ErrorOf(With("global:\n  port: 443\n  tls: {cert: /c.pem}\n")),
              HasSubstr("test.yaml:3:8: global.tls has no 'key'"));
  EXPECT_THAT(ErrorOf(With("global:\n  port: 443\n  tls: {ca: /ca.pem}\n")),
              HasSubstr("names no certificate; add cert:"));
  EXPECT_THAT(ErrorOf(With("global:\n  port: 443\n  tls: {cert: /c, key: /k, crt: /x}\n")),
              HasSubstr("test.yaml:3:28: unknown key 'crt' in global.tls; did you mean 'cert'?"));
  EXPECT_THAT(ErrorOf(With("global:\n  port: 443\n  tls: {cert: /c, key: /k, "
                           "client_certificate: optional}\n")),
              HasSubstr("needs 'ca' beside it"));
  EXPECT_THAT(ErrorOf(With("global:\n  port: 443\n  tls: {cert: /c, key: /k, ca: /ca, "
                           "client_certificate: maybe}\n")),
              HasSubstr("must be \"required\" or \"optional\""));
  EXPECT_THAT(ErrorOf(With("global:\n  port: 443\n  tls: {cert: /c, key: /k, min_version: "
                           "\"1.1\"}\n")),
              HasSubstr("TLS 1.0 and 1.1 are not offered"));
  EXPECT_THAT(ErrorOf(With("global:\n  port: 443\n  tls: {cert: /c, key: /k, alpn: [spdy/3]}\n")),
              HasSubstr("'spdy/3' in 'alpn' of global.tls is not a protocol ringway speaks; use "
                        "\"h2\" and \"http/1.1\""));
  EXPECT_THAT(ErrorOf(With("global:\n  port: 443\n  tls: {cert: /c, key: /k, ticket_rotation: "
                           "10ms}\n")),
              HasSubstr("ticket_rotation"));
  EXPECT_THAT(ErrorOf(With("global:\n  port: 443\n  tls: {cert: /c, key: /k, certificates: "
                           "[{cert: /d}]}\n")),
              HasSubstr("certificate #1 in global.tls has no 'key'"));
  EXPECT_THAT(ErrorOf(With("global:\n  port: 443\n  tls: {ocsp: /o, certificates: "
                           "[{cert: /d, key: /k}]}\n")),
              HasSubstr("'ocsp' in global.tls belongs to a certificate"));
  EXPECT_THAT(ErrorOf(With("global:\n  port: 443\n  tls: {cert: /c, key: /k, ocsp: /o}\n")),
              HasSubstr("test.yaml:3:34: 'ocsp' in global.tls: OCSP stapling is not supported "
                        "yet"));
}

// HTTP/2: on by default (h2 first in ALPN, h2c recognised); each listener can turn it off; an
// ALPN list written out is kept as written; global.http2 tunes the session.
TEST(TlsConfig, Http2Switches) {
  Config cfg = MustLoad(With(R"yaml(global:
  http2: {max_concurrent_streams: 20, initial_window: 128k, connection_window: 4m,
          max_frame_size: 32k, max_rapid_resets: 50, glitch_budget: 300}
listeners:
  - {name: a, bind: "127.0.0.1:8443", tls: {cert: /a.pem, key: /a.key}}
  - {name: b, bind: "127.0.0.1:8444", http2: false, tls: {cert: /a.pem, key: /a.key}}
  - {name: c, bind: "127.0.0.1:8445", tls: {cert: /a.pem, key: /a.key, alpn: ["http/1.1"]}}
  - {name: d, bind: "127.0.0.1:8080", h2c: false}
  - {name: e, bind: "127.0.0.1:8081"}
)yaml"));
  ASSERT_EQ(cfg.listeners.size(), 5u);
  EXPECT_EQ(cfg.listeners[0].tls.alpn, (std::vector<std::string>{"h2", "http/1.1"}));
  EXPECT_TRUE(cfg.listeners[0].http2);
  EXPECT_EQ(cfg.listeners[1].tls.alpn, (std::vector<std::string>{"http/1.1"}));
  EXPECT_FALSE(cfg.listeners[1].http2);
  EXPECT_EQ(cfg.listeners[2].tls.alpn, (std::vector<std::string>{"http/1.1"}));
  EXPECT_FALSE(cfg.listeners[3].h2c);
  EXPECT_TRUE(cfg.listeners[4].h2c);
  EXPECT_EQ(cfg.http2.max_concurrent_streams, 20u);
  EXPECT_EQ(cfg.http2.initial_window, 128u * 1024);
  EXPECT_EQ(cfg.http2.connection_window, 4u << 20);
  EXPECT_EQ(cfg.http2.max_frame_size, 32u * 1024);
  EXPECT_EQ(cfg.http2.max_rapid_resets, 50u);
  EXPECT_EQ(cfg.http2.glitch_budget, 300u);

  const Config defaults = MustLoad(With("global:\n  port: 8080\n"));
  EXPECT_EQ(defaults.http2.max_concurrent_streams, 100u);
  EXPECT_EQ(defaults.http2.initial_window, 65535u);

  EXPECT_THAT(ErrorOf(With("listeners:\n  - {name: a, bind: \"127.0.0.1:8443\", http2: false, "
                           "tls: {cert: /a, key: /k, alpn: [h2]}}\n")),
              HasSubstr("has http2: false, and its tls.alpn offers \"h2\""));
  EXPECT_THAT(ErrorOf(With("global:\n  http2: {initial_window: 100}\n")),
              HasSubstr("initial_window"));
  EXPECT_THAT(ErrorOf(With("global:\n  http2: {max_frame_size: 16m}\n")),
              HasSubstr("max_frame_size"));
  EXPECT_THAT(ErrorOf(With("global:\n  http2: {streams: 5}\n")), HasSubstr("streams"));
  EXPECT_THAT(ErrorOf(With("listeners:\n  - {name: a, bind: \"127.0.0.1:80\", h2c: maybe}\n")),
              HasSubstr("h2c"));
}

TEST(TlsConfig, MinVersionSpellings) {
  for (const char* v : {"1.2", "\"1.2\"", "TLSv1.2", "tls1.2"}) {
    Config cfg = MustLoad(With(std::string("global:\n  port: 443\n  tls: {cert: /c, key: /k, "
                                           "min_version: ") +
                               v + "}\n"));
    EXPECT_EQ(cfg.listeners[0].tls.min_version, TlsVersion::k12) << v;
  }
}

TEST(TlsConfig, RedirectAndHsts) {
  Config cfg = MustLoad(R"yaml(global: {port: 80}
servers:
  - server_name: a.com
    upstream: web
    redirect_https: true
    hsts: true
  - server_name: b.com
    upstream: web
    hsts: "max-age=63072000; includeSubDomains; preload"
  - server_name: c.com
    upstream: web
upstreams:
  - name: web
    servers: ["127.0.0.1:3001"]
)yaml");
  EXPECT_TRUE(cfg.servers[0].redirect_https);
  EXPECT_EQ(cfg.servers[0].hsts, "max-age=31536000");
  EXPECT_EQ(cfg.servers[1].hsts, "max-age=63072000; includeSubDomains; preload");
  EXPECT_FALSE(cfg.servers[2].redirect_https);
  EXPECT_EQ(cfg.servers[2].hsts, "");
  EXPECT_THAT(ErrorOf(R"yaml(global: {port: 80}
servers:
  - server_name: a.com
    upstream: web
    hsts: "1 year"
upstreams:
  - name: web
    servers: ["127.0.0.1:3001"]
)yaml"),
              HasSubstr("test.yaml:5:11: 'hsts' in server 'a.com' must be true, or a header value "
                        "that starts with max-age="));
}

TEST(TlsConfig, UpstreamTls) {
  Config cfg = MustLoad(R"yaml(global: {port: 80}
servers:
  - server_name: a.com
    upstream: plain
  - server_name: b.com
    upstream: by_server
    tls: true
upstreams:
  - name: plain
    servers: ["127.0.0.1:3001"]
  - name: by_server
    servers: ["127.0.0.1:3002"]
  - name: own
    servers: ["127.0.0.1:3003"]
    tls: {ca: /ca.pem, server_name: api.internal}
  - name: unverified
    servers: ["127.0.0.1:3004"]
    tls: {verify: false}
)yaml");
  EXPECT_FALSE(cfg.upstreams[0].tls.enabled);
  EXPECT_TRUE(cfg.upstreams[1].tls.enabled);
  EXPECT_TRUE(cfg.upstreams[1].tls.verify);
  EXPECT_EQ(cfg.upstreams[1].tls.ca, "");  // the system bundle
  EXPECT_TRUE(cfg.upstreams[2].tls.enabled);
  EXPECT_EQ(cfg.upstreams[2].tls.ca, "/ca.pem");
  EXPECT_EQ(cfg.upstreams[2].tls.server_name, "api.internal");
  EXPECT_TRUE(cfg.upstreams[3].tls.enabled);
  EXPECT_FALSE(cfg.upstreams[3].tls.verify);
  EXPECT_THAT(ErrorOf(R"yaml(global: {port: 80}
servers:
  - server_name: a.com
    upstream: web
upstreams:
  - name: web
    servers: ["127.0.0.1:3001"]
    tls: {sni: x}
)yaml"),
              HasSubstr("test.yaml:8:11: unknown key 'sni' in 'tls' in upstream 'web'"));
  EXPECT_THAT(ErrorOf(R"yaml(global: {port: 80}
servers:
  - server_name: a.com
    upstream: web
upstreams:
  - name: web
    servers: ["127.0.0.1:3001"]
    tls: {verify: false, ca: /ca.pem}
)yaml"),
              HasSubstr("test.yaml:8:30: 'ca' in 'tls' in upstream 'web' has no effect with "
                        "verify: false"));
}

// HTTP checks of a TLS upstream speak TLS (the prober's), whether the upstream or a server
// turned TLS on.
TEST(UpstreamTlsConfig, HttpChecksOnTlsUpstreams) {
  Config cfg = MustLoad(R"yaml(global: {port: 80}
servers:
  - server_name: a.com
    upstream: web
    tls: true
  - server_name: b.com
    upstream: api
upstreams:
  - name: web
    servers: ["127.0.0.1:3001"]
    health_check: {path: /health}
  - name: api
    servers:
      - "127.0.0.1:3002"
      - {address: "127.0.0.1:3003", health_check_path: /ready}
    tls: {server_name: api.internal}
)yaml");
  ASSERT_EQ(cfg.upstreams.size(), 2u);
  EXPECT_TRUE(cfg.upstreams[0].tls.enabled);
  EXPECT_EQ(cfg.upstreams[0].health.type, HealthCheck::Type::kHttp);
  EXPECT_EQ(cfg.upstreams[0].health.path, "/health");
  EXPECT_TRUE(cfg.upstreams[1].tls.enabled);
  EXPECT_EQ(cfg.upstreams[1].backends[1].health_check_path, "/ready");
}

}  // namespace
}  // namespace ringway::config
