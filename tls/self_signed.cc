// Self-signed listener certificates (self_signed.h), with wolfCrypt's certificate generation.
#include "tls/self_signed.h"

#include <arpa/inet.h>
#include <string.h>
#include <time.h>
// clang-format off
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/settings.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/random.h>
// clang-format on

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "tls/tls.h"

namespace ringway::tls {

#if defined(WOLFSSL_CERT_GEN) && defined(WOLFSSL_ALT_NAMES) && defined(HAVE_ECC) && \
    defined(WOLFSSL_DER_TO_PEM)

namespace {

constexpr int kDaysValid = 90;
constexpr time_t kBackdateSeconds = 3600;  // clocks of clients a little behind still accept it

// DER: a tag, then the length of `content`, then `content`.
void AppendTlv(std::string* out, uint8_t tag, std::string_view content) {
  out->push_back(static_cast<char>(tag));
  const size_t n = content.size();
  if (n < 0x80) {
    out->push_back(static_cast<char>(n));
  } else if (n <= 0xff) {
    out->push_back(static_cast<char>(0x81));
    out->push_back(static_cast<char>(n));
  } else if (n <= 0xffff) {
    out->push_back(static_cast<char>(0x82));
    out->push_back(static_cast<char>(n >> 8));
    out->push_back(static_cast<char>(n & 0xff));
  } else {
    out->push_back(static_cast<char>(0x83));
    out->push_back(static_cast<char>(n >> 16));
    out->push_back(static_cast<char>((n >> 8) & 0xff));
    out->push_back(static_cast<char>(n & 0xff));
  }
  out->append(content);
}

// The subjectAltName extension's value (RFC 5280 GeneralNames): dNSName [2] for names,
// iPAddress [7] for IPv4 and bracketed IPv6 literals.
std::string GeneralNames(const std::vector<std::string>& names) {
  std::string entries;
  for (const std::string& name : names) {
    in_addr v4{};
    in6_addr v6{};
    if (inet_pton(AF_INET, name.c_str(), &v4) == 1) {
      AppendTlv(&entries, 0x87, std::string_view(reinterpret_cast<const char*>(&v4), sizeof(v4)));
    } else if (name.size() > 2 && name.front() == '[' && name.back() == ']' &&
               inet_pton(AF_INET6, name.substr(1, name.size() - 2).c_str(), &v6) == 1) {
      AppendTlv(&entries, 0x87, std::string_view(reinterpret_cast<const char*>(&v6), sizeof(v6)));
    } else {
      AppendTlv(&entries, 0x82, name);
    }
  }
  std::string out;
  AppendTlv(&out, 0x30, entries);
  return out;
}

// A certificate date as wolfSSL keeps it in Cert::beforeDate/afterDate: the DER tag, the
// length and the text. UTCTime until 2049, GeneralizedTime from 2050 (RFC 5280, 4.1.2.5).
bool CertDate(time_t t, byte* out, int* size) {
  tm parts{};
  if (gmtime_r(&t, &parts) == nullptr) return false;
  const int year = parts.tm_year + 1900;
  char text[32];
  int n;
  uint8_t tag;
  if (year < 2050) {
    tag = 0x17;  // UTCTime: YYMMDDHHMMSSZ
    n = snprintf(text, sizeof(text), "%02d%02d%02d%02d%02d%02dZ", year % 100, parts.tm_mon + 1,
                 parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec);
  } else {
    tag = 0x18;  // GeneralizedTime: YYYYMMDDHHMMSSZ
    n = snprintf(text, sizeof(text), "%04d%02d%02d%02d%02d%02dZ", year, parts.tm_mon + 1,
                 parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec);
  }
  if (n <= 0 || n + 2 > CTC_DATE_SIZE) return false;
  out[0] = tag;
  out[1] = static_cast<byte>(n);
  memcpy(out + 2, text, static_cast<size_t>(n));
  *size = n + 2;
  return true;
}

absl::Status WolfError(std::string_view what, int code) {
  return absl::InternalError(absl::StrFormat("making a self-signed certificate: %s failed: %s (%d)",
                                             what, wc_GetErrorString(code), code));
}

absl::StatusOr<std::string> ToPem(const byte* der, size_t size, int type) {
  std::string pem(size * 2 + 256, '\0');
  const int n = wc_DerToPem(der, static_cast<word32>(size), reinterpret_cast<byte*>(pem.data()),
                            static_cast<word32>(pem.size()), type);
  if (n <= 0) return WolfError("wc_DerToPem", n);
  pem.resize(static_cast<size_t>(n));
  return pem;
}

// What MakeSelfSigned holds from wolfCrypt, freed on every way out.
struct Resources {
  WC_RNG rng;
  ecc_key key;
  bool rng_ready = false;
  bool key_ready = false;
  ~Resources() {
    if (key_ready) wc_ecc_free(&key);
    if (rng_ready) wc_FreeRng(&rng);
  }
};

}  // namespace

absl::StatusOr<PemPair> MakeSelfSigned(const std::vector<std::string>& names_in) {
  Init();
  std::vector<std::string> names;
  for (const std::string& n : names_in) {
    if (!n.empty() && std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
  }
  if (names.empty()) names.push_back("localhost");

  auto cert = std::make_unique<Cert>();  // (large: the alt names alone take 16 KiB)
  int ret = wc_InitCert(cert.get());
  if (ret != 0) return WolfError("wc_InitCert", ret);

  const std::string san = GeneralNames(names);
  if (san.size() > sizeof(cert->altNames)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "the %zu names take %zu bytes in a certificate, over the %zu that a self-signed "
        "certificate here may hold; give the listener a certificate (tls: {cert, key})",
        names.size(), san.size(), sizeof(cert->altNames)));
  }
  memcpy(cert->altNames, san.data(), san.size());
  cert->altNamesSz = static_cast<int>(san.size());

  std::string cn = "localhost";
  for (const std::string& n : names) {
    if (n.size() < sizeof(cert->subject.commonName)) {
      cn = n;
      break;
    }
  }
  memcpy(cert->subject.commonName, cn.c_str(), cn.size() + 1);
  cert->subject.commonNameEnc = CTC_UTF8;
  constexpr char kOrg[] = "ringway self-signed";
  static_assert(sizeof(kOrg) <= CTC_NAME_SIZE);
  memcpy(cert->subject.org, kOrg, sizeof(kOrg));
  cert->subject.orgEnc = CTC_UTF8;
  cert->selfSigned = 1;
  cert->isCA = 0;
  cert->sigType = CTC_SHA256wECDSA;
  cert->daysValid = kDaysValid;
  const time_t now = time(nullptr);
  const time_t before = now - kBackdateSeconds;
  const time_t after = before + static_cast<time_t>(kDaysValid) * 86400;
  if (!CertDate(before, cert->beforeDate, &cert->beforeDateSz) ||
      !CertDate(after, cert->afterDate, &cert->afterDateSz)) {
    return absl::InternalError(
        "making a self-signed certificate: the clock's time cannot be "
        "written as a certificate date");
  }

  Resources r;
  ret = wc_InitRng(&r.rng);
  if (ret != 0) return WolfError("wc_InitRng", ret);
  r.rng_ready = true;
  // A positive serial number of 16 random bytes, its first byte never 0 (DER would drop it).
  ret = wc_RNG_GenerateBlock(&r.rng, cert->serial, 16);
  if (ret != 0) return WolfError("wc_RNG_GenerateBlock", ret);
  cert->serial[0] = static_cast<byte>((cert->serial[0] & 0x7f) | 0x40);
  cert->serialSz = 16;

  ret = wc_ecc_init(&r.key);
  if (ret != 0) return WolfError("wc_ecc_init", ret);
  r.key_ready = true;
  ret = wc_ecc_make_key_ex(&r.rng, 32, &r.key, ECC_SECP256R1);
  if (ret != 0) return WolfError("wc_ecc_make_key_ex", ret);
#ifdef ECC_TIMING_RESISTANT
  wc_ecc_set_rng(&r.key, &r.rng);
#endif

#ifdef WOLFSSL_CERT_EXT
  ret = wc_SetSubjectKeyIdFromPublicKey_ex(cert.get(), ECC_TYPE, &r.key);
  if (ret != 0) return WolfError("wc_SetSubjectKeyIdFromPublicKey_ex", ret);
  ret = wc_SetKeyUsage(cert.get(), "digitalSignature");
  if (ret != 0) return WolfError("wc_SetKeyUsage", ret);
  ret = wc_SetExtKeyUsage(cert.get(), "serverAuth");
  if (ret != 0) return WolfError("wc_SetExtKeyUsage", ret);
#endif

  std::vector<byte> der(sizeof(cert->altNames) + 4096);
  ret = wc_MakeCert_ex(cert.get(), der.data(), static_cast<word32>(der.size()), ECC_TYPE, &r.key,
                       &r.rng);
  if (ret < 0) return WolfError("wc_MakeCert_ex", ret);
  ret = wc_SignCert_ex(cert->bodySz, cert->sigType, der.data(), static_cast<word32>(der.size()),
                       ECC_TYPE, &r.key, &r.rng);
  if (ret < 0) return WolfError("wc_SignCert_ex", ret);
  absl::StatusOr<std::string> cert_pem = ToPem(der.data(), static_cast<size_t>(ret), CERT_TYPE);
  if (!cert_pem.ok()) return cert_pem.status();

  byte key_der[256];
  ret = wc_EccKeyToDer(&r.key, key_der, sizeof(key_der));
  if (ret <= 0) return WolfError("wc_EccKeyToDer", ret);
  absl::StatusOr<std::string> key_pem =
      ToPem(key_der, static_cast<size_t>(ret), ECC_PRIVATEKEY_TYPE);
  explicit_bzero(key_der, sizeof(key_der));
  if (!key_pem.ok()) return key_pem.status();
  return PemPair{*std::move(cert_pem), *std::move(key_pem)};
}

#else  // no certificate generation in this wolfSSL

absl::StatusOr<PemPair> MakeSelfSigned(const std::vector<std::string>&) {
  return absl::UnimplementedError(
      "this ringway's wolfSSL cannot make certificates (it was built without --enable-certgen "
      "and WOLFSSL_ALT_NAMES), so self_signed: true cannot work; give the listener a "
      "certificate (tls: {cert, key})");
}

#endif

}  // namespace ringway::tls
