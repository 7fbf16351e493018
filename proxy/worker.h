// A worker: one thread, one io_uring, its own listening sockets, connections, upstream pools,
// balancer state and timers. Workers share only the immutable config snapshot.
//
//   proxy::Worker w(snapshot, index, listen_fds);
//   RETURN_IF_ERROR(w.Init());
//   std::thread t([&] { w.Run(); });
//   ... w.Drain();  // from any thread: stop accepting, finish in-flight requests, return
#ifndef RINGWAY_PROXY_WORKER_H_
#define RINGWAY_PROXY_WORKER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "config/config.h"
#include "config/router.h"
#include "health/view.h"
#include "proxy/metrics.h"
#include "tls/tls.h"

namespace ringway::proxy {

// What every worker reads and nobody writes once published (the health view excepted: its
// atomics are written by the prober and by workers' passive health). A reload builds a new one.
struct Snapshot {
  config::Config config;
  config::Router router;
  std::vector<uint32_t> backend_base;  // upstream index -> index of its first backend
  uint32_t backend_count = 0;
  std::vector<const config::Backend*> backends;  // global backend index -> its config
  std::vector<uint32_t> backend_upstream;        // global backend index -> upstream index
  int access_log_fd = 1;                         // where access log lines go
  std::shared_ptr<health::View> health;          // one slot per global backend index
  // TLS contexts of listeners and upstreams; SIGHUP publishes a new set.
  std::shared_ptr<tls::ContextRegistry> tls = std::make_shared<tls::ContextRegistry>();
  // Metrics series ids (proxy/metrics.h), named by the config's names.
  std::vector<uint32_t> listener_series;  // per listener
  std::vector<uint32_t> upstream_series;  // per upstream
  std::vector<uint32_t> server_series;    // per server: requests no upstream took
  std::vector<std::vector<std::pair<uint32_t, uint32_t>>> route_series;  // per server: upstream, id
  uint32_t unrouted_series = 0;                                          // requests no server took
  std::vector<uint32_t> backend_series;                                  // per global backend index
  explicit Snapshot(config::Config c);

  // A backend's identity across snapshots: its upstream's name and its address.
  std::string BackendKey(uint32_t backend) const;
  // The global backend index of `key`, or -1.
  int FindBackend(const std::string& key) const;
  // The (server, upstream) series of a routed request.
  uint32_t RouteSeries(int32_t server, int32_t upstream) const;
  // Health, ejections and check counts of backends that `old` has too, so a reload loses none.
  void CarryHealth(const Snapshot& old);
  void MarkUnresolvedDown();
};

// Whether two listeners are the same socket: same name and address (a reload keeps it open).
bool SameListener(const config::Listener& a, const config::Listener& b);

class WorkerImpl;

class Worker {
 public:
  // `listen_fds[i]` is this worker's socket for snapshot->config.listeners[i].
  Worker(std::shared_ptr<const Snapshot> snapshot, uint32_t index, std::vector<int> listen_fds);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  absl::Status Init();
  // Runs the event loop until drained. Returns the number of connections cut at the deadline.
  uint64_t Run();
  // Thread-safe: asks the worker to stop accepting and finish in-flight requests.
  void Drain();
  // Thread-safe: new requests go to `snapshot` from the worker's next loop turn. `listen_fds[i]`
  // is the socket for snapshot->config.listeners[i] when it is a new listener, -1 for one the
  // worker has already (SameListener); the worker owns the new ones. Listeners the snapshot no
  // longer has stop accepting; their connections finish what they started and close.
  void Adopt(std::shared_ptr<const Snapshot> snapshot, std::vector<int> listen_fds);
  // Its counters, for the scraper.
  std::shared_ptr<const metrics::WorkerMetrics> Metrics() const;

 private:
  std::unique_ptr<WorkerImpl> impl_;
};

}  // namespace ringway::proxy

#endif  // RINGWAY_PROXY_WORKER_H_
