// Self-signed listener certificates: the PEM pair parses, carries the names (DNS and IP), the
// CN, the validity (an hour back, 90 days on) and a fresh key and serial each time; a server
// context serves it and a client completes a handshake against it; BuildContexts makes one for
// a listener with self_signed from its servers' names. The certificate is also read by the
// openssl command-line tool, a second parser.
#include "tls/self_signed.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
// clang-format off
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
// clang-format on

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "tls/tls.h"

namespace ringway::tls {
namespace {

using Names = std::vector<std::string>;

struct X509Deleter {
  void operator()(WOLFSSL_X509* x) const { wolfSSL_X509_free(x); }
};
using X509Ptr = std::unique_ptr<WOLFSSL_X509, X509Deleter>;

X509Ptr Parse(const std::string& pem) {
  return X509Ptr(
      wolfSSL_X509_load_certificate_buffer(reinterpret_cast<const unsigned char*>(pem.data()),
                                           static_cast<int>(pem.size()), WOLFSSL_FILETYPE_PEM));
}

Names DnsNames(WOLFSSL_X509* x) {
  Names out;
  while (char* n = wolfSSL_X509_get_next_altname(x)) out.emplace_back(n);
  return out;
}

std::string Cn(WOLFSSL_X509* x) {
  char* cn = wolfSSL_X509_get_subjectCN(x);
  return cn ? cn : "";
}

bool HasCertGen() {
  return MakeSelfSigned({"probe.test"}).status().code() != absl::StatusCode::kUnimplemented;
}

#define SKIP_WITHOUT_CERT_GEN()                                              \
  if (!HasCertGen()) {                                                       \
    GTEST_SKIP() << "this wolfSSL was built without certificate generation"; \
  }

// What `openssl x509 -noout <flags>` says of `pem`, or "" when openssl is missing or fails.
std::string OpensslX509(const std::string& pem, const std::string& flags) {
  char path[] = "/tmp/ringway-self-signed-test.XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) return "";
  close(fd);
  std::ofstream(path) << pem;
  const std::string cmd = "openssl x509 -noout " + flags + " -in " + path + " 2>/dev/null";
  std::string out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
    if (pclose(p) != 0) out.clear();
  }
  unlink(path);
  return out;
}

bool HaveOpenssl() { return system("openssl version >/dev/null 2>&1") == 0; }

// "notBefore=Jan  2 03:04:05 2026 GMT" -> seconds since the epoch; -1 if unreadable.
time_t OpensslDate(const std::string& line) {
  const size_t eq = line.find('=');
  if (eq == std::string::npos) return -1;
  tm t{};
  if (strptime(line.c_str() + eq + 1, "%b %d %H:%M:%S %Y GMT", &t) == nullptr) return -1;
  return timegm(&t);
}

void Pump(Session& a, Session& b) {
  if (!a.handshake_done()) a.Handshake();
  if (!b.handshake_done()) b.Handshake();
  for (int i = 0; i < 50; ++i) {
    bool moved = false;
    for (auto [from, to] : {std::pair<Session*, Session*>{&a, &b}, {&b, &a}}) {
      while (from->out_pending() > 0) {
        std::string_view v = from->NextSend();
        to->Feed(v.data(), v.size());
        from->OutSent(v.size());
        moved = true;
      }
    }
    if (!a.handshake_done()) a.Handshake();
    if (!b.handshake_done()) b.Handshake();
    if (!moved) return;
  }
}

TEST(SelfSignedTest, PemPairParsesWithNamesAndCommonName) {
  SKIP_WITHOUT_CERT_GEN();
  absl::StatusOr<PemPair> pair = MakeSelfSigned({"example.com", "*.example.com", "api.test"});
  ASSERT_TRUE(pair.ok()) << pair.status();
  EXPECT_EQ(pair->cert.rfind("-----BEGIN CERTIFICATE-----\n", 0), 0u) << pair->cert;
  EXPECT_NE(pair->cert.find("-----END CERTIFICATE-----"), std::string::npos);
  EXPECT_EQ(pair->key.rfind("-----BEGIN EC PRIVATE KEY-----\n", 0), 0u);
  X509Ptr x = Parse(pair->cert);
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(DnsNames(x.get()), (Names{"example.com", "*.example.com", "api.test"}));
  EXPECT_EQ(Cn(x.get()), "example.com");
  // Valid now, self-issued.
  EXPECT_LT(wolfSSL_X509_cmp_current_time(wolfSSL_X509_get_notBefore(x.get())), 0);
  EXPECT_GT(wolfSSL_X509_cmp_current_time(wolfSSL_X509_get_notAfter(x.get())), 0);
  EXPECT_EQ(wolfSSL_X509_NAME_cmp(wolfSSL_X509_get_subject_name(x.get()),
                                  wolfSSL_X509_get_issuer_name(x.get())),
            0);
}

TEST(SelfSignedTest, NoNamesMeansLocalhost) {
  SKIP_WITHOUT_CERT_GEN();
  absl::StatusOr<PemPair> pair = MakeSelfSigned({});
  ASSERT_TRUE(pair.ok()) << pair.status();
  X509Ptr x = Parse(pair->cert);
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(DnsNames(x.get()), (Names{"localhost"}));
  EXPECT_EQ(Cn(x.get()), "localhost");
}

TEST(SelfSignedTest, RepeatedNamesOnceAndLongFirstNameNotTheCn) {
  SKIP_WITHOUT_CERT_GEN();
  const std::string long_name = std::string(60, 'a') + ".example.com";  // over 63 characters
  absl::StatusOr<PemPair> pair = MakeSelfSigned({long_name, "b.test", long_name, "b.test"});
  ASSERT_TRUE(pair.ok()) << pair.status();
  X509Ptr x = Parse(pair->cert);
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(DnsNames(x.get()), (Names{long_name, "b.test"}));
  EXPECT_EQ(Cn(x.get()), "b.test");
}

TEST(SelfSignedTest, FreshKeyAndSerialEachTime) {
  SKIP_WITHOUT_CERT_GEN();
  absl::StatusOr<PemPair> one = MakeSelfSigned({"a.test"});
  absl::StatusOr<PemPair> two = MakeSelfSigned({"a.test"});
  ASSERT_TRUE(one.ok() && two.ok());
  EXPECT_NE(one->key, two->key);
  EXPECT_NE(one->cert, two->cert);
  X509Ptr x1 = Parse(one->cert);
  X509Ptr x2 = Parse(two->cert);
  ASSERT_TRUE(x1 && x2);
  unsigned char s1[32], s2[32];
  int n1 = sizeof(s1), n2 = sizeof(s2);
  ASSERT_EQ(wolfSSL_X509_get_serial_number(x1.get(), s1, &n1), WOLFSSL_SUCCESS);
  ASSERT_EQ(wolfSSL_X509_get_serial_number(x2.get(), s2, &n2), WOLFSSL_SUCCESS);
  EXPECT_EQ(n1, 16);
  EXPECT_FALSE(n1 == n2 && std::equal(s1, s1 + n1, s2));
  EXPECT_EQ(s1[0] & 0x80, 0);  // positive
}

TEST(SelfSignedTest, TooManyNamesRefused) {
  SKIP_WITHOUT_CERT_GEN();
  Names many;
  for (int i = 0; i < 2000; ++i) many.push_back("host-" + std::to_string(i) + ".example.com");
  absl::StatusOr<PemPair> pair = MakeSelfSigned(many);
  ASSERT_FALSE(pair.ok());
  EXPECT_NE(pair.status().message().find("give the listener a certificate"), std::string::npos)
      << pair.status();
}

// A second parser: openssl reads the names (IP literals as IP addresses), the validity and the
// extensions.
TEST(SelfSignedTest, OpensslReadsIt) {
  SKIP_WITHOUT_CERT_GEN();
  if (!HaveOpenssl()) GTEST_SKIP() << "no openssl command";
  const time_t before_call = time(nullptr);
  absl::StatusOr<PemPair> pair =
      MakeSelfSigned({"example.com", "*.example.com", "10.1.2.3", "[::1]"});
  ASSERT_TRUE(pair.ok()) << pair.status();
  const std::string text = OpensslX509(pair->cert, "-text");
  ASSERT_FALSE(text.empty());
  EXPECT_NE(text.find("DNS:example.com, DNS:*.example.com, IP Address:10.1.2.3, "
                      "IP Address:0:0:0:0:0:0:0:1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("Subject: O = ringway self-signed, CN = example.com"), std::string::npos)
      << text;
  EXPECT_NE(text.find("ecdsa-with-SHA256"), std::string::npos) << text;
  EXPECT_NE(text.find("NIST CURVE: P-256"), std::string::npos) << text;
  EXPECT_NE(text.find("TLS Web Server Authentication"), std::string::npos) << text;

  const std::string start = OpensslX509(pair->cert, "-startdate");
  const std::string end = OpensslX509(pair->cert, "-enddate");
  const time_t not_before = OpensslDate(start);
  const time_t not_after = OpensslDate(end);
  ASSERT_NE(not_before, -1) << start;
  ASSERT_NE(not_after, -1) << end;
  EXPECT_GE(not_before, before_call - 3600 - 1);
  EXPECT_LE(not_before, time(nullptr) - 3600);
  EXPECT_EQ(not_after - not_before, 90 * 86400);

  // The key is the certificate's.
  char key_path[] = "/tmp/ringway-self-signed-key.XXXXXX";
  const int fd = mkstemp(key_path);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(key_path) << pair->key;
  const std::string from_key_cmd = std::string("openssl pkey -pubout -in ") + key_path;
  std::string from_key, from_cert = OpensslX509(pair->cert, "-pubkey");
  if (FILE* p = popen(from_key_cmd.c_str(), "r")) {
    char buf[1024];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0) from_key.append(buf, n);
    pclose(p);
  }
  unlink(key_path);
  EXPECT_FALSE(from_key.empty());
  EXPECT_EQ(from_key, from_cert);
}

config::ListenerTls SelfSignedListener() {
  config::ListenerTls l;
  l.enabled = true;
  l.self_signed = true;
  l.alpn = {"http/1.1"};
  l.at = "test.yaml:4:10";
  return l;
}

// A server context serves the pair; a client that checks nothing completes a handshake and
// sees the certificate; the SNI names are the certificate's.
TEST(SelfSignedTest, ServerContextServesIt) {
  SKIP_WITHOUT_CERT_GEN();
  absl::StatusOr<PemPair> pair = MakeSelfSigned({"example.com", "*.example.com"});
  ASSERT_TRUE(pair.ok()) << pair.status();
  auto server_ctx = ServerContext::Create(SelfSignedListener(), "self-signed-test", &*pair);
  ASSERT_TRUE(server_ctx.ok()) << server_ctx.status();
  ASSERT_EQ((*server_ctx)->certificate_count(), 1u);
  EXPECT_EQ((*server_ctx)->names(0), (Names{"example.com", "*.example.com"}));

  config::UpstreamTls u;
  u.enabled = true;
  u.verify = false;
  u.server_name = "example.com";
  u.at = "test.yaml:9:9";
  auto client_ctx = ClientContext::Create(u);
  ASSERT_TRUE(client_ctx.ok()) << client_ctx.status();
  Session server((*server_ctx)->default_ctx());
  Session client(**client_ctx);
  Pump(client, server);
  ASSERT_TRUE(client.handshake_done()) << client.ErrorText();
  ASSERT_TRUE(server.handshake_done()) << server.ErrorText();
  WOLFSSL_X509* peer = wolfSSL_get_peer_certificate(client.native());
  ASSERT_NE(peer, nullptr);
  EXPECT_EQ(Cn(peer), "example.com");
  wolfSSL_X509_free(peer);
}

config::Server NamedServer(const std::string& name, Names names) {
  config::Server s;
  s.name = name;
  s.server_names = std::move(names);
  return s;
}

// BuildContexts: the listener's servers' names (every server's when it lists none), each once.
TEST(SelfSignedTest, BuildContextsUsesTheListenersServerNames) {
  SKIP_WITHOUT_CERT_GEN();
  config::Config cfg;
  cfg.servers.push_back(NamedServer("a", {"a.com", "*.a.com"}));
  cfg.servers.push_back(NamedServer("b", {"b.com"}));
  cfg.servers.push_back(NamedServer("c", {"c.com", "a.com"}));
  config::Listener all;
  all.name = "all";
  all.tls = SelfSignedListener();
  config::Listener some;
  some.name = "some";
  some.servers = {1, 0};
  some.tls = SelfSignedListener();
  config::Listener plain;
  plain.name = "plain";
  cfg.listeners = {all, some, plain};
  auto set = BuildContexts(cfg);
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_EQ((*set)->listeners.size(), 3u);
  ASSERT_NE((*set)->listeners[0], nullptr);
  ASSERT_NE((*set)->listeners[1], nullptr);
  EXPECT_EQ((*set)->listeners[2], nullptr);
  EXPECT_EQ((*set)->listeners[0]->names(0), (Names{"a.com", "*.a.com", "b.com", "c.com"}));
  EXPECT_EQ((*set)->listeners[1]->names(0), (Names{"b.com", "a.com", "*.a.com"}));

  // No server names at all: localhost.
  config::Config bare;
  bare.listeners = {all};
  auto bare_set = BuildContexts(bare);
  ASSERT_TRUE(bare_set.ok()) << bare_set.status();
  EXPECT_EQ((*bare_set)->listeners[0]->names(0), (Names{"localhost"}));
}

// The loader: self_signed: true instead of cert/key; not beside a certificate.
std::string ListenerYaml(const std::string& tls) {
  return "listeners:\n"
         "  - name: secure\n"
         "    bind: \"127.0.0.1:8443\"\n"
         "    tls:\n" +
         tls +
         "servers:\n"
         "  - server_name: [example.com, \"*.example.org\"]\n"
         "    upstream: web\n"
         "upstreams:\n"
         "  - name: web\n"
         "    servers: [\"127.0.0.1:3001\"]\n";
}

TEST(SelfSignedConfigTest, LoadsInsteadOfACertificate) {
  absl::StatusOr<config::Config> cfg =
      config::LoadString(ListenerYaml("      self_signed: true\n"), "test.yaml");
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  const config::ListenerTls& tls = cfg->listeners[0].tls;
  EXPECT_TRUE(tls.enabled);
  EXPECT_TRUE(tls.self_signed);
  EXPECT_TRUE(tls.certificates.empty());
  EXPECT_EQ(tls.at, "test.yaml:5:7");
}

TEST(SelfSignedConfigTest, RefusedBesideACertificate) {
  for (const std::string& given :
       {std::string("      cert: /etc/a.pem\n      key: /etc/a.key\n"),
        std::string("      key: /etc/a.key\n"),
        std::string("      certificates: [{cert: /etc/a.pem, key: /etc/a.key}]\n")}) {
    absl::StatusOr<config::Config> cfg =
        config::LoadString(ListenerYaml("      self_signed: true\n" + given), "test.yaml");
    ASSERT_FALSE(cfg.ok()) << given;
    const std::string msg(cfg.status().message());
    EXPECT_EQ(msg.rfind("test.yaml:6:", 0), 0u) << msg;
    EXPECT_NE(msg.find("'tls' in listener 'secure' has self_signed: true (line 5, column 20) "
                       "and names a certificate too"),
              std::string::npos)
        << msg;
  }
}

TEST(SelfSignedConfigTest, NeitherMentionsSelfSigned) {
  for (const std::string& tls :
       {std::string("      min_version: \"1.2\"\n"), std::string("      self_signed: false\n")}) {
    absl::StatusOr<config::Config> cfg = config::LoadString(ListenerYaml(tls), "test.yaml");
    ASSERT_FALSE(cfg.ok()) << tls;
    const std::string msg(cfg.status().message());
    EXPECT_EQ(msg.rfind("test.yaml:5:7: 'tls' in listener 'secure' names no certificate", 0), 0u)
        << msg;
    EXPECT_NE(msg.find("self_signed: true"), std::string::npos) << msg;
  }
  absl::StatusOr<config::Config> cfg =
      config::LoadString(ListenerYaml("      self_signed: yes please\n"), "test.yaml");
  ASSERT_FALSE(cfg.ok());
  EXPECT_EQ(std::string(cfg.status().message()).rfind("test.yaml:5:20: ", 0), 0u) << cfg.status();
}

}  // namespace
}  // namespace ringway::tls
