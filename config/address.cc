// ParseSocketAddress: IP literals with a port, for what ringway binds to; host names other than
// "localhost" are refused there. ParseBackendAddress also takes a host name and port, which
// ResolveNames (resolve.cc) looks up when a configuration is put to use.
#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "config/config.h"

namespace ringway::config {
namespace {

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// True when `host` looks like a DNS name: letters, digits, '-' and '.', with a letter somewhere.
bool LooksLikeHostName(std::string_view host) {
  bool letter = false;
  for (char c : host) {
    if (IsAlpha(c)) {
      letter = true;
    } else if (!((c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_')) {
      return false;
    }
  }
  return letter;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
           return lower(x) == lower(y);
         });
}

absl::Status Bad(std::string_view text, std::string_view problem) {
  return absl::InvalidArgumentError(absl::StrFormat("address '%s': %s", text, problem));
}

// The port of `text` (the whole address, for messages): 1 to 65535.
absl::StatusOr<uint16_t> ParsePort(std::string_view text, std::string_view port_text) {
  if (!AllDigits(port_text)) {
    return Bad(text,
               absl::StrFormat("port '%s' is not a number; use a port from 1 to 65535", port_text));
  }
  unsigned long port = port_text.size() > 5 ? 0 : std::stoul(std::string(port_text));
  if (port < 1 || port > 65535) {
    return Bad(text,
               absl::StrFormat("port %s is out of range; use a port from 1 to 65535", port_text));
  }
  return static_cast<uint16_t>(port);
}

// Why `host` (which LooksLikeHostName) is not a DNS host name ringway looks up, or "" when it
// is one: letters, digits and '-' in labels of 1 to 63 characters that do not start or end
// with '-', joined by '.', 253 characters at most, the last label not all digits (that would
// be a mistyped IPv4 address).
std::string HostNameProblem(std::string_view host) {
  if (host.size() > 253) return "a host name is at most 253 characters long";
  for (char c : host) {
    if (!(IsAlpha(c) || (c >= '0' && c <= '9') || c == '-' || c == '.')) {
      return absl::StrFormat("'%c' is not allowed in a host name; use letters, digits, '-' and '.'",
                             c);
    }
  }
  std::string_view last;
  for (std::string_view rest = host;;) {
    size_t dot = rest.find('.');
    std::string_view label = rest.substr(0, dot);
    if (label.empty() || label.size() > 63) {
      return "each label of a host name (the parts between dots) has 1 to 63 characters";
    }
    if (label.front() == '-' || label.back() == '-') {
      return "a label of a host name (a part between dots) cannot start or end with '-'";
    }
    last = label;
    if (dot == std::string_view::npos) break;
    rest = rest.substr(dot + 1);
  }
  if (AllDigits(last)) return "its last label is all digits";
  return "";
}

}  // namespace

bool ValidTag(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-' || c == ':' || c == '@' || c == '[' ||
                    c == ']';
    if (!ok) return false;
  }
  return true;
}

bool IsLoopback(const SocketAddress& a) {
  if (a.storage.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&a.storage);
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  if (a.storage.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&a.storage);
    return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
  }
  return false;
}

absl::StatusOr<SocketAddress> ParseSocketAddress(std::string_view text) {
  if (text.empty()) {
    return absl::InvalidArgumentError(
        "empty address; write an IP address and port such as 127.0.0.1:3001");
  }
  std::string_view host;
  std::string_view port_text;
  bool v6 = false;
  if (text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return Bad(text, "missing ']' after the IPv6 address; write it as [::1]:3001");
    }
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (rest.empty() || rest[0] != ':') {
      return Bad(text, "missing port after ']'; write it as [::1]:3001");
    }
    port_text = rest.substr(1);
    v6 = true;
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return Bad(text, "missing port; write an IP address and port such as 127.0.0.1:3001");
    }
    host = text.substr(0, colon);
    if (host.find(':') != std::string_view::npos) {
      return Bad(text, "an IPv6 address needs brackets around it, such as [::1]:3001");
    }
    port_text = text.substr(colon + 1);
  }

  absl::StatusOr<uint16_t> parsed_port = ParsePort(text, port_text);
  if (!parsed_port.ok()) return parsed_port.status();
  const uint16_t port = *parsed_port;

  SocketAddress out;
  char buf[INET6_ADDRSTRLEN] = {};
  if (v6) {
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(port);
    if (inet_pton(AF_INET6, std::string(host).c_str(), &sa.sin6_addr) != 1) {
      return Bad(
          text, absl::StrFormat("'%s' is not an IPv6 address; write one such as [::1]:3001", host));
    }
    inet_ntop(AF_INET6, &sa.sin6_addr, buf, sizeof(buf));
    std::memcpy(&out.storage, &sa, sizeof(sa));
    out.len = sizeof(sa);
    out.text = absl::StrFormat("[%s]:%d", buf, port);
    return out;
  }

  std::string ip(host);
  if (ip.empty()) ip = "0.0.0.0";
  if (EqualsIgnoreCase(ip, "localhost")) ip = "127.0.0.1";
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  if (inet_pton(AF_INET, ip.c_str(), &sa.sin_addr) != 1) {
    if (LooksLikeHostName(host)) {
      return Bad(text, "host names are not resolved; write an IP address such as 127.0.0.1:3001");
    }
    return Bad(text, absl::StrFormat("'%s' is not an IPv4 address; write one such as "
                                     "127.0.0.1:3001",
                                     host));
  }
  inet_ntop(AF_INET, &sa.sin_addr, buf, sizeof(buf));
  std::memcpy(&out.storage, &sa, sizeof(sa));
  out.len = sizeof(sa);
  out.text = absl::StrFormat("%s:%d", buf, port);
  return out;
}

namespace internal {

absl::StatusOr<SocketAddress> ParseBackendAddress(std::string_view text) {
  if (text.empty() || text[0] == '[') return ParseSocketAddress(text);
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return ParseSocketAddress(text);
  const std::string_view host = text.substr(0, colon);
  // IP literals, "localhost", ":port" and what is no host name at all keep their meaning and
  // their messages.
  if (!LooksLikeHostName(host) || EqualsIgnoreCase(host, "localhost")) {
    return ParseSocketAddress(text);
  }
  absl::StatusOr<uint16_t> port = ParsePort(text, text.substr(colon + 1));
  if (!port.ok()) return port.status();
  if (std::string problem = HostNameProblem(host); !problem.empty()) {
    return Bad(text, absl::StrFormat("'%s' is not a valid host name: %s; write a host name such "
                                     "as backend-1:8080 or an IP address such as 127.0.0.1:3001",
                                     host, problem));
  }
  SocketAddress out;
  out.host.reserve(host.size());
  for (char c : host) out.host.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c);
  out.text = absl::StrFormat("%s:%d", out.host, *port);
  return out;  // storage empty, len 0: ResolveNames fills them
}

bool NamesBackendHost(std::string_view host) { return LooksLikeHostName(host); }

}  // namespace internal

}  // namespace ringway::config
