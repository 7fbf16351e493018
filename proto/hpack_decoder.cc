// HPACK decoder (RFC 7541 sections 3, 4 and 6): one forward pass over a complete header block.
// Output strings are views into the block, the static table or the per-block arena. Once the
// list limit is crossed the block is still walked to the end, because the peer's encoder has
// updated its table for every representation in it (RFC 9113 section 4.3), but nothing more is
// output and nothing more lands in the arena: the cost of the rest is O(1) per indexed field
// and O(octets) per literal.
#include <algorithm>

#include "proto/hpack.h"
#include "proto/hpack_huffman.h"

namespace ringway::hpack {
namespace {

DecodeResult Error(const char* what) { return {DecodeStatus::kCompressionError, what}; }

DecodeResult HuffmanError(HuffmanStatus s) {
  return Error(s == HuffmanStatus::kEos ? "HPACK: EOS in a Huffman string"
                                        : "HPACK: bad Huffman padding");
}

struct RawString {
  std::string_view bytes;
  bool huffman = false;
};

// Reads a string literal's length and takes its octets (section 5.2): false if the length is
// malformed or runs past the block.
bool ReadRaw(const uint8_t** p, const uint8_t* end, RawString* out) {
  if (*p == end) return false;
  out->huffman = (**p & 0x80) != 0;
  uint32_t len;
  if (DecodeInteger(p, end, 7, &len) != IntegerStatus::kOk) return false;
  if (len > static_cast<size_t>(end - *p)) return false;
  out->bytes = std::string_view(reinterpret_cast<const char*>(*p), len);
  *p += len;
  return true;
}

}  // namespace

struct Decoder::BlockState {
  const uint8_t* p;
  const uint8_t* end;
  std::vector<HeaderField>* fields;
  uint64_t list_size = 0;    // FieldSize sum of the fields output so far
  bool refused = false;      // past the list limit: nothing more is output
  bool field_seen = false;   // a field came: size updates are over (section 4.2)
  uint64_t copied = 0;       // octets this block copied into the dynamic table
  uint64_t copy_budget = 0;  // see Decode
};

Decoder::Decoder(uint32_t max_table_size, uint32_t max_header_list_size)
    : table_(max_table_size), table_limit_(max_table_size), max_list_size_(max_header_list_size) {}

void Decoder::SetMaxTableSizeLimit(uint32_t limit) { table_limit_ = limit; }

char* Decoder::Scratch() {
  const size_t need = std::max(table_limit_, table_.max_size());
  if (scratch_cap_ < need) {
    scratch_ = std::make_unique_for_overwrite<char[]>(need);
    scratch_cap_ = need;
  }
  return scratch_.get();
}

// A field representation may come only after the size updates, and must come after one if our
// limit went below the table's size since the last block (section 4.2).
bool Decoder::StartField(BlockState& st) {
  if (st.field_seen) return true;
  st.field_seen = true;
  return table_.max_size() <= table_limit_;
}

DecodeResult Decoder::DecodeIndexed(BlockState& st) {
  uint32_t index;
  if (DecodeInteger(&st.p, st.end, 7, &index) != IntegerStatus::kOk) {
    return Error("HPACK: bad integer");
  }
  if (!StartField(st)) return Error("HPACK: missing dynamic table size update");
  HeaderField f;
  bool in_table = false;
  if (index - 1 < kStaticTableLength) {  // index 0 wraps around and fails below
    const StaticEntry& e = GetStaticEntry(index);
    f.name = e.name;
    f.value = e.value;
    f.static_index = static_cast<uint8_t>(index);
  } else if (index != 0 && index - kStaticTableLength - 1 < table_.count()) {
    const DynamicTable::Entry e = table_.Get(index - kStaticTableLength - 1);
    f.name = e.name;
    f.value = e.value;
    in_table = true;
  } else {
    return Error(index == 0 ? "HPACK: index 0" : "HPACK: index out of range");
  }
  if (st.refused) return {};
  const uint64_t size = FieldSize(f.name, f.value);
  if (st.list_size + size > max_list_size_) {
    st.refused = true;
    return {};
  }
  st.list_size += size;
  if (in_table) {
    // A later field of this block may evict the entry: the output gets its own copy.
    const size_t n = f.name.size() + f.value.size();
    char* d = arena_.Reserve(n);
    std::copy(f.name.begin(), f.name.end(), d);
    std::copy(f.value.begin(), f.value.end(), d + f.name.size());
    arena_.Commit(n);
    f.name = std::string_view(d, f.name.size());
    f.value = std::string_view(d + f.name.size(), f.value.size());
  }
  st.fields->push_back(f);
  return {};
}

DecodeResult Decoder::DecodeSizeUpdate(BlockState& st) {
  if (st.field_seen) return Error("HPACK: dynamic table size update after a field");
  uint32_t size;
  if (DecodeInteger(&st.p, st.end, 5, &size) != IntegerStatus::kOk) {
    return Error("HPACK: bad integer");
  }
  if (size > table_limit_) {
    return Error("HPACK: dynamic table size update above SETTINGS_HEADER_TABLE_SIZE");
  }
  table_.SetMaxSize(size);
  return {};
}

DecodeResult Decoder::DecodeLiteral(BlockState& st, int prefix_bits, bool indexing, bool never) {
  uint32_t index;
  if (DecodeInteger(&st.p, st.end, prefix_bits, &index) != IntegerStatus::kOk) {
    return Error("HPACK: bad integer");
  }
  if (!StartField(st)) return Error("HPACK: missing dynamic table size update");

  // Whether the field can still be output, and the octets its name and value may then take.
  bool accept = !st.refused && st.list_size + kEntryOverhead <= max_list_size_;
  uint64_t room = accept ? max_list_size_ - st.list_size - kEntryOverhead : 0;
  // For an indexed literal: the octets name and value may take in the table; past that the
  // entry empties the table whatever the strings are.
  bool too_big = table_.max_size() < kEntryOverhead;
  uint64_t table_room = too_big ? 0 : table_.max_size() - kEntryOverhead;
  size_t scratch_used = 0;

  // A Huffman string goes to the arena while the field can be output; otherwise to the scratch
  // buffer if the table needs it; otherwise it is only validated. *got says whether *out is set.
  auto huffman = [&](std::string_view raw, std::string_view* out, bool* got) -> HuffmanStatus {
    size_t n = 0;
    *got = false;
    if (accept) {
      const size_t cap =
          static_cast<size_t>(std::min<uint64_t>(room, HuffmanMaxDecodedLength(raw.size())));
      char* d = arena_.Reserve(cap);
      const HuffmanStatus s = HuffmanDecode(raw, d, cap, &n);
      if (s == HuffmanStatus::kOk) {
        arena_.Commit(n);
        *out = std::string_view(d, n);
        *got = true;
        return s;
      }
      if (s != HuffmanStatus::kOverflow) return s;
      accept = false;
    }
    if (indexing && !too_big) {
      char* d = Scratch() + scratch_used;
      const size_t cap =
          static_cast<size_t>(std::min<uint64_t>(table_room, HuffmanMaxDecodedLength(raw.size())));
      const HuffmanStatus s = HuffmanDecode(raw, d, cap, &n);
      if (s == HuffmanStatus::kOk) {
        scratch_used += n;
        *out = std::string_view(d, n);
        *got = true;
        return s;
      }
      if (s != HuffmanStatus::kOverflow) return s;
      too_big = true;
    }
    return HuffmanCheck(raw, &n);
  };
  // Charges a string to the field's list room and table room.
  auto charge = [&](size_t n) {
    if (accept && n > room) accept = false;
    room = accept ? room - n : 0;
    if (!too_big && n > table_room) too_big = true;
    table_room = too_big ? 0 : table_room - n;
  };

  std::string_view name;
  uint8_t static_index = 0;
  bool name_in_table = false;
  bool got = true;
  if (index != 0) {
    if (index <= kStaticTableLength) {
      name = GetStaticEntry(index).name;
      static_index = static_cast<uint8_t>(index);
    } else if (index - kStaticTableLength - 1 < table_.count()) {
      name = table_.Get(index - kStaticTableLength - 1).name;
      name_in_table = true;
    } else {
      return Error("HPACK: index out of range");
    }
    charge(name.size());
  } else {
    RawString raw;
    if (!ReadRaw(&st.p, st.end, &raw)) return Error("HPACK: string runs past the block");
    if (!raw.huffman) {
      name = raw.bytes;
      charge(name.size());
    } else {
      const HuffmanStatus s = huffman(raw.bytes, &name, &got);
      if (s != HuffmanStatus::kOk) return HuffmanError(s);
      if (got) charge(name.size());
    }
  }

  std::string_view value;
  RawString raw;
  if (!ReadRaw(&st.p, st.end, &raw)) return Error("HPACK: string runs past the block");
  if (!raw.huffman) {
    value = raw.bytes;
    charge(value.size());
  } else {
    bool value_got;
    const HuffmanStatus s = huffman(raw.bytes, &value, &value_got);
    if (s != HuffmanStatus::kOk) return HuffmanError(s);
    got = got && value_got;
  }

  if (accept && got) {
    if (name_in_table) {
      char* d = arena_.Reserve(name.size());
      std::copy(name.begin(), name.end(), d);
      arena_.Commit(name.size());
      name = std::string_view(d, name.size());
    }
    st.list_size += FieldSize(name, value);
    st.fields->push_back({name, value, never, static_index});
  } else {
    st.refused = true;
  }

  if (indexing) {
    if (too_big || !got || FieldSize(name, value) > table_.max_size()) {
      table_.Clear();
    } else {
      st.copied += name.size() + value.size();
      if (st.copied > st.copy_budget) return Error("HPACK: block copies too much into the table");
      table_.Add(name, value);
    }
  }
  return {};
}

DecodeResult Decoder::Decode(std::string_view block, std::vector<HeaderField>* fields) {
  fields->clear();
  arena_.Reset();
  if (broken_) return Error("HPACK: decoder failed on an earlier block");
  BlockState st;
  st.p = reinterpret_cast<const uint8_t*>(block.data());
  st.end = st.p + block.size();
  st.fields = fields;
  // Work bound for refused blocks. An accepted block copies into the table at most what it
  // outputs (<= the list limit). A refused one could repeat "literal with incremental indexing,
  // name = a 4 KiB table entry, empty value" (2 octets each) to make the table copy 2000 times
  // the block; past this budget (a few tables' worth, and 32 octets per octet of block: a
  // 20-octet name re-used with a 1-octet value is 7) that is treated as the attack it is.
  st.copy_budget =
      uint64_t{max_list_size_} + 4 * uint64_t{table_limit_} + 32 * uint64_t{block.size()};
  while (st.p < st.end) {
    const uint8_t b = *st.p;
    DecodeResult r;
    if (b & 0x80) {
      r = DecodeIndexed(st);  // 1xxxxxxx: indexed field (6.1)
    } else if (b & 0x40) {
      r = DecodeLiteral(st, 6, true, false);  // 01xxxxxx: literal, incremental indexing (6.2.1)
    } else if (b & 0x20) {
      r = DecodeSizeUpdate(st);  // 001xxxxx: dynamic table size update (6.3)
    } else {
      // 0000xxxx: literal without indexing (6.2.2); 0001xxxx: never indexed (6.2.3)
      r = DecodeLiteral(st, 4, false, (b & 0x10) != 0);
    }
    if (r.status != DecodeStatus::kOk) {
      broken_ = true;
      fields->clear();
      return r;
    }
  }
  if (!StartField(st)) {
    broken_ = true;
    fields->clear();
    return Error("HPACK: missing dynamic table size update");
  }
  if (st.refused) {
    return {DecodeStatus::kHeaderListTooLarge, "HPACK: header list larger than the limit"};
  }
  return {};
}

DecodeResult Decoder::Discard(std::string_view block) {
  // A list limit of 0 refuses every field: the walk updates the table, outputs nothing and
  // copies nothing into the arena.
  std::vector<HeaderField> none;
  const uint32_t saved = max_list_size_;
  max_list_size_ = 0;
  DecodeResult r = Decode(block, &none);
  max_list_size_ = saved;
  if (r.status == DecodeStatus::kHeaderListTooLarge) r = {};
  return r;
}

}  // namespace ringway::hpack
