#include "proto/http1_chunked.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace ringway::http1 {
namespace {

using namespace std::string_literals;

struct Decoded {
  ChunkedDecoder::Result r;
  std::string data;
  size_t data_calls = 0;
};

Decoded DecodeWhole(std::string_view in) {
  ChunkedDecoder dec;
  Decoded d;
  d.r = dec.Feed(in, [&](std::string_view s) {
    d.data.append(s);
    ++d.data_calls;
  });
  EXPECT_EQ(dec.done(), d.r.done);
  return d;
}

// Feeds `in` in pieces of the given sizes (the last piece takes the rest) and sums the results
// the way a caller would: stop at done or error.
Decoded DecodePieces(std::string_view in, const std::vector<size_t>& cuts) {
  ChunkedDecoder dec;
  Decoded d;
  size_t pos = 0;
  for (size_t i = 0; i <= cuts.size() && pos <= in.size(); ++i) {
    const size_t len = i < cuts.size() ? std::min(cuts[i], in.size() - pos) : in.size() - pos;
    auto r = dec.Feed(in.substr(pos, len), [&](std::string_view s) {
      d.data.append(s);
      ++d.data_calls;
    });
    EXPECT_LE(r.consumed, len);
    d.r.consumed += r.consumed;
    pos += len;
    if (r.done || r.error) {
      d.r.done = r.done;
      d.r.error = r.error;
      d.r.error_text = r.error_text;
      break;
    }
    EXPECT_EQ(r.consumed, len) << "a decoder that needs more consumes everything";
  }
  return d;
}

struct Valid {
  const char* what;
  std::string body;
  std::string data;
};

std::vector<Valid> ValidBodies() {
  return {
      {"single", "5\r\nhello\r\n0\r\n\r\n", "hello"},
      {"empty", "0\r\n\r\n", ""},
      {"several", "3\r\nabc\r\n1\r\nd\r\nA\r\n0123456789\r\n0\r\n\r\n", "abcd0123456789"},
      {"hex case", "a\r\n0123456789\r\nB\r\n0123456789a\r\n0\r\n\r\n", "01234567890123456789a"},
      {"leading zeros", "0005\r\nhello\r\n000\r\n\r\n", "hello"},
      {"extensions", "5;name=value\r\nhello\r\n3;a;b=\"q s\"\r\nxyz\r\n0;last\r\n\r\n", "helloxyz"},
      {"extension with BWS", "5 ;  x=1\r\nhello\r\n0\t;y\r\n\r\n", "hello"},
      {"trailers", "5\r\nhello\r\n0\r\nX-Checksum: abc\r\nX-Other:\t v \r\n\r\n", "hello"},
      {"data with CRLF inside", "4\r\n\r\n\r\n\r\n0\r\n\r\n", "\r\n\r\n"},
      {"data with bare LF and CR inside", "4\r\n\na\rb\r\n0\r\n\r\n", "\na\rb"},
      {"binary data", "4\r\n\0\xff\r\x7f\r\n0\r\n\r\n"s, "\0\xff\r\x7f"s},
      {"large chunk", "400\r\n" + std::string(1024, 'z') + "\r\n0\r\n\r\n", std::string(1024, 'z')},
  };
}

TEST(ChunkedDecoder, ValidBodies) {
  for (const Valid& v : ValidBodies()) {
    Decoded d = DecodeWhole(v.body);
    EXPECT_TRUE(d.r.done) << v.what;
    EXPECT_FALSE(d.r.error) << v.what << ": " << d.r.error_text;
    EXPECT_EQ(d.r.consumed, v.body.size()) << v.what;
    EXPECT_EQ(d.data, v.data) << v.what;
  }
}

// The trailer section reaches its consumer whole (final empty line left out), however the
// body is split, and only the trailer section does.
TEST(ChunkedDecoder, ReportsTrailerBytesAcrossAnySplit) {
  const std::string body = "5\r\nhello\r\n0\r\nX-Checksum: abc\r\nX-Other:\t v \r\n\r\nNEXT";
  const std::string want = "X-Checksum: abc\r\nX-Other:\t v \r\n";
  for (size_t a = 0; a <= body.size(); ++a) {
    for (size_t b = a; b <= body.size(); ++b) {
      ChunkedDecoder dec;
      std::string data, trailers;
      size_t consumed = 0;
      bool done = false;
      for (auto [from, to] : {std::pair{size_t{0}, a}, {a, b}, {b, body.size()}}) {
        if (done || from == to) continue;
        auto r = dec.Feed(
            std::string_view(body).substr(from, to - from),
            [&](std::string_view d) { data.append(d); },
            [&](std::string_view t) { trailers.append(t); });
        ASSERT_FALSE(r.error) << a << " " << b;
        consumed += r.consumed;
        done = r.done;
      }
      EXPECT_TRUE(done) << a << " " << b;
      EXPECT_EQ(consumed, body.size() - 4) << a << " " << b;
      EXPECT_EQ(data, "hello") << a << " " << b;
      EXPECT_EQ(trailers, want) << a << " " << b;
    }
  }
  ChunkedDecoder dec;
  std::string trailers;
  auto r = dec.Feed(
      "3\r\nabc\r\n0\r\n\r\n", [](std::string_view) {},
      [&](std::string_view t) { trailers.append(t); });
  EXPECT_TRUE(r.done);
  EXPECT_EQ(trailers, "");
}

TEST(ChunkedDecoder, StopsAtTheEndOfTheBody) {
  const std::string body = "5\r\nhello\r\n0\r\n\r\n";
  Decoded d = DecodeWhole(body + "GET / HTTP/1.1\r\n\r\n");
  EXPECT_TRUE(d.r.done);
  EXPECT_EQ(d.r.consumed, body.size());
  EXPECT_EQ(d.data, "hello");
}

TEST(ChunkedDecoder, NeedsMore) {
  ChunkedDecoder dec;
  auto r = dec.Feed("5\r\nhel");
  EXPECT_FALSE(r.done);
  EXPECT_FALSE(r.error);
  EXPECT_EQ(r.consumed, 6u);
  EXPECT_FALSE(dec.done());
  r = dec.Feed("lo\r\n0\r\n");
  EXPECT_FALSE(r.done);
  EXPECT_EQ(r.consumed, 7u);
  r = dec.Feed("\r\nrest");
  EXPECT_TRUE(r.done);
  EXPECT_EQ(r.consumed, 2u);
  EXPECT_TRUE(dec.done());
}

TEST(ChunkedDecoder, DataIsReportedInRunsNotBytes) {
  Decoded d = DecodeWhole("400\r\n" + std::string(1024, 'z') + "\r\n0\r\n\r\n");
  EXPECT_EQ(d.data_calls, 1u);
  std::string body = "400\r\n" + std::string(1024, 'z') + "\r\n0\r\n\r\n";
  d = DecodePieces(body, {100, 200, 300});
  EXPECT_TRUE(d.r.done);
  EXPECT_EQ(d.data, std::string(1024, 'z'));
  EXPECT_EQ(d.data_calls, 4u);  // the data spans four pieces
}

TEST(ChunkedDecoder, FeedAfterDoneAndAfterError) {
  ChunkedDecoder dec;
  auto r = dec.Feed("0\r\n\r\n");
  ASSERT_TRUE(r.done);
  r = dec.Feed("5\r\nhello");
  EXPECT_TRUE(r.done);
  EXPECT_EQ(r.consumed, 0u);

  ChunkedDecoder bad;
  r = bad.Feed("zz");
  ASSERT_TRUE(r.error);
  r = bad.Feed("5\r\nhello\r\n0\r\n\r\n");
  EXPECT_TRUE(r.error);
  EXPECT_FALSE(r.done);
  EXPECT_EQ(r.consumed, 0u);

  bad.Reset();
  r = bad.Feed("0\r\n\r\n");
  EXPECT_TRUE(r.done);
  EXPECT_FALSE(r.error);
}

TEST(ChunkedDecoder, WithoutCallback) {
  ChunkedDecoder dec;
  auto r = dec.Feed("3\r\nabc\r\n0\r\n\r\n");
  EXPECT_TRUE(r.done);
  EXPECT_EQ(r.consumed, 13u);
}

struct Invalid {
  const char* what;
  std::string body;
  size_t error_at;        // bytes accepted before the offending one
  const char* text = "";  // when set, error_text must contain it
};

std::vector<Invalid> InvalidBodies() {
  return {
      {"empty size", "\r\n", 0},
      {"not hex", "g\r\n", 0},
      {"hex prefix", "0x5\r\nhello\r\n", 1},
      {"negative", "-5\r\n", 0},
      {"plus", "+5\r\n", 0},
      {"space before size", " 5\r\n", 0},
      {"space after size", "5 \r\nhello\r\n", 2},
      {"junk after size", "5x\r\nhello\r\n", 1},
      {"size over 2^63", "8000000000000000\r\n", 15},
      {"size way over", "10000000000000000\r\n", 16},
      {"control in extension", "5;a\x01\r\nhello\r\n", 3},
      {"DEL in extension", "5;a\x7f\r\nhello\r\n", 3},
      {"NUL in extension", "5;a\0\r\nhello\r\n"s, 3},
      {"bare CR in size line", "5\rhello\r\n", 2},
      {"bare CR in extension", "5;x\rhello\r\n", 4},
      {"data too long", "5\r\nhelloX\r\n0\r\n\r\n", 8},
      {"data CR then junk", "5\r\nhello\rX\r\n0\r\n\r\n", 9},
      {"data too short", "5\r\nhel\r\n0\r\n\r\n", 8},
      {"trailer obs-fold", "0\r\nA: b\r\n c\r\n\r\n", 9},
      {"trailer space before colon", "0\r\nA : b\r\n\r\n", 4},
      {"trailer without colon", "0\r\nAbc\r\n\r\n", 6},
      {"trailer empty name", "0\r\n: b\r\n\r\n", 3},
      {"trailer control byte", "0\r\nA: b\x01\r\n\r\n", 7},
      {"trailer NUL", "0\r\nA: \0\r\n\r\n"s, 6},
      {"trailer bare CR", "0\r\nA: b\rc\r\n\r\n", 8},
      {"final bare CR", "0\r\n\rX", 4},
      {"size line too long", "1;" + std::string(5000, 'e') + "\r\n", ChunkedDecoder::kMaxSizeLine},
      {"too many leading zeros", std::string(5000, '0') + "1\r\n", ChunkedDecoder::kMaxSizeLine},
      {"trailers too long", "0\r\n" + std::string(20000, 'T') + ": v\r\n\r\n",
       3 + ChunkedDecoder::kMaxTrailers},
      // A bare LF in every place the framing has a line end (RFC 9112 section 7.1 says CRLF):
      // the body is forwarded as received, and a next hop that ends lines only at CRLF would
      // read these bytes as a different message.
      {"bare LF after size", "5\nhello\r\n0\r\n\r\n", 1, "bare LF after chunk size"},
      {"bare LF after long size", "00a\n0123456789\r\n0\r\n\r\n", 3, "bare LF after chunk size"},
      {"bare LF after size BWS", "5 \nhello\r\n0\r\n\r\n", 2, "bare LF after chunk size"},
      {"bare LF after last-chunk size", "5\r\nhello\r\n0\n\r\n", 11, "bare LF after chunk size"},
      {"bare LF in extension", "5;a=b\nhello\r\n0\r\n\r\n", 5, "bare LF in chunk extension"},
      {"bare LF after empty extension", "5;\nhello\r\n0\r\n\r\n", 2, "bare LF in chunk extension"},
      {"bare LF in quoted extension", "5;a=\"x\ny\"\r\nhello\r\n0\r\n\r\n", 6,
       "bare LF in chunk extension"},
      {"bare LF in last-chunk extension", "0;x\n\r\n", 3, "bare LF in chunk extension"},
      {"bare LF after data", "5\r\nhello\n0\r\n\r\n", 8, "bare LF after chunk data"},
      {"bare LF after second data", "1\r\na\r\n2\r\nbc\n0\r\n\r\n", 11, "bare LF after chunk data"},
      {"bare LF ending trailer", "0\r\nA: b\nX: y\r\n\r\n", 7, "bare LF in trailer"},
      {"bare LF ending empty trailer value", "0\r\nA:\n\r\n", 5, "bare LF in trailer"},
      {"bare LF in trailer name", "0\r\nAb\nc: d\r\n\r\n", 5, "bare LF in trailer"},
      {"bare LF as final line", "5\r\nhello\r\n0\r\n\n", 13, "bare LF ending chunked body"},
      {"bare LF as final line after trailer", "0\r\nA: b\r\n\n", 9, "bare LF ending chunked body"},
      {"bare LF everywhere", "5\nhello\n0\nT: v\n\n", 1, "bare LF"},
  };
}

TEST(ChunkedDecoder, Rejections) {
  for (const Invalid& c : InvalidBodies()) {
    Decoded d = DecodeWhole(c.body);
    EXPECT_TRUE(d.r.error) << c.what;
    EXPECT_FALSE(d.r.done) << c.what;
    EXPECT_EQ(d.r.consumed, c.error_at) << c.what;
    EXPECT_STRNE(d.r.error_text, "") << c.what;
    EXPECT_NE(std::string_view(d.r.error_text).find(c.text), std::string_view::npos)
        << c.what << ": " << d.r.error_text;
  }
}

// The request a bare LF would smuggle. A reader that ends the size line at the LF sees chunk
// "xxxxx", then one chunk holding everything up to the final "0". A reader that ends lines only
// at CRLF takes ";\nxxxxx" for an extension, reads "2f\r\ny" as the five bytes of chunk data,
// then "0\r\n\r\n" ends its body and "GET /admin" is a request of its own. The decoder
// refuses at the LF, before anything after it counts as body.
TEST(ChunkedDecoder, BareLfCannotHideARequest) {
  const std::string hidden = "GET /admin HTTP/1.1\r\nHost: internal\r\n\r\n";
  const std::string second = "y\r\n0\r\n\r\n" + hidden;
  ASSERT_EQ(second.size(), 0x2fu);
  const std::string body = "5;\nxxxxx\r\n2f\r\n" + second + "\r\n0\r\n\r\n";
  Decoded d = DecodeWhole(body);
  EXPECT_TRUE(d.r.error);
  EXPECT_FALSE(d.r.done);
  EXPECT_EQ(d.r.consumed, 2u);
  EXPECT_EQ(d.data, "");
  EXPECT_STREQ(d.r.error_text, "bare LF in chunk extension (CRLF required)");
  // With CRLF in its place the same bytes are one body that ends after the hidden request.
  std::string crlf = body;
  crlf.replace(2, 1, "\r\n");
  d = DecodeWhole(crlf);
  EXPECT_TRUE(d.r.done) << d.r.error_text;
  EXPECT_EQ(d.r.consumed, crlf.size());
  EXPECT_EQ(d.data, "xxxxx" + second);
}

// A body split right after a CR still needs the LF that completes it, whichever read brings it.
TEST(ChunkedDecoder, CrLfSplitAcrossFeeds) {
  const std::string body = "5\r\nhello\r\n0\r\nT: v\r\n\r\n";
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] != '\r') continue;
    Decoded d = DecodePieces(body, {i + 1});
    EXPECT_TRUE(d.r.done) << i;
    EXPECT_FALSE(d.r.error) << i << ": " << d.r.error_text;
    EXPECT_EQ(d.r.consumed, body.size()) << i;
  }
}

TEST(ChunkedDecoder, LargestSizeIsAccepted) {
  ChunkedDecoder dec;
  auto r = dec.Feed("7fffffffffffffff\r\nabc");
  EXPECT_FALSE(r.error);
  EXPECT_EQ(r.consumed, 21u);
}

// Every split into two pieces, and byte-at-a-time feeding, give the single-feed result.
TEST(ChunkedDecoder, SplitAtEveryByte) {
  std::vector<std::pair<std::string, std::string>> inputs;  // body, label
  for (const Valid& v : ValidBodies()) inputs.emplace_back(v.body + "NEXT", v.what);
  for (const Invalid& c : InvalidBodies()) {
    if (c.body.size() < 600) inputs.emplace_back(c.body, c.what);
  }
  for (const auto& [in, what] : inputs) {
    const Decoded whole = DecodeWhole(in);
    for (size_t cut = 0; cut <= in.size(); ++cut) {
      const Decoded split = DecodePieces(in, {cut});
      ASSERT_EQ(split.r.done, whole.r.done) << what << " cut " << cut;
      ASSERT_EQ(split.r.error, whole.r.error) << what << " cut " << cut;
      ASSERT_EQ(split.r.consumed, whole.r.consumed) << what << " cut " << cut;
      ASSERT_EQ(split.data, whole.data) << what << " cut " << cut;
    }
    const Decoded bytes = DecodePieces(in, std::vector<size_t>(in.size(), 1));
    EXPECT_EQ(bytes.r.done, whole.r.done) << what;
    EXPECT_EQ(bytes.r.error, whole.r.error) << what;
    EXPECT_EQ(bytes.r.consumed, whole.r.consumed) << what;
    EXPECT_EQ(bytes.data, whole.data) << what;
  }
}

TEST(ChunkedDecoder, NeverReadsPastTheInput) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  char* mem = static_cast<char*>(
      mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(mem, MAP_FAILED);
  ASSERT_EQ(mprotect(mem + page, page, PROT_NONE), 0);
  size_t fed = 0;
  for (const Valid& v : ValidBodies()) {
    ASSERT_LE(v.body.size(), page);
    for (size_t n = 0; n <= v.body.size(); ++n) {
      char* dst = mem + page - n;
      std::memcpy(dst, v.body.data(), n);
      ChunkedDecoder dec;
      size_t data_bytes = 0;
      auto r = dec.Feed(std::string_view(dst, n), [&](std::string_view s) {
        EXPECT_GE(s.data(), dst);
        EXPECT_LE(s.data() + s.size(), dst + n);
        data_bytes += s.size();
      });
      EXPECT_EQ(r.consumed, n);
      EXPECT_EQ(r.done, n == v.body.size()) << v.what << " " << n;
      EXPECT_LE(data_bytes, v.data.size());
      ++fed;
    }
  }
  munmap(mem, 2 * page);
  EXPECT_GT(fed, 100u);
}

}  // namespace
}  // namespace ringway::http1
