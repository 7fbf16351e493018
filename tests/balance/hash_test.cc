#include "balance/hash.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "balance/random.h"
#include "gtest/gtest.h"

namespace ringway::balance {
namespace {

// Golden values: these must never change, since rings, Maglev tables and sticky cookies of
// instances running different builds must agree. A change here is a compatibility break.
TEST(Hash64Test, GoldenValues) {
  struct Case {
    std::string_view in;
    uint64_t want;
  };
  const Case cases[] = {
      {"", 0x155c40b635671f15},
      {"a", 0x8056a700033ec417},
      {"ab", 0xed7ffba29ddfb0b5},
      {"abc", 0x737ff94aaade72a8},
      {"abcdefg", 0x331b5850bf9f9ae2},
      {"abcdefgh", 0xcc8bfb6384b22c52},
      {"abcdefghi", 0xeb285e451c4eb10b},
      {"10.0.0.1:8080", 0xdf5c0aecd1b880ca},
      {"The quick brown fox jumps over the lazy dog", 0xc274cb4aee55890f},
  };
  for (const Case& c : cases) EXPECT_EQ(Hash64(c.in), c.want) << '"' << c.in << '"';
  EXPECT_EQ(Hash64("abc", 1), 0xf374cbfe1b98b6b3u);
  EXPECT_EQ(Hash64("", 42), 0xf46387e7ee28b3b2u);
}

TEST(Mix64Test, GoldenValuesAndBijection) {
  static_assert(Mix64(0) == 0);
  EXPECT_EQ(Mix64(1), 0x5692161d100b05e5u);
  // splitmix64's first output for seed 0, a published value.
  EXPECT_EQ(Mix64(0x9e3779b97f4a7c15), 0xe220a8397b1dcdafu);
  std::unordered_set<uint64_t> seen;
  for (uint64_t i = 0; i < 100000; ++i) EXPECT_TRUE(seen.insert(Mix64(i)).second);
}

TEST(RngTest, IsSplitMix64) {
  Rng rng(0);
  EXPECT_EQ(rng.Next(), 0xe220a8397b1dcdafu);
  Rng a(7), b(7);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(a.Next(), b.Next());
  for (int i = 0; i < 1000; ++i) EXPECT_LT(a.Below(3), 3u);
}

TEST(Hash64Test, SeedLengthAndPositionMatter) {
  EXPECT_NE(Hash64("abc"), Hash64("abc", 1));
  EXPECT_NE(Hash64("a"), Hash64(std::string_view("a\0", 2)));
  EXPECT_NE(Hash64(std::string_view("\0", 1)), Hash64(""));
  EXPECT_NE(Hash64(std::string(8, '\0')), Hash64(std::string(16, '\0')));
  EXPECT_NE(Hash64("abcdefghijklmnop"), Hash64("ijklmnopabcdefgh"));  // swapped words
  EXPECT_EQ(Hash64("abc"), Hash64(std::string("xabc").substr(1)));    // only the bytes count
}

TEST(Hash64Test, NoCollisionsOnSimilarKeys) {
  std::unordered_set<uint64_t> seen;
  for (int i = 0; i < 200000; ++i) {
    EXPECT_TRUE(seen.insert(Hash64("10.0.0." + std::to_string(i))).second) << i;
  }
}

// Flipping any one input bit flips about half of the output bits.
TEST(Hash64Test, Avalanche) {
  for (size_t len : {1, 3, 8, 13, 24}) {
    std::string s(len, 'x');
    for (size_t i = 0; i < len; ++i) s[i] = static_cast<char>('a' + i);
    const uint64_t base = Hash64(s);
    double total = 0;
    int min_flips = 64;
    for (size_t bit = 0; bit < len * 8; ++bit) {
      std::string t = s;
      t[bit / 8] = static_cast<char>(t[bit / 8] ^ (1 << (bit % 8)));
      const int flips = std::popcount(base ^ Hash64(t));
      total += flips;
      min_flips = std::min(min_flips, flips);
    }
    const double mean = total / (len * 8);
    EXPECT_GT(mean, 28) << "len " << len;
    EXPECT_LT(mean, 36) << "len " << len;
    EXPECT_GE(min_flips, 14) << "len " << len;
  }
}

// Sequential keys spread evenly over buckets, by low bits and by high bits.
TEST(Hash64Test, SpreadsSequentialKeys) {
  constexpr int kBuckets = 64;
  constexpr int kKeys = 64000;
  std::vector<int> low(kBuckets), high(kBuckets);
  for (int i = 0; i < kKeys; ++i) {
    const uint64_t h = Hash64("key" + std::to_string(i));
    ++low[h % kBuckets];
    ++high[h >> 58];
  }
  for (int b = 0; b < kBuckets; ++b) {
    EXPECT_NEAR(low[b], kKeys / kBuckets, 150) << b;  // sd is about 31
    EXPECT_NEAR(high[b], kKeys / kBuckets, 150) << b;
  }
}

}  // namespace
}  // namespace ringway::balance
