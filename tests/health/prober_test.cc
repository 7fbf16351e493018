// The prober against real sockets on loopback: a listening port passes TCP checks, a closed one
// fails them, an HTTP server answering 500 fails HTTP checks, a gRPC health service (made of the
// project's HTTP/2 server session) is followed as it turns NOT_SERVING and back, and a backend
// that accepts but never answers fails gRPC checks by their timeout.
#include "health/prober.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>

#include "config/config.h"
#include "core/timer.h"
#include "gtest/gtest.h"
#include "health/grpc_check.h"
#include "health/view.h"
#include "proto/h2_session.h"

namespace ringway::health {
namespace {

// A listening socket on 127.0.0.1 with an ephemeral port.
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

// A port nothing listens on: bound, then closed.
uint16_t ClosedPort() {
  uint16_t port = 0;
  int fd = ListenLoopback(&port);
  close(fd);
  return port;
}

config::Backend BackendAt(uint16_t port) {
  config::Backend b;
  b.address = *config::ParseSocketAddress("127.0.0.1:" + std::to_string(port));
  return b;
}

// Waits (bounded) until pred() holds.
template <typename F>
bool WaitFor(F pred) {
  for (int i = 0; i < 500; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

TEST(ProberTest, TcpChecksTakeAClosedPortDownAndLeaveAnOpenOneUp) {
  uint16_t open_port = 0;
  int lfd = ListenLoopback(&open_port);
  ASSERT_GE(lfd, 0);
  config::Config cfg;
  config::Upstream u;
  u.name = "t";
  u.health.interval_ms = 50;
  u.health.timeout_ms = 40;
  u.health.jitter_ms = 0;
  u.backends.push_back(BackendAt(open_port));
  u.backends.push_back(BackendAt(ClosedPort()));
  cfg.upstreams.push_back(u);
  View view(2);
  Prober prober(cfg, &view);
  ASSERT_TRUE(prober.Start().ok());
  EXPECT_TRUE(WaitFor([&] { return !view.Usable(1); }));
  // Several rounds later the open port is still up.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(view.Usable(0));
  EXPECT_FALSE(view.Usable(1));
  prober.Stop();
  close(lfd);
}

TEST(ProberTest, HttpCheckFailsOnUnexpectedStatusAndPassesInRange) {
  uint16_t port = 0;
  int lfd = ListenLoopback(&port);
  ASSERT_GE(lfd, 0);
  std::atomic<int> status{500};
  std::atomic<bool> stop{false};
  std::thread server([&] {
    while (!stop.load()) {
      int c = accept(lfd, nullptr, nullptr);
      if (c < 0) break;
      char buf[512];
      ssize_t n = read(c, buf, sizeof(buf));
      (void)n;
      std::string r =
          "HTTP/1.1 " + std::to_string(status.load()) + " X\r\nContent-Length: 0\r\n\r\n";
      ssize_t w = write(c, r.data(), r.size());
      (void)w;
      close(c);
    }
  });
  config::Config cfg;
  config::Upstream u;
  u.name = "t";
  u.health.type = config::HealthCheck::Type::kHttp;
  u.health.path = "/health";
  u.health.interval_ms = 30;
  u.health.timeout_ms = 500;
  u.health.jitter_ms = 0;
  u.health.rise = 2;
  u.backends.push_back(BackendAt(port));
  cfg.upstreams.push_back(u);
  View view(1);
  Prober prober(cfg, &view);
  ASSERT_TRUE(prober.Start().ok());
  EXPECT_TRUE(WaitFor([&] { return !view.Usable(0); }));
  status = 204;
  EXPECT_TRUE(WaitFor([&] { return view.Usable(0); }));
  prober.Stop();
  stop = true;
  shutdown(lfd, SHUT_RDWR);
  close(lfd);
  server.join();
}

// grpc.health.v1.Health/Check on a socket, one connection at a time, answering `status`.
// Owns the listening socket `lfd`.
class GrpcHealthBackend : public h2::Handler {
 public:
  explicit GrpcHealthBackend(int lfd) : lfd_(lfd), thread_([this] { Serve(); }) {}
  ~GrpcHealthBackend() {
    stop_ = true;
    shutdown(lfd_, SHUT_RDWR);  // wakes the accept
    thread_.join();
    close(lfd_);
  }

  std::atomic<int> status{1};  // SERVING
  std::atomic<int> checks{0};

  std::string last_request() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_request_;
  }
  std::string last_authority() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_authority_;
  }

 private:
  void Serve() {
    while (!stop_) {
      int c = accept(lfd_, nullptr, nullptr);
      if (c < 0) return;
      h2::ServerSession session(h2::SessionLimits{}, this);
      session_ = &session;
      body_.clear();
      char buf[4096];
      for (;;) {
        ssize_t n = read(c, buf, sizeof(buf));
        if (n <= 0 || !session.Feed(std::string_view(buf, static_cast<size_t>(n))).ok) break;
        std::string out;
        session.TakeOutput(&out);
        out += pending_;
        pending_.clear();
        if (!out.empty() && write(c, out.data(), out.size()) != static_cast<ssize_t>(out.size())) {
          break;
        }
      }
      session_ = nullptr;
      close(c);
    }
  }
  void OnRequest(uint32_t, const h2::Request& r, bool) override {
    std::lock_guard<std::mutex> lock(mu_);
    last_authority_ = std::string(r.authority);
  }
  void OnData(uint32_t id, std::string_view data, bool end_stream) override {
    body_.append(data);
    session_->ConsumeData(id, data.size());
    if (!end_stream) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_request_ = body_;
    }
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

  int lfd_;
  std::atomic<bool> stop_{false};
  h2::ServerSession* session_ = nullptr;
  std::string body_;
  std::string pending_;  // the response, after the session's own output
  std::mutex mu_;
  std::string last_request_;
  std::string last_authority_;
  std::thread thread_;
};

config::Upstream GrpcUpstream(uint16_t port) {
  config::Upstream u;
  u.name = "g";
  u.protocol = config::UpstreamProtocol::kH2c;
  u.health.type = config::HealthCheck::Type::kGrpc;
  u.health.service = "my.Svc";
  u.health.interval_ms = 30;
  u.health.timeout_ms = 25;
  u.health.jitter_ms = 0;
  u.health.rise = 2;
  u.health.fall = 2;
  u.backends.push_back(BackendAt(port));
  return u;
}

TEST(ProberTest, GrpcCheckFollowsTheServingStatus) {
  uint16_t port = 0;
  int lfd = ListenLoopback(&port);
  ASSERT_GE(lfd, 0);
  GrpcHealthBackend backend(lfd);
  config::Config cfg;
  cfg.upstreams.push_back(GrpcUpstream(port));
  cfg.upstreams[0].health.host = "grpc.internal";
  View view(1);
  Prober prober(cfg, &view);
  ASSERT_TRUE(prober.Start().ok());
  EXPECT_TRUE(WaitFor([&] { return backend.checks.load() >= 3; }));
  EXPECT_TRUE(view.Usable(0));
  EXPECT_EQ(backend.last_request(), GrpcHealthRequest("my.Svc"));
  EXPECT_EQ(backend.last_authority(), "grpc.internal");
  backend.status = 2;  // NOT_SERVING
  EXPECT_TRUE(WaitFor([&] { return !view.Usable(0); }));
  backend.status = 1;
  EXPECT_TRUE(WaitFor([&] { return view.Usable(0); }));
  prober.Stop();
}

TEST(ProberTest, GrpcCheckTimesOutOnASilentBackend) {
  // Accepted by the kernel (the backlog) and never read or answered: the check's receive is in
  // flight when its timeout abandons it, again and again.
  uint16_t port = 0;
  int lfd = ListenLoopback(&port);
  ASSERT_GE(lfd, 0);
  config::Config cfg;
  cfg.upstreams.push_back(GrpcUpstream(port));
  cfg.upstreams.push_back(GrpcUpstream(ClosedPort()));
  View view(2);
  Prober prober(cfg, &view);
  ASSERT_TRUE(prober.Start().ok());
  EXPECT_TRUE(WaitFor([&] { return !view.Usable(0) && !view.Usable(1); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // more abandoned checks
  EXPECT_FALSE(view.Usable(0));
  prober.Stop();
  close(lfd);
}

TEST(ProberTest, EjectionEndsAfterBackoffAndPassingChecks) {
  uint16_t port = 0;
  int lfd = ListenLoopback(&port);
  ASSERT_GE(lfd, 0);
  config::Config cfg;
  config::Upstream u;
  u.name = "t";
  u.health.interval_ms = 20;
  u.health.timeout_ms = 15;
  u.health.jitter_ms = 0;
  u.backends.push_back(BackendAt(port));
  cfg.upstreams.push_back(u);
  View view(1);
  Prober prober(cfg, &view);
  ASSERT_TRUE(prober.Start().ok());
  uint64_t for_ms = 0;
  for (int i = 0; i < 3; ++i) view.RecordFailure(0, core::MonotonicMs(), 3, 200, 1000, &for_ms);
  EXPECT_EQ(for_ms, 200u);
  EXPECT_FALSE(view.Usable(0));
  EXPECT_TRUE(WaitFor([&] { return view.Usable(0); }));
  EXPECT_GE(core::MonotonicMs() + 10, view.EjectedUntilMs(0));  // not before the back-off
  prober.Stop();
  close(lfd);
}

TEST(ProberTest, StopIsPromptWithLongIntervals) {
  config::Config cfg;
  config::Upstream u;
  u.name = "t";
  u.health.interval_ms = 3'600'000;
  u.backends.push_back(BackendAt(ClosedPort()));
  cfg.upstreams.push_back(u);
  View view(1);
  Prober prober(cfg, &view);
  ASSERT_TRUE(prober.Start().ok());
  auto t0 = std::chrono::steady_clock::now();
  prober.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
}

}  // namespace
}  // namespace ringway::health
