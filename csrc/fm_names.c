/* fm_names.c - name constraints, subjectAltName syntax and expected-name matching.
 *
 * Every name form is parsed with the bounded DER reader (fm_der.h); text forms are checked for
 * their syntax before any comparison, so that a name which cannot be compared reliably is an error
 * (fail closed), never a silent "does not match an excluded subtree". */
#include "fm_names.h"

#include <stdlib.h>
#include <string.h>

/* GeneralName CHOICE tags (RFC 5280 4.2.1.6; the module uses IMPLICIT tagging, directoryName is
 * EXPLICIT because Name is a CHOICE). */
#define GN_OTHER 0xA0u /* otherName [0] AnotherName */
#define GN_EMAIL 0x81u /* rfc822Name [1] IA5String */
#define GN_DNS 0x82u   /* dNSName [2] IA5String */
#define GN_X400 0xA3u  /* x400Address [3] ORAddress */
#define GN_DN 0xA4u    /* directoryName [4] Name */
#define GN_EDI 0xA5u   /* ediPartyName [5] EDIPartyName */
#define GN_URI 0x86u   /* uniformResourceIdentifier [6] IA5String */
#define GN_IP 0x87u    /* iPAddress [7] OCTET STRING */
#define GN_RID 0x88u   /* registeredID [8] OBJECT IDENTIFIER */

/* pkcs-9-at-emailAddress 1.2.840.113549.1.9.1 (RFC 5280 4.1.2.6, 4.2.1.10). */
static const uint8_t OID_EMAIL[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x01};
/* id-at-commonName 2.5.4.3 (X.520). */
static const uint8_t OID_CN[] = {0x55, 0x04, 0x03};

/* Largest commonName, in characters, that a BMPString or UniversalString may spell as a hostname
 * (converted to ASCII in a stack buffer); a longer all-ASCII one fails closed. */
#define CN_MAX_WIDE 1024

/* ---- small helpers ------------------------------------------------------------------------ */

/* A reader over a span; an empty span gets a valid empty range (no arithmetic on a NULL span). */
static void rd_init(fm_der *r, fm_span s) {
    if (s.len == 0)
        r->p = r->end = (const uint8_t *)"";
    else
        fm_der_init_span(r, s);
}

static fm_span span(const uint8_t *p, size_t len) {
    fm_span s = {p, len};
    return s;
}

static int is_alpha(uint8_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int is_digit(uint8_t c) { return c >= '0' && c <= '9'; }
static uint8_t lower(uint8_t c) { return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c; }

static int eq_nocase(const uint8_t *a, const uint8_t *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (lower(a[i]) != lower(b[i]))
            return 0;
    return 1;
}

static int span_eq_nocase(fm_span a, fm_span b) {
    return a.len == b.len && eq_nocase(a.p, b.p, a.len);
}

static const uint8_t *find(fm_span s, uint8_t c) {
    return s.len ? memchr(s.p, c, s.len) : NULL;
}

/* IA5String (X.680 41: ISO 646 / ASCII): every octet below 0x80. */
static int ia5_ok(fm_span s) {
    for (size_t i = 0; i < s.len; i++)
        if (s.p[i] & 0x80u)
            return 0;
    return 1;
}


/* ---- text syntax -------------------------------------------------------------------------- */

/* DNS name in the preferred name syntax (RFC 1034 3.5 as amended by RFC 1123 2.1, required by
 * RFC 5280 4.2.1.6): labels of letters, digits and '-', 1..63 octets, not starting or ending with
 * '-'; 1..253 octets in all. No empty label, so no leading or trailing dot and no wildcard. */
static int dns_ok(fm_span s) {
    if (s.len == 0 || s.len > 253)
        return 0;
    size_t lab = 0;
    for (size_t i = 0; i <= s.len; i++) {
        if (i == s.len || s.p[i] == '.') {
            if (lab == 0 || lab > 63 || s.p[i - lab] == '-' || s.p[i - 1] == '-')
                return 0;
            lab = 0;
        } else if (is_alpha(s.p[i]) || is_digit(s.p[i]) || s.p[i] == '-') {
            lab++;
        } else {
            return 0;
        }
    }
    return 1;
}

int fm_name_ends_in_number(const uint8_t *h, size_t n) {
    size_t i = n;
    while (i > 0 && h[i - 1] != '.')
        i--;
    const uint8_t *l = h + i;
    size_t len = n - i, j = 0;
    if (len >= 2 && l[0] == '0' && (l[1] == 'x' || l[1] == 'X')) {
        for (j = 2; j < len; j++)
            if (!is_digit(l[j]) && !((l[j] | 0x20) >= 'a' && (l[j] | 0x20) <= 'f'))
                return 0;
        return 1;
    }
    for (j = 0; j < len; j++)
        if (!is_digit(l[j]))
            return 0;
    return len > 0;
}

/* A host name to look for in a certificate: a DNS name whose last label is no number (RFC 1123
 * 2.1: a top-level label is alphabetic): URL parsers and inet_aton read "010.0.0.5" or
 * "1.2.3.4." as IPv4 addresses, which match iPAddress SANs only, never a dNSName spelled the
 * same. */
static int host_name_ok(fm_span s) {
    return dns_ok(s) && !fm_name_ends_in_number(s.p, s.len);
}

/* atext of RFC 5322 3.2.3. */
static int atext(uint8_t c) {
    return is_alpha(c) || is_digit(c) || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* Mailbox = Local-part "@" Domain (RFC 5321 4.1.2, by RFC 5280 4.2.1.6), Local-part a Dot-string
 * (1*atext separated by single dots; the Quoted-string form is not supported), Domain a DNS name.
 * Returns 1 and the two parts, or 0. */
static int mailbox(fm_span s, fm_span *local, fm_span *domain) {
    const uint8_t *at = find(s, '@');
    if (!at)
        return 0;
    *local = span(s.p, (size_t)(at - s.p));
    *domain = span(at + 1, s.len - local->len - 1);
    if (local->len == 0 || local->p[0] == '.' || local->p[local->len - 1] == '.')
        return 0;
    for (size_t i = 0; i < local->len; i++)
        if (!(atext(local->p[i]) || (local->p[i] == '.' && local->p[i - 1] != '.')))
            return 0;
    return dns_ok(*domain);
}

/* Characters of a URI userinfo (RFC 3986 3.2.1): unreserved / pct-encoded / sub-delims / ":". */
static int userinfo_char(uint8_t c) {
    return is_alpha(c) || is_digit(c) || (c != 0 && strchr("-._~%!$&'()*+,;=:", c) != NULL);
}

/*
 * URI (RFC 3986 3):  scheme ":" "//" authority path-abempty [ "?" query ] [ "#" fragment ]
 *   scheme    = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
 *   authority = [ userinfo "@" ] host [ ":" port ],  port = *DIGIT
 * RFC 5280 4.2.1.10 applies URI constraints to the host, a fully qualified domain name. A URI
 * without an authority, or whose host is an IP literal, an IPv4 address or anything but a DNS name,
 * cannot be checked (Go's crypto/x509 rejects these too). Returns 1 and the host, or 0.
 */
static int uri_host(fm_span s, fm_span *host) {
    const uint8_t *p = s.p;
    size_t n = s.len, i = 0;
    if (n == 0 || !is_alpha(p[0]))
        return 0;
    while (i < n && (is_alpha(p[i]) || is_digit(p[i]) || p[i] == '+' || p[i] == '-' || p[i] == '.'))
        i++;
    if (n - i < 3 || p[i] != ':' || p[i + 1] != '/' || p[i + 2] != '/')
        return 0;
    size_t a = i + 3, e = a, h = a;
    while (e < n && p[e] != '/' && p[e] != '?' && p[e] != '#')
        e++;
    for (size_t j = a; j < e; j++)
        if (p[j] == '@')
            h = j + 1; /* host starts after the last '@' */
    for (size_t j = a; j + 1 < h; j++)
        if (!userinfo_char(p[j]))
            return 0; /* includes a second '@' */
    size_t he = h;
    while (he < e && p[he] != ':')
        he++;
    for (size_t j = he + 1; j < e; j++)
        if (!is_digit(p[j]))
            return 0;
    *host = span(p + h, he - h);
    if (!dns_ok(*host))
        return 0;
    for (size_t j = host->len; j > 0 && host->p[j - 1] != '.'; j--)
        if (!is_digit(host->p[j - 1]))
            return 1;
    return 0; /* all-numeric last label: an IPv4 address, not a host name */
}

/* Is DNS name `n` within the domain constraint `c`? "" matches every name; ".d" matches names
 * strictly below d; "d" matches d and, when `subs`, every name below it. Case-insensitive. */
static int dom_match(fm_span n, fm_span c, int subs) {
    if (c.len == 0)
        return 1;
    if (n.len < c.len)
        return 0;
    const uint8_t *tail = n.p + n.len - c.len;
    if (c.p[0] == '.')
        return n.len > c.len && eq_nocase(tail, c.p, c.len);
    if (n.len == c.len)
        return eq_nocase(n.p, c.p, c.len);
    return subs && tail[-1] == '.' && eq_nocase(tail, c.p, c.len);
}

/* ---- DER structures ----------------------------------------------------------------------- */

/* Iterator over the AttributeTypeAndValues of a Name (RFC 5280 4.1.2.4):
 *   Name ::= SEQUENCE OF RelativeDistinguishedName
 *   RelativeDistinguishedName ::= SET SIZE (1..MAX) OF AttributeTypeAndValue
 *   AttributeTypeAndValue ::= SEQUENCE { type OBJECT IDENTIFIER, value ANY DEFINED BY type } */
typedef struct ava_iter {
    fm_der rdns, avas;
} ava_iter;

static int ava_start(ava_iter *it, fm_span name_tlv) {
    fm_der r;
    fm_span c;
    rd_init(&r, name_tlv);
    if (fm_der_expect(&r, FM_TAG_SEQUENCE, &c, NULL) != 0 || !fm_der_done(&r))
        return -1;
    rd_init(&it->rdns, c);
    rd_init(&it->avas, span(NULL, 0));
    return 0;
}

/* Returns 1 with the next attribute, 0 at the end, -1 when malformed. */
static int ava_next(ava_iter *it, fm_span *type, unsigned *vtag, fm_span *value) {
    fm_span set, ava;
    fm_der a;
    while (fm_der_done(&it->avas)) {
        if (fm_der_done(&it->rdns))
            return 0;
        if (fm_der_expect(&it->rdns, FM_TAG_SET, &set, NULL) != 0 || set.len == 0)
            return -1;
        rd_init(&it->avas, set);
    }
    if (fm_der_expect(&it->avas, FM_TAG_SEQUENCE, &ava, NULL) != 0)
        return -1;
    rd_init(&a, ava);
    if (fm_der_expect(&a, FM_TAG_OID, type, NULL) != 0 || !fm_der_oid_ok(*type) ||
        fm_der_any(&a, vtag, value, NULL) != 0 || !fm_der_done(&a) ||
        fm_constructed_string(*vtag))
        return -1;
    return 1;
}

/* A whole Name TLV, well formed. */
static int name_ok(fm_span name_tlv) {
    ava_iter it;
    fm_span t, v;
    unsigned tag;
    int rc;
    if (ava_start(&it, name_tlv) != 0)
        return 0;
    while ((rc = ava_next(&it, &t, &tag, &v)) == 1)
        ;
    return rc == 0;
}

/* ---- directoryName comparison ------------------------------------------------------------ */

/* Attribute values compare as OpenSSL's canonical names do (x509_name_canon, asn1_string_canon),
 * RFC 5280 7.1 extended to every string type: the values of these string types are read as
 * Unicode (PrintableString, IA5String, VisibleString and T61String one octet per character,
 * BMPString UCS-2, UniversalString UCS-4, UTF8String UTF-8), leading and trailing ASCII white
 * space is dropped, inner runs become one space, and ASCII letters compare case-insensitively.
 * So a subject that spells an excluded "O=Evil" as UTF8String "evil " is still excluded.
 * NumericString too (OpenSSL compares it as octets), holding only digits and spaces: "Evil"
 * spelled as a NumericString (which OpenSSL accepts and prints as O=Evil) fails closed rather
 * than differ from the UTF8String "Evil". Values of other types compare as tag and octets. */
#define DN_DIFF 0     /* not equal */
#define DN_SAME 1     /* equal */
#define DN_BAD (-1)   /* a string value that is not valid in its type: fail closed */
#define DN_BUDGET (-2) /* an RDN with more attributes than DN_MAX_AVAS */
#define DN_MAX_AVAS 32 /* attributes per RDN compared pairwise (multi-valued RDNs hold 2 or 3) */

static int canon_type(unsigned tag) {
    return tag == FM_TAG_UTF8_STRING || tag == 0x12u /* Numeric */ ||
           tag == FM_TAG_PRINTABLE_STRING || tag == FM_TAG_T61_STRING || tag == FM_TAG_IA5_STRING || tag == 0x1Au /* Visible */ ||
           tag == FM_TAG_BMP_STRING || tag == FM_TAG_UNIVERSAL_STRING;
}

typedef struct canon_rd {
    const uint8_t *p, *end;
    unsigned tag;
    int started, has_held;
    uint32_t held;
} canon_rd;

/* The next character as written: 1, 0 at the end, DN_BAD for an invalid encoding. */
static int canon_raw(canon_rd *r, uint32_t *cp) {
    size_t left = (size_t)(r->end - r->p);
    if (left == 0)
        return 0;
    const uint8_t *p = r->p;
    uint32_t c;
    size_t n = 1;
    switch (r->tag) {
    case FM_TAG_BMP_STRING:
        if (left < 2)
            return DN_BAD;
        c = (uint32_t)p[0] << 8 | p[1], n = 2;
        break;
    case FM_TAG_UNIVERSAL_STRING:
        if (left < 4)
            return DN_BAD;
        c = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3], n = 4;
        break;
    case FM_TAG_UTF8_STRING:
        c = p[0];
        if (c >= 0x80) { /* RFC 3629: shortest form, no surrogates, at most U+10FFFF */
            n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
            if (n == 0 || n > left || c >= 0xF5)
                return DN_BAD;
            c &= 0x3Fu >> (n - 1);
            for (size_t k = 1; k < n; k++) {
                if ((p[k] & 0xC0u) != 0x80u)
                    return DN_BAD;
                c = c << 6 | (p[k] & 0x3Fu);
            }
            if ((n == 2 && c < 0x80) || (n == 3 && c < 0x800) || (n == 4 && c < 0x10000))
                return DN_BAD;
        }
        break;
    case 0x12u: /* NumericString: digits and spaces (X.680 41.2) */
        c = p[0];
        if (!(c == ' ' || (c >= '0' && c <= '9')))
            return DN_BAD;
        break;
    default:
        c = p[0];
    }
    if (c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return DN_BAD;
    r->p += n;
    *cp = c;
    return 1;
}

int fm_name_atv_decodes(fm_span oid, unsigned tag, fm_span value) {
    if (!fm_der_oid_ok(oid))
        return 0;
    if (tag == FM_TAG_SEQUENCE)
        return 1;
    if (tag >= 0x1Fu)
        return 0; /* not universal, constructed, or past BMPString */
    /* ASN1_tag2bit() of each universal tag within B_ASN1_PRINTABLE */
    static const uint32_t accepted = 1u << 3 | 1u << 7 | 1u << 8 | 1u << 9 | 1u << 11 |
                                     1u << 12 | 1u << 13 | 1u << 14 | 1u << 15 | 1u << 18 |
                                     1u << 19 | 1u << 20 | 1u << 22 | 1u << 28 | 1u << 29 |
                                     1u << 30;
    if (!(accepted >> tag & 1u))
        return 0;
    if (tag == FM_TAG_BIT_STRING)
        return value.len > 0 && value.p[0] <= 7;
    if (tag == FM_TAG_BMP_STRING)
        return value.len % 2 == 0;
    if (tag == FM_TAG_UNIVERSAL_STRING)
        return value.len % 4 == 0;
    return 1;
}

int fm_name_atv_ok(fm_span oid, unsigned tag, fm_span value) {
    if (!fm_name_atv_decodes(oid, tag, value))
        return 0;
    if (tag != FM_TAG_UTF8_STRING && tag != FM_TAG_BMP_STRING && tag != FM_TAG_UNIVERSAL_STRING)
        return 1;
    canon_rd r = {value.p, value.p + value.len, tag, 0, 0, 0};
    uint32_t c;
    int rc;
    while ((rc = canon_raw(&r, &c)) == 1)
        ;
    return rc == 0;
}

static int canon_space(uint32_t c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* The next character of the canonical form: spaces trimmed and collapsed, ASCII lower case. */
static int canon_next(canon_rd *r, uint32_t *cp) {
    if (r->has_held) {
        r->has_held = 0;
        *cp = r->held;
        return 1;
    }
    uint32_t c;
    int rc, space = 0;
    while ((rc = canon_raw(r, &c)) == 1) {
        if (canon_space(c)) {
            space = 1;
            continue;
        }
        if (c >= 'A' && c <= 'Z')
            c += 32;
        if (space && r->started) {
            r->held = c, r->has_held = 1;
            *cp = ' ';
            return 1;
        }
        r->started = 1;
        *cp = c;
        return 1;
    }
    return rc; /* the end (trailing spaces dropped) or DN_BAD */
}

static int value_eq(unsigned ta, fm_span a, unsigned tb, fm_span b) {
    if (fm_constructed_string(ta) || fm_constructed_string(tb))
        return DN_BAD; /* (refused where names are read; never compared as other bytes) */
    if (!canon_type(ta) || !canon_type(tb))
        return ta == tb && fm_span_eq(a, b) ? DN_SAME : DN_DIFF;
    canon_rd x = {a.p, a.p + a.len, ta, 0, 0, 0}, y = {b.p, b.p + b.len, tb, 0, 0, 0};
    if (a.len == 0)
        x.p = x.end = (const uint8_t *)"";
    if (b.len == 0)
        y.p = y.end = (const uint8_t *)"";
    for (;;) {
        uint32_t c1 = 0, c2 = 0;
        int r1 = canon_next(&x, &c1), r2 = canon_next(&y, &c2);
        if (r1 < 0 || r2 < 0)
            return DN_BAD;
        if (r1 != r2 || c1 != c2)
            return DN_DIFF;
        if (r1 == 0)
            return DN_SAME;
    }
}

/* AttributeTypeAndValue (validated: the Name was walked by ava_next) -> type, value tag, value. */
static void ava_parts(fm_span ava, fm_span *type, unsigned *tag, fm_span *value) {
    fm_der a;
    rd_init(&a, ava);
    fm_der_expect(&a, FM_TAG_OID, type, NULL);
    fm_der_any(&a, tag, value, NULL);
}

static int ava_eq(fm_span a, fm_span b) {
    fm_span ta, va, tb, vb;
    unsigned ga = 0, gb = 0;
    ava_parts(a, &ta, &ga, &va);
    ava_parts(b, &tb, &gb, &vb);
    return fm_span_eq(ta, tb) ? value_eq(ga, va, gb, vb) : DN_DIFF;
}

/* Occurrences in the SET content `set` of an attribute equal to `ava`. */
static int ava_count(fm_span set, fm_span ava, size_t *count) {
    fm_der r;
    fm_span x;
    *count = 0;
    rd_init(&r, set);
    while (!fm_der_done(&r)) {
        if (fm_der_expect(&r, FM_TAG_SEQUENCE, &x, NULL) != 0)
            return DN_BAD;
        int eq = ava_eq(ava, x);
        if (eq < 0)
            return eq;
        *count += (size_t)eq;
    }
    return DN_SAME;
}

/* Two RDNs (SET contents) hold the same attributes, as multisets. */
static int rdn_eq(fm_span a, fm_span b) {
    fm_der r;
    fm_span x;
    size_t na = 0, nb = 0, ca, cb;
    rd_init(&r, a);
    while (!fm_der_done(&r) && fm_der_any(&r, NULL, NULL, NULL) == 0)
        na++;
    rd_init(&r, b);
    while (!fm_der_done(&r) && fm_der_any(&r, NULL, NULL, NULL) == 0)
        nb++;
    if (na != nb)
        return DN_DIFF;
    if (na > DN_MAX_AVAS)
        return DN_BUDGET;
    rd_init(&r, a);
    while (!fm_der_done(&r)) {
        int rc;
        if (fm_der_expect(&r, FM_TAG_SEQUENCE, &x, NULL) != 0)
            return DN_BAD;
        if ((rc = ava_count(a, x, &ca)) != DN_SAME || (rc = ava_count(b, x, &cb)) != DN_SAME)
            return rc;
        if (ca != cb)
            return DN_DIFF;
    }
    return DN_SAME;
}

/* Is Name `c` a prefix of Name `n`, RDN by RDN (RFC 5280 4.2.1.10, 7.1)? Both are validated
 * Name TLVs; an empty constraint matches every name. DN_SAME, DN_DIFF, DN_BAD or DN_BUDGET. */
static int dn_prefix(fm_span c, fm_span n) {
    fm_der rc, rn;
    fm_span cc, nc, a, b;
    rd_init(&rc, c);
    rd_init(&rn, n);
    if (fm_der_expect(&rc, FM_TAG_SEQUENCE, &cc, NULL) != 0 ||
        fm_der_expect(&rn, FM_TAG_SEQUENCE, &nc, NULL) != 0)
        return DN_DIFF;
    rd_init(&rc, cc);
    rd_init(&rn, nc);
    while (!fm_der_done(&rc)) {
        if (fm_der_expect(&rc, FM_TAG_SET, &a, NULL) != 0 ||
            fm_der_expect(&rn, FM_TAG_SET, &b, NULL) != 0)
            return DN_DIFF;
        int eq = rdn_eq(a, b);
        if (eq != DN_SAME)
            return eq;
    }
    return DN_SAME;
}

/*
 * GeneralName ::= CHOICE {                       (RFC 5280 4.2.1.6)
 *   otherName [0] AnotherName, rfc822Name [1] IA5String, dNSName [2] IA5String,
 *   x400Address [3] ORAddress, directoryName [4] Name, ediPartyName [5] EDIPartyName,
 *   uniformResourceIdentifier [6] IA5String, iPAddress [7] OCTET STRING,
 *   registeredID [8] OBJECT IDENTIFIER }
 * AnotherName ::= SEQUENCE { type-id OBJECT IDENTIFIER, value [0] EXPLICIT ANY DEFINED BY type-id }
 * Structure (fm_general_name_decodes; a string form in constructed encoding refused), IA5 text
 * and directoryName syntax: the octet count of iPAddress and the text syntax depend on the use.
 */
static int gn_ok(unsigned tag, fm_span v) {
    fm_der r;
    if (!fm_general_name_decodes(tag, v)) /* the structure (otherName, ediPartyName, OIDs) */
        return 0;
    rd_init(&r, v);
    switch (tag) {
    case GN_EMAIL:
    case GN_DNS:
    case GN_URI:
        return ia5_ok(v);
    case GN_X400: /* not interpreted: a sequence of TLVs */
        while (!fm_der_done(&r))
            if (fm_der_any(&r, NULL, NULL, NULL) != 0)
                return 0;
        return 1;
    case GN_DN:
        return name_ok(v);
    case GN_OTHER:
    case GN_EDI:
    case GN_IP:
    case GN_RID:
        return 1;
    default: /* a string form in constructed encoding */
        return 0;
    }
}

/* IPv4/IPv6 subnet mask: one run of 1 bits from the most significant bit (RFC 5280 4.2.1.10
 * "CIDR notation"), as pyca/cryptography and Go require. */
static int mask_ok(const uint8_t *m, size_t n) {
    size_t i = 0;
    while (i < n && m[i] == 0xFF)
        i++;
    if (i < n && (((uint8_t)~m[i] + 1u) & (uint8_t)~m[i]) != 0)
        return 0; /* ~m must be 2^k - 1 */
    for (i++; i < n; i++)
        if (m[i] != 0)
            return 0;
    return 1;
}

/* "host" or ".domain": the domain forms of rfc822Name and URI constraints. An empty one is
 * none of them (RFC 5280 4.2.1.10 defines no "every mailbox" or "every URI"; OpenSSL matches
 * nothing with it, Go everything, pyca/cryptography refuses it): malformed, so that it can
 * neither widen a permitted list to everything nor exclude nothing. */
static int dom_ok(fm_span c) {
    return c.len > 0 && dns_ok(c.p[0] == '.' ? span(c.p + 1, c.len - 1) : c);
}

/* The text or octets of one constraint (the base of a GeneralSubtree), RFC 5280 4.2.1.10. */
static int constraint_ok(unsigned tag, fm_span c) {
    fm_span l, d;
    switch (tag) {
    case GN_DNS:
        /* "example.com" (and its subdomains); "" matches every name. A leading period is URI and
         * rfc822 syntax, not dNSName syntax (RFC 5280 4.2.1.10; pyca/cryptography and x509-limbo
         * rfc5280::nc::invalid-dnsname-leading-period reject it); wildcards are not constraints. */
        return c.len == 0 || dns_ok(c);
    case GN_EMAIL: /* "user@host", "host" or ".domain" */
        return find(c, '@') ? mailbox(c, &l, &d) : dom_ok(c);
    case GN_URI: /* "host" or ".domain" */
        return dom_ok(c);
    case GN_IP: /* address || mask: 8 octets for IPv4, 32 for IPv6 */
        return (c.len == 8 || c.len == 32) && mask_ok(c.p + c.len / 2, c.len / 2);
    default: /* directoryName and unsupported forms: structure only (gn_ok) */
        return 1;
    }
}

/* ---- name constraints --------------------------------------------------------------------- */

/* One name of the certificate under check, parsed once. */
typedef struct nc_name {
    unsigned tag; /* GN_* */
    fm_span v;    /* IA5 text, IP octets, or the Name TLV of a directoryName */
    fm_span dom;  /* dNSName without "*."; rfc822 domain; URI host */
    fm_span local;
    int wild; /* dNSName "*.dom" */
    int ok;   /* syntax valid for its form; checked only when a constraint of the form exists */
} nc_name;

static void name_prep(nc_name *nm, unsigned tag, fm_span v) {
    memset(nm, 0, sizeof *nm);
    nm->tag = tag;
    nm->v = v;
    switch (tag) {
    case GN_DNS:
        nm->wild = v.len >= 2 && v.p[0] == '*' && v.p[1] == '.';
        nm->dom = nm->wild ? span(v.p + 2, v.len - 2) : v;
        nm->ok = dns_ok(nm->dom);
        break;
    case GN_EMAIL:
        nm->ok = mailbox(v, &nm->local, &nm->dom);
        break;
    case GN_URI:
        nm->ok = uri_host(v, &nm->dom);
        break;
    default: /* iPAddress length and Name structure: checked by san_open / the subject walk */
        nm->ok = 1;
    }
}

/* Does constraint c (validated, same form as nm, nm->ok) cover nm? For a wildcard dNSName in an
 * excluded subtree the answer is "could any name it stands for be inside". A directoryName may
 * also give DN_BAD or DN_BUDGET. */
static int nc_match(fm_span c, const nc_name *nm, int excluded) {
    fm_span l, d;
    switch (nm->tag) {
    case GN_DNS:
        /* RFC 5280 4.2.1.10: any name formed by adding labels to the left of the constraint. */
        if (!nm->wild)
            return dom_match(nm->dom, c, 1);
        /* "*.p" stands for every name one label below p (RFC 6125 6.4.3): permitted only when
         * all of them are (p is within c), excluded when any is (also when c is one label below
         * p; x509-limbo cve-2025-61727). */
        if (dom_match(nm->dom, c, 1))
            return 1;
        const uint8_t *dot = find(c, '.');
        return excluded && dot &&
               span_eq_nocase(span(dot + 1, c.len - (size_t)(dot + 1 - c.p)), nm->dom);
    case GN_EMAIL:
        /* RFC 5280 4.2.1.10: a mailbox, all mailboxes at a host, or at any host in a domain. The
         * local part is compared exactly (RFC 5321 2.4), the domain case-insensitively. */
        if (find(c, '@')) {
            mailbox(c, &l, &d);
            return fm_span_eq(l, nm->local) && span_eq_nocase(d, nm->dom);
        }
        return dom_match(nm->dom, c, 0);
    case GN_URI: /* RFC 5280 4.2.1.10: "host" is that host only, ".domain" any host below it */
        return dom_match(nm->dom, c, 0);
    case GN_IP: /* RFC 5280 4.2.1.10: same family and (ip & mask) == (addr & mask) */
        if (c.len != 2 * nm->v.len)
            return 0;
        for (size_t i = 0; i < nm->v.len; i++)
            if ((nm->v.p[i] ^ c.p[i]) & c.p[nm->v.len + i])
                return 0;
        return 1;
    case GN_DN:
        return dn_prefix(c, nm->v);
    default:
        return 0;
    }
}

/*
 * Scans one GeneralSubtrees list (the content of [0] or [1]; validated) for constraints of nm's
 * form:  GeneralSubtree ::= SEQUENCE { base GeneralName, minimum [0] BaseDistance DEFAULT 0,
 *                                      maximum [1] BaseDistance OPTIONAL }
 * *any: some constraint has nm's form; *hit: one of them matches.
 */
static int nc_scan(fm_span list, const nc_name *nm, int excluded, int *any, int *hit) {
    fm_der r, s;
    fm_span st, base;
    unsigned tag;
    *any = *hit = 0;
    rd_init(&r, list);
    while (!fm_der_done(&r)) {
        if (fm_der_expect(&r, FM_TAG_SEQUENCE, &st, NULL) != 0)
            return FM_ERR_INVALID_EXTENSION;
        rd_init(&s, st);
        if (fm_der_any(&s, &tag, &base, NULL) != 0)
            return FM_ERR_INVALID_EXTENSION;
        if (tag != nm->tag)
            continue; /* RFC 5280 6.1.3 (b)-(c): constraints apply per name form */
        if (tag == GN_OTHER || tag == GN_X400 || tag == GN_EDI || tag == GN_RID)
            return FM_ERR_UNSUPPORTED_CONSTRAINT_TYPE; /* RFC 5280 4.2.1.10: process or reject */
        *any = 1;
        if (!nm->ok)
            return FM_ERR_UNSUPPORTED_NAME_SYNTAX;
        int m = nc_match(base, nm, excluded);
        if (m == DN_BAD)
            return FM_ERR_UNSUPPORTED_NAME_SYNTAX;
        if (m == DN_BUDGET)
            return FM_ERR_BUDGET_EXCEEDED;
        if (m) {
            *hit = 1;
            return FM_OK;
        }
    }
    return FM_OK;
}

/* ---- dNSName constraint index --------------------------------------------------------------
 * A CA with many dNSName subtrees (thousands fit in a certificate, and path building can meet the
 * CA once per presented copy of it) has them looked up by hash rather than scanned: a plain
 * dNSName then costs two lookups per label instead of one comparison per subtree, so the 2^20
 * names x subtrees a verification may check stay well inside its CPU bound. The answer is the
 * scan's: some constraint c with dom_match(name, c, 1). Wildcard and malformed names, and other
 * forms, are still scanned. */
#define DNS_INDEX_MIN 16u /* fewer dNSName subtrees are scanned */

typedef struct dns_index {
    fm_span *keys; /* open addressing on dns_hash; p NULL = free; NULL = no index (scan) */
    size_t mask;   /* slots - 1, a power of two */
    int all;       /* a "" constraint: every name */
} dns_index;

/* FNV-1a over the lowercased octets, last octet first: the hash of every suffix of a name comes
 * out of one pass from its end (dns_index_match), so matching a name costs its length, not its
 * length times its labels. */
static uint64_t dns_hash(const uint8_t *p, size_t n) {
    uint64_t h = FM_FOLD_HASH_SEED;
    for (size_t i = n; i-- > 0;)
        h = fm_fold_hash_step(h, p[i]);
    return h;
}

/* The index of the dNSName subtrees of `list` (validated). Leaves idx->keys NULL (scan instead)
 * when they are few or memory is short. */
static void dns_index_build(fm_span list, dns_index *idx) {
    fm_der r, s;
    fm_span st, base;
    unsigned tag;
    size_t n = 0, slots = 64;
    memset(idx, 0, sizeof *idx);
    for (int pass = 0; pass < 2; pass++) {
        rd_init(&r, list);
        while (!fm_der_done(&r)) {
            if (fm_der_expect(&r, FM_TAG_SEQUENCE, &st, NULL) != 0)
                return;
            rd_init(&s, st);
            if (fm_der_any(&s, &tag, &base, NULL) != 0 || tag != GN_DNS)
                continue;
            if (pass == 0) {
                n++;
            } else if (base.len == 0) {
                idx->all = 1;
            } else {
                size_t j = (size_t)dns_hash(base.p, base.len) & idx->mask;
                while (idx->keys[j].p != NULL)
                    j = (j + 1) & idx->mask;
                idx->keys[j] = base;
            }
        }
        if (pass == 0) {
            if (n < DNS_INDEX_MIN)
                return;
            while (slots < 2 * n) /* n <= list.len: no overflow */
                slots *= 2;
            if ((idx->keys = calloc(slots, sizeof *idx->keys)) == NULL)
                return;
            idx->mask = slots - 1;
        }
    }
}

/* Whether the index holds p[0..n), whose dns_hash is h. */
static int dns_index_has(const dns_index *idx, uint64_t h, const uint8_t *p, size_t n) {
    for (size_t j = (size_t)h & idx->mask; idx->keys[j].p; j = (j + 1) & idx->mask)
        if (idx->keys[j].len == n && eq_nocase(idx->keys[j].p, p, n))
            return 1;
    return 0;
}

/* dom_match(name, c, 1) for some constraint c of the index; `name` is a valid DNS name (no
 * leading dot). "d" matches name == d and the names below d (a suffix after a dot); ".d" the names
 * strictly below d (a suffix starting at a dot that is not the first octet). One pass from the
 * end: the hash of the suffix from k on is known when octet k has been hashed. */
static int dns_index_match(const dns_index *idx, fm_span name) {
    if (idx->all)
        return 1;
    uint64_t h = FM_FOLD_HASH_SEED;
    for (size_t k = name.len; k-- > 0;) {
        h = fm_fold_hash_step(h, name.p[k]);
        /* the name itself; "d" after a dot at 1..len-2; ".d" from such a dot */
        int whole = k == 0, below = k >= 2 && name.p[k - 1] == '.';
        int dotted = k >= 1 && k + 1 < name.len && name.p[k] == '.';
        if ((whole || below || dotted) && dns_index_has(idx, h, name.p + k, name.len - k))
            return 1;
    }
    return 0;
}

/* One GeneralSubtrees list for nm: through its index when it has one and nm is a valid plain
 * dNSName, else nc_scan. */
static int nc_list(fm_span list, const dns_index *ix, const nc_name *nm, int excluded, int *any,
                   int *hit) {
    if (ix->keys != NULL && nm->tag == GN_DNS && !nm->wild && nm->ok) {
        *any = 1;
        *hit = dns_index_match(ix, nm->dom);
        return FM_OK;
    }
    return nc_scan(list, nm, excluded, any, hit);
}

/* One name against both lists: excluded first (RFC 5280 6.1.3 (b)-(c); an excluded match wins).
 * ix: the indexes of the permitted and excluded lists. */
static int nc_name_check(const fm_cert *ca, const dns_index ix[2], const nc_name *nm,
                         int *perm_fail) {
    int any, hit;
    int rc = nc_list(ca->nc_excluded, &ix[1], nm, 1, &any, &hit);
    if (rc != FM_OK)
        return rc;
    if (hit)
        return FM_ERR_EXCLUDED_VIOLATION;
    rc = nc_list(ca->nc_permitted, &ix[0], nm, 0, &any, &hit);
    if (rc == FM_OK && any && !hit)
        *perm_fail = 1;
    return rc;
}

/* Does a validated GeneralSubtrees list hold a constraint of form `tag`? */
static int has_form(fm_span list, unsigned tag) {
    fm_der r, s;
    fm_span st;
    unsigned t;
    rd_init(&r, list);
    while (!fm_der_done(&r)) {
        if (fm_der_expect(&r, FM_TAG_SEQUENCE, &st, NULL) != 0)
            return 0;
        rd_init(&s, st);
        if (fm_der_any(&s, &t, NULL, NULL) == 0 && t == tag)
            return 1;
    }
    return 0;
}

/* Character i of a string of w-octet big-endian characters (1, 2 or 4). */
static uint32_t code_point(fm_span v, size_t w, size_t i) {
    uint32_t c = 0;
    for (size_t k = 0; k < w; k++)
        c = c << 8 | v.p[w * i + k];
    return c;
}

/*
 * A commonName value as the DNS-ID it may stand for, as OpenSSL's cn2dnsid (used by
 * NAME_CONSTRAINTS_check_CN): the string is read as text (one octet a character for UTF8String,
 * NumericString, PrintableString, TeletexString, IA5String, VisibleString and the two time
 * types; BMPString and UniversalString with their ASCII characters only), trailing
 * NULs are dropped, an embedded NUL is an error, and it is a hostname when it has two or more
 * labels of letters, digits, '_' and inner hyphens. '_' is
 * accepted as OpenSSL accepts it (its "deviation from strict DNS name syntax"): names such as
 * "a_b.evil.com" or "_svc.evil.com" are what clients that fall back to the CN may match, so an
 * excluded dNSName subtree must catch them. '*' is not accepted, so "*.evil.com" is no DNS-ID (as
 * in OpenSSL). No label length limits (OpenSSL has none): a long label does not take a name out
 * of the constraints. Returns 1 with *out (in v or buf), 0 when
 * the value is no hostname, -1 when it cannot be read or is of a type that is no text (fail
 * closed).
 */
static int cn_dnsid(unsigned tag, fm_span v, uint8_t buf[CN_MAX_WIDE], fm_span *out) {
    size_t w, n, i;
    switch (tag) { /* the types ASN1_STRING_to_UTF8 reads (its tag2nbyte table) */
    case FM_TAG_UTF8_STRING:
    case 0x12u: /* NumericString (its character set unchecked, as OpenSSL) */
    case FM_TAG_PRINTABLE_STRING:
    case FM_TAG_T61_STRING:
    case FM_TAG_IA5_STRING:
    case 0x17u: /* UTCTime, GeneralizedTime, VisibleString: read as text (OpenSSL 3 refuses */
    case 0x18u: /* a certificate whose CN is one of these; here such a CN is still checked) */
    case 0x1Au:
        w = 1;
        break;
    case FM_TAG_BMP_STRING:
        w = 2;
        break;
    case FM_TAG_UNIVERSAL_STRING:
        w = 4;
        break;
    default:
        return -1; /* no text to read: OpenSSL's cn2dnsid fails the verification, so do we */
    }
    if (v.len % w != 0)
        return -1;
    n = v.len / w;
    while (n > 0 && code_point(v, w, n - 1) == 0)
        n--;
    for (i = 0; i < n; i++)
        if (code_point(v, w, i) == 0)
            return -1; /* embedded NUL: "x.evil.com\0.example.com" (OpenSSL: unsupported syntax) */
    for (i = 0; i < n; i++)
        if (code_point(v, w, i) >= 0x80)
            return 0; /* not ASCII: no hostname (an IDN appears as A-labels, RFC 6125 6.4.2) */
    if (w == 1) {
        *out = span(v.p, n);
    } else {
        if (n > CN_MAX_WIDE)
            return -1;
        for (i = 0; i < n; i++)
            buf[i] = (uint8_t)code_point(v, w, i);
        *out = span(buf, n);
    }
    /* OpenSSL cn2dnsid: '-' and '.' never first or last; next to a '.' neither '.' nor '-'. */
    const uint8_t *p = out->p;
    int dot = 0;
    for (i = 0; i < n; i++) {
        if (is_alpha(p[i]) || is_digit(p[i]) || p[i] == '_')
            continue;
        if (i == 0 || i == n - 1)
            return 0;
        if (p[i] == '-')
            continue;
        if (p[i] != '.' || p[i + 1] == '.' || p[i + 1] == '-' || p[i - 1] == '-')
            return 0;
        dot = 1;
    }
    return dot;
}

/* The weight of a directoryName (a validated Name TLV): what comparing it with another costs.
 * rdn_eq counts each attribute of an RDN of k attributes (L octets) among the attributes of
 * both RDNs: 2k^2 attribute comparisons, reading (and canonicalising, a character at a time:
 * runs of spaces included) up to 2kL octets. So an RDN weighs k^2 + k * (L / 8), a Name the
 * sum over its RDNs (at least 1): a Name of one-attribute RDNs under 8 octets weighs one per
 * RDN, 17 one-octet attributes in one RDN weigh 323 (a length-only weight, 1 + (len / 64)^2,
 * called them 2 while they cost ~600 comparisons: 3 s for a chain within the budget; and
 * L / 64 let 32 attributes padded with 1,800 spaces each cost 28 ms). */
static size_t dn_weight(fm_span name) {
    fm_der r, s;
    fm_span seq, set;
    size_t w = 0;
    rd_init(&r, name);
    if (fm_der_expect(&r, FM_TAG_SEQUENCE, &seq, NULL) != 0)
        return 1 + name.len / 64;
    rd_init(&r, seq);
    while (!fm_der_done(&r) && fm_der_expect(&r, FM_TAG_SET, &set, NULL) == 0) {
        size_t k = 0;
        rd_init(&s, set);
        while (!fm_der_done(&s) && k <= DN_MAX_AVAS && fm_der_any(&s, NULL, NULL, NULL) == 0)
            k++; /* (past DN_MAX_AVAS, rdn_eq stops once it has counted) */
        w += k * k + k * (set.len / 8);
    }
    return w ? w : 1;
}

/* The weight of one name or constraint in fm_nc_check's plain count (every name against every
 * constraint, most of them skipped as another form): its size in short names. directoryNames
 * compared with directoryName constraints count again, by dn_weight. */
static size_t nc_weight(fm_span v) { return 1 + v.len / 64; }

/* A name's weight: its size (nc_weight), times how much more one comparison of its form costs
 * than the hash-indexed dNSName's (measured: e-mail, URI and wildcard names are scanned against
 * every constraint, ~50 ns a pair; iPAddress ~12 ns): 2^20 weighted pairs stay near 6 ms. */
static size_t nc_name_weight(unsigned tag, fm_span v) {
    size_t w = nc_weight(v);
    if (tag == GN_EMAIL || tag == GN_URI || (tag == GN_DNS && v.len >= 1 && v.p[0] == '*'))
        return 8 * w;
    return tag == GN_IP ? 2 * w : w;
}

/* GeneralSubtrees ::= SEQUENCE SIZE (1..MAX) OF GeneralSubtree (content; see nc_scan).
 * Adds the subtrees' weights into *count, and the directoryNames' number and dn_weight into
 * dn[0] and dn[1]. */
static int subtrees_ok(fm_span list, size_t *count, size_t dn[2]) {
    fm_der r, s;
    fm_span st, base, v;
    unsigned tag;
    int got;
    rd_init(&r, list);
    while (!fm_der_done(&r)) {
        if (fm_der_expect(&r, FM_TAG_SEQUENCE, &st, NULL) != 0)
            return FM_ERR_INVALID_EXTENSION;
        rd_init(&s, st);
        if (fm_der_any(&s, &tag, &base, NULL) != 0 || !gn_ok(tag, base) ||
            !constraint_ok(tag, base))
            return FM_ERR_INVALID_EXTENSION;
        /* RFC 5280 4.2.1.10: "minimum MUST be zero, and maximum MUST be absent". A present
         * minimum of 0 (a DEFAULT written out) is tolerated. */
        if ((got = fm_der_optional(&s, FM_TAG_CONTEXT(0), &v, NULL)) < 0 ||
            (got && fm_der_integer_ok(v) != 0))
            return FM_ERR_INVALID_EXTENSION;
        if (got && !(v.len == 1 && v.p[0] == 0))
            return FM_ERR_SUBTREE_MINMAX;
        if ((got = fm_der_optional(&s, FM_TAG_CONTEXT(1), &v, NULL)) < 0 ||
            (got && fm_der_integer_ok(v) != 0))
            return FM_ERR_INVALID_EXTENSION;
        if (got)
            return FM_ERR_SUBTREE_MINMAX;
        if (!fm_der_done(&s))
            return FM_ERR_INVALID_EXTENSION;
        *count += nc_weight(base);
        if (tag == GN_DN)
            dn[0]++, dn[1] += dn_weight(base);
    }
    return FM_OK;
}

/*
 * NameConstraints ::= SEQUENCE {                     (RFC 5280 4.2.1.10)
 *   permittedSubtrees [0] GeneralSubtrees OPTIONAL,
 *   excludedSubtrees  [1] GeneralSubtrees OPTIONAL }
 * fm_cert holds the contents of [0] and [1] (len 0 when absent).
 */
static int nc_validate_count(const fm_cert *ca, size_t *count, size_t dn[2]) {
    *count = dn[0] = dn[1] = 0;
    /* RFC 5280 4.2.1.10: "either the permittedSubtrees field or the excludedSubtrees field MUST
     * be present" (and a present one is SIZE (1..MAX)). */
    if (ca->nc_permitted.len == 0 && ca->nc_excluded.len == 0)
        return FM_ERR_INVALID_EXTENSION;
    int rc = subtrees_ok(ca->nc_permitted, count, dn);
    return rc != FM_OK ? rc : subtrees_ok(ca->nc_excluded, count, dn);
}

int fm_nc_validate(const fm_cert *ca) {
    size_t n, dn[2];
    if (!ca)
        return FM_ERR_INVALID_ARGUMENT;
    return (ca->ext_flags & FM_X_NC) ? nc_validate_count(ca, &n, dn) : FM_OK;
}

/* SubjectAltName ::= GeneralNames ::= SEQUENCE SIZE (1..MAX) OF GeneralName (RFC 5280 4.2.1.6).
 * On success *names is a reader over the entries and *count their number. */
static int san_open(const fm_cert *c, fm_der *names, size_t *count) {
    fm_der r;
    fm_span seq, v;
    unsigned tag;
    *count = 0;
    rd_init(names, span(NULL, 0));
    if (!(c->ext_flags & FM_X_SAN) && c->san.len == 0)
        return FM_OK;
    rd_init(&r, c->san);
    if (fm_der_expect(&r, FM_TAG_SEQUENCE, &seq, NULL) != 0 || !fm_der_done(&r) || seq.len == 0)
        return FM_ERR_INVALID_EXTENSION;
    rd_init(&r, seq);
    *names = r;
    while (!fm_der_done(&r)) {
        if (fm_der_any(&r, &tag, &v, NULL) != 0 || !gn_ok(tag, v) ||
            (tag == GN_IP && v.len != 4 && v.len != 16)) /* RFC 5280 4.2.1.6: 4 or 16 octets */
            return FM_ERR_INVALID_EXTENSION;
        (*count)++;
    }
    return FM_OK;
}

int fm_san_validate(const fm_cert *c) {
    fm_der names;
    size_t n;
    return c ? san_open(c, &names, &n) : FM_ERR_INVALID_ARGUMENT;
}

static int nc_names_check(const fm_cert *ca, const fm_cert *sub, const dns_index ix[2],
                          fm_der names, int cn_dns, size_t n_attrs, int *perm_fail);

#define NC_DN_PAIR 16u /* a directoryName unit's cost over a short-name pair's (fm_nc_check) */

int fm_nc_check(const fm_cert *ca, const fm_cert *sub, unsigned cn_rule, uint32_t max_checks,
                uint64_t *spent) {
    fm_der names;
    ava_iter it;
    fm_span type, v;
    unsigned tag;
    /* dn_cons, dn_names: how many directoryNames, and their total weight */
    size_t n_cons, dn_cons[2], dn_names[2] = {0, 0}, n_san, n_attrs = 0, n_cns = 0, n_names,
           w_emails = 0, w_san = 0, w_cns = 0;
    int rc, more, perm_fail = 0;

    if (spent)
        *spent = 0;
    if (!ca || !sub)
        return FM_ERR_INVALID_ARGUMENT;
    if (!(ca->ext_flags & FM_X_NC))
        return FM_OK;
    if ((rc = nc_validate_count(ca, &n_cons, dn_cons)) != FM_OK ||
        (rc = san_open(sub, &names, &n_san)) != FM_OK)
        return rc;

    /* Subject: the whole DN is a directoryName when non-empty (RFC 5280 4.2.1.10); its
     * emailAddress attributes are rfc822Names (RFC 5280 4.1.2.6, 4.2.1.10). */
    if (sub->subject.len) {
        if (ava_start(&it, sub->subject) != 0)
            return FM_ERR_MALFORMED_CERT;
        while ((more = ava_next(&it, &type, &tag, &v)) == 1) {
            n_attrs++;
            if (FM_OID_EQ(type, OID_EMAIL))
                w_emails += nc_name_weight(GN_EMAIL, v);
            if (FM_OID_EQ(type, OID_CN)) {
                n_cns++;
                w_cns += nc_weight(v); /* by size: a 16 KB CN is no short name */
            }
        }
        if (more < 0)
            return FM_ERR_MALFORMED_CERT;
    }
    /* The commonNames of an end entity are DNS names when they look like hostnames and ca
     * constrains dNSNames, so that a client still matching hostnames against the CN cannot be
     * given "CN=x.evil.com" by a CA that excludes evil.com, nor a backend authorising on the
     * subject be given "CN=admin.corp.example" by a CA constrained to partner.example. When:
     * FM_NC_CN_NO_DNS_SAN whenever the leaf has no dNSName SAN, beside e-mail, URI or IP SANs too
     * (OpenSSL's check_name_constraints: has_san_id(x, GEN_DNS), and NAME_CONSTRAINTS_check_CN);
     * FM_NC_CN_NO_SAN only for a leaf without subjectAltNames, the server certificate whose CN
     * a TLS client may still take for its hostname (as modern clients and BetterTLS read it);
     * FM_NC_CN_ALWAYS whatever SANs the leaf has (a CA constrained to partner.example could
     * otherwise put CN=admin.corp.example beside one SAN x.partner.example).
     * CA certificates (intermediates) are not checked, as in OpenSSL. */
    size_t n_dns_san = 0;
    for (fm_der r = names; !fm_der_done(&r);) {
        fm_der_any(&r, &tag, &v, NULL); /* validated by san_open */
        n_dns_san += tag == GN_DNS;
        w_san += nc_name_weight(tag, v);
        if (tag == GN_DN)
            dn_names[0]++, dn_names[1] += dn_weight(v);
    }
    int cn_dns = n_cns && !((sub->ext_flags & FM_X_BC) && sub->is_ca) &&
                 (cn_rule == FM_NC_CN_ALWAYS     ? 1
                  : cn_rule == FM_NC_CN_NO_DNS_SAN ? n_dns_san == 0
                                                   : n_san == 0) &&
                 (has_form(ca->nc_permitted, GN_DNS) || has_form(ca->nc_excluded, GN_DNS));
    /* the budget counts names x constraints, each weighted by what comparing it costs (a long
     * or many-attribute directoryName counts as many short names): pairs of short names are
     * cheap, and no name is made expensive enough to be worth many. directoryNames compared
     * with directoryName constraints count again: comparing two costs at most ~3 times the sum
     * of their weights (dn_weight: the attributes of an RDN are counted on both sides, and the
     * pairwise comparisons of RDNs of the same size cost at most the lighter one's weight), so
     * all the pairs cost the weight of the names times the number of constraints plus the
     * weight of the constraints times the number of names, each unit NC_DN_PAIR short-name
     * checks (~50 ns: 500 one-attribute names against as many constraints took 26 ms within
     * the plain count) */
    if (n_attrs) {
        n_names = nc_weight(sub->subject);
        dn_names[0]++, dn_names[1] += dn_weight(sub->subject);
    } else {
        n_names = 0;
    }
    n_names += w_san + w_emails + (cn_dns ? w_cns : 0u);
    if (n_names && n_cons > max_checks / n_names)
        return FM_ERR_BUDGET_EXCEEDED;
    /* (at least the constraints' own weight: reading them is work, also for a certificate
     * without names) */
    uint64_t cost = n_names ? (uint64_t)n_cons * n_names : (uint64_t)n_cons;
    if (cost > max_checks)
        return FM_ERR_BUDGET_EXCEEDED;
    /* (each factor is at most the certificate's size: the products cannot wrap) */
    uint64_t dn_cost = ((uint64_t)dn_names[1] * dn_cons[0] + (uint64_t)dn_names[0] * dn_cons[1]);
    if (dn_cost > (max_checks - cost) / NC_DN_PAIR)
        return FM_ERR_BUDGET_EXCEEDED;
    cost += dn_cost * NC_DN_PAIR;
    if (spent)
        *spent = cost;

    dns_index ix[2] = {{NULL, 0, 0}, {NULL, 0, 0}};
    if (n_names > 1) { /* one name: building an index costs what one scan does */
        dns_index_build(ca->nc_permitted, &ix[0]);
        dns_index_build(ca->nc_excluded, &ix[1]);
    }
    rc = nc_names_check(ca, sub, ix, names, cn_dns, n_attrs, &perm_fail);
    free(ix[0].keys);
    free(ix[1].keys);
    if (rc != FM_OK)
        return rc;
    return perm_fail ? FM_ERR_PERMITTED_VIOLATION : FM_OK;
}

/* fm_nc_check's walk over the names of `sub`: the subject (a directoryName, and its emailAddress
 * and, with cn_dns, commonName attributes), then the subjectAltNames (`names`). */
static int nc_names_check(const fm_cert *ca, const fm_cert *sub, const dns_index ix[2],
                          fm_der names, int cn_dns, size_t n_attrs, int *perm_fail) {
    ava_iter it;
    fm_span type, v;
    unsigned tag;
    nc_name nm;
    uint8_t wide[CN_MAX_WIDE];
    int rc;
    if (n_attrs) {
        name_prep(&nm, GN_DN, sub->subject);
        if ((rc = nc_name_check(ca, ix, &nm, perm_fail)) != FM_OK)
            return rc;
        ava_start(&it, sub->subject);
        while (ava_next(&it, &type, &tag, &v) == 1) {
            if (FM_OID_EQ(type, OID_EMAIL)) {
                name_prep(&nm, GN_EMAIL, v);
                nm.ok = nm.ok && tag == FM_TAG_IA5_STRING; /* PKCS #9: emailAddress is IA5String */
            } else if (cn_dns && FM_OID_EQ(type, OID_CN)) {
                fm_span host;
                int got = cn_dnsid(tag, v, wide, &host);
                if (got < 0)
                    return FM_ERR_UNSUPPORTED_NAME_SYNTAX;
                if (got == 0)
                    continue; /* "alice", "John Smith": not a DNS name */
                memset(&nm, 0, sizeof nm);
                nm.tag = GN_DNS;
                nm.v = nm.dom = host;
                nm.ok = 1; /* hostname syntax checked by cn_dnsid (no length limits) */
            } else {
                continue;
            }
            if ((rc = nc_name_check(ca, ix, &nm, perm_fail)) != FM_OK)
                return rc;
        }
    }
    while (!fm_der_done(&names)) {
        fm_der_any(&names, &tag, &v, NULL); /* validated by san_open */
        name_prep(&nm, tag, v);
        if ((rc = nc_name_check(ca, ix, &nm, perm_fail)) != FM_OK)
            return rc;
    }
    return FM_OK;
}

/* ---- expected-name matching --------------------------------------------------------------- */

/* A dNSName SAN entry against a (valid) reference DNS name, RFC 6125 6.4.1 and 6.4.3 (as kept
 * by RFC 9525): case-insensitive; a wildcard only as the whole leftmost label "*.", standing for
 * exactly one label, never for the bare parent, and never over a single label ("*.com", "*"). */
static int dns_id_match(fm_span pat, fm_span ref) {
    if (pat.len >= 2 && pat.p[0] == '*' && pat.p[1] == '.') {
        fm_span rest = span(pat.p + 2, pat.len - 2);
        const uint8_t *dot = find(ref, '.');
        if (!dns_ok(rest) || !find(rest, '.') || !dot)
            return 0;
        return span_eq_nocase(rest, span(dot + 1, ref.len - (size_t)(dot + 1 - ref.p)));
    }
    return dns_ok(pat) && span_eq_nocase(pat, ref);
}

int fm_name_match(const fm_cert *leaf, uint32_t kind, const uint8_t *name, size_t len) {
    static const unsigned tags[] = {0, GN_DNS, GN_IP, GN_EMAIL, GN_URI};
    static const int miss_codes[] = {0, FM_ERR_HOSTNAME_MISMATCH, FM_ERR_IP_ADDRESS_MISMATCH,
                                     FM_ERR_EMAIL_MISMATCH, FM_ERR_HOSTNAME_MISMATCH};
    fm_span ref = span(name, len), v, l, d, rl = {NULL, 0}, rd = {NULL, 0};
    fm_der names;
    unsigned tag;
    size_t n;
    int found = 0;

    if (kind < FM_NAME_DNS || kind > FM_NAME_URI)
        return FM_ERR_INVALID_ARGUMENT;
    int miss = miss_codes[kind];
    if (!leaf || !name || len == 0)
        return miss;
    /* The reference identity must itself be well formed (RFC 5280 4.2.1.6 forms): a DNS name in
     * preferred syntax (no trailing dot, empty label, '*' or '_') that is no IPv4 spelling, 4 or
     * 16 octets, a mailbox. */
    if ((kind == FM_NAME_DNS && !host_name_ok(ref)) || (kind == FM_NAME_IP && len != 4 && len != 16) ||
        (kind == FM_NAME_EMAIL && !mailbox(ref, &rl, &rd)))
        return miss;
    /* subjectAltName only, no fallback to the subject's CN (RFC 9525 drops CN-IDs; as
     * rustls-webpki and pyca/cryptography). A malformed SAN matches nothing. */
    if (san_open(leaf, &names, &n) != FM_OK)
        return miss;
    while (!fm_der_done(&names)) {
        fm_der_any(&names, &tag, &v, NULL); /* validated by san_open */
        if (tag != tags[kind])
            continue;
        if (kind == FM_NAME_DNS)
            found |= dns_id_match(v, ref);
        else if (kind == FM_NAME_EMAIL) /* local part exact (RFC 5321 2.4), domain any case */
            found |= mailbox(v, &l, &d) && fm_span_eq(l, rl) && span_eq_nocase(d, rd);
        else /* iPAddress octets, URI bytes */
            found |= fm_span_eq(v, ref);
    }
    return found ? FM_OK : miss;
}
