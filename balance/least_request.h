// Least request: the eligible backend with the fewest outstanding requests per unit of
// weight.
//
// A backend's load is (outstanding + 1) / weight: what it would carry if it took this request,
// so that with nothing outstanding the heavier backend goes first, and with equal weights this
// is plain "fewest outstanding". Loads are compared by cross-multiplying,
// (o_a + 1) * w_b < (o_b + 1) * w_a, with no division. Every pick scans all backends, O(n),
// starting just after the previous pick, so ties rotate and an idle pool is served round robin.
// The scan first ignores health and asks the predicate about the winner only; when that one is
// down, a second scan asks about each backend that would beat the best so far.
//
// Weights act as capacities, not as traffic shares: the picks follow the weights only while
// enough requests are in flight for the counts to differ. With one request at a time, every pick
// sees all backends idle and the heaviest wins every time (weights 1:2:3:4 at 1, 4 and 10 in
// flight: 0:0:0:100%, 0:25:25:50%, 10:20:30:40%). Use round robin or random where weights must
// be shares at any load.
//
// OnStart and OnFinish keep the outstanding counts; an OnFinish without an OnStart does not
// take a count below zero.
//
//   const uint32_t weights[] = {1, 1, 2};
//   balance::LeastRequest lr(weights);
//   int i = lr.Pick(PickInput{}, [&](size_t b) { return up[b]; });
//   lr.OnStart(i);
//   ...
//   lr.OnFinish(i, latency_ns, now_ns);
#ifndef RINGWAY_BALANCE_LEAST_REQUEST_H_
#define RINGWAY_BALANCE_LEAST_REQUEST_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "balance/balancer.h"

namespace ringway::balance {

class LeastRequest final : public Balancer {
 public:
  explicit LeastRequest(std::span<const uint32_t> weights, uint64_t seed = 0);

  int Pick(const PickInput& in, Eligible eligible) override;
  void OnStart(size_t backend) override;
  void OnFinish(size_t backend, uint64_t latency_ns, uint64_t now_ns) override;
  void OnCancel(size_t backend) override { OnFinish(backend, 0, 0); }
  void SetWeight(size_t backend, uint32_t weight) override;
  size_t size() const override { return peers_.size(); }

  uint32_t outstanding(size_t backend) const { return peers_[backend].outstanding; }

 private:
  struct Peer {
    uint32_t weight = 0;
    uint32_t outstanding = 0;
  };

  std::vector<Peer> peers_;
  size_t next_ = 0;  // where the next scan starts: just after the previous pick
};

}  // namespace ringway::balance

#endif  // RINGWAY_BALANCE_LEAST_REQUEST_H_
