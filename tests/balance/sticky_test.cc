#include "balance/sticky.h"

#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"

namespace ringway::balance {
namespace {

TEST(StickyTokenTest, SixteenLowerCaseHexDigitsSameEverywhere) {
  const std::string t = StickyToken("10.0.0.1:8080");
  EXPECT_EQ(t, "f975b55b1a32684f");  // golden: cookies must survive upgrades
  EXPECT_EQ(StickyToken(""), "10af7b9469fcce6d");
  for (const char* id : {"a", "10.0.0.2:8080", "[::1]:80", ""}) {
    const std::string s = StickyToken(id);
    ASSERT_EQ(s.size(), 16u);
    for (char c : s) EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << s;
  }
  EXPECT_NE(StickyToken("10.0.0.1:8080"), StickyToken("10.0.0.1:8081"));
}

TEST(FindCookieTest, FindsByExactName) {
  const std::string_view h = "a=1; rw=abc; b=2";
  EXPECT_EQ(FindCookie(h, "rw"), "abc");
  EXPECT_EQ(FindCookie(h, "a"), "1");
  EXPECT_EQ(FindCookie(h, "b"), "2");
  EXPECT_EQ(FindCookie(h, "c"), "");
  EXPECT_EQ(FindCookie(h, "RW"), "");  // names are case-sensitive
  EXPECT_EQ(FindCookie(h, "r"), "");   // not a prefix match
  EXPECT_EQ(FindCookie("xrw=1; rw=2", "rw"), "2");
  EXPECT_EQ(FindCookie("rwx=1; rw=2", "rw"), "2");
}

TEST(FindCookieTest, ToleratesSpacing) {
  EXPECT_EQ(FindCookie("a=1;rw=x;b=2", "rw"), "x");
  EXPECT_EQ(FindCookie("  a=1 ;   rw =  x  ; b=2", "rw"), "x");
  EXPECT_EQ(FindCookie("\trw\t=\tx\t", "rw"), "x");
  EXPECT_EQ(FindCookie("a=1;;; rw=x;", "rw"), "x");
  EXPECT_EQ(FindCookie(";rw=x", "rw"), "x");
}

TEST(FindCookieTest, EdgeCases) {
  EXPECT_EQ(FindCookie("", "rw"), "");
  EXPECT_EQ(FindCookie("rw", "rw"), "");  // no '=': not a pair
  EXPECT_EQ(FindCookie("rw; rw=y", "rw"), "y");
  EXPECT_EQ(FindCookie("rw=", "rw"), "");        // present, empty
  EXPECT_EQ(FindCookie("rw=a=b", "rw"), "a=b");  // only the first '=' splits
  EXPECT_EQ(FindCookie("rw=\"quoted\"", "rw"), "quoted");
  EXPECT_EQ(FindCookie("rw=\"", "rw"), "\"");      // a lone quote is left alone
  EXPECT_EQ(FindCookie("rw=1; rw=2", "rw"), "1");  // the first wins
  EXPECT_EQ(FindCookie("=x; rw=y", ""), "");       // no empty names
  EXPECT_EQ(FindCookie("=x; rw=y", "rw"), "y");
  // The result points into the input: no copy.
  const std::string h = "a=1; rw=token";
  const std::string_view v = FindCookie(h, "rw");
  EXPECT_EQ(v.data(), h.data() + 8);
}

TEST(FindByTokenTest, IndexOrMinusOne) {
  const std::vector<std::string> tokens = {StickyToken("a"), StickyToken("b"), StickyToken("c")};
  EXPECT_EQ(FindByToken(tokens, StickyToken("b")), 1);
  EXPECT_EQ(FindByToken(tokens, StickyToken("c")), 2);
  EXPECT_EQ(FindByToken(tokens, StickyToken("d")), -1);
  EXPECT_EQ(FindByToken(tokens, ""), -1);
  EXPECT_EQ(FindByToken({}, "x"), -1);
  // End to end: the cookie names the backend.
  const std::string cookie = "session=42; rw=" + tokens[2];
  EXPECT_EQ(FindByToken(tokens, FindCookie(cookie, "rw")), 2);
}

}  // namespace
}  // namespace ringway::balance
