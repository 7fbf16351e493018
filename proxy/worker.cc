// The worker's loop: one submit-and-wait per turn, completions dispatched on the operation in
// their user_data, timers, accepts, shutdown, and the freeing of closed connections. Snapshots
// and their adoption are in snapshot.cc.
#include "proxy/worker_impl.h"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ringway::proxy {

WorkerImpl::WorkerImpl(std::shared_ptr<const Snapshot> snap, uint32_t index, std::vector<int> fds)
    : index_(index), metrics_(std::make_shared<metrics::WorkerMetrics>()) {
  metrics::Workers().Add(metrics_);
  for (size_t i = 0; i < fds.size(); ++i) {
    auto* l = new ListenerSlot;
    l->fd = fds[i];
    l->index = static_cast<uint32_t>(i);
    listeners_.push_back(l);
  }
  const auto& t = snap->config.timeouts;
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
  timers_.emplace_back(new core::TimerList(kTimerH2Streams, H2TickMs(t)));
  timers_.emplace_back(new core::TimerList(kTimerDrainIdle, kDrainIdleMs));
  timers_.emplace_back(new core::TimerList(kTimerH2Up, kH2UpTickMs));
  high_water_ = 8ull * snap->config.buffers.size;
  UseSnapshot(std::move(snap));
  for (ListenerSlot* l : listeners_) l->series = snap_->listener_series[l->index];
}

WorkerImpl::~WorkerImpl() {
  for (auto* l : listeners_) {
    if (!l->closed && l->fd >= 0) close(l->fd);
    delete l;
  }
  for (auto* t : timers_) delete t;
  if (wake_fd_ >= 0) close(wake_fd_);
  for (auto* s : string_pool_) delete s;
  for (H2Stream* s : spare_streams_) delete s;
  for (UpStream* us : spare_upstreams_) delete us;
  for (Exchange* ex : spare_exchanges_) delete ex;
  for (SplicePipe* p : spare_pipes_) {
    close(p->r);
    close(p->w);
    delete p;
  }
  for (int fd : adopt_fds_) {
    if (fd >= 0) close(fd);
  }
  if (rt_) {
    rt_->current = false;
    if (rt_->refs == 0) delete rt_;
  }
}

absl::Status WorkerImpl::Init() {
  uint32_t sq = 1024;
  // buffers.count is the ceiling; the kernel is kept supplied with buffers.reserve of them
  // and a buffer is used for the first time only when none came back, so idle workers and
  // light loads hold little memory (core/ring.h).
  absl::Status st = ring_.Init(sq, cfg_->buffers.count, cfg_->buffers.size, cfg_->buffers.reserve);
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

// Draining: HTTP/2 connections get their GOAWAY once idle for kDrainIdleMs, or once half the
// shutdown time has passed.
void WorkerImpl::DrainH2() {
  if (h2_draining_.empty()) return;
  size_t keep = 0;
  for (ClientConn* c : h2_draining_) {
    const bool idle = c->h2 && c->h2->streams.empty() && now_ms_ >= c->h2->active_ms + kDrainIdleMs;
    if (!c->closing && c->h2 && c->h2->drain_wait && !idle && now_ms_ < drain_goaway_ms_) {
      h2_draining_[keep++] = c;
      continue;
    }
    --c->inflight;
    if (!c->closing && c->h2 && c->h2->drain_wait) {
      c->h2->drain_wait = false;
      H2Shutdown(c);
    }
  }
  h2_draining_.resize(keep);
}

void WorkerImpl::TickH2Sessions() {
  for (ClientConn* c : std::vector<ClientConn*>(clients_.begin(), clients_.end())) {
    if (!c->h2 || c->closing) continue;
    if (!c->h2->session.Tick(now_ms_).ok) c->h2->failed = true;
    H2AfterEvents(c);
  }
}

void WorkerImpl::Drain() {
  drain_asked_.store(true, std::memory_order_release);
  uint64_t one = 1;
  ssize_t w = write(wake_fd_, &one, sizeof(one));
  (void)w;
}

uint64_t WorkerImpl::Run() {
  for (auto* l : listeners_) ArmAccept(l);
  ArmWake();
  uint64_t cut = 0;
  while (true) {
    ++turn_;
    now_ms_ = core::MonotonicMs();
    ring_.Publish();
    // With handshakes queued the turn only looks for completions: it does not sleep.
    uint64_t wait = HellosWaiting() ? 0 : NextTimerWait();
    int r = ring_.SubmitAndWait(wait);
    if (r < 0 && r != -ETIME && r != -EINTR && r != -EAGAIN && r != -EBUSY) {
      RW_LOG(LogLevel::kError, "worker %u: io_uring wait failed: %s", index_, strerror(-r));
    }
    now_ms_ = core::MonotonicMs();
    now_ns_ = NowNs();
    ReapCompletions();
    RunDeferred();
    ExpireTimers();
    if (draining_) {
      DrainH2();
      TickH2Sessions();  // the shutdown's second GOAWAY has a time bound
    }
    FlushSends();
    if (HellosWaiting()) {
      // The turn's sends go to the kernel before a handshake's crypto delays them.
      io_uring_submit(ring_.raw());
      RunHellos();
      FlushSends();
    }
    if (draining_) {
      // (Not while an accept is still armed: a connection it brings is served, not dropped.)
      if (live_clients_ == 0 && !AnyListenerArmed()) break;
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
    ReturnParkedExchanges();
    FreeClosed();
    FlushAccessLog();
  }
  // Drained: close the pool and wait (bounded) for the kernel to let go of everything.
  for (ClientConn* c : h2_draining_) --c->inflight;
  h2_draining_.clear();
  for (Conn* c : hellos_) --c->inflight;  // (all closed by now: the drain cut them)
  hellos_.clear();
  ReturnParkedExchanges();
  ClosePools();
  CloseH2Pools();
  for (int i = 0; i < 100 && (!closing_.empty() || AnyListenerArmed()); ++i) {
    ring_.SubmitAndWait(10);
    ReapCompletions();
    RunDeferred();   // (closing connections leave these lists here, and
    RearmStarved();  // only then can they be freed)
    FlushSends();    // to_send_ must be empty whenever FreeClosed runs
    ReturnParkedExchanges();
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
  RW_LOG(
      LogLevel::kDebug,
      "worker %u: at most %u of %u provided buffers were lent at once (%u handed out, reserve %u)",
      index_, ring_.peak_lent(), ring_.buffer_count(), ring_.provided(), ring_.reserve());
  FlushAccessLog();
  return cut;
}

void WorkerImpl::ArmAccept(ListenerSlot* l) {
  if (l->armed || l->closed || l->removed || draining_) return;
  io_uring_sqe* sqe = ring_.GetSqe();
  io_uring_prep_multishot_accept(sqe, l->fd, nullptr, nullptr, SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe, Tag(l, Op::kAccept));
  l->armed = true;
}

void WorkerImpl::ArmWake() {
  io_uring_sqe* sqe = ring_.GetSqe();
  io_uring_prep_read(sqe, wake_fd_, &wake_value_, sizeof(wake_value_), 0);
  io_uring_sqe_set_data64(sqe, Tag(&wake_value_, Op::kWake));
}

// The current snapshot's TLS contexts (SIGHUP, or a reload, publishes new ones).
const tls::ContextSet* WorkerImpl::TlsContexts() {
  const uint64_t gen = snap_->tls->generation();
  if (gen != tls_gen_) {
    tls_set_ = snap_->tls->Current();
    tls_gen_ = gen;
  }
  return tls_set_.get();
}

uint64_t WorkerImpl::NextTimerWait() {
  uint64_t next = UINT64_MAX;
  for (size_t k = 1; k < timers_.size(); ++k) next = std::min(next, timers_[k]->NextDeadline());
  if (draining_) next = std::min(next, drain_deadline_ms_);
  if (!h2_draining_.empty()) next = std::min(next, std::min(drain_goaway_ms_, now_ms_ + 100));
  if (accept_retry_ms_) next = std::min(next, accept_retry_ms_);
  if (next == UINT64_MAX) return 1000;
  return next > now_ms_ ? std::min<uint64_t>(next - now_ms_ + 1, 1000) : 0;
}

void WorkerImpl::ExpireTimers() {
  for (size_t k = 1; k < timers_.size(); ++k) {
    timers_[k]->Expire(now_ms_, [&](core::TimerNode* n) { OnTimer(FromTimer(n), k); });
  }
}

void WorkerImpl::OnTimer(Conn* c, size_t kind) {
  if (c->closing) return;
  switch (kind) {
    case kTimerHeader:
    case kTimerBody: {
      auto* cc = static_cast<ClientConn*>(c);
      if (cc->h2) {  // no request within client_header of the handshake (or the preface)
        H2IdleClose(cc);
        break;
      }
      if (cc->req == ReqState::kIdle && cc->in.empty()) {
        CloseConn(cc);
      } else if (ExResp(cc) == RespState::kNone || ExResp(cc) == RespState::kWaiting) {
        RW_LOG(LogLevel::kDebug, "client %s: request timed out", cc->peer_ip);
        if (cc->req == ReqState::kHead) UnparsedRequest(cc);
        if (cc->ex) AbortAttempt(cc->ex);
        RespondError(cc, 408, /*close=*/true);
      } else {
        CloseConn(cc);
      }
      break;
    }
    case kTimerSend:
      if (c->upstream) {  // a tunnel's backend stopped reading what the client sends
        auto* u = static_cast<UpstreamConn*>(c);
        RW_LOG(LogLevel::kDebug, "upstream %s: stopped reading the tunnel; cut", BackendName(u));
        ClientConn* cc = u->ex ? u->ex->client : nullptr;
        ResetConn(u);
        if (cc) ResetConn(cc);
        break;
      }
      RW_LOG(LogLevel::kDebug, "client %s: stopped reading the response; cut",
             static_cast<ClientConn*>(c)->peer_ip);
      ResetConn(c);
      break;
    case kTimerH2Streams:
      H2CheckStreams(static_cast<ClientConn*>(c));
      break;
    case kTimerTunnel:
      RW_LOG(LogLevel::kDebug, "client %s: tunnel idle for %u ms; closed",
             static_cast<ClientConn*>(c)->peer_ip, cfg_->timeouts.tunnel_ms);
      CloseConn(c);  // its backend side goes with it
      break;
    case kTimerDrainIdle: {
      auto* cc = static_cast<ClientConn*>(c);
      if (cc->req != ReqState::kIdle || !cc->in.empty()) break;  // a request came: it ends it
      if (Idle(cc) && !cc->sending) {
        CloseConn(cc);
      } else {
        ArmTimer(cc, kTimerDrainIdle);  // the last response is still going out
      }
      break;
    }
    case kTimerKeepalive:
      if (!Idle(c)) {  // the last response is still going out: its send deadline governs
        ArmTimer(c, kTimerKeepalive);
        break;
      }
      if (!c->upstream && static_cast<ClientConn*>(c)->h2) {  // GOAWAY first
        H2IdleClose(static_cast<ClientConn*>(c));
        break;
      }
      CloseConn(c);
      break;
    case kTimerLinger:
    case kTimerPoolIdle:
      CloseConn(c);
      break;
    case kTimerH2Up:
      H2UpTick(static_cast<UpstreamConn*>(c));
      break;
    case kTimerConnect:
    case kTimerResponse: {
      auto* u = static_cast<UpstreamConn*>(c);
      RW_LOG(LogLevel::kWarn, "upstream %s: %s timed out", BackendName(u),
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

void WorkerImpl::ReapCompletions() {
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

void WorkerImpl::Dispatch(io_uring_cqe* cqe) {
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
    case Op::kSpliceIn:
      OnSpliceIn(TagPtr<UpstreamConn>(ud), cqe->res);
      break;
  }
}

void WorkerImpl::OnWake(int res) {
  std::shared_ptr<const Snapshot> snap;
  std::vector<int> fds;
  {
    std::lock_guard<std::mutex> l(adopt_mu_);
    snap = std::move(adopt_snap_);
    fds = std::move(adopt_fds_);
    adopt_snap_.reset();
    adopt_fds_.clear();
  }
  if (snap && !draining_) {
    const std::vector<config::Listener> before = cfg_->listeners;
    UseSnapshot(std::move(snap));
    AdoptListeners(before, std::move(fds));
  } else {
    for (int fd : fds) {
      if (fd >= 0) close(fd);
    }
  }
  if (!drain_asked_.load(std::memory_order_acquire)) {
    ArmWake();
    return;
  }
  if (!draining_) {
    draining_ = true;
    drain_deadline_ms_ = now_ms_ + cfg_->timeouts.shutdown_ms;
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
    // No connection is cut while a request may be on its way to it: a client sees a reset
    // then, and one that does not retry (a load tool) counts a failure. HTTP/1: every
    // connection's next response carries Connection: close and ends it; one idle now is closed
    // if no request comes within kDrainIdleMs. HTTP/2: GOAWAY (in two steps) once the
    // connection has had no stream for kDrainIdleMs, or once half the shutdown time has passed
    // (DrainH2): a client may be about to open a stream on a connection that has none.
    drain_goaway_ms_ = now_ms_ + cfg_->timeouts.shutdown_ms / 2;
    for (ClientConn* c : std::vector<ClientConn*>(clients_.begin(), clients_.end())) {
      if (c->closing) continue;
      if (c->h2) {
        c->h2->drain_wait = true;
        h2_draining_.push_back(c);
        ++c->inflight;  // the list refers to it
      } else {
        EndClient(c);
      }
    }
  }
}

bool WorkerImpl::AnyListenerArmed() const {
  for (auto* l : listeners_) {
    if (l->armed) return true;
  }
  return false;
}

void WorkerImpl::OnAccept(ListenerSlot* l, int res, uint32_t flags) {
  if (!(flags & IORING_CQE_F_MORE)) l->armed = false;
  if (res >= 0) {
    if (l->removed || live_clients_ >= cfg_->limits.max_connections) {
      close(res);
    } else {
      // Accepted after the drain began (the accept was still armed): served like the others
      // then, one response and Connection: close, rather than reset.
      NewClient(res, l);
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
    if (draining_ || l->removed) {
      if (!l->closed) {
        close(l->fd);
        l->closed = true;
      }
    } else {
      ArmAccept(l);
    }
  }
}

void WorkerImpl::NewClient(int fd, ListenerSlot* slot) {
  const uint32_t listener = slot->index;
  auto* c = new ClientConn;
  c->fd = fd;
  c->rt.Set(rt_);
  c->listener = listener;
  c->listener_series = slot->series;
  c->proto = metrics::kHttp1;
  if (metrics_on_) LSeries(c).opened[metrics::kHttp1].Add();
  c->h2c_possible = cfg_->listeners[listener].h2c;  // (TLS connections: ALPN decides instead)
  core::SetNoDelay(fd);
  if (core::PeerIp(fd, c->peer_ip, sizeof(c->peer_ip)) == 0) strcpy(c->peer_ip, "-");
  c->list_pos = clients_.size();
  clients_.push_back(c);
  ++live_clients_;
  if (const tls::ContextSet* set = TlsContexts();
      set && listener < set->listeners.size() && set->listeners[listener]) {
    c->tls_ctx = set->listeners[listener];
    c->tls = std::make_unique<tls::Session>(c->tls_ctx->default_ctx());
    c->h2c_possible = false;
    if (!c->tls->ok()) {
      RW_LOG(LogLevel::kWarn, "worker %u: cannot create a TLS session (out of memory?)", index_);
      CloseConn(c);
      return;
    }
  }
  ArmTimer(c, kTimerHeader);  // covers the TLS handshake too
  if (draining_) c->ending = true;
  ArmRecv(c);
}

uint64_t WorkerImpl::CloseAllClients() {
  uint64_t n = 0;
  for (ClientConn* c : std::vector<ClientConn*>(clients_.begin(), clients_.end())) {
    if (!c->closing) {
      CloseConn(c);
      ++n;
    }
  }
  return n;
}

void WorkerImpl::FreeClosed() {
  FreeDeadStreams();
  if (closing_.empty()) return;
  size_t keep = 0;
  for (size_t i = 0; i < closing_.size(); ++i) {
    Conn* c = closing_[i];
    if (c->inflight > 0) {
      closing_[keep++] = c;
      continue;
    }
    c->sendq.Clear([&](const SendPiece& p) { ReleasePiece(p); });
    DisarmTimer(c);  // (CloseConn did; a timer armed since must not outlive the connection)
    DisarmSendTimer(c);
    close(c->fd);
    if (c->upstream) {
      delete static_cast<UpstreamConn*>(c);
    } else {
      auto* cc = static_cast<ClientConn*>(c);
      // (CloseConn detached its attempt: nothing refers to its exchange any more.)
      if (cc->ex) RecycleExchange(cc->ex);
      clients_[cc->list_pos] = clients_.back();
      clients_[cc->list_pos]->list_pos = cc->list_pos;
      clients_.pop_back();
      delete cc;
    }
  }
  closing_.resize(keep);
}

Worker::Worker(std::shared_ptr<const Snapshot> snapshot, uint32_t index,
               std::vector<int> listen_fds)
    : impl_(std::make_unique<WorkerImpl>(std::move(snapshot), index, std::move(listen_fds))) {}
Worker::~Worker() = default;
absl::Status Worker::Init() { return impl_->Init(); }
uint64_t Worker::Run() { return impl_->Run(); }
void Worker::Drain() { impl_->Drain(); }
void Worker::Adopt(std::shared_ptr<const Snapshot> snapshot, std::vector<int> listen_fds) {
  impl_->Adopt(std::move(snapshot), std::move(listen_fds));
}
std::shared_ptr<const metrics::WorkerMetrics> Worker::Metrics() const { return impl_->Metrics(); }

}  // namespace ringway::proxy
