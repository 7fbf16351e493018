#include "proxy/send_queue.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace ringway::proxy {
namespace {

std::string Gathered(const SendQueue& q) {
  iovec iov[SendQueue::kMaxIov];
  int n = q.Gather(iov);
  std::string out;
  for (int i = 0; i < n; ++i) out.append(static_cast<char*>(iov[i].iov_base), iov[i].iov_len);
  return out;
}

TEST(SendQueueTest, ShortSendsKeepOrderAndReleaseOnce) {
  SendQueue q;
  std::string a = "hello ", b = "big ", c = "world";
  q.Push({a.data(), 6, 7, nullptr});
  q.Push({b.data(), 4, -1, nullptr});
  q.Push({c.data(), 5, 9, nullptr});
  EXPECT_EQ(q.bytes(), 15u);
  EXPECT_EQ(Gathered(q), "hello big world");
  std::vector<int> released;
  auto rel = [&](const SendPiece& p) { released.push_back(p.bid); };
  q.Advance(3, rel);  // inside the first piece
  EXPECT_TRUE(released.empty());
  EXPECT_EQ(Gathered(q), "lo big world");
  q.Advance(5, rel);  // rest of "hello " and 2 bytes of "big "
  EXPECT_EQ(released, (std::vector<int>{7}));
  EXPECT_EQ(Gathered(q), "g world");
  q.Advance(7, rel);
  EXPECT_EQ(released, (std::vector<int>{7, -1, 9}));
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.bytes(), 0u);
}

TEST(SendQueueTest, GatherCapsAtMaxIov) {
  SendQueue q;
  std::string s(40, 'x');
  for (int i = 0; i < 40; ++i) q.Push({s.data() + i, 1, i, nullptr});
  iovec iov[SendQueue::kMaxIov];
  EXPECT_EQ(q.Gather(iov), SendQueue::kMaxIov);
  int released = 0;
  q.Advance(40, [&](const SendPiece&) { ++released; });
  EXPECT_EQ(released, 40);
  EXPECT_TRUE(q.empty());
}

TEST(SendQueueTest, ClearReleasesEverythingAndEmptyPiecesAreDropped) {
  SendQueue q;
  std::string s = "abc";
  q.Push({s.data(), 0, 1, nullptr});  // empty: not queued, so never released
  q.Push({s.data(), 3, 2, nullptr});
  q.Push({s.data(), 3, 3, nullptr});
  q.Advance(1, [](const SendPiece&) {});
  std::vector<int> released;
  q.Clear([&](const SendPiece& p) { released.push_back(p.bid); });
  EXPECT_EQ(released, (std::vector<int>{2, 3}));
  EXPECT_TRUE(q.empty());
}

}  // namespace
}  // namespace ringway::proxy
