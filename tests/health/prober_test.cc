// The prober against real sockets on loopback: a listening port passes TCP checks, a closed one
// fails them, an HTTP server answering 500 fails HTTP checks.
#include "health/prober.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "config/config.h"
#include "core/timer.h"
#include "gtest/gtest.h"
#include "health/view.h"

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
