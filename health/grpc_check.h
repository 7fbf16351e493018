// The gRPC health check: grpc.health.v1.Health/Check over HTTP/2, without the socket. The
// prober (health/prober.h) runs one GrpcHealthCheck per check of an upstream whose checks are
// `grpc`, over TCP or, for an upstream with `tls:`, over TLS (health/tls_probe.h). Also here:
// the request message's encoding and the HealthCheckResponse reader, on bytes.
#ifndef RINGWAY_HEALTH_GRPC_CHECK_H_
#define RINGWAY_HEALTH_GRPC_CHECK_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "proto/h2_session.h"

namespace ringway::health {

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

#endif  // RINGWAY_HEALTH_GRPC_CHECK_H_
