#include "balance/round_robin.h"

#include <cstdint>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/balance/test_util.h"

namespace ringway::balance {
namespace {

using testutil::AllEligible;

std::string Sequence(RoundRobin& rr, int n, Eligible eligible = AllEligible) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    const int p = rr.Pick(PickInput{}, eligible);
    out.push_back(p < 0 ? '-' : static_cast<char>('a' + p));
  }
  return out;
}

TEST(RoundRobinTest, EqualWeightsRotate) {
  const uint32_t weights[] = {2, 2, 2, 2};
  RoundRobin rr(weights);
  EXPECT_FALSE(rr.weighted());
  EXPECT_EQ(rr.size(), 4u);
  EXPECT_EQ(Sequence(rr, 10), "abcdabcdab");
}

TEST(RoundRobinTest, SeedChoosesTheStart) {
  const uint32_t weights[] = {1, 1, 1};
  RoundRobin rr(weights, /*seed=*/4);
  EXPECT_EQ(Sequence(rr, 4), "bcab");
}

TEST(RoundRobinTest, SkipsIneligibleWithoutDoublingTheNextOne) {
  const uint32_t weights[] = {1, 1, 1, 1, 1};
  RoundRobin rr(weights);
  auto not_b = [](size_t i) { return i != 1; };
  // Each eligible backend once per turn: c does not also get b's turns.
  EXPECT_EQ(Sequence(rr, 8, not_b), "acdeacde");
  std::vector<int> counts(5);
  for (int i = 0; i < 4000; ++i) ++counts[rr.Pick(PickInput{}, not_b)];
  EXPECT_EQ(counts[1], 0);
  for (size_t i : {0, 2, 3, 4}) EXPECT_EQ(counts[i], 1000) << i;
}

TEST(RoundRobinTest, ZeroWeightsAreSkippedAndDoNotMakeItWeighted) {
  const uint32_t weights[] = {0, 3, 0, 3};
  RoundRobin rr(weights);
  EXPECT_FALSE(rr.weighted());
  EXPECT_EQ(Sequence(rr, 4), "bdbd");
}

TEST(RoundRobinTest, NoneEligibleOrNoWeight) {
  const uint32_t weights[] = {1, 2, 3};
  RoundRobin rr(weights);
  EXPECT_EQ(rr.Pick(PickInput{}, [](size_t) { return false; }), -1);
  const uint32_t zeros[] = {0, 0};
  RoundRobin none(zeros);
  EXPECT_EQ(none.Pick(PickInput{}, AllEligible), -1);
  RoundRobin empty(std::span<const uint32_t>{});
  EXPECT_EQ(empty.Pick(PickInput{}, AllEligible), -1);
  EXPECT_EQ(empty.size(), 0u);
}

TEST(RoundRobinTest, UnequalWeightsAreSmoothAndExact) {
  const uint32_t weights[] = {5, 1, 1};
  RoundRobin rr(weights);
  EXPECT_TRUE(rr.weighted());
  EXPECT_EQ(Sequence(rr, 14), "aabacaaaabacaa");
  const uint32_t more[] = {7, 3, 1, 12, 1, 6};
  RoundRobin big(more);
  std::vector<int> counts = testutil::CountPicks(big, 30 * 100, AllEligible);
  for (size_t i = 0; i < std::size(more); ++i) EXPECT_EQ(counts[i], int(more[i]) * 100) << i;
  EXPECT_EQ(counts[6], 0);  // no -1
}

TEST(RoundRobinTest, WeightedSkipsIneligible) {
  const uint32_t weights[] = {2, 1, 1, 4};
  RoundRobin rr(weights);
  std::vector<int> counts(4);
  for (int i = 0; i < 400; ++i) ++counts[rr.Pick(PickInput{}, [](size_t i) { return i != 3; })];
  EXPECT_EQ(counts[0], 200);
  EXPECT_EQ(counts[1], 100);
  EXPECT_EQ(counts[2], 100);
  EXPECT_EQ(counts[3], 0);
}

TEST(RoundRobinTest, SetWeightSwitchesModes) {
  const uint32_t weights[] = {10, 10, 10};
  RoundRobin rr(weights);
  EXPECT_FALSE(rr.weighted());
  // Slow start brings c back at 1/10 of its weight, then to the full weight.
  rr.SetWeight(2, 1);
  EXPECT_TRUE(rr.weighted());
  std::vector<int> counts(3);
  for (int i = 0; i < 2100; ++i) ++counts[rr.Pick(PickInput{}, AllEligible)];
  EXPECT_EQ(counts[0], 1000);
  EXPECT_EQ(counts[1], 1000);
  EXPECT_EQ(counts[2], 100);
  rr.SetWeight(2, 10);
  EXPECT_FALSE(rr.weighted());
  counts.assign(3, 0);
  for (int i = 0; i < 300; ++i) ++counts[rr.Pick(PickInput{}, AllEligible)];
  EXPECT_EQ(counts, (std::vector<int>{100, 100, 100}));
  rr.SetWeight(1, 0);
  EXPECT_FALSE(rr.weighted());
  EXPECT_EQ(Sequence(rr, 4).find('b'), std::string::npos);
  rr.SetWeight(9, 3);  // out of range: ignored
  EXPECT_FALSE(rr.weighted());
}

}  // namespace
}  // namespace ringway::balance
