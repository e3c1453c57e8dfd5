/* fm_cache.c - bounded exact-match cache; see fm_cache.h. */
#include "fm_cache.h"

#include <stdlib.h>
#include <string.h>

#include "include/fastmtls.h"

static inline uint64_t mix(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

uint64_t fm_hash64(uint64_t seed, const fm_span *parts, size_t nparts) {
    uint64_t h = seed ^ 0x9E3779B97F4A7C15ULL;
    for (size_t i = 0; i < nparts; i++) {
        const uint8_t *p = parts[i].p;
        size_t n = parts[i].len;
        h = mix(h ^ (uint64_t)n);
        uint64_t a = h, b = h ^ 0x5bd1e995ULL;
        while (n >= 16) {
            uint64_t w0, w1;
            memcpy(&w0, p, 8);
            memcpy(&w1, p + 8, 8);
            a = (a ^ w0) * 0x9E3779B97F4A7C15ULL;
            b = (b ^ w1) * 0xC2B2AE3D27D4EB4FULL;
            a ^= a >> 29;
            b ^= b >> 31;
            p += 16;
            n -= 16;
        }
        uint64_t tail[2] = {0, 0};
        if (n)
            memcpy(tail, p, n);
        a = (a ^ tail[0]) * 0x9E3779B97F4A7C15ULL;
        b = (b ^ tail[1]) * 0xC2B2AE3D27D4EB4FULL;
        h = mix(a ^ (b >> 1) ^ h);
    }
    return h;
}

int fm_cache_init(fm_cache *c, size_t capacity, size_t val_size, void (*on_evict)(void *),
                  void (*on_hit)(void *), uint64_t seed) {
    memset(c, 0, sizeof *c);
    c->val_size = val_size;
    c->on_evict = on_evict;
    c->on_hit = on_hit;
    c->seed = seed;
    atomic_init(&c->tick, 1);
    if (capacity == 0)
        return FM_OK;
    size_t nb = 1;
    while (nb * FM_CACHE_WAYS < capacity && nb < ((size_t)1 << 24))
        nb <<= 1;
    c->entries = calloc(nb * FM_CACHE_WAYS, sizeof *c->entries);
    c->locks = calloc(nb, sizeof *c->locks);
    if (c->entries == NULL || c->locks == NULL) {
        free(c->entries);
        free(c->locks);
        c->entries = NULL;
        c->locks = NULL;
        return FM_ERR_NOMEM;
    }
    for (size_t i = 0; i < nb; i++) {
        if (fm_lock_init(&c->locks[i]) != 0) {
            for (size_t j = 0; j < i; j++)
                fm_lock_destroy(&c->locks[j]);
            free(c->entries);
            free(c->locks);
            c->entries = NULL;
            c->locks = NULL;
            return FM_ERR_NOMEM;
        }
    }
    c->nbuckets = nb;
    return FM_OK;
}

static void entry_clear(fm_cache *c, fm_centry *e) {
    if (e->key == NULL)
        return;
    if (c->on_evict)
        c->on_evict(e->val);
    free(e->key);
    free(e->val);
    memset(e, 0, sizeof *e);
}

void fm_cache_clear(fm_cache *c) {
    for (size_t b = 0; b < c->nbuckets; b++) {
        fm_lock_acquire(&c->locks[b]);
        for (size_t w = 0; w < FM_CACHE_WAYS; w++)
            entry_clear(c, &c->entries[b * FM_CACHE_WAYS + w]);
        fm_lock_release(&c->locks[b]);
    }
}

void fm_cache_destroy(fm_cache *c) {
    if (c->nbuckets == 0)
        return;
    fm_cache_clear(c);
    for (size_t b = 0; b < c->nbuckets; b++)
        fm_lock_destroy(&c->locks[b]);
    free(c->entries);
    free(c->locks);
    memset(c, 0, sizeof *c);
}

static int key_eq(const fm_centry *e, const fm_span *parts, size_t nparts) {
    const uint8_t *k = e->key;
    for (size_t i = 0; i < FM_CACHE_MAX_PARTS; i++) {
        size_t want = i < nparts ? parts[i].len : 0;
        if (e->klen[i] != want)
            return 0;
        if (want && memcmp(k, parts[i].p, want) != 0)
            return 0;
        k += want;
    }
    return 1;
}

int fm_cache_get_h(fm_cache *c, uint64_t h, const fm_span *parts, size_t nparts, void *out) {
    if (c->nbuckets == 0 || nparts > FM_CACHE_MAX_PARTS)
        return 0;
    size_t b = (size_t)(h & (c->nbuckets - 1));
    fm_centry *set = &c->entries[b * FM_CACHE_WAYS];
    int hit = 0;
    fm_lock_acquire(&c->locks[b]);
    for (size_t w = 0; w < FM_CACHE_WAYS; w++) {
        fm_centry *e = &set[w];
        if (e->key && e->hash == h && key_eq(e, parts, nparts)) {
            e->tick = atomic_fetch_add_explicit(&c->tick, 1, memory_order_relaxed);
            if (c->on_hit)
                c->on_hit(e->val);
            memcpy(out, e->val, c->val_size);
            hit = 1;
            break;
        }
    }
    fm_lock_release(&c->locks[b]);
    return hit;
}

int fm_cache_put_h(fm_cache *c, uint64_t h, const fm_span *parts, size_t nparts, const void *val) {
    if (c->nbuckets == 0 || nparts > FM_CACHE_MAX_PARTS)
        return FM_OK;
    size_t total = 0;
    for (size_t i = 0; i < nparts; i++) {
        if (parts[i].len > SIZE_MAX / 2 - total)
            return FM_ERR_INVALID_ARGUMENT;
        total += parts[i].len;
    }
    /* Allocate outside the lock; the copy is what makes the key exact-match. */
    uint8_t *key = malloc(total ? total : 1);
    unsigned char *v = malloc(c->val_size ? c->val_size : 1);
    if (key == NULL || v == NULL) {
        free(key);
        free(v);
        return FM_ERR_NOMEM;
    }
    fm_centry fresh;
    memset(&fresh, 0, sizeof fresh);
    uint8_t *k = key;
    for (size_t i = 0; i < nparts; i++) {
        if (parts[i].len)
            memcpy(k, parts[i].p, parts[i].len);
        k += parts[i].len;
        fresh.klen[i] = parts[i].len;
    }
    memcpy(v, val, c->val_size);
    fresh.key = key;
    fresh.val = v;
    fresh.hash = h;
    fresh.tick = atomic_fetch_add_explicit(&c->tick, 1, memory_order_relaxed);

    size_t b = (size_t)(fresh.hash & (c->nbuckets - 1));
    fm_centry *set = &c->entries[b * FM_CACHE_WAYS];
    fm_centry old;
    memset(&old, 0, sizeof old);
    fm_lock_acquire(&c->locks[b]);
    size_t victim = 0;
    for (size_t w = 0; w < FM_CACHE_WAYS; w++) {
        fm_centry *e = &set[w];
        if (e->key && e->hash == fresh.hash && key_eq(e, parts, nparts)) {
            victim = w;
            break;
        }
        if (e->key == NULL) {
            victim = w;
            break;
        }
        if (e->tick < set[victim].tick)
            victim = w;
    }
    old = set[victim];
    set[victim] = fresh;
    fm_lock_release(&c->locks[b]);
    /* Release the evicted entry outside the lock. */
    if (old.key) {
        if (c->on_evict)
            c->on_evict(old.val);
        free(old.key);
        free(old.val);
    }
    return FM_OK;
}
