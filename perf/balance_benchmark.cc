// Cost of one balancer pick, with and without a health filter.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "balance/balancer.h"
#include "balance/hash.h"
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

// Every algorithm through the Balancer interface, as a worker calls it: weights 1..5, a fresh
// key hash per pick (from a table, so hashing is not timed), the clock moving 1 us per pick.
// The latency-aware ones start from a warmed-up state: every backend has latency samples
// (1-5 ms) and a few requests outstanding on some, so their costs differ.
void RunPick(benchmark::State& state, Algorithm algorithm, bool one_in_ten_down) {
  const size_t n = static_cast<size_t>(state.range(0));
  std::vector<uint32_t> weights = Weights(n);
  std::vector<std::string> names;
  for (size_t i = 0; i < n; ++i)
    names.push_back("10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1) +
                    ":8080");
  std::vector<std::string_view> ids(names.begin(), names.end());
  std::unique_ptr<Balancer> b = MakeBalancer(algorithm, weights, /*seed=*/1, ids);
  constexpr uint64_t kStart = 1'000'000'000;
  for (size_t i = 0; i < n; ++i) {
    for (size_t k = 0; k < i % 4; ++k) b->OnStart(i);
    b->OnStart(i);
    b->OnFinish(i, 1'000'000 * (1 + i % 5), kStart);
  }
  std::vector<uint8_t> up(n, 1);
  if (one_in_ten_down) {
    for (size_t i = 0; i < n; i += 10) up[i] = 0;
  }
  constexpr size_t kKeys = 4096;
  std::vector<uint64_t> keys(kKeys);
  for (size_t i = 0; i < kKeys; ++i) keys[i] = Mix64(i + 1);
  PickInput in{.has_hash = true, .now_ns = kStart};
  size_t k = 0;
  for (auto _ : state) {
    in.hash = keys[k++ & (kKeys - 1)];
    in.now_ns += 1000;
    benchmark::DoNotOptimize(b->Pick(in, [&](size_t i) { return up[i] != 0; }));
  }
}

void BM_Pick(benchmark::State& state, Algorithm algorithm) { RunPick(state, algorithm, false); }
void BM_PickOneInTenDown(benchmark::State& state, Algorithm algorithm) {
  RunPick(state, algorithm, true);
}

#define RINGWAY_PICK_BENCHMARKS(name)                                       \
  BENCHMARK_CAPTURE(BM_Pick, name, Algorithm::k##name)->Arg(10)->Arg(1000); \
  BENCHMARK_CAPTURE(BM_PickOneInTenDown, name, Algorithm::k##name)->Arg(10)->Arg(1000)

RINGWAY_PICK_BENCHMARKS(RoundRobin);
RINGWAY_PICK_BENCHMARKS(Random);
RINGWAY_PICK_BENCHMARKS(LeastRequest);
RINGWAY_PICK_BENCHMARKS(P2cEwma);
RINGWAY_PICK_BENCHMARKS(Maglev);
RINGWAY_PICK_BENCHMARKS(Ketama);

// Round robin with equal weights takes the plain rotation instead of the weighted one.
void BM_PickRoundRobinEqualWeights(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  std::vector<uint32_t> weights(n, 1);
  std::unique_ptr<Balancer> b = MakeBalancer(Algorithm::kRoundRobin, weights, 1);
  std::vector<uint8_t> up(n, 1);
  for (size_t i = 0; i < n; i += 10) up[i] = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(b->Pick(PickInput{}, [&](size_t i) { return up[i] != 0; }));
  }
}
BENCHMARK(BM_PickRoundRobinEqualWeights)->Arg(10)->Arg(1000);

// Hashing a request key: a client address, and a longer header value.
void BM_Hash64(benchmark::State& state) {
  const std::string key(static_cast<size_t>(state.range(0)), 'k');
  for (auto _ : state) benchmark::DoNotOptimize(Hash64(key));
}
BENCHMARK(BM_Hash64)->Arg(13)->Arg(64);

}  // namespace
}  // namespace ringway::balance
