// HTTP/2 stream states (RFC 9113 section 5.1) for an endpoint that never pushes, and what a
// received frame means in each state. The session (proto/h2_session.h) keeps one Stream per open
// or half-closed stream and a bounded record of recently closed ones (ClosedStreams), so that a
// frame arriving on a closed stream is judged by how the stream closed, as section 5.1 asks.
//
//   StreamState s = StreamState::kIdle;
//   Transition(&s, StreamEvent::kRecvHeaders);           // kOpen
//   switch (ClassifyFrame(s, FrameType::kData)) { ... }  // kProcess
//
// The reserved states are absent: a server that never sends PUSH_PROMISE (and announces
// SETTINGS_ENABLE_PUSH = 0) never reserves a stream, and a client's PUSH_PROMISE is refused by
// the frame decoder. A client role adds kSendHeaders from idle and nothing else here.
#ifndef RINGWAY_PROTO_H2_STREAM_H_
#define RINGWAY_PROTO_H2_STREAM_H_

#include <cstdint>
#include <memory>

#include "proto/h2_frame.h"

namespace ringway::h2 {

//                           +--------+
//                           |  idle  |
//                           +--------+
//              recv H (no ES) |    | recv H + ES
//                  ,----------'    '-------------.
//                  v                              v
//            +--------+       recv ES       +----------+
//            |  open  |-------------------->|   half   |
//            |        |                     |  closed  |
//            +--------+                     | (remote) |
//                |                          +----------+
//                | send ES                        |
//                v                                | send ES
//          +----------+                           |
//          |   half   |       recv ES             v
//          |  closed  |-------------------->+--------+
//          | (local)  |                     | closed |
//          +----------+                     +--------+
//
//   H: HEADERS (with its CONTINUATION frames)   ES: END_STREAM flag
//   send R / recv R (RST_STREAM) from open or either half-closed state: closed.
enum class StreamState : uint8_t {
  kIdle,
  kOpen,
  kHalfClosedLocal,   // we sent END_STREAM; the peer still sends
  kHalfClosedRemote,  // the peer sent END_STREAM; we still send
  kClosed,
};

enum class StreamEvent : uint8_t {
  kRecvHeaders,    // the request's HEADERS, without END_STREAM (that is a kRecvEndStream next)
  kSendHeaders,    // client: our request's HEADERS (END_STREAM is a kSendEndStream next)
  kRecvEndStream,  // END_STREAM on a HEADERS or DATA frame from the peer
  kSendEndStream,  // END_STREAM on a HEADERS or DATA frame of ours
  kReset,          // RST_STREAM sent or received
};

// Moves *s along the diagram. False (and *s untouched) when the event is not possible in that
// state, which for the session is its own bug, never the peer's: peer frames are classified
// with ClassifyFrame first.
constexpr bool Transition(StreamState* s, StreamEvent e) {
  switch (*s) {
    case StreamState::kIdle:
      if (e != StreamEvent::kRecvHeaders && e != StreamEvent::kSendHeaders) return false;
      *s = StreamState::kOpen;
      return true;
    case StreamState::kOpen:
      switch (e) {
        case StreamEvent::kRecvEndStream:
          *s = StreamState::kHalfClosedRemote;
          return true;
        case StreamEvent::kSendEndStream:
          *s = StreamState::kHalfClosedLocal;
          return true;
        case StreamEvent::kReset:
          *s = StreamState::kClosed;
          return true;
        case StreamEvent::kRecvHeaders:
        case StreamEvent::kSendHeaders:
          return false;
      }
      return false;
    case StreamState::kHalfClosedLocal:
      if (e == StreamEvent::kRecvEndStream || e == StreamEvent::kReset) {
        *s = StreamState::kClosed;
        return true;
      }
      return false;
    case StreamState::kHalfClosedRemote:
      if (e == StreamEvent::kSendEndStream || e == StreamEvent::kReset) {
        *s = StreamState::kClosed;
        return true;
      }
      return false;
    case StreamState::kClosed:
      return false;
  }
  return false;
}

// How the session treats a received frame on a stream (stream 0 frames never get here).
enum class FrameVerdict : uint8_t {
  kProcess,
  // Ignore it, still applying its effect on the connection: HPACK for a field block, the
  // connection window for DATA (RFC 9113 sections 5.1 "closed", 6.8).
  kIgnore,
  kStreamClosed,       // stream error STREAM_CLOSED (RST_STREAM)
  kConnStreamClosed,   // connection error STREAM_CLOSED
  kConnProtocolError,  // connection error PROTOCOL_ERROR
};

// A frame on a stream in state `s` (idle, open or half-closed); RFC 9113 section 5.1.
// CONTINUATION is judged by the header-block sequencing rules before it gets here, and
// unknown types are ignored before it too.
constexpr FrameVerdict ClassifyFrame(StreamState s, FrameType t) {
  switch (s) {
    case StreamState::kIdle:
      // "Receiving any frame other than HEADERS or PRIORITY on a stream in this state MUST be
      // treated as a connection error of type PROTOCOL_ERROR."
      return t == FrameType::kHeaders || t == FrameType::kPriority
                 ? FrameVerdict::kProcess
                 : FrameVerdict::kConnProtocolError;
    case StreamState::kOpen:
    case StreamState::kHalfClosedLocal:
      return FrameVerdict::kProcess;
    case StreamState::kHalfClosedRemote:
      // "If an endpoint receives additional frames, other than WINDOW_UPDATE, PRIORITY, or
      // RST_STREAM, for a stream that is in this state, it MUST respond with a stream error of
      // type STREAM_CLOSED."
      return t == FrameType::kWindowUpdate || t == FrameType::kPriority ||
                     t == FrameType::kRstStream
                 ? FrameVerdict::kProcess
                 : FrameVerdict::kStreamClosed;
    case StreamState::kClosed:
      break;  // closed streams are judged by how they closed: ClassifyClosedFrame
  }
  return FrameVerdict::kIgnore;
}

// How a stream came to be closed, which decides what a late frame means.
enum class CloseCause : uint8_t {
  kEndStream,   // both sides sent END_STREAM
  kPeerReset,   // the peer sent RST_STREAM
  kLocalReset,  // we sent RST_STREAM (stream errors, refused streams, the proxy's resets)
  kIgnored,     // opened after our final GOAWAY: never processed (RFC 9113 section 6.8)
  kUnknown,     // a lower id than the newest, not remembered: forgotten, or never opened
};

// A frame on a closed stream (RFC 9113 section 5.1, "closed"):
//  - after our RST_STREAM (or our GOAWAY), frames already in flight are ignored (with their
//    HPACK and connection-window effects);
//  - after the peer's RST_STREAM, anything but PRIORITY is a stream error STREAM_CLOSED (and
//    RST_STREAM, which must not be answered with RST_STREAM, section 5.4.2, is ignored);
//  - after END_STREAM both ways, WINDOW_UPDATE and RST_STREAM may still cross ours and are
//    ignored; DATA, HEADERS and CONTINUATION are a connection error STREAM_CLOSED;
//  - a stream no longer remembered (the record is bounded; section 5.1 lets an endpoint limit
//    how long it ignores late frames) or never opened (an id skipped below the newest, which the
//    newer one closed implicitly, section 5.1.1): HEADERS would reuse an id, a connection
//    PROTOCOL_ERROR (section 5.1.1); DATA is a stream error STREAM_CLOSED (section 6.1); the rest
//    is ignored.
constexpr FrameVerdict ClassifyClosedFrame(CloseCause c, FrameType t) {
  if (t == FrameType::kPriority) return FrameVerdict::kIgnore;
  switch (c) {
    case CloseCause::kLocalReset:
    case CloseCause::kIgnored:
      return FrameVerdict::kIgnore;
    case CloseCause::kPeerReset:
      return t == FrameType::kRstStream ? FrameVerdict::kIgnore : FrameVerdict::kStreamClosed;
    case CloseCause::kEndStream:
      return t == FrameType::kWindowUpdate || t == FrameType::kRstStream
                 ? FrameVerdict::kIgnore
                 : FrameVerdict::kConnStreamClosed;
    case CloseCause::kUnknown:
      if (t == FrameType::kHeaders) return FrameVerdict::kConnProtocolError;
      return t == FrameType::kData ? FrameVerdict::kStreamClosed : FrameVerdict::kIgnore;
  }
  return FrameVerdict::kIgnore;
}

// One open or half-closed stream. Windows are signed: a peer's SETTINGS_INITIAL_WINDOW_SIZE
// decrease can take a send window below zero (RFC 9113 section 6.9.2), and an acknowledged
// decrease of ours a receive window.
struct Stream {
  uint32_t id = 0;
  StreamState state = StreamState::kIdle;
  bool final_response_sent = false;  // a non-1xx :status went out (DATA may follow); client: set
  bool response_received = false;    // client: the final response head arrived (DATA may follow)
  bool head_request = false;         // client: a HEAD request (its response has no content)
  bool no_content = false;           // client: the final response has no content (HEAD, 204, 304)
  bool send_blocked = false;         // SendableBytes said 0: OnSendWindow when it opens
  bool has_content_length = false;
  uint64_t content_length = 0;
  uint64_t data_received = 0;  // DATA payload bytes (padding excluded), for content-length
  int64_t send_window = 0;
  int64_t recv_window = 0;
  uint32_t recv_unacked = 0;  // released to us, not yet returned by WINDOW_UPDATE
  uint64_t unconsumed = 0;    // delivered to the handler, not yet released by ConsumeData

  bool ReceivingDone() const {
    return state == StreamState::kHalfClosedRemote || state == StreamState::kClosed;
  }
  bool SendingDone() const {
    return state == StreamState::kHalfClosedLocal || state == StreamState::kClosed;
  }
};

// The last `capacity` closed streams of the peer and how each closed, in a ring; the oldest is
// forgotten first. Looked up by linear scan: only frames on closed streams need it, and the
// scan reads capacity * 8 bytes. Memory is allocated on the first Add.
class ClosedStreams {
 public:
  explicit ClosedStreams(uint32_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

  void Add(uint32_t id, CloseCause cause) {
    if (!entries_) entries_ = std::make_unique<Entry[]>(capacity_);
    entries_[next_ % capacity_] = Entry{id, cause};
    ++next_;
  }

  // kUnknown when not remembered.
  CloseCause Find(uint32_t id) const {
    const uint64_t n = next_ < capacity_ ? next_ : capacity_;
    for (uint64_t i = 0; i < n; ++i) {
      if (entries_[i].id == id) return entries_[i].cause;
    }
    return CloseCause::kUnknown;
  }

 private:
  struct Entry {
    uint32_t id;
    CloseCause cause;
  };
  uint32_t capacity_;
  uint64_t next_ = 0;
  std::unique_ptr<Entry[]> entries_;
};

}  // namespace ringway::h2

#endif  // RINGWAY_PROTO_H2_STREAM_H_
