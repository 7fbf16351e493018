// HTTP/1.1 head parser. One forward pass over the bytes: the request or status line, then each
// field line, validating with a byte-class table and computing the framing as fields go by.
// Every read is bounds-checked against the end of the (possibly truncated) input view.
#include "proto/http1_parser.h"

#include <array>
#include <bit>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace ringway::http1 {
namespace {

// Byte classes, one bit each.
constexpr uint8_t kTchar = 1;   // token character (RFC 9110 5.6.2)
constexpr uint8_t kValue = 2;   // field-value byte: HTAB, SP, VCHAR, obs-text
constexpr uint8_t kTarget = 4;  // request-target byte: VCHAR but '#', obs-text
constexpr uint8_t kHost = 8;    // Host value byte: reg-name / IP-literal / port characters

constexpr std::array<uint8_t, 256> MakeClasses() {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    uint8_t v = 0;
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    const bool digit = c >= '0' && c <= '9';
    if (alpha || digit) v |= kTchar | kHost;
    for (char s : std::string_view("!#$%&'*+-.^_`|~")) {
      if (c == static_cast<unsigned char>(s)) v |= kTchar;
    }
    for (char s : std::string_view("-._~!$&'()*+,;=:[]%")) {
      if (c == static_cast<unsigned char>(s)) v |= kHost;
    }
    if (c == '\t' || (c >= 0x20 && c != 0x7f)) v |= kValue;
    // '#' starts a fragment, which a request-target never carries (RFC 9112 section 3.2);
    // leaving it out of the class makes the target scan stop there at no extra cost.
    if (c > 0x20 && c != 0x7f && c != '#') v |= kTarget;
    t[c] = v;
  }
  return t;
}
constexpr std::array<uint8_t, 256> kClasses = MakeClasses();

constexpr std::array<uint8_t, 256> MakeLower() {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    t[c] = static_cast<uint8_t>((c >= 'A' && c <= 'Z') ? c + 32 : c);
  }
  return t;
}
constexpr std::array<uint8_t, 256> kLower = MakeLower();

inline bool Is(uint8_t cls, char c) { return (kClasses[static_cast<uint8_t>(c)] & cls) != 0; }
inline bool IsOws(char c) { return c == ' ' || c == '\t'; }

// Returns the first byte in [p, end) that is not a field-value byte, or end.
inline const char* ScanValue(const char* p, const char* end) {
#if defined(__SSE2__)
  const __m128i k1f = _mm_set1_epi8(0x1f);
  const __m128i k7f = _mm_set1_epi8(0x7f);
  const __m128i zero = _mm_setzero_si128();
  while (end - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    // Signed compares: 0x20..0x7f are > 0x1f, 0x80..0xff are < 0. DEL is removed after.
    const __m128i ok = _mm_andnot_si128(
        _mm_cmpeq_epi8(v, k7f), _mm_or_si128(_mm_cmpgt_epi8(v, k1f), _mm_cmplt_epi8(v, zero)));
    const unsigned bad = ~static_cast<unsigned>(_mm_movemask_epi8(ok)) & 0xffffu;
    if (bad == 0) {
      p += 16;
      continue;
    }
    p += __builtin_ctz(bad);
    if (*p != '\t') return p;
    ++p;  // HTAB is a value byte; rare enough to restart the block after it
  }
#endif
  // Eight at a time by SWAR: flag bytes below 0x20 and bytes equal to DEL. Borrows can only
  // produce false flags above a true one, so the lowest flag is exact.
  constexpr uint64_t kOnes = 0x0101010101010101ull;
  constexpr uint64_t kHigh = 0x8080808080808080ull;
  while (std::endian::native == std::endian::little && end - p >= 8) {
    uint64_t x;
    std::memcpy(&x, p, 8);
    const uint64_t del = x ^ (kOnes * 0x7f);
    const uint64_t flags = (((x - kOnes * 0x20) & ~x) | ((del - kOnes) & ~del)) & kHigh;
    if (flags == 0) {
      p += 8;
      continue;
    }
    p += __builtin_ctzll(flags) / 8;
    if (*p != '\t') return p;
    ++p;
  }
  while (p < end && Is(kValue, *p)) ++p;
  return p;
}

// Returns the first byte in [p, end) that is not a request-target byte, or end.
inline const char* ScanTarget(const char* p, const char* end) {
#if defined(__SSE2__)
  const __m128i k20 = _mm_set1_epi8(0x20);
  const __m128i k7f = _mm_set1_epi8(0x7f);
  const __m128i hash = _mm_set1_epi8('#');
  const __m128i zero = _mm_setzero_si128();
  while (end - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i ok =
        _mm_andnot_si128(_mm_or_si128(_mm_cmpeq_epi8(v, k7f), _mm_cmpeq_epi8(v, hash)),
                         _mm_or_si128(_mm_cmpgt_epi8(v, k20), _mm_cmplt_epi8(v, zero)));
    const unsigned bad = ~static_cast<unsigned>(_mm_movemask_epi8(ok)) & 0xffffu;
    if (bad != 0) return p + __builtin_ctz(bad);
    p += 16;
  }
#endif
  while (p < end && Is(kTarget, *p)) ++p;
  return p;
}

// Returns the first byte in [p, end) without class `cls`, or end; may load (not use) bytes up
// to load_end >= end. Tokens and host names are nearly always letters, digits, '-' and '.',
// which SSE2 classifies 16 at a time; any other byte ends the block and the table decides.
template <uint8_t cls>
inline const char* ScanCommon(const char* p, const char* end, const char* load_end) {
#if defined(__SSE2__)
  const __m128i k20 = _mm_set1_epi8(0x20);
  const __m128i alpha_bias = _mm_set1_epi8(static_cast<char>(0x80 - 'a'));
  const __m128i alpha_lim = _mm_set1_epi8(static_cast<char>(-128 + 26));
  const __m128i digit_bias = _mm_set1_epi8(static_cast<char>(0x80 - '0'));
  const __m128i digit_lim = _mm_set1_epi8(static_cast<char>(-128 + 10));
  const __m128i dash = _mm_set1_epi8('-');
  const __m128i dot = _mm_set1_epi8('.');
  while (p < end && load_end - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    // After the bias, the wanted range sits at the bottom of the signed range.
    const __m128i alpha = _mm_cmplt_epi8(_mm_add_epi8(_mm_or_si128(v, k20), alpha_bias), alpha_lim);
    const __m128i digit = _mm_cmplt_epi8(_mm_add_epi8(v, digit_bias), digit_lim);
    const __m128i punct = _mm_or_si128(_mm_cmpeq_epi8(v, dash), _mm_cmpeq_epi8(v, dot));
    const __m128i ok = _mm_or_si128(_mm_or_si128(alpha, digit), punct);
    const unsigned miss = ~static_cast<unsigned>(_mm_movemask_epi8(ok)) & 0xffffu;
    if (miss == 0) {
      p += 16;
      continue;
    }
    p += __builtin_ctz(miss);
    if (p >= end) return end;
    if (!Is(cls, *p)) return p;
    ++p;
  }
  if (p > end) return end;
#endif
  while (p < end && Is(cls, *p)) ++p;
  return p;
}

inline const char* ScanToken(const char* p, const char* end) {
  return ScanCommon<kTchar>(p, end, end);
}

template <typename Word>
inline Word LoadWord(const char* p) {
  Word w;
  std::memcpy(&w, p, sizeof(w));
  return w;
}

// Compares a token or field value against a lowercase literal of letters, digits and '-'.
// OR-ing 0x20 folds ASCII letters; the other bytes it maps onto a digit or '-' are control
// bytes, which neither a token nor a validated value contains. Compares whole words
// (the last one overlapping) so that a field name costs a few instructions, not a loop.
inline bool TokenIs(std::string_view tok, std::string_view lower) {
  const size_t n = tok.size();
  if (n != lower.size()) return false;
  const char* a = tok.data();
  const char* b = lower.data();
  if (n >= 8) {
    constexpr uint64_t kFold = 0x2020202020202020ull;
    for (size_t i = 0; i + 8 < n; i += 8) {
      if ((LoadWord<uint64_t>(a + i) | kFold) != LoadWord<uint64_t>(b + i)) return false;
    }
    return (LoadWord<uint64_t>(a + n - 8) | kFold) == LoadWord<uint64_t>(b + n - 8);
  }
  if (n >= 4) {
    constexpr uint32_t kFold = 0x20202020u;
    return (LoadWord<uint32_t>(a) | kFold) == LoadWord<uint32_t>(b) &&
           (LoadWord<uint32_t>(a + n - 4) | kFold) == LoadWord<uint32_t>(b + n - 4);
  }
  for (size_t i = 0; i < n; ++i) {
    if ((static_cast<uint8_t>(a[i]) | 0x20) != static_cast<uint8_t>(b[i])) return false;
  }
  return true;
}

inline std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && IsOws(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsOws(s.back())) s.remove_suffix(1);
  return s;
}

// Calls fn(element) for each comma-separated element with OWS trimmed (empty ones included).
template <typename Fn>
inline void ForEachListElement(std::string_view v, Fn&& fn) {
  for (;;) {
    const size_t comma = v.find(',');
    fn(TrimOws(v.substr(0, comma)));
    if (comma == std::string_view::npos) return;
    v.remove_prefix(comma + 1);
  }
}

struct Error {
  uint16_t status;
  const char* text;
};

// Framing facts gathered from the field lines.
struct FieldFacts {
  size_t count = 0;
  uint64_t content_length = 0;
  std::string_view host;
  uint8_t host_count = 0;
  bool has_cl = false;
  bool has_te = false;
  bool te_chunked_last = false;
  bool te_chunked_twice = false;
  bool te_unknown = false;
  bool te_chunked_seen = false;
  bool conn_close = false;
  bool conn_keep_alive = false;
  bool conn_upgrade = false;
  bool has_upgrade = false;
  bool expect_continue = false;
};

enum class Outcome : uint8_t { kOk, kIncomplete, kError };

struct Cursor {
  const char* p;
  const char* end;
  Error err{0, ""};
};

inline Outcome Fail(Cursor* c, uint16_t status, const char* text) {
  c->err = {status, text};
  return Outcome::kError;
}

// Consumes CRLF or LF at c->p.
inline Outcome LineEnd(Cursor* c) {
  if (c->p == c->end) return Outcome::kIncomplete;
  if (*c->p == '\n') {
    ++c->p;
    return Outcome::kOk;
  }
  if (*c->p != '\r') return Fail(c, 400, "invalid byte at end of line");
  if (c->end - c->p < 2) return Outcome::kIncomplete;
  if (c->p[1] != '\n') return Fail(c, 400, "bare CR");
  c->p += 2;
  return Outcome::kOk;
}

// Matches "HTTP/1.0" or "HTTP/1.1" at c->p; a partial match at the end of input is incomplete.
inline Outcome Version(Cursor* c, uint8_t* minor) {
  static constexpr char kPrefix[] = "HTTP/1.";
  const size_t avail = static_cast<size_t>(c->end - c->p);
  if (avail < 8) {
    const size_t n = avail < 7 ? avail : 7;
    if (std::memcmp(c->p, kPrefix, n) != 0) return Fail(c, 400, "bad HTTP version");
    return Outcome::kIncomplete;
  }
  if (std::memcmp(c->p, kPrefix, 7) != 0 || (c->p[7] != '0' && c->p[7] != '1')) {
    return Fail(c, 400, "bad HTTP version");
  }
  *minor = static_cast<uint8_t>(c->p[7] - '0');
  c->p += 8;
  return Outcome::kOk;
}

inline bool ParseContentLength(std::string_view v, uint64_t* out) {
  if (v.empty()) return false;
  uint64_t n = 0;
  for (char ch : v) {
    if (ch < '0' || ch > '9') return false;
    const uint64_t d = static_cast<uint64_t>(ch - '0');
    if (n > (UINT64_MAX - d) / 10) return false;
    n = n * 10 + d;
  }
  *out = n;
  return true;
}

inline bool AllTchar(std::string_view s) {
  for (char ch : s) {
    if (!Is(kTchar, ch)) return false;
  }
  return true;
}

// Applies one field to the framing facts. Errors use request statuses; responses map to 502.
// `load_end` bounds the input, for vector loads that may run past the value.
inline Outcome NoteField(Cursor* c, const Field& f, bool request, const char* load_end,
                         FieldFacts* ff) {
  const std::string_view n = f.name;
  switch (n.size()) {
    case 4:
      if (request && TokenIs(n, "host")) {
        if (++ff->host_count > 1) return Fail(c, 400, "more than one Host");
        const char* host_end = f.value.data() + f.value.size();
        if (ScanCommon<kHost>(f.value.data(), host_end, load_end) != host_end) {
          return Fail(c, 400, "invalid Host value");
        }
        ff->host = f.value;
      }
      break;
    case 6:
      if (request && TokenIs(n, "expect")) {
        if (TokenIs(f.value, "100-continue")) ff->expect_continue = true;
      }
      break;
    case 7:
      if (TokenIs(n, "upgrade")) ff->has_upgrade = true;
      break;
    case 10:
      if (TokenIs(n, "connection")) {
        ForEachListElement(f.value, [ff](std::string_view t) {
          if (TokenIs(t, "close")) {
            ff->conn_close = true;
          } else if (TokenIs(t, "keep-alive")) {
            ff->conn_keep_alive = true;
          } else if (TokenIs(t, "upgrade")) {
            ff->conn_upgrade = true;
          }
        });
      }
      break;
    case 14:
      if (TokenIs(n, "content-length")) {
        if (ff->has_cl) return Fail(c, 400, "more than one Content-Length");
        if (!ParseContentLength(f.value, &ff->content_length)) {
          return Fail(c, 400, "invalid Content-Length");
        }
        ff->has_cl = true;
      }
      break;
    case 17:
      if (TokenIs(n, "transfer-encoding")) {
        ff->has_te = true;
        bool malformed = false;
        ForEachListElement(f.value, [ff, &malformed](std::string_view t) {
          if (t.empty() || !AllTchar(t)) {
            malformed = true;  // empty element, parameters, or junk: no coding list to trust
            return;
          }
          if (TokenIs(t, "chunked")) {
            if (ff->te_chunked_seen) ff->te_chunked_twice = true;
            ff->te_chunked_seen = true;
            ff->te_chunked_last = true;
            return;
          }
          ff->te_chunked_last = false;
          if (!TokenIs(t, "gzip") && !TokenIs(t, "deflate") && !TokenIs(t, "compress") &&
              !TokenIs(t, "x-gzip") && !TokenIs(t, "x-compress")) {
            ff->te_unknown = true;
          }
        });
        if (malformed) return Fail(c, 400, "malformed Transfer-Encoding");
      }
      break;
    default:
      break;
  }
  return Outcome::kOk;
}

// Parses field lines and the empty line that ends the head.
inline Outcome Fields(Cursor* c, std::span<Field> storage, size_t max_fields, bool request,
                      FieldFacts* ff) {
  const size_t cap = max_fields < storage.size() ? max_fields : storage.size();
  const char* p = c->p;
  const char* const end = c->end;
  for (;;) {
    if (p == end) return Outcome::kIncomplete;
    const char first = *p;
    if (first == '\r' || first == '\n') {
      c->p = p;
      return LineEnd(c);
    }
    if (IsOws(first)) return Fail(c, 400, "obs-fold");
    if (ff->count == cap) return Fail(c, 431, "too many fields");

    const char* name_start = p;
    p = ScanToken(p, end);
    if (p == end) return Outcome::kIncomplete;
    if (*p != ':') {
      if (IsOws(*p)) return Fail(c, 400, "whitespace before colon");
      return Fail(c, 400, p == name_start ? "empty field name" : "invalid field name");
    }
    if (p == name_start) return Fail(c, 400, "empty field name");
    const std::string_view name(name_start, static_cast<size_t>(p - name_start));
    ++p;
    if (p < end && *p == ' ') ++p;  // the usual single SP; any further OWS below
    while (p < end && IsOws(*p)) ++p;
    const char* value_start = p;
    p = ScanValue(p, end);
    if (p == end) return Outcome::kIncomplete;
    const char* value_end = p;
    if (*p == '\n') {
      ++p;
    } else if (*p == '\r') {
      if (end - p < 2) return Outcome::kIncomplete;
      if (p[1] != '\n') return Fail(c, 400, "bare CR");
      p += 2;
    } else {
      return Fail(c, 400, "invalid byte in field value");
    }
    while (value_end > value_start && IsOws(value_end[-1])) --value_end;

    Field& f = storage[ff->count++];
    f.name = name;
    f.value = std::string_view(value_start, static_cast<size_t>(value_end - value_start));
    if (NoteField(c, f, request, end, ff) == Outcome::kError) return Outcome::kError;
  }
}

// The start-line limit: a line whose content (without CRLF) exceeds max_line fails with 414. When
// the line is still incomplete, it is already known to be too long once max_line + 1 bytes are
// present and the last of them is not the CR of a CRLF.
inline bool LineTooLongSoFar(const char* line_start, const char* end, size_t max_line) {
  const size_t avail = static_cast<size_t>(end - line_start);
  if (avail <= max_line) return false;
  return avail - max_line > 1 || line_start[max_line] != '\r';
}

// Bounds a start-line scan so an endless line costs at most max_line + 2 bytes (CRLF).
inline const char* LineScanEnd(const char* line_start, const char* end, size_t max_line) {
  const size_t avail = static_cast<size_t>(end - line_start);
  return avail > max_line && avail - max_line > 2 ? line_start + max_line + 2 : end;
}

ParseResult Make(Outcome o, const Cursor& c, const char* begin, bool truncated) {
  ParseResult r;
  switch (o) {
    case Outcome::kOk:
      r.status = ParseStatus::kComplete;
      r.consumed = static_cast<size_t>(c.p - begin);
      break;
    case Outcome::kIncomplete:
      if (truncated) {
        r.status = ParseStatus::kError;
        r.error_status = 431;
        r.error = "head too large";
      }
      break;
    case Outcome::kError:
      r.status = ParseStatus::kError;
      r.error_status = c.err.status;
      r.error = c.err.text;
      break;
  }
  return r;
}

// --- Request-target forms (RFC 9112 section 3.2) ---------------------------------------------

inline bool StartsWithIgnoreCase(std::string_view s, std::string_view lower_prefix) {
  return s.size() >= lower_prefix.size() &&
         EqualsIgnoreCase(s.substr(0, lower_prefix.size()), lower_prefix);
}

inline bool IsHexDigit(char ch) {
  return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

// The inside of an IP-literal's brackets (RFC 3986 section 3.2.2), by its characters: an IPv6
// address is hex digits, ':' and '.' (for a trailing IPv4 part) with at least one ':'; an
// IPvFuture is "v" 1*HEXDIG "." and then unreserved, sub-delims or ':'. Zone identifiers are not
// taken. The IPv6 groups are not counted: the point is that no parser reads a host name here.
bool IsIpLiteralInside(std::string_view s) {
  if (s.empty()) return false;
  if (s[0] == 'v' || s[0] == 'V') {
    size_t i = 1;
    while (i < s.size() && IsHexDigit(s[i])) ++i;
    if (i == 1 || i + 1 >= s.size() || s[i] != '.') return false;
    for (++i; i < s.size(); ++i) {
      if (!Is(kHost, s[i]) || s[i] == '[' || s[i] == ']' || s[i] == '%') return false;
    }
    return true;
  }
  bool colon = false;
  for (char ch : s) {
    if (ch == ':') {
      colon = true;
    } else if (!IsHexDigit(ch) && ch != '.') {
      return false;
    }
  }
  return colon;
}

// host [":" port] (RFC 3986 section 3.2.2, without userinfo), with only the bytes a Host field
// may carry. The host is an IP-literal in brackets or a non-empty reg-name / IPv4 address; the
// port is digits, at most 65535, and may be empty only when `need_port` is false.
bool IsAuthority(std::string_view a, bool need_port) {
  for (char ch : a) {
    if (!Is(kHost, ch)) return false;
  }
  size_t host_end = 0;
  if (!a.empty() && a[0] == '[') {
    const size_t close = a.find(']');
    if (close == std::string_view::npos || !IsIpLiteralInside(a.substr(1, close - 1))) {
      return false;
    }
    host_end = close + 1;
  } else {
    host_end = a.find(':');
    if (host_end == std::string_view::npos) host_end = a.size();
    if (host_end == 0) return false;
    if (a.substr(0, host_end).find_first_of("[]") != std::string_view::npos) return false;
  }
  if (host_end == a.size()) return !need_port;
  if (a[host_end] != ':') return false;
  const std::string_view port = a.substr(host_end + 1);
  if (port.empty()) return !need_port;
  if (port.size() > 5) return false;
  uint32_t n = 0;
  for (char ch : port) {
    if (ch < '0' || ch > '9') return false;
    n = n * 10 + static_cast<uint32_t>(ch - '0');
  }
  return n <= 65535;
}

// Whether s starts with a URI scheme and its ':' (RFC 3986 section 3.1).
bool HasScheme(std::string_view s) {
  if (s.empty() || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'))) return false;
  for (size_t i = 1; i < s.size(); ++i) {
    const char ch = s[i];
    if (ch == ':') return true;
    const bool alnum =
        (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
    if (!alnum && ch != '+' && ch != '-' && ch != '.') return false;
  }
  return false;
}

// Every target that is not plain origin-form: rare, so kept out of line and out of the way of
// the common path.
[[gnu::noinline]] Outcome ClassifyOtherTarget(Cursor* c, RequestHead* out) {
  const std::string_view t = out->target;
  if (out->method == "CONNECT") {
    if (!IsAuthority(t, /*need_port=*/true)) {
      return Fail(c, 400, "CONNECT needs an authority-form target (host:port)");
    }
    out->form = TargetForm::kAuthority;
    return Outcome::kOk;
  }
  if (t == "*") {
    if (out->method != "OPTIONS") return Fail(c, 400, "asterisk-form target without OPTIONS");
    out->form = TargetForm::kAsterisk;
    return Outcome::kOk;
  }
  std::string_view rest;
  if (StartsWithIgnoreCase(t, "http://")) {
    rest = t.substr(7);
  } else if (StartsWithIgnoreCase(t, "https://")) {
    rest = t.substr(8);
  } else if (IsAuthority(t, /*need_port=*/true)) {
    return Fail(c, 400, "authority-form target without CONNECT");
  } else if (StartsWithIgnoreCase(t, "http:") || StartsWithIgnoreCase(t, "https:")) {
    return Fail(c, 400, "absolute-form target without \"//\" after the scheme");
  } else if (HasScheme(t)) {
    return Fail(c, 400, "request target scheme is not http or https");
  } else {
    return Fail(c, 400, "invalid request target");
  }
  const size_t auth_end = rest.find_first_of("/?");
  const std::string_view authority = rest.substr(0, auth_end);
  // An empty path is still a view (at the end of the target), like every other part.
  const std::string_view path =
      rest.substr(auth_end == std::string_view::npos ? rest.size() : auth_end);
  if (authority.empty()) return Fail(c, 400, "empty authority in request target");
  // Userinfo has no place in an HTTP request (RFC 9110 section 4.2.4), and "a@b" is read as
  // host a by some parsers and as host b by others.
  if (authority.find('@') != std::string_view::npos) {
    return Fail(c, 400, "userinfo in request target");
  }
  if (!IsAuthority(authority, /*need_port=*/false)) {
    return Fail(c, 400, "invalid authority in request target");
  }
  out->form = TargetForm::kAbsolute;
  out->authority = authority;
  out->origin = path;
  return Outcome::kOk;
}

// Sets form, authority and origin for out->target (non-empty, target bytes only), or fails.
inline Outcome ClassifyTarget(Cursor* c, RequestHead* out) {
  const std::string_view t = out->target;
  out->form = TargetForm::kOrigin;
  out->authority = std::string_view();
  out->origin = t;
  // "//x" is a valid absolute-path (empty first segment) and is forwarded as sent, as nginx,
  // HAProxy and Envoy do: real sites get such paths from URLs joined carelessly.
  if (t[0] != '/') return ClassifyOtherTarget(c, out);
  if (out->method == "CONNECT") {
    return Fail(c, 400, "CONNECT needs an authority-form target (host:port)");
  }
  return Outcome::kOk;
}

Outcome RequestLine(Cursor* c, const ParseLimits& limits, RequestHead* out) {
  const char* const line_start = c->p;
  const char* const full_end = c->end;
  c->end = LineScanEnd(line_start, full_end, limits.max_request_line);
  Outcome o = [&] {
    const char* p = ScanToken(c->p, c->end);
    if (p == c->end) return Outcome::kIncomplete;
    if (*p != ' ' || p == c->p) return Fail(c, 400, "invalid method");
    out->method = std::string_view(c->p, static_cast<size_t>(p - c->p));
    const char* t = p + 1;
    p = ScanTarget(t, c->end);
    if (p == c->end) return Outcome::kIncomplete;
    if (*p == '#') return Fail(c, 400, "fragment in request target");
    if (*p != ' ' || p == t) return Fail(c, 400, "invalid request target");
    out->target = std::string_view(t, static_cast<size_t>(p - t));
    c->p = p + 1;
    Outcome v = Version(c, &out->version_minor);
    if (v != Outcome::kOk) return v;
    if (c->p == c->end) return Outcome::kIncomplete;
    if (*c->p != '\r' && *c->p != '\n') return Fail(c, 400, "bad HTTP version");
    const char* content_end = c->p;
    v = LineEnd(c);
    if (v != Outcome::kOk) return v;
    if (static_cast<size_t>(content_end - line_start) > limits.max_request_line) {
      return Fail(c, 414, "request line too long");
    }
    return ClassifyTarget(c, out);
  }();
  if (o == Outcome::kIncomplete &&
      LineTooLongSoFar(line_start, full_end, limits.max_request_line)) {
    o = Fail(c, 414, "request line too long");
  }
  c->end = full_end;
  return o;
}

Outcome StatusLine(Cursor* c, const ParseLimits& limits, ResponseHead* out) {
  const char* const line_start = c->p;
  const char* const full_end = c->end;
  c->end = LineScanEnd(line_start, full_end, limits.max_request_line);
  Outcome o = [&] {
    Outcome v = Version(c, &out->version_minor);
    if (v != Outcome::kOk) return v;
    const char* p = c->p;
    const char* const end = c->end;
    if (p == end) return Outcome::kIncomplete;
    if (*p != ' ') return Fail(c, 400, "bad HTTP version");
    ++p;
    uint16_t status = 0;
    for (int i = 0; i < 3; ++i, ++p) {
      if (p == end) return Outcome::kIncomplete;
      if (*p < '0' || *p > '9' || (i == 0 && *p == '0')) return Fail(c, 400, "invalid status");
      status = static_cast<uint16_t>(status * 10 + (*p - '0'));
    }
    out->status = status;
    if (p == end) return Outcome::kIncomplete;
    const char* reason = p;
    if (*p == ' ') {
      reason = ++p;
      p = ScanValue(p, end);
      if (p == end) return Outcome::kIncomplete;
    } else if (*p != '\r' && *p != '\n') {
      return Fail(c, 400, "invalid status");
    }
    // A missing reason (and even its SP) is tolerated from upstreams.
    out->reason = std::string_view(reason, static_cast<size_t>(p - reason));
    c->p = p;
    const char* content_end = p;
    v = LineEnd(c);
    if (v != Outcome::kOk) return v;
    if (static_cast<size_t>(content_end - line_start) > limits.max_request_line) {
      return Fail(c, 414, "status line too long");
    }
    return Outcome::kOk;
  }();
  if (o == Outcome::kIncomplete &&
      LineTooLongSoFar(line_start, full_end, limits.max_request_line)) {
    o = Fail(c, 414, "status line too long");
  }
  c->end = full_end;
  return o;
}

}  // namespace

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (kLower[static_cast<uint8_t>(a[i])] != kLower[static_cast<uint8_t>(b[i])]) return false;
  }
  return true;
}

ParseResult ParseRequest(std::string_view in, const ParseLimits& limits,
                         std::span<Field> field_storage, RequestHead* out) {
  // Parsing only the first max_head bytes makes the head limit exact: a head that does not
  // complete inside them is too large, whether or not more bytes have arrived.
  const bool truncated = in.size() > limits.max_head;
  const char* const begin = in.data();
  Cursor c{begin, begin + (truncated ? limits.max_head : in.size())};

  // Empty lines before the request line are ignored (RFC 9112 section 2.2).
  for (;;) {
    if (c.p == c.end) return Make(Outcome::kIncomplete, c, begin, truncated);
    if (*c.p != '\r' && *c.p != '\n') break;
    const Outcome o = LineEnd(&c);
    if (o != Outcome::kOk) return Make(o, c, begin, truncated);
  }

  RequestHead head;
  Outcome o = RequestLine(&c, limits, &head);
  if (o != Outcome::kOk) return Make(o, c, begin, truncated);

  FieldFacts ff;
  o = Fields(&c, field_storage, limits.max_fields, /*request=*/true, &ff);
  if (o != Outcome::kOk) return Make(o, c, begin, truncated);

  const bool v11 = head.version_minor == 1;
  if (v11 && ff.host_count == 0) o = Fail(&c, 400, "missing Host");
  Framing& fr = head.framing;
  if (o == Outcome::kOk && ff.has_te) {
    if (!v11) {
      o = Fail(&c, 400, "Transfer-Encoding in HTTP/1.0");
    } else if (ff.has_cl) {
      o = Fail(&c, 400, "Content-Length with Transfer-Encoding");
    } else if (ff.te_unknown) {
      o = Fail(&c, 501, "unknown transfer coding");
    } else if (!ff.te_chunked_seen) {
      o = Fail(&c, 501, "Transfer-Encoding without chunked");
    } else if (ff.te_chunked_twice || !ff.te_chunked_last) {
      o = Fail(&c, 400, "chunked is not the final coding");
    } else {
      fr.body = BodyKind::kChunked;
    }
  } else if (ff.has_cl) {
    fr.content_length = ff.content_length;
    fr.body = ff.content_length == 0 ? BodyKind::kNone : BodyKind::kContentLength;
  }
  if (o != Outcome::kOk) return Make(o, c, begin, truncated);

  fr.keep_alive = !ff.conn_close && (v11 || ff.conn_keep_alive);
  fr.expect_continue = v11 && ff.expect_continue;
  // An Upgrade in an HTTP/1.0 request is ignored (RFC 9110 section 7.8).
  fr.upgrade = v11 && ff.conn_upgrade && ff.has_upgrade;
  fr.host = ff.host;
  head.fields = std::span<const Field>(field_storage.data(), ff.count);
  *out = head;
  return Make(Outcome::kOk, c, begin, truncated);
}

ParseResult ParseResponse(std::string_view in, const ParseLimits& limits,
                          std::span<Field> field_storage, ResponseHead* out) {
  const bool truncated = in.size() > limits.max_head;
  const char* const begin = in.data();
  Cursor c{begin, begin + (truncated ? limits.max_head : in.size())};

  ResponseHead head;
  Outcome o = StatusLine(&c, limits, &head);
  FieldFacts ff;
  if (o == Outcome::kOk) o = Fields(&c, field_storage, limits.max_fields, /*request=*/false, &ff);

  Framing& fr = head.framing;
  fr.keep_alive = !ff.conn_close && (head.version_minor == 1 || ff.conn_keep_alive);
  if (o == Outcome::kOk) {
    if (ff.has_te) {
      // RFC 9112 section 6.1: Transfer-Encoding in an HTTP/1.0 message means faulty framing.
      if (head.version_minor == 0) {
        o = Fail(&c, 502, "Transfer-Encoding in HTTP/1.0");
      } else if (ff.te_unknown || !ff.te_chunked_seen || ff.te_chunked_twice ||
                 !ff.te_chunked_last) {
        o = Fail(&c, 502, "unusable Transfer-Encoding");
      } else {
        fr.body = BodyKind::kChunked;
        if (ff.has_cl) fr.keep_alive = false;  // CL+TE: forward as chunked, then close
      }
    } else if (ff.has_cl) {
      fr.content_length = ff.content_length;
      fr.body = ff.content_length == 0 ? BodyKind::kNone : BodyKind::kContentLength;
    } else {
      fr.body = BodyKind::kUntilClose;
    }
  }
  ParseResult r = Make(o, c, begin, truncated);
  if (r.status == ParseStatus::kError) {
    r.error_status = 502;
    return r;
  }
  if (r.status != ParseStatus::kComplete) return r;

  if (head.status < 200 || head.status == 204 || head.status == 304) fr.body = BodyKind::kNone;
  fr.upgrade = ff.conn_upgrade && ff.has_upgrade;
  head.fields = std::span<const Field>(field_storage.data(), ff.count);
  *out = head;
  return r;
}

BodyKind ResponseBody(const ResponseHead& resp, bool request_was_head) {
  if (request_was_head || resp.status < 200 || resp.status == 204 || resp.status == 304) {
    return BodyKind::kNone;
  }
  return resp.framing.body;
}

bool HasHeadEnd(std::string_view buf, size_t from) {
  for (size_t j = from; j < buf.size(); ++j) {
    const void* hit = std::memchr(buf.data() + j, '\n', buf.size() - j);
    if (hit == nullptr) return false;
    j = static_cast<size_t>(static_cast<const char*>(hit) - buf.data());
    if (j >= 1 && buf[j - 1] == '\n') return true;
    if (j >= 2 && buf[j - 1] == '\r' && buf[j - 2] == '\n') return true;
  }
  return false;
}

}  // namespace ringway::http1
