#include "core/ring.h"

#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace ringway::core {

absl::Status ErrnoStatus(int err, std::string_view what) {
  if (err < 0) err = -err;
  return absl::Status(absl::ErrnoToStatusCode(err),
                      absl::StrCat(std::string(what), ": ", strerror(err)));
}

absl::Status ProbeKernel() {
  io_uring ring;
  io_uring_params p{};
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  int r = io_uring_queue_init_params(8, &ring, &p);
  if (r < 0) {
    if (r == -EINVAL) {
      return absl::FailedPreconditionError(
          "io_uring with SINGLE_ISSUER|DEFER_TASKRUN is not supported by this kernel; "
          "ringway needs Linux 6.1 or newer");
    }
    return absl::FailedPreconditionError(
        absl::StrCat("io_uring is unavailable (", strerror(-r),
                     "); ringway needs io_uring: check /proc/sys/kernel/io_uring_disabled, seccomp "
                     "or container policy"));
  }
  io_uring_probe* probe = io_uring_get_probe_ring(&ring);
  bool ok = probe && io_uring_opcode_supported(probe, IORING_OP_RECV) &&
            io_uring_opcode_supported(probe, IORING_OP_SEND) &&
            io_uring_opcode_supported(probe, IORING_OP_ACCEPT) &&
            io_uring_opcode_supported(probe, IORING_OP_CONNECT) &&
            io_uring_opcode_supported(probe, IORING_OP_SENDMSG);
  if (probe) io_uring_free_probe(probe);
  io_uring_queue_exit(&ring);
  if (!ok) return absl::FailedPreconditionError("io_uring lacks socket opcodes; need Linux 6.1+");
  return absl::OkStatus();
}

Ring::~Ring() {
  if (ring_ok_) {
    if (buf_ring_) io_uring_unregister_buf_ring(&ring_, kBufferGroup);
    io_uring_queue_exit(&ring_);
  }
  if (buf_ring_) munmap(buf_ring_, buf_ring_bytes_);
  if (buffers_) munmap(buffers_, buffers_bytes_);
}

absl::Status Ring::Init(uint32_t sq_entries, uint32_t buffer_count, uint32_t buffer_size,
                        uint32_t reserve) {
  io_uring_params p{};
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE |
            IORING_SETUP_SUBMIT_ALL;
  // Multishot receives post one CQE per buffer; a deep CQ keeps a burst from overflowing.
  p.cq_entries = sq_entries * 8;
  int r = io_uring_queue_init_params(sq_entries, &ring_, &p);
  if (r < 0) return ErrnoStatus(r, "io_uring_queue_init");
  ring_ok_ = true;

  buffer_count_ = buffer_count;
  buffer_size_ = buffer_size;
  buf_ring_bytes_ = sizeof(io_uring_buf) * buffer_count;
  void* mem =
      mmap(nullptr, buf_ring_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return ErrnoStatus(errno, "mmap buffer ring");
  buf_ring_ = static_cast<io_uring_buf_ring*>(mem);
  io_uring_buf_ring_init(buf_ring_);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uint64_t>(buf_ring_);
  reg.ring_entries = buffer_count;
  reg.bgid = kBufferGroup;
  r = io_uring_register_buf_ring(&ring_, &reg, 0);
  if (r < 0) return ErrnoStatus(r, "io_uring_register_buf_ring (needs Linux 5.19+)");

  // Reserved, not committed: a page counts only once the kernel writes into it.
  buffers_bytes_ = static_cast<size_t>(buffer_count) * buffer_size;
  mem = mmap(nullptr, buffers_bytes_, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) return ErrnoStatus(errno, "mmap buffers");
  buffers_ = static_cast<char*>(mem);
  refs_ = std::make_unique<uint16_t[]>(buffer_count);
  free_ = std::make_unique<uint16_t[]>(buffer_count);
  set_reserve(reserve);
  Publish();
  // RINGWAY_RECV_ONESHOT=1 takes the older kernels' path on any kernel (to test it).
  const char* oneshot = getenv("RINGWAY_RECV_ONESHOT");
  recv_limit_ = !(oneshot && oneshot[0] == '1') && ProbeRecvLimit();
  return absl::OkStatus();
}

// Multishot receive with a byte limit in sqe->optlen (which shares its place with
// file_index, the name liburing 2.3 knows): older kernels refuse a non-zero value with
// -EINVAL. Two bytes wait on a socket pair, the receive may take one: a kernel that knows the
// limit reads them and ends the multishot (no F_MORE).
bool Ring::ProbeRecvLimit() {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return false;
  bool ok = false;
  if (write(sv[1], "ab", 2) == 2) {
    io_uring_sqe* sqe = GetSqe();
    io_uring_prep_recv_multishot(sqe, sv[0], nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = kBufferGroup;
    sqe->file_index = 1;
    io_uring_sqe_set_data64(sqe, 0);
    io_uring_submit(&ring_);
    io_uring_cqe* cqe = nullptr;
    __kernel_timespec ts{.tv_sec = 1, .tv_nsec = 0};
    bool more = false;
    if (io_uring_wait_cqe_timeout(&ring_, &cqe, &ts) == 0 && cqe != nullptr) {
      more = cqe->flags & IORING_CQE_F_MORE;
      ok = cqe->res > 0 && !more;
      if (cqe->flags & IORING_CQE_F_BUFFER) GiveBack(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
      io_uring_cqe_seen(&ring_, cqe);
    }
    if (more || cqe == nullptr) {
      // Still armed (or no answer): cancel it and wait for its end, so that nothing of the
      // probe is left in the ring when the worker starts.
      sqe = GetSqe();
      io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
      io_uring_sqe_set_data64(sqe, 0);  // 0: ignored by the worker, were it ever left over
      io_uring_submit(&ring_);
      // Two completions end it: the receive's last and the cancellation's.
      for (int i = 0, n = 0; i < 2 && n < 8 && io_uring_wait_cqe_timeout(&ring_, &cqe, &ts) == 0;
           ++i, ++n) {
        if (cqe->flags & IORING_CQE_F_BUFFER) GiveBack(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
        if (cqe->flags & IORING_CQE_F_MORE) --i;  // more of the receive: not its last
        io_uring_cqe_seen(&ring_, cqe);
      }
      ok = false;
    }
  }
  close(sv[0]);
  close(sv[1]);
  return ok;
}

// A buffer the probe's receive took goes straight back.
void Ring::GiveBack(uint32_t bid) {
  refs_[bid] = 1;
  ++lent_;
  if (kernel_ > 0) --kernel_;
  Return(static_cast<uint16_t>(bid));
  Publish();
}

void Ring::TopUp() {
  const int mask = io_uring_buf_ring_mask(buffer_count_);
  while (kernel_ < reserve_) {  // bounded: each turn hands out a buffer or ends
    uint16_t bid;
    if (free_count_ > 0) {
      bid = free_[--free_count_];
    } else if (provided_ < buffer_count_) {
      bid = static_cast<uint16_t>(provided_++);
    } else {
      break;
    }
    io_uring_buf_ring_add(buf_ring_, BufferData(bid), buffer_size_, bid, mask,
                          static_cast<int>(pending_adds_++));
    ++kernel_;
  }
}

void Ring::PrepRecv(io_uring_sqe* sqe, int fd, uint32_t limit) {
  if (recv_limit_) {
    io_uring_prep_recv_multishot(sqe, fd, nullptr, 0, 0);
    // The kernel ends the receive once it has read at least optlen bytes, and its last read
    // can fill a whole buffer: this limit keeps the total within `limit` when reads fill
    // their buffers (one buffer at least).
    sqe->file_index = limit > buffer_size_ ? limit - buffer_size_ + 1 : 1;
  } else {
    io_uring_prep_recv(sqe, fd, nullptr, 0, 0);
  }
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = kBufferGroup;
}

void Ring::PrepRecvOnce(io_uring_sqe* sqe, int fd, uint32_t max) {
  io_uring_prep_recv(sqe, fd, nullptr, std::min(max, buffer_size_), 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = kBufferGroup;
}

io_uring_sqe* Ring::GetSqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  while (sqe == nullptr) {
    io_uring_submit(&ring_);
    sqe = io_uring_get_sqe(&ring_);
  }
  return sqe;
}

int Ring::SubmitAndWait(uint64_t timeout_ms) {
  __kernel_timespec ts;
  ts.tv_sec = static_cast<int64_t>(timeout_ms / 1000);
  ts.tv_nsec = static_cast<int64_t>((timeout_ms % 1000) * 1000000);
  io_uring_cqe* cqe = nullptr;
  return io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
}

void Ring::Return(uint16_t bid) {
  if (--refs_[bid] != 0) return;
  free_[free_count_++] = bid;
  --lent_;
}

uint32_t Ring::Publish() {
  TopUp();
  const uint32_t n = pending_adds_;
  if (n) io_uring_buf_ring_advance(buf_ring_, static_cast<int>(n));
  pending_adds_ = 0;
  return n;
}

}  // namespace ringway::core
