/* fm_crypto.c - the one translation unit that includes OpenSSL. Signature primitives and digests
 * only; the error queue is drained on every failure path. */
#include "fm_crypto.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdatomic.h>
#include <stdlib.h>

#if OPENSSL_VERSION_NUMBER < 0x10101000L
#error "fastmtls needs OpenSSL 1.1.1 or newer"
#endif

struct fm_key {
    atomic_int refs;
    int type; /* enum fm_key_type */
    EVP_PKEY *pkey;
};

int fm_key_new(const uint8_t *spki, size_t len, fm_key **out) {
    int type;
    uint32_t bits;
    *out = NULL;
    if (spki == NULL || len == 0 || len > 0x7FFFFFFF)
        return FM_ERR_INVALID_ARGUMENT;
    /* Our own parser decides the key type (rejecting what we do not support) before OpenSSL sees
     * the bytes. */
    if (fm_spki_parse(spki, len, &type, &bits) != FM_OK)
        return FM_ERR_KEY_DECODE;
    if (type != FM_KEY_RSA && type != FM_KEY_EC_P256 && type != FM_KEY_EC_P384 &&
        type != FM_KEY_EC_P521 && type != FM_KEY_ED25519)
        return FM_ERR_UNSUPPORTED_KEY;
    const unsigned char *p = spki;
    EVP_PKEY *pkey = d2i_PUBKEY(NULL, &p, (long)len);
    if (pkey == NULL || p != spki + len) {
        EVP_PKEY_free(pkey);
        ERR_clear_error();
        return FM_ERR_KEY_DECODE;
    }
    fm_key *k = malloc(sizeof *k);
    if (k == NULL) {
        EVP_PKEY_free(pkey);
        return FM_ERR_NOMEM;
    }
    atomic_init(&k->refs, 1);
    k->type = type;
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
        EVP_PKEY_free(k->pkey);
        free(k);
    }
}

int fm_key_type(const fm_key *k) { return k->type; }

static const EVP_MD *md_for(int hash) {
    switch (hash) {
    case FM_HASH_SHA256: return EVP_sha256();
    case FM_HASH_SHA384: return EVP_sha384();
    case FM_HASH_SHA512: return EVP_sha512();
    default: return NULL;
    }
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

    int rc = FM_ERR_CERT_SIGNATURE_FAILURE;
    EVP_PKEY_CTX *pctx = NULL;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL) {
        rc = FM_ERR_NOMEM;
        goto out;
    }
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
    if (EVP_Digest(p, len, out, &n, EVP_sha256(), NULL) != 1 || n != 32) {
        ERR_clear_error();
        return FM_ERR_INTERNAL;
    }
    return FM_OK;
}

const char *fm_crypto_version(void) { return OpenSSL_version(OPENSSL_VERSION); }
