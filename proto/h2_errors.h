// HTTP/2 error codes (RFC 9113 section 7) and the error value the h2 codec layers return: the
// code to send, and whether it ends one stream (RST_STREAM) or the connection (GOAWAY).
//
//   h2::Error e = h2::DecodeWindowUpdate(header, payload, &wu);
//   if (e.scope == h2::ErrorScope::kConnection) { /* GOAWAY(e.code, e.detail), then close */ }
//   else if (e.scope == h2::ErrorScope::kStream) { /* RST_STREAM(header.stream_id, e.code) */ }
#ifndef RINGWAY_PROTO_H2_ERRORS_H_
#define RINGWAY_PROTO_H2_ERRORS_H_

#include <cstdint>
#include <iterator>
#include <string_view>

namespace ringway::h2 {

// The 32-bit error code of RST_STREAM and GOAWAY. A peer may send codes this list does not
// name; the enum holds any uint32_t value, and such codes MUST NOT trigger special behaviour
// (RFC 9113 section 7): treat them as kInternalError if anything.
enum class ErrorCode : uint32_t {
  kNoError = 0x0,
  kProtocolError = 0x1,
  kInternalError = 0x2,
  kFlowControlError = 0x3,
  kSettingsTimeout = 0x4,
  kStreamClosed = 0x5,
  kFrameSizeError = 0x6,
  kRefusedStream = 0x7,
  kCancel = 0x8,
  kCompressionError = 0x9,
  kConnectError = 0xa,
  kEnhanceYourCalm = 0xb,
  kInadequateSecurity = 0xc,
  kHttp11Required = 0xd,
};

// The RFC's name ("PROTOCOL_ERROR"), or "UNKNOWN" for a code it does not define; for logs.
constexpr std::string_view ErrorCodeName(ErrorCode code) {
  constexpr std::string_view kNames[] = {
      "NO_ERROR",
      "PROTOCOL_ERROR",
      "INTERNAL_ERROR",
      "FLOW_CONTROL_ERROR",
      "SETTINGS_TIMEOUT",
      "STREAM_CLOSED",
      "FRAME_SIZE_ERROR",
      "REFUSED_STREAM",
      "CANCEL",
      "COMPRESSION_ERROR",
      "CONNECT_ERROR",
      "ENHANCE_YOUR_CALM",
      "INADEQUATE_SECURITY",
      "HTTP_1_1_REQUIRED",
  };
  const auto i = static_cast<uint32_t>(code);
  return i < std::size(kNames) ? kNames[i] : "UNKNOWN";
}

// RFC 9113 section 5.4: a connection error is answered with GOAWAY and a close; a stream error
// with RST_STREAM on that stream, the connection going on. Any stream error may be escalated
// to a connection error (section 5.4.1); never the other way round.
enum class ErrorScope : uint8_t { kNone, kStream, kConnection };

struct Error {
  ErrorScope scope = ErrorScope::kNone;
  ErrorCode code = ErrorCode::kNoError;
  // A short static description ("DATA on stream 0"), for logs and GOAWAY debug data. Never
  // null; "" when ok().
  const char* detail = "";

  constexpr bool ok() const { return scope == ErrorScope::kNone; }
  constexpr bool IsConnectionError() const { return scope == ErrorScope::kConnection; }

  static constexpr Error Ok() { return {}; }
  static constexpr Error Connection(ErrorCode c, const char* what) {
    return {ErrorScope::kConnection, c, what};
  }
  static constexpr Error Stream(ErrorCode c, const char* what) {
    return {ErrorScope::kStream, c, what};
  }
};

}  // namespace ringway::h2

#endif  // RINGWAY_PROTO_H2_ERRORS_H_
