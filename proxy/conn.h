// The connections of a worker: a client connection, an upstream connection, what they share
// (socket, receive and send state, timers, TLS session), and how an SQE names them.
//
// A connection is freed only at the end of a loop turn and only when no operation the kernel
// holds still refers to it (`inflight` == 0): a completion never sees freed memory.
#ifndef RINGWAY_PROXY_CONN_H_
#define RINGWAY_PROXY_CONN_H_

#include <netinet/in.h>
#include <time.h>

#include <cstdint>
#include <memory>
#include <string>

#include "core/timer.h"
#include "proto/http1_chunked.h"
#include "proto/http1_parser.h"
#include "proxy/routing.h"
#include "proxy/send_queue.h"
#include "tls/tls.h"

namespace ringway::proxy {

using http1::BodyKind;

// What an SQE's user_data carries: a pointer (8-byte aligned) and the operation in the low bits.
// kSpliceIn: a backend's socket became readable while its body is spliced (proxy/splice.cc).
enum class Op : uint8_t { kIgnore = 0, kAccept, kRecv, kSend, kConnect, kWake, kSpliceIn };
inline uint64_t Tag(const void* p, Op op) {
  return reinterpret_cast<uint64_t>(p) | static_cast<uint64_t>(op);
}
inline Op TagOp(uint64_t ud) { return static_cast<Op>(ud & 7); }
template <typename T>
inline T* TagPtr(uint64_t ud) {
  return reinterpret_cast<T*>(ud & ~uint64_t{7});
}

// Timer kinds (TimerNode::kind); 0 means not armed.
enum TimerKind : uint8_t {
  kTimerNone = 0,
  kTimerHeader,
  kTimerKeepalive,
  kTimerBody,
  kTimerConnect,
  kTimerResponse,
  kTimerLinger,
  kTimerPoolIdle,
  kTimerSend,
  kTimerTunnel,
  kTimerH2Streams,  // an HTTP/2 connection with streams: their body and send deadlines
  kTimerDrainIdle,  // draining: an idle HTTP/1 connection that sends no request is closed
  kTimerH2Up,       // an HTTP/2 backend connection: its streams' deadlines, PINGs, idling
  kTimerKinds,
};

inline constexpr uint64_t kLingerMs = 2000;
inline constexpr uint64_t kPoolIdleMs = 60'000;
inline constexpr uint64_t kDrainIdleMs = 1000;
inline constexpr uint64_t kH2UpTickMs = 100;

struct ListenerSlot {
  alignas(8) int fd = -1;
  uint32_t index = 0;   // in the current snapshot's listeners
  uint32_t series = 0;  // metrics series (by the listener's name)
  bool armed = false;
  bool closed = false;
  bool removed = false;  // a reload removed it: accepts are cancelled, then the socket closed
};

struct ClientConn;
struct UpstreamConn;
struct SplicePipe;
struct Exchange;
struct H2Stream;
struct H2State;
struct UpStream;
struct H2UpState;

// What speaks on a connection: the transport (receives, sends, TLS, closing) is the same for
// all; the bytes go to the codec of its kind. Completions switch on it once per read.
enum class ConnKind : uint8_t {
  kH1Server,  // an HTTP/1 client's connection: requests in, responses out
  kH1Client,  // a connection to a backend, HTTP/1: requests out, responses in
  kH2Server,  // an HTTP/2 client's connection: streams of requests in, responses out
  kH2Client,  // a connection to a backend, HTTP/2: streams of requests out (proxy/h2_up.h)
};

// The gather list of a sendmsg in flight. Only connections with a send of several pieces in
// the kernel's hands need one, so it is lent by the worker for that send (WorkerImpl::
// send_vecs_) rather than kept in every connection.
struct SendVec {
  msghdr msg{};
  iovec iov[SendQueue::kMaxIov];
};

// A pipe a response body is spliced through: backend socket -> pipe -> client socket, the
// bytes never copied to user space. Lent by the worker to a client connection while bytes
// wait in it; `bytes` is what the kernel holds in it now.
struct SplicePipe {
  int r = -1;
  int w = -1;
  uint32_t bytes = 0;
  uint32_t cap = 0;  // its size (F_GETPIPE_SZ)
};

struct Conn {
  alignas(8) int fd = -1;
  ConnKind kind = ConnKind::kH1Server;
  bool upstream = false;  // kind is a client kind (to a backend)
  bool recv_armed = false;
  uint32_t recv_limit = 0;   // the byte limit of the receive armed last
  bool recv_paused = false;  // backpressure: the receive was (or will be) cancelled
  bool starved = false;      // receive ended with ENOBUFS; re-armed when buffers return
  bool sending = false;
  bool send_scheduled = false;  // on the worker's to_send_ list for this turn
  bool closing = false;
  bool read_eof = false;      // the peer ended its side (FIN): nothing more to receive
  bool tls_notified = false;  // close_notify queued
  // A TLS client's costly handshake steps (key exchange, signature) wait on the worker's hello
  // queue until the turn's other work is done (RunHellos, TlsInput).
  bool tls_hello_queued = false;
  bool tls_hello_answered = false;  // that step ran and made the server's first flight
  // Splicing (proxy/splice.cc). The socket is made non-blocking once, before its first
  // splice(2); io_uring's receives and sends on it are not changed by that.
  bool nonblock = false;
  bool splicing = false;      // a backend: its response body goes socket -> pipe, not recv
  bool splice_armed = false;  // a backend: a readiness poll is in the kernel (kSpliceIn)
  bool splice_poll = false;   // the send in flight is a poll for room, not bytes (kSend)
  bool splice_woke = false;   // that poll said writable (SpliceOut)
  // A backend whose last response was spliced: its next head is read alone (4 KiB at most), so
  // the body after it is left in the socket for the splice rather than received.
  bool splice_hint = false;
  bool spliced = false;    // a backend: this response's body was (partly) spliced
  int32_t splice_res = 0;  // the send in flight is a splice(2) done already: its result
  uint32_t inflight = 0;   // SQEs the kernel still holds that name this connection
  uint32_t tls_small = 0;  // bytes still to send in small records (see EncryptQueue)
  uint64_t tls_last_send_ms = 0;
  // TLS: the kernel sends the session's ciphertext, never sendq (which holds plaintext).
  std::unique_ptr<tls::Session> tls;
  core::TimerNode timer;       // what the connection's state waits for (kTimerSend never)
  core::TimerNode send_timer;  // kTimerSend: the peer must take what is queued for it
  bool over_cap = false;       // the queue went over the cap and has not come down to half
  SendQueue sendq;
  std::unique_ptr<SendVec> vec;  // while a sendmsg is in flight
};

enum class ReqState : uint8_t { kIdle, kHead, kBody, kDone, kTunnel, kLinger };
enum class RespState : uint8_t { kNone, kWaiting, kStreaming, kDone, kTunnel };

inline constexpr uint32_t kMaxTries = 10;          // the config's upper bound for tries
inline constexpr uint32_t kNoSeries = UINT32_MAX;  // a request that no server took

// What the client side needs to know of the attempt a response head came from.
struct RespSource {
  const Routing* rt;  // the snapshot `backend` indexes
  uint32_t backend;
  BodyKind body;  // how the body the client side gets is delimited
  uint64_t left;  // kContentLength: its length
  bool dechunk;   // an HTTP/1 chunked body goes out as data only (close-delimited, or DATA)
};

// One request and its response, from the client stream it came on to the backend that
// answers it: routing, the balancer's picks and tries, the upstream connection, the response's
// state, and what the access log line says. A connection to a client holds one at a time.
struct Exchange {
  ClientConn* client = nullptr;  // the client side (its connection)
  H2Stream* stream = nullptr;    // the HTTP/2 stream it came on; null for HTTP/1
  UpstreamConn* up = nullptr;    // the attempt in progress on an HTTP/1 backend, if any
  UpStream* ups = nullptr;       // the attempt in progress on an HTTP/2 backend, if any
  RespState resp = RespState::kNone;
  // What the request asks that the response side must know.
  bool head_method = false;
  bool upgrade = false;      // Connection: upgrade with an Upgrade field
  bool idempotent = false;   // GET, HEAD, OPTIONS, TRACE, PUT, DELETE
  bool has_body = false;     // the request has a body (so it can never be replayed)
  bool grpc = false;         // content-type application/grpc*: ringway's errors in gRPC form
  int8_t grpc_status = -1;   // the gRPC status ringway answered with itself (access log)
  std::string_view outcome;  // how it ended when not normally (static text; access log)
  // Routing and balancing, on the snapshot the request started on.
  RoutingRef rt;
  uint32_t route_series = kNoSeries;  // metrics: the (server, upstream) series it counts in
  int32_t server = -1;                // index of the server (virtual host)
  int32_t upstream_index = -1;
  int32_t backend = -1;   // global backend index of the current or last attempt
  bool has_hash = false;  // `hash` holds the request's key for consistent hashing
  uint64_t hash = 0;
  int32_t sticky = -1;  // backend (index in its upstream) the sticky cookie names
  // Tries.
  bool retried = false;            // the stale-connection retry was used: the next attempt is fresh
  uint8_t tries = 0;               // attempts made so far (backends tried)
  uint8_t max_tries = 1;           // the route's or upstream's try limit
  uint32_t tried[kMaxTries] = {};  // global backend indexes already tried
  std::string up_head;             // upstream request head; kept for a retry on a stale connection
  // The response, for the log line and for taking a failed one back.
  uint16_t status = 0;
  uint64_t resp_bytes = 0;
  uint64_t start_ns = 0;
  std::string log_method, log_target;
  uint64_t resp_mark = 0;  // where the response head went in the client's queue ...
  uint64_t resp_turn = 0;  // ... and in which loop turn (see RecoverOrFail)
};

// An exchange's strings, kept for the next exchange rebuilt in place where they are small
// (each request writes them again): Take before the rebuild, PutBack after.
struct ExchangeStrings {
  std::string up_head, log_method, log_target;
  static ExchangeStrings Take(Exchange* ex, size_t keep);
  void PutBack(Exchange* ex) &&;
};

// A connection from a client (HTTP/1): the request being read, the arena of bytes that wait,
// pipelining and closing state, and the exchange of its request in progress (none while idle).
struct ClientConn : Conn {
  // The snapshot `listener` indexes; moved to the current one at the next request when the
  // listener is still there (a connection on a removed listener stays on its old snapshot).
  RoutingRef rt;
  uint32_t listener = 0;
  uint32_t listener_series = 0;  // metrics
  uint8_t proto = 0;             // metrics::Proto it is counted under
  ReqState req = ReqState::kIdle;
  std::string in;  // head bytes split across reads, and pipelined requests waiting their turn
  BodyKind req_body = BodyKind::kNone;
  uint64_t req_left = 0;
  uint64_t req_body_bytes = 0;
  http1::ChunkedDecoder req_chunked;
  bool keep_alive = true;
  bool http10 = false;
  bool close_after = false;  // close once the current response has been sent
  bool told_close = false;   // the current response's head said Connection: close
  // The connection ends after its next response, which says Connection: close (a drain, its
  // listener removed); idle, it closes after kDrainIdleMs. Unlike close_after, it does not
  // close a connection whose client was told keep-alive before a request could reach it.
  bool ending = false;
  bool deferred = false;       // queued for arena processing at the end of the turn
  bool pipeline_wait = false;  // the next request waits until the queue to the client drains
  bool replaying = false;      // RunDeferred is parsing the arena, moved out of `in`
  // The exchange of the request in progress, lent by the worker (WorkerImpl::ClientEx) once
  // its head is parsed (or at the first error); given back at the end of the turn in which the
  // connection went idle again (ex_parked meanwhile), so that an idle keep-alive connection
  // holds none.
  Exchange* ex = nullptr;
  bool ex_parked = false;
  bool h2c_possible = false;    // plaintext, nothing read yet: may be the HTTP/2 preface
  std::unique_ptr<H2State> h2;  // kind kH2Server: the session and its streams (h2_conn.h)
  size_t list_pos = 0;          // index in WorkerImpl::clients_
  char peer_ip[INET6_ADDRSTRLEN] = {};
  // The listener's TLS contexts, kept alive while the connection lives (SNI refers to them).
  std::shared_ptr<tls::ServerContext> tls_ctx;
  // While a response body is spliced to it: the pipe the bytes wait in (lent by the worker).
  SplicePipe* pipe = nullptr;
};

enum class UpState : uint8_t { kConnecting, kHead, kBody, kDone, kTunnel };

struct UpstreamConn : Conn {
  RoutingRef rt;  // the snapshot `backend` indexes, and the pool it goes back to
  uint32_t backend = 0;
  uint64_t connect_ns = 0;  // metrics: when the connect began
  UpState state = UpState::kConnecting;
  bool tcp_connected = false;  // the socket connected (TLS may still be shaking hands)
  bool connected = false;      // ready for the request: TCP up and, with TLS, the handshake done
  bool reused = false;
  bool keep_alive = true;
  bool dechunk = false;
  bool got_bytes = false;  // any byte of a response arrived in this exchange
  uint32_t interim = 0;    // 1xx responses seen in this exchange
  bool lb_open = false;    // the balancer counts this attempt as outstanding
  uint64_t sent_ns = 0;    // attempt start, for the latency-aware balancers
  uint64_t ttfb_ns = 0;    // time to the response head
  Exchange* ex = nullptr;  // the exchange this attempt serves; none while pooled
  std::string in;
  BodyKind body = BodyKind::kNone;
  uint64_t left = 0;
  http1::ChunkedDecoder chunked;
  std::string trailers;           // a dechunked response's trailer section, for an HTTP/2 client
  std::unique_ptr<H2UpState> h2;  // kind kH2Client: the session and its streams (h2_up.h)
  // Idle pool links.
  uint64_t pooled_ms = 0;  // when it went into the pool
  UpstreamConn* pool_prev = nullptr;
  UpstreamConn* pool_next = nullptr;
  bool pooled = false;
};

// An HTTP/1 client's exchange, read where the connection may be idle (and hold none).
inline UpstreamConn* ExUp(const ClientConn* c) { return c->ex ? c->ex->up : nullptr; }
inline UpStream* ExUps(const ClientConn* c) { return c->ex ? c->ex->ups : nullptr; }
inline RespState ExResp(const ClientConn* c) { return c->ex ? c->ex->resp : RespState::kNone; }

inline uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace ringway::proxy

#endif  // RINGWAY_PROXY_CONN_H_
