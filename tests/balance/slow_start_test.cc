#include "balance/slow_start.h"

#include <cstdint>

#include "gtest/gtest.h"

namespace ringway::balance {
namespace {

TEST(SlowStartTest, LinearFromTenPercentToFull) {
  EXPECT_EQ(SlowStartWeight(100, 0, 1000), 10u);
  EXPECT_EQ(SlowStartWeight(100, 250, 1000), 32u);  // 10 + 90 * 0.25 = 32.5, rounded down
  EXPECT_EQ(SlowStartWeight(100, 500, 1000), 55u);
  EXPECT_EQ(SlowStartWeight(100, 999, 1000), 99u);
  EXPECT_EQ(SlowStartWeight(100, 1000, 1000), 100u);
  EXPECT_EQ(SlowStartWeight(100, 5000, 1000), 100u);
}

TEST(SlowStartTest, NeverDecreasesAndStaysInRange) {
  uint32_t last = 0;
  for (uint64_t t = 0; t <= 30000; t += 7) {
    const uint32_t w = SlowStartWeight(1000, t, 30000);
    EXPECT_GE(w, last);
    EXPECT_GE(w, 100u);
    EXPECT_LE(w, 1000u);
    last = w;
  }
  EXPECT_EQ(SlowStartWeight(1000, 30000, 30000), 1000u);
}

TEST(SlowStartTest, SmallWeightsStartAtOne) {
  EXPECT_EQ(SlowStartWeight(1, 0, 1000), 1u);  // a weight of 1 cannot ramp
  EXPECT_EQ(SlowStartWeight(5, 0, 1000), 1u);
  EXPECT_EQ(SlowStartWeight(5, 500, 1000), 3u);
  EXPECT_EQ(SlowStartWeight(9, 0, 1000), 1u);
  EXPECT_EQ(SlowStartWeight(10, 0, 1000), 1u);
  EXPECT_EQ(SlowStartWeight(19, 0, 1000), 1u);
  EXPECT_EQ(SlowStartWeight(20, 0, 1000), 2u);
}

TEST(SlowStartTest, NoWindowOrZeroWeight) {
  EXPECT_EQ(SlowStartWeight(100, 0, 0), 100u);
  EXPECT_EQ(SlowStartWeight(0, 0, 1000), 0u);
  EXPECT_EQ(SlowStartWeight(0, 5000, 1000), 0u);
}

TEST(SlowStartTest, HugeValuesDoNotOverflow) {
  const uint32_t half = SlowStartWeight(UINT32_MAX, UINT64_MAX / 2, UINT64_MAX);
  const uint32_t want = UINT32_MAX / 10 + (UINT32_MAX - UINT32_MAX / 10) / 2;
  EXPECT_GE(half, want - 1);
  EXPECT_LE(half, want);
  EXPECT_EQ(SlowStartWeight(UINT32_MAX, UINT64_MAX - 1, UINT64_MAX), UINT32_MAX - 1);
  EXPECT_EQ(SlowStartWeight(UINT32_MAX, UINT64_MAX, UINT64_MAX), UINT32_MAX);
}

}  // namespace
}  // namespace ringway::balance
