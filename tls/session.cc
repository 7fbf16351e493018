// One TLS connection: wolfSSL driven over memory buffers that the worker fills from and
// drains to its ring.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>
// clang-format off
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
// clang-format on

#include "absl/strings/str_format.h"
#include "tls/tls.h"

namespace ringway::tls {

Session::Session(WOLFSSL_CTX* ctx) {
  ssl_ = wolfSSL_new(ctx);
  if (ssl_ == nullptr) return;
  wolfSSL_SSLSetIORecv(ssl_, RecvCb);
  wolfSSL_SSLSetIOSend(ssl_, SendCb);
  wolfSSL_SetIOReadCtx(ssl_, this);
  wolfSSL_SetIOWriteCtx(ssl_, this);
}

Session::Session(WOLFSSL_CTX* ctx, const std::string& server_name) : Session(ctx) {
  if (ssl_ == nullptr || server_name.empty()) return;
  wolfSSL_UseSNI(ssl_, WOLFSSL_SNI_HOST_NAME, server_name.data(),
                 static_cast<unsigned short>(server_name.size()));
  wolfSSL_check_domain_name(ssl_, server_name.c_str());
}

Session::Session(const ClientContext& cc) : Session(cc.ctx(), cc.server_name()) {
  if (ssl_ == nullptr || cc.alpn().empty()) return;
  std::string list = cc.alpn();  // (wolfSSL takes a mutable comma-separated list)
  wolfSSL_UseALPN(ssl_, list.data(), static_cast<unsigned int>(list.size()),
                  WOLFSSL_ALPN_FAILED_ON_MISMATCH);
}

Session::~Session() {
  if (ssl_ != nullptr) wolfSSL_free(ssl_);
}

int Session::RecvCb(WOLFSSL*, char* buf, int sz, void* ctx) {
  auto* s = static_cast<Session*>(ctx);
  const size_t avail = s->in_.size() - s->in_off_;
  if (avail == 0) return WOLFSSL_CBIO_ERR_WANT_READ;
  const size_t n = std::min(avail, static_cast<size_t>(sz));
  memcpy(buf, s->in_.data() + s->in_off_, n);
  s->in_off_ += n;
  if (s->in_off_ == s->in_.size()) {
    s->in_.clear();
    // A large upload's buffer is not kept by an idle connection.
    if (s->in_.capacity() > 64 * 1024) std::string().swap(s->in_);
    s->in_off_ = 0;
  }
  return static_cast<int>(n);
}

namespace {

// Ciphertext buffers of connections with nothing to send go back to a pool of the thread
// (each worker's sessions live on its thread), so an idle keep-alive connection holds none
// and the buffers a worker keeps follow how many of its connections send at once.
constexpr size_t kSpareMin = 4 * 1024;    // smaller ones are not worth keeping
constexpr size_t kSpareMax = 512 * 1024;  // larger ones are freed
constexpr size_t kSpareCount = 64;        // buffers kept per thread at most
thread_local std::vector<std::string> spare_out;

void TakeSpare(std::string& s) {
  if (s.capacity() >= kSpareMin || spare_out.empty()) return;
  s.swap(spare_out.back());
  spare_out.pop_back();
}

void GiveSpare(std::string& s) {
  s.clear();
  if (s.capacity() < kSpareMin) return;
  if (s.capacity() <= kSpareMax && spare_out.size() < kSpareCount) {
    spare_out.push_back(std::move(s));
  }
  std::string().swap(s);
}

}  // namespace

int Session::SendCb(WOLFSSL*, char* buf, int sz, void* ctx) {
  auto* s = static_cast<Session*>(ctx);
  if (s->out_.empty()) TakeSpare(s->out_);
  s->out_.append(buf, static_cast<size_t>(sz));
  return sz;
}

void Session::Feed(const char* p, size_t n) {
  if (in_off_ > 0 && in_off_ >= in_.size() / 2) {
    in_.erase(0, in_off_);
    in_off_ = 0;
  }
  in_.append(p, n);
}

bool Session::KeyExchangeNext() const {
  constexpr uint8_t kChangeCipherSpec = 20, kHandshake = 22;
  constexpr uint8_t kClientHello = 1, kClientKeyExchange = 16;
  size_t i = in_off_;
  while (i + 5 <= in_.size()) {  // each turn skips a whole record: bounded by the input
    const auto type = static_cast<uint8_t>(in_[i]);
    const size_t len = (static_cast<size_t>(static_cast<uint8_t>(in_[i + 3])) << 8) |
                       static_cast<uint8_t>(in_[i + 4]);
    if (type == kChangeCipherSpec) {
      i += 5 + len;
      continue;
    }
    if (type != kHandshake || i + 6 > in_.size()) return false;
    const auto msg = static_cast<uint8_t>(in_[i + 5]);
    return msg == kClientHello || msg == kClientKeyExchange;
  }
  return false;
}

std::string_view Session::NextSend() {
  if (flight_sent_ == flight_.size()) {
    flight_sent_ = 0;
    flight_.clear();
    flight_.swap(out_);
    if (flight_.empty()) GiveSpare(flight_);
  }
  return std::string_view(flight_).substr(flight_sent_);
}

void Session::OutSent(size_t n) {
  flight_sent_ = std::min(flight_.size(), flight_sent_ + n);
  // All sent and nothing more sealed: neither buffer is needed until the next write.
  if (flight_sent_ == flight_.size() && out_.empty()) {
    flight_sent_ = 0;
    GiveSpare(flight_);
    GiveSpare(out_);
  }
}

Session::Result Session::Classify(int ret) {
  int err = wolfSSL_get_error(ssl_, ret);
  if (err == WOLFSSL_ERROR_WANT_READ || err == WOLFSSL_ERROR_WANT_WRITE) return Result::kWantMore;
  if (err == WOLFSSL_ERROR_ZERO_RETURN) return Result::kClosed;
  last_error_ = err;
  return Result::kError;
}

Session::Result Session::Handshake() {
  if (handshake_done_) return Result::kOk;
  if (ssl_ == nullptr) return Result::kError;
  int ret = wolfSSL_is_server(ssl_) ? wolfSSL_accept(ssl_) : wolfSSL_connect(ssl_);
  if (ret == WOLFSSL_SUCCESS) {
    handshake_done_ = true;
    return Result::kOk;
  }
  return Classify(ret);
}

Session::Result Session::Read(char* dst, size_t cap, size_t* n) {
  *n = 0;
  int ret = wolfSSL_read(ssl_, dst, static_cast<int>(std::min<size_t>(cap, INT32_MAX)));
  if (ret > 0) {
    *n = static_cast<size_t>(ret);
    return Result::kOk;
  }
  return Classify(ret);
}

bool Session::Write(const char* p, size_t n) {
  while (n > 0) {
    const int chunk = static_cast<int>(std::min<size_t>(n, 1 << 20));
    int ret = wolfSSL_write(ssl_, p, chunk);
    if (ret <= 0) {
      last_error_ = wolfSSL_get_error(ssl_, ret);
      return false;
    }
    p += ret;
    n -= static_cast<size_t>(ret);
  }
  return true;
}

void Session::Shutdown() {
  if (ssl_ != nullptr) wolfSSL_shutdown(ssl_);
}

std::string_view Session::alpn() const {
  const unsigned char* p = nullptr;
  unsigned int len = 0;
  wolfSSL_get0_alpn_selected(ssl_, &p, &len);
  return p == nullptr ? std::string_view()
                      : std::string_view(reinterpret_cast<const char*>(p), len);
}

std::string_view Session::version() const { return wolfSSL_get_version(ssl_); }

bool Session::resumed() const { return wolfSSL_session_reused(ssl_) == 1; }

std::string Session::ErrorText() const {
  if (last_error_ == 0) return "no error";
  char buf[160];
  wolfSSL_ERR_error_string_n(static_cast<unsigned long>(last_error_), buf, sizeof(buf));
  return absl::StrFormat("%s (%d)", buf, last_error_);
}

}  // namespace ringway::tls
