/* snapshot_image.h - the byte layout of a revocation snapshot and its checksum, mirrored from
 * fm_revset.c (rs_header, rs_issuer, rs_part and image_checksum() are static there).
 *
 * A snapshot's checksum covers every byte, so a corrupted field only reaches the structure checks
 * of attach() once the checksum is recomputed (snap_reseal). The tests that do that include this
 * header: csrc/tests/test_core.c (one corruption per check) and csrc/fuzz/fuzz_snapshot.c (every
 * input loaded again resealed). Both check the mirror against a snapshot written by
 * fm_revset_save (snap_layout_ok), so a change of the format fails loudly instead of silently
 * testing nothing. Needs -Icsrc (fm_cache.h, fm_revset.h). */
#ifndef FM_SNAPSHOT_IMAGE_H
#define FM_SNAPSHOT_IMAGE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fm_cache.h"  /* fm_hash64 */
#include "fm_revset.h" /* fm_checksum64 */

#define SNAP_MAGIC "FMREVSET"
#define SNAP_VERSION 6u       /* RS_VERSION */
#define SNAP_ENDIAN 0x01020304u

/* rs_header: 128 bytes, host byte order */
#define SNAP_HEADER_SIZE 128u
#define SNAP_OFF_MAGIC 0u
#define SNAP_OFF_VERSION 8u /* u32 */
#define SNAP_OFF_ENDIAN 12u /* u32 */
#define SNAP_OFF_TOTAL 16u
#define SNAP_OFF_CHECKSUM 24u
#define SNAP_OFF_N_ENTRIES 32u
#define SNAP_OFF_N_SLOTS 40u
#define SNAP_OFF_N_ISSUERS 48u
#define SNAP_OFF_ISSUERS 56u
#define SNAP_OFF_SLOTS 64u
#define SNAP_OFF_ARENA 72u
#define SNAP_OFF_ARENA_LEN 80u
#define SNAP_OFF_BLOB 88u
#define SNAP_OFF_BLOB_LEN 96u
#define SNAP_OFF_PARTS 104u
#define SNAP_OFF_N_PARTS 112u
#define SNAP_OFF_SEED 120u /* keys the slot hash */

/* rs_issuer: 120 bytes (name/spki/number offsets are into the blob) */
#define SNAP_ISSUER_SIZE 120u
#define SNAP_IS_KEY_HASH 0u /* u64: the issuer index key of its name and key */
#define SNAP_IS_NAME_OFF 8u
#define SNAP_IS_SPKI_OFF 16u
#define SNAP_IS_NUMBER_OFF 24u
#define SNAP_IS_NAME_LEN 32u /* u32, as the four below */
#define SNAP_IS_SPKI_LEN 36u
#define SNAP_IS_NUMBER_LEN 40u
#define SNAP_IS_COVER 104u
#define SNAP_IS_HAS_CRL 108u
#define SNAP_IS_PART_FIRST 112u
#define SNAP_IS_PART_COUNT 116u

/* rs_part: 56 bytes */
#define SNAP_PART_SIZE 56u
#define SNAP_PART_HASH 0u
#define SNAP_PART_NAME_OFF 8u
#define SNAP_PART_NAME_LEN 16u /* u32 */
#define SNAP_PART_FLAGS 20u    /* u32: COVER_USER 1 | COVER_CA 2 | PART_RELATIVE 4 */

/* slots: u32 tag, u32 record offset + 1 (0 = free); arena records: u16 issuer, u8 serial
 * length, u8 flags (reason | REC_NOT_USER 0x10 | REC_NOT_CA 0x20), u32 date, serial octets */
#define SNAP_REC_HDR 8u
#define SNAP_REC_NOT_USER 0x10u
#define SNAP_REC_NOT_CA 0x20u

static inline uint64_t snap_rd64(const uint8_t *img, size_t off) {
    uint64_t v;
    memcpy(&v, img + off, 8);
    return v;
}

static inline uint32_t snap_rd32(const uint8_t *img, size_t off) {
    uint32_t v;
    memcpy(&v, img + off, 4);
    return v;
}

static inline void snap_wr64(uint8_t *img, size_t off, uint64_t v) { memcpy(img + off, &v, 8); }
static inline void snap_wr32(uint8_t *img, size_t off, uint32_t v) { memcpy(img + off, &v, 4); }

/* Offsets of issuer i and of part k (from the header: call on a valid image only). */
static inline size_t snap_issuer(const uint8_t *img, uint64_t i) {
    return (size_t)(snap_rd64(img, SNAP_OFF_ISSUERS) + i * SNAP_ISSUER_SIZE);
}
static inline size_t snap_part(const uint8_t *img, uint64_t k) {
    return (size_t)(snap_rd64(img, SNAP_OFF_PARTS) + k * SNAP_PART_SIZE);
}

/* Mirror of image_checksum(): the header with its checksum field taken as zero, then the body. */
static inline uint64_t snap_checksum(const uint8_t *img, size_t len) {
    uint8_t h[SNAP_HEADER_SIZE];
    memcpy(h, img, SNAP_HEADER_SIZE);
    memset(h + SNAP_OFF_CHECKSUM, 0, 8);
    uint64_t parts[2] = {fm_checksum64(h, SNAP_HEADER_SIZE),
                         fm_checksum64(img + SNAP_HEADER_SIZE, len - SNAP_HEADER_SIZE)};
    fm_span s = {(const uint8_t *)parts, sizeof parts};
    return fm_hash64(0x696d616765ULL, &s, 1);
}

/* Writes the checksum of an image of len >= SNAP_HEADER_SIZE bytes into its header. */
static inline void snap_reseal(uint8_t *img, size_t len) {
    snap_wr64(img, SNAP_OFF_CHECKSUM, snap_checksum(img, len));
}

/* Whether an image written by fm_revset_save fits the mirror: magic, version, endianness, total
 * length and checksum, the sections in order (issuers, parts, slots, arena, blob), every issuer's
 * name (a Name SEQUENCE) and key inside the blob, and the issuers' part ranges tiling the parts. */
static inline int snap_layout_ok(const uint8_t *img, size_t len) {
    if (len <= SNAP_HEADER_SIZE || memcmp(img + SNAP_OFF_MAGIC, SNAP_MAGIC, 8) != 0 ||
        snap_rd32(img, SNAP_OFF_VERSION) != SNAP_VERSION ||
        snap_rd32(img, SNAP_OFF_ENDIAN) != SNAP_ENDIAN || snap_rd64(img, SNAP_OFF_TOTAL) != len ||
        snap_rd64(img, SNAP_OFF_CHECKSUM) != snap_checksum(img, len))
        return 0;
    uint64_t n_issuers = snap_rd64(img, SNAP_OFF_N_ISSUERS);
    uint64_t n_parts = snap_rd64(img, SNAP_OFF_N_PARTS), n_slots = snap_rd64(img, SNAP_OFF_N_SLOTS);
    uint64_t off_slots = snap_rd64(img, SNAP_OFF_SLOTS), off_arena = snap_rd64(img, SNAP_OFF_ARENA);
    uint64_t off_blob = snap_rd64(img, SNAP_OFF_BLOB), blob_len = snap_rd64(img, SNAP_OFF_BLOB_LEN);
    if (n_issuers == 0 || n_issuers > len / SNAP_ISSUER_SIZE || n_parts > len / SNAP_PART_SIZE ||
        n_slots == 0 || n_slots > len / 8 || snap_rd64(img, SNAP_OFF_ISSUERS) != SNAP_HEADER_SIZE ||
        snap_rd64(img, SNAP_OFF_PARTS) < snap_issuer(img, n_issuers) ||
        off_slots < snap_part(img, n_parts) || off_arena < off_slots + 8 * n_slots ||
        off_blob < off_arena + snap_rd64(img, SNAP_OFF_ARENA_LEN) || off_blob > len ||
        blob_len > len - off_blob)
        return 0;
    uint64_t next_part = 0;
    for (uint64_t i = 0; i < n_issuers; i++) {
        size_t is = snap_issuer(img, i);
        uint64_t name_off = snap_rd64(img, is + SNAP_IS_NAME_OFF);
        uint64_t spki_off = snap_rd64(img, is + SNAP_IS_SPKI_OFF);
        uint32_t name_len = snap_rd32(img, is + SNAP_IS_NAME_LEN);
        uint32_t spki_len = snap_rd32(img, is + SNAP_IS_SPKI_LEN);
        if (name_len == 0 || spki_len == 0 || name_len > blob_len || spki_len > blob_len ||
            name_off > blob_len - name_len ||
            spki_off > blob_len - spki_len || img[off_blob + name_off] != 0x30 ||
            snap_rd32(img, is + SNAP_IS_HAS_CRL) > 1 ||
            snap_rd32(img, is + SNAP_IS_PART_FIRST) != next_part)
            return 0;
        next_part += snap_rd32(img, is + SNAP_IS_PART_COUNT);
    }
    return next_part == n_parts;
}

#endif /* FM_SNAPSHOT_IMAGE_H */
