#include "balance/least_request.h"

#include <cstddef>
#include <cstdint>

namespace ringway::balance {

LeastRequest::LeastRequest(std::span<const uint32_t> weights, uint64_t seed)
    : peers_(weights.size()) {
  for (size_t i = 0; i < weights.size(); ++i) peers_[i].weight = weights[i];
  if (!peers_.empty()) next_ = static_cast<size_t>(seed % peers_.size());
}

int LeastRequest::Pick(const PickInput& in, Eligible eligible) {
  (void)in;
  const size_t n = peers_.size();
  // The first backend in scan order from next_ with the least load among those ok(i) accepts.
  auto least = [&](auto&& ok) -> int {
    int best = -1;
    uint64_t best_load = 0;  // (outstanding + 1) of the best
    uint64_t best_weight = 1;
    size_t i = next_;
    for (size_t k = 0; k < n; ++k, i = i + 1 == n ? 0 : i + 1) {
      const Peer& p = peers_[i];
      if (p.weight == 0) continue;
      const uint64_t load = uint64_t{p.outstanding} + 1;
      // Strictly less: the first of equals in scan order wins, so ties rotate with next_.
      if (best >= 0 && load * best_weight >= best_load * p.weight) continue;
      if (!ok(i)) continue;
      best = static_cast<int>(i);
      best_load = load;
      best_weight = p.weight;
    }
    return best;
  };
  // First without the predicate, a tight loop with no calls; when the winner is eligible it is
  // also the first least-loaded eligible one. Otherwise scan again asking the predicate, only
  // about backends that would beat the best so far.
  int best = least([](size_t) { return true; });
  if (best >= 0 && !eligible(static_cast<size_t>(best))) best = least(eligible);
  if (best >= 0) next_ = static_cast<size_t>(best) + 1 == n ? 0 : static_cast<size_t>(best) + 1;
  return best;
}

void LeastRequest::OnStart(size_t backend) {
  if (backend < peers_.size() && peers_[backend].outstanding != UINT32_MAX) {
    ++peers_[backend].outstanding;
  }
}

void LeastRequest::OnFinish(size_t backend, uint64_t latency_ns, uint64_t now_ns) {
  (void)latency_ns;
  (void)now_ns;
  if (backend < peers_.size() && peers_[backend].outstanding != 0) --peers_[backend].outstanding;
}

void LeastRequest::SetWeight(size_t backend, uint32_t weight) {
  if (backend < peers_.size()) peers_[backend].weight = weight;
}

}  // namespace ringway::balance
