#include "admin/server.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <future>
#include <memory>

#include "absl/strings/str_cat.h"
#include "admin/server_loop.h"
#include "core/log.h"
#include "core/ring.h"
#include "core/thread_name.h"

namespace ringway::admin {

using core::LogLevel;

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
