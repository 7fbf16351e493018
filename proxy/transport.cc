// Bytes on the ring, for any connection: receives sized to the room in the queue they feed,
// batched sends, TLS records, backpressure between the two sides, closing.
#include "proxy/worker_impl.h"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ringway::proxy {

void WorkerImpl::ArmRecv(Conn* c) {
  if (c->recv_armed || c->recv_paused || c->closing || c->starved || c->read_eof) return;
  if (c->splicing) {  // a backend whose body is spliced: a poll, then splices (splice.cc)
    ArmSpliceIn(static_cast<UpstreamConn*>(c));
    return;
  }
  uint32_t limit = RecvLimit(c);
  if (c->upstream && static_cast<UpstreamConn*>(c)->ex != nullptr) {
    auto* u = static_cast<UpstreamConn*>(c);
    limit = ClientRecvLimit(u->ex, u, limit);
  }
  // A backend whose last response was spliced reads its next head alone: one receive of a
  // few KiB, which ends by itself and leaves the body in the socket for the splice.
  bool head_only = false;
  if (c->splice_hint && c->kind == ConnKind::kH1Client) {
    const UpState st = static_cast<UpstreamConn*>(c)->state;
    head_only = st != UpState::kBody && st != UpState::kTunnel;
    if (head_only) limit = std::min(limit, kSpliceHeadRead);
  }
  if (limit == 0) {
    // The client side has no room for more of this response yet: the read waits, paused, and
    // so does the response timer (the wait is not the backend's) until it makes room.
    c->recv_paused = true;
    DisarmTimer(c);
    return;
  }
  c->recv_limit = limit;
  io_uring_sqe* sqe = ring_.GetSqe();
  if (head_only) {
    ring_.PrepRecvOnce(sqe, c->fd, limit);
  } else {
    ring_.PrepRecv(sqe, c->fd, limit);
  }
  io_uring_sqe_set_data64(sqe, Tag(c, Op::kRecv));
  c->recv_armed = true;
  ++c->inflight;
}

// The most a receive on `c` may take before it ends and is re-armed: what the queue it feeds
// can still take below the high-water mark (at least one buffer). Together with the check
// after every completion (Backlogged) this bounds what one peer makes the worker hold: a
// queue reaches at most the high-water mark plus one receive's worth.
uint32_t WorkerImpl::RecvLimit(const Conn* c) const {
  const Conn* dest = nullptr;
  uint64_t room = high_water_;
  if (c->upstream) {
    {
      const Exchange* ex = static_cast<const UpstreamConn*>(c)->ex;
      dest = ex ? ex->client : nullptr;
    }
    // A pooled connection's receive is sized for an empty queue: the next response then
    // streams without a re-arm. A client whose queue is not empty when it takes the
    // connection has the receive cancelled and re-armed for its room (ConnectUpstream).
  } else {
    // A client's bytes may have to wait in its arena (a head, pipelined requests): never
    // more than the arena's limit.
    auto* cc = static_cast<const ClientConn*>(c);
    dest = ExUp(cc);
    const uint64_t max = cfg_->limits.max_header_size;
    room = cc->in.size() < max ? max - cc->in.size() : 0;
  }
  if (dest) {
    const uint64_t used = Charged(dest);
    room = std::min(room, used < high_water_ ? high_water_ - used : 0);
  }
  return static_cast<uint32_t>(std::max<uint64_t>(room, ring_.buffer_size()));
}

void WorkerImpl::PauseRecv(Conn* c) {
  if (c->recv_paused) return;
  c->recv_paused = true;
  if (c->recv_armed) {
    io_uring_sqe* sqe = ring_.GetSqe();
    io_uring_prep_cancel64(sqe, Tag(c, Op::kRecv), 0);
    io_uring_sqe_set_data64(sqe, Tag(nullptr, Op::kIgnore));
  }
}

// Reading resumes unless the connection still has reasons to wait: for a client, queued
// responses over the bound (pipeline_wait) or a full arena of requests not yet started.
void WorkerImpl::ResumeRecv(Conn* c) {
  if (!c->recv_paused) return;
  if (!c->upstream && !ClientMayRead(static_cast<ClientConn*>(c))) return;
  c->recv_paused = false;
  ArmRecv(c);
}

void WorkerImpl::FlushSends() {
  for (size_t i = 0; i < to_send_.size(); ++i) {  // SubmitSend never grows the list
    Conn* c = to_send_[i];
    c->send_scheduled = false;
    SubmitSend(c);
  }
  to_send_.clear();
}

void WorkerImpl::SubmitSend(Conn* c) {
  if (c->sending || c->closing || Idle(c)) return;
  if (c->upstream && !static_cast<UpstreamConn*>(c)->tcp_connected) return;
  if (c->tls) {
    // Plaintext waits for the handshake; then it is sealed in one batch per send.
    if (c->tls->out_pending() == 0 && c->tls->handshake_done() && !c->sendq.empty()) {
      if (!EncryptQueue(c)) return;
    }
    if (c->tls->out_pending() == 0) return;
    std::string_view bytes = c->tls->NextSend();
    io_uring_sqe* sqe = ring_.GetSqe();
    io_uring_prep_send(sqe, c->fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, Tag(c, Op::kSend));
    c->sending = true;
    ++c->inflight;
    return;
  }
  if (c->sendq.FrontIsPipe()) {  // bytes spliced from a backend wait in the pipe
    SpliceOut(c);
    return;
  }
  int n = c->sendq.Gather(iov_scratch_);
  if (c->sendq.PipeAt(n) != 0) {
    // A few bytes (a response head, an HTTP/2 frame header) just before spliced ones: both go
    // in this turn, the bytes by a direct send that tells TCP more follows.
    size_t prefix = 0;
    for (int i = 0; i < n; ++i) prefix += iov_scratch_[i].iov_len;
    if (prefix <= kSplicePrefix) {
      SpliceOut(c);
      return;
    }
  }
  io_uring_sqe* sqe = ring_.GetSqe();
  if (n == 1) {
    io_uring_prep_send(sqe, c->fd, iov_scratch_[0].iov_base, iov_scratch_[0].iov_len, MSG_NOSIGNAL);
  } else {
    // The gather list must stay put until the send completes: lent to it until OnSend.
    if (!send_vecs_.empty()) {
      c->vec = std::move(send_vecs_.back());
      send_vecs_.pop_back();
    } else {
      c->vec = std::make_unique<SendVec>();
    }
    std::copy(iov_scratch_, iov_scratch_ + n, c->vec->iov);
    c->vec->msg = msghdr{};
    c->vec->msg.msg_iov = c->vec->iov;
    c->vec->msg.msg_iovlen = static_cast<size_t>(n);
    io_uring_prep_sendmsg(sqe, c->fd, &c->vec->msg, MSG_NOSIGNAL);
  }
  io_uring_sqe_set_data64(sqe, Tag(c, Op::kSend));
  c->sending = true;
  ++c->inflight;
}

// Seals queued plaintext into TLS records (in the session's output) and releases the
// pieces. Small pieces (a head, a short body) are gathered into one record; large ones are
// written as they are. After a second of quiet the first 16 KiB go out in records that fit
// one TCP segment, so the client can decrypt the first bytes of a response before the rest
// arrive; busy connections get full 16 KiB records. False: the session failed (closed).
bool WorkerImpl::EncryptQueue(Conn* c) {
  tls::Session& t = *c->tls;
  if (now_ms_ - c->tls_last_send_ms > kTlsIdleMs) c->tls_small = kTlsSmallBytes;
  c->tls_last_send_ms = now_ms_;
  size_t done = 0;
  std::string& gather = tls_gather_;
  gather.clear();
  auto write = [&](const char* p, size_t n) {
    while (n > 0 && c->tls_small > 0) {
      const size_t k = std::min<size_t>({n, kTlsSmallRecord, c->tls_small});
      if (!t.Write(p, k)) return false;
      c->tls_small -= static_cast<uint32_t>(k);
      p += k;
      n -= k;
    }
    return n == 0 || t.Write(p, n);
  };
  int pieces = c->sendq.Gather(iov_scratch_);
  bool ok = true;
  for (int i = 0; i < pieces && ok && done < kTlsBatch; ++i) {
    const char* p = static_cast<const char*>(iov_scratch_[i].iov_base);
    const size_t n = iov_scratch_[i].iov_len;
    if (n < kTlsGatherPiece && gather.size() + n <= kTlsRecord) {
      gather.append(p, n);
    } else {
      if (!gather.empty()) ok = write(gather.data(), gather.size());
      gather.clear();
      if (ok) ok = write(p, n);
    }
    done += n;
  }
  if (ok && !gather.empty()) ok = write(gather.data(), gather.size());
  gather.clear();
  c->sendq.Advance(done, [&](const SendPiece& p) { ReleasePiece(p); });
  if (!ok) {
    RW_LOG(LogLevel::kDebug, "TLS write failed: %s", t.ErrorText().c_str());
    ResetConn(c);
    return false;
  }
  return true;
}

// Ciphertext read from a TLS connection: drive the handshake, then decrypt into the same
// provided buffer (the ciphertext was copied into the session first) and hand the plaintext
// on as if it had been read from a plain socket. Plaintext beyond one buffer goes through
// the scratch buffer and is copied by whoever keeps it.
//
// A client's costly handshake steps (its first bytes, a ClientHello: key exchange and
// signature, hundreds of microseconds; a second ClientHello after a HelloRetryRequest; TLS
// 1.2's ClientKeyExchange) are not run here but queued for the end of the turn (RunHellos),
// one per turn: requests and responses of connections already established go first, instead
// of waiting behind every handshake that arrived with them.
void WorkerImpl::TlsInput(Conn* c, char* data, size_t n, uint16_t bid) {
  tls::Session& t = *c->tls;
  t.Feed(data, n);
  if (!t.handshake_done()) {
    if (!c->upstream && (!c->tls_hello_answered || t.KeyExchangeNext())) {
      ring_.Return(bid);
      if (t.in_pending() > kTlsHelloInputLimit) {  // it should be waiting for our answer
        RW_LOG(LogLevel::kDebug, "TLS client sent %zu bytes before its hello was answered; cut",
               t.in_pending());
        ResetConn(c);
        return;
      }
      if (!c->tls_hello_queued) {
        c->tls_hello_queued = true;
        ++c->inflight;  // not freed while queued
        hellos_.push_back(c);
      }
      return;
    }
    if (!TlsHandshakeStep(c)) {
      ring_.Return(bid);
      return;
    }
  }
  TlsRead(c, data, bid);
}

bool WorkerImpl::TlsHandshakeStep(Conn* c) {
  tls::Session& t = *c->tls;
  tls::Session::Result r = t.Handshake();
  if (r != tls::Session::Result::kWantMore || t.out_pending() > 0) c->tls_hello_answered = true;
  Send(c);  // handshake records
  if (r == tls::Session::Result::kError || r == tls::Session::Result::kClosed) {
    TlsFailed(c, r == tls::Session::Result::kClosed ? "closed by the peer" : t.ErrorText().c_str());
    return false;
  }
  if (!t.handshake_done()) return false;
  TlsEstablished(c);
  return !c->closing;
}

void WorkerImpl::RunHellos() {
  while (!hellos_.empty()) {
    Conn* c = hellos_.front();
    hellos_.pop_front();
    c->tls_hello_queued = false;
    --c->inflight;
    if (c->closing) continue;
    if (TlsHandshakeStep(c)) TlsRead(c, nullptr, -1);
    break;
  }
}

void WorkerImpl::TlsRead(Conn* c, char* data, int32_t bid) {
  tls::Session& t = *c->tls;
  const size_t cap = ring_.buffer_size();
  size_t used = 0;
  bool handed = data == nullptr;  // `data` (and bid) went to the input handler
  for (;;) {
    if (c->closing) break;
    char* out = handed ? tls_scratch_.data() : data + used;
    const size_t room = handed ? tls_scratch_.size() : cap - used;
    size_t got = 0;
    tls::Session::Result r = t.Read(out, room, &got);
    if (r == tls::Session::Result::kOk) {
      if (handed) {
        PlainInput(c, out, got, -1);
      } else {
        used += got;
        if (used == cap) {
          handed = true;
          PlainInput(c, data, used, bid);
        }
      }
      continue;
    }
    if (!handed) {
      handed = true;
      if (used > 0) {
        PlainInput(c, data, used, bid);
      } else {
        ring_.Return(static_cast<uint16_t>(bid));
      }
    }
    if (c->closing) break;
    if (r == tls::Session::Result::kWantMore) break;
    if (r == tls::Session::Result::kClosed) {
      PlainEof(c, 0, /*close_notify=*/true);
    } else {
      RW_LOG(LogLevel::kDebug, "TLS read failed: %s", t.ErrorText().c_str());
      PlainEof(c, -ECONNRESET);
    }
    break;
  }
  if (!handed) ring_.Return(static_cast<uint16_t>(bid));  // closed before anything was handed on
  if (c->closing) return;
  // Records the reads produced (alerts, key-update replies). A peer that makes us write
  // (say, key updates by the thousand) while it reads nothing would grow this without
  // bound: past a limit that no honest peer reaches, the connection is cut.
  if (t.out_pending() > kTlsOutLimit) {
    RW_LOG(LogLevel::kDebug, "TLS peer made %zu bytes of records it does not read; cut",
           t.out_pending());
    ResetConn(c);
    return;
  }
  Send(c);
}

// Bytes and ends of stream as the HTTP code sees them: read from a plain socket, or
// decrypted.
void WorkerImpl::PlainInput(Conn* c, char* p, size_t n, int32_t bid) {
  switch (c->kind) {
    case ConnKind::kH1Client:
      UpstreamInput(static_cast<UpstreamConn*>(c), p, n, bid);
      break;
    case ConnKind::kH1Server:
      ClientInput(static_cast<ClientConn*>(c), p, n, bid);
      break;
    case ConnKind::kH2Server:
      H2Input(static_cast<ClientConn*>(c), p, n, bid);
      break;
    case ConnKind::kH2Client:
      H2UpInput(static_cast<UpstreamConn*>(c), p, n, bid);
      break;
  }
}

// res: 0 for an orderly end (FIN, or with close_notify a TLS close), else -errno.
void WorkerImpl::PlainEof(Conn* c, int res, bool close_notify) {
  if (c->closing) return;
  switch (c->kind) {
    case ConnKind::kH1Client:
      UpstreamEof(static_cast<UpstreamConn*>(c), res);
      break;
    case ConnKind::kH1Server:
      ClientEof(static_cast<ClientConn*>(c), res == 0 && !close_notify);
      break;
    case ConnKind::kH2Server:  // an HTTP/2 client ends with GOAWAY; its FIN ends everything
      CloseConn(c);
      break;
    case ConnKind::kH2Client:
      H2UpEof(static_cast<UpstreamConn*>(c), res);
      break;
  }
}

void WorkerImpl::TlsEstablished(Conn* c) {
  if (!c->upstream) {
    if (metrics_on_) {
      metrics_->tls_handshakes[c->tls->version() == "TLSv1.3"][c->tls->resumed()].Add();
    }
    RW_LOG(LogLevel::kDebug, "client %s: %.*s %s%s", static_cast<ClientConn*>(c)->peer_ip,
           static_cast<int>(c->tls->version().size()), c->tls->version().data(),
           c->tls->resumed() ? "resumed" : "full handshake",
           c->tls->alpn().empty() ? "" : " with ALPN");
    auto* cc = static_cast<ClientConn*>(c);
    if (c->tls->alpn() == "h2" && cc->rt->snap->config.listeners[cc->listener].http2) StartH2(cc);
    return;
  }
  UpstreamReady(static_cast<UpstreamConn*>(c));  // the request waited for the handshake
}

void WorkerImpl::TlsFailed(Conn* c, const char* why) {
  if (c->closing) return;
  if (c->upstream) {
    auto* u = static_cast<UpstreamConn*>(c);
    RW_LOG(LogLevel::kWarn, "upstream %s: TLS handshake failed: %s", BackendName(u), why);
    UpstreamFailed(u, 502);  // not connected: counts as a failed connect, retried
    return;
  }
  RW_LOG(LogLevel::kDebug, "client %s: TLS handshake failed: %s",
         static_cast<ClientConn*>(c)->peer_ip, why);
  if (metrics_on_) metrics_->tls_failed.Add();
  // The alert that says why (protocol_version, handshake_failure, ...) goes out before the
  // close. It is a few bytes on a socket with nothing else queued, so one non-blocking send
  // outside the ring takes it; with a send still in flight it would overtake that, so then
  // the alert is dropped.
  if (!c->sending && c->tls->out_pending() > 0) {
    std::string_view bytes = c->tls->NextSend();
    ssize_t w = ::send(c->fd, bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    (void)w;
  }
  CloseConn(c);
}

void WorkerImpl::OnRecv(Conn* c, int res, uint32_t flags) {
  if (c->upstream && static_cast<UpstreamConn*>(c)->ex != nullptr) {
    ClientRecvDone(static_cast<UpstreamConn*>(c)->ex, res > 0, !(flags & IORING_CQE_F_MORE));
  }
  if (!(flags & IORING_CQE_F_MORE)) {
    c->recv_armed = false;
    --c->inflight;
  }
  if (res > 0) {
    uint16_t bid = static_cast<uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
    ring_.NoteLent(bid);
    if (!c->upstream && metrics_on_) {
      LSeries(static_cast<ClientConn*>(c)).bytes_in.Add(static_cast<uint64_t>(res));
    }
    if (c->closing) {
      ring_.Return(bid);
      return;
    }
    char* data = ring_.BufferData(bid);
    if (c->tls) {
      TlsInput(c, data, static_cast<size_t>(res), bid);
    } else {
      PlainInput(c, data, static_cast<size_t>(res), bid);
    }
  } else if (res == -ENOBUFS) {
    // The kernel's ring is empty: the receive waits for the next top-up (RearmStarved), its
    // bytes in the socket. Past the reserve's turn-by-turn emptying, the ceiling may be
    // reached: every buffer is in use.
    if (ring_.provided() == ring_.buffer_count()) {
      RW_LOG(LogLevel::kDebug, "worker %u: provided buffers exhausted; receive waits", index_);
    }
    if (!c->closing && !c->starved) {
      c->starved = true;
      starved_.push_back(c);
      ++c->inflight;  // the starved list refers to it
    }
    return;
  } else if (res == -ECANCELED || res == -EAGAIN) {
    // Paused for backpressure, or closing; or (-EAGAIN) nothing read on a non-blocking socket.
  } else if (!c->closing) {
    PlainEof(c, res);  // 0: orderly close by the peer; < 0: reset or another error
    return;
  }
  if (!c->recv_armed && !c->closing) {
    ArmRecv(c);
    if (res > 0 && (flags & IORING_CQE_F_SOCK_NONEMPTY) && c->recv_armed) {
      rearmed_with_data_ = true;
    }
  }
}

// Re-arms receives that found the ring empty, in the order they found it so, as many as
// there are buffers in the ring (each takes one at least): the others wait for the next
// turn, instead of all finding it empty again. A closing connection leaves the list at once:
// it must not hold its buffers (and so everyone's) while it waits.
void WorkerImpl::RearmStarved() {
  ring_.Publish();
  if (starved_.empty()) return;
  uint32_t buffers = ring_.available();
  size_t keep = 0;
  for (Conn* c : starved_) {
    if (!c->closing) {
      if (buffers == 0) {
        starved_[keep++] = c;
        continue;
      }
      --buffers;
    }
    --c->inflight;
    c->starved = false;
    if (!c->closing) ArmRecv(c);
  }
  starved_.resize(keep);
}

void WorkerImpl::OnSend(Conn* c, int res) {
  --c->inflight;
  c->sending = false;
  if (c->splice_poll) {  // the socket has room again for what waits in the pipe
    c->splice_poll = false;
    if (c->closing) return;
    if (res < 0 && res != -ETIME) {  // (-ETIME: SpliceOut's wait after a poll said writable)
      CloseConn(c);
      return;
    }
    c->splice_woke = res > 0;
    Send(c);
    return;
  }
  if (c->splice_res != 0) {  // the splice done in SpliceOut: its result, as a send's
    res = c->splice_res;
    c->splice_res = 0;
  }
  if (c->vec) {
    if (send_vecs_.size() < kSpareSendVecs) send_vecs_.push_back(std::move(c->vec));
    c->vec.reset();
  }
  if (c->closing) return;
  if (res == -EAGAIN) {
    // A non-blocking socket (made so for splicing) whose send the kernel ran from its worker
    // threads: nothing was sent; the same bytes go again.
    Send(c);
    return;
  }
  if (res < 0) {
    if (c->upstream) {
      UpstreamEof(static_cast<UpstreamConn*>(c), res);
    } else {
      CloseConn(c);  // the client went away; CloseConn drops its upstream side too
    }
    return;
  }
  if (!c->upstream && metrics_on_) {
    LSeries(static_cast<ClientConn*>(c)).bytes_out.Add(static_cast<uint64_t>(res));
  }
  if (c->tls) {
    c->tls->OutSent(static_cast<size_t>(res));
  } else {
    c->sendq.Advance(static_cast<size_t>(res), [&](const SendPiece& p) { ReleasePiece(p); });
    if (!c->upstream && static_cast<ClientConn*>(c)->pipe) SpliceSent(static_cast<ClientConn*>(c));
  }
  if (!c->upstream && res > 0) ClientSent(static_cast<ClientConn*>(c));
  if (!Idle(c)) Send(c);
  if (c->upstream && !c->recv_paused) {
    // Progress uploading the request counts as progress for the response timer.
    auto* u = static_cast<UpstreamConn*>(c);
    if (u->kind == ConnKind::kH1Client &&
        (u->state == UpState::kHead || u->state == UpState::kBody)) {
      ArmTimer(u, kTimerResponse);
    }
  }
  // Backpressure: let the other side read again once this queue has drained enough.
  if (Drained(c)) {
    if (c->upstream) {
      auto* u = static_cast<UpstreamConn*>(c);
      DisarmSendTimer(u);  // a tunnel's backend caught up
      if (u->ex) ClientUpstreamDrained(u->ex);
      if (u->h2) H2UpDrained(u);
    } else {
      ClientCaughtUp(static_cast<ClientConn*>(c));
    }
  }
  if (!c->upstream && Idle(c)) ClientDrained(static_cast<ClientConn*>(c));
  if (c->upstream && Idle(c)) UpstreamDrained(static_cast<UpstreamConn*>(c));
}

// Queues bytes on `to`. With bid >= 0 the buffer goes with them (zero copy) unless they are
// few: those are copied onto the string queued before them (a head, usually) or into a new
// pooled string, and the buffer goes back to the ring at once. A short body then leaves in
// one piece with its head, and a buffer is never pinned for a handful of bytes. Returns
// whether the buffer was taken.
bool WorkerImpl::Queue(Conn* to, const char* p, size_t n, int32_t bid) {
  bool taken = false;
  if (bid >= 0 && n > kCopyBelow) {
    to->sendq.Push({p, static_cast<uint32_t>(n), bid, nullptr, ring_.buffer_size()});
    taken = true;
  } else if (!((!to->sending || to->tls) && n <= kCopyBelow &&
               to->sendq.AppendToTail(p, n, StringCharge))) {
    std::string* s = AcquireString();
    s->assign(p, n);
    to->sendq.Push({s->data(), static_cast<uint32_t>(n), -1, s, StringCharge(*s)});
  }
  Send(to);
  return taken;
}

// Closes with a reset: the kernel drops whatever is still queued on the socket instead of
// holding it for a peer that is not reading, and the peer sees an abort, not a clean end.
void WorkerImpl::ResetConn(Conn* c) {
  if (c->closing) return;
  linger lg{1, 0};
  setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  CloseConn(c);
}

void WorkerImpl::CloseConn(Conn* c) {
  if (c->closing) return;
  c->closing = true;
  DisarmTimer(c);
  DisarmSendTimer(c);
  if (!c->upstream) {
    auto* cc = static_cast<ClientConn*>(c);
    // An HTTP/1 request cut before its response ended (the client went away, a deadline)
    // gets its log line and count here: status 0 if no response head had gone out.
    if (!cc->h2 && (ExResp(cc) == RespState::kWaiting || ExResp(cc) == RespState::kStreaming ||
                    ExResp(cc) == RespState::kTunnel)) {
      WriteAccessLog(cc->ex);
      cc->ex->resp = RespState::kDone;
    }
    if (cc->ex) AbortAttempt(cc->ex);
    ReleasePipe(cc);  // (splices are never in the kernel's hands: the pipe can go now)
    if (cc->h2) H2DropStreams(cc);
    --live_clients_;
    if (metrics_on_) LSeries(cc).closed[cc->proto].Add();
  } else {
    auto* u = static_cast<UpstreamConn*>(c);
    EndAttempt(u, u->got_bytes ? AttemptEnd::kOk : AttemptEnd::kCancel);
    if (u->pooled) PoolRemove(u);
    if (u->h2) H2UpClosed(u);
    u->splicing = false;
    if (u->ex) {
      u->ex->up = nullptr;
      u->ex = nullptr;
    }
  }
  // Queued pieces go back now (buffers to the ring) unless a send still holds them.
  if (!c->sending || c->tls) c->sendq.Clear([&](const SendPiece& p) { ReleasePiece(p); });
  // Ending the kernel's operations on the socket. The usual case is one armed receive, and
  // shutdown(SHUT_RD) ends it in O(1): it completes with 0 and nothing is sent to the peer
  // (what close() later sends, FIN or RST, is as before). A cancellation by descriptor walks
  // every armed receive of the ring, which with 10,000 idle connections made each close cost
  // more than a request; it is kept for what shutdown does not end (a send waiting for room, a
  // connect).
  const bool connected = !c->upstream || static_cast<UpstreamConn*>(c)->tcp_connected;
  if ((c->recv_armed || c->splice_armed) && !c->sending && connected &&
      shutdown(c->fd, SHUT_RD) == 0) {
    // (its completion comes; inflight holds the connection until then)
  } else if (c->recv_armed || c->splice_armed || c->sending || c->inflight > 0) {
    io_uring_sqe* sqe = ring_.GetSqe();
    io_uring_prep_cancel_fd(sqe, c->fd, IORING_ASYNC_CANCEL_ALL);
    io_uring_sqe_set_data64(sqe, Tag(nullptr, Op::kIgnore));
  }
  closing_.push_back(c);
}

}  // namespace ringway::proxy
