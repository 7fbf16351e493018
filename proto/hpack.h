// HPACK header compression for HTTP/2 (RFC 7541): integers, the static and dynamic tables, a
// decoder for complete header blocks and an encoder, for the server and the client side alike.
// Per connection: one Decoder for what the peer sends, one Encoder for what we send.
//
//   hpack::Decoder dec(/*max_table_size=*/4096, /*max_header_list_size=*/64 << 10);
//   std::vector<hpack::HeaderField> fields;                    // reused: keeps its capacity
//   hpack::DecodeResult r = dec.Decode(block, &fields);        // HEADERS + CONTINUATION payloads
//   if (r.status == hpack::DecodeStatus::kHeaderListTooLarge) { /* 431 / RST_STREAM, go on */ }
//   if (r.status == hpack::DecodeStatus::kCompressionError) { /* GOAWAY COMPRESSION_ERROR */ }
//   hpack::Encoder enc;                                        // peer's table size: 4096
//   std::string wire;
//   enc.Encode(fields, &wire);                                 // appends one header block
//
// Decoding is bounded: every representation costs O(1) plus its string octets, the output is
// cut at max_header_list_size (a small block naming one big table entry many times is refused
// after reaching the limit, in time linear in the block), and the memory a decode holds is
// bounded by that limit and the table size. No field validation for HTTP happens here
// (lowercase names, pseudo-header order, forbidden octets): the caller does it on the output.
#ifndef RINGWAY_PROTO_HPACK_H_
#define RINGWAY_PROTO_HPACK_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ringway::hpack {

inline constexpr uint32_t kDefaultTableSize = 4096;  // initial SETTINGS_HEADER_TABLE_SIZE
inline constexpr uint32_t kEntryOverhead = 32;       // added to name + value (section 4.1)
inline constexpr size_t kStaticTableLength = 61;     // entries 1..61 (Appendix A)

struct HeaderField {
  std::string_view name;
  std::string_view value;
  // Decoder: sent as "literal never indexed" (section 6.2.3). An intermediary must forward
  // the field with the same representation (section 7.1.3); Encoder honours it.
  bool never_indexed = false;
  // Decoder: 1..61 when the name came from the static table (an indexed field or a literal
  // with an indexed name), so a caller can switch on it instead of comparing strings; 0
  // otherwise, which does not mean the name is not a static one. Ignored by the Encoder.
  uint8_t static_index = 0;
};

// The HPACK size of a field: name + value + 32 octets. SETTINGS_MAX_HEADER_LIST_SIZE counts the
// same (RFC 9113 section 6.5.2).
inline uint64_t FieldSize(std::string_view name, std::string_view value) {
  return uint64_t{name.size()} + value.size() + kEntryOverhead;
}

// ---- Integers (section 5.1) -------------------------------------------------------------------

// Values are limited to 32 bits and encodings to a prefix octet plus 5 continuation octets
// (35 bits of room), so a decode loop never runs longer than that. Redundant zero continuation
// octets are accepted within that length, as the RFC allows.
inline constexpr size_t kMaxIntegerLength = 6;

enum class IntegerStatus : uint8_t { kOk, kTruncated, kOverflow };

// Writes `value` with an N-bit prefix (1 <= N <= 8) into out (room for kMaxIntegerLength);
// `flags` fills the bits of the first octet above the prefix. Returns the octets written.
size_t EncodeInteger(uint32_t value, int prefix_bits, uint8_t flags, char* out);

namespace internal {
IntegerStatus DecodeIntegerTail(const uint8_t** p, const uint8_t* end, uint32_t prefix_max,
                                uint32_t* value);
}  // namespace internal

// Reads an integer with an N-bit prefix at *p (the bits above it are the caller's) and moves
// *p past it. kTruncated: the input ends inside it; kOverflow: over 32 bits or too long.
inline IntegerStatus DecodeInteger(const uint8_t** p, const uint8_t* end, int prefix_bits,
                                   uint32_t* value) {
  if (*p == end) return IntegerStatus::kTruncated;
  const uint32_t prefix_max = (uint32_t{1} << prefix_bits) - 1;
  const uint32_t v = **p & prefix_max;
  if (v < prefix_max) {
    ++*p;
    *value = v;
    return IntegerStatus::kOk;
  }
  return internal::DecodeIntegerTail(p, end, prefix_max, value);
}

// ---- Static table (Appendix A) ----------------------------------------------------------------

struct StaticEntry {
  std::string_view name;
  std::string_view value;
};

// Entry `index`, 1..kStaticTableLength.
const StaticEntry& GetStaticEntry(size_t index);

struct StaticMatch {
  uint8_t name_index = 0;  // first entry with this name, 0 if none
  uint8_t full_index = 0;  // entry with this name and value, 0 if none
};

// Looks a field up in the static table (names compared exactly: HTTP/2 names are lowercase).
StaticMatch FindStatic(std::string_view name, std::string_view value);

// ---- Dynamic table (sections 2.3.2, 4) ---------------------------------------------------------

// Entries newest first; adding evicts the oldest until the new one fits; an entry larger than
// the maximum size empties the table (section 4.4). The octets live in one buffer of twice the
// maximum size, compacted when its end is reached (amortized O(1) per octet added), and the
// entry records in a ring: no allocation per entry. Buffers are allocated on the first Add.
class DynamicTable {
 public:
  explicit DynamicTable(uint32_t max_size = kDefaultTableSize) : max_size_(max_size) {}
  DynamicTable(const DynamicTable&) = delete;
  DynamicTable& operator=(const DynamicTable&) = delete;
  DynamicTable(DynamicTable&&) = default;
  DynamicTable& operator=(DynamicTable&&) = default;

  uint32_t size() const { return size_; }  // sum of FieldSize over the entries
  uint32_t max_size() const { return max_size_; }
  size_t count() const { return static_cast<size_t>(next_id_ - first_id_); }

  struct Entry {
    std::string_view name;
    std::string_view value;
  };
  // Entry i, 0 = newest (HPACK index kStaticTableLength + 1 + i); i < count(). The views stay
  // valid until the next Add or SetMaxSize.
  Entry Get(size_t i) const { return EntryById(next_id_ - 1 - i); }

  // Entries get consecutive ids in order of insertion; the live ones are
  // [first_id(), next_id()). Lets an encoder index entries without renumbering on eviction.
  uint64_t first_id() const { return first_id_; }
  uint64_t next_id() const { return next_id_; }
  Entry EntryById(uint64_t id) const;

  // Evicts from the oldest until size() <= max_size.
  void SetMaxSize(uint32_t max_size);
  // name and value may point into this table (a literal naming an entry that this insertion
  // evicts, section 4.4): they are copied out before anything moves.
  void Add(std::string_view name, std::string_view value);
  // Evicts every entry (what adding an entry larger than max_size() does).
  void Clear();

 private:
  struct Slot {
    uint64_t pos;  // position of the name in the stream of octets ever added
    uint32_t name_len;
    uint32_t value_len;
  };
  void EvictOldest();
  void Reserve(size_t bytes, size_t slots);
  bool Aliases(std::string_view s) const;

  uint32_t max_size_;
  uint32_t size_ = 0;
  uint64_t first_id_ = 0;
  uint64_t next_id_ = 0;
  // buf_[i] holds the octet at stream position base_ + i; live octets end at end_pos_.
  std::unique_ptr<char[]> buf_;
  size_t buf_cap_ = 0;
  uint64_t base_ = 0;
  uint64_t end_pos_ = 0;
  std::unique_ptr<Slot[]> slots_;  // ring indexed by id & slot_mask_
  uint64_t slot_mask_ = 0;
  std::string alias_copy_;  // scratch for a self-referencing Add
};

// ---- Decoder (sections 3, 6) -------------------------------------------------------------------

enum class DecodeStatus : uint8_t {
  kOk,
  // The decoded list exceeds max_header_list_size. A stream error: a server answers 431, a
  // client resets the stream. The whole block was still processed, so the dynamic table is in
  // step with the peer and the connection goes on. `fields` holds what came before the limit.
  kHeaderListTooLarge,
  // COMPRESSION_ERROR, a connection error (RFC 9113 section 4.3): a malformed block, an index
  // out of range, a table size update that is late, missing or above the limit, a bad Huffman
  // string, or a refused block whose table insertions copy far more than it carries (an HPACK
  // bomb, see Decode). The table is out of step; every later Decode fails too.
  kCompressionError,
};

struct DecodeResult {
  DecodeStatus status = DecodeStatus::kOk;
  const char* error = "";  // short static description for logs, "" on kOk
};

// Per-block storage for decoded strings that cannot be views into the block: Huffman-decoded
// ones and copies of dynamic-table entries (which a later field of the same block may evict).
// Chunks never move, so earlier views survive later reservations; the total is bounded by the
// list size limit. Kept across blocks up to a small size so steady state allocates nothing.
class BlockArena {
 public:
  // Contiguous room for n octets, valid until Commit; Commit(k) keeps the first k.
  char* Reserve(size_t n);
  void Commit(size_t k) { used_ += k; }
  void Reset();

 private:
  struct Chunk {
    std::unique_ptr<char[]> data;
    size_t cap;
  };
  std::vector<Chunk> chunks_;
  size_t cur_ = 0;
  size_t used_ = 0;
};

class Decoder {
 public:
  // max_table_size: the SETTINGS_HEADER_TABLE_SIZE we advertise (the table starts at it, and
  // a size update may not exceed it). max_header_list_size: SETTINGS_MAX_HEADER_LIST_SIZE as
  // we enforce it (we may advertise it or not; the check is ours either way).
  explicit Decoder(uint32_t max_table_size = kDefaultTableSize,
                   uint32_t max_header_list_size = 64 * 1024);
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;
  Decoder(Decoder&&) = default;
  Decoder& operator=(Decoder&&) = default;

  // A new SETTINGS_HEADER_TABLE_SIZE of ours, to call when the peer ACKs the SETTINGS frame
  // that carried it (blocks after the ACK were encoded knowing it). If it is below the
  // table's current maximum, the next block must start with a size update to at most it.
  void SetMaxTableSizeLimit(uint32_t limit);
  void SetMaxHeaderListSize(uint32_t limit) { max_list_size_ = limit; }

  // Decodes one complete header block into *fields (cleared first).
  // Lifetime of the views in *fields: names and values point into `block` (literals sent
  // without Huffman), into static storage, or into this decoder's per-block arena (Huffman
  // literals and copies of dynamic-table entries). They stay valid until the next Decode call
  // or the decoder's destruction, provided `block` itself stays alive. Nothing points into the
  // dynamic table.
  // Bounds: a string literal's length is checked against what is left of the block before
  // anything is read; a Huffman string is decoded only into the room the list limit (or, for a
  // refused field the table still needs, the table size) leaves, and otherwise only validated.
  // After the limit the block is still walked to keep the table in step, at O(1) per indexed
  // field and O(octets) per literal; table insertions of a refused block may copy at most
  // max_header_list_size + 4 tables + 32 octets per block octet, past which the block is a
  // COMPRESSION_ERROR (a legitimate encoder never comes close).
  DecodeResult Decode(std::string_view block, std::vector<HeaderField>* fields);

  // Processes a block only for its effect on the dynamic table, for one the caller refuses
  // before looking at it (a stream already reset, or refused for concurrency): RFC 9113
  // section 4.3 still requires it. Nothing is output or kept; kOk or kCompressionError.
  DecodeResult Discard(std::string_view block);

  const DynamicTable& table() const { return table_; }
  uint32_t max_table_size_limit() const { return table_limit_; }

 private:
  struct BlockState;
  bool StartField(BlockState& st);
  DecodeResult DecodeIndexed(BlockState& st);
  DecodeResult DecodeSizeUpdate(BlockState& st);
  DecodeResult DecodeLiteral(BlockState& st, int prefix_bits, bool indexing, bool never);
  char* Scratch();

  DynamicTable table_;
  uint32_t table_limit_;
  uint32_t max_list_size_;
  bool broken_ = false;
  BlockArena arena_;
  // Holds strings of a refused block that the table needs (at most one entry's worth).
  std::unique_ptr<char[]> scratch_;
  size_t scratch_cap_ = 0;
};

// ---- Encoder (sections 6, 7.1) -----------------------------------------------------------------

struct EncoderOptions {
  // Our own cap on the table, whatever the peer allows: the memory we spend on it.
  uint32_t max_table_size = kDefaultTableSize;
  // Huffman-code a string when that is shorter (off: every literal raw; for tests and tools).
  bool huffman = true;
};

// Representation choices, in order: a field marked never_indexed or sensitive (below) is a
// literal never indexed, with its name indexed when the name is in a table; otherwise a full
// match in the static, then the dynamic table is one indexed octet (two past index 127); else a
// literal with the name indexed if possible, with incremental indexing unless the policy says
// the field is not worth a table slot. Literals are Huffman-coded when that is shorter.
//
// Policy, as nghttp2 does it (lib/nghttp2_hd.c), written here for ringway:
//  - never indexed: authorization and proxy-authorization (credentials), and cookie values
//    shorter than 20 octets. Short cookies have little entropy, so an attacker who can add
//    fields to the same connection could find one by watching sizes shrink on a table hit
//    (the CRIME family, RFC 7541 section 7.1.2); long cookies are random enough and repeated on
//    every browser request, so indexing them pays. never_indexed also travels to the next hop.
//  - without indexing: :path, age, content-length, etag, if-modified-since, if-none-match,
//    location, set-cookie (values that rarely repeat on a connection: they would only push
//    useful entries out), and any field bigger than 3/4 of the table (it would empty it).
class Encoder {
 public:
  explicit Encoder(const EncoderOptions& options = {});
  Encoder(const Encoder&) = delete;
  Encoder& operator=(const Encoder&) = delete;
  Encoder(Encoder&&) = default;
  Encoder& operator=(Encoder&&) = default;

  // The peer's SETTINGS_HEADER_TABLE_SIZE, on each SETTINGS frame that carries one. The table
  // becomes min(peer, options.max_table_size); the next block starts with the size update(s)
  // the decoder needs (the smallest value reached since the last block, then the final one,
  // section 4.2).
  void SetPeerMaxTableSize(uint32_t peer_max);

  // Appends the header block for `fields`, in order, to *out. Names are taken as given: HTTP/2
  // wants them lowercase, and the policy above matches them exactly. Strings under 4 GiB.
  void Encode(std::span<const HeaderField> fields, std::string* out);

  const DynamicTable& table() const { return table_; }

 private:
  struct IndexSlot {
    uint64_t next_full;  // id + 1 of the next older entry in the same bucket, 0 at the end
    uint64_t next_name;
    uint32_t full_hash;  // low bits of the hashes, to skip most string comparisons
    uint32_t name_hash;
  };
  char* EncodeField(const HeaderField& f, char* o);
  char* EmitString(std::string_view s, char* o) const;
  // Newest live entry matching (name, value), as its HPACK index, or 0; *name_index gets the
  // newest entry with that name (when want_name), or 0.
  uint32_t FindDynamic(std::string_view name, std::string_view value, uint64_t full_hash,
                       uint64_t name_hash, bool want_full, bool want_name,
                       uint32_t* name_index) const;
  void AddToTable(std::string_view name, std::string_view value, uint64_t full_hash,
                  uint64_t name_hash);

  EncoderOptions options_;
  DynamicTable table_;
  // table_.max_size() is what the peer's decoder was last told (at first the protocol's 4096).
  // A change waits for the next block: the smallest size since the last block, and the target.
  bool update_pending_ = false;
  uint32_t pending_min_ = 0;
  uint32_t target_size_ = kDefaultTableSize;
  // Hash index over the dynamic table: buckets hold id + 1 of the newest entry, chains run
  // to older ones, and ids below table_.first_id() are evicted, so eviction needs no unlinking.
  std::vector<uint64_t> full_buckets_;
  std::vector<uint64_t> name_buckets_;
  std::vector<IndexSlot> index_;  // ring by id & (index_.size() - 1)
};

}  // namespace ringway::hpack

#endif  // RINGWAY_PROTO_HPACK_H_
