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
#include "tls/tls.h"

namespace ringway::proxy {

// What every worker reads and nobody writes once workers start (the health view excepted: its
// atomics are written by the prober and by workers' passive health).
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
  explicit Snapshot(config::Config c);
};

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

 private:
  std::unique_ptr<WorkerImpl> impl_;
};

}  // namespace ringway::proxy

#endif  // RINGWAY_PROXY_WORKER_H_
