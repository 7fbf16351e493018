// HPACK Huffman coding. The code table is RFC 7541 Appendix B; the decoder's tables are derived
// from it at compile time, together with checks that the transcription is a complete canonical
// code, so a mistyped row fails the build instead of a request.
#include "proto/hpack_huffman.h"

#include <array>
#include <bit>
#include <cstring>

namespace ringway::hpack {
namespace {

struct Code {
  uint32_t code;  // right-aligned ("code as hex" in the RFC)
  uint8_t len;    // bits
};

// RFC 7541 Appendix B, symbols 0..255 and EOS (256), in order.
// clang-format off
constexpr Code kCodes[257] = {
    {0x1ff8, 13}, {0x7fffd8, 23}, {0xfffffe2, 28}, {0xfffffe3, 28},         // 0-3
    {0xfffffe4, 28}, {0xfffffe5, 28}, {0xfffffe6, 28}, {0xfffffe7, 28},     // 4-7
    {0xfffffe8, 28}, {0xffffea, 24}, {0x3ffffffc, 30}, {0xfffffe9, 28},     // 8-11
    {0xfffffea, 28}, {0x3ffffffd, 30}, {0xfffffeb, 28}, {0xfffffec, 28},    // 12-15
    {0xfffffed, 28}, {0xfffffee, 28}, {0xfffffef, 28}, {0xffffff0, 28},     // 16-19
    {0xffffff1, 28}, {0xffffff2, 28}, {0x3ffffffe, 30}, {0xffffff3, 28},    // 20-23
    {0xffffff4, 28}, {0xffffff5, 28}, {0xffffff6, 28}, {0xffffff7, 28},     // 24-27
    {0xffffff8, 28}, {0xffffff9, 28}, {0xffffffa, 28}, {0xffffffb, 28},     // 28-31
    {0x14, 6}, {0x3f8, 10}, {0x3f9, 10}, {0xffa, 12},                       // 32-35
    {0x1ff9, 13}, {0x15, 6}, {0xf8, 8}, {0x7fa, 11},                        // 36-39
    {0x3fa, 10}, {0x3fb, 10}, {0xf9, 8}, {0x7fb, 11},                       // 40-43
    {0xfa, 8}, {0x16, 6}, {0x17, 6}, {0x18, 6},                             // 44-47
    {0x0, 5}, {0x1, 5}, {0x2, 5}, {0x19, 6},                                // 48-51
    {0x1a, 6}, {0x1b, 6}, {0x1c, 6}, {0x1d, 6},                             // 52-55
    {0x1e, 6}, {0x1f, 6}, {0x5c, 7}, {0xfb, 8},                             // 56-59
    {0x7ffc, 15}, {0x20, 6}, {0xffb, 12}, {0x3fc, 10},                      // 60-63
    {0x1ffa, 13}, {0x21, 6}, {0x5d, 7}, {0x5e, 7},                          // 64-67
    {0x5f, 7}, {0x60, 7}, {0x61, 7}, {0x62, 7},                             // 68-71
    {0x63, 7}, {0x64, 7}, {0x65, 7}, {0x66, 7},                             // 72-75
    {0x67, 7}, {0x68, 7}, {0x69, 7}, {0x6a, 7},                             // 76-79
    {0x6b, 7}, {0x6c, 7}, {0x6d, 7}, {0x6e, 7},                             // 80-83
    {0x6f, 7}, {0x70, 7}, {0x71, 7}, {0x72, 7},                             // 84-87
    {0xfc, 8}, {0x73, 7}, {0xfd, 8}, {0x1ffb, 13},                          // 88-91
    {0x7fff0, 19}, {0x1ffc, 13}, {0x3ffc, 14}, {0x22, 6},                   // 92-95
    {0x7ffd, 15}, {0x3, 5}, {0x23, 6}, {0x4, 5},                            // 96-99
    {0x24, 6}, {0x5, 5}, {0x25, 6}, {0x26, 6},                              // 100-103
    {0x27, 6}, {0x6, 5}, {0x74, 7}, {0x75, 7},                              // 104-107
    {0x28, 6}, {0x29, 6}, {0x2a, 6}, {0x7, 5},                              // 108-111
    {0x2b, 6}, {0x76, 7}, {0x2c, 6}, {0x8, 5},                              // 112-115
    {0x9, 5}, {0x2d, 6}, {0x77, 7}, {0x78, 7},                              // 116-119
    {0x79, 7}, {0x7a, 7}, {0x7b, 7}, {0x7ffe, 15},                          // 120-123
    {0x7fc, 11}, {0x3ffd, 14}, {0x1ffd, 13}, {0xffffffc, 28},               // 124-127
    {0xfffe6, 20}, {0x3fffd2, 22}, {0xfffe7, 20}, {0xfffe8, 20},            // 128-131
    {0x3fffd3, 22}, {0x3fffd4, 22}, {0x3fffd5, 22}, {0x7fffd9, 23},         // 132-135
    {0x3fffd6, 22}, {0x7fffda, 23}, {0x7fffdb, 23}, {0x7fffdc, 23},         // 136-139
    {0x7fffdd, 23}, {0x7fffde, 23}, {0xffffeb, 24}, {0x7fffdf, 23},         // 140-143
    {0xffffec, 24}, {0xffffed, 24}, {0x3fffd7, 22}, {0x7fffe0, 23},         // 144-147
    {0xffffee, 24}, {0x7fffe1, 23}, {0x7fffe2, 23}, {0x7fffe3, 23},         // 148-151
    {0x7fffe4, 23}, {0x1fffdc, 21}, {0x3fffd8, 22}, {0x7fffe5, 23},         // 152-155
    {0x3fffd9, 22}, {0x7fffe6, 23}, {0x7fffe7, 23}, {0xffffef, 24},         // 156-159
    {0x3fffda, 22}, {0x1fffdd, 21}, {0xfffe9, 20}, {0x3fffdb, 22},          // 160-163
    {0x3fffdc, 22}, {0x7fffe8, 23}, {0x7fffe9, 23}, {0x1fffde, 21},         // 164-167
    {0x7fffea, 23}, {0x3fffdd, 22}, {0x3fffde, 22}, {0xfffff0, 24},         // 168-171
    {0x1fffdf, 21}, {0x3fffdf, 22}, {0x7fffeb, 23}, {0x7fffec, 23},         // 172-175
    {0x1fffe0, 21}, {0x1fffe1, 21}, {0x3fffe0, 22}, {0x1fffe2, 21},         // 176-179
    {0x7fffed, 23}, {0x3fffe1, 22}, {0x7fffee, 23}, {0x7fffef, 23},         // 180-183
    {0xfffea, 20}, {0x3fffe2, 22}, {0x3fffe3, 22}, {0x3fffe4, 22},          // 184-187
    {0x7ffff0, 23}, {0x3fffe5, 22}, {0x3fffe6, 22}, {0x7ffff1, 23},         // 188-191
    {0x3ffffe0, 26}, {0x3ffffe1, 26}, {0xfffeb, 20}, {0x7fff1, 19},         // 192-195
    {0x3fffe7, 22}, {0x7ffff2, 23}, {0x3fffe8, 22}, {0x1ffffec, 25},        // 196-199
    {0x3ffffe2, 26}, {0x3ffffe3, 26}, {0x3ffffe4, 26}, {0x7ffffde, 27},     // 200-203
    {0x7ffffdf, 27}, {0x3ffffe5, 26}, {0xfffff1, 24}, {0x1ffffed, 25},      // 204-207
    {0x7fff2, 19}, {0x1fffe3, 21}, {0x3ffffe6, 26}, {0x7ffffe0, 27},        // 208-211
    {0x7ffffe1, 27}, {0x3ffffe7, 26}, {0x7ffffe2, 27}, {0xfffff2, 24},      // 212-215
    {0x1fffe4, 21}, {0x1fffe5, 21}, {0x3ffffe8, 26}, {0x3ffffe9, 26},       // 216-219
    {0xffffffd, 28}, {0x7ffffe3, 27}, {0x7ffffe4, 27}, {0x7ffffe5, 27},     // 220-223
    {0xfffec, 20}, {0xfffff3, 24}, {0xfffed, 20}, {0x1fffe6, 21},           // 224-227
    {0x3fffe9, 22}, {0x1fffe7, 21}, {0x1fffe8, 21}, {0x7ffff3, 23},         // 228-231
    {0x3fffea, 22}, {0x3fffeb, 22}, {0x1ffffee, 25}, {0x1ffffef, 25},       // 232-235
    {0xfffff4, 24}, {0xfffff5, 24}, {0x3ffffea, 26}, {0x7ffff4, 23},        // 236-239
    {0x3ffffeb, 26}, {0x7ffffe6, 27}, {0x3ffffec, 26}, {0x3ffffed, 26},     // 240-243
    {0x7ffffe7, 27}, {0x7ffffe8, 27}, {0x7ffffe9, 27}, {0x7ffffea, 27},     // 244-247
    {0x7ffffeb, 27}, {0xffffffe, 28}, {0x7ffffec, 27}, {0x7ffffed, 27},     // 248-251
    {0x7ffffee, 27}, {0x7ffffef, 27}, {0x7fffff0, 27}, {0x3ffffee, 26},     // 252-255
    {0x3fffffff, 30},                                                       // 256 (EOS)
};
// clang-format on

constexpr int kEos = 256;
constexpr int kMaxLen = 30;
// The first kRootBits bits of input index a table that decodes every code up to that length,
// and the next code too when both fit: text needs about one look-up per two characters, and
// the look-up chain, not the arithmetic, is what bounds the decoder. 4096 entries of 4 octets.
constexpr int kRootBits = 12;

// Canonical code property the decoder's slow path relies on: listing symbols by (length,
// symbol), each code is the previous one plus one, shifted left by the growth in length; and
// the code is complete (Kraft sum exactly 1), so every bit string starts with some code.
constexpr bool IsCompleteCanonical() {
  uint64_t kraft = 0;
  uint32_t next = 0;
  int prev_len = 0;
  bool first = true;
  for (int len = 1; len <= kMaxLen; ++len) {
    for (int s = 0; s <= kEos; ++s) {
      if (kCodes[s].len != len) continue;
      if (first) {
        first = false;
      } else {
        next = (next + 1) << (len - prev_len);
      }
      prev_len = len;
      if (kCodes[s].code != next) return false;
      kraft += uint64_t{1} << (kMaxLen - len);
    }
  }
  return kraft == (uint64_t{1} << kMaxLen);
}
static_assert(IsCompleteCanonical(), "RFC 7541 Appendix B transcription error");
static_assert(kCodes[kEos].len == 30 && kCodes[kEos].code == 0x3fffffff);

// A root entry: symbols in bits 0-7 and 8-15, the first code's length in 16-20, both codes'
// length in 21-25, and how many codes it holds in 30-31 (0: the bits begin a code longer than
// kRootBits). Codes that short never include EOS, so 8 bits hold a symbol.
constexpr uint32_t RootEntry(uint32_t count, uint32_t sym1, uint32_t len1, uint32_t sym2,
                             uint32_t len2) {
  return sym1 | sym2 << 8 | len1 << 16 | (len1 + len2) << 21 | count << 30;
}

struct DecodeTables {
  std::array<uint32_t, 1 << kRootBits> root{};
  // Canonical decoding of the longer codes: the codes of length L are first[L] ..
  // first[L] + count[L] - 1, for symbols sorted[base[L]] onwards.
  std::array<uint32_t, kMaxLen + 1> first{};
  std::array<uint16_t, kMaxLen + 1> count{};
  std::array<uint16_t, kMaxLen + 1> base{};
  std::array<uint16_t, kEos + 1> sorted{};
};

constexpr DecodeTables MakeDecodeTables() {
  DecodeTables t{};
  uint16_t n = 0;
  for (int len = 1; len <= kMaxLen; ++len) {
    t.base[len] = n;
    for (int s = 0; s <= kEos; ++s) {
      if (kCodes[s].len != len) continue;
      if (t.count[len] == 0) t.first[len] = kCodes[s].code;
      ++t.count[len];
      t.sorted[n++] = static_cast<uint16_t>(s);
    }
  }
  // One code per entry first: (len << 9) | symbol, 0 where a longer code begins.
  std::array<uint16_t, 1 << kRootBits> single{};
  for (int s = 0; s <= kEos; ++s) {
    const int len = kCodes[s].len;
    if (len > kRootBits) continue;
    const uint32_t lo = kCodes[s].code << (kRootBits - len);
    for (uint32_t k = 0; k < (uint32_t{1} << (kRootBits - len)); ++k) {
      single[lo + k] = static_cast<uint16_t>((len << 9) | s);
    }
  }
  // Then a second code where the bits left after the first hold one whole. A code depends only
  // on its own bits, so the zeros shifted in below the first code's bits change nothing when
  // the second code is short enough to end before them.
  constexpr uint32_t kMask = (1u << kRootBits) - 1;
  for (uint32_t p = 0; p <= kMask; ++p) {
    const uint32_t e1 = single[p];
    if (e1 == 0) continue;
    const uint32_t len1 = e1 >> 9;
    const uint32_t e2 = single[(p << len1) & kMask];
    const uint32_t len2 = e2 >> 9;
    if (e2 != 0 && len2 <= kRootBits - len1) {
      t.root[p] = RootEntry(2, e1 & 0xff, len1, e2 & 0xff, len2);
    } else {
      t.root[p] = RootEntry(1, e1 & 0xff, len1, 0, 0);
    }
  }
  return t;
}
constexpr DecodeTables kTables = MakeDecodeTables();

inline uint32_t LoadBe32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  if constexpr (std::endian::native == std::endian::little) v = __builtin_bswap32(v);
  return v;
}

inline void StoreBe32(char* p, uint32_t v) {
  if constexpr (std::endian::native == std::endian::little) v = __builtin_bswap32(v);
  std::memcpy(p, &v, 4);
}

// One decoder for both entry points; kWrite false only counts.
template <bool kWrite>
HuffmanStatus Decode(std::string_view in, char* out, size_t cap, size_t* out_len) {
  const auto* p = reinterpret_cast<const uint8_t*>(in.data());
  const auto* const end = p + in.size();
  // The next `nbits` bits of input, most significant first. The bits below them are zero
  // while input remains and ones once it is exhausted: ones can only extend a prefix of EOS,
  // so a look-up over the end finds a code longer than the bits left, which is the padding
  // check below.
  uint64_t acc = 0;
  unsigned nbits = 0;
  size_t n = 0;
  for (;;) {
    if (nbits < kMaxLen) {
      if (end - p >= 4) {
        acc |= uint64_t{LoadBe32(p)} << (32 - nbits);
        p += 4;
        nbits += 32;
      } else {
        while (p < end && nbits <= 56) {
          acc |= uint64_t{*p++} << (56 - nbits);
          nbits += 8;
        }
        if (p == end && nbits < kMaxLen) {
          if (nbits == 0) break;
          // Valid padding: fewer than 8 bits, all ones (the start of EOS).
          if (nbits < 8 && (acc >> (64 - nbits)) == (uint64_t{1} << nbits) - 1) break;
          acc |= ~uint64_t{0} >> nbits;
        }
      }
    }
    const uint32_t e = kTables.root[acc >> (64 - kRootBits)];
    const uint32_t codes = e >> 30;
    unsigned len = (e >> 16) & 0x1fu;
    unsigned sym = e & 0xffu;
    if (codes == 2) {
      const unsigned both = (e >> 21) & 0x1fu;
      if (both <= nbits) {
        if constexpr (kWrite) {
          if (cap - n < 2) {
            if (n < cap) out[n] = static_cast<char>(sym);
            return HuffmanStatus::kOverflow;
          }
          out[n] = static_cast<char>(sym);
          out[n + 1] = static_cast<char>(e >> 8);
        }
        n += 2;
        acc <<= both;
        nbits -= both;
        continue;
      }
      // At the end of the input the second code may be made of the ones filled in: only the
      // first counts, and the checks below apply to it.
    } else if (codes == 0) {
      // A code longer than kRootBits: at most 18 lengths to try, and only for rare symbols.
      for (len = kRootBits + 1; len <= kMaxLen; ++len) {
        const uint32_t c = static_cast<uint32_t>(acc >> (64 - len));
        const uint32_t rank = c - kTables.first[len];
        if (rank < kTables.count[len]) {
          sym = kTables.sorted[kTables.base[len] + rank];
          break;
        }
      }
    }
    // A code that needs more bits than are left: the tail is not a valid padding (too long,
    // or not all ones). The loop above always ends with len <= kMaxLen on a complete code.
    if (len > nbits) return HuffmanStatus::kBadPadding;
    if (sym == kEos) return HuffmanStatus::kEos;
    if constexpr (kWrite) {
      if (n == cap) return HuffmanStatus::kOverflow;
      out[n] = static_cast<char>(sym);
    }
    ++n;
    acc <<= len;
    nbits -= len;
  }
  *out_len = n;
  return HuffmanStatus::kOk;
}

}  // namespace

size_t HuffmanEncodedLength(std::string_view s) {
  uint64_t bits = 0;
  for (unsigned char c : s) bits += kCodes[c].len;
  return static_cast<size_t>((bits + 7) / 8);
}

size_t HuffmanEncode(std::string_view s, char* out) {
  // `acc` holds fewer than 32 pending bits at its bottom before each symbol, so a 30-bit code
  // always fits; whole 32-bit words leave as soon as they are complete.
  uint64_t acc = 0;
  unsigned nbits = 0;
  char* o = out;
  for (unsigned char c : s) {
    const Code k = kCodes[c];
    acc = (acc << k.len) | k.code;
    nbits += k.len;
    if (nbits >= 32) {
      nbits -= 32;
      StoreBe32(o, static_cast<uint32_t>(acc >> nbits));
      o += 4;
    }
  }
  // Pad to an octet with the most significant bits of EOS, which are all ones.
  const unsigned pad = (8 - nbits % 8) % 8;
  acc = (acc << pad) | ((uint64_t{1} << pad) - 1);
  nbits += pad;
  while (nbits >= 8) {
    nbits -= 8;
    *o++ = static_cast<char>(acc >> nbits);
  }
  return static_cast<size_t>(o - out);
}

void HuffmanEncode(std::string_view s, std::string* out) {
  const size_t old = out->size();
  out->resize(old + HuffmanEncodedLength(s));
  HuffmanEncode(s, out->data() + old);
}

HuffmanStatus HuffmanDecode(std::string_view in, char* out, size_t cap, size_t* out_len) {
  return Decode<true>(in, out, cap, out_len);
}

HuffmanStatus HuffmanCheck(std::string_view in, size_t* decoded_len) {
  return Decode<false>(in, nullptr, 0, decoded_len);
}

}  // namespace ringway::hpack
