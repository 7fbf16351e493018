// The balancer interface every algorithm implements, and the factory that builds one.
//
// A balancer is per worker and per upstream: no locks, no atomics, nothing shared. It sees
// backends as indexes 0..size()-1 and never touches sockets; health is passed in per pick as
// an `eligible` predicate (the worker reads the prober's published view there).
//
//   const uint32_t weights[] = {1, 1, 2};
//   std::unique_ptr<Balancer> b = MakeBalancer(Algorithm::kP2cEwma, weights, /*seed=*/42);
//   PickInput in{.now_ns = now};
//   int i = b->Pick(in, [&](size_t k) { return up[k]; });
//   if (i < 0) { /* nothing eligible: 503 */ }
//   b->OnStart(i);
//   ... b->OnFinish(i, latency_ns, now_ns);
#ifndef RINGWAY_BALANCE_BALANCER_H_
#define RINGWAY_BALANCE_BALANCER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "absl/functional/function_ref.h"

namespace ringway::balance {

enum class Algorithm : uint8_t {
  kRoundRobin,    // plain rotation when weights are equal, smooth weighted RR otherwise
  kRandom,        // weighted random
  kLeastRequest,  // fewest outstanding requests per unit of weight
  kP2cEwma,       // power of two choices over a peak-EWMA latency times outstanding requests
  kMaglev,        // consistent hashing, Maglev lookup table
  kKetama,        // consistent hashing, ketama ring
};

struct PickInput {
  uint64_t hash = 0;      // request key for the hashing algorithms (see balance/hash.h)
  bool has_hash = false;  // no key: the hashing algorithms fall back to a rotation
  uint64_t now_ns = 0;    // monotonic clock, for the latency-aware algorithms
};

using Eligible = absl::FunctionRef<bool(size_t)>;

class Balancer {
 public:
  virtual ~Balancer() = default;

  // A backend index among those for which eligible(i) is true; -1 when none is.
  virtual int Pick(const PickInput& in, Eligible eligible) = 0;

  // A request was sent to `backend` (counts as outstanding until OnFinish).
  virtual void OnStart(size_t backend) { (void)backend; }
  // The request on `backend` ended: `latency_ns` from send to the first response byte, or 0
  // when it failed without a response (the latency-aware algorithms then count a penalty).
  virtual void OnFinish(size_t backend, uint64_t latency_ns, uint64_t now_ns) {
    (void)backend;
    (void)latency_ns;
    (void)now_ns;
  }
  // The attempt on `backend` ended without telling anything about the backend (the client
  // left, or a pooled connection had been closed by the server while idle): it stops counting
  // as outstanding, and no latency sample or penalty is recorded.
  virtual void OnCancel(size_t backend) { (void)backend; }
  // Changes one backend's weight (slow start). Algorithms without weights ignore it; the
  // consistent-hashing ones ignore it too, since moving keys would defeat their purpose.
  virtual void SetWeight(size_t backend, uint32_t weight) {
    (void)backend;
    (void)weight;
  }

  virtual size_t size() const = 0;
};

// The hashing algorithms' last resort when their probes met only ineligible backends: the first
// eligible backend with a non-zero weight, scanning (with wrap-around) from a start that `hash`
// picks; -1 if there is none.
int ScanFromHash(uint64_t hash, std::span<const uint32_t> weights, Eligible eligible);

// `weights` has one entry per backend (1..1000; 0 means never picked). `seed` makes the
// randomised algorithms reproducible in tests; workers pass different seeds.
std::unique_ptr<Balancer> MakeBalancer(Algorithm algorithm, std::span<const uint32_t> weights,
                                       uint64_t seed);
// The same, naming the backends for the consistent-hashing algorithms: with the backends'
// addresses as `ids` (one per backend), every instance and every restart maps a key to the same
// backend, whatever the configuration's order. The other algorithms ignore the ids. Without
// ids, backends are named by their decimal index.
std::unique_ptr<Balancer> MakeBalancer(Algorithm algorithm, std::span<const uint32_t> weights,
                                       uint64_t seed, std::span<const std::string_view> ids);

}  // namespace ringway::balance

#endif  // RINGWAY_BALANCE_BALANCER_H_
