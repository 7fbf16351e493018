// Large response bodies spliced: backend socket -> pipe -> client socket, with splice(2) from
// the worker's thread, driven by readiness from the ring. The bytes never reach user space:
// the kernel moves page references instead of copying twice (about a third of the CPU of a
// receive and a send per 64 KiB on this kernel; docs/design.md, "Splice").
//
// Only where nothing has to read the bytes: a plain HTTP/1 backend answering with a
// Content-Length body to a plain HTTP/1 client or, with buffers.splice_h2 on, an h2c stream
// (SpliceIn: the bytes are framed as DATA as they enter the pipe; off by default, since each
// 16 KiB frame then costs two system calls), with at least buffers.splice bytes of it left once
// the head is parsed. Everything else (TLS on either side, HTTP/2 backends, chunked, bodies of
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
// The client side: SubmitSend finds a pipe piece first in the queue, or after a few bytes, and
// sends from the pipe to the socket (SpliceOut); its result comes back through OnSend like any
// send's, so the send deadline, backpressure, the end of the exchange and pipelining work
// unchanged.
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
  if (c->h2) {
    for (const auto& [id, s] : c->h2->streams) {
      if (s->ex.up && s->ex.up->splicing) return;
    }
  } else if (ExUp(c) && ExUp(c)->splicing) {
    return;
  }
  ReleasePipe(c);
}

bool WorkerImpl::SpliceEligible(const UpstreamConn* u) const {
  const Exchange* ex = u->ex;
  const uint64_t min = cfg_->buffers.splice;
  if (min == 0 || ex == nullptr || u->splicing || u->closing) return false;
  if (u->kind != ConnKind::kH1Client || u->tls || u->state != UpState::kBody) return false;
  if (u->body != BodyKind::kContentLength || u->left < min) return false;
  const ClientConn* c = ex->client;
  if (c->tls || c->closing || ex->resp != RespState::kStreaming) return false;
  if (ex->stream != nullptr) {  // h2c: the stream's DATA frames carry the spliced bytes
    if (!cfg_->buffers.splice_h2) return false;
    const H2Stream* s = ex->stream;
    if (c->kind != ConnKind::kH2Server || !c->h2 || c->h2->failed) return false;
    if (s->finished || s->tunnel || !s->head_sent || s->end_sent) return false;
  } else if (c->kind != ConnKind::kH1Server || c->h2) {
    return false;
  }
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
// up, ClientCaughtUp), or with the body done or failed. Called on a readiness poll's
// completion.
//
// To an h2c stream the bytes go as DATA frames (H2FramePipe), so each splice moves no more
// than the stream's and connection's windows allow and is framed at once: no spliced byte
// waits for a window, and the pipe's order is always the queue's. While the client keeps a
// window shut the body stays in the backend's socket (the stream's send deadline runs, as for
// data in `pending`). Bytes received before the splice began (in `pending`) go first; H2Pump
// resumes the backend once they are out.
void WorkerImpl::SpliceIn(UpstreamConn* u) {
  Exchange* ex = u->ex;
  ClientConn* c = ex->client;
  H2Stream* s = ex->stream;
  SplicePipe* p = c->pipe;
  if (s != nullptr && (p == nullptr || s->finished || c->closing || c->h2->failed)) {
    u->splicing = false;  // (not expected) the rest is received
    ArmRecv(u);
    return;
  }
  for (int i = 0; i < 4; ++i) {
    const uint64_t used = Charged(c);
    uint64_t room = std::min<uint64_t>(p->cap - std::min(p->cap, p->bytes),
                                       used < high_water_ ? high_water_ - used : 0);
    if (s != nullptr) {
      if (!s->pending.empty()) {
        ThrottleUpstream(u);
        return;
      }
      const uint32_t frame = c->h2->session.SendableBytes(s->id);  // 0 arms OnSendWindow
      if (frame == 0) {
        if (s->stalled_ms == 0) s->stalled_ms = now_ms_;
        ThrottleUpstream(u);
        return;
      }
      // Each frame is two pieces of the queue (its header, its payload).
      const size_t pieces = c->sendq.pieces();
      const uint64_t frames = pieces < kMaxQueuedPieces ? (kMaxQueuedPieces - pieces) / 2 : 0;
      room = std::min<uint64_t>({room, c->h2->session.SendWindow(s->id), frames * frame});
    }
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
      if (s == nullptr) {
        c->sendq.PushPipe(static_cast<uint32_t>(n));
      } else {
        s->stalled_ms = 0;
        if (!H2FramePipe(s, static_cast<uint32_t>(n), u->left == 0)) {
          // The pipe holds bytes no frame announces: the connection cannot go on.
          RW_LOG(LogLevel::kError, "client %s: stream %u: spliced bytes could not be framed; reset",
                 c->peer_ip, s->id);
          ResetConn(c);
          return;
        }
      }
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
    // Readable, yet nothing to splice: TCP urgent data at the read point (a splice stops at
    // its mark, a poll keeps saying readable, and polling again would spin). The rest of the
    // body is received instead, which reads past the mark. Asked directly, since the pipe may
    // hold other bytes (an h2c connection's other streams).
    int at_mark = 0;
    if (i == 0 && ioctl(u->fd, SIOCATMARK, &at_mark) == 0 && at_mark != 0) {
      u->splicing = false;
      ArmRecv(u);
      return;
    }
    // Nothing to read, or the pipe has no free slot (a slot per page run, whatever its
    // bytes): with bytes in the pipe, wait for the client to take some, else for the socket.
    if (p->bytes > 0) {
      ThrottleUpstream(u);
      return;
    }
    if (i == 0) {  // readable, yet nothing came into an empty pipe: as for urgent data
      u->splicing = false;
      ArmRecv(u);
      return;
    }
    break;
  }
  ArmSpliceIn(u);
}

// `n` bytes just spliced for stream `s` become DATA frames of at most the peer's frame size,
// within the windows SendableBytes reported before the splice. False: a frame could not be
// made (the session failed or the stream ended meanwhile, which the caller ruled out).
bool WorkerImpl::H2FramePipe(H2Stream* s, uint32_t n, bool end) {
  ClientConn* c = s->ex.client;
  H2State* h = c->h2.get();
  char hdr[h2::kFrameHeaderSize];
  H2Flush(c);  // frames the session queued go first
  uint32_t off = 0;
  while (off < n) {
    const uint32_t k = std::min(n - off, h->session.SendableBytes(s->id));
    if (k == 0) return false;
    const bool last = end && off + k == n;
    if (!h->session.PrepareData(s->id, k, last, hdr)) return false;
    Queue(c, hdr, sizeof(hdr), -1);
    c->sendq.PushPipe(k);
    off += k;
  }
  if (end) s->end_sent = true;
  return true;
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

// The client's queue has bytes in the pipe next, perhaps after a few bytes (a response head,
// an HTTP/2 frame header): those go by a direct send, then one non-blocking splice moves the
// pipe's bytes, and so on while the queue goes on in such pairs (HTTP/2 DATA frames: a header,
// then its payload in the pipe) and the socket takes all. All but the last call say more
// follows (MSG_MORE, SPLICE_F_MORE), so TCP fills whole segments. The bytes sent reach OnSend
// through a no-op completion (so the exchange moves on from the completion loop, as after any
// send); a socket full from the start arms a poll for room instead.
void WorkerImpl::SpliceOut(Conn* c) {
  auto* cc = static_cast<ClientConn*>(c);
  SplicePipe* p = cc->pipe;
  size_t sent = 0;
  int err = 0;
  int at = 0;  // pieces past the front that this call has sent
  iovec iov[SendQueue::kMaxIov];
  for (int round = 0; round < kSpliceRounds; ++round) {
    const int m = c->sendq.GatherFrom(at, iov);
    const uint32_t want = c->sendq.PipeAt(at + m);
    size_t prefix = 0;
    for (int k = 0; k < m; ++k) prefix += iov[k].iov_len;
    if (want == 0 || prefix > kSplicePrefix) break;  // the rest goes by the usual send
    if (p == nullptr || want > p->bytes) {
      // The queue and the pipe disagree: never send what may not be this response's bytes.
      RW_LOG(LogLevel::kError, "client %s: splice pipe holds %u bytes, queue expects %u; reset",
             cc->peer_ip, p ? p->bytes : 0, want);
      err = EIO;
      sent = 0;
      break;
    }
    if (prefix > 0) {
      msghdr msg{};
      msg.msg_iov = iov;
      msg.msg_iovlen = static_cast<size_t>(m);
      ssize_t r;
      do {
        r = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT | MSG_MORE);
      } while (r < 0 && errno == EINTR);
      if (r < 0) {
        err = errno;
        break;
      }
      sent += static_cast<size_t>(r);
      if (static_cast<size_t>(r) < prefix) break;
    }
    const bool more = c->sendq.pieces() > static_cast<size_t>(at + m + 1);
    ssize_t n;
    do {
      n = splice(p->r, nullptr, c->fd, nullptr, want,
                 SPLICE_F_MOVE | SPLICE_F_NONBLOCK | (more ? SPLICE_F_MORE : 0));
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
      err = n == 0 ? EPIPE : errno;
      break;
    }
    p->bytes -= static_cast<uint32_t>(n);
    sent += static_cast<size_t>(n);
    if (static_cast<uint32_t>(n) < want) break;
    at += m + 1;
  }
  io_uring_sqe* sqe = ring_.GetSqe();
  if (sent > 0) {
    c->splice_woke = false;
    c->splice_res = static_cast<int32_t>(sent);
    io_uring_prep_nop(sqe);
  } else if (err == EAGAIN) {
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
    c->splice_res = -(err != 0 ? err : EIO);
    io_uring_prep_nop(sqe);
  }
  io_uring_sqe_set_data64(sqe, Tag(c, Op::kSend));
  c->sending = true;
  ++c->inflight;
}

}  // namespace ringway::proxy
