// The log level from the environment (RINGWAY_LOG over RUST_LOG) and the default config places.
#include "proxy/cli.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ringway::proxy {
namespace {

using ::testing::HasSubstr;

TEST(LogLevelFromEnv, NothingSetLeavesTheFile) {
  absl::StatusOr<LogFromEnv> r = LogLevelFromEnv(nullptr, nullptr);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->set);
  EXPECT_TRUE(r->notice.empty());
  r = LogLevelFromEnv("", "");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->set);
}

TEST(LogLevelFromEnv, RingwayLogWinsAndIsQuiet) {
  absl::StatusOr<LogFromEnv> r = LogLevelFromEnv("warn", "debug");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->set);
  EXPECT_EQ(r->level, config::LogLevel::kWarn);
  EXPECT_TRUE(r->notice.empty());
  for (auto [word, level] :
       {std::pair{"trace", config::LogLevel::kDebug}, std::pair{"DEBUG", config::LogLevel::kDebug},
        std::pair{"info", config::LogLevel::kInfo}, std::pair{"warning", config::LogLevel::kWarn},
        std::pair{" error ", config::LogLevel::kError},
        std::pair{"off", config::LogLevel::kError}}) {
    absl::StatusOr<LogFromEnv> v = LogLevelFromEnv(word, nullptr);
    ASSERT_TRUE(v.ok()) << word;
    EXPECT_EQ(v->level, level) << word;
  }
}

TEST(LogLevelFromEnv, BadRingwayLogIsAnError) {
  absl::StatusOr<LogFromEnv> r = LogLevelFromEnv("loud", nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("RINGWAY_LOG is 'loud'"));
  EXPECT_THAT(r.status().message(), HasSubstr("trace, debug, info, warn, error, off"));
}

TEST(LogLevelFromEnv, RustLogAsTheEarlierProxiesReadIt) {
  absl::StatusOr<LogFromEnv> r = LogLevelFromEnv(nullptr, "debug");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->set);
  EXPECT_EQ(r->level, config::LogLevel::kDebug);
  EXPECT_EQ(r->notice,
            "ringway: log level debug from RUST_LOG='debug' (ringway's own variable is "
            "RINGWAY_LOG)");
  // The bare level wins over target directives.
  r = LogLevelFromEnv(nullptr, "pingora_proxy=debug,warn");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->level, config::LogLevel::kWarn);
  // Only target directives: the finest named.
  r = LogLevelFromEnv(nullptr, "a=warn, b=info");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->set);
  EXPECT_EQ(r->level, config::LogLevel::kInfo);
}

TEST(LogLevelFromEnv, UnreadableRustLogIsIgnoredWithANotice) {
  absl::StatusOr<LogFromEnv> r = LogLevelFromEnv(nullptr, "my_crate::module");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->set);
  EXPECT_THAT(r->notice, HasSubstr("names no log level ringway knows; ignored"));
}

TEST(DefaultConfig, PlacesInOrder) {
  EXPECT_STREQ(kDefaultConfigPaths[0], "/etc/ringway/ringway.yaml");
  EXPECT_STREQ(kDefaultConfigPaths[1], "config/default.yaml");
  EXPECT_THAT(NoDefaultConfigMessage(),
              HasSubstr("/etc/ringway/ringway.yaml, config/default.yaml, config.yaml, "
                        "config.toml; name one with --config FILE"));
}

}  // namespace
}  // namespace ringway::proxy
