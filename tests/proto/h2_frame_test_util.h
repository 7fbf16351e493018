// Helpers shared by the HTTP/2 frame tests: raw frame builders and a decode-by-type dispatcher.
//
//   ReadResult r = ReadOne(Frame(kPing, 0, 0, "12345678"));  // the bytes stay alive
//   EXPECT_TRUE(DecodeAny(r, Role::kServer).ok());
#ifndef RINGWAY_TESTS_PROTO_H2_FRAME_TEST_UTIL_H_
#define RINGWAY_TESTS_PROTO_H2_FRAME_TEST_UTIL_H_

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <utility>

#include "gtest/gtest.h"
#include "proto/h2_frame.h"

namespace ringway::h2::testing {

// A frame built byte by byte, so that malformed frames are exactly what the test says.
inline std::string Frame(uint8_t type, uint8_t flags, uint32_t stream_id,
                         std::string_view payload) {
  std::string f;
  f.push_back(static_cast<char>(payload.size() >> 16));
  f.push_back(static_cast<char>(payload.size() >> 8));
  f.push_back(static_cast<char>(payload.size()));
  f.push_back(static_cast<char>(type));
  f.push_back(static_cast<char>(flags));
  for (int s = 24; s >= 0; s -= 8) f.push_back(static_cast<char>(stream_id >> s));
  f.append(payload);
  return f;
}

// One byte, for Pad Length and weight fields (a "\x05" literal would swallow following hex digits).
inline std::string Byte(uint8_t v) { return std::string(1, static_cast<char>(v)); }

inline std::string Be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

inline std::string SettingBytes(uint16_t id, uint32_t value) {
  return std::string{static_cast<char>(id >> 8), static_cast<char>(id)} + Be32(value);
}

inline constexpr uint8_t kData = 0, kHeaders = 1, kPriority = 2, kRst = 3, kSettings = 4, kPush = 5,
                         kPing = 6, kGoaway = 7, kWindowUpdate = 8, kContinuation = 9;

// Reads exactly one frame that must fill `in`.
inline ReadResult ReadOne(std::string_view in, uint32_t max = kDefaultMaxFrameSize) {
  ReadResult r = ReadFrame(in, max);
  EXPECT_EQ(r.status, ReadStatus::kFrame);
  EXPECT_EQ(r.consumed, in.size());
  return r;
}

// The same for a frame built in the call: it is kept alive (a deque never moves its elements) so
// that the views in the result stay valid.
inline ReadResult ReadOne(std::string&& in, uint32_t max = kDefaultMaxFrameSize) {
  static std::deque<std::string> kept;
  kept.push_back(std::move(in));
  return ReadOne(std::string_view(kept.back()), max);
}

// Decodes any frame by its type, as a connection would; unknown types decode to Ok.
inline Error DecodeAny(const ReadResult& r, Role role) {
  const FrameHeader& h = r.header;
  switch (h.type) {
    case FrameType::kData: {
      DataFrame f;
      return DecodeData(h, r.payload, &f);
    }
    case FrameType::kHeaders: {
      HeadersFrame f;
      return DecodeHeaders(h, r.payload, &f);
    }
    case FrameType::kPriority: {
      Priority f;
      return DecodePriority(h, r.payload, &f);
    }
    case FrameType::kRstStream: {
      RstStreamFrame f;
      return DecodeRstStream(h, r.payload, &f);
    }
    case FrameType::kSettings: {
      SettingsFrame f;
      return DecodeSettings(h, r.payload, role, &f);
    }
    case FrameType::kPushPromise: {
      PushPromiseFrame f;
      return DecodePushPromise(h, r.payload, role, &f);
    }
    case FrameType::kPing: {
      PingFrame f;
      return DecodePing(h, r.payload, &f);
    }
    case FrameType::kGoaway: {
      GoawayFrame f;
      return DecodeGoaway(h, r.payload, &f);
    }
    case FrameType::kWindowUpdate: {
      WindowUpdateFrame f;
      return DecodeWindowUpdate(h, r.payload, &f);
    }
    case FrameType::kContinuation: {
      ContinuationFrame f;
      return DecodeContinuation(h, r.payload, &f);
    }
  }
  return Error::Ok();
}

}  // namespace ringway::h2::testing

#endif  // RINGWAY_TESTS_PROTO_H2_FRAME_TEST_UTIL_H_
