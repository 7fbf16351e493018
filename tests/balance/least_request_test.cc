#include "balance/least_request.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"
#include "tests/balance/test_util.h"

namespace ringway::balance {
namespace {

using testutil::AllEligible;

int Pick(LeastRequest& lr, Eligible eligible = AllEligible) {
  return lr.Pick(PickInput{}, eligible);
}

TEST(LeastRequestTest, PrefersTheLeastLoaded) {
  const uint32_t weights[] = {1, 1, 1};
  LeastRequest lr(weights);
  for (int i = 0; i < 5; ++i) lr.OnStart(0);
  for (int i = 0; i < 3; ++i) lr.OnStart(1);
  lr.OnStart(2);
  // Loads 5, 3, 1: c until it reaches b's 3, then b and c alternately.
  EXPECT_EQ(Pick(lr), 2);
  lr.OnStart(2);
  EXPECT_EQ(Pick(lr), 2);
  lr.OnStart(2);
  EXPECT_EQ(lr.outstanding(2), 3u);
  const int next = Pick(lr);
  EXPECT_TRUE(next == 1 || next == 2);
  lr.OnFinish(0, 0, 0);
  lr.OnFinish(0, 0, 0);
  lr.OnFinish(0, 0, 0);
  lr.OnFinish(0, 0, 0);
  EXPECT_EQ(Pick(lr), 0);  // now a has 1
}

TEST(LeastRequestTest, TiesRotate) {
  const uint32_t weights[] = {1, 1, 1, 1};
  LeastRequest lr(weights);
  std::vector<int> picks;
  for (int i = 0; i < 8; ++i) picks.push_back(Pick(lr));
  EXPECT_EQ(picks, (std::vector<int>{0, 1, 2, 3, 0, 1, 2, 3}));
}

TEST(LeastRequestTest, WeightsScaleTheLoad) {
  const uint32_t weights[] = {1, 3};
  LeastRequest lr(weights);
  // (o + 1) / w: b takes requests until it has 3 times a's load.
  for (int i = 0; i < 3; ++i) lr.OnStart(0);   // a: 4 / 1 if it took one more
  for (int i = 0; i < 10; ++i) lr.OnStart(1);  // b: 11 / 3 = 3.67
  EXPECT_EQ(Pick(lr), 1);
  lr.OnStart(1);  // b: 12 / 3 = 4, a tie
  lr.OnStart(1);  // b: 13 / 3 > 4
  EXPECT_EQ(Pick(lr), 0);
}

TEST(LeastRequestTest, OnFinishNeverUnderflows) {
  const uint32_t weights[] = {1, 1};
  LeastRequest lr(weights);
  lr.OnFinish(0, 0, 0);
  lr.OnFinish(0, 0, 0);
  EXPECT_EQ(lr.outstanding(0), 0u);
  lr.OnStart(0);
  EXPECT_EQ(lr.outstanding(0), 1u);
  lr.OnFinish(5, 0, 0);  // out of range: ignored
  lr.OnStart(5);
  lr.OnFinish(0, 0, 0);
  lr.OnFinish(0, 0, 0);
  EXPECT_EQ(lr.outstanding(0), 0u);
}

TEST(LeastRequestTest, IneligibleNeverPicked) {
  const uint32_t weights[] = {1, 1, 1};
  LeastRequest lr(weights);
  lr.OnStart(0);
  lr.OnStart(0);
  for (int i = 0; i < 50; ++i) {
    const int p = Pick(lr, [](size_t i) { return i != 2; });
    ASSERT_GE(p, 0);
    ASSERT_NE(p, 2);
    lr.OnStart(p);
  }
  EXPECT_EQ(Pick(lr, [](size_t) { return false; }), -1);
  EXPECT_EQ(Pick(lr, [](size_t i) { return i == 0; }), 0);  // the only one, however loaded
}

TEST(LeastRequestTest, ZeroWeightNeverPicked) {
  const uint32_t weights[] = {0, 1};
  LeastRequest lr(weights);
  for (int i = 0; i < 10; ++i) lr.OnStart(1);
  EXPECT_EQ(Pick(lr), 1);
  EXPECT_EQ(Pick(lr, [](size_t i) { return i == 0; }), -1);
  lr.SetWeight(0, 1);
  EXPECT_EQ(Pick(lr), 0);
}

// Under steady concurrency the outstanding counts, and so the picks, follow the weights.
TEST(LeastRequestTest, DistributionUnderLoadFollowsWeights) {
  const uint32_t weights[] = {1, 2, 3, 4};
  LeastRequest lr(weights);
  constexpr int kPicks = 100000;
  std::vector<int> counts = testutil::Simulate(
      lr, kPicks, /*concurrency=*/40, /*gap_ns=*/1000,
      [](size_t, uint64_t) { return uint64_t{1'000'000}; }, AllEligible);
  const std::vector<double> shares = testutil::Shares(weights);
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(counts[i] / double(kPicks), shares[i], 0.01) << i;
}

// A slow backend holds its requests longer, so it gets fewer new ones.
TEST(LeastRequestTest, SlowBackendGetsLess) {
  const uint32_t weights[] = {1, 1, 1, 1};
  LeastRequest lr(weights);
  constexpr int kPicks = 100000;
  std::vector<int> counts = testutil::Simulate(
      lr, kPicks, /*concurrency=*/40, /*gap_ns=*/1000,
      [](size_t b, uint64_t) { return b == 1 ? uint64_t{10'000'000} : uint64_t{1'000'000}; },
      AllEligible);
  EXPECT_LT(counts[1] / double(kPicks), 0.08);
}

TEST(LeastRequestCancelTest, CancelEndsTheRequest) {
  const uint32_t weights[] = {1, 1};
  LeastRequest lr(weights);
  lr.OnStart(0);
  lr.OnStart(0);
  lr.OnCancel(0);
  EXPECT_EQ(lr.outstanding(0), 1u);
  lr.OnCancel(0);
  lr.OnCancel(0);
  EXPECT_EQ(lr.outstanding(0), 0u);
}

}  // namespace
}  // namespace ringway::balance
