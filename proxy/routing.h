// One config snapshot as one worker uses it: the snapshot, and the worker's state that is
// indexed by the snapshot's upstreams and backends (balancers, retry budgets, idle pools).
//
// A reload (or an API change) publishes a new snapshot; each worker builds a Routing for it at
// the start of a loop turn and sends every new request there. Exchanges and upstream
// connections that started on the old Routing hold a reference (RoutingRef) and finish on it:
// its indexes, balancers and snapshot stay valid for as long as one of them lives. The old
// Routing's idle pooled connections move to the new one when their backend is still there
// (same upstream name and address), and are closed otherwise; its balancers and budgets carry
// over the same way. The reference count is a plain integer: only the worker touches it.
#ifndef RINGWAY_PROXY_ROUTING_H_
#define RINGWAY_PROXY_ROUTING_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "balance/balancer.h"
#include "balance/retry_budget.h"

namespace ringway::proxy {

struct Snapshot;
struct UpstreamConn;

struct Pool {
  UpstreamConn* head = nullptr;  // most recently returned first
  uint32_t size = 0;
  std::vector<UpstreamConn*> h2;  // HTTP/2 connections (protocol h2, h2c), busy or not
};

// Per upstream: the balancer and what the worker counts for retries and slow start. The
// balancer and the budget are shared with the Routing before when the upstream did not change
// (same backends and weights, same policy): its in-flight counts, latencies and rotation carry
// on, and attempts that started on the old Routing end in the same balancer.
struct UpstreamRuntime {
  std::shared_ptr<balance::Balancer> balancer;
  std::vector<uint32_t> weights;    // current weights (slow start lowers them for a while)
  std::vector<std::string> tokens;  // sticky-session cookie value per backend
  std::shared_ptr<balance::RetryBudget> budget;
  uint64_t next_ramp_ms = 0;
  uint64_t none_log_ms = 0;
  uint64_t budget_log_ms = 0;
  bool latency = false;  // the balancer uses latencies: measure them
};

struct Routing {
  std::shared_ptr<const Snapshot> snap;
  std::vector<Pool> pools;           // per global backend index
  std::vector<UpstreamRuntime> ups;  // per upstream index
  uint32_t refs = 0;                 // RoutingRefs that point here
  bool current = true;               // new requests come here; freed by the worker, not refs
};

// A counted reference to a Routing. The last reference to a Routing that is no longer current
// frees it.
class RoutingRef {
 public:
  RoutingRef() = default;
  ~RoutingRef() { Reset(); }
  RoutingRef(const RoutingRef&) = delete;
  RoutingRef& operator=(const RoutingRef&) = delete;

  void Set(Routing* r) {
    if (r == rt_) return;
    if (r) ++r->refs;
    Reset();
    rt_ = r;
  }
  void Reset() {
    if (rt_ && --rt_->refs == 0 && !rt_->current) delete rt_;
    rt_ = nullptr;
  }
  Routing* get() const { return rt_; }
  Routing* operator->() const { return rt_; }
  explicit operator bool() const { return rt_ != nullptr; }

 private:
  Routing* rt_ = nullptr;
};

}  // namespace ringway::proxy

#endif  // RINGWAY_PROXY_ROUTING_H_
