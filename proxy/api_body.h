// The admin API's request bodies: JSON objects parsed (admin/json_reader.h), their fields checked
// against a list (unknown: 400), their types (wrong: 400) and the values that need no configuration
// to judge (a domain name, tags, an id, an address, a weight, a state: 422). What depends on the
// running configuration (does the domain exist, is the upstream defined) is the caller's.
//
//   api::DomainFields f;
//   admin::Response error;
//   if (!api::ParseDomain(req.body, &f, &error)) return error;
#ifndef RINGWAY_PROXY_API_BODY_H_
#define RINGWAY_PROXY_API_BODY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "admin/json_reader.h"
#include "admin/server.h"
#include "config/config.h"

namespace ringway::proxy::api {

// What a JSON request body may hold. The API's objects are flat (a list of tags at most), and
// each value parsed costs the admin thread about 100 bytes: a body past these is refused (400).
inline constexpr admin::JsonLimits kBodyLimits{.depth = 8, .values = 10'000};

inline constexpr const char* kExampleDomain =
    "send {\"domain\": \"example.com\", \"enabled_backends_tag\": \"a\", \"http_to_https\": "
    "false}";
inline constexpr const char* kExampleBackend =
    "send {\"id\": \"web-v1\", \"address\": \"127.0.0.1:3001\", \"tags\": [\"a\"]}";

// POST and PUT /api/v1/domains: every field optional here.
struct DomainFields {
  std::optional<std::string> domain, tag, upstream;  // tag "" removes the tag
  std::optional<bool> https;
};
bool ParseDomain(std::string_view json, DomainFields* f, admin::Response* error);

// POST and PUT /api/v1/backends: every field optional here.
struct BackendFields {
  std::optional<std::string> id, address, upstream;
  std::optional<std::vector<std::string>> tags;
  std::optional<uint32_t> weight;
  std::optional<config::BackendState> state;
};
bool ParseBackend(std::string_view json, BackendFields* f, admin::Response* error);

// POST /api/v1/domains/{domain}/switch: new_tag is required.
struct SwitchFields {
  std::optional<std::string> tag;
  std::optional<bool> force;
};
bool ParseSwitch(std::string_view json, SwitchFields* f, admin::Response* error);

}  // namespace ringway::proxy::api

#endif  // RINGWAY_PROXY_API_BODY_H_
