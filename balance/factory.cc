#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "balance/balancer.h"
#include "balance/hash.h"
#include "balance/ketama.h"
#include "balance/least_request.h"
#include "balance/maglev.h"
#include "balance/p2c_ewma.h"
#include "balance/random.h"
#include "balance/round_robin.h"

namespace ringway::balance {

int ScanFromHash(uint64_t hash, std::span<const uint32_t> weights, Eligible eligible) {
  constexpr uint64_t kGamma = 0x9e3779b97f4a7c15;
  const size_t n = weights.size();
  size_t i = static_cast<size_t>((static_cast<unsigned __int128>(Mix64(hash ^ kGamma)) * n) >> 64);
  for (size_t k = 0; k < n; ++k, i = i + 1 == n ? 0 : i + 1) {
    if (weights[i] != 0 && eligible(i)) return static_cast<int>(i);
  }
  return -1;
}

std::unique_ptr<Balancer> MakeBalancer(Algorithm algorithm, std::span<const uint32_t> weights,
                                       uint64_t seed) {
  return MakeBalancer(algorithm, weights, seed, {});
}

std::unique_ptr<Balancer> MakeBalancer(Algorithm algorithm, std::span<const uint32_t> weights,
                                       uint64_t seed, std::span<const std::string_view> ids) {
  switch (algorithm) {
    case Algorithm::kRoundRobin:
      return std::make_unique<RoundRobin>(weights, seed);
    case Algorithm::kRandom:
      return std::make_unique<WeightedRandom>(weights, seed);
    case Algorithm::kLeastRequest:
      return std::make_unique<LeastRequest>(weights, seed);
    case Algorithm::kP2cEwma:
      return std::make_unique<P2cEwma>(weights, seed);
    case Algorithm::kMaglev:
      return std::make_unique<Maglev>(weights, ids, seed);
    case Algorithm::kKetama:
      return std::make_unique<Ketama>(weights, ids, seed);
  }
  return std::make_unique<RoundRobin>(weights, seed);
}

}  // namespace ringway::balance
