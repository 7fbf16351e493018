// Cost of one balancer pick, with and without a health filter.
#include <cstdint>
#include <vector>

#include "balance/swrr.h"
#include "benchmark/benchmark.h"

namespace ringway::balance {
namespace {

std::vector<uint32_t> Weights(size_t n) {
  std::vector<uint32_t> w(n);
  for (size_t i = 0; i < n; ++i) w[i] = 1 + static_cast<uint32_t>(i % 5);
  return w;
}

void BM_SwrrPick(benchmark::State& state) {
  std::vector<uint32_t> weights = Weights(static_cast<size_t>(state.range(0)));
  SmoothWeightedRoundRobin rr(weights);
  for (auto _ : state) benchmark::DoNotOptimize(rr.Pick());
}
BENCHMARK(BM_SwrrPick)->Arg(10)->Arg(1000);

// One backend in ten is down, as a health view read per backend would report.
void BM_SwrrPickEligible(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  std::vector<uint32_t> weights = Weights(n);
  std::vector<uint8_t> up(n, 1);
  for (size_t i = 0; i < n; i += 10) up[i] = 0;
  SmoothWeightedRoundRobin rr(weights);
  for (auto _ : state) {
    benchmark::DoNotOptimize(rr.Pick([&](size_t i) { return up[i] != 0; }));
  }
}
BENCHMARK(BM_SwrrPickEligible)->Arg(10)->Arg(1000);

}  // namespace
}  // namespace ringway::balance
