// HTTP/2 frame reading: ReadFrame at every split point and size limit, each decoder on valid
// frames, every malformed case of RFC 9113 section 6 with its exact code and scope, and a
// guard-page run that faults on any read past the input.
#include "proto/h2_frame.h"

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "proto/h2_frame_writer.h"
#include "tests/proto/guarded_buffer.h"
#include "tests/proto/h2_frame_test_util.h"

namespace ringway::h2 {
namespace {

using ringway::testing_util::GuardedBuffer;

using namespace std::string_literals;
using namespace ringway::h2::testing;

// ---------------------------------------------------------------------------------------------
// Constants and names

TEST(H2Constants, PrefaceAndLimits) {
  EXPECT_EQ(kClientPreface,
            "\x50\x52\x49\x20\x2a\x20\x48\x54\x54\x50\x2f\x32\x2e\x30\x0d\x0a"
            "\x0d\x0a\x53\x4d\x0d\x0a\x0d\x0a");
  EXPECT_EQ(kClientPreface.size(), 24u);
  EXPECT_EQ(kMinMaxFrameSize, 1u << 14);
  EXPECT_EQ(kMaxMaxFrameSize, (1u << 24) - 1);
  EXPECT_EQ(kMaxWindowSize, (1u << 31) - 1);
  EXPECT_EQ(kDefaultInitialWindowSize, 65535u);
}

TEST(H2Constants, Names) {
  const char* codes[] = {"NO_ERROR",
                         "PROTOCOL_ERROR",
                         "INTERNAL_ERROR",
                         "FLOW_CONTROL_ERROR",
                         "SETTINGS_TIMEOUT",
                         "STREAM_CLOSED",
                         "FRAME_SIZE_ERROR",
                         "REFUSED_STREAM",
                         "CANCEL",
                         "COMPRESSION_ERROR",
                         "CONNECT_ERROR",
                         "ENHANCE_YOUR_CALM",
                         "INADEQUATE_SECURITY",
                         "HTTP_1_1_REQUIRED"};
  for (uint32_t i = 0; i < std::size(codes); ++i) {
    EXPECT_EQ(ErrorCodeName(static_cast<ErrorCode>(i)), codes[i]);
  }
  EXPECT_EQ(ErrorCodeName(ErrorCode::kHttp11Required), "HTTP_1_1_REQUIRED");
  EXPECT_EQ(ErrorCodeName(static_cast<ErrorCode>(0xe)), "UNKNOWN");
  EXPECT_EQ(ErrorCodeName(static_cast<ErrorCode>(0xffffffff)), "UNKNOWN");

  const char* types[] = {"DATA",         "HEADERS", "PRIORITY", "RST_STREAM",    "SETTINGS",
                         "PUSH_PROMISE", "PING",    "GOAWAY",   "WINDOW_UPDATE", "CONTINUATION"};
  for (uint8_t i = 0; i < std::size(types); ++i) {
    EXPECT_EQ(FrameTypeName(static_cast<FrameType>(i)), types[i]);
    EXPECT_TRUE(IsKnownFrameType(static_cast<FrameType>(i)));
  }
  EXPECT_EQ(FrameTypeName(static_cast<FrameType>(0xa)), "UNKNOWN");
  EXPECT_FALSE(IsKnownFrameType(static_cast<FrameType>(0xa)));
  EXPECT_FALSE(IsKnownFrameType(static_cast<FrameType>(0xff)));

  EXPECT_EQ(SettingName(SettingId::kHeaderTableSize), "SETTINGS_HEADER_TABLE_SIZE");
  EXPECT_EQ(SettingName(SettingId::kMaxHeaderListSize), "SETTINGS_MAX_HEADER_LIST_SIZE");
  EXPECT_EQ(SettingName(SettingId::kNoRfc7540Priorities), "SETTINGS_NO_RFC7540_PRIORITIES");
  EXPECT_EQ(SettingName(static_cast<SettingId>(0x7)), "UNKNOWN");
}

TEST(H2Preface, MatchesOnlyThePreface) {
  for (size_t n = 0; n < kClientPreface.size(); ++n) {
    EXPECT_EQ(MatchClientPreface(kClientPreface.substr(0, n)), PrefaceStatus::kNeedMore) << n;
  }
  EXPECT_EQ(MatchClientPreface(kClientPreface), PrefaceStatus::kMatch);
  std::string more(kClientPreface);
  AppendSettings({}, &more);
  EXPECT_EQ(MatchClientPreface(more), PrefaceStatus::kMatch);
  EXPECT_EQ(MatchClientPreface("GET / HTTP/1.1\r\n"), PrefaceStatus::kMismatch);
  EXPECT_EQ(MatchClientPreface("PRI * HTTP/1.1"), PrefaceStatus::kMismatch);
  EXPECT_EQ(MatchClientPreface("X"), PrefaceStatus::kMismatch);
  std::string bad(kClientPreface);
  bad[23] = 'x';
  EXPECT_EQ(MatchClientPreface(bad), PrefaceStatus::kMismatch);
}

// ---------------------------------------------------------------------------------------------
// Frame header and ReadFrame

TEST(H2ReadFrame, HeaderFields) {
  const std::string f = Frame(kHeaders, 0xff, 0x12345, "abc");
  const ReadResult r = ReadOne(f);
  EXPECT_TRUE(r.has_header);
  EXPECT_EQ(r.header.length, 3u);
  EXPECT_EQ(r.header.type, FrameType::kHeaders);
  EXPECT_EQ(r.header.flags, 0xff);
  EXPECT_EQ(r.header.stream_id, 0x12345u);
  EXPECT_EQ(r.payload, "abc");
  EXPECT_EQ(r.payload.data(), f.data() + 9);
}

TEST(H2ReadFrame, ReservedBitIgnored) {
  const std::string f = Frame(kData, 0, 0x80000007u, "x");
  EXPECT_EQ(ReadOne(f).header.stream_id, 7u);
  // Set alone, it leaves stream 0: a connection-level frame, checked as such.
  const std::string ping = Frame(kPing, 0, 0x80000000u, "12345678");
  const ReadResult r = ReadOne(ping);
  EXPECT_EQ(r.header.stream_id, 0u);
  EXPECT_TRUE(DecodeAny(r, Role::kServer).ok());
  FrameHeader h;
  ASSERT_TRUE(DecodeFrameHeader(Frame(kData, 0, 0xffffffffu, ""), &h));
  EXPECT_EQ(h.stream_id, kMaxStreamId);
  EXPECT_FALSE(DecodeFrameHeader("12345678", &h));
}

TEST(H2ReadFrame, LargestLengths) {
  // The 24-bit length field is read whole.
  std::string hdr = "\xff\xff\xff\x00\x00\x00\x00\x00\x01"s;
  ReadResult r = ReadFrame(hdr, kMaxMaxFrameSize);
  EXPECT_EQ(r.status, ReadStatus::kNeedMore);
  EXPECT_TRUE(r.has_header);
  EXPECT_EQ(r.header.length, kMaxMaxFrameSize);
  EXPECT_EQ(r.needed, 9u + kMaxMaxFrameSize);
  r = ReadFrame(hdr, kMaxMaxFrameSize - 1);
  EXPECT_EQ(r.status, ReadStatus::kError);
}

TEST(H2ReadFrame, MaxFrameSizeEnforced) {
  const std::string at_limit = Frame(kData, 0, 1, std::string(kDefaultMaxFrameSize, 'a'));
  EXPECT_EQ(ReadFrame(at_limit, kDefaultMaxFrameSize).status, ReadStatus::kFrame);
  const std::string over = Frame(kData, 0, 1, std::string(kDefaultMaxFrameSize + 1, 'a'));
  for (const std::string_view in : {std::string_view(over), std::string_view(over).substr(0, 9)}) {
    // Reported from the header alone, before the payload is in.
    const ReadResult r = ReadFrame(in, kDefaultMaxFrameSize);
    EXPECT_EQ(r.status, ReadStatus::kError);
    EXPECT_EQ(r.error.scope, ErrorScope::kConnection);
    EXPECT_EQ(r.error.code, ErrorCode::kFrameSizeError);
    EXPECT_EQ(r.consumed, 0u);
  }
  EXPECT_EQ(ReadFrame(over, kDefaultMaxFrameSize + 1).status, ReadStatus::kFrame);
  // Every type, unknown ones and those with stream 0 included.
  for (uint8_t type : {kSettings, kPing, kGoaway, kContinuation, uint8_t{0x42}}) {
    const std::string f = Frame(type, 0, 0, std::string(101, 0));
    EXPECT_EQ(ReadFrame(f, 100).status, ReadStatus::kError) << int{type};
    EXPECT_EQ(ReadFrame(f, 101).status, ReadStatus::kFrame) << int{type};
  }
}

TEST(H2ReadFrame, NeedMoreAtEverySplitPoint) {
  std::string all;
  AppendSettings({{SettingId::kMaxConcurrentStreams, 100}}, &all);
  AppendHeaders(1, "hpack-block", false, kDefaultMaxFrameSize, &all);
  AppendData(1, "hello", true, &all);
  AppendData(3, "", true, &all);
  AppendWindowUpdate(0, 1000, &all);
  AppendPing(42, false, &all);
  all += Frame(0xee, 0x3, 5, "ext");
  AppendGoaway(3, ErrorCode::kNoError, "bye", &all);

  // The whole input as a sequence of frames.
  std::vector<ReadResult> whole;
  for (std::string_view in = all; !in.empty();) {
    whole.push_back(ReadFrame(in, kDefaultMaxFrameSize));
    ASSERT_EQ(whole.back().status, ReadStatus::kFrame);
    in.remove_prefix(whole.back().consumed);
  }
  ASSERT_EQ(whole.size(), 8u);

  // Every prefix: the complete frames come out the same, then "need more" with the right count.
  for (size_t n = 0; n <= all.size(); ++n) {
    std::string_view in = std::string_view(all).substr(0, n);
    size_t offset = 0;
    size_t i = 0;
    for (;; ++i) {
      const ReadResult r = ReadFrame(in, kDefaultMaxFrameSize);
      if (r.status != ReadStatus::kFrame) {
        ASSERT_EQ(r.status, ReadStatus::kNeedMore);
        if (in.empty()) break;
        ASSERT_LT(i, whole.size());
        const size_t total = 9 + whole[i].header.length;
        ASSERT_EQ(r.has_header, in.size() >= 9) << n;
        ASSERT_EQ(r.needed, in.size() >= 9 ? total : 9u) << n;
        ASSERT_GT(r.needed, in.size());
        if (r.has_header) {
          ASSERT_EQ(r.header.type, whole[i].header.type);
        }
        break;
      }
      ASSERT_LT(i, whole.size());
      EXPECT_EQ(r.header.type, whole[i].header.type);
      EXPECT_EQ(r.header.stream_id, whole[i].header.stream_id);
      EXPECT_EQ(r.payload.data(), all.data() + offset + 9);
      EXPECT_EQ(r.payload, whole[i].payload);
      offset += r.consumed;
      in.remove_prefix(r.consumed);
    }
  }
}

TEST(H2ReadFrame, UnknownTypeSkipped) {
  std::string in = Frame(0x0b, 0xff, 0, "anything at all") + Frame(0xfa, 0, 7, "");
  AppendPing(1, true, &in);
  std::string_view v = in;
  ReadResult r = ReadFrame(v, kDefaultMaxFrameSize);
  ASSERT_EQ(r.status, ReadStatus::kFrame);
  EXPECT_FALSE(IsKnownFrameType(r.header.type));
  EXPECT_EQ(static_cast<uint8_t>(r.header.type), 0x0b);
  EXPECT_TRUE(DecodeAny(r, Role::kServer).ok());
  v.remove_prefix(r.consumed);
  r = ReadFrame(v, kDefaultMaxFrameSize);
  ASSERT_EQ(r.status, ReadStatus::kFrame);
  EXPECT_EQ(r.header.length, 0u);
  v.remove_prefix(r.consumed);
  r = ReadFrame(v, kDefaultMaxFrameSize);
  ASSERT_EQ(r.status, ReadStatus::kFrame);
  EXPECT_EQ(r.header.type, FrameType::kPing);
  EXPECT_EQ(r.consumed, v.size());
}

// ---------------------------------------------------------------------------------------------
// Decoding valid frames

TEST(H2Decode, DataPlainAndPadded) {
  DataFrame d;
  const std::string plain = Frame(kData, kFlagEndStream, 1, "body");
  ReadResult r = ReadOne(plain);
  ASSERT_TRUE(DecodeData(r.header, r.payload, &d).ok());
  EXPECT_EQ(d.data, "body");
  EXPECT_EQ(d.data.data(), plain.data() + 9);
  EXPECT_EQ(d.flow_controlled_length, 4u);
  EXPECT_TRUE(d.end_stream);

  const std::string padded = Frame(kData, kFlagPadded, 3, Byte(0x03) + "body\0\0\0"s);
  r = ReadOne(padded);
  ASSERT_TRUE(DecodeData(r.header, r.payload, &d).ok());
  EXPECT_EQ(d.data, "body");
  EXPECT_EQ(d.data.data(), padded.data() + 10);
  EXPECT_EQ(d.flow_controlled_length, 8u);  // Pad Length and padding count too
  EXPECT_FALSE(d.end_stream);

  // Pad Length 0 and the largest padding the payload allows (data empty).
  r = ReadOne(Frame(kData, kFlagPadded, 3, "\0"s));
  ASSERT_TRUE(DecodeData(r.header, r.payload, &d).ok());
  EXPECT_EQ(d.data, "");
  EXPECT_EQ(d.flow_controlled_length, 1u);
  const std::string max_pad = Frame(kData, kFlagPadded, 3, "\xff"s + std::string(255, '\0'));
  r = ReadOne(max_pad);
  ASSERT_TRUE(DecodeData(r.header, r.payload, &d).ok());
  EXPECT_EQ(d.data, "");
  EXPECT_EQ(d.flow_controlled_length, 256u);

  // Undefined flags (everything but PADDED and END_STREAM) are ignored.
  r = ReadOne(Frame(kData, 0xf6, 1, "\x05xyz"));
  ASSERT_TRUE(DecodeData(r.header, r.payload, &d).ok());
  EXPECT_EQ(d.data, "\x05xyz");
  EXPECT_FALSE(d.end_stream);

  // Empty DATA.
  r = ReadOne(Frame(kData, kFlagEndStream, 1, ""));
  ASSERT_TRUE(DecodeData(r.header, r.payload, &d).ok());
  EXPECT_EQ(d.data, "");
  EXPECT_EQ(d.flow_controlled_length, 0u);
}

TEST(H2Decode, DataLayoutAgreesWithDecodeData) {
  const std::string payloads[] = {""s,
                                  "a"s,
                                  "\0"s,
                                  "\x01x"s,
                                  "\x02xy"s,
                                  Byte(0x03) + "abcdef"s,
                                  "\xff"s + std::string(300, 'q')};
  for (const std::string& p : payloads) {
    for (uint8_t flags : {uint8_t{0}, kFlagPadded, uint8_t{kFlagPadded | kFlagEndStream}}) {
      const std::string f = Frame(kData, flags, 5, p);
      const ReadResult r = ReadOne(f);
      DataFrame d;
      DataLayout l;
      const Error e1 = DecodeData(r.header, r.payload, &d);
      const Error e2 = DecodeDataLayout(r.header, p.empty() ? 0 : static_cast<uint8_t>(p[0]), &l);
      ASSERT_EQ(e1.scope, e2.scope);
      ASSERT_EQ(e1.code, e2.code);
      if (!e1.ok()) continue;
      EXPECT_EQ(d.data, r.payload.substr(l.data_offset, l.data_length));
      EXPECT_EQ(d.flow_controlled_length, l.flow_controlled_length);
      EXPECT_EQ(d.end_stream, l.end_stream);
    }
  }
}

TEST(H2Decode, HeadersAllFields) {
  HeadersFrame hf;
  // PADDED | PRIORITY | END_HEADERS | END_STREAM, exclusive dependency on 3, weight 200.
  const std::string f =
      Frame(kHeaders, 0x2d, 5, Byte(0x02) + Be32(0x80000003u) + Byte(0xc8) + "block\0\0"s);
  ReadResult r = ReadOne(f);
  ASSERT_TRUE(DecodeHeaders(r.header, r.payload, &hf).ok());
  EXPECT_EQ(hf.field_block, "block");
  EXPECT_EQ(hf.field_block.data(), f.data() + 9 + 6);
  EXPECT_TRUE(hf.end_stream);
  EXPECT_TRUE(hf.end_headers);
  ASSERT_TRUE(hf.has_priority);
  EXPECT_TRUE(hf.priority.exclusive);
  EXPECT_EQ(hf.priority.dependency, 3u);
  EXPECT_EQ(hf.priority.weight, 200);

  r = ReadOne(Frame(kHeaders, 0, 1, "frag"));
  ASSERT_TRUE(DecodeHeaders(r.header, r.payload, &hf).ok());
  EXPECT_EQ(hf.field_block, "frag");
  EXPECT_FALSE(hf.end_stream || hf.end_headers || hf.has_priority);

  // Padding right up to the priority fields: an empty fragment.
  r = ReadOne(Frame(kHeaders, kFlagPadded | kFlagPriority, 1, "\x02"s + Be32(0) + "\x0f\0\0"s));
  ASSERT_TRUE(DecodeHeaders(r.header, r.payload, &hf).ok());
  EXPECT_EQ(hf.field_block, "");
  EXPECT_FALSE(hf.priority.exclusive);

  // Undefined flags ignored: 0x02, 0x10, 0x40, 0x80.
  r = ReadOne(Frame(kHeaders, 0xd2, 1, "x"));
  ASSERT_TRUE(DecodeHeaders(r.header, r.payload, &hf).ok());
  EXPECT_EQ(hf.field_block, "x");
  EXPECT_FALSE(hf.end_stream || hf.end_headers || hf.has_priority);
}

TEST(H2Decode, SettingsInOrderUnknownIncluded) {
  const std::string payload = SettingBytes(0x4, 1000) + SettingBytes(0x99, 7) +
                              SettingBytes(0x4, 2000) + SettingBytes(0x1, 0) +
                              SettingBytes(0x5, kMaxMaxFrameSize) + SettingBytes(0x2, 0);
  const ReadResult r = ReadOne(Frame(kSettings, 0, 0, payload));
  SettingsFrame sf;
  ASSERT_TRUE(DecodeSettings(r.header, r.payload, Role::kServer, &sf).ok());
  EXPECT_FALSE(sf.ack);
  ASSERT_EQ(sf.settings.size(), 6u);
  std::vector<std::pair<uint16_t, uint32_t>> seen;
  for (const Setting s : sf.settings) seen.emplace_back(static_cast<uint16_t>(s.id), s.value);
  const std::vector<std::pair<uint16_t, uint32_t>> want = {
      {4, 1000}, {0x99, 7}, {4, 2000}, {1, 0}, {5, kMaxMaxFrameSize}, {2, 0}};
  EXPECT_EQ(seen, want);
  EXPECT_EQ(sf.settings[1].id, static_cast<SettingId>(0x99));

  Settings st;
  for (const Setting s : sf.settings) st.Apply(s);
  EXPECT_EQ(st.initial_window_size, 2000u);  // the last value wins
  EXPECT_EQ(st.header_table_size, 0u);
  EXPECT_EQ(st.max_frame_size, kMaxMaxFrameSize);
  EXPECT_FALSE(st.enable_push);
  EXPECT_EQ(st.max_concurrent_streams, kUnlimited);
  EXPECT_EQ(st.max_header_list_size, kUnlimited);

  const Settings defaults;
  EXPECT_EQ(defaults.header_table_size, 4096u);
  EXPECT_TRUE(defaults.enable_push);
  EXPECT_EQ(defaults.initial_window_size, 65535u);
  EXPECT_EQ(defaults.max_frame_size, 16384u);
  EXPECT_FALSE(defaults.enable_connect_protocol);

  SettingsFrame ack;
  const ReadResult a = ReadOne(Frame(kSettings, kFlagAck, 0, ""));
  ASSERT_TRUE(DecodeSettings(a.header, a.payload, Role::kClient, &ack).ok());
  EXPECT_TRUE(ack.ack);
  EXPECT_TRUE(ack.settings.empty());
  EXPECT_EQ(ack.settings.begin(), ack.settings.end());
}

TEST(H2Decode, SettingsBoundaryValues) {
  struct Case {
    uint16_t id;
    uint32_t value;
    Role role;
  };
  const Case ok[] = {
      {0x2, 0, Role::kClient},
      {0x2, 1, Role::kServer},
      {0x2, 0, Role::kServer},
      {0x4, 0, Role::kServer},
      {0x4, kMaxWindowSize, Role::kServer},
      {0x5, kMinMaxFrameSize, Role::kClient},
      {0x5, kMaxMaxFrameSize, Role::kClient},
      {0x3, 0, Role::kServer},
      {0x3, 0xffffffffu, Role::kServer},
      {0x6, 0xffffffffu, Role::kServer},
      {0x1, 0xffffffffu, Role::kServer},
      {0x8, 1, Role::kClient},
      {0x9, 1, Role::kServer},
      {0x0, 0xffffffffu, Role::kServer},
      {0xffff, 0xffffffffu, Role::kServer},
      {0x7, 12345, Role::kClient},
  };
  for (const Case& c : ok) {
    const ReadResult r = ReadOne(Frame(kSettings, 0, 0, SettingBytes(c.id, c.value)));
    SettingsFrame sf;
    EXPECT_TRUE(DecodeSettings(r.header, r.payload, c.role, &sf).ok()) << c.id << "=" << c.value;
    EXPECT_EQ(sf.settings.size(), 1u);
  }
}

TEST(H2Decode, PushPromise) {
  PushPromiseFrame pp;
  const std::string f =
      Frame(kPush, kFlagPadded | kFlagEndHeaders, 1, "\x01"s + Be32(0x80000002u) + "blk\0"s);
  const ReadResult r = ReadOne(f);
  ASSERT_TRUE(DecodePushPromise(r.header, r.payload, Role::kClient, &pp).ok());
  EXPECT_EQ(pp.promised_stream_id, 2u);  // reserved bit dropped
  EXPECT_EQ(pp.field_block, "blk");
  EXPECT_TRUE(pp.end_headers);
}

TEST(H2Decode, PingGoawayRstWindowContinuation) {
  PingFrame ping;
  ReadResult r = ReadOne(Frame(kPing, 0xff, 0, "\x01\x02\x03\x04\x05\x06\x07\x08"));
  ASSERT_TRUE(DecodePing(r.header, r.payload, &ping).ok());
  EXPECT_EQ(ping.opaque, 0x0102030405060708u);
  EXPECT_TRUE(ping.ack);
  r = ReadOne(Frame(kPing, 0xfe, 0, std::string(8, '\xff')));
  ASSERT_TRUE(DecodePing(r.header, r.payload, &ping).ok());
  EXPECT_FALSE(ping.ack);
  EXPECT_EQ(ping.opaque, ~uint64_t{0});

  GoawayFrame g;
  r = ReadOne(Frame(kGoaway, 0, 0, Be32(0xffffffffu) + Be32(0x1234) + "dbg"));
  ASSERT_TRUE(DecodeGoaway(r.header, r.payload, &g).ok());
  EXPECT_EQ(g.last_stream_id, kMaxStreamId);
  EXPECT_EQ(g.error_code, static_cast<ErrorCode>(0x1234));
  EXPECT_EQ(g.debug_data, "dbg");
  r = ReadOne(Frame(kGoaway, 0, 0, Be32(0) + Be32(0)));
  ASSERT_TRUE(DecodeGoaway(r.header, r.payload, &g).ok());
  EXPECT_EQ(g.debug_data, "");

  RstStreamFrame rst;
  r = ReadOne(Frame(kRst, 0xff, 9, Be32(8)));
  ASSERT_TRUE(DecodeRstStream(r.header, r.payload, &rst).ok());
  EXPECT_EQ(rst.error_code, ErrorCode::kCancel);

  WindowUpdateFrame wu;
  r = ReadOne(Frame(kWindowUpdate, 0, 0, Be32(0xffffffffu)));
  ASSERT_TRUE(DecodeWindowUpdate(r.header, r.payload, &wu).ok());
  EXPECT_EQ(wu.increment, kMaxWindowSize);  // reserved bit dropped
  r = ReadOne(Frame(kWindowUpdate, 0, 3, Be32(0x80000001u)));
  ASSERT_TRUE(DecodeWindowUpdate(r.header, r.payload, &wu).ok());
  EXPECT_EQ(wu.increment, 1u);

  ContinuationFrame c;
  r = ReadOne(Frame(kContinuation, 0xfb, 3, "more"));
  ASSERT_TRUE(DecodeContinuation(r.header, r.payload, &c).ok());
  EXPECT_EQ(c.field_block, "more");
  EXPECT_FALSE(c.end_headers);
  r = ReadOne(Frame(kContinuation, kFlagEndHeaders, 3, ""));
  ASSERT_TRUE(DecodeContinuation(r.header, r.payload, &c).ok());
  EXPECT_TRUE(c.end_headers);

  Priority p;
  r = ReadOne(Frame(kPriority, 0xff, 3, Be32(1) + "\x00"s));
  ASSERT_TRUE(DecodePriority(r.header, r.payload, &p).ok());
  EXPECT_EQ(p.dependency, 1u);
  EXPECT_EQ(p.weight, 0);
  EXPECT_FALSE(p.exclusive);
}

// ---------------------------------------------------------------------------------------------
// Malformed frames: the exact code and scope for each rule of RFC 9113 section 6

struct Reject {
  const char* name;
  std::string frame;
  Role role;
  ErrorScope scope;
  ErrorCode code;
};

std::vector<Reject> Rejections() {
  constexpr auto C = ErrorScope::kConnection;
  constexpr auto S = ErrorScope::kStream;
  constexpr auto kProto = ErrorCode::kProtocolError;
  constexpr auto kSize = ErrorCode::kFrameSizeError;
  constexpr auto kFlow = ErrorCode::kFlowControlError;
  const Role srv = Role::kServer;
  const Role cli = Role::kClient;
  const std::string prio_self = Be32(5) + "\x10"s;
  return {
      // DATA
      {"data stream 0", Frame(kData, 0, 0, "x"), srv, C, kProto},
      {"data stream 0 reserved bit", Frame(kData, 0, 0x80000000u, "x"), srv, C, kProto},
      {"data padded empty", Frame(kData, kFlagPadded, 1, ""), srv, C, kSize},
      {"data pad = length", Frame(kData, kFlagPadded, 1, "\x01"), srv, C, kProto},
      {"data pad > length", Frame(kData, kFlagPadded, 1, Byte(0x05) + "abcd"), srv, C, kProto},
      {"data pad 255 short", Frame(kData, kFlagPadded, 1, "\xff"s + std::string(254, 0)), cli, C,
       kProto},
      {"data padded stream 0", Frame(kData, kFlagPadded, 0, ""), srv, C, kProto},
      // HEADERS
      {"headers stream 0", Frame(kHeaders, kFlagEndHeaders, 0, "x"), srv, C, kProto},
      {"headers padded empty", Frame(kHeaders, kFlagPadded, 1, ""), srv, C, kSize},
      {"headers priority short", Frame(kHeaders, kFlagPriority, 1, "abcd"), srv, C, kSize},
      {"headers padded priority short", Frame(kHeaders, kFlagPadded | kFlagPriority, 1, "\0abcd"s),
       srv, C, kSize},
      {"headers pad = length", Frame(kHeaders, kFlagPadded, 1, "\x01"), srv, C, kProto},
      {"headers pad > rest", Frame(kHeaders, kFlagPadded, 1, Byte(0x04) + "abc"), srv, C, kProto},
      {"headers pad overlaps priority",
       Frame(kHeaders, kFlagPadded | kFlagPriority, 1, Byte(0x02) + Be32(0) + Byte(0x0f) + "a"),
       srv, C, kProto},
      {"headers depends on itself", Frame(kHeaders, kFlagPriority, 5, prio_self + "blk"), srv, S,
       kProto},
      {"headers depends on itself, exclusive",
       Frame(kHeaders, kFlagPriority, 5, Be32(0x80000005u) + "\x10"s), cli, S, kProto},
      {"headers stream 0 depends on 0", Frame(kHeaders, kFlagPriority, 0, Be32(0) + "\0"s), srv, C,
       kProto},
      // PRIORITY
      {"priority stream 0", Frame(kPriority, 0, 0, Be32(1) + "\0"s), srv, C, kProto},
      {"priority stream 0 bad length", Frame(kPriority, 0, 0, "abcd"), srv, C, kProto},
      {"priority length 4", Frame(kPriority, 0, 1, "abcd"), srv, S, kSize},
      {"priority length 6", Frame(kPriority, 0, 1, "abcdef"), srv, S, kSize},
      {"priority length 0", Frame(kPriority, 0, 1, ""), cli, S, kSize},
      {"priority depends on itself", Frame(kPriority, 0, 5, prio_self), srv, S, kProto},
      // RST_STREAM
      {"rst stream 0", Frame(kRst, 0, 0, Be32(0)), srv, C, kProto},
      {"rst length 3", Frame(kRst, 0, 1, "abc"), srv, C, kSize},
      {"rst length 5", Frame(kRst, 0, 1, "abcde"), srv, C, kSize},
      {"rst length 0", Frame(kRst, 0, 1, ""), cli, C, kSize},
      // SETTINGS
      {"settings on a stream", Frame(kSettings, 0, 1, ""), srv, C, kProto},
      {"settings ack on a stream", Frame(kSettings, kFlagAck, 1, ""), srv, C, kProto},
      {"settings ack with payload", Frame(kSettings, kFlagAck, 0, SettingBytes(3, 1)), srv, C,
       kSize},
      {"settings ack with 1 byte", Frame(kSettings, kFlagAck, 0, "x"), srv, C, kSize},
      {"settings length 5", Frame(kSettings, 0, 0, "abcde"), srv, C, kSize},
      {"settings length 7", Frame(kSettings, 0, 0, SettingBytes(3, 1) + "x"), srv, C, kSize},
      {"settings enable_push 2", Frame(kSettings, 0, 0, SettingBytes(2, 2)), srv, C, kProto},
      {"settings enable_push max", Frame(kSettings, 0, 0, SettingBytes(2, 0xffffffffu)), cli, C,
       kProto},
      {"settings enable_push 1 to a client", Frame(kSettings, 0, 0, SettingBytes(2, 1)), cli, C,
       kProto},
      {"settings initial window 2^31", Frame(kSettings, 0, 0, SettingBytes(4, 0x80000000u)), srv, C,
       kFlow},
      {"settings initial window max", Frame(kSettings, 0, 0, SettingBytes(4, 0xffffffffu)), cli, C,
       kFlow},
      {"settings max frame 16383", Frame(kSettings, 0, 0, SettingBytes(5, 16383)), srv, C, kProto},
      {"settings max frame 0", Frame(kSettings, 0, 0, SettingBytes(5, 0)), srv, C, kProto},
      {"settings max frame 2^24", Frame(kSettings, 0, 0, SettingBytes(5, 1u << 24)), srv, C,
       kProto},
      {"settings connect protocol 2", Frame(kSettings, 0, 0, SettingBytes(8, 2)), cli, C, kProto},
      {"settings no 7540 priorities 2", Frame(kSettings, 0, 0, SettingBytes(9, 2)), srv, C, kProto},
      {"settings bad value after good ones",
       Frame(kSettings, 0, 0, SettingBytes(3, 100) + SettingBytes(0x77, 1) + SettingBytes(5, 1)),
       srv, C, kProto},
      // PUSH_PROMISE
      {"push promise to a server", Frame(kPush, kFlagEndHeaders, 1, Be32(2)), srv, C, kProto},
      {"push promise stream 0", Frame(kPush, kFlagEndHeaders, 0, Be32(2)), cli, C, kProto},
      {"push promise length 3", Frame(kPush, kFlagEndHeaders, 1, "abc"), cli, C, kSize},
      {"push promise empty", Frame(kPush, kFlagEndHeaders, 1, ""), cli, C, kSize},
      {"push promise padded empty", Frame(kPush, kFlagPadded, 1, ""), cli, C, kSize},
      {"push promise padded short", Frame(kPush, kFlagPadded, 1, "\0abc"s), cli, C, kSize},
      {"push promise pad too long", Frame(kPush, kFlagPadded, 1, "\x02"s + Be32(2) + "a"), cli, C,
       kProto},
      {"push promise promises 0", Frame(kPush, kFlagEndHeaders, 1, Be32(0)), cli, C, kProto},
      {"push promise promises reserved bit only",
       Frame(kPush, kFlagEndHeaders, 1, Be32(0x80000000u)), cli, C, kProto},
      {"push promise promises odd", Frame(kPush, kFlagEndHeaders, 1, Be32(3)), cli, C, kProto},
      // PING
      {"ping on a stream", Frame(kPing, 0, 1, "12345678"), srv, C, kProto},
      {"ping length 7", Frame(kPing, 0, 0, "1234567"), srv, C, kSize},
      {"ping length 9", Frame(kPing, kFlagAck, 0, "123456789"), srv, C, kSize},
      {"ping length 0", Frame(kPing, 0, 0, ""), cli, C, kSize},
      // GOAWAY
      {"goaway on a stream", Frame(kGoaway, 0, 1, Be32(0) + Be32(0)), srv, C, kProto},
      {"goaway length 7", Frame(kGoaway, 0, 0, "1234567"), srv, C, kSize},
      {"goaway length 0", Frame(kGoaway, 0, 0, ""), cli, C, kSize},
      // WINDOW_UPDATE
      {"window update length 3 on 0", Frame(kWindowUpdate, 0, 0, "abc"), srv, C, kSize},
      {"window update length 5 on a stream", Frame(kWindowUpdate, 0, 1, "abcde"), srv, C, kSize},
      {"window update length 0", Frame(kWindowUpdate, 0, 1, ""), cli, C, kSize},
      {"window update 0 on the connection", Frame(kWindowUpdate, 0, 0, Be32(0)), srv, C, kProto},
      {"window update 0 on a stream", Frame(kWindowUpdate, 0, 3, Be32(0)), srv, S, kProto},
      {"window update reserved bit only", Frame(kWindowUpdate, 0, 3, Be32(0x80000000u)), cli, S,
       kProto},
      // CONTINUATION
      {"continuation stream 0", Frame(kContinuation, kFlagEndHeaders, 0, "x"), srv, C, kProto},
  };
}

TEST(H2Decode, RejectsWithExactCodeAndScope) {
  for (const Reject& c : Rejections()) {
    const ReadResult r = ReadFrame(c.frame, kDefaultMaxFrameSize);
    ASSERT_EQ(r.status, ReadStatus::kFrame) << c.name;
    const Error e = DecodeAny(r, c.role);
    EXPECT_EQ(e.scope, c.scope) << c.name;
    EXPECT_EQ(e.code, c.code) << c.name << ": " << ErrorCodeName(e.code) << " " << e.detail;
    EXPECT_NE(std::string_view(e.detail), "") << c.name;
  }
}

TEST(H2Decode, StreamErrorsStillFillTheFrame) {
  // A HEADERS with a stream error still carries a field block HPACK must decode.
  HeadersFrame hf;
  ReadResult r =
      ReadOne(Frame(kHeaders, kFlagPriority | kFlagEndHeaders, 5, Be32(5) + Byte(0x10) + "blk"s));
  const Error e = DecodeHeaders(r.header, r.payload, &hf);
  EXPECT_EQ(e.scope, ErrorScope::kStream);
  EXPECT_EQ(hf.field_block, "blk");
  EXPECT_TRUE(hf.end_headers);
  EXPECT_EQ(hf.priority.dependency, 5u);
  WindowUpdateFrame wu{99};
  r = ReadOne(Frame(kWindowUpdate, 0, 3, Be32(0)));
  EXPECT_EQ(DecodeWindowUpdate(r.header, r.payload, &wu).scope, ErrorScope::kStream);
  EXPECT_EQ(wu.increment, 0u);
}

TEST(H2Decode, ValidateSettingMatchesDecodeSettings) {
  for (uint16_t id = 0; id < 12; ++id) {
    for (uint32_t v : {0u, 1u, 2u, 16383u, 16384u, 0x7fffffffu, 0x80000000u, 0xffffffu, 0x1000000u,
                       0xffffffffu}) {
      for (Role role : {Role::kServer, Role::kClient}) {
        const Error a = ValidateSetting({static_cast<SettingId>(id), v}, role);
        const ReadResult r = ReadOne(Frame(kSettings, 0, 0, SettingBytes(id, v)));
        SettingsFrame sf;
        const Error b = DecodeSettings(r.header, r.payload, role, &sf);
        EXPECT_EQ(a.scope, b.scope);
        EXPECT_EQ(a.code, b.code);
        EXPECT_NE(a.scope, ErrorScope::kStream);  // SETTINGS errors are always connection errors
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Guard page: the input ends where an unreadable page begins, so any read past it faults
// (tests/proto/guarded_buffer.h).

TEST(H2ReadFrame, NeverReadsPastTheInput) {
  GuardedBuffer g;
  ASSERT_TRUE(g.ok());
  std::vector<std::string> inputs;
  for (const Reject& c : Rejections()) inputs.push_back(c.frame);
  std::string valid;
  AppendSettings({{SettingId::kMaxFrameSize, 20000}}, &valid);
  AppendHeaders(1, Priority{}, "block", false, kDefaultMaxFrameSize, &valid);
  AppendPushPromise(1, 2, "pp", kDefaultMaxFrameSize, &valid);
  AppendData(1, "data", true, &valid);
  AppendPriority(3, Priority{}, &valid);
  AppendRstStream(3, ErrorCode::kCancel, &valid);
  AppendPing(1, false, &valid);
  AppendGoaway(1, ErrorCode::kNoError, "x", &valid);
  AppendWindowUpdate(0, 1, &valid);
  valid += Frame(kContinuation, kFlagEndHeaders, 1, "c");
  valid += Frame(kData, kFlagPadded, 1, Byte(0x02) + "ab\0\0"s);
  valid += Frame(kHeaders, kFlagPadded, 1, Byte(0x01) + "h\0"s);
  inputs.push_back(valid);
  size_t decoded = 0;
  for (const std::string& in : inputs) {
    ASSERT_LE(in.size(), g.capacity());
    for (size_t n = 0; n <= in.size(); ++n) {
      std::string_view placed = g.Place(std::string_view(in).substr(0, n));
      for (;;) {
        const ReadResult r = ReadFrame(placed, kDefaultMaxFrameSize);
        if (r.status != ReadStatus::kFrame) break;
        ASSERT_LE(r.consumed, placed.size());
        // Decode the payload in place too: it ends at the guard page when it is last.
        for (Role role : {Role::kServer, Role::kClient}) (void)DecodeAny(r, role);
        if (r.header.type == FrameType::kData && !r.payload.empty()) {
          DataLayout l;
          (void)DecodeDataLayout(r.header, static_cast<uint8_t>(r.payload[0]), &l);
        }
        ++decoded;
        placed.remove_prefix(r.consumed);
      }
      (void)MatchClientPreface(placed);
    }
  }
  EXPECT_GT(decoded, 900u);
}

}  // namespace
}  // namespace ringway::h2
