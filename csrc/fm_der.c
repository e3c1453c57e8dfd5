/* fm_der.c - strict, bounded DER reader. Every length is checked against the end of its input
 * before use; nothing allocates. */
#include <limits.h>

#include "fm_der.h"

#include <string.h>

int fm_der_peek(const fm_der *r) {
    if (r->p >= r->end)
        return -1;
    return r->p[0];
}

/*
 * TLV ::= identifier length contents
 * identifier: one octet; tag number 31 (high-tag-number form) is rejected.
 * length: short form (< 128) or long form with 1..4 octets, minimal (X.690 10.1), no indefinite.
 */
int fm_der_any(fm_der *r, unsigned *tag, fm_span *content, fm_span *full) {
    const uint8_t *start = r->p;
    size_t avail = fm_der_left(r);
    if (avail < 2)
        return -1;
    unsigned t = start[0];
    if ((t & 0x1Fu) == 0x1Fu)
        return -1;
    size_t hdr = 2;
    size_t len = start[1];
    if (len & 0x80u) {
        size_t n = len & 0x7Fu;
        if (n == 0 || n > 4 || avail < 2 + n)
            return -1; /* indefinite length or absurdly long */
        if (start[2] == 0)
            return -1; /* leading zero: not minimal */
        len = 0;
        for (size_t i = 0; i < n; i++)
            len = (len << 8) | start[2 + i];
        if (len < 128)
            return -1; /* long form for a short length: not minimal */
        hdr = 2 + n;
    }
    if (len > avail - hdr)
        return -1;
    if (tag)
        *tag = t;
    if (content) {
        content->p = start + hdr;
        content->len = len;
    }
    if (full) {
        full->p = start;
        full->len = hdr + len;
    }
    r->p = start + hdr + len;
    return 0;
}

int fm_der_expect(fm_der *r, unsigned tag, fm_span *content, fm_span *full) {
    if (fm_der_peek(r) != (int)tag)
        return -1;
    return fm_der_any(r, NULL, content, full);
}

int fm_der_optional(fm_der *r, unsigned tag, fm_span *content, fm_span *full) {
    if (fm_der_peek(r) != (int)tag)
        return 0;
    return fm_der_any(r, NULL, content, full) == 0 ? 1 : -1;
}

int fm_der_oid_ok(fm_span s) {
    if (s.len == 0 || (s.p[s.len - 1] & 0x80u))
        return 0;
    for (size_t i = 0; i < s.len; i++)
        if (s.p[i] == 0x80u && (i == 0 || !(s.p[i - 1] & 0x80u)))
            return 0;
    return 1;
}

int fm_der_bool(fm_span c) {
    if (c.len != 1)
        return -1;
    if (c.p[0] == 0x00)
        return 0;
    if (c.p[0] == 0xFF)
        return 1;
    return -1;
}

int fm_der_integer_ok(fm_span c) {
    if (c.len == 0)
        return -1;
    if (c.len > 1) {
        if (c.p[0] == 0x00 && !(c.p[1] & 0x80))
            return -1;
        if (c.p[0] == 0xFF && (c.p[1] & 0x80))
            return -1;
    }
    return 0;
}

int fm_der_small_uint(fm_span c, int *out) {
    if (fm_der_integer_ok(c) != 0 || (c.p[0] & 0x80))
        return -1;
    if (c.len > 5 || (c.len == 5 && c.p[0] != 0))
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < c.len; i++)
        v = (v << 8) | c.p[i];
    if (v > 0x7FFFFFFFu)
        return -1;
    *out = (int)v;
    return 0;
}

int fm_der_count(fm_span c, int *out) {
    if (fm_der_integer_ok(c) != 0 || (c.p[0] & 0x80))
        return -1;
    size_t i = c.p[0] == 0 ? 1 : 0; /* a leading 0x00 is only ever there for the sign */
    if (c.len - i > 4 || (c.len - i == 4 && (c.p[i] & 0x80))) {
        *out = INT_MAX;
        return 0;
    }
    return fm_der_small_uint(c, out);
}

int fm_der_bit_string(fm_span c, fm_span *bits, unsigned *unused) {
    if (c.len < 1)
        return -1;
    unsigned u = c.p[0];
    if (u > 7)
        return -1;
    if (c.len == 1 && u != 0)
        return -1;
    if (u && (c.p[c.len - 1] & ((1u << u) - 1u)))
        return -1; /* DER: unused bits are zero */
    bits->p = c.p + 1;
    bits->len = c.len - 1;
    if (unused)
        *unused = u;
    return 0;
}

int fm_der_named_bits(fm_span c, uint32_t *mask) {
    fm_span bits;
    unsigned unused;
    if (fm_der_bit_string(c, &bits, &unused))
        return -1;
    uint32_t m = 0;
    for (size_t i = 0; i < bits.len; i++) {
        if (bits.p[i] == 0)
            continue;
        if (i >= 4) { /* positions 32 and on */
            m |= FM_DER_BITS_BEYOND;
            break;
        }
        for (unsigned b = 0; b < 8; b++)
            if (bits.p[i] & (0x80u >> b))
                m |= i * 8 + b < 31 ? 1u << (i * 8 + b) : FM_DER_BITS_BEYOND;
    }
    *mask = m;
    return 0;
}

static int digits(const uint8_t *p, size_t n, int *out) {
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return 0;
}

/* Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/*
 * UTCTime         YYMMDDHHMMSSZ    (RFC 5280 4.1.2.5.1: YY >= 50 -> 19YY, else 20YY)
 * GeneralizedTime YYYYMMDDHHMMSSZ  (RFC 5280 4.1.2.5.2: no fractional seconds)
 */
int fm_der_time(unsigned tag, fm_span c, int64_t *out) {
    int year, mon, day, hh, mm, ss;
    const uint8_t *p = c.p;
    if (tag == FM_TAG_UTC_TIME) {
        if (c.len != 13 || p[12] != 'Z' || digits(p, 2, &year))
            return -1;
        year += year >= 50 ? 1900 : 2000;
        p += 2;
    } else if (tag == FM_TAG_GENERALIZED_TIME) {
        if (c.len != 15 || p[14] != 'Z' || digits(p, 4, &year))
            return -1;
        p += 4;
    } else {
        return -1;
    }
    if (digits(p, 2, &mon) || digits(p + 2, 2, &day) || digits(p + 4, 2, &hh) ||
        digits(p + 6, 2, &mm) || digits(p + 8, 2, &ss))
        return -1;
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mon < 1 || mon > 12 || day < 1 || day > mdays[mon - 1] || hh > 23 || mm > 59 || ss > 59)
        return -1;
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (mon == 2 && day == 29 && !leap)
        return -1;
    *out = days_from_civil(year, mon, day) * 86400 + hh * 3600 + mm * 60 + ss;
    return 0;
}

int fm_der_extension(fm_der *r, fm_span *oid, int *critical, fm_span *value) {
    fm_der e;
    fm_span ext, crit;
    int rc;
    *critical = 0;
    if (fm_der_expect(r, FM_TAG_SEQUENCE, &ext, NULL) != 0)
        return -1;
    fm_der_init_span(&e, ext);
    if (fm_der_expect(&e, FM_TAG_OID, oid, NULL) != 0 || oid->len == 0)
        return -1;
    if ((rc = fm_der_optional(&e, FM_TAG_BOOLEAN, &crit, NULL)) < 0)
        return -1;
    if (rc && (*critical = fm_der_bool(crit)) < 0)
        return -1;
    if (fm_der_expect(&e, FM_TAG_OCTET_STRING, value, NULL) != 0 || !fm_der_done(&e))
        return -1;
    return 0;
}

int fm_der_signed(const uint8_t *der, size_t len, fm_span *whole, fm_span *tbs_full,
                  fm_span *tbs, fm_span *sig_alg, fm_span *sig) {
    fm_der r;
    fm_span outer, bits, sig_bits;
    unsigned unused;
    if (der == NULL || len == 0)
        return -1;
    fm_der_init(&r, der, len);
    if (fm_der_expect(&r, FM_TAG_SEQUENCE, &outer, whole) != 0 || !fm_der_done(&r))
        return -1;
    fm_der_init_span(&r, outer);
    if (fm_der_expect(&r, FM_TAG_SEQUENCE, tbs, tbs_full) != 0 ||
        fm_der_expect(&r, FM_TAG_SEQUENCE, NULL, sig_alg) != 0 ||
        fm_der_expect(&r, FM_TAG_BIT_STRING, &bits, NULL) != 0 || !fm_der_done(&r) ||
        fm_der_bit_string(bits, &sig_bits, &unused) != 0 || unused)
        return -1;
    if (sig)
        *sig = sig_bits;
    return 0;
}

int fm_span_eq(fm_span a, fm_span b) {
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

int fm_oid_eq(fm_span oid, const uint8_t *lit, size_t lit_len) {
    return oid.len == lit_len && memcmp(oid.p, lit, lit_len) == 0;
}
