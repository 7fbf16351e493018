#include "proto/hpack.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "tests/proto/hpack_test_util.h"

namespace ringway::hpack {
namespace {

using namespace hpack_test;  // NOLINT: test helpers

// ---- Decoder: table size updates ---------------------------------------------------------------

TEST(HpackDecoder, SizeUpdateToZeroClearsTable) {
  Decoder dec;
  std::vector<HeaderField> fields;
  ASSERT_EQ(DecodeHex(dec, "4103616263", &fields), DecodeStatus::kOk);  // :authority: abc
  ASSERT_EQ(dec.table().count(), 1u);
  ASSERT_EQ(DecodeHex(dec, "20 3fe11f 82", &fields), DecodeStatus::kOk);  // 0, then 4096
  EXPECT_EQ(dec.table().count(), 0u);
  EXPECT_EQ(dec.table().max_size(), 4096u);
  EXPECT_EQ(DecodeHex(dec, "be", &fields), DecodeStatus::kCompressionError);  // entry is gone
}

TEST(HpackDecoder, SizeUpdateAboveLimitRejected) {
  Decoder dec(4096);
  std::vector<HeaderField> fields;
  const DecodeResult r = dec.Decode(Hex("3fe21f 82"), &fields);  // 4097
  EXPECT_EQ(r.status, DecodeStatus::kCompressionError);
  EXPECT_STREQ(r.error, "HPACK: dynamic table size update above SETTINGS_HEADER_TABLE_SIZE");
  // The decoder stays failed: the connection is going away.
  EXPECT_EQ(DecodeHex(dec, "82", &fields), DecodeStatus::kCompressionError);
}

TEST(HpackDecoder, SizeUpdateAfterFieldRejected) {
  Decoder dec;
  std::vector<HeaderField> fields;
  EXPECT_EQ(DecodeHex(dec, "82 20", &fields), DecodeStatus::kCompressionError);
  Decoder dec2;
  EXPECT_EQ(DecodeHex(dec2, "82 3fe11f", &fields), DecodeStatus::kCompressionError);
}

TEST(HpackDecoder, TwoSizeUpdatesAtBlockStartAccepted) {
  Decoder dec;
  std::vector<HeaderField> fields;
  ASSERT_EQ(DecodeHex(dec, "4103616263", &fields), DecodeStatus::kOk);
  // 40 (evicts the 45-octet entry), then 1024.
  ASSERT_EQ(DecodeHex(dec, "3f09 3fe107 82", &fields), DecodeStatus::kOk);
  EXPECT_EQ(dec.table().max_size(), 1024u);
  EXPECT_EQ(dec.table().count(), 0u);
}

TEST(HpackDecoder, LoweredLimitRequiresSizeUpdate) {
  std::vector<HeaderField> fields;
  Decoder dec;
  dec.SetMaxTableSizeLimit(1024);
  EXPECT_EQ(DecodeHex(dec, "82", &fields), DecodeStatus::kCompressionError);

  Decoder ok;
  ok.SetMaxTableSizeLimit(1024);
  ASSERT_EQ(DecodeHex(ok, "3fe107 82", &fields), DecodeStatus::kOk);
  EXPECT_EQ(ok.table().max_size(), 1024u);

  Decoder too_high;
  too_high.SetMaxTableSizeLimit(1024);
  EXPECT_EQ(DecodeHex(too_high, "3fe11f 82", &fields), DecodeStatus::kCompressionError);

  // Raising the limit needs no update, and allows one up to the new limit.
  Decoder raised;
  raised.SetMaxTableSizeLimit(8192);
  ASSERT_EQ(DecodeHex(raised, "82", &fields), DecodeStatus::kOk);
  ASSERT_EQ(DecodeHex(raised, "3fe13f 82", &fields), DecodeStatus::kOk);
  EXPECT_EQ(raised.table().max_size(), 8192u);
}

// ---- Decoder: malformed blocks -----------------------------------------------------------------

TEST(HpackDecoder, RejectsMalformedBlocks) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"80", "HPACK: index 0"},
      {"be", "HPACK: index out of range"},          // empty dynamic table
      {"7e00", "HPACK: index out of range"},        // literal naming dynamic entry 62
      {"0f3000", "HPACK: index out of range"},      // 4-bit prefix: 15 + 48 = 63
      {"41", "HPACK: string runs past the block"},  // value missing
      {"410f77", "HPACK: string runs past the block"},
      {"4000", "HPACK: string runs past the block"},  // new name, no value
      {"ffffffffffff", "HPACK: bad integer"},
      {"ff80808080808000", "HPACK: bad integer"},
      {"41 84ffffffff", "HPACK: EOS in a Huffman string"},
      {"41 81ff", "HPACK: bad Huffman padding"},
      {"40 811f 8118", "HPACK: bad Huffman padding"},  // name "a", value with zero padding
  };
  for (const auto& [hex, error] : cases) {
    Decoder dec;
    std::vector<HeaderField> fields;
    const DecodeResult r = dec.Decode(Hex(hex), &fields);
    EXPECT_EQ(r.status, DecodeStatus::kCompressionError) << hex;
    EXPECT_EQ(std::string_view(r.error), error) << hex;
    EXPECT_TRUE(fields.empty());
  }
}

TEST(HpackDecoder, EmptyBlockAndEmptyStrings) {
  Decoder dec;
  std::vector<HeaderField> fields;
  ASSERT_EQ(dec.Decode("", &fields).status, DecodeStatus::kOk);
  EXPECT_TRUE(fields.empty());
  // New empty name and empty value, indexed; raw and Huffman-coded empty strings alike.
  ASSERT_EQ(DecodeHex(dec, "400000 408080", &fields), DecodeStatus::kOk);
  ASSERT_EQ(fields.size(), 2u);
  EXPECT_EQ(fields[0].name, "");
  EXPECT_EQ(dec.table().size(), 64u);
}

TEST(HpackDecoder, ViewsSurviveEvictionWithinBlock) {
  // Field 1 names dynamic entry 62; field 2 inserts an entry that evicts it. The output of
  // field 1 must not point into the table.
  Decoder dec(100);
  std::vector<HeaderField> fields;
  ASSERT_EQ(DecodeHex(dec, "40 0161 0178", &fields), DecodeStatus::kOk);  // a: x (34)
  const std::string big(60, 'z');
  std::string block = Hex("be 40 0162");
  block.push_back(static_cast<char>(big.size()));
  block += big;  // b: zzz... (93): evicts a: x
  ASSERT_EQ(dec.Decode(block, &fields).status, DecodeStatus::kOk);
  ASSERT_EQ(fields.size(), 2u);
  EXPECT_EQ(fields[0].name, "a");
  EXPECT_EQ(fields[0].value, "x");
  EXPECT_EQ(fields[1].value, big);
  EXPECT_EQ(TableOf(dec.table()), (Entries{{"b", big}}));
}

TEST(HpackDecoder, LiteralNamingEntryItEvicts) {
  // Accepted (the name is copied for the output first) and refused (the table gets a view of
  // its own entry): the same table either way.
  for (uint32_t list_limit : {64u * 1024, 50u}) {
    Decoder dec(80, list_limit);
    std::vector<HeaderField> fields;
    ASSERT_EQ(DecodeHex(dec, "40 09736f6d652d6e616d65 027631", &fields), DecodeStatus::kOk);
    // Literal with incremental indexing, name = entry 62, value long enough to evict it.
    const DecodeStatus s = DecodeHex(dec, "7e 0e612d6c6f6e6765722d76616c7565", &fields);
    if (list_limit == 50) {
      ASSERT_EQ(s, DecodeStatus::kHeaderListTooLarge);
    } else {
      ASSERT_EQ(s, DecodeStatus::kOk);
      ASSERT_EQ(fields.size(), 1u);
      EXPECT_EQ(fields[0].name, "some-name");
    }
    EXPECT_EQ(TableOf(dec.table()), (Entries{{"some-name", "a-longer-value"}}));
  }
}

TEST(HpackDecoder, ReportsStaticIndexOfNames) {
  Decoder dec;
  std::vector<HeaderField> fields;
  // :path by index (4), content-type by name index (31), a literal name, a dynamic entry.
  ASSERT_EQ(DecodeHex(dec, "84 5f09746578742f68746d6c 400178 0179 be", &fields), DecodeStatus::kOk);
  ASSERT_EQ(fields.size(), 4u);
  EXPECT_EQ(fields[0].static_index, 4);
  EXPECT_EQ(fields[1].static_index, 31);
  EXPECT_EQ(fields[1].value, "text/html");
  EXPECT_EQ(fields[2].static_index, 0);
  EXPECT_EQ(fields[3].name, "x");
  EXPECT_EQ(fields[3].static_index, 0);
}

// ---- Decoder: list size limit and bombs --------------------------------------------------------

TEST(HpackDecoder, ListSizeLimitIsExact) {
  // :method: GET (42) + :path: / (38) = 80.
  std::vector<HeaderField> fields;
  Decoder at(4096, 80);
  EXPECT_EQ(DecodeHex(at, "82 84", &fields), DecodeStatus::kOk);
  EXPECT_EQ(fields.size(), 2u);
  Decoder under(4096, 79);
  const DecodeResult r = under.Decode(Hex("82 84"), &fields);
  EXPECT_EQ(r.status, DecodeStatus::kHeaderListTooLarge);
  EXPECT_STREQ(r.error, "HPACK: header list larger than the limit");
  EXPECT_EQ(fields.size(), 1u);  // what came before the limit
  // A stream error only: the next block decodes.
  EXPECT_EQ(DecodeHex(under, "82", &fields), DecodeStatus::kOk);
}

TEST(HpackDecoder, RefusedBlockStillUpdatesTable) {
  std::vector<HeaderField> fields;
  Decoder dec(4096, 100);
  // 50 octets of :authority (92 in the list), then two indexed literals past the limit:
  // one raw, one Huffman-coded, both must land in the table.
  std::string block = Hex("41 32") + std::string(50, 'h');
  block += Hex("40 0161 0131");                         // a: 1
  block += Hex("40 0162 8c f1e3c2e5f23a6ba0ab90f4ff");  // b: www.example.com (Huffman)
  const DecodeResult r = dec.Decode(block, &fields);
  ASSERT_EQ(r.status, DecodeStatus::kHeaderListTooLarge);
  EXPECT_EQ(fields.size(), 1u);
  EXPECT_EQ(TableOf(dec.table()),
            (Entries{{"b", "www.example.com"}, {"a", "1"}, {":authority", std::string(50, 'h')}}));
  ASSERT_EQ(DecodeHex(dec, "be bf", &fields), DecodeStatus::kOk);
  EXPECT_EQ(Own(fields), (std::vector<Field>{{"b", "www.example.com"}, {"a", "1"}}));
}

TEST(HpackDecoder, BombOfIndexedReferencesIsRefusedEarly) {
  std::vector<HeaderField> fields;
  Decoder dec(4096, 16 * 1024);
  // One 4 KiB entry: new name "x", a 4000-octet value (entry size 4033).
  std::string insert = Hex("40 0178 7f a11e");  // value length 127 + 3873 = 4000
  insert += std::string(4000, 'v');
  ASSERT_EQ(dec.Decode(insert, &fields).status, DecodeStatus::kOk);
  ASSERT_EQ(dec.table().count(), 1u);
  for (size_t refs : {100u, 1000u, 100000u}) {
    // `refs` one-octet references would expand to refs * 4033 octets.
    const std::string bomb(refs, static_cast<char>(0xbe));
    const DecodeResult r = dec.Decode(bomb, &fields);
    EXPECT_EQ(r.status, DecodeStatus::kHeaderListTooLarge) << refs;
    EXPECT_EQ(fields.size(), 4u) << refs;  // 4 * 4033 <= 16384 < 5 * 4033
    // The table is as it was, and the connection goes on.
    ASSERT_EQ(DecodeHex(dec, "be 82", &fields), DecodeStatus::kOk);
    ASSERT_EQ(fields.size(), 2u);
    EXPECT_EQ(fields[0].value, std::string(4000, 'v'));
    EXPECT_EQ(dec.table().count(), 1u);
  }
}

TEST(HpackDecoder, BombOfTableCopiesIsAConnectionError) {
  std::vector<HeaderField> fields;
  Decoder dec(4096, 64 * 1024);
  // One entry with a 4000-octet name and an empty value.
  std::string insert = Hex("40 7f a11e") + std::string(4000, 'n') + Hex("00");
  ASSERT_EQ(dec.Decode(insert, &fields).status, DecodeStatus::kOk);
  // "Literal with incremental indexing, name = entry 62, empty value", two octets each: every
  // one copies the 4000-octet name into the table again.
  std::string bomb;
  for (int i = 0; i < 5000; ++i) bomb += Hex("7e00");
  const DecodeResult r = dec.Decode(bomb, &fields);
  EXPECT_EQ(r.status, DecodeStatus::kCompressionError);
  EXPECT_STREQ(r.error, "HPACK: block copies too much into the table");

  // A handful of such fields past the limit is still only a stream error.
  Decoder mild(4096, 8 * 1024);
  ASSERT_EQ(mild.Decode(insert, &fields).status, DecodeStatus::kOk);
  std::string few;
  for (int i = 0; i < 4; ++i) few += Hex("7e00");
  EXPECT_EQ(mild.Decode(few, &fields).status, DecodeStatus::kHeaderListTooLarge);
  EXPECT_EQ(fields.size(), 2u);
  EXPECT_EQ(mild.table().count(), 1u);
}

// Decoders with a small and a huge list limit see the same blocks: their tables never differ,
// and their outputs agree whenever the small one accepts.
TEST(HpackDecoder, ListLimitNeverChangesTableState) {
  std::mt19937 rng(431);
  const std::vector<std::string> names = {"a", "cookie", "user-agent", "x-long-header-name",
                                          ":path"};
  for (int conn = 0; conn < 50; ++conn) {
    Encoder enc;
    Decoder small(4096, 300);
    Decoder big(4096, 1 << 30);
    std::vector<HeaderField> small_fields;
    std::vector<HeaderField> big_fields;
    for (int block = 0; block < 40; ++block) {
      std::vector<Field> list;
      const size_t n = rng() % 8;
      for (size_t i = 0; i < n; ++i) {
        list.push_back({names[rng() % names.size()],
                        std::string(rng() % 3 == 0 ? rng() % 200 : rng() % 4,
                                    static_cast<char>('a' + rng() % 3)),
                        rng() % 10 == 0});
      }
      std::string wire;
      enc.Encode(View(list), &wire);
      const DecodeStatus sb = big.Decode(wire, &big_fields).status;
      ASSERT_EQ(sb, DecodeStatus::kOk);
      ASSERT_EQ(Own(big_fields), AsSent(list));
      const DecodeStatus ss = small.Decode(wire, &small_fields).status;
      ASSERT_NE(ss, DecodeStatus::kCompressionError);
      if (ss == DecodeStatus::kOk) {
        ASSERT_EQ(Own(small_fields), AsSent(list));
      }
      ASSERT_EQ(TableOf(small.table()), TableOf(big.table()));
    }
  }
}

}  // namespace
}  // namespace ringway::hpack
