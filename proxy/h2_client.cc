// The HTTP/2 upstream side (protocol h2 or h2c), part one: the connections per backend that
// multiplex the exchanges as streams (opening, the session's input, GOAWAY, PING, idling,
// failure, closing). The streams are in h2_client_streams.cc, gRPC's part in grpc.cc. See
// proxy/h2_up.h.
#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>

#include "proxy/worker_impl.h"

namespace ringway::proxy {
namespace {

// A connection that carries no stream for this long is closed.
constexpr uint64_t kH2IdleMs = kPoolIdleMs;
// Streams one connection may carry, whatever the backend allows.
constexpr uint32_t kH2MaxStreams = 1000;
// Connections per backend per worker at most; past it, streams wait for room.
constexpr size_t kH2MaxConns = 16;

}  // namespace

// ---- The session's events ---------------------------------------------------------------------

void UpHandler::OnResponse(uint32_t id, const h2::ResponseHead& head, bool end_stream) {
  w_->H2UpResponse(u_, id, head, end_stream);
}
void UpHandler::OnData(uint32_t id, std::string_view data, bool end_stream) {
  w_->H2UpData(u_, id, data, end_stream);
}
void UpHandler::OnTrailers(uint32_t id, std::span<const hpack::HeaderField> fields) {
  w_->H2UpTrailers(u_, id, fields);
}
void UpHandler::OnStreamClosed(uint32_t id, h2::ErrorCode code, bool by_peer) {
  w_->H2UpStreamClosed(u_, id, code, by_peer);
}
void UpHandler::OnSendWindow(uint32_t id) { w_->H2UpSendWindow(u_, id); }
void UpHandler::OnGoaway(uint32_t last_stream_id, h2::ErrorCode code, std::string_view debug) {
  w_->H2UpGoaway(u_, last_stream_id, code, debug);
}

// ---- Connections --------------------------------------------------------------------------

bool WorkerImpl::H2Upstream(const Routing* rt, uint32_t upstream) {
  return rt->snap->config.upstreams[upstream].protocol != config::UpstreamProtocol::kHttp1;
}

h2::SessionLimits WorkerImpl::MakeH2UpLimits() const {
  h2::SessionLimits l;
  // What one stream's response may have in flight before the client side takes it, and all
  // the streams of the connection together.
  l.initial_stream_window = 256 * 1024;
  l.connection_window = 4 * 1024 * 1024;
  l.max_header_list_size = cfg_->limits.max_header_size;
  l.settings_timeout_ms = 10'000;
  return l;
}

// A connection to `backend` with room for one more stream: the open one with the most streams
// that is not full (so idle ones can time out), else a new one, else (kH2MaxConns open) the
// least loaded.
UpstreamConn* WorkerImpl::H2UpConn(Routing* rt, uint32_t backend) {
  Pool& pool = rt->pools[backend];
  UpstreamConn* best = nullptr;
  UpstreamConn* least = nullptr;
  for (UpstreamConn* u : pool.h2) {
    H2UpState* h = u->h2.get();
    if (u->closing || h->draining || h->session.failed()) continue;
    uint32_t limit = kH2MaxStreams;
    if (h->session.got_peer_settings()) {
      limit = std::min(limit, h->session.peer_settings().max_concurrent_streams);
    } else {
      limit = std::min<uint32_t>(limit, 100);  // until the backend says (RFC 9113 6.5.2)
    }
    if (h->reserved < limit && (!best || h->reserved > best->h2->reserved)) best = u;
    if (!least || h->reserved < least->h2->reserved) least = u;
  }
  if (best) return best;
  if (pool.h2.size() >= kH2MaxConns && least) return least;
  return H2UpOpen(rt, backend);
}

UpstreamConn* WorkerImpl::H2UpOpen(Routing* rt, uint32_t backend) {
  UpstreamConn* u = NewUpstreamConn(rt, backend, ConnKind::kH2Client);
  if (u == nullptr) return nullptr;
  u->state = UpState::kConnecting;
  const uint32_t upstream = rt->snap->backend_upstream[backend];
  u->h2 = std::make_unique<H2UpState>(this, u, h2_up_limits_, now_ms_);
  u->h2->idle_ms = now_ms_;
  u->h2->rx_ms = now_ms_;
  rt->pools[backend].h2.push_back(u);
  h2_up_conns_.push_back(u);
  if (metrics_on_) USeries(rt, upstream).h2_conns_opened.Add();
  return u;
}

// TCP is up and, with TLS, the handshake done (ALPN agreed on h2): the preface goes out; the
// streams open once the backend's SETTINGS arrive.
void WorkerImpl::H2UpConnected(UpstreamConn* u) {
  if (u->tls && u->tls->alpn() != "h2") {
    RW_LOG(LogLevel::kWarn, "upstream %s: the backend did not agree on h2 by ALPN", BackendName(u));
    H2UpConnFailed(u, 502, "no h2 by ALPN");
    return;
  }
  u->connected = true;
  u->state = UpState::kDone;
  if (metrics_on_ && u->connect_ns) {
    USeries(u->rt.get(), u->rt->snap->backend_upstream[u->backend])
        .connect.Observe((now_ns_ - u->connect_ns) / 1000);
  }
  ArmTimer(u, kTimerH2Up);
  u->h2->rx_ms = now_ms_;
  H2UpFlush(u);
  ArmRecv(u);
}

void WorkerImpl::H2UpFlush(UpstreamConn* u) {
  H2UpState* h = u->h2.get();
  if (h->session.output().empty() || u->closing) return;
  std::string* s = AcquireString();
  h->session.TakeOutput(s);
  QueueOwned(u, s);
}

void WorkerImpl::H2UpInput(UpstreamConn* u, char* p, size_t n, int32_t bid) {
  H2UpState* h = u->h2.get();
  h->rx_ms = now_ms_;
  h->feed_base = p;
  h->feed_len = n;
  h->feed_bid = bid;
  h2::FeedResult r = h->session.Tick(now_ms_);
  if (r.ok) r = h->session.Feed(std::string_view(p, n));
  h->feed_bid = -1;
  if (bid >= 0) ring_.Return(static_cast<uint16_t>(bid));  // pieces hold their own references
  if (!r.ok) {
    RW_LOG(LogLevel::kWarn, "upstream %s: HTTP/2 connection error %.*s: %s", BackendName(u),
           static_cast<int>(h2::ErrorCodeName(r.error).size()), h2::ErrorCodeName(r.error).data(),
           r.detail);
    H2UpFlush(u);  // the GOAWAY
    H2UpConnFailed(u, 502, r.detail);
    return;
  }
  if (!h->ready && h->session.got_peer_settings()) h->ready = true;
  H2UpAfterEvents(u);
}

// After the session did something: waiting streams open if there is room, output is queued,
// and a connection with nothing left to do (draining, or idle past its time) closes.
void WorkerImpl::H2UpAfterEvents(UpstreamConn* u) {
  if (u->closing) return;
  H2UpState* h = u->h2.get();
  if (h->ready && !h->waiting.empty() && !h->opening) H2UpOpenWaiting(u);
  H2UpFlush(u);
  if (h->session.peer_sent_goaway()) h->draining = true;
  if (h->streams.empty() && h->waiting.empty()) {
    if (h->reserved == 0 && h->idle_ms == 0) h->idle_ms = now_ms_;
    if (h->draining || h->session.finished()) H2UpClose(u);
  }
}

void WorkerImpl::H2UpOpenWaiting(UpstreamConn* u) {
  H2UpState* h = u->h2.get();
  h->opening = true;  // (what opening a stream sets off does not come back in here)
  size_t i = 0;
  while (i < h->waiting.size() && h->session.OpenableStreams() > 0) {
    UpStream* us = h->waiting[i++];
    us->counted = false;
    H2UpOpenStream(us);
  }
  h->waiting.erase(h->waiting.begin(), h->waiting.begin() + static_cast<std::ptrdiff_t>(i));
  h->opening = false;
  if (h->waiting.empty() || !h->session.peer_sent_goaway()) return;
  // GOAWAY: those still waiting go elsewhere.
  std::vector<UpStream*> moved;
  moved.swap(h->waiting);
  for (UpStream* us : moved) {
    us->counted = false;
    H2UpRefused(us, 502, /*same_backend=*/true);
  }
}

// Closes an HTTP/2 connection that carries nothing (GOAWAY NO_ERROR first).
void WorkerImpl::H2UpClose(UpstreamConn* u) {
  if (u->closing) return;
  H2UpState* h = u->h2.get();
  if (!h->session.failed()) h->session.Shutdown();
  H2UpFlush(u);
  CloseConn(u);
}

// The connection failed (connect, TLS, a connection error, a dead peer): every stream on it
// fails; those the backend never processed (not sent, or a connect that failed) are retried.
void WorkerImpl::H2UpConnFailed(UpstreamConn* u, uint16_t status, const char* why) {
  if (u->closing) return;
  H2UpState* h = u->h2.get();
  const Routing* rt = u->rt.get();
  const config::PassiveHealth& ph = UpstreamOf(rt, u->backend).passive;
  if (!u->connected) {
    if (metrics_on_) USeries(rt, rt->snap->backend_upstream[u->backend]).connect_failures.Add();
    if (ph.on_connect_failure) PassiveFailure(rt, u->backend, why);
  } else if (ph.on_reset && !h->streams.empty()) {
    PassiveFailure(rt, u->backend, why);
  }
  std::vector<UpStream*> list;
  list.swap(h->waiting);
  for (auto& [id, us] : h->streams) list.push_back(us);
  h->streams.clear();
  const bool connected = u->connected;
  CloseConn(u);
  for (UpStream* us : list) {
    us->counted = false;
    us->id = 0;
    if (!connected) {
      H2UpRefused(us, status, /*same_backend=*/false);
    } else {
      H2UpFail(us, status, "connection_failed");
    }
  }
}

void WorkerImpl::H2UpEof(UpstreamConn* u, int res) {
  if (res < 0) RW_LOG(LogLevel::kWarn, "upstream %s: %s", BackendName(u), strerror(-res));
  H2UpState* h = u->h2.get();
  if (h->streams.empty() && h->waiting.empty()) {
    CloseConn(u);
    return;
  }
  H2UpConnFailed(u, 502, res < 0 ? "connection broke" : "connection closed");
}

// Every 100 ms while the connection lives: the session's own timers, the streams' deadlines,
// liveness PINGs, and closing when idle (or no longer in the current snapshot's pool).
void WorkerImpl::H2UpTick(UpstreamConn* u) {
  H2UpState* h = u->h2.get();
  h2::FeedResult r = h->session.Tick(now_ms_);
  if (!r.ok) {
    H2UpFlush(u);
    H2UpConnFailed(u, 502, r.detail);
    return;
  }
  // Liveness (keepalive_ping): a PING after `interval` without a byte from the backend; a
  // connection whose PING is not answered within `timeout` is dead: its streams fail (and are
  // retried when they can be).
  const config::Upstream& up = UpstreamOf(u->rt.get(), u->backend);
  if (h->session.ping_outstanding() && now_ms_ - h->ping_ms >= up.ping_timeout_ms) {
    RW_LOG(LogLevel::kWarn, "upstream %s: PING not answered in %u ms; connection dropped",
           BackendName(u), up.ping_timeout_ms);
    H2UpConnFailed(u, 502, "PING not answered");
    return;
  }
  if (!h->session.ping_outstanding() && now_ms_ - h->rx_ms >= up.ping_interval_ms &&
      h->session.SendPing()) {
    h->ping_ms = now_ms_;
  }
  if (h->streams.empty() && h->waiting.empty()) {
    if (h->idle_ms == 0) h->idle_ms = now_ms_;
    if (now_ms_ - h->idle_ms >= kH2IdleMs || draining_ || !u->rt->current || h->draining) {
      H2UpClose(u);
      return;
    }
  } else {
    std::vector<UpStream*> late;
    for (auto& [id, us] : h->streams) {
      // (A stream held back because its client is slow is not the backend's delay.)
      if ((us->grpc_deadline_ms && now_ms_ >= us->grpc_deadline_ms) ||
          (us->deadline_ms && now_ms_ >= us->deadline_ms && !us->throttled)) {
        late.push_back(us);
      }
    }
    // Streams still waiting for room on the connection (all its slots taken, or the backend's
    // SETTINGS not in yet) have the same deadlines.
    for (UpStream* us : h->waiting) {
      if ((us->grpc_deadline_ms && now_ms_ >= us->grpc_deadline_ms) ||
          (us->deadline_ms && now_ms_ >= us->deadline_ms)) {
        late.push_back(us);
      }
    }
    // (No waiting stream opens meanwhile: one in `late` must not be freed under the loop.)
    h->opening = true;
    for (UpStream* us : late) {
      if (us->ex == nullptr) continue;
      const bool grpc = us->grpc_deadline_ms && now_ms_ >= us->grpc_deadline_ms;
      RW_LOG(LogLevel::kWarn, "upstream %s: stream %u: %s", BackendName(u), us->id,
             grpc ? "grpc-timeout reached" : "response timed out");
      if (!grpc && Counts(UpstreamOf(u->rt.get(), u->backend).passive, 504)) {
        PassiveFailure(u->rt.get(), u->backend, "response timeout");
      }
      H2UpFail(us, 504, "timeout");
    }
    h->opening = false;
  }
  H2UpAfterEvents(u);
  if (!u->closing) ArmTimer(u, kTimerH2Up);
}

// The connection's queue drained: the streams' request bodies move on.
void WorkerImpl::H2UpDrained(UpstreamConn* u) {
  if (u->closing) return;
  std::vector<UpStream*> list;
  for (auto& [id, us] : u->h2->streams) {
    if (!us->body.empty() || (us->req_end && !us->end_sent)) list.push_back(us);
  }
  for (UpStream* us : list) {
    if (Backlogged(u)) break;
    H2UpPumpBody(us);
  }
  H2UpFlush(u);
}

void WorkerImpl::H2UpGoaway(UpstreamConn* u, uint32_t last_stream_id, h2::ErrorCode code,
                            std::string_view debug) {
  RW_LOG(LogLevel::kInfo, "upstream %s: GOAWAY %.*s (last stream %u)%s%.*s", BackendName(u),
         static_cast<int>(h2::ErrorCodeName(code).size()), h2::ErrorCodeName(code).data(),
         last_stream_id, debug.empty() ? "" : ": ", static_cast<int>(debug.size()), debug.data());
  u->h2->draining = true;
}

// The connection is closing: streams still on it (none, normally) are let go.
void WorkerImpl::H2UpClosed(UpstreamConn* u) {
  H2UpState* h = u->h2.get();
  Pool& pool = u->rt->pools[u->backend];
  auto it = std::find(pool.h2.begin(), pool.h2.end(), u);
  if (it != pool.h2.end()) pool.h2.erase(it);
  auto all = std::find(h2_up_conns_.begin(), h2_up_conns_.end(), u);
  if (all != h2_up_conns_.end()) h2_up_conns_.erase(all);
  if (metrics_on_)
    USeries(u->rt.get(), u->rt->snap->backend_upstream[u->backend]).h2_conns_closed.Add();
  std::vector<UpStream*> list;
  list.swap(h->waiting);
  for (auto& [id, us] : h->streams) list.push_back(us);
  h->streams.clear();
  for (UpStream* us : list) {
    us->counted = false;
    us->id = 0;
    if (us->ex) {
      Exchange* ex = us->ex;
      H2UpEndAttempt(us, AttemptEnd::kCancel);
      ex->ups = nullptr;
      us->ex = nullptr;
      if (!ex->client->closing) {
        if (us->head_done) {
          ClientAbort(ex);
        } else {
          ClientFail(ex, 502);
        }
      }
    }
    H2UpDelete(us);
  }
  h->reserved = 0;
}

// The worker stops: every HTTP/2 backend connection closes (its clients are gone by now).
void WorkerImpl::CloseH2Pools() {
  std::vector<UpstreamConn*> conns = h2_up_conns_;
  for (UpstreamConn* u : conns) H2UpClose(u);
}

}  // namespace ringway::proxy
