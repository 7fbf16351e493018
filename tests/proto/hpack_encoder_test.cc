#include "proto/hpack.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "tests/proto/hpack_test_util.h"

namespace ringway::hpack {
namespace {

using namespace hpack_test;  // NOLINT: test helpers

// ---- Encoder -----------------------------------------------------------------------------------

// Hex without the spaces the expectations below use to separate representations.
std::string N(std::string_view spaced) { return ToHex(Hex(spaced)); }

std::string EncodeHex(Encoder& enc, const std::vector<Field>& fields) {
  std::string wire;
  enc.Encode(View(fields), &wire);
  return ToHex(wire);
}

TEST(HpackEncoder, SensitiveFieldsAreNeverIndexed) {
  Encoder enc({.huffman = false});
  // authorization (23): 0001 1111, then 23 - 15 = 8.
  EXPECT_EQ(EncodeHex(enc, {{"authorization", "Basic Zm9v"}}), N("1f08 0a") + ToHex("Basic Zm9v"));
  // proxy-authorization is 49 = 15 + 34.
  EXPECT_EQ(EncodeHex(enc, {{"proxy-authorization", "x"}}), N("1f22 0178"));
  // A short cookie (32) is never indexed; a long one is indexed, then referenced.
  EXPECT_EQ(EncodeHex(enc, {{"cookie", "sid=1"}}), N("1f11 05 7369643d31"));
  const std::string long_cookie = "sid=0123456789abcdefghij";
  EXPECT_EQ(EncodeHex(enc, {{"cookie", long_cookie}}), N("60 18") + ToHex(long_cookie));
  EXPECT_EQ(EncodeHex(enc, {{"cookie", long_cookie}}), "be");
  // never_indexed from the caller (a field received that way), even with a table match.
  EXPECT_EQ(EncodeHex(enc, {{"cookie", long_cookie, true}}), N("1f11 18") + ToHex(long_cookie));
  EXPECT_EQ(EncodeHex(enc, {{"x-secret", "1", true}}), N("10 08782d736563726574 0131"));
  EXPECT_EQ(enc.table().count(), 1u);

  Decoder dec;
  std::vector<HeaderField> fields;
  std::string wire;
  enc.Encode(View({{"authorization", "t"}, {"x-secret", "1", true}}), &wire);
  ASSERT_EQ(dec.Decode(wire, &fields).status, DecodeStatus::kOk);
  EXPECT_TRUE(fields[0].never_indexed);
  EXPECT_TRUE(fields[1].never_indexed);
}

TEST(HpackEncoder, UnrepeatedFieldsAreNotIndexed) {
  Encoder enc({.huffman = false});
  for (const char* name : {":path", "age", "content-length", "etag", "if-modified-since",
                           "if-none-match", "location", "set-cookie"}) {
    const std::string wire = EncodeHex(enc, {{name, "1"}});
    EXPECT_EQ(wire.substr(0, 1), "0") << name;  // 0000xxxx: without indexing
  }
  EXPECT_EQ(EncodeHex(enc, {{":path", "/a"}}), "04022f61");
  EXPECT_EQ(EncodeHex(enc, {{"content-length", "12"}}), "0f0d023132");  // 28 = 15 + 13
  EXPECT_EQ(enc.table().count(), 0u);
  // More than 3/4 of the table: not indexed either.
  const std::string big(3100, 'x');
  EXPECT_EQ(EncodeHex(enc, {{"x-big", big}}).substr(0, 2), "00");
  EXPECT_EQ(enc.table().count(), 0u);
}

TEST(HpackEncoder, IndexesAndReusesEntries) {
  Encoder enc({.huffman = false});
  // 33, incremental
  EXPECT_EQ(EncodeHex(enc, {{"date", "d1"}}), N("61 026431"));
  EXPECT_EQ(EncodeHex(enc, {{"date", "d1"}}), "be");  // 62
  EXPECT_EQ(EncodeHex(enc, {{"x-a", "1"}}), N("40 03782d61 0131"));
  // The name from entry 62.
  EXPECT_EQ(EncodeHex(enc, {{"x-a", "2"}}), N("7e 0132"));
  // Entries 63 and 64.
  EXPECT_EQ(EncodeHex(enc, {{"x-a", "1"}, {"date", "d1"}}), N("bf c0"));
  EXPECT_EQ(EncodeHex(enc, {{":status", "200"}, {":method", "POST"}}), N("88 83"));
}

TEST(HpackEncoder, HuffmanOnlyWhenShorter) {
  Encoder enc;
  // "www.example.com": 12 octets Huffman-coded against 15.
  EXPECT_EQ(EncodeHex(enc, {{":authority", "www.example.com"}}),
            N("41 8c f1e3c2e5f23a6ba0ab90f4ff"));
  // Two octets above 0x7f code to 20 and 22 bits: raw is shorter. The name is Huffman-coded
  // (30 bits for 5 octets).
  std::string wire;
  enc.Encode(View({{"x-bin", "\x80\x81"}}), &wire);
  EXPECT_EQ(ToHex(wire).substr(0, 4), "4084");
  EXPECT_EQ(ToHex(wire).substr(12), "028081");
  Encoder fresh;
  wire.clear();
  fresh.Encode(View({{"x-bin", "\x80\x81"}}), &wire);
  Decoder dec;
  std::vector<HeaderField> fields;
  ASSERT_EQ(dec.Decode(wire, &fields).status, DecodeStatus::kOk);
  EXPECT_EQ(fields[0].value, "\x80\x81");
}

TEST(HpackEncoder, SignalsTableSizeChanges) {
  Encoder enc({.huffman = false});
  EXPECT_EQ(EncodeHex(enc, {{"date", "d1"}}), "61026431");
  // Lowered to 0 and raised back between two blocks: both are signalled, the smallest first.
  enc.SetPeerMaxTableSize(0);
  enc.SetPeerMaxTableSize(4096);
  EXPECT_EQ(EncodeHex(enc, {{":method", "GET"}}), N("20 3fe11f 82"));
  EXPECT_EQ(enc.table().count(), 0u);
  // Lowered once: one update.
  enc.SetPeerMaxTableSize(1024);
  EXPECT_EQ(EncodeHex(enc, {}), "3fe107");
  // Above our own cap (4096): the table stays at the cap.
  enc.SetPeerMaxTableSize(65536);
  EXPECT_EQ(EncodeHex(enc, {}), "3fe11f");
  enc.SetPeerMaxTableSize(1 << 20);
  EXPECT_EQ(EncodeHex(enc, {}), "");
  EXPECT_EQ(enc.table().max_size(), 4096u);
}

TEST(HpackEncoder, SmallOwnCapIsAnnouncedAndZeroNeverIndexes) {
  Encoder enc({.max_table_size = 0, .huffman = false});
  // Size update to 0, then a literal without indexing (date is 33 = 15 + 18).
  EXPECT_EQ(EncodeHex(enc, {{"date", "d1"}}), N("20 0f12026431"));
  EXPECT_EQ(EncodeHex(enc, {{"date", "d1"}}), "0f12026431");
  Encoder small({.max_table_size = 256});
  EXPECT_EQ(EncodeHex(small, {}), "3fe101");
  EXPECT_EQ(EncodeHex(small, {}), "");
}

// An encoder and a decoder on the two ends of one connection, with SETTINGS_HEADER_TABLE_SIZE
// changing now and then: every list comes back as sent and the two tables stay identical.
TEST(HpackEncoder, RandomConversationsRoundTrip) {
  std::mt19937 rng(7540);
  const std::vector<std::string> names = {
      ":method",      ":path",      ":status",        ":authority", "content-type",
      "cookie",       "set-cookie", "authorization",  "date",       "user-agent",
      "x-request-id", "x-a",        "accept-encoding"};
  const std::vector<std::string> values = {"GET", "/", "200", "gzip, deflate", "", "text/html"};
  for (int conn = 0; conn < 60; ++conn) {
    const uint32_t own_cap = conn % 3 == 0 ? 256 : 4096;
    Encoder enc({.max_table_size = own_cap, .huffman = conn % 2 == 0});
    Decoder dec(4096);  // our SETTINGS_HEADER_TABLE_SIZE, as the peer's decoder
    std::vector<HeaderField> fields;
    for (int block = 0; block < 60; ++block) {
      if (rng() % 10 == 0) {
        const uint32_t setting = std::vector<uint32_t>{0, 64, 256, 1024, 4096, 8192}[rng() % 6];
        dec.SetMaxTableSizeLimit(setting);  // as if the peer ACKed it...
        enc.SetPeerMaxTableSize(setting);   // ...and the encoder read it
      }
      std::vector<Field> list;
      const size_t n = rng() % 12;
      for (size_t i = 0; i < n; ++i) {
        Field f{names[rng() % names.size()], values[rng() % values.size()], rng() % 15 == 0};
        if (rng() % 3 == 0) {
          f.value.clear();
          const size_t len = rng() % (rng() % 10 == 0 ? 3000 : 40);
          for (size_t k = 0; k < len; ++k)
            f.value.push_back(static_cast<char>(rng() % 4 ? 'a' + rng() % 26 : rng()));
        }
        list.push_back(f);
      }
      std::string wire;
      enc.Encode(View(list), &wire);
      const DecodeResult r = dec.Decode(wire, &fields);
      ASSERT_EQ(r.status, DecodeStatus::kOk) << r.error << " conn " << conn << " block " << block;
      ASSERT_EQ(Own(fields), AsSent(list));
      ASSERT_EQ(TableOf(dec.table()), TableOf(enc.table()));
    }
  }
}

}  // namespace
}  // namespace ringway::hpack
