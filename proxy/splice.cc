// Large response bodies spliced: backend socket -> pipe -> client socket, with splice(2) from
// the worker's thread, driven by readiness from the ring. The bytes never reach user space:
// the kernel moves page references instead of copying twice (about a third of the CPU of a
// receive and a send per 64 KiB on this kernel; docs/design.md, "Splice").
//
// Only where nothing has to read the bytes: a plain HTTP/1 backend answering with a
// Content-Length body to a plain HTTP/1 client, with at least buffers.splice bytes of it left
// once the head is parsed. Everything else (TLS on either side, HTTP/2, chunked, bodies of
// unknown length) is received into provided buffers as before.
//
// io_uring's own IORING_OP_SPLICE is not used: a splice that cannot complete at once goes to
// an io-wq thread (a thread hand-off per call, and a blocked thread per slow peer). Here the
// ring only says when a socket is ready (a poll), and the splice itself never blocks.
//
// The backend side: its multishot receive ends first (what it still brings is queued as
// usual), then each turn of SpliceIn moves what the socket has into the pipe, up to the room
// the client's queue has, and queues those bytes on the client's SendQueue as a pipe piece
// (SendQueue::PushPipe), so they go out in order with the head and any bytes before them.
// The client side: SubmitSend finds a pipe piece first in the queue and splices from the pipe
// to the socket (SpliceOut); its result comes back through OnSend like any send's, so the
// send deadline, backpressure, the end of the exchange and pipelining work unchanged.
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "proxy/worker_impl.h"

namespace ringway::proxy {

bool WorkerImpl::SetNonblock(Conn* c) {
  if (c->nonblock) return true;
  const int flags = fcntl(c->fd, F_GETFL);
  if (flags < 0 || fcntl(c->fd, F_SETFL, flags | O_NONBLOCK) < 0) return false;
  c->nonblock = true;
  return true;
}

SplicePipe* WorkerImpl::TakePipe() {
  if (!spare_pipes_.empty()) {
    SplicePipe* p = spare_pipes_.back();
    spare_pipes_.pop_back();
    ++pipes_lent_;
    return p;
  }
  if (!CanMakePipe()) return nullptr;
  int fds[2];
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) {
    pipe_retry_ms_ = now_ms_ + 1000;  // (out of descriptors: not again at every response)
    return nullptr;
  }
  // 256 KiB (64 slots; a slot holds one page run of a received packet, often much less than
  // a page): 1,000 downloads of 1 MiB at once cost 0.54 ms of CPU each against 0.86 ms with
  // the default 16 slots (perf/RESULTS.md). The kernel charges a pipe's slots to its user
  // (fs.pipe-user-pages-soft, 16384 pages, unless the process has CAP_SYS_RESOURCE or
  // CAP_SYS_ADMIN): past that, the resize is refused and the pipe keeps what it got (16
  // slots, or 2 once over the limit), which only costs more splice calls.
  (void)fcntl(fds[1], F_SETPIPE_SZ, static_cast<int>(kPipeSize));
  const int cap = fcntl(fds[1], F_GETPIPE_SZ);
  auto* p = new SplicePipe;
  p->r = fds[0];
  p->w = fds[1];
  p->cap = cap > 0 ? static_cast<uint32_t>(cap) : 64 * 1024;
  ++pipes_lent_;
  return p;
}

// The client's pipe goes back to the worker: kept for reuse when it is empty, closed when it
// still holds bytes nobody will send (the connection closed).
void WorkerImpl::ReleasePipe(ClientConn* c) {
  SplicePipe* p = c->pipe;
  if (p == nullptr) return;
  c->pipe = nullptr;
  --pipes_lent_;
  if (p->bytes == 0 && spare_pipes_.size() < kSparePipes) {
    spare_pipes_.push_back(p);
    return;
  }
  close(p->r);
  close(p->w);
  delete p;
}

// After bytes left the pipe, or the backend's body ended: an empty pipe no backend still
// splices into is given back, so an idle connection holds no pipe (two descriptors).
void WorkerImpl::SpliceSent(ClientConn* c) {
  if (c->pipe == nullptr || c->pipe->bytes != 0) return;
  if (c->ex.up && c->ex.up->splicing) return;
  ReleasePipe(c);
}

bool WorkerImpl::SpliceEligible(const UpstreamConn* u) const {
  const Exchange* ex = u->ex;
  const uint64_t min = cfg_->buffers.splice;
  if (min == 0 || ex == nullptr || ex->stream != nullptr || u->splicing || u->closing) return false;
  if (u->kind != ConnKind::kH1Client || u->tls || u->state != UpState::kBody) return false;
  if (u->body != BodyKind::kContentLength || u->left < min) return false;
  const ClientConn* c = ex->client;
  if (c->kind != ConnKind::kH1Server || c->tls || c->h2 || c->closing) return false;
  if (ex->resp != RespState::kStreaming) return false;
  return c->pipe != nullptr || !spare_pipes_.empty() || CanMakePipe();
}

// A pipe costs two descriptors: the worker keeps its pipes, lent and spare, within what the
// open-file limit leaves beside its connections (limits.splice_pipes, SizeConnections).
bool WorkerImpl::CanMakePipe() const {
  const uint64_t pipes = pipes_lent_ + spare_pipes_.size();
  return pipes < std::min<uint64_t>(kMaxPipes, cfg_->limits.splice_pipes) &&
         now_ms_ >= pipe_retry_ms_;
}

// The response's head has been parsed and enough of its body is left: from here the body
// is spliced. A receive still armed is cancelled; its last completion re-arms, and ArmRecv
// then splices (so every byte it still brought is queued before any byte spliced).
void WorkerImpl::StartSplice(UpstreamConn* u) {
  ClientConn* c = u->ex->client;
  if (c->pipe == nullptr) c->pipe = TakePipe();
  if (c->pipe == nullptr) return;
  if (!SetNonblock(u) || !SetNonblock(c)) {
    SpliceSent(c);
    return;
  }
  u->splicing = true;
  u->spliced = true;
  if (u->recv_armed) {
    io_uring_sqe* sqe = ring_.GetSqe();
    io_uring_prep_cancel64(sqe, Tag(u, Op::kRecv), 0);
    io_uring_sqe_set_data64(sqe, Tag(nullptr, Op::kIgnore));
    return;
  }
  ArmRecv(u);
}

// In place of a receive (ArmRecv) for a splicing backend: a poll for readability. The splices
// run from its completion only, like a receive's bytes, never from inside ArmRecv's callers.
void WorkerImpl::ArmSpliceIn(UpstreamConn* u) {
  if (u->splice_armed) return;
  io_uring_sqe* sqe = ring_.GetSqe();
  io_uring_prep_poll_add(sqe, u->fd, POLLIN);
  io_uring_sqe_set_data64(sqe, Tag(u, Op::kSpliceIn));
  u->splice_armed = true;
  ++u->inflight;
}

// Moves what the backend's socket holds into the pipe. Each call ends armed (a poll for
// readability), paused (the client's queue has no room: it resumes when the client catches
// up, ClientCaughtUp), or with the body done or failed.
// Called on a readiness poll's completion.
void WorkerImpl::SpliceIn(UpstreamConn* u) {
  Exchange* ex = u->ex;
  ClientConn* c = ex->client;
  SplicePipe* p = c->pipe;
  for (int i = 0; i < 4; ++i) {
    const uint64_t used = Charged(c);
    const uint64_t room = std::min<uint64_t>(p->cap - std::min(p->cap, p->bytes),
                                             used < high_water_ ? high_water_ - used : 0);
    const size_t want = static_cast<size_t>(std::min<uint64_t>(u->left, room));
    if (want == 0) {
      ThrottleUpstream(u);
      return;
    }
    const ssize_t n =
        splice(u->fd, nullptr, p->w, nullptr, want, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n > 0) {
      p->bytes += static_cast<uint32_t>(n);
      u->left -= static_cast<uint64_t>(n);
      ex->resp_bytes += static_cast<uint64_t>(n);
      c->sendq.PushPipe(static_cast<uint32_t>(n));
      Send(c);
      if (u->left == 0) {
        // Bytes already after the body (the backend said too short a length, or is out of
        // step): never hand the connection to another request (as TakeResponseBody does).
        int after = 0;
        if (ioctl(u->fd, FIONREAD, &after) != 0 || after > 0) u->keep_alive = false;
        UpstreamResponseDone(u);
        return;
      }
      if (u->timer.kind == kTimerResponse) ArmTimer(u, kTimerResponse);
      if (static_cast<size_t>(n) == want) continue;  // the socket may hold more
      break;                                         // it is (most likely) empty: wait
    }
    if (n == 0) {  // the backend closed before the body's end
      UpstreamEof(u, 0);
      return;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) {
      UpstreamEof(u, -errno);
      return;
    }
    // Nothing to read, or the pipe has no free slot (a slot per page run, whatever its
    // bytes): with bytes in the pipe, wait for the client to take some, else for the socket.
    if (p->bytes > 0) {
      ThrottleUpstream(u);
      return;
    }
    if (i == 0) {
      // Readable, yet nothing to splice from an empty pipe: TCP urgent data sits at the read
      // point (a splice stops at its mark, a poll keeps saying readable), and polling again
      // would spin. The rest of the body is received instead, which reads past the mark.
      u->splicing = false;
      ArmRecv(u);
      return;
    }
    break;
  }
  ArmSpliceIn(u);
}

void WorkerImpl::OnSpliceIn(UpstreamConn* u, int res) {
  --u->inflight;
  u->splice_armed = false;
  if (u->closing || !u->splicing) return;
  if (res < 0) {
    UpstreamEof(u, res);
    return;
  }
  if (u->recv_paused) return;  // (resumed by the client's progress: ArmRecv polls again)
  SpliceIn(u);                 // readable, or an error or end of stream the splice reports
}

// The client's queue starts with bytes in the pipe: one non-blocking splice to the socket.
// Its result reaches OnSend through a no-op completion (so the exchange moves on from the
// completion loop, as after any send); a full socket arms a poll for room instead.
void WorkerImpl::SpliceOut(Conn* c) {
  auto* cc = static_cast<ClientConn*>(c);
  SplicePipe* p = cc->pipe;
  const SendPiece f = c->sendq.Front();
  io_uring_sqe* sqe = ring_.GetSqe();
  if (p == nullptr || f.len > p->bytes) {
    // The queue and the pipe disagree: never send what may not be this response's bytes.
    RW_LOG(LogLevel::kError, "client %s: splice pipe holds %u bytes, queue expects %u; reset",
           cc->peer_ip, p ? p->bytes : 0, f.len);
    c->splice_res = -EIO;
    io_uring_prep_nop(sqe);
  } else {
    ssize_t n;
    do {
      n = splice(p->r, nullptr, c->fd, nullptr, f.len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    } while (n < 0 && errno == EINTR);
    if (n > 0) {
      p->bytes -= static_cast<uint32_t>(n);
      c->splice_woke = false;
      c->splice_res = static_cast<int32_t>(n);
      io_uring_prep_nop(sqe);
    } else if (n < 0 && errno == EAGAIN) {
      if (c->splice_woke) {
        // Said writable, yet full (TCP memory pressure can do that): polling again could
        // spin, so the next try comes after a short wait instead.
        io_uring_prep_timeout(sqe, &splice_retry_ts_, 0, 0);
      } else {
        io_uring_prep_poll_add(sqe, c->fd, POLLOUT);
      }
      c->splice_woke = false;
      c->splice_poll = true;
    } else {
      c->splice_res = n == 0 ? -EPIPE : -errno;
      io_uring_prep_nop(sqe);
    }
  }
  io_uring_sqe_set_data64(sqe, Tag(c, Op::kSend));
  c->sending = true;
  ++c->inflight;
}

}  // namespace ringway::proxy
