// Loader entry points: LoadString and LoadFile, and the top level of the document, which
// loads each section (one file each, see loader.h) and runs the checks across them. The first
// problem found is returned as "FILE:LINE:COL: what is wrong; what to change".
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <memory>
#include <string>
#include <utility>

#include "config/config.h"
#include "config/loader.h"
#include "config/toml_node.h"

namespace ringway::config {
namespace internal {

bool Loader::IsToml() const { return IsTomlFile(file_); }

absl::StatusOr<Config> Loader::Load(std::string_view text) {
  absl::StatusOr<YamlDocument> doc = IsToml() ? ParseToml(text, file_) : ParseYaml(text, file_);
  if (!doc.ok()) return doc.status();
  const YamlNode& root = doc->root;
  if (doc->empty || root.kind == Kind::kNull) {
    return Error(doc->start,
                 "the configuration is empty; it needs at least 'global: {port: ...}' "
                 "(or 'listeners'), 'servers' and 'upstreams'");
  }
  if (root.kind != Kind::kMapping) {
    return TypeError(root, "the top level of the configuration", "a mapping",
                     "start with keys such as global:, servers: and upstreams:");
  }
  absl::StatusOr<Shape> shape = DetectShape(root);
  if (!shape.ok()) return shape.status();
  absl::StatusOr<YamlNode> made;
  switch (*shape) {
    case Shape::kNative:
      break;
    case Shape::kServer:
      made = FromServerShape(root);
      break;
    case Shape::kServices:
      made = FromServicesShape(root);
      break;
    case Shape::kVhosts:
      made = FromVhostsShape(root);
      break;
  }
  if (*shape != Shape::kNative && !made.ok()) return made.status();
  absl::StatusOr<Config> cfg = LoadNative(*shape == Shape::kNative ? root : *made, doc->start);
  if (!cfg.ok()) return cfg.status();
  cfg->shape = *shape;
  cfg->origins = std::move(origins_);
  return cfg;
}

absl::StatusOr<Config> Loader::LoadNative(const YamlNode& root, Mark start) {
  // clang-format off
  static constexpr std::string_view kGlobalKeys[] = {
      "port", "workers", "tls", "log", "timeouts", "limits", "buffers", "health_check",
      "underscores_in_headers", "http2"};
  // clang-format on
  for (const YamlNode::Entry& entry : root.entries) {
    if (std::find(std::begin(kGlobalKeys), std::end(kGlobalKeys), entry.key.text) !=
        std::end(kGlobalKeys)) {
      return Error(entry.key, absl::StrFormat("unknown key '%s' at the top level; it belongs "
                                              "under 'global:', indented",
                                              entry.key.text));
    }
  }
  CONFIG_RETURN_IF_ERROR(
      CheckKeys(root, {"global", "listeners", "servers", "upstreams"}, "the top level"));

  cfg_.source = file_;
  const YamlNode* global = root.Find("global");
  cfg_.admin.bind = *ParseSocketAddress("127.0.0.1:9901");
  if (global != nullptr) CONFIG_RETURN_IF_ERROR(LoadGlobal(*global));
  cfg_.default_health = global_health_;

  // Both may be absent or empty: such a ringway answers 404 until servers (domains) and
  // backends are added through the admin API.
  if (const YamlNode* upstreams = root.Find("upstreams");
      upstreams != nullptr && upstreams->kind != Kind::kNull) {
    CONFIG_RETURN_IF_ERROR(LoadUpstreams(*upstreams));
  }
  if (const YamlNode* servers = root.Find("servers");
      servers != nullptr && servers->kind != Kind::kNull) {
    CONFIG_RETURN_IF_ERROR(LoadServers(*servers));
  }

  CONFIG_RETURN_IF_ERROR(LoadListeners(root.Find("listeners")));
  if (cfg_.listeners.empty()) {
    return Error(start,
                 "no listener is configured, so ringway would accept no "
                 "connections; add global: {port: 8080} or a listeners list such "
                 "as listeners: [{name: public, bind: \"0.0.0.0:8080\"}]");
  }
  CONFIG_RETURN_IF_ERROR(CheckListenerServers());

  for (const Server& server : cfg_.servers) {
    if (!server.tls) continue;
    if (server.upstream != kNoUpstream) cfg_.upstreams[server.upstream].tls.enabled = true;
    for (const Route& route : server.routes) cfg_.upstreams[route.upstream].tls.enabled = true;
  }
  // A server's tls: true may have turned TLS on for an h2c upstream (cleartext HTTP/2). (HTTP
  // and gRPC health checks of a TLS upstream speak TLS: health/prober.h.)
  for (size_t i = 0; i < cfg_.upstreams.size(); ++i) {
    const Upstream& u = cfg_.upstreams[i];
    if (u.tls.enabled && u.protocol == UpstreamProtocol::kH2c) {
      return Error(upstream_marks_[i],
                   absl::StrFormat("upstream '%s' has protocol: h2c (HTTP/2 in cleartext), but a "
                                   "server with tls: true makes ringway speak TLS to it; write "
                                   "protocol: h2 with tls: on the upstream, or drop tls: true "
                                   "from the server",
                                   u.name));
    }
  }
  return std::move(cfg_);
}

}  // namespace internal

namespace {

constexpr size_t kMaxFileBytes = 16 << 20;

}  // namespace

absl::StatusOr<Config> LoadString(std::string_view yaml, std::string_view filename) {
  internal::Loader loader(filename);
  return loader.Load(yaml);
}

absl::StatusOr<Config> LoadFile(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  auto fail = [&](int err) -> absl::Status {
    std::string message =
        absl::StrFormat("cannot read config file '%s': %s", path, std::strerror(err));
    if (err == ENOENT) return absl::NotFoundError(message);
    if (err == EACCES) return absl::PermissionDeniedError(message);
    return absl::FailedPreconditionError(message);
  };
  if (!file) return fail(errno);
  std::string text;
  char buf[64 * 1024];
  for (;;) {
    size_t n = std::fread(buf, 1, sizeof(buf), file.get());
    text.append(buf, n);
    if (text.size() > kMaxFileBytes) {
      return absl::FailedPreconditionError(
          absl::StrFormat("config file '%s' is larger than %d MiB; is it the right file?", path,
                          kMaxFileBytes >> 20));
    }
    if (n < sizeof(buf)) break;
  }
  if (std::ferror(file.get())) return fail(errno);
  return LoadString(text, path);
}

}  // namespace ringway::config
