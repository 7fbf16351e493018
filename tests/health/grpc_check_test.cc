// The gRPC health check without sockets: its request message and the HealthCheckResponse
// reader on bytes, then GrpcHealthCheck against a backend made of the project's HTTP/2 server
// session (what the check sends, each way a response passes or fails), and against raw frames
// a hostile or broken backend might send (endless DATA, PING floods, oversized messages,
// HTTP/1.1 instead of HTTP/2).
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "health/grpc_check.h"
#include "proto/h2_frame.h"
#include "proto/h2_frame_writer.h"
#include "proto/h2_session.h"
#include "proto/hpack.h"

namespace ringway::health {
namespace {

using namespace std::string_literals;

// gRPC's length-prefixed framing of one message (flag byte, 4-byte big-endian length).
std::string Framed(std::string_view message, bool compressed = false) {
  std::string out(5, '\0');
  out[0] = compressed ? 1 : 0;
  const auto n = static_cast<uint32_t>(message.size());
  out[1] = static_cast<char>(n >> 24);
  out[2] = static_cast<char>(n >> 16);
  out[3] = static_cast<char>(n >> 8);
  out[4] = static_cast<char>(n);
  return out + std::string(message);
}

const std::string kServing = "\x08\x01"s;
const std::string kNotServing = "\x08\x02"s;

// ---- The messages ---------------------------------------------------------------------------

TEST(GrpcHealthRequest, EmptyServiceIsAnEmptyMessage) {
  EXPECT_EQ(GrpcHealthRequest(""), "\0\0\0\0\0"s);
}

TEST(GrpcHealthRequest, ServiceIsField1) {
  EXPECT_EQ(GrpcHealthRequest("svc"), "\0\0\0\0\x05\x0a\x03svc"s);
}

TEST(GrpcHealthRequest, LongServiceHasATwoByteVarintLength) {
  const std::string name(200, 'a');
  const std::string m = GrpcHealthRequest(name);
  ASSERT_EQ(m.size(), 5u + 1 + 2 + 200);
  EXPECT_EQ(m.substr(0, 8), "\0\0\0\0\xcb\x0a\xc8\x01"s);  // 203 bytes; 200 = 0xc8 0x01
  EXPECT_EQ(m.substr(8), name);
}

TEST(ParseHealthCheckResponse, ReadsTheStatus) {
  int32_t status = -1;
  ASSERT_TRUE(ParseHealthCheckResponse(kServing, &status));
  EXPECT_EQ(status, 1);
  ASSERT_TRUE(ParseHealthCheckResponse(kNotServing, &status));
  EXPECT_EQ(status, 2);
  ASSERT_TRUE(ParseHealthCheckResponse("\x08\x03"s, &status));
  EXPECT_EQ(status, 3);
}

TEST(ParseHealthCheckResponse, AbsentStatusIsUnknown) {
  int32_t status = -1;
  ASSERT_TRUE(ParseHealthCheckResponse("", &status));
  EXPECT_EQ(status, 0);
}

TEST(ParseHealthCheckResponse, SkipsUnknownFieldsOfEveryWireType) {
  int32_t status = -1;
  // field 2 varint (300), field 3 fixed64, field 4 bytes "hi", field 5 fixed32, then status.
  const std::string m = "\x10\xac\x02"s + "\x19" + std::string(8, 'x') + "\x22\x02hi" + "\x2d" +
                        std::string(4, 'y') + "\x08\x01";
  ASSERT_TRUE(ParseHealthCheckResponse(m, &status));
  EXPECT_EQ(status, 1);
}

TEST(ParseHealthCheckResponse, LastStatusWins) {
  int32_t status = -1;
  ASSERT_TRUE(ParseHealthCheckResponse("\x08\x02\x08\x01"s, &status));
  EXPECT_EQ(status, 1);
}

TEST(ParseHealthCheckResponse, NegativeEnumIsNotServing) {
  int32_t status = 0;
  ASSERT_TRUE(ParseHealthCheckResponse("\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"s, &status));
  EXPECT_EQ(status, -1);
}

TEST(ParseHealthCheckResponse, RefusesMalformedMessages) {
  int32_t status = 0;
  EXPECT_FALSE(ParseHealthCheckResponse("\x08"s, &status));          // value missing
  EXPECT_FALSE(ParseHealthCheckResponse("\x08\x80"s, &status));      // varint cut short
  EXPECT_FALSE(ParseHealthCheckResponse("\x0a\x01\x01"s, &status));  // status as bytes
  EXPECT_FALSE(ParseHealthCheckResponse("\x22\x05hi"s, &status));    // length past the end
  EXPECT_FALSE(ParseHealthCheckResponse("\x0b"s, &status));          // group (wire type 3)
  EXPECT_FALSE(ParseHealthCheckResponse("\x00\x01"s, &status));      // field number 0
  EXPECT_FALSE(ParseHealthCheckResponse("\x08"s + std::string(11, '\xff'), &status));
}

// ---- The exchange, against the project's HTTP/2 server session -----------------------------

// A gRPC backend: records the request, answers as the test says.
class Backend : public h2::Handler {
 public:
  Backend() : session(h2::SessionLimits{}, this) {}

  void OnRequest(uint32_t id, const h2::Request& r, bool end_stream) override {
    stream = id;
    method = r.method;
    scheme = r.scheme;
    authority = r.authority;
    path = r.path;
    for (const hpack::HeaderField& f : r.fields) {
      fields.emplace_back(std::string(f.name), std::string(f.value));
    }
    request_ended = end_stream;
  }
  void OnData(uint32_t id, std::string_view data, bool end_stream) override {
    body.append(data);
    session.ConsumeData(id, data.size());
    request_ended = end_stream;
  }
  void OnTrailers(uint32_t, std::span<const hpack::HeaderField>) override {}
  void OnStreamClosed(uint32_t, h2::ErrorCode, bool) override {}

  std::string Field(std::string_view name) const {
    for (const auto& [n, v] : fields) {
      if (n == name) return v;
    }
    return "(none)";
  }

  // The response, one piece at a time, onto `out`.
  void Head(uint16_t status, std::vector<hpack::HeaderField> extra = {}, bool end = false) {
    std::vector<hpack::HeaderField> f = {{"content-type", "application/grpc"}};
    f.insert(f.end(), extra.begin(), extra.end());
    ASSERT_TRUE(session.SubmitResponse(stream, h2::Response(status, f), end));
    Flush();
  }
  void Data(std::string_view bytes, bool end = false) {
    char hdr[h2::kFrameHeaderSize];
    ASSERT_TRUE(session.PrepareData(stream, static_cast<uint32_t>(bytes.size()), end, hdr));
    Flush();
    out.append(hdr, sizeof(hdr));
    out.append(bytes);
  }
  void Trailers(std::vector<hpack::HeaderField> f) {
    ASSERT_TRUE(session.SubmitTrailers(stream, f));
    Flush();
  }
  void Flush() {
    std::string more;
    session.TakeOutput(&more);
    out += more;
  }
  std::string Take() {
    Flush();
    return std::exchange(out, std::string());
  }

  h2::ServerSession session;
  uint32_t stream = 0;
  std::string method, scheme, authority, path, body;
  std::vector<std::pair<std::string, std::string>> fields;
  bool request_ended = false;
  std::string out;
};

class GrpcCheckTest : public ::testing::Test {
 protected:
  // The check's request reaches the backend, and the SETTINGS both ways are exchanged.
  void Connect(std::string_view service = "") {
    backend_ = std::make_unique<Backend>();
    check_ = std::make_unique<GrpcHealthCheck>("10.0.0.7:50051", service);
    std::string out;
    check_->TakeOutput(&out);
    ASSERT_TRUE(backend_->session.Feed(out).ok);
    ASSERT_NE(backend_->stream, 0u);
    check_->Feed(backend_->Take());  // the backend's SETTINGS and its ACK of ours
    check_->TakeOutput(&out);        // our ACK
    ASSERT_TRUE(backend_->session.Feed(out).ok);
    ASSERT_FALSE(check_->done()) << check_->reason();
  }
  void Deliver() { check_->Feed(backend_->Take()); }
  void ExpectVerdict(bool ok, std::string_view reason) {
    ASSERT_TRUE(check_->done());
    EXPECT_EQ(check_->ok(), ok) << check_->reason();
    EXPECT_EQ(check_->reason(), reason);
  }

  std::unique_ptr<Backend> backend_;
  std::unique_ptr<GrpcHealthCheck> check_;
};

TEST_F(GrpcCheckTest, SendsTheHealthCheckCall) {
  Connect("my.pkg.Svc");
  EXPECT_EQ(backend_->method, "POST");
  EXPECT_EQ(backend_->scheme, "http");
  EXPECT_EQ(backend_->authority, "10.0.0.7:50051");
  EXPECT_EQ(backend_->path, "/grpc.health.v1.Health/Check");
  EXPECT_EQ(backend_->Field("content-type"), "application/grpc");
  EXPECT_EQ(backend_->Field("te"), "trailers");
  EXPECT_EQ(backend_->Field("user-agent"), "ringway-health");
  EXPECT_EQ(backend_->body, GrpcHealthRequest("my.pkg.Svc"));
  EXPECT_TRUE(backend_->request_ended);  // one DATA frame with END_STREAM
  EXPECT_EQ(check_->waiting_for(), "no response");
}

TEST_F(GrpcCheckTest, ServingPasses) {
  Connect();
  EXPECT_EQ(backend_->body, "\0\0\0\0\0"s);
  backend_->Head(200);
  backend_->Data(Framed(kServing));
  backend_->Trailers({{"grpc-status", "0"}});
  Deliver();
  ExpectVerdict(true, "SERVING");
}

TEST_F(GrpcCheckTest, ResponseByteByByte) {
  Connect();
  backend_->Head(200);
  backend_->Data(Framed(kServing).substr(0, 3));
  backend_->Data(Framed(kServing).substr(3));
  backend_->Trailers({{"grpc-status", "0"}, {"grpc-message", ""}});
  const std::string bytes = backend_->Take();
  for (size_t i = 0; i < bytes.size(); ++i) {
    ASSERT_FALSE(check_->done()) << i << ": " << check_->reason();
    check_->Feed(bytes.substr(i, 1));
  }
  ExpectVerdict(true, "SERVING");
}

TEST_F(GrpcCheckTest, NotServingFails) {
  Connect();
  backend_->Head(200);
  backend_->Data(Framed(kNotServing));
  backend_->Trailers({{"grpc-status", "0"}});
  Deliver();
  ExpectVerdict(false, "NOT_SERVING");
}

TEST_F(GrpcCheckTest, OtherServingStatusesFail) {
  for (auto [message, reason] :
       {std::pair{""s, "UNKNOWN"}, std::pair{"\x08\x03"s, "SERVICE_UNKNOWN"},
        std::pair{"\x08\x07"s, "serving status 7"}}) {
    Backend b;
    GrpcHealthCheck c("a:1", "");
    std::string out;
    c.TakeOutput(&out);
    ASSERT_TRUE(b.session.Feed(out).ok);
    b.Head(200);
    b.Data(Framed(message));
    b.Trailers({{"grpc-status", "0"}});
    c.Feed(b.Take());
    ASSERT_TRUE(c.done());
    EXPECT_FALSE(c.ok());
    EXPECT_EQ(c.reason(), reason);
  }
}

TEST_F(GrpcCheckTest, TrailersOnlyErrorFailsWithTheStatusAndMessage) {
  Connect("nope");
  backend_->Head(200, {{"grpc-status", "12"}, {"grpc-message", "Method not found"}}, true);
  Deliver();
  ExpectVerdict(false, "grpc-status 12 (UNIMPLEMENTED): Method not found");
}

TEST_F(GrpcCheckTest, ErrorInTrailersFails) {
  Connect("unknown.Svc");
  backend_->Head(200);
  backend_->Trailers({{"grpc-status", "5"}, {"grpc-message", "unknown \xc3\xa9 service"}});
  Deliver();
  ExpectVerdict(false, "grpc-status 5 (NOT_FOUND): unknown ?? service");
}

TEST_F(GrpcCheckTest, StatusWithoutAName) {
  Connect();
  backend_->Head(200, {{"grpc-status", "99"}}, true);
  Deliver();
  ExpectVerdict(false, "grpc-status 99");
}

TEST_F(GrpcCheckTest, TrailersOnlyOkWithoutMessageFails) {
  Connect();
  backend_->Head(200, {{"grpc-status", "0"}}, true);
  Deliver();
  ExpectVerdict(false, "grpc-status 0 but no response message");
}

TEST_F(GrpcCheckTest, HttpErrorFailsAtTheHead) {
  Connect();
  backend_->Head(503);
  Deliver();
  ExpectVerdict(false, "HTTP status 503");
}

TEST_F(GrpcCheckTest, MissingOrBadGrpcStatusFails) {
  Connect();
  backend_->Head(200);
  backend_->Data(Framed(kServing), /*end=*/true);  // no trailers
  Deliver();
  ExpectVerdict(false, "no grpc-status in the response");

  Backend b;
  GrpcHealthCheck c("a:1", "");
  std::string out;
  c.TakeOutput(&out);
  ASSERT_TRUE(b.session.Feed(out).ok);
  b.Head(200);
  b.Data(Framed(kServing));
  b.Trailers({{"grpc-status", "zero"}});
  c.Feed(b.Take());
  ASSERT_TRUE(c.done());
  EXPECT_EQ(c.reason(), "grpc-status is not a number");
}

TEST_F(GrpcCheckTest, CompressedOrCutMessagesFail) {
  Connect();
  backend_->Head(200);
  backend_->Data(Framed(kServing, /*compressed=*/true));
  backend_->Trailers({{"grpc-status", "0"}});
  Deliver();
  ExpectVerdict(false, "the response message is compressed");

  Backend b;
  GrpcHealthCheck c("a:1", "");
  std::string out;
  c.TakeOutput(&out);
  ASSERT_TRUE(b.session.Feed(out).ok);
  b.Head(200);
  b.Data(Framed(kServing).substr(0, 6));
  b.Trailers({{"grpc-status", "0"}});
  c.Feed(b.Take());
  ASSERT_TRUE(c.done());
  EXPECT_EQ(c.reason(), "the response message is cut short");
}

TEST_F(GrpcCheckTest, OversizedMessageIsNotKept) {
  Connect();
  backend_->Head(200);
  const std::string big = "\x08\x01\x12\xd0\x0f"s + std::string(2000, 'z');  // + field 2
  backend_->Data(Framed(big));
  EXPECT_EQ(check_->waiting_for(), "no response");
  Deliver();
  EXPECT_EQ(check_->waiting_for(), "no trailers");
  backend_->Trailers({{"grpc-status", "0"}});
  Deliver();
  ExpectVerdict(false,
                "the response message has 2005 bytes, more than the 1024 a HealthCheckResponse "
                "may have here");
}

TEST_F(GrpcCheckTest, LaterMessagesAreIgnored) {
  Connect();
  backend_->Head(200);
  backend_->Data(Framed(kServing) + Framed(kNotServing));
  backend_->Trailers({{"grpc-status", "0"}});
  Deliver();
  ExpectVerdict(true, "SERVING");
}

TEST_F(GrpcCheckTest, InterimHeadIsSkipped) {
  Connect();
  ASSERT_TRUE(backend_->session.SubmitResponse(backend_->stream, h2::Response(103), false));
  backend_->Head(200);
  backend_->Data(Framed(kServing));
  backend_->Trailers({{"grpc-status", "0"}});
  Deliver();
  ExpectVerdict(true, "SERVING");
}

TEST_F(GrpcCheckTest, ResetStreamFails) {
  Connect();
  ASSERT_TRUE(backend_->session.ResetStream(backend_->stream, h2::ErrorCode::kRefusedStream));
  Deliver();
  ExpectVerdict(false, "stream reset by the backend: REFUSED_STREAM");
}

TEST_F(GrpcCheckTest, ClosedConnectionFails) {
  Connect();
  check_->OnEof();
  ExpectVerdict(false, "connection closed without a response");

  Connect();
  backend_->Head(200);
  Deliver();
  EXPECT_EQ(check_->waiting_for(), "no response message");
  check_->OnEof();
  ExpectVerdict(false, "connection closed before the response ended");
}

TEST_F(GrpcCheckTest, VerdictIsFinal) {
  Connect();
  backend_->Head(200, {{"grpc-status", "14"}}, true);
  Deliver();
  ExpectVerdict(false, "grpc-status 14 (UNAVAILABLE)");
  check_->OnEof();
  check_->Feed("garbage");
  ExpectVerdict(false, "grpc-status 14 (UNAVAILABLE)");
  EXPECT_EQ(check_->waiting_for(), "");
}

// ---- Hostile and broken backends, raw frames ----------------------------------------------------

// The check's request sent to a server session that answers its SETTINGS; returns the check,
// its stream open, and the server's bytes so far (SETTINGS, ACK) fed to it.
std::unique_ptr<GrpcHealthCheck> Started(Backend* b) {
  auto c = std::make_unique<GrpcHealthCheck>("a:1", "");
  std::string out;
  c->TakeOutput(&out);
  EXPECT_TRUE(b->session.Feed(out).ok);
  c->Feed(b->Take());
  return c;
}

TEST(GrpcCheckHostile, EndlessDataIsCutByFlowControl) {
  Backend b;
  auto c = Started(&b);
  b.Head(200);
  c->Feed(b.Take());
  // DATA past the 64 KiB window, which the check never releases: a message of 1 MiB announced,
  // then 16 KiB frames.
  std::string first;
  h2::AppendData(1, Framed(std::string(1 << 20, 'x')).substr(0, 16384), false, &first);
  c->Feed(first);
  std::string frame;
  h2::AppendData(1, std::string(16384, 'x'), false, &frame);
  int frames = 1;
  for (; frames < 100 && !c->done(); ++frames) c->Feed(frame);
  EXPECT_EQ(frames, 4);  // the fourth frame is one byte past 65535
  ASSERT_TRUE(c->done());
  EXPECT_FALSE(c->ok());
  EXPECT_EQ(c->reason().rfind("HTTP/2 error FLOW_CONTROL_ERROR", 0), 0u) << c->reason();
}

TEST(GrpcCheckHostile, PingFloodEndsTheCheck) {
  Backend b;
  auto c = Started(&b);
  std::string out;
  for (int i = 0; i < 10000 && !c->done(); ++i) {
    std::string ping;
    h2::AppendPing(i, false, &ping);
    c->Feed(ping);
  }
  ASSERT_TRUE(c->done());
  EXPECT_FALSE(c->ok());
  c->TakeOutput(&out);
  EXPECT_LT(out.size(), 64u * 1024);  // the ACKs it queued stay bounded
}

TEST(GrpcCheckHostile, Http1AnswerIsAnHttp2Error) {
  GrpcHealthCheck c("a:1", "");
  c.Feed("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
  ASSERT_TRUE(c.done());
  EXPECT_FALSE(c.ok());
  EXPECT_EQ(c.reason().rfind("HTTP/2 error ", 0), 0u) << c.reason();
}

TEST(GrpcCheckHostile, GoawayThenCloseIsNamed) {
  Backend b;
  auto c = Started(&b);
  std::string goaway;
  h2::AppendGoaway(0, h2::ErrorCode::kEnhanceYourCalm, "bye", &goaway);
  c->Feed(goaway);  // the stream was not processed: REFUSED_STREAM
  ASSERT_TRUE(c->done());
  EXPECT_EQ(c->reason(), "stream reset by the backend: REFUSED_STREAM");

  Backend b2;
  auto d = Started(&b2);
  std::string goaway2;
  h2::AppendGoaway(1, h2::ErrorCode::kNoError, "", &goaway2);
  d->Feed(goaway2);  // the stream goes on; the connection then closes
  ASSERT_FALSE(d->done());
  d->OnEof();
  EXPECT_EQ(d->reason(), "connection closed without a response (GOAWAY NO_ERROR)");
}

TEST(GrpcCheckHostile, HugeHeadersAreRefused) {
  Backend b;
  auto c = Started(&b);
  const std::string big(20000, 'v');
  const hpack::HeaderField fields[] = {{":status", "200"}, {"x-big", big}};
  hpack::Encoder encoder;
  std::string block;
  encoder.Encode(fields, &block);
  std::string frames;
  h2::AppendHeaders(1, block, false, h2::kDefaultMaxFrameSize, &frames);
  c->Feed(frames);
  ASSERT_TRUE(c->done());
  EXPECT_FALSE(c->ok());
  EXPECT_NE(c->reason(), "");
}

}  // namespace
}  // namespace ringway::health
