#include "proxy/access_log.h"

#include <cctype>
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
  // "2026-11-21T23:41:00.123Z " then the fields; quotes and spaces in the target are masked.
  ASSERT_GT(out.size(), 25u) << out;
  const std::string ts = out.substr(0, 24);
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22}) {
    EXPECT_TRUE(std::isdigit(static_cast<unsigned char>(ts[i]))) << ts;
  }
  EXPECT_EQ(ts[4], '-');
  EXPECT_EQ(ts[10], 'T');
  EXPECT_EQ(ts[19], '.');
  EXPECT_EQ(ts[23], 'Z');
  EXPECT_EQ(out.substr(24), " 10.0.0.7 \"GET /a?b?c\" 502 110 127.0.0.1:3001 1.234ms\n");
}

TEST(AccessLogTest, RetriedRequestShowsItsTries) {
  std::string out;
  AccessRecord r = Sample();
  r.tries = 3;
  AppendAccessLog(r, false, &out);
  EXPECT_EQ(out.substr(24), " 10.0.0.7 \"GET /a?b?c\" 502 110 127.0.0.1:3001 1.234ms tries=3\n");
  out.clear();
  AppendAccessLog(r, true, &out);
  EXPECT_NE(out.find(R"("duration_ms":1.234,"tries":3})"), std::string::npos) << out;
}

TEST(AccessLogTest, JsonLineEscapesPeerText) {
  std::string out;
  AccessRecord r = Sample();
  r.target = "/x\"\n";
  AppendAccessLog(r, true, &out);
  EXPECT_NE(out.find(R"("path":"/x\"\u000a")"), std::string::npos) << out;
  EXPECT_NE(
      out.find(
          R"("status":502,"bytes":110,"upstream":"127.0.0.1:3001","duration_ms":1.234,"tries":1})"),
      std::string::npos)
      << out;
  EXPECT_EQ(out.back(), '\n');
  EXPECT_EQ(out.find('\n'), out.size() - 1);
}

}  // namespace
}  // namespace ringway::proxy
