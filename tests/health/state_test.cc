#include "health/state.h"

#include "gtest/gtest.h"
#include "health/prober.h"
#include "health/view.h"

namespace ringway::health {
namespace {

TEST(BackendStateTest, StartsUpAndFirstFailureTakesItDown) {
  BackendState s(2, 3);
  EXPECT_TRUE(s.up());
  EXPECT_EQ(s.OnCheck(false), Change::kDown);
  EXPECT_FALSE(s.up());
}

TEST(BackendStateTest, ConfirmedBackendNeedsFallFailuresInARow) {
  BackendState s(2, 3);
  EXPECT_EQ(s.OnCheck(true), Change::kNone);
  EXPECT_EQ(s.OnCheck(false), Change::kNone);
  EXPECT_EQ(s.OnCheck(false), Change::kNone);
  EXPECT_EQ(s.OnCheck(true), Change::kNone);  // the run is broken: start again
  EXPECT_EQ(s.OnCheck(false), Change::kNone);
  EXPECT_EQ(s.OnCheck(false), Change::kNone);
  EXPECT_TRUE(s.up());
  EXPECT_EQ(s.OnCheck(false), Change::kDown);
  EXPECT_EQ(s.failures(), 3u);
  EXPECT_EQ(s.OnCheck(false), Change::kNone);  // already down: no second change
}

TEST(BackendStateTest, DownBackendNeedsRisePassesInARow) {
  BackendState s(3, 1);
  ASSERT_EQ(s.OnCheck(false), Change::kDown);
  EXPECT_EQ(s.OnCheck(true), Change::kNone);
  EXPECT_EQ(s.OnCheck(true), Change::kNone);
  EXPECT_EQ(s.OnCheck(false), Change::kNone);  // broken run
  EXPECT_EQ(s.OnCheck(true), Change::kNone);
  EXPECT_EQ(s.OnCheck(true), Change::kNone);
  EXPECT_FALSE(s.up());
  EXPECT_EQ(s.OnCheck(true), Change::kUp);
  EXPECT_EQ(s.passes(), 3u);
  EXPECT_EQ(s.OnCheck(true), Change::kNone);
}

TEST(BackendStateTest, RiseAndFallOfOneBehaveLikePlainChecks) {
  BackendState s(1, 1);
  EXPECT_EQ(s.OnCheck(true), Change::kNone);
  EXPECT_EQ(s.OnCheck(false), Change::kDown);
  EXPECT_EQ(s.OnCheck(true), Change::kUp);
  EXPECT_EQ(s.OnCheck(false), Change::kDown);
}

TEST(BackendStateTest, EjectedBackendNeedsRisePassesAfterTheBackoff) {
  BackendState s(2, 3);
  s.StartEjection();
  EXPECT_FALSE(s.OnCheckWhileEjected(true, 100, 1000));  // before the back-off ends
  EXPECT_FALSE(s.OnCheckWhileEjected(true, 999, 1000));
  EXPECT_FALSE(s.OnCheckWhileEjected(true, 1000, 1000));  // first pass that counts
  EXPECT_FALSE(s.OnCheckWhileEjected(false, 1100, 1000));
  EXPECT_FALSE(s.OnCheckWhileEjected(true, 1200, 1000));
  EXPECT_TRUE(s.OnCheckWhileEjected(true, 1300, 1000));
}

TEST(ViewTest, EjectsAfterThresholdWithDoublingBackoff) {
  View v(2);
  uint64_t for_ms = 0;
  EXPECT_TRUE(v.Usable(0));
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(v.RecordFailure(0, 1000, 5, 100, 1000, &for_ms));
  EXPECT_TRUE(v.RecordFailure(0, 1000, 5, 100, 1000, &for_ms));
  EXPECT_EQ(for_ms, 100u);
  EXPECT_FALSE(v.Usable(0));
  EXPECT_TRUE(v.Usable(1));
  EXPECT_EQ(v.EjectedUntilMs(0), 1100u);
  // Failures while ejected do not eject again.
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(v.RecordFailure(0, 1050, 5, 100, 1000, &for_ms));

  v.Readmit(0, 2000);
  EXPECT_TRUE(v.Usable(0));
  EXPECT_EQ(v.UpSinceMs(0), 2000u);
  // The count restarted at readmission; the next ejection lasts twice as long.
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(v.RecordFailure(0, 3000, 5, 100, 1000, &for_ms));
  EXPECT_TRUE(v.RecordFailure(0, 3000, 5, 100, 1000, &for_ms));
  EXPECT_EQ(for_ms, 200u);
  std::vector<uint64_t> seen;
  for (int round = 0; round < 4; ++round) {
    v.Readmit(0, 4000);
    for (int i = 0; i < 5; ++i) v.RecordFailure(0, 5000, 5, 100, 1000, &for_ms);
    seen.push_back(for_ms);
  }
  EXPECT_EQ(seen, (std::vector<uint64_t>{400, 800, 1000, 1000}));  // capped at max
  v.Readmit(0, 6000);
  v.ForgetEjections(0);
  for (int i = 0; i < 5; ++i) v.RecordFailure(0, 7000, 5, 100, 1000, &for_ms);
  EXPECT_EQ(for_ms, 100u);  // back to base
}

TEST(ViewTest, SuccessBreaksTheFailureRun) {
  View v(1);
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(v.RecordFailure(0, 0, 5, 100, 1000, nullptr));
  v.RecordSuccess(0);
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(v.RecordFailure(0, 0, 5, 100, 1000, nullptr));
  EXPECT_TRUE(v.RecordFailure(0, 0, 5, 100, 1000, nullptr));
}

TEST(ViewTest, ThresholdZeroNeverEjects) {
  View v(1);
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(v.RecordFailure(0, 0, 0, 100, 1000, nullptr));
  EXPECT_TRUE(v.Usable(0));
}

TEST(ViewTest, DownAndEjectedAreIndependent) {
  View v(1);
  v.SetUp(0, false, 10);
  EXPECT_FALSE(v.Usable(0));
  for (int i = 0; i < 5; ++i) v.RecordFailure(0, 0, 5, 100, 1000, nullptr);
  v.SetUp(0, true, 20);
  EXPECT_FALSE(v.Usable(0));  // still ejected
  v.Readmit(0, 30);
  EXPECT_TRUE(v.Usable(0));
}

TEST(ParseStatusLineTest, Codes) {
  auto parse = [](std::string_view s) { return ParseStatusLine(s.data(), s.size()); };
  EXPECT_EQ(parse("HTTP/1.1 200 OK\r\n"), 200);
  EXPECT_EQ(parse("HTTP/1.0 503 Service Unavailable"), 503);
  EXPECT_EQ(parse("HTTP/1.1 204"), 204);
  EXPECT_EQ(parse("HTTP/1.1 20"), 0);
  EXPECT_EQ(parse("HTT"), 0);
  EXPECT_EQ(parse(""), 0);
  EXPECT_EQ(parse("SSH-2.0-OpenSSH"), -1);
  EXPECT_EQ(parse("HTTP/2.0 200 OK"), -1);
  EXPECT_EQ(parse("HTTP/1.1 2x0 OK"), -1);
  EXPECT_EQ(parse("HTTP/1.1  200 OK"), -1);
  EXPECT_EQ(parse("HTTP/1.1 099 OK"), -1);
}

}  // namespace
}  // namespace ringway::health
