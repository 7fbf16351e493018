// HPACK pieces shared by the decoder and the encoder: integers, the static table with its
// name look-up, the dynamic table's storage and the decoder's block arena.
#include "proto/hpack.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>

namespace ringway::hpack {

// ---- Integers ----------------------------------------------------------------------------------

size_t EncodeInteger(uint32_t value, int prefix_bits, uint8_t flags, char* out) {
  const uint32_t prefix_max = (uint32_t{1} << prefix_bits) - 1;
  if (value < prefix_max) {
    out[0] = static_cast<char>(flags | value);
    return 1;
  }
  out[0] = static_cast<char>(flags | prefix_max);
  value -= prefix_max;
  size_t n = 1;
  while (value >= 0x80) {
    out[n++] = static_cast<char>(0x80 | (value & 0x7f));
    value >>= 7;
  }
  out[n++] = static_cast<char>(value);
  return n;
}

namespace internal {

IntegerStatus DecodeIntegerTail(const uint8_t** p, const uint8_t* end, uint32_t prefix_max,
                                uint32_t* value) {
  const uint8_t* q = *p + 1;
  uint64_t v = prefix_max;
  // Five continuation octets carry 35 bits, enough for any 32-bit value whatever the prefix;
  // a sixth is refused rather than read, which bounds the loop.
  for (int shift = 0; shift < 35; shift += 7) {
    if (q == end) return IntegerStatus::kTruncated;
    const uint8_t b = *q++;
    v += uint64_t{b & 0x7fu} << shift;
    if ((b & 0x80) == 0) {
      if (v > UINT32_MAX) return IntegerStatus::kOverflow;
      *value = static_cast<uint32_t>(v);
      *p = q;
      return IntegerStatus::kOk;
    }
  }
  return IntegerStatus::kOverflow;
}

}  // namespace internal

// ---- Static table ------------------------------------------------------------------------------

namespace {

// RFC 7541 Appendix A; index 0 is unused.
constexpr StaticEntry kStatic[kStaticTableLength + 1] = {
    {"", ""},
    {":authority", ""},
    {":method", "GET"},
    {":method", "POST"},
    {":path", "/"},
    {":path", "/index.html"},
    {":scheme", "http"},
    {":scheme", "https"},
    {":status", "200"},
    {":status", "204"},
    {":status", "206"},
    {":status", "304"},
    {":status", "400"},
    {":status", "404"},
    {":status", "500"},
    {"accept-charset", ""},
    {"accept-encoding", "gzip, deflate"},
    {"accept-language", ""},
    {"accept-ranges", ""},
    {"accept", ""},
    {"access-control-allow-origin", ""},
    {"age", ""},
    {"allow", ""},
    {"authorization", ""},
    {"cache-control", ""},
    {"content-disposition", ""},
    {"content-encoding", ""},
    {"content-language", ""},
    {"content-length", ""},
    {"content-location", ""},
    {"content-range", ""},
    {"content-type", ""},
    {"cookie", ""},
    {"date", ""},
    {"etag", ""},
    {"expect", ""},
    {"expires", ""},
    {"from", ""},
    {"host", ""},
    {"if-match", ""},
    {"if-modified-since", ""},
    {"if-none-match", ""},
    {"if-range", ""},
    {"if-unmodified-since", ""},
    {"last-modified", ""},
    {"link", ""},
    {"location", ""},
    {"max-forwards", ""},
    {"proxy-authenticate", ""},
    {"proxy-authorization", ""},
    {"range", ""},
    {"referer", ""},
    {"refresh", ""},
    {"retry-after", ""},
    {"server", ""},
    {"set-cookie", ""},
    {"strict-transport-security", ""},
    {"transfer-encoding", ""},
    {"user-agent", ""},
    {"vary", ""},
    {"via", ""},
    {"www-authenticate", ""},
};

// Name look-up for the encoder: an open-addressing table from a cheap hash of the name to the
// first static index with that name. Entries that share a name are adjacent in Appendix A, so
// the value search walks forward from there.
constexpr size_t kNameSlots = 128;

constexpr uint32_t NameHash(std::string_view n) {
  const auto b = [&](size_t i) { return static_cast<uint32_t>(static_cast<uint8_t>(n[i])); };
  // Multipliers picked by a search over the 52 names for the shortest probe sequences.
  return (static_cast<uint32_t>(n.size()) * 2 + b(1) * 9 + b(n.size() - 1) * 7 + b(n.size() / 2)) %
         kNameSlots;
}

struct NameIndex {
  std::array<uint8_t, kNameSlots> slot{};  // first static index, 0 = empty
  int max_probe = 0;
};

constexpr NameIndex MakeNameIndex() {
  NameIndex t{};
  for (size_t i = 1; i <= kStaticTableLength; ++i) {
    if (kStatic[i].name == kStatic[i - 1].name) continue;  // not the first with this name
    size_t h = NameHash(kStatic[i].name);
    int probe = 0;
    while (t.slot[h] != 0) {
      h = (h + 1) % kNameSlots;
      ++probe;
    }
    t.slot[h] = static_cast<uint8_t>(i);
    t.max_probe = std::max(t.max_probe, probe);
  }
  return t;
}
constexpr NameIndex kNameIndex = MakeNameIndex();
static_assert(kNameIndex.max_probe <= 1, "static name hash clusters; pick another");

}  // namespace

const StaticEntry& GetStaticEntry(size_t index) { return kStatic[index]; }

StaticMatch FindStatic(std::string_view name, std::string_view value) {
  StaticMatch m;
  // Static names are 3 to 27 octets; shorter or longer ones cannot match (and NameHash reads
  // name[1]).
  if (name.size() < 3 || name.size() > 27) return m;
  for (size_t h = NameHash(name);; h = (h + 1) % kNameSlots) {
    const uint8_t i = kNameIndex.slot[h];
    if (i == 0) return m;
    if (kStatic[i].name != name) continue;
    m.name_index = i;
    for (size_t j = i; j <= kStaticTableLength && kStatic[j].name == name; ++j) {
      if (kStatic[j].value == value) {
        m.full_index = static_cast<uint8_t>(j);
        break;
      }
    }
    return m;
  }
}

// ---- Dynamic table -----------------------------------------------------------------------------

DynamicTable::Entry DynamicTable::EntryById(uint64_t id) const {
  const Slot& s = slots_[id & slot_mask_];
  const char* p = buf_.get() + (s.pos - base_);
  return {std::string_view(p, s.name_len), std::string_view(p + s.name_len, s.value_len)};
}

void DynamicTable::EvictOldest() {
  const Slot& s = slots_[first_id_ & slot_mask_];
  size_ -= s.name_len + s.value_len + kEntryOverhead;
  ++first_id_;
  // Empty: the next entry goes to the start of the buffer, which delays compaction.
  if (first_id_ == next_id_) base_ = end_pos_;
}

void DynamicTable::Clear() {
  first_id_ = next_id_;
  size_ = 0;
  base_ = end_pos_;
}

void DynamicTable::SetMaxSize(uint32_t max_size) {
  max_size_ = max_size;
  while (size_ > max_size_) EvictOldest();
  if (buf_ != nullptr) Reserve(2 * size_t{max_size_}, max_size_ / kEntryOverhead + 1);
}

// Grows the buffers to at least `bytes` octets and `slots` entries, keeping the live entries.
void DynamicTable::Reserve(size_t bytes, size_t slots) {
  const size_t slot_cap = std::bit_ceil(std::max<size_t>(slots, 1));
  const size_t old_slot_cap = buf_ == nullptr ? 0 : slot_mask_ + 1;
  if (buf_ != nullptr && bytes <= buf_cap_ && slot_cap <= old_slot_cap) return;
  const size_t new_cap = std::max({bytes, buf_cap_, size_t{1}});
  const size_t new_slot_cap = std::max(slot_cap, old_slot_cap);
  auto buf = std::make_unique_for_overwrite<char[]>(new_cap);
  auto ring = std::make_unique_for_overwrite<Slot[]>(new_slot_cap);
  const uint64_t begin = count() != 0 ? slots_[first_id_ & slot_mask_].pos : end_pos_;
  if (end_pos_ != begin) std::memcpy(buf.get(), buf_.get() + (begin - base_), end_pos_ - begin);
  for (uint64_t id = first_id_; id != next_id_; ++id) {
    ring[id & (new_slot_cap - 1)] = slots_[id & slot_mask_];
  }
  buf_ = std::move(buf);
  buf_cap_ = new_cap;
  slots_ = std::move(ring);
  slot_mask_ = new_slot_cap - 1;
  base_ = begin;
}

bool DynamicTable::Aliases(std::string_view s) const {
  if (buf_ == nullptr || s.empty()) return false;
  const auto p = reinterpret_cast<uintptr_t>(s.data());
  const auto b = reinterpret_cast<uintptr_t>(buf_.get());
  return p >= b && p < b + buf_cap_;
}

void DynamicTable::Add(std::string_view name, std::string_view value) {
  if (FieldSize(name, value) > max_size_) {
    Clear();  // section 4.4: not an error; the table ends up empty
    return;
  }
  const uint32_t entry = static_cast<uint32_t>(FieldSize(name, value));
  if (Aliases(name) || Aliases(value)) {
    // Eviction or compaction below may overwrite these octets (section 4.4's caution).
    alias_copy_.assign(name).append(value);
    name = std::string_view(alias_copy_).substr(0, name.size());
    value = std::string_view(alias_copy_).substr(name.size());
  }
  while (size_ + entry > max_size_) EvictOldest();
  if (buf_ == nullptr) Reserve(2 * size_t{max_size_}, max_size_ / kEntryOverhead + 1);
  const size_t len = name.size() + value.size();
  if (end_pos_ - base_ + len > buf_cap_) {
    // Live octets are at most max_size_ - entry, so after moving them to the front the new
    // entry fits, and the next compaction is at least max_size_ octets of additions away.
    const uint64_t begin = count() != 0 ? slots_[first_id_ & slot_mask_].pos : end_pos_;
    std::memmove(buf_.get(), buf_.get() + (begin - base_), end_pos_ - begin);
    base_ = begin;
  }
  char* dst = buf_.get() + (end_pos_ - base_);
  if (!name.empty()) std::memcpy(dst, name.data(), name.size());
  if (!value.empty()) std::memcpy(dst + name.size(), value.data(), value.size());
  slots_[next_id_ & slot_mask_] = {end_pos_, static_cast<uint32_t>(name.size()),
                                   static_cast<uint32_t>(value.size())};
  ++next_id_;
  end_pos_ += len;
  size_ += entry;
}

// ---- Block arena -------------------------------------------------------------------------------

namespace {
constexpr size_t kFirstChunk = 4096;
constexpr size_t kMaxChunkGrowth = 32 * 1024;
constexpr size_t kKeepAcrossBlocks = 16 * 1024;
}  // namespace

char* BlockArena::Reserve(size_t n) {
  if (!chunks_.empty() && chunks_[cur_].cap - used_ >= n) return chunks_[cur_].data.get() + used_;
  while (cur_ + 1 < chunks_.size()) {
    ++cur_;
    used_ = 0;
    if (chunks_[cur_].cap >= n) return chunks_[cur_].data.get();
  }
  const size_t grown =
      chunks_.empty() ? kFirstChunk : std::min(2 * chunks_.back().cap, kMaxChunkGrowth);
  const size_t cap = std::max({n, grown, size_t{1}});
  chunks_.push_back({std::make_unique_for_overwrite<char[]>(cap), cap});
  cur_ = chunks_.size() - 1;
  used_ = 0;
  return chunks_[cur_].data.get();
}

void BlockArena::Reset() {
  size_t total = 0;
  for (const Chunk& c : chunks_) total += c.cap;
  // A rare large block does not pin its memory on the connection for good.
  if (total > kKeepAcrossBlocks) chunks_.clear();
  cur_ = 0;
  used_ = 0;
}

}  // namespace ringway::hpack
