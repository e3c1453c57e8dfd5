/*
 * test_hook_stress.c - concurrency stress of the handshake hook (fm_hook.c): real TLS handshakes
 * over memory BIO pairs on several threads, while another thread swaps the verifier's trust store
 * and revocation set, re-installs hooks on the serving SSL_CTXs and empties the caches.
 *
 * Threads:
 *   - N_WORKERS workers run full handshakes (client and server in the same thread, over a BIO
 *     pair) against two server SSL_CTXs, one hooked in record mode and one in enforce mode, with
 *     TLS 1.3 tickets, TLS 1.2 tickets and TLS 1.2 session IDs (the hook's own session cache),
 *     resuming the session of their previous handshake half of the time, under one of three
 *     server names (none, a.example, b.example: another name than the session's never resumes);
 *     then they read the server's result through a hook that may have been replaced meanwhile
 *     (fm_hook_result's "verified by another hook" path), and again after the connection is
 *     freed;
 *   - one swapper alternates the verifier's store (the PKI's root, or a foreign one) and
 *     revocation set (none, or one revoking the second client), re-installs a new hook on each
 *     context now and then (fm_hook_new + fm_hook_install while handshakes run in the old one;
 *     every third new hook keeps no sessions, so the context's session cache is switched off and
 *     on under handshakes), and empties the verifier's caches.
 *
 * Every result is checked against the store it names (the root: SUCCESS; the foreign one: unable
 * to get the issuer), the good client is never revoked, a record-mode handshake always completes
 * and an enforce-mode one completes exactly when its result is a success without revocation, a
 * resumed connection is verified again. Run it under ThreadSanitizer (tools/sanitize.sh --tsan),
 * AddressSanitizer (.ci/run --c-tests) and valgrind (tools/sanitize.sh --valgrind).
 *
 *   clang -std=c11 -Wall -Wextra -Werror -pedantic -O1 -g -fsanitize=thread -Icsrc \
 *       -Icsrc/include -Icsrc/tests csrc/fm_*.c csrc/tests/test_hook_stress.c -lssl -lcrypto \
 *       -lpthread -ldl -o /tmp/hook_stress
 *   /tmp/hook_stress [HANDSHAKES]   (per worker; default 120, or $FM_STRESS_ITERS / 50, >= 40)
 *
 * Ends with "N passed, N failed"; exits non-zero on failure.
 */
#define _GNU_SOURCE /* dladdr */

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "include/fastmtls.h"
#define TEST_NAME "test_hook_stress"
#include "test_pki.h"

#define N_WORKERS 3
#define DEFAULT_HANDSHAKES 120
#define MAX_HOOKS 256 /* hooks made over a run (all freed at the end) */
#define N_CLIENTS 2   /* client 0 is never revoked; client 1 is in the revocation set */

enum { CTX_RECORD, CTX_ENFORCE, N_CTX };
enum { V_TLS13, V_TLS12_TICKET, V_TLS12_SESSION_ID, N_VARIANTS };

static const char *hook_library; /* the libssl this program is linked with */
static fm_verifier *verifier;
static fm_store *store_root, *store_foreign;
static fm_revset *revs_client1;
static SSL_CTX *server_ctx[N_CTX];
static SSL_CTX *client_ctx[N_VARIANTS];
static X509 *client_cert[N_CLIENTS], *inter_cert;
static EVP_PKEY *client_key[N_CLIENTS];

/* hooks[ctx][0..n_hooks[ctx]) were installed on server_ctx[ctx], the last one most recently */
static fm_hook *hooks[N_CTX][MAX_HOOKS];
static atomic_int n_hooks[N_CTX];
static atomic_long install_seq; /* odd while an install is in progress */
static atomic_int running = 1;
static atomic_long n_handshakes, n_resumed, n_failed_hs, n_store_swaps, n_rev_swaps, n_installs;
static atomic_long n_name_swaps;
/* CA name lists the swapper gives the current hooks under handshakes (as fastmtls.ssl does when
 * the store changes): the root's subject, both subjects, or none */
static unsigned char ca_names[2 * 256];
static size_t ca_names_len[3];

static uint64_t next_rand(uint64_t *s) {
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}

/* ---- set-up ------------------------------------------------------------------------------ */

static void install_hook(int c) {
    int n = atomic_load(&n_hooks[c]);
    if (n >= MAX_HOOKS)
        return;
    atomic_fetch_add(&install_seq, 1);
    fm_hook *h = NULL;
    uint32_t mode = c == CTX_RECORD ? FM_HOOK_RECORD : FM_HOOK_ENFORCE;
    /* every third hook keeps no sessions (TLS 1.2 session IDs do not resume: tickets only),
     * so installs switch the context's session cache on and off under handshakes */
    if (fm_hook_new(hook_library, verifier, mode, NULL, 0, &h) != FM_OK ||
        fm_hook_set_session_cache_size(h, n % 3 == 2 ? 0 : 64) != FM_OK ||
        fm_hook_install(h, server_ctx[c], 1) != FM_OK)
        die("hook install failed");
    hooks[c][n] = h;
    atomic_store(&n_hooks[c], n + 1); /* publishes hooks[c][n] */
    atomic_fetch_add(&install_seq, 1);
    atomic_fetch_add(&n_installs, 1);
}

static void setup(void) {
    Dl_info info;
    void *sym;
    SSL_CTX *(*ctx_new)(const SSL_METHOD *) = SSL_CTX_new;
    memcpy(&sym, &ctx_new, sizeof sym);
    if (dladdr(sym, &info) == 0 || info.dli_fname == NULL)
        die("cannot find the libssl this program is linked with");
    hook_library = info.dli_fname;
    /* the hook resolves OpenSSL with dlopen/dlsym: a libssl linked in statically (CI's builds of
     * the oldest OpenSSL) is out of its reach, as in a Python that links OpenSSL statically */
    {
        fm_options o;
        fm_verifier *v = NULL;
        fm_hook *h = NULL;
        fm_options_default(&o);
        if (fm_verifier_new(&o, &v) != FM_OK)
            die("verifier");
        int rc = fm_hook_new(hook_library, v, FM_HOOK_RECORD, NULL, 0, &h);
        fm_hook_free(h);
        fm_verifier_free(v);
        if (rc == FM_ERR_SYMBOL_NOT_FOUND) {
            printf("test_hook_stress: skipped: libssl is linked statically (%s), the hook needs a "
                   "shared one\n0 passed, 0 failed\n", hook_library);
            exit(0);
        }
        if (rc != FM_OK)
            die("fm_hook_new failed");
    }

    EVP_PKEY *root_key = p256_key(), *inter_key = p256_key(), *foreign_key = p256_key();
    X509 *root = make_cert(root_key, "hook stress root", 1, 1, NULL, NULL);
    X509 *foreign = make_cert(foreign_key, "hook stress foreign root", 2, 1, NULL, NULL);
    inter_cert = make_cert(inter_key, "hook stress intermediate", 10, 1, root, root_key);
    for (int i = 0; i < N_CLIENTS; i++) {
        char cn[48];
        snprintf(cn, sizeof cn, "hook stress client %d", i);
        client_key[i] = p256_key();
        client_cert[i] = make_cert(client_key[i], cn, 100 + i, 0, inter_cert, inter_key);
    }

    der root_der = der_of(root), foreign_der = der_of(foreign), inter_der = der_of(inter_cert);
    {
        unsigned char *p = ca_names;
        int n1 = i2d_X509_NAME(X509_get_subject_name(root), NULL);
        int n2 = i2d_X509_NAME(X509_get_subject_name(foreign), NULL);
        if (n1 <= 0 || n2 <= 0 || (size_t)n1 + (size_t)n2 > sizeof ca_names ||
            i2d_X509_NAME(X509_get_subject_name(root), &p) != n1 ||
            i2d_X509_NAME(X509_get_subject_name(foreign), &p) != n2)
            die("CA names");
        ca_names_len[0] = (size_t)n1, ca_names_len[1] = (size_t)n1 + (size_t)n2;
        ca_names_len[2] = 0;
    }
    der client1_der = der_of(client_cert[1]);
    if (fm_store_new(&store_root) != FM_OK ||
        fm_store_add_anchor(store_root, root_der.p, root_der.len, 1) != FM_OK ||
        fm_store_new(&store_foreign) != FM_OK ||
        fm_store_add_anchor(store_foreign, foreign_der.p, foreign_der.len, 1) != FM_OK)
        die("stores");
    fm_revbuild *b = NULL;
    fm_cert_info ci;
    if (fm_cert_info_get(client1_der.p, client1_der.len, &ci) != FM_OK || fm_revbuild_new(&b) != FM_OK ||
        fm_revbuild_add_entry(b, inter_der.p, inter_der.len, client1_der.p + ci.serial_off,
                              ci.serial_len, 1, 1600000000) != FM_OK ||
        fm_revbuild_finish(b, &revs_client1) != FM_OK)
        die("revocation set");

    fm_options o;
    fm_options_default(&o);
    o.result_cache_size = 4, o.sig_cache_size = 4; /* evictions on nearly every handshake */
    if (fm_verifier_new(&o, &verifier) != FM_OK || fm_verifier_set_store(verifier, store_root) != FM_OK)
        die("verifier");

    EVP_PKEY *server_key = p256_key();
    X509 *server_cert = make_cert(server_key, "hook stress server", 3, 0, NULL, NULL);
    for (int c = 0; c < N_CTX; c++) {
        server_ctx[c] = SSL_CTX_new(TLS_server_method());
        if (server_ctx[c] == NULL || !SSL_CTX_set_min_proto_version(server_ctx[c], TLS1_2_VERSION) ||
            SSL_CTX_use_certificate(server_ctx[c], server_cert) != 1 ||
            SSL_CTX_use_PrivateKey(server_ctx[c], server_key) != 1)
            die("server context");
        install_hook(c);
    }
    for (int v = 0; v < N_VARIANTS; v++) {
        client_ctx[v] = SSL_CTX_new(TLS_client_method());
        if (client_ctx[v] == NULL)
            die("client context");
        int version = v == V_TLS13 ? TLS1_3_VERSION : TLS1_2_VERSION;
        SSL_CTX_set_min_proto_version(client_ctx[v], version);
        SSL_CTX_set_max_proto_version(client_ctx[v], version);
        if (v == V_TLS12_SESSION_ID)
            SSL_CTX_set_options(client_ctx[v], SSL_OP_NO_TICKET);
    }
    X509_free(root), X509_free(foreign), X509_free(server_cert);
    EVP_PKEY_free(root_key), EVP_PKEY_free(inter_key), EVP_PKEY_free(foreign_key);
    EVP_PKEY_free(server_key);
    free(root_der.p), free(foreign_der.p), free(inter_der.p), free(client1_der.p);
}

static void teardown(void) {
    for (int c = 0; c < N_CTX; c++) {
        SSL_CTX_free(server_ctx[c]); /* drops the hook it holds */
        for (int i = 0; i < atomic_load(&n_hooks[c]); i++)
            fm_hook_free(hooks[c][i]);
    }
    for (int v = 0; v < N_VARIANTS; v++)
        SSL_CTX_free(client_ctx[v]);
    for (int i = 0; i < N_CLIENTS; i++)
        X509_free(client_cert[i]), EVP_PKEY_free(client_key[i]);
    X509_free(inter_cert);
    fm_verifier_free(verifier);
    fm_store_free(store_root), fm_store_free(store_foreign);
    fm_revset_free(revs_client1);
}

/* ---- one handshake ----------------------------------------------------------------------- */

/* One step of one end: 0 when it failed, else 1 (*done set once it completed). */
static int step(SSL *ssl, int *done) {
    if (*done)
        return 1;
    int rc = SSL_do_handshake(ssl);
    if (rc == 1)
        *done = 1;
    return rc == 1 || SSL_get_error(ssl, rc) == SSL_ERROR_WANT_READ;
}

/* Drives both ends in turn, a bounded number of rounds. Returns 1 when both completed. */
static int handshake(SSL *client, SSL *server) {
    int c_done = 0, s_done = 0;
    for (int round = 0; round < 64 && !(c_done && s_done); round++)
        if (!step(client, &c_done) || !step(server, &s_done))
            return 0;
    if (!(c_done && s_done))
        return 0;
    /* the client reads what the server sent after its Finished (TLS 1.3 tickets) */
    char byte;
    (void)SSL_read(client, &byte, 1);
    /* a clean close: OpenSSL drops the session of a connection freed without one */
    (void)SSL_shutdown(client);
    (void)SSL_shutdown(server);
    return 1;
}

static fm_hook *current_hook(int c) {
    return hooks[c][atomic_load(&n_hooks[c]) - 1];
}

static void check_result(const fm_result *r, fm_store *store, int client) {
    CHECK(store == store_root || store == store_foreign);
    if (store == store_root)
        CHECK(r->status == FM_OK);
    else
        CHECK(r->status == FM_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
    if (client == 0)
        CHECK(!(r->flags & FM_RESULT_REVOKED));
}

typedef struct worker {
    int id;
    long handshakes;
} worker;

/* The server names clients send (none, or one of two): a session offered under another name than
 * the one it was made with must not resume (RFC 6066 3; fm_hook.c resume_check). */
static const char *const sni_names[] = {NULL, "a.example", "b.example"};
#define N_SNI 3

static void one_handshake(uint64_t *rnd, SSL_SESSION **saved, int *saved_sni) {
    int c = (int)(next_rand(rnd) % N_CTX), v = (int)(next_rand(rnd) % N_VARIANTS);
    int client = (int)(next_rand(rnd) % N_CLIENTS), sni = (int)(next_rand(rnd) % N_SNI);
    size_t si = (size_t)((c * N_VARIANTS + v) * N_CLIENTS + client);
    SSL_SESSION **slot = &saved[si];
    SSL *cl = SSL_new(client_ctx[v]), *sv = SSL_new(server_ctx[c]);
    BIO *bc = NULL, *bs = NULL;
    if (cl == NULL || sv == NULL || BIO_new_bio_pair(&bc, 0, &bs, 0) != 1)
        die("connection set-up");
    SSL_set_bio(cl, bc, bc);
    SSL_set_bio(sv, bs, bs);
    SSL_set_connect_state(cl);
    SSL_set_accept_state(sv);
    if (SSL_use_certificate(cl, client_cert[client]) != 1 ||
        SSL_use_PrivateKey(cl, client_key[client]) != 1 || SSL_add1_chain_cert(cl, inter_cert) != 1)
        die("client certificate");
    if (sni_names[sni] != NULL && SSL_set_tlsext_host_name(cl, sni_names[sni]) != 1)
        die("client server name");
    int offered = *slot != NULL && (next_rand(rnd) & 1u);
    if (offered)
        SSL_set_session(cl, *slot);

    long seq_before = atomic_load(&install_seq);
    int ok = handshake(cl, sv);
    ERR_clear_error();
    atomic_fetch_add(&n_handshakes, 1);
    fm_hook *h = current_hook(c);
    fm_result r;
    fm_store *store = NULL;
    const uint8_t *der = NULL;
    size_t der_len = 0;
    int resumed = 0;
    void *handle = NULL;
    int have = fm_hook_result(h, sv, &r, &store, &der, &der_len, &resumed, &handle);
    CHECK(have >= 0); /* the handshake ran: never "not started" */
    /* no install overlapped the handshake and the lookup: the hook that ran the handshake
     * answered, with the result that decided it; otherwise the current hook may have verified
     * again, now, with what the verifier holds now */
    int own = !(seq_before & 1) && atomic_load(&install_seq) == seq_before;
    if (c == CTX_RECORD)
        CHECK(ok); /* record mode: every handshake completes */
    if (ok) {
        if (resumed)
            atomic_fetch_add(&n_resumed, 1);
        if (resumed) /* only under the server name the session was made with */
            CHECK(offered && saved_sni[si] == sni);
        CHECK(have); /* a completed mTLS handshake (full or resumed) was verified */
        if (have) {
            check_result(&r, store, client);
            if (c == CTX_ENFORCE && own)
                CHECK(r.status == FM_OK && !(r.flags & FM_RESULT_REVOKED));
        }
        SSL_SESSION_free(*slot);
        *slot = SSL_get1_session(cl);
        if (!resumed) /* a resumed session keeps the name of its first handshake */
            saved_sni[si] = sni;
    } else {
        atomic_fetch_add(&n_failed_hs, 1);
        /* enforce mode refused: the result that made it refuse is on the connection */
        CHECK(have);
        if (have) {
            check_result(&r, store, client);
            if (own)
                CHECK(r.status != FM_OK || (r.flags & FM_RESULT_REVOKED));
        }
    }
    SSL_free(cl);
    SSL_free(sv);
    if (have) { /* still readable after the connection is gone: leaf and intermediate */
        size_t offs[4], lens[4], n = 0;
        CHECK(fm_chain_split(der, der_len, offs, lens, 4, &n) == FM_OK && n == 2);
        check_result(&r, store, client);
        fm_hook_result_release(handle);
    }
}

static void *worker_main(void *arg) {
    worker *w = arg;
    uint64_t rnd = 0x9E3779B97F4A7C15ull * (uint64_t)(w->id + 1);
    SSL_SESSION *saved[N_CTX * N_VARIANTS * N_CLIENTS] = {0};
    int saved_sni[N_CTX * N_VARIANTS * N_CLIENTS] = {0};
    for (long i = 0; i < w->handshakes; i++)
        one_handshake(&rnd, saved, saved_sni);
    for (size_t i = 0; i < sizeof saved / sizeof saved[0]; i++)
        SSL_SESSION_free(saved[i]);
    return NULL;
}

static void *swapper_main(void *arg) {
    (void)arg;
    uint64_t rnd = 12345;
    for (long round = 0; atomic_load(&running); round++) {
        uint64_t x = next_rand(&rnd);
        if (x & 1u) {
            fm_verifier_set_store(verifier, (x & 2u) ? store_foreign : store_root);
            atomic_fetch_add(&n_store_swaps, 1);
        }
        if (x & 4u) {
            fm_verifier_set_revocations(verifier, (x & 8u) ? revs_client1 : NULL);
            atomic_fetch_add(&n_rev_swaps, 1);
        }
        if (round % 7 == 3)
            install_hook((int)((x >> 4) % N_CTX));
        if (x & 16u) { /* the hooks' CertificateRequest lists, replaced under handshakes */
            int c = (int)((x >> 5) % N_CTX);
            if (fm_hook_set_ca_names(current_hook(c), ca_names, ca_names_len[(x >> 6) % 3]) !=
                FM_OK)
                die("fm_hook_set_ca_names");
            atomic_fetch_add(&n_name_swaps, 1);
        }
        if (round % 11 == 5)
            fm_verifier_clear_caches(verifier);
        struct timespec ts = {0, 300000}; /* 0.3 ms */
        nanosleep(&ts, NULL);
    }
    return NULL;
}

int main(int argc, char **argv) {
    long per_worker = DEFAULT_HANDSHAKES;
    const char *env = getenv("FM_STRESS_ITERS");
    if (argc > 1)
        per_worker = strtol(argv[1], NULL, 10);
    else if (env != NULL) /* the verification count of test_stress: 1/50 of it, at least 40 */
        per_worker = strtol(env, NULL, 10) / 50 > 40 ? strtol(env, NULL, 10) / 50 : 40;
    if (per_worker <= 0)
        die("usage: test_hook_stress [HANDSHAKES]");
    setup();
    pthread_t workers[N_WORKERS], swapper;
    worker args[N_WORKERS];
    if (pthread_create(&swapper, NULL, swapper_main, NULL) != 0)
        die("pthread_create");
    for (int i = 0; i < N_WORKERS; i++) {
        args[i] = (worker){i, per_worker};
        if (pthread_create(&workers[i], NULL, worker_main, &args[i]) != 0)
            die("pthread_create");
    }
    for (int i = 0; i < N_WORKERS; i++)
        pthread_join(workers[i], NULL);
    atomic_store(&running, 0);
    pthread_join(swapper, NULL);
    teardown();
    printf("handshakes %ld (resumed %ld, refused %ld); store swaps %ld, revocation swaps %ld, "
           "hook installs %ld, CA name lists %ld\n",
           atomic_load(&n_handshakes), atomic_load(&n_resumed), atomic_load(&n_failed_hs),
           atomic_load(&n_store_swaps), atomic_load(&n_rev_swaps), atomic_load(&n_installs),
           atomic_load(&n_name_swaps));
    /* the run must have exercised what it claims to */
    CHECK(atomic_load(&n_resumed) > 0);
    CHECK(atomic_load(&n_failed_hs) > 0);
    CHECK(atomic_load(&n_installs) > N_CTX);
    CHECK(atomic_load(&n_name_swaps) > 0);
    printf("%d passed, %d failed\n", atomic_load(&n_passed), atomic_load(&n_failed));
    return atomic_load(&n_failed) == 0 ? 0 : 1;
}
