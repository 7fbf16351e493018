// What the prober decides from a stream of check results, kept apart from the I/O so that
// every transition is unit-tested without sockets.
//
// Active state (rise/fall, as HAProxy and nginx count them):
//   - a backend starts up, unconfirmed: its first failed check takes it down at once, so a
//     backend that is dead at start-up is not given traffic for `fall` intervals;
//   - an up backend goes down after `fall` failed checks in a row;
//   - a down backend comes up after `rise` passed checks in a row.
// Ejection (passive health, set by workers in the view): the backend stays out until its
// back-off has passed and then `rise` checks in a row have passed; checks that ran before the
// back-off ended do not count, and a failure starts the count again.
//
//   health::BackendState s(/*rise=*/2, /*fall=*/3);
//   if (s.OnCheck(ok) == health::Change::kDown) log("down");
#ifndef RINGWAY_HEALTH_STATE_H_
#define RINGWAY_HEALTH_STATE_H_

#include <cstdint>

namespace ringway::health {

enum class Change : uint8_t { kNone, kDown, kUp };

class BackendState {
 public:
  BackendState(uint32_t rise, uint32_t fall) : rise_(rise ? rise : 1), fall_(fall ? fall : 1) {}

  // Records one active check; says whether the up/down state changed.
  Change OnCheck(bool ok);

  // Passive ejection, as seen in the view. Returns true when the backend may be readmitted:
  // `rise` passes in a row, all after `until_ms`.
  bool OnCheckWhileEjected(bool ok, uint64_t now_ms, uint64_t until_ms);
  void StartEjection() { eject_passes_ = 0; }
  // Continues from a state known before (a reload kept the backend): no first-check rule.
  void Resume(bool up) {
    up_ = up;
    confirmed_ = true;
  }

  bool up() const { return up_; }
  uint32_t passes() const { return passes_; }      // passed checks in a row
  uint32_t failures() const { return failures_; }  // failed checks in a row
  uint32_t rise() const { return rise_; }
  uint32_t fall() const { return fall_; }

 private:
  uint32_t rise_;
  uint32_t fall_;
  bool up_ = true;
  bool confirmed_ = false;  // a check has passed since start-up
  uint32_t passes_ = 0;
  uint32_t failures_ = 0;
  uint32_t eject_passes_ = 0;
};

}  // namespace ringway::health

#endif  // RINGWAY_HEALTH_STATE_H_
