// HTTP/2 frame writing: every writer reads back through ReadFrame and the decoders with the same
// fields, reserved bits zero, field blocks split into CONTINUATION frames at the peer's limit.
#include "proto/h2_frame_writer.h"

#include <array>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "proto/h2_frame.h"
#include "tests/proto/h2_frame_test_util.h"

namespace ringway::h2 {
namespace {

using namespace std::string_literals;
using namespace ringway::h2::testing;

// ---------------------------------------------------------------------------------------------
// Round trips: what the writers produce reads back the same, with reserved bits zero

TEST(H2RoundTrip, Data) {
  std::string out;
  AppendData(0x80000003u, "payload", true, &out);
  EXPECT_EQ(out, Frame(kData, kFlagEndStream, 3, "payload"));  // reserved bit written as 0
  const ReadResult r = ReadOne(out);
  DataFrame d;
  ASSERT_TRUE(DecodeData(r.header, r.payload, &d).ok());
  EXPECT_EQ(r.header.stream_id, 3u);
  EXPECT_EQ(d.data, "payload");
  EXPECT_TRUE(d.end_stream);

  // Header only, payload from elsewhere.
  std::array<char, kFrameHeaderSize> hdr;
  EncodeDataFrameHeader(7, 5, false, hdr);
  const std::string joined = std::string(hdr.data(), hdr.size()) + "hello";
  EXPECT_EQ(joined, Frame(kData, 0, 7, "hello"));
  std::string appended;
  AppendData(7, "hello", false, &appended);
  EXPECT_EQ(joined, appended);
  EncodeDataFrameHeader(0xffffffffu, kDefaultMaxFrameSize, true, hdr);
  FrameHeader h;
  ASSERT_TRUE(DecodeFrameHeader(std::string_view(hdr.data(), hdr.size()), &h));
  EXPECT_EQ(h.stream_id, kMaxStreamId);
  EXPECT_EQ(h.length, kDefaultMaxFrameSize);
  EXPECT_EQ(h.flags, kFlagEndStream);
  EXPECT_EQ(static_cast<uint8_t>(hdr[5]) & 0x80, 0);
}

TEST(H2RoundTrip, GenericHeader) {
  const FrameHeader h{0xabcdef, static_cast<FrameType>(0xfe), 0x5a, 0xffffffffu};
  std::string out;
  AppendFrameHeader(h, &out);
  std::array<char, kFrameHeaderSize> arr;
  EncodeFrameHeader(h, arr);
  EXPECT_EQ(out, std::string(arr.data(), arr.size()));
  EXPECT_EQ(out, "\xab\xcd\xef\xfe\x5a\x7f\xff\xff\xff"s);
  FrameHeader back;
  ASSERT_TRUE(DecodeFrameHeader(out, &back));
  EXPECT_EQ(back.length, h.length);
  EXPECT_EQ(back.type, h.type);
  EXPECT_EQ(back.flags, h.flags);
  EXPECT_EQ(back.stream_id, kMaxStreamId);
}

// Reads a HEADERS or PUSH_PROMISE and its CONTINUATION frames, checking the sequence rules the
// writer must keep: same stream, END_HEADERS only on the last, each frame within `max`.
struct Block {
  std::string bytes;
  size_t frames = 0;
  ReadResult first;
};

Block ReadBlock(std::string_view in, uint32_t max) {
  Block b;
  bool end = false;
  while (!end) {
    const ReadResult r = ReadFrame(in, max);
    EXPECT_EQ(r.status, ReadStatus::kFrame);
    if (r.status != ReadStatus::kFrame) break;
    if (b.frames == 0) {
      b.first = r;
      if (r.header.type == FrameType::kHeaders) {
        HeadersFrame hf;
        EXPECT_TRUE(DecodeHeaders(r.header, r.payload, &hf).ok());
        b.bytes.append(hf.field_block);
        end = hf.end_headers;
      } else {
        PushPromiseFrame pp;
        EXPECT_TRUE(DecodePushPromise(r.header, r.payload, Role::kClient, &pp).ok());
        b.bytes.append(pp.field_block);
        end = pp.end_headers;
      }
    } else {
      EXPECT_EQ(r.header.type, FrameType::kContinuation);
      EXPECT_EQ(r.header.stream_id, b.first.header.stream_id);
      EXPECT_EQ(r.header.flags & ~kFlagEndHeaders, 0);
      ContinuationFrame c;
      EXPECT_TRUE(DecodeContinuation(r.header, r.payload, &c).ok());
      b.bytes.append(c.field_block);
      end = c.end_headers;
    }
    ++b.frames;
    in.remove_prefix(r.consumed);
  }
  EXPECT_TRUE(in.empty());
  return b;
}

TEST(H2RoundTrip, HeadersSplitIntoContinuation) {
  std::string block;
  for (int i = 0; i < 40000; ++i) block.push_back(static_cast<char>(i * 7));
  struct Case {
    size_t block_size;
    uint32_t max;
    size_t frames;
  };
  const Case cases[] = {
      {0, kDefaultMaxFrameSize, 1},
      {1, kDefaultMaxFrameSize, 1},
      {16384, kDefaultMaxFrameSize, 1},
      {16385, kDefaultMaxFrameSize, 2},
      {40000, kDefaultMaxFrameSize, 3},
      {32768, kDefaultMaxFrameSize, 2},
      {32769, kDefaultMaxFrameSize, 3},
      {40000, kMaxMaxFrameSize, 1},
      {35, 10, 4},
      {30, 10, 3},
  };
  for (const Case& c : cases) {
    const std::string_view b = std::string_view(block).substr(0, c.block_size);
    for (bool end_stream : {false, true}) {
      std::string out = "keep";  // appends, never overwrites
      AppendHeaders(0x80000009u, b, end_stream, c.max, &out);
      ASSERT_EQ(out.substr(0, 4), "keep");
      const Block got = ReadBlock(std::string_view(out).substr(4), c.max);
      EXPECT_EQ(got.frames, c.frames) << c.block_size << "/" << c.max;
      EXPECT_EQ(got.bytes, b);
      EXPECT_EQ(got.first.header.type, FrameType::kHeaders);
      EXPECT_EQ(got.first.header.stream_id, 9u);
      EXPECT_EQ(got.first.header.has(kFlagEndStream), end_stream);
      EXPECT_FALSE(got.first.header.has(kFlagPriority));
      EXPECT_EQ(out.size(), 4 + b.size() + 9 * c.frames);  // no padding
    }
  }
}

TEST(H2RoundTrip, HeadersWithPriority) {
  const std::string block(20000, 'h');
  const Priority pr{true, 0x80000007u, 255};
  std::string out;
  AppendHeaders(9, pr, block, true, kDefaultMaxFrameSize, &out);
  const Block got = ReadBlock(out, kDefaultMaxFrameSize);
  EXPECT_EQ(got.frames, 2u);
  EXPECT_EQ(got.first.header.length, kDefaultMaxFrameSize);  // 5 priority bytes + fragment
  EXPECT_EQ(got.bytes, block);
  HeadersFrame hf;
  ASSERT_TRUE(DecodeHeaders(got.first.header, got.first.payload, &hf).ok());
  EXPECT_TRUE(hf.has_priority);
  EXPECT_TRUE(hf.priority.exclusive);
  EXPECT_EQ(hf.priority.dependency, 7u);  // the E bit is not part of the id
  EXPECT_EQ(hf.priority.weight, 255);
  EXPECT_TRUE(hf.end_stream);
  EXPECT_FALSE(hf.end_headers);

  out.clear();
  AppendHeaders(3, Priority{false, 0, 15}, "ab", false, kDefaultMaxFrameSize, &out);
  EXPECT_EQ(out, Frame(kHeaders, kFlagPriority | kFlagEndHeaders, 3, Be32(0) + Byte(0x0f) + "ab"));
}

TEST(H2RoundTrip, PushPromise) {
  const std::string block(16384, 'p');
  std::string out;
  AppendPushPromise(1, 0x80000002u, block, kDefaultMaxFrameSize, &out);
  const Block got = ReadBlock(out, kDefaultMaxFrameSize);
  EXPECT_EQ(got.frames, 2u);  // 4 bytes of promised id push the last 4 bytes out
  EXPECT_EQ(got.bytes, block);
  PushPromiseFrame pp;
  ASSERT_TRUE(DecodePushPromise(got.first.header, got.first.payload, Role::kClient, &pp).ok());
  EXPECT_EQ(pp.promised_stream_id, 2u);
  EXPECT_EQ(got.first.header.stream_id, 1u);
  EXPECT_EQ(static_cast<uint8_t>(got.first.payload[0]) & 0x80, 0);

  out.clear();
  AppendPushPromise(3, 4, "x", kDefaultMaxFrameSize, &out);
  EXPECT_EQ(out, Frame(kPush, kFlagEndHeaders, 3, Be32(4) + "x"));
}

TEST(H2RoundTrip, Priority) {
  std::string out;
  AppendPriority(0x80000003u, Priority{true, 1, 42}, &out);
  EXPECT_EQ(out, Frame(kPriority, 0, 3, Be32(0x80000001u) + "\x2a"));
  const ReadResult r = ReadOne(out);
  Priority p;
  ASSERT_TRUE(DecodePriority(r.header, r.payload, &p).ok());
  EXPECT_TRUE(p.exclusive);
  EXPECT_EQ(p.dependency, 1u);
  EXPECT_EQ(p.weight, 42);
}

TEST(H2RoundTrip, RstStream) {
  std::string out;
  AppendRstStream(5, ErrorCode::kRefusedStream, &out);
  EXPECT_EQ(out, Frame(kRst, 0, 5, Be32(7)));
  const ReadResult r = ReadOne(out);
  RstStreamFrame f;
  ASSERT_TRUE(DecodeRstStream(r.header, r.payload, &f).ok());
  EXPECT_EQ(f.error_code, ErrorCode::kRefusedStream);
}

TEST(H2RoundTrip, Settings) {
  const std::vector<Setting> list = {{SettingId::kHeaderTableSize, 0},
                                     {SettingId::kEnablePush, 0},
                                     {SettingId::kMaxConcurrentStreams, 128},
                                     {SettingId::kInitialWindowSize, kMaxWindowSize},
                                     {SettingId::kMaxFrameSize, kMaxMaxFrameSize},
                                     {SettingId::kMaxHeaderListSize, 65536},
                                     {static_cast<SettingId>(0x1234), 9}};
  std::string out;
  AppendSettings(list, &out);
  EXPECT_EQ(out.size(), 9 + 6 * list.size());
  const ReadResult r = ReadOne(out);
  EXPECT_EQ(r.header.flags, 0);
  EXPECT_EQ(r.header.stream_id, 0u);
  SettingsFrame sf;
  ASSERT_TRUE(DecodeSettings(r.header, r.payload, Role::kClient, &sf).ok());
  ASSERT_EQ(sf.settings.size(), list.size());
  for (size_t i = 0; i < list.size(); ++i) {
    EXPECT_EQ(sf.settings[i].id, list[i].id);
    EXPECT_EQ(sf.settings[i].value, list[i].value);
  }

  out.clear();
  AppendSettings({}, &out);
  EXPECT_EQ(out, Frame(kSettings, 0, 0, ""));
  out.clear();
  AppendSettings({{SettingId::kMaxConcurrentStreams, 100}}, &out);
  EXPECT_EQ(out, Frame(kSettings, 0, 0, SettingBytes(3, 100)));
  out.clear();
  AppendSettingsAck(&out);
  EXPECT_EQ(out, Frame(kSettings, kFlagAck, 0, ""));
  SettingsFrame ack;
  const ReadResult a = ReadOne(out);
  ASSERT_TRUE(DecodeSettings(a.header, a.payload, Role::kServer, &ack).ok());
  EXPECT_TRUE(ack.ack);
}

TEST(H2RoundTrip, Ping) {
  for (bool ack : {false, true}) {
    std::string out;
    AppendPing(0xfedcba9876543210u, ack, &out);
    EXPECT_EQ(out, Frame(kPing, ack ? kFlagAck : 0, 0, "\xfe\xdc\xba\x98\x76\x54\x32\x10"));
    const ReadResult r = ReadOne(out);
    PingFrame p;
    ASSERT_TRUE(DecodePing(r.header, r.payload, &p).ok());
    EXPECT_EQ(p.opaque, 0xfedcba9876543210u);
    EXPECT_EQ(p.ack, ack);
    // The ACK echoes the payload byte for byte.
    std::string reply;
    AppendPing(p.opaque, true, &reply);
    EXPECT_EQ(reply.substr(9), out.substr(9));
  }
}

TEST(H2RoundTrip, Goaway) {
  std::string out;
  AppendGoaway(0xffffffffu, ErrorCode::kEnhanceYourCalm, "too many resets", &out);
  EXPECT_EQ(out, Frame(kGoaway, 0, 0, Be32(kMaxStreamId) + Be32(0xb) + "too many resets"));
  ReadResult r = ReadOne(out);
  GoawayFrame g;
  ASSERT_TRUE(DecodeGoaway(r.header, r.payload, &g).ok());
  EXPECT_EQ(g.last_stream_id, kMaxStreamId);
  EXPECT_EQ(g.error_code, ErrorCode::kEnhanceYourCalm);
  EXPECT_EQ(g.debug_data, "too many resets");

  // Debug data is cut so the frame fits the smallest max frame size.
  out.clear();
  AppendGoaway(1, ErrorCode::kNoError, std::string(20000, 'd'), &out);
  r = ReadOne(out, kMinMaxFrameSize);
  EXPECT_EQ(r.header.length, kMinMaxFrameSize);
  ASSERT_TRUE(DecodeGoaway(r.header, r.payload, &g).ok());
  EXPECT_EQ(g.debug_data, std::string(kMinMaxFrameSize - 8, 'd'));
}

TEST(H2RoundTrip, WindowUpdate) {
  std::string out;
  AppendWindowUpdate(0x80000000u, kMaxWindowSize, &out);
  EXPECT_EQ(out, Frame(kWindowUpdate, 0, 0, Be32(kMaxWindowSize)));
  const ReadResult r = ReadOne(out);
  WindowUpdateFrame w;
  ASSERT_TRUE(DecodeWindowUpdate(r.header, r.payload, &w).ok());
  EXPECT_EQ(w.increment, kMaxWindowSize);
  out.clear();
  AppendWindowUpdate(7, 0xffffffffu, &out);  // reserved bit never sent
  EXPECT_EQ(out, Frame(kWindowUpdate, 0, 7, Be32(kMaxWindowSize)));
}

TEST(H2RoundTrip, Conversation) {
  // A client's opening: preface, SETTINGS, a request with a body, then window and ping.
  std::string out(kClientPreface);
  AppendSettings({{SettingId::kEnablePush, 0}, {SettingId::kInitialWindowSize, 1 << 20}}, &out);
  AppendWindowUpdate(0, 1 << 24, &out);
  AppendHeaders(1, "\x83\x86\x84", false, kDefaultMaxFrameSize, &out);
  AppendData(1, "abc", false, &out);
  AppendData(1, "", true, &out);
  AppendPing(7, false, &out);
  ASSERT_EQ(MatchClientPreface(out), PrefaceStatus::kMatch);
  std::string_view in = std::string_view(out).substr(kClientPreface.size());
  std::vector<FrameType> types;
  while (!in.empty()) {
    const ReadResult r = ReadFrame(in, kDefaultMaxFrameSize);
    ASSERT_EQ(r.status, ReadStatus::kFrame);
    ASSERT_TRUE(DecodeAny(r, Role::kServer).ok()) << FrameTypeName(r.header.type);
    types.push_back(r.header.type);
    in.remove_prefix(r.consumed);
  }
  const std::vector<FrameType> want = {FrameType::kSettings, FrameType::kWindowUpdate,
                                       FrameType::kHeaders,  FrameType::kData,
                                       FrameType::kData,     FrameType::kPing};
  EXPECT_EQ(types, want);
}

}  // namespace
}  // namespace ringway::h2
