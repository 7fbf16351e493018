// The admin server against real sockets on loopback: round trips, keep-alive, pipelining,
// bodies, every error it makes itself, and the peers that misbehave (a stalled head, a client
// that never reads, too many connections), each bounded by the options with small timeouts.
#include "admin/server.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "admin/json.h"
#include "gtest/gtest.h"
#include "proto/http1_parser.h"

namespace ringway::admin {
namespace {

using Clock = std::chrono::steady_clock;

int64_t MsSince(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

// Echoes what the server handed over, as JSON.
Response Echo(const Request& r) {
  JsonWriter w;
  w.BeginObject().Key("method").String(r.method).Key("path").String(r.path);
  w.Key("query").String(r.query).Key("body").String(r.body);
  w.Key("authorization").String(r.authorization).Key("content_type").String(r.content_type);
  w.Key("loopback").Bool(r.loopback_peer).EndObject();
  Response resp;
  resp.body = w.Take();
  return resp;
}

std::unique_ptr<Server> StartServer(Handler h, ServerOptions opts = {}) {
  auto s = std::make_unique<Server>();
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  absl::Status st = s->Start(reinterpret_cast<sockaddr*>(&a), sizeof(a), std::move(h), opts);
  EXPECT_TRUE(st.ok()) << st;
  EXPECT_NE(s->port(), 0);
  return s;
}

// A blocking client socket whose reads give up after 3 s.
class Client {
 public:
  explicit Client(uint16_t port, int rcvbuf = 0, int sndbuf = 0) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{.tv_sec = 3, .tv_usec = 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (rcvbuf > 0) setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    if (sndbuf > 0) setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  }
  ~Client() { Close(); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connected() const { return connected_; }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

  bool Send(std::string_view s) {
    while (!s.empty()) {
      ssize_t n = send(fd_, s.data(), s.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      s.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  struct Reply {
    int status = 0;
    std::map<std::string, std::string> fields;  // lower-case names
    std::string body;
    bool has(const std::string& name) const { return fields.count(name) > 0; }
  };

  // One response (an interim one included); false on end of stream, error or timeout first.
  bool Read(Reply* out, bool head_request = false) {
    for (;;) {
      http1::Field fields[100];
      http1::ResponseHead h;
      http1::ParseResult r = http1::ParseResponse(buf_, {}, fields, &h);
      if (r.status == http1::ParseStatus::kError) return false;
      if (r.status == http1::ParseStatus::kComplete) {
        const http1::BodyKind kind = http1::ResponseBody(h, head_request);
        if (kind == http1::BodyKind::kChunked || kind == http1::BodyKind::kUntilClose) {
          return false;  // the server always sends Content-Length
        }
        const size_t len = kind == http1::BodyKind::kContentLength ? h.framing.content_length : 0;
        if (buf_.size() >= r.consumed + len) {
          out->status = h.status;
          out->fields.clear();
          for (const http1::Field& f : h.fields) {
            std::string name(f.name);
            for (char& c : name) c = static_cast<char>(tolower(c));
            out->fields[name] = std::string(f.value);
          }
          out->body = buf_.substr(r.consumed, len);
          buf_.erase(0, r.consumed + len);
          return true;
        }
      }
      if (!Fill()) return false;
    }
  }

  // Reads until the server closes: true on end of stream or reset, false on timeout.
  bool ReadToEnd(std::string* got = nullptr) {
    std::string sink;
    std::string* dst = got ? got : &sink;
    dst->append(buf_);
    buf_.clear();
    char tmp[65536];
    for (;;) {
      ssize_t n = recv(fd_, tmp, sizeof(tmp), 0);
      if (n > 0) {
        dst->append(tmp, static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n == 0 || errno == ECONNRESET) return true;
      return false;
    }
  }

 private:
  bool Fill() {
    char tmp[65536];
    ssize_t n;
    do {
      n = recv(fd_, tmp, sizeof(tmp), 0);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  std::string buf_;
};

using Reply = Client::Reply;

constexpr char kGet[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";

TEST(AdminServerTest, GetRoundTrip) {
  auto server = StartServer(Echo);
  Client c(server->port());
  ASSERT_TRUE(c.Send("GET /stats?x=1&y HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer t\r\n\r\n"));
  Reply r;
  ASSERT_TRUE(c.Read(&r));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"method":"GET","path":"/stats","query":"x=1&y","body":"","authorization":)"
                    R"("Bearer t","content_type":"","loopback":true})");
  EXPECT_EQ(r.fields["content-type"], "application/json");
  EXPECT_EQ(r.fields["cache-control"], "no-store");
  EXPECT_EQ(r.fields["content-length"], std::to_string(r.body.size()));
  EXPECT_FALSE(r.has("connection"));
}

TEST(AdminServerTest, AbsoluteFormTargetGivesPathAndQuery) {
  auto server = StartServer(Echo);
  Client c(server->port());
  ASSERT_TRUE(c.Send("GET http://a/x/y?q HTTP/1.1\r\nHost: a\r\n\r\n"));
  Reply r;
  ASSERT_TRUE(c.Read(&r));
  EXPECT_NE(r.body.find(R"("path":"/x/y","query":"q")"), std::string::npos) << r.body;
}

TEST(AdminServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  std::atomic<int> calls{0};
  auto server = StartServer([&](const Request& req) {
    ++calls;
    return Echo(req);
  });
  Client c(server->port());
  Reply r;
  ASSERT_TRUE(c.Send("GET /one HTTP/1.1\r\nHost: a\r\n\r\n"));
  ASSERT_TRUE(c.Read(&r));
  EXPECT_NE(r.body.find("/one"), std::string::npos);
  ASSERT_TRUE(c.Send("GET /two HTTP/1.1\r\nHost: a\r\n\r\n"));
  ASSERT_TRUE(c.Read(&r));
  EXPECT_NE(r.body.find("/two"), std::string::npos);
  EXPECT_EQ(calls.load(), 2);
}

TEST(AdminServerTest, PipelinedRequestsInOneWriteAreAnsweredInOrder) {
  auto server = StartServer(Echo);
  Client c(server->port());
  ASSERT_TRUE(
      c.Send("GET /a HTTP/1.1\r\nHost: a\r\n\r\n"
             "POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nxyz"
             "GET /c HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"));
  Reply r;
  ASSERT_TRUE(c.Read(&r));
  EXPECT_NE(r.body.find(R"("path":"/a")"), std::string::npos);
  ASSERT_TRUE(c.Read(&r));
  EXPECT_NE(r.body.find(R"("path":"/b","query":"","body":"xyz")"), std::string::npos);
  ASSERT_TRUE(c.Read(&r));
  EXPECT_NE(r.body.find(R"("path":"/c")"), std::string::npos);
  EXPECT_EQ(r.fields["connection"], "close");
  EXPECT_TRUE(c.ReadToEnd());
}

TEST(AdminServerTest, PostBodyArrivingInPiecesIsDeliveredWhole) {
  auto server = StartServer(Echo);
  Client c(server->port());
  ASSERT_TRUE(c.Send(
      "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n"
      "\r\nhello"));
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  ASSERT_TRUE(c.Send(" world"));
  Reply r;
  ASSERT_TRUE(c.Read(&r));
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find(R"("body":"hello world")"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("content_type":"text/plain")"), std::string::npos) << r.body;
}

TEST(AdminServerTest, HeadDribbledAByteAtATimeIsParsed) {
  auto server = StartServer(Echo);
  Client c(server->port());
  // CR and LF of the blank line arrive in separate reads.
  for (char ch : std::string("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")) {
    ASSERT_TRUE(c.Send(std::string(1, ch)));
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  Reply r;
  ASSERT_TRUE(c.Read(&r));
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find(R"("path":"/slow")"), std::string::npos);
}

TEST(AdminServerTest, ExpectContinueGets100BeforeTheBodyIsRead) {
  auto server = StartServer(Echo);
  Client c(server->port());
  ASSERT_TRUE(
      c.Send("PUT /x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"));
  Reply r;
  ASSERT_TRUE(c.Read(&r));
  EXPECT_EQ(r.status, 100);
  ASSERT_TRUE(c.Send("data"));
  ASSERT_TRUE(c.Read(&r));
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find(R"("body":"data")"), std::string::npos);
}

TEST(AdminServerTest, BodyOverMaxBodyGets413WithoutBeingRead) {
  std::atomic<int> calls{0};
  auto server = StartServer(
      [&](const Request& req) {
        ++calls;
        return Echo(req);
      },
      {.max_body = 10});
  Client c(server->port());
  // Expect: 100-continue must not make the server invite a body it will refuse.
  ASSERT_TRUE(
      c.Send("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 11\r\n\r\n"));
  Reply r;
  ASSERT_TRUE(c.Read(&r));
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.fields["content-type"], "application/json");
  EXPECT_EQ(r.fields["connection"], "close");
  EXPECT_NE(r.body.find(R"("error":"request body too large")"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("hint":)"), std::string::npos);
  EXPECT_TRUE(c.ReadToEnd());
  EXPECT_EQ(calls.load(), 0);

  // At the limit it passes.
  Client ok(server->port());
  ASSERT_TRUE(ok.Send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789"));
  ASSERT_TRUE(ok.Read(&r));
  EXPECT_EQ(r.status, 200);
}

TEST(AdminServerTest, RefusedUploadStillGetsItsAnswer) {
  // The client sends its whole body without waiting: the server answers 413 at the head and
  // drains the rest (lingering close), so the client's sends and its read of the 413 succeed
  // rather than meet a reset.
  auto server = StartServer(Echo, {.max_body = 10});
  Client c(server->port(), /*rcvbuf=*/0, /*sndbuf=*/8 * 1024);  // the body leaves in many sends
  const size_t kBody = 900 * 1024;                              // under the 1 MiB the server drains
  std::atomic<bool> sent{false};
  std::thread uploader([&] {
    sent = c.Send(absl::StrCat("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ", kBody, "\r\n\r\n",
                               std::string(kBody, 'b')));
  });
  Reply r;
  const bool read = c.Read(&r);
  uploader.join();
  ASSERT_TRUE(read);
  EXPECT_EQ(r.status, 413);
  EXPECT_TRUE(sent.load());
  EXPECT_TRUE(c.ReadToEnd());
}

TEST(AdminServerTest, HeadOverMaxHeadGets431) {
  auto server = StartServer(Echo, {.max_head = 1024});
  Client c(server->port());
  ASSERT_TRUE(c.Send("GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(2000, 'a') + "\r\n\r\n"));
  Reply r;
  ASSERT_TRUE(c.Read(&r));
  EXPECT_EQ(r.status, 431);
  EXPECT_NE(r.body.find(R"("error":)"), std::string::npos);
  EXPECT_EQ(r.fields["connection"], "close");
  EXPECT_TRUE(c.ReadToEnd());
}

TEST(AdminServerTest, HeadOverMaxHeadWithoutItsEndGets431) {
  // The head never ends: the limit alone must trigger the answer.
  auto server = StartServer(Echo, {.max_head = 1024});
  Client c(server->port());
  ASSERT_TRUE(c.Send("GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(1500, 'a')));
  Reply r;
  ASSERT_TRUE(c.Read(&r));
  EXPECT_EQ(r.status, 431);
}

TEST(AdminServerTest, ChunkedAndOtherCodedBodiesGet411) {
  auto server = StartServer(Echo);
  for (const char* te : {"chunked", "gzip, chunked", "gzip"}) {
    Client c(server->port());
    ASSERT_TRUE(c.Send(absl::StrCat("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ", te,
                                    "\r\n\r\n5\r\nhello\r\n0\r\n\r\n")));
    Reply r;
    ASSERT_TRUE(c.Read(&r)) << te;
    EXPECT_EQ(r.status, 411) << te;
    EXPECT_EQ(r.fields["content-type"], "application/json");
    EXPECT_NE(r.body.find("Content-Length"), std::string::npos) << r.body;  // the hint
    EXPECT_TRUE(c.ReadToEnd());
  }
}

TEST(AdminServerTest, MalformedRequestGets400AndClose) {
  std::atomic<int> calls{0};
  auto server = StartServer([&](const Request& req) {
    ++calls;
    return Echo(req);
  });
  for (const char* bad :
       {"GET / HTTP/1.1\r\nHost: a\r\nBad Field: x\r\n\r\n", "GET / HTTP/9.9\r\nHost: a\r\n\r\n",
        "GET / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nAuthorization: a\r\nAuthorization: b\r\n\r\n"}) {
    Client c(server->port());
    ASSERT_TRUE(c.Send(bad));
    Reply r;
    ASSERT_TRUE(c.Read(&r)) << bad;
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(r.fields["connection"], "close");
    EXPECT_NE(r.body.find(R"("error":)"), std::string::npos);
    EXPECT_TRUE(c.ReadToEnd());
  }
  EXPECT_EQ(calls.load(), 0);
}

TEST(AdminServerTest, StalledHeadDoesNotBlockOthersAndGets408) {
  auto server = StartServer(Echo, {.request_timeout_ms = 1500});
  const Clock::time_point start = Clock::now();
  Client stalled(server->port());
  ASSERT_TRUE(stalled.Send("GET / HTTP/1.1\r\nHo"));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));

  const Clock::time_point t = Clock::now();
  Client other(server->port());
  ASSERT_TRUE(other.Send(kGet));
  Reply r;
  ASSERT_TRUE(other.Read(&r));
  EXPECT_EQ(r.status, 200);
  EXPECT_LT(MsSince(t), 750);  // a server stalled by the head would answer after 1.5 s

  ASSERT_TRUE(stalled.Read(&r));
  EXPECT_EQ(r.status, 408);
  EXPECT_NE(r.body.find(R"("error":"request timeout")"), std::string::npos);
  EXPECT_TRUE(stalled.ReadToEnd());
  EXPECT_GE(MsSince(start), 1480);
  EXPECT_LT(MsSince(start), 4000);
}

TEST(AdminServerTest, StalledBodyGets408) {
  auto server = StartServer(Echo, {.request_timeout_ms = 300});
  Client c(server->port());
  ASSERT_TRUE(c.Send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc"));
  Reply r;
  ASSERT_TRUE(c.Read(&r));
  EXPECT_EQ(r.status, 408);
  EXPECT_TRUE(c.ReadToEnd());
}

TEST(AdminServerTest, SilentConnectionIsClosedWithoutAnAnswer) {
  auto server = StartServer(Echo, {.request_timeout_ms = 200});
  const Clock::time_point start = Clock::now();
  Client c(server->port());
  std::string got;
  EXPECT_TRUE(c.ReadToEnd(&got));
  EXPECT_EQ(got, "");
  EXPECT_GE(MsSince(start), 180);
  EXPECT_LT(MsSince(start), 2000);
}

TEST(AdminServerTest, IdleKeepAliveConnectionIsClosed) {
  auto server = StartServer(Echo, {.idle_timeout_ms = 200});
  Client c(server->port());
  ASSERT_TRUE(c.Send(kGet));
  Reply r;
  ASSERT_TRUE(c.Read(&r));
  const Clock::time_point t = Clock::now();
  std::string got;
  EXPECT_TRUE(c.ReadToEnd(&got));
  EXPECT_EQ(got, "");
  EXPECT_GE(MsSince(t), 150);
  EXPECT_LT(MsSince(t), 2000);
}

TEST(AdminServerTest, ClientThatDoesNotReadIsCutWithoutStallingOthers) {
  constexpr size_t kBig = 32 << 20;  // far more than the socket buffers hold
  auto server = StartServer(
      [](const Request& req) {
        Response resp;
        if (req.path == "/big") resp.body.assign(kBig, 'x');
        return resp;
      },
      {.send_timeout_ms = 1500});
  Client slow(server->port(), /*rcvbuf=*/16 * 1024);
  ASSERT_TRUE(slow.Send("GET /big HTTP/1.1\r\nHost: a\r\n\r\n"));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));

  // A server stalled by the slow client would answer only once that client
  // is cut, 1.5 s after its last progress; half of that leaves room for a
  // busy machine and still tells the two apart.
  const Clock::time_point t = Clock::now();
  Client other(server->port());
  ASSERT_TRUE(other.Send(kGet));
  Reply r;
  ASSERT_TRUE(other.Read(&r));
  EXPECT_EQ(r.status, 200);
  EXPECT_LT(MsSince(t), 750);

  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // past the send deadline
  std::string got;
  EXPECT_TRUE(slow.ReadToEnd(&got));
  EXPECT_GT(got.size(), 0u);
  EXPECT_LT(got.size(), kBig);
}

TEST(AdminServerTest, ConnectionsPastTheLimitAreRefused) {
  auto server = StartServer(Echo, {.max_connections = 2});
  Client a(server->port()), b(server->port());
  Reply r;
  ASSERT_TRUE(a.Send(kGet));
  ASSERT_TRUE(a.Read(&r));
  ASSERT_TRUE(b.Send(kGet));
  ASSERT_TRUE(b.Read(&r));

  Client third(server->port());
  std::string got;
  EXPECT_TRUE(third.ReadToEnd(&got));  // closed at once, not left waiting
  if (!got.empty()) {
    EXPECT_EQ(got.rfind("HTTP/1.1 503 ", 0), 0u) << got;
    EXPECT_NE(got.find(R"("error":"too many connections")"), std::string::npos);
  }

  // A freed slot takes a new connection.
  a.Close();
  bool served = false;
  for (int i = 0; i < 100 && !served; ++i) {
    Client c(server->port());
    served = c.Send(kGet) && c.Read(&r) && r.status == 200;
    if (!served) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(served);
}

TEST(AdminServerTest, AFloodOfConnectionsLeavesTheServerServing) {
  auto server = StartServer(Echo, {.max_connections = 4, .request_timeout_ms = 300});
  {
    std::vector<std::unique_ptr<Client>> flood;
    for (int i = 0; i < 300; ++i) flood.push_back(std::make_unique<Client>(server->port()));
  }
  bool served = false;
  const Clock::time_point t = Clock::now();
  while (!served && MsSince(t) < 3000) {
    Client c(server->port());
    Reply r;
    served = c.Send(kGet) && c.Read(&r) && r.status == 200;
    if (!served) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(served);
}

TEST(AdminServerTest, StopWithOpenConnectionsReturnsPromptly) {
  auto server = StartServer(Echo);
  const uint16_t port = server->port();
  Client idle(port), partial(port), body(port);
  ASSERT_TRUE(partial.Send("GET / HTTP/1.1\r\n"));
  ASSERT_TRUE(body.Send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nabc"));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const Clock::time_point t = Clock::now();
  server->Stop();
  EXPECT_LT(MsSince(t), 500);
  EXPECT_TRUE(idle.ReadToEnd());
  EXPECT_TRUE(partial.ReadToEnd());
  EXPECT_TRUE(body.ReadToEnd());
  server->Stop();  // idempotent
  Client late(port);
  EXPECT_FALSE(late.connected());
}

TEST(AdminServerTest, HeadGetsTheHeadWithoutTheBody) {
  auto server = StartServer(Echo);
  Client c(server->port());
  ASSERT_TRUE(c.Send("HEAD /x HTTP/1.1\r\nHost: a\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n"));
  Reply head, get;
  ASSERT_TRUE(c.Read(&head, /*head_request=*/true));
  // Had the HEAD response carried a body, the GET's response would not parse here.
  ASSERT_TRUE(c.Read(&get));
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(head.body, "");
  EXPECT_NE(get.body, "");
  // The echo differs only in the method, one letter shorter.
  EXPECT_EQ(head.fields["content-length"], std::to_string(get.body.size() + 1));
}

TEST(AdminServerTest, Http10ClosesUnlessAskedToKeepAlive) {
  auto server = StartServer(Echo);
  Reply r;
  {
    Client c(server->port());
    ASSERT_TRUE(c.Send("GET / HTTP/1.0\r\n\r\n"));
    ASSERT_TRUE(c.Read(&r));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.fields["connection"], "close");
    EXPECT_TRUE(c.ReadToEnd());
  }
  Client c(server->port());
  ASSERT_TRUE(c.Send("GET /1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  ASSERT_TRUE(c.Read(&r));
  EXPECT_EQ(r.fields["connection"], "keep-alive");
  ASSERT_TRUE(c.Send("GET /2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  ASSERT_TRUE(c.Read(&r));
  EXPECT_NE(r.body.find("/2"), std::string::npos);
}

TEST(AdminServerTest, ConnectionCloseIsHonored) {
  auto server = StartServer(Echo);
  Client c(server->port());
  ASSERT_TRUE(c.Send("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"));
  Reply r;
  ASSERT_TRUE(c.Read(&r));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.fields["connection"], "close");
  EXPECT_TRUE(c.ReadToEnd());
}

TEST(AdminServerTest, HandlerStatusContentTypeAndFields) {
  auto server = StartServer([](const Request& req) {
    Response resp;
    if (req.path == "/created") {
      resp.status = 201;
      resp.content_type = "text/plain; charset=utf-8";
      resp.body = "made";
      resp.headers = {{"X-Ok", "1"},
                      {"Bad Name", "x"},
                      {"X-Injected", "a\r\nSet-Cookie: x=1"},
                      {"Content-Length", "999"},
                      {"Connection", "close"}};
    } else if (req.path == "/empty") {
      resp.status = 204;
      resp.body = "dropped";
    } else {
      resp.status = 42;
    }
    return resp;
  });
  Client c(server->port());
  Reply r;
  ASSERT_TRUE(c.Send("GET /created HTTP/1.1\r\nHost: a\r\n\r\n"));
  ASSERT_TRUE(c.Read(&r));
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body, "made");
  EXPECT_EQ(r.fields["content-type"], "text/plain; charset=utf-8");
  EXPECT_EQ(r.fields["x-ok"], "1");
  EXPECT_EQ(r.fields["content-length"], "4");
  EXPECT_FALSE(r.has("x-injected"));
  EXPECT_FALSE(r.has("set-cookie"));
  EXPECT_FALSE(r.has("connection"));

  ASSERT_TRUE(c.Send("GET /empty HTTP/1.1\r\nHost: a\r\n\r\n"));
  ASSERT_TRUE(c.Read(&r));
  EXPECT_EQ(r.status, 204);
  EXPECT_FALSE(r.has("content-length"));

  ASSERT_TRUE(c.Send("GET /bad HTTP/1.1\r\nHost: a\r\n\r\n"));  // same connection: framing held
  ASSERT_TRUE(c.Read(&r));
  EXPECT_EQ(r.status, 500);
  EXPECT_NE(r.body.find(R"("error":)"), std::string::npos);
}

TEST(AdminServerTest, StartErrorsNameTheAddress) {
  auto first = StartServer(Echo);
  Server second;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(first->port());
  absl::Status s = second.Start(reinterpret_cast<sockaddr*>(&a), sizeof(a), Echo);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("127.0.0.1:" + std::to_string(first->port())), std::string::npos) << s;

  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);  // not listening
  s = second.StartOnFd(fd, Echo);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
}

TEST(AdminServerTest, StartOnFdServesAnInheritedSocket) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(listen(fd, 16), 0);
  Server server;
  ASSERT_TRUE(server.StartOnFd(fd, Echo).ok());
  Client c(server.port());
  ASSERT_TRUE(c.Send(kGet));
  Reply r;
  ASSERT_TRUE(c.Read(&r));
  EXPECT_EQ(r.status, 200);
}

}  // namespace
}  // namespace ringway::admin
