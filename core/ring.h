// One worker's io_uring: the ring itself and its provided-buffer ring.
//
// The ring is set up SINGLE_ISSUER | DEFER_TASKRUN (completions are processed only when the
// owning thread waits, so no task work interrupts it) with a completion queue several times the
// submission queue. GetSqe() flushes to the kernel when the SQ is full, so callers never see a
// null SQE. The buffer ring hands the kernel fixed-size buffers for multishot receives: a
// buffer is "lent" to whoever consumes the CQE and comes back through Return().
//
// The buffers' memory is reserved for `buffer_count` buffers, but a page counts only once the
// kernel writes into it, and the kernel takes buffers in the order they are put in the ring.
// Were every returned buffer put back at once, all buffers ever handed out would keep cycling
// through the kernel and stay resident. So the kernel's ring holds a fixed reserve
// (`buffers.reserve`, 64 by default): returned buffers wait on a stack, and each Publish() tops the
// ring up to the reserve from the top of it (the buffer that came back last, still in cache, goes
// out first); a buffer never used before is handed out only when the stack is empty. The memory a
// worker touches is then the most buffers it had lent at once plus the reserve. A receive that
// finds the ring empty waits for the next Publish() (the worker re-arms it once buffers are
// there), and the data waits in the socket: the reserve bounds how much one loop turn reads.
//
// A multishot receive keeps reading while the socket has data, one buffer per completion, so
// on its own it lets one busy socket take any number of buffers before the worker sees the
// first of them. PrepRecv bounds that: where the kernel takes a byte limit for a multishot
// receive (Linux 6.17+, probed at Init) the receive ends after `limit` bytes; elsewhere every
// receive is single-shot (one buffer, re-armed by the caller).
//
//   core::Ring ring;
//   RETURN_IF_ERROR(ring.Init(4096, 1024, 16 * 1024, 64));
//   io_uring_sqe* sqe = ring.GetSqe();
#ifndef RINGWAY_CORE_RING_H_
#define RINGWAY_CORE_RING_H_

#include <liburing.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"

namespace ringway::core {

// Maps a negative kernel result to a Status carrying the errno text.
absl::Status ErrnoStatus(int err, std::string_view what);

// Checks that this kernel gives us what we need (io_uring enabled, DEFER_TASKRUN, provided
// buffer rings, multishot receive). The error says what is missing.
absl::Status ProbeKernel();

class Ring {
 public:
  static constexpr uint16_t kBufferGroup = 0;

  Ring() = default;
  ~Ring();
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  // buffer_count is the ceiling; `reserve` (0: all of them) is how many the kernel's ring
  // holds after each Publish().
  absl::Status Init(uint32_t sq_entries, uint32_t buffer_count, uint32_t buffer_size,
                    uint32_t reserve = 0);

  io_uring* raw() { return &ring_; }

  // Never null: when the SQ is full the queued entries are submitted first.
  io_uring_sqe* GetSqe();

  // Submits pending SQEs and waits for at least one CQE or the timeout (ms).
  int SubmitAndWait(uint64_t timeout_ms);

  // Prepares a receive into provided buffers that ends (without IORING_CQE_F_MORE) before it
  // fills more than `limit` bytes of buffers, one buffer at least. A read that does not fill
  // its buffer still takes all of it, so a peer sending in small pieces can make it take a
  // few more; the caller's check after each completion stops it then. Re-armed by the
  // caller.
  void PrepRecv(io_uring_sqe* sqe, int fd, uint32_t limit);
  // A single-shot receive of at most `max` bytes (into one provided buffer).
  void PrepRecvOnce(io_uring_sqe* sqe, int fd, uint32_t max);
  // Whether receives are multishot with a byte limit (else single-shot).
  bool recv_limit() const { return recv_limit_; }

  // Provided buffers.
  char* BufferData(uint16_t bid) { return buffers_ + static_cast<size_t>(bid) * buffer_size_; }
  uint32_t buffer_size() const { return buffer_size_; }
  uint32_t buffer_count() const { return buffer_count_; }
  // Distinct buffers handed to the kernel so far (the ones ever written to): grows up to
  // buffer_count().
  uint32_t provided() const { return provided_; }
  // Buffers in the kernel's ring, not taken yet (as of the completions seen so far).
  uint32_t available() const { return kernel_; }
  // How many buffers Publish() keeps in the kernel's ring; set_reserve takes effect at the
  // next Publish() (0, or more than buffer_count(): all of them).
  uint32_t reserve() const { return reserve_; }
  void set_reserve(uint32_t n) { reserve_ = n == 0 || n > buffer_count_ ? buffer_count_ : n; }
  // Drops one reference to buffer `bid`; the last one puts it on the stack of returned
  // buffers, for the next Publish(). A buffer lent by a completion has one reference
  // (NoteLent); each further owner of part of it (say, two DATA frames of different streams
  // read together) takes one with Ref.
  void Return(uint16_t bid);
  void Ref(uint16_t bid) { ++refs_[bid]; }
  // Tops the kernel's ring up to the reserve (returned buffers first, the last returned
  // first; then buffers never used, while there are any) with one tail update; returns how
  // many buffers were added.
  uint32_t Publish();
  // Buffers currently lent out (in our hands, not the kernel's).
  uint32_t lent() const { return lent_; }
  // The most buffers lent at once since Init.
  uint32_t peak_lent() const { return peak_lent_; }
  void NoteLent(uint16_t bid) {
    refs_[bid] = 1;
    if (kernel_ > 0) --kernel_;
    if (++lent_ > peak_lent_) peak_lent_ = lent_;
  }

 private:
  io_uring ring_{};
  bool ring_ok_ = false;
  io_uring_buf_ring* buf_ring_ = nullptr;
  size_t buf_ring_bytes_ = 0;
  char* buffers_ = nullptr;
  size_t buffers_bytes_ = 0;
  uint32_t buffer_size_ = 0;
  uint32_t buffer_count_ = 0;
  uint32_t provided_ = 0;
  uint32_t reserve_ = 0;
  uint32_t kernel_ = 0;        // in the kernel's ring (pending additions included), not taken
  uint32_t pending_adds_ = 0;  // ring entries written since the last tail update
  std::unique_ptr<uint16_t[]> free_;  // returned buffers, not in the kernel's ring: a stack
  uint32_t free_count_ = 0;
  uint32_t lent_ = 0;
  uint32_t peak_lent_ = 0;
  std::unique_ptr<uint16_t[]> refs_;  // per buffer: its owners while lent
  bool recv_limit_ = false;

  bool ProbeRecvLimit();
  // Adds buffers to the kernel's ring (visible at the next tail update) until it holds
  // reserve_: from the stack of returned ones, then fresh ones while there are any.
  void TopUp();
  void GiveBack(uint32_t bid);
};

}  // namespace ringway::core

#endif  // RINGWAY_CORE_RING_H_
