#include "balance/p2c_ewma.h"

#include <cmath>
#include <cstdint>
#include <vector>

#include "gtest/gtest.h"
#include "tests/balance/test_util.h"

namespace ringway::balance {
namespace {

using testutil::AllEligible;

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kSec = 1'000'000'000;
constexpr uint64_t kTau = P2cEwma::kDefaultTauNs;

TEST(P2cEwmaTest, PeakEwmaArithmetic) {
  const uint32_t weights[] = {1, 1};
  P2cEwma b(weights, 1);
  const uint64_t t0 = 100 * kSec;
  EXPECT_EQ(b.Estimate(0, t0), 0);  // never sampled, idle: try it
  b.OnStart(0);
  EXPECT_EQ(b.Estimate(0, t0), P2cEwma::kPenaltyFloorNs);  // never sampled, busy: one probe
  b.OnFinish(0, 10 * kMs, t0);
  EXPECT_DOUBLE_EQ(b.Estimate(0, t0), 10.0 * kMs);
  // A higher sample replaces the estimate at once.
  b.OnFinish(0, 20 * kMs, t0 + kSec);
  EXPECT_DOUBLE_EQ(b.Estimate(0, t0 + kSec), 20.0 * kMs);
  // A lower one moves it by 1 - exp(-dt / tau) of the way.
  b.OnFinish(0, 10 * kMs, t0 + kSec + kTau);
  const double want = 20.0 * kMs * std::exp(-1.0) + 10.0 * kMs * (1 - std::exp(-1.0));
  EXPECT_NEAR(b.Estimate(0, t0 + kSec + kTau), want, 1);
  // Idle, the estimate as read decays towards 0; with a request in flight it does not.
  EXPECT_NEAR(b.Estimate(0, t0 + kSec + 2 * kTau), want * std::exp(-1.0), 1);
  b.OnStart(0);
  EXPECT_NEAR(b.Estimate(0, t0 + kSec + 2 * kTau), want, 1);
  EXPECT_EQ(b.outstanding(0), 1u);
}

TEST(P2cEwmaTest, FailuresArePenalised) {
  const uint32_t weights[] = {1, 1};
  P2cEwma b(weights, 1);
  b.OnFinish(0, 10 * kMs, kSec);
  b.OnFinish(0, 0, kSec);  // failed: max(2 * 10 ms, 1 s)
  EXPECT_DOUBLE_EQ(b.Estimate(0, kSec), 1e9);
  b.OnFinish(0, 0, kSec);  // doubles
  EXPECT_DOUBLE_EQ(b.Estimate(0, kSec), 2e9);
  for (int i = 0; i < 20; ++i) b.OnFinish(0, 0, kSec);
  EXPECT_DOUBLE_EQ(b.Estimate(0, kSec), P2cEwma::kPenaltyCapNs);
  // A failure never lowers an estimate that is already above the cap.
  b.OnFinish(1, 100 * kSec, kSec);
  b.OnFinish(1, 0, kSec);
  EXPECT_DOUBLE_EQ(b.Estimate(1, kSec), 100.0 * kSec);
  // A first request that fails counts as the floor.
  P2cEwma fresh(weights, 1);
  fresh.OnFinish(1, 0, kSec);
  EXPECT_DOUBLE_EQ(fresh.Estimate(1, kSec), 1e9);
}

TEST(P2cEwmaTest, CancelEndsTheRequestWithoutASample) {
  const uint32_t weights[] = {1, 1};
  P2cEwma b(weights, 1);
  b.OnFinish(0, 10 * kMs, kSec);
  b.OnStart(0);
  b.OnCancel(0);  // neither a penalty nor a (short) latency sample
  EXPECT_EQ(b.outstanding(0), 0u);
  EXPECT_DOUBLE_EQ(b.Estimate(0, kSec), 10.0 * kMs);
  b.OnCancel(0);
  EXPECT_EQ(b.outstanding(0), 0u);
}

TEST(P2cEwmaTest, OutstandingNeverUnderflows) {
  const uint32_t weights[] = {1, 1};
  P2cEwma b(weights, 1);
  b.OnFinish(0, kMs, kSec);
  EXPECT_EQ(b.outstanding(0), 0u);
  b.OnStart(0);
  b.OnFinish(0, kMs, kSec);
  b.OnFinish(0, kMs, kSec);
  EXPECT_EQ(b.outstanding(0), 0u);
  b.OnStart(9);  // out of range: ignored
  b.OnFinish(9, kMs, kSec);
}

TEST(P2cEwmaTest, SlowBackendGetsASmallShare) {
  const uint32_t weights[] = {1, 1, 1, 1, 1};
  P2cEwma b(weights, 7);
  constexpr int kPicks = 100000;
  std::vector<int> counts = testutil::Simulate(
      b, kPicks, /*concurrency=*/20, /*gap_ns=*/100'000,
      [](size_t k, uint64_t) { return k == 2 ? 50 * kMs : 5 * kMs; }, AllEligible);
  EXPECT_LT(counts[2] / double(kPicks), 0.02);  // a fair share would be 0.2
  for (size_t k : {0, 1, 3, 4}) EXPECT_GT(counts[k] / double(kPicks), 0.23) << k;
}

TEST(P2cEwmaTest, ReactsAsSoonAsABackendSlowsDown) {
  const uint32_t weights[] = {1, 1, 1, 1, 1};
  P2cEwma b(weights, 8);
  uint64_t slow_from = UINT64_MAX;
  auto latency = [&](size_t k, uint64_t now) {
    return k == 2 && now >= slow_from ? 50 * kMs : 5 * kMs;
  };
  // 2 s of even traffic...
  std::vector<int> before =
      testutil::Simulate(b, 20000, 20, 100'000, latency, AllEligible, /*start_ns=*/kSec);
  EXPECT_NEAR(before[2] / 20000.0, 0.2, 0.03);
  // ... then backend 2 slows down tenfold: within the next 0.5 s it is nearly dropped.
  slow_from = 3 * kSec;
  std::vector<int> after =
      testutil::Simulate(b, 5000, 20, 100'000, latency, AllEligible, slow_from);
  EXPECT_LT(after[2] / 5000.0, 0.03);
}

TEST(P2cEwmaTest, FastFailingBackendDoesNotDrawTraffic) {
  const uint32_t weights[] = {1, 1, 1, 1};
  P2cEwma b(weights, 9);
  constexpr int kPicks = 50000;
  std::vector<int> counts = testutil::Simulate(
      b, kPicks, 20, 100'000, [](size_t k, uint64_t) { return k == 1 ? 0 : 5 * kMs; }, AllEligible);
  EXPECT_LT(counts[1] / double(kPicks), 0.01);
}

TEST(P2cEwmaTest, NewBackendGetsOneProbe) {
  const uint32_t weights[] = {1, 1, 1, 1, 1};
  P2cEwma b(weights, 10);
  for (size_t k = 0; k < 4; ++k) b.OnFinish(k, 5 * kMs, kSec);
  int probes = 0;
  for (int i = 0; i < 500; ++i) {
    const uint64_t now = kSec + i * 1000;
    const int p = b.Pick(PickInput{.now_ns = now}, AllEligible);
    ASSERT_GE(p, 0);
    b.OnStart(p);
    if (p == 4) {
      ++probes;  // its answer never comes back during this test
    } else {
      b.OnFinish(p, 5 * kMs, now);
    }
  }
  EXPECT_EQ(probes, 1);
}

TEST(P2cEwmaTest, IdleSlowBackendIsRetriedEventually) {
  const uint32_t weights[] = {1, 1};
  P2cEwma b(weights, 11);
  b.OnFinish(0, kSec, kSec);  // a 1 s answer
  uint64_t now = kSec;
  int first_retry_s = -1;
  for (int s = 1; s <= 200 && first_retry_s < 0; ++s) {
    now = kSec + s * kSec;
    for (int i = 0; i < 10; ++i) {
      const int p = b.Pick(PickInput{.now_ns = now}, AllEligible);
      if (p == 0) {
        first_retry_s = s;
        break;
      }
      b.OnFinish(1, kMs, now);  // backend 1 answers in 1 ms
    }
  }
  // tau * ln(1 s / 1 ms) = 69 s.
  EXPECT_GE(first_retry_s, 60);
  EXPECT_LE(first_retry_s, 75);
  // A fast answer now nearly restores it: the last sample is so old that it weighs exp(-7).
  b.OnFinish(0, kMs, now);
  EXPECT_LT(b.Estimate(0, now), 2.5 * kMs);
}

TEST(P2cEwmaTest, IneligibleNeverPickedMinusOneOnlyWhenNone) {
  std::vector<uint32_t> weights(50, 1);
  weights[7] = 0;
  P2cEwma b(weights, 12);
  for (int i = 0; i < 5000; ++i) {
    const uint64_t now = kSec + i * kMs;
    const int p = b.Pick(PickInput{.now_ns = now}, [](size_t k) { return k % 3 == 1; });
    ASSERT_GE(p, 0);
    ASSERT_EQ(p % 3, 1);
    ASSERT_NE(p, 7);
    b.OnStart(p);
    b.OnFinish(p, (1 + p % 4) * kMs, now);
  }
  // Only one eligible backend, then only a zero-weight one, then none.
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(b.Pick(PickInput{}, [](size_t k) { return k == 31; }), 31);
  EXPECT_EQ(b.Pick(PickInput{}, [](size_t k) { return k == 7; }), -1);
  EXPECT_EQ(b.Pick(PickInput{}, [](size_t) { return false; }), -1);
  P2cEwma empty(std::span<const uint32_t>{}, 1);
  EXPECT_EQ(empty.Pick(PickInput{}, AllEligible), -1);
}

TEST(P2cEwmaTest, EqualLatencyDistributionFollowsWeights) {
  const uint32_t weights[] = {1, 2, 3, 4};
  P2cEwma b(weights, 13);
  constexpr int kPicks = 100000;
  std::vector<int> counts = testutil::Simulate(
      b, kPicks, 40, 25'000, [](size_t, uint64_t) { return 1 * kMs; }, AllEligible);
  const std::vector<double> shares = testutil::Shares(weights);
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(counts[i] / double(kPicks), shares[i], 0.03) << i;
}

TEST(P2cEwmaTest, SetWeightShiftsTraffic) {
  const uint32_t weights[] = {1, 1};
  P2cEwma b(weights, 14);
  b.SetWeight(0, 0);
  std::vector<int> counts = testutil::CountPicks(b, 1000, AllEligible);
  EXPECT_EQ(counts[1], 1000);
}

}  // namespace
}  // namespace ringway::balance
