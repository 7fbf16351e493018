// HTTP/2 frame serialization. Each frame is appended in one resize and filled in place, so a
// string reused across frames allocates only while it grows.
#include "proto/h2_frame_writer.h"

#include <algorithm>
#include <cstring>

namespace ringway::h2 {
namespace {

inline void Put24(char* p, uint32_t v) {
  p[0] = static_cast<char>(v >> 16);
  p[1] = static_cast<char>(v >> 8);
  p[2] = static_cast<char>(v);
}

inline void Put32(char* p, uint32_t v) {
  p[0] = static_cast<char>(v >> 24);
  p[1] = static_cast<char>(v >> 16);
  p[2] = static_cast<char>(v >> 8);
  p[3] = static_cast<char>(v);
}

inline void PutHeader(char* p, uint32_t length, FrameType type, uint8_t flags, uint32_t stream_id) {
  Put24(p, length);
  p[3] = static_cast<char>(type);
  p[4] = static_cast<char>(flags);
  Put32(p + 5, stream_id & kMaxStreamId);
}

// Grows *out by n bytes and returns where they start.
inline char* Grow(std::string* out, size_t n) {
  const size_t at = out->size();
  out->resize(at + n);
  return out->data() + at;
}

// Appends a frame with a payload of `fixed` leading bytes (written by the caller into the
// returned pointer) followed by `tail`.
char* AppendFrame(FrameType type, uint8_t flags, uint32_t stream_id, size_t fixed,
                  std::string_view tail, std::string* out) {
  const size_t length = fixed + tail.size();
  char* p = Grow(out, kFrameHeaderSize + length);
  PutHeader(p, static_cast<uint32_t>(length), type, flags, stream_id);
  if (!tail.empty()) std::memcpy(p + kFrameHeaderSize + fixed, tail.data(), tail.size());
  return p + kFrameHeaderSize;
}

// The first frame of a field block (HEADERS or PUSH_PROMISE, `fixed` bytes of fields written by
// the caller) and as many CONTINUATION frames as the rest needs. Returns the first frame's fixed
// field bytes.
char* AppendFieldBlock(FrameType type, uint8_t flags, uint32_t stream_id, size_t fixed,
                       std::string_view block, uint32_t max_frame_size, std::string* out) {
  // A frame always carries at least one byte of the block, so splitting ends even for a
  // (never valid) max_frame_size at or below the fixed fields.
  const size_t room = max_frame_size > fixed ? max_frame_size - fixed : 1;
  const size_t first = std::min(block.size(), room);
  size_t frames = 1;
  const size_t rest = block.size() - first;
  const size_t cont_room = std::max<size_t>(max_frame_size, 1);
  frames += (rest + cont_room - 1) / cont_room;
  // One allocation at most for all the frames of the block.
  const size_t start = out->size();
  out->reserve(start + frames * kFrameHeaderSize + fixed + block.size());
  const uint8_t end_headers = rest == 0 ? kFlagEndHeaders : 0;
  AppendFrame(type, flags | end_headers, stream_id, fixed, block.substr(0, first), out);
  block.remove_prefix(first);
  while (!block.empty()) {
    const size_t n = std::min(block.size(), cont_room);
    AppendFrame(FrameType::kContinuation, n == block.size() ? kFlagEndHeaders : 0, stream_id, 0,
                block.substr(0, n), out);
    block.remove_prefix(n);
  }
  return out->data() + start + kFrameHeaderSize;
}

inline void PutPriority(char* p, const Priority& pr) {
  Put32(p, (pr.dependency & kMaxStreamId) | (pr.exclusive ? 0x80000000u : 0));
  p[4] = static_cast<char>(pr.weight);
}

}  // namespace

void EncodeFrameHeader(const FrameHeader& h, std::span<char, kFrameHeaderSize> out) {
  PutHeader(out.data(), h.length, h.type, h.flags, h.stream_id);
}

void AppendFrameHeader(const FrameHeader& h, std::string* out) {
  PutHeader(Grow(out, kFrameHeaderSize), h.length, h.type, h.flags, h.stream_id);
}

void EncodeDataFrameHeader(uint32_t stream_id, uint32_t length, bool end_stream,
                           std::span<char, kFrameHeaderSize> out) {
  PutHeader(out.data(), length, FrameType::kData, end_stream ? kFlagEndStream : 0, stream_id);
}

void AppendData(uint32_t stream_id, std::string_view data, bool end_stream, std::string* out) {
  AppendFrame(FrameType::kData, end_stream ? kFlagEndStream : 0, stream_id, 0, data, out);
}

void AppendHeaders(uint32_t stream_id, std::string_view field_block, bool end_stream,
                   uint32_t max_frame_size, std::string* out) {
  AppendFieldBlock(FrameType::kHeaders, end_stream ? kFlagEndStream : 0, stream_id, 0, field_block,
                   max_frame_size, out);
}

void AppendHeaders(uint32_t stream_id, const Priority& priority, std::string_view field_block,
                   bool end_stream, uint32_t max_frame_size, std::string* out) {
  const uint8_t flags = kFlagPriority | (end_stream ? kFlagEndStream : 0);
  char* p = AppendFieldBlock(FrameType::kHeaders, flags, stream_id, kPrioritySize, field_block,
                             max_frame_size, out);
  PutPriority(p, priority);
}

void AppendPushPromise(uint32_t stream_id, uint32_t promised_stream_id,
                       std::string_view field_block, uint32_t max_frame_size, std::string* out) {
  char* p =
      AppendFieldBlock(FrameType::kPushPromise, 0, stream_id, 4, field_block, max_frame_size, out);
  Put32(p, promised_stream_id & kMaxStreamId);
}

void AppendPriority(uint32_t stream_id, const Priority& priority, std::string* out) {
  PutPriority(AppendFrame(FrameType::kPriority, 0, stream_id, kPrioritySize, {}, out), priority);
}

void AppendRstStream(uint32_t stream_id, ErrorCode code, std::string* out) {
  Put32(AppendFrame(FrameType::kRstStream, 0, stream_id, kRstStreamSize, {}, out),
        static_cast<uint32_t>(code));
}

void AppendSettings(std::span<const Setting> settings, std::string* out) {
  char* p = AppendFrame(FrameType::kSettings, 0, 0, settings.size() * kSettingSize, {}, out);
  for (const Setting& s : settings) {
    const auto id = static_cast<uint16_t>(s.id);
    p[0] = static_cast<char>(id >> 8);
    p[1] = static_cast<char>(id);
    Put32(p + 2, s.value);
    p += kSettingSize;
  }
}

void AppendSettingsAck(std::string* out) {
  AppendFrame(FrameType::kSettings, kFlagAck, 0, 0, {}, out);
}

void AppendPing(uint64_t opaque, bool ack, std::string* out) {
  char* p = AppendFrame(FrameType::kPing, ack ? kFlagAck : 0, 0, kPingSize, {}, out);
  Put32(p, static_cast<uint32_t>(opaque >> 32));
  Put32(p + 4, static_cast<uint32_t>(opaque));
}

void AppendGoaway(uint32_t last_stream_id, ErrorCode code, std::string_view debug_data,
                  std::string* out) {
  debug_data = debug_data.substr(0, kMinMaxFrameSize - kGoawayMinSize);
  char* p = AppendFrame(FrameType::kGoaway, 0, 0, kGoawayMinSize, debug_data, out);
  Put32(p, last_stream_id & kMaxStreamId);
  Put32(p + 4, static_cast<uint32_t>(code));
}

void AppendWindowUpdate(uint32_t stream_id, uint32_t increment, std::string* out) {
  Put32(AppendFrame(FrameType::kWindowUpdate, 0, stream_id, kWindowUpdateSize, {}, out),
        increment & kMaxWindowSize);
}

}  // namespace ringway::h2
