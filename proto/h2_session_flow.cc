// The HTTP/2 server connection, part two: DATA received (streamed to the handler as it
// arrives, never gathered) and sent (a frame header for the proxy's own buffer), and flow
// control both ways: windows, WINDOW_UPDATE received and sent, per-stream backpressure.
#include <algorithm>

#include "proto/h2_frame_writer.h"
#include "proto/h2_session.h"

namespace ringway::h2 {
namespace {

// A WINDOW_UPDATE below this moves too little to be worth its frame; a few are normal (tiny
// windows exist), a stream of them is a flood.
constexpr uint32_t kSmallWindowUpdate = 1024;

}  // namespace

// ---------------------------------------------------------------------------------------------
// DATA

void Session::StartData(const FrameHeader& h, uint8_t pad_length) {
  DataLayout l;
  const Error e = DecodeDataLayout(h, pad_length, &l);
  if (!e.ok()) return Fail(e);
  const uint32_t id = h.stream_id;
  const Lookup k = Classify(id, FrameType::kData);
  if (k.verdict == FrameVerdict::kConnProtocolError) {
    return Fail(ErrorCode::kProtocolError, "DATA on an idle stream");
  }
  if (k.verdict == FrameVerdict::kConnStreamClosed) {
    return Fail(ErrorCode::kStreamClosed, "DATA on a closed stream");
  }
  // The connection window counts every DATA frame, whatever its stream (RFC 9113 6.9).
  if (l.flow_controlled_length > conn_recv_window_) {
    return Fail(ErrorCode::kFlowControlError, "DATA beyond the connection window");
  }
  conn_recv_window_ -= l.flow_controlled_length;

  data_ = RxData{id, l.data_length, l.flow_controlled_length - l.data_offset - l.data_length,
                 l.end_stream, false};
  rx_ = data_.data_left + data_.pad_left > 0 ? Rx::kDataPayload : Rx::kFrames;

  // Anything not delivered is dropped here and credited back to the connection at once.
  auto drop = [&] {
    stats_.discarded_data_bytes += l.data_length;
    CreditConnection(l.flow_controlled_length);
  };
  Stream* s = k.stream;
  switch (k.verdict) {
    case FrameVerdict::kIgnore:
      drop();
      Charge(Glitch::kClosedStreamFrame);
      return;
    case FrameVerdict::kStreamClosed:
      drop();
      return StreamError(id, ErrorCode::kStreamClosed, "DATA on a closed stream");
    case FrameVerdict::kProcess:
      break;
    case FrameVerdict::kConnStreamClosed:
    case FrameVerdict::kConnProtocolError:
      return;  // handled above
  }
  if (l.flow_controlled_length > s->recv_window) {
    drop();
    return StreamError(id, ErrorCode::kFlowControlError, "DATA beyond the stream window");
  }
  if (role_ == Role::kClient && !s->response_received) {
    // RFC 9113 section 8.1: a response's DATA follows its final head.
    drop();
    return StreamError(id, ErrorCode::kProtocolError, "DATA before the response head");
  }
  if (role_ == Role::kClient && s->no_content && l.data_length > 0) {
    // A response to HEAD, a 204 or a 304 has no content (RFC 9113 section 8.1.1, RFC 9110
    // section 6.4.1); passing bytes on would put an HTTP/1.1 client's connection out of step.
    drop();
    return StreamError(id, ErrorCode::kProtocolError, "DATA in a response without content");
  }
  s->recv_window -= l.flow_controlled_length;
  // RFC 9113 section 8.1.1: DATA beyond content-length, or END_STREAM short of it, is malformed;
  // caught before any of it is delivered.
  const uint64_t total = s->data_received + l.data_length;
  if (s->has_content_length &&
      (total > s->content_length || (l.end_stream && total != s->content_length))) {
    drop();
    return StreamError(id, ErrorCode::kProtocolError, "DATA does not match content-length");
  }
  s->data_received = total;
  const uint32_t overhead = l.flow_controlled_length - l.data_length;  // Pad Length + padding
  if (overhead > 0) {
    CreditStream(s, overhead);
    CreditConnection(overhead);
  }
  if (l.data_length == 0) {
    if (!l.end_stream) {
      Charge(Glitch::kEmptyData);
      return;
    }
    RecvEndStream(s);
    handler_->OnData(id, {}, /*end_stream=*/true);
    return;
  }
  data_.deliver = true;
}

void Session::ConsumeDataPayload(std::string_view& in) {
  if (data_.data_left > 0) {
    const uint32_t n = static_cast<uint32_t>(std::min<size_t>(in.size(), data_.data_left));
    const std::string_view piece = in.substr(0, n);
    in.remove_prefix(n);
    data_.data_left -= n;
    if (data_.deliver) {
      const uint32_t id = data_.stream_id;
      const bool last = data_.data_left == 0;
      const bool end_stream = last && data_.end_stream;
      // The proxy may have reset the stream between Feed calls, or from the last OnData.
      if (Stream* s = Find(id)) {
        s->unconsumed += n;
        conn_unconsumed_ += n;
        stats_.data_bytes += n;
        abuse_.UsefulBytes(n);
        if (end_stream) RecvEndStream(s);
        handler_->OnData(id, piece, end_stream);
        if (!last && Find(id) == nullptr) {
          data_.deliver = false;
          stats_.discarded_data_bytes += data_.data_left;
          CreditConnection(data_.data_left);
        }
      } else {
        data_.deliver = false;
        stats_.discarded_data_bytes += n + data_.data_left;
        CreditConnection(n + data_.data_left);
      }
    }
  }
  if (data_.data_left == 0) {
    const uint32_t m = static_cast<uint32_t>(std::min<size_t>(in.size(), data_.pad_left));
    in.remove_prefix(m);
    data_.pad_left -= m;
    if (data_.pad_left == 0) rx_ = Rx::kFrames;
  }
}

void Session::ProcessWindowUpdate(const FrameHeader& h, std::string_view payload) {
  WindowUpdateFrame f;
  const Error e = DecodeWindowUpdate(h, payload, &f);
  if (e.IsConnectionError()) return Fail(e);
  const uint32_t id = h.stream_id;
  if (e.ok() && f.increment < kSmallWindowUpdate && !Charge(Glitch::kSmallWindowUpdate)) return;
  if (id == 0) {
    conn_send_window_ += f.increment;
    if (conn_send_window_ > kMaxWindowSize) {
      return Fail(ErrorCode::kFlowControlError, "connection send window over 2^31-1");
    }
    return NotifySendWindows(0);
  }
  const Lookup k = Classify(id, FrameType::kWindowUpdate);
  switch (k.verdict) {
    case FrameVerdict::kConnProtocolError:
      return Fail(ErrorCode::kProtocolError, "WINDOW_UPDATE on an idle stream");
    case FrameVerdict::kConnStreamClosed:  // not produced for WINDOW_UPDATE
    case FrameVerdict::kIgnore:
      return;
    case FrameVerdict::kStreamClosed:
      return StreamError(id, ErrorCode::kStreamClosed, "WINDOW_UPDATE after RST_STREAM");
    case FrameVerdict::kProcess:
      break;
  }
  if (!e.ok()) return StreamError(id, e.code, e.detail, Glitch::kSmallWindowUpdate);
  k.stream->send_window += f.increment;
  if (k.stream->send_window > kMaxWindowSize) {
    return StreamError(id, ErrorCode::kFlowControlError, "stream send window over 2^31-1");
  }
  NotifySendWindows(id);
}

void Session::NotifySendWindows(uint32_t only_stream) {
  if (conn_send_window_ <= 0) return;
  notify_.clear();
  if (only_stream != 0) {
    Stream* s = Find(only_stream);
    if (s != nullptr && s->send_blocked && s->send_window > 0) {
      s->send_blocked = false;
      notify_.push_back(only_stream);
    }
  } else {
    for (Stream& s : streams_) {
      if (s.send_blocked && s.send_window > 0) {
        s.send_blocked = false;
        notify_.push_back(s.id);
      }
    }
  }
  // Ids first, calls after: a handler may close streams, which moves the vector.
  for (size_t i = 0; i < notify_.size() && !failed_; ++i) {
    if (Find(notify_[i]) != nullptr)
      handler_->OnSendWindow(notify_[i]);  // (a handler may close it)
  }
}

// ---------------------------------------------------------------------------------------------
// Sending DATA; releasing received DATA

uint32_t Session::SendableBytes(uint32_t stream_id) {
  if (failed_) return 0;
  Stream* s = Find(stream_id);
  if (s == nullptr || s->SendingDone() || !s->final_response_sent) return 0;
  const int64_t w = std::min({s->send_window, conn_send_window_, int64_t{peer_.max_frame_size}});
  if (w <= 0) {
    s->send_blocked = true;
    return 0;
  }
  return static_cast<uint32_t>(w);
}

uint64_t Session::SendWindow(uint32_t stream_id) const {
  if (failed_) return 0;
  const Stream* s = Find(stream_id);
  if (s == nullptr) return 0;
  const int64_t w = std::min(s->send_window, conn_send_window_);
  return w > 0 ? static_cast<uint64_t>(w) : 0;
}

bool Session::PrepareData(uint32_t stream_id, uint32_t n, bool end_stream,
                          std::span<char, kFrameHeaderSize> header) {
  if (failed_) return false;
  Stream* s = Find(stream_id);
  if (s == nullptr || s->SendingDone() || !s->final_response_sent) return false;
  if (n > 0) {
    const int64_t w = std::min({s->send_window, conn_send_window_, int64_t{peer_.max_frame_size}});
    if (int64_t{n} > w) return false;
    s->send_window -= n;
    conn_send_window_ -= n;
    abuse_.UsefulBytes(n);
  } else if (!end_stream) {
    return false;  // an empty DATA without END_STREAM is what we charge peers for
  }
  EncodeDataFrameHeader(stream_id, n, end_stream, header);
  if (end_stream) SendEndStream(s);
  return true;
}

void Session::ConsumeData(uint32_t stream_id, uint64_t n) {
  // Never credit more than was delivered: a window pushed past what the peer expects could
  // overflow its 2^31-1 and be our protocol error.
  n = std::min(n, conn_unconsumed_);
  if (n == 0 || failed_) return;
  conn_unconsumed_ -= n;
  if (Stream* s = Find(stream_id)) {
    const uint64_t m = std::min(n, s->unconsumed);
    s->unconsumed -= m;
    if (!s->ReceivingDone()) CreditStream(s, m);
  }
  CreditConnection(n);
}

void Session::CreditStream(Stream* s, uint64_t n) {
  s->recv_unacked += static_cast<uint32_t>(n);
  // Half a window at a time: fewer WINDOW_UPDATE frames, and the peer never stalls for one.
  const int64_t threshold = std::max<int64_t>(1, local_window_in_force_ / 2);
  if (s->recv_unacked < threshold || s->recv_unacked == 0) return;
  AppendWindowUpdate(s->id, s->recv_unacked, &output_);
  s->recv_window += s->recv_unacked;
  s->recv_unacked = 0;
}

void Session::CreditConnection(uint64_t n) {
  if (failed_) return;
  conn_recv_unacked_ += n;
  const uint64_t threshold = std::max<uint64_t>(1, limits_.connection_window / 2);
  if (conn_recv_unacked_ < threshold) return;
  AppendWindowUpdate(0, static_cast<uint32_t>(conn_recv_unacked_), &output_);
  conn_recv_window_ += static_cast<int64_t>(conn_recv_unacked_);
  conn_recv_unacked_ = 0;
}

}  // namespace ringway::h2
