// Fuzz target for ParseRequest and WriteRequestHead. Invariants checked (abort on violation):
//  - consumed <= size; every view lies inside the consumed head; fields are well formed
//  - the target's form matches its shape and the method (origin-form starts with '/',
//    absolute-form has an http(s) scheme, a non-empty authority without '@' and an origin that
//    ends the target, authority-form only with CONNECT, "*" only with OPTIONS, no '#')
//  - a prefix that completes or fails gives the same completion / a failure on the whole input
//  - the forwarded head parses again with the same body framing (no desync with the next hop),
//    in origin-form with Host from the authority when the target was absolute-form, and
//    without '_' field names unless they are passed
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
using ringway::http1::TargetForm;

void Check(bool ok) {
  if (!ok) std::abort();
}

bool Inside(std::string_view v, std::string_view in, size_t consumed) {
  return v.data() >= in.data() && v.data() + v.size() <= in.data() + consumed;
}

bool StartsWithIgnoreCase(std::string_view s, std::string_view lower_prefix) {
  return s.size() >= lower_prefix.size() &&
         ringway::http1::EqualsIgnoreCase(s.substr(0, lower_prefix.size()), lower_prefix);
}

bool IsTchar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

void CheckTarget(std::string_view in, const ParseResult& r, const RequestHead& h) {
  const std::string_view t = h.target;
  Check(t.find('#') == std::string_view::npos);
  Check(Inside(h.origin, in, r.consumed));
  Check(h.origin.data() >= t.data() && h.origin.data() + h.origin.size() <= t.data() + t.size());
  Check((h.method == "CONNECT") == (h.form == TargetForm::kAuthority));
  switch (h.form) {
    case TargetForm::kOrigin:
      Check(t[0] == '/');
      Check(h.authority.empty() && h.origin.data() == t.data() && h.origin.size() == t.size());
      break;
    case TargetForm::kAsterisk:
      Check(t == "*" && h.method == "OPTIONS");
      Check(h.authority.empty() && h.origin == "*");
      break;
    case TargetForm::kAuthority:
      Check(h.authority.empty() && h.origin.data() == t.data() && h.origin.size() == t.size());
      Check(t.find(':') != std::string_view::npos &&
            t.find_first_of("/?@") == std::string_view::npos);
      break;
    case TargetForm::kAbsolute: {
      Check(StartsWithIgnoreCase(t, "http://") || StartsWithIgnoreCase(t, "https://"));
      Check(!h.authority.empty() && Inside(h.authority, in, r.consumed));
      // scheme "://" authority origin, with nothing between or after them
      Check(h.authority.data() == t.data() + t.find("://") + 3);
      Check(h.origin.data() == h.authority.data() + h.authority.size());
      Check(h.origin.data() + h.origin.size() == t.data() + t.size());
      Check(h.authority.find_first_of("@/?") == std::string_view::npos);
      Check(h.origin.empty() || h.origin[0] == '/' || h.origin[0] == '?');
      break;
    }
  }
  if (h.form != TargetForm::kAbsolute) Check(h.authority.empty());
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
  CheckTarget(in, r, h);
  const auto& fr = h.framing;
  if (fr.body == BodyKind::kContentLength) Check(fr.content_length > 0);
  Check(fr.body != BodyKind::kUntilClose);
  if (h.version_minor == 1) Check(Inside(fr.host, in, r.consumed) || fr.host.empty());
  if (h.version_minor == 0)
    Check(!fr.upgrade && !fr.expect_continue && fr.body != BodyKind::kChunked);
}

void RunOne(std::string_view in, const ParseLimits& lim, size_t cut, bool pass_underscores) {
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
    Check(ph.form == h.form && ph.authority == h.authority && ph.origin == h.origin);
  }
  if (pr.status == ParseStatus::kError) Check(r.status == ParseStatus::kError);

  if (r.status != ParseStatus::kComplete) return;

  // Forwarding must not change how the next hop frames the body.
  std::string out;
  ringway::http1::ForwardedInfo fwd{"192.0.2.1", "https"};
  fwd.pass_underscore_fields = pass_underscores;
  ringway::http1::WriteRequestHead(h, fwd, &out);
  Field ofields[256];
  RequestHead oh;
  ParseLimits big;
  big.max_request_line = 1 << 20;
  big.max_head = 1 << 22;
  big.max_fields = 256;
  const ParseResult orr = ParseRequest(out, big, ofields, &oh);
  const bool absolute = h.form == TargetForm::kAbsolute;
  bool has_host = false;
  for (const Field& f : h.fields) {
    if (ringway::http1::EqualsIgnoreCase(f.name, "host")) has_host = true;
  }
  if (!has_host && !absolute) {
    // The upstream request is HTTP/1.1, which needs a Host; the glue supplies one.
    Check(orr.status == ParseStatus::kError && orr.error_status == 400);
    return;
  }
  Check(orr.status == ParseStatus::kComplete);
  Check(orr.consumed == out.size());
  Check(oh.method == h.method);
  if (absolute) {
    // Origin-form upstream, Host and X-Forwarded-Host from the target's authority.
    if (h.origin.empty() && h.method == "OPTIONS") {
      Check(oh.form == TargetForm::kAsterisk);
    } else {
      Check(oh.form == TargetForm::kOrigin);
      const bool slash = h.origin.empty() || h.origin[0] == '?';
      Check(oh.target.size() == h.origin.size() + (slash ? 1 : 0));
      Check(oh.target.substr(slash ? 1 : 0) == h.origin);
    }
    Check(oh.framing.host == h.authority);
  } else {
    Check(oh.target == h.target && oh.form == h.form);
    Check(oh.framing.host == h.framing.host);
  }
  size_t hosts = 0;
  for (const Field& f : oh.fields) {
    if (ringway::http1::EqualsIgnoreCase(f.name, "host")) ++hosts;
    if (ringway::http1::EqualsIgnoreCase(f.name, "x-forwarded-host")) {
      Check(f.value == (absolute ? h.authority : h.framing.host));
    }
    if (!pass_underscores) Check(f.name.find('_') == std::string_view::npos);
  }
  Check(hosts == 1);
  Check(oh.framing.body == h.framing.body);
  Check(oh.framing.content_length == h.framing.content_length);
  Check(oh.framing.upgrade == h.framing.upgrade);
  Check(oh.framing.keep_alive);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t cut = size == 0 ? 0 : (data[0] * 131u + size / 2) % (size + 1);
  const bool pass_underscores = size != 0 && (data[size - 1] & 1) != 0;
  RunOne(in, ParseLimits{}, cut, pass_underscores);
  ParseLimits small;
  small.max_request_line = 48;
  small.max_head = 160;
  small.max_fields = 6;
  RunOne(in, small, cut, !pass_underscores);
  return 0;
}
