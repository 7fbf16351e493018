#include "balance/random.h"

#include <cstddef>
#include <cstdint>

namespace ringway::balance {

WeightTable::WeightTable(std::span<const uint32_t> weights)
    : weights_(weights.begin(), weights.end()), prefix_(weights.size()) {
  Update();
}

void WeightTable::Set(size_t backend, uint32_t weight) {
  if (backend >= weights_.size() || weights_[backend] == weight) return;
  weights_[backend] = weight;
  Update();
}

void WeightTable::Update() {
  uint64_t sum = 0;
  uniform_ = !weights_.empty();
  for (size_t i = 0; i < weights_.size(); ++i) {
    sum += weights_[i];
    prefix_[i] = sum;
    if (weights_[i] == 0 || weights_[i] != weights_[0]) uniform_ = false;
  }
}

size_t WeightTable::Find(uint64_t r) const {
  // The first i with prefix_[i] > r; a zero weight repeats the previous sum, so it is skipped.
  // Branch-free halving: the answer always lies in [base, base + len).
  const uint64_t* base = prefix_.data();
  size_t len = prefix_.size();
  while (len > 1) {
    const size_t half = len / 2;
    // A mask, not a branch: the comparison is a coin flip that would mispredict half the time.
    base += half & (size_t{0} - static_cast<size_t>(base[half - 1] <= r));
    len -= half;
  }
  return static_cast<size_t>(base - prefix_.data());
}

size_t WeightTable::DrawOther(Rng& rng, size_t except) const {
  if (uniform_) {
    size_t i = static_cast<size_t>(rng.Below(weights_.size() - 1));
    return i >= except ? i + 1 : i;
  }
  // Draw over the total without `except`'s share, then step over that share.
  uint64_t r = rng.Below(total() - weights_[except]);
  if (r >= prefix_[except] - weights_[except]) r += weights_[except];
  return Find(r);
}

WeightedRandom::WeightedRandom(std::span<const uint32_t> weights, uint64_t seed)
    : table_(weights), rng_(seed) {}

int WeightedRandom::Pick(const PickInput& in, Eligible eligible) {
  (void)in;
  if (table_.total() == 0) return -1;
  for (int k = 0; k < kDraws; ++k) {
    const size_t i = table_.Draw(rng_);
    if (eligible(i)) return static_cast<int>(i);
  }
  // Most of the weight is ineligible: draw among the eligible ones exactly.
  const size_t n = table_.size();
  uint64_t sum = 0;
  int last = -1;
  for (size_t i = 0; i < n; ++i) {
    if (table_.weight(i) != 0 && eligible(i)) {
      sum += table_.weight(i);
      last = static_cast<int>(i);
    }
  }
  if (sum == 0) return -1;
  uint64_t r = rng_.Below(sum);
  for (size_t i = 0; i < n; ++i) {
    const uint32_t w = table_.weight(i);
    if (w == 0 || !eligible(i)) continue;
    if (r < w) return static_cast<int>(i);
    r -= w;
  }
  return last;  // the health view changed between the two passes
}

}  // namespace ringway::balance
