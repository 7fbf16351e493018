// The static Huffman code of HPACK string literals (RFC 7541 section 5.2 and Appendix B).
// Stateless functions over caller-owned buffers; nothing allocates except the std::string form.
// The decoder rejects what section 5.2 forbids: EOS inside a string, padding longer than 7 bits,
// and padding that is not the most significant bits of EOS (all ones).
//
//   std::string wire;
//   hpack::HuffmanEncode("www.example.com", &wire);  // appends 12 octets
//   char buf[hpack::HuffmanMaxDecodedLength(12)];
//   size_t n = 0;
//   if (hpack::HuffmanDecode(wire, buf, sizeof(buf), &n) == hpack::HuffmanStatus::kOk) { ... }
#ifndef RINGWAY_PROTO_HPACK_HUFFMAN_H_
#define RINGWAY_PROTO_HPACK_HUFFMAN_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ringway::hpack {

enum class HuffmanStatus : uint8_t {
  kOk,
  kOverflow,    // the decoding is longer than the room given (HuffmanDecode only)
  kEos,         // the EOS symbol appears in the string
  kBadPadding,  // padding of 8 bits or more, not all ones, or a code cut off by the end
};

// The longest decoding of `encoded_len` octets: the shortest code has 5 bits.
constexpr size_t HuffmanMaxDecodedLength(size_t encoded_len) { return encoded_len * 8 / 5; }

// Octets of the encoding of s, padding included.
size_t HuffmanEncodedLength(std::string_view s);

// Writes the encoding of s (exactly HuffmanEncodedLength(s) octets) to out; returns that count.
size_t HuffmanEncode(std::string_view s, char* out);

// Appends the encoding of s to *out.
void HuffmanEncode(std::string_view s, std::string* out);

// Decodes `in` into out[0, cap). On kOk *out_len is the decoded length. On kOverflow the
// decoding needs more than cap octets; out holds its first cap octets and the rest of `in` is
// not looked at. Other statuses: `in` is not a valid HPACK Huffman string (out is scratch).
// Cost: one table look-up per two symbols when their codes fit in 12 bits together (most
// pairs of lowercase letters, digits and common punctuation), one per symbol of up to 12 bits
// otherwise, and a short search over code lengths for the rare longer codes.
HuffmanStatus HuffmanDecode(std::string_view in, char* out, size_t cap, size_t* out_len);

// Validates `in` as HuffmanDecode does and sets *decoded_len, without writing the decoding.
HuffmanStatus HuffmanCheck(std::string_view in, size_t* decoded_len);

}  // namespace ringway::hpack

#endif  // RINGWAY_PROTO_HPACK_HUFFMAN_H_
