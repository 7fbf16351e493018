// The TLS layer without sockets: contexts from config (certificate checks, SNI names),
// handshakes between a client and a server Session pumped in memory, records both ways,
// resumption with tickets across key rotation, ALPN and SNI selection, and sessions (by ID or
// ticket) that never resume on another listener; the session-ID cache's bounds.
//
// Certificates are made for the test with the openssl command-line tool.
#include "tls/tls.h"

#include "core/timer.h"

#include <gtest/gtest.h>
#include <unistd.h>
// clang-format off
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/openssl/ssl.h>
// clang-format on

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace ringway::tls {
namespace {

namespace fs = std::filesystem;

int Run(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }

class Certs : public ::testing::Environment {
 public:
  static fs::path dir;
  void SetUp() override {
    char tmpl[] = "/tmp/ringway-tls-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir = tmpl;
    const std::string d = dir.string();
    // A CA, an ECDSA leaf for a.test and *.a.test, an RSA leaf for b.test, a leaf with only a
    // CN, an expired leaf, and a key that matches none of them.
    ASSERT_EQ(Run("cd " + d +
                  " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                  "-keyout ca.key -out ca.pem -days 30 -subj /CN=test-ca"),
              0);
    auto leaf = [&](const std::string& name, const std::string& keyopt, const std::string& subj,
                    const std::string& san, const std::string& days) {
      std::string ext = san.empty() ? "" : " -extfile <(printf 'subjectAltName=" + san + "')";
      return Run("bash -c \"cd " + d + " && openssl req -newkey " + keyopt + " -nodes -keyout " +
                 name + ".key -out " + name + ".csr -subj " + subj + " && openssl x509 -req -in " +
                 name + ".csr -CA ca.pem -CAkey ca.key " + "-CAcreateserial -out " + name +
                 ".pem " + days + ext + "\"");
    };
    ASSERT_EQ(leaf("a", "ec -pkeyopt ec_paramgen_curve:P-256", "/CN=a.test",
                   "DNS:a.test,DNS:*.a.test", "-days 30"),
              0);
    ASSERT_EQ(leaf("b", "rsa:2048", "/CN=b.test", "DNS:b.test", "-days 30"), 0);
    ASSERT_EQ(leaf("cn", "ec -pkeyopt ec_paramgen_curve:P-256", "/CN=cn-only.test", "", "-days 30"),
              0);
    // A client certificate from the same CA.
    ASSERT_EQ(leaf("client", "ec -pkeyopt ec_paramgen_curve:P-256", "/CN=client", "DNS:client.test",
                   "-days 30"),
              0);
    ASSERT_EQ(Run("cd " + d +
                  " && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "
                  "other.key"),
              0);
    // Expired: signed with a validity that ended in the past.
    ASSERT_EQ(Run("bash -c \"cd " + d +
                  " && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                  "-keyout old.key -out old.csr -subj /CN=old.test && printf '' > idx && "
                  "printf '01' > serial && printf '[ca]\\ndefault_ca=c\\n[c]\\ndatabase=idx\\n"
                  "serial=serial\\nnew_certs_dir=.\\ndefault_md=sha256\\npolicy=p\\n"
                  "[p]\\ncommonName=supplied\\n' > ca.cnf && openssl ca -batch -config ca.cnf "
                  "-cert ca.pem -keyfile ca.key -in old.csr -out old.pem -startdate "
                  "20200101000000Z -enddate 20200201000000Z -notext\""),
              0);
    std::ofstream(dir / "garbage.pem") << "-----BEGIN CERTIFICATE-----\nnot base64\n";
  }
  void TearDown() override { fs::remove_all(dir); }
};
fs::path Certs::dir;

std::string P(const std::string& name) { return (Certs::dir / name).string(); }

config::TlsCertificate Cert(const std::string& base) {
  config::TlsCertificate c;
  c.cert = P(base + ".pem");
  c.key = P(base + ".key");
  c.at = "test.yaml:3:5";
  return c;
}

config::ListenerTls Listener(std::initializer_list<std::string> certs) {
  config::ListenerTls l;
  l.enabled = true;
  l.at = "test.yaml:2:3";
  for (const auto& c : certs) l.certificates.push_back(Cert(c));
  return l;
}

// Starts the handshakes (the client's first: its ClientHello) and moves bytes between two
// sessions until neither has anything to say.
void Pump(Session& a, Session& b) {
  if (!a.handshake_done()) a.Handshake();
  if (!b.handshake_done()) b.Handshake();
  for (int i = 0; i < 50; ++i) {
    bool moved = false;
    while (a.out_pending() > 0) {
      std::string_view v = a.NextSend();
      b.Feed(v.data(), v.size());
      a.OutSent(v.size());
      moved = true;
    }
    while (b.out_pending() > 0) {
      std::string_view v = b.NextSend();
      a.Feed(v.data(), v.size());
      b.OutSent(v.size());
      moved = true;
    }
    if (!a.handshake_done()) a.Handshake();
    if (!b.handshake_done()) b.Handshake();
    if (!moved && a.out_pending() == 0 && b.out_pending() == 0) return;
  }
}

// A client context that trusts the test CA.
std::shared_ptr<ClientContext> Client(const std::string& name = "") {
  config::UpstreamTls u;
  u.enabled = true;
  u.ca = P("ca.pem");
  u.server_name = name;
  u.at = "test.yaml:9:9";
  auto c = ClientContext::Create(u);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *c : nullptr;
}

std::string ReadAll(Session& s) {
  std::string got;
  char buf[4096];
  for (int i = 0; i < 1000; ++i) {
    size_t n = 0;
    if (s.Read(buf, sizeof(buf), &n) != Session::Result::kOk) break;
    got.append(buf, n);
  }
  return got;
}

TEST(ServerContextTest, NamesComeFromSubjectAltNamesElseTheCommonName) {
  auto ctx = ServerContext::Create(Listener({"a", "b", "cn"}), "test");
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  ASSERT_EQ((*ctx)->certificate_count(), 3u);
  EXPECT_EQ((*ctx)->names(0), (std::vector<std::string>{"a.test", "*.a.test"}));
  EXPECT_EQ((*ctx)->names(1), (std::vector<std::string>{"b.test"}));
  EXPECT_EQ((*ctx)->names(2), (std::vector<std::string>{"cn-only.test"}));
}

TEST(ServerContextTest, ForNameMatchesExactThenWildcardElseDefault) {
  auto ctx = ServerContext::Create(Listener({"a", "b"}), "test");
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  ServerContext& s = **ctx;
  EXPECT_EQ(s.ForName("b.test"), s.ForName("B.Test."));
  EXPECT_NE(s.ForName("b.test"), s.default_ctx());
  EXPECT_EQ(s.ForName("a.test"), s.default_ctx());
  EXPECT_EQ(s.ForName("x.a.test"), s.default_ctx());
  EXPECT_EQ(s.ForName("y.b.test"), s.default_ctx());  // no *.b.test: the default
  EXPECT_EQ(s.ForName(""), s.default_ctx());
}

TEST(ServerContextTest, ExplicitServerNamesReplaceTheCertificates) {
  config::ListenerTls l = Listener({"a", "b"});
  l.certificates[1].server_names = {"api.example"};
  auto ctx = ServerContext::Create(l, "test");
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  EXPECT_EQ((*ctx)->names(1), (std::vector<std::string>{"api.example"}));
  EXPECT_NE((*ctx)->ForName("api.example"), (*ctx)->default_ctx());
  EXPECT_EQ((*ctx)->ForName("b.test"), (*ctx)->default_ctx());
}

TEST(ServerContextTest, RefusesBadCertificatesWithPositionPathAndReason) {
  auto expect_error = [](config::ListenerTls l, const std::string& needle) {
    auto ctx = ServerContext::Create(l, "test");
    ASSERT_FALSE(ctx.ok()) << needle;
    const std::string msg(ctx.status().message());
    EXPECT_NE(msg.find("test.yaml:3:5"), std::string::npos) << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << msg;
  };
  config::ListenerTls missing = Listener({"a"});
  missing.certificates[0].cert = P("nope.pem");
  expect_error(missing, "cannot read certificate '" + P("nope.pem") + "': No such file");

  config::ListenerTls nokey = Listener({"a"});
  nokey.certificates[0].key = P("nope.key");
  expect_error(nokey, "cannot read private key");

  // Debian's binary wolfSSL (the fallback) does not compare the key with the certificate.
  if (!UsingFallbackLibrary()) {
    config::ListenerTls mismatch = Listener({"a"});
    mismatch.certificates[0].key = P("other.key");
    expect_error(mismatch, "does not match the certificate");
  }

  expect_error(Listener({"old"}), "has expired");

  config::ListenerTls garbage = Listener({"a"});
  garbage.certificates[0].cert = P("garbage.pem");
  expect_error(garbage, "cannot load the certificate");

  config::ListenerTls ciphers = Listener({"a"});
  ciphers.ciphers = "NOT-A-CIPHER";
  auto ctx = ServerContext::Create(ciphers, "test");
  ASSERT_FALSE(ctx.ok());
  EXPECT_NE(std::string(ctx.status().message())
                .find("'NOT-A-CIPHER' in ciphers is not a suite this build knows"),
            std::string::npos)
      << ctx.status();
  ciphers.ciphers = "TLS13-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256:TYPO";
  ctx = ServerContext::Create(ciphers, "test");
  ASSERT_FALSE(ctx.ok());
  EXPECT_NE(std::string(ctx.status().message()).find("'TYPO'"), std::string::npos);
  ciphers.ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256";
  ciphers.min_version = config::TlsVersion::k13;
  ctx = ServerContext::Create(ciphers, "test");
  ASSERT_FALSE(ctx.ok());
  EXPECT_NE(std::string(ctx.status().message()).find("has no TLS 1.3 suite"), std::string::npos);
  ciphers.min_version = config::TlsVersion::k12;
  EXPECT_TRUE(ServerContext::Create(ciphers, "test").ok());
}

TEST(SessionTest, HandshakeAndRecordsBothWays) {
  auto server_ctx = ServerContext::Create(Listener({"a"}), "test");
  ASSERT_TRUE(server_ctx.ok()) << server_ctx.status();
  auto client_ctx = Client("a.test");
  ASSERT_NE(client_ctx, nullptr);
  Session server((*server_ctx)->default_ctx());
  Session client(client_ctx->ctx(), client_ctx->server_name());
  ASSERT_TRUE(server.ok() && client.ok());
  EXPECT_EQ(client.Handshake(), Session::Result::kWantMore);  // ClientHello out
  Pump(client, server);
  ASSERT_TRUE(client.handshake_done());
  ASSERT_TRUE(server.handshake_done());
  EXPECT_EQ(server.version(), "TLSv1.3");
  EXPECT_EQ(server.alpn(), "");  // the client offered none

  std::string big(100'000, 'x');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  ASSERT_TRUE(client.Write(big.data(), big.size()));
  Pump(client, server);
  EXPECT_EQ(ReadAll(server), big);
  ASSERT_TRUE(server.Write("pong", 4));
  Pump(client, server);
  EXPECT_EQ(ReadAll(client), "pong");

  server.Shutdown();  // close_notify
  Pump(client, server);
  char buf[16];
  size_t n = 0;
  EXPECT_EQ(client.Read(buf, sizeof(buf), &n), Session::Result::kClosed);
}

// Moves what `from` has to send into `to`.
void Move(Session& from, Session& to) {
  while (from.out_pending() > 0) {
    std::string_view v = from.NextSend();
    to.Feed(v.data(), v.size());
    from.OutSent(v.size());
  }
}

// The worker queues the steps that cost a key exchange: KeyExchangeNext tells them from the
// rest by their record and message type, whole or in pieces, after ChangeCipherSpec records.
TEST(SessionTest, KeyExchangeNextSeesClientHelloAndClientKeyExchangeOnly) {
  auto server_ctx = ServerContext::Create(Listener({"a"}), "test");
  ASSERT_TRUE(server_ctx.ok()) << server_ctx.status();
  auto client_ctx = Client("a.test");
  ASSERT_NE(client_ctx, nullptr);
  for (bool tls12 : {false, true}) {
    SCOPED_TRACE(tls12 ? "TLS 1.2" : "TLS 1.3");
    Session server((*server_ctx)->default_ctx());
    Session client(client_ctx->ctx(), client_ctx->server_name());
    if (tls12) {
      ASSERT_EQ(wolfSSL_set_max_proto_version(client.native(), TLS1_2_VERSION), WOLFSSL_SUCCESS);
    }
    EXPECT_FALSE(server.KeyExchangeNext());  // nothing fed
    client.Handshake();                      // ClientHello
    std::string hello(client.NextSend());
    client.OutSent(hello.size());
    ASSERT_GT(hello.size(), 6u);
    server.Feed(hello.data(), 3);  // not even a record header yet
    EXPECT_FALSE(server.KeyExchangeNext());
    server.Feed(hello.data() + 3, 3);
    EXPECT_TRUE(server.KeyExchangeNext());
    server.Feed(hello.data() + 6, hello.size() - 6);
    EXPECT_TRUE(server.KeyExchangeNext());
    server.Handshake();  // the hello consumed, the server's flight made
    EXPECT_FALSE(server.KeyExchangeNext());
    Move(server, client);
    client.Handshake();  // TLS 1.3: the client's Finished; 1.2: ClientKeyExchange, CCS, Finished
    Move(client, server);
    EXPECT_EQ(server.KeyExchangeNext(), tls12);
    server.Handshake();
    Move(server, client);
    client.Handshake();
    ASSERT_TRUE(server.handshake_done());
    ASSERT_TRUE(client.handshake_done());
    ASSERT_TRUE(client.Write("GET / HTTP/1.1\r\n\r\n", 18));
    Move(client, server);
    EXPECT_FALSE(server.KeyExchangeNext());  // application data
  }
  // ChangeCipherSpec records first (as a TLS 1.3 client in middlebox mode sends before its
  // second hello), then a ClientHello header; an alert is not a key exchange.
  Session s((*server_ctx)->default_ctx());
  const std::string ccs("\x14\x03\x03\x00\x01\x01", 6);
  const std::string hello_head("\x16\x03\x01\x02\x00\x01", 6);
  s.Feed(ccs.data(), ccs.size());
  EXPECT_FALSE(s.KeyExchangeNext());
  s.Feed(ccs.data(), ccs.size());
  s.Feed(hello_head.data(), hello_head.size());
  EXPECT_TRUE(s.KeyExchangeNext());
  Session alert((*server_ctx)->default_ctx());
  const std::string alert_rec("\x15\x03\x03\x00\x02\x02\x28", 7);
  alert.Feed(alert_rec.data(), alert_rec.size());
  EXPECT_FALSE(alert.KeyExchangeNext());
}

// A connection that has sent and read everything holds no ciphertext buffers (they go back to
// the thread's pool and serve the next session that writes).
TEST(SessionTest, IdleSessionHoldsNoBuffers) {
  auto server_ctx = ServerContext::Create(Listener({"a"}), "test");
  ASSERT_TRUE(server_ctx.ok()) << server_ctx.status();
  auto client_ctx = Client("a.test");
  ASSERT_NE(client_ctx, nullptr);
  Session server((*server_ctx)->default_ctx());
  Session client(client_ctx->ctx(), client_ctx->server_name());
  Pump(client, server);
  ASSERT_TRUE(server.handshake_done());
  std::string big(200'000, 'y');
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(server.Write(big.data(), big.size()));
    EXPECT_GT(server.held_bytes(), big.size()) << "sealed, not sent yet";
    // Half sent: the buffer stays (the kernel may be reading it).
    std::string_view v = server.NextSend();
    client.Feed(v.data(), v.size() / 2);
    server.OutSent(v.size() / 2);
    EXPECT_GE(server.held_bytes(), v.size());
    v = server.NextSend();
    client.Feed(v.data(), v.size());
    server.OutSent(v.size());
    EXPECT_EQ(server.out_pending(), 0u);
    EXPECT_LT(server.held_bytes(), 1024u) << "round " << round;
    EXPECT_EQ(ReadAll(client), big);
    EXPECT_LT(client.held_bytes(), 70u * 1024) << "round " << round;
  }
}

TEST(SessionTest, GarbageIsAFatalErrorNotACrash) {
  auto server_ctx = ServerContext::Create(Listener({"a"}), "test");
  ASSERT_TRUE(server_ctx.ok());
  Session server((*server_ctx)->default_ctx());
  std::string junk = "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n";
  server.Feed(junk.data(), junk.size());
  EXPECT_EQ(server.Handshake(), Session::Result::kError);
  EXPECT_FALSE(server.handshake_done());
  EXPECT_NE(server.ErrorText(), "no error");
}

TEST(SessionTest, FragmentedHandshakeByteByByte) {
  auto server_ctx = ServerContext::Create(Listener({"a"}), "test");
  ASSERT_TRUE(server_ctx.ok());
  auto client_ctx = Client("a.test");
  Session server((*server_ctx)->default_ctx());
  Session client(client_ctx->ctx(), "a.test");
  client.Handshake();
  for (int round = 0; round < 20 && !(client.handshake_done() && server.handshake_done());
       ++round) {
    // Client to server one byte at a time; the server must wait, never fail.
    while (client.out_pending() > 0) {
      server.Feed(client.NextSend().data(), 1);
      client.OutSent(1);
      Session::Result r = server.Handshake();
      ASSERT_NE(r, Session::Result::kError) << server.ErrorText();
    }
    Pump(client, server);
  }
  EXPECT_TRUE(client.handshake_done());
  EXPECT_TRUE(server.handshake_done());
}

TEST(SessionTest, SniPicksTheCertificateAndTheClientChecksTheName) {
  auto server_ctx = ServerContext::Create(Listener({"a", "b"}), "test");
  ASSERT_TRUE(server_ctx.ok());
  auto client_ctx = Client("b.test");
  Session server((*server_ctx)->default_ctx());
  Session client(client_ctx->ctx(), "b.test");
  Pump(client, server);
  // The client verifies the chain and that the certificate names b.test: it only completes
  // if the server moved to b's certificate.
  EXPECT_TRUE(client.handshake_done()) << client.ErrorText();

  // A client that expects a name no certificate has fails verification.
  auto wrong_ctx = Client("c.test");
  Session server2((*server_ctx)->default_ctx());
  Session wrong(wrong_ctx->ctx(), "c.test");
  Pump(wrong, server2);
  EXPECT_FALSE(wrong.handshake_done());
}

TEST(SessionTest, AlpnPicksHttp11AndToleratesAMismatch) {
  auto server_ctx = ServerContext::Create(Listener({"a"}), "test");
  ASSERT_TRUE(server_ctx.ok());
  auto client_ctx = Client("a.test");
  struct Case {
    std::string offer, expect;
  };
  for (const Case& c : {Case{"h2,http/1.1", "http/1.1"}, Case{"h2", ""}}) {
    Session server((*server_ctx)->default_ctx());
    Session client(client_ctx->ctx(), "a.test");
    std::string list = c.offer;
    ASSERT_EQ(wolfSSL_UseALPN(client.native(), list.data(), static_cast<unsigned>(list.size()),
                              WOLFSSL_ALPN_CONTINUE_ON_MISMATCH),
              WOLFSSL_SUCCESS);
    Pump(client, server);
    EXPECT_TRUE(server.handshake_done()) << c.offer;
    EXPECT_EQ(server.alpn(), c.expect) << c.offer;
  }
}

TEST(TicketKeysTest, SealAndOpenAcrossOneRotationNotTwo) {
  TicketKeys keys;
  keys.SetRotation(10'000);
  uint64_t now = 1'000'000;
  unsigned char name[16], iv[16], mac[32];
  unsigned char ticket[64];
  for (int i = 0; i < 64; ++i) ticket[i] = static_cast<unsigned char>(i);
  int len = 0;
  ASSERT_EQ(keys.Encrypt(name, iv, mac, ticket, sizeof(ticket), &len, now), WOLFSSL_TICKET_RET_OK);
  ASSERT_EQ(len, 64);
  unsigned char sealed[64];
  memcpy(sealed, ticket, sizeof(sealed));
  EXPECT_NE(sealed[10], 10);  // encrypted
  auto open = [&](uint64_t at, unsigned char* out) {
    memcpy(out, sealed, 64);
    return keys.Decrypt(name, iv, mac, out, 64, &len, at);
  };
  unsigned char copy[64];
  EXPECT_EQ(open(now + 9'999, copy), WOLFSSL_TICKET_RET_OK);
  EXPECT_EQ(copy[10], 10);

  // A tampered ticket is refused.
  memcpy(copy, sealed, sizeof(copy));
  copy[5] ^= 1;
  EXPECT_EQ(keys.Decrypt(name, iv, mac, copy, sizeof(copy), &len, now + 1),
            WOLFSSL_TICKET_RET_REJECT);

  // In the second period: still opens, and asks for a new ticket under the new key.
  EXPECT_EQ(open(now + 10'000, copy), WOLFSSL_TICKET_RET_CREATE);
  EXPECT_EQ(copy[10], 10);
  EXPECT_EQ(open(now + 19'999, copy), WOLFSSL_TICKET_RET_CREATE);
  // After two periods the key is gone, even though the next key was made late (keys are made
  // when used).
  EXPECT_EQ(open(now + 20'000, copy), WOLFSSL_TICKET_RET_REJECT);
}

TEST(TicketKeysTest, AQuietSpellRetiresOldKeys) {
  TicketKeys keys;
  keys.SetRotation(10'000);
  unsigned char name[16], iv[16], mac[32], t[32] = {}, sealed[32];
  int len = 0;
  ASSERT_EQ(keys.Encrypt(name, iv, mac, t, sizeof(t), &len, 5'000), WOLFSSL_TICKET_RET_OK);
  memcpy(sealed, t, sizeof(t));
  // Nothing happens for a long time; the first use then rotates once. The old key would be the
  // "previous" one, but it is 60 s old, beyond its two periods.
  EXPECT_EQ(keys.Decrypt(name, iv, mac, sealed, sizeof(sealed), &len, 65'000),
            WOLFSSL_TICKET_RET_REJECT);
}

TEST(TicketKeysTest, NoncesNeverRepeat) {
  TicketKeys keys;
  unsigned char name[16], iv1[16], iv2[16], mac[32], t[8] = {};
  int len = 0;
  keys.Encrypt(name, iv1, mac, t, sizeof(t), &len, 1);
  keys.Encrypt(name, iv2, mac, t, sizeof(t), &len, 1);
  EXPECT_NE(memcmp(iv1, iv2, 16), 0);
}

TEST(TicketKeysTest, EachListenerHasItsOwnKeysForTheLifeOfTheProcess) {
  EXPECT_EQ(TicketKeys::ForListener("x"), TicketKeys::ForListener("x"));
  EXPECT_NE(TicketKeys::ForListener("x"), TicketKeys::ForListener("y"));
}

// A session from one listener does not resume on a listener that checks client certificates,
// neither by ticket (TLS 1.3, TLS 1.2) nor by session ID (TLS 1.2).
TEST(SessionTest, NoResumptionOnAnotherListenerThatChecksClients) {
  auto one = ServerContext::Create(Listener({"a"}), "one");
  config::ListenerTls checked = Listener({"a"});
  checked.ca = P("ca.pem");
  checked.client_cert_optional = true;  // so that this client, without one, gets in
  auto two = ServerContext::Create(checked, "two");
  ASSERT_TRUE(one.ok() && two.ok());
  auto client_ctx = Client("a.test");
  for (int version : {WOLFSSL_TLSV1_3, WOLFSSL_TLSV1_2}) {
    for (bool tickets : {true, false}) {
      if (version == WOLFSSL_TLSV1_3 && !tickets) continue;
      SCOPED_TRACE(testing::Message() << "version " << version << " tickets " << tickets);
      Session server((*one)->default_ctx());
      Session client(client_ctx->ctx(), "a.test");
      if (version == WOLFSSL_TLSV1_2) {
        ASSERT_EQ(wolfSSL_set_max_proto_version(client.native(), TLS1_2_VERSION), WOLFSSL_SUCCESS);
      }
      if (!tickets) wolfSSL_NoTicketTLSv12(client.native());
      Pump(client, server);
      ASSERT_TRUE(client.handshake_done()) << client.ErrorText();
      ReadAll(client);
      WOLFSSL_SESSION* saved = wolfSSL_get1_session(client.native());
      ASSERT_NE(saved, nullptr);

      auto resume = [&](WOLFSSL_CTX* ctx) {
        Session s(ctx);
        Session c(client_ctx->ctx(), "a.test");
        if (version == WOLFSSL_TLSV1_2) wolfSSL_set_max_proto_version(c.native(), TLS1_2_VERSION);
        if (!tickets) wolfSSL_NoTicketTLSv12(c.native());
        wolfSSL_set_session(c.native(), saved);
        Pump(c, s);
        EXPECT_TRUE(c.handshake_done()) << c.ErrorText();
        EXPECT_EQ(s.version(), version == WOLFSSL_TLSV1_2 ? "TLSv1.2" : "TLSv1.3");
        return s.resumed();
      };
      EXPECT_TRUE(resume((*one)->default_ctx()));   // the same listener resumes
      EXPECT_FALSE(resume((*two)->default_ctx()));  // another one does not
      wolfSSL_SESSION_free(saved);
    }
  }
}

// How a client resumes in the tests below.
struct Resumption {
  int version;   // WOLFSSL_TLSV1_2 or WOLFSSL_TLSV1_3
  bool tickets;  // false: TLS 1.2 session IDs only (the client sends no ticket extension)
};

std::string Describe(const Resumption& r) {
  return std::string(r.version == WOLFSSL_TLSV1_2 ? "TLS 1.2" : "TLS 1.3") +
         (r.tickets ? " with tickets" : " with session IDs only");
}

void Configure(Session& c, const Resumption& r) {
  if (r.version == WOLFSSL_TLSV1_2) {
    ASSERT_EQ(wolfSSL_set_max_proto_version(c.native(), TLS1_2_VERSION), WOLFSSL_SUCCESS);
  }
  if (!r.tickets) wolfSSL_NoTicketTLSv12(c.native());
}

// A full handshake on `server_ctx`; the client's session (released by the caller), or nullptr.
WOLFSSL_SESSION* FullHandshake(WOLFSSL_CTX* server_ctx, ClientContext& client_ctx,
                               const std::string& name, const Resumption& r) {
  Session server(server_ctx);
  Session client(client_ctx.ctx(), name);
  Configure(client, r);
  Pump(client, server);
  EXPECT_TRUE(client.handshake_done()) << client.ErrorText();
  EXPECT_TRUE(server.handshake_done()) << server.ErrorText();
  EXPECT_FALSE(server.resumed());
  ReadAll(client);  // takes in a TLS 1.3 NewSessionTicket
  return wolfSSL_get1_session(client.native());
}

// Offers `saved` to `server_ctx`: whether the handshake completed, and whether it resumed.
struct Outcome {
  bool done = false;
  bool resumed = false;
};
Outcome TryResume(WOLFSSL_CTX* server_ctx, ClientContext& client_ctx, const std::string& name,
                  const Resumption& r, WOLFSSL_SESSION* saved) {
  Session server(server_ctx);
  Session client(client_ctx.ctx(), name);
  Configure(client, r);
  EXPECT_EQ(wolfSSL_set_session(client.native(), saved), WOLFSSL_SUCCESS);
  Pump(client, server);
  Outcome o;
  o.done = client.handshake_done() && server.handshake_done();
  o.resumed = server.resumed();
  if (o.done) {
    EXPECT_EQ(server.version(), r.version == WOLFSSL_TLSV1_2 ? "TLSv1.2" : "TLSv1.3");
  }
  return o;
}

// The review's case: two listeners with different certificates and no client certificates. A
// session from A, by session ID or by ticket, resumes on A and never on B (B makes a full
// handshake, which succeeds: the client checks only the CA).
TEST(SessionTest, SessionsStayWithinTheirListener) {
  auto a = ServerContext::Create(Listener({"a"}), "listener-a");
  auto b = ServerContext::Create(Listener({"b"}), "listener-b");
  ASSERT_TRUE(a.ok() && b.ok());
  auto client_ctx = Client("");  // no SNI, no name check: both listeners' certificates pass
  // The caches live as long as the process (per listener name, like the ticket keys).
  const size_t a_before = (*a)->session_cache().size();
  const size_t b_before = (*b)->session_cache().size();
  for (Resumption r : {Resumption{WOLFSSL_TLSV1_2, false}, Resumption{WOLFSSL_TLSV1_2, true},
                       Resumption{WOLFSSL_TLSV1_3, true}}) {
    SCOPED_TRACE(Describe(r));
    WOLFSSL_SESSION* saved = FullHandshake((*a)->default_ctx(), *client_ctx, "", r);
    ASSERT_NE(saved, nullptr);
    Outcome on_b = TryResume((*b)->default_ctx(), *client_ctx, "", r, saved);
    EXPECT_TRUE(on_b.done);
    EXPECT_FALSE(on_b.resumed);
    Outcome on_a = TryResume((*a)->default_ctx(), *client_ctx, "", r, saved);
    EXPECT_TRUE(on_a.done);
    EXPECT_TRUE(on_a.resumed);
    // And again: a session ID resumes more than once.
    EXPECT_TRUE(TryResume((*a)->default_ctx(), *client_ctx, "", r, saved).resumed);
    wolfSSL_SESSION_free(saved);
  }
  // Only TLS 1.2 sessions take a place in a cache.
  EXPECT_EQ((*a)->session_cache().size() - a_before, 2u);
  EXPECT_EQ((*b)->session_cache().size() - b_before, 2u);  // the two full handshakes on B
}

// After the SNI callback moved the handshake to another certificate of the same listener, a
// session ID resumes only under the name it was made for (RFC 6066, section 3).
TEST(SessionTest, SessionIdsResumeOnlyUnderTheirServerName) {
  auto ctx = ServerContext::Create(Listener({"a", "b"}), "sni");
  ASSERT_TRUE(ctx.ok());
  auto to_b = Client("b.test");
  const Resumption r{WOLFSSL_TLSV1_2, false};
  WOLFSSL_SESSION* saved = FullHandshake((*ctx)->default_ctx(), *to_b, "b.test", r);
  ASSERT_NE(saved, nullptr);
  EXPECT_TRUE(TryResume((*ctx)->default_ctx(), *to_b, "b.test", r, saved).resumed);
  auto to_a = Client("a.test");
  Outcome other = TryResume((*ctx)->default_ctx(), *to_a, "a.test", r, saved);
  EXPECT_TRUE(other.done);  // a full handshake with a's certificate
  EXPECT_FALSE(other.resumed);
  auto no_name = Client("");
  EXPECT_FALSE(TryResume((*ctx)->default_ctx(), *no_name, "", r, saved).resumed);
  wolfSSL_SESSION_free(saved);
}

// A SIGHUP builds new contexts for the same listener: session IDs made before do not resume on
// them (the certificates or the client CA may have changed), but still do on the old ones,
// which connections opened before the reload keep using.
TEST(SessionTest, SessionIdsDoNotCrossAReload) {
  auto before = ServerContext::Create(Listener({"a"}), "reloaded");
  ASSERT_TRUE(before.ok());
  auto client_ctx = Client("a.test");
  const Resumption r{WOLFSSL_TLSV1_2, false};
  WOLFSSL_SESSION* saved = FullHandshake((*before)->default_ctx(), *client_ctx, "a.test", r);
  ASSERT_NE(saved, nullptr);
  auto after = ServerContext::Create(Listener({"a"}), "reloaded");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(&(*before)->session_cache(), &(*after)->session_cache());  // one bound per listener
  EXPECT_FALSE(TryResume((*after)->default_ctx(), *client_ctx, "a.test", r, saved).resumed);
  EXPECT_TRUE(TryResume((*before)->default_ctx(), *client_ctx, "a.test", r, saved).resumed);
  wolfSSL_SESSION_free(saved);
}

// A listener that requires client certificates has its own cache: a client that passed the
// check resumes without sending its certificate again; a session from a listener without the
// check does not resume there.
TEST(SessionTest, ClientCertificateListenersResumeTheirOwnSessionIds) {
  config::ListenerTls checked = Listener({"a"});
  checked.ca = P("ca.pem");  // required
  auto mtls = ServerContext::Create(checked, "mtls");
  auto open = ServerContext::Create(Listener({"a"}), "open");
  ASSERT_TRUE(mtls.ok() && open.ok());
  auto client_ctx = Client("a.test");
  const Resumption r{WOLFSSL_TLSV1_2, false};

  // Without a certificate: refused.
  {
    Session server((*mtls)->default_ctx());
    Session client(client_ctx->ctx(), "a.test");
    Configure(client, r);
    Pump(client, server);
    EXPECT_FALSE(server.handshake_done());
  }
  // With one: accepted, and the session resumes.
  Session server((*mtls)->default_ctx());
  Session client(client_ctx->ctx(), "a.test");
  Configure(client, r);
  ASSERT_EQ(
      wolfSSL_use_certificate_file(client.native(), P("client.pem").c_str(), WOLFSSL_FILETYPE_PEM),
      WOLFSSL_SUCCESS);
  ASSERT_EQ(
      wolfSSL_use_PrivateKey_file(client.native(), P("client.key").c_str(), WOLFSSL_FILETYPE_PEM),
      WOLFSSL_SUCCESS);
  Pump(client, server);
  ASSERT_TRUE(server.handshake_done()) << server.ErrorText();
  WOLFSSL_SESSION* saved = wolfSSL_get1_session(client.native());
  ASSERT_NE(saved, nullptr);
  Outcome again = TryResume((*mtls)->default_ctx(), *client_ctx, "a.test", r, saved);
  EXPECT_TRUE(again.done);
  EXPECT_TRUE(again.resumed);
  wolfSSL_SESSION_free(saved);

  // A session made where nobody checks certificates: a full handshake, which fails for want
  // of a certificate.
  saved = FullHandshake((*open)->default_ctx(), *client_ctx, "a.test", r);
  ASSERT_NE(saved, nullptr);
  Outcome crossed = TryResume((*mtls)->default_ctx(), *client_ctx, "a.test", r, saved);
  EXPECT_FALSE(crossed.resumed);
  EXPECT_FALSE(crossed.done);
  wolfSSL_SESSION_free(saved);
}

// A session with a 32-byte ID `tag` repeated and a timeout. wolfSSL has no setter for the
// ID (SSL_SESSION_set1_id is a stub), so an empty session is serialised and the ID written into
// the bytes: side (1), born-on (4), timeout (4), ID length (1), ID.
WOLFSSL_SESSION* FakeSession(unsigned char tag, long timeout_s = 500) {
  WOLFSSL_SESSION* blank = wolfSSL_SESSION_new();
  wolfSSL_SSL_SESSION_set_timeout(blank, timeout_s);
  std::vector<unsigned char> der(static_cast<size_t>(wolfSSL_i2d_SSL_SESSION(blank, nullptr)));
  unsigned char* p = der.data();
  wolfSSL_i2d_SSL_SESSION(blank, &p);
  wolfSSL_SESSION_free(blank);
  EXPECT_EQ(der.at(9), 0);
  der[9] = 32;
  der.insert(der.begin() + 10, 32, tag);
  const unsigned char* q = der.data();
  WOLFSSL_SESSION* s = wolfSSL_d2i_SSL_SESSION(nullptr, &q, static_cast<long>(der.size()));
  EXPECT_NE(s, nullptr);
  return s;
}

bool Has(SessionCache& cache, unsigned char tag, uint64_t now_ms, uint64_t generation = 1,
         std::string_view name = "") {
  unsigned char id[32];
  memset(id, tag, sizeof(id));
  WOLFSSL_SESSION* s = cache.Find(id, sizeof(id), generation, name, now_ms);
  if (s == nullptr) return false;
  wolfSSL_SESSION_free(s);
  return true;
}

TEST(SessionCacheTest, HoldsAtMostItsCapacityOldestOutFirst) {
  SessionCache cache(3);
  for (unsigned char tag = 1; tag <= 5; ++tag) {
    WOLFSSL_SESSION* s = FakeSession(tag);
    cache.Add(s, 1, "", 1000);
    wolfSSL_SESSION_free(s);  // the cache keeps its own copy
    EXPECT_LE(cache.size(), 3u);
  }
  EXPECT_FALSE(Has(cache, 1, 1000));
  EXPECT_FALSE(Has(cache, 2, 1000));
  EXPECT_TRUE(Has(cache, 3, 1000));
  EXPECT_TRUE(Has(cache, 5, 1000));
  // The generation and the name must match.
  EXPECT_FALSE(Has(cache, 5, 1000, 2));
  EXPECT_FALSE(Has(cache, 5, 1000, 1, "a.test"));
  // Too long a name is not kept; nor is a session without a timeout.
  WOLFSSL_SESSION* s = FakeSession(9);
  cache.Add(s, 1, std::string(256, 'x'), 1000);
  wolfSSL_SESSION_free(s);
  s = FakeSession(10, 0);
  cache.Add(s, 1, "", 1000);
  wolfSSL_SESSION_free(s);
  EXPECT_FALSE(Has(cache, 9, 1000, 1, std::string(256, 'x')));
  EXPECT_FALSE(Has(cache, 10, 1000));
  EXPECT_TRUE(Has(cache, 3, 1000));
}

TEST(SessionCacheTest, SessionsExpireWithTheirTimeout) {
  SessionCache cache(100);
  WOLFSSL_SESSION* s = FakeSession(1, 10);
  cache.Add(s, 1, "", 1000);
  wolfSSL_SESSION_free(s);
  EXPECT_TRUE(Has(cache, 1, 10'999));
  EXPECT_FALSE(Has(cache, 1, 11'000));
  // Expired sessions leave when later ones come (a few per call).
  for (unsigned char tag = 2; tag < 12; ++tag) {
    s = FakeSession(tag, 10);
    cache.Add(s, 1, "", 2000);
    wolfSSL_SESSION_free(s);
  }
  EXPECT_EQ(cache.size(), 11u);
  for (unsigned char tag = 20; tag < 24; ++tag) {
    s = FakeSession(tag, 10);
    cache.Add(s, 1, "", 60'000);
    wolfSSL_SESSION_free(s);
  }
  EXPECT_EQ(cache.size(), 4u);
}

// Every worker adds and looks up at once; a lookup's reference outlives an eviction.
TEST(SessionCacheTest, ThreadsShareOneCache) {
  SessionCache cache(64);
  std::vector<std::thread> threads;
  std::atomic<int> found{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        const unsigned char tag = static_cast<unsigned char>((t * 2000 + i) % 251);
        WOLFSSL_SESSION* s = FakeSession(tag);
        cache.Add(s, 1, "", 1000);
        wolfSSL_SESSION_free(s);
        unsigned char id[32];
        memset(id, static_cast<unsigned char>((tag + 250) % 251), sizeof(id));  // the one before
        if (WOLFSSL_SESSION* got = cache.Find(id, sizeof(id), 1, "", 1000)) {
          unsigned int len = 0;
          EXPECT_EQ(wolfSSL_SESSION_get_id(got, &len)[0], id[0]);
          found.fetch_add(1, std::memory_order_relaxed);
          wolfSSL_SESSION_free(got);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_LE(cache.size(), 64u);
  EXPECT_GT(found.load(), 0);
}

TEST(SessionTest, ResumptionWithATicketAfterOneRotation) {
  auto server_ctx = ServerContext::Create(Listener({"a"}), "test");
  ASSERT_TRUE(server_ctx.ok());
  auto client_ctx = Client("a.test");
  Session server((*server_ctx)->default_ctx());
  Session client(client_ctx->ctx(), "a.test");
  Pump(client, server);
  ASSERT_TRUE(client.handshake_done());
  ReadAll(client);  // takes in the NewSessionTicket
  WOLFSSL_SESSION* saved = wolfSSL_get1_session(client.native());
  ASSERT_NE(saved, nullptr);

  TicketKeys::ForListener("test")->RotateNow(core::MonotonicMs());
  Session server2((*server_ctx)->default_ctx());
  Session client2(client_ctx->ctx(), "a.test");
  ASSERT_EQ(wolfSSL_set_session(client2.native(), saved), WOLFSSL_SUCCESS);
  Pump(client2, server2);
  ASSERT_TRUE(client2.handshake_done());
  EXPECT_TRUE(server2.resumed());
  wolfSSL_SESSION_free(saved);
}

}  // namespace
}  // namespace ringway::tls

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new ringway::tls::Certs);
  return RUN_ALL_TESTS();
}
