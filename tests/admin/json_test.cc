// The JSON writer: commas and nesting, string escaping (quotes, backslash, control bytes,
// invalid UTF-8), numbers.
#include "admin/json.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "gtest/gtest.h"

namespace ringway::admin {
namespace {

std::string Quoted(std::string_view s) {
  std::string out;
  AppendJsonString(&out, s);
  return out;
}

TEST(JsonWriterTest, NestingAndCommas) {
  JsonWriter w;
  w.BeginObject().Key("a").Int(1).Key("b").BeginArray().Int(1).String("x").BeginObject();
  w.EndObject().BeginArray().EndArray().BeginArray().Bool(false).Null().EndArray().EndArray();
  w.Key("c").BeginObject().Key("d").Bool(true).Key("e").Raw("[1,2]").EndObject();
  w.Key("f").Null().EndObject();
  EXPECT_EQ(w.str(), R"({"a":1,"b":[1,"x",{},[],[false,null]],"c":{"d":true,"e":[1,2]},"f":null})");
}

TEST(JsonWriterTest, EmptyContainersAndTopLevelScalars) {
  JsonWriter w;
  EXPECT_EQ(w.BeginObject().EndObject().Take(), "{}");
  EXPECT_EQ(w.BeginArray().EndArray().Take(), "[]");
  EXPECT_EQ(w.String("s").Take(), "\"s\"");
  EXPECT_EQ(w.str(), "");
}

TEST(JsonWriterTest, TakeLeavesAFreshWriter) {
  JsonWriter w;
  w.BeginArray().Int(1);
  EXPECT_EQ(w.Take(), "[1");  // an unfinished document is handed over as it is
  w.BeginArray().Int(2).Int(3).EndArray();
  EXPECT_EQ(w.Take(), "[2,3]");  // no comma carried over from the abandoned array
}

TEST(JsonWriterTest, Integers) {
  JsonWriter w;
  w.BeginArray().Int(0).Int(-42).Int(std::numeric_limits<int64_t>::min());
  w.Uint(std::numeric_limits<uint64_t>::max()).EndArray();
  EXPECT_EQ(w.str(), "[0,-42,-9223372036854775808,18446744073709551615]");
}

TEST(JsonWriterTest, DoublesRoundTripAndNonFiniteAreNull) {
  JsonWriter w;
  w.BeginArray().Double(0.1).Double(1.5).Double(100.0).Double(-0.0).Double(1e300);
  w.Double(2.5e-8).Double(1.0 / 3).Double(std::nan("")).Double(HUGE_VAL).Double(-HUGE_VAL);
  w.EndArray();
  EXPECT_EQ(w.str(), "[0.1,1.5,100,-0,1e+300,2.5e-08,0.3333333333333333,null,null,null]");
}

TEST(JsonWriterTest, KeysAreEscaped) {
  JsonWriter w;
  w.BeginObject().Key("a\"b").Int(1).EndObject();
  EXPECT_EQ(w.str(), R"({"a\"b":1})");
}

TEST(JsonStringTest, QuotesBackslashAndControlBytes) {
  EXPECT_EQ(Quoted(""), "\"\"");
  EXPECT_EQ(Quoted("plain text"), "\"plain text\"");
  EXPECT_EQ(Quoted("a\"b\\c/d"), R"("a\"b\\c/d")");
  EXPECT_EQ(Quoted("\n\r\t"), R"("\u000a\u000d\u0009")");
  EXPECT_EQ(Quoted(std::string("\x00\x01\x1f\x7f", 4)), R"("\u0000\u0001\u001f\u007f")");
}

TEST(JsonStringTest, ValidUtf8PassesThrough) {
  // 2, 3 and 4 bytes, and the edges of the ranges: U+0080, U+07FF, U+0800, U+D7FF, U+E000,
  // U+FFFF, U+10000, U+10FFFF.
  const std::string s =
      "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
      "\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf\xf0\x90\x80\x80"
      "\xf4\x8f\xbf\xbf";
  EXPECT_EQ(Quoted(s), "\"" + s + "\"");
}

TEST(JsonStringTest, InvalidUtf8BytesBecomeReplacementCharacters) {
  EXPECT_EQ(Quoted("a\xff"
                   "b"),
            R"("a\ufffdb")");
  EXPECT_EQ(Quoted("\x80"), R"("\ufffd")");                      // stray continuation byte
  EXPECT_EQ(Quoted("\xc0\xaf"), R"("\ufffd\ufffd")");            // overlong '/'
  EXPECT_EQ(Quoted("\xe0\x80\xaf"), R"("\ufffd\ufffd\ufffd")");  // overlong, 3 bytes
  EXPECT_EQ(Quoted("\xed\xa0\x80"), R"("\ufffd\ufffd\ufffd")");  // surrogate U+D800
  EXPECT_EQ(Quoted("\xf4\x90\x80\x80"), R"("\ufffd\ufffd\ufffd\ufffd")");  // past U+10FFFF
  EXPECT_EQ(Quoted("\xe2\x82"), R"("\ufffd\ufffd")");                      // truncated at the end
  EXPECT_EQ(Quoted("\xe2\x82x"), R"("\ufffd\ufffdx")");                    // truncated before ASCII
  EXPECT_EQ(Quoted("\xc3\xa9\xff\xc3\xa9"), "\"\xc3\xa9\\ufffd\xc3\xa9\"");  // valid around it
}

TEST(JsonErrorTest, ErrorAndHint) {
  EXPECT_EQ(JsonError("bad \"thing\"", "try again\n"),
            R"({"error":"bad \"thing\"","hint":"try again\u000a"})");
}

}  // namespace
}  // namespace ringway::admin
