// Fuzz target for the admin API's request bodies (proxy/api_body.h): arbitrary bytes as the
// body of a domain, a backend and a switch request. Invariants (abort on violation):
//  - a refusal is 400 (not JSON, not an object, an unknown field, a wrong type) or 422 (a value
//    that cannot be), with a JSON {"error","hint"} body;
//  - what is accepted holds only valid values: a domain name, tags and ids ValidTag, an
//    address that parses, a weight of 1..1000, a switch's tag present and valid.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "config/config.h"
#include "proxy/api_body.h"
#include "proxy/state.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

void CheckRefusal(const ringway::admin::Response& r) {
  Check(r.status == 400 || r.status == 422);
  Check(r.body.size() > 2 && r.body.front() == '{' && r.body.back() == '}');
  Check(r.body.find("\"error\":") != std::string::npos);
  Check(r.body.find("\"hint\":") != std::string::npos);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace api = ringway::proxy::api;
  using ringway::config::ValidTag;
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  ringway::admin::Response error;

  api::DomainFields d;
  if (api::ParseDomain(json, &d, &error)) {
    if (d.domain) Check(ringway::proxy::ValidDomain(*d.domain));
    if (d.tag && !d.tag->empty()) Check(ValidTag(*d.tag));
  } else {
    CheckRefusal(error);
  }

  api::BackendFields b;
  error = {};
  if (api::ParseBackend(json, &b, &error)) {
    if (b.id) Check(ValidTag(*b.id));
    if (b.address) Check(ringway::config::ParseSocketAddress(*b.address).ok());
    if (b.tags) {
      for (const auto& t : *b.tags) Check(ValidTag(t));
    }
    if (b.weight) Check(*b.weight >= 1 && *b.weight <= 1000);
  } else {
    CheckRefusal(error);
  }

  api::SwitchFields s;
  error = {};
  if (api::ParseSwitch(json, &s, &error)) {
    Check(s.tag && ValidTag(*s.tag));
  } else {
    CheckRefusal(error);
  }
  return 0;
}
