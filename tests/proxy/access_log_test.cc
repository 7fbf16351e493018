#include "proxy/access_log.h"

#include <regex>
#include <string>

#include "gtest/gtest.h"

namespace ringway::proxy {
namespace {

AccessRecord Sample() {
  AccessRecord r;
  r.client = "10.0.0.7";
  r.method = "GET";
  r.target = "/a b\"c";
  r.status = 502;
  r.bytes = 110;
  r.upstream = "127.0.0.1:3001";
  r.duration_us = 1234;
  return r;
}

TEST(AccessLogTest, TextLineIsOneLineWithEveryField) {
  std::string out;
  AppendAccessLog(Sample(), false, &out);
  EXPECT_TRUE(std::regex_match(
      out, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z 10\.0\.0\.7 "GET /a\?b\?c" 502 110 )"
                      R"(127\.0\.0\.1:3001 1\.234ms\n)")))
      << out;
}

TEST(AccessLogTest, JsonLineEscapesPeerText) {
  std::string out;
  AccessRecord r = Sample();
  r.target = "/x\"\n";
  AppendAccessLog(r, true, &out);
  EXPECT_NE(out.find(R"("path":"/x\"\u000a")"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("status":502,"bytes":110,"upstream":"127.0.0.1:3001","duration_ms":1.234})"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.back(), '\n');
  EXPECT_EQ(out.find('\n'), out.size() - 1);
}

}  // namespace
}  // namespace ringway::proxy
