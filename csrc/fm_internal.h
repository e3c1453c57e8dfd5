/* fm_internal.h - structures shared by the store and the verifier. */
#ifndef FM_INTERNAL_H
#define FM_INTERNAL_H

#include <stdatomic.h>
#include <stdlib.h>

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

/* A slot of a subject-hash index of owned certificates (the store's anchors, a verifier's
 * intermediates): open addressing, linear probing, load <= 1/2, filled in the certificates'
 * order, so the certificates of one hash are met in that order along its probe sequence. */
typedef struct fm_hslot {
    uint64_t hash;
    uint32_t idx1; /* certificate index + 1; 0 = empty */
} fm_hslot;

static inline void fm_hslot_put(fm_hslot *slots, size_t cap, uint64_t hash, size_t i) {
    size_t j = (size_t)hash & (cap - 1);
    while (slots[j].idx1)
        j = (j + 1) & (cap - 1);
    slots[j] = (fm_hslot){hash, (uint32_t)(i + 1)};
}

/* Room in the index of `n` certificates for one more: doubled and refilled in their order. */
static inline int fm_hslot_reserve(fm_hslot **slots, size_t *cap, const fm_owned_cert *certs,
                                   size_t n) {
    if (2 * (n + 1) <= *cap)
        return FM_OK;
    size_t nc = *cap ? 2 * *cap : 16;
    fm_hslot *ns = calloc(nc, sizeof *ns);
    if (ns == NULL)
        return FM_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        fm_hslot_put(ns, nc, certs[i].subject_hash, i);
    free(*slots);
    *slots = ns, *cap = nc;
    return FM_OK;
}

struct fm_store {
    atomic_int refs;
    atomic_int sealed;
    uint64_t generation;
    fm_owned_cert *anchors;
    size_t n_anchors, cap_anchors;
    fm_hslot *hidx; /* by subject hash: path building finds the issuers among 65,535 anchors */
    size_t hcap;    /* power of two, or 0 while there are no anchors */
    fm_assoc *assocs;
    size_t n_assocs, cap_assocs;
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
    fm_hslot *ihidx; /* the intermediates by subject hash */
    size_t ihcap;
    fm_cache results; /* whole results: (generation, chain, host, name) -> fm_result */
    fm_cache sigs;    /* verified signatures: (child DER, issuer SPKI) -> presence */
    fm_cache keys;    /* parsed keys: SPKI -> fm_key* (one reference held by the cache) */
};

/* Copies and parses a certificate into `oc`. Returns FM_OK or the parse error. */
int fm_owned_cert_init(fm_owned_cert *oc, const uint8_t *der, size_t len);
void fm_owned_cert_clear(fm_owned_cert *oc);
uint64_t fm_name_hash(fm_span name);

/* Anchor groups a host may use: returns the association for `host`, or NULL when the host has
 * none (every anchor is then allowed). */
const fm_assoc *fm_store_lookup_host(const fm_store *s, const uint8_t *host, size_t host_len);

#endif /* FM_INTERNAL_H */
