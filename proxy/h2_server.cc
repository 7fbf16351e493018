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
#include <sys/random.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <new>

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

// A Sec-WebSocket-Key: 16 random bytes in base64 (RFC 6455 section 4.1).
void WorkerImpl::MakeWebSocketKey(std::string* out) {
  unsigned char raw[16];
  if (getrandom(raw, sizeof(raw), GRND_NONBLOCK) != static_cast<ssize_t>(sizeof(raw))) {
    for (unsigned char& b : raw) b = static_cast<unsigned char>(NowNs() * 2654435761u >> 13);
  }
  static constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  out->clear();
  for (size_t i = 0; i < 15; i += 3) {
    const uint32_t v = (uint32_t{raw[i]} << 16) | (uint32_t{raw[i + 1]} << 8) | raw[i + 2];
    out->push_back(kB64[v >> 18]);
    out->push_back(kB64[(v >> 12) & 63]);
    out->push_back(kB64[(v >> 6) & 63]);
    out->push_back(kB64[v & 63]);
  }
  out->push_back(kB64[raw[15] >> 2]);
  out->push_back(kB64[(raw[15] & 3) << 4]);
  out->append("==");
}

h2::SessionLimits WorkerImpl::MakeH2Limits() const {
  h2::SessionLimits l;
  l.max_concurrent_streams = cfg_->http2.max_concurrent_streams;
  l.initial_stream_window = cfg_->http2.initial_window;
  l.connection_window = cfg_->http2.connection_window;
  l.max_frame_size = cfg_->http2.max_frame_size;
  l.max_header_list_size = cfg_->limits.max_header_size;
  l.abuse.max_rapid_resets = cfg_->http2.max_rapid_resets;
  l.abuse.glitch_budget = cfg_->http2.glitch_budget;
  l.enable_connect_protocol = true;  // WebSocket over HTTP/2 (RFC 8441)
  return l;
}

// From now on the connection speaks HTTP/2. Our SETTINGS go out at once (the server preface
// needs no wait for the client's, RFC 9113 section 3.4).
void WorkerImpl::StartH2(ClientConn* c) {
  c->kind = ConnKind::kH2Server;
  if (metrics_on_) {
    LSeries(c).closed[metrics::kHttp1].Add();
    LSeries(c).opened[metrics::kHttp2].Add();
  }
  c->proto = metrics::kHttp2;
  c->h2c_possible = false;
  c->h2 = std::make_unique<H2State>(this, c, h2_limits_, now_ms_);
  if (draining_) {  // (accepted as the drain began): GOAWAY once idle, as the others get
    c->h2->drain_wait = true;
    c->h2->active_ms = now_ms_;
    h2_draining_.push_back(c);
    ++c->inflight;  // the list refers to it
  }
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
  ClientEx(c)->resp = RespState::kDone;
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
    AbortAttempt(&s->ex);
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
  c->h2->active_ms = now_ms_;
  H2State* h = c->h2.get();
  H2Stream* s = NewH2Stream();
  s->id = id;
  s->req_done = end_stream;
  s->rx_ms = now_ms_;
  h->streams[id] = s;
  Exchange* ex = &s->ex;
  ex->client = c;
  ex->stream = s;
  if (TimeRequests()) ex->start_ns = now_ns_;
  if (cfg_->logging.access_log) {
    ex->log_method.assign(req.method);
    ex->log_target.assign(req.path.substr(0, 1024));
  }
  ex->head_method = req.method == "HEAD";
  ex->idempotent = IsIdempotent(req.method);
  ex->has_body = req.has_body;
  ex->resp = RespState::kWaiting;
  for (const hpack::HeaderField& f : req.fields) {
    if (f.name == "content-type") {
      const http1::Field ct{f.name, f.value};
      ex->grpc = IsGrpcRequest({&ct, 1});
      break;
    }
  }
  // Extended CONNECT (RFC 8441) for WebSocket becomes an HTTP/1.1 Upgrade to the backend;
  // plain CONNECT gets 405: ringway does not tunnel to arbitrary hosts.
  const bool websocket = req.is_connect && !req.protocol.empty();
  if (req.is_connect && !websocket) {
    H2LocalReply(s, 405);
    return;
  }
  if (websocket && !http1::EqualsIgnoreCase(req.protocol, "websocket")) {
    H2LocalReply(s, 501);
    return;
  }
  const std::string_view host = !req.authority.empty() ? req.authority : req.host;
  if (host.empty() || (req.scheme != "http" && req.scheme != "https")) {
    RW_LOG(LogLevel::kDebug, "client %s: HTTP/2 request without an authority or with scheme '%.*s'",
           c->peer_ip, static_cast<int>(req.scheme.size()), req.scheme.data());
    H2LocalReply(s, 400);
    return;
  }
  if (cfg_->limits.max_body_size && req.content_length &&
      *req.content_length > cfg_->limits.max_body_size) {
    ClientFail(&s->ex, 413);
    return;
  }
  s->chunked_up = req.has_body && !req.content_length && !websocket;
  s->tunnel = websocket;

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
    if (websocket && f.name == "sec-websocket-key") continue;  // (ours, below)
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
  if (websocket) {
    // RFC 8441 section 5: the HTTP/1.1 form of the same WebSocket opening handshake, with a key
    // of ours (HTTP/2 has none; the Sec-WebSocket-Accept it brings back is dropped).
    MakeWebSocketKey(&h2_ws_key_);
    h2_fields_.push_back({"Upgrade", "websocket"});
    h2_fields_.push_back({"Sec-WebSocket-Key", h2_ws_key_});
  }
  if (s->chunked_up) h2_fields_.push_back({"Transfer-Encoding", "chunked"});
  http1::RequestHead head;
  head.method = websocket ? std::string_view("GET") : req.method;
  head.target = req.path;
  head.origin = req.path;
  head.form = req.path == "*" ? http1::TargetForm::kAsterisk : http1::TargetForm::kOrigin;
  head.version_minor = 1;
  head.fields = std::span<const http1::Field>(h2_fields_.data(), h2_fields_.size());
  head.framing.host = host;
  head.framing.keep_alive = true;
  head.framing.content_length = req.content_length.value_or(0);
  head.framing.body = !req.has_body || websocket ? BodyKind::kNone
                      : s->chunked_up            ? BodyKind::kChunked
                      : *req.content_length      ? BodyKind::kContentLength
                                                 : BodyKind::kNone;
  head.framing.upgrade = websocket;
  ex->upgrade = websocket;
  ex->rt.Set(ClientRouting(c));
  if (!RouteExchange(ex, c->listener, c->tls != nullptr, head, host, req.path)) return;
  if (expect_continue && req.has_body) {  // the client may send its body now
    h->session.SubmitResponse(id, h2::Response(100), false);
    H2Flush(c);
  }
  // To an HTTP/2 backend the body goes as DATA, without chunked framing, and the head is made
  // from up_head when the stream opens (H2UpStart): `early` holds body bytes only.
  const bool h2_up = H2Upstream(ex->rt.get(), static_cast<uint32_t>(ex->upstream_index));
  if (h2_up && websocket) {  // (extended CONNECT to an HTTP/2 backend is not done)
    ClientFail(ex, 501);
    return;
  }
  if (h2_up && s->chunked_up) {
    s->chunked_up = false;
    h2_fields_.pop_back();  // the Transfer-Encoding added above
    head.fields = std::span<const http1::Field>(h2_fields_.data(), h2_fields_.size());
  }
  ex->up_head.clear();
  http1::WriteRequestHead(
      head,
      {.client_addr = c->peer_ip,
       .proto = c->tls ? "https" : "http",
       .pass_underscore_fields = c->rt->snap->config.listeners[c->listener].underscores_in_headers},
      &ex->up_head);
  // The backend is picked and connected to once the whole read is processed: a stream the
  // client resets in the same read (rapid reset) costs no backend connection. Until then its
  // head, and any body that came with it, wait in `early`.
  if (!h2_up) {
    std::string* up = AcquireString();
    up->assign(ex->up_head);
    s->early.Push({up->data(), static_cast<uint32_t>(up->size()), -1, up, StringCharge(*up)});
  }
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
  if (s->ex.ups != nullptr) {
    H2UpBody(&s->ex, p, n, bid);
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
  if (s == nullptr || s->finished ||
      (s->ex.up == nullptr && s->ex.ups == nullptr && !s->starting)) {
    // Nobody reads this body any more (answered, failed): released at once.
    h->session.ConsumeData(id, data.size());
    if (s && end_stream) s->req_done = true;
    return;
  }
  s->body_bytes += data.size();
  s->rx_ms = now_ms_;
  if (cfg_->limits.max_body_size && s->body_bytes > cfg_->limits.max_body_size && !s->tunnel) {
    h->session.ConsumeData(id, data.size());
    if (end_stream) s->req_done = true;
    if (s->ex.resp == RespState::kWaiting) {
      ClientFail(&s->ex, 413);
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
        data.data() + n <= h->feed_base + h->feed_len &&
        ((u != nullptr && u->sendq.empty()) || (s->ex.ups && s->ex.ups->body.empty()))) {
      bid = ShareBuffer(h->feed_bid, n);
    }
    H2QueueBody(s, data.data(), n, bid);
  }
  if (s->chunked_up) {
    if (n > 0) H2QueueBody(s, "\r\n", 2, -1);
    if (end_stream) H2QueueBody(s, "0\r\n\r\n", 5, -1);
  }
  if (s->ex.ups != nullptr) {
    // Given back as the bytes leave for the backend's stream (ClientUpstreamDrained).
    s->uncredited += n;
    if (!H2UpFull(&s->ex)) H2Credit(s);
  } else if (u == nullptr || Backlogged(u)) {
    s->uncredited += n;  // given back when the backend's queue drains (ClientUpstreamDrained)
  } else {
    h->session.ConsumeData(id, n);
  }
  if (end_stream && s->ex.ups != nullptr) H2UpBodyEnd(&s->ex, {});
  if (end_stream && s->tunnel && u != nullptr) {  // the client's half-close goes on
    s->req_done = true;
    if (Idle(u)) UpstreamDrained(u);
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
  if ((s->ex.ups != nullptr || (s->starting && !s->chunked_up && s->ex.up == nullptr)) &&
      !s->finished) {
    // To an HTTP/2 backend (or one it will reach once started: kept for H2UpStart).
    std::string& t = s->up_trailers;
    for (const hpack::HeaderField& f : fields) {
      t.append(f.name).append(": ").append(f.value).append("\r\n");
    }
    if (s->ex.ups != nullptr) H2UpBodyEnd(&s->ex, t);
  }
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
  AbortAttempt(&s->ex);
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
  if (!cfg_->logging.access_log && !metrics_on_) return;
  Exchange ex;
  ex.client = c;
  ex.status = status;
  ex.start_ns = now_ns_;
  ex.log_method.assign("-");
  ex.log_target.assign("-");
  WriteAccessLog(&ex);
}

// The streams' deadlines, every quarter of the shorter one. A request body that stops coming
// while ringway gives the window back (client_body): 408 before the response began, a reset
// after. Response data that waits for a window the client keeps shut (client_send): the
// stream is reset with CANCEL; a connection left with no stream is closed, with the GOAWAY.
void WorkerImpl::H2CheckStreams(ClientConn* c) {
  H2State* h = c->h2.get();
  const auto& t = cfg_->timeouts;
  std::vector<H2Stream*> due;  // (a rare path: its own vector, whatever the calls below do)
  // While ringway withholds window from a stream whose backend is slow, the connection's window
  // may be what keeps the client from sending the others' bodies: no body deadline then.
  bool withholding = false;
  for (auto& [id, s] : h->streams) withholding = withholding || s->uncredited > 0;
  for (auto& [id, s] : h->streams) {
    // A WebSocket tunnel lives while bytes flow either way (timeouts.tunnel).
    const uint64_t body_ms = s->tunnel ? t.tunnel_ms : t.client_body_ms;
    const bool body_late = !withholding && !s->req_done && s->ex.resp != RespState::kDone &&
                           now_ms_ - s->rx_ms >= body_ms;
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
      AbortAttempt(&s->ex);
      h->session.ResetStream(s->id, h2::ErrorCode::kCancel);
      s->end_sent = true;
      s->req_done = true;
      H2Finish(s);
    } else if (s->ex.resp == RespState::kWaiting) {
      RW_LOG(LogLevel::kDebug, "client %s: stream %u: request body timed out", c->peer_ip, s->id);
      H2LocalReply(s, 408);
    } else if (s->tunnel) {  // an idle WebSocket: not an error, a timeout (CANCEL)
      RW_LOG(LogLevel::kDebug, "client %s: stream %u: tunnel idle for %u ms; closed", c->peer_ip,
             s->id, t.tunnel_ms);
      AbortAttempt(&s->ex);
      h->session.ResetStream(s->id, h2::ErrorCode::kCancel);
      s->end_sent = true;
      s->req_done = true;
      H2Finish(s);
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
  for (H2Stream* s : dead_streams_) RecycleH2Stream(s);
  dead_streams_.clear();
}

namespace {

// A string's memory for the next user, when small: empty, its capacity kept.
std::string Reusable(std::string& s, size_t keep) {
  std::string out;
  if (s.capacity() <= keep) out.swap(s);
  out.clear();
  return out;
}

}  // namespace

ExchangeStrings ExchangeStrings::Take(Exchange* ex, size_t keep) {
  return {Reusable(ex->up_head, keep), Reusable(ex->log_method, keep),
          Reusable(ex->log_target, keep)};
}

void ExchangeStrings::PutBack(Exchange* ex) && {
  ex->up_head = std::move(up_head);
  ex->log_method = std::move(log_method);
  ex->log_target = std::move(log_target);
}

H2Stream* WorkerImpl::NewH2Stream() {
  if (spare_streams_.empty()) return new H2Stream;
  H2Stream* s = spare_streams_.back();
  spare_streams_.pop_back();
  return s;
}

// A finished stream (its queues released, its exchange detached) is rebuilt in place for the
// next one, keeping the buffers that are small.
void WorkerImpl::RecycleH2Stream(H2Stream* s) {
  if (spare_streams_.size() >= kSpareStreams || !s->pending.empty() || !s->early.empty()) {
    delete s;
    return;
  }
  ExchangeStrings strings = ExchangeStrings::Take(&s->ex, kKeepCapacity);
  SendQueue pending = std::move(s->pending);
  s->~H2Stream();
  new (s) H2Stream;
  std::move(strings).PutBack(&s->ex);
  s->pending = std::move(pending);
  spare_streams_.push_back(s);
}

}  // namespace ringway::proxy
