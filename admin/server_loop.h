// The admin server's event loop: one thread, one io_uring, a fixed table of connections.
// Internal to admin/: server.cc starts and stops it, server_loop.cc drives sockets, rings and
// deadlines, server_requests.cc turns a received request into a response.
#ifndef RINGWAY_ADMIN_SERVER_LOOP_H_
#define RINGWAY_ADMIN_SERVER_LOOP_H_

#include <liburing.h>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <future>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "admin/server.h"
#include "core/timer.h"
#include "proto/http1_parser.h"

namespace ringway::admin {

// "address:port" (or the Unix socket's path) for logs and errors.
std::string FormatAddress(const sockaddr* a, socklen_t len);
// The port of an IP address; 0 for anything else.
uint16_t PortOf(const sockaddr_storage& ss);

class ServerLoop {
 private:
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

  static constexpr uint64_t kLingerMs = 2000;  // lingering close: drain for at most this long
  static constexpr size_t kLingerMaxBytes = 1 << 20;  // ... and at most this many bytes
  static constexpr size_t kRecvChunk = 64 * 1024;     // the most one receive asks for
  static constexpr size_t kKeepCapacity =
      64 * 1024;                               // larger buffers are given back between requests
  static constexpr uint32_t kMaxRejects = 32;  // 503 answers in flight; past that, plain closes
  static constexpr size_t kMaxFields = 100;
  static constexpr uint64_t kStopGraceMs = 2000;  // Stop waits this long for the kernel at most

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

 public:
  ServerLoop(int listen_fd, std::string name, Handler handler, const ServerOptions& opts);
  ~ServerLoop();
  absl::Status Init();

  // Any thread.
  void Stop();

  // The thread's body. The ring is made here, on the thread that uses it: SINGLE_ISSUER needs
  // that, and the kernel signals a ring's creator when the ring goes away, which would
  // interrupt whatever blocking call the thread calling Start was making at the time.
  void Run(std::promise<absl::Status> started);

 private:
  void Loop();

  // ---- submissions ----

  // Never null: when the SQ is full it is submitted first, which empties it. The caller preps
  // the SQE, then tags it.
  io_uring_sqe* Sqe();
  static void Tag(io_uring_sqe* sqe, uint64_t tag);
  static uint64_t ConnTag(const Conn* c, Op op);
  void ArmWake();
  void ArmAccept();
  void EnsureTick();
  void CloseFd(int fd, Op op);
  void CloseListen();

  // ---- completions ----

  void Complete(uint64_t tag, int res);
  void OnAccept(int res);

  // Over the connection limit: a static 503 and a close, linked so that the close runs
  // whatever the send does. Few at a time: a flood past that is closed without a word.
  void Reject(int fd);
  void Open(int fd);
  void OnRecv(Conn* c, int res);
  void OnSend(Conn* c, int res);

  // ---- requests ----

  // In kHead or kBody with nothing in flight: parses, answers, or reads more.
  void Process(Conn* c);
  void RefuseParse(Conn* c, const http1::ParseResult& r);

  // The checks on a complete head beyond the parser's; false when the request was refused.
  bool Admissible(Conn* c, const http1::RequestHead& h);

  // The request is whole in `in`: the handler answers it.
  void Dispatch(Conn* c);

  // An error the server answers itself, in JSON; the connection closes after it.
  void Refuse(Conn* c, uint16_t status, std::string_view error, std::string_view hint,
              bool head_only = false);
  void BuildResponse(Conn* c, const Response& resp, bool head_only, bool http10);
  void StartResponse(Conn* c);

  // ---- socket operations ----

  void ArmRecv(Conn* c);
  void ArmDrain(Conn* c);
  void PrepSend(Conn* c);

  // After a response that ends the connection: FIN, then read and drop what the client still
  // sends until it closes too (or 2 s, or 1 MiB), so that our close does not reset the
  // response out of the client's hands.
  void Linger(Conn* c);
  void ReleaseBuffers(Conn* c);

  // Cancels what the kernel holds for the socket; the socket closes when all of it is back.
  void Close(Conn* c);
  void FinishClose(Conn* c);

  // ---- deadlines ----

  core::TimerList* ListOf(uint8_t kind);
  void DisarmTimer(Conn* c);
  void SetTimer(Conn* c, core::TimerList* list);

  // Every tick: each list is in deadline order, so only what expired is touched.
  void OnTick();

  // ---- stop ----

  void BeginStop();

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

}  // namespace ringway::admin

#endif  // RINGWAY_ADMIN_SERVER_LOOP_H_
