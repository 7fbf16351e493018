// HTTP/2 framing (RFC 9113 sections 4 and 6), read side: the 9-byte frame header, the payload of
// each frame type, and every check the RFC makes on one frame by itself, for both roles.
//
// Nothing here allocates or copies. ReadFrame finds the next frame in a byte span (which may
// hold several frames or part of one) and returns views into it; DecodeX validates one payload
// and returns views into it, or the exact error code with its scope (stream or connection).
// What needs more than one frame to judge (stream states, CONTINUATION sequencing, windows,
// settings acknowledgement) is the connection state machine's: see "Left to the connection"
// at the end of this file. The writers are in proto/h2_frame_writer.h.
//
//   h2::ReadResult r = h2::ReadFrame(in, local.max_frame_size);
//   if (r.status != h2::ReadStatus::kFrame) { /* kNeedMore: read more; kError: GOAWAY */ }
//   if (r.header.type == h2::FrameType::kData) {
//     h2::DataFrame d;
//     h2::Error e = h2::DecodeData(r.header, r.payload, &d);  // d.data views into `in`
//   }
//   in.remove_prefix(r.consumed);
#ifndef RINGWAY_PROTO_H2_FRAME_H_
#define RINGWAY_PROTO_H2_FRAME_H_

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string_view>

#include "proto/h2_errors.h"

namespace ringway::h2 {

// ---------------------------------------------------------------------------------------------
// Constants

// What a client sends first (RFC 9113 section 3.4), followed by a SETTINGS frame.
inline constexpr std::string_view kClientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

inline constexpr size_t kFrameHeaderSize = 9;
inline constexpr uint32_t kMaxStreamId = 0x7fffffff;  // 31 bits; bit 31 is reserved
// The largest flow-control window, window increment and SETTINGS_INITIAL_WINDOW_SIZE.
inline constexpr uint32_t kMaxWindowSize = 0x7fffffff;
inline constexpr uint32_t kDefaultInitialWindowSize = 65535;  // streams and the connection
inline constexpr uint32_t kDefaultHeaderTableSize = 4096;
// SETTINGS_MAX_FRAME_SIZE: the initial value is also the smallest a peer may announce.
inline constexpr uint32_t kDefaultMaxFrameSize = 16384;
inline constexpr uint32_t kMinMaxFrameSize = 16384;
inline constexpr uint32_t kMaxMaxFrameSize = 16777215;  // 2^24-1, the 24-bit length field
// Initial SETTINGS_MAX_CONCURRENT_STREAMS and SETTINGS_MAX_HEADER_LIST_SIZE: no limit.
inline constexpr uint32_t kUnlimited = 0xffffffff;
// Fixed payload sizes.
inline constexpr size_t kPrioritySize = 5;      // E + dependency (4), weight (1)
inline constexpr size_t kRstStreamSize = 4;     // error code
inline constexpr size_t kSettingSize = 6;       // identifier (2), value (4)
inline constexpr size_t kPingSize = 8;          // opaque data
inline constexpr size_t kGoawayMinSize = 8;     // last stream id (4), error code (4)
inline constexpr size_t kWindowUpdateSize = 4;  // R + increment

// The frame types of RFC 9113 section 6. A FrameType may hold any uint8_t: a peer may send
// extension types, which a receiver must discard (RFC 9113 section 5.5).
enum class FrameType : uint8_t {
  kData = 0x0,
  kHeaders = 0x1,
  kPriority = 0x2,
  kRstStream = 0x3,
  kSettings = 0x4,
  kPushPromise = 0x5,
  kPing = 0x6,
  kGoaway = 0x7,
  kWindowUpdate = 0x8,
  kContinuation = 0x9,
};

// Whether RFC 9113 defines the type (DATA .. CONTINUATION).
constexpr bool IsKnownFrameType(FrameType t) { return static_cast<uint8_t>(t) <= 0x9; }
// "DATA", "WINDOW_UPDATE", ..., or "UNKNOWN"; for logs.
std::string_view FrameTypeName(FrameType t);

// Flags. Each is defined only for the types named; a bit a type does not define is ignored on
// receipt and never sent (RFC 9113 section 4.1).
inline constexpr uint8_t kFlagEndStream = 0x01;   // DATA, HEADERS
inline constexpr uint8_t kFlagAck = 0x01;         // SETTINGS, PING
inline constexpr uint8_t kFlagEndHeaders = 0x04;  // HEADERS, PUSH_PROMISE, CONTINUATION
inline constexpr uint8_t kFlagPadded = 0x08;      // DATA, HEADERS, PUSH_PROMISE
inline constexpr uint8_t kFlagPriority = 0x20;    // HEADERS

// SETTINGS identifiers: RFC 9113 section 6.5.2, plus RFC 8441 (extended CONNECT) and RFC 9218
// (the signal that RFC 7540 priorities are not used). Holds any uint16_t: unknown identifiers
// must be ignored.
enum class SettingId : uint16_t {
  kHeaderTableSize = 0x1,
  kEnablePush = 0x2,
  kMaxConcurrentStreams = 0x3,
  kInitialWindowSize = 0x4,
  kMaxFrameSize = 0x5,
  kMaxHeaderListSize = 0x6,
  kEnableConnectProtocol = 0x8,
  kNoRfc7540Priorities = 0x9,
};

// "SETTINGS_MAX_FRAME_SIZE", ..., or "UNKNOWN"; for logs.
std::string_view SettingName(SettingId id);

// Which end of the connection receives. Some checks differ: a server never accepts
// PUSH_PROMISE, a client never accepts SETTINGS_ENABLE_PUSH = 1.
enum class Role : uint8_t { kServer, kClient };

// ---------------------------------------------------------------------------------------------
// Finding frames

struct FrameHeader {
  uint32_t length = 0;                // payload length, 0 .. 2^24-1
  FrameType type = FrameType::kData;  // may be a type RFC 9113 does not define
  uint8_t flags = 0;                  // as sent, bits the type does not define included
  uint32_t stream_id = 0;             // 31 bits: the reserved bit is dropped on read

  constexpr bool has(uint8_t flag) const { return (flags & flag) != 0; }
};

// Decodes the 9 bytes at the start of `in` with no checks. False (and *out untouched) when
// `in` is shorter than 9 bytes.
bool DecodeFrameHeader(std::string_view in, FrameHeader* out);

enum class ReadStatus : uint8_t { kFrame, kNeedMore, kError };

struct ReadResult {
  ReadStatus status = ReadStatus::kNeedMore;
  // Valid when has_header: on kFrame, and on kNeedMore once the 9 header bytes are in (a
  // receiver that forwards DATA as it arrives, without gathering the frame, starts there).
  bool has_header = false;
  FrameHeader header;
  std::string_view payload;  // kFrame: the header.length bytes after the header, inside `in`
  size_t consumed = 0;       // kFrame: 9 + header.length
  size_t needed = 0;         // kNeedMore: bytes the frame takes in all (9 until the header is in)
  Error error;               // kError: FRAME_SIZE_ERROR, connection
};

// Finds the frame at the start of `in`. A length over max_frame_size (the SETTINGS_MAX_FRAME_SIZE
// this endpoint announced) is a connection error FRAME_SIZE_ERROR, reported as soon as the
// header is in, before the payload arrives. RFC 9113 section 4.2 would allow a stream error for
// frames that cannot change connection state, but the frame still has to be read past and the
// peer has ignored our settings: closing is simpler and allowed (section 5.4.1).
// Every type is checked this way, unknown types included; their payload is not examined.
ReadResult ReadFrame(std::string_view in, uint32_t max_frame_size);

enum class PrefaceStatus : uint8_t { kMatch, kNeedMore, kMismatch };

// Whether `in` starts with kClientPreface (kNeedMore: `in` is a proper prefix of it). A server
// treats kMismatch as a connection error PROTOCOL_ERROR and may close without GOAWAY (RFC 9113
// section 3.4). On kMatch the frames start at in[kClientPreface.size()].
PrefaceStatus MatchClientPreface(std::string_view in);

// ---------------------------------------------------------------------------------------------
// Payloads
//
// Each DecodeX takes a header and payload from ReadFrame for a frame of that type; the payload's
// size is the frame length (header.length is not read again). It returns Error::Ok() or the
// error RFC 9113 prescribes. *out is filled unless the error is a connection error: a frame with
// a stream error still has effects the connection must apply (a HEADERS field block must still
// go through HPACK, RFC 9113 section 4.3). Flags a type does not define are ignored. When one
// frame breaks several rules, a connection error wins over a stream error.

// RFC 7540 priority fields, deprecated by RFC 9113 section 5.3.2 but still parsed and checked.
struct Priority {
  bool exclusive = false;
  uint32_t dependency = 0;  // stream id, 31 bits
  uint8_t weight = 15;      // as sent; the weight is weight + 1 (1..256), 16 by default
};

struct DataFrame {
  std::string_view data;  // without Pad Length and padding
  // What the frame takes from both flow-control windows: the whole payload, Pad Length and
  // padding included (RFC 9113 section 6.1).
  uint32_t flow_controlled_length = 0;
  bool end_stream = false;
};

// DATA. Connection errors: stream 0 (PROTOCOL_ERROR); PADDED with an empty payload, which has
// no room for the Pad Length (FRAME_SIZE_ERROR); Pad Length >= payload length (PROTOCOL_ERROR).
[[nodiscard]] Error DecodeData(const FrameHeader& h, std::string_view payload, DataFrame* out);

// Where the data lies in a DATA payload that is forwarded as it arrives instead of gathered:
// payload bytes [data_offset, data_offset + data_length) are data, the rest Pad Length and
// padding. pad_length is the first payload byte, read only when the frame is PADDED (and then
// needed before calling). Same errors as DecodeData.
struct DataLayout {
  uint32_t data_offset = 0;  // 1 when PADDED, else 0
  uint32_t data_length = 0;
  uint32_t flow_controlled_length = 0;  // header.length
  bool end_stream = false;
};
[[nodiscard]] Error DecodeDataLayout(const FrameHeader& h, uint8_t pad_length, DataLayout* out);

struct HeadersFrame {
  std::string_view field_block;  // this frame's fragment; the whole block when end_headers
  bool end_stream = false;
  bool end_headers = false;
  bool has_priority = false;
  Priority priority;  // valid when has_priority
};

// HEADERS. Connection errors: stream 0 (PROTOCOL_ERROR); a payload too short for the Pad Length
// and priority fields its flags announce (FRAME_SIZE_ERROR); padding longer than what follows
// those fields (PROTOCOL_ERROR). RFC 9113 states the padding rule against the whole payload;
// padding that would reach back into the priority fields is refused too, as RFC 7540 did.
// Stream error: a stream that depends on itself (PROTOCOL_ERROR; RFC 7540 section 5.3.1, which
// RFC 9113 keeps by reference); *out is filled and the field block must still be decoded.
[[nodiscard]] Error DecodeHeaders(const FrameHeader& h, std::string_view payload,
                                  HeadersFrame* out);

// PRIORITY. Connection error: stream 0 (PROTOCOL_ERROR). Stream errors: length other than 5
// (FRAME_SIZE_ERROR); dependency on itself (PROTOCOL_ERROR).
[[nodiscard]] Error DecodePriority(const FrameHeader& h, std::string_view payload, Priority* out);

struct RstStreamFrame {
  ErrorCode error_code = ErrorCode::kNoError;  // as sent; may be a code RFC 9113 lacks
};

// RST_STREAM. Connection errors: stream 0 (PROTOCOL_ERROR); length other than 4
// (FRAME_SIZE_ERROR).
[[nodiscard]] Error DecodeRstStream(const FrameHeader& h, std::string_view payload,
                                    RstStreamFrame* out);

struct Setting {
  SettingId id = SettingId::kHeaderTableSize;  // may be an identifier this file lacks
  uint32_t value = 0;
};

// The settings of a SETTINGS payload, in order (they must be applied in order, RFC 9113 section
// 6.5.3), unknown identifiers included so that the caller's switch skips them. A view into the
// payload; iterating decodes in place.
class SettingsView {
 public:
  class Iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using iterator_concept = std::forward_iterator_tag;
    using value_type = Setting;
    using difference_type = std::ptrdiff_t;
    using reference = Setting;
    using pointer = void;

    Iterator() = default;
    Setting operator*() const;
    Iterator& operator++() {
      p_ += kSettingSize;
      return *this;
    }
    Iterator operator++(int) {
      Iterator old = *this;
      ++*this;
      return old;
    }
    bool operator==(const Iterator& o) const { return p_ == o.p_; }

   private:
    friend class SettingsView;
    explicit Iterator(const char* p) : p_(p) {}
    const char* p_ = nullptr;
  };

  SettingsView() = default;
  // `payload`'s size must be a multiple of 6 (DecodeSettings checks it); a trailing partial
  // entry is never read.
  explicit SettingsView(std::string_view payload)
      : bytes_(payload.substr(0, payload.size() - payload.size() % kSettingSize)) {}

  size_t size() const { return bytes_.size() / kSettingSize; }
  bool empty() const { return bytes_.empty(); }
  Setting operator[](size_t i) const {  // i < size()
    return *Iterator(bytes_.data() + i * kSettingSize);
  }
  Iterator begin() const { return Iterator(bytes_.data()); }
  Iterator end() const { return Iterator(bytes_.data() + bytes_.size()); }

 private:
  std::string_view bytes_;
};

struct SettingsFrame {
  bool ack = false;
  SettingsView settings;  // empty when ack
};

// Whether one value is allowed (RFC 9113 section 6.5.2), as received by `receiver`. Connection
// errors: ENABLE_PUSH not 0 or 1, or 1 sent to a client (PROTOCOL_ERROR); INITIAL_WINDOW_SIZE
// over 2^31-1 (FLOW_CONTROL_ERROR); MAX_FRAME_SIZE outside 2^14 .. 2^24-1 (PROTOCOL_ERROR);
// ENABLE_CONNECT_PROTOCOL or NO_RFC7540_PRIORITIES not 0 or 1 (PROTOCOL_ERROR; RFC 9218 section
// 2.1 says so for the latter, RFC 8441 defines only those two values for the former). Any value
// of any other identifier is fine: unknown ones are ignored.
[[nodiscard]] Error ValidateSetting(Setting s, Role receiver);

// SETTINGS. Connection errors: stream other than 0 (PROTOCOL_ERROR); ACK with a payload
// (FRAME_SIZE_ERROR); length not a multiple of 6 (FRAME_SIZE_ERROR); any value ValidateSetting
// refuses. Every value is checked before *out is filled, so a frame is applied whole or not at
// all.
[[nodiscard]] Error DecodeSettings(const FrameHeader& h, std::string_view payload, Role receiver,
                                   SettingsFrame* out);

// The values one endpoint has announced, starting from the initial values of RFC 9113 section
// 6.5.2. A connection keeps two: the peer's (applied on receipt) and its own (in force once
// the peer acknowledges them).
struct Settings {
  uint32_t header_table_size = kDefaultHeaderTableSize;
  bool enable_push = true;  // a server's value has no effect
  uint32_t max_concurrent_streams = kUnlimited;
  uint32_t initial_window_size = kDefaultInitialWindowSize;
  uint32_t max_frame_size = kDefaultMaxFrameSize;
  uint32_t max_header_list_size = kUnlimited;
  bool enable_connect_protocol = false;
  bool no_rfc7540_priorities = false;

  // Stores one setting that ValidateSetting accepted; unknown identifiers are ignored. The
  // effects on other state (stream windows when INITIAL_WINDOW_SIZE changes, the HPACK table
  // size) are the caller's.
  void Apply(Setting s);
};

struct PushPromiseFrame {
  uint32_t promised_stream_id = 0;  // 31 bits, reserved bit dropped
  std::string_view field_block;     // this frame's fragment; the whole block when end_headers
  bool end_headers = false;
};

// PUSH_PROMISE. Connection errors (all PROTOCOL_ERROR but one): received by a server (RFC 9113
// section 8.4); stream 0; a payload too short for the Pad Length and promised stream id
// (FRAME_SIZE_ERROR); padding longer than what follows the promised stream id; a promised
// stream id that no server may use (0 or odd, section 5.1.1).
[[nodiscard]] Error DecodePushPromise(const FrameHeader& h, std::string_view payload, Role receiver,
                                      PushPromiseFrame* out);

struct PingFrame {
  uint64_t opaque = 0;  // the 8 bytes, big-endian; echoed unchanged in the ACK
  bool ack = false;
};

// PING. Connection errors: stream other than 0 (PROTOCOL_ERROR); length other than 8
// (FRAME_SIZE_ERROR).
[[nodiscard]] Error DecodePing(const FrameHeader& h, std::string_view payload, PingFrame* out);

struct GoawayFrame {
  uint32_t last_stream_id = 0;                 // 31 bits, reserved bit dropped
  ErrorCode error_code = ErrorCode::kNoError;  // as sent; may be a code RFC 9113 lacks
  std::string_view debug_data;                 // opaque, may hold anything; log with care
};

// GOAWAY. Connection errors: stream other than 0 (PROTOCOL_ERROR); length under 8
// (FRAME_SIZE_ERROR).
[[nodiscard]] Error DecodeGoaway(const FrameHeader& h, std::string_view payload, GoawayFrame* out);

struct WindowUpdateFrame {
  uint32_t increment = 0;  // 31 bits, reserved bit dropped
};

// WINDOW_UPDATE. Connection errors: length other than 4 (FRAME_SIZE_ERROR); increment 0 on
// stream 0 (PROTOCOL_ERROR). Stream error: increment 0 on a stream (PROTOCOL_ERROR).
[[nodiscard]] Error DecodeWindowUpdate(const FrameHeader& h, std::string_view payload,
                                       WindowUpdateFrame* out);

struct ContinuationFrame {
  std::string_view field_block;  // the next fragment of the block
  bool end_headers = false;
};

// CONTINUATION. Connection error: stream 0 (PROTOCOL_ERROR).
[[nodiscard]] Error DecodeContinuation(const FrameHeader& h, std::string_view payload,
                                       ContinuationFrame* out);

// ---------------------------------------------------------------------------------------------
// Left to the connection (RFC 9113 rules that need state, not checked here):
//  - 3.4: after the client preface, the first frame from either side must be SETTINGS (else
//    connection PROTOCOL_ERROR); SETTINGS must be acknowledged; an ACK nobody asked for is not
//    an error but worth counting.
//  - 4.2 / ReadFrame: pass the largest SETTINGS_MAX_FRAME_SIZE announced and not yet replaced
//    by an acknowledged smaller one.
//  - 4.3, 6.2, 6.10: a HEADERS or PUSH_PROMISE without END_HEADERS must be followed only by
//    CONTINUATION frames on the same stream, unknown types included (5.5); a CONTINUATION
//    anywhere else is a connection PROTOCOL_ERROR. Every field block is decoded, even for
//    streams that are reset or refused, and a decoding failure is COMPRESSION_ERROR.
//  - 5.1: stream states: frames other than HEADERS and PRIORITY on an idle stream (connection
//    PROTOCOL_ERROR), RST_STREAM on an idle stream (connection PROTOCOL_ERROR), DATA on a
//    stream that is not open or half-closed (local) (stream STREAM_CLOSED), frames other than
//    WINDOW_UPDATE, PRIORITY and RST_STREAM on half-closed (remote) (stream STREAM_CLOSED),
//    frames after our RST_STREAM processed minimally (HPACK, connection window).
//  - 5.1.1: peer stream ids must have the peer's parity and grow (connection PROTOCOL_ERROR);
//    the promised id of PUSH_PROMISE must be idle; HEADERS on an idle server-initiated stream.
//  - 5.1.2: HEADERS beyond our SETTINGS_MAX_CONCURRENT_STREAMS (stream PROTOCOL_ERROR or
//    REFUSED_STREAM).
//  - 6.1, 6.9: DATA counts against both receive windows (flow_controlled_length), even on a
//    stream in error; more than the window allows is FLOW_CONTROL_ERROR. A WINDOW_UPDATE that
//    takes a send window over 2^31-1 is FLOW_CONTROL_ERROR (stream or connection); one on a
//    half-closed (remote) or closed stream is not an error.
//  - 6.5.2, 6.9.2: a new INITIAL_WINDOW_SIZE shifts every stream's send window by the
//    difference, and a window pushed over 2^31-1 that way is a connection FLOW_CONTROL_ERROR.
//    HEADER_TABLE_SIZE feeds the HPACK encoder. ENABLE_CONNECT_PROTOCOL must not go back from 1
//    to 0 (RFC 8441), NO_RFC7540_PRIORITIES must not change (RFC 9218).
//  - 6.6, 8.4: a client that set ENABLE_PUSH = 0 and had it acknowledged treats PUSH_PROMISE as
//    a connection PROTOCOL_ERROR; PUSH_PROMISE on a stream that is neither open nor half-closed
//    (local) is a connection PROTOCOL_ERROR.
//  - 6.7: answer a PING without ACK with a PING ACK carrying the same 8 bytes; never answer an
//    ACK.
//  - 6.8: the last stream id of the GOAWAYs we send must never grow; streams above the peer's
//    last stream id were not processed and may be retried.
//  - 8.1.1 and the rest of section 8 (pseudo-header fields, content-length against DATA) are the
//    message layer's.

}  // namespace ringway::h2

#endif  // RINGWAY_PROTO_H2_FRAME_H_
