/* fm_crl.c - CRL parsing (RFC 5280 section 5) and checking against the issuing CA. Strict DER,
 * offsets into the caller's buffer, no allocation. */
#include <string.h>

#include "fm_crl.h"
#include "fm_crypto.h"

/* id-ce CRL extensions 2.5.29.n */
enum { CE_CRL_NUMBER = 20, CE_REASON = 21, CE_INVALIDITY_DATE = 24, CE_DELTA = 27, CE_IDP = 28,
       CE_CERT_ISSUER = 29, CE_AKI = 35, CE_FRESHEST = 46 };

#define BAD FM_ERR_CRL_MALFORMED
#define TRY(expr)                \
    do {                         \
        if ((expr) != 0)         \
            return BAD;          \
    } while (0)

static int ce_oid(fm_span oid) {
    if (oid.len == 3 && oid.p[0] == 0x55 && oid.p[1] == 0x1D)
        return oid.p[2];
    return -1;
}

/* Non-negative INTEGER content (cRLNumber, BaseCRLNumber: 0..MAX, at most 20 octets). */
static int crl_number(fm_span v, fm_span *out) {
    fm_der r;
    fm_der_init_span(&r, v);
    if (fm_der_expect(&r, FM_TAG_INTEGER, out, NULL) || !fm_der_done(&r) ||
        fm_der_integer_ok(*out) || (out->p[0] & 0x80) || out->len > 21)
        return BAD;
    return FM_OK;
}

/* IssuingDistributionPoint ::= SEQUENCE {                                   (RFC 5280 5.2.5)
 *   distributionPoint [0] DistributionPointName OPTIONAL,
 *   onlyContainsUserCerts [1] BOOLEAN DEFAULT FALSE, onlyContainsCACerts [2] BOOLEAN DEFAULT FALSE,
 *   onlySomeReasons [3] ReasonFlags OPTIONAL, indirectCRL [4] BOOLEAN DEFAULT FALSE,
 *   onlyContainsAttributeCerts [5] BOOLEAN DEFAULT FALSE } */
static int parse_idp(fm_span v, fm_crl *c) {
    fm_der r;
    fm_span seq, b;
    int rc;
    fm_der_init_span(&r, v);
    if (fm_der_expect(&r, FM_TAG_SEQUENCE, &seq, NULL) || !fm_der_done(&r))
        return BAD;
    c->idp = v;
    fm_der_init_span(&r, seq);
    if ((rc = fm_der_optional(&r, FM_TAG_CONTEXT_CONS(0), &b, NULL)) < 0)
        return BAD;
    if (rc) {
        if (fm_dpname_parse(b, &c->idp_dp_kind, &c->idp_dp) != 0)
            return BAD;
        c->has_idp_dp = 1;
    }
    static const uint32_t flag_for[6] = {0, FM_CRL_ONLY_USER, FM_CRL_ONLY_CA, 0, 0, FM_CRL_ONLY_ATTR};
    for (unsigned n = 1; n <= 5; n++) {
        if ((rc = fm_der_optional(&r, FM_TAG_CONTEXT(n), &b, NULL)) < 0)
            return BAD;
        if (!rc)
            continue;
        if (n == 3) { /* onlySomeReasons ReasonFlags: nine named bits */
            if (fm_der_named_bits(b, &c->idp_reasons))
                return BAD;
            c->flags |= FM_CRL_SOME_REASONS;
            continue;
        }
        /* one octet, TRUE when not zero (BER): a CA's 0x01 means TRUE as OpenSSL reads it, and
         * refusing its CRL for the encoding would leave the previous CRL in force */
        if (b.len != 1)
            return BAD;
        int val = b.p[0] != 0;
        if (val && n == 4)
            c->indirect = 1;
        else if (val)
            c->flags |= flag_for[n];
    }
    if (!fm_der_done(&r))
        return BAD;
    /* RFC 5280 5.2.5: at most one of the three "only" flags may be set */
    uint32_t only = c->flags & (FM_CRL_ONLY_USER | FM_CRL_ONLY_CA | FM_CRL_ONLY_ATTR);
    if (only & (only - 1))
        return BAD;
    return FM_OK;
}

/* crlExtensions (RFC 5280 5.2): AKI, cRLNumber, deltaCRLIndicator (critical), IDP (critical),
 * freshestCRL; an unknown critical extension makes the CRL unusable (5.2). */
static int parse_crl_extensions(fm_span exts, fm_crl *c) {
    fm_der r;
    fm_span oid, value;
    fm_der_init_span(&r, exts);
    uint64_t seen = 0;
    while (!fm_der_done(&r)) {
        int critical;
        TRY(fm_der_extension(&r, &oid, &critical, &value));
        int id = ce_oid(oid);
        if (id >= 0 && id < 64) {
            if (seen & ((uint64_t)1 << id))
                return BAD; /* duplicate extension */
            seen |= (uint64_t)1 << id;
        }
        switch (id) {
        case CE_CRL_NUMBER: /* 5.2.3: MUST be non-critical */
            if (critical || crl_number(value, &c->number))
                return BAD;
            c->flags |= FM_CRL_HAS_NUMBER;
            break;
        case CE_DELTA: /* 5.2.4: MUST be critical */
            if (!critical || crl_number(value, &c->base_number))
                return BAD;
            c->flags |= FM_CRL_DELTA;
            break;
        case CE_IDP: /* 5.2.5: MUST be critical */
            if (!critical || parse_idp(value, c))
                return BAD;
            c->flags |= FM_CRL_HAS_IDP;
            break;
        case CE_AKI: {
            fm_der a;
            fm_span seq;
            fm_der_init_span(&a, value);
            if (fm_der_expect(&a, FM_TAG_SEQUENCE, &seq, NULL) || !fm_der_done(&a))
                return BAD;
            fm_der_init_span(&a, seq);
            if (fm_der_optional(&a, FM_TAG_CONTEXT(0), &c->aki, NULL) < 0)
                return BAD;
            break;
        }
        case CE_FRESHEST: /* 5.2.6: MUST be non-critical (delta CRLs are given, not fetched) */
            if (critical)
                return BAD;
            break;
        default:
            if (critical)
                return FM_ERR_CRL_UNSUPPORTED;
        }
    }
    return FM_OK;
}

/* The CRLReason of a reasonCode extension's value: a code RFC 5280 5.3.1 defines, else
 * unspecified (0): a code it does not define (7, or a later X.509 one such as 11,
 * weakAlgorithmOrKey) or a malformed value still revokes, and never reads as removeFromCRL. */
static uint32_t reason_code(fm_span value) {
    fm_der v;
    fm_span en;
    fm_der_init_span(&v, value);
    if (fm_der_expect(&v, 0x0Au, &en, NULL) || !fm_der_done(&v) || en.len != 1 ||
        en.p[0] > 10 || en.p[0] == 7)
        return 0;
    return en.p[0];
}

/* crlEntryExtensions: reasonCode (5.3.1), invalidityDate (5.3.2: not used, the entry revokes
 * by itself), certificateIssuer (5.3.3, for indirect CRLs, which are not supported). An entry's
 * extensions never make a CRL say less than its entries: a reasonCode that cannot be read (see
 * reason_code), or two that disagree, read as unspecified; an empty list, an extension given
 * twice, or extensions in a v1 CRL are taken as they are (OpenSSL does so too). Only what the
 * entry requires to be understood and is not (an unknown critical extension; certificateIssuer)
 * makes the CRL unusable (5.3), and a broken extension structure makes it malformed. */
static int parse_entry_extensions(fm_span exts, fm_crl_entry *out) {
    fm_der r;
    fm_span oid, value;
    int have_reason = 0;
    fm_der_init_span(&r, exts);
    while (!fm_der_done(&r)) {
        int critical;
        TRY(fm_der_extension(&r, &oid, &critical, &value));
        int id = ce_oid(oid);
        if (id == CE_REASON) {
            uint32_t code = reason_code(value);
            out->reason = have_reason && code != out->reason ? 0 : code;
            have_reason = 1;
        } else if (id == CE_CERT_ISSUER) {
            return FM_ERR_CRL_UNSUPPORTED;
        } else if (id != CE_INVALIDITY_DATE && critical) {
            return FM_ERR_CRL_UNSUPPORTED;
        }
    }
    return FM_OK;
}

/*
 * CertificateList ::= SEQUENCE { tbsCertList TBSCertList, signatureAlgorithm AlgorithmIdentifier,
 *                                signatureValue BIT STRING }
 * TBSCertList ::= SEQUENCE { version Version OPTIONAL (v2), signature AlgorithmIdentifier,
 *     issuer Name, thisUpdate Time, nextUpdate Time OPTIONAL,
 *     revokedCertificates SEQUENCE OF SEQUENCE { userCertificate CertificateSerialNumber,
 *         revocationDate Time, crlEntryExtensions Extensions OPTIONAL } OPTIONAL,
 *     crlExtensions [0] EXPLICIT Extensions OPTIONAL }
 */
int fm_crl_parse_header(fm_crl *c, const uint8_t *der, size_t len) {
    fm_der r, t, v;
    fm_span tbs, tbs_alg, name, tm, exts;
    unsigned tag;
    int rc;
    memset(c, 0, sizeof *c);
    c->next_update = INT64_MAX;
    TRY(fm_der_signed(der, len, &c->der, &c->tbs, &tbs, &c->sig_alg, &c->sig));
    fm_der_init_span(&t, tbs);
    if (fm_der_peek(&t) == FM_TAG_INTEGER) {
        fm_span ver;
        TRY(fm_der_expect(&t, FM_TAG_INTEGER, &ver, NULL));
        if (fm_der_small_uint(ver, &c->version) || c->version != 1)
            return BAD; /* RFC 5280 5.1.2.1: if present, MUST be v2 */
    }
    TRY(fm_der_expect(&t, FM_TAG_SEQUENCE, NULL, &tbs_alg));
    if (!fm_span_eq(tbs_alg, c->sig_alg))
        return BAD; /* 5.1.1.2: MUST match */
    if (fm_sig_alg_parse(c->sig_alg, &c->sig_alg_id, &c->pss) != FM_OK)
        return BAD;
    TRY(fm_der_expect(&t, FM_TAG_SEQUENCE, &name, &c->issuer));
    if (fm_name_parse(c->issuer) != FM_OK)
        return BAD;
    TRY(fm_der_any(&t, &tag, &tm, NULL));
    TRY(fm_der_time(tag, tm, &c->this_update));
    int nt = fm_der_peek(&t);
    if (nt == FM_TAG_UTC_TIME || nt == FM_TAG_GENERALIZED_TIME) {
        TRY(fm_der_any(&t, &tag, &tm, NULL));
        TRY(fm_der_time(tag, tm, &c->next_update));
    }
    if ((rc = fm_der_optional(&t, FM_TAG_SEQUENCE, &c->revoked, NULL)) < 0)
        return BAD;
    if ((rc = fm_der_optional(&t, FM_TAG_CONTEXT_CONS(0), &exts, NULL)) < 0)
        return BAD;
    if (rc) {
        fm_span seq;
        if (c->version != 1)
            return BAD; /* extensions only in v2 */
        fm_der_init_span(&v, exts);
        TRY(fm_der_expect(&v, FM_TAG_SEQUENCE, &seq, NULL));
        if (!fm_der_done(&v) || seq.len == 0)
            return BAD;
        if ((rc = parse_crl_extensions(seq, c)) != FM_OK)
            return rc;
    }
    if (!fm_der_done(&t))
        return BAD;
    if (c->indirect)
        return FM_ERR_CRL_UNSUPPORTED;
    /* 5.2.4: a delta CRL MUST carry its own cRLNumber (it orders the deltas) */
    if ((c->flags & FM_CRL_DELTA) && !(c->flags & FM_CRL_HAS_NUMBER))
        return BAD;
    /* count the entries and their serial octets by their TLV headers only: sizes the table */
    fm_der_init_span(&r, c->revoked);
    while (!fm_der_done(&r)) {
        fm_span entry, serial;
        TRY(fm_der_expect(&r, FM_TAG_SEQUENCE, &entry, NULL));
        fm_der_init_span(&v, entry);
        TRY(fm_der_expect(&v, FM_TAG_INTEGER, &serial, NULL));
        c->n_entries++;
        c->serial_octets += serial.len;
    }
    return FM_OK;
}

/* Every entry parsed and validated. */
static int parse_entries(const fm_crl *c) {
    fm_crl_iter it;
    fm_crl_entry e;
    int rc;
    fm_crl_iter_init(&it, c);
    while ((rc = fm_crl_iter_next(&it, &e)) == 1)
        ;
    return rc;
}

int fm_crl_parse_full(fm_crl *c, const uint8_t *der, size_t len) {
    int rc = fm_crl_parse_header(c, der, len);
    return rc != FM_OK ? rc : parse_entries(c);
}

void fm_crl_iter_init(fm_crl_iter *it, const fm_crl *c) {
    fm_der_init_span(&it->r, c->revoked);
}

int fm_crl_iter_next(fm_crl_iter *it, fm_crl_entry *out) {
    fm_der e;
    fm_span entry, tm, exts;
    unsigned tag;
    int rc;
    if (fm_der_done(&it->r))
        return 0;
    if (fm_der_expect(&it->r, FM_TAG_SEQUENCE, &entry, NULL))
        return BAD;
    fm_der_init_span(&e, entry);
    memset(out, 0, sizeof *out);
    if (fm_der_expect(&e, FM_TAG_INTEGER, &out->serial, NULL) || fm_der_integer_ok(out->serial))
        return BAD;
    if (fm_der_any(&e, &tag, &tm, NULL) || fm_der_time(tag, tm, &out->date))
        return BAD;
    if ((rc = fm_der_optional(&e, FM_TAG_SEQUENCE, &exts, NULL)) < 0)
        return BAD;
    if (rc && (rc = parse_entry_extensions(exts, out)) != FM_OK)
        return rc;
    if (!fm_der_done(&e))
        return BAD;
    return 1;
}

static int crl_info(const uint8_t *crl, size_t len, fm_crl_info *out, int full) {
    fm_crl c;
    memset(out, 0, sizeof *out);
    int rc = full ? fm_crl_parse_full(&c, crl, len) : fm_crl_parse_header(&c, crl, len);
    out->sig_status = -1;
    if (rc != FM_OK)
        return rc;
    out->version = c.version;
    out->flags = c.flags;
    out->this_update = c.this_update;
    out->next_update = c.next_update;
    out->n_entries = c.n_entries;
    out->issuer_off = (size_t)(c.issuer.p - crl), out->issuer_len = c.issuer.len;
    if (c.number.len)
        out->number_off = (size_t)(c.number.p - crl), out->number_len = c.number.len;
    if (c.base_number.len)
        out->base_off = (size_t)(c.base_number.p - crl), out->base_len = c.base_number.len;
    if (c.aki.len)
        out->aki_off = (size_t)(c.aki.p - crl), out->aki_len = c.aki.len;
    if (c.idp.len)
        out->idp_off = (size_t)(c.idp.p - crl), out->idp_len = c.idp.len;
    return FM_OK;
}

int fm_crl_parse(const uint8_t *crl, size_t len, fm_crl_info *out) {
    return crl_info(crl, len, out, 1);
}

int fm_crl_parse_header_info(const uint8_t *crl, size_t len, fm_crl_info *out) {
    return crl_info(crl, len, out, 0);
}

/* RFC 5280 6.3.3 (f)-(g) for a CRL issued directly by the CA: same name, AKI matching the CA's
 * SKI when both are present, cRLSign when keyUsage is present, and a valid signature. */
int fm_crl_check_parsed(const fm_crl *c, const fm_cert *ca) {
    if (!fm_span_eq(c->issuer, ca->subject))
        return FM_ERR_CRL_ISSUER_MISMATCH;
    if (c->aki.len && ca->ski.len && !fm_span_eq(c->aki, ca->ski))
        return FM_ERR_CRL_ISSUER_MISMATCH;
    if ((ca->ext_flags & FM_X_KU) && !(ca->key_usage & FM_KU_CRL_SIGN))
        return FM_ERR_CRL_ISSUER_MISMATCH;
    fm_key *key = NULL;
    int rc = fm_key_new(ca->spki.p, ca->spki.len, &key);
    if (rc != FM_OK)
        return rc;
    rc = fm_sig_verify(key, c->sig_alg_id, &c->pss, c->tbs.p, c->tbs.len, c->sig.p, c->sig.len);
    fm_key_free(key);
    return rc == FM_OK ? FM_OK : FM_ERR_CRL_SIGNATURE_FAILURE;
}

int fm_crl_check(const uint8_t *crl, size_t len, const uint8_t *ca_der, size_t ca_len) {
    fm_crl c;
    fm_cert ca;
    /* every entry too: a CRL reported good here is one a revocation set accepts */
    int rc = fm_crl_parse_header(&c, crl, len);
    if (rc != FM_OK || (rc = parse_entries(&c)) != FM_OK)
        return rc;
    if ((rc = fm_cert_parse(&ca, ca_der, ca_len)) != FM_OK)
        return rc;
    return fm_crl_check_parsed(&c, &ca);
}
