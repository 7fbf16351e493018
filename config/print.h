// `ringway config print`: a loaded configuration written back as native YAML.
//
// The text holds what differs from the defaults, plus every listener, server and upstream with
// the keys that name them, so that loading it gives the same configuration again:
//
//   absl::StatusOr<config::Config> cfg = config::LoadFile(path);
//   if (cfg.ok()) std::cout << config::PrintYaml(*cfg);
//
// Comments say where the file came from (Config::source) and, for a file converted from another
// schema, where each part was written there (Config::origins, above the key or list item that
// Origin::path names). The admin token is printed: the result is the user's own configuration.
#ifndef RINGWAY_CONFIG_PRINT_H_
#define RINGWAY_CONFIG_PRINT_H_

#include <string>
#include <string_view>

#include "config/config.h"

namespace ringway::config {

// The native YAML for `cfg`. Loading the text back (LoadString) gives a Config that prints
// the same text again. Comments name where each part came from (cfg.origins) and the file.
// Upstreams made by ExpandTags (Upstream::derived) are left out; servers and routes that point
// at one are printed with the upstream and tag it was made from.
std::string PrintYaml(const Config& cfg);

// `text` as a YAML scalar: as it is when it reads back as the same string in block and flow
// context, else in double quotes with \ " and control characters escaped.
std::string YamlScalar(std::string_view text);

}  // namespace ringway::config

#endif  // RINGWAY_CONFIG_PRINT_H_
