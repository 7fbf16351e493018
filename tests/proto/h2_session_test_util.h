// A test client for ServerSession: builds client frames with the frame writers and an HPACK
// encoder, feeds them, records handler events, and parses what the session sends back (field
// blocks decoded with an HPACK decoder, as a real client would).
//
//   TestClient c;
//   c.Handshake();                                      // preface, SETTINGS both ways
//   c.Feed(c.Get(1, "/"));
//   ASSERT_EQ(c.events.size(), 1u);
//   EXPECT_TRUE(c.HasRst(1, ErrorCode::kProtocolError)); // or c.Goaway(), c.Output() ...
#ifndef RINGWAY_TESTS_PROTO_H2_SESSION_TEST_UTIL_H_
#define RINGWAY_TESTS_PROTO_H2_SESSION_TEST_UTIL_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "proto/h2_frame.h"
#include "proto/h2_frame_writer.h"
#include "proto/h2_session.h"
#include "proto/hpack.h"

namespace ringway::h2::testing {

using Fields = std::vector<std::pair<std::string, std::string>>;

struct Event {
  enum Kind { kRequest, kData, kTrailers, kClosed, kSendWindow, kGoaway, kRejected };
  Kind kind = kRequest;
  uint32_t stream_id = 0;
  bool end_stream = false;
  // kRequest
  std::string method, scheme, authority, path, host;
  Fields fields;  // kRequest: regular fields; kTrailers: the trailers
  std::optional<uint64_t> content_length;
  bool has_body = false;
  bool is_connect = false;
  // kData: the bytes; kGoaway: the debug data
  std::string data;
  bool data_in_feed = true;  // the view lay inside the bytes of the Feed call
  // kClosed, kGoaway
  ErrorCode code = ErrorCode::kNoError;
  bool by_peer = false;
  uint32_t last_stream_id = 0;
  // kRejected
  uint16_t status = 0;
  std::string detail;
};

class RecordingHandler : public Handler {
 public:
  std::vector<Event> events;
  std::string_view feeding;  // the bytes of the Feed call in progress
  // Optional hooks, run after recording (to call back into the session).
  std::function<void(uint32_t, const Request&, bool)> on_request;
  std::function<void(uint32_t, std::string_view, bool)> on_data;
  std::function<void(uint32_t)> on_send_window;

  void OnRequest(uint32_t id, const Request& r, bool end_stream) override {
    Event e;
    e.kind = Event::kRequest;
    e.stream_id = id;
    e.end_stream = end_stream;
    e.method = r.method;
    e.scheme = r.scheme;
    e.authority = r.authority;
    e.path = r.path;
    e.host = r.host;
    for (const auto& f : r.fields) e.fields.emplace_back(f.name, f.value);
    e.content_length = r.content_length;
    e.has_body = r.has_body;
    e.is_connect = r.is_connect;
    events.push_back(std::move(e));
    if (on_request) on_request(id, r, end_stream);
  }
  void OnData(uint32_t id, std::string_view data, bool end_stream) override {
    Event e;
    e.kind = Event::kData;
    e.stream_id = id;
    e.end_stream = end_stream;
    e.data = data;
    e.data_in_feed = data.empty() || (data.data() >= feeding.data() &&
                                      data.data() + data.size() <= feeding.data() + feeding.size());
    events.push_back(std::move(e));
    if (on_data) on_data(id, data, end_stream);
  }
  void OnTrailers(uint32_t id, std::span<const hpack::HeaderField> fields) override {
    Event e;
    e.kind = Event::kTrailers;
    e.stream_id = id;
    e.end_stream = true;
    for (const auto& f : fields) e.fields.emplace_back(f.name, f.value);
    events.push_back(std::move(e));
  }
  void OnStreamClosed(uint32_t id, ErrorCode code, bool by_peer) override {
    Event e;
    e.kind = Event::kClosed;
    e.stream_id = id;
    e.code = code;
    e.by_peer = by_peer;
    events.push_back(std::move(e));
  }
  void OnSendWindow(uint32_t id) override {
    Event e;
    e.kind = Event::kSendWindow;
    e.stream_id = id;
    events.push_back(std::move(e));
    if (on_send_window) on_send_window(id);
  }
  void OnGoaway(uint32_t last, ErrorCode code, std::string_view debug) override {
    Event e;
    e.kind = Event::kGoaway;
    e.last_stream_id = last;
    e.code = code;
    e.data = debug;
    events.push_back(std::move(e));
  }
  void OnRequestRejected(uint32_t id, uint16_t status, const char* detail) override {
    Event e;
    e.kind = Event::kRejected;
    e.stream_id = id;
    e.status = status;
    e.detail = detail;
    events.push_back(std::move(e));
  }

  std::vector<Event> Of(Event::Kind k) const {
    std::vector<Event> out;
    for (const auto& e : events) {
      if (e.kind == k) out.push_back(e);
    }
    return out;
  }
};

// One frame the session sent; HEADERS carry their whole block (CONTINUATION folded in),
// decoded.
struct OutFrame {
  FrameHeader header;
  std::string payload;
  Fields fields;                         // HEADERS only
  ErrorCode code = ErrorCode::kNoError;  // RST_STREAM, GOAWAY
  uint32_t last_stream_id = 0;           // GOAWAY
  uint32_t increment = 0;                // WINDOW_UPDATE
  uint64_t opaque = 0;                   // PING

  FrameType type() const { return header.type; }
  uint32_t stream() const { return header.stream_id; }
  std::string Field(std::string_view name) const {
    for (const auto& [n, v] : fields) {
      if (n == name) return v;
    }
    return "";
  }
};

class TestClient {
 public:
  explicit TestClient(const SessionLimits& limits = {}, uint64_t now_ms = 0)
      : session(limits, &handler, now_ms), events(handler.events) {}

  RecordingHandler handler;
  ServerSession session;
  std::vector<Event>& events;
  hpack::Encoder encoder{hpack::EncoderOptions{.max_table_size = 4096, .huffman = true}};
  hpack::Decoder decoder{4096, 1u << 24};
  std::vector<OutFrame> sent;  // everything parsed from the session so far
  FeedResult last;

  // Feeds bytes in one call (a copy the recording handler can check DATA views against).
  FeedResult Feed(std::string_view bytes) {
    fed_.assign(bytes);
    handler.feeding = fed_;
    last = session.Feed(fed_);
    handler.feeding = {};
    return last;
  }
  // Feeds the parts concatenated, in one call. Frames that go through the HPACK encoder must
  // be built in order, which a braced list guarantees and `a + b` does not.
  FeedResult Feed(std::initializer_list<std::string> parts) {
    std::string all;
    for (const std::string& p : parts) all += p;
    return Feed(std::string_view(all));
  }
  // Feeds the bytes in pieces cut at the given offsets (each piece its own buffer).
  FeedResult FeedSplit(std::string_view bytes, const std::vector<size_t>& cuts) {
    size_t at = 0;
    for (size_t i = 0; i <= cuts.size(); ++i) {
      const size_t end = i < cuts.size() ? cuts[i] : bytes.size();
      last = Feed(bytes.substr(at, end - at));
      if (!last.ok) return last;
      at = end;
    }
    return last;
  }

  // ---- frames a client sends
  static std::string Preface() { return std::string(kClientPreface); }
  static std::string Settings(std::initializer_list<Setting> s = {}) {
    std::string out;
    AppendSettings(s, &out);
    return out;
  }
  static std::string SettingsAck() {
    std::string out;
    AppendSettingsAck(&out);
    return out;
  }
  std::string Block(const Fields& fields) {
    std::vector<hpack::HeaderField> hf;
    for (const auto& [n, v] : fields) hf.push_back({n, v});
    std::string block;
    encoder.Encode(hf, &block);
    return block;
  }
  std::string Headers(uint32_t id, const Fields& fields, bool end_stream,
                      uint32_t max_frame = kDefaultMaxFrameSize) {
    std::string out;
    AppendHeaders(id, Block(fields), end_stream, max_frame, &out);
    return out;
  }
  static Fields GetFields(std::string_view path = "/") {
    return {{":method", "GET"},
            {":scheme", "https"},
            {":authority", "example.com"},
            {":path", std::string(path)}};
  }
  std::string Get(uint32_t id, std::string_view path = "/") {
    return Headers(id, GetFields(path), /*end_stream=*/true);
  }
  std::string Post(uint32_t id, std::optional<uint64_t> content_length = std::nullopt) {
    Fields f = {{":method", "POST"},
                {":scheme", "https"},
                {":authority", "example.com"},
                {":path", "/upload"}};
    if (content_length) f.emplace_back("content-length", std::to_string(*content_length));
    return Headers(id, f, /*end_stream=*/false);
  }
  static std::string Data(uint32_t id, std::string_view data, bool end_stream) {
    std::string out;
    AppendData(id, data, end_stream, &out);
    return out;
  }
  static std::string Rst(uint32_t id, ErrorCode code = ErrorCode::kCancel) {
    std::string out;
    AppendRstStream(id, code, &out);
    return out;
  }
  static std::string Ping(uint64_t opaque, bool ack = false) {
    std::string out;
    AppendPing(opaque, ack, &out);
    return out;
  }
  static std::string WindowUpdate(uint32_t id, uint32_t inc) {
    std::string out;
    AppendWindowUpdate(id, inc, &out);
    return out;
  }
  static std::string Goaway(uint32_t last, ErrorCode code = ErrorCode::kNoError) {
    std::string out;
    AppendGoaway(last, code, "bye", &out);
    return out;
  }
  static std::string PriorityFrame(uint32_t id, uint32_t dep) {
    std::string out;
    AppendPriority(id, Priority{false, dep, 15}, &out);
    return out;
  }

  // Preface, our SETTINGS, the ACK of the session's SETTINGS; checks the session's preface.
  void Handshake(std::initializer_list<Setting> settings = {}) {
    ASSERT_TRUE(Feed(Preface() + Settings(settings) + SettingsAck()).ok);
    const std::vector<OutFrame> out = Output();
    ASSERT_GE(out.size(), 2u);
    EXPECT_EQ(out[0].type(), FrameType::kSettings);
    EXPECT_FALSE(out[0].header.has(kFlagAck));
    bool acked = false;
    for (const auto& f : out) acked |= f.type() == FrameType::kSettings && f.header.has(kFlagAck);
    EXPECT_TRUE(acked);
  }

  // Takes the session's output, parses it frame by frame and returns the new frames.
  std::vector<OutFrame> Output() {
    std::string bytes;
    session.TakeOutput(&bytes);
    std::vector<OutFrame> out;
    std::string_view in = bytes;
    while (!in.empty()) {
      const ReadResult r = ReadFrame(in, kMaxMaxFrameSize);
      EXPECT_EQ(r.status, ReadStatus::kFrame) << "session output does not parse";
      if (r.status != ReadStatus::kFrame) break;
      OutFrame f;
      f.header = r.header;
      f.payload = r.payload;
      in.remove_prefix(r.consumed);
      switch (r.header.type) {
        case FrameType::kHeaders: {
          HeadersFrame hf;
          EXPECT_TRUE(DecodeHeaders(r.header, r.payload, &hf).ok());
          std::string block(hf.field_block);
          bool end = hf.end_headers;
          while (!end && !in.empty()) {
            const ReadResult c = ReadFrame(in, kMaxMaxFrameSize);
            EXPECT_EQ(c.status, ReadStatus::kFrame);
            EXPECT_EQ(c.header.type, FrameType::kContinuation);
            EXPECT_EQ(c.header.stream_id, r.header.stream_id);
            if (c.status != ReadStatus::kFrame) break;
            block.append(c.payload);
            end = c.header.has(kFlagEndHeaders);
            in.remove_prefix(c.consumed);
          }
          EXPECT_TRUE(end) << "HEADERS without its CONTINUATION";
          std::vector<hpack::HeaderField> fields;
          EXPECT_EQ(decoder.Decode(block, &fields).status, hpack::DecodeStatus::kOk);
          for (const auto& hf2 : fields) f.fields.emplace_back(hf2.name, hf2.value);
          break;
        }
        case FrameType::kRstStream: {
          RstStreamFrame rf;
          EXPECT_TRUE(DecodeRstStream(r.header, r.payload, &rf).ok());
          f.code = rf.error_code;
          break;
        }
        case FrameType::kGoaway: {
          GoawayFrame g;
          EXPECT_TRUE(DecodeGoaway(r.header, r.payload, &g).ok());
          f.code = g.error_code;
          f.last_stream_id = g.last_stream_id;
          break;
        }
        case FrameType::kWindowUpdate: {
          WindowUpdateFrame w;
          EXPECT_TRUE(DecodeWindowUpdate(r.header, r.payload, &w).ok());
          f.increment = w.increment;
          break;
        }
        case FrameType::kPing: {
          PingFrame p;
          EXPECT_TRUE(DecodePing(r.header, r.payload, &p).ok());
          f.opaque = p.opaque;
          break;
        }
        case FrameType::kSettings: {
          SettingsFrame s;
          EXPECT_TRUE(DecodeSettings(r.header, r.payload, Role::kClient, &s).ok());
          break;
        }
        default:
          break;
      }
      out.push_back(f);
      sent.push_back(f);
    }
    return out;
  }

  // Convenience checks on new output (each takes the output).
  // The last GOAWAY in the new output (an error's GOAWAY follows any earlier graceful one).
  std::optional<OutFrame> TakeGoaway() {
    std::optional<OutFrame> g;
    for (const auto& f : Output()) {
      if (f.type() == FrameType::kGoaway) g = f;
    }
    return g;
  }
  // Whether the new output holds RST_STREAM(id, code).
  bool TakeRst(uint32_t id, ErrorCode code) {
    for (const auto& f : Output()) {
      if (f.type() == FrameType::kRstStream && f.stream() == id && f.code == code) return true;
    }
    return false;
  }

 private:
  std::string fed_;
};

// Expects the last Feed to have failed with `code`, and a GOAWAY with it in the output.
inline void ExpectConnectionError(TestClient& c, ErrorCode code) {
  EXPECT_FALSE(c.last.ok);
  EXPECT_EQ(c.last.error, code) << "got " << ErrorCodeName(c.last.error) << ": " << c.last.detail;
  const auto g = c.TakeGoaway();
  ASSERT_TRUE(g.has_value()) << "no GOAWAY";
  EXPECT_EQ(g->code, code);
  EXPECT_TRUE(c.session.failed());
}

}  // namespace ringway::h2::testing

#endif  // RINGWAY_TESTS_PROTO_H2_SESSION_TEST_UTIL_H_
