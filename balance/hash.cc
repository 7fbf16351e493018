#include "balance/hash.h"

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace ringway::balance {
namespace {

// Odd 64-bit constants with well-spread bits (2^64 / golden ratio, and two 64-bit primes that
// xxHash also uses); multiplying by an odd constant is a bijection.
constexpr uint64_t kP = 0x9e3779b97f4a7c15;
constexpr uint64_t kQ = 0xc2b2ae3d27d4eb4f;
constexpr uint64_t kSeedSalt = 0x165667b19e3779f9;

// Little-endian regardless of the machine, so the hash is the same everywhere.
inline uint64_t LoadLe64(const unsigned char* p) {
  uint64_t w;
  std::memcpy(&w, p, sizeof(w));
  if constexpr (std::endian::native == std::endian::big) w = __builtin_bswap64(w);
  return w;
}

inline uint64_t Step(uint64_t h, uint64_t w) { return std::rotl(h ^ (w * kP), 31) * kQ; }

}  // namespace

uint64_t Hash64(std::string_view data, uint64_t seed) {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  const size_t n = data.size();
  uint64_t h = Mix64(seed ^ kSeedSalt) ^ (static_cast<uint64_t>(n) * kQ);
  size_t left = n;
  for (; left >= 8; left -= 8, p += 8) h = Step(h, LoadLe64(p));
  if (left > 0) {
    uint64_t w = 0;
    for (size_t i = 0; i < left; ++i) w |= static_cast<uint64_t>(p[i]) << (8 * i);
    h = Step(h, w);
  }
  return Mix64(h ^ static_cast<uint64_t>(n));
}

}  // namespace ringway::balance
