// Fuzz target for the HTTP/2 client session (ClientSession, towards a backend): the input is
// what the server sends. Three control bytes lead:
//  - byte 0: bits 0-2 how the rest is cut into Feed calls (7: at the frame boundaries the
//    bytes claim); bits 3-4 one of four SessionLimits; bit 5 whether the handler calls back
//    into the session as a proxy would (consume now or later, resets, trailers, request
//    bodies, PINGs, new requests); bit 6 whether time moves (Tick, a client Shutdown, a final
//    jump past every timer); bit 7 whether a server preface (empty SETTINGS, SETTINGS ACK)
//    is put before the rest, so that mutations keep a live connection.
//  - bytes 1-2: the seed of the choices (where to cut, what the handler does).
// Before the first Feed four requests are open: 1 GET (END_STREAM), 3 POST (a body follows),
// 5 HEAD (END_STREAM), 7 GET (END_STREAM). Each piece is fed from its own heap buffer, so ASan
// sees any read past it.
//
// Invariants (abort on violation):
//  - Handler methods run only inside Feed, never after a connection error (within that Feed or
//    later); Feed and Tick return !ok exactly when failed(), and failed() never clears.
//  - Every stream id in an event is odd and was opened by SubmitRequest; nothing for a stream
//    after its close (our ResetStream, OnStreamClosed, or both sides ended), nor after the
//    server ended its side (except OnStreamClosed/OnSendWindow).
//  - OnResponse: status 100..999 but 101, interims never with END_STREAM, none after the final
//    head. OnData: only after the final head, a view inside the Feed call's bytes, empty only
//    with END_STREAM, never past content-length and meeting it at END_STREAM (except HEAD,
//    204, 304). OnTrailers: after the final head, no pseudo-header fields. OnPingAck: only for
//    a PING of ours. OnGoaway: no stream may open afterwards. OnSendWindow: only after
//    SendableBytes said 0. Bytes delivered and not yet consumed stay within our receive
//    windows (per stream, and all streams together).
//  - The session's view of each stream (stream_state, active_streams, ResetStream and
//    SubmitTrailers success) matches the model built from the events; SubmitRequest opens a
//    stream exactly when OpenableStreams() > 0, with ids 1, 3, 5, ...; SendableBytes never
//    exceeds SendWindow or the peer's max frame size, and PrepareData accepts up to it.
//  - The wire we send (session output and our DATA frames, in contract order) is the client
//    preface, then SETTINGS, then whole frames; field blocks contiguous and decodable by an
//    HPACK decoder, request heads with ":method" first, trailers without pseudo-header fields
//    or connection-specific fields; RST_STREAM and WINDOW_UPDATE only on streams we opened;
//    connection WINDOW_UPDATE credit never above the bytes fed; SETTINGS and PING ACKs never
//    more than the server's SETTINGS and PINGs fed; our DATA within the largest windows the
//    frames fed could have given; GOAWAY with last-stream-id 0. Output taken after a failure
//    ends with the GOAWAY of the failure's code, and nothing follows it.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "proto/h2_frame.h"
#include "proto/h2_frame_writer.h"
#include "proto/h2_session.h"
#include "proto/hpack.h"

namespace {

using namespace ringway;
using namespace ringway::h2;

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

// xorshift, seeded from two input bytes, for the cuts and the handler's choices.
struct Rng {
  uint64_t s;
  uint32_t Next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return static_cast<uint32_t>(s >> 11);
  }
  uint32_t Below(uint32_t n) { return n == 0 ? 0 : Next() % n; }
};

SessionLimits LimitsFor(int variant) {
  SessionLimits l;
  switch (variant) {
    case 1:  // everything tiny
      l.initial_stream_window = 100;
      l.connection_window = 65535;
      l.max_header_list_size = 200;
      l.header_table_size = 256;
      l.max_header_block_bytes = 300;
      l.closed_stream_memory = 2;
      l.max_output_bytes = 512;
      l.abuse.glitch_budget = 20;
      l.abuse.max_rapid_resets = 3;
      l.abuse.max_continuation_frames = 3;
      break;
    case 2:  // large frames and windows
      l.max_frame_size = 1 << 16;
      l.initial_stream_window = 1 << 20;
      l.connection_window = 1 << 24;
      l.header_table_size = 65536;
      break;
    case 3:  // short timers
      l.settings_timeout_ms = 10;
      l.shutdown_timeout_ms = 5;
      l.abuse.glitch_decay_per_second = 1000;
      break;
    default:
      break;
  }
  return l;
}

// The request heads we send.
enum class Kind : uint8_t { kGet, kPost, kHead };

const hpack::HeaderField kGetFields[] = {{":method", "GET"},
                                         {":scheme", "https"},
                                         {":authority", "backend.test"},
                                         {":path", "/a"},
                                         {"user-agent", "ringway-fuzz"}};
const hpack::HeaderField kPostFields[] = {{":method", "POST"},
                                          {":scheme", "https"},
                                          {":authority", "backend.test"},
                                          {":path", "/upload"},
                                          {"content-type", "application/octet-stream"}};
const hpack::HeaderField kHeadFields[] = {
    {":method", "HEAD"}, {":scheme", "https"}, {":authority", "backend.test"}, {":path", "/h"}};
// Uppercase and connection-specific on purpose: the session lowercases and drops.
const hpack::HeaderField kTrailerFields[] = {
    {"X-Checksum", "abc"}, {"Connection", "close"}, {"grpc-status", "0"}};

// Our model of one stream we opened.
struct Ours {
  bool head = false;        // a HEAD request
  bool sent_end = false;    // we sent END_STREAM
  bool final_seen = false;  // the final response head arrived
  bool recv_end = false;    // the server ended its side
  bool closed = false;      // both ended, reset by us, or OnStreamClosed
  bool blocked = false;     // SendableBytes said 0 because of a window
  bool has_cl = false;      // content-length binds the DATA
  uint64_t cl = 0;
  uint64_t received = 0;
  uint64_t unconsumed = 0;  // delivered, not given back to ConsumeData yet
};

class Fuzzer : public Handler {
 public:
  Fuzzer(const SessionLimits& limits, bool act, uint64_t seed, std::string_view input)
      : session_(limits, this, 0),
        act_(act),
        rng_{seed | 1},
        input_(input),
        stream_window_max_(std::max(std::min(limits.initial_stream_window, kMaxWindowSize),
                                    kDefaultInitialWindowSize)),
        conn_window_max_(
            std::clamp(limits.connection_window, kDefaultInitialWindowSize, kMaxWindowSize)),
        first_conn_update_seen_(limits.connection_window <= kDefaultInitialWindowSize) {}

  void Open(Kind k) {
    const uint32_t openable = session_.OpenableStreams();
    const bool end = k != Kind::kPost;
    uint32_t id = 0;
    switch (k) {
      case Kind::kGet:
        id = session_.SubmitRequest(kGetFields, end);
        break;
      case Kind::kPost:
        id = session_.SubmitRequest(kPostFields, end);
        break;
      case Kind::kHead:
        id = session_.SubmitRequest(kHeadFields, end);
        break;
    }
    Check((id != 0) == (openable > 0));
    if (id == 0) return;
    Check(id == next_id_);
    next_id_ += 2;
    Ours& s = streams_[id];
    s.head = k == Kind::kHead;
    s.sent_end = end;
  }

  void FeedPiece(std::string_view piece) {
    // A heap copy of exactly the piece's size (never empty): reads past it are ASan errors.
    std::unique_ptr<char[]> buf(new char[piece.size()]);
    std::memcpy(buf.get(), piece.data(), piece.size());
    feeding_ = std::string_view(buf.get(), piece.size());
    fed_bytes_ += piece.size();
    ParseFed();
    const bool was_failed = session_.failed();
    in_feed_ = true;
    const FeedResult r = session_.Feed(feeding_);
    in_feed_ = false;
    feeding_ = {};
    Check(r.ok == !session_.failed());
    Check(!was_failed || session_.failed());
    if (!r.ok) {
      Check(r.detail != nullptr);
      if (!dead_) fail_code_ = r.error;
      dead_ = true;
    }
    Flush();
    CheckModel();
  }

  void TickTo(uint64_t now) {
    const bool was_failed = session_.failed();
    const FeedResult r = session_.Tick(now);
    Check(r.ok == !session_.failed());
    Check(!was_failed || session_.failed());
    if (!r.ok) {
      if (!dead_) fail_code_ = r.error;
      dead_ = true;
    }
    Flush();
    CheckModel();
  }

  // Before the first Feed: a PING out (its ACK is "ringway?"), and some of the body.
  void Start() {
    if (act_) {
      Ping();
      SendBody(3, streams_[3]);
    }
    Flush();
  }

  void Shutdown() {
    session_.Shutdown();
    Check(session_.OpenableStreams() == 0);
    Flush();
  }

  // Between Feed calls: what a proxy does when its other side moves. One step on one stream
  // (with small pieces this runs often, so resets stay rare), and sometimes every byte
  // withheld goes back.
  void Between() {
    if (dead_ || !act_) return;
    if (rng_.Below(4) == 0) {
      for (auto it = streams_.begin(); it != streams_.end(); ++it) Release(it->first, it->second);
    }
    const uint32_t pick = rng_.Below(32);
    if (pick < 3) {
      if (opened_ < 64) {
        ++opened_;
        Open(static_cast<Kind>(rng_.Below(3)));
      }
    } else if (pick < 5) {
      Ping();
    } else if (!streams_.empty()) {
      auto it = streams_.begin();
      std::advance(it, rng_.Below(static_cast<uint32_t>(std::min<size_t>(streams_.size(), 64))));
      if (pick < 20) {
        SendBody(it->first, it->second);
      } else if (pick < 24) {
        Trailers(it->first, it->second);
      } else if (pick < 25) {
        Reset(it->first, it->second);
      }
    }
    Flush();
    CheckModel();
  }

  // Takes the session's output into the wire and checks it.
  void Flush() {
    std::string out;
    session_.TakeOutput(&out);
    if (goaway_after_failure_) {
      Check(out.empty());
      return;
    }
    const FrameHeader last = CheckWire(out);
    if (session_.failed()) {
      // The connection error's GOAWAY closes what the session wrote; nothing follows it.
      Check(dead_);
      Check(!out.empty() && last.type == FrameType::kGoaway);
      Check(last_goaway_code_ == fail_code_);
      goaway_after_failure_ = true;
    }
  }

  // ---- Handler
  void OnResponse(uint32_t id, const ResponseHead& head, bool end_stream) override {
    Ours& s = Live(id);
    Check(!s.final_seen);
    Check(head.status >= 100 && head.status <= 999 && head.status != 101);
    const bool interim = head.status < 200;
    Check(!(interim && end_stream));
    for (const auto& f : head.fields) CheckFieldName(f.name);
    if (!interim) {
      s.final_seen = true;
      const bool no_content = s.head || head.status == 204 || head.status == 304;
      s.has_cl = head.content_length.has_value() && !no_content;
      s.cl = head.content_length.value_or(0);
      if (end_stream && s.has_cl) Check(s.cl == 0);
    }
    if (end_stream) RecvEnd(s);
    if (!act_) return;
    switch (rng_.Below(16)) {
      case 0:
        Reset(id, s);
        break;
      case 1:
        Trailers(id, s);
        break;
      case 2:
        if (opened_ < 64) {
          ++opened_;
          Open(static_cast<Kind>(rng_.Below(3)));
        }
        break;
      case 3:
        Ping();
        break;
      case 4:
        SendBody(id, s);
        break;
      default:
        break;
    }
  }

  void OnData(uint32_t id, std::string_view data, bool end_stream) override {
    Ours& s = Live(id);
    Check(s.final_seen);
    Check(data.empty() ? end_stream
                       : data.data() >= feeding_.data() &&
                             data.data() + data.size() <= feeding_.data() + feeding_.size());
    s.received += data.size();
    if (s.has_cl) Check(s.received <= s.cl && (!end_stream || s.received == s.cl));
    s.unconsumed += data.size();
    unconsumed_ += data.size();
    // Our receive windows bound what a stream, and all streams together, can hold.
    Check(s.unconsumed <= stream_window_max_ && unconsumed_ <= conn_window_max_);
    if (end_stream) RecvEnd(s);
    if (!act_) {
      Release(id, s);
      return;
    }
    switch (rng_.Below(16)) {
      case 0:
        Release(id, s);
        Reset(id, s);
        break;
      case 1:
      case 2:
      case 3:
        break;  // a slow backend: released later, or never
      case 4:
      case 5:
        Release(id, s);
        SendBody(id, s);
        break;
      case 6:
        Release(id, s);
        if (opened_ < 64) {
          ++opened_;
          Open(static_cast<Kind>(rng_.Below(3)));
        }
        break;
      default:
        Release(id, s);
        break;
    }
  }

  void OnTrailers(uint32_t id, std::span<const hpack::HeaderField> fields) override {
    Ours& s = Live(id);
    Check(s.final_seen);
    if (s.has_cl) Check(s.received == s.cl);
    for (const auto& f : fields) CheckFieldName(f.name);
    RecvEnd(s);
    if (act_ && rng_.Below(2) == 0) Trailers(id, s);
  }

  void OnStreamClosed(uint32_t id, ErrorCode, bool) override {
    // The server may have ended its side while ours is still sending.
    Ours& s = Known(id);
    s.closed = true;
    // Bytes delivered come back even for a closed stream (the connection window counts them).
    if (!act_ || rng_.Below(2) == 0) Release(id, s);
  }

  void OnSendWindow(uint32_t id) override {
    Ours& s = Known(id);
    Check(s.blocked);  // only after SendableBytes said 0
    s.blocked = false;
    if (act_) SendBody(id, s);
  }

  void OnGoaway(uint32_t, ErrorCode, std::string_view) override {
    Alive();
    Check(session_.peer_sent_goaway());
    Check(session_.OpenableStreams() == 0);
    if (act_) {
      const uint32_t before = next_id_;
      Open(Kind::kGet);  // refused
      Check(next_id_ == before);
    }
  }

  void OnPingAck() override {
    Alive();
    Check(ping_out_);
    Check(!session_.ping_outstanding());
    ping_out_ = false;
    if (act_ && rng_.Below(2) == 0) Ping();
  }

  void OnRequestRejected(uint32_t, uint16_t, const char*) override { Check(false); }
  void OnRequest(uint32_t, const Request&, bool) override { Check(false); }

 private:
  void Alive() { Check(in_feed_ && !dead_ && !session_.failed()); }

  // The stream of an event: ours and not closed.
  Ours& Known(uint32_t id) {
    Alive();
    Check(id % 2 == 1 && id < next_id_);
    auto it = streams_.find(id);
    Check(it != streams_.end());
    Check(!it->second.closed);
    return it->second;
  }

  // The stream of a message event: ours, not closed, the server's side not ended.
  Ours& Live(uint32_t id) {
    Ours& s = Known(id);
    Check(!s.recv_end);
    return s;
  }

  static void CheckFieldName(std::string_view name) {
    Check(!name.empty() && name[0] != ':');
    for (const char c : name) Check(!(c >= 'A' && c <= 'Z'));
  }

  void RecvEnd(Ours& s) {
    s.recv_end = true;
    if (s.sent_end) s.closed = true;
  }

  void SentEnd(Ours& s) {
    s.sent_end = true;
    if (s.recv_end) s.closed = true;
  }

  bool Usable() const { return !session_.failed(); }

  void Release(uint32_t id, Ours& s) {
    if (s.unconsumed == 0) return;
    session_.ConsumeData(id, s.unconsumed);
    unconsumed_ -= s.unconsumed;
    s.unconsumed = 0;
  }

  void Reset(uint32_t id, Ours& s) {
    const bool expect = Usable() && !s.closed;
    Check(session_.ResetStream(id, ErrorCode::kCancel) == expect);
    if (expect) s.closed = true;
  }

  void Trailers(uint32_t id, Ours& s) {
    const bool expect = Usable() && !s.closed && !s.sent_end;
    // Every third call without fields: the session ends the stream with an empty DATA.
    const bool empty = ++trailer_calls_ % 3 == 0;
    Check(session_.SubmitTrailers(
              id, empty ? std::span<const hpack::HeaderField>() : kTrailerFields) == expect);
    if (expect) SentEnd(s);
  }

  void Ping() {
    const bool expect = Usable() && !session_.ping_outstanding();
    Check(session_.SendPing() == expect);
    if (expect) {
      Check(session_.ping_outstanding());
      ping_out_ = true;
    }
  }

  // A piece of the request body, as the proxy sends it: the session's output first, then the
  // DATA frame header and the payload.
  void SendBody(uint32_t id, Ours& s) {
    if (s.closed || s.sent_end || !Usable()) return;
    const uint32_t room = session_.SendableBytes(id);
    Check(room <= session_.peer_settings().max_frame_size && room <= session_.SendWindow(id));
    char hdr[kFrameHeaderSize];
    if (room == 0) {
      s.blocked = true;
      // n = 0 with END_STREAM ends the stream whatever the windows.
      if (rng_.Below(3) == 0) {
        Check(session_.PrepareData(id, 0, true, hdr));
        Flush();
        CheckData(hdr, id, 0, true);
        SentEnd(s);
      }
      return;
    }
    const uint32_t n = 1 + rng_.Below(std::min<uint32_t>(room, 20000));
    const bool end = rng_.Below(4) == 0;
    Check(session_.PrepareData(id, n, end, hdr));
    Flush();
    CheckData(hdr, id, n, end);
    if (end) SentEnd(s);
  }

  // The session's view of every stream matches the model.
  void CheckModel() {
    if (session_.failed()) {
      Check(session_.finished());
      Check(session_.OpenableStreams() == 0);
      return;
    }
    size_t live = 0;
    for (auto it = streams_.begin(); it != streams_.end(); ++it) {
      const Ours& s = it->second;
      StreamState want = StreamState::kOpen;
      if (s.closed) {
        want = StreamState::kClosed;
      } else if (s.sent_end) {
        want = StreamState::kHalfClosedLocal;
      } else if (s.recv_end) {
        want = StreamState::kHalfClosedRemote;
      }
      Check(session_.stream_state(it->first) == want);
      if (!s.closed) ++live;
    }
    Check(session_.active_streams() == live);
    if (session_.finished()) Check(live == 0);
    Check(session_.stream_state(next_id_) == StreamState::kIdle);
  }

  // ---- The wire, as the server reads it.
  void CheckData(const char* hdr, uint32_t id, uint32_t n, bool end) {
    Check(block_stream_ == 0);
    Check(!sent_error_goaway_);
    FrameHeader h;
    Check(DecodeFrameHeader(std::string_view(hdr, kFrameHeaderSize), &h));
    Check(h.type == FrameType::kData && h.stream_id == id && h.length == n);
    Check(h.has(kFlagEndStream) == end && !h.has(kFlagPadded));
    Check(n <= session_.peer_settings().max_frame_size);
    Check(!data_ended_[id]);
    if (end) data_ended_[id] = true;
    // Within the windows the server gave, over-estimated from every frame fed so far: the
    // largest SETTINGS_INITIAL_WINDOW_SIZE, plus every WINDOW_UPDATE increment.
    sent_conn_ += n;
    Check(sent_conn_ <= kDefaultInitialWindowSize + peer_conn_credit_);
    sent_stream_[id] += n;
    Check(sent_stream_[id] <= peer_initial_window_max_ + peer_stream_credit_[id]);
  }

  // Reads the server's frames that are whole within the bytes fed so far (frame boundaries do
  // not depend on what the session makes of them), for what bounds our own sending.
  void ParseFed() {
    while (fed_bytes_ - parsed_ >= kFrameHeaderSize) {
      FrameHeader h;
      DecodeFrameHeader(input_.substr(parsed_, kFrameHeaderSize), &h);
      if (fed_bytes_ - parsed_ - kFrameHeaderSize < h.length) return;
      const std::string_view p = input_.substr(parsed_ + kFrameHeaderSize, h.length);
      parsed_ += kFrameHeaderSize + h.length;
      const auto u32 = [](std::string_view b) {
        return uint32_t{static_cast<uint8_t>(b[0])} << 24 |
               uint32_t{static_cast<uint8_t>(b[1])} << 16 |
               uint32_t{static_cast<uint8_t>(b[2])} << 8 | uint32_t{static_cast<uint8_t>(b[3])};
      };
      switch (h.type) {
        case FrameType::kWindowUpdate:
          if (p.size() == 4) {
            const uint32_t inc = u32(p) & kMaxStreamId;
            if (h.stream_id == 0) {
              peer_conn_credit_ += inc;
            } else {
              peer_stream_credit_[h.stream_id] += inc;
            }
          }
          break;
        case FrameType::kSettings:
          if (h.has(kFlagAck)) break;
          ++peer_settings_frames_;
          for (size_t i = 0; i + kSettingSize <= p.size(); i += kSettingSize) {
            const uint16_t id = static_cast<uint16_t>(static_cast<uint8_t>(p[i]) << 8 |
                                                      static_cast<uint8_t>(p[i + 1]));
            if (id == 4)
              peer_initial_window_max_ = std::max(peer_initial_window_max_, u32(p.substr(i + 2)));
          }
          break;
        case FrameType::kPing:
          if (!h.has(kFlagAck)) ++peer_pings_;
          break;
        default:
          break;
      }
    }
  }

  // Checks whole frames; returns the header of the last one.
  FrameHeader CheckWire(std::string_view in) {
    FrameHeader last;
    if (!preface_seen_ && !in.empty()) {
      Check(in.substr(0, kClientPreface.size()) == kClientPreface);
      in.remove_prefix(kClientPreface.size());
      preface_seen_ = true;
    }
    while (!in.empty()) {
      const ReadResult r = ReadFrame(in, kMaxMaxFrameSize);
      Check(r.status == ReadStatus::kFrame);  // whole frames only
      const FrameHeader& h = r.header;
      last = h;
      in.remove_prefix(r.consumed);
      Check(!sent_error_goaway_);
      if (first_frame_) {
        Check(h.type == FrameType::kSettings && !h.has(kFlagAck));
        first_frame_ = false;
      } else if (h.type == FrameType::kSettings) {
        Check(h.has(kFlagAck));  // our SETTINGS go once, at the start
      }
      if (block_stream_ != 0) {
        Check(h.type == FrameType::kContinuation && h.stream_id == block_stream_);
      }
      switch (h.type) {
        case FrameType::kHeaders: {
          HeadersFrame f;
          Check(DecodeHeaders(h, r.payload, &f).ok());
          Check(h.stream_id % 2 == 1 && h.stream_id < next_id_);
          Check(!data_ended_[h.stream_id]);
          block_.assign(f.field_block);
          block_end_stream_ = f.end_stream;
          block_stream_ = h.stream_id;
          if (f.end_headers) EndBlock();
          break;
        }
        case FrameType::kContinuation: {
          Check(block_stream_ == h.stream_id);
          block_.append(r.payload);
          if (h.has(kFlagEndHeaders)) EndBlock();
          break;
        }
        case FrameType::kData: {
          // The session writes DATA only for SubmitTrailers without fields: empty, ending.
          Check(h.length == 0 && h.has(kFlagEndStream));
          Check(h.stream_id % 2 == 1 && h.stream_id < next_id_);
          Check(!data_ended_[h.stream_id]);
          data_ended_[h.stream_id] = true;
          break;
        }
        case FrameType::kRstStream: {
          RstStreamFrame f;
          Check(DecodeRstStream(h, r.payload, &f).ok());
          // Only streams we opened: RST_STREAM on an idle stream is a PROTOCOL_ERROR
          // (RFC 9113 section 6.4), and the server opens none.
          Check(h.stream_id % 2 == 1 && h.stream_id < next_id_);
          break;
        }
        case FrameType::kGoaway: {
          GoawayFrame g;
          Check(DecodeGoaway(h, r.payload, &g).ok());
          Check(g.last_stream_id == 0);  // a client processes no stream of the server's
          last_goaway_code_ = g.error_code;
          if (g.error_code != ErrorCode::kNoError) sent_error_goaway_ = true;
          break;
        }
        case FrameType::kWindowUpdate: {
          WindowUpdateFrame w;
          Check(DecodeWindowUpdate(h, r.payload, &w).ok());
          if (h.stream_id == 0) {
            if (!first_conn_update_seen_) {
              first_conn_update_seen_ = true;  // the initial growth of our window
            } else {
              conn_credit_ += w.increment;
              Check(conn_credit_ <= fed_bytes_);
            }
          } else {
            Check(h.stream_id % 2 == 1 && h.stream_id < next_id_);
          }
          break;
        }
        case FrameType::kSettings: {
          SettingsFrame s;
          Check(DecodeSettings(h, r.payload, Role::kServer, &s).ok());
          // An ACK answers a SETTINGS frame of the server's.
          if (s.ack) Check(++settings_acks_ <= peer_settings_frames_);
          break;
        }
        case FrameType::kPing: {
          PingFrame p;
          Check(DecodePing(h, r.payload, &p).ok());
          if (p.ack) Check(++ping_acks_ <= peer_pings_);
          break;
        }
        default:
          Check(false);  // never PRIORITY, PUSH_PROMISE or unknown types
      }
    }
    return last;
  }

  void EndBlock() {
    std::vector<hpack::HeaderField> fields;
    Check(wire_decoder_.Decode(block_, &fields).status == hpack::DecodeStatus::kOk);
    const uint32_t id = block_stream_;
    Check(!data_ended_[id]);
    if (!head_sent_[id]) {
      head_sent_[id] = true;
      Check(!fields.empty() && fields[0].name == ":method");
    } else {
      Check(block_end_stream_);  // trailers
      for (const auto& f : fields) {
        Check(!f.name.empty() && f.name[0] != ':');
        Check(f.name != "connection");
      }
    }
    for (const auto& f : fields) {
      for (const char c : f.name) Check(!(c >= 'A' && c <= 'Z'));
    }
    if (block_end_stream_) data_ended_[id] = true;
    block_stream_ = 0;
  }

  ClientSession session_;
  bool act_;
  Rng rng_;
  std::string_view feeding_;
  bool in_feed_ = false;
  bool dead_ = false;
  ErrorCode fail_code_ = ErrorCode::kNoError;
  bool goaway_after_failure_ = false;
  bool ping_out_ = false;
  uint32_t trailer_calls_ = 0;
  uint32_t next_id_ = 1;
  uint32_t opened_ = 0;
  std::map<uint32_t, Ours> streams_;
  uint64_t fed_bytes_ = 0;
  uint64_t unconsumed_ = 0;  // over all streams, closed ones included

  // The server's bytes, as far as whole frames are fed.
  std::string_view input_;
  size_t parsed_ = 0;
  uint64_t peer_conn_credit_ = 0;
  std::map<uint32_t, uint64_t> peer_stream_credit_;
  uint32_t peer_initial_window_max_ = kDefaultInitialWindowSize;
  uint64_t peer_settings_frames_ = 0;
  uint64_t peer_pings_ = 0;
  uint64_t settings_acks_ = 0;
  uint64_t ping_acks_ = 0;
  uint64_t sent_conn_ = 0;
  std::map<uint32_t, uint64_t> sent_stream_;
  uint64_t stream_window_max_;
  uint64_t conn_window_max_;

  hpack::Decoder wire_decoder_{hpack::kDefaultTableSize, 1u << 26};
  bool preface_seen_ = false;
  bool first_frame_ = true;
  uint32_t block_stream_ = 0;
  bool block_end_stream_ = false;
  std::string block_;
  std::map<uint32_t, bool> head_sent_;
  std::map<uint32_t, bool> data_ended_;
  ErrorCode last_goaway_code_ = ErrorCode::kNoError;
  bool sent_error_goaway_ = false;
  bool first_conn_update_seen_;
  uint64_t conn_credit_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3 || size > (1 << 20)) return 0;
  const uint8_t config = data[0];
  const uint64_t seed = (uint64_t{data[1]} | uint64_t{data[2]} << 8) * 0x9e3779b97f4a7c15ull;
  std::string input;
  if ((config & 0x80) != 0) {
    AppendSettings({}, &input);
    AppendSettingsAck(&input);
  }
  input.append(reinterpret_cast<const char*>(data + 3), size - 3);

  Rng rng{seed ^ 0x5bd1e995u};
  rng.s |= 1;
  const bool act = (config & 0x20) != 0;
  const bool timed = (config & 0x40) != 0;
  Fuzzer f(LimitsFor((config >> 3) & 3), act, seed, input);
  f.Open(Kind::kGet);
  f.Open(Kind::kPost);
  f.Open(Kind::kHead);
  f.Open(Kind::kGet);
  f.Start();
  uint64_t now = 0;

  std::string_view rest = input;
  const int split = config & 7;
  size_t pieces = 0;
  while (!rest.empty()) {
    size_t n = rest.size();
    switch (split) {
      case 0:
        break;
      case 1:
        n = 1;
        break;
      case 2:
        n = 9;
        break;
      case 3:
        n = 1 + rng.Below(64);
        break;
      case 4:
        n = 1 + rng.Below(300);
        break;
      case 5:
        n = 1 + rng.Below(3);
        break;
      case 6:
        n = (input.size() + 1) / 2;
        break;
      default:
        // At the frame boundary the bytes claim: one Feed per frame.
        if (rest.size() >= kFrameHeaderSize) {
          const size_t len = (size_t{static_cast<uint8_t>(rest[0])} << 16) |
                             (size_t{static_cast<uint8_t>(rest[1])} << 8) |
                             static_cast<uint8_t>(rest[2]);
          n = kFrameHeaderSize + len;
        }
        break;
    }
    n = std::min(n, rest.size());
    f.FeedPiece(rest.substr(0, n));
    rest.remove_prefix(n);
    ++pieces;
    f.Between();
    if (timed) {
      now += rng.Below(4);
      f.TickTo(now);
      if (pieces == 3 && rng.Below(2) == 0) f.Shutdown();
    }
  }
  f.Between();
  f.TickTo(timed ? now + 100000 : now);
  return 0;
}
