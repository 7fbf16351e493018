// Changes made through the admin API, kept over the config file (the overlay).
//
// The API never edits the YAML file. What it changes (domains added, switched or deleted;
// backends added, edited or deleted) is an overlay: a list of edits keyed by domain name and
// backend id, applied to the config as loaded from the file, before tags are expanded. The
// overlay is written atomically (temporary file, fsync, rename) next to the config file as
// "<name>.state.json" after every change, and applied again at start and at every reload, so
// changes survive both. An edit of the file changes whatever the overlay does not name; for a
// domain or backend the overlay names, the overlay's values win. Deleting the state file (and
// reloading) returns to the file alone.
//
//   Overlay o = *LoadOverlay(StatePath(config_path));
//   RETURN_IF_ERROR(ApplyOverlay(o, &cfg));
//   config::ExpandTags(&cfg);
#ifndef RINGWAY_PROXY_STATE_H_
#define RINGWAY_PROXY_STATE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "config/config.h"

namespace ringway::proxy {

struct Overlay {
  struct Domain {
    std::string domain;
    bool deleted = false;
    std::optional<std::string> tag;       // enabled_backends_tag ("" removes it)
    std::optional<bool> http_to_https;    // redirect_https
    std::optional<std::string> upstream;  // a new domain's upstream; none: backends by tag
    // Added through the API (POST), not in the file. An entry that only edits a domain of the
    // file is dropped once the file no longer has that domain.
    bool added = false;
  };
  struct Backend {
    std::string id;
    bool deleted = false;
    std::optional<std::string> address;
    std::optional<std::vector<std::string>> tags;
    std::optional<uint32_t> weight;
    std::optional<config::BackendState> state;
    std::optional<std::string> upstream;  // a new backend's upstream; none: "backends"
    bool added = false;  // added through the API; an edit of a file backend the file dropped goes
  };
  std::vector<Domain> domains;    // one entry per domain, in the order first changed
  std::vector<Backend> backends;  // one entry per backend id

  Domain* FindDomain(std::string_view d);
  Backend* FindBackend(std::string_view id);
  bool empty() const { return domains.empty() && backends.empty(); }
};

// The upstream that API backends without one join.
inline constexpr std::string_view kApiUpstream = "backends";

// Applies `o` to `cfg` (a config as loaded, before ExpandTags). The error names the entry and
// what conflicts ("backend 'web-v3': upstream 'x' is not defined").
absl::Status ApplyOverlay(const Overlay& o, config::Config* cfg);

// "<dir>/<stem>.state.json" for "<dir>/<stem>.yaml".
std::string StatePath(const std::string& config_path);
// The state file of a config: global.state_file, else StatePath(config_path).
inline std::string StateFile(const config::Config& cfg, const std::string& config_path) {
  return cfg.state_file.empty() ? StatePath(config_path) : cfg.state_file;
}

std::string OverlayToJson(const Overlay& o);
// Strict: unknown fields and wrong types are errors.
absl::StatusOr<Overlay> OverlayFromJson(std::string_view json);
// A missing file is an empty overlay.
absl::StatusOr<Overlay> LoadOverlay(const std::string& path);
absl::Status SaveOverlay(const std::string& path, const Overlay& o);

// A server's domain: its first server name (its name for a default server without names).
std::string_view DomainOf(const config::Server& s);
// Where a domain is in a config: the index of the server whose domain it is, or -1.
int FindDomain(const config::Config& cfg, std::string_view domain);
// The server that answers `name` (its name or one of its server names), or -1.
int FindServerName(const config::Config& cfg, std::string_view name);
// The upstream index and position of backend `id`, or false.
bool FindBackendId(const config::Config& cfg, std::string_view id, uint32_t* upstream,
                   uint32_t* position);

const char* StateName(config::BackendState s);
// A domain as a server name: lower-case letters, digits, '-' and '.', an optional "*." first.
bool ValidDomain(std::string_view d);
std::optional<config::BackendState> ParseState(std::string_view s);

}  // namespace ringway::proxy

#endif  // RINGWAY_PROXY_STATE_H_
