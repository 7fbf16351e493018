// The admin API's request bodies (api_body.h).
#include "proxy/api_body.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "admin/json.h"
#include "admin/json_reader.h"
#include "proxy/control_http.h"
#include "proxy/state.h"

namespace ringway::proxy::api {

namespace {

// A JSON object body, its fields checked against a list: what the edit functions read.
struct Body {
  admin::JsonValue doc;
};

bool ParseBody(std::string_view json, std::initializer_list<std::string_view> allowed,
               const char* example, Body* body, admin::Response* error) {
  absl::StatusOr<admin::JsonValue> doc = admin::ParseJson(json, kBodyLimits);
  if (!doc.ok()) {
    *error =
        Error(400, absl::StrCat("the body is not valid JSON: ", doc.status().message()), example);
    return false;
  }
  if (!doc->is_object()) {
    *error = Error(400, "the body is not a JSON object", example);
    return false;
  }
  body->doc = *std::move(doc);
  for (size_t i = 0; i < body->doc.size(); ++i) {
    const std::string_view key = body->doc.key(i);
    bool ok = false;
    for (std::string_view a : allowed) ok = ok || key == a;
    if (!ok) {
      std::string list;
      for (std::string_view a : allowed)
        absl::StrAppend(&list, list.empty() ? "" : ", ", std::string(a));
      *error = Error(400, absl::StrCat("unknown field '", std::string(key), "'"),
                     absl::StrCat("the fields here are ", list));
      return false;
    }
  }
  return true;
}

// Typed reads: absent is fine (nullopt), a wrong type is an error.
bool GetString(Body& b, std::string_view key, std::optional<std::string>* out,
               admin::Response* error) {
  const admin::JsonValue* e = b.doc.Find(key);
  if (e == nullptr) return true;
  std::string_view v;
  if (!e->GetString(&v)) {
    *error = Error(400, absl::StrCat("'", std::string(key), "' must be a string"),
                   absl::StrCat("send \"", std::string(key), "\": \"...\""));
    return false;
  }
  *out = std::string(v);
  return true;
}

bool GetBool(Body& b, std::string_view key, std::optional<bool>* out, admin::Response* error) {
  const admin::JsonValue* e = b.doc.Find(key);
  if (e == nullptr) return true;
  bool v = false;
  if (!e->GetBool(&v)) {
    *error = Error(400, absl::StrCat("'", std::string(key), "' must be true or false"),
                   absl::StrCat("send \"", std::string(key), "\": true"));
    return false;
  }
  *out = v;
  return true;
}

bool GetTags(Body& b, std::optional<std::vector<std::string>>* out, admin::Response* error) {
  const admin::JsonValue* a = b.doc.Find("tags");
  if (a == nullptr) return true;
  if (!a->is_array()) {
    *error = Error(400, "'tags' must be a list of strings", "send \"tags\": [\"a\", \"stable\"]");
    return false;
  }
  std::vector<std::string> tags;
  for (size_t i = 0; i < a->size(); ++i) {
    std::string_view s;
    if (!(*a)[i].GetString(&s)) {
      *error = Error(400, "'tags' must be a list of strings", "send \"tags\": [\"a\", \"stable\"]");
      return false;
    }
    if (!config::ValidTag(s)) {
      *error = Error(422, absl::StrCat("tag '", std::string(s), "' is not valid"),
                     "use 1 to 128 letters, digits and . _ - : @ [ ]");
      return false;
    }
    bool dup = false;
    for (const auto& x : tags) dup = dup || x == s;
    if (!dup) tags.emplace_back(s);
  }
  *out = std::move(tags);
  return true;
}

bool GetWeight(Body& b, std::optional<uint32_t>* out, admin::Response* error) {
  const admin::JsonValue* e = b.doc.Find("weight");
  if (e == nullptr) return true;
  uint64_t v = 0;
  if (!e->GetUint64(&v)) {
    *error = Error(400, "'weight' must be a whole number", "send \"weight\": 5");
    return false;
  }
  if (v < 1 || v > 1000) {
    *error = Error(422, absl::StrFormat("weight %u is out of range", v), "use 1 to 1000");
    return false;
  }
  *out = static_cast<uint32_t>(v);
  return true;
}

}  // namespace

bool ParseDomain(std::string_view json, DomainFields* f, admin::Response* error) {
  Body body;
  if (!ParseBody(json, {"domain", "enabled_backends_tag", "http_to_https", "upstream"},
                 kExampleDomain, &body, error) ||
      !GetString(body, "domain", &f->domain, error) ||
      !GetString(body, "enabled_backends_tag", &f->tag, error) ||
      !GetString(body, "upstream", &f->upstream, error) ||
      !GetBool(body, "http_to_https", &f->https, error)) {
    return false;
  }
  if (f->domain && !ValidDomain(*f->domain)) {
    *error = Error(422, absl::StrCat("'", *f->domain, "' is not a domain name"),
                   "use a lower-case host name such as example.com (or *.example.com)");
    return false;
  }
  if (f->tag && !f->tag->empty() && !config::ValidTag(*f->tag)) {
    *error = Error(422, absl::StrCat("tag '", *f->tag, "' is not valid"),
                   "use 1 to 128 letters, digits and . _ - : @ [ ]");
    return false;
  }
  return true;
}

bool ParseBackend(std::string_view json, BackendFields* f, admin::Response* error) {
  Body body;
  std::optional<std::string> state;
  if (!ParseBody(json, {"id", "address", "tags", "weight", "state", "upstream"}, kExampleBackend,
                 &body, error) ||
      !GetString(body, "id", &f->id, error) || !GetString(body, "address", &f->address, error) ||
      !GetString(body, "state", &state, error) ||
      !GetString(body, "upstream", &f->upstream, error) || !GetTags(body, &f->tags, error) ||
      !GetWeight(body, &f->weight, error)) {
    return false;
  }
  if (f->id && !config::ValidTag(*f->id)) {
    *error = Error(422, absl::StrCat("id '", *f->id, "' is not valid"), kExampleBackend);
    return false;
  }
  if (f->address) {
    absl::StatusOr<config::SocketAddress> a = config::ParseSocketAddress(*f->address);
    if (!a.ok()) {
      *error =
          Error(422, std::string(a.status().message()), "write an address such as 127.0.0.1:3001");
      return false;
    }
  }
  if (state) {
    f->state = ParseState(*state);
    if (!f->state) {
      *error = Error(422, absl::StrCat("state '", *state, "' is not known"),
                     "use ready, drain (no new requests) or maint (no requests, no checks)");
      return false;
    }
  }
  return true;
}

bool ParseSwitch(std::string_view json, SwitchFields* f, admin::Response* error) {
  Body body;
  if (!ParseBody(json, {"new_tag", "force"}, "send {\"new_tag\": \"b\"}", &body, error) ||
      !GetString(body, "new_tag", &f->tag, error) || !GetBool(body, "force", &f->force, error)) {
    return false;
  }
  if (!f->tag || !config::ValidTag(*f->tag)) {
    *error = Error(422,
                   f->tag ? absl::StrCat("tag '", *f->tag, "' is not valid")
                          : std::string("'new_tag' is missing"),
                   "send {\"new_tag\": \"b\"}");
    return false;
  }
  return true;
}

}  // namespace ringway::proxy::api
