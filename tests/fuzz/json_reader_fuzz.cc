// Fuzz target for the strict JSON reader (admin/json_reader.h), which reads the admin API's
// request bodies and the state file: text from outside the process.
// Invariants checked (trap on violation):
//  - no crash, no sanitizer report, no stack exhaustion on deep nesting (libFuzzer and ASan
//    see to the first two; the depth limit to the third)
//  - a text that parses, written back with JsonWriter (admin/json.h), parses again into the
//    same tree and writes the same text: the writer's output is a fixed point of the reader
//  - a refusal reads "line L, column C: ...", and L and C point inside the text or just past
//    its end
//  - the limits only take away: a text that parses under small limits parses under the
//    defaults into the same tree, and a text that parses under the defaults parses under small
//    limits exactly when its depth and value count fit them
//  - every number's text matches RFC 8259's grammar, and GetUint64 reads it exactly when it is
//    the decimal form of a uint64_t
//  - every key of an object is found by Find, at its own member (keys are unique)
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "admin/json.h"
#include "admin/json_reader.h"

namespace {

using ringway::admin::JsonLimits;
using ringway::admin::JsonValue;
using ringway::admin::JsonWriter;
using ringway::admin::ParseJson;

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

// Writes a parsed tree back as JSON: strings through the writer's escaping, numbers as written.
void Write(const JsonValue& v, JsonWriter* w) {
  switch (v.type()) {
    case JsonValue::Type::kNull:
      w->Null();
      return;
    case JsonValue::Type::kBool: {
      bool b = false;
      Check(v.GetBool(&b));
      w->Bool(b);
      return;
    }
    case JsonValue::Type::kNumber:
      w->Raw(v.number_text());
      return;
    case JsonValue::Type::kString: {
      std::string_view s;
      Check(v.GetString(&s));
      w->String(s);
      return;
    }
    case JsonValue::Type::kArray:
      w->BeginArray();
      for (size_t i = 0; i < v.size(); ++i) Write(v[i], w);
      w->EndArray();
      return;
    case JsonValue::Type::kObject:
      w->BeginObject();
      for (size_t i = 0; i < v.size(); ++i) {
        w->Key(v.key(i));
        Write(v[i], w);
      }
      w->EndObject();
      return;
  }
  Check(false);  // a type outside the enum
}

std::string Serialise(const JsonValue& v) {
  JsonWriter w;
  Write(v, &w);
  return w.Take();
}

bool SameTree(const JsonValue& a, const JsonValue& b) {
  if (a.type() != b.type() || a.size() != b.size()) return false;
  switch (a.type()) {
    case JsonValue::Type::kNull:
      return true;
    case JsonValue::Type::kBool: {
      bool x = false, y = false;
      return a.GetBool(&x) && b.GetBool(&y) && x == y;
    }
    case JsonValue::Type::kNumber:
      return a.number_text() == b.number_text();
    case JsonValue::Type::kString: {
      std::string_view x, y;
      return a.GetString(&x) && b.GetString(&y) && x == y;
    }
    case JsonValue::Type::kArray:
    case JsonValue::Type::kObject:
      for (size_t i = 0; i < a.size(); ++i) {
        if (a.is_object() && a.key(i) != b.key(i)) return false;
        if (!SameTree(a[i], b[i])) return false;
      }
      return true;
  }
  return false;
}

// The tree's nesting depth (as JsonLimits::depth counts it) and its number of values.
void Measure(const JsonValue& v, int depth, int* max_depth, size_t* values) {
  ++*values;
  if (!v.is_array() && !v.is_object()) return;
  ++depth;
  if (depth > *max_depth) *max_depth = depth;
  for (size_t i = 0; i < v.size(); ++i) Measure(v[i], depth, max_depth, values);
}

// RFC 8259: [ "-" ] ( "0" / 1-9 *DIGIT ) [ "." 1*DIGIT ] [ ( "e" / "E" ) [ "+" / "-" ] 1*DIGIT ]
bool IsJsonNumber(std::string_view t) {
  size_t i = 0;
  auto digits = [&] {
    const size_t from = i;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
    return i - from;
  };
  if (i < t.size() && t[i] == '-') ++i;
  if (i < t.size() && t[i] == '0') {
    ++i;
  } else if (i >= t.size() || t[i] < '1' || t[i] > '9' || digits() == 0) {
    return false;
  }
  if (i < t.size() && t[i] == '.') {
    ++i;
    if (digits() == 0) return false;
  }
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
    if (digits() == 0) return false;
  }
  return i == t.size();
}

// Checks a value's own invariants, and those of every value inside it.
void CheckValue(const JsonValue& v) {
  uint64_t u = 0;
  if (v.GetUint64(&u)) {
    Check(v.type() == JsonValue::Type::kNumber);
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), u);
    Check(ec == std::errc());
    Check(v.number_text() == std::string_view(buf, end - buf));
  } else if (v.type() == JsonValue::Type::kNumber) {
    const std::string_view t = v.number_text();
    bool digits = !t.empty();
    for (char c : t) digits = digits && c >= '0' && c <= '9';
    // Plain digits are refused only past 2^64-1.
    Check(!digits || t.size() > 20 || (t.size() == 20 && t > "18446744073709551615"));
  }
  if (v.type() == JsonValue::Type::kNumber) {
    Check(IsJsonNumber(v.number_text()));
  } else {
    Check(v.number_text().empty());
  }
  if (v.is_object()) {
    for (size_t i = 0; i < v.size(); ++i) Check(v.Find(v.key(i)) == &v[i]);
  } else {
    Check(v.Find("") == nullptr);
  }
  for (size_t i = 0; i < v.size(); ++i) CheckValue(v[i]);
}

// A refusal's message is "line L, column C: what", with L and C inside the text or just past
// its end.
void CheckError(std::string_view text, std::string_view message) {
  Check(message.substr(0, 5) == "line ");
  const size_t comma = message.find(", column ");
  Check(comma != std::string_view::npos);
  const size_t colon = message.find(": ", comma);
  Check(colon != std::string_view::npos && colon + 2 < message.size());
  size_t line = 0, column = 0;
  auto r1 = std::from_chars(message.data() + 5, message.data() + comma, line);
  Check(r1.ec == std::errc() && r1.ptr == message.data() + comma && line >= 1);
  auto r2 = std::from_chars(message.data() + comma + 9, message.data() + colon, column);
  Check(r2.ec == std::errc() && r2.ptr == message.data() + colon && column >= 1);
  size_t start = 0;  // where line `line` starts
  for (size_t l = 1; l < line; ++l) {
    const size_t nl = text.find('\n', start);
    Check(nl != std::string_view::npos);
    start = nl + 1;
  }
  const size_t at = start + column - 1;
  Check(at <= text.size());
  const size_t nl = text.find('\n', start);
  Check(nl == std::string_view::npos || at <= nl);  // the column is on that line
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  JsonLimits small;
  small.depth = 3;
  small.values = 24;

  absl::StatusOr<JsonValue> doc = ParseJson(text);
  absl::StatusOr<JsonValue> limited = ParseJson(text, small);
  if (!limited.ok()) CheckError(text, std::string(limited.status().message()));
  if (!doc.ok()) {
    CheckError(text, std::string(doc.status().message()));
    Check(!limited.ok());  // small limits never accept more
    return 0;
  }

  CheckValue(*doc);
  int depth = 0;
  size_t values = 0;
  Measure(*doc, 0, &depth, &values);
  Check(depth <= JsonLimits().depth);
  Check(limited.ok() == (depth <= small.depth && values <= small.values));
  if (limited.ok()) Check(SameTree(*doc, *limited));

  // The writer's text is read back into the same tree and written the same way again.
  const std::string once = Serialise(*doc);
  absl::StatusOr<JsonValue> again = ParseJson(once);
  Check(again.ok());
  Check(SameTree(*doc, *again));
  Check(Serialise(*again) == once);
  // It parses under the small limits exactly when the original text did.
  Check(ParseJson(once, small).ok() == limited.ok());
  return 0;
}
