// global.timeouts.tunnel (how long an idle Upgrade tunnel lives) and underscores_in_headers
// (whether request header names with '_' are forwarded), on listeners and as a global default.
#include <string>
#include <string_view>

#include "config/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/config/load_util.h"

namespace ringway::config {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

using testutil::ErrorOf;
using testutil::MustLoad;

// Lines after the global section: servers and upstreams, then a listeners list.
constexpr std::string_view kTail = R"yaml(servers: [{server_name: acme.com, upstream: web}]
upstreams: [{name: web, servers: ["127.0.0.1:3001"]}]
)yaml";

std::string With(std::string_view head, std::string_view listeners = "") {
  return std::string(head) + std::string(kTail) + std::string(listeners);
}

TEST(TunnelTimeout, DefaultsToOneHour) {
  Config cfg = MustLoad(With("global: {port: 8080}\n"));
  EXPECT_EQ(cfg.timeouts.tunnel_ms, 3'600'000u);
}

TEST(TunnelTimeout, TakesTheDurationSyntaxOfTheOtherTimeouts) {
  EXPECT_EQ(MustLoad(With("global: {port: 80, timeouts: {tunnel: 30m}}\n")).timeouts.tunnel_ms,
            1'800'000u);
  EXPECT_EQ(MustLoad(With("global: {port: 80, timeouts: {tunnel: 90}}\n")).timeouts.tunnel_ms,
            90'000u);  // a bare number is seconds
  EXPECT_EQ(MustLoad(With("global: {port: 80, timeouts: {tunnel: 2h}}\n")).timeouts.tunnel_ms,
            7'200'000u);
  Config cfg = MustLoad(With("global: {port: 80, timeouts: {tunnel: 500ms, keepalive: 5s}}\n"));
  EXPECT_EQ(cfg.timeouts.tunnel_ms, 500u);
  EXPECT_EQ(cfg.timeouts.keepalive_ms, 5'000u);  // the others are untouched by it
}

TEST(TunnelTimeout, BadValuesAreRefusedWithTheirPosition) {
  EXPECT_THAT(ErrorOf(With("global:\n  port: 80\n  timeouts:\n    tunnel: 0s\n")),
              StartsWith("test.yaml:4:13: 'tunnel' in global.timeouts: duration '0s' is zero"));
  EXPECT_THAT(ErrorOf(With("global:\n  port: 80\n  timeouts:\n    tunnel: 1.5\n")),
              AllOf(StartsWith("test.yaml:4:13: 'tunnel' in global.timeouts must be a duration"),
                    HasSubstr("1500ms")));
  EXPECT_THAT(ErrorOf(With("global:\n  port: 80\n  timeouts:\n    tunnel: forever\n")),
              StartsWith("test.yaml:4:13: 'tunnel' in global.timeouts: 'forever' is not a "
                         "duration"));
}

TEST(TunnelTimeout, TyposAreSuggested) {
  EXPECT_THAT(ErrorOf(With("global:\n  port: 80\n  timeouts:\n    tunel: 1h\n")),
              AllOf(StartsWith("test.yaml:4:5: unknown key 'tunel' in global.timeouts"),
                    HasSubstr("did you mean 'tunnel'?")));
}

TEST(UnderscoresInHeaders, OffByDefaultOnEveryListener) {
  Config cfg = MustLoad(
      With("global: {port: 8080}\n", "listeners: [{name: other, bind: \"127.0.0.1:8081\"}]\n"));
  ASSERT_EQ(cfg.listeners.size(), 2u);
  EXPECT_FALSE(cfg.listeners[0].underscores_in_headers);  // the one global.port makes
  EXPECT_FALSE(cfg.listeners[1].underscores_in_headers);
}

TEST(UnderscoresInHeaders, GlobalSetsTheDefaultAndAListenerOverridesIt) {
  Config cfg = MustLoad(With("global: {port: 8080, underscores_in_headers: true}\n",
                             "listeners:\n"
                             "  - {name: inherits, bind: \"127.0.0.1:8081\"}\n"
                             "  - {name: strict, bind: \"127.0.0.1:8082\", "
                             "underscores_in_headers: false}\n"));
  ASSERT_EQ(cfg.listeners.size(), 3u);
  EXPECT_TRUE(cfg.listeners[0].underscores_in_headers);  // global.port's listener
  EXPECT_TRUE(cfg.listeners[1].underscores_in_headers);
  EXPECT_FALSE(cfg.listeners[2].underscores_in_headers);

  cfg = MustLoad(With("global: {underscores_in_headers: false}\n",
                      "listeners:\n"
                      "  - {name: a, bind: \"127.0.0.1:8081\", underscores_in_headers: true}\n"
                      "  - {name: b, bind: \"127.0.0.1:8082\"}\n"));
  ASSERT_EQ(cfg.listeners.size(), 2u);
  EXPECT_TRUE(cfg.listeners[0].underscores_in_headers);
  EXPECT_FALSE(cfg.listeners[1].underscores_in_headers);
}

TEST(UnderscoresInHeaders, MustBeABoolean) {
  EXPECT_THAT(ErrorOf(With("global:\n  port: 80\n  underscores_in_headers: \"true\"\n")),
              AllOf(StartsWith("test.yaml:3:27: 'underscores_in_headers' in global must be a "
                               "boolean"),
                    HasSubstr("remove the quotes around true")));
  EXPECT_THAT(ErrorOf(With("global: {port: 80}\n",
                           "listeners:\n  - name: a\n    bind: "
                           "\":81\"\n    underscores_in_headers: drop\n")),
              StartsWith("test.yaml:7:29: 'underscores_in_headers' in listener 'a' must be a "
                         "boolean"));
}

TEST(UnderscoresInHeaders, TyposAndMisplacedKeysPointToIt) {
  EXPECT_THAT(ErrorOf(With("global:\n  port: 80\n  underscore_in_headers: true\n")),
              AllOf(StartsWith("test.yaml:3:3: unknown key 'underscore_in_headers' in global"),
                    HasSubstr("did you mean 'underscores_in_headers'?")));
  EXPECT_THAT(ErrorOf(With("global: {port: 80}\n",
                           "listeners: [{name: a, bind: \":81\", underscores_in_header: on}]\n")),
              AllOf(StartsWith("test.yaml:4:36: unknown key 'underscores_in_header' in listener "
                               "'a'"),
                    HasSubstr("did you mean 'underscores_in_headers'?")));
  EXPECT_THAT(ErrorOf(With("global: {port: 80}\nunderscores_in_headers: true\n")),
              AllOf(StartsWith("test.yaml:2:1: unknown key 'underscores_in_headers' at the top "
                               "level"),
                    HasSubstr("belongs under 'global:'")));
}

}  // namespace
}  // namespace ringway::config
