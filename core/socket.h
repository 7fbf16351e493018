// Socket set-up done outside the ring: listening sockets and socket options.
//
//   absl::StatusOr<int> fd = core::Listen(addr, addrlen, /*backlog=*/4096);
#ifndef RINGWAY_CORE_SOCKET_H_
#define RINGWAY_CORE_SOCKET_H_

#include <sys/socket.h>

#include <cstddef>
#include <string_view>

#include "absl/status/statusor.h"

namespace ringway::core {

// A non-blocking TCP listening socket with SO_REUSEADDR and SO_REUSEPORT, so that every worker
// binds its own socket to the same address and the kernel spreads connections between them.
absl::StatusOr<int> Listen(const sockaddr* addr, socklen_t len, int backlog);

// A new TCP socket for an outgoing connection (close-on-exec, TCP_NODELAY set).
absl::StatusOr<int> NewTcpSocket(int family);

void SetNoDelay(int fd);

// Writes the peer's IP address (no port) as text into buf; returns its length (0 on error).
size_t PeerIp(int fd, char* buf, size_t cap);

}  // namespace ringway::core

#endif  // RINGWAY_CORE_SOCKET_H_
