// The HTTP/2 upstream side (protocol h2 or h2c), part two: an exchange's stream on a backend
// connection: the request mapped to a stream (head, body, trailers), the response mapped back
// to the client side (HTTP/1.1 or HTTP/2), resets both ways, refused streams and their
// retries. The connections are in h2_client.cc. See proxy/h2_up.h.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <new>

#include "proxy/worker_impl.h"

namespace ringway::proxy {
namespace {

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

}  // namespace

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
  UpStream* us = NewUpStream();
  us->ex = ex;
  us->conn = u;
  us->backend = backend;
  ex->ups = us;
  if (carry) std::swap(us->body, *carry);
  us->req_end = RequestComplete(ex);
  if (ex->stream) us->req_trailers = ex->stream->up_trailers;  // (trailers that came early)
  // The head: the HTTP/1.1 one made for this request (X-Forwarded-*, Host, the fields a proxy
  // drops), as HTTP/2 fields. WriteRequestHead made it, so its lines are known to be well formed
  // ("METHOD target HTTP/1.1", then "Name: value" lines): they are split, not parsed. The fields
  // are views into ex->up_head, which lives as long as the exchange and is rewritten only by
  // the next one (which cancels this stream first); names are lowercased in place (a retry
  // finds them so already, and a field name's case means nothing to an HTTP/1.1 next hop).
  std::string& text = ex->up_head;
  char* const base = text.data();
  size_t pos = 0;
  auto next_line = [&]() {
    const char* eol = static_cast<const char*>(memchr(base + pos, '\n', text.size() - pos));
    const size_t end = eol == nullptr ? text.size() : static_cast<size_t>(eol - base);
    const size_t begin = pos;
    pos = eol == nullptr ? text.size() : end + 1;
    const size_t len = end > begin && base[end - 1] == '\r' ? end - begin - 1 : end - begin;
    return std::string_view(base + begin, len);
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
  std::vector<hpack::HeaderField>& head = us->head;
  head.clear();
  head.push_back({":method", request_line.substr(0, sp1)});
  head.push_back({":scheme", up.tls.enabled ? "https" : "http"});
  const size_t authority = head.size();
  head.push_back({":authority", ""});  // (its value is the Host line's, filled in below)
  head.push_back({":path", request_line.substr(sp1 + 1, sp2 - sp1 - 1)});
  if (ex->grpc) head.push_back({"te", "trailers"});  // gRPC servers look for it
  for (std::string_view line = next_line(); !line.empty(); line = next_line()) {
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    char* const name = base + (line.data() - text.data());  // (the same bytes, writable)
    for (size_t i = 0; i < colon; ++i) {
      if (name[i] >= 'A' && name[i] <= 'Z') name[i] = static_cast<char>(name[i] + ('a' - 'A'));
    }
    const std::string_view n = line.substr(0, colon);
    std::string_view v = line.substr(colon + 1);
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    // Connection-specific fields have no place in HTTP/2 (RFC 9113 section 8.2.2); Host
    // becomes :authority.
    bool drop = false;
    switch (n.size()) {
      case 2:
        drop = n == "te";
        break;
      case 4:
        if (n == "host") {
          head[authority].value = v;
          drop = true;
        }
        break;
      case 7:
        drop = n == "upgrade";
        break;
      case 10:
        drop = n == "connection" || n == "keep-alive";
        break;
      case 12:
        if (ex->grpc && n == "grpc-timeout") {
          const uint64_t ms = ParseGrpcTimeout(v);
          if (ms > 0 && ms < cfg_->timeouts.upstream_response_ms) {
            us->grpc_deadline_ms = now_ms_ + ms;
          }
        }
        break;
      case 16:
        drop = n == "proxy-connection";
        break;
      case 17:
        drop = n == "transfer-encoding";
        break;
      default:
        break;
    }
    if (!drop) head.push_back({n, v});
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
    // Relayed, then the final head is awaited. A backend may send a few; one that keeps
    // sending them is broken (as for HTTP/1 backends).
    if (++us->interim > kMaxInterimResponses) {
      RW_LOG(LogLevel::kWarn, "upstream %s: more than %u interim responses on stream %u",
             BackendName(u), kMaxInterimResponses, id);
      H2UpFail(us, 502, "malformed_response");
      return;
    }
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

UpStream* WorkerImpl::NewUpStream() {
  if (spare_upstreams_.empty()) return new UpStream;
  UpStream* us = spare_upstreams_.back();
  spare_upstreams_.pop_back();
  return us;
}

// The stream is rebuilt in place for the next one, keeping its field list when small.
void WorkerImpl::H2UpDelete(UpStream* us) {
  us->body.Clear([&](const SendPiece& p) { ReleasePiece(p); });
  if (spare_upstreams_.size() >= kSpareStreams || us->head.capacity() > 64) {
    delete us;
    return;
  }
  std::vector<hpack::HeaderField> head = std::move(us->head);
  SendQueue body = std::move(us->body);
  us->~UpStream();
  new (us) UpStream;
  head.clear();
  us->head = std::move(head);
  us->body = std::move(body);
  spare_upstreams_.push_back(us);
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

}  // namespace ringway::proxy
