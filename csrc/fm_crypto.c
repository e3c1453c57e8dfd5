/* fm_crypto.c - the one translation unit that includes OpenSSL. Signature primitives and digests
 * only; the error queue is drained on every failure path. */
#include "fm_crypto.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdatomic.h>
#include <stdlib.h>

#if OPENSSL_VERSION_NUMBER < 0x10101000L
#error "fastmtls needs OpenSSL 1.1.1 or newer"
#endif

#if OPENSSL_VERSION_NUMBER >= 0x30000000L
#include <openssl/core_names.h>
#include <openssl/params.h>
#define FM_HAVE_FROMDATA 1
#endif

struct fm_key {
    atomic_int refs;
    int type; /* enum fm_key_type */
    uint32_t cost; /* see fm_key_cost */
    EVP_PKEY *pkey;
    /* Verification contexts already initialised for this key and SHA-256/384/512 (RSA PKCS#1
     * v1.5 or ECDSA), made on first use and never changed after: each verification works on a
     * copy (EVP_PKEY_CTX_dup reads its source only), which skips the provider lookups and
     * set-up of EVP_PKEY_verify_init, about 4 us of a 25 us RSA-2048 check with OpenSSL 3.0. */
    _Atomic(EVP_PKEY_CTX *) prep[3];
};

/*
 * Builds the EVP_PKEY from the key's parts, which our parser already found: OpenSSL 3's generic
 * DER decoder (d2i_PUBKEY) costs 50-90 us per key, building from parts 1-15 us. Returns NULL when
 * this path is not available (the caller then uses d2i_PUBKEY).
 */
static EVP_PKEY *key_from_parts(int type, fm_span raw) {
    if (type == FM_KEY_ED25519)
        return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw.p, raw.len);
#ifdef FM_HAVE_FROMDATA
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    OSSL_PARAM params[3];
    unsigned char n_le[2048], e_le[16];
    if (type == FM_KEY_RSA) {
        /* RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER } (RFC 8017) */
        fm_der r;
        fm_span seq, n, e;
        fm_der_init_span(&r, raw);
        if (fm_der_expect(&r, FM_TAG_SEQUENCE, &seq, NULL))
            return NULL;
        fm_der_init_span(&r, seq);
        if (fm_der_expect(&r, FM_TAG_INTEGER, &n, NULL) || fm_der_expect(&r, FM_TAG_INTEGER, &e, NULL))
            return NULL;
        while (n.len && n.p[0] == 0)
            n.p++, n.len--;
        while (e.len && e.p[0] == 0)
            e.p++, e.len--;
        if (n.len == 0 || n.len > sizeof n_le || e.len == 0 || e.len > sizeof e_le)
            return NULL;
        /* OSSL_PARAM unsigned integers are in native byte order */
        int little = 1;
        little = *(unsigned char *)&little;
        for (size_t i = 0; i < n.len; i++)
            n_le[i] = little ? n.p[n.len - 1 - i] : n.p[i];
        for (size_t i = 0; i < e.len; i++)
            e_le[i] = little ? e.p[e.len - 1 - i] : e.p[i];
        params[0] = OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_RSA_N, n_le, n.len);
        params[1] = OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_RSA_E, e_le, e.len);
        params[2] = OSSL_PARAM_construct_end();
        ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    } else {
        const char *group = type == FM_KEY_EC_P256 ? "P-256" : type == FM_KEY_EC_P384 ? "P-384" : "P-521";
        params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)group, 0);
        params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)raw.p, raw.len);
        params[2] = OSSL_PARAM_construct_end();
        ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    }
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    return pkey;
#else
    (void)raw;
    return NULL;
#endif
}

/* Bits of the RSA public exponent, or SIZE_MAX when the key does not parse or cannot be an RSA
 * key: an even modulus, or an exponent below 3 or even (SP 800-89 5.3.3, RFC 8017 3.1; with
 * e = 1 every message is its own "signature", so anyone could sign under such an issuer key,
 * which OpenSSL accepts and pyca/cryptography refuses). */
static size_t rsa_exponent_bits(fm_span raw) {
    fm_der r;
    fm_span seq, n, e;
    fm_der_init_span(&r, raw);
    if (fm_der_expect(&r, FM_TAG_SEQUENCE, &seq, NULL))
        return SIZE_MAX;
    fm_der_init_span(&r, seq);
    if (fm_der_expect(&r, FM_TAG_INTEGER, &n, NULL) || fm_der_expect(&r, FM_TAG_INTEGER, &e, NULL))
        return SIZE_MAX;
    while (e.len && e.p[0] == 0)
        e.p++, e.len--;
    if (n.len == 0 || !(n.p[n.len - 1] & 1u) || e.len == 0 || !(e.p[e.len - 1] & 1u) ||
        (e.len == 1 && e.p[0] < 3))
        return SIZE_MAX;
    size_t bits = (e.len - 1) * 8;
    for (unsigned top = e.p[0]; top; top >>= 1)
        bits++;
    return bits;
}

int fm_key_new(const uint8_t *spki, size_t len, fm_key **out) {
    int type;
    uint32_t bits;
    *out = NULL;
    if (spki == NULL || len == 0 || len > 0x7FFFFFFF)
        return FM_ERR_INVALID_ARGUMENT;
    /* Our own parser decides the key type (rejecting what we do not support) before OpenSSL sees
     * the bytes. */
    fm_span raw;
    if (fm_spki_parse(spki, len, &type, &bits, &raw) != FM_OK)
        return FM_ERR_KEY_DECODE;
    if (type != FM_KEY_RSA && type != FM_KEY_EC_P256 && type != FM_KEY_EC_P384 &&
        type != FM_KEY_EC_P521 && type != FM_KEY_ED25519)
        return FM_ERR_UNSUPPORTED_KEY;
    size_t ebits = type == FM_KEY_RSA ? rsa_exponent_bits(raw) : 0;
    if (ebits == SIZE_MAX)
        return FM_ERR_KEY_DECODE;
    if (type == FM_KEY_RSA && (bits > FM_MAX_RSA_BITS || ebits > 32))
        return FM_ERR_UNSUPPORTED_KEY; /* bounded verification cost */
    EVP_PKEY *pkey = key_from_parts(type, raw);
    if (pkey == NULL) {
        const unsigned char *p = spki;
        pkey = d2i_PUBKEY(NULL, &p, (long)len);
        if (pkey != NULL && p != spki + len) {
            EVP_PKEY_free(pkey);
            pkey = NULL;
        }
    }
    if (pkey == NULL) {
        ERR_clear_error();
        return FM_ERR_KEY_DECODE;
    }
    fm_key *k = malloc(sizeof *k);
    if (k == NULL) {
        EVP_PKEY_free(pkey);
        return FM_ERR_NOMEM;
    }
    atomic_init(&k->refs, 1);
    for (size_t i = 0; i < 3; i++)
        atomic_init(&k->prep[i], NULL);
    k->type = type;
    switch (type) {
    case FM_KEY_RSA: {
        /* cost grows with the square of the modulus and with the exponent's length (one
         * modular squaring per exponent bit; 65537 has 17) */
        uint32_t r = (bits + 2047) / 2048;
        k->cost = r * r * (uint32_t)((ebits + 16) / 17);
        if (k->cost == 0)
            k->cost = 1;
        break;
    }
    case FM_KEY_EC_P256: k->cost = 4; break;
    case FM_KEY_ED25519: k->cost = 7; break;
    case FM_KEY_EC_P521: k->cost = 32; break;
    default: k->cost = 40; break; /* P-384 */
    }
    k->pkey = pkey;
    *out = k;
    return FM_OK;
}

void fm_key_ref(fm_key *k) {
    if (k)
        atomic_fetch_add_explicit(&k->refs, 1, memory_order_relaxed);
}

void fm_key_free(fm_key *k) {
    if (k == NULL)
        return;
    if (atomic_fetch_sub_explicit(&k->refs, 1, memory_order_acq_rel) == 1) {
        for (size_t i = 0; i < 3; i++)
            EVP_PKEY_CTX_free(atomic_load_explicit(&k->prep[i], memory_order_acquire));
        EVP_PKEY_free(k->pkey);
        free(k);
    }
}

int fm_key_type(const fm_key *k) { return k->type; }

uint32_t fm_key_cost(const fm_key *k) { return k->cost; }

static const EVP_MD *md_for(int hash) {
    switch (hash) {
    case FM_HASH_SHA256: return EVP_sha256();
    case FM_HASH_SHA384: return EVP_sha384();
    case FM_HASH_SHA512: return EVP_sha512();
    default: return NULL;
    }
}

#ifdef FM_HAVE_FROMDATA
/* SHA-256/384/512 fetched once for the process: OpenSSL 3 resolves EVP_sha256() & co. through
 * the provider store on every EVP_Digest call (an implicit fetch, ~0.35 us of a 1 us digest of
 * a certificate's TBS); an explicitly fetched one skips that. Made on first use; two threads may
 * both fetch: the first stored wins, the other is freed. Never freed after (process lifetime). */
static _Atomic(EVP_MD *) g_fetched_md[3];

static const EVP_MD *fetched_md(int hidx, const EVP_MD *legacy) {
    static const char *const names[3] = {"SHA2-256", "SHA2-384", "SHA2-512"};
    EVP_MD *md = atomic_load_explicit(&g_fetched_md[hidx], memory_order_acquire);
    if (md != NULL)
        return md;
    md = EVP_MD_fetch(NULL, names[hidx], NULL);
    if (md == NULL) {
        ERR_clear_error();
        return legacy;
    }
    EVP_MD *none = NULL;
    if (!atomic_compare_exchange_strong_explicit(&g_fetched_md[hidx], &none, md,
                                                 memory_order_acq_rel, memory_order_acquire)) {
        EVP_MD_free(md);
        md = none;
    }
    return md;
}
#else
static const EVP_MD *fetched_md(int hidx, const EVP_MD *legacy) {
    (void)hidx;
    return legacy;
}
#endif

/* The key's initialised context for digest `md` (slot hidx), made on first use; NULL when it
 * cannot be made (the caller then verifies the one-shot way). Two threads may both make one:
 * the first stored wins, the other is freed. */
static EVP_PKEY_CTX *prepared(const fm_key *k, int hidx, const EVP_MD *md, int rsa) {
    _Atomic(EVP_PKEY_CTX *) *slot = (_Atomic(EVP_PKEY_CTX *) *)&k->prep[hidx];
    EVP_PKEY_CTX *c = atomic_load_explicit(slot, memory_order_acquire);
    if (c != NULL)
        return c;
    c = EVP_PKEY_CTX_new(k->pkey, NULL);
    if (c == NULL || EVP_PKEY_verify_init(c) != 1 || EVP_PKEY_CTX_set_signature_md(c, md) != 1 ||
        (rsa && EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) != 1)) {
        EVP_PKEY_CTX_free(c);
        ERR_clear_error();
        return NULL;
    }
    EVP_PKEY_CTX *none = NULL;
    if (!atomic_compare_exchange_strong_explicit(slot, &none, c, memory_order_acq_rel,
                                                 memory_order_acquire)) {
        EVP_PKEY_CTX_free(c);
        c = none; /* another thread's, stored first */
    }
    return c;
}

/* RSA PKCS#1 v1.5 and ECDSA: the digest, then the signature check on a copy of the key's
 * prepared context. Returns FM_OK, FM_ERR_CERT_SIGNATURE_FAILURE, or -1 when the prepared path
 * is not available. */
static int verify_prepared(const fm_key *k, int hidx, const EVP_MD *md, int rsa,
                           const uint8_t *msg, size_t msg_len, const uint8_t *sig, size_t sig_len) {
    EVP_PKEY_CTX *base = prepared(k, hidx, md, rsa);
    if (base == NULL)
        return -1;
    unsigned char dg[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    if (EVP_Digest(msg, msg_len, dg, &dlen, fetched_md(hidx, md), NULL) != 1) {
        ERR_clear_error();
        return -1;
    }
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_dup(base);
    if (c == NULL) {
        ERR_clear_error();
        return -1;
    }
    int ok = EVP_PKEY_verify(c, sig, sig_len, dg, dlen) == 1;
    EVP_PKEY_CTX_free(c);
    if (!ok)
        ERR_clear_error();
    return ok ? FM_OK : FM_ERR_CERT_SIGNATURE_FAILURE;
}

int fm_sig_verify(const fm_key *k, int alg, const fm_pss *pss, const uint8_t *msg, size_t msg_len,
                  const uint8_t *sig, size_t sig_len) {
    const EVP_MD *md = NULL;
    int want_rsa = 0, want_ec = 0, want_ed = 0, is_pss = 0;
    switch (alg) {
    case FM_SIG_RSA_PKCS1_SHA256: md = EVP_sha256(), want_rsa = 1; break;
    case FM_SIG_RSA_PKCS1_SHA384: md = EVP_sha384(), want_rsa = 1; break;
    case FM_SIG_RSA_PKCS1_SHA512: md = EVP_sha512(), want_rsa = 1; break;
    case FM_SIG_RSA_PSS: md = md_for(pss->hash), want_rsa = 1, is_pss = 1; break;
    case FM_SIG_ECDSA_SHA256: md = EVP_sha256(), want_ec = 1; break;
    case FM_SIG_ECDSA_SHA384: md = EVP_sha384(), want_ec = 1; break;
    case FM_SIG_ECDSA_SHA512: md = EVP_sha512(), want_ec = 1; break;
    case FM_SIG_ED25519: want_ed = 1; break;
    default: return FM_ERR_UNSUPPORTED_SIGNATURE_ALGORITHM;
    }
    int t = k->type;
    int is_ec = t == FM_KEY_EC_P256 || t == FM_KEY_EC_P384 || t == FM_KEY_EC_P521;
    if ((want_rsa && t != FM_KEY_RSA) || (want_ec && !is_ec) || (want_ed && t != FM_KEY_ED25519) ||
        (!want_ed && md == NULL))
        return FM_ERR_UNSUPPORTED_SIGNATURE_ALGORITHM;
    int hidx = md == EVP_sha256() ? 0 : md == EVP_sha384() ? 1 : 2;
    if (!want_ed && !is_pss) {
        int prc = verify_prepared(k, hidx, md, want_rsa, msg, msg_len, sig, sig_len);
        if (prc != -1)
            return prc;
    }

    int rc = FM_ERR_CERT_SIGNATURE_FAILURE;
    EVP_PKEY_CTX *pctx = NULL;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL) {
        rc = FM_ERR_NOMEM;
        goto out;
    }
    if (md != NULL)
        md = fetched_md(hidx, md);
    if (EVP_DigestVerifyInit(ctx, &pctx, md, NULL, k->pkey) != 1)
        goto out;
    if (is_pss && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
                   EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) != 1 ||
                   EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, pss->salt_len) != 1))
        goto out;
    if (EVP_DigestVerify(ctx, sig, sig_len, msg, msg_len) == 1)
        rc = FM_OK;
out:
    EVP_MD_CTX_free(ctx);
    if (rc != FM_OK)
        ERR_clear_error();
    return rc;
}

int fm_sha256(const uint8_t *p, size_t len, uint8_t out[32]) {
    unsigned int n = 0;
    if (EVP_Digest(p, len, out, &n, fetched_md(0, EVP_sha256()), NULL) != 1 || n != 32) {
        ERR_clear_error();
        return FM_ERR_INTERNAL;
    }
    return FM_OK;
}

int fm_random_u64(uint64_t *out) {
    uint64_t v;
    if (RAND_bytes((unsigned char *)&v, (int)sizeof v) != 1) {
        ERR_clear_error();
        return FM_ERR_INTERNAL;
    }
    *out = v;
    return FM_OK;
}

const char *fm_crypto_version(void) { return OpenSSL_version(OPENSSL_VERSION); }
