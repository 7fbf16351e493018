// Power of two choices over a peak-EWMA latency (the "peak EWMA" of Finagle and linkerd).
//
// Each pick draws two distinct eligible backends at random (with probability proportional to
// weight) and takes the one with the lower cost
//
//   cost = latency estimate * (outstanding + 1) / weight
//
// compared by cross-multiplying, without division. The latency estimate of a backend is an
// exponentially weighted moving average of its response latencies in continuous time: a sample
// arriving dt after the previous one moves the estimate by a fraction 1 - exp(-dt / tau) of the
// difference, so the past fades with time constant tau (default 10 s) however many requests
// there are. It is "peak" because a sample above the estimate replaces it at once: a backend
// that slows down is avoided from its first slow response, and forgiven only gradually.
//
// Choices that are not in the papers, and why:
//  - A failed request (OnFinish with latency 0: reset, refused, timed out) counts as a sample
//    of max(2 * estimate, 1 s), at most 60 s (and never below the estimate). Without it, a
//    backend that fails fast would look like the fastest one and draw all the traffic; the
//    1 s floor puts it behind any healthy backend, doubling keeps a backend that keeps failing
//    behind, and the cap bounds how long it takes to be tried again (below).
//  - A backend with no samples yet costs 0 while it has nothing outstanding, so a new backend
//    gets a request at once, and counts 1 s per request once it has some, so that an unknown
//    backend gets one probe at a time, not a burst, until its first response says what it is.
//  - While a backend has nothing outstanding its estimate, as read by Pick, decays towards 0
//    with the same tau (as if it were answering instantly). Without that, a backend that was
//    slow once and then lost every comparison would never be tried again; with it, a 1 s
//    backend among 1 ms ones is retried after about tau * ln(1000) = 70 s of idleness, and a
//    fast answer then (a sample long after the last one) restores it almost fully. A backend
//    with requests in flight does not decay, so a hung backend does not become attractive.
//
// As with least request, weights act as capacities: with few requests in flight the cost's
// division by weight favours the heavier backends beyond their share (weights 1:2:3:4 with
// equal latencies, 1 in flight: 0:5:24:72%; 10 in flight: 8:19:31:43%; 40: 9:20:30:41%).
//
// When two distinct eligible backends cannot be drawn in a few tries (most are down, or only
// one is up) the pick scans every backend for the lowest cost, so it fails only when nothing
// eligible has a weight.
//
//   const uint32_t weights[] = {1, 1, 1};
//   balance::P2cEwma b(weights, /*seed=*/worker_index);
//   int i = b.Pick(PickInput{.now_ns = now}, [&](size_t k) { return up[k]; });
//   b.OnStart(i);
//   ...
//   b.OnFinish(i, ok ? first_byte_ns - sent_ns : 0, now_ns);
#ifndef RINGWAY_BALANCE_P2C_EWMA_H_
#define RINGWAY_BALANCE_P2C_EWMA_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "balance/balancer.h"
#include "balance/random.h"

namespace ringway::balance {

class P2cEwma final : public Balancer {
 public:
  static constexpr uint64_t kDefaultTauNs = 10'000'000'000;  // 10 s
  static constexpr double kPenaltyFloorNs = 1e9;             // a failure counts >= 1 s
  static constexpr double kPenaltyCapNs = 60e9;              // ... and doubles up to 60 s
  // Draws for each of the two choices before falling back to a scan.
  static constexpr int kDraws = 4;

  P2cEwma(std::span<const uint32_t> weights, uint64_t seed, uint64_t tau_ns = kDefaultTauNs);

  int Pick(const PickInput& in, Eligible eligible) override;
  void OnStart(size_t backend) override;
  void OnFinish(size_t backend, uint64_t latency_ns, uint64_t now_ns) override;
  void OnCancel(size_t backend) override;
  void SetWeight(size_t backend, uint32_t weight) override { weights_.Set(backend, weight); }
  size_t size() const override { return peers_.size(); }

  // The latency estimate Pick uses for `backend` at `now_ns`, in ns (for tests and metrics).
  double Estimate(size_t backend, uint64_t now_ns) const;
  uint32_t outstanding(size_t backend) const { return peers_[backend].outstanding; }

 private:
  struct Peer {
    double ewma_ns = 0;     // the estimate as of stamp_ns
    uint64_t stamp_ns = 0;  // when the last sample came
    uint32_t outstanding = 0;
    bool sampled = false;
  };

  // Whether a costs less than b at now_ns (ties: false).
  bool Cheaper(size_t a, size_t b, uint64_t now_ns) const;
  int ScanCheapest(uint64_t now_ns, Eligible eligible);

  WeightTable weights_;
  std::vector<Peer> peers_;
  Rng rng_;
  double tau_ns_;
};

}  // namespace ringway::balance

#endif  // RINGWAY_BALANCE_P2C_EWMA_H_
