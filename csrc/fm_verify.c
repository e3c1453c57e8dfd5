/* fm_verify.c - path building and RFC 5280 path validation (section 6) with the client-auth
 * profile; the whole-result, signature and key caches; status strings. */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c11 */
#endif
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fm_internal.h"
#include "fm_names.h"
#include "fm_revset.h"

/* ---- status codes ------------------------------------------------------------------------ */

const char *fm_status_message(int status) {
    switch (status) {
#define FM_X_MSG(name, value, msg) \
    case value:                    \
        return msg;
        FM_STATUS_LIST(FM_X_MSG)
#undef FM_X_MSG
    default:
        return "unknown status";
    }
}

const char *fm_status_name(int status) {
    switch (status) {
#define FM_X_NAME(name, value, msg) \
    case value:                     \
        return #name;
        FM_STATUS_LIST(FM_X_NAME)
#undef FM_X_NAME
    default:
        return NULL;
    }
}

size_t fm_status_values(int *out, size_t cap) {
    static const int values[] = {
#define FM_X_VAL(name, value, msg) value,
        FM_STATUS_LIST(FM_X_VAL)
#undef FM_X_VAL
    };
    size_t n = sizeof values / sizeof values[0];
    for (size_t i = 0; i < n && i < cap; i++)
        out[i] = values[i];
    return n;
}

/* ---- options and verifier ---------------------------------------------------------------- */

void fm_options_default(fm_options *o) {
    memset(o, 0, sizeof *o);
    o->limits.max_cert_size = FM_DEFAULT_MAX_CERT_SIZE;
    o->limits.max_chain_certs = FM_DEFAULT_MAX_CHAIN_CERTS;
    o->limits.max_input_size = FM_DEFAULT_MAX_INPUT_SIZE;
    o->limits.max_depth = FM_DEFAULT_MAX_DEPTH;
    o->limits.max_sig_checks = FM_DEFAULT_MAX_SIG_CHECKS;
    o->limits.max_steps = FM_DEFAULT_MAX_STEPS;
    o->limits.max_sig_cost = FM_DEFAULT_MAX_SIG_COST;
    o->limits.max_nc_checks = FM_DEFAULT_MAX_NC_CHECKS;
    o->purpose = FM_PURPOSE_CLIENT;
    o->min_rsa_bits = 2048;
    o->result_cache_size = 4096;
    o->sig_cache_size = 4096;
}

static void key_evict(void *val) {
    fm_key *k;
    memcpy(&k, val, sizeof k);
    fm_key_free(k);
}

static void key_hit(void *val) {
    fm_key *k;
    memcpy(&k, val, sizeof k);
    fm_key_ref(k);
}

/* ---- parsed intermediates ------------------------------------------------------------------
 *
 * A client presents the same intermediates on every connection; parsing one again (~6,500
 * instructions for an 800-byte certificate: every TLV, every name attribute) was most of what
 * each level of a chain cost a cold leaf. The intermediates of validated paths are kept parsed,
 * keyed by their exact DER (compared byte for byte; only certificates that were part of a valid
 * path to a trust anchor go in, so a client cannot fill it with its own). A value is an fm_cert
 * whose spans are stored as offsets from the certificate's first byte: on a hit they are set
 * against the presented bytes, which equal the key, exactly as parsing them would have. */

/* Every span of fm_cert: stored as an offset from the DER's start, set again on a hit. */
static const size_t CERT_SPANS[] = {
    offsetof(fm_cert, der),          offsetof(fm_cert, tbs),          offsetof(fm_cert, sig_alg),
    offsetof(fm_cert, sig),          offsetof(fm_cert, serial),       offsetof(fm_cert, issuer),
    offsetof(fm_cert, subject),      offsetof(fm_cert, spki),         offsetof(fm_cert, spki_key),
    offsetof(fm_cert, ski),          offsetof(fm_cert, aki_keyid),    offsetof(fm_cert, san),
    offsetof(fm_cert, nc_permitted), offsetof(fm_cert, nc_excluded),  offsetof(fm_cert, crldp),
    offsetof(fm_cert, policies),
};
#define N_CERT_SPANS (sizeof CERT_SPANS / sizeof CERT_SPANS[0])

typedef struct parsed_cert {
    fm_cert c;                   /* its spans' pointers NULL: see off */
    uint32_t off[N_CERT_SPANS];  /* each span's offset from der.p (its length stays in c) */
} parsed_cert;

static fm_span *cert_span(fm_cert *c, size_t i) {
    return (fm_span *)(void *)((char *)c + CERT_SPANS[i]);
}

/* The bucket hash of the signature and key caches (below): lengths and last 32 bytes. */
static uint64_t tail_hash(uint64_t seed, const fm_span *parts, size_t n);

/* The parsed fields of `der`, set against these bytes, when a validated path held them. */
static int parsed_get(fm_verifier *v, const uint8_t *der, size_t len, fm_cert *out) {
    if (v->parsed.nbuckets == 0 || len > UINT32_MAX)
        return 0;
    fm_span key = {der, len};
    parsed_cert pc;
    if (!fm_cache_get_h(&v->parsed, tail_hash(v->parsed.seed, &key, 1), &key, 1, &pc))
        return 0;
    *out = pc.c;
    for (size_t i = 0; i < N_CERT_SPANS; i++) {
        fm_span *sp = cert_span(out, i);
        if (sp->len)
            sp->p = der + pc.off[i];
    }
    return 1;
}

/* Keeps a presented certificate of a validated path parsed (`c` parsed from its own bytes). */
static void parsed_put(fm_verifier *v, const fm_cert *c) {
    if (v->parsed.nbuckets == 0 || c->der.len > UINT32_MAX)
        return;
    parsed_cert pc;
    memset(&pc, 0, sizeof pc);
    pc.c = *c;
    for (size_t i = 0; i < N_CERT_SPANS; i++) {
        fm_span *sp = cert_span(&pc.c, i);
        if (sp->len) /* every span lies within the certificate's DER */
            pc.off[i] = (uint32_t)(sp->p - c->der.p);
        sp->p = NULL;
    }
    fm_cache_put_h(&v->parsed, tail_hash(v->parsed.seed, &c->der, 1), &c->der, 1, &pc);
}

/* The seed only spreads keys over buckets; entries are compared exactly, so it needs no secrecy. */
static uint64_t seed_for(const void *p) {
    fm_span s = {(const uint8_t *)&p, sizeof p};
    return fm_hash64(0x666d746c73ULL, &s, 1);
}

int fm_verifier_new(const fm_options *opts, fm_verifier **out) {
    if (out == NULL)
        return FM_ERR_INVALID_ARGUMENT;
    *out = NULL;
    fm_options o;
    if (opts)
        o = *opts;
    else
        fm_options_default(&o);
    if (o.limits.max_depth > FM_MAX_DEPTH_LIMIT || o.purpose > FM_PURPOSE_SERVER ||
        o.limits.max_chain_certs == 0 || o.limits.max_chain_certs > 65535 ||
        o.limits.max_cert_size == 0 || o.limits.max_input_size == 0 ||
        o.limits.max_sig_checks == 0 || o.limits.max_steps == 0 || o.limits.max_sig_cost == 0 || o.limits.max_nc_checks == 0 ||
        o.min_rsa_bits > FM_MAX_RSA_BITS ||
        o.result_cache_size > (1u << 24) || o.sig_cache_size > (1u << 24))
        return FM_ERR_INVALID_ARGUMENT;
    fm_verifier *v = calloc(1, sizeof *v);
    if (v == NULL)
        return FM_ERR_NOMEM;
    if (fm_lock_init(&v->cur_lock) != 0) {
        free(v);
        return FM_ERR_NOMEM;
    }
    atomic_init(&v->refs, 1);
    v->opts = o;
    atomic_init(&v->sealed, 0);
    uint64_t seed = seed_for(v);
    int rc = fm_cache_init(&v->results, o.result_cache_size, sizeof(fm_result), NULL, NULL, seed);
    if (rc == FM_OK)
        rc = fm_cache_init(&v->sigs, o.sig_cache_size, 1, NULL, NULL, seed ^ 1);
    if (rc == FM_OK)
        rc = fm_cache_init(&v->keys, o.sig_cache_size ? 1024 : 0, sizeof(fm_key *), key_evict,
                           key_hit, seed ^ 2);
    if (rc == FM_OK)
        rc = fm_cache_init(&v->parsed, o.sig_cache_size ? 1024 : 0, sizeof(parsed_cert), NULL,
                           NULL, seed ^ 3);
    if (rc != FM_OK) {
        fm_verifier_free(v);
        return rc;
    }
    *out = v;
    return FM_OK;
}

void fm_verifier_ref(fm_verifier *v) {
    if (v)
        atomic_fetch_add_explicit(&v->refs, 1, memory_order_relaxed);
}

void fm_verifier_unref(fm_verifier *v) { fm_verifier_free(v); }

void fm_verifier_free(fm_verifier *v) {
    if (v == NULL || atomic_fetch_sub_explicit(&v->refs, 1, memory_order_acq_rel) != 1)
        return;
    fm_store_free(v->cur_store);
    fm_revset_free(v->cur_revs);
    fm_lock_destroy(&v->cur_lock);
    fm_cache_destroy(&v->results);
    fm_cache_destroy(&v->sigs);
    fm_cache_destroy(&v->keys);
    fm_cache_destroy(&v->parsed);
    for (size_t i = 0; i < v->n_inters; i++)
        fm_owned_cert_clear(&v->inters[i]);
    free(v->inters);
    fm_cindex_free(&v->inter_idx);
    free(v);
}

void fm_verifier_clear_caches(fm_verifier *v) {
    fm_cache_clear(&v->results);
    fm_cache_clear(&v->sigs);
    fm_cache_clear(&v->keys);
    fm_cache_clear(&v->parsed);
}

int fm_verifier_add_intermediate(fm_verifier *v, const uint8_t *der, size_t len) {
    if (v == NULL)
        return FM_ERR_INVALID_ARGUMENT;
    if (atomic_load(&v->sealed))
        return FM_ERR_SEALED;
    if (len > v->opts.limits.max_cert_size)
        return FM_ERR_LIMIT;
    if (v->n_inters >= 65535)
        return FM_ERR_LIMIT;
    if (v->n_inters == v->cap_inters) {
        size_t nc = v->cap_inters ? v->cap_inters * 2 : 8;
        void *p = realloc(v->inters, nc * sizeof *v->inters);
        if (p == NULL)
            return FM_ERR_NOMEM;
        v->inters = p;
        v->cap_inters = nc;
    }
    int rc = fm_cindex_reserve(&v->inter_idx);
    if (rc != FM_OK)
        return rc;
    fm_owned_cert oc;
    if ((rc = fm_owned_cert_init(&oc, der, len)) != FM_OK)
        return rc;
    if (!(oc.cert.ext_flags & FM_X_BC) || !oc.cert.is_ca) {
        fm_owned_cert_clear(&oc);
        return FM_ERR_NOT_A_CA;
    }
    fm_cindex_put(&v->inter_idx, oc.subject_hash);
    v->inters[v->n_inters++] = oc;
    return FM_OK;
}

/* ---- chain splitting --------------------------------------------------------------------- */

int fm_chain_split(const uint8_t *chain, size_t len, size_t *offsets, size_t *lens, size_t cap,
                   size_t *n) {
    fm_der r;
    fm_span full;
    *n = 0;
    if (len == 0)
        return FM_OK;
    if (chain == NULL)
        return FM_ERR_INVALID_ARGUMENT;
    fm_der_init(&r, chain, len);
    while (!fm_der_done(&r)) {
        if (fm_der_expect(&r, FM_TAG_SEQUENCE, NULL, &full) != 0)
            return FM_ERR_MALFORMED_CERT;
        if (*n >= cap)
            return FM_ERR_LIMIT;
        offsets[*n] = (size_t)(full.p - chain);
        lens[*n] = full.len;
        (*n)++;
    }
    return FM_OK;
}

/* ---- path building ----------------------------------------------------------------------- */

typedef struct node {
    const fm_cert *cert;
    uint8_t src;  /* enum fm_source */
    uint16_t idx; /* index within the source */
} node;

typedef struct vctx {
    fm_verifier *v;
    fm_store *s;
    const fm_options *o;
    int64_t at;
    const fm_assoc *assoc; /* NULL = every anchor allowed */
    uint32_t name_kind;
    const uint8_t *name;
    size_t name_len;
    int name_rc; /* fm_name_match of the leaf against name, + 1 (0 = not yet: once per call) */
    fm_cert *pres; /* presented certificates, parsed */
    int *pres_ok;  /* parse status per presented certificate */
    fm_span *sig_ok; /* per presented certificate: the issuer key (SPKI) its signature was last
                      * verified under during this verification, or empty */
    size_t n_pres;
    /* Per-verification memos, so that a step of path building costs the same whatever the sizes
     * of the certificates it looks at (a hostile chain's tree of same-name candidates revisits
     * the same certificates and pairs at many steps): */
    int *alone;      /* check_cert_alone(ROLE_INTERMEDIATE) of presented k, + 1 (0 = not yet) */
    int *copy_of;    /* the first presented index with the same DER as k (k itself if none) */
    uint64_t *subj_hash, *iss_hash; /* fm_name_hash of presented k's subject and issuer */
    int8_t *pair;    /* check_sig of presented child i under presented issuer j: [i * n + j],
                      * 0 = not yet, 1 = FM_OK, -1 = failed (the failure is recomputed) */
    node path[FM_MAX_DEPTH_LIMIT + 2];
    size_t len;
    uint32_t sig_checks, steps, sig_cost;
    uint64_t nc_spent; /* weighted name-constraint comparisons, over every path (max_nc_checks) */
    int best, best_depth, best_rank;
    int fatal;
    /* Revocation is part of path validity (as rustls-webpki checks it while building): a path
     * whose revocation check fails (revoked under FM_OPT_REV_STRICT, a missing or stale CRL
     * under the deny options) is a failed path and the search goes on; a revoked path under
     * Cloudflare semantics is kept as the fallback while a path without a revocation is looked
     * for. The outcome at depth 0 is the same on every path (the leaf's issuer name and key are
     * fixed by its signature), so it ends the search. Checked when a set is given, and also
     * without one under FM_OPT_REV_DENY_MISSING (no set: no certificate has a CRL). */
    const fm_revset *revs;
    int rev_check;
    fm_result scratch;      /* check_revocation of a candidate path */
    int done;               /* a final answer is known: stop searching */
    size_t fb_len;          /* the fallback path (0: none) */
    node fb_path[FM_MAX_DEPTH_LIMIT + 2];
    size_t rf_len;          /* the path whose revocation failure is x->best (0: none) */
    node rf_path[FM_MAX_DEPTH_LIMIT + 2];
    int32_t rf_rev_depth;   /* that path's revoked certificate (FM_OPT_REV_STRICT), or -1 ... */
    uint32_t rf_rev_reason; /* ... its CRLReason ... */
    int64_t rf_rev_at;      /* ... and revocation date, for the result */
    /* The times at which every refusal for time so far still holds (see fm_result.holds_from):
     * a candidate refused because `at` is before bound b is refused until b - 1, one refused
     * because `at` is after b from b + 1. */
    int64_t t_lo, t_hi;
} vctx;

/* A candidate refused because x->at is before `bound`. */
static void refused_before(vctx *x, int64_t bound) {
    if (bound - 1 < x->t_hi)
        x->t_hi = bound - 1; /* at < bound: no overflow */
}

/* A candidate refused because x->at is after `bound`. */
static void refused_after(vctx *x, int64_t bound) {
    if (bound + 1 > x->t_lo)
        x->t_lo = bound + 1; /* at > bound: no overflow */
}

/* Error ranking when every path fails (rustls-webpki's idea): a path that reached a trust anchor
 * and failed a specific check beats "no issuer found", and a valid path that failed its
 * revocation check beats both; among equals the first one found wins. */
#define RANK_REVOCATION 4
static void record(vctx *x, int status, int depth, int rank) {
    if (x->best == FM_OK || rank > x->best_rank) {
        x->best = status;
        x->best_depth = depth;
        x->best_rank = rank;
    }
}

/* Counts `n` path-building steps (saturating); -1, with x->fatal set, once past max_steps. */
static int budget_steps(vctx *x, uint32_t n) {
    x->steps = n > UINT32_MAX - x->steps ? UINT32_MAX : x->steps + n;
    if (x->steps > x->o->limits.max_steps) {
        x->fatal = FM_ERR_BUDGET_EXCEEDED;
        return -1;
    }
    return 0;
}

static int budget_step(vctx *x) { return budget_steps(x, 1); }

static int allowed(const vctx *x, uint32_t group) {
    if (x->assoc == NULL)
        return 1;
    for (size_t i = 0; i < x->assoc->n_groups; i++)
        if (x->assoc->groups[i] == group)
            return 1;
    return 0;
}

/* A certificate may appear once in a path: same subject and same key is the same CA, whichever
 * encoding it came in (RFC 4158 loop detection). */
static int in_path(const vctx *x, const fm_cert *c) {
    for (size_t i = 0; i < x->len; i++) {
        const fm_cert *p = x->path[i].cert;
        if (p == c || (fm_span_eq(p->subject, c->subject) && fm_span_eq(p->spki, c->spki)))
            return 1;
    }
    return 0;
}

/* The exact same certificate (DER) presented again is the same candidate: each copy would only
 * be another identical path. Copies that differ only in their signature are NOT the same: one
 * may carry a bad signature and the other a good one (RFC 4158 3.5: a candidate whose signature
 * fails must not hide another). */
static int presented_before(const vctx *x, size_t k) { return x->copy_of[k] != (int)k; }

/* copy_of[] for every presented certificate: byte-identical DERs, compared only when their
 * lengths and then their hashes (computed on first need: a usual chain has no two certificates
 * of one length) are equal, so the cost is linear in the input. */
static void find_copies(vctx *x, uint64_t *hashes) {
    for (size_t k = 0; k < x->n_pres; k++) {
        x->copy_of[k] = (int)k;
        if (x->pres_ok[k] != FM_OK)
            continue;
        x->subj_hash[k] = fm_name_hash(x->pres[k].subject);
        x->iss_hash[k] = fm_name_hash(x->pres[k].issuer);
        for (size_t j = 1; j < k; j++) {
            if (x->pres_ok[j] != FM_OK || x->copy_of[j] != (int)j ||
                x->pres[j].der.len != x->pres[k].der.len)
                continue;
            if (hashes[j] == 0)
                hashes[j] = fm_hash64(0x636f7079ULL, &x->pres[j].der, 1) | 1u;
            if (hashes[k] == 0)
                hashes[k] = fm_hash64(0x636f7079ULL, &x->pres[k].der, 1) | 1u;
            if (hashes[j] == hashes[k] && fm_span_eq(x->pres[j].der, x->pres[k].der)) {
                x->copy_of[k] = (int)j;
                break;
            }
        }
    }
}

/* check_cert_alone of presented candidate k as an intermediate, computed once per call. */
static int presented_alone(vctx *x, size_t k);

/* Presented certificate k (at the top of the path) is about to be checked under `issuer`. The
 * paths above k through `issuer` were already explored, from this same position, if an earlier
 * presented certificate j with the same TBSCertificate (its twin: an ECDSA (r, n - s)
 * re-encoding, say) has a signature valid under the same key: j was tried before k as the same
 * candidate (every check on it depends on the TBS alone), and everything above depends on the
 * TBS alone, except j's own signature. Skipping keeps twins to one pass of the checks above
 * them, as deduplicating by TBS did, without letting a twin with a bad signature hide one with
 * a good signature. */
static int twin_explored(const vctx *x, const node *top, const fm_cert *issuer) {
    if (top->src != FM_SRC_PRESENTED)
        return 0;
    size_t k = top->idx;
    for (size_t j = 1; j < k; j++)
        if (x->sig_ok[j].len && fm_span_eq(x->sig_ok[j], issuer->spki) &&
            fm_span_eq(x->pres[j].tbs, x->pres[k].tbs))
            return 1;
    return 0;
}

/* Records that the certificate at the top of the path verified under `issuer`. */
static void note_sig_ok(vctx *x, const node *top, const fm_cert *issuer) {
    if (top->src == FM_SRC_PRESENTED)
        x->sig_ok[top->idx] = issuer->spki;
}

/* Bucket hash of a cache key in O(1) whatever the certificates' sizes: each part's length and
 * last (up to) 32 bytes, which end a certificate's signature and a key's value. Keys are
 * compared byte for byte, and only verified signatures and parsed keys are stored, so parts
 * that share these bytes share a bucket, never an answer. */
static uint64_t tail_hash(uint64_t seed, const fm_span *parts, size_t n) {
    fm_span tails[3]; /* n <= 2 */
    uint64_t lens[2] = {0, 0};
    for (size_t i = 0; i < n && i < 2; i++) {
        size_t t = parts[i].len < 32 ? parts[i].len : 32;
        lens[i] = (uint64_t)parts[i].len;
        tails[i] = (fm_span){parts[i].p + parts[i].len - t, t};
    }
    tails[n] = (fm_span){(const uint8_t *)lens, sizeof lens};
    return fm_hash64(seed, tails, n + 1);
}

/* Signature of `child` under `issuer_spki`, through the verified-signature cache. */
static int check_sig(vctx *x, const fm_cert *child, const fm_cert *issuer, fm_key *known_key) {
    fm_span parts[2] = {child->der, issuer->spki};
    uint64_t sh = tail_hash(x->v->sigs.seed, parts, 2);
    unsigned char present;
    if (fm_cache_get_h(&x->v->sigs, sh, parts, 2, &present))
        return FM_OK;
    if (child->sig_alg_id == FM_SIG_UNKNOWN)
        return FM_ERR_UNSUPPORTED_SIGNATURE_ALGORITHM;
    if (++x->sig_checks > x->o->limits.max_sig_checks) {
        x->fatal = FM_ERR_BUDGET_EXCEEDED;
        return FM_ERR_BUDGET_EXCEEDED;
    }
    fm_key *key = known_key;
    int rc = FM_OK;
    if (key == NULL) {
        fm_span kp = issuer->spki;
        uint64_t kh = tail_hash(x->v->keys.seed, &kp, 1);
        if (!fm_cache_get_h(&x->v->keys, kh, &kp, 1, &key)) {
            rc = fm_key_new(issuer->spki.p, issuer->spki.len, &key);
            if (rc != FM_OK)
                return rc == FM_ERR_NOMEM ? rc : FM_ERR_UNSUPPORTED_KEY;
            if (x->v->keys.nbuckets) {
                fm_key_ref(key); /* one for the cache, one for us */
                if (fm_cache_put_h(&x->v->keys, kh, &kp, 1, &key) != FM_OK)
                    fm_key_free(key);
            }
        }
    }
    /* the key operation, and hashing the TBSCertificate: 16 KiB hashed costs about one
     * RSA-2048 verification, so a 64 KiB certificate checked under 60 candidates is budgeted */
    x->sig_cost += fm_key_cost(key) + (uint32_t)(child->tbs.len / 16384u);
    if (x->sig_cost > x->o->limits.max_sig_cost) {
        if (known_key == NULL)
            fm_key_free(key);
        x->fatal = FM_ERR_BUDGET_EXCEEDED;
        return FM_ERR_BUDGET_EXCEEDED;
    }
    rc = fm_sig_verify(key, child->sig_alg_id, &child->pss, child->tbs.p, child->tbs.len,
                       child->sig.p, child->sig.len);
    if (known_key == NULL)
        fm_key_free(key);
    if (rc == FM_OK) {
        present = 1;
        fm_cache_put_h(&x->v->sigs, sh, parts, 2, &present);
    }
    return rc;
}

static int key_too_small(const vctx *x, const fm_cert *c) {
    return (c->key_type == FM_KEY_RSA || c->key_type == FM_KEY_RSA_PSS) &&
           c->key_bits < x->o->min_rsa_bits;
}

static uint32_t purpose_eku(uint32_t purpose) {
    return purpose == FM_PURPOSE_CLIENT ? FM_EKU_CLIENT
           : purpose == FM_PURPOSE_SERVER ? FM_EKU_SERVER
                                           : 0;
}

/* Checks that do not depend on the path: run once per certificate before it is used. */
enum role { ROLE_LEAF, ROLE_INTERMEDIATE, ROLE_ANCHOR };

/* An authorityKeyIdentifier with its keyIdentifier (an empty one, or one naming the issuer by
 * name and serial only, does not help path building and is no conforming AKI). */
static int has_key_id(const fm_cert *c) {
    return (c->ext_flags & FM_X_AKI) && c->aki_keyid.len > 0;
}

/* DER of AlgorithmIdentifiers, byte for byte. */
typedef struct {
    const uint8_t *p;
    size_t len;
} alg_der;
#define ALG(...) {(const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__})}
#define PSS_PARAMS(h, salt)                                                                    \
    0x30, 0x41, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a, 0x30, 0x34,  \
        0xa0, 0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, h, \
        0x05, 0x00, 0xa1, 0x1c, 0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d,    \
        0x01, 0x01, 0x08, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04,    \
        0x02, h, 0x05, 0x00, 0xa2, 0x03, 0x02, 0x01, salt
/* BR 7.1.3.2.1: the signatureAlgorithm encodings a certificate may carry: RSASSA-PKCS1-v1_5
 * with SHA-256/384/512 and NULL parameters, RSASSA-PSS with SHA-256/384/512, MGF1 with the
 * same hash and a salt of the hash's length (all fields explicit), ECDSA with SHA-256/384/512
 * and no parameters. */
static const alg_der webpki_sig_algs[] = {
    ALG(0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00),
    ALG(0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c, 0x05, 0x00),
    ALG(0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d, 0x05, 0x00),
    ALG(PSS_PARAMS(0x01, 0x20)),
    ALG(PSS_PARAMS(0x02, 0x30)),
    ALG(PSS_PARAMS(0x03, 0x40)),
    ALG(0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02),
    ALG(0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03),
    ALG(0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04),
};
#undef PSS_PARAMS
#undef ALG

static int webpki_sig_alg(fm_span alg) {
    for (size_t i = 0; i < sizeof webpki_sig_algs / sizeof *webpki_sig_algs; i++)
        if (alg.len == webpki_sig_algs[i].len && memcmp(alg.p, webpki_sig_algs[i].p, alg.len) == 0)
            return 1;
    return 0;
}

/* The web PKI's further rules (FM_OPT_WEBPKI): CA/B Forum Baseline Requirements for TLS server
 * certificates that x509-limbo's webpki:: cases expect a verifier to apply and RFC 5280 leaves
 * open. Not 7.1.4.3 (a commonName a copy of a subjectAltName): fastmtls never matches an
 * expected name against the CN, and limbo's own SUCCESS cases break it by the hundred
 * (limbo_disagreements.txt). */
static int check_webpki(const fm_cert *c, int role) {
    uint32_t f = c->ext_flags;
    /* 6.1.5, 7.1.3.1.1-7.1.3.1.2: rsaEncryption with a modulus of whole octets, or ECDSA on
     * P-256, P-384 or P-521 (no Ed25519, no RSASSA-PSS key) */
    if (c->key_type == FM_KEY_RSA ? c->key_bits % 8 != 0
                                  : c->key_type != FM_KEY_EC_P256 && c->key_type != FM_KEY_EC_P384 &&
                                        c->key_type != FM_KEY_EC_P521)
        return FM_ERR_UNSUPPORTED_KEY;
    /* 7.1.3.2.1: the encoding of the signature, on every certificate whose signature is checked
     * (not a trust anchor's) */
    if (role != ROLE_ANCHOR && !webpki_sig_alg(c->sig_alg))
        return FM_ERR_UNSUPPORTED_SIGNATURE_ALGORITHM;
    /* 7.1.2.1.2 (roots: absent), 7.1.2.2-7.1.2.3 (subordinate CAs), 7.1.2.7.10 (subscribers):
     * extKeyUsage never critical */
    if (f & FM_X_EKU_CRIT)
        return FM_ERR_INVALID_EXTENSION;
    /* 7.1.2.7.10: a subscriber's extKeyUsage present, without anyExtendedKeyUsage */
    if (role == ROLE_LEAF && (!(f & FM_X_EKU) || (c->eku & FM_EKU_ANY)))
        return FM_ERR_INVALID_PURPOSE;
    if (role == ROLE_ANCHOR && c->self_issued) {
        /* a root (self-issued: its issuer and subject byte-identical, as fastmtls matches names
         * everywhere). 7.1.2.1.2: no extKeyUsage; 7.1.2.1.3: its authorityKeyIdentifier, if
         * any, is its keyIdentifier alone, identical to its subjectKeyIdentifier */
        if (f & FM_X_EKU)
            return FM_ERR_INVALID_EXTENSION;
        if ((f & FM_X_AKI) &&
            (!has_key_id(c) || (f & FM_X_AKI_ISSUER) || !fm_span_eq(c->aki_keyid, c->ski)))
            return FM_ERR_INVALID_EXTENSION;
    }
    return FM_OK;
}

static int check_cert_alone(const vctx *x, const fm_cert *c, int role) {
    int is_leaf = role == ROLE_LEAF;
    uint32_t f = c->ext_flags;
    if (c->version != 2)
        return FM_ERR_INVALID_VERSION; /* v3 only, like rustls-webpki and pyca/cryptography */
    if (f & FM_X_UNKNOWN_CRIT)
        return FM_ERR_UNHANDLED_CRITICAL_EXTENSION; /* RFC 5280 4.2 */
    if (f & FM_X_BAD_CRIT)
        return FM_ERR_INVALID_EXTENSION; /* criticality a MUST in RFC 5280 4.2.x contradicts */
    if (f & FM_X_DECODE_FAILED) /* an extension OpenSSL decodes does not (it refuses it too) */
        return FM_ERR_INVALID_EXTENSION;
    /* The operator chose its anchors: the issuance rules below bind the certificates it did not
     * choose. RFC 5280 4.2.1.1: authorityKeyIdentifier, with its keyIdentifier, MUST be present
     * except in self-signed CAs; 4.1.2.2: serial a positive integer of at most 20 octets. */
    if (role != ROLE_ANCHOR && ((!c->self_issued && !has_key_id(c)) || (f & FM_X_BAD_SERIAL)))
        return FM_ERR_INVALID_EXTENSION;
    /* 4.1.2.4: the issuer a non-empty DN; 4.1.2.6: a CA's subject too (its certificates'
     * issuer) */
    if (role != ROLE_ANCHOR && c->issuer.len == 2)
        return FM_ERR_INVALID_EXTENSION;
    if (role == ROLE_INTERMEDIATE && c->subject.len == 2)
        return FM_ERR_INVALID_CA;
    /* RFC 5280 4.2.1.3: keyCertSign only with basicConstraints cA TRUE */
    if ((f & FM_X_KU) && (c->key_usage & FM_KU_KEY_CERT_SIGN) && !((f & FM_X_BC) && c->is_ca))
        return FM_ERR_INVALID_EXTENSION;
    /* RFC 5280 4.2.1.6: with a non-empty subject, subjectAltName SHOULD be non-critical (the
     * profile of pyca/cryptography treats it as a MUST) */
    if ((f & FM_X_SAN_CRIT) && c->subject.len > 2)
        return FM_ERR_INVALID_EXTENSION;
    if ((c->ext_flags & FM_X_SAN) && fm_san_validate(c) != FM_OK)
        return FM_ERR_INVALID_EXTENSION;
    /* RFC 5280 4.1.2.6: an empty subject requires a critical subjectAltName */
    if (c->subject.len == 2 && (!(c->ext_flags & FM_X_SAN) || !(c->ext_flags & FM_X_SAN_CRIT)))
        return FM_ERR_INVALID_EXTENSION;
    if (is_leaf) {
        uint32_t want = purpose_eku(x->o->purpose);
        /* RFC 5280 4.2.1.12 with the webpki/cryptography profile: when EKU is present it must
         * name the purpose (anyExtendedKeyUsage does not stand in for it). */
        if (want && (c->ext_flags & FM_X_EKU) && !(c->eku & want))
            return FM_ERR_INVALID_PURPOSE;
        if (want && (x->o->flags & FM_OPT_REQUIRE_EKU) && !(c->ext_flags & FM_X_EKU))
            return FM_ERR_INVALID_PURPOSE;
        /* The client-auth profile of rustls-webpki and pyca/cryptography: a CA certificate is
         * not an end entity (RFC 5280 itself is silent; see limbo_disagreements.txt) */
        if ((f & FM_X_BC) && c->is_ca)
            return FM_ERR_INVALID_NON_CA;
        /* RFC 5280 4.2.1.10: nameConstraints only in CA certificates */
        if ((f & FM_X_NC) && !((f & FM_X_BC) && c->is_ca))
            return FM_ERR_INVALID_EXTENSION;
        if (c->key_type != FM_KEY_RSA && c->key_type != FM_KEY_EC_P256 &&
            c->key_type != FM_KEY_EC_P384 && c->key_type != FM_KEY_EC_P521 &&
            c->key_type != FM_KEY_ED25519)
            return FM_ERR_UNSUPPORTED_KEY;
        if (key_too_small(x, c))
            return FM_ERR_EE_KEY_TOO_SMALL;
    } else {
        /* RFC 5280 6.1.4 (k): basicConstraints present and cA TRUE */
        if (!(c->ext_flags & FM_X_BC) || !c->is_ca)
            return FM_ERR_INVALID_CA;
        /* RFC 5280 4.2.1.9: MUST be critical in CA certificates; 4.2.1.2: CAs MUST carry a
         * subjectKeyIdentifier */
        if (!(f & FM_X_BC_CRIT) || !(f & FM_X_SKI))
            return FM_ERR_INVALID_EXTENSION;
        /* RFC 5280 6.1.4 (n): keyCertSign when keyUsage is present */
        if ((c->ext_flags & FM_X_KU) && !(c->key_usage & FM_KU_KEY_CERT_SIGN))
            return FM_ERR_KEYUSAGE_NO_CERTSIGN;
        /* EKU on a CA constrains what it may issue (CA/B practice; OpenSSL, webpki) */
        uint32_t want = purpose_eku(x->o->purpose);
        if (want && (c->ext_flags & FM_X_EKU) && !(c->eku & (want | FM_EKU_ANY)))
            return FM_ERR_INVALID_PURPOSE;
        if (c->ext_flags & FM_X_NC) {
            int nc = fm_nc_validate(c);
            if (nc != FM_OK)
                return nc;
        }
        if (key_too_small(x, c))
            return FM_ERR_CA_KEY_TOO_SMALL;
    }
    return (x->o->flags & FM_OPT_WEBPKI) ? check_webpki(c, role) : FM_OK;
}

static int presented_alone(vctx *x, size_t k) {
    if (x->alone[k] == 0)
        x->alone[k] = check_cert_alone(x, &x->pres[k], ROLE_INTERMEDIATE) + 1;
    return x->alone[k] - 1;
}

/* check_sig of the path's top under candidate `cand`, once per presented pair and call (a
 * failure is not remembered as a result: it is looked up again, at no signature cost, so that
 * the budget and the error ranking see it as before). */
static int check_sig_at(vctx *x, const node *top, const fm_cert *cand, uint8_t src, size_t k,
                        fm_key *known_key) {
    int8_t *memo = x->pair != NULL && top->src == FM_SRC_PRESENTED && src == FM_SRC_PRESENTED
                       ? &x->pair[(size_t)top->idx * x->n_pres + k]
                       : NULL;
    if (memo != NULL && *memo == 1)
        return FM_OK;
    int rc = check_sig(x, top->cert, cand, known_key);
    if (memo != NULL && rc == FM_OK)
        *memo = 1;
    return rc;
}

/* ---- explicit policy (RFC 5280 4.2.1.11, 6.1) ---------------------------------------------- */

#define FM_MAX_POLICIES 64 /* policy identifiers read per certificate where a policy is required */
#define POLICY_WORK_STEP 64 /* policy entries read or compared per path-building step */

static const uint8_t OID_ANY_POLICY[] = {0x55, 0x1D, 0x20, 0x00};

static int policy_in(fm_span p, const fm_span *ids, size_t n, uint64_t *work) {
    *work += n;
    for (size_t i = 0; i < n; i++)
        if (fm_span_eq(p, ids[i]))
            return 1;
    return 0;
}

/* The policy identifiers of `c` other than anyPolicy (at most FM_MAX_POLICIES), and whether
 * anyPolicy is one. -1 when the list is malformed or longer, or names a policy twice (RFC 5280
 * 4.2.1.4: "A certificate policy OID MUST NOT appear more than once"; OpenSSL's policy cache
 * refuses it too): 52 KB of repeated anyPolicy entries must not be read at every path tried.
 * *work counts the entries read and identifiers compared. */
static int policy_ids(const fm_cert *c, fm_span *ids, size_t *n, int *any, uint64_t *work) {
    fm_der r, pi;
    fm_span info, oid;
    *n = 0;
    *any = 0;
    fm_der_init_span(&r, c->policies);
    while (!fm_der_done(&r)) {
        ++*work;
        if (fm_der_expect(&r, FM_TAG_SEQUENCE, &info, NULL))
            return -1;
        fm_der_init_span(&pi, info); /* policyQualifiers (optional) are not read */
        if (fm_der_expect(&pi, FM_TAG_OID, &oid, NULL) || oid.len == 0)
            return -1;
        if (FM_OID_EQ(oid, OID_ANY_POLICY)) {
            if (*any)
                return -1;
            *any = 1;
        } else if (*n == FM_MAX_POLICIES || policy_in(oid, ids, *n, work)) {
            return -1;
        } else {
            ids[(*n)++] = oid;
        }
    }
    return 0;
}

/* RFC 5280 6.1 policy processing as far as a path's own policyConstraints make it matter:
 * fastmtls sets no initial explicit-policy, so a path needs a policy only when one of its
 * certificates requires it (requireExplicitPolicy, counted in certificates as 6.1.4 (h)-(i) and
 * 6.1.5 (a)-(b) count it). Then the valid_policy_tree must not be NULL (6.1.3 (f), 6.1.5 (g)):
 * every certificate below the anchor has certificatePolicies, and one policy is common to all
 * of them, anyPolicy standing for every policy (as it does without inhibitAnyPolicy). A path
 * that needs mapping (policyMappings, inhibitAnyPolicy, inhibitPolicyMapping) fails closed.
 * FM_OK, FM_ERR_NO_EXPLICIT_POLICY or FM_ERR_INVALID_EXTENSION, with *depth. */
static int check_explicit_policy(const vctx *x, int *depth, uint64_t *work) {
    size_t n = x->len - 1; /* RFC 5280's certificates 1..n: path[n - 1] .. path[0] */
    int64_t explicit_policy = (int64_t)n + 1;
    for (size_t i = 1; i <= n; i++) {
        const fm_cert *c = x->path[n - i].cert;
        if (explicit_policy > 0 && (i == n || !c->self_issued))
            explicit_policy--;
        if (c->require_explicit >= 0 && (i < n || c->require_explicit == 0) &&
            c->require_explicit < explicit_policy)
            explicit_policy = c->require_explicit;
    }
    if (explicit_policy > 0)
        return FM_OK;
    fm_span first[FM_MAX_POLICIES], ids[FM_MAX_POLICIES];
    size_t n_first = 0, n_ids;
    int have_first = 0, any;
    /* anyPolicy until the first certificate (from the top) without it; then its policies, each
     * kept while every later certificate without anyPolicy names it too */
    for (size_t k = n; k-- > 0;) {
        const fm_cert *c = x->path[k].cert;
        *depth = (int)k;
        if (!(c->ext_flags & FM_X_POLICY) || (c->ext_flags & FM_X_POLICY_MAP))
            return FM_ERR_NO_EXPLICIT_POLICY; /* no policies; or mapping, not processed */
        if (policy_ids(c, have_first ? ids : first, have_first ? &n_ids : &n_first, &any,
                       work) != 0)
            return FM_ERR_INVALID_EXTENSION;
        if (any)
            continue;
        if (!have_first) {
            have_first = 1;
            continue;
        }
        size_t kept = 0;
        for (size_t j = 0; j < n_first; j++)
            if (policy_in(first[j], ids, n_ids, work))
                first[kept++] = first[j];
        n_first = kept;
    }
    *depth = 0;
    return !have_first || n_first > 0 ? FM_OK : FM_ERR_NO_EXPLICIT_POLICY;
}

/* Validates the complete path x->path[0..len-1] (leaf .. anchor): the checks that depend on the
 * whole path. Signatures were checked while building it. Sets *depth on failure. */
static int validate_path(vctx *x, int *depth) {
    size_t n = x->len;
    /* RFC 5280 6.1.4 (l)-(m): pathLenConstraint counts non-self-issued intermediates below */
    for (size_t i = 1; i < n; i++) {
        const fm_cert *c = x->path[i].cert;
        if (c->path_len < 0)
            continue;
        int below = 0;
        for (size_t j = 1; j < i; j++)
            below += !x->path[j].cert->self_issued;
        if (below > c->path_len) {
            *depth = (int)i;
            return FM_ERR_PATH_LENGTH_EXCEEDED;
        }
    }
    /* RFC 5280 6.1.3 (b)-(c): each CA's name constraints apply to every certificate below it,
     * except self-issued intermediates. In OpenSSL's order (check_name_constraints): the
     * certificates from the top down, each against the CAs above it from the top down, so that
     * where several break constraints the depth reported is the one OpenSSL reports. */
    const uint64_t nc_max = x->o->limits.max_nc_checks;
    const unsigned rule = (x->o->flags & FM_OPT_CN_ALWAYS)   ? FM_NC_CN_ALWAYS
                          : (x->o->flags & FM_OPT_CN_NO_SAN) ? FM_NC_CN_NO_SAN
                                                             : FM_NC_CN_NO_DNS_SAN;
    for (size_t j = n ? n - 1 : 0; j-- > 0;) {
        const fm_cert *sub = x->path[j].cert;
        if (j > 0 && sub->self_issued)
            continue;
        for (size_t i = n; --i > j;) {
            const fm_cert *ca = x->path[i].cert;
            if (!(ca->ext_flags & FM_X_NC))
                continue;
            /* one budget for the whole verification: every path tried, every pair */
            uint64_t spent = 0;
            uint32_t left = x->nc_spent < nc_max ? (uint32_t)(nc_max - x->nc_spent) : 0;
            int rc = left ? fm_nc_check(ca, sub, rule, left, &spent) : FM_ERR_BUDGET_EXCEEDED;
            /* a pair over what is left uses it up: the next paths through these certificates
             * are refused without reading their constraints again (each refusal read them) */
            x->nc_spent = rc == FM_ERR_BUDGET_EXCEEDED ? nc_max : x->nc_spent + spent;
            if (rc != FM_OK) {
                *depth = (int)j;
                return rc;
            }
        }
    }
    if (x->name_kind != FM_NAME_NONE) {
        /* the leaf is the same on every path: matched once (its SANs may be 60 KB) */
        if (x->name_rc == 0)
            x->name_rc = fm_name_match(x->path[0].cert, x->name_kind, x->name, x->name_len) + 1;
        if (x->name_rc - 1 != FM_OK) {
            *depth = 0;
            return x->name_rc - 1;
        }
    }
    /* explicit policy is processed for every path that reaches an anchor: its work (entries read,
     * identifiers compared) counts towards the step budget, one step per POLICY_WORK_STEP, so
     * that hundreds of paths through certificates with 64 policies each stay bounded */
    uint64_t work = 0;
    int rc = check_explicit_policy(x, depth, &work);
    if (budget_steps(x, (uint32_t)(work / POLICY_WORK_STEP)))
        return FM_ERR_BUDGET_EXCEEDED;
    if (rc != FM_OK)
        return rc;
    /* RFC 5280 6.1.3 (a)(2): validity at the verification time, reported from the top down as
     * OpenSSL's internal_verify does */
    for (size_t k = n; k-- > 0;) {
        const fm_cert *c = x->path[k].cert;
        if (x->at < c->not_before) {
            *depth = (int)k;
            refused_before(x, c->not_before);
            return FM_ERR_CERT_NOT_YET_VALID;
        }
        if (x->at > c->not_after) {
            *depth = (int)k;
            refused_after(x, c->not_after);
            return FM_ERR_CERT_HAS_EXPIRED;
        }
    }
    return FM_OK;
}

static void fill_result(const vctx *x, fm_result *out);
static int check_revocation(vctx *x, const fm_revset *revs, fm_result *out, int *depth);

/* A valid path reached a trust anchor (x->path): FM_OK when it is the answer (no revocation set,
 * or nothing on it revoked), -1 when the search goes on: its revocation check failed (recorded),
 * or it is revoked (kept as the fallback, the first one found). See vctx.revs. */
static int path_found(vctx *x) {
    if (!x->rev_check)
        return FM_OK;
    fm_result *r = &x->scratch;
    memset(r, 0, sizeof *r);
    r->revoked_depth = -1;
    fill_result(x, r);
    int depth = 0;
    int rc = check_revocation(x, x->revs, r, &depth);
    if (rc != FM_OK) {
        if (x->best == FM_OK || x->best_rank < RANK_REVOCATION) { /* it becomes x->best */
            memcpy(x->rf_path, x->path, x->len * sizeof *x->path);
            x->rf_len = x->len;
            x->rf_rev_depth = r->revoked_depth;
            x->rf_rev_reason = r->revoked_reason;
            x->rf_rev_at = r->revoked_at;
        }
        record(x, rc, depth, RANK_REVOCATION);
        x->done |= depth == 0;
        return -1;
    }
    if (!(r->flags & FM_RESULT_REVOKED))
        return FM_OK;
    if (x->fb_len == 0) {
        memcpy(x->fb_path, x->path, x->len * sizeof *x->path);
        x->fb_len = x->len;
    }
    x->done |= r->revoked_depth == 0;
    return -1;
}

/* RFC 5280 4.2.1.1: only a self-signed certificate may lack an authorityKeyIdentifier, and
 * check_cert_alone exempts every self-issued one (it cannot tell): issued under another key than
 * its own, it is not self-signed, and is refused. */
static int aki_missing_under(const fm_cert *c, const fm_cert *issuer) {
    return c->self_issued && !has_key_id(c) && !fm_span_eq(c->spki, issuer->spki);
}

/* Whether anchor `a` is one the authorityKeyIdentifier of `c` names (both identifiers present
 * and equal). Only the order candidates are tried in: the signature decides. */
static int aki_names(const fm_cert *c, const fm_cert *a) {
    return c->aki_keyid.len && fm_span_eq(c->aki_keyid, a->ski);
}

/* The signature of `c` (at `depth`) did not verify under candidate issuer `cand` (check_sig's
 * `rc`). When c's authorityKeyIdentifier names another key than cand's subjectKeyIdentifier,
 * cand is another CA of the same name (another tenant's "CN=Root CA", a re-keyed CA), not a
 * forgery: the issuer was not found, as OpenSSL says (its akid check skips such candidates),
 * ranked with "no issuer" so that any real candidate's failure comes first. */
static void record_sig_failure(vctx *x, const fm_cert *c, const fm_cert *cand, int rc, int depth) {
    if (c->aki_keyid.len && cand->ski.len && !fm_span_eq(c->aki_keyid, cand->ski)) {
        record(x, FM_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, depth, 0);
        return;
    }
    record(x, rc == FM_ERR_UNSUPPORTED_KEY ? FM_ERR_UNSUPPORTED_SIGNATURE_ALGORITHM : rc, depth, 2);
}

/* Anchor i of the store as the issuer of the path's top certificate, in pass 0 (the anchors the
 * top's authorityKeyIdentifier names) or 1 (the others); counts it into *candidates. Returns 1
 * when a path was found, -1 when the search stops, 0 to go on. */
static int try_anchor(vctx *x, const node *top, int depth, size_t i, int pass, int *candidates) {
    const fm_cert *c = top->cert;
    fm_owned_cert *a = &x->s->anchors[i];
    if (!fm_span_eq(a->cert.subject, c->issuer) || !allowed(x, a->group) ||
        aki_names(c, &a->cert) != (pass == 0))
        return 0;
    if (budget_step(x))
        return -1;
    if (in_path(x, &a->cert))
        return 0;
    (*candidates)++;
    if (twin_explored(x, top, &a->cert))
        return 0;
    if (aki_missing_under(c, &a->cert)) {
        record(x, FM_ERR_INVALID_EXTENSION, depth, 2);
        return 0;
    }
    int rc = check_sig(x, c, &a->cert, a->key);
    if (x->fatal)
        return -1;
    if (rc != FM_OK) {
        record_sig_failure(x, c, &a->cert, rc, depth);
        return 0;
    }
    note_sig_ok(x, top, &a->cert);
    int adepth = (int)x->len;
    if ((rc = check_cert_alone(x, &a->cert, ROLE_ANCHOR)) != FM_OK) {
        record(x, rc, adepth, 3);
        return 0;
    }
    x->path[x->len++] = (node){&a->cert, FM_SRC_ANCHOR, (uint16_t)i};
    int vdepth = -1;
    rc = validate_path(x, &vdepth);
    if (rc == FM_OK && path_found(x) == FM_OK)
        return 1;
    if (rc != FM_OK)
        record(x, rc, vdepth, 3);
    x->len--;
    return x->done || x->fatal ? -1 : 0;
}

/* Hosts associated with at most this many groups walk only their groups' anchors (build). */
#define ASSOC_MERGE_MAX 16u

/* Depth-first search for an issuer of path[len-1]: trust anchors first, then the presented
 * intermediates, then the operator's. Returns FM_OK when a valid path was found (left in
 * x->path), -1 otherwise (the best error is in x->best, or x->fatal; a fallback path may be in
 * x->fb_path). */
static int build(vctx *x) {
    const node *top = &x->path[x->len - 1];
    const fm_cert *c = top->cert;
    int depth = (int)x->len - 1;
    int candidates = 0;
    uint64_t ih = top->src == FM_SRC_PRESENTED ? x->iss_hash[top->idx] : fm_name_hash(c->issuer);

    /* the anchors of that subject name, in the order they were added: those whose
     * subjectKeyIdentifier the certificate's authorityKeyIdentifier names first, then the
     * others (a store where many tenants' CAs share one name must not spend the budget on the
     * wrong ones first). A host with a few associated groups walks only its groups' CAs of the
     * name (the by-group index, chains merged in the order added); otherwise the CAs of the
     * name are walked, and those the host may not use count towards the step budget too (a
     * thousand per step, weighted by the host's groups), so that tens of thousands of other
     * tenants' CAs of the name cannot make each step of a hostile chain's search expensive. */
    const fm_store *st = x->s;
    const fm_assoc *as = x->assoc;
    for (int pass = 0; pass < 2; pass++) {
        if (as != NULL && as->n_groups <= ASSOC_MERGE_MAX) {
            uint32_t cur[ASSOC_MERGE_MAX];
            size_t ng = 0;
            for (size_t g = 0; g < as->n_groups; g++) {
                int dup = 0;
                for (size_t h = 0; h < g; h++)
                    dup |= as->groups[h] == as->groups[g];
                if (!dup)
                    cur[ng++] = fm_cindex_first(&st->by_group, fm_group_key(ih, as->groups[g]));
            }
            for (;;) {
                size_t best = ng;
                for (size_t g = 0; g < ng; g++)
                    if (cur[g] && (best == ng || cur[g] < cur[best]))
                        best = g;
                if (best == ng)
                    break;
                size_t i = cur[best] - 1;
                cur[best] = st->by_group.next1[i];
                int r = try_anchor(x, top, depth, i, pass, &candidates);
                if (r != 0)
                    return r > 0 ? FM_OK : -1;
            }
        } else {
            size_t work = 0;
            for (uint32_t i1 = fm_cindex_first(&st->by_name, ih); i1; i1 = st->by_name.next1[i1 - 1]) {
                size_t i = i1 - 1;
                if (!allowed(x, st->anchors[i].group)) {
                    work += as ? as->n_groups : 1;
                    if (work >= 1024) {
                        work -= 1024;
                        if (budget_step(x))
                            return -1;
                    }
                    continue;
                }
                int r = try_anchor(x, top, depth, i, pass, &candidates);
                if (r != 0)
                    return r > 0 ? FM_OK : -1;
            }
        }
    }

    /* the presented certificates, then the operator's intermediates of that subject hash (the
     * verifier's index), each in order */
    const fm_verifier *v = x->v;
    uint32_t next_inter = fm_cindex_first(&v->inter_idx, ih);
    for (size_t k = 1;; k++) {
        const fm_cert *cand;
        uint8_t src;
        uint16_t idx;
        if (k < x->n_pres) {
            if (x->pres_ok[k] != FM_OK || x->subj_hash[k] != ih)
                continue;
            cand = &x->pres[k], src = FM_SRC_PRESENTED, idx = (uint16_t)k;
        } else {
            if (next_inter == 0)
                break;
            size_t j = next_inter - 1;
            next_inter = v->inter_idx.next1[j];
            cand = &v->inters[j].cert, src = FM_SRC_INTERMEDIATE, idx = (uint16_t)j;
        }
        if (!fm_span_eq(cand->subject, c->issuer))
            continue;
        if (budget_step(x))
            return -1;
        /* a certificate presented twice (the same DER) is one candidate */
        if (src == FM_SRC_PRESENTED && presented_before(x, k))
            continue;
        if (in_path(x, cand))
            continue;
        candidates++;
        if (twin_explored(x, top, cand))
            continue;
        /* at most max_depth intermediates between leaf and anchor; self-issued ones (key
         * rollover) do not count, as in pyca/cryptography; the path array bounds the rest */
        size_t logical = 0;
        for (size_t j = 1; j < x->len; j++)
            logical += !x->path[j].cert->self_issued;
        if ((!cand->self_issued && logical >= x->o->limits.max_depth) ||
            x->len >= FM_MAX_DEPTH_LIMIT + 1) {
            record(x, FM_ERR_CERT_CHAIN_TOO_LONG, (int)x->len, 1);
            continue;
        }
        int rc = src == FM_SRC_PRESENTED ? presented_alone(x, k)
                                         : check_cert_alone(x, cand, ROLE_INTERMEDIATE);
        if (rc != FM_OK) {
            record(x, rc, (int)x->len, 2);
            continue;
        }
        if (aki_missing_under(c, cand)) {
            record(x, FM_ERR_INVALID_EXTENSION, depth, 2);
            continue;
        }
        rc = check_sig_at(x, top, cand, src, k, NULL);
        if (x->fatal)
            return -1;
        if (rc != FM_OK) {
            record_sig_failure(x, c, cand, rc, depth);
            continue;
        }
        note_sig_ok(x, top, cand);
        x->path[x->len++] = (node){cand, src, idx};
        if (build(x) == FM_OK)
            return FM_OK;
        x->len--;
        if (x->fatal || x->done)
            return -1;
    }

    if (candidates == 0) {
        int st = !c->self_issued ? FM_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
                 : depth == 0    ? FM_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
                                 : FM_ERR_SELF_SIGNED_CERT_IN_CHAIN;
        record(x, st, depth, 0);
    }
    return -1;
}

static void fill_result(const vctx *x, fm_result *out) {
    out->chain_len = (uint32_t)x->len;
    out->not_before = INT64_MIN;
    out->not_after = INT64_MAX;
    for (size_t i = 0; i < x->len; i++) {
        out->chain_src[i] = x->path[i].src;
        out->chain_idx[i] = x->path[i].idx;
        const fm_cert *c = x->path[i].cert;
        if (c->not_before > out->not_before)
            out->not_before = c->not_before;
        if (c->not_after < out->not_after)
            out->not_after = c->not_after;
    }
    const node *top = &x->path[x->len - 1];
    out->anchor_group = x->s->anchors[top->idx].group;
    out->holds_from = out->not_before;
    out->holds_until = out->not_after;
}

static int finish(fm_result *out, int status, int depth) {
    out->status = status;
    out->depth = status == FM_OK ? -1 : depth;
    return status;
}

/* Bucket hash of the whole-result cache in O(1): the context, the input length, and the last 32
 * bytes of the leaf (its signature: unique per certificate) and of the whole input. Entries are
 * compared byte for byte, and only successful results are stored, so chains that collide on
 * these bytes share a bucket but never an answer. */
static uint64_t result_hash(const fm_verifier *v, fm_span ctx, const uint8_t *chain, size_t len) {
    fm_der r;
    fm_span leaf = {chain, len};
    fm_der_init(&r, chain, len);
    if (fm_der_any(&r, NULL, NULL, &leaf) != 0)
        leaf.len = len;
    size_t t1 = leaf.len < 32 ? leaf.len : 32, t2 = len < 32 ? len : 32;
    uint64_t n = (uint64_t)len;
    fm_span parts[4] = {{(const uint8_t *)&n, sizeof n}, {leaf.p + leaf.len - t1, t1},
                        {chain + len - t2, t2}, ctx};
    return fm_hash64(v->results.seed, parts, 4);
}

/* Whether a directoryName among GeneralNames (content) is `name` (a Name TLV). */
static int names_directory(fm_span general_names, fm_span name) {
    fm_der r;
    fm_span content;
    unsigned tag;
    fm_der_init_span(&r, general_names);
    while (!fm_der_done(&r) && fm_der_any(&r, &tag, &content, NULL) == 0)
        if (tag == FM_TAG_CONTEXT_CONS(4) && fm_span_eq(content, name))
            return 1; /* directoryName [4] EXPLICIT Name */
    return 0;
}

/* A covering CRL's window `cand` beside the freshest one so far (*w, when `covered`): *w becomes
 * the fresher of the two. Returns 1 (covered). */
static int keep_fresher(int covered, fm_window *w, fm_window cand, int64_t at) {
    if (!covered || fm_window_fresher(cand, *w, at))
        *w = cand;
    return 1;
}

/* RFC 5280 6.3.3 (b)(2)(i), as OpenSSL's crl_crldp_check: a partitioned CRL of the issuer (its
 * IDP names a distribution point) is in scope for `c` when one of its names is one of the names of
 * a distributionPoint in c's cRLDistributionPoints: fullName GeneralNames compared as exact DER,
 * nameRelativeToCRLIssuer by its RDN's DER (a fullName is never equated with a relative name).
 * A distribution point with `reasons` is skipped (the CRLs found through it are partial), and so
 * is one whose cRLIssuer does not name the issuing CA (indirect CRLs are not supported). */
static int dp_covered(const fm_revset *revs, int idx, const fm_cert *c, const fm_cert *issuer,
                      int is_ca, int64_t at, fm_window *w) {
    fm_der r, n;
    fm_dist_point dp;
    fm_span gn;
    int covered = 0;
    fm_window pw;
    /* every covering partition is looked at: the freshest one (fm_window_fresher: in force at
     * the verification time first, then the latest nextUpdate) decides whether the
     * certificate's status is current (as OpenSSL prefers a time-valid CRL among those in
     * scope) */
    fm_der_init_span(&r, c->crldp); /* validated by fm_cert_parse */
    while (fm_crldp_next(&r, &dp) == 1) {
        if (!dp.has_name || dp.has_reasons ||
            (dp.crl_issuer.len && !names_directory(dp.crl_issuer, issuer->subject)))
            continue;
        if (dp.name_kind == FM_DPN_RELATIVE) {
            if (fm_revset_covers_dp(revs, idx, is_ca, FM_DPN_RELATIVE, dp.names, &pw))
                covered = keep_fresher(covered, w, pw, at);
            continue;
        }
        fm_der_init_span(&n, dp.names);
        while (!fm_der_done(&n) && fm_der_any(&n, NULL, NULL, &gn) == 0)
            if (fm_revset_covers_dp(revs, idx, is_ca, FM_DPN_FULL, gn, &pw))
                covered = keep_fresher(covered, w, pw, at);
    }
    return covered;
}

/* Revocation of the validated path (RFC 5280 6.3, simplified to complete CRLs from the issuing
 * CA): the leaf, or every certificate below the anchor with FM_OPT_REV_CHAIN. Returns FM_OK (and
 * flags a revocation in *out) or the failure status with *depth set. When stale CRLs are
 * refused, also narrows the times the result holds (out->holds_*) to the CRLs' windows. */
static int check_revocation(vctx *x, const fm_revset *revs, fm_result *out, int *depth) {
    uint32_t flags = x->o->flags;
    size_t last = (flags & FM_OPT_REV_CHAIN) ? x->len - 1 : 1;
    for (size_t i = 0; i < last && i + 1 < x->len; i++) {
        const fm_cert *c = x->path[i].cert, *issuer = x->path[i + 1].cert;
        int is_ca = (c->ext_flags & FM_X_BC) && c->is_ca;
        int idx = revs ? fm_revset_find_issuer(revs, issuer->subject, issuer->spki) : -1;
        fm_window win = {INT64_MIN, INT64_MAX}, dp_win = {INT64_MIN, INT64_MAX};
        /* complete status for this kind of certificate: a CRL of full scope (or of its scope,
         * not partitioned by reason) without a distribution point name or with one the
         * certificate's cRLDistributionPoints name, or operator-managed entries. The CRLs that
         * give it decide whether that status is stale: the freshest of them (another
         * partition's or scope's CRL, or one that does not cover this certificate, does not). */
        int covered = idx >= 0 && fm_revset_issuer_state(revs, idx, is_ca && i > 0, &win);
        if (idx >= 0 && c->crldp.len &&
            dp_covered(revs, idx, c, issuer, is_ca && i > 0, x->at, &dp_win))
            covered = keep_fresher(covered, &win, dp_win, x->at);
        if (!covered && (flags & FM_OPT_REV_DENY_MISSING)) {
            *depth = (int)i;
            return FM_ERR_UNABLE_TO_GET_CRL;
        }
        if (idx < 0)
            continue;
        if (covered && (flags & FM_OPT_REV_DENY_EXPIRED)) {
            if (x->at < win.this_update) {
                *depth = (int)i;
                refused_before(x, win.this_update);
                return FM_ERR_CRL_NOT_YET_VALID;
            }
            if (x->at > win.next_update) {
                *depth = (int)i;
                refused_after(x, win.next_update);
                return FM_ERR_CRL_HAS_EXPIRED;
            }
            if (win.next_update < out->holds_until)
                out->holds_until = win.next_update;
            if (win.this_update > out->holds_from)
                out->holds_from = win.this_update;
        }
        fm_revocation rv;
        if (fm_revset_check(revs, idx, c->serial, is_ca && i > 0, &rv)) {
            if (flags & FM_OPT_REV_STRICT) { /* FAILED:certificate revoked, naming which */
                *depth = (int)i;
                out->revoked_depth = (int32_t)i;
                out->revoked_reason = rv.reason;
                out->revoked_at = rv.date;
                return FM_ERR_CERT_REVOKED;
            }
            if (!(out->flags & FM_RESULT_REVOKED)) {
                out->flags |= FM_RESULT_REVOKED;
                out->revoked_depth = (int32_t)i;
                out->revoked_reason = rv.reason;
                out->revoked_at = rv.date;
            }
        }
    }
    return FM_OK;
}

/* The current time in unix seconds from the precise real-time clock, the one Python's
 * time.time() reads: time(NULL) may read a coarse clock a tick behind it (glibc's vDSO), so a
 * CRL that Python code (CRLSource) found in force at its thisUpdate could read as not yet valid
 * here for a few milliseconds. */
int64_t fm_now(void) {
    struct timespec ts;
#ifdef _WIN32
    if (timespec_get(&ts, TIME_UTC) == TIME_UTC)
        return (int64_t)ts.tv_sec;
#else
    if (clock_gettime(CLOCK_REALTIME, &ts) == 0)
        return (int64_t)ts.tv_sec;
#endif
    return (int64_t)time(NULL);
}

int fm_verify(fm_verifier *v, fm_store *s, const fm_revset *revs, const uint8_t *chain,
              size_t chain_len, const uint8_t *host, size_t host_len, int64_t at,
              uint32_t name_kind, const uint8_t *name, size_t name_len, fm_result *out) {
    if (out == NULL)
        return FM_ERR_INVALID_ARGUMENT;
    memset(out, 0, sizeof *out); /* padding and unused chain positions too: results compare */
    out->revoked_depth = -1;
    if (v == NULL || s == NULL || (chain_len && chain == NULL) || (host_len && host == NULL) ||
        (name_len && name == NULL) || name_kind > FM_NAME_URI)
        return finish(out, FM_ERR_INVALID_ARGUMENT, -1);
    if (at == FM_TIME_NOW)
        at = fm_now();
    if (!atomic_load_explicit(&v->sealed, memory_order_relaxed))
        atomic_store(&v->sealed, 1);
    if (!atomic_load_explicit(&s->sealed, memory_order_relaxed))
        atomic_store(&s->sealed, 1);
    if (chain_len == 0)
        return finish(out, FM_ERR_NO_CERTIFICATE, -1);
    const fm_limits *lim = &v->opts.limits;
    if (chain_len > lim->max_input_size)
        return finish(out, FM_ERR_INPUT_TOO_LARGE, 0);

    /* Whole-result cache: same store and revocation generations, same bytes, same host and
     * expected name: a result from before a revocation-set swap is never answered. */
    uint64_t gen = s->generation, rgen = revs ? fm_revset_generation(revs) : 0;
    uint8_t ctxkey[16 + 4 + 256 + 256];
    size_t ck = 0;
    int cacheable = host_len <= 255 && name_len <= 256;
    if (cacheable) {
        memcpy(ctxkey, &gen, 8);
        memcpy(ctxkey + 8, &rgen, 8);
        memcpy(ctxkey + 16, &name_kind, 4);
        ck = 20;
        ctxkey[ck++] = (uint8_t)host_len;
        if (host_len)
            memcpy(ctxkey + ck, host, host_len), ck += host_len;
        if (name_len)
            memcpy(ctxkey + ck, name, name_len), ck += name_len;
    }
    fm_span key_parts[2] = {{ctxkey, ck}, {chain, chain_len}};
    uint64_t rhash = 0;
    if (cacheable)
        rhash = result_hash(v, key_parts[0], chain, chain_len);
    if (cacheable && fm_cache_get_h(&v->results, rhash, key_parts, 2, out)) {
        if (at >= out->holds_from && at <= out->holds_until) {
            out->flags |= FM_RESULT_CACHED;
            out->sig_checks = out->steps = out->certs_reused = 0;
            return out->status;
        }
        memset(out, 0, sizeof *out); /* expired for this time: computed again below */
        out->revoked_depth = -1;
    }

    /* Split and parse the presented certificates (bounded by max_chain_certs). */
    size_t cap = lim->max_chain_certs;
    size_t *offs = malloc(cap * (sizeof(size_t) * 2 + sizeof(fm_cert) + sizeof(fm_span) +
                                 sizeof(int) + 1));
    if (offs == NULL)
        return finish(out, FM_ERR_NOMEM, -1);
    size_t *lens = offs + cap;
    fm_cert *pres = (fm_cert *)(lens + cap);
    fm_span *sig_ok = (fm_span *)(pres + cap);
    int *pres_ok = (int *)(sig_ok + cap);
    uint8_t *cached = (uint8_t *)(pres_ok + cap); /* pres[i] came from v->parsed */
    size_t n = 0;
    int rc = fm_chain_split(chain, chain_len, offs, lens, cap, &n);
    if (rc == FM_ERR_LIMIT) {
        free(offs);
        return finish(out, FM_ERR_CERT_CHAIN_TOO_LONG, (int)cap);
    }
    if (rc != FM_OK || n == 0) {
        free(offs);
        return finish(out, FM_ERR_MALFORMED_CERT, 0);
    }
    out->n_presented = (uint32_t)n;
    for (size_t i = 0; i < n; i++) {
        /* the leaf is new on every cold call: only the others are looked for */
        cached[i] = i > 0 && lens[i] <= lim->max_cert_size &&
                    parsed_get(v, chain + offs[i], lens[i], &pres[i]);
        pres_ok[i] = cached[i]                         ? FM_OK
                     : lens[i] > lim->max_cert_size ? FM_ERR_INPUT_TOO_LARGE
                                                    : fm_cert_parse(&pres[i], chain + offs[i], lens[i]);
        sig_ok[i] = (fm_span){NULL, 0};
    }

    vctx *x = calloc(1, sizeof *x);
    /* the memos: alone[n], copy_of[n], DER hashes[n], and the n x n pair table when n is small
     * enough for it (the default limit is 64 certificates: 4 KiB) */
    size_t n_pair = n <= 256 ? n * n : 0;
    uint8_t *memo = calloc(1, n * (2 * sizeof(int) + 3 * sizeof(uint64_t)) + n_pair);
    if (x == NULL || memo == NULL) {
        free(x);
        free(memo);
        free(offs);
        return finish(out, FM_ERR_NOMEM, -1);
    }
    uint64_t *hashes = (uint64_t *)memo;
    x->subj_hash = hashes + n;
    x->iss_hash = hashes + 2 * n;
    x->alone = (int *)(hashes + 3 * n);
    x->copy_of = x->alone + n;
    x->pair = n_pair ? (int8_t *)(x->copy_of + n) : NULL;
    x->v = v;
    x->s = s;
    x->o = &v->opts;
    x->at = at;
    x->assoc = fm_store_lookup_host(s, host, host_len);
    x->name_kind = name_kind;
    x->name = name;
    x->name_len = name_len;
    x->pres = pres;
    x->pres_ok = pres_ok;
    x->sig_ok = sig_ok;
    x->n_pres = n;
    x->best = FM_OK;
    x->best_depth = -1;
    x->t_lo = INT64_MIN;
    x->t_hi = INT64_MAX;
    find_copies(x, hashes);

    int status, depth = 0;
    if (pres_ok[0] != FM_OK) {
        status = pres_ok[0] == FM_ERR_INPUT_TOO_LARGE ? FM_ERR_INPUT_TOO_LARGE
                 : pres_ok[0] == FM_ERR_CERT_SIGNATURE_FAILURE ? FM_ERR_CERT_SIGNATURE_FAILURE
                 : pres_ok[0] == FM_ERR_INVALID_EXTENSION      ? FM_ERR_INVALID_EXTENSION
                 : pres_ok[0] == FM_ERR_INVALID_VERSION        ? FM_ERR_INVALID_VERSION
                                                              : FM_ERR_MALFORMED_CERT;
    } else if ((status = check_cert_alone(x, &pres[0], ROLE_LEAF)) != FM_OK) {
        depth = 0;
    } else {
        x->path[0] = (node){&pres[0], FM_SRC_PRESENTED, 0};
        x->len = 1;
        x->revs = revs;
        x->rev_check = revs != NULL || (x->o->flags & FM_OPT_REV_DENY_MISSING);
        int found = build(x) == FM_OK;
        if (!found && x->fb_len) { /* only revoked paths: the first one found */
            memcpy(x->path, x->fb_path, x->fb_len * sizeof *x->path);
            x->len = x->fb_len;
            found = 1;
        }
        if (found) {
            status = FM_OK;
            for (size_t k = 1; k < x->len; k++) /* the validated path's presented CAs */
                if (x->path[k].src == FM_SRC_PRESENTED && !cached[x->path[k].idx])
                    parsed_put(v, &pres[x->path[k].idx]);
            fill_result(x, out);
            if (x->rev_check && (status = check_revocation(x, revs, out, &depth)) != FM_OK)
                out->flags &= ~FM_RESULT_REVOKED;
        } else if (x->fatal && x->best_rank < RANK_REVOCATION) {
            /* (a valid path refused by its revocation check is the answer, even when the
             * budget ran out looking for another) */
            status = x->fatal, depth = -1;
        } else if (x->best_rank == RANK_REVOCATION && x->rf_len) {
            /* the valid path its revocation check refused: the result names its chain */
            memcpy(x->path, x->rf_path, x->rf_len * sizeof *x->path);
            x->len = x->rf_len;
            fill_result(x, out);
            status = x->best, depth = x->best_depth;
            if (status == FM_ERR_CERT_REVOKED) {
                out->revoked_depth = x->rf_rev_depth;
                out->revoked_reason = x->rf_rev_reason;
                out->revoked_at = x->rf_rev_at;
            }
        } else {
            status = x->best, depth = x->best_depth;
        }
    }
    out->sig_checks = x->sig_checks;
    out->steps = x->steps;
    for (size_t i = 1; i < n; i++)
        out->certs_reused += cached[i];
    if (x->t_lo > out->holds_from)
        out->holds_from = x->t_lo;
    if (x->t_hi < out->holds_until)
        out->holds_until = x->t_hi;
    finish(out, status, depth);
    if (status == FM_OK && cacheable)
        fm_cache_put_h(&v->results, rhash, key_parts, 2, out);
    free(x);
    free(memo);
    free(offs);
    return status;
}

int fm_verify_chain(fm_verifier *v, fm_store *store, const fm_revset *revs,
                    const uint8_t *chain, size_t chain_len, int64_t at, fm_result *out) {
    return fm_verify(v, store, revs, chain, chain_len, NULL, 0, at, FM_NAME_NONE, NULL, 0, out);
}

int fm_result_equal(const fm_result *a, const fm_result *b) {
    if (a->status != b->status || a->depth != b->depth || a->chain_len != b->chain_len ||
        a->flags != b->flags || a->anchor_group != b->anchor_group ||
        a->sig_checks != b->sig_checks || a->steps != b->steps ||
        a->certs_reused != b->certs_reused ||
        a->not_before != b->not_before || a->not_after != b->not_after ||
        a->holds_from != b->holds_from || a->holds_until != b->holds_until ||
        a->revoked_depth != b->revoked_depth || a->revoked_reason != b->revoked_reason ||
        a->revoked_at != b->revoked_at || a->n_presented != b->n_presented)
        return 0;
    size_t n = a->chain_len;
    if (n > FM_MAX_DEPTH_LIMIT + 2)
        n = FM_MAX_DEPTH_LIMIT + 2;
    return memcmp(a->chain_src, b->chain_src, n) == 0 &&
           memcmp(a->chain_idx, b->chain_idx, n * sizeof a->chain_idx[0]) == 0;
}

int fm_verify_again(fm_verifier *v, fm_store *store, const fm_revset *revs, const uint8_t *chain,
                    size_t chain_len, const uint8_t *host, size_t host_len, int64_t at,
                    const fm_result *prev, fm_result *out) {
    if (out == NULL)
        return FM_ERR_INVALID_ARGUMENT;
    fm_result r;
    fm_verify(v, store, revs, chain, chain_len, host, host_len, at, FM_NAME_NONE, NULL, 0, &r);
    if (prev != NULL && fm_result_equal(&r, prev))
        return 1;
    memcpy(out, &r, sizeof r);
    return 0;
}

int fm_verify_chain_again(fm_verifier *v, fm_store *store, const fm_revset *revs,
                          const uint8_t *chain, size_t chain_len, int64_t at,
                          const fm_result *prev, fm_result *out) {
    return fm_verify_again(v, store, revs, chain, chain_len, NULL, 0, at, prev, out);
}

int fm_verifier_set_store(fm_verifier *v, fm_store *store) {
    if (v == NULL || store == NULL)
        return FM_ERR_INVALID_ARGUMENT;
    fm_store_ref(store);
    fm_lock_acquire(&v->cur_lock);
    fm_store *old = v->cur_store;
    v->cur_store = store;
    fm_lock_release(&v->cur_lock);
    fm_store_free(old); /* outside the lock: may free */
    return FM_OK;
}

int fm_verifier_set_revocations(fm_verifier *v, fm_revset *revs) {
    if (v == NULL)
        return FM_ERR_INVALID_ARGUMENT;
    fm_revset_ref(revs);
    fm_lock_acquire(&v->cur_lock);
    fm_revset *old = v->cur_revs;
    v->cur_revs = revs;
    fm_lock_release(&v->cur_lock);
    fm_revset_free(old);
    return FM_OK;
}

int fm_verify_current(fm_verifier *v, const uint8_t *chain, size_t chain_len, const uint8_t *host,
                      size_t host_len, int64_t at, fm_result *out, fm_store **store_used) {
    if (v == NULL || out == NULL)
        return FM_ERR_INVALID_ARGUMENT;
    /* take references under the lock, verify without it */
    fm_lock_acquire(&v->cur_lock);
    fm_store *s = v->cur_store;
    fm_revset *r = v->cur_revs;
    fm_store_ref(s);
    fm_revset_ref(r);
    fm_lock_release(&v->cur_lock);
    int rc = fm_verify(v, s, r, chain, chain_len, host, host_len, at, FM_NAME_NONE, NULL, 0, out);
    if (store_used)
        *store_used = s; /* the caller owns this reference */
    else
        fm_store_free(s);
    fm_revset_free(r);
    return rc;
}
