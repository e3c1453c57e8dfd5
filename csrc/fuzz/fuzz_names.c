/* fuzz_names.c - names: fm_san_validate, fm_nc_validate, fm_nc_check and fm_name_match on parsed
 * certificates.
 *
 * Input format:
 *   byte 0     expected-name kind (value % 6: FM_NAME_NONE, DNS, IP, EMAIL, URI, and 5, invalid)
 *   byte 1     L, the length of the expected name
 *   L bytes    the expected name
 *   the rest   one certificate, or two concatenated (a CA with nameConstraints, then a subject)
 * Inputs shorter than 2 bytes are a certificate alone.
 * Each parsed certificate is checked against itself, against the other one, and against the fixed
 * root_rsa (which has DNS, IP and e-mail name constraints). */
#include "fm_names.h"
#include "fuzz_common.h"

static fm_cert g_nc_root;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    FUZZ_CHECK_OK(fm_cert_parse(&g_nc_root, fuzz_root_rsa, sizeof fuzz_root_rsa));
    FUZZ_ASSERT(g_nc_root.ext_flags & FM_X_NC);
    FUZZ_CHECK_OK(fm_nc_validate(&g_nc_root));
    return 0;
}

static void nc(const fm_cert *ca, const fm_cert *sub) {
    int rc = fm_nc_check(ca, sub, FM_NC_CN_NO_DNS_SAN, FM_DEFAULT_MAX_NC_CHECKS, NULL);
    fuzz_status_ok(rc);
    if (!(ca->ext_flags & FM_X_NC))
        FUZZ_ASSERT(rc == FM_OK);
    /* the no-SAN rule checks the CN in fewer cases, never in more: what the default (OpenSSL's
     * rule) passes, so does it */
    int lenient = fm_nc_check(ca, sub, FM_NC_CN_NO_SAN, FM_DEFAULT_MAX_NC_CHECKS, NULL);
    fuzz_status_ok(lenient);
    if (rc == FM_OK)
        FUZZ_ASSERT(lenient == FM_OK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint32_t kind = 0;
    const uint8_t *name = NULL, *rest = data;
    size_t name_len = 0, rest_len = size;
    if (size >= 2) {
        kind = data[0] % 6u;
        name_len = data[1];
        if (name_len > size - 2)
            name_len = size - 2;
        name = data + 2;
        rest = data + 2 + name_len;
        rest_len = size - 2 - name_len;
    }
    size_t offs[2], lens[2], n = 0;
    if (fm_chain_split(rest, rest_len, offs, lens, 2, &n) != FM_OK || n == 0)
        offs[0] = 0, lens[0] = rest_len, n = 1;

    fm_cert certs[2];
    int ok[2] = {0, 0};
    for (size_t i = 0; i < n; i++) {
        int rc = fm_cert_parse(&certs[i], rest + offs[i], lens[i]);
        fuzz_status_ok(rc);
        ok[i] = rc == FM_OK;
    }
    for (size_t i = 0; i < n; i++) {
        if (!ok[i])
            continue;
        const fm_cert *c = &certs[i];
        int rc = fm_san_validate(c);
        FUZZ_ASSERT(rc == FM_OK || rc == FM_ERR_INVALID_EXTENSION);
        if (!(c->ext_flags & FM_X_SAN))
            FUZZ_ASSERT(rc == FM_OK);
        rc = fm_nc_validate(c);
        fuzz_status_ok(rc);
        if (!(c->ext_flags & FM_X_NC))
            FUZZ_ASSERT(rc == FM_OK);
        nc(c, c);
        nc(&g_nc_root, c);
        rc = fm_name_match(c, kind, name, name_len);
        fuzz_status_ok(rc);
        if (kind == FM_NAME_NONE || kind > FM_NAME_URI)
            FUZZ_ASSERT(rc == FM_ERR_INVALID_ARGUMENT);
        /* the same name against every kind */
        for (uint32_t k = FM_NAME_DNS; k <= FM_NAME_URI; k++)
            fuzz_status_ok(fm_name_match(c, k, name, name_len));
    }
    if (n == 2 && ok[0] && ok[1]) {
        nc(&certs[0], &certs[1]);
        nc(&certs[1], &certs[0]);
    }
    return 0;
}
