// Slow start: a backend that has just come up (or been added) gets a reduced weight that grows
// linearly to its full weight over a window, so a cold backend (empty caches, unwarmed JIT, new
// connection pools) is not handed its full share at once.
//
// The ramp starts at 10% of the weight (at least 1) and reaches the full weight when the window
// ends; the caller re-applies it with Balancer::SetWeight as time passes. Weights are integers,
// so a weight of 1 cannot ramp at all: to give slow start room, scale every configured weight up
// (say by 100) before handing them to the balancer; only the ratios matter to it.
//
//   uint64_t elapsed = now_ms - came_up_ms[i];
//   balancer.SetWeight(i, balance::SlowStartWeight(weight[i] * 100, elapsed, window_ms));
#ifndef RINGWAY_BALANCE_SLOW_START_H_
#define RINGWAY_BALANCE_SLOW_START_H_

#include <cstdint>

namespace ringway::balance {

// The weight `elapsed_ms` into a slow-start window of `window_ms`: from max(weight / 10, 1)
// at 0 up to `weight` (reached, and kept, from `window_ms` on; at once when the window is 0).
// A weight of 0 stays 0.
uint32_t SlowStartWeight(uint32_t weight, uint64_t elapsed_ms, uint64_t window_ms);

}  // namespace ringway::balance

#endif  // RINGWAY_BALANCE_SLOW_START_H_
