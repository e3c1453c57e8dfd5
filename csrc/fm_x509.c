/* fm_x509.c - X.509 v3 certificate parser (RFC 5280 section 4). Strict DER; records offsets into
 * the caller's buffer; no allocation. */
#include "fm_x509.h"

#include <string.h>

/* ---- object identifiers (content octets) ------------------------------------------------- */
static const uint8_t OID_RSA[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01};
static const uint8_t OID_RSA_PSS[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0A};
static const uint8_t OID_MGF1[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x08};
static const uint8_t OID_RSA_SHA256[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0B};
static const uint8_t OID_RSA_SHA384[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0C};
static const uint8_t OID_RSA_SHA512[] = {0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0D};
static const uint8_t OID_EC_PUBKEY[] = {0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01};
static const uint8_t OID_P256[] = {0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07};
static const uint8_t OID_P384[] = {0x2B, 0x81, 0x04, 0x00, 0x22};
static const uint8_t OID_P521[] = {0x2B, 0x81, 0x04, 0x00, 0x23};
static const uint8_t OID_ECDSA_SHA256[] = {0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02};
static const uint8_t OID_ECDSA_SHA384[] = {0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x03};
static const uint8_t OID_ECDSA_SHA512[] = {0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x04};
static const uint8_t OID_ED25519[] = {0x2B, 0x65, 0x70};
static const uint8_t OID_ED448[] = {0x2B, 0x65, 0x71};
static const uint8_t OID_SHA256[] = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01};
static const uint8_t OID_SHA384[] = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02};
static const uint8_t OID_SHA512[] = {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03};
static const uint8_t OID_EKU_SERVER[] = {0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01};
static const uint8_t OID_EKU_CLIENT[] = {0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02};
static const uint8_t OID_EKU_ANY[] = {0x55, 0x1D, 0x25, 0x00};
static const uint8_t OID_AIA[] = {0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x01};
static const uint8_t OID_SIA[] = {0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x0B};

/* id-ce extensions are 2.5.29.n = 55 1D n */
enum { CE_SKI = 14, CE_KU = 15, CE_SAN = 17, CE_BC = 19, CE_NC = 30, CE_CRLDP = 31,
       CE_POLICIES = 32, CE_POLICY_MAPPINGS = 33, CE_AKI = 35, CE_POLICY_CONSTRAINTS = 36,
       CE_EKU = 37, CE_FRESHEST = 46, CE_INHIBIT_ANY = 54 };

#define BAD FM_ERR_MALFORMED_CERT
#define TRY(expr)                \
    do {                         \
        if ((expr) != 0)         \
            return BAD;          \
    } while (0)

/* Name ::= SEQUENCE OF RelativeDistinguishedName
 * RelativeDistinguishedName ::= SET SIZE (1..MAX) OF AttributeTypeAndValue
 * AttributeTypeAndValue ::= SEQUENCE { type OID, value ANY } */
static int parse_name(fm_span name_content) {
    fm_der r, set, atv;
    fm_span rdn, a, oid;
    fm_der_init_span(&r, name_content);
    while (!fm_der_done(&r)) {
        TRY(fm_der_expect(&r, FM_TAG_SET, &rdn, NULL));
        if (rdn.len == 0)
            return BAD;
        fm_der_init_span(&set, rdn);
        while (!fm_der_done(&set)) {
            TRY(fm_der_expect(&set, FM_TAG_SEQUENCE, &a, NULL));
            fm_der_init_span(&atv, a);
            TRY(fm_der_expect(&atv, FM_TAG_OID, &oid, NULL));
            unsigned vt;
            fm_span value;
            TRY(fm_der_any(&atv, &vt, &value, NULL));
            if (!fm_der_done(&atv) || !fm_name_atv_ok(oid, vt, value))
                return BAD;
        }
    }
    return FM_OK;
}

static int hash_from_oid(fm_span oid) {
    if (FM_OID_EQ(oid, OID_SHA256))
        return FM_HASH_SHA256;
    if (FM_OID_EQ(oid, OID_SHA384))
        return FM_HASH_SHA384;
    if (FM_OID_EQ(oid, OID_SHA512))
        return FM_HASH_SHA512;
    return FM_HASH_NONE;
}

/* HashAlgorithm ::= AlgorithmIdentifier { OID, parameters NULL or absent } (RFC 4055 2.1) */
static int parse_hash_alg(fm_span content, int *hash) {
    fm_der r;
    fm_span oid, params;
    fm_der_init_span(&r, content);
    TRY(fm_der_expect(&r, FM_TAG_OID, &oid, NULL));
    int has = fm_der_optional(&r, FM_TAG_NULL, &params, NULL);
    if (has < 0 || (has == 1 && params.len != 0) || !fm_der_done(&r))
        return BAD;
    *hash = hash_from_oid(oid);
    return FM_OK;
}

/* RSASSA-PSS-params ::= SEQUENCE {           (RFC 4055 3.1)
 *   hashAlgorithm     [0] HashAlgorithm     DEFAULT sha1,
 *   maskGenAlgorithm  [1] MaskGenAlgorithm  DEFAULT mgf1SHA1,
 *   saltLength        [2] INTEGER           DEFAULT 20,
 *   trailerField      [3] TrailerField      DEFAULT trailerFieldBC (1) }
 * Only SHA-256/384/512 with MGF1 over the same hash are accepted (SHA-1 defaults are refused). */
static int parse_pss(fm_span content, fm_pss *pss) {
    fm_der r, e, m;
    fm_span v, seq, oid, inner;
    int hash = FM_HASH_NONE, mgf_hash = FM_HASH_NONE, salt = 20, trailer = 1, rc;
    fm_der_init_span(&r, content);
    if ((rc = fm_der_optional(&r, FM_TAG_CONTEXT_CONS(0), &v, NULL)) < 0)
        return BAD;
    if (rc) {
        fm_der_init_span(&e, v);
        TRY(fm_der_expect(&e, FM_TAG_SEQUENCE, &seq, NULL));
        if (!fm_der_done(&e) || parse_hash_alg(seq, &hash))
            return BAD;
    }
    if ((rc = fm_der_optional(&r, FM_TAG_CONTEXT_CONS(1), &v, NULL)) < 0)
        return BAD;
    if (rc) {
        fm_der_init_span(&e, v);
        TRY(fm_der_expect(&e, FM_TAG_SEQUENCE, &seq, NULL));
        if (!fm_der_done(&e))
            return BAD;
        fm_der_init_span(&m, seq);
        TRY(fm_der_expect(&m, FM_TAG_OID, &oid, NULL));
        if (!FM_OID_EQ(oid, OID_MGF1))
            return FM_ERR_UNSUPPORTED_SIGNATURE_ALGORITHM;
        TRY(fm_der_expect(&m, FM_TAG_SEQUENCE, &inner, NULL));
        if (!fm_der_done(&m) || parse_hash_alg(inner, &mgf_hash))
            return BAD;
    }
    if ((rc = fm_der_optional(&r, FM_TAG_CONTEXT_CONS(2), &v, NULL)) < 0)
        return BAD;
    if (rc) {
        fm_der_init_span(&e, v);
        TRY(fm_der_expect(&e, FM_TAG_INTEGER, &inner, NULL));
        if (!fm_der_done(&e) || fm_der_small_uint(inner, &salt))
            return BAD;
    }
    if ((rc = fm_der_optional(&r, FM_TAG_CONTEXT_CONS(3), &v, NULL)) < 0)
        return BAD;
    if (rc) {
        fm_der_init_span(&e, v);
        TRY(fm_der_expect(&e, FM_TAG_INTEGER, &inner, NULL));
        if (!fm_der_done(&e) || fm_der_small_uint(inner, &trailer))
            return BAD;
    }
    if (!fm_der_done(&r))
        return BAD;
    if (hash == FM_HASH_NONE || mgf_hash != hash || trailer != 1 || salt > 1024)
        return FM_ERR_UNSUPPORTED_SIGNATURE_ALGORITHM;
    pss->hash = hash;
    pss->salt_len = salt;
    return FM_OK;
}

/* AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL } (RFC 5280 4.1.1.2).
 * Parameters per RFC 4055 (RSA: NULL, PSS: RSASSA-PSS-params), RFC 5758 (ECDSA: absent),
 * RFC 8410 (Ed25519: absent). An unknown algorithm is not malformed: it is reported as
 * FM_SIG_UNKNOWN and rejected only if a path needs it. */
static int parse_sig_alg(fm_span full, int *alg, fm_pss *pss) {
    fm_der r;
    fm_span content, oid, params;
    fm_der_init_span(&r, full);
    TRY(fm_der_expect(&r, FM_TAG_SEQUENCE, &content, NULL));
    fm_der_init_span(&r, content);
    TRY(fm_der_expect(&r, FM_TAG_OID, &oid, NULL));
    int has_params = !fm_der_done(&r);
    unsigned ptag = 0;
    if (has_params)
        TRY(fm_der_any(&r, &ptag, &params, NULL));
    if (!fm_der_done(&r))
        return BAD;
    *alg = FM_SIG_UNKNOWN;
    int rsa = 0;
    if (FM_OID_EQ(oid, OID_RSA_SHA256))
        *alg = FM_SIG_RSA_PKCS1_SHA256, rsa = 1;
    else if (FM_OID_EQ(oid, OID_RSA_SHA384))
        *alg = FM_SIG_RSA_PKCS1_SHA384, rsa = 1;
    else if (FM_OID_EQ(oid, OID_RSA_SHA512))
        *alg = FM_SIG_RSA_PKCS1_SHA512, rsa = 1;
    else if (FM_OID_EQ(oid, OID_ECDSA_SHA256))
        *alg = FM_SIG_ECDSA_SHA256;
    else if (FM_OID_EQ(oid, OID_ECDSA_SHA384))
        *alg = FM_SIG_ECDSA_SHA384;
    else if (FM_OID_EQ(oid, OID_ECDSA_SHA512))
        *alg = FM_SIG_ECDSA_SHA512;
    else if (FM_OID_EQ(oid, OID_ED25519))
        *alg = FM_SIG_ED25519;
    else if (FM_OID_EQ(oid, OID_RSA_PSS)) {
        if (!has_params || ptag != FM_TAG_SEQUENCE) {
            *alg = FM_SIG_UNKNOWN;
            return FM_OK;
        }
        if (parse_pss(params, pss) != FM_OK) {
            *alg = FM_SIG_UNKNOWN;
            return FM_OK;
        }
        *alg = FM_SIG_RSA_PSS;
        return FM_OK;
    } else
        return FM_OK;
    if (rsa) {
        /* RFC 4055 5: parameters MUST be NULL; absent tolerated as many CAs did so */
        if (has_params && (ptag != FM_TAG_NULL || params.len != 0))
            *alg = FM_SIG_UNKNOWN;
    } else if (has_params) {
        *alg = FM_SIG_UNKNOWN; /* RFC 5758 3.2, RFC 8410 3: parameters MUST be absent */
    }
    return FM_OK;
}

/* RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER } (RFC 8017 A.1.1) */
static int rsa_bits(fm_span key, uint32_t *bits) {
    fm_der r;
    fm_span seq, n, e;
    fm_der_init_span(&r, key);
    TRY(fm_der_expect(&r, FM_TAG_SEQUENCE, &seq, NULL));
    if (!fm_der_done(&r))
        return BAD;
    fm_der_init_span(&r, seq);
    TRY(fm_der_expect(&r, FM_TAG_INTEGER, &n, NULL));
    TRY(fm_der_expect(&r, FM_TAG_INTEGER, &e, NULL));
    if (!fm_der_done(&r) || fm_der_integer_ok(n) || fm_der_integer_ok(e) || (n.p[0] & 0x80) ||
        (e.p[0] & 0x80))
        return BAD;
    while (n.len && n.p[0] == 0)
        n.p++, n.len--;
    if (n.len == 0)
        return BAD;
    uint32_t b = (uint32_t)(n.len - 1) * 8u;
    for (unsigned top = n.p[0]; top; top >>= 1)
        b++;
    *bits = b;
    return FM_OK;
}

/* SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT STRING }
 * (RFC 5280 4.1.2.7; RFC 3279 2.3.1 RSA, RFC 5480 2.1.1 EC, RFC 8410 4 Ed25519) */
static int parse_spki(fm_cert *c, fm_span content) {
    fm_der r, a;
    fm_span alg, oid, params, bits;
    unsigned unused, ptag = 0;
    fm_der_init_span(&r, content);
    TRY(fm_der_expect(&r, FM_TAG_SEQUENCE, &alg, NULL));
    TRY(fm_der_expect(&r, FM_TAG_BIT_STRING, &bits, NULL));
    if (!fm_der_done(&r) || fm_der_bit_string(bits, &c->spki_key, &unused) || unused)
        return BAD;
    fm_der_init_span(&a, alg);
    TRY(fm_der_expect(&a, FM_TAG_OID, &oid, NULL));
    int has_params = !fm_der_done(&a);
    if (has_params)
        TRY(fm_der_any(&a, &ptag, &params, NULL));
    if (!fm_der_done(&a))
        return BAD;
    c->key_type = FM_KEY_UNKNOWN;
    c->key_bits = 0;
    if (FM_OID_EQ(oid, OID_RSA)) {
        if (!has_params || ptag != FM_TAG_NULL || params.len != 0)
            return BAD; /* RFC 3279 2.3.1: parameters MUST be NULL */
        if (rsa_bits(c->spki_key, &c->key_bits))
            return BAD;
        c->key_type = FM_KEY_RSA;
    } else if (FM_OID_EQ(oid, OID_EC_PUBKEY)) {
        if (!has_params || ptag != FM_TAG_OID)
            return BAD; /* RFC 5480 2.1.1: namedCurve only */
        size_t plen = c->spki_key.len;
        if (FM_OID_EQ(params, OID_P256))
            c->key_type = FM_KEY_EC_P256, c->key_bits = 256;
        else if (FM_OID_EQ(params, OID_P384))
            c->key_type = FM_KEY_EC_P384, c->key_bits = 384;
        else if (FM_OID_EQ(params, OID_P521))
            c->key_type = FM_KEY_EC_P521, c->key_bits = 521;
        else
            c->key_type = FM_KEY_EC_OTHER;
        if (c->key_type != FM_KEY_EC_OTHER) {
            size_t flen = (c->key_bits + 7) / 8;
            /* uncompressed (04||X||Y) or compressed (02/03||X) point */
            int ok = (plen == 1 + 2 * flen && c->spki_key.p[0] == 0x04) ||
                     (plen == 1 + flen && (c->spki_key.p[0] == 0x02 || c->spki_key.p[0] == 0x03));
            if (!ok)
                return BAD;
        }
    } else if (FM_OID_EQ(oid, OID_ED25519)) {
        if (has_params || c->spki_key.len != 32)
            return BAD;
        c->key_type = FM_KEY_ED25519, c->key_bits = 255;
    } else if (FM_OID_EQ(oid, OID_ED448)) {
        if (has_params || c->spki_key.len != 57)
            return BAD;
        c->key_type = FM_KEY_ED448, c->key_bits = 448;
    } else if (FM_OID_EQ(oid, OID_RSA_PSS)) {
        c->key_type = FM_KEY_RSA_PSS;
        if (rsa_bits(c->spki_key, &c->key_bits))
            return BAD;
    }
    return FM_OK;
}

int fm_spki_parse(const uint8_t *spki, size_t len, int *key_type, uint32_t *key_bits,
                  fm_span *key) {
    fm_der r;
    fm_span content;
    fm_cert c;
    fm_der_init(&r, spki, len);
    if (fm_der_expect(&r, FM_TAG_SEQUENCE, &content, NULL) || !fm_der_done(&r))
        return BAD;
    memset(&c, 0, sizeof c);
    int rc = parse_spki(&c, content);
    *key_type = c.key_type;
    *key_bits = c.key_bits;
    if (key)
        *key = c.spki_key;
    return rc;
}

int fm_sig_alg_parse(fm_span full, int *alg, fm_pss *pss) { return parse_sig_alg(full, alg, pss); }

int fm_name_parse(fm_span full) {
    fm_der r;
    fm_span content;
    fm_der_init_span(&r, full);
    if (fm_der_expect(&r, FM_TAG_SEQUENCE, &content, NULL) || !fm_der_done(&r))
        return BAD;
    return parse_name(content);
}

/* An extension's content is well formed DER of its ASN.1 type but breaks a SIZE (1..MAX) rule of
 * RFC 5280 that OpenSSL's decoder does not enforce (empty extendedKeyUsage, nameConstraints
 * without subtrees or with an empty list): parse_extensions reports FM_ERR_INVALID_EXTENSION
 * once it has read the other extensions, and the certificate keeps the SKI that OpenSSL shows
 * unless one of those does not decode (FM_X_DECODE_FAILED). Internal to this file; never
 * returned. */
#define SIZE_RULE 1000

/* KeyUsage ::= BIT STRING (RFC 5280 4.2.1.3) */
static int ext_key_usage(fm_cert *c, fm_span v) {
    fm_der r;
    fm_span content;
    uint32_t ku;
    fm_der_init_span(&r, v);
    TRY(fm_der_expect(&r, FM_TAG_BIT_STRING, &content, NULL));
    if (!fm_der_done(&r) || fm_der_named_bits(content, &ku)) /* nine named bits */
        return FM_ERR_INVALID_EXTENSION;
    if (ku == 0)
        return FM_ERR_INVALID_EXTENSION; /* RFC 5280 4.2.1.3: at least one bit MUST be set */
    c->key_usage = ku;
    return FM_OK;
}

/* BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER (0..MAX)
 * OPTIONAL } (RFC 5280 4.2.1.9) */
static int ext_basic_constraints(fm_cert *c, fm_span v) {
    fm_der r;
    fm_span seq, b, n;
    int rc;
    fm_der_init_span(&r, v);
    if (fm_der_expect(&r, FM_TAG_SEQUENCE, &seq, NULL) || !fm_der_done(&r))
        return FM_ERR_INVALID_EXTENSION;
    fm_der_init_span(&r, seq);
    if ((rc = fm_der_optional(&r, FM_TAG_BOOLEAN, &b, NULL)) < 0)
        return FM_ERR_INVALID_EXTENSION;
    if (rc) {
        int val = fm_der_bool(b);
        if (val < 0)
            return FM_ERR_INVALID_EXTENSION;
        c->is_ca = val;
    }
    if ((rc = fm_der_optional(&r, FM_TAG_INTEGER, &n, NULL)) < 0)
        return FM_ERR_INVALID_EXTENSION;
    if (rc && fm_der_count(n, &c->path_len))
        return FM_ERR_INVALID_EXTENSION;
    if (!fm_der_done(&r))
        return FM_ERR_INVALID_EXTENSION;
    return FM_OK;
}

/* ExtKeyUsageSyntax ::= SEQUENCE SIZE (1..MAX) OF KeyPurposeId (RFC 5280 4.2.1.12) */
static int ext_eku(fm_cert *c, fm_span v) {
    fm_der r;
    fm_span seq, oid;
    fm_der_init_span(&r, v);
    if (fm_der_expect(&r, FM_TAG_SEQUENCE, &seq, NULL) || !fm_der_done(&r))
        return FM_ERR_INVALID_EXTENSION;
    if (seq.len == 0)
        return SIZE_RULE;
    fm_der_init_span(&r, seq);
    uint32_t eku = FM_EKU_PRESENT;
    while (!fm_der_done(&r)) {
        if (fm_der_expect(&r, FM_TAG_OID, &oid, NULL) || oid.len == 0)
            return FM_ERR_INVALID_EXTENSION;
        if (!fm_der_oid_ok(oid)) /* no OID: OpenSSL cannot decode it (refused, as there) */
            c->ext_flags |= FM_X_DECODE_FAILED;
        if (FM_OID_EQ(oid, OID_EKU_SERVER))
            eku |= FM_EKU_SERVER;
        else if (FM_OID_EQ(oid, OID_EKU_CLIENT))
            eku |= FM_EKU_CLIENT;
        else if (FM_OID_EQ(oid, OID_EKU_ANY))
            eku |= FM_EKU_ANY;
        else
            eku |= FM_EKU_OTHER;
    }
    c->eku = eku;
    return FM_OK;
}

/* SubjectKeyIdentifier ::= KeyIdentifier ::= OCTET STRING (RFC 5280 4.2.1.2) */
static int ext_ski(fm_cert *c, fm_span v) {
    fm_der r;
    fm_der_init_span(&r, v);
    if (fm_der_expect(&r, FM_TAG_OCTET_STRING, &c->ski, NULL) || !fm_der_done(&r))
        return FM_ERR_INVALID_EXTENSION;
    return FM_OK;
}

/* [n] EXPLICIT DirectoryString content: one string of the DirectoryString CHOICE (X.520), whole
 * characters for BMP (2 octets) and Universal (4), as OpenSSL's decoder reads it. */
static int directory_string_ok(fm_span explicit_content) {
    fm_der r;
    fm_span str;
    unsigned tag;
    fm_der_init_span(&r, explicit_content);
    if (fm_der_any(&r, &tag, &str, NULL) || !fm_der_done(&r))
        return 0;
    switch (tag) {
    case FM_TAG_PRINTABLE_STRING:
    case FM_TAG_T61_STRING:
    case FM_TAG_UTF8_STRING: return 1;
    case FM_TAG_BMP_STRING: return str.len % 2 == 0;
    case FM_TAG_UNIVERSAL_STRING: return str.len % 4 == 0;
    default: return 0;
    }
}

/* Whether OpenSSL's decoder reads the GeneralName of tag `tag` and content `v` (its structure;
 * the strings' characters are fm_names.c's business): a context tag 0..8; [0] otherName,
 * [3] x400Address, [4] directoryName and [5] ediPartyName constructed, the string forms either
 * way (BER reads a constructed string); otherName { OID, [0] value }, directoryName one Name
 * that decodes (fm_name_parse), ediPartyName { [0] DirectoryString OPTIONAL, [1] DirectoryString },
 * registeredID a valid OID. */
int fm_general_name_decodes(unsigned tag, fm_span v) {
    static const unsigned constructed = 1u << 0 | 1u << 3 | 1u << 4 | 1u << 5;
    fm_der r;
    fm_span oid;
    if (tag > 0xFFu || (tag & 0xC0u) != 0x80u || (tag & 0x1Fu) > 8 ||
        (!(tag & 0x20u) && ((constructed >> (tag & 0x1Fu)) & 1u)))
        return 0;
    fm_der_init_span(&r, v);
    switch (tag) {
    case FM_TAG_CONTEXT_CONS(0):
        return fm_der_expect(&r, FM_TAG_OID, &oid, NULL) == FM_OK && fm_der_oid_ok(oid) &&
               fm_der_expect(&r, FM_TAG_CONTEXT_CONS(0), NULL, NULL) == FM_OK && fm_der_done(&r);
    case FM_TAG_CONTEXT_CONS(4): return fm_name_parse(v) == FM_OK;
    case FM_TAG_CONTEXT_CONS(5): {
        fm_span assigner, party;
        int has = fm_der_optional(&r, FM_TAG_CONTEXT_CONS(0), &assigner, NULL);
        return has >= 0 && (!has || directory_string_ok(assigner)) &&
               fm_der_expect(&r, FM_TAG_CONTEXT_CONS(1), &party, NULL) == FM_OK &&
               directory_string_ok(party) && fm_der_done(&r);
    }
    case FM_TAG_CONTEXT(8): return fm_der_oid_ok(v);
    case FM_TAG_CONTEXT_CONS(8): return 0; /* an OID is never constructed */
    default: return 1;
    }
}

/* Whether every element of a GeneralNames content decodes (fm_general_name_decodes). */
static int general_names_decode(fm_span names) {
    fm_der r;
    fm_span gn;
    unsigned tag;
    for (fm_der_init_span(&r, names); !fm_der_done(&r);)
        if (fm_der_any(&r, &tag, &gn, NULL) != FM_OK || !fm_general_name_decodes(tag, gn))
            return 0;
    return 1;
}

/* AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] KeyIdentifier OPTIONAL,
 *   authorityCertIssuer [1] GeneralNames OPTIONAL, authorityCertSerialNumber [2] OPTIONAL }
 * (RFC 5280 4.2.1.1) */
static int ext_aki(fm_cert *c, fm_span v) {
    fm_der r;
    fm_span seq, names, serial;
    int rc;
    fm_der_init_span(&r, v);
    if (fm_der_expect(&r, FM_TAG_SEQUENCE, &seq, NULL) || !fm_der_done(&r))
        return FM_ERR_INVALID_EXTENSION;
    fm_der_init_span(&r, seq);
    if ((rc = fm_der_optional(&r, FM_TAG_CONTEXT(0), &c->aki_keyid, NULL)) < 0)
        return FM_ERR_INVALID_EXTENSION;
    int has_names = fm_der_optional(&r, FM_TAG_CONTEXT_CONS(1), &names, NULL);
    int has_serial = fm_der_optional(&r, FM_TAG_CONTEXT(2), &serial, NULL);
    if (has_names < 0 || has_serial < 0 || !fm_der_done(&r))
        return FM_ERR_INVALID_EXTENSION;
    /* the issuer and serial do not take part in path building (noted for the web PKI profile,
     * which forbids them in a root); OpenSSL decodes them, and refuses the certificate when
     * they do not decode: so does fm_verify (FM_X_DECODE_FAILED) */
    if (has_names || has_serial)
        c->ext_flags |= FM_X_AKI_ISSUER;
    if ((has_names && !general_names_decode(names)) ||
        (has_serial && fm_der_integer_ok(serial) != 0))
        c->ext_flags |= FM_X_DECODE_FAILED;
    return FM_OK;
}

/* NameConstraints ::= SEQUENCE { permittedSubtrees [0] GeneralSubtrees OPTIONAL,
 *   excludedSubtrees [1] GeneralSubtrees OPTIONAL } (RFC 5280 4.2.1.10: MUST NOT be empty) */
static int ext_name_constraints(fm_cert *c, fm_span v) {
    fm_der r;
    fm_span seq;
    int p, e;
    fm_der_init_span(&r, v);
    if (fm_der_expect(&r, FM_TAG_SEQUENCE, &seq, NULL) || !fm_der_done(&r))
        return FM_ERR_INVALID_EXTENSION;
    fm_der_init_span(&r, seq);
    if ((p = fm_der_optional(&r, FM_TAG_CONTEXT_CONS(0), &c->nc_permitted, NULL)) < 0 ||
        (e = fm_der_optional(&r, FM_TAG_CONTEXT_CONS(1), &c->nc_excluded, NULL)) < 0 ||
        !fm_der_done(&r))
        return FM_ERR_INVALID_EXTENSION;
    if ((!p && !e) || (p && c->nc_permitted.len == 0) || (e && c->nc_excluded.len == 0))
        return SIZE_RULE; /* GeneralSubtrees ::= SEQUENCE SIZE (1..MAX) */
    /* GeneralSubtree ::= SEQUENCE { base GeneralName, minimum [0], maximum [1] }: validated by
     * fm_nc_validate when the constraints apply; OpenSSL decodes the structure of every one */
    for (int k = 0; k < 2; k++) {
        fm_der l, t;
        fm_span sub, gn;
        unsigned tag;
        for (fm_der_init_span(&l, k ? c->nc_excluded : c->nc_permitted); !fm_der_done(&l);) {
            int ok = fm_der_expect(&l, FM_TAG_SEQUENCE, &sub, NULL) == FM_OK;
            if (ok) {
                fm_der_init_span(&t, sub);
                ok = fm_der_any(&t, &tag, &gn, NULL) == FM_OK &&
                     fm_general_name_decodes(tag, gn);
            }
            if (!ok) {
                c->ext_flags |= FM_X_DECODE_FAILED;
                return FM_OK;
            }
        }
    }
    return FM_OK;
}

/* SubjectAltName ::= GeneralNames (RFC 5280 4.2.1.6); content validated by fm_names.c, which
 * refuses the certificate during verification. A GeneralName that is no TLV of a GeneralName tag
 * in its form (OpenSSL's decoder fails, flags the certificate invalid and shows no SKI) is noted
 * here as FM_X_DECODE_FAILED. */
static int ext_san(fm_cert *c, fm_span v) {
    fm_der r;
    fm_span seq;
    fm_der_init_span(&r, v);
    if (fm_der_expect(&r, FM_TAG_SEQUENCE, &seq, &c->san) || !fm_der_done(&r))
        return FM_ERR_INVALID_EXTENSION;
    if (!general_names_decode(seq))
        c->ext_flags |= FM_X_DECODE_FAILED;
    return FM_OK;
}

/* GeneralNames ::= SEQUENCE SIZE (1..MAX) OF GeneralName, given its content: every element a
 * GeneralName that decodes (fm_general_name_decodes; RFC 5280 4.2.1.6); the names themselves are
 * compared as DER, not interpreted. Returns 0, -1 (malformed) or -2 (empty). */
static int general_names_ok(fm_span v) {
    return v.len == 0 ? -2 : general_names_decode(v) ? 0 : -1;
}

/* DistributionPointName ::= CHOICE { fullName [0] GeneralNames,
 *     nameRelativeToCRLIssuer [1] RelativeDistinguishedName }
 * RelativeDistinguishedName ::= SET SIZE (1..MAX) OF AttributeTypeAndValue */
int fm_dpname_parse(fm_span v, int *kind, fm_span *names) {
    fm_der r, a;
    unsigned tag;
    fm_der_init_span(&r, v);
    if (fm_der_any(&r, &tag, names, NULL) || !fm_der_done(&r))
        return -1;
    if (tag == FM_TAG_CONTEXT_CONS(0)) {
        *kind = FM_DPN_FULL;
        return general_names_ok(*names);
    }
    if (tag != FM_TAG_CONTEXT_CONS(1))
        return -1;
    if (names->len == 0)
        return -2; /* RelativeDistinguishedName ::= SET SIZE (1..MAX) */
    *kind = FM_DPN_RELATIVE;
    fm_der_init_span(&r, *names);
    while (!fm_der_done(&r)) {
        fm_span atv, oid, value;
        unsigned vt;
        if (fm_der_expect(&r, FM_TAG_SEQUENCE, &atv, NULL))
            return -1;
        fm_der_init_span(&a, atv);
        /* an attribute OpenSSL decodes (an X509_NAME_ENTRY, its characters not read) */
        if (fm_der_expect(&a, FM_TAG_OID, &oid, NULL) || oid.len == 0 ||
            fm_der_any(&a, &vt, &value, NULL) || !fm_der_done(&a) ||
            !fm_name_atv_decodes(oid, vt, value))
            return -1;
    }
    return 0;
}

/* DistributionPoint ::= SEQUENCE { distributionPoint [0] DistributionPointName OPTIONAL,
 *     reasons [1] ReasonFlags OPTIONAL, cRLIssuer [2] GeneralNames OPTIONAL }
 * (RFC 5280 4.2.1.13: distributionPoint or cRLIssuer MUST be present) */
int fm_crldp_next(fm_der *r, fm_dist_point *out) {
    fm_der d;
    fm_span dp, name, reasons;
    uint32_t mask;
    int rc;
    memset(out, 0, sizeof *out);
    if (fm_der_done(r))
        return 0;
    if (fm_der_expect(r, FM_TAG_SEQUENCE, &dp, NULL))
        return -1;
    fm_der_init_span(&d, dp);
    if ((rc = fm_der_optional(&d, FM_TAG_CONTEXT_CONS(0), &name, NULL)) < 0)
        return -1;
    if (rc) {
        out->has_name = 1;
        if ((rc = fm_dpname_parse(name, &out->name_kind, &out->names)) != 0)
            return rc;
    }
    /* reasons [1] ReasonFlags: a BIT STRING of nine named bits */
    if ((rc = fm_der_optional(&d, FM_TAG_CONTEXT(1), &reasons, NULL)) < 0 ||
        (rc && fm_der_named_bits(reasons, &mask)))
        return -1;
    out->has_reasons = rc;
    if ((rc = fm_der_optional(&d, FM_TAG_CONTEXT_CONS(2), &out->crl_issuer, NULL)) < 0 ||
        !fm_der_done(&d) || (!out->has_name && !rc))
        return -1;
    if (rc && (rc = general_names_ok(out->crl_issuer)) != 0)
        return rc;
    return 1;
}

/* CRLDistributionPoints ::= SEQUENCE SIZE (1..MAX) OF DistributionPoint (RFC 5280 4.2.1.13) */
static int ext_crldp(fm_cert *c, fm_span v) {
    fm_der r;
    fm_span seq;
    fm_dist_point dp;
    int rc;
    fm_der_init_span(&r, v);
    if (fm_der_expect(&r, FM_TAG_SEQUENCE, &seq, NULL) || !fm_der_done(&r))
        return FM_ERR_INVALID_EXTENSION;
    if (seq.len == 0)
        return SIZE_RULE;
    fm_der_init_span(&r, seq);
    while ((rc = fm_crldp_next(&r, &dp)) == 1)
        ;
    if (rc == -2)
        return SIZE_RULE;
    if (rc != 0)
        return FM_ERR_INVALID_EXTENSION;
    c->crldp = seq;
    return FM_OK;
}

/* AuthorityInfoAccessSyntax ::= SEQUENCE SIZE (1..MAX) OF AccessDescription
 * AccessDescription ::= SEQUENCE { accessMethod OID, accessLocation GeneralName }
 * (RFC 5280 4.2.2.1; the same syntax for subjectInfoAccess, 4.2.2.2) */
static int ext_info_access(fm_span v) {
    fm_der r, a;
    fm_span seq, ad, oid;
    fm_der_init_span(&r, v);
    if (fm_der_expect(&r, FM_TAG_SEQUENCE, &seq, NULL) || !fm_der_done(&r) || seq.len == 0)
        return FM_ERR_INVALID_EXTENSION;
    fm_der_init_span(&r, seq);
    while (!fm_der_done(&r)) {
        unsigned tag;
        if (fm_der_expect(&r, FM_TAG_SEQUENCE, &ad, NULL))
            return FM_ERR_INVALID_EXTENSION;
        fm_der_init_span(&a, ad);
        if (fm_der_expect(&a, FM_TAG_OID, &oid, NULL) || oid.len == 0 ||
            fm_der_any(&a, &tag, NULL, NULL) || !fm_der_done(&a) || (tag & 0x80u) == 0)
            return FM_ERR_INVALID_EXTENSION;
    }
    return FM_OK;
}

/* PolicyConstraints ::= SEQUENCE { requireExplicitPolicy [0] SkipCerts OPTIONAL,
 *                                  inhibitPolicyMapping  [1] SkipCerts OPTIONAL }
 * SkipCerts ::= INTEGER (0..MAX)   (RFC 5280 4.2.1.11; IMPLICIT tags) */
static int ext_policy_constraints(fm_cert *c, fm_span v) {
    fm_der r;
    fm_span seq, n;
    int rc;
    fm_der_init_span(&r, v);
    if (fm_der_expect(&r, FM_TAG_SEQUENCE, &seq, NULL) || !fm_der_done(&r))
        return FM_ERR_INVALID_EXTENSION;
    fm_der_init_span(&r, seq);
    if ((rc = fm_der_optional(&r, FM_TAG_CONTEXT(0), &n, NULL)) < 0 ||
        (rc && fm_der_count(n, &c->require_explicit)))
        return FM_ERR_INVALID_EXTENSION;
    if ((rc = fm_der_optional(&r, FM_TAG_CONTEXT(1), &n, NULL)) < 0)
        return FM_ERR_INVALID_EXTENSION;
    if (rc) {
        int skip;
        if (fm_der_count(n, &skip))
            return FM_ERR_INVALID_EXTENSION;
        c->ext_flags |= FM_X_POLICY_MAP;
    }
    return fm_der_done(&r) ? FM_OK : FM_ERR_INVALID_EXTENSION;
}

/* certificatePolicies ::= SEQUENCE SIZE (1..MAX) OF PolicyInformation (RFC 5280 4.2.1.4): the
 * content is kept; its PolicyInformation elements are read where an explicit policy is
 * required (a malformed list then fails closed). */
static int ext_policies(fm_cert *c, fm_span v) {
    fm_der r;
    fm_der_init_span(&r, v);
    if (fm_der_expect(&r, FM_TAG_SEQUENCE, &c->policies, NULL) || !fm_der_done(&r) ||
        c->policies.len == 0)
        return FM_ERR_INVALID_EXTENSION;
    return FM_OK;
}

/* How many id-ce extensions openssl_decoded lists (its first indices). */
#define CE_DECODED 8

/* The extensions OpenSSL 3 decodes for every certificate (ossl_x509v3_cache_extensions): one of
 * them repeated or unreadable flags the certificate invalid, and X509_get0_subject_key_id then
 * gives no SKI. Returns the extension's index in that list, or -1. */
static int openssl_decoded(fm_span oid) {
    static const uint8_t ns_cert_type[] = {0x60, 0x86, 0x48, 0x01, 0x86, 0xF8, 0x42, 0x01, 0x01};
    static const uint8_t pe[] = {0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01}; /* id-pe */
    static const uint8_t ce[CE_DECODED] = {CE_BC,  CE_KU,  CE_EKU, CE_SKI,
                                           CE_AKI, CE_SAN, CE_NC,  CE_CRLDP};
    if (oid.len == 3 && oid.p[0] == 0x55 && oid.p[1] == 0x1D) {
        for (int i = 0; i < (int)sizeof ce; i++)
            if (oid.p[2] == ce[i])
                return i;
        return -1;
    }
    if (FM_OID_EQ(oid, ns_cert_type))
        return (int)sizeof ce;
    /* id-pe 7 and 8 (RFC 3779 address and AS blocks), 14 (proxyCertInfo) */
    if (oid.len == sizeof pe + 1 && memcmp(oid.p, pe, sizeof pe) == 0)
        return oid.p[7] == 7 ? (int)sizeof ce + 1 : oid.p[7] == 8 ? (int)sizeof ce + 2
             : oid.p[7] == 14 ? (int)sizeof ce + 3 : -1;
    return -1;
}

/* An INTEGER TLV (minimal) read from r. */
static int integer_ok(fm_der *r) {
    fm_span v;
    return fm_der_expect(r, FM_TAG_INTEGER, &v, NULL) == FM_OK && fm_der_integer_ok(v) == 0;
}

/* A BIT STRING TLV read from r as OpenSSL's decoder takes it: at least the unused-bits octet,
 * at most 7 unused bits (whose values it masks rather than refuses). */
static int bit_string_ok(fm_der *r) {
    fm_span v;
    return fm_der_expect(r, FM_TAG_BIT_STRING, &v, NULL) == FM_OK && v.len >= 1 && v.p[0] <= 7;
}

/* RFC 3779's CHOICE { inherit NULL, SEQUENCE OF CHOICE { one, SEQUENCE { one, one } } } (one an
 * INTEGER AS number or a BIT STRING address prefix, `one_ok` reading it), the content of `v`. */
static int inherit_or_ranges_ok(fm_span v, int (*one_ok)(fm_der *)) {
    fm_der r, s, x;
    fm_span list, range;
    unsigned tag;
    fm_der_init_span(&r, v);
    if (fm_der_any(&r, &tag, &list, NULL) || !fm_der_done(&r))
        return 0;
    if (tag == FM_TAG_NULL)
        return list.len == 0;
    if (tag != FM_TAG_SEQUENCE)
        return 0;
    for (fm_der_init_span(&s, list); !fm_der_done(&s);) {
        if (fm_der_optional(&s, FM_TAG_SEQUENCE, &range, NULL) == 1) {
            fm_der_init_span(&x, range);
            if (!one_ok(&x) || !one_ok(&x) || !fm_der_done(&x))
                return 0;
        } else if (!one_ok(&s)) {
            return 0;
        }
    }
    return 1;
}

/* The structure of the extensions OpenSSL 3 decodes for every certificate beyond those fastmtls
 * processes (openssl_decoded): one that does not decode makes OpenSSL refuse the certificate
 * as invalid, and so does fastmtls (FM_ERR_INVALID_EXTENSION, FM_X_DECODE_FAILED). Their
 * contents are otherwise not used. `which` is openssl_decoded's index past the id-ce ones:
 * 0 Netscape certificate type (BIT STRING), 1 RFC 3779 IPAddrBlocks, 2 RFC 3779 ASIdentifiers,
 * 3 proxyCertInfo (RFC 3820); the last three are a SEQUENCE. */
static int other_decoded_ok(int which, fm_span v) {
    fm_der r, s;
    fm_span seq, e;
    fm_der_init_span(&r, v);
    if (which == 0)
        return bit_string_ok(&r) && fm_der_done(&r);
    if (fm_der_expect(&r, FM_TAG_SEQUENCE, &seq, NULL) || !fm_der_done(&r))
        return 0;
    fm_der_init_span(&s, seq);
    switch (which) {
    case 1: /* IPAddrBlocks ::= SEQUENCE OF IPAddressFamily { addressFamily OCTET STRING,
             * ipAddressChoice CHOICE { inherit NULL, addressesOrRanges SEQUENCE OF
             * IPAddressOrRange CHOICE { BIT STRING, SEQUENCE { BIT STRING, BIT STRING } } } } */
        while (!fm_der_done(&s)) {
            fm_der f;
            fm_span family, choice;
            if (fm_der_expect(&s, FM_TAG_SEQUENCE, &family, NULL))
                return 0;
            fm_der_init_span(&f, family);
            if (fm_der_expect(&f, FM_TAG_OCTET_STRING, NULL, NULL) ||
                fm_der_any(&f, NULL, NULL, &choice) || !fm_der_done(&f) ||
                !inherit_or_ranges_ok(choice, bit_string_ok))
                return 0;
        }
        return 1;
    case 2: /* ASIdentifiers ::= SEQUENCE { asnum [0] EXPLICIT ASIdentifierChoice OPTIONAL,
             * rdi [1] EXPLICIT ASIdentifierChoice OPTIONAL }, ASIdentifierChoice the CHOICE of
             * inherit_or_ranges_ok over INTEGERs */
        for (unsigned n = 0; n < 2; n++) {
            int has = fm_der_optional(&s, FM_TAG_CONTEXT_CONS(n), &e, NULL);
            if (has < 0 || (has && !inherit_or_ranges_ok(e, integer_ok)))
                return 0;
        }
        return fm_der_done(&s);
    case 3: /* ProxyCertInfoExtension ::= SEQUENCE { pCPathLenConstraint INTEGER OPTIONAL,
             * proxyPolicy SEQUENCE { policyLanguage OID, policy OCTET STRING OPTIONAL } } */
        if (fm_der_optional(&s, FM_TAG_INTEGER, &e, NULL) == 1 && fm_der_integer_ok(e))
            return 0;
        if (fm_der_expect(&s, FM_TAG_SEQUENCE, &seq, NULL) || !fm_der_done(&s))
            return 0;
        fm_der_init_span(&r, seq);
        return fm_der_expect(&r, FM_TAG_OID, &e, NULL) == FM_OK && fm_der_oid_ok(e) &&
               fm_der_optional(&r, FM_TAG_OCTET_STRING, NULL, NULL) >= 0 && fm_der_done(&r);
    default: return 1;
    }
}

/* Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension
 * Extension ::= SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }
 * RFC 5280 4.2: a certificate MUST NOT include more than one instance of an extension. */
static int parse_extensions(fm_cert *c, fm_span exts) {
    fm_der r;
    fm_span oid, value;
    fm_span seen[64];
    size_t nseen = 0;
    int size_rule = 0;
    fm_der_init_span(&r, exts);
    if (exts.len == 0)
        return BAD;
    while (!fm_der_done(&r)) {
        int critical, rc;
        if (fm_der_extension(&r, &oid, &critical, &value) != 0)
            return size_rule ? FM_ERR_INVALID_EXTENSION : BAD;
        int which = openssl_decoded(oid), decoded = which >= 0;
        for (size_t i = 0; i < nseen; i++)
            if (fm_span_eq(seen[i], oid)) {
                c->ext_flags |= decoded ? FM_X_DECODE_FAILED : 0u;
                return FM_ERR_INVALID_EXTENSION;
            }
        if (nseen == sizeof seen / sizeof seen[0])
            return FM_ERR_INVALID_EXTENSION; /* bounded: 64 distinct extensions is plenty */
        seen[nseen++] = oid;

        int known = 1, must_be_critical = 0, must_not_be_critical = 0;
        rc = FM_OK;
        if (oid.len == 3 && oid.p[0] == 0x55 && oid.p[1] == 0x1D) {
            switch (oid.p[2]) {
            case CE_SKI: /* RFC 5280 4.2.1.2: MUST be non-critical */
                c->ext_flags |= FM_X_SKI;
                must_not_be_critical = 1;
                rc = ext_ski(c, value);
                break;
            case CE_KU: c->ext_flags |= FM_X_KU; rc = ext_key_usage(c, value); break;
            case CE_SAN:
                c->ext_flags |= FM_X_SAN | (critical ? FM_X_SAN_CRIT : 0);
                rc = ext_san(c, value);
                break;
            case CE_BC:
                c->ext_flags |= FM_X_BC | (critical ? FM_X_BC_CRIT : 0);
                rc = ext_basic_constraints(c, value);
                break;
            case CE_NC: /* RFC 5280 4.2.1.10: MUST be critical */
                c->ext_flags |= FM_X_NC;
                must_be_critical = 1;
                rc = ext_name_constraints(c, value);
                break;
            case CE_AKI: /* RFC 5280 4.2.1.1: MUST be non-critical */
                c->ext_flags |= FM_X_AKI;
                must_not_be_critical = 1;
                rc = ext_aki(c, value);
                break;
            case CE_POLICY_CONSTRAINTS:
                /* RFC 5280 4.2.1.11: MUST be critical. requireExplicitPolicy is honoured
                 * (fm_verify: a path that requires an explicit policy needs one common to its
                 * certificates); inhibitPolicyMapping is processing fastmtls does not do, which
                 * only matters, and then fails closed, where an explicit policy is required.
                 * pyca/cryptography (and rustls-webpki) reject it critical as unhandled. */
                must_be_critical = 1;
                rc = ext_policy_constraints(c, value);
                break;
            case CE_POLICY_MAPPINGS:
            case CE_INHIBIT_ANY:
                /* not processed (unhandled when critical, as inhibitAnyPolicy MUST be); noted,
                 * so that a path requiring an explicit policy fails closed */
                c->ext_flags |= FM_X_POLICY_MAP;
                known = 0;
                break;
            case CE_EKU:
                c->ext_flags |= FM_X_EKU | (critical ? FM_X_EKU_CRIT : 0);
                rc = ext_eku(c, value);
                break;
            case CE_POLICIES:
                /* RFC 5280 4.2.1.4: accepted even when critical, as OpenSSL does. With no
                 * initial explicit-policy requirement (we never set one), processing the policies
                 * (6.1.3 (d)-(f)) would accept exactly the paths that ignoring them accepts, so
                 * ignoring them is equivalent. pyca/cryptography rejects it critical. */
                c->ext_flags |= FM_X_POLICY;
                rc = ext_policies(c, value);
                break;
            case CE_CRLDP:
                /* RFC 5280 4.2.1.13: accepted even when critical, as OpenSSL does. Revocation
                 * is this extension's business and is handled: CRLSource can fetch the CRLs the
                 * distribution points name, a RevocationSet checks every certificate of the path,
                 * and the points decide which partitioned CRLs cover the certificate (ext_crldp).
                 * pyca/cryptography rejects it critical. */
                rc = ext_crldp(c, value);
                break;
            case CE_FRESHEST:
                /* RFC 5280 4.2.1.15: MUST be non-critical. Not processed by the verifier, so a
                 * critical one is also an unhandled critical extension (that status wins), as in
                 * OpenSSL and pyca/cryptography. */
                known = 0;
                must_not_be_critical = 1;
                break;
            /* issuerAltName (4.2.1.7) is not processed: unhandled when critical, as in OpenSSL
             * and pyca/cryptography */
            default: known = 0;
            }
        } else if (FM_OID_EQ(oid, OID_AIA) || FM_OID_EQ(oid, OID_SIA)) {
            must_not_be_critical = 1; /* RFC 5280 4.2.2.1-2 */
            rc = ext_info_access(value);
        } else {
            /* includes the SCT list of RFC 6962 3.3 (1.3.6.1.4.1.11129.2.4.2): not processed,
             * so unhandled when critical, as in OpenSSL and pyca/cryptography. Those OpenSSL
             * decodes must decode (other_decoded_ok); OpenSSL also processes them (Netscape
             * certificate type, RFC 3779 resources, proxy certificates), so it takes them
             * critical, where fastmtls, which does not, refuses them (RFC 5280 4.2). */
            known = 0;
            if (which >= CE_DECODED && !other_decoded_ok(which - CE_DECODED, value))
                rc = FM_ERR_INVALID_EXTENSION;
        }
        if (rc == SIZE_RULE) { /* refused, but the walk goes on: a later extension may not
                                * decode (FM_X_DECODE_FAILED), as OpenSSL's walk sees */
            size_rule = 1;
            rc = FM_OK;
        }
        if (rc != FM_OK) {
            c->ext_flags |= decoded ? FM_X_DECODE_FAILED : 0u;
            return size_rule ? FM_ERR_INVALID_EXTENSION : rc; /* the first error names it */
        }
        if ((must_be_critical && !critical) || (must_not_be_critical && critical))
            c->ext_flags |= FM_X_BAD_CRIT;
        if (!known && critical)
            c->ext_flags |= FM_X_UNKNOWN_CRIT; /* RFC 5280 4.2: reject when processing the path */
    }
    return size_rule ? FM_ERR_INVALID_EXTENSION : FM_OK;
}

/*
 * Certificate ::= SEQUENCE { tbsCertificate TBSCertificate, signatureAlgorithm AlgorithmIdentifier,
 *                            signatureValue BIT STRING }
 * TBSCertificate ::= SEQUENCE {
 *     version [0] EXPLICIT Version DEFAULT v1, serialNumber INTEGER, signature AlgorithmIdentifier,
 *     issuer Name, validity SEQUENCE { notBefore Time, notAfter Time }, subject Name,
 *     subjectPublicKeyInfo SubjectPublicKeyInfo, issuerUniqueID [1] IMPLICIT BIT STRING OPTIONAL,
 *     subjectUniqueID [2] IMPLICIT BIT STRING OPTIONAL, extensions [3] EXPLICIT Extensions OPTIONAL }
 */
/* The identity fields (serial, issuer, validity, subject) are each located even when one before
 * them failed its own checks (a bad version value, a malformed Name or time, a mismatched
 * signature algorithm), since the elements' boundaries are known: *deferred keeps the first such
 * error, which fm_cert_parse returns; parsing stops after the subject then. */
static void defer(int *deferred, int rc) {
    if (*deferred == FM_OK)
        *deferred = rc;
}

static int cert_parse(fm_cert *c, const uint8_t *der, size_t len, int *deferred) {
    fm_der t, v;
    fm_span tbs, ver, tbs_sig_alg, validity, name, spki, exts, ext_seq, tm;
    unsigned tag;
    int rc;
    memset(c, 0, sizeof *c);
    c->path_len = -1;
    c->require_explicit = -1;
    uint32_t serial_flag = 0;
    TRY(fm_der_signed(der, len, &c->der, &c->tbs, &tbs, &c->sig_alg, &c->sig));

    fm_der_init_span(&t, tbs);
    c->version = 0;
    if ((rc = fm_der_optional(&t, FM_TAG_CONTEXT_CONS(0), &ver, NULL)) < 0)
        return BAD;
    if (rc) {
        fm_span vi;
        fm_der_init_span(&v, ver);
        TRY(fm_der_expect(&v, FM_TAG_INTEGER, &vi, NULL));
        if (!fm_der_done(&v))
            return BAD;
        if (fm_der_small_uint(vi, &c->version) || c->version > 2 || c->version == 0)
            defer(deferred, BAD); /* unknown, or v1 explicit (DER: DEFAULT v1 MUST be omitted) */
    }
    TRY(fm_der_expect(&t, FM_TAG_INTEGER, &c->serial, NULL));
    if (fm_der_integer_ok(c->serial))
        return BAD;
    c->located |= FM_INFO_SERIAL;
    /* RFC 5280 4.1.2.2: a positive integer of at most 20 octets (recorded, not fatal here: some
     * long-lived roots, e.g. Starfield G2, have serial 0) */
    if ((c->serial.p[0] & 0x80) || c->serial.len > 21 || (c->serial.len == 21 && c->serial.p[0]) ||
        (c->serial.len == 1 && c->serial.p[0] == 0))
        serial_flag = FM_X_BAD_SERIAL;
    TRY(fm_der_expect(&t, FM_TAG_SEQUENCE, NULL, &tbs_sig_alg));
    /* RFC 5280 4.1.1.2: signatureAlgorithm MUST equal TBSCertificate.signature (fm_cert_parse
     * reports the mismatch; parsing goes on to locate the identity fields) */
    if (!fm_span_eq(tbs_sig_alg, c->sig_alg))
        defer(deferred, FM_ERR_CERT_SIGNATURE_FAILURE);
    else if ((rc = parse_sig_alg(c->sig_alg, &c->sig_alg_id, &c->pss)) != FM_OK)
        defer(deferred, rc);

    TRY(fm_der_expect(&t, FM_TAG_SEQUENCE, &name, &c->issuer));
    if ((rc = parse_name(name)) != FM_OK)
        defer(deferred, rc);
    else
        c->located |= FM_INFO_ISSUER;
    TRY(fm_der_expect(&t, FM_TAG_SEQUENCE, &validity, NULL));
    fm_der_init_span(&v, validity);
    if (fm_der_any(&v, &tag, &tm, NULL) != FM_OK || fm_der_time(tag, tm, &c->not_before) != FM_OK ||
        fm_der_any(&v, &tag, &tm, NULL) != FM_OK || fm_der_time(tag, tm, &c->not_after) != FM_OK ||
        !fm_der_done(&v))
        defer(deferred, BAD);
    else
        c->located |= FM_INFO_VALIDITY;
    TRY(fm_der_expect(&t, FM_TAG_SEQUENCE, &name, &c->subject));
    if ((rc = parse_name(name)) != FM_OK)
        defer(deferred, rc);
    else
        c->located |= FM_INFO_SUBJECT;
    if (*deferred != FM_OK)
        return *deferred;
    TRY(fm_der_expect(&t, FM_TAG_SEQUENCE, &spki, &c->spki));
    if ((rc = parse_spki(c, spki)) != FM_OK)
        return rc;
    /* unique identifiers: RFC 5280 4.1.2.8, v2 or v3 only */
    for (unsigned n = 1; n <= 2; n++) {
        if ((rc = fm_der_optional(&t, FM_TAG_CONTEXT(n), NULL, NULL)) < 0)
            return BAD;
        if (rc && c->version < 1)
            return BAD;
    }
    if ((rc = fm_der_optional(&t, FM_TAG_CONTEXT_CONS(3), &exts, NULL)) < 0)
        return BAD;
    if (rc) {
        if (c->version != 2)
            return FM_ERR_INVALID_VERSION; /* RFC 5280 4.1.2.9: extensions only in v3 */
        fm_der_init_span(&v, exts);
        TRY(fm_der_expect(&v, FM_TAG_SEQUENCE, &ext_seq, NULL));
        if (!fm_der_done(&v))
            return BAD;
        if ((rc = parse_extensions(c, ext_seq)) != FM_OK)
            return rc;
    }
    if (!fm_der_done(&t))
        return BAD;
    c->self_issued = fm_span_eq(c->issuer, c->subject);
    c->ext_flags |= serial_flag;
    return FM_OK;
}

int fm_cert_parse(fm_cert *c, const uint8_t *der, size_t len) {
    int deferred = FM_OK;
    int rc = cert_parse(c, der, len, &deferred);
    /* the first error wins, as when it stopped the parse */
    return deferred != FM_OK ? deferred : rc;
}

static size_t off(const fm_span *s, const uint8_t *base) {
    return s->len ? (size_t)(s->p - base) : 0;
}

/* The subjectKeyIdentifier of a certificate the parser rejected, for its FAILED: result: the
 * TBSCertificate walked element by element (each TLV bounds-checked, its content not examined)
 * to the extensions, then the one subjectKeyIdentifier whose value is one OCTET STRING (none
 * when an extension OpenSSL decodes appears twice, or does not decode, anywhere: each is parsed
 * alone, past whatever stopped the certificate's parse, as OpenSSL's X509_get0_subject_key_id
 * gives none then). A certificate rejected for a v1 version with extensions, an unusual name or
 * time, or an extension OpenSSL does not decode still shows its SKI, as OpenSSL-based gateways
 * print it. */
static int locate_ski(const uint8_t *der, size_t len, fm_span *ski) {
    static const uint8_t oid_ski[3] = {0x55, 0x1D, 0x0E};
    fm_der r, x;
    fm_span body, seq, ext, whole, oid, value;
    fm_cert one;
    unsigned tag, seen = 0;
    int found = 0;
    fm_der_init(&r, der, len);
    if (fm_der_expect(&r, FM_TAG_SEQUENCE, &body, NULL))
        return 0;
    fm_der_init_span(&r, body);
    if (fm_der_expect(&r, FM_TAG_SEQUENCE, &body, NULL))
        return 0;
    fm_der_init_span(&r, body);
    if (fm_der_optional(&r, FM_TAG_CONTEXT_CONS(0), NULL, NULL) < 0)
        return 0;
    for (int i = 0; i < 6; i++) /* serial, signature, issuer, validity, subject, key */
        if (fm_der_any(&r, NULL, NULL, NULL))
            return 0;
    do { /* after the unique identifiers, if any: [3] { SEQUENCE OF Extension } */
        if (fm_der_done(&r) || fm_der_any(&r, &tag, &body, NULL))
            return 0;
    } while (tag != FM_TAG_CONTEXT_CONS(3));
    fm_der_init_span(&r, body);
    if (fm_der_expect(&r, FM_TAG_SEQUENCE, &seq, NULL))
        return 0;
    fm_der_init_span(&r, seq);
    while (!fm_der_done(&r)) { /* an extension that does not read ends the walk: what it found */
        if (fm_der_expect(&r, FM_TAG_SEQUENCE, &ext, &whole))
            return found;
        fm_der_init_span(&x, ext);
        if (fm_der_expect(&x, FM_TAG_OID, &oid, NULL) ||
            fm_der_optional(&x, FM_TAG_BOOLEAN, NULL, NULL) < 0 ||
            fm_der_expect(&x, FM_TAG_OCTET_STRING, &value, NULL))
            return found;
        int k = openssl_decoded(oid);
        if (k >= 0) {
            if (seen & (1u << k))
                return 0; /* a second one: OpenSSL flags the certificate invalid */
            seen |= 1u << k;
            /* one OpenSSL cannot decode (parsed alone, as a list of one): the same */
            memset(&one, 0, sizeof one);
            (void)parse_extensions(&one, whole);
            if (one.ext_flags & FM_X_DECODE_FAILED)
                return 0;
        }
        if (oid.len == sizeof oid_ski && memcmp(oid.p, oid_ski, sizeof oid_ski) == 0) {
            found = 1;
            fm_der_init_span(&x, value);
            if (fm_der_expect(&x, FM_TAG_OCTET_STRING, ski, NULL) || !fm_der_done(&x))
                return 0;
        }
    }
    return found;
}

int fm_cert_info_get(const uint8_t *der, size_t len, fm_cert_info *out) {
    fm_cert c;
    int rc = fm_cert_parse(&c, der, len);
    memset(out, 0, sizeof *out);
    if (c.located & FM_INFO_SERIAL)
        out->serial_off = off(&c.serial, der), out->serial_len = c.serial.len;
    if (c.located & FM_INFO_ISSUER)
        out->issuer_off = off(&c.issuer, der), out->issuer_len = c.issuer.len;
    if (c.located & FM_INFO_VALIDITY)
        out->not_before = c.not_before, out->not_after = c.not_after;
    if (c.located & FM_INFO_SUBJECT)
        out->subject_off = off(&c.subject, der), out->subject_len = c.subject.len;
    out->located = c.located;
    if (rc != FM_OK) {
        fm_span ski;
        if (!(c.ext_flags & FM_X_DECODE_FAILED) && locate_ski(der, len, &ski)) {
            out->ski_off = off(&ski, der), out->ski_len = ski.len;
            out->located |= FM_INFO_SKI;
        }
        return rc;
    }
    out->spki_off = off(&c.spki, der), out->spki_len = c.spki.len;
    if (!(c.ext_flags & FM_X_DECODE_FAILED))
        out->ski_off = off(&c.ski, der), out->ski_len = c.ski.len;
    out->aki_off = off(&c.aki_keyid, der), out->aki_len = c.aki_keyid.len;
    out->san_off = off(&c.san, der), out->san_len = c.san.len;
    out->key_type = (uint32_t)c.key_type, out->key_bits = c.key_bits;
    out->eku = (c.ext_flags & FM_X_EKU) ? c.eku : 0;
    out->is_ca = c.is_ca, out->path_len = c.path_len;
    out->key_usage = c.key_usage, out->has_key_usage = (c.ext_flags & FM_X_KU) != 0;
    return FM_OK;
}
