// Smooth weighted round robin: the algorithm nginx uses for weighted upstreams.
//
// Each backend keeps a running score. On every pick each eligible backend's score grows by its
// weight, the highest score wins and pays back the sum of the eligible weights. Over a cycle of
// sum(weights) picks every backend is chosen exactly weight times, and the picks are spread out
// (weights {5,1,1} give a a b a c a a) instead of bunched (a a a a a b c).
//
// One instance per worker: no locks, no atomics, no allocation after construction.
//
//   const uint32_t weights[] = {5, 1, 1};
//   balance::SmoothWeightedRoundRobin rr(weights);
//   int i = rr.Pick([&](size_t b) { return healthy[b]; });
//   if (i < 0) { /* 503: nothing to send to */ }
#ifndef RINGWAY_BALANCE_SWRR_H_
#define RINGWAY_BALANCE_SWRR_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "absl/functional/function_ref.h"

namespace ringway::balance {

class SmoothWeightedRoundRobin {
 public:
  SmoothWeightedRoundRobin() = default;
  // A weight of 0 means the backend is never picked.
  explicit SmoothWeightedRoundRobin(std::span<const uint32_t> weights);

  // Next backend index; -1 when there is no backend with a non-zero weight.
  int Pick();
  // Next backend among those for which eligible(i) is true; -1 when none is. Ineligible
  // backends keep their score, so a backend that comes back resumes where it left off.
  int Pick(absl::FunctionRef<bool(size_t)> eligible);

  // Changes one backend's weight (slow start ramps it up); out-of-range indexes are ignored.
  // The backend keeps its score, so the sequence carries on without restarting. A backend set
  // to 0 hands its score to another backend with a weight, which keeps the invariants both
  // Picks rely on: the scores sum to zero, and a zero-weight backend's score is zero.
  void SetWeight(size_t backend, uint32_t weight);

  size_t size() const { return peers_.size(); }
  uint32_t weight(size_t backend) const { return static_cast<uint32_t>(peers_[backend].weight); }

 private:
  struct Peer {
    int64_t current = 0;  // running score; the scores of all peers always sum to zero
    int64_t weight = 0;
  };

  std::vector<Peer> peers_;
  int64_t total_weight_ = 0;  // sum of all weights (the unfiltered Pick's pay-back)
};

}  // namespace ringway::balance

#endif  // RINGWAY_BALANCE_SWRR_H_
