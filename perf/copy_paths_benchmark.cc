// Moving a large body from one TCP socket to another, the ways this kernel offers, measured
// against each other: what a proxy pays per 64 KiB forwarded.
//
//   copy        io_uring RECV into a user buffer, then SEND from it (what ringway does today:
//               two copies through user memory)
//   send_zc     io_uring RECV, then SEND_ZC (the send pins the pages instead of copying; on
//               loopback the kernel copies them on delivery anyway)
//   uring_splice  IORING_OP_SPLICE socket -> pipe -> socket (no copy through user memory; the
//               kernel runs socket splices on its io-wq worker threads)
//   splice      splice(2) socket -> pipe -> socket from this thread (no copy, no hand-off)
//   provided    a multishot RECV into a ring of 16 KiB provided buffers (one completion per
//               buffer, as ringway receives what it cannot splice), then one SENDMSG gathering
//               a chunk's buffers
//   bundle      a RECV with IORING_RECVSEND_BUNDLE from the same ring: one completion for as
//               many consecutive buffers as the socket fills (Linux 6.10+), then SENDMSG
//   inc         a RECV from a ring of 64 KiB buffers registered with IOU_PBUF_RING_INC: each
//               receive takes the next part of the head buffer (Linux 6.12+), then SEND
//
// And for small messages, what a request/response exchange costs the mover depending on how
// io_uring finds its socket (a proxy's small keep-alive case is a few such operations per
// request):
//
//   exchange/regular    a SEND of 128 bytes and a RECV of the 128-byte echo, in one submission,
//                       on an ordinary descriptor (the kernel takes and drops a reference to
//                       the file per operation)
//   exchange/fixed      the same on a registered (direct) descriptor (IOSQE_FIXED_FILE)
//   exchange/fixed_ring the same, and the ring's own descriptor registered too
//                       (io_uring_register_ring_fd: io_uring_enter skips its descriptor lookup)
//
// liburing 2.3 has no helpers for bundles and incremental buffers: the raw flags are used, and a
// kernel without them fails the run with its error.
//
// A child process feeds the source socket and drains the destination, so the process CPU
// counter (getrusage RUSAGE_SELF: this thread and io-wq's, not the peer's) is the mover's
// alone: `cpu_us_per_64k`. Loopback only; the numbers compare the methods with each other on
// one machine, not with a network card.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

constexpr size_t kChunk = 64 * 1024;

// A connected loopback TCP pair: fds[0] connects, fds[1] is accepted. False on failure.
bool TcpPair(int fds[2]) {
  int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (l < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  bool ok = bind(l, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 && listen(l, 1) == 0 &&
            getsockname(l, reinterpret_cast<sockaddr*>(&a), &len) == 0;
  int c = ok ? socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0) : -1;
  ok = ok && c >= 0 && connect(c, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  int s = ok ? accept4(l, nullptr, nullptr, SOCK_CLOEXEC) : -1;
  close(l);
  if (s < 0) {
    if (c >= 0) close(c);
    return false;
  }
  fds[0] = c;
  fds[1] = s;
  return true;
}

uint64_t ProcessCpuUs() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<uint64_t>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
         static_cast<uint64_t>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

// The source and destination sockets of the mover, with a child process writing into the
// source and reading the destination until killed.
struct Path {
  int src = -1;  // the mover reads here
  int dst = -1;  // and writes here
  pid_t child = -1;

  bool Open() {
    int a[2], b[2];
    if (!TcpPair(a)) return false;
    if (!TcpPair(b)) {
      close(a[0]);
      close(a[1]);
      return false;
    }
    child = fork();
    if (child < 0) return false;
    if (child == 0) {
      setpgid(0, 0);  // so that the destructor's kill(-child) reaches the writer too
      // Writer and reader in one child: two threads would do, a second fork is simpler.
      close(a[1]);
      close(b[0]);
      if (fork() == 0) {
        std::vector<char> buf(kChunk, 'x');
        for (;;) {
          if (write(a[0], buf.data(), buf.size()) <= 0) _exit(0);
        }
      }
      std::vector<char> buf(kChunk);
      for (;;) {
        if (read(b[1], buf.data(), buf.size()) <= 0) _exit(0);
      }
    }
    close(a[0]);
    close(b[1]);
    src = a[1];
    dst = b[0];
    return true;
  }
  ~Path() {
    if (src >= 0) close(src);
    if (dst >= 0) close(dst);
    if (child > 0) {
      kill(-child, SIGKILL);
      kill(child, SIGKILL);
      waitpid(child, nullptr, 0);
    }
  }
};

struct Ring {
  io_uring ring{};
  bool ok = false;
  Ring() { ok = io_uring_queue_init(8, &ring, 0) == 0; }
  ~Ring() {
    if (ok) io_uring_queue_exit(&ring);
  }
  // Submits what is queued and waits for `n` completions; returns the first negative result,
  // else the sum of the results that are not zero-copy notifications.
  int64_t Run(unsigned n) {
    io_uring_submit(&ring);
    int64_t result = 0;
    for (unsigned i = 0; i < n; ++i) {
      io_uring_cqe* cqe = nullptr;
      if (io_uring_wait_cqe(&ring, &cqe) != 0) return -1;
      if (cqe->flags & IORING_CQE_F_MORE) ++n;  // a SEND_ZC result: its notification follows
      if (!(cqe->flags & IORING_CQE_F_NOTIF)) {
        if (cqe->res < 0) {
          result = cqe->res;
        } else if (result >= 0) {
          result += cqe->res;
        }
      }
      io_uring_cqe_seen(&ring, cqe);
    }
    return result;
  }
};

enum class Method { kCopy, kSendZc, kUringSplice, kSplice };

// Flags liburing 2.3's headers do not name yet.
constexpr uint16_t kRecvBundle = 1U << 4;  // IORING_RECVSEND_BUNDLE (sqe->ioprio)
constexpr uint16_t kPbufRingInc = 2;       // IOU_PBUF_RING_INC (io_uring_buf_reg flags)
constexpr uint32_t kCqeBufMore = 1U << 4;  // IORING_CQE_F_BUF_MORE

// A provided-buffer ring, group 0: `count` buffers of `size` bytes.
struct BufRing {
  io_uring_buf_ring* br = nullptr;
  size_t ring_bytes = 0;
  std::vector<char> mem;
  unsigned count = 0, size = 0;
  bool Init(io_uring* ring, unsigned n, unsigned sz, uint16_t flags) {
    count = n;
    size = sz;
    ring_bytes = n * sizeof(io_uring_buf);
    void* p = mmap(nullptr, ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (p == MAP_FAILED) return false;
    br = static_cast<io_uring_buf_ring*>(p);
    io_uring_buf_ring_init(br);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<uint64_t>(p);
    reg.ring_entries = n;
    reg.bgid = 0;
    reg.pad = flags;  // `flags` in newer headers
    if (io_uring_register_buf_ring(ring, &reg, 0) != 0) return false;
    mem.resize(static_cast<size_t>(n) * sz);
    for (unsigned i = 0; i < n; ++i) Add(i);
    return true;
  }
  char* Data(unsigned bid) { return mem.data() + static_cast<size_t>(bid) * size; }
  void Add(unsigned bid) {
    io_uring_buf_ring_add(br, Data(bid), size, static_cast<unsigned short>(bid),
                          io_uring_buf_ring_mask(count), 0);
    io_uring_buf_ring_advance(br, 1);
  }
  ~BufRing() {
    if (br) munmap(br, ring_bytes);
  }
};

// A receive's completion that came while a send was awaited (a multishot receive stays armed).
struct Pending {
  int res;
  uint32_t flags;
};
constexpr uint64_t kSendTag = 1;

// Sends iov[0, n) whole with SENDMSG (short sends continue); false on an error. Receive
// completions that arrive meanwhile go to `pending`.
bool SendAll(io_uring* ring, int fd, iovec* iov, int n, std::vector<Pending>* pending) {
  while (n > 0) {
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(n);
    io_uring_sqe* sqe = io_uring_get_sqe(ring);
    io_uring_prep_sendmsg(sqe, fd, &msg, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, kSendTag);
    io_uring_submit(ring);
    int res = 0;
    for (;;) {
      io_uring_cqe* cqe = nullptr;
      if (io_uring_wait_cqe(ring, &cqe) != 0) return false;
      const bool send = io_uring_cqe_get_data64(cqe) == kSendTag;
      if (send) {
        res = cqe->res;
      } else {
        pending->push_back({cqe->res, cqe->flags});
      }
      io_uring_cqe_seen(ring, cqe);
      if (send) break;
    }
    if (res <= 0) return false;
    size_t sent = static_cast<size_t>(res);
    while (n > 0 && sent >= iov->iov_len) {
      sent -= iov->iov_len;
      ++iov;
      --n;
    }
    if (n > 0) {
      iov->iov_base = static_cast<char*>(iov->iov_base) + sent;
      iov->iov_len -= sent;
    }
  }
  return true;
}

enum class RingMethod { kProvided, kBundle, kInc };

void MoveRing(benchmark::State& state, RingMethod m) {
  signal(SIGPIPE, SIG_IGN);
  Path path;
  Ring r;
  BufRing bufs;
  const bool inc = m == RingMethod::kInc;
  if (!path.Open() || !r.ok ||
      !bufs.Init(&r.ring, inc ? 4 : 16, inc ? kChunk : 16 * 1024, inc ? kPbufRingInc : 0)) {
    state.SkipWithError("loopback sockets, io_uring or its buffer ring unavailable");
    return;
  }
  std::vector<unsigned> offset(bufs.count, 0);  // kInc: what of each buffer was consumed
  bool armed = false;                           // kProvided: the multishot receive
  std::vector<Pending> pending;                 // its completions that came during a send
  size_t next = 0;
  uint64_t bytes = 0;
  const uint64_t cpu0 = ProcessCpuUs();
  for (auto _ : state) {
    iovec iov[16];
    unsigned bids[16];
    int n = 0;
    int64_t got = 0;
    bool failed = false;
    // Receive one chunk's worth (kProvided: buffer by buffer; the others: one receive).
    do {
      if (!armed) {
        io_uring_sqe* sqe = io_uring_get_sqe(&r.ring);
        if (m == RingMethod::kProvided) {
          io_uring_prep_recv_multishot(sqe, path.src, nullptr, 0, 0);
          armed = true;
        } else {
          io_uring_prep_recv(sqe, path.src, nullptr, 0, 0);
          if (m == RingMethod::kBundle) sqe->ioprio |= kRecvBundle;
        }
        sqe->flags |= IOSQE_BUFFER_SELECT;
        sqe->buf_group = 0;
        io_uring_sqe_set_data64(sqe, 0);  // (not kSendTag: SQEs are reused as they are)
        io_uring_submit(&r.ring);
      }
      int res;
      uint32_t flags;
      if (next < pending.size()) {
        res = pending[next].res;
        flags = pending[next].flags;
        if (++next == pending.size()) {
          pending.clear();
          next = 0;
        }
      } else {
        io_uring_cqe* cqe = nullptr;
        if (io_uring_wait_cqe(&r.ring, &cqe) != 0) {
          failed = true;
          break;
        }
        res = cqe->res;
        flags = cqe->flags;
        io_uring_cqe_seen(&r.ring, cqe);
      }
      if (!(flags & IORING_CQE_F_MORE)) armed = false;
      if (res <= 0) {
        if (res == -ENOBUFS) continue;  // (kProvided: every buffer is in this chunk already)
        state.SkipWithError(strerror(res < 0 ? -res : EPIPE));
        failed = true;
        break;
      }
      unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;
      if (m == RingMethod::kInc) {
        iov[n].iov_base = bufs.Data(bid) + offset[bid];
        iov[n].iov_len = static_cast<size_t>(res);
        offset[bid] += static_cast<unsigned>(res);
        // The kernel is done with the buffer unless it says more of it is left.
        bids[n++] = (flags & kCqeBufMore) ? ~0u : bid;
      } else {
        // A bundle's bytes fill consecutive buffers from `bid` (returned in order, so ring
        // order is bid order).
        for (int left = res; left > 0 && n < 16; left -= static_cast<int>(bufs.size)) {
          iov[n].iov_base = bufs.Data(bid);
          iov[n].iov_len = std::min<size_t>(static_cast<size_t>(left), bufs.size);
          bids[n++] = bid;
          bid = (bid + 1) % bufs.count;
        }
      }
      got += res;
    } while (m == RingMethod::kProvided && got < static_cast<int64_t>(kChunk) && n < 4);
    if (failed) break;
    if (!SendAll(&r.ring, path.dst, iov, n, &pending)) {
      state.SkipWithError("send failed");
      break;
    }
    for (int i = 0; i < n; ++i) {
      if (bids[i] == ~0u) continue;
      offset[bids[i]] = 0;
      bufs.Add(bids[i]);
    }
    bytes += static_cast<uint64_t>(got);
  }
  const uint64_t cpu = ProcessCpuUs() - cpu0;
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  if (bytes > 0) {
    state.counters["cpu_us_per_64k"] =
        static_cast<double>(cpu) * static_cast<double>(kChunk) / static_cast<double>(bytes);
  }
}

void Move(benchmark::State& state, Method m) {
  signal(SIGPIPE, SIG_IGN);
  Path path;
  Ring r;
  int pipefd[2] = {-1, -1};
  if (!path.Open() || !r.ok || pipe2(pipefd, O_CLOEXEC) != 0) {
    state.SkipWithError("loopback sockets, io_uring or a pipe unavailable");
    return;
  }
  fcntl(pipefd[1], F_SETPIPE_SZ, static_cast<int>(kChunk));
  std::vector<char> buf(kChunk);
  uint64_t bytes = 0;
  const uint64_t cpu0 = ProcessCpuUs();
  for (auto _ : state) {
    // One chunk of up to 64 KiB per iteration, read as it comes and written out whole.
    int64_t got = 0;
    if (m == Method::kCopy || m == Method::kSendZc) {
      io_uring_prep_recv(io_uring_get_sqe(&r.ring), path.src, buf.data(), kChunk, 0);
      got = r.Run(1);
      for (int64_t off = 0; got > 0 && off < got;) {
        io_uring_sqe* sqe = io_uring_get_sqe(&r.ring);
        if (m == Method::kCopy) {
          io_uring_prep_send(sqe, path.dst, buf.data() + off, static_cast<size_t>(got - off),
                             MSG_NOSIGNAL);
        } else {
          io_uring_prep_send_zc(sqe, path.dst, buf.data() + off, static_cast<size_t>(got - off),
                                MSG_NOSIGNAL, 0);
        }
        int64_t n = r.Run(1);
        if (n <= 0) {
          got = -1;
          break;
        }
        off += n;
      }
    } else if (m == Method::kUringSplice) {
      io_uring_prep_splice(io_uring_get_sqe(&r.ring), path.src, -1, pipefd[1], -1, kChunk,
                           SPLICE_F_MOVE);
      got = r.Run(1);
      for (int64_t off = 0; got > 0 && off < got;) {
        io_uring_prep_splice(io_uring_get_sqe(&r.ring), pipefd[0], -1, path.dst, -1,
                             static_cast<unsigned>(got - off), SPLICE_F_MOVE);
        int64_t n = r.Run(1);
        if (n <= 0) {
          got = -1;
          break;
        }
        off += n;
      }
    } else {
      got = splice(path.src, nullptr, pipefd[1], nullptr, kChunk, SPLICE_F_MOVE);
      for (int64_t off = 0; got > 0 && off < got;) {
        ssize_t n = splice(pipefd[0], nullptr, path.dst, nullptr, static_cast<size_t>(got - off),
                           SPLICE_F_MOVE);
        if (n <= 0) {
          got = -1;
          break;
        }
        off += n;
      }
    }
    if (got <= 0) {
      state.SkipWithError(strerror(got < 0 ? static_cast<int>(-got) : EPIPE));
      break;
    }
    bytes += static_cast<uint64_t>(got);
  }
  const uint64_t cpu = ProcessCpuUs() - cpu0;
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  if (bytes > 0) {
    state.counters["cpu_us_per_64k"] =
        static_cast<double>(cpu) * static_cast<double>(kChunk) / static_cast<double>(bytes);
  }
  close(pipefd[0]);
  close(pipefd[1]);
}

void BM_MoveCopy(benchmark::State& s) { Move(s, Method::kCopy); }
void BM_MoveSendZc(benchmark::State& s) { Move(s, Method::kSendZc); }
void BM_MoveUringSplice(benchmark::State& s) { Move(s, Method::kUringSplice); }
void BM_MoveSplice(benchmark::State& s) { Move(s, Method::kSplice); }

BENCHMARK(BM_MoveCopy)->UseRealTime();
BENCHMARK(BM_MoveSendZc)->UseRealTime();
BENCHMARK(BM_MoveUringSplice)->UseRealTime();
BENCHMARK(BM_MoveSplice)->UseRealTime();

void BM_MoveProvided(benchmark::State& s) { MoveRing(s, RingMethod::kProvided); }
void BM_MoveBundle(benchmark::State& s) { MoveRing(s, RingMethod::kBundle); }
void BM_MoveIncremental(benchmark::State& s) { MoveRing(s, RingMethod::kInc); }
BENCHMARK(BM_MoveProvided)->UseRealTime();
BENCHMARK(BM_MoveBundle)->UseRealTime();
BENCHMARK(BM_MoveIncremental)->UseRealTime();

// ---- Small exchanges: ordinary vs registered descriptors ----------------------------------

enum class Descriptor { kRegular, kFixed, kFixedRing };

constexpr size_t kMessage = 128;

void Exchange(benchmark::State& state, Descriptor d) {
  signal(SIGPIPE, SIG_IGN);
  int fds[2];
  if (!TcpPair(fds)) {
    state.SkipWithError("loopback sockets unavailable");
    return;
  }
  const int one = 1;
  setsockopt(fds[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  setsockopt(fds[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  const pid_t child = fork();
  if (child < 0) {
    state.SkipWithError("fork failed");
    return;
  }
  if (child == 0) {  // echoes every message whole until the socket closes
    close(fds[0]);
    char buf[kMessage];
    for (;;) {
      size_t got = 0;
      while (got < kMessage) {
        const ssize_t n = read(fds[1], buf + got, kMessage - got);
        if (n <= 0) _exit(0);
        got += static_cast<size_t>(n);
      }
      if (write(fds[1], buf, kMessage) != static_cast<ssize_t>(kMessage)) _exit(0);
    }
  }
  close(fds[1]);
  const int fd = fds[0];
  Ring r;
  bool ok = r.ok;
  int target = fd;  // what the SQEs name: the descriptor, or its slot in the file table
  if (ok && d != Descriptor::kRegular) {
    ok = io_uring_register_files(&r.ring, &fd, 1) == 0;
    target = 0;
  }
  if (ok && d == Descriptor::kFixedRing) ok = io_uring_register_ring_fd(&r.ring) == 1;
  char out[kMessage];
  char in[kMessage];
  memset(out, 'x', sizeof(out));
  uint64_t exchanges = 0;
  const uint64_t cpu0 = ProcessCpuUs();
  for (auto _ : state) {
    if (!ok) {
      state.SkipWithError("io_uring, or registering the descriptor, failed");
      break;
    }
    io_uring_sqe* send = io_uring_get_sqe(&r.ring);
    io_uring_prep_send(send, target, out, sizeof(out), MSG_NOSIGNAL);
    io_uring_sqe* recv = io_uring_get_sqe(&r.ring);
    io_uring_prep_recv(recv, target, in, sizeof(in), MSG_WAITALL);
    if (d != Descriptor::kRegular) {
      send->flags |= IOSQE_FIXED_FILE;
      recv->flags |= IOSQE_FIXED_FILE;
    }
    if (r.Run(2) != static_cast<int64_t>(2 * kMessage)) {
      state.SkipWithError("send or receive failed or fell short");
      break;
    }
    ++exchanges;
  }
  const uint64_t cpu = ProcessCpuUs() - cpu0;
  if (exchanges > 0) {
    state.counters["cpu_us_per_exchange"] =
        static_cast<double>(cpu) / static_cast<double>(exchanges);
  }
  close(fd);
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
}
void BM_ExchangeRegular(benchmark::State& s) { Exchange(s, Descriptor::kRegular); }
void BM_ExchangeFixed(benchmark::State& s) { Exchange(s, Descriptor::kFixed); }
void BM_ExchangeFixedRing(benchmark::State& s) { Exchange(s, Descriptor::kFixedRing); }
BENCHMARK(BM_ExchangeRegular)->UseRealTime();
BENCHMARK(BM_ExchangeFixed)->UseRealTime();
BENCHMARK(BM_ExchangeFixedRing)->UseRealTime();

}  // namespace
