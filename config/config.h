// ringway's configuration: typed structs loaded from YAML (libyaml) and validated before use.
//
// Every error names the file, line and column and says what to change:
//   ringway.yaml:12:7: unknown key 'servres' in upstream 'web'; did you mean 'servers'?
//
//   absl::StatusOr<config::Config> cfg = config::LoadFile("/etc/ringway/ringway.yaml");
//   if (!cfg.ok()) { std::cerr << cfg.status().message() << "\n"; return 1; }
#ifndef RINGWAY_CONFIG_CONFIG_H_
#define RINGWAY_CONFIG_CONFIG_H_

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace ringway::config {

// A socket address: an IPv4 or IPv6 literal, or (backends only) a host name and port that
// ResolveNames turns into an address off the data path.
struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t len = 0;  // 0: a host name not resolved (yet); connecting to it fails
  std::string text;   // "ip:port" / "[ip6]:port" normalised, or "host.name:port" as written
  std::string host;   // the host name when one was written ("" for a literal address)
};

// ready: takes requests; drain: no new requests (in-flight ones finish), still checked;
// maint: no new requests and no health checks.
enum class BackendState : uint8_t { kReady, kDrain, kMaint };

struct Backend {
  SocketAddress address;
  uint32_t weight = 1;            // 1..1000
  std::string health_check_path;  // seed schema: an HTTP check on this path for this backend
  std::string id;                 // unique in the config; default "<upstream>-<address>"
  std::vector<std::string> tags;  // a server or route with enabled_backends_tag picks by these
  BackendState state = BackendState::kReady;
};

// Active health checks, run by the prober thread. Durations in milliseconds.
struct HealthCheck {
  // kGrpc: grpc.health.v1.Health/Check over HTTP/2 in cleartext; only for protocol h2c.
  enum class Type : uint8_t { kTcp, kHttp, kGrpc };
  bool enabled = true;
  Type type = Type::kTcp;  // kHttp when `path` (or a backend's health_check_path) is given
  std::string method = "GET";
  std::string path = "/";
  std::string host;           // Host header (:authority for gRPC); "" means the backend's address
  std::string service;        // gRPC checks: the service asked about; "" means the whole server
  uint16_t expect_min = 200;  // expected status range, inclusive
  uint16_t expect_max = 399;
  uint32_t interval_ms = 2'000;
  uint32_t timeout_ms = 1'000;
  uint32_t jitter_ms = 200;  // each interval is lengthened by a random 0..jitter
  uint32_t rise = 2;         // consecutive successes that bring a down backend up
  uint32_t fall = 3;         // consecutive failures that take an up backend down
};

// Passive health: failures seen on live traffic eject a backend for a growing back-off.
struct PassiveHealth {
  uint32_t consecutive_failures = 5;  // 0 turns passive health off
  bool on_connect_failure = true;     // refused, unreachable, connect timeout
  bool on_reset = true;               // connection reset or closed before the response
  std::vector<uint16_t> statuses = {502, 503, 504};  // backend responses that count
  uint32_t base_ejection_ms = 10'000;                // first ejection; doubles each time
  uint32_t max_ejection_ms = 300'000;
};

struct Retry {
  uint32_t tries = 3;            // attempts in all, the first included; 1 turns retries off
  uint32_t budget_percent = 20;  // retries over the last 10 s: at most this share of requests
  uint32_t min_retries = 3;      // ... plus this many a second, always allowed
};

enum class Algorithm : uint8_t { kRoundRobin, kRandom, kLeastRequest, kP2cEwma, kMaglev, kKetama };

struct HashKey {  // what the consistent-hashing algorithms hash
  enum class Source : uint8_t { kClientIp, kHeader, kCookie };
  Source source = Source::kClientIp;
  std::string name;  // header or cookie name
};

struct Sticky {  // sticky sessions: a cookie names the backend that served the first request
  bool enabled = false;
  std::string cookie = "ringway_sticky";
  uint32_t ttl_s = 0;  // Max-Age of the cookie; 0: a session cookie
};

// Talking TLS to an upstream's backends (a server's `tls: true`, or the upstream's `tls:`).
struct UpstreamTls {
  bool enabled = false;
  bool verify = true;       // verify the backend's certificate chain (and name, if given)
  std::string ca;           // CA bundle; "" means the system's
  std::string server_name;  // SNI and the name checked in the certificate; "" for neither
  std::string at;           // "file:line:col" of the setting, for errors found later
};

// What ringway speaks to an upstream's backends: HTTP/1.1; HTTP/2 over TLS, agreed by ALPN
// ("h2", the upstream needs tls:); HTTP/2 in cleartext with prior knowledge ("h2c").
enum class UpstreamProtocol : uint8_t { kHttp1, kH2, kH2c };

struct Upstream {
  std::string name;
  // Made by ExpandTags: the backends of upstream `derived_from` (-1: of every upstream) that
  // carry `tag`. Its name is "<base>#<tag>" ("tag:<tag>" without a base).
  std::string tag;
  int32_t derived_from = -1;
  bool derived = false;
  std::vector<Backend> backends;  // YAML key "servers"; at least one
  UpstreamTls tls;
  UpstreamProtocol protocol = UpstreamProtocol::kHttp1;
  // HTTP/2 upstreams: a connection the backend has sent nothing on for ping_interval gets a
  // PING; one whose PING is not answered within ping_timeout is dropped.
  uint32_t ping_interval_ms = 30'000;
  uint32_t ping_timeout_ms = 10'000;
  uint32_t keepalive = 64;  // idle pooled connections per backend per worker (0: no pool)
  Algorithm algorithm = Algorithm::kRoundRobin;
  HashKey hash_key;
  Sticky sticky;
  uint32_t slow_start_ms = 0;  // weight ramps up over this long after a backend comes up
  HealthCheck health;
  PassiveHealth passive;
  Retry retry;
};

inline constexpr uint32_t kNoUpstream = UINT32_MAX;

struct Route {
  std::string path_prefix;   // starts with '/'
  uint32_t upstream = 0;     // index into Config::upstreams
  uint32_t tries = 0;        // 0: the upstream's retry.tries
  std::string backends_tag;  // "enabled_backends_tag": only the upstream's backends with it
};

struct Server {
  std::string name;                       // "name" key, else the first server_name
  std::vector<std::string> server_names;  // lower-cased; "*.acme.com" wildcards allowed
  // Index into Config::upstreams (the "upstream" key). kNoUpstream with backends_tag (before
  // ExpandTags): every backend of the config that carries the tag.
  uint32_t upstream = 0;
  // "enabled_backends_tag": the server (and its routes without a tag of their own) picks only
  // its upstream's backends that carry this tag. Switching it is a canary release.
  std::string backends_tag;
  std::vector<Route> routes;    // longest prefix wins; none matching: `upstream`
  bool tls = false;             // original schema: talk TLS to the upstream
  bool default_server = false;  // answers hosts no server names
  bool redirect_https = false;  // plaintext requests get a redirect to https (301/308)
  std::string hsts;             // Strict-Transport-Security value on TLS responses; "" none
};

// One certificate a TLS listener serves: the chain and key (PEM) and the SNI names it answers
// (from the certificate's subjectAltName DNS names and CN unless given).
struct TlsCertificate {
  std::string cert, key;
  std::vector<std::string> server_names;  // lower-cased; "*.acme.com" wildcards allowed
  std::string at;                         // "file:line:col" of the entry, for later errors
};

enum class TlsVersion : uint8_t { k12, k13 };

// TLS termination on a listener (`tls:` under a listener, or global.tls for global.port).
struct ListenerTls {
  bool enabled = false;
  std::vector<TlsCertificate> certificates;  // the first is the default (no SNI or no match)
  std::string ca;                            // client certificates are verified against it
  bool client_cert_optional = false;         // with ca: ask for one but do not require it
  TlsVersion min_version = TlsVersion::k12;
  std::string ciphers;                           // TLS 1.2 cipher list; "" for the defaults
  std::vector<std::string> alpn = {"http/1.1"};  // see Listener::http2 for h2
  bool alpn_given = false;                       // `alpn` was set: keep it as written
  // No certificate given: ringway makes a self-signed one at start for the listener's server
  // names (seed 002's HTTPS listener names no certificate), with a warning in the log.
  bool self_signed = false;
  bool session_tickets = true;
  uint32_t ticket_rotation_ms = 3'600'000;  // a new ticket key this often; the last one still
                                            // decrypts for as long again
  std::string at;
};

struct Listener {
  std::string name;
  bool http2 = true;  // TLS: offer h2 by ALPN (preferred over http/1.1)
  bool h2c = true;    // plaintext: HTTP/2 with prior knowledge (the connection preface)
  SocketAddress bind;
  std::vector<uint32_t> servers;  // indexes into Config::servers; empty means all
  ListenerTls tls;
  // Forward request header fields whose name holds '_'. Off, they are dropped (as nginx does):
  // CGI-style backends turn '-' into '_', so X_Forwarded_For would pass for X-Forwarded-For.
  bool underscores_in_headers = false;  // default: global.underscores_in_headers
};

// Durations are in milliseconds. YAML accepts "250ms", "5s", "2m", "1h" or a bare number of
// seconds.
struct Timeouts {
  uint32_t client_header_ms = 10'000;      // whole request head must arrive within this: 408
  uint32_t client_body_ms = 60'000;        // gap between body reads
  uint32_t client_send_ms = 60'000;        // a client that stops reading the response: cut
  uint32_t keepalive_ms = 75'000;          // idle client connection between requests
  uint32_t upstream_connect_ms = 5'000;    // connect to a backend: 502 after (504 is for reads)
  uint32_t upstream_response_ms = 60'000;  // gap while waiting for response bytes: 504
  uint32_t shutdown_ms = 30'000;           // graceful shutdown deadline
  uint32_t tunnel_ms = 3'600'000;          // Upgrade tunnel idle in both directions: closed
};

// Sizes are in bytes. YAML accepts "8k", "64k", "1m", "2g" or a bare number.
struct Limits {
  uint32_t max_request_line = 8 * 1024;
  uint32_t max_header_size = 64 * 1024;
  uint32_t max_headers = 100;
  uint64_t max_body_size = 0;    // 0: unlimited; over it: 413
  uint32_t max_connections = 0;  // per worker; 0: from the open-file limit at start-up
  // Not a key: splice pipes per worker that the open-file limit leaves room for (two
  // descriptors each), set with max_connections (proxy/control.cc SizeConnections).
  uint32_t splice_pipes = 0;
};

// HTTP/2 from clients (global.http2). Sizes in bytes.
struct Http2 {
  uint32_t max_concurrent_streams = 100;  // per connection; more are refused (REFUSED_STREAM)
  uint32_t initial_window = 65535;        // per stream: request body in flight before released
  uint32_t connection_window = 1 << 20;   // request body in flight for all streams together
  uint32_t max_frame_size = 16384;        // largest frame accepted
  uint32_t max_rapid_resets = 200;        // streams reset by the client early, per 10 s
  uint32_t glitch_budget = 1000;          // suspicious frames (floods) tolerated before GOAWAY
};

struct Buffers {
  uint32_t size = 16 * 1024;  // provided-buffer size (power of two, 4k..1m)
  uint32_t count = 1024;      // buffers per worker (power of two, 16..32768)
  // Buffers kept in the kernel's ring for receives (at most `count`): what one loop turn can
  // read, and what a worker touches beyond the most buffers it has lent at once.
  uint32_t reserve = 64;
  // A response body with at least this many bytes left after its head is spliced (backend
  // socket -> pipe -> client socket, plain HTTP/1 on both sides); 0: never.
  uint64_t splice = 32 * 1024;
  // Whether h2c clients' DATA frames carry spliced bytes too. Off by default: every 16 KiB
  // frame costs a header send and a splice, two system calls where the copying path has
  // none (perf/RESULTS.md: twice the CPU per 64 KiB response on a machine whose system
  // calls are dear).
  bool splice_h2 = false;
};

enum class LogLevel : uint8_t { kDebug, kInfo, kWarn, kError };
enum class LogFormat : uint8_t { kText, kJson };

struct Logging {
  LogLevel level = LogLevel::kInfo;
  LogFormat format = LogFormat::kText;
  bool access_log = true;
  std::string access_log_path;  // "" means stdout
};

// The management API and metrics listener (global.admin), served off the data path.
struct Admin {
  bool enabled = true;  // `admin: off` turns it off
  SocketAddress bind;   // default 127.0.0.1:9901
  std::string token;    // changes need "Authorization: Bearer <token>" when set
  // A second listener that serves only the read-only pages: /metrics, /api/v1/metrics,
  // /healthz, /readyz (global.admin.metrics_bind; seed 002's [metrics] listen_addr). len 0:
  // none.
  SocketAddress metrics_bind;
  std::string at;  // "file:line:col" of the section, for errors found later
};

// Backend ids and tags: 1 to 128 of [A-Za-z0-9._:@[]-] (they appear in API paths).
bool ValidTag(std::string_view s);

// Whether an address is loopback (127.0.0.0/8, ::1): reachable from this machine only.
bool IsLoopback(const SocketAddress& a);

// Where a part of the configuration came from, for `ringway config print`: `path` names the
// native key ("listeners[0]", "upstreams[1].health_check", "global.log"), `note` what was
// written there ("seed.yaml:2:1: server: {host, port}").
struct Origin {
  std::string path;
  std::string note;
};

// The schema a file was written in, recognised from its top-level keys.
enum class Shape : uint8_t {
  kNative,    // global / listeners / servers / upstreams
  kServer,    // server / backends / load_balancing / health_checks / logging / timeouts
  kServices,  // services: [{name, bind_address, upstreams, tls, health_check}]
  kVhosts,    // TOML: [proxy] [logging] [metrics] [health_check] [[virtual_hosts]] [[backends]]
};

struct Config {
  std::string source;  // file path the config came from
  Shape shape = Shape::kNative;
  std::vector<Origin> origins;      // for the printer; empty for a native file
  uint32_t workers = 0;             // 0: one per online CPU
  std::vector<Listener> listeners;  // global.port makes "default" on 0.0.0.0:port
  std::vector<Server> servers;
  std::vector<Upstream> upstreams;
  Timeouts timeouts;
  Limits limits;
  Buffers buffers;
  Http2 http2;
  Logging logging;
  Admin admin;
  bool metrics = true;        // count requests for /metrics (global.metrics)
  bool watch_config = false;  // reload when the file changes (global.watch_config)
  // Where the admin API keeps its changes (global.state_file); "" for "<file stem>.state.json"
  // next to the config file.
  std::string state_file;
  HealthCheck default_health;  // global.health_check over the defaults: for upstreams made later
};

// Resolves enabled_backends_tag: each (upstream, tag) that a server or route uses becomes an
// upstream of its own (Upstream::derived) holding the backends with the tag, and the server or
// route points at it. Run on a loaded config before it is used (the router, TLS contexts and
// workers see only real upstream indexes). A tag no backend carries gives an empty upstream:
// its requests get 503 until a backend with the tag is added.
void ExpandTags(Config* cfg);

// Loads and validates. `filename` is used in error messages only.
absl::StatusOr<Config> LoadString(std::string_view yaml, std::string_view filename);
absl::StatusOr<Config> LoadFile(const std::string& path);

// "debug", "info", "warn", "error": as global.log.level is written.
const char* LogLevelName(LogLevel level);

// "native", "server/backends", "services", "virtual-hosts": for logs and /api/v1/config.
const char* ShapeName(Shape shape);

// Resolves the backends' host names (SocketAddress::host) with getaddrinfo, which blocks: call
// it off the data path (start-up, reload, API changes). "localhost" is 127.0.0.1 without a
// lookup. A name that does not resolve keeps len 0 (connecting to it fails, so the backend is
// down) and is reported in the result: "upstream 'web': backend httpbin.org:80: <reason>".
std::vector<std::string> ResolveNames(Config* cfg);

// Parses "127.0.0.1:8080", "[::1]:8080", "0.0.0.0:80"; ":8080" means all IPv4 addresses.
absl::StatusOr<SocketAddress> ParseSocketAddress(std::string_view text);

}  // namespace ringway::config

#endif  // RINGWAY_CONFIG_CONFIG_H_
