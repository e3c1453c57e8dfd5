/* fuzz_verify.c - fm_verify on a hostile presented chain against a fixed store.
 *
 * Input format (make_corpus.py writes seeds in it; tests/test_fuzz_regressions.py decodes it):
 *   byte 0       control
 *                  bits 0-1  host: 0 none, 1 "api.example.com" (root_p256 only),
 *                            2 "x.example.org" (matches "*.example.org": root_rsa, root_ed25519),
 *                            3 the expected-name bytes below, used as the host too
 *                  bits 2-4  expected name kind (value % 5: FM_NAME_NONE, DNS, IP, EMAIL, URI)
 *                  bit 5     consult the fixed revocation set
 *                  bit 6     the strict verifier (purpose client, EKU required, the web PKI
 *                            profile, revocation of the whole chain, missing CRL denied,
 *                            revoked = failed, small budgets)
 *                            instead of the default one
 *                  bit 7     also verify with a caching verifier, twice (cold, then cached), and
 *                            with one that caches signatures and parsed intermediates but no
 *                            results and keeps them from input to input (an intermediate a valid
 *                            path left parsed meets the mutated chains after it): every answer
 *                            must equal the uncached default verifier's
 *   byte 1       L, the length of the expected name
 *   L bytes      the expected name (IP: 4 or 16 raw bytes)
 *   the rest     the presented chain: concatenated DER certificates, leaf first
 * Inputs shorter than 2 bytes are the chain alone (control 0).
 *
 * The store (built once) holds root_p256 (group 1), root_rsa with name constraints (group 2),
 * root_ed25519 with pathLen 1 (group 3); the verifiers know inter_p384 as an operator
 * intermediate. Time is fixed (FUZZ_FIXED_TIME). The revocation set revokes serial 0x0BAD and
 * 0x0BAD01 under each fixed CA (make_corpus.py issues leaves with those serials). */
#include "fuzz_common.h"

static fm_store *g_store;
static fm_verifier *g_plain, *g_strict, *g_cached, *g_parsed;
static fm_revset *g_revs;

static void new_verifier(fm_verifier **out, const fm_options *o) {
    FUZZ_CHECK_OK(fm_verifier_new(o, out));
    FUZZ_CHECK_OK(fm_verifier_add_intermediate(*out, fuzz_inter_p384, sizeof fuzz_inter_p384));
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    g_store = fuzz_fixed_store();

    fm_options o;
    fm_options_default(&o);
    o.result_cache_size = 0, o.sig_cache_size = 0;
    new_verifier(&g_plain, &o);

    fm_options c = o;
    c.result_cache_size = 64, c.sig_cache_size = 64;
    new_verifier(&g_cached, &c);
    fm_options pc = o;
    pc.sig_cache_size = 64; /* and the parsed intermediates: never cleared */
    new_verifier(&g_parsed, &pc);

    fm_options s = o;
    s.purpose = FM_PURPOSE_CLIENT;
    s.flags = FM_OPT_REQUIRE_EKU | FM_OPT_WEBPKI | FM_OPT_REV_CHAIN | FM_OPT_REV_DENY_MISSING |
              FM_OPT_REV_DENY_EXPIRED | FM_OPT_REV_STRICT;
    s.limits.max_depth = 3, s.limits.max_sig_checks = 6, s.limits.max_steps = 40;
    s.limits.max_chain_certs = 8, s.limits.max_cert_size = 8192, s.limits.max_input_size = 32768;
    s.min_rsa_bits = 3072;
    new_verifier(&g_strict, &s);

    g_revs = fuzz_fixed_revset();
    return 0;
}

static void check_result(const fm_result *r, size_t chain_len, int64_t at) {
    fuzz_check_result(r, chain_len, at, at);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t ctl = 0;
    const uint8_t *name = NULL, *chain = data;
    size_t name_len = 0, chain_len = size;
    if (size >= 2) {
        ctl = data[0];
        name_len = data[1];
        if (name_len > size - 2)
            name_len = size - 2;
        name = data + 2;
        chain = data + 2 + name_len;
        chain_len = size - 2 - name_len;
    }
    static const char *const hosts[] = {NULL, "api.example.com", "x.example.org"};
    const uint8_t *host = NULL;
    size_t host_len = 0;
    if ((ctl & 3u) == 3u)
        host = name, host_len = name_len;
    else if (hosts[ctl & 3u] != NULL)
        host = (const uint8_t *)hosts[ctl & 3u], host_len = strlen(hosts[ctl & 3u]);
    uint32_t kind = ((ctl >> 2) & 7u) % 5u;
    const fm_revset *revs = (ctl & 0x20u) ? g_revs : NULL;
    fm_verifier *v = (ctl & 0x40u) ? g_strict : g_plain;

    fm_result r;
    memset(&r, 0xA5, sizeof r);
    int rc = fm_verify(v, g_store, revs, chain, chain_len, host, host_len, FUZZ_FIXED_TIME, kind,
                       name, name_len, &r);
    FUZZ_ASSERT(rc == r.status);
    check_result(&r, chain_len, FUZZ_FIXED_TIME);
    if (r.status == FM_OK && (ctl & 3u) == 1u) /* api.example.com trusts root_p256 only */
        FUZZ_ASSERT(r.anchor_group == 1);
    if (r.status == FM_OK && (ctl & 3u) == 2u)
        FUZZ_ASSERT(r.anchor_group == 2 || r.anchor_group == 3);
    if (v == g_strict && r.status == FM_OK)
        FUZZ_ASSERT(r.chain_len <= 3 + 2 && r.sig_checks <= 6);

    if (ctl & 0x80u) {
        /* the caches must never change an answer (same options as g_plain) */
        fm_result plain, a, b;
        if (v == g_plain)
            plain = r;
        else
            fm_verify(g_plain, g_store, revs, chain, chain_len, host, host_len, FUZZ_FIXED_TIME,
                      kind, name, name_len, &plain);
        fm_verify(g_cached, g_store, revs, chain, chain_len, host, host_len, FUZZ_FIXED_TIME,
                  kind, name, name_len, &a);
        fm_verify(g_cached, g_store, revs, chain, chain_len, host, host_len, FUZZ_FIXED_TIME,
                  kind, name, name_len, &b);
        check_result(&a, chain_len, FUZZ_FIXED_TIME);
        check_result(&b, chain_len, FUZZ_FIXED_TIME);
        FUZZ_ASSERT(a.status == plain.status && b.status == plain.status);
        FUZZ_ASSERT(a.chain_len == plain.chain_len && b.chain_len == plain.chain_len);
        FUZZ_ASSERT((a.flags & FM_RESULT_REVOKED) == (plain.flags & FM_RESULT_REVOKED));
        FUZZ_ASSERT((b.flags & FM_RESULT_REVOKED) == (plain.flags & FM_RESULT_REVOKED));
        fm_result p;
        for (int k = 0; k < 2; k++) { /* the second reuses what a valid first one left parsed */
            fm_verify(g_parsed, g_store, revs, chain, chain_len, host, host_len, FUZZ_FIXED_TIME,
                      kind, name, name_len, &p);
            check_result(&p, chain_len, FUZZ_FIXED_TIME);
            if (p.status == FM_ERR_BUDGET_EXCEEDED || plain.status == FM_ERR_BUDGET_EXCEEDED)
                continue; /* signatures cached from earlier inputs spend less of the budget */
            FUZZ_ASSERT(p.status == plain.status && p.depth == plain.depth &&
                        p.chain_len == plain.chain_len && p.anchor_group == plain.anchor_group);
            FUZZ_ASSERT((p.flags & FM_RESULT_REVOKED) == (plain.flags & FM_RESULT_REVOKED));
            FUZZ_ASSERT(memcmp(p.chain_src, plain.chain_src, p.chain_len) == 0 &&
                        memcmp(p.chain_idx, plain.chain_idx,
                               p.chain_len * sizeof p.chain_idx[0]) == 0);
        }
        /* a different time must not be answered from the cache entry made at FUZZ_FIXED_TIME:
         * 40 years later every fixed anchor has expired */
        fm_result late;
        fm_verify(g_cached, g_store, revs, chain, chain_len, host, host_len,
                  FUZZ_FIXED_TIME + 40ll * 365 * 86400, kind, name, name_len, &late);
        check_result(&late, chain_len, FUZZ_FIXED_TIME + 40ll * 365 * 86400);
        FUZZ_ASSERT(late.status != FM_OK);
        fm_verifier_clear_caches(g_cached);
    }
    return 0;
}
