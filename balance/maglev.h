// Maglev consistent hashing (Eisenbud et al., "Maglev: A Fast and Reliable Software Network
// Load Balancer", NSDI 2016, section 3.4), with weights.
//
// A lookup table of M slots (M prime, at least 100 per backend: 65537, 131071, 262147, 524287
// or 1048573) maps a key's hash to a backend in one memory read. Each backend has its own
// permutation of the slots, slot_j = (offset + j * skip) mod M, with offset and skip taken from
// Hash64 of the backend's id; the backends take turns claiming the next free slot of their
// permutation until the table is full. Weighted Maglev: a backend takes turns in proportion to
// its weight (the heaviest one every round, one of half its weight every other round), so its
// share of slots, and of keys, is proportional to its weight. A backend of weight 0 gets no
// slot.
//
// Ids make tables agree: give the backends' addresses, and every ringway instance, before and
// after a restart, builds the same table, whatever order the configuration lists them in (the
// turns go in order of Hash64(id), not of index). Removing a backend and rebuilding moves its
// keys, and a few others (the paper's "disruption"; tests/balance/maglev_test.cc measures it).
// Without ids, backends are named by their decimal index.
//
// When a key's backend is ineligible, the key is looked up again with re-mixed hashes (up to
// kRehashes times), then by a scan of the backends from a point the hash picks. A key whose
// backend is eligible is always served by it, so a backend going down moves only its own keys,
// and they spread over the others in proportion to weight. A pick without a hash
// (!in.has_hash) walks the table with a cursor: a rotation in proportion to weight.
//
// SetWeight is ignored: moving keys while a backend warms up would defeat the purpose.
// The table (2 bytes a slot, 4 beyond 65535 backends: 128 KiB for up to 655 backends, 256 KiB
// up to 1310) is built once, in the constructor: about 5 ms for 1000 backends, 50 ms when one
// of them weighs 1000 times the others.
//
//   const std::string_view ids[] = {"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"};
//   const uint32_t weights[] = {1, 1, 2};
//   balance::Maglev m(weights, ids);
//   PickInput in{.hash = balance::Hash64(session_key), .has_hash = true};
//   int i = m.Pick(in, [&](size_t b) { return up[b]; });
#ifndef RINGWAY_BALANCE_MAGLEV_H_
#define RINGWAY_BALANCE_MAGLEV_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "balance/balancer.h"

namespace ringway::balance {

class Maglev final : public Balancer {
 public:
  // Re-mixed lookups of a key whose backend is ineligible, before the scan.
  static constexpr int kRehashes = 8;
  // Table slots tried by a pick without a hash, before the scan.
  static constexpr int kRotationProbes = 16;

  // `ids` has one id per backend, or is empty (decimal indexes). `seed` only chooses where the
  // rotation for picks without a hash starts.
  explicit Maglev(std::span<const uint32_t> weights, std::span<const std::string_view> ids = {},
                  uint64_t seed = 0);

  int Pick(const PickInput& in, Eligible eligible) override;
  size_t size() const override { return weights_.size(); }

  // The table size for n backends: the smallest of the primes above that is >= 100 * n.
  static size_t TableSizeFor(size_t backends);
  size_t table_size() const { return table_size_; }
  // The backend a hash maps to when every backend is eligible; -1 when no weight is non-zero.
  int Owner(uint64_t hash) const;

 private:
  uint32_t Slot(size_t slot) const { return wide_ ? table32_[slot] : table16_[slot]; }
  size_t SlotOf(uint64_t hash) const {
    return static_cast<size_t>((static_cast<unsigned __int128>(hash) * table_size_) >> 64);
  }

  std::vector<uint32_t> weights_;
  size_t table_size_ = 0;  // 0 when no backend has a weight
  bool wide_ = false;      // table32_ instead of table16_
  std::vector<uint16_t> table16_;
  std::vector<uint32_t> table32_;
  size_t cursor_ = 0;  // the rotation's next slot
};

}  // namespace ringway::balance

#endif  // RINGWAY_BALANCE_MAGLEV_H_
