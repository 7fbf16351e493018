// The control plane: the running config and everything that changes it or reports on it, off
// the data path.
//
// It owns the workers, the health prober, the admin server (management API, metrics, health
// endpoints) and the config-file watcher. A reload, whatever asks for it (SIGHUP,
// POST /api/v1/reload, a change of the file with global.watch_config), goes one way: the file
// is loaded and checked exactly as `--validate` does; on any error the running snapshot stays
// and the error is logged (file:line:col) and counted. Otherwise a new Snapshot is built, the
// health state of unchanged backends is carried into it, new listeners are opened (a bind
// failure refuses the reload), and every worker is handed the snapshot at once; each takes it
// at its next loop turn (proxy/routing.h). The prober restarts on the new backends.
//
// Settings that cannot change in a running process (workers, buffers, the admin bind) keep
// their running values; the reload says so in its result and in the log.
//
//   proxy::Control control(path, cli);
//   RETURN_IF_ERROR(control.Start(std::move(snapshot)));
//   control.Reload("SIGHUP");
//   control.Stop();
#ifndef RINGWAY_PROXY_CONTROL_H_
#define RINGWAY_PROXY_CONTROL_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "admin/server.h"
#include "config/config.h"
#include "health/prober.h"
#include "proxy/state.h"
#include "proxy/upgrade.h"
#include "proxy/worker.h"

namespace ringway::proxy {

// What the command line sets over the file.
struct CommandLine {
  uint32_t workers = 0;  // --workers / WORKER_THREADS; 0: the config's, else one per CPU
  std::string admin;     // --admin ADDR|off; "" the config's
  // RINGWAY_LOG / RUST_LOG: over the file's global.log.level, at start and at every reload.
  std::optional<config::LogLevel> log_level;
};

// A config as it runs: the file's contents, the API's changes over them (state.h), and the
// snapshot built from both.
struct Loaded {
  config::Config base;  // as loaded from the file
  Overlay overlay;      // from the state file next to it
  std::shared_ptr<Snapshot> snap;
};

// Loads `path` and its state file and builds the snapshot: overlay applied, tags expanded, TLS
// contexts made, all checked as `--validate` checks them. `cli` settings apply over the file's.
absl::StatusOr<Loaded> LoadSnapshot(const std::string& path, const CommandLine& cli);

// The snapshot of `base` with `overlay` over it.
absl::StatusOr<std::shared_ptr<Snapshot>> BuildSnapshot(config::Config base, const Overlay& overlay,
                                                        const CommandLine& cli,
                                                        const std::string& path);

class Control {
 public:
  Control(std::string config_path, CommandLine cli);
  ~Control();
  Control(const Control&) = delete;
  Control& operator=(const Control&) = delete;

  // Opens the listeners (errors name them), starts the workers, the prober, the admin server
  // and the file watcher.
  // `inherited`: sockets a previous process handed over (upgrade.h), or null.
  absl::Status Start(Loaded loaded, Inherited* inherited = nullptr);

  // Binary upgrade (upgrade.h): starts `exe` with `argv` and hands it the listening sockets.
  // True once the new process serves: the caller then drains this one (Stop) and exits.
  bool Upgrade(const std::string& exe, const std::vector<std::string>& argv);
  // After an upgrade: the admin listeners are the new process's alone (it has the same
  // sockets).
  void StopAdmin() {
    admin_.Stop();
    metrics_server_.Stop();
  }

  struct ReloadResult {
    bool ok = false;
    std::string error;                 // why it was refused (file:line:col: ...)
    std::vector<std::string> restart;  // settings changed that apply only at restart
    uint64_t generation = 0;           // the running snapshot's number after the call
    uint16_t status = 0;               // for an API change refused: its HTTP status
  };
  // Thread-safe; one reload (or change) at a time.
  ReloadResult Reload(const char* trigger);
  // An API change: `edit` changes a copy of the overlay; the result is built, checked, saved
  // to the state file and published like a reload. Nothing changes when any step fails.
  // `status` gets the HTTP status of a refusal (400, 404, 409, 422, 500).
  ReloadResult Change(const char* what, const std::function<absl::Status(Overlay*)>& edit);

  // SIGUSR1: the access log file is opened again under its name.
  void ReopenAccessLog();

  // Stops accepting, finishes in-flight requests (up to global.timeouts.shutdown) and joins
  // every thread.
  void Stop();

  std::shared_ptr<const Snapshot> Current() const;
  uint32_t workers() const { return static_cast<uint32_t>(workers_.size()); }
  const std::vector<std::string>& listening() const { return listening_; }

 private:
  // Publishes `snap` (built from base + overlay) to every worker; false with result->error set
  // when it cannot run (listeners, access log).
  // `kind` and `trigger` name it in the log: "reload (SIGHUP)", "change (POST ...)".
  bool Commit(std::shared_ptr<Snapshot> snap, const char* kind, const char* trigger,
              ReloadResult* result);
  absl::StatusOr<std::vector<std::vector<int>>> OpenListeners(const config::Config& cfg,
                                                              const config::Config* before);
  void ApplyLogging(const config::Config& cfg);
  absl::Status StartAdmin(const config::Config& cfg);
  absl::Status StartMetricsListener(const config::Config& cfg);
  void HoldListeners(const config::Config& cfg, const config::Config* before,
                     const std::vector<std::vector<int>>& fds);
  void WatchLoop();

  // The admin API (control_api.cc) and the metrics page (control_metrics.cc).
  admin::Response Handle(const admin::Request& req);
  // The metrics listener (global.admin.metrics_bind): the read-only pages only, no token.
  admin::Response HandleMetricsListener(const admin::Request& req);
  void CountApi(const std::string& endpoint, uint16_t status, uint64_t micros);
  admin::Response Route(const admin::Request& req, std::string* endpoint);
  std::string RenderMetrics();
  std::string RenderConfig(const config::Config& cfg);
  std::string RenderUpstreams();
  admin::Response DomainsApi(const admin::Request& req, std::string_view rest,
                             std::string* endpoint);
  admin::Response BackendsApi(const admin::Request& req, std::string_view rest,
                              std::string* endpoint);
  bool Ready(std::string* why) const;

  const std::string path_;
  const CommandLine cli_;
  mutable std::mutex mu_;  // current_, prober_
  std::shared_ptr<const Snapshot> current_;
  config::Config base_;  // the file as last loaded (under reload_mu_)
  Overlay overlay_;      // the API's changes (under reload_mu_)
  std::unique_ptr<health::Prober> prober_;
  std::mutex reload_mu_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  int access_fd_ = -1;
  std::string access_path_;
  std::vector<std::string> listening_;
  admin::Server admin_;
  int admin_held_ = -1;  // a duplicate of the admin socket, for an upgrade
  std::string admin_address_;
  admin::Server metrics_server_;  // global.admin.metrics_bind; not started when unset
  int metrics_held_ = -1;         // a duplicate of its socket, for an upgrade
  std::string metrics_address_;
  std::vector<std::vector<int>> held_;  // per listener: duplicates of the workers' sockets
  Inherited* inherited_ = nullptr;      // during Start only
  std::string admin_token_;             // under mu_
  std::thread watcher_;
  int watch_stop_fd_ = -1;
  std::atomic<bool> draining_{false};
  std::atomic<bool> started_{false};
  mutable std::atomic<bool> first_round_{false};  // latched: a reload's new prober does not
                                                  // make ringway unready again
  uint64_t started_ms_ = 0;
  // Reload accounting, for the metrics.
  std::atomic<uint64_t> generation_{1};
  std::atomic<uint64_t> reloads_ok_{0}, reloads_failed_{0};
  std::atomic<uint64_t> last_reload_ok_s_{0};  // unix time of the last good load (start too)
  // The admin API's own counters (the admin servers' threads, under api_mu_).
  struct ApiSeries {
    std::string endpoint;
    uint64_t by_class[6] = {};
    metrics::Histogram latency;
  };
  std::vector<std::unique_ptr<ApiSeries>> api_;
  std::mutex api_mu_;
};

}  // namespace ringway::proxy

#endif  // RINGWAY_PROXY_CONTROL_H_
