// Fuzz target for the config loader (config::LoadString: libyaml, the YAML tree with its alias
// and depth limits, toml++ and its tree, the recognition of the earlier proxies' schemas and
// their rewriting, and every section's checks), which reads files an operator may have been
// handed. Each input is loaded twice: as a YAML file and as a TOML file. A config that loads is
// also compiled into a Router and looked up, as start-up does. Invariants checked (abort on
// violation):
//  - no exception escapes, no crash, no sanitizer report (libFuzzer and ASan see to those)
//  - an InvalidArgument error names the position: "fuzz.yaml:LINE:COL: " (or "fuzz.toml:...")
//    with LINE, COL >= 1
//  - a loaded config has a listener, and every index in it (a server's and a route's upstream,
//    a listener's servers) is in range once its tags are expanded, as start-up does; only an
//    upstream made for a tag may have no backend
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "config/config.h"
#include "config/router.h"

namespace {

constexpr std::string_view kYamlFile = "fuzz.yaml";
constexpr std::string_view kTomlFile = "fuzz.toml";

void Check(bool ok) {
  if (!ok) std::abort();
}

bool IsPositive(std::string_view digits) {
  if (digits.empty() || digits.size() > 10 || digits[0] == '0') return false;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// "fuzz.yaml:LINE:COL: message"
void CheckPositioned(std::string_view file, std::string_view message) {
  Check(message.substr(0, file.size() + 1) == std::string(file) + ":");
  message.remove_prefix(file.size() + 1);
  size_t colon = message.find(':');
  Check(colon != std::string_view::npos && IsPositive(message.substr(0, colon)));
  message.remove_prefix(colon + 1);
  colon = message.find(':');
  Check(colon != std::string_view::npos && IsPositive(message.substr(0, colon)));
  Check(message.substr(colon, 2) == ": ");
}

void CheckLoaded(ringway::config::Config cfg) {
  Check(!cfg.listeners.empty());
  for (const auto& server : cfg.servers) {
    Check(server.upstream < cfg.upstreams.size() ||
          (server.upstream == ringway::config::kNoUpstream && !server.backends_tag.empty()));
  }
  ringway::config::ExpandTags(&cfg);
  for (const auto& server : cfg.servers) {
    Check(server.upstream < cfg.upstreams.size());
    for (const auto& route : server.routes) {
      Check(route.upstream < cfg.upstreams.size());
      Check(!route.path_prefix.empty() && route.path_prefix[0] == '/');
    }
  }
  for (const auto& listener : cfg.listeners) {
    for (uint32_t s : listener.servers) Check(s < cfg.servers.size());
  }
  for (const auto& upstream : cfg.upstreams) Check(upstream.derived || !upstream.backends.empty());

  ringway::config::Router router(cfg);
  for (uint32_t l = 0; l < cfg.listeners.size(); ++l) {
    for (std::string_view host : {"", "acme.com", "www.acme.com:8080", "[::1]:80"}) {
      int server = router.FindServer(l, host);
      Check(server >= -1 && server < static_cast<int>(cfg.servers.size()));
      if (server >= 0) Check(router.FindUpstream(server, "/api/x?y") < cfg.upstreams.size());
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (std::string_view file : {kYamlFile, kTomlFile}) {
    absl::StatusOr<ringway::config::Config> cfg = ringway::config::LoadString(text, file);
    if (cfg.ok()) {
      CheckLoaded(*cfg);
    } else if (cfg.status().code() == absl::StatusCode::kInvalidArgument) {
      CheckPositioned(file, std::string(cfg.status().message()));
    }
  }
  return 0;
}
