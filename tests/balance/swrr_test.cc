#include "balance/swrr.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace ringway::balance {
namespace {

std::string Sequence(SmoothWeightedRoundRobin& rr, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    int p = rr.Pick();
    out.push_back(p < 0 ? '-' : static_cast<char>('a' + p));
  }
  return out;
}

TEST(SmoothWeightedRoundRobinTest, InterleavesSmoothly) {
  const uint32_t weights[] = {5, 1, 1};
  SmoothWeightedRoundRobin rr(weights);
  EXPECT_EQ(rr.size(), 3u);
  // The same smooth sequence every cycle of sum(weights) picks.
  for (int cycle = 0; cycle < 4; ++cycle) {
    EXPECT_EQ(Sequence(rr, 7), "aabacaa") << "cycle " << cycle;
  }
}

TEST(SmoothWeightedRoundRobinTest, DistributionIsExactlyProportional) {
  const uint32_t weights[] = {7, 3, 1, 12, 1, 6};
  uint32_t total = 0;
  for (uint32_t w : weights) total += w;
  SmoothWeightedRoundRobin rr(weights);
  constexpr uint32_t kCycles = 100;
  std::vector<uint32_t> counts(std::size(weights));
  for (uint32_t i = 0; i < kCycles * total; ++i) {
    int p = rr.Pick();
    ASSERT_GE(p, 0);
    ++counts[p];
  }
  for (size_t i = 0; i < std::size(weights); ++i) {
    EXPECT_EQ(counts[i], kCycles * weights[i]) << "backend " << i;
  }
}

TEST(SmoothWeightedRoundRobinTest, EqualWeightsArePlainRoundRobin) {
  const uint32_t weights[] = {3, 3, 3, 3};
  SmoothWeightedRoundRobin rr(weights);
  EXPECT_EQ(Sequence(rr, 12), "abcdabcdabcd");
}

TEST(SmoothWeightedRoundRobinTest, ZeroWeightIsNeverPicked) {
  const uint32_t weights[] = {0, 2, 0, 1};
  SmoothWeightedRoundRobin rr(weights);
  EXPECT_EQ(Sequence(rr, 6), "bdbbdb");
  EXPECT_EQ(rr.Pick([](size_t i) { return i == 0 || i == 2; }), -1);
}

TEST(SmoothWeightedRoundRobinTest, SkipsIneligibleAndSpreadsTheirShare) {
  const uint32_t weights[] = {2, 1, 1, 4};
  SmoothWeightedRoundRobin rr(weights);
  auto not_d = [](size_t i) { return i != 3; };
  std::vector<int> counts(4);
  for (int i = 0; i < 400; ++i) {
    int p = rr.Pick(not_d);
    ASSERT_GE(p, 0);
    ASSERT_NE(p, 3);
    ++counts[p];
  }
  // The eligible weights are 2:1:1, so the share of d goes to the others in that ratio.
  EXPECT_EQ(counts[0], 200);
  EXPECT_EQ(counts[1], 100);
  EXPECT_EQ(counts[2], 100);
  EXPECT_EQ(counts[3], 0);
}

TEST(SmoothWeightedRoundRobinTest, BackendThatReturnsGetsItsShareAgain) {
  const uint32_t weights[] = {1, 1, 2};
  SmoothWeightedRoundRobin rr(weights);
  for (int i = 0; i < 9; ++i) {
    EXPECT_NE(rr.Pick([](size_t i) { return i != 2; }), 2);
  }
  std::vector<int> counts(3);
  for (int i = 0; i < 400; ++i) ++counts[rr.Pick([](size_t) { return true; })];
  EXPECT_EQ(counts[0], 100);
  EXPECT_EQ(counts[1], 100);
  EXPECT_EQ(counts[2], 200);
}

TEST(SmoothWeightedRoundRobinTest, FilterAcceptingAllMatchesUnfiltered) {
  const uint32_t weights[] = {5, 1, 1};
  SmoothWeightedRoundRobin a(weights);
  SmoothWeightedRoundRobin b(weights);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(a.Pick(), b.Pick([](size_t) { return true; }));
  }
}

TEST(SmoothWeightedRoundRobinTest, NoneEligibleReturnsMinusOne) {
  const uint32_t weights[] = {1, 2, 3};
  SmoothWeightedRoundRobin rr(weights);
  EXPECT_EQ(rr.Pick([](size_t) { return false; }), -1);
  // A failed pick leaves the state alone.
  EXPECT_EQ(Sequence(rr, 6), "cbacbc");
}

TEST(SmoothWeightedRoundRobinTest, EmptyReturnsMinusOne) {
  SmoothWeightedRoundRobin rr;
  EXPECT_EQ(rr.size(), 0u);
  EXPECT_EQ(rr.Pick(), -1);
  EXPECT_EQ(rr.Pick([](size_t) { return true; }), -1);
  SmoothWeightedRoundRobin from_empty_span(std::span<const uint32_t>{});
  EXPECT_EQ(from_empty_span.Pick(), -1);
}

TEST(SmoothWeightedRoundRobinTest, SingleBackend) {
  const uint32_t weights[] = {10};
  SmoothWeightedRoundRobin rr(weights);
  for (int i = 0; i < 25; ++i) EXPECT_EQ(rr.Pick(), 0);
  EXPECT_EQ(rr.Pick([](size_t) { return true; }), 0);
  EXPECT_EQ(rr.Pick([](size_t) { return false; }), -1);
}

TEST(SmoothWeightedRoundRobinTest, SetWeightChangesTheShares) {
  const uint32_t weights[] = {1, 1, 1};
  SmoothWeightedRoundRobin rr(weights);
  EXPECT_EQ(Sequence(rr, 3), "abc");
  rr.SetWeight(2, 2);
  EXPECT_EQ(rr.weight(2), 2u);
  std::vector<int> counts(3);
  for (int i = 0; i < 400; ++i) ++counts[rr.Pick()];
  EXPECT_EQ(counts[0], 100);
  EXPECT_EQ(counts[1], 100);
  EXPECT_EQ(counts[2], 200);
  rr.SetWeight(7, 5);  // out of range: ignored
  EXPECT_EQ(rr.size(), 3u);
}

TEST(SmoothWeightedRoundRobinTest, SetWeightToZeroAndBack) {
  const uint32_t weights[] = {3, 2, 1};
  SmoothWeightedRoundRobin rr(weights);
  // Leave non-zero scores behind, then drop a backend mid-cycle.
  for (int i = 0; i < 4; ++i) rr.Pick();
  rr.SetWeight(0, 0);
  std::vector<int> counts(3);
  for (int i = 0; i < 300; ++i) {
    ++counts[rr.Pick()];
    ++counts[rr.Pick([](size_t) { return true; })];
  }
  EXPECT_EQ(counts[0], 0);
  EXPECT_NEAR(counts[1], 400, 2);
  EXPECT_NEAR(counts[2], 200, 2);
  rr.SetWeight(1, 0);
  rr.SetWeight(2, 0);
  EXPECT_EQ(rr.Pick(), -1);
  EXPECT_EQ(rr.Pick([](size_t) { return true; }), -1);
  rr.SetWeight(0, 1);
  rr.SetWeight(2, 1);
  EXPECT_EQ(Sequence(rr, 4), "acac");
}

}  // namespace
}  // namespace ringway::balance
