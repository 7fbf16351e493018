// The HTTP/1 upstream side: connecting (or taking a pooled connection), the request out, the
// response head and body in, the pool.
#include "proxy/worker_impl.h"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ringway::proxy {

// The client is not reading fast enough: stop reading the backend (its response timer stops,
// it is not the one stalling) and give the client client_send to catch up.
void WorkerImpl::ThrottleUpstream(UpstreamConn* u) {
  PauseRecv(u);
  if (u->state != UpState::kTunnel) DisarmTimer(u);
}

// The client caught up: read the backend again.
void WorkerImpl::UnthrottleUpstream(UpstreamConn* u) {
  if (!u->recv_paused) return;
  ResumeRecv(u);
  if (u->recv_paused || u->closing) return;  // (an HTTP/2 stream's budget still has no room)
  if (u->state == UpState::kBody || u->state == UpState::kHead) ArmTimer(u, kTimerResponse);
}

// The upstream connection's queue is empty. In a tunnel whose client half-closed, the
// backend now gets the FIN too.
void WorkerImpl::UpstreamDrained(UpstreamConn* u) {
  if (!u->ex || u->state != UpState::kTunnel || u->sending) return;
  if (u->tls) return;  // (a TLS backend keeps its tunnel until it or the idle timer ends it)
  const bool ended = u->ex->stream ? u->ex->stream->req_done : u->ex->client->read_eof;
  if (ended) shutdown(u->fd, SHUT_WR);
}

// Sends the request to backend `pick` of its upstream. `carry`, on a retry after a failed
// connect, holds the bytes queued for the failed attempt (head and any body so far): none of
// them left, so they go to the new connection as they are.
void WorkerImpl::ConnectUpstream(Exchange* ex, int pick, SendQueue* carry) {
  uint32_t upstream = static_cast<uint32_t>(ex->upstream_index);
  Routing* rt = ex->rt.get();
  uint32_t backend = rt->snap->backend_base[upstream] + static_cast<uint32_t>(pick);
  ex->backend = static_cast<int32_t>(backend);
  if (ex->tries < kMaxTries) ex->tried[ex->tries] = backend;
  ++ex->tries;
  if (H2Upstream(rt, upstream)) {
    H2UpStart(ex, backend, carry);
    return;
  }
  // A retry after a stale pooled connection always opens a fresh one.
  UpstreamConn* u =
      ex->retried ? nullptr : TakePooled(rt, backend, ex->idempotent && !ex->has_body);
  if (!u) {
    u = NewUpstreamConn(rt, backend, ConnKind::kH1Client);
    if (!u) {
      ClientFail(ex, 502);
      return;
    }
  } else {
    u->reused = true;
    ArmTimer(u, kTimerResponse);
    // Its receive was sized for an empty queue; this client's may not be (pipelining): size
    // it again (the cancellation's completion re-arms it).
    // An HTTP/2 stream takes that receive over as its grant when its budget has room for it.
    if (u->recv_armed &&
        (ex->stream ? !H2AdoptRecv(ex->stream, u->recv_limit)
                    : ClientCharged(ex) > 0 && u->recv_limit > ring_.buffer_size())) {
      io_uring_sqe* sqe = ring_.GetSqe();
      io_uring_prep_cancel64(sqe, Tag(u, Op::kRecv), 0);
      io_uring_sqe_set_data64(sqe, Tag(nullptr, Op::kIgnore));
    }
  }
  u->ex = ex;
  ex->up = u;
  u->state = u->connected ? UpState::kHead : UpState::kConnecting;
  u->keep_alive = true;
  u->dechunk = false;
  u->got_bytes = false;
  u->interim = 0;
  u->in.clear();
  UpstreamRuntime& r = rt->ups[upstream];
  u->lb_open = true;
  if (metrics_on_) metrics_->backends.At(rt->snap->backend_series[backend]).started.Add();
  u->ttfb_ns = 0;
  if (r.latency || metrics_on_) u->sent_ns = now_ns_;
  r.balancer->OnStart(static_cast<size_t>(pick));
  if (carry) {
    std::swap(u->sendq, *carry);
    Send(u);
    return;
  }
  // The send owns a copy: ex->up_head is rewritten by the next exchange, possibly while this
  // connection is still being torn down with the send in the kernel's hands.
  std::string* head = AcquireString();
  head->assign(ex->up_head);
  QueueOwned(u, head);
}

// A new connection to `backend` (global index) of kind `kind`, its connect submitted under the
// connect timer, with a TLS session when the upstream speaks TLS; null (logged) when no socket
// can be had. A backend whose host name did not resolve (address len 0) gets a no-op in place
// of the connect, which OnConnect takes as a failed connect: 502, a retry elsewhere, passive
// health, as for a backend that refuses.
UpstreamConn* WorkerImpl::NewUpstreamConn(Routing* rt, uint32_t backend, ConnKind kind) {
  const config::Backend& b = *rt->snap->backends[backend];
  const bool unresolved = b.address.len == 0;
  absl::StatusOr<int> fd = core::NewTcpSocket(unresolved ? AF_INET : b.address.storage.ss_family);
  if (!fd.ok()) {
    RW_LOG(LogLevel::kError, "upstream %s: %s", BackendName(rt, backend),
           std::string(fd.status().message()).c_str());
    return nullptr;
  }
  auto* u = new UpstreamConn;
  u->kind = kind;
  u->upstream = true;
  u->fd = *fd;
  u->rt.Set(rt);
  u->backend = backend;
  u->connect_ns = metrics_on_ ? now_ns_ : 0;
  const uint32_t upstream = rt->snap->backend_upstream[backend];
  if (const tls::ContextSet* set = rt == rt_ ? TlsContexts() : rt->snap->tls->Current().get();
      set && upstream < set->upstreams.size() && set->upstreams[upstream]) {
    u->tls = std::make_unique<tls::Session>(*set->upstreams[upstream]);
  }
  // Its first head is read alone too (as after a spliced response): a fresh connection's
  // multishot receive would otherwise take the first large body into buffers before the head
  // is seen, several buffers per connection at once, and the ring's growth stays resident.
  u->splice_hint = kind == ConnKind::kH1Client && !u->tls && cfg_->buffers.splice != 0;
  io_uring_sqe* sqe = ring_.GetSqe();
  if (unresolved) {
    io_uring_prep_nop(sqe);
  } else {
    io_uring_prep_connect(sqe, u->fd, reinterpret_cast<const sockaddr*>(&b.address.storage),
                          b.address.len);
  }
  io_uring_sqe_set_data64(sqe, Tag(u, Op::kConnect));
  ++u->inflight;
  ArmTimer(u, kTimerConnect);
  return u;
}

// The most recently pooled connection to `backend`. A request that cannot be replayed if
// the connection turns out closed by the backend (a non-idempotent one) takes only one
// that was in use less than kSafeReuseMs ago, when a backend's keep-alive timeout cannot
// be about to close it; else it gets a new connection.
UpstreamConn* WorkerImpl::TakePooled(Routing* rt, uint32_t backend, bool replayable) {
  Pool& pool = rt->pools[backend];
  UpstreamConn* u = pool.head;
  if (!u) return nullptr;
  if (!replayable && now_ms_ - u->pooled_ms >= kSafeReuseMs) return nullptr;
  PoolRemove(u);
  return u;
}

void WorkerImpl::PoolRemove(UpstreamConn* u) {
  Pool& pool = u->rt->pools[u->backend];
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

void WorkerImpl::PoolPut(UpstreamConn* u) {
  if (!u->rt->current) {  // its snapshot was replaced while it served: it does not go back
    CloseConn(u);
    return;
  }
  const config::Upstream& up = UpstreamOf(u->rt.get(), u->backend);
  Pool& pool = u->rt->pools[u->backend];
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

void WorkerImpl::ClosePools() {
  for (auto& pool : rt_->pools) {
    while (pool.head) {
      UpstreamConn* u = pool.head;
      PoolRemove(u);
      CloseConn(u);
    }
  }
}

void WorkerImpl::OnConnect(UpstreamConn* u, int res) {
  --u->inflight;
  if (u->closing) return;
  const bool unresolved = u->rt->snap->backends[u->backend]->address.len == 0;
  if (res < 0 || unresolved) {
    RW_LOG(LogLevel::kWarn, "upstream %s: connect failed: %s", BackendName(u),
           unresolved ? "cannot resolve its host name" : strerror(-res));
    if (metrics_on_)
      USeries(u->rt.get(), u->rt->snap->backend_upstream[u->backend]).connect_failures.Add();
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
void WorkerImpl::UpstreamReady(UpstreamConn* u) {
  if (u->kind == ConnKind::kH2Client) {
    H2UpConnected(u);
    return;
  }
  u->connected = true;
  if (metrics_on_ && u->connect_ns) {
    USeries(u->rt.get(), u->rt->snap->backend_upstream[u->backend])
        .connect.Observe((now_ns_ - u->connect_ns) / 1000);
  }
  if (u->state == UpState::kConnecting) u->state = UpState::kHead;
  ArmTimer(u, kTimerResponse);
  Send(u);
}

void WorkerImpl::UpstreamInput(UpstreamConn* u, char* p, size_t n, int32_t bid) {
  bool buffer_taken = false;
  ClientConn* c = u->ex ? u->ex->client : nullptr;
  if (!c) {
    // Bytes on an idle pooled connection: the server is closing or misbehaving.
    if (bid >= 0) ring_.Return(static_cast<uint16_t>(bid));
    if (u->pooled) PoolRemove(u);
    CloseConn(u);
    return;
  }
  u->got_bytes = true;
  if (u->timer.kind == kTimerResponse) ArmTimer(u, kTimerResponse);
  while (n > 0 && !u->closing && u->ex) {
    switch (u->state) {
      case UpState::kConnecting:
      case UpState::kHead: {
        size_t used = GatherHead(
            &u->in, p, n, resp_limits_,
            [&](char* d, size_t m) { return ParseUpstreamHead(u, d, m); },
            [&](char* d, size_t m) {
              if (!u->closing && u->ex) UpstreamInput(u, d, m, -1);
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
        if (u->ex->stream) {  // WebSocket over HTTP/2: DATA frames on the client's stream
          Exchange* ex = u->ex;
          if (ClientResponseData(ex, p, n, buffer_taken ? -1 : bid)) buffer_taken = true;
          ex->resp_bytes += n;
          ex->stream->rx_ms = now_ms_;
          if (ClientFull(ex)) ThrottleUpstream(u);
          n = 0;
          break;
        }
        if (Queue(c, p, n, buffer_taken ? -1 : bid)) buffer_taken = true;
        u->ex->resp_bytes += n;
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
  // A large body with a known length, between two plain HTTP/1 sockets: the rest is spliced.
  if (!u->closing && u->state == UpState::kBody && !u->splicing && SpliceEligible(u)) {
    StartSplice(u);
  }
}

size_t WorkerImpl::ParseUpstreamHead(UpstreamConn* u, char* p, size_t n) {
  Exchange* ex = u->ex;
  http1::ResponseHead resp;
  http1::ParseResult r =
      http1::ParseResponse(std::string_view(p, n), resp_limits_,
                           std::span(fields_.data(), resp_limits_.max_fields), &resp);
  if (r.status == http1::ParseStatus::kIncomplete) return 0;
  if (r.status == http1::ParseStatus::kError) {
    RW_LOG(LogLevel::kWarn, "upstream %s: bad response: %s", BackendName(u), r.error);
    UpstreamFailed(u, 502);
    return n;
  }
  if (resp.status < 200 && resp.status != 101) {
    // Interim response: relayed, then the final one is awaited. A backend may send a few; one
    // that keeps sending them is broken.
    if (++u->interim > kMaxInterimResponses) {
      RW_LOG(LogLevel::kWarn, "upstream %s: more than %u interim responses", BackendName(u),
             kMaxInterimResponses);
      UpstreamFailed(u, 502);
      return n;
    }
    ClientInterim(ex, resp);
    if (ClientFull(ex)) ThrottleUpstream(u);
    return r.consumed;
  }
  ObserveResponseHead(u->rt.get(), u->backend, resp.status, u->lb_open, u->sent_ns, &u->ttfb_ns);
  u->body = http1::ResponseBody(resp, ex->head_method);
  u->left = resp.framing.content_length;
  u->chunked.Reset();
  u->trailers.clear();
  u->keep_alive = resp.framing.keep_alive;
  const bool tunnel = resp.status == 101 && ex->upgrade;
  if (resp.status == 101 && !ex->upgrade) {
    UpstreamFailed(u, 502);
    return n;
  }
  // The client side takes a chunked body as it came (the same protocol), or just its data.
  u->dechunk = u->body == BodyKind::kChunked && !ClientTakesChunked(ex);
  if (tunnel) {
    u->state = UpState::kTunnel;
    DisarmTimer(u);  // a tunnel lives while bytes flow (the client's tunnel timer)
  }
  ClientResponseHead(ex, {u->rt.get(), u->backend, u->body, u->left, u->dechunk}, resp, tunnel);
  if (tunnel) return r.consumed;
  if (u->body == BodyKind::kNone || (u->body == BodyKind::kContentLength && u->left == 0)) {
    if (r.consumed < n) u->keep_alive = false;  // bytes after the response: do not reuse
    UpstreamResponseDone(u);
  } else {
    u->state = UpState::kBody;
  }
  return r.consumed;
}

// HSTS on responses over TLS, unless the backend sent its own.
void WorkerImpl::AddHsts(const config::Server& srv, const http1::ResponseHead& resp,
                         std::string* head) {
  if (srv.hsts.empty() || head->size() < 4) return;
  for (const auto& f : resp.fields) {
    if (http1::EqualsIgnoreCase(f.name, "strict-transport-security")) return;
  }
  head->insert(head->size() - 2, "Strict-Transport-Security: " + srv.hsts + "\r\n");
}

// Sticky sessions: a response from a backend other than the one the request's cookie named
// (or to a request without one) tells the client which backend to come back to. Sets *value to
// the Set-Cookie value; false when none is due.
bool WorkerImpl::StickyCookie(const Exchange* ex, const RespSource& src, std::string* value) {
  const Snapshot& sn = *src.rt->snap;
  const uint32_t upstream = sn.backend_upstream[src.backend];
  const config::Sticky& st = sn.config.upstreams[upstream].sticky;
  if (!st.enabled) return false;
  const int32_t local = static_cast<int32_t>(src.backend - sn.backend_base[upstream]);
  if (ex->sticky == local) return false;
  value->assign(st.cookie).push_back('=');
  value->append(src.rt->ups[upstream].tokens[static_cast<size_t>(local)]);
  value->append("; Path=/; HttpOnly");
  if (st.ttl_s) value->append("; Max-Age=").append(std::to_string(st.ttl_s));
  return true;
}

void WorkerImpl::AddStickyCookie(const Exchange* ex, const RespSource& src, std::string* head) {
  if (head->size() < 4 || !StickyCookie(ex, src, &h2_sticky_)) return;
  head->insert(head->size() - 2, "Set-Cookie: " + h2_sticky_ + "\r\n");  // before the blank line
}

size_t WorkerImpl::TakeResponseBody(UpstreamConn* u, const char* p, size_t n, int32_t bid,
                                    bool* taken) {
  Exchange* ex = u->ex;
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
        // The data runs go out without their framing, each run pointing into the buffer (one
        // reference each) unless it is small enough to copy.
        http1::ChunkedDecoder::Result r = u->chunked.Feed(
            std::string_view(p, n),
            [&](std::string_view d) {
              ClientResponseData(ex, d.data(), d.size(), ShareBuffer(bid, d.size()));
            },
            [&](std::string_view t) {
              if (ex->stream) u->trailers.append(t);  // (an HTTP/1.0 client gets none)
            });
        if (r.error) {
          UpstreamFailed(u, 502);
          return n;
        }
        ex->resp_bytes += r.consumed;
        if (r.done) {
          if (!u->trailers.empty()) ClientResponseTrailers(ex, &u->trailers);
          if (r.consumed < n) u->keep_alive = false;
          UpstreamResponseDone(u);
        } else if (ClientFull(ex)) {
          ThrottleUpstream(u);
        }
        return r.consumed;
      }
      http1::ChunkedDecoder::Result r = u->chunked.Feed(std::string_view(p, n));
      if (r.error) {
        RW_LOG(LogLevel::kWarn, "upstream %s: bad chunked body: %s", BackendName(u), r.error_text);
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
    if (ClientResponseData(ex, p, take, bid, done)) *taken = true;
    ex->resp_bytes += take;
  }
  if (done) {
    if (take < n) u->keep_alive = false;  // bytes after the response: do not reuse
    UpstreamResponseDone(u);
  } else if (ClientFull(ex)) {
    ThrottleUpstream(u);
  }
  return take;
}

// The whole response has been queued to the client.
void WorkerImpl::UpstreamResponseDone(UpstreamConn* u) {
  Exchange* ex = u->ex;
  u->state = UpState::kDone;
  u->splicing = false;  // (what it spliced may still wait in the client's pipe)
  u->splice_hint = u->spliced;
  u->spliced = false;
  const bool reusable =
      u->keep_alive && RequestComplete(ex) && u->sendq.empty() && !u->sending && u->in.empty();
  u->ex = nullptr;
  ex->up = nullptr;
  DisarmTimer(u);
  EndAttempt(u, AttemptEnd::kOk);
  if (reusable) {
    u->recv_paused = false;  // nothing pooled is paused: a backpressure pause ends here
    PoolPut(u);
  } else {
    CloseConn(u);
  }
  ClientResponseDone(ex);
  if (ex->client->pipe) SpliceSent(ex->client);
}

void WorkerImpl::UpstreamEof(UpstreamConn* u, int res) {
  Exchange* ex = u->ex;
  if (!ex) {
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
    ClientTunnelEnded(ex);
    return;
  }
  if (res < 0) {
    RW_LOG(LogLevel::kWarn, "upstream %s: %s", BackendName(u), strerror(-res));
  }
  UpstreamFailed(u, 502);
}

// Drops the upstream side of an exchange that the client side abandoned.
void WorkerImpl::AbortUpstream(UpstreamConn* u) {
  EndAttempt(u, AttemptEnd::kCancel);  // the client left: not the backend's failure
  if (u->ex && u->ex->stream) H2ReleaseGrant(u->ex->stream);
  if (u->ex) u->ex->up = nullptr;
  u->ex = nullptr;
  if (u->pooled) PoolRemove(u);
  CloseConn(u);
}

}  // namespace ringway::proxy
