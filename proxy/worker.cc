// The worker's loop: one submit-and-wait per turn, completions dispatched on the operation in
// their user_data, timers, accepts, shutdown, and the freeing of closed connections.
#include "proxy/worker_impl.h"

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ringway::proxy {

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
  metrics::SeriesRegistry& reg = metrics::Registry();
  for (const auto& l : config.listeners) {
    listener_series.push_back(reg.Id(metrics::Kind::kListener, l.name));
  }
  for (const auto& u : config.upstreams) {
    upstream_series.push_back(reg.Id(metrics::Kind::kUpstream, u.name));
  }
  constexpr char kSep = '\x1f';
  for (const auto& srv : config.servers) {
    server_series.push_back(reg.Id(metrics::Kind::kRoute, absl::StrCat(srv.name, "\x1f-")));
    std::vector<std::pair<uint32_t, uint32_t>> ids;
    auto add = [&](uint32_t up) {
      for (const auto& [u, id] : ids) {
        if (u == up) return;
      }
      ids.emplace_back(
          up, reg.Id(metrics::Kind::kRoute,
                     absl::StrCat(srv.name, std::string(1, kSep), config.upstreams[up].name)));
    };
    if (!config.upstreams.empty()) add(srv.upstream);
    for (const auto& r : srv.routes) add(r.upstream);
    route_series.push_back(std::move(ids));
  }
  unrouted_series = reg.Id(metrics::Kind::kRoute, "-\x1f-");
  for (uint32_t b = 0; b < backend_count; ++b) {
    backend_series.push_back(reg.Id(metrics::Kind::kBackend, BackendKey(b)));
  }
}

std::string Snapshot::BackendKey(uint32_t backend) const {
  return absl::StrCat(config.upstreams[backend_upstream[backend]].name, "\x1f",
                      backends[backend]->address.text);
}

int Snapshot::FindBackend(const std::string& key) const {
  for (uint32_t b = 0; b < backend_count; ++b) {
    if (BackendKey(b) == key) return static_cast<int>(b);
  }
  return -1;
}

uint32_t Snapshot::RouteSeries(int32_t server, int32_t upstream) const {
  if (server < 0) return unrouted_series;
  const size_t s = static_cast<size_t>(server);
  if (upstream >= 0) {
    for (const auto& [u, id] : route_series[s]) {
      if (u == static_cast<uint32_t>(upstream)) return id;
    }
  }
  return server_series[s];
}

// By identity (upstream name and address) first; a backend new to its upstream (a tag's
// upstream made by a switch, say) takes the state of the same address elsewhere, since health
// is the machine's.
void Snapshot::CarryHealth(const Snapshot& old) {
  absl::flat_hash_map<std::string, uint32_t> by_key, by_address;
  for (uint32_t b = 0; b < old.backend_count; ++b) {
    by_key.emplace(old.BackendKey(b), b);
    by_address.emplace(old.backends[b]->address.text, b);
  }
  for (uint32_t b = 0; b < backend_count; ++b) {
    if (auto it = by_key.find(BackendKey(b)); it != by_key.end()) {
      health->CarryFrom(*old.health, it->second, b);
    } else if (auto at = by_address.find(backends[b]->address.text); at != by_address.end()) {
      health->CarryFrom(*old.health, at->second, b);
    }
  }
}

bool SameListener(const config::Listener& a, const config::Listener& b) {
  return a.name == b.name && a.bind.text == b.bind.text;
}

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
  high_water_ = 8ull * snap->config.buffers.size;
  UseSnapshot(std::move(snap));
  for (ListenerSlot* l : listeners_) l->series = snap_->listener_series[l->index];
}

// HTTP/2 streams' deadlines are checked this often: a quarter of the shorter one, within
// 50 ms .. 1 s.
uint64_t WorkerImpl::H2TickMs(const config::Timeouts& t) {
  return std::clamp<uint32_t>(std::min(t.client_body_ms, t.client_send_ms) / 4, 50, 1000);
}

// Makes `snap` the one new requests use: a Routing for it, the settings derived from it, and
// (with a Routing before it) what carries over: balancer state of unchanged upstreams, idle
// pooled connections of unchanged backends, the durations of the timers.
void WorkerImpl::UseSnapshot(std::shared_ptr<const Snapshot> snap) {
  auto* rt = new Routing;
  rt->snap = std::move(snap);
  const Snapshot& sn = *rt->snap;
  const config::Config& cfg = sn.config;
  rt->pools.resize(sn.backend_count);
  rt->ups.resize(cfg.upstreams.size());
  absl::flat_hash_map<std::string, uint32_t> before;  // the current Routing's upstreams by name
  if (rt_) {
    for (uint32_t i = 0; i < rt_->snap->config.upstreams.size(); ++i) {
      before.emplace(rt_->snap->config.upstreams[i].name, i);
    }
  }
  for (size_t i = 0; i < cfg.upstreams.size(); ++i) {
    const config::Upstream& u = cfg.upstreams[i];
    UpstreamRuntime& r = rt->ups[i];
    std::vector<std::string_view> ids;
    for (const auto& b : u.backends) {
      r.weights.push_back(b.weight * WeightScale(u));
      ids.push_back(b.address.text);
      r.tokens.push_back(balance::StickyToken(b.address.text));
    }
    const UpstreamRuntime* was = nullptr;
    const config::Upstream* was_cfg = nullptr;
    if (auto it = before.find(u.name); it != before.end()) {
      was = &rt_->ups[it->second];
      was_cfg = &rt_->snap->config.upstreams[it->second];
    }
    if (was && was->balancer && SameBalancing(*was_cfg, u)) {
      r.balancer = was->balancer;
      r.weights = was->weights;
      r.next_ramp_ms = was->next_ramp_ms;
    } else if (!u.backends.empty()) {  // (an upstream of a tag no backend carries has none)
      r.balancer = balance::MakeBalancer(ToAlgorithm(u.algorithm), r.weights,
                                         0x5EED0000ull + index_ * 7919ull + i, ids);
    }
    r.latency = u.algorithm == config::Algorithm::kP2cEwma;
    if (was && was_cfg->retry.budget_percent == u.retry.budget_percent &&
        was_cfg->retry.min_retries == u.retry.min_retries) {
      r.budget = was->budget;
    } else {
      r.budget =
          std::make_shared<balance::RetryBudget>(u.retry.budget_percent, u.retry.min_retries);
    }
    metrics_->upstreams.Ensure(sn.upstream_series[i]);
  }
  for (uint32_t id : sn.listener_series) metrics_->listeners.Ensure(id);
  for (uint32_t id : sn.server_series) metrics_->routes.Ensure(id);
  for (const auto& ids : sn.route_series) {
    for (const auto& [u, id] : ids) metrics_->routes.Ensure(id);
  }
  metrics_->routes.Ensure(sn.unrouted_series);
  for (uint32_t id : sn.backend_series) metrics_->backends.Ensure(id);
  if (!rt_) metrics_on_ = cfg.metrics;  // (fixed at start: counts must pair up)

  Routing* old = rt_;
  rt_ = rt;
  snap_ = rt->snap.get();
  cfg_ = &snap_->config;
  if (old) {
    // Idle connections to backends that are still there move over; the rest close.
    absl::flat_hash_map<std::string, uint32_t> keep;
    for (uint32_t b = 0; b < sn.backend_count; ++b) keep.emplace(sn.BackendKey(b), b);
    const Snapshot& os = *old->snap;
    for (uint32_t b = 0; b < os.backend_count; ++b) {
      auto it = keep.find(os.BackendKey(b));
      const bool same_tls =
          it != keep.end() && UpstreamTlsKey(os, b) == UpstreamTlsKey(sn, it->second);
      while (UpstreamConn* u = old->pools[b].head) {
        PoolRemove(u);
        if (same_tls) {
          u->rt.Set(rt_);
          u->backend = it->second;
          PoolPut(u);
        } else {
          CloseConn(u);
        }
      }
    }
    old->current = false;
    if (old->refs == 0) delete old;
    // Timers: new durations apply from now; what is armed keeps its deadline unless the new
    // duration ends sooner.
    const auto& t = cfg.timeouts;
    const uint64_t durations[] = {0,
                                  t.client_header_ms,
                                  t.keepalive_ms,
                                  t.client_body_ms,
                                  t.upstream_connect_ms,
                                  t.upstream_response_ms,
                                  kLingerMs,
                                  kPoolIdleMs,
                                  t.client_send_ms,
                                  t.tunnel_ms,
                                  H2TickMs(t),
                                  kDrainIdleMs};
    for (size_t k = 1; k < timers_.size(); ++k) timers_[k]->SetDuration(durations[k], now_ms_);
    tls_gen_ = UINT64_MAX;  // fetch the new snapshot's contexts
  }
  limits_.max_request_line = cfg.limits.max_request_line;
  limits_.max_head = cfg.limits.max_header_size;
  limits_.max_fields = cfg.limits.max_headers;
  resp_limits_ = limits_;
  resp_limits_.max_fields = std::max<size_t>(256, limits_.max_fields);
  resp_limits_.max_request_line = limits_.max_head;
  fields_.resize(std::max<size_t>(limits_.max_fields, resp_limits_.max_fields) + 1);
  h2_limits_ = MakeH2Limits();
  access_fd_ = snap_->access_log_fd;
}

// Whether an upstream's balancer can go on from one snapshot to the next: the same backends in
// the same order with the same weights, and the same way of picking.
bool WorkerImpl::SameBalancing(const config::Upstream& a, const config::Upstream& b) {
  if (a.algorithm != b.algorithm || a.hash_key.source != b.hash_key.source ||
      a.hash_key.name != b.hash_key.name || a.slow_start_ms != b.slow_start_ms ||
      a.backends.size() != b.backends.size()) {
    return false;
  }
  for (size_t i = 0; i < a.backends.size(); ++i) {
    if (a.backends[i].address.text != b.backends[i].address.text ||
        a.backends[i].weight != b.backends[i].weight) {
      return false;
    }
  }
  return true;
}

// What decides whether a pooled connection to a backend can serve the new snapshot too: the
// upstream's TLS settings.
std::string WorkerImpl::UpstreamTlsKey(const Snapshot& s, uint32_t backend) {
  const config::UpstreamTls& t = s.config.upstreams[s.backend_upstream[backend]].tls;
  if (!t.enabled) return "plain";
  return absl::StrCat("tls\x1f", t.verify, "\x1f", t.ca, "\x1f", t.server_name);
}

WorkerImpl::~WorkerImpl() {
  for (auto* l : listeners_) {
    if (!l->closed && l->fd >= 0) close(l->fd);
    delete l;
  }
  for (auto* t : timers_) delete t;
  if (wake_fd_ >= 0) close(wake_fd_);
  for (auto* s : string_pool_) delete s;
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
  absl::Status st = ring_.Init(sq, cfg_->buffers.count, cfg_->buffers.size);
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

void WorkerImpl::Adopt(std::shared_ptr<const Snapshot> snap, std::vector<int> fds) {
  {
    std::lock_guard<std::mutex> l(adopt_mu_);
    for (int fd : adopt_fds_) {  // a snapshot not taken yet is replaced: its new sockets go
      if (fd >= 0) close(fd);
    }
    adopt_snap_ = std::move(snap);
    adopt_fds_ = std::move(fds);
  }
  uint64_t one = 1;
  ssize_t w = write(wake_fd_, &one, sizeof(one));
  (void)w;
}

// Listeners after a reload: kept ones are renumbered, new ones armed, removed ones stop
// accepting (their sockets close once the accept is cancelled) and their connections are told
// to finish: idle ones close now, busy ones after their response, HTTP/2 ones get GOAWAY.
void WorkerImpl::AdoptListeners(const std::vector<config::Listener>& before, std::vector<int> fds) {
  const auto& now = cfg_->listeners;
  std::vector<ListenerSlot*> slots(now.size(), nullptr);
  std::vector<ListenerSlot*> gone;
  for (ListenerSlot* l : listeners_) {
    if (l->removed) {
      gone.push_back(l);
      continue;
    }
    int keep = -1;
    for (size_t i = 0; i < now.size(); ++i) {
      if (fds[i] < 0 && !slots[i] && SameListener(before[l->index], now[i])) {
        keep = static_cast<int>(i);
        break;
      }
    }
    if (keep >= 0) {
      slots[static_cast<size_t>(keep)] = l;
      continue;
    }
    l->removed = true;
    gone.push_back(l);
    if (l->armed) {
      io_uring_sqe* sqe = ring_.GetSqe();
      io_uring_prep_cancel64(sqe, Tag(l, Op::kAccept), 0);
      io_uring_sqe_set_data64(sqe, Tag(nullptr, Op::kIgnore));
    } else if (!l->closed) {
      close(l->fd);
      l->closed = true;
    }
  }
  listeners_.clear();
  for (size_t i = 0; i < now.size(); ++i) {
    ListenerSlot* l = slots[i];
    if (!l) {
      l = new ListenerSlot;
      l->fd = fds[i];
      if (l->fd < 0) {  // (a listener the worker should have had: nothing to accept on)
        l->closed = true;
        l->removed = true;
      }
    } else if (fds[i] >= 0) {
      close(fds[i]);
    }
    l->index = static_cast<uint32_t>(i);
    l->series = snap_->listener_series[i];
    listeners_.push_back(l);
    ArmAccept(l);
  }
  // Removed slots stay listed until their accept is back, then go.
  for (ListenerSlot* l : gone) {
    if (l->armed) {
      listeners_.push_back(l);
    } else {
      if (!l->closed) close(l->fd);
      delete l;
    }
  }
  for (ClientConn* c : std::vector<ClientConn*>(clients_.begin(), clients_.end())) {
    if (c->closing || ClientRouting(c) == rt_) continue;
    if (c->h2) {
      H2Shutdown(c);
    } else {
      EndClient(c);
    }
  }
}

// An HTTP/1 connection that is to end: its next response says Connection: close; idle now, it
// closes if no request comes within kDrainIdleMs.
void WorkerImpl::EndClient(ClientConn* c) {
  c->ending = true;
  if (c->req == ReqState::kIdle && c->in.empty() && Idle(c)) ArmTimer(c, kTimerDrainIdle);
}

Routing* WorkerImpl::ClientRouting(ClientConn* c) {
  if (c->rt.get() == rt_) return rt_;
  const config::Listener& mine = c->rt->snap->config.listeners[c->listener];
  const auto& now = cfg_->listeners;
  for (size_t i = 0; i < now.size(); ++i) {
    if (SameListener(mine, now[i])) {
      c->listener = static_cast<uint32_t>(i);
      c->rt.Set(rt_);
      break;
    }
  }
  return c->rt.get();
}

uint64_t WorkerImpl::Run() {
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
    now_ns_ = NowNs();
    ReapCompletions();
    RunDeferred();
    ExpireTimers();
    if (draining_) {
      DrainH2();
      TickH2Sessions();  // the shutdown's second GOAWAY has a time bound
    }
    FlushSends();
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
    FreeClosed();
    FlushAccessLog();
  }
  // Drained: close the pool and wait (bounded) for the kernel to let go of everything.
  for (ClientConn* c : h2_draining_) --c->inflight;
  h2_draining_.clear();
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
  RW_LOG(LogLevel::kDebug, "worker %u: at most %u of %u provided buffers were lent at once", index_,
         ring_.peak_lent(), ring_.buffer_count());
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
      } else if (cc->ex.resp == RespState::kNone || cc->ex.resp == RespState::kWaiting) {
        RW_LOG(LogLevel::kDebug, "client %s: request timed out", cc->peer_ip);
        if (cc->req == ReqState::kHead) {
          cc->ex.log_method.assign("-");
          cc->ex.log_target.assign("-");
          cc->ex.start_ns = now_ns_;
        }
        if (cc->ex.up) AbortUpstream(cc->ex.up);
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
      if (cc->req == ReqState::kIdle && cc->in.empty() && Idle(cc) && !cc->sending) {
        CloseConn(cc);
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
  c->ex.client = c;
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
