// The admin server: a small HTTP/1.1 server for ringway's management API and metrics, on a
// thread of its own with its own io_uring. It knows nothing of the proxy; every request whose
// head and body have arrived whole goes to a handler, called on the server thread.
//
// It is built to face a hostile client without hurting the others, in bounded memory:
//  - At most max_connections connections; more are accepted and answered a static 503 (then
//    closed) while few such answers are in flight, closed at once past that.
//  - One request at a time per connection: nothing more is read until its response has been
//    sent, so pipelined requests wait in the socket. A connection holds at most
//    max_head + max_body bytes of request (its read buffer, reused) plus its response.
//  - Deadlines, swept every quarter of the shortest one (at most 250 ms): a request (head and
//    body; for a new connection, counted from the accept) must arrive within
//    request_timeout_ms (408 if some of it came, else a silent close); a kept-alive connection
//    may idle idle_timeout_ms between requests; a response must be taken whole within
//    send_timeout_ms of its first send (progress does not extend it, so a client reading a
//    byte at a time cannot hold a connection).
//  - Errors it makes itself are JSON ({"error":..,"hint":..}) and close the connection:
//    whatever the parser refuses gets its status (400, 414, 431), a body in a transfer coding
//    (chunked, or another one, which the parser calls 501) 411, a Content-Length over max_body
//    413 (the body is not read), a head over max_head 431, CONNECT 501. A request with two
//    Authorization or two Content-Type fields is refused (400) rather than guessed at.
//  - Expect: 100-continue is answered "100 Continue" before the body is read (a body over
//    max_body gets its 413 instead).
//  - A connection it closes after a response is shut down for writing and drained for up to
//    2 s or 1 MiB (lingering close), so that unread request bytes do not turn the close into a
//    reset that destroys the response on its way.
// Responses carry Content-Length (not for 204/304), Content-Type (when not empty),
// Cache-Control: no-store and the handler's fields, less any that would change the framing
// (Content-Length, Transfer-Encoding, Connection, ...) or hold CR, LF or NUL. HEAD gets the
// head GET would have, without the body. HTTP/1.0 closes after the response unless the client
// asked for keep-alive.
//
//   admin::Server server;
//   sockaddr_in a = ...;  // 127.0.0.1:9901
//   RETURN_IF_ERROR(server.Start(reinterpret_cast<sockaddr*>(&a), sizeof(a),
//                                [](const admin::Request& r) { return admin::Response{...}; }));
//   ...
//   server.Stop();
#ifndef RINGWAY_ADMIN_SERVER_H_
#define RINGWAY_ADMIN_SERVER_H_

#include <sys/socket.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace ringway::admin {

// Views into the connection's buffer, valid for the duration of the handler call.
struct Request {
  std::string_view method;         // "GET", "POST", ...
  std::string_view path;           // target without the query, percent-decoding NOT applied
  std::string_view query;          // after '?', "" if none
  std::string_view body;           // whole body (Content-Length only)
  std::string_view authorization;  // the Authorization field value, "" if absent
  std::string_view content_type;   // the Content-Type field value, "" if absent
  std::string_view host;           // the Host field (or an absolute target's authority)
  std::string_view origin;         // the Origin field value, "" if absent
  bool loopback_peer = false;      // peer is 127.0.0.0/8 or ::1 (or a Unix socket)
};

struct Response {
  uint16_t status = 200;                          // 200..599; anything else is answered 500
  std::string content_type = "application/json";  // "" leaves the field out
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra fields
};

using Handler = std::function<Response(const Request&)>;

struct ServerOptions {
  uint32_t max_connections = 64;         // more are answered 503 and closed
  uint32_t max_head = 16 * 1024;         // request head larger: 431 and close
  uint32_t max_body = 1024 * 1024;       // Content-Length larger: 413 and close, body unread
  uint32_t idle_timeout_ms = 30'000;     // keep-alive idle between requests
  uint32_t request_timeout_ms = 10'000;  // whole request (head + body): 408 and close
  uint32_t send_timeout_ms = 10'000;     // whole response taken by the client, else closed
  std::string thread_name = "rw-admin";  // the server thread's name (top -H, perf)
};

class ServerLoop;

class Server {
 public:
  Server();
  ~Server();  // Stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds (SO_REUSEADDR, IPV6_V6ONLY for IPv6), listens, sets up the ring and starts the
  // thread. Errors name the address.
  absl::Status Start(const sockaddr* addr, socklen_t len, Handler handler, ServerOptions opts = {});
  // The same with a socket that already listens (tests, binary upgrade). The server owns
  // listen_fd from this call on, also when it fails, and closes it at Stop (dup() it first to
  // keep it).
  absl::Status StartOnFd(int listen_fd, Handler handler, ServerOptions opts = {});

  // The bound port (useful when binding port 0); 0 before a successful start or for a
  // non-IP socket.
  uint16_t port() const { return port_; }

  // Closes every connection and the listening socket and joins the thread. Thread-safe and
  // idempotent; not to be called from the handler (it would join its own thread).
  void Stop();

 private:
  std::mutex mu_;
  std::unique_ptr<ServerLoop> loop_;
  std::thread thread_;
  uint16_t port_ = 0;
};

}  // namespace ringway::admin

#endif  // RINGWAY_ADMIN_SERVER_H_
