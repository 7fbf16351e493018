// Fuzz target for the sticky-session and hash-key cookie reader (balance/sticky.h), which reads
// Cookie fields straight from clients. Input: a cookie name, a NUL byte, then the field value.
// Invariants checked (abort on violation):
//  - the value found is a view inside the field value, never past its end
//  - it holds no ';' (a cookie value cannot run into the next pair)
//  - the pair it belongs to (from the ';' before it) is "name = value", the name equal to the
//    one asked for once spaces are trimmed
//  - FindByToken never returns an index out of range
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "balance/sticky.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t nul = in.find('\0');
  const std::string_view name = nul == std::string_view::npos ? "sid" : in.substr(0, nul);
  const std::string_view field = nul == std::string_view::npos ? in : in.substr(nul + 1);
  const std::string_view v = ringway::balance::FindCookie(field, name);
  if (!v.empty()) {
    Check(v.data() >= field.data() && v.data() + v.size() <= field.data() + field.size());
    Check(v.find(';') == std::string_view::npos);
    const size_t at = static_cast<size_t>(v.data() - field.data());
    const size_t semi = field.substr(0, at).rfind(';');
    const size_t start = semi == std::string_view::npos ? 0 : semi + 1;
    const std::string_view before = field.substr(start, at - start);
    const size_t eq = before.find('=');
    Check(eq != std::string_view::npos);
    Check(Trim(before.substr(0, eq)) == name);
  }
  const std::vector<std::string> tokens = {ringway::balance::StickyToken("127.0.0.1:3001"),
                                           ringway::balance::StickyToken("127.0.0.1:3002")};
  const int i = ringway::balance::FindByToken(tokens, v);
  Check(i >= -1 && i < static_cast<int>(tokens.size()));
  return 0;
}
