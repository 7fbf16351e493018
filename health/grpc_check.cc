// The gRPC health check (health/grpc_check.h): the request message, the HealthCheckResponse
// reader and GrpcHealthCheck, an HTTP/2 client session that reaches a verdict on the response.
#include "health/grpc_check.h"

#include <algorithm>
#include <cstring>
#include <iterator>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ringway::health {

namespace {

constexpr std::string_view kGrpcHealthPath = "/grpc.health.v1.Health/Check";

// The gRPC status codes, for the log.
constexpr std::string_view kGrpcStatusNames[] = {
    "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
    "DATA_LOSS", "UNAUTHENTICATED"};

// grpc.health.v1.HealthCheckResponse.ServingStatus.
constexpr std::string_view kServingStatusNames[] = {"UNKNOWN", "SERVING", "NOT_SERVING",
                                                    "SERVICE_UNKNOWN"};

void AppendVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

bool ReadVarint(std::string_view in, size_t* pos, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*pos >= in.size()) return false;
    const auto b = static_cast<uint8_t>(in[(*pos)++]);
    *v |= static_cast<uint64_t>(b & 0x7F) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;  // more than 10 bytes
}

// What a backend wrote into a field, fit for one log line: printable ASCII, at most 100 bytes.
std::string Printable(std::string_view in) {
  std::string out;
  for (char c : in.substr(0, 100)) {
    out.push_back(c >= 0x20 && c < 0x7F ? c : '?');
  }
  if (in.size() > 100) out += "...";
  return out;
}

// The check exchanges one small request and response: the limits are a few KiB, not what a
// proxy needs. The response window (64 KiB) is never released (see GrpcHealthCheck).
h2::SessionLimits GrpcCheckLimits() {
  h2::SessionLimits l;
  l.initial_stream_window = h2::kDefaultInitialWindowSize;
  l.connection_window = h2::kDefaultInitialWindowSize;
  l.max_frame_size = h2::kDefaultMaxFrameSize;
  l.max_header_list_size = 8 * 1024;
  l.max_header_block_bytes = 16 * 1024;
  l.closed_stream_memory = 4;
  l.settings_timeout_ms = 0;  // the check's timeout bounds the whole exchange
  l.max_output_bytes = 16 * 1024;
  l.abuse.glitch_budget = 100;
  return l;
}

}  // namespace

std::string GrpcHealthRequest(std::string_view service) {
  std::string pb;
  if (!service.empty()) {
    pb.push_back(0x0A);  // field 1, length-delimited
    AppendVarint(service.size(), &pb);
    pb.append(service);
  }
  std::string out(5, '\0');
  const auto n = static_cast<uint32_t>(pb.size());
  out[1] = static_cast<char>(n >> 24);
  out[2] = static_cast<char>(n >> 16);
  out[3] = static_cast<char>(n >> 8);
  out[4] = static_cast<char>(n);
  return out + pb;
}

bool ParseHealthCheckResponse(std::string_view message, int32_t* status) {
  *status = 0;
  size_t pos = 0;
  while (pos < message.size()) {
    uint64_t key = 0;
    if (!ReadVarint(message, &pos, &key)) return false;
    const uint64_t field = key >> 3;
    if (field == 0) return false;
    uint64_t v = 0;
    switch (key & 7) {
      case 0:  // varint
        if (!ReadVarint(message, &pos, &v)) return false;
        // An enum is an int32; a negative one is sent as a 10-byte varint.
        if (field == 1) *status = static_cast<int32_t>(static_cast<uint32_t>(v));
        continue;
      case 1:  // fixed64
        v = 8;
        break;
      case 2:  // length-delimited
        if (!ReadVarint(message, &pos, &v)) return false;
        break;
      case 5:  // fixed32
        v = 4;
        break;
      default:  // groups (deprecated) and invalid wire types
        return false;
    }
    if (field == 1) return false;  // `status` with a wire type other than varint
    if (v > message.size() - pos) return false;
    pos += v;
  }
  return true;
}

GrpcHealthCheck::GrpcHealthCheck(std::string_view authority, std::string_view service,
                                 std::string_view scheme)
    : session_(GrpcCheckLimits(), this) {
  const hpack::HeaderField fields[] = {
      {":method", "POST"},
      {":scheme", scheme},
      {":authority", authority},
      {":path", kGrpcHealthPath},
      {"content-type", "application/grpc"},
      {"te", "trailers"},
      {"user-agent", "ringway-health"},
  };
  const std::string message = GrpcHealthRequest(service);
  stream_ = session_.SubmitRequest(fields, /*end_stream=*/false);
  char header[h2::kFrameHeaderSize];
  // A new session's windows (64 KiB) and frame size (16 KiB) take the message whole.
  if (stream_ == 0 || session_.SendableBytes(stream_) < message.size() ||
      !session_.PrepareData(stream_, static_cast<uint32_t>(message.size()), /*end_stream=*/true,
                            header)) {
    Done(false, "cannot write the request");
    return;
  }
  session_.TakeOutput(&request_);
  request_.append(header, sizeof(header));
  request_.append(message);
}

void GrpcHealthCheck::TakeOutput(std::string* out) {
  if (request_.empty()) return session_.TakeOutput(out);
  *out = std::move(request_);
  request_ = std::string();
  std::string more;
  session_.TakeOutput(&more);
  out->append(more);
}

void GrpcHealthCheck::Feed(std::string_view bytes) {
  if (done_) return;
  const h2::FeedResult r = session_.Feed(bytes);
  if (!done_ && !r.ok) {
    Done(false,
         absl::StrCat("HTTP/2 error ", std::string(h2::ErrorCodeName(r.error)), ": ", r.detail));
  }
}

void GrpcHealthCheck::OnEof() {
  if (done_) return;
  std::string what = http_status_ == 0 ? "without a response" : "before the response ended";
  if (got_goaway_) {
    Done(false, absl::StrCat("connection closed ", what, " (GOAWAY ",
                             std::string(h2::ErrorCodeName(goaway_)), ")"));
  } else {
    Done(false, absl::StrCat("connection closed ", what));
  }
}

std::string_view GrpcHealthCheck::waiting_for() const {
  if (done_) return "";
  if (http_status_ == 0) return "no response";
  if (!message_done_) return "no response message";
  return "no trailers";
}

void GrpcHealthCheck::OnResponse(uint32_t stream_id, const h2::ResponseHead& head,
                                 bool end_stream) {
  if (done_ || stream_id != stream_ || head.status < 200) return;  // 1xx: interim
  http_status_ = head.status;
  if (head.status != 200) return Done(false, absl::StrFormat("HTTP status %d", head.status));
  if (end_stream) {  // trailers-only: grpc-status is in the head
    ReadGrpcStatus(head.fields);
    Conclude();
  }
}

void GrpcHealthCheck::OnData(uint32_t stream_id, std::string_view data, bool end_stream) {
  if (done_ || stream_id != stream_) return;
  // Only the first message counts; bytes after it are ignored (a unary call has one).
  while (!data.empty() && !message_done_) {
    if (prefix_got_ < sizeof(prefix_)) {
      const size_t k = std::min(data.size(), sizeof(prefix_) - prefix_got_);
      memcpy(prefix_ + prefix_got_, data.data(), k);
      prefix_got_ += static_cast<uint8_t>(k);
      data.remove_prefix(k);
      if (prefix_got_ < sizeof(prefix_)) break;
      const auto* b = reinterpret_cast<const uint8_t*>(prefix_);
      message_length_ =
          (uint32_t{b[1]} << 24) | (uint32_t{b[2]} << 16) | (uint32_t{b[3]} << 8) | b[4];
      message_left_ = message_length_;
      message_done_ = message_left_ == 0;
      continue;
    }
    const size_t k = std::min<size_t>(data.size(), message_left_);
    if (message_length_ <= kMaxMessage) message_.append(data.data(), k);
    message_left_ -= static_cast<uint32_t>(k);
    data.remove_prefix(k);
    message_done_ = message_left_ == 0;
  }
  if (end_stream) Conclude();  // no trailers: fails for want of a grpc-status
}

void GrpcHealthCheck::OnTrailers(uint32_t stream_id, std::span<const hpack::HeaderField> fields) {
  if (done_ || stream_id != stream_) return;
  ReadGrpcStatus(fields);
  Conclude();
}

void GrpcHealthCheck::OnStreamClosed(uint32_t stream_id, h2::ErrorCode code, bool by_peer) {
  if (done_ || stream_id != stream_) return;
  if (by_peer) {
    Done(false,
         absl::StrCat("stream reset by the backend: ", std::string(h2::ErrorCodeName(code))));
  } else {
    Done(false, absl::StrCat("malformed response (answered with RST_STREAM ",
                             std::string(h2::ErrorCodeName(code)), ")"));
  }
}

void GrpcHealthCheck::OnGoaway(uint32_t, h2::ErrorCode code, std::string_view) {
  got_goaway_ = true;
  goaway_ = code;
}

void GrpcHealthCheck::ReadGrpcStatus(std::span<const hpack::HeaderField> fields) {
  for (const hpack::HeaderField& f : fields) {
    if (f.name == "grpc-status") {
      int v = 0;
      bool digits = !f.value.empty() && f.value.size() <= 3;
      for (char c : f.value) {
        digits = digits && c >= '0' && c <= '9';
        v = v * 10 + (c - '0');
      }
      grpc_status_ = digits ? v : -2;
    } else if (f.name == "grpc-message") {
      grpc_message_ = Printable(f.value);
    }
  }
}

void GrpcHealthCheck::Conclude() {
  if (done_) return;
  if (grpc_status_ == -1) return Done(false, "no grpc-status in the response");
  if (grpc_status_ == -2) return Done(false, "grpc-status is not a number");
  if (grpc_status_ != 0) {
    std::string reason = absl::StrFormat("grpc-status %d", grpc_status_);
    if (static_cast<size_t>(grpc_status_) < std::size(kGrpcStatusNames)) {
      absl::StrAppend(&reason, " (", std::string(kGrpcStatusNames[grpc_status_]), ")");
    }
    if (!grpc_message_.empty()) absl::StrAppend(&reason, ": ", grpc_message_);
    return Done(false, std::move(reason));
  }
  if (prefix_got_ == 0) return Done(false, "grpc-status 0 but no response message");
  if (!message_done_) return Done(false, "the response message is cut short");
  if (prefix_[0] != 0) return Done(false, "the response message is compressed");
  if (message_length_ > kMaxMessage) {
    return Done(false, absl::StrFormat("the response message has %u bytes, more than the %u "
                                       "a HealthCheckResponse may have here",
                                       message_length_, kMaxMessage));
  }
  int32_t status = 0;
  if (!ParseHealthCheckResponse(message_, &status)) {
    return Done(false, "the response is not a HealthCheckResponse");
  }
  if (status == 1) return Done(true, "SERVING");
  if (status >= 0 && static_cast<size_t>(status) < std::size(kServingStatusNames)) {
    return Done(false, std::string(kServingStatusNames[status]));
  }
  Done(false, absl::StrFormat("serving status %d", status));
}

void GrpcHealthCheck::Done(bool ok, std::string reason) {
  done_ = true;
  ok_ = ok;
  reason_ = std::move(reason);
}

}  // namespace ringway::health
