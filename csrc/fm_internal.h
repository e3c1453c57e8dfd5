/* fm_internal.h - structures shared by the store and the verifier. */
#ifndef FM_INTERNAL_H
#define FM_INTERNAL_H

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "fm_cache.h"
#include "fm_crypto.h"
#include "fm_x509.h"
#include "include/fastmtls.h"

/* The current time in unix seconds, from the precise real-time clock (fm_verify.c). */
int64_t fm_now(void);

/* A certificate the core owns: a private copy of the DER, its parse, and (for CAs) its key. */
typedef struct fm_owned_cert {
    uint8_t *der;
    size_t len;
    fm_cert cert;   /* spans point into der */
    fm_key *key;    /* NULL until needed for operator intermediates (they use the key cache) */
    uint32_t group; /* anchors: the operator's CA group */
    uint64_t subject_hash;
} fm_owned_cert;

typedef struct fm_assoc {
    uint8_t *host; /* lower-case */
    size_t host_len;
    uint32_t *groups;
    size_t n_groups;
} fm_assoc;

/* A slot of fm_revset's removal sets: open addressing, linear probing, load <= 1/2. */
typedef struct fm_hslot {
    uint64_t hash;
    uint32_t idx1; /* index + 1; 0 = empty */
} fm_hslot;

static inline void fm_hslot_put(fm_hslot *slots, size_t cap, uint64_t hash, size_t i) {
    size_t j = (size_t)hash & (cap - 1);
    while (slots[j].idx1)
        j = (j + 1) & (cap - 1);
    slots[j] = (fm_hslot){hash, (uint32_t)(i + 1)};
}

/* An index of owned certificates (the store's anchors, a verifier's intermediates) by a 64-bit
 * key, a subject hash (or a subject hash and a group): one slot per distinct key (open
 * addressing, linear probing, load <= 1/2), the certificates of a key chained in the order they
 * were added. A lookup walks the slots of other keys in its probe run, never certificates of
 * another key: tens of thousands of CAs of one name cost nothing to the search for another. */
typedef struct fm_cslot {
    uint64_t key;
    uint32_t head1, tail1; /* first and last certificate of the key, index + 1; 0 = empty */
} fm_cslot;

typedef struct fm_cindex {
    fm_cslot *slots;
    size_t cap;      /* slots: a power of two, or 0 */
    uint64_t *keys;  /* per certificate */
    uint32_t *next1; /* per certificate: the next of its key, index + 1; 0 = last */
    size_t n, room;  /* certificates indexed; room in keys / next1 */
} fm_cindex;

static inline void fm_cindex_link(fm_cindex *ix, size_t i) {
    uint64_t key = ix->keys[i];
    size_t j = (size_t)key & (ix->cap - 1);
    while (ix->slots[j].head1 && ix->slots[j].key != key)
        j = (j + 1) & (ix->cap - 1);
    ix->next1[i] = 0;
    if (ix->slots[j].head1)
        ix->next1[ix->slots[j].tail1 - 1] = (uint32_t)(i + 1);
    else
        ix->slots[j].key = key, ix->slots[j].head1 = (uint32_t)(i + 1);
    ix->slots[j].tail1 = (uint32_t)(i + 1);
}

/* Room for one more certificate (fm_cindex_put then cannot fail). */
static inline int fm_cindex_reserve(fm_cindex *ix) {
    if (ix->n == ix->room) {
        size_t nr = ix->room ? 2 * ix->room : 16;
        uint64_t *k = realloc(ix->keys, nr * sizeof *k);
        if (k == NULL)
            return FM_ERR_NOMEM;
        ix->keys = k;
        uint32_t *nx = realloc(ix->next1, nr * sizeof *nx);
        if (nx == NULL)
            return FM_ERR_NOMEM;
        ix->next1 = nx, ix->room = nr;
    }
    if (2 * (ix->n + 1) > ix->cap) { /* at most n + 1 distinct keys: refilled in order */
        size_t nc = ix->cap ? 2 * ix->cap : 32;
        fm_cslot *ns = calloc(nc, sizeof *ns);
        if (ns == NULL)
            return FM_ERR_NOMEM;
        free(ix->slots);
        ix->slots = ns, ix->cap = nc;
        for (size_t i = 0; i < ix->n; i++)
            fm_cindex_link(ix, i);
    }
    return FM_OK;
}

/* Adds certificate ix->n (the next index) under `key`, after fm_cindex_reserve. */
static inline void fm_cindex_put(fm_cindex *ix, uint64_t key) {
    ix->keys[ix->n] = key;
    fm_cindex_link(ix, ix->n++);
}

/* The first certificate of `key`, index + 1 (0: none); the next is ix->next1[index]. */
static inline uint32_t fm_cindex_first(const fm_cindex *ix, uint64_t key) {
    if (ix->cap == 0)
        return 0;
    for (size_t j = (size_t)key & (ix->cap - 1); ix->slots[j].head1; j = (j + 1) & (ix->cap - 1))
        if (ix->slots[j].key == key)
            return ix->slots[j].head1;
    return 0;
}

static inline void fm_cindex_free(fm_cindex *ix) {
    free(ix->slots);
    free(ix->keys);
    free(ix->next1);
    memset(ix, 0, sizeof *ix);
}

/* The key of (subject hash, group) in a store's by-group index. */
static inline uint64_t fm_group_key(uint64_t subject_hash, uint32_t group) {
    uint64_t h = subject_hash ^ ((uint64_t)group * 0x9E3779B97F4A7C15ULL);
    h ^= h >> 31;
    return h * 0xBF58476D1CE4E5B9ULL;
}

struct fm_store {
    atomic_int refs;
    atomic_int sealed;
    uint64_t generation;
    fm_owned_cert *anchors;
    size_t n_anchors, cap_anchors;
    fm_cindex by_name;  /* anchors by subject hash: path building finds issuers among 65,535 */
    fm_cindex by_group; /* anchors by fm_group_key(subject hash, group): a host's own CAs */
    fm_assoc *assocs;
    size_t n_assocs, cap_assocs;
    size_t n_wild; /* associations of "*." hosts (none: a lookup tries the exact host only) */
    fm_cindex assoc_by_host; /* assocs by the hash of their host (lower case, "*." included) */
    fm_span *group_names; /* owned bytes; index = group */
    size_t n_group_names;
};

struct fm_verifier {
    atomic_int refs;
    fm_lock cur_lock;      /* guards cur_store / cur_revs swaps (never held while verifying) */
    fm_store *cur_store;   /* for fm_verify_current; one reference held */
    fm_revset *cur_revs;   /* may be NULL; one reference held */
    fm_options opts;
    atomic_int sealed;
    fm_owned_cert *inters; /* operator intermediates */
    size_t n_inters, cap_inters;
    fm_cindex inter_idx; /* the intermediates by subject hash */
    fm_cache results; /* whole results: (generation, chain, host, name) -> fm_result */
    fm_cache sigs;    /* verified signatures: (child DER, issuer SPKI) -> presence */
    fm_cache keys;    /* parsed keys: SPKI -> fm_key* (one reference held by the cache) */
    fm_cache parsed;  /* presented intermediates of validated paths: DER -> parsed fields */
};

/* Copies and parses a certificate into `oc`. Returns FM_OK or the parse error. */
int fm_owned_cert_init(fm_owned_cert *oc, const uint8_t *der, size_t len);
void fm_owned_cert_clear(fm_owned_cert *oc);
uint64_t fm_name_hash(fm_span name);

/* Anchor groups a host may use: returns the association for `host`, or NULL when the host has
 * none (every anchor is then allowed). */
const fm_assoc *fm_store_lookup_host(const fm_store *s, const uint8_t *host, size_t host_len);

#endif /* FM_INTERNAL_H */
