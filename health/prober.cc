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
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/log.h"
#include "core/thread_name.h"
#include "core/timer.h"
#include "health/grpc_check.h"
#include "health/state.h"
#include "health/tls_probe.h"
#include "tls/tls.h"

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

enum class Kind : uint8_t { kTcp, kHttp, kGrpc };

// A gRPC check in flight: allocated when its connection is up and freed with it, so that TCP
// and HTTP probes (and gRPC ones between checks) carry no HTTP/2 session or buffers.
struct GrpcProbe {
  GrpcProbe(std::string_view authority, std::string_view service, std::string_view scheme)
      : check(authority, service, scheme) {}
  GrpcHealthCheck check;
  std::string out;  // being sent
  size_t sent = 0;
  char in[4096];
};

// The TLS client context of an upstream whose HTTP or gRPC checks speak TLS, made once per
// prober; `error` says why it could not be made (the checks then fail with it).
struct TlsUpstream {
  std::shared_ptr<tls::ClientContext> cc;
  std::string error;
};

struct Probe {
  uint32_t backend = 0;  // index in the view
  const config::Backend* cfg = nullptr;
  const config::Upstream* upstream = nullptr;
  bool checks = false;  // active checks on
  Kind kind = Kind::kTcp;
  std::string request;  // HTTP check request bytes
  std::unique_ptr<GrpcProbe> grpc;
  const TlsUpstream* tls_upstream = nullptr;  // set: HTTP and gRPC checks speak TLS
  std::unique_ptr<TlsProbe> tls;              // the check in flight's TLS connection
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
      const size_t first = probes_.size();
      for (const config::Backend& b : u.backends) {
        Probe p;
        p.backend = index++;
        p.cfg = &b;
        p.upstream = &u;
        p.checks = u.health.enabled && b.state != config::BackendState::kMaint;
        if (u.health.type == config::HealthCheck::Type::kGrpc) {
          p.kind = Kind::kGrpc;
        } else if (u.health.type == config::HealthCheck::Type::kHttp ||
                   !b.health_check_path.empty()) {
          p.kind = Kind::kHttp;
        }
        p.state = BackendState(u.health.rise, u.health.fall);
        if (view->Carried(p.backend)) p.state.Resume(view->State(p.backend) & View::kUp);
        if (b.address.len == 0) {
          // A host name that did not resolve: down from the start, not after a failed check
          // (its checks fail at once too; it comes back when a reload resolves it).
          p.state.Resume(false);
          view->SetUp(p.backend, false, MonoMs());
          RW_LOG(LogLevel::kWarn,
                 "health: backend %s (upstream '%s') is down: cannot resolve its host name",
                 b.address.text.c_str(), u.name.c_str());
        }
        if (p.kind == Kind::kHttp) {
          const std::string& path =
              b.health_check_path.empty() ? u.health.path : b.health_check_path;
          const std::string& host = u.health.host.empty() ? b.address.text : u.health.host;
          p.request = absl::StrCat(u.health.method, " ", path, " HTTP/1.1\r\nHost: ", host,
                                   "\r\nUser-Agent: ringway-health\r\nConnection: close\r\n\r\n");
        }
        if (p.checks) ++unchecked_;
        probes_.push_back(std::move(p));
      }
      if (u.tls.enabled) SetUpTls(u, first);
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

  // HTTP and gRPC checks of a TLS upstream speak TLS: one client context for the upstream, with
  // its verification, CA and SNI name, and ALPN "h2" for gRPC checks (none for HTTP/1.1). TCP
  // checks stay bare connects. A context that cannot be made fails the checks with the reason
  // (tls::BuildContexts refuses such a config at load, so this is a file changed since).
  void SetUpTls(const config::Upstream& u, size_t first) {
    bool needed = false;
    for (size_t i = first; i < probes_.size(); ++i) {
      needed |= probes_[i].checks && probes_[i].kind != Kind::kTcp;
    }
    if (!needed) return;
    auto t = std::make_unique<TlsUpstream>();
    absl::StatusOr<std::shared_ptr<tls::ClientContext>> cc = tls::ClientContext::Create(
        u.tls, u.health.type == config::HealthCheck::Type::kGrpc ? "h2" : "");
    if (cc.ok()) {
      t->cc = *std::move(cc);
    } else {
      t->error = std::string(cc.status().message());
      RW_LOG(LogLevel::kWarn, "health: upstream '%s': no TLS for its checks: %s", u.name.c_str(),
             t->error.c_str());
    }
    for (size_t i = first; i < probes_.size(); ++i) {
      if (probes_[i].kind != Kind::kTcp) probes_[i].tls_upstream = t.get();
    }
    tls_upstreams_.push_back(std::move(t));
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
          std::string reason =
              absl::StrFormat("timed out after %u ms", p.upstream->health.timeout_ms);
          if (p.tls && !p.tls->handshake_done()) {
            absl::StrAppend(&reason, " (TLS handshake)");
          } else if (p.grpc) {
            absl::StrAppend(&reason, " (", std::string(p.grpc->check.waiting_for()), ")");
          }
          Abandon(&p);
          Finish(&p, false, reason, now);
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
    if (a.len == 0) {  // a host name that did not resolve: nothing to connect to
      Finish(p, false, "cannot resolve its host name", now);
      return;
    }
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
    // A gRPC or TLS check has one send or receive in flight, into its buffers: they live until
    // that operation's completion (the cancelled one) comes back.
    if (p->grpc || p->tls) {
      retired_.push_back({p->backend, p->gen & 0xFFFFFF, std::move(p->grpc), std::move(p->tls)});
    }
  }

  // The completion of an abandoned check: frees the gRPC buffers it was using.
  void Release(uint32_t index, uint32_t gen) {
    for (size_t i = 0; i < retired_.size(); ++i) {
      if (retired_[i].backend == index && retired_[i].gen == gen) {
        retired_[i] = std::move(retired_.back());
        retired_.pop_back();
        return;
      }
    }
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
    if (!p->busy || (p->gen & 0xFFFFFF) != gen) {  // an abandoned check's completion
      if (!retired_.empty()) Release(index, gen);
      return;
    }
    uint64_t now = MonoMs();
    if (p->tls_upstream != nullptr && op != kConnect) return CompleteTls(p, op, res, now);
    if (p->kind == Kind::kGrpc && op != kConnect) return CompleteGrpc(p, op, res, now);
    switch (op) {
      case kConnect:
        if (res < 0) {
          Close(p);
          Finish(p, false, absl::StrCat("connect: ", strerror(-res)), now);
        } else if (p->kind == Kind::kTcp) {
          Close(p);
          Finish(p, true, "connected", now);
        } else if (p->tls_upstream != nullptr) {
          StartTls(p, now);
        } else if (p->kind == Kind::kGrpc) {
          const config::HealthCheck& h = p->upstream->health;
          p->grpc = std::make_unique<GrpcProbe>(h.host.empty() ? p->cfg->address.text : h.host,
                                                h.service, "http");
          if (p->grpc->check.done()) {  // the request could not be written
            const std::string reason = p->grpc->check.reason();
            Close(p);
            Finish(p, false, reason, now);
            break;
          }
          p->grpc->check.TakeOutput(&p->grpc->out);
          SendGrpc(p);
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
        HttpVerdict(p, status, now);
        break;
      }
      default:
        break;
    }
  }

  // The verdict of an HTTP check on the status line's code (ParseStatusLine's).
  void HttpVerdict(Probe* p, int status, uint64_t now) {
    const config::HealthCheck& h = p->upstream->health;
    if (status <= 0) {
      Finish(p, false, "the answer is not an HTTP/1.x response", now);
    } else if (status < h.expect_min || status > h.expect_max) {
      Finish(p, false,
             absl::StrFormat("status %d, expected %u-%u", status, h.expect_min, h.expect_max), now);
    } else {
      Finish(p, true, absl::StrFormat("status %d", status), now);
    }
  }

  // ---- Checks over TLS: connect, handshake, the request encrypted, the answer decrypted; one
  // send or receive in flight at a time, until a verdict (or the deadline).

  void FailTls(Probe* p, std::string reason, uint64_t now) {
    Close(p);
    Finish(p, false, reason, now);
  }

  void StartTls(Probe* p, uint64_t now) {
    const TlsUpstream* t = p->tls_upstream;
    if (t->cc == nullptr) return FailTls(p, absl::StrCat("TLS: ", t->error), now);
    p->tls = std::make_unique<TlsProbe>(*t->cc);
    if (p->tls->Start() == TlsProbe::Step::kFailed) return FailTls(p, p->tls->reason(), now);
    PumpTls(p);
  }

  // Sends what the session has to send, else receives.
  void PumpTls(Probe* p) {
    std::string_view out = p->tls->NextSend();
    io_uring_sqe* sqe = Sqe();
    if (!out.empty()) {
      io_uring_prep_send(sqe, p->fd, out.data(), out.size(), MSG_NOSIGNAL);
      io_uring_sqe_set_data64(sqe, Tag(p->backend, p->gen, kSend));
    } else {
      io_uring_prep_recv(sqe, p->fd, p->tls->in(), TlsProbe::kInSize, 0);
      io_uring_sqe_set_data64(sqe, Tag(p->backend, p->gen, kRecv));
    }
  }

  // The handshake is done: the request, encrypted.
  bool WriteTlsRequest(Probe* p, uint64_t now) {
    TlsProbe* t = p->tls.get();
    if (p->kind == Kind::kGrpc) {
      const config::HealthCheck& h = p->upstream->health;
      p->grpc = std::make_unique<GrpcProbe>(h.host.empty() ? p->cfg->address.text : h.host,
                                            h.service, "https");
      if (p->grpc->check.done()) {  // the request could not be written
        FailTls(p, p->grpc->check.reason(), now);
        return false;
      }
      p->grpc->check.TakeOutput(&p->grpc->out);
      const bool ok = t->Write(p->grpc->out);
      p->grpc->out.clear();
      if (!ok) FailTls(p, t->reason(), now);
      return ok;
    }
    if (!t->Write(p->request)) {
      FailTls(p, t->reason(), now);
      return false;
    }
    return true;
  }

  // The backend closed the connection before a verdict.
  void TlsEof(Probe* p, uint64_t now) {
    TlsProbe* t = p->tls.get();
    if (!t->handshake_done()) return FailTls(p, t->EofReason(), now);
    if (p->kind == Kind::kGrpc && p->grpc) {
      p->grpc->check.OnEof();
      const bool ok = p->grpc->check.ok();
      const std::string reason = p->grpc->check.reason();
      Close(p);
      return Finish(p, ok, reason, now);
    }
    FailTls(p,
            p->got == 0 ? std::string("closed without a response")
                        : std::string("closed before the status line"),
            now);
  }

  void CompleteTls(Probe* p, Op op, int res, uint64_t now) {
    TlsProbe* t = p->tls.get();
    if (op == kSend) {
      if (res <= 0) {
        return FailTls(p, res < 0 ? absl::StrCat("send: ", strerror(-res)) : std::string("send: 0"),
                       now);
      }
      t->Sent(static_cast<size_t>(res));
      return PumpTls(p);
    }
    if (res < 0) return FailTls(p, absl::StrCat("receive: ", strerror(-res)), now);
    if (res == 0) return TlsEof(p, now);
    plain_.clear();
    const TlsProbe::Step step = t->Received(static_cast<size_t>(res), &plain_);
    if (step == TlsProbe::Step::kFailed) return FailTls(p, t->reason(), now);
    if (step == TlsProbe::Step::kEstablished && !WriteTlsRequest(p, now)) return;
    if (!plain_.empty()) {
      if (p->kind == Kind::kGrpc) {
        if (p->grpc) p->grpc->check.Feed(plain_);
        if (p->grpc && p->grpc->check.done()) {
          const bool ok = p->grpc->check.ok();
          const std::string reason = p->grpc->check.reason();
          Close(p);
          return Finish(p, ok, reason, now);
        }
      } else {
        const size_t k = std::min(plain_.size(), sizeof(p->buf) - p->got);
        memcpy(p->buf + p->got, plain_.data(), k);
        p->got += k;
        const int status = ParseStatusLine(p->buf, p->got);
        if (status != 0 || p->got == sizeof(p->buf)) {
          Close(p);
          return HttpVerdict(p, status, now);
        }
      }
    }
    if (step == TlsProbe::Step::kClosed) return TlsEof(p, now);
    if (p->grpc) {
      p->grpc->check.TakeOutput(&p->grpc->out);  // SETTINGS and PING ACKs
      if (!p->grpc->out.empty()) {
        const bool ok = t->Write(p->grpc->out);
        p->grpc->out.clear();
        if (!ok) return FailTls(p, t->reason(), now);
      }
    }
    PumpTls(p);
  }

  // A gRPC check's exchange: send what the check has to send, then receive, feed the check,
  // and again, one operation at a time, until it has a verdict (or the deadline passes).
  void CompleteGrpc(Probe* p, Op op, int res, uint64_t now) {
    GrpcProbe* g = p->grpc.get();
    if (op == kSend) {
      if (res <= 0) {
        Close(p);
        return Finish(p, false,
                      res < 0 ? absl::StrCat("send: ", strerror(-res)) : std::string("send: 0"),
                      now);
      }
      g->sent += static_cast<size_t>(res);
      if (g->sent < g->out.size()) return SendGrpc(p);
      g->out.clear();
      g->sent = 0;
      return ArmGrpcRecv(p);
    }
    if (res < 0) {
      Close(p);
      return Finish(p, false, absl::StrCat("receive: ", strerror(-res)), now);
    }
    if (res == 0) {
      g->check.OnEof();
    } else {
      g->check.Feed(std::string_view(g->in, static_cast<size_t>(res)));
    }
    if (g->check.done()) {
      const bool ok = g->check.ok();
      const std::string reason = g->check.reason();
      Close(p);
      return Finish(p, ok, reason, now);
    }
    g->check.TakeOutput(&g->out);  // SETTINGS and PING ACKs
    if (!g->out.empty()) return SendGrpc(p);
    ArmGrpcRecv(p);
  }

  void SendGrpc(Probe* p) {
    GrpcProbe* g = p->grpc.get();
    io_uring_sqe* sqe = Sqe();
    io_uring_prep_send(sqe, p->fd, g->out.data() + g->sent, g->out.size() - g->sent, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, Tag(p->backend, p->gen, kSend));
  }

  void ArmGrpcRecv(Probe* p) {
    io_uring_sqe* sqe = Sqe();
    io_uring_prep_recv(sqe, p->fd, p->grpc->in, sizeof(p->grpc->in), 0);
    io_uring_sqe_set_data64(sqe, Tag(p->backend, p->gen, kRecv));
  }

  void ArmRecv(Probe* p) {
    io_uring_sqe* sqe = Sqe();
    io_uring_prep_recv(sqe, p->fd, p->buf + p->got, sizeof(p->buf) - p->got, 0);
    io_uring_sqe_set_data64(sqe, Tag(p->backend, p->gen, kRecv));
  }

  // Closes the check's socket; no operation of it is in flight.
  void Close(Probe* p) {
    if (p->fd >= 0) close(p->fd);
    p->fd = -1;
    p->grpc.reset();
    p->tls.reset();
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

  // The buffers of abandoned gRPC and TLS checks, until their last operation completes.
  struct Retired {
    uint32_t backend;
    uint32_t gen;
    std::unique_ptr<GrpcProbe> grpc;
    std::unique_ptr<TlsProbe> tls;
  };

  View* view_;
  // Before the probes: their TLS sessions go before the contexts they were made from.
  std::vector<std::unique_ptr<TlsUpstream>> tls_upstreams_;
  std::vector<Probe> probes_;
  std::vector<Retired> retired_;
  std::string plain_;     // a TLS check's decrypted bytes, for the moment it takes to read them
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
  thread_ = std::thread([this] {
    core::NameThisThread("rw-prober");
    loop_->Run();
  });
  return absl::OkStatus();
}

bool Prober::FirstRoundDone() const { return loop_->first_round_.load(std::memory_order_acquire); }

void Prober::Stop() {
  if (!thread_.joinable()) return;
  loop_->Stop();
  thread_.join();
}

}  // namespace ringway::health
