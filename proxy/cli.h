// Parts of the command line kept out of main.cc so they can be tested: `ringway config print`,
// where the configuration file is looked for when none is named, and the log level from the
// environment (RINGWAY_LOG, or RUST_LOG as the proxies ringway replaces read it).
#ifndef RINGWAY_PROXY_CLI_H_
#define RINGWAY_PROXY_CLI_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "config/config.h"

namespace ringway::proxy {

// The default places for the configuration, in order: ringway's own, then those the earlier
// proxies documented, relative to the working directory.
inline constexpr const char* kDefaultConfigPaths[] = {
    "/etc/ringway/ringway.yaml", "config/default.yaml", "config.yaml", "config.toml"};

// The first default place that holds a file; "" when none does.
std::string FindDefaultConfig();

// What to say when no file was named and none of the default places holds one.
std::string NoDefaultConfigMessage();

struct LogFromEnv {
  bool set = false;
  config::LogLevel level = config::LogLevel::kInfo;
  std::string notice;  // one line for stderr ("" for none)
};

// RINGWAY_LOG (trace, debug, info, warn, error, off) wins over RUST_LOG, read as written by
// the earlier proxies ("debug", "info,my_crate=debug": the bare level, else the finest named
// one). A bad RINGWAY_LOG is an error; a RUST_LOG ringway cannot read is ignored with a notice
// (it may be meant for another program).
absl::StatusOr<LogFromEnv> LogLevelFromEnv(const char* ringway_log, const char* rust_log);

// `ringway config print [--config FILE | FILE]`: prints the native YAML of any accepted file.
// Returns the exit status.
int ConfigCommand(const std::vector<std::string>& args);

}  // namespace ringway::proxy

#endif  // RINGWAY_PROXY_CLI_H_
