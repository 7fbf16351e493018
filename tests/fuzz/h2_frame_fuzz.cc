// Fuzz target for the HTTP/2 frame reader, payload decoders and writers. The first byte picks
// the receiving role, SETTINGS_MAX_FRAME_SIZE and whether a client preface leads; the rest is a
// byte stream read frame by frame. Invariants checked (abort on violation):
//  - ReadFrame: kFrame consumes 9 + length <= input bytes, the payload sits right after the
//    header, length <= max; kNeedMore asks for more than the input holds and has a header exactly
//    when 9 bytes are in; kError only for a length over the max, as a connection
//    FRAME_SIZE_ERROR. A prefix of the input gives the same frames, then kNeedMore.
//  - every decoder: views lie inside the payload and the pieces add up to the frame length; an
//    error has a detail and the scope RFC 9113 gives it (stream errors only where a rule says
//    so); frames on the wrong kind of stream always fail; DecodeDataLayout agrees with
//    DecodeData.
//  - a decoded valid frame written again by the writers reads back with the same fields, and
//    header + payload written generically give back the input bytes (reserved bit cleared).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "proto/h2_frame.h"
#include "proto/h2_frame_writer.h"

namespace {

using namespace ringway::h2;

void Check(bool ok) {
  if (!ok) std::abort();
}

bool Inside(std::string_view v, std::string_view outer) {
  return v.data() >= outer.data() && v.data() + v.size() <= outer.data() + outer.size();
}

void CheckError(const Error& e) {
  Check(!e.ok());
  Check(e.detail != nullptr && e.detail[0] != '\0');
}

// Reads the single frame `out` must hold, with the largest max so the writer's own lengths pass.
ReadResult ReadBack(std::string_view out) {
  const ReadResult r = ReadFrame(out, kMaxMaxFrameSize);
  Check(r.status == ReadStatus::kFrame && r.consumed == out.size());
  return r;
}

// Concatenates a HEADERS / PUSH_PROMISE fragment and its CONTINUATION frames from `in`, which
// must hold exactly one block.
std::string ReadBlockBack(std::string_view in, uint32_t max, const ReadResult& first,
                          std::string_view first_fragment, bool end_headers) {
  std::string block(first_fragment);
  Check(first.header.length <= max);
  in.remove_prefix(first.consumed);
  while (!end_headers) {
    const ReadResult r = ReadFrame(in, max);
    Check(r.status == ReadStatus::kFrame);
    Check(r.header.type == FrameType::kContinuation);
    Check(r.header.stream_id == first.header.stream_id);
    ContinuationFrame c;
    Check(DecodeContinuation(r.header, r.payload, &c).ok());
    block.append(c.field_block);
    end_headers = c.end_headers;
    in.remove_prefix(r.consumed);
  }
  Check(in.empty());
  return block;
}

void CheckData(const ReadResult& r) {
  const FrameHeader& h = r.header;
  DataFrame d;
  const Error e = DecodeData(h, r.payload, &d);
  DataLayout l;
  const Error el = DecodeDataLayout(h, r.payload.empty() ? 0 : uint8_t(r.payload[0]), &l);
  Check(e.scope == el.scope && e.code == el.code);
  if (h.stream_id == 0) Check(!e.ok());
  if (!e.ok()) {
    CheckError(e);
    Check(e.IsConnectionError());
    return;
  }
  Check(Inside(d.data, r.payload));
  Check(d.flow_controlled_length == r.payload.size());
  Check(d.data == r.payload.substr(l.data_offset, l.data_length));
  Check(d.end_stream == h.has(kFlagEndStream));
  if (h.has(kFlagPadded)) {
    Check(d.data.data() == r.payload.data() + 1);
    Check(1 + d.data.size() + uint8_t(r.payload[0]) == r.payload.size());
  } else {
    Check(d.data.size() == r.payload.size());
  }
  std::string out;
  AppendData(h.stream_id, d.data, d.end_stream, &out);
  const ReadResult b = ReadBack(out);
  DataFrame d2;
  Check(DecodeData(b.header, b.payload, &d2).ok());
  Check(b.header.stream_id == h.stream_id && d2.data == d.data && d2.end_stream == d.end_stream);
  // The zero-copy header is the same 9 bytes.
  char hdr[kFrameHeaderSize];
  EncodeDataFrameHeader(h.stream_id, uint32_t(d.data.size()), d.end_stream, hdr);
  Check(out.compare(0, kFrameHeaderSize, hdr, kFrameHeaderSize) == 0);
}

void CheckHeaders(const ReadResult& r, uint8_t seed) {
  const FrameHeader& h = r.header;
  HeadersFrame f;
  const Error e = DecodeHeaders(h, r.payload, &f);
  if (h.stream_id == 0) Check(e.IsConnectionError() && e.code == ErrorCode::kProtocolError);
  if (!e.ok()) {
    CheckError(e);
    if (e.IsConnectionError()) return;
    // The one stream error: a self-dependency, with the frame still filled in.
    Check(e.code == ErrorCode::kProtocolError && f.has_priority);
    Check(f.priority.dependency == h.stream_id);
  }
  Check(Inside(f.field_block, r.payload));
  const size_t fixed = (h.has(kFlagPadded) ? 1 : 0) + (h.has(kFlagPriority) ? 5 : 0);
  const size_t pad = h.has(kFlagPadded) ? uint8_t(r.payload[0]) : 0;
  Check(fixed + f.field_block.size() + pad == r.payload.size());
  Check(f.field_block.data() == r.payload.data() + fixed);
  Check(f.has_priority == h.has(kFlagPriority));
  Check(f.end_stream == h.has(kFlagEndStream) && f.end_headers == h.has(kFlagEndHeaders));
  if (!e.ok()) return;

  // Written again, split at a small max frame size so CONTINUATION frames appear.
  const uint32_t max = 6 + seed % 32;
  std::string out;
  if (f.has_priority) {
    AppendHeaders(h.stream_id, f.priority, f.field_block, f.end_stream, max, &out);
  } else {
    AppendHeaders(h.stream_id, f.field_block, f.end_stream, max, &out);
  }
  const ReadResult b = ReadFrame(out, max);
  Check(b.status == ReadStatus::kFrame && b.header.type == FrameType::kHeaders);
  HeadersFrame f2;
  Check(DecodeHeaders(b.header, b.payload, &f2).ok());
  Check(b.header.stream_id == h.stream_id && f2.end_stream == f.end_stream);
  Check(f2.has_priority == f.has_priority);
  if (f.has_priority) {
    Check(f2.priority.exclusive == f.priority.exclusive);
    Check(f2.priority.dependency == f.priority.dependency);
    Check(f2.priority.weight == f.priority.weight);
  }
  Check(ReadBlockBack(out, max, b, f2.field_block, f2.end_headers) == f.field_block);
}

void CheckPriority(const ReadResult& r) {
  const FrameHeader& h = r.header;
  Priority p;
  const Error e = DecodePriority(h, r.payload, &p);
  if (h.stream_id == 0) Check(e.IsConnectionError() && e.code == ErrorCode::kProtocolError);
  if (!e.ok()) {
    CheckError(e);
    if (h.stream_id != 0) Check(e.scope == ErrorScope::kStream);
    if (h.stream_id != 0 && r.payload.size() != kPrioritySize) {
      Check(e.code == ErrorCode::kFrameSizeError);
    }
    return;
  }
  Check(r.payload.size() == kPrioritySize && p.dependency != h.stream_id);
  std::string out;
  AppendPriority(h.stream_id, p, &out);
  Check(out.compare(kFrameHeaderSize, std::string::npos, r.payload) == 0);
}

void CheckRstStream(const ReadResult& r) {
  RstStreamFrame f;
  const Error e = DecodeRstStream(r.header, r.payload, &f);
  if (r.header.stream_id == 0 || r.payload.size() != 4) Check(!e.ok());
  if (!e.ok()) {
    CheckError(e);
    Check(e.IsConnectionError());
    return;
  }
  std::string out;
  AppendRstStream(r.header.stream_id, f.error_code, &out);
  Check(out.compare(kFrameHeaderSize, std::string::npos, r.payload) == 0);
}

void CheckSettings(const ReadResult& r, Role role) {
  SettingsFrame f;
  const Error e = DecodeSettings(r.header, r.payload, role, &f);
  if (r.header.stream_id != 0 || r.payload.size() % 6 != 0) Check(!e.ok());
  if (!e.ok()) {
    CheckError(e);
    Check(e.IsConnectionError());
    return;
  }
  Check(f.ack == r.header.has(kFlagAck));
  Check(f.settings.size() * kSettingSize == r.payload.size());
  std::vector<Setting> list;
  Settings applied;
  for (const Setting s : f.settings) {
    Check(ValidateSetting(s, role).ok());
    applied.Apply(s);
    list.push_back(s);
  }
  Check(applied.max_frame_size >= kMinMaxFrameSize && applied.max_frame_size <= kMaxMaxFrameSize);
  Check(applied.initial_window_size <= kMaxWindowSize);
  // A client never accepts a server's offer to receive pushes.
  if (role == Role::kClient) {
    for (const Setting& s : list) Check(s.id != SettingId::kEnablePush || s.value == 0);
  }
  std::string out;
  if (f.ack) {
    AppendSettingsAck(&out);
  } else {
    AppendSettings(list, &out);
  }
  Check(out.compare(kFrameHeaderSize, std::string::npos, r.payload) == 0);
  const ReadResult b = ReadBack(out);
  SettingsFrame f2;
  Check(DecodeSettings(b.header, b.payload, role, &f2).ok() && f2.ack == f.ack);
  Check(f2.settings.size() == list.size());
}

void CheckPushPromise(const ReadResult& r, Role role, uint8_t seed) {
  const FrameHeader& h = r.header;
  PushPromiseFrame f;
  const Error e = DecodePushPromise(h, r.payload, role, &f);
  if (role == Role::kServer || h.stream_id == 0) Check(!e.ok());
  if (!e.ok()) {
    CheckError(e);
    Check(e.IsConnectionError());
    return;
  }
  Check(Inside(f.field_block, r.payload));
  Check(f.promised_stream_id != 0 && f.promised_stream_id % 2 == 0);
  Check(f.promised_stream_id <= kMaxStreamId && f.end_headers == h.has(kFlagEndHeaders));
  const size_t fixed = (h.has(kFlagPadded) ? 1 : 0) + 4;
  const size_t pad = h.has(kFlagPadded) ? uint8_t(r.payload[0]) : 0;
  Check(fixed + f.field_block.size() + pad == r.payload.size());
  const uint32_t max = 5 + seed % 16;
  std::string out;
  AppendPushPromise(h.stream_id, f.promised_stream_id, f.field_block, max, &out);
  const ReadResult b = ReadFrame(out, max);
  Check(b.status == ReadStatus::kFrame && b.header.type == FrameType::kPushPromise);
  PushPromiseFrame f2;
  Check(DecodePushPromise(b.header, b.payload, role, &f2).ok());
  Check(f2.promised_stream_id == f.promised_stream_id && b.header.stream_id == h.stream_id);
  Check(ReadBlockBack(out, max, b, f2.field_block, f2.end_headers) == f.field_block);
}

void CheckPing(const ReadResult& r) {
  PingFrame f;
  const Error e = DecodePing(r.header, r.payload, &f);
  if (r.header.stream_id != 0 || r.payload.size() != 8) Check(!e.ok());
  if (!e.ok()) {
    CheckError(e);
    Check(e.IsConnectionError());
    return;
  }
  std::string out;
  AppendPing(f.opaque, f.ack, &out);
  Check(out.compare(kFrameHeaderSize, std::string::npos, r.payload) == 0);
  Check(ReadBack(out).header.has(kFlagAck) == f.ack);
}

void CheckGoaway(const ReadResult& r) {
  GoawayFrame f;
  const Error e = DecodeGoaway(r.header, r.payload, &f);
  if (r.header.stream_id != 0 || r.payload.size() < 8) Check(!e.ok());
  if (!e.ok()) {
    CheckError(e);
    Check(e.IsConnectionError());
    return;
  }
  Check(Inside(f.debug_data, r.payload) && f.debug_data.size() + 8 == r.payload.size());
  Check(f.last_stream_id <= kMaxStreamId);
  std::string out;
  AppendGoaway(f.last_stream_id, f.error_code, f.debug_data, &out);
  const ReadResult b = ReadBack(out);
  GoawayFrame f2;
  Check(DecodeGoaway(b.header, b.payload, &f2).ok());
  Check(f2.last_stream_id == f.last_stream_id && f2.error_code == f.error_code);
  Check(f.debug_data.substr(0, f2.debug_data.size()) == f2.debug_data);
  Check(b.header.length <= kMinMaxFrameSize);
}

void CheckWindowUpdate(const ReadResult& r) {
  WindowUpdateFrame f;
  const Error e = DecodeWindowUpdate(r.header, r.payload, &f);
  if (r.payload.size() != 4) Check(e.IsConnectionError() && e.code == ErrorCode::kFrameSizeError);
  if (!e.ok()) {
    CheckError(e);
    if (r.payload.size() == 4) {
      Check(f.increment == 0 && e.code == ErrorCode::kProtocolError);
      Check(e.IsConnectionError() == (r.header.stream_id == 0));
    }
    return;
  }
  Check(f.increment >= 1 && f.increment <= kMaxWindowSize);
  std::string out;
  AppendWindowUpdate(r.header.stream_id, f.increment, &out);
  WindowUpdateFrame f2;
  const ReadResult b = ReadBack(out);
  Check(DecodeWindowUpdate(b.header, b.payload, &f2).ok() && f2.increment == f.increment);
  Check((uint8_t(out[kFrameHeaderSize]) & 0x80) == 0);
}

void CheckContinuation(const ReadResult& r) {
  ContinuationFrame f;
  const Error e = DecodeContinuation(r.header, r.payload, &f);
  Check(e.ok() == (r.header.stream_id != 0));
  if (!e.ok()) {
    CheckError(e);
    Check(e.IsConnectionError());
    return;
  }
  Check(f.field_block.data() == r.payload.data() && f.field_block.size() == r.payload.size());
}

void CheckFrame(std::string_view in, const ReadResult& r, uint32_t max, Role role, uint8_t seed) {
  Check(r.has_header && r.consumed == kFrameHeaderSize + r.header.length);
  Check(r.consumed <= in.size() && r.header.length <= max);
  Check(r.payload.data() == in.data() + kFrameHeaderSize && r.payload.size() == r.header.length);
  Check(r.header.stream_id <= kMaxStreamId);
  // Generic header + payload give back the input, reserved bit cleared.
  std::string out;
  AppendFrameHeader(r.header, &out);
  out.append(r.payload);
  std::string want(in.substr(0, r.consumed));
  want[5] = static_cast<char>(uint8_t(want[5]) & 0x7f);
  Check(out == want);

  switch (r.header.type) {
    case FrameType::kData:
      return CheckData(r);
    case FrameType::kHeaders:
      return CheckHeaders(r, seed);
    case FrameType::kPriority:
      return CheckPriority(r);
    case FrameType::kRstStream:
      return CheckRstStream(r);
    case FrameType::kSettings:
      return CheckSettings(r, role);
    case FrameType::kPushPromise:
      return CheckPushPromise(r, role, seed);
    case FrameType::kPing:
      return CheckPing(r);
    case FrameType::kGoaway:
      return CheckGoaway(r);
    case FrameType::kWindowUpdate:
      return CheckWindowUpdate(r);
    case FrameType::kContinuation:
      return CheckContinuation(r);
  }
  Check(!IsKnownFrameType(r.header.type));
}

// Reads `in` frame by frame; returns the offset where reading stopped.
size_t ReadAll(std::string_view in, uint32_t max, Role role, bool check, uint8_t seed,
               std::vector<size_t>* ends) {
  size_t offset = 0;
  for (;;) {
    const std::string_view rest = in.substr(offset);
    const ReadResult r = ReadFrame(rest, max);
    if (r.status == ReadStatus::kNeedMore) {
      Check(r.consumed == 0 && r.needed > rest.size());
      Check(r.has_header == (rest.size() >= kFrameHeaderSize));
      Check(r.needed == (r.has_header ? kFrameHeaderSize + r.header.length : kFrameHeaderSize));
      if (r.has_header) Check(r.header.length <= max);
      return offset;
    }
    if (r.status == ReadStatus::kError) {
      FrameHeader h;
      Check(DecodeFrameHeader(rest, &h) && h.length > max);
      Check(r.error.IsConnectionError() && r.error.code == ErrorCode::kFrameSizeError);
      return offset;
    }
    if (check) CheckFrame(rest, r, max, role, seed);
    offset += r.consumed;
    if (ends != nullptr) ends->push_back(offset);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t config = data[0];
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  const Role role = (config & 1) != 0 ? Role::kClient : Role::kServer;
  constexpr uint32_t kMaxes[] = {kDefaultMaxFrameSize, 64, kMaxMaxFrameSize, 9};
  const uint32_t max = kMaxes[(config >> 1) & 3];
  if ((config & 8) != 0) {
    const PrefaceStatus p = MatchClientPreface(in);
    if (p == PrefaceStatus::kMatch) Check(in.substr(0, kClientPreface.size()) == kClientPreface);
    if (p == PrefaceStatus::kNeedMore) Check(kClientPreface.substr(0, in.size()) == in);
    if (p != PrefaceStatus::kMatch) return 0;
    in.remove_prefix(kClientPreface.size());
  }
  std::vector<size_t> ends;
  const size_t stop = ReadAll(in, max, role, true, config, &ends);
  Check(stop <= in.size());
  // A prefix reads the same frames up to its last whole one.
  const size_t cut = (config * 131u + size / 2) % (in.size() + 1);
  std::vector<size_t> prefix_ends;
  const size_t pstop = ReadAll(in.substr(0, cut), max, role, false, config, &prefix_ends);
  size_t expected = 0;
  size_t whole = 0;
  for (const size_t e : ends) {
    if (e <= cut) {
      expected = e;
      ++whole;
    }
  }
  Check(pstop == expected && prefix_ends.size() == whole);
  for (size_t i = 0; i < whole; ++i) Check(prefix_ends[i] == ends[i]);
  return 0;
}
