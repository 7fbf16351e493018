// `ringway config ...`, default config places, and the log level from the environment.
#include "proxy/cli.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "config/print.h"

namespace ringway::proxy {
namespace {

// "off" logs errors only: ringway has no level above error.
bool ParseLevel(std::string_view word, config::LogLevel* out) {
  std::string w(word);
  while (!w.empty() && (w.back() == ' ' || w.back() == '\t')) w.pop_back();
  while (!w.empty() && (w.front() == ' ' || w.front() == '\t')) w.erase(0, 1);
  w = absl::AsciiStrToLower(w);
  if (w == "trace" || w == "debug") {
    *out = config::LogLevel::kDebug;
  } else if (w == "info") {
    *out = config::LogLevel::kInfo;
  } else if (w == "warn" || w == "warning") {
    *out = config::LogLevel::kWarn;
  } else if (w == "error" || w == "off") {
    *out = config::LogLevel::kError;
  } else {
    return false;
  }
  return true;
}

}  // namespace

std::string FindDefaultConfig() {
  for (const char* path : kDefaultConfigPaths) {
    if (access(path, F_OK) == 0) return path;
  }
  return "";
}

std::string NoDefaultConfigMessage() {
  std::vector<std::string> paths(std::begin(kDefaultConfigPaths), std::end(kDefaultConfigPaths));
  return absl::StrCat("no configuration file was named and none is at ", absl::StrJoin(paths, ", "),
                      "; name one with --config FILE (or CONFIG_PATH=FILE)");
}

absl::StatusOr<LogFromEnv> LogLevelFromEnv(const char* ringway_log, const char* rust_log) {
  LogFromEnv out;
  if (ringway_log != nullptr && *ringway_log != '\0') {
    if (!ParseLevel(ringway_log, &out.level)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "RINGWAY_LOG is '", ringway_log, "'; use one of trace, debug, info, warn, error, off"));
    }
    out.set = true;
    return out;
  }
  if (rust_log == nullptr || *rust_log == '\0') return out;
  // Directives: "level" or "target=level", comma-separated. The bare level wins; else the
  // finest level named for any target.
  bool bare = false;
  bool any = false;
  config::LogLevel finest = config::LogLevel::kError;
  std::vector<std::string> directives = absl::StrSplit(rust_log, ',', absl::SkipWhitespace());
  for (const std::string& d : directives) {
    std::string_view directive = d;
    config::LogLevel l;
    size_t eq = directive.find('=');
    if (eq == std::string_view::npos) {
      if (ParseLevel(directive, &l)) {
        out.level = l;
        bare = true;
      }
      continue;
    }
    if (ParseLevel(directive.substr(eq + 1), &l)) {
      any = true;
      if (static_cast<int>(l) < static_cast<int>(finest)) finest = l;
    }
  }
  if (!bare && any) out.level = finest;
  if (!bare && !any) {
    out.notice = absl::StrCat("ringway: RUST_LOG='", rust_log,
                              "' names no log level ringway knows; ignored (set RINGWAY_LOG to "
                              "trace, debug, info, warn or error)");
    return out;
  }
  out.set = true;
  out.notice =
      absl::StrCat("ringway: log level ", config::LogLevelName(out.level), " from RUST_LOG='",
                   rust_log, "' (ringway's own variable is RINGWAY_LOG)");
  return out;
}

int ConfigCommand(const std::vector<std::string>& args) {
  // args: what follows "config".
  constexpr const char* kUsage =
      "usage: ringway config print [--config FILE | FILE]\n"
      "  prints the configuration in ringway's own YAML schema, whatever schema the file\n"
      "  is written in; the output loads to the same behaviour\n";
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    std::fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? 1 : 0;
  }
  if (args[0] != "print") {
    std::fprintf(stderr, "ringway: unknown config command '%s'\n%s", args[0].c_str(), kUsage);
    return 1;
  }
  std::string path;
  if (const char* env = std::getenv("CONFIG_PATH"); env && *env) path = env;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-c" || a == "--config") {
      if (i + 1 >= args.size()) {
        std::fprintf(stderr, "ringway: --config needs a value\n%s", kUsage);
        return 1;
      }
      path = args[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      path = a.substr(9);
    } else if (!a.empty() && a[0] != '-') {
      path = a;
    } else {
      std::fprintf(stderr, "ringway: unknown argument '%s'\n%s", a.c_str(), kUsage);
      return 1;
    }
  }
  if (path.empty()) path = FindDefaultConfig();
  if (path.empty()) {
    std::fprintf(stderr, "ringway: %s\n", NoDefaultConfigMessage().c_str());
    return 1;
  }
  absl::StatusOr<config::Config> cfg = config::LoadFile(path);
  if (!cfg.ok()) {
    std::fprintf(stderr, "ringway: %s\n", std::string(cfg.status().message()).c_str());
    return 1;
  }
  std::string text = config::PrintYaml(*cfg);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return 0;
}

}  // namespace ringway::proxy
