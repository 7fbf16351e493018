// HTTP and gRPC health checks over TLS: TlsProbe against an in-memory server session (the
// handshake, the request and the reasons of failed handshakes), and the prober against TLS
// servers on loopback made of the project's own TLS sessions (an HTTP/1.1 one whose status
// changes, and a gRPC health service behind ALPN h2), including a certificate that does not
// verify. Certificates are made for the test with the openssl command-line tool.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "config/config.h"
#include "gtest/gtest.h"
#include "health/prober.h"
#include "health/tls_probe.h"
#include "health/view.h"
#include "proto/h2_session.h"
#include "tls/tls.h"

namespace ringway::health {
namespace {

namespace fs = std::filesystem;

int Run(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }

// A CA and an ECDSA certificate for backend.test that it signed.
class Certs : public ::testing::Environment {
 public:
  static fs::path dir;
  void SetUp() override {
    char tmpl[] = "/tmp/ringway-health-tls-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir = tmpl;
    const std::string d = dir.string();
    ASSERT_EQ(Run("cd " + d +
                  " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                  "-keyout ca.key -out ca.pem -days 30 -subj /CN=test-ca"),
              0);
    ASSERT_EQ(Run("bash -c \"cd " + d +
                  " && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "
                  "backend.key -out backend.csr -subj /CN=backend.test && openssl x509 -req -in "
                  "backend.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out backend.pem -days "
                  "30 -extfile <(printf 'subjectAltName=DNS:backend.test')\""),
              0);
  }
  void TearDown() override { fs::remove_all(dir); }
};
fs::path Certs::dir;

const auto* const kCerts = ::testing::AddGlobalTestEnvironment(new Certs);

std::string P(const std::string& name) { return (Certs::dir / name).string(); }

std::shared_ptr<tls::ServerContext> ServerCtx(std::vector<std::string> alpn) {
  config::ListenerTls l;
  l.enabled = true;
  l.at = "test.yaml:2:3";
  config::TlsCertificate c;
  c.cert = P("backend.pem");
  c.key = P("backend.key");
  c.at = "test.yaml:3:5";
  l.certificates.push_back(c);
  l.alpn = std::move(alpn);
  l.alpn_given = true;
  absl::StatusOr<std::shared_ptr<tls::ServerContext>> ctx = tls::ServerContext::Create(l, "t");
  EXPECT_TRUE(ctx.ok()) << ctx.status();
  return ctx.ok() ? *ctx : nullptr;
}

config::UpstreamTls UpTls(const std::string& server_name) {
  config::UpstreamTls u;
  u.enabled = true;
  u.ca = P("ca.pem");
  u.server_name = server_name;
  u.at = "test.yaml:9:5";
  return u;
}

// Moves ciphertext between a TlsProbe and a server session until neither has anything to
// send; the probe's steps and plaintext are collected.
struct Exchange {
  TlsProbe::Step last = TlsProbe::Step::kWantMore;
  bool established = false;
  std::string plain;
};
void Pump(TlsProbe& client, tls::Session& server, Exchange* ex,
          const std::function<void()>& on_established = nullptr) {
  for (int i = 0; i < 50; ++i) {
    bool moved = false;
    for (std::string_view v = client.NextSend(); !v.empty(); v = client.NextSend()) {
      server.Feed(v.data(), v.size());
      client.Sent(v.size());
      moved = true;
    }
    if (!server.handshake_done()) server.Handshake();
    for (std::string_view v = server.NextSend(); !v.empty(); v = server.NextSend()) {
      const std::string bytes(v);
      server.OutSent(v.size());
      ex->last = client.Received(bytes.data(), bytes.size(), &ex->plain);
      if (ex->last == TlsProbe::Step::kFailed) return;
      if (ex->last == TlsProbe::Step::kEstablished) {
        ex->established = true;
        if (on_established) on_established();
      }
      moved = true;
    }
    if (!moved) return;
  }
}

TEST(TlsProbeTest, HandshakeRequestAndAnswer) {
  auto server_ctx = ServerCtx({"http/1.1"});
  ASSERT_NE(server_ctx, nullptr);
  auto cc = tls::ClientContext::Create(UpTls("backend.test"));
  ASSERT_TRUE(cc.ok()) << cc.status();
  TlsProbe probe(**cc);
  tls::Session server(server_ctx->default_ctx());
  ASSERT_EQ(probe.Start(), TlsProbe::Step::kWantMore);
  EXPECT_FALSE(probe.handshake_done());
  Exchange ex;
  Pump(probe, server, &ex, [&] { ASSERT_TRUE(probe.Write("GET /health HTTP/1.1\r\n\r\n")); });
  ASSERT_TRUE(ex.established) << probe.reason();
  EXPECT_TRUE(probe.handshake_done());
  // The server decrypts the request and answers; the probe decrypts the answer.
  std::string got;
  char buf[256];
  size_t n = 0;
  while (server.Read(buf, sizeof(buf), &n) == tls::Session::Result::kOk) got.append(buf, n);
  EXPECT_EQ(got, "GET /health HTTP/1.1\r\n\r\n");
  const std::string answer = "HTTP/1.1 204 No Content\r\n\r\n";
  ASSERT_TRUE(server.Write(answer.data(), answer.size()));
  Pump(probe, server, &ex);
  EXPECT_EQ(ex.plain, answer);
  EXPECT_EQ(ex.last, TlsProbe::Step::kWantMore);
}

TEST(TlsProbeTest, NameMismatchFailsTheHandshakeWithAReason) {
  auto server_ctx = ServerCtx({"http/1.1"});
  ASSERT_NE(server_ctx, nullptr);
  auto cc = tls::ClientContext::Create(UpTls("wrong.test"));
  ASSERT_TRUE(cc.ok()) << cc.status();
  TlsProbe probe(**cc);
  tls::Session server(server_ctx->default_ctx());
  ASSERT_EQ(probe.Start(), TlsProbe::Step::kWantMore);
  Exchange ex;
  Pump(probe, server, &ex);
  EXPECT_FALSE(ex.established);
  EXPECT_EQ(ex.last, TlsProbe::Step::kFailed);
  EXPECT_EQ(probe.reason().rfind("TLS handshake failed: ", 0), 0u) << probe.reason();
}

TEST(TlsProbeTest, AlpnH2IsRequiredOfTheServer) {
  auto server_ctx = ServerCtx({"http/1.1"});  // no h2
  ASSERT_NE(server_ctx, nullptr);
  auto cc = tls::ClientContext::Create(UpTls("backend.test"), "h2");
  ASSERT_TRUE(cc.ok()) << cc.status();
  TlsProbe probe(**cc);
  tls::Session server(server_ctx->default_ctx());
  ASSERT_EQ(probe.Start(), TlsProbe::Step::kWantMore);
  Exchange ex;
  Pump(probe, server, &ex);
  EXPECT_FALSE(ex.established);
  EXPECT_EQ(probe.reason().rfind("TLS handshake failed: ", 0), 0u) << probe.reason();

  auto h2_ctx = ServerCtx({"h2", "http/1.1"});
  TlsProbe probe2(**cc);
  tls::Session server2(h2_ctx->default_ctx());
  ASSERT_EQ(probe2.Start(), TlsProbe::Step::kWantMore);
  Exchange ex2;
  Pump(probe2, server2, &ex2);
  EXPECT_TRUE(ex2.established) << probe2.reason();
  EXPECT_EQ(probe2.alpn(), "h2");
}

TEST(TlsProbeTest, EofReasons) {
  auto cc = tls::ClientContext::Create(UpTls("backend.test"));
  ASSERT_TRUE(cc.ok());
  TlsProbe probe(**cc);
  ASSERT_EQ(probe.Start(), TlsProbe::Step::kWantMore);
  EXPECT_EQ(probe.EofReason(), "TLS handshake failed: connection closed by the backend");
  std::string plain;
  EXPECT_EQ(probe.Received("garbage!", 8, &plain), TlsProbe::Step::kFailed);
  EXPECT_EQ(probe.reason().rfind("TLS handshake failed: ", 0), 0u) << probe.reason();
}

// ---- The prober against TLS servers on loopback ----------------------------------------

int ListenLoopback(uint16_t* port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return -1;
  if (listen(fd, 64) != 0) return -1;
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  return fd;
}

config::Backend BackendAt(uint16_t port) {
  config::Backend b;
  b.address = *config::ParseSocketAddress("127.0.0.1:" + std::to_string(port));
  return b;
}

template <typename F>
bool WaitFor(F pred) {
  for (int i = 0; i < 500; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

// One connection at a time over TLS (the project's server session on a blocking socket): the
// plaintext goes to `app`, which returns plaintext to send and sets *close to end the
// connection after it.
class TlsServer {
 public:
  using App = std::function<std::string(std::string_view in, bool* close)>;
  TlsServer(std::vector<std::string> alpn, App app)
      : ctx_(ServerCtx(std::move(alpn))), app_(std::move(app)) {
    lfd_ = ListenLoopback(&port_);
    thread_ = std::thread([this] { Serve(); });
  }
  ~TlsServer() {
    stop_ = true;
    shutdown(lfd_, SHUT_RDWR);
    thread_.join();
    close(lfd_);
  }
  uint16_t port() const { return port_; }
  std::atomic<int> handshakes{0};
  std::atomic<int> failed_handshakes{0};
  std::atomic<int> requests{0};

 private:
  static bool Flush(int c, tls::Session& s) {
    for (std::string_view v = s.NextSend(); !v.empty(); v = s.NextSend()) {
      ssize_t w = write(c, v.data(), v.size());
      if (w <= 0) return false;
      s.OutSent(static_cast<size_t>(w));
    }
    return true;
  }
  void Serve() {
    while (!stop_) {
      int c = accept(lfd_, nullptr, nullptr);
      if (c < 0) return;
      tls::Session s(ctx_->default_ctx());
      char buf[4096];
      bool established = false;
      bool close_now = false;
      while (!close_now) {
        ssize_t n = read(c, buf, sizeof(buf));
        if (n <= 0) break;
        s.Feed(buf, static_cast<size_t>(n));
        if (!s.handshake_done()) {
          tls::Session::Result r = s.Handshake();
          Flush(c, s);
          if (r == tls::Session::Result::kError || r == tls::Session::Result::kClosed) {
            ++failed_handshakes;
            break;
          }
          if (!s.handshake_done()) continue;
        }
        if (!established) {
          established = true;
          ++handshakes;
        }
        std::string plain;
        size_t got = 0;
        while (s.Read(buf, sizeof(buf), &got) == tls::Session::Result::kOk) plain.append(buf, got);
        if (plain.empty()) continue;
        ++requests;
        std::string out = app_(plain, &close_now);
        if (!out.empty() && !s.Write(out.data(), out.size())) break;
        if (!Flush(c, s)) break;
      }
      close(c);
    }
  }

  std::shared_ptr<tls::ServerContext> ctx_;
  App app_;
  int lfd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

config::Upstream TlsUpstream(uint16_t port, const std::string& server_name) {
  config::Upstream u;
  u.name = "t";
  u.tls = UpTls(server_name);
  u.health.interval_ms = 30;
  u.health.timeout_ms = 500;
  u.health.jitter_ms = 0;
  u.health.rise = 2;
  u.health.fall = 2;
  u.backends.push_back(BackendAt(port));
  return u;
}

TEST(ProberTlsTest, HttpCheckOverTlsFollowsTheStatus) {
  std::atomic<int> status{500};
  std::mutex mu;
  std::string last_request;
  TlsServer server({"http/1.1"}, [&](std::string_view in, bool* close) {
    {
      std::lock_guard<std::mutex> lock(mu);
      last_request = std::string(in);
    }
    *close = true;
    return "HTTP/1.1 " + std::to_string(status.load()) + " X\r\nContent-Length: 0\r\n\r\n";
  });
  config::Config cfg;
  config::Upstream u = TlsUpstream(server.port(), "backend.test");
  u.health.type = config::HealthCheck::Type::kHttp;
  u.health.path = "/health";
  u.health.host = "backend.test";
  cfg.upstreams.push_back(u);
  View view(1);
  Prober prober(cfg, &view);
  ASSERT_TRUE(prober.Start().ok());
  EXPECT_TRUE(WaitFor([&] { return !view.Usable(0); }));
  EXPECT_GE(server.handshakes.load(), 1);
  status = 204;
  EXPECT_TRUE(WaitFor([&] { return view.Usable(0); }));
  prober.Stop();
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(last_request.rfind("GET /health HTTP/1.1\r\nHost: backend.test\r\n", 0), 0u)
      << last_request;
}

TEST(ProberTlsTest, CertificateThatDoesNotVerifyTakesTheBackendDown) {
  TlsServer server({"http/1.1"}, [&](std::string_view, bool* close) {
    *close = true;
    return std::string("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  });
  config::Config cfg;
  config::Upstream u = TlsUpstream(server.port(), "wrong.test");
  u.health.type = config::HealthCheck::Type::kHttp;
  u.health.path = "/health";
  cfg.upstreams.push_back(u);
  View view(1);
  Prober prober(cfg, &view);
  ASSERT_TRUE(prober.Start().ok());
  EXPECT_TRUE(WaitFor([&] { return !view.Usable(0); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(view.Usable(0));
  EXPECT_EQ(server.requests.load(), 0);
  prober.Stop();
}

TEST(ProberTlsTest, ContextThatCannotBeMadeFailsTheChecks) {
  TlsServer server({"http/1.1"}, [&](std::string_view, bool* close) {
    *close = true;
    return std::string("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  });
  config::Config cfg;
  config::Upstream u = TlsUpstream(server.port(), "backend.test");
  u.tls.ca = P("no-such-ca.pem");
  u.health.type = config::HealthCheck::Type::kHttp;
  cfg.upstreams.push_back(u);
  View view(1);
  Prober prober(cfg, &view);
  ASSERT_TRUE(prober.Start().ok());
  EXPECT_TRUE(WaitFor([&] { return !view.Usable(0) && prober.FirstRoundDone(); }));
  prober.Stop();
  EXPECT_EQ(server.handshakes.load(), 0);
}

TEST(ProberTlsTest, SilentBackendTimesOutInTheHandshake) {
  // Accepted by the kernel (the backlog) and never read or answered: the ClientHello is sent and
  // the receive is in flight when the timeout abandons the check, again and again (the TLS
  // session lives until the cancelled receive completes).
  uint16_t port = 0;
  int lfd = ListenLoopback(&port);
  ASSERT_GE(lfd, 0);
  config::Config cfg;
  config::Upstream u = TlsUpstream(port, "backend.test");
  u.health.type = config::HealthCheck::Type::kHttp;
  u.health.timeout_ms = 25;
  cfg.upstreams.push_back(u);
  View view(1);
  Prober prober(cfg, &view);
  ASSERT_TRUE(prober.Start().ok());
  EXPECT_TRUE(WaitFor([&] { return !view.Usable(0); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // more abandoned checks
  EXPECT_FALSE(view.Usable(0));
  prober.Stop();
  close(lfd);
}

// grpc.health.v1.Health/Check over h2 (ALPN) on the TLS server: answers `status`.
class GrpcApp : public h2::Handler {
 public:
  std::atomic<int> status{1};
  std::atomic<int> checks{0};
  std::string scheme() {
    std::lock_guard<std::mutex> lock(mu_);
    return scheme_;
  }

  std::string OnPlain(std::string_view in, bool*) {
    if (!session_) session_ = std::make_unique<h2::ServerSession>(h2::SessionLimits{}, this);
    if (!session_->Feed(in).ok) return "";
    std::string out;
    session_->TakeOutput(&out);
    out += pending_;
    pending_.clear();
    return out;
  }
  void NewConnection() { session_.reset(); }

 private:
  void OnRequest(uint32_t, const h2::Request& r, bool) override {
    std::lock_guard<std::mutex> lock(mu_);
    scheme_ = std::string(r.scheme);
  }
  void OnData(uint32_t id, std::string_view data, bool end_stream) override {
    session_->ConsumeData(id, data.size());
    if (!end_stream) return;
    ++checks;
    const hpack::HeaderField head[] = {{"content-type", "application/grpc"}};
    session_->SubmitResponse(id, h2::Response(200, head), false);
    const char message[] = {0, 0, 0, 0, 2, 0x08, static_cast<char>(status.load())};
    char hdr[h2::kFrameHeaderSize];
    session_->PrepareData(id, sizeof(message), false, hdr);
    session_->TakeOutput(&pending_);
    pending_.append(hdr, sizeof(hdr));
    pending_.append(message, sizeof(message));
    const hpack::HeaderField trailers[] = {{"grpc-status", "0"}};
    session_->SubmitTrailers(id, trailers);
    std::string more;
    session_->TakeOutput(&more);
    pending_ += more;
  }
  void OnTrailers(uint32_t, std::span<const hpack::HeaderField>) override {}
  void OnStreamClosed(uint32_t, h2::ErrorCode, bool) override {}

  std::unique_ptr<h2::ServerSession> session_;
  std::string pending_;
  std::mutex mu_;
  std::string scheme_;
};

TEST(ProberTlsTest, GrpcCheckOverTlsFollowsTheServingStatus) {
  GrpcApp app;
  // A connection's first bytes are the client preface: a new session for each.
  TlsServer server({"h2"}, [&](std::string_view in, bool* close) {
    if (in.substr(0, 3) == "PRI") app.NewConnection();
    return app.OnPlain(in, close);
  });
  config::Config cfg;
  config::Upstream u = TlsUpstream(server.port(), "backend.test");
  u.protocol = config::UpstreamProtocol::kH2;
  u.health.type = config::HealthCheck::Type::kGrpc;
  cfg.upstreams.push_back(u);
  View view(1);
  Prober prober(cfg, &view);
  ASSERT_TRUE(prober.Start().ok());
  EXPECT_TRUE(WaitFor([&] { return app.checks.load() >= 3; }));
  EXPECT_TRUE(view.Usable(0));
  EXPECT_EQ(app.scheme(), "https");
  app.status = 2;  // NOT_SERVING
  EXPECT_TRUE(WaitFor([&] { return !view.Usable(0); }));
  app.status = 1;
  EXPECT_TRUE(WaitFor([&] { return view.Usable(0); }));
  prober.Stop();
}

TEST(ProberTlsTest, GrpcCheckNeedsAlpnH2) {
  GrpcApp app;
  TlsServer server({"http/1.1"}, [&](std::string_view in, bool* close) {
    if (in.substr(0, 3) == "PRI") app.NewConnection();
    return app.OnPlain(in, close);
  });
  config::Config cfg;
  config::Upstream u = TlsUpstream(server.port(), "backend.test");
  u.protocol = config::UpstreamProtocol::kH2;
  u.health.type = config::HealthCheck::Type::kGrpc;
  cfg.upstreams.push_back(u);
  View view(1);
  Prober prober(cfg, &view);
  ASSERT_TRUE(prober.Start().ok());
  EXPECT_TRUE(WaitFor([&] { return !view.Usable(0); }));
  EXPECT_EQ(app.checks.load(), 0);
  prober.Stop();
}

}  // namespace
}  // namespace ringway::health
