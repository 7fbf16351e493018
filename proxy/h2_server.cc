// HTTP/2 from clients: a connection becomes an HTTP/2 one by ALPN ("h2") or by the client
// preface on a plaintext listener (h2c with prior knowledge); its bytes go to the session
// (proto/h2_session.h), whose events start exchanges, one per stream, on the same routing,
// balancing and upstream code as HTTP/1. The backend is HTTP/1: a request head is rewritten as
// an HTTP/1.1 one (Host from :authority, cookies joined, a body without content-length sent
// chunked), and the response comes back as HEADERS and DATA frames whose payloads point into
// the backend's buffers.
//
// Flow control is the backpressure: request bytes are given back to the client's window
// (ConsumeData) only once the backend's queue has room, so a slow backend stalls its stream
// alone; response bytes wait in the stream's `pending` until the client's window lets them
// go, and the backend is throttled while they are over the cap.
#include <linux/sockios.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "proxy/worker_impl.h"

namespace ringway::proxy {

// ---- The session's events ---------------------------------------------------------------------

void H2Handler::OnRequest(uint32_t id, const h2::Request& req, bool end_stream) {
  w_->H2Request(c_, id, req, end_stream);
}
void H2Handler::OnData(uint32_t id, std::string_view data, bool end_stream) {
  w_->H2Data(c_, id, data, end_stream);
}
void H2Handler::OnTrailers(uint32_t id, std::span<const hpack::HeaderField> fields) {
  w_->H2Trailers(c_, id, fields);
}
void H2Handler::OnStreamClosed(uint32_t id, h2::ErrorCode code, bool by_peer) {
  w_->H2StreamClosed(c_, id, code, by_peer);
}
void H2Handler::OnSendWindow(uint32_t id) { w_->H2SendWindow(c_, id); }
void H2Handler::OnGoaway(uint32_t last_stream_id, h2::ErrorCode code, std::string_view debug) {
  RW_LOG(LogLevel::kDebug, "client %s: GOAWAY %.*s (last stream %u)", c_->peer_ip,
         static_cast<int>(h2::ErrorCodeName(code).size()), h2::ErrorCodeName(code).data(),
         last_stream_id);
}
void H2Handler::OnRequestRejected(uint32_t id, uint16_t status, const char* detail) {
  w_->H2Rejected(c_, id, status, detail);
}

// ---- The connection ---------------------------------------------------------------------------

h2::SessionLimits WorkerImpl::MakeH2Limits() const {
  h2::SessionLimits l;
  l.max_concurrent_streams = cfg_.http2.max_concurrent_streams;
  l.initial_stream_window = cfg_.http2.initial_window;
  l.connection_window = cfg_.http2.connection_window;
  l.max_frame_size = cfg_.http2.max_frame_size;
  l.max_header_list_size = cfg_.limits.max_header_size;
  l.abuse.max_rapid_resets = cfg_.http2.max_rapid_resets;
  l.abuse.glitch_budget = cfg_.http2.glitch_budget;
  return l;
}

// From now on the connection speaks HTTP/2. Our SETTINGS go out at once (the server preface
// needs no wait for the client's, RFC 9113 section 3.4).
void WorkerImpl::StartH2(ClientConn* c) {
  c->kind = ConnKind::kH2Server;
  c->h2c_possible = false;
  c->h2 = std::make_unique<H2State>(this, c, h2_limits_, now_ms_);
  H2Flush(c);
}

void WorkerImpl::H2Flush(ClientConn* c) {
  H2State* h = c->h2.get();
  if (h->session.output().empty()) return;
  std::string* s = AcquireString();
  h->session.TakeOutput(s);
  QueueOwned(c, s);
}

void WorkerImpl::H2Input(ClientConn* c, char* p, size_t n, int32_t bid) {
  H2State* h = c->h2.get();
  if (h->failed) {  // the GOAWAY is on its way; what the client still sends is dropped
    if (bid >= 0) ring_.Return(static_cast<uint16_t>(bid));
    return;
  }
  h->feed_base = p;
  h->feed_len = n;
  h->feed_bid = bid;
  h2::FeedResult r = h->session.Tick(now_ms_);
  if (r.ok) r = h->session.Feed(std::string_view(p, n));
  h->feed_bid = -1;
  H2StartStreams(c);
  if (bid >= 0) ring_.Return(static_cast<uint16_t>(bid));  // pieces hold their own references
  if (!r.ok) {
    if (r.error == h2::ErrorCode::kEnhanceYourCalm) {
      H2LogAbuse(c, r.detail);
    } else {
      RW_LOG(LogLevel::kDebug, "client %s: HTTP/2 connection error %.*s: %s", c->peer_ip,
             static_cast<int>(h2::ErrorCodeName(r.error).size()), h2::ErrorCodeName(r.error).data(),
             r.detail);
    }
    h->failed = true;
  }
  H2AfterEvents(c);
}

// A client cut for abuse (GOAWAY ENHANCE_YOUR_CALM): one line with what it did, counted by
// kind, so an operator sees which limit it met.
void WorkerImpl::H2LogAbuse(ClientConn* c, const char* detail) {
  const h2::AbuseStats& a = c->h2->session.abuse_stats();
  std::string counts;
  for (size_t k = 0; k < a.glitches.size(); ++k) {
    if (a.glitches[k] == 0) continue;
    const std::string_view name = h2::GlitchName(static_cast<h2::Glitch>(k));
    counts.append(" ").append(name).append("=").append(std::to_string(a.glitches[k]));
  }
  if (a.rapid_resets) counts.append(" rapid_resets=").append(std::to_string(a.rapid_resets));
  RW_LOG(LogLevel::kInfo, "client %s: HTTP/2 connection cut (ENHANCE_YOUR_CALM): %s;%s", c->peer_ip,
         detail, counts.c_str());
}

// After the session did something: its output joins the send queue, a finished or failed
// session closes the connection once that output is sent, and the idle timer runs while the
// connection carries no stream.
void WorkerImpl::H2AfterEvents(ClientConn* c) {
  if (c->closing) return;
  H2State* h = c->h2.get();
  if (h->failed && c->close_after) return;  // closing already: what is queued goes, then it ends
  H2Flush(c);
  if (h->failed || h->session.failed() || h->session.finished()) {
    H2CloseAfterFlush(c);
    return;
  }
  // A client that does not read what it is sent (its own PINGs' ACKs included) is not read
  // either until it does (ClientCaughtUp resumes).
  if (Backlogged(c)) PauseRecv(c);
  if (h->streams.empty()) {
    if (c->timer.kind != kTimerKeepalive && c->timer.kind != kTimerHeader) {
      ArmTimer(c, kTimerKeepalive);
    }
  } else if (c->timer.kind != kTimerH2Streams) {
    ArmTimer(c, kTimerH2Streams);
  }
}

// Ends every stream still open and closes once what is queued (the GOAWAY last) has gone.
void WorkerImpl::H2CloseAfterFlush(ClientConn* c) {
  H2State* h = c->h2.get();
  h->failed = true;
  H2DropStreams(c);
  c->close_after = true;
  c->req = ReqState::kDone;
  c->ex.resp = RespState::kDone;
  DisarmTimer(c);
  if (Idle(c) && !c->sending) ClientDrained(c);
}

// The client stays idle (no stream) for keepalive, or the worker shuts down.
void WorkerImpl::H2IdleClose(ClientConn* c) {
  c->h2->session.Close(h2::ErrorCode::kNoError, "idle");
  H2AfterEvents(c);
}

void WorkerImpl::H2Shutdown(ClientConn* c) {
  c->h2->session.Shutdown();
  H2AfterEvents(c);
}

// Streams that cannot finish (the connection ends): their backends are let go.
void WorkerImpl::H2DropStreams(ClientConn* c) {
  H2State* h = c->h2.get();
  std::vector<H2Stream*> live;
  live.reserve(h->streams.size());
  for (auto& [id, s] : h->streams) live.push_back(s);
  for (H2Stream* s : live) {
    if (s->ex.up) AbortUpstream(s->ex.up);
    s->uncredited = 0;
    H2Retire(s);
  }
}

// ---- Requests ---------------------------------------------------------------------------------

H2Stream* WorkerImpl::H2Find(ClientConn* c, uint32_t id) {
  H2State* h = c->h2.get();
  auto it = h->streams.find(id);
  return it == h->streams.end() ? nullptr : it->second;
}

void WorkerImpl::H2Request(ClientConn* c, uint32_t id, const h2::Request& req, bool end_stream) {
  H2State* h = c->h2.get();
  auto* s = new H2Stream;
  s->id = id;
  s->req_done = end_stream;
  s->rx_ms = now_ms_;
  h->streams[id] = s;
  Exchange* ex = &s->ex;
  ex->client = c;
  ex->stream = s;
  if (cfg_.logging.access_log) {
    ex->start_ns = NowNs();
    ex->log_method.assign(req.method);
    ex->log_target.assign(req.path.substr(0, 1024));
  }
  ex->head_method = req.method == "HEAD";
  ex->idempotent = IsIdempotent(req.method);
  ex->has_body = req.has_body;
  ex->resp = RespState::kWaiting;
  if (req.is_connect) {  // ringway does not tunnel
    H2LocalReply(s, 405);
    return;
  }
  const std::string_view host = !req.authority.empty() ? req.authority : req.host;
  if (host.empty() || (req.scheme != "http" && req.scheme != "https")) {
    RW_LOG(LogLevel::kDebug, "client %s: HTTP/2 request without an authority or with scheme '%.*s'",
           c->peer_ip, static_cast<int>(req.scheme.size()), req.scheme.data());
    H2LocalReply(s, 400);
    return;
  }
  if (cfg_.limits.max_body_size && req.content_length &&
      *req.content_length > cfg_.limits.max_body_size) {
    H2LocalReply(s, 413);
    return;
  }
  s->chunked_up = req.has_body && !req.content_length;

  // The HTTP/1.1 head for the backend: Host from :authority first, the cookie crumbs joined
  // into one field, te and expect left out (ringway answers 100-continue itself, as for
  // HTTP/1.1), a body of unknown length sent chunked.
  h2_fields_.clear();
  h2_fields_.push_back({"Host", host});
  bool cookies = false;
  bool expect_continue = false;
  for (const hpack::HeaderField& f : req.fields) {
    if (f.name == "expect") {
      expect_continue = expect_continue || http1::EqualsIgnoreCase(f.value, "100-continue");
      continue;
    }
    if (f.name == "host" || f.name == "te") continue;
    if (f.name == "cookie") {
      cookies = true;
      continue;
    }
    h2_fields_.push_back({f.name, f.value});
  }
  if (cookies) {
    h2::JoinCookies(req.fields, &h2_cookie_);
    h2_fields_.push_back({"Cookie", h2_cookie_});
  }
  if (s->chunked_up) h2_fields_.push_back({"Transfer-Encoding", "chunked"});
  http1::RequestHead head;
  head.method = req.method;
  head.target = req.path;
  head.origin = req.path;
  head.form = req.path == "*" ? http1::TargetForm::kAsterisk : http1::TargetForm::kOrigin;
  head.version_minor = 1;
  head.fields = std::span<const http1::Field>(h2_fields_.data(), h2_fields_.size());
  head.framing.host = host;
  head.framing.keep_alive = true;
  head.framing.content_length = req.content_length.value_or(0);
  head.framing.body = !req.has_body         ? BodyKind::kNone
                      : s->chunked_up       ? BodyKind::kChunked
                      : *req.content_length ? BodyKind::kContentLength
                                            : BodyKind::kNone;
  if (!RouteExchange(ex, c->listener, c->tls != nullptr, head, host, req.path)) return;
  if (expect_continue && req.has_body) {  // the client may send its body now
    h->session.SubmitResponse(id, h2::Response(100), false);
    H2Flush(c);
  }
  ex->up_head.clear();
  http1::WriteRequestHead(
      head,
      {.client_addr = c->peer_ip,
       .proto = c->tls ? "https" : "http",
       .pass_underscore_fields = cfg_.listeners[c->listener].underscores_in_headers},
      &ex->up_head);
  // The backend is picked and connected to once the whole read is processed: a stream the
  // client resets in the same read (rapid reset) costs no backend connection. Until then its
  // head, and any body that came with it, wait in `early`.
  std::string* up = AcquireString();
  up->assign(ex->up_head);
  s->early.Push({up->data(), static_cast<uint32_t>(up->size()), -1, up, StringCharge(*up)});
  s->starting = true;
  h->starting.push_back(s);
}

// A stream that will not reach for a backend any more: what waited for one goes.
void WorkerImpl::H2DropEarly(H2Stream* s) {
  s->starting = false;
  s->early.Clear([&](const SendPiece& p) { ReleasePiece(p); });
}

// The streams opened by the read just processed go to their backends, unless they already
// ended.
void WorkerImpl::H2StartStreams(ClientConn* c) {
  H2State* h = c->h2.get();
  if (h->starting.empty()) return;
  std::vector<H2Stream*> list;
  list.swap(h->starting);
  for (H2Stream* s : list) {
    if (!s->starting || s->ex.resp != RespState::kWaiting) continue;  // ended or answered
    s->starting = false;
    if (c->closing || h->failed || h->session.failed()) continue;  // (H2DropStreams ends it)
    Exchange* ex = &s->ex;
    const int pick = PickBackend(ex);
    if (pick < 0) {
      NoUsableBackend(ex);
      continue;
    }
    SendQueue first;
    std::swap(first, s->early);
    ConnectUpstream(ex, pick, &first);
    first.Clear([&](const SendPiece& p) { ReleasePiece(p); });  // (empty: swapped into u)
  }
}

// Request body bytes for the stream's backend: on its connection, or, before it has one, in
// `early` (copied: the backend may take a while to accept).
void WorkerImpl::H2QueueBody(H2Stream* s, const char* p, size_t n, int32_t bid) {
  if (s->ex.up != nullptr) {
    Queue(s->ex.up, p, n, bid);
    return;
  }
  if (bid >= 0) ring_.Return(static_cast<uint16_t>(bid));
  if (!s->early.AppendToTail(p, n, StringCharge)) {
    std::string* str = AcquireString();
    str->assign(p, n);
    s->early.Push({str->data(), static_cast<uint32_t>(n), -1, str, StringCharge(*str)});
  }
}

// Request body bytes. They go to the backend pointing into the buffer they arrived in (the
// DATA frames of several streams may share it: each piece holds its own reference), and their
// window is given back as soon as the backend's queue has room for more.
void WorkerImpl::H2Data(ClientConn* c, uint32_t id, std::string_view data, bool end_stream) {
  H2State* h = c->h2.get();
  H2Stream* s = H2Find(c, id);
  if (s == nullptr || s->finished || (s->ex.up == nullptr && !s->starting)) {
    // Nobody reads this body any more (answered, failed): released at once.
    h->session.ConsumeData(id, data.size());
    if (s && end_stream) s->req_done = true;
    return;
  }
  s->body_bytes += data.size();
  s->rx_ms = now_ms_;
  if (cfg_.limits.max_body_size && s->body_bytes > cfg_.limits.max_body_size) {
    h->session.ConsumeData(id, data.size());
    if (end_stream) s->req_done = true;
    if (s->ex.resp == RespState::kWaiting) {
      H2LocalReply(s, 413);
    } else {
      ClientAbort(&s->ex);
    }
    return;
  }
  UpstreamConn* u = s->ex.up;
  const size_t n = data.size();
  if (s->chunked_up && n > 0) {
    char line[24];
    const int len = snprintf(line, sizeof(line), "%zx\r\n", n);
    H2QueueBody(s, line, static_cast<size_t>(len), -1);
  }
  if (n > 0) {
    // The bytes go out of the receive buffer when the backend's queue is empty (they leave at
    // once, and the buffer with them); behind bytes still queued they are copied. So a stream
    // whose backend does not read pins no buffer: its window (initial_window) bounds what it
    // holds, and the client's DATA cannot empty the ring, however it splits its frames.
    int32_t bid = -1;
    if (h->feed_bid >= 0 && data.data() >= h->feed_base &&
        data.data() + n <= h->feed_base + h->feed_len && u != nullptr && u->sendq.empty()) {
      bid = ShareBuffer(h->feed_bid, n);
    }
    H2QueueBody(s, data.data(), n, bid);
  }
  if (s->chunked_up) {
    if (n > 0) H2QueueBody(s, "\r\n", 2, -1);
    if (end_stream) H2QueueBody(s, "0\r\n\r\n", 5, -1);
  }
  if (u == nullptr || Backlogged(u)) {
    s->uncredited += n;  // given back when the backend's queue drains (ClientUpstreamDrained)
  } else {
    h->session.ConsumeData(id, n);
  }
  if (end_stream) {
    s->req_done = true;
    if (s->end_sent && s->ex.resp == RespState::kDone) H2Finish(s);
  }
}

// A request's trailer section: to an HTTP/1 backend it can only go after a chunked body.
void WorkerImpl::H2Trailers(ClientConn* c, uint32_t id,
                            std::span<const hpack::HeaderField> fields) {
  H2Stream* s = H2Find(c, id);
  if (s == nullptr) return;
  s->req_done = true;
  if ((s->ex.up != nullptr || s->starting) && s->chunked_up && !s->finished) {
    std::string* t = AcquireString();
    t->append("0\r\n");
    for (const hpack::HeaderField& f : fields) {
      t->append(f.name).append(": ").append(f.value).append("\r\n");
    }
    t->append("\r\n");
    if (s->ex.up != nullptr) {
      QueueOwned(s->ex.up, t);
    } else {
      s->early.Push({t->data(), static_cast<uint32_t>(t->size()), -1, t, StringCharge(*t)});
    }
  }
  if (s->end_sent && s->ex.resp == RespState::kDone) H2Finish(s);
}

// The client reset the stream, or the session reset it for a stream error of the client's.
void WorkerImpl::H2StreamClosed(ClientConn* c, uint32_t id, h2::ErrorCode code, bool by_peer) {
  H2Stream* s = H2Find(c, id);
  if (s == nullptr) return;
  RW_LOG(LogLevel::kDebug, "client %s: stream %u %s %.*s", c->peer_ip, id,
         by_peer ? "reset by the client:" : "reset:",
         static_cast<int>(h2::ErrorCodeName(code).size()), h2::ErrorCodeName(code).data());
  if (s->ex.up) AbortUpstream(s->ex.up);
  s->end_sent = true;  // nothing more may be sent on it
  s->req_done = true;
  H2Finish(s);
}

void WorkerImpl::H2SendWindow(ClientConn* c, uint32_t id) {
  if (H2Stream* s = H2Find(c, id)) H2Pump(s);
}

// A request the session refused itself (malformed: RST_STREAM; header list too large: 431):
// it gets its access log line.
void WorkerImpl::H2Rejected(ClientConn* c, uint32_t id, uint16_t status, const char* detail) {
  RW_LOG(LogLevel::kDebug, "client %s: stream %u refused (%u): %s", c->peer_ip, id, status, detail);
  if (!cfg_.logging.access_log) return;
  Exchange ex;
  ex.client = c;
  ex.status = status;
  ex.start_ns = NowNs();
  ex.log_method.assign("-");
  ex.log_target.assign("-");
  WriteAccessLog(&ex);
}

// ---- Responses --------------------------------------------------------------------------------

void WorkerImpl::H2ResponseHead(H2Stream* s, UpstreamConn* u, const http1::ResponseHead& resp) {
  ClientConn* c = s->ex.client;
  H2State* h = c->h2.get();
  h2_resp_fields_.clear();
  for (const http1::Field& f : resp.fields) h2_resp_fields_.push_back({f.name, f.value});
  if (StickyCookie(&s->ex, u, &h2_sticky_)) h2_resp_fields_.push_back({"set-cookie", h2_sticky_});
  if (c->tls && s->ex.server >= 0) {
    const config::Server& srv = cfg_.servers[static_cast<size_t>(s->ex.server)];
    bool has_sts = false;
    for (const auto& f : resp.fields) {
      has_sts = has_sts || http1::EqualsIgnoreCase(f.name, "strict-transport-security");
    }
    if (!srv.hsts.empty() && !has_sts) {
      h2_resp_fields_.push_back({"strict-transport-security", srv.hsts});
    }
  }
  const bool no_body =
      u->body == BodyKind::kNone || (u->body == BodyKind::kContentLength && u->left == 0);
  s->ex.status = resp.status;
  s->ex.resp = RespState::kStreaming;
  s->head_sent = h->session.SubmitResponse(
      s->id, h2::Response(resp.status, {h2_resp_fields_.data(), h2_resp_fields_.size()}), no_body);
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
  if (!shut) {
    s->stalled_ms = 0;
  } else if (s->stalled_ms == 0 || s->pending.bytes() != bytes_before) {
    s->stalled_ms = now_ms_;  // (progress restarts the deadline)
  }
  if (!s->pending.empty() && RingLow()) H2Unpin(s);
  Send(c);
  // The backend is read again once the stream's response has room, and the connection's.
  if (s->ex.up && s->ex.up->recv_paused && s->pending.charged() <= high_water_ / 2 &&
      H2Used(c) + ring_.buffer_size() <= H2Budget() && !Backlogged(c)) {
    UnthrottleUpstream(s->ex.up);
  }
  if (s->end_sent && s->resp_end && s->ex.resp == RespState::kDone) H2Finish(s);
}

// The trailer section, if the response has one, ends the stream as a HEADERS frame. The
// session drops what HTTP/2 does not allow in it and lowercases the names.
bool WorkerImpl::H2SendTrailers(H2Stream* s) {
  if (s->trailers.empty()) return false;
  h2_resp_fields_.clear();
  std::string_view rest = s->trailers;
  while (!rest.empty()) {
    const size_t eol = rest.find("\r\n");
    std::string_view line = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 2);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) continue;  // (the decoder refuses these)
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    h2_resp_fields_.push_back({line.substr(0, colon), value});
  }
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
        (s->ex.up && s->ex.up->recv_paused)) {
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
  if (s->ex.up) AbortUpstream(s->ex.up);
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
  if (s->ex.up) AbortUpstream(s->ex.up);
  if (s->uncredited) h->session.ConsumeData(s->id, s->uncredited);
  s->uncredited = 0;
  if (!s->req_done && !h->failed) h->session.ResetStream(s->id, h2::ErrorCode::kNoError);
  H2Retire(s);
  H2Flush(c);
}

void WorkerImpl::H2Retire(H2Stream* s) {
  H2State* h = s->ex.client->h2.get();
  H2ReleaseGrant(s);
  H2DropEarly(s);
  ScheduleDeferred(s->ex.client);  // what it held may let a waiting stream go on
  s->finished = true;
  h->pending_charged -= s->pending.charged();
  s->pending.Clear([&](const SendPiece& p) { ReleasePiece(p); });
  h->streams.erase(s->id);
  dead_streams_.push_back(s);
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

// The streams' deadlines, every quarter of the shorter one. A request body that stops coming
// while ringway gives the window back (client_body): 408 before the response began, a reset
// after. Response data that waits for a window the client keeps shut (client_send): the
// stream is reset with CANCEL; a connection left with no stream is closed, with the GOAWAY.
void WorkerImpl::H2CheckStreams(ClientConn* c) {
  H2State* h = c->h2.get();
  const auto& t = cfg_.timeouts;
  std::vector<H2Stream*> due;  // (a rare path: its own vector, whatever the calls below do)
  // While ringway withholds window from a stream whose backend is slow, the connection's window
  // may be what keeps the client from sending the others' bodies: no body deadline then.
  bool withholding = false;
  for (auto& [id, s] : h->streams) withholding = withholding || s->uncredited > 0;
  for (auto& [id, s] : h->streams) {
    const bool body_late = !withholding && !s->req_done && s->ex.resp != RespState::kDone &&
                           now_ms_ - s->rx_ms >= t.client_body_ms;
    const bool send_late = s->stalled_ms != 0 && now_ms_ - s->stalled_ms >= t.client_send_ms;
    if (body_late || send_late) due.push_back(s);
  }
  bool window_cut = false;
  for (H2Stream* s : due) {
    if (s->finished) continue;
    if (s->stalled_ms != 0 && now_ms_ - s->stalled_ms >= t.client_send_ms) {
      RW_LOG(LogLevel::kDebug, "client %s: stream %u: window shut for %u ms; reset", c->peer_ip,
             s->id, t.client_send_ms);
      window_cut = true;
      if (s->ex.up) AbortUpstream(s->ex.up);
      h->session.ResetStream(s->id, h2::ErrorCode::kCancel);
      s->end_sent = true;
      s->req_done = true;
      H2Finish(s);
    } else if (s->ex.resp == RespState::kWaiting) {
      RW_LOG(LogLevel::kDebug, "client %s: stream %u: request body timed out", c->peer_ip, s->id);
      H2LocalReply(s, 408);
    } else {
      ClientAbort(&s->ex);
    }
  }
  if (window_cut && h->streams.empty()) {
    // Nothing else runs on it. A client whose kernel still holds what was sent to it reads
    // nothing at all: it is cut at once (as an HTTP/1 client past client_send), since a GOAWAY
    // would wait behind those bytes for ever. One that reads gets the GOAWAY.
    int unsent = 0;
    if (ioctl(c->fd, SIOCOUTQ, &unsent) == 0 && unsent > 0) {
      RW_LOG(LogLevel::kDebug, "client %s: reads nothing (%d bytes unread); cut", c->peer_ip,
             unsent);
      ResetConn(c);
      return;
    }
    h->session.Close(h2::ErrorCode::kNoError, "send timeout");
  }
  H2AfterEvents(c);
}

void WorkerImpl::FreeDeadStreams() {
  for (H2Stream* s : dead_streams_) delete s;
  dead_streams_.clear();
}

}  // namespace ringway::proxy
