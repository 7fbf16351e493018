// The HTTP/1.1 proxy on one worker's ring: accept, read, parse, route, balance, forward.
//
// Life of an exchange (client connection C, upstream connection U):
//
//   C: kIdle --bytes--> kHead --head parsed--> kBody --body done--> kDone
//   U: connect (or taken from the pool) -> send head+body -> kHead -> kBody -> kDone -> pool
//
// C's response side runs at the same time: kWaiting -> kStreaming -> kDone. When both sides of
// C are done the exchange ends: the access log line is written and C goes back to kIdle (or
// closes). Bytes flow without copies: a buffer the kernel filled for one socket is queued on
// the other socket's SendQueue and returned to the ring when the send completes. Heads are the
// exception: they are rewritten into a pooled string.
//
// Memory is bounded by backpressure: what is queued towards one socket is capped (8 buffers);
// past that the socket feeding it stops being read, and receives are sized to the room left
// (docs/design.md, "Buffers and zero copy").
//
// Connections are freed only at the end of a loop turn and only when no operation the kernel
// holds still refers to them (`inflight` == 0): a completion never sees freed memory.
//
// WorkerImpl is one class whose methods live in several files, one concern each:
//   worker.cc     the loop, completion dispatch, timers, accept, shutdown, freeing
//   snapshot.cc   config snapshots: a Routing per snapshot, what carries over, listeners
//   transport.cc  receives, sends, TLS pumping, backpressure of a socket, closing
//   h1_server.cc  the HTTP/1 client side: requests in, responses out, pipelining, half-close
//   exchange.cc   a request's life: routing, balancing, retries, passive health, access log
//   h1_client.cc  the HTTP/1 upstream side: connect, pool, request out, response in
//   h2_server.cc, h2_responses.cc  HTTP/2 clients: the session, requests, responses as DATA
//   h2_client.cc, h2_client_streams.cc  HTTP/2 backends: connections, then streams (h2_up.h)
//   grpc.cc       gRPC requests: grpc-timeout, ringway's own failures in gRPC form
#ifndef RINGWAY_PROXY_WORKER_IMPL_H_
#define RINGWAY_PROXY_WORKER_IMPL_H_

#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "balance/balancer.h"
#include "balance/hash.h"
#include "balance/retry_budget.h"
#include "balance/slow_start.h"
#include "balance/sticky.h"
#include "core/log.h"
#include "core/ring.h"
#include "core/socket.h"
#include "core/timer.h"
#include "proto/http1_chunked.h"
#include "proto/http1_parser.h"
#include "proto/http1_writer.h"
#include "proxy/access_log.h"
#include "proxy/conn.h"
#include "proxy/h2_conn.h"
#include "proxy/h2_up.h"
#include "proxy/metrics.h"
#include "proxy/routing.h"
#include "proxy/send_queue.h"
#include "proxy/worker.h"
#include "tls/tls.h"

namespace ringway::proxy {

using core::LogLevel;

// Whether a request's fields say gRPC (content-type application/grpc, +proto and the like).
bool IsGrpcRequest(std::span<const http1::Field> fields);
// grpc-timeout: 1 to 8 digits and a unit (H, M, S, m, u, n); milliseconds, rounded up; 0 when
// the value is not one.
uint64_t ParseGrpcTimeout(std::string_view v);

class WorkerImpl {
  friend class H2Handler;
  friend class UpHandler;

 public:
  WorkerImpl(std::shared_ptr<const Snapshot> snap, uint32_t index, std::vector<int> fds);
  ~WorkerImpl();
  absl::Status Init();
  void Drain();
  void Adopt(std::shared_ptr<const Snapshot> snap, std::vector<int> fds);
  uint64_t Run();
  std::shared_ptr<const metrics::WorkerMetrics> Metrics() const { return metrics_; }

 private:
  // ---- Snapshots (worker.cc) -------------------------------------------------------------

  void UseSnapshot(std::shared_ptr<const Snapshot> snap);
  void AdoptListeners(const std::vector<config::Listener>& before, std::vector<int> fds);
  static uint64_t H2TickMs(const config::Timeouts& t);
  static std::string UpstreamTlsKey(const Snapshot& s, uint32_t backend);
  static bool SameBalancing(const config::Upstream& a, const config::Upstream& b);
  // The client's snapshot for its next request: the current one when its listener is still
  // there (c->listener is then renumbered), else the one it was accepted on.
  Routing* ClientRouting(ClientConn* c);
  void EndClient(ClientConn* c);
  // Metrics.
  metrics::ListenerSeries& LSeries(const ClientConn* c) {
    return metrics_->listeners.At(c->listener_series);
  }
  metrics::UpstreamSeries& USeries(const Routing* rt, uint32_t upstream) {
    return metrics_->upstreams.At(rt->snap->upstream_series[upstream]);
  }
  void CountExchange(const Exchange* ex);
  bool TimeRequests() const { return metrics_on_ || cfg_->logging.access_log; }

  // ---- Submission helpers ---------------------------------------------------------------

  void ArmAccept(ListenerSlot* l);
  void ArmWake();
  void ArmRecv(Conn* c);
  uint32_t RecvLimit(const Conn* c) const;
  void PauseRecv(Conn* c);
  void ResumeRecv(Conn* c);
  bool ClientMayRead(const ClientConn* c) const {
    return !c->pipeline_wait && !c->replaying && c->in.size() < cfg_->limits.max_header_size;
  }

  // A queue that pins this much stops the socket that feeds it: high_water_ (8 buffers) of
  // memory, counting a whole buffer for every provided buffer queued, or kMaxQueuedPieces
  // pieces. It starts again once the queue is down to half of both. An HTTP/2 client's queue
  // may hold four times that while the ring is less than half lent (QueueScale): its streams'
  // frames then go out in fewer, larger sends (its memory is within the connection's response
  // budget, H2Budget, either way).
  bool Backlogged(const Conn* c) const {
    const uint32_t k = QueueScale(c);
    return Charged(c) > k * high_water_ || c->sendq.pieces() > k * kMaxQueuedPieces;
  }
  bool Drained(const Conn* c) const {
    const uint32_t k = QueueScale(c);
    return Charged(c) <= k * high_water_ / 2 && c->sendq.pieces() <= k * kMaxQueuedPieces / 2;
  }
  uint32_t QueueScale(const Conn* c) const {
    return !c->upstream && static_cast<const ClientConn*>(c)->h2 && !RingLow() ? 4 : 1;
  }
  static uint64_t Charged(const Conn* c) {
    return c->sendq.charged() + (c->tls ? c->tls->out_pending() : 0);
  }

  void ClientQueued(ClientConn* c);
  void ClientSent(ClientConn* c);
  void ClientCaughtUp(ClientConn* c);
  void ThrottleUpstream(UpstreamConn* u);
  void UnthrottleUpstream(UpstreamConn* u);

  // Nothing queued for the socket: no plaintext and, with TLS, no ciphertext.
  static bool Idle(const Conn* c) {
    return c->sendq.empty() && (!c->tls || c->tls->out_pending() == 0);
  }

  // Sends are prepared once per loop turn, after every completion has been reaped: SQEs are
  // submitted only at the next turn anyway, and by then all the pieces that arrived in this
  // batch (say, every 16 KiB read of one 64 KiB response) leave in one sendmsg.
  void Send(Conn* c) {
    if (!c->upstream && !c->closing) ClientQueued(static_cast<ClientConn*>(c));
    if (c->send_scheduled || c->sending || c->closing || Idle(c)) return;
    c->send_scheduled = true;
    to_send_.push_back(c);
  }

  void FlushSends();
  void SubmitSend(Conn* c);

  // ---- TLS -------------------------------------------------------------------------------

  bool EncryptQueue(Conn* c);
  void TlsInput(Conn* c, char* data, size_t n, uint16_t bid);
  // Runs the handshake on the ciphertext fed so far. True: it is done and the connection
  // open, so application data may be read.
  bool TlsHandshakeStep(Conn* c);
  // Decrypts what the session holds; `data`/`bid`: the provided buffer it came in, reused
  // for the plaintext (nullptr/-1: none, the plaintext goes through the scratch buffer).
  void TlsRead(Conn* c, char* data, int32_t bid);
  // Runs the oldest queued handshake step (one per turn, after the turn's other work was
  // submitted), so that work on established connections never queues behind many.
  void RunHellos();
  bool HellosWaiting() const { return !hellos_.empty(); }
  void PlainInput(Conn* c, char* p, size_t n, int32_t bid);
  void PlainEof(Conn* c, int res, bool close_notify = false);
  void TlsEstablished(Conn* c);
  void TlsFailed(Conn* c, const char* why);
  const tls::ContextSet* TlsContexts();

  // ---- Timers ----------------------------------------------------------------------------

  void ArmTimer(Conn* c, TimerKind kind) {
    DisarmTimer(c);
    c->timer.owner = c;
    timers_[kind]->Arm(&c->timer, now_ms_);
  }
  void DisarmTimer(Conn* c) {
    if (c->timer.armed()) timers_[c->timer.kind]->Remove(&c->timer);
  }
  void ArmSendTimer(Conn* c) {
    DisarmSendTimer(c);
    c->send_timer.owner = c;
    timers_[kTimerSend]->Arm(&c->send_timer, now_ms_);
  }
  void DisarmSendTimer(Conn* c) {
    if (c->send_timer.armed()) timers_[kTimerSend]->Remove(&c->send_timer);
  }
  uint64_t NextTimerWait();
  static Conn* FromTimer(core::TimerNode* n) { return static_cast<Conn*>(n->owner); }
  void ExpireTimers();
  void OnTimer(Conn* c, size_t kind);

  // ---- Completion dispatch ---------------------------------------------------------------

  void ReapCompletions();
  void Dispatch(io_uring_cqe* cqe);
  void OnWake(int res);
  bool AnyListenerArmed() const;
  void OnAccept(ListenerSlot* l, int res, uint32_t flags);
  void NewClient(int fd, ListenerSlot* slot);
  void OnRecv(Conn* c, int res, uint32_t flags);
  void RearmStarved();
  void OnSend(Conn* c, int res);
  void ReleasePiece(const SendPiece& p) {
    if (p.bid >= 0) ring_.Return(static_cast<uint16_t>(p.bid));
    if (p.owned) ReleaseString(p.owned);
  }

  // Pooled strings (heads, small payloads) are kept for reuse up to kStringPoolBytes of
  // capacity in all; a larger string or one past the cap is freed, so a burst leaves nothing
  // behind.
  std::string* AcquireString() {
    if (string_pool_.empty()) return new std::string;
    std::string* s = string_pool_.back();
    string_pool_.pop_back();
    string_pool_bytes_ -= s->capacity();
    s->clear();
    return s;
  }
  void ReleaseString(std::string* s) {
    if (s->capacity() > kPooledStringMax || string_pool_bytes_ + s->capacity() > kStringPoolBytes) {
      delete s;
    } else {
      string_pool_bytes_ += s->capacity();
      string_pool_.push_back(s);
    }
  }
  static uint32_t StringCharge(const std::string& s) {
    return static_cast<uint32_t>(s.capacity() + sizeof(std::string));
  }

  bool Queue(Conn* to, const char* p, size_t n, int32_t bid);
  // For queuing n bytes of buffer `bid` as one more piece beside others from the same buffer:
  // each such piece takes a reference of its own, and the caller keeps its own until it has
  // done with the whole buffer (then returns it). So a piece released early (its stream reset
  // in the same read) never returns the buffer while later pieces are still cut from it.
  // -1 (copy) for no buffer, or for as few bytes as Queue copies anyway.
  int32_t ShareBuffer(int32_t bid, size_t n) {
    if (bid < 0 || n <= kCopyBelow) return -1;
    ring_.Ref(static_cast<uint16_t>(bid));
    return bid;
  }
  void QueueOwned(Conn* to, std::string* s) {
    to->sendq.Push({s->data(), static_cast<uint32_t>(s->size()), -1, s, StringCharge(*s)});
    Send(to);
  }

  // Parses a head that may arrive split across reads. With an empty arena the head is parsed
  // in place, and the bytes consumed are returned (0: incomplete, now kept in the arena).
  // Otherwise the new bytes join the arena, which is parsed, and all of `n` counts as
  // consumed; bytes after the head come from the arena copy and go to `rest`. The arena is
  // re-parsed only when the new bytes end a blank line or cross a size limit: a peer that
  // dribbles a large head byte by byte must not make every byte cost a scan of the whole head.
  template <typename Parse, typename Rest>
  static size_t GatherHead(std::string* arena, char* p, size_t n, const http1::ParseLimits& limits,
                           Parse&& parse, Rest&& rest) {
    if (arena->empty()) {
      size_t used = parse(p, n);
      if (used == 0) arena->append(p, n);
      return used == 0 ? n : used;
    }
    const size_t before = arena->size();
    arena->append(p, n);
    const size_t after = arena->size();
    const bool crosses_limit =
        (before <= limits.max_request_line && after > limits.max_request_line) ||
        after > limits.max_head;
    if (!crosses_limit && !http1::HasHeadEnd(*arena, before)) return n;
    std::string whole = std::move(*arena);
    arena->clear();
    size_t used = parse(whole.data(), whole.size());
    if (used == 0) {
      *arena = std::move(whole);
    } else if (used < whole.size()) {
      rest(whole.data() + used, whole.size() - used);
    }
    return n;
  }

  // ---- Client side -----------------------------------------------------------------------

  void ClientInput(ClientConn* c, char* p, size_t n, int32_t bid);
  void WaitForClient(ClientConn* c);
  size_t ParseClientHead(ClientConn* c, char* p, size_t n);
  void StartRequest(ClientConn* c, http1::RequestHead& req);
  static bool IsIdempotent(std::string_view m) {
    return m == "GET" || m == "HEAD" || m == "OPTIONS" || m == "TRACE" || m == "PUT" ||
           m == "DELETE";
  }

  static balance::Algorithm ToAlgorithm(config::Algorithm a);
  void KeyRequest(Exchange* ex, const config::Upstream& up, const http1::RequestHead& req);
  static std::string_view FindRequestCookie(const http1::RequestHead& req, std::string_view name);
  int PickBackend(const Exchange* ex);
  void RampWeights(Routing* rt, uint32_t upstream);

  // With slow start, weights are kept in hundredths so that a weight-1 backend can ramp too.
  static uint32_t WeightScale(const config::Upstream& up) { return up.slow_start_ms ? 100 : 1; }

  void NoUsableBackend(Exchange* ex);
  size_t TakeRequestBody(ClientConn* c, const char* p, size_t n, int32_t bid = -1);
  void FailRequestBody(ClientConn* c, uint16_t status);
  void RespondError(ClientConn* c, uint16_t status, bool close);
  void RespondRedirect(ClientConn* c, std::string_view method, std::string_view host,
                       std::string_view target, const config::Server& srv);
  void FinishExchange(ClientConn* c);
  // An HTTP/1 client's exchange: the one it has, else one lent now (a spare, or new).
  Exchange* ClientEx(ClientConn* c) {
    if (c->ex == nullptr) c->ex = NewExchange(c);
    return c->ex;
  }
  Exchange* NewExchange(ClientConn* c);
  // The exchange of a request refused before its head was whole: its log line says "- -".
  Exchange* UnparsedRequest(ClientConn* c) {
    Exchange* ex = ClientEx(c);
    ex->log_method.assign("-");
    ex->log_target.assign("-");
    ex->start_ns = now_ns_;
    return ex;
  }
  // The connection is idle again: its exchange goes back at the end of the turn (when nothing
  // on the stack refers to it any more), unless a pipelined request has taken it by then.
  void ParkExchange(ClientConn* c) {
    if (c->ex == nullptr || c->ex_parked || c->closing) return;
    c->ex_parked = true;
    ++c->inflight;  // the list refers to it
    parked_.push_back(c);
  }
  void ReturnParkedExchanges();
  void RecycleExchange(Exchange* ex);
  void ScheduleDeferred(ClientConn* c) {
    if (c->deferred || c->closing) return;
    c->deferred = true;
    ++c->inflight;  // the list refers to it
    deferred_.push_back(c);
  }

  void RunDeferred();
  void ClientDrained(ClientConn* c);
  void ClientEof(ClientConn* c, bool half_close);
  void ClientInputEnded(ClientConn* c);
  void UpstreamDrained(UpstreamConn* u);
  void WriteAccessLog(const Exchange* ex);
  void FlushAccessLog();

  // ---- The client side of an exchange (h1_server.cc) -----------------------------------

  bool ClientTakesChunked(const Exchange* ex) const;
  bool ClientFull(const Exchange* ex) const;
  uint32_t ClientRecvLimit(Exchange* ex, const UpstreamConn* u, uint32_t limit);
  void ClientRecvDone(Exchange* ex, bool data, bool ended);
  uint64_t ClientCharged(const Exchange* ex) const;
  bool RequestComplete(const Exchange* ex) const;
  void ClientInterim(Exchange* ex, const http1::ResponseHead& resp);
  void ClientResponseHead(Exchange* ex, const RespSource& src, const http1::ResponseHead& resp,
                          bool tunnel);
  bool ClientResponseData(Exchange* ex, const char* p, size_t n, int32_t bid, bool last = false);
  void ClientResponseDone(Exchange* ex);
  void ClientResponseTrailers(Exchange* ex, std::string* trailers);  // may take *trailers
  void ClientTunnelEnded(Exchange* ex);
  void ClientFail(Exchange* ex, uint16_t status);
  bool ClientTakeBack(Exchange* ex);
  void ClientAbort(Exchange* ex);
  void ClientRedirect(Exchange* ex, std::string_view method, std::string_view host,
                      std::string_view target, const config::Server& srv);
  void ClientUpstreamDrained(Exchange* ex);
  bool RouteExchange(Exchange* ex, uint32_t listener, bool tls, const http1::RequestHead& req,
                     std::string_view host, std::string_view path);
  void PickAndConnect(Exchange* ex);

  // ---- HTTP/2 client connections (h2_server.cc) ---------------------------------------

  h2::SessionLimits MakeH2Limits() const;
  static void MakeWebSocketKey(std::string* out);
  void StartH2(ClientConn* c);
  bool H2cPreface(ClientConn* c, char* p, size_t n, int32_t bid);
  void H2Flush(ClientConn* c);
  void H2Input(ClientConn* c, char* p, size_t n, int32_t bid);
  void H2AfterEvents(ClientConn* c);
  void H2CloseAfterFlush(ClientConn* c);
  void H2IdleClose(ClientConn* c);
  void H2Shutdown(ClientConn* c);
  void H2DropStreams(ClientConn* c);
  H2Stream* H2Find(ClientConn* c, uint32_t id);
  void H2Request(ClientConn* c, uint32_t id, const h2::Request& req, bool end_stream);
  void H2Data(ClientConn* c, uint32_t id, std::string_view data, bool end_stream);
  void H2Trailers(ClientConn* c, uint32_t id, std::span<const hpack::HeaderField> fields);
  void H2StreamClosed(ClientConn* c, uint32_t id, h2::ErrorCode code, bool by_peer);
  void H2SendWindow(ClientConn* c, uint32_t id);
  void H2Rejected(ClientConn* c, uint32_t id, uint16_t status, const char* detail);
  void H2ResponseHead(H2Stream* s, const RespSource& src, const http1::ResponseHead& resp,
                      bool tunnel);
  void H2Interim(H2Stream* s, const http1::ResponseHead& resp);
  bool H2ResponseData(H2Stream* s, const char* p, size_t n, int32_t bid, bool last);
  void H2ResponseDone(H2Stream* s);
  bool H2SendTrailers(H2Stream* s);
  void H2CheckStreams(ClientConn* c);
  void H2LogAbuse(ClientConn* c, const char* detail);
  uint32_t H2GrantRecv(H2Stream* s);
  uint32_t H2RecvLimit(H2Stream* s, bool body, uint32_t limit);
  uint64_t H2StreamCap(const H2Stream* s);
  void H2DropEarly(H2Stream* s);
  void H2GrantUsed(H2Stream* s, bool data, bool ended);
  void H2ReleaseGrant(H2Stream* s);
  uint64_t H2Used(const ClientConn* c) const;
  // The response bytes one HTTP/2 connection may hold (H2Used): 8 queue caps (1 MiB with the
  // default buffers), room for many streams of large responses at once, while the ring is less
  // than half lent; past that (many connections hold data their clients do not take), 2 caps,
  // and what waits in a stream's `pending` leaves the ring (H2Unpin). So connections that never
  // read cannot empty the ring, and hold at most 2 caps of memory each once they are many.
  bool RingLow() const { return ring_.lent() > ring_.buffer_count() / 2; }
  uint64_t H2Budget() const { return (RingLow() ? 2 : 8) * high_water_; }
  bool H2AdoptRecv(H2Stream* s, uint32_t limit);
  void H2Unpin(H2Stream* s);
  void H2StartStreams(ClientConn* c);
  void H2QueueBody(H2Stream* s, const char* p, size_t n, int32_t bid);
  void H2Pump(H2Stream* s);
  void H2PumpAll(ClientConn* c);
  void H2LocalReply(H2Stream* s, uint16_t status, std::string_view location = {});
  void H2Finish(H2Stream* s);
  void H2Retire(H2Stream* s);
  void H2Credit(H2Stream* s);
  bool H2Full(const H2Stream* s) const;
  void FreeDeadStreams();
  // Streams (both sides) are kept for reuse with the memory every request fills: the backend
  // head, the log fields, the queues' piece arrays (malloc was a tenth of the CPU of a small
  // HTTP/2-to-HTTP/2 request).
  H2Stream* NewH2Stream();
  void RecycleH2Stream(H2Stream* s);
  UpStream* NewUpStream();
  void TickH2Sessions();
  void DrainH2();

  // ---- Upstream side ---------------------------------------------------------------------

  // A backend's name and config in the snapshot whose index it is.
  static const char* BackendName(const Routing* rt, uint32_t backend) {
    return rt->snap->backends[backend]->address.text.c_str();
  }
  static const char* BackendName(const UpstreamConn* u) {
    return BackendName(u->rt.get(), u->backend);
  }

  void ConnectUpstream(Exchange* ex, int pick, SendQueue* carry);
  UpstreamConn* NewUpstreamConn(Routing* rt, uint32_t backend, ConnKind kind);

  // The balancer's view of an attempt ends: a response (latency to its head), a failure, or
  // (kCancel) nothing the balancer should learn from.
  enum class AttemptEnd : uint8_t { kOk, kFailed, kCancel };
  void EndAttempt(UpstreamConn* u, AttemptEnd how);
  void EndAttemptOn(const Routing* rt, uint32_t backend, uint64_t ttfb_ns, AttemptEnd how);
  // Drops the attempt in progress, on whichever kind of backend (the client let go).
  void AbortAttempt(Exchange* ex) {
    if (ex->up) AbortUpstream(ex->up);
    if (ex->ups) H2UpCancel(ex->ups);
  }

  // Whether a backend's response status (or ringway's 504 for a response timeout) counts as a
  // passive-health failure.
  static bool Counts(const config::PassiveHealth& ph, uint16_t status) {
    return std::find(ph.statuses.begin(), ph.statuses.end(), status) != ph.statuses.end();
  }

  void PassiveFailure(const Routing* rt, uint32_t backend, const char* what);
  void ObserveResponseHead(const Routing* rt, uint32_t backend, uint16_t status, bool lb_open,
                           uint64_t sent_ns, uint64_t* ttfb_ns);
  UpstreamConn* TakePooled(Routing* rt, uint32_t backend, bool replayable);
  void PoolRemove(UpstreamConn* u);
  void PoolPut(UpstreamConn* u);
  static const config::Upstream& UpstreamOf(const Routing* rt, uint32_t backend) {
    return rt->snap->config.upstreams[rt->snap->backend_upstream[backend]];
  }

  void ClosePools();
  void OnConnect(UpstreamConn* u, int res);
  void UpstreamReady(UpstreamConn* u);
  void UpstreamInput(UpstreamConn* u, char* p, size_t n, int32_t bid);
  size_t ParseUpstreamHead(UpstreamConn* u, char* p, size_t n);
  static void AddHsts(const config::Server& srv, const http1::ResponseHead& resp,
                      std::string* head);
  void AddStickyCookie(const Exchange* ex, const RespSource& src, std::string* head);
  bool StickyCookie(const Exchange* ex, const RespSource& src, std::string* value);
  size_t TakeResponseBody(UpstreamConn* u, const char* p, size_t n, int32_t bid, bool* taken);
  void UpstreamResponseDone(UpstreamConn* u);
  void UpstreamEof(UpstreamConn* u, int res);
  void UpstreamFailed(UpstreamConn* u, uint16_t status);
  void RecoverOrFail(Exchange* ex, uint32_t backend, uint16_t status, bool connected, bool stale,
                     bool before_response, SendQueue* carry);
  bool RetryAllowed(const Exchange* ex);
  void AbortUpstream(UpstreamConn* u);

  // ---- HTTP/2 upstreams (h2_client.cc) -------------------------------------------------

  static bool H2Upstream(const Routing* rt, uint32_t upstream);
  h2::SessionLimits MakeH2UpLimits() const;
  UpstreamConn* H2UpConn(Routing* rt, uint32_t backend);
  UpstreamConn* H2UpOpen(Routing* rt, uint32_t backend);
  void H2UpConnected(UpstreamConn* u);
  void H2UpFlush(UpstreamConn* u);
  void H2UpInput(UpstreamConn* u, char* p, size_t n, int32_t bid);
  void H2UpAfterEvents(UpstreamConn* u);
  void H2UpOpenWaiting(UpstreamConn* u);
  void H2UpClose(UpstreamConn* u);
  void H2UpConnFailed(UpstreamConn* u, uint16_t status, const char* why);
  void H2UpEof(UpstreamConn* u, int res);
  void H2UpTick(UpstreamConn* u);
  void H2UpDrained(UpstreamConn* u);
  void H2UpClosed(UpstreamConn* u);
  void CloseH2Pools();
  void H2UpStart(Exchange* ex, uint32_t backend, SendQueue* carry);
  void H2UpOpenStream(UpStream* us);
  void H2UpPumpBody(UpStream* us);
  void H2UpBody(Exchange* ex, const char* p, size_t n, int32_t bid);
  void H2UpBodyEnd(Exchange* ex, std::string_view trailers);
  bool H2UpFull(const Exchange* ex) const;
  void H2UpSendWindow(UpstreamConn* u, uint32_t id);
  UpStream* H2UpFind(UpstreamConn* u, uint32_t id);
  void H2UpResponse(UpstreamConn* u, uint32_t id, const h2::ResponseHead& head, bool end_stream);
  void H2UpData(UpstreamConn* u, uint32_t id, std::string_view data, bool end_stream);
  void H2UpTrailers(UpstreamConn* u, uint32_t id, std::span<const hpack::HeaderField> fields);
  void H2UpStreamClosed(UpstreamConn* u, uint32_t id, h2::ErrorCode code, bool by_peer);
  void H2UpGoaway(UpstreamConn* u, uint32_t last_stream_id, h2::ErrorCode code,
                  std::string_view debug);
  void H2UpUnthrottle(UpStream* us);
  void H2UpResponseDone(UpStream* us);
  void H2UpEndAttempt(UpStream* us, AttemptEnd how);
  // A stream the backend never processed: tried again; same_backend: the backend refused it
  // (it is up), so another connection to it will do if no other backend is left.
  void H2UpRefused(UpStream* us, uint16_t status, bool same_backend);
  void H2UpFail(UpStream* us, uint16_t status, const char* what);
  void H2UpCancel(UpStream* us);
  void H2UpDetach(UpStream* us);
  void H2UpDelete(UpStream* us);
  static void SplitFieldLines(std::string_view lines, std::vector<hpack::HeaderField>* out);
  void GrpcFail(Exchange* ex, uint16_t status);

  // ---- Splicing large response bodies (splice.cc) ----------------------------------------

  bool SpliceEligible(const UpstreamConn* u) const;
  void StartSplice(UpstreamConn* u);
  void ArmSpliceIn(UpstreamConn* u);
  void SpliceIn(UpstreamConn* u);
  void OnSpliceIn(UpstreamConn* u, int res);
  void SpliceOut(Conn* c);
  bool H2FramePipe(H2Stream* s, uint32_t n, bool end);
  void SpliceSent(ClientConn* c);
  void ReleasePipe(ClientConn* c);
  SplicePipe* TakePipe();
  bool CanMakePipe() const;
  static bool SetNonblock(Conn* c);

  // ---- Closing ---------------------------------------------------------------------------

  void ResetConn(Conn* c);
  void CloseConn(Conn* c);
  uint64_t CloseAllClients();
  void FreeClosed();
  // The snapshot new requests go to (rt_'s), and its config.
  Routing* rt_ = nullptr;
  const Snapshot* snap_ = nullptr;
  const config::Config* cfg_ = nullptr;
  uint32_t index_;
  core::Ring ring_;
  int wake_fd_ = -1;
  uint64_t wake_value_ = 0;
  // Adopt() hands a snapshot over here; the loop takes it at the wake-up.
  std::mutex adopt_mu_;
  std::shared_ptr<const Snapshot> adopt_snap_;
  std::vector<int> adopt_fds_;
  std::atomic<bool> drain_asked_{false};
  int access_fd_ = 1;
  std::vector<ListenerSlot*> listeners_;
  std::vector<core::TimerList*> timers_;
  http1::ParseLimits limits_;
  http1::ParseLimits resp_limits_;
  std::vector<http1::Field> fields_;
  std::vector<http1::Field> scratch_fields_;
  // Counters (proxy/metrics.h), shared with the scraper.
  std::shared_ptr<metrics::WorkerMetrics> metrics_;
  bool metrics_on_ = true;
  // HTTP/2.
  h2::SessionLimits h2_limits_;
  h2::SessionLimits h2_up_limits_;          // towards HTTP/2 backends
  std::vector<UpstreamConn*> h2_up_conns_;  // every HTTP/2 backend connection, any snapshot
  std::vector<H2Stream*> dead_streams_;     // finished this turn; freed in FreeClosed
  std::vector<H2Stream*> spare_streams_;    // NewH2Stream, RecycleH2Stream
  std::vector<UpStream*> spare_upstreams_;  // NewUpStream, H2UpDelete
  std::vector<Exchange*> spare_exchanges_;  // NewExchange, RecycleExchange
  std::vector<ClientConn*> parked_;         // ParkExchange, ReturnParkedExchanges
#if defined(__SANITIZE_ADDRESS__)
  // Under AddressSanitizer a stream is freed, so that a use after its end is reported.
  static constexpr size_t kSpareStreams = 0;
#else
  static constexpr size_t kSpareStreams = 256;  // kept per worker at most, of each
#endif
  static constexpr size_t kKeepCapacity = 4096;          // larger strings are not kept
  static constexpr size_t kKeepExchangeCapacity = 1024;  // nor, in a spare exchange, these
  std::vector<http1::Field> h2_fields_;  // an HTTP/2 request's fields, as HTTP/1 ones
  std::string h2_cookie_;                // its cookie crumbs joined
  std::vector<hpack::HeaderField> h2_resp_fields_;
  std::string h2_sticky_;
  std::string h2_ws_key_;
  std::vector<H2Stream*> h2_ready_;
  std::vector<ClientConn*> clients_;
  std::vector<Conn*> closing_;
  std::vector<Conn*> starved_;
  std::vector<ClientConn*> deferred_;
  // TLS clients whose costly handshake step (a ClientHello, a ClientKeyExchange) waits for
  // RunHellos, oldest first; each holds an inflight count while queued.
  std::deque<Conn*> hellos_;
  std::vector<Conn*> to_send_;
  // Gather lists lent to sends in flight (SendVec), and the scratch one filled before a send
  // knows whether it needs one, or before TLS seals the pieces.
  std::vector<std::unique_ptr<SendVec>> send_vecs_;
  static constexpr size_t kSpareSendVecs = 256;
  iovec iov_scratch_[SendQueue::kMaxIov];
  std::vector<std::string*> string_pool_;
  uint64_t string_pool_bytes_ = 0;
  static constexpr size_t kPooledStringMax = 16 * 1024;
  static constexpr uint64_t kStringPoolBytes = 1024 * 1024;
  static constexpr size_t kCopyBelow = 2048;
  // Splice pipes: spare ones kept for reuse, and how many are lent (at most kMaxPipes; past
  // that, or when a pipe cannot be made, bodies are received and sent as usual).
  std::vector<SplicePipe*> spare_pipes_;
  uint32_t pipes_lent_ = 0;
  static constexpr uint32_t kMaxPipes = 1024;
  uint64_t pipe_retry_ms_ = 0;                       // no new pipe before then (pipe2 failed)
  __kernel_timespec splice_retry_ts_{0, 5'000'000};  // see SpliceOut
  static constexpr uint32_t kSpliceHeadRead = 4096;  // see ArmRecv
  static constexpr size_t kSplicePrefix = 4096;      // see SubmitSend
  static constexpr int kSpliceRounds = 8;            // see SpliceOut
  static constexpr uint32_t kPipeSize = 256 * 1024;  // see TakePipe
  static constexpr size_t kSparePipes = 128;
  std::string access_buf_;
  uint64_t high_water_ = 0;
  static constexpr size_t kMaxQueuedPieces = 16;
  static constexpr uint32_t kMaxInterimResponses = 16;
  static constexpr uint64_t kSafeReuseMs = 1000;
  uint64_t now_ms_ = 0;
  // The precise clock, read once per loop turn: what request durations, latencies and the
  // access log measure with (every completion of a turn arrived by then; a read of the clock
  // costs about 100 ns on some machines, too much to pay several times per request).
  uint64_t now_ns_ = 0;
  uint64_t turn_ = 0;               // loop turns; sends are handed to the kernel at the end of each
  bool rearmed_with_data_ = false;  // see ReapCompletions
  uint64_t live_clients_ = 0;
  bool draining_ = false;
  bool cq_overflow_logged_ = false;
  uint64_t accept_retry_ms_ = 0;      // re-arm accepts then (after EMFILE and the like)
  uint64_t accept_log_after_ms_ = 0;  // rate limit for the accept failure log line
  static constexpr uint64_t kAcceptBackoffMs = 100;
  uint64_t drain_deadline_ms_ = 0;
  uint64_t drain_goaway_ms_ = 0;          // busy HTTP/2 connections get GOAWAY by then
  std::vector<ClientConn*> h2_draining_;  // busy HTTP/2 connections waiting for their GOAWAY
  // TLS.
  std::shared_ptr<const tls::ContextSet> tls_set_;
  uint64_t tls_gen_ = 0;
  std::string tls_gather_;  // small pieces gathered into one record
  std::vector<char> tls_scratch_ = std::vector<char>(16 * 1024);  // plaintext past a buffer
  static constexpr size_t kTlsRecord = 16 * 1024;
  static constexpr size_t kTlsGatherPiece = 4 * 1024;  // smaller pieces are gathered
  static constexpr size_t kTlsBatch = 256 * 1024;      // plaintext sealed per send at most
  static constexpr size_t kTlsSmallRecord = 1360;      // fits one segment with its overhead
  static constexpr uint32_t kTlsSmallBytes = 16 * 1024;
  static constexpr uint64_t kTlsIdleMs = 1000;
  static constexpr size_t kTlsOutLimit = kTlsBatch + 64 * 1024;
  // Ciphertext a client may send while its ClientHello waits for an answer: two full records.
  // An honest client sends its hello (a few KiB at most, in one or more records) and waits.
  static constexpr size_t kTlsHelloInputLimit = 2 * (16 * 1024 + 256 + 5);
};

}  // namespace ringway::proxy

#endif  // RINGWAY_PROXY_WORKER_IMPL_H_
