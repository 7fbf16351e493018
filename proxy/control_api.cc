// The management API: routing of admin requests, authorization, the JSON documents.
// Every endpoint is described in docs/admin-api.md.

#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "admin/dashboard.h"
#include "admin/json.h"
#include "admin/json_reader.h"
#include "core/log.h"
#include "core/timer.h"
#include "proxy/api_body.h"
#include "proxy/control.h"
#include "proxy/control_http.h"

#ifndef RINGWAY_VERSION
#define RINGWAY_VERSION "dev"
#endif

namespace ringway::proxy {

using api::Error;
using api::Json;
using api::Text;

namespace {

// A Host that names this machine: localhost, 127.0.0.0/8 or [::1], with or without a port. An
// HTTP/1.0 request without Host passes too (no browser sends one).
bool LocalHost(std::string_view host) {
  if (host.empty()) return true;
  if (host.front() == '[') return host.substr(0, 5) == "[::1]";
  host = host.substr(0, host.find(':'));
  if (host == "localhost") return true;
  if (host.substr(0, 4) != "127.") return false;
  for (char c : host) {
    if (!(c == '.' || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

// The endpoint a path names, as the metrics label it (never the raw path: labels stay bounded).
std::string EndpointPattern(std::string_view path) {
  for (std::string_view e :
       {"/", "/healthz", "/readyz", "/metrics", "/api/v1", "/api/v1/health", "/api/v1/metrics",
        "/api/v1/status", "/api/v1/upstreams", "/api/v1/config", "/api/v1/reload",
        "/api/v1/log_level", "/api/v1/domains", "/api/v1/backends"}) {
    if (path == e) return std::string(e);
  }
  if (path.substr(0, 16) == "/api/v1/domains/") {
    return path.size() > 7 && path.substr(path.size() - 7) == "/switch"
               ? "/api/v1/domains/{domain}/switch"
               : "/api/v1/domains/{domain}";
  }
  if (path.substr(0, 17) == "/api/v1/backends/") return "/api/v1/backends/{id}";
  return "other";
}

uint64_t MicrosSince(const timespec& t0) {
  timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return static_cast<uint64_t>((t1.tv_sec - t0.tv_sec) * 1'000'000 +
                               (t1.tv_nsec - t0.tv_nsec) / 1000);
}

// Compares in time independent of where the strings differ.
bool SameSecret(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char d = 0;
  for (size_t i = 0; i < a.size(); ++i) d |= static_cast<unsigned char>(a[i] ^ b[i]);
  return d == 0;
}

const char* LevelName(core::LogLevel l) {
  switch (l) {
    case core::LogLevel::kDebug:
      return "debug";
    case core::LogLevel::kInfo:
      return "info";
    case core::LogLevel::kWarn:
      return "warn";
    case core::LogLevel::kError:
      return "error";
  }
  return "info";
}

core::LogLevel CurrentLevel() {
  for (core::LogLevel l : {core::LogLevel::kDebug, core::LogLevel::kInfo, core::LogLevel::kWarn}) {
    if (core::LogEnabled(l)) return l;
  }
  return core::LogLevel::kError;
}

// A JSON object body, parsed; the error response otherwise.
bool ParseObject(const admin::Request& req, admin::JsonValue* out, admin::Response* error) {
  absl::StatusOr<admin::JsonValue> doc = admin::ParseJson(req.body, api::kBodyLimits);
  if (!doc.ok()) {
    *error = Error(400, absl::StrCat("the body is not valid JSON: ", doc.status().message()),
                   "send a JSON object such as {\"level\": \"debug\"}");
    return false;
  }
  if (!doc->is_object()) {
    *error = Error(400, "the body is not a JSON object",
                   "send a JSON object such as {\"level\": \"debug\"}");
    return false;
  }
  *out = *std::move(doc);
  return true;
}

}  // namespace

admin::Response Control::Handle(const admin::Request& req) {
  timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  std::string endpoint = "other";
  admin::Response resp;
  std::string token;
  {
    std::lock_guard<std::mutex> l(mu_);
    token = admin_token_;
  }
  const bool change = req.method != "GET" && req.method != "HEAD";
  constexpr std::string_view kBearer = "Bearer ";
  // (The scheme's name is case-insensitive: RFC 9110, section 11.1.)
  auto scheme_is_bearer = [&] {
    for (size_t i = 0; i < kBearer.size(); ++i) {
      const char c = req.authorization[i];
      if ((c >= 'A' && c <= 'Z' ? c + 32 : c) !=
          (kBearer[i] >= 'A' && kBearer[i] <= 'Z' ? kBearer[i] + 32 : kBearer[i])) {
        return false;
      }
    }
    return true;
  };
  const bool bearer = !token.empty() && req.authorization.size() > kBearer.size() &&
                      scheme_is_bearer() &&
                      SameSecret(req.authorization.substr(kBearer.size()), token);
  // Browsers: a page from elsewhere may send requests here (CSRF), or reach this listener
  // through a name of its own that resolves to 127.0.0.1 (DNS rebinding). So changes from
  // another origin are refused, and so is a request without the token whose Host does not
  // name this machine. With a token, changes need it, and so do reads from other machines.
  if (change && !req.origin.empty() &&
      req.origin != absl::StrCat("http://", std::string(req.host))) {
    resp = Error(403, "a change from another origin is refused",
                 "send changes from the dashboard on this address, or without an Origin field");
  } else if (!bearer && !LocalHost(req.host)) {
    resp = Error(403, absl::StrCat("Host '", std::string(req.host), "' is not this machine"),
                 token.empty() ? "use http://127.0.0.1:<port>/ or http://localhost:<port>/"
                               : "send Authorization: Bearer <global.admin.token>");
  } else if (!token.empty() && !bearer && (change || !req.loopback_peer)) {
    resp = Error(401,
                 req.authorization.empty() ? "this request needs the admin token"
                                           : "the admin token is not right",
                 "send Authorization: Bearer <global.admin.token>");
    resp.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"ringway\"");
  }
  if (resp.status != 401 && resp.status != 403) {
    resp = Route(req, &endpoint);
  } else {
    endpoint = EndpointPattern(req.path);
  }
  CountApi(endpoint, resp.status, MicrosSince(t0));
  return resp;
}

// The API's own metrics, by endpoint pattern (never the raw path: the labels stay bounded).
void Control::CountApi(const std::string& endpoint, uint16_t status, uint64_t micros) {
  std::lock_guard<std::mutex> l(api_mu_);
  ApiSeries* s = nullptr;
  for (auto& a : api_) {
    if (a->endpoint == endpoint) s = a.get();
  }
  if (!s) {
    api_.push_back(std::make_unique<ApiSeries>());
    s = api_.back().get();
    s->endpoint = endpoint;
  }
  ++s->by_class[metrics::StatusClass(status)];
  s->latency.Observe(micros);
}

// global.admin.metrics_bind: what a scraper or a load balancer's health check reads, and
// nothing else. No token and no Host check: these pages change nothing, and a scraper on
// another machine names this one by its own address.
admin::Response Control::HandleMetricsListener(const admin::Request& req) {
  timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  std::string endpoint = "other";
  admin::Response resp;
  const std::string_view path = req.path;
  if (path == "/metrics" || path == "/api/v1/metrics" || path == "/healthz" || path == "/readyz" ||
      path == "/api/v1/health") {
    resp = Route(req, &endpoint);  // (GET and HEAD only; another method gets 405)
  } else {
    resp = Error(404, absl::StrCat("no endpoint ", std::string(path), " on the metrics listener"),
                 "it serves GET /metrics, /api/v1/metrics, /healthz, /readyz and /api/v1/health; "
                 "the admin API and the dashboard are on global.admin.bind");
  }
  CountApi(endpoint, resp.status, MicrosSince(t0));
  return resp;
}

admin::Response Control::Route(const admin::Request& req, std::string* endpoint) {
  const std::string_view path = req.path;
  const std::string_view m = req.method;
  const bool get = m == "GET" || m == "HEAD";
  auto only = [&](std::string_view allowed) {
    admin::Response r =
        Error(405, absl::StrCat(std::string(m), " is not allowed on ", std::string(path)),
              absl::StrCat("use ", std::string(allowed)));
    r.headers.emplace_back("Allow", std::string(allowed));
    return r;
  };

  if (path == "/api/v1/health") {
    *endpoint = "/api/v1/health";
    return get ? Text(200, "OK") : only("GET");
  }
  if (path == "/healthz") {
    *endpoint = "/healthz";
    return get ? Text(200, "ok\n") : only("GET");
  }
  if (path == "/readyz") {
    *endpoint = "/readyz";
    if (!get) return only("GET");
    std::string why;
    return Ready(&why) ? Text(200, "ready\n") : Text(503, absl::StrCat("not ready: ", why, "\n"));
  }
  if (path == "/metrics" || path == "/api/v1/metrics") {
    *endpoint = std::string(path);
    if (!get) return only("GET");
    admin::Response r = Text(200, RenderMetrics());
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return r;
  }
  if (path == "/api/v1/upstreams") {
    *endpoint = "/api/v1/upstreams";
    return get ? Json(200, RenderUpstreams()) : only("GET");
  }
  if (path == "/api/v1/config") {
    *endpoint = "/api/v1/config";
    return get ? Json(200, RenderConfig(Current()->config)) : only("GET");
  }
  if (path == "/api/v1/status") {
    *endpoint = "/api/v1/status";
    if (!get) return only("GET");
    std::string why;
    admin::JsonWriter w;
    w.BeginObject()
        .Key("version")
        .String(RINGWAY_VERSION)
        .Key("config")
        .String(path_)
        .Key("generation")
        .Uint(generation_.load())
        .Key("workers")
        .Uint(workers_.size())
        .Key("uptime_seconds")
        .Uint((core::MonotonicMs() - started_ms_) / 1000)
        .Key("reloads")
        .BeginObject()
        .Key("ok")
        .Uint(reloads_ok_.load())
        .Key("failed")
        .Uint(reloads_failed_.load())
        .EndObject()
        .Key("ready")
        .Bool(Ready(&why))
        .Key("log_level")
        .String(LevelName(CurrentLevel()))
        .EndObject();
    return Json(200, w.Take());
  }
  if (path == "/api/v1/reload") {
    *endpoint = "/api/v1/reload";
    if (m != "POST") return only("POST");
    ReloadResult r = Reload("POST /api/v1/reload");
    if (!r.ok) {
      return Error(r.status ? r.status : 422, r.error,
                   r.status == 503
                       ? "ringway is draining"
                       : "fix the file and reload again; the running configuration is unchanged");
    }
    admin::JsonWriter w;
    w.BeginObject().Key("result").String("reloaded").Key("generation").Uint(r.generation);
    w.Key("restart_required").BeginArray();
    for (const auto& s : r.restart) w.String(s);
    w.EndArray().EndObject();
    return Json(200, w.Take());
  }
  if (path == "/api/v1/log_level") {
    *endpoint = "/api/v1/log_level";
    if (m == "PUT" || m == "POST") {
      admin::JsonValue obj;
      admin::Response error;
      if (!ParseObject(req, &obj, &error)) return error;
      std::string_view level;
      for (size_t i = 0; i < obj.size(); ++i) {
        if (obj.key(i) != "level") {
          return Error(400, absl::StrCat("unknown field '", std::string(obj.key(i)), "'"),
                       "send {\"level\": \"debug|info|warn|error\"}");
        }
        if (!obj[i].GetString(&level)) {
          return Error(400, "'level' must be a string", "send {\"level\": \"debug\"}");
        }
      }
      static constexpr std::pair<std::string_view, core::LogLevel> kLevels[] = {
          {"debug", core::LogLevel::kDebug},
          {"info", core::LogLevel::kInfo},
          {"warn", core::LogLevel::kWarn},
          {"error", core::LogLevel::kError}};
      bool found = false;
      for (const auto& [name, l] : kLevels) {
        if (name == level) {
          core::SetLogLevel(l);
          found = true;
        }
      }
      if (!found) {
        return Error(422,
                     level.empty()
                         ? std::string("'level' is missing")
                         : absl::StrCat("log level '", std::string(level), "' is not known"),
                     "use one of debug, info, warn, error");
      }
      RW_LOG(core::LogLevel::kInfo,
             "log level set to %s through the admin API (until the "
             "next reload or restart)",
             LevelName(CurrentLevel()));
    } else if (!get) {
      return only("GET, PUT");
    }
    admin::JsonWriter w;
    w.BeginObject().Key("level").String(LevelName(CurrentLevel())).EndObject();
    return Json(200, w.Take());
  }
  constexpr std::string_view kDomains = "/api/v1/domains";
  constexpr std::string_view kBackends = "/api/v1/backends";
  if (path.substr(0, kDomains.size()) == kDomains &&
      (path.size() == kDomains.size() || path[kDomains.size()] == '/')) {
    return DomainsApi(req, path.substr(kDomains.size()), endpoint);
  }
  if (path.substr(0, kBackends.size()) == kBackends &&
      (path.size() == kBackends.size() || path[kBackends.size()] == '/')) {
    return BackendsApi(req, path.substr(kBackends.size()), endpoint);
  }
  if (path == "/" || path == "/index.html") {
    *endpoint = "/";
    if (!get) return only("GET");
    admin::Response r;
    r.content_type = "text/html; charset=utf-8";
    r.body = std::string(admin::DashboardPage());
    // The page runs its own inline script and talks to this listener only.
    r.headers.emplace_back("Content-Security-Policy",
                           "default-src 'none'; script-src 'unsafe-inline'; style-src "
                           "'unsafe-inline'; connect-src 'self'; img-src 'self' data:; "
                           "base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    r.headers.emplace_back("X-Content-Type-Options", "nosniff");
    return r;
  }
  if (path == "/api/v1") {
    *endpoint = std::string(path);
    if (!get) return only("GET");
    admin::JsonWriter w;
    w.BeginObject().Key("ringway").String(RINGWAY_VERSION).Key("endpoints").BeginArray();
    for (const char* e : {"GET /api/v1/health", "GET /healthz", "GET /readyz", "GET /metrics",
                          "GET /api/v1/metrics", "GET /api/v1/status", "GET /api/v1/upstreams",
                          "GET /api/v1/config", "POST /api/v1/reload", "GET|PUT /api/v1/log_level",
                          "GET|POST /api/v1/domains", "GET|PUT|DELETE /api/v1/domains/{domain}",
                          "POST /api/v1/domains/{domain}/switch", "GET|POST /api/v1/backends",
                          "GET|PUT|DELETE /api/v1/backends/{id}"}) {
      w.String(e);
    }
    w.EndArray().EndObject();
    return Json(200, w.Take());
  }
  return Error(404, absl::StrCat("no endpoint ", std::string(path)),
               "see GET /api/v1 for the list, and docs/admin-api.md");
}

bool Control::Ready(std::string* why) const {
  if (draining_.load()) {
    *why = "draining";
    return false;
  }
  if (!started_.load()) {
    *why = "starting";
    return false;
  }
  if (first_round_.load()) return true;
  std::lock_guard<std::mutex> l(mu_);
  if (prober_ && !prober_->FirstRoundDone()) {
    *why = "the first round of health checks is not done";
    return false;
  }
  first_round_.store(true);
  return true;
}

}  // namespace ringway::proxy
