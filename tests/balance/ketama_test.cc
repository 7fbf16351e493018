#include "balance/ketama.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "balance/hash.h"
#include "gtest/gtest.h"
#include "tests/balance/test_util.h"

namespace ringway::balance {
namespace {

using testutil::AllEligible;

std::vector<std::string> Addresses(size_t n) {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) out.push_back("10.1.0." + std::to_string(i + 1) + ":8080");
  return out;
}

std::vector<std::string_view> Views(const std::vector<std::string>& s) {
  return std::vector<std::string_view>(s.begin(), s.end());
}

int PickKey(Ketama& k, uint64_t key, Eligible eligible) {
  return k.Pick(PickInput{.hash = Mix64(key), .has_hash = true}, eligible);
}

TEST(KetamaTest, PointsPerWeight) {
  const uint32_t weights[] = {1, 2, 0, 3};
  Ketama k(weights);
  EXPECT_EQ(k.points(), 6u * Ketama::kPointsPerWeight);
  EXPECT_EQ(k.size(), 4u);
  // Past the cap every count is scaled down.
  std::vector<uint32_t> heavy(1000, 5);
  Ketama capped(heavy);
  EXPECT_LE(capped.points(), Ketama::kMaxPoints);
  EXPECT_GE(capped.points(), Ketama::kMaxPoints - 1000);
}

TEST(KetamaTest, KeysFollowWeights) {
  const uint32_t weights[] = {1, 2, 3, 4, 0, 10};
  const std::vector<std::string> ids = Addresses(6);
  Ketama k(weights, Views(ids));
  constexpr int kKeys = 200000;
  std::vector<int> keys = testutil::CountPicks(k, kKeys, AllEligible);
  const std::vector<double> shares = testutil::Shares(weights);
  for (size_t i = 0; i < std::size(weights); ++i) {
    // Ketama is approximate: about 1/sqrt(points) relative spread.
    EXPECT_NEAR(keys[i] / double(kKeys), shares[i], 0.15 * shares[i] + 0.002) << i;
  }
  EXPECT_EQ(keys[4], 0);
}

TEST(KetamaTest, IneligibleBackendMovesOnlyItsKeys) {
  const std::vector<std::string> ids = Addresses(10);
  const uint32_t weights[] = {1, 2, 1, 3, 1, 1, 2, 1, 1, 1};
  Ketama k(weights, Views(ids));
  constexpr int kKeys = 100000;
  std::vector<int> before(kKeys);
  for (int key = 0; key < kKeys; ++key) before[key] = PickKey(k, key, AllEligible);
  auto up = [](size_t i) { return i != 3 && i != 8; };
  std::vector<int> moved_to(10);
  for (int key = 0; key < kKeys; ++key) {
    const int after = PickKey(k, key, up);
    ASSERT_GE(after, 0);
    ASSERT_TRUE(up(size_t(after)));
    if (before[key] != 3 && before[key] != 8) {
      ASSERT_EQ(after, before[key]) << "key " << key << " moved though its backend is up";
    } else {
      ++moved_to[after];
    }
  }
  // The orphans go to the ring neighbours: every backend still up takes some.
  for (size_t i = 0; i < 10; ++i) {
    if (up(i)) {
      EXPECT_GT(moved_to[i], 0) << i;
    }
  }
  for (int key = 0; key < kKeys; ++key) ASSERT_EQ(PickKey(k, key, AllEligible), before[key]);
}

// Below the point cap a backend's points depend only on its id and weight, so removing one
// moves its keys and nothing else.
TEST(KetamaTest, RemovingABackendMovesOnlyItsKeys) {
  const std::vector<std::string> ids = Addresses(50);
  std::vector<uint32_t> weights(50);
  for (size_t i = 0; i < 50; ++i) weights[i] = 1 + i % 4;
  Ketama full(weights, Views(ids));
  std::vector<std::string> rest = ids;
  std::vector<uint32_t> rest_weights = weights;
  rest.erase(rest.begin() + 17);
  rest_weights.erase(rest_weights.begin() + 17);
  Ketama smaller(rest_weights, Views(rest));
  int moved = 0;
  for (int key = 0; key < 100000; ++key) {
    const uint64_t h = Mix64(key);
    const int a = full.Owner(h);
    if (a == 17) continue;
    moved += ids[a] != rest[smaller.Owner(h)];
  }
  EXPECT_EQ(moved, 0);
}

TEST(KetamaTest, RingsAgreeWhateverTheOrder) {
  const std::vector<std::string> ids = Addresses(12);
  const uint32_t weights[] = {1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3};
  std::vector<std::string> reversed(ids.rbegin(), ids.rend());
  std::vector<uint32_t> reversed_weights(std::rbegin(weights), std::rend(weights));
  Ketama a(weights, Views(ids)), b(reversed_weights, Views(reversed));
  for (int key = 0; key < 50000; ++key) {
    const uint64_t h = Mix64(key);
    ASSERT_EQ(ids[a.Owner(h)], reversed[b.Owner(h)]);
  }
}

TEST(KetamaTest, GoldenOwners) {
  const std::vector<std::string> ids = Addresses(5);
  const uint32_t weights[] = {1, 1, 2, 1, 1};
  Ketama k(weights, Views(ids));
  std::string got;
  for (int i = 0; i < 16; ++i) got += std::to_string(k.Owner(Hash64("user-" + std::to_string(i))));
  EXPECT_EQ(got, "4123220414210042");
}

TEST(KetamaTest, DefaultIdsAreDecimalIndexes) {
  const uint32_t weights[] = {1, 1, 1, 1};
  const std::string_view ids[] = {"0", "1", "2", "3"};
  Ketama a(weights), b(weights, ids);
  for (int key = 0; key < 10000; ++key) ASSERT_EQ(a.Owner(Mix64(key)), b.Owner(Mix64(key)));
}

TEST(KetamaTest, WithoutAHashItRotatesOverThePoints) {
  const uint32_t weights[] = {1, 3};
  Ketama k(weights, {}, /*seed=*/3);
  std::vector<int> counts(2);
  for (size_t i = 0; i < k.points(); ++i) ++counts[k.Pick(PickInput{}, AllEligible)];
  EXPECT_EQ(counts[0], int(Ketama::kPointsPerWeight));
  EXPECT_EQ(counts[1], int(3 * Ketama::kPointsPerWeight));
  // With one down, the other gets every pick, and the down one's turns are not handed to
  // whichever backend follows it on the ring.
  const uint32_t three[] = {1, 1, 1};
  Ketama r(three);
  counts.assign(3, 0);
  for (size_t i = 0; i < 100 * r.points(); ++i) {
    ++counts[r.Pick(PickInput{}, [](size_t b) { return b != 1; })];
  }
  EXPECT_EQ(counts[1], 0);
  EXPECT_NEAR(counts[0] / double(counts[0] + counts[2]), 0.5, 0.02);
}

TEST(KetamaTest, NeverIneligibleMinusOneOnlyWhenNone) {
  std::vector<uint32_t> weights(300, 1);
  weights[5] = 0;
  Ketama k(weights);
  auto two = [](size_t b) { return b == 5 || b == 77 || b == 201; };
  for (int key = 0; key < 2000; ++key) {
    const int p = PickKey(k, key, two);
    ASSERT_TRUE(p == 77 || p == 201) << p;
    ASSERT_EQ(PickKey(k, key, two), p);
    const int q = k.Pick(PickInput{}, two);
    ASSERT_TRUE(q == 77 || q == 201) << q;
  }
  EXPECT_EQ(PickKey(k, 1, [](size_t b) { return b == 5; }), -1);
  EXPECT_EQ(PickKey(k, 1, [](size_t) { return false; }), -1);
  EXPECT_EQ(k.Pick(PickInput{}, [](size_t) { return false; }), -1);
  const uint32_t zeros[] = {0, 0};
  Ketama none(zeros);
  EXPECT_EQ(none.Owner(1), -1);
  EXPECT_EQ(PickKey(none, 1, AllEligible), -1);
  Ketama empty(std::span<const uint32_t>{});
  EXPECT_EQ(PickKey(empty, 1, AllEligible), -1);
}

TEST(KetamaTest, KeyAboveTheLastPointWrapsToTheFirst) {
  const uint32_t weights[] = {1, 1, 1};
  Ketama k(weights);
  EXPECT_EQ(k.Owner(UINT64_MAX), k.Owner(0));
}

}  // namespace
}  // namespace ringway::balance
