// Fuzz target for the HTTP/2 server session. The first input byte picks how the rest is cut
// into Feed calls (bits 0-2), whether a client preface and empty SETTINGS lead (bit 3), one of
// four SessionLimits (bits 4-5), whether the handler answers requests, consumes and resets
// (bit 6), and whether time moves and a graceful shutdown happens (bit 7). Each piece is fed
// from its own heap buffer, so ASan sees any read past it.
//
// Invariants (abort on violation):
//  - OnData views lie inside the bytes of the Feed call in progress; data only for a stream
//    given to OnRequest, before its end; the pieces never pass a content-length and meet it
//    at END_STREAM; OnData is empty only with END_STREAM.
//  - OnRequest ids are odd and increasing; OnStreamClosed once per live stream; nothing for a
//    stream after its end or close; no handler call once the session failed, and no output
//    after a failure's GOAWAY.
//  - The wire (session output with the DATA frames the handler sends in between, in the order
//    the contract gives) parses with ReadFrame into whole frames: SETTINGS first; HEADERS
//    blocks contiguous and decodable by an HPACK decoder, ":status" first; DATA only after a
//    final head and before END_STREAM, within the peer's max frame size; GOAWAY last-stream-id
//    never growing and nothing after an error GOAWAY; connection WINDOW_UPDATE credit never
//    above the bytes fed.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
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
  if (!ok) std::abort();
}

// xorshift, seeded from the input, for the handler's choices.
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
    case 1:  // everything tiny, local replies on
      l.max_concurrent_streams = 3;
      l.initial_stream_window = 100;
      l.connection_window = 65535;
      l.max_header_list_size = 200;
      l.header_table_size = 256;
      l.max_header_block_bytes = 300;
      l.closed_stream_memory = 2;
      l.max_output_bytes = 512;
      l.reply_to_malformed = true;
      l.abuse.glitch_budget = 20;
      l.abuse.max_rapid_resets = 3;
      l.abuse.max_streams_per_feed = 4;
      l.abuse.max_continuation_frames = 3;
      break;
    case 2:  // large frames and windows
      l.max_frame_size = 1 << 16;
      l.initial_stream_window = 1 << 20;
      l.connection_window = 1 << 24;
      l.header_table_size = 65536;
      l.reply_to_large_headers = false;
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

struct StreamInfo {
  bool ended = false;   // the request side ended (END_STREAM seen)
  bool closed = false;  // OnStreamClosed, or the handler reset it
  bool responded = false;
  bool response_ended = false;
  bool has_cl = false;
  uint64_t cl = 0;
  uint64_t received = 0;
};

class Fuzzer : public Handler {
 public:
  Fuzzer(const SessionLimits& limits, bool act, uint64_t seed)
      : session_(limits, this, 0),
        act_(act),
        rng_{seed | 1},
        // Our window grows at the start only when configured above the protocol's 65535.
        first_conn_update_seen_(limits.connection_window <= kDefaultInitialWindowSize) {}

  ServerSession& session() { return session_; }

  void FeedPiece(std::string_view piece) {
    // A heap copy of exactly the piece's size: reads past it are ASan errors.
    std::unique_ptr<char[]> buf(new char[piece.size() + 1]);
    std::memcpy(buf.get(), piece.data(), piece.size());
    feeding_ = std::string_view(buf.get(), piece.size());
    fed_bytes_ += piece.size();
    const FeedResult r = session_.Feed(feeding_);
    feeding_ = {};
    if (!r.ok) {
      Check(session_.failed());
      Check(r.detail != nullptr);
      dead_ = true;
    }
    Flush();
    if (act_ && !dead_) SendSome();
  }

  void TickTo(uint64_t now) {
    const FeedResult r = session_.Tick(now);
    if (!r.ok) dead_ = true;
    Flush();
  }

  void Shutdown() {
    session_.Shutdown();
    Flush();
  }

  // Takes the session's output into the wire and checks it.
  void Flush() {
    std::string out;
    session_.TakeOutput(&out);
    if (dead_ && sent_error_goaway_) Check(out.empty());
    CheckWire(out);
  }

  // ---- Handler
  void OnRequest(uint32_t id, const Request& r, bool end_stream) override {
    Alive();
    Check(id % 2 == 1 && id > last_request_);
    last_request_ = id;
    Check(!r.method.empty());
    Check(r.is_connect ? r.path.empty() && !r.authority.empty() : !r.path.empty());
    Check(r.has_body == !end_stream);
    StreamInfo& s = streams_[id];
    s.ended = end_stream;
    s.has_cl = r.content_length.has_value() && !r.is_connect;
    s.cl = r.content_length.value_or(0);
    if (end_stream && s.has_cl) Check(s.cl == 0);
    if (!act_) return;
    switch (rng_.Below(6)) {
      case 0:
        Respond(id, s, 103, false);
        Respond(id, s, 200, rng_.Below(2) == 0);
        break;
      case 1:
        Respond(id, s, 200, true);
        break;
      case 2:
        Check(session_.ResetStream(id, ErrorCode::kCancel));
        s.closed = true;
        break;
      default:
        break;  // answer later
    }
  }

  void OnData(uint32_t id, std::string_view data, bool end_stream) override {
    Alive();
    Check(data.empty() ? end_stream
                       : data.data() >= feeding_.data() &&
                             data.data() + data.size() <= feeding_.data() + feeding_.size());
    auto it = streams_.find(id);
    Check(it != streams_.end());
    StreamInfo& s = it->second;
    Check(!s.ended && !s.closed);
    s.received += data.size();
    if (s.has_cl) Check(s.received <= s.cl && (!end_stream || s.received == s.cl));
    s.ended = end_stream;
    if (!act_) return;
    // Release now, later (never: a slow backend), or reset.
    const uint32_t pick = rng_.Below(8);
    if (pick < 5) {
      session_.ConsumeData(id, data.size());
    } else if (pick == 5) {
      session_.ConsumeData(id, data.size());
      Check(session_.ResetStream(id, ErrorCode::kCancel) || s.response_ended);
      s.closed = true;
    }
  }

  void OnTrailers(uint32_t id, std::span<const hpack::HeaderField> fields) override {
    Alive();
    auto it = streams_.find(id);
    Check(it != streams_.end());
    Check(!it->second.ended && !it->second.closed);
    if (it->second.has_cl) Check(it->second.received == it->second.cl);
    for (const auto& f : fields) Check(!f.name.empty() && f.name[0] != ':');
    it->second.ended = true;
  }

  void OnStreamClosed(uint32_t id, ErrorCode, bool) override {
    Alive();
    auto it = streams_.find(id);
    Check(it != streams_.end());
    Check(!it->second.closed);
    it->second.closed = true;
  }

  void OnSendWindow(uint32_t id) override {
    Alive();
    Check(streams_.count(id) == 1);
  }

  void OnGoaway(uint32_t, ErrorCode, std::string_view) override { Alive(); }

  void OnRequestRejected(uint32_t id, uint16_t status, const char* detail) override {
    Alive();
    Check(id % 2 == 1 && (status == 400 || status == 431) && detail != nullptr);
    rejected_.push_back(id);
  }

 private:
  void Alive() { Check(!dead_ && !session_.failed()); }

  void Respond(uint32_t id, StreamInfo& s, uint16_t status, bool end) {
    static const hpack::HeaderField kFields[] = {
        {"Content-Type", "text/plain"}, {"Connection", "close"}, {"X-Test", "1"}};
    if (session_.SubmitResponse(id, {status, kFields}, end)) {
      if (status >= 200) s.responded = true;
      if (end) s.response_ended = true;
    }
  }

  // Sends some response DATA for a few streams, as the proxy would, keeping the order: output
  // first, then the DATA header and payload.
  void SendSome() {
    for (auto& [id, s] : streams_) {
      if (s.closed || s.response_ended) continue;
      switch (rng_.Below(5)) {
        case 0:
          if (!s.responded) Respond(id, s, 200, false);
          break;
        case 1: {
          const uint32_t room = session_.SendableBytes(id);
          const uint32_t n = room == 0 ? 0 : 1 + rng_.Below(room);
          const bool end = rng_.Below(3) == 0;
          if (n == 0 && !end) break;
          char hdr[kFrameHeaderSize];
          if (session_.PrepareData(id, n, end, hdr)) {
            Flush();
            std::string frame(hdr, kFrameHeaderSize);
            frame.append(n, 'r');
            CheckWire(frame);
            if (end) s.response_ended = true;
          }
          break;
        }
        case 2: {
          static const hpack::HeaderField kTrailers[] = {{"Grpc-Status", "0"}};
          if (s.responded && session_.SubmitTrailers(id, kTrailers)) s.response_ended = true;
          break;
        }
        case 3:
          session_.ConsumeData(id, rng_.Below(100000));
          break;
        default:
          break;
      }
      Flush();
    }
  }

  // ---- The wire, as a client would read it.
  struct WireStream {
    bool final_head = false;
    bool ended = false;
  };

  void CheckWire(std::string_view in) {
    while (!in.empty()) {
      const ReadResult r = ReadFrame(in, kMaxMaxFrameSize);
      Check(r.status == ReadStatus::kFrame);  // whole frames only
      const FrameHeader& h = r.header;
      in.remove_prefix(r.consumed);
      Check(!sent_error_goaway_);
      if (first_frame_) {
        Check(h.type == FrameType::kSettings && !h.has(kFlagAck));
        first_frame_ = false;
      }
      if (block_stream_ != 0) {
        Check(h.type == FrameType::kContinuation && h.stream_id == block_stream_);
      }
      switch (h.type) {
        case FrameType::kHeaders: {
          HeadersFrame f;
          Check(DecodeHeaders(h, r.payload, &f).ok());
          Check(h.stream_id % 2 == 1);
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
          DataFrame d;
          Check(DecodeData(h, r.payload, &d).ok());
          WireStream& w = wire_[h.stream_id];
          Check(!w.ended);
          Check(w.final_head);
          Check(d.data.size() <= session_.peer_settings().max_frame_size);
          if (d.end_stream) w.ended = true;
          break;
        }
        case FrameType::kRstStream: {
          RstStreamFrame f;
          Check(DecodeRstStream(h, r.payload, &f).ok());
          Check(h.stream_id != 0);
          wire_[h.stream_id].ended = true;
          break;
        }
        case FrameType::kGoaway: {
          GoawayFrame g;
          Check(DecodeGoaway(h, r.payload, &g).ok());
          Check(g.last_stream_id <= goaway_last_);
          goaway_last_ = g.last_stream_id;
          if (g.error_code != ErrorCode::kNoError || session_.failed()) {
            sent_error_goaway_ = session_.failed();
          }
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
          }
          break;
        }
        case FrameType::kSettings: {
          SettingsFrame s;
          Check(DecodeSettings(h, r.payload, Role::kClient, &s).ok());
          break;
        }
        case FrameType::kPing: {
          PingFrame p;
          Check(DecodePing(h, r.payload, &p).ok());
          break;
        }
        default:
          Check(false);  // we never send PRIORITY, PUSH_PROMISE or unknown types
      }
    }
  }

  void EndBlock() {
    std::vector<hpack::HeaderField> fields;
    Check(decoder_.Decode(block_, &fields).status == hpack::DecodeStatus::kOk);
    WireStream& w = wire_[block_stream_];
    Check(!w.ended);
    if (!w.final_head) {
      Check(!fields.empty() && fields[0].name == ":status" && fields[0].value.size() == 3);
      const bool interim = fields[0].value[0] == '1';
      Check(!(interim && block_end_stream_));
      if (!interim) w.final_head = true;
    } else {
      Check(block_end_stream_);  // trailers
      for (const auto& f : fields) Check(f.name[0] != ':');
    }
    for (const auto& f : fields) {
      for (const char c : f.name) Check(!(c >= 'A' && c <= 'Z'));
      Check(f.name != "connection" && f.name != "transfer-encoding");
    }
    if (block_end_stream_) w.ended = true;
    block_stream_ = 0;
  }

  ServerSession session_;
  bool act_;
  Rng rng_;
  std::string_view feeding_;
  bool dead_ = false;
  uint32_t last_request_ = 0;
  std::map<uint32_t, StreamInfo> streams_;
  std::vector<uint32_t> rejected_;
  uint64_t fed_bytes_ = 0;

  hpack::Decoder decoder_{65536, 1u << 26};
  bool first_frame_ = true;
  uint32_t block_stream_ = 0;
  bool block_end_stream_ = false;
  std::string block_;
  std::map<uint32_t, WireStream> wire_;
  uint32_t goaway_last_ = kMaxStreamId;
  bool sent_error_goaway_ = false;
  bool first_conn_update_seen_;
  uint64_t conn_credit_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0 || size > (1 << 20)) return 0;
  const uint8_t config = data[0];
  std::string input;
  if ((config & 8) != 0) {
    input.assign(kClientPreface);
    AppendSettings({}, &input);
  }
  input.append(reinterpret_cast<const char*>(data + 1), size - 1);

  uint64_t seed = 1469598103934665603ull;
  for (size_t i = 0; i < size; ++i) seed = (seed ^ data[i]) * 1099511628211ull;
  Rng rng{seed | 1};
  Fuzzer f(LimitsFor((config >> 4) & 3), (config & 0x40) != 0, seed);
  const bool timed = (config & 0x80) != 0;
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
        n = 10;
        break;
      case 6:
        n = 1 + rng.Below(3);
        break;
      default:
        n = (input.size() + 1) / 2;
        break;
    }
    n = std::min(n, rest.size());
    f.FeedPiece(rest.substr(0, n));
    rest.remove_prefix(n);
    ++pieces;
    if (timed) {
      now += rng.Below(4);
      f.TickTo(now);
      if (pieces == 3) f.Shutdown();
    }
  }
  if (timed) f.TickTo(now + 100000);
  return 0;
}
