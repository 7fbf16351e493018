// The API's overlay over the config file (state.h): applying it, and its JSON file.
#include "proxy/state.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "admin/json.h"
#include "admin/json_reader.h"

namespace ringway::proxy {

Overlay::Domain* Overlay::FindDomain(std::string_view d) {
  for (auto& x : domains) {
    if (x.domain == d) return &x;
  }
  return nullptr;
}

Overlay::Backend* Overlay::FindBackend(std::string_view id) {
  for (auto& x : backends) {
    if (x.id == id) return &x;
  }
  return nullptr;
}

bool ValidDomain(std::string_view d) {
  if (d.empty() || d.size() > 253) return false;
  if (d.substr(0, 2) == "*.") d.remove_prefix(2);
  if (d.empty() || d.front() == '.' || d.back() == '.') return false;
  for (char c : d) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) return false;
  }
  return d.find("..") == std::string_view::npos;
}

const char* StateName(config::BackendState s) {
  switch (s) {
    case config::BackendState::kReady:
      return "ready";
    case config::BackendState::kDrain:
      return "drain";
    case config::BackendState::kMaint:
      return "maint";
  }
  return "ready";
}

std::optional<config::BackendState> ParseState(std::string_view s) {
  if (s == "ready") return config::BackendState::kReady;
  if (s == "drain") return config::BackendState::kDrain;
  if (s == "maint") return config::BackendState::kMaint;
  return std::nullopt;
}

std::string_view DomainOf(const config::Server& s) {
  return s.server_names.empty() ? std::string_view(s.name) : std::string_view(s.server_names[0]);
}

int FindDomain(const config::Config& cfg, std::string_view domain) {
  for (size_t i = 0; i < cfg.servers.size(); ++i) {
    if (DomainOf(cfg.servers[i]) == domain) return static_cast<int>(i);
  }
  return -1;
}

int FindServerName(const config::Config& cfg, std::string_view name) {
  for (size_t i = 0; i < cfg.servers.size(); ++i) {
    const config::Server& s = cfg.servers[i];
    if (s.name == name) return static_cast<int>(i);
    for (const auto& n : s.server_names) {
      if (n == name) return static_cast<int>(i);
    }
  }
  return -1;
}

bool FindBackendId(const config::Config& cfg, std::string_view id, uint32_t* upstream,
                   uint32_t* position) {
  for (uint32_t u = 0; u < cfg.upstreams.size(); ++u) {
    const auto& bs = cfg.upstreams[u].backends;
    for (uint32_t i = 0; i < bs.size(); ++i) {
      if (bs[i].id == id) {
        *upstream = u;
        *position = i;
        return true;
      }
    }
  }
  return false;
}

namespace {

int FindUpstream(const config::Config& cfg, std::string_view name) {
  for (size_t i = 0; i < cfg.upstreams.size(); ++i) {
    if (cfg.upstreams[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

// Removes server `index`, renumbering the listeners' server lists. A listener whose list named
// only this server would be left with none, which means every server: refused.
absl::Status RemoveServer(config::Config* cfg, uint32_t index) {
  for (const auto& l : cfg->listeners) {
    if (l.servers.size() == 1 && l.servers[0] == index) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "domain '%s' is the only server of listener '%s', which would then serve every "
          "domain; change the listener's servers in the file first",
          cfg->servers[index].name, l.name));
    }
  }
  cfg->servers.erase(cfg->servers.begin() + index);
  for (auto& l : cfg->listeners) {
    std::vector<uint32_t> keep;
    for (uint32_t s : l.servers) {
      if (s != index) keep.push_back(s > index ? s - 1 : s);
    }
    l.servers = std::move(keep);
  }
  return absl::OkStatus();
}

absl::Status ApplyBackend(const Overlay::Backend& e, config::Config* cfg) {
  const std::string who = absl::StrFormat("backend '%s'", e.id);
  uint32_t up = 0, pos = 0;
  const bool found = FindBackendId(*cfg, e.id, &up, &pos);
  if (e.deleted) {
    if (!found) return absl::OkStatus();  // (the file no longer has it either)
    auto& bs = cfg->upstreams[up].backends;
    bs.erase(bs.begin() + pos);
    return absl::OkStatus();
  }
  config::Backend b;
  if (found) {
    b = cfg->upstreams[up].backends[pos];
    auto& bs = cfg->upstreams[up].backends;
    bs.erase(bs.begin() + pos);
  } else {
    // An edit of a backend the file has dropped since: nothing left to edit.
    if (!e.added) return absl::OkStatus();
    b.id = e.id;
    if (!e.address) {
      return absl::InvalidArgumentError(absl::StrCat(who, " was added with no address"));
    }
  }
  if (e.address) {
    absl::StatusOr<config::SocketAddress> a = config::ParseSocketAddress(*e.address);
    if (!a.ok()) return absl::InvalidArgumentError(absl::StrCat(who, ": ", a.status().message()));
    b.address = *std::move(a);
  }
  if (e.tags) b.tags = *e.tags;
  if (e.weight) b.weight = *e.weight;
  if (e.state) b.state = *e.state;
  // Its upstream: the one named, else where it was, else the API's own.
  std::string target;
  if (e.upstream) {
    target = *e.upstream;
  } else if (found) {
    target = cfg->upstreams[up].name;
  } else {
    target = std::string(kApiUpstream);
  }
  int u = FindUpstream(*cfg, target);
  if (u < 0) {
    if (target != kApiUpstream) {
      return absl::NotFoundError(absl::StrFormat("%s: upstream '%s' is not defined", who, target));
    }
    config::Upstream api;
    api.name = std::string(kApiUpstream);
    api.health = cfg->default_health;
    cfg->upstreams.push_back(std::move(api));
    u = static_cast<int>(cfg->upstreams.size() - 1);
  }
  auto& bs = cfg->upstreams[static_cast<size_t>(u)].backends;
  for (const auto& other : bs) {
    if (other.address.text == b.address.text) {
      return absl::AlreadyExistsError(
          absl::StrFormat("%s: upstream '%s' already has backend %s (id '%s')", who, target,
                          b.address.text, other.id));
    }
  }
  // Back in its place when it stays in its upstream; at the end otherwise.
  if (found && static_cast<uint32_t>(u) == up) {
    bs.insert(bs.begin() + pos, std::move(b));
  } else {
    bs.push_back(std::move(b));
  }
  return absl::OkStatus();
}

absl::Status ApplyDomain(const Overlay::Domain& d, config::Config* cfg) {
  const std::string who = absl::StrFormat("domain '%s'", d.domain);
  const int found = FindDomain(*cfg, d.domain);
  if (d.deleted) {
    return found >= 0 ? RemoveServer(cfg, static_cast<uint32_t>(found)) : absl::OkStatus();
  }
  config::Server* s = nullptr;
  if (found >= 0) {
    s = &cfg->servers[static_cast<size_t>(found)];
  } else if (!d.added) {
    return absl::OkStatus();  // an edit of a domain the file has dropped since
  } else {
    if (const int other = FindServerName(*cfg, d.domain); other >= 0) {
      return absl::AlreadyExistsError(
          absl::StrFormat("%s is a name of domain '%s' already; change that one", who,
                          std::string(DomainOf(cfg->servers[static_cast<size_t>(other)]))));
    }
    config::Server n;
    n.name = d.domain;
    n.server_names = {d.domain};
    n.upstream = config::kNoUpstream;
    cfg->servers.push_back(std::move(n));
    s = &cfg->servers.back();
  }
  if (d.upstream) {
    const int u = FindUpstream(*cfg, *d.upstream);
    if (u < 0) {
      return absl::NotFoundError(
          absl::StrFormat("%s: upstream '%s' is not defined", who, *d.upstream));
    }
    s->upstream = static_cast<uint32_t>(u);
  }
  if (d.tag) s->backends_tag = *d.tag;
  if (d.http_to_https) s->redirect_https = *d.http_to_https;
  if (s->upstream == config::kNoUpstream && s->backends_tag.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        who,
        " has neither an upstream nor an enabled_backends_tag, so no backend could answer "
        "it; give it one"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ApplyOverlay(const Overlay& o, config::Config* cfg) {
  // Backends first: a new domain may name the upstream an API backend creates.
  for (const auto& b : o.backends) {
    if (absl::Status st = ApplyBackend(b, cfg); !st.ok()) return st;
  }
  for (const auto& d : o.domains) {
    if (absl::Status st = ApplyDomain(d, cfg); !st.ok()) return st;
  }
  for (const auto& u : cfg->upstreams) {
    if (u.backends.empty() && u.name != kApiUpstream) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "upstream '%s' would have no backend left; add another first, or delete the "
          "upstream's servers and routes from the file",
          u.name));
    }
  }
  // The API's upstream goes when its last backend does.
  for (size_t i = 0; i < cfg->upstreams.size(); ++i) {
    if (cfg->upstreams[i].name == kApiUpstream && cfg->upstreams[i].backends.empty()) {
      bool used = false;
      for (const auto& s : cfg->servers) {
        used = used || s.upstream == i;
        for (const auto& r : s.routes) used = used || r.upstream == i;
      }
      if (!used) {
        cfg->upstreams.erase(cfg->upstreams.begin() + static_cast<long>(i));
        for (auto& s : cfg->servers) {
          if (s.upstream != config::kNoUpstream && s.upstream > i) --s.upstream;
          for (auto& r : s.routes) {
            if (r.upstream > i) --r.upstream;
          }
        }
      }
      break;
    }
  }
  return absl::OkStatus();
}

std::string StatePath(const std::string& config_path) {
  const size_t slash = config_path.rfind('/');
  const size_t dot = config_path.rfind('.');
  std::string stem = dot != std::string::npos && (slash == std::string::npos || dot > slash)
                         ? config_path.substr(0, dot)
                         : config_path;
  return stem + ".state.json";
}

std::string OverlayToJson(const Overlay& o) {
  admin::JsonWriter w;
  w.BeginObject().Key("version").Uint(1).Key("domains").BeginArray();
  for (const auto& d : o.domains) {
    w.BeginObject().Key("domain").String(d.domain);
    if (d.deleted) w.Key("deleted").Bool(true);
    if (d.added) w.Key("added").Bool(true);
    if (d.tag) w.Key("enabled_backends_tag").String(*d.tag);
    if (d.http_to_https) w.Key("http_to_https").Bool(*d.http_to_https);
    if (d.upstream) w.Key("upstream").String(*d.upstream);
    w.EndObject();
  }
  w.EndArray().Key("backends").BeginArray();
  for (const auto& b : o.backends) {
    w.BeginObject().Key("id").String(b.id);
    if (b.deleted) w.Key("deleted").Bool(true);
    if (b.added) w.Key("added").Bool(true);
    if (b.address) w.Key("address").String(*b.address);
    if (b.tags) {
      w.Key("tags").BeginArray();
      for (const auto& t : *b.tags) w.String(t);
      w.EndArray();
    }
    if (b.weight) w.Key("weight").Uint(*b.weight);
    if (b.state) w.Key("state").String(StateName(*b.state));
    if (b.upstream) w.Key("upstream").String(*b.upstream);
    w.EndObject();
  }
  w.EndArray().EndObject();
  std::string out = w.Take();
  out += "\n";
  return out;
}

absl::StatusOr<Overlay> OverlayFromJson(std::string_view json) {
  absl::StatusOr<admin::JsonValue> doc = admin::ParseJson(json);
  if (!doc.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("not valid JSON: ", doc.status().message()));
  }
  auto bad = [](std::string_view what) { return absl::InvalidArgumentError(std::string(what)); };
  const admin::JsonValue& root = *doc;
  if (!root.is_object()) return bad("the top level is not an object");
  Overlay o;
  for (size_t fi = 0; fi < root.size(); ++fi) {
    const std::string_view key = root.key(fi);
    if (key == "version") continue;
    const bool domains = key == "domains";
    if (!domains && key != "backends") {
      return bad(absl::StrCat("unknown field '", std::string(key), "'"));
    }
    const admin::JsonValue& list = root[fi];
    if (!list.is_array()) return bad(absl::StrCat("'", std::string(key), "' is not a list"));
    for (size_t li = 0; li < list.size(); ++li) {
      const admin::JsonValue& obj = list[li];
      if (!obj.is_object()) return bad("an entry is not an object");
      Overlay::Domain d;
      Overlay::Backend b;
      for (size_t i = 0; i < obj.size(); ++i) {
        const std::string_view k = obj.key(i);
        const admin::JsonValue& value = obj[i];
        std::string_view s;
        bool flag = false;
        uint64_t n = 0;
        if (k == "deleted" && value.GetBool(&flag)) {
          d.deleted = b.deleted = flag;
        } else if (k == "added" && value.GetBool(&flag)) {
          d.added = b.added = flag;
        } else if (domains && k == "domain" && value.GetString(&s) && ValidDomain(s)) {
          d.domain = std::string(s);
        } else if (domains && k == "enabled_backends_tag" && value.GetString(&s) &&
                   (s.empty() || config::ValidTag(s))) {
          d.tag = std::string(s);
        } else if (domains && k == "http_to_https" && value.GetBool(&flag)) {
          d.http_to_https = flag;
        } else if (k == "upstream" && value.GetString(&s)) {
          d.upstream = b.upstream = std::string(s);
        } else if (!domains && k == "id" && value.GetString(&s) && config::ValidTag(s)) {
          b.id = std::string(s);
        } else if (!domains && k == "address" && value.GetString(&s)) {
          b.address = std::string(s);
        } else if (!domains && k == "weight" && value.GetUint64(&n) && n >= 1 && n <= 1000) {
          b.weight = static_cast<uint32_t>(n);
        } else if (!domains && k == "state" && value.GetString(&s) && ParseState(s)) {
          b.state = ParseState(s);
        } else if (!domains && k == "tags") {
          if (!value.is_array()) return bad("'tags' is not a list");
          std::vector<std::string> v;
          for (size_t t = 0; t < value.size(); ++t) {
            if (!value[t].GetString(&s) || !config::ValidTag(s)) return bad("a tag is not valid");
            v.emplace_back(s);
          }
          b.tags = std::move(v);
        } else {
          return bad(absl::StrCat("field '", std::string(k), "' is unknown or has a wrong value"));
        }
      }
      if (domains) {
        if (d.domain.empty()) return bad("a domain entry has no 'domain'");
        o.domains.push_back(std::move(d));
      } else {
        if (b.id.empty()) return bad("a backend entry has no 'id'");
        o.backends.push_back(std::move(b));
      }
    }
  }
  return o;
}

absl::StatusOr<Overlay> LoadOverlay(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Overlay{};
    return absl::UnavailableError(absl::StrFormat("cannot read %s: %s", path, strerror(errno)));
  }
  std::string text;
  char buf[16384];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0 && text.size() < (16u << 20)) text.append(buf, n);
  close(fd);
  absl::StatusOr<Overlay> o = OverlayFromJson(text);
  if (!o.ok()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s (changes made through the admin API): %s; fix or remove the file", path,
                        o.status().message()));
  }
  return o;
}

absl::Status SaveOverlay(const std::string& path, const Overlay& o) {
  const std::string tmp = path + ".tmp";
  const std::string text = OverlayToJson(o);
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrFormat("cannot write %s: %s", tmp, strerror(errno)));
  }
  bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = ok && fsync(fd) == 0;
  const int err = errno;
  close(fd);
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = ok ? errno : err;
    unlink(tmp.c_str());
    return absl::UnavailableError(absl::StrFormat("cannot write %s: %s", path, strerror(e)));
  }
  return absl::OkStatus();
}

}  // namespace ringway::proxy
