// The metrics page (Prometheus text exposition format 0.0.4), the upstreams document and the
// running config as JSON. Workers' counters are summed here, on the admin thread.
#include <cinttypes>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "admin/json.h"
#include "core/timer.h"
#include "proxy/control.h"

#ifndef RINGWAY_VERSION
#define RINGWAY_VERSION "dev"
#endif

namespace ringway::proxy {

namespace {

// A label value with \, " and newline escaped, as the format asks.
std::string Label(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string Seconds(uint64_t us) { return absl::StrFormat("%.6f", static_cast<double>(us) / 1e6); }

class Page {
 public:
  void Family(const std::string& name, const std::string& type, const std::string& help) {
    absl::StrAppend(&out_, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
  }
  void Sample(const std::string& name, const std::string& labels, uint64_t v) {
    absl::StrAppend(&out_, name, labels.empty() ? "" : "{", labels, labels.empty() ? "" : "}", " ",
                    v, "\n");
  }
  void SampleText(const std::string& name, const std::string& labels, const std::string& v) {
    absl::StrAppend(&out_, name, labels.empty() ? "" : "{", labels, labels.empty() ? "" : "}", " ",
                    v, "\n");
  }
  // Buckets as counted (per bucket), written cumulative.
  void Histogram(const std::string& name, const std::string& labels, const uint64_t* buckets,
                 uint64_t sum_us) {
    uint64_t acc = 0;
    const std::string sep = labels.empty() ? "" : ",";
    for (size_t i = 0; i < metrics::kBucketsUs.size(); ++i) {
      acc += buckets[i];
      absl::StrAppend(&out_, name, "_bucket{", labels, sep, "le=\"",
                      absl::StrFormat("%g", static_cast<double>(metrics::kBucketsUs[i]) / 1e6),
                      "\"} ", acc, "\n");
    }
    acc += buckets[metrics::kBucketsUs.size()];
    absl::StrAppend(&out_, name, "_bucket{", labels, sep, "le=\"+Inf\"} ", acc, "\n");
    SampleText(absl::StrCat(name, "_sum"), labels, Seconds(sum_us));
    Sample(absl::StrCat(name, "_count"), labels, acc);
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

constexpr size_t kBuckets = metrics::kBucketsUs.size() + 1;

struct HistSum {
  uint64_t b[kBuckets] = {};
  uint64_t sum_us = 0;
  void Add(const metrics::Histogram& h) {
    for (size_t i = 0; i < kBuckets; ++i) b[i] += h.Bucket(i);
    sum_us += h.SumUs();
  }
};

const char* kClassNames[6] = {"none", "1xx", "2xx", "3xx", "4xx", "5xx"};

// "server\x1fupstream" -> server="..",upstream=".."
std::string RouteLabels(const std::string& name) {
  const size_t sep = name.find('\x1f');
  return absl::StrCat("server=\"", Label(name.substr(0, sep)), "\",upstream=\"",
                      Label(sep == std::string::npos ? "-" : name.substr(sep + 1)), "\"");
}

}  // namespace

std::string Control::RenderMetrics() {
  Page p;
  const auto workers = metrics::Workers().All();
  metrics::SeriesRegistry& reg = metrics::Registry();
  const std::shared_ptr<const Snapshot> snap = Current();

  p.Family("ringway_build_info", "gauge", "The running ringway's version.");
  p.Sample("ringway_build_info", absl::StrCat("version=\"", Label(RINGWAY_VERSION), "\""), 1);

  // Requests by server, upstream and status class.
  {
    const std::vector<std::string> names = reg.Names(metrics::Kind::kRoute);
    std::vector<std::array<uint64_t, 6>> sums(names.size());
    for (size_t id = 0; id < names.size(); ++id) {
      sums[id].fill(0);
      for (const auto& w : workers) {
        if (const metrics::RouteSeries* s = w->routes.Find(static_cast<uint32_t>(id))) {
          for (size_t c = 0; c < 6; ++c) sums[id][c] += s->requests[c].Get();
        }
      }
    }
    for (const char* family : {"ringway_requests_total", "proxy_requests_total"}) {
      p.Family(family, "counter",
               "Requests answered, by server, upstream (\"-\": none took it) and status class "
               "(\"none\": the client left first).");
      for (size_t id = 0; id < names.size(); ++id) {
        const std::string labels = RouteLabels(names[id]);
        for (size_t c = 0; c < 6; ++c) {
          if (sums[id][c] == 0 && c != 2) continue;  // (2xx always, so each route shows)
          p.Sample(family, absl::StrCat(labels, ",code=\"", kClassNames[c], "\""), sums[id][c]);
        }
      }
    }
  }

  // Per upstream.
  {
    const std::vector<std::string> names = reg.Names(metrics::Kind::kUpstream);
    struct U {
      HistSum duration, connect, ttfb;
      uint64_t connect_failures = 0, retries = 0, denied = 0, no_backend = 0;
      uint64_t h2_reset = 0, h2_refused = 0, h2_cancelled = 0, h2_opened = 0, h2_closed = 0;
      uint64_t h2_open() const { return h2_opened - h2_closed; }
    };
    std::vector<U> us(names.size());
    for (size_t id = 0; id < names.size(); ++id) {
      for (const auto& w : workers) {
        if (const metrics::UpstreamSeries* s = w->upstreams.Find(static_cast<uint32_t>(id))) {
          us[id].duration.Add(s->duration);
          us[id].connect.Add(s->connect);
          us[id].ttfb.Add(s->ttfb);
          us[id].connect_failures += s->connect_failures.Get();
          us[id].retries += s->retries.Get();
          us[id].denied += s->budget_denied.Get();
          us[id].no_backend += s->no_backend.Get();
          us[id].h2_reset += s->h2_reset_by_backend.Get();
          us[id].h2_refused += s->h2_refused.Get();
          us[id].h2_cancelled += s->h2_cancelled.Get();
          us[id].h2_opened += s->h2_conns_opened.Get();
          us[id].h2_closed += s->h2_conns_closed.Get();
        }
      }
    }
    auto labels = [&](size_t id) { return absl::StrCat("upstream=\"", Label(names[id]), "\""); };
    for (const char* family : {"ringway_request_duration_seconds", "proxy_latency_seconds"}) {
      p.Family(family, "histogram",
               "Time from a request's head to the end of its response, by upstream.");
      for (size_t id = 0; id < names.size(); ++id) {
        p.Histogram(family, labels(id), us[id].duration.b, us[id].duration.sum_us);
      }
    }
    p.Family("ringway_upstream_connect_seconds", "histogram",
             "Time to connect to a backend (TCP, and TLS when the upstream uses it).");
    for (size_t id = 0; id < names.size(); ++id) {
      p.Histogram("ringway_upstream_connect_seconds", labels(id), us[id].connect.b,
                  us[id].connect.sum_us);
    }
    p.Family("ringway_upstream_ttfb_seconds", "histogram",
             "Time from an attempt's start to the backend's response head.");
    for (size_t id = 0; id < names.size(); ++id) {
      p.Histogram("ringway_upstream_ttfb_seconds", labels(id), us[id].ttfb.b, us[id].ttfb.sum_us);
    }
    const std::pair<const char*, uint64_t U::*> counters[] = {
        {"ringway_upstream_connect_failures_total", &U::connect_failures},
        {"ringway_retries_total", &U::retries},
        {"ringway_retry_budget_denied_total", &U::denied},
        {"ringway_no_usable_backend_total", &U::no_backend}};
    const char* helps[] = {"Connects to a backend that failed.",
                           "Attempts on another backend after one failed.",
                           "Retries the retry budget refused.",
                           "Requests answered 503 because no backend was usable."};
    for (size_t k = 0; k < 4; ++k) {
      p.Family(counters[k].first, "counter", helps[k]);
      for (size_t id = 0; id < names.size(); ++id) {
        p.Sample(counters[k].first, labels(id), us[id].*counters[k].second);
      }
    }
    p.Family("ringway_upstream_h2_streams_ended_total", "counter",
             "Streams to HTTP/2 backends that did not end normally, by how they ended: reset "
             "(by the backend, or a malformed response), refused (not processed: "
             "REFUSED_STREAM or GOAWAY), cancelled (by ringway: the client left, a timeout).");
    for (size_t id = 0; id < names.size(); ++id) {
      for (const auto& [how, v] : {std::pair<const char*, uint64_t>{"reset", us[id].h2_reset},
                                   {"refused", us[id].h2_refused},
                                   {"cancelled", us[id].h2_cancelled}}) {
        p.Sample("ringway_upstream_h2_streams_ended_total",
                 absl::StrCat(labels(id), ",outcome=\"", how, "\""), v);
      }
    }
    p.Family("ringway_upstream_h2_connections", "gauge",
             "Open HTTP/2 connections to the upstream's backends (all workers).");
    for (size_t id = 0; id < names.size(); ++id) {
      p.Sample("ringway_upstream_h2_connections", labels(id), us[id].h2_open());
    }
  }

  // Per listener.
  {
    const std::vector<std::string> names = reg.Names(metrics::Kind::kListener);
    struct L {
      uint64_t in = 0, out = 0, opened[2] = {}, closed[2] = {};
    };
    std::vector<L> ls(names.size());
    for (size_t id = 0; id < names.size(); ++id) {
      for (const auto& w : workers) {
        if (const metrics::ListenerSeries* s = w->listeners.Find(static_cast<uint32_t>(id))) {
          ls[id].in += s->bytes_in.Get();
          ls[id].out += s->bytes_out.Get();
          for (size_t k = 0; k < 2; ++k) {
            ls[id].opened[k] += s->opened[k].Get();
            ls[id].closed[k] += s->closed[k].Get();
          }
        }
      }
    }
    auto labels = [&](size_t id) { return absl::StrCat("listener=\"", Label(names[id]), "\""); };
    p.Family("ringway_received_bytes_total", "counter",
             "Bytes received from clients (TLS records included).");
    for (size_t id = 0; id < names.size(); ++id) {
      p.Sample("ringway_received_bytes_total", labels(id), ls[id].in);
    }
    p.Family("ringway_sent_bytes_total", "counter",
             "Bytes sent to clients (TLS records included).");
    for (size_t id = 0; id < names.size(); ++id) {
      p.Sample("ringway_sent_bytes_total", labels(id), ls[id].out);
    }
    const char* protos[2] = {"http1", "h2"};
    p.Family("ringway_connections", "gauge", "Client connections open, by listener and protocol.");
    for (size_t id = 0; id < names.size(); ++id) {
      for (size_t k = 0; k < 2; ++k) {
        const uint64_t open = ls[id].opened[k] >= ls[id].closed[k]
                                  ? ls[id].opened[k] - ls[id].closed[k]
                                  : 0;  // (a scrape between two workers' counts)
        p.Sample("ringway_connections", absl::StrCat(labels(id), ",protocol=\"", protos[k], "\""),
                 open);
      }
    }
    p.Family("ringway_connections_total", "counter",
             "Client connections, by listener and protocol (a connection that turns to h2 is "
             "counted under both).");
    for (size_t id = 0; id < names.size(); ++id) {
      for (size_t k = 0; k < 2; ++k) {
        p.Sample("ringway_connections_total",
                 absl::StrCat(labels(id), ",protocol=\"", protos[k], "\""), ls[id].opened[k]);
      }
    }
  }

  // TLS.
  {
    uint64_t hs[2][2] = {}, failed = 0;
    for (const auto& w : workers) {
      for (size_t v = 0; v < 2; ++v) {
        for (size_t r = 0; r < 2; ++r) hs[v][r] += w->tls_handshakes[v][r].Get();
      }
      failed += w->tls_failed.Get();
    }
    p.Family("ringway_tls_handshakes_total", "counter",
             "TLS handshakes with clients, by version and session resumption.");
    for (size_t v = 0; v < 2; ++v) {
      for (size_t r = 0; r < 2; ++r) {
        p.Sample("ringway_tls_handshakes_total",
                 absl::StrCat("version=\"", v ? "1.3" : "1.2", "\",resumed=\"",
                              r ? "true" : "false", "\""),
                 hs[v][r]);
      }
    }
    p.Family("ringway_tls_handshake_failures_total", "counter",
             "TLS handshakes with clients that failed.");
    p.Sample("ringway_tls_handshake_failures_total", "", failed);
  }

  // Backends of the running config: health, ejections, checks, in flight, latency.
  {
    const Snapshot& sn = *snap;
    const health::View& view = *sn.health;
    std::vector<std::string> labels(sn.backend_count);
    for (uint32_t b = 0; b < sn.backend_count; ++b) {
      labels[b] =
          absl::StrCat("upstream=\"", Label(sn.config.upstreams[sn.backend_upstream[b]].name),
                       "\",backend=\"", Label(sn.backends[b]->address.text), "\"");
    }
    for (const char* family : {"ringway_backend_up", "health_check_status"}) {
      p.Family(family, "gauge",
               "1 while the backend's health checks call it up (passive ejection aside), else "
               "0.");
      for (uint32_t b = 0; b < sn.backend_count; ++b) {
        p.Sample(family, labels[b], (view.State(b) & health::View::kUp) ? 1 : 0);
      }
    }
    p.Family("ringway_backend_ejected", "gauge", "1 while passive health keeps the backend out.");
    for (uint32_t b = 0; b < sn.backend_count; ++b) {
      p.Sample("ringway_backend_ejected", labels[b],
               (view.State(b) & health::View::kEjected) ? 1 : 0);
    }
    p.Family("ringway_backend_ejections_total", "counter", "Passive-health ejections.");
    for (uint32_t b = 0; b < sn.backend_count; ++b) {
      p.Sample("ringway_backend_ejections_total", labels[b], view.EjectionsTotal(b));
    }
    p.Family("ringway_health_checks_total", "counter", "Active health checks, by result.");
    for (uint32_t b = 0; b < sn.backend_count; ++b) {
      p.Sample("ringway_health_checks_total", absl::StrCat(labels[b], ",result=\"ok\""),
               view.ChecksOk(b));
      p.Sample("ringway_health_checks_total", absl::StrCat(labels[b], ",result=\"failed\""),
               view.ChecksFailed(b));
    }
    std::vector<uint64_t> started(sn.backend_count), ended(sn.backend_count),
        ttfb(sn.backend_count), answered(sn.backend_count);
    for (uint32_t b = 0; b < sn.backend_count; ++b) {
      for (const auto& w : workers) {
        if (const metrics::BackendSeries* s = w->backends.Find(sn.backend_series[b])) {
          started[b] += s->started.Get();
          ended[b] += s->ended.Get();
          ttfb[b] += s->ttfb_us.Get();
          answered[b] += s->answered.Get();
        }
      }
    }
    p.Family("ringway_backend_in_flight", "gauge", "Attempts sent to the backend, not ended.");
    for (uint32_t b = 0; b < sn.backend_count; ++b) {
      p.Sample("ringway_backend_in_flight", labels[b],
               started[b] >= ended[b] ? started[b] - ended[b] : 0);
    }
    p.Family("ringway_backend_requests_total", "counter", "Attempts sent to the backend.");
    for (uint32_t b = 0; b < sn.backend_count; ++b) {
      p.Sample("ringway_backend_requests_total", labels[b], started[b]);
    }
    p.Family("ringway_backend_ttfb_seconds", "summary",
             "Time to the backend's response head (sum and count; divide for the mean).");
    for (uint32_t b = 0; b < sn.backend_count; ++b) {
      p.SampleText("ringway_backend_ttfb_seconds_sum", labels[b], Seconds(ttfb[b]));
      p.Sample("ringway_backend_ttfb_seconds_count", labels[b], answered[b]);
    }
  }

  // Reloads.
  p.Family("ringway_config_reloads_total", "counter", "Configuration reloads, by result.");
  p.Sample("ringway_config_reloads_total", "result=\"ok\"", reloads_ok_.load());
  p.Sample("ringway_config_reloads_total", "result=\"failed\"", reloads_failed_.load());
  p.Family("ringway_config_last_reload_success_timestamp_seconds", "gauge",
           "When the running configuration was loaded (start-up or the last good reload).");
  p.Sample("ringway_config_last_reload_success_timestamp_seconds", "", last_reload_ok_s_.load());
  p.Family("ringway_config_generation", "gauge",
           "The running configuration's number: 1 at start, one more per good reload.");
  p.Sample("ringway_config_generation", "", generation_.load());

  // The admin API itself.
  {
    std::lock_guard<std::mutex> l(api_mu_);
    p.Family("api_requests_total", "counter", "Admin API requests, by endpoint and status class.");
    for (const auto& a : api_) {
      for (size_t c = 0; c < 6; ++c) {
        if (a->by_class[c] == 0) continue;
        p.Sample(
            "api_requests_total",
            absl::StrCat("endpoint=\"", Label(a->endpoint), "\",code=\"", kClassNames[c], "\""),
            a->by_class[c]);
      }
    }
    p.Family("api_latency_seconds", "histogram", "Admin API request latency, by endpoint.");
    for (const auto& a : api_) {
      uint64_t b[kBuckets];
      for (size_t i = 0; i < kBuckets; ++i) b[i] = a->latency.Bucket(i);
      p.Histogram("api_latency_seconds", absl::StrCat("endpoint=\"", Label(a->endpoint), "\""), b,
                  a->latency.SumUs());
    }
  }
  return p.Take();
}

std::string Control::RenderUpstreams() {
  const std::shared_ptr<const Snapshot> snap = Current();
  const Snapshot& sn = *snap;
  const auto workers = metrics::Workers().All();
  admin::JsonWriter w;
  w.BeginArray();
  for (uint32_t u = 0; u < sn.config.upstreams.size(); ++u) {
    const config::Upstream& up = sn.config.upstreams[u];
    w.BeginObject().Key("name").String(up.name);
    // An upstream made for a tag (enabled_backends_tag): which tag, of which upstream.
    w.Key("tag");
    if (up.derived) {
      w.String(up.tag);
    } else {
      w.Null();
    }
    w.Key("derived_from");
    if (up.derived && up.derived_from >= 0) {
      w.String(sn.config.upstreams[static_cast<size_t>(up.derived_from)].name);
    } else {
      w.Null();
    }
    w.Key("backends").BeginArray();
    for (uint32_t i = 0; i < up.backends.size(); ++i) {
      const uint32_t b = sn.backend_base[u] + i;
      uint64_t started = 0, ended = 0, ttfb = 0, answered = 0;
      for (const auto& wk : workers) {
        if (const metrics::BackendSeries* s = wk->backends.Find(sn.backend_series[b])) {
          started += s->started.Get();
          ended += s->ended.Get();
          ttfb += s->ttfb_us.Get();
          answered += s->answered.Get();
        }
      }
      const uint32_t state = sn.health->State(b);
      w.BeginObject()
          .Key("id")
          .String(up.backends[i].id)
          .Key("state")
          .String(StateName(up.backends[i].state))
          .Key("address")
          .String(up.backends[i].address.text)
          .Key("weight")
          .Uint(up.backends[i].weight)
          .Key("health")
          .String((state & health::View::kUp) ? "up" : "down")
          .Key("ejected")
          .Bool(state & health::View::kEjected)
          .Key("ejections")
          .Uint(sn.health->EjectionsTotal(b))
          .Key("in_flight")
          .Uint(started >= ended ? started - ended : 0)
          .Key("requests")
          .Uint(started)
          .Key("mean_ttfb_ms");
      if (answered) {
        w.Double(static_cast<double>(ttfb) / static_cast<double>(answered) / 1000.0);
      } else {
        w.Null();
      }
      w.EndObject();
    }
    w.EndArray().EndObject();
  }
  w.EndArray();
  return w.Take();
}

}  // namespace ringway::proxy
