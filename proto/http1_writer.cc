// Head serialization for forwarding, and the proxy's canned error responses (built at compile
// time so that Content-Length always matches the body).
#include "proto/http1_writer.h"

#include <array>
#include <cstddef>

namespace ringway::http1 {
namespace {

// Fields that framing depends on. A peer must not be able to make the proxy drop them by
// naming them in Connection: dropping Content-Length or Transfer-Encoding while forwarding the
// body would desynchronize the next hop.
bool IsProtected(std::string_view name) {
  return EqualsIgnoreCase(name, "content-length") || EqualsIgnoreCase(name, "transfer-encoding") ||
         EqualsIgnoreCase(name, "host");
}

// The Connection fields of a head, so that "is this field named by Connection?" is answered
// without allocating. Heads rarely carry more than one Connection field; beyond kMax the
// check falls back to scanning all fields.
class ConnectionTokens {
 public:
  explicit ConnectionTokens(std::span<const Field> fields) : fields_(fields) {
    for (const Field& f : fields) {
      if (!EqualsIgnoreCase(f.name, "connection")) continue;
      if (count_ < kMax) {
        values_[count_] = f.value;
      }
      ++count_;
    }
  }

  // True when some Connection field lists `name` as one of its tokens.
  bool Names(std::string_view name) const {
    if (count_ == 0) return false;
    if (count_ <= kMax) {
      for (size_t i = 0; i < count_; ++i) {
        if (ListHas(values_[i], name)) return true;
      }
      return false;
    }
    for (const Field& f : fields_) {
      if (EqualsIgnoreCase(f.name, "connection") && ListHas(f.value, name)) return true;
    }
    return false;
  }

 private:
  static constexpr size_t kMax = 8;

  static bool ListHas(std::string_view list, std::string_view name) {
    for (;;) {
      const size_t comma = list.find(',');
      std::string_view t = list.substr(0, comma);
      while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
      while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
      if (EqualsIgnoreCase(t, name)) return true;
      if (comma == std::string_view::npos) return false;
      list.remove_prefix(comma + 1);
    }
  }

  std::span<const Field> fields_;
  std::array<std::string_view, kMax> values_{};
  size_t count_ = 0;
};

void AppendField(std::string* out, std::string_view name, std::string_view value) {
  out->append(name);
  out->append(": ");
  out->append(value);
  out->append("\r\n");
}

size_t EstimateSize(std::span<const Field> fields) {
  size_t n = 128;
  for (const Field& f : fields) n += f.name.size() + f.value.size() + 4;
  return n;
}

// --- Canned error responses -------------------------------------------------------------------

struct Canned {
  std::array<char, 256> bytes{};
  size_t size = 0;

  constexpr void Append(std::string_view s) {
    for (char c : s) bytes[size++] = c;
  }
  constexpr void AppendNumber(size_t n) {
    char digits[20] = {};
    size_t k = 0;
    do {
      digits[k++] = static_cast<char>('0' + n % 10);
      n /= 10;
    } while (n != 0);
    while (k > 0) bytes[size++] = digits[--k];
  }
  std::string_view view() const { return std::string_view(bytes.data(), size); }
};

struct StatusText {
  uint16_t code;
  std::string_view text;  // the code as digits
  std::string_view reason;
  std::string_view allow = "";  // the Allow field's value, when the status calls for one
};

constexpr StatusText kStatuses[] = {
    {400, "400", "Bad Request"},
    {404, "404", "Not Found"},
    {405, "405", "Method Not Allowed", kAllowedMethods},
    {408, "408", "Request Timeout"},
    {413, "413", "Content Too Large"},
    {414, "414", "URI Too Long"},
    {421, "421", "Misdirected Request"},
    {431, "431", "Request Header Fields Too Large"},
    {500, "500", "Internal Server Error"},
    {501, "501", "Not Implemented"},
    {502, "502", "Bad Gateway"},
    {503, "503", "Service Unavailable"},
    {504, "504", "Gateway Timeout"},
};
constexpr size_t kNumStatuses = sizeof(kStatuses) / sizeof(kStatuses[0]);
constexpr size_t kStatus500 = 8;
static_assert(kStatuses[kStatus500].code == 500);

constexpr Canned MakeCanned(const StatusText& s, bool close) {
  Canned c;
  c.Append("HTTP/1.1 ");
  c.Append(s.text);
  c.Append(" ");
  c.Append(s.reason);
  if (!s.allow.empty()) {
    c.Append("\r\nAllow: ");
    c.Append(s.allow);
  }
  c.Append("\r\nContent-Type: text/plain\r\nContent-Length: ");
  c.AppendNumber(s.reason.size() + 1);
  c.Append(close ? "\r\nConnection: close\r\n\r\n" : "\r\nConnection: keep-alive\r\n\r\n");
  c.Append(s.reason);
  c.Append("\n");
  return c;
}

constexpr std::array<Canned, 2 * kNumStatuses> MakeAllCanned() {
  std::array<Canned, 2 * kNumStatuses> all{};
  for (size_t i = 0; i < kNumStatuses; ++i) {
    all[2 * i] = MakeCanned(kStatuses[i], /*close=*/false);
    all[2 * i + 1] = MakeCanned(kStatuses[i], /*close=*/true);
  }
  return all;
}

constexpr std::array<Canned, 2 * kNumStatuses> kCanned = MakeAllCanned();

void AppendStatusCode(std::string* out, uint16_t status) {
  char d[3] = {static_cast<char>('0' + status / 100 % 10),
               static_cast<char>('0' + status / 10 % 10), static_cast<char>('0' + status % 10)};
  out->append(d, 3);
}

}  // namespace

void WriteRequestHead(const RequestHead& req, const ForwardedInfo& fwd, std::string* out) {
  const ConnectionTokens conn(req.fields);
  const bool upgrade = req.framing.upgrade;
  // An absolute-form target names the host; the client's Host field is ignored and replaced
  // (RFC 9112 section 3.2.2), so the next hop sees the authority the proxy routed on.
  const bool absolute = !req.authority.empty();
  const std::string_view host = absolute ? req.authority : req.framing.host;
  out->reserve(out->size() + EstimateSize(req.fields) + req.method.size() + req.target.size() +
               fwd.client_addr.size() + 2 * host.size() + 8);

  out->append(req.method);
  out->push_back(' ');
  if (!absolute) {
    out->append(req.target);
  } else if (req.origin.empty() && req.method == "OPTIONS") {
    out->push_back('*');  // RFC 9112 section 3.2.4: OPTIONS to the server as a whole
  } else {
    if (req.origin.empty() || req.origin[0] == '?') out->push_back('/');
    out->append(req.origin);
  }
  out->append(" HTTP/1.1\r\n");
  if (absolute) AppendField(out, "Host", req.authority);

  bool have_xff = false;
  for (const Field& f : req.fields) {
    const std::string_view n = f.name;
    if (EqualsIgnoreCase(n, "connection") || EqualsIgnoreCase(n, "keep-alive") ||
        EqualsIgnoreCase(n, "proxy-connection") || EqualsIgnoreCase(n, "te") ||
        EqualsIgnoreCase(n, "trailer") || EqualsIgnoreCase(n, "x-forwarded-proto") ||
        EqualsIgnoreCase(n, "x-forwarded-host")) {
      continue;
    }
    if (!fwd.pass_underscore_fields && n.find('_') != std::string_view::npos) continue;
    if (absolute && EqualsIgnoreCase(n, "host")) continue;
    const bool is_upgrade = EqualsIgnoreCase(n, "upgrade");
    if (is_upgrade && !upgrade) continue;
    if (!is_upgrade && !IsProtected(n) && conn.Names(n)) continue;
    if (EqualsIgnoreCase(n, "x-forwarded-for")) {
      have_xff = true;
      continue;  // merged into one field below
    }
    AppendField(out, n, f.value);
  }
  if (upgrade) AppendField(out, "Connection", "upgrade");

  // X-Forwarded-For: the earlier hops in order, then this client; no field if both are empty.
  const size_t xff_start = out->size();
  out->append("X-Forwarded-For: ");
  const size_t xff_value = out->size();
  if (have_xff) {
    for (const Field& f : req.fields) {
      if (!EqualsIgnoreCase(f.name, "x-forwarded-for") || f.value.empty()) continue;
      if (conn.Names(f.name)) continue;
      if (out->size() != xff_value) out->append(", ");
      out->append(f.value);
    }
  }
  if (!fwd.client_addr.empty()) {
    if (out->size() != xff_value) out->append(", ");
    out->append(fwd.client_addr);
  }
  if (out->size() == xff_value) {
    out->resize(xff_start);
  } else {
    out->append("\r\n");
  }
  if (!fwd.proto.empty()) AppendField(out, "X-Forwarded-Proto", fwd.proto);
  if (!host.empty()) AppendField(out, "X-Forwarded-Host", host);
  out->append("\r\n");
}

void WriteResponseHead(const ResponseHead& resp, bool client_keep_alive, bool http10_client,
                       bool dechunk, std::string* out) {
  const ConnectionTokens conn(resp.fields);
  const bool switching = resp.status == 101;
  bool has_te = false;
  for (const Field& f : resp.fields) {
    if (EqualsIgnoreCase(f.name, "transfer-encoding")) has_te = true;
  }
  out->reserve(out->size() + EstimateSize(resp.fields) + resp.reason.size());

  out->append("HTTP/1.1 ");
  AppendStatusCode(out, resp.status);
  out->push_back(' ');
  out->append(resp.reason);
  out->append("\r\n");

  for (const Field& f : resp.fields) {
    const std::string_view n = f.name;
    if (EqualsIgnoreCase(n, "connection") || EqualsIgnoreCase(n, "keep-alive") ||
        EqualsIgnoreCase(n, "proxy-connection")) {
      continue;
    }
    const bool is_upgrade = EqualsIgnoreCase(n, "upgrade");
    if (is_upgrade && switching) {
      AppendField(out, n, f.value);
      continue;
    }
    const bool is_te = EqualsIgnoreCase(n, "transfer-encoding");
    if (is_te && dechunk) continue;
    // With both framings the chunked coding wins; the stale length must not travel on
    // (RFC 9112 section 6.3).
    if (has_te && EqualsIgnoreCase(n, "content-length")) continue;
    if (!IsProtected(n) && conn.Names(n)) continue;
    AppendField(out, n, f.value);
  }
  if (switching) {
    AppendField(out, "Connection", "upgrade");
  } else if (resp.status < 200) {
    // An interim response says nothing about the connection; the final one will.
  } else if (!client_keep_alive || dechunk) {
    AppendField(out, "Connection", "close");
  } else if (http10_client) {
    AppendField(out, "Connection", "keep-alive");
  }
  out->append("\r\n");
}

std::string_view ErrorResponse(uint16_t status, bool close) {
  size_t idx = kStatus500;
  for (size_t i = 0; i < kNumStatuses; ++i) {
    if (kStatuses[i].code == status) {
      idx = i;
      break;
    }
  }
  return kCanned[2 * idx + (close ? 1 : 0)].view();
}

std::string_view ErrorBody(uint16_t status) {
  const std::string_view canned = ErrorResponse(status, false);
  const size_t end = canned.find("\r\n\r\n");
  return end == std::string_view::npos ? std::string_view() : canned.substr(end + 4);
}

}  // namespace ringway::http1
