// Handing listening sockets to a new process (upgrade.h).
#include "proxy/upgrade.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace ringway::proxy {

namespace {

constexpr size_t kMaxFds = 250;  // per message (the kernel's SCM_MAX_FD is 253)

absl::Status SendOne(int channel, const std::string& text, const int* fds, size_t n) {
  iovec iov{const_cast<char*>(text.data()), text.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<char> control(CMSG_SPACE(sizeof(int) * (n ? n : 1)), 0);
  if (n > 0) {
    msg.msg_control = control.data();
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * n);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * n);
    std::memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
  }
  ssize_t r;
  do {
    r = sendmsg(channel, &msg, MSG_NOSIGNAL);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return absl::UnavailableError(absl::StrCat("upgrade: sendmsg: ", strerror(errno)));
  return absl::OkStatus();
}

}  // namespace

absl::Status SendSockets(int channel, const std::vector<HandedListener>& listeners, int admin,
                         const std::string& admin_address, int metrics,
                         const std::string& metrics_address) {
  for (const HandedListener& l : listeners) {
    for (size_t from = 0; from < l.fds.size() || from == 0; from += kMaxFds) {
      const size_t n = std::min(kMaxFds, l.fds.size() - std::min(from, l.fds.size()));
      absl::Status st =
          SendOne(channel, absl::StrCat("L\x1f", l.name, "\x1f", l.address, "\x1f", n),
                  l.fds.data() + from, n);
      if (!st.ok()) return st;
      if (l.fds.size() <= from + n) break;
    }
  }
  if (admin >= 0) {
    absl::Status st = SendOne(channel, absl::StrCat("A\x1f", admin_address), &admin, 1);
    if (!st.ok()) return st;
  }
  if (metrics >= 0) {
    absl::Status st = SendOne(channel, absl::StrCat("M\x1f", metrics_address), &metrics, 1);
    if (!st.ok()) return st;
  }
  return SendOne(channel, "E", nullptr, 0);
}

absl::StatusOr<Inherited> ReceiveSockets(int channel) {
  Inherited out;
  for (int messages = 0; messages < 100'000; ++messages) {
    pollfd p{channel, POLLIN, 0};
    if (poll(&p, 1, 10'000) <= 0) {
      out.CloseRest();
      return absl::DeadlineExceededError("upgrade: the old process sent no sockets within 10 s");
    }
    char text[1024];
    iovec iov{text, sizeof(text) - 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    ssize_t n;
    do {
      n = recvmsg(channel, &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
      out.CloseRest();
      return absl::UnavailableError("upgrade: the old process closed the channel early");
    }
    text[n] = '\0';
    std::vector<int> fds;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      const size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      const size_t at = fds.size();
      fds.resize(at + k);
      std::memcpy(fds.data() + at, CMSG_DATA(c), k * sizeof(int));
    }
    const std::vector<std::string> words = absl::StrSplit(std::string(text, n), '\x1f');
    if (words.size() == 1 && words[0] == "E") return out;
    if (words.size() == 4 && words[0] == "L") {
      HandedListener* l = nullptr;
      for (auto& x : out.listeners) {
        if (x.name == words[1] && x.address == words[2]) l = &x;
      }
      if (!l) {
        out.listeners.push_back({words[1], words[2], {}});
        l = &out.listeners.back();
      }
      l->fds.insert(l->fds.end(), fds.begin(), fds.end());
      continue;
    }
    if (words.size() == 2 && words[0] == "A" && fds.size() == 1) {
      if (out.admin >= 0) close(out.admin);
      out.admin = fds[0];
      out.admin_address = words[1];
      continue;
    }
    if (words.size() == 2 && words[0] == "M" && fds.size() == 1) {
      if (out.metrics >= 0) close(out.metrics);
      out.metrics = fds[0];
      out.metrics_address = words[1];
      continue;
    }
    for (int fd : fds) close(fd);
    out.CloseRest();
    return absl::DataLossError(absl::StrCat("upgrade: unexpected message '", text, "'"));
  }
  out.CloseRest();
  return absl::DataLossError("upgrade: too many messages");
}

std::vector<int> Inherited::Take(const std::string& name, const std::string& address) {
  for (auto& l : listeners) {
    if (l.name == name && l.address == address) return std::move(l.fds);
  }
  return {};
}

int Inherited::TakeAdmin(const std::string& address) {
  if (admin < 0 || admin_address != address) return -1;
  const int fd = admin;
  admin = -1;
  return fd;
}

int Inherited::TakeMetrics(const std::string& address) {
  if (metrics < 0 || metrics_address != address) return -1;
  const int fd = metrics;
  metrics = -1;
  return fd;
}

void Inherited::CloseRest() {
  for (auto& l : listeners) {
    for (int fd : l.fds) close(fd);
    l.fds.clear();
  }
  if (admin >= 0) close(admin);
  admin = -1;
  if (metrics >= 0) close(metrics);
  metrics = -1;
}

}  // namespace ringway::proxy
