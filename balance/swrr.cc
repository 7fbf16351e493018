#include "balance/swrr.h"

#include <cstdint>

namespace ringway::balance {

SmoothWeightedRoundRobin::SmoothWeightedRoundRobin(std::span<const uint32_t> weights)
    : peers_(weights.size()) {
  for (size_t i = 0; i < weights.size(); ++i) {
    peers_[i].weight = weights[i];
    total_weight_ += weights[i];
  }
}

int SmoothWeightedRoundRobin::Pick() {
  if (total_weight_ == 0) return -1;
  // Kept separate from the filtered loop so the common case makes no indirect call per peer.
  // Zero-weight peers need no test here: their score stays 0, and since all scores sum to zero
  // before the pick, the best score after adding the weights is at least total/n > 0.
  size_t best = 0;
  int64_t best_score = INT64_MIN;
  for (size_t i = 0; i < peers_.size(); ++i) {
    const int64_t score = peers_[i].current + peers_[i].weight;
    peers_[i].current = score;
    if (score > best_score) {
      best_score = score;
      best = i;
    }
  }
  peers_[best].current -= total_weight_;
  return static_cast<int>(best);
}

int SmoothWeightedRoundRobin::Pick(absl::FunctionRef<bool(size_t)> eligible) {
  size_t best = 0;
  int64_t best_score = INT64_MIN;
  int64_t total = 0;
  for (size_t i = 0; i < peers_.size(); ++i) {
    Peer& p = peers_[i];
    if (p.weight == 0 || !eligible(i)) continue;
    const int64_t score = p.current + p.weight;
    p.current = score;
    total += p.weight;
    if (score > best_score) {
      best_score = score;
      best = i;
    }
  }
  if (total == 0) return -1;
  peers_[best].current -= total;
  return static_cast<int>(best);
}

void SmoothWeightedRoundRobin::SetWeight(size_t backend, uint32_t weight) {
  if (backend >= peers_.size()) return;
  Peer& p = peers_[backend];
  total_weight_ += static_cast<int64_t>(weight) - p.weight;
  p.weight = weight;
  if (weight != 0 || p.current == 0) return;
  // Its score moves to the first backend that still has a weight; with none left, every score
  // is reset (nothing can be picked until a weight comes back).
  for (Peer& other : peers_) {
    if (other.weight != 0) {
      other.current += p.current;
      p.current = 0;
      return;
    }
  }
  for (Peer& other : peers_) other.current = 0;
}

}  // namespace ringway::balance
