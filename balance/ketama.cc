#include "balance/ketama.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "balance/hash.h"

namespace ringway::balance {
namespace {

constexpr uint64_t kGamma = 0x9e3779b97f4a7c15;

}  // namespace

Ketama::Ketama(std::span<const uint32_t> weights, std::span<const std::string_view> ids,
               uint64_t seed)
    : weights_(weights.begin(), weights.end()) {
  const size_t n = weights_.size();
  std::vector<std::string> default_ids;
  for (size_t i = ids.size(); i < n; ++i) default_ids.push_back(std::to_string(i));
  auto name = [&](size_t i) -> std::string_view {
    return i < ids.size() ? ids[i] : std::string_view(default_ids[i - ids.size()]);
  };

  uint64_t wanted = 0;
  for (uint32_t w : weights_) wanted += uint64_t{kPointsPerWeight} * w;
  auto points_for = [&](uint32_t w) -> uint64_t {
    if (w == 0) return 0;
    const uint64_t p = uint64_t{kPointsPerWeight} * w;
    return wanted <= kMaxPoints ? p : std::max<uint64_t>(1, p * kMaxPoints / wanted);
  };

  struct Point {
    uint64_t hash;
    uint32_t owner;
  };
  std::vector<Point> ring;
  size_t total = 0;
  for (uint32_t w : weights_) total += points_for(w);
  ring.reserve(total);
  for (size_t i = 0; i < n; ++i) {
    const uint64_t count = points_for(weights_[i]);
    for (uint64_t k = 0; k < count; ++k) {
      ring.push_back(Point{Hash64(name(i), k), static_cast<uint32_t>(i)});
    }
  }
  // Equal hashes (one in 2^64) are ordered by id, so every instance orders them alike.
  std::sort(ring.begin(), ring.end(), [&](const Point& a, const Point& b) {
    const std::string_view name_a = name(a.owner);
    const std::string_view name_b = name(b.owner);
    return std::tie(a.hash, name_a, a.owner) < std::tie(b.hash, name_b, b.owner);
  });
  hashes_.reserve(ring.size());
  owners_.reserve(ring.size());
  for (const Point& p : ring) {
    hashes_.push_back(p.hash);
    owners_.push_back(p.owner);
  }
  if (!ring.empty()) cursor_ = static_cast<size_t>(seed % ring.size());
}

size_t Ketama::PointOf(uint64_t hash) const {
  // The first point at or after the hash; past the last one, the ring wraps to the first.
  // Branch-free halving (a mask, not a branch: with random keys the comparison is a coin flip
  // that would mispredict half the time); the answer always lies in [base, base + len].
  const uint64_t* base = hashes_.data();
  size_t len = hashes_.size();
  while (len > 1) {
    const size_t half = len / 2;
    base += half & (size_t{0} - static_cast<size_t>(base[half] < hash));
    len -= half;
  }
  const size_t k = static_cast<size_t>(base - hashes_.data()) + (*base < hash);
  return k == hashes_.size() ? 0 : k;
}

int Ketama::Owner(uint64_t hash) const {
  return hashes_.empty() ? -1 : static_cast<int>(owners_[PointOf(hash)]);
}

int Ketama::Pick(const PickInput& in, Eligible eligible) {
  if (hashes_.empty()) return -1;
  if (!in.has_hash) {
    // The cursor moves past every point it looks at, so the backend after a down one does not
    // get the down one's turns as well as its own.
    for (int k = 0; k <= kMaxWalk; ++k) {
      const uint32_t b = owners_[cursor_];
      if (++cursor_ == hashes_.size()) cursor_ = 0;
      if (eligible(b)) return static_cast<int>(b);
    }
    return ScanFromHash(cursor_ * kGamma, weights_, eligible);
  }
  const size_t n_points = hashes_.size();
  size_t point = PointOf(in.hash);
  uint32_t refused = owners_[point];
  if (eligible(refused)) return static_cast<int>(refused);
  // Only the keys of ineligible backends get here, so nothing else moves.
  for (int k = 0; k < kMaxWalk; ++k) {
    if (++point == n_points) point = 0;
    const uint32_t b = owners_[point];
    if (b == refused) continue;  // consecutive points of one backend: asked already
    if (eligible(b)) return static_cast<int>(b);
    refused = b;
  }
  return ScanFromHash(in.hash, weights_, eligible);  // most backends are down
}

}  // namespace ringway::balance
