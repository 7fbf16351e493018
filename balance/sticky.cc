#include "balance/sticky.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "balance/hash.h"

namespace ringway::balance {
namespace {

// A fixed seed so that tokens are not the same numbers as the hashes of the same ids elsewhere.
constexpr uint64_t kTokenSeed = 0x737469636b792d31;  // "sticky-1"

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string StickyToken(std::string_view backend_id) {
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t h = Hash64(backend_id, kTokenSeed);
  std::string token(16, '0');
  for (int i = 15; i >= 0; --i, h >>= 4) token[i] = kHex[h & 0xf];
  return token;
}

std::string_view FindCookie(std::string_view cookie_header_value, std::string_view name) {
  if (name.empty()) return {};
  std::string_view rest = cookie_header_value;
  while (!rest.empty()) {
    const size_t semi = rest.find(';');
    const std::string_view pair = rest.substr(0, semi);
    rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
    const size_t eq = pair.find('=');
    if (eq == std::string_view::npos) continue;  // not a name=value pair
    if (Trim(pair.substr(0, eq)) != name) continue;
    std::string_view value = Trim(pair.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    return value;
  }
  return {};
}

int FindByToken(std::span<const std::string> tokens, std::string_view token) {
  if (token.empty()) return -1;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] == token) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace ringway::balance
