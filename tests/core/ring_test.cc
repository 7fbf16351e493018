// The provided-buffer ring: a reserve kept in the kernel's ring, refilled from the buffers
// given back (the last first) and from fresh ones only when none came back.
#include "core/ring.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace ringway::core {
namespace {

class RingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv_), 0) << strerror(errno);
  }
  void TearDown() override {
    close(sv_[0]);
    close(sv_[1]);
  }

  // One single-shot receive into a provided buffer of `ring`, of bytes written to the pair
  // first. Returns the completion's result; *bid is the buffer taken (lent: NoteLent done).
  int RecvOne(Ring& ring, const std::string& bytes, int* bid) {
    *bid = -1;
    if (!bytes.empty() && write(sv_[1], bytes.data(), bytes.size()) != ssize_t(bytes.size())) {
      return -9999;
    }
    io_uring_sqe* sqe = ring.GetSqe();
    io_uring_prep_recv(sqe, sv_[0], nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = Ring::kBufferGroup;
    io_uring_sqe_set_data64(sqe, 7);
    io_uring_submit(ring.raw());
    io_uring_cqe* cqe = nullptr;
    __kernel_timespec ts{.tv_sec = 2, .tv_nsec = 0};
    if (io_uring_wait_cqe_timeout(ring.raw(), &cqe, &ts) != 0 || cqe == nullptr) return -9998;
    int res = cqe->res;
    if (cqe->flags & IORING_CQE_F_BUFFER) {
      *bid = static_cast<int>(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
      ring.NoteLent(static_cast<uint16_t>(*bid));
    }
    io_uring_cqe_seen(ring.raw(), cqe);
    return res;
  }

  int sv_[2] = {-1, -1};
};

TEST_F(RingTest, KeepsTheReserveInTheKernelAndUsesFreshBuffersOnlyWhenNoneCameBack) {
  Ring ring;
  ASSERT_TRUE(ring.Init(64, 16, 4096, 4).ok());
  EXPECT_EQ(ring.buffer_count(), 16u);
  EXPECT_EQ(ring.reserve(), 4u);
  EXPECT_EQ(ring.provided(), 4u);
  EXPECT_EQ(ring.available(), 4u);
  std::vector<int> bids;
  for (int i = 0; i < 3; ++i) {
    int bid;
    ASSERT_EQ(RecvOne(ring, "x", &bid), 1);
    bids.push_back(bid);
  }
  EXPECT_EQ(ring.available(), 1u);
  EXPECT_EQ(ring.lent(), 3u);
  // None came back: the top-up hands out three buffers never used.
  EXPECT_EQ(ring.Publish(), 3u);
  EXPECT_EQ(ring.provided(), 7u);
  EXPECT_EQ(ring.available(), 4u);
  // Two come back while the ring is full: they wait, and no buffer is added.
  ring.Return(static_cast<uint16_t>(bids[0]));
  ring.Return(static_cast<uint16_t>(bids[1]));
  EXPECT_EQ(ring.Publish(), 0u);
  EXPECT_EQ(ring.lent(), 1u);
  // Lending two makes room for two: the returned ones fill it, no fresh buffer is used.
  int a, b;
  ASSERT_EQ(RecvOne(ring, "y", &a), 1);
  ASSERT_EQ(RecvOne(ring, "y", &b), 1);
  EXPECT_EQ(ring.Publish(), 2u);
  EXPECT_EQ(ring.provided(), 7u);
  EXPECT_EQ(ring.available(), 4u);
  ring.Return(static_cast<uint16_t>(a));
  ring.Return(static_cast<uint16_t>(b));
  ring.Return(static_cast<uint16_t>(bids[2]));
  ring.Publish();
  EXPECT_EQ(ring.lent(), 0u);
  EXPECT_EQ(ring.peak_lent(), 3u);
}

TEST_F(RingTest, TheLastBufferReturnedIsTheFirstHandedOutAgain) {
  Ring ring;
  ASSERT_TRUE(ring.Init(64, 16, 4096, 2).ok());
  int a, b;
  ASSERT_EQ(RecvOne(ring, "a", &a), 1);
  ASSERT_EQ(RecvOne(ring, "b", &b), 1);
  EXPECT_EQ(ring.available(), 0u);
  // The ring is empty: a receive finds no buffer until the next top-up.
  int none;
  EXPECT_EQ(RecvOne(ring, "c", &none), -ENOBUFS);
  ring.Return(static_cast<uint16_t>(a));
  ring.Return(static_cast<uint16_t>(b));  // b came back last
  EXPECT_EQ(ring.Publish(), 2u);
  EXPECT_EQ(ring.provided(), 2u) << "returned buffers refill the ring before fresh ones";
  int first, second;
  ASSERT_EQ(RecvOne(ring, "", &first), 1);
  EXPECT_EQ(first, b);
  EXPECT_EQ(ring.BufferData(static_cast<uint16_t>(first))[0], 'c');
  ASSERT_EQ(RecvOne(ring, "d", &second), 1);
  EXPECT_EQ(second, a);
  ring.Return(static_cast<uint16_t>(first));
  ring.Return(static_cast<uint16_t>(second));
  ring.Publish();
  EXPECT_EQ(ring.lent(), 0u);
}

// Lending and returning many buffers, a few at a time, touches only the most lent at once plus
// the reserve: buffers beyond that are never handed to the kernel.
TEST_F(RingTest, BuffersUsedFollowThePeakLentPlusTheReserve) {
  Ring ring;
  ASSERT_TRUE(ring.Init(64, 64, 4096, 4).ok());
  for (int round = 0; round < 20; ++round) {
    std::vector<int> bids;
    for (int i = 0; i < 6; ++i) {
      int bid;
      ASSERT_EQ(RecvOne(ring, "z", &bid), 1) << round << " " << i;
      bids.push_back(bid);
      ring.Publish();
    }
    for (int bid : bids) ring.Return(static_cast<uint16_t>(bid));
    ring.Publish();
  }
  EXPECT_EQ(ring.peak_lent(), 6u);
  EXPECT_EQ(ring.provided(), 10u);
  EXPECT_EQ(ring.lent(), 0u);
}

TEST_F(RingTest, AllBuffersInUseThenOneBack) {
  Ring ring;
  ASSERT_TRUE(ring.Init(64, 16, 4096, 4).ok());
  std::vector<int> bids;
  for (int i = 0; i < 16; ++i) {
    int bid;
    ASSERT_EQ(RecvOne(ring, "z", &bid), 1) << i;
    bids.push_back(bid);
    ring.Publish();
  }
  EXPECT_EQ(ring.provided(), 16u);
  EXPECT_EQ(ring.lent(), 16u);
  EXPECT_EQ(ring.available(), 0u);
  // Every buffer id handed out once, each in range and distinct.
  std::vector<bool> seen(16, false);
  for (int b : bids) {
    ASSERT_GE(b, 0);
    ASSERT_LT(b, 16);
    EXPECT_FALSE(seen[b]) << "buffer " << b << " lent twice";
    seen[b] = true;
  }
  int bid;
  EXPECT_EQ(RecvOne(ring, "w", &bid), -ENOBUFS);
  EXPECT_EQ(ring.Publish(), 0u) << "nothing to add";
  // One back, and the waiting byte is read into it.
  ring.Return(static_cast<uint16_t>(bids[0]));
  EXPECT_EQ(ring.Publish(), 1u);
  EXPECT_EQ(RecvOne(ring, "", &bid), 1);
  EXPECT_EQ(bid, bids[0]);
  EXPECT_EQ(ring.BufferData(static_cast<uint16_t>(bid))[0], 'w');
  ring.Return(static_cast<uint16_t>(bid));
  for (size_t i = 1; i < bids.size(); ++i) ring.Return(static_cast<uint16_t>(bids[i]));
  ring.Publish();
  EXPECT_EQ(ring.lent(), 0u);
  EXPECT_EQ(ring.peak_lent(), 16u);
}

// A buffer shared by several owners goes back with the last of them.
TEST_F(RingTest, ASharedBufferReturnsWithItsLastOwner) {
  Ring ring;
  ASSERT_TRUE(ring.Init(64, 4, 4096, 1).ok());
  int bid;
  ASSERT_EQ(RecvOne(ring, "s", &bid), 1);
  ring.Ref(static_cast<uint16_t>(bid));
  ring.Return(static_cast<uint16_t>(bid));
  EXPECT_EQ(ring.lent(), 1u);
  ring.Publish();
  EXPECT_EQ(ring.provided(), 2u) << "still lent: a fresh buffer fills the reserve";
  ring.Return(static_cast<uint16_t>(bid));
  EXPECT_EQ(ring.lent(), 0u);
}

TEST_F(RingTest, ReserveZeroOrAboveTheCeilingHandsOutAll) {
  Ring a;
  ASSERT_TRUE(a.Init(64, 32, 4096).ok());
  EXPECT_EQ(a.provided(), 32u);
  EXPECT_EQ(a.available(), 32u);
  Ring b;
  ASSERT_TRUE(b.Init(64, 16, 4096, 1000).ok());
  EXPECT_EQ(b.provided(), 16u);
  EXPECT_EQ(b.reserve(), 16u);
}

// Lending, returning and publishing in a random order (fixed seed): no buffer is lent twice,
// each receive's byte lands in the buffer it names, the counts add up, and the buffers ever
// used stay within the most lent at once plus the reserve.
TEST_F(RingTest, RandomLendAndReturnKeepsTheCountsAndTheBound) {
  Ring ring;
  ASSERT_TRUE(ring.Init(64, 64, 4096, 8).ok());
  std::mt19937 rng(12345);
  std::vector<int> lent;
  std::vector<bool> out(64, false);
  char next = 'a';
  for (int step = 0; step < 600; ++step) {
    const unsigned pick = rng() % 10;
    if (pick < 5 && ring.available() > 0) {
      int bid;
      const std::string byte(1, next);
      ASSERT_EQ(RecvOne(ring, byte, &bid), 1) << step;
      ASSERT_GE(bid, 0);
      ASSERT_LT(bid, 64);
      EXPECT_FALSE(out[bid]) << "buffer " << bid << " lent twice at step " << step;
      EXPECT_EQ(ring.BufferData(static_cast<uint16_t>(bid))[0], next) << step;
      out[bid] = true;
      lent.push_back(bid);
      next = next == 'z' ? 'a' : static_cast<char>(next + 1);
    } else if (pick < 9 && !lent.empty()) {
      const size_t i = rng() % lent.size();
      out[lent[i]] = false;
      ring.Return(static_cast<uint16_t>(lent[i]));
      lent[i] = lent.back();
      lent.pop_back();
    } else {
      ring.Publish();
      EXPECT_EQ(ring.available(), std::min<uint32_t>(ring.reserve(), 64 - ring.lent())) << step;
    }
    ASSERT_EQ(ring.lent(), lent.size()) << step;
    ASSERT_LE(ring.provided(), ring.peak_lent() + ring.reserve()) << step;
  }
  for (int bid : lent) ring.Return(static_cast<uint16_t>(bid));
  ring.Publish();
  EXPECT_EQ(ring.lent(), 0u);
  EXPECT_GT(ring.peak_lent(), ring.reserve()) << "the walk lent more than the reserve at once";
}

// The reservation is not memory in use: a ring with a 64 MiB ceiling and 4 buffers handed
// out adds well under a megabyte to the resident set.
TEST_F(RingTest, CeilingIsReservedNotResident) {
  auto rss_kib = [] {
    FILE* f = fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;
    if (f) {
      if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
      fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
  };
  long before = rss_kib();
  Ring ring;
  ASSERT_TRUE(ring.Init(64, 4096, 16 * 1024, 4).ok());
  long after = rss_kib();
  EXPECT_LT(after - before, 1024) << "KiB resident after Init";
}

}  // namespace
}  // namespace ringway::core
