// Incremental decoder for the HTTP/1.1 chunked transfer coding (RFC 9112 section 7.1).
//
// The proxy forwards a validated chunked body byte for byte, so the decoder's main job is to
// find where the body ends and to refuse anything malformed; it can also report the chunk-data
// runs for a consumer that needs the de-chunked bytes. It keeps a few bytes of state and never
// allocates or copies.
//
//   http1::ChunkedDecoder dec;
//   auto r = dec.Feed(bytes, [&](std::string_view data) { /* chunk data */ });
//   if (r.error) ...; if (r.done) { /* body ended at bytes[r.consumed] */ }
#ifndef RINGWAY_PROTO_HTTP1_CHUNKED_H_
#define RINGWAY_PROTO_HTTP1_CHUNKED_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "absl/functional/function_ref.h"

namespace ringway::http1 {

class ChunkedDecoder {
 public:
  struct Result {
    size_t consumed = 0;  // bytes of this input that belong to the body
    bool done = false;    // last-chunk and trailer section complete: body ends at `consumed`
    bool error = false;   // malformed; the stream cannot be trusted any further
    const char* error_text = "";
  };

  // Limits on the parts a peer could make unbounded.
  static constexpr size_t kMaxSizeLine = 4096;   // chunk-size line including extensions
  static constexpr size_t kMaxTrailers = 16384;  // whole trailer section

  // Consumes as much of `in` as belongs to the body. Stops at the end of the body (`done`),
  // at an error, or at the end of `in` (needs more). Rejects: a chunk size that is empty, not
  // hex, or over 2^63; bytes other than HTAB/visible/SP in extensions; chunk data not followed
  // by CRLF; trailer lines with control bytes or obs-fold; lines over the limits; and a bare LF
  // or bare CR anywhere in the framing (after a size, in an extension, after chunk data, in a
  // trailer line, as the final line). Every framing line must end in CRLF (RFC 9112 7.1): the
  // body is forwarded as received, and a next hop that ends lines only at CRLF would read a
  // bare-LF body as a different message.
  Result Feed(std::string_view in, absl::FunctionRef<void(std::string_view)> on_data);
  Result Feed(std::string_view in);
  // As above, and the trailer section's bytes go to `on_trailer` as they pass: whole field
  // lines with their CRLFs once joined ("name: value\r\n..."), the final empty line left out,
  // in runs that split anywhere (a consumer that needs the fields gathers the runs; there are
  // at most kMaxTrailers bytes of them).
  Result Feed(std::string_view in, absl::FunctionRef<void(std::string_view)> on_data,
              absl::FunctionRef<void(std::string_view)> on_trailer);

  bool done() const { return state_ == State::kDone; }
  void Reset() { *this = ChunkedDecoder(); }

 private:
  enum class State : uint8_t {
    kSize,          // reading hex digits of a chunk size
    kSizeWs,        // BWS after the size; only ";" may follow
    kExtension,     // after ";", up to the line end
    kSizeLf,        // saw CR after the size line
    kData,          // inside chunk data
    kDataCr,        // expecting CR after chunk data
    kDataLf,        // expecting LF after chunk data CR
    kTrailerStart,  // at the start of a trailer line (or the final empty line)
    kTrailer,       // inside a trailer field name
    kTrailerValue,  // after the colon of a trailer field
    kTrailerLf,     // saw CR in a trailer line
    kFinalLf,       // saw CR of the final empty line
    kDone,
    kError,
  };
  State state_ = State::kSize;
  uint64_t remaining_ = 0;  // data bytes left in the current chunk, or the size being read
  uint32_t line_len_ = 0;   // bytes in the current size line or trailer section
  bool saw_digit_ = false;
};

}  // namespace ringway::http1

#endif  // RINGWAY_PROTO_HTTP1_CHUNKED_H_
