// Micro-benchmarks for the HTTP/1.1 codec: head parsing and chunked decoding, in bytes/s.
#include <benchmark/benchmark.h>

#include <string>

#include "proto/http1_chunked.h"
#include "proto/http1_parser.h"

namespace {

using ringway::http1::ChunkedDecoder;
using ringway::http1::Field;
using ringway::http1::ParseLimits;
using ringway::http1::ParseStatus;

const std::string kCurlRequest =
    "GET /api/v1/items?id=12345 HTTP/1.1\r\n"
    "Host: api.example.com\r\n"
    "User-Agent: curl/8.5.0\r\n"
    "Accept: */*\r\n"
    "\r\n";

// About 300 bytes: the size the parser's latency target is stated for.
const std::string kTypicalRequest =
    "GET /api/v1/users/12345/profile?fields=name,email HTTP/1.1\r\n"
    "Host: api.example.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0\r\n"
    "Accept: application/json\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Connection: keep-alive\r\n"
    "\r\n";

const std::string kBrowserRequest =
    "GET /static/js/app.4f3c2a1b.js HTTP/1.1\r\n"
    "Host: www.example.com\r\n"
    "Connection: keep-alive\r\n"
    "sec-ch-ua: \"Chromium\";v=\"124\", \"Google Chrome\";v=\"124\", \"Not-A.Brand\";v=\"99\"\r\n"
    "sec-ch-ua-mobile: ?0\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36\r\n"
    "sec-ch-ua-platform: \"Linux\"\r\n"
    "Accept: */*\r\n"
    "Sec-Fetch-Site: same-origin\r\n"
    "Sec-Fetch-Mode: no-cors\r\n"
    "Sec-Fetch-Dest: script\r\n"
    "Referer: https://www.example.com/products/catalog?page=2&sort=price\r\n"
    "Accept-Encoding: gzip, deflate, br, zstd\r\n"
    "Accept-Language: en-US,en;q=0.9,de;q=0.8\r\n"
    "Cookie: session=8f14e45fceea167a5a36dedd4bea2543; theme=dark; "
    "_ga=GA1.2.1234567890.1700000000\r\n"
    "If-None-Match: \"5d41402abc4b2a76b9719d911017c592\"\r\n"
    "\r\n";

const std::string kResponse =
    "HTTP/1.1 200 OK\r\n"
    "Date: Mon, 27 May 2024 10:00:00 GMT\r\n"
    "Server: nginx/1.25.4\r\n"
    "Content-Type: application/json; charset=utf-8\r\n"
    "Content-Length: 1234\r\n"
    "Connection: keep-alive\r\n"
    "Cache-Control: no-cache, private\r\n"
    "ETag: \"5d41402abc4b2a76b9719d911017c592\"\r\n"
    "Vary: Accept-Encoding\r\n"
    "\r\n";

void BM_ParseRequest(benchmark::State& state, const std::string* in) {
  Field fields[100];
  ringway::http1::RequestHead head;
  const ParseLimits limits;
  for (auto _ : state) {
    auto r = ringway::http1::ParseRequest(*in, limits, fields, &head);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(head);
    if (r.status != ParseStatus::kComplete) state.SkipWithError("parse failed");
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * in->size()));
  state.counters["head_bytes"] = static_cast<double>(in->size());
}
BENCHMARK_CAPTURE(BM_ParseRequest, curl, &kCurlRequest);
BENCHMARK_CAPTURE(BM_ParseRequest, typical300, &kTypicalRequest);
BENCHMARK_CAPTURE(BM_ParseRequest, browser, &kBrowserRequest);

void BM_ParseResponse(benchmark::State& state) {
  Field fields[100];
  ringway::http1::ResponseHead head;
  const ParseLimits limits;
  for (auto _ : state) {
    auto r = ringway::http1::ParseResponse(kResponse, limits, fields, &head);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(head);
    if (r.status != ParseStatus::kComplete) state.SkipWithError("parse failed");
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kResponse.size()));
  state.counters["head_bytes"] = static_cast<double>(kResponse.size());
}
BENCHMARK(BM_ParseResponse);

// A 64 KiB body sent as 16 chunks of 4 KiB, fed to the decoder in one buffer.
std::string MakeChunkedBody() {
  std::string body;
  for (int i = 0; i < 16; ++i) {
    body += "1000\r\n";
    body.append(4096, static_cast<char>('a' + i));
    body += "\r\n";
  }
  body += "0\r\n\r\n";
  return body;
}

void BM_ChunkedDecode64K(benchmark::State& state) {
  const std::string body = MakeChunkedBody();
  size_t data = 0;
  for (auto _ : state) {
    ChunkedDecoder dec;
    data = 0;
    auto r = dec.Feed(body, [&](std::string_view d) { data += d.size(); });
    benchmark::DoNotOptimize(r);
    if (!r.done || data != 65536) state.SkipWithError("decode failed");
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_ChunkedDecode64K);

// The same body arriving as 1500-byte segments, as it would off the network.
void BM_ChunkedDecode64KSegmented(benchmark::State& state) {
  const std::string body = MakeChunkedBody();
  const std::string_view view(body);
  for (auto _ : state) {
    ChunkedDecoder dec;
    size_t data = 0;
    for (size_t pos = 0; pos < view.size(); pos += 1500) {
      auto r = dec.Feed(view.substr(pos, 1500), [&](std::string_view d) { data += d.size(); });
      benchmark::DoNotOptimize(r);
    }
    if (!dec.done() || data != 65536) state.SkipWithError("decode failed");
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_ChunkedDecode64KSegmented);

}  // namespace
