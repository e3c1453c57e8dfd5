/* fuzz_common.h - shared by the libFuzzer targets in csrc/fuzz/.
 *
 * Every target is a LLVMFuzzerTestOneInput built with
 *   clang -fsanitize=fuzzer,address,undefined -g -O1 -Icsrc -Icsrc/include \
 *         csrc/fm_*.c csrc/fuzz/<target>.c -lcrypto -lpthread
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

#endif /* FM_FUZZ_COMMON_H */
