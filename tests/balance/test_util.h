// Helpers shared by the balancer tests: counting picks, and a small closed-loop simulation.
#ifndef RINGWAY_TESTS_BALANCE_TEST_UTIL_H_
#define RINGWAY_TESTS_BALANCE_TEST_UTIL_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <queue>
#include <span>
#include <utility>
#include <vector>

#include "balance/balancer.h"
#include "balance/hash.h"

namespace ringway::balance::testutil {

// Each backend's share of the total weight.
inline std::vector<double> Shares(std::span<const uint32_t> weights) {
  double total = 0;
  for (uint32_t w : weights) total += w;
  std::vector<double> shares;
  for (uint32_t w : weights) shares.push_back(w / total);
  return shares;
}

// Picks `n` times with no request outstanding across picks (OnStart then OnFinish at once),
// with a fresh key hash per pick; returns the picks per backend (index size() counts -1s).
inline std::vector<int> CountPicks(Balancer& b, int n, Eligible eligible, uint64_t key_base = 0) {
  std::vector<int> counts(b.size() + 1);
  for (int i = 0; i < n; ++i) {
    PickInput in{.hash = Mix64(key_base + i + 1), .has_hash = true, .now_ns = uint64_t(i) * 1000};
    const int p = b.Pick(in, eligible);
    if (p < 0) {
      ++counts[b.size()];
      continue;
    }
    ++counts[p];
    b.OnStart(p);
    b.OnFinish(p, 1'000'000, in.now_ns);
  }
  return counts;
}

// A closed loop: `concurrency` requests always in flight, each taking latency(backend, time)
// (0: it fails after 1 ms), picked with fresh key hashes. Requests arrive every `gap_ns`; when
// `concurrency` are in flight the next arrival waits for the first to finish. Returns picks
// per backend; the requests still in flight at the end finish (in order) before it returns.
inline std::vector<int> Simulate(Balancer& b, int picks, int concurrency, uint64_t gap_ns,
                                 const std::function<uint64_t(size_t, uint64_t)>& latency,
                                 Eligible eligible, uint64_t start_ns = 1'000'000'000) {
  struct Done {
    uint64_t at;
    size_t backend;
    uint64_t latency;
    bool operator>(const Done& o) const { return at > o.at; }
  };
  std::priority_queue<Done, std::vector<Done>, std::greater<Done>> in_flight;
  std::vector<int> counts(b.size());
  uint64_t now = start_ns;
  for (int i = 0; i < picks; ++i) {
    now += gap_ns;
    while (!in_flight.empty() &&
           (in_flight.top().at <= now || in_flight.size() >= size_t(concurrency))) {
      const Done d = in_flight.top();
      in_flight.pop();
      now = std::max(now, d.at);
      b.OnFinish(d.backend, d.latency, d.at);
    }
    PickInput in{.hash = Mix64(uint64_t(i) + 12345), .has_hash = true, .now_ns = now};
    const int p = b.Pick(in, eligible);
    if (p < 0) continue;
    ++counts[p];
    b.OnStart(p);
    const uint64_t l = latency(size_t(p), now);
    in_flight.push(Done{now + (l == 0 ? 1'000'000 : l), size_t(p), l});
  }
  for (; !in_flight.empty(); in_flight.pop()) {
    b.OnFinish(in_flight.top().backend, in_flight.top().latency, in_flight.top().at);
  }
  return counts;
}

inline bool AllEligible(size_t) { return true; }

}  // namespace ringway::balance::testutil

#endif  // RINGWAY_TESTS_BALANCE_TEST_UTIL_H_
