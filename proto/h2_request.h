// HTTP/2 message heads (RFC 9113 section 8): checks a decoded request field block and gives the
// request's pseudo-header fields and regular fields as views; checks trailers; prepares the
// fields of a response for HPACK (":status" first, names lowercased, connection-specific
// fields dropped); joins cookie crumbs for an HTTP/1.1 backend.
//
//   h2::Request req;
//   h2::MessageCheck c = h2::ParseRequest(decoded_fields, /*end_stream=*/false, &req);
//   if (!c.ok) { /* malformed: stream error PROTOCOL_ERROR, c.detail for the log */ }
//   std::string cookie;
//   if (h2::JoinCookies(req.fields, &cookie)) { /* one "Cookie: a=1; b=2" line upstream */ }
//
// Every rule that makes a request malformed in RFC 9113 sections 8.1-8.3 and 8.5, plus a few
// stricter ones that an HTTP/1.1 backend needs (each marked "stricter" below), because a
// request head that is valid HTTP/2 but would read differently as HTTP/1.1 is a smuggling
// vector (RFC 9113 section 10.3).
#ifndef RINGWAY_PROTO_H2_REQUEST_H_
#define RINGWAY_PROTO_H2_REQUEST_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "proto/hpack.h"

namespace ringway::h2 {

// A request head. Views into the decoded field block: valid during Handler::OnRequest only.
struct Request {
  std::string_view method;     // a token; "CONNECT" for tunnels
  std::string_view scheme;     // "" for CONNECT; any scheme syntax, usually "http" or "https"
  std::string_view authority;  // :authority; "" when absent (then `host` may say it)
  std::string_view path;       // "" for CONNECT; starts with '/', or "*" for OPTIONS
  // The regular fields in order, names lowercase, pseudo-header fields excluded. Cookie crumbs
  // stay separate fields (see JoinCookies). never_indexed is the peer's HPACK choice, for an
  // HTTP/2 next hop (RFC 7541 section 7.1.3).
  std::span<const hpack::HeaderField> fields;
  std::string_view host;  // value of the host field, "" when absent
  std::optional<uint64_t> content_length;
  bool has_body = false;    // the HEADERS frame did not carry END_STREAM
  bool is_connect = false;  // :method CONNECT (RFC 9113 section 8.5); :authority is host:port
  // Extended CONNECT (RFC 8441): the :protocol value ("websocket"); "" otherwise. Then
  // is_connect is set and :scheme, :path and :authority are all present.
  std::string_view protocol;
};

// A response head to send. Field names in any case (the session lowercases them); the
// connection-specific fields of RFC 9113 section 8.2.2 (connection, keep-alive,
// proxy-connection, transfer-encoding, upgrade), te, the fields a connection field names,
// pseudo-header fields and fields with bytes HTTP/2 forbids are dropped without a word.
struct Response {
  Response() = default;
  Response(uint16_t s, std::span<const hpack::HeaderField> f = {}) : status(s), fields(f) {}

  uint16_t status = 200;  // 100..999, not 101 (RFC 9113 section 8.6)
  std::span<const hpack::HeaderField> fields;
};

// A response head received (client role). Views into the decoded field block: valid during
// Handler::OnResponse only.
struct ResponseHead {
  uint16_t status = 0;  // 100..999, never 101
  // The regular fields in order, names lowercase, ":status" excluded.
  std::span<const hpack::HeaderField> fields;
  std::optional<uint64_t> content_length;
};

struct MessageCheck {
  bool ok = true;
  const char* detail = "";  // static text, for logs; "" when ok
};

// Checks a request field block and fills *out on success (out->fields views into `fields`).
// Malformed (RFC 9113 sections 8.1.1, 8.2, 8.3, 8.5):
//  - a field name that is empty, has uppercase, or (regular fields) a byte outside the token
//    characters (RFC 9113 forbids 0x00-0x20, 0x41-0x5a, 0x7f-0xff and ':'; token is stricter)
//  - a value with NUL, CR or LF, or starting or ending with SP or HTAB; stricter: any other
//    control byte but HTAB, or DEL, as the HTTP/1.1 parser refuses them
//  - a pseudo-header field after a regular field, repeated, or other than :method, :scheme,
//    :authority, :path (:protocol included: SETTINGS_ENABLE_CONNECT_PROTOCOL is not announced;
//    :status is a response field)
//  - a connection-specific field; te with a value other than "trailers"
//  - no :method; CONNECT with :scheme or :path, or without :authority; any other method
//    without :scheme or :path; an empty :path; for http and https a :path that does not
//    start with '/' other than "*" for OPTIONS
//  - stricter: a :path with bytes a request-target cannot hold (controls, SP, DEL, '#'); a
//    :method that is not a token; a :scheme that is not scheme syntax; an :authority that is
//    empty or has userinfo ('@') or bytes the HTTP/1.1 Host grammar lacks
//  - a host field that differs from :authority (RFC 9113 section 8.3.1 says SHOULD); stricter:
//    more than one host field
//  - content-length that is not 1*DIGIT or over 2^64-1, or given twice with different values;
//    END_STREAM on the HEADERS with a content-length other than 0 (section 8.1.1: the DATA sum,
//    0, must equal it)
// With extended_connect (we announced SETTINGS_ENABLE_CONNECT_PROTOCOL, RFC 8441 section 3),
// :protocol is allowed on CONNECT, which then needs :scheme, :path and :authority (section 4);
// without it, :protocol is an unknown pseudo-header field.
[[nodiscard]] MessageCheck ParseRequest(std::span<const hpack::HeaderField> fields, bool end_stream,
                                        Request* out, bool extended_connect = false);

// Checks a response field block and fills *out on success (out->fields views into `fields`).
// Malformed (RFC 9113 sections 8.1.1, 8.2, 8.3): no ":status", or one that is not three digits
// from 100 to 999, or 101 (section 8.6), or given twice; any other pseudo-header field, or one
// after a regular field; the field name and value rules of ParseRequest; a connection-specific
// field (te included); content-length that is not 1*DIGIT or two different values; an interim
// (1xx) head with END_STREAM.
[[nodiscard]] MessageCheck ParseResponse(std::span<const hpack::HeaderField> fields,
                                         bool end_stream, ResponseHead* out);

// Checks a trailer section: no pseudo-header fields (RFC 9113 section 8.1), and the name and
// value rules of ParseRequest, connection-specific fields included.
[[nodiscard]] MessageCheck CheckTrailers(std::span<const hpack::HeaderField> fields);

// Per-field rules, exposed for tests and for the proxy's own checks.
bool IsValidFieldName(std::string_view name);  // lowercase token
bool IsValidFieldValue(std::string_view value);
// The fields RFC 9113 section 8.2.2 forbids in any HTTP/2 message (te is allowed with
// "trailers" in requests and is checked apart). `name` lowercase.
bool IsConnectionSpecificField(std::string_view name);

// RFC 9113 section 8.2.3: an HTTP/2 client may split the cookie field into one field per
// crumb; an HTTP/1.1 next hop needs them joined with "; " into one field. Sets *out to the
// joined value and returns true when `fields` holds at least one cookie field.
bool JoinCookies(std::span<const hpack::HeaderField> fields, std::string* out);

// Fills *out with the fields to encode for a response or trailer section: ":status" first when
// status != 0 (`status_digits` gives it storage), then `in` without the dropped fields listed
// at Response, names lowercased into *names (views into it; it is sized up front so none
// moves). The never_indexed flags travel along.
void BuildResponseFields(uint16_t status, std::span<const hpack::HeaderField> in,
                         char (&status_digits)[3], std::vector<hpack::HeaderField>* out,
                         std::string* names);

}  // namespace ringway::h2

#endif  // RINGWAY_PROTO_H2_REQUEST_H_
