// The loader on very large and hostile configurations: every duplicate check is linear, name
// suggestions cost nothing on long names, and what would not fit in memory is refused with its
// position. Time bounds are generous (the linear code takes well under a second in Release);
// the quadratic checks they replace took minutes at these sizes.
#include <chrono>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "config/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/config/load_util.h"

namespace ringway::config {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

using testutil::ErrorOf;
using testutil::MustLoad;

constexpr double kSeconds = 30.0;

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// 40,000 upstreams of six keys each (240,000 keys, 560,000 values): over the old value cap,
// and a test of every per-upstream step for work that grows with the number of upstreams.
TEST(LoadLimits, FortyThousandUpstreamsLoad) {
  constexpr int kUpstreams = 40'000;
  std::string yaml = "global: {port: 8080}\nservers: [{server_name: a.com, upstream: u0}]\n";
  yaml += "upstreams:\n";
  for (int i = 0; i < kUpstreams; ++i) {
    absl::StrAppend(&yaml, "  - {name: u", i,
                    ", servers: [\"127.0.0.1:3001\"], keepalive: 8, algorithm: random, "
                    "retry: {tries: 2}}\n");
  }
  auto start = std::chrono::steady_clock::now();
  Config cfg = MustLoad(yaml);
  EXPECT_LT(SecondsSince(start), kSeconds);
  ASSERT_EQ(cfg.upstreams.size(), size_t{kUpstreams});
  EXPECT_EQ(cfg.upstreams.back().name, "u39999");
  EXPECT_EQ(cfg.upstreams.back().retry.tries, 2u);
}

// Backends of one upstream were compared pairwise for duplicates.
TEST(LoadLimits, ManyBackendsInOneUpstreamAreCheckedInLinearTime) {
  constexpr int kBackends = 200'000;
  std::string list;
  for (int i = 0; i < kBackends; ++i) {
    absl::StrAppend(&list, i == 0 ? "" : ", ", "\"127.0.", i / 50'000, ".1:", 1 + i % 50'000, "\"");
  }
  std::string head = "global: {port: 8080}\nservers: [{server_name: a.com, upstream: web}]\n";
  auto start = std::chrono::steady_clock::now();
  Config cfg = MustLoad(head + "upstreams: [{name: web, servers: [" + list + "]}]\n");
  EXPECT_LT(SecondsSince(start), kSeconds);
  ASSERT_EQ(cfg.upstreams.size(), 1u);
  EXPECT_EQ(cfg.upstreams[0].backends.size(), size_t{kBackends});
  // The same address written another way, at the end, is still found.
  std::string e = ErrorOf(head + "upstreams: [{name: web, servers: [" + list +
                          ", \"http://127.0.0.1:1/\"]}]\n");
  EXPECT_THAT(e, AllOf(StartsWith("test.yaml:3:"),
                       HasSubstr("backend 127.0.0.1:1 appears twice in upstream 'web'")));
}

// Routes of one server, server names of one server, and servers named by a listener were also
// compared pairwise; each duplicate is still reported with where the first one is.
TEST(LoadLimits, ManyRoutesServerNamesAndListenerServersAreCheckedInLinearTime) {
  constexpr int kCount = 100'000;
  std::string routes;
  std::string names;
  for (int i = 0; i < kCount; ++i) {
    absl::StrAppend(&routes, "      - {path: /p", i, "/, upstream: web}\n");
    absl::StrAppend(&names, i == 0 ? "" : ", ", "h", i, ".acme.com");
  }
  std::string upstreams = "upstreams: [{name: web, servers: [\"127.0.0.1:3001\"]}]\n";
  auto start = std::chrono::steady_clock::now();
  Config cfg = MustLoad("global: {port: 8080}\n" + upstreams + "servers:\n  - server_name: [" +
                        names + "]\n    upstream: web\n" + "    routes:\n" + routes);
  EXPECT_LT(SecondsSince(start), kSeconds);
  ASSERT_EQ(cfg.servers.size(), 1u);
  EXPECT_EQ(cfg.servers[0].routes.size(), size_t{kCount});
  EXPECT_EQ(cfg.servers[0].server_names.size(), size_t{kCount});

  // Routes start on line 7, so /p1/ is on line 8; its repeat is on the last line.
  std::string e = ErrorOf(
      "global: {port: 8080}\n" + upstreams + "servers:\n  - server_name: a.com\n" +
      "    upstream: web\n    routes:\n" + routes + "      - {path: /p1/, upstream: web}\n");
  EXPECT_THAT(e, StartsWith(absl::StrFormat("test.yaml:%d:16: route path '/p1/' appears twice in "
                                            "server 'a.com' (first at line 8, column 16)",
                                            kCount + 7)));
  e = ErrorOf("global: {port: 8080}\n" + upstreams + "servers:\n  - server_name: [" + names +
              ", H5.Acme.Com]\n    upstream: web\n");
  EXPECT_THAT(e, AllOf(StartsWith("test.yaml:4:"),
                       HasSubstr("server name 'h5.acme.com' appears twice in server "
                                 "'h0.acme.com' (first at line 4, column ")));

  // A listener that lists 20,000 servers, one of them twice at the end.
  constexpr int kServers = 20'000;
  std::string servers = "servers:\n";
  std::string refs;
  for (int i = 0; i < kServers; ++i) {
    absl::StrAppend(&servers, "  - {name: s", i, ", server_name: s", i, ".com, upstream: web}\n");
    absl::StrAppend(&refs, i == 0 ? "" : ", ", "s", i);
  }
  std::string listeners = "listeners: [{name: pub, bind: \":8080\", servers: [" + refs;
  start = std::chrono::steady_clock::now();
  cfg = MustLoad(upstreams + servers + listeners + "]}]\n");
  EXPECT_LT(SecondsSince(start), kSeconds);
  ASSERT_EQ(cfg.listeners.size(), 1u);
  EXPECT_EQ(cfg.listeners[0].servers.size(), size_t{kServers});
  EXPECT_THAT(ErrorOf(upstreams + servers + listeners + ", s17]}]\n"),
              HasSubstr("server 's17' is listed twice in listener 'pub'"));
}

// Listeners were compared pairwise by name and address; the earliest clash is still the one
// reported, by name before address.
TEST(LoadLimits, ManyListenersAreCheckedInLinearTime) {
  constexpr int kListeners = 30'000;
  std::string listeners = "listeners:\n";
  for (int i = 0; i < kListeners; ++i) {
    absl::StrAppend(&listeners, "  - {name: l", i, ", bind: \"127.0.0.", 1 + i / 10'000, ":",
                    1 + i % 10'000, "\"}\n");
  }
  std::string rest =
      "servers: [{server_name: a.com, upstream: web}]\n"
      "upstreams: [{name: web, servers: [\"127.0.0.1:3001\"]}]\n";
  auto start = std::chrono::steady_clock::now();
  Config cfg = MustLoad(rest + listeners);
  EXPECT_LT(SecondsSince(start), kSeconds);
  EXPECT_EQ(cfg.listeners.size(), size_t{kListeners});
  // Listener l9 is on line 13: two lines of rest, "listeners:", then one per listener.
  int last = kListeners + 4;
  EXPECT_THAT(ErrorOf(rest + listeners + "  - {name: new, bind: \"127.0.0.1:10\"}\n"),
              StartsWith(absl::StrFormat("test.yaml:%d:23: listener 'new' binds 127.0.0.1:10, "
                                         "which listener 'l9' already binds at line 13, column 22",
                                         last)));
  // l20 clashes by address after l5 by name: the name of the earlier one is reported.
  EXPECT_THAT(ErrorOf(rest + listeners + "  - {name: l5, bind: \"127.0.0.1:21\"}\n"),
              StartsWith(absl::StrFormat("test.yaml:%d:12: listener name 'l5' is already used at "
                                         "line 9, column 12",
                                         last)));
  EXPECT_THAT(ErrorOf(rest + listeners + "  - {name: l25, bind: \"127.0.0.1:6\"}\n"),
              StartsWith(absl::StrFormat("test.yaml:%d:23: listener 'l25' binds 127.0.0.1:6, "
                                         "which listener 'l5' already binds",
                                         last)));
}

// Each listener keeps its own table of the names of the servers it serves, so 400 listeners
// serving one server of 10,001 names would hold four million names. Refused at the listener
// that crosses the limit.
TEST(LoadLimits, ListenersServingTooManyHostNamesInAllAreRefused) {
  std::string names;
  for (int i = 0; i <= 10'000; ++i) absl::StrAppend(&names, i == 0 ? "" : ", ", "h", i, ".com");
  std::string head = "servers: [{server_name: [" + names +
                     "], upstream: web}]\n"
                     "upstreams: [{name: web, servers: [\"127.0.0.1:3001\"]}]\n"
                     "listeners:\n";
  std::string listeners;
  for (int i = 1; i <= 399; ++i)
    absl::StrAppend(&listeners, "  - {name: l", i, ", bind: \":", i, "\"}\n");
  Config cfg = MustLoad(head + listeners);  // 399 * 10,001 names: under the limit
  EXPECT_EQ(cfg.listeners.size(), 399u);
  EXPECT_THAT(ErrorOf(head + listeners + "  - {name: l400, bind: \":400\"}\n"),
              StartsWith("test.yaml:403:12: listener 'l400' takes the host names that listeners "
                         "serve past 4000000 in all"));
}

// Suggestions compared every pair of characters of two names, in a table of their product:
// names of 100,000 characters asked for 80 GB. Long names now get no suggestion, at once.
TEST(LoadLimits, LongNamesGetNoSuggestionAndCostNothing) {
  std::string a(100'000, 'a');
  std::string b = a;
  b.back() = 'b';
  auto start = std::chrono::steady_clock::now();
  std::string e = ErrorOf("global: {port: 8080}\nservers: [{server_name: a.com, upstream: " + b +
                          "}]\nupstreams: [{name: " + a + ", servers: [\"127.0.0.1:3001\"]}]\n");
  EXPECT_THAT(e, AllOf(StartsWith("test.yaml:2:"), HasSubstr("is not defined"),
                       Not(HasSubstr("did you mean"))));
  // A key longer than 1024 characters has to be written as an explicit "? key".
  e = ErrorOf("global:\n  port: 8080\n  ? " + a + "\n  : 1\n");
  EXPECT_THAT(
      e, AllOf(StartsWith("test.yaml:3:5: unknown key"), HasSubstr("the keys allowed here are")));
  EXPECT_LT(SecondsSince(start), kSeconds);
  // A short typo is still suggested, also among many names.
  EXPECT_THAT(ErrorOf("global: {port: 8080}\nservers: [{server_name: a.com, upstream: webb}]\n"
                      "upstreams: [{name: web, servers: [\"127.0.0.1:3001\"]}, {name: " +
                      a + ", servers: [\"127.0.0.1:3001\"]}]\n"),
              HasSubstr("did you mean 'web'?"));
}

// The document through the loader: the error names the alias and its position.
TEST(LoadLimits, AliasBlowUpIsAPositionedError) {
  std::string yaml = "global: {port: 8080}\nx: &big \"" + std::string(1 << 20, 'A') + "\"\ny: [";
  for (int i = 0; i < 20'000; ++i) yaml += i == 0 ? "*big" : ", *big";
  yaml += "]\n";
  EXPECT_THAT(ErrorOf(yaml), StartsWith(absl::StrFormat("test.yaml:3:%d: alias '*big' takes the "
                                                        "document past 16 MiB",
                                                        5 + 6 * 14)));
}

}  // namespace
}  // namespace ringway::config
