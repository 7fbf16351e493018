// A retry budget (the Finagle/linkerd kind): over a sliding window of the last ten seconds,
// retries may be at most `percent` of requests, plus `min_per_second` retries a second that are
// always allowed so that a quiet upstream can retry at all.
//
// It bounds the extra load retries put on a pool to a fraction of the real load, whatever
// happens (during a total outage every request would otherwise be sent `tries` times), while a
// burst of failures (a backend that crashes with many requests in flight) is retried in full,
// because the requests of the seconds before it paid for those retries.
//
// One per worker per upstream: plain counters, no atomics. Time is whole seconds (any clock).
//
//   balance::RetryBudget budget(20, 3);
//   budget.OnRequest(now_s);                        // every request
//   if (budget.TryRetry(now_s)) { /* retry */ }     // before each retry
#ifndef RINGWAY_BALANCE_RETRY_BUDGET_H_
#define RINGWAY_BALANCE_RETRY_BUDGET_H_

#include <cstdint>

namespace ringway::balance {

class RetryBudget {
 public:
  static constexpr uint64_t kWindowSeconds = 10;

  RetryBudget() = default;
  RetryBudget(uint32_t percent, uint32_t min_per_second)
      : percent_(percent), min_per_second_(min_per_second) {}

  void OnRequest(uint64_t now_s) {
    Advance(now_s);
    ++requests_[now_s % kWindowSeconds];
  }

  // Takes one retry from the budget; false when it is spent.
  bool TryRetry(uint64_t now_s) {
    Advance(now_s);
    uint64_t requests = 0;
    uint64_t retries = 0;
    for (uint64_t i = 0; i < kWindowSeconds; ++i) {
      requests += requests_[i];
      retries += retries_[i];
    }
    const uint64_t allowed = requests * percent_ / 100 + min_per_second_ * kWindowSeconds;
    if (retries >= allowed) return false;
    ++retries_[now_s % kWindowSeconds];
    return true;
  }

 private:
  // Clears the buckets of the seconds that left the window since the last call.
  void Advance(uint64_t now_s) {
    if (now_s <= second_) return;
    if (now_s - second_ >= kWindowSeconds) {
      for (uint64_t i = 0; i < kWindowSeconds; ++i) requests_[i] = retries_[i] = 0;
    } else {
      for (uint64_t s = second_ + 1; s <= now_s; ++s) {
        requests_[s % kWindowSeconds] = retries_[s % kWindowSeconds] = 0;
      }
    }
    second_ = now_s;
  }

  uint32_t percent_ = 20;
  uint32_t min_per_second_ = 3;
  uint64_t second_ = 0;
  uint64_t requests_[kWindowSeconds] = {};
  uint64_t retries_[kWindowSeconds] = {};
};

}  // namespace ringway::balance

#endif  // RINGWAY_BALANCE_RETRY_BUDGET_H_
