// The HTTP/2 server connection, part three: field blocks (HEADERS and CONTINUATION gathered,
// decoded through HPACK even for streams that are refused or reset, checked as requests or
// trailers by h2_request.h) and the response heads and trailers we encode.
#include "proto/h2_frame_writer.h"
#include "proto/h2_session.h"

namespace ringway::h2 {

// ---------------------------------------------------------------------------------------------
// Field blocks

void Session::ProcessHeaders(const FrameHeader& h, std::string_view payload) {
  HeadersFrame f;
  const Error e = DecodeHeaders(h, payload, &f);
  if (e.IsConnectionError()) return Fail(e);
  const uint32_t id = h.stream_id;
  // RFC 9113 section 5.1.1: a client opens odd streams only, and a server none (no push).
  if (id % 2 == 0) return Fail(ErrorCode::kProtocolError, "HEADERS on an even stream");

  Block b;
  b.stream_id = id;
  b.end_stream = f.end_stream;
  auto reset = [&b](ErrorCode code, const char* detail, Glitch g = Glitch::kStreamError) {
    b.fate = BlockFate::kDiscard;
    b.reset_set = true;
    b.reset = code;
    b.reset_detail = detail;
    b.reset_glitch = g;
  };
  // A client's streams are its own: HEADERS on one it has not opened is a connection error.
  if (role_ == Role::kClient && id > last_stream_id_) {
    return Fail(ErrorCode::kProtocolError, "HEADERS on an idle stream");
  }
  if (role_ == Role::kServer && id > last_stream_id_) {
    last_stream_id_ = id;
    b.new_stream = true;
    if (drain_ == Drain::kFinalGoaway && id > goaway_last_sent_) {
      // After our final GOAWAY: not processed, and the client knows it from the GOAWAY.
      b.fate = BlockFate::kDiscard;
      b.record = CloseCause::kIgnored;
    } else if (!e.ok()) {
      reset(e.code, e.detail);
    } else if (streams_.size() >= limits_.max_concurrent_streams) {
      // RFC 9113 section 5.1.2. REFUSED_STREAM tells the client it may retry.
      reset(ErrorCode::kRefusedStream, "too many concurrent streams", Glitch::kRefusedStream);
    } else if (streams_this_feed_ >= limits_.abuse.max_streams_per_feed) {
      reset(ErrorCode::kRefusedStream, "too many streams in one read", Glitch::kRefusedStream);
    } else {
      b.fate = BlockFate::kRequest;
      ++streams_this_feed_;
    }
  } else {
    const Lookup k = Classify(id, FrameType::kHeaders);
    switch (k.verdict) {
      case FrameVerdict::kProcess:
        if (!e.ok()) {
          reset(e.code, e.detail);
        } else if (role_ == Role::kClient && !k.stream->response_received) {
          b.fate = BlockFate::kResponse;  // an interim or the final head
        } else {
          b.fate = BlockFate::kTrailers;
        }
        break;
      case FrameVerdict::kIgnore:
        b.fate = BlockFate::kDiscard;
        if (!Charge(Glitch::kClosedStreamFrame)) return;
        break;
      case FrameVerdict::kStreamClosed:
        reset(ErrorCode::kStreamClosed, "HEADERS on a closed stream");
        break;
      case FrameVerdict::kConnStreamClosed:
        return Fail(ErrorCode::kStreamClosed, "HEADERS on a closed stream");
      case FrameVerdict::kConnProtocolError:
        return Fail(ErrorCode::kProtocolError, role_ == Role::kClient
                                                   ? "HEADERS on a forgotten stream"
                                                   : "HEADERS reuses a stream id");
    }
  }
  if (f.field_block.size() > limits_.max_header_block_bytes) {
    return Fail(ErrorCode::kEnhanceYourCalm, "field block too large");
  }
  if (f.end_headers) return FinishBlock(b, f.field_block);
  if (f.field_block.empty() && !Charge(Glitch::kEmptyContinuation)) return;
  block_ = b;
  block_buf_.assign(f.field_block);
}

void Session::ProcessContinuation(const FrameHeader& h, std::string_view payload) {
  ContinuationFrame f;
  const Error e = DecodeContinuation(h, payload, &f);
  if (!e.ok()) return Fail(e);
  if (++block_.continuations > limits_.abuse.max_continuation_frames) {
    return Fail(ErrorCode::kEnhanceYourCalm, "too many CONTINUATION frames");
  }
  if (block_buf_.size() + f.field_block.size() > limits_.max_header_block_bytes) {
    return Fail(ErrorCode::kEnhanceYourCalm, "field block too large");
  }
  if (f.field_block.empty() && !f.end_headers && !Charge(Glitch::kEmptyContinuation)) return;
  block_buf_.append(f.field_block);
  if (!f.end_headers) return;
  const Block b = block_;
  block_ = Block{};
  FinishBlock(b, block_buf_);
}

void Session::FinishBlock(const Block& b, std::string_view block) {
  switch (b.fate) {
    case BlockFate::kRequest:
      return FinishRequest(b, block);
    case BlockFate::kResponse:
      return FinishResponse(b, block);
    case BlockFate::kTrailers:
      return FinishTrailers(b, block);
    case BlockFate::kDiscard:
      break;
  }
  // RFC 9113 section 4.3: a block is decoded even when its stream is refused or reset, or the
  // peer's dynamic table and ours part ways.
  if (decoder_.Discard(block).status == hpack::DecodeStatus::kCompressionError) {
    return Fail(ErrorCode::kCompressionError, "HPACK decoding failed");
  }
  if (b.new_stream) {
    closed_.Add(b.stream_id, b.reset_set ? CloseCause::kLocalReset : b.record);
    if (b.reset_glitch == Glitch::kRefusedStream && b.reset_set) ++stats_.refused_streams;
  }
  if (b.reset_set) StreamError(b.stream_id, b.reset, b.reset_detail, b.reset_glitch);
}

void Session::FinishRequest(const Block& b, std::string_view block) {
  const hpack::DecodeResult r = decoder_.Decode(block, &fields_);
  if (r.status == hpack::DecodeStatus::kCompressionError) {
    return Fail(ErrorCode::kCompressionError, "HPACK decoding failed");
  }
  if (r.status == hpack::DecodeStatus::kHeaderListTooLarge) {
    ++stats_.oversized_headers;
    return RejectRequest(b.stream_id, 431, b.end_stream, "header list too large");
  }
  Request req;
  const MessageCheck c = ParseRequest(fields_, b.end_stream, &req, limits_.enable_connect_protocol);
  if (!c.ok) {
    ++stats_.malformed_requests;
    return RejectRequest(b.stream_id, 400, b.end_stream, c.detail);
  }
  Stream s;
  s.id = b.stream_id;
  Transition(&s.state, StreamEvent::kRecvHeaders);
  if (b.end_stream) Transition(&s.state, StreamEvent::kRecvEndStream);
  s.send_window = peer_.initial_window_size;
  s.recv_window = local_window_in_force_;
  s.has_content_length = req.content_length.has_value() && !req.is_connect;
  s.content_length = req.content_length.value_or(0);
  if (streams_.capacity() == 0) {
    streams_.reserve(std::min<uint32_t>(limits_.max_concurrent_streams, 128));
  }
  streams_.push_back(s);  // ids only grow: the vector stays sorted
  ++stats_.requests;
  handler_->OnRequest(b.stream_id, req, b.end_stream);
}

void Session::FinishResponse(const Block& b, std::string_view block) {
  const hpack::DecodeResult r = decoder_.Decode(block, &fields_);
  if (r.status == hpack::DecodeStatus::kCompressionError) {
    return Fail(ErrorCode::kCompressionError, "HPACK decoding failed");
  }
  const uint32_t id = b.stream_id;
  Stream* s = Find(id);
  if (s == nullptr) return;  // the proxy reset it while the block was arriving
  if (r.status == hpack::DecodeStatus::kHeaderListTooLarge) {
    return StreamError(id, ErrorCode::kProtocolError, "response head too large");
  }
  ResponseHead head;
  const MessageCheck c = ParseResponse(fields_, b.end_stream, &head);
  if (!c.ok) return StreamError(id, ErrorCode::kProtocolError, c.detail);
  if (head.status >= 200) {
    s->response_received = true;
    // RFC 9113 section 8.1.1: DATA must add up to content-length, except where the response
    // carries no content whatever the field says (HEAD, 204, 304; RFC 9110 sections 8.6, 6.4.1).
    const bool no_content = s->head_request || head.status == 204 || head.status == 304;
    s->has_content_length = head.content_length.has_value() && !no_content;
    s->no_content = no_content;
    s->content_length = head.content_length.value_or(0);
    if (b.end_stream && s->has_content_length && s->content_length != 0) {
      return StreamError(id, ErrorCode::kProtocolError, "content-length without DATA");
    }
  }
  if (b.end_stream) RecvEndStream(s);
  handler_->OnResponse(id, head, b.end_stream);
}

void Session::FinishTrailers(const Block& b, std::string_view block) {
  const hpack::DecodeResult r = decoder_.Decode(block, &fields_);
  if (r.status == hpack::DecodeStatus::kCompressionError) {
    return Fail(ErrorCode::kCompressionError, "HPACK decoding failed");
  }
  const uint32_t id = b.stream_id;
  Stream* s = Find(id);
  if (s == nullptr) return;  // the proxy reset it while the block was arriving
  if (r.status == hpack::DecodeStatus::kHeaderListTooLarge) {
    return StreamError(id, ErrorCode::kProtocolError, "trailers too large");
  }
  // RFC 9113 section 8.1: a second HEADERS without END_STREAM is malformed.
  if (!b.end_stream)
    return StreamError(id, ErrorCode::kProtocolError,
                       "HEADERS without END_STREAM after the request head");
  const MessageCheck c = CheckTrailers(fields_);
  if (!c.ok) return StreamError(id, ErrorCode::kProtocolError, c.detail);
  if (s->has_content_length && s->data_received != s->content_length) {
    return StreamError(id, ErrorCode::kProtocolError, "DATA does not match content-length");
  }
  RecvEndStream(s);
  handler_->OnTrailers(id, fields_);
}

void Session::RejectRequest(uint32_t id, uint16_t status, bool end_stream, const char* detail) {
  if (!Charge(Glitch::kStreamError) || !RoomForReply()) return;
  handler_->OnRequestRejected(id, status, detail);
  if (failed_) return;
  const bool reply = status == 431 ? limits_.reply_to_large_headers : limits_.reply_to_malformed;
  if (!reply) {
    ++stats_.stream_errors;
    AppendRstStream(id, ErrorCode::kProtocolError, &output_);
    closed_.Add(id, CloseCause::kLocalReset);
    return;
  }
  const hpack::HeaderField fields[] = {
      {":status", status == 431 ? "431" : "400"},
      {"content-length", "0"},
  };
  out_block_.clear();
  encoder_.Encode(fields, &out_block_);
  AppendHeaders(id, out_block_, /*end_stream=*/true, peer_.max_frame_size, &output_);
  if (end_stream) {
    closed_.Add(id, CloseCause::kEndStream);
    return;
  }
  // The request body is not wanted. After a complete 431 that is no error (RFC 9113 8.1); a
  // malformed request stays a stream error PROTOCOL_ERROR (section 8.1.1).
  ++stats_.stream_errors;
  AppendRstStream(id, status == 431 ? ErrorCode::kNoError : ErrorCode::kProtocolError, &output_);
  closed_.Add(id, CloseCause::kLocalReset);
}

// ---------------------------------------------------------------------------------------------
// Response heads

bool Session::SubmitResponse(uint32_t stream_id, const Response& head, bool end_stream) {
  if (failed_ || role_ != Role::kServer) return false;
  Stream* s = Find(stream_id);
  if (s == nullptr || s->SendingDone() || s->final_response_sent) return false;
  const bool interim = head.status >= 100 && head.status < 200;
  // 101 has no place in HTTP/2 (RFC 9113 section 8.6); an interim head cannot end the stream.
  if (head.status < 100 || head.status > 999 || head.status == 101) return false;
  if (interim && end_stream) return false;
  char digits[3];
  BuildResponseFields(head.status, head.fields, digits, &out_fields_, &out_names_);
  out_block_.clear();
  encoder_.Encode(out_fields_, &out_block_);
  AppendHeaders(stream_id, out_block_, end_stream, peer_.max_frame_size, &output_);
  if (!interim) s->final_response_sent = true;
  if (end_stream) SendEndStream(s);
  return true;
}

bool Session::SubmitTrailers(uint32_t stream_id, std::span<const hpack::HeaderField> fields) {
  if (failed_) return false;
  Stream* s = Find(stream_id);
  if (s == nullptr || s->SendingDone() || !s->final_response_sent) return false;
  char digits[3];
  BuildResponseFields(0, fields, digits, &out_fields_, &out_names_);
  if (out_fields_.empty()) {
    AppendData(stream_id, {}, /*end_stream=*/true, &output_);
  } else {
    out_block_.clear();
    encoder_.Encode(out_fields_, &out_block_);
    AppendHeaders(stream_id, out_block_, /*end_stream=*/true, peer_.max_frame_size, &output_);
  }
  SendEndStream(s);
  return true;
}

}  // namespace ringway::h2
