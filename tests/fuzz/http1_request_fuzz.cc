// Fuzz target for ParseRequest and WriteRequestHead. Invariants checked (abort on violation):
//  - consumed <= size; every view lies inside the consumed head; fields are well formed
//  - a prefix that completes or fails gives the same completion / a failure on the whole input
//  - the forwarded head parses again with the same body framing (no desync with the next hop)
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
using ringway::http1::ParseRequest;
using ringway::http1::ParseResult;
using ringway::http1::ParseStatus;
using ringway::http1::RequestHead;

void Check(bool ok) {
  if (!ok) std::abort();
}

bool Inside(std::string_view v, std::string_view in, size_t consumed) {
  return v.data() >= in.data() && v.data() + v.size() <= in.data() + consumed;
}

bool IsTchar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

void CheckHead(std::string_view in, const ParseLimits& lim, const ParseResult& r,
               const RequestHead& h) {
  Check(r.consumed <= in.size());
  if (r.status == ParseStatus::kError) {
    Check(r.error_status == 400 || r.error_status == 414 || r.error_status == 431 ||
          r.error_status == 501);
    return;
  }
  if (r.status != ParseStatus::kComplete) {
    Check(r.consumed == 0);
    return;
  }
  Check(r.consumed <= lim.max_head);
  Check(!h.method.empty() && Inside(h.method, in, r.consumed));
  Check(!h.target.empty() && Inside(h.target, in, r.consumed));
  Check(h.method.size() + h.target.size() + 10 <= lim.max_request_line);
  Check(h.version_minor <= 1);
  Check(h.fields.size() <= lim.max_fields);
  for (const Field& f : h.fields) {
    Check(!f.name.empty() && Inside(f.name, in, r.consumed));
    Check(Inside(f.value, in, r.consumed) || f.value.empty());
    for (char c : f.name) Check(IsTchar(c));
    for (char c : f.value) {
      const auto u = static_cast<unsigned char>(c);
      Check(u == '\t' || (u >= 0x20 && u != 0x7f));
    }
    if (!f.value.empty()) {
      Check(f.value.front() != ' ' && f.value.front() != '\t');
      Check(f.value.back() != ' ' && f.value.back() != '\t');
    }
  }
  const auto& fr = h.framing;
  if (fr.body == BodyKind::kContentLength) Check(fr.content_length > 0);
  Check(fr.body != BodyKind::kUntilClose);
  if (h.version_minor == 1) Check(Inside(fr.host, in, r.consumed) || fr.host.empty());
  if (h.version_minor == 0)
    Check(!fr.upgrade && !fr.expect_continue && fr.body != BodyKind::kChunked);
}

void RunOne(std::string_view in, const ParseLimits& lim, size_t cut) {
  Field fields[128];
  RequestHead h;
  const ParseResult r = ParseRequest(in, lim, std::span<Field>(fields, lim.max_fields), &h);
  CheckHead(in, lim, r, h);

  // Prefix consistency.
  Field pfields[128];
  RequestHead ph;
  const std::string_view prefix = in.substr(0, cut);
  const ParseResult pr = ParseRequest(prefix, lim, std::span<Field>(pfields, lim.max_fields), &ph);
  CheckHead(prefix, lim, pr, ph);
  if (pr.status == ParseStatus::kComplete) {
    Check(r.status == ParseStatus::kComplete && r.consumed == pr.consumed);
    Check(ph.fields.size() == h.fields.size());
    Check(ph.framing.body == h.framing.body);
  }
  if (pr.status == ParseStatus::kError) Check(r.status == ParseStatus::kError);

  if (r.status != ParseStatus::kComplete) return;

  // Forwarding must not change how the next hop frames the body.
  std::string out;
  ringway::http1::WriteRequestHead(h, {"192.0.2.1", "https"}, &out);
  Field ofields[256];
  RequestHead oh;
  ParseLimits big;
  big.max_request_line = 1 << 20;
  big.max_head = 1 << 22;
  big.max_fields = 256;
  const ParseResult orr = ParseRequest(out, big, ofields, &oh);
  bool has_host = false;
  for (const Field& f : h.fields) {
    if (ringway::http1::EqualsIgnoreCase(f.name, "host")) has_host = true;
  }
  if (!has_host) {
    // The upstream request is HTTP/1.1, which needs a Host; the glue supplies one.
    Check(orr.status == ParseStatus::kError && orr.error_status == 400);
    return;
  }
  Check(orr.status == ParseStatus::kComplete);
  Check(orr.consumed == out.size());
  Check(oh.method == h.method && oh.target == h.target);
  Check(oh.framing.body == h.framing.body);
  Check(oh.framing.content_length == h.framing.content_length);
  Check(oh.framing.upgrade == h.framing.upgrade);
  Check(oh.framing.keep_alive);
  Check(oh.framing.host == h.framing.host);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t cut = size == 0 ? 0 : (data[0] * 131u + size / 2) % (size + 1);
  RunOne(in, ParseLimits{}, cut);
  ParseLimits small;
  small.max_request_line = 48;
  small.max_head = 160;
  small.max_fields = 6;
  RunOne(in, small, cut);
  return 0;
}
