// The HTTP/2 upstream side (protocol h2 or h2c): connections per backend that multiplex the
// exchanges as streams, the request mapped to a stream (head, body, trailers), the response
// mapped back to the client side (HTTP/1.1 or HTTP/2), resets both ways, GOAWAY, PING, and
// the per-stream deadlines. See proxy/h2_up.h.
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
// Request body bytes a stream keeps a copy of after sending them, for a replay.
constexpr size_t kReplayMax = 16 * 1024;

std::string_view ReasonPhrase(uint16_t status) {
  switch (status) {
    case 100:
      return "Continue";
    case 103:
      return "Early Hints";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 413:
      return "Content Too Large";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "";
  }
}

// grpc-timeout (gRPC over HTTP/2): 1 to 8 digits and a unit; the time in milliseconds, rounded
// up, or 0 when the value is not one.
uint64_t ParseGrpcTimeout(std::string_view v) {
  if (v.size() < 2 || v.size() > 9) return 0;
  uint64_t n = 0;
  for (char ch : v.substr(0, v.size() - 1)) {
    if (ch < '0' || ch > '9') return 0;
    n = n * 10 + static_cast<uint64_t>(ch - '0');
  }
  switch (v.back()) {
    case 'H':
      return n * 3'600'000;
    case 'M':
      return n * 60'000;
    case 'S':
      return n * 1000;
    case 'm':
      return n;
    case 'u':
      return (n + 999) / 1000;
    case 'n':
      return (n + 999'999) / 1'000'000;
    default:
      return 0;
  }
}

bool IsGrpcContentType(std::string_view v) {
  constexpr std::string_view kGrpc = "application/grpc";
  if (v.size() < kGrpc.size()) return false;
  for (size_t i = 0; i < kGrpc.size(); ++i) {
    char ch = v[i];
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch + 32);
    if (ch != kGrpc[i]) return false;
  }
  return v.size() == kGrpc.size() || v[kGrpc.size()] == '+' || v[kGrpc.size()] == ';';
}

}  // namespace

bool IsGrpcRequest(std::span<const http1::Field> fields) {
  for (const http1::Field& f : fields) {
    if (http1::EqualsIgnoreCase(f.name, "content-type")) return IsGrpcContentType(f.value);
  }
  return false;
}

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
  const config::Backend& b = *rt->snap->backends[backend];
  absl::StatusOr<int> fd = core::NewTcpSocket(b.address.storage.ss_family);
  if (!fd.ok()) {
    RW_LOG(LogLevel::kError, "upstream %s: %s", BackendName(rt, backend),
           std::string(fd.status().message()).c_str());
    return nullptr;
  }
  auto* u = new UpstreamConn;
  u->kind = ConnKind::kH2Client;
  u->upstream = true;
  u->fd = *fd;
  u->rt.Set(rt);
  u->backend = backend;
  u->connect_ns = metrics_on_ ? now_ns_ : 0;
  u->state = UpState::kConnecting;
  const uint32_t upstream = rt->snap->backend_upstream[backend];
  if (const tls::ContextSet* set = rt == rt_ ? TlsContexts() : rt->snap->tls->Current().get();
      set && upstream < set->upstreams.size() && set->upstreams[upstream]) {
    u->tls = std::make_unique<tls::Session>(*set->upstreams[upstream]);
  }
  u->h2 = std::make_unique<H2UpState>(this, u, h2_up_limits_, now_ms_);
  u->h2->idle_ms = now_ms_;
  u->h2->rx_ms = now_ms_;
  io_uring_sqe* sqe = ring_.GetSqe();
  io_uring_prep_connect(sqe, u->fd, reinterpret_cast<const sockaddr*>(&b.address.storage),
                        b.address.len);
  io_uring_sqe_set_data64(sqe, Tag(u, Op::kConnect));
  ++u->inflight;
  ArmTimer(u, kTimerConnect);
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

// ---- Streams -------------------------------------------------------------------------------

// An attempt on backend `backend` (global index): a stream on one of its connections. `carry`
// holds request body bytes an earlier attempt did not send (its pieces move here).
void WorkerImpl::H2UpStart(Exchange* ex, uint32_t backend, SendQueue* carry) {
  Routing* rt = ex->rt.get();
  const uint32_t upstream = static_cast<uint32_t>(ex->upstream_index);
  UpstreamConn* u = H2UpConn(rt, backend);
  if (u == nullptr) {
    ClientFail(ex, 502);
    return;
  }
  auto* us = new UpStream;
  us->ex = ex;
  us->conn = u;
  us->backend = backend;
  ex->ups = us;
  if (carry) std::swap(us->body, *carry);
  us->req_end = RequestComplete(ex);
  if (ex->stream) us->req_trailers = ex->stream->up_trailers;  // (trailers that came early)
  // The head: the HTTP/1.1 one made for this request (X-Forwarded-*, Host, the fields a proxy
  // drops), written as HTTP/2 fields. WriteRequestHead made it, so its lines are known to be
  // well formed ("METHOD target HTTP/1.1", then "Name: value" lines): they are split, not parsed.
  std::string_view rest = ex->up_head;
  auto next_line = [&rest]() {
    const size_t eol = rest.find("\r\n");
    std::string_view line = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 2);
    return line;
  };
  const std::string_view request_line = next_line();
  const size_t sp1 = request_line.find(' ');
  const size_t sp2 = request_line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 <= sp1) {  // (never: ringway wrote it)
    ex->ups = nullptr;
    ClientFail(ex, 502);
    H2UpDelete(us);
    return;
  }
  const config::Upstream& up = rt->snap->config.upstreams[upstream];
  std::string& text = us->head_text;
  text.reserve(ex->up_head.size() + 64);
  // Views into `text` are taken once it stops growing: first offsets, then the fields.
  std::vector<std::array<uint32_t, 4>>& spans = h2_up_spans_;
  spans.clear();
  auto add = [&](std::string_view name, std::string_view value, bool lower) {
    std::array<uint32_t, 4> sp;
    sp[0] = static_cast<uint32_t>(text.size());
    for (char ch : name) {
      text.push_back(lower && ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch + 32) : ch);
    }
    sp[1] = static_cast<uint32_t>(text.size());
    text.append(value);
    sp[2] = sp[1];
    sp[3] = static_cast<uint32_t>(text.size());
    spans.push_back(sp);
  };
  add(":method", request_line.substr(0, sp1), false);
  add(":scheme", up.tls.enabled ? "https" : "http", false);
  const size_t authority = spans.size();
  add(":authority", "", false);  // (its value is the Host line's, filled in below)
  add(":path", request_line.substr(sp1 + 1, sp2 - sp1 - 1), false);
  if (ex->grpc) add("te", "trailers", false);  // gRPC servers look for it
  std::string_view host;
  for (std::string_view line = next_line(); !line.empty(); line = next_line()) {
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view n = line.substr(0, colon);
    std::string_view v = line.substr(colon + 1);
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    if (http1::EqualsIgnoreCase(n, "host")) {
      host = v;
      continue;
    }
    if (http1::EqualsIgnoreCase(n, "connection") || http1::EqualsIgnoreCase(n, "keep-alive") ||
        http1::EqualsIgnoreCase(n, "proxy-connection") ||
        http1::EqualsIgnoreCase(n, "transfer-encoding") || http1::EqualsIgnoreCase(n, "upgrade") ||
        http1::EqualsIgnoreCase(n, "te")) {
      continue;
    }
    if (ex->grpc && http1::EqualsIgnoreCase(n, "grpc-timeout")) {
      const uint64_t ms = ParseGrpcTimeout(v);
      if (ms > 0 && ms < cfg_->timeouts.upstream_response_ms) {
        us->grpc_deadline_ms = now_ms_ + ms;
      }
    }
    add(n, v, true);
  }
  // :authority's value goes at the end of the text (offsets stay valid).
  spans[authority][2] = static_cast<uint32_t>(text.size());
  text.append(host);
  spans[authority][3] = static_cast<uint32_t>(text.size());
  us->head.reserve(spans.size());
  const std::string_view all = text;
  for (const auto& sp : spans) {
    us->head.push_back({all.substr(sp[0], sp[1] - sp[0]), all.substr(sp[2], sp[3] - sp[2])});
  }
  // The balancer's view, as for HTTP/1 (EndAttempt).
  UpstreamRuntime& r = rt->ups[upstream];
  us->lb_open = true;
  if (metrics_on_) metrics_->backends.At(rt->snap->backend_series[backend]).started.Add();
  if (r.latency || metrics_on_) us->sent_ns = now_ns_;
  r.balancer->OnStart(backend - rt->snap->backend_base[upstream]);
  us->deadline_ms = now_ms_ + cfg_->timeouts.upstream_response_ms;
  H2UpState* h = u->h2.get();
  ++h->reserved;
  h->idle_ms = 0;
  if (h->ready && h->waiting.empty() && h->session.OpenableStreams() > 0) {
    H2UpOpenStream(us);
    H2UpFlush(u);
  } else {
    us->counted = true;
    h->waiting.push_back(us);
  }
}

void WorkerImpl::H2UpOpenStream(UpStream* us) {
  UpstreamConn* u = us->conn;
  H2UpState* h = u->h2.get();
  const bool end = us->req_end && us->body.empty() && us->req_trailers.empty();
  const uint32_t id = h->session.SubmitRequest({us->head.data(), us->head.size()}, end);
  if (id == 0) {  // (no room after all: the session failed, or the backend said GOAWAY)
    H2UpRefused(us, 502, /*same_backend=*/true);
    return;
  }
  us->id = id;
  us->end_sent = end;
  h->streams[id] = us;
  us->deadline_ms = now_ms_ + cfg_->timeouts.upstream_response_ms;
  if (!end) H2UpPumpBody(us);
}

// Moves what the stream's send window allows from `body` to the connection's queue: a DATA
// frame header, then the bytes as they are. Then END_STREAM (or the trailers) once the client's
// request has ended.
void WorkerImpl::H2UpPumpBody(UpStream* us) {
  UpstreamConn* u = us->conn;
  if (us->id == 0 || us->end_sent || u->closing) return;
  H2UpState* h = u->h2.get();
  char hdr[h2::kFrameHeaderSize];
  const uint64_t before = us->body.bytes();
  while (!us->body.empty() && !Backlogged(u)) {
    const uint32_t room = h->session.SendableBytes(us->id);
    if (room == 0) break;  // OnSendWindow calls again
    const SendPiece f = us->body.Front();
    const uint32_t k = std::min(room, f.len);
    const bool end = us->req_end && k == us->body.bytes() && us->req_trailers.empty();
    H2UpFlush(u);
    if (!h->session.PrepareData(us->id, k, end, hdr)) break;
    if (us->replay_ok) {
      if (us->replay.size() + k <= kReplayMax) {
        us->replay.append(f.data, k);
      } else {
        us->replay_ok = false;
        std::string().swap(us->replay);
      }
    }
    Queue(u, hdr, sizeof(hdr), -1);
    if (k == f.len) {
      u->sendq.Push(f);
      us->body.Advance(k, [](const SendPiece&) {});
    } else if (f.bid >= 0) {
      ring_.Ref(static_cast<uint16_t>(f.bid));
      u->sendq.Push({f.data, k, f.bid, nullptr, ring_.buffer_size()});
      us->body.Advance(k, [&](const SendPiece& p) { ReleasePiece(p); });
    } else {
      Queue(u, f.data, k, -1);
      us->body.Advance(k, [&](const SendPiece& p) { ReleasePiece(p); });
    }
    us->body_sent += k;
    us->deadline_ms = now_ms_ + cfg_->timeouts.upstream_response_ms;  // (progress)
    if (end) us->end_sent = true;
  }
  if (us->body.empty() && us->req_end && !us->end_sent) {
    H2UpFlush(u);
    bool sent = false;
    if (!us->req_trailers.empty()) {
      std::vector<hpack::HeaderField>& t = h2_resp_fields_;
      t.clear();
      SplitFieldLines(us->req_trailers, &t);
      sent = h->session.SubmitTrailers(us->id, {t.data(), t.size()});
    }
    if (!sent && h->session.PrepareData(us->id, 0, true, hdr)) Queue(u, hdr, sizeof(hdr), -1);
    us->end_sent = true;
    H2UpFlush(u);
  }
  Send(u);
  // Progress: the client may send more (its window, or its socket).
  if (us->ex && us->body.bytes() < before && us->body.charged() <= high_water_ / 2) {
    ClientUpstreamDrained(us->ex);
  }
}

// Request body bytes for the exchange's stream. `bid` >= 0: one reference of that buffer is
// given with them.
void WorkerImpl::H2UpBody(Exchange* ex, const char* p, size_t n, int32_t bid) {
  UpStream* us = ex->ups;
  if (n == 0) {
    if (bid >= 0) ring_.Return(static_cast<uint16_t>(bid));
    return;
  }
  if (bid >= 0 && n > kCopyBelow && !RingLow()) {
    us->body.Push({p, static_cast<uint32_t>(n), bid, nullptr, ring_.buffer_size()});
  } else {
    if (bid >= 0) ring_.Return(static_cast<uint16_t>(bid));
    if (!us->body.AppendToTail(p, n, StringCharge)) {
      std::string* str = AcquireString();
      str->assign(p, n);
      us->body.Push({str->data(), static_cast<uint32_t>(n), -1, str, StringCharge(*str)});
    }
  }
  H2UpPumpBody(us);
}

// The client's request ended; `trailers` ("name: value\r\n" lines) go as a HEADERS frame.
void WorkerImpl::H2UpBodyEnd(Exchange* ex, std::string_view trailers) {
  UpStream* us = ex->ups;
  if (us == nullptr || us->req_end) return;
  us->req_end = true;
  us->req_trailers.assign(trailers);
  H2UpPumpBody(us);
}

// Whether the stream's request body queue is over the cap (the client is not read meanwhile).
bool WorkerImpl::H2UpFull(const Exchange* ex) const {
  return ex->ups != nullptr && ex->ups->body.charged() > high_water_;
}

void WorkerImpl::H2UpSendWindow(UpstreamConn* u, uint32_t id) {
  auto it = u->h2->streams.find(id);
  if (it != u->h2->streams.end()) H2UpPumpBody(it->second);
}

UpStream* WorkerImpl::H2UpFind(UpstreamConn* u, uint32_t id) {
  auto it = u->h2->streams.find(id);
  return it == u->h2->streams.end() ? nullptr : it->second;
}

void WorkerImpl::H2UpResponse(UpstreamConn* u, uint32_t id, const h2::ResponseHead& head,
                              bool end_stream) {
  UpStream* us = H2UpFind(u, id);
  if (us == nullptr || us->ex == nullptr) return;
  Exchange* ex = us->ex;
  us->deadline_ms = now_ms_ + cfg_->timeouts.upstream_response_ms;
  scratch_fields_.clear();
  for (const hpack::HeaderField& f : head.fields) scratch_fields_.push_back({f.name, f.value});
  http1::ResponseHead resp;
  resp.status = head.status;
  resp.reason = ReasonPhrase(head.status);
  if (head.status < 200) {
    resp.fields = {scratch_fields_.data(), scratch_fields_.size()};
    ClientInterim(ex, resp);
    return;
  }
  us->head_done = true;
  us->replay_ok = false;  // processed: never sent again
  std::string().swap(us->replay);
  ObserveResponseHead(u->rt.get(), us->backend, head.status, us->lb_open, us->sent_ns,
                      &us->ttfb_ns);
  const bool no_content = ex->head_method || head.status == 204 || head.status == 304;
  RespSource src{u->rt.get(), us->backend, BodyKind::kNone, 0, false};
  if (no_content) {
    src.body = BodyKind::kNone;
  } else if (head.content_length) {
    src.body = BodyKind::kContentLength;
    src.left = *head.content_length;
  } else if (end_stream) {
    src.body = BodyKind::kContentLength;  // an HTTP/1 client needs the length said
    if (!ex->stream) scratch_fields_.push_back({"content-length", "0"});
  } else if (ex->stream == nullptr && !ex->client->http10) {
    src.body = BodyKind::kChunked;
    us->chunk_out = true;
    scratch_fields_.push_back({"transfer-encoding", "chunked"});
  } else {
    src.body = ex->stream ? BodyKind::kChunked : BodyKind::kUntilClose;
  }
  resp.fields = {scratch_fields_.data(), scratch_fields_.size()};
  resp.framing.body = src.body;
  resp.framing.content_length = src.left;
  ClientResponseHead(ex, src, resp, /*tunnel=*/false);
  if (end_stream) H2UpResponseDone(us);
}

// Response body bytes: to the client side, pointing into the receive buffer while the ring has
// room; their window goes back to the backend once the client side has room for more.
void WorkerImpl::H2UpData(UpstreamConn* u, uint32_t id, std::string_view data, bool end_stream) {
  H2UpState* h = u->h2.get();
  UpStream* us = H2UpFind(u, id);
  if (us == nullptr || us->ex == nullptr || !us->head_done) {
    h->session.ConsumeData(id, data.size());
    return;
  }
  Exchange* ex = us->ex;
  us->deadline_ms = now_ms_ + cfg_->timeouts.upstream_response_ms;
  const size_t n = data.size();
  if (n > 0) {
    ex->resp_bytes += n;
    if (us->chunk_out) {
      char line[24];
      const int len = snprintf(line, sizeof(line), "%zx\r\n", n);
      ClientResponseData(ex, line, static_cast<size_t>(len), -1);
    }
    int32_t bid = -1;
    if (h->feed_bid >= 0 && !RingLow() && data.data() >= h->feed_base &&
        data.data() + n <= h->feed_base + h->feed_len) {
      bid = ShareBuffer(h->feed_bid, n);
    }
    const bool last = end_stream && !us->chunk_out;
    if (!ClientResponseData(ex, data.data(), n, bid, last) && bid >= 0) {
      ring_.Return(static_cast<uint16_t>(bid));
    }
    if (us->chunk_out) ClientResponseData(ex, "\r\n", 2, -1);
    us->uncredited += n;
    if (ClientFull(ex)) {
      us->throttled = true;
    } else {
      h->session.ConsumeData(id, us->uncredited);
      us->uncredited = 0;
    }
  }
  if (end_stream) H2UpResponseDone(us);
}

// The client side caught up: the response bytes it took go back to the backend's window.
void WorkerImpl::H2UpUnthrottle(UpStream* us) {
  if (!us->throttled || us->conn->closing) return;
  us->throttled = false;
  H2UpState* h = us->conn->h2.get();
  if (us->uncredited && us->id) h->session.ConsumeData(us->id, us->uncredited);
  us->uncredited = 0;
  H2UpFlush(us->conn);
}

void WorkerImpl::H2UpTrailers(UpstreamConn* u, uint32_t id,
                              std::span<const hpack::HeaderField> fields) {
  UpStream* us = H2UpFind(u, id);
  if (us == nullptr || us->ex == nullptr) return;
  if (!us->head_done) {  // (the session makes sure of this; kept for safety)
    H2UpFail(us, 502, "trailers before the response head");
    return;
  }
  std::string& t = us->resp_trailers;
  t.clear();
  for (const hpack::HeaderField& f : fields) {
    t.append(f.name).append(": ").append(f.value).append("\r\n");
  }
  H2UpResponseDone(us);
}

// The response ended (END_STREAM): the client side finishes it, and the stream is done.
void WorkerImpl::H2UpResponseDone(UpStream* us) {
  Exchange* ex = us->ex;
  UpstreamConn* u = us->conn;
  us->resp_done = true;
  if (us->chunk_out) {
    std::string* s = AcquireString();
    s->append("0\r\n").append(us->resp_trailers).append("\r\n");
    ex->resp_bytes += s->size();
    ClientResponseData(ex, s->data(), s->size(), -1, true);
    ReleaseString(s);
  } else if (!us->resp_trailers.empty()) {
    ClientResponseTrailers(ex, &us->resp_trailers);
  }
  H2UpEndAttempt(us, AttemptEnd::kOk);
  // The request may still be sending (a response before the whole body: the body stops).
  if (us->id && !us->end_sent) u->h2->session.ResetStream(us->id, h2::ErrorCode::kNoError);
  if (us->uncredited && us->id) u->h2->session.ConsumeData(us->id, us->uncredited);
  us->uncredited = 0;
  ex->ups = nullptr;
  us->ex = nullptr;
  H2UpDetach(us);
  ClientResponseDone(ex);
}

void WorkerImpl::H2UpEndAttempt(UpStream* us, AttemptEnd how) {
  if (!us->lb_open) return;
  us->lb_open = false;
  EndAttemptOn(us->conn->rt.get(), us->backend, us->ttfb_ns, how);
}

// The backend reset the stream (or the session did, for a malformed response).
void WorkerImpl::H2UpStreamClosed(UpstreamConn* u, uint32_t id, h2::ErrorCode code, bool by_peer) {
  UpStream* us = H2UpFind(u, id);
  if (us == nullptr) return;
  u->h2->streams.erase(id);
  us->id = 0;
  if (us->ex == nullptr) {
    H2UpDetach(us);
    return;
  }
  RW_LOG(LogLevel::kDebug, "upstream %s: stream %u %s %.*s", BackendName(u), id,
         by_peer ? "reset by the backend:" : "reset (malformed response):",
         static_cast<int>(h2::ErrorCodeName(code).size()), h2::ErrorCodeName(code).data());
  if (by_peer && code == h2::ErrorCode::kRefusedStream && !us->head_done) {
    H2UpRefused(us, 502, /*same_backend=*/true);  // never processed (RFC 9113 8.7)
    return;
  }
  if (!by_peer) {
    RW_LOG(LogLevel::kWarn, "upstream %s: malformed HTTP/2 response on stream %u", BackendName(u),
           id);
  }
  if (metrics_on_) {
    USeries(u->rt.get(), u->rt->snap->backend_upstream[us->backend]).h2_reset_by_backend.Add();
  }
  H2UpFail(us, 502, by_peer ? "backend_reset" : "malformed_response");
}

// A stream the backend did not process (REFUSED_STREAM, above a GOAWAY's last-stream-id, or on
// a connection that never connected): tried again elsewhere, when the body can be replayed.
void WorkerImpl::H2UpRefused(UpStream* us, uint16_t status, bool same_backend) {
  Exchange* ex = us->ex;
  if (ex == nullptr) {
    H2UpDetach(us);
    return;
  }
  const uint32_t backend = us->backend;
  if (metrics_on_ && same_backend) {
    USeries(us->conn->rt.get(), us->conn->rt->snap->backend_upstream[backend]).h2_refused.Add();
  }
  H2UpEndAttempt(us, AttemptEnd::kCancel);
  const bool replayable = us->body_sent == 0 || us->replay_ok;
  SendQueue carry;
  if (us->body_sent > 0 && us->replay_ok) {  // what went out, then what had not
    std::string* s = AcquireString();
    s->swap(us->replay);
    carry.Push({s->data(), static_cast<uint32_t>(s->size()), -1, s, StringCharge(*s)});
    while (!us->body.empty()) {
      const SendPiece f = us->body.Front();
      carry.Push(f);
      us->body.Advance(f.len, [](const SendPiece&) {});
    }
  } else {
    std::swap(carry, us->body);
  }
  ex->ups = nullptr;
  us->ex = nullptr;
  H2UpDetach(us);
  auto drop = [&] { carry.Clear([&](const SendPiece& p) { ReleasePiece(p); }); };
  if (ex->client->closing) return drop();
  if (!replayable) {
    ClientFail(ex, 502);
    return drop();
  }
  if (!same_backend) {
    RecoverOrFail(ex, backend, status, /*connected=*/false, /*stale=*/false,
                  /*before_response=*/true, &carry);
    return drop();
  }
  // The backend is up (it answered with a refusal): another untried backend, else the same one
  // on another connection. A try like any other, within the retry budget.
  if (ex->tries < ex->max_tries) {
    int pick = PickBackend(ex);
    const Snapshot& sn = *ex->rt->snap;
    const uint32_t base = sn.backend_base[static_cast<uint32_t>(ex->upstream_index)];
    if (pick < 0 && sn.health->Usable(backend)) pick = static_cast<int>(backend - base);
    if (pick >= 0 && RetryAllowed(ex)) {
      RW_LOG(LogLevel::kDebug, "retry: %s: stream refused by %s; attempt %u of %u",
             ex->client->peer_ip, BackendName(ex->rt.get(), backend), ex->tries + 1u,
             static_cast<unsigned>(ex->max_tries));
      ConnectUpstream(ex, pick, &carry);
      return drop();
    }
  }
  ClientFail(ex, status);
  drop();
}

// The stream failed: a 502 (504) if no response began (or a retry, for an idempotent request
// without a body); the response cut if it had.
void WorkerImpl::H2UpFail(UpStream* us, uint16_t status, const char* what) {
  Exchange* ex = us->ex;
  UpstreamConn* u = us->conn;
  if (us->id && !u->closing) {
    u->h2->session.ResetStream(us->id, h2::ErrorCode::kCancel);
    u->h2->streams.erase(us->id);
    H2UpFlush(u);
  }
  us->id = 0;
  if (ex == nullptr) {
    H2UpDetach(us);
    return;
  }
  const uint32_t backend = us->backend;
  const bool before_response = !us->head_done;
  H2UpEndAttempt(us, AttemptEnd::kFailed);
  ex->ups = nullptr;
  us->ex = nullptr;
  H2UpDetach(us);
  ex->outcome = what;
  if (ex->client->closing) return;
  if (!before_response) {
    ClientAbort(ex);
    return;
  }
  RecoverOrFail(ex, backend, status, /*connected=*/true, /*stale=*/false, before_response, nullptr);
}

// The exchange lets its stream go (the client went away, or was answered otherwise): the
// backend is told with RST_STREAM CANCEL.
void WorkerImpl::H2UpCancel(UpStream* us) {
  UpstreamConn* u = us->conn;
  if (metrics_on_) {
    USeries(u->rt.get(), u->rt->snap->backend_upstream[us->backend]).h2_cancelled.Add();
  }
  if (us->ex && us->ex->outcome.empty()) us->ex->outcome = "cancelled";
  if (us->id && !u->closing) {
    u->h2->session.ResetStream(us->id, h2::ErrorCode::kCancel);
    if (us->uncredited) u->h2->session.ConsumeData(us->id, us->uncredited);
    u->h2->streams.erase(us->id);
    H2UpFlush(u);
  }
  us->id = 0;
  H2UpEndAttempt(us, AttemptEnd::kCancel);
  if (us->ex) us->ex->ups = nullptr;
  us->ex = nullptr;
  H2UpDetach(us);
}

// The stream leaves its connection (which may close, idle) and is freed.
void WorkerImpl::H2UpDetach(UpStream* us) {
  UpstreamConn* u = us->conn;
  H2UpState* h = u->h2.get();
  if (us->id) h->streams.erase(us->id);
  if (us->counted) {
    auto it = std::find(h->waiting.begin(), h->waiting.end(), us);
    if (it != h->waiting.end()) h->waiting.erase(it);
  }
  if (h->reserved > 0) --h->reserved;
  H2UpDelete(us);
  if (!u->closing) H2UpAfterEvents(u);
}

void WorkerImpl::H2UpDelete(UpStream* us) {
  us->body.Clear([&](const SendPiece& p) { ReleasePiece(p); });
  delete us;
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
    us->body.Clear([&](const SendPiece& p) { ReleasePiece(p); });
    delete us;
  }
  h->reserved = 0;
}

// The worker stops: every HTTP/2 backend connection closes (its clients are gone by now).
void WorkerImpl::CloseH2Pools() {
  std::vector<UpstreamConn*> conns = h2_up_conns_;
  for (UpstreamConn* u : conns) H2UpClose(u);
}

// "name: value\r\n" lines as fields (views into `lines`).
void WorkerImpl::SplitFieldLines(std::string_view lines, std::vector<hpack::HeaderField>* out) {
  while (!lines.empty()) {
    const size_t eol = lines.find("\r\n");
    std::string_view line = lines.substr(0, eol);
    lines = eol == std::string_view::npos ? std::string_view() : lines.substr(eol + 2);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) continue;
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    out->push_back({line.substr(0, colon), value});
  }
}

// ---- gRPC ----------------------------------------------------------------------------------

// ringway's own failure of a gRPC request, as gRPC clients expect it: HTTP 200 with
// grpc-status and grpc-message and no body ("Trailers-Only").
void WorkerImpl::GrpcFail(Exchange* ex, uint16_t status) {
  const char* code = "2";  // UNKNOWN
  const char* message = "ringway: request failed";
  switch (status) {
    case 502:
      code = "14";  // UNAVAILABLE
      message = "ringway: upstream connection failed or was reset";
      break;
    case 503:
      code = "14";
      message = "ringway: no healthy upstream";
      break;
    case 504:
    case 408:
      code = "4";  // DEADLINE_EXCEEDED
      message = "ringway: upstream timed out";
      break;
    case 404:
      code = "12";  // UNIMPLEMENTED
      message = "ringway: no route";
      break;
    case 413:
    case 431:
      code = "8";  // RESOURCE_EXHAUSTED
      message = "ringway: request too large";
      break;
    case 400:
      code = "13";  // INTERNAL
      message = "ringway: bad request";
      break;
    default:
      break;
  }
  if (ex->stream) {
    H2Stream* s = ex->stream;
    ClientConn* c = ex->client;
    AbortAttempt(ex);
    H2ReleaseGrant(s);
    H2DropEarly(s);
    const hpack::HeaderField fields[] = {
        {"content-type", "application/grpc"}, {"grpc-status", code}, {"grpc-message", message}};
    s->ex.status = 200;
    s->ex.grpc_status = static_cast<int8_t>(atoi(code));
    s->head_sent = c->h2->session.SubmitResponse(s->id, h2::Response(200, fields), true);
    s->end_sent = true;
    s->resp_end = true;
    s->ex.resp = RespState::kDone;
    H2Flush(c);
    H2Finish(s);
    return;
  }
  ClientConn* c = ex->client;
  if (c->closing) return;
  const bool close = c->req == ReqState::kBody || c->req == ReqState::kHead || draining_ ||
                     c->ending || !c->keep_alive;
  std::string* s = AcquireString();
  s->append("HTTP/1.1 200 OK\r\nContent-Type: application/grpc\r\nGrpc-Status: ");
  s->append(code).append("\r\nGrpc-Message: ").append(message);
  s->append("\r\nContent-Length: 0\r\n");
  s->append(close ? "Connection: close\r\n\r\n" : "Connection: keep-alive\r\n\r\n");
  c->ex.status = 200;
  c->ex.grpc_status = static_cast<int8_t>(atoi(code));
  c->ex.resp_bytes = s->size();
  c->ex.resp = RespState::kDone;
  c->told_close = close;
  if (close) {
    c->close_after = true;
    c->req = ReqState::kDone;
    c->keep_alive = false;
  }
  QueueOwned(c, s);
  if (c->req == ReqState::kDone) FinishExchange(c);
}

}  // namespace ringway::proxy
