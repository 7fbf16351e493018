// The HTTP/2 connection state machine (RFC 9113 sections 3-8), server role, without sockets:
// decrypted bytes in through Feed, events out through a Handler; responses in through
// Submit*/PrepareData, bytes out through TakeOutput. Request DATA is handed over as views into
// the bytes given to Feed, never copied, so a proxy can pass the same receive buffer on to the
// backend; response DATA never enters the session either: it writes a 9-byte frame header and
// the proxy sends the backend's buffer after it.
//
//   class Proxy : public h2::Handler { ... };                  // one per connection
//   h2::ServerSession session(limits, &proxy, now_ms);         // queues our SETTINGS
//   h2::FeedResult r = session.Feed(received);                 // events fire in here
//   if (!r.ok) { /* GOAWAY is queued: flush TakeOutput, then close */ }
//   session.TakeOutput(&out);                                  // send `out` when writable
//   // in OnRequest: route, then later:
//   session.SubmitResponse(id, {200, fields}, /*end_stream=*/false);
//   uint32_t n = std::min<uint64_t>(session.SendableBytes(id), backend_bytes);
//   char hdr[9];
//   if (n > 0 && session.PrepareData(id, n, last, hdr)) { /* send TakeOutput, hdr, n bytes */ }
//   // when the backend took k request bytes delivered by OnData:
//   session.ConsumeData(id, k);                                // may queue WINDOW_UPDATE
//   session.Tick(now_ms);                                      // timers, once per loop turn
//
// Contract with the proxy:
//  - Handler methods run only inside Feed, never inside the proxy's own calls. From a handler
//    the proxy may call anything but Feed and Tick, and must not destroy the session (defer
//    the close). Views given to a handler live for the call.
//  - Output order: the session's output (HEADERS, RST_STREAM, WINDOW_UPDATE, ...) and the DATA
//    frames the proxy sends form one sequence. Before sending a DATA frame header from
//    PrepareData, queue whatever TakeOutput has (a response's HEADERS precede its DATA; trailers
//    submitted after a DATA frame follow it).
//  - Take output when the socket can take it. A peer that does not read makes output grow;
//    the session refuses to make it grow further for the peer (PING and SETTINGS ACKs,
//    RST_STREAM) past SessionLimits::max_output_bytes and fails with ENHANCE_YOUR_CALM.
//  - Every byte OnData delivered must come back through ConsumeData, even for a stream that has
//    closed since (the connection window counts it; ConsumeData on a closed stream credits the
//    connection only). Bytes the session drops itself (DATA on closed streams, padding) it
//    credits itself. Withholding ConsumeData is how a slow backend stalls only its own stream.
//  - A connection error (Feed or Tick returning !ok) ends the session: the GOAWAY is queued
//    and no handler method is called again. Flush the output and close.
//
// Stream-level errors never end the connection: a malformed request is refused with RST_STREAM
// PROTOCOL_ERROR (optionally after a 400 the session writes, SessionLimits::reply_to_malformed)
// and reported to OnRequestRejected instead of OnRequest; a stream error on a stream already
// given to OnRequest is reported to OnStreamClosed.
//
// The role-specific parts are small: which stream ids the peer may open (odd here), which
// pseudo-header fields a message carries (proto/h2_request.h) and the Handler's event names. A
// client session would reuse the framing, flow control, settings, closed-stream and abuse
// logic; it is not written yet. The implementation: h2_session.cc (receive loop, control
// frames, shutdown), h2_session_flow.cc (DATA, flow control), h2_session_headers.cc (field
// blocks, response heads); stream states in h2_stream.h, message rules in h2_request.h, abuse
// budgets in h2_abuse.h.
#ifndef RINGWAY_PROTO_H2_SESSION_H_
#define RINGWAY_PROTO_H2_SESSION_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "proto/h2_abuse.h"
#include "proto/h2_errors.h"
#include "proto/h2_frame.h"
#include "proto/h2_request.h"
#include "proto/h2_stream.h"
#include "proto/hpack.h"

namespace ringway::h2 {

struct SessionLimits {
  // SETTINGS_MAX_CONCURRENT_STREAMS. Enforced from the first stream, before the peer has
  // acknowledged it: a stream past it is refused with REFUSED_STREAM, which a client retries.
  uint32_t max_concurrent_streams = 100;
  // SETTINGS_INITIAL_WINDOW_SIZE we announce: what each request body may have in flight
  // before the proxy releases it with ConsumeData. It bounds the memory one stream can pin.
  uint32_t initial_stream_window = kDefaultInitialWindowSize;
  // Our connection receive window, raised from 65535 by a WINDOW_UPDATE right after SETTINGS.
  // It bounds the request-body bytes held for all streams together.
  uint32_t connection_window = 1 << 20;
  // SETTINGS_MAX_FRAME_SIZE we announce (16384 .. 2^24-1); also bounds the per-session copy
  // of a non-DATA frame split across Feed calls.
  uint32_t max_frame_size = kDefaultMaxFrameSize;
  // SETTINGS_MAX_HEADER_LIST_SIZE, enforced by the HPACK decoder (name + value + 32 per field).
  // A larger request head gets a 431 and RST_STREAM; the connection goes on.
  uint32_t max_header_list_size = 64 * 1024;
  // SETTINGS_HEADER_TABLE_SIZE: the HPACK dynamic table the peer may use for our decoder.
  uint32_t header_table_size = hpack::kDefaultTableSize;
  // Compressed bytes of one field block (HEADERS + CONTINUATION). A block must be gathered
  // whole before HPACK can decode it, and skipping it would put HPACK out of step, so a block
  // past this is a connection error, ENHANCE_YOUR_CALM: no rule of RFC 9113 is broken (a block
  // has no size limit there), the peer merely asks for more memory than we give, and a
  // compliant encoder never makes a block much larger than the list it encodes.
  uint32_t max_header_block_bytes = 128 * 1024;
  // Closed streams remembered, to tell a late frame after our RST_STREAM (ignored) from one
  // after END_STREAM (connection error STREAM_CLOSED). 8 bytes each, allocated on first use.
  uint32_t closed_stream_memory = 256;
  // A SETTINGS ACK not received within this long fails the connection with SETTINGS_TIMEOUT
  // (RFC 9113 section 6.5.3); 0: never. Measured with the times given to Tick.
  uint64_t settings_timeout_ms = 10000;
  // Graceful shutdown: the final GOAWAY follows the first at the PING ACK, or this long after
  // the first at the latest (RFC 9113 section 6.8: "at least one round-trip time").
  uint64_t shutdown_timeout_ms = 2000;
  // Output the peer may make us hold (see the contract above).
  size_t max_output_bytes = 1 << 20;
  // Local replies to refused requests, before the RST_STREAM: "400" to a malformed request (off:
  // RFC 9113 section 8.1.1 only asks for RST_STREAM PROTOCOL_ERROR, and h2spec checks that),
  // "431" to a header list over max_header_list_size (on: the section 10.5.1 answer; the stream
  // then ends normally, with RST_STREAM NO_ERROR if the request had a body coming).
  bool reply_to_malformed = false;
  bool reply_to_large_headers = true;
  // Server: announce SETTINGS_ENABLE_CONNECT_PROTOCOL and take extended CONNECT requests with
  // :protocol (RFC 8441: WebSocket over HTTP/2).
  bool enable_connect_protocol = false;
  AbuseLimits abuse;
};

struct SessionStats {
  uint64_t requests = 0;              // OnRequest calls
  uint64_t refused_streams = 0;       // REFUSED_STREAM: concurrency or per-Feed limit
  uint64_t malformed_requests = 0;    // requests refused as malformed (OnRequestRejected 400)
  uint64_t oversized_headers = 0;     // header lists over max_header_list_size (431)
  uint64_t peer_resets = 0;           // RST_STREAM from the peer on a live stream
  uint64_t stream_errors = 0;         // RST_STREAM we sent for the peer's stream errors
  uint64_t data_bytes = 0;            // DATA payload delivered to OnData
  uint64_t discarded_data_bytes = 0;  // DATA payload dropped (closed streams), credited here
};

// Events, called from inside Feed only. Stream ids are odd and, for OnRequest, increasing.
// The server role calls OnRequest; the client role OnResponse and OnPingAck; both the rest.
class Handler {
 public:
  virtual ~Handler() = default;
  // Server: a new request. end_stream: no body follows (request.has_body is its negation).
  virtual void OnRequest(uint32_t stream_id, const Request& request, bool end_stream) {}
  // Client: a response head on a stream SubmitRequest opened: interim ones (1xx, never with
  // end_stream) any number of times, then the final one. end_stream: no body follows.
  virtual void OnResponse(uint32_t stream_id, const ResponseHead& head, bool end_stream) {}
  // Body bytes (the request's for a server, the response's for a client), a view into the
  // bytes of the current Feed call; a DATA frame split across Feed calls arrives in several
  // pieces. `data` may be empty only when end_stream.
  virtual void OnData(uint32_t stream_id, std::string_view data, bool end_stream) = 0;
  // The message's trailer section (it always ends the peer's side of the stream).
  virtual void OnTrailers(uint32_t stream_id, std::span<const hpack::HeaderField> fields) = 0;
  // A live stream ended abnormally: by_peer, the peer's RST_STREAM with its code (for a client
  // also REFUSED_STREAM for the streams a GOAWAY left unprocessed, after OnGoaway); otherwise a
  // stream error of the peer's that the session answered with RST_STREAM `code` (a malformed
  // response, for a client). Not called for the proxy's own ResetStream, nor on a connection
  // error.
  virtual void OnStreamClosed(uint32_t stream_id, ErrorCode code, bool by_peer) = 0;
  // After SendableBytes returned 0 for the stream: its windows have room again.
  virtual void OnSendWindow(uint32_t stream_id) {}
  // The peer's GOAWAY. A server has no streams of its own to retry; the proxy will want to
  // finish the streams in flight and close. A client gets OnStreamClosed(REFUSED_STREAM,
  // by_peer) next for each of its streams above last_stream_id: never processed, safe to retry.
  virtual void OnGoaway(uint32_t last_stream_id, ErrorCode code, std::string_view debug) {}
  // Client: the ACK of the PING that SendPing sent.
  virtual void OnPingAck() {}
  // A request the session refused before OnRequest: status 400 (malformed, `detail` says how)
  // or 431 (header list too large). For the access log; the stream is already answered and
  // reset as SessionLimits says.
  virtual void OnRequestRejected(uint32_t stream_id, uint16_t status, const char* detail) {}
};

struct FeedResult {
  bool ok = true;
  ErrorCode error = ErrorCode::kNoError;  // the GOAWAY code when !ok
  const char* detail = "";                // static text: the GOAWAY debug data, for the log
};

// One connection in either role. ServerSession and ClientSession below name the role at
// construction; the methods of the other role refuse (return false or 0).
class Session {
 public:
  // Queues our connection preface: a server's SETTINGS and connection WINDOW_UPDATE, sent
  // without waiting for the client's (RFC 9113 section 3.4); a client's magic string first.
  // `handler` outlives the session.
  Session(Role role, const SessionLimits& limits, Handler* handler, uint64_t now_ms = 0);
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  Role role() const { return role_; }

  // Processes received bytes: the client preface (server role), then frames. Always takes all
  // of `bytes`.
  [[nodiscard]] FeedResult Feed(std::string_view bytes);
  // The time (milliseconds, any monotonic origin): runs the SETTINGS ACK timeout and the
  // graceful-shutdown bound, and refills the abuse budgets.
  [[nodiscard]] FeedResult Tick(uint64_t now_ms);

  // Bytes to send, in order. TakeOutput swaps them into *out (cleared first), so two strings
  // used in turn keep their capacity.
  const std::string& output() const { return output_; }
  void TakeOutput(std::string* out);

  // A response head: 1xx interim heads (not 101) as often as wanted, then one final head.
  // False when the stream is not open for sending or the head is not allowed.
  bool SubmitResponse(uint32_t stream_id, const Response& head, bool end_stream);
  // Client: opens a stream with a request head, `fields` in the order to send, the pseudo-header
  // fields first (":method", ":scheme", ":authority", ":path"); the caller builds them valid.
  // Returns the new stream id, or 0 when no stream can open now: OpenableStreams() is 0, or the
  // session failed. DATA may follow at once (PrepareData), within the peer's windows.
  uint32_t SubmitRequest(std::span<const hpack::HeaderField> fields, bool end_stream);
  // Client: streams SubmitRequest may open now: the peer's SETTINGS_MAX_CONCURRENT_STREAMS less
  // the streams open, 0 after the peer's GOAWAY, once stream ids run out, or when failed.
  uint32_t OpenableStreams() const;
  // Client: sends a PING whose ACK comes to OnPingAck; false (nothing sent) while one is out.
  bool SendPing();
  bool ping_outstanding() const { return ping_out_; }
  // Trailers after the final head (server) or the request head (client); ends our side of the
  // stream. No fields: an empty DATA with END_STREAM.
  bool SubmitTrailers(uint32_t stream_id, std::span<const hpack::HeaderField> fields);
  // How many DATA payload bytes may go out now in one frame on the stream: the stream and
  // connection send windows and the peer's SETTINGS_MAX_FRAME_SIZE, 0 before the final head
  // (server) or after END_STREAM. 0 because of a window arms OnSendWindow for the stream.
  uint32_t SendableBytes(uint32_t stream_id);
  // The DATA bytes the windows let go on the stream now, all frames together: the smaller of
  // its send window and the connection's (0 when negative or for an unknown stream). Changes
  // nothing (SendableBytes arms OnSendWindow).
  uint64_t SendWindow(uint32_t stream_id) const;
  // Debits both windows by n (at most SendableBytes; n = 0 with end_stream ends the stream
  // whatever the windows) and writes the frame header to send right before the n bytes.
  bool PrepareData(uint32_t stream_id, uint32_t n, bool end_stream,
                   std::span<char, kFrameHeaderSize> header);
  // n request-body bytes of the stream delivered by OnData are released (forwarded, or
  // dropped). Queues WINDOW_UPDATE for the stream and the connection once half a window is
  // due, so a stream whose backend is slow gets no more than its window in flight.
  void ConsumeData(uint32_t stream_id, uint64_t n);
  // Resets a stream (RST_STREAM `code`), e.g. when the backend failed mid-response, or with
  // NO_ERROR after a complete response to stop a request body nobody reads (RFC 9113 8.1).
  bool ResetStream(uint32_t stream_id, ErrorCode code);
  // Graceful shutdown in two steps (RFC 9113 section 6.8): GOAWAY with last-stream-id 2^31-1
  // and a PING now; at the PING ACK (or after shutdown_timeout_ms) a GOAWAY with the last
  // stream id processed. Streams up to it run to completion; later ones are ignored.
  // finished() tells when the connection may close. A client sends one GOAWAY (last-stream-id
  // 0: it processes no stream of the server's) and opens no more streams.
  void Shutdown();
  // Immediate close: GOAWAY `code` now, and the session ends as on a connection error.
  void Close(ErrorCode code, const char* detail);

  bool failed() const { return failed_; }
  // Nothing more will happen: failed, or shut down with every stream finished.
  bool finished() const;
  bool draining() const { return drain_ != Drain::kNone; }
  bool peer_sent_goaway() const { return peer_goaway_; }
  // The peer's GOAWAY last-stream-id (kMaxStreamId before any GOAWAY).
  uint32_t peer_goaway_last() const { return peer_goaway_last_; }
  // Whether the peer's SETTINGS frame (its connection preface) has arrived.
  bool got_peer_settings() const { return got_peer_settings_; }
  size_t active_streams() const { return streams_.size(); }
  // The state of one stream (kIdle for ids not used yet; kClosed once gone).
  StreamState stream_state(uint32_t stream_id) const;
  const Settings& peer_settings() const { return peer_; }
  const SessionStats& stats() const { return stats_; }
  const AbuseStats& abuse_stats() const { return abuse_.stats(); }

 private:
  enum class Rx : uint8_t { kPreface, kFrames, kDataPayload };
  enum class Drain : uint8_t { kNone, kFirstGoaway, kFinalGoaway };
  enum class BlockFate : uint8_t { kRequest, kResponse, kTrailers, kDiscard };

  // A field block being gathered (HEADERS without END_HEADERS, then CONTINUATION).
  struct Block {
    uint32_t stream_id = 0;  // 0: none pending
    BlockFate fate = BlockFate::kDiscard;
    bool end_stream = false;
    bool new_stream = false;  // opened a stream id: record it when done
    CloseCause record = CloseCause::kLocalReset;
    ErrorCode reset = ErrorCode::kNoError;  // RST_STREAM to send after decoding, if reset_set
    bool reset_set = false;
    Glitch reset_glitch = Glitch::kStreamError;
    const char* reset_detail = "";
    uint32_t continuations = 0;
  };

  // A DATA frame whose payload is still arriving.
  struct RxData {
    uint32_t stream_id = 0;
    uint32_t data_left = 0;  // payload bytes still to deliver or drop
    uint32_t pad_left = 0;   // padding after them
    bool end_stream = false;
    bool deliver = false;  // false: drop (already credited)
  };

  void ConsumePreface(std::string_view& in);
  void ConsumeFrame(std::string_view& in);
  void ConsumeDataPayload(std::string_view& in);
  bool OnFrameHeader(const FrameHeader& h);
  void ProcessFrame(const FrameHeader& h, std::string_view payload);
  void StartData(const FrameHeader& h, uint8_t pad_length);
  void ProcessHeaders(const FrameHeader& h, std::string_view payload);
  void ProcessContinuation(const FrameHeader& h, std::string_view payload);
  void FinishBlock(const Block& b, std::string_view block);
  void FinishRequest(const Block& b, std::string_view block);
  void FinishTrailers(const Block& b, std::string_view block);
  void FinishResponse(const Block& b, std::string_view block);
  void ProcessClientHeaders(const FrameHeader& h, const HeadersFrame& f, Block* b);
  void RejectRequest(uint32_t id, uint16_t status, bool end_stream, const char* detail);
  void ProcessPriority(const FrameHeader& h, std::string_view payload);
  void ProcessRstStream(const FrameHeader& h, std::string_view payload);
  void ProcessSettings(const FrameHeader& h, std::string_view payload);
  bool ApplyPeerSetting(Setting s);
  void ProcessPing(const FrameHeader& h, std::string_view payload);
  void ProcessGoaway(const FrameHeader& h, std::string_view payload);
  void ProcessWindowUpdate(const FrameHeader& h, std::string_view payload);

  struct Lookup {
    FrameVerdict verdict;
    Stream* stream;  // non-null exactly for live streams
  };
  Lookup Classify(uint32_t id, FrameType type);
  Stream* Find(uint32_t id);
  const Stream* Find(uint32_t id) const;
  void RecvEndStream(Stream* s);
  void SendEndStream(Stream* s);
  void CloseStream(uint32_t id, CloseCause cause);
  // Answers a peer's stream error with RST_STREAM; a live stream closes and is reported.
  void StreamError(uint32_t id, ErrorCode code, const char* detail,
                   Glitch glitch = Glitch::kStreamError);
  void CreditStream(Stream* s, uint64_t n);
  void CreditConnection(uint64_t n);
  void NotifySendWindows(uint32_t only_stream);
  void SendFinalGoaway();
  // False (and the connection failed) when the budget is spent.
  bool Charge(Glitch g, uint32_t points = 1);
  // Whether the peer may make us queue one more frame (else the connection fails).
  bool RoomForReply();
  void Fail(ErrorCode code, const char* detail);
  void Fail(const Error& e) { Fail(e.code, e.detail); }

  Role role_;
  SessionLimits limits_;
  Handler* handler_;
  uint64_t now_ms_;
  uint32_t max_frame_accept_;

  // Receiving.
  Rx rx_ = Rx::kPreface;
  std::string partial_;  // a frame (or the preface) split across Feed calls; DATA: header only
  bool partial_checked_ = false;  // OnFrameHeader ran for the header in partial_
  RxData data_;
  bool in_feed_ = false;
  uint32_t streams_this_feed_ = 0;

  // Settings. Ours are sent once, at construction.
  bool got_peer_settings_ = false;
  bool settings_acked_ = false;
  uint64_t settings_sent_at_;
  Settings peer_;
  int8_t peer_no_rfc7540_priorities_ = -1;  // -1: not sent yet (RFC 9218: may not change)
  int64_t local_window_in_force_ = kDefaultInitialWindowSize;  // until our SETTINGS are ACKed

  // HPACK and field blocks.
  hpack::Decoder decoder_;
  hpack::Encoder encoder_;
  std::vector<hpack::HeaderField> fields_;
  Block block_;
  std::string block_buf_;

  // Streams: live ones sorted by id (ids only grow, so opening appends), then the record. Both
  // roles use odd ids only: the client opens them, and a server never pushes.
  std::vector<Stream> streams_;
  ClosedStreams closed_;
  uint32_t last_stream_id_ = 0;  // the newest stream opened (by the peer for a server)
  uint32_t next_stream_id_ = 1;  // client: the id SubmitRequest uses next
  uint32_t peer_goaway_last_ = kMaxStreamId;
  bool ping_out_ = false;  // client: a SendPing not acknowledged yet

  // Connection flow control.
  int64_t conn_send_window_ = kDefaultInitialWindowSize;
  int64_t conn_recv_window_ = kDefaultInitialWindowSize;
  uint64_t conn_recv_unacked_ = 0;
  uint64_t conn_unconsumed_ = 0;

  // Shutdown and failure.
  Drain drain_ = Drain::kNone;
  uint64_t shutdown_at_ = 0;
  uint32_t goaway_last_sent_ = kMaxStreamId;
  bool peer_goaway_ = false;
  bool failed_ = false;
  FeedResult failure_;

  AbuseGuard abuse_;
  SessionStats stats_;

  std::string output_;
  // Scratch for encoding response heads, and for OnSendWindow ids.
  std::vector<hpack::HeaderField> out_fields_;
  std::string out_names_;
  std::string out_block_;
  std::vector<uint32_t> notify_;
};

class ServerSession : public Session {
 public:
  ServerSession(const SessionLimits& limits, Handler* handler, uint64_t now_ms = 0)
      : Session(Role::kServer, limits, handler, now_ms) {}
};

// The client role, towards a backend: SubmitRequest opens streams; responses come to
// Handler::OnResponse, OnData and OnTrailers. SessionLimits apply as for a server, except
// max_concurrent_streams (the server's SETTINGS bounds the streams we open) and the request
// replies.
class ClientSession : public Session {
 public:
  ClientSession(const SessionLimits& limits, Handler* handler, uint64_t now_ms = 0)
      : Session(Role::kClient, limits, handler, now_ms) {}
};

}  // namespace ringway::h2

#endif  // RINGWAY_PROTO_H2_SESSION_H_
