// A test backend for ClientSession: plays the server side of the connection. It parses what the
// session sends (the client magic, then frames; field blocks HPACK-decoded with its own decoder,
// as a real server would) and builds server frames with the frame writers and its own HPACK
// encoder to Feed into the session; a recording Handler keeps the session's events.
//
//   TestServer s;
//   s.Handshake({{SettingId::kMaxConcurrentStreams, 2}});  // SETTINGS both ways
//   const uint32_t id = s.Get("/");                          // SubmitRequest
//   ASSERT_TRUE(s.Feed(s.Response(id, "200", {}, /*end_stream=*/true)).ok);
//   EXPECT_EQ(s.handler.Of(ClientEvent::kResponse).size(), 1u);
//   EXPECT_TRUE(s.TakeRst(id, ErrorCode::kProtocolError));   // or s.TakeGoaway(), s.Output() ...
#ifndef RINGWAY_TESTS_PROTO_H2_CLIENT_SESSION_TEST_UTIL_H_
#define RINGWAY_TESTS_PROTO_H2_CLIENT_SESSION_TEST_UTIL_H_

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <span>
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

// (The same alias as tests/proto/h2_session_test_util.h: both headers may be included.)
using Fields = std::vector<std::pair<std::string, std::string>>;

struct ClientEvent {
  enum Kind {
    kResponse,
    kData,
    kTrailers,
    kClosed,
    kSendWindow,
    kGoaway,
    kPingAck,
    kUnexpected  // a server-role event (OnRequest, OnRequestRejected): never for a client
  };
  Kind kind = kResponse;
  uint32_t stream_id = 0;
  bool end_stream = false;
  // kResponse
  uint16_t status = 0;
  std::optional<uint64_t> content_length;
  Fields fields;  // kResponse: the regular fields; kTrailers: the trailers
  // kData: the bytes; kGoaway: the debug data
  std::string data;
  bool data_in_feed = true;  // the view lay inside the bytes of the Feed call
  // kClosed, kGoaway
  ErrorCode code = ErrorCode::kNoError;
  bool by_peer = false;
  uint32_t last_stream_id = 0;
};

class ClientRecorder : public Handler {
 public:
  std::vector<ClientEvent> events;
  std::string_view feeding;  // the bytes of the Feed call in progress
  // Optional hooks, run after recording (to call back into the session).
  std::function<void(uint32_t, const ResponseHead&, bool)> on_response;
  std::function<void(uint32_t, std::string_view, bool)> on_data;
  std::function<void(uint32_t, ErrorCode, bool)> on_closed;
  std::function<void(uint32_t)> on_send_window;
  std::function<void(uint32_t, ErrorCode)> on_goaway;

  void OnRequest(uint32_t id, const Request&, bool) override {
    ClientEvent e;
    e.kind = ClientEvent::kUnexpected;
    e.stream_id = id;
    events.push_back(std::move(e));
  }
  void OnRequestRejected(uint32_t id, uint16_t status, const char*) override {
    ClientEvent e;
    e.kind = ClientEvent::kUnexpected;
    e.stream_id = id;
    e.status = status;
    events.push_back(std::move(e));
  }
  void OnResponse(uint32_t id, const ResponseHead& head, bool end_stream) override {
    ClientEvent e;
    e.kind = ClientEvent::kResponse;
    e.stream_id = id;
    e.end_stream = end_stream;
    e.status = head.status;
    e.content_length = head.content_length;
    for (const auto& f : head.fields) e.fields.emplace_back(f.name, f.value);
    events.push_back(std::move(e));
    if (on_response) on_response(id, head, end_stream);
  }
  void OnData(uint32_t id, std::string_view data, bool end_stream) override {
    ClientEvent e;
    e.kind = ClientEvent::kData;
    e.stream_id = id;
    e.end_stream = end_stream;
    e.data = data;
    e.data_in_feed = data.empty() || (data.data() >= feeding.data() &&
                                      data.data() + data.size() <= feeding.data() + feeding.size());
    events.push_back(std::move(e));
    if (on_data) on_data(id, data, end_stream);
  }
  void OnTrailers(uint32_t id, std::span<const hpack::HeaderField> fields) override {
    ClientEvent e;
    e.kind = ClientEvent::kTrailers;
    e.stream_id = id;
    e.end_stream = true;
    for (const auto& f : fields) e.fields.emplace_back(f.name, f.value);
    events.push_back(std::move(e));
  }
  void OnStreamClosed(uint32_t id, ErrorCode code, bool by_peer) override {
    ClientEvent e;
    e.kind = ClientEvent::kClosed;
    e.stream_id = id;
    e.code = code;
    e.by_peer = by_peer;
    events.push_back(std::move(e));
    if (on_closed) on_closed(id, code, by_peer);
  }
  void OnSendWindow(uint32_t id) override {
    ClientEvent e;
    e.kind = ClientEvent::kSendWindow;
    e.stream_id = id;
    events.push_back(std::move(e));
    if (on_send_window) on_send_window(id);
  }
  void OnGoaway(uint32_t last, ErrorCode code, std::string_view debug) override {
    ClientEvent e;
    e.kind = ClientEvent::kGoaway;
    e.last_stream_id = last;
    e.code = code;
    e.data = debug;
    events.push_back(std::move(e));
    if (on_goaway) on_goaway(last, code);
  }
  void OnPingAck() override {
    ClientEvent e;
    e.kind = ClientEvent::kPingAck;
    events.push_back(std::move(e));
  }

  std::vector<ClientEvent> Of(ClientEvent::Kind k) const {
    std::vector<ClientEvent> out;
    for (const auto& e : events) {
      if (e.kind == k) out.push_back(e);
    }
    return out;
  }
  // Events of one kind on one stream.
  std::vector<ClientEvent> Of(ClientEvent::Kind k, uint32_t id) const {
    std::vector<ClientEvent> out;
    for (const auto& e : events) {
      if (e.kind == k && e.stream_id == id) out.push_back(e);
    }
    return out;
  }
  // The DATA bytes delivered on a stream, all OnData calls together.
  std::string Body(uint32_t id) const {
    std::string out;
    for (const auto& e : events) {
      if (e.kind == ClientEvent::kData && e.stream_id == id) out += e.data;
    }
    return out;
  }
};

// One frame the session sent; HEADERS carry their whole block (CONTINUATION folded in),
// decoded; SETTINGS their entries.
struct SentFrame {
  FrameHeader header;
  std::string payload;
  Fields fields;                         // HEADERS only
  size_t continuations = 0;              // HEADERS: CONTINUATION frames that followed
  std::vector<Setting> settings;         // SETTINGS only
  ErrorCode code = ErrorCode::kNoError;  // RST_STREAM, GOAWAY
  uint32_t last_stream_id = 0;           // GOAWAY
  std::string debug;                     // GOAWAY
  uint32_t increment = 0;                // WINDOW_UPDATE
  uint64_t opaque = 0;                   // PING

  FrameType type() const { return header.type; }
  uint32_t stream() const { return header.stream_id; }
  bool end_stream() const { return header.has(kFlagEndStream); }
  bool ack() const { return header.has(kFlagAck); }
  std::string Field(std::string_view name) const {
    for (const auto& [n, v] : fields) {
      if (n == name) return v;
    }
    return "";
  }
  std::optional<uint32_t> SettingValue(SettingId id) const {
    for (const Setting s : settings) {
      if (s.id == id) return s.value;
    }
    return std::nullopt;
  }
};

class TestServer {
 public:
  explicit TestServer(const SessionLimits& limits = {}, uint64_t now_ms = 0)
      : session(limits, &handler, now_ms), events(handler.events) {}

  ClientRecorder handler;
  ClientSession session;
  std::vector<ClientEvent>& events;
  hpack::Encoder encoder{hpack::EncoderOptions{.max_table_size = 4096, .huffman = true}};
  hpack::Decoder decoder{4096, 1u << 24};
  std::vector<SentFrame> sent;  // everything parsed from the session so far
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

  // ---- requests through the session
  static Fields RequestFields(std::string_view method = "GET", std::string_view path = "/") {
    return {{":method", std::string(method)},
            {":scheme", "https"},
            {":authority", "backend.example"},
            {":path", std::string(path)}};
  }
  uint32_t Submit(const Fields& fields, bool end_stream) {
    std::vector<hpack::HeaderField> hf;
    for (const auto& [n, v] : fields) hf.push_back({n, v});
    return session.SubmitRequest(hf, end_stream);
  }
  uint32_t Get(std::string_view path = "/") { return Submit(RequestFields("GET", path), true); }
  uint32_t Head(std::string_view path = "/") { return Submit(RequestFields("HEAD", path), true); }
  // A request with a body to come (no END_STREAM on its HEADERS).
  uint32_t Post(std::string_view path = "/upload") {
    return Submit(RequestFields("POST", path), false);
  }

  // ---- frames a server sends
  static std::string Frame(FrameType type, uint8_t flags, uint32_t id, std::string_view payload) {
    std::string out;
    AppendFrameHeader(FrameHeader{static_cast<uint32_t>(payload.size()), type, flags, id}, &out);
    out.append(payload);
    return out;
  }
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
  // A response head: ":status" first, then `extra`.
  std::string Response(uint32_t id, std::string_view status, const Fields& extra = {},
                       bool end_stream = false) {
    Fields f = {{":status", std::string(status)}};
    f.insert(f.end(), extra.begin(), extra.end());
    return Headers(id, f, end_stream);
  }
  std::string Trailers(uint32_t id, const Fields& fields, bool end_stream = true) {
    return Headers(id, fields, end_stream);
  }
  // A HEADERS frame carrying `fragment` without END_HEADERS; CONTINUATION frames follow.
  static std::string HeadersFragment(uint32_t id, std::string_view fragment, bool end_stream) {
    return Frame(FrameType::kHeaders, end_stream ? kFlagEndStream : 0, id, fragment);
  }
  static std::string Continuation(uint32_t id, std::string_view fragment, bool end_headers) {
    return Frame(FrameType::kContinuation, end_headers ? kFlagEndHeaders : 0, id, fragment);
  }
  std::string PushPromise(uint32_t id, uint32_t promised, const Fields& fields) {
    std::string out;
    AppendPushPromise(id, promised, Block(fields), kDefaultMaxFrameSize, &out);
    return out;
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
  static std::string Goaway(uint32_t last, ErrorCode code = ErrorCode::kNoError,
                            std::string_view debug = "bye") {
    std::string out;
    AppendGoaway(last, code, debug, &out);
    return out;
  }

  // Takes the client's preface (checked by Output), sends the server's SETTINGS and the ACK of
  // the client's, and checks that the client acknowledges ours. The frames of the client's
  // preface (and of any request submitted before) are in `preface`.
  void Handshake(std::initializer_list<Setting> settings = {}) {
    preface = Output();
    ASSERT_FALSE(preface.empty());
    EXPECT_EQ(preface[0].type(), FrameType::kSettings);
    EXPECT_FALSE(preface[0].ack());
    ASSERT_TRUE(Feed({Settings(settings), SettingsAck()}).ok) << last.detail;
    bool acked = false;
    for (const auto& f : Output()) acked |= f.type() == FrameType::kSettings && f.ack();
    EXPECT_TRUE(acked) << "the server's SETTINGS were not acknowledged";
  }
  std::vector<SentFrame> preface;

  // Takes the session's output, parses it frame by frame (the client magic first, once) and
  // returns the new frames.
  std::vector<SentFrame> Output() {
    std::string bytes;
    session.TakeOutput(&bytes);
    std::string_view in = bytes;
    if (!magic_seen_) {
      EXPECT_TRUE(in.starts_with(kClientPreface)) << "no client connection preface";
      if (in.starts_with(kClientPreface)) in.remove_prefix(kClientPreface.size());
      magic_seen_ = true;
    }
    std::vector<SentFrame> out;
    while (!in.empty()) {
      const ReadResult r = ReadFrame(in, kMaxMaxFrameSize);
      EXPECT_EQ(r.status, ReadStatus::kFrame) << "session output does not parse";
      if (r.status != ReadStatus::kFrame) break;
      SentFrame f;
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
            if (c.status != ReadStatus::kFrame) break;
            EXPECT_EQ(c.header.type, FrameType::kContinuation);
            EXPECT_EQ(c.header.stream_id, r.header.stream_id);
            block.append(c.payload);
            end = c.header.has(kFlagEndHeaders);
            ++f.continuations;
            in.remove_prefix(c.consumed);
          }
          EXPECT_TRUE(end) << "HEADERS without its CONTINUATION";
          std::vector<hpack::HeaderField> fields;
          EXPECT_EQ(decoder.Decode(block, &fields).status, hpack::DecodeStatus::kOk);
          for (const auto& d : fields) f.fields.emplace_back(d.name, d.value);
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
          f.debug = g.debug_data;
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
          EXPECT_TRUE(DecodeSettings(r.header, r.payload, Role::kServer, &s).ok());
          for (const Setting e : s.settings) f.settings.push_back(e);
          break;
        }
        case FrameType::kPushPromise:
          ADD_FAILURE() << "a client sent PUSH_PROMISE";
          break;
        default:
          break;
      }
      out.push_back(f);
      sent.push_back(f);
    }
    return out;
  }

  // Convenience checks on new output (each takes the output).
  // The last GOAWAY in the new output.
  std::optional<SentFrame> TakeGoaway() {
    std::optional<SentFrame> g;
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
  // The frames of one type in the new output.
  std::vector<SentFrame> Take(FrameType type) {
    std::vector<SentFrame> out;
    for (const auto& f : Output()) {
      if (f.type() == type) out.push_back(f);
    }
    return out;
  }

 private:
  std::string fed_;
  bool magic_seen_ = false;
};

// Expects the last Feed to have failed with `code`, and a GOAWAY with it (last-stream-id 0: a
// client processes no stream of the server's) in the output.
inline void ExpectClientConnectionError(TestServer& s, ErrorCode code) {
  EXPECT_FALSE(s.last.ok);
  EXPECT_EQ(s.last.error, code) << "got " << ErrorCodeName(s.last.error) << ": " << s.last.detail;
  const auto g = s.TakeGoaway();
  ASSERT_TRUE(g.has_value()) << "no GOAWAY";
  EXPECT_EQ(g->code, code);
  EXPECT_EQ(g->last_stream_id, 0u);
  EXPECT_TRUE(s.session.failed());
  EXPECT_TRUE(s.session.finished());
  EXPECT_EQ(s.session.OpenableStreams(), 0u);
}

// Expects a stream error: RST_STREAM(id, code) in the new output and OnStreamClosed(id, code,
// by_peer=false), the connection going on.
inline void ExpectClientStreamError(TestServer& s, uint32_t id, ErrorCode code) {
  EXPECT_TRUE(s.last.ok) << s.last.detail;
  EXPECT_FALSE(s.session.failed());
  EXPECT_TRUE(s.TakeRst(id, code)) << "no RST_STREAM " << ErrorCodeName(code) << " on " << id;
  const auto closed = s.handler.Of(ClientEvent::kClosed, id);
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].code, code) << ErrorCodeName(closed[0].code);
  EXPECT_FALSE(closed[0].by_peer);
  EXPECT_EQ(s.session.stream_state(id), StreamState::kClosed);
}

}  // namespace ringway::h2::testing

#endif  // RINGWAY_TESTS_PROTO_H2_CLIENT_SESSION_TEST_UTIL_H_
