// Fuzz target for the HPACK decoder, encoder and Huffman code. Input: one configuration octet,
// then header blocks, each as a 2-octet big-endian length and that many octets (the last one
// takes what is left), all decoded in turn on one connection so that table state matters.
// Configuration: bits 0-1 the decoder's table size limit (4096, 256, 0, 65536), bits 2-3 its
// list size limit (65536, 4096, 300, 40), bit 4 Huffman for the re-encoders, bits 5-7 how the
// encoder's peer table size moves. Invariants checked (abort on violation):
//  - a decoder with a huge list limit fed the same blocks has the same table after every block,
//    the same compression errors, and the same output wherever the limited one accepts; where
//    the limited one refuses, its output is a prefix of the other's and within its limit
//  - Decoder::Discard on the same blocks keeps the same table too
//  - names with a static_index are that static entry's name
//  - the decoded list, re-encoded by a fresh Encoder and decoded by a fresh Decoder, comes back
//    the same (never_indexed included, as the encoder's policy sets it); and so it does through
//    a long-lived encoder/decoder pair whose table size changes, which keep identical tables
//  - HuffmanDecode and HuffmanCheck agree on every block, and every value round-trips
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "proto/hpack.h"
#include "proto/hpack_huffman.h"

namespace {

using ringway::hpack::Decoder;
using ringway::hpack::DecodeResult;
using ringway::hpack::DecodeStatus;
using ringway::hpack::DynamicTable;
using ringway::hpack::Encoder;
using ringway::hpack::FieldSize;
using ringway::hpack::HeaderField;
using ringway::hpack::HuffmanStatus;

void Check(bool ok) {
  if (!ok) std::abort();
}

bool SameTable(const DynamicTable& a, const DynamicTable& b) {
  if (a.count() != b.count() || a.size() != b.size() || a.max_size() != b.max_size()) return false;
  for (size_t i = 0; i < a.count(); ++i) {
    if (a.Get(i).name != b.Get(i).name || a.Get(i).value != b.Get(i).value) return false;
  }
  return true;
}

bool Sensitive(const HeaderField& f) {
  return f.name == "authorization" || f.name == "proxy-authorization" ||
         (f.name == "cookie" && f.value.size() < 20);
}

// `got` is what a decoder returned for `sent` as the Encoder encoded it.
bool SameAsSent(const std::vector<HeaderField>& sent, const std::vector<HeaderField>& got) {
  if (sent.size() != got.size()) return false;
  for (size_t i = 0; i < sent.size(); ++i) {
    if (sent[i].name != got[i].name || sent[i].value != got[i].value) return false;
    if (got[i].never_indexed != (sent[i].never_indexed || Sensitive(sent[i]))) return false;
  }
  return true;
}

void CheckHuffman(std::string_view block) {
  std::string out(ringway::hpack::HuffmanMaxDecodedLength(block.size()), '\0');
  size_t n = 0;
  size_t m = 0;
  const HuffmanStatus s = ringway::hpack::HuffmanDecode(block, out.data(), out.size(), &n);
  Check(s != HuffmanStatus::kOverflow);
  Check(ringway::hpack::HuffmanCheck(block, &m) == s);
  if (s != HuffmanStatus::kOk) return;
  Check(n == m);
  std::string again;
  ringway::hpack::HuffmanEncode(std::string_view(out.data(), n), &again);
  // Codes are prefix-free and valid padding is fewer than 8 ones: one encoding per string.
  Check(again == block);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t config = data[0];
  constexpr uint32_t kTableLimits[] = {4096, 256, 0, 65536};
  constexpr uint32_t kListLimits[] = {65536, 4096, 300, 40};
  constexpr uint32_t kPeerSizes[] = {4096, 0, 100, 256, 1024, 8192, 65536, 4096};
  const uint32_t table_limit = kTableLimits[config & 3];
  const uint32_t list_limit = kListLimits[(config >> 2) & 3];
  const bool huffman = (config & 0x10) != 0;

  Decoder limited(table_limit, list_limit);
  Decoder unlimited(table_limit, 1 << 20);
  Decoder discarder(table_limit, list_limit);
  Encoder pair_enc({.max_table_size = 4096, .huffman = huffman});
  Decoder pair_dec(4096, 1 << 30);
  std::vector<HeaderField> a;
  std::vector<HeaderField> b;
  std::vector<HeaderField> c;

  size_t pos = 1;
  for (int block_no = 0; pos < size; ++block_no) {
    size_t len = size - pos;
    if (len >= 2) {
      len = std::min<size_t>(size_t{data[pos]} << 8 | data[pos + 1], size - pos - 2);
      pos += 2;
    } else {
      pos = size - len;
    }
    const std::string_view block(reinterpret_cast<const char*>(data + pos), len);
    pos += len;
    CheckHuffman(block);

    const DecodeResult ra = limited.Decode(block, &a);
    const DecodeResult rb = unlimited.Decode(block, &b);
    const DecodeResult rd = discarder.Discard(block);
    Check(rd.status != DecodeStatus::kHeaderListTooLarge);
    if (rd.status == DecodeStatus::kCompressionError &&
        std::strcmp(rd.error, "HPACK: block copies too much into the table") != 0) {
      Check(rb.status == DecodeStatus::kCompressionError && std::strcmp(rd.error, rb.error) == 0);
    }
    if (rb.status == DecodeStatus::kCompressionError) {
      Check(rd.status == DecodeStatus::kCompressionError);
    }
    if (rb.status == DecodeStatus::kCompressionError) {
      Check(ra.status == DecodeStatus::kCompressionError);
    }
    if (ra.status == DecodeStatus::kCompressionError) {
      // The limited decoder may give up earlier only on its smaller copy budget.
      if (std::strcmp(ra.error, "HPACK: block copies too much into the table") != 0) {
        Check(rb.status == DecodeStatus::kCompressionError);
        Check(std::strcmp(ra.error, rb.error) == 0);
      }
      Check(a.empty());
      return 0;  // the connection is over
    }
    if (rb.status == DecodeStatus::kCompressionError) return 0;
    if (rd.status == DecodeStatus::kCompressionError) return 0;
    Check(SameTable(limited.table(), unlimited.table()));
    Check(SameTable(discarder.table(), unlimited.table()));
    Check(limited.table().max_size() <= table_limit);

    uint64_t list = 0;
    for (const HeaderField& f : a) {
      list += FieldSize(f.name, f.value);
      if (f.static_index != 0) {
        Check(f.static_index <= ringway::hpack::kStaticTableLength);
        Check(f.name == ringway::hpack::GetStaticEntry(f.static_index).name);
      }
    }
    Check(list <= list_limit);
    if (rb.status == DecodeStatus::kOk) {
      Check(a.size() <= b.size());
      for (size_t i = 0; i < a.size(); ++i) {
        Check(a[i].name == b[i].name && a[i].value == b[i].value);
        Check(a[i].never_indexed == b[i].never_indexed && a[i].static_index == b[i].static_index);
      }
      if (ra.status == DecodeStatus::kOk) {
        Check(a.size() == b.size());
      } else {
        uint64_t full = 0;
        for (const HeaderField& f : b) full += FieldSize(f.name, f.value);
        Check(full > list_limit);
      }
    }
    if (rb.status != DecodeStatus::kOk) continue;

    for (const HeaderField& f : b) {
      std::string h;
      ringway::hpack::HuffmanEncode(f.value, &h);
      std::string back(ringway::hpack::HuffmanMaxDecodedLength(h.size()), '\0');
      size_t n = 0;
      Check(ringway::hpack::HuffmanDecode(h, back.data(), back.size(), &n) == HuffmanStatus::kOk);
      Check(std::string_view(back.data(), n) == f.value);
    }

    // A fresh pair.
    {
      Encoder enc({.max_table_size = 4096, .huffman = huffman});
      Decoder dec(4096, 1 << 30);
      std::string wire;
      enc.Encode(b, &wire);
      Check(dec.Decode(wire, &c).status == DecodeStatus::kOk);
      Check(SameAsSent(b, c));
      Check(SameTable(enc.table(), dec.table()));
    }

    // The long-lived pair, with the table size moving as the configuration says.
    const unsigned moves = config >> 5;
    if (moves != 0 && block_no % (moves + 1) == 0) {
      const uint32_t peer = kPeerSizes[(block_no + moves) % 8];
      pair_dec.SetMaxTableSizeLimit(peer);
      pair_enc.SetPeerMaxTableSize(peer);
    }
    std::string wire;
    pair_enc.Encode(b, &wire);
    const DecodeResult rc = pair_dec.Decode(wire, &c);
    Check(rc.status == DecodeStatus::kOk);
    Check(SameAsSent(b, c));
    Check(SameTable(pair_enc.table(), pair_dec.table()));
  }
  return 0;
}
