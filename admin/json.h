// A small JSON writer for the admin API: compact output into one std::string, commas placed by
// the writer, strings escaped so that any bytes give valid JSON.
//
// Strings: '"' and '\' are escaped, control bytes (and DEL) become \u00XX, and bytes that are
// not well-formed UTF-8 (stray continuation bytes, overlong forms, surrogates, code points
// past U+10FFFF, truncated sequences) become \ufffd, one per byte. Doubles are written with
// std::to_chars (shortest form that reads back exactly, no locale); NaN and infinities, which
// JSON cannot express, are written as null. The writer does not check that keys and values
// alternate; the caller writes Key() before each value of an object.
//
//   JsonWriter w;
//   w.BeginObject().Key("name").String("web").Key("up").Bool(true);
//   w.Key("backends").BeginArray().Int(1).Int(2).EndArray().EndObject();
//   std::string body = w.Take();  // {"name":"web","up":true,"backends":[1,2]}
#ifndef RINGWAY_ADMIN_JSON_H_
#define RINGWAY_ADMIN_JSON_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringway::admin {

class JsonWriter {
 public:
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(std::string_view k);

  JsonWriter& String(std::string_view v);
  JsonWriter& Int(int64_t v);
  JsonWriter& Uint(uint64_t v);
  JsonWriter& Double(double v);
  JsonWriter& Bool(bool v);
  JsonWriter& Null();
  // A value that is already JSON (written as is; the caller vouches for it).
  JsonWriter& Raw(std::string_view json);

  const std::string& str() const { return out_; }
  // Hands the text over and leaves the writer empty, ready for a new document.
  std::string Take();

 private:
  // Writes the comma a value needs, if any, before it.
  void BeforeValue();

  std::string out_;
  // One entry per open container: whether it holds an element yet.
  std::vector<bool> has_element_;
  bool after_key_ = false;  // the next value is a key's value: no comma
};

// Length of the well-formed UTF-8 sequence starting at s[i] (Unicode table 3-7: no overlong
// forms, surrogates or code points past U+10FFFF), 0 if none does. s[i] is a byte of 0x80 or
// more. The writer escapes what fails it; the reader (json_reader.h) refuses it.
size_t Utf8Length(std::string_view s, size_t i);

// Appends `s` as a quoted, escaped JSON string.
void AppendJsonString(std::string* out, std::string_view s);

// {"error":"...","hint":"..."}: the body of every error the admin server makes itself.
std::string JsonError(std::string_view error, std::string_view hint);

}  // namespace ringway::admin

#endif  // RINGWAY_ADMIN_JSON_H_
