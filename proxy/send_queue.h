// The bytes queued for one socket, in order, with who owns each piece.
//
// A piece is a provided buffer lent by the ring (returned when its bytes are sent), a pooled
// string the worker owns (head bytes it wrote), or static bytes (canned responses). One send is
// in flight per socket; it gathers up to kMaxIov pieces, and a short send leaves an offset into
// the first piece.
#ifndef RINGWAY_PROXY_SEND_QUEUE_H_
#define RINGWAY_PROXY_SEND_QUEUE_H_

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ringway::proxy {

struct SendPiece {
  const char* data = nullptr;
  uint32_t len = 0;
  int32_t bid = -1;              // provided buffer to return once sent, or -1
  std::string* owned = nullptr;  // pooled string to release once sent, or nullptr
};

class SendQueue {
 public:
  static constexpr int kMaxIov = 16;

  bool empty() const { return head_ == pieces_.size(); }
  size_t pieces() const { return pieces_.size() - head_; }
  uint64_t bytes() const { return bytes_; }

  void Push(const SendPiece& p) {
    if (p.len == 0) return;
    pieces_.push_back(p);
    bytes_ += p.len;
  }

  // Fills iov with the unsent bytes of up to kMaxIov pieces; returns the count.
  int Gather(iovec* iov) const {
    int n = 0;
    for (size_t i = head_; i < pieces_.size() && n < kMaxIov; ++i, ++n) {
      size_t skip = (i == head_) ? offset_ : 0;
      iov[n].iov_base = const_cast<char*>(pieces_[i].data + skip);
      iov[n].iov_len = pieces_[i].len - skip;
    }
    return n;
  }

  // Marks `sent` bytes as sent; calls release(piece) for each piece fully sent.
  template <typename F>
  void Advance(size_t sent, F&& release) {
    bytes_ -= sent;
    while (sent > 0 && head_ < pieces_.size()) {
      SendPiece& p = pieces_[head_];
      size_t left = p.len - offset_;
      if (sent < left) {
        offset_ += static_cast<uint32_t>(sent);
        return;
      }
      sent -= left;
      offset_ = 0;
      release(p);
      ++head_;
    }
    Compact();
  }

  // Releases every queued piece (connection closing).
  template <typename F>
  void Clear(F&& release) {
    for (size_t i = head_; i < pieces_.size(); ++i) release(pieces_[i]);
    pieces_.clear();
    head_ = 0;
    offset_ = 0;
    bytes_ = 0;
  }

 private:
  void Compact() {
    if (head_ == pieces_.size()) {
      pieces_.clear();
      head_ = 0;
    } else if (head_ > 32 && head_ * 2 > pieces_.size()) {
      pieces_.erase(pieces_.begin(), pieces_.begin() + static_cast<ptrdiff_t>(head_));
      head_ = 0;
    }
  }

  std::vector<SendPiece> pieces_;
  size_t head_ = 0;
  uint32_t offset_ = 0;
  uint64_t bytes_ = 0;
};

}  // namespace ringway::proxy

#endif  // RINGWAY_PROXY_SEND_QUEUE_H_
