/* fm_der.h - strict, bounded DER reader (X.690 distinguished encoding rules). */
#ifndef FM_DER_H
#define FM_DER_H

#include <stddef.h>
#include <stdint.h>

/* A view into caller-owned bytes; never owns memory. */
typedef struct fm_span {
    const uint8_t *p;
    size_t len;
} fm_span;

/* A reader over [p, end). Every read checks lengths against `end`. */
typedef struct fm_der {
    const uint8_t *p;
    const uint8_t *end;
} fm_der;

/* Universal and context tags used by X.509 (single identifier octet; high tag numbers are
 * rejected as X.509 never uses them). */
#define FM_TAG_BOOLEAN 0x01u
#define FM_TAG_INTEGER 0x02u
#define FM_TAG_BIT_STRING 0x03u
#define FM_TAG_OCTET_STRING 0x04u
#define FM_TAG_NULL 0x05u
#define FM_TAG_OID 0x06u
#define FM_TAG_UTF8_STRING 0x0Cu
#define FM_TAG_PRINTABLE_STRING 0x13u
#define FM_TAG_T61_STRING 0x14u
#define FM_TAG_IA5_STRING 0x16u
#define FM_TAG_UTC_TIME 0x17u
#define FM_TAG_GENERALIZED_TIME 0x18u
#define FM_TAG_UNIVERSAL_STRING 0x1Cu
#define FM_TAG_BMP_STRING 0x1Eu
#define FM_TAG_SEQUENCE 0x30u
#define FM_TAG_SET 0x31u
#define FM_TAG_CONTEXT(n) (0x80u | (n))           /* [n] IMPLICIT, primitive */
#define FM_TAG_CONTEXT_CONS(n) (0xA0u | (n))      /* [n] EXPLICIT or constructed */

static inline void fm_der_init(fm_der *r, const uint8_t *p, size_t len) {
    r->p = p;
    r->end = p ? p + len : p; /* an empty span may have no pointer: NULL + 0 is undefined */
}
static inline void fm_der_init_span(fm_der *r, fm_span s) { fm_der_init(r, s.p, s.len); }
static inline int fm_der_done(const fm_der *r) { return r->p == r->end; }
static inline size_t fm_der_left(const fm_der *r) { return (size_t)(r->end - r->p); }

/* Tag of the next element, or -1 at the end of the input. */
int fm_der_peek(const fm_der *r);

/* Reads one TLV of any tag: *tag gets the identifier octet, content the value, full (may be NULL)
 * the whole TLV. Returns 0, or -1 on truncation, non-minimal/indefinite length or a high tag. */
int fm_der_any(fm_der *r, unsigned *tag, fm_span *content, fm_span *full);

/* Whether identifier octet `tag` is a universal type in its constructed form other than
 * SEQUENCE and SET: a string in pieces (BER, not DER, X.690 10.2). An attribute value spelled
 * so ("Ev" + "il") would print as its joined text (OpenSSL joins it) while comparing as other
 * bytes: refused wherever names are read. */
static inline int fm_constructed_string(unsigned tag) {
    return (tag & 0xE0u) == 0x20u && tag != 0x30u && tag != 0x31u;
}

/* Reads one TLV that must have identifier octet `tag`. Returns 0 or -1. */
int fm_der_expect(fm_der *r, unsigned tag, fm_span *content, fm_span *full);

/* Reads the next TLV only when its tag is `tag`: returns 1 when read, 0 when absent, -1 on error. */
int fm_der_optional(fm_der *r, unsigned tag, fm_span *content, fm_span *full);

/* BOOLEAN content: exactly one octet 0x00 or 0xFF (DER). Returns 0/1, or -1 when invalid. */
int fm_der_bool(fm_span content);

/* OBJECT IDENTIFIER content checks: non-empty, its last octet ends a subidentifier, and no
 * subidentifier starts with a padding 0x80 octet. Returns 1 when valid, 0 otherwise. */
int fm_der_oid_ok(fm_span content);

/* INTEGER content checks: non-empty and minimally encoded. Returns 0 or -1. */
int fm_der_integer_ok(fm_span content);
/* Small non-negative INTEGER into *out (must fit 31 bits). Returns 0 or -1. */
int fm_der_small_uint(fm_span content, int *out);
/* A count of any size, non-negative INTEGER (pathLenConstraint, SkipCerts: INTEGER (0..MAX))
 * into *out, INT_MAX for every value above it (a bound no path reaches). Returns 0 or -1. */
int fm_der_count(fm_span content, int *out);

/* BIT STRING content -> bits (after the unused-bits octet). *unused receives the count; DER
 * requires unused bits to be zero and an empty string to have unused = 0. Returns 0 or -1. */
int fm_der_bit_string(fm_span content, fm_span *bits, unsigned *unused);
/* A NamedBitList BIT STRING content (KeyUsage, ReasonFlags) -> *mask, bit n of the list (0 = the
 * first, most significant bit) as 1u << n for n < 31; any bit set from position 31 on sets
 * FM_DER_BITS_BEYOND (bit 31), so that *mask is 0 exactly when no bit is set. Bits past the named
 * ones are valid DER and name nothing (OpenSSL and pyca/cryptography read them so); trailing zero
 * octets, which DER (X.690 11.2.2) leaves out, are read the same way. Returns 0 or -1. */
#define FM_DER_BITS_BEYOND 0x80000000u
int fm_der_named_bits(fm_span content, uint32_t *mask);

/* UTCTime / GeneralizedTime (RFC 5280 4.1.2.5 profile: Z, seconds, no fractions) -> unix seconds.
 * Returns 0 or -1. */
int fm_der_time(unsigned tag, fm_span content, int64_t *out);

/* Extension ::= SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }
 * (RFC 5280 4.1, shared by certificates, CRLs and CRL entries). Reads the next one from `r`.
 * Returns 0 or -1 (malformed). */
int fm_der_extension(fm_der *r, fm_span *oid, int *critical, fm_span *value);

/* The SIGNED envelope shared by certificates and CRLs (RFC 5280 4.1, 5.1):
 *   SEQUENCE { tbs SEQUENCE, signatureAlgorithm AlgorithmIdentifier, signatureValue BIT STRING }
 * filling the whole TLV, with no unused bits in the signature. Any output may be NULL.
 * Returns 0 or -1 (malformed). */
int fm_der_signed(const uint8_t *der, size_t len, fm_span *whole, fm_span *tbs_full,
                  fm_span *tbs, fm_span *sig_alg, fm_span *sig);

/* Byte equality of two spans. */
int fm_span_eq(fm_span a, fm_span b);
/* Compares an OID's content octets with a literal. */
int fm_oid_eq(fm_span oid, const uint8_t *lit, size_t lit_len);
#define FM_OID_EQ(span, lit) fm_oid_eq((span), (lit), sizeof(lit))

#endif /* FM_DER_H */
