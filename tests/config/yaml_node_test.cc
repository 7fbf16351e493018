// The YAML reader's limits on hostile documents: aliases are charged the bytes they copy, large
// mappings are checked for duplicate keys in linear time, and the value cap is reported with
// its position. Each test names the input that broke (or would break) the reader before.
#include "config/yaml_node.h"

#include <chrono>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ringway::config {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kFile[] = "test.yaml";

std::string ErrorOf(std::string_view yaml) {
  absl::StatusOr<YamlDocument> doc = ParseYaml(yaml, kFile);
  EXPECT_FALSE(doc.ok()) << "parsed without error";
  if (doc.ok()) return "(parsed)";
  EXPECT_EQ(doc.status().code(), absl::StatusCode::kInvalidArgument) << doc.status();
  return std::string(doc.status().message());
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// `count` aliases of `name` in a flow list: "y: [*a, *a, ...]". The k-th alias (from 1) starts
// at column 5 + 4 * (k - 1).
std::string Aliases(std::string_view name, int count) {
  std::string out = "y: [";
  for (int i = 0; i < count; ++i) out += (i == 0 ? "*" : ", *") + std::string(name);
  return out + "]\n";
}

// The document: a 1 MiB scalar aliased 20,000 times, about 1 MB of text that expanded
// to 20 GiB and ended `ringway --validate` in std::bad_alloc. The anchor's own copy and 14
// aliases fit in the 16 MiB budget; the 15th crosses it and is the position reported.
TEST(YamlAliases, LargeScalarAliasedManyTimesIsRefusedAtTheAliasThatCrossesTheBudget) {
  std::string yaml = "x: &a \"" + std::string(1 << 20, 'A') + "\"\n" + Aliases("a", 20'000);
  auto start = std::chrono::steady_clock::now();
  std::string e = ErrorOf(yaml);
  EXPECT_THAT(e, AllOf(StartsWith(absl::StrFormat("test.yaml:2:%d: alias '*a' takes the document "
                                                  "past 16 MiB once aliases are expanded",
                                                  5 + 4 * 14)),
                       HasSubstr("alias smaller values, or fewer times")));
  EXPECT_LT(SecondsSince(start), 10.0);
}

// The same budget applies however the bytes are reached: many small aliases of a mid-sized
// list, and aliases nested in aliases.
TEST(YamlAliases, ListsOfAliasesAndNestedAliasesShareTheBudget) {
  std::string yaml = "a: &a [" + std::string(64 << 10, 'x') + "]\n";  // one 64 KiB scalar
  yaml += "b: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n";                 // 512 KiB
  yaml += "c: &c [*b, *b, *b, *b, *b, *b, *b, *b]\n";                 // 4 MiB
  yaml += "d: [*c, *c, *c, *c, *c, *c, *c, *c]\n";                    // 32 MiB: over
  EXPECT_THAT(ErrorOf(yaml), AllOf(StartsWith("test.yaml:4:"), HasSubstr("alias '*c' takes")));
}

// Anchors keep a copy of what they name, so anchors nested around one large value cost as much
// as aliases would; before, they were counted as a handful of values and not refused.
TEST(YamlAliases, NestedAnchorsAreChargedForTheirCopies) {
  std::string yaml = "x: ";
  for (int i = 0; i < 20; ++i) absl::StrAppend(&yaml, "&a", i, " [");
  yaml += "\"" + std::string(1 << 20, 'A') + "\"" + std::string(20, ']') + "\n";
  EXPECT_THAT(ErrorOf(yaml), AllOf(StartsWith("test.yaml:1:"), HasSubstr("anchor '&a"),
                                   HasSubstr("once aliases are expanded")));
}

// The budget is the larger of 16 MiB and four times the file's size, so that a large file that
// uses aliases as intended is not refused for what a small file could not do.
TEST(YamlAliases, BudgetGrowsWithTheFile) {
  std::string yaml = "x: &a \"" + std::string(1 << 20, 'A') + "\"\n" + Aliases("a", 17);
  EXPECT_THAT(ErrorOf(yaml), HasSubstr("takes the document past 16 MiB"));
  // A 6 MiB file may expand by 24 MiB.
  yaml += "z: \"" + std::string(5 << 20, 'B') + "\"\n";
  absl::StatusOr<YamlDocument> doc = ParseYaml(yaml, kFile);
  ASSERT_TRUE(doc.ok()) << doc.status();
  const YamlNode* y = doc->root.Find("y");
  ASSERT_NE(y, nullptr);
  ASSERT_EQ(y->items.size(), 17u);
  EXPECT_EQ(y->items[16].text.size(), size_t{1} << 20);
}

// Billion laughs: ten values, aliased ten times at each of eight levels. Each value copied
// costs its node's size, so the bytes budget stops it within a few levels, where the budget
// runs out: here at the copy the anchor of the fifth level keeps.
TEST(YamlAliases, BillionLaughsStopsEarly) {
  std::string yaml = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char c = 'b'; c <= 'h'; ++c) {
    yaml += absl::StrFormat("%c: &%c [*%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c]\n", c, c,
                            c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1);
  }
  auto start = std::chrono::steady_clock::now();
  EXPECT_THAT(ErrorOf(yaml),
              AllOf(StartsWith("test.yaml:5:4: anchor '&e' takes the document past 16 MiB"),
                    HasSubstr("once aliases are expanded")));
  EXPECT_LT(SecondsSince(start), 10.0);
}

// 200,000 keys in one mapping: the duplicate-key check compared each key with every earlier
// one (3.5 s for 40,000 keys, minutes for this), and the value cap refused the file besides.
TEST(YamlMappings, TwoHundredThousandKeysParseInLinearTime) {
  constexpr int kKeys = 200'000;
  std::string yaml = "x:\n";
  yaml.reserve(kKeys * 16);
  for (int i = 0; i < kKeys; ++i) absl::StrAppend(&yaml, "  key", i, ": ", i, "\n");
  auto start = std::chrono::steady_clock::now();
  absl::StatusOr<YamlDocument> doc = ParseYaml(yaml, kFile);
  double seconds = SecondsSince(start);
  ASSERT_TRUE(doc.ok()) << doc.status();
  const YamlNode* x = doc->root.Find("x");
  ASSERT_NE(x, nullptr);
  ASSERT_EQ(x->entries.size(), size_t{kKeys});
  EXPECT_EQ(x->entries.back().key.text, "key199999");
  // Linear takes well under a second in Release and a few in Sanitize; quadratic, minutes.
  EXPECT_LT(seconds, 30.0);
}

TEST(YamlMappings, DuplicateKeyInALargeMappingIsReportedWithBothPositions) {
  constexpr int kKeys = 100'000;
  std::string yaml = "x:\n";
  for (int i = 0; i < kKeys; ++i) absl::StrAppend(&yaml, "  key", i, ": ", i, "\n");
  yaml += "  key12345: again\n";  // line kKeys + 2; key12345 is on line 12347
  EXPECT_THAT(ErrorOf(yaml),
              StartsWith(absl::StrFormat("test.yaml:%d:3: duplicate key 'key12345' (first at line "
                                         "12347, column 3); remove one of them",
                                         kKeys + 2)));
  // In flow style too, and with a key that an alias supplies.
  EXPECT_THAT(ErrorOf("k: &k name\nm: {a: 1, name: 2, b: 3, *k : 4}\n"),
              StartsWith("test.yaml:2:26: duplicate key 'name' (first at line 2, column 11)"));
}

// The value cap counts values written out, not only those aliases make, and says so.
TEST(YamlLimits, MoreThanAMillionValuesAreRefusedWhereTheCapIsCrossed) {
  std::string yaml = "[";
  yaml.reserve(2'000'010);
  for (int i = 0; i <= 1'000'000; ++i) yaml += "0,";
  yaml += "0]\n";
  // The sequence itself is the first value, so the 1,000,000th item (column 2 * 999,999 + 2)
  // is the 1,000,001st value.
  EXPECT_THAT(ErrorOf(yaml), StartsWith(absl::StrFormat("test.yaml:1:%d: the document has more "
                                                        "than 1000000 values; is it the right "
                                                        "file?",
                                                        2 * 999'999 + 2)));
}

TEST(YamlLimits, DeepNestingIsRefusedBeforeItRecurses) {
  EXPECT_THAT(ErrorOf(std::string(100'000, '[')),
              AllOf(StartsWith("test.yaml:1:"), HasSubstr("nested more than 64 levels deep")));
  std::string block;
  for (int i = 0; i < 200; ++i) absl::StrAppend(&block, std::string(i * 2, ' '), "- \n");
  EXPECT_THAT(ErrorOf(block), HasSubstr("nested more than 64 levels deep"));
  // An alias of a deep value may not take it past the limit where it is used.
  std::string deep = std::string(60, '[') + std::string(60, ']');
  EXPECT_THAT(ErrorOf("a: &d " + deep + "\nb: [[[[[[*d]]]]]]\n"),
              AllOf(StartsWith("test.yaml:2:"), HasSubstr("once alias '*d' is expanded")));
}

}  // namespace
}  // namespace ringway::config
