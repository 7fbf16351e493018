// HTTP/2 to backends (upstreams with protocol h2 or h2c): a connection is an UpstreamConn of
// kind kH2Client whose bytes go to a client-role session (proto/h2_session.h); each exchange
// that goes to such a backend is one UpStream on it. Connections are kept per backend per
// worker (Pool::h2) and carry streams up to the backend's SETTINGS_MAX_CONCURRENT_STREAMS;
// another opens when all are full.
//
// Flow control is the backpressure, both ways: request bytes leave the stream's `body` queue as
// the backend's windows allow, and the client's own window (HTTP/2 clients) or socket (HTTP/1)
// is only given back as they leave; response bytes are given back to the backend's window
// (ConsumeData) only once the client side has room, so a slow client stalls its own stream.
#ifndef RINGWAY_PROXY_H2_UP_H_
#define RINGWAY_PROXY_H2_UP_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "proto/h2_session.h"
#include "proxy/conn.h"
#include "proxy/send_queue.h"

namespace ringway::proxy {

class WorkerImpl;

// One exchange's stream on an HTTP/2 backend connection.
struct UpStream {
  Exchange* ex = nullptr;        // null once the exchange let it go (then it is reset)
  UpstreamConn* conn = nullptr;  // the connection carrying it (or waiting to)
  uint32_t id = 0;               // 0: not opened yet (the connection is not ready, or full)
  uint32_t backend = 0;
  bool lb_open = false;  // the balancer counts this attempt as outstanding
  uint64_t sent_ns = 0;
  uint64_t ttfb_ns = 0;
  uint64_t deadline_ms = 0;       // response deadline (upstream_response, re-armed on data)
  uint64_t grpc_deadline_ms = 0;  // from grpc-timeout; 0: none
  // Request side.
  // The request head: views into ex->up_head (H2UpStart), read when the stream opens.
  std::vector<hpack::HeaderField> head;
  SendQueue body;  // request body bytes waiting for the stream's send window
  // A copy of the body bytes sent, while they are few (kReplayMax): a stream the backend
  // refuses unprocessed (REFUSED_STREAM, GOAWAY) is sent again, whole. Dropped at the response.
  std::string replay;
  bool replay_ok = true;
  uint64_t body_sent = 0;
  bool req_end = false;  // the client's request ended: END_STREAM after `body` (and trailers)
  bool end_sent = false;
  std::string req_trailers;  // "name: value\r\n" lines, sent as HEADERS at the end
  // Response side.
  bool head_done = false;  // the final response head arrived
  uint32_t interim = 0;    // 1xx heads seen
  bool resp_done = false;
  bool chunk_out = false;   // an HTTP/1.1 client gets the body chunked (no content-length)
  uint64_t uncredited = 0;  // response bytes handed to the client side, not yet given back
  bool throttled = false;   // the client side is full: credit waits until it drains
  std::string resp_trailers;
  bool counted = false;  // on the connection's waiting list
};

// The session's events, passed on to the worker (h2_client.cc).
class UpHandler : public h2::Handler {
 public:
  UpHandler(WorkerImpl* w, UpstreamConn* u) : w_(w), u_(u) {}
  void OnResponse(uint32_t id, const h2::ResponseHead& head, bool end_stream) override;
  void OnData(uint32_t id, std::string_view data, bool end_stream) override;
  void OnTrailers(uint32_t id, std::span<const hpack::HeaderField> fields) override;
  void OnStreamClosed(uint32_t id, h2::ErrorCode code, bool by_peer) override;
  void OnSendWindow(uint32_t id) override;
  void OnGoaway(uint32_t last_stream_id, h2::ErrorCode code, std::string_view debug) override;
  void OnPingAck() override {}

 private:
  WorkerImpl* w_;
  UpstreamConn* u_;
};

struct H2UpState {
  H2UpState(WorkerImpl* w, UpstreamConn* u, const h2::SessionLimits& limits, uint64_t now_ms)
      : handler(w, u), session(limits, &handler, now_ms) {}
  UpHandler handler;
  h2::ClientSession session;
  absl::flat_hash_map<uint32_t, UpStream*> streams;  // open streams by id
  std::vector<UpStream*> waiting;                    // streams waiting to open, in order
  // The receive buffer being fed: DATA views inside it can share it (bid >= 0).
  const char* feed_base = nullptr;
  size_t feed_len = 0;
  int32_t feed_bid = -1;
  bool ready = false;     // connected and the server's SETTINGS arrived: streams may open
  bool draining = false;  // GOAWAY received (or the pool let it go): no new stream
  bool opening = false;   // H2UpOpenWaiting is running
  uint64_t rx_ms = 0;     // when the backend last sent anything
  uint64_t ping_ms = 0;   // when our liveness PING went out
  uint64_t idle_ms = 0;   // since when it carries no stream
  uint32_t reserved = 0;  // streams assigned to it (open or waiting)
};

}  // namespace ringway::proxy

#endif  // RINGWAY_PROXY_H2_UP_H_
