// ringway: command line, start-up, signals and shutdown.
//
// The main thread loads and validates the config, opens every listening socket (one per
// listener per worker, SO_REUSEPORT) so that bind errors are reported before anything runs,
// starts the workers, then waits for SIGTERM/SIGINT and drains them.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "config/config.h"
#include "core/log.h"
#include "core/mapped_code.h"
#include "core/ring.h"
#include "core/socket.h"
#include "health/prober.h"
#include "proxy/cli.h"
#include "proxy/control.h"
#include "proxy/upgrade.h"
#include "proxy/worker.h"
#include "tls/tls.h"

#ifndef RINGWAY_VERSION
#define RINGWAY_VERSION "dev"
#endif

namespace {

using ringway::core::LogLevel;

constexpr const char* kDefaultConfig = "/etc/ringway/ringway.yaml";

void PrintHelp() {
  std::printf(
      "ringway %s: an io_uring reverse proxy and load balancer\n"
      "\n"
      "usage: ringway [--config FILE] [--workers N] [--validate] [--daemon] [--pid-file FILE]\n"
      "               [--admin ADDR|off]\n"
      "       ringway config print [--config FILE]\n"
      "\n"
      "  -c, --config FILE   configuration file (env CONFIG_PATH; default\n"
      "                      %s, else config/default.yaml,\n"
      "                      config.yaml or config.toml in the working directory):\n"
      "                      ringway's own YAML, or the files of the proxies it\n"
      "                      replaces as written (server/backends YAML, services\n"
      "                      YAML, virtual-hosts TOML); `config print` shows any of\n"
      "                      them in ringway's own schema\n"
      "  -w, --workers N     worker threads, one ring each (env WORKER_THREADS;\n"
      "                      default: the config's global.workers, else one per CPU)\n"
      "  -t, --validate      check the configuration and exit: 0 valid, 1 invalid\n"
      "  -d, --daemon        run in the background: returns 0 once ringway serves, 1 if\n"
      "                      it could not start (its output goes where this one's does)\n"
      "  -p, --pid-file FILE write the process id to FILE once serving; removed at exit\n"
      "      --upgrade       with --pid-file: binary upgrade of the ringway running there (a\n"
      "                      new process of this binary takes its sockets; it drains)\n"
      "      --admin ADDR    serve the admin API, metrics and dashboard on ADDR (env\n"
      "                      RINGWAY_ADMIN; default: global.admin.bind, else\n"
      "                      127.0.0.1:9901); --admin off: none\n"
      "  -v, --version       print the version and exit\n"
      "  -h, --help          print this help and exit\n"
      "\n"
      "Environment: RINGWAY_LOG (trace, debug, info, warn, error) sets the log level over\n"
      "the file's; RUST_LOG is read too, as the earlier proxies read it.\n"
      "\n"
      "Signals: SIGTERM or SIGINT stop accepting, finish in-flight requests (up to\n"
      "global.timeouts.shutdown) and exit 0. SIGHUP reloads the configuration file (a\n"
      "file with errors is refused and the running configuration stays). SIGUSR1\n"
      "reopens the access log file (after logrotate has moved it). SIGUSR2 starts the\n"
      "binary at this path again and hands it the listening sockets (binary upgrade).\n"
      "Under systemd (Type=notify, NOTIFY_SOCKET set) ringway reports READY=1 once it\n"
      "serves, RELOADING=1 during SIGHUP and STOPPING=1 when it begins to stop.\n",
      RINGWAY_VERSION, kDefaultConfig);
}

bool ParseWorkers(const char* s, uint32_t* out) {
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(s, &end, 10);
  if (errno || end == s || *end != '\0' || v < 1 || v > 1024) return false;
  *out = static_cast<uint32_t>(v);
  return true;
}

// systemd's readiness protocol (sd_notify(3)): one datagram to $NOTIFY_SOCKET, an abstract
// socket when the name starts with '@'. Nothing happens without the variable.
void Notify(const char* state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || (path[0] != '/' && path[0] != '@') || std::strlen(path) < 2) return;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const size_t len = std::strlen(path);
  if (len >= sizeof(addr.sun_path)) return;
  std::memcpy(addr.sun_path, path, len);
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';
  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  const socklen_t alen = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len);
  if (sendto(fd, state, std::strlen(state), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr),
             alen) < 0) {
    RW_LOG(LogLevel::kWarn, "NOTIFY_SOCKET %s: %s", path, strerror(errno));
  }
  close(fd);
}

// The pid file is written whole under a temporary name and renamed into place, so a reader
// never sees half of it.
bool WritePidFile(const std::string& path) {
  const std::string tmp = path + ".tmp";
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  const std::string text = std::to_string(getpid()) + "\n";
  const bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
    unlink(tmp.c_str());
    return false;
  }
  return true;
}

// --daemon: the parent waits on a pipe until the child serves (one byte) or gives up (the pipe
// closes without one), and exits 0 or 1 accordingly. The child leaves the terminal's session.
int g_ready_fd = -1;

void Daemonize() {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) {
    std::fprintf(stderr, "ringway: --daemon: pipe: %s\n", strerror(errno));
    std::exit(1);
  }
  const pid_t pid = fork();
  if (pid < 0) {
    std::fprintf(stderr, "ringway: --daemon: fork: %s\n", strerror(errno));
    std::exit(1);
  }
  if (pid > 0) {
    close(p[1]);
    char c = 0;
    ssize_t n;
    do {
      n = read(p[0], &c, 1);
    } while (n < 0 && errno == EINTR);
    std::_Exit(n == 1 ? 0 : 1);
  }
  close(p[0]);
  g_ready_fd = p[1];
  setsid();
  if (const int null = open("/dev/null", O_RDONLY | O_CLOEXEC); null >= 0) {
    dup2(null, STDIN_FILENO);
    close(null);
  }
}

void TellParentReady() {
  if (g_ready_fd < 0) return;
  const char c = 1;
  ssize_t n = write(g_ready_fd, &c, 1);
  (void)n;
  close(g_ready_fd);
  g_ready_fd = -1;
}

}  // namespace

// The pid in a pid file, or 0.
pid_t ReadPidFile(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "re");
  if (!f) return 0;
  long pid = 0;
  if (std::fscanf(f, "%ld", &pid) != 1) pid = 0;
  std::fclose(f);
  return static_cast<pid_t>(pid);
}

// `ringway --upgrade --pid-file FILE`: asks the running ringway for a binary upgrade and waits
// until a new process has taken over and the old one has gone.
int RequestUpgrade(const std::string& pid_file) {
  if (pid_file.empty()) {
    std::fprintf(stderr, "ringway: --upgrade needs --pid-file FILE, the running ringway's\n");
    return 1;
  }
  const pid_t old = ReadPidFile(pid_file);
  if (old <= 0 || kill(old, 0) != 0) {
    std::fprintf(stderr, "ringway: --upgrade: no running ringway in %s\n", pid_file.c_str());
    return 1;
  }
  const std::string status = pid_file + ".upgrade";
  unlink(status.c_str());
  if (kill(old, SIGUSR2) != 0) {
    std::fprintf(stderr, "ringway: --upgrade: cannot signal %d: %s\n", static_cast<int>(old),
                 strerror(errno));
    return 1;
  }
  // The new process has a minute to start; the old one then drains (global.timeouts.shutdown).
  for (int i = 0; i < 1200; ++i) {
    usleep(100'000);
    const pid_t now = ReadPidFile(pid_file);
    if (now > 0 && now != old && kill(now, 0) == 0) {
      std::printf("ringway: process %d took over from %d, which is draining\n",
                  static_cast<int>(now), static_cast<int>(old));
      return 0;
    }
    if (FILE* f = std::fopen(status.c_str(), "re")) {
      char line[256] = {};
      if (!std::fgets(line, sizeof(line), f)) line[0] = '\0';
      std::fclose(f);
      unlink(status.c_str());
      std::fprintf(stderr, "ringway: --upgrade: %s (process %d goes on serving)\n",
                   std::string(line, strcspn(line, "\n")).c_str(), static_cast<int>(old));
      return 1;
    }
    if (kill(old, 0) != 0) break;
  }
  std::fprintf(stderr,
               "ringway: --upgrade: no new process took over; the old one (%d) still serves if "
               "it runs: see its log\n",
               static_cast<int>(old));
  return 1;
}

int main(int argc, char** argv) {
  // What a binary upgrade runs again: this path (where a package puts the new binary) with
  // these arguments.
  std::string self_exe;
  {
    char buf[4096];
    const ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    if (n > 0) self_exe.assign(buf, static_cast<size_t>(n));
  }
  if (argc >= 2 && std::string_view(argv[1]) == "config") {
    return ringway::proxy::ConfigCommand(std::vector<std::string>(argv + 2, argv + argc));
  }
  std::vector<std::string> self_args;
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    if (a != "-d" && a != "--daemon") self_args.push_back(a);  // (detached already)
  }
  bool upgrade = false;
  std::string config_path;
  uint32_t workers = 0;
  bool validate = false;
  bool daemon = false;
  std::string pid_file;
  std::string admin;
  if (const char* env = std::getenv("CONFIG_PATH"); env && *env) config_path = env;
  if (const char* env = std::getenv("RINGWAY_ADMIN"); env && *env) admin = env;
  if (const char* env = std::getenv("WORKER_THREADS"); env && *env) {
    if (!ParseWorkers(env, &workers)) {
      std::fprintf(stderr, "ringway: WORKER_THREADS must be a number from 1 to 1024, got '%s'\n",
                   env);
      return 1;
    }
  }
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* name) -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "ringway: %s needs a value (see --help)\n", name);
        std::exit(1);
      }
      return argv[++i];
    };
    if (a == "-c" || a == "--config") {
      config_path = value("--config");
    } else if (a.rfind("--config=", 0) == 0) {
      config_path = a.substr(9);
    } else if (a == "-w" || a == "--workers") {
      const char* v = value("--workers");
      if (!ParseWorkers(v, &workers)) {
        std::fprintf(stderr, "ringway: --workers must be a number from 1 to 1024, got '%s'\n", v);
        return 1;
      }
    } else if (a == "-t" || a == "--validate") {
      validate = true;
    } else if (a == "-d" || a == "--daemon") {
      daemon = true;
    } else if (a == "-p" || a == "--pid-file") {
      pid_file = value("--pid-file");
    } else if (a.rfind("--pid-file=", 0) == 0) {
      pid_file = a.substr(11);
    } else if (a == "--upgrade") {
      upgrade = true;
    } else if (a == "--admin") {
      admin = value("--admin");
    } else if (a.rfind("--admin=", 0) == 0) {
      admin = a.substr(8);
    } else if (a == "-v" || a == "--version") {
      std::printf("ringway %s\n", RINGWAY_VERSION);
      return 0;
    } else if (a == "-h" || a == "--help") {
      PrintHelp();
      return 0;
    } else {
      std::fprintf(stderr, "ringway: unknown argument '%s' (see --help)\n", argv[i]);
      return 1;
    }
  }
  if (upgrade) return RequestUpgrade(pid_file);
  if (config_path.empty()) {
    config_path = ringway::proxy::FindDefaultConfig();
    if (config_path.empty()) {
      std::fprintf(stderr, "ringway: %s\n", ringway::proxy::NoDefaultConfigMessage().c_str());
      return 1;
    }
    if (config_path != kDefaultConfig) {
      std::fprintf(stderr, "ringway: no --config given; reading %s\n", config_path.c_str());
    }
  }
  absl::StatusOr<ringway::proxy::LogFromEnv> log_env =
      ringway::proxy::LogLevelFromEnv(std::getenv("RINGWAY_LOG"), std::getenv("RUST_LOG"));
  if (!log_env.ok()) {
    std::fprintf(stderr, "ringway: %s\n", std::string(log_env.status().message()).c_str());
    return 1;
  }
  if (!log_env->notice.empty()) std::fprintf(stderr, "%s\n", log_env->notice.c_str());

  // Started by a running ringway for a binary upgrade: its sockets come first.
  std::unique_ptr<ringway::proxy::Inherited> inherited;
  int upgrade_fd = -1;
  if (const char* env = std::getenv(ringway::proxy::kUpgradeEnv); env && *env) {
    upgrade_fd = std::atoi(env);
    unsetenv(ringway::proxy::kUpgradeEnv);
    fcntl(upgrade_fd, F_SETFD, FD_CLOEXEC);
    absl::StatusOr<ringway::proxy::Inherited> got = ringway::proxy::ReceiveSockets(upgrade_fd);
    if (!got.ok()) {
      std::fprintf(stderr, "ringway: %s\n", std::string(got.status().message()).c_str());
      return 1;
    }
    inherited = std::make_unique<ringway::proxy::Inherited>(*std::move(got));
  }

  ringway::proxy::CommandLine cli;
  cli.workers = workers;
  cli.admin = admin;
  if (log_env->set) cli.log_level = log_env->level;
  // What the loader and the static initialisers touched leaves the resident set before the
  // configuration is read, so that the two do not add up in the peak (core/mapped_code.h).
  ringway::core::ReleaseMappedCode();
  absl::StatusOr<ringway::proxy::Loaded> loaded = ringway::proxy::LoadSnapshot(config_path, cli);
  if (!loaded.ok()) {
    std::fprintf(stderr, "ringway: %s\n", std::string(loaded.status().message()).c_str());
    return 1;
  }
  const ringway::config::Config& cfg = loaded->snap->config;
  const bool uses_tls = std::any_of(cfg.listeners.begin(), cfg.listeners.end(),
                                    [](const auto& l) { return l.tls.enabled; }) ||
                        std::any_of(cfg.upstreams.begin(), cfg.upstreams.end(),
                                    [](const auto& u) { return u.tls.enabled; });
  if (uses_tls && ringway::tls::UsingFallbackLibrary()) {
    std::fprintf(stderr,
                 "ringway: WARNING: this binary links Debian's libwolfssl, built without "
                 "assembly: TLS runs many times slower. Rebuild with autoconf, automake, "
                 "libtool and dpkg-dev installed so that wolfSSL is built from source.\n");
  }
  for (const auto& u : cfg.upstreams) {
    if (u.tls.enabled && u.tls.verify && u.tls.server_name.empty() && u.tls.ca.empty()) {
      std::fprintf(stderr,
                   "ringway: warning: upstream '%s' verifies its backends' certificates against "
                   "the system's CAs but checks no name, so any publicly trusted certificate "
                   "passes; set tls: {server_name: NAME} or a private tls: {ca: FILE}\n",
                   u.name.c_str());
    }
  }
  if (validate) {
    if (cfg.shape == ringway::config::Shape::kNative) {
      std::printf("ringway: configuration %s is valid\n", config_path.c_str());
    } else {
      std::printf(
          "ringway: configuration %s is valid (%s schema; `ringway config print "
          "--config %s` shows it in ringway's own)\n",
          config_path.c_str(), ringway::config::ShapeName(cfg.shape), config_path.c_str());
    }
    return 0;
  }
  if (daemon) Daemonize();  // before any thread: fork keeps only the calling one

  if (absl::Status st = ringway::core::ProbeKernel(); !st.ok()) {
    std::fprintf(stderr, "ringway: %s\n", std::string(st.message()).c_str());
    return 1;
  }

  // Signals are handled by the main thread alone: block them before any thread starts.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGHUP);
  sigaddset(&sigs, SIGUSR1);
  sigaddset(&sigs, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);

  ringway::proxy::Control control(config_path, cli);
  absl::Status started = control.Start(*std::move(loaded), inherited.get());
  if (inherited) inherited->CloseRest();  // (listeners this config no longer has)
  if (absl::Status st = started; !st.ok()) {
    std::fprintf(stderr, "ringway: %s\n", std::string(st.message()).c_str());
    return 1;
  }
  if (!pid_file.empty() && !WritePidFile(pid_file)) {
    std::fprintf(stderr, "ringway: cannot write the pid file %s: %s\n", pid_file.c_str(),
                 strerror(errno));
    control.Stop();
    return 1;
  }
  {
    const auto current = control.Current();
    for (const auto& l : current->config.listeners) {
      RW_LOG(LogLevel::kInfo, "ringway %s listening on %s (listener '%s') with %u workers",
             RINGWAY_VERSION, l.bind.text.c_str(), l.name.c_str(), control.workers());
    }
  }
  // Start-up is over: its code leaves the resident set (core/mapped_code.h).
  const size_t released = ringway::core::ReleaseMappedCode();
  RW_LOG(LogLevel::kDebug, "start-up done: %zu KiB of read-only mappings released",
         released / 1024);
  {
    const std::string ready = "READY=1\nMAINPID=" + std::to_string(getpid());
    Notify(ready.c_str());
  }
  TellParentReady();
  if (upgrade_fd >= 0) {  // the process this one replaces may stop now
    const char r = 'R';
    ssize_t w = write(upgrade_fd, &r, 1);
    (void)w;
    close(upgrade_fd);
    upgrade_fd = -1;
  }

  int sig = 0;
  bool upgraded = false;
  for (;;) {
    sigwait(&sigs, &sig);
    if (sig == SIGUSR2) {
      // Binary upgrade (proxy/upgrade.h): once the new process serves, this one drains.
      if (self_exe.empty() || !control.Upgrade(self_exe, self_args)) {
        // `ringway --upgrade` waits for this answer (or for a new pid in the pid file).
        if (!pid_file.empty()) {
          const std::string status = pid_file + ".upgrade";
          if (FILE* f = std::fopen(status.c_str(), "we")) {
            std::fputs("failed: the new process did not start; see the log\n", f);
            std::fclose(f);
          }
        }
        continue;
      }
      upgraded = true;
      control.StopAdmin();
      break;
    }
    if (sig == SIGUSR1) {
      // SIGUSR1 (logrotate's postrotate): the access log file is opened again under its name
      // and put in place of the old descriptor in one step, so no line is lost or split.
      control.ReopenAccessLog();
      continue;
    }
    if (sig != SIGHUP) break;
    // SIGHUP: the whole configuration is read again (control.h); a file that fails the
    // checks leaves the running one in place.
    {
      timespec now{};
      clock_gettime(CLOCK_MONOTONIC, &now);
      const std::string reloading =
          "RELOADING=1\nMONOTONIC_USEC=" +
          std::to_string(uint64_t(now.tv_sec) * 1000000 + uint64_t(now.tv_nsec) / 1000);
      Notify(reloading.c_str());
    }
    control.Reload("SIGHUP");
    Notify("READY=1");
  }
  if (upgraded) {
    // The new process told systemd it is the main one (MAINPID) and owns the pid file now.
    RW_LOG(LogLevel::kInfo, "upgrade: finishing in-flight requests (up to %u ms)",
           control.Current()->config.timeouts.shutdown_ms);
  } else {
    RW_LOG(LogLevel::kInfo, "received %s: finishing in-flight requests (up to %u ms)",
           sig == SIGTERM ? "SIGTERM" : "SIGINT", control.Current()->config.timeouts.shutdown_ms);
    Notify("STOPPING=1");
  }
  control.Stop();
  if (!pid_file.empty() && ReadPidFile(pid_file) == getpid()) unlink(pid_file.c_str());
  RW_LOG(LogLevel::kInfo, "stopped");
  return 0;
}
