// Per-worker timers as FIFO lists, one list per fixed duration.
//
// Every timeout of one kind (client header, keep-alive idle, upstream connect...) has the same
// duration, so arming a timer appends to the tail of that kind's list and the list stays sorted
// by deadline: arm, disarm and expiry are O(1) and touch no heap. A connection owns one
// TimerNode and is in at most one list at a time.
//
//   TimerList header_timers(10'000);
//   header_timers.Arm(&conn->timer, now_ms);
//   header_timers.Expire(now_ms, [](TimerNode* n) { ... });
#ifndef RINGWAY_CORE_TIMER_H_
#define RINGWAY_CORE_TIMER_H_

#include <time.h>
#include <cstdint>

namespace ringway::core {

struct TimerNode {
  TimerNode* prev = nullptr;
  TimerNode* next = nullptr;
  uint64_t deadline_ms = 0;
  void* owner = nullptr;  // the object this timer belongs to
  uint8_t kind = 0;       // which list it is in, for the owner's dispatch; 0: none
  bool armed() const { return kind != 0; }
};

class TimerList {
 public:
  TimerList(uint8_t kind, uint64_t duration_ms) : kind_(kind), duration_ms_(duration_ms) {}
  TimerList(const TimerList&) = delete;
  TimerList& operator=(const TimerList&) = delete;

  uint64_t duration_ms() const { return duration_ms_; }

  // A new duration for timers armed from now on. Timers already armed keep their deadlines,
  // except that none ends later than now + the new duration: so the list stays sorted, and a
  // shorter timeout applies to what waits already.
  void SetDuration(uint64_t duration_ms, uint64_t now_ms) {
    if (duration_ms < duration_ms_) {
      const uint64_t cap = now_ms + duration_ms;
      for (TimerNode* n = head_; n; n = n->next) {
        if (n->deadline_ms > cap) n->deadline_ms = cap;
      }
    }
    duration_ms_ = duration_ms;
  }
  uint8_t kind() const { return kind_; }

  // (Re)arms `n` to fire duration_ms after now; removes it from any list first via Disarm.
  void Arm(TimerNode* n, uint64_t now_ms) {
    n->deadline_ms = now_ms + duration_ms_;
    n->kind = kind_;
    n->next = nullptr;
    n->prev = tail_;
    if (tail_)
      tail_->next = n;
    else
      head_ = n;
    tail_ = n;
  }

  void Remove(TimerNode* n) {
    if (n->prev)
      n->prev->next = n->next;
    else
      head_ = n->next;
    if (n->next)
      n->next->prev = n->prev;
    else
      tail_ = n->prev;
    n->prev = n->next = nullptr;
    n->kind = 0;
  }

  // Earliest deadline, or UINT64_MAX when empty.
  uint64_t NextDeadline() const { return head_ ? head_->deadline_ms : UINT64_MAX; }

  // Pops every node whose deadline has passed and calls fire(node). `fire` may re-arm or free.
  template <typename F>
  void Expire(uint64_t now_ms, F&& fire) {
    while (head_ && head_->deadline_ms <= now_ms) {
      TimerNode* n = head_;
      Remove(n);
      fire(n);
    }
  }

 private:
  uint8_t kind_;
  uint64_t duration_ms_;
  TimerNode* head_ = nullptr;
  TimerNode* tail_ = nullptr;
};

inline uint64_t MonotonicMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

}  // namespace ringway::core

#endif  // RINGWAY_CORE_TIMER_H_
