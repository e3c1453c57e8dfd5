/*
 * test_core.c - exercises the public C API (csrc/include/fastmtls.h) without Python.
 *
 * Covers: the status table, default options, stores (anchors, NOT_A_CA, sealing), verification
 * (good, cached, tampered, expired, empty, truncated, no anchor, invalid arguments), revocation
 * sets (default / chain / strict; a 300k-entry set saved and loaded), snapshot validation (one
 * corrupted field at a time, resealed with the checksum mirrored in snapshot_image.h, so that
 * each header, issuer, part, slot and record check of fm_revset_load_bytes is the one that
 * rejects it), and 4 threads x 1000 verifications sharing one verifier.
 *
 * Vectors: csrc/tests/core_vectors.h (root, intermediate, leaf, a partitioned CRL of the
 * intermediate; regenerate with csrc/tests/gen_core_vectors.py). Build and run (what .ci/run does):
 *
 *   gcc -std=c11 -Wall -Wextra -Werror -pedantic -O1 -g -fsanitize=address,undefined \
 *       -Icsrc -Icsrc/include -Icsrc/tests csrc/fm_*.c csrc/tests/test_core.c -lssl -lcrypto \
 *       -lpthread -ldl -o /tmp/test_core && /tmp/test_core
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
#include "snapshot_image.h"

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

/* Fields that must not depend on caching or on the thread (flags, sig_checks, steps and
 * certs_reused may). */
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
    /* constructors check their out pointer; a lookup with NULL inputs is no "not revoked" */
    CHECK_STATUS(fm_store_new(NULL), FM_ERR_INVALID_ARGUMENT, "fm_store_new(NULL)");
    CHECK_STATUS(fm_verifier_new(NULL, NULL), FM_ERR_INVALID_ARGUMENT, "fm_verifier_new(NULL)");
    CHECK_STATUS(fm_revbuild_new(NULL), FM_ERR_INVALID_ARGUMENT, "fm_revbuild_new(NULL)");
    CHECK_STATUS(fm_revset_load("x", NULL), FM_ERR_INVALID_ARGUMENT, "fm_revset_load(NULL)");
    CHECK_STATUS(fm_revset_load_bytes((const uint8_t *)"", 0, NULL), FM_ERR_INVALID_ARGUMENT,
                 "fm_revset_load_bytes(NULL)");
    CHECK(fm_revset_lookup(NULL, (const uint8_t *)"", 0, (const uint8_t *)"", 0,
                           (const uint8_t *)"", 0, NULL) == -FM_ERR_INVALID_ARGUMENT);
    /* a group name reads as a C string too */
    fm_store *st = NULL;
    size_t len = 9;
    CHECK_STATUS(fm_store_new(&st), FM_OK, "fm_store_new");
    CHECK(strcmp((const char *)fm_store_group_name(st, 3, &len), "") == 0 && len == 0);
    CHECK_STATUS(fm_store_set_group_name(st, 3, (const uint8_t *)"tenant-a", 8), FM_OK,
                 "fm_store_set_group_name");
    CHECK(strcmp((const char *)fm_store_group_name(st, 3, &len), "tenant-a") == 0 && len == 8);
    fm_store_free(st);
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
/* Host associations (the Cloudflare model): a host with associations trusts only the anchors of
 * its groups, any other host every anchor; associating a host again replaces its groups (case
 * folded), it does not add to them. */
static int verify_for(fm_verifier *v, fm_store *s, const buffer *chain, const char *host) {
    fm_result r;
    fm_verify(v, s, NULL, chain->p, chain->len, (const uint8_t *)host, strlen(host),
              CORE_VECTOR_AT, FM_NAME_NONE, NULL, 0, &r);
    return r.status;
}

static void test_associations(void) {
    fm_verifier *v = make_verifier(0);
    buffer good = good_chain();
    const uint32_t mine = ANCHOR_GROUP, other = ANCHOR_GROUP + 1;
    fm_store *s = make_store();
    CHECK_STATUS(fm_store_associate(s, (const uint8_t *)"a.example", 9, &other, 1), FM_OK,
                 "associate a.example with another group");
    CHECK_STATUS(fm_store_associate(s, (const uint8_t *)"A.Example", 9, &mine, 1), FM_OK,
                 "associate A.Example again: replaces");
    CHECK_STATUS(fm_store_associate(s, (const uint8_t *)"b.example", 9, &other, 1), FM_OK,
                 "associate b.example");
    CHECK_STATUS(fm_store_associate(s, (const uint8_t *)"2001:db8::1", 11, &other, 1), FM_OK,
                 "associate an IPv6 address");
    CHECK_STATUS(fm_store_associate(s, (const uint8_t *)"0:0:0:0:0:0:0:1", 15, &other, 1), FM_OK,
                 "associate ::1, spelled out");
    CHECK_STATUS(fm_store_associate(s, (const uint8_t *)"*.2001:db8::2", 13, &other, 1),
                 FM_ERR_INVALID_ARGUMENT, "no wildcard of an address");
    CHECK_STATUS(verify_for(v, s, &good, "a.example"), FM_OK, "a.example: the replacing group");
    CHECK_STATUS(verify_for(v, s, &good, "b.example"), FM_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
                 "b.example: only the other group");
    CHECK_STATUS(verify_for(v, s, &good, "c.example"), FM_OK, "c.example: every anchor");
    /* b.example spelled with a port, a path, user info, a zone, brackets: not a host, so no CA
     * (they used to match no association: every CA) */
    static const char *const not_hosts[] = {"b.example:8443", "b.example:", "b.example/",
                                            "u@b.example", "b.example%eth0", "[::1]", "b.ex ample",
                                            "b.example?x", "b.example#x", "b..example",
                                            "10.0.0.5:8443", "abc.de:443", "cafe:8443",
                                            "1:2:3:4:5:6:7:8:9", "1::2::3", ":1::", "1:",
                                            "::ffff:10.0.0.256", "::ffff:010.0.0.1",
                                            "1:2:3:4:5:6:7:1.2.3.4", "12345::",
                                            /* IPv4 addresses spelled other than canonically */
                                            "010.0.0.1", "10.0.0.01", "10.1", "10.0.1",
                                            "167772161", "0xa.0.0.1", "0XA.0.0.1", "1.2.3.4.5",
                                            "256.0.0.1", "b.example.0x", "b.example.123"};
    for (size_t i = 0; i < sizeof not_hosts / sizeof *not_hosts; i++)
        CHECK_STATUS(verify_for(v, s, &good, not_hosts[i]), FM_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
                     not_hosts[i]);
    CHECK_STATUS(verify_for(v, s, &good, "B.Example."), FM_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
                 "b.example in capitals with a trailing dot: its association");
    /* any spelling of an associated IPv6 address is that address (an SNI is the client's) */
    static const char *const v6_assoc[] = {"2001:db8::1", "2001:0DB8:0:0:0:0:0:1", "2001:db8:0::0:1",
                                           "::1", "0:0::1", "::0001", "0:0:0:0:0:0:0.0.0.1"};
    for (size_t i = 0; i < sizeof v6_assoc / sizeof *v6_assoc; i++)
        CHECK_STATUS(verify_for(v, s, &good, v6_assoc[i]), FM_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
                     v6_assoc[i]);
    static const char *const v6[] = {"2001:db8::2", "::2", "::", "2001:db8::", "1:2:3:4:5:6:7:8",
                                     "::ffff:10.0.0.1", "1:2:3:4:5:6:1.2.3.4", "FE80::A"};
    for (size_t i = 0; i < sizeof v6 / sizeof *v6; i++)
        CHECK_STATUS(verify_for(v, s, &good, v6[i]), FM_OK, v6[i]); /* hosts, unassociated */
    CHECK_STATUS(verify_for(v, s, &good, "10.0.0.1"), FM_OK, "an IPv4 literal is a host");
    CHECK_STATUS(verify_for(v, s, &good, "0.0.0.0"), FM_OK, "zero octets are canonical");
    CHECK_STATUS(verify_for(v, s, &good, "b.example.0xg"), FM_OK, "a last label not a number");
    CHECK_STATUS(verify_for(v, s, &good, "b.example.1a"), FM_OK, "a last label not a number");
    CHECK_STATUS(verify_for(v, s, &good, "under_score.example"), FM_OK, "'_' in a host name");
    CHECK_STATUS(fm_store_associate(s, (const uint8_t *)"c.example", 9, &mine, 1), FM_ERR_SEALED,
                 "associate on a store in use");
    fm_store_free(s);

    s = make_store(); /* the other order: the last association wins */
    CHECK_STATUS(fm_store_associate(s, (const uint8_t *)"a.example", 9, &mine, 1), FM_OK,
                 "associate a.example");
    CHECK_STATUS(fm_store_associate(s, (const uint8_t *)"a.example", 9, &other, 1), FM_OK,
                 "associate a.example again");
    CHECK_STATUS(verify_for(v, s, &good, "a.example"), FM_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
                 "a.example: replaced by the other group");
    CHECK_STATUS(fm_store_associate(s, NULL, 9, &mine, 1), FM_ERR_INVALID_ARGUMENT, "NULL host");
    CHECK_STATUS(fm_store_associate(s, (const uint8_t *)"x", 0, &mine, 1), FM_ERR_INVALID_ARGUMENT,
                 "empty host");
    CHECK_STATUS(fm_store_associate(s, (const uint8_t *)"x", 1, NULL, 1), FM_ERR_INVALID_ARGUMENT,
                 "NULL groups");
    static const char *const bad_assocs[] = {"x.example:443", "*.", "*", "x.example.", "**.x",
                                             "a.*.x", "x/y", "..x", "1.2.3.4:443", "cafe:8443",
                                             "010.0.0.1", "10.1", "*.10.0.0.1", "*.example.12"};
    for (size_t i = 0; i < sizeof bad_assocs / sizeof *bad_assocs; i++)
        CHECK_STATUS(fm_store_associate(s, (const uint8_t *)bad_assocs[i], strlen(bad_assocs[i]),
                                        &mine, 1),
                     FM_ERR_INVALID_ARGUMENT, bad_assocs[i]);
    fm_store_free(s);
    fm_verifier_free(v);
    free(good.p);
    printf("associations: a host's groups, replaced by a later association\n");
}

static void test_cert_info_located(void) {
    fm_cert_info info;
    CHECK_STATUS(fm_cert_info_get(core_leaf_der, sizeof core_leaf_der, &info), FM_OK, "full");
    CHECK(info.located == FM_INFO_ALL && info.subject_len > 2 && info.spki_len > 0);
    size_t ski_off = info.ski_off, ski_len = info.ski_len;
    CHECK(ski_len > 0);

    /* a truncated certificate (its last byte dropped: the outer SEQUENCE no longer fits) is
     * refused before any field is read: nothing is located */
    CHECK(fm_cert_info_get(core_leaf_der, sizeof core_leaf_der - 1, &info) != FM_OK);
    CHECK(info.located == 0 && info.subject_len == 0 && info.serial_len == 0);

    /* the outer signatureAlgorithm changed (one byte of its OID): the certificate is refused
     * for the mismatch, and serial, names and validity are all located, and its SKI found */
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
    CHECK(info.located == (FM_INFO_ALL | FM_INFO_SKI) && info.subject_len > 2 &&
          info.serial_len > 0);
    CHECK(info.not_after > info.not_before && info.spki_len == 0);
    CHECK(info.ski_off == ski_off && info.ski_len == ski_len);
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

/* ---- snapshot validation ----------------------------------------------------------------- */

/* The bytes fm_revset_save writes for `s` (malloc'd, *len of them). */
static uint8_t *snapshot_bytes(const fm_revset *s, size_t *len) {
    char path[] = "/tmp/fastmtls-test-core-123456";
    memset(path + sizeof path - 7, 'X', 6); /* mkstemp's template: six trailing 'X' */
    int fd = mkstemp(path);
    if (fd < 0)
        exit(2);
    close(fd);
    CHECK_STATUS(fm_revset_save(s, path), FM_OK, "fm_revset_save");
    FILE *f = fopen(path, "rb");
    uint8_t *img = NULL;
    long n = -1;
    if (f != NULL && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 &&
        fseek(f, 0, SEEK_SET) == 0 && (img = malloc((size_t)n)) != NULL &&
        fread(img, 1, (size_t)n, f) != (size_t)n) {
        free(img);
        img = NULL;
    }
    if (f != NULL)
        fclose(f);
    remove(path);
    if (img == NULL)
        exit(2);
    *len = (size_t)n;
    return img;
}

/* "http://crl.example.com/<p>.crl" as a uniformResourceIdentifier GeneralName TLV: a
 * distribution point name of core_crl_parts_der. */
static size_t dp_uri(uint8_t out[64], const char *p) {
    int n = snprintf((char *)out + 2, 62, "http://crl.example.com/%s.crl", p);
    out[0] = 0x86, out[1] = (uint8_t)n;
    return (size_t)n + 2;
}

/* Where the fields of one saved snapshot are: the set of test_snapshot_checks. */
typedef struct snap_info {
    size_t len;
    uint64_t n_issuers, n_parts, n_slots, blob_len, arena_len;
    size_t off_slots, off_arena, off_blob;
    size_t parted, other; /* issuers: the one with the two parts (the intermediate), the root */
    size_t part[2];
    size_t slot;    /* the first used slot */
    size_t rec_off; /* arena offset of the last record */
} snap_info;

static int snap_info_get(const uint8_t *img, size_t len, snap_info *si) {
    memset(si, 0, sizeof *si);
    if (!snap_layout_ok(img, len))
        return 0;
    si->len = len;
    si->n_issuers = snap_rd64(img, SNAP_OFF_N_ISSUERS);
    si->n_parts = snap_rd64(img, SNAP_OFF_N_PARTS);
    si->n_slots = snap_rd64(img, SNAP_OFF_N_SLOTS);
    si->blob_len = snap_rd64(img, SNAP_OFF_BLOB_LEN);
    si->arena_len = snap_rd64(img, SNAP_OFF_ARENA_LEN);
    si->off_slots = (size_t)snap_rd64(img, SNAP_OFF_SLOTS);
    si->off_arena = (size_t)snap_rd64(img, SNAP_OFF_ARENA);
    si->off_blob = (size_t)snap_rd64(img, SNAP_OFF_BLOB);
    if (si->n_issuers != 2 || si->n_parts != 2)
        return 0;
    for (uint64_t i = 0; i < 2; i++) {
        size_t is = snap_issuer(img, i);
        if (snap_rd32(img, is + SNAP_IS_PART_COUNT) == 2)
            si->parted = is;
        else
            si->other = is;
    }
    si->part[0] = snap_part(img, 0), si->part[1] = snap_part(img, 1);
    int used = 0;
    for (uint64_t i = 0; i < si->n_slots; i++) {
        uint32_t off1 = snap_rd32(img, si->off_slots + 8 * i + 4);
        if (off1 == 0)
            continue;
        if (!used++)
            si->slot = si->off_slots + 8 * i;
        if (off1 - 1u >= si->rec_off)
            si->rec_off = off1 - 1u;
    }
    return si->parted != 0 && si->other != 0 && used == 3;
}

/* The corruptions: each breaks one check of fm_revset_load_bytes (attach() in fm_revset.c). */
enum {
    SN_NONE, /* controls first: accepted */
    SN_SCOPE_ONE_KIND,
    SN_ISSUER_LAST,
    SN_COVER_BOTH,
    SN_NO_CRL,
    SN_ALL_SLOTS_BUT_ONE,
    SN_SHORT, /* header, before the checksum */
    SN_LEN_ONE_LESS,
    SN_MAGIC,
    SN_VERSION_OLD,
    SN_VERSION_NEW,
    SN_ENDIAN,
    SN_TOTAL,
    SN_TOO_MANY_ISSUERS,
    SN_SLOTS_MISALIGNED,
    SN_MORE_ENTRIES_THAN_SLOTS,
    SN_ARENA_OUTSIDE,
    SN_BLOB_OUTSIDE,
    SN_PARTS_OUTSIDE,
    SN_CHECKSUM_FIELD, /* the checksum */
    SN_BODY_NOT_RESEALED,
    SN_ISSUER_NAME, /* issuers */
    SN_ISSUER_KEY_HASH,
    SN_ISSUER_SPKI,
    SN_ISSUER_NUMBER,
    SN_ISSUER_COVER,
    SN_ISSUER_HAS_CRL,
    SN_ISSUER_PART_FIRST,
    SN_ISSUER_PART_COUNT,
    SN_ISSUER_PARTS_OF_OTHER,
    SN_PART_NAME_OUTSIDE, /* parts */
    SN_PART_NAME_EMPTY,
    SN_PART_FLAGS_UNKNOWN,
    SN_PART_NO_COVER,
    SN_PART_HASH,
    SN_PARTS_UNSORTED,
    SN_PARTS_UNUSED, /* the ranges do not tile the parts */
    SN_PARTS_UNUSED_BY_LAST,
    SN_SLOT_PAST_ARENA, /* slots and records */
    SN_SLOT_HEADER_PAST_ARENA,
    SN_RECORD_ISSUER,
    SN_RECORD_SERIAL_PAST_ARENA,
    SN_RECORD_NO_KIND,
    SN_TABLE_FULL,
    SN_COUNT
};

static const struct {
    const char *what;
    int want;
} SNAP_CASES[SN_COUNT] = {
    [SN_NONE] = {"unchanged, resealed", FM_OK},
    [SN_SCOPE_ONE_KIND] = {"a record excluding CA certificates", FM_OK},
    [SN_ISSUER_LAST] = {"a record of the last issuer", FM_OK},
    [SN_COVER_BOTH] = {"issuer cover: user and CA", FM_OK},
    [SN_NO_CRL] = {"issuer has_crl 0", FM_OK},
    [SN_ALL_SLOTS_BUT_ONE] = {"one free slot left", FM_OK},
    [SN_SHORT] = {"shorter than a header", FM_ERR_SNAPSHOT_CORRUPT},
    [SN_LEN_ONE_LESS] = {"one byte missing", FM_ERR_SNAPSHOT_CORRUPT},
    [SN_MAGIC] = {"magic", FM_ERR_SNAPSHOT_CORRUPT},
    [SN_VERSION_OLD] = {"the version before", FM_ERR_SNAPSHOT_VERSION},
    [SN_VERSION_NEW] = {"the version after", FM_ERR_SNAPSHOT_VERSION},
    [SN_ENDIAN] = {"other byte order", FM_ERR_SNAPSHOT_VERSION},
    [SN_TOTAL] = {"total length", FM_ERR_SNAPSHOT_CORRUPT},
    [SN_TOO_MANY_ISSUERS] = {"more issuers than allowed", FM_ERR_SNAPSHOT_CORRUPT},
    [SN_SLOTS_MISALIGNED] = {"slot table misaligned", FM_ERR_SNAPSHOT_CORRUPT},
    [SN_MORE_ENTRIES_THAN_SLOTS] = {"more entries than slots", FM_ERR_SNAPSHOT_CORRUPT},
    [SN_ARENA_OUTSIDE] = {"arena past the end", FM_ERR_SNAPSHOT_CORRUPT},
    [SN_BLOB_OUTSIDE] = {"blob past the end", FM_ERR_SNAPSHOT_CORRUPT},
    [SN_PARTS_OUTSIDE] = {"parts past the end", FM_ERR_SNAPSHOT_CORRUPT},
    [SN_CHECKSUM_FIELD] = {"checksum field", FM_ERR_SNAPSHOT_CORRUPT},
    [SN_BODY_NOT_RESEALED] = {"a body byte, not resealed", FM_ERR_SNAPSHOT_CORRUPT},
    [SN_ISSUER_NAME] = {"issuer name outside the blob", FM_ERR_SNAPSHOT_CORRUPT},
    [SN_ISSUER_KEY_HASH] = {"issuer key hash another issuer's", FM_ERR_SNAPSHOT_CORRUPT},
    [SN_ISSUER_SPKI] = {"issuer key longer than the blob", FM_ERR_SNAPSHOT_CORRUPT},
    [SN_ISSUER_NUMBER] = {"issuer CRL number outside the blob", FM_ERR_SNAPSHOT_CORRUPT},
    [SN_ISSUER_COVER] = {"issuer cover: unknown bit", FM_ERR_SNAPSHOT_CORRUPT},
    [SN_ISSUER_HAS_CRL] = {"issuer has_crl 2", FM_ERR_SNAPSHOT_CORRUPT},
    [SN_ISSUER_PART_FIRST] = {"issuer parts start past the previous", FM_ERR_SNAPSHOT_CORRUPT},
    [SN_ISSUER_PART_COUNT] = {"issuer parts past the last", FM_ERR_SNAPSHOT_CORRUPT},
    [SN_ISSUER_PARTS_OF_OTHER] = {"issuer ranges overlap", FM_ERR_SNAPSHOT_CORRUPT},
    [SN_PART_NAME_OUTSIDE] = {"part name outside the blob", FM_ERR_SNAPSHOT_CORRUPT},
    [SN_PART_NAME_EMPTY] = {"part name empty", FM_ERR_SNAPSHOT_CORRUPT},
    [SN_PART_FLAGS_UNKNOWN] = {"part flags: unknown bit", FM_ERR_SNAPSHOT_CORRUPT},
    [SN_PART_NO_COVER] = {"part covers no kind", FM_ERR_SNAPSHOT_CORRUPT},
    [SN_PART_HASH] = {"part hash not its name's", FM_ERR_SNAPSHOT_CORRUPT},
    [SN_PARTS_UNSORTED] = {"parts not sorted by hash", FM_ERR_SNAPSHOT_CORRUPT},
    [SN_PARTS_UNUSED] = {"a part in no issuer's range", FM_ERR_SNAPSHOT_CORRUPT},
    [SN_PARTS_UNUSED_BY_LAST] = {"one part more than the ranges", FM_ERR_SNAPSHOT_CORRUPT},
    [SN_SLOT_PAST_ARENA] = {"slot past the arena", FM_ERR_SNAPSHOT_CORRUPT},
    [SN_SLOT_HEADER_PAST_ARENA] = {"slot's record header past the arena", FM_ERR_SNAPSHOT_CORRUPT},
    [SN_RECORD_ISSUER] = {"record of an unknown issuer", FM_ERR_SNAPSHOT_CORRUPT},
    [SN_RECORD_SERIAL_PAST_ARENA] = {"record serial past the arena", FM_ERR_SNAPSHOT_CORRUPT},
    [SN_RECORD_NO_KIND] = {"record excluding both kinds", FM_ERR_SNAPSHOT_CORRUPT},
    [SN_TABLE_FULL] = {"no free slot", FM_ERR_SNAPSHOT_CORRUPT},
};

/* Applies corruption `c` to img (a copy of the saved snapshot) and reseals it, except where the
 * checksum itself is the subject. Returns the length to load. */
static size_t snap_corrupt(uint8_t *img, const snap_info *si, int c) {
    size_t len = si->len, p0 = si->part[0], p1 = si->part[1];
    uint8_t *rec = img + si->off_arena + si->rec_off;
    uint8_t tmp[SNAP_PART_SIZE];
    switch (c) {
    case SN_SCOPE_ONE_KIND:
        rec[3] |= SNAP_REC_NOT_CA;
        break;
    case SN_ISSUER_LAST:
        rec[0] = (uint8_t)(si->n_issuers - 1), rec[1] = 0;
        break;
    case SN_COVER_BOTH:
        snap_wr32(img, si->other + SNAP_IS_COVER, 3);
        break;
    case SN_NO_CRL:
        snap_wr32(img, si->parted + SNAP_IS_HAS_CRL, 0);
        break;
    case SN_ALL_SLOTS_BUT_ONE:
    case SN_TABLE_FULL: {
        int spare = c == SN_ALL_SLOTS_BUT_ONE;
        for (uint64_t i = 0; i < si->n_slots; i++) {
            size_t at = si->off_slots + 8 * i;
            if (snap_rd32(img, at + 4) != 0)
                continue;
            if (spare) {
                spare = 0;
                continue;
            }
            memcpy(img + at, img + si->slot, 8); /* another pointer to a valid record */
        }
        break;
    }
    case SN_SHORT:
        return SNAP_HEADER_SIZE - 1;
    case SN_LEN_ONE_LESS:
        len--; /* the header's total_len is one more */
        break;
    case SN_MAGIC:
        img[SNAP_OFF_MAGIC + 7] ^= 0x20;
        break;
    case SN_VERSION_OLD:
    case SN_VERSION_NEW:
        snap_wr32(img, SNAP_OFF_VERSION, c == SN_VERSION_OLD ? SNAP_VERSION - 1 : SNAP_VERSION + 1);
        break;
    case SN_ENDIAN:
        snap_wr32(img, SNAP_OFF_ENDIAN, 0x04030201u);
        break;
    case SN_TOTAL:
        snap_wr64(img, SNAP_OFF_TOTAL, len + 8);
        break;
    case SN_TOO_MANY_ISSUERS:
        snap_wr64(img, SNAP_OFF_N_ISSUERS, FM_MAX_REVSET_ISSUERS + 1u);
        break;
    case SN_SLOTS_MISALIGNED:
        snap_wr64(img, SNAP_OFF_SLOTS, si->off_slots + 4);
        break;
    case SN_MORE_ENTRIES_THAN_SLOTS:
        snap_wr64(img, SNAP_OFF_N_ENTRIES, si->n_slots + 1);
        break;
    case SN_ARENA_OUTSIDE:
        snap_wr64(img, SNAP_OFF_ARENA_LEN, len - si->off_arena + 1);
        break;
    case SN_BLOB_OUTSIDE:
        snap_wr64(img, SNAP_OFF_BLOB, len + 1);
        break;
    case SN_PARTS_OUTSIDE:
        snap_wr64(img, SNAP_OFF_N_PARTS, len / SNAP_PART_SIZE);
        break;
    case SN_CHECKSUM_FIELD:
        img[SNAP_OFF_CHECKSUM] ^= 0x01;
        return len;
    case SN_BODY_NOT_RESEALED:
        img[len - 1] ^= 0x01;
        return len;
    case SN_ISSUER_NAME:
        snap_wr64(img, si->parted + SNAP_IS_NAME_OFF, si->blob_len);
        break;
    case SN_ISSUER_KEY_HASH: /* every issuer claiming one key: a quadratic, useless index */
        snap_wr64(img, si->parted + SNAP_IS_KEY_HASH, snap_rd64(img, si->other + SNAP_IS_KEY_HASH));
        break;
    case SN_ISSUER_SPKI:
        snap_wr32(img, si->parted + SNAP_IS_SPKI_LEN, (uint32_t)si->blob_len + 1);
        break;
    case SN_ISSUER_NUMBER:
        snap_wr64(img, si->other + SNAP_IS_NUMBER_OFF, si->blob_len + 1);
        break;
    case SN_ISSUER_COVER:
        snap_wr32(img, si->other + SNAP_IS_COVER, snap_rd32(img, si->other + SNAP_IS_COVER) | 4);
        break;
    case SN_ISSUER_HAS_CRL:
        snap_wr32(img, si->parted + SNAP_IS_HAS_CRL, 2);
        break;
    case SN_ISSUER_PART_FIRST:
        snap_wr32(img, si->parted + SNAP_IS_PART_FIRST,
                  snap_rd32(img, si->parted + SNAP_IS_PART_FIRST) + 1);
        break;
    case SN_ISSUER_PART_COUNT:
        snap_wr32(img, si->parted + SNAP_IS_PART_COUNT, 3);
        break;
    case SN_ISSUER_PARTS_OF_OTHER:
        snap_wr32(img, si->other + SNAP_IS_PART_COUNT, 1);
        break;
    case SN_PART_NAME_OUTSIDE:
        snap_wr64(img, p1 + SNAP_PART_NAME_OFF, si->blob_len);
        break;
    case SN_PART_NAME_EMPTY:
        snap_wr32(img, p0 + SNAP_PART_NAME_LEN, 0);
        break;
    case SN_PART_FLAGS_UNKNOWN:
        snap_wr32(img, p0 + SNAP_PART_FLAGS, snap_rd32(img, p0 + SNAP_PART_FLAGS) | 8);
        break;
    case SN_PART_NO_COVER:
        snap_wr32(img, p0 + SNAP_PART_FLAGS, snap_rd32(img, p0 + SNAP_PART_FLAGS) & ~3u);
        break;
    case SN_PART_HASH:
        snap_wr64(img, p1 + SNAP_PART_HASH, snap_rd64(img, p1 + SNAP_PART_HASH) ^ 1);
        break;
    case SN_PARTS_UNSORTED:
        memcpy(tmp, img + p0, SNAP_PART_SIZE);
        memcpy(img + p0, img + p1, SNAP_PART_SIZE);
        memcpy(img + p1, tmp, SNAP_PART_SIZE);
        break;
    case SN_PARTS_UNUSED:
        snap_wr32(img, si->parted + SNAP_IS_PART_COUNT, 1);
        break;
    case SN_PARTS_UNUSED_BY_LAST:
        snap_wr64(img, SNAP_OFF_N_PARTS, si->n_parts + 1);
        break;
    case SN_SLOT_PAST_ARENA:
        snap_wr32(img, si->slot + 4, (uint32_t)si->arena_len + 1);
        break;
    case SN_SLOT_HEADER_PAST_ARENA:
        snap_wr32(img, si->slot + 4, (uint32_t)(si->arena_len - SNAP_REC_HDR) + 2);
        break;
    case SN_RECORD_ISSUER:
        rec[0] = (uint8_t)si->n_issuers, rec[1] = 0;
        break;
    case SN_RECORD_SERIAL_PAST_ARENA:
        rec[2] = (uint8_t)(si->arena_len - si->rec_off - SNAP_REC_HDR + 1);
        break;
    case SN_RECORD_NO_KIND:
        rec[3] |= SNAP_REC_NOT_USER | SNAP_REC_NOT_CA;
        break;
    default:
        break;
    }
    snap_reseal(img, len);
    return len;
}

/* A set of `n` explicit entries (serials 0x01 0x00 0x00 + i) built under `seed` (0: the
 * builder's random one). */
static fm_revset *numbered_set(uint32_t n, uint64_t seed) {
    fm_revbuild *b = NULL;
    fm_revset *s = NULL;
    CHECK_STATUS(fm_revbuild_new(&b), FM_OK, "fm_revbuild_new");
    if (seed)
        CHECK_STATUS(fm_revbuild_set_seed(b, seed), FM_OK, "fm_revbuild_set_seed");
    for (uint32_t i = 0; i < n; i++) {
        uint8_t ser[4] = {0x01, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
        CHECK_STATUS(fm_revbuild_add_entry(b, core_inter_der, sizeof core_inter_der, ser, 4, 1,
                                           REVOKED_AT),
                     FM_OK, "fm_revbuild_add_entry");
    }
    CHECK_STATUS(fm_revbuild_finish(b, &s), FM_OK, "fm_revbuild_finish");
    if (s == NULL)
        exit(2);
    return s;
}

/* Rewrites the slots of a saved image so that its occupied slots form runs of the given lengths
 * (in order, one free slot after each, the last run continuing round the end of the table into
 * `wrap` slots at its start), and reseals it. The records are left where lookups do not look:
 * only the run check is under test. 0 when the image has too few records or slots. */
static int snap_runs(uint8_t *img, size_t len, const uint64_t *runs, size_t n_runs,
                     uint64_t wrap) {
    uint64_t n_slots = snap_rd64(img, SNAP_OFF_N_SLOTS);
    size_t off = (size_t)snap_rd64(img, SNAP_OFF_SLOTS);
    uint64_t need = wrap, used = 0, pos = wrap ? wrap + 1 : 0, next = 0; /* free after wrap */
    for (size_t r = 0; r < n_runs; r++)
        need += runs[r];
    uint8_t *slots = malloc((size_t)n_slots * 8), *rec = NULL;
    if (slots == NULL)
        exit(2);
    memcpy(slots, img + off, (size_t)n_slots * 8);
    memset(img + off, 0, (size_t)n_slots * 8);
    for (uint64_t i = 0; i < n_slots; i++)
        used += snap_rd32(slots, 8 * i + 4) != 0;
    if (used < need || need + n_runs + 1 > n_slots) {
        free(slots);
        return 0;
    }
    /* the occupied slots' contents, in order, into the runs */
    for (size_t r = 0; r <= n_runs; r++) {
        uint64_t k = r < n_runs ? runs[r] : wrap;
        if (r == n_runs) /* the wrap: the last run ends at the table's end, `wrap` at its start */
            pos = 0;
        else if (r == n_runs - 1 && wrap)
            pos = n_slots - k;
        for (uint64_t j = 0; j < k; j++, pos++) {
            while (snap_rd32(slots, 8 * next + 4) == 0)
                next++;
            rec = slots + 8 * next++;
            memcpy(img + off + 8 * pos, rec, 8);
        }
        pos++; /* a free slot after each run */
    }
    free(slots);
    snap_wr64(img, SNAP_OFF_N_ENTRIES, need);
    snap_reseal(img, len);
    return 1;
}

/* Slot runs (what a lookup probes) are bounded: a build keeps them under FM_RS_MAX_RUN (1024),
 * a snapshot with a longer one is refused; the seed is random per build unless set, and a set
 * seed reproduces the bytes. */
static void test_snapshot_runs(void) {
    fm_revset *a = numbered_set(1500, 0), *b = numbered_set(1500, 0);
    uint64_t seed_a = 0, seed_b = 0, n_slots = 0, run = 0;
    fm_revset_layout(a, &seed_a, &n_slots, &run);
    fm_revset_layout(b, &seed_b, NULL, NULL);
    CHECK(seed_a != seed_b);        /* drawn per build */
    CHECK(run >= 4 && run < 400);   /* ~50 at this size; 400: odds below 1e-7 */
    CHECK(n_slots > 2 * 1024 + 16); /* room for the runs below */
    size_t len = 0, len_b = 0;
    uint8_t *img = snapshot_bytes(a, &len);
    fm_revset_free(b);
    fm_revset *c = numbered_set(1500, seed_a);
    uint8_t *img_c = snapshot_bytes(c, &len_b);
    CHECK(len == len_b && memcmp(img, img_c, len) == 0); /* the same seed: the same bytes */
    free(img_c);
    fm_revset_free(c);
    fm_revset_free(a);

    static const struct {
        uint64_t runs[2];
        size_t n_runs;
        uint64_t wrap;
        int want;
        uint64_t longest;
        const char *what;
    } cases[] = {
        {{1024, 100}, 2, 0, FM_OK, 1024, "a run of 1024"},
        {{1025, 100}, 2, 0, FM_ERR_SNAPSHOT_CORRUPT, 0, "a run of 1025"},
        {{300, 600}, 2, 424, FM_OK, 1024, "600 at the end and 424 at the start"},
        {{300, 600}, 2, 425, FM_ERR_SNAPSHOT_CORRUPT, 0, "600 at the end and 425 at the start"},
        {{1400, 0}, 1, 0, FM_ERR_SNAPSHOT_CORRUPT, 0, "a run of 1400"},
    };
    uint8_t *work = malloc(len);
    if (work == NULL)
        exit(2);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        memcpy(work, img, len);
        CHECK(snap_runs(work, len, cases[k].runs, cases[k].n_runs, cases[k].wrap));
        fm_revset *s = NULL;
        CHECK_STATUS(fm_revset_load_bytes(work, len, &s), cases[k].want, cases[k].what);
        if (s != NULL) {
            fm_revset_layout(s, NULL, NULL, &run);
            CHECK(run == cases[k].longest);
            fm_revset_free(s);
        }
    }
    free(work);
    free(img);
    printf("snapshot slot runs: 1024 accepted, 1025 refused (also round the end); seeds per build\n");
}

/* A set with two issuers: the root (an explicit entry, the intermediate's serial) and the
 * intermediate (the partitioned CRL core_crl_parts_der: parts p1 and p2, the leaf and 0x1234
 * revoked). Saved, then loaded back once per corruption. */
static void test_snapshot_checks(void) {
    fm_cert_info inter, leaf, root;
    CHECK_STATUS(fm_cert_info_get(core_inter_der, sizeof core_inter_der, &inter), FM_OK, "inter");
    CHECK_STATUS(fm_cert_info_get(core_leaf_der, sizeof core_leaf_der, &leaf), FM_OK, "leaf");
    CHECK_STATUS(fm_cert_info_get(core_root_der, sizeof core_root_der, &root), FM_OK, "root");
    fm_revbuild *b = NULL;
    CHECK_STATUS(fm_revbuild_new(&b), FM_OK, "fm_revbuild_new");
    CHECK_STATUS(fm_revbuild_set_time(b, CORE_VECTOR_AT), FM_OK, "fm_revbuild_set_time");
    CHECK_STATUS(fm_revbuild_add_entry(b, core_root_der, sizeof core_root_der,
                                       core_inter_der + inter.serial_off, inter.serial_len,
                                       REVOKED_REASON, REVOKED_AT),
                 FM_OK, "fm_revbuild_add_entry");
    CHECK_STATUS(fm_revbuild_add_crl(b, core_crl_parts_der, sizeof core_crl_parts_der,
                                     core_inter_der, sizeof core_inter_der, NULL),
                 FM_OK, "fm_revbuild_add_crl (partitioned)");
    fm_revset *built = NULL;
    CHECK_STATUS(fm_revbuild_finish(b, &built), FM_OK, "fm_revbuild_finish");
    if (built == NULL)
        exit(2);
    CHECK(fm_revset_count(built) == 3 && fm_revset_issuer_count(built) == 2);
    size_t len = 0;
    uint8_t *saved = snapshot_bytes(built, &len);
    fm_revset_free(built);

    /* the mirror fits: sections, issuers (names are the CAs' subjects), parts (the IDP's URIs) */
    snap_info si;
    if (!snap_info_get(saved, len, &si)) {
        CHECK(!"snapshot layout differs from snapshot_image.h");
        free(saved);
        return;
    }
    const uint8_t *blob = saved + si.off_blob;
    CHECK(snap_rd32(saved, si.parted + SNAP_IS_NAME_LEN) == inter.subject_len &&
          memcmp(blob + snap_rd64(saved, si.parted + SNAP_IS_NAME_OFF),
                 core_inter_der + inter.subject_off, inter.subject_len) == 0);
    CHECK(snap_rd32(saved, si.other + SNAP_IS_NAME_LEN) == root.subject_len &&
          memcmp(blob + snap_rd64(saved, si.other + SNAP_IS_NAME_OFF),
                 core_root_der + root.subject_off, root.subject_len) == 0);
    CHECK(snap_rd32(saved, si.parted + SNAP_IS_HAS_CRL) == 1 &&
          snap_rd32(saved, si.other + SNAP_IS_HAS_CRL) == 0);
    uint8_t uri[2][64];
    size_t uri_len[2] = {dp_uri(uri[0], "p1"), dp_uri(uri[1], "p2")};
    int seen = 0;
    for (int k = 0; k < 2; k++) {
        size_t p = si.part[k];
        CHECK(snap_rd32(saved, p + SNAP_PART_FLAGS) == 3); /* user and CA, a fullName */
        for (int u = 0; u < 2; u++)
            if (snap_rd32(saved, p + SNAP_PART_NAME_LEN) == uri_len[u] &&
                memcmp(blob + snap_rd64(saved, p + SNAP_PART_NAME_OFF), uri[u], uri_len[u]) == 0)
                seen |= 1 << u;
    }
    CHECK(seen == 3);
    CHECK(snap_rd64(saved, si.part[0] + SNAP_PART_HASH) <
          snap_rd64(saved, si.part[1] + SNAP_PART_HASH));
    /* the serial corruption needs a last record whose serial can run one octet past the arena */
    CHECK(si.arena_len - si.rec_off - SNAP_REC_HDR + 1 <= 255);

    uint8_t *img = malloc(len);
    if (img == NULL)
        exit(2);
    for (int c = 0; c < SN_COUNT; c++) {
        memcpy(img, saved, len);
        size_t n = snap_corrupt(img, &si, c);
        fm_revset *s = (fm_revset *)saved; /* not NULL: a failed load must clear it */
        int rc = fm_revset_load_bytes(img, n, &s);
        CHECK_STATUS(rc, SNAP_CASES[c].want, SNAP_CASES[c].what);
        CHECK(rc == FM_OK ? s != NULL : s == NULL);
        if (rc != FM_OK)
            continue;
        if (c == SN_NONE) {
            /* the same answers as the built set */
            uint8_t ser1234[2] = {0x12, 0x34};
            fm_revocation r = {0, 0};
            const uint8_t *iname = core_inter_der + inter.subject_off;
            const uint8_t *ispki = core_inter_der + inter.spki_off;
            CHECK(fm_revset_lookup(s, iname, inter.subject_len, ispki, inter.spki_len,
                                   core_leaf_der + leaf.serial_off, leaf.serial_len, NULL) == 1);
            CHECK(fm_revset_lookup(s, iname, inter.subject_len, ispki, inter.spki_len, ser1234,
                                   2, NULL) == 1);
            CHECK(fm_revset_lookup(s, core_root_der + root.subject_off, root.subject_len,
                                   core_root_der + root.spki_off, root.spki_len,
                                   core_inter_der + inter.serial_off, inter.serial_len, &r) == 1 &&
                  r.reason == REVOKED_REASON && r.date == REVOKED_AT);
            int idx = fm_revset_find_issuer(s, (fm_span){iname, inter.subject_len},
                                            (fm_span){ispki, inter.spki_len});
            fm_window w;
            uint8_t p3[64];
            size_t p3_len = dp_uri(p3, "p3");
            CHECK(idx >= 0);
            for (int u = 0; u < 2 && idx >= 0; u++)
                CHECK(fm_revset_covers_dp(s, idx, 0, FM_DPN_FULL, (fm_span){uri[u], uri_len[u]},
                                          &w) == 1);
            CHECK(idx < 0 ||
                  fm_revset_covers_dp(s, idx, 0, FM_DPN_FULL, (fm_span){p3, p3_len}, &w) == 0);
        }
        fm_revset_free(s);
    }
    free(img);
    free(saved);
    printf("snapshot validation: %d edits of header, issuers, parts, slots and records "
           "(%d accepted controls)\n",
           (int)SN_COUNT, (int)SN_SHORT);
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
    test_associations();
    test_revocation();
    test_large_revset();
    test_serial_lengths();
    test_snapshot_checks();
    test_snapshot_runs();
    test_threads(1);
    test_threads(0);
    printf("%d passed, %d failed\n", n_passed, n_failed);
    fflush(stdout);
    return n_failed == 0 ? 0 : 1;
}
