// global.admin.metrics_bind: a second admin listener that serves only the read-only pages.
#include <string>

#include "config/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/config/load_util.h"

namespace ringway::config {
namespace {

using ::testing::HasSubstr;
using testutil::ErrorOf;
using testutil::MustLoad;

constexpr char kTail[] = R"(
listeners:
  - name: public
    bind: "127.0.0.1:8080"
servers:
  - server_name: a.com
    upstream: web
upstreams:
  - name: web
    servers: ["127.0.0.1:3001"]
)";

std::string WithAdmin(const std::string& admin) { return "global:\n  admin:\n" + admin + kTail; }

TEST(MetricsBind, NoneByDefault) {
  Config cfg = MustLoad(kTail);
  EXPECT_EQ(cfg.admin.metrics_bind.len, 0u);
  EXPECT_TRUE(cfg.admin.metrics_bind.text.empty());
}

TEST(MetricsBind, Loopback) {
  Config cfg = MustLoad(WithAdmin("    metrics_bind: \"127.0.0.1:9090\"\n"));
  EXPECT_EQ(cfg.admin.metrics_bind.text, "127.0.0.1:9090");
  EXPECT_GT(cfg.admin.metrics_bind.len, 0u);
  EXPECT_EQ(cfg.admin.bind.text, "127.0.0.1:9901");
}

// Other machines may reach it without a token: it serves no change and no configuration.
TEST(MetricsBind, AllAddressesWithoutToken) {
  Config cfg =
      MustLoad(WithAdmin("    bind: \"127.0.0.1:9901\"\n"
                         "    metrics_bind: \"0.0.0.0:9090\"\n"));
  EXPECT_EQ(cfg.admin.metrics_bind.text, "0.0.0.0:9090");
  EXPECT_TRUE(cfg.admin.token.empty());
}

TEST(MetricsBind, PortOnly) {
  Config cfg = MustLoad(WithAdmin("    metrics_bind: \":9090\"\n"));
  EXPECT_EQ(cfg.admin.metrics_bind.text, "0.0.0.0:9090");
}

TEST(MetricsBind, Ipv6) {
  Config cfg = MustLoad(WithAdmin("    metrics_bind: \"[::1]:9090\"\n"));
  EXPECT_EQ(cfg.admin.metrics_bind.text, "[::1]:9090");
}

TEST(MetricsBind, SameAsAdminBindRefused) {
  std::string e =
      ErrorOf(WithAdmin("    bind: \"127.0.0.1:9901\"\n"
                        "    metrics_bind: \"127.0.0.1:9901\"\n"));
  EXPECT_THAT(e, HasSubstr("test.yaml:4:19: "));
  EXPECT_THAT(e, HasSubstr("global.admin.metrics_bind 127.0.0.1:9901"));
  EXPECT_THAT(e, HasSubstr("global.admin.bind 127.0.0.1:9901 (line 3, column 11)"));
  EXPECT_THAT(e, HasSubstr("another port"));
}

// Without bind: the default admin address counts.
TEST(MetricsBind, SameAsDefaultAdminBindRefused) {
  std::string e = ErrorOf(WithAdmin("    metrics_bind: \"127.0.0.1:9901\"\n"));
  EXPECT_THAT(e, HasSubstr("test.yaml:3:19: "));
  EXPECT_THAT(e, HasSubstr("(its default)"));
}

// The wildcard address of the same family on the admin port could not be bound either.
TEST(MetricsBind, WildcardOnAdminPortRefused) {
  std::string e =
      ErrorOf(WithAdmin("    bind: \"127.0.0.1:9901\"\n"
                        "    metrics_bind: \"0.0.0.0:9901\"\n"));
  EXPECT_THAT(e, HasSubstr("test.yaml:4:19: "));
  e =
      ErrorOf(WithAdmin("    bind: \"[::1]:9901\"\n"
                        "    metrics_bind: \"[::]:9901\"\n"));
  EXPECT_THAT(e, HasSubstr("test.yaml:4:19: "));
}

TEST(MetricsBind, SamePortOtherAddressOrFamilyLoads) {
  MustLoad(
      WithAdmin("    bind: \"127.0.0.1:9901\"\n"
                "    metrics_bind: \"127.0.0.2:9901\"\n"));
  MustLoad(
      WithAdmin("    bind: \"127.0.0.1:9901\"\n"
                "    metrics_bind: \"[::1]:9901\"\n"));
}

TEST(MetricsBind, HostNameRefused) {
  std::string e = ErrorOf(WithAdmin("    metrics_bind: \"metrics.example.com:9090\"\n"));
  EXPECT_THAT(e, HasSubstr("test.yaml:3:19: 'metrics_bind' in global.admin"));
}

TEST(MetricsBind, NumberRefused) {
  std::string e = ErrorOf(WithAdmin("    metrics_bind: 9090\n"));
  EXPECT_THAT(e, HasSubstr("test.yaml:3:19: "));
  EXPECT_THAT(e, HasSubstr("\":9090\""));
}

TEST(MetricsBind, MisspelledKeySuggested) {
  std::string e = ErrorOf(WithAdmin("    metric_bind: \"127.0.0.1:9090\"\n"));
  EXPECT_THAT(e, HasSubstr("metrics_bind"));
}

}  // namespace
}  // namespace ringway::config
