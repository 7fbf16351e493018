// Traffic counters: kept per worker, written by that worker alone, summed when scraped.
//
// A counter is one 64-bit word that only its worker writes. The write is a relaxed load and a
// relaxed store (a plain add in the compiled code, no locked instruction); the admin thread
// reads it with a relaxed load, so a scrape sees each counter as it was at some instant and
// never a torn value. Nothing on the request path takes a lock or shares a cache line with
// another worker.
//
// Counters are grouped in series named by their labels (a route: server and upstream; an
// upstream; a listener). A process-wide registry gives each name an id that never changes, so
// a series keeps counting across reloads (a series whose server or upstream is gone stays in
// the output with its last values: Prometheus counters never go back). Each worker keeps its
// series in chunks it allocates the first time a snapshot names them, before any request can
// count there; the admin thread finds a chunk through an atomic pointer.
//
//   uint32_t id = metrics::Registry().Id(metrics::Kind::kUpstream, "web");   // at build time
//   worker_metrics.upstreams.Ensure(id);                                     // at adoption
//   worker_metrics.upstreams.At(id).retries.Add();                           // per request
#ifndef RINGWAY_PROXY_METRICS_H_
#define RINGWAY_PROXY_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace ringway::proxy::metrics {

class Counter {
 public:
  void Add(uint64_t n = 1) {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  uint64_t Get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

// Upper bounds of the latency buckets, in microseconds: 0.5 ms to 60 s.
inline constexpr std::array<uint64_t, 16> kBucketsUs = {
    500,     1'000,   2'500,     5'000,     10'000,    25'000,     50'000,     100'000,
    250'000, 500'000, 1'000'000, 2'500'000, 5'000'000, 10'000'000, 30'000'000, 60'000'000};

class Histogram {
 public:
  void Observe(uint64_t us) {
    size_t i = 0;
    while (i < kBucketsUs.size() && us > kBucketsUs[i]) ++i;
    buckets_[i].Add();
    sum_us_.Add(us);
  }
  // Per bucket (not cumulative); the last is above 60 s.
  uint64_t Bucket(size_t i) const { return buckets_[i].Get(); }
  uint64_t SumUs() const { return sum_us_.Get(); }

 private:
  std::array<Counter, kBucketsUs.size() + 1> buckets_;
  Counter sum_us_;
};

// Status classes of answered requests: 1xx..5xx, and 0 for a request that got no status (the
// client went away first).
inline size_t StatusClass(uint16_t status) {
  return status >= 100 && status < 600 ? status / 100 : 0;
}

// A server and the upstream it sent requests to ("-" for requests no upstream took: 404 for an
// unknown host, redirects, requests refused before routing).
struct RouteSeries {
  std::array<Counter, 6> requests;  // by StatusClass
};

struct UpstreamSeries {
  Histogram duration;  // request start to its last response byte (or its failure)
  Histogram connect;   // TCP (and TLS) connect to a backend
  Histogram ttfb;      // request sent to the response head
  Counter connect_failures;
  Counter retries;        // further attempts on another backend
  Counter budget_denied;  // retries the budget refused
  Counter no_backend;     // 503: no usable backend
  // HTTP/2 upstreams (protocol h2, h2c): streams by how they ended other than normally, and
  // connections opened and closed (open = opened - closed).
  Counter h2_reset_by_backend;  // RST_STREAM from the backend, or a malformed response
  Counter h2_refused;           // REFUSED_STREAM, or above a GOAWAY's last-stream-id
  Counter h2_cancelled;         // RST_STREAM CANCEL from ringway: the client left, a timeout
  Counter h2_conns_opened, h2_conns_closed;
};

// A backend (its upstream's name and its address): attempts sent to it and their latency.
struct BackendSeries {
  Counter started, ended;     // in flight: started - ended
  Counter ttfb_us, answered;  // time to the response head, summed over answered attempts
};

enum Proto : uint8_t { kHttp1 = 0, kHttp2 = 1 };

struct ListenerSeries {
  Counter bytes_in, bytes_out;            // on client connections, TLS records included
  std::array<Counter, 2> opened, closed;  // by Proto; open = opened - closed
};

enum class Kind : uint8_t { kRoute, kUpstream, kListener, kBackend };

// Names -> ids, process-wide. Taken when a snapshot is built and when scraped, never per
// request.
class SeriesRegistry {
 public:
  static constexpr uint32_t kChunk = 32;
  static constexpr uint32_t kMaxChunks = 64;  // 2048 series of each kind
  static constexpr uint32_t kMax = kChunk * kMaxChunks;

  // The id of a name (a route's is "server\x1fupstream"), assigned at first use. Past kMax
  // names of one kind, the last id is shared (and one warning is logged).
  uint32_t Id(Kind kind, std::string_view name);
  // Every name of a kind, by id.
  std::vector<std::string> Names(Kind kind) const;

 private:
  mutable std::mutex mu_;
  struct Table {
    absl::flat_hash_map<std::string, uint32_t> ids;
    std::vector<std::string> names;
  };
  std::array<Table, 4> tables_;
  bool warned_ = false;
};

SeriesRegistry& Registry();

// Series of one kind for one worker, in chunks allocated on first need and never freed.
template <typename T>
class SeriesTable {
 public:
  SeriesTable() {
    for (auto& c : chunks_) c.store(nullptr, std::memory_order_relaxed);
  }
  ~SeriesTable() {
    for (auto& c : chunks_) delete[] c.load(std::memory_order_relaxed);
  }
  SeriesTable(const SeriesTable&) = delete;
  SeriesTable& operator=(const SeriesTable&) = delete;

  // Owner: makes the chunk of `id` exist.
  void Ensure(uint32_t id) {
    auto& slot = chunks_[id / SeriesRegistry::kChunk];
    if (slot.load(std::memory_order_relaxed) == nullptr) {
      slot.store(new T[SeriesRegistry::kChunk], std::memory_order_release);
    }
  }
  // Owner, after Ensure(id).
  T& At(uint32_t id) {
    return chunks_[id / SeriesRegistry::kChunk].load(
        std::memory_order_relaxed)[id % SeriesRegistry::kChunk];
  }
  // Any thread: null when the worker never counted in that chunk.
  const T* Find(uint32_t id) const {
    if (id >= SeriesRegistry::kMax) return nullptr;
    const T* c = chunks_[id / SeriesRegistry::kChunk].load(std::memory_order_acquire);
    return c ? &c[id % SeriesRegistry::kChunk] : nullptr;
  }

 private:
  std::array<std::atomic<T*>, SeriesRegistry::kMaxChunks> chunks_;
};

// One worker's counters.
struct WorkerMetrics {
  SeriesTable<RouteSeries> routes;
  SeriesTable<UpstreamSeries> upstreams;
  SeriesTable<ListenerSeries> listeners;
  SeriesTable<BackendSeries> backends;
  std::array<std::array<Counter, 2>, 2> tls_handshakes;  // [0: TLS 1.2, 1: TLS 1.3][resumed]
  Counter tls_failed;
};

// Every worker's counters, for the scraper. A worker registers its counters when it is made;
// they stay (and keep their last values) for as long as the process runs.
class WorkerSet {
 public:
  void Add(std::shared_ptr<const WorkerMetrics> m) {
    std::lock_guard<std::mutex> l(mu_);
    all_.push_back(std::move(m));
  }
  std::vector<std::shared_ptr<const WorkerMetrics>> All() const {
    std::lock_guard<std::mutex> l(mu_);
    return all_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<const WorkerMetrics>> all_;
};

WorkerSet& Workers();

}  // namespace ringway::proxy::metrics

#endif  // RINGWAY_PROXY_METRICS_H_
