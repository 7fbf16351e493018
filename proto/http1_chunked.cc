// Chunked transfer coding decoder: a byte state machine for the framing lines, with chunk data
// handed to the callback as whole runs. Grammar (RFC 9112 section 7.1); every framing line ends
// in CRLF. RFC 9112 section 2.2 lets a recipient accept a bare LF, but the body is forwarded
// byte for byte and a next hop that only ends lines at CRLF would frame a different message
// (the bytes after a bare LF become part of a chunk, or a request of their own), so a bare LF
// anywhere in the framing is an error, as a bare CR is:
//
//   kSize --hex--> kSize --CR--> kSizeLf --LF--> (size line end)
//   kSize --";"--> kExtension --CR--> kSizeLf
//   kSize --BWS--> kSizeWs --";"--> kExtension
//   (size line end): size > 0 -> kData -> kDataCr --CR--> kDataLf --LF--> kSize
//                    size = 0 -> kTrailerStart --name--> kTrailer --":"--> kTrailerValue
//                                kTrailerValue --CR--> kTrailerLf --LF--> kTrailerStart
//                                kTrailerStart --CR--> kFinalLf --LF--> kDone
//   An LF that does not follow a CR, or a CR not followed by LF, is an error in every state
//   but kData.
#include "proto/http1_chunked.h"

namespace ringway::http1 {
namespace {

inline int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// HTAB, SP, VCHAR and obs-text: what may appear in an extension or a trailer value.
inline bool IsTextByte(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u == '\t' || (u >= 0x20 && u != 0x7f);
}

inline bool IsTchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

}  // namespace

ChunkedDecoder::Result ChunkedDecoder::Feed(std::string_view in) {
  return Feed(in, [](std::string_view) {});
}

ChunkedDecoder::Result ChunkedDecoder::Feed(std::string_view in,
                                            absl::FunctionRef<void(std::string_view)> on_data) {
  return Feed(in, on_data, [](std::string_view) {});
}

ChunkedDecoder::Result ChunkedDecoder::Feed(std::string_view in,
                                            absl::FunctionRef<void(std::string_view)> on_data,
                                            absl::FunctionRef<void(std::string_view)> on_trailer) {
  Result r;
  if (state_ == State::kDone) {
    r.done = true;
    return r;
  }
  if (state_ == State::kError) {
    r.error = true;
    r.error_text = "chunked decoder already failed";
    return r;
  }
  const char* const begin = in.data();
  const char* const end = begin + in.size();
  const char* p = begin;

  // Where the trailer bytes not yet reported begin; a field line may have begun in an earlier
  // input.
  const char* trailer =
      state_ == State::kTrailer || state_ == State::kTrailerValue || state_ == State::kTrailerLf
          ? begin
          : nullptr;
  auto fail = [&](const char* text) {
    state_ = State::kError;
    r.consumed = static_cast<size_t>(p - begin);
    r.error = true;
    r.error_text = text;
    return r;
  };
  // The size line ended: start the chunk data, or the trailer section after the last chunk.
  auto size_line_done = [&] {
    line_len_ = 0;
    state_ = remaining_ == 0 ? State::kTrailerStart : State::kData;
  };

  while (p < end) {
    const char c = *p;
    switch (state_) {
      case State::kSize: {
        const int d = HexValue(c);
        if (d >= 0) {
          if ((remaining_ >> 59) != 0) return fail("chunk size too large");
          remaining_ = (remaining_ << 4) | static_cast<uint64_t>(d);
          saw_digit_ = true;
          if (++line_len_ > kMaxSizeLine) return fail("chunk size line too long");
          break;
        }
        if (!saw_digit_) return fail("missing chunk size");
        if (c == ';') {
          state_ = State::kExtension;
        } else if (c == ' ' || c == '\t') {
          state_ = State::kSizeWs;
        } else if (c == '\r') {
          state_ = State::kSizeLf;
        } else if (c == '\n') {
          return fail("bare LF after chunk size (CRLF required)");
        } else {
          return fail("invalid chunk size");
        }
        if (++line_len_ > kMaxSizeLine) return fail("chunk size line too long");
        break;
      }
      case State::kSizeWs:
        if (c == ';') {
          state_ = State::kExtension;
        } else if (c == '\n') {
          return fail("bare LF after chunk size (CRLF required)");
        } else if (c != ' ' && c != '\t') {
          return fail("invalid chunk size");
        }
        if (++line_len_ > kMaxSizeLine) return fail("chunk size line too long");
        break;
      case State::kExtension:
        if (c == '\r') {
          state_ = State::kSizeLf;
        } else if (c == '\n') {
          return fail("bare LF in chunk extension (CRLF required)");
        } else if (!IsTextByte(c)) {
          return fail("invalid byte in chunk extension");
        }
        if (++line_len_ > kMaxSizeLine) return fail("chunk size line too long");
        break;
      case State::kSizeLf:
        if (c != '\n') return fail("bare CR in chunk size line");
        size_line_done();
        break;
      case State::kData: {
        const size_t avail = static_cast<size_t>(end - p);
        const size_t n = remaining_ < avail ? static_cast<size_t>(remaining_) : avail;
        on_data(std::string_view(p, n));
        p += n;
        remaining_ -= n;
        if (remaining_ == 0) state_ = State::kDataCr;
        continue;  // p already advanced
      }
      case State::kDataCr:
        if (c == '\r') {
          state_ = State::kDataLf;
        } else if (c == '\n') {
          return fail("bare LF after chunk data (CRLF required)");
        } else {
          return fail("chunk data not followed by CRLF");
        }
        break;
      case State::kDataLf:
        if (c != '\n') return fail("chunk data not followed by CRLF");
        state_ = State::kSize;
        saw_digit_ = false;
        break;
      case State::kTrailerStart:
        if (c == '\r') {
          if (trailer != nullptr) on_trailer(std::string_view(trailer, p - trailer));
          trailer = nullptr;
          state_ = State::kFinalLf;
        } else if (c == '\n') {
          return fail("bare LF ending chunked body (CRLF required)");
        } else if (c == ' ' || c == '\t') {
          return fail("obs-fold in trailer");
        } else if (IsTchar(c)) {
          if (trailer == nullptr) trailer = p;
          state_ = State::kTrailer;
        } else {
          return fail("invalid trailer field name");
        }
        if (++line_len_ > kMaxTrailers) return fail("trailer section too long");
        break;
      case State::kTrailer:
        if (c == ':') {
          state_ = State::kTrailerValue;
        } else if (c == '\n') {
          return fail("bare LF in trailer (CRLF required)");
        } else if (!IsTchar(c)) {
          return fail(c == ' ' || c == '\t' ? "whitespace before colon in trailer"
                                            : "invalid trailer field name");
        }
        if (++line_len_ > kMaxTrailers) return fail("trailer section too long");
        break;
      case State::kTrailerValue:
        if (c == '\r') {
          state_ = State::kTrailerLf;
        } else if (c == '\n') {
          return fail("bare LF in trailer (CRLF required)");
        } else if (!IsTextByte(c)) {
          return fail("invalid byte in trailer");
        }
        if (++line_len_ > kMaxTrailers) return fail("trailer section too long");
        break;
      case State::kTrailerLf:
        if (c != '\n') return fail("bare CR in trailer");
        state_ = State::kTrailerStart;
        if (++line_len_ > kMaxTrailers) return fail("trailer section too long");
        break;
      case State::kFinalLf:
        if (c != '\n') return fail("bare CR after trailers");
        state_ = State::kDone;
        break;
      case State::kDone:
      case State::kError:
        break;  // unreachable: handled before the loop and on transition below
    }
    ++p;
    if (state_ == State::kDone) {
      r.consumed = static_cast<size_t>(p - begin);
      r.done = true;
      return r;
    }
  }
  if (trailer != nullptr) on_trailer(std::string_view(trailer, end - trailer));
  r.consumed = in.size();
  return r;
}

}  // namespace ringway::http1
