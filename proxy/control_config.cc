// GET /api/v1/config: the running configuration as JSON, secrets masked.
#include <string>

#include "admin/json.h"
#include "proxy/control.h"

namespace ringway::proxy {

namespace {

const char* AlgorithmName(config::Algorithm a) {
  switch (a) {
    case config::Algorithm::kRoundRobin:
      return "round_robin";
    case config::Algorithm::kRandom:
      return "random";
    case config::Algorithm::kLeastRequest:
      return "least_request";
    case config::Algorithm::kP2cEwma:
      return "p2c_ewma";
    case config::Algorithm::kMaglev:
      return "maglev";
    case config::Algorithm::kKetama:
      return "ketama";
  }
  return "round_robin";
}

void Strings(admin::JsonWriter& w, const std::vector<std::string>& v) {
  w.BeginArray();
  for (const auto& s : v) w.String(s);
  w.EndArray();
}

}  // namespace

std::string Control::RenderConfig(const config::Config& cfg) {
  admin::JsonWriter w;
  w.BeginObject();
  w.Key("source").String(cfg.source).Key("generation").Uint(generation_.load());
  w.Key("workers").Uint(workers_.size());
  w.Key("listeners").BeginArray();
  for (const auto& l : cfg.listeners) {
    w.BeginObject().Key("name").String(l.name).Key("bind").String(l.bind.text);
    w.Key("http2").Bool(l.http2).Key("h2c").Bool(l.h2c);
    w.Key("servers").BeginArray();
    for (uint32_t s : l.servers) w.String(cfg.servers[s].name);
    w.EndArray();
    if (l.tls.enabled) {
      w.Key("tls").BeginObject().Key("self_signed").Bool(l.tls.self_signed);
      w.Key("certificates").BeginArray();
      for (const auto& c : l.tls.certificates) {
        // Paths only: the key's content never leaves the process.
        w.BeginObject().Key("cert").String(c.cert).Key("key").String(c.key);
        w.Key("server_names");
        Strings(w, c.server_names);
        w.EndObject();
      }
      w.EndArray().Key("alpn");
      Strings(w, l.tls.alpn);
      w.Key("min_version").String(l.tls.min_version == config::TlsVersion::k13 ? "1.3" : "1.2");
      w.Key("client_ca").String(l.tls.ca).Key("session_tickets").Bool(l.tls.session_tickets);
      w.EndObject();
    }
    w.EndObject();
  }
  w.EndArray();
  w.Key("servers").BeginArray();
  for (const auto& s : cfg.servers) {
    w.BeginObject().Key("name").String(s.name).Key("server_names");
    Strings(w, s.server_names);
    w.Key("upstream")
        .String(s.upstream < cfg.upstreams.size() ? cfg.upstreams[s.upstream].name : std::string());
    w.Key("enabled_backends_tag").String(s.backends_tag);
    w.Key("default").Bool(s.default_server).Key("redirect_https").Bool(s.redirect_https);
    w.Key("hsts").String(s.hsts).Key("routes").BeginArray();
    for (const auto& r : s.routes) {
      w.BeginObject().Key("path_prefix").String(r.path_prefix);
      w.Key("upstream").String(cfg.upstreams[r.upstream].name);
      if (r.tries) w.Key("tries").Uint(r.tries);
      w.EndObject();
    }
    w.EndArray().EndObject();
  }
  w.EndArray();
  w.Key("upstreams").BeginArray();
  for (const auto& u : cfg.upstreams) {
    w.BeginObject().Key("name").String(u.name).Key("algorithm").String(AlgorithmName(u.algorithm));
    if (u.derived) {
      w.Key("tag").String(u.tag).Key("derived_from");
      if (u.derived_from >= 0) {
        w.String(cfg.upstreams[static_cast<size_t>(u.derived_from)].name);
      } else {
        w.Null();
      }
    }
    w.Key("keepalive").Uint(u.keepalive).Key("slow_start_ms").Uint(u.slow_start_ms);
    w.Key("servers").BeginArray();
    for (const auto& b : u.backends) {
      w.BeginObject().Key("id").String(b.id).Key("address").String(b.address.text);
      w.Key("weight").Uint(b.weight).Key("tags");
      Strings(w, b.tags);
      w.Key("state").String(StateName(b.state));
      if (!b.health_check_path.empty()) w.Key("health_check_path").String(b.health_check_path);
      w.EndObject();
    }
    w.EndArray();
    w.Key("health_check").BeginObject().Key("enabled").Bool(u.health.enabled);
    switch (u.health.type) {
      case config::HealthCheck::Type::kTcp:
        w.Key("type").String("tcp");
        break;
      case config::HealthCheck::Type::kHttp:
        w.Key("type").String("http");
        w.Key("method").String(u.health.method).Key("path").String(u.health.path);
        break;
      case config::HealthCheck::Type::kGrpc:
        w.Key("type").String("grpc").Key("service").String(u.health.service);
        break;
    }
    w.Key("protocol")
        .String(u.protocol == config::UpstreamProtocol::kH2    ? "h2"
                : u.protocol == config::UpstreamProtocol::kH2c ? "h2c"
                                                               : "http1");
    w.Key("interval_ms").Uint(u.health.interval_ms).Key("timeout_ms").Uint(u.health.timeout_ms);
    w.Key("rise").Uint(u.health.rise).Key("fall").Uint(u.health.fall).EndObject();
    w.Key("passive_health").BeginObject();
    w.Key("consecutive_failures").Uint(u.passive.consecutive_failures);
    w.Key("base_ejection_ms").Uint(u.passive.base_ejection_ms);
    w.Key("max_ejection_ms").Uint(u.passive.max_ejection_ms).EndObject();
    w.Key("retry").BeginObject().Key("tries").Uint(u.retry.tries);
    w.Key("budget_percent").Uint(u.retry.budget_percent);
    w.Key("min_retries").Uint(u.retry.min_retries).EndObject();
    w.Key("tls").BeginObject().Key("enabled").Bool(u.tls.enabled);
    if (u.tls.enabled) {
      w.Key("verify").Bool(u.tls.verify).Key("ca").String(u.tls.ca);
      w.Key("server_name").String(u.tls.server_name);
    }
    w.EndObject();
    w.EndObject();
  }
  w.EndArray();
  const auto& t = cfg.timeouts;
  w.Key("timeouts").BeginObject();
  w.Key("client_header_ms").Uint(t.client_header_ms).Key("client_body_ms").Uint(t.client_body_ms);
  w.Key("client_send_ms").Uint(t.client_send_ms).Key("keepalive_ms").Uint(t.keepalive_ms);
  w.Key("upstream_connect_ms").Uint(t.upstream_connect_ms);
  w.Key("upstream_response_ms").Uint(t.upstream_response_ms);
  w.Key("shutdown_ms").Uint(t.shutdown_ms).Key("tunnel_ms").Uint(t.tunnel_ms).EndObject();
  const auto& lim = cfg.limits;
  w.Key("limits").BeginObject();
  w.Key("max_request_line").Uint(lim.max_request_line);
  w.Key("max_header_size").Uint(lim.max_header_size).Key("max_headers").Uint(lim.max_headers);
  w.Key("max_body_size").Uint(lim.max_body_size);
  w.Key("max_connections").Uint(lim.max_connections).EndObject();
  w.Key("buffers").BeginObject().Key("size").Uint(cfg.buffers.size);
  w.Key("count").Uint(cfg.buffers.count).Key("reserve").Uint(cfg.buffers.reserve);
  w.Key("splice").Uint(cfg.buffers.splice);
  w.Key("splice_h2").Bool(cfg.buffers.splice_h2).EndObject();
  w.Key("http2").BeginObject();
  w.Key("max_concurrent_streams").Uint(cfg.http2.max_concurrent_streams);
  w.Key("initial_window").Uint(cfg.http2.initial_window);
  w.Key("connection_window").Uint(cfg.http2.connection_window);
  w.Key("max_frame_size").Uint(cfg.http2.max_frame_size).EndObject();
  w.Key("log").BeginObject().Key("level").String(config::LogLevelName(cfg.logging.level));
  w.Key("format").String(cfg.logging.format == config::LogFormat::kJson ? "json" : "text");
  w.Key("access_log").Bool(cfg.logging.access_log);
  w.Key("access_log_path").String(cfg.logging.access_log_path).EndObject();
  w.Key("admin").BeginObject().Key("enabled").Bool(cfg.admin.enabled);
  w.Key("bind").String(cfg.admin.bind.text);
  w.Key("metrics_bind").String(cfg.admin.metrics_bind.text);
  w.Key("token").String(cfg.admin.token.empty() ? "" : "********").EndObject();
  w.Key("metrics").Bool(cfg.metrics).Key("watch_config").Bool(cfg.watch_config);
  w.Key("schema").String(config::ShapeName(cfg.shape)).Key("source").String(cfg.source);
  w.EndObject();
  return w.Take();
}

}  // namespace ringway::proxy
