/* fm_crypto.h - the only door to libcrypto: public keys, signature checks, digests, random
 * seeds. No OpenSSL type appears here, so the rest of the core compiles without OpenSSL
 * headers. */
#ifndef FM_CRYPTO_H
#define FM_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "fm_x509.h"

/* A parsed public key, reference counted (atomics), immutable and shareable between threads. */
typedef struct fm_key fm_key;

/* Parses a SubjectPublicKeyInfo (whole TLV) once. Returns FM_OK, FM_ERR_KEY_DECODE or
 * FM_ERR_UNSUPPORTED_KEY (key types other than RSA, EC P-256/384/521 and Ed25519). */
int fm_key_new(const uint8_t *spki, size_t len, fm_key **out);
void fm_key_ref(fm_key *k);
void fm_key_free(fm_key *k); /* drops one reference; NULL is a no-op */
int fm_key_type(const fm_key *k); /* enum fm_key_type */
/* Cost of one signature verification with this key, in RSA-2048 verifications (>= 1). */
uint32_t fm_key_cost(const fm_key *k);

/* Verifies `sig` over `msg` with `k` under algorithm `alg` (enum fm_sig_alg; pss used for
 * FM_SIG_RSA_PSS). Returns FM_OK, FM_ERR_CERT_SIGNATURE_FAILURE, or
 * FM_ERR_UNSUPPORTED_SIGNATURE_ALGORITHM when the algorithm does not fit the key. */
int fm_sig_verify(const fm_key *k, int alg, const fm_pss *pss, const uint8_t *msg, size_t msg_len,
                  const uint8_t *sig, size_t sig_len);

/* SHA-256 of a buffer (32 bytes out). */
int fm_sha256(const uint8_t *p, size_t len, uint8_t out[32]);

/* 64 unpredictable bits from libcrypto's CSPRNG (RAND_bytes): FM_OK, or FM_ERR_INTERNAL when it
 * has none to give (*out is then unchanged). Seeds hash tables whose keys an adversary chooses. */
int fm_random_u64(uint64_t *out);

/* libcrypto's version string, for diagnostics. */
const char *fm_crypto_version(void);

#endif /* FM_CRYPTO_H */
