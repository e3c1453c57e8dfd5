/* fm_hook.c - fastmtls inside an OpenSSL handshake: a certificate verification callback on an
 * SSL_CTX that some other code (CPython's ssl module) owns.
 *
 * Every OpenSSL function used here is resolved with dlsym from the library the owner loaded, and
 * no OpenSSL header is included: a second libcrypto in the process (a wheel's own, used by
 * fm_crypto.c) never touches these objects. Only DER bytes travel from the callback into the
 * verification core. The callbacks run on the handshake thread without the GIL: no Python here.
 *
 * Constants below are OpenSSL ABI values, stable since 1.1.1 (checked against ssl.h, x509_vfy.h,
 * crypto.h and tls1.h of OpenSSL 3.0).
 */
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fm_internal.h"
#include "fm_lock.h"

#ifndef _WIN32
#include <dlfcn.h>
#endif

/* ---- OpenSSL ABI --------------------------------------------------------------------------- */

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_session_st SSL_SESSION;
typedef struct x509_st X509;
typedef struct x509_store_ctx_st X509_STORE_CTX;
typedef struct x509_name_st X509_NAME;
typedef struct stack_st OPENSSL_STACK;
typedef struct crypto_ex_data_st CRYPTO_EX_DATA;
typedef void CRYPTO_EX_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                            void *argp);

enum {
    CRYPTO_EX_INDEX_SSL = 0,
    CRYPTO_EX_INDEX_SSL_CTX = 1,
    TLSEXT_NAMETYPE_host_name = 0,
    TLSEXT_TYPE_session_ticket = 35,
    SSL_CTRL_SET_SESS_CACHE_MODE = 44,
    SSL_SESS_CACHE_OFF = 0,
    SSL_SESS_CACHE_SERVER = 0x0002,
    SSL_SESS_CACHE_NO_INTERNAL = 0x0300, /* NO_INTERNAL_LOOKUP | NO_INTERNAL_STORE */
    SSL_OP_NO_TICKET = 0x00004000,
    TLS1_3_VERSION = 0x0304,
    SSL_CLIENT_HELLO_SUCCESS = 1,
    SSL_CLIENT_HELLO_ERROR = 0,
    SSL_AD_ILLEGAL_PARAMETER = 47, /* TLS alert codes (RFC 8446 6) */
    SSL_AD_INTERNAL_ERROR = 80,
    SSL_AD_NO_RENEGOTIATION = 100,
    SSL_OP_NO_RENEGOTIATION = 0x40000000,
    SSL_VERIFY_PEER = 0x01,
    SSL_VERIFY_FAIL_IF_NO_PEER_CERT = 0x02,
    SSL_CB_ACCEPT_EXIT = 0x2002, /* SSL_ST_ACCEPT | SSL_CB_EXIT */
    TLS_ST_OK = 1, /* OSSL_HANDSHAKE_STATE: no handshake message pending (1.1.1 and 3.x) */
    SSL_TICKET_EMPTY = 3,
    SSL_TICKET_NO_DECRYPT = 4,
    SSL_TICKET_SUCCESS = 5,
    SSL_TICKET_SUCCESS_RENEW = 6,
    SSL_TICKET_RETURN_IGNORE = 1,
    SSL_TICKET_RETURN_IGNORE_RENEW = 2,
    SSL_TICKET_RETURN_USE = 3,
    SSL_TICKET_RETURN_USE_RENEW = 4,
    X509_V_OK = 0,
    X509_V_ERR_UNABLE_TO_GET_CRL = 3,
    X509_V_ERR_CERT_SIGNATURE_FAILURE = 7,
    X509_V_ERR_CERT_NOT_YET_VALID = 9,
    X509_V_ERR_CERT_HAS_EXPIRED = 10,
    X509_V_ERR_CRL_NOT_YET_VALID = 11,
    X509_V_ERR_CRL_HAS_EXPIRED = 12,
    X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT = 18,
    X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN = 19,
    X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY = 20,
    X509_V_ERR_CERT_CHAIN_TOO_LONG = 22,
    X509_V_ERR_CERT_REVOKED = 23,
    X509_V_ERR_PATH_LENGTH_EXCEEDED = 25,
    X509_V_ERR_INVALID_PURPOSE = 26,
    X509_V_ERR_CERT_REJECTED = 28,
    X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION = 34,
    X509_V_ERR_NO_EXPLICIT_POLICY = 43,
};

typedef int (*verify_cb_fn)(X509_STORE_CTX *, void *);
typedef int (*gen_ticket_fn)(SSL *, void *);
typedef int (*cert_cb_fn)(SSL *, void *);
typedef int (*dec_ticket_fn)(SSL *, SSL_SESSION *, const unsigned char *, size_t, int, void *);
typedef int (*client_hello_fn)(SSL *, int *, void *);
typedef int (*new_sess_fn)(SSL *, SSL_SESSION *);
typedef SSL_SESSION *(*get_sess_fn)(SSL *, const unsigned char *, int, int *);
typedef void (*info_cb_fn)(const SSL *, int, int);
typedef void (*remove_sess_fn)(SSL_CTX *, SSL_SESSION *);

/* The OpenSSL functions the hook calls, resolved from the owner's library. */
#define FM_SSL_FUNCS(X)                                                                        \
    X(void, SSL_CTX_set_cert_verify_callback, (SSL_CTX *, verify_cb_fn, void *))              \
    X(void, SSL_CTX_set_verify, (SSL_CTX *, int, void *))                                     \
    X(int, SSL_CTX_get_verify_mode, (const SSL_CTX *))                                        \
    X(void *, SSL_CTX_get_verify_callback, (const SSL_CTX *))                                 \
    X(void, SSL_CTX_set_cert_cb, (SSL_CTX *, cert_cb_fn, void *))                             \
    X(void, SSL_set_verify, (SSL *, int, void *))                                             \
    X(long, SSL_CTX_ctrl, (SSL_CTX *, int, long, void *))                                      \
    X(int, SSL_CTX_set_ex_data, (SSL_CTX *, int, void *))                                     \
    X(void *, SSL_CTX_get_ex_data, (const SSL_CTX *, int))                                     \
    X(int, SSL_CTX_set_session_ticket_cb, (SSL_CTX *, gen_ticket_fn, dec_ticket_fn, void *))   \
    X(void, SSL_set_client_CA_list, (SSL *, OPENSSL_STACK *))                                  \
    X(OPENSSL_STACK *, SSL_dup_CA_list, (const OPENSSL_STACK *))                               \
    X(SSL_CTX *, SSL_get_SSL_CTX, (const SSL *))                                               \
    X(int, SSL_set_ex_data, (SSL *, int, void *))                                              \
    X(void *, SSL_get_ex_data, (const SSL *, int))                                             \
    X(const char *, SSL_get_servername, (const SSL *, int))                                    \
    X(SSL_SESSION *, SSL_get_session, (const SSL *))                                           \
    X(int, SSL_session_reused, (const SSL *))                                                  \
    X(size_t, SSL_get_num_tickets, (const SSL *))                                              \
    X(int, SSL_in_before, (const SSL *))                                                       \
    X(int, SSL_is_server, (const SSL *))                                                       \
    X(int, SSL_get_ex_data_X509_STORE_CTX_idx, (void))                                         \
    X(int, SSL_SESSION_set1_ticket_appdata, (SSL_SESSION *, const void *, size_t))             \
    X(int, SSL_SESSION_get0_ticket_appdata, (SSL_SESSION *, void **, size_t *))                \
    X(void, SSL_CTX_sess_set_new_cb, (SSL_CTX *, new_sess_fn))                                 \
    X(void, SSL_CTX_sess_set_get_cb, (SSL_CTX *, get_sess_fn))                                 \
    X(void, SSL_CTX_sess_set_remove_cb, (SSL_CTX *, remove_sess_fn))                           \
    X(const unsigned char *, SSL_SESSION_get_id, (const SSL_SESSION *, unsigned int *))        \
    X(int, SSL_SESSION_up_ref, (SSL_SESSION *))                                                \
    X(void, SSL_SESSION_free, (SSL_SESSION *))                                                 \
    X(long, SSL_SESSION_get_time, (const SSL_SESSION *))                                       \
    X(long, SSL_SESSION_get_timeout, (const SSL_SESSION *))                                    \
    X(int, i2d_SSL_SESSION, (SSL_SESSION *, unsigned char **))                                 \
    X(int, SSL_version, (const SSL *))                                                         \
    X(int, SSL_CTX_set_session_id_context, (SSL_CTX *, const unsigned char *, unsigned int))   \
    X(int, SSL_SESSION_set1_id_context, (SSL_SESSION *, const unsigned char *, unsigned int))  \
    X(int, SSL_set_session_id_context, (SSL *, const unsigned char *, unsigned int))           \
    X(void, SSL_CTX_set_client_hello_cb, (SSL_CTX *, client_hello_fn, void *))                 \
    X(void, SSL_CTX_set_info_callback, (SSL_CTX *, info_cb_fn))                                \
    X(info_cb_fn, SSL_CTX_get_info_callback, (SSL_CTX *))                                      \
    X(uint64_t, SSL_get_options, (const SSL *))                                                \
    X(uint64_t, SSL_CTX_set_options, (SSL_CTX *, uint64_t))                                    \
    X(int, SSL_get_state, (const SSL *))                                                       \
    X(size_t, SSL_get_peer_finished, (const SSL *, void *, size_t))                            \
    X(int, SSL_client_hello_get0_ext, (SSL *, unsigned int, const unsigned char **, size_t *)) \
    X(unsigned int, SSL_client_hello_get0_legacy_version, (SSL *))                             \
    X(int, CRYPTO_get_ex_new_index, (int, long, void *, void *, void *, CRYPTO_EX_free *))    \
    X(void *, X509_STORE_CTX_get_ex_data, (const X509_STORE_CTX *, int))                       \
    X(X509 *, X509_STORE_CTX_get0_cert, (const X509_STORE_CTX *))                              \
    X(OPENSSL_STACK *, X509_STORE_CTX_get0_untrusted, (const X509_STORE_CTX *))                \
    X(void, X509_STORE_CTX_set_error, (X509_STORE_CTX *, int))                                 \
    X(int, X509_verify_cert, (X509_STORE_CTX *))                                               \
    X(int, i2d_X509, (X509 *, unsigned char **))                                               \
    X(void, X509_free, (X509 *))                                                               \
    X(X509_NAME *, d2i_X509_NAME, (X509_NAME **, const unsigned char **, long))                \
    X(void, X509_NAME_free, (X509_NAME *))                                                     \
    X(int, OPENSSL_sk_num, (const OPENSSL_STACK *))                                            \
    X(void *, OPENSSL_sk_value, (const OPENSSL_STACK *, int))                                  \
    X(OPENSSL_STACK *, OPENSSL_sk_new_null, (void))                                            \
    X(int, OPENSSL_sk_push, (OPENSSL_STACK *, const void *))                                   \
    X(void, OPENSSL_sk_pop_free, (OPENSSL_STACK *, void (*)(void *)))

typedef struct ssl_api {
#define FM_X_PTR(ret, name, args) ret(*name) args;
    FM_SSL_FUNCS(FM_X_PTR)
#undef FM_X_PTR
    /* the peer's certificate: SSL_get0_peer_certificate (OpenSSL 3), else 1.1.1's
     * SSL_get_peer_certificate, which returns a reference (peer_owned: X509_free it) */
    X509 *(*peer_certificate)(const SSL *);
    int peer_owned;
} ssl_api;

#define FM_SNI_MAX 255u /* OpenSSL's TLSEXT_MAXLEN_host_name: longer names fail the handshake */

/* What the hook keeps per connection (SSL ex_data): the result and the presented chain. */
typedef struct conn_result {
    atomic_int refs; /* the connection's, and each reader's (conn_result_get) */
    fm_result res;
    fm_store *store; /* the store the result was computed with (a reference) */
    uint64_t by;     /* the id of the hook that computed it */
    uint64_t origin; /* the id of the hooked SSL_CTX (its ctx_ref) whose hook that was */
    int resumed;
    /* set on the connection's thread when the handshake (or post-handshake authentication) it
     * was computed in has finished: its client proved the chain (info_cb) */
    atomic_int proven;
    size_t sni_len;
    uint8_t sni[FM_SNI_MAX]; /* the server name of the handshake it was computed in */
    size_t len;
    uint8_t der[]; /* the presented chain, DER concatenated, leaf first */
} conn_result;

struct fm_hook {
    atomic_int refs;
    uint64_t id; /* unique in the process (an address can be reused once a hook is freed) */
    ssl_api api;
    fm_verifier *v;
    uint32_t mode;
    int ssl_idx; /* SSL ex_data index of conn_result */
    int ctx_idx; /* SSL_CTX ex_data index: the SSL_CTX's reference to the hook */
    int listen_idx; /* SSL ex_data index: the ctx_ref of the accepting SSL_CTX */
    int hello_idx;  /* SSL ex_data index: the hello_rec of the connection's first ClientHello */
    uint8_t host[256];
    size_t host_len; /* fixed host for associations; 0 = use SNI */
    struct sess_cache *sessions; /* session-ID resumption; NULL = session IDs off */
    /* X509_NAMEs for each CertificateRequest (NULL = none): replaced when the trust store
     * changes, while handshakes copy it; read (a reference taken) or replaced under names_lock */
    fm_lock names_lock;
    struct ca_list *ca_names;
};

/* An immutable list of CA names, freed by its last reader. */
typedef struct ca_list {
    atomic_int refs;
    OPENSSL_STACK *sk;
} ca_list;

static void ca_list_unref(const ssl_api *a, ca_list *l) {
    if (l && atomic_fetch_sub_explicit(&l->refs, 1, memory_order_acq_rel) == 1) {
        a->OPENSSL_sk_pop_free(l->sk, (void (*)(void *))a->X509_NAME_free);
        free(l);
    }
}

/* ---- symbol resolution -------------------------------------------------------------------- */

int fm_hook_resolve(const char *library_path, fm_hook *h) {
#ifdef _WIN32
    (void)library_path;
    (void)h;
    return FM_ERR_UNSUPPORTED_PLATFORM;
#else
    if (library_path == NULL)
        return FM_ERR_INVALID_ARGUMENT;
    /* RTLD_NOLOAD: only a library the process already loaded (the ssl module's own). */
    void *lib = dlopen(library_path, RTLD_NOW | RTLD_NOLOAD | RTLD_LOCAL);
    if (lib == NULL)
        return FM_ERR_SYMBOL_NOT_FOUND;
    int ok = 1;
#define FM_X_SYM(ret, name, args)                                                  \
    {                                                                              \
        void *sym = dlsym(lib, #name);                                             \
        ok &= sym != NULL;                                                         \
        memcpy(&h->api.name, &sym, sizeof sym); /* object -> function pointer */ \
    }
    FM_SSL_FUNCS(FM_X_SYM)
#undef FM_X_SYM
    void *peer = dlsym(lib, "SSL_get0_peer_certificate");
    h->api.peer_owned = peer == NULL;
    if (peer == NULL)
        peer = dlsym(lib, "SSL_get_peer_certificate");
    ok &= peer != NULL;
    memcpy(&h->api.peer_certificate, &peer, sizeof peer);
    /* The handle may be closed: the library stays loaded by its owner. */
    dlclose(lib);
    return ok ? FM_OK : FM_ERR_SYMBOL_NOT_FOUND;
#endif
}

/* ---- lifetime ------------------------------------------------------------------------------ */

/* ex_data indexes are a process-wide OpenSSL resource that is never given back, and every SSL
 * object pays for each one: allocate them once per library and share them between hooks. The
 * free callbacks are the same for every hook, so sharing is safe. Guarded by g_idx_lock. */
static fm_lock g_idx_lock = FM_LOCK_INITIALIZER;
static void *g_idx_owner; /* CRYPTO_get_ex_new_index of the library the indexes belong to */
static int g_ssl_idx = -1, g_ctx_idx = -1;
static int g_listen_idx = -1; /* SSL ex_data: the ctx_ref of the SSL_CTX that accepted it */
static int g_hello_idx = -1;  /* SSL ex_data: hello_rec */

/* The server name of a connection's first ClientHello, kept so that the second one (after a
 * TLS 1.3 HelloRetryRequest) can be held to it (see client_hello_cb): the raw server_name
 * extension (kept by client_hello_cb), or the name OpenSSL parsed from it (kept by cert_cb,
 * when the ClientHello is gone). Owned by the SSL. */
typedef struct hello_rec {
    int raw;     /* 1: bytes are the extension's body; 0: the host name */
    int present; /* the extension was sent (raw), a name was (not raw) */
    size_t len;
    uint8_t bytes[];
} hello_rec;

static void free_hello_rec(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                           void *argp) {
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    free(ptr);
}

/* ---- session-ID cache ---------------------------------------------------------------------- */

/* OpenSSL's own server session cache restores a session's old verification result and offers no
 * callback on that path, so a hooked context uses this external cache instead
 * (SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_INTERNAL). An entry keeps the SSL_SESSION (one
 * reference) and its session data (sd_encode: the chain the client presented, the server name and
 * the hooked SSL_CTX of the handshake that created it); a lookup checks it again (resume_check)
 * before the session may resume. Bounded
 * (the oldest entry goes first), thread safe (one lock, never held while OpenSSL or the verifier
 * runs). Sessions of TLS 1.3 stateless tickets are not kept: the ticket callbacks verify those. */

#define SESS_BUCKETS 4096u /* power of two */
#define SESS_MAX_ID 32u

typedef struct sess_entry {
    struct sess_entry *next;             /* bucket chain */
    struct sess_entry *older, *newer;    /* age list */
    SSL_SESSION *sess;                   /* one reference, owned */
    uint8_t id[SESS_MAX_ID];
    size_t id_len, data_len;
    size_t cost;                         /* estimated memory (sess_cost) */
    uint8_t data[];                      /* the session data (sd_encode) */
} sess_entry;

typedef struct sess_cache {
    fm_lock lock;
    sess_entry *buckets[SESS_BUCKETS];
    sess_entry *oldest, *newest;
    size_t n, cap; /* cap: set before install (fm_hook_set_session_cache_size) */
    size_t bytes, cap_bytes; /* estimated memory held, and its bound (..._cache_bytes) */
} sess_cache;

/* A session's estimated memory: the entry with its data (the client's chain, as DER), and
 * OpenSSL's SSL_SESSION, which keeps the peer's chain parsed (measured at about three times its
 * DER), plus its fixed part. A bound in bytes beside the count: a client sending a 100 KB chain
 * must not make each of the cache's sessions cost that much. */
static size_t sess_cost(size_t data_len) {
    return data_len > (SIZE_MAX - sizeof(sess_entry) - 2048) / 4
               ? SIZE_MAX
               : sizeof(sess_entry) + 4 * data_len + 2048;
}

/* The callbacks OpenSSL calls for its session cache take no argument: they find their hook
 * through the SSL_CTX's ex_data, with functions of the library whose SSL_CTX it is. The first
 * library a hook is made for provides them, published once; hooks of any other library (never
 * seen with CPython) keep session IDs off. */
typedef struct sess_globals {
    void *owner;
    int ctx_idx, listen_idx;
    SSL_CTX *(*get_ctx)(const SSL *);
    void *(*ctx_get_ex)(const SSL_CTX *, int);
    void *(*ssl_get_ex)(const SSL *, int);
} sess_globals;
static sess_globals g_sess_storage;
static _Atomic(const sess_globals *) g_sess;

typedef struct ctx_ref ctx_ref;
static fm_hook *ref_get(ctx_ref *r);
static void hook_unref(fm_hook *h);

/* The hook `r` holds when that hook keeps sessions (a session-ID cache of at least one), with a
 * reference for the caller (hook_unref); NULL otherwise. */
static fm_hook *sess_hook_of_ref(ctx_ref *r) {
    fm_hook *h = ref_get(r);
    if (h != NULL && (h->sessions == NULL || h->sessions->cap == 0)) {
        hook_unref(h);
        return NULL;
    }
    return h;
}

static fm_hook *sess_hook_of_ctx(SSL_CTX *ctx) {
    const sess_globals *g = atomic_load_explicit(&g_sess, memory_order_acquire);
    return sess_hook_of_ref((g && ctx) ? g->ctx_get_ex(ctx, g->ctx_idx) : NULL);
}

/* OpenSSL calls the session callbacks of the SSL_CTX that accepted the connection, also after an
 * sni_callback moved it to another one: the accepting SSL_CTX's hook (whose ctx_ref
 * client_hello_cb left on the SSL) owns the cache. */
static fm_hook *sess_hook_of(SSL *ssl) {
    const sess_globals *g = atomic_load_explicit(&g_sess, memory_order_acquire);
    if (g == NULL)
        return NULL;
    ctx_ref *r = g->listen_idx >= 0 ? g->ssl_get_ex(ssl, g->listen_idx) : NULL;
    return r ? sess_hook_of_ref(r) : sess_hook_of_ctx(g->get_ctx(ssl));
}

static size_t sess_bucket(const uint8_t *id, size_t len) {
    fm_span s = {id, len};
    return (size_t)(fm_hash64(0x73657373696f6eULL, &s, 1) & (SESS_BUCKETS - 1));
}

/* Unlinks the entry for `id` (and, when `only` is not NULL, only if it holds that session).
 * Caller holds the lock; frees nothing. */
static sess_entry *sess_unlink(sess_cache *c, const uint8_t *id, size_t len,
                               const SSL_SESSION *only) {
    sess_entry **pp = &c->buckets[sess_bucket(id, len)];
    for (; *pp; pp = &(*pp)->next) {
        sess_entry *e = *pp;
        if (e->id_len == len && memcmp(e->id, id, len) == 0 && (only == NULL || e->sess == only)) {
            *pp = e->next;
            if (e->older)
                e->older->newer = e->newer;
            else
                c->oldest = e->newer;
            if (e->newer)
                e->newer->older = e->older;
            else
                c->newest = e->older;
            c->n--;
            c->bytes -= e->cost;
            return e;
        }
    }
    return NULL;
}

static void sess_entry_free(const ssl_api *a, sess_entry *e) {
    if (e) {
        a->SSL_SESSION_free(e->sess);
        free(e);
    }
}

static void sess_cache_free(fm_hook *h) {
    sess_cache *c = h->sessions;
    if (c == NULL)
        return;
    for (sess_entry *e = c->oldest, *next; e; e = next) {
        next = e->newer;
        sess_entry_free(&h->api, e);
    }
    fm_lock_destroy(&c->lock);
    free(c);
    h->sessions = NULL;
}

static void hook_unref(fm_hook *h) {
    if (h && atomic_fetch_sub_explicit(&h->refs, 1, memory_order_acq_rel) == 1) {
        sess_cache_free(h);
        ca_list_unref(&h->api, h->ca_names);
        fm_lock_destroy(&h->names_lock);
        if (h->v != NULL)
            fm_verifier_unref(h->v);
        free(h);
    }
}

static void conn_result_unref(conn_result *cr) {
    if (cr && atomic_fetch_sub_explicit(&cr->refs, 1, memory_order_acq_rel) == 1) {
        fm_store_free(cr->store);
        free(cr);
    }
}

/* A connection's result is replaced on the handshake's thread (a ticket refused, then a full
 * handshake; a renegotiation) and read from others (fastmtls.ssl.result): reading it and taking
 * a reference, or replacing it, happens under this lock, for a few loads and stores.
 * So does every SSL_set_ex_data of the hook on a connection's SSL (conn_set_ex), whatever its
 * index: the SSL keeps its ex_data in one growable array, which the first store at an index
 * past its end reallocates (a connection's first ClientHello stores at the hook's indexes),
 * and a reader on another thread (conn_result_get) would read it freed. The hook's stores all
 * happen on the handshake's thread, so its reads there need no lock. */
static fm_lock g_conn_lock = FM_LOCK_INITIALIZER;

/* SSL_set_ex_data(ssl, idx, v) under g_conn_lock (see there); its return value. */
static int conn_set_ex(const fm_hook *h, SSL *ssl, int idx, void *v) {
    fm_lock_acquire(&g_conn_lock);
    int rc = h->api.SSL_set_ex_data(ssl, idx, v);
    fm_lock_release(&g_conn_lock);
    return rc;
}

/* The result stored on `ssl`, with a reference for the caller (conn_result_unref), or NULL. */
static conn_result *conn_result_get(const fm_hook *h, SSL *ssl) {
    fm_lock_acquire(&g_conn_lock);
    conn_result *cr = h->api.SSL_get_ex_data(ssl, h->ssl_idx);
    if (cr != NULL)
        atomic_fetch_add_explicit(&cr->refs, 1, memory_order_relaxed);
    fm_lock_release(&g_conn_lock);
    return cr;
}

/* Removes the result stored on `ssl`, if any: what a connection knew before (a session it
 * offered, a handshake that could not store its own result) must not stand for what follows. */
static void conn_result_drop(const fm_hook *h, SSL *ssl) {
    fm_lock_acquire(&g_conn_lock);
    conn_result *old = h->api.SSL_get_ex_data(ssl, h->ssl_idx);
    int dropped = old == NULL || h->api.SSL_set_ex_data(ssl, h->ssl_idx, NULL) == 1;
    fm_lock_release(&g_conn_lock);
    if (old != NULL && dropped)
        conn_result_unref(old);
}

/* SSL ex_data free callback: the SSL is being freed; readers hold references of their own. */
static void free_conn_result(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                             void *argp) {
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    conn_result_unref(ptr);
}

/* An SSL_CTX's hold on its hook (the SSL_CTX's ex_data): made by the first install on that
 * SSL_CTX and freed with it, after its last handshake, so it is what OpenSSL's callbacks get as
 * their argument. A later install swaps the hook inside. Every callback takes its own reference
 * to the hook for as long as it runs (ref_get, under the lock that the swap takes too): a swap
 * never frees a hook that a handshake in flight is using, and no callback waits for a swap
 * longer than a pointer copy. */
struct ctx_ref {
    fm_lock lock;
    fm_hook *hook;          /* one reference; never NULL */
    uint64_t id;            /* unique in the process; what session data names its SSL_CTX by */
    atomic_int verify_mode; /* SSL_VERIFY_* that cert_cb gives each full handshake */
    _Atomic(info_cb_fn) prev_info; /* the SSL_CTX's info callback before install (chained) */
    ctx_ref *reg_next;      /* registry bucket chain */
};

/* The registry of live hooked SSL_CTXs, by ctx_ref id: a resumption is checked by the hook of the
 * SSL_CTX that verified the session (its origin), which after an sni_callback switch is not the
 * listening one whose callbacks OpenSSL runs. An entry leaves before its ctx_ref is freed; a
 * lookup takes its hook reference under the registry lock (lock order: g_reg_lock, then a
 * ctx_ref's lock). */
#define REG_BUCKETS 256u
static fm_lock g_reg_lock = FM_LOCK_INITIALIZER;
static ctx_ref *g_reg[REG_BUCKETS];
static atomic_uint_fast64_t g_ctx_ids = 1;

static void reg_add(ctx_ref *r) {
    fm_lock_acquire(&g_reg_lock);
    r->reg_next = g_reg[r->id % REG_BUCKETS];
    g_reg[r->id % REG_BUCKETS] = r;
    fm_lock_release(&g_reg_lock);
}

static void reg_remove(ctx_ref *r) {
    fm_lock_acquire(&g_reg_lock);
    for (ctx_ref **pp = &g_reg[r->id % REG_BUCKETS]; *pp; pp = &(*pp)->reg_next) {
        if (*pp == r) {
            *pp = r->reg_next;
            break;
        }
    }
    fm_lock_release(&g_reg_lock);
}

/* The hook that the hooked SSL_CTX `id` holds now, with a reference (hook_unref); NULL when that
 * SSL_CTX is gone. */
static fm_hook *reg_hook(uint64_t id) {
    fm_hook *h = NULL;
    fm_lock_acquire(&g_reg_lock);
    for (ctx_ref *r = g_reg[id % REG_BUCKETS]; r; r = r->reg_next) {
        if (r->id == id) {
            h = ref_get(r);
            break;
        }
    }
    fm_lock_release(&g_reg_lock);
    return h;
}

/* The hook `r` holds now, with a reference for the caller (hook_unref when done); NULL for
 * NULL. */
static fm_hook *ref_get(ctx_ref *r) {
    if (r == NULL)
        return NULL;
    fm_lock_acquire(&r->lock);
    fm_hook *h = r->hook;
    atomic_fetch_add_explicit(&h->refs, 1, memory_order_relaxed);
    fm_lock_release(&r->lock);
    return h;
}

static void free_ctx_ref(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                         void *argp) {
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    ctx_ref *r = ptr;
    if (r == NULL)
        return;
    reg_remove(r);
    hook_unref(r->hook);
    fm_lock_destroy(&r->lock);
    free(r);
}

static atomic_uint_fast64_t g_hook_ids = 1;

int fm_hook_new(const char *library_path, fm_verifier *v, uint32_t mode, const uint8_t *host,
                size_t host_len, fm_hook **out) {
    if (out == NULL)
        return FM_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if ((v == NULL) != (mode == FM_HOOK_GUARD) || mode > FM_HOOK_GUARD ||
        host_len > sizeof((fm_hook *)0)->host || (host_len && host == NULL))
        return FM_ERR_INVALID_ARGUMENT;
    fm_hook *h = calloc(1, sizeof *h);
    if (h == NULL)
        return FM_ERR_NOMEM;
    int rc = fm_hook_resolve(library_path, h);
    if (rc != FM_OK) {
        free(h);
        return rc;
    }
    if (fm_lock_init(&h->names_lock) != 0) {
        free(h);
        return FM_ERR_NOMEM;
    }
    atomic_init(&h->refs, 1);
    h->id = (uint64_t)atomic_fetch_add(&g_hook_ids, 1);
    h->mode = mode;
    if (host_len)
        memcpy(h->host, host, host_len);
    h->host_len = host_len;
    void *owner;
    memcpy(&owner, &h->api.CRYPTO_get_ex_new_index, sizeof owner);
    fm_lock_acquire(&g_idx_lock);
    if (g_idx_owner != owner || g_ssl_idx < 0 || g_ctx_idx < 0 || g_listen_idx < 0 ||
        g_hello_idx < 0) {
        g_ssl_idx = h->api.CRYPTO_get_ex_new_index(CRYPTO_EX_INDEX_SSL, 0, NULL, NULL, NULL,
                                                   free_conn_result);
        g_ctx_idx = h->api.CRYPTO_get_ex_new_index(CRYPTO_EX_INDEX_SSL_CTX, 0, NULL, NULL, NULL,
                                                   free_ctx_ref);
        g_listen_idx = h->api.CRYPTO_get_ex_new_index(CRYPTO_EX_INDEX_SSL, 0, NULL, NULL, NULL,
                                                      NULL); /* borrowed: the SSL_CTX outlives it */
        g_hello_idx = h->api.CRYPTO_get_ex_new_index(CRYPTO_EX_INDEX_SSL, 0, NULL, NULL, NULL,
                                                     free_hello_rec);
        g_idx_owner = owner;
    }
    h->ssl_idx = g_ssl_idx;
    h->ctx_idx = g_ctx_idx;
    h->listen_idx = g_listen_idx;
    h->hello_idx = g_hello_idx;
    if (atomic_load_explicit(&g_sess, memory_order_relaxed) == NULL && g_ctx_idx >= 0) {
        g_sess_storage.owner = owner;
        g_sess_storage.ctx_idx = g_ctx_idx;
        g_sess_storage.get_ctx = h->api.SSL_get_SSL_CTX;
        g_sess_storage.ctx_get_ex = h->api.SSL_CTX_get_ex_data;
        g_sess_storage.ssl_get_ex = h->api.SSL_get_ex_data;
        g_sess_storage.listen_idx = g_listen_idx;
        atomic_store_explicit(&g_sess, &g_sess_storage, memory_order_release);
    }
    int sessions_ok = g_sess_storage.owner == owner && g_sess_storage.ctx_idx == g_ctx_idx;
    fm_lock_release(&g_idx_lock);
    if (sessions_ok && (h->sessions = calloc(1, sizeof *h->sessions)) != NULL &&
        fm_lock_init(&h->sessions->lock) != 0) {
        free(h->sessions);
        h->sessions = NULL; /* session IDs off for this hook: tickets still resume */
    }
    if (h->sessions) {
        h->sessions->cap = FM_HOOK_DEFAULT_SESSION_CACHE;
        h->sessions->cap_bytes = FM_HOOK_DEFAULT_SESSION_CACHE_BYTES;
    }
    if (h->ssl_idx < 0 || h->ctx_idx < 0 || h->listen_idx < 0 || h->hello_idx < 0) {
        sess_cache_free(h);
        fm_lock_destroy(&h->names_lock);
        free(h);
        return FM_ERR_INTERNAL;
    }
    if (v != NULL)
        fm_verifier_ref(v);
    h->v = v;
    *out = h;
    return FM_OK;
}

void fm_hook_free(fm_hook *h) { hook_unref(h); }

/* ---- verification inside the handshake ------------------------------------------------------ */

/* fastmtls status -> X509_V_ERR_* whose TLS alert (OpenSSL's ssl_x509err2alert) fits, as measured
 * with OpenSSL 3.0 (tests/test_handshake.py): certificate_expired (expired certificate or CRL),
 * certificate_revoked, unknown_ca (no trusted issuer, self-signed, path length, chain too long,
 * missing CRL), decrypt_error (signature), unsupported_certificate (purpose), certificate_unknown
 * (unhandled critical extension, no explicit policy: codes absent from OpenSSL's table),
 * bad_certificate (certificate or CRL not yet valid, everything else). README.md and the
 * fastmtls.ssl docstring list the same (tests/test_handshake.py checks both). */
static int x509_error(int status) {
    switch (status) {
    case FM_OK: return X509_V_OK;
    case FM_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY: return X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY;
    case FM_ERR_DEPTH_ZERO_SELF_SIGNED_CERT: return X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT;
    case FM_ERR_SELF_SIGNED_CERT_IN_CHAIN: return X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN;
    case FM_ERR_CERT_NOT_YET_VALID: return X509_V_ERR_CERT_NOT_YET_VALID;
    case FM_ERR_CERT_HAS_EXPIRED: return X509_V_ERR_CERT_HAS_EXPIRED;
    case FM_ERR_CERT_SIGNATURE_FAILURE: return X509_V_ERR_CERT_SIGNATURE_FAILURE;
    case FM_ERR_PATH_LENGTH_EXCEEDED: return X509_V_ERR_PATH_LENGTH_EXCEEDED;
    case FM_ERR_INVALID_PURPOSE: return X509_V_ERR_INVALID_PURPOSE;
    case FM_ERR_CERT_CHAIN_TOO_LONG: return X509_V_ERR_CERT_CHAIN_TOO_LONG;
    case FM_ERR_UNHANDLED_CRITICAL_EXTENSION: return X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION;
    case FM_ERR_CERT_REVOKED: return X509_V_ERR_CERT_REVOKED;
    case FM_ERR_UNABLE_TO_GET_CRL: return X509_V_ERR_UNABLE_TO_GET_CRL;
    case FM_ERR_CRL_HAS_EXPIRED: return X509_V_ERR_CRL_HAS_EXPIRED;
    case FM_ERR_CRL_NOT_YET_VALID: return X509_V_ERR_CRL_NOT_YET_VALID;
    case FM_ERR_NO_EXPLICIT_POLICY: return X509_V_ERR_NO_EXPLICIT_POLICY;
    default: return X509_V_ERR_CERT_REJECTED;
    }
}

/* The host whose CA associations apply to `ssl`: the hook's fixed host, else the SNI. */
static const uint8_t *conn_host(const fm_hook *h, SSL *ssl, size_t *len) {
    if (h->host_len) {
        *len = h->host_len;
        return h->host;
    }
    const char *sni = h->api.SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    *len = sni ? strlen(sni) : 0;
    return (const uint8_t *)sni;
}

/* The context of a verification: the hooked SSL_CTX whose hook runs it (ctx_ref id), the server
 * name of the handshake and the host whose CA associations apply (NULL: conn_host). */
typedef struct verify_for {
    uint64_t origin;
    const uint8_t *sni; /* NULL: SSL_get_servername */
    size_t sni_len;
    const uint8_t *host;
    size_t host_len;
} verify_for;

/* Verifies `der` for connection `ssl`. Returns a new result holding one reference, not stored
 * anywhere, or NULL when out of memory. */
static conn_result *conn_result_new(fm_hook *h, SSL *ssl, const uint8_t *der, size_t len,
                                    int resumed, const verify_for *vf) {
    conn_result *cr = malloc(sizeof *cr + (len ? len : 1));
    if (cr == NULL)
        return NULL;
    atomic_init(&cr->refs, 1);
    atomic_init(&cr->proven, 0);
    if (len)
        memcpy(cr->der, der, len);
    cr->len = len;
    cr->resumed = resumed;
    cr->by = h->id;
    cr->origin = vf->origin;
    const uint8_t *sni = vf->sni;
    size_t sni_len = vf->sni_len;
    if (sni == NULL) {
        const char *name = h->api.SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
        sni = (const uint8_t *)name;
        sni_len = name ? strlen(name) : 0;
    }
    cr->sni_len = sni_len <= FM_SNI_MAX ? sni_len : 0;
    if (cr->sni_len)
        memcpy(cr->sni, sni, cr->sni_len);
    const uint8_t *host = vf->host;
    size_t host_len = vf->host_len;
    if (host == NULL)
        host = conn_host(h, ssl, &host_len);
    fm_verify_current(h->v, cr->der, len, host, host_len, FM_TIME_NOW, &cr->res,
                      &cr->store);
    return cr;
}

/* In enforce mode a revoked chain fails the handshake even under Cloudflare semantics. */
static int is_failure(const conn_result *cr) {
    return cr == NULL || cr->res.status != FM_OK || (cr->res.flags & FM_RESULT_REVOKED);
}

/* Whether the session of `ssl` holds no certificate of its peer. After a completed handshake
 * that stored a result, this is a TLS 1.3 post-handshake authentication the client answered
 * with an empty Certificate message (OpenSSL calls no verify callback for it and drops the
 * session's certificate): what the client presented last is nothing. */
static int no_peer_certificate(const ssl_api *a, SSL *ssl) {
    X509 *x = a->peer_certificate(ssl);
    if (x != NULL && a->peer_owned)
        a->X509_free(x);
    return x == NULL;
}

static int failure_error(const conn_result *cr) {
    if (cr == NULL)
        return X509_V_ERR_CERT_REJECTED;
    if (cr->res.status == FM_OK)
        return X509_V_ERR_CERT_REVOKED;
    return x509_error(cr->res.status);
}

/* Verifies `der` for connection `ssl` and stores the result on it, replacing an older one.
 * Returns the X509_V_ERR_* of a failure (X509_V_OK when the chain passes, revocation
 * included); a result that cannot be stored counts as a failure, and the older one is dropped
 * all the same (in record mode the handshake goes on: it must read as no result, not as the
 * older one). */
static int verify_and_store(fm_hook *h, SSL *ssl, const uint8_t *der, size_t len, int resumed,
                            const verify_for *vf) {
    conn_result *cr = conn_result_new(h, ssl, der, len, resumed, vf);
    int err = is_failure(cr) ? failure_error(cr) : X509_V_OK;
    if (cr == NULL) {
        conn_result_drop(h, ssl);
        return err;
    }
    /* set_ex_data does not free what it replaces: the connection's reference goes here */
    fm_lock_acquire(&g_conn_lock);
    conn_result *old = h->api.SSL_get_ex_data(ssl, h->ssl_idx);
    int stored = h->api.SSL_set_ex_data(ssl, h->ssl_idx, cr) == 1;
    fm_lock_release(&g_conn_lock);
    if (!stored) {
        conn_result_unref(cr);
        conn_result_drop(h, ssl);
        return X509_V_ERR_CERT_REJECTED;
    }
    conn_result_unref(old);
    return err;
}

/* Replaces X509_verify_cert for the peer's chain (see cert_verify_cb); `origin`: the id of the
 * SSL_CTX's ctx_ref. */
static int verify_peer_chain(fm_hook *h, X509_STORE_CTX *xctx, uint64_t origin) {
    const ssl_api *a = &h->api;
    SSL *ssl = a->X509_STORE_CTX_get_ex_data(xctx, a->SSL_get_ex_data_X509_STORE_CTX_idx());
    X509 *leaf = a->X509_STORE_CTX_get0_cert(xctx);
    OPENSSL_STACK *sk = a->X509_STORE_CTX_get0_untrusted(xctx);
    if (ssl == NULL || leaf == NULL) {
        a->X509_STORE_CTX_set_error(xctx, X509_V_ERR_CERT_REJECTED);
        return 0;
    }
    /* leaf first, then the rest as sent (the untrusted stack starts with the leaf) */
    int n = sk ? a->OPENSSL_sk_num(sk) : 0;
    if (n < 0)
        n = 0;
    int first = n > 0 && a->OPENSSL_sk_value(sk, 0) == leaf;
    /* a chain longer than the verifier takes: its first max_chain_certs + 1 certificates are
     * enough for the core to refuse it as too long, and bound the copying (never the leaf
     * alone, which could verify with the limit bypassed) */
    long keep = (long)h->v->opts.limits.max_chain_certs + first;
    if (n > keep)
        n = (int)keep;
    size_t total = 0;
    int leaf_len = a->i2d_X509(leaf, NULL);
    if (leaf_len <= 0) {
        a->X509_STORE_CTX_set_error(xctx, X509_V_ERR_CERT_REJECTED);
        return 0;
    }
    total = (size_t)leaf_len;
    for (int i = first; i < n; i++) {
        int l = a->i2d_X509(a->OPENSSL_sk_value(sk, i), NULL);
        if (l > 0)
            total += (size_t)l;
    }
    uint8_t *buf = malloc(total);
    int err = X509_V_ERR_CERT_REJECTED;
    if (buf != NULL) {
        uint8_t *p = buf;
        a->i2d_X509(leaf, &p);
        for (int i = first; i < n; i++) {
            X509 *x = a->OPENSSL_sk_value(sk, i);
            int l = a->i2d_X509(x, NULL);
            if (l > 0 && (size_t)(p - buf) + (size_t)l <= total)
                a->i2d_X509(x, &p);
        }
        verify_for vf = {origin, NULL, 0, NULL, 0};
        err = verify_and_store(h, ssl, buf, (size_t)(p - buf), 0, &vf);
        free(buf);
    }
    if (h->mode == FM_HOOK_ENFORCE && err != X509_V_OK) {
        a->X509_STORE_CTX_set_error(xctx, err);
        return 0;
    }
    a->X509_STORE_CTX_set_error(xctx, X509_V_OK);
    return 1; /* record mode: the handshake completes; the result says what happened */
}

/* Whether the connection whose peer chain `xctx` holds is a client connection: the callback
 * replaces chain verification for every connection of the SSL_CTX, also those it makes as a
 * client (a dual-use PROTOCOL_TLS context), whose peer is a server. */
static int verifying_a_server(const ssl_api *a, X509_STORE_CTX *xctx) {
    SSL *ssl = a->X509_STORE_CTX_get_ex_data(xctx, a->SSL_get_ex_data_X509_STORE_CTX_idx());
    return ssl != NULL && !a->SSL_is_server(ssl);
}

/* SSL_CTX_set_cert_verify_callback, from the first install on; `arg` is the SSL_CTX's ctx_ref.
 * A GUARD hook leaves the chain to OpenSSL's own X509_verify_cert, what OpenSSL calls without a
 * callback (installing NULL instead would race with handshakes in flight: OpenSSL tests the
 * callback, then reads it again to call it), and so does every hook for a server's chain on a
 * client connection: the hook verifies client certificates; a server's is OpenSSL's business
 * (the context's CA store, hostname check and verify mode), as without the hook. */
static int cert_verify_cb(X509_STORE_CTX *xctx, void *arg) {
    fm_hook *h = ref_get(arg);
    int ok;
    if (h != NULL && (h->mode == FM_HOOK_GUARD || verifying_a_server(&h->api, xctx)))
        ok = h->api.X509_verify_cert(xctx);
    else
        ok = h != NULL && verify_peer_chain(h, xctx, ((ctx_ref *)arg)->id);
    hook_unref(h);
    return ok;
}

/* SSL_CTX_set_info_callback: OpenSSL calls it on the connection's thread, also for the
 * messages after the handshake. When the server's handshake machine exits having finished (a
 * handshake, or a TLS 1.3 post-handshake authentication; OpenSSL's state TLS_ST_OK):
 * - the stored result is proven: its client's CertificateVerify and Finished checked out. The
 *   flag keeps it proven while a later message is processed or written (a KeyUpdate, a
 *   post-handshake CertificateRequest, tickets: OpenSSL's state leaves TLS_ST_OK meanwhile, and
 *   stays elsewhere after a fatal error in one);
 * - a stored result while the session holds no certificate of the client means the client
 *   answered a post-handshake CertificateRequest with an empty Certificate message, for which
 *   OpenSSL calls no verify callback: the result goes (result() reads NONE, as getpeercert()
 *   reads None). Checked here, on the thread that replaces the session, not in
 *   fm_hook_result, which other threads call.
 * The callback finds its ctx_ref through the functions published for the session callbacks:
 * the SSL_CTX's, else (after an sni_callback moved the connection to an SSL_CTX without a hook,
 * while OpenSSL still calls the callback it started the handshake with) the listening one's. */
static void info_cb(const SSL *cssl, int where, int ret) {
    SSL *ssl = (SSL *)cssl;
    const sess_globals *g = atomic_load_explicit(&g_sess, memory_order_acquire);
    if (g == NULL)
        return;
    SSL_CTX *ctx = g->get_ctx(cssl);
    ctx_ref *r = ctx ? g->ctx_get_ex(ctx, g->ctx_idx) : NULL;
    if (r == NULL && g->listen_idx >= 0)
        r = g->ssl_get_ex(cssl, g->listen_idx);
    if (r == NULL)
        return;
    info_cb_fn prev = atomic_load_explicit(&r->prev_info, memory_order_acquire);
    if (prev != NULL)
        prev(cssl, where, ret);
    if (where != SSL_CB_ACCEPT_EXIT || ret <= 0)
        return;
    fm_hook *h = ref_get(r);
    conn_result *cr = h ? h->api.SSL_get_ex_data(ssl, h->ssl_idx) : NULL;
    if (cr != NULL && h->api.SSL_get_state(ssl) == TLS_ST_OK) {
        if (no_peer_certificate(&h->api, ssl))
            conn_result_drop(h, ssl);
        else
            atomic_store_explicit(&cr->proven, 1, memory_order_release);
    }
    hook_unref(h);
}

/* Makes info_cb the SSL_CTX's info callback, chaining the one set there (by the application,
 * before this install or after an earlier one). */
static void info_cb_install(const ssl_api *a, SSL_CTX *ctx, ctx_ref *r) {
    info_cb_fn cur = a->SSL_CTX_get_info_callback(ctx);
    if (cur != info_cb)
        atomic_store_explicit(&r->prev_info, cur, memory_order_release);
    a->SSL_CTX_set_info_callback(ctx, info_cb);
}

/* ---- resumption ---------------------------------------------------------------------------- */

/* Session data: what a resumption needs to check a session again, kept as the session's ticket
 * appdata (tickets carry it to the client and back, encrypted) and in the session-ID cache:
 *   version (1) | origin (8, little-endian) | server name length (1) | server name | chain DER
 * `origin` names the hooked SSL_CTX whose hook verified the chain (a ctx_ref id; 0 = the session
 * was made on an SSL_CTX without a hook), the server name is the SNI of the handshake that made
 * it, and the chain is the one the client presented (empty: none). */
#define SD_VERSION 1u
#define SD_HEAD 10u

typedef struct sess_data {
    uint64_t origin;
    const uint8_t *sni, *der;
    size_t sni_len, der_len;
} sess_data;

/* A new buffer holding the encoding of `sd` (free), or NULL when out of memory. */
static uint8_t *sd_encode(const sess_data *sd, size_t *out_len) {
    if (sd->sni_len > FM_SNI_MAX || sd->der_len > SIZE_MAX - SD_HEAD - FM_SNI_MAX)
        return NULL;
    size_t n = SD_HEAD + sd->sni_len + sd->der_len;
    uint8_t *p = malloc(n);
    if (p == NULL)
        return NULL;
    p[0] = SD_VERSION;
    for (unsigned i = 0; i < 8; i++)
        p[1 + i] = (uint8_t)(sd->origin >> (8 * i));
    p[9] = (uint8_t)sd->sni_len;
    if (sd->sni_len)
        memcpy(p + SD_HEAD, sd->sni, sd->sni_len);
    if (sd->der_len)
        memcpy(p + SD_HEAD + sd->sni_len, sd->der, sd->der_len);
    *out_len = n;
    return p;
}

/* Spans of `sd` into p[0..len). 0, or -1 when it is not session data of this version. */
static int sd_decode(const uint8_t *p, size_t len, sess_data *sd) {
    if (p == NULL || len < SD_HEAD || p[0] != SD_VERSION || (size_t)p[9] > len - SD_HEAD)
        return -1;
    sd->origin = 0;
    for (unsigned i = 0; i < 8; i++)
        sd->origin |= (uint64_t)p[1 + i] << (8 * i);
    sd->sni_len = p[9];
    sd->sni = p + SD_HEAD;
    sd->der = p + SD_HEAD + sd->sni_len;
    sd->der_len = len - SD_HEAD - sd->sni_len;
    return 0;
}

/* The id of the ctx_ref of the SSL_CTX `ssl` belongs to now (0: not hooked). */
static uint64_t current_origin(const fm_hook *h, SSL *ssl) {
    SSL_CTX *ctx = h->api.SSL_get_SSL_CTX(ssl);
    const ctx_ref *r = ctx ? h->api.SSL_CTX_get_ex_data(ctx, h->ctx_idx) : NULL;
    return r ? r->id : 0;
}

/* The session data of a session `ssl` makes now (a full handshake, or a TLS 1.3 resumption that
 * was checked again): from the result on the connection, else the connection's SSL_CTX and
 * server name. A new buffer (free), or NULL. */
static uint8_t *sd_of_connection(fm_hook *h, SSL *ssl, size_t *out_len) {
    conn_result *cr = conn_result_get(h, ssl);
    /* the check of a session offered that then did not resume (a ticket OpenSSL refused after
     * the callback, e.g. expired or of another cipher's hash): not this handshake's result. Its
     * chain in the new session would let anyone who saw that session's ticket or ID (in clear
     * before TLS 1.3) make a session with another client's chain (as fm_hook_result) */
    if (cr != NULL && cr->resumed && !h->api.SSL_session_reused(ssl)) {
        conn_result_unref(cr);
        cr = NULL;
    }
    /* a post-handshake authentication answered without a certificate: the sessions made after
     * it carry no chain, as OpenSSL's own session holds no certificate any more */
    if (cr != NULL && no_peer_certificate(&h->api, ssl)) {
        conn_result_unref(cr);
        cr = NULL;
    }
    sess_data sd;
    if (cr != NULL) {
        sd = (sess_data){cr->origin, cr->sni, cr->der, cr->sni_len, cr->len};
    } else {
        const char *name = h->api.SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
        size_t n = name ? strlen(name) : 0;
        sd = (sess_data){current_origin(h, ssl), (const uint8_t *)name, NULL, n <= FM_SNI_MAX ? n : 0, 0};
    }
    uint8_t *p = sd_encode(&sd, out_len);
    conn_result_unref(cr);
    return p;
}

/* The host_name of the ClientHello being processed (RFC 6066 3), read from the raw extension:
 * OpenSSL decrypts tickets and looks sessions up before it parses the SNI. Accepts what OpenSSL's
 * own parser accepts (one host_name entry, 1 to 255 octets, no NUL). 1 = found, 0 = none sent,
 * -1 = no ClientHello at hand or a malformed extension. */
static int hello_sni(const ssl_api *a, SSL *ssl, const uint8_t **name, size_t *len) {
    const unsigned char *p = NULL;
    size_t n = 0;
    *name = NULL;
    *len = 0;
    if (a->SSL_client_hello_get0_legacy_version(ssl) == 0)
        return -1;
    if (a->SSL_client_hello_get0_ext(ssl, 0, &p, &n) != 1)
        return 0;
    if (p == NULL || n < 5 || (((size_t)p[0] << 8) | p[1]) != n - 2 || p[2] != 0)
        return -1;
    size_t l = ((size_t)p[3] << 8) | p[4];
    if (l == 0 || l > FM_SNI_MAX || l != n - 5 || memchr(p + 5, 0, l) != NULL)
        return -1;
    *name = p + 5;
    *len = l;
    return 1;
}

/* Whether the session with data `sd` may resume on `ssl`, checked again now:
 * - only under the server name it was made with (RFC 6066 3: a different name makes a full
 *   handshake), so the CA associations of its host keep applying;
 * - its chain is verified again by the hook of the SSL_CTX that verified it first (its origin:
 *   after an sni_callback switch, not the listening SSL_CTX whose callbacks OpenSSL runs here,
 *   before the switch), with that hook's verifier, store and revocations of now, and the result
 *   stored on the connection; in enforce mode it must pass (a certificate revoked since does not
 *   resume);
 * - a session of an SSL_CTX without a hook (origin 0, or a guard) resumes as OpenSSL would, and
 *   one whose SSL_CTX is gone does not.
 * Whatever an earlier offer (another TLS 1.3 PSK identity) stored on the connection is dropped
 * first: a session that resumes unverified (origin 0) must not carry it.
 * `l`: the listening hook. Returns 1 (resume), 0 (not on this connection) or -1 (not any more:
 * its SSL_CTX is gone, or its chain fails in enforce mode). */
static int resume_check(const fm_hook *l, SSL *ssl, const sess_data *sd) {
    const ssl_api *a = &l->api;
    const uint8_t *sni;
    size_t sni_len;
    conn_result_drop(l, ssl);
    if (hello_sni(a, ssl, &sni, &sni_len) < 0 || sni_len != sd->sni_len ||
        (sni_len && memcmp(sni, sd->sni, sni_len) != 0))
        return 0;
    if (sd->origin == 0)
        return 1;
    fm_hook *o = reg_hook(sd->origin);
    if (o == NULL)
        return -1;
    int rc = 1;
    if (o->v != NULL) {
        verify_for vf = {sd->origin, sni, sni_len, o->host_len ? o->host : sni,
                         o->host_len ? o->host_len : sni_len};
        int err = verify_and_store(o, ssl, sd->der, sd->der_len, 1, &vf);
        if (o->mode == FM_HOOK_ENFORCE && (sd->der_len == 0 || err != X509_V_OK))
            rc = -1;
    }
    hook_unref(o);
    return rc;
}

/* OpenSSL makes no ticket of a session whose encoding is over 0xFF00 bytes (its lengths are 16
 * bits): it fails the handshake instead. Kept below that with a margin for what it sets on the
 * session after the ticket callback. */
#define FM_TICKET_SESSION_MAX (0xFF00 - 512)

/* Gives `sess` the session data as its ticket data; none when the session would then be too
 * big for a ticket (a client chain of tens of kilobytes), so that such a session does not
 * resume through a ticket (dec_ticket: not one of ours) rather than fail every handshake.
 * 1, or 0 when out of memory. */
static int set_ticket_data(const ssl_api *a, SSL_SESSION *sess, const uint8_t *data, size_t len) {
    if (a->SSL_SESSION_set1_ticket_appdata(sess, data, len) != 1)
        return 0;
    int n = a->i2d_SSL_SESSION(sess, NULL);
    if (n > 0 && n <= FM_TICKET_SESSION_MAX)
        return 1;
    return a->SSL_SESSION_set1_ticket_appdata(sess, NULL, 0) == 1;
}

/* Whether `sess` is past its lifetime (what OpenSSL checks after the session callbacks). */
static int sess_expired(const ssl_api *a, const SSL_SESSION *sess) {
    long t = a->SSL_SESSION_get_time(sess), timeout = a->SSL_SESSION_get_timeout(sess);
    return t < 0 || timeout < 0 || fm_now() > (int64_t)t + (int64_t)timeout;
}

/* The origin of the session `ssl` resumed: from its ticket data, or, when it has none (a
 * session too big for a ticket keeps its data in the session-ID cache only), from the result
 * resume_check stored on the connection; UINT64_MAX when neither says. */
static uint64_t resumed_origin(const fm_hook *l, SSL *ssl, SSL_SESSION *sess) {
    void *data = NULL;
    size_t len = 0;
    sess_data sd;
    if (l->api.SSL_SESSION_get0_ticket_appdata(sess, &data, &len) == 1 &&
        sd_decode(data, len, &sd) == 0)
        return sd.origin;
    conn_result *cr = conn_result_get(l, ssl);
    uint64_t origin = cr != NULL && cr->resumed ? cr->origin : UINT64_MAX;
    conn_result_unref(cr);
    return origin;
}

/* A new session ticket carries the session data, so a resumed connection can be checked again
 * (revocations and trust changes included) without the client sending its chain. `l`: the
 * listening hook, `cur`: the hook of the SSL_CTX the connection belongs to now (NULL: none). */
static int gen_ticket(fm_hook *l, fm_hook *cur, SSL *ssl) {
    const ssl_api *a = &l->api;
    SSL_SESSION *sess = a->SSL_get_session(ssl);
    if (sess == NULL)
        return 1;
    if (a->SSL_session_reused(ssl)) {
        /* A resumption, checked by its origin's hook before an sni_callback moved the
         * connection (OpenSSL looks sessions up before it runs that callback): an SSL_CTX in
         * enforce mode that did not verify it refuses it here (the handshake fails), should the
         * callback now map the name elsewhere. TLS 1.2 resumptions come here too: dec_ticket
         * renews the tickets it accepts, and a session-ID resumption of a client that takes
         * tickets is sent one. */
        if (cur != NULL && cur->mode == FM_HOOK_ENFORCE &&
            resumed_origin(l, ssl, sess) != current_origin(l, ssl))
            return 0;
        /* A TLS 1.2 resumption writes its ticket from the resumed SSL_SESSION itself, which the
         * session cache shares with other connections (OpenSSL copies it first only in TLS
         * 1.3): it must not be written to, and its ticket data is already that of the
         * handshake that made it (gen_ticket then, or new_sess). */
        if (a->SSL_version(ssl) != TLS1_3_VERSION)
            return 1;
    }
    size_t len = 0;
    uint8_t *data = sd_of_connection(l, ssl, &len);
    int ok = data != NULL && set_ticket_data(a, sess, data, len);
    free(data);
    return ok;
}

/* OpenSSL runs the ticket callbacks of the listening SSL_CTX (`arg`: its ctx_ref); after an
 * sni_callback switch the connection belongs to another SSL_CTX, hooked or not. */
static int gen_ticket_cb(SSL *ssl, void *arg) {
    fm_hook *l = ref_get(arg), *cur = NULL;
    if (l != NULL) {
        SSL_CTX *ctx = l->api.SSL_get_SSL_CTX(ssl);
        cur = ref_get(ctx ? l->api.SSL_CTX_get_ex_data(ctx, l->ctx_idx) : NULL);
    }
    int ok = l != NULL && gen_ticket(l, cur, ssl);
    hook_unref(cur);
    hook_unref(l);
    return ok;
}

/* The id of the ctx_ref of the SSL_CTX that accepted `ssl` (client_hello_cb left it on the
 * connection at its first ClientHello; after a HelloRetryRequest the connection already belongs
 * to the SSL_CTX the first ClientHello was routed to, which is no listening SSL_CTX). */
static uint64_t listening_origin(const fm_hook *l, SSL *ssl) {
    const ctx_ref *r = l->listen_idx >= 0 ? l->api.SSL_get_ex_data(ssl, l->listen_idx) : NULL;
    return r ? r->id : current_origin(l, ssl);
}

/* OpenSSL looks a session up (session ID or ticket) before an sni_callback moves the
 * connection, and nothing of the hook runs after that callback in a resumption unless a ticket
 * is issued (gen_ticket then refuses it on an SSL_CTX in enforce mode that did not verify it).
 * A session an sni_callback moved when it was made (its origin is not the listening SSL_CTX)
 * therefore resumes only when a ticket surely follows: the callback may now move its name to
 * an SSL_CTX in enforce mode, which would otherwise take it unverified: without a certificate
 * (a session of a record-mode SSL_CTX, a guard, or no hook at all, origin 0), or verified by
 * another enforce-mode SSL_CTX's CAs and revocations (resume_check verifies it with its
 * origin's hook). It makes a full handshake instead. A TLS 1.3 ticket follows every
 * resumption when the connection issues any (OpenSSL 3.0: stateful under OP_NO_TICKET; none
 * when num_tickets is 0; the number is the connection's, which the switch leaves). Whether a
 * TLS 1.2 ticket follows is decided after the switch, by the settings the SSL_CTX switched to
 * brings (its security level: none from level 3 on; its security callback), which cannot be
 * seen here: a moved TLS 1.2 session never resumes. `l`: the listening hook. 1 when the
 * session must not resume on this connection. */
static int resumes_unwatched(const fm_hook *l, SSL *ssl, const sess_data *sd) {
    if (sd->origin == listening_origin(l, ssl))
        return 0;
    return l->api.SSL_version(ssl) != TLS1_3_VERSION || l->api.SSL_get_num_tickets(ssl) == 0;
}

/* A ticket the client offers: its session data is checked again before it may resume. */
static int dec_ticket(fm_hook *l, SSL *ssl, SSL_SESSION *sess, int status) {
    const ssl_api *a = &l->api;
    if (status == SSL_TICKET_EMPTY || status == SSL_TICKET_NO_DECRYPT)
        return SSL_TICKET_RETURN_IGNORE_RENEW;
    if (status != SSL_TICKET_SUCCESS && status != SSL_TICKET_SUCCESS_RENEW)
        return SSL_TICKET_RETURN_IGNORE;
    void *data = NULL;
    size_t len = 0;
    sess_data sd;
    if (a->SSL_SESSION_get0_ticket_appdata(sess, &data, &len) != 1 || sd_decode(data, len, &sd) != 0)
        return SSL_TICKET_RETURN_IGNORE_RENEW; /* not one of ours: full handshake */
    /* expired: OpenSSL would refuse it after this callback; not checked (nor stored) for
     * nothing. Refused, or moved to where no ticket would follow it (resumes_unwatched): the
     * full handshake decides, and makes a new ticket */
    if (sess_expired(a, sess) || resumes_unwatched(l, ssl, &sd) ||
        resume_check(l, ssl, &sd) != 1)
        return SSL_TICKET_RETURN_IGNORE_RENEW;
    /* TLS 1.2: a new ticket, so that gen_ticket sees the connection after an sni_callback */
    return status == SSL_TICKET_SUCCESS_RENEW || a->SSL_version(ssl) != TLS1_3_VERSION
               ? SSL_TICKET_RETURN_USE_RENEW
               : SSL_TICKET_RETURN_USE;
}

static int dec_ticket_cb(SSL *ssl, SSL_SESSION *sess, const unsigned char *keyname,
                         size_t keyname_len, int status, void *arg) {
    (void)keyname, (void)keyname_len;
    fm_hook *l = ref_get(arg);
    int rc = l ? dec_ticket(l, ssl, sess, status) : SSL_TICKET_RETURN_IGNORE;
    hook_unref(l);
    return rc;
}

/* SSL_CTX_sess_set_new_cb: a full handshake made a session (TLS 1.2, or TLS 1.3 without
 * tickets): keep it with its session data. Returns 1 when the cache keeps OpenSSL's reference. */
static int new_sess(fm_hook *h, SSL *ssl, SSL_SESSION *sess) {
    const ssl_api *a = &h->api;
    if (a->SSL_version(ssl) == TLS1_3_VERSION && !(a->SSL_get_options(ssl) & SSL_OP_NO_TICKET))
        return 0; /* a stateless ticket: dec_ticket_cb checks it */
    unsigned int id_len = 0;
    const unsigned char *id = a->SSL_SESSION_get_id(sess, &id_len);
    if (id == NULL || id_len == 0 || id_len > SESS_MAX_ID)
        return 0;
    size_t data_len = 0;
    uint8_t *data = sd_of_connection(h, ssl, &data_len);
    /* the session is this connection's alone until the cache publishes it: give it the data as
     * ticket data now, so that a ticket issued when it is resumed carries it too */
    sess_entry *e = data ? malloc(sizeof *e + data_len) : NULL;
    if (e == NULL || !set_ticket_data(a, sess, data, data_len)) {
        free(e);
        free(data);
        return 0;
    }
    memset(e, 0, sizeof *e);
    e->sess = sess;
    memcpy(e->id, id, id_len);
    e->id_len = id_len, e->data_len = data_len;
    e->cost = sess_cost(data_len);
    memcpy(e->data, data, data_len);
    free(data);
    sess_cache *c = h->sessions;
    sess_entry *replaced, *evicted = NULL;
    fm_lock_acquire(&c->lock);
    if (e->cost > c->cap_bytes) { /* never fits: not kept (the client resumes by ticket only) */
        fm_lock_release(&c->lock);
        free(e);
        return 0;
    }
    replaced = sess_unlink(c, e->id, e->id_len, NULL);
    /* the oldest go while either bound would be passed; freed after the lock */
    while (c->oldest && (c->n >= c->cap || c->bytes > c->cap_bytes - e->cost)) {
        sess_entry *old = sess_unlink(c, c->oldest->id, c->oldest->id_len, c->oldest->sess);
        old->next = evicted;
        evicted = old;
    }
    size_t b = sess_bucket(e->id, e->id_len);
    e->next = c->buckets[b];
    c->buckets[b] = e;
    e->older = c->newest;
    if (c->newest)
        c->newest->newer = e;
    else
        c->oldest = e;
    c->newest = e;
    c->n++;
    c->bytes += e->cost;
    fm_lock_release(&c->lock);
    sess_entry_free(a, replaced);
    while (evicted) {
        sess_entry *next = evicted->next;
        sess_entry_free(a, evicted);
        evicted = next;
    }
    return 1;
}

static int new_sess_cb(SSL *ssl, SSL_SESSION *sess) {
    fm_hook *h = sess_hook_of(ssl);
    int kept = h != NULL && new_sess(h, ssl, sess);
    hook_unref(h);
    return kept;
}

/* SSL_CTX_sess_set_get_cb: a client offers a session ID. Its session data is checked again
 * (resume_check: same server name, the chain verified again by the hook that verified it, the
 * result stored on the connection); a session that fails it, or has expired, is forgotten and
 * the full handshake decides. The session returned carries a reference for OpenSSL
 * (*copy = 0). */
static SSL_SESSION *get_sess(fm_hook *h, SSL *ssl, const unsigned char *id, int id_len) {
    if (id_len <= 0 || (size_t)id_len > SESS_MAX_ID)
        return NULL;
    const ssl_api *a = &h->api;
    sess_cache *c = h->sessions;
    SSL_SESSION *sess = NULL;
    uint8_t *data = NULL;
    size_t data_len = 0;
    fm_lock_acquire(&c->lock);
    for (sess_entry *e = c->buckets[sess_bucket(id, (size_t)id_len)]; e; e = e->next) {
        if (e->id_len == (size_t)id_len && memcmp(e->id, id, (size_t)id_len) == 0) {
            data = malloc(e->data_len ? e->data_len : 1);
            if (data != NULL && a->SSL_SESSION_up_ref(e->sess) == 1) {
                memcpy(data, e->data, e->data_len);
                sess = e->sess, data_len = e->data_len;
            }
            break;
        }
    }
    fm_lock_release(&c->lock);
    if (sess == NULL) {
        free(data);
        return NULL;
    }
    sess_data sd;
    int check;
    if (sess_expired(a, sess) || sd_decode(data, data_len, &sd) != 0)
        check = -1;
    else if (resumes_unwatched(h, ssl, &sd))
        check = 0;
    else
        check = resume_check(h, ssl, &sd);
    free(data);
    if (check == 1)
        return sess;
    /* a full handshake decides; a session that can never resume again is forgotten (one offered
     * under another server name is kept for its own) */
    if (check < 0) {
        fm_lock_acquire(&c->lock);
        sess_entry *gone = sess_unlink(c, id, (size_t)id_len, sess);
        fm_lock_release(&c->lock);
        sess_entry_free(a, gone);
    }
    a->SSL_SESSION_free(sess); /* the reference taken above */
    return NULL;
}

static SSL_SESSION *get_sess_cb(SSL *ssl, const unsigned char *id, int id_len, int *copy) {
    *copy = 0;
    fm_hook *h = sess_hook_of(ssl);
    SSL_SESSION *sess = h ? get_sess(h, ssl, id, id_len) : NULL;
    hook_unref(h);
    return sess;
}

/* SSL_CTX_sess_set_remove_cb: OpenSSL drops a session (timed out, or made not resumable). */
static void remove_sess_cb(SSL_CTX *ctx, SSL_SESSION *sess) {
    fm_hook *h = sess == NULL ? NULL : sess_hook_of_ctx(ctx);
    if (h == NULL)
        return;
    unsigned int id_len = 0;
    const unsigned char *id = h->api.SSL_SESSION_get_id(sess, &id_len);
    if (id != NULL && id_len > 0 && id_len <= SESS_MAX_ID) {
        fm_lock_acquire(&h->sessions->lock);
        sess_entry *gone = sess_unlink(h->sessions, id, id_len, sess);
        fm_lock_release(&h->sessions->lock);
        sess_entry_free(&h->api, gone);
    }
    hook_unref(h);
}

/* The session ID context of every session a hook verified, and of every connection a hooked
 * SSL_CTX accepts. OpenSSL resumes a session only on a connection with the same context. A
 * plain listening SSL_CTX whose sni_callback moves connections to a hooked one decides
 * resumption before the switch, with its own ticket keys and session cache, and would restore a
 * hooked session without the hook: its connections carry CPython's context ("Python"), so they
 * never resume sessions marked with this one and make a full handshake, which the hook
 * verifies. */
static const unsigned char FM_SID_CTX[] = "fastmtls-hook";
#define FM_SID_CTX_LEN ((unsigned int)(sizeof FM_SID_CTX - 1))

/* The session ID context of a connection that a listening SSL_CTX without a hook accepted and
 * its sni_callback moved to a hooked one: SSL_set_SSL_CTX gives it the hooked SSL_CTX's context
 * (FM_SID_CTX) when it had the listening one's, and after a HelloRetryRequest the listening
 * SSL_CTX's session cache and ticket keys (OpenSSL's, no hook) would then resume a session the
 * hook marked, unverified. No session carries this context. */
static const unsigned char FM_MOVED_SID_CTX[] = "fastmtls-moved";
#define FM_MOVED_SID_CTX_LEN ((unsigned int)(sizeof FM_MOVED_SID_CTX - 1))

/* Keeps what the first ClientHello of `ssl` said of its server name (see hello_rec), unless
 * something is kept already. 0 when it cannot be kept. */
static int hello_keep(const fm_hook *h, SSL *ssl, int raw, int present, const uint8_t *p,
                      size_t len) {
    if (h->api.SSL_get_ex_data(ssl, h->hello_idx) != NULL)
        return 1;
    if (len > SIZE_MAX - sizeof(hello_rec) - 1)
        return 0;
    hello_rec *rec = malloc(sizeof *rec + (len ? len : 1));
    if (rec == NULL)
        return 0;
    rec->raw = raw;
    rec->present = present;
    rec->len = len;
    if (len)
        memcpy(rec->bytes, p, len);
    if (conn_set_ex(h, ssl, h->hello_idx, rec) != 1) {
        free(rec);
        return 0;
    }
    return 1;
}

/* Whether the ClientHello being processed says of its server name what `first` kept. */
static int hello_same(const ssl_api *a, SSL *ssl, const hello_rec *first) {
    const unsigned char *p = NULL;
    size_t n = 0;
    int present;
    if (first->raw) {
        present = a->SSL_client_hello_get0_ext(ssl, 0, &p, &n) == 1;
    } else {
        int sni = hello_sni(a, ssl, &p, &n);
        if (sni < 0)
            return 0;
        present = sni == 1;
    }
    if (present != first->present)
        return 0;
    if (!present)
        return 1;
    return n == first->len && (n == 0 || memcmp(p, first->bytes, n) == 0);
}

/* SSL_CTX_set_client_hello_cb: the first callback of a server handshake, before OpenSSL looks
 * for a session to resume. CPython sets the session ID context on each SSL it makes (3.13) or
 * on the SSL_CTX (before): this gives the connections of a hooked listening SSL_CTX the hook's
 * context either way, so that they resume the sessions the hook marked. */
static int client_hello_cb(SSL *ssl, int *alert, void *arg) {
    fm_hook *h = ref_get(arg);
    if (h == NULL) {
        *alert = SSL_AD_INTERNAL_ERROR;
        return SSL_CLIENT_HELLO_ERROR;
    }
    const ssl_api *a = &h->api;
    const hello_rec *first = a->SSL_get_ex_data(ssl, h->hello_idx);
    int ok = 1;
    if (a->SSL_get_peer_finished(ssl, NULL, 0) > 0) {
        /* a ClientHello after a completed handshake: a renegotiation, refused (install sets
         * SSL_OP_NO_RENEGOTIATION too; this holds whatever the options become). Its session
         * offer would be checked, and its certificate stored, before it proves anything. */
        *alert = SSL_AD_NO_RENEGOTIATION;
        ok = 0;
    } else if (first != NULL) {
        /* The second ClientHello after a HelloRetryRequest (the first was kept by a hooked
         * listener here, or by cert_cb of the SSL_CTX an sni_callback moved the connection
         * to). RFC 8446 4.1.2: it repeats the first but for the key shares, cookie, early data
         * and PSK. OpenSSL does not hold it to that, and runs the sni_callback again on its
         * name: a client could make the callback pick a context by one name and the hook
         * apply the CA associations of another, or leave a context it was moved to. The
         * server name must not change (illegal_parameter). The listener's marks stay: its
         * session cache and session ID context (or, for one without a hook, its own). */
        if (!hello_same(a, ssl, first)) {
            *alert = SSL_AD_ILLEGAL_PARAMETER;
            ok = 0;
        }
    } else {
        const unsigned char *p = NULL;
        size_t n = 0;
        int present = a->SSL_client_hello_get0_ext(ssl, 0, &p, &n) == 1;
        ok = a->SSL_set_session_id_context(ssl, FM_SID_CTX, FM_SID_CTX_LEN) == 1 &&
             conn_set_ex(h, ssl, h->listen_idx, arg) == 1 &&
             hello_keep(h, ssl, 1, present, p, present ? n : 0);
        if (!ok)
            *alert = SSL_AD_INTERNAL_ERROR;
    }
    hook_unref(h);
    return ok ? SSL_CLIENT_HELLO_SUCCESS : SSL_CLIENT_HELLO_ERROR;
}

/* SSL_CTX_set_cert_cb: runs on the server after the ClientHello (and its SNI callback), before
 * the server decides whether to send a CertificateRequest. An SSL takes its verify mode from the
 * listening SSL_CTX when it is created and SSL_set_SSL_CTX (what an sni_callback assigning
 * SSLObject.context does) does not copy it, but it does take the new SSL_CTX's certificate
 * callbacks: so this one sets the verify mode of the hook of the SSL_CTX the connection now
 * belongs to (a context switched to in enforce mode requires a certificate like a listening one).
 * It is the hook's mode, not the SSL_CTX's: an application or framework that sets
 * SSLContext.verify_mode after install (uvicorn does) must not turn enforcement off (CERT_NONE
 * would stop asking for certificates, CERT_OPTIONAL admit clients without one). */
static int cert_cb(SSL *ssl, void *arg) {
    ctx_ref *r = arg;
    fm_hook *h = ref_get(r);
    if (h == NULL)
        return 0;
    const ssl_api *a = &h->api;
    if (!a->SSL_is_server(ssl)) {
        /* OpenSSL runs it on a client connection too (a dual-use context), when the server asks
         * for a certificate: what the client sends is the application's; nothing here applies */
        hook_unref(h);
        return 1;
    }
    SSL_CTX *ctx = a->SSL_get_SSL_CTX(ssl);
    if (ctx != NULL)
        a->SSL_set_verify(ssl, atomic_load_explicit(&r->verify_mode, memory_order_relaxed),
                          a->SSL_CTX_get_verify_callback(ctx));
    SSL_SESSION *sess = a->SSL_get_session(ssl);
    /* a session that cannot be marked fails the handshake rather than resume unmarked */
    int ok = sess == NULL || a->SSL_SESSION_set1_id_context(sess, FM_SID_CTX, FM_SID_CTX_LEN) == 1;
    if (a->SSL_get_ex_data(ssl, h->listen_idx) == NULL) {
        /* accepted by a listening SSL_CTX without a hook, moved here by its sni_callback: its
         * server name is kept for a second ClientHello (see client_hello_cb), and the
         * connection does not resume what the hook marked (see FM_MOVED_SID_CTX) */
        const char *name = a->SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
        size_t n = name ? strlen(name) : 0;
        ok = ok && hello_keep(h, ssl, 0, name != NULL, (const uint8_t *)name, n) &&
             a->SSL_set_session_id_context(ssl, FM_MOVED_SID_CTX, FM_MOVED_SID_CTX_LEN) == 1;
    }
    /* The CertificateRequest's CA names: a copy on the connection, never on the SSL_CTX (each
     * SSL copies the SSL_CTX's list when created; replacing it there under handshakes would
     * free a list they read). */
    fm_lock_acquire(&h->names_lock);
    ca_list *l = h->ca_names;
    if (l != NULL)
        atomic_fetch_add_explicit(&l->refs, 1, memory_order_relaxed);
    fm_lock_release(&h->names_lock);
    if (ok && l != NULL) {
        OPENSSL_STACK *names = a->SSL_dup_CA_list(l->sk);
        if (names != NULL)
            a->SSL_set_client_CA_list(ssl, names); /* takes ownership */
        ok = names != NULL;
    }
    ca_list_unref(a, l);
    hook_unref(h);
    return ok;
}

int fm_hook_install(fm_hook *h, void *ssl_ctx, int require_cert) {
    if (h == NULL || ssl_ctx == NULL)
        return FM_ERR_INVALID_ARGUMENT;
    const ssl_api *a = &h->api;
    SSL_CTX *ctx = ssl_ctx;
    /* what can fail comes first: a failed install leaves the SSL_CTX as it was */
    if (a->SSL_CTX_set_session_id_context(ctx, FM_SID_CTX, FM_SID_CTX_LEN) != 1)
        return FM_ERR_INTERNAL;
    /* no renegotiation (TLS 1.2): a second handshake on a connection would replace its result
     * mid-connection, before its client proved anything (OpenSSL 1.1.1 allows it by default) */
    a->SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
    /* The SSL_CTX's ctx_ref holds a reference to the hook until the SSL_CTX is freed or another
     * install replaces it; handshakes in flight keep the hook they run in (see ctx_ref). One
     * install at a time, so that two never make a ctx_ref for the same SSL_CTX. */
    fm_hook *previous = NULL;
    fm_lock_acquire(&g_idx_lock);
    ctx_ref *r = a->SSL_CTX_get_ex_data(ctx, h->ctx_idx);
    atomic_fetch_add_explicit(&h->refs, 1, memory_order_relaxed);
    if (r != NULL) {
        fm_lock_acquire(&r->lock);
        previous = r->hook;
        r->hook = h;
        fm_lock_release(&r->lock);
    } else if ((r = calloc(1, sizeof *r)) == NULL || fm_lock_init(&r->lock) != 0) {
        free(r);
        r = NULL;
        previous = h; /* the reference just taken */
    } else {
        r->hook = h;
        r->id = (uint64_t)atomic_fetch_add(&g_ctx_ids, 1);
        atomic_init(&r->verify_mode, 0);
        atomic_init(&r->prev_info, NULL);
        if (!a->SSL_CTX_set_ex_data(ctx, h->ctx_idx, r)) {
            fm_lock_destroy(&r->lock);
            free(r);
            r = NULL;
            previous = h;
        } else {
            reg_add(r);
        }
    }
    fm_lock_release(&g_idx_lock);
    hook_unref(previous); /* freed here only when no handshake still runs in it */
    if (r == NULL)
        return FM_ERR_NOMEM;
    (void)a->SSL_CTX_set_session_ticket_cb(ctx, gen_ticket_cb, dec_ticket_cb, r); /* always 1 */
    /* Session IDs resume through the hook's own cache, which verifies again (OpenSSL's internal
     * cache would restore the old result unchecked); without one, only tickets resume. The
     * session callbacks find this hook through the SSL_CTX (they take no argument). */
    fm_hook *found = sess_hook_of_ctx(ctx);
    int sessions_here = found == h;
    hook_unref(found);
    /* The session callbacks stay installed whatever this hook keeps: OpenSSL tests a callback
     * and then reads it again to call it, so setting one to NULL under handshakes in flight (a
     * reinstall without a session cache) could make one call NULL. Without a cache here they
     * keep and find nothing (the SSL_CTX's hook has no sessions), and the mode keeps OpenSSL
     * from asking. */
    a->SSL_CTX_sess_set_new_cb(ctx, new_sess_cb);
    a->SSL_CTX_sess_set_get_cb(ctx, get_sess_cb);
    a->SSL_CTX_sess_set_remove_cb(ctx, remove_sess_cb);
    if (h->sessions != NULL && h->sessions->cap > 0 && sessions_here) {
        a->SSL_CTX_ctrl(ctx, SSL_CTRL_SET_SESS_CACHE_MODE,
                        SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_INTERNAL, NULL);
    } else {
        /* OFF alone would leave OpenSSL's internal lookup on (it is governed by its own bit):
         * a session that reached the internal cache (OpenSSL stores a session the external
         * cache returned there unless NO_INTERNAL_STORE is set, and an install on another
         * thread may have just switched that bit off) would then resume unverified */
        a->SSL_CTX_ctrl(ctx, SSL_CTRL_SET_SESS_CACHE_MODE,
                        SSL_SESS_CACHE_OFF | SSL_SESS_CACHE_NO_INTERNAL, NULL);
    }
    a->SSL_CTX_set_client_hello_cb(ctx, client_hello_cb, r);
    info_cb_install(a, ctx, r);
    if (h->mode == FM_HOOK_GUARD) {
        /* resumption only: certificates are OpenSSL's business on this SSL_CTX (cert_verify_cb
         * hands them to X509_verify_cert; the cert callback is copied into each SSL when it is
         * made, so clearing it races with nothing) */
        a->SSL_CTX_set_cert_verify_callback(ctx, cert_verify_cb, r);
        a->SSL_CTX_set_cert_cb(ctx, NULL, NULL);
        return FM_OK;
    }
    int mode = SSL_VERIFY_PEER | (require_cert ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0);
    atomic_store_explicit(&r->verify_mode, mode, memory_order_relaxed);
    a->SSL_CTX_set_cert_verify_callback(ctx, cert_verify_cb, r);
    a->SSL_CTX_set_verify(ctx, mode, NULL);
    a->SSL_CTX_set_cert_cb(ctx, cert_cb, r);
    return FM_OK;
}

int fm_hook_set_session_cache_bytes(fm_hook *h, size_t n) {
    if (h == NULL)
        return FM_ERR_INVALID_ARGUMENT;
    if (h->sessions != NULL)
        h->sessions->cap_bytes = n;
    return FM_OK;
}

int fm_hook_set_session_cache_size(fm_hook *h, size_t n) {
    if (h == NULL || n > FM_HOOK_MAX_SESSION_CACHE)
        return FM_ERR_INVALID_ARGUMENT;
    if (h->sessions != NULL)
        h->sessions->cap = n;
    return FM_OK;
}

int fm_hook_set_ca_names(fm_hook *h, const uint8_t *names, size_t len) {
    if (h == NULL || (names == NULL && len))
        return FM_ERR_INVALID_ARGUMENT;
    const ssl_api *a = &h->api;
    ca_list *l = NULL;
    OPENSSL_STACK *sk = NULL;
    if (len) {
        if ((l = malloc(sizeof *l)) == NULL)
            return FM_ERR_NOMEM;
        if ((sk = a->OPENSSL_sk_new_null()) == NULL) {
            free(l);
            return FM_ERR_NOMEM;
        }
        atomic_init(&l->refs, 1);
        l->sk = sk;
    }
    fm_der r;
    fm_span full;
    fm_der_init(&r, names, len);
    while (!fm_der_done(&r)) {
        const unsigned char *p = NULL;
        X509_NAME *name = NULL;
        if (fm_der_expect(&r, FM_TAG_SEQUENCE, NULL, &full) == 0 && full.len <= LONG_MAX) {
            p = full.p;
            name = a->d2i_X509_NAME(NULL, &p, (long)full.len);
        }
        if (name == NULL || a->OPENSSL_sk_push(sk, name) <= 0) {
            if (name)
                a->X509_NAME_free(name);
            ca_list_unref(a, l);
            return FM_ERR_INVALID_ARGUMENT;
        }
    }
    /* handshakes from now on copy the new list; one copying the old holds a reference */
    fm_lock_acquire(&h->names_lock);
    ca_list *old = h->ca_names;
    h->ca_names = l;
    fm_lock_release(&h->names_lock);
    ca_list_unref(a, old);
    return FM_OK;
}

void *fm_hook_ssl_ctx_of(const fm_hook *h, void *ssl) {
    return ssl ? (void *)h->api.SSL_get_SSL_CTX(ssl) : NULL;
}

int fm_hook_ctx_verify_mode(const fm_hook *h, void *ssl_ctx) {
    return h->api.SSL_CTX_get_verify_mode(ssl_ctx);
}

int fm_hook_result(fm_hook *h, void *ssl, fm_result *out, fm_store **store,
                   const uint8_t **der, size_t *der_len, int *resumed, void **handle) {
    const ssl_api *a = &h->api;
    *handle = NULL;
    /* the hook verifies the certificates clients present; a client connection of a dual-use
     * SSL_CTX has no result of the hook's */
    if (ssl != NULL && !a->SSL_is_server(ssl))
        return -2;
    conn_result *cr = ssl && h->v != NULL ? conn_result_get(h, ssl) : NULL;
    *resumed = ssl ? a->SSL_session_reused(ssl) : 0;
    /* Proven: the handshake the result was computed in has finished, so the client's
     * CertificateVerify and Finished checked out. info_cb marks it so on the connection's
     * thread; OpenSSL's handshake state TLS_ST_OK (every message done) says so too where no
     * info_cb ran (an application replaced it). Unlike SSL_is_init_finished, both stay true
     * after a later fatal error or an unclean close, and while a post-handshake
     * CertificateRequest waits to be sent or answered (the handshake's result stands until the
     * client's answer replaces it). The result is read first: one stored since (a new chain,
     * stored after OpenSSL's state left TLS_ST_OK) is never judged by an older state. */
    int done = ssl != NULL && a->SSL_get_state(ssl) == TLS_ST_OK;
    int proven = cr != NULL && (done || atomic_load_explicit(&cr->proven, memory_order_acquire));
    /* checked for a resumption that then did not happen (the session or ticket turned out
     * unusable) and no certificate came in the full handshake that followed: none presented */
    if (cr != NULL && cr->resumed && !*resumed) {
        conn_result_unref(cr);
        cr = NULL;
    }
    /* computed by another hook (a ticket decrypted before an SNI switch, or a hook that a later
     * install replaced): this hook's verifier decides. The answer is the caller's alone; the
     * connection keeps the result of its handshake. */
    if (cr != NULL && cr->by != h->id) {
        /* the names recorded with the result, not the connection's (a handshake may be under
         * way on another thread) */
        verify_for vf = {cr->origin, cr->sni, cr->sni_len, h->host_len ? h->host : cr->sni,
                         h->host_len ? h->host_len : cr->sni_len};
        conn_result *mine = conn_result_new(h, ssl, cr->der, cr->len, cr->resumed, &vf);
        conn_result_unref(cr);
        cr = mine;
    }
    /* a handshake not (or not yet) done proved nothing: a chain stored when its
     * Certificate message (or a session offer) arrived is no success before the client's
     * CertificateVerify (or Finished) checked out. The hook's refusals stay readable (for the
     * log): a failure, or a revoked chain. Judged on the answer given, after any re-verification
     * above: a chain the handshake's own hook refused (so the handshake failed) that this hook
     * accepts is no success either. */
    int unproven = cr != NULL && !is_failure(cr) && !proven;
    if (cr == NULL) {
        memset(out, 0, sizeof *out);
        out->status = FM_ERR_NO_CERTIFICATE;
        out->depth = -1;
        out->revoked_depth = -1;
        *store = NULL;
        *der = NULL;
        *der_len = 0;
        return ssl && a->SSL_in_before(ssl) ? -1 : 0;
    }
    *out = cr->res;
    *store = cr->store;
    *der = cr->der;
    *der_len = cr->len;
    *handle = cr;
    return unproven ? 2 : 1;
}

void fm_hook_result_release(void *handle) { conn_result_unref(handle); }
