// wolfCrypt speeds that decide TLS cost: bulk AEAD (what every record pays), ECDSA P-256
// signatures and key agreement (what every full handshake pays). The same source builds
// against the wolfSSL ringway links (ringway_crypto_bench) and, when it is installed, against
// Debian's binary libwolfssl (ringway_crypto_bench_debian), which has no assembly.
//
//   build/release/ringway_crypto_bench
//   build/release/ringway_crypto_bench_debian
// clang-format off
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/settings.h>
#include <wolfssl/wolfcrypt/aes.h>
#include <wolfssl/wolfcrypt/chacha20_poly1305.h>
#include <wolfssl/wolfcrypt/curve25519.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/sha256.h>
// clang-format on

#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

namespace {

constexpr size_t kRecord = 16 * 1024;  // a full TLS record

// AES-GCM with a 16-byte (AES-128) or 32-byte (AES-256) key.
void BM_AesGcmSeal16k(benchmark::State& state) {
  Aes aes;
  wc_AesInit(&aes, nullptr, INVALID_DEVID);
  unsigned char key[32] = {1, 2, 3};
  wc_AesGcmSetKey(&aes, key, static_cast<word32>(state.range(0)));
  std::vector<unsigned char> in(kRecord, 7), out(kRecord);
  unsigned char iv[12] = {}, tag[16], aad[13] = {};
  for (auto _ : state) {
    if (wc_AesGcmEncrypt(&aes, out.data(), in.data(), kRecord, iv, sizeof(iv), tag, sizeof(tag),
                         aad, sizeof(aad)) != 0) {
      state.SkipWithError("wc_AesGcmEncrypt failed");
      break;
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kRecord));
  wc_AesFree(&aes);
}
BENCHMARK(BM_AesGcmSeal16k)->ArgName("key_bytes")->Arg(16)->Arg(32);

void BM_ChaCha20Poly1305Seal16k(benchmark::State& state) {
  unsigned char key[32] = {1, 2, 3}, iv[12] = {}, tag[16], aad[13] = {};
  std::vector<unsigned char> in(kRecord, 7), out(kRecord);
  for (auto _ : state) {
    wc_ChaCha20Poly1305_Encrypt(key, iv, aad, sizeof(aad), in.data(), kRecord, out.data(), tag);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kRecord));
}
BENCHMARK(BM_ChaCha20Poly1305Seal16k);

void BM_Sha256_16k(benchmark::State& state) {
  std::vector<unsigned char> in(kRecord, 7);
  unsigned char digest[32];
  for (auto _ : state) {
    wc_Sha256 sha;
    wc_InitSha256(&sha);
    wc_Sha256Update(&sha, in.data(), kRecord);
    wc_Sha256Final(&sha, digest);
    benchmark::DoNotOptimize(digest);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kRecord));
}
BENCHMARK(BM_Sha256_16k);

struct EccFixture {
  WC_RNG rng;
  ecc_key key;
  EccFixture() {
    wc_InitRng(&rng);
    wc_ecc_init(&key);
    wc_ecc_make_key_ex(&rng, 32, &key, ECC_SECP256R1);
  }
  ~EccFixture() {
    wc_ecc_free(&key);
    wc_FreeRng(&rng);
  }
};

void BM_EcdsaP256Sign(benchmark::State& state) {
  EccFixture f;
  unsigned char hash[32] = {9};
  unsigned char sig[80];
  for (auto _ : state) {
    word32 len = sizeof(sig);
    if (wc_ecc_sign_hash(hash, sizeof(hash), sig, &len, &f.rng, &f.key) != 0) {
      state.SkipWithError("wc_ecc_sign_hash failed");
      break;
    }
    benchmark::DoNotOptimize(sig);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_EcdsaP256Sign);

void BM_EcdsaP256Verify(benchmark::State& state) {
  EccFixture f;
  unsigned char hash[32] = {9};
  unsigned char sig[80];
  word32 len = sizeof(sig);
  wc_ecc_sign_hash(hash, sizeof(hash), sig, &len, &f.rng, &f.key);
  for (auto _ : state) {
    int ok = 0;
    wc_ecc_verify_hash(sig, len, hash, sizeof(hash), &ok, &f.key);
    benchmark::DoNotOptimize(ok);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_EcdsaP256Verify);

// An ECDHE P-256 key exchange as a server does it: a fresh key pair and one shared secret.
void BM_EcdheP256(benchmark::State& state) {
  EccFixture peer;
  WC_RNG rng;
  wc_InitRng(&rng);
  unsigned char secret[32];
  for (auto _ : state) {
    ecc_key mine;
    wc_ecc_init(&mine);
    wc_ecc_make_key_ex(&rng, 32, &mine, ECC_SECP256R1);
#if defined(ECC_TIMING_RESISTANT)
    wc_ecc_set_rng(&mine, &rng);
#endif
    word32 len = sizeof(secret);
    if (wc_ecc_shared_secret(&mine, &peer.key, secret, &len) != 0) {
      state.SkipWithError("wc_ecc_shared_secret failed");
      wc_ecc_free(&mine);
      break;
    }
    wc_ecc_free(&mine);
    benchmark::DoNotOptimize(secret);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  wc_FreeRng(&rng);
}
BENCHMARK(BM_EcdheP256);

void BM_X25519(benchmark::State& state) {
  WC_RNG rng;
  wc_InitRng(&rng);
  curve25519_key peer;
  wc_curve25519_init(&peer);
  wc_curve25519_make_key(&rng, 32, &peer);
  unsigned char secret[32];
  for (auto _ : state) {
    curve25519_key mine;
    wc_curve25519_init(&mine);
    wc_curve25519_make_key(&rng, 32, &mine);
    word32 len = sizeof(secret);
    wc_curve25519_shared_secret(&mine, &peer, secret, &len);
    wc_curve25519_free(&mine);
    benchmark::DoNotOptimize(secret);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  wc_curve25519_free(&peer);
  wc_FreeRng(&rng);
}
BENCHMARK(BM_X25519);

}  // namespace
