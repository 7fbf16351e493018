// Config snapshots on a worker: what a Snapshot holds beyond the config (indexes, metrics
// series, health carried from the one before), and how a worker takes a new one (Adopt): a
// Routing for it, what carries over from the one before (balancers, idle connections, timers),
// its listeners, and the connections of listeners it no longer has.
#include "proxy/worker_impl.h"

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"

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
  MarkUnresolvedDown();
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
  MarkUnresolvedDown();  // (a name that resolved before and not now is down all the same)
}

// A backend whose host name did not resolve has no address: down from the first request on,
// before the prober has started (it keeps it down; it comes back when a reload resolves it).
void Snapshot::MarkUnresolvedDown() {
  for (uint32_t b = 0; b < backend_count; ++b) {
    if (backends[b]->address.len == 0) health->SetUp(b, false, 0);
  }
}

bool SameListener(const config::Listener& a, const config::Listener& b) {
  return a.name == b.name && a.bind.text == b.bind.text;
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
  if (ring_.buffer_count() != 0) ring_.set_reserve(cfg_->buffers.reserve);  // (a reload)
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
          const uint64_t pooled_ms = u->pooled_ms;  // (its idle age goes on: kSafeReuseMs)
          u->rt.Set(rt_);
          u->backend = it->second;
          PoolPut(u);
          if (u->pooled) u->pooled_ms = pooled_ms;
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
                                  kDrainIdleMs,
                                  kH2UpTickMs};
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
  h2_up_limits_ = MakeH2UpLimits();
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

void WorkerImpl::Adopt(std::shared_ptr<const Snapshot> snap, std::vector<int> fds) {
  {
    std::lock_guard<std::mutex> l(adopt_mu_);
    // A snapshot not taken yet is replaced. Its new sockets serve this one where it has the
    // same listener (this one, built against it, counts that listener as kept: -1); the rest
    // close.
    if (adopt_snap_) {
      const auto& was = adopt_snap_->config.listeners;
      const auto& now = snap->config.listeners;
      for (size_t j = 0; j < adopt_fds_.size() && j < was.size(); ++j) {
        if (adopt_fds_[j] < 0) continue;
        for (size_t i = 0; i < now.size() && i < fds.size(); ++i) {
          if (fds[i] < 0 && SameListener(was[j], now[i])) {
            fds[i] = std::exchange(adopt_fds_[j], -1);
            break;
          }
        }
      }
    }
    for (int fd : adopt_fds_) {
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

}  // namespace ringway::proxy
