/* fuzz_snapshot.c - revocation snapshots: fm_revset_load_bytes on the input, then lookups.
 *
 * Snapshots carry a checksum (over the header with a zero checksum field, and over the body), so
 * random mutations almost never get past it. Each input is therefore loaded three times:
 *   1. as it is (header checks, checksum);
 *   2. with the checksum field recomputed (structure validation in attach());
 *   3. additionally with magic, version, endianness and total length set to the valid values
 *      (mutations that change the length still reach the offset/slot/record validation).
 * Every load that succeeds is queried: each issuer, lookups of serials found through the slot
 * table, of fixed serials and of the input's last bytes, for each fixed CA and each issuer, and a
 * batch lookup (fm_revset_lookup_many) reading the input's last bytes as its serial records.
 *
 * The snapshot layout and the checksum (image_checksum, static in fm_revset.c) are mirrored in
 * csrc/tests/snapshot_image.h (shared with test_core.c); LLVMFuzzerInitialize checks the mirror
 * against a snapshot written by fm_revset_save, so a change in fm_revset.c fails loudly instead
 * of silently fuzzing nothing. */
#define _POSIX_C_SOURCE 200809L /* mkstemp under -std=c11 */
#include <unistd.h>

#include "../tests/snapshot_image.h"
#include "fuzz_common.h"

static const uint8_t *g_ca_name[FUZZ_N_CAS], *g_ca_spki[FUZZ_N_CAS];
static size_t g_ca_name_len[FUZZ_N_CAS], g_ca_spki_len[FUZZ_N_CAS];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    for (size_t i = 0; i < FUZZ_N_CAS; i++)
        fuzz_ca_ids(&FUZZ_CAS[i], &g_ca_name[i], &g_ca_name_len[i], &g_ca_spki[i],
                    &g_ca_spki_len[i]);
    /* self-check of the mirrored header layout */
    fm_revbuild *b = NULL;
    fm_revset *s = NULL;
    static const uint8_t ser[] = {0x0B, 0xAD};
    FUZZ_CHECK_OK(fm_revbuild_new(&b));
    FUZZ_CHECK_OK(fm_revbuild_add_entry(b, fuzz_root_p256, sizeof fuzz_root_p256, ser, 2, 1, 1));
    FUZZ_CHECK_OK(fm_revbuild_finish(b, &s));
    char path[] = "/tmp/fm_fuzz_snapshot_123456";
    memset(path + sizeof path - 7, 'X', 6); /* mkstemp's template: six trailing 'X' */
    int fd = mkstemp(path);
    FUZZ_ASSERT(fd >= 0);
    close(fd);
    FUZZ_CHECK_OK(fm_revset_save(s, path));
    fm_revset_free(s);
    FILE *f = fopen(path, "rb");
    FUZZ_ASSERT(f != NULL);
    static uint8_t img[1 << 16];
    size_t len = fread(img, 1, sizeof img, f);
    fclose(f);
    unlink(path);
    FUZZ_ASSERT(len > SNAP_HEADER_SIZE && len < sizeof img);
    FUZZ_ASSERT(snap_layout_ok(img, len));
    FUZZ_CHECK_OK(fm_revset_load_bytes(img, len, &s));
    FUZZ_ASSERT(fm_revset_lookup(s, g_ca_name[0], g_ca_name_len[0], g_ca_spki[0], g_ca_spki_len[0],
                                 ser, 2, NULL) == 1);
    fm_revset_free(s);
    return 0;
}

static void lookup_all(const fm_revset *s, const uint8_t *serial, size_t len) {
    fm_revocation rv;
    for (size_t c = 0; c < FUZZ_N_CAS; c++)
        (void)fm_revset_lookup(s, g_ca_name[c], g_ca_name_len[c], g_ca_spki[c], g_ca_spki_len[c],
                               serial, len, &rv);
    size_t n = fm_revset_issuer_count(s);
    for (size_t i = 0; i < n && i < 64; i++) {
        fm_revset_issuer is;
        FUZZ_CHECK_OK(fm_revset_issuer_get(s, i, &is));
        (void)fm_revset_lookup(s, is.name, is.name_len, is.spki, is.spki_len, serial, len, &rv);
        (void)fm_revset_check(s, (int)i, (fm_span){serial, len}, 1, &rv);
    }
}

static void query(const fm_revset *s, const uint8_t *img, size_t len, const uint8_t *tail,
                  size_t tail_len) {
    (void)fm_revset_count(s);
    (void)fm_revset_memory(s);
    size_t n = fm_revset_issuer_count(s);
    for (size_t i = 0; i < n && i < 64; i++) {
        fm_revset_issuer is;
        FUZZ_CHECK_OK(fm_revset_issuer_get(s, i, &is));
        /* the spans the set hands out are inside its own image: touch every byte (ASan) */
        volatile uint8_t sink = 0;
        for (size_t k = 0; k < is.name_len; k++)
            sink ^= is.name[k];
        for (size_t k = 0; k < is.spki_len; k++)
            sink ^= is.spki[k];
        for (size_t k = 0; k < is.number_len; k++)
            sink ^= is.number[k];
        (void)sink;
        fm_window nu;
        (void)fm_revset_issuer_state(s, (int)i, 0, &nu);
        /* distribution point coverage: names that cannot match, and the input's tail */
        static const uint8_t uri[] = {0x86, 0x03, 'x', ':', 'y'};
        for (int kind = FM_DPN_FULL; kind <= FM_DPN_RELATIVE; kind++) {
            (void)fm_revset_covers_dp(s, (int)i, kind, kind, (fm_span){uri, sizeof uri}, &nu);
            if (tail_len)
                (void)fm_revset_covers_dp(s, (int)i, 0, kind, (fm_span){tail, tail_len}, &nu);
        }
        (void)fm_revset_find_issuer(s, (fm_span){is.name, is.name_len},
                                    (fm_span){is.spki, is.spki_len});
    }
    fm_revset_issuer dummy;
    FUZZ_ASSERT(fm_revset_issuer_get(s, n, &dummy) == FM_ERR_INVALID_ARGUMENT);
    /* serials of the records the slot table points at (the layout attach() validated) */
    uint64_t n_slots = snap_rd64(img, SNAP_OFF_N_SLOTS), off_slots = snap_rd64(img, SNAP_OFF_SLOTS);
    uint64_t off_arena = snap_rd64(img, SNAP_OFF_ARENA);
    uint64_t arena_len = snap_rd64(img, SNAP_OFF_ARENA_LEN);
    for (uint64_t i = 0, found = 0; i < n_slots && found < 8; i++) {
        uint32_t off1 = snap_rd32(img, (size_t)(off_slots + 8 * i + 4));
        if (off1 == 0)
            continue;
        uint64_t off = off1 - 1u;
        FUZZ_ASSERT(off + SNAP_REC_HDR <= arena_len && off_arena + arena_len <= len);
        const uint8_t *rec = img + off_arena + off;
        FUZZ_ASSERT(off + SNAP_REC_HDR + rec[2] <= arena_len);
        lookup_all(s, rec + SNAP_REC_HDR, rec[2]);
        found++;
    }
    /* the batch lookup with the tail as its records (an exact-size copy: ASan sees overreads):
     * refused, or each answer the single lookup's */
    if (tail_len) {
        uint8_t *recs = malloc(tail_len), out[8];
        FUZZ_ASSERT(recs != NULL);
        memcpy(recs, tail, tail_len);
        size_t want = tail[0] % 8u;
        int64_t r = fm_revset_lookup_many(s, g_ca_name[0], g_ca_name_len[0], g_ca_spki[0],
                                          g_ca_spki_len[0], recs, tail_len, want, out);
        FUZZ_ASSERT(r == -(int64_t)FM_ERR_INVALID_ARGUMENT || (r >= 0 && (size_t)r <= want));
        for (size_t i = 0, off = 0; r >= 0 && i < want; off += 1u + recs[off], i++)
            FUZZ_ASSERT(out[i] == fm_revset_lookup(s, g_ca_name[0], g_ca_name_len[0], g_ca_spki[0],
                                                   g_ca_spki_len[0], recs + off + 1, recs[off],
                                                   NULL));
        free(recs);
    }
    static const uint8_t fixed[] = {0x0B, 0xAD, 0x01};
    lookup_all(s, fixed, 1);
    lookup_all(s, fixed, 2);
    lookup_all(s, fixed, 3);
    if (tail_len)
        lookup_all(s, tail, tail_len);
}

static void load(const uint8_t *img, size_t len, const uint8_t *tail, size_t tail_len) {
    fm_revset *s = NULL;
    int rc = fm_revset_load_bytes(img, len, &s);
    fuzz_status_ok(rc);
    if (rc != FM_OK) {
        FUZZ_ASSERT(s == NULL);
        FUZZ_ASSERT(rc == FM_ERR_SNAPSHOT_CORRUPT || rc == FM_ERR_SNAPSHOT_VERSION ||
                    rc == FM_ERR_NOMEM);
        return;
    }
    /* the set keeps its own copy: query it through that copy's layout (same bytes) */
    query(s, img, len, tail, tail_len);
    fm_revset_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t tail_len = size < 20 ? size : 20;
    const uint8_t *tail = data + size - tail_len;
    load(data, size, tail, tail_len);
    if (size < SNAP_HEADER_SIZE)
        return 0;
    uint8_t *img = malloc(size);
    FUZZ_ASSERT(img != NULL);
    memcpy(img, data, size);
    snap_reseal(img, size);
    load(img, size, tail, tail_len);

    memcpy(img + SNAP_OFF_MAGIC, SNAP_MAGIC, 8);
    snap_wr32(img, SNAP_OFF_VERSION, SNAP_VERSION);
    snap_wr32(img, SNAP_OFF_ENDIAN, SNAP_ENDIAN);
    snap_wr64(img, SNAP_OFF_TOTAL, size);
    snap_reseal(img, size); /* the checksum covers the header */
    load(img, size, tail, tail_len);
    free(img);
    return 0;
}
