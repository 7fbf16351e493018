#include "admin/server.h"

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

// What a completion is for: the low 8 bits of user_data. A connection's operations carry its
// slot (bits 32..63) and generation (bits 8..31) too.
enum Op : uint8_t {
  kAccept = 1,
  kWake,
  kTick,
  kIgnore,       // closes of sockets no longer ours, 503s to refused ones, cancels
  kRejectClose,  // the close of a socket refused for the connection limit
  kRecv,
  kSend,
  kShutdown,
  kCancel,
};

enum TimerKind : uint8_t { kTimerIdle = 1, kTimerRequest, kTimerSend, kTimerLinger };

constexpr uint64_t kLingerMs = 2000;         // lingering close: drain for at most this long
constexpr size_t kLingerMaxBytes = 1 << 20;  // ... and at most this many bytes
constexpr size_t kRecvChunk = 64 * 1024;     // the most one receive asks for
constexpr size_t kKeepCapacity = 64 * 1024;  // larger buffers are given back between requests
constexpr uint32_t kMaxRejects = 32;         // 503 answers in flight; past that, plain closes
constexpr size_t kMaxFields = 100;
constexpr uint64_t kStopGraceMs = 2000;  // Stop waits this long for the kernel at most

// A connection's life (one request at a time):
//
//   accept -> kHead -> kBody -> kSend --(keep-alive)--> kHead (leftover bytes: next request)
//               |        |        '---(close after)---> kLinger -> kClosing -> kFree
//               '--------'--(refused, 408)--> kSend
//   any --(error, EOF, deadline, Stop)--> kClosing: what the kernel holds for the socket is
//   cancelled; once nothing is left the socket is closed and the slot freed.
//
// In kBody a "100 Continue" may be in flight (interim); the body is read after it. A 408 may
// go out while a receive is still in flight; what that receive brings is dropped.
enum class State : uint8_t { kFree, kHead, kBody, kSend, kLinger, kClosing };

struct Conn {
  int fd = -1;
  uint32_t slot = 0;
  uint32_t gen = 0;  // bumped when the slot is freed
  State state = State::kFree;
  uint8_t ops = 0;  // SQEs the kernel holds that name this connection
  bool recv_inflight = false;
  bool recv_drain = false;  // the receive in flight reads into the shared drain buffer
  bool send_inflight = false;
  bool interim = false;      // the send in flight is a 100 Continue
  bool close_after = false;  // close once the response has been sent
  bool loopback = false;
  size_t recv_at = 0;   // in.size() before the receive in flight grew it
  size_t scanned = 0;   // bytes of `in` already searched for the end of the head
  size_t head_len = 0;  // kBody: the head's length
  uint64_t body_len = 0;
  size_t sent = 0;     // bytes of `out` sent
  size_t drained = 0;  // kLinger: bytes read and dropped
  std::string in;      // the request being read, then what follows it
  std::string out;     // the response being sent
  core::TimerNode timer;
};

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

const char* Reason(uint16_t status) {
  static constexpr std::pair<uint16_t, const char*> kReasons[] = {
      {200, "OK"},
      {201, "Created"},
      {202, "Accepted"},
      {204, "No Content"},
      {301, "Moved Permanently"},
      {302, "Found"},
      {304, "Not Modified"},
      {400, "Bad Request"},
      {401, "Unauthorized"},
      {403, "Forbidden"},
      {404, "Not Found"},
      {405, "Method Not Allowed"},
      {408, "Request Timeout"},
      {409, "Conflict"},
      {411, "Length Required"},
      {413, "Content Too Large"},
      {414, "URI Too Long"},
      {415, "Unsupported Media Type"},
      {422, "Unprocessable Content"},
      {429, "Too Many Requests"},
      {431, "Request Header Fields Too Large"},
      {500, "Internal Server Error"},
      {501, "Not Implemented"},
      {502, "Bad Gateway"},
      {503, "Service Unavailable"},
      {504, "Gateway Timeout"}};
  for (const auto& [code, text] : kReasons) {
    if (code == status) return text;
  }
  return "";  // the reason phrase may be empty (RFC 9112 section 4)
}

bool IsTokenChar(unsigned char c) {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  return c != 0 && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

bool ValidFieldName(std::string_view n) {
  return !n.empty() && std::all_of(n.begin(), n.end(),
                                   [](char c) { return IsTokenChar(static_cast<uint8_t>(c)); });
}

bool ValidFieldValue(std::string_view v) {
  return std::all_of(v.begin(), v.end(), [](char ch) {
    const auto c = static_cast<uint8_t>(ch);
    return c == '\t' || (c >= 0x20 && c != 0x7F);
  });
}

// Fields the server writes itself or that would change how the response is framed.
bool ReservedField(std::string_view n) {
  for (std::string_view r :
       {"Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive", "Proxy-Connection",
        "Upgrade", "Trailer", "TE", "Content-Type", "Cache-Control"}) {
    if (http1::EqualsIgnoreCase(n, r)) return true;
  }
  return false;
}

// The value of field `name` and how many times it appears.
std::string_view FindField(const http1::RequestHead& h, std::string_view name, int* count) {
  std::string_view v;
  *count = 0;
  for (const http1::Field& f : h.fields) {
    if (http1::EqualsIgnoreCase(f.name, name) && (*count)++ == 0) v = f.value;
  }
  return v;
}

}  // namespace

class ServerLoop {
 public:
  ServerLoop(int listen_fd, std::string name, Handler handler, const ServerOptions& opts)
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

  ~ServerLoop() {
    // Normally Run has closed everything; this is for a Run that never ran or gave up.
    for (Conn& c : conns_) {
      if (c.fd >= 0) close(c.fd);
    }
    if (listen_fd_ >= 0) close(listen_fd_);
    if (wake_fd_ >= 0) close(wake_fd_);
  }

  absl::Status Init() {
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
  void Stop() {
    stop_requested_.store(true, std::memory_order_release);
    uint64_t one = 1;
    ssize_t w = write(wake_fd_, &one, sizeof(one));
    (void)w;
  }

  // The thread's body. The ring is made here, on the thread that uses it: SINGLE_ISSUER needs
  // that, and the kernel signals a ring's creator when the ring goes away, which would
  // interrupt whatever blocking call the thread calling Start was making at the time.
  void Run(std::promise<absl::Status> started) {
    // A connection has at most a receive, a send, a shutdown and a cancel in flight; the SQ is
    // flushed when full, so this only sizes batches.
    unsigned entries = 64;
    while (entries < 4 * opts_.max_connections + 16 && entries < 4096) entries *= 2;
    io_uring_params p{};
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE;
    p.cq_entries = entries * 4;
    const int r = io_uring_queue_init_params(entries, &ring_, &p);
    if (r < 0) {
      started.set_value(
          core::ErrnoStatus(r, absl::StrCat("admin ", name_, ": io_uring_queue_init")));
      return;
    }
    started.set_value(absl::OkStatus());
    Loop();
    io_uring_queue_exit(&ring_);
  }

 private:
  void Loop() {
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
        RW_LOG(LogLevel::kError, "admin %s: io_uring wait: %s; the admin server stops",
               name_.c_str(), strerror(-r));
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

  // ---- submissions ----

  // Never null: when the SQ is full it is submitted first, which empties it. The caller preps
  // the SQE, then tags it.
  io_uring_sqe* Sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (!sqe) {
      io_uring_submit(&ring_);
      sqe = io_uring_get_sqe(&ring_);
    }
    ++inflight_;
    return sqe;
  }
  static void Tag(io_uring_sqe* sqe, uint64_t tag) { io_uring_sqe_set_data64(sqe, tag); }

  static uint64_t ConnTag(const Conn* c, Op op) {
    return (static_cast<uint64_t>(c->slot) << 32) |
           (static_cast<uint64_t>(c->gen & 0xFFFFFF) << 8) | op;
  }

  void ArmWake() {
    io_uring_sqe* sqe = Sqe();
    io_uring_prep_read(sqe, wake_fd_, &wake_value_, sizeof(wake_value_), 0);
    Tag(sqe, kWake);
  }

  void ArmAccept() {
    accept_len_ = sizeof(accept_addr_);
    io_uring_sqe* sqe = Sqe();
    io_uring_prep_accept(sqe, listen_fd_, reinterpret_cast<sockaddr*>(&accept_addr_), &accept_len_,
                         SOCK_CLOEXEC);
    Tag(sqe, kAccept);
    accept_armed_ = true;
  }

  void EnsureTick() {
    if (tick_armed_ || stopping_) return;
    io_uring_sqe* sqe = Sqe();
    io_uring_prep_timeout(sqe, &tick_ts_, 0, 0);
    Tag(sqe, kTick);
    tick_armed_ = true;
  }

  void CloseFd(int fd, Op op) {
    io_uring_sqe* sqe = Sqe();
    io_uring_prep_close(sqe, fd);
    Tag(sqe, op);
  }

  void CloseListen() {
    if (listen_fd_ < 0) return;
    CloseFd(listen_fd_, kIgnore);
    listen_fd_ = -1;
  }

  // ---- completions ----

  void Complete(uint64_t tag, int res) {
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

  void OnAccept(int res) {
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
  void Reject(int fd) {
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

  void Open(int fd) {
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

  void OnRecv(Conn* c, int res) {
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

  void OnSend(Conn* c, int res) {
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

  // ---- requests ----

  // In kHead or kBody with nothing in flight: parses, answers, or reads more.
  void Process(Conn* c) {
    if (c->state == State::kHead) {
      // Parse only when the newest bytes may have ended the head, or it is past the limit (the
      // parser then answers 431): a head dribbled a byte at a time costs linear work.
      if (c->in.size() <= opts_.max_head && !http1::HasHeadEnd(c->in, c->scanned)) {
        c->scanned = c->in.size();
        ArmRecv(c);
        return;
      }
      http1::RequestHead h;
      const http1::ParseResult r = http1::ParseRequest(c->in, limits_, fields_, &h);
      if (r.status == http1::ParseStatus::kIncomplete) {
        c->scanned = c->in.size();
        ArmRecv(c);
        return;
      }
      if (r.status == http1::ParseStatus::kError) {
        RefuseParse(c, r);
        return;
      }
      if (!Admissible(c, h)) return;
      c->head_len = r.consumed;
      c->body_len =
          h.framing.body == http1::BodyKind::kContentLength ? h.framing.content_length : 0;
      c->state = State::kBody;
      // 100 Continue only when none of the body has come: the client is then likely waiting.
      if (h.framing.expect_continue && c->body_len > 0 && c->in.size() == c->head_len) {
        c->out.assign(http1::kContinueResponse);
        c->interim = true;
        PrepSend(c);
        return;
      }
    }
    if (c->in.size() - c->head_len >= c->body_len) {
      Dispatch(c);
    } else {
      ArmRecv(c);
    }
  }

  void RefuseParse(Conn* c, const http1::ParseResult& r) {
    switch (r.error_status) {
      case 414:
        Refuse(
            c, 414, r.error,
            absl::StrFormat("the request line may be at most %u bytes", limits_.max_request_line));
        return;
      case 431:
        Refuse(c, 431, r.error,
               absl::StrFormat("the request head may be at most %u bytes and %u fields",
                               opts_.max_head, kMaxFields));
        return;
      case 501:
        // The parser's only 501 is a transfer coding it does not know: like chunked, the
        // admin server takes bodies with a Content-Length only.
        Refuse(c, 411, r.error, "send the request body with a Content-Length");
        return;
      default:
        Refuse(c, r.error_status, r.error, "the request is not valid HTTP/1.1");
        return;
    }
  }

  // The checks on a complete head beyond the parser's; false when the request was refused.
  bool Admissible(Conn* c, const http1::RequestHead& h) {
    const bool head_only = h.method == "HEAD";
    if (h.framing.body == http1::BodyKind::kChunked) {
      Refuse(c, 411, "chunked request bodies are not accepted",
             "send the request body with a Content-Length", head_only);
      return false;
    }
    if (h.framing.body == http1::BodyKind::kContentLength &&
        h.framing.content_length > opts_.max_body) {
      Refuse(c, 413, "request body too large",
             absl::StrFormat("the body may be at most %u bytes", opts_.max_body), head_only);
      return false;
    }
    if (h.form == http1::TargetForm::kAuthority) {
      Refuse(c, 501, "CONNECT is not supported", "the admin API takes origin-form targets",
             head_only);
      return false;
    }
    int n = 0;
    FindField(h, "Authorization", &n);
    if (n > 1) {
      Refuse(c, 400, "more than one Authorization field", "send the credentials once", head_only);
      return false;
    }
    FindField(h, "Content-Type", &n);
    if (n > 1) {
      Refuse(c, 400, "more than one Content-Type field", "send one Content-Type", head_only);
      return false;
    }
    return true;
  }

  // The request is whole in `in`: the handler answers it.
  void Dispatch(Conn* c) {
    http1::RequestHead h;
    // The same bytes parsed again: views taken before the body came may have moved since.
    http1::ParseRequest(std::string_view(c->in).substr(0, c->head_len), limits_, fields_, &h);
    Request req;
    req.method = h.method;
    std::string_view target = h.form == http1::TargetForm::kAbsolute ? h.origin : h.target;
    const size_t q = target.find('?');
    req.path = target.substr(0, q);
    if (req.path.empty()) req.path = "/";  // absolute-form without a path
    if (q != std::string_view::npos) req.query = target.substr(q + 1);
    req.body = std::string_view(c->in).substr(c->head_len, c->body_len);
    int n = 0;
    req.authorization = FindField(h, "Authorization", &n);
    req.content_type = FindField(h, "Content-Type", &n);
    req.host = h.form == http1::TargetForm::kAbsolute ? h.authority : h.framing.host;
    req.origin = FindField(h, "Origin", &n);
    req.loopback_peer = c->loopback;

    const Response resp = handler_(req);
    c->close_after = !h.framing.keep_alive;
    BuildResponse(c, resp, req.method == "HEAD", h.version_minor == 0);
    c->in.erase(0, c->head_len + c->body_len);  // what is left starts the next request
    StartResponse(c);
  }

  // An error the server answers itself, in JSON; the connection closes after it.
  void Refuse(Conn* c, uint16_t status, std::string_view error, std::string_view hint,
              bool head_only = false) {
    RW_LOG(LogLevel::kDebug, "admin %s: %u %.*s", name_.c_str(), status,
           static_cast<int>(error.size()), error.data());
    Response resp;
    resp.status = status;
    resp.body = JsonError(error, hint);
    c->close_after = true;
    BuildResponse(c, resp, head_only, false);
    StartResponse(c);
  }

  void BuildResponse(Conn* c, const Response& resp, bool head_only, bool http10) {
    uint16_t status = resp.status;
    std::string_view content_type = resp.content_type;
    std::string_view body = resp.body;
    std::string internal;
    if (status < 200 || status > 599) {
      RW_LOG(LogLevel::kError, "admin %s: the handler answered status %u; sent 500", name_.c_str(),
             status);
      status = 500;
      content_type = "application/json";
      internal = JsonError("internal error", "the handler gave an invalid status");
      body = internal;
    }
    if (!ValidFieldValue(content_type)) content_type = "";
    const bool no_body = status == 204 || status == 304;
    std::string& out = c->out;
    out.clear();
    c->sent = 0;
    absl::StrAppend(&out, "HTTP/1.1 ", status, " ", Reason(status), "\r\n");
    if (!content_type.empty()) out.append("Content-Type: ").append(content_type).append("\r\n");
    if (!no_body) absl::StrAppend(&out, "Content-Length: ", body.size(), "\r\n");
    out.append("Cache-Control: no-store\r\n");
    for (const auto& [name, value] : resp.headers) {
      if (!ValidFieldName(name) || !ValidFieldValue(value) || ReservedField(name)) {
        RW_LOG(LogLevel::kWarn, "admin %s: the handler's field '%s' is dropped", name_.c_str(),
               name.c_str());
        continue;
      }
      absl::StrAppend(&out, name, ": ", value, "\r\n");
    }
    if (c->close_after) {
      out.append("Connection: close\r\n");
    } else if (http10) {
      out.append("Connection: keep-alive\r\n");
    }
    out.append("\r\n");
    if (!no_body && !head_only) out.append(body);
  }

  void StartResponse(Conn* c) {
    c->state = State::kSend;
    SetTimer(c, &send_);  // the whole response must be taken within send_timeout_ms
    PrepSend(c);
  }

  // ---- socket operations ----

  void ArmRecv(Conn* c) {
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

  void ArmDrain(Conn* c) {
    io_uring_sqe* sqe = Sqe();
    // Every draining connection reads into the same buffer: what lands there is never read.
    io_uring_prep_recv(sqe, c->fd, drain_.data(), drain_.size(), 0);
    Tag(sqe, ConnTag(c, kRecv));
    ++c->ops;
    c->recv_inflight = true;
    c->recv_drain = true;
  }

  void PrepSend(Conn* c) {
    io_uring_sqe* sqe = Sqe();
    io_uring_prep_send(sqe, c->fd, c->out.data() + c->sent, c->out.size() - c->sent, MSG_NOSIGNAL);
    Tag(sqe, ConnTag(c, kSend));
    ++c->ops;
    c->send_inflight = true;
  }

  // After a response that ends the connection: FIN, then read and drop what the client still
  // sends until it closes too (or 2 s, or 1 MiB), so that our close does not reset the
  // response out of the client's hands.
  void Linger(Conn* c) {
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

  void ReleaseBuffers(Conn* c) {
    std::string().swap(c->in);
    std::string().swap(c->out);
  }

  // Cancels what the kernel holds for the socket; the socket closes when all of it is back.
  void Close(Conn* c) {
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

  void FinishClose(Conn* c) {
    CloseFd(c->fd, kIgnore);
    c->fd = -1;
    c->state = State::kFree;
    ++c->gen;
    ReleaseBuffers(c);
    free_.push_back(c->slot);
    --live_;
  }

  // ---- deadlines ----

  core::TimerList* ListOf(uint8_t kind) {
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

  void DisarmTimer(Conn* c) {
    if (c->timer.armed()) ListOf(c->timer.kind)->Remove(&c->timer);
  }

  void SetTimer(Conn* c, core::TimerList* list) {
    DisarmTimer(c);
    list->Arm(&c->timer, core::MonotonicMs());
  }

  // Every tick: each list is in deadline order, so only what expired is touched.
  void OnTick() {
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
      RW_LOG(LogLevel::kDebug, "admin %s: a client did not take its response in %u ms",
             name_.c_str(), opts_.send_timeout_ms);
      Close(conn(n));
    });
    linger_.Expire(now, [&](core::TimerNode* n) { Close(conn(n)); });
    if (accept_paused_) {
      accept_paused_ = false;
      ArmAccept();
    }
    if (live_ > 0) EnsureTick();
  }

  // ---- stop ----

  void BeginStop() {
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

  int listen_fd_;
  const std::string name_;
  const Handler handler_;
  const ServerOptions opts_;
  http1::ParseLimits limits_;
  std::array<http1::Field, kMaxFields> fields_;  // scratch for the parser, one request at a time

  io_uring ring_{};
  uint32_t inflight_ = 0;  // SQEs whose completion has not been seen
  int wake_fd_ = -1;
  uint64_t wake_value_ = 0;
  std::atomic<bool> stop_requested_{false};
  bool stopping_ = false;
  uint64_t stop_deadline_ms_ = 0;

  sockaddr_storage accept_addr_{};
  socklen_t accept_len_ = 0;
  bool accept_armed_ = false;
  bool accept_paused_ = false;
  uint64_t accept_log_ms_ = 0;
  uint64_t limit_log_ms_ = 0;
  uint32_t rejecting_ = 0;  // refused sockets not yet closed
  std::string reject_;      // the 503 they get

  std::vector<Conn> conns_;
  std::vector<uint32_t> free_;  // free slots
  uint32_t live_ = 0;
  std::array<char, 16 * 1024> drain_;

  core::TimerList idle_;
  core::TimerList request_;
  core::TimerList send_;
  core::TimerList linger_;
  __kernel_timespec tick_ts_{};
  bool tick_armed_ = false;
};

Server::Server() = default;

Server::~Server() { Stop(); }

absl::Status Server::Start(const sockaddr* addr, socklen_t len, Handler handler,
                           ServerOptions opts) {
  const std::string name = FormatAddress(addr, len);
  int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return core::ErrnoStatus(errno, absl::StrCat("admin ", name, ": socket"));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (addr->sa_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  const char* step = nullptr;
  if (bind(fd, addr, len) < 0) {
    step = "bind";
  } else if (listen(fd, 128) < 0) {
    step = "listen";
  }
  if (step != nullptr) {
    const int err = errno;
    close(fd);
    return core::ErrnoStatus(err, absl::StrCat("admin ", name, ": ", step));
  }
  return StartOnFd(fd, std::move(handler), opts);
}

absl::Status Server::StartOnFd(int listen_fd, Handler handler, ServerOptions opts) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  const std::string name = getsockname(listen_fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0
                               ? FormatAddress(reinterpret_cast<sockaddr*>(&ss), len)
                               : absl::StrCat("fd ", listen_fd);
  const auto fail = [&](absl::Status s) {
    close(listen_fd);
    return s;
  };
  int listening = 0;
  socklen_t optlen = sizeof(listening);
  if (getsockopt(listen_fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &optlen) < 0 || !listening) {
    return fail(
        absl::InvalidArgumentError(absl::StrCat("admin ", name, ": not a listening socket")));
  }
  if (!handler)
    return fail(absl::InvalidArgumentError(absl::StrCat("admin ", name, ": no handler")));
  if (opts.max_connections == 0 || opts.max_head == 0 || opts.idle_timeout_ms == 0 ||
      opts.request_timeout_ms == 0 || opts.send_timeout_ms == 0) {
    return fail(absl::InvalidArgumentError(absl::StrCat(
        "admin ", name, ": max_connections, max_head and the timeouts must be positive")));
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (loop_) {
    return fail(absl::FailedPreconditionError(absl::StrCat("admin ", name, ": already started")));
  }
  // From here on the loop owns listen_fd and closes it, also on failure.
  auto loop = std::make_unique<ServerLoop>(listen_fd, name, std::move(handler), opts);
  absl::Status s = loop->Init();
  if (!s.ok()) return s;
  std::promise<absl::Status> started;
  std::future<absl::Status> ready = started.get_future();
  thread_ = std::thread(
      [l = loop.get(), started = std::move(started), thread_name = opts.thread_name]() mutable {
        core::NameThisThread(thread_name);
        l->Run(std::move(started));
      });
  s = ready.get();
  if (!s.ok()) {
    thread_.join();
    return s;
  }
  port_ = PortOf(ss);
  loop_ = std::move(loop);
  RW_LOG(LogLevel::kInfo, "admin: serving on %s", name.c_str());
  return absl::OkStatus();
}

void Server::Stop() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!loop_) return;
  loop_->Stop();
  thread_.join();
  loop_.reset();
}

}  // namespace ringway::admin
