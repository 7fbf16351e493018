#include "health/state.h"

namespace ringway::health {

Change BackendState::OnCheck(bool ok) {
  if (ok) {
    ++passes_;
    failures_ = 0;
    confirmed_ = true;
    if (!up_ && passes_ >= rise_) {
      up_ = true;
      return Change::kUp;
    }
    return Change::kNone;
  }
  ++failures_;
  passes_ = 0;
  if (up_ && (!confirmed_ || failures_ >= fall_)) {
    up_ = false;
    confirmed_ = true;
    return Change::kDown;
  }
  return Change::kNone;
}

bool BackendState::OnCheckWhileEjected(bool ok, uint64_t now_ms, uint64_t until_ms) {
  if (!ok) {
    eject_passes_ = 0;
    return false;
  }
  if (now_ms < until_ms) return false;
  return ++eject_passes_ >= rise_;
}

}  // namespace ringway::health
