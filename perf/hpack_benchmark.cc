// Micro-benchmarks for HPACK: decoding and encoding a browser request head and a typical
// response head, the first on a connection (empty tables) and a repeat (entries indexed), in
// ns per block; and Huffman coding of a long value, in bytes/s.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "proto/hpack.h"
#include "proto/hpack_huffman.h"

namespace {

using ringway::hpack::Decoder;
using ringway::hpack::DecodeStatus;
using ringway::hpack::Encoder;
using ringway::hpack::HeaderField;

// What Chrome sends for a sub-resource of a page it already has cookies for.
const std::vector<HeaderField> kRequest = {
    {":method", "GET"},
    {":authority", "www.example.com"},
    {":scheme", "https"},
    {":path", "/static/js/app.4f3c2a1b.js"},
    {"sec-ch-ua", "\"Chromium\";v=\"124\", \"Google Chrome\";v=\"124\", \"Not-A.Brand\";v=\"99\""},
    {"sec-ch-ua-mobile", "?0"},
    {"user-agent",
     "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 "
     "Safari/537.36"},
    {"sec-ch-ua-platform", "\"Linux\""},
    {"accept", "*/*"},
    {"sec-fetch-site", "same-origin"},
    {"sec-fetch-mode", "no-cors"},
    {"sec-fetch-dest", "script"},
    {"referer", "https://www.example.com/products/catalog?page=2&sort=price"},
    {"accept-encoding", "gzip, deflate, br, zstd"},
    {"accept-language", "en-US,en;q=0.9,de;q=0.8"},
    {"cookie",
     "session=8f14e45fceea167a5a36dedd4bea2543; theme=dark; _ga=GA1.2.1234567890.1700000000"},
    {"if-none-match", "\"5d41402abc4b2a76b9719d911017c592\""},
};

const std::vector<HeaderField> kResponse = {
    {":status", "200"},
    {"date", "Mon, 27 May 2024 10:00:00 GMT"},
    {"server", "nginx/1.25.4"},
    {"content-type", "application/json; charset=utf-8"},
    {"content-length", "1234"},
    {"cache-control", "no-cache, private"},
    {"vary", "Accept-Encoding"},
    {"etag", "\"5d41402abc4b2a76b9719d911017c592\""},
    {"strict-transport-security", "max-age=31536000"},
};

// The first and the second block an encoder makes for `fields` on one connection.
struct Blocks {
  std::string first;
  std::string repeat;
};

Blocks MakeBlocks(const std::vector<HeaderField>& fields) {
  Encoder enc;
  Blocks b;
  enc.Encode(fields, &b.first);
  enc.Encode(fields, &b.repeat);
  return b;
}

void DecodeFirst(benchmark::State& state, const std::vector<HeaderField>& fields) {
  const Blocks blocks = MakeBlocks(fields);
  std::vector<HeaderField> out;
  out.reserve(64);
  for (auto _ : state) {
    Decoder dec;  // a new connection: empty table, nothing allocated yet
    if (dec.Decode(blocks.first, &out).status != DecodeStatus::kOk) state.SkipWithError("decode");
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["block_bytes"] = static_cast<double>(blocks.first.size());
}

void DecodeRepeat(benchmark::State& state, const std::vector<HeaderField>& fields) {
  const Blocks blocks = MakeBlocks(fields);
  Decoder dec;
  std::vector<HeaderField> out;
  if (dec.Decode(blocks.first, &out).status != DecodeStatus::kOk) state.SkipWithError("decode");
  for (auto _ : state) {
    if (dec.Decode(blocks.repeat, &out).status != DecodeStatus::kOk) state.SkipWithError("decode");
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["block_bytes"] = static_cast<double>(blocks.repeat.size());
}

void EncodeFirst(benchmark::State& state, const std::vector<HeaderField>& fields) {
  std::string out;
  for (auto _ : state) {
    Encoder enc;
    out.clear();
    enc.Encode(fields, &out);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["block_bytes"] = static_cast<double>(out.size());
}

void EncodeRepeat(benchmark::State& state, const std::vector<HeaderField>& fields) {
  Encoder enc;
  std::string out;
  enc.Encode(fields, &out);
  for (auto _ : state) {
    out.clear();
    enc.Encode(fields, &out);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["block_bytes"] = static_cast<double>(out.size());
}

void BM_HpackDecodeRequestFirst(benchmark::State& s) { DecodeFirst(s, kRequest); }
void BM_HpackDecodeRequestRepeat(benchmark::State& s) { DecodeRepeat(s, kRequest); }
void BM_HpackDecodeResponseFirst(benchmark::State& s) { DecodeFirst(s, kResponse); }
void BM_HpackDecodeResponseRepeat(benchmark::State& s) { DecodeRepeat(s, kResponse); }
void BM_HpackEncodeRequestFirst(benchmark::State& s) { EncodeFirst(s, kRequest); }
void BM_HpackEncodeRequestRepeat(benchmark::State& s) { EncodeRepeat(s, kRequest); }
void BM_HpackEncodeResponseFirst(benchmark::State& s) { EncodeFirst(s, kResponse); }
void BM_HpackEncodeResponseRepeat(benchmark::State& s) { EncodeRepeat(s, kResponse); }
BENCHMARK(BM_HpackDecodeRequestFirst);
BENCHMARK(BM_HpackDecodeRequestRepeat);
BENCHMARK(BM_HpackDecodeResponseFirst);
BENCHMARK(BM_HpackDecodeResponseRepeat);
BENCHMARK(BM_HpackEncodeRequestFirst);
BENCHMARK(BM_HpackEncodeRequestRepeat);
BENCHMARK(BM_HpackEncodeResponseFirst);
BENCHMARK(BM_HpackEncodeResponseRepeat);

// Huffman throughput on the user-agent value (plain text: every code from the one-look-up table).
void BM_HuffmanDecode(benchmark::State& state) {
  const std::string_view plain = kRequest[6].value;
  std::string enc;
  ringway::hpack::HuffmanEncode(plain, &enc);
  std::string out(ringway::hpack::HuffmanMaxDecodedLength(enc.size()), '\0');
  for (auto _ : state) {
    size_t n = 0;
    benchmark::DoNotOptimize(ringway::hpack::HuffmanDecode(enc, out.data(), out.size(), &n));
    benchmark::DoNotOptimize(n);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * plain.size()));
}
BENCHMARK(BM_HuffmanDecode);

void BM_HuffmanEncode(benchmark::State& state) {
  const std::string_view plain = kRequest[6].value;
  std::string out(plain.size() * 4, '\0');
  for (auto _ : state) {
    benchmark::DoNotOptimize(ringway::hpack::HuffmanEncode(plain, out.data()));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * plain.size()));
}
BENCHMARK(BM_HuffmanEncode);

}  // namespace
