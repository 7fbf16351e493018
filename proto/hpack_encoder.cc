// HPACK encoder: representation choice per field (static, then dynamic table), the indexing
// policy described in hpack.h, Huffman when shorter, and the size updates a change of the peer's
// SETTINGS_HEADER_TABLE_SIZE calls for.
#include <algorithm>
#include <bit>
#include <cstring>

#include "proto/hpack.h"
#include "proto/hpack_huffman.h"

namespace ringway::hpack {
namespace {

// Static indices the policy keys on (Appendix A; hpack_test checks them against the table).
constexpr uint8_t kPath = 4;
constexpr uint8_t kAge = 21;
constexpr uint8_t kAuthorization = 23;
constexpr uint8_t kContentLength = 28;
constexpr uint8_t kCookie = 32;
constexpr uint8_t kEtag = 34;
constexpr uint8_t kIfModifiedSince = 40;
constexpr uint8_t kIfNoneMatch = 41;
constexpr uint8_t kLocation = 46;
constexpr uint8_t kProxyAuthorization = 49;
constexpr uint8_t kSetCookie = 55;

// Cookie values shorter than this are never indexed (see the policy in hpack.h).
constexpr size_t kMinIndexedCookie = 20;
// Hash chains are walked this far at most: a peer choosing colliding names and values (they are
// its request fields when we forward them) costs us compression, never more time.
constexpr int kMaxChain = 16;

constexpr uint64_t NoIndexMask() {
  uint64_t m = 0;
  for (uint8_t i : {kPath, kAge, kContentLength, kEtag, kIfModifiedSince, kIfNoneMatch, kLocation,
                    kSetCookie}) {
    m |= uint64_t{1} << i;
  }
  return m;
}
constexpr uint64_t kNoIndex = NoIndexMask();

bool Sensitive(const HeaderField& f, uint8_t static_name) {
  return f.never_indexed || static_name == kAuthorization || static_name == kProxyAuthorization ||
         (static_name == kCookie && f.value.size() < kMinIndexedCookie);
}

inline uint64_t Load8(const char* p) {
  uint64_t w;
  std::memcpy(&w, p, 8);
  return w;
}

// A hash for the table index, O(1) whatever the length: the length and the first and last 16
// octets, mixed in parallel. Strings that differ only in between share a hash and are told
// apart by the string comparison, for at most kMaxChain candidates; hashing every octet of
// user-agent and cookie values was 40% of encoding a browser request.
uint64_t Hash(std::string_view s, uint64_t seed) {
  constexpr uint64_t k1 = 0x9e3779b97f4a7c15ULL;
  constexpr uint64_t k2 = 0xc2b2ae3d27d4eb4fULL;
  constexpr uint64_t k3 = 0x165667b19e3779f9ULL;
  constexpr uint64_t k4 = 0xd6e8feb86659fd93ULL;
  const char* p = s.data();
  const size_t n = s.size();
  uint64_t w0 = 0, w1 = 0, w2 = 0, w3 = 0;
  if (n >= 16) {
    w0 = Load8(p);
    w1 = Load8(p + 8);
    w2 = Load8(p + n - 16);
    w3 = Load8(p + n - 8);
  } else if (n >= 8) {
    w0 = Load8(p);
    w1 = Load8(p + n - 8);
  } else if (n != 0) {
    std::memcpy(&w0, p, n);
  }
  const uint64_t a = (w0 ^ seed) * k1;
  const uint64_t b = (w1 ^ n) * k2;
  const uint64_t c = (w2 + seed) * k3;
  const uint64_t d = (w3 + n) * k4;
  uint64_t h = (a ^ std::rotr(b, 23)) + (std::rotr(c, 41) ^ d);
  h ^= h >> 29;
  h *= k1;
  return h ^ (h >> 32);
}

}  // namespace

Encoder::Encoder(const EncoderOptions& options) : options_(options), table_(kDefaultTableSize) {
  // The peer's decoder starts at the protocol's 4096; a smaller cap of ours is announced.
  target_size_ = std::min(options_.max_table_size, kDefaultTableSize);
  if (target_size_ != table_.max_size()) {
    update_pending_ = true;
    pending_min_ = target_size_;
  }
}

void Encoder::SetPeerMaxTableSize(uint32_t peer_max) {
  const uint32_t target = std::min(peer_max, options_.max_table_size);
  if (!update_pending_) {
    if (target == table_.max_size()) return;
    update_pending_ = true;
    pending_min_ = target;
  }
  pending_min_ = std::min(pending_min_, target);
  target_size_ = target;
}

uint32_t Encoder::FindDynamic(std::string_view name, std::string_view value, uint64_t full_hash,
                              uint64_t name_hash, bool want_full, bool want_name,
                              uint32_t* name_index) const {
  *name_index = 0;
  if (index_.empty() || table_.count() == 0) return 0;
  const uint64_t first = table_.first_id();
  const uint64_t ring_mask = index_.size() - 1;
  const uint64_t bucket_mask = full_buckets_.size() - 1;
  const auto hpack_index = [&](uint64_t id) {
    return static_cast<uint32_t>(kStaticTableLength + 1 + (table_.next_id() - 1 - id));
  };
  // Bucket heads and chain links hold id + 1; anything at or below first_id() is evicted, and
  // links only go to older ids, so the walk stops there.
  if (want_full) {
    uint64_t link = full_buckets_[(full_hash >> 32) & bucket_mask];
    for (int steps = 0; link > first && steps < kMaxChain; ++steps) {
      const uint64_t id = link - 1;
      const IndexSlot& s = index_[id & ring_mask];
      if (s.full_hash == static_cast<uint32_t>(full_hash)) {
        const DynamicTable::Entry e = table_.EntryById(id);
        if (e.name == name && e.value == value) return hpack_index(id);
      }
      link = s.next_full;
    }
  }
  if (want_name) {
    uint64_t link = name_buckets_[(name_hash >> 32) & bucket_mask];
    for (int steps = 0; link > first && steps < kMaxChain; ++steps) {
      const uint64_t id = link - 1;
      const IndexSlot& s = index_[id & ring_mask];
      if (s.name_hash == static_cast<uint32_t>(name_hash) && table_.EntryById(id).name == name) {
        *name_index = hpack_index(id);
        break;
      }
      link = s.next_name;
    }
  }
  return 0;
}

void Encoder::AddToTable(std::string_view name, std::string_view value, uint64_t full_hash,
                         uint64_t name_hash) {
  if (index_.empty()) {
    // The table never holds more than max_table_size / 32 entries.
    const size_t ring = std::bit_ceil(size_t{options_.max_table_size} / kEntryOverhead + 1);
    index_.resize(ring);
    full_buckets_.assign(std::max<size_t>(ring, 16), 0);
    name_buckets_.assign(std::max<size_t>(ring, 16), 0);
  }
  const uint64_t id = table_.next_id();
  table_.Add(name, value);
  if (table_.next_id() == id) return;  // too big: the table emptied itself
  const uint64_t bucket_mask = full_buckets_.size() - 1;
  IndexSlot& s = index_[id & (index_.size() - 1)];
  s.full_hash = static_cast<uint32_t>(full_hash);
  s.name_hash = static_cast<uint32_t>(name_hash);
  s.next_full = full_buckets_[(full_hash >> 32) & bucket_mask];
  s.next_name = name_buckets_[(name_hash >> 32) & bucket_mask];
  full_buckets_[(full_hash >> 32) & bucket_mask] = id + 1;
  name_buckets_[(name_hash >> 32) & bucket_mask] = id + 1;
}

char* Encoder::EmitString(std::string_view s, char* o) const {
  if (options_.huffman) {
    const size_t h = HuffmanEncodedLength(s);
    if (h < s.size()) {
      o += EncodeInteger(static_cast<uint32_t>(h), 7, 0x80, o);
      return o + HuffmanEncode(s, o);
    }
  }
  o += EncodeInteger(static_cast<uint32_t>(s.size()), 7, 0, o);
  if (!s.empty()) std::memcpy(o, s.data(), s.size());
  return o + s.size();
}

char* Encoder::EncodeField(const HeaderField& f, char* o) {
  const StaticMatch sm = FindStatic(f.name, f.value);
  const bool sensitive = Sensitive(f, sm.name_index);
  if (!sensitive && sm.full_index != 0) {
    *o++ = static_cast<char>(0x80 | sm.full_index);
    return o;
  }
  const uint64_t size = FieldSize(f.name, f.value);
  const bool index = !sensitive && table_.max_size() != 0 &&
                     (kNoIndex & (uint64_t{1} << sm.name_index)) == 0 &&
                     size <= uint64_t{table_.max_size()} * 3 / 4;
  // Only indexed fields enter the table, so a field that would not be indexed now can match
  // there only if the policy let it in earlier: a size change, never a name the policy names.
  const bool want_full =
      !sensitive && table_.count() != 0 && (kNoIndex & (uint64_t{1} << sm.name_index)) == 0;
  const bool want_name = sm.name_index == 0 && table_.count() != 0;
  uint64_t name_hash = 0;
  uint64_t full_hash = 0;
  if (index || want_full || want_name) {
    name_hash = Hash(f.name, 0);
    full_hash = Hash(f.value, name_hash);
  }
  uint32_t name_index = sm.name_index;
  if (want_full || want_name) {
    uint32_t dynamic_name = 0;
    const uint32_t full =
        FindDynamic(f.name, f.value, full_hash, name_hash, want_full, want_name, &dynamic_name);
    if (full != 0) return o + EncodeInteger(full, 7, 0x80, o);
    if (name_index == 0) name_index = dynamic_name;
  }
  if (sensitive) {
    o += EncodeInteger(name_index, 4, 0x10, o);  // literal never indexed (6.2.3)
  } else if (index) {
    o += EncodeInteger(name_index, 6, 0x40, o);  // literal with incremental indexing (6.2.1)
  } else {
    o += EncodeInteger(name_index, 4, 0x00, o);  // literal without indexing (6.2.2)
  }
  if (name_index == 0) o = EmitString(f.name, o);
  o = EmitString(f.value, o);
  // After the representation: the decoder resolves a name index before it inserts, so the
  // index above may name the entry this insertion evicts.
  if (index) AddToTable(f.name, f.value, full_hash, name_hash);
  return o;
}

void Encoder::Encode(std::span<const HeaderField> fields, std::string* out) {
  // Worst case per field: three integers (index, two lengths) and both strings raw.
  size_t bound = 2 * kMaxIntegerLength;
  for (const HeaderField& f : fields) {
    bound += 3 * kMaxIntegerLength + f.name.size() + f.value.size();
  }
  const size_t old = out->size();
  out->resize(old + bound);
  char* const start = out->data() + old;
  char* o = start;
  if (update_pending_) {
    // Section 4.2: the smallest size since the last block, then the final one.
    if (pending_min_ < target_size_) {
      o += EncodeInteger(pending_min_, 5, 0x20, o);
      table_.SetMaxSize(pending_min_);
    }
    o += EncodeInteger(target_size_, 5, 0x20, o);
    table_.SetMaxSize(target_size_);
    update_pending_ = false;
  }
  for (const HeaderField& f : fields) o = EncodeField(f, o);
  out->resize(old + static_cast<size_t>(o - start));
}

}  // namespace ringway::hpack
