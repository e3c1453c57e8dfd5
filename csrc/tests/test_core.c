/*
 * test_core.c - exercises the public C API (csrc/include/fastmtls.h) without Python.
 *
 * Covers: the status table, default options, stores (anchors, NOT_A_CA, sealing), verification
 * (good, cached, tampered, expired, empty, truncated, no anchor, invalid arguments), revocation
 * sets (default / chain / strict; a 300k-entry set saved and loaded), and 4 threads x 1000 verifications sharing one verifier.
 *
 * Vectors: csrc/tests/core_vectors.h (root, intermediate, leaf; regenerate with
 * csrc/tests/gen_core_vectors.py). Build and run (what .ci/run does):
 *
 *   gcc -std=c11 -Wall -Wextra -Werror -pedantic -O1 -g -fsanitize=address,undefined \
 *       -Icsrc -Icsrc/include csrc/fm_*.c csrc/tests/test_core.c -lcrypto -lpthread \
 *       -o /tmp/test_core && /tmp/test_core
 *
 * Prints one line per check group and ends with "N passed, N failed"; exits non-zero on failure.
 */
#define _POSIX_C_SOURCE 200809L /* mkstemp under -std=c11 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "include/fastmtls.h"

#include "core_vectors.h"

#define N_THREADS 4
#define N_ITERATIONS 1000
#define ANCHOR_GROUP 7u

static int n_passed;
static int n_failed;

static void check_at(int ok, const char *what, const char *file, int line) {
    if (ok) {
        n_passed++;
    } else {
        n_failed++;
        fprintf(stderr, "%s:%d: FAILED: %s\n", file, line, what);
    }
}

#define CHECK(cond) check_at((cond) ? 1 : 0, #cond, __FILE__, __LINE__)

static const char *name_of(int status) {
    const char *n = fm_status_name(status);
    return n != NULL ? n : "(unknown status)";
}

static void check_status_at(int got, int want, const char *what, const char *file, int line) {
    if (got == want) {
        n_passed++;
        return;
    }
    n_failed++;
    fprintf(stderr, "%s:%d: FAILED: %s: got %s (%d), want %s (%d)\n", file, line, what,
            name_of(got), got, name_of(want), want);
}

#define CHECK_STATUS(got, want, what) check_status_at((got), (want), (what), __FILE__, __LINE__)

/* ---- fixtures ---------------------------------------------------------------------------- */

typedef struct buffer {
    uint8_t *p;
    size_t len;
} buffer;

static buffer concat2(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen) {
    buffer out;
    out.len = alen + blen;
    out.p = malloc(out.len);
    if (out.p == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    memcpy(out.p, a, alen);
    if (blen)
        memcpy(out.p + alen, b, blen);
    return out;
}

/* leaf + intermediate, as a client presents them */
static buffer good_chain(void) {
    return concat2(core_leaf_der, sizeof core_leaf_der, core_inter_der, sizeof core_inter_der);
}

/* the same chain with one bit of the leaf's signature flipped (the signature BIT STRING is the
 * last element of the certificate, so the leaf's last byte belongs to it) */
static buffer tampered_chain(void) {
    buffer b = good_chain();
    b.p[sizeof core_leaf_der - 1] ^= 0x01;
    return b;
}

static int verify(fm_verifier *v, fm_store *s, const buffer *chain, int64_t at, fm_result *out) {
    return fm_verify(v, s, NULL, chain->p, chain->len, NULL, 0, at, FM_NAME_NONE, NULL, 0, out);
}

/* Fields that must not depend on caching or on the thread (flags, sig_checks and steps may). */
static int same_result(const fm_result *a, const fm_result *b) {
    if (a->status != b->status || a->depth != b->depth || a->chain_len != b->chain_len)
        return 0;
    if (a->status != FM_OK)
        return 1;
    if (a->anchor_group != b->anchor_group || a->not_before != b->not_before ||
        a->not_after != b->not_after)
        return 0;
    for (uint32_t i = 0; i < a->chain_len && i < FM_MAX_DEPTH_LIMIT + 2; i++)
        if (a->chain_src[i] != b->chain_src[i] || a->chain_idx[i] != b->chain_idx[i])
            return 0;
    return 1;
}

/* ---- tests ------------------------------------------------------------------------------- */

static void test_status_table(void) {
    size_t n = fm_status_values(NULL, 0);
    CHECK(n > 0);
    int *values = calloc(n > 0 ? n : 1, sizeof *values);
    if (values == NULL)
        exit(2);
    CHECK(fm_status_values(values, n) == n);
    int saw_ok = 0;
    for (size_t i = 0; i < n; i++) {
        const char *msg = fm_status_message(values[i]);
        const char *name = fm_status_name(values[i]);
        CHECK(msg != NULL && msg[0] != '\0');
        CHECK(msg != NULL && strcmp(msg, fm_status_message(-12345)) != 0);
        CHECK(name != NULL && strncmp(name, "FM_", 3) == 0);
        for (size_t j = 0; j < i; j++)
            CHECK(values[j] != values[i]);
        saw_ok |= values[i] == FM_OK;
    }
    CHECK(saw_ok);
    CHECK(fm_status_message(-12345) != NULL);
    CHECK(fm_status_name(-12345) == NULL);
    CHECK(strcmp(fm_status_name(FM_ERR_CERT_HAS_EXPIRED), "FM_ERR_CERT_HAS_EXPIRED") == 0);
    free(values);
    printf("status table: %zu values\n", n);
}

static void test_options_default(void) {
    fm_options o;
    memset(&o, 0xab, sizeof o);
    fm_options_default(&o);
    CHECK(o.limits.max_cert_size == FM_DEFAULT_MAX_CERT_SIZE);
    CHECK(o.limits.max_chain_certs == FM_DEFAULT_MAX_CHAIN_CERTS);
    CHECK(o.limits.max_input_size == FM_DEFAULT_MAX_INPUT_SIZE);
    CHECK(o.limits.max_depth == FM_DEFAULT_MAX_DEPTH);
    CHECK(o.limits.max_sig_checks == FM_DEFAULT_MAX_SIG_CHECKS);
    CHECK(o.limits.max_steps == FM_DEFAULT_MAX_STEPS);
    CHECK(o.purpose == FM_PURPOSE_CLIENT);
    CHECK(o.flags == 0);
    printf("options: defaults\n");
}

static void test_free_null(void) {
    fm_store_free(NULL);
    fm_verifier_free(NULL);
    printf("free(NULL): no-op\n");
}

static fm_store *make_store(void) {
    fm_store *s = NULL;
    CHECK_STATUS(fm_store_new(&s), FM_OK, "fm_store_new");
    if (s == NULL)
        exit(2);
    CHECK_STATUS(fm_store_add_anchor(s, core_root_der, sizeof core_root_der, ANCHOR_GROUP), FM_OK,
                 "add root anchor");
    /* not anchors: a leaf (basicConstraints cA=FALSE) and a truncated certificate */
    CHECK_STATUS(fm_store_add_anchor(s, core_leaf_der, sizeof core_leaf_der, 1), FM_ERR_NOT_A_CA,
                 "add leaf as anchor");
    CHECK(fm_store_add_anchor(s, core_root_der, sizeof core_root_der - 7, 1) != FM_OK);
    CHECK(fm_store_anchor_count(s) == 1);
    return s;
}

static fm_verifier *make_verifier(int caches) {
    fm_options o;
    fm_options_default(&o);
    if (!caches)
        o.result_cache_size = o.sig_cache_size = 0;
    fm_verifier *v = NULL;
    CHECK_STATUS(fm_verifier_new(&o, &v), FM_OK, "fm_verifier_new");
    if (v == NULL)
        exit(2);
    return v;
}

static void test_verify(int caches) {
    fm_store *s = make_store();
    fm_verifier *v = make_verifier(caches);
    buffer good = good_chain();
    buffer bad = tampered_chain();
    fm_result r;

    /* a good chain: leaf, intermediate (presented), root (anchor) */
    CHECK_STATUS(verify(v, s, &good, CORE_VECTOR_AT, &r), FM_OK, "good chain");
    CHECK_STATUS(r.status, FM_OK, "good chain: result status");
    CHECK(r.chain_len == 3);
    CHECK(r.chain_src[0] == FM_SRC_PRESENTED && r.chain_idx[0] == 0);
    CHECK(r.chain_src[1] == FM_SRC_PRESENTED && r.chain_idx[1] == 1);
    CHECK(r.chain_src[2] == FM_SRC_ANCHOR && r.chain_idx[2] == 0);
    CHECK(r.anchor_group == ANCHOR_GROUP);
    CHECK(r.not_before <= CORE_VECTOR_AT && CORE_VECTOR_AT <= r.not_after);
    CHECK((r.flags & FM_RESULT_CACHED) == 0);
    CHECK(r.sig_checks >= 1);

    /* again: same answer; from the result cache when caches are on */
    fm_result again;
    CHECK_STATUS(verify(v, s, &good, CORE_VECTOR_AT, &again), FM_OK, "good chain again");
    CHECK(same_result(&r, &again));
    CHECK(((again.flags & FM_RESULT_CACHED) != 0) == (caches != 0));

    /* the adding of anchors ends with the first verification */
    CHECK_STATUS(fm_store_add_anchor(s, core_root_der, sizeof core_root_der, 1), FM_ERR_SEALED,
                 "add anchor to a store in use");

    /* tampered leaf signature */
    CHECK_STATUS(verify(v, s, &bad, CORE_VECTOR_AT, &r), FM_ERR_CERT_SIGNATURE_FAILURE,
                 "tampered leaf");
    CHECK(r.depth == 0);

    /* expired (every certificate) */
    CHECK_STATUS(verify(v, s, &good, CORE_VECTOR_EXPIRED_AT, &r), FM_ERR_CERT_HAS_EXPIRED,
                 "expired chain");

    /* no certificate */
    buffer empty = {NULL, 0};
    CHECK_STATUS(verify(v, s, &empty, CORE_VECTOR_AT, &r), FM_ERR_NO_CERTIFICATE, "empty chain");
    empty.p = good.p; /* a pointer with length 0 is no certificate too */
    CHECK_STATUS(verify(v, s, &empty, CORE_VECTOR_AT, &r), FM_ERR_NO_CERTIFICATE,
                 "zero-length chain");

    /* truncated input: the leaf without its last 10 bytes */
    buffer cut = concat2(core_leaf_der, sizeof core_leaf_der - 10, NULL, 0);
    CHECK_STATUS(verify(v, s, &cut, CORE_VECTOR_AT, &r), FM_ERR_MALFORMED_CERT, "truncated leaf");
    /* one byte: a tag without a length */
    cut.len = 1;
    CHECK_STATUS(verify(v, s, &cut, CORE_VECTOR_AT, &r), FM_ERR_MALFORMED_CERT, "one byte");

    /* no anchor for it: the intermediate's issuer is unknown to an empty store */
    fm_store *empty_store = NULL;
    CHECK_STATUS(fm_store_new(&empty_store), FM_OK, "fm_store_new (empty)");
    CHECK(verify(v, empty_store, &good, CORE_VECTOR_AT, &r) != FM_OK);
    CHECK_STATUS(r.status, FM_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, "no anchor");

    /* invalid arguments */
    CHECK_STATUS(fm_verify(v, s, NULL, NULL, 5, NULL, 0, CORE_VECTOR_AT, FM_NAME_NONE, NULL, 0,
                           &r),
                 FM_ERR_INVALID_ARGUMENT, "NULL chain with a length");
    CHECK_STATUS(fm_verify(v, s, NULL, good.p, good.len, NULL, 0, CORE_VECTOR_AT, FM_NAME_NONE,
                           NULL, 0, NULL),
                 FM_ERR_INVALID_ARGUMENT, "NULL result");
    /* fm_verify_chain is fm_verify without host and expected name */
    CHECK_STATUS(fm_verify_chain(v, s, NULL, good.p, good.len, CORE_VECTOR_AT, &r), FM_OK,
                 "fm_verify_chain");
    CHECK(r.chain_len == 3 && r.anchor_group == ANCHOR_GROUP);

    /* fm_verify_again: 1 (out untouched) when the answer equals *prev, else 0 and *out written */
    {
        fm_result prev, out, sentinel;
        memset(&sentinel, 0xA5, sizeof sentinel);
        out = sentinel;
        CHECK_STATUS(fm_verify_again(v, s, NULL, good.p, good.len, NULL, 0, CORE_VECTOR_AT, NULL,
                                     &out),
                     0, "fm_verify_again without prev writes out");
        CHECK(out.status == FM_OK && out.chain_len == 3);
        prev = out;
        CHECK(fm_result_equal(&prev, &out));
        out = sentinel;
        CHECK_STATUS(fm_verify_again(v, s, NULL, good.p, good.len, NULL, 0, CORE_VECTOR_AT,
                                     &prev, &out),
                     1, "fm_verify_again: same answer");
        CHECK(memcmp(&out, &sentinel, sizeof out) == 0); /* not written */
        CHECK_STATUS(fm_verify_again(v, s, NULL, bad.p, bad.len, NULL, 0, CORE_VECTOR_AT, &prev,
                                     &out),
                     0, "fm_verify_again: another answer");
        CHECK(out.status != FM_OK && !fm_result_equal(&prev, &out));
        CHECK_STATUS(fm_verify_again(v, s, NULL, good.p, good.len, NULL, 0, CORE_VECTOR_AT,
                                     &prev, NULL),
                     FM_ERR_INVALID_ARGUMENT, "fm_verify_again: NULL out");
        /* every field takes part in the comparison; chain positions only up to chain_len */
        fm_result a = prev, b = prev;
        b.chain_idx[a.chain_len] ^= 1;
        b.chain_src[a.chain_len + 1] ^= 1;
        CHECK(fm_result_equal(&a, &b));
        b = prev, b.chain_idx[a.chain_len - 1] ^= 1;
        CHECK(!fm_result_equal(&a, &b));
        b = prev, b.chain_src[0] ^= 1;
        CHECK(!fm_result_equal(&a, &b));
        b = prev, b.flags ^= FM_RESULT_REVOKED;
        CHECK(!fm_result_equal(&a, &b));
        b = prev, b.not_after += 1;
        CHECK(!fm_result_equal(&a, &b));
        b = prev, b.revoked_at += 1;
        CHECK(!fm_result_equal(&a, &b));
        b = prev, b.n_presented += 1;
        CHECK(!fm_result_equal(&a, &b));
    }

    free(cut.p);
    free(good.p);
    free(bad.p);
    fm_store_free(empty_store);
    fm_verifier_free(v);
    fm_store_free(s);
    printf("verify (caches %s): good, cached, tampered, expired, empty, truncated, no anchor\n",
           caches ? "on" : "off");
}

/* ---- certificate information ------------------------------------------------------------ */

/* fm_cert_info_get keeps the identity fields a rejected certificate validated before its flaw,
 * and none of those it did not reach. */
static void test_cert_info_located(void) {
    fm_cert_info info;
    CHECK_STATUS(fm_cert_info_get(core_leaf_der, sizeof core_leaf_der, &info), FM_OK, "full");
    CHECK(info.located == FM_INFO_ALL && info.subject_len > 2 && info.spki_len > 0);

    /* a truncated certificate (its last byte dropped: the outer SEQUENCE no longer fits) is
     * refused before any field is read: nothing is located */
    CHECK(fm_cert_info_get(core_leaf_der, sizeof core_leaf_der - 1, &info) != FM_OK);
    CHECK(info.located == 0 && info.subject_len == 0 && info.serial_len == 0);

    /* the outer signatureAlgorithm changed (one byte of its OID): the certificate is refused
     * for the mismatch, and serial, names and validity are all located */
    unsigned char copy[sizeof core_leaf_der];
    memcpy(copy, core_leaf_der, sizeof copy);
    size_t n = sizeof copy, alg = 0;
    /* the outer AlgorithmIdentifier's OID: the last 06 xx 2a 86 48 (an ANSI X9.62 or PKCS
     * OID), scanning back from the signature BIT STRING at the end */
    for (size_t i = n - 8; i > 0 && !alg; i--)
        if (copy[i] == 0x06 && copy[i + 2] == 0x2a && copy[i + 3] == 0x86 && copy[i + 4] == 0x48)
            alg = i;
    CHECK(alg != 0);
    copy[alg + 1 + copy[alg + 1]] ^= 0x01; /* the OID's last octet */
    CHECK_STATUS(fm_cert_info_get(copy, n, &info), FM_ERR_CERT_SIGNATURE_FAILURE, "mismatch");
    CHECK(info.located == FM_INFO_ALL && info.subject_len > 2 && info.serial_len > 0);
    CHECK(info.not_after > info.not_before && info.spki_len == 0);
    printf("cert info: located fields of full, truncated and mismatched certificates\n");
}

/* ---- revocation -------------------------------------------------------------------------- */

#define REVOKED_REASON 1u          /* keyCompromise */
#define REVOKED_AT 1767225600LL    /* 2026-01-01 */

/* A revocation set holding one explicit entry: `cert`'s serial, revoked by the CA `ca`. */
static fm_revset *revset_of(const unsigned char *cert, size_t cert_len, const unsigned char *ca,
                            size_t ca_len) {
    fm_cert_info info;
    CHECK_STATUS(fm_cert_info_get(cert, cert_len, &info), FM_OK, "fm_cert_info_get");
    fm_revbuild *b = NULL;
    CHECK_STATUS(fm_revbuild_new(&b), FM_OK, "fm_revbuild_new");
    CHECK_STATUS(fm_revbuild_add_entry(b, ca, ca_len, cert + info.serial_off, info.serial_len,
                                       REVOKED_REASON, REVOKED_AT),
                 FM_OK, "fm_revbuild_add_entry");
    fm_revset *revs = NULL;
    CHECK_STATUS(fm_revbuild_finish(b, &revs), FM_OK, "fm_revbuild_finish");
    if (revs == NULL)
        exit(2);
    CHECK(fm_revset_count(revs) == 1);
    return revs;
}

static void test_revocation(void) {
    fm_store *s = make_store();
    buffer good = good_chain();
    fm_revset *leaf_revoked =
        revset_of(core_leaf_der, sizeof core_leaf_der, core_inter_der, sizeof core_inter_der);
    fm_revset *inter_revoked =
        revset_of(core_inter_der, sizeof core_inter_der, core_root_der, sizeof core_root_der);
    fm_result r;

    /* default (Cloudflare): a revoked chain is verified, and flagged as revoked */
    fm_verifier *v = make_verifier(1);
    CHECK_STATUS(fm_verify_chain(v, s, leaf_revoked, good.p, good.len, CORE_VECTOR_AT, &r), FM_OK,
                 "revoked leaf (default)");
    CHECK((r.flags & FM_RESULT_REVOKED) != 0);
    CHECK(r.revoked_depth == 0);
    CHECK(r.revoked_reason == REVOKED_REASON);
    CHECK(r.revoked_at == REVOKED_AT);
    /* the same chain without the revocation set: not revoked (no stale cached answer) */
    CHECK_STATUS(fm_verify_chain(v, s, NULL, good.p, good.len, CORE_VECTOR_AT, &r), FM_OK,
                 "no revocation set");
    CHECK((r.flags & FM_RESULT_REVOKED) == 0 && r.revoked_depth == -1);
    /* only the leaf is checked by default: a revoked intermediate is not seen */
    CHECK_STATUS(fm_verify_chain(v, s, inter_revoked, good.p, good.len, CORE_VECTOR_AT, &r), FM_OK,
                 "revoked intermediate (leaf-only checking)");
    CHECK((r.flags & FM_RESULT_REVOKED) == 0);
    fm_verifier_free(v);

    /* FM_OPT_REV_CHAIN: every certificate below the anchor */
    fm_options o;
    fm_options_default(&o);
    o.flags = FM_OPT_REV_CHAIN;
    CHECK_STATUS(fm_verifier_new(&o, &v), FM_OK, "fm_verifier_new (chain revocation)");
    CHECK_STATUS(fm_verify_chain(v, s, inter_revoked, good.p, good.len, CORE_VECTOR_AT, &r), FM_OK,
                 "revoked intermediate (chain checking)");
    CHECK((r.flags & FM_RESULT_REVOKED) != 0 && r.revoked_depth == 1);
    fm_verifier_free(v);

    /* FM_OPT_REV_STRICT: a revoked chain fails */
    fm_options_default(&o);
    o.flags = FM_OPT_REV_STRICT;
    CHECK_STATUS(fm_verifier_new(&o, &v), FM_OK, "fm_verifier_new (strict revocation)");
    CHECK_STATUS(fm_verify_chain(v, s, leaf_revoked, good.p, good.len, CORE_VECTOR_AT, &r),
                 FM_ERR_CERT_REVOKED, "revoked leaf (strict)");
    CHECK(r.depth == 0);
    fm_verifier_free(v);

    fm_revset_free(leaf_revoked);
    fm_revset_free(inter_revoked);
    fm_revset_free(NULL);
    free(good.p);
    fm_store_free(s);
    printf("revocation: flagged by default, chain checking, strict\n");
}

/* The set saved to a temporary file (its checksum computed) and memory-mapped back. */
static fm_revset *save_and_load(const fm_revset *s) {
    char path[] = "/tmp/fastmtls-test-core-123456";
    memset(path + sizeof path - 7, 'X', 6); /* mkstemp's template: six trailing 'X' */
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd >= 0)
        close(fd);
    fm_revset *loaded = NULL;
    CHECK_STATUS(fm_revset_save(s, path), FM_OK, "fm_revset_save");
    CHECK_STATUS(fm_revset_load(path, &loaded), FM_OK, "fm_revset_load");
    remove(path);
    if (loaded == NULL)
        exit(2);
    return loaded;
}

/* A set large enough for its own (huge-page) mapping: built from 300,000 explicit entries,
 * looked up, saved (checksum computed at save) and opened again with the same answers. */
static void test_large_revset(void) {
    enum { N = 300000 };
    fm_cert_info ca;
    CHECK_STATUS(fm_cert_info_get(core_inter_der, sizeof core_inter_der, &ca), FM_OK,
                 "fm_cert_info_get");
    fm_revbuild *b = NULL;
    CHECK_STATUS(fm_revbuild_new(&b), FM_OK, "fm_revbuild_new");
    uint8_t serial[16];
    for (uint32_t i = 0; i < N; i++) {
        memset(serial, 0x5A, sizeof serial);
        serial[0] = 0x11, serial[12] = (uint8_t)(i >> 24), serial[13] = (uint8_t)(i >> 16);
        serial[14] = (uint8_t)(i >> 8), serial[15] = (uint8_t)i;
        if (fm_revbuild_add_entry(b, core_inter_der, sizeof core_inter_der, serial, sizeof serial,
                                  1, REVOKED_AT) != FM_OK) {
            CHECK(0);
            break;
        }
    }
    fm_revset *built = NULL;
    CHECK_STATUS(fm_revbuild_finish(b, &built), FM_OK, "fm_revbuild_finish (300k)");
    if (built == NULL)
        exit(2);
    CHECK(fm_revset_count(built) == N);
    CHECK(fm_revset_memory(built) > ((size_t)4 << 20));
    fm_revset *loaded = save_and_load(built);
    const uint8_t *name = core_inter_der + ca.subject_off, *spki = core_inter_der + ca.spki_off;
    for (uint32_t i = 0; i < N + 1000; i += 7) {
        memset(serial, 0x5A, sizeof serial);
        serial[0] = 0x11, serial[12] = (uint8_t)(i >> 24), serial[13] = (uint8_t)(i >> 16);
        serial[14] = (uint8_t)(i >> 8), serial[15] = (uint8_t)i;
        fm_revocation r1, r2;
        int want = i < N;
        int got1 = fm_revset_lookup(built, name, ca.subject_len, spki, ca.spki_len, serial,
                                    sizeof serial, &r1);
        int got2 = fm_revset_lookup(loaded, name, ca.subject_len, spki, ca.spki_len, serial,
                                    sizeof serial, &r2);
        if (got1 != want || got2 != want || (want && (r1.reason != 1 || r2.date != REVOKED_AT))) {
            CHECK(0);
            break;
        }
    }
    fm_revset_free(built);
    fm_revset_free(loaded);
    printf("large revocation set: built, looked up, saved, loaded\n");
}

/* A minimal positive INTEGER content of `len` octets (1..64), distinct per (len, i < 127). */
static size_t length_serial(uint8_t *p, size_t len, uint32_t i) {
    for (size_t k = 0; k < len; k++)
        p[k] = (uint8_t)(0x33 + 7 * k);
    p[0] = (uint8_t)(len == 1 ? 1 + i : 1 + len); /* non-zero, top bit clear */
    p[len - 1] = len == 1 ? p[0] : (uint8_t)i;
    return len;
}

/* Serials of every length the parsers accept (1..64 octets), a few per length: each found with
 * its own reason and date, before and after a save and load; the same octets one longer or
 * shorter, or with another last octet, are not revoked. */
static void test_serial_lengths(void) {
    enum { PER_LEN = 3, MAX_LEN = 64 };
    fm_cert_info ca;
    CHECK_STATUS(fm_cert_info_get(core_inter_der, sizeof core_inter_der, &ca), FM_OK,
                 "fm_cert_info_get");
    const uint8_t *name = core_inter_der + ca.subject_off, *spki = core_inter_der + ca.spki_off;
    fm_revbuild *b = NULL;
    CHECK_STATUS(fm_revbuild_new(&b), FM_OK, "fm_revbuild_new");
    uint8_t ser[MAX_LEN + 1];
    for (size_t len = 1; len <= MAX_LEN; len++)
        for (uint32_t i = 1; i <= PER_LEN; i++)
            CHECK_STATUS(fm_revbuild_add_entry(b, core_inter_der, sizeof core_inter_der, ser,
                                               length_serial(ser, len, i), i, REVOKED_AT + len),
                         FM_OK, "fm_revbuild_add_entry");
    fm_revset *built = NULL;
    CHECK_STATUS(fm_revbuild_finish(b, &built), FM_OK, "fm_revbuild_finish");
    if (built == NULL)
        exit(2);
    CHECK(fm_revset_count(built) == MAX_LEN * PER_LEN);
    fm_revset *loaded = save_and_load(built);
    const fm_revset *sets[2] = {built, loaded};
    for (int k = 0; k < 2; k++)
        for (size_t len = 1; len <= MAX_LEN; len++)
            for (uint32_t i = 1; i <= PER_LEN; i++) {
                fm_revocation r = {0, 0};
                length_serial(ser, len, i);
                CHECK(fm_revset_lookup(sets[k], name, ca.subject_len, spki, ca.spki_len, ser,
                                       len, &r) == 1 &&
                      r.reason == i && r.date == REVOKED_AT + (int64_t)len);
                ser[len] = 0x00; /* one octet longer */
                CHECK(fm_revset_lookup(sets[k], name, ca.subject_len, spki, ca.spki_len, ser,
                                       len + 1, NULL) == 0);
                if (len > 2) /* one shorter (a one-octet prefix may be another entry) */
                    CHECK(fm_revset_lookup(sets[k], name, ca.subject_len, spki, ca.spki_len, ser,
                                           len - 1, NULL) == 0);
                ser[len - 1] ^= 0x40; /* another last octet */
                CHECK(len == 1 || fm_revset_lookup(sets[k], name, ca.subject_len, spki,
                                                   ca.spki_len, ser, len, NULL) == 0);
            }
    fm_revset_free(loaded);
    fm_revset_free(built);
    printf("revocation set: serials of 1..64 octets\n");
}

/* ---- threads ----------------------------------------------------------------------------- */

typedef struct thread_job {
    fm_verifier *v;
    fm_store *s;
    const buffer *good;
    const buffer *bad;
    const fm_result *want_good;
    const fm_result *want_bad;
    int mismatches;
} thread_job;

static void *thread_main(void *arg) {
    thread_job *job = arg;
    for (int i = 0; i < N_ITERATIONS; i++) {
        int tampered = (i % 3) == 2;
        fm_result r;
        verify(job->v, job->s, tampered ? job->bad : job->good, CORE_VECTOR_AT, &r);
        if (!same_result(&r, tampered ? job->want_bad : job->want_good))
            job->mismatches++;
    }
    return NULL;
}

static void test_threads(int caches) {
    fm_store *s = make_store();
    fm_verifier *v = make_verifier(caches);
    buffer good = good_chain();
    buffer bad = tampered_chain();

    /* reference answers from a verifier of its own, so the shared one starts with cold caches */
    fm_verifier *ref = make_verifier(0);
    fm_result want_good, want_bad;
    CHECK_STATUS(verify(ref, s, &good, CORE_VECTOR_AT, &want_good), FM_OK, "reference good");
    CHECK_STATUS(verify(ref, s, &bad, CORE_VECTOR_AT, &want_bad), FM_ERR_CERT_SIGNATURE_FAILURE,
                 "reference tampered");

    pthread_t tids[N_THREADS];
    thread_job jobs[N_THREADS];
    int started[N_THREADS];
    for (int t = 0; t < N_THREADS; t++) {
        jobs[t] = (thread_job){v, s, &good, &bad, &want_good, &want_bad, 0};
        started[t] = pthread_create(&tids[t], NULL, thread_main, &jobs[t]) == 0;
        CHECK(started[t]);
    }
    int mismatches = 0;
    for (int t = 0; t < N_THREADS; t++) {
        if (started[t]) {
            pthread_join(tids[t], NULL);
            mismatches += jobs[t].mismatches;
        }
    }
    CHECK(mismatches == 0);
    if (mismatches)
        fprintf(stderr, "threads (caches %s): %d results differ from the reference\n",
                caches ? "on" : "off", mismatches);

    free(good.p);
    free(bad.p);
    fm_verifier_free(ref);
    fm_verifier_free(v);
    fm_store_free(s);
    printf("threads (caches %s): %d x %d verifications\n", caches ? "on" : "off", N_THREADS,
           N_ITERATIONS);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0); /* keep the order of stdout and sanitizer reports */
    test_status_table();
    test_options_default();
    test_free_null();
    test_cert_info_located();
    test_verify(1);
    test_verify(0);
    test_revocation();
    test_large_revset();
    test_serial_lengths();
    test_threads(1);
    test_threads(0);
    printf("%d passed, %d failed\n", n_passed, n_failed);
    fflush(stdout);
    return n_failed == 0 ? 0 : 1;
}
