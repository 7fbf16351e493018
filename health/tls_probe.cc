#include "health/tls_probe.h"

#include "absl/strings/str_cat.h"

namespace ringway::health {

TlsProbe::TlsProbe(const tls::ClientContext& cc) : session_(cc), alpn_(cc.alpn()) {}

TlsProbe::Step TlsProbe::Fail(std::string reason) {
  reason_ = std::move(reason);
  return Step::kFailed;
}

TlsProbe::Step TlsProbe::Start() {
  if (!session_.ok()) return Fail("TLS handshake failed: cannot make a TLS session");
  const tls::Session::Result r = session_.Handshake();  // the ClientHello
  if (r == tls::Session::Result::kError || r == tls::Session::Result::kClosed) {
    return Fail(absl::StrCat("TLS handshake failed: ", session_.ErrorText()));
  }
  return Step::kWantMore;
}

TlsProbe::Step TlsProbe::Received(const char* data, size_t n, std::string* plain) {
  if (!session_.ok()) return Fail("TLS handshake failed: cannot make a TLS session");
  session_.Feed(data, n);
  bool established = false;
  if (!session_.handshake_done()) {
    const tls::Session::Result r = session_.Handshake();
    if (r == tls::Session::Result::kClosed) {
      return Fail("TLS handshake failed: closed by the backend (close_notify)");
    }
    if (r == tls::Session::Result::kError) {
      return Fail(absl::StrCat("TLS handshake failed: ", session_.ErrorText()));
    }
    if (!session_.handshake_done()) return Step::kWantMore;
    // A server that picks no protocol passes wolfSSL's check; HTTP/2 needs h2 agreed on.
    if (!alpn_.empty() && session_.alpn() != alpn_) {
      return Fail(
          absl::StrCat("TLS handshake failed: the backend did not agree on ", alpn_, " by ALPN"));
    }
    established = true;
  }
  // What the records hold; at most what was fed, give or take a record's overhead.
  char buf[4096];
  for (;;) {
    size_t got = 0;
    const tls::Session::Result r = session_.Read(buf, sizeof(buf), &got);
    if (r == tls::Session::Result::kOk) {
      plain->append(buf, got);
      continue;
    }
    if (r == tls::Session::Result::kWantMore) break;
    if (r == tls::Session::Result::kClosed) return Step::kClosed;
    return Fail(absl::StrCat("TLS error: ", session_.ErrorText()));
  }
  return established ? Step::kEstablished : Step::kWantMore;
}

std::string TlsProbe::EofReason() const {
  return handshake_done() ? std::string("connection closed")
                          : std::string("TLS handshake failed: connection closed by the backend");
}

bool TlsProbe::Write(std::string_view plain) {
  if (session_.Write(plain.data(), plain.size())) return true;
  Fail(absl::StrCat("TLS error: cannot encrypt the request: ", session_.ErrorText()));
  return false;
}

}  // namespace ringway::health
