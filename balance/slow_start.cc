#include "balance/slow_start.h"

#include <algorithm>
#include <cstdint>

namespace ringway::balance {

uint32_t SlowStartWeight(uint32_t weight, uint64_t elapsed_ms, uint64_t window_ms) {
  if (weight == 0 || window_ms == 0 || elapsed_ms >= window_ms) return weight;
  const uint32_t start = std::max<uint32_t>(weight / 10, 1);
  // In 128 bits: (weight - start) * elapsed_ms may not fit in 64 when the window is long.
  const auto ramp = static_cast<unsigned __int128>(weight - start) * elapsed_ms / window_ms;
  return start + static_cast<uint32_t>(ramp);
}

}  // namespace ringway::balance
