#include "balance/maglev.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "balance/hash.h"

namespace ringway::balance {
namespace {

constexpr size_t kPrimes[] = {65537, 131071, 262147, 524287, 1048573};
constexpr uint64_t kOffsetSeed = 0x6d61676c65762d6f;  // "maglev-o"
constexpr uint64_t kSkipSeed = 0x6d61676c65762d73;    // "maglev-s"
constexpr uint64_t kOrderSeed = 0x6d61676c65762d74;   // "maglev-t"
constexpr uint64_t kGamma = 0x9e3779b97f4a7c15;

}  // namespace

size_t Maglev::TableSizeFor(size_t backends) {
  for (size_t p : kPrimes) {
    if (p >= 100 * backends) return p;
  }
  return kPrimes[std::size(kPrimes) - 1];
}

Maglev::Maglev(std::span<const uint32_t> weights, std::span<const std::string_view> ids,
               uint64_t seed)
    : weights_(weights.begin(), weights.end()) {
  const size_t n = weights_.size();
  uint32_t max_weight = 0;
  for (uint32_t w : weights_) max_weight = std::max(max_weight, w);
  if (max_weight == 0) return;  // nothing to pick: Pick returns -1

  const size_t m = TableSizeFor(n);
  struct Builder {
    uint64_t order;
    size_t pos;   // the next slot of its permutation to try
    size_t skip;  // 1..m-1, so (coprime to the prime m) the permutation covers every slot
    uint64_t credit = 0;
    uint32_t index;
    uint32_t weight;
  };
  std::vector<std::string> default_ids;
  for (size_t i = ids.size(); i < n; ++i) default_ids.push_back(std::to_string(i));
  auto name = [&](size_t i) -> std::string_view {
    return i < ids.size() ? ids[i] : std::string_view(default_ids[i - ids.size()]);
  };

  std::vector<Builder> builders;
  for (size_t i = 0; i < n; ++i) {
    if (weights_[i] == 0) continue;
    const std::string_view id = name(i);
    builders.push_back(Builder{.order = Hash64(id, kOrderSeed),
                               .pos = Hash64(id, kOffsetSeed) % m,
                               .skip = Hash64(id, kSkipSeed) % (m - 1) + 1,
                               .index = static_cast<uint32_t>(i),
                               .weight = weights_[i]});
  }
  // Turns in order of the ids' hashes, so the configuration's order does not matter.
  std::sort(builders.begin(), builders.end(), [&](const Builder& a, const Builder& b) {
    const std::string_view id_a = name(a.index);
    const std::string_view id_b = name(b.index);
    return std::tie(a.order, id_a, a.index) < std::tie(b.order, id_b, b.index);
  });

  constexpr uint32_t kEmpty = std::numeric_limits<uint32_t>::max();
  std::vector<uint32_t> table(m, kEmpty);
  size_t filled = 0;
  while (filled < m) {
    for (Builder& b : builders) {
      // A backend takes a turn each time its credit reaches the largest weight.
      b.credit += b.weight;
      if (b.credit < max_weight) continue;
      b.credit -= max_weight;
      size_t pos = b.pos;
      while (table[pos] != kEmpty) {
        pos += b.skip;
        if (pos >= m) pos -= m;
      }
      table[pos] = b.index;
      pos += b.skip;
      b.pos = pos >= m ? pos - m : pos;
      if (++filled == m) break;
    }
  }

  table_size_ = m;
  wide_ = n > std::numeric_limits<uint16_t>::max();
  if (wide_) {
    table32_ = std::move(table);
  } else {
    table16_.assign(table.begin(), table.end());
  }
  cursor_ = static_cast<size_t>(seed % m);
}

int Maglev::Owner(uint64_t hash) const {
  return table_size_ == 0 ? -1 : static_cast<int>(Slot(SlotOf(hash)));
}

int Maglev::Pick(const PickInput& in, Eligible eligible) {
  if (table_size_ == 0) return -1;
  if (!in.has_hash) {
    for (int k = 0; k < kRotationProbes; ++k) {
      const uint32_t b = Slot(cursor_);
      if (++cursor_ == table_size_) cursor_ = 0;
      if (eligible(b)) return static_cast<int>(b);
    }
    return ScanFromHash(cursor_ * kGamma, weights_, eligible);
  }
  uint32_t b = Slot(SlotOf(in.hash));
  if (eligible(b)) return static_cast<int>(b);
  // Only the keys of ineligible backends get here, so nothing else moves.
  for (uint64_t attempt = 1; attempt <= kRehashes; ++attempt) {
    b = Slot(SlotOf(Mix64(in.hash + attempt * kGamma)));
    if (eligible(b)) return static_cast<int>(b);
  }
  return ScanFromHash(in.hash, weights_, eligible);
}

}  // namespace ringway::balance
