/* test_pki.h - shared by the threaded C tests (test_stress.c, test_hook_stress.c): pass/fail
 * counters that threads may bump, and a small P-256 PKI made with OpenSSL at start-up.
 * Define TEST_NAME (the program's name in messages) before including it. */
#ifndef FM_TEST_PKI_H
#define FM_TEST_PKI_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#ifndef TEST_NAME
#error "define TEST_NAME before including test_pki.h"
#endif

#define MAX_REPORTS 10 /* failures printed; all are counted */

static atomic_int n_passed;
static atomic_int n_failed;
static atomic_int n_reported;

static inline void check_at(int ok, const char *what, const char *file, int line) {
    if (ok) {
        atomic_fetch_add(&n_passed, 1);
        return;
    }
    atomic_fetch_add(&n_failed, 1);
    if (atomic_fetch_add(&n_reported, 1) < MAX_REPORTS)
        fprintf(stderr, "%s:%d: FAILED: %s\n", file, line, what);
}

#define CHECK(cond) check_at((cond) ? 1 : 0, #cond, __FILE__, __LINE__)

static inline void die(const char *what) {
    fprintf(stderr, "%s: %s\n", TEST_NAME, what);
    exit(2);
}

/* ---- a generated PKI --------------------------------------------------------------------- */

typedef struct der {
    uint8_t *p;
    size_t len;
} der;

static inline EVP_PKEY *p256_key(void) {
    EVP_PKEY *key = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL);
    if (ctx == NULL || EVP_PKEY_keygen_init(ctx) <= 0 ||
        EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx, NID_X9_62_prime256v1) <= 0 ||
        EVP_PKEY_keygen(ctx, &key) <= 0)
        die("P-256 key generation failed");
    EVP_PKEY_CTX_free(ctx);
    return key;
}

static inline void add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value) {
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    if (ext == NULL || !X509_add_ext(x, ext, -1))
        die("adding an extension failed");
    X509_EXTENSION_free(ext);
}

/* A v3 certificate valid 2020-01-01 .. 2049-12-31 (the core vectors' window), signed by
 * issuer/issuer_key (self-signed when issuer is NULL). */
static inline X509 *make_cert(EVP_PKEY *key, const char *cn, long serial, int is_ca, X509 *issuer,
                       EVP_PKEY *issuer_key) {
    X509 *x = X509_new();
    if (x == NULL || !X509_set_version(x, 2) || !ASN1_INTEGER_set(X509_get_serialNumber(x), serial))
        die("X509_new failed");
    X509_NAME *name = X509_get_subject_name(x);
    if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0))
        die("subject name failed");
    if (!X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) ||
        !ASN1_TIME_set(X509_getm_notBefore(x), (time_t)1577836800) ||
        !ASN1_TIME_set(X509_getm_notAfter(x), (time_t)2524607999) || !X509_set_pubkey(x, key))
        die("certificate fields failed");
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    add_ext(x, &ctx, NID_basic_constraints, is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
    add_ext(x, &ctx, NID_key_usage, is_ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
    add_ext(x, &ctx, NID_subject_key_identifier, "hash");
    if (issuer != NULL)
        add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always");
    if (!is_ca) {
        add_ext(x, &ctx, NID_ext_key_usage, "clientAuth");
        add_ext(x, &ctx, NID_subject_alt_name, "DNS:client.example.com");
    }
    if (X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) <= 0)
        die("X509_sign failed");
    return x;
}

static inline der der_of(X509 *x) {
    unsigned char *buf = NULL;
    int n = i2d_X509(x, &buf);
    if (n <= 0)
        die("i2d_X509 failed");
    der d = {malloc((size_t)n), (size_t)n};
    if (d.p == NULL)
        die("out of memory");
    memcpy(d.p, buf, (size_t)n);
    OPENSSL_free(buf);
    return d;
}


#endif /* FM_TEST_PKI_H */
