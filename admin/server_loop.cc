#include <arpa/inet.h>
#include <liburing.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <future>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "admin/json.h"
#include "admin/server_loop.h"
#include "core/log.h"
#include "core/ring.h"
#include "core/socket.h"
#include "core/thread_name.h"
#include "core/timer.h"
#include "proto/http1_parser.h"
#include "proto/http1_writer.h"

namespace ringway::admin {

using core::LogLevel;

namespace {

bool IsLoopback(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) {
    return (ntohl(reinterpret_cast<const sockaddr_in&>(ss).sin_addr.s_addr) >> 24) == 127;
  }
  if (ss.ss_family == AF_INET6) {
    const in6_addr& a = reinterpret_cast<const sockaddr_in6&>(ss).sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(&a) || (IN6_IS_ADDR_V4MAPPED(&a) && a.s6_addr[12] == 127);
  }
  return ss.ss_family == AF_UNIX;
}

}  // namespace

std::string FormatAddress(const sockaddr* a, socklen_t len) {
  char buf[INET6_ADDRSTRLEN] = "";
  if (a->sa_family == AF_INET && len >= sizeof(sockaddr_in)) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(a);
    inet_ntop(AF_INET, &in->sin_addr, buf, sizeof(buf));
    return absl::StrCat(buf, ":", ntohs(in->sin_port));
  }
  if (a->sa_family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(a);
    inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof(buf));
    return absl::StrCat("[", buf, "]:", ntohs(in6->sin6_port));
  }
  if (a->sa_family == AF_UNIX) {
    const auto* un = reinterpret_cast<const sockaddr_un*>(a);
    const size_t off = offsetof(sockaddr_un, sun_path);
    if (len <= off) return "unix:(unnamed)";
    std::string path(un->sun_path, strnlen(un->sun_path, len - off));
    return path.empty() ? "unix:@" + std::string(un->sun_path + 1, len - off - 1) : "unix:" + path;
  }
  return absl::StrCat("address family ", a->sa_family);
}

uint16_t PortOf(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(ss).sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(ss).sin6_port);
  return 0;
}

// 127.0.0.0/8, ::1, ::ffff:127.0.0.0/104, or a Unix socket (reachable from this host only).

ServerLoop::ServerLoop(int listen_fd, std::string name, Handler handler, const ServerOptions& opts)
    : listen_fd_(listen_fd),
      name_(std::move(name)),
      handler_(std::move(handler)),
      opts_(opts),
      idle_(kTimerIdle, opts.idle_timeout_ms),
      request_(kTimerRequest, opts.request_timeout_ms),
      send_(kTimerSend, opts.send_timeout_ms),
      linger_(kTimerLinger, kLingerMs) {
  limits_.max_head = opts.max_head;
  limits_.max_request_line = std::min<size_t>(limits_.max_request_line, opts.max_head);
  limits_.max_fields = kMaxFields;
}

ServerLoop::~ServerLoop() {
  // Normally Run has closed everything; this is for a Run that never ran or gave up.
  for (Conn& c : conns_) {
    if (c.fd >= 0) close(c.fd);
  }
  if (listen_fd_ >= 0) close(listen_fd_);
  if (wake_fd_ >= 0) close(wake_fd_);
}

absl::Status ServerLoop::Init() {
  wake_fd_ = eventfd(0, EFD_CLOEXEC);
  if (wake_fd_ < 0) return core::ErrnoStatus(errno, absl::StrCat("admin ", name_, ": eventfd"));

  conns_ = std::vector<Conn>(opts_.max_connections);  // never resized: buffers stay put
  free_.reserve(conns_.size());
  for (uint32_t i = static_cast<uint32_t>(conns_.size()); i-- > 0;) {
    conns_[i].slot = i;
    conns_[i].timer.owner = &conns_[i];
    free_.push_back(i);
  }
  const std::string body =
      JsonError("too many connections",
                absl::StrFormat("the admin server takes %u connections at once; retry later",
                                opts_.max_connections));
  reject_ = absl::StrCat(
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: ",
      body.size(), "\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n", body);
  const uint64_t shortest = std::min<uint64_t>(
      {opts_.idle_timeout_ms, opts_.request_timeout_ms, opts_.send_timeout_ms, kLingerMs});
  const uint64_t tick_ms = std::clamp<uint64_t>(shortest / 4, 10, 250);
  tick_ts_.tv_sec = static_cast<int64_t>(tick_ms / 1000);
  tick_ts_.tv_nsec = static_cast<int64_t>(tick_ms % 1000) * 1'000'000;
  return absl::OkStatus();
}

// Any thread.
void ServerLoop::Stop() {
  stop_requested_.store(true, std::memory_order_release);
  uint64_t one = 1;
  ssize_t w = write(wake_fd_, &one, sizeof(one));
  (void)w;
}

// The thread's body. The ring is made here, on the thread that uses it: SINGLE_ISSUER needs
// that, and the kernel signals a ring's creator when the ring goes away, which would
// interrupt whatever blocking call the thread calling Start was making at the time.
void ServerLoop::Run(std::promise<absl::Status> started) {
  // A connection has at most a receive, a send, a shutdown and a cancel in flight; the SQ is
  // flushed when full, so this only sizes batches.
  unsigned entries = 64;
  while (entries < 4 * opts_.max_connections + 16 && entries < 4096) entries *= 2;
  io_uring_params p{};
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE;
  p.cq_entries = entries * 4;
  const int r = io_uring_queue_init_params(entries, &ring_, &p);
  if (r < 0) {
    started.set_value(core::ErrnoStatus(r, absl::StrCat("admin ", name_, ": io_uring_queue_init")));
    return;
  }
  started.set_value(absl::OkStatus());
  Loop();
  io_uring_queue_exit(&ring_);
}

void ServerLoop::Loop() {
  ArmWake();
  ArmAccept();
  for (;;) {
    int r;
    if (stopping_) {
      if (inflight_ == 0) break;
      if (core::MonotonicMs() > stop_deadline_ms_) {
        RW_LOG(LogLevel::kError, "admin %s: %u operations still pending at stop", name_.c_str(),
               inflight_);
        break;
      }
      __kernel_timespec ts{.tv_sec = 0, .tv_nsec = 100'000'000};
      io_uring_cqe* cqe = nullptr;
      r = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
    } else {
      r = io_uring_submit_and_wait(&ring_, 1);
    }
    if (r < 0 && r != -EINTR && r != -ETIME && r != -EBUSY) {
      RW_LOG(LogLevel::kError, "admin %s: io_uring wait: %s; the admin server stops", name_.c_str(),
             strerror(-r));
      return;  // what the kernel still holds is cancelled when the ring goes
    }
    unsigned head;
    unsigned seen = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      ++seen;
      if (cqe->user_data == LIBURING_UDATA_TIMEOUT) continue;  // liburing's own wait timeout
      --inflight_;
      Complete(cqe->user_data, cqe->res);
    }
    io_uring_cq_advance(&ring_, seen);
  }
}

// Never null: when the SQ is full it is submitted first, which empties it. The caller preps
// the SQE, then tags it.
io_uring_sqe* ServerLoop::Sqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (!sqe) {
    io_uring_submit(&ring_);
    sqe = io_uring_get_sqe(&ring_);
  }
  ++inflight_;
  return sqe;
}

void ServerLoop::Tag(io_uring_sqe* sqe, uint64_t tag) { io_uring_sqe_set_data64(sqe, tag); }

uint64_t ServerLoop::ConnTag(const Conn* c, Op op) {
  return (static_cast<uint64_t>(c->slot) << 32) | (static_cast<uint64_t>(c->gen & 0xFFFFFF) << 8) |
         op;
}

void ServerLoop::ArmWake() {
  io_uring_sqe* sqe = Sqe();
  io_uring_prep_read(sqe, wake_fd_, &wake_value_, sizeof(wake_value_), 0);
  Tag(sqe, kWake);
}

void ServerLoop::ArmAccept() {
  accept_len_ = sizeof(accept_addr_);
  io_uring_sqe* sqe = Sqe();
  io_uring_prep_accept(sqe, listen_fd_, reinterpret_cast<sockaddr*>(&accept_addr_), &accept_len_,
                       SOCK_CLOEXEC);
  Tag(sqe, kAccept);
  accept_armed_ = true;
}

void ServerLoop::EnsureTick() {
  if (tick_armed_ || stopping_) return;
  io_uring_sqe* sqe = Sqe();
  io_uring_prep_timeout(sqe, &tick_ts_, 0, 0);
  Tag(sqe, kTick);
  tick_armed_ = true;
}

void ServerLoop::CloseFd(int fd, Op op) {
  io_uring_sqe* sqe = Sqe();
  io_uring_prep_close(sqe, fd);
  Tag(sqe, op);
}

void ServerLoop::CloseListen() {
  if (listen_fd_ < 0) return;
  CloseFd(listen_fd_, kIgnore);
  listen_fd_ = -1;
}

void ServerLoop::Complete(uint64_t tag, int res) {
  const Op op = static_cast<Op>(tag & 0xFF);
  switch (op) {
    case kWake:
      if (stop_requested_.load(std::memory_order_acquire)) {
        BeginStop();
      } else {
        ArmWake();
      }
      return;
    case kAccept:
      OnAccept(res);
      return;
    case kTick:
      tick_armed_ = false;
      OnTick();
      return;
    case kIgnore:
      return;
    case kRejectClose:
      --rejecting_;
      return;
    default:
      break;
  }
  const uint32_t slot = static_cast<uint32_t>(tag >> 32);
  if (slot >= conns_.size()) return;
  Conn* c = &conns_[slot];
  // A slot is freed only when nothing names it, so this never misses; kept as a guard.
  if (c->state == State::kFree || (c->gen & 0xFFFFFF) != ((tag >> 8) & 0xFFFFFF)) return;
  --c->ops;
  switch (op) {
    case kRecv:
      OnRecv(c, res);
      break;
    case kSend:
      OnSend(c, res);
      break;
    default:  // kShutdown, kCancel: nothing to do but count them
      break;
  }
  if (c->state == State::kClosing && c->ops == 0) FinishClose(c);
}

void ServerLoop::OnAccept(int res) {
  accept_armed_ = false;
  if (stopping_) {
    if (res >= 0) CloseFd(res, kIgnore);
    CloseListen();
    return;
  }
  if (res < 0) {
    if (res == -ECONNABORTED || res == -EINTR || res == -EAGAIN) {
      ArmAccept();
      return;
    }
    // Out of descriptors or memory, or a broken socket: try again at the next tick rather
    // than spin on the error.
    const uint64_t now = core::MonotonicMs();
    if (now >= accept_log_ms_) {
      accept_log_ms_ = now + 10'000;
      RW_LOG(LogLevel::kWarn, "admin %s: accept: %s", name_.c_str(), strerror(-res));
    }
    accept_paused_ = true;
    EnsureTick();
    return;
  }
  if (free_.empty()) {
    Reject(res);
  } else {
    Open(res);
  }
  ArmAccept();
}

// Over the connection limit: a static 503 and a close, linked so that the close runs
// whatever the send does. Few at a time: a flood past that is closed without a word.
void ServerLoop::Reject(int fd) {
  const uint64_t now = core::MonotonicMs();
  if (now >= limit_log_ms_) {
    limit_log_ms_ = now + 10'000;
    RW_LOG(LogLevel::kWarn, "admin %s: %u connections open, the most allowed; refusing more",
           name_.c_str(), opts_.max_connections);
  }
  ++rejecting_;
  if (rejecting_ <= kMaxRejects) {
    io_uring_sqe* sqe = Sqe();
    io_uring_prep_send(sqe, fd, reject_.data(), reject_.size(), MSG_NOSIGNAL);
    Tag(sqe, kIgnore);
    sqe->flags |= IOSQE_IO_HARDLINK;
  }
  CloseFd(fd, kRejectClose);
}

void ServerLoop::Open(int fd) {
  Conn* c = &conns_[free_.back()];
  free_.pop_back();
  ++live_;
  c->fd = fd;
  c->state = State::kHead;
  c->ops = 0;
  c->recv_inflight = c->recv_drain = c->send_inflight = false;
  c->interim = c->close_after = false;
  c->loopback = IsLoopback(accept_addr_);
  c->scanned = c->head_len = c->sent = c->drained = 0;
  c->body_len = 0;
  c->in.clear();
  c->out.clear();
  core::SetNoDelay(fd);  // a response leaves in one send; never wait on Nagle for its tail
  // The first request is due within request_timeout_ms of the accept.
  SetTimer(c, &request_);
  EnsureTick();
  Process(c);
}

void ServerLoop::OnRecv(Conn* c, int res) {
  c->recv_inflight = false;
  const bool drain = c->recv_drain;
  if (!drain) c->in.resize(c->recv_at + static_cast<size_t>(std::max(res, 0)));
  switch (c->state) {
    case State::kHead:
    case State::kBody:
      // A receive is armed only when the request needs more bytes, so an end of stream here
      // leaves it unfinished: nothing to answer.
      if (res <= 0) {
        Close(c);
        return;
      }
      if (c->timer.kind == kTimerIdle) SetTimer(c, &request_);  // a new request began
      Process(c);
      return;
    case State::kSend:  // a 408 went out meanwhile; what came is dropped
      c->in.resize(c->recv_at);
      return;
    case State::kLinger:
      if (!drain) ReleaseBuffers(c);
      if (res <= 0 || (c->drained += static_cast<size_t>(res)) > kLingerMaxBytes) {
        Close(c);
      } else {
        ArmDrain(c);
      }
      return;
    default:
      return;
  }
}

void ServerLoop::OnSend(Conn* c, int res) {
  c->send_inflight = false;
  if (c->state == State::kClosing) return;
  if (res <= 0) {  // the peer is gone (EPIPE, ECONNRESET)
    Close(c);
    return;
  }
  c->sent += static_cast<size_t>(res);
  if (c->sent < c->out.size()) {
    PrepSend(c);
    return;
  }
  c->out.clear();
  c->sent = 0;
  if (c->interim) {  // 100 Continue is out: read the body
    c->interim = false;
    Process(c);
    return;
  }
  if (c->close_after) {
    Linger(c);
    return;
  }
  if (c->out.capacity() > kKeepCapacity) c->out.shrink_to_fit();
  if (c->in.capacity() > kKeepCapacity && c->in.size() <= kKeepCapacity) c->in.shrink_to_fit();
  c->state = State::kHead;
  c->scanned = 0;
  SetTimer(c, c->in.empty() ? &idle_ : &request_);
  Process(c);
}

void ServerLoop::ArmRecv(Conn* c) {
  // Never read past the head's limit (plus one byte, to see it crossed) nor past the body:
  // pipelined requests wait in the socket.
  const size_t limit =
      c->state == State::kHead ? size_t{opts_.max_head} + 1 : c->head_len + c->body_len;
  const size_t want = std::min(limit - c->in.size(), kRecvChunk);
  c->recv_at = c->in.size();
  c->in.resize(c->recv_at + want);
  io_uring_sqe* sqe = Sqe();
  io_uring_prep_recv(sqe, c->fd, c->in.data() + c->recv_at, want, 0);
  Tag(sqe, ConnTag(c, kRecv));
  ++c->ops;
  c->recv_inflight = true;
  c->recv_drain = false;
}

void ServerLoop::ArmDrain(Conn* c) {
  io_uring_sqe* sqe = Sqe();
  // Every draining connection reads into the same buffer: what lands there is never read.
  io_uring_prep_recv(sqe, c->fd, drain_.data(), drain_.size(), 0);
  Tag(sqe, ConnTag(c, kRecv));
  ++c->ops;
  c->recv_inflight = true;
  c->recv_drain = true;
}

void ServerLoop::PrepSend(Conn* c) {
  io_uring_sqe* sqe = Sqe();
  io_uring_prep_send(sqe, c->fd, c->out.data() + c->sent, c->out.size() - c->sent, MSG_NOSIGNAL);
  Tag(sqe, ConnTag(c, kSend));
  ++c->ops;
  c->send_inflight = true;
}

// After a response that ends the connection: FIN, then read and drop what the client still
// sends until it closes too (or 2 s, or 1 MiB), so that our close does not reset the
// response out of the client's hands.
void ServerLoop::Linger(Conn* c) {
  c->state = State::kLinger;
  SetTimer(c, &linger_);
  io_uring_sqe* sqe = Sqe();
  io_uring_prep_shutdown(sqe, c->fd, SHUT_WR);
  Tag(sqe, ConnTag(c, kShutdown));
  ++c->ops;
  if (!c->recv_inflight) {
    ReleaseBuffers(c);
    ArmDrain(c);
  }
}

void ServerLoop::ReleaseBuffers(Conn* c) {
  std::string().swap(c->in);
  std::string().swap(c->out);
}

// Cancels what the kernel holds for the socket; the socket closes when all of it is back.
void ServerLoop::Close(Conn* c) {
  if (c->state == State::kClosing || c->state == State::kFree) return;
  DisarmTimer(c);
  c->state = State::kClosing;
  if (c->ops == 0) {
    FinishClose(c);
    return;
  }
  io_uring_sqe* sqe = Sqe();
  io_uring_prep_cancel_fd(sqe, c->fd, IORING_ASYNC_CANCEL_ALL);
  Tag(sqe, ConnTag(c, kCancel));
  ++c->ops;
}

void ServerLoop::FinishClose(Conn* c) {
  CloseFd(c->fd, kIgnore);
  c->fd = -1;
  c->state = State::kFree;
  ++c->gen;
  ReleaseBuffers(c);
  free_.push_back(c->slot);
  --live_;
}

core::TimerList* ServerLoop::ListOf(uint8_t kind) {
  switch (kind) {
    case kTimerIdle:
      return &idle_;
    case kTimerRequest:
      return &request_;
    case kTimerSend:
      return &send_;
    default:
      return &linger_;
  }
}

void ServerLoop::DisarmTimer(Conn* c) {
  if (c->timer.armed()) ListOf(c->timer.kind)->Remove(&c->timer);
}

void ServerLoop::SetTimer(Conn* c, core::TimerList* list) {
  DisarmTimer(c);
  list->Arm(&c->timer, core::MonotonicMs());
}

// Every tick: each list is in deadline order, so only what expired is touched.
void ServerLoop::OnTick() {
  if (stopping_) return;
  const uint64_t now = core::MonotonicMs();
  const auto conn = [](core::TimerNode* n) { return static_cast<Conn*>(n->owner); };
  idle_.Expire(now, [&](core::TimerNode* n) { Close(conn(n)); });
  request_.Expire(now, [&](core::TimerNode* n) {
    Conn* c = conn(n);
    const size_t held = c->recv_inflight && !c->recv_drain ? c->recv_at : c->in.size();
    if (c->send_inflight || held == 0) {  // a 100 Continue still going, or nothing came
      Close(c);
    } else {
      Refuse(c, 408, "request timeout",
             absl::StrFormat("send the whole request within %u ms", opts_.request_timeout_ms));
    }
  });
  send_.Expire(now, [&](core::TimerNode* n) {
    RW_LOG(LogLevel::kDebug, "admin %s: a client did not take its response in %u ms", name_.c_str(),
           opts_.send_timeout_ms);
    Close(conn(n));
  });
  linger_.Expire(now, [&](core::TimerNode* n) { Close(conn(n)); });
  if (accept_paused_) {
    accept_paused_ = false;
    ArmAccept();
  }
  if (live_ > 0) EnsureTick();
}

void ServerLoop::BeginStop() {
  stopping_ = true;
  stop_deadline_ms_ = core::MonotonicMs() + kStopGraceMs;
  if (accept_armed_) {
    io_uring_sqe* sqe = Sqe();
    io_uring_prep_cancel64(sqe, kAccept, 0);
    Tag(sqe, kIgnore);  // the accept's completion then closes the listening socket
  } else {
    CloseListen();
  }
  if (tick_armed_) {
    io_uring_sqe* sqe = Sqe();
    io_uring_prep_timeout_remove(sqe, kTick, 0);
    Tag(sqe, kIgnore);
  }
  for (Conn& c : conns_) Close(&c);
}

}  // namespace ringway::admin
