// Server and client contexts (certificates, ciphers, ALPN, SNI selection, client
// certificates) and the per-configuration set of them the workers share.
#include <fcntl.h>
#include <unistd.h>
// clang-format off
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/sha256.h>
// clang-format on

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/log.h"
#include "core/timer.h"
#include "tls/tls.h"

namespace ringway::tls {

namespace {

// TLS 1.3 suites first, then TLS 1.2 ECDHE with AEAD only: no CBC, no RSA key exchange, no
// SHA-1 MACs. ECDSA before RSA so that a listener with both serves the faster one.
constexpr char kDefaultCiphers[] =
    "TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384:TLS13-CHACHA20-POLY1305-SHA256:"
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return out;
}

// Checks that a file can be opened; the error says why not.
absl::Status Readable(const std::string& path, std::string_view what, const std::string& at) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: cannot read %s '%s': %s", at, what, path, strerror(errno)));
  }
  close(fd);
  return absl::OkStatus();
}

std::string LastWolfError() {
  unsigned long e = wolfSSL_ERR_peek_last_error();
  if (e == 0) return "";
  char buf[160];
  wolfSSL_ERR_error_string_n(e, buf, sizeof(buf));
  return buf;
}

// The name a ClientHello asked for, as the session cache compares it: lower case, no trailing
// dot, "" without SNI.
std::string RequestedName(WOLFSSL* ssl) {
  const char* name = wolfSSL_get_servername(ssl, WOLFSSL_SNI_HOST_NAME);
  if (name == nullptr) return "";
  std::string n = Lower(name);
  while (!n.empty() && n.back() == '.') n.pop_back();
  return n;
}

std::atomic<uint64_t> g_generation{0};

}  // namespace

// ---- Server contexts ----------------------------------------------------------------------

// Every name in a `ciphers` list must be a suite this wolfSSL knows (it would skip the others
// quietly), and a listener that requires TLS 1.3 needs a TLS 1.3 suite.
static absl::Status CheckCiphers(const config::ListenerTls& cfg) {
  std::vector<std::string> known;
  for (int i = 0;; ++i) {
    const char* name = wolfSSL_get_cipher_list(i);
    if (name == nullptr) break;
    known.emplace_back(name);
  }
  bool tls13 = false;
  std::string_view list = cfg.ciphers;
  while (!list.empty()) {
    const size_t colon = list.find(':');
    std::string_view name = list.substr(0, colon);
    list = colon == std::string_view::npos ? std::string_view() : list.substr(colon + 1);
    if (name.empty()) continue;
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: '%.*s' in ciphers is not a suite this build knows; write names such as "
          "TLS13-AES128-GCM-SHA256 or ECDHE-ECDSA-AES128-GCM-SHA256, separated by ':'",
          cfg.at, static_cast<int>(name.size()), name.data()));
    }
    if (name.substr(0, 6) == "TLS13-") tls13 = true;
  }
  if (!tls13 && cfg.min_version == config::TlsVersion::k13) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: min_version is 1.3 but ciphers has no TLS 1.3 suite, so every handshake would "
        "fail; add TLS13-AES128-GCM-SHA256",
        cfg.at));
  }
  return absl::OkStatus();
}

struct ServerCallbacks {
  // Every server context's ticket-callback context is its ServerContext: the ticket keys and
  // the session cache of the listener are found through it (this wolfSSL build has no
  // ex_data, and the SNI callback's argument has no getter).
  static ServerContext* Listener(WOLFSSL* ssl) {
    return static_cast<ServerContext*>(wolfSSL_CTX_get_TicketEncCtx(wolfSSL_get_SSL_CTX(ssl)));
  }

  static int Ticket(WOLFSSL*, unsigned char name[WOLFSSL_TICKET_NAME_SZ],
                    unsigned char iv[WOLFSSL_TICKET_IV_SZ],
                    unsigned char mac[WOLFSSL_TICKET_MAC_SZ], int enc, unsigned char* ticket,
                    int len, int* out_len, void* ctx) {
    auto* self = static_cast<ServerContext*>(ctx);
    TicketKeys& keys = *self->tickets_;
    const uint64_t now = core::MonotonicMs();
    if (enc) return keys.Encrypt(name, iv, mac, ticket, len, out_len, now);
    // The callback is installed on every listener (see Create); one without tickets opens none.
    if (!self->tickets_on_) return WOLFSSL_TICKET_RET_REJECT;
    return keys.Decrypt(name, iv, mac, ticket, len, out_len, now);
  }

  // A full TLS 1.2 handshake finished: keep its session in the listener's cache. TLS 1.3
  // sessions are not kept (they resume with tickets only, and their session ID is the
  // client's).
  static int NewSession(WOLFSSL* ssl, WOLFSSL_SESSION* session) {
    ServerContext* self = Listener(ssl);
    if (self != nullptr && wolfSSL_GetVersion(ssl) == WOLFSSL_TLSV1_2) {
      self->sessions_->Add(session, self->generation_, RequestedName(ssl), core::MonotonicMs());
    }
    return 0;  // wolfSSL releases the reference it lent us; the cache took its own copy
  }

  // A TLS 1.2 ClientHello with a session ID, after the SNI callback (so the context is the one
  // SNI chose, of this same listener).
  static WOLFSSL_SESSION* GetSession(WOLFSSL* ssl, const unsigned char* id, int len, int* copy) {
    *copy = 0;  // wolfSSL copies the session and then releases the reference we return
    ServerContext* self = Listener(ssl);
    if (self == nullptr || len <= 0 || wolfSSL_GetVersion(ssl) != WOLFSSL_TLSV1_2) {
      return nullptr;
    }
    return self->sessions_->Find(id, static_cast<size_t>(len), self->generation_,
                                 RequestedName(ssl), core::MonotonicMs());
  }

  // SNI: move the handshake to the certificate that names the host. No match: the default.
  static int Sni(WOLFSSL* ssl, int* alert, void* arg) {
    auto* self = static_cast<ServerContext*>(arg);
    const char* name = wolfSSL_get_servername(ssl, WOLFSSL_SNI_HOST_NAME);
    if (name == nullptr || self->entries_.size() < 2) return 0;
    WOLFSSL_CTX* ctx = self->ForName(name);
    if (ctx != wolfSSL_get_SSL_CTX(ssl)) wolfSSL_set_SSL_CTX(ssl, ctx);
    return 0;
  }

  // ALPN: the first of the listener's protocols that the client offers; none: no ALPN.
  static int Alpn(WOLFSSL* ssl, const unsigned char** out, unsigned char* outlen,
                  const unsigned char* in, unsigned int inlen, void* arg) {
    auto* self = static_cast<ServerContext*>(arg);
    const std::string& ours = self->alpn_wire_;
    for (size_t i = 0; i < ours.size();) {
      const size_t len = static_cast<unsigned char>(ours[i]);
      for (unsigned int j = 0; j < inlen;) {
        const size_t theirs = in[j];
        if (j + 1 + theirs > inlen) break;
        if (theirs == len && memcmp(in + j + 1, ours.data() + i + 1, len) == 0) {
          *out = in + j + 1;
          *outlen = static_cast<unsigned char>(len);
          return 0;  // SSL_TLSEXT_ERR_OK
        }
        j += 1 + static_cast<unsigned int>(theirs);
      }
      i += 1 + len;
    }
    return noack_return;
  }
};

ServerContext::~ServerContext() {
  for (Entry& e : entries_) wolfSSL_CTX_free(e.ctx);
}

WOLFSSL_CTX* ServerContext::ForName(std::string_view host) const {
  std::string name = Lower(host);
  while (!name.empty() && name.back() == '.') name.pop_back();
  for (const Entry& e : entries_) {
    for (const std::string& n : e.names) {
      if (n == name) return e.ctx;
    }
  }
  const size_t dot = name.find('.');
  if (dot != std::string::npos) {
    std::string wild = "*" + name.substr(dot);
    for (const Entry& e : entries_) {
      for (const std::string& n : e.names) {
        if (n == wild) return e.ctx;
      }
    }
  }
  return entries_.front().ctx;
}

absl::StatusOr<std::shared_ptr<ServerContext>> ServerContext::Create(const config::ListenerTls& cfg,
                                                                     const std::string& listener,
                                                                     const PemPair* generated) {
  Init();
  std::shared_ptr<ServerContext> self(new ServerContext);
  // The session-ID context, for clients and tools that look at it. What keeps sessions within
  // their listener is the listener's own cache (sessions_), not this: wolfSSL ignores it.
  unsigned char sid_ctx[WC_SHA256_DIGEST_SIZE];
  const std::string sid_name = "ringway listener " + listener;
  wc_Sha256Hash(reinterpret_cast<const unsigned char*>(sid_name.data()),
                static_cast<word32>(sid_name.size()), sid_ctx);
  for (const std::string& p : cfg.alpn) {
    self->alpn_wire_.push_back(static_cast<char>(p.size()));
    self->alpn_wire_.append(p);
  }
  self->tickets_ = TicketKeys::ForListener(listener);
  self->tickets_->SetRotation(cfg.ticket_rotation_ms);
  self->tickets_on_ = cfg.session_tickets;
  self->sessions_ = SessionCache::ForListener(listener);
  self->generation_ = g_generation.fetch_add(1, std::memory_order_relaxed) + 1;
  if (!cfg.ca.empty()) {
    absl::Status st = Readable(cfg.ca, "the client CA bundle", cfg.at);
    if (!st.ok()) return st;
  }
  if (!cfg.ciphers.empty()) {
    absl::Status st = CheckCiphers(cfg);
    if (!st.ok()) return st;
  }
  // Where each certificate comes from: files, or (self_signed) PEM made for this context.
  struct Source {
    const std::string* cert;  // a path, or PEM text when in_memory
    const std::string* key;
    const std::vector<std::string>* server_names;
    const std::string* at;
    bool in_memory;
  };
  static const std::vector<std::string> kNoNames;
  std::vector<Source> sources;
  if (generated != nullptr) {
    sources.push_back({&generated->cert, &generated->key, &kNoNames, &cfg.at, true});
  }
  for (const config::TlsCertificate& c : cfg.certificates) {
    sources.push_back({&c.cert, &c.key, &c.server_names, &c.at, false});
  }
  for (const Source& src : sources) {
    const std::string label = src.in_memory ? "(self-signed)" : *src.cert;
    const config::TlsCertificate c{.cert = label,
                                   .key = src.in_memory ? label : *src.key,
                                   .server_names = *src.server_names,
                                   .at = *src.at};
    if (!src.in_memory) {
      absl::Status st = Readable(c.cert, "certificate", c.at);
      if (!st.ok()) return st;
      st = Readable(c.key, "private key", c.at);
      if (!st.ok()) return st;
    }

    WOLFSSL_CTX* ctx = wolfSSL_CTX_new(wolfSSLv23_server_method());
    if (ctx == nullptr) return absl::InternalError("wolfSSL_CTX_new failed");
    self->entries_.push_back({ctx, {}});
    Entry& e = self->entries_.back();
    auto fail = [&](std::string_view what, const std::string& path) {
      std::string detail = LastWolfError();
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: %s '%s'%s%s", c.at, what, path, detail.empty() ? "" : ": ", detail));
    };
    wolfSSL_CTX_SetMinVersion(
        ctx, cfg.min_version == config::TlsVersion::k13 ? WOLFSSL_TLSV1_3 : WOLFSSL_TLSV1_2);
    const std::string ciphers = cfg.ciphers.empty() ? kDefaultCiphers : cfg.ciphers;
    if (wolfSSL_CTX_set_cipher_list(ctx, ciphers.c_str()) != WOLFSSL_SUCCESS) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: no cipher in '%s' is known; write names such as "
                          "ECDHE-ECDSA-AES128-GCM-SHA256 separated by ':'",
                          cfg.at, ciphers));
    }
    const auto* cert_pem = reinterpret_cast<const unsigned char*>(src.cert->data());
    const auto cert_pem_size = static_cast<long>(src.cert->size());
    const auto* key_pem = reinterpret_cast<const unsigned char*>(src.key->data());
    const auto key_pem_size = static_cast<long>(src.key->size());
    const int cert_loaded =
        src.in_memory ? wolfSSL_CTX_use_certificate_chain_buffer(ctx, cert_pem, cert_pem_size)
                      : wolfSSL_CTX_use_certificate_chain_file(ctx, c.cert.c_str());
    if (cert_loaded != WOLFSSL_SUCCESS) {
      return fail("cannot load the certificate (a PEM chain, leaf first) from", c.cert);
    }
    const int key_loaded =
        src.in_memory
            ? wolfSSL_CTX_use_PrivateKey_buffer(ctx, key_pem, key_pem_size, WOLFSSL_FILETYPE_PEM)
            : wolfSSL_CTX_use_PrivateKey_file(ctx, c.key.c_str(), WOLFSSL_FILETYPE_PEM);
    if (key_loaded != WOLFSSL_SUCCESS) {
      return fail("cannot load the private key (PEM) from", c.key);
    }
    if (wolfSSL_CTX_check_private_key(ctx) != WOLFSSL_SUCCESS) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: the private key '%s' does not match the certificate '%s'", c.at, c.key, c.cert));
    }
    WOLFSSL_X509* x509 =
        src.in_memory ? wolfSSL_X509_load_certificate_buffer(
                            cert_pem, static_cast<int>(cert_pem_size), WOLFSSL_FILETYPE_PEM)
                      : wolfSSL_X509_load_certificate_file(c.cert.c_str(), WOLFSSL_FILETYPE_PEM);
    if (x509 == nullptr) return fail("cannot parse the certificate", c.cert);
    const int after = wolfSSL_X509_cmp_current_time(wolfSSL_X509_get_notAfter(x509));
    const int before = wolfSSL_X509_cmp_current_time(wolfSSL_X509_get_notBefore(x509));
    if (after <= 0 || before > 0) {
      wolfSSL_X509_free(x509);
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: the certificate '%s' %s; renew it", c.at, c.cert,
          after <= 0 ? "has expired" : "is not valid yet (its notBefore is in the future)"));
    }
    if (!c.server_names.empty()) {
      e.names = c.server_names;
    } else {
      while (char* alt = wolfSSL_X509_get_next_altname(x509)) e.names.push_back(Lower(alt));
      if (e.names.empty()) {
        if (char* cn = wolfSSL_X509_get_subjectCN(x509); cn != nullptr && *cn) {
          e.names.push_back(Lower(cn));
        }
      }
    }
    wolfSSL_X509_free(x509);

    if (!cfg.ca.empty()) {
      if (wolfSSL_CTX_load_verify_locations(ctx, cfg.ca.c_str(), nullptr) != WOLFSSL_SUCCESS) {
        return absl::InvalidArgumentError(
            absl::StrFormat("%s: cannot load the client CA bundle '%s': it holds no PEM "
                            "certificate wolfSSL can read",
                            cfg.at, cfg.ca));
      }
      wolfSSL_CTX_set_verify(
          ctx,
          WOLFSSL_VERIFY_PEER |
              (cfg.client_cert_optional ? 0 : WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT),
          nullptr);
    } else {
      wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, nullptr);
    }
    wolfSSL_CTX_set_session_id_context(ctx, sid_ctx, 20);
    // Session IDs: the listener's own cache instead of wolfSSL's process-wide one, for every
    // listener. One that checks client certificates may resume too: its cache holds only
    // sessions whose full handshake passed its own checks, under this generation's CA, which
    // is what its tickets already allow. A build without external-cache callbacks resumes
    // with tickets only.
#ifdef HAVE_EXT_CACHE
    wolfSSL_CTX_set_session_cache_mode(ctx,
                                       WOLFSSL_SESS_CACHE_SERVER | WOLFSSL_SESS_CACHE_NO_INTERNAL);
    wolfSSL_CTX_sess_set_new_cb(ctx, ServerCallbacks::NewSession);
    wolfSSL_CTX_sess_set_get_cb(ctx, ServerCallbacks::GetSession);
#else
    wolfSSL_CTX_set_session_cache_mode(ctx, WOLFSSL_SESS_CACHE_OFF);
#endif
    // Set even without tickets: the session callbacks find the listener through it, and no
    // ticket is ever opened with wolfSSL's per-context default keys.
    wolfSSL_CTX_set_TicketEncCb(ctx, ServerCallbacks::Ticket);
    wolfSSL_CTX_set_TicketEncCtx(ctx, self.get());
    if (cfg.session_tickets) {
      wolfSSL_CTX_set_TicketHint(ctx, static_cast<int>(cfg.ticket_rotation_ms / 1000));
    } else {
      wolfSSL_CTX_NoTicketTLSv12(ctx);
      wolfSSL_CTX_no_ticket_TLSv13(ctx);
    }
    wolfSSL_CTX_set_servername_callback(ctx, ServerCallbacks::Sni);
    wolfSSL_CTX_set_servername_arg(ctx, self.get());
    if (!self->alpn_wire_.empty()) {
      wolfSSL_CTX_set_alpn_select_cb(ctx, ServerCallbacks::Alpn, self.get());
    }
  }
  return self;
}

// ---- Client contexts ----------------------------------------------------------------------

ClientContext::~ClientContext() {
  if (ctx_ != nullptr) wolfSSL_CTX_free(ctx_);
}

absl::StatusOr<std::shared_ptr<ClientContext>> ClientContext::Create(const config::UpstreamTls& cfg,
                                                                     std::string alpn) {
  Init();
  std::shared_ptr<ClientContext> self(new ClientContext);
  self->ctx_ = wolfSSL_CTX_new(wolfSSLv23_client_method());
  if (self->ctx_ == nullptr) return absl::InternalError("wolfSSL_CTX_new failed");
  self->server_name_ = cfg.server_name;
  self->alpn_ = std::move(alpn);
  WOLFSSL_CTX* ctx = self->ctx_;
  wolfSSL_CTX_SetMinVersion(ctx, WOLFSSL_TLSV1_2);
  wolfSSL_CTX_set_cipher_list(ctx, kDefaultCiphers);
  if (cfg.verify) {
    if (!cfg.ca.empty()) {
      absl::Status st = Readable(cfg.ca, "the upstream CA bundle", cfg.at);
      if (!st.ok()) return st;
      if (wolfSSL_CTX_load_verify_locations(ctx, cfg.ca.c_str(), nullptr) != WOLFSSL_SUCCESS) {
        return absl::InvalidArgumentError(
            absl::StrFormat("%s: cannot load the CA bundle '%s': it holds no PEM certificate "
                            "wolfSSL can read",
                            cfg.at, cfg.ca));
      }
    } else if (wolfSSL_CTX_load_system_CA_certs(ctx) != WOLFSSL_SUCCESS) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: cannot load the system's CA certificates (install ca-certificates, or name a "
          "bundle with ca:)",
          cfg.at));
    }
    wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_PEER, nullptr);
  } else {
    wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, nullptr);
  }
  return self;
}

// ---- Sets and the registry ----------------------------------------------------------------

namespace {

// The names a self-signed certificate of listener `l` carries: its servers' server names (every
// server's when it lists none), wildcards included, each once.
std::vector<std::string> SelfSignedNames(const config::Config& cfg, const config::Listener& l) {
  std::vector<std::string> names;
  auto add = [&](const config::Server& server) {
    for (const std::string& n : server.server_names) {
      if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
    }
  };
  if (l.servers.empty()) {
    for (const config::Server& server : cfg.servers) add(server);
  } else {
    for (uint32_t i : l.servers) {
      if (i < cfg.servers.size()) add(cfg.servers[i]);
    }
  }
  return names;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const ContextSet>> BuildContexts(const config::Config& cfg) {
  auto set = std::make_shared<ContextSet>();
  for (const config::Listener& l : cfg.listeners) {
    if (!l.tls.enabled) {
      set->listeners.push_back(nullptr);
      continue;
    }
    // self_signed: a new key and certificate for each set of contexts (each start, reload or
    // API change), for the names the listener serves.
    std::optional<PemPair> generated;
    if (l.tls.self_signed) {
      std::vector<std::string> names = SelfSignedNames(cfg, l);
      absl::StatusOr<PemPair> pair = MakeSelfSigned(names);
      if (!pair.ok()) {
        return absl::Status(pair.status().code(),
                            absl::StrFormat("%s: listener '%s' (self_signed: true): %s", l.tls.at,
                                            l.name, pair.status().message()));
      }
      generated = *std::move(pair);
      if (names.empty()) names.push_back("localhost");
      constexpr size_t kListed = 10;
      std::string listed;
      for (size_t i = 0; i < names.size() && i < kListed; ++i) {
        absl::StrAppend(&listed, i ? ", " : "", names[i]);
      }
      if (names.size() > kListed) {
        absl::StrAppendFormat(&listed, " and %zu more", names.size() - kListed);
      }
      RW_LOG(core::LogLevel::kWarn,
             "listener '%s' serves a self-signed certificate for %s; give it a certificate "
             "(tls: {cert, key}) for clients to trust it",
             l.name.c_str(), listed.c_str());
    }
    absl::StatusOr<std::shared_ptr<ServerContext>> ctx =
        ServerContext::Create(l.tls, l.name, generated ? &*generated : nullptr);
    if (!ctx.ok()) return ctx.status();
    set->listeners.push_back(*std::move(ctx));
  }
  for (const config::Upstream& u : cfg.upstreams) {
    if (!u.tls.enabled) {
      set->upstreams.push_back(nullptr);
      continue;
    }
    absl::StatusOr<std::shared_ptr<ClientContext>> ctx =
        ClientContext::Create(u.tls, u.protocol == config::UpstreamProtocol::kHttp1 ? "" : "h2");
    if (!ctx.ok()) return ctx.status();
    set->upstreams.push_back(*std::move(ctx));
  }
  return std::shared_ptr<const ContextSet>(std::move(set));
}

void ContextRegistry::Publish(std::shared_ptr<const ContextSet> set) {
  std::lock_guard<std::mutex> lock(mu_);
  current_ = std::move(set);
  generation_.fetch_add(1, std::memory_order_release);
}

std::shared_ptr<const ContextSet> ContextRegistry::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

}  // namespace ringway::tls
