// Binary upgrade: a new ringway process takes over the listening sockets of the running one.
//
// On SIGUSR2 (or `ringway --upgrade`), the running process starts the binary at its path again
// (the file a package upgrade replaced) with the same arguments, and hands it every listening
// socket over a Unix SOCK_SEQPACKET pair with SCM_RIGHTS: each listener's sockets (one per
// worker, SO_REUSEPORT), the admin listener's and the metrics listener's. The new process loads
// its config, serves on the sockets it was given where a listener has the same name and address
// (and opens the others), then says it is ready on the same channel. Only then does the old
// process stop accepting and drain as on SIGTERM; the sockets stay open throughout, so a
// connection waiting in an accept queue is taken by one process or the other and none is
// refused or reset. If the new process fails to start, the old one goes on serving and logs why.
//
// The channel's messages (fields split by 0x1f): "L name address n" with n sockets attached,
// "A address" with the admin socket, "M address" with the metrics listener's socket
// (global.admin.metrics_bind), "E" at the end; the new process answers one byte, 'R', once it
// serves.
#ifndef RINGWAY_PROXY_UPGRADE_H_
#define RINGWAY_PROXY_UPGRADE_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ringway::proxy {

// The environment variable that gives the new process its end of the channel.
inline constexpr const char* kUpgradeEnv = "RINGWAY_UPGRADE_FD";

struct HandedListener {
  std::string name, address;
  std::vector<int> fds;
};

struct Inherited {
  std::vector<HandedListener> listeners;
  int admin = -1;
  std::string admin_address;
  int metrics = -1;  // global.admin.metrics_bind's socket
  std::string metrics_address;
  // Takes the sockets of listener (name, address), or an empty list. The caller owns them.
  std::vector<int> Take(const std::string& name, const std::string& address);
  // Takes the admin socket if it listens on `address`; -1 otherwise.
  int TakeAdmin(const std::string& address);
  // Takes the metrics listener's socket if it listens on `address`; -1 otherwise.
  int TakeMetrics(const std::string& address);
  // Closes what nobody took.
  void CloseRest();
};

// Old process: sends the sockets (they stay open here too). `admin` and `metrics` are -1 when
// there is no such listener.
absl::Status SendSockets(int channel, const std::vector<HandedListener>& listeners, int admin,
                         const std::string& admin_address, int metrics = -1,
                         const std::string& metrics_address = "");
// New process: receives them (bounded wait).
absl::StatusOr<Inherited> ReceiveSockets(int channel);

}  // namespace ringway::proxy

#endif  // RINGWAY_PROXY_UPGRADE_H_
