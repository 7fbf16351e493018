// The HTTP/1 client side: request heads and bodies read, responses queued, pipelined requests
// run in order within the queue cap, the end of the client's stream.
#include "proxy/worker_impl.h"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ringway::proxy {

// The send deadline (client_send) runs whenever something is queued for the client: a client
// that takes nothing of it for that long is cut (with a queue under the cap too: a zero
// window would otherwise hold its buffers for ever). Progress restarts it, except while the
// queue is over the cap: then only bringing the queue down to half does, or a peer reading
// a byte a minute could keep the most a connection may hold for ever.
void WorkerImpl::ClientQueued(ClientConn* c) {
  if (!c->over_cap && Backlogged(c)) {
    c->over_cap = true;
    ArmSendTimer(c);  // the clock for getting back under the cap starts now
  } else if (!c->send_timer.armed() && !Idle(c)) {
    ArmSendTimer(c);
  }
}

// A send to the client completed with progress.
void WorkerImpl::ClientSent(ClientConn* c) {
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
void WorkerImpl::ClientCaughtUp(ClientConn* c) {
  if (c->h2) {  // reading resumes, and the streams' responses that waited move on
    ResumeRecv(c);
    H2PumpAll(c);
    return;
  }
  if (ExUp(c)) UnthrottleUpstream(ExUp(c));
  if (ExUps(c)) H2UpUnthrottle(ExUps(c));
  if (c->pipeline_wait) {
    c->pipeline_wait = false;
    if (!c->read_eof) ResumeRecv(c);
    ScheduleDeferred(c);
  }
}

// Handles bytes read from a client. `bid` >= 0: the bytes are in that provided buffer, which
// this function either hands to a send or returns to the ring.
void WorkerImpl::ClientInput(ClientConn* c, char* p, size_t n, int32_t bid) {
  if (c->h2c_possible && H2cPreface(c, p, n, bid)) return;
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
        size_t take = TakeRequestBody(c, p, n, bid);  // (to an HTTP/2 backend it goes in here)
        if (c->closing) break;
        if (c->ex && H2UpFull(c->ex)) PauseRecv(c);
        if (take > 0 && ExUp(c)) {
          if (Queue(ExUp(c), p, take, buffer_taken ? -1 : bid)) buffer_taken = true;
          if (Backlogged(ExUp(c))) PauseRecv(c);
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
        if (ExUp(c)) {
          if (Queue(ExUp(c), p, n, buffer_taken ? -1 : bid)) buffer_taken = true;
          if (c->timer.kind == kTimerTunnel) ArmTimer(c, kTimerTunnel);
          if (Backlogged(ExUp(c))) {
            // The backend is not reading: it gets client_send to catch up.
            PauseRecv(c);
            if (!ExUp(c)->send_timer.armed()) ArmSendTimer(ExUp(c));
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

// The first bytes of a plaintext connection on a listener with h2c: the HTTP/2 client preface
// makes it an HTTP/2 connection (prior knowledge, RFC 9113 section 3.3); anything else is
// HTTP/1. True when the bytes were taken (the preface, or a prefix of it kept to decide).
bool WorkerImpl::H2cPreface(ClientConn* c, char* p, size_t n, int32_t bid) {
  std::string_view seen(p, n);
  if (!c->in.empty()) {
    c->in.append(p, n);
    seen = c->in;
  }
  switch (h2::MatchClientPreface(seen)) {
    case h2::PrefaceStatus::kNeedMore:
      if (c->in.empty()) c->in.assign(p, n);
      if (bid >= 0) ring_.Return(static_cast<uint16_t>(bid));
      return true;
    case h2::PrefaceStatus::kMatch:
      StartH2(c);
      if (!c->in.empty()) {
        std::string bytes = std::move(c->in);
        c->in.clear();
        if (bid >= 0) ring_.Return(static_cast<uint16_t>(bid));
        H2Input(c, bytes.data(), bytes.size(), -1);
      } else {
        H2Input(c, p, n, bid);
      }
      return true;
    case h2::PrefaceStatus::kMismatch:
      break;
  }
  c->h2c_possible = false;
  if (c->in.empty()) return false;
  // Bytes kept while undecided: they and these are one HTTP/1 stream, parsed from the arena.
  std::string bytes = std::move(c->in);
  c->in.clear();
  if (bid >= 0) ring_.Return(static_cast<uint16_t>(bid));
  ClientInput(c, bytes.data(), bytes.size(), -1);
  return true;
}

// The client must read what is queued before its next request is started: stop reading it
// and start the clock on it.
void WorkerImpl::WaitForClient(ClientConn* c) {
  c->pipeline_wait = true;
  PauseRecv(c);  // (its send deadline runs: the queue is not empty)
}

// Parses a request head at p[0, n). Returns bytes consumed (0: incomplete, keep the bytes;
// on an error the response is queued and all n bytes are reported consumed).
size_t WorkerImpl::ParseClientHead(ClientConn* c, char* p, size_t n) {
  http1::RequestHead req;
  http1::ParseResult r = http1::ParseRequest(std::string_view(p, n), limits_,
                                             std::span(fields_.data(), limits_.max_fields), &req);
  if (r.status == http1::ParseStatus::kIncomplete) return 0;
  if (r.status == http1::ParseStatus::kError) {
    RW_LOG(LogLevel::kDebug, "client %s: bad request: %s", c->peer_ip, r.error);
    UnparsedRequest(c);
    RespondError(c, r.error_status, /*close=*/true);
    return n;
  }
  StartRequest(c, req);
  return r.consumed;
}

// Consumes request-body bytes from p[0, n); returns how many belong to the body. An HTTP/2
// backend's stream takes the body's data here (without chunked framing; `bid`, the buffer the
// bytes are in, is shared), and its end with any trailers.
size_t WorkerImpl::TakeRequestBody(ClientConn* c, const char* p, size_t n, int32_t bid) {
  size_t take = 0;
  bool done = false;
  if (c->req_body == BodyKind::kContentLength) {
    take = static_cast<size_t>(std::min<uint64_t>(c->req_left, n));
    c->req_left -= take;
    c->req_body_bytes += take;
    done = c->req_left == 0;
    if (ExUps(c) && take > 0) H2UpBody(c->ex, p, take, ShareBuffer(bid, take));
  } else {
    uint64_t data = 0;
    std::string* trailers = nullptr;
    http1::ChunkedDecoder::Result r = c->req_chunked.Feed(
        std::string_view(p, n),
        [&](std::string_view d) {
          data += d.size();
          if (ExUps(c)) H2UpBody(c->ex, d.data(), d.size(), ShareBuffer(bid, d.size()));
        },
        [&](std::string_view t) {
          if (!ExUps(c)) return;
          if (!trailers) trailers = AcquireString();
          trailers->append(t);
        });
    if (r.done && ExUps(c)) H2UpBodyEnd(c->ex, trailers ? *trailers : std::string_view());
    if (trailers) ReleaseString(trailers);
    if (r.error) {
      RW_LOG(LogLevel::kDebug, "client %s: bad chunked body: %s", c->peer_ip, r.error_text);
      FailRequestBody(c, 400);
      return 0;
    }
    c->req_body_bytes += data;
    take = r.consumed;
    done = r.done;
  }
  if (cfg_->limits.max_body_size && c->req_body_bytes > cfg_->limits.max_body_size) {
    FailRequestBody(c, 413);
    return 0;
  }
  if (done) {
    if (ExUps(c) && c->req_body == BodyKind::kContentLength) H2UpBodyEnd(c->ex, {});
    c->req = ReqState::kDone;
    DisarmTimer(c);
    if (ExResp(c) == RespState::kDone) FinishExchange(c);
  } else {
    ArmTimer(c, kTimerBody);
  }
  return take;
}

void WorkerImpl::FailRequestBody(ClientConn* c, uint16_t status) {
  if (c->ex) AbortAttempt(c->ex);
  if (c->ex && c->ex->grpc && ExResp(c) == RespState::kWaiting) {
    GrpcFail(c->ex, status);
  } else if (ExResp(c) == RespState::kWaiting || ExResp(c) == RespState::kNone) {
    RespondError(c, status, /*close=*/true);
  } else {
    CloseConn(c);
  }
}

// Queues one of the proxy's own responses. With close, the connection closes after it.
void WorkerImpl::RespondError(ClientConn* c, uint16_t status, bool close) {
  if (c->closing) return;
  if (c->req == ReqState::kBody || c->req == ReqState::kHead) close = true;
  if (draining_ || c->ending) close = true;
  std::string_view body = http1::ErrorResponse(status, close);
  c->sendq.Push({body.data(), static_cast<uint32_t>(body.size()), -1, nullptr});
  Exchange* ex = ClientEx(c);
  ex->status = status;
  ex->resp_bytes = body.size();
  ex->resp = RespState::kDone;
  c->told_close = close;
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
void WorkerImpl::RespondRedirect(ClientConn* c, std::string_view method, std::string_view host,
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
  const bool close = c->req == ReqState::kBody || draining_ || c->ending || !c->keep_alive;
  std::string* s = AcquireString();
  s->append(permanent_get ? "HTTP/1.1 301 Moved Permanently\r\n"
                          : "HTTP/1.1 308 Permanent Redirect\r\n");
  s->append("Location: https://").append(host);
  if (target.empty() || target[0] == '?') s->push_back('/');  // absolute-form "http://h?q"
  s->append(target);
  s->append("\r\nContent-Length: 0\r\n");
  s->append(close ? "Connection: close\r\n\r\n" : "Connection: keep-alive\r\n\r\n");
  c->told_close = close;
  Exchange* ex = ClientEx(c);
  ex->status = permanent_get ? 301 : 308;
  ex->resp_bytes = s->size();
  ex->resp = RespState::kDone;
  if (close) {
    c->close_after = true;
    c->req = ReqState::kDone;
    c->keep_alive = false;
  }
  QueueOwned(c, s);
  if (c->req == ReqState::kDone) FinishExchange(c);
}

Exchange* WorkerImpl::NewExchange(ClientConn* c) {
  Exchange* ex;
  if (spare_exchanges_.empty()) {
    ex = new Exchange;
  } else {
    ex = spare_exchanges_.back();
    spare_exchanges_.pop_back();
  }
  ex->client = c;
  return ex;
}

// Rebuilt in place for the next connection, keeping its strings' memory when small (the
// upstream head and the log fields are written again by every request).
void WorkerImpl::RecycleExchange(Exchange* ex) {
  if (spare_exchanges_.size() >= kSpareStreams) {
    delete ex;
    return;
  }
  ExchangeStrings strings = ExchangeStrings::Take(ex, kKeepExchangeCapacity);
  ex->~Exchange();
  new (ex) Exchange;
  std::move(strings).PutBack(ex);
  spare_exchanges_.push_back(ex);
}

// End of the turn: the exchanges of connections that went idle go back, unless a pipelined
// request took one up again, or its attempt still holds it (neither ever found so far: then it
// simply stays until the next request or the close).
void WorkerImpl::ReturnParkedExchanges() {
  for (ClientConn* c : parked_) {
    --c->inflight;
    c->ex_parked = false;
    Exchange* ex = c->ex;
    if (c->closing || ex == nullptr || c->h2 || c->req != ReqState::kIdle ||
        ex->resp != RespState::kNone || ex->up != nullptr || ex->ups != nullptr) {
      continue;
    }
    c->ex = nullptr;
    RecycleExchange(ex);
  }
  parked_.clear();
}

// Both halves of the exchange are done: log it, then read the next request or close.
void WorkerImpl::FinishExchange(ClientConn* c) {
  Exchange* ex = ClientEx(c);
  WriteAccessLog(ex);
  // The next request on this connection may take this exchange up again in this turn (a
  // pipelined one), or keep it past the turn (a head still arriving): what the log line and
  // the counters read of it must not be this request's.
  ex->server = -1;
  ex->upstream_index = -1;
  ex->route_series = kNoSeries;
  ex->backend = -1;
  ex->tries = 0;
  ex->retried = false;
  ex->grpc = false;
  ex->grpc_status = -1;
  ex->outcome = {};
  // Nor does it keep a large upstream head or target meanwhile.
  if (ex->up_head.capacity() > kKeepExchangeCapacity) std::string().swap(ex->up_head);
  if (ex->log_target.capacity() > kKeepExchangeCapacity) std::string().swap(ex->log_target);
  // A connection to end (shutdown, its listener removed) whose response went out as keep-alive
  // stays open for one more request, answered with Connection: close: closing it now would
  // race with the request the client may be sending already. If none comes, it closes after
  // kDrainIdleMs.
  const bool ending = c->close_after || draining_ || c->ending;
  if (ending && !c->told_close && c->keep_alive && !c->read_eof) {
    c->ending = true;
    c->req = ReqState::kIdle;
    ex->resp = RespState::kNone;
    ParkExchange(c);
    ArmTimer(c, kTimerDrainIdle);
    if (c->pipeline_wait || Backlogged(c)) {
      WaitForClient(c);
      return;
    }
    ResumeRecv(c);
    if (!c->in.empty()) ScheduleDeferred(c);
    return;
  }
  if (ending || !c->keep_alive || (c->read_eof && c->in.empty() && !c->replaying)) {
    // (A client that half-closed with nothing left to ask gets its response, then the
    // close.)
    c->close_after = true;
    c->req = ReqState::kDone;
    ex->resp = RespState::kDone;
    if (Idle(c) && !c->sending) ClientDrained(c);
    return;
  }
  c->req = ReqState::kIdle;
  ex->resp = RespState::kNone;
  // An idle keep-alive connection keeps no exchange: with 10,000 of them that is a third of
  // ringway's memory per connection.
  ParkExchange(c);
  ArmTimer(c, kTimerKeepalive);
  if (c->pipeline_wait || Backlogged(c)) {
    // Responses are piling up unread: nothing more is read or started until they drain.
    WaitForClient(c);
    return;
  }
  ResumeRecv(c);
  if (!c->in.empty()) ScheduleDeferred(c);
}

// Pipelined requests wait in the arena; they are parsed here, outside any completion.
void WorkerImpl::RunDeferred() {
  while (!deferred_.empty()) {
    std::vector<ClientConn*> list;
    list.swap(deferred_);
    for (ClientConn* c : list) {
      --c->inflight;
      c->deferred = false;
      if (c->h2) {  // budget was freed (a stream ended): the streams that wait for it go on
        c->h2->budget_waiters = false;  // (set again by any that still find none)
        if (!c->closing) H2PumpAll(c);
        continue;
      }
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
void WorkerImpl::ClientDrained(ClientConn* c) {
  if (!c->close_after || c->closing) return;
  if (c->req == ReqState::kIdle && c->in.empty()) {  // between requests (shutdown)
    c->req = ReqState::kDone;
    ClientEx(c)->resp = RespState::kDone;
  }
  if (c->req != ReqState::kDone || ExResp(c) != RespState::kDone) return;
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
void WorkerImpl::ClientEof(ClientConn* c, bool half_close) {
  if (!half_close) {
    if (c->ex) AbortAttempt(c->ex);
    CloseConn(c);
    return;
  }
  c->read_eof = true;
  c->recv_paused = false;  // nothing to resume: ArmRecv refuses a read_eof connection
  ClientInputEnded(c);
}

// No more bytes will come from the client: what it sent decides what is left to do.
void WorkerImpl::ClientInputEnded(ClientConn* c) {
  if (c->closing) return;
  switch (c->req) {
    case ReqState::kIdle:
      if (!c->in.empty()) return;  // pipelined requests still to run (deferred, or waiting)
      c->close_after = true;
      c->req = ReqState::kDone;
      ClientEx(c)->resp = RespState::kDone;
      if (Idle(c) && !c->sending) ClientDrained(c);
      return;
    case ReqState::kHead:  // a head that can never be completed
      RW_LOG(LogLevel::kDebug, "client %s: closed its side in the middle of a request head",
             c->peer_ip);
      UnparsedRequest(c);
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
      if (ExUp(c) && Idle(ExUp(c))) UpstreamDrained(ExUp(c));  // pass the half-close on
      return;
    case ReqState::kLinger:
      CloseConn(c);
      return;
  }
}

// ---- The client side of an exchange, as the exchange and the upstream side see it ----------

// (An HTTP/2 stream gets its body's data only: DATA frames carry no chunked framing.)
bool WorkerImpl::ClientTakesChunked(const Exchange* ex) const {
  return ex->stream == nullptr && !ex->client->http10;
}
bool WorkerImpl::ClientFull(const Exchange* ex) const {
  return ex->stream ? H2Full(ex->stream) : Backlogged(ex->client);
}
// The byte limit of the next read from the exchange's backend, given the one the transport
// would use: an HTTP/2 stream takes it from its connection's budget; 0: no room yet.
uint32_t WorkerImpl::ClientRecvLimit(Exchange* ex, const UpstreamConn* u, uint32_t limit) {
  return ex->stream ? H2RecvLimit(ex->stream,
                                  u->state == UpState::kBody || u->state == UpState::kTunnel, limit)
                    : limit;
}
// A completion of that read: data, and whether the read ended.
void WorkerImpl::ClientRecvDone(Exchange* ex, bool data, bool ended) {
  if (ex->stream) H2GrantUsed(ex->stream, data, ended);
}
uint64_t WorkerImpl::ClientCharged(const Exchange* ex) const {
  return ex->stream ? ex->stream->pending.charged() : Charged(ex->client);
}
bool WorkerImpl::RequestComplete(const Exchange* ex) const {
  return ex->stream ? ex->stream->req_done : ex->client->req != ReqState::kBody;
}

// An interim (1xx) response. 100 Continue is not relayed: ringway answered Expect itself. An
// HTTP/1.0 client gets none.
void WorkerImpl::ClientInterim(Exchange* ex, const http1::ResponseHead& resp) {
  if (ex->stream) return H2Interim(ex->stream, resp);
  ClientConn* c = ex->client;
  if (c->http10 || resp.status == 100) return;
  std::string* s = AcquireString();
  http1::WriteResponseHead(resp, true, false, false, s);
  QueueOwned(c, s);
}

// The final response head. With `tunnel` (101 to an Upgrade request) the exchange becomes a
// byte tunnel between the client and `u`.
void WorkerImpl::ClientResponseHead(Exchange* ex, const RespSource& src,
                                    const http1::ResponseHead& resp, bool tunnel) {
  if (ex->stream) return H2ResponseHead(ex->stream, src, resp, tunnel);
  ClientConn* c = ex->client;
  const bool client_keep_alive = c->keep_alive && !c->close_after && !draining_ && !c->ending &&
                                 src.body != BodyKind::kUntilClose && !tunnel && !src.dechunk &&
                                 c->req != ReqState::kBody;
  if (!client_keep_alive) c->close_after = true;
  c->told_close = !client_keep_alive;
  std::string* s = AcquireString();
  http1::WriteResponseHead(resp, client_keep_alive, c->http10, src.dechunk, s);
  AddStickyCookie(ex, src, s);
  if (c->tls && ex->server >= 0) {
    AddHsts(ex->rt->snap->config.servers[static_cast<size_t>(ex->server)], resp, s);
  }
  ex->status = resp.status;
  ex->resp_bytes += s->size();
  ex->resp = RespState::kStreaming;
  ex->resp_mark = c->sendq.Mark();
  ex->resp_turn = turn_;
  QueueOwned(c, s);
  if (!tunnel) return;
  UpstreamConn* u = ex->up;  // (a tunnel is to an HTTP/1 backend)
  c->req = ReqState::kTunnel;
  ex->resp = RespState::kTunnel;
  // A tunnel has no request or response to wait for: it lives while bytes flow either way
  // (timeouts.tunnel), and whichever side stops reading what the other sends gets client_send
  // to catch up.
  ArmTimer(c, kTimerTunnel);
  // Bytes the client sent after its request, before the switch, belong to the tunnel.
  if (!c->in.empty()) {
    Queue(u, c->in.data(), c->in.size(), -1);
    c->in.clear();
  }
  ResumeRecv(c);
  if (c->read_eof && Idle(u)) UpstreamDrained(u);
}

bool WorkerImpl::ClientResponseData(Exchange* ex, const char* p, size_t n, int32_t bid, bool last) {
  if (ex->stream) return H2ResponseData(ex->stream, p, n, bid, last);
  return Queue(ex->client, p, n, bid);
}

// The whole response is queued. A backend that answered before the request body ended gets
// its response forwarded, and the connection closes after it (the rest of the body unread).
void WorkerImpl::ClientResponseDone(Exchange* ex) {
  if (ex->stream) return H2ResponseDone(ex->stream);
  ClientConn* c = ex->client;
  if (c->req == ReqState::kBody) {
    c->close_after = true;
    c->req = ReqState::kDone;
  }
  ex->resp = RespState::kDone;
  ResumeRecv(c);
  if (c->req == ReqState::kDone) FinishExchange(c);
}

// The trailer section of a chunked response the client did not take chunked ("name: value"
// lines): an HTTP/2 client gets it as a HEADERS frame after the data.
void WorkerImpl::ClientResponseTrailers(Exchange* ex, std::string* trailers) {
  if (ex->stream) ex->stream->trailers.swap(*trailers);
}

// The backend ended a tunnel: the client gets what is queued, then the close.
void WorkerImpl::ClientTunnelEnded(Exchange* ex) {
  ex->up = nullptr;
  if (ex->stream) {  // END_STREAM once what the backend sent has gone
    H2ResponseDone(ex->stream);
    return;
  }
  ClientConn* c = ex->client;
  ex->resp = RespState::kDone;
  c->req = ReqState::kDone;
  c->close_after = true;
  FinishExchange(c);
}

// No response byte went out: ringway's own error response instead.
void WorkerImpl::ClientFail(Exchange* ex, uint16_t status) {
  if (ex->grpc) return GrpcFail(ex, status);
  if (ex->stream) return H2LocalReply(ex->stream, status);
  RespondError(ex->client, status, ex->client->req == ReqState::kBody);
}

void WorkerImpl::ClientRedirect(Exchange* ex, std::string_view method, std::string_view host,
                                std::string_view target, const config::Server& srv) {
  if (ex->stream == nullptr) return RespondRedirect(ex->client, method, host, target, srv);
  // The same Location as for HTTP/1 (see RespondRedirect).
  if (host.empty()) host = srv.server_names.empty() ? std::string_view() : srv.server_names[0];
  if (host.empty() || host[0] == '*') return H2LocalReply(ex->stream, 400);
  if (size_t colon = host.rfind(':');
      colon != std::string_view::npos && host.find(']', colon) == std::string_view::npos) {
    host = host.substr(0, colon);
  }
  std::string location = "https://";
  location.append(host);
  if (target.empty() || target[0] == '?' || target == "*") location.push_back('/');
  if (target != "*") location.append(target);
  H2LocalReply(ex->stream, method == "GET" || method == "HEAD" ? 301 : 308, location);
}

// The upstream connection's queue drained below half: the client side may send again.
void WorkerImpl::ClientUpstreamDrained(Exchange* ex) {
  if (ex->stream) return H2Credit(ex->stream);
  ResumeRecv(ex->client);
}

// Takes back a response head (and what followed) queued in this loop turn: none of it has
// reached the kernel yet. False when it cannot be.
bool WorkerImpl::ClientTakeBack(Exchange* ex) {
  if (ex->stream) return false;  // the head is HPACK-encoded: the table has moved on
  ClientConn* c = ex->client;
  // Bytes spliced into the pipe cannot be taken back out of it.
  if (ex->resp != RespState::kStreaming || ex->resp_turn != turn_ ||
      c->sendq.PipeFrom(ex->resp_mark) ||
      !c->sendq.DropFrom(ex->resp_mark, [&](const SendPiece& p) { ReleasePiece(p); })) {
    return false;
  }
  ex->resp = RespState::kWaiting;
  ex->resp_bytes = 0;
  return true;
}

// The response cannot be finished: the truncation is made visible with a reset.
void WorkerImpl::ClientAbort(Exchange* ex) {
  if (ex->stream == nullptr) return ResetConn(ex->client);
  H2Stream* s = ex->stream;
  if (s->finished) return;
  AbortAttempt(&s->ex);
  ex->client->h2->session.ResetStream(s->id, h2::ErrorCode::kInternalError);
  s->end_sent = true;
  s->req_done = true;
  H2Finish(s);
}

}  // namespace ringway::proxy
