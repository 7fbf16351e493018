// The health prober: one thread with its own io_uring that checks every backend and publishes
// the result in the health view (health/view.h) that workers read without locks.
//
// Checks are TCP connects (the default), HTTP/1.1 requests (method, path, Host, expected status
// range) or gRPC health checks (grpc.health.v1.Health/Check over HTTP/2, GrpcHealthCheck below),
// each with a timeout, spaced by the upstream's interval plus a random jitter so that checks of
// many backends do not bunch. Every change of state is logged with its reason.
// HTTP and gRPC checks of an upstream with `tls:` speak TLS (health/tls_probe.h): the prober
// builds one client context per such upstream (the upstream's verification, CA and SNI name;
// ALPN "h2" for gRPC checks, none for HTTP/1.1 ones) and a TLS session for each check, freed
// with it. The timeout covers the connect, the handshake and the response; a handshake that
// fails (certificate verification included) fails the check with "TLS handshake failed: ...".
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
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <thread>

#include "absl/status/status.h"
#include "config/config.h"
#include "health/view.h"
#include "proto/h2_session.h"

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

// The message of a gRPC health check request: a HealthCheckRequest whose field 1 (`service`)
// is `service` (absent when empty), in gRPC's framing (a flag byte 0, not compressed, and the
// length in 4 bytes, big-endian).
std::string GrpcHealthRequest(std::string_view service);

// The `status` (field 1) of a HealthCheckResponse, the protobuf bytes without gRPC's prefix:
// false when they are not a valid message; 0 (UNKNOWN, proto3's default) when it is absent.
bool ParseHealthCheckResponse(std::string_view message, int32_t* status);

// One gRPC health check on one connection, without the socket: the prober sends what
// TakeOutput gives and feeds what it receives until done(). It passes on :status 200,
// grpc-status 0 (in the trailers, or in the head of a trailers-only response) and a
// HealthCheckResponse saying SERVING (1); anything else fails with a reason for the log.
//
// What a backend can make it hold is bounded: the response message it keeps is at most
// kMaxMessage bytes, the HTTP/2 session's buffers are limited (header lists, field blocks,
// output, abuse budget) and the response window is never released, so a backend that keeps
// sending is cut off after one window (64 KiB) by flow control. The caller bounds the time.
//
//   GrpcHealthCheck check("10.0.0.7:50051", "");
//   check.TakeOutput(&out);                // preface, SETTINGS, HEADERS, DATA: send it
//   check.Feed(received);                  // then send TakeOutput's bytes, if any (ACKs)
//   if (check.done()) Finish(check.ok(), check.reason());
class GrpcHealthCheck final : private h2::Handler {
 public:
  static constexpr size_t kMaxMessage = 1024;

  // Queues the request: POST /grpc.health.v1.Health/Check with :authority `authority`, and
  // its message asking about `service`. `scheme` is "https" when the check runs over TLS.
  GrpcHealthCheck(std::string_view authority, std::string_view service,
                  std::string_view scheme = "http");
  GrpcHealthCheck(const GrpcHealthCheck&) = delete;
  GrpcHealthCheck& operator=(const GrpcHealthCheck&) = delete;

  // Bytes to send, in order; *out is replaced (empty: nothing to send).
  void TakeOutput(std::string* out);
  // Bytes from the backend; may reach the verdict. Ignored once done().
  void Feed(std::string_view bytes);
  // The backend closed the connection: fails the check unless it is done.
  void OnEof();

  bool done() const { return done_; }
  bool ok() const { return ok_; }                        // once done()
  const std::string& reason() const { return reason_; }  // once done(): for the log
  // For a check cut short by its timeout: what had not come ("no response", ...).
  std::string_view waiting_for() const;

 private:
  void OnResponse(uint32_t stream_id, const h2::ResponseHead& head, bool end_stream) override;
  void OnData(uint32_t stream_id, std::string_view data, bool end_stream) override;
  void OnTrailers(uint32_t stream_id, std::span<const hpack::HeaderField> fields) override;
  void OnStreamClosed(uint32_t stream_id, h2::ErrorCode code, bool by_peer) override;
  void OnGoaway(uint32_t last_stream_id, h2::ErrorCode code, std::string_view debug) override;

  void ReadGrpcStatus(std::span<const hpack::HeaderField> fields);
  // The response has ended: the verdict.
  void Conclude();
  void Done(bool ok, std::string reason);

  h2::ClientSession session_;
  std::string request_;  // the first output: the whole request, until TakeOutput
  uint32_t stream_ = 0;
  uint16_t http_status_ = 0;  // the final head's; 0 before it
  int grpc_status_ = -1;      // -1: none yet; -2: not a number
  std::string grpc_message_;  // printable, shortened
  // The first response message (a unary call has one): its prefix, then its bytes.
  char prefix_[5] = {};
  uint8_t prefix_got_ = 0;
  uint32_t message_length_ = 0;  // from the prefix
  uint32_t message_left_ = 0;    // bytes of it still to come once the prefix is in
  bool message_done_ = false;
  std::string message_;  // kept when message_length_ is at most kMaxMessage
  h2::ErrorCode goaway_ = h2::ErrorCode::kNoError;
  bool got_goaway_ = false;
  bool done_ = false;
  bool ok_ = false;
  std::string reason_;
};

}  // namespace ringway::health

#endif  // RINGWAY_HEALTH_PROBER_H_
