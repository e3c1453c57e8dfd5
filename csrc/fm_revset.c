/* fm_revset.c - revocation sets: built from CRLs and explicit entries, looked up in O(1), saved
 * to and memory-mapped from a versioned, checksummed snapshot.
 *
 * One contiguous image holds everything, in memory and on disk alike:
 *   header | issuers[n_issuers] | parts[n_parts] | slots[n_slots] (tag, record offset + 1) |
 *   arena | blob
 * parts: the distribution point names of each issuer's partitioned CRLs (an IDP with a
 * distributionPoint, RFC 5280 5.2.5), sorted by hash within the issuer's range, names in the blob:
 * such a CRL is complete status only for the certificates whose cRLDistributionPoints name it.
 * A snapshot file's checksum (computed by fm_revset_save; a built set's memory holds 0 there)
 * covers every byte (header included, its own field taken as zero); the header's
 * offsets and counts are also bounds-checked, and every slot is validated, before any lookup.
 * arena records: u16 issuer, u8 serial length, u8 flags (reason | scope), u32 date,
 * serial octets. Open addressing with linear probing at load factor <= 0.7; the slot tag (upper
 * hash bits) rejects most probes without touching the arena. ~36 bytes per 16-octet serial.
 * The slots are placed by a hash keyed with a seed drawn at random for each build (kept in the
 * header): a CA picks its serials, and a CRL whose serials were chosen to share slots would
 * otherwise make the build quadratic and every lookup near them slow. No run of occupied slots
 * is longer than RS_MAX_RUN: the builder draws another seed when one would be, and a snapshot
 * with a longer run is refused, so that a lookup never probes more slots than that.
 */
#if defined(__linux__) && !defined(_DEFAULT_SOURCE)
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS and MADV_HUGEPAGE under -std=c11 */
#endif
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <io.h>
#include <process.h>
#else
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

#include "fm_cache.h"
#include "fm_crl.h"
#include "fm_crypto.h"
#include "fm_internal.h"
#include "fm_revset.h"

#define RS_MAGIC "FMREVSET"
/* 2: distribution point partitions (parts); 3: nextUpdate per coverage; 4: validity window
 * (thisUpdate, nextUpdate) of the freshest covering CRL per certificate kind, no removed records;
 * 5: slots placed by a seeded (keyed) hash, the seed in the header, runs bounded */
#define RS_VERSION 6u
#define RS_ENDIAN 0x01020304u
#define RS_SEED 0x7265766f6b6564ULL /* issuers and parts: operator-sized indexes, fixed hash */
#ifndef FM_RS_MAX_RUN
/* The longest run of occupied slots allowed. At load factor 0.69 a run of 1024 under a random
 * seed has a probability below 1e-17 even in a table of 2^32 slots. */
#define FM_RS_MAX_RUN 1024u
#endif
#define RS_BUILD_SEEDS 4 /* seeds a build tries before giving up (FM_ERR_LIMIT) */
#define RS_MAX_ISSUERS FM_MAX_REVSET_ISSUERS

#define REC_REASON_MASK 0x0Fu
#define REC_NOT_USER 0x10u /* from a CRL that only covers CA certificates */
#define REC_NOT_CA 0x20u   /* from a CRL that only covers end-entity certificates */
#define REC_HDR 8u

#define COVER_USER 0x1u
#define COVER_CA 0x2u
#define PART_RELATIVE 0x4u /* the part's name is a nameRelativeToCRLIssuer (else a fullName) */

typedef struct rs_header {
    char magic[8];
    uint32_t version;
    uint32_t endian;
    uint64_t total_len;
    uint64_t checksum; /* over every byte after the header */
    uint64_t n_entries;
    uint64_t n_slots;
    uint64_t n_issuers;
    uint64_t off_issuers, off_slots, off_arena, arena_len, off_blob, blob_len;
    uint64_t off_parts, n_parts;
    uint64_t seed; /* keys the slot hash (entry_hash) */
} rs_header;

/* Validity windows per certificate kind: of the freshest (latest nextUpdate) CRL giving complete
 * status for user, and for CA, certificates; a base with its delta is valid from the later
 * thisUpdate to the earlier nextUpdate of the two. Part of the snapshot format. */
typedef struct cover_win {
    int64_t this_user, next_user, this_ca, next_ca;
} cover_win;

int fm_window_fresher(fm_window a, fm_window b, int64_t at) {
    int va = a.this_update <= at, vb = b.this_update <= at;
    if (va != vb)
        return va;
    return a.next_update > b.next_update;
}

static fm_window window_of(const cover_win *c, int is_ca) {
    return is_ca ? (fm_window){c->this_ca, c->next_ca} : (fm_window){c->this_user, c->next_user};
}

typedef struct rs_issuer {
    uint64_t key_hash;
    uint64_t name_off, spki_off, number_off; /* in blob */
    uint32_t name_len, spki_len, number_len, flags;
    int64_t this_update, next_update; /* over all its CRLs in use (reported) */
    /* of its CRLs without a distribution point name (INT64_MIN, INT64_MAX: no deadline, the
     * operator's entries) */
    cover_win win;
    uint64_t n_entries;
    uint32_t cover, has_crl; /* cover: COVER_* of its CRLs without a distribution point name */
    uint32_t part_first, part_count; /* its range of parts */
} rs_issuer;

/* A distribution point name a partitioned CRL covers (one GeneralName of an IDP fullName, or
 * the content of its nameRelativeToCRLIssuer RDN), and for which certificates. */
typedef struct rs_part {
    uint64_t hash;       /* part_hash(kind, name) */
    uint64_t name_off;   /* in blob */
    uint32_t name_len;
    uint32_t flags;      /* COVER_USER | COVER_CA, PART_RELATIVE */
    cover_win win;       /* of the CRLs naming it */
} rs_part;

struct fm_revset {
    atomic_int refs;
    uint64_t generation;
    uint8_t *image;
    size_t len;
    int mapped;
    const rs_header *h;
    const rs_issuer *issuers;
    const rs_part *parts;
    const uint32_t *slots;
    const uint8_t *arena;
    const uint8_t *blob;
    uint32_t *islots; /* issuers by key_hash (open addressing: index + 1, 0 = free); NULL = few */
    uint64_t n_islots;
};

/* Sets with more issuing CAs than this get the index above; fewer are scanned (no allocation). */
#define RS_ISSUER_SCAN_MAX 8u

static atomic_uint_fast64_t g_rs_generation = 1;

/* ---- hashing ------------------------------------------------------------------------------ */

/* Checksum of a snapshot body: four independent multiply-xor lanes over 32-byte blocks (several
 * GB/s), then folded. Detects truncation and corruption; snapshots are operator files, not an
 * attacker's, so it need not resist forgery. */
uint64_t fm_checksum64(const uint8_t *p, size_t n) {
    uint64_t a = 0x243F6A8885A308D3ULL, b = 0x13198A2E03707344ULL, c = 0xA4093822299F31D0ULL,
             d = 0x082EFA98EC4E6C89ULL;
    const uint64_t k = 0x9E3779B97F4A7C15ULL;
    size_t len = n;
    while (n >= 32) {
        uint64_t w[4];
        memcpy(w, p, 32);
        a = (a ^ w[0]) * k, a ^= a >> 31;
        b = (b ^ w[1]) * k, b ^= b >> 31;
        c = (c ^ w[2]) * k, c ^= c >> 31;
        d = (d ^ w[3]) * k, d ^= d >> 31;
        p += 32, n -= 32;
    }
    uint64_t tail[4] = {0, 0, 0, 0};
    if (n)
        memcpy(tail, p, n);
    a = (a ^ tail[0]) * k, a ^= a >> 31;
    b = (b ^ tail[1]) * k, b ^= b >> 31;
    c = (c ^ tail[2]) * k, c ^= c >> 31;
    d = (d ^ tail[3]) * k, d ^= d >> 31;
    /* fold every lane bit through a full mixing hash (no bit is shifted out) */
    uint64_t lanes[5] = {a, b, c, d, (uint64_t)len};
    fm_span s = {(const uint8_t *)lanes, sizeof lanes};
    return fm_hash64(0x636865636b73756dULL, &s, 1);
}

/* Checksum of a whole image: the header with its checksum field taken as zero, then the body. */
static uint64_t image_checksum(const uint8_t *image, size_t total) {
    rs_header h;
    memcpy(&h, image, sizeof h);
    h.checksum = 0;
    uint64_t parts[2] = {fm_checksum64((const uint8_t *)&h, sizeof h),
                         fm_checksum64(image + sizeof h, total - sizeof h)};
    fm_span s = {(const uint8_t *)parts, sizeof parts};
    return fm_hash64(0x696d616765ULL, &s, 1);
}

static uint64_t issuer_key(fm_span name, fm_span spki) {
    fm_span parts[2] = {name, spki};
    return fm_hash64(RS_SEED, parts, 2);
}

/* The 128-bit product of a and b, its halves xored: a difference in the input reaches the
 * output through carries that depend on the whole input, including the seed mixed into it. */
static inline uint64_t fold_mul(uint64_t a, uint64_t b) {
#if defined(__SIZEOF_INT128__)
    __extension__ typedef unsigned __int128 u128;
    u128 p = (u128)a * b;
    return (uint64_t)p ^ (uint64_t)(p >> 64);
#else
    uint64_t al = a & 0xFFFFFFFFu, ah = a >> 32, bl = b & 0xFFFFFFFFu, bh = b >> 32;
    uint64_t ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
    uint64_t mid = (ll >> 32) + (lh & 0xFFFFFFFFu) + (hl & 0xFFFFFFFFu);
    uint64_t lo = (ll & 0xFFFFFFFFu) | (mid << 32);
    uint64_t hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
    return lo ^ hi;
#endif
}

/* Entry key hash, on the build's and the lookup's hot paths: a word at a time through a folded
 * multiplication, then one full mix, keyed by the set's seed. A CA chooses its serials, so they
 * may be an adversary's: with a plain multiply-xorshift, flipping a word's top bit changes the
 * state by a constant that the next word can cancel, whatever the seed, and CRLs could carry
 * any number of colliding serials. The issuer and the length go through a keyed round of their
 * own first: XORed into the state the first word meets, a serial's first octets could cancel
 * them, and serials of different lengths (trailing zero octets look like the word's padding)
 * collided under every seed. Keys are compared exactly anyway. Part of the snapshot format
 * (RS_VERSION). */
static uint64_t entry_hash(uint64_t seed, uint32_t issuer, fm_span serial) {
    const uint64_t k = 0x9E3779B97F4A7C15ULL;
    uint64_t h = fold_mul(seed ^ ((uint64_t)issuer << 32) ^ serial.len, k);
    const uint8_t *p = serial.p;
    size_t n = serial.len;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = fold_mul(h ^ w, k);
        p += 8, n -= 8;
    }
    if (n) {
        uint64_t w = 0;
        memcpy(&w, p, n);
        h = fold_mul(h ^ w, k);
    }
    h ^= seed;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 33);
}

/* Hash of a distribution point name, part of the snapshot format (RS_VERSION). */
static uint64_t part_hash(uint32_t relative, fm_span name) {
    return fm_hash64(RS_SEED + 1 + (relative ? 1 : 0), &name, 1);
}

static inline uint64_t slot_index(uint64_t h, uint64_t n) {
    return (uint64_t)(((h & 0xFFFFFFFFu) * n) >> 32); /* multiply-shift range reduction */
}

/* The longest run of occupied slots (the one wrapping round the end of the table counted whole):
 * the most slots a lookup probes before an empty one. n when none is empty. */
static uint64_t longest_run_of(const uint32_t *slots, uint64_t n) {
    uint64_t best = 0, run = 0, first = n; /* first: the run that starts the table */
    for (uint64_t i = 0; i < n; i++) {
        if (slots[2 * i + 1] == 0) {
            if (first == n)
                first = i;
            run = 0;
        } else if (++run > best) {
            best = run;
        }
    }
    if (first < n && run + first > best)
        best = run + first; /* the last run continues into the first */
    return best;
}

/* Serials are compared exactly as minimal DER INTEGER content octets, which is what both CRLs
 * and certificates carry (the parsers reject non-minimal encodings). */

/* The issuer indexes (of a loaded set and of the builder): open addressing on an issuer's key
 * hash, each slot holding an issuer's position + 1 (0 = free), `n` a power of two larger than
 * the number of issuers. */
static void islot_put(uint32_t *slots, uint64_t n, uint64_t key, uint32_t index) {
    uint64_t j = key & (n - 1);
    while (slots[j])
        j = (j + 1) & (n - 1);
    slots[j] = index + 1u;
}

/* ---- lookup ------------------------------------------------------------------------------- */

static int issuer_is(const fm_revset *s, uint64_t i, uint64_t key, fm_span name, fm_span spki) {
    const rs_issuer *is = &s->issuers[i];
    return is->key_hash == key && is->name_len == name.len && is->spki_len == spki.len &&
           memcmp(s->blob + is->name_off, name.p, name.len) == 0 &&
           memcmp(s->blob + is->spki_off, spki.p, spki.len) == 0;
}

/* O(1) with the issuer index, whatever the number of CAs in the set. */
int fm_revset_find_issuer(const fm_revset *s, fm_span name, fm_span spki) {
    uint64_t key = issuer_key(name, spki);
    if (s->islots != NULL) {
        uint64_t mask = s->n_islots - 1;
        for (uint64_t j = key & mask; s->islots[j]; j = (j + 1) & mask)
            if (issuer_is(s, s->islots[j] - 1u, key, name, spki))
                return (int)(s->islots[j] - 1u);
        return -1;
    }
    for (uint64_t i = 0; i < s->h->n_issuers; i++)
        if (issuer_is(s, i, key, name, spki))
            return (int)i;
    return -1;
}

int fm_revset_issuer_state(const fm_revset *s, int issuer, int is_ca, fm_window *w) {
    const rs_issuer *is = &s->issuers[issuer];
    *w = window_of(&is->win, is_ca);
    return (is->cover & (is_ca ? COVER_CA : COVER_USER)) != 0;
}

int fm_revset_covers_dp(const fm_revset *s, int issuer, int is_ca, int kind, fm_span name,
                        fm_window *w) {
    const rs_issuer *is = &s->issuers[issuer];
    uint32_t rel = kind == FM_DPN_RELATIVE ? PART_RELATIVE : 0;
    uint64_t h = part_hash(rel, name);
    const rs_part *p = s->parts + is->part_first;
    uint32_t lo = 0, hi = is->part_count; /* first part with hash >= h (sorted, attach()) */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (p[mid].hash < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < is->part_count && p[lo].hash == h; lo++)
        if ((p[lo].flags & PART_RELATIVE) == rel && p[lo].name_len == name.len &&
            memcmp(s->blob + p[lo].name_off, name.p, name.len) == 0) {
            *w = window_of(&p[lo].win, is_ca);
            return (p[lo].flags & (is_ca ? COVER_CA : COVER_USER)) != 0;
        }
    return 0;
}

/* The record of (issuer, serial), NULL when none. No allocation, no lock: the image is
 * immutable. */
static const uint8_t *rs_find(const fm_revset *s, int issuer, fm_span serial) {
    uint64_t n = s->h->n_slots;
    if (n == 0 || serial.len > 255)
        return NULL;
    uint64_t h = entry_hash(s->h->seed, (uint32_t)issuer, serial);
    uint32_t tag = (uint32_t)(h >> 32);
    for (uint64_t i = slot_index(h, n), probes = 0; probes < n; probes++, i = i + 1 == n ? 0 : i + 1) {
        uint32_t off1 = s->slots[2 * i + 1];
        if (off1 == 0)
            return NULL;
        if (s->slots[2 * i] != tag)
            continue;
        const uint8_t *rec = s->arena + (off1 - 1);
        uint16_t iss = (uint16_t)(rec[0] | (rec[1] << 8));
        if (iss != (uint16_t)issuer || rec[2] != serial.len || memcmp(rec + REC_HDR, serial.p, serial.len) != 0)
            continue;
        return rec;
    }
    return NULL;
}

/* A record's reason and date into `out` (may be NULL). */
static void rec_out(const uint8_t *rec, fm_revocation *out) {
    if (out) {
        uint32_t date;
        memcpy(&date, rec + 4, 4);
        out->reason = rec[3] & REC_REASON_MASK;
        out->date = (int64_t)date;
    }
}

/* 1 = revoked, 0 = not: a certificate of this kind (CA or not) is on a list covering it. */
int fm_revset_check(const fm_revset *s, int issuer, fm_span serial, int is_ca, fm_revocation *out) {
    const uint8_t *rec = rs_find(s, issuer, serial);
    if (rec == NULL || (rec[3] & (is_ca ? REC_NOT_CA : REC_NOT_USER)))
        return 0;
    rec_out(rec, out);
    return 1;
}

/* The public lookups answer for any certificate type: revoked as a user or as a CA certificate
 * (one probe: a record's scope never excludes both, see apply()). */
static int revoked_any(const fm_revset *s, int issuer, fm_span serial, fm_revocation *out) {
    const uint8_t *rec = rs_find(s, issuer, serial);
    if (rec == NULL)
        return 0;
    rec_out(rec, out);
    return 1;
}

int fm_revset_lookup(const fm_revset *s, const uint8_t *ca_name, size_t name_len,
                     const uint8_t *ca_spki, size_t spki_len, const uint8_t *serial,
                     size_t serial_len, fm_revocation *out) {
    if (s == NULL || ca_name == NULL || ca_spki == NULL || serial == NULL)
        return -FM_ERR_INVALID_ARGUMENT;
    fm_span name = {ca_name, name_len}, spki = {ca_spki, spki_len}, ser = {serial, serial_len};
    int i = fm_revset_find_issuer(s, name, spki);
    if (i < 0)
        return 0;
    return revoked_any(s, i, ser, out);
}

int64_t fm_revset_lookup_many(const fm_revset *s, const uint8_t *ca_name, size_t name_len,
                              const uint8_t *ca_spki, size_t spki_len, const uint8_t *serials,
                              size_t len, size_t n, uint8_t *revoked) {
    if (s == NULL || ca_name == NULL || ca_spki == NULL || (serials == NULL && len) ||
        (revoked == NULL && n))
        return -(int64_t)FM_ERR_INVALID_ARGUMENT;
    fm_span name = {ca_name, name_len}, spki = {ca_spki, spki_len};
    int idx = fm_revset_find_issuer(s, name, spki);
    size_t off = 0;
    int64_t hits = 0;
    for (size_t i = 0; i < n; i++) {
        if (off >= len || serials[off] == 0 || serials[off] > len - off - 1)
            return -(int64_t)FM_ERR_INVALID_ARGUMENT; /* checked before the serial is read */
        fm_span ser = {serials + off + 1, serials[off]};
        off += 1u + serials[off];
        /* the verifier's own check, one serial after another: no batching it does not have */
        int r = idx >= 0 && revoked_any(s, idx, ser, NULL);
        revoked[i] = (uint8_t)r;
        hits += r;
    }
    return off == len ? hits : -(int64_t)FM_ERR_INVALID_ARGUMENT;
}

uint64_t fm_revset_count(const fm_revset *s) { return s->h->n_entries; }
size_t fm_revset_issuer_count(const fm_revset *s) { return (size_t)s->h->n_issuers; }
uint64_t fm_revset_generation(const fm_revset *s) { return s->generation; }
size_t fm_revset_memory(const fm_revset *s) { return s->len + sizeof *s; }

void fm_revset_layout(const fm_revset *s, uint64_t *seed, uint64_t *n_slots, uint64_t *longest_run) {
    if (seed)
        *seed = s->h->seed;
    if (n_slots)
        *n_slots = s->h->n_slots;
    if (longest_run)
        *longest_run = longest_run_of(s->slots, s->h->n_slots);
}

int fm_revset_issuer_get(const fm_revset *s, size_t i, fm_revset_issuer *out) {
    if (s == NULL || i >= s->h->n_issuers)
        return FM_ERR_INVALID_ARGUMENT;
    const rs_issuer *is = &s->issuers[i];
    out->name = s->blob + is->name_off, out->name_len = is->name_len;
    out->spki = s->blob + is->spki_off, out->spki_len = is->spki_len;
    out->number = s->blob + is->number_off, out->number_len = is->number_len;
    out->this_update = is->this_update, out->next_update = is->next_update;
    out->flags = is->flags, out->has_crl = is->has_crl, out->n_entries = is->n_entries;
    return FM_OK;
}

void fm_revset_ref(fm_revset *s) {
    if (s)
        atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

/* Releases an image: munmap for a mapped one (a snapshot file, or a large built image), else
 * free. */
static void image_release(uint8_t *image, size_t len, int mapped) {
    if (image == NULL)
        return;
#ifndef _WIN32
    if (mapped) {
        munmap(image, len);
        return;
    }
#endif
    (void)len;
    free(image);
}

void fm_revset_free(fm_revset *s) {
    if (s == NULL || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
        return;
    image_release(s->image, s->len, s->mapped);
    free(s->islots);
    free(s);
}

/* ---- image validation (snapshots are untrusted bytes until checked) ------------------------ */

static int in_bounds(uint64_t off, uint64_t len, uint64_t total) {
    return off <= total && len <= total - off;
}

static int attach(fm_revset *s, int verify_checksum) {
    if (s->len < sizeof(rs_header))
        return FM_ERR_SNAPSHOT_CORRUPT;
    const rs_header *h = (const rs_header *)s->image;
    if (memcmp(h->magic, RS_MAGIC, 8) != 0)
        return FM_ERR_SNAPSHOT_CORRUPT;
    if (h->version != RS_VERSION || h->endian != RS_ENDIAN)
        return FM_ERR_SNAPSHOT_VERSION;
    uint64_t total = s->len;
    if (h->total_len != total || h->n_issuers > RS_MAX_ISSUERS ||
        h->n_slots > 0xFFFFFFFFu || h->n_entries > h->n_slots ||
        h->n_issuers > (total / sizeof(rs_issuer)) ||
        !in_bounds(h->off_issuers, h->n_issuers * sizeof(rs_issuer), total) ||
        h->n_slots > total / 8 || !in_bounds(h->off_slots, h->n_slots * 8, total) ||
        !in_bounds(h->off_arena, h->arena_len, total) || h->arena_len >= 0xFFFFFFFFu ||
        !in_bounds(h->off_blob, h->blob_len, total) || (h->off_issuers % 8) || (h->off_slots % 8) ||
        h->n_parts > total / sizeof(rs_part) || (h->off_parts % 8) ||
        !in_bounds(h->off_parts, h->n_parts * sizeof(rs_part), total))
        return FM_ERR_SNAPSHOT_CORRUPT;
    if (verify_checksum && image_checksum(s->image, total) != h->checksum)
        return FM_ERR_SNAPSHOT_CORRUPT;
    s->h = h;
    s->issuers = (const rs_issuer *)(s->image + h->off_issuers);
    s->parts = (const rs_part *)(s->image + h->off_parts);
    s->slots = (const uint32_t *)(s->image + h->off_slots);
    s->arena = s->image + h->off_arena;
    s->blob = s->image + h->off_blob;
    /* the issuers' part ranges tile the parts array in order; each part's name is in the blob,
     * its flags are known, its hash is its name's, and a range is sorted by hash (the lookup
     * bisects it) */
    uint64_t next_part = 0;
    for (uint64_t i = 0; i < h->n_issuers; i++) {
        const rs_issuer *is = &s->issuers[i];
        if (!in_bounds(is->name_off, is->name_len, h->blob_len) ||
            !in_bounds(is->spki_off, is->spki_len, h->blob_len) ||
            !in_bounds(is->number_off, is->number_len, h->blob_len) ||
            (is->cover & ~(COVER_USER | COVER_CA)) || is->has_crl > 1 ||
            is->part_first != next_part || is->part_count > h->n_parts - next_part)
            return FM_ERR_SNAPSHOT_CORRUPT;
        /* the key the issuer index probes by is its name's and key's: a file whose issuers
         * all claim one key would load in quadratic time and find none of them */
        if (verify_checksum &&
            is->key_hash != issuer_key((fm_span){s->blob + is->name_off, is->name_len},
                                       (fm_span){s->blob + is->spki_off, is->spki_len}))
            return FM_ERR_SNAPSHOT_CORRUPT;
        for (uint64_t k = is->part_first; k < is->part_first + (uint64_t)is->part_count; k++) {
            const rs_part *p = &s->parts[k];
            if (!in_bounds(p->name_off, p->name_len, h->blob_len) || p->name_len == 0 ||
                (p->flags & ~(COVER_USER | COVER_CA | PART_RELATIVE)) ||
                !(p->flags & (COVER_USER | COVER_CA)) ||
                p->hash != part_hash(p->flags & PART_RELATIVE,
                                     (fm_span){s->blob + p->name_off, p->name_len}) ||
                (k > is->part_first && p->hash < s->parts[k - 1].hash))
                return FM_ERR_SNAPSHOT_CORRUPT;
        }
        next_part += is->part_count;
    }
    if (next_part != h->n_parts)
        return FM_ERR_SNAPSHOT_CORRUPT;
    if (!verify_checksum)
        return FM_OK; /* an image this process just built: trusted as written */
    /* every slot must point at a whole record of a known issuer whose scope excludes at most
     * one kind of certificate: lookups then need no checks */
    uint64_t live = 0;
    for (uint64_t i = 0; i < h->n_slots; i++) {
        uint32_t off1 = s->slots[2 * i + 1];
        if (off1 == 0)
            continue;
        uint64_t off = off1 - 1u;
        if (off + REC_HDR > h->arena_len)
            return FM_ERR_SNAPSHOT_CORRUPT;
        const uint8_t *rec = s->arena + off;
        if ((uint32_t)(rec[0] | (rec[1] << 8)) >= h->n_issuers || off + REC_HDR + rec[2] > h->arena_len ||
            (rec[3] & (REC_NOT_USER | REC_NOT_CA)) == (REC_NOT_USER | REC_NOT_CA))
            return FM_ERR_SNAPSHOT_CORRUPT;
        live++;
    }
    if (h->n_slots && live >= h->n_slots)
        return FM_ERR_SNAPSHOT_CORRUPT; /* a full table would make a miss probe forever */
    if (longest_run_of(s->slots, h->n_slots) > FM_RS_MAX_RUN)
        return FM_ERR_SNAPSHOT_CORRUPT; /* no build makes one: lookups would slow down */
    return FM_OK;
}

static int wrap(uint8_t *image, size_t len, int mapped, int verify_checksum, fm_revset **out) {
    fm_revset *s = calloc(1, sizeof *s);
    if (s == NULL)
        return FM_ERR_NOMEM;
    s->image = image, s->len = len, s->mapped = mapped;
    atomic_init(&s->refs, 1);
    int rc = attach(s, verify_checksum);
    uint64_t n_iss = rc == FM_OK ? s->h->n_issuers : 0;
    if (n_iss > RS_ISSUER_SCAN_MAX) { /* n_iss <= RS_MAX_ISSUERS: no overflow below */
        uint64_t n = 16;
        while (n < 2 * n_iss)
            n <<= 1;
        s->islots = calloc((size_t)n, sizeof *s->islots);
        if (s->islots == NULL) {
            rc = FM_ERR_NOMEM;
        } else {
            s->n_islots = n;
            for (uint64_t i = 0; i < n_iss; i++)
                islot_put(s->islots, n, s->issuers[i].key_hash, (uint32_t)i);
        }
    }
    if (rc != FM_OK) {
        s->image = NULL; /* the caller keeps ownership on failure */
        free(s);
        return rc;
    }
    s->generation = atomic_fetch_add(&g_rs_generation, 1);
    *out = s;
    return FM_OK;
}

int fm_revset_load_bytes(const uint8_t *p, size_t len, fm_revset **out) {
    if (out == NULL)
        return FM_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (p == NULL && len)
        return FM_ERR_INVALID_ARGUMENT;
    uint8_t *copy = malloc(len ? len : 1);
    if (copy == NULL)
        return FM_ERR_NOMEM;
    if (len)
        memcpy(copy, p, len);
    int rc = wrap(copy, len, 0, 1, out);
    if (rc != FM_OK)
        free(copy);
    return rc;
}

int fm_revset_load(const char *path, fm_revset **out) {
    if (out == NULL)
        return FM_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (path == NULL)
        return FM_ERR_INVALID_ARGUMENT;
#ifndef _WIN32
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return FM_ERR_IO;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return FM_ERR_IO;
    }
    if (st.st_size < (off_t)sizeof(rs_header)) {
        close(fd);
        return FM_ERR_SNAPSHOT_CORRUPT;
    }
    size_t len = (size_t)st.st_size;
    void *m = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return FM_ERR_IO;
    int rc = wrap((uint8_t *)m, len, 1, 1, out);
    if (rc != FM_OK)
        munmap(m, len);
    return rc;
#else
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return FM_ERR_IO;
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return FM_ERR_IO;
    }
    long n = ftell(f);
    if (n < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return FM_ERR_IO;
    }
    uint8_t *buf = malloc(n ? (size_t)n : 1);
    if (buf == NULL) {
        fclose(f);
        return FM_ERR_NOMEM;
    }
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    if (got != (size_t)n) {
        free(buf);
        return FM_ERR_IO;
    }
    int rc = wrap(buf, (size_t)n, 0, 1, out);
    if (rc != FM_OK)
        free(buf);
    return rc;
#endif
}

/* A temporary file of its own, beside `path`: PATH.tmp.PID.N, created exclusively, so that two
 * saves to one path (two compile jobs, two workers publishing one snapshot) never write into
 * each other's file; each renames a whole file over the path. */
static FILE *open_unique_tmp(const char *path, char **tmp_out) {
    static atomic_uint_fast64_t counter;
    size_t plen = strlen(path), cap = plen + 64;
    char *tmp = malloc(cap);
    if (tmp == NULL)
        return NULL;
#ifdef _WIN32
    unsigned long pid = (unsigned long)_getpid();
#else
    unsigned long pid = (unsigned long)getpid();
#endif
    for (int attempt = 0; attempt < 100; attempt++) {
        uint64_t n = atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed);
        snprintf(tmp, cap, "%s.tmp.%lu.%llu", path, pid, (unsigned long long)n);
        FILE *f = fopen(tmp, "wbx"); /* C11 "x": fails if the name exists (a stale leftover) */
        if (f != NULL) {
            *tmp_out = tmp;
            return f;
        }
    }
    free(tmp);
    return NULL;
}

int fm_revset_save(const fm_revset *s, const char *path) {
    if (s == NULL || path == NULL)
        return FM_ERR_INVALID_ARGUMENT;
    char *tmp = NULL;
    FILE *f = open_unique_tmp(path, &tmp);
    int rc = FM_OK;
    if (f == NULL)
        return FM_ERR_IO;
    /* the checksum is computed here, not at build: building pays nothing for a file it may
     * never write (a loaded snapshot's is recomputed, and equal) */
    rs_header h;
    memcpy(&h, s->image, sizeof h);
    h.checksum = image_checksum(s->image, s->len);
    if (fwrite(&h, 1, sizeof h, f) != sizeof h ||
        fwrite(s->image + sizeof h, 1, s->len - sizeof h, f) != s->len - sizeof h)
        rc = FM_ERR_IO;
#ifndef _WIN32
    /* on disk before the rename makes it the snapshot: a crash never leaves an empty one */
    if (rc == FM_OK && (fflush(f) != 0 || fsync(fileno(f)) != 0))
        rc = FM_ERR_IO;
#endif
    if (fclose(f) != 0)
        rc = FM_ERR_IO;
    /* write to a temporary name and rename: readers see the old file or the new, never half */
#ifdef _WIN32
    if (rc == FM_OK)
        remove(path);
#endif
    if (rc == FM_OK && rename(tmp, path) != 0)
        rc = FM_ERR_IO;
    if (rc != FM_OK)
        remove(tmp);
    free(tmp);
    return rc;
}

/* ---- builder ------------------------------------------------------------------------------ */

typedef struct rb_issuer {
    uint8_t *name, *spki;
    size_t name_len, spki_len;
    uint64_t key;
    int explicit_entries;
} rb_issuer;

/* A CRL added to the builder: its DER (an owned copy, or the caller's buffer when borrowed)
 * and its parse (spans into that DER). Entries are not staged: finish() reads them straight
 * from the DER into the table. */
typedef struct rb_crl {
    const uint8_t *der;
    uint8_t *owned; /* == der when copied, NULL when borrowed */
    fm_crl c;
    uint32_t issuer;
    uint64_t idp_hash; /* partition: CRLs with different IDPs are different partitions */
    int use;           /* 1 = chosen base, 2 = the delta applied to a chosen base, 0 = unused */
    size_t delta;      /* of a chosen base: index of its delta, NO_DELTA when none */
    int64_t current;   /* of a base: the latest thisUpdate of it and the deltas in force that
                        * apply to it (how current its status is, beside an unnumbered CRL) */
} rb_crl;

#define NO_DELTA SIZE_MAX

/* An explicit (operator-managed) revocation, staged with a copy of its serial. */
typedef struct rb_entry {
    uint32_t issuer;
    uint32_t serial_off;
    uint8_t serial_len, reason;
    int64_t date;
} rb_entry;

struct fm_revbuild {
    rb_issuer *issuers;
    size_t n_issuers, cap_issuers;
    rb_crl *crls;
    size_t n_crls, cap_crls;
    rb_entry *entries;
    size_t n_entries, cap_entries;
    uint8_t *serials;
    size_t serials_len, serials_cap;
    uint32_t *issuer_slots; /* open addressing on rb_issuer.key: index + 1, 0 = free */
    size_t n_slots;         /* a power of two, at least twice n_issuers (0 = none yet) */
    int has_time;           /* fm_revbuild_set_time was called: */
    int64_t now;            /* the time CRLs are chosen for */
    int has_seed;           /* fm_revbuild_set_seed was called: */
    uint64_t seed;          /* the slot hash's first seed */
};

static int grow(void **arr, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap)
        return FM_OK;
    size_t nc = *cap ? *cap : 16;
    while (nc < need) {
        if (nc > SIZE_MAX / 2 / elem)
            return FM_ERR_NOMEM;
        nc *= 2;
    }
    void *p = realloc(*arr, nc * elem);
    if (p == NULL)
        return FM_ERR_NOMEM;
    *arr = p;
    *cap = nc;
    return FM_OK;
}

int fm_revbuild_new(fm_revbuild **out) {
    if (out == NULL)
        return FM_ERR_INVALID_ARGUMENT;
    *out = calloc(1, sizeof **out);
    return *out ? FM_OK : FM_ERR_NOMEM;
}

int fm_revbuild_set_time(fm_revbuild *b, int64_t now) {
    if (b == NULL)
        return FM_ERR_INVALID_ARGUMENT;
    b->has_time = 1, b->now = now;
    return FM_OK;
}

int fm_revbuild_set_seed(fm_revbuild *b, uint64_t seed) {
    if (b == NULL)
        return FM_ERR_INVALID_ARGUMENT;
    b->has_seed = 1, b->seed = seed;
    return FM_OK;
}

void fm_revbuild_free(fm_revbuild *b) {
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->n_issuers; i++) {
        free(b->issuers[i].name);
        free(b->issuers[i].spki);
    }
    for (size_t i = 0; i < b->n_crls; i++)
        free(b->crls[i].owned);
    free(b->issuers);
    free(b->issuer_slots);
    free(b->crls);
    free(b->entries);
    free(b->serials);
    free(b);
}

/* The issuer index: O(1) per CRL however many CAs a set holds (at most RS_MAX_ISSUERS). */
static int issuer_slots_grow(fm_revbuild *b) {
    size_t n = b->n_slots ? b->n_slots * 2 : 64;
    uint32_t *slots = calloc(n, sizeof *slots);
    if (slots == NULL)
        return FM_ERR_NOMEM;
    for (size_t i = 0; i < b->n_issuers; i++)
        islot_put(slots, n, b->issuers[i].key, (uint32_t)i);
    free(b->issuer_slots);
    b->issuer_slots = slots;
    b->n_slots = n;
    return FM_OK;
}

static int issuer_index(fm_revbuild *b, const fm_cert *ca, uint32_t *out) {
    uint64_t key = issuer_key(ca->subject, ca->spki);
    /* room for one more first (at most one growth per doubling), then one probe sequence that
     * ends on this CA's slot or on the free slot it would take */
    if (2 * (b->n_issuers + 1) > b->n_slots && issuer_slots_grow(b) != FM_OK)
        return FM_ERR_NOMEM;
    size_t mask = b->n_slots - 1, j = (size_t)key & mask;
    for (; b->issuer_slots[j]; j = (j + 1) & mask) {
        uint32_t i = b->issuer_slots[j] - 1;
        rb_issuer *is = &b->issuers[i];
        if (is->key == key && fm_span_eq((fm_span){is->name, is->name_len}, ca->subject) &&
            fm_span_eq((fm_span){is->spki, is->spki_len}, ca->spki)) {
            *out = i;
            return FM_OK;
        }
    }
    if (b->n_issuers >= RS_MAX_ISSUERS)
        return FM_ERR_LIMIT;
    if (grow((void **)&b->issuers, &b->cap_issuers, b->n_issuers + 1, sizeof *b->issuers))
        return FM_ERR_NOMEM;
    rb_issuer is = {0};
    is.name = malloc(ca->subject.len);
    is.spki = malloc(ca->spki.len);
    if (is.name == NULL || is.spki == NULL) {
        free(is.name);
        free(is.spki);
        return FM_ERR_NOMEM;
    }
    memcpy(is.name, ca->subject.p, ca->subject.len);
    memcpy(is.spki, ca->spki.p, ca->spki.len);
    is.name_len = ca->subject.len, is.spki_len = ca->spki.len, is.key = key;
    b->issuers[b->n_issuers] = is;
    b->issuer_slots[j] = (uint32_t)b->n_issuers + 1; /* j: the free slot the search ended on */
    *out = (uint32_t)b->n_issuers++;
    return FM_OK;
}

static void fill_info(fm_crl_info *info, const fm_crl *c, const uint8_t *der) {
    memset(info, 0, sizeof *info);
    info->version = c->version, info->flags = c->flags;
    info->this_update = c->this_update, info->next_update = c->next_update;
    info->n_entries = c->n_entries;
    info->issuer_off = (size_t)(c->issuer.p - der), info->issuer_len = c->issuer.len;
    if (c->number.len)
        info->number_off = (size_t)(c->number.p - der), info->number_len = c->number.len;
    if (c->base_number.len)
        info->base_off = (size_t)(c->base_number.p - der), info->base_len = c->base_number.len;
    if (c->aki.len)
        info->aki_off = (size_t)(c->aki.p - der), info->aki_len = c->aki.len;
    if (c->idp.len)
        info->idp_off = (size_t)(c->idp.p - der), info->idp_len = c->idp.len;
    info->sig_status = -1;
}

/* The partition of a CRL (RFC 5280 5.2.5): what its issuingDistributionPoint means, not how it
 * is spelled, so that an IDP with only default values (empty, or FALSE flags written out, which
 * DER forbids but CAs emit) is the partition of a CRL without one, and a newer CRL of a
 * partition supersedes the older however each spells it. 0: no partition (the whole CA). */
/* The scope flags of an issuingDistributionPoint that make a partition of their own. */
#define PARTITION_FLAGS (FM_CRL_ONLY_USER | FM_CRL_ONLY_CA | FM_CRL_ONLY_ATTR | FM_CRL_SOME_REASONS)

static uint64_t partition_key(const fm_crl *c) {
    uint32_t kind = c->flags & PARTITION_FLAGS;
    if (!c->has_idp_dp && kind == 0)
        return 0;
    uint32_t head[2] = {kind, c->has_idp_dp ? (uint32_t)c->idp_dp_kind + 1u : 0};
    fm_span parts[3] = {{(const uint8_t *)head, sizeof head},
                        c->has_idp_dp ? c->idp_dp : (fm_span){NULL, 0},
                        {(const uint8_t *)&c->idp_reasons, sizeof c->idp_reasons}};
    return fm_hash64(RS_SEED, parts, 3) | 1u;
}

static int add_crl(fm_revbuild *b, const uint8_t *der, size_t len, int borrow,
                   const uint8_t *ca_der, size_t ca_len, fm_crl_info *info) {
    fm_cert ca;
    if (b == NULL || der == NULL || len == 0)
        return FM_ERR_INVALID_ARGUMENT;
    if (grow((void **)&b->crls, &b->cap_crls, b->n_crls + 1, sizeof *b->crls))
        return FM_ERR_NOMEM;
    rb_crl rec;
    memset(&rec, 0, sizeof rec);
    if (borrow) {
        rec.der = der;
    } else { /* one sequential copy: the builder must not depend on the caller's buffer */
        rec.owned = malloc(len);
        if (rec.owned == NULL)
            return FM_ERR_NOMEM;
        memcpy(rec.owned, der, len);
        rec.der = rec.owned;
    }
    int rc = fm_crl_parse_header(&rec.c, rec.der, len);
    if (rc == FM_OK && info)
        fill_info(info, &rec.c, rec.der);
    if (rc == FM_OK)
        rc = fm_cert_parse(&ca, ca_der, ca_len);
    if (rc == FM_OK) {
        rc = fm_crl_check_parsed(&rec.c, &ca);
        if (info)
            info->sig_status = rc;
    }
    if (rc == FM_OK)
        rc = issuer_index(b, &ca, &rec.issuer);
    if (rc != FM_OK) {
        free(rec.owned);
        return rc;
    }
    rec.idp_hash = partition_key(&rec.c);
    b->crls[b->n_crls++] = rec;
    return FM_OK;
}

int fm_revbuild_add_crl(fm_revbuild *b, const uint8_t *der, size_t len, const uint8_t *ca_der,
                        size_t ca_len, fm_crl_info *info) {
    return add_crl(b, der, len, 0, ca_der, ca_len, info);
}

int fm_revbuild_add_crl_borrowed(fm_revbuild *b, const uint8_t *der, size_t len,
                                 const uint8_t *ca_der, size_t ca_len, fm_crl_info *info) {
    return add_crl(b, der, len, 1, ca_der, ca_len, info);
}

int fm_revbuild_add_entry(fm_revbuild *b, const uint8_t *ca_der, size_t ca_len,
                          const uint8_t *serial, size_t serial_len, uint32_t reason, int64_t date) {
    fm_cert ca;
    /* CRLReason 0..10 except 7 (unused) and 8: removeFromCRL only has a meaning in a delta CRL
     * (RFC 5280 5.3.1), and as an explicit entry it would delete a CRL's revocation */
    if (b == NULL || serial == NULL || reason > 10 || reason == 7 ||
        reason == FM_REASON_REMOVE_FROM_CRL)
        return FM_ERR_INVALID_ARGUMENT;
    fm_span ser = {serial, serial_len};
    if (serial_len == 0 || serial_len > 64 || fm_der_integer_ok(ser))
        return FM_ERR_INVALID_ARGUMENT; /* minimal INTEGER content octets */
    int rc = fm_cert_parse(&ca, ca_der, ca_len);
    if (rc != FM_OK)
        return rc;
    uint32_t issuer;
    if ((rc = issuer_index(b, &ca, &issuer)) != FM_OK)
        return rc;
    if (b->serials_len > 0xF0000000u ||
        grow((void **)&b->entries, &b->cap_entries, b->n_entries + 1, sizeof *b->entries) ||
        grow((void **)&b->serials, &b->serials_cap, b->serials_len + serial_len, 1))
        return FM_ERR_NOMEM;
    b->issuers[issuer].explicit_entries = 1;
    memcpy(b->serials + b->serials_len, serial, serial_len);
    b->entries[b->n_entries++] = (rb_entry){issuer, (uint32_t)b->serials_len,
                                            (uint8_t)serial_len, (uint8_t)reason, date};
    b->serials_len += serial_len;
    return FM_OK;
}

/* CRL numbers are non-negative INTEGER contents: compare as big-endian magnitudes. */
static int num_cmp(fm_span a, fm_span b) {
    while (a.len && *a.p == 0)
        a.p++, a.len--;
    while (b.len && *b.p == 0)
        b.p++, b.len--;
    if (a.len != b.len)
        return a.len < b.len ? -1 : 1;
    return a.len ? memcmp(a.p, b.p, a.len) : 0;
}

/* Same issuer and issuingDistributionPoint scope: the hash first, then what it hashed (two
 * partitions whose keys collide must not merge, one base standing for the other's). */
static int same_partition(const rb_crl *a, const rb_crl *b) {
    if (a->issuer != b->issuer || a->idp_hash != b->idp_hash)
        return 0;
    const fm_crl *x = &a->c, *y = &b->c;
    return a->idp_hash == 0 ||
           ((x->flags & PARTITION_FLAGS) == (y->flags & PARTITION_FLAGS) &&
            x->idp_reasons == y->idp_reasons && x->has_idp_dp == y->has_idp_dp &&
            (!x->has_idp_dp || (x->idp_dp_kind == y->idp_dp_kind && fm_span_eq(x->idp_dp, y->idp_dp))));
}

/* Whether a CRL is issued for a later time than the builder's (fm_revbuild_set_time): its
 * status is not in force yet. */
static int future(const fm_revbuild *b, const rb_crl *c) {
    return b->has_time && c->c.this_update > b->now;
}

/* Whether CRL a is newer than CRL b of the same kind: one in force before one that is not yet
 * (as OpenSSL prefers a time-valid CRL), then the higher cRLNumber when both carry one, then
 * how current each is (a base with its deltas: the latest thisUpdate among them, `current`; a
 * CRL without a number is ranked by its date, never below any numbered one, nor above a
 * numbered base whose delta is as new), then the numbered one, then its own thisUpdate, then the
 * one with more entries, then by DER (whatever order they were given in). Not transitive when
 * numbers do not rise with dates (a CA's error): choose_crls picks by a running best, so a
 * partition always gets a base. */
static int newer(const fm_revbuild *bld, const rb_crl *a, size_t ai, const rb_crl *b, size_t bi) {
    int fa = future(bld, a), fb = future(bld, b);
    if (fa != fb)
        return fb;
    int na = (a->c.flags & FM_CRL_HAS_NUMBER) != 0, nb = (b->c.flags & FM_CRL_HAS_NUMBER) != 0;
    if (na && nb) {
        int cmp = num_cmp(a->c.number, b->c.number);
        if (cmp != 0)
            return cmp > 0;
    }
    if (a->current != b->current)
        return a->current > b->current;
    /* as current: the numbered one (a base whose delta brought it level with an unnumbered CRL
     * of the delta's date; ranking that CRL first by its own, later, thisUpdate would leave the
     * delta without its base) */
    if (na != nb)
        return na;
    if (a->c.this_update != b->c.this_update) /* one number re-issued: the later issue */
        return a->c.this_update > b->c.this_update;
    /* the same number and thisUpdate: a CA's error, or one CRL given twice. The order the CRLs
     * were given must not decide: the one revoking more, then the one whose DER sorts higher */
    if (a->c.n_entries != b->c.n_entries)
        return a->c.n_entries > b->c.n_entries;
    if (a->c.der.len != b->c.der.len)
        return a->c.der.len > b->c.der.len;
    int cmp = memcmp(a->c.der.p, b->c.der.p, a->c.der.len);
    return cmp != 0 ? cmp > 0 : ai < bi;
}

/* Whether delta CRL d applies to base CRL c (RFC 5280 5.2.4): same partition, d numbered above
 * c, and c at least as new as the base d names. */
static int delta_applies(const rb_crl *d, const rb_crl *c) {
    return same_partition(d, c) && (c->c.flags & FM_CRL_HAS_NUMBER) &&
           num_cmp(d->c.number, c->c.number) > 0 && num_cmp(c->c.number, d->c.base_number) >= 0;
}

/* Chooses, per (issuer, IDP partition), the newest base CRL and the newest delta CRL that applies
 * to it (RFC 5280 5.2.4: delta number > base number >= BaseCRLNumber). A delta lists every change
 * since the base it names, so the newest applicable delta alone, on its base, is the current
 * status: older deltas are superseded (applying them too would keep an entry the newest delta
 * no longer lists, e.g. a released hold), and so are deltas numbered at or below the base.
 * A delta without a usable base in its partition, or that needs a newer base than the one
 * chosen (BaseCRLNumber above its number) while being newer than every applicable delta, is
 * FM_ERR_CRL_NO_BASE: the newest status given cannot be applied, and silently using older data
 * would be worse. *bad receives that delta's index. With a build time, a delta issued for later
 * is left out (the status it gives is not in force yet), and "newest" ranks CRLs in force
 * first (newer()). A delta older than a chosen base without a number is superseded by it (that
 * base was ranked above every numbered base with its deltas). */
static int choose_crls(fm_revbuild *b, size_t *bad) {
    for (size_t i = 0; i < b->n_crls; i++) { /* how current each base is, with its deltas */
        rb_crl *c = &b->crls[i];
        c->current = c->c.this_update;
        if (c->c.flags & FM_CRL_DELTA)
            continue;
        for (size_t j = 0; j < b->n_crls; j++) {
            const rb_crl *d = &b->crls[j];
            if ((d->c.flags & FM_CRL_DELTA) && !future(b, d) && delta_applies(d, c) &&
                d->c.this_update > c->current)
                c->current = d->c.this_update;
        }
    }
    for (size_t i = 0; i < b->n_crls; i++)
        b->crls[i].delta = NO_DELTA;
    /* per partition (found at its first base), the newest base by a running best */
    for (size_t i = 0; i < b->n_crls; i++) {
        const rb_crl *c = &b->crls[i];
        if (c->c.flags & FM_CRL_DELTA)
            continue;
        int first = 1;
        for (size_t j = 0; j < i && first; j++)
            if (!(b->crls[j].c.flags & FM_CRL_DELTA) && same_partition(&b->crls[j], c))
                first = 0;
        if (!first)
            continue;
        size_t best = i;
        for (size_t j = i + 1; j < b->n_crls; j++) {
            const rb_crl *o = &b->crls[j];
            if (!(o->c.flags & FM_CRL_DELTA) && same_partition(o, c) &&
                newer(b, o, j, &b->crls[best], best))
                best = j;
        }
        b->crls[best].use = 1;
    }
    /* two rounds: the newest applicable delta of each base first, then the unusable deltas are
     * checked against it */
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < b->n_crls; i++) {
            const rb_crl *d = &b->crls[i];
            if (!(d->c.flags & FM_CRL_DELTA) || future(b, d))
                continue; /* (a delta not in force yet changes nothing now) */
            rb_crl *base = NULL;
            for (size_t j = 0; j < b->n_crls && base == NULL; j++) {
                rb_crl *o = &b->crls[j];
                if (o->use == 1 && same_partition(o, d))
                    base = o;
            }
            if (base != NULL && !(base->c.flags & FM_CRL_HAS_NUMBER) &&
                d->c.this_update < base->c.this_update)
                continue; /* superseded by a newer base without a number */
            if (base == NULL || !(base->c.flags & FM_CRL_HAS_NUMBER)) {
                *bad = i;
                return FM_ERR_CRL_NO_BASE;
            }
            if (num_cmp(d->c.number, base->c.number) <= 0)
                continue; /* superseded by the base */
            int applicable = num_cmp(base->c.number, d->c.base_number) >= 0;
            if (round == 0 && applicable &&
                (base->delta == NO_DELTA || newer(b, d, i, &b->crls[base->delta], base->delta)))
                base->delta = i;
            if (round == 1 && !applicable &&
                (base->delta == NO_DELTA ||
                 num_cmp(d->c.number, b->crls[base->delta].c.number) > 0)) {
                *bad = i; /* needs a newer base than we have, and is the newest delta */
                return FM_ERR_CRL_NO_BASE;
            }
        }
    }
    for (size_t i = 0; i < b->n_crls; i++)
        if (b->crls[i].use == 1 && b->crls[i].delta != NO_DELTA)
            b->crls[b->crls[i].delta].use = 2;
    return FM_OK;
}

typedef struct table {
    uint32_t *slots;
    uint64_t n_slots;
    uint8_t *arena;
    size_t arena_len;
    uint64_t live;
    uint64_t *per_issuer; /* live entries per issuer */
    uint64_t seed;        /* of entry_hash */
    uint64_t rm_seed;     /* of the removals' entry_hash */
    int overrun;          /* an insertion probed more than FM_RS_MAX_RUN slots: seed again */
} table;

/* One pending insertion: its slot is prefetched while earlier ones are applied. */
typedef struct pending {
    uint32_t issuer;
    uint8_t reason, scope;
    int64_t date;
    fm_span serial;
    uint64_t hash;
} pending;

#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(p) __builtin_prefetch(p)
#else
#define PREFETCH(p) ((void)(p))
#endif
#define PIPE 16 /* insertions in flight: hides the random slot access of a large table */

/* The record of (issuer, serial), or NULL with *slot the free slot it would take; NULL with
 * t->overrun set when that would make a run longer than FM_RS_MAX_RUN (the build then stops
 * inserting, so that entries crafted to collide cost O(FM_RS_MAX_RUN) each at most). */
static uint8_t *find_rec(table *t, uint32_t issuer, fm_span serial, uint64_t h, uint64_t *slot) {
    uint32_t tag = (uint32_t)(h >> 32);
    uint64_t i = slot_index(h, t->n_slots);
    for (uint64_t probes = 0;; probes++) {
        uint32_t off1 = t->slots[2 * i + 1];
        if (off1 == 0) {
            *slot = i;
            return NULL;
        }
        if (probes >= FM_RS_MAX_RUN) {
            t->overrun = 1;
            return NULL;
        }
        uint8_t *rec = t->arena + (off1 - 1);
        if (t->slots[2 * i] == tag && (uint32_t)(rec[0] | (rec[1] << 8)) == issuer &&
            rec[2] == serial.len && memcmp(rec + REC_HDR, serial.p, serial.len) == 0)
            return rec;
        i = i + 1 == t->n_slots ? 0 : i + 1;
    }
}

static void apply(table *t, const pending *e) {
    uint64_t slot = 0;
    if (t->overrun)
        return;
    uint8_t *rec = find_rec(t, e->issuer, e->serial, e->hash, &slot);
    if (t->overrun)
        return;
    uint32_t date = e->date < 0 ? 0 : e->date > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)e->date;
    uint8_t scope = e->scope;
    if (rec == NULL) {
        rec = t->arena + t->arena_len;
        t->slots[2 * slot] = (uint32_t)(e->hash >> 32);
        t->slots[2 * slot + 1] = (uint32_t)(t->arena_len + 1);
        t->arena_len += REC_HDR + e->serial.len;
        rec[0] = (uint8_t)e->issuer, rec[1] = (uint8_t)(e->issuer >> 8);
        rec[2] = (uint8_t)e->serial.len;
        memcpy(rec + REC_HDR, e->serial.p, e->serial.len);
        t->live++, t->per_issuer[e->issuer]++;
    } else {
        /* listed again (a delta, another partition, an explicit entry): the latest reason and
         * date, revoked for every certificate kind one of its lists covers (their scopes'
         * union, whatever the order the lists come in) */
        scope &= rec[3] & (REC_NOT_USER | REC_NOT_CA);
    }
    rec[3] = (uint8_t)((e->reason & REC_REASON_MASK) | scope);
    memcpy(rec + 4, &date, 4);
}

typedef struct pipeline {
    pending ring[PIPE];
    size_t n, head;
} pipeline;

static void pipe_push(table *t, pipeline *p, const pending *e) {
    if (p->n == PIPE) {
        apply(t, &p->ring[p->head]);
        p->ring[p->head] = *e;
        p->head = (p->head + 1) % PIPE;
    } else {
        p->ring[(p->head + p->n) % PIPE] = *e;
        p->n++;
    }
    PREFETCH(&t->slots[2 * slot_index(e->hash, t->n_slots)]);
}

static void pipe_drain(table *t, pipeline *p) {
    for (size_t k = 0; k < p->n; k++)
        apply(t, &p->ring[(p->head + k) % PIPE]);
    p->n = p->head = 0;
}

/* The serials a delta CRL removes from its base (removeFromCRL entries): a set that lives while
 * its partition is inserted, indexed by entry hash (fm_hslot: index + 1 into keys). */
typedef struct removals {
    fm_span *keys;
    fm_hslot *slots; /* NULL: empty */
    size_t cap;      /* a power of two, at least twice the keys */
    uint64_t seed;   /* of its entry_hash, always random (a delta's serials are a CA's choice too,
                      * and a build's own seed may be one the caller fixed) */
} removals;

static int removal_has(const removals *r, fm_span serial) {
    if (r->slots == NULL)
        return 0;
    uint64_t h = entry_hash(r->seed, 0, serial);
    for (size_t j = (size_t)h & (r->cap - 1); r->slots[j].idx1; j = (j + 1) & (r->cap - 1))
        if (r->slots[j].hash == h && fm_span_eq(r->keys[r->slots[j].idx1 - 1], serial))
            return 1;
    return 0;
}

/* Collects the removeFromCRL serials of delta CRL d (its entries are validated as read). */
static int removals_collect(removals *r, const rb_crl *d, uint64_t seed) {
    memset(r, 0, sizeof *r);
    r->seed = seed;
    size_t n = 0, cap = 16;
    while (cap < 2 * d->c.n_entries) /* n_entries: counted by the parser, below SIZE_MAX / 32 */
        cap <<= 1;
    fm_crl_iter it;
    fm_crl_entry e;
    int rc;
    fm_crl_iter_init(&it, &d->c);
    while ((rc = fm_crl_iter_next(&it, &e)) == 1) {
        if (e.reason != FM_REASON_REMOVE_FROM_CRL || e.serial.len > FM_CRL_MAX_SERIAL)
            continue;
        if (r->slots == NULL) {
            r->keys = malloc((size_t)d->c.n_entries * sizeof *r->keys);
            r->slots = calloc(cap, sizeof *r->slots);
            if (r->keys == NULL || r->slots == NULL)
                return FM_ERR_NOMEM;
            r->cap = cap;
        }
        if (!removal_has(r, e.serial) && n < d->c.n_entries) {
            r->keys[n] = e.serial;
            fm_hslot_put(r->slots, cap, entry_hash(seed, 0, e.serial), n++);
        }
    }
    return rc;
}

static void removals_free(removals *r) {
    free(r->keys);
    free(r->slots);
    memset(r, 0, sizeof *r);
}

/* Inserts one CRL's entries straight from its DER (validating each entry), except the serials
 * in `skip` (its delta's removals, for a base) and removeFromCRL entries (a delta's act on its
 * own base only, through `skip`, never on another partition's or the operator's; a complete
 * CRL's revoke nothing). */
static int insert_crl(table *t, pipeline *p, const rb_crl *c, const removals *skip) {
    if (c->c.flags & FM_CRL_ONLY_ATTR)
        return FM_OK; /* revokes attribute certificates only */
    uint8_t scope = (c->c.flags & FM_CRL_ONLY_USER) ? REC_NOT_CA
                    : (c->c.flags & FM_CRL_ONLY_CA) ? REC_NOT_USER
                                                     : 0;
    fm_crl_iter it;
    fm_crl_entry e;
    int rc;
    fm_crl_iter_init(&it, &c->c);
    while ((rc = fm_crl_iter_next(&it, &e)) == 1) {
        /* RFC 5280 5.3.1: removeFromCRL only appears in delta CRLs; in a complete CRL (a CA's
         * mistake) it revokes nothing, as OpenSSL reads it, and the CRL's other entries still
         * do (refusing the CRL would leave its predecessor, without them, in force) */
        if (e.reason == FM_REASON_REMOVE_FROM_CRL)
            continue;
        if (e.serial.len > FM_CRL_MAX_SERIAL)
            continue;
        if (skip && removal_has(skip, e.serial))
            continue;
        uint64_t h = entry_hash(t->seed, c->issuer, e.serial);
        pending pe = {c->issuer, (uint8_t)e.reason, scope, e.date, e.serial, h};
        pipe_push(t, p, &pe);
    }
    pipe_drain(t, p); /* later CRLs (deltas) see every entry of this one */
    return rc;
}

/* One partition: its base without the serials its delta removes, then the delta's entries. The
 * status of a partition is thereby its own (base + delta), and the set the union of the
 * partitions' and the operator's entries, whatever the order the CRLs came in. */
static int insert_partition(table *t, pipeline *p, const fm_revbuild *b, size_t base,
                            size_t *bad) {
    removals rm;
    memset(&rm, 0, sizeof rm);
    const rb_crl *c = &b->crls[base];
    int rc = FM_OK;
    if (c->delta != NO_DELTA && (rc = removals_collect(&rm, &b->crls[c->delta], t->rm_seed)) != FM_OK)
        *bad = c->delta;
    else if ((rc = insert_crl(t, p, c, &rm)) != FM_OK)
        *bad = base;
    else if (c->delta != NO_DELTA && (rc = insert_crl(t, p, &b->crls[c->delta], NULL)) != FM_OK)
        *bad = c->delta;
    removals_free(&rm);
    return rc;
}

/* Every chosen partition in turn (its base, then its delta), then the explicit entries. */
static int fill_table(table *t, const fm_revbuild *b, size_t *bad) {
    pipeline pl;
    memset(&pl, 0, sizeof pl);
    int rc;
    for (size_t i = 0; i < b->n_crls; i++)
        if (b->crls[i].use == 1 && (rc = insert_partition(t, &pl, b, i, bad)) != FM_OK)
            return rc;
    for (size_t i = 0; i < b->n_entries; i++) {
        const rb_entry *e = &b->entries[i];
        fm_span serial = {b->serials + e->serial_off, e->serial_len};
        pending pe = {e->issuer, e->reason, 0, e->date, serial,
                      entry_hash(t->seed, e->issuer, serial)};
        pipe_push(t, &pl, &pe);
    }
    pipe_drain(t, &pl);
    return FM_OK;
}

static size_t align8(size_t n) { return (n + 7) & ~(size_t)7; }

#define RS_HUGE 2097152u /* a transparent huge page on x86-64 and arm64 Linux */

/* Zeroed memory for a built image. A large one gets its own anonymous mapping, aligned to and
 * advised for transparent huge pages (Linux): filling a 1M-entry table then takes a few dozen
 * page faults instead of ~9,000, and every later lookup's random slot access misses the TLB
 * far less. *mapped tells fm_revset_free to munmap it. Small images come from calloc. */
static uint8_t *image_alloc(size_t len, int *mapped) {
    *mapped = 0;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (len >= 2 * (size_t)RS_HUGE && len <= SIZE_MAX - RS_HUGE) {
        size_t span = len + RS_HUGE;
        uint8_t *raw = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (raw != MAP_FAILED) {
            uintptr_t a = ((uintptr_t)raw + RS_HUGE - 1) & ~(uintptr_t)(RS_HUGE - 1);
            uint8_t *img = (uint8_t *)a;
            size_t page = (size_t)sysconf(_SC_PAGESIZE);
            size_t used = (len + page - 1) / page * page; /* what munmap(img, len) releases */
            if (img > raw)
                munmap(raw, (size_t)(img - raw));
            if (raw + span > img + used)
                munmap(img + used, (size_t)(raw + span - (img + used)));
            (void)madvise(img, used, MADV_HUGEPAGE); /* advice only: failing is harmless */
            *mapped = 1;
            return img;
        }
    }
#endif
    return calloc(1, len);
}


/* A distribution point name of a chosen partitioned CRL, while the parts are collected. */
typedef struct build_part {
    uint32_t issuer, flags; /* flags: COVER_*, PART_RELATIVE */
    uint64_t hash;
    fm_span name;
    fm_window w;   /* its own CRL pair's */
    cover_win win; /* once merged: per kind, the freshest of the pairs naming it */
} build_part;

static int build_part_cmp(const void *pa, const void *pb) {
    const build_part *a = pa, *b = pb;
    if (a->issuer != b->issuer)
        return a->issuer < b->issuer ? -1 : 1;
    if (a->hash != b->hash)
        return a->hash < b->hash ? -1 : 1;
    if ((a->flags & PART_RELATIVE) != (b->flags & PART_RELATIVE))
        return (a->flags & PART_RELATIVE) ? 1 : -1;
    if (a->name.len != b->name.len)
        return a->name.len < b->name.len ? -1 : 1;
    return memcmp(a->name.p, b->name.p, a->name.len);
}

/* COVER_* of a chosen base CRL: the certificates it gives complete status for. A CRL partitioned
 * by reason (onlySomeReasons) is not complete status (RFC 5280 6.3.3), an attribute one covers
 * no public-key certificate. */
static uint32_t crl_cover(const fm_crl *c) {
    return (c->flags & (FM_CRL_ONLY_ATTR | FM_CRL_SOME_REASONS)) ? 0
           : (c->flags & FM_CRL_ONLY_USER)                      ? COVER_USER
           : (c->flags & FM_CRL_ONLY_CA)                        ? COVER_CA
                                                                : COVER_USER | COVER_CA;
}

/* The window of a chosen base CRL with its delta: the status they give is current from the later
 * thisUpdate to the earlier nextUpdate of the two. */
static fm_window pair_window(const fm_revbuild *b, const rb_crl *base) {
    fm_window w = {base->c.this_update, base->c.next_update};
    if (base->delta != NO_DELTA) {
        const fm_crl *d = &b->crls[base->delta].c;
        if (d->this_update > w.this_update)
            w.this_update = d->this_update;
        if (d->next_update < w.next_update)
            w.next_update = d->next_update;
    }
    return w;
}

/* Adds a CRL pair covering the kinds `cover` (COVER_*) with window w to a coverage: per kind,
 * the freshest covering pair decides (fm_window_fresher at the build time), as OpenSSL picks
 * the time-valid CRL among those in scope; stale lists, and lists issued for later, of another
 * scope or partition do not matter. */
static void cover_add(const fm_revbuild *b, cover_win *c, uint32_t have, uint32_t cover,
                      fm_window w) {
    int64_t at = b->has_time ? b->now : INT64_MAX;
    if ((cover & COVER_USER) &&
        (!(have & COVER_USER) || fm_window_fresher(w, window_of(c, 0), at)))
        c->this_user = w.this_update, c->next_user = w.next_update;
    if ((cover & COVER_CA) && (!(have & COVER_CA) || fm_window_fresher(w, window_of(c, 1), at)))
        c->this_ca = w.this_update, c->next_ca = w.next_update;
}

/* The distribution point names of the chosen partitioned CRLs, sorted and merged (one part per
 * issuer and name, its COVER_* the union, per kind the window of the freshest CRL naming it).
 * *out is NULL when there are none. */
static int collect_parts(const fm_revbuild *b, build_part **out, size_t *n_out) {
    size_t n = 0;
    *out = NULL, *n_out = 0;
    for (int fill = 0; fill < 2; fill++) {
        if (fill) {
            if (n == 0)
                return FM_OK;
            *out = calloc(n, sizeof **out);
            if (*out == NULL)
                return FM_ERR_NOMEM;
            n = 0;
        }
        for (size_t i = 0; i < b->n_crls; i++) {
            const rb_crl *c = &b->crls[i];
            uint32_t cover = crl_cover(&c->c);
            if (c->use != 1 || !c->c.has_idp_dp || cover == 0)
                continue;
            fm_window w = pair_window(b, c);
            cover_win none = {0, 0, 0, 0};
            fm_der r;
            fm_span gn;
            if (c->c.idp_dp_kind == FM_DPN_RELATIVE) {
                if (fill)
                    (*out)[n] = (build_part){c->issuer, cover | PART_RELATIVE,
                                             part_hash(PART_RELATIVE, c->c.idp_dp), c->c.idp_dp,
                                             w, none};
                n++;
                continue;
            }
            fm_der_init_span(&r, c->c.idp_dp); /* validated by the CRL parser */
            while (!fm_der_done(&r) && fm_der_any(&r, NULL, NULL, &gn) == 0) {
                if (fill)
                    (*out)[n] = (build_part){c->issuer, cover, part_hash(0, gn), gn, w, none};
                n++;
            }
        }
    }
    qsort(*out, n, sizeof **out, build_part_cmp);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        build_part *p = &(*out)[i];
        if (m && (*out)[m - 1].issuer == p->issuer && (*out)[m - 1].hash == p->hash &&
            (((*out)[m - 1].flags ^ p->flags) & PART_RELATIVE) == 0 &&
            fm_span_eq((*out)[m - 1].name, p->name)) {
            build_part *q = &(*out)[m - 1];
            cover_add(b, &q->win, q->flags, p->flags, p->w);
            q->flags |= p->flags;
        } else {
            build_part *q = &(*out)[m++];
            *q = *p;
            cover_add(b, &q->win, 0, q->flags, q->w);
        }
    }
    *n_out = m;
    return FM_OK;
}

int fm_revbuild_finish(fm_revbuild *b, fm_revset **out) {
    return fm_revbuild_finish_ex(b, out, NULL);
}

int fm_revbuild_finish_ex(fm_revbuild *b, fm_revset **out, int64_t *bad_crl) {
    size_t bad = NO_DELTA;
    if (bad_crl)
        *bad_crl = -1;
    if (out == NULL) {
        fm_revbuild_free(b);
        return FM_ERR_INVALID_ARGUMENT;
    }
    *out = NULL;
    if (b == NULL)
        return FM_ERR_INVALID_ARGUMENT;
    int rc = choose_crls(b, &bad);
    uint8_t *image = NULL;
    size_t total = 0;
    int image_mapped = 0;
    uint64_t *per_issuer = NULL;
    build_part *parts = NULL;
    size_t n_parts = 0;
    if (rc != FM_OK)
        goto out;
    if ((rc = collect_parts(b, &parts, &n_parts)) != FM_OK)
        goto out;
    /* upper bound of live entries and record bytes: every chosen CRL's entries, explicit ones */
    uint64_t bound = b->n_entries, arena_bound = REC_HDR * (uint64_t)b->n_entries + b->serials_len;
    for (size_t i = 0; i < b->n_crls; i++) {
        const rb_crl *c = &b->crls[i];
        if (c->use) {
            bound += c->c.n_entries;
            arena_bound += REC_HDR * c->c.n_entries + c->c.serial_octets;
        }
    }
    uint64_t n_slots = bound < 12 ? 16 : bound + bound / 2 - bound / 20; /* load <= 0.69 */
    if (n_slots > 0xFFFFFFFFu || arena_bound >= 0xFFFFFFF0u || n_parts > 0xFFFFFFFFu) {
        rc = FM_ERR_LIMIT;
        goto out;
    }
    size_t blob_len = 0;
    for (size_t i = 0; i < b->n_issuers; i++)
        blob_len += b->issuers[i].name_len + b->issuers[i].spki_len + 21;
    for (size_t i = 0; i < n_parts; i++)
        blob_len += parts[i].name.len; /* within the CRLs' DER, already in memory */
    size_t off_issuers = align8(sizeof(rs_header));
    size_t off_parts = align8(off_issuers + b->n_issuers * sizeof(rs_issuer));
    size_t off_slots = align8(off_parts + n_parts * sizeof(rs_part));
    size_t off_arena = align8(off_slots + (size_t)n_slots * 8);
    size_t off_blob = align8(off_arena + (size_t)arena_bound);
    total = align8(off_blob + blob_len);
    image = image_alloc(total, &image_mapped);
    per_issuer = calloc(b->n_issuers ? b->n_issuers : 1, sizeof *per_issuer);
    if (image == NULL || per_issuer == NULL) {
        rc = FM_ERR_NOMEM;
        goto out;
    }
    table t = {(uint32_t *)(image + off_slots), n_slots, image + off_arena, 0, 0, per_issuer, 0,
               0, 0};
    if ((!b->has_seed && (rc = fm_random_u64(&t.seed)) != FM_OK) ||
        (rc = fm_random_u64(&t.rm_seed)) != FM_OK)
        goto out;
    if (b->has_seed)
        t.seed = b->seed;
    for (int attempt = 1;; attempt++) {
        if ((rc = fill_table(&t, b, &bad)) != FM_OK)
            goto out;
        if (!t.overrun && longest_run_of(t.slots, n_slots) <= FM_RS_MAX_RUN)
            break;
        /* entries that collide under this seed (chosen for it, or bad luck): another one */
        if (attempt == RS_BUILD_SEEDS) {
            rc = FM_ERR_LIMIT;
            goto out;
        }
        if ((rc = fm_random_u64(&t.seed)) != FM_OK)
            goto out;
        memset(t.slots, 0, (size_t)n_slots * 8);
        memset(per_issuer, 0, (b->n_issuers ? b->n_issuers : 1) * sizeof *per_issuer);
        t.arena_len = 0, t.live = 0, t.overrun = 0;
    }

    rs_header *h = (rs_header *)image;
    rs_issuer *iss = (rs_issuer *)(image + off_issuers);
    rs_part *ps = (rs_part *)(image + off_parts);
    uint8_t *blob = image + off_blob;
    size_t bl = 0, pi = 0;
    for (size_t i = 0; i < b->n_issuers; i++) {
        rb_issuer *src = &b->issuers[i];
        rs_issuer *d = &iss[i];
        d->key_hash = src->key;
        d->name_off = bl, d->name_len = (uint32_t)src->name_len;
        memcpy(blob + bl, src->name, src->name_len), bl += src->name_len;
        d->spki_off = bl, d->spki_len = (uint32_t)src->spki_len;
        memcpy(blob + bl, src->spki, src->spki_len), bl += src->spki_len;
        d->this_update = 0, d->next_update = INT64_MAX;
        cover_win win = {INT64_MIN, INT64_MAX, INT64_MIN, INT64_MAX};
        d->number_off = bl;
        d->n_entries = per_issuer[i];
        /* dates, flags and number from the CRLs in use: chosen bases and their one delta each
         * (a superseded delta's dates no longer matter) */
        const rb_crl *newest = NULL;
        for (size_t j = 0; j < b->n_crls; j++) {
            const rb_crl *c = &b->crls[j];
            if (c->issuer != i || !c->use)
                continue;
            d->has_crl = 1;
            d->flags |= c->c.flags;
            if (c->c.this_update > d->this_update)
                d->this_update = c->c.this_update;
            if (c->c.next_update < d->next_update)
                d->next_update = c->c.next_update;
            /* a CRL naming a distribution point covers only the certificates that name it:
             * its names are parts, not issuer-wide coverage (RFC 5280 6.3.3 (b)(2)(i)) */
            if (c->use == 1 && !c->c.has_idp_dp) {
                uint32_t cover = crl_cover(&c->c);
                cover_add(b, &win, d->cover, cover, pair_window(b, c));
                d->cover |= cover;
            }
            if (newest == NULL || num_cmp(c->c.number, newest->c.number) > 0)
                newest = c;
        }
        /* the operator manages the revocations of a CA without CRLs: complete, never stale. A
         * CA with CRLs gets its coverage, and its deadlines, from them alone (its explicit
         * entries add revocations). */
        if (src->explicit_entries && !d->has_crl)
            d->cover |= COVER_USER | COVER_CA;
        d->win = win;
        if (newest && newest->c.number.len && newest->c.number.len <= 21) {
            memcpy(blob + bl, newest->c.number.p, newest->c.number.len);
            d->number_len = (uint32_t)newest->c.number.len;
            bl += newest->c.number.len;
        }
        d->part_first = (uint32_t)pi;
        for (; pi < n_parts && parts[pi].issuer == i; pi++) {
            rs_part *p = &ps[pi];
            p->hash = parts[pi].hash, p->flags = parts[pi].flags;
            p->win = parts[pi].win;
            p->name_off = bl, p->name_len = (uint32_t)parts[pi].name.len;
            memcpy(blob + bl, parts[pi].name.p, parts[pi].name.len), bl += parts[pi].name.len;
        }
        d->part_count = (uint32_t)(pi - d->part_first);
    }
    memcpy(h->magic, RS_MAGIC, 8);
    h->version = RS_VERSION, h->endian = RS_ENDIAN;
    h->total_len = total, h->n_entries = t.live, h->n_slots = n_slots, h->n_issuers = b->n_issuers;
    h->off_issuers = off_issuers, h->off_slots = off_slots, h->off_arena = off_arena;
    h->arena_len = t.arena_len, h->off_blob = off_blob, h->blob_len = bl;
    h->off_parts = off_parts, h->n_parts = n_parts;
    h->seed = t.seed;
    h->checksum = 0; /* computed by fm_revset_save */
    rc = wrap(image, total, image_mapped, 0, out);
    if (rc == FM_OK)
        image = NULL;
out:
    if (rc != FM_OK && bad_crl && bad != NO_DELTA)
        *bad_crl = (int64_t)bad;
    image_release(image, total, image_mapped);
    free(per_issuer);
    free(parts);
    fm_revbuild_free(b);
    return rc;
}
