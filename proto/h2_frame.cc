// HTTP/2 frame reading: the frame header, then one decoder per type. Every read is
// bounds-checked against the payload view, whose size is the frame length; the checks run in
// the order that lets a connection error win over a stream error (RFC 9113 section 5.4).
#include "proto/h2_frame.h"

#include <algorithm>
#include <iterator>

namespace ringway::h2 {
namespace {

inline uint8_t U8(const char* p) { return static_cast<uint8_t>(*p); }

inline uint32_t U24(const char* p) {
  return (uint32_t{U8(p)} << 16) | (uint32_t{U8(p + 1)} << 8) | U8(p + 2);
}

inline uint32_t U32(const char* p) {
  return (uint32_t{U8(p)} << 24) | (uint32_t{U8(p + 1)} << 16) | (uint32_t{U8(p + 2)} << 8) |
         U8(p + 3);
}

// A 31-bit stream id or increment after its reserved bit, which is ignored on receipt.
inline uint32_t U31(const char* p) { return U32(p) & kMaxStreamId; }

inline Priority ReadPriority(const char* p) {
  Priority pr;
  pr.exclusive = (U8(p) & 0x80) != 0;
  pr.dependency = U31(p);
  pr.weight = U8(p + 4);
  return pr;
}

// Splits a padded payload (HEADERS, PUSH_PROMISE) into the fragment after `fixed` bytes of
// fields and the padding; `payload` starts after the Pad Length byte when padded.
struct Fragment {
  std::string_view bytes;
  Error error;
};

Fragment SplitPadding(std::string_view payload, bool padded, size_t fixed, const char* short_msg,
                      const char* pad_msg) {
  Fragment f;
  size_t pad = 0;
  if (padded) {
    if (payload.empty()) {
      f.error = Error::Connection(ErrorCode::kFrameSizeError, short_msg);
      return f;
    }
    pad = U8(payload.data());
    payload.remove_prefix(1);
  }
  if (payload.size() < fixed) {
    f.error = Error::Connection(ErrorCode::kFrameSizeError, short_msg);
    return f;
  }
  if (pad > payload.size() - fixed) {
    f.error = Error::Connection(ErrorCode::kProtocolError, pad_msg);
    return f;
  }
  f.bytes = payload.substr(0, payload.size() - pad);  // fixed fields + fragment
  return f;
}

}  // namespace

std::string_view FrameTypeName(FrameType t) {
  constexpr std::string_view kNames[] = {
      "DATA",         "HEADERS", "PRIORITY", "RST_STREAM",    "SETTINGS",
      "PUSH_PROMISE", "PING",    "GOAWAY",   "WINDOW_UPDATE", "CONTINUATION",
  };
  const auto i = static_cast<uint8_t>(t);
  return i < std::size(kNames) ? kNames[i] : "UNKNOWN";
}

std::string_view SettingName(SettingId id) {
  switch (id) {
    case SettingId::kHeaderTableSize:
      return "SETTINGS_HEADER_TABLE_SIZE";
    case SettingId::kEnablePush:
      return "SETTINGS_ENABLE_PUSH";
    case SettingId::kMaxConcurrentStreams:
      return "SETTINGS_MAX_CONCURRENT_STREAMS";
    case SettingId::kInitialWindowSize:
      return "SETTINGS_INITIAL_WINDOW_SIZE";
    case SettingId::kMaxFrameSize:
      return "SETTINGS_MAX_FRAME_SIZE";
    case SettingId::kMaxHeaderListSize:
      return "SETTINGS_MAX_HEADER_LIST_SIZE";
    case SettingId::kEnableConnectProtocol:
      return "SETTINGS_ENABLE_CONNECT_PROTOCOL";
    case SettingId::kNoRfc7540Priorities:
      return "SETTINGS_NO_RFC7540_PRIORITIES";
  }
  return "UNKNOWN";
}

bool DecodeFrameHeader(std::string_view in, FrameHeader* out) {
  if (in.size() < kFrameHeaderSize) return false;
  const char* p = in.data();
  out->length = U24(p);
  out->type = static_cast<FrameType>(U8(p + 3));
  out->flags = U8(p + 4);
  out->stream_id = U31(p + 5);
  return true;
}

ReadResult ReadFrame(std::string_view in, uint32_t max_frame_size) {
  ReadResult r;
  if (!DecodeFrameHeader(in, &r.header)) {
    r.needed = kFrameHeaderSize;
    return r;
  }
  if (r.header.length > max_frame_size) {
    r.status = ReadStatus::kError;
    r.error =
        Error::Connection(ErrorCode::kFrameSizeError, "frame larger than SETTINGS_MAX_FRAME_SIZE");
    return r;
  }
  r.has_header = true;
  const size_t total = kFrameHeaderSize + r.header.length;
  if (in.size() < total) {
    r.needed = total;
    return r;
  }
  r.status = ReadStatus::kFrame;
  r.payload = in.substr(kFrameHeaderSize, r.header.length);
  r.consumed = total;
  return r;
}

PrefaceStatus MatchClientPreface(std::string_view in) {
  const size_t n = std::min(in.size(), kClientPreface.size());
  if (in.substr(0, n) != kClientPreface.substr(0, n)) return PrefaceStatus::kMismatch;
  return n == kClientPreface.size() ? PrefaceStatus::kMatch : PrefaceStatus::kNeedMore;
}

Error DecodeDataLayout(const FrameHeader& h, uint8_t pad_length, DataLayout* out) {
  if (h.stream_id == 0) return Error::Connection(ErrorCode::kProtocolError, "DATA on stream 0");
  uint32_t offset = 0;
  uint32_t pad = 0;
  if (h.has(kFlagPadded)) {
    // No room for the Pad Length field: the frame is too small for its mandatory data.
    if (h.length == 0) {
      return Error::Connection(ErrorCode::kFrameSizeError, "padded DATA without Pad Length");
    }
    if (pad_length >= h.length) {
      return Error::Connection(ErrorCode::kProtocolError, "DATA padding exceeds payload");
    }
    offset = 1;
    pad = pad_length;
  }
  out->data_offset = offset;
  out->data_length = h.length - offset - pad;
  out->flow_controlled_length = h.length;
  out->end_stream = h.has(kFlagEndStream);
  return Error::Ok();
}

Error DecodeData(const FrameHeader& h, std::string_view payload, DataFrame* out) {
  FrameHeader sized = h;
  sized.length = static_cast<uint32_t>(payload.size());
  const uint8_t pad = payload.empty() ? 0 : U8(payload.data());
  DataLayout l;
  const Error e = DecodeDataLayout(sized, pad, &l);
  if (!e.ok()) return e;
  out->data = payload.substr(l.data_offset, l.data_length);
  out->flow_controlled_length = l.flow_controlled_length;
  out->end_stream = l.end_stream;
  return Error::Ok();
}

Error DecodeHeaders(const FrameHeader& h, std::string_view payload, HeadersFrame* out) {
  if (h.stream_id == 0) {
    return Error::Connection(ErrorCode::kProtocolError, "HEADERS on stream 0");
  }
  const bool prio = h.has(kFlagPriority);
  const Fragment f = SplitPadding(payload, h.has(kFlagPadded), prio ? kPrioritySize : 0,
                                  "HEADERS too short for its fields", "HEADERS padding too long");
  if (!f.error.ok()) return f.error;
  out->end_stream = h.has(kFlagEndStream);
  out->end_headers = h.has(kFlagEndHeaders);
  out->has_priority = prio;
  out->priority = Priority{};
  out->field_block = f.bytes;
  if (!prio) return Error::Ok();
  out->priority = ReadPriority(f.bytes.data());
  out->field_block = f.bytes.substr(kPrioritySize);
  if (out->priority.dependency == h.stream_id) {
    return Error::Stream(ErrorCode::kProtocolError, "HEADERS stream depends on itself");
  }
  return Error::Ok();
}

Error DecodePriority(const FrameHeader& h, std::string_view payload, Priority* out) {
  if (h.stream_id == 0) {
    return Error::Connection(ErrorCode::kProtocolError, "PRIORITY on stream 0");
  }
  if (payload.size() != kPrioritySize) {
    return Error::Stream(ErrorCode::kFrameSizeError, "PRIORITY length is not 5");
  }
  *out = ReadPriority(payload.data());
  if (out->dependency == h.stream_id) {
    return Error::Stream(ErrorCode::kProtocolError, "PRIORITY stream depends on itself");
  }
  return Error::Ok();
}

Error DecodeRstStream(const FrameHeader& h, std::string_view payload, RstStreamFrame* out) {
  if (h.stream_id == 0) {
    return Error::Connection(ErrorCode::kProtocolError, "RST_STREAM on stream 0");
  }
  if (payload.size() != kRstStreamSize) {
    return Error::Connection(ErrorCode::kFrameSizeError, "RST_STREAM length is not 4");
  }
  out->error_code = static_cast<ErrorCode>(U32(payload.data()));
  return Error::Ok();
}

Setting SettingsView::Iterator::operator*() const {
  return Setting{static_cast<SettingId>((uint16_t{U8(p_)} << 8) | U8(p_ + 1)), U32(p_ + 2)};
}

Error ValidateSetting(Setting s, Role receiver) {
  switch (s.id) {
    case SettingId::kEnablePush:
      if (s.value > 1) {
        return Error::Connection(ErrorCode::kProtocolError, "SETTINGS_ENABLE_PUSH not 0 or 1");
      }
      // A server must not announce push (RFC 9113 section 6.5.2).
      if (s.value == 1 && receiver == Role::kClient) {
        return Error::Connection(ErrorCode::kProtocolError, "server sent SETTINGS_ENABLE_PUSH 1");
      }
      return Error::Ok();
    case SettingId::kInitialWindowSize:
      if (s.value > kMaxWindowSize) {
        return Error::Connection(ErrorCode::kFlowControlError,
                                 "SETTINGS_INITIAL_WINDOW_SIZE over 2^31-1");
      }
      return Error::Ok();
    case SettingId::kMaxFrameSize:
      if (s.value < kMinMaxFrameSize || s.value > kMaxMaxFrameSize) {
        return Error::Connection(ErrorCode::kProtocolError, "SETTINGS_MAX_FRAME_SIZE out of range");
      }
      return Error::Ok();
    case SettingId::kEnableConnectProtocol:
      if (s.value > 1) {
        return Error::Connection(ErrorCode::kProtocolError,
                                 "SETTINGS_ENABLE_CONNECT_PROTOCOL not 0 or 1");
      }
      return Error::Ok();
    case SettingId::kNoRfc7540Priorities:
      if (s.value > 1) {
        return Error::Connection(ErrorCode::kProtocolError,
                                 "SETTINGS_NO_RFC7540_PRIORITIES not 0 or 1");
      }
      return Error::Ok();
    case SettingId::kHeaderTableSize:
    case SettingId::kMaxConcurrentStreams:
    case SettingId::kMaxHeaderListSize:
      return Error::Ok();
  }
  return Error::Ok();  // unknown identifiers are ignored (RFC 9113 section 6.5.2)
}

Error DecodeSettings(const FrameHeader& h, std::string_view payload, Role receiver,
                     SettingsFrame* out) {
  if (h.stream_id != 0) {
    return Error::Connection(ErrorCode::kProtocolError, "SETTINGS on a stream");
  }
  const bool ack = h.has(kFlagAck);
  if (ack && !payload.empty()) {
    return Error::Connection(ErrorCode::kFrameSizeError, "SETTINGS ACK with a payload");
  }
  if (payload.size() % kSettingSize != 0) {
    return Error::Connection(ErrorCode::kFrameSizeError, "SETTINGS length not a multiple of 6");
  }
  const SettingsView view(payload);
  for (const Setting s : view) {
    const Error e = ValidateSetting(s, receiver);
    if (!e.ok()) return e;
  }
  out->ack = ack;
  out->settings = view;
  return Error::Ok();
}

void Settings::Apply(Setting s) {
  switch (s.id) {
    case SettingId::kHeaderTableSize:
      header_table_size = s.value;
      return;
    case SettingId::kEnablePush:
      enable_push = s.value != 0;
      return;
    case SettingId::kMaxConcurrentStreams:
      max_concurrent_streams = s.value;
      return;
    case SettingId::kInitialWindowSize:
      initial_window_size = s.value;
      return;
    case SettingId::kMaxFrameSize:
      max_frame_size = s.value;
      return;
    case SettingId::kMaxHeaderListSize:
      max_header_list_size = s.value;
      return;
    case SettingId::kEnableConnectProtocol:
      enable_connect_protocol = s.value != 0;
      return;
    case SettingId::kNoRfc7540Priorities:
      no_rfc7540_priorities = s.value != 0;
      return;
  }
}

Error DecodePushPromise(const FrameHeader& h, std::string_view payload, Role receiver,
                        PushPromiseFrame* out) {
  // Only servers push (RFC 9113 section 8.4).
  if (receiver == Role::kServer) {
    return Error::Connection(ErrorCode::kProtocolError, "PUSH_PROMISE sent to a server");
  }
  if (h.stream_id == 0) {
    return Error::Connection(ErrorCode::kProtocolError, "PUSH_PROMISE on stream 0");
  }
  const Fragment f =
      SplitPadding(payload, h.has(kFlagPadded), 4, "PUSH_PROMISE too short for its fields",
                   "PUSH_PROMISE padding too long");
  if (!f.error.ok()) return f.error;
  const uint32_t promised = U31(f.bytes.data());
  // Server-initiated streams are even and never 0 (RFC 9113 section 5.1.1).
  if (promised == 0 || promised % 2 != 0) {
    return Error::Connection(ErrorCode::kProtocolError, "PUSH_PROMISE promises an odd or 0 stream");
  }
  out->promised_stream_id = promised;
  out->field_block = f.bytes.substr(4);
  out->end_headers = h.has(kFlagEndHeaders);
  return Error::Ok();
}

Error DecodePing(const FrameHeader& h, std::string_view payload, PingFrame* out) {
  if (h.stream_id != 0) return Error::Connection(ErrorCode::kProtocolError, "PING on a stream");
  if (payload.size() != kPingSize) {
    return Error::Connection(ErrorCode::kFrameSizeError, "PING length is not 8");
  }
  out->opaque = (uint64_t{U32(payload.data())} << 32) | U32(payload.data() + 4);
  out->ack = h.has(kFlagAck);
  return Error::Ok();
}

Error DecodeGoaway(const FrameHeader& h, std::string_view payload, GoawayFrame* out) {
  if (h.stream_id != 0) return Error::Connection(ErrorCode::kProtocolError, "GOAWAY on a stream");
  if (payload.size() < kGoawayMinSize) {
    return Error::Connection(ErrorCode::kFrameSizeError, "GOAWAY shorter than 8");
  }
  out->last_stream_id = U31(payload.data());
  out->error_code = static_cast<ErrorCode>(U32(payload.data() + 4));
  out->debug_data = payload.substr(kGoawayMinSize);
  return Error::Ok();
}

Error DecodeWindowUpdate(const FrameHeader& h, std::string_view payload, WindowUpdateFrame* out) {
  if (payload.size() != kWindowUpdateSize) {
    return Error::Connection(ErrorCode::kFrameSizeError, "WINDOW_UPDATE length is not 4");
  }
  out->increment = U31(payload.data());
  if (out->increment == 0) {
    return h.stream_id == 0
               ? Error::Connection(ErrorCode::kProtocolError,
                                   "WINDOW_UPDATE of 0 on the connection")
               : Error::Stream(ErrorCode::kProtocolError, "WINDOW_UPDATE of 0 on a stream");
  }
  return Error::Ok();
}

Error DecodeContinuation(const FrameHeader& h, std::string_view payload, ContinuationFrame* out) {
  if (h.stream_id == 0) {
    return Error::Connection(ErrorCode::kProtocolError, "CONTINUATION on stream 0");
  }
  out->field_block = payload;
  out->end_headers = h.has(kFlagEndHeaders);
  return Error::Ok();
}

}  // namespace ringway::h2
