// Fuzz target for ParseResponse and WriteResponseHead. Invariants checked (abort on violation):
//  - consumed <= size; every view lies inside the consumed head
//  - a prefix that completes or fails gives the same completion / a failure on the whole input
//  - the head written downstream parses again, with the body framing the flags call for
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "proto/http1_parser.h"
#include "proto/http1_writer.h"

namespace {

using ringway::http1::BodyKind;
using ringway::http1::Field;
using ringway::http1::ParseLimits;
using ringway::http1::ParseResponse;
using ringway::http1::ParseResult;
using ringway::http1::ParseStatus;
using ringway::http1::ResponseHead;

void Check(bool ok) {
  if (!ok) std::abort();
}

bool Inside(std::string_view v, std::string_view in, size_t consumed) {
  return v.empty() || (v.data() >= in.data() && v.data() + v.size() <= in.data() + consumed);
}

void CheckHead(std::string_view in, const ParseLimits& lim, const ParseResult& r,
               const ResponseHead& h) {
  Check(r.consumed <= in.size());
  if (r.status == ParseStatus::kError) {
    Check(r.error_status == 502);
    return;
  }
  if (r.status != ParseStatus::kComplete) {
    Check(r.consumed == 0);
    return;
  }
  Check(r.consumed <= lim.max_head);
  Check(h.status >= 100 && h.status <= 999);
  Check(h.version_minor <= 1);
  Check(Inside(h.reason, in, r.consumed));
  Check(h.fields.size() <= lim.max_fields);
  for (const Field& f : h.fields) {
    Check(!f.name.empty() && Inside(f.name, in, r.consumed) && Inside(f.value, in, r.consumed));
    for (char c : f.value) Check(c != '\r' && c != '\n' && c != '\0');
  }
  const BodyKind b = ringway::http1::ResponseBody(h, false);
  Check(ringway::http1::ResponseBody(h, true) == BodyKind::kNone);
  if (h.status < 200 || h.status == 204 || h.status == 304) Check(b == BodyKind::kNone);
  if (b == BodyKind::kContentLength) Check(h.framing.content_length > 0);
}

void RunOne(std::string_view in, const ParseLimits& lim, size_t cut, uint8_t flags) {
  Field fields[128];
  ResponseHead h;
  const ParseResult r = ParseResponse(in, lim, std::span<Field>(fields, lim.max_fields), &h);
  CheckHead(in, lim, r, h);

  Field pfields[128];
  ResponseHead ph;
  const std::string_view prefix = in.substr(0, cut);
  const ParseResult pr = ParseResponse(prefix, lim, std::span<Field>(pfields, lim.max_fields), &ph);
  CheckHead(prefix, lim, pr, ph);
  if (pr.status == ParseStatus::kComplete) {
    Check(r.status == ParseStatus::kComplete && r.consumed == pr.consumed);
    Check(ph.status == h.status && ph.framing.body == h.framing.body);
  }
  if (pr.status == ParseStatus::kError) Check(r.status == ParseStatus::kError);

  if (r.status != ParseStatus::kComplete) return;

  const bool keep_alive = flags & 1;
  const bool http10 = flags & 2;
  const bool dechunk = (flags & 4) && h.framing.body == BodyKind::kChunked;
  std::string out;
  ringway::http1::WriteResponseHead(h, keep_alive, http10, dechunk, &out);
  Field ofields[256];
  ResponseHead oh;
  ParseLimits big;
  big.max_request_line = 1 << 20;
  big.max_head = 1 << 22;
  big.max_fields = 256;
  const ParseResult orr = ParseResponse(out, big, ofields, &oh);
  Check(orr.status == ParseStatus::kComplete);
  Check(orr.consumed == out.size());
  Check(oh.status == h.status);
  if (dechunk) {
    Check(oh.framing.body == BodyKind::kUntilClose);
    Check(!oh.framing.keep_alive);
  } else {
    Check(oh.framing.body == h.framing.body);
    Check(oh.framing.content_length == h.framing.content_length);
  }
  if (h.status >= 200) Check(oh.framing.keep_alive == (keep_alive && !dechunk));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t cut = size == 0 ? 0 : (data[size - 1] * 257u + size / 3) % (size + 1);
  const uint8_t flags = size == 0 ? 0 : data[size / 2];
  RunOne(in, ParseLimits{}, cut, flags);
  ParseLimits small;
  small.max_request_line = 40;
  small.max_head = 150;
  small.max_fields = 5;
  RunOne(in, small, cut, static_cast<uint8_t>(flags >> 3));
  return 0;
}
