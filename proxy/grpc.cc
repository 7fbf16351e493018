// gRPC's part of the proxy: recognising gRPC requests, grpc-timeout, and the failures ringway
// answers itself in gRPC's Trailers-Only form.
#include <cstdlib>

#include "proxy/worker_impl.h"

namespace ringway::proxy {
namespace {

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

bool IsGrpcRequest(std::span<const http1::Field> fields) {
  for (const http1::Field& f : fields) {
    if (http1::EqualsIgnoreCase(f.name, "content-type")) return IsGrpcContentType(f.value);
  }
  return false;
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
  ex->status = 200;
  ex->grpc_status = static_cast<int8_t>(atoi(code));
  ex->resp_bytes = s->size();
  ex->resp = RespState::kDone;
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
