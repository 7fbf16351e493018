// HTTP/2 framing (RFC 9113 section 6), write side: serializes each frame type by appending to a
// caller's string, and writes a bare DATA frame header into a fixed array so that a payload
// held in another buffer (a backend's receive buffer) follows it without being copied.
//
//   std::string out;  // reused; keeps its capacity
//   h2::AppendSettings({{h2::SettingId::kMaxConcurrentStreams, 100}}, &out);
//   h2::AppendHeaders(1, block, /*end_stream=*/false, peer.max_frame_size, &out);
//   std::array<char, h2::kFrameHeaderSize> hdr;
//   h2::EncodeDataFrameHeader(1, body.size(), /*end_stream=*/true, hdr);  // send hdr, then body
//
// Writers never pad, never set a flag the type does not define, and always send the reserved
// bits as 0 (ids are masked to 31 bits). The caller keeps to the peer's limits: a DATA, PRIORITY
// or SETTINGS payload must fit the peer's SETTINGS_MAX_FRAME_SIZE and a length must fit 24
// bits; HEADERS and PUSH_PROMISE split themselves.
#ifndef RINGWAY_PROTO_H2_FRAME_WRITER_H_
#define RINGWAY_PROTO_H2_FRAME_WRITER_H_

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

#include "proto/h2_frame.h"

namespace ringway::h2 {

// The 9 header bytes of `h` (length must be < 2^24; stream id masked to 31 bits).
void EncodeFrameHeader(const FrameHeader& h, std::span<char, kFrameHeaderSize> out);
void AppendFrameHeader(const FrameHeader& h, std::string* out);

// The header of a DATA frame whose `length` payload bytes the caller sends from elsewhere.
void EncodeDataFrameHeader(uint32_t stream_id, uint32_t length, bool end_stream,
                           std::span<char, kFrameHeaderSize> out);

// One DATA frame carrying `data` (at most the peer's max frame size).
void AppendData(uint32_t stream_id, std::string_view data, bool end_stream, std::string* out);

// A field block as one HEADERS frame, or HEADERS and then CONTINUATION frames when the block
// does not fit max_frame_size (the peer's SETTINGS_MAX_FRAME_SIZE); END_HEADERS is on the last
// frame, END_STREAM on the HEADERS frame (RFC 9113 section 6.2). The frames are contiguous, as
// section 4.3 requires: nothing may be sent between them.
void AppendHeaders(uint32_t stream_id, std::string_view field_block, bool end_stream,
                   uint32_t max_frame_size, std::string* out);
// The same with the (deprecated) priority fields and the PRIORITY flag.
void AppendHeaders(uint32_t stream_id, const Priority& priority, std::string_view field_block,
                   bool end_stream, uint32_t max_frame_size, std::string* out);

// PUSH_PROMISE on `stream_id` promising `promised_stream_id`, split like AppendHeaders.
void AppendPushPromise(uint32_t stream_id, uint32_t promised_stream_id,
                       std::string_view field_block, uint32_t max_frame_size, std::string* out);

void AppendPriority(uint32_t stream_id, const Priority& priority, std::string* out);
void AppendRstStream(uint32_t stream_id, ErrorCode code, std::string* out);

// SETTINGS carrying `settings` in order (an empty list is the valid empty SETTINGS frame).
void AppendSettings(std::span<const Setting> settings, std::string* out);
inline void AppendSettings(std::initializer_list<Setting> settings, std::string* out) {
  AppendSettings(std::span<const Setting>(settings.begin(), settings.size()), out);
}
void AppendSettingsAck(std::string* out);

// PING; an ACK echoes the opaque data of the PING it answers.
void AppendPing(uint64_t opaque, bool ack, std::string* out);

// GOAWAY. debug_data is cut to what fits the smallest max frame size a peer can have (16376
// bytes), since it is diagnostics only and a GOAWAY must never be refused for its size.
void AppendGoaway(uint32_t last_stream_id, ErrorCode code, std::string_view debug_data,
                  std::string* out);

// WINDOW_UPDATE; increment must be 1 .. 2^31-1 (0 is a protocol error at the peer).
void AppendWindowUpdate(uint32_t stream_id, uint32_t increment, std::string* out);

}  // namespace ringway::h2

#endif  // RINGWAY_PROTO_H2_FRAME_WRITER_H_
