// Backends given by host name: the forms the loader takes ("name:port", "http://name[:port]"),
// the ones it refuses and where, that listeners and the admin address stay IP-only, and
// ResolveNames.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/config/load_util.h"

namespace ringway::config {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::StartsWith;

using testutil::ErrorOf;
using testutil::MustLoad;

// Lines 1 to 5; the backends of upstream 'web' start on line 6, indented by six spaces.
constexpr std::string_view kHead = R"yaml(global: {port: 80}
servers: [{server_name: acme.com, upstream: web}]
upstreams:
  - name: web
    servers:
)yaml";

// A config whose upstream 'web' has these backends, one a line ("- " is added).
std::string Backends(const std::vector<std::string>& lines) {
  std::string yaml(kHead);
  for (const std::string& l : lines) yaml += "      - " + l + "\n";
  return yaml;
}

std::string Ip(const SocketAddress& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (a.storage.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&a.storage)->sin_addr, buf,
              sizeof(buf));
  } else if (a.storage.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&a.storage)->sin6_addr, buf,
              sizeof(buf));
  }
  return buf;
}

int Port(const SocketAddress& a) {
  if (a.storage.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&a.storage)->sin_port);
  }
  if (a.storage.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&a.storage)->sin6_port);
  }
  return 0;
}

// The one error of a config whose only backend is `line`.
std::string BackendError(std::string_view line) { return ErrorOf(Backends({std::string(line)})); }

// ---------------------------------------------------------------------------------------------
// Accepted

TEST(HostNames, NameAndPortLoadUnresolved) {
  Config cfg = MustLoad(Backends({
      "\"backend-prod-1:8080\"",
      "{address: \"Api.Internal.Example:3001\", weight: 3}",
      "url: \"http://httpbin.example\"",
      "url: \"HTTP://Cache.Example:8081/\"",
      "\"http://svc.example\"",
      "address: \"http://x1.example:9000\"",
  }));
  ASSERT_EQ(cfg.upstreams.size(), 1u);
  const std::vector<Backend>& b = cfg.upstreams[0].backends;
  ASSERT_EQ(b.size(), 6u);
  struct Want {
    std::string text, host;
  };
  const Want want[] = {
      {"backend-prod-1:8080", "backend-prod-1"},
      {"api.internal.example:3001", "api.internal.example"},
      {"httpbin.example:80", "httpbin.example"},  // an http URL without a port: 80
      {"cache.example:8081", "cache.example"},
      {"svc.example:80", "svc.example"},
      {"x1.example:9000", "x1.example"},
  };
  for (size_t i = 0; i < b.size(); ++i) {
    SCOPED_TRACE(want[i].text);
    EXPECT_EQ(b[i].address.text, want[i].text);
    EXPECT_EQ(b[i].address.host, want[i].host);
    EXPECT_EQ(b[i].address.len, 0u);  // until ResolveNames
    EXPECT_EQ(b[i].address.storage.ss_family, AF_UNSPEC);
    EXPECT_EQ(b[i].id, "web-" + want[i].text);
  }
  EXPECT_EQ(b[1].weight, 3u);
}

TEST(HostNames, LiteralsAndLocalhostStayAddresses) {
  Config cfg = MustLoad(Backends({
      "\"localhost:3001\"",
      "url: \"http://localhost\"",
      "\"127.0.0.1:3002\"",
      "\"[::1]:3003\"",
  }));
  ASSERT_EQ(cfg.upstreams.size(), 1u);
  const std::vector<Backend>& b = cfg.upstreams[0].backends;
  ASSERT_EQ(b.size(), 4u);
  EXPECT_EQ(b[0].address.text, "127.0.0.1:3001");
  EXPECT_EQ(b[1].address.text, "127.0.0.1:80");
  EXPECT_EQ(b[2].address.text, "127.0.0.1:3002");
  EXPECT_EQ(b[3].address.text, "[::1]:3003");
  for (const Backend& x : b) {
    EXPECT_EQ(x.address.host, "") << x.address.text;
    EXPECT_GT(x.address.len, 0u) << x.address.text;
  }
}

TEST(HostNames, LengthLimitsAreInclusive) {
  const std::string label63(63, 'a');
  // 4 labels of 63 and a dot between each: 255; three of 63 and one of 61: 253.
  const std::string name253 = label63 + "." + label63 + "." + label63 + "." + std::string(61, 'b');
  ASSERT_EQ(name253.size(), 253u);
  Config cfg = MustLoad(Backends({"\"" + label63 + ".example:80\"", "\"" + name253 + ":81\""}));
  ASSERT_EQ(cfg.upstreams.size(), 1u);
  ASSERT_EQ(cfg.upstreams[0].backends.size(), 2u);
  EXPECT_EQ(cfg.upstreams[0].backends[0].address.host, label63 + ".example");
  EXPECT_EQ(cfg.upstreams[0].backends[1].address.text, name253 + ":81");
}

TEST(HostNames, DuplicatesAreFoundOnTheText) {
  EXPECT_EQ(ErrorOf(Backends({"\"Backend-1:8080\"", "\"backend-1:8080\""})),
            "test.yaml:7:9: backend backend-1:8080 appears twice in upstream 'web'; list it once "
            "and give it a weight to send it more requests");
  EXPECT_EQ(ErrorOf(Backends({"\"svc.example:80\"", "url: \"http://SVC.example/\""})),
            "test.yaml:7:14: backend svc.example:80 appears twice in upstream 'web'; list it once "
            "and give it a weight to send it more requests");
  // A name and the address it may resolve to are two backends as far as the loader knows.
  Config cfg = MustLoad(Backends({"\"localhost:3001\"", "\"backend:3001\""}));
  ASSERT_EQ(cfg.upstreams.size(), 1u);
  EXPECT_EQ(cfg.upstreams[0].backends.size(), 2u);
}

// ---------------------------------------------------------------------------------------------
// Refused

TEST(HostNames, BadNamesAreRefusedWithTheirPosition) {
  EXPECT_EQ(BackendError("\"back_end:8080\""),
            "test.yaml:6:9: server #1 of upstream 'web': address 'back_end:8080': 'back_end' is "
            "not a valid host name: '_' is not allowed in a host name; use letters, digits, '-' "
            "and '.'; write a host name such as backend-1:8080 or an IP address such as "
            "127.0.0.1:3001");
  EXPECT_EQ(BackendError("{address: \"-api.example:80\"}"),
            "test.yaml:6:19: 'address' in server #1 of upstream 'web': address "
            "'-api.example:80': '-api.example' is not a valid host name: a label of a host name "
            "(a part between dots) cannot start or end with '-'; write a host name such as "
            "backend-1:8080 or an IP address such as 127.0.0.1:3001");
  EXPECT_THAT(BackendError("\"api-.example:80\""), HasSubstr("cannot start or end with '-'"));
  EXPECT_EQ(BackendError("\"a..example:80\""),
            "test.yaml:6:9: server #1 of upstream 'web': address 'a..example:80': 'a..example' is "
            "not a valid host name: each label of a host name (the parts between dots) has 1 to "
            "63 characters; write a host name such as backend-1:8080 or an IP address such as "
            "127.0.0.1:3001");
  EXPECT_THAT(BackendError("\".example:80\""), HasSubstr("has 1 to 63 characters"));
  EXPECT_THAT(BackendError("\"example.:80\""), HasSubstr("has 1 to 63 characters"));
  EXPECT_THAT(BackendError("\"" + std::string(64, 'a') + ".example:80\""),
              HasSubstr("has 1 to 63 characters"));
  const std::string label63(63, 'a');
  const std::string name254 = label63 + "." + label63 + "." + label63 + "." + std::string(62, 'b');
  ASSERT_EQ(name254.size(), 254u);
  EXPECT_THAT(BackendError("\"" + name254 + ":80\""),
              HasSubstr("is not a valid host name: a host name is at most 253 characters long"));
  EXPECT_EQ(BackendError("\"api.123:80\""),
            "test.yaml:6:9: server #1 of upstream 'web': address 'api.123:80': 'api.123' is not "
            "a valid host name: its last label is all digits; write a host name such as "
            "backend-1:8080 or an IP address such as 127.0.0.1:3001");
  EXPECT_EQ(BackendError("url: \"http://back_end/\""),
            "test.yaml:6:14: 'url' in server #1 of upstream 'web': address 'back_end:80': "
            "'back_end' is not a valid host name: '_' is not allowed in a host name; use letters, "
            "digits, '-' and '.'; write a host name such as backend-1:8080 or an IP address such "
            "as 127.0.0.1:3001");
}

TEST(HostNames, PortsAreCheckedAsForAddresses) {
  EXPECT_EQ(BackendError("\"backend:http\""),
            "test.yaml:6:9: server #1 of upstream 'web': address 'backend:http': port 'http' is "
            "not a number; use a port from 1 to 65535");
  EXPECT_EQ(BackendError("\"backend:0\""),
            "test.yaml:6:9: server #1 of upstream 'web': address 'backend:0': port 0 is out of "
            "range; use a port from 1 to 65535");
  EXPECT_THAT(BackendError("\"backend:65536\""), HasSubstr("port 65536 is out of range"));
  EXPECT_THAT(BackendError("\"backend:\""), HasSubstr("port '' is not a number"));
  EXPECT_THAT(BackendError("url: \"http://backend:\""), HasSubstr("port '' is not a number"));
  // Without a scheme a port is needed, name or not.
  EXPECT_EQ(BackendError("\"backend.example\""),
            "test.yaml:6:9: server #1 of upstream 'web': address 'backend.example': missing "
            "port; write an IP address and port such as 127.0.0.1:3001");
}

TEST(HostNames, MessagesForIpAddressesAreKept) {
  EXPECT_THAT(BackendError("\"256.0.0.1:80\""),
              HasSubstr("address '256.0.0.1:80': '256.0.0.1' is not an IPv4 address"));
  EXPECT_THAT(BackendError("\"1.2.3:80\""), HasSubstr("'1.2.3' is not an IPv4 address"));
  EXPECT_THAT(BackendError("\"::1:80\""), HasSubstr("needs brackets"));
  EXPECT_THAT(BackendError("\"[::g]:80\""), HasSubstr("'::g' is not an IPv6 address"));
  EXPECT_THAT(BackendError("\"ex$mple:80\""), HasSubstr("'ex$mple' is not an IPv4 address"));
  EXPECT_EQ(BackendError("url: \"http://127.0.0.1\""),
            "test.yaml:6:14: 'url' in server #1 of upstream 'web' is 'http://127.0.0.1', which "
            "has no port; write it with one, such as \"http://127.0.0.1:80\"");
  EXPECT_THAT(BackendError("url: \"http://[::1]\""), HasSubstr("which has no port"));
  EXPECT_THAT(BackendError("url: \"https://backend.example\""),
              HasSubstr("write the backend as \"backend.example:443\" and add tls: true"));
  EXPECT_THAT(BackendError("url: \"http://backend.example/api\""),
              HasSubstr("which has a path or query"));
  EXPECT_THAT(BackendError("url: \"http://user@backend.example:80\""),
              HasSubstr("which has user information"));
}

TEST(HostNames, ListenersAndAdminStayIpOnly) {
  const std::string tail = R"yaml(servers: [{server_name: acme.com, upstream: web}]
upstreams: [{name: web, servers: ["127.0.0.1:3001"]}]
)yaml";
  EXPECT_EQ(ErrorOf("listeners: [{name: a, bind: \"front.example:8080\"}]\n" + tail),
            "test.yaml:1:29: 'bind' in listener 'a': address 'front.example:8080': host names "
            "are not resolved; write an IP address such as 127.0.0.1:3001");
  EXPECT_THAT(
      ErrorOf("global: {port: 80, admin: {bind: \"admin.example:9901\"}}\n" + tail),
      HasSubstr("address 'admin.example:9901': host names are not resolved; write an IP address "
                "such as 127.0.0.1:3001"));
  absl::StatusOr<SocketAddress> a = ParseSocketAddress("backend.example:80");
  ASSERT_FALSE(a.ok());
  EXPECT_THAT(std::string(a.status().message()), HasSubstr("host names are not resolved"));
}

// ---------------------------------------------------------------------------------------------
// ResolveNames

TEST(ResolveNames, LocalhostIsLoopbackWithoutALookup) {
  Config cfg;
  Upstream u;
  u.name = "web";
  Backend b;
  b.address.host = "localhost";
  b.address.text = "localhost:3001";
  u.backends.push_back(b);
  cfg.upstreams.push_back(u);
  EXPECT_THAT(ResolveNames(&cfg), IsEmpty());
  const SocketAddress& a = cfg.upstreams[0].backends[0].address;
  EXPECT_EQ(a.len, sizeof(sockaddr_in));
  EXPECT_EQ(Ip(a), "127.0.0.1");
  EXPECT_EQ(Port(a), 3001);
  EXPECT_EQ(a.text, "localhost:3001");  // the text stays as written
  EXPECT_TRUE(IsLoopback(a));
}

TEST(ResolveNames, ANameThatDoesNotResolveStaysUnresolved) {
  // .invalid never resolves (RFC 6761); literals are left alone.
  Config cfg = MustLoad(Backends({"\"nothing.invalid:80\"", "\"127.0.0.1:3002\""}));
  ASSERT_EQ(cfg.upstreams.size(), 1u);
  std::vector<std::string> unresolved = ResolveNames(&cfg);
  ASSERT_THAT(unresolved, SizeIs(1));
  EXPECT_THAT(unresolved[0], StartsWith("upstream 'web': backend nothing.invalid:80: "));
  EXPECT_GT(unresolved[0].size(),
            std::string("upstream 'web': backend nothing.invalid:80: ").size());
  const std::vector<Backend>& b = cfg.upstreams[0].backends;
  EXPECT_EQ(b[0].address.len, 0u);
  EXPECT_EQ(b[1].address.len, sizeof(sockaddr_in));
  EXPECT_EQ(b[1].address.text, "127.0.0.1:3002");
  EXPECT_EQ(Ip(b[1].address), "127.0.0.1");
}

TEST(ResolveNames, EachBackendIsReportedAndResolvingAgainStartsOver) {
  Config cfg = MustLoad(R"yaml(global: {port: 80}
servers: [{server_name: acme.com, upstream: web}, {server_name: b.com, upstream: api}]
upstreams:
  - name: web
    servers: ["nothing.invalid:80", "127.0.0.1:3001"]
  - name: api
    servers: ["nothing.invalid:80", "other.invalid:81"]
)yaml");
  ASSERT_EQ(cfg.upstreams.size(), 2u);
  std::vector<std::string> unresolved = ResolveNames(&cfg);
  ASSERT_THAT(unresolved, SizeIs(3));
  EXPECT_THAT(unresolved[0], StartsWith("upstream 'web': backend nothing.invalid:80: "));
  EXPECT_THAT(unresolved[1], StartsWith("upstream 'api': backend nothing.invalid:80: "));
  EXPECT_THAT(unresolved[2], StartsWith("upstream 'api': backend other.invalid:81: "));

  // A backend resolved before (a copy of a running config, say) and now not is reset.
  cfg.upstreams[1].backends[1].address.host = "localhost";
  cfg.upstreams[1].backends[1].address.text = "localhost:81";
  EXPECT_THAT(ResolveNames(&cfg), SizeIs(2));
  EXPECT_EQ(Port(cfg.upstreams[1].backends[1].address), 81);
  cfg.upstreams[1].backends[1].address.host = "other.invalid";
  cfg.upstreams[1].backends[1].address.text = "other.invalid:81";
  EXPECT_THAT(ResolveNames(&cfg), SizeIs(3));
  EXPECT_EQ(cfg.upstreams[1].backends[1].address.len, 0u);
  EXPECT_EQ(cfg.upstreams[1].backends[1].address.storage.ss_family, AF_UNSPEC);
}

TEST(ResolveNames, NothingToDoWithoutNames) {
  Config cfg = MustLoad(Backends({"\"127.0.0.1:3001\"", "\"localhost:3002\""}));
  const std::vector<Backend> before = cfg.upstreams[0].backends;
  EXPECT_THAT(ResolveNames(&cfg), IsEmpty());
  ASSERT_EQ(cfg.upstreams[0].backends.size(), before.size());
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(cfg.upstreams[0].backends[i].address.len, before[i].address.len);
    EXPECT_EQ(std::memcmp(&cfg.upstreams[0].backends[i].address.storage, &before[i].address.storage,
                          sizeof(sockaddr_storage)),
              0);
  }
}

}  // namespace
}  // namespace ringway::config
