#include "proto/hpack_huffman.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace ringway::hpack {
namespace {

std::string Hex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

HuffmanStatus Decode(std::string_view in, std::string* out) {
  out->assign(HuffmanMaxDecodedLength(in.size()), '\0');
  size_t n = 0;
  const HuffmanStatus s = HuffmanDecode(in, out->data(), out->size(), &n);
  out->resize(s == HuffmanStatus::kOk ? n : 0);
  return s;
}

// Strings and their encodings from RFC 7541 Appendix C.4 and C.6.
const std::pair<std::string_view, std::string_view> kRfcVectors[] = {
    {"www.example.com", "f1e3c2e5f23a6ba0ab90f4ff"},
    {"no-cache", "a8eb10649cbf"},
    {"custom-key", "25a849e95ba97d7f"},
    {"custom-value", "25a849e95bb8e8b4bf"},
    {"302", "6402"},
    {"307", "640eff"},
    {"private", "aec3771a4b"},
    {"Mon, 21 Oct 2013 20:13:21 GMT", "d07abe941054d444a8200595040b8166e082a62d1bff"},
    {"Mon, 21 Oct 2013 20:13:22 GMT", "d07abe941054d444a8200595040b8166e084a62d1bff"},
    {"https://www.example.com", "9d29ad171863c78f0b97c8e9ae82ae43d3"},
    {"gzip", "9bd9ab"},
    {"foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
     "94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007"},
};

TEST(HpackHuffman, RfcAppendixCVectors) {
  for (const auto& [plain, hex] : kRfcVectors) {
    const std::string wire = Hex(hex);
    std::string enc;
    HuffmanEncode(plain, &enc);
    EXPECT_EQ(enc, wire) << plain;
    EXPECT_EQ(HuffmanEncodedLength(plain), wire.size()) << plain;
    std::string dec;
    ASSERT_EQ(Decode(wire, &dec), HuffmanStatus::kOk) << plain;
    EXPECT_EQ(dec, plain);
  }
}

// The code of one symbol, read back from the encoder: eight copies fill exactly `len` octets,
// so no padding is involved.
std::pair<uint32_t, int> CodeOf(int sym) {
  std::string enc;
  HuffmanEncode(std::string(8, static_cast<char>(sym)), &enc);
  const int len = static_cast<int>(enc.size());
  uint64_t first = 0;
  for (int i = 0; i < 8 && i < len; ++i) first = (first << 8) | static_cast<uint8_t>(enc[i]);
  first <<= 8 * (8 - std::min(len, 8));
  return {static_cast<uint32_t>(first >> (64 - len)), len};
}

TEST(HpackHuffman, CodesMatchAppendixBSpotChecks) {
  EXPECT_EQ(CodeOf(0), std::make_pair(0x1ff8u, 13));
  EXPECT_EQ(CodeOf('/'), std::make_pair(0x18u, 6));
  EXPECT_EQ(CodeOf('0'), std::make_pair(0x0u, 5));
  EXPECT_EQ(CodeOf('a'), std::make_pair(0x3u, 5));
  EXPECT_EQ(CodeOf('\\'), std::make_pair(0x7fff0u, 19));
  EXPECT_EQ(CodeOf(10), std::make_pair(0x3ffffffcu, 30));
  EXPECT_EQ(CodeOf(127), std::make_pair(0xffffffcu, 28));
  EXPECT_EQ(CodeOf(200), std::make_pair(0x3ffffe2u, 26));
  EXPECT_EQ(CodeOf(255), std::make_pair(0x3ffffeeu, 26));
}

TEST(HpackHuffman, EverySymbolRoundTrips) {
  for (int c = 0; c < 256; ++c) {
    for (int reps : {1, 2, 3, 7, 8, 9}) {
      const std::string plain(reps, static_cast<char>(c));
      std::string enc;
      HuffmanEncode(plain, &enc);
      ASSERT_EQ(enc.size(), HuffmanEncodedLength(plain));
      std::string dec;
      ASSERT_EQ(Decode(enc, &dec), HuffmanStatus::kOk) << c << " x" << reps;
      ASSERT_EQ(dec, plain) << c << " x" << reps;
      size_t n = 0;
      ASSERT_EQ(HuffmanCheck(enc, &n), HuffmanStatus::kOk);
      ASSERT_EQ(n, plain.size());
    }
  }
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  std::string enc;
  HuffmanEncode(all, &enc);
  std::string dec;
  ASSERT_EQ(Decode(enc, &dec), HuffmanStatus::kOk);
  EXPECT_EQ(dec, all);
}

TEST(HpackHuffman, EmptyString) {
  std::string enc;
  HuffmanEncode("", &enc);
  EXPECT_TRUE(enc.empty());
  std::string dec = "x";
  EXPECT_EQ(Decode("", &dec), HuffmanStatus::kOk);
  EXPECT_TRUE(dec.empty());
}

TEST(HpackHuffman, RejectsEos) {
  std::string dec;
  // EOS (30 ones) and 2 bits of padding.
  EXPECT_EQ(Decode(Hex("ffffffff"), &dec), HuffmanStatus::kEos);
  // 'a' (00011), EOS, 5 bits of padding.
  EXPECT_EQ(Decode(Hex("1fffffffff"), &dec), HuffmanStatus::kEos);
  // EOS in the middle of a string: "0" (00000), EOS, then "a" and padding.
  // 00000111 11111111 11111111 11111111 11100011 -> symbols '0', EOS, 'a'
  EXPECT_EQ(Decode(Hex("07ffffffe3"), &dec), HuffmanStatus::kEos);
}

TEST(HpackHuffman, RejectsBadPadding) {
  std::string dec;
  // 'a' is 00011: "1f" is 'a' and three padding ones (valid); a further octet of ones is
  // padding of 11 bits.
  ASSERT_EQ(Decode(Hex("1f"), &dec), HuffmanStatus::kOk);
  EXPECT_EQ(dec, "a");
  EXPECT_EQ(Decode(Hex("1fff"), &dec), HuffmanStatus::kBadPadding);
  // Eight ones alone: padding of 8 bits.
  EXPECT_EQ(Decode(Hex("ff"), &dec), HuffmanStatus::kBadPadding);
  // Padding with zeros: 'a' then 000.
  EXPECT_EQ(Decode(Hex("18"), &dec), HuffmanStatus::kBadPadding);
  // 'a' then 101.
  EXPECT_EQ(Decode(Hex("1d"), &dec), HuffmanStatus::kBadPadding);
  // A code cut off: the first octet of the 10-bit '!' (11111110|00).
  EXPECT_EQ(Decode(Hex("fe"), &dec), HuffmanStatus::kBadPadding);
  // The first three octets of a 28-bit code.
  EXPECT_EQ(Decode(Hex("fffffe"), &dec), HuffmanStatus::kBadPadding);
  // 24 ones: longer than 7 bits of padding, shorter than EOS.
  EXPECT_EQ(Decode(Hex("ffffff"), &dec), HuffmanStatus::kBadPadding);
}

TEST(HpackHuffman, OverflowStopsAtCap) {
  std::string enc;
  HuffmanEncode("www.example.com", &enc);
  char buf[8];
  size_t n = 0;
  EXPECT_EQ(HuffmanDecode(enc, buf, sizeof(buf), &n), HuffmanStatus::kOverflow);
  EXPECT_EQ(std::string_view(buf, 8), "www.exam");
  char big[15];
  EXPECT_EQ(HuffmanDecode(enc, big, sizeof(big), &n), HuffmanStatus::kOk);
  EXPECT_EQ(n, 15u);
}

TEST(HpackHuffman, MaxDecodedLengthIsTight) {
  // '0' has the shortest code (5 bits): 8 of them fill 5 octets.
  std::string enc;
  HuffmanEncode("00000000", &enc);
  ASSERT_EQ(enc.size(), 5u);
  EXPECT_EQ(HuffmanMaxDecodedLength(enc.size()), 8u);
  std::string dec;
  ASSERT_EQ(Decode(enc, &dec), HuffmanStatus::kOk);
  EXPECT_EQ(dec, "00000000");
}

// A bit-at-a-time reference decoder built from the codes the encoder uses, to check the
// table-driven decoder on arbitrary input.
class ReferenceDecoder {
 public:
  ReferenceDecoder() {
    for (int s = 0; s < 256; ++s) codes_[CodeOf(s)] = s;
    codes_[{0x3fffffffu, 30}] = 256;
  }
  HuffmanStatus Decode(std::string_view in, std::string* out) const {
    out->clear();
    uint32_t code = 0;
    int len = 0;
    bool all_ones = true;
    for (unsigned char byte : in) {
      for (int b = 7; b >= 0; --b) {
        const int bit = (byte >> b) & 1;
        code = (code << 1) | static_cast<uint32_t>(bit);
        ++len;
        all_ones = all_ones && bit == 1;
        auto it = codes_.find({code, len});
        if (it == codes_.end()) continue;
        if (it->second == 256) return HuffmanStatus::kEos;
        out->push_back(static_cast<char>(it->second));
        code = 0;
        len = 0;
        all_ones = true;
      }
    }
    return len <= 7 && all_ones ? HuffmanStatus::kOk : HuffmanStatus::kBadPadding;
  }

 private:
  std::map<std::pair<uint32_t, int>, int> codes_;
};

TEST(HpackHuffman, MatchesReferenceOnRandomInput) {
  const ReferenceDecoder ref;
  std::mt19937 rng(7541);
  for (int iter = 0; iter < 20000; ++iter) {
    std::string in;
    if (iter % 2 == 0) {
      // Random octets: mostly invalid, exercising every error path.
      const size_t n = rng() % 12;
      for (size_t i = 0; i < n; ++i) in.push_back(static_cast<char>(rng()));
    } else {
      // A valid encoding with one bit flipped, or with the tail cut.
      std::string plain;
      const size_t n = rng() % 20;
      for (size_t i = 0; i < n; ++i) {
        plain.push_back(static_cast<char>(rng() % 3 == 0 ? rng() : 'a' + rng() % 26));
      }
      HuffmanEncode(plain, &in);
      if (!in.empty()) {
        if (rng() % 2 == 0) {
          in[rng() % in.size()] ^= static_cast<char>(1 << (rng() % 8));
        } else {
          in.resize(rng() % in.size());
        }
      }
    }
    std::string want;
    const HuffmanStatus want_status = ref.Decode(in, &want);
    std::string got;
    const HuffmanStatus got_status = Decode(in, &got);
    ASSERT_EQ(got_status, want_status) << iter;
    if (want_status == HuffmanStatus::kOk) {
      ASSERT_EQ(got, want) << iter;
      size_t n = 0;
      ASSERT_EQ(HuffmanCheck(in, &n), HuffmanStatus::kOk);
      ASSERT_EQ(n, want.size());
    } else {
      size_t n = 0;
      ASSERT_EQ(HuffmanCheck(in, &n), want_status);
    }
  }
}

TEST(HpackHuffman, RandomRoundTrips) {
  std::mt19937 rng(9113);
  for (int iter = 0; iter < 2000; ++iter) {
    std::string plain;
    const size_t n = rng() % 300;
    for (size_t i = 0; i < n; ++i) plain.push_back(static_cast<char>(rng()));
    std::string enc;
    HuffmanEncode(plain, &enc);
    std::string dec;
    ASSERT_EQ(Decode(enc, &dec), HuffmanStatus::kOk);
    ASSERT_EQ(dec, plain);
  }
}

}  // namespace
}  // namespace ringway::hpack
