// The strict JSON reader (admin/json_reader.h): every value type and the typed reads, the number
// and string grammars (escapes, surrogates, UTF-8), what the reader refuses and where its errors
// point, duplicate keys, the byte order mark, the depth and value limits, whitespace, and a
// round trip through the JSON writer (admin/json.h).
#include "admin/json_reader.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "admin/json.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ringway::admin {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// The text with its bytes escaped, for failure messages.
std::string Printable(std::string_view text) {
  return absl::CHexEscape(absl::string_view(text.data(), text.size()));
}

// Parses a text that must be accepted; a refusal fails the test and gives a null value.
JsonValue Accepted(std::string_view text, JsonLimits limits = {}) {
  absl::StatusOr<JsonValue> doc = ParseJson(text, limits);
  EXPECT_TRUE(doc.ok()) << Printable(text) << ": " << doc.status();
  return doc.ok() ? *std::move(doc) : JsonValue();
}

// The error message for a text that must be refused ("" if it parsed, which fails the test).
std::string Refused(std::string_view text, JsonLimits limits = {}) {
  absl::StatusOr<JsonValue> doc = ParseJson(text, limits);
  EXPECT_FALSE(doc.ok()) << "accepted: " << Printable(text);
  if (doc.ok()) return "";
  EXPECT_EQ(doc.status().code(), absl::StatusCode::kInvalidArgument) << Printable(text);
  std::string message(doc.status().message());
  EXPECT_THAT(message, StartsWith("line ")) << Printable(text);
  return message;
}

// The decoded string of a text that is one JSON string.
std::string DecodedString(std::string_view text) {
  JsonValue v = Accepted(text);
  std::string_view s;
  EXPECT_TRUE(v.GetString(&s)) << Printable(text);
  return std::string(s);
}

// A text of `n` arrays nested inside one another: [[...]].
std::string NestedArrays(size_t n) { return std::string(n, '[') + std::string(n, ']'); }

// --- Value types and typed reads ---

TEST(JsonReaderTest, ObjectKeepsMembersInDocumentOrder) {
  JsonValue doc = Accepted(R"({"zeta":1,"alpha":"two","mid":true,"":null})");
  ASSERT_TRUE(doc.is_object());
  EXPECT_FALSE(doc.is_array());
  EXPECT_EQ(doc.type(), JsonValue::Type::kObject);
  ASSERT_EQ(doc.size(), 4u);
  EXPECT_EQ(doc.key(0), "zeta");
  EXPECT_EQ(doc.key(1), "alpha");
  EXPECT_EQ(doc.key(2), "mid");
  EXPECT_EQ(doc.key(3), "");
  EXPECT_EQ(doc[0].number_text(), "1");
  std::string_view s;
  ASSERT_TRUE(doc[1].GetString(&s));
  EXPECT_EQ(s, "two");
  bool b = false;
  ASSERT_TRUE(doc[2].GetBool(&b));
  EXPECT_TRUE(b);
  EXPECT_EQ(doc[3].type(), JsonValue::Type::kNull);
}

TEST(JsonReaderTest, FindPresentAbsentAndOnNonObjects) {
  JsonValue doc = Accepted(R"({"a":1,"b":{"c":"d"},"list":["a"]})");
  const JsonValue* a = doc.Find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a, &doc[0]);
  EXPECT_EQ(a->number_text(), "1");
  const JsonValue* b = doc.Find("b");
  ASSERT_NE(b, nullptr);
  const JsonValue* c = b->Find("c");
  ASSERT_NE(c, nullptr);
  std::string_view s;
  ASSERT_TRUE(c->GetString(&s));
  EXPECT_EQ(s, "d");
  EXPECT_EQ(doc.Find("missing"), nullptr);
  EXPECT_EQ(doc.Find("A"), nullptr);  // keys are compared exactly
  EXPECT_EQ(doc.Find("c"), nullptr);  // only the object's own members
  EXPECT_EQ(doc.Find(""), nullptr);
  // Not an object: nullptr, even where an element is a string equal to the key.
  const JsonValue* list = doc.Find("list");
  ASSERT_NE(list, nullptr);
  EXPECT_EQ(list->Find("a"), nullptr);
  EXPECT_EQ(a->Find("a"), nullptr);
  EXPECT_EQ(Accepted(R"("a")").Find("a"), nullptr);
  EXPECT_EQ(Accepted("null").Find("a"), nullptr);
}

TEST(JsonReaderTest, EmptyObjectAndArray) {
  JsonValue obj = Accepted("{}");
  EXPECT_TRUE(obj.is_object());
  EXPECT_EQ(obj.size(), 0u);
  EXPECT_EQ(obj.Find(""), nullptr);
  JsonValue arr = Accepted("[]");
  EXPECT_TRUE(arr.is_array());
  EXPECT_FALSE(arr.is_object());
  EXPECT_EQ(arr.size(), 0u);
  EXPECT_TRUE(Accepted("{ }").is_object());
  EXPECT_TRUE(Accepted("[ \n ]").is_array());
}

TEST(JsonReaderTest, ArraysHoldEveryTypeInOrder) {
  JsonValue doc = Accepted(R"([1, "s", true, false, null, [2], {"k": 3}, -4.5e1])");
  ASSERT_TRUE(doc.is_array());
  ASSERT_EQ(doc.size(), 8u);
  EXPECT_EQ(doc[0].type(), JsonValue::Type::kNumber);
  EXPECT_EQ(doc[1].type(), JsonValue::Type::kString);
  EXPECT_EQ(doc[2].type(), JsonValue::Type::kBool);
  EXPECT_EQ(doc[3].type(), JsonValue::Type::kBool);
  EXPECT_EQ(doc[4].type(), JsonValue::Type::kNull);
  EXPECT_EQ(doc[5].type(), JsonValue::Type::kArray);
  EXPECT_EQ(doc[6].type(), JsonValue::Type::kObject);
  EXPECT_EQ(doc[7].type(), JsonValue::Type::kNumber);
  bool t = false, f = true;
  ASSERT_TRUE(doc[2].GetBool(&t));
  ASSERT_TRUE(doc[3].GetBool(&f));
  EXPECT_TRUE(t);
  EXPECT_FALSE(f);
  ASSERT_EQ(doc[5].size(), 1u);
  EXPECT_EQ(doc[5][0].number_text(), "2");
  ASSERT_NE(doc[6].Find("k"), nullptr);
  EXPECT_EQ(doc[6].Find("k")->number_text(), "3");
  EXPECT_EQ(doc[7].number_text(), "-4.5e1");
}

TEST(JsonReaderTest, NestedDocument) {
  JsonValue doc = Accepted(R"({
    "upstreams": [
      {"name": "web", "backends": [{"address": "127.0.0.1:3001", "weight": 5}]},
      {"name": "api", "backends": []}
    ],
    "drain": {"web-1": {"until": 1700000000}}
  })");
  const JsonValue* ups = doc.Find("upstreams");
  ASSERT_NE(ups, nullptr);
  ASSERT_TRUE(ups->is_array());
  ASSERT_EQ(ups->size(), 2u);
  std::string_view name;
  ASSERT_NE((*ups)[1].Find("name"), nullptr);
  ASSERT_TRUE((*ups)[1].Find("name")->GetString(&name));
  EXPECT_EQ(name, "api");
  const JsonValue* backends = (*ups)[0].Find("backends");
  ASSERT_NE(backends, nullptr);
  ASSERT_EQ(backends->size(), 1u);
  uint64_t weight = 0;
  ASSERT_NE((*backends)[0].Find("weight"), nullptr);
  ASSERT_TRUE((*backends)[0].Find("weight")->GetUint64(&weight));
  EXPECT_EQ(weight, 5u);
  EXPECT_EQ((*ups)[1].Find("backends")->size(), 0u);
  const JsonValue* until = doc.Find("drain")->Find("web-1")->Find("until");
  ASSERT_NE(until, nullptr);
  uint64_t u = 0;
  ASSERT_TRUE(until->GetUint64(&u));
  EXPECT_EQ(u, 1700000000u);
}

TEST(JsonReaderTest, TopLevelScalars) {
  EXPECT_EQ(Accepted("null").type(), JsonValue::Type::kNull);
  EXPECT_EQ(Accepted("true").type(), JsonValue::Type::kBool);
  EXPECT_EQ(Accepted("false").type(), JsonValue::Type::kBool);
  EXPECT_EQ(Accepted("7").number_text(), "7");
  EXPECT_EQ(DecodedString(R"("text")"), "text");
  EXPECT_EQ(DecodedString(R"("")"), "");
  EXPECT_EQ(Accepted("  42  ").number_text(), "42");
}

TEST(JsonReaderTest, TypedReadsRefuseOtherTypesAndLeaveOutputUntouched) {
  JsonValue doc = Accepted(R"([null, true, 12, "s", [], {}])");
  ASSERT_EQ(doc.size(), 6u);
  for (size_t i = 0; i < doc.size(); ++i) {
    SCOPED_TRACE(i);
    const JsonValue& v = doc[i];
    bool b = true;
    std::string_view s = "untouched";
    uint64_t u = 77;
    if (v.type() != JsonValue::Type::kBool) {
      EXPECT_FALSE(v.GetBool(&b));
      EXPECT_TRUE(b);
    }
    if (v.type() != JsonValue::Type::kString) {
      EXPECT_FALSE(v.GetString(&s));
      EXPECT_EQ(s, "untouched");
    }
    if (v.type() != JsonValue::Type::kNumber) {
      EXPECT_FALSE(v.GetUint64(&u));
      EXPECT_EQ(u, 77u);
      EXPECT_EQ(v.number_text(), "");
    }
  }
  // A string of digits is a string, not a number.
  uint64_t u = 77;
  EXPECT_FALSE(Accepted(R"("12")").GetUint64(&u));
  EXPECT_EQ(u, 77u);
  // A default value is null.
  JsonValue none;
  EXPECT_EQ(none.type(), JsonValue::Type::kNull);
  EXPECT_EQ(none.size(), 0u);
  bool b = true;
  EXPECT_FALSE(none.GetBool(&b));
}

TEST(JsonReaderTest, ScalarsHaveNoElements) {
  for (std::string_view text : {"1", "\"abc\"", "true", "null"}) {
    SCOPED_TRACE(text);
    EXPECT_EQ(Accepted(text).size(), 0u);
  }
}

// --- Numbers ---

TEST(JsonReaderTest, GetUint64ReadsWholeNumbers) {
  uint64_t u = 1;
  ASSERT_TRUE(Accepted("0").GetUint64(&u));
  EXPECT_EQ(u, 0u);
  ASSERT_TRUE(Accepted("18446744073709551615").GetUint64(&u));
  EXPECT_EQ(u, UINT64_MAX);
  ASSERT_TRUE(Accepted("1234567890").GetUint64(&u));
  EXPECT_EQ(u, 1234567890u);
}

TEST(JsonReaderTest, GetUint64RefusesNumbersThatAreNotPlainWholeNumbers) {
  for (std::string_view text : {"18446744073709551616", "99999999999999999999999", "-1", "-0",
                                "1.0", "0.5", "1e2", "1E2", "1e+2", "1e-2", "-5.5E10"}) {
    SCOPED_TRACE(text);
    JsonValue v = Accepted(text);
    EXPECT_EQ(v.type(), JsonValue::Type::kNumber);
    EXPECT_EQ(v.number_text(), text);  // the text as written
    uint64_t u = 77;
    EXPECT_FALSE(v.GetUint64(&u));
    EXPECT_EQ(u, 77u);
  }
}

TEST(JsonReaderTest, NumberTextKeepsTheTextAsWritten) {
  for (std::string_view text : {"0", "-0", "0.0", "1.50", "-12.5e+07", "3E-2", "1e0", "2.0E00",
                                "123456789012345678901234567890", "-0.000001"}) {
    SCOPED_TRACE(text);
    EXPECT_EQ(Accepted(text).number_text(), text);
  }
  JsonValue doc = Accepted("[ 1.10 , -0 ]");
  ASSERT_EQ(doc.size(), 2u);
  EXPECT_EQ(doc[0].number_text(), "1.10");
  EXPECT_EQ(doc[1].number_text(), "-0");
}

TEST(JsonReaderTest, NumberGrammarRefusals) {
  EXPECT_EQ(Refused("01"),
            "line 1, column 2: a number may not start with 0 (leading zeros are not JSON)");
  EXPECT_THAT(Refused("-01"), HasSubstr("leading zeros"));
  EXPECT_THAT(Refused("[00]"), HasSubstr("leading zeros"));
  EXPECT_EQ(Refused("-"), "line 1, column 2: '-' must be followed by digits");
  EXPECT_THAT(Refused("- 1"), HasSubstr("'-' must be followed by digits"));
  EXPECT_THAT(Refused("-a"), HasSubstr("'-' must be followed by digits"));
  EXPECT_THAT(Refused("+1"), HasSubstr("not a JSON value"));
  EXPECT_THAT(Refused(".5"), HasSubstr("not a JSON value"));
  EXPECT_EQ(Refused("1."), "line 1, column 3: a number's '.' must be followed by digits");
  EXPECT_THAT(Refused("1.e5"), HasSubstr("'.' must be followed by digits"));
  EXPECT_EQ(Refused("1e"), "line 1, column 3: a number's exponent must have digits");
  EXPECT_EQ(Refused("1e+"), "line 1, column 4: a number's exponent must have digits");
  EXPECT_THAT(Refused("1E-"), HasSubstr("exponent must have digits"));
  EXPECT_THAT(Refused("1e++1"), HasSubstr("exponent must have digits"));
  EXPECT_THAT(Refused("NaN"), HasSubstr("not a JSON value"));
  EXPECT_THAT(Refused("Infinity"), HasSubstr("not a JSON value"));
  EXPECT_THAT(Refused("-Infinity"), HasSubstr("'-' must be followed by digits"));
  EXPECT_EQ(Refused("0x10"), "line 1, column 2: unexpected text after the JSON value");
  EXPECT_THAT(Refused("1.5.5"), HasSubstr("unexpected text after the JSON value"));
  EXPECT_THAT(Refused("[1x]"), HasSubstr("expected ',' or ']'"));
}

// --- Strings ---

TEST(JsonReaderTest, EveryEscape) {
  EXPECT_EQ(DecodedString(R"("\"\\\/\b\f\n\r\t")"), "\"\\/\b\f\n\r\t");
  EXPECT_EQ(DecodedString(R"("a\nb")"), "a\nb");
  EXPECT_EQ(DecodedString(R"("\u0041")"), "A");
  EXPECT_EQ(DecodedString(R"("\u00e9")"), "\xC3\xA9");
  EXPECT_EQ(DecodedString(R"("\u00E9")"), "\xC3\xA9");  // hex digits of either case
  EXPECT_EQ(DecodedString(R"("\u07FF\u0800")"), "\xDF\xBF\xE0\xA0\x80");
  EXPECT_EQ(DecodedString(R"("\u20ac")"), "\xE2\x82\xAC");
  EXPECT_EQ(DecodedString(R"("\uffff")"), "\xEF\xBF\xBF");
  EXPECT_EQ(DecodedString(R"("\ud83d\ude00")"), "\xF0\x9F\x98\x80");
  EXPECT_EQ(DecodedString(R"("\uD800\uDC00")"), "\xF0\x90\x80\x80");  // U+10000
  EXPECT_EQ(DecodedString(R"("\udbff\udfff")"), "\xF4\x8F\xBF\xBF");  // U+10FFFF
  EXPECT_EQ(DecodedString(R"("x\u0020y")"), "x y");
}

TEST(JsonReaderTest, EscapedNulIsAByteOfTheString) {
  const std::string s = DecodedString(R"("a\u0000b")");
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s, std::string("a\0b", 3));
  JsonValue doc = Accepted(R"({"k\u0000":"\u0000"})");
  ASSERT_EQ(doc.size(), 1u);
  EXPECT_EQ(doc.key(0), std::string_view("k\0", 2));
  EXPECT_EQ(doc.Find("k"), nullptr);
  EXPECT_NE(doc.Find(std::string_view("k\0", 2)), nullptr);
}

TEST(JsonReaderTest, EscapesInKeys) {
  JsonValue doc = Accepted(R"({"a\"b":1,"\u00e9":2,"\ud83d\ude00":3})");
  ASSERT_EQ(doc.size(), 3u);
  EXPECT_EQ(doc.key(0), "a\"b");
  EXPECT_EQ(doc.key(1), "\xC3\xA9");
  EXPECT_EQ(doc.key(2), "\xF0\x9F\x98\x80");
  EXPECT_NE(doc.Find("\xC3\xA9"), nullptr);
}

TEST(JsonReaderTest, SurrogateEscapeRefusals) {
  EXPECT_EQ(Refused(R"("\udc00")"),
            "line 1, column 2: a \\u escape is a low surrogate without a high one before it");
  EXPECT_THAT(Refused(R"("\uDFFF")"), HasSubstr("low surrogate without a high one"));
  EXPECT_THAT(Refused(R"("ab\ude00\ud83d")"), HasSubstr("low surrogate without a high one"));
  // A high surrogate at the end of the string, before another escape or text, or before a
  // \u escape that is not a low surrogate.
  EXPECT_EQ(Refused(R"("\ud800")"),
            "line 1, column 8: a \\u escape of a high surrogate must be followed by a low one");
  EXPECT_THAT(Refused(R"("\ud800x")"), HasSubstr("must be followed by a low one"));
  EXPECT_THAT(Refused(R"("\ud800\n")"), HasSubstr("must be followed by a low one"));
  EXPECT_EQ(Refused(R"("\ud800\u0041")"),
            "line 1, column 8: a \\u escape of a high surrogate must be followed by a low one");
  EXPECT_THAT(Refused(R"("\ud800\ud800")"), HasSubstr("must be followed by a low one"));
  EXPECT_THAT(Refused(R"("\udbff\ue000")"), HasSubstr("must be followed by a low one"));
  EXPECT_THAT(Refused(R"("\ud800\u12")"), HasSubstr("four hex digits"));
  EXPECT_THAT(Refused(R"("\ud800)"), HasSubstr("must be followed by a low one"));
}

TEST(JsonReaderTest, EscapeRefusals) {
  EXPECT_EQ(Refused(R"("\x41")"),
            "line 1, column 3: unknown escape in a string (use \\\" \\\\ \\/ \\b \\f \\n \\r \\t "
            "\\uXXXX)");
  for (std::string_view text : {R"("\a")", R"("\U0041")", R"("\0")", R"("\')", R"("\ ")"}) {
    SCOPED_TRACE(text);
    EXPECT_THAT(Refused(text), HasSubstr("unknown escape"));
  }
  EXPECT_EQ(Refused(R"("\u12")"), "line 1, column 6: \\u must be followed by four hex digits");
  EXPECT_THAT(Refused(R"("\u12G4")"), HasSubstr("four hex digits"));
  EXPECT_THAT(Refused(R"("\u")"), HasSubstr("four hex digits"));
  EXPECT_THAT(Refused(R"("\u-123")"), HasSubstr("four hex digits"));
  EXPECT_THAT(Refused(R"("\u00)"), HasSubstr("four hex digits"));  // the text ends
}

TEST(JsonReaderTest, RawControlBytesInStringsAreRefused) {
  EXPECT_EQ(Refused("\"a\x01\""),
            "line 1, column 3: a control character in a string must be escaped (\\n, \\t, "
            "\\u00XX)");
  EXPECT_THAT(Refused("\"a\nb\""), HasSubstr("control character"));
  EXPECT_THAT(Refused("\"a\tb\""), HasSubstr("control character"));
  EXPECT_THAT(Refused("\"a\rb\""), HasSubstr("control character"));
  EXPECT_THAT(Refused(std::string("\"a\0b\"", 5)), HasSubstr("control character"));
  EXPECT_THAT(Refused("\"\x1f\""), HasSubstr("control character"));
  EXPECT_THAT(Refused("{\"k\x02\":1}"), HasSubstr("control character"));
  // DEL (0x7F) is not a control character in JSON's sense.
  EXPECT_EQ(DecodedString("\"\x7f\""), "\x7f");
}

TEST(JsonReaderTest, UnterminatedStrings) {
  EXPECT_EQ(Refused("\"abc"), "line 1, column 5: a string is not closed (missing '\"')");
  EXPECT_THAT(Refused("\""), HasSubstr("not closed (missing '\"')"));
  EXPECT_THAT(Refused("\"abc\\"), HasSubstr("not closed (missing '\"')"));
  EXPECT_THAT(Refused("\"abc\\\""), HasSubstr("not closed (missing '\"')"));
  EXPECT_THAT(Refused("[\"abc]"), HasSubstr("not closed (missing '\"')"));
  EXPECT_THAT(Refused("{\"abc"), HasSubstr("not closed (missing '\"')"));
}

// --- UTF-8 ---

TEST(JsonReaderTest, WellFormedUtf8InStrings) {
  EXPECT_EQ(DecodedString("\"\xC3\xA9\""), "\xC3\xA9");                  // é, 2 bytes
  EXPECT_EQ(DecodedString("\"\xE2\x82\xAC\""), "\xE2\x82\xAC");          // €, 3 bytes
  EXPECT_EQ(DecodedString("\"\xF0\x9F\x98\x80\""), "\xF0\x9F\x98\x80");  // U+1F600, 4 bytes
  EXPECT_EQ(DecodedString("\"\xF4\x8F\xBF\xBF\""), "\xF4\x8F\xBF\xBF");  // U+10FFFF
  // The edges of each range: U+0080, U+07FF, U+0800, U+D7FF, U+E000, U+FFFF, U+10000.
  const std::string edges =
      "\xC2\x80\xDF\xBF\xE0\xA0\x80\xED\x9F\xBF\xEE\x80\x80\xEF\xBF\xBF\xF0\x90\x80\x80";
  EXPECT_EQ(DecodedString("\"" + edges + "\""), edges);
  EXPECT_EQ(DecodedString("\"a\xC3\xA9z\xE2\x82\xAC\""), "a\xC3\xA9z\xE2\x82\xAC");
  // A byte order mark inside a string is a character like any other.
  EXPECT_EQ(DecodedString("\"\xEF\xBB\xBF\""), "\xEF\xBB\xBF");
  JsonValue doc = Accepted("{\"\xC3\xA9t\xC3\xA9\":\"\xE2\x82\xAC\"}");
  ASSERT_EQ(doc.size(), 1u);
  EXPECT_EQ(doc.key(0), "\xC3\xA9t\xC3\xA9");
}

TEST(JsonReaderTest, IllFormedUtf8InStringsIsRefused) {
  const std::vector<std::string> bad = {
      "\"\x80\"",              // a stray continuation byte
      "\"a\xBF\"",             // another
      "\"\xC0\xAF\"",          // overlong '/', 2 bytes
      "\"\xC1\xBF\"",          // overlong, 2 bytes
      "\"\xE0\x80\xAF\"",      // overlong '/', 3 bytes
      "\"\xE0\x9F\xBF\"",      // overlong U+07FF
      "\"\xF0\x8F\xBF\xBF\"",  // overlong U+FFFF
      "\"\xED\xA0\x80\"",      // the surrogate U+D800, encoded
      "\"\xED\xBF\xBF\"",      // the surrogate U+DFFF, encoded
      "\"\xF4\x90\x80\x80\"",  // U+110000, past U+10FFFF
      "\"\xF5\x80\x80\x80\"",  // F5 never appears
      "\"\xFF\"",              // nor FF
      "\"\xC3\"",              // truncated before the closing quote
      "\"\xE2\x82\"",          // truncated before the closing quote
      "\"\xF0\x9F\x98\"",      // truncated before the closing quote
      "\"\xE2\x82x\"",         // truncated before an ASCII byte
      "\"\xC3\xA9\xC3\"",      // a good sequence, then a truncated one
      "\"\xC3\xC3\xA9\"",      // a lead byte followed by another lead byte
      "{\"\xFF\":1}",          // in a key
  };
  for (const std::string& text : bad) {
    SCOPED_TRACE(Printable(text));
    EXPECT_THAT(Refused(text), HasSubstr("a string holds bytes that are not UTF-8"));
  }
  EXPECT_EQ(Refused("\"ab\x80\""), "line 1, column 4: a string holds bytes that are not UTF-8");
}

TEST(JsonReaderTest, TruncatedUtf8AtTheEndOfTheText) {
  for (std::string_view text : {"\"\xC3", "\"\xE2\x82", "\"\xF0\x9F\x98", "[\"\xF4\x8F\xBF"}) {
    SCOPED_TRACE(Printable(text));
    EXPECT_THAT(Refused(text), HasSubstr("not UTF-8"));
  }
}

TEST(JsonReaderTest, NonAsciiOutsideAStringIsRefused) {
  EXPECT_EQ(Refused("\xC3\xA9"),
            "line 1, column 1: not a JSON value (strings need double quotes; true, false and "
            "null are lower-case)");
  EXPECT_THAT(Refused("[1,\xC3\xA9]"), HasSubstr("not a JSON value"));
  EXPECT_THAT(Refused("{\"a\":\x80}"), HasSubstr("not a JSON value"));
  EXPECT_THAT(Refused("[1\xC2\xA0]"), HasSubstr("expected ',' or ']'"));  // no-break space
  EXPECT_THAT(Refused("{\xC3\xA9:1}"), HasSubstr("expected a key in double quotes"));
  EXPECT_THAT(Refused("1\xFF"), HasSubstr("unexpected text after the JSON value"));
}

// --- Structure ---

TEST(JsonReaderTest, EmptyTextIsRefused) {
  EXPECT_EQ(Refused(""), "line 1, column 1: the text is empty; send a JSON value such as {}");
  EXPECT_THAT(Refused("   "), HasSubstr("the text is empty"));
  EXPECT_EQ(Refused(" \n\t\r\n "),
            "line 3, column 2: the text is empty; send a JSON value such as {}");
}

TEST(JsonReaderTest, TrailingCommasAreRefused) {
  EXPECT_EQ(Refused("[1,]"), "line 1, column 4: a trailing ',' before ']'");
  EXPECT_EQ(Refused("[1, ]"), "line 1, column 5: a trailing ',' before ']'");
  EXPECT_EQ(Refused(R"({"a":1,})"), "line 1, column 8: a trailing ',' before '}'");
  EXPECT_THAT(Refused("{\"a\":1,\n}"), HasSubstr("a trailing ',' before '}'"));
  EXPECT_THAT(Refused("[[],]"), HasSubstr("a trailing ','"));
}

TEST(JsonReaderTest, MissingPunctuationIsRefused) {
  EXPECT_EQ(Refused(R"({"a" 1})"), "line 1, column 6: expected ':' after a key");
  EXPECT_THAT(Refused(R"({"a"})"), HasSubstr("expected ':' after a key"));
  EXPECT_THAT(Refused(R"({"a")"), HasSubstr("expected ':' after a key"));
  EXPECT_THAT(Refused(R"({"a"=1})"), HasSubstr("expected ':' after a key"));
  EXPECT_EQ(Refused("[1 2]"), "line 1, column 4: expected ',' or ']' after a list's element");
  EXPECT_THAT(Refused(R"({"a":1 "b":2})"), HasSubstr("expected ',' or '}' after a member"));
  EXPECT_THAT(Refused(R"({"a":1;"b":2})"), HasSubstr("expected ',' or '}' after a member"));
  EXPECT_THAT(Refused("[1;2]"), HasSubstr("expected ',' or ']'"));
  EXPECT_THAT(Refused("[1}"), HasSubstr("expected ',' or ']'"));
  EXPECT_THAT(Refused(R"({"a":1])"), HasSubstr("expected ',' or '}'"));
}

TEST(JsonReaderTest, MisplacedPunctuationIsRefused) {
  EXPECT_EQ(Refused("[,1]"), "line 1, column 2: ',' where a value should be");
  EXPECT_THAT(Refused("[1,,2]"), HasSubstr("',' where a value should be"));
  EXPECT_THAT(Refused("]"), HasSubstr("']' where a value should be"));
  EXPECT_THAT(Refused("}"), HasSubstr("'}' where a value should be"));
  EXPECT_THAT(Refused(R"({"a":})"), HasSubstr("'}' where a value should be"));
  EXPECT_THAT(Refused(R"({"a":,"b":1})"), HasSubstr("',' where a value should be"));
  EXPECT_THAT(Refused("{,}"), HasSubstr("expected a key in double quotes"));
  EXPECT_THAT(Refused(":"), HasSubstr("not a JSON value"));
}

TEST(JsonReaderTest, KeysMustBeDoubleQuotedStrings) {
  EXPECT_EQ(Refused("{a:1}"), "line 1, column 2: expected a key in double quotes");
  EXPECT_THAT(Refused("{'a':1}"), HasSubstr("expected a key in double quotes"));
  EXPECT_THAT(Refused("{1:1}"), HasSubstr("expected a key in double quotes"));
  EXPECT_THAT(Refused("{null:1}"), HasSubstr("expected a key in double quotes"));
  EXPECT_THAT(Refused(R"({"a":1,b:2})"), HasSubstr("expected a key in double quotes"));
  EXPECT_THAT(Refused("['a']"), HasSubstr("not a JSON value"));
  EXPECT_THAT(Refused("'a'"), HasSubstr("not a JSON value"));
}

TEST(JsonReaderTest, CommentsAreRefused) {
  EXPECT_THAT(Refused("// note\n{}"), HasSubstr("line 1, column 1: not a JSON value"));
  EXPECT_THAT(Refused("{} // note"), HasSubstr("unexpected text after the JSON value"));
  EXPECT_THAT(Refused("/* note */ {}"), HasSubstr("not a JSON value"));
  EXPECT_THAT(Refused("[1 /* note */]"), HasSubstr("expected ',' or ']'"));
  EXPECT_THAT(Refused("{/* note */}"), HasSubstr("expected a key in double quotes"));
  EXPECT_THAT(Refused("# note\n{}"), HasSubstr("not a JSON value"));
}

TEST(JsonReaderTest, OneValuePerText) {
  EXPECT_EQ(Refused("{} {}"), "line 1, column 4: unexpected text after the JSON value");
  EXPECT_EQ(Refused("1 2"), "line 1, column 3: unexpected text after the JSON value");
  EXPECT_THAT(Refused("[]\n[]"), HasSubstr("line 2, column 1: unexpected text"));
  EXPECT_THAT(Refused("{},"), HasSubstr("unexpected text after the JSON value"));
  EXPECT_THAT(Refused("\"a\"\"b\""), HasSubstr("unexpected text after the JSON value"));
  EXPECT_THAT(Refused("nullnull"), HasSubstr("unexpected text after the JSON value"));
  EXPECT_THAT(Refused("truex"), HasSubstr("unexpected text after the JSON value"));
  EXPECT_THAT(Refused("[]]"), HasSubstr("unexpected text after the JSON value"));
}

TEST(JsonReaderTest, UnclosedContainersAreRefused) {
  EXPECT_EQ(Refused("["), "line 1, column 2: the text ends where a value should be");
  EXPECT_EQ(Refused("[1"), "line 1, column 3: a list is not closed (missing ']')");
  EXPECT_THAT(Refused("[1,"), HasSubstr("the text ends where a value should be"));
  EXPECT_THAT(Refused("[[1]"), HasSubstr("a list is not closed"));
  EXPECT_EQ(Refused("{"), "line 1, column 2: an object is not closed (missing '}')");
  EXPECT_THAT(Refused(R"({"a":1)"), HasSubstr("an object is not closed"));
  EXPECT_THAT(Refused(R"({"a":1,)"), HasSubstr("an object is not closed"));
  EXPECT_THAT(Refused(R"({"a":)"), HasSubstr("the text ends where a value should be"));
  EXPECT_THAT(Refused(R"({"a":[1])"), HasSubstr("an object is not closed"));
}

TEST(JsonReaderTest, BareWordsAreExactAndLowerCase) {
  for (std::string_view text : {"True", "FALSE", "Null", "nul", "tru", "fals", "t", "n", "none",
                                "undefined", "[nul]", "{\"a\":tru}"}) {
    SCOPED_TRACE(text);
    EXPECT_THAT(Refused(text), HasSubstr("not a JSON value"));
  }
  EXPECT_EQ(Refused("nul"),
            "line 1, column 1: not a JSON value (strings need double quotes; true, false and "
            "null are lower-case)");
  EXPECT_THAT(Refused("[1, True]"), HasSubstr("line 1, column 5: not a JSON value"));
}

// --- Duplicate keys ---

TEST(JsonReaderTest, DuplicateKeysAreRefused) {
  EXPECT_EQ(Refused(R"({"a":1,"a":2})"), "line 1, column 8: a key appears twice in one object");
  EXPECT_THAT(Refused(R"({"a":1,"a":1})"), HasSubstr("a key appears twice"));  // even equal values
  EXPECT_THAT(Refused(R"({"a":1,"b":2,"a":3})"), HasSubstr("a key appears twice"));
  EXPECT_THAT(Refused(R"({"":1,"":2})"), HasSubstr("a key appears twice"));
  EXPECT_THAT(Refused(R"({"x":{"a":1,"a":2}})"), HasSubstr("a key appears twice"));
  EXPECT_THAT(Refused(R"([{"a":1},{"b":1,"b":2}])"), HasSubstr("a key appears twice"));
  // Keys are compared once decoded.
  EXPECT_EQ(Refused(R"({"a":1,"\u0061":2})"),
            "line 1, column 8: a key appears twice in one object");
  EXPECT_THAT(Refused("{\"\xC3\xA9\":1,\"\\u00e9\":2}"), HasSubstr("a key appears twice"));
}

TEST(JsonReaderTest, SameKeyInDifferentObjectsIsAccepted) {
  JsonValue doc = Accepted(R"({"a":{"a":1},"b":[{"a":2},{"a":3}],"A":4})");
  ASSERT_EQ(doc.size(), 3u);
  EXPECT_NE(doc.Find("A"), nullptr);
  // Keys that differ only past a NUL byte are different keys.
  EXPECT_EQ(Accepted(R"({"a\u0000b":1,"a\u0000c":2})").size(), 2u);
  EXPECT_EQ(Accepted(R"({"a":1,"a ":2,"ab":3})").size(), 3u);
}

TEST(JsonReaderTest, DuplicateKeyErrorPointsAtTheSecondOccurrence) {
  const std::string text =
      "{\n"
      "  \"a\": 1,\n"
      "  \"b\": {\"c\": true},\n"
      "\t\"a\": 3\n"
      "}\n";
  EXPECT_EQ(Refused(text), "line 4, column 2: a key appears twice in one object");

  // Three of one key: the error points at the second.
  EXPECT_EQ(Refused("{\"k\":1,\n\"k\":2,\n\"k\":3}"),
            "line 2, column 1: a key appears twice in one object");
  // In a nested object, with lines before it.
  EXPECT_EQ(Refused("[\n  {\"x\": 1},\n  {\"y\": 1, \"z\": 2, \"y\": 3}\n]"),
            "line 3, column 20: a key appears twice in one object");
}

TEST(JsonReaderTest, DuplicateKeyFarApartInALargeObject) {
  std::string text = "{";
  for (int i = 0; i < 1000; ++i)
    text += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  // A large object without a duplicate is accepted, members in order.
  JsonValue doc = Accepted(text.substr(0, text.size() - 1) + "}");
  ASSERT_EQ(doc.size(), 1000u);
  EXPECT_EQ(doc.key(0), "k0");
  EXPECT_EQ(doc.key(999), "k999");
  ASSERT_NE(doc.Find("k500"), nullptr);
  EXPECT_EQ(doc.Find("k500")->number_text(), "500");

  const size_t second = text.size();  // where the repeated key starts
  text += "\"k3\":0}";
  EXPECT_EQ(Refused(text),
            "line 1, column " + std::to_string(second + 1) + ": a key appears twice in one object");

  // The first key repeated at the very end, and the last key repeated at the very start.
  std::string first = "{\"k0\":0";
  for (int i = 1; i < 1000; ++i) first += ",\"k" + std::to_string(i) + "\":0";
  EXPECT_THAT(Refused(first + ",\"k0\":1}"), HasSubstr("a key appears twice"));
  EXPECT_THAT(Refused("{\"k999\":1," + first.substr(1) + "}"), HasSubstr("a key appears twice"));
}

TEST(JsonReaderTest, AnEarlierErrorIsReportedBeforeADuplicateKey) {
  // The object is never closed: that is what the reader reports, not the repeated key.
  EXPECT_THAT(Refused(R"({"a":1,"a":2)"), HasSubstr("an object is not closed"));
  EXPECT_THAT(Refused(R"({"a":1,"a":2,"b":x})"), HasSubstr("not a JSON value"));
}

// --- Byte order mark ---

TEST(JsonReaderTest, ByteOrderMarkBeforeTheTextIsSkipped) {
  JsonValue doc = Accepted("\xEF\xBB\xBF{\"a\":1}");
  ASSERT_TRUE(doc.is_object());
  EXPECT_NE(doc.Find("a"), nullptr);
  EXPECT_EQ(Accepted("\xEF\xBB\xBF 7 ").number_text(), "7");
  EXPECT_TRUE(Accepted("\xEF\xBB\xBF\n[]").is_array());
  EXPECT_THAT(Refused("\xEF\xBB\xBF"), HasSubstr("the text is empty"));
  EXPECT_THAT(Refused("\xEF\xBB\xBF  "), HasSubstr("the text is empty"));
}

TEST(JsonReaderTest, ByteOrderMarkElsewhereIsRefused) {
  EXPECT_EQ(Refused(" \xEF\xBB\xBF{}"),
            "line 1, column 2: not a JSON value (strings need double quotes; true, false and "
            "null are lower-case)");
  EXPECT_THAT(Refused("\n\xEF\xBB\xBF{}"), HasSubstr("line 2, column 1: not a JSON value"));
  EXPECT_THAT(Refused("\xEF\xBB\xBF\xEF\xBB\xBF{}"), HasSubstr("not a JSON value"));  // two
  EXPECT_THAT(Refused("{}\xEF\xBB\xBF"), HasSubstr("unexpected text after the JSON value"));
  EXPECT_THAT(Refused("[\xEF\xBB\xBF]"), HasSubstr("not a JSON value"));
  EXPECT_THAT(Refused("\xEF\xBB{}"), HasSubstr("not a JSON value"));  // a partial mark
}

// --- Limits ---

TEST(JsonReaderTest, DepthLimit) {
  JsonLimits limits;
  limits.depth = 3;
  EXPECT_TRUE(Accepted("[[[1]]]", limits).is_array());
  EXPECT_EQ(Refused("[[[[1]]]]", limits), "line 1, column 4: nested more than 3 deep");
  EXPECT_TRUE(Accepted(R"({"a":[{"b":1}]})", limits).is_object());
  EXPECT_THAT(Refused(R"({"a":[{"b":[]}]})", limits), HasSubstr("nested more than 3 deep"));
  EXPECT_THAT(Refused(R"({"a":[{"b":{}}]})", limits), HasSubstr("nested more than 3 deep"));
  EXPECT_THAT(Refused(R"([{"a":[{}]}])", limits), HasSubstr("nested more than 3 deep"));
  // Siblings do not add up: depth is nesting, not a count of containers.
  EXPECT_TRUE(Accepted("[[[]],[[]],{\"a\":{}},[[1,2,3]]]", limits).is_array());
  // Scalars do not count.
  EXPECT_TRUE(Accepted(R"([["a",1,true,null]])", limits).is_array());
}

TEST(JsonReaderTest, DepthZeroAllowsOnlyScalars) {
  JsonLimits limits;
  limits.depth = 0;
  EXPECT_EQ(Accepted("5", limits).number_text(), "5");
  EXPECT_THAT(Refused("[]", limits), HasSubstr("nested more than 0 deep"));
  EXPECT_THAT(Refused("{}", limits), HasSubstr("nested more than 0 deep"));
}

TEST(JsonReaderTest, DefaultDepthIs64) {
  EXPECT_EQ(JsonLimits().depth, 64);
  EXPECT_TRUE(Accepted(NestedArrays(64)).is_array());
  EXPECT_EQ(Refused(NestedArrays(65)), "line 1, column 65: nested more than 64 deep");
  std::string objects;
  for (int i = 0; i < 64; ++i) objects += "{\"a\":";
  EXPECT_TRUE(Accepted(objects + "1" + std::string(64, '}')).is_object());
  EXPECT_THAT(Refused(objects + "{}" + std::string(64, '}')), HasSubstr("nested more than 64"));
}

TEST(JsonReaderTest, VeryDeepNestingIsRefusedWithoutExhaustingTheStack) {
  EXPECT_EQ(Refused(std::string(100000, '[')), "line 1, column 65: nested more than 64 deep");
  EXPECT_THAT(Refused(NestedArrays(100000)), HasSubstr("nested more than 64 deep"));
  std::string objects;
  for (int i = 0; i < 100000; ++i) objects += "{\"a\":";
  EXPECT_THAT(Refused(objects), HasSubstr("nested more than 64 deep"));
  std::string mixed;
  for (int i = 0; i < 50000; ++i) mixed += "[{\"a\":";
  EXPECT_THAT(Refused(mixed), HasSubstr("nested more than 64 deep"));
}

TEST(JsonReaderTest, ValuesLimit) {
  JsonLimits limits;
  limits.values = 3;
  EXPECT_EQ(Accepted("[1,2]", limits).size(), 2u);  // three values: the array and two numbers
  EXPECT_EQ(Refused("[1,2,3]", limits), "line 1, column 6: more than 3 values");
  // Containers count as values; keys do not.
  EXPECT_TRUE(Accepted("[[[]]]", limits).is_array());
  EXPECT_THAT(Refused("[[[[]]]]", limits), HasSubstr("more than 3 values"));
  EXPECT_EQ(Accepted(R"({"a":1,"b":2})", limits).size(), 2u);
  EXPECT_THAT(Refused(R"({"a":1,"b":2,"c":3})", limits), HasSubstr("more than 3 values"));
  EXPECT_TRUE(Accepted(R"({"a":{"b":null}})", limits).is_object());
  // A limit of one allows a single scalar or an empty container; zero allows nothing.
  limits.values = 1;
  EXPECT_EQ(Accepted("\"s\"", limits).type(), JsonValue::Type::kString);
  EXPECT_TRUE(Accepted("{}", limits).is_object());
  EXPECT_THAT(Refused("[0]", limits), HasSubstr("more than 1 values"));
  limits.values = 0;
  EXPECT_THAT(Refused("0", limits), HasSubstr("more than 0 values"));
}

TEST(JsonReaderTest, ManyValuesUnderTheDefaultLimit) {
  std::string text = "[0";
  for (int i = 1; i < 100000; ++i) text += ",0";
  text += "]";
  JsonValue doc = Accepted(text);
  EXPECT_EQ(doc.size(), 100000u);
  JsonLimits limits;
  limits.values = 100000;  // one less than the array and its elements
  EXPECT_THAT(Refused(text, limits), HasSubstr("more than 100000 values"));
}

// --- Whitespace and positions ---

TEST(JsonReaderTest, WhitespaceAroundTokens) {
  JsonValue doc = Accepted(" \t\n\r{ \t\n\r\"a\" \t\n\r: \t\n\r[ 1 \t,\n\r2\r\n] \t\n\r} \t\n\r");
  ASSERT_TRUE(doc.is_object());
  ASSERT_NE(doc.Find("a"), nullptr);
  EXPECT_EQ(doc.Find("a")->size(), 2u);
}

TEST(JsonReaderTest, OtherWhitespaceIsRefused) {
  EXPECT_THAT(Refused("\f1"), HasSubstr("line 1, column 1: not a JSON value"));
  EXPECT_THAT(Refused("\v1"), HasSubstr("not a JSON value"));
  EXPECT_THAT(Refused("1\f"), HasSubstr("unexpected text after the JSON value"));
  EXPECT_THAT(Refused("[1,\v2]"), HasSubstr("not a JSON value"));
  EXPECT_THAT(Refused("[1\f,2]"), HasSubstr("expected ',' or ']'"));
  EXPECT_THAT(Refused("{\"a\"\v:1}"), HasSubstr("expected ':' after a key"));
  EXPECT_THAT(Refused(std::string("[1,\0 2]", 7)), HasSubstr("not a JSON value"));
}

TEST(JsonReaderTest, ErrorPositionsCountLinesAndColumns) {
  EXPECT_EQ(Refused("{\n  \"a\": [1,\n    2,\n  ]\n}"),
            "line 4, column 3: a trailing ',' before ']'");
  // "\r\n" ends a line at the '\n'; the '\r' is the last column of the line before.
  EXPECT_EQ(Refused("[1,\r\n]"), "line 2, column 1: a trailing ',' before ']'");
  EXPECT_THAT(Refused("[\n\n\n  tru]"), StartsWith("line 4, column 3: not a JSON value"));
  EXPECT_EQ(Refused("{\"a\":\n1\n\n"), "line 4, column 1: an object is not closed (missing '}')");
}

// --- Round trip with the writer ---

TEST(JsonReaderTest, RoundTripWithTheWriter) {
  const std::string control = std::string("\x00\x01\x08\x09\x0a\x0c\x0d\x1f\x7f", 9);
  const std::string quotes = "say \"hi\" \\ back\\slash / slash \\\"";
  const std::string non_ascii = "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF";
  const std::string key = "k\"\\\n\xC3\xA9";
  JsonWriter w;
  w.BeginObject().Key("control").String(control).Key("quotes").String(quotes);
  w.Key("non_ascii").String(non_ascii).Key(key).String("value of an odd key");
  w.Key("list").BeginArray().String("").String(control + quotes + non_ascii);
  w.Uint(UINT64_MAX).Int(INT64_MIN).Double(0.1).Bool(true).Bool(false).Null();
  w.BeginObject().EndObject().BeginArray().EndArray().EndArray();
  w.Key("invalid").String(std::string("a\xFF") + "b").EndObject();
  const std::string text = w.Take();

  JsonValue doc = Accepted(text);
  ASSERT_TRUE(doc.is_object());
  ASSERT_EQ(doc.size(), 6u);
  EXPECT_EQ(doc.key(3), key);
  std::string_view s;
  ASSERT_TRUE(doc.Find("control")->GetString(&s));
  EXPECT_EQ(s, control);
  ASSERT_TRUE(doc.Find("quotes")->GetString(&s));
  EXPECT_EQ(s, quotes);
  ASSERT_TRUE(doc.Find("non_ascii")->GetString(&s));
  EXPECT_EQ(s, non_ascii);
  ASSERT_NE(doc.Find(key), nullptr);
  ASSERT_TRUE(doc.Find(key)->GetString(&s));
  EXPECT_EQ(s, "value of an odd key");

  const JsonValue& list = *doc.Find("list");
  ASSERT_EQ(list.size(), 10u);
  ASSERT_TRUE(list[0].GetString(&s));
  EXPECT_EQ(s, "");
  ASSERT_TRUE(list[1].GetString(&s));
  EXPECT_EQ(s, control + quotes + non_ascii);
  uint64_t u = 0;
  ASSERT_TRUE(list[2].GetUint64(&u));
  EXPECT_EQ(u, UINT64_MAX);
  EXPECT_EQ(list[3].number_text(), "-9223372036854775808");
  EXPECT_EQ(list[4].number_text(), "0.1");
  bool b = false;
  ASSERT_TRUE(list[5].GetBool(&b));
  EXPECT_TRUE(b);
  ASSERT_TRUE(list[6].GetBool(&b));
  EXPECT_FALSE(b);
  EXPECT_EQ(list[7].type(), JsonValue::Type::kNull);
  EXPECT_TRUE(list[8].is_object());
  EXPECT_TRUE(list[9].is_array());
  // The writer replaces a byte that is not UTF-8 with U+FFFD.
  ASSERT_TRUE(doc.Find("invalid")->GetString(&s));
  EXPECT_EQ(s,
            "a\xEF\xBF\xBD"
            "b");
}

TEST(JsonReaderTest, EveryByteRoundTripsThroughTheWriter) {
  // Each byte alone in a string: ASCII comes back as itself, any other lone byte as U+FFFD.
  for (int c = 0; c < 256; ++c) {
    SCOPED_TRACE(c);
    const std::string in(1, static_cast<char>(c));
    std::string text;
    AppendJsonString(&text, in);
    EXPECT_EQ(DecodedString(text), c < 0x80 ? in : std::string("\xEF\xBF\xBD"));
  }
}

}  // namespace
}  // namespace ringway::admin
