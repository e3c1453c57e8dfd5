/* fuzz_chain_split.c - fm_chain_split on arbitrary bytes, with a capacity taken from the first
 * byte and with a large one; checks the pieces tile the input exactly when it reports FM_OK. */
#include "fuzz_common.h"

static void check(const uint8_t *data, size_t size, size_t cap) {
    size_t *offs = malloc((cap ? cap : 1) * sizeof *offs);
    size_t *lens = malloc((cap ? cap : 1) * sizeof *lens);
    FUZZ_ASSERT(offs != NULL && lens != NULL);
    size_t n = 12345;
    int rc = fm_chain_split(data, size, offs, lens, cap, &n);
    FUZZ_ASSERT(rc == FM_OK || rc == FM_ERR_MALFORMED_CERT || rc == FM_ERR_LIMIT ||
                rc == FM_ERR_INVALID_ARGUMENT);
    FUZZ_ASSERT(n <= cap);
    if (rc == FM_OK) {
        size_t at = 0;
        for (size_t i = 0; i < n; i++) {
            FUZZ_ASSERT(offs[i] == at);
            FUZZ_ASSERT(lens[i] >= 2 && lens[i] <= size - at);
            FUZZ_ASSERT(data[offs[i]] == 0x30);
            at += lens[i];
        }
        FUZZ_ASSERT(at == size);
        FUZZ_ASSERT(size == 0 || n > 0);
    }
    free(offs);
    free(lens);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    check(data, size, 64);
    if (size > 0)
        check(data, size, data[0] % 5u);
    check(data, size, size / 2 + 1);
    return 0;
}
