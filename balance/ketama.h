// Ketama consistent hashing: a ring of points, each owned by a backend; a key goes to the owner
// of the first point at or after the key's hash, wrapping around.
//
// A backend gets kPointsPerWeight points per unit of weight, at Hash64(id, i) for
// i = 0, 1, 2, ...; when that would make more than kMaxPoints in all, every backend's count is
// scaled down (at least 1 each). Because the points are a prefix of the same sequence, a
// backend whose count changes keeps the points it had, and since only a backend's own id and
// weight decide its points, removing a backend (below the cap) moves exactly its keys. More
// points per backend mean shares closer to the weights (the spread is roughly 1/sqrt(points));
// for large pools prefer Maglev, whose shares are exact to a table slot, in less memory.
//
// Ids make rings agree: give the backends' addresses and every ringway instance, before and
// after a restart, builds the same ring. Without ids, backends are named by their decimal
// index.
//
// A key whose backend is ineligible walks clockwise to the next point whose backend is
// eligible (at most kMaxWalk points, then a scan of the backends from a point the hash picks),
// so a backend going down moves only its own keys, to its ring neighbours. A pick without a
// hash (!in.has_hash) walks the ring with a cursor: a rotation in proportion to the points.
//
// SetWeight is ignored: moving keys while a backend warms up would defeat the purpose.
//
//   const std::string_view ids[] = {"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"};
//   const uint32_t weights[] = {1, 1, 2};
//   balance::Ketama k(weights, ids);
//   PickInput in{.hash = balance::Hash64(url_path), .has_hash = true};
//   int i = k.Pick(in, [&](size_t b) { return up[b]; });
#ifndef RINGWAY_BALANCE_KETAMA_H_
#define RINGWAY_BALANCE_KETAMA_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "balance/balancer.h"

namespace ringway::balance {

class Ketama final : public Balancer {
 public:
  static constexpr uint32_t kPointsPerWeight = 160;
  static constexpr size_t kMaxPoints = 160 * 1024;  // 12 bytes each: ~2 MB at most
  // Ring points visited past an ineligible one before the scan.
  static constexpr int kMaxWalk = 64;

  // `ids` has one id per backend, or is empty (decimal indexes). `seed` only chooses where the
  // rotation for picks without a hash starts.
  explicit Ketama(std::span<const uint32_t> weights, std::span<const std::string_view> ids = {},
                  uint64_t seed = 0);

  int Pick(const PickInput& in, Eligible eligible) override;
  size_t size() const override { return weights_.size(); }

  size_t points() const { return hashes_.size(); }
  // The backend a hash maps to when every backend is eligible; -1 when no weight is non-zero.
  int Owner(uint64_t hash) const;

 private:
  size_t PointOf(uint64_t hash) const;

  std::vector<uint32_t> weights_;
  std::vector<uint64_t> hashes_;  // the ring, ascending
  std::vector<uint32_t> owners_;  // owners_[k] owns hashes_[k]
  size_t cursor_ = 0;             // the rotation's next point
};

}  // namespace ringway::balance

#endif  // RINGWAY_BALANCE_KETAMA_H_
