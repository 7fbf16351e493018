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

// Rewrite swaps a piece's storage for a copy: the bytes, the offset into the first piece and the
// order stay; the charge becomes the copies'.
TEST(SendQueueTest, RewriteReplacesStorageKeepsBytesAndRecountsCharge) {
  SendQueue q;
  std::string a = "buffer-one ", b = "str ", c = "buffer-two";
  q.Push({a.data(), 11, 3, nullptr, 16384});
  q.Push({b.data(), 4, -1, nullptr, 64});
  q.Push({c.data(), 10, 5, nullptr, 16384});
  q.Advance(7, [](const SendPiece&) {});  // "buffer-" of the first piece has gone
  EXPECT_EQ(q.charged(), 16384u * 2 + 64);
  std::vector<std::string> copies;
  copies.reserve(2);
  std::vector<int> returned;
  q.Rewrite([&](SendPiece& p) {
    if (p.bid < 0) return;
    copies.emplace_back(p.data, p.len);
    returned.push_back(p.bid);
    p = {copies.back().data(), p.len, -1, nullptr, 100};
  });
  EXPECT_EQ(returned, (std::vector<int>{3, 5}));
  EXPECT_EQ(q.charged(), 100u + 64 + 100);
  EXPECT_EQ(q.bytes(), 18u);
  EXPECT_EQ(Gathered(q), "one str buffer-two");
  a.assign(a.size(), 'x');  // the old storage no longer matters
  c.assign(c.size(), 'x');
  EXPECT_EQ(Gathered(q), "one str buffer-two");
}

TEST(SendQueueTest, GatherCapsAtMaxIov) {
  SendQueue q;
  constexpr int kPieces = SendQueue::kMaxIov + 24;
  std::string s(kPieces, 'x');
  for (int i = 0; i < kPieces; ++i) q.Push({s.data() + i, 1, i, nullptr});
  iovec iov[SendQueue::kMaxIov];
  EXPECT_EQ(q.Gather(iov), SendQueue::kMaxIov);
  int released = 0;
  q.Advance(kPieces, [&](const SendPiece&) { ++released; });
  EXPECT_EQ(released, kPieces);
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

TEST(SendQueueTest, ChargeCountsWhatPiecesPinNotTheirBytes) {
  SendQueue q;
  std::string s = "abc";
  q.Push({s.data(), 3, 5, nullptr, 16384});  // a provided buffer holding 3 bytes
  q.Push({s.data(), 3, -1, nullptr});        // static bytes: charged their length
  EXPECT_EQ(q.bytes(), 6u);
  EXPECT_EQ(q.charged(), 16387u);
  q.Advance(4, [](const SendPiece&) {});  // the buffer's piece is sent and released
  EXPECT_EQ(q.charged(), 3u);
  q.Clear([](const SendPiece&) {});
  EXPECT_EQ(q.charged(), 0u);
}

TEST(SendQueueTest, AppendToTailGrowsOnlyAWholePooledStringAtTheEnd) {
  SendQueue q;
  auto charge = [](const std::string& s) { return static_cast<uint32_t>(s.size() * 2); };
  std::string stat = "static";
  EXPECT_FALSE(q.AppendToTail("x", 1, charge));  // empty queue
  q.Push({stat.data(), 6, -1, nullptr});
  EXPECT_FALSE(q.AppendToTail("x", 1, charge));  // not a pooled string
  std::string head = "HEAD ";
  q.Push({head.data(), 5, -1, &head, 10});
  EXPECT_TRUE(q.AppendToTail("body", 4, charge));
  EXPECT_EQ(head, "HEAD body");
  EXPECT_EQ(q.bytes(), 15u);
  EXPECT_EQ(q.charged(), 6u + 18u);
  EXPECT_EQ(Gathered(q), "staticHEAD body");
  std::string part = "partial";
  q.Push({part.data(), 3, -1, &part});  // covers part of its string: never grown
  EXPECT_FALSE(q.AppendToTail("y", 1, charge));
  std::vector<std::string*> released;
  q.Clear([&](const SendPiece& p) { released.push_back(p.owned); });
  EXPECT_EQ(released, (std::vector<std::string*>{nullptr, &head, &part}));
}

TEST(SendQueueTest, DropFromTakesBackOnlyWhatHasNotStartedToGo) {
  SendQueue q;
  std::string a = "first", b = "second", c = "third";
  q.Push({a.data(), 5, 1, nullptr});
  const uint64_t mark = q.Mark();
  q.Push({b.data(), 6, 2, nullptr});
  q.Push({c.data(), 5, 3, nullptr});
  std::vector<int> released;
  auto rel = [&](const SendPiece& p) { released.push_back(p.bid); };
  q.Advance(5, rel);  // "first" is sent: the marks stay valid across compaction
  EXPECT_EQ(released, (std::vector<int>{1}));
  q.Advance(2, rel);  // two bytes of "second" left: it cannot be taken back any more
  EXPECT_FALSE(q.DropFrom(mark, rel));
  EXPECT_EQ(Gathered(q), "condthird");
  EXPECT_TRUE(q.DropFrom(mark + 1, rel));  // "third" has not started
  EXPECT_EQ(released, (std::vector<int>{1, 3}));
  EXPECT_EQ(Gathered(q), "cond");
  EXPECT_EQ(q.bytes(), 4u);
  EXPECT_EQ(q.charged(), 6u);
  const uint64_t end = q.Mark();
  q.Push({c.data(), 5, 4, nullptr});
  q.Advance(4, rel);  // "second" done; the queue compacts with "third" (bid 4) left
  EXPECT_TRUE(q.DropFrom(end, rel));
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.bytes(), 0u);
  EXPECT_EQ(q.charged(), 0u);
  EXPECT_EQ(released, (std::vector<int>{1, 3, 2, 4}));
}

// Bytes spliced into the pipe are pieces without data: they extend a pipe piece at the tail,
// a gather stops before them, and they count in the bytes and the charge like any piece.
TEST(SendQueueTest, PipePiecesKeepOrderAndStopGathers) {
  SendQueue q;
  std::string head = "HTTP/1.1 200 OK\r\n\r\n", tail = "next";
  const uint64_t start = q.Mark();
  q.Push({head.data(), static_cast<uint32_t>(head.size()), -1, nullptr});
  EXPECT_FALSE(q.FrontIsPipe());
  EXPECT_FALSE(q.PipeFrom(start));
  q.PushPipe(1000);
  q.PushPipe(24);  // joins the pipe piece at the tail
  EXPECT_EQ(q.pieces(), 2u);
  EXPECT_TRUE(q.PipeFrom(start));
  q.Push({tail.data(), 4, -1, nullptr});
  q.PushPipe(500);  // after another piece: a pipe piece of its own
  EXPECT_EQ(q.pieces(), 4u);
  EXPECT_EQ(q.bytes(), head.size() + 1024 + 4 + 500);
  EXPECT_EQ(q.charged(), head.size() + 1024 + 4 + 500);
  EXPECT_EQ(Gathered(q), head);  // stops at the pipe piece
  std::vector<int> released;
  auto rel = [&](const SendPiece& p) { released.push_back(p.bid); };
  q.Advance(head.size(), rel);
  EXPECT_TRUE(q.FrontIsPipe());
  EXPECT_EQ(q.Front().len, 1024u);
  EXPECT_EQ(Gathered(q), "");
  q.Advance(1000, rel);  // a partial splice out of the pipe
  EXPECT_EQ(q.Front().len, 24u);
  q.PushPipe(0);  // nothing
  EXPECT_EQ(q.pieces(), 3u);
  q.Advance(24, rel);
  EXPECT_FALSE(q.FrontIsPipe());
  EXPECT_EQ(Gathered(q), "next");
  const uint64_t later = q.Mark();
  EXPECT_TRUE(q.PipeFrom(later - 1));
  EXPECT_FALSE(q.PipeFrom(later));
  q.Advance(4 + 500, rel);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.charged(), 0u);
  EXPECT_EQ(released, (std::vector<int>{-1, SendPiece::kPipe, -1, SendPiece::kPipe}));
}

}  // namespace
}  // namespace ringway::proxy
