/* fuzz_hook.c - the handshake hook's DER intake: a hostile client Certificate message, through
 * OpenSSL's own TLS 1.2 server state machine, into the hook's verify callback (fm_hook.c).
 *
 * What an attacker controls on a real server is the Certificate message. OpenSSL parses it
 * (d2i_X509 per entry) and calls the hook's cert_verify_cb, which re-encodes the parsed chain,
 * verifies it with the core and stores the result on the connection. This target drives exactly
 * that path: a server SSL over memory BIOs answers a fixed ClientHello, then receives the fuzzed
 * Certificate message in plaintext TLS 1.2 records (TLS 1.3 encrypts it; the intake code is the
 * same for both versions).
 *
 * Input format (make_corpus.py writes seeds in it from the fuzz_verify chains):
 *   byte 0     control
 *                bits 0-1  SNI: 0 none, 1 "api.example.com" (root_p256 only), 2 "x.example.org"
 *                          (root_rsa, root_ed25519), 3 "other.example.net" (no associations)
 *                bit 2     record mode (else enforce)
 *                bit 3     a certificate is required
 *                bit 4     the fixed revocation set is the verifier's current one
 *   the rest   the certificate_list: consecutive DER TLVs, one entry each; bytes that do not
 *              parse as a TLV become the last entry as they are
 * Inputs shorter than 1 byte are an empty certificate list (control 0).
 *
 * Properties checked: with a stored result the handshake failed exactly when enforce mode had a
 * failure to report, the stored DER holds one certificate per entry sent, and the result equals
 * what the core answers for that DER directly; without one OpenSSL rejected the message (or no
 * certificate came and none was required). The result outlives its connection (it is read after
 * SSL_free). Verification time is the clock (the hook has no other), so leaves made for
 * FUZZ_FIXED_TIME verify while they are valid and fail as expired afterwards: coverage drifts,
 * the properties do not. */
#define _GNU_SOURCE /* dladdr */
#include <dlfcn.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "fuzz_common.h"

#define MAX_ENTRIES 1024u
#define RECORD_MAX 16384u

static const char *const SNI[] = {NULL, "api.example.com", "x.example.org", "other.example.net"};

static fm_verifier *g_v;
static fm_revset *g_revs;
static fm_hook *g_hooks[4];       /* [record << 1 | require] */
static SSL_CTX *g_ctx[4];         /* the server contexts they are installed on */
static uint8_t *g_hello[4];       /* a TLS 1.2 ClientHello per SNI choice */
static size_t g_hello_len[4];

/* A throwaway P-256 server identity (the client never checks it). */
static void server_identity(SSL_CTX *ctx, EVP_PKEY *key) {
    X509 *x = X509_new();
    FUZZ_ASSERT(x != NULL);
    X509_NAME *n = X509_get_subject_name(x);
    FUZZ_ASSERT(X509_set_version(x, 2) == 1 &&
                ASN1_INTEGER_set(X509_get_serialNumber(x), 1) == 1 &&
                X509_gmtime_adj(X509_getm_notBefore(x), -86400) != NULL &&
                X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365) != NULL &&
                X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
                                           (const unsigned char *)"fuzz server", -1, -1, 0) == 1 &&
                X509_set_issuer_name(x, n) == 1 && X509_set_pubkey(x, key) == 1 &&
                X509_sign(x, key, EVP_sha256()) > 0);
    FUZZ_ASSERT(SSL_CTX_use_certificate(ctx, x) == 1 && SSL_CTX_use_PrivateKey(ctx, key) == 1);
    X509_free(x);
}

/* The ClientHello a TLS 1.2 client sends with `sni` (NULL: no SNI). */
static void client_hello(SSL_CTX *cctx, const char *sni, uint8_t **out, size_t *len) {
    SSL *c = SSL_new(cctx);
    BIO *r = BIO_new(BIO_s_mem()), *w = BIO_new(BIO_s_mem());
    FUZZ_ASSERT(c != NULL && r != NULL && w != NULL);
    SSL_set_bio(c, r, w);
    if (sni != NULL)
        FUZZ_ASSERT(SSL_set_tlsext_host_name(c, sni) == 1);
    int ret = SSL_connect(c);
    FUZZ_ASSERT(ret == -1 && SSL_get_error(c, ret) == SSL_ERROR_WANT_READ);
    char *p = NULL;
    long n = BIO_get_mem_data(w, &p);
    FUZZ_ASSERT(n > 0 && p != NULL);
    *out = malloc((size_t)n);
    FUZZ_ASSERT(*out != NULL);
    memcpy(*out, p, (size_t)n);
    *len = (size_t)n;
    SSL_free(c);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fm_store *store = fuzz_fixed_store();
    g_revs = fuzz_fixed_revset();
    fm_options o;
    fm_options_default(&o);
    o.result_cache_size = 64, o.sig_cache_size = 64; /* small: eviction runs too */
    FUZZ_CHECK_OK(fm_verifier_new(&o, &g_v));
    FUZZ_CHECK_OK(fm_verifier_add_intermediate(g_v, fuzz_inter_p384, sizeof fuzz_inter_p384));
    FUZZ_CHECK_OK(fm_verifier_set_store(g_v, store));
    fm_store_free(store); /* the verifier keeps its reference */

    /* the hook resolves OpenSSL from a library the process loaded: the libssl linked here */
    Dl_info info;
    void *sym;
    SSL_CTX *(*ctx_new)(const SSL_METHOD *) = SSL_CTX_new;
    memcpy(&sym, &ctx_new, sizeof sym);
    FUZZ_ASSERT(dladdr(sym, &info) != 0 && info.dli_fname != NULL);

    EVP_PKEY *key = EVP_EC_gen("P-256");
    FUZZ_ASSERT(key != NULL);
    for (uint32_t i = 0; i < 4; i++) {
        g_ctx[i] = SSL_CTX_new(TLS_server_method());
        FUZZ_ASSERT(g_ctx[i] != NULL);
        FUZZ_ASSERT(SSL_CTX_set_min_proto_version(g_ctx[i], TLS1_2_VERSION) == 1 &&
                    SSL_CTX_set_max_proto_version(g_ctx[i], TLS1_2_VERSION) == 1);
        server_identity(g_ctx[i], key);
        FUZZ_CHECK_OK(fm_hook_new(info.dli_fname, g_v, (i >> 1) ? FM_HOOK_RECORD : FM_HOOK_ENFORCE,
                                  NULL, 0, &g_hooks[i]));
        FUZZ_CHECK_OK(fm_hook_install(g_hooks[i], g_ctx[i], (int)(i & 1u)));
    }
    EVP_PKEY_free(key);

    SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
    FUZZ_ASSERT(cctx != NULL && SSL_CTX_set_max_proto_version(cctx, TLS1_2_VERSION) == 1);
    for (size_t i = 0; i < 4; i++)
        client_hello(cctx, SNI[i], &g_hello[i], &g_hello_len[i]);
    SSL_CTX_free(cctx);
    return 0;
}

/* Length of the TLV at data[0..size), or `size` when it does not parse as one. */
static size_t tlv_len(const uint8_t *data, size_t size) {
    if (size < 2 || (data[0] & 0x1f) == 0x1f)
        return size;
    size_t n = data[1], hl = 2;
    if (n & 0x80) {
        size_t k = n & 0x7f;
        if (k == 0 || k > 3 || size < 2 + k)
            return size;
        n = 0;
        for (size_t i = 0; i < k; i++)
            n = n << 8 | data[2 + i];
        hl = 2 + k;
    }
    return n <= size - hl ? hl + n : size;
}

static void put24(uint8_t *p, size_t v) {
    p[0] = (uint8_t)(v >> 16), p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)v;
}

/* Writes the Certificate message holding `list` split into entries to `bio` as TLS 1.2
 * handshake records. Returns the number of entries. */
static size_t send_certificate(BIO *bio, const uint8_t *list, size_t size) {
    size_t n = 0, off = 0, ends[MAX_ENTRIES];
    while (off < size && n < MAX_ENTRIES) {
        size_t l = n + 1 == MAX_ENTRIES ? size - off : tlv_len(list + off, size - off);
        off += l;
        ends[n++] = off;
    }
    size_t body = 3 + 3 * n + size, msg_len = 4 + body;
    uint8_t *msg = malloc(msg_len);
    FUZZ_ASSERT(msg != NULL && body < (1u << 24));
    msg[0] = 11; /* certificate */
    put24(msg + 1, body);
    put24(msg + 4, body - 3);
    uint8_t *p = msg + 7;
    for (size_t i = 0, start = 0; i < n; start = ends[i++]) {
        put24(p, ends[i] - start);
        memcpy(p + 3, list + start, ends[i] - start);
        p += 3 + ends[i] - start;
    }
    for (size_t at = 0; at < msg_len; at += RECORD_MAX) {
        size_t chunk = msg_len - at < RECORD_MAX ? msg_len - at : RECORD_MAX;
        uint8_t hdr[5] = {22, 3, 3, (uint8_t)(chunk >> 8), (uint8_t)chunk};
        FUZZ_ASSERT(BIO_write(bio, hdr, 5) == 5 && BIO_write(bio, msg + at, (int)chunk) == (int)chunk);
    }
    free(msg);
    return n;
}

/* The fields of two results that a cache must reproduce (sig_checks, steps, certs_reused and
 * the cached flag say how the answer was found). */
static int same_answer(const fm_result *a, const fm_result *b) {
    fm_result x = *a, y = *b;
    x.sig_checks = y.sig_checks = 0;
    x.steps = y.steps = 0;
    x.certs_reused = y.certs_reused = 0;
    x.flags &= ~FM_RESULT_CACHED, y.flags &= ~FM_RESULT_CACHED;
    return fm_result_equal(&x, &y);
}

/* OpenSSL takes the client's key from the leaf after the verify callback accepted the chain. */
static int leaf_key_usable(const uint8_t *der, size_t len) {
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    int ok = x != NULL && X509_get0_pubkey(x) != NULL;
    X509_free(x);
    ERR_clear_error();
    return ok;
}

static void print_result(const char *who, const fm_result *r) {
    fprintf(stderr, "%s: status %d depth %d chain_len %u flags %#x anchor_group %u validity %lld..%lld "
            "revoked depth %d reason %u at %lld presented %u\n", who, r->status, r->depth,
            r->chain_len, r->flags, r->anchor_group, (long long)r->not_before,
            (long long)r->not_after, r->revoked_depth, r->revoked_reason, (long long)r->revoked_at,
            r->n_presented);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t ctl = size ? data[0] : 0;
    const uint8_t *list = size ? data + 1 : data;
    size_t list_len = size ? size - 1 : 0;
    uint32_t sni = ctl & 3u, record = (ctl >> 2) & 1u, require = (ctl >> 3) & 1u;
    FUZZ_CHECK_OK(fm_verifier_set_revocations(g_v, (ctl & 0x10u) ? g_revs : NULL));
    fm_verifier_clear_caches(g_v);
    fm_hook *hook = g_hooks[record << 1 | require];

    SSL *s = SSL_new(g_ctx[record << 1 | require]);
    BIO *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());
    FUZZ_ASSERT(s != NULL && rb != NULL && wb != NULL);
    SSL_set_bio(s, rb, wb);
    FUZZ_ASSERT(BIO_write(rb, g_hello[sni], (int)g_hello_len[sni]) == (int)g_hello_len[sni]);
    int ret = SSL_accept(s);
    FUZZ_ASSERT(ret == -1 && SSL_get_error(s, ret) == SSL_ERROR_WANT_READ);
    (void)BIO_reset(wb); /* the server's flight: nobody reads it */

    size_t entries = send_certificate(rb, list, list_len);
    int64_t t0 = (int64_t)time(NULL);
    ret = SSL_accept(s);
    int err = SSL_get_error(s, ret);
    int64_t t1 = (int64_t)time(NULL);
    unsigned long ossl_err = ERR_peek_error();
    ERR_clear_error();
    FUZZ_ASSERT(ret == -1 && (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_SSL));

    fm_result r;
    fm_store *store = NULL;
    const uint8_t *der = NULL;
    size_t der_len = 0;
    int resumed = 1;
    void *handle = NULL;
    int have = fm_hook_result(hook, s, &r, &store, &der, &der_len, &resumed, &handle);
    FUZZ_ASSERT(have >= 0); /* the server read the client's flight: started */
    SSL_free(s); /* the result must outlive the connection */
    FUZZ_ASSERT(resumed == 0);
    if (!have) {
        FUZZ_ASSERT(handle == NULL && r.status == FM_ERR_NO_CERTIFICATE);
        /* OpenSSL refused the message, or nothing came: the handshake goes on only when no
         * certificate was sent and none is required */
        FUZZ_ASSERT(err == ((entries == 0 && !require) ? SSL_ERROR_WANT_READ : SSL_ERROR_SSL));
        return 0;
    }
    FUZZ_ASSERT(handle != NULL && store != NULL && der != NULL && entries > 0);
    fuzz_check_result(&r, der_len, t0, t1);
    /* one certificate per entry, re-encoded by OpenSSL */
    size_t offs[MAX_ENTRIES], lens[MAX_ENTRIES], n = 0;
    FUZZ_ASSERT(fm_chain_split(der, der_len, offs, lens, MAX_ENTRIES, &n) == FM_OK);
    FUZZ_ASSERT(n == entries);

    /* the handshake stops exactly when enforce mode has a failure to report, or when OpenSSL
     * cannot use the leaf's key (it checks that after the verify callback, in both modes) */
    int failure = r.status != FM_OK || (r.flags & FM_RESULT_REVOKED);
    int expected = (failure && !record) || !leaf_key_usable(der, lens[0]) ? SSL_ERROR_SSL
                                                                          : SSL_ERROR_WANT_READ;
    if (err != expected) {
        print_result("hook", &r);
        fprintf(stderr, "control %#x: SSL error %d, OpenSSL says %s\n", ctl, err,
                ERR_reason_error_string(ossl_err));
        FUZZ_ASSERT(err == expected);
    }

    /* the stored answer is the core's answer for those bytes (from its cache, now) */
    fm_result again;
    fm_store *used = NULL;
    const char *host = SNI[sni];
    fm_verify_current(g_v, der, der_len, (const uint8_t *)host, host ? strlen(host) : 0,
                      FM_TIME_NOW, &again, &used);
    FUZZ_ASSERT(used == store);
    fm_store_free(used);
    if ((int64_t)time(NULL) == t0 && !same_answer(&r, &again)) { /* same clock, same answer */
        print_result("hook", &r);
        print_result("core", &again);
        FUZZ_ASSERT(same_answer(&r, &again));
    }
    fm_hook_result_release(handle);
    return 0;
}
