// A request's life between its client and its backend: routing, the balancer's pick, tries
// and the retry budget, passive health, the access log line.
#include "proxy/worker_impl.h"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ringway::proxy {

void WorkerImpl::StartRequest(ClientConn* c, http1::RequestHead& req) {
  Exchange* ex = ClientEx(c);
  if (TimeRequests()) ex->start_ns = now_ns_;
  if (cfg_->logging.access_log) {  // the views die with the buffer; the log line comes later
    ex->log_method.assign(req.method);
    ex->log_target.assign(req.target.substr(0, 1024));
  }
  c->http10 = req.version_minor == 0;
  c->told_close = false;
  c->keep_alive = req.framing.keep_alive;
  ex->head_method = req.method == "HEAD";
  ex->upgrade = req.framing.upgrade;
  c->req_body = req.framing.body;
  ex->has_body = req.framing.body != BodyKind::kNone;
  c->req_left = req.framing.content_length;
  c->req_body_bytes = 0;
  c->req_chunked.Reset();
  ex->status = 0;
  ex->resp_bytes = 0;
  ex->backend = -1;
  ex->retried = false;
  ex->tries = 0;
  ex->idempotent = IsIdempotent(req.method);
  ex->grpc = IsGrpcRequest(req.fields);
  ex->grpc_status = -1;
  ex->outcome = {};
  ex->resp = RespState::kWaiting;
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
  ex->rt.Set(ClientRouting(c));
  if (!RouteExchange(ex, c->listener, c->tls != nullptr, req, host, path)) return;
  const uint32_t upstream = static_cast<uint32_t>(ex->upstream_index);
  if (cfg_->limits.max_body_size && c->req_body == BodyKind::kContentLength &&
      c->req_left > cfg_->limits.max_body_size) {
    if (ex->grpc) return GrpcFail(ex, 413);
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
          host.empty() ? std::string_view(ex->rt->snap->config.upstreams[upstream].name) : host;
      scratch_fields_.push_back({"Host", name});
    }
    req.fields = std::span<const http1::Field>(scratch_fields_.data(), scratch_fields_.size());
    if (req.framing.expect_continue && !c->http10 && c->req == ReqState::kBody) {
      c->sendq.Push({http1::kContinueResponse.data(),
                     static_cast<uint32_t>(http1::kContinueResponse.size()), -1, nullptr});
      Send(c);
    }
  }
  ex->up_head.clear();
  http1::WriteRequestHead(
      req,
      {.client_addr = c->peer_ip,
       .proto = c->tls ? "https" : "http",
       .pass_underscore_fields = c->rt->snap->config.listeners[c->listener].underscores_in_headers},
      &ex->up_head);
  PickAndConnect(ex);
}

// Routes an exchange, whatever protocol its request came in: the server by host (else 404),
// the redirect to https, the upstream by path, the try limit, the balancer's keys. False when
// the client was answered already.
bool WorkerImpl::RouteExchange(Exchange* ex, uint32_t listener, bool tls,
                               const http1::RequestHead& req, std::string_view host,
                               std::string_view path) {
  Routing* rt = ex->rt.get();
  const Snapshot& sn = *rt->snap;
  const int server = sn.router.FindServer(listener, host);
  ex->server = server;
  ex->upstream_index = -1;
  ex->route_series = sn.RouteSeries(server, -1);
  if (server < 0) {
    ClientFail(ex, 404);
    return false;
  }
  const config::Server& srv = sn.config.servers[static_cast<size_t>(server)];
  if (!tls && srv.redirect_https) {
    ClientRedirect(ex, req.method, host, req.origin, srv);
    return false;
  }
  uint32_t route_tries = 0;
  const uint32_t upstream = sn.router.FindUpstream(server, path, &route_tries);
  if (upstream >= sn.config.upstreams.size()) {  // (a config whose tags were not expanded)
    ClientFail(ex, 503);
    return false;
  }
  ex->upstream_index = static_cast<int32_t>(upstream);
  ex->route_series = sn.RouteSeries(server, ex->upstream_index);
  const config::Upstream& up = sn.config.upstreams[upstream];
  ex->max_tries = static_cast<uint8_t>(std::min<uint32_t>(
      kMaxTries, std::max<uint32_t>(1, route_tries ? route_tries : up.retry.tries)));
  KeyRequest(ex, up, req);
  rt->ups[upstream].budget->OnRequest(now_ms_ / 1000);
  return true;
}

void WorkerImpl::PickAndConnect(Exchange* ex) {
  const int pick = PickBackend(ex);
  if (pick < 0) {
    NoUsableBackend(ex);
    return;
  }
  ConnectUpstream(ex, pick, nullptr);
}

balance::Algorithm WorkerImpl::ToAlgorithm(config::Algorithm a) {
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
void WorkerImpl::KeyRequest(Exchange* ex, const config::Upstream& up,
                            const http1::RequestHead& req) {
  ex->has_hash = false;
  ex->sticky = -1;
  const bool hashing =
      up.algorithm == config::Algorithm::kMaglev || up.algorithm == config::Algorithm::kKetama;
  if (!hashing && !up.sticky.enabled) return;
  if (hashing) {
    std::string_view key;
    switch (up.hash_key.source) {
      case config::HashKey::Source::kClientIp:
        key = ex->client->peer_ip;
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
      ex->hash = balance::Hash64(key);
      ex->has_hash = true;
    }
  }
  if (up.sticky.enabled) {
    std::string_view token = FindRequestCookie(req, up.sticky.cookie);
    if (!token.empty()) {
      ex->sticky =
          balance::FindByToken(ex->rt->ups[static_cast<size_t>(ex->upstream_index)].tokens, token);
    }
  }
}

std::string_view WorkerImpl::FindRequestCookie(const http1::RequestHead& req,
                                               std::string_view name) {
  for (const auto& f : req.fields) {
    if (!http1::EqualsIgnoreCase(f.name, "cookie")) continue;
    std::string_view v = balance::FindCookie(f.value, name);
    if (!v.empty()) return v;
  }
  return {};
}

// A backend index within the request's upstream, or -1: the sticky backend if it is usable,
// else the balancer's pick among usable backends this request has not tried yet.
int WorkerImpl::PickBackend(const Exchange* ex) {
  const uint32_t upstream = static_cast<uint32_t>(ex->upstream_index);
  Routing* rt = ex->rt.get();
  UpstreamRuntime& r = rt->ups[upstream];
  const uint32_t base = rt->snap->backend_base[upstream];
  const health::View& view = *rt->snap->health;
  auto untried = [&](uint32_t b) {
    for (uint32_t k = 0; k < ex->tries && k < kMaxTries; ++k) {
      if (ex->tried[k] == b) return false;
    }
    return true;
  };
  const config::Upstream& up = rt->snap->config.upstreams[upstream];
  if (up.backends.empty()) return -1;  // (a tag no backend carries yet)
  // Backends in drain or maint take no new request.
  auto ready = [&](size_t i) { return up.backends[i].state == config::BackendState::kReady; };
  auto eligible = [&](size_t i) {
    const uint32_t b = base + static_cast<uint32_t>(i);
    return view.Usable(b) && untried(b) && ready(i);
  };
  if (ex->sticky >= 0 && static_cast<size_t>(ex->sticky) < up.backends.size() &&
      eligible(static_cast<size_t>(ex->sticky))) {
    return ex->sticky;
  }
  if (up.slow_start_ms && now_ms_ >= r.next_ramp_ms) RampWeights(rt, upstream);
  balance::PickInput in;
  in.hash = ex->hash;
  in.has_hash = ex->has_hash;
  in.now_ns = now_ms_ * 1'000'000;
  int pick = r.balancer->Pick(in, eligible);
  if (pick >= 0) return pick;
  // Passive health never takes a whole pool out on its own: when every backend the checks
  // call up is ejected (say, one bad path answered 503 on all of them), the ejected ones
  // still serve. 503 at once is for pools the checks find down.
  return r.balancer->Pick(in, [&](size_t i) {
    const uint32_t b = base + static_cast<uint32_t>(i);
    return (view.State(b) & health::View::kUp) && untried(b) && ready(i);
  });
}

// Slow start: a backend that came up (or was readmitted) less than slow_start ago gets a
// weight ramping up from a tenth of its own. Checked at most every 100 ms per upstream.
void WorkerImpl::RampWeights(Routing* rt, uint32_t upstream) {
  UpstreamRuntime& r = rt->ups[upstream];
  const config::Upstream& up = rt->snap->config.upstreams[upstream];
  r.next_ramp_ms = now_ms_ + 100;
  const uint32_t base = rt->snap->backend_base[upstream];
  for (size_t i = 0; i < up.backends.size(); ++i) {
    const uint64_t since = rt->snap->health->UpSinceMs(base + i);
    const uint64_t elapsed = since == 0 ? UINT64_MAX : (now_ms_ > since ? now_ms_ - since : 0);
    const uint32_t w = balance::SlowStartWeight(up.backends[i].weight * WeightScale(up), elapsed,
                                                up.slow_start_ms);
    if (w != r.weights[i]) {
      r.weights[i] = w;
      r.balancer->SetWeight(i, w);
    }
  }
}

void WorkerImpl::NoUsableBackend(Exchange* ex) {
  const uint32_t upstream = static_cast<uint32_t>(ex->upstream_index);
  UpstreamRuntime& r = ex->rt->ups[upstream];
  if (metrics_on_) USeries(ex->rt.get(), upstream).no_backend.Add();
  if (now_ms_ >= r.none_log_ms) {  // at most one line a second per worker and upstream
    r.none_log_ms = now_ms_ + 1000;
    RW_LOG(LogLevel::kWarn, "upstream '%s': no usable backend; answering 503",
           ex->rt->snap->config.upstreams[upstream].name.c_str());
  }
  ClientFail(ex, 503);
}

void WorkerImpl::WriteAccessLog(const Exchange* ex) {
  if (metrics_on_) CountExchange(ex);
  if (!cfg_->logging.access_log) return;
  AccessRecord rec;
  rec.client = ex->client->peer_ip;
  rec.method = ex->log_method;
  rec.target = ex->log_target;
  rec.status = ex->status;
  rec.bytes = ex->resp_bytes;
  rec.upstream =
      ex->backend >= 0
          ? std::string_view(BackendName(ex->rt.get(), static_cast<uint32_t>(ex->backend)))
          : std::string_view("-");
  rec.duration_us = (now_ns_ - ex->start_ns) / 1000;
  rec.tries = ex->tries ? ex->tries : 1;
  if (ex->upstream_index >= 0 && ex->rt) {
    switch (ex->rt->snap->config.upstreams[static_cast<size_t>(ex->upstream_index)].protocol) {
      case config::UpstreamProtocol::kH2:
        rec.upstream_proto = "h2";
        break;
      case config::UpstreamProtocol::kH2c:
        rec.upstream_proto = "h2c";
        break;
      case config::UpstreamProtocol::kHttp1:
        break;
    }
  }
  rec.outcome = ex->outcome;
  rec.grpc_status = ex->grpc_status;
  AppendAccessLog(rec, core::LogJson(), &access_buf_);
  if (access_buf_.size() > 64 * 1024) FlushAccessLog();
}

// Metrics of a finished exchange: its (server, upstream) series by status class and, for a
// request an upstream took, its duration.
void WorkerImpl::CountExchange(const Exchange* ex) {
  const uint32_t id = ex->route_series == kNoSeries ? snap_->unrouted_series : ex->route_series;
  metrics_->routes.At(id).requests[metrics::StatusClass(ex->status)].Add();
  if (ex->upstream_index >= 0 && ex->rt && ex->start_ns) {
    USeries(ex->rt.get(), static_cast<uint32_t>(ex->upstream_index))
        .duration.Observe((now_ns_ - ex->start_ns) / 1000);
  }
}

void WorkerImpl::FlushAccessLog() {
  if (access_buf_.empty()) return;
  ssize_t w = write(access_fd_, access_buf_.data(), access_buf_.size());
  (void)w;
  access_buf_.clear();
}

void WorkerImpl::EndAttempt(UpstreamConn* u, AttemptEnd how) {
  if (!u->lb_open) return;
  u->lb_open = false;
  EndAttemptOn(u->rt.get(), u->backend, u->ttfb_ns, how);
}

void WorkerImpl::EndAttemptOn(const Routing* rt, uint32_t backend, uint64_t ttfb_ns,
                              AttemptEnd how) {
  const Snapshot& sn = *rt->snap;
  if (metrics_on_) {
    metrics::BackendSeries& bs = metrics_->backends.At(sn.backend_series[backend]);
    bs.ended.Add();
    if (ttfb_ns) {
      bs.ttfb_us.Add(ttfb_ns / 1000);
      bs.answered.Add();
    }
  }
  const uint32_t upstream = sn.backend_upstream[backend];
  const UpstreamRuntime& r = rt->ups[upstream];
  if (how == AttemptEnd::kCancel || (how == AttemptEnd::kOk && ttfb_ns == 0 && r.latency)) {
    // No response head yet: the latency is unknown, not short.
    r.balancer->OnCancel(backend - sn.backend_base[upstream]);
    return;
  }
  const bool ok = how == AttemptEnd::kOk;
  uint64_t latency = 0;
  if (ok) latency = ttfb_ns ? ttfb_ns : 1;
  r.balancer->OnFinish(backend - sn.backend_base[upstream], latency,
                       r.latency ? now_ns_ : now_ms_ * 1'000'000);
}

// A backend's final response head: passive health learns from its status, and the attempt's
// time to it (balancers, metrics) is set in *ttfb_ns.
void WorkerImpl::ObserveResponseHead(const Routing* rt, uint32_t backend, uint16_t status,
                                     bool lb_open, uint64_t sent_ns, uint64_t* ttfb_ns) {
  const config::PassiveHealth& ph = UpstreamOf(rt, backend).passive;
  if (Counts(ph, status)) {
    char what[32];
    snprintf(what, sizeof(what), "status %u", status);
    PassiveFailure(rt, backend, what);
  } else {
    rt->snap->health->RecordSuccess(backend);
  }
  if (lb_open && sent_ns) {
    *ttfb_ns = std::max<uint64_t>(1, now_ns_ - sent_ns);
    if (metrics_on_) USeries(rt, rt->snap->backend_upstream[backend]).ttfb.Observe(*ttfb_ns / 1000);
  }
}

// Passive health: a failure seen on live traffic counts towards ejecting the backend.
void WorkerImpl::PassiveFailure(const Routing* rt, uint32_t backend, const char* what) {
  const config::Upstream& up = UpstreamOf(rt, backend);
  const config::PassiveHealth& ph = up.passive;
  if (ph.consecutive_failures == 0) return;
  uint64_t for_ms = 0;
  if (rt->snap->health->RecordFailure(backend, now_ms_, ph.consecutive_failures,
                                      ph.base_ejection_ms, ph.max_ejection_ms, &for_ms)) {
    RW_LOG(LogLevel::kWarn,
           "passive health: backend %s (upstream '%s') ejected for %llu ms after %u failures "
           "in a row (last: %s)",
           BackendName(rt, backend), up.name.c_str(), static_cast<unsigned long long>(for_ms),
           ph.consecutive_failures, what);
  }
}

// The upstream connection failed before the response ended. In order:
//  - a pooled connection that turned out stale (closed by the server while idle) before any
//    response byte, with nothing but the head of an idempotent request sent: once more on a
//    fresh connection;
//  - a connect that failed (nothing left ringway: any method, body included) or a connection
//    that broke before any response byte (idempotent methods without a body only): on
//    another usable backend, within the try limit and the upstream's retry budget;
//  - else `status` if no response byte has gone to the client, or cut the client.
void WorkerImpl::UpstreamFailed(UpstreamConn* u, uint16_t status) {
  if (u->kind == ConnKind::kH2Client) {
    H2UpConnFailed(u, status, u->tcp_connected ? "TLS handshake failed" : "connect failed");
    return;
  }
  Exchange* ex = u->ex;
  const uint32_t backend = u->backend;
  const bool connected = u->connected;
  const bool stale = status == 502 && u->reused && u->state == UpState::kHead && !u->got_bytes;
  const bool before_response =
      !u->got_bytes && (u->state == UpState::kConnecting || u->state == UpState::kHead);
  const Routing* rt = u->rt.get();  // (u is freed at the end of the turn, not before)
  const config::PassiveHealth& ph = UpstreamOf(rt, backend).passive;
  if (!connected) {
    if (ph.on_connect_failure)
      PassiveFailure(rt, backend, status == 504 ? "connect timeout" : "connect failed");
  } else if (!stale && status == 502 && ph.on_reset) {
    PassiveFailure(rt, backend, "connection broke before the response ended");
  } else if (status == 504 && Counts(ph, 504)) {
    PassiveFailure(rt, backend, "response timeout");  // a hung backend passes TCP checks
  }
  EndAttempt(u, stale ? AttemptEnd::kCancel : AttemptEnd::kFailed);
  // Bytes queued for a connection that never connected have not left: keep them.
  SendQueue carry;
  if (!connected && (!u->sending || u->tls)) std::swap(carry, u->sendq);
  u->ex = nullptr;
  if (u->pooled) PoolRemove(u);
  CloseConn(u);
  if (ex && !ex->client->closing) {
    ex->up = nullptr;
    RecoverOrFail(ex, backend, status, connected, stale, before_response, &carry);
  }
  carry.Clear([&](const SendPiece& p) { ReleasePiece(p); });
}

void WorkerImpl::RecoverOrFail(Exchange* ex, uint32_t backend, uint16_t status, bool connected,
                               bool stale, bool before_response, SendQueue* carry) {
  if (ex->resp != RespState::kWaiting) {
    // A response that failed in the loop turn its head arrived in (a malformed body in the
    // same read, say) has not reached the kernel yet: it is taken back and the client gets
    // a clean 502. Once part of it may have left, the truncation is made visible instead.
    if (!ClientTakeBack(ex)) {
      ClientAbort(ex);
      return;
    }
  }
  const uint32_t upstream = static_cast<uint32_t>(ex->upstream_index);
  // The keep-alive race (the backend closed the pooled connection as the request went out)
  // is retried once on a fresh connection, for idempotent requests only (RFC 9110 9.2.2):
  // the backend may have acted on the request before it closed.
  const Snapshot& sn = *ex->rt->snap;
  if (stale && !ex->retried && ex->idempotent && !ex->has_body && sn.health->Usable(backend)) {
    ex->retried = true;  // does not count against the try limit (see max_tries below)
    ConnectUpstream(ex, static_cast<int>(backend - sn.backend_base[upstream]), nullptr);
    return;
  }
  const bool retryable =
      !connected || (before_response && status == 502 && ex->idempotent && !ex->has_body);
  const uint32_t limit = ex->max_tries + (ex->retried ? 1u : 0u);
  if (retryable && ex->tries < limit) {
    int pick = PickBackend(ex);
    if (pick >= 0 && RetryAllowed(ex)) {
      RW_LOG(LogLevel::kDebug, "retry: %s to upstream '%s': %s failed; attempt %u of %u",
             ex->client->peer_ip, sn.config.upstreams[upstream].name.c_str(),
             BackendName(ex->rt.get(), backend), ex->tries + 1u,
             static_cast<unsigned>(ex->max_tries));
      ConnectUpstream(ex, pick, connected ? nullptr : carry);
      return;
    }
  }
  ClientFail(ex, status);
}

// The retry budget (balance/retry_budget.h): over the last ten seconds, retries may be at
// most budget_percent of requests, plus min_retries a second, so that retries cannot
// multiply the load on a pool that is failing.
bool WorkerImpl::RetryAllowed(const Exchange* ex) {
  const uint32_t upstream = static_cast<uint32_t>(ex->upstream_index);
  UpstreamRuntime& r = ex->rt->ups[upstream];
  if (r.budget->TryRetry(now_ms_ / 1000)) {
    if (metrics_on_) USeries(ex->rt.get(), upstream).retries.Add();
    return true;
  }
  if (metrics_on_) USeries(ex->rt.get(), upstream).budget_denied.Add();
  if (now_ms_ >= r.budget_log_ms) {
    r.budget_log_ms = now_ms_ + 1000;
    RW_LOG(LogLevel::kWarn, "upstream '%s': retry budget spent; failing without a retry",
           ex->rt->snap->config.upstreams[upstream].name.c_str());
  }
  return false;
}

}  // namespace ringway::proxy
