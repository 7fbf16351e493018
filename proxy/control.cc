// The control plane: start-up, reloads, the file watcher, shutdown (see control.h).
#include "proxy/control.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <future>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/log.h"
#include "core/mapped_code.h"
#include "core/socket.h"
#include "core/thread_name.h"
#include "core/timer.h"
#include "tls/tls.h"

namespace ringway::proxy {

using core::LogLevel;

namespace {

core::LogLevel ToCoreLevel(config::LogLevel l) {
  switch (l) {
    case config::LogLevel::kDebug:
      return LogLevel::kDebug;
    case config::LogLevel::kInfo:
      return LogLevel::kInfo;
    case config::LogLevel::kWarn:
      return LogLevel::kWarn;
    case config::LogLevel::kError:
      return LogLevel::kError;
  }
  return LogLevel::kInfo;
}

uint64_t UnixSeconds() { return static_cast<uint64_t>(time(nullptr)); }

// Each client can hold a second descriptor for its backend, and a spliced download a pipe (two
// more). With max_connections unset it is derived from the open-file limit (at most 10000 per
// worker) leaving room for pipes for a quarter of the connections (as HAProxy's maxpipes);
// set, the pipes get what its connections leave over.
void SizeConnections(config::Config* cfg, uint32_t workers, bool warn) {
  rlimit nofile{};
  getrlimit(RLIMIT_NOFILE, &nofile);
  const uint64_t fd_limit = nofile.rlim_cur == RLIM_INFINITY || nofile.rlim_cur == 0
                                ? uint64_t{1} << 20
                                : static_cast<uint64_t>(nofile.rlim_cur);
  const uint64_t reserve = 64 + 8ull * workers;  // listeners, rings, eventfds, logs
  const uint64_t per_worker = fd_limit > reserve ? (fd_limit - reserve) / workers : 2;
  const uint64_t fit = std::max<uint64_t>(per_worker / 2, 1);
  if (cfg->limits.max_connections == 0) {
    cfg->limits.max_connections =
        static_cast<uint32_t>(std::clamp<uint64_t>(per_worker * 2 / 5, 1, 10'000));
  } else if (warn && cfg->limits.max_connections > fit) {
    RW_LOG(LogLevel::kWarn,
           "open-file limit %llu allows about %llu connections per worker for %u workers, "
           "below global.limits.max_connections %u; raise it (ulimit -n) or lower "
           "max_connections",
           static_cast<unsigned long long>(fd_limit), static_cast<unsigned long long>(fit), workers,
           cfg->limits.max_connections);
  }
  const uint64_t conns = 2ull * cfg->limits.max_connections;
  const uint64_t left = per_worker > conns ? (per_worker - conns) / 2 : 0;
  cfg->limits.splice_pipes = static_cast<uint32_t>(
      std::min<uint64_t>(left, std::max<uint64_t>(cfg->limits.max_connections / 4, 1)));
}

// (splice is read at each response: it applies at a reload.)
bool SameBuffers(const config::Buffers& a, const config::Buffers& b) {
  return a.size == b.size && a.count == b.count;
}

// A listening socket for an admin server on `a` (SO_REUSEADDR; IPv6 only for an IPv6
// address), or -1 with errno set.
int ListenAdmin(const config::SocketAddress& a) {
  const sockaddr* addr = reinterpret_cast<const sockaddr*>(&a.storage);
  const int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (addr->sa_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  if (bind(fd, addr, a.len) != 0 || listen(fd, 128) != 0) {
    const int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

}  // namespace

absl::StatusOr<std::shared_ptr<Snapshot>> BuildSnapshot(config::Config cfg, const Overlay& overlay,
                                                        const CommandLine& cli,
                                                        const std::string& path) {
  if (absl::Status st = ApplyOverlay(overlay, &cfg); !st.ok()) {
    return absl::Status(st.code(),
                        absl::StrCat(StateFile(cfg, path),
                                     " (changes made through the admin API): ", st.message()));
  }
  // Backends given by host name get their addresses now, before ExpandTags copies them. One
  // that does not resolve stays down (its connects fail) until a reload or change resolves it.
  for (const std::string& unresolved : config::ResolveNames(&cfg)) {
    RW_LOG(LogLevel::kWarn, "%s; the backend stays down until its name resolves",
           unresolved.c_str());
  }
  config::ExpandTags(&cfg);
  if (cli.log_level) cfg.logging.level = *cli.log_level;
  if (cli.admin == "off") {
    cfg.admin.enabled = false;
  } else if (!cli.admin.empty()) {
    absl::StatusOr<config::SocketAddress> a = config::ParseSocketAddress(cli.admin);
    if (!a.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--admin ", cli.admin, ": ", a.status().message()));
    }
    cfg.admin.enabled = true;
    cfg.admin.bind = *std::move(a);
    if (!config::IsLoopback(cfg.admin.bind) && cfg.admin.token.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--admin ", cli.admin,
          " can be reached from other machines and no token is set: set global.admin.token "
          "in ",
          path, ", or use a 127.0.0.1 address"));
    }
  }
  // Certificates and keys are loaded and checked here, so that --validate and a reload refuse
  // what start-up would.
  absl::StatusOr<std::shared_ptr<const tls::ContextSet>> tls_set = tls::BuildContexts(cfg);
  if (!tls_set.ok()) return tls_set.status();
  auto snap = std::make_shared<Snapshot>(std::move(cfg));
  snap->tls->Publish(*std::move(tls_set));
  return snap;
}

absl::StatusOr<Loaded> LoadSnapshot(const std::string& path, const CommandLine& cli) {
  absl::StatusOr<config::Config> cfg = config::LoadFile(path);
  if (!cfg.ok()) return cfg.status();
  absl::StatusOr<Overlay> overlay = LoadOverlay(StateFile(*cfg, path));
  if (!overlay.ok()) return overlay.status();
  absl::StatusOr<std::shared_ptr<Snapshot>> snap = BuildSnapshot(*cfg, *overlay, cli, path);
  if (!snap.ok()) return snap.status();
  return Loaded{*std::move(cfg), *std::move(overlay), *std::move(snap)};
}

Control::Control(std::string config_path, CommandLine cli)
    : path_(std::move(config_path)), cli_(std::move(cli)) {}

Control::~Control() { Stop(); }

std::shared_ptr<const Snapshot> Control::Current() const {
  std::lock_guard<std::mutex> l(mu_);
  return current_;
}

void Control::ApplyLogging(const config::Config& cfg) {
  core::SetLogLevel(ToCoreLevel(cfg.logging.level));
  core::SetLogJson(cfg.logging.format == config::LogFormat::kJson);
}

// One socket per listener per worker (SO_REUSEPORT). Listeners `before` has too get -1: the
// workers keep theirs.
absl::StatusOr<std::vector<std::vector<int>>> Control::OpenListeners(const config::Config& cfg,
                                                                     const config::Config* before) {
  const size_t n = std::max<size_t>(workers_.size(), 1);
  std::vector<std::vector<int>> fds(n);
  auto close_all = [&] {
    for (auto& w : fds) {
      for (int fd : w) {
        if (fd >= 0) close(fd);
      }
    }
  };
  // Sockets a previous process handed over (binary upgrade) serve their listeners again.
  std::vector<std::vector<int>> handed(cfg.listeners.size());
  if (inherited_) {
    for (size_t i = 0; i < cfg.listeners.size(); ++i) {
      handed[i] = inherited_->Take(cfg.listeners[i].name, cfg.listeners[i].bind.text);
      if (handed[i].size() > n) {
        RW_LOG(LogLevel::kWarn,
               "upgrade: listener '%s' had %zu sockets and %zu workers take them now; "
               "connections waiting in the other %zu are reset",
               cfg.listeners[i].name.c_str(), handed[i].size(), n, handed[i].size() - n);
      }
    }
  }
  auto close_handed = [&] {
    for (auto& h : handed) {
      for (int fd : h) {
        if (fd >= 0) close(fd);
      }
    }
  };
  for (size_t w = 0; w < n; ++w) {
    for (size_t i = 0; i < cfg.listeners.size(); ++i) {
      const auto& l = cfg.listeners[i];
      bool kept = false;
      if (before) {
        for (const auto& b : before->listeners) kept = kept || SameListener(b, l);
      }
      if (kept) {
        fds[w].push_back(-1);
        continue;
      }
      if (w < handed[i].size()) {
        fds[w].push_back(std::exchange(handed[i][w], -1));
        continue;
      }
      absl::StatusOr<int> fd =
          core::Listen(reinterpret_cast<const sockaddr*>(&l.bind.storage), l.bind.len, 4096);
      if (!fd.ok()) {
        close_all();
        close_handed();
        return absl::UnavailableError(absl::StrFormat("cannot listen on %s (listener '%s'): %s",
                                                      l.bind.text, l.name, fd.status().message()));
      }
      fds[w].push_back(*fd);
    }
  }
  close_handed();
  return fds;
}

// Control keeps a duplicate of every listening socket the workers have, by listener: what a
// binary upgrade hands over. `fds` is what OpenListeners returned for `cfg` (-1: kept).
void Control::HoldListeners(const config::Config& cfg, const config::Config* before,
                            const std::vector<std::vector<int>>& fds) {
  std::vector<std::vector<int>> held(cfg.listeners.size());
  std::vector<bool> moved(held_.size(), false);
  for (size_t i = 0; i < cfg.listeners.size(); ++i) {
    bool kept = false;
    if (before) {
      for (size_t j = 0; j < before->listeners.size() && j < held_.size(); ++j) {
        if (!moved[j] && SameListener(before->listeners[j], cfg.listeners[i])) {
          held[i] = std::move(held_[j]);
          moved[j] = kept = true;
          break;
        }
      }
    }
    if (kept) continue;
    for (const auto& w : fds) {
      if (i < w.size() && w[i] >= 0) held[i].push_back(fcntl(w[i], F_DUPFD_CLOEXEC, 3));
    }
  }
  for (size_t j = 0; j < held_.size(); ++j) {
    if (moved[j]) continue;
    for (int fd : held_[j]) {
      if (fd >= 0) close(fd);
    }
  }
  held_ = std::move(held);
}

absl::Status Control::Start(Loaded loaded, Inherited* inherited) {
  inherited_ = inherited;
  struct Forget {  // the handed sockets are for start-up only
    Inherited** p;
    ~Forget() { *p = nullptr; }
  } forget{&inherited_};
  std::shared_ptr<Snapshot> snap = std::move(loaded.snap);
  base_ = std::move(loaded.base);
  overlay_ = std::move(loaded.overlay);
  ApplyLogging(snap->config);
  uint32_t n = cli_.workers ? cli_.workers : snap->config.workers;
  if (n == 0) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    n = cpus > 0 ? static_cast<uint32_t>(cpus) : 1;
  }
  // Take the hard open-file limit.
  rlimit nofile{};
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
  }
  SizeConnections(&snap->config, n, /*warn=*/true);

  // The access log has a descriptor of its own, so a reload or SIGUSR1 can put another file in
  // its place (dup3) under the workers' writes.
  access_path_ = snap->config.logging.access_log ? snap->config.logging.access_log_path : "";
  access_fd_ = access_path_.empty()
                   ? fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3)
                   : open(access_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (access_fd_ < 0) {
    return absl::UnavailableError(
        absl::StrFormat("cannot open access log %s: %s",
                        access_path_.empty() ? "(stdout)" : access_path_.c_str(), strerror(errno)));
  }
  snap->access_log_fd = access_fd_;

  workers_.resize(n);  // (sized first: OpenListeners opens one socket per worker)
  absl::StatusOr<std::vector<std::vector<int>>> fds = OpenListeners(snap->config, nullptr);
  if (!fds.ok()) {
    workers_.clear();
    return fds.status();
  }
  HoldListeners(snap->config, nullptr, *fds);
  for (const auto& l : snap->config.listeners) listening_.push_back(l.bind.text);
  std::shared_ptr<const Snapshot> shared = snap;
  {
    std::lock_guard<std::mutex> l(mu_);
    current_ = shared;
    admin_token_ = shared->config.admin.token;
  }
  // Each ring is created by the thread that uses it (SINGLE_ISSUER binds it to its creator).
  std::vector<std::future<absl::Status>> ready;
  for (uint32_t w = 0; w < n; ++w) {
    workers_[w] = std::make_unique<Worker>(shared, w, (*fds)[w]);
  }
  for (uint32_t w = 0; w < n; ++w) {
    auto promise = std::make_shared<std::promise<absl::Status>>();
    ready.push_back(promise->get_future());
    Worker* worker = workers_[w].get();
    threads_.emplace_back([worker, promise, w] {
      core::NameThisThread("rw-worker-" + std::to_string(w));
      absl::Status st = worker->Init();
      promise->set_value(st);
      if (st.ok()) worker->Run();
    });
  }
  absl::Status failed;
  for (auto& f : ready) {
    absl::Status st = f.get();
    if (!st.ok() && failed.ok()) {
      failed = absl::InternalError(absl::StrCat("worker start-up failed: ", st.message()));
    }
  }
  // Health checks start once the workers are up; until a check fails every backend is usable.
  if (failed.ok()) {
    auto prober = std::make_unique<health::Prober>(shared->config, shared->health.get());
    failed = prober->Start();
    std::lock_guard<std::mutex> l(mu_);
    prober_ = std::move(prober);
  }
  // Serving from here on: a reload may come as soon as the admin listener accepts.
  last_reload_ok_s_.store(UnixSeconds());
  started_ms_ = core::MonotonicMs();
  started_.store(failed.ok());
  if (failed.ok() && shared->config.admin.enabled) failed = StartAdmin(shared->config);
  if (!failed.ok()) {
    Stop();
    return failed;
  }
  if (shared->config.watch_config) {
    watch_stop_fd_ = eventfd(0, EFD_CLOEXEC);
    if (watch_stop_fd_ >= 0)
      watcher_ = std::thread([this] {
        core::NameThisThread("rw-watch");
        WatchLoop();
      });
  }
  return absl::OkStatus();
}

absl::Status Control::StartAdmin(const config::Config& cfg) {
  // The socket is made here (or taken from the process before an upgrade) and a duplicate
  // kept, for the next upgrade.
  int fd = inherited_ ? inherited_->TakeAdmin(cfg.admin.bind.text) : -1;
  absl::Status st;
  if (fd < 0) {
    fd = ListenAdmin(cfg.admin.bind);
    if (fd < 0) {
      st = absl::UnavailableError(
          absl::StrFormat("cannot listen on %s: %s", cfg.admin.bind.text, strerror(errno)));
    }
  }
  if (fd >= 0) {
    admin_held_ = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    admin_address_ = cfg.admin.bind.text;
    st = admin_.StartOnFd(fd, [this](const admin::Request& r) { return Handle(r); });
  }
  if (!st.ok()) {
    return absl::UnavailableError(absl::StrCat(
        "admin listener (global.admin.bind): ", st.message(),
        "; choose another address with global.admin.bind or --admin, or turn it off with "
        "--admin off"));
  }
  RW_LOG(LogLevel::kInfo, "admin API, metrics and dashboard on http://%s/",
         cfg.admin.bind.text.c_str());
  return StartMetricsListener(cfg);
}

// global.admin.metrics_bind: a second admin server with the read-only pages only. Its socket
// is handed over in a binary upgrade like the admin socket.
absl::Status Control::StartMetricsListener(const config::Config& cfg) {
  const config::SocketAddress& a = cfg.admin.metrics_bind;
  if (a.len == 0) return absl::OkStatus();
  int fd = inherited_ ? inherited_->TakeMetrics(a.text) : -1;
  absl::Status st;
  if (fd < 0) {
    fd = ListenAdmin(a);
    if (fd < 0) {
      st = absl::UnavailableError(
          absl::StrFormat("cannot listen on %s: %s", a.text, strerror(errno)));
    }
  }
  if (fd >= 0) {
    metrics_held_ = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    metrics_address_ = a.text;
    admin::ServerOptions opts;
    opts.thread_name = "rw-metrics";
    st = metrics_server_.StartOnFd(
        fd, [this](const admin::Request& r) { return HandleMetricsListener(r); }, opts);
  }
  if (!st.ok()) {
    return absl::UnavailableError(
        absl::StrCat("metrics listener (global.admin.metrics_bind): ", st.message(),
                     "; choose another address with global.admin.metrics_bind, or remove it"));
  }
  RW_LOG(LogLevel::kInfo, "metrics and health pages (read-only) also on http://%s/metrics",
         a.text.c_str());
  return absl::OkStatus();
}

Control::ReloadResult Control::Reload(const char* trigger) {
  ReloadResult result;
  if (draining_.load()) {
    result.error = "ringway is stopping";
    result.status = 503;
    result.generation = generation_.load();
    return result;
  }
  std::lock_guard<std::mutex> reload_lock(reload_mu_);
  result.generation = generation_.load();
  if (draining_.load() || !started_.load()) {
    result.error = "ringway is stopping";
    result.status = 503;
    return result;
  }
  // Whatever the outcome, the code that read the file leaves the resident set again.
  absl::Cleanup release = [] { core::ReleaseMappedCode(); };
  absl::StatusOr<Loaded> loaded = LoadSnapshot(path_, cli_);
  if (!loaded.ok()) {
    reloads_failed_.fetch_add(1);
    result.error = std::string(loaded.status().message());
    RW_LOG(LogLevel::kError, "reload (%s) refused, the running configuration stays: %s", trigger,
           result.error.c_str());
    return result;
  }
  if (!Commit(loaded->snap, "reload", trigger, &result)) return result;
  base_ = std::move(loaded->base);
  overlay_ = std::move(loaded->overlay);
  return result;
}

Control::ReloadResult Control::Change(const char* what,
                                      const std::function<absl::Status(Overlay*)>& edit) {
  ReloadResult result;
  if (draining_.load()) {
    result.error = "ringway is stopping";
    result.status = 503;
    return result;
  }
  std::lock_guard<std::mutex> reload_lock(reload_mu_);
  result.generation = generation_.load();
  if (draining_.load() || !started_.load()) {
    result.error = "ringway is stopping";
    result.status = 503;
    return result;
  }
  auto refuse = [&](const absl::Status& st) {
    result.error = std::string(st.message());
    switch (st.code()) {
      case absl::StatusCode::kNotFound:
        result.status = 404;
        break;
      case absl::StatusCode::kAlreadyExists:
      case absl::StatusCode::kFailedPrecondition:
        result.status = 409;
        break;
      case absl::StatusCode::kInvalidArgument:
        result.status = 422;
        break;
      default:
        result.status = 500;
    }
    return result;
  };
  absl::Cleanup release = [] { core::ReleaseMappedCode(); };  // (as after a reload)
  Overlay next = overlay_;
  if (absl::Status st = edit(&next); !st.ok()) return refuse(st);
  absl::StatusOr<std::shared_ptr<Snapshot>> snap = BuildSnapshot(base_, next, cli_, path_);
  if (!snap.ok()) return refuse(snap.status());
  // Saved before it runs: a change that could not be kept is not made.
  if (absl::Status st = SaveOverlay(StateFile(base_, path_), next); !st.ok()) {
    RW_LOG(LogLevel::kError, "%s: %s", what, std::string(st.message()).c_str());
    return refuse(absl::InternalError(st.message()));
  }
  if (!Commit(*std::move(snap), "change", what, &result)) {
    SaveOverlay(StateFile(base_, path_), overlay_).IgnoreError();  // (back to what runs)
    result.status = 500;
    return result;
  }
  overlay_ = std::move(next);
  return result;
}

bool Control::Commit(std::shared_ptr<Snapshot> snap, const char* kind, const char* trigger,
                     ReloadResult* out) {
  ReloadResult& result = *out;
  std::shared_ptr<const Snapshot> old = Current();
  config::Config& cfg = snap->config;
  const config::Config& was = old->config;
  // What a running process cannot change keeps its running value.
  if (!cli_.workers && cfg.workers != was.workers) {
    result.restart.push_back("global.workers");
    cfg.workers = was.workers;
  }
  if (!SameBuffers(cfg.buffers, was.buffers)) {
    result.restart.push_back("global.buffers");
    const config::Buffers asked = cfg.buffers;
    cfg.buffers = was.buffers;
    cfg.buffers.splice = asked.splice;
    cfg.buffers.splice_h2 = asked.splice_h2;
    cfg.buffers.reserve = std::min(asked.reserve, was.buffers.count);
  }
  if (cfg.admin.metrics_bind.text != was.admin.metrics_bind.text) {
    result.restart.push_back("global.admin.metrics_bind");
    cfg.admin.metrics_bind = was.admin.metrics_bind;
  }
  if (cfg.admin.enabled != was.admin.enabled || cfg.admin.bind.text != was.admin.bind.text) {
    result.restart.push_back("global.admin.bind");
    const std::string token = cfg.admin.token;
    cfg.admin = was.admin;
    cfg.admin.token = token;  // (the token does change)
  }
  if (cfg.metrics != was.metrics) {
    result.restart.push_back("global.metrics");
    cfg.metrics = was.metrics;
  }
  if (cfg.watch_config != was.watch_config) {
    result.restart.push_back("global.watch_config");
    cfg.watch_config = was.watch_config;
  }
  SizeConnections(&cfg, static_cast<uint32_t>(workers_.size()), /*warn=*/true);
  absl::StatusOr<std::vector<std::vector<int>>> fds = OpenListeners(cfg, &was);
  if (!fds.ok()) {
    reloads_failed_.fetch_add(1);
    result.error = std::string(fds.status().message());
    RW_LOG(LogLevel::kError, "%s (%s) refused, the running configuration stays: %s", kind, trigger,
           result.error.c_str());
    return false;
  }
  // The access log: another file goes in place of the descriptor the workers write to.
  const std::string access = cfg.logging.access_log ? cfg.logging.access_log_path : "";
  if (access != access_path_) {
    const int fd = access.empty()
                       ? fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3)
                       : open(access.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
      for (auto& w : *fds) {
        for (int f : w) {
          if (f >= 0) close(f);
        }
      }
      reloads_failed_.fetch_add(1);
      result.error = absl::StrFormat("cannot open access log %s: %s", access, strerror(errno));
      RW_LOG(LogLevel::kError, "%s (%s) refused, the running configuration stays: %s", kind,
             trigger, result.error.c_str());
      return false;
    }
    dup3(fd, access_fd_, O_CLOEXEC);
    close(fd);
    access_path_ = access;
  }
  snap->access_log_fd = access_fd_;
  HoldListeners(cfg, &was, *fds);
  snap->CarryHealth(*old);
  std::shared_ptr<const Snapshot> shared = snap;
  // The old prober stops before the new one starts, so no check result lands in a view that
  // is no longer read.
  std::unique_ptr<health::Prober> old_prober;
  {
    std::lock_guard<std::mutex> l(mu_);
    old_prober = std::move(prober_);
  }
  if (old_prober) old_prober->Stop();
  for (size_t w = 0; w < workers_.size(); ++w) workers_[w]->Adopt(shared, (*fds)[w]);
  auto prober = std::make_unique<health::Prober>(shared->config, shared->health.get());
  if (absl::Status st = prober->Start(); !st.ok()) {
    RW_LOG(LogLevel::kError, "%s (%s): health checks could not restart: %s", kind, trigger,
           std::string(st.message()).c_str());
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    current_ = shared;
    prober_ = std::move(prober);
    admin_token_ = shared->config.admin.token;
  }
  listening_.clear();
  for (const auto& l : cfg.listeners) listening_.push_back(l.bind.text);
  // A reload sets the file's log level; an API change keeps the running one (which the API
  // may have set).
  if (std::string_view(kind) == "reload") ApplyLogging(cfg);
  result.ok = true;
  result.generation = generation_.fetch_add(1) + 1;
  reloads_ok_.fetch_add(1);
  last_reload_ok_s_.store(UnixSeconds());
  RW_LOG(LogLevel::kInfo,
         "%s (%s): configuration %llu in use: %zu listeners, %zu servers, "
         "%zu upstreams%s%s",
         kind, trigger, static_cast<unsigned long long>(result.generation), cfg.listeners.size(),
         cfg.servers.size(), cfg.upstreams.size(),
         result.restart.empty() ? "" : "; these changes apply at the next restart: ",
         absl::StrJoin(result.restart, ", ").c_str());
  return true;
}

void Control::ReopenAccessLog() {
  std::lock_guard<std::mutex> reload_lock(reload_mu_);
  if (access_path_.empty()) return;
  const int fd = open(access_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    RW_LOG(LogLevel::kError, "SIGUSR1: cannot reopen the access log %s, keeping the old one: %s",
           access_path_.c_str(), strerror(errno));
    return;
  }
  dup3(fd, access_fd_, O_CLOEXEC);
  close(fd);
  RW_LOG(LogLevel::kInfo, "SIGUSR1: access log %s reopened", access_path_.c_str());
}

// global.watch_config: the file's directory is watched (editors and config managers replace
// files by renaming, which a watch on the file itself would miss); a change of the file's
// name there reloads once nothing has changed for 300 ms.
void Control::WatchLoop() {
  const int in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (in < 0) {
    RW_LOG(LogLevel::kError, "watch_config: inotify: %s", strerror(errno));
    return;
  }
  const size_t slash = path_.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path_.substr(0, slash + 1);
  const std::string name = slash == std::string::npos ? path_ : path_.substr(slash + 1);
  if (inotify_add_watch(in, dir.c_str(),
                        IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_MODIFY | IN_ATTRIB) < 0) {
    RW_LOG(LogLevel::kError, "watch_config: cannot watch %s: %s", dir.c_str(), strerror(errno));
    close(in);
    return;
  }
  RW_LOG(LogLevel::kInfo, "watch_config: reloading when %s changes", path_.c_str());
  uint64_t due_ms = 0;
  alignas(inotify_event) char buf[4096];
  for (;;) {
    pollfd p[2] = {{in, POLLIN, 0}, {watch_stop_fd_, POLLIN, 0}};
    int timeout = -1;
    if (due_ms) {
      const uint64_t now = core::MonotonicMs();
      timeout = due_ms > now ? static_cast<int>(due_ms - now) : 0;
    }
    const int r = poll(p, 2, timeout);
    if (r < 0 && errno != EINTR) break;
    if (p[1].revents) break;
    if (p[0].revents) {
      ssize_t n;
      while ((n = read(in, buf, sizeof(buf))) > 0) {
        for (ssize_t off = 0; off < n;) {
          const auto* ev = reinterpret_cast<const inotify_event*>(buf + off);
          if (ev->len && name == ev->name) due_ms = core::MonotonicMs() + 300;
          off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
        }
      }
    }
    if (due_ms && core::MonotonicMs() >= due_ms) {
      due_ms = 0;
      Reload("the file changed");
    }
  }
  close(in);
}

void Control::Stop() {
  if (draining_.exchange(true)) return;
  if (watcher_.joinable()) {
    uint64_t one = 1;
    ssize_t w = write(watch_stop_fd_, &one, sizeof(one));
    (void)w;
    watcher_.join();
  }
  if (watch_stop_fd_ >= 0) close(watch_stop_fd_);
  // The duplicates kept for an upgrade go first: with the workers' own sockets closed as they
  // drain, new connections are then refused rather than left in a backlog nobody accepts.
  {
    std::lock_guard<std::mutex> reload_lock(reload_mu_);
    for (auto& l : held_) {
      for (int fd : l) {
        if (fd >= 0) close(fd);
      }
    }
    held_.clear();
  }
  // The admin server stays up while the workers drain: /readyz says "draining" meanwhile, and
  // a reload or change is refused at once (draining_ is set, and no lock is held here).
  for (auto& w : workers_) {
    if (w) w->Drain();
  }
  for (auto& t : threads_) t.join();
  threads_.clear();
  admin_.Stop();
  metrics_server_.Stop();
  std::unique_ptr<health::Prober> prober;
  {
    std::lock_guard<std::mutex> l(mu_);
    prober = std::move(prober_);
  }
  if (prober) prober->Stop();
  if (access_fd_ >= 0) {
    close(access_fd_);
    access_fd_ = -1;
  }
  for (auto& l : held_) {
    for (int fd : l) {
      if (fd >= 0) close(fd);
    }
  }
  held_.clear();
  if (admin_held_ >= 0) close(admin_held_);
  admin_held_ = -1;
  if (metrics_held_ >= 0) close(metrics_held_);
  metrics_held_ = -1;
}

bool Control::Upgrade(const std::string& exe, const std::vector<std::string>& argv) {
  std::lock_guard<std::mutex> reload_lock(reload_mu_);  // (no reload while handing over)
  if (draining_.load()) return false;
  int sp[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0) {
    RW_LOG(LogLevel::kError, "upgrade: socketpair: %s", strerror(errno));
    return false;
  }
  // Everything the child needs is made before fork: after it, only async-signal-safe calls.
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_text;
  const std::string prefix = absl::StrCat(kUpgradeEnv, "=");
  for (char** e = environ; *e; ++e) {
    if (std::string_view(*e).substr(0, prefix.size()) != prefix) env_text.emplace_back(*e);
  }
  env_text.push_back(absl::StrCat(prefix, sp[1]));
  std::vector<char*> envp;
  for (auto& e : env_text) envp.push_back(e.data());
  envp.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    RW_LOG(LogLevel::kError, "upgrade: fork: %s", strerror(errno));
    close(sp[0]);
    close(sp[1]);
    return false;
  }
  if (pid == 0) {
    fcntl(sp[1], F_SETFD, 0);  // the one descriptor the new process keeps
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execve(exe.c_str(), args.data(), envp.data());
    _exit(127);
  }
  close(sp[1]);
  RW_LOG(LogLevel::kInfo, "upgrade: started %s as process %d; handing over the sockets",
         exe.c_str(), static_cast<int>(pid));
  std::vector<HandedListener> handed;
  {
    const auto snap = Current();
    for (size_t i = 0; i < snap->config.listeners.size() && i < held_.size(); ++i) {
      handed.push_back(
          {snap->config.listeners[i].name, snap->config.listeners[i].bind.text, held_[i]});
    }
  }
  absl::Status st =
      SendSockets(sp[0], handed, admin_held_, admin_address_, metrics_held_, metrics_address_);
  bool ready = false;
  if (st.ok()) {
    // The new process loads its config and starts its workers; it has a minute.
    pollfd p{sp[0], POLLIN, 0};
    char c = 0;
    ready = poll(&p, 1, 60'000) == 1 && read(sp[0], &c, 1) == 1 && c == 'R';
  }
  close(sp[0]);
  if (ready) {
    RW_LOG(LogLevel::kInfo, "upgrade: process %d serves; this one stops accepting and drains",
           static_cast<int>(pid));
    return true;
  }
  RW_LOG(LogLevel::kError,
         "upgrade: the new process %d did not start (%s); this one goes on serving (see the new "
         "process's messages above)",
         static_cast<int>(pid), st.ok() ? "no ready answer" : std::string(st.message()).c_str());
  kill(pid, SIGTERM);
  for (int i = 0; i < 50 && waitpid(pid, nullptr, WNOHANG) == 0; ++i) usleep(100'000);
  if (waitpid(pid, nullptr, WNOHANG) == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  return false;
}

}  // namespace ringway::proxy
