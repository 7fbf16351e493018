// The schemas of the proxies ringway replaces: each seed example (tests/seeds/) loads as
// written and maps to the native settings; mixed and malformed files are refused with
// positions; `config print` output loads back to the same configuration.
#include <fstream>
#include <sstream>
#include <string>

#include "config/config.h"
#include "config/print.h"
#include "config/toml_node.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ringway::config {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// The repository, from this file's path (tests/config/shapes_test.cc).
std::string RepoFile(const std::string& rel) {
  std::string here = __FILE__;
  std::string root = here.substr(0, here.rfind("/tests/config/"));
  std::ifstream in(root + "/" + rel);
  EXPECT_TRUE(in.good()) << root + "/" + rel;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

Config Load(const std::string& text, const std::string& name) {
  absl::StatusOr<Config> cfg = LoadString(text, name);
  EXPECT_TRUE(cfg.ok()) << cfg.status();
  return cfg.ok() ? *std::move(cfg) : Config{};
}

Config Seed(const std::string& name) { return Load(RepoFile("tests/seeds/" + name), name); }

std::string Error(const std::string& text, const std::string& name) {
  absl::StatusOr<Config> cfg = LoadString(text, name);
  EXPECT_FALSE(cfg.ok()) << "loaded:\n" << text;
  return cfg.ok() ? "(loaded)" : std::string(cfg.status().message());
}

std::string WithoutComments(const std::string& text) {
  std::stringstream in(text);
  std::string line, out;
  while (std::getline(in, line)) {
    size_t first = line.find_first_not_of(' ');
    if (first != std::string::npos && line[first] == '#') continue;
    out += line + "\n";
  }
  return out;
}

// print -> load -> print gives the same text, and the reloaded file is native.
void ExpectRoundTrip(const Config& cfg) {
  std::string printed = PrintYaml(cfg);
  absl::StatusOr<Config> again = LoadString(printed, "printed.yaml");
  ASSERT_TRUE(again.ok()) << again.status() << "\n" << printed;
  EXPECT_EQ(again->shape, Shape::kNative);
  EXPECT_EQ(WithoutComments(PrintYaml(*again)), WithoutComments(printed));
  ASSERT_EQ(again->listeners.size(), cfg.listeners.size());
  for (size_t i = 0; i < cfg.listeners.size(); ++i) {
    EXPECT_EQ(again->listeners[i].bind.text, cfg.listeners[i].bind.text);
    EXPECT_EQ(again->listeners[i].servers, cfg.listeners[i].servers);
    EXPECT_EQ(again->listeners[i].tls.self_signed, cfg.listeners[i].tls.self_signed);
  }
  ASSERT_EQ(again->upstreams.size(), cfg.upstreams.size());
  for (size_t i = 0; i < cfg.upstreams.size(); ++i) {
    const Upstream& a = cfg.upstreams[i];
    const Upstream& b = again->upstreams[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.algorithm, b.algorithm);
    EXPECT_EQ(a.tls.enabled, b.tls.enabled);
    EXPECT_EQ(a.health.enabled, b.health.enabled);
    EXPECT_EQ(a.health.type, b.health.type);
    EXPECT_EQ(a.health.interval_ms, b.health.interval_ms);
    EXPECT_EQ(a.health.timeout_ms, b.health.timeout_ms);
    EXPECT_EQ(a.health.fall, b.health.fall);
    EXPECT_EQ(a.health.rise, b.health.rise);
    ASSERT_EQ(a.backends.size(), b.backends.size());
    for (size_t j = 0; j < a.backends.size(); ++j) {
      EXPECT_EQ(a.backends[j].address.text, b.backends[j].address.text);
      EXPECT_EQ(a.backends[j].weight, b.backends[j].weight);
      EXPECT_EQ(a.backends[j].health_check_path, b.backends[j].health_check_path);
      EXPECT_EQ(a.backends[j].id, b.backends[j].id);
      EXPECT_EQ(a.backends[j].tags, b.backends[j].tags);
    }
  }
  ASSERT_EQ(again->servers.size(), cfg.servers.size());
  for (size_t i = 0; i < cfg.servers.size(); ++i) {
    EXPECT_EQ(again->servers[i].server_names, cfg.servers[i].server_names);
    EXPECT_EQ(again->servers[i].upstream, cfg.servers[i].upstream);
    EXPECT_EQ(again->servers[i].backends_tag, cfg.servers[i].backends_tag);
    EXPECT_EQ(again->servers[i].redirect_https, cfg.servers[i].redirect_https);
    EXPECT_EQ(again->servers[i].default_server, cfg.servers[i].default_server);
  }
  EXPECT_EQ(again->admin.bind.text, cfg.admin.bind.text);
  EXPECT_EQ(again->admin.metrics_bind.text, cfg.admin.metrics_bind.text);
  EXPECT_EQ(again->metrics, cfg.metrics);
  EXPECT_EQ(again->logging.level, cfg.logging.level);
  EXPECT_EQ(again->logging.format, cfg.logging.format);
  EXPECT_EQ(again->timeouts.upstream_connect_ms, cfg.timeouts.upstream_connect_ms);
  EXPECT_EQ(again->timeouts.upstream_response_ms, cfg.timeouts.upstream_response_ms);
  EXPECT_EQ(again->default_health.interval_ms, cfg.default_health.interval_ms);
  EXPECT_EQ(again->default_health.timeout_ms, cfg.default_health.timeout_ms);
}

// ---------------------------------------------------------------------------------------------
// server/backends

TEST(ServerSchema, ConfigurationExampleLoadsAsWritten) {
  Config cfg = Seed("server_config.yaml");
  EXPECT_EQ(cfg.shape, Shape::kServer);
  ASSERT_EQ(cfg.listeners.size(), 1u);
  EXPECT_EQ(cfg.listeners[0].bind.text, "127.0.0.1:3000");
  ASSERT_EQ(cfg.servers.size(), 1u);
  EXPECT_TRUE(cfg.servers[0].default_server);
  ASSERT_EQ(cfg.upstreams.size(), 1u);
  const Upstream& u = cfg.upstreams[0];
  EXPECT_EQ(u.name, "backends");
  EXPECT_EQ(cfg.servers[0].upstream, 0u);
  EXPECT_EQ(u.algorithm, Algorithm::kRoundRobin);
  ASSERT_EQ(u.backends.size(), 2u);
  EXPECT_EQ(u.backends[0].address.text, "httpbin.org:80");
  EXPECT_EQ(u.backends[0].address.host, "httpbin.org");
  EXPECT_EQ(u.backends[0].health_check_path, "/status/200");
  EXPECT_EQ(u.backends[1].address.text, "example.com:80");
  EXPECT_EQ(u.backends[1].health_check_path, "/");
  EXPECT_EQ(u.backends[0].weight, 1u);
  EXPECT_TRUE(u.health.enabled);  // HTTP checks on each backend's health_check_path
  EXPECT_EQ(u.health.interval_ms, 30'000u);
  EXPECT_EQ(u.health.timeout_ms, 5'000u);
  EXPECT_EQ(u.health.fall, 3u);
  EXPECT_EQ(cfg.logging.level, LogLevel::kInfo);
  EXPECT_EQ(cfg.logging.format, LogFormat::kJson);
  EXPECT_EQ(cfg.timeouts.upstream_response_ms, 30'000u);
  EXPECT_EQ(cfg.timeouts.upstream_connect_ms, 10'000u);
  ExpectRoundTrip(cfg);
}

TEST(ServerSchema, QuickStartExampleLoadsAsWritten) {
  Config cfg = Seed("server_quickstart.yaml");
  EXPECT_EQ(cfg.shape, Shape::kServer);
  ASSERT_EQ(cfg.upstreams.size(), 1u);
  ASSERT_EQ(cfg.upstreams[0].backends.size(), 2u);
  EXPECT_EQ(cfg.upstreams[0].backends[1].address.text, "backend2.example.com:80");
  EXPECT_EQ(cfg.upstreams[0].backends[1].health_check_path, "/health");
  ExpectRoundTrip(cfg);
}

TEST(ServerSchema, MapsEachSetting) {
  Config cfg = Load(
      "server: {host: \"0.0.0.0\", port: 8081}\n"
      "backends:\n"
      "  - {url: \"http://127.0.0.1:3001\", weight: 3}\n"
      "  - {url: \"http://127.0.0.1:3002/\", weight: 1}\n"
      "load_balancing: {strategy: least_request}\n"
      "health_checks: {enabled: false, interval_seconds: 7, timeout_seconds: 2, "
      "failure_threshold: 4}\n"
      "logging: {level: trace, format: text}\n"
      "timeouts: {request_timeout_seconds: 12, connect_timeout_seconds: 3}\n",
      "config.yaml");
  EXPECT_EQ(cfg.listeners[0].bind.text, "0.0.0.0:8081");
  const Upstream& u = cfg.upstreams[0];
  EXPECT_EQ(u.algorithm, Algorithm::kLeastRequest);
  EXPECT_EQ(u.backends[0].weight, 3u);
  EXPECT_EQ(u.backends[1].address.text, "127.0.0.1:3002");
  EXPECT_FALSE(u.health.enabled);
  EXPECT_EQ(u.health.type, HealthCheck::Type::kTcp);
  EXPECT_EQ(u.health.interval_ms, 7'000u);
  EXPECT_EQ(u.health.timeout_ms, 2'000u);
  EXPECT_EQ(u.health.fall, 4u);
  EXPECT_EQ(cfg.logging.level, LogLevel::kDebug);  // trace: ringway's finest is debug
  EXPECT_EQ(cfg.timeouts.upstream_response_ms, 12'000u);
  EXPECT_EQ(cfg.timeouts.upstream_connect_ms, 3'000u);
  ExpectRoundTrip(cfg);
}

TEST(ServerSchema, LocalhostAndIpv6Hosts) {
  Config a =
      Load("server: {host: localhost, port: 3000}\nbackends: [{url: \"http://[::1]:3001\"}]\n",
           "c.yaml");
  EXPECT_EQ(a.listeners[0].bind.text, "127.0.0.1:3000");
  Config b = Load("server: {host: \"::1\", port: 3000}\nbackends: [{url: \"http://[::1]:3001\"}]\n",
                  "c.yaml");
  EXPECT_EQ(b.listeners[0].bind.text, "[::1]:3000");
}

TEST(ServerSchema, Errors) {
  EXPECT_EQ(Error("server: {host: \"127.0.0.1\", prot: 3000}\nbackends: [{url: "
                  "\"http://127.0.0.1:3001\"}]\n",
                  "c.yaml"),
            "c.yaml:1:29: unknown key 'prot' in server; did you mean 'port'?");
  EXPECT_THAT(Error("server: {host: \"127.0.0.1\", port: 70000}\nbackends: [{url: "
                    "\"http://127.0.0.1:3001\"}]\n",
                    "c.yaml"),
              StartsWith("c.yaml:1:35: 'port' in server"));
  EXPECT_THAT(Error("server: {host: \"proxy.example\", port: 3000}\nbackends: [{url: "
                    "\"http://127.0.0.1:3001\"}]\n",
                    "c.yaml"),
              StartsWith("c.yaml:1:16: 'host' in server is 'proxy.example', not an IP address"));
  EXPECT_THAT(Error("server: {host: \"127.0.0.1\", port: 3000}\n", "c.yaml"),
              AllOf(StartsWith("c.yaml:"), HasSubstr("'backends'")));
  EXPECT_THAT(Error("server: {port: 3000}\nbackends: [{url: \"http://127.0.0.1:3001\"}]\n"
                    "load_balancing: {strategy: fastest}\n",
                    "c.yaml"),
              StartsWith("c.yaml:3:28: "));
  EXPECT_EQ(Error("server: {port: 3000}\nbackends: [{url: \"http://127.0.0.1:3001\"}]\n"
                  "load_balancing: {stratgy: round_robin}\n",
                  "c.yaml"),
            "c.yaml:3:18: unknown key 'stratgy' in load_balancing; did you mean 'strategy'?");
  EXPECT_EQ(Error("server: {port: 3000}\nbackends: [{url: \"http://127.0.0.1:3001\"}]\n"
                  "timeouts: {request_timeout: 5}\n",
                  "c.yaml"),
            "c.yaml:3:12: unknown key 'request_timeout' in timeouts; the keys allowed here are "
            "'request_timeout_seconds', 'connect_timeout_seconds'");
  EXPECT_THAT(Error("server: {port: 3000}\nbackends: [{url: \"http://127.0.0.1:3001\"}]\n"
                    "logging: {level: loud}\n",
                    "c.yaml"),
              StartsWith("c.yaml:3:18: log level 'loud' is not known"));
  EXPECT_THAT(
      Error("server: {port: 3000}\nbackends: [{url: \"http://127.0.0.1:3001\", "
            "wieght: 2}]\n",
            "c.yaml"),
      AllOf(StartsWith("c.yaml:2:43: unknown key 'wieght'"), HasSubstr("did you mean 'weight'?")));
}

// ---------------------------------------------------------------------------------------------
// services

TEST(ServicesSchema, DefaultExampleLoadsAsWritten) {
  Config cfg = Seed("services_default.yaml");
  EXPECT_EQ(cfg.shape, Shape::kServices);
  ASSERT_EQ(cfg.listeners.size(), 2u);
  ASSERT_EQ(cfg.servers.size(), 2u);
  ASSERT_EQ(cfg.upstreams.size(), 2u);
  EXPECT_EQ(cfg.listeners[0].name, "admin-portal");
  EXPECT_EQ(cfg.listeners[0].bind.text, "0.0.0.0:6188");
  EXPECT_THAT(cfg.listeners[0].servers, ElementsAre(0u));
  EXPECT_EQ(cfg.listeners[1].bind.text, "0.0.0.0:6189");
  EXPECT_THAT(cfg.listeners[1].servers, ElementsAre(1u));
  EXPECT_TRUE(cfg.servers[0].default_server);
  EXPECT_EQ(cfg.servers[0].upstream, 0u);
  EXPECT_EQ(cfg.servers[1].upstream, 1u);
  EXPECT_EQ(cfg.upstreams[0].backends[0].address.text, "127.0.0.1:3002");
  EXPECT_EQ(cfg.upstreams[1].backends[0].address.text, "127.0.0.1:3001");
  for (const Upstream& u : cfg.upstreams) {
    EXPECT_EQ(u.health.type, HealthCheck::Type::kTcp);
    EXPECT_EQ(u.health.timeout_ms, 500u);  // given for the first, the default for the second
    EXPECT_EQ(u.health.interval_ms, 5'000u);
    EXPECT_EQ(u.health.fall, 1u);  // as the earlier proxy's TCP checks: one failure, one pass
    EXPECT_EQ(u.health.rise, 1u);
    EXPECT_FALSE(u.tls.enabled);
  }
  ExpectRoundTrip(cfg);
}

TEST(ServicesSchema, TimingsAndTls) {
  Config cfg = Load(
      "services:\n"
      "  - name: api\n"
      "    bind_address: '127.0.0.1:7000'\n"
      "    upstreams: ['127.0.0.1:3001', '127.0.0.1:3002']\n"
      "    tls: true\n"
      "    health_check: {timeout_ms: 250, frequency_secs: 2}\n",
      "default.yaml");
  const Upstream& u = cfg.upstreams[0];
  EXPECT_EQ(u.backends.size(), 2u);
  EXPECT_EQ(u.health.timeout_ms, 250u);
  EXPECT_EQ(u.health.interval_ms, 2'000u);
  EXPECT_TRUE(u.tls.enabled);  // the service's tls is the upstream peer's
  ExpectRoundTrip(cfg);
}

TEST(ServicesSchema, Errors) {
  EXPECT_THAT(Error("services:\n  - name: a\n    bind_address: '0.0.0.0:6188'\n", "d.yaml"),
              AllOf(StartsWith("d.yaml:2:5: "), HasSubstr("'upstreams'")));
  EXPECT_EQ(Error("services:\n  - name: a\n    bind_adress: '0.0.0.0:6188'\n"
                  "    upstreams: ['127.0.0.1:1']\n",
                  "d.yaml"),
            "d.yaml:3:5: unknown key 'bind_adress' in service 'a'; did you mean 'bind_address'?");
  EXPECT_THAT(Error("services: []\n", "d.yaml"), StartsWith("d.yaml:1:11: 'services' is empty"));
  EXPECT_THAT(Error("services:\n  - name: a\n    bind_address: '0.0.0.0:6188'\n"
                    "    upstreams: ['127.0.0.1:1']\n    health_check: {interval: 3}\n",
                    "d.yaml"),
              StartsWith("d.yaml:5:20: unknown key 'interval' in health_check of service 'a'"));
  EXPECT_THAT(Error("services:\n  - name: a\n    bind_address: 'nowhere'\n"
                    "    upstreams: ['127.0.0.1:1']\n",
                    "d.yaml"),
              StartsWith("d.yaml:3:19: "));
  EXPECT_THAT(Error("services:\n  - name: a\n    bind_address: '0.0.0.0:6188'\n"
                    "    upstreams: ['127.0.0.1:1']\n"
                    "  - name: a\n    bind_address: '0.0.0.0:6189'\n"
                    "    upstreams: ['127.0.0.1:2']\n",
                    "d.yaml"),
              AllOf(StartsWith("d.yaml:5:11: "), HasSubstr("already used")));
}

// ---------------------------------------------------------------------------------------------
// virtual hosts (TOML)

TEST(VhostsSchema, ConfigExampleLoadsAsWritten) {
  Config cfg = Seed("vhosts_config.toml");
  EXPECT_EQ(cfg.shape, Shape::kVhosts);
  ASSERT_EQ(cfg.listeners.size(), 2u);
  EXPECT_EQ(cfg.listeners[0].name, "https");
  EXPECT_EQ(cfg.listeners[0].bind.text, "0.0.0.0:443");
  EXPECT_TRUE(cfg.listeners[0].tls.enabled);
  EXPECT_TRUE(cfg.listeners[0].tls.self_signed);
  EXPECT_EQ(cfg.listeners[1].name, "http");
  EXPECT_EQ(cfg.listeners[1].bind.text, "0.0.0.0:80");
  EXPECT_FALSE(cfg.listeners[1].tls.enabled);
  EXPECT_EQ(cfg.admin.bind.text, "127.0.0.1:8080");
  EXPECT_EQ(cfg.admin.metrics_bind.text, "0.0.0.0:9090");
  EXPECT_TRUE(cfg.metrics);
  EXPECT_EQ(cfg.default_health.interval_ms, 10'000u);
  EXPECT_EQ(cfg.default_health.timeout_ms, 5'000u);
  EXPECT_EQ(cfg.default_health.fall, 3u);
  EXPECT_EQ(cfg.default_health.rise, 2u);
  ASSERT_EQ(cfg.servers.size(), 1u);
  EXPECT_THAT(cfg.servers[0].server_names, ElementsAre("example.com"));
  EXPECT_EQ(cfg.servers[0].backends_tag, "a");
  EXPECT_EQ(cfg.servers[0].upstream, kNoUpstream);  // every backend with the tag
  EXPECT_TRUE(cfg.servers[0].redirect_https);
  ASSERT_EQ(cfg.upstreams.size(), 1u);
  const Upstream& u = cfg.upstreams[0];
  EXPECT_EQ(u.health.interval_ms, 10'000u);
  ASSERT_EQ(u.backends.size(), 2u);
  EXPECT_EQ(u.backends[0].id, "web-v1");
  EXPECT_THAT(u.backends[0].tags, ElementsAre("a"));
  EXPECT_EQ(u.backends[1].id, "web-v2");
  EXPECT_THAT(u.backends[1].tags, ElementsAre("b"));
  EXPECT_EQ(cfg.logging.level, LogLevel::kInfo);
  EXPECT_EQ(cfg.logging.format, LogFormat::kText);
  ExpectRoundTrip(cfg);
}

TEST(VhostsSchema, OtherExamplesLoadAsWritten) {
  Config ab = Seed("vhosts_ab.toml");
  ASSERT_EQ(ab.upstreams.size(), 1u);
  EXPECT_EQ(ab.upstreams[0].backends.size(), 3u);
  EXPECT_THAT(ab.upstreams[0].backends[0].tags, ElementsAre("a", "stable"));
  EXPECT_EQ(ab.upstreams[0].backends[0].address.host, "backend-prod-1");
  EXPECT_EQ(ab.servers[0].backends_tag, "a");
  // No [proxy]: the ports the schema documents.
  EXPECT_EQ(ab.listeners[0].bind.text, "0.0.0.0:443");
  EXPECT_EQ(ab.listeners[1].bind.text, "0.0.0.0:80");
  EXPECT_EQ(ab.admin.bind.text, "127.0.0.1:8080");
  EXPECT_EQ(ab.admin.metrics_bind.len, 0u);  // no [metrics]: no metrics listener
  ExpectRoundTrip(ab);
  Config rollout = Seed("vhosts_rollout.toml");
  EXPECT_TRUE(rollout.upstreams.empty());  // backends come later, through the API
  ASSERT_EQ(rollout.servers.size(), 2u);
  EXPECT_EQ(rollout.servers[0].backends_tag, "b");
  EXPECT_EQ(rollout.servers[1].backends_tag, "a");
  ExpectRoundTrip(rollout);
}

TEST(VhostsSchema, MetricsOffAndNoTag) {
  Config cfg = Load(
      "[proxy]\nlisten_addr = \"127.0.0.1:8443\"\nlisten_addr_http = \"127.0.0.1:8080\"\n"
      "management_api_addr = \"127.0.0.1:9000\"\n"
      "[metrics]\nenabled = false\nlisten_addr = \"127.0.0.1:9090\"\n"
      "[[virtual_hosts]]\ndomain = \"a.test\"\n"
      "[[backends]]\nid = \"one\"\naddress = \"127.0.0.1:3001\"\n",
      "config.toml");
  EXPECT_FALSE(cfg.metrics);
  EXPECT_EQ(cfg.admin.metrics_bind.len, 0u);
  EXPECT_EQ(cfg.servers[0].upstream, 0u);  // no tag: every backend
  EXPECT_TRUE(cfg.servers[0].backends_tag.empty());
  EXPECT_FALSE(cfg.servers[0].redirect_https);
  ExpectRoundTrip(cfg);
}

TEST(VhostsSchema, Errors) {
  EXPECT_THAT(Error("[proxy]\nlisten_addr = = 1\n", "config.toml"),
              StartsWith("config.toml:2:15: TOML syntax error: "));
  EXPECT_EQ(Error("[proxy]\nlisten_adr = \"0.0.0.0:443\"\n", "config.toml"),
            "config.toml:2:1: unknown key 'listen_adr' in [proxy]; did you mean 'listen_addr'?");
  EXPECT_THAT(Error("[logging]\nlevel = \"info\"\noutput = \"file\"\nfile_path = \"/tmp/x\"\n",
                    "config.toml"),
              AllOf(StartsWith("config.toml:3:10: 'output' in [logging] is 'file'"),
                    HasSubstr("output = \"console\"")));
  EXPECT_THAT(Error("[lets_encrypt]\nemail = \"a@b.c\"\n", "config.toml"),
              AllOf(StartsWith("config.toml:1:2: [lets_encrypt]"), HasSubstr("not supported")));
  EXPECT_THAT(Error("[[virtual_hosts]]\nenabled_backends_tag = \"a\"\n", "config.toml"),
              AllOf(StartsWith("config.toml:"), HasSubstr("'domain'")));
  EXPECT_THAT(Error("[[virtual_hosts]]\ndomain = \"a.test\"\n", "config.toml"),
              HasSubstr("has no enabled_backends_tag and the file has no [[backends]]"));
  EXPECT_THAT(
      Error("[[backends]]\nid = \"x\"\naddress = \"127.0.0.1:1\"\ntag = [\"a\"]\n", "config.toml"),
      StartsWith("config.toml:4:1: unknown key 'tag' in [[backends]] #1; did you mean "
                 "'tags'?"));
  EXPECT_THAT(Error("[proxy]\nmanagement_api_addr = \"0.0.0.0:8080\"\n", "config.toml"),
              StartsWith("config.toml:2:23: "));
  EXPECT_THAT(Error("[[backends]]\nid = \"x\"\naddress = \"127.0.0.1:1\"\n"
                    "[[backends]]\nid = \"x\"\naddress = \"127.0.0.1:2\"\n",
                    "config.toml"),
              StartsWith("config.toml:5:6: backend id 'x' is already used"));
}

TEST(Toml, DocumentOrderAndKinds) {
  absl::StatusOr<YamlDocument> doc =
      ParseToml("b = 1\na = \"x\"\n[t]\nf = 1.5\nflag = true\narr = [1, 2]\n", "x.toml");
  ASSERT_TRUE(doc.ok()) << doc.status();
  ASSERT_EQ(doc->root.entries.size(), 3u);
  EXPECT_EQ(doc->root.entries[0].key.text, "b");
  EXPECT_EQ(doc->root.entries[0].value.kind, YamlNode::Kind::kInt);
  EXPECT_EQ(doc->root.entries[1].key.text, "a");
  EXPECT_EQ(doc->root.entries[1].value.kind, YamlNode::Kind::kString);
  EXPECT_EQ(doc->root.entries[1].key.mark.line, 2u);
  const YamlNode& t = doc->root.entries[2].value;
  ASSERT_EQ(t.kind, YamlNode::Kind::kMapping);
  EXPECT_EQ(t.entries[0].value.kind, YamlNode::Kind::kFloat);
  EXPECT_EQ(t.entries[1].value.kind, YamlNode::Kind::kBool);
  EXPECT_TRUE(t.entries[1].value.BoolValue());
  EXPECT_EQ(t.entries[2].value.kind, YamlNode::Kind::kSequence);
  EXPECT_EQ(t.entries[2].value.items.size(), 2u);
  EXPECT_TRUE(IsTomlFile("/etc/x/Config.TOML"));
  EXPECT_FALSE(IsTomlFile("config.yaml"));
  absl::StatusOr<YamlDocument> empty = ParseToml("# nothing\n", "x.toml");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty);
  EXPECT_THAT(Error("# nothing\n", "x.toml"), StartsWith("x.toml:1:1: the configuration is empty"));
}

// ---------------------------------------------------------------------------------------------
// Recognising the schema

TEST(Schemas, MixedSchemasNameBoth) {
  EXPECT_EQ(Error("services: []\nserver: {port: 3000}\n", "m.yaml"),
            "m.yaml:2:1: 'server' belongs to the server/backends schema (server, backends, "
            "load_balancing, health_checks, logging, timeouts), but 'services' at line 1, column "
            "1 belongs to the services schema (services: [{name, bind_address, upstreams}]); a "
            "file is written in one schema: keep one set of keys (`ringway config print "
            "--config FILE` shows a file of any schema in ringway's own)");
  EXPECT_THAT(Error("servers: [{server_name: a.test, upstream: web}]\n"
                    "upstreams: [{name: web, servers: ['127.0.0.1:1']}]\n"
                    "backends: [{url: 'http://127.0.0.1:2'}]\n",
                    "m.yaml"),
              StartsWith("m.yaml:3:1: 'backends' belongs to"));
  EXPECT_THAT(Error("server: {port: 3000}\nbackends: [{url: 'http://127.0.0.1:2'}]\n"
                    "upstreams: [{name: web, servers: ['127.0.0.1:1']}]\n",
                    "m.yaml"),
              AllOf(StartsWith("m.yaml:1:1: 'server' belongs to the server/backends schema"),
                    HasSubstr("but 'upstreams' at line 3, column 1 belongs to ringway's own")));
  EXPECT_THAT(
      Error("[proxy]\nlisten_addr = \"0.0.0.0:443\"\n[[services]]\nname = \"x\"\n", "config.toml"),
      StartsWith("config.toml:3:3: 'services' belongs to the services schema"));
  EXPECT_THAT(Error("health_checks: {enabled: true}\nvirtual_hosts: []\n", "m.yaml"),
              StartsWith("m.yaml:2:1: 'virtual_hosts' belongs to the virtual-hosts schema"));
}

TEST(Schemas, UnknownTopLevelKeySuggestsFromEverySchema) {
  EXPECT_EQ(Error("servces: []\n", "u.yaml"),
            "u.yaml:1:1: unknown key 'servces' in the top level; did you mean 'services'?");
  EXPECT_EQ(Error("virtual_host = []\n", "u.toml"),
            "u.toml:1:1: unknown key 'virtual_host' in the top level; did you mean "
            "'virtual_hosts'?");
  EXPECT_THAT(Error("frontends: []\n", "u.yaml"),
              AllOf(StartsWith("u.yaml:1:1: unknown key 'frontends' in the top level; ringway "
                               "reads its own schema"),
                    HasSubstr("Coming from another proxy")));
  // A native file's misplaced global key keeps its own message.
  EXPECT_EQ(Error("timeouts: {keepalive: 5s}\nglobal: {port: 80}\n"
                  "servers: [{server_name: a.test, upstream: web}]\n"
                  "upstreams: [{name: web, servers: ['127.0.0.1:1']}]\n",
                  "u.yaml"),
            "u.yaml:1:1: unknown key 'timeouts' at the top level; it belongs under 'global:', "
            "indented");
}

TEST(Schemas, SharedKeysFollowTheSyntax) {
  // Only keys two schemas share: YAML is the server/backends schema, TOML the virtual hosts.
  EXPECT_THAT(Error("backends: [{url: 'http://127.0.0.1:1'}]\n", "s.yaml"), HasSubstr("'server'"));
  Config toml = Load("[[backends]]\nid = \"x\"\naddress = \"127.0.0.1:1\"\n", "s.toml");
  EXPECT_EQ(toml.shape, Shape::kVhosts);
}

TEST(Schemas, NativeTomlLoads) {
  Config cfg = Load(
      "[global]\nport = 8080\n[[servers]]\nserver_name = [\"a.test\"]\nupstream = \"web\"\n"
      "[[upstreams]]\nname = \"web\"\nservers = [\"127.0.0.1:3001\"]\n",
      "native.toml");
  EXPECT_EQ(cfg.shape, Shape::kNative);
  EXPECT_EQ(cfg.listeners[0].bind.text, "0.0.0.0:8080");
}

TEST(Schemas, OriginsPointIntoTheFile) {
  Config cfg = Seed("services_default.yaml");
  bool listener = false, health = false;
  for (const Origin& o : cfg.origins) {
    if (o.path == "listeners[1]") {
      listener = true;
      EXPECT_THAT(o.note, StartsWith("services_default.yaml:10:5: service 'oauth-service'"));
    }
    if (o.path == "upstreams[0].health_check") {
      health = true;
      EXPECT_THAT(o.note, StartsWith("services_default.yaml:8:7: "));
    }
  }
  EXPECT_TRUE(listener);
  EXPECT_TRUE(health);
  std::string printed = PrintYaml(cfg);
  EXPECT_THAT(printed, HasSubstr("# converted from services_default.yaml"));
  EXPECT_THAT(printed, HasSubstr("# from services_default.yaml:10:5: service 'oauth-service'"));
  Config native = Load(RepoFile("config/ringway.yaml"), "ringway.yaml");
  EXPECT_EQ(native.shape, Shape::kNative);
  EXPECT_TRUE(native.origins.empty());
}

}  // namespace
}  // namespace ringway::config
