// A strict JSON reader (RFC 8259) for what ringway reads off the data path: the admin API's
// request bodies and the state file (proxy/state.h). It builds a small tree; nothing here runs
// per proxied request, so it is written to be plain and bounded rather than fast.
//
// What it refuses, with the line and column of the first byte at fault:
//  - anything outside the grammar: trailing commas, comments, single quotes, bare words, leading
//    zeros, "+1", ".5", "1.", NaN, a second value after the first, an empty text;
//  - strings with raw control bytes (below 0x20), unknown escapes, \u escapes that are lone or
//    misordered surrogates, bytes that are not well-formed UTF-8 (overlong forms, surrogates,
//    code points past U+10FFFF, truncated sequences);
//  - an object with the same key twice (RFC 8259 leaves the meaning open; a reader that took
//    the first or the last would let two programs read one body two ways);
//  - nesting deeper than Limits::depth, more than Limits::values values in all.
// A UTF-8 byte order mark before the text is skipped (editors add one). Numbers keep their
// text; GetUint64 reads the ones written as whole numbers.
//
//   absl::StatusOr<JsonValue> doc = ParseJson(body);
//   if (!doc.ok()) return Error(400, doc.status().message());
//   std::string_view level;
//   if (const JsonValue* v = doc->Find("level"); v && v->GetString(&level)) ...
#ifndef RINGWAY_ADMIN_JSON_READER_H_
#define RINGWAY_ADMIN_JSON_READER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace ringway::admin {

class JsonValue {
 public:
  enum class Type : uint8_t { kNull, kBool, kNumber, kString, kArray, kObject };

  Type type() const { return type_; }
  bool is_object() const { return type_ == Type::kObject; }
  bool is_array() const { return type_ == Type::kArray; }

  // Typed reads: false (and *out untouched) when the value is of another type.
  bool GetBool(bool* out) const;
  bool GetString(std::string_view* out) const;  // the decoded string
  // A number written as a whole number without sign, fraction or exponent, 0 to 2^64-1.
  bool GetUint64(uint64_t* out) const;
  // A number as written in the text ("" for other types).
  std::string_view number_text() const {
    return type_ == Type::kNumber ? std::string_view(text_) : std::string_view();
  }

  // Arrays and objects: the number of elements or members, and each one's value in document
  // order. key(i) is a member's key (objects only).
  size_t size() const { return items_.size(); }
  const JsonValue& operator[](size_t i) const { return items_[i]; }
  std::string_view key(size_t i) const { return keys_[i]; }
  // An object's member by key; nullptr if absent or not an object.
  const JsonValue* Find(std::string_view key) const;

 private:
  friend class JsonParser;

  Type type_ = Type::kNull;
  bool bool_ = false;
  std::string text_;  // a string's decoded bytes, a number's text
  std::vector<JsonValue> items_;
  std::vector<std::string> keys_;  // objects: parallel to items_
};

struct JsonLimits {
  int depth = 64;            // arrays and objects inside one another
  size_t values = 1u << 20;  // values of every kind in the whole text
};

// The text's one value, or InvalidArgument with "line L, column C: what was wrong".
absl::StatusOr<JsonValue> ParseJson(std::string_view text, JsonLimits limits = {});

}  // namespace ringway::admin

#endif  // RINGWAY_ADMIN_JSON_READER_H_
