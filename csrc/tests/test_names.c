/* test_names.c - standalone tests of fm_names.c (name constraints, SAN syntax, expected names)
 * and of the DER primitives of fm_der.c it reads them with (a table of accepted and rejected
 * contents, boundaries on both sides).
 * Vectors: names_vectors.h, written by gen_names_vectors.py. Exits 1 on any failure.
 *   gcc -std=c11 -Wall -Wextra -Werror -pedantic -O1 -g -fsanitize=address,undefined -I csrc \
 *       csrc/fm_der.c csrc/fm_names.c csrc/tests/test_names.c -o /tmp/test_names
 *   /tmp/test_names */
#include "fm_names.h"
#include "names_vectors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures, checks;

/* Status names from the X-macro (fm_status.c is not linked into this test). */
static const char *st(int status) {
#define FM_X_NAME(name, value, msg) if (status == (value)) return #name;
    FM_STATUS_LIST(FM_X_NAME)
#undef FM_X_NAME
    return "unknown status";
}

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        checks++;                                                                                  \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                            \
            printf(__VA_ARGS__);                                                                   \
            printf("\n");                                                                          \
        }                                                                                          \
    } while (0)

/* Exact-size heap copy, so that AddressSanitizer catches any read past the end of an input. */
static fm_span heap(const uint8_t *p, size_t n) {
    uint8_t *b = malloc(n ? n : 1);
    if (!b)
        abort();
    if (n)
        memcpy(b, p, n);
    fm_span s = {b, n};
    return s;
}

static void release(fm_cert *c) {
    free((void *)c->subject.p);
    free((void *)c->san.p);
    free((void *)c->nc_permitted.p);
    free((void *)c->nc_excluded.p);
}

static void make_ca(fm_cert *ca, const uint8_t *perm, size_t pl, const uint8_t *excl, size_t el) {
    memset(ca, 0, sizeof *ca);
    ca->ext_flags = FM_X_NC;
    ca->is_ca = 1;
    ca->nc_permitted = heap(perm, pl);
    ca->nc_excluded = heap(excl, el);
}

static void make_sub(fm_cert *c, const uint8_t *subj, size_t sl, const uint8_t *san, size_t sanl) {
    memset(c, 0, sizeof *c);
    c->subject = heap(subj, sl);
    c->san = heap(san, sanl);
    if (san)
        c->ext_flags |= FM_X_SAN;
}

static void test_nc_vectors(void) {
    for (size_t i = 0; i < sizeof NC_VECS / sizeof NC_VECS[0]; i++) {
        const struct nc_vec *v = &NC_VECS[i];
        fm_cert ca, sub;
        make_ca(&ca, v->perm, v->perm_len, v->excl, v->excl_len);
        make_sub(&sub, v->subj, v->subj_len, v->san, v->san_len);
        int rc = fm_nc_check(&ca, &sub, FM_NC_CN_NO_SAN, FM_DEFAULT_MAX_NC_CHECKS, NULL);
        CHECK(rc == v->expect, "nc '%s': got %s, want %s", v->desc, st(rc),
              st(v->expect));
        int rc2 = fm_nc_check(&ca, &sub, FM_NC_CN_NO_DNS_SAN, FM_DEFAULT_MAX_NC_CHECKS, NULL);
        CHECK(rc2 == v->expect_no_dns_san, "nc '%s' (no-dns-san rule): got %s, want %s", v->desc,
              st(rc2), st(v->expect_no_dns_san));
        int val = fm_nc_validate(&ca); /* a constraint syntax error is what the check reports */
        CHECK(val == FM_OK || val == rc, "nc '%s': validate %s, check %s", v->desc,
              st(val), st(rc));
        /* the specific code comes from fm_nc_validate itself (callers pass it through);
         * unsupported constraint forms are an error only against a name of that form */
        if (v->expect == FM_ERR_SUBTREE_MINMAX)
            CHECK(val == FM_ERR_SUBTREE_MINMAX, "nc '%s': validate %s", v->desc, st(val));
        if (v->expect == FM_ERR_UNSUPPORTED_CONSTRAINT_TYPE)
            CHECK(val == FM_OK, "nc '%s': validate %s", v->desc, st(val));
        release(&ca);
        release(&sub);
    }
}

static void test_san_vectors(void) {
    for (size_t i = 0; i < sizeof SAN_VECS / sizeof SAN_VECS[0]; i++) {
        const struct san_vec *v = &SAN_VECS[i];
        fm_cert c;
        make_sub(&c, NULL, 0, v->san, v->san_len);
        int rc = fm_san_validate(&c);
        CHECK(rc == v->expect, "san '%s': got %s, want %s", v->desc, st(rc),
              st(v->expect));
        release(&c);
    }
}

static void test_match_vectors(void) {
    for (size_t i = 0; i < sizeof MATCH_VECS / sizeof MATCH_VECS[0]; i++) {
        const struct match_vec *v = &MATCH_VECS[i];
        fm_cert c;
        make_sub(&c, NULL, 0, v->san, v->san_len);
        fm_span ref = heap(v->ref, v->ref_len);
        int rc = fm_name_match(&c, v->kind, ref.p, ref.len);
        CHECK(rc == v->expect, "match '%s': got %s, want %s", v->desc, st(rc),
              st(v->expect));
        free((void *)ref.p);
        release(&c);
    }
}

static void test_arguments(void) {
    static const uint8_t san[] = {0x30, 0x0D, 0x82, 0x0B, 'e', 'x', 'a', 'm',
                                  'p',  'l',  'e',  '.',  'c', 'o', 'm'};
    static const uint8_t bad_list[] = {0x30, 0x05};
    fm_cert ca, sub;
    make_sub(&sub, NULL, 0, san, sizeof san);
    memset(&ca, 0, sizeof ca);
    CHECK(fm_nc_check(&ca, &sub, FM_NC_CN_NO_DNS_SAN, FM_DEFAULT_MAX_NC_CHECKS, NULL) == FM_OK, "no nameConstraints: nothing to check");
    CHECK(fm_nc_validate(&ca) == FM_OK, "no nameConstraints: valid");
    ca.nc_permitted.p = bad_list; /* ignored without FM_X_NC */
    ca.nc_permitted.len = sizeof bad_list;
    CHECK(fm_nc_check(&ca, &sub, FM_NC_CN_NO_DNS_SAN, FM_DEFAULT_MAX_NC_CHECKS, NULL) == FM_OK, "spans without FM_X_NC are ignored");
    CHECK(fm_nc_check(NULL, &sub, FM_NC_CN_NO_DNS_SAN, FM_DEFAULT_MAX_NC_CHECKS, NULL) == FM_ERR_INVALID_ARGUMENT, "NULL ca");
    CHECK(fm_nc_check(&ca, NULL, FM_NC_CN_NO_DNS_SAN, FM_DEFAULT_MAX_NC_CHECKS, NULL) == FM_ERR_INVALID_ARGUMENT, "NULL sub");
    CHECK(fm_nc_validate(NULL) == FM_ERR_INVALID_ARGUMENT, "NULL validate");
    CHECK(fm_san_validate(NULL) == FM_ERR_INVALID_ARGUMENT, "NULL san");
    CHECK(fm_name_match(&sub, FM_NAME_DNS, (const uint8_t *)"example.com", 11) == FM_OK, "dns");
    const uint8_t *x = (const uint8_t *)"x";
    CHECK(fm_name_match(&sub, FM_NAME_NONE, x, 1) == FM_ERR_INVALID_ARGUMENT, "kind none");
    CHECK(fm_name_match(&sub, 9, x, 1) == FM_ERR_INVALID_ARGUMENT, "kind 9");
    CHECK(fm_name_match(&sub, FM_NAME_DNS, NULL, 11) == FM_ERR_HOSTNAME_MISMATCH, "NULL name");
    CHECK(fm_name_match(NULL, FM_NAME_IP, x, 1) == FM_ERR_IP_ADDRESS_MISMATCH, "NULL leaf");
    fm_cert none;
    memset(&none, 0, sizeof none);
    CHECK(fm_san_validate(&none) == FM_OK, "absent SAN is valid");
    none.ext_flags = FM_X_SAN;
    CHECK(fm_san_validate(&none) == FM_ERR_INVALID_EXTENSION, "flagged SAN without bytes");
    release(&sub);
}

/* Top-level TLV boundaries of a list: bit i of the answer array set when a prefix of length i
 * ends exactly after an element. Returns 0 when the list itself does not parse. */
static int boundaries(const uint8_t *p, size_t n, uint8_t *at) {
    fm_der r;
    memset(at, 0, n + 1);
    at[0] = 1;
    if (n == 0)
        return 1;
    fm_der_init(&r, p, n);
    while (!fm_der_done(&r)) {
        if (fm_der_any(&r, NULL, NULL, NULL) != 0)
            return 0;
        at[r.p - p] = 1;
    }
    return 1;
}

/* Every prefix of every input: an error, never a crash or a read past the end. */
static void test_truncation(void) {
    static uint8_t at[1 << 16];
    for (size_t i = 0; i < sizeof NC_VECS / sizeof NC_VECS[0]; i++) {
        const struct nc_vec *v = &NC_VECS[i];
        for (size_t cut = 0; cut < v->perm_len; cut++) {
            fm_cert ca, sub;
            make_ca(&ca, v->perm, cut, v->excl, v->excl_len);
            make_sub(&sub, v->subj, v->subj_len, v->san, v->san_len);
            int rc = fm_nc_validate(&ca);
            if (boundaries(v->perm, v->perm_len, at) && !at[cut])
                CHECK(rc == FM_ERR_INVALID_EXTENSION, "nc '%s' permitted cut at %zu: %s", v->desc,
                      cut, st(rc));
            (void)fm_nc_check(&ca, &sub, FM_NC_CN_NO_DNS_SAN, FM_DEFAULT_MAX_NC_CHECKS, NULL);
            release(&ca);
            release(&sub);
        }
        for (size_t cut = 0; cut < v->excl_len; cut++) {
            fm_cert ca, sub;
            make_ca(&ca, v->perm, v->perm_len, v->excl, cut);
            make_sub(&sub, v->subj, v->subj_len, v->san, v->san_len);
            int rc = fm_nc_validate(&ca);
            if (boundaries(v->excl, v->excl_len, at) && !at[cut])
                CHECK(rc == FM_ERR_INVALID_EXTENSION, "nc '%s' excluded cut at %zu: %s", v->desc,
                      cut, st(rc));
            (void)fm_nc_check(&ca, &sub, FM_NC_CN_NO_DNS_SAN, FM_DEFAULT_MAX_NC_CHECKS, NULL);
            release(&ca);
            release(&sub);
        }
        for (size_t cut = 0; cut < v->subj_len; cut++) {
            fm_cert ca, sub;
            make_ca(&ca, v->perm, v->perm_len, v->excl, v->excl_len);
            make_sub(&sub, v->subj, cut, v->san, v->san_len);
            int rc = fm_nc_check(&ca, &sub, FM_NC_CN_NO_DNS_SAN, FM_DEFAULT_MAX_NC_CHECKS, NULL);
            CHECK(cut == 0 || rc != FM_OK, "nc '%s' subject cut at %zu accepted", v->desc, cut);
            release(&ca);
            release(&sub);
        }
    }
    for (size_t i = 0; i < sizeof SAN_VECS / sizeof SAN_VECS[0]; i++) {
        const struct san_vec *v = &SAN_VECS[i];
        for (size_t cut = 0; cut < v->san_len; cut++) {
            fm_cert c;
            make_sub(&c, NULL, 0, v->san, cut);
            int rc = fm_san_validate(&c);
            int m = fm_name_match(&c, FM_NAME_DNS, (const uint8_t *)"example.com", 11);
            CHECK(v->expect != FM_OK || (rc == FM_ERR_INVALID_EXTENSION && m != FM_OK),
                  "san '%s' cut at %zu: %s, match %s", v->desc, cut, st(rc), st(m));
            release(&c);
        }
    }
}

/* Every byte of every input replaced by a few values: any status, never a crash. */
static void test_mutation(void) {
    static const uint8_t vals[] = {0x00, 0x01, 0x7F, 0x80, 0x81, 0x84, 0xFF};
    static const uint8_t ip4[] = {192, 0, 2, 1};
    for (size_t i = 0; i < sizeof NC_VECS / sizeof NC_VECS[0]; i++) {
        const struct nc_vec *v = &NC_VECS[i];
        size_t total = v->perm_len + v->excl_len + v->subj_len + v->san_len;
        for (size_t pos = 0; pos < total; pos++) {
            for (size_t k = 0; k < sizeof vals; k++) {
                fm_cert ca, sub;
                make_ca(&ca, v->perm, v->perm_len, v->excl, v->excl_len);
                make_sub(&sub, v->subj, v->subj_len, v->san, v->san_len);
                const fm_span *spans[] = {&ca.nc_permitted, &ca.nc_excluded, &sub.subject,
                                          &sub.san};
                size_t off = pos;
                for (size_t s = 0; s < 4; s++) {
                    if (off < spans[s]->len) {
                        ((uint8_t *)spans[s]->p)[off] = vals[k];
                        break;
                    }
                    off -= spans[s]->len;
                }
                (void)fm_nc_validate(&ca);
                (void)fm_nc_check(&ca, &sub, FM_NC_CN_NO_DNS_SAN, FM_DEFAULT_MAX_NC_CHECKS, NULL);
                (void)fm_san_validate(&sub);
                (void)fm_name_match(&sub, FM_NAME_DNS, (const uint8_t *)"a.example.com", 13);
                (void)fm_name_match(&sub, FM_NAME_EMAIL, (const uint8_t *)"a@example.com", 13);
                (void)fm_name_match(&sub, FM_NAME_URI, (const uint8_t *)"https://example.com/", 20);
                (void)fm_name_match(&sub, FM_NAME_IP, ip4, sizeof ip4);
                release(&ca);
                release(&sub);
            }
        }
    }
    checks++;
}

/* tag + DER length header into out; returns its size. */
static size_t der_hdr(uint8_t *out, unsigned tag, size_t len) {
    out[0] = (uint8_t)tag;
    if (len < 0x80) {
        out[1] = (uint8_t)len;
        return 2;
    }
    out[1] = 0x82;
    out[2] = (uint8_t)(len >> 8);
    out[3] = (uint8_t)len;
    return 4;
}

/* n dNSName entries "<c>NNNN.test" (as a SAN when san, else as GeneralSubtrees). */
static size_t many_names(uint8_t *out, size_t n, char c, int san) {
    uint8_t *p = out + (san ? 4 : 0);
    for (size_t i = 0; i < n; i++) {
        char name[16];
        int len = snprintf(name, sizeof name, "%c%04u.test", c, (unsigned)i);
        if (!san)
            p += der_hdr(p, FM_TAG_SEQUENCE, (size_t)len + 2);
        p += der_hdr(p, 0x82, (size_t)len);
        memcpy(p, name, (size_t)len);
        p += len;
    }
    size_t body = (size_t)(p - out) - (san ? 4 : 0);
    if (san)
        der_hdr(out, FM_TAG_SEQUENCE, body); /* body > 255: the 4-octet header fills the gap */
    return (size_t)(p - out);
}

/* OpenSSL's and pyca's 2^20 name/constraint pair budget (x509-limbo pathological::nc-dos-*). */
static void test_budget(void) {
    static uint8_t san[1100 * 12 + 4], excl[1000 * 14];
    fm_cert ca, sub;
    size_t el = many_names(excl, 1000, 'x', 0);
    size_t sl = many_names(san, 1000, 't', 1);
    make_ca(&ca, NULL, 0, excl, el);
    make_sub(&sub, NULL, 0, san, sl);
    int rc = fm_nc_check(&ca, &sub, FM_NC_CN_NO_DNS_SAN, FM_DEFAULT_MAX_NC_CHECKS, NULL);
    CHECK(rc == FM_OK, "1000 names x 1000 constraints: %s", st(rc));
    release(&sub);
    sl = many_names(san, 1100, 't', 1);
    make_sub(&sub, NULL, 0, san, sl);
    rc = fm_nc_check(&ca, &sub, FM_NC_CN_NO_DNS_SAN, FM_DEFAULT_MAX_NC_CHECKS, NULL);
    CHECK(rc == FM_ERR_BUDGET_EXCEEDED, "1100 names x 1000 constraints: %s", st(rc));
    release(&sub);
    release(&ca);
}

#define HDR(len) ((len) < 0x80 ? 2u : 4u) /* size of der_hdr's header */

/* Subject "CN=<text>" with the value under `tag` (chars of `width` octets, big-endian). */
static size_t cn_subject(uint8_t *out, unsigned tag, const char *text, size_t n, size_t width) {
    static const uint8_t oid[] = {0x06, 0x03, 0x55, 0x04, 0x03};
    size_t vlen = n * width, alen = sizeof oid + HDR(vlen) + vlen, slen = alen + HDR(alen),
           nlen = slen + HDR(slen);
    uint8_t *p = out;
    p += der_hdr(p, FM_TAG_SEQUENCE, nlen);
    p += der_hdr(p, FM_TAG_SET, slen);
    p += der_hdr(p, FM_TAG_SEQUENCE, alen);
    memcpy(p, oid, sizeof oid);
    p += sizeof oid;
    p += der_hdr(p, tag, vlen);
    for (size_t i = 0; i < n; i++) {
        memset(p, 0, width);
        p[width - 1] = (uint8_t)text[i];
        p += width;
    }
    return (size_t)(p - out);
}

/* The CN check of fm_nc_check: only end entities, wide strings of any size fail closed. */
static void test_cn(void) {
    static const uint8_t excl[] = {0x30, 0x0A, 0x82, 0x08, 'e', 'v', 'i', 'l', '.', 'c', 'o', 'm'};
    static uint8_t subj[8000];
    static char text[1200];
    fm_cert ca, sub;
    int rc;
    make_ca(&ca, NULL, 0, excl, sizeof excl);

    size_t sl = cn_subject(subj, FM_TAG_UTF8_STRING, "x.evil.com", 10, 1);
    make_sub(&sub, subj, sl, NULL, 0);
    CHECK((rc = fm_nc_check(&ca, &sub, FM_NC_CN_NO_DNS_SAN, FM_DEFAULT_MAX_NC_CHECKS, NULL)) == FM_ERR_EXCLUDED_VIOLATION, "cn leaf: %s", st(rc));
    sub.ext_flags |= FM_X_BC; /* basicConstraints cA FALSE: still an end entity */
    CHECK((rc = fm_nc_check(&ca, &sub, FM_NC_CN_NO_DNS_SAN, FM_DEFAULT_MAX_NC_CHECKS, NULL)) == FM_ERR_EXCLUDED_VIOLATION, "cn cA false: %s", st(rc));
    sub.is_ca = 1; /* an intermediate: its CN is a CA name (OpenSSL checks the EE only) */
    CHECK((rc = fm_nc_check(&ca, &sub, FM_NC_CN_NO_DNS_SAN, FM_DEFAULT_MAX_NC_CHECKS, NULL)) == FM_OK, "cn intermediate: %s", st(rc));
    release(&sub);

    /* '_' is a hostname character for the CN check, as in OpenSSL's cn2dnsid */
    static const char *const underscored[] = {"a_b.evil.com", "_svc.evil.com", "x.evil_.com"};
    for (size_t i = 0; i < sizeof underscored / sizeof underscored[0]; i++) {
        sl = cn_subject(subj, FM_TAG_UTF8_STRING, underscored[i], strlen(underscored[i]), 1);
        make_sub(&sub, subj, sl, NULL, 0);
        rc = fm_nc_check(&ca, &sub, FM_NC_CN_NO_DNS_SAN, FM_DEFAULT_MAX_NC_CHECKS, NULL);
        CHECK(rc == (i < 2 ? FM_ERR_EXCLUDED_VIOLATION : FM_OK), "cn %s: %s", underscored[i], st(rc));
        release(&sub);
    }

    /* BMPString: up to 1024 characters are converted and checked, longer ones fail closed */
    memset(text, 'a', sizeof text);
    memcpy(text + 1000 - 9, ".evil.com", 9);
    sl = cn_subject(subj, FM_TAG_BMP_STRING, text, 1000, 2);
    make_sub(&sub, subj, sl, NULL, 0);
    CHECK((rc = fm_nc_check(&ca, &sub, FM_NC_CN_NO_DNS_SAN, FM_DEFAULT_MAX_NC_CHECKS, NULL)) == FM_ERR_EXCLUDED_VIOLATION, "cn bmp 1000: %s", st(rc));
    release(&sub);
    memcpy(text + 1100 - 9, ".evil.com", 9);
    sl = cn_subject(subj, FM_TAG_UNIVERSAL_STRING, text, 1100, 4);
    make_sub(&sub, subj, sl, NULL, 0);
    CHECK((rc = fm_nc_check(&ca, &sub, FM_NC_CN_NO_DNS_SAN, FM_DEFAULT_MAX_NC_CHECKS, NULL)) == FM_ERR_UNSUPPORTED_NAME_SYNTAX, "cn wide 1100: %s",
          st(rc));
    release(&sub);
    sl = cn_subject(subj, FM_TAG_UTF8_STRING, text, 1100, 1); /* one octet a char: no limit */
    make_sub(&sub, subj, sl, NULL, 0);
    CHECK((rc = fm_nc_check(&ca, &sub, FM_NC_CN_NO_DNS_SAN, FM_DEFAULT_MAX_NC_CHECKS, NULL)) == FM_ERR_EXCLUDED_VIOLATION, "cn utf8 1100: %s", st(rc));
    release(&sub);
    release(&ca);
}

/* ---- DER primitives (fm_der.h) ------------------------------------------------------------ */

enum { DER_BOOL, DER_INTEGER, DER_SMALL_UINT, DER_COUNT, DER_BIT_STRING, DER_NAMED_BITS, DER_TIME };

/* One content octet string given to one primitive: accepted (with its value) or rejected. */
struct der_case {
    int fn;          /* DER_* */
    unsigned arg;    /* fm_der_time: the tag; unused */
    const char *in;  /* content octets */
    size_t len;
    int ok;          /* 1: accepted, 0: rejected (-1) */
    int64_t value;   /* bool: 0/1; small uint: the value; bit string: unused bits; named bits:
                      * the mask; time: unix seconds */
};

#define IN(lit) lit, sizeof lit - 1
#define UTC FM_TAG_UTC_TIME
#define GEN FM_TAG_GENERALIZED_TIME

static const struct der_case DER_CASES[] = {
    /* BOOLEAN (X.690 11.1): one octet, 00 or FF */
    {DER_BOOL, 0, IN("\x00"), 1, 0},
    {DER_BOOL, 0, IN("\xFF"), 1, 1},
    {DER_BOOL, 0, IN(""), 0, 0},
    {DER_BOOL, 0, IN("\x01"), 0, 0},
    {DER_BOOL, 0, IN("\xFE"), 0, 0},
    {DER_BOOL, 0, IN("\x00\x00"), 0, 0},
    {DER_BOOL, 0, IN("\xFF\xFF"), 0, 0},
    /* INTEGER (X.690 8.3.2): non-empty; the first nine bits not all 0 or all 1 */
    {DER_INTEGER, 0, IN("\x00"), 1, 0},
    {DER_INTEGER, 0, IN("\x7F"), 1, 0},
    {DER_INTEGER, 0, IN("\x80"), 1, 0},
    {DER_INTEGER, 0, IN("\xFF"), 1, 0},
    {DER_INTEGER, 0, IN("\x00\x80"), 1, 0},
    {DER_INTEGER, 0, IN("\xFF\x7F"), 1, 0},
    {DER_INTEGER, 0, IN("\x01\x00"), 1, 0},
    {DER_INTEGER, 0, IN("\xFE\xFF"), 1, 0},
    {DER_INTEGER, 0, IN(""), 0, 0},
    {DER_INTEGER, 0, IN("\x00\x7F"), 0, 0},
    {DER_INTEGER, 0, IN("\x00\x00"), 0, 0},
    {DER_INTEGER, 0, IN("\xFF\x80"), 0, 0},
    {DER_INTEGER, 0, IN("\xFF\xFF"), 0, 0},
    /* small non-negative INTEGER: 0 .. 0x7FFFFFFF */
    {DER_SMALL_UINT, 0, IN("\x00"), 1, 0},
    {DER_SMALL_UINT, 0, IN("\x7F"), 1, 127},
    {DER_SMALL_UINT, 0, IN("\x00\x80"), 1, 128},
    {DER_SMALL_UINT, 0, IN("\x7F\xFF\xFF\xFF"), 1, 0x7FFFFFFF},
    {DER_SMALL_UINT, 0, IN("\x00\x80\x00\x00\x00"), 0, 0},  /* 0x80000000 */
    {DER_SMALL_UINT, 0, IN("\x00\xFF\xFF\xFF\xFF"), 0, 0},  /* 0xFFFFFFFF */
    {DER_SMALL_UINT, 0, IN("\x01\x00\x00\x00\x00"), 0, 0},  /* 2^32 */
    {DER_SMALL_UINT, 0, IN("\x00\x80\x00\x00\x00\x00"), 0, 0},
    {DER_SMALL_UINT, 0, IN("\x80"), 0, 0},                  /* -128 */
    {DER_SMALL_UINT, 0, IN("\xFF"), 0, 0},                  /* -1 */
    {DER_SMALL_UINT, 0, IN("\x00\x7F"), 0, 0},              /* not minimal */
    {DER_SMALL_UINT, 0, IN(""), 0, 0},
    {DER_COUNT, 0, IN("\x00"), 1, 0},
    {DER_COUNT, 0, IN("\x7F\xFF\xFF\xFF"), 1, 0x7FFFFFFF},
    {DER_COUNT, 0, IN("\x00\x80\x00\x00\x00"), 1, 0x7FFFFFFF}, /* 2^31: no bound */
    {DER_COUNT, 0, IN("\x01\x00\x00\x00\x00"), 1, 0x7FFFFFFF},
    {DER_COUNT, 0, IN("\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"), 1,
     0x7FFFFFFF},
    {DER_COUNT, 0, IN("\x80"), 0, 0},                       /* -128 */
    {DER_COUNT, 0, IN("\xFF\x00\x00\x00\x00\x00"), 0, 0},   /* negative, long */
    {DER_COUNT, 0, IN("\x00\x00\x80\x00\x00\x00"), 0, 0},   /* not minimal */
    {DER_COUNT, 0, IN(""), 0, 0},
    /* BIT STRING (X.690 8.6.2, 11.2): unused-bits octet 0..7, 0 when empty, unused bits zero */
    {DER_BIT_STRING, 0, IN("\x00"), 1, 0},
    {DER_BIT_STRING, 0, IN("\x00\xFF"), 1, 0},
    {DER_BIT_STRING, 0, IN("\x03\xF8"), 1, 3},
    {DER_BIT_STRING, 0, IN("\x07\x80"), 1, 7},
    {DER_BIT_STRING, 0, IN("\x07\x00\x80"), 1, 7},
    {DER_BIT_STRING, 0, IN(""), 0, 0},
    {DER_BIT_STRING, 0, IN("\x08\x00"), 0, 0},
    {DER_BIT_STRING, 0, IN("\xFF\x00"), 0, 0},
    {DER_BIT_STRING, 0, IN("\x01"), 0, 0},                  /* unused bits of no octet */
    {DER_BIT_STRING, 0, IN("\x07"), 0, 0},
    {DER_BIT_STRING, 0, IN("\x03\xFC"), 0, 0},              /* an unused bit set */
    {DER_BIT_STRING, 0, IN("\x07\x81"), 0, 0},
    /* NamedBitList BIT STRING (KeyUsage, ReasonFlags): a BIT STRING of at most max_octets
     * (<= 4) octets, the last one non-zero; bit n (first = most significant) -> 1u << n */
    {DER_NAMED_BITS, 0, IN("\x00"), 1, 0},                  /* no bit */
    {DER_NAMED_BITS, 0, IN("\x07\x80"), 1, 0x1},
    {DER_NAMED_BITS, 0, IN("\x05\xA0"), 1, 0x5},
    {DER_NAMED_BITS, 0, IN("\x07\x00\x80"), 1, 0x100},      /* bit 8: decipherOnly */
    {DER_NAMED_BITS, 0, IN("\x07\x00\x00\x00\x80"), 1, 0x1000000},
    {DER_NAMED_BITS, 0, IN("\x00\x00\x00\x00\x01"), 1, 0x80000000},
    {DER_NAMED_BITS, 0, IN(""), 0, 0},
    {DER_NAMED_BITS, 0, IN("\x08\x80"), 0, 0},
    {DER_NAMED_BITS, 0, IN("\x07\x81"), 0, 0},              /* non-zero padding */
    /* trailing zero octets (not DER, read by OpenSSL and cryptography) name no bit */
    {DER_NAMED_BITS, 0, IN("\x00\x00"), 1, 0},
    {DER_NAMED_BITS, 0, IN("\x00\x80\x00"), 1, 0x1},
    {DER_NAMED_BITS, 0, IN("\x01\x02\x00"), 1, 0x40},
    {DER_NAMED_BITS, 0, IN("\x00\x80\x00\x00\x00\x00"), 1, 0x1},
    {DER_NAMED_BITS, 0, IN("\x00\x00\x80\x00"), 1, 0x100},
    /* bits past the named ones name nothing but are valid DER: read, as OpenSSL reads them */
    {DER_NAMED_BITS, 0, IN("\x00\x01\x00\x80\x00"), 1, 0x10080},
    {DER_NAMED_BITS, 0, IN("\x07\x00\x00\x80"), 1, 0x10000},
    {DER_NAMED_BITS, 0, IN("\x00\x00\x00\x00\x02"), 1, 0x40000000},  /* bit 30 */
    {DER_NAMED_BITS, 0, IN("\x07\x00\x00\x00\x00\x80"), 1, 0x80000000}, /* bit 32: beyond */
    {DER_NAMED_BITS, 0, IN("\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"), 1, 0x80000000},
    {DER_NAMED_BITS, 0, IN("\x00\x80\x00\x00\x00\x00\x40"), 1, 0x80000001},
    /* UTCTime YYMMDDHHMMSSZ (YY >= 50: 19YY), GeneralizedTime YYYYMMDDHHMMSSZ (RFC 5280
     * 4.1.2.5) */
    {DER_TIME, UTC, IN("700101000000Z"), 1, 0},
    {DER_TIME, UTC, IN("491231235959Z"), 1, 2524607999},
    {DER_TIME, UTC, IN("500101000000Z"), 1, -631152000},
    {DER_TIME, UTC, IN("000229000000Z"), 1, 951782400},     /* 2000: leap */
    {DER_TIME, UTC, IN("990229000000Z"), 0, 0},
    {DER_TIME, UTC, IN("700101000000"), 0, 0},
    {DER_TIME, UTC, IN("7001010000000Z"), 0, 0},
    {DER_TIME, UTC, IN("700101000000z"), 0, 0},
    {DER_TIME, UTC, IN("19700101000000Z"), 0, 0},           /* GeneralizedTime text */
    {DER_TIME, GEN, IN("19700101000000Z"), 1, 0},
    {DER_TIME, GEN, IN("20000229000000Z"), 1, 951782400},   /* divisible by 400: leap */
    {DER_TIME, GEN, IN("20240229120000Z"), 1, 1709208000},
    {DER_TIME, GEN, IN("20241231235959Z"), 1, 1735689599},
    {DER_TIME, GEN, IN("20240430000000Z"), 1, 1714435200},
    {DER_TIME, GEN, IN("99991231235959Z"), 1, 253402300799},
    {DER_TIME, GEN, IN("00010101000000Z"), 1, -62135596800},
    {DER_TIME, GEN, IN("19000229000000Z"), 0, 0},           /* by 100, not by 400 */
    {DER_TIME, GEN, IN("21000229000000Z"), 0, 0},
    {DER_TIME, GEN, IN("20230229000000Z"), 0, 0},
    {DER_TIME, GEN, IN("20240230000000Z"), 0, 0},
    {DER_TIME, GEN, IN("20240001000000Z"), 0, 0},           /* month 0 */
    {DER_TIME, GEN, IN("20241301000000Z"), 0, 0},           /* month 13 */
    {DER_TIME, GEN, IN("20240100000000Z"), 0, 0},           /* day 0 */
    {DER_TIME, GEN, IN("20240132000000Z"), 0, 0},           /* day 32 */
    {DER_TIME, GEN, IN("20240431000000Z"), 0, 0},           /* April 31 */
    {DER_TIME, GEN, IN("20240101240000Z"), 0, 0},           /* hour 24 */
    {DER_TIME, GEN, IN("20240101006000Z"), 0, 0},           /* minute 60 */
    {DER_TIME, GEN, IN("20240101000060Z"), 0, 0},           /* second 60 */
    {DER_TIME, GEN, IN("2024010100000aZ"), 0, 0},
    {DER_TIME, GEN, IN("2024-101000000Z"), 0, 0},
    {DER_TIME, GEN, IN("20240101000000"), 0, 0},            /* no Z */
    {DER_TIME, GEN, IN("20240101000000+"), 0, 0},
    {DER_TIME, GEN, IN("20240101000000.5Z"), 0, 0},         /* fractional seconds */
    {DER_TIME, GEN, IN("202401010000Z"), 0, 0},
    {DER_TIME, GEN, IN("240101000000Z"), 0, 0},             /* UTCTime text */
    {DER_TIME, GEN, IN(""), 0, 0},
    {DER_TIME, FM_TAG_OCTET_STRING, IN("20240101000000Z"), 0, 0}, /* neither time type */
    {DER_TIME, FM_TAG_PRINTABLE_STRING, IN("240101000000Z"), 0, 0},
    {DER_TIME, 0x37u, IN("240101000000Z"), 0, 0},           /* constructed UTCTime */
};

#undef IN
#undef UTC
#undef GEN

static void test_der(void) {
    static const char *const names[] = {"bool", "integer", "small uint", "count", "bit string",
                                        "named bits", "time"};
    for (size_t i = 0; i < sizeof DER_CASES / sizeof DER_CASES[0]; i++) {
        const struct der_case *t = &DER_CASES[i];
        fm_span c = heap((const uint8_t *)t->in, t->len), bits = {NULL, 0};
        int rc;
        int64_t got = -12345;
        unsigned unused = 99;
        int small = -12345;
        uint32_t mask = 0xDEADu;
        switch (t->fn) {
        case DER_BOOL:
            rc = fm_der_bool(c);
            got = rc;
            break;
        case DER_INTEGER:
            rc = fm_der_integer_ok(c);
            got = 0;
            break;
        case DER_SMALL_UINT:
            rc = fm_der_small_uint(c, &small);
            got = small;
            break;
        case DER_COUNT:
            rc = fm_der_count(c, &small);
            got = small;
            break;
        case DER_BIT_STRING:
            rc = fm_der_bit_string(c, &bits, &unused);
            got = unused;
            if (rc == 0)
                CHECK(bits.p == c.p + 1 && bits.len == c.len - 1, "der %s #%zu: bits span",
                      names[t->fn], i);
            break;
        case DER_NAMED_BITS:
            rc = fm_der_named_bits(c, &mask);
            got = mask;
            break;
        default:
            rc = fm_der_time(t->arg, c, &got);
            break;
        }
        if (t->ok)
            CHECK(rc >= 0 && got == t->value, "der %s #%zu: rc %d, value %lld, want %lld",
                  names[t->fn], i, rc, (long long)got, (long long)t->value);
        else
            CHECK(rc == -1, "der %s #%zu: accepted (rc %d, value %lld)", names[t->fn], i, rc,
                  (long long)got);
        free((void *)c.p);
    }
}

int main(void) {
    test_der();
    test_nc_vectors();
    test_san_vectors();
    test_match_vectors();
    test_arguments();
    test_truncation();
    test_mutation();
    test_budget();
    test_cn();
    printf("%d passed, %d failed\n", checks - failures, failures);
    return failures ? 1 : 0;
}
