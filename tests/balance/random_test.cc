#include "balance/random.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"
#include "tests/balance/test_util.h"

namespace ringway::balance {
namespace {

using testutil::AllEligible;

TEST(WeightTableTest, FindMapsEachUnitOfWeightToItsBackend) {
  const uint32_t weights[] = {0, 2, 0, 0, 3, 1, 0};
  WeightTable t(weights);
  EXPECT_EQ(t.total(), 6u);
  const size_t want[] = {1, 1, 4, 4, 4, 5};
  for (uint64_t r = 0; r < 6; ++r) EXPECT_EQ(t.Find(r), want[r]) << r;
  t.Set(0, 1);
  EXPECT_EQ(t.total(), 7u);
  EXPECT_EQ(t.Find(0), 0u);
  EXPECT_EQ(t.Find(1), 1u);
  t.Set(99, 1);  // out of range: ignored
  EXPECT_EQ(t.total(), 7u);
}

TEST(WeightTableTest, DrawOtherNeverDrawsTheExceptionAndKeepsProportions) {
  const uint32_t weights[] = {1, 2, 3, 4};
  WeightTable t(weights);
  Rng rng(1);
  std::vector<int> counts(4);
  constexpr int kDraws = 120000;
  for (int i = 0; i < kDraws; ++i) ++counts[t.DrawOther(rng, 2)];
  EXPECT_EQ(counts[2], 0);
  // The others in proportion 1:2:4.
  EXPECT_NEAR(counts[0], kDraws / 7.0, kDraws * 0.01);
  EXPECT_NEAR(counts[1], kDraws * 2 / 7.0, kDraws * 0.01);
  EXPECT_NEAR(counts[3], kDraws * 4 / 7.0, kDraws * 0.01);
  // Uniform weights take the shortcut; same guarantees.
  const uint32_t equal[] = {5, 5, 5};
  WeightTable u(equal);
  counts.assign(3, 0);
  for (int i = 0; i < 30000; ++i) ++counts[u.DrawOther(rng, 0)];
  EXPECT_EQ(counts[0], 0);
  EXPECT_NEAR(counts[1], 15000, 400);
}

TEST(WeightedRandomTest, DistributionFollowsWeights) {
  const uint32_t weights[] = {1, 2, 3, 4, 0, 10};
  WeightedRandom r(weights, /*seed=*/1);
  constexpr int kPicks = 200000;
  std::vector<int> counts = testutil::CountPicks(r, kPicks, AllEligible);
  const std::vector<double> shares = testutil::Shares(weights);
  for (size_t i = 0; i < std::size(weights); ++i) {
    EXPECT_NEAR(counts[i] / double(kPicks), shares[i], 0.005) << i;
  }
  EXPECT_EQ(counts[4], 0);
}

TEST(WeightedRandomTest, IneligibleNeverPickedAndTheRestKeepTheirProportions) {
  const uint32_t weights[] = {1, 2, 3, 4};
  WeightedRandom r(weights, /*seed=*/2);
  constexpr int kPicks = 100000;
  std::vector<int> counts = testutil::CountPicks(r, kPicks, [](size_t i) { return i != 3; });
  EXPECT_EQ(counts[3], 0);
  EXPECT_EQ(counts[4], 0);  // never -1
  EXPECT_NEAR(counts[0] / double(kPicks), 1 / 6.0, 0.005);
  EXPECT_NEAR(counts[1] / double(kPicks), 2 / 6.0, 0.005);
  EXPECT_NEAR(counts[2] / double(kPicks), 3 / 6.0, 0.005);
}

TEST(WeightedRandomTest, FallbackWhenAlmostEverythingIsDownIsStillWeighted) {
  // 2 of 200 backends up: rejection draws nearly always fail and the two-pass fallback runs.
  std::vector<uint32_t> weights(200, 1);
  weights[17] = 1;
  weights[150] = 3;
  WeightedRandom r(weights, /*seed=*/3);
  constexpr int kPicks = 40000;
  std::vector<int> counts =
      testutil::CountPicks(r, kPicks, [](size_t i) { return i == 17 || i == 150; });
  EXPECT_EQ(counts[17] + counts[150], kPicks);
  EXPECT_NEAR(counts[150] / double(kPicks), 0.75, 0.01);
}

TEST(WeightedRandomTest, MinusOneOnlyWhenNothingEligible) {
  const uint32_t weights[] = {1, 0, 1};
  WeightedRandom r(weights, 4);
  EXPECT_EQ(r.Pick(PickInput{}, [](size_t) { return false; }), -1);
  EXPECT_EQ(r.Pick(PickInput{}, [](size_t i) { return i == 1; }), -1);  // weight 0
  for (int i = 0; i < 100; ++i) EXPECT_EQ(r.Pick(PickInput{}, [](size_t i) { return i == 2; }), 2);
  WeightedRandom empty(std::span<const uint32_t>{}, 0);
  EXPECT_EQ(empty.Pick(PickInput{}, AllEligible), -1);
}

TEST(WeightedRandomTest, SameSeedSameSequence) {
  const uint32_t weights[] = {1, 2, 3};
  WeightedRandom a(weights, 9), b(weights, 9), c(weights, 10);
  int differ = 0;
  for (int i = 0; i < 100; ++i) {
    const int pa = a.Pick(PickInput{}, AllEligible);
    EXPECT_EQ(pa, b.Pick(PickInput{}, AllEligible));
    differ += pa != c.Pick(PickInput{}, AllEligible);
  }
  EXPECT_GT(differ, 20);
}

TEST(WeightedRandomTest, SetWeightChangesTheDistribution) {
  const uint32_t weights[] = {1, 1};
  WeightedRandom r(weights, 5);
  r.SetWeight(1, 9);
  std::vector<int> counts = testutil::CountPicks(r, 50000, AllEligible);
  EXPECT_NEAR(counts[1] / 50000.0, 0.9, 0.01);
  r.SetWeight(1, 0);
  counts = testutil::CountPicks(r, 1000, AllEligible);
  EXPECT_EQ(counts[0], 1000);
}

}  // namespace
}  // namespace ringway::balance
