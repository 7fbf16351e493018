#include "core/socket.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/ring.h"

namespace ringway::core {

absl::StatusOr<int> Listen(const sockaddr* addr, socklen_t len, int backlog) {
  int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoStatus(errno, "socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) {
    int e = errno;
    close(fd);
    return ErrnoStatus(e, "setsockopt(SO_REUSEPORT)");
  }
  if (addr->sa_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  if (bind(fd, addr, len) < 0) {
    int e = errno;
    close(fd);
    return ErrnoStatus(e, "bind");
  }
  if (listen(fd, backlog) < 0) {
    int e = errno;
    close(fd);
    return ErrnoStatus(e, "listen");
  }
  return fd;
}

absl::StatusOr<int> NewTcpSocket(int family) {
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoStatus(errno, "socket");
  SetNoDelay(fd);
  return fd;
}

void SetNoDelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

size_t PeerIp(int fd, char* buf, size_t cap) {
  sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) return 0;
  const char* r = nullptr;
  if (ss.ss_family == AF_INET) {
    r = inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr, buf,
                  static_cast<socklen_t>(cap));
  } else if (ss.ss_family == AF_INET6) {
    auto* a6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr)) {
      r = inet_ntop(AF_INET, &a6->sin6_addr.s6_addr[12], buf, static_cast<socklen_t>(cap));
    } else {
      r = inet_ntop(AF_INET6, &a6->sin6_addr, buf, static_cast<socklen_t>(cap));
    }
  }
  return r ? strlen(buf) : 0;
}

}  // namespace ringway::core
