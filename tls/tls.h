// TLS on wolfSSL: server contexts for listeners (SNI, ALPN, tickets, client certificates),
// client contexts for upstreams, and the per-connection Session that the worker drives from
// io_uring completions.
//
// wolfSSL never touches a socket here. Its I/O callbacks read ciphertext that the worker fed
// from a provided buffer and write ciphertext into the session's output string, which the
// worker sends with its own io_uring send. So a handshake in progress never blocks a worker.
//
//   absl::StatusOr<std::shared_ptr<tls::ServerContext>> ctx = tls::ServerContext::Create(l.tls);
//   tls::Session s(ctx->get());
//   s.Feed(p, n);                    // ciphertext from the socket
//   s.Handshake() / s.Read(buf, cap) // progress; s.out() holds ciphertext to send
#ifndef RINGWAY_TLS_TLS_H_
#define RINGWAY_TLS_TLS_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "config/config.h"
#include "tls/self_signed.h"

struct WOLFSSL_CTX;
struct WOLFSSL;
struct WOLFSSL_SESSION;

namespace ringway::tls {

// Initialises wolfSSL once per process (safe to call again).
void Init();

// True when this binary links Debian's libwolfssl (no assembly) because the source build
// failed. Start-up says so loudly.
bool UsingFallbackLibrary();

// Session-ticket keys of one listener, shared by every worker. A new key is made every
// `rotation_ms`; a key opens tickets for two periods: while it is current, and for one more
// period as the previous key (such tickets are then re-issued under the current key). Keys come
// from getrandom(2). Each listener has its own keys, so a ticket from one listener never
// resumes on another (which may require client certificates); they live for the process, so
// tickets survive a SIGHUP.
class TicketKeys {
 public:
  TicketKeys();
  // The keys of the listener named `listener`, made on first use.
  static std::shared_ptr<TicketKeys> ForListener(const std::string& listener);
  void SetRotation(uint64_t rotation_ms);
  uint64_t rotation_ms() const { return rotation_ms_.load(std::memory_order_relaxed); }

  // The ticket callback's two halves. Return wolfSSL's WOLFSSL_TICKET_RET_* values.
  // `now_ms` is the monotonic clock (core::MonotonicMs); tests pass their own.
  int Encrypt(unsigned char name[16], unsigned char iv[16], unsigned char mac[32],
              unsigned char* ticket, int len, int* out_len, uint64_t now_ms);
  int Decrypt(const unsigned char name[16], const unsigned char iv[16], const unsigned char mac[32],
              unsigned char* ticket, int len, int* out_len, uint64_t now_ms);

  // For tests: make a new key now, as the schedule would.
  void RotateNow(uint64_t now_ms);

 private:
  struct Key {
    unsigned char name[16];
    unsigned char secret[32];
    uint64_t made_ms = 0;
    bool valid = false;
  };
  void RotateLocked(uint64_t now_ms);
  void MaybeRotate(uint64_t now_ms);

  std::mutex mu_;
  Key current_, previous_;
  std::atomic<uint64_t> rotation_ms_{3'600'000};
  std::atomic<uint64_t> nonce_{0};
  uint32_t nonce_prefix_ = 0;
};

// The TLS 1.2 session-ID cache of one listener, shared by every worker. wolfSSL's own cache
// is one per process and its lookups ignore the session-ID context, so a session ID from one
// listener would resume on another; server contexts turn it off and use this one through
// wolfSSL's external-cache callbacks (TLS 1.3 and tickets need no server-side state).
//
// Bounded: at most `capacity` sessions (the oldest go first), each kept no longer than its
// wolfSSL timeout (500 s by default). A session is found only by a handshake on the same
// listener, with the same context generation (a SIGHUP reload starts a new one, so reloaded
// certificates and client CAs are never bypassed by an older session) and the same SNI name
// (RFC 6066: no resumption under a different server_name).
class SessionCache {
 public:
  static constexpr size_t kCapacity = 10'000;
  // Cap on a session's life here whatever timeout it carries.
  static constexpr uint64_t kMaxLifetimeMs = 24 * 3600 * 1000;

  explicit SessionCache(size_t capacity = kCapacity);
  ~SessionCache();
  SessionCache(const SessionCache&) = delete;
  SessionCache& operator=(const SessionCache&) = delete;

  // The cache of the listener named `listener`, made on first use.
  static std::shared_ptr<SessionCache> ForListener(const std::string& listener);

  // Keeps a copy of `session` (its ID is the key), made by contexts of `generation` for the
  // lower-cased server name `name` ("" without SNI). `now_ms` is core::MonotonicMs().
  void Add(WOLFSSL_SESSION* session, uint64_t generation, std::string_view name, uint64_t now_ms);
  // A new reference to the session with this ID if it was added with the same generation and
  // name and has not expired, else nullptr. The caller releases it (wolfSSL_SESSION_free).
  WOLFSSL_SESSION* Find(const unsigned char* id, size_t len, uint64_t generation,
                        std::string_view name, uint64_t now_ms);
  size_t size() const;
  size_t capacity() const { return capacity_; }

 private:
  using Id = std::array<unsigned char, 32>;
  struct Entry {
    Id id;
    WOLFSSL_SESSION* session = nullptr;
    uint64_t generation = 0;
    uint64_t expires_ms = 0;
    std::string name;
  };
  using Order = std::list<Entry>;

  const size_t capacity_;
  mutable std::mutex mu_;
  Order order_;                          // oldest first
  std::map<Id, Order::iterator> index_;  // an ordered map: lookups cost log n whatever the IDs
};

// The contexts of one TLS listener: one wolfSSL context per certificate, the first the
// default; the SNI callback moves a handshake to the certificate that names the host.
class ServerContext {
 public:
  // Loads and checks every certificate (readable, key matches, not expired, names). Errors
  // name the config position, the path and the reason.
  // `listener` names the listener: it keys the ticket keys and the session-ID cache, so a
  // session from one listener never resumes on another.
  // `generated`: a certificate and key in memory (a listener's self_signed, made by
  // BuildContexts), served as the default before the files of `cfg.certificates`.
  static absl::StatusOr<std::shared_ptr<ServerContext>> Create(const config::ListenerTls& cfg,
                                                               const std::string& listener,
                                                               const PemPair* generated = nullptr);
  ~ServerContext();
  ServerContext(const ServerContext&) = delete;
  ServerContext& operator=(const ServerContext&) = delete;

  WOLFSSL_CTX* default_ctx() const { return entries_.front().ctx; }
  // The context serving `host` (exact name, then "*.rest" wildcard), or the default.
  WOLFSSL_CTX* ForName(std::string_view host) const;
  size_t certificate_count() const { return entries_.size(); }
  const std::vector<std::string>& names(size_t i) const { return entries_[i].names; }
  // The listener's session-ID cache (shared with its other generations), for tests.
  SessionCache& session_cache() const { return *sessions_; }

 private:
  ServerContext() = default;
  struct Entry {
    WOLFSSL_CTX* ctx = nullptr;
    std::vector<std::string> names;  // lower-cased
  };
  std::vector<Entry> entries_;
  std::string alpn_wire_;  // the listener's ALPN list in wire format
  std::shared_ptr<TicketKeys> tickets_;
  bool tickets_on_ = false;
  std::shared_ptr<SessionCache> sessions_;
  uint64_t generation_ = 0;  // unique per ServerContext: sessions stay within one
  friend struct ServerCallbacks;
};

// A client context for an upstream (`tls:` on the upstream or its server).
class ClientContext {
 public:
  // `alpn`: the one protocol offered by ALPN ("h2" for HTTP/2 upstreams), "" for none; a
  // server that picks none or another fails the handshake.
  static absl::StatusOr<std::shared_ptr<ClientContext>> Create(const config::UpstreamTls& cfg,
                                                               std::string alpn = "");
  ~ClientContext();
  ClientContext(const ClientContext&) = delete;
  ClientContext& operator=(const ClientContext&) = delete;
  WOLFSSL_CTX* ctx() const { return ctx_; }
  const std::string& server_name() const { return server_name_; }
  const std::string& alpn() const { return alpn_; }

 private:
  ClientContext() = default;
  WOLFSSL_CTX* ctx_ = nullptr;
  std::string server_name_;
  std::string alpn_;
};

// Every listener's and upstream's contexts, replaceable as a whole (SIGHUP re-reads the
// certificates). Workers hold a shared_ptr to the set they started a connection with.
struct ContextSet {
  std::vector<std::shared_ptr<ServerContext>> listeners;  // nullptr for plaintext listeners
  std::vector<std::shared_ptr<ClientContext>> upstreams;  // nullptr for plaintext upstreams
};
// A listener with self_signed gets a new self-signed certificate (self_signed.h) for its
// servers' names on every call, and a warning in the log.
absl::StatusOr<std::shared_ptr<const ContextSet>> BuildContexts(const config::Config& cfg);

// The process's current ContextSet. Workers read generation() (one relaxed load) and fetch
// the set again only when it changed.
class ContextRegistry {
 public:
  void Publish(std::shared_ptr<const ContextSet> set);
  std::shared_ptr<const ContextSet> Current() const;
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const ContextSet> current_;
  std::atomic<uint64_t> generation_{0};
};

// One TLS connection. Not thread-safe; owned by one worker.
class Session {
 public:
  enum class Result : uint8_t {
    kOk,        // progress made (handshake complete, or data read)
    kWantMore,  // needs more ciphertext from the peer
    kClosed,    // the peer sent close_notify
    kError,     // fatal: the connection must close
  };

  // Server side: `ctx` is a ServerContext's default context; SNI may switch it.
  explicit Session(WOLFSSL_CTX* ctx);
  // Client side: sends SNI `server_name` and checks it in the certificate, if not empty.
  Session(WOLFSSL_CTX* ctx, const std::string& server_name);
  // A client session to a backend of `cc`: its SNI, name check and ALPN offer.
  explicit Session(const ClientContext& cc);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  bool ok() const { return ssl_ != nullptr; }
  bool handshake_done() const { return handshake_done_; }

  // Ciphertext from the peer, copied (the caller's buffer may be reused at once).
  void Feed(const char* p, size_t n);

  // Runs the handshake as far as the input allows.
  Result Handshake();
  // Decrypts into dst[0, cap). Sets *n to the bytes produced (kOk with *n > 0 only).
  Result Read(char* dst, size_t cap, size_t* n);
  // Encrypts p[0, n) into records appended to out(). False on a fatal error.
  bool Write(const char* p, size_t n);
  // Queues close_notify.
  void Shutdown();

  // Ciphertext waiting to be sent. NextSend() gives the bytes to send now; they stay where
  // they are until OutSent() has counted them all, however much wolfSSL writes meanwhile (it
  // appends to a second buffer), so a send in the kernel's hands never sees them move.
  size_t out_pending() const { return flight_.size() - flight_sent_ + out_.size(); }
  std::string_view NextSend();
  void OutSent(size_t n);
  // Bytes of buffers this session holds besides wolfSSL's own (ciphertext in and out). Once
  // everything is sent and read, the out buffers go back to the thread's pool.
  size_t held_bytes() const { return in_.capacity() + out_.capacity() + flight_.capacity(); }
  // Ciphertext fed and not yet consumed by wolfSSL.
  size_t in_pending() const { return in_.size() - in_off_; }
  // Server side: whether that ciphertext starts (after any ChangeCipherSpec records) with a
  // plaintext handshake record whose first message is a ClientHello or a ClientKeyExchange,
  // the steps that cost the server a key exchange (and, for the hello, a signature). False
  // when it cannot tell yet.
  bool KeyExchangeNext() const;

  // After the handshake: what was negotiated.
  std::string_view alpn() const;
  std::string_view version() const;
  bool resumed() const;
  // The last error, for logs.
  std::string ErrorText() const;
  // The wolfSSL object, for tests and for settings this class does not wrap.
  WOLFSSL* native() const { return ssl_; }

 private:
  static int RecvCb(WOLFSSL* ssl, char* buf, int sz, void* ctx);
  static int SendCb(WOLFSSL* ssl, char* buf, int sz, void* ctx);
  Result Classify(int ret);

  WOLFSSL* ssl_ = nullptr;
  std::string in_;
  size_t in_off_ = 0;
  std::string out_;     // wolfSSL appends here
  std::string flight_;  // being sent; swapped with out_ when fully sent
  size_t flight_sent_ = 0;
  bool handshake_done_ = false;
  int last_error_ = 0;
};

}  // namespace ringway::tls

#endif  // RINGWAY_TLS_TLS_H_
