// HTTP/1.1 message-head parser (RFC 9112): requests and responses.
//
// The parser never allocates and never copies: it returns views into the caller's input. It is
// stateless between calls: when a head is incomplete it returns kIncomplete and the caller calls
// again with the same bytes plus more. It is strict where request smuggling lives and reports
// the HTTP status a server should answer with.
//
//   http1::Field fields[100];
//   http1::RequestHead req;
//   http1::ParseResult r = http1::ParseRequest(input, limits, fields, &req);
//   if (r.status == http1::ParseStatus::kComplete) { /* req.* views into input[0, r.consumed) */ }
#ifndef RINGWAY_PROTO_HTTP1_PARSER_H_
#define RINGWAY_PROTO_HTTP1_PARSER_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace ringway::http1 {

struct Field {
  std::string_view name;   // as sent (case preserved), never empty
  std::string_view value;  // leading/trailing OWS trimmed
};

struct ParseLimits {
  size_t max_request_line = 8 * 1024;  // request line longer than this: 414
  size_t max_head = 64 * 1024;         // whole head (line + fields + CRLFCRLF) over this: 431
  size_t max_fields = 100;             // more fields than this: 431
};

enum class ParseStatus : uint8_t { kComplete, kIncomplete, kError };

// How the body of a message is delimited (RFC 9112 section 6.3).
enum class BodyKind : uint8_t {
  kNone,           // no body (no CL/TE on a request; HEAD/1xx/204/304 responses; CL: 0)
  kContentLength,  // exactly content_length bytes
  kChunked,        // chunked transfer coding, last coding
  kUntilClose,     // response only: body runs until the server closes
};

// What a proxy needs to know about a message beyond its fields, computed in the same pass.
struct Framing {
  BodyKind body = BodyKind::kNone;
  uint64_t content_length = 0;   // valid when body == kContentLength
  bool keep_alive = true;        // after version default and Connection: close/keep-alive
  bool expect_continue = false;  // request: Expect: 100-continue
  bool upgrade = false;          // Connection: upgrade together with an Upgrade field
  std::string_view host;         // request: the Host field value ("" when absent)
};

// The four forms of request-target (RFC 9112 section 3.2).
enum class TargetForm : uint8_t {
  kOrigin,     // "/path?query"
  kAbsolute,   // "http://authority/path?query" (scheme http or https, any case)
  kAuthority,  // "host:port", CONNECT only
  kAsterisk,   // "*", OPTIONS only
};

struct RequestHead {
  std::string_view method;
  std::string_view target;        // request-target as sent
  uint8_t version_minor = 1;      // HTTP/1.<minor>; 0 or 1
  std::span<const Field> fields;  // points into the caller's field storage
  Framing framing;
  TargetForm form = TargetForm::kOrigin;
  // Absolute-form only: the target's authority (host [":" port]), which replaces Host on the
  // way upstream (RFC 9112 section 3.2.2); "" for every other form.
  std::string_view authority;
  // The target to send upstream. Absolute-form: the path and query after the authority, which
  // may be empty or start with '?' (the sender then prefixes "/"). Other forms: the target.
  std::string_view origin;
};

struct ResponseHead {
  uint8_t version_minor = 1;
  uint16_t status = 0;  // 100..999
  std::string_view reason;
  std::span<const Field> fields;
  Framing framing;  // body as if for a GET request (status counted); see ResponseBody()
};

struct ParseResult {
  ParseStatus status = ParseStatus::kIncomplete;
  size_t consumed = 0;        // kComplete: bytes of the head including the final CRLFCRLF
  uint16_t error_status = 0;  // kError: 400, 414, 431 or 501 for a request; 502 for a response
  const char* error = "";     // kError: short static description, for logs
};

// Parses one request head at the start of `in`. Rejects (400 unless noted):
//  - a request line or field line with NUL, bare CR, or other control bytes; bad method token;
//    a target with spaces or control bytes; a version other than HTTP/1.0 or HTTP/1.1
//  - a request-target in none of the four forms below, or in a form the method does not allow
//    (RFC 9112 section 3.2). A fragment ('#') is an error in every form.
//      origin-form    "/" path ["?" query] ("//x" included: an empty first segment is valid)
//      absolute-form  scheme "://" authority [path-abempty] ["?" query]; the scheme is http or
//                     https in any case (another scheme is an error), the authority is not
//                     empty and has no userinfo ('@')"
//      authority-form host ":" port, CONNECT only; CONNECT with any other form is an error
//      asterisk-form  "*", OPTIONS only
//    An authority (absolute- or authority-form) is host [":" port]: host an IP-literal in
//    brackets or a non-empty reg-name / IPv4 address, with the bytes the Host field allows;
//    port at most five digits and 65535 (authority-form needs one; absolute-form may leave it
//    empty, as RFC 3986 does). Anything else, such as "@host/x", "x/y" or "http:/x", is 400.
//    `form`, `authority` and `origin` report the result (see RequestHead).
//  - whitespace between a field name and its colon; obs-fold (a line starting with SP/HTAB);
//    an empty or non-token field name
//  - Content-Length together with Transfer-Encoding; more than one Content-Length field, or
//    a list value, or a value that is not 1*DIGIT, or one that overflows 64 bits
//  - Transfer-Encoding whose last coding is not chunked, or chunked given twice (400);
//    a Transfer-Encoding without chunked at all, or an unknown coding (501)
//  - Transfer-Encoding in an HTTP/1.0 request; a missing Host in HTTP/1.1; more than one Host;
//    a Host value with bytes outside the authority grammar (letters, digits, -._~!$&'()*+,;=:[]%)
//  - a Transfer-Encoding list with an empty element or a coding with parameters
// Bare LF line endings are accepted (RFC 9112 section 2.2). Leading empty lines before the
// request line are skipped (counted in `consumed` and in max_head). The request line limit
// counts the line without its CRLF. Content-Length: 0 gives kNone with content_length 0.
// expect_continue and upgrade are only set for HTTP/1.1 (RFC 9110 sections 10.1.1 and 7.8).
// `out` is written only on kComplete; field_storage is scratch space in every case.
ParseResult ParseRequest(std::string_view in, const ParseLimits& limits,
                         std::span<Field> field_storage, RequestHead* out);

// Parses one response head at the start of `in`, with the same field rules (every error is
// reported as 502; Host is not checked). A response with both Transfer-Encoding: chunked and
// Content-Length is accepted and treated as chunked (RFC 9112 6.3 item 3), and the caller must
// not reuse the connection (keep_alive = false). framing.body: kNone for 1xx, 204 and 304 and
// for Content-Length: 0 (content_length 0); kUntilClose without Content-Length or chunked,
// which also means the upstream connection cannot be reused, whatever keep_alive says.
ParseResult ParseResponse(std::string_view in, const ParseLimits& limits,
                          std::span<Field> field_storage, ResponseHead* out);

// The body kind of a response given the request method: HEAD, 1xx, 204 and 304 have no body.
// kUntilClose when the response has neither Content-Length nor chunked.
BodyKind ResponseBody(const ResponseHead& resp, bool request_was_head);

// Whether buf holds a blank line (LF LF or LF CR LF) whose final LF is at or after `from`.
// A head gathered across reads can only have become complete if the newest bytes end one, so
// a caller re-parses only then (or when a size limit is crossed) instead of on every read.
bool HasHeadEnd(std::string_view buf, size_t from);

// Case-insensitive ASCII comparison for field names and tokens.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

}  // namespace ringway::http1

#endif  // RINGWAY_PROTO_HTTP1_PARSER_H_
