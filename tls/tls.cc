// Library start-up and TLS resumption: ticket keys and the session-ID cache of each listener.
#include "tls/tls.h"

#include <sys/random.h>

// clang-format off
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/aes.h>
// clang-format on

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>

namespace ringway::tls {

namespace {

std::once_flag g_init;

void Random(void* p, size_t n) {
  auto* b = static_cast<unsigned char*>(p);
  while (n > 0) {
    ssize_t r = getrandom(b, n, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      abort();  // the kernel's random source failing is not something to run on
    }
    b += r;
    n -= static_cast<size_t>(r);
  }
}

}  // namespace

void Init() {
  std::call_once(g_init, [] { wolfSSL_Init(); });
}

bool UsingFallbackLibrary() {
#ifdef RINGWAY_WOLFSSL_FALLBACK
  return true;
#else
  return false;
#endif
}

// ---- Ticket keys --------------------------------------------------------------------------

TicketKeys::TicketKeys() { Random(&nonce_prefix_, sizeof(nonce_prefix_)); }

std::shared_ptr<TicketKeys> TicketKeys::ForListener(const std::string& listener) {
  static std::mutex mu;
  static auto* keys = new std::map<std::string, std::shared_ptr<TicketKeys>>;
  std::lock_guard<std::mutex> lock(mu);
  std::shared_ptr<TicketKeys>& k = (*keys)[listener];
  if (!k) k = std::make_shared<TicketKeys>();
  return k;
}

void TicketKeys::SetRotation(uint64_t rotation_ms) {
  rotation_ms_.store(std::max<uint64_t>(rotation_ms, 1000), std::memory_order_relaxed);
}

void TicketKeys::RotateLocked(uint64_t now_ms) {
  previous_ = current_;
  Random(current_.name, sizeof(current_.name));
  Random(current_.secret, sizeof(current_.secret));
  current_.made_ms = now_ms;
  current_.valid = true;
}

void TicketKeys::MaybeRotate(uint64_t now_ms) {
  if (!current_.valid || now_ms - current_.made_ms >= rotation_ms()) RotateLocked(now_ms);
  // Keys are made when used: after a quiet spell the previous key may be older than its two
  // periods. Then it is retired now.
  if (previous_.valid && now_ms - previous_.made_ms >= 2 * rotation_ms()) previous_.valid = false;
}

void TicketKeys::RotateNow(uint64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  RotateLocked(now_ms);
}

// A ticket is the session state sealed with AES-256-GCM under the current key: the 16-byte
// key name goes in clear (it picks the key on the way back), the IV is a 96-bit nonce that
// never repeats under one key (a random prefix and a counter), the tag sits in `mac`.
int TicketKeys::Encrypt(unsigned char name[16], unsigned char iv[16], unsigned char mac[32],
                        unsigned char* ticket, int len, int* out_len, uint64_t now_ms) {
  unsigned char secret[32];
  {
    std::lock_guard<std::mutex> lock(mu_);
    MaybeRotate(now_ms);
    memcpy(name, current_.name, 16);
    memcpy(secret, current_.secret, 32);
  }
  uint64_t n = nonce_.fetch_add(1, std::memory_order_relaxed);
  memset(iv, 0, 16);
  memcpy(iv, &nonce_prefix_, 4);
  memcpy(iv + 4, &n, 8);
  memset(mac, 0, 32);
  Aes aes;
  int ret = WOLFSSL_TICKET_RET_FATAL;
  if (wc_AesInit(&aes, nullptr, INVALID_DEVID) == 0) {
    if (wc_AesGcmSetKey(&aes, secret, 32) == 0 &&
        wc_AesGcmEncrypt(&aes, ticket, ticket, static_cast<word32>(len), iv, 12, mac, 16, name,
                         16) == 0) {
      *out_len = len;
      ret = WOLFSSL_TICKET_RET_OK;
    }
    wc_AesFree(&aes);
  }
  memset(secret, 0, sizeof(secret));
  return ret;
}

int TicketKeys::Decrypt(const unsigned char name[16], const unsigned char iv[16],
                        const unsigned char mac[32], unsigned char* ticket, int len, int* out_len,
                        uint64_t now_ms) {
  unsigned char secret[32];
  bool renew = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const uint64_t now = now_ms;
    MaybeRotate(now);
    const uint64_t rotation = rotation_ms();
    if (current_.valid && memcmp(name, current_.name, 16) == 0) {
      memcpy(secret, current_.secret, 32);
    } else if (previous_.valid && memcmp(name, previous_.name, 16) == 0 &&
               now - previous_.made_ms < 2 * rotation) {
      memcpy(secret, previous_.secret, 32);
      renew = true;  // still good, but issue a ticket under the current key
    } else {
      return WOLFSSL_TICKET_RET_REJECT;  // unknown or retired key: a full handshake
    }
  }
  Aes aes;
  int ret = WOLFSSL_TICKET_RET_REJECT;
  if (wc_AesInit(&aes, nullptr, INVALID_DEVID) == 0) {
    if (wc_AesGcmSetKey(&aes, secret, 32) == 0 &&
        wc_AesGcmDecrypt(&aes, ticket, ticket, static_cast<word32>(len), iv, 12, mac, 16, name,
                         16) == 0) {
      *out_len = len;
      ret = renew ? WOLFSSL_TICKET_RET_CREATE : WOLFSSL_TICKET_RET_OK;
    }
    wc_AesFree(&aes);
  }
  memset(secret, 0, sizeof(secret));
  return ret;
}

// ---- Session-ID cache ---------------------------------------------------------------------

SessionCache::SessionCache(size_t capacity) : capacity_(capacity) {}

SessionCache::~SessionCache() {
  for (Entry& e : order_) wolfSSL_SESSION_free(e.session);
}

std::shared_ptr<SessionCache> SessionCache::ForListener(const std::string& listener) {
  static std::mutex mu;
  static auto* caches = new std::map<std::string, std::shared_ptr<SessionCache>>;
  std::lock_guard<std::mutex> lock(mu);
  std::shared_ptr<SessionCache>& c = (*caches)[listener];
  if (!c) c = std::make_shared<SessionCache>();
  return c;
}

size_t SessionCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return order_.size();
}

void SessionCache::Add(WOLFSSL_SESSION* session, uint64_t generation, std::string_view name,
                       uint64_t now_ms) {
  unsigned int id_len = 0;
  const unsigned char* id = wolfSSL_SESSION_get_id(session, &id_len);
  const long timeout_s = wolfSSL_SESSION_get_timeout(session);
  // DNS names are at most 253 bytes; a longer "name" is not worth a slot (and would make the
  // bound on an entry's size depend on the client).
  if (capacity_ == 0 || id == nullptr || id_len != sizeof(Id) || timeout_s <= 0 ||
      name.size() > 255) {
    return;
  }
  // wolfSSL keeps changing its own session object after this call (and frees it with the
  // connection), so the cache keeps a private copy that nobody writes to; lookups hand out
  // references to it. Everything that allocates happens here, before the lock.
  WOLFSSL_SESSION* copy = wolfSSL_SESSION_dup(session);
  if (copy == nullptr) return;
  Order node;
  Entry& e = node.emplace_back();
  memcpy(e.id.data(), id, sizeof(Id));
  e.session = copy;
  e.generation = generation;
  e.expires_ms =
      now_ms + std::min<uint64_t>(static_cast<uint64_t>(timeout_s) * 1000, kMaxLifetimeMs);
  e.name.assign(name);
  std::map<Id, Order::iterator> staging;
  staging.emplace(e.id, node.begin());
  auto handle = staging.extract(staging.begin());

  Order dead;  // evicted entries, freed after the lock is released
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto drop = [&](Order::iterator it) {
      index_.erase(it->id);
      dead.splice(dead.end(), order_, it);
    };
    if (auto it = index_.find(e.id); it != index_.end()) drop(it->second);
    // Expired sessions leave from the front, a few per call so that no call frees thousands
    // while holding the lock (the rest are skipped by Find and go with later calls); then the
    // oldest if the cache is full. So the cache never holds more than capacity_ sessions.
    for (int n = 0; n < 4 && !order_.empty() && order_.front().expires_ms <= now_ms; ++n) {
      drop(order_.begin());
    }
    if (order_.size() >= capacity_) drop(order_.begin());
    order_.splice(order_.end(), node);  // the iterator in `handle` now points into order_
    index_.insert(std::move(handle));
  }
  for (Entry& d : dead) wolfSSL_SESSION_free(d.session);
}

WOLFSSL_SESSION* SessionCache::Find(const unsigned char* id, size_t len, uint64_t generation,
                                    std::string_view name, uint64_t now_ms) {
  if (id == nullptr || len != sizeof(Id)) return nullptr;
  Id key;
  memcpy(key.data(), id, sizeof(Id));
  std::lock_guard<std::mutex> lock(mu_);
  auto it = index_.find(key);
  if (it == index_.end()) return nullptr;
  const Entry& e = *it->second;
  if (e.generation != generation || e.name != name || e.expires_ms <= now_ms) return nullptr;
  // The reference keeps the session alive if another thread evicts it before wolfSSL has
  // copied it.
  if (wolfSSL_SESSION_up_ref(e.session) != WOLFSSL_SUCCESS) return nullptr;
  return e.session;
}

}  // namespace ringway::tls
