#include "balance/retry_budget.h"

#include "gtest/gtest.h"

namespace ringway::balance {
namespace {

TEST(RetryBudgetTest, MinimumPerSecondIsAlwaysAllowed) {
  RetryBudget b(20, 3);
  int allowed = 0;
  for (int i = 0; i < 100; ++i) allowed += b.TryRetry(5) ? 1 : 0;
  EXPECT_EQ(allowed, 30);  // 3 a second over the 10-second window, no requests at all
}

TEST(RetryBudgetTest, RetriesAreAShareOfRequests) {
  RetryBudget b(20, 0);
  for (int i = 0; i < 1000; ++i) b.OnRequest(100);
  int allowed = 0;
  for (int i = 0; i < 1000; ++i) allowed += b.TryRetry(100) ? 1 : 0;
  EXPECT_EQ(allowed, 200);
}

TEST(RetryBudgetTest, ABurstIsCoveredByTheRequestsBeforeIt) {
  // 50 requests a second for 10 seconds, then 40 failures at once: all retried.
  RetryBudget b(20, 3);
  for (uint64_t s = 1; s <= 10; ++s) {
    for (int i = 0; i < 50; ++i) b.OnRequest(s);
  }
  int allowed = 0;
  for (int i = 0; i < 40; ++i) allowed += b.TryRetry(10) ? 1 : 0;
  EXPECT_EQ(allowed, 40);
}

TEST(RetryBudgetTest, OldSecondsLeaveTheWindow) {
  RetryBudget b(50, 0);
  for (int i = 0; i < 100; ++i) b.OnRequest(1);
  for (int i = 0; i < 50; ++i) EXPECT_TRUE(b.TryRetry(1));
  EXPECT_FALSE(b.TryRetry(1));
  EXPECT_FALSE(b.TryRetry(10));  // second 1 is still in the window [1, 10]
  EXPECT_FALSE(b.TryRetry(11));  // gone, with its requests: nothing left to pay for a retry
  for (int i = 0; i < 10; ++i) b.OnRequest(11);
  int allowed = 0;
  for (int i = 0; i < 10; ++i) allowed += b.TryRetry(11) ? 1 : 0;
  EXPECT_EQ(allowed, 5);
  // A long gap clears everything.
  for (int i = 0; i < 4; ++i) b.OnRequest(1000);
  EXPECT_TRUE(b.TryRetry(1000));
  EXPECT_TRUE(b.TryRetry(1000));
  EXPECT_FALSE(b.TryRetry(1000));
}

TEST(RetryBudgetTest, OutageCannotMultiplyLoad) {
  // Every request fails and wants 2 retries: over a minute, retries stay near 20% of requests.
  RetryBudget b(20, 3);
  uint64_t requests = 0;
  uint64_t retries = 0;
  for (uint64_t s = 1; s <= 60; ++s) {
    for (int i = 0; i < 1000; ++i) {
      b.OnRequest(s);
      ++requests;
      for (int k = 0; k < 2; ++k) retries += b.TryRetry(s) ? 1 : 0;
    }
  }
  EXPECT_LE(retries, requests * 20 / 100 + 3 * 60);
  EXPECT_GE(retries, requests * 15 / 100);
}

}  // namespace
}  // namespace ringway::balance
