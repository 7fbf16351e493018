// Helpers shared by the config tests: load a YAML text that must load, or must be refused.
#ifndef RINGWAY_TESTS_CONFIG_LOAD_UTIL_H_
#define RINGWAY_TESTS_CONFIG_LOAD_UTIL_H_

#include <string>
#include <string_view>

#include "config/config.h"
#include "gtest/gtest.h"

namespace ringway::config::testutil {

// The name errors carry: "test.yaml:LINE:COL: ...".
inline constexpr char kFile[] = "test.yaml";

// The loader's error message for `yaml`; fails the test when it loads.
inline std::string ErrorOf(std::string_view yaml) {
  absl::StatusOr<Config> cfg = LoadString(yaml, kFile);
  EXPECT_FALSE(cfg.ok()) << "loaded without error:\n" << yaml;
  if (cfg.ok()) return "(loaded)";
  EXPECT_EQ(cfg.status().code(), absl::StatusCode::kInvalidArgument) << cfg.status();
  return std::string(cfg.status().message());
}

inline Config MustLoad(std::string_view yaml) {
  absl::StatusOr<Config> cfg = LoadString(yaml, kFile);
  EXPECT_TRUE(cfg.ok()) << cfg.status() << "\n" << yaml;
  return cfg.ok() ? *std::move(cfg) : Config{};
}

}  // namespace ringway::config::testutil

#endif  // RINGWAY_TESTS_CONFIG_LOAD_UTIL_H_
