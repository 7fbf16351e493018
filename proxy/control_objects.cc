// The admin API's domains and backends (seed 002's paths): each change edits the overlay
// (state.h) and goes through Control::Change, which builds, checks, saves and publishes it.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "admin/json.h"
#include "proxy/api_body.h"
#include "proxy/control.h"
#include "proxy/control_http.h"

namespace ringway::proxy {

using api::Error;
using api::Json;
using api::NotAllowed;
using namespace api;  // the bodies (api_body.h)

namespace {

// One path segment, percent-decoded; nullopt when it holds a bad escape or a '/'.
std::optional<std::string> Segment(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '/') return std::nullopt;
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    const int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

admin::Response Refused(const Control::ReloadResult& r, std::string_view hint) {
  return Error(r.status ? r.status : 500, r.error, hint);
}

void WriteDomain(admin::JsonWriter& w, const config::Config& cfg, const config::Server& s) {
  w.BeginObject();
  w.Key("domain").String(DomainOf(s));
  w.Key("enabled_backends_tag");
  if (s.backends_tag.empty()) {
    w.Null();
  } else {
    w.String(s.backends_tag);
  }
  w.Key("http_to_https").Bool(s.redirect_https);
  w.Key("upstream");
  const config::Upstream* up =
      s.upstream < cfg.upstreams.size() ? &cfg.upstreams[s.upstream] : nullptr;
  if (up && up->derived) up = up->derived_from >= 0 ? &cfg.upstreams[up->derived_from] : nullptr;
  if (up) {
    w.String(up->name);
  } else {
    w.Null();
  }
  w.Key("server_names").BeginArray();
  for (const auto& n : s.server_names) w.String(n);
  w.EndArray();
  w.EndObject();
}

// A backend of one of the config's own upstreams. An upstream made for a tag holds a copy of it
// that live traffic may have ejected: ejected when any copy is; up as its own checks say.
void WriteBackend(admin::JsonWriter& w, const Snapshot& sn, uint32_t upstream, uint32_t i) {
  const config::Upstream& u = sn.config.upstreams[upstream];
  const config::Backend& b = u.backends[i];
  const uint32_t slot = sn.backend_base[upstream] + i;
  uint32_t st = sn.health->State(slot);
  for (uint32_t x = 0; x < sn.config.upstreams.size(); ++x) {
    const config::Upstream& d = sn.config.upstreams[x];
    if (!d.derived) continue;
    for (uint32_t k = 0; k < d.backends.size(); ++k) {
      if (d.backends[k].id == b.id)
        st |= sn.health->State(sn.backend_base[x] + k) & health::View::kEjected;
    }
  }
  w.BeginObject().Key("id").String(b.id).Key("address").String(b.address.text);
  w.Key("tags").BeginArray();
  for (const auto& t : b.tags) w.String(t);
  w.EndArray();
  w.Key("weight").Uint(b.weight).Key("state").String(StateName(b.state));
  w.Key("upstream").String(u.name);
  w.Key("health").String((st & health::View::kUp) ? "up" : "down");
  w.Key("ejected").Bool(st & health::View::kEjected);
  w.EndObject();
}

}  // namespace

admin::Response Control::DomainsApi(const admin::Request& req, std::string_view rest,
                                    std::string* endpoint) {
  const std::string_view m = req.method;
  const bool get = m == "GET" || m == "HEAD";
  if (rest.empty() || rest == "/") {
    *endpoint = "/api/v1/domains";
    if (get) {
      const auto snap = Current();
      admin::JsonWriter w;
      w.BeginArray();
      for (const auto& s : snap->config.servers) WriteDomain(w, snap->config, s);
      w.EndArray();
      return Json(200, w.Take());
    }
    if (m != "POST") {
      return NotAllowed(m, "GET, POST");
    }
    DomainFields f;
    admin::Response error;
    if (!ParseDomain(req.body, &f, &error)) return error;
    const auto& domain = f.domain;  // (references, not a structured binding: lambdas use them)
    const auto& tag = f.tag;
    const auto& upstream = f.upstream;
    const auto& https = f.https;
    if (!domain || !ValidDomain(*domain)) {
      return Error(422,
                   domain ? absl::StrCat("'", *domain, "' is not a domain name")
                          : std::string("'domain' is missing"),
                   "use a lower-case host name such as example.com (or *.example.com)");
    }
    if (const int at = FindServerName(Current()->config, *domain); at >= 0) {
      const std::string owner(DomainOf(Current()->config.servers[static_cast<size_t>(at)]));
      return Error(409,
                   owner == *domain
                       ? absl::StrCat("domain '", *domain, "' exists already")
                       : absl::StrCat("'", *domain, "' is a name of domain '", owner, "' already"),
                   absl::StrCat("change it with PUT /api/v1/domains/", owner));
    }
    ReloadResult r = Change("POST /api/v1/domains", [&](Overlay* o) {
      Overlay::Domain* d = o->FindDomain(*domain);
      if (!d) {
        o->domains.push_back({});
        d = &o->domains.back();
        d->domain = *domain;
      }
      *d = Overlay::Domain{};
      d->domain = *domain;
      d->added = FindDomain(base_, *domain) < 0;
      d->tag = tag;
      d->http_to_https = https;  // (unset: a domain of the file keeps its own)
      d->upstream = upstream;
      return absl::OkStatus();
    });
    if (!r.ok) return Refused(r, "nothing was changed");
    const auto snap = Current();
    admin::JsonWriter w;
    WriteDomain(w, snap->config,
                snap->config.servers[static_cast<size_t>(FindDomain(snap->config, *domain))]);
    return Json(201, w.Take());
  }
  // /{domain} or /{domain}/switch
  std::string_view tail = rest.substr(1);
  bool do_switch = false;
  if (const size_t slash = tail.find('/'); slash != std::string_view::npos) {
    if (tail.substr(slash) != "/switch") {
      *endpoint = "/api/v1/domains/{domain}/*";
      return Error(404, absl::StrCat("no endpoint ", std::string(req.path)),
                   "see docs/admin-api.md");
    }
    do_switch = true;
    tail = tail.substr(0, slash);
  }
  *endpoint = do_switch ? "/api/v1/domains/{domain}/switch" : "/api/v1/domains/{domain}";
  const std::optional<std::string> name = Segment(tail);
  if (!name || name->empty()) {
    return Error(400, "the domain in the path is not valid", "write /api/v1/domains/example.com");
  }
  const auto snap = Current();
  const int index = FindDomain(snap->config, *name);
  if (index < 0) {
    return Error(404, absl::StrCat("no domain '", *name, "'"),
                 "GET /api/v1/domains lists them; POST /api/v1/domains adds one");
  }
  const config::Server& server = snap->config.servers[static_cast<size_t>(index)];
  if (do_switch) {
    if (m != "POST") {
      return NotAllowed(m, "POST");
    }
    SwitchFields sw;
    admin::Response error;
    if (!ParseSwitch(req.body, &sw, &error)) return error;
    const std::optional<std::string>& tag = sw.tag;
    const std::optional<bool>& force = sw.force;
    // A tag that none of the domain's backends carries would answer 503 to everything.
    if (!force.value_or(false)) {
      const config::Upstream* base = nullptr;
      if (server.upstream < snap->config.upstreams.size()) {
        base = &snap->config.upstreams[server.upstream];
        if (base->derived) {
          base = base->derived_from >= 0 ? &snap->config.upstreams[base->derived_from] : nullptr;
        }
      }
      bool carried = false;
      for (const auto& u : snap->config.upstreams) {
        if (u.derived || (base && &u != base)) continue;
        for (const auto& b : u.backends) {
          for (const auto& t : b.tags) carried = carried || t == *tag;
        }
      }
      if (!carried) {
        return Error(409,
                     absl::StrFormat("no backend %s carries tag '%s': every request to '%s' "
                                     "would get 503",
                                     base ? absl::StrCat("of upstream '", base->name, "'")
                                          : std::string("of the configuration"),
                                     *tag, *name),
                     "add a backend with the tag first, or send \"force\": true");
      }
    }
    const std::string previous = server.backends_tag;
    ReloadResult r = Change("POST /api/v1/domains/{domain}/switch", [&](Overlay* o) {
      Overlay::Domain* d = o->FindDomain(*name);
      if (!d) {
        o->domains.push_back({});
        d = &o->domains.back();
        d->domain = *name;
      }
      d->deleted = false;
      d->tag = *tag;
      return absl::OkStatus();
    });
    if (!r.ok) return Refused(r, "nothing was changed");
    admin::JsonWriter w;
    w.BeginObject().Key("domain").String(*name).Key("previous_tag");
    if (previous.empty()) {
      w.Null();
    } else {
      w.String(previous);
    }
    w.Key("enabled_backends_tag").String(*tag).Key("generation").Uint(r.generation);
    w.EndObject();
    return Json(200, w.Take());
  }
  if (get) {
    admin::JsonWriter w;
    WriteDomain(w, snap->config, server);
    return Json(200, w.Take());
  }
  if (m == "DELETE") {
    ReloadResult r = Change("DELETE /api/v1/domains/{domain}", [&](Overlay* o) {
      Overlay::Domain* d = o->FindDomain(*name);
      if (!d) {
        o->domains.push_back({});
        d = &o->domains.back();
      }
      *d = Overlay::Domain{};
      d->domain = *name;
      d->deleted = true;
      // A domain the file does not have leaves no trace in the state file.
      if (FindDomain(base_, *name) < 0) {
        o->domains.erase(o->domains.begin() + (d - o->domains.data()));
      }
      return absl::OkStatus();
    });
    if (!r.ok) return Refused(r, "nothing was changed");
    admin::JsonWriter w;
    w.BeginObject().Key("deleted").String(*name).EndObject();
    return Json(200, w.Take());
  }
  if (m != "PUT") {
    return NotAllowed(m, "GET, PUT, DELETE");
  }
  DomainFields f;
  admin::Response error;
  if (!ParseDomain(req.body, &f, &error)) return error;
  const auto& domain = f.domain;
  const auto& tag = f.tag;
  const auto& upstream = f.upstream;
  const auto& https = f.https;
  if (domain && *domain != *name) {
    return Error(422, absl::StrFormat("the body names domain '%s', the path '%s'", *domain, *name),
                 "a domain cannot be renamed: add the new one and delete the old one");
  }
  ReloadResult r = Change("PUT /api/v1/domains/{domain}", [&](Overlay* o) {
    Overlay::Domain* d = o->FindDomain(*name);
    if (!d) {
      o->domains.push_back({});
      d = &o->domains.back();
      d->domain = *name;
    }
    d->deleted = false;
    if (tag) d->tag = tag;
    if (https) d->http_to_https = https;
    if (upstream) d->upstream = upstream;
    return absl::OkStatus();
  });
  if (!r.ok) return Refused(r, "nothing was changed");
  const auto now = Current();
  admin::JsonWriter w;
  WriteDomain(w, now->config,
              now->config.servers[static_cast<size_t>(FindDomain(now->config, *name))]);
  return Json(200, w.Take());
}

admin::Response Control::BackendsApi(const admin::Request& req, std::string_view rest,
                                     std::string* endpoint) {
  const std::string_view m = req.method;
  const bool get = m == "GET" || m == "HEAD";
  // The backends of the config's own upstreams (tag upstreams hold copies of them).
  auto each = [](const Snapshot& sn, auto&& f) {
    for (uint32_t u = 0; u < sn.config.upstreams.size(); ++u) {
      if (sn.config.upstreams[u].derived) continue;
      for (uint32_t i = 0; i < sn.config.upstreams[u].backends.size(); ++i) f(u, i);
    }
  };
  auto find = [&](const Snapshot& sn, std::string_view id, uint32_t* u, uint32_t* i) {
    bool found = false;
    each(sn, [&](uint32_t uu, uint32_t ii) {
      if (!found && sn.config.upstreams[uu].backends[ii].id == id) {
        *u = uu;
        *i = ii;
        found = true;
      }
    });
    return found;
  };
  if (rest.empty() || rest == "/") {
    *endpoint = "/api/v1/backends";
    if (get) {
      const auto snap = Current();
      admin::JsonWriter w;
      w.BeginArray();
      each(*snap, [&](uint32_t u, uint32_t i) { WriteBackend(w, *snap, u, i); });
      w.EndArray();
      return Json(200, w.Take());
    }
    if (m != "POST") {
      return NotAllowed(m, "GET, POST");
    }
  }
  std::optional<std::string> id;
  if (!rest.empty() && rest != "/") {
    *endpoint = "/api/v1/backends/{id}";
    id = Segment(rest.substr(1));
    if (!id || id->empty()) {
      return Error(400, "the id in the path is not valid", "write /api/v1/backends/web-v1");
    }
  }
  const auto snap = Current();
  uint32_t up = 0, pos = 0;
  const bool exists = id && find(*snap, *id, &up, &pos);
  if (id && !exists) {
    return Error(404, absl::StrCat("no backend '", *id, "'"),
                 "GET /api/v1/backends lists them; POST /api/v1/backends adds one");
  }
  if (id && get) {
    admin::JsonWriter w;
    WriteBackend(w, *snap, up, pos);
    return Json(200, w.Take());
  }
  if (id && m == "DELETE") {
    ReloadResult r = Change("DELETE /api/v1/backends/{id}", [&](Overlay* o) {
      Overlay::Backend* b = o->FindBackend(*id);
      if (!b) {
        o->backends.push_back({});
        b = &o->backends.back();
      }
      *b = Overlay::Backend{};
      b->id = *id;
      b->deleted = true;
      uint32_t u0 = 0, i0 = 0;
      if (!FindBackendId(base_, *id, &u0, &i0)) {  // (the file does not have it: no trace)
        o->backends.erase(o->backends.begin() + (b - o->backends.data()));
      }
      return absl::OkStatus();
    });
    if (!r.ok) return Refused(r, "nothing was changed");
    admin::JsonWriter w;
    w.BeginObject().Key("deleted").String(*id).EndObject();
    return Json(200, w.Take());
  }
  if (id && m != "PUT") {
    return NotAllowed(m, "GET, PUT, DELETE");
  }
  // POST (a new backend) or PUT (an edit).
  BackendFields f;
  admin::Response error;
  if (!ParseBackend(req.body, &f, &error)) return error;
  const auto& body_id = f.id;
  const auto& address = f.address;
  const auto& upstream = f.upstream;
  const auto& tags = f.tags;
  const auto& weight = f.weight;
  const auto& st = f.state;
  if (id && body_id && *body_id != *id) {
    return Error(422, absl::StrFormat("the body names backend '%s', the path '%s'", *body_id, *id),
                 "an id cannot change: add the backend under the new id and delete the old one");
  }
  if (!id) {
    if (!body_id) return Error(422, "'id' is missing", kExampleBackend);
    if (!address) return Error(422, "'address' is missing", kExampleBackend);
    uint32_t u0, i0;
    if (find(*snap, *body_id, &u0, &i0)) {
      return Error(409, absl::StrCat("backend '", *body_id, "' exists already"),
                   absl::StrCat("change it with PUT /api/v1/backends/", *body_id));
    }
  }
  const std::string key = id ? *id : *body_id;
  ReloadResult r =
      Change(id ? "PUT /api/v1/backends/{id}" : "POST /api/v1/backends", [&](Overlay* o) {
        Overlay::Backend* b = o->FindBackend(key);
        if (!b) {
          o->backends.push_back({});
          b = &o->backends.back();
        }
        if (!id) {
          *b = Overlay::Backend{};
          uint32_t u0 = 0, i0 = 0;
          b->added = !FindBackendId(base_, key, &u0, &i0);
        }
        b->id = key;
        b->deleted = false;
        if (address) b->address = address;
        if (tags) b->tags = tags;
        if (weight) b->weight = weight;
        if (st) b->state = st;
        if (upstream) b->upstream = upstream;
        return absl::OkStatus();
      });
  if (!r.ok) return Refused(r, "nothing was changed");
  const auto now = Current();
  uint32_t nu = 0, ni = 0;
  admin::JsonWriter w;
  if (find(*now, key, &nu, &ni)) {
    WriteBackend(w, *now, nu, ni);
  } else {
    w.BeginObject().Key("id").String(key).EndObject();
  }
  return Json(id ? 200 : 201, w.Take());
}

}  // namespace ringway::proxy
