// Round robin: plain rotation while the weights are equal, smooth weighted round robin
// (balance/swrr.h) while they differ.
//
// Plain mode keeps a cursor and takes the next backend from it that is eligible and has a
// weight: one predicate call per pick while everything is up, and each eligible backend
// exactly once per turn of the cursor when some are down (the cursor moves past the picked
// backend, not by one, so the backend after a down one does not get its share). Weighted mode
// is O(n) per pick. SetWeight (slow start) switches between the two as the weights become
// equal or unequal; the weighted state is kept while in plain mode, so it resumes smoothly.
//
// The cursor starts at seed % n, so workers given different seeds do not all start with
// backend 0.
//
//   const uint32_t weights[] = {1, 1, 1};
//   balance::RoundRobin rr(weights, /*seed=*/worker_index);
//   int i = rr.Pick(PickInput{}, [&](size_t b) { return up[b]; });  // -1: none eligible
//   rr.SetWeight(2, 1);  // still plain; SetWeight(2, 3) makes it weighted
#ifndef RINGWAY_BALANCE_ROUND_ROBIN_H_
#define RINGWAY_BALANCE_ROUND_ROBIN_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "balance/balancer.h"
#include "balance/swrr.h"

namespace ringway::balance {

class RoundRobin final : public Balancer {
 public:
  explicit RoundRobin(std::span<const uint32_t> weights, uint64_t seed = 0);

  int Pick(const PickInput& in, Eligible eligible) override;
  void SetWeight(size_t backend, uint32_t weight) override;
  size_t size() const override { return weights_.size(); }

  // True while the non-zero weights differ (smooth weighted mode).
  bool weighted() const { return weighted_; }

 private:
  void UpdateMode();

  std::vector<uint32_t> weights_;
  SmoothWeightedRoundRobin swrr_;
  size_t next_ = 0;  // plain mode: where the next pick starts looking
  bool weighted_ = false;
};

}  // namespace ringway::balance

#endif  // RINGWAY_BALANCE_ROUND_ROBIN_H_
