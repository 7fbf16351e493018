// Helpers shared by the HPACK tests: hex conversion, owning copies of decoded fields, table
// dumps. Header-only, for tests/proto/hpack*_test.cc.
#ifndef RINGWAY_TESTS_PROTO_HPACK_TEST_UTIL_H_
#define RINGWAY_TESTS_PROTO_HPACK_TEST_UTIL_H_

#include <cctype>
#include <deque>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proto/hpack.h"

namespace ringway::hpack::hpack_test {

inline std::string Hex(std::string_view hex) {
  std::string out;
  std::string digits;
  for (char c : hex) {
    if (std::isxdigit(static_cast<unsigned char>(c))) digits.push_back(c);
  }
  for (size_t i = 0; i + 1 < digits.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(digits.substr(i, 2), nullptr, 16)));
  }
  return out;
}

inline std::string ToHex(std::string_view bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

// An owning copy of a field, for comparisons that outlive the decoder's views.
struct Field {
  std::string name;
  std::string value;
  bool never_indexed = false;
  bool operator==(const Field&) const = default;
};

inline std::ostream& operator<<(std::ostream& os, const Field& f) {
  return os << f.name << ": " << f.value << (f.never_indexed ? " (never indexed)" : "");
}

inline std::vector<Field> Own(const std::vector<HeaderField>& fields) {
  std::vector<Field> out;
  for (const HeaderField& f : fields) {
    out.push_back({std::string(f.name), std::string(f.value), f.never_indexed});
  }
  return out;
}

// What a decoder reports for a list the Encoder sent: its policy marks credentials and short
// cookies never indexed (hpack.h).
inline std::vector<Field> AsSent(std::vector<Field> list) {
  for (Field& f : list) {
    if (f.name == "authorization" || f.name == "proxy-authorization" ||
        (f.name == "cookie" && f.value.size() < 20)) {
      f.never_indexed = true;
    }
  }
  return list;
}

inline std::vector<HeaderField> View(const std::vector<Field>& fields) {
  std::vector<HeaderField> out;
  for (const Field& f : fields) out.push_back({f.name, f.value, f.never_indexed});
  return out;
}

using Entries = std::vector<std::pair<std::string, std::string>>;

inline Entries TableOf(const DynamicTable& t) {
  Entries out;
  for (size_t i = 0; i < t.count(); ++i) {
    const DynamicTable::Entry e = t.Get(i);
    out.emplace_back(std::string(e.name), std::string(e.value));
  }
  return out;
}

// Raw literals come back as views into the block: the blocks of a test stay alive.
inline DecodeStatus DecodeHex(Decoder& d, std::string_view hex, std::vector<HeaderField>* fields) {
  static std::deque<std::string> blocks;
  blocks.push_back(Hex(hex));
  return d.Decode(blocks.back(), fields).status;
}

}  // namespace ringway::hpack::hpack_test

#endif  // RINGWAY_TESTS_PROTO_HPACK_TEST_UTIL_H_
