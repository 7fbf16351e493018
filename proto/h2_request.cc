// HTTP/2 message-head checks: one pass over the decoded fields with byte-class tables, pseudo-
// header fields first (they must come first, so the regular fields are the tail of the list and
// the request's field span needs no copy).
#include "proto/h2_request.h"

#include <array>
#include <cstring>

namespace ringway::h2 {
namespace {

enum : uint8_t {
  kNameByte = 1,     // lowercase tchar (RFC 9110 section 5.6.2, minus uppercase)
  kValueByte = 2,    // HTAB, SP, VCHAR, obs-text
  kPathByte = 4,     // request-target byte: VCHAR but '#', obs-text
  kTokenByte = 8,    // tchar, any case (methods)
  kSchemeByte = 16,  // ALPHA / DIGIT / "+" / "-" / "."
  kAuthorityByte =
      32  // the HTTP/1.1 parser's Host bytes: unreserved, sub-delims, ':', '[', ']', '%'
};

constexpr std::array<uint8_t, 256> MakeClasses() {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    uint8_t v = 0;
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    const bool digit = c >= '0' && c <= '9';
    const bool tspecial_ok = c == '!' || c == '#' || c == '$' || c == '%' || c == '&' ||
                             c == '\'' || c == '*' || c == '+' || c == '-' || c == '.' ||
                             c == '^' || c == '_' || c == '`' || c == '|' || c == '~';
    if (alpha || digit || tspecial_ok) v |= kTokenByte;
    if ((v & kTokenByte) && !(c >= 'A' && c <= 'Z')) v |= kNameByte;
    if (c == '\t' || (c >= 0x20 && c != 0x7f)) v |= kValueByte;
    if (c > 0x20 && c != 0x7f && c != '#') v |= kPathByte;
    if (alpha || digit || c == '+' || c == '-' || c == '.') v |= kSchemeByte;
    if (alpha || digit || c == '-' || c == '.' || c == '_' || c == '~' || c == '!' || c == '$' ||
        c == '&' || c == '\'' || c == '(' || c == ')' || c == '*' || c == '+' || c == ',' ||
        c == ';' || c == '=' || c == ':' || c == '[' || c == ']' || c == '%') {
      v |= kAuthorityByte;
    }
    t[c] = v;
  }
  return t;
}

constexpr std::array<uint8_t, 256> kClasses = MakeClasses();

bool AllOf(std::string_view s, uint8_t cls) {
  for (const char c : s) {
    if ((kClasses[static_cast<uint8_t>(c)] & cls) == 0) return false;
  }
  return true;
}

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

bool HasUpper(std::string_view s) {
  for (const char c : s) {
    if (c >= 'A' && c <= 'Z') return true;
  }
  return false;
}

// 1*DIGIT into a uint64_t; false on anything else or overflow.
bool ParseContentLength(std::string_view v, uint64_t* out) {
  if (v.empty()) return false;
  uint64_t n = 0;
  for (const char c : v) {
    if (c < '0' || c > '9') return false;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (n > (UINT64_MAX - d) / 10) return false;
    n = n * 10 + d;
  }
  *out = n;
  return true;
}

enum Pseudo : uint8_t { kMethod = 1, kScheme = 2, kAuthority = 4, kPath = 8, kProtocol = 16 };

MessageCheck Bad(const char* detail) { return MessageCheck{false, detail}; }

// Name and value rules common to requests and trailers, for a regular field.
MessageCheck CheckRegular(const hpack::HeaderField& f) {
  if (!IsValidFieldName(f.name)) {
    return Bad(HasUpper(f.name) ? "uppercase field name" : "invalid field name");
  }
  if (!IsValidFieldValue(f.value)) return Bad("invalid field value");
  if (IsConnectionSpecificField(f.name)) return Bad("connection-specific field");
  if (f.name == "te" && !EqualsIgnoreCase(f.value, "trailers")) {
    return Bad("te other than \"trailers\"");
  }
  return {};
}

}  // namespace

bool IsValidFieldName(std::string_view name) { return !name.empty() && AllOf(name, kNameByte); }

bool IsValidFieldValue(std::string_view value) {
  if (value.empty()) return true;
  const char first = value.front();
  const char last = value.back();
  if (first == ' ' || first == '\t' || last == ' ' || last == '\t') return false;
  // Eight bytes at a time: a word with no byte below 0x20 and none equal to 0x7f is all
  // valid (the test may flag a valid word, never miss an invalid one); a flagged word, and
  // the tail, are checked byte by byte.
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHighs = 0x8080808080808080ULL;
  size_t i = 0;
  for (; i + 8 <= value.size(); i += 8) {
    uint64_t w;
    memcpy(&w, value.data() + i, sizeof(w));
    const uint64_t below_space = (w - kOnes * 0x20) & ~w & kHighs;
    const uint64_t x = w ^ (kOnes * 0x7f);
    const uint64_t del = (x - kOnes) & ~x & kHighs;
    if ((below_space | del) != 0 && !AllOf(value.substr(i, 8), kValueByte)) return false;
  }
  return AllOf(value.substr(i), kValueByte);
}

bool IsConnectionSpecificField(std::string_view name) {
  switch (name.size()) {
    case 7:
      return name == "upgrade";
    case 10:
      return name == "connection" || name == "keep-alive";
    case 16:
      return name == "proxy-connection";
    case 17:
      return name == "transfer-encoding";
    default:
      return false;
  }
}

MessageCheck ParseRequest(std::span<const hpack::HeaderField> fields, bool end_stream, Request* out,
                          bool extended_connect) {
  Request r;
  uint8_t seen = 0;
  size_t first_regular = fields.size();
  bool have_host = false;
  for (size_t i = 0; i < fields.size(); ++i) {
    const hpack::HeaderField& f = fields[i];
    if (f.name.empty()) return Bad("empty field name");
    if (f.name[0] == ':') {
      if (first_regular != fields.size()) return Bad("pseudo-header field after a regular field");
      uint8_t which = 0;
      if (f.name == ":method") {
        which = kMethod;
        r.method = f.value;
      } else if (f.name == ":scheme") {
        which = kScheme;
        r.scheme = f.value;
      } else if (f.name == ":authority") {
        which = kAuthority;
        r.authority = f.value;
      } else if (f.name == ":path") {
        which = kPath;
        r.path = f.value;
      } else if (f.name == ":protocol" && extended_connect) {
        which = kProtocol;
        r.protocol = f.value;
      } else if (f.name == ":status") {
        return Bad("response pseudo-header field in a request");
      } else {
        return Bad("unknown pseudo-header field");
      }
      if ((seen & which) != 0) return Bad("repeated pseudo-header field");
      seen |= which;
      if (!IsValidFieldValue(f.value)) return Bad("invalid pseudo-header field value");
      continue;
    }
    if (first_regular == fields.size()) first_regular = i;
    const MessageCheck c = CheckRegular(f);
    if (!c.ok) return c;
    if (f.name == "content-length") {
      uint64_t n = 0;
      if (!ParseContentLength(f.value, &n)) return Bad("invalid content-length");
      if (r.content_length.has_value()) return Bad("repeated content-length");
      r.content_length = n;
    } else if (f.name == "host") {
      if (have_host) return Bad("repeated host");
      have_host = true;
      r.host = f.value;
    }
  }

  if ((seen & kMethod) == 0) return Bad("missing :method");
  if (r.method.empty() || !AllOf(r.method, kTokenByte)) return Bad("invalid :method");
  r.is_connect = r.method == "CONNECT";
  if ((seen & kProtocol) != 0) {
    // RFC 8441 section 4: only with CONNECT, and then with :scheme and :path too.
    if (!r.is_connect) return Bad(":protocol without CONNECT");
    if (r.protocol.empty() || !AllOf(r.protocol, kTokenByte)) return Bad("invalid :protocol");
    if ((seen & (kScheme | kPath | kAuthority)) != (kScheme | kPath | kAuthority)) {
      return Bad("extended CONNECT without :scheme, :path or :authority");
    }
  }
  if (r.is_connect && r.protocol.empty()) {
    // RFC 9113 section 8.5 (extended CONNECT, with :protocol, is checked as other requests).
    if ((seen & (kScheme | kPath)) != 0) return Bad("CONNECT with :scheme or :path");
    if ((seen & kAuthority) == 0) return Bad("CONNECT without :authority");
  } else {
    if ((seen & kScheme) == 0) return Bad("missing :scheme");
    if ((seen & kPath) == 0) return Bad("missing :path");
    if (r.path.empty()) return Bad("empty :path");
    if (!AllOf(r.path, kPathByte)) return Bad("invalid :path");
    const char s0 = r.scheme.empty() ? '\0' : r.scheme[0];
    const bool alpha = (s0 >= 'a' && s0 <= 'z') || (s0 >= 'A' && s0 <= 'Z');
    if (!alpha || !AllOf(r.scheme, kSchemeByte)) return Bad("invalid :scheme");
    if (EqualsIgnoreCase(r.scheme, "http") || EqualsIgnoreCase(r.scheme, "https")) {
      const bool asterisk = r.path == "*" && r.method == "OPTIONS";
      if (r.path[0] != '/' && !asterisk) return Bad(":path not absolute for http(s)");
    }
  }
  if ((seen & kAuthority) != 0) {
    if (r.authority.empty()) return Bad("empty :authority");
    if (!AllOf(r.authority, kAuthorityByte)) return Bad("invalid :authority");
    if (have_host && !EqualsIgnoreCase(r.host, r.authority)) {
      return Bad("host differs from :authority");
    }
  }
  if (end_stream && r.content_length.value_or(0) != 0) {
    return Bad("content-length without DATA");
  }
  r.fields = fields.subspan(first_regular);
  r.has_body = !end_stream;
  *out = r;
  return {};
}

MessageCheck ParseResponse(std::span<const hpack::HeaderField> fields, bool end_stream,
                           ResponseHead* out) {
  ResponseHead r;
  bool have_status = false;
  size_t first_regular = fields.size();
  for (size_t i = 0; i < fields.size(); ++i) {
    const hpack::HeaderField& f = fields[i];
    if (f.name.empty()) return Bad("empty field name");
    if (f.name[0] == ':') {
      if (first_regular != fields.size()) return Bad("pseudo-header field after a regular field");
      if (f.name != ":status") return Bad("pseudo-header field other than :status in a response");
      if (have_status) return Bad("repeated :status");
      have_status = true;
      const std::string_view v = f.value;
      if (v.size() != 3 || v[0] < '1' || v[0] > '9' || v[1] < '0' || v[1] > '9' || v[2] < '0' ||
          v[2] > '9') {
        return Bad("invalid :status");
      }
      r.status = static_cast<uint16_t>((v[0] - '0') * 100 + (v[1] - '0') * 10 + (v[2] - '0'));
      continue;
    }
    if (first_regular == fields.size()) first_regular = i;
    const MessageCheck c = CheckRegular(f);
    if (!c.ok) return c;
    if (f.name == "te") return Bad("te in a response");
    if (f.name == "content-length") {
      uint64_t n = 0;
      if (!ParseContentLength(f.value, &n)) return Bad("invalid content-length");
      if (r.content_length.has_value() && *r.content_length != n) {
        return Bad("conflicting content-length");
      }
      r.content_length = n;
    }
  }
  if (!have_status) return Bad("missing :status");
  // RFC 9113 section 8.6: no 101 in HTTP/2.
  if (r.status == 101) return Bad("101 in HTTP/2");
  if (r.status < 200 && end_stream) return Bad("interim response with END_STREAM");
  r.fields = fields.subspan(first_regular);
  *out = r;
  return {};
}

MessageCheck CheckTrailers(std::span<const hpack::HeaderField> fields) {
  for (const hpack::HeaderField& f : fields) {
    if (!f.name.empty() && f.name[0] == ':') return Bad("pseudo-header field in trailers");
    const MessageCheck c = CheckRegular(f);
    if (!c.ok) return c;
  }
  return {};
}

bool JoinCookies(std::span<const hpack::HeaderField> fields, std::string* out) {
  out->clear();
  bool any = false;
  for (const hpack::HeaderField& f : fields) {
    if (f.name != "cookie") continue;
    if (any) out->append("; ");
    out->append(f.value);
    any = true;
  }
  return any;
}

void BuildResponseFields(uint16_t status, std::span<const hpack::HeaderField> in,
                         char (&status_digits)[3], std::vector<hpack::HeaderField>* out,
                         std::string* names) {
  out->clear();
  names->clear();
  // Connection options name more fields to drop (RFC 9110 section 7.6.1); an HTTP/1.1
  // backend's response may carry them. Up to 8 names are honoured; more is not worth a heap.
  std::string_view nominated[8];
  size_t n_nominated = 0;
  for (const hpack::HeaderField& f : in) {
    if (!EqualsIgnoreCase(f.name, "connection")) continue;
    std::string_view v = f.value;
    while (!v.empty()) {
      const size_t comma = v.find(',');
      std::string_view token = v.substr(0, comma);
      while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) {
        token.remove_prefix(1);
      }
      while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) {
        token.remove_suffix(1);
      }
      if (!token.empty() && n_nominated < std::size(nominated)) nominated[n_nominated++] = token;
      if (comma == std::string_view::npos) break;
      v.remove_prefix(comma + 1);
    }
  }
  auto keep = [&](const hpack::HeaderField& f) {
    if (f.name.empty() || f.name[0] == ':') return false;
    for (size_t i = 0; i < n_nominated; ++i) {
      if (EqualsIgnoreCase(f.name, nominated[i])) return false;
    }
    // The table classes take either case for tokens; uppercase is folded below.
    if (!AllOf(f.name, kTokenByte) || !IsValidFieldValue(f.value)) return false;
    if (f.name.size() == 2 && EqualsIgnoreCase(f.name, "te")) return false;
    switch (f.name.size()) {
      case 7:
        return !EqualsIgnoreCase(f.name, "upgrade");
      case 10:
        return !EqualsIgnoreCase(f.name, "connection") && !EqualsIgnoreCase(f.name, "keep-alive");
      case 16:
        return !EqualsIgnoreCase(f.name, "proxy-connection");
      case 17:
        return !EqualsIgnoreCase(f.name, "transfer-encoding");
      default:
        return true;
    }
  };
  // Room for every name, kept or not, so that no view into *names moves and keep() runs
  // once per field.
  size_t total = 0;
  for (const hpack::HeaderField& f : in) total += f.name.size();
  names->resize(total);
  if (status != 0) {
    status_digits[0] = static_cast<char>('0' + status / 100 % 10);
    status_digits[1] = static_cast<char>('0' + status / 10 % 10);
    status_digits[2] = static_cast<char>('0' + status % 10);
    out->push_back(hpack::HeaderField{":status", std::string_view(status_digits, 3)});
  }
  size_t at = 0;
  for (const hpack::HeaderField& f : in) {
    if (!keep(f)) continue;
    char* dst = names->data() + at;
    for (size_t i = 0; i < f.name.size(); ++i) dst[i] = Lower(f.name[i]);
    hpack::HeaderField g = f;
    g.name = std::string_view(dst, f.name.size());
    g.static_index = 0;
    out->push_back(g);
    at += f.name.size();
  }
}

}  // namespace ringway::h2
