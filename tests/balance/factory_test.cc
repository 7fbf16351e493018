// The contract every balancer keeps, checked for each algorithm through MakeBalancer.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "balance/balancer.h"
#include "balance/hash.h"
#include "gtest/gtest.h"
#include "tests/balance/test_util.h"

namespace ringway::balance {
namespace {

using testutil::AllEligible;

class BalancerContractTest : public ::testing::TestWithParam<Algorithm> {};

std::string Name(const ::testing::TestParamInfo<Algorithm>& info) {
  switch (info.param) {
    case Algorithm::kRoundRobin:
      return "RoundRobin";
    case Algorithm::kRandom:
      return "Random";
    case Algorithm::kLeastRequest:
      return "LeastRequest";
    case Algorithm::kP2cEwma:
      return "P2cEwma";
    case Algorithm::kMaglev:
      return "Maglev";
    case Algorithm::kKetama:
      return "Ketama";
  }
  return "Unknown";
}

INSTANTIATE_TEST_SUITE_P(All, BalancerContractTest,
                         ::testing::Values(Algorithm::kRoundRobin, Algorithm::kRandom,
                                           Algorithm::kLeastRequest, Algorithm::kP2cEwma,
                                           Algorithm::kMaglev, Algorithm::kKetama),
                         Name);

TEST_P(BalancerContractTest, SizeAndEmpty) {
  const uint32_t weights[] = {1, 2, 3};
  EXPECT_EQ(MakeBalancer(GetParam(), weights, 1)->size(), 3u);
  std::unique_ptr<Balancer> empty = MakeBalancer(GetParam(), {}, 1);
  EXPECT_EQ(empty->size(), 0u);
  for (bool has_hash : {false, true}) {
    EXPECT_EQ(empty->Pick(PickInput{.hash = 7, .has_hash = has_hash}, AllEligible), -1);
  }
}

// Whatever subset is eligible, the pick is in it, and -1 only when it is empty.
TEST_P(BalancerContractTest, PicksOnlyEligibleAndFailsOnlyWhenNone) {
  std::vector<uint32_t> weights(12);
  for (size_t i = 0; i < weights.size(); ++i) weights[i] = 1 + i % 3;
  weights[4] = 0;  // never picked
  std::unique_ptr<Balancer> b = MakeBalancer(GetParam(), weights, 3);
  for (uint32_t mask = 0; mask < (1u << 12); mask += 7) {
    auto eligible = [&](size_t i) { return (mask >> i & 1) != 0; };
    const bool any = (mask & ~(1u << 4)) != 0;
    for (int k = 0; k < 8; ++k) {
      const PickInput in{.hash = Mix64(mask * 8 + k), .has_hash = k % 2 == 0, .now_ns = mask};
      const int p = b->Pick(in, eligible);
      if (!any) {
        ASSERT_EQ(p, -1) << "mask " << mask;
        continue;
      }
      ASSERT_GE(p, 0) << "mask " << mask;
      ASSERT_LT(p, 12);
      ASSERT_TRUE(eligible(size_t(p))) << "mask " << mask << " picked " << p;
      ASSERT_NE(p, 4);
      b->OnStart(size_t(p));
      if (k % 3 == 0) b->OnFinish(size_t(p), 1000 + size_t(p) * 100, mask);
    }
  }
}

TEST_P(BalancerContractTest, AllZeroWeightsPickNothing) {
  const uint32_t weights[] = {0, 0, 0};
  std::unique_ptr<Balancer> b = MakeBalancer(GetParam(), weights, 1);
  EXPECT_EQ(b->Pick(PickInput{}, AllEligible), -1);
  EXPECT_EQ(b->Pick(PickInput{.hash = 5, .has_hash = true}, AllEligible), -1);
}

// Under steady load with equal latencies, every algorithm's picks follow the weights.
TEST_P(BalancerContractTest, DistributionFollowsWeights) {
  const uint32_t weights[] = {1, 2, 3, 4};
  std::unique_ptr<Balancer> b = MakeBalancer(GetParam(), weights, 5);
  constexpr int kPicks = 100000;
  std::vector<int> counts = testutil::Simulate(
      *b, kPicks, /*concurrency=*/40, /*gap_ns=*/25'000,
      [](size_t, uint64_t) { return uint64_t{1'000'000}; }, AllEligible);
  const std::vector<double> shares = testutil::Shares(weights);
  // Ketama's shares are only as good as its point spread; the others are close.
  const double tolerance = GetParam() == Algorithm::kKetama ? 0.04 : 0.02;
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_NEAR(counts[i] / double(kPicks), shares[i], tolerance) << "backend " << i;
  }
}

TEST_P(BalancerContractTest, IdsDoNotChangeTheContract) {
  const uint32_t weights[] = {1, 1, 1};
  const std::string_view ids[] = {"x:1", "y:1", "z:1"};
  std::unique_ptr<Balancer> b = MakeBalancer(GetParam(), weights, 1, ids);
  for (int k = 0; k < 100; ++k) {
    const int p =
        b->Pick(PickInput{.hash = Mix64(k), .has_hash = true}, [](size_t i) { return i != 1; });
    ASSERT_TRUE(p == 0 || p == 2);
  }
}

}  // namespace
}  // namespace ringway::balance
