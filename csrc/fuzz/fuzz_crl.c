/* fuzz_crl.c - CRLs: fm_crl_parse, entry iteration, fm_crl_check against each fixed CA, and a
 * revocation set built from them (fm_revbuild_add_crl + fm_revbuild_finish) that is then queried.
 *
 * Input: one CRL, or several concatenated DER CRLs (base + deltas: up to 4 are used); when the
 * bytes do not split into DER SEQUENCEs the whole input is one CRL. make_corpus.py signs its seed
 * CRLs with the fixed CAs' keys, so mutations get past the signature into the set builder. */
#include "fm_crl.h"
#include "fm_revset.h"
#include "fuzz_common.h"

#define MAX_CRLS 4
#define MAX_SERIALS 16

typedef struct serial_ref {
    fm_span serial;
    uint32_t reason;
} serial_ref;

static const uint8_t *g_ca_name[FUZZ_N_CAS], *g_ca_spki[FUZZ_N_CAS];
static size_t g_ca_name_len[FUZZ_N_CAS], g_ca_spki_len[FUZZ_N_CAS];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    for (size_t i = 0; i < FUZZ_N_CAS; i++)
        fuzz_ca_ids(&FUZZ_CAS[i], &g_ca_name[i], &g_ca_name_len[i], &g_ca_spki[i],
                    &g_ca_spki_len[i]);
    return 0;
}

static int off_in(size_t off, size_t n, size_t len) { return off <= len && n <= len - off; }

static void query(const fm_revset *s, const serial_ref *serials, size_t n_serials) {
    FUZZ_ASSERT(s != NULL);
    (void)fm_revset_count(s);
    (void)fm_revset_memory(s);
    (void)fm_revset_generation(s);
    size_t n_iss = fm_revset_issuer_count(s);
    FUZZ_ASSERT(n_iss <= FUZZ_N_CAS);
    for (size_t i = 0; i < n_iss; i++) {
        fm_revset_issuer is;
        FUZZ_CHECK_OK(fm_revset_issuer_get(s, i, &is));
        FUZZ_ASSERT(fm_revset_find_issuer(s, (fm_span){is.name, is.name_len},
                                          (fm_span){is.spki, is.spki_len}) == (int)i);
        fm_window nu;
        (void)fm_revset_issuer_state(s, (int)i, 0, &nu);
        (void)fm_revset_issuer_state(s, (int)i, 1, &nu);
    }
    fm_revset_issuer dummy;
    FUZZ_ASSERT(fm_revset_issuer_get(s, n_iss, &dummy) == FM_ERR_INVALID_ARGUMENT);
    static const uint8_t fixed[][3] = {{0x01}, {0x0B, 0xAD}, {0x00, 0x80}};
    static const size_t fixed_len[] = {1, 2, 2};
    for (size_t c = 0; c < FUZZ_N_CAS; c++) {
        fm_revocation rv;
        for (size_t k = 0; k < n_serials; k++)
            (void)fm_revset_lookup(s, g_ca_name[c], g_ca_name_len[c], g_ca_spki[c],
                                   g_ca_spki_len[c], serials[k].serial.p, serials[k].serial.len,
                                   &rv);
        for (size_t k = 0; k < 3; k++)
            (void)fm_revset_lookup(s, g_ca_name[c], g_ca_name_len[c], g_ca_spki[c],
                                   g_ca_spki_len[c], fixed[k], fixed_len[k], NULL);
        int idx = fm_revset_find_issuer(s, (fm_span){g_ca_name[c], g_ca_name_len[c]},
                                        (fm_span){g_ca_spki[c], g_ca_spki_len[c]});
        if (idx >= 0)
            for (size_t k = 0; k < n_serials; k++) {
                (void)fm_revset_check(s, idx, serials[k].serial, 0, &rv);
                (void)fm_revset_check(s, idx, serials[k].serial, 1, NULL);
            }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t offs[MAX_CRLS], lens[MAX_CRLS], n = 0;
    if (fm_chain_split(data, size, offs, lens, MAX_CRLS, &n) != FM_OK || n == 0) {
        offs[0] = 0, lens[0] = size, n = 1;
    }
    serial_ref serials[MAX_SERIALS];
    size_t n_serials = 0;
    int ok_ca[MAX_CRLS];
    int any_special = 0;

    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = data + offs[i];
        size_t len = lens[i];
        fm_crl_info info;
        int rc = fm_crl_parse(p, len, &info);
        fuzz_status_ok(rc);
        ok_ca[i] = -1;
        if (rc != FM_OK)
            continue;
        FUZZ_ASSERT(off_in(info.issuer_off, info.issuer_len, len));
        FUZZ_ASSERT(off_in(info.number_off, info.number_len, len));
        FUZZ_ASSERT(off_in(info.base_off, info.base_len, len));
        FUZZ_ASSERT(off_in(info.aki_off, info.aki_len, len));

        fm_crl c;
        FUZZ_CHECK_OK(fm_crl_parse_full(&c, p, len)); /* agrees with fm_crl_parse */
        FUZZ_ASSERT(c.n_entries == info.n_entries);
        if (c.flags & ~(uint32_t)FM_CRL_HAS_NUMBER)
            any_special = 1;
        fm_crl_iter it;
        fm_crl_entry e;
        uint64_t count = 0;
        int irc;
        fm_crl_iter_init(&it, &c);
        while ((irc = fm_crl_iter_next(&it, &e)) == 1) {
            count++;
            if (e.reason == FM_REASON_REMOVE_FROM_CRL)
                any_special = 1;
            if (n_serials < MAX_SERIALS)
                serials[n_serials++] = (serial_ref){e.serial, e.reason};
        }
        FUZZ_ASSERT(irc == 0 && count == c.n_entries); /* validated once, iteration cannot fail */

        for (size_t k = 0; k < FUZZ_N_CAS; k++) {
            int crc = fm_crl_check(p, len, FUZZ_CAS[k].der, FUZZ_CAS[k].len);
            fuzz_status_ok(crc);
            if (crc == FM_OK && ok_ca[i] < 0)
                ok_ca[i] = (int)k;
        }
    }

    /* the set builder: each CRL against the CA that signed it (or every CA, for coverage of the
     * refusals) */
    fm_revbuild *b = NULL;
    FUZZ_CHECK_OK(fm_revbuild_new(&b));
    size_t added = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < FUZZ_N_CAS; k++) {
            if (ok_ca[i] >= 0 && (size_t)ok_ca[i] != k)
                continue;
            fm_crl_info info;
            int rc = fm_revbuild_add_crl(b, data + offs[i], lens[i], FUZZ_CAS[k].der,
                                         FUZZ_CAS[k].len, &info);
            fuzz_status_ok(rc);
            if (ok_ca[i] >= 0)
                FUZZ_ASSERT(rc == FM_OK || rc == FM_ERR_CRL_MALFORMED || rc == FM_ERR_LIMIT);
            if (rc == FM_OK) {
                added++;
                break;
            }
        }
    }
    if (n_serials > 0 && serials[0].serial.len <= 64) /* plus an explicit entry */
        fuzz_status_ok(fm_revbuild_add_entry(b, fuzz_root_ed25519, sizeof fuzz_root_ed25519,
                                             serials[0].serial.p, serials[0].serial.len, 1,
                                             FUZZ_FIXED_TIME));
    fm_revset *s = NULL;
    int rc = fm_revbuild_finish(b, &s); /* consumes b */
    fuzz_status_ok(rc);
    if (rc == FM_OK) {
        query(s, serials, n_serials);
        /* one plain complete CRL: every listed serial is revoked for its CA */
        if (n == 1 && added == 1 && !any_special && ok_ca[0] >= 0) {
            int k = ok_ca[0];
            for (size_t j = 0; j < n_serials; j++)
                FUZZ_ASSERT(fm_revset_lookup(s, g_ca_name[k], g_ca_name_len[k], g_ca_spki[k],
                                             g_ca_spki_len[k], serials[j].serial.p,
                                             serials[j].serial.len, NULL) == 1);
        }
        fm_revset_free(s);
    } else {
        FUZZ_ASSERT(s == NULL);
    }
    return 0;
}
