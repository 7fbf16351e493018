// The admin server's requests: the checks on a head beyond the parser's, the handler call and
// the response it sends.
#include <algorithm>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "admin/json.h"
#include "admin/server_loop.h"
#include "core/log.h"
#include "proto/http1_parser.h"
#include "proto/http1_writer.h"

namespace ringway::admin {

using core::LogLevel;

namespace {

const char* Reason(uint16_t status) {
  static constexpr std::pair<uint16_t, const char*> kReasons[] = {
      {200, "OK"},
      {201, "Created"},
      {202, "Accepted"},
      {204, "No Content"},
      {301, "Moved Permanently"},
      {302, "Found"},
      {304, "Not Modified"},
      {400, "Bad Request"},
      {401, "Unauthorized"},
      {403, "Forbidden"},
      {404, "Not Found"},
      {405, "Method Not Allowed"},
      {408, "Request Timeout"},
      {409, "Conflict"},
      {411, "Length Required"},
      {413, "Content Too Large"},
      {414, "URI Too Long"},
      {415, "Unsupported Media Type"},
      {422, "Unprocessable Content"},
      {429, "Too Many Requests"},
      {431, "Request Header Fields Too Large"},
      {500, "Internal Server Error"},
      {501, "Not Implemented"},
      {502, "Bad Gateway"},
      {503, "Service Unavailable"},
      {504, "Gateway Timeout"}};
  for (const auto& [code, text] : kReasons) {
    if (code == status) return text;
  }
  return "";  // the reason phrase may be empty (RFC 9112 section 4)
}

bool IsTokenChar(unsigned char c) {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  return c != 0 && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

bool ValidFieldName(std::string_view n) {
  return !n.empty() && std::all_of(n.begin(), n.end(),
                                   [](char c) { return IsTokenChar(static_cast<uint8_t>(c)); });
}

bool ValidFieldValue(std::string_view v) {
  return std::all_of(v.begin(), v.end(), [](char ch) {
    const auto c = static_cast<uint8_t>(ch);
    return c == '\t' || (c >= 0x20 && c != 0x7F);
  });
}

// Fields the server writes itself or that would change how the response is framed.
bool ReservedField(std::string_view n) {
  for (std::string_view r :
       {"Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive", "Proxy-Connection",
        "Upgrade", "Trailer", "TE", "Content-Type", "Cache-Control"}) {
    if (http1::EqualsIgnoreCase(n, r)) return true;
  }
  return false;
}

// The value of field `name` and how many times it appears.
std::string_view FindField(const http1::RequestHead& h, std::string_view name, int* count) {
  std::string_view v;
  *count = 0;
  for (const http1::Field& f : h.fields) {
    if (http1::EqualsIgnoreCase(f.name, name) && (*count)++ == 0) v = f.value;
  }
  return v;
}

}  // namespace

// In kHead or kBody with nothing in flight: parses, answers, or reads more.
void ServerLoop::Process(Conn* c) {
  if (c->state == State::kHead) {
    // Parse only when the newest bytes may have ended the head, or it is past the limit (the
    // parser then answers 431): a head dribbled a byte at a time costs linear work.
    if (c->in.size() <= opts_.max_head && !http1::HasHeadEnd(c->in, c->scanned)) {
      c->scanned = c->in.size();
      ArmRecv(c);
      return;
    }
    http1::RequestHead h;
    const http1::ParseResult r = http1::ParseRequest(c->in, limits_, fields_, &h);
    if (r.status == http1::ParseStatus::kIncomplete) {
      c->scanned = c->in.size();
      ArmRecv(c);
      return;
    }
    if (r.status == http1::ParseStatus::kError) {
      RefuseParse(c, r);
      return;
    }
    if (!Admissible(c, h)) return;
    c->head_len = r.consumed;
    c->body_len = h.framing.body == http1::BodyKind::kContentLength ? h.framing.content_length : 0;
    c->state = State::kBody;
    // 100 Continue only when none of the body has come: the client is then likely waiting.
    if (h.framing.expect_continue && c->body_len > 0 && c->in.size() == c->head_len) {
      c->out.assign(http1::kContinueResponse);
      c->interim = true;
      PrepSend(c);
      return;
    }
  }
  if (c->in.size() - c->head_len >= c->body_len) {
    Dispatch(c);
  } else {
    ArmRecv(c);
  }
}

void ServerLoop::RefuseParse(Conn* c, const http1::ParseResult& r) {
  switch (r.error_status) {
    case 414:
      Refuse(c, 414, r.error,
             absl::StrFormat("the request line may be at most %u bytes", limits_.max_request_line));
      return;
    case 431:
      Refuse(c, 431, r.error,
             absl::StrFormat("the request head may be at most %u bytes and %u fields",
                             opts_.max_head, kMaxFields));
      return;
    case 501:
      // The parser's only 501 is a transfer coding it does not know: like chunked, the
      // admin server takes bodies with a Content-Length only.
      Refuse(c, 411, r.error, "send the request body with a Content-Length");
      return;
    default:
      Refuse(c, r.error_status, r.error, "the request is not valid HTTP/1.1");
      return;
  }
}

// The checks on a complete head beyond the parser's; false when the request was refused.
bool ServerLoop::Admissible(Conn* c, const http1::RequestHead& h) {
  const bool head_only = h.method == "HEAD";
  if (h.framing.body == http1::BodyKind::kChunked) {
    Refuse(c, 411, "chunked request bodies are not accepted",
           "send the request body with a Content-Length", head_only);
    return false;
  }
  if (h.framing.body == http1::BodyKind::kContentLength &&
      h.framing.content_length > opts_.max_body) {
    Refuse(c, 413, "request body too large",
           absl::StrFormat("the body may be at most %u bytes", opts_.max_body), head_only);
    return false;
  }
  if (h.form == http1::TargetForm::kAuthority) {
    Refuse(c, 501, "CONNECT is not supported", "the admin API takes origin-form targets",
           head_only);
    return false;
  }
  int n = 0;
  FindField(h, "Authorization", &n);
  if (n > 1) {
    Refuse(c, 400, "more than one Authorization field", "send the credentials once", head_only);
    return false;
  }
  FindField(h, "Content-Type", &n);
  if (n > 1) {
    Refuse(c, 400, "more than one Content-Type field", "send one Content-Type", head_only);
    return false;
  }
  return true;
}

// The request is whole in `in`: the handler answers it.
void ServerLoop::Dispatch(Conn* c) {
  http1::RequestHead h;
  // The same bytes parsed again: views taken before the body came may have moved since.
  http1::ParseRequest(std::string_view(c->in).substr(0, c->head_len), limits_, fields_, &h);
  Request req;
  req.method = h.method;
  std::string_view target = h.form == http1::TargetForm::kAbsolute ? h.origin : h.target;
  const size_t q = target.find('?');
  req.path = target.substr(0, q);
  if (req.path.empty()) req.path = "/";  // absolute-form without a path
  if (q != std::string_view::npos) req.query = target.substr(q + 1);
  req.body = std::string_view(c->in).substr(c->head_len, c->body_len);
  int n = 0;
  req.authorization = FindField(h, "Authorization", &n);
  req.content_type = FindField(h, "Content-Type", &n);
  req.host = h.form == http1::TargetForm::kAbsolute ? h.authority : h.framing.host;
  req.origin = FindField(h, "Origin", &n);
  req.loopback_peer = c->loopback;

  const Response resp = handler_(req);
  c->close_after = !h.framing.keep_alive;
  BuildResponse(c, resp, req.method == "HEAD", h.version_minor == 0);
  c->in.erase(0, c->head_len + c->body_len);  // what is left starts the next request
  StartResponse(c);
}

// An error the server answers itself, in JSON; the connection closes after it.
void ServerLoop::Refuse(Conn* c, uint16_t status, std::string_view error, std::string_view hint,
                        bool head_only) {
  RW_LOG(LogLevel::kDebug, "admin %s: %u %.*s", name_.c_str(), status,
         static_cast<int>(error.size()), error.data());
  Response resp;
  resp.status = status;
  resp.body = JsonError(error, hint);
  c->close_after = true;
  BuildResponse(c, resp, head_only, false);
  StartResponse(c);
}

void ServerLoop::BuildResponse(Conn* c, const Response& resp, bool head_only, bool http10) {
  uint16_t status = resp.status;
  std::string_view content_type = resp.content_type;
  std::string_view body = resp.body;
  std::string internal;
  if (status < 200 || status > 599) {
    RW_LOG(LogLevel::kError, "admin %s: the handler answered status %u; sent 500", name_.c_str(),
           status);
    status = 500;
    content_type = "application/json";
    internal = JsonError("internal error", "the handler gave an invalid status");
    body = internal;
  }
  if (!ValidFieldValue(content_type)) content_type = "";
  const bool no_body = status == 204 || status == 304;
  std::string& out = c->out;
  out.clear();
  c->sent = 0;
  absl::StrAppend(&out, "HTTP/1.1 ", status, " ", Reason(status), "\r\n");
  if (!content_type.empty()) out.append("Content-Type: ").append(content_type).append("\r\n");
  if (!no_body) absl::StrAppend(&out, "Content-Length: ", body.size(), "\r\n");
  out.append("Cache-Control: no-store\r\n");
  for (const auto& [name, value] : resp.headers) {
    if (!ValidFieldName(name) || !ValidFieldValue(value) || ReservedField(name)) {
      RW_LOG(LogLevel::kWarn, "admin %s: the handler's field '%s' is dropped", name_.c_str(),
             name.c_str());
      continue;
    }
    absl::StrAppend(&out, name, ": ", value, "\r\n");
  }
  if (c->close_after) {
    out.append("Connection: close\r\n");
  } else if (http10) {
    out.append("Connection: keep-alive\r\n");
  }
  out.append("\r\n");
  if (!no_body && !head_only) out.append(body);
}

void ServerLoop::StartResponse(Conn* c) {
  c->state = State::kSend;
  SetTimer(c, &send_);  // the whole response must be taken within send_timeout_ms
  PrepSend(c);
}

}  // namespace ringway::admin
