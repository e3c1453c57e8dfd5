/* fm_cache.h - bounded, thread-safe, exact-match cache (set-associative, one lock per bucket).
 * Keys are up to three byte spans, stored as copies and compared byte for byte: two different
 * inputs can never share an entry. Values are fixed-size blobs copied in and out. */
#ifndef FM_CACHE_H
#define FM_CACHE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "fm_der.h"
#include "fm_lock.h"

#define FM_CACHE_WAYS 4
#define FM_CACHE_MAX_PARTS 3

typedef struct fm_centry {
    uint64_t hash;
    uint64_t tick;             /* last use, for LRU within the bucket */
    uint8_t *key;              /* owned copy of the key parts, concatenated; NULL = empty slot */
    size_t klen[FM_CACHE_MAX_PARTS];
    unsigned char *val;        /* owned, val_size bytes */
} fm_centry;

typedef struct fm_cache {
    size_t nbuckets;           /* 0 = disabled */
    size_t val_size;
    fm_centry *entries;        /* nbuckets * FM_CACHE_WAYS */
    fm_lock *locks;            /* one per bucket */
    void (*on_evict)(void *val); /* releases what a value holds (e.g. a key reference) */
    void (*on_hit)(void *val);   /* runs under the bucket lock on a hit (e.g. takes a reference) */
    atomic_uint_fast64_t tick;
    uint64_t seed;
} fm_cache;

/* capacity 0 disables the cache (get misses, put does nothing). */
int fm_cache_init(fm_cache *c, size_t capacity, size_t val_size, void (*on_evict)(void *),
                  void (*on_hit)(void *), uint64_t seed);
void fm_cache_destroy(fm_cache *c);
void fm_cache_clear(fm_cache *c);
/* `h` is the caller's bucket hash of the key (any function of it: equality stays exact, so a
 * hash over a few of the key's bytes is enough when stored keys cannot be chosen freely).
 * get returns 1 and copies the value into `out` on a hit, 0 on a miss. put inserts or
 * replaces, and returns FM_OK or FM_ERR_NOMEM (the cache is then unchanged). */
int fm_cache_get_h(fm_cache *c, uint64_t h, const fm_span *parts, size_t nparts, void *out);
int fm_cache_put_h(fm_cache *c, uint64_t h, const fm_span *parts, size_t nparts, const void *val);

/* Fast keyed 64-bit hash for bucket selection (not collision resistant; keys are compared
 * exactly). */
uint64_t fm_hash64(uint64_t seed, const fm_span *parts, size_t nparts);

#endif /* FM_CACHE_H */
