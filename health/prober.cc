#include "health/prober.h"

#include <liburing.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/log.h"
#include "core/timer.h"
#include "health/state.h"

namespace ringway::health {

using core::LogLevel;

int ParseStatusLine(const char* bytes, size_t n) {
  static constexpr char kPrefix[] = "HTTP/1.";
  const size_t plen = sizeof(kPrefix) - 1;
  for (size_t i = 0; i < std::min(n, plen); ++i) {
    if (bytes[i] != kPrefix[i]) return -1;
  }
  if (n < plen + 5) return 0;  // "HTTP/1.x NNN"
  if (bytes[plen] != '0' && bytes[plen] != '1') return -1;
  if (bytes[plen + 1] != ' ') return -1;
  int code = 0;
  for (size_t i = plen + 2; i < plen + 5; ++i) {
    if (bytes[i] < '0' || bytes[i] > '9') return -1;
    code = code * 10 + (bytes[i] - '0');
  }
  if (code < 100) return -1;
  return code;
}

namespace {

enum Op : uint8_t { kConnect = 1, kSend = 2, kRecv = 3, kWake = 4, kIgnore = 5 };

// The workers' clock (core/timer.h): ejection deadlines and up-since times are compared
// across threads.
uint64_t MonoMs() { return core::MonotonicMs(); }

struct Probe {
  uint32_t backend = 0;  // index in the view
  const config::Backend* cfg = nullptr;
  const config::Upstream* upstream = nullptr;
  bool checks = false;  // active checks on
  bool http = false;
  std::string request;  // HTTP check request bytes
  BackendState state{1, 1};
  int fd = -1;
  uint32_t gen = 0;  // bumped per check: completions of an abandoned check are ignored
  bool busy = false;
  bool ejected_seen = false;
  bool down_while_ejected = false;  // the checks took it down during its ejection
  uint64_t started_ms = 0;
  uint64_t deadline_ms = 0;
  uint64_t next_ms = 0;
  bool checked = false;  // has finished a check
  size_t got = 0;
  char buf[128];
};

}  // namespace

class ProberLoop {
 public:
  ProberLoop(const config::Config& cfg, View* view) : view_(view) {
    uint32_t index = 0;
    for (const config::Upstream& u : cfg.upstreams) {
      for (const config::Backend& b : u.backends) {
        Probe p;
        p.backend = index++;
        p.cfg = &b;
        p.upstream = &u;
        p.checks = u.health.enabled && b.state != config::BackendState::kMaint;
        p.http = u.health.type == config::HealthCheck::Type::kHttp || !b.health_check_path.empty();
        p.state = BackendState(u.health.rise, u.health.fall);
        if (view->Carried(p.backend)) p.state.Resume(view->State(p.backend) & View::kUp);
        if (p.http) {
          const std::string& path =
              b.health_check_path.empty() ? u.health.path : b.health_check_path;
          const std::string& host = u.health.host.empty() ? b.address.text : u.health.host;
          p.request = absl::StrCat(u.health.method, " ", path, " HTTP/1.1\r\nHost: ", host,
                                   "\r\nUser-Agent: ringway-health\r\nConnection: close\r\n\r\n");
        }
        if (p.checks) ++unchecked_;
        probes_.push_back(std::move(p));
      }
    }
    if (unchecked_ == 0) first_round_.store(true, std::memory_order_relaxed);
    rng_ = MonoMs() * 0x9E3779B97F4A7C15ull + 1;
  }

  ~ProberLoop() {
    for (Probe& p : probes_) {
      if (p.fd >= 0) close(p.fd);
    }
    if (ring_ready_) io_uring_queue_exit(&ring_);
    if (wake_fd_ >= 0) close(wake_fd_);
  }

  absl::Status Init() {
    wake_fd_ = eventfd(0, EFD_CLOEXEC);
    if (wake_fd_ < 0) return absl::InternalError(absl::StrCat("eventfd: ", strerror(errno)));
    unsigned entries = 64;
    while (entries < probes_.size() * 2 + 8 && entries < 4096) entries *= 2;
    int r = io_uring_queue_init(entries, &ring_, 0);
    if (r < 0) {
      return absl::UnavailableError(
          absl::StrCat("health prober: io_uring_queue_init: ", strerror(-r)));
    }
    ring_ready_ = true;
    return absl::OkStatus();
  }

  void Stop() {
    stop_.store(true, std::memory_order_release);
    uint64_t one = 1;
    ssize_t w = write(wake_fd_, &one, sizeof(one));
    (void)w;
  }

  void Run() {
    uint64_t now = MonoMs();
    for (Probe& p : probes_) p.next_ms = now + Jitter(p.upstream->health.jitter_ms);
    ArmWake();
    while (!stop_.load(std::memory_order_acquire)) {
      now = MonoMs();
      uint64_t wake_at = now + 60'000;
      for (Probe& p : probes_) {
        if (p.busy && now >= p.deadline_ms) {
          Abandon(&p);
          Finish(&p, false, absl::StrFormat("timed out after %u ms", p.upstream->health.timeout_ms),
                 now);
        }
        if (p.checks && !p.busy && now >= p.next_ms) StartCheck(&p, now);
        if (p.busy) {
          wake_at = std::min(wake_at, p.deadline_ms);
        } else if (p.checks) {
          wake_at = std::min(wake_at, p.next_ms);
        }
        SweepEjection(&p, now, &wake_at);
      }
      __kernel_timespec ts{};
      uint64_t wait_ms = wake_at > now ? wake_at - now : 0;
      ts.tv_sec = static_cast<int64_t>(wait_ms / 1000);
      ts.tv_nsec = static_cast<int64_t>((wait_ms % 1000) * 1'000'000);
      io_uring_cqe* cqe = nullptr;
      int r = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
      if (r < 0 && r != -ETIME && r != -EINTR && r != -EBUSY) {
        RW_LOG(LogLevel::kError, "health prober: io_uring wait: %s", strerror(-r));
        return;
      }
      unsigned head;
      unsigned seen = 0;
      io_uring_for_each_cqe(&ring_, head, cqe) {
        ++seen;
        Complete(cqe->user_data, cqe->res);
      }
      io_uring_cq_advance(&ring_, seen);
    }
  }

 private:
  static uint64_t Tag(uint32_t index, uint32_t gen, Op op) {
    return (static_cast<uint64_t>(index) << 32) | (static_cast<uint64_t>(gen & 0xFFFFFF) << 8) | op;
  }

  io_uring_sqe* Sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (!sqe) {
      io_uring_submit(&ring_);
      sqe = io_uring_get_sqe(&ring_);
    }
    return sqe;  // the ring has room for two SQEs per probe, so this cannot stay null
  }

  uint64_t Jitter(uint32_t max_ms) {
    if (max_ms == 0) return 0;
    rng_ ^= rng_ << 13;
    rng_ ^= rng_ >> 7;
    rng_ ^= rng_ << 17;
    return rng_ % (static_cast<uint64_t>(max_ms) + 1);
  }

  void ArmWake() {
    io_uring_sqe* sqe = Sqe();
    io_uring_prep_read(sqe, wake_fd_, &wake_value_, sizeof(wake_value_), 0);
    io_uring_sqe_set_data64(sqe, Tag(0, 0, kWake));
  }

  void StartCheck(Probe* p, uint64_t now) {
    ++p->gen;
    p->started_ms = now;
    p->deadline_ms = now + p->upstream->health.timeout_ms;
    p->got = 0;
    p->busy = true;
    const config::SocketAddress& a = p->cfg->address;
    p->fd = socket(a.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p->fd < 0) {
      // Out of descriptors or memory here says nothing about the backend: skip this check
      // (and say so, at most once a minute) rather than take a healthy backend down.
      const int err = errno;
      p->busy = false;
      ++p->gen;
      p->next_ms = now + p->upstream->health.interval_ms + Jitter(p->upstream->health.jitter_ms);
      if (now >= socket_log_ms_) {
        socket_log_ms_ = now + 60'000;
        RW_LOG(LogLevel::kWarn, "health: cannot open a socket to check %s: %s; check skipped",
               Name(p), strerror(err));
      }
      return;
    }
    io_uring_sqe* sqe = Sqe();
    io_uring_prep_connect(sqe, p->fd, reinterpret_cast<const sockaddr*>(&a.storage), a.len);
    io_uring_sqe_set_data64(sqe, Tag(p->backend, p->gen, kConnect));
  }

  // Gives up on the check in flight: cancels what the kernel holds, closes the socket.
  void Abandon(Probe* p) {
    if (p->fd < 0) return;
    io_uring_sqe* sqe = Sqe();
    io_uring_prep_cancel_fd(sqe, p->fd, IORING_ASYNC_CANCEL_ALL);
    io_uring_sqe_set_data64(sqe, Tag(0, 0, kIgnore));
    io_uring_submit(&ring_);  // the cancel must name the socket before its number is reused
    close(p->fd);
    p->fd = -1;
  }

  void Complete(uint64_t data, int res) {
    Op op = static_cast<Op>(data & 0xFF);
    if (op == kWake) {
      if (!stop_.load(std::memory_order_acquire)) ArmWake();
      return;
    }
    if (op == kIgnore) return;
    uint32_t index = static_cast<uint32_t>(data >> 32);
    uint32_t gen = static_cast<uint32_t>((data >> 8) & 0xFFFFFF);
    if (index >= probes_.size()) return;
    Probe* p = &probes_[index];
    if (!p->busy || (p->gen & 0xFFFFFF) != gen) return;  // an abandoned check's completion
    uint64_t now = MonoMs();
    switch (op) {
      case kConnect:
        if (res < 0) {
          Close(p);
          Finish(p, false, absl::StrCat("connect: ", strerror(-res)), now);
        } else if (!p->http) {
          Close(p);
          Finish(p, true, "connected", now);
        } else {
          io_uring_sqe* sqe = Sqe();
          io_uring_prep_send(sqe, p->fd, p->request.data(), p->request.size(), MSG_NOSIGNAL);
          io_uring_sqe_set_data64(sqe, Tag(p->backend, p->gen, kSend));
        }
        break;
      case kSend:
        if (res < 0 || static_cast<size_t>(res) != p->request.size()) {
          Close(p);
          Finish(p, false,
                 res < 0 ? absl::StrCat("send: ", strerror(-res)) : std::string("short send"), now);
        } else {
          ArmRecv(p);
        }
        break;
      case kRecv: {
        if (res <= 0) {
          Close(p);
          Finish(p, false,
                 res < 0       ? absl::StrCat("receive: ", strerror(-res))
                 : p->got == 0 ? std::string("closed without a response")
                               : std::string("closed before the status line"),
                 now);
          break;
        }
        p->got += static_cast<size_t>(res);
        int status = ParseStatusLine(p->buf, p->got);
        if (status == 0 && p->got < sizeof(p->buf)) {
          ArmRecv(p);
          break;
        }
        Close(p);
        const config::HealthCheck& h = p->upstream->health;
        if (status <= 0) {
          Finish(p, false, "the answer is not an HTTP/1.x response", now);
        } else if (status < h.expect_min || status > h.expect_max) {
          Finish(p, false,
                 absl::StrFormat("status %d, expected %u-%u", status, h.expect_min, h.expect_max),
                 now);
        } else {
          Finish(p, true, absl::StrFormat("status %d", status), now);
        }
        break;
      }
      default:
        break;
    }
  }

  void ArmRecv(Probe* p) {
    io_uring_sqe* sqe = Sqe();
    io_uring_prep_recv(sqe, p->fd, p->buf + p->got, sizeof(p->buf) - p->got, 0);
    io_uring_sqe_set_data64(sqe, Tag(p->backend, p->gen, kRecv));
  }

  void Close(Probe* p) {
    if (p->fd >= 0) close(p->fd);
    p->fd = -1;
  }

  const char* Name(const Probe* p) const { return p->cfg->address.text.c_str(); }

  void Finish(Probe* p, bool ok, const std::string& reason, uint64_t now) {
    p->busy = false;
    ++p->gen;
    view_->RecordCheck(p->backend, ok);
    if (!p->checked) {
      p->checked = true;
      if (--unchecked_ == 0) first_round_.store(true, std::memory_order_release);
    }
    const config::HealthCheck& h = p->upstream->health;
    p->next_ms = now + h.interval_ms + Jitter(h.jitter_ms);

    if (view_->State(p->backend) & View::kEjected) {
      if (!p->ejected_seen) {
        p->ejected_seen = true;
        p->down_while_ejected = false;
        p->state.StartEjection();
      }
      if (p->state.OnCheckWhileEjected(ok, p->started_ms, view_->EjectedUntilMs(p->backend))) {
        view_->Readmit(p->backend, now);
        p->ejected_seen = false;
        RW_LOG(LogLevel::kInfo,
               "health: backend %s (upstream '%s') readmitted after passive ejection: %u "
               "checks passed in a row",
               Name(p), p->upstream->name.c_str(), p->state.rise());
      }
    }
    switch (p->state.OnCheck(ok)) {
      case Change::kDown:
        view_->SetUp(p->backend, false, now);
        if (p->ejected_seen) p->down_while_ejected = true;
        RW_LOG(LogLevel::kWarn,
               "health: backend %s (upstream '%s') is down: %s (%u failed check%s in a row)",
               Name(p), p->upstream->name.c_str(), reason.c_str(), p->state.failures(),
               p->state.failures() == 1 ? "" : "s");
        break;
      case Change::kUp:
        view_->SetUp(p->backend, true, now);
        // Ejected, then taken down by the checks and now back: it went away and came back
        // (a restart), which says more than the back-off; readmit it with its comeback.
        if (p->ejected_seen && p->down_while_ejected) {
          view_->Readmit(p->backend, now);
          p->ejected_seen = false;
          RW_LOG(LogLevel::kInfo,
                 "health: backend %s (upstream '%s') readmitted after passive ejection: it "
                 "went down and came back up",
                 Name(p), p->upstream->name.c_str());
        }
        RW_LOG(LogLevel::kInfo,
               "health: backend %s (upstream '%s') is up: %s (%u checks passed in a row)", Name(p),
               p->upstream->name.c_str(), reason.c_str(), p->state.passes());
        break;
      case Change::kNone:
        if (!ok) {
          RW_LOG(LogLevel::kDebug, "health: backend %s (upstream '%s') failed a check: %s", Name(p),
                 p->upstream->name.c_str(), reason.c_str());
        }
        break;
    }
  }

  // Ejections of backends whose upstream runs no checks end when the back-off has passed;
  // a backend that stayed in for a whole max_ejection starts its back-off again at base.
  void SweepEjection(Probe* p, uint64_t now, uint64_t* wake_at) {
    uint32_t state = view_->State(p->backend);
    const config::PassiveHealth& ph = p->upstream->passive;
    if (!(state & View::kEjected)) {
      if (view_->Ejections(p->backend) > 0 &&
          now >= view_->UpSinceMs(p->backend) + ph.max_ejection_ms) {
        view_->ForgetEjections(p->backend);
      }
      if (!p->checks && ph.consecutive_failures > 0) *wake_at = std::min(*wake_at, now + 500);
      return;
    }
    if (p->checks) return;  // readmitted by its checks, in Finish
    uint64_t until = view_->EjectedUntilMs(p->backend);
    if (now >= until) {
      view_->Readmit(p->backend, now);
      RW_LOG(LogLevel::kInfo,
             "health: backend %s (upstream '%s') readmitted: ejection over (checks are off)",
             Name(p), p->upstream->name.c_str());
    } else {
      *wake_at = std::min(*wake_at, until);
    }
  }

  View* view_;
  std::vector<Probe> probes_;
  size_t unchecked_ = 0;  // probes with checks on that have not finished one yet

 public:
  std::atomic<bool> first_round_{false};  // every backend with checks has had one

 private:
  io_uring ring_{};
  bool ring_ready_ = false;
  int wake_fd_ = -1;
  uint64_t wake_value_ = 0;
  uint64_t rng_ = 1;
  uint64_t socket_log_ms_ = 0;
  std::atomic<bool> stop_{false};
};

Prober::Prober(const config::Config& config, View* view)
    : loop_(std::make_unique<ProberLoop>(config, view)) {}

Prober::~Prober() { Stop(); }

absl::Status Prober::Start() {
  absl::Status s = loop_->Init();
  if (!s.ok()) return s;
  thread_ = std::thread([this] { loop_->Run(); });
  return absl::OkStatus();
}

bool Prober::FirstRoundDone() const { return loop_->first_round_.load(std::memory_order_acquire); }

void Prober::Stop() {
  if (!thread_.joinable()) return;
  loop_->Stop();
  thread_.join();
}

}  // namespace ringway::health
