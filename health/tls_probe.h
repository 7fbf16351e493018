// One health check's TLS connection, without the socket: the prober (health/prober.cc) sends
// what NextSend gives, receives ciphertext into in() and hands it to Received, which runs the
// handshake and then decrypts. Allocated when a check's connection is up and freed with it, so
// a probe carries no TLS session between checks.
//
//   TlsProbe t(*client_context);            // the upstream's: verification, CA, SNI, ALPN
//   if (t.Start() == TlsProbe::Step::kFailed) Fail(t.reason());
//   send(t.NextSend()); t.Sent(n);           // the ClientHello, then whatever comes next
//   recv(t.in(), TlsProbe::kInSize) -> n;
//   switch (t.Received(n, &plain)) { case kEstablished: t.Write(request); ... }
#ifndef RINGWAY_HEALTH_TLS_PROBE_H_
#define RINGWAY_HEALTH_TLS_PROBE_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "tls/tls.h"

namespace ringway::health {

class TlsProbe {
 public:
  // Ciphertext is received into in() this many bytes at a time.
  static constexpr size_t kInSize = 4096;

  enum class Step {
    kWantMore,     // nothing decided: send what NextSend gives, then receive
    kEstablished,  // the handshake completed in this call: write the request
    kClosed,       // the backend sent close_notify (after the plaintext appended, if any)
    kFailed,       // fatal: reason() says why
  };

  explicit TlsProbe(const tls::ClientContext& cc);
  TlsProbe(const TlsProbe&) = delete;
  TlsProbe& operator=(const TlsProbe&) = delete;

  // Starts the handshake: queues the ClientHello.
  Step Start();
  // The receive buffer: the prober's receive writes ciphertext here.
  char* in() { return in_; }
  // `n` bytes of ciphertext arrived in in() (or at `data`): runs the handshake and, once it is
  // done, appends the plaintext that the records held to *plain.
  Step Received(size_t n, std::string* plain) { return Received(in_, n, plain); }
  Step Received(const char* data, size_t n, std::string* plain);
  // The backend closed the connection (end of file): the reason for the log.
  std::string EofReason() const;
  // Encrypts `plain` (after kEstablished). False on a fatal error (reason()).
  bool Write(std::string_view plain);

  // Ciphertext to send now; it stays where it is until Sent has counted it all. Empty: none.
  std::string_view NextSend() { return session_.NextSend(); }
  void Sent(size_t n) { session_.OutSent(n); }

  bool handshake_done() const { return session_.handshake_done(); }
  const std::string& reason() const { return reason_; }
  // The protocol the backend chose by ALPN, once established ("" for none).
  std::string_view alpn() const { return session_.alpn(); }

 private:
  Step Fail(std::string reason);

  tls::Session session_;
  std::string alpn_;  // offered: the server must choose it
  std::string reason_;
  char in_[kInSize];
};

}  // namespace ringway::health

#endif  // RINGWAY_HEALTH_TLS_PROBE_H_
