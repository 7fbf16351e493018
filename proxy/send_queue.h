// The bytes queued for one socket, in order, with who owns each piece.
//
// A piece is a provided buffer lent by the ring (returned when its bytes are sent), a pooled
// string the worker owns (head bytes it wrote, small payloads it copied), static bytes
// (canned responses), or bytes waiting in the connection's splice pipe (kPipe: no data
// pointer; they leave by splice(2), never in a gather list). One send is in flight per socket; it
// gathers up to kMaxIov pieces, and a short send leaves an offset into the first piece.
//
// Besides the bytes to send, the queue counts what its pieces pin in memory (`charged`): a
// provided buffer pins all of its buffer whatever it holds, a pooled string its capacity. The
// worker's backpressure compares that charge, not the byte count, with its limits, so a peer
// cannot pin many buffers by making each carry a few bytes.
#ifndef RINGWAY_PROXY_SEND_QUEUE_H_
#define RINGWAY_PROXY_SEND_QUEUE_H_

#include <sys/uio.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ringway::proxy {

struct SendPiece {
  static constexpr int32_t kPipe = -2;  // `bid` of bytes that wait in the splice pipe
  const char* data = nullptr;
  uint32_t len = 0;
  int32_t bid = -1;              // provided buffer to return once sent, or -1
  std::string* owned = nullptr;  // pooled string to release once sent, or nullptr
  uint32_t charge = 0;           // memory the piece pins; 0 means `len`
};

class SendQueue {
 public:
  static constexpr int kMaxIov = 64;

  bool empty() const { return head_ == pieces_.size(); }
  size_t pieces() const { return pieces_.size() - head_; }
  uint64_t bytes() const { return bytes_; }
  uint64_t charged() const { return charged_; }

  // A mark for DropFrom: where the next piece pushed will be.
  uint64_t Mark() const { return first_seq_ + pieces_.size(); }

  // Takes back every piece pushed since `mark` (releasing each), if none of them has begun to
  // be sent. The caller knows that no send gathered them yet; the queue knows whether the
  // first of them is partly sent. False: nothing dropped.
  template <typename F>
  bool DropFrom(uint64_t mark, F&& release) {
    if (mark < first_seq_ + head_ || mark > Mark()) return false;
    const size_t from = static_cast<size_t>(mark - first_seq_);
    if (from == head_ && offset_ != 0) return false;
    for (size_t i = from; i < pieces_.size(); ++i) {
      bytes_ -= pieces_[i].len - (i == head_ ? offset_ : 0);
      charged_ -= pieces_[i].charge;
      release(pieces_[i]);
    }
    pieces_.resize(from);
    Compact();
    return true;
  }

  void Push(SendPiece p) {
    if (p.len == 0) return;
    if (p.charge == 0) p.charge = p.len;
    pieces_.push_back(p);
    bytes_ += p.len;
    charged_ += p.charge;
  }

  // Copies p[0, n) onto the end of the last piece when it is a pooled string, so that a short
  // payload travels with the head before it instead of pinning a buffer of its own. Only while
  // no send refers to the queue's pieces (growing the string may move it). `charge_of` gives
  // the string's new charge. False: nothing appended.
  template <typename ChargeOf>
  bool AppendToTail(const char* p, size_t n, ChargeOf&& charge_of) {
    if (empty()) return false;
    SendPiece& t = pieces_.back();
    if (t.owned == nullptr || t.data != t.owned->data() || t.len != t.owned->size()) return false;
    t.owned->append(p, n);
    t.data = t.owned->data();
    t.len = static_cast<uint32_t>(t.owned->size());
    bytes_ += n;
    const uint32_t charge = charge_of(*t.owned);
    charged_ = charged_ - t.charge + charge;
    t.charge = charge;
    return true;
  }

  // Lets `f` change each queued piece's storage in place (the same bytes, the same length: a
  // copy replacing a buffer), then counts the charges again. Only for a queue no send refers
  // to.
  template <typename F>
  void Rewrite(F&& f) {
    charged_ = 0;
    for (size_t i = head_; i < pieces_.size(); ++i) {
      f(pieces_[i]);
      if (pieces_[i].charge == 0) pieces_[i].charge = pieces_[i].len;
      charged_ += pieces_[i].charge;
    }
  }
  // The first piece's unsent part (its data and length past any offset). The queue is not empty.
  SendPiece Front() const {
    SendPiece p = pieces_[head_];
    p.data += offset_;
    p.len -= offset_;
    return p;
  }

  // Bytes spliced into the connection's pipe: they extend a pipe piece at the tail, or start
  // one. (The pipe is first in, first out, like the queue, so pieces keep the bytes' order.)
  void PushPipe(uint32_t n) {
    if (n == 0) return;
    if (!empty() && pieces_.back().bid == SendPiece::kPipe) {
      pieces_.back().len += n;
      pieces_.back().charge += n;
      bytes_ += n;
      charged_ += n;
      return;
    }
    Push({nullptr, n, SendPiece::kPipe, nullptr, n});
  }

  // Whether a piece pushed since `mark` is a pipe piece.
  bool PipeFrom(uint64_t mark) const {
    for (uint64_t i = std::max(mark, first_seq_ + head_); i < Mark(); ++i) {
      if (pieces_[static_cast<size_t>(i - first_seq_)].bid == SendPiece::kPipe) return true;
    }
    return false;
  }

  // Whether the first piece's bytes wait in the pipe.
  bool FrontIsPipe() const { return !empty() && pieces_[head_].bid == SendPiece::kPipe; }

  // The length of the pipe piece `i` pieces from the front (where a Gather of `i` pieces
  // stopped), 0 when that piece is not a pipe piece or there is none.
  uint32_t PipeAt(int i) const {
    const size_t k = head_ + static_cast<size_t>(i);
    if (k >= pieces_.size() || pieces_[k].bid != SendPiece::kPipe) return 0;
    return pieces_[k].len - (i == 0 ? offset_ : 0);
  }

  // Fills iov with the unsent bytes of up to kMaxIov pieces, stopping at a pipe piece;
  // returns the count.
  int Gather(iovec* iov) const { return GatherFrom(0, iov); }

  // The same from the piece `from` pieces past the front.
  int GatherFrom(int from, iovec* iov) const {
    int n = 0;
    for (size_t i = head_ + static_cast<size_t>(from); i < pieces_.size() && n < kMaxIov;
         ++i, ++n) {
      if (pieces_[i].bid == SendPiece::kPipe) break;
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
      charged_ -= p.charge;
      release(p);
      ++head_;
    }
    Compact();
  }

  // Releases every queued piece (connection closing).
  template <typename F>
  void Clear(F&& release) {
    for (size_t i = head_; i < pieces_.size(); ++i) release(pieces_[i]);
    first_seq_ += pieces_.size();
    pieces_.clear();
    head_ = 0;
    offset_ = 0;
    bytes_ = 0;
    charged_ = 0;
  }

 private:
  void Compact() {
    if (head_ == pieces_.size()) {
      first_seq_ += pieces_.size();
      pieces_.clear();
      head_ = 0;
    } else if (head_ > 32 && head_ * 2 > pieces_.size()) {
      pieces_.erase(pieces_.begin(), pieces_.begin() + static_cast<ptrdiff_t>(head_));
      first_seq_ += head_;
      head_ = 0;
    }
  }

  std::vector<SendPiece> pieces_;
  uint64_t first_seq_ = 0;  // sequence number of pieces_[0] (for marks)
  size_t head_ = 0;
  uint32_t offset_ = 0;
  uint64_t bytes_ = 0;
  uint64_t charged_ = 0;
};

}  // namespace ringway::proxy

#endif  // RINGWAY_PROXY_SEND_QUEUE_H_
