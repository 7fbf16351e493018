// The health prober: one thread with its own io_uring that checks every backend and publishes
// the result in the health view (health/view.h) that workers read without locks.
//
// Checks are TCP connects (the default), HTTP/1.1 requests (method, path, Host, expected status
// range) or gRPC health checks (grpc.health.v1.Health/Check over HTTP/2: health/grpc_check.h),
// each with a timeout, spaced by the upstream's interval plus a random jitter so that checks of
// many backends do not bunch. Every change of state is logged with its reason.
// HTTP and gRPC checks of an upstream with `tls:` speak TLS (health/tls_probe.h): the prober
// builds one client context per such upstream (the upstream's verification, CA and SNI name;
// ALPN "h2" for gRPC checks, none for HTTP/1.1 ones) and a TLS session for each check, freed
// with it. The timeout covers the connect, the handshake and the response; a handshake that
// fails (certificate verification included) fails the check with "TLS handshake failed: ...".
// This file holds the prober and the HTTP/1.x status line reader; the gRPC check is in
// health/grpc_check.h and the TLS connection of a check in health/tls_probe.h.
// The prober also ends passive ejections: an ejected backend is readmitted once its back-off
// has passed and `rise` checks in a row have passed after it (or, for an upstream whose
// checks are off, as soon as the back-off has passed). An ejected backend that the checks
// take down and later bring back up (it was restarted) is readmitted when it comes up.
//
//   health::Prober prober(config, view);   // backends in config order: upstream by upstream
//   RETURN_IF_ERROR(prober.Start());
//   ...
//   prober.Stop();
#ifndef RINGWAY_HEALTH_PROBER_H_
#define RINGWAY_HEALTH_PROBER_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>

#include "absl/status/status.h"
#include "config/config.h"
#include "health/view.h"

namespace ringway::health {

class ProberLoop;

class Prober {
 public:
  // `config` and `view` must outlive the prober. Backend i of the view is the i-th backend
  // counting upstream by upstream, in config order. A backend whose view slot was carried
  // from an earlier view (a reload) continues from its state there.
  Prober(const config::Config& config, View* view);
  ~Prober();
  Prober(const Prober&) = delete;
  Prober& operator=(const Prober&) = delete;

  // Sets up the ring and starts the thread.
  absl::Status Start();
  // Thread-safe; returns when the thread has exited. Idempotent.
  void Stop();
  // Thread-safe: every backend whose upstream runs checks has had its first one.
  bool FirstRoundDone() const;

 private:
  std::unique_ptr<ProberLoop> loop_;
  std::thread thread_;
};

// Parses the status code of an HTTP/1.x status line at the start of `bytes`: the code, 0 when
// more bytes are needed, -1 when the bytes are not an HTTP/1.x status line.
int ParseStatusLine(const char* bytes, size_t n);

}  // namespace ringway::health

#endif  // RINGWAY_HEALTH_PROBER_H_
