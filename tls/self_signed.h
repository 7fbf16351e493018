// Self-signed certificates for a TLS listener that names none (`tls: {self_signed: true}`):
// a fresh P-256 key and an X.509 certificate signed with it, made with wolfSSL's certificate
// generation. Clients do not trust such a certificate (curl needs -k); it lets a listener
// speak TLS before it is given a real one.
//
//   absl::StatusOr<tls::PemPair> pair = tls::MakeSelfSigned({"acme.com", "*.acme.com"});
//   // pair->cert: "-----BEGIN CERTIFICATE-----...", pair->key: "-----BEGIN EC PRIVATE KEY..."
#ifndef RINGWAY_TLS_SELF_SIGNED_H_
#define RINGWAY_TLS_SELF_SIGNED_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace ringway::tls {

struct PemPair {
  std::string cert;  // PEM "CERTIFICATE"
  std::string key;   // PEM "EC PRIVATE KEY" (SEC 1)
};

// A new key and a certificate valid from an hour ago for 90 days, with a random serial number.
// Its subject's CN is the first name (that fits the 63 characters of a CN), else "localhost";
// its subjectAltName holds every name: IP literals ("10.0.0.1", "[::1]") as IP addresses, the
// others ("acme.com", "*.acme.com") as DNS names; "localhost" when `names` is empty. Names
// repeated are written once. Errors: the linked wolfSSL cannot generate certificates (built
// without WOLFSSL_CERT_GEN), the names do not fit in one certificate, or a wolfSSL call failed.
absl::StatusOr<PemPair> MakeSelfSigned(const std::vector<std::string>& names);

}  // namespace ringway::tls

#endif  // RINGWAY_TLS_SELF_SIGNED_H_
