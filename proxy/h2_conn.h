// An HTTP/2 client connection as the worker keeps it: the socket-free session (proto/
// h2_session.h), the streams it carries, each with the exchange that serves its request, and
// the response data that waits for the stream's send window.
//
// A stream's response body is queued here (`pending`) as pieces pointing into the backend's
// buffers; it moves to the connection's send queue, behind a 9-byte DATA frame header, as the
// peer's flow-control windows allow. A stream whose peer does not open its window holds at most
// its share of the cap (the backend is throttled past it), never the whole connection.
#ifndef RINGWAY_PROXY_H2_CONN_H_
#define RINGWAY_PROXY_H2_CONN_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "proto/h2_session.h"
#include "proxy/conn.h"
#include "proxy/send_queue.h"

namespace ringway::proxy {

class WorkerImpl;

struct H2Stream {
  Exchange ex;
  uint32_t id = 0;
  bool req_done = false;    // the client's request ended (END_STREAM or trailers)
  bool chunked_up = false;  // the body goes to the HTTP/1 backend chunked (no content-length)
  bool head_sent = false;   // the final response head went out (SubmitResponse)
  bool resp_end = false;    // the response is complete once `pending` has gone
  bool end_sent = false;    // END_STREAM went out
  bool finished = false;    // logged and detached; freed at the end of the loop turn
  bool tunnel = false;      // extended CONNECT (WebSocket): DATA both ways once the backend agrees
  uint64_t body_bytes = 0;  // request body received so far
  uint64_t uncredited = 0;  // request bytes handed to the backend, not yet given back (window)
  uint64_t rx_ms = 0;       // when the client last sent for this stream (its body deadline)
  uint64_t stalled_ms = 0;  // since when response data waits for a window the client keeps shut
  uint64_t granted = 0;     // bytes its backend's receive may still bring (H2GrantRecv)
  SendQueue pending;        // response DATA payload waiting for the send window
  SendQueue early;          // the backend's head and body before it is connected to
  bool starting = false;    // waits for the end of the read to be connected (H2StartStreams)
  std::string trailers;     // the response's trailer section, HTTP/1 lines, sent after `pending`
  std::string up_trailers;  // to an HTTP/2 backend: the request's trailers, HTTP/1 lines
};

// The session's events, passed on to the worker (h2_server.cc).
class H2Handler : public h2::Handler {
 public:
  H2Handler(WorkerImpl* w, ClientConn* c) : w_(w), c_(c) {}
  void OnRequest(uint32_t id, const h2::Request& req, bool end_stream) override;
  void OnData(uint32_t id, std::string_view data, bool end_stream) override;
  void OnTrailers(uint32_t id, std::span<const hpack::HeaderField> fields) override;
  void OnStreamClosed(uint32_t id, h2::ErrorCode code, bool by_peer) override;
  void OnSendWindow(uint32_t id) override;
  void OnGoaway(uint32_t last_stream_id, h2::ErrorCode code, std::string_view debug) override;
  void OnRequestRejected(uint32_t id, uint16_t status, const char* detail) override;

 private:
  WorkerImpl* w_;
  ClientConn* c_;
};

struct H2State {
  H2State(WorkerImpl* w, ClientConn* c, const h2::SessionLimits& limits, uint64_t now_ms)
      : handler(w, c), session(limits, &handler, now_ms) {}
  H2Handler handler;
  h2::ServerSession session;
  absl::flat_hash_map<uint32_t, H2Stream*> streams;  // live streams (not finished)
  uint64_t pending_charged = 0;                      // sum of the streams' `pending` charges
  uint64_t granted = 0;                              // sum of the streams' receive grants
  // The receive buffer being fed: DATA views inside it can share it (bid >= 0).
  const char* feed_base = nullptr;
  size_t feed_len = 0;
  int32_t feed_bid = -1;
  bool failed = false;              // the session ended (GOAWAY queued): close once it has gone
  bool drain_wait = false;          // draining: GOAWAY once idle (or at a deadline)
  uint64_t active_ms = 0;           // when a stream last opened or ended
  uint32_t pump_turn = 0;           // H2PumpAll's rotation
  bool budget_waiters = false;      // a backend waits for the connection's budget
  std::vector<H2Stream*> starting;  // opened by the read being processed
};

}  // namespace ringway::proxy

#endif  // RINGWAY_PROXY_H2_CONN_H_
