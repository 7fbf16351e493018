// HTTP/2 responses: a backend's HTTP/1 response written to its stream as HEADERS and DATA
// (frame headers in front of the backend's own buffers), local answers, the end of a stream,
// and the response budget a connection's streams share: reads from their backends by grant,
// `pending` data released as the client's windows open, and copied out of the ring when it
// runs low. The connection and the requests are in h2_server.cc.
#include <algorithm>
#include <cstdio>

#include "proxy/worker_impl.h"

namespace ringway::proxy {

// ---- Responses --------------------------------------------------------------------------------

// With `tunnel` (the backend's 101 to a WebSocket over HTTP/2 request) the stream gets 200
// (RFC 8441 section 5) and stays open: DATA both ways.
void WorkerImpl::H2ResponseHead(H2Stream* s, const RespSource& src, const http1::ResponseHead& resp,
                                bool tunnel) {
  ClientConn* c = s->ex.client;
  H2State* h = c->h2.get();
  h2_resp_fields_.clear();
  for (const http1::Field& f : resp.fields) {
    if (tunnel && http1::EqualsIgnoreCase(f.name, "sec-websocket-accept")) continue;
    h2_resp_fields_.push_back({f.name, f.value});
  }
  if (StickyCookie(&s->ex, src, &h2_sticky_)) h2_resp_fields_.push_back({"set-cookie", h2_sticky_});
  if (c->tls && s->ex.server >= 0) {
    const config::Server& srv = s->ex.rt->snap->config.servers[static_cast<size_t>(s->ex.server)];
    bool has_sts = false;
    for (const auto& f : resp.fields) {
      has_sts = has_sts || http1::EqualsIgnoreCase(f.name, "strict-transport-security");
    }
    if (!srv.hsts.empty() && !has_sts) {
      h2_resp_fields_.push_back({"strict-transport-security", srv.hsts});
    }
  }
  const bool no_body = !tunnel && (src.body == BodyKind::kNone ||
                                   (src.body == BodyKind::kContentLength && src.left == 0));
  s->ex.status = tunnel ? 200 : resp.status;
  s->ex.resp = RespState::kStreaming;
  s->head_sent = h->session.SubmitResponse(
      s->id,
      h2::Response(tunnel ? 200 : resp.status, {h2_resp_fields_.data(), h2_resp_fields_.size()}),
      no_body);
  if (no_body) s->end_sent = true;  // (the stream ends in ClientResponseDone, right after)
  H2Flush(c);
}

void WorkerImpl::H2Interim(H2Stream* s, const http1::ResponseHead& resp) {
  if (resp.status == 100 || resp.status == 101) return;  // 100: ringway does not relay it
  ClientConn* c = s->ex.client;
  h2_resp_fields_.clear();
  for (const http1::Field& f : resp.fields) h2_resp_fields_.push_back({f.name, f.value});
  c->h2->session.SubmitResponse(
      s->id, h2::Response(resp.status, {h2_resp_fields_.data(), h2_resp_fields_.size()}), false);
  H2Flush(c);
}

// `last`: the body ends with these bytes, so the frame that carries them can end the stream
// (the exchange itself ends in H2ResponseDone, right after).
bool WorkerImpl::H2ResponseData(H2Stream* s, const char* p, size_t n, int32_t bid, bool last) {
  H2State* h = s->ex.client->h2.get();
  if (last) s->resp_end = true;
  const uint64_t before = s->pending.charged();
  bool taken = false;
  if (bid >= 0 && n > kCopyBelow) {
    s->pending.Push({p, static_cast<uint32_t>(n), bid, nullptr, ring_.buffer_size()});
    taken = true;
  } else if (!s->pending.AppendToTail(p, n, StringCharge)) {
    std::string* str = AcquireString();
    str->assign(p, n);
    s->pending.Push({str->data(), static_cast<uint32_t>(n), -1, str, StringCharge(*str)});
  }
  h->pending_charged += s->pending.charged() - before;
  H2Pump(s);
  return taken;
}

// The response is complete: END_STREAM goes out once `pending` has.
void WorkerImpl::H2ResponseDone(H2Stream* s) {
  H2ReleaseGrant(s);  // the backend is done with this stream
  s->resp_end = true;
  s->ex.resp = RespState::kDone;
  H2Pump(s);
}

// Moves what the stream's window allows from `pending` to the connection's queue: a 9-byte
// DATA header, then the payload as it is (a buffer piece keeps its reference; a part of one
// takes a reference of its own). Stops while the connection's own queue is over the cap.
void WorkerImpl::H2Pump(H2Stream* s) {
  ClientConn* c = s->ex.client;
  H2State* h = c->h2.get();
  if (c->closing || h->failed || s->finished) return;
  const uint64_t before = s->pending.charged();
  const uint64_t bytes_before = s->pending.bytes();
  char hdr[h2::kFrameHeaderSize];
  bool shut = false;  // the client's window is what holds the data back
  while (!s->pending.empty() && !Backlogged(c)) {
    const uint32_t room = h->session.SendableBytes(s->id);
    if (room == 0) {  // OnSendWindow calls again
      shut = s->head_sent;
      break;
    }
    const SendPiece f = s->pending.Front();
    const uint32_t k = std::min(room, f.len);
    const bool end = s->resp_end && k == s->pending.bytes() && s->trailers.empty();
    H2Flush(c);  // frames the session queued go first
    if (!h->session.PrepareData(s->id, k, end, hdr)) break;
    Queue(c, hdr, sizeof(hdr), -1);
    if (k == f.len) {  // the whole piece: its owner moves to the connection's queue
      c->sendq.Push(f);
      s->pending.Advance(k, [](const SendPiece&) {});
    } else if (f.bid >= 0) {  // part of a buffer: a reference of its own
      ring_.Ref(static_cast<uint16_t>(f.bid));
      c->sendq.Push({f.data, k, f.bid, nullptr, ring_.buffer_size()});
      s->pending.Advance(k, [&](const SendPiece& p) { ReleasePiece(p); });
    } else {
      Queue(c, f.data, k, -1);
      s->pending.Advance(k, [&](const SendPiece& p) { ReleasePiece(p); });
    }
    if (end) s->end_sent = true;
  }
  if (s->pending.empty() && s->resp_end && !s->end_sent && s->head_sent) {
    H2Flush(c);
    if (!H2SendTrailers(s) && h->session.PrepareData(s->id, 0, true, hdr)) {
      Queue(c, hdr, sizeof(hdr), -1);
    }
    s->end_sent = true;
  }
  h->pending_charged -= before - s->pending.charged();
  // A spliced body (SpliceIn) waits in the backend's socket, not in `pending`: a shut
  // window holds it back all the same. (SendableBytes, not SendWindow: a 0 arms OnSendWindow,
  // so the client's next WINDOW_UPDATE pumps this stream and resumes its backend.)
  UpstreamConn* up = s->ex.up;
  const bool splice_shut = up && up->splicing && s->pending.empty() && s->head_sent &&
                           h->session.SendableBytes(s->id) == 0;
  shut = shut || splice_shut;
  if (!shut) {
    s->stalled_ms = 0;
  } else if (s->stalled_ms == 0 || s->pending.bytes() != bytes_before) {
    s->stalled_ms = now_ms_;  // (progress restarts the deadline)
  }
  if (!s->pending.empty() && RingLow()) H2Unpin(s);
  Send(c);
  // The backend is read again once the stream's response has room, and the connection's.
  if (up && up->recv_paused && s->pending.charged() <= high_water_ / 2 &&
      H2Used(c) + ring_.buffer_size() <= H2Budget() && !Backlogged(c) &&
      (!up->splicing || (s->pending.empty() && !splice_shut))) {
    UnthrottleUpstream(up);
  }
  if (s->ex.ups && s->ex.ups->throttled && !H2Full(s)) H2UpUnthrottle(s->ex.ups);
  if (s->end_sent && s->resp_end && s->ex.resp == RespState::kDone) H2Finish(s);
}

// The trailer section, if the response has one, ends the stream as a HEADERS frame. The
// session drops what HTTP/2 does not allow in it and lowercases the names.
bool WorkerImpl::H2SendTrailers(H2Stream* s) {
  if (s->trailers.empty()) return false;
  h2_resp_fields_.clear();
  SplitFieldLines(s->trailers, &h2_resp_fields_);
  ClientConn* c = s->ex.client;
  const bool sent =
      c->h2->session.SubmitTrailers(s->id, {h2_resp_fields_.data(), h2_resp_fields_.size()});
  H2Flush(c);
  return sent;
}

void WorkerImpl::H2PumpAll(ClientConn* c) {
  std::vector<H2Stream*>& ready = h2_ready_;
  ready.clear();
  for (auto& [id, s] : c->h2->streams) {
    if (!s->pending.empty() || (s->resp_end && !s->end_sent) ||
        (s->ex.up && s->ex.up->recv_paused) || (s->ex.ups && s->ex.ups->throttled)) {
      ready.push_back(s);
    }
  }
  // Each round starts one stream further, so that while the socket's queue is the limit, the
  // streams take turns at it rather than the first ones in the table going first every time.
  if (ready.size() > 1) {
    const size_t first = c->h2->pump_turn++ % ready.size();
    std::rotate(ready.begin(), ready.begin() + static_cast<std::ptrdiff_t>(first), ready.end());
  }
  for (H2Stream* s : ready) {
    if (Backlogged(c)) break;
    H2Pump(s);
  }
}

// A response ringway makes itself: a head, and a short text body (that of the HTTP/1 error
// response of the same status), or a redirect to `location`.
void WorkerImpl::H2LocalReply(H2Stream* s, uint16_t status, std::string_view location) {
  ClientConn* c = s->ex.client;
  H2State* h = c->h2.get();
  AbortAttempt(&s->ex);
  H2ReleaseGrant(s);
  H2DropEarly(s);  // answered before it reached for a backend: it never will
  std::string_view body = location.empty() ? http1::ErrorBody(status) : std::string_view();
  char length[24];
  snprintf(length, sizeof(length), "%zu", body.size());
  if (s->ex.head_method) body = {};  // the length a GET would get, no body (RFC 9110 9.3.2)
  h2_resp_fields_.clear();
  if (!location.empty()) {
    h2_resp_fields_.push_back({"location", location});
  } else {
    h2_resp_fields_.push_back({"content-type", "text/plain"});
  }
  h2_resp_fields_.push_back({"content-length", length});
  if (status == 405) h2_resp_fields_.push_back({"allow", http1::kAllowedMethods});
  s->ex.status = status;
  s->ex.resp_bytes = body.size();
  s->head_sent = h->session.SubmitResponse(
      s->id, h2::Response(status, {h2_resp_fields_.data(), h2_resp_fields_.size()}), body.empty());
  if (body.empty()) s->end_sent = true;
  H2Flush(c);
  s->ex.resp = RespState::kDone;
  s->resp_end = true;
  if (!body.empty()) {
    std::string* str = AcquireString();
    str->assign(body);
    s->pending.Push({str->data(), static_cast<uint32_t>(str->size()), -1, str, StringCharge(*str)});
    h->pending_charged += s->pending.charged();
  }
  H2Pump(s);
  if (s->end_sent) H2Finish(s);
}

// The exchange is over: the log line, the backend let go, the window of any request body left
// given back, and a request body still coming stopped (RST_STREAM NO_ERROR, RFC 9113 section
// 8.1). The stream is freed at the end of the loop turn: callers up the stack may still hold
// its exchange.
void WorkerImpl::H2Finish(H2Stream* s) {
  if (s->finished) return;
  ClientConn* c = s->ex.client;
  H2State* h = c->h2.get();
  WriteAccessLog(&s->ex);
  AbortAttempt(&s->ex);
  if (s->uncredited) h->session.ConsumeData(s->id, s->uncredited);
  s->uncredited = 0;
  if (!s->req_done && !h->failed) h->session.ResetStream(s->id, h2::ErrorCode::kNoError);
  H2Retire(s);
  H2Flush(c);
}

void WorkerImpl::H2Retire(H2Stream* s) {
  H2State* h = s->ex.client->h2.get();
  h->active_ms = now_ms_;
  H2ReleaseGrant(s);
  H2DropEarly(s);
  ScheduleDeferred(s->ex.client);  // what it held may let a waiting stream go on
  s->finished = true;
  h->pending_charged -= s->pending.charged();
  s->pending.Clear([&](const SendPiece& p) { ReleasePiece(p); });
  h->streams.erase(s->id);
  dead_streams_.push_back(s);
  // The connection's pipe goes back once no stream splices into it (a stream reset while its
  // window was shut sends nothing more that would give it back).
  if (s->ex.client->pipe) SpliceSent(s->ex.client);
}

// The backend's queue drained: the window of the request bytes that waited goes back.
void WorkerImpl::H2Credit(H2Stream* s) {
  if (s->uncredited == 0 || s->finished) return;
  ClientConn* c = s->ex.client;
  c->h2->session.ConsumeData(s->id, s->uncredited);
  s->uncredited = 0;
  H2Flush(c);
}

// Response memory of one client connection, whatever its stream count: its streams' `pending`
// queues, its socket's queue and what its backends' receives may still bring (grants) stay
// within twice the queue cap (16 buffers of the default 16 KiB), a stream's `pending` within
// the cap. A backend is read only with a grant; without one it waits, paused. So a connection
// pins about as many buffers as an HTTP/1 one, not one receive's worth per stream.
uint64_t WorkerImpl::H2Used(const ClientConn* c) const {
  return c->h2->pending_charged + Charged(c) + c->h2->granted;
}

bool WorkerImpl::H2Full(const H2Stream* s) const {
  const ClientConn* c = s->ex.client;
  return s->pending.charged() > high_water_ || c->h2->pending_charged + Charged(c) >= H2Budget() ||
         Backlogged(c);
}

// The byte limit of the next receive from the stream's backend (whole buffers), taken from the
// connection's budget; 0: none left.
uint32_t WorkerImpl::H2GrantRecv(H2Stream* s) {
  ClientConn* c = s->ex.client;
  if (s->finished || c->closing) return ring_.buffer_size();  // (its bytes are dropped)
  H2ReleaseGrant(s);
  const uint64_t used = H2Used(c);
  const uint64_t budget = H2Budget();
  const uint64_t conn_room = used < budget ? budget - used : 0;
  const uint32_t bs = ring_.buffer_size();
  const uint64_t mine = s->pending.charged();
  const uint64_t cap = H2StreamCap(s);
  const uint64_t stream_room = mine < cap ? cap - mine : 0;
  const uint64_t room = std::min(conn_room, stream_room) / bs * bs;
  if (room == 0) {
    if (conn_room < bs) c->h2->budget_waiters = true;  // H2ReleaseGrant wakes the pump
    return 0;
  }
  s->granted = room;
  c->h2->granted += room;
  return static_cast<uint32_t>(room);
}

// A read from the stream's backend: a grant, or none (0) while the budget has no room. The TLS
// handshake and the response head are not held back: without a grant they get two buffers.
uint32_t WorkerImpl::H2RecvLimit(H2Stream* s, bool body, uint32_t limit) {
  const uint32_t granted = H2GrantRecv(s);
  if (granted != 0 || body) return granted;
  return std::min(limit, 2 * ring_.buffer_size());
}

// A stream reads ahead of the client's windows by two buffers at most: one whose window is
// shut holds little, and a handful of such streams cannot take the connection's budget.
uint64_t WorkerImpl::H2StreamCap(const H2Stream* s) {
  return std::min<uint64_t>(
      high_water_, s->ex.client->h2->session.SendWindow(s->id) + 2 * uint64_t{ring_.buffer_size()});
}

// A pooled backend connection's receive, armed before the stream took it, becomes the stream's
// grant if the budget has room for all of it (else it is cancelled and armed afresh).
bool WorkerImpl::H2AdoptRecv(H2Stream* s, uint32_t limit) {
  ClientConn* c = s->ex.client;
  H2ReleaseGrant(s);
  if (H2Used(c) + limit > H2Budget() || s->pending.charged() + limit > H2StreamCap(s)) {
    return false;
  }
  s->granted = limit;
  c->h2->granted += limit;
  return true;
}

// Response data that has to wait (the client's window is shut, or its socket is behind) gives
// its provided buffers back when the ring is more than half lent: it is copied to pooled
// strings. Connections whose clients do not read then hold heap memory within their budget,
// and the ring stays for the connections that move (as for HTTP/1, where only a socket's own
// queue, within its cap, pins buffers).
void WorkerImpl::H2Unpin(H2Stream* s) {
  H2State* h = s->ex.client->h2.get();
  const uint64_t before = s->pending.charged();
  s->pending.Rewrite([&](SendPiece& p) {
    if (p.bid < 0) return;
    std::string* str = AcquireString();
    str->assign(p.data, p.len);
    ReleasePiece(p);
    p = {str->data(), p.len, -1, str, StringCharge(*str)};
  });
  h->pending_charged = h->pending_charged - before + s->pending.charged();
}

// A completion of that receive: a buffer of the grant became data (charged to `pending` now),
// or the receive ended and the rest of the grant goes back.
void WorkerImpl::H2GrantUsed(H2Stream* s, bool data, bool ended) {
  if (s->finished) return;
  if (ended) return H2ReleaseGrant(s);
  if (data) {
    const uint64_t k = std::min<uint64_t>(s->granted, ring_.buffer_size());
    s->granted -= k;
    s->ex.client->h2->granted -= k;
  }
}

void WorkerImpl::H2ReleaseGrant(H2Stream* s) {
  H2State* h = s->ex.client->h2.get();
  h->granted -= s->granted;
  if (s->granted != 0 && h->budget_waiters) ScheduleDeferred(s->ex.client);  // room for them
  s->granted = 0;
}

}  // namespace ringway::proxy
