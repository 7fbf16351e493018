// Weighted random: each pick draws a backend with probability weight / sum of weights.
//
// The weights are kept as prefix sums; a draw is one random number and a binary search over
// them, O(log n). When the drawn backend is ineligible the draw is repeated a few times
// (rejection sampling keeps the distribution exactly proportional over the eligible ones);
// when that keeps failing (most of the weight is down) one pass sums the eligible weights and a
// second finds the drawn one, so a pick never fails while anything eligible has a weight.
//
// This file also holds the two pieces the other randomised balancers share: Rng, a small
// seeded generator (splitmix64: a Weyl sequence through Mix64), and WeightTable, the prefix
// sums with their draw.
//
//   const uint32_t weights[] = {1, 1, 2};
//   balance::WeightedRandom r(weights, /*seed=*/worker_index);
//   int i = r.Pick(PickInput{}, [&](size_t b) { return up[b]; });
#ifndef RINGWAY_BALANCE_RANDOM_H_
#define RINGWAY_BALANCE_RANDOM_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "balance/balancer.h"
#include "balance/hash.h"

namespace ringway::balance {

// splitmix64. Not for anything secret; the same seed gives the same sequence everywhere.
class Rng {
 public:
  explicit Rng(uint64_t seed = 0) : state_(seed) {}

  uint64_t Next() {
    state_ += 0x9e3779b97f4a7c15;
    return Mix64(state_);
  }
  // Uniform in [0, n) for n > 0 (a multiply-shift, with a bias below n / 2^64).
  uint64_t Below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }

 private:
  uint64_t state_;
};

// Weights and their prefix sums, for drawing an index with probability weight / total.
class WeightTable {
 public:
  WeightTable() = default;
  explicit WeightTable(std::span<const uint32_t> weights);

  // O(n): the prefix sums after `backend` are redone. Out-of-range indexes are ignored.
  void Set(size_t backend, uint32_t weight);

  size_t size() const { return weights_.size(); }
  uint32_t weight(size_t backend) const { return weights_[backend]; }
  uint64_t total() const { return prefix_.empty() ? 0 : prefix_.back(); }

  // The index whose share of [0, total()) holds r; needs r < total(). Never a zero weight.
  size_t Find(uint64_t r) const;
  // A random index with probability weight / total(); needs total() > 0.
  size_t Draw(Rng& rng) const {
    return uniform_ ? static_cast<size_t>(rng.Below(weights_.size())) : Find(rng.Below(total()));
  }
  // Like Draw, never `except` (which must have a weight); needs total() > weight(except).
  size_t DrawOther(Rng& rng, size_t except) const;

 private:
  void Update();

  std::vector<uint32_t> weights_;
  std::vector<uint64_t> prefix_;  // prefix_[i] = weights_[0] + ... + weights_[i]
  bool uniform_ = false;          // all weights equal and non-zero: no search needed
};

class WeightedRandom final : public Balancer {
 public:
  // Rejection draws before the two-pass fallback.
  static constexpr int kDraws = 4;

  WeightedRandom(std::span<const uint32_t> weights, uint64_t seed);

  int Pick(const PickInput& in, Eligible eligible) override;
  void SetWeight(size_t backend, uint32_t weight) override { table_.Set(backend, weight); }
  size_t size() const override { return table_.size(); }

 private:
  WeightTable table_;
  Rng rng_;
};

}  // namespace ringway::balance

#endif  // RINGWAY_BALANCE_RANDOM_H_
