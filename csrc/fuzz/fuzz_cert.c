/* fuzz_cert.c - one DER certificate: fm_cert_parse, fm_cert_info_get, and what the verifier does
 * with a parsed certificate's fields (signature AlgorithmIdentifier, Names, SPKI key decoding in
 * libcrypto, its own signature checked with its own key, adding it as a trust anchor). */
#include "fm_crypto.h"
#include "fm_x509.h"
#include "fuzz_common.h"

static int span_in(fm_span s, const uint8_t *p, size_t len) {
    return s.len == 0 || (s.p >= p && s.p <= p + len && s.len <= (size_t)(p + len - s.p));
}

static int off_in(size_t off, size_t n, size_t len) { return off <= len && n <= len - off; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fm_cert c;
    memset(&c, 0, sizeof c);
    int rc = fm_cert_parse(&c, data, size);
    fuzz_status_ok(rc);

    fm_cert_info info;
    int rc2 = fm_cert_info_get(data, size, &info);
    fuzz_status_ok(rc2);
    FUZZ_ASSERT(rc2 == rc && (rc2 != FM_OK || info.located == FM_INFO_ALL));
    /* the fields a failed parse located (unset ones are 0, 0) lie inside the input too, and a
     * located Name is one fm_name_parse accepts (the result's fields format it) */
    FUZZ_ASSERT(off_in(info.serial_off, info.serial_len, size));
    FUZZ_ASSERT(off_in(info.issuer_off, info.issuer_len, size));
    FUZZ_ASSERT(off_in(info.subject_off, info.subject_len, size));
    FUZZ_ASSERT(off_in(info.ski_off, info.ski_len, size)); /* also a rejected one's (FM_INFO_SKI) */
    FUZZ_ASSERT(rc2 == FM_OK ? !(info.located & FM_INFO_SKI)
                             : (info.located & FM_INFO_SKI) || info.ski_len == 0);
    if (info.located & FM_INFO_ISSUER)
        FUZZ_ASSERT(fm_name_parse((fm_span){data + info.issuer_off, info.issuer_len}) == FM_OK);
    if (info.located & FM_INFO_SUBJECT)
        FUZZ_ASSERT(fm_name_parse((fm_span){data + info.subject_off, info.subject_len}) == FM_OK);
    if (rc2 == FM_OK) {
        FUZZ_ASSERT(off_in(info.spki_off, info.spki_len, size));
        FUZZ_ASSERT(off_in(info.aki_off, info.aki_len, size));
        FUZZ_ASSERT(off_in(info.san_off, info.san_len, size));
    }
    if (rc != FM_OK)
        return 0;

    /* every span of a successful parse lies inside the input */
    FUZZ_ASSERT(span_in(c.der, data, size) && span_in(c.tbs, data, size));
    FUZZ_ASSERT(span_in(c.sig_alg, data, size) && span_in(c.sig, data, size));
    FUZZ_ASSERT(span_in(c.serial, data, size) && span_in(c.issuer, data, size));
    FUZZ_ASSERT(span_in(c.subject, data, size) && span_in(c.spki, data, size));
    FUZZ_ASSERT(span_in(c.spki_key, data, size) && span_in(c.ski, data, size));
    FUZZ_ASSERT(span_in(c.aki_keyid, data, size) && span_in(c.san, data, size));
    FUZZ_ASSERT(span_in(c.nc_permitted, data, size) && span_in(c.nc_excluded, data, size));
    FUZZ_ASSERT(span_in(c.crldp, data, size));
    /* the distribution points fm_cert_parse accepted read back without error, inside the input */
    fm_der dr;
    fm_dist_point dp;
    int drc;
    fm_der_init_span(&dr, c.crldp);
    while ((drc = fm_crldp_next(&dr, &dp)) == 1)
        FUZZ_ASSERT(span_in(dp.names, data, size) && span_in(dp.crl_issuer, data, size));
    FUZZ_ASSERT(drc == 0);

    int alg = 0;
    fm_pss pss;
    memset(&pss, 0, sizeof pss);
    fuzz_status_ok(fm_sig_alg_parse(c.sig_alg, &alg, &pss));
    fuzz_status_ok(fm_name_parse(c.subject));
    fuzz_status_ok(fm_name_parse(c.issuer));
    int kt = 0;
    uint32_t bits = 0;
    fm_span key;
    fuzz_status_ok(fm_spki_parse(c.spki.p, c.spki.len, &kt, &bits, &key));

    /* libcrypto key decoding from the SPKI, then the certificate's own signature under its own
     * key (a self-signed certificate verifies; anything else must fail cleanly) */
    fm_key *k = NULL;
    int krc = fm_key_new(c.spki.p, c.spki.len, &k);
    fuzz_status_ok(krc);
    if (krc == FM_OK && k != NULL) {
        (void)fm_key_type(k);
        fuzz_status_ok(fm_sig_verify(k, c.sig_alg_id, &c.pss, c.tbs.p, c.tbs.len, c.sig.p,
                                     c.sig.len));
        fm_key_free(k);
    }

    /* the trust-anchor path: a private copy, parsed again, CA checks, key */
    fm_store *s = NULL;
    FUZZ_CHECK_OK(fm_store_new(&s));
    fuzz_status_ok(fm_store_add_anchor(s, data, size, 7));
    fm_store_free(s);
    return 0;
}
