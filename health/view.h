// The health view: one slot per backend, shared by the prober thread and every worker,
// read and written without locks.
//
// Each slot packs the backend's state in one atomic word:
//   kUp       set and cleared by the prober (active checks);
//   kEjected  set by a worker when passive health ejects the backend, cleared by the prober
//             once the back-off has passed and the backend has passed `rise` checks again.
// A backend is usable when it is up and not ejected. Workers read that with one relaxed load
// per candidate; slots are cache-line sized, so a worker counting failures on one backend does
// not slow the reads of another.
//
//   health::View view(backend_count);
//   if (view.Usable(b)) ...                                // worker, per pick
//   view.RecordFailure(b, now_ms, passive) -> ejected?     // worker, on a failed exchange
//   view.RecordSuccess(b);                                 // worker, on a good response
#ifndef RINGWAY_HEALTH_VIEW_H_
#define RINGWAY_HEALTH_VIEW_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace ringway::health {

class View {
 public:
  static constexpr uint32_t kUp = 1;
  static constexpr uint32_t kEjected = 2;

  // Every backend starts up: a backend that is down at start-up is taken down by its first
  // failed check (or by passive health), so a healthy pool serves from the first request.
  explicit View(size_t backends) : slots_(new Slot[backends]), size_(backends) {
    for (size_t i = 0; i < backends; ++i) slots_[i].state.store(kUp, std::memory_order_relaxed);
  }

  size_t size() const { return size_; }

  bool Usable(size_t b) const { return slots_[b].state.load(std::memory_order_relaxed) == kUp; }
  uint32_t State(size_t b) const { return slots_[b].state.load(std::memory_order_acquire); }
  // When the backend last became usable (monotonic ms), for slow start; 0 if never re-joined.
  uint64_t UpSinceMs(size_t b) const {
    return slots_[b].up_since_ms.load(std::memory_order_acquire);
  }

  // ---- Workers: passive health ----------------------------------------------------------

  // A failure on live traffic. Returns true when this call ejected the backend (the caller
  // logs it); `threshold` 0 disables ejection. The back-off is base * 2^(ejections so far),
  // capped at max.
  bool RecordFailure(size_t b, uint64_t now_ms, uint32_t threshold, uint32_t base_ms,
                     uint32_t max_ms, uint64_t* ejected_for_ms) {
    Slot& s = slots_[b];
    uint32_t n = s.failures.fetch_add(1, std::memory_order_relaxed) + 1;
    if (threshold == 0 || n < threshold) return false;
    uint32_t old = s.state.load(std::memory_order_relaxed);
    if (old & kEjected) return false;
    // The deadline is published before the flag (the CAS's release orders the two), so the
    // prober never sees the flag with a stale deadline. It is read only while the flag is set.
    uint32_t k = s.ejections.load(std::memory_order_relaxed);
    uint64_t backoff = static_cast<uint64_t>(base_ms) << (k < 20 ? k : 20);
    if (backoff > max_ms) backoff = max_ms;
    s.ejected_until_ms.store(now_ms + backoff, std::memory_order_relaxed);
    if (!s.state.compare_exchange_strong(old, old | kEjected, std::memory_order_acq_rel)) {
      return false;  // another worker ejected it, or the prober changed it: let that stand
    }
    s.ejections.fetch_add(1, std::memory_order_relaxed);
    s.ejections_total.fetch_add(1, std::memory_order_relaxed);
    s.failures.store(0, std::memory_order_relaxed);
    if (ejected_for_ms) *ejected_for_ms = backoff;
    return true;
  }

  // A good exchange: the failure run is over. Writes only when there was a run, so the
  // common case is one read of a line the other workers rarely write.
  void RecordSuccess(size_t b) {
    Slot& s = slots_[b];
    if (s.failures.load(std::memory_order_relaxed) != 0) {
      s.failures.store(0, std::memory_order_relaxed);
    }
  }

  // ---- Prober ---------------------------------------------------------------------------

  void SetUp(size_t b, bool up, uint64_t now_ms) {
    Slot& s = slots_[b];
    if (up) {
      s.up_since_ms.store(now_ms, std::memory_order_release);
      s.state.fetch_or(kUp, std::memory_order_acq_rel);
    } else {
      s.state.fetch_and(~kUp, std::memory_order_acq_rel);
    }
  }
  // Ends an ejection (the prober has seen the backend pass its checks after the back-off).
  void Readmit(size_t b, uint64_t now_ms) {
    Slot& s = slots_[b];
    s.failures.store(0, std::memory_order_relaxed);
    s.up_since_ms.store(now_ms, std::memory_order_release);
    s.state.fetch_and(~kEjected, std::memory_order_acq_rel);
  }
  uint64_t EjectedUntilMs(size_t b) const {
    return slots_[b].ejected_until_ms.load(std::memory_order_acquire);
  }
  uint32_t Ejections(size_t b) const { return slots_[b].ejections.load(std::memory_order_relaxed); }
  // Every ejection so far (a counter for metrics; Ejections() is the back-off's run).
  uint64_t EjectionsTotal(size_t b) const {
    return slots_[b].ejections_total.load(std::memory_order_relaxed);
  }
  // Check results, for metrics: written by the prober alone.
  void RecordCheck(size_t b, bool ok) {
    auto& c = ok ? slots_[b].checks_ok : slots_[b].checks_failed;
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  uint64_t ChecksOk(size_t b) const { return slots_[b].checks_ok.load(std::memory_order_relaxed); }
  uint64_t ChecksFailed(size_t b) const {
    return slots_[b].checks_failed.load(std::memory_order_relaxed);
  }

  // ---- Reload ---------------------------------------------------------------------------

  // Slot `to` takes over slot `from` of `old` (the same backend in the previous snapshot):
  // state, ejection, counters. Called before the view is published.
  void CarryFrom(const View& old, size_t from, size_t to) {
    const Slot& o = old.slots_[from];
    Slot& s = slots_[to];
    s.failures.store(o.failures.load(std::memory_order_relaxed), std::memory_order_relaxed);
    s.ejections.store(o.ejections.load(std::memory_order_relaxed), std::memory_order_relaxed);
    s.ejections_total.store(o.ejections_total.load(std::memory_order_relaxed),
                            std::memory_order_relaxed);
    s.ejected_until_ms.store(o.ejected_until_ms.load(std::memory_order_acquire),
                             std::memory_order_relaxed);
    s.up_since_ms.store(o.up_since_ms.load(std::memory_order_acquire), std::memory_order_relaxed);
    s.checks_ok.store(o.checks_ok.load(std::memory_order_relaxed), std::memory_order_relaxed);
    s.checks_failed.store(o.checks_failed.load(std::memory_order_relaxed),
                          std::memory_order_relaxed);
    s.state.store(o.state.load(std::memory_order_acquire), std::memory_order_release);
    s.carried = true;
  }
  // Whether the slot was carried from an earlier view (its state was checked already).
  bool Carried(size_t b) const { return slots_[b].carried; }
  // The ejection count decays: a backend that stayed usable long enough starts again at base.
  void ForgetEjections(size_t b) { slots_[b].ejections.store(0, std::memory_order_relaxed); }

 private:
  struct alignas(64) Slot {
    std::atomic<uint32_t> state{0};
    std::atomic<uint32_t> failures{0};   // consecutive passive failures
    std::atomic<uint32_t> ejections{0};  // ejections in a row, for the back-off
    std::atomic<uint64_t> ejected_until_ms{0};
    std::atomic<uint64_t> up_since_ms{0};
    std::atomic<uint64_t> ejections_total{0};
    std::atomic<uint64_t> checks_ok{0};
    std::atomic<uint64_t> checks_failed{0};
    bool carried = false;  // set before publication, read-only after
  };
  std::unique_ptr<Slot[]> slots_;
  size_t size_;
};

}  // namespace ringway::health

#endif  // RINGWAY_HEALTH_VIEW_H_
