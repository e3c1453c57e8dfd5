/*
 * test_stress.c - concurrency stress of the C core: verifier threads against trust-store and
 * revocation-set swaps, with caches small enough to evict on nearly every call.
 *
 * Threads:
 *   - N_VERIFIERS threads verify in a loop, half through fm_verify_current (the handshake hook's
 *     path: the verifier's current store and revocation set) and half through fm_verify with a
 *     store and a revocation set pinned for the whole run, over two verifiers (the default
 *     revocation policy with tiny caches, and the strict policy with the caches off);
 *   - one swapper thread replaces the current store (fm_verifier_set_store with a new fm_store,
 *     alternately with and without the generated root) and the current revocation set (a new
 *     fm_revset built with fm_revbuild_add_entry, sometimes reloaded from a snapshot file, sometimes
 *     none), and now and then empties the caches (fm_verifier_clear_caches) while they are used.
 *
 * Every result is checked against what the store and revocation set it was computed with allow,
 * so a torn swap, a stale cache entry or a result from the wrong snapshot fails the test. Run it
 * under ThreadSanitizer (tools/sanitize.sh --tsan), AddressSanitizer (.ci/run --c-tests builds
 * every csrc/tests/test_*.c) and valgrind (tools/sanitize.sh --valgrind).
 *
 * Vectors: the P-256 root / intermediate / client leaf of core_vectors.h (gen_core_vectors.py),
 * plus a PKI made here with OpenSSL at start-up (one root, GEN_INTERS intermediates, GEN_LEAVES
 * leaves) so that there are more distinct signatures and results than the caches hold.
 *
 *   gcc -std=c11 -Wall -Wextra -Werror -pedantic -O1 -g -fsanitize=thread -Icsrc -Icsrc/include \
 *       -Icsrc/tests csrc/fm_*.c csrc/tests/test_stress.c -lcrypto -lpthread -ldl -o /tmp/stress
 *   /tmp/stress [ITERATIONS]      (verifications per thread; default 1500, or $FM_STRESS_ITERS)
 *
 * Ends with "N passed, N failed"; exits non-zero on failure.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "include/fastmtls.h"

#include "core_vectors.h"
#define TEST_NAME "test_stress"
#include "test_pki.h"

#define N_VERIFIERS 4
#define DEFAULT_ITERATIONS 1500
#define GEN_INTERS 6
#define GEN_LEAVES 24 /* leaf j is issued by intermediate j % GEN_INTERS */
#define GROUP_CORE 1u
#define GROUP_GEN 2u
#define REASON 1u   /* keyCompromise */
#define N_PINNED 3  /* revocation sets that live for the whole run */
#define PINNED_EPOCH 1000

static der gen_root, gen_inter[GEN_INTERS], gen_leaf[GEN_LEAVES];

static void make_pki(void) {
    EVP_PKEY *root_key = p256_key();
    X509 *root = make_cert(root_key, "fastmtls stress root", 1, 1, NULL, NULL);
    gen_root = der_of(root);
    for (int i = 0; i < GEN_INTERS; i++) {
        char cn[64];
        snprintf(cn, sizeof cn, "fastmtls stress intermediate %d", i);
        EVP_PKEY *ik = p256_key();
        X509 *inter = make_cert(ik, cn, 100 + i, 1, root, root_key);
        gen_inter[i] = der_of(inter);
        for (int j = i; j < GEN_LEAVES; j += GEN_INTERS) {
            snprintf(cn, sizeof cn, "fastmtls stress client %d", j);
            EVP_PKEY *lk = p256_key();
            X509 *leaf = make_cert(lk, cn, 1000 + j, 0, inter, ik);
            gen_leaf[j] = der_of(leaf);
            X509_free(leaf);
            EVP_PKEY_free(lk);
        }
        X509_free(inter);
        EVP_PKEY_free(ik);
    }
    X509_free(root);
    EVP_PKEY_free(root_key);
}

static void free_pki(void) {
    free(gen_root.p);
    for (int i = 0; i < GEN_INTERS; i++)
        free(gen_inter[i].p);
    for (int j = 0; j < GEN_LEAVES; j++)
        free(gen_leaf[j].p);
}

/* ---- chains ------------------------------------------------------------------------------ */

enum kind {
    K_CORE,        /* core leaf + core intermediate: verifies with any store */
    K_CORE_BAD,    /* the same with the leaf's signature flipped */
    K_GEN,         /* generated leaf + its intermediate: needs the generated root */
    K_GEN_ALONE,   /* generated leaf only: needs an operator intermediate (even ones) too */
    K_TRUNCATED,   /* the core leaf without its last bytes */
};

typedef struct chain {
    enum kind kind;
    int leaf;      /* generated leaf index, -1 for the core chains */
    der bytes;
} chain;

#define N_CHAINS (3 + 2 * GEN_LEAVES)
static chain chains[N_CHAINS];

static der concat(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen) {
    der d = {malloc(alen + blen), alen + blen};
    if (d.p == NULL)
        die("out of memory");
    memcpy(d.p, a, alen);
    if (blen)
        memcpy(d.p + alen, b, blen);
    return d;
}

static void make_chains(void) {
    size_t n = 0;
    chains[n++] = (chain){K_CORE, -1, concat(core_leaf_der, sizeof core_leaf_der, core_inter_der,
                                             sizeof core_inter_der)};
    chains[n] = (chain){K_CORE_BAD, -1, concat(core_leaf_der, sizeof core_leaf_der, core_inter_der,
                                               sizeof core_inter_der)};
    chains[n++].bytes.p[sizeof core_leaf_der - 1] ^= 0x01;
    chains[n++] = (chain){K_TRUNCATED, -1, concat(core_leaf_der, sizeof core_leaf_der - 9, NULL, 0)};
    for (int j = 0; j < GEN_LEAVES; j++) {
        const der *inter = &gen_inter[j % GEN_INTERS];
        chains[n++] = (chain){K_GEN, j, concat(gen_leaf[j].p, gen_leaf[j].len, inter->p, inter->len)};
        chains[n++] = (chain){K_GEN_ALONE, j, concat(gen_leaf[j].p, gen_leaf[j].len, NULL, 0)};
    }
    if (n != N_CHAINS)
        die("chain table size");
}

static void free_chains(void) {
    for (size_t i = 0; i < N_CHAINS; i++)
        free(chains[i].bytes.p);
}

/* ---- stores and revocation sets ---------------------------------------------------------- */

static const char *HOSTS[] = {"", "any.example", "core.example"}; /* core.example: core CA only */
#define N_HOSTS (sizeof HOSTS / sizeof HOSTS[0])

/* full: the core root (group 1) and the generated root (group 2); otherwise the core root only */
static fm_store *make_store(int full) {
    fm_store *s = NULL;
    if (fm_store_new(&s) != FM_OK ||
        fm_store_add_anchor(s, core_root_der, sizeof core_root_der, GROUP_CORE) != FM_OK)
        die("store");
    if (full && fm_store_add_anchor(s, gen_root.p, gen_root.len, GROUP_GEN) != FM_OK)
        die("store: generated root");
    uint32_t core_only = GROUP_CORE;
    if (fm_store_associate(s, (const uint8_t *)"core.example", 12, &core_only, 1) != FM_OK ||
        fm_store_set_group_name(s, GROUP_CORE, (const uint8_t *)"core", 4) != FM_OK)
        die("store: association");
    return s;
}

/* Which leaves a revocation set of epoch e revokes (revocationDate = e marks the epoch). */
static int gen_revoked(int64_t e, int j) { return (j + e) % 3 == 0; }
static int core_revoked(int64_t e) { return e % 2 == 1; }

static void add_entry(fm_revbuild *b, const uint8_t *leaf, size_t leaf_len, const uint8_t *ca,
                      size_t ca_len, int64_t e) {
    fm_cert_info info;
    if (fm_cert_info_get(leaf, leaf_len, &info) != FM_OK ||
        fm_revbuild_add_entry(b, ca, ca_len, leaf + info.serial_off, info.serial_len, REASON, e) !=
            FM_OK)
        die("revocation entry");
}

static fm_revset *make_revset(int64_t e) {
    fm_revbuild *b = NULL;
    if (fm_revbuild_new(&b) != FM_OK)
        die("fm_revbuild_new");
    if (core_revoked(e))
        add_entry(b, core_leaf_der, sizeof core_leaf_der, core_inter_der, sizeof core_inter_der, e);
    for (int j = 0; j < GEN_LEAVES; j++)
        if (gen_revoked(e, j))
            add_entry(b, gen_leaf[j].p, gen_leaf[j].len, gen_inter[j % GEN_INTERS].p,
                      gen_inter[j % GEN_INTERS].len, e);
    fm_revset *s = NULL;
    if (fm_revbuild_finish(b, &s) != FM_OK)
        die("fm_revbuild_finish");
    return s;
}

/* The same set through a snapshot file (memory-mapped when loaded). */
static fm_revset *reload(fm_revset *s) {
    char path[] = "/tmp/fm_stress_123456";
    memset(path + sizeof path - 7, 'X', 6); /* mkstemp's template: six trailing 'X' */
    int fd = mkstemp(path);
    if (fd < 0)
        die("mkstemp");
    close(fd);
    fm_revset *out = NULL;
    if (fm_revset_save(s, path) != FM_OK || fm_revset_load(path, &out) != FM_OK)
        die("snapshot save/load");
    unlink(path);
    fm_revset_free(s);
    return out;
}

/* ---- expectations ------------------------------------------------------------------------ */

/* Status of a chain with a store of the given kind, revocations aside. */
static int expected_status(const chain *c, int full, const char *host) {
    int core_host = strcmp(host, "core.example") == 0;
    switch (c->kind) {
    case K_CORE:
        return FM_OK;
    case K_CORE_BAD:
        return FM_ERR_CERT_SIGNATURE_FAILURE;
    case K_TRUNCATED:
        return FM_ERR_MALFORMED_CERT;
    case K_GEN:
        return full && !core_host ? FM_OK : FM_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY;
    case K_GEN_ALONE:
        return full && !core_host && (c->leaf % GEN_INTERS) % 2 == 0
                   ? FM_OK
                   : FM_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY;
    }
    return -1;
}

static int is_revoked_in(const chain *c, int64_t e) {
    return c->kind == K_CORE ? core_revoked(e) : gen_revoked(e, c->leaf);
}

/* ---- shared state ------------------------------------------------------------------------ */

static fm_verifier *v_flag;   /* default policy (revoked = flagged), tiny caches */
static fm_verifier *v_strict; /* FM_OPT_REV_STRICT (revoked = failed), caches off */
static fm_store *pinned_store[2]; /* [0] core only, [1] full */
static fm_revset *pinned_revs[N_PINNED];
static atomic_int running = 1;
static atomic_long n_verified, n_store_swaps, n_rev_swaps, n_clears;

typedef struct job {
    int id;
    long iterations;
} job;

static uint64_t next_rand(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void check_result(const fm_result *r, const chain *c, int full, const char *host,
                         int strict, int64_t epoch /* -1: unknown */) {
    int want = expected_status(c, full, host);
    if (want == FM_OK && strict) {
        if (epoch >= 0 && is_revoked_in(c, epoch)) {
            CHECK(r->status == FM_ERR_CERT_REVOKED && r->depth == 0);
            return;
        }
        if (epoch < 0 && r->status == FM_ERR_CERT_REVOKED) {
            CHECK(r->depth == 0);
            return;
        }
    }
    if (r->status != want) {
        if (atomic_fetch_add(&n_reported, 1) < MAX_REPORTS)
            fprintf(stderr, "chain kind %d leaf %d, store %s, host '%s', %s: got %s, want %s\n",
                    (int)c->kind, c->leaf, full ? "full" : "core-only", host,
                    strict ? "strict" : "flag", fm_status_name(r->status), fm_status_name(want));
        CHECK(r->status == want);
        return;
    }
    if (want != FM_OK)
        return;
    CHECK(r->chain_len == 3);
    CHECK(r->anchor_group == (c->kind == K_CORE ? GROUP_CORE : GROUP_GEN));
    int flagged = (r->flags & FM_RESULT_REVOKED) != 0;
    if (strict) {
        CHECK(!flagged);
    } else if (flagged) {
        /* the epoch is the revocation date: the set that flagged it must revoke this leaf */
        CHECK(r->revoked_depth == 0 && r->revoked_reason == REASON);
        CHECK(is_revoked_in(c, r->revoked_at));
        if (epoch >= 0)
            CHECK(r->revoked_at == epoch);
    } else {
        CHECK(r->revoked_depth == -1);
        if (epoch >= 0)
            CHECK(!is_revoked_in(c, epoch));
    }
}

static void *verifier_main(void *arg) {
    const job *jb = arg;
    uint64_t rng = 0x9E3779B97F4A7C15ULL ^ (uint64_t)(jb->id + 1) * 0x100000001B3ULL;
    for (long i = 0; i < jb->iterations; i++) {
        const chain *c = &chains[next_rand(&rng) % N_CHAINS];
        const char *host = HOSTS[next_rand(&rng) % N_HOSTS];
        int strict = (next_rand(&rng) % 4) == 0;
        fm_verifier *v = strict ? v_strict : v_flag;
        fm_result r;
        if ((i + jb->id) % 2 == 0) {
            /* the handshake path: whatever store and revocation set are current */
            fm_store *used = NULL;
            fm_verify_current(v, c->bytes.p, c->bytes.len, (const uint8_t *)host, strlen(host),
                              CORE_VECTOR_AT, &r, &used);
            CHECK(used != NULL);
            if (used == NULL)
                continue;
            int full = fm_store_anchor_count(used) == 2;
            size_t len;
            const uint8_t *gname = fm_store_group_name(used, GROUP_CORE, &len);
            CHECK(len == 4 && memcmp(gname, "core", 4) == 0);
            fm_store_free(used);
            check_result(&r, c, full, host, strict, -1);
        } else {
            /* explicit snapshots: the result must match them exactly */
            int full = (int)(next_rand(&rng) % 2);
            int k = (int)(next_rand(&rng) % (N_PINNED + 1));
            const fm_revset *revs = k < N_PINNED ? pinned_revs[k] : NULL;
            fm_verify(v, pinned_store[full], revs, c->bytes.p, c->bytes.len, (const uint8_t *)host,
                      strlen(host), CORE_VECTOR_AT, FM_NAME_NONE, NULL, 0, &r);
            check_result(&r, c, full, host, strict, revs ? PINNED_EPOCH + k : -1);
            if (!revs && r.status == FM_OK)
                CHECK((r.flags & FM_RESULT_REVOKED) == 0);
        }
        atomic_fetch_add_explicit(&n_verified, 1, memory_order_relaxed);
    }
    return NULL;
}

static void *swapper_main(void *arg) {
    (void)arg;
    int64_t epoch = 1;
    while (atomic_load(&running)) {
        fm_store *s = make_store((int)(epoch % 2));
        CHECK(fm_verifier_set_store(v_flag, s) == FM_OK);
        CHECK(fm_verifier_set_store(v_strict, s) == FM_OK);
        fm_store_free(s); /* the verifiers hold it now */
        atomic_fetch_add(&n_store_swaps, 1);

        fm_revset *r = epoch % 5 == 4 ? NULL : make_revset(epoch);
        if (r != NULL && epoch % 16 == 3)
            r = reload(r);
        CHECK(fm_verifier_set_revocations(v_flag, r) == FM_OK);
        CHECK(fm_verifier_set_revocations(v_strict, r) == FM_OK);
        fm_revset_free(r);
        atomic_fetch_add(&n_rev_swaps, 1);

        if (epoch % 8 == 0) {
            fm_verifier_clear_caches(v_flag);
            atomic_fetch_add(&n_clears, 1);
        }
        epoch++;
    }
    return NULL;
}

static long iterations_from(int argc, char **argv) {
    const char *s = argc > 1 ? argv[1] : getenv("FM_STRESS_ITERS");
    if (s == NULL || *s == '\0')
        return DEFAULT_ITERATIONS;
    char *end;
    long n = strtol(s, &end, 10);
    if (*end != '\0' || n <= 0)
        die("usage: test_stress [ITERATIONS > 0]");
    return n;
}

static fm_verifier *make_verifier(uint32_t flags, uint32_t cache_size) {
    fm_options o;
    fm_options_default(&o);
    o.flags = flags;
    o.result_cache_size = cache_size;
    o.sig_cache_size = cache_size;
    fm_verifier *v = NULL;
    if (fm_verifier_new(&o, &v) != FM_OK)
        die("fm_verifier_new");
    /* operator intermediates: the even generated ones (K_GEN_ALONE chains build through them) */
    for (int i = 0; i < GEN_INTERS; i += 2)
        if (fm_verifier_add_intermediate(v, gen_inter[i].p, gen_inter[i].len) != FM_OK)
            die("fm_verifier_add_intermediate");
    return v;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    long iterations = iterations_from(argc, argv);
    make_pki();
    make_chains();

    /* 4 result and signature cache entries (the smallest cache: one bucket of 4 ways) against
     * ~50 distinct chains x 3 hosts x every store and set generation: eviction on nearly every
     * call */
    v_flag = make_verifier(0, 1);
    v_strict = make_verifier(FM_OPT_REV_STRICT, 0);
    pinned_store[0] = make_store(0);
    pinned_store[1] = make_store(1);
    for (int k = 0; k < N_PINNED; k++)
        pinned_revs[k] = make_revset(PINNED_EPOCH + k);
    fm_store *first = make_store(1);
    CHECK(fm_verifier_set_store(v_flag, first) == FM_OK);
    CHECK(fm_verifier_set_store(v_strict, first) == FM_OK);
    fm_store_free(first);

    /* single-threaded reference: every chain against the pinned snapshots */
    for (size_t i = 0; i < N_CHAINS; i++) {
        for (int full = 0; full < 2; full++) {
            for (int k = 0; k < N_PINNED; k++) {
                fm_result r;
                fm_verify(v_flag, pinned_store[full], pinned_revs[k], chains[i].bytes.p,
                          chains[i].bytes.len, NULL, 0, CORE_VECTOR_AT, FM_NAME_NONE, NULL, 0, &r);
                check_result(&r, &chains[i], full, "", 0, PINNED_EPOCH + k);
            }
        }
    }

    pthread_t swapper;
    pthread_t tids[N_VERIFIERS];
    job jobs[N_VERIFIERS];
    if (pthread_create(&swapper, NULL, swapper_main, NULL) != 0)
        die("pthread_create");
    for (int t = 0; t < N_VERIFIERS; t++) {
        jobs[t] = (job){t, iterations};
        if (pthread_create(&tids[t], NULL, verifier_main, &jobs[t]) != 0)
            die("pthread_create");
    }
    for (int t = 0; t < N_VERIFIERS; t++)
        pthread_join(tids[t], NULL);
    atomic_store(&running, 0);
    pthread_join(swapper, NULL);

    CHECK(atomic_load(&n_verified) == (long)N_VERIFIERS * iterations);
    printf("stress: %ld verifications by %d threads, %ld store swaps, %ld revocation-set swaps, "
           "%ld cache clears\n",
           atomic_load(&n_verified), N_VERIFIERS, atomic_load(&n_store_swaps),
           atomic_load(&n_rev_swaps), atomic_load(&n_clears));

    fm_verifier_free(v_flag);
    fm_verifier_free(v_strict);
    fm_store_free(pinned_store[0]);
    fm_store_free(pinned_store[1]);
    for (int k = 0; k < N_PINNED; k++)
        fm_revset_free(pinned_revs[k]);
    free_chains();
    free_pki();
    printf("%d passed, %d failed\n", atomic_load(&n_passed), atomic_load(&n_failed));
    fflush(stdout);
    return atomic_load(&n_failed) == 0 ? 0 : 1;
}
