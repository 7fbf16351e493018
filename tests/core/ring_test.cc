// The provided-buffer ring: buffers handed out on demand up to the ceiling, and given back.
#include "core/ring.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
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

TEST_F(RingTest, StartsWithTheInitialBuffersAndGrowsWhenThreeQuartersAreLent) {
  Ring ring;
  ASSERT_TRUE(ring.Init(64, 16, 4096, 4).ok());
  EXPECT_EQ(ring.buffer_count(), 16u);
  EXPECT_EQ(ring.provided(), 4u);
  std::vector<int> bids;
  for (int i = 0; i < 2; ++i) {
    int bid;
    ASSERT_EQ(RecvOne(ring, "x", &bid), 1);
    bids.push_back(bid);
  }
  EXPECT_EQ(ring.provided(), 4u) << "2 of 4 lent: no growth yet";
  int bid;
  ASSERT_EQ(RecvOne(ring, "y", &bid), 1);
  bids.push_back(bid);
  EXPECT_EQ(ring.provided(), 8u) << "3 of 4 lent: doubled";
  EXPECT_EQ(ring.lent(), 3u);
  ring.Publish();
  // The new buffers are usable: lend them all; growth stops at the ceiling.
  for (int i = 0; i < 13; ++i) {
    ASSERT_EQ(RecvOne(ring, "z", &bid), 1) << i;
    bids.push_back(bid);
    ring.Publish();
  }
  EXPECT_EQ(ring.provided(), 16u);
  EXPECT_EQ(ring.lent(), 16u);
  EXPECT_FALSE(ring.Grow());
  // Every buffer id handed out once, each in range and distinct.
  std::vector<bool> seen(16, false);
  for (int b : bids) {
    ASSERT_GE(b, 0);
    ASSERT_LT(b, 16);
    EXPECT_FALSE(seen[b]) << "buffer " << b << " lent twice";
    seen[b] = true;
  }
  // Nothing left: a receive finds no buffer.
  EXPECT_EQ(RecvOne(ring, "w", &bid), -ENOBUFS);
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

TEST_F(RingTest, GrowOnDemandWhenAReceiveFindsNone) {
  Ring ring;
  ASSERT_TRUE(ring.Init(64, 8, 4096, 1).ok());
  int bid;
  ASSERT_EQ(RecvOne(ring, "a", &bid), 1);
  // 1 of 1 lent: NoteLent already doubled to 2.
  EXPECT_EQ(ring.provided(), 2u);
  ring.Publish();
  int bid2;
  ASSERT_EQ(RecvOne(ring, "b", &bid2), 1);
  EXPECT_NE(bid, bid2);
  EXPECT_EQ(ring.provided(), 4u);
  // The growth NoteLent made is not published yet: asking again (many receives finding the
  // ring empty in one turn) adds nothing.
  EXPECT_TRUE(ring.Grow());
  EXPECT_EQ(ring.provided(), 4u);
  ring.Publish();
  // An explicit Grow (the worker's answer to -ENOBUFS) doubles again, once per Publish.
  EXPECT_TRUE(ring.Grow());
  EXPECT_TRUE(ring.Grow());
  EXPECT_EQ(ring.provided(), 8u);
  ring.Publish();
  EXPECT_FALSE(ring.Grow());
  ring.Return(static_cast<uint16_t>(bid));
  ring.Return(static_cast<uint16_t>(bid2));
  ring.Publish();
  EXPECT_EQ(ring.lent(), 0u);
}

TEST_F(RingTest, InitialZeroOrAboveTheCeilingHandsOutAll) {
  Ring a;
  ASSERT_TRUE(a.Init(64, 32, 4096).ok());
  EXPECT_EQ(a.provided(), 32u);
  EXPECT_FALSE(a.Grow());
  Ring b;
  ASSERT_TRUE(b.Init(64, 16, 4096, 1000).ok());
  EXPECT_EQ(b.provided(), 16u);
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
