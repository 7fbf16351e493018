// A stable 64-bit hash of bytes, and a 64-bit integer mixer.
//
// The consistent-hashing balancers (Maglev, ketama) and the sticky-session tokens need a hash
// that gives the same value in every process, build and machine: several ringway instances,
// and one instance before and after a restart, must send a key to the same backend. So this is
// not absl::Hash or std::hash (both may change between builds or are seeded per process); it is
// a fixed function whose outputs are pinned by golden values in tests/balance/hash_test.cc.
//
// Hash64 reads the input as little-endian 8-byte words (the last one zero-padded), whatever
// the machine's byte order. Each word goes through one step h = rotl(h ^ w * P, 31) * Q, which
// for a fixed word is a bijection of the state, so two inputs of the same length that differ
// in a single word never collide. The length and the seed enter the state, and a final Mix64
// spreads every input bit over every output bit. It is fast and well distributed, not
// cryptographic: an attacker who can choose keys can choose colliding ones.
//
// Mix64 is a bijective xorshift-multiply finalizer (Stafford's "mix13" constants): use it to
// turn an integer key (an IPv4 address, a port) into a well-spread 64-bit hash.
//
//   PickInput in{.hash = balance::Hash64(client_ip_text), .has_hash = true};
//   uint64_t h = balance::Mix64(uint64_t{ipv4} << 16 | port);
#ifndef RINGWAY_BALANCE_HASH_H_
#define RINGWAY_BALANCE_HASH_H_

#include <cstdint>
#include <string_view>

namespace ringway::balance {

// A bijection of 64-bit integers whose output bits each depend on every input bit.
// Mix64(0) == 0.
constexpr uint64_t Mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9;
  x ^= x >> 27;
  x *= 0x94d049bb133111eb;
  x ^= x >> 31;
  return x;
}

// The same value for the same bytes and seed in every process, build and machine.
uint64_t Hash64(std::string_view data, uint64_t seed = 0);

}  // namespace ringway::balance

#endif  // RINGWAY_BALANCE_HASH_H_
