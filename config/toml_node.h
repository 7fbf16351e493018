// TOML files read into the same positioned tree as YAML (config/yaml_node.h), so that one loader
// serves both and its errors name "FILE:LINE:COL" in either. Parsed with toml++ (Debian's
// libtomlplusplus): tables become mappings (in document order), arrays sequences, strings,
// integers, floats and booleans scalars of the same kinds; dates and times become strings.
//
//   absl::StatusOr<YamlDocument> doc = ParseToml("[proxy]\nlisten_addr = \"0.0.0.0:443\"\n",
//                                                "config.toml");
#ifndef RINGWAY_CONFIG_TOML_NODE_H_
#define RINGWAY_CONFIG_TOML_NODE_H_

#include <string_view>

#include "absl/status/statusor.h"
#include "config/yaml_node.h"

namespace ringway::config {

// Syntax errors are "FILE:LINE:COL: TOML syntax error: <what toml++ says>".
absl::StatusOr<YamlDocument> ParseToml(std::string_view text, std::string_view filename);

// Whether `filename` names a TOML file (ends in ".toml", any case).
bool IsTomlFile(std::string_view filename);

}  // namespace ringway::config

#endif  // RINGWAY_CONFIG_TOML_NODE_H_
