/* fuzz_common.h - shared by the libFuzzer targets in csrc/fuzz/.
 *
 * Every target is a LLVMFuzzerTestOneInput built with
 *   clang -fsanitize=fuzzer,address,undefined -g -O1 -Icsrc -Icsrc/include \
 *         csrc/fm_*.c csrc/fuzz/<target>.c -lssl -lcrypto -ldl -lpthread
 * (tools/fuzz.sh does it), or without -fsanitize=fuzzer plus replay_main.c to replay files
 * (tests/test_fuzz_regressions.py does it). Targets must be deterministic: no state may survive
 * from one input to the next except what LLVMFuzzerInitialize builds once. */
#ifndef FM_FUZZ_COMMON_H
#define FM_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastmtls.h"
#include "fixed_ca.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The fixed anchors (see gen_fixed_ca.py). Index 0..2 are roots, 3 is an intermediate. */
typedef struct fuzz_ca {
    const char *name;
    const uint8_t *der;
    size_t len;
} fuzz_ca;

static const fuzz_ca FUZZ_CAS[] = {
    {"root_p256", fuzz_root_p256, sizeof fuzz_root_p256},
    {"root_rsa", fuzz_root_rsa, sizeof fuzz_root_rsa},
    {"root_ed25519", fuzz_root_ed25519, sizeof fuzz_root_ed25519},
    {"inter_p384", fuzz_inter_p384, sizeof fuzz_inter_p384},
};
#define FUZZ_N_CAS (sizeof FUZZ_CAS / sizeof FUZZ_CAS[0])
#define FUZZ_N_ROOTS 3u

/* A property that must hold broke: abort so libFuzzer (and the replay) records a crash. */
#define FUZZ_ASSERT(cond)                                                                         \
    do {                                                                                          \
        if (!(cond)) {                                                                            \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);         \
            abort();                                                                              \
        }                                                                                         \
    } while (0)

/* Setup that must not fail (fixed inputs): abort with the status otherwise. */
#define FUZZ_CHECK_OK(expr)                                                                       \
    do {                                                                                          \
        int rc_ = (expr);                                                                         \
        if (rc_ != FM_OK) {                                                                       \
            fprintf(stderr, "%s:%d: %s = %d (%s)\n", __FILE__, __LINE__, #expr, rc_,              \
                    fm_status_message(rc_));                                                      \
            abort();                                                                              \
        }                                                                                         \
    } while (0)

/* Subject Name and SPKI of a fixed CA (offsets from fm_cert_info_get). */
static inline void fuzz_ca_ids(const fuzz_ca *ca, const uint8_t **name, size_t *name_len,
                               const uint8_t **spki, size_t *spki_len) {
    fm_cert_info info;
    FUZZ_CHECK_OK(fm_cert_info_get(ca->der, ca->len, &info));
    *name = ca->der + info.subject_off, *name_len = info.subject_len;
    *spki = ca->der + info.spki_off, *spki_len = info.spki_len;
}

/* Every status a public function returns must be one the library knows. */
static inline void fuzz_status_ok(int status) {
    FUZZ_ASSERT(fm_status_name(status) != NULL);
}

/* The store of fuzz_verify and fuzz_hook: the three fixed roots in groups 1..3,
 * "api.example.com" trusting root_p256 only, "*.example.org" root_rsa and root_ed25519. */
static inline fm_store *fuzz_fixed_store(void) {
    fm_store *store = NULL;
    FUZZ_CHECK_OK(fm_store_new(&store));
    for (uint32_t i = 0; i < FUZZ_N_ROOTS; i++)
        FUZZ_CHECK_OK(fm_store_add_anchor(store, FUZZ_CAS[i].der, FUZZ_CAS[i].len, i + 1));
    static const uint32_t g1[] = {1}, g23[] = {2, 3};
    FUZZ_CHECK_OK(fm_store_associate(store, (const uint8_t *)"api.example.com", 15, g1, 1));
    FUZZ_CHECK_OK(fm_store_associate(store, (const uint8_t *)"*.example.org", 13, g23, 2));
    return store;
}

/* The fixed revocation set: serials 0x0BAD and 0x0BAD01 revoked under each fixed CA
 * (make_corpus.py issues leaves with those serials). */
static inline fm_revset *fuzz_fixed_revset(void) {
    fm_revbuild *b = NULL;
    fm_revset *revs = NULL;
    FUZZ_CHECK_OK(fm_revbuild_new(&b));
    static const uint8_t s1[] = {0x0B, 0xAD}, s2[] = {0x0B, 0xAD, 0x01};
    for (size_t i = 0; i < FUZZ_N_CAS; i++) {
        FUZZ_CHECK_OK(fm_revbuild_add_entry(b, FUZZ_CAS[i].der, FUZZ_CAS[i].len, s1, sizeof s1, 1,
                                            FUZZ_FIXED_TIME - 86400));
        FUZZ_CHECK_OK(fm_revbuild_add_entry(b, FUZZ_CAS[i].der, FUZZ_CAS[i].len, s2, sizeof s2, 4,
                                            FUZZ_FIXED_TIME - 3600));
    }
    FUZZ_CHECK_OK(fm_revbuild_finish(b, &revs));
    return revs;
}

/* Properties of every verification result over the fixed store (one operator intermediate,
 * inter_p384, at most), for a presented chain of `chain_len` bytes verified at a time in
 * [at_lo, at_hi]. */
static inline void fuzz_check_result(const fm_result *r, size_t chain_len, int64_t at_lo,
                                     int64_t at_hi) {
    fuzz_status_ok(r->status);
    /* a bad chain is a verification result, never an API error */
    FUZZ_ASSERT(r->status < 100 || r->status == FM_ERR_NOMEM);
    FUZZ_ASSERT(r->chain_len <= FM_MAX_DEPTH_LIMIT + 2);
    if (chain_len == 0)
        FUZZ_ASSERT(r->status == FM_ERR_NO_CERTIFICATE);
    if (r->status == FM_OK || r->status == FM_ERR_CERT_REVOKED) {
        FUZZ_ASSERT(r->chain_len >= 1 && r->n_presented >= 1);
        FUZZ_ASSERT(r->chain_src[0] == FM_SRC_PRESENTED && r->chain_idx[0] == 0);
        FUZZ_ASSERT(r->chain_src[r->chain_len - 1] == FM_SRC_ANCHOR);
        for (uint32_t i = 0; i < r->chain_len; i++) {
            if (r->chain_src[i] == FM_SRC_PRESENTED)
                FUZZ_ASSERT(r->chain_idx[i] < r->n_presented);
            else if (r->chain_src[i] == FM_SRC_INTERMEDIATE)
                FUZZ_ASSERT(r->chain_idx[i] < 1);
            else
                FUZZ_ASSERT(r->chain_src[i] == FM_SRC_ANCHOR && r->chain_idx[i] < FUZZ_N_ROOTS &&
                            i == r->chain_len - 1);
        }
        FUZZ_ASSERT(r->not_before <= at_hi && at_lo <= r->not_after);
        FUZZ_ASSERT(r->anchor_group >= 1 && r->anchor_group <= FUZZ_N_ROOTS);
    }
}

#endif /* FM_FUZZ_COMMON_H */
