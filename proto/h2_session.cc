// The HTTP/2 server connection, part one: construction, the receive loop (preface, frame
// headers, frames gathered when split), stream bookkeeping, control frames (PRIORITY,
// RST_STREAM, SETTINGS, PING, GOAWAY), shutdown, time and failure. DATA and flow control are in
// h2_session_flow.cc, field blocks and response heads in h2_session_headers.cc.
//
// Handlers can call back into the session (a response from OnRequest, a reset from OnData), so
// no Stream pointer is kept across a handler call: streams are looked up again by id after it.
#include "proto/h2_session.h"

#include <algorithm>

#include "proto/h2_frame_writer.h"

namespace ringway::h2 {
namespace {

// Opaque data of the PING that times the second GOAWAY of a graceful shutdown ("ringway!").
constexpr uint64_t kShutdownPing = 0x72696e6777617921;
// Opaque data of a client's liveness PING ("ringway?").
constexpr uint64_t kKeepalivePing = 0x72696e677761793f;

const char* GlitchDetail(Glitch g) {
  switch (g) {
    case Glitch::kSettings:
      return "SETTINGS flood";
    case Glitch::kPing:
      return "PING flood";
    case Glitch::kPriority:
      return "PRIORITY flood";
    case Glitch::kRstStream:
      return "RST_STREAM flood";
    case Glitch::kSmallWindowUpdate:
      return "WINDOW_UPDATE flood";
    case Glitch::kEmptyData:
      return "empty DATA flood";
    case Glitch::kEmptyContinuation:
      return "empty CONTINUATION flood";
    case Glitch::kUnknownFrame:
      return "unknown frame flood";
    case Glitch::kClosedStreamFrame:
      return "frames on closed streams";
    case Glitch::kUnsolicitedAck:
      return "unsolicited ACK flood";
    case Glitch::kStreamError:
      return "too many stream errors";
    case Glitch::kRefusedStream:
      return "too many refused streams";
    case Glitch::kCount:
      break;
  }
  return "too many glitches";
}

}  // namespace

Session::Session(Role role, const SessionLimits& limits, Handler* handler, uint64_t now_ms)
    : role_(role),
      limits_(limits),
      handler_(handler),
      now_ms_(now_ms),
      max_frame_accept_(std::clamp(limits.max_frame_size, kMinMaxFrameSize, kMaxMaxFrameSize)),
      settings_sent_at_(now_ms),
      // Until the peer acknowledges our HEADER_TABLE_SIZE its encoder may use 4096; a larger
      // decoder table is harmless (the peer never refers past what it keeps).
      decoder_(std::max(limits.header_table_size, hpack::kDefaultTableSize),
               limits.max_header_list_size),
      closed_(limits.closed_stream_memory),
      abuse_(limits.abuse, now_ms) {
  limits_.max_frame_size = max_frame_accept_;
  limits_.initial_stream_window = std::min(limits_.initial_stream_window, kMaxWindowSize);
  limits_.connection_window =
      std::clamp(limits_.connection_window, kDefaultInitialWindowSize, kMaxWindowSize);

  if (role_ == Role::kClient) {
    // The client speaks first, with the magic string; the server's preface is its SETTINGS.
    output_.assign(kClientPreface);
    rx_ = Rx::kFrames;
  }
  Setting settings[8];
  size_t n = 0;
  if (limits_.header_table_size != hpack::kDefaultTableSize) {
    settings[n++] = {SettingId::kHeaderTableSize, limits_.header_table_size};
  }
  settings[n++] = {SettingId::kEnablePush, 0};
  // A client takes no stream from the server (push is off): its concurrency is not announced.
  if (role_ == Role::kServer) {
    settings[n++] = {SettingId::kMaxConcurrentStreams, limits_.max_concurrent_streams};
  }
  if (limits_.initial_stream_window != kDefaultInitialWindowSize) {
    settings[n++] = {SettingId::kInitialWindowSize, limits_.initial_stream_window};
  }
  if (max_frame_accept_ != kDefaultMaxFrameSize) {
    settings[n++] = {SettingId::kMaxFrameSize, max_frame_accept_};
  }
  settings[n++] = {SettingId::kMaxHeaderListSize, limits_.max_header_list_size};
  // Priorities are not used (RFC 9218 section 2.1); the client can skip sending them.
  if (role_ == Role::kServer) settings[n++] = {SettingId::kNoRfc7540Priorities, 1};
  if (role_ == Role::kServer && limits_.enable_connect_protocol) {
    settings[n++] = {SettingId::kEnableConnectProtocol, 1};
  }
  AppendSettings(std::span<const Setting>(settings, n), &output_);
  const uint32_t grow = limits_.connection_window - kDefaultInitialWindowSize;
  if (grow > 0) {
    AppendWindowUpdate(0, grow, &output_);
    conn_recv_window_ += grow;
  }
}

// ---------------------------------------------------------------------------------------------
// Receiving

FeedResult Session::Feed(std::string_view bytes) {
  if (failed_) return failure_;
  if (in_feed_) {
    // The proxy's bug, not the peer's: a handler fed the session from inside Feed.
    Fail(ErrorCode::kInternalError, "Feed called from a handler");
    return failure_;
  }
  in_feed_ = true;
  streams_this_feed_ = 0;
  while (!bytes.empty() && !failed_) {
    switch (rx_) {
      case Rx::kPreface:
        ConsumePreface(bytes);
        break;
      case Rx::kFrames:
        ConsumeFrame(bytes);
        break;
      case Rx::kDataPayload:
        ConsumeDataPayload(bytes);
        break;
    }
  }
  in_feed_ = false;
  return failed_ ? failure_ : FeedResult{};
}

void Session::ConsumePreface(std::string_view& in) {
  std::string_view have = in;
  if (!partial_.empty()) {
    const size_t take = std::min(kClientPreface.size() - partial_.size(), in.size());
    partial_.append(in.substr(0, take));
    in.remove_prefix(take);
    have = partial_;
  }
  switch (MatchClientPreface(have)) {
    case PrefaceStatus::kMismatch:
      // RFC 9113 section 3.4; often an HTTP/1.1 client on an h2-only port.
      Fail(ErrorCode::kProtocolError, "invalid connection preface");
      return;
    case PrefaceStatus::kNeedMore:
      if (partial_.empty()) {
        partial_.assign(in);
        in = {};
      }
      return;
    case PrefaceStatus::kMatch:
      if (partial_.empty()) {
        in.remove_prefix(kClientPreface.size());
      } else {
        partial_.clear();
      }
      rx_ = Rx::kFrames;
      return;
  }
}

void Session::ConsumeFrame(std::string_view& in) {
  if (partial_.empty()) {
    const ReadResult r = ReadFrame(in, max_frame_accept_);
    if (r.status == ReadStatus::kError) return Fail(r.error);
    if (!r.has_header) {  // under 9 bytes
      partial_.assign(in);
      partial_checked_ = false;
      in = {};
      return;
    }
    if (!OnFrameHeader(r.header)) return;
    const FrameHeader& h = r.header;
    if (h.type == FrameType::kData) {
      // DATA is never gathered: once the header (and Pad Length) is in, the payload is
      // delivered piece by piece from the input itself.
      const size_t need = kFrameHeaderSize + (h.has(kFlagPadded) && h.length > 0 ? 1 : 0);
      if (in.size() < need) {
        partial_.assign(in);
        partial_checked_ = true;
        in = {};
        return;
      }
      const uint8_t pad = need > kFrameHeaderSize ? static_cast<uint8_t>(in[kFrameHeaderSize]) : 0;
      in.remove_prefix(need);
      return StartData(h, pad);
    }
    if (r.status == ReadStatus::kNeedMore) {
      partial_.reserve(kFrameHeaderSize + h.length);
      partial_.assign(in);
      partial_checked_ = true;
      in = {};
      return;
    }
    in.remove_prefix(r.consumed);
    return ProcessFrame(h, r.payload);
  }

  // Gathering a frame split across Feed calls: its header first.
  if (partial_.size() < kFrameHeaderSize) {
    const size_t take = std::min(kFrameHeaderSize - partial_.size(), in.size());
    partial_.append(in.substr(0, take));
    in.remove_prefix(take);
    if (partial_.size() < kFrameHeaderSize) return;
  }
  FrameHeader h;
  DecodeFrameHeader(partial_, &h);
  if (!partial_checked_) {
    if (h.length > max_frame_accept_) {
      return Fail(ErrorCode::kFrameSizeError, "frame larger than SETTINGS_MAX_FRAME_SIZE");
    }
    if (!OnFrameHeader(h)) return;
    partial_checked_ = true;
  }
  if (h.type == FrameType::kData) {
    const size_t need = kFrameHeaderSize + (h.has(kFlagPadded) && h.length > 0 ? 1 : 0);
    if (partial_.size() < need) {
      if (in.empty()) return;
      partial_.push_back(in[0]);
      in.remove_prefix(1);
    }
    const uint8_t pad =
        need > kFrameHeaderSize ? static_cast<uint8_t>(partial_[kFrameHeaderSize]) : 0;
    partial_.clear();
    return StartData(h, pad);
  }
  const size_t total = kFrameHeaderSize + h.length;
  const size_t take = std::min(total - partial_.size(), in.size());
  partial_.append(in.substr(0, take));
  in.remove_prefix(take);
  if (partial_.size() < total) return;
  ProcessFrame(h, std::string_view(partial_).substr(kFrameHeaderSize));
  partial_.clear();
}

bool Session::OnFrameHeader(const FrameHeader& h) {
  // RFC 9113 section 3.4: the client preface ends with a SETTINGS frame.
  if (!got_peer_settings_ && (h.type != FrameType::kSettings || h.has(kFlagAck))) {
    Fail(ErrorCode::kProtocolError, "first frame is not SETTINGS");
    return false;
  }
  // RFC 9113 sections 4.3, 6.10: a field block is a contiguous run of frames, unknown types
  // included (section 5.5).
  if (block_.stream_id != 0) {
    if (h.type != FrameType::kContinuation || h.stream_id != block_.stream_id) {
      Fail(ErrorCode::kProtocolError, "frame inside a field block");
      return false;
    }
  } else if (h.type == FrameType::kContinuation) {
    Fail(ErrorCode::kProtocolError, "CONTINUATION without a field block");
    return false;
  }
  return true;
}

void Session::ProcessFrame(const FrameHeader& h, std::string_view payload) {
  switch (h.type) {
    case FrameType::kData:
      return;  // handled by StartData
    case FrameType::kHeaders:
      return ProcessHeaders(h, payload);
    case FrameType::kPriority:
      return ProcessPriority(h, payload);
    case FrameType::kRstStream:
      return ProcessRstStream(h, payload);
    case FrameType::kSettings:
      return ProcessSettings(h, payload);
    case FrameType::kPushPromise: {
      if (role_ == Role::kClient) {
        // We announced SETTINGS_ENABLE_PUSH = 0 (RFC 9113 section 6.6).
        return Fail(ErrorCode::kProtocolError, "PUSH_PROMISE with push disabled");
      }
      PushPromiseFrame f;
      return Fail(DecodePushPromise(h, payload, Role::kServer, &f));  // always an error here
    }
    case FrameType::kPing:
      return ProcessPing(h, payload);
    case FrameType::kGoaway:
      return ProcessGoaway(h, payload);
    case FrameType::kWindowUpdate:
      return ProcessWindowUpdate(h, payload);
    case FrameType::kContinuation:
      return ProcessContinuation(h, payload);
  }
  // Extension frames are ignored (RFC 9113 section 5.5); Chrome sends GREASE types.
  Charge(Glitch::kUnknownFrame);
}

// ---------------------------------------------------------------------------------------------
// Streams

Session::Lookup Session::Classify(uint32_t id, FrameType type) {
  // Even ids belong to the server, which never opens one: always idle.
  if (id > last_stream_id_ || id % 2 == 0) {
    return {ClassifyFrame(StreamState::kIdle, type), nullptr};
  }
  if (Stream* s = Find(id)) return {ClassifyFrame(s->state, type), s};
  return {ClassifyClosedFrame(closed_.Find(id), type), nullptr};
}

Stream* Session::Find(uint32_t id) {
  auto it = std::lower_bound(streams_.begin(), streams_.end(), id,
                             [](const Stream& s, uint32_t v) { return s.id < v; });
  return it != streams_.end() && it->id == id ? &*it : nullptr;
}

const Stream* Session::Find(uint32_t id) const { return const_cast<Session*>(this)->Find(id); }

StreamState Session::stream_state(uint32_t id) const {
  if (const Stream* s = Find(id)) return s->state;
  return id > last_stream_id_ || id == 0 || id % 2 == 0 ? StreamState::kIdle : StreamState::kClosed;
}

void Session::RecvEndStream(Stream* s) {
  Transition(&s->state, StreamEvent::kRecvEndStream);
  if (s->state == StreamState::kClosed) CloseStream(s->id, CloseCause::kEndStream);
}

void Session::SendEndStream(Stream* s) {
  Transition(&s->state, StreamEvent::kSendEndStream);
  if (s->state == StreamState::kClosed) CloseStream(s->id, CloseCause::kEndStream);
}

void Session::CloseStream(uint32_t id, CloseCause cause) {
  auto it = std::lower_bound(streams_.begin(), streams_.end(), id,
                             [](const Stream& s, uint32_t v) { return s.id < v; });
  if (it == streams_.end() || it->id != id) return;
  streams_.erase(it);
  closed_.Add(id, cause);
  if (cause == CloseCause::kEndStream) abuse_.UsefulRequest();
}

void Session::StreamError(uint32_t id, ErrorCode code, const char* detail, Glitch glitch) {
  if (!Charge(glitch) || !RoomForReply()) return;
  ++stats_.stream_errors;
  AppendRstStream(id, code, &output_);
  if (Find(id) == nullptr) return;
  CloseStream(id, CloseCause::kLocalReset);
  handler_->OnStreamClosed(id, code, /*by_peer=*/false);
}

// ---------------------------------------------------------------------------------------------
// Other frames

void Session::ProcessPriority(const FrameHeader& h, std::string_view payload) {
  Priority p;
  const Error e = DecodePriority(h, payload, &p);
  if (e.IsConnectionError()) return Fail(e);
  if (!Charge(Glitch::kPriority)) return;
  if (e.ok()) return;  // RFC 9113 section 5.3.2: priority signals are ignored
  // A stream error. On a live stream it ends the stream. An idle stream is closed by our
  // RST_STREAM, so its id counts as used: a HEADERS on it later is ignored like any frame after
  // our reset. A closed stream is left alone (section 5.1: only PRIORITY is sent on it).
  const uint32_t id = h.stream_id;
  const bool idle = id > last_stream_id_ || id % 2 == 0;
  if (!idle && Find(id) == nullptr) return;
  // No RST_STREAM may name an idle stream (section 6.4): a client's idle ids are its own to
  // open, and even ids are the server's, which never opens one. The bad signal is ignored like
  // any priority signal.
  if (idle && (role_ == Role::kClient || id % 2 == 0)) return;
  if (idle && id % 2 == 1) {
    last_stream_id_ = id;
    closed_.Add(id, CloseCause::kLocalReset);
  }
  StreamError(id, e.code, e.detail);
}

void Session::ProcessRstStream(const FrameHeader& h, std::string_view payload) {
  RstStreamFrame f;
  const Error e = DecodeRstStream(h, payload, &f);
  if (!e.ok()) return Fail(e);
  const uint32_t id = h.stream_id;
  const Lookup k = Classify(id, FrameType::kRstStream);
  if (k.verdict == FrameVerdict::kConnProtocolError) {
    return Fail(ErrorCode::kProtocolError, "RST_STREAM on an idle stream");
  }
  if (k.stream == nullptr) {
    // Already closed: crossing our RST_STREAM or END_STREAM is normal; anything else is noise.
    const CloseCause c = closed_.Find(id);
    if (c == CloseCause::kPeerReset || c == CloseCause::kUnknown) Charge(Glitch::kRstStream);
    return;
  }
  // CVE-2023-44487: a stream opened and reset before we answered cost the backend work and
  // freed the client's concurrency slot at once.
  const bool rapid = role_ == Role::kServer && !k.stream->final_response_sent;
  ++stats_.peer_resets;
  CloseStream(id, CloseCause::kPeerReset);
  if (rapid && !abuse_.RapidReset()) {
    return Fail(ErrorCode::kEnhanceYourCalm, "rapid reset");
  }
  handler_->OnStreamClosed(id, f.error_code, /*by_peer=*/true);
}

void Session::ProcessSettings(const FrameHeader& h, std::string_view payload) {
  SettingsFrame f;
  const Error e = DecodeSettings(h, payload, role_, &f);
  if (!e.ok()) return Fail(e);
  if (f.ack) {
    if (settings_acked_) {
      Charge(Glitch::kUnsolicitedAck);
      return;
    }
    // Our settings are in force now: receive windows move by the change (RFC 9113 6.9.2), and
    // the decoder's table limit drops to what we announced.
    settings_acked_ = true;
    const int64_t delta = int64_t{limits_.initial_stream_window} - local_window_in_force_;
    local_window_in_force_ = limits_.initial_stream_window;
    for (Stream& s : streams_) s.recv_window += delta;
    decoder_.SetMaxTableSizeLimit(limits_.header_table_size);
    return;
  }
  // The preface's SETTINGS is free; every later one costs, more with more entries.
  if (got_peer_settings_ &&
      !Charge(Glitch::kSettings, 1 + static_cast<uint32_t>(f.settings.size() / 8))) {
    return;
  }
  got_peer_settings_ = true;
  for (const Setting s : f.settings) {
    if (!ApplyPeerSetting(s)) return;
  }
  if (!RoomForReply()) return;
  AppendSettingsAck(&output_);
  NotifySendWindows(0);
}

bool Session::ApplyPeerSetting(Setting s) {
  switch (s.id) {
    case SettingId::kHeaderTableSize:
      encoder_.SetPeerMaxTableSize(s.value);
      break;
    case SettingId::kInitialWindowSize: {
      // RFC 9113 section 6.9.2: every stream's send window moves by the difference, possibly
      // below zero; over 2^31-1 is a connection error.
      const int64_t delta = int64_t{s.value} - peer_.initial_window_size;
      for (const Stream& st : streams_) {
        if (st.send_window + delta > kMaxWindowSize) {
          Fail(ErrorCode::kFlowControlError, "SETTINGS_INITIAL_WINDOW_SIZE overflows a window");
          return false;
        }
      }
      for (Stream& st : streams_) st.send_window += delta;
      break;
    }
    case SettingId::kNoRfc7540Priorities:
      // RFC 9218 section 2.1: the value must not change once sent.
      if (peer_no_rfc7540_priorities_ >= 0 &&
          peer_no_rfc7540_priorities_ != static_cast<int8_t>(s.value)) {
        Fail(ErrorCode::kProtocolError, "SETTINGS_NO_RFC7540_PRIORITIES changed");
        return false;
      }
      peer_no_rfc7540_priorities_ = static_cast<int8_t>(s.value);
      break;
    default:
      // ENABLE_PUSH: we never push anyway. MAX_CONCURRENT_STREAMS: limits streams we open
      // (none). MAX_FRAME_SIZE: read when framing. MAX_HEADER_LIST_SIZE: advisory.
      // ENABLE_CONNECT_PROTOCOL: a server's setting, meaningless from a client. Unknown: ignored.
      break;
  }
  peer_.Apply(s);
  return true;
}

void Session::ProcessPing(const FrameHeader& h, std::string_view payload) {
  PingFrame f;
  const Error e = DecodePing(h, payload, &f);
  if (!e.ok()) return Fail(e);
  if (f.ack) {
    if (drain_ == Drain::kFirstGoaway && f.opaque == kShutdownPing) return SendFinalGoaway();
    if (ping_out_ && f.opaque == kKeepalivePing) {
      ping_out_ = false;
      handler_->OnPingAck();
      return;
    }
    Charge(Glitch::kUnsolicitedAck);
    return;
  }
  if (!Charge(Glitch::kPing) || !RoomForReply()) return;
  AppendPing(f.opaque, /*ack=*/true, &output_);
}

void Session::ProcessGoaway(const FrameHeader& h, std::string_view payload) {
  GoawayFrame f;
  const Error e = DecodeGoaway(h, payload, &f);
  if (!e.ok()) return Fail(e);
  // The last-stream-id may only fall (RFC 9113 section 6.8).
  if (role_ == Role::kClient && f.last_stream_id > peer_goaway_last_) {
    return Fail(ErrorCode::kProtocolError, "GOAWAY last-stream-id grew");
  }
  peer_goaway_ = true;
  peer_goaway_last_ = std::min(peer_goaway_last_, f.last_stream_id);
  handler_->OnGoaway(f.last_stream_id, f.error_code, f.debug_data);
  if (role_ != Role::kClient || failed_) return;
  // Our streams above it were never processed: closed here, reported as refused (retryable).
  notify_.clear();
  for (const Stream& st : streams_) {
    if (st.id > peer_goaway_last_) notify_.push_back(st.id);
  }
  for (size_t i = 0; i < notify_.size() && !failed_; ++i) {
    if (Find(notify_[i]) == nullptr) continue;  // (a handler reset it meanwhile)
    CloseStream(notify_[i], CloseCause::kIgnored);
    handler_->OnStreamClosed(notify_[i], ErrorCode::kRefusedStream, /*by_peer=*/true);
  }
}

// ---------------------------------------------------------------------------------------------
// Sending

void Session::TakeOutput(std::string* out) {
  out->clear();
  out->swap(output_);
}

uint32_t Session::OpenableStreams() const {
  if (role_ != Role::kClient || failed_ || peer_goaway_ || drain_ != Drain::kNone) return 0;
  if (next_stream_id_ > kMaxStreamId) return 0;
  const uint32_t max = peer_.max_concurrent_streams;
  return streams_.size() >= max ? 0 : max - static_cast<uint32_t>(streams_.size());
}

uint32_t Session::SubmitRequest(std::span<const hpack::HeaderField> fields, bool end_stream) {
  if (OpenableStreams() == 0) return 0;
  const uint32_t id = next_stream_id_;
  next_stream_id_ += 2;
  last_stream_id_ = id;
  Stream s;
  s.id = id;
  Transition(&s.state, StreamEvent::kSendHeaders);
  if (end_stream) Transition(&s.state, StreamEvent::kSendEndStream);
  s.final_response_sent = true;  // (for a client: our head went out, DATA may follow)
  s.send_window = peer_.initial_window_size;
  s.recv_window = local_window_in_force_;
  for (const hpack::HeaderField& f : fields) {
    if (f.name == ":method") {
      s.head_request = f.value == "HEAD";
      break;
    }
  }
  out_block_.clear();
  encoder_.Encode(fields, &out_block_);
  AppendHeaders(id, out_block_, end_stream, peer_.max_frame_size, &output_);
  if (streams_.capacity() == 0) streams_.reserve(16);
  streams_.push_back(s);  // ids only grow: the vector stays sorted
  ++stats_.requests;
  return id;
}

bool Session::SendPing() {
  if (role_ != Role::kClient || failed_ || ping_out_) return false;
  AppendPing(kKeepalivePing, /*ack=*/false, &output_);
  ping_out_ = true;
  return true;
}

bool Session::ResetStream(uint32_t stream_id, ErrorCode code) {
  if (failed_ || Find(stream_id) == nullptr) return false;
  AppendRstStream(stream_id, code, &output_);
  CloseStream(stream_id, CloseCause::kLocalReset);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Shutdown, time, failure

void Session::Shutdown() {
  if (failed_ || drain_ != Drain::kNone) return;
  if (role_ == Role::kClient) {
    AppendGoaway(0, ErrorCode::kNoError, "", &output_);
    drain_ = Drain::kFinalGoaway;
    return;
  }
  // The first GOAWAY promises nothing yet: requests in flight towards us still get processed.
  AppendGoaway(kMaxStreamId, ErrorCode::kNoError, "shutting down", &output_);
  AppendPing(kShutdownPing, /*ack=*/false, &output_);
  drain_ = Drain::kFirstGoaway;
  shutdown_at_ = now_ms_;
}

void Session::SendFinalGoaway() {
  // Every stream up to the newest the peer used is processed or was refused explicitly; the
  // last-stream-id never grows (RFC 9113 section 6.8).
  const uint32_t last = std::min(goaway_last_sent_, last_stream_id_);
  AppendGoaway(last, ErrorCode::kNoError, "", &output_);
  goaway_last_sent_ = last;
  drain_ = Drain::kFinalGoaway;
}

bool Session::finished() const {
  if (failed_) return true;
  if (!streams_.empty() || block_.stream_id != 0) return false;
  return drain_ == Drain::kFinalGoaway || (role_ == Role::kClient && peer_goaway_);
}

FeedResult Session::Tick(uint64_t now_ms) {
  if (now_ms > now_ms_) now_ms_ = now_ms;
  abuse_.Tick(now_ms_);
  if (failed_) return failure_;
  if (!settings_acked_ && limits_.settings_timeout_ms != 0 &&
      now_ms_ - settings_sent_at_ >= limits_.settings_timeout_ms) {
    Fail(ErrorCode::kSettingsTimeout, "SETTINGS not acknowledged");
    return failure_;
  }
  if (drain_ == Drain::kFirstGoaway && now_ms_ - shutdown_at_ >= limits_.shutdown_timeout_ms) {
    SendFinalGoaway();
  }
  return {};
}

bool Session::Charge(Glitch g, uint32_t points) {
  if (abuse_.Charge(g, points)) return true;
  Fail(ErrorCode::kEnhanceYourCalm, GlitchDetail(g));
  return false;
}

bool Session::RoomForReply() {
  if (output_.size() <= limits_.max_output_bytes) return true;
  Fail(ErrorCode::kEnhanceYourCalm, "peer does not read");
  return false;
}

void Session::Close(ErrorCode code, const char* detail) { Fail(code, detail); }

void Session::Fail(ErrorCode code, const char* detail) {
  if (failed_) return;
  failed_ = true;
  failure_ = FeedResult{false, code, detail};
  // A client processed no stream of the server's: its last-stream-id is 0.
  const uint32_t processed = role_ == Role::kClient ? 0 : last_stream_id_;
  AppendGoaway(std::min(goaway_last_sent_, processed), code, detail, &output_);
  goaway_last_sent_ = std::min(goaway_last_sent_, processed);
  // No block will complete. The buffers stay as they are: a handler may be running on a view
  // into them (a Close from OnRequest), and the session is dropped soon anyway.
  block_ = Block{};
}

}  // namespace ringway::h2
