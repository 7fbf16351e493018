// The HTTP/1.1 proxy on one worker's ring: accept, read, parse, route, balance, forward.
//
// Life of an exchange (client connection C, upstream connection U):
//
//   C: kIdle --bytes--> kHead --head parsed--> kBody --body done--> kDone
//   U: connect (or taken from the pool) -> send head+body -> kHead -> kBody -> kDone -> pool
//
// C's response side runs at the same time: kWaiting -> kStreaming -> kDone. When both sides of
// C are done the exchange ends: the access log line is written and C goes back to kIdle (or
// closes). Bytes flow without copies: a buffer the kernel filled for one socket is queued on
// the other socket's SendQueue and returned to the ring when the send completes. Heads are the
// exception: they are rewritten into a pooled string.
//
// Memory is bounded by backpressure: when one side's queue holds more than kHighWater bytes the
// other side's multishot receive is cancelled, and re-armed when the queue drains.
//
// Connections are freed only at the end of a loop turn and only when no operation the kernel
// holds still refers to them (`inflight` == 0): a completion never sees freed memory.
#include "proxy/worker.h"

#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "balance/balancer.h"
#include "balance/hash.h"
#include "balance/retry_budget.h"
#include "balance/slow_start.h"
#include "balance/sticky.h"
#include "core/log.h"
#include "core/ring.h"
#include "core/socket.h"
#include "core/timer.h"
#include "proto/http1_chunked.h"
#include "proto/http1_parser.h"
#include "proto/http1_writer.h"
#include "proxy/access_log.h"
#include "proxy/send_queue.h"
#include "tls/tls.h"

namespace ringway::proxy {

using core::LogLevel;
using http1::BodyKind;

Snapshot::Snapshot(config::Config c) : config(std::move(c)), router(config) {
  for (uint32_t i = 0; i < config.upstreams.size(); ++i) {
    const auto& u = config.upstreams[i];
    backend_base.push_back(backend_count);
    backend_count += static_cast<uint32_t>(u.backends.size());
    for (const auto& b : u.backends) {
      backends.push_back(&b);
      backend_upstream.push_back(i);
    }
  }
  health = std::make_shared<health::View>(backend_count);
}

namespace {

// What an SQE's user_data carries: a pointer (8-byte aligned) and the operation in the low bits.
enum class Op : uint8_t { kIgnore = 0, kAccept, kRecv, kSend, kConnect, kWake };
inline uint64_t Tag(const void* p, Op op) {
  return reinterpret_cast<uint64_t>(p) | static_cast<uint64_t>(op);
}
inline Op TagOp(uint64_t ud) { return static_cast<Op>(ud & 7); }
template <typename T>
T* TagPtr(uint64_t ud) {
  return reinterpret_cast<T*>(ud & ~uint64_t{7});
}

// Timer kinds (TimerNode::kind); 0 means not armed.
enum TimerKind : uint8_t {
  kTimerNone = 0,
  kTimerHeader,
  kTimerKeepalive,
  kTimerBody,
  kTimerConnect,
  kTimerResponse,
  kTimerLinger,
  kTimerPoolIdle,
  kTimerSend,
  kTimerTunnel,
  kTimerKinds,
};

constexpr uint64_t kLingerMs = 2000;
constexpr uint64_t kPoolIdleMs = 60'000;

struct ListenerSlot {
  alignas(8) int fd = -1;
  uint32_t index = 0;
  bool armed = false;
  bool closed = false;
};

struct ClientConn;
struct UpstreamConn;

struct Conn {
  alignas(8) int fd = -1;
  bool upstream = false;
  bool recv_armed = false;
  bool recv_paused = false;  // backpressure: the receive was (or will be) cancelled
  bool starved = false;      // receive ended with ENOBUFS; re-armed when buffers return
  bool sending = false;
  bool send_scheduled = false;  // on the worker's to_send_ list for this turn
  bool closing = false;
  bool read_eof = false;      // the peer ended its side (FIN): nothing more to receive
  bool tls_notified = false;  // close_notify queued
  uint32_t inflight = 0;      // SQEs the kernel still holds that name this connection
  uint32_t tls_small = 0;     // bytes still to send in small records (see EncryptQueue)
  uint64_t tls_last_send_ms = 0;
  // TLS: the kernel sends the session's ciphertext, never sendq (which holds plaintext).
  std::unique_ptr<tls::Session> tls;
  core::TimerNode timer;       // what the connection's state waits for (kTimerSend never)
  core::TimerNode send_timer;  // kTimerSend: the peer must take what is queued for it
  bool over_cap = false;       // the queue went over the cap and has not come down to half
  SendQueue sendq;
  msghdr msg{};
  iovec iov[SendQueue::kMaxIov];
};

enum class ReqState : uint8_t { kIdle, kHead, kBody, kDone, kTunnel, kLinger };
enum class RespState : uint8_t { kNone, kWaiting, kStreaming, kDone, kTunnel };

constexpr uint32_t kMaxTries = 10;  // the config's upper bound for tries

struct ClientConn : Conn {
  uint32_t listener = 0;
  ReqState req = ReqState::kIdle;
  RespState resp = RespState::kNone;
  std::string in;  // head bytes split across reads, and pipelined requests waiting their turn
  BodyKind req_body = BodyKind::kNone;
  uint64_t req_left = 0;
  uint64_t req_body_bytes = 0;
  http1::ChunkedDecoder req_chunked;
  bool keep_alive = true;
  bool http10 = false;
  bool head_method = false;
  bool upgrade = false;
  bool close_after = false;  // close once the current response has been sent
  bool retried = false;      // the stale-connection retry was used: the next attempt is fresh
  bool idempotent = false;   // GET, HEAD, OPTIONS, TRACE, PUT, DELETE
  bool has_hash = false;     // `hash` holds the request's key for consistent hashing
  uint8_t tries = 0;         // attempts made so far (backends tried)
  uint8_t max_tries = 1;     // the route's or upstream's try limit
  int32_t sticky = -1;       // backend (index in its upstream) the sticky cookie names
  uint64_t hash = 0;
  uint32_t tried[kMaxTries] = {};  // global backend indexes already tried
  bool deferred = false;           // queued for arena processing at the end of the turn
  bool pipeline_wait = false;      // the next request waits until the queue to the client drains
  bool replaying = false;          // RunDeferred is parsing the arena, moved out of `in`
  uint64_t resp_mark = 0;          // where the response head went in sendq ...
  uint64_t resp_turn = 0;          // ... and in which loop turn (see RecoverOrFail)
  UpstreamConn* up = nullptr;
  std::string up_head;  // upstream request head; kept for a retry on a stale connection
  int32_t upstream_index = -1;
  int32_t server = -1;   // index of the server (virtual host) of this exchange
  int32_t backend = -1;  // global backend index of this exchange
  uint16_t status = 0;
  uint64_t resp_bytes = 0;
  uint64_t start_ns = 0;
  std::string log_method, log_target;
  size_t list_pos = 0;  // index in WorkerImpl::clients_
  char peer_ip[INET6_ADDRSTRLEN] = {};
  // The listener's TLS contexts, kept alive while the connection lives (SNI refers to them).
  std::shared_ptr<tls::ServerContext> tls_ctx;
};

enum class UpState : uint8_t { kConnecting, kHead, kBody, kDone, kTunnel };

struct UpstreamConn : Conn {
  uint32_t backend = 0;
  UpState state = UpState::kConnecting;
  bool tcp_connected = false;  // the socket connected (TLS may still be shaking hands)
  bool connected = false;      // ready for the request: TCP up and, with TLS, the handshake done
  bool reused = false;
  bool keep_alive = true;
  bool dechunk = false;
  bool got_bytes = false;  // any byte of a response arrived in this exchange
  uint32_t interim = 0;    // 1xx responses seen in this exchange
  bool lb_open = false;    // the balancer counts this attempt as outstanding
  uint64_t sent_ns = 0;    // attempt start, for the latency-aware balancers
  uint64_t ttfb_ns = 0;    // time to the response head
  ClientConn* client = nullptr;
  std::string in;
  BodyKind body = BodyKind::kNone;
  uint64_t left = 0;
  http1::ChunkedDecoder chunked;
  // Idle pool links.
  uint64_t pooled_ms = 0;  // when it went into the pool
  UpstreamConn* pool_prev = nullptr;
  UpstreamConn* pool_next = nullptr;
  bool pooled = false;
};

struct Pool {
  UpstreamConn* head = nullptr;  // most recently returned first
  uint32_t size = 0;
};

uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

class WorkerImpl {
 public:
  WorkerImpl(std::shared_ptr<const Snapshot> snap, uint32_t index, std::vector<int> fds)
      : snap_(std::move(snap)), cfg_(snap_->config), index_(index) {
    for (size_t i = 0; i < fds.size(); ++i) {
      auto* l = new ListenerSlot;
      l->fd = fds[i];
      l->index = static_cast<uint32_t>(i);
      listeners_.push_back(l);
    }
    const auto& t = cfg_.timeouts;
    timers_.emplace_back(nullptr);  // kind 0: none
    timers_.emplace_back(new core::TimerList(kTimerHeader, t.client_header_ms));
    timers_.emplace_back(new core::TimerList(kTimerKeepalive, t.keepalive_ms));
    timers_.emplace_back(new core::TimerList(kTimerBody, t.client_body_ms));
    timers_.emplace_back(new core::TimerList(kTimerConnect, t.upstream_connect_ms));
    timers_.emplace_back(new core::TimerList(kTimerResponse, t.upstream_response_ms));
    timers_.emplace_back(new core::TimerList(kTimerLinger, kLingerMs));
    timers_.emplace_back(new core::TimerList(kTimerPoolIdle, kPoolIdleMs));
    timers_.emplace_back(new core::TimerList(kTimerSend, t.client_send_ms));
    timers_.emplace_back(new core::TimerList(kTimerTunnel, t.tunnel_ms));
    limits_.max_request_line = cfg_.limits.max_request_line;
    limits_.max_head = cfg_.limits.max_header_size;
    limits_.max_fields = cfg_.limits.max_headers;
    resp_limits_ = limits_;
    resp_limits_.max_fields = std::max<size_t>(256, limits_.max_fields);
    resp_limits_.max_request_line = limits_.max_head;
    fields_.resize(std::max<size_t>(limits_.max_fields, resp_limits_.max_fields) + 1);
    pools_.resize(snap_->backend_count);
    ups_.resize(cfg_.upstreams.size());
    for (size_t i = 0; i < cfg_.upstreams.size(); ++i) {
      const config::Upstream& u = cfg_.upstreams[i];
      UpstreamRuntime& r = ups_[i];
      std::vector<std::string_view> ids;
      for (const auto& b : u.backends) {
        r.weights.push_back(b.weight * WeightScale(u));
        ids.push_back(b.address.text);
        r.tokens.push_back(balance::StickyToken(b.address.text));
      }
      r.balancer = balance::MakeBalancer(ToAlgorithm(u.algorithm), r.weights,
                                         0x5EED0000ull + index_ * 7919ull + i, ids);
      r.latency = u.algorithm == config::Algorithm::kP2cEwma;
      r.budget = balance::RetryBudget(u.retry.budget_percent, u.retry.min_retries);
    }
    high_water_ = 8ull * cfg_.buffers.size;
  }

  ~WorkerImpl() {
    for (auto* l : listeners_) {
      if (!l->closed && l->fd >= 0) close(l->fd);
      delete l;
    }
    for (auto* t : timers_) delete t;
    if (wake_fd_ >= 0) close(wake_fd_);
    for (auto* s : string_pool_) delete s;
  }

  absl::Status Init() {
    uint32_t sq = 1024;
    absl::Status st = ring_.Init(sq, cfg_.buffers.count, cfg_.buffers.size);
    if (!st.ok()) return st;
    if (index_ == 0) {
      RW_LOG(ring_.recv_limit() ? LogLevel::kDebug : LogLevel::kInfo,
             ring_.recv_limit()
                 ? "receives: multishot, limited to the room in the queue they feed"
                 : "receives: single-shot (no byte limit for multishot receives: Linux "
                   "before 6.17, or RINGWAY_RECV_ONESHOT=1); the same bounds, a little more "
                   "CPU");
    }
    wake_fd_ = eventfd(0, EFD_CLOEXEC);
    if (wake_fd_ < 0) return core::ErrnoStatus(errno, "eventfd");
    return absl::OkStatus();
  }

  void Drain() {
    uint64_t one = 1;
    ssize_t w = write(wake_fd_, &one, sizeof(one));
    (void)w;
  }

  uint64_t Run() {
    for (auto* l : listeners_) ArmAccept(l);
    ArmWake();
    uint64_t cut = 0;
    while (true) {
      ++turn_;
      now_ms_ = core::MonotonicMs();
      ring_.Publish();
      uint64_t wait = NextTimerWait();
      int r = ring_.SubmitAndWait(wait);
      if (r < 0 && r != -ETIME && r != -EINTR && r != -EAGAIN && r != -EBUSY) {
        RW_LOG(LogLevel::kError, "worker %u: io_uring wait failed: %s", index_, strerror(-r));
      }
      now_ms_ = core::MonotonicMs();
      ReapCompletions();
      RunDeferred();
      ExpireTimers();
      FlushSends();
      if (draining_) {
        if (live_clients_ == 0) break;
        if (now_ms_ >= drain_deadline_ms_) {
          cut = CloseAllClients();
          break;
        }
      }
      if (accept_retry_ms_ && now_ms_ >= accept_retry_ms_ && !draining_) {
        accept_retry_ms_ = 0;
        for (auto* l : listeners_) ArmAccept(l);
      }
      RearmStarved();
      FreeClosed();
      FlushAccessLog();
    }
    // Drained: close the pool and wait (bounded) for the kernel to let go of everything.
    ClosePools();
    for (int i = 0; i < 100 && (!closing_.empty() || AnyListenerArmed()); ++i) {
      ring_.SubmitAndWait(10);
      ReapCompletions();
      RunDeferred();   // (closing connections leave these lists here, and
      RearmStarved();  // only then can they be freed)
      FlushSends();    // to_send_ must be empty whenever FreeClosed runs
      FreeClosed();
    }
    // Every buffer the ring lent must be back by now: one that is not was leaked by a queue.
    ring_.Publish();
    if (!closing_.empty()) {
      RW_LOG(LogLevel::kWarn, "worker %u: %zu connections still held by the kernel at exit", index_,
             closing_.size());
    } else if (ring_.lent() != 0) {
      RW_LOG(LogLevel::kError, "worker %u: %u provided buffers still lent at exit", index_,
             ring_.lent());
    }
    RW_LOG(LogLevel::kDebug, "worker %u: at most %u of %u provided buffers were lent at once",
           index_, ring_.peak_lent(), ring_.buffer_count());
    FlushAccessLog();
    return cut;
  }

 private:
  // ---- Submission helpers ---------------------------------------------------------------

  void ArmAccept(ListenerSlot* l) {
    if (l->armed || l->closed || draining_) return;
    io_uring_sqe* sqe = ring_.GetSqe();
    io_uring_prep_multishot_accept(sqe, l->fd, nullptr, nullptr, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, Tag(l, Op::kAccept));
    l->armed = true;
  }

  void ArmWake() {
    io_uring_sqe* sqe = ring_.GetSqe();
    io_uring_prep_read(sqe, wake_fd_, &wake_value_, sizeof(wake_value_), 0);
    io_uring_sqe_set_data64(sqe, Tag(&wake_value_, Op::kWake));
  }

  void ArmRecv(Conn* c) {
    if (c->recv_armed || c->recv_paused || c->closing || c->starved || c->read_eof) return;
    io_uring_sqe* sqe = ring_.GetSqe();
    ring_.PrepRecv(sqe, c->fd, RecvLimit(c));
    io_uring_sqe_set_data64(sqe, Tag(c, Op::kRecv));
    c->recv_armed = true;
    ++c->inflight;
  }

  // The most a receive on `c` may take before it ends and is re-armed: what the queue it feeds
  // can still take below the high-water mark (at least one buffer). Together with the check
  // after every completion (Backlogged) this bounds what one peer makes the worker hold: a
  // queue reaches at most the high-water mark plus one receive's worth.
  uint32_t RecvLimit(const Conn* c) const {
    const Conn* dest = nullptr;
    uint64_t room = high_water_;
    if (c->upstream) {
      dest = static_cast<const UpstreamConn*>(c)->client;
      // A pooled connection's receive is sized for an empty queue: the next response then
      // streams without a re-arm. A client whose queue is not empty when it takes the
      // connection has the receive cancelled and re-armed for its room (ConnectUpstream).
    } else {
      // A client's bytes may have to wait in its arena (a head, pipelined requests): never
      // more than the arena's limit.
      auto* cc = static_cast<const ClientConn*>(c);
      dest = cc->up;
      const uint64_t max = cfg_.limits.max_header_size;
      room = cc->in.size() < max ? max - cc->in.size() : 0;
    }
    if (dest) {
      const uint64_t used = Charged(dest);
      room = std::min(room, used < high_water_ ? high_water_ - used : 0);
    }
    return static_cast<uint32_t>(std::max<uint64_t>(room, ring_.buffer_size()));
  }

  void PauseRecv(Conn* c) {
    if (c->recv_paused) return;
    c->recv_paused = true;
    if (c->recv_armed) {
      io_uring_sqe* sqe = ring_.GetSqe();
      io_uring_prep_cancel64(sqe, Tag(c, Op::kRecv), 0);
      io_uring_sqe_set_data64(sqe, Tag(nullptr, Op::kIgnore));
    }
  }

  // Reading resumes unless the connection still has reasons to wait: for a client, queued
  // responses over the bound (pipeline_wait) or a full arena of requests not yet started.
  void ResumeRecv(Conn* c) {
    if (!c->recv_paused) return;
    if (!c->upstream && !ClientMayRead(static_cast<ClientConn*>(c))) return;
    c->recv_paused = false;
    ArmRecv(c);
  }
  bool ClientMayRead(const ClientConn* c) const {
    return !c->pipeline_wait && !c->replaying && c->in.size() < cfg_.limits.max_header_size;
  }

  // A queue that pins this much stops the socket that feeds it: high_water_ (8 buffers) of
  // memory, counting a whole buffer for every provided buffer queued, or kMaxQueuedPieces
  // pieces. It starts again once the queue is down to half of both.
  bool Backlogged(const Conn* c) const {
    return Charged(c) > high_water_ || c->sendq.pieces() > kMaxQueuedPieces;
  }
  bool Drained(const Conn* c) const {
    return Charged(c) <= high_water_ / 2 && c->sendq.pieces() <= kMaxQueuedPieces / 2;
  }
  static uint64_t Charged(const Conn* c) {
    return c->sendq.charged() + (c->tls ? c->tls->out_pending() : 0);
  }

  // The send deadline (client_send) runs whenever something is queued for the client: a client
  // that takes nothing of it for that long is cut (with a queue under the cap too: a zero
  // window would otherwise hold its buffers for ever). Progress restarts it, except while the
  // queue is over the cap: then only bringing the queue down to half does, or a peer reading
  // a byte a minute could keep the most a connection may hold for ever.
  void ClientQueued(ClientConn* c) {
    if (!c->over_cap && Backlogged(c)) {
      c->over_cap = true;
      ArmSendTimer(c);  // the clock for getting back under the cap starts now
    } else if (!c->send_timer.armed() && !Idle(c)) {
      ArmSendTimer(c);
    }
  }

  // A send to the client completed with progress.
  void ClientSent(ClientConn* c) {
    if (Idle(c)) {
      c->over_cap = false;
      DisarmSendTimer(c);
      return;
    }
    if (!c->over_cap) {
      ArmSendTimer(c);
    } else if (Drained(c)) {
      c->over_cap = false;
      ArmSendTimer(c);
    }
  }

  // The client's queue drained below half: the backend is read again, and a pipelined request
  // that waited goes on.
  void ClientCaughtUp(ClientConn* c) {
    if (c->up) UnthrottleUpstream(c->up);
    if (c->pipeline_wait) {
      c->pipeline_wait = false;
      if (!c->read_eof) ResumeRecv(c);
      ScheduleDeferred(c);
    }
  }

  // The client is not reading fast enough: stop reading the backend (its response timer stops,
  // it is not the one stalling) and give the client client_send to catch up.
  void ThrottleUpstream(UpstreamConn* u) {
    PauseRecv(u);
    if (u->state != UpState::kTunnel) DisarmTimer(u);
  }

  // The client caught up: read the backend again.
  void UnthrottleUpstream(UpstreamConn* u) {
    if (!u->recv_paused) return;
    ResumeRecv(u);
    if (u->state == UpState::kBody || u->state == UpState::kHead) ArmTimer(u, kTimerResponse);
  }

  // Nothing queued for the socket: no plaintext and, with TLS, no ciphertext.
  static bool Idle(const Conn* c) {
    return c->sendq.empty() && (!c->tls || c->tls->out_pending() == 0);
  }

  // Sends are prepared once per loop turn, after every completion has been reaped: SQEs are
  // submitted only at the next turn anyway, and by then all the pieces that arrived in this
  // batch (say, every 16 KiB read of one 64 KiB response) leave in one sendmsg.
  void Send(Conn* c) {
    if (!c->upstream && !c->closing) ClientQueued(static_cast<ClientConn*>(c));
    if (c->send_scheduled || c->sending || c->closing || Idle(c)) return;
    c->send_scheduled = true;
    to_send_.push_back(c);
  }

  void FlushSends() {
    for (size_t i = 0; i < to_send_.size(); ++i) {  // SubmitSend never grows the list
      Conn* c = to_send_[i];
      c->send_scheduled = false;
      SubmitSend(c);
    }
    to_send_.clear();
  }

  void SubmitSend(Conn* c) {
    if (c->sending || c->closing || Idle(c)) return;
    if (c->upstream && !static_cast<UpstreamConn*>(c)->tcp_connected) return;
    if (c->tls) {
      // Plaintext waits for the handshake; then it is sealed in one batch per send.
      if (c->tls->out_pending() == 0 && c->tls->handshake_done() && !c->sendq.empty()) {
        if (!EncryptQueue(c)) return;
      }
      if (c->tls->out_pending() == 0) return;
      std::string_view bytes = c->tls->NextSend();
      io_uring_sqe* sqe = ring_.GetSqe();
      io_uring_prep_send(sqe, c->fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      io_uring_sqe_set_data64(sqe, Tag(c, Op::kSend));
      c->sending = true;
      ++c->inflight;
      return;
    }
    int n = c->sendq.Gather(c->iov);
    io_uring_sqe* sqe = ring_.GetSqe();
    if (n == 1) {
      io_uring_prep_send(sqe, c->fd, c->iov[0].iov_base, c->iov[0].iov_len, MSG_NOSIGNAL);
    } else {
      c->msg = msghdr{};
      c->msg.msg_iov = c->iov;
      c->msg.msg_iovlen = static_cast<size_t>(n);
      io_uring_prep_sendmsg(sqe, c->fd, &c->msg, MSG_NOSIGNAL);
    }
    io_uring_sqe_set_data64(sqe, Tag(c, Op::kSend));
    c->sending = true;
    ++c->inflight;
  }

  // ---- TLS -------------------------------------------------------------------------------

  // Seals queued plaintext into TLS records (in the session's output) and releases the
  // pieces. Small pieces (a head, a short body) are gathered into one record; large ones are
  // written as they are. After a second of quiet the first 16 KiB go out in records that fit
  // one TCP segment, so the client can decrypt the first bytes of a response before the rest
  // arrive; busy connections get full 16 KiB records. False: the session failed (closed).
  bool EncryptQueue(Conn* c) {
    tls::Session& t = *c->tls;
    if (now_ms_ - c->tls_last_send_ms > kTlsIdleMs) c->tls_small = kTlsSmallBytes;
    c->tls_last_send_ms = now_ms_;
    size_t done = 0;
    std::string& gather = tls_gather_;
    gather.clear();
    auto write = [&](const char* p, size_t n) {
      while (n > 0 && c->tls_small > 0) {
        const size_t k = std::min<size_t>({n, kTlsSmallRecord, c->tls_small});
        if (!t.Write(p, k)) return false;
        c->tls_small -= static_cast<uint32_t>(k);
        p += k;
        n -= k;
      }
      return n == 0 || t.Write(p, n);
    };
    int pieces = c->sendq.Gather(c->iov);
    bool ok = true;
    for (int i = 0; i < pieces && ok && done < kTlsBatch; ++i) {
      const char* p = static_cast<const char*>(c->iov[i].iov_base);
      const size_t n = c->iov[i].iov_len;
      if (n < kTlsGatherPiece && gather.size() + n <= kTlsRecord) {
        gather.append(p, n);
      } else {
        if (!gather.empty()) ok = write(gather.data(), gather.size());
        gather.clear();
        if (ok) ok = write(p, n);
      }
      done += n;
    }
    if (ok && !gather.empty()) ok = write(gather.data(), gather.size());
    gather.clear();
    c->sendq.Advance(done, [&](const SendPiece& p) { ReleasePiece(p); });
    if (!ok) {
      RW_LOG(LogLevel::kDebug, "TLS write failed: %s", t.ErrorText().c_str());
      ResetConn(c);
      return false;
    }
    return true;
  }

  // Ciphertext read from a TLS connection: drive the handshake, then decrypt into the same
  // provided buffer (the ciphertext was copied into the session first) and hand the plaintext
  // on as if it had been read from a plain socket. Plaintext beyond one buffer goes through
  // the scratch buffer and is copied by whoever keeps it.
  void TlsInput(Conn* c, char* data, size_t n, uint16_t bid) {
    tls::Session& t = *c->tls;
    t.Feed(data, n);
    if (!t.handshake_done()) {
      tls::Session::Result r = t.Handshake();
      Send(c);  // handshake records
      if (r == tls::Session::Result::kError || r == tls::Session::Result::kClosed) {
        ring_.Return(bid);
        TlsFailed(
            c, r == tls::Session::Result::kClosed ? "closed by the peer" : t.ErrorText().c_str());
        return;
      }
      if (!t.handshake_done()) {
        ring_.Return(bid);
        return;
      }
      TlsEstablished(c);
      if (c->closing) {
        ring_.Return(bid);
        return;
      }
    }
    const size_t cap = ring_.buffer_size();
    size_t used = 0;
    bool handed = false;  // `data` (and bid) went to the input handler
    for (;;) {
      if (c->closing) break;
      char* out = handed ? tls_scratch_.data() : data + used;
      const size_t room = handed ? tls_scratch_.size() : cap - used;
      size_t got = 0;
      tls::Session::Result r = t.Read(out, room, &got);
      if (r == tls::Session::Result::kOk) {
        if (handed) {
          PlainInput(c, out, got, -1);
        } else {
          used += got;
          if (used == cap) {
            handed = true;
            PlainInput(c, data, used, bid);
          }
        }
        continue;
      }
      if (!handed) {
        handed = true;
        if (used > 0) {
          PlainInput(c, data, used, bid);
        } else {
          ring_.Return(bid);
        }
      }
      if (c->closing) break;
      if (r == tls::Session::Result::kWantMore) break;
      if (r == tls::Session::Result::kClosed) {
        PlainEof(c, 0, /*close_notify=*/true);
      } else {
        RW_LOG(LogLevel::kDebug, "TLS read failed: %s", t.ErrorText().c_str());
        PlainEof(c, -ECONNRESET);
      }
      break;
    }
    if (!handed) ring_.Return(bid);  // the connection closed before anything was handed on
    if (c->closing) return;
    // Records the reads produced (alerts, key-update replies). A peer that makes us write
    // (say, key updates by the thousand) while it reads nothing would grow this without
    // bound: past a limit that no honest peer reaches, the connection is cut.
    if (t.out_pending() > kTlsOutLimit) {
      RW_LOG(LogLevel::kDebug, "TLS peer made %zu bytes of records it does not read; cut",
             t.out_pending());
      ResetConn(c);
      return;
    }
    Send(c);
  }

  // Bytes and ends of stream as the HTTP code sees them: read from a plain socket, or
  // decrypted.
  void PlainInput(Conn* c, char* p, size_t n, int32_t bid) {
    if (c->upstream) {
      UpstreamInput(static_cast<UpstreamConn*>(c), p, n, bid);
    } else {
      ClientInput(static_cast<ClientConn*>(c), p, n, bid);
    }
  }
  // res: 0 for an orderly end (FIN, or with close_notify a TLS close), else -errno.
  void PlainEof(Conn* c, int res, bool close_notify = false) {
    if (c->closing) return;
    if (c->upstream) {
      UpstreamEof(static_cast<UpstreamConn*>(c), res);
    } else {
      ClientEof(static_cast<ClientConn*>(c), res == 0 && !close_notify);
    }
  }

  void TlsEstablished(Conn* c) {
    if (!c->upstream) {
      RW_LOG(LogLevel::kDebug, "client %s: %.*s %s%s", static_cast<ClientConn*>(c)->peer_ip,
             static_cast<int>(c->tls->version().size()), c->tls->version().data(),
             c->tls->resumed() ? "resumed" : "full handshake",
             c->tls->alpn().empty() ? "" : " with ALPN");
      return;
    }
    UpstreamReady(static_cast<UpstreamConn*>(c));  // the request waited for the handshake
  }

  void TlsFailed(Conn* c, const char* why) {
    if (c->closing) return;
    if (c->upstream) {
      auto* u = static_cast<UpstreamConn*>(c);
      RW_LOG(LogLevel::kWarn, "upstream %s: TLS handshake failed: %s", BackendName(u->backend),
             why);
      UpstreamFailed(u, 502);  // not connected: counts as a failed connect, retried
      return;
    }
    RW_LOG(LogLevel::kDebug, "client %s: TLS handshake failed: %s",
           static_cast<ClientConn*>(c)->peer_ip, why);
    // The alert that says why (protocol_version, handshake_failure, ...) goes out before the
    // close. It is a few bytes on a socket with nothing else queued, so one non-blocking send
    // outside the ring takes it; with a send still in flight it would overtake that, so then
    // the alert is dropped.
    if (!c->sending && c->tls->out_pending() > 0) {
      std::string_view bytes = c->tls->NextSend();
      ssize_t w = ::send(c->fd, bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      (void)w;
    }
    CloseConn(c);
  }

  // Fetches the current TLS contexts when SIGHUP published new ones.
  const tls::ContextSet* TlsContexts() {
    const uint64_t gen = snap_->tls->generation();
    if (gen != tls_gen_) {
      tls_set_ = snap_->tls->Current();
      tls_gen_ = gen;
    }
    return tls_set_.get();
  }

  // ---- Timers ----------------------------------------------------------------------------

  void ArmTimer(Conn* c, TimerKind kind) {
    DisarmTimer(c);
    c->timer.owner = c;
    timers_[kind]->Arm(&c->timer, now_ms_);
  }
  void DisarmTimer(Conn* c) {
    if (c->timer.armed()) timers_[c->timer.kind]->Remove(&c->timer);
  }
  void ArmSendTimer(Conn* c) {
    DisarmSendTimer(c);
    c->send_timer.owner = c;
    timers_[kTimerSend]->Arm(&c->send_timer, now_ms_);
  }
  void DisarmSendTimer(Conn* c) {
    if (c->send_timer.armed()) timers_[kTimerSend]->Remove(&c->send_timer);
  }
  uint64_t NextTimerWait() {
    uint64_t next = UINT64_MAX;
    for (size_t k = 1; k < timers_.size(); ++k) next = std::min(next, timers_[k]->NextDeadline());
    if (draining_) next = std::min(next, drain_deadline_ms_);
    if (accept_retry_ms_) next = std::min(next, accept_retry_ms_);
    if (next == UINT64_MAX) return 1000;
    return next > now_ms_ ? std::min<uint64_t>(next - now_ms_ + 1, 1000) : 0;
  }
  static Conn* FromTimer(core::TimerNode* n) { return static_cast<Conn*>(n->owner); }
  void ExpireTimers() {
    for (size_t k = 1; k < timers_.size(); ++k) {
      timers_[k]->Expire(now_ms_, [&](core::TimerNode* n) { OnTimer(FromTimer(n), k); });
    }
  }
  void OnTimer(Conn* c, size_t kind) {
    if (c->closing) return;
    switch (kind) {
      case kTimerHeader:
      case kTimerBody: {
        auto* cc = static_cast<ClientConn*>(c);
        if (cc->req == ReqState::kIdle && cc->in.empty()) {
          CloseConn(cc);
        } else if (cc->resp == RespState::kNone || cc->resp == RespState::kWaiting) {
          RW_LOG(LogLevel::kDebug, "client %s: request timed out", cc->peer_ip);
          if (cc->req == ReqState::kHead) {
            cc->log_method.assign("-");
            cc->log_target.assign("-");
            cc->start_ns = NowNs();
          }
          if (cc->up) AbortUpstream(cc->up);
          RespondError(cc, 408, /*close=*/true);
        } else {
          CloseConn(cc);
        }
        break;
      }
      case kTimerSend:
        if (c->upstream) {  // a tunnel's backend stopped reading what the client sends
          auto* u = static_cast<UpstreamConn*>(c);
          RW_LOG(LogLevel::kDebug, "upstream %s: stopped reading the tunnel; cut",
                 BackendName(u->backend));
          ClientConn* cc = u->client;
          ResetConn(u);
          if (cc) ResetConn(cc);
          break;
        }
        RW_LOG(LogLevel::kDebug, "client %s: stopped reading the response; cut",
               static_cast<ClientConn*>(c)->peer_ip);
        ResetConn(c);
        break;
      case kTimerTunnel:
        RW_LOG(LogLevel::kDebug, "client %s: tunnel idle for %u ms; closed",
               static_cast<ClientConn*>(c)->peer_ip, cfg_.timeouts.tunnel_ms);
        CloseConn(c);  // its backend side goes with it
        break;
      case kTimerKeepalive:
        if (!Idle(c)) {  // the last response is still going out: its send deadline governs
          ArmTimer(c, kTimerKeepalive);
          break;
        }
        CloseConn(c);
        break;
      case kTimerLinger:
      case kTimerPoolIdle:
        CloseConn(c);
        break;
      case kTimerConnect:
      case kTimerResponse: {
        auto* u = static_cast<UpstreamConn*>(c);
        RW_LOG(LogLevel::kWarn, "upstream %s: %s timed out", BackendName(u->backend),
               kind == kTimerResponse ? "response"
               : u->tcp_connected     ? "TLS handshake"
                                      : "connect");
        UpstreamFailed(u, 504);
        break;
      }
      default:
        break;
    }
  }

  // ---- Completion dispatch ---------------------------------------------------------------

  void ReapCompletions() {
    // The CQ is sized so that it should never fill; if it did, the kernel keeps the extra
    // completions on its overflow list (IORING_FEAT_NODROP) and we say so once.
    if (!cq_overflow_logged_ &&
        (IO_URING_READ_ONCE(*ring_.raw()->sq.kflags) & IORING_SQ_CQ_OVERFLOW)) {
      cq_overflow_logged_ = true;
      RW_LOG(LogLevel::kWarn,
             "worker %u: completion queue overflowed; lower max_connections or "
             "buffers.count",
             index_);
    }
    // A receive that reached its limit while its socket still held data is re-armed and
    // submitted at once, and what it reads is reaped in this same turn: a response is not
    // split across loop turns (and sends) just because its receive was sized. A few rounds
    // at most; anything left waits for the next turn.
    for (int round = 0; round < 4; ++round) {
      rearmed_with_data_ = false;
      io_uring_cqe* cqe;
      unsigned head;
      unsigned count = 0;
      io_uring_for_each_cqe(ring_.raw(), head, cqe) {
        ++count;
        Dispatch(cqe);
      }
      io_uring_cq_advance(ring_.raw(), count);
      if (!rearmed_with_data_) break;
      ring_.Publish();
      io_uring_submit(ring_.raw());
    }
  }

  void Dispatch(io_uring_cqe* cqe) {
    uint64_t ud = cqe->user_data;
    switch (TagOp(ud)) {
      case Op::kIgnore:
        break;
      case Op::kAccept:
        OnAccept(TagPtr<ListenerSlot>(ud), cqe->res, cqe->flags);
        break;
      case Op::kRecv:
        OnRecv(TagPtr<Conn>(ud), cqe->res, cqe->flags);
        break;
      case Op::kSend:
        OnSend(TagPtr<Conn>(ud), cqe->res);
        break;
      case Op::kConnect:
        OnConnect(TagPtr<UpstreamConn>(ud), cqe->res);
        break;
      case Op::kWake:
        OnWake(cqe->res);
        break;
    }
  }

  void OnWake(int res) {
    if (!draining_) {
      draining_ = true;
      drain_deadline_ms_ = now_ms_ + cfg_.timeouts.shutdown_ms;
      for (auto* l : listeners_) {
        if (l->armed) {
          io_uring_sqe* sqe = ring_.GetSqe();
          io_uring_prep_cancel64(sqe, Tag(l, Op::kAccept), 0);
          io_uring_sqe_set_data64(sqe, Tag(nullptr, Op::kIgnore));
        } else if (!l->closed) {
          close(l->fd);
          l->closed = true;
        }
      }
      // Idle keep-alive connections go now; busy ones close after their response.
      for (ClientConn* c : std::vector<ClientConn*>(clients_.begin(), clients_.end())) {
        if (c->req == ReqState::kIdle && c->in.empty() && Idle(c)) {
          CloseConn(c);
        } else {
          c->close_after = true;
        }
      }
    }
  }

  bool AnyListenerArmed() const {
    for (auto* l : listeners_) {
      if (l->armed) return true;
    }
    return false;
  }

  void OnAccept(ListenerSlot* l, int res, uint32_t flags) {
    if (!(flags & IORING_CQE_F_MORE)) l->armed = false;
    if (res >= 0) {
      if (draining_ || live_clients_ >= cfg_.limits.max_connections) {
        close(res);
      } else {
        NewClient(res, l->index);
      }
    } else if (res != -ECANCELED) {
      // Out of descriptors or memory: an immediate retry would fail at once, in a loop. Back
      // off, and say so at most once a second.
      if (now_ms_ >= accept_log_after_ms_) {
        RW_LOG(LogLevel::kWarn, "worker %u: accept failed: %s; retrying in %llu ms", index_,
               strerror(-res), static_cast<unsigned long long>(kAcceptBackoffMs));
        accept_log_after_ms_ = now_ms_ + 1000;
      }
      if (!l->armed && !draining_) {
        accept_retry_ms_ = now_ms_ + kAcceptBackoffMs;
        return;
      }
    }
    if (!l->armed) {
      if (draining_) {
        if (!l->closed) {
          close(l->fd);
          l->closed = true;
        }
      } else {
        ArmAccept(l);
      }
    }
  }

  void NewClient(int fd, uint32_t listener) {
    auto* c = new ClientConn;
    c->fd = fd;
    c->listener = listener;
    core::SetNoDelay(fd);
    if (core::PeerIp(fd, c->peer_ip, sizeof(c->peer_ip)) == 0) strcpy(c->peer_ip, "-");
    c->list_pos = clients_.size();
    clients_.push_back(c);
    ++live_clients_;
    if (const tls::ContextSet* set = TlsContexts();
        set && listener < set->listeners.size() && set->listeners[listener]) {
      c->tls_ctx = set->listeners[listener];
      c->tls = std::make_unique<tls::Session>(c->tls_ctx->default_ctx());
      if (!c->tls->ok()) {
        RW_LOG(LogLevel::kWarn, "worker %u: cannot create a TLS session (out of memory?)", index_);
        CloseConn(c);
        return;
      }
    }
    ArmTimer(c, kTimerHeader);  // covers the TLS handshake too
    ArmRecv(c);
  }

  void OnRecv(Conn* c, int res, uint32_t flags) {
    if (!(flags & IORING_CQE_F_MORE)) {
      c->recv_armed = false;
      --c->inflight;
    }
    if (res > 0) {
      ring_.NoteLent();
      uint16_t bid = static_cast<uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
      if (c->closing) {
        ring_.Return(bid);
        return;
      }
      char* data = ring_.BufferData(bid);
      if (c->tls) {
        TlsInput(c, data, static_cast<size_t>(res), bid);
      } else {
        PlainInput(c, data, static_cast<size_t>(res), bid);
      }
    } else if (res == -ENOBUFS) {
      RW_LOG(LogLevel::kDebug, "worker %u: provided buffers exhausted; receive waits", index_);
      if (!c->closing && !c->starved) {
        c->starved = true;
        starved_.push_back(c);
        ++c->inflight;  // the starved list refers to it
      }
      return;
    } else if (res == -ECANCELED) {
      // Paused for backpressure, or closing.
    } else if (!c->closing) {
      PlainEof(c, res);  // 0: orderly close by the peer; < 0: reset or another error
      return;
    }
    if (!c->recv_armed && !c->closing) {
      ArmRecv(c);
      if (res > 0 && (flags & IORING_CQE_F_SOCK_NONEMPTY) && c->recv_armed) {
        rearmed_with_data_ = true;
      }
    }
  }

  // Re-arms receives that found the ring empty, once buffers are back. A closing connection
  // leaves the list at once: it must not hold its buffers (and so everyone's) while it waits.
  void RearmStarved() {
    ring_.Publish();
    if (starved_.empty()) return;
    bool have_buffers = ring_.lent() < ring_.buffer_count();
    size_t keep = 0;
    for (Conn* c : starved_) {
      if (!c->closing && !have_buffers) {
        starved_[keep++] = c;
        continue;
      }
      --c->inflight;
      c->starved = false;
      if (!c->closing) ArmRecv(c);
    }
    starved_.resize(keep);
  }

  void OnSend(Conn* c, int res) {
    --c->inflight;
    c->sending = false;
    if (c->closing) return;
    if (res < 0) {
      if (c->upstream) {
        UpstreamEof(static_cast<UpstreamConn*>(c), res);
      } else {
        CloseConn(c);  // the client went away; CloseConn drops its upstream side too
      }
      return;
    }
    if (c->tls) {
      c->tls->OutSent(static_cast<size_t>(res));
    } else {
      c->sendq.Advance(static_cast<size_t>(res), [&](const SendPiece& p) { ReleasePiece(p); });
    }
    if (!c->upstream && res > 0) ClientSent(static_cast<ClientConn*>(c));
    if (!Idle(c)) Send(c);
    if (c->upstream && !c->recv_paused) {
      // Progress uploading the request counts as progress for the response timer.
      auto* u = static_cast<UpstreamConn*>(c);
      if (u->state == UpState::kHead || u->state == UpState::kBody) ArmTimer(u, kTimerResponse);
    }
    // Backpressure: let the other side read again once this queue has drained enough.
    if (Drained(c)) {
      if (c->upstream) {
        auto* u = static_cast<UpstreamConn*>(c);
        DisarmSendTimer(u);  // a tunnel's backend caught up
        if (u->client) ResumeRecv(u->client);
      } else {
        ClientCaughtUp(static_cast<ClientConn*>(c));
      }
    }
    if (!c->upstream && Idle(c)) ClientDrained(static_cast<ClientConn*>(c));
    if (c->upstream && Idle(c)) UpstreamDrained(static_cast<UpstreamConn*>(c));
  }

  void ReleasePiece(const SendPiece& p) {
    if (p.bid >= 0) ring_.Return(static_cast<uint16_t>(p.bid));
    if (p.owned) ReleaseString(p.owned);
  }

  // Pooled strings (heads, small payloads) are kept for reuse up to kStringPoolBytes of
  // capacity in all; a larger string or one past the cap is freed, so a burst leaves nothing
  // behind.
  std::string* AcquireString() {
    if (string_pool_.empty()) return new std::string;
    std::string* s = string_pool_.back();
    string_pool_.pop_back();
    string_pool_bytes_ -= s->capacity();
    s->clear();
    return s;
  }
  void ReleaseString(std::string* s) {
    if (s->capacity() > kPooledStringMax || string_pool_bytes_ + s->capacity() > kStringPoolBytes) {
      delete s;
    } else {
      string_pool_bytes_ += s->capacity();
      string_pool_.push_back(s);
    }
  }
  static uint32_t StringCharge(const std::string& s) {
    return static_cast<uint32_t>(s.capacity() + sizeof(std::string));
  }

  // Queues bytes on `to`. With bid >= 0 the buffer goes with them (zero copy) unless they are
  // few: those are copied onto the string queued before them (a head, usually) or into a new
  // pooled string, and the buffer goes back to the ring at once. A short body then leaves in
  // one piece with its head, and a buffer is never pinned for a handful of bytes. Returns
  // whether the buffer was taken.
  bool Queue(Conn* to, const char* p, size_t n, int32_t bid) {
    bool taken = false;
    if (bid >= 0 && n > kCopyBelow) {
      to->sendq.Push({p, static_cast<uint32_t>(n), bid, nullptr, ring_.buffer_size()});
      taken = true;
    } else if (!((!to->sending || to->tls) && n <= kCopyBelow &&
                 to->sendq.AppendToTail(p, n, StringCharge))) {
      std::string* s = AcquireString();
      s->assign(p, n);
      to->sendq.Push({s->data(), static_cast<uint32_t>(n), -1, s, StringCharge(*s)});
    }
    Send(to);
    return taken;
  }
  void QueueOwned(Conn* to, std::string* s) {
    to->sendq.Push({s->data(), static_cast<uint32_t>(s->size()), -1, s, StringCharge(*s)});
    Send(to);
  }

  // Parses a head that may arrive split across reads. With an empty arena the head is parsed
  // in place, and the bytes consumed are returned (0: incomplete, now kept in the arena).
  // Otherwise the new bytes join the arena, which is parsed, and all of `n` counts as
  // consumed; bytes after the head come from the arena copy and go to `rest`. The arena is
  // re-parsed only when the new bytes end a blank line or cross a size limit: a peer that
  // dribbles a large head byte by byte must not make every byte cost a scan of the whole head.
  template <typename Parse, typename Rest>
  static size_t GatherHead(std::string* arena, char* p, size_t n, const http1::ParseLimits& limits,
                           Parse&& parse, Rest&& rest) {
    if (arena->empty()) {
      size_t used = parse(p, n);
      if (used == 0) arena->append(p, n);
      return used == 0 ? n : used;
    }
    const size_t before = arena->size();
    arena->append(p, n);
    const size_t after = arena->size();
    const bool crosses_limit =
        (before <= limits.max_request_line && after > limits.max_request_line) ||
        after > limits.max_head;
    if (!crosses_limit && !http1::HasHeadEnd(*arena, before)) return n;
    std::string whole = std::move(*arena);
    arena->clear();
    size_t used = parse(whole.data(), whole.size());
    if (used == 0) {
      *arena = std::move(whole);
    } else if (used < whole.size()) {
      rest(whole.data() + used, whole.size() - used);
    }
    return n;
  }

  // ---- Client side -----------------------------------------------------------------------

  // Handles bytes read from a client. `bid` >= 0: the bytes are in that provided buffer, which
  // this function either hands to a send or returns to the ring.
  void ClientInput(ClientConn* c, char* p, size_t n, int32_t bid) {
    bool buffer_taken = false;
    while (n > 0 && !c->closing) {
      switch (c->req) {
        case ReqState::kIdle:
          if (c->pipeline_wait || Backlogged(c) || !c->in.empty()) {
            // Requests already wait in the arena (they run from RunDeferred, in order), or the
            // responses queued are over the cap: these bytes join the arena, after them. With
            // the cap passed, nothing more is read or started until the client reads.
            if (c->pipeline_wait || Backlogged(c)) {
              WaitForClient(c);
            } else {
              ScheduleDeferred(c);
            }
            c->in.append(p, n);
            n = 0;
            if (!ClientMayRead(c)) PauseRecv(c);
            break;
          }
          c->req = ReqState::kHead;
          // The first request's head shares the deadline armed at accept (which covered
          // the TLS handshake too); later ones get theirs from their first byte.
          if (c->timer.kind != kTimerHeader) ArmTimer(c, kTimerHeader);
          [[fallthrough]];
        case ReqState::kHead: {
          size_t used = GatherHead(
              &c->in, p, n, limits_, [&](char* d, size_t m) { return ParseClientHead(c, d, m); },
              [&](char* d, size_t m) { ClientInput(c, d, m, -1); });
          p += used;
          n -= used;
          break;
        }
        case ReqState::kBody: {
          size_t take = TakeRequestBody(c, p, n);
          if (c->closing) break;
          if (take > 0 && c->up) {
            if (Queue(c->up, p, take, buffer_taken ? -1 : bid)) buffer_taken = true;
            if (Backlogged(c->up)) PauseRecv(c);
          }
          p += take;
          n -= take;
          break;
        }
        case ReqState::kDone:
          // Pipelined: wait for the current response before reading the next request.
          c->in.append(p, n);
          n = 0;
          if (!ClientMayRead(c)) PauseRecv(c);
          break;
        case ReqState::kTunnel:
          if (c->up) {
            if (Queue(c->up, p, n, buffer_taken ? -1 : bid)) buffer_taken = true;
            if (c->timer.kind == kTimerTunnel) ArmTimer(c, kTimerTunnel);
            if (Backlogged(c->up)) {
              // The backend is not reading: it gets client_send to catch up.
              PauseRecv(c);
              if (!c->up->send_timer.armed()) ArmSendTimer(c->up);
            }
          }
          n = 0;
          break;
        case ReqState::kLinger:
          n = 0;  // discard
          break;
      }
    }
    if (bid >= 0 && !buffer_taken) ring_.Return(static_cast<uint16_t>(bid));
  }

  // The client must read what is queued before its next request is started: stop reading it
  // and start the clock on it.
  void WaitForClient(ClientConn* c) {
    c->pipeline_wait = true;
    PauseRecv(c);  // (its send deadline runs: the queue is not empty)
  }

  // Parses a request head at p[0, n). Returns bytes consumed (0: incomplete, keep the bytes;
  // on an error the response is queued and all n bytes are reported consumed).
  size_t ParseClientHead(ClientConn* c, char* p, size_t n) {
    http1::RequestHead req;
    http1::ParseResult r = http1::ParseRequest(std::string_view(p, n), limits_,
                                               std::span(fields_.data(), limits_.max_fields), &req);
    if (r.status == http1::ParseStatus::kIncomplete) return 0;
    if (r.status == http1::ParseStatus::kError) {
      RW_LOG(LogLevel::kDebug, "client %s: bad request: %s", c->peer_ip, r.error);
      c->log_method.assign("-");
      c->log_target.assign("-");
      c->start_ns = NowNs();
      RespondError(c, r.error_status, /*close=*/true);
      return n;
    }
    StartRequest(c, req);
    return r.consumed;
  }

  void StartRequest(ClientConn* c, http1::RequestHead& req) {
    if (cfg_.logging.access_log) {  // the views die with the buffer; the log line comes later
      c->start_ns = NowNs();
      c->log_method.assign(req.method);
      c->log_target.assign(req.target.substr(0, 1024));
    }
    c->http10 = req.version_minor == 0;
    c->keep_alive = req.framing.keep_alive;
    c->head_method = req.method == "HEAD";
    c->upgrade = req.framing.upgrade;
    c->req_body = req.framing.body;
    c->req_left = req.framing.content_length;
    c->req_body_bytes = 0;
    c->req_chunked.Reset();
    c->status = 0;
    c->resp_bytes = 0;
    c->backend = -1;
    c->retried = false;
    c->tries = 0;
    c->idempotent = IsIdempotent(req.method);
    c->resp = RespState::kWaiting;
    c->req = c->req_body == BodyKind::kNone ? ReqState::kDone : ReqState::kBody;
    if (c->req == ReqState::kBody) {
      ArmTimer(c, kTimerBody);
    } else {
      DisarmTimer(c);
    }

    if (req.form == http1::TargetForm::kAuthority) {  // CONNECT: ringway does not tunnel
      RespondError(c, 405, /*close=*/true);
      return;
    }
    // An absolute-form target's authority stands for Host (the writer sends it as Host too),
    // and its path and query are what routes and what goes upstream.
    const bool absolute = req.form == http1::TargetForm::kAbsolute;
    std::string_view host = absolute ? req.authority : req.framing.host;
    std::string_view path = req.origin;
    if (absolute && (path.empty() || path[0] == '?')) path = "/";  // for routing and redirects
    int server = snap_->router.FindServer(c->listener, host);
    c->server = server;
    if (server < 0) {
      RespondError(c, 404, c->req == ReqState::kBody);
      return;
    }
    if (!c->tls && cfg_.servers[static_cast<size_t>(server)].redirect_https) {
      RespondRedirect(c, req.method, host, req.origin, cfg_.servers[static_cast<size_t>(server)]);
      return;
    }
    uint32_t route_tries = 0;
    uint32_t upstream = snap_->router.FindUpstream(server, path, &route_tries);
    c->upstream_index = static_cast<int32_t>(upstream);
    const config::Upstream& up = cfg_.upstreams[upstream];
    c->max_tries = static_cast<uint8_t>(std::min<uint32_t>(
        kMaxTries, std::max<uint32_t>(1, route_tries ? route_tries : up.retry.tries)));
    KeyRequest(c, up, req);
    ups_[upstream].budget.OnRequest(now_ms_ / 1000);
    if (cfg_.limits.max_body_size && c->req_body == BodyKind::kContentLength &&
        c->req_left > cfg_.limits.max_body_size) {
      RespondError(c, 413, /*close=*/true);
      return;
    }

    // Answer "Expect: 100-continue" here and do not forward it: the body follows at once.
    // An HTTP/1.0 request without Host gets the target's authority or else the upstream's name
    // (as nginx's $proxy_host), since the next hop needs one.
    bool add_host = req.framing.host.empty() && !absolute;
    if (req.framing.expect_continue || add_host) {
      scratch_fields_.clear();
      for (const auto& f : req.fields) {
        if (!req.framing.expect_continue || !http1::EqualsIgnoreCase(f.name, "expect")) {
          scratch_fields_.push_back(f);
        }
      }
      if (add_host) {
        std::string_view name =
            host.empty() ? std::string_view(cfg_.upstreams[upstream].name) : host;
        scratch_fields_.push_back({"Host", name});
      }
      req.fields = std::span<const http1::Field>(scratch_fields_.data(), scratch_fields_.size());
      if (req.framing.expect_continue && !c->http10 && c->req == ReqState::kBody) {
        c->sendq.Push({http1::kContinueResponse.data(),
                       static_cast<uint32_t>(http1::kContinueResponse.size()), -1, nullptr});
        Send(c);
      }
    }
    c->up_head.clear();
    http1::WriteRequestHead(
        req,
        {.client_addr = c->peer_ip,
         .proto = c->tls ? "https" : "http",
         .pass_underscore_fields = cfg_.listeners[c->listener].underscores_in_headers},
        &c->up_head);
    int pick = PickBackend(c);
    if (pick < 0) {
      NoUsableBackend(c);
      return;
    }
    ConnectUpstream(c, pick, nullptr);
  }

  static bool IsIdempotent(std::string_view m) {
    return m == "GET" || m == "HEAD" || m == "OPTIONS" || m == "TRACE" || m == "PUT" ||
           m == "DELETE";
  }

  static balance::Algorithm ToAlgorithm(config::Algorithm a) {
    switch (a) {
      case config::Algorithm::kRoundRobin:
        return balance::Algorithm::kRoundRobin;
      case config::Algorithm::kRandom:
        return balance::Algorithm::kRandom;
      case config::Algorithm::kLeastRequest:
        return balance::Algorithm::kLeastRequest;
      case config::Algorithm::kP2cEwma:
        return balance::Algorithm::kP2cEwma;
      case config::Algorithm::kMaglev:
        return balance::Algorithm::kMaglev;
      case config::Algorithm::kKetama:
        return balance::Algorithm::kKetama;
    }
    return balance::Algorithm::kRoundRobin;
  }

  // The request's consistent-hashing key and sticky cookie, read while the head is in hand.
  void KeyRequest(ClientConn* c, const config::Upstream& up, const http1::RequestHead& req) {
    c->has_hash = false;
    c->sticky = -1;
    const bool hashing =
        up.algorithm == config::Algorithm::kMaglev || up.algorithm == config::Algorithm::kKetama;
    if (!hashing && !up.sticky.enabled) return;
    if (hashing) {
      std::string_view key;
      switch (up.hash_key.source) {
        case config::HashKey::Source::kClientIp:
          key = c->peer_ip;
          break;
        case config::HashKey::Source::kHeader:
          for (const auto& f : req.fields) {
            if (http1::EqualsIgnoreCase(f.name, up.hash_key.name)) {
              key = f.value;
              break;
            }
          }
          break;
        case config::HashKey::Source::kCookie:
          key = FindRequestCookie(req, up.hash_key.name);
          break;
      }
      if (!key.empty()) {
        c->hash = balance::Hash64(key);
        c->has_hash = true;
      }
    }
    if (up.sticky.enabled) {
      std::string_view token = FindRequestCookie(req, up.sticky.cookie);
      if (!token.empty()) {
        c->sticky =
            balance::FindByToken(ups_[static_cast<size_t>(c->upstream_index)].tokens, token);
      }
    }
  }

  static std::string_view FindRequestCookie(const http1::RequestHead& req, std::string_view name) {
    for (const auto& f : req.fields) {
      if (!http1::EqualsIgnoreCase(f.name, "cookie")) continue;
      std::string_view v = balance::FindCookie(f.value, name);
      if (!v.empty()) return v;
    }
    return {};
  }

  // A backend index within the request's upstream, or -1: the sticky backend if it is usable,
  // else the balancer's pick among usable backends this request has not tried yet.
  int PickBackend(ClientConn* c) {
    const uint32_t upstream = static_cast<uint32_t>(c->upstream_index);
    UpstreamRuntime& r = ups_[upstream];
    const uint32_t base = snap_->backend_base[upstream];
    const health::View& view = *snap_->health;
    auto untried = [&](uint32_t b) {
      for (uint32_t k = 0; k < c->tries && k < kMaxTries; ++k) {
        if (c->tried[k] == b) return false;
      }
      return true;
    };
    auto eligible = [&](size_t i) {
      const uint32_t b = base + static_cast<uint32_t>(i);
      return view.Usable(b) && untried(b);
    };
    if (c->sticky >= 0 && eligible(static_cast<size_t>(c->sticky))) return c->sticky;
    const config::Upstream& up = cfg_.upstreams[upstream];
    if (up.slow_start_ms && now_ms_ >= r.next_ramp_ms) RampWeights(upstream);
    balance::PickInput in;
    in.hash = c->hash;
    in.has_hash = c->has_hash;
    in.now_ns = now_ms_ * 1'000'000;
    int pick = r.balancer->Pick(in, eligible);
    if (pick >= 0) return pick;
    // Passive health never takes a whole pool out on its own: when every backend the checks
    // call up is ejected (say, one bad path answered 503 on all of them), the ejected ones
    // still serve. 503 at once is for pools the checks find down.
    return r.balancer->Pick(in, [&](size_t i) {
      const uint32_t b = base + static_cast<uint32_t>(i);
      return (view.State(b) & health::View::kUp) && untried(b);
    });
  }

  // Slow start: a backend that came up (or was readmitted) less than slow_start ago gets a
  // weight ramping up from a tenth of its own. Checked at most every 100 ms per upstream.
  void RampWeights(uint32_t upstream) {
    UpstreamRuntime& r = ups_[upstream];
    const config::Upstream& up = cfg_.upstreams[upstream];
    r.next_ramp_ms = now_ms_ + 100;
    const uint32_t base = snap_->backend_base[upstream];
    for (size_t i = 0; i < up.backends.size(); ++i) {
      const uint64_t since = snap_->health->UpSinceMs(base + i);
      const uint64_t elapsed = since == 0 ? UINT64_MAX : (now_ms_ > since ? now_ms_ - since : 0);
      const uint32_t w = balance::SlowStartWeight(up.backends[i].weight * WeightScale(up), elapsed,
                                                  up.slow_start_ms);
      if (w != r.weights[i]) {
        r.weights[i] = w;
        r.balancer->SetWeight(i, w);
      }
    }
  }

  // With slow start, weights are kept in hundredths so that a weight-1 backend can ramp too.
  static uint32_t WeightScale(const config::Upstream& up) { return up.slow_start_ms ? 100 : 1; }

  void NoUsableBackend(ClientConn* c) {
    const uint32_t upstream = static_cast<uint32_t>(c->upstream_index);
    UpstreamRuntime& r = ups_[upstream];
    if (now_ms_ >= r.none_log_ms) {  // at most one line a second per worker and upstream
      r.none_log_ms = now_ms_ + 1000;
      RW_LOG(LogLevel::kWarn, "upstream '%s': no usable backend; answering 503",
             cfg_.upstreams[upstream].name.c_str());
    }
    RespondError(c, 503, c->req == ReqState::kBody);
  }

  // Consumes request-body bytes from p[0, n); returns how many belong to the body.
  size_t TakeRequestBody(ClientConn* c, const char* p, size_t n) {
    size_t take = 0;
    bool done = false;
    if (c->req_body == BodyKind::kContentLength) {
      take = static_cast<size_t>(std::min<uint64_t>(c->req_left, n));
      c->req_left -= take;
      c->req_body_bytes += take;
      done = c->req_left == 0;
    } else {
      uint64_t data = 0;
      http1::ChunkedDecoder::Result r = c->req_chunked.Feed(
          std::string_view(p, n), [&](std::string_view d) { data += d.size(); });
      if (r.error) {
        RW_LOG(LogLevel::kDebug, "client %s: bad chunked body: %s", c->peer_ip, r.error_text);
        FailRequestBody(c, 400);
        return 0;
      }
      c->req_body_bytes += data;
      take = r.consumed;
      done = r.done;
    }
    if (cfg_.limits.max_body_size && c->req_body_bytes > cfg_.limits.max_body_size) {
      FailRequestBody(c, 413);
      return 0;
    }
    if (done) {
      c->req = ReqState::kDone;
      DisarmTimer(c);
      if (c->resp == RespState::kDone) FinishExchange(c);
    } else {
      ArmTimer(c, kTimerBody);
    }
    return take;
  }

  void FailRequestBody(ClientConn* c, uint16_t status) {
    if (c->up) AbortUpstream(c->up);
    if (c->resp == RespState::kWaiting || c->resp == RespState::kNone) {
      RespondError(c, status, /*close=*/true);
    } else {
      CloseConn(c);
    }
  }

  // Queues one of the proxy's own responses. With close, the connection closes after it.
  void RespondError(ClientConn* c, uint16_t status, bool close) {
    if (c->closing) return;
    if (c->req == ReqState::kBody || c->req == ReqState::kHead) close = true;
    if (draining_) close = true;
    std::string_view body = http1::ErrorResponse(status, close);
    c->sendq.Push({body.data(), static_cast<uint32_t>(body.size()), -1, nullptr});
    c->status = status;
    c->resp_bytes = body.size();
    c->resp = RespState::kDone;
    if (close) {
      c->close_after = true;
      c->req = ReqState::kDone;
      c->keep_alive = false;
    } else if (c->req == ReqState::kHead) {
      c->req = ReqState::kDone;
    }
    Send(c);
    if (c->req == ReqState::kDone) FinishExchange(c);
  }

  // redirect_https: plaintext requests are sent to the same host and target over https. GET
  // and HEAD get 301; other methods 308, which tells the client to repeat the method and body.
  void RespondRedirect(ClientConn* c, std::string_view method, std::string_view host,
                       std::string_view target, const config::Server& srv) {
    if (host.empty()) host = srv.server_names.empty() ? std::string_view() : srv.server_names[0];
    if (host.empty() || host[0] == '*') {
      RespondError(c, 400, c->req == ReqState::kBody);  // no name to send the client to
      return;
    }
    // The port goes: https is on its default port. "[v6]:port" keeps its brackets.
    if (size_t colon = host.rfind(':');
        colon != std::string_view::npos && host.find(']', colon) == std::string_view::npos) {
      host = host.substr(0, colon);
    }
    const bool permanent_get = method == "GET" || method == "HEAD";
    const bool close = c->req == ReqState::kBody || draining_ || !c->keep_alive;
    std::string* s = AcquireString();
    s->append(permanent_get ? "HTTP/1.1 301 Moved Permanently\r\n"
                            : "HTTP/1.1 308 Permanent Redirect\r\n");
    s->append("Location: https://").append(host);
    if (target.empty() || target[0] == '?') s->push_back('/');  // absolute-form "http://h?q"
    s->append(target);
    s->append("\r\nContent-Length: 0\r\n");
    s->append(close ? "Connection: close\r\n\r\n" : "Connection: keep-alive\r\n\r\n");
    c->status = permanent_get ? 301 : 308;
    c->resp_bytes = s->size();
    c->resp = RespState::kDone;
    if (close) {
      c->close_after = true;
      c->req = ReqState::kDone;
      c->keep_alive = false;
    }
    QueueOwned(c, s);
    if (c->req == ReqState::kDone) FinishExchange(c);
  }

  // Both halves of the exchange are done: log it, then read the next request or close.
  void FinishExchange(ClientConn* c) {
    WriteAccessLog(c);
    c->up_head.clear();
    if (c->up_head.capacity() > 8192) c->up_head.shrink_to_fit();
    if (c->close_after || !c->keep_alive || draining_ ||
        (c->read_eof && c->in.empty() && !c->replaying)) {
      // (A client that half-closed with nothing left to ask gets its response, then the
      // close.)
      c->close_after = true;
      c->req = ReqState::kDone;
      c->resp = RespState::kDone;
      if (Idle(c) && !c->sending) ClientDrained(c);
      return;
    }
    c->req = ReqState::kIdle;
    c->resp = RespState::kNone;
    ArmTimer(c, kTimerKeepalive);
    if (c->pipeline_wait || Backlogged(c)) {
      // Responses are piling up unread: nothing more is read or started until they drain.
      WaitForClient(c);
      return;
    }
    ResumeRecv(c);
    if (!c->in.empty()) ScheduleDeferred(c);
  }

  void ScheduleDeferred(ClientConn* c) {
    if (c->deferred || c->closing) return;
    c->deferred = true;
    ++c->inflight;  // the list refers to it
    deferred_.push_back(c);
  }

  // Pipelined requests wait in the arena; they are parsed here, outside any completion.
  void RunDeferred() {
    while (!deferred_.empty()) {
      std::vector<ClientConn*> list;
      list.swap(deferred_);
      for (ClientConn* c : list) {
        --c->inflight;
        c->deferred = false;
        if (c->closing || c->req != ReqState::kIdle) continue;
        if (!c->in.empty()) {
          std::string arena = std::move(c->in);
          c->in.clear();
          c->replaying = true;  // `in` looks empty meanwhile: no receive may be sized by it
          ClientInput(c, arena.data(), arena.size(), -1);
          c->replaying = false;
          if (!c->closing) ResumeRecv(c);  // the arena may have room again
        }
        if (c->read_eof) ClientInputEnded(c);
      }
    }
  }

  // The client's queue is empty. If the connection is to close, half-close it and linger so
  // that unread request bytes do not turn our FIN into a reset that destroys the response.
  void ClientDrained(ClientConn* c) {
    if (!c->close_after || c->closing) return;
    if (c->req == ReqState::kIdle && c->in.empty()) {  // between requests (shutdown)
      c->req = ReqState::kDone;
      c->resp = RespState::kDone;
    }
    if (c->req != ReqState::kDone || c->resp != RespState::kDone) return;
    if (c->tls && c->tls->handshake_done() && !c->tls_notified) {
      c->tls_notified = true;  // close_notify first; this runs again once it is sent
      c->tls->Shutdown();
      if (!Idle(c)) {
        Send(c);
        return;
      }
    }
    if (c->sending) return;
    if (c->read_eof) {  // the client already sent all it will: nothing to linger for
      CloseConn(c);
      return;
    }
    shutdown(c->fd, SHUT_WR);
    c->req = ReqState::kLinger;
    c->in.clear();
    ArmTimer(c, kTimerLinger);
    ResumeRecv(c);
  }

  // The client ended its side of the connection. A FIN (`half_close`) only says that no more
  // requests come: the ones it sent are answered (as `printf ... | nc -N` expects), then the
  // connection closes. A reset, or a TLS close_notify, ends everything now; a client that
  // really went away is also found when a send to it fails.
  void ClientEof(ClientConn* c, bool half_close) {
    if (!half_close) {
      if (c->up) AbortUpstream(c->up);
      CloseConn(c);
      return;
    }
    c->read_eof = true;
    c->recv_paused = false;  // nothing to resume: ArmRecv refuses a read_eof connection
    ClientInputEnded(c);
  }

  // No more bytes will come from the client: what it sent decides what is left to do.
  void ClientInputEnded(ClientConn* c) {
    if (c->closing) return;
    switch (c->req) {
      case ReqState::kIdle:
        if (!c->in.empty()) return;  // pipelined requests still to run (deferred, or waiting)
        c->close_after = true;
        c->req = ReqState::kDone;
        c->resp = RespState::kDone;
        if (Idle(c) && !c->sending) ClientDrained(c);
        return;
      case ReqState::kHead:  // a head that can never be completed
        RW_LOG(LogLevel::kDebug, "client %s: closed its side in the middle of a request head",
               c->peer_ip);
        c->log_method.assign("-");
        c->log_target.assign("-");
        c->start_ns = NowNs();
        RespondError(c, 400, /*close=*/true);
        return;
      case ReqState::kBody:
        RW_LOG(LogLevel::kDebug, "client %s: closed its side before the request body ended",
               c->peer_ip);
        FailRequestBody(c, 400);
        return;
      case ReqState::kDone:
        return;  // the response is coming; FinishExchange sees read_eof
      case ReqState::kTunnel:
        if (c->up && Idle(c->up)) UpstreamDrained(c->up);  // pass the half-close on
        return;
      case ReqState::kLinger:
        CloseConn(c);
        return;
    }
  }

  // The upstream connection's queue is empty. In a tunnel whose client half-closed, the
  // backend now gets the FIN too.
  void UpstreamDrained(UpstreamConn* u) {
    ClientConn* c = u->client;
    if (!c || !c->read_eof || u->state != UpState::kTunnel || u->sending) return;
    if (u->tls) return;  // (a TLS backend keeps its tunnel until it or the idle timer ends it)
    shutdown(u->fd, SHUT_WR);
  }

  void WriteAccessLog(ClientConn* c) {
    if (!cfg_.logging.access_log) return;
    AccessRecord rec;
    rec.client = c->peer_ip;
    rec.method = c->log_method;
    rec.target = c->log_target;
    rec.status = c->status;
    rec.bytes = c->resp_bytes;
    rec.upstream = c->backend >= 0
                       ? std::string_view(BackendName(static_cast<uint32_t>(c->backend)))
                       : std::string_view("-");
    rec.duration_us = (NowNs() - c->start_ns) / 1000;
    rec.tries = c->tries ? c->tries : 1;
    AppendAccessLog(rec, core::LogJson(), &access_buf_);
    if (access_buf_.size() > 64 * 1024) FlushAccessLog();
  }

  void FlushAccessLog() {
    if (access_buf_.empty()) return;
    ssize_t w = write(access_fd_, access_buf_.data(), access_buf_.size());
    (void)w;
    access_buf_.clear();
  }

  // ---- Upstream side ---------------------------------------------------------------------

  const char* BackendName(uint32_t backend) const {
    return snap_->backends[backend]->address.text.c_str();
  }
  const config::Backend& BackendConfig(uint32_t backend) const { return *snap_->backends[backend]; }

  // Sends the request to backend `pick` of its upstream. `carry`, on a retry after a failed
  // connect, holds the bytes queued for the failed attempt (head and any body so far): none of
  // them left, so they go to the new connection as they are.
  void ConnectUpstream(ClientConn* c, int pick, SendQueue* carry) {
    uint32_t upstream = static_cast<uint32_t>(c->upstream_index);
    uint32_t backend = snap_->backend_base[upstream] + static_cast<uint32_t>(pick);
    c->backend = static_cast<int32_t>(backend);
    if (c->tries < kMaxTries) c->tried[c->tries] = backend;
    ++c->tries;
    // A retry after a stale pooled connection always opens a fresh one.
    UpstreamConn* u =
        c->retried ? nullptr : TakePooled(backend, c->idempotent && c->req_body == BodyKind::kNone);
    if (!u) {
      const config::Backend& b = BackendConfig(backend);
      absl::StatusOr<int> fd = core::NewTcpSocket(b.address.storage.ss_family);
      if (!fd.ok()) {
        RW_LOG(LogLevel::kError, "upstream %s: %s", BackendName(backend),
               std::string(fd.status().message()).c_str());
        RespondError(c, 502, c->req == ReqState::kBody);
        return;
      }
      u = new UpstreamConn;
      u->upstream = true;
      u->fd = *fd;
      u->backend = backend;
      if (const tls::ContextSet* set = TlsContexts();
          set && upstream < set->upstreams.size() && set->upstreams[upstream]) {
        const tls::ClientContext& cc = *set->upstreams[upstream];
        u->tls = std::make_unique<tls::Session>(cc.ctx(), cc.server_name());
      }
      io_uring_sqe* sqe = ring_.GetSqe();
      io_uring_prep_connect(sqe, u->fd, reinterpret_cast<const sockaddr*>(&b.address.storage),
                            b.address.len);
      io_uring_sqe_set_data64(sqe, Tag(u, Op::kConnect));
      ++u->inflight;
      ArmTimer(u, kTimerConnect);
    } else {
      u->reused = true;
      ArmTimer(u, kTimerResponse);
      // Its receive was sized for an empty queue; this client's may not be (pipelining): size
      // it again (the cancellation's completion re-arms it).
      if (u->recv_armed && Charged(c) > 0) {
        io_uring_sqe* sqe = ring_.GetSqe();
        io_uring_prep_cancel64(sqe, Tag(u, Op::kRecv), 0);
        io_uring_sqe_set_data64(sqe, Tag(nullptr, Op::kIgnore));
      }
    }
    u->client = c;
    c->up = u;
    u->state = u->connected ? UpState::kHead : UpState::kConnecting;
    u->keep_alive = true;
    u->dechunk = false;
    u->got_bytes = false;
    u->interim = 0;
    u->in.clear();
    UpstreamRuntime& r = ups_[upstream];
    u->lb_open = true;
    u->ttfb_ns = 0;
    if (r.latency) u->sent_ns = NowNs();
    r.balancer->OnStart(static_cast<size_t>(pick));
    if (carry) {
      std::swap(u->sendq, *carry);
      Send(u);
      return;
    }
    // The send owns a copy: c->up_head is rewritten by the next exchange, possibly while this
    // connection is still being torn down with the send in the kernel's hands.
    std::string* head = AcquireString();
    head->assign(c->up_head);
    QueueOwned(u, head);
  }

  // The balancer's view of an attempt ends: a response (latency to its head), a failure, or
  // (kCancel) nothing the balancer should learn from.
  enum class AttemptEnd : uint8_t { kOk, kFailed, kCancel };
  void EndAttempt(UpstreamConn* u, AttemptEnd how) {
    if (!u->lb_open) return;
    u->lb_open = false;
    const uint32_t upstream = snap_->backend_upstream[u->backend];
    UpstreamRuntime& r = ups_[upstream];
    if (how == AttemptEnd::kCancel || (how == AttemptEnd::kOk && u->ttfb_ns == 0 && r.latency)) {
      // No response head yet: the latency is unknown, not short.
      r.balancer->OnCancel(u->backend - snap_->backend_base[upstream]);
      return;
    }
    const bool ok = how == AttemptEnd::kOk;
    uint64_t latency = 0;
    if (ok) latency = u->ttfb_ns ? u->ttfb_ns : 1;
    r.balancer->OnFinish(u->backend - snap_->backend_base[upstream], latency,
                         r.latency ? NowNs() : now_ms_ * 1'000'000);
  }

  // Whether a backend's response status (or ringway's 504 for a response timeout) counts as a
  // passive-health failure.
  static bool Counts(const config::PassiveHealth& ph, uint16_t status) {
    return std::find(ph.statuses.begin(), ph.statuses.end(), status) != ph.statuses.end();
  }

  // Passive health: a failure seen on live traffic counts towards ejecting the backend.
  void PassiveFailure(uint32_t backend, const char* what) {
    const config::Upstream& up = UpstreamOf(backend);
    const config::PassiveHealth& ph = up.passive;
    if (ph.consecutive_failures == 0) return;
    uint64_t for_ms = 0;
    if (snap_->health->RecordFailure(backend, now_ms_, ph.consecutive_failures, ph.base_ejection_ms,
                                     ph.max_ejection_ms, &for_ms)) {
      RW_LOG(LogLevel::kWarn,
             "passive health: backend %s (upstream '%s') ejected for %llu ms after %u failures "
             "in a row (last: %s)",
             BackendName(backend), up.name.c_str(), static_cast<unsigned long long>(for_ms),
             ph.consecutive_failures, what);
    }
  }

  // The most recently pooled connection to `backend`. A request that cannot be replayed if
  // the connection turns out closed by the backend (a non-idempotent one) takes only one
  // that was in use less than kSafeReuseMs ago, when a backend's keep-alive timeout cannot
  // be about to close it; else it gets a new connection.
  UpstreamConn* TakePooled(uint32_t backend, bool replayable) {
    Pool& pool = pools_[backend];
    UpstreamConn* u = pool.head;
    if (!u) return nullptr;
    if (!replayable && now_ms_ - u->pooled_ms >= kSafeReuseMs) return nullptr;
    PoolRemove(u);
    return u;
  }

  void PoolRemove(UpstreamConn* u) {
    Pool& pool = pools_[u->backend];
    if (u->pool_prev)
      u->pool_prev->pool_next = u->pool_next;
    else
      pool.head = u->pool_next;
    if (u->pool_next) u->pool_next->pool_prev = u->pool_prev;
    u->pool_prev = u->pool_next = nullptr;
    u->pooled = false;
    --pool.size;
    DisarmTimer(u);
  }

  void PoolPut(UpstreamConn* u) {
    const config::Upstream& up = UpstreamOf(u->backend);
    Pool& pool = pools_[u->backend];
    if (up.keepalive == 0 || draining_) {
      CloseConn(u);
      return;
    }
    if (pool.size >= up.keepalive) {
      // Evict the least recently used: walk to the tail.
      UpstreamConn* t = pool.head;
      while (t->pool_next) t = t->pool_next;
      PoolRemove(t);
      CloseConn(t);
    }
    u->pool_next = pool.head;
    u->pool_prev = nullptr;
    if (pool.head) pool.head->pool_prev = u;
    pool.head = u;
    u->pooled = true;
    u->pooled_ms = now_ms_;
    ++pool.size;
    ArmTimer(u, kTimerPoolIdle);
    ArmRecv(u);  // an idle pooled connection keeps a receive armed to see the server close
  }

  const config::Upstream& UpstreamOf(uint32_t backend) const {
    return cfg_.upstreams[snap_->backend_upstream[backend]];
  }

  void ClosePools() {
    for (auto& pool : pools_) {
      while (pool.head) {
        UpstreamConn* u = pool.head;
        PoolRemove(u);
        CloseConn(u);
      }
    }
  }

  void OnConnect(UpstreamConn* u, int res) {
    --u->inflight;
    if (u->closing) return;
    if (res < 0) {
      RW_LOG(LogLevel::kWarn, "upstream %s: connect failed: %s", BackendName(u->backend),
             strerror(-res));
      UpstreamFailed(u, 502);
      return;
    }
    u->tcp_connected = true;
    ArmRecv(u);
    if (u->tls) {
      // The handshake runs under the same connect timer (upstream_connect covers both); the
      // request waits for it.
      tls::Session::Result r = u->tls->Handshake();  // ClientHello
      if (r == tls::Session::Result::kError) {
        TlsFailed(u, u->tls->ErrorText().c_str());
        return;
      }
      Send(u);
      return;
    }
    UpstreamReady(u);
  }

  // The connection can carry the request: TCP is up and, with TLS, the handshake done.
  void UpstreamReady(UpstreamConn* u) {
    u->connected = true;
    if (u->state == UpState::kConnecting) u->state = UpState::kHead;
    ArmTimer(u, kTimerResponse);
    Send(u);
  }

  void UpstreamInput(UpstreamConn* u, char* p, size_t n, int32_t bid) {
    bool buffer_taken = false;
    ClientConn* c = u->client;
    if (!c) {
      // Bytes on an idle pooled connection: the server is closing or misbehaving.
      if (bid >= 0) ring_.Return(static_cast<uint16_t>(bid));
      if (u->pooled) PoolRemove(u);
      CloseConn(u);
      return;
    }
    u->got_bytes = true;
    if (u->timer.kind == kTimerResponse) ArmTimer(u, kTimerResponse);
    while (n > 0 && !u->closing && u->client) {
      switch (u->state) {
        case UpState::kConnecting:
        case UpState::kHead: {
          size_t used = GatherHead(
              &u->in, p, n, resp_limits_,
              [&](char* d, size_t m) { return ParseUpstreamHead(u, d, m); },
              [&](char* d, size_t m) {
                if (!u->closing && u->client) UpstreamInput(u, d, m, -1);
              });
          p += used;
          n -= used;
          break;
        }
        case UpState::kBody: {
          size_t take =
              TakeResponseBody(u, p, n, bid >= 0 && !buffer_taken ? bid : -1, &buffer_taken);
          p += take;
          n -= take;
          break;
        }
        case UpState::kTunnel:
          if (Queue(c, p, n, buffer_taken ? -1 : bid)) buffer_taken = true;
          c->resp_bytes += n;
          if (c->timer.kind == kTimerTunnel) ArmTimer(c, kTimerTunnel);
          if (Backlogged(c)) PauseRecv(u);  // (Send armed the client's send timer)
          n = 0;
          break;
        case UpState::kDone:
          u->keep_alive = false;
          n = 0;
          break;
      }
    }
    if (bid >= 0 && !buffer_taken) ring_.Return(static_cast<uint16_t>(bid));
  }

  size_t ParseUpstreamHead(UpstreamConn* u, char* p, size_t n) {
    ClientConn* c = u->client;
    http1::ResponseHead resp;
    http1::ParseResult r =
        http1::ParseResponse(std::string_view(p, n), resp_limits_,
                             std::span(fields_.data(), resp_limits_.max_fields), &resp);
    if (r.status == http1::ParseStatus::kIncomplete) return 0;
    if (r.status == http1::ParseStatus::kError) {
      RW_LOG(LogLevel::kWarn, "upstream %s: bad response: %s", BackendName(u->backend), r.error);
      UpstreamFailed(u, 502);
      return n;
    }
    if (resp.status < 200 && resp.status != 101) {
      // Interim response: relay to HTTP/1.1 clients and wait for the final one. A backend
      // may send a few; one that keeps sending them is broken.
      if (++u->interim > kMaxInterimResponses) {
        RW_LOG(LogLevel::kWarn, "upstream %s: more than %u interim responses",
               BackendName(u->backend), kMaxInterimResponses);
        UpstreamFailed(u, 502);
        return n;
      }
      if (!c->http10 && resp.status != 100) {
        std::string* s = AcquireString();
        http1::WriteResponseHead(resp, true, false, false, s);
        QueueOwned(c, s);
        if (Backlogged(c)) ThrottleUpstream(u);
      }
      return r.consumed;
    }
    {
      const config::PassiveHealth& ph = UpstreamOf(u->backend).passive;
      if (Counts(ph, resp.status)) {
        char what[32];
        snprintf(what, sizeof(what), "status %u", resp.status);
        PassiveFailure(u->backend, what);
      } else {
        snap_->health->RecordSuccess(u->backend);
      }
      if (u->lb_open && u->sent_ns) u->ttfb_ns = std::max<uint64_t>(1, NowNs() - u->sent_ns);
    }
    u->body = http1::ResponseBody(resp, c->head_method);
    u->left = resp.framing.content_length;
    u->chunked.Reset();
    u->keep_alive = resp.framing.keep_alive;
    bool tunnel = resp.status == 101 && c->upgrade;
    if (resp.status == 101 && !c->upgrade) {
      UpstreamFailed(u, 502);
      return n;
    }
    // An HTTP/1.0 client cannot take chunked: it gets the data, delimited by close.
    u->dechunk = c->http10 && u->body == BodyKind::kChunked;
    bool client_keep_alive = c->keep_alive && !c->close_after && !draining_ &&
                             u->body != BodyKind::kUntilClose && !tunnel && !u->dechunk &&
                             c->req != ReqState::kBody;
    if (!client_keep_alive) c->close_after = true;
    std::string* s = AcquireString();
    http1::WriteResponseHead(resp, client_keep_alive, c->http10, u->dechunk, s);
    AddStickyCookie(c, u, s);
    if (c->tls && c->server >= 0) AddHsts(cfg_.servers[static_cast<size_t>(c->server)], resp, s);
    c->status = resp.status;
    c->resp_bytes += s->size();
    c->resp = RespState::kStreaming;
    c->resp_mark = c->sendq.Mark();
    c->resp_turn = turn_;
    QueueOwned(c, s);
    if (tunnel) {
      u->state = UpState::kTunnel;
      c->req = ReqState::kTunnel;
      c->resp = RespState::kTunnel;
      // A tunnel has no request or response to wait for: it lives while bytes flow either
      // way (timeouts.tunnel), and whichever side stops reading what the other sends gets
      // client_send to catch up.
      DisarmTimer(u);
      ArmTimer(c, kTimerTunnel);
      // Bytes the client sent after its request, before the switch, belong to the tunnel.
      if (!c->in.empty()) {
        Queue(u, c->in.data(), c->in.size(), -1);
        c->in.clear();
      }
      ResumeRecv(c);
      if (c->read_eof && Idle(u)) UpstreamDrained(u);
      return r.consumed;
    }
    if (u->body == BodyKind::kNone || (u->body == BodyKind::kContentLength && u->left == 0)) {
      if (r.consumed < n) u->keep_alive = false;  // bytes after the response: do not reuse
      UpstreamResponseDone(u);
    } else {
      u->state = UpState::kBody;
    }
    return r.consumed;
  }

  // HSTS on responses over TLS, unless the backend sent its own.
  static void AddHsts(const config::Server& srv, const http1::ResponseHead& resp,
                      std::string* head) {
    if (srv.hsts.empty() || head->size() < 4) return;
    for (const auto& f : resp.fields) {
      if (http1::EqualsIgnoreCase(f.name, "strict-transport-security")) return;
    }
    head->insert(head->size() - 2, "Strict-Transport-Security: " + srv.hsts + "\r\n");
  }

  // Sticky sessions: a response from a backend other than the one the request's cookie named
  // (or to a request without one) tells the client which backend to come back to.
  void AddStickyCookie(ClientConn* c, UpstreamConn* u, std::string* head) {
    const uint32_t upstream = snap_->backend_upstream[u->backend];
    const config::Sticky& st = cfg_.upstreams[upstream].sticky;
    if (!st.enabled) return;
    const int32_t local = static_cast<int32_t>(u->backend - snap_->backend_base[upstream]);
    if (c->sticky == local || head->size() < 4) return;
    std::string line = "Set-Cookie: ";
    line.append(st.cookie).push_back('=');
    line.append(ups_[upstream].tokens[static_cast<size_t>(local)]);
    line.append("; Path=/; HttpOnly");
    if (st.ttl_s) line.append("; Max-Age=").append(std::to_string(st.ttl_s));
    line.append("\r\n");
    head->insert(head->size() - 2, line);  // before the blank line that ends the head
  }

  size_t TakeResponseBody(UpstreamConn* u, const char* p, size_t n, int32_t bid, bool* taken) {
    ClientConn* c = u->client;
    size_t take = 0;
    bool done = false;
    switch (u->body) {
      case BodyKind::kContentLength:
        take = static_cast<size_t>(std::min<uint64_t>(u->left, n));
        u->left -= take;
        done = u->left == 0;
        break;
      case BodyKind::kChunked: {
        if (u->dechunk) {
          http1::ChunkedDecoder::Result r =
              u->chunked.Feed(std::string_view(p, n),
                              [&](std::string_view d) { Queue(c, d.data(), d.size(), -1); });
          if (r.error) {
            UpstreamFailed(u, 502);
            return n;
          }
          c->resp_bytes += r.consumed;
          if (r.done) {
            if (r.consumed < n) u->keep_alive = false;
            UpstreamResponseDone(u);
          } else if (Backlogged(c)) {
            ThrottleUpstream(u);
          }
          return r.consumed;
        }
        http1::ChunkedDecoder::Result r = u->chunked.Feed(std::string_view(p, n));
        if (r.error) {
          RW_LOG(LogLevel::kWarn, "upstream %s: bad chunked body: %s", BackendName(u->backend),
                 r.error_text);
          UpstreamFailed(u, 502);
          return n;
        }
        take = r.consumed;
        done = r.done;
        break;
      }
      case BodyKind::kUntilClose:
        take = n;
        break;
      case BodyKind::kNone:
        done = true;
        break;
    }
    if (take > 0) {
      if (Queue(c, p, take, bid)) *taken = true;
      c->resp_bytes += take;
    }
    if (done) {
      if (take < n) u->keep_alive = false;  // bytes after the response: do not reuse
      UpstreamResponseDone(u);
    } else if (Backlogged(c)) {
      ThrottleUpstream(u);
    }
    return take;
  }

  // The whole response has been queued to the client.
  void UpstreamResponseDone(UpstreamConn* u) {
    ClientConn* c = u->client;
    u->state = UpState::kDone;
    bool reusable = u->keep_alive && c->req != ReqState::kBody && u->sendq.empty() && !u->sending &&
                    u->in.empty();
    if (c->req == ReqState::kBody) {
      c->close_after = true;  // the server answered before the body ended
      c->req = ReqState::kDone;
    }
    u->client = nullptr;
    c->up = nullptr;
    DisarmTimer(u);
    EndAttempt(u, AttemptEnd::kOk);
    if (reusable) {
      u->recv_paused = false;  // nothing pooled is paused: a backpressure pause ends here
      PoolPut(u);
    } else {
      CloseConn(u);
    }
    c->resp = RespState::kDone;
    ResumeRecv(c);
    if (c->req == ReqState::kDone) FinishExchange(c);
  }

  void UpstreamEof(UpstreamConn* u, int res) {
    ClientConn* c = u->client;
    if (!c) {
      if (u->pooled) PoolRemove(u);
      CloseConn(u);
      return;
    }
    if (u->state == UpState::kBody && u->body == BodyKind::kUntilClose && res == 0) {
      u->keep_alive = false;
      UpstreamResponseDone(u);
      return;
    }
    if (u->state == UpState::kTunnel) {
      CloseConn(u);
      c->up = nullptr;
      c->resp = RespState::kDone;
      c->req = ReqState::kDone;
      c->close_after = true;
      FinishExchange(c);
      return;
    }
    if (res < 0) {
      RW_LOG(LogLevel::kWarn, "upstream %s: %s", BackendName(u->backend), strerror(-res));
    }
    UpstreamFailed(u, 502);
  }

  // The upstream connection failed before the response ended. In order:
  //  - a pooled connection that turned out stale (closed by the server while idle) before any
  //    response byte, with nothing but the head of an idempotent request sent: once more on a
  //    fresh connection;
  //  - a connect that failed (nothing left ringway: any method, body included) or a connection
  //    that broke before any response byte (idempotent methods without a body only): on
  //    another usable backend, within the try limit and the upstream's retry budget;
  //  - else `status` if no response byte has gone to the client, or cut the client.
  void UpstreamFailed(UpstreamConn* u, uint16_t status) {
    ClientConn* c = u->client;
    const uint32_t backend = u->backend;
    const bool connected = u->connected;
    const bool stale = status == 502 && u->reused && u->state == UpState::kHead && !u->got_bytes;
    const bool before_response =
        !u->got_bytes && (u->state == UpState::kConnecting || u->state == UpState::kHead);
    const config::PassiveHealth& ph = UpstreamOf(backend).passive;
    if (!connected) {
      if (ph.on_connect_failure)
        PassiveFailure(backend, status == 504 ? "connect timeout" : "connect failed");
    } else if (!stale && status == 502 && ph.on_reset) {
      PassiveFailure(backend, "connection broke before the response ended");
    } else if (status == 504 && Counts(ph, 504)) {
      PassiveFailure(backend, "response timeout");  // a hung backend passes TCP checks
    }
    EndAttempt(u, stale ? AttemptEnd::kCancel : AttemptEnd::kFailed);
    // Bytes queued for a connection that never connected have not left: keep them.
    SendQueue carry;
    if (!connected && (!u->sending || u->tls)) std::swap(carry, u->sendq);
    u->client = nullptr;
    if (u->pooled) PoolRemove(u);
    CloseConn(u);
    if (c && !c->closing) {
      c->up = nullptr;
      RecoverOrFail(c, backend, status, connected, stale, before_response, &carry);
    }
    carry.Clear([&](const SendPiece& p) { ReleasePiece(p); });
  }

  void RecoverOrFail(ClientConn* c, uint32_t backend, uint16_t status, bool connected, bool stale,
                     bool before_response, SendQueue* carry) {
    if (c->resp != RespState::kWaiting) {
      // A response that failed in the loop turn its head arrived in (a malformed body in the
      // same read, say) has not reached the kernel yet: it is taken back and the client gets
      // a clean 502. Once part of it may have left, the truncation is made visible instead.
      if (c->resp == RespState::kStreaming && c->resp_turn == turn_ &&
          c->sendq.DropFrom(c->resp_mark, [&](const SendPiece& p) { ReleasePiece(p); })) {
        c->resp = RespState::kWaiting;
        c->resp_bytes = 0;
      } else {
        ResetConn(c);
        return;
      }
    }
    const uint32_t upstream = static_cast<uint32_t>(c->upstream_index);
    // The keep-alive race (the backend closed the pooled connection as the request went out)
    // is retried once on a fresh connection, for idempotent requests only (RFC 9110 9.2.2):
    // the backend may have acted on the request before it closed.
    if (stale && !c->retried && c->idempotent && c->req_body == BodyKind::kNone &&
        snap_->health->Usable(backend)) {
      c->retried = true;  // does not count against the try limit (see max_tries below)
      ConnectUpstream(c, static_cast<int>(backend - snap_->backend_base[upstream]), nullptr);
      return;
    }
    const bool retryable = !connected || (before_response && status == 502 && c->idempotent &&
                                          c->req_body == BodyKind::kNone);
    const uint32_t limit = c->max_tries + (c->retried ? 1u : 0u);
    if (retryable && c->tries < limit) {
      int pick = PickBackend(c);
      if (pick >= 0 && RetryAllowed(c)) {
        RW_LOG(LogLevel::kDebug, "retry: %s to upstream '%s': %s failed; attempt %u of %u",
               c->peer_ip, cfg_.upstreams[upstream].name.c_str(), BackendName(backend),
               c->tries + 1u, static_cast<unsigned>(c->max_tries));
        ConnectUpstream(c, pick, connected ? nullptr : carry);
        return;
      }
    }
    RespondError(c, status, c->req == ReqState::kBody);
  }

  // The retry budget (balance/retry_budget.h): over the last ten seconds, retries may be at
  // most budget_percent of requests, plus min_retries a second, so that retries cannot
  // multiply the load on a pool that is failing.
  bool RetryAllowed(ClientConn* c) {
    const uint32_t upstream = static_cast<uint32_t>(c->upstream_index);
    UpstreamRuntime& r = ups_[upstream];
    if (r.budget.TryRetry(now_ms_ / 1000)) return true;
    if (now_ms_ >= r.budget_log_ms) {
      r.budget_log_ms = now_ms_ + 1000;
      RW_LOG(LogLevel::kWarn, "upstream '%s': retry budget spent; failing without a retry",
             cfg_.upstreams[upstream].name.c_str());
    }
    return false;
  }

  // Drops the upstream side of an exchange that the client side abandoned.
  void AbortUpstream(UpstreamConn* u) {
    EndAttempt(u, AttemptEnd::kCancel);  // the client left: not the backend's failure
    if (u->client) u->client->up = nullptr;
    u->client = nullptr;
    if (u->pooled) PoolRemove(u);
    CloseConn(u);
  }

  // ---- Closing ---------------------------------------------------------------------------

  // Closes with a reset: the kernel drops whatever is still queued on the socket instead of
  // holding it for a peer that is not reading, and the peer sees an abort, not a clean end.
  void ResetConn(Conn* c) {
    if (c->closing) return;
    linger lg{1, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    CloseConn(c);
  }

  void CloseConn(Conn* c) {
    if (c->closing) return;
    c->closing = true;
    DisarmTimer(c);
    DisarmSendTimer(c);
    if (!c->upstream) {
      auto* cc = static_cast<ClientConn*>(c);
      if (cc->up) AbortUpstream(cc->up);
      --live_clients_;
    } else {
      auto* u = static_cast<UpstreamConn*>(c);
      EndAttempt(u, u->got_bytes ? AttemptEnd::kOk : AttemptEnd::kCancel);
      if (u->pooled) PoolRemove(u);
      if (u->client) {
        u->client->up = nullptr;
        u->client = nullptr;
      }
    }
    // Queued pieces go back now (buffers to the ring) unless a send still holds them.
    if (!c->sending || c->tls) c->sendq.Clear([&](const SendPiece& p) { ReleasePiece(p); });
    if (c->recv_armed || c->sending || c->inflight > 0) {
      io_uring_sqe* sqe = ring_.GetSqe();
      io_uring_prep_cancel_fd(sqe, c->fd, IORING_ASYNC_CANCEL_ALL);
      io_uring_sqe_set_data64(sqe, Tag(nullptr, Op::kIgnore));
    }
    closing_.push_back(c);
  }

  uint64_t CloseAllClients() {
    uint64_t n = 0;
    for (ClientConn* c : std::vector<ClientConn*>(clients_.begin(), clients_.end())) {
      if (!c->closing) {
        CloseConn(c);
        ++n;
      }
    }
    return n;
  }

  void FreeClosed() {
    if (closing_.empty()) return;
    size_t keep = 0;
    for (size_t i = 0; i < closing_.size(); ++i) {
      Conn* c = closing_[i];
      if (c->inflight > 0) {
        closing_[keep++] = c;
        continue;
      }
      c->sendq.Clear([&](const SendPiece& p) { ReleasePiece(p); });
      close(c->fd);
      if (c->upstream) {
        delete static_cast<UpstreamConn*>(c);
      } else {
        auto* cc = static_cast<ClientConn*>(c);
        clients_[cc->list_pos] = clients_.back();
        clients_[cc->list_pos]->list_pos = cc->list_pos;
        clients_.pop_back();
        delete cc;
      }
    }
    closing_.resize(keep);
  }

  std::shared_ptr<const Snapshot> snap_;
  const config::Config& cfg_;
  uint32_t index_;
  core::Ring ring_;
  int wake_fd_ = -1;
  uint64_t wake_value_ = 0;
  int access_fd_ = snap_->access_log_fd;
  std::vector<ListenerSlot*> listeners_;
  std::vector<core::TimerList*> timers_;
  http1::ParseLimits limits_;
  http1::ParseLimits resp_limits_;
  std::vector<http1::Field> fields_;
  std::vector<http1::Field> scratch_fields_;
  std::vector<Pool> pools_;
  // Per upstream: the balancer and what the worker counts for retries and slow start.
  struct UpstreamRuntime {
    std::unique_ptr<balance::Balancer> balancer;
    std::vector<uint32_t> weights;    // current weights (slow start lowers them for a while)
    std::vector<std::string> tokens;  // sticky-session cookie value per backend
    balance::RetryBudget budget;
    uint64_t next_ramp_ms = 0;
    uint64_t none_log_ms = 0;
    uint64_t budget_log_ms = 0;
    bool latency = false;  // the balancer uses latencies: measure them
  };
  std::vector<UpstreamRuntime> ups_;
  std::vector<ClientConn*> clients_;
  std::vector<Conn*> closing_;
  std::vector<Conn*> starved_;
  std::vector<ClientConn*> deferred_;
  std::vector<Conn*> to_send_;
  std::vector<std::string*> string_pool_;
  uint64_t string_pool_bytes_ = 0;
  static constexpr size_t kPooledStringMax = 16 * 1024;
  static constexpr uint64_t kStringPoolBytes = 1024 * 1024;
  static constexpr size_t kCopyBelow = 2048;
  std::string access_buf_;
  uint64_t high_water_ = 0;
  static constexpr size_t kMaxQueuedPieces = 16;
  static constexpr uint32_t kMaxInterimResponses = 16;
  static constexpr uint64_t kSafeReuseMs = 1000;
  uint64_t now_ms_ = 0;
  uint64_t turn_ = 0;               // loop turns; sends are handed to the kernel at the end of each
  bool rearmed_with_data_ = false;  // see ReapCompletions
  uint64_t live_clients_ = 0;
  bool draining_ = false;
  bool cq_overflow_logged_ = false;
  uint64_t accept_retry_ms_ = 0;      // re-arm accepts then (after EMFILE and the like)
  uint64_t accept_log_after_ms_ = 0;  // rate limit for the accept failure log line
  static constexpr uint64_t kAcceptBackoffMs = 100;
  uint64_t drain_deadline_ms_ = 0;
  // TLS.
  std::shared_ptr<const tls::ContextSet> tls_set_;
  uint64_t tls_gen_ = 0;
  std::string tls_gather_;  // small pieces gathered into one record
  std::vector<char> tls_scratch_ = std::vector<char>(16 * 1024);  // plaintext past a buffer
  static constexpr size_t kTlsRecord = 16 * 1024;
  static constexpr size_t kTlsGatherPiece = 4 * 1024;  // smaller pieces are gathered
  static constexpr size_t kTlsBatch = 256 * 1024;      // plaintext sealed per send at most
  static constexpr size_t kTlsSmallRecord = 1360;      // fits one segment with its overhead
  static constexpr uint32_t kTlsSmallBytes = 16 * 1024;
  static constexpr uint64_t kTlsIdleMs = 1000;
  static constexpr size_t kTlsOutLimit = kTlsBatch + 64 * 1024;
};

Worker::Worker(std::shared_ptr<const Snapshot> snapshot, uint32_t index,
               std::vector<int> listen_fds)
    : impl_(std::make_unique<WorkerImpl>(std::move(snapshot), index, std::move(listen_fds))) {}
Worker::~Worker() = default;
absl::Status Worker::Init() { return impl_->Init(); }
uint64_t Worker::Run() { return impl_->Run(); }
void Worker::Drain() { impl_->Drain(); }

}  // namespace ringway::proxy
