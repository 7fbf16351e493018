#include "balance/p2c_ewma.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace ringway::balance {

P2cEwma::P2cEwma(std::span<const uint32_t> weights, uint64_t seed, uint64_t tau_ns)
    : weights_(weights),
      peers_(weights.size()),
      rng_(seed),
      tau_ns_(static_cast<double>(std::max<uint64_t>(tau_ns, 1))) {}

double P2cEwma::Estimate(size_t backend, uint64_t now_ns) const {
  const Peer& p = peers_[backend];
  if (!p.sampled) return p.outstanding == 0 ? 0 : kPenaltyFloorNs;
  if (p.outstanding != 0 || now_ns <= p.stamp_ns) return p.ewma_ns;
  return p.ewma_ns * std::exp(-static_cast<double>(now_ns - p.stamp_ns) / tau_ns_);
}

bool P2cEwma::Cheaper(size_t a, size_t b, uint64_t now_ns) const {
  // estimate_a * (o_a + 1) / w_a < estimate_b * (o_b + 1) / w_b, without the divisions.
  const double cost_a = Estimate(a, now_ns) * (peers_[a].outstanding + 1.0) * weights_.weight(b);
  const double cost_b = Estimate(b, now_ns) * (peers_[b].outstanding + 1.0) * weights_.weight(a);
  return cost_a < cost_b;
}

int P2cEwma::Pick(const PickInput& in, Eligible eligible) {
  const uint64_t total = weights_.total();
  if (total == 0) return -1;
  int a = -1;
  for (int k = 0; k < kDraws; ++k) {
    const size_t i = weights_.Draw(rng_);
    if (eligible(i)) {
      a = static_cast<int>(i);
      break;
    }
  }
  if (a >= 0) {
    // Only a has a weight: there is no second choice to make.
    if (weights_.weight(a) == total) return a;
    for (int k = 0; k < kDraws; ++k) {
      const size_t b = weights_.DrawOther(rng_, a);
      if (eligible(b)) return Cheaper(b, a, in.now_ns) ? static_cast<int>(b) : a;
    }
  }
  return ScanCheapest(in.now_ns, eligible);
}

int P2cEwma::ScanCheapest(uint64_t now_ns, Eligible eligible) {
  const size_t n = peers_.size();
  int best = -1;
  size_t i = static_cast<size_t>(rng_.Below(n));  // a random start spreads ties
  for (size_t k = 0; k < n; ++k, i = i + 1 == n ? 0 : i + 1) {
    if (weights_.weight(i) == 0) continue;
    if (best >= 0 && !Cheaper(i, static_cast<size_t>(best), now_ns)) continue;
    if (eligible(i)) best = static_cast<int>(i);
  }
  return best;
}

void P2cEwma::OnStart(size_t backend) {
  if (backend < peers_.size() && peers_[backend].outstanding != UINT32_MAX) {
    ++peers_[backend].outstanding;
  }
}

void P2cEwma::OnCancel(size_t backend) {
  if (backend < peers_.size() && peers_[backend].outstanding != 0) --peers_[backend].outstanding;
}

void P2cEwma::OnFinish(size_t backend, uint64_t latency_ns, uint64_t now_ns) {
  if (backend >= peers_.size()) return;
  Peer& p = peers_[backend];
  if (p.outstanding != 0) --p.outstanding;
  const double current = p.sampled ? p.ewma_ns : 0;
  if (latency_ns == 0) {
    const double penalty = std::clamp(2 * current, kPenaltyFloorNs, kPenaltyCapNs);
    p.ewma_ns = std::max(current, penalty);
  } else {
    const double sample = static_cast<double>(latency_ns);
    if (!p.sampled || sample >= current) {
      p.ewma_ns = sample;  // the peak: a slower answer counts in full at once
    } else {
      const double dt = now_ns > p.stamp_ns ? static_cast<double>(now_ns - p.stamp_ns) : 0;
      const double keep = std::exp(-dt / tau_ns_);
      p.ewma_ns = current * keep + sample * (1 - keep);
    }
  }
  p.stamp_ns = std::max(p.stamp_ns, now_ns);
  p.sampled = true;
}

}  // namespace ringway::balance
