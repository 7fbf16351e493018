#include "balance/round_robin.h"

#include <cstddef>
#include <cstdint>

namespace ringway::balance {

RoundRobin::RoundRobin(std::span<const uint32_t> weights, uint64_t seed)
    : weights_(weights.begin(), weights.end()), swrr_(weights) {
  if (!weights_.empty()) next_ = static_cast<size_t>(seed % weights_.size());
  UpdateMode();
}

void RoundRobin::UpdateMode() {
  uint32_t first = 0;
  weighted_ = false;
  for (uint32_t w : weights_) {
    if (w == 0) continue;
    if (first == 0) {
      first = w;
    } else if (w != first) {
      weighted_ = true;
      return;
    }
  }
}

int RoundRobin::Pick(const PickInput& in, Eligible eligible) {
  (void)in;
  if (weighted_) return swrr_.Pick(eligible);
  const size_t n = weights_.size();
  size_t i = next_;
  for (size_t tried = 0; tried < n; ++tried) {
    if (weights_[i] != 0 && eligible(i)) {
      next_ = i + 1 == n ? 0 : i + 1;
      return static_cast<int>(i);
    }
    i = i + 1 == n ? 0 : i + 1;
  }
  return -1;
}

void RoundRobin::SetWeight(size_t backend, uint32_t weight) {
  if (backend >= weights_.size() || weights_[backend] == weight) return;
  weights_[backend] = weight;
  swrr_.SetWeight(backend, weight);
  UpdateMode();
}

}  // namespace ringway::balance
