// Fuzz target for ChunkedDecoder. Invariants checked (abort on violation):
//  - consumed <= size; a decoder that neither finished nor failed consumed everything
//  - data runs lie inside the input and add up to no more than what was consumed
//  - feeding in two pieces split at an input-derived point, or one byte at a time, gives the
//    same end, error, consumed count and de-chunked bytes as one feed
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "proto/http1_chunked.h"

namespace {

using ringway::http1::ChunkedDecoder;

void Check(bool ok) {
  if (!ok) std::abort();
}

struct Outcome {
  size_t consumed = 0;
  bool done = false;
  bool error = false;
  std::string data;
};

// Feeds `in` in pieces of `step` bytes (0: one piece) starting with a first piece of `first`.
Outcome Decode(std::string_view in, size_t first, size_t step) {
  ChunkedDecoder dec;
  Outcome o;
  size_t pos = 0;
  bool first_piece = true;
  for (;;) {
    size_t len = first_piece ? first : (step == 0 ? in.size() - pos : step);
    first_piece = false;
    if (len > in.size() - pos) len = in.size() - pos;
    const std::string_view piece = in.substr(pos, len);
    const auto r = dec.Feed(piece, [&](std::string_view d) {
      Check(d.data() >= piece.data() && d.data() + d.size() <= piece.data() + piece.size());
      o.data.append(d);
    });
    Check(r.consumed <= piece.size());
    Check(!(r.done && r.error));
    Check(r.done == dec.done());
    o.consumed += r.consumed;
    if (r.done || r.error) {
      o.done = r.done;
      o.error = r.error;
      // A finished or failed decoder takes nothing more.
      const auto again = dec.Feed(in.substr(pos + r.consumed));
      Check(again.consumed == 0 && again.done == r.done && again.error == r.error);
      break;
    }
    Check(r.consumed == piece.size());
    pos += len;
    if (pos >= in.size()) break;
  }
  Check(o.data.size() <= o.consumed);
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const Outcome whole = Decode(in, size, 0);
  Check(whole.consumed <= size);
  if (!whole.done && !whole.error) Check(whole.consumed == size);

  const size_t cut = size == 0 ? 0 : (data[0] * 7u + data[size - 1] + size) % (size + 1);
  const Outcome split = Decode(in, cut, 0);
  Check(split.consumed == whole.consumed && split.done == whole.done &&
        split.error == whole.error && split.data == whole.data);

  if (size <= 4096) {
    const Outcome bytes = Decode(in, size == 0 ? 0 : 1, 1);
    Check(bytes.consumed == whole.consumed && bytes.done == whole.done &&
          bytes.error == whole.error && bytes.data == whole.data);
  }
  return 0;
}
