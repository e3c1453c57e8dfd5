/* fm_x509.h - X.509 v3 certificate parser (RFC 5280 4.1). Records offsets into the caller's DER;
 * copies nothing and allocates nothing. */
#ifndef FM_X509_H
#define FM_X509_H

#include "fm_der.h"
#include "include/fastmtls.h"

/* Signature algorithms (RFC 4055, RFC 5758, RFC 8410). */
enum fm_sig_alg {
    FM_SIG_UNKNOWN = 0,
    FM_SIG_RSA_PKCS1_SHA256,
    FM_SIG_RSA_PKCS1_SHA384,
    FM_SIG_RSA_PKCS1_SHA512,
    FM_SIG_RSA_PSS, /* hash and salt in fm_cert.pss */
    FM_SIG_ECDSA_SHA256,
    FM_SIG_ECDSA_SHA384,
    FM_SIG_ECDSA_SHA512,
    FM_SIG_ED25519,
};

enum fm_hash { FM_HASH_NONE = 0, FM_HASH_SHA256, FM_HASH_SHA384, FM_HASH_SHA512 };

typedef struct fm_pss {
    int hash;      /* enum fm_hash; MGF1 uses the same hash (enforced at parse time) */
    int salt_len;  /* bytes */
} fm_pss;

/* ext_flags */
#define FM_X_BC 0x0001u            /* basicConstraints present */
#define FM_X_KU 0x0002u            /* keyUsage present */
#define FM_X_EKU 0x0004u           /* extendedKeyUsage present */
#define FM_X_SAN 0x0008u           /* subjectAltName present */
#define FM_X_NC 0x0010u            /* nameConstraints present */
#define FM_X_SKI 0x0020u           /* subjectKeyIdentifier present */
#define FM_X_AKI 0x0040u           /* authorityKeyIdentifier present */
#define FM_X_UNKNOWN_CRIT 0x0080u  /* an unrecognised extension is marked critical */
#define FM_X_SAN_CRIT 0x0100u      /* subjectAltName is critical */
#define FM_X_POLICY 0x0200u        /* certificatePolicies present */
#define FM_X_BC_CRIT 0x0400u       /* basicConstraints is critical */
#define FM_X_BAD_CRIT 0x0800u      /* an extension that MUST NOT be critical is, or vice versa */
#define FM_X_BAD_SERIAL 0x1000u    /* serial not a positive integer of at most 20 octets */
#define FM_X_POLICY_MAP 0x2000u    /* policyMappings, inhibitAnyPolicy or policyConstraints
                                    * inhibitPolicyMapping: policy processing fastmtls does not do */
#define FM_X_DECODE_FAILED 0x4000u /* an extension OpenSSL decodes (ossl_x509v3_cache_extensions:
                                    * BC, KU, EKU, SKI, AKI, SAN, NC, CRL DP) is repeated or did
                                    * not parse, or a SAN element is no GeneralName TLV: OpenSSL
                                    * flags the certificate invalid, and its
                                    * X509_get0_subject_key_id gives no SKI (fields() neither) */
#define FM_X_AKI_ISSUER 0x8000u    /* authorityKeyIdentifier names the issuer's issuer and serial
                                    * (authorityCertIssuer or authorityCertSerialNumber) */
#define FM_X_EKU_CRIT 0x10000u     /* extendedKeyUsage is critical */

/* KeyUsage bits, numbered as in RFC 5280 4.2.1.3 (bit n of the BIT STRING -> 1 << n). */
#define FM_KU_DIGITAL_SIGNATURE (1u << 0)
#define FM_KU_KEY_CERT_SIGN (1u << 5)
#define FM_KU_CRL_SIGN (1u << 6)

typedef struct fm_cert {
    fm_span der;          /* the whole Certificate TLV */
    fm_span tbs;          /* TBSCertificate, whole TLV (what the signature covers) */
    fm_span sig_alg;      /* Certificate.signatureAlgorithm, whole TLV */
    fm_span sig;          /* signatureValue bits (unused-bits octet removed) */
    int version;          /* 0 = v1, 1 = v2, 2 = v3 */
    fm_span serial;       /* INTEGER content */
    fm_span issuer;       /* Name, whole TLV */
    fm_span subject;      /* Name, whole TLV */
    int64_t not_before;   /* unix seconds */
    int64_t not_after;
    fm_span spki;         /* SubjectPublicKeyInfo, whole TLV */
    fm_span spki_key;     /* subjectPublicKey bits */
    int key_type;         /* enum fm_key_type */
    uint32_t key_bits;    /* RSA modulus bits, EC field bits, 255 for Ed25519 */
    int sig_alg_id;       /* enum fm_sig_alg */
    fm_pss pss;
    uint32_t ext_flags;   /* FM_X_* */
    int is_ca;            /* basicConstraints cA */
    int path_len;         /* pathLenConstraint, -1 when absent */
    uint32_t key_usage;   /* FM_KU_* bits, valid when FM_X_KU */
    uint32_t eku;         /* FM_EKU_* bits (fastmtls.h), valid when FM_X_EKU */
    fm_span ski;          /* subjectKeyIdentifier octets */
    fm_span aki_keyid;    /* authorityKeyIdentifier keyIdentifier octets (may be empty) */
    fm_span san;          /* subjectAltName GeneralNames, whole SEQUENCE TLV */
    fm_span nc_permitted; /* nameConstraints permittedSubtrees: content of [0] (GeneralSubtree*) */
    fm_span nc_excluded;  /* nameConstraints excludedSubtrees: content of [1] */
    fm_span crldp;        /* cRLDistributionPoints: content of the SEQUENCE (validated; empty
                           * when absent), read with fm_crldp_next */
    fm_span policies;     /* certificatePolicies: content of the SEQUENCE (PolicyInformation*;
                           * validated when read, by fm_verify's explicit-policy check) */
    int require_explicit; /* policyConstraints requireExplicitPolicy (SkipCerts), -1 absent */
    int self_issued;      /* issuer and subject are byte-identical */
    uint32_t located;     /* FM_INFO_* bits: the identity fields validated so far (all of them
                           * after FM_OK; after an error, those parsed before it) */
} fm_cert;

/* Parses one DER certificate of exactly `len` bytes. Returns FM_OK or an FM_ERR_* code
 * (FM_ERR_MALFORMED_CERT, FM_ERR_INVALID_EXTENSION, FM_ERR_INVALID_VERSION, ...). After an
 * error only the fields c->located names are valid. */
int fm_cert_parse(fm_cert *c, const uint8_t *der, size_t len);

/* Parses an AlgorithmIdentifier (whole TLV) of a signature: *alg receives FM_SIG_UNKNOWN for
 * algorithms not supported. Returns FM_OK or FM_ERR_MALFORMED_CERT. */
int fm_sig_alg_parse(fm_span full, int *alg, fm_pss *pss);

/* Whether an attribute (type `oid`, value of identifier octet `tag` and content `value`) is one
 * OpenSSL's X509_NAME decoder takes: a well-formed OBJECT IDENTIFIER, and a value of a universal type of ASN1_PRINTABLE (the string types, BIT STRING, SEQUENCE and
 * the types it reads as unknown; not BOOLEAN, INTEGER, OCTET STRING, NULL, OID, ENUMERATED,
 * SET, the times, VideotexString, GraphicString, VisibleString or GeneralString) whose content
 * x509_name_canon can read (UTF8String valid UTF-8, BMPString and UniversalString whole
 * characters, none a surrogate or past U+10FFFF; a BIT STRING with its unused-bits octet).
 * A certificate whose subject or issuer holds another could not be loaded by OpenSSL, nor its
 * names printed as OpenSSL prints them: it is malformed. (Implemented in fm_names.c with the
 * string decoders.) */
int fm_name_atv_ok(fm_span oid, unsigned tag, fm_span value);
/* The part of fm_name_atv_ok that OpenSSL's decoder checks wherever an attribute is not part of
 * a certificate's subject or issuer (a CRL distribution point's relative name): the OID, the
 * value's type, a BIT STRING's unused-bits octet, whole BMPString and UniversalString
 * characters by length; not the characters themselves. */
int fm_name_atv_decodes(fm_span oid, unsigned tag, fm_span value);

/* Parses a Name (whole TLV): SEQUENCE OF SET OF AttributeTypeAndValue. Returns FM_OK or
 * FM_ERR_MALFORMED_CERT. */
int fm_name_parse(fm_span full);

/* Parses a SubjectPublicKeyInfo (whole TLV): key type (enum fm_key_type), size in bits, and the
 * subjectPublicKey bits (`key`, may be NULL). Returns FM_OK or FM_ERR_MALFORMED_CERT. */
int fm_spki_parse(const uint8_t *spki, size_t len, int *key_type, uint32_t *key_bits,
                  fm_span *key);

/* DistributionPointName kinds (RFC 5280 4.2.1.13). */
#define FM_DPN_FULL 0     /* fullName [0] GeneralNames: names = the GeneralName TLVs */
#define FM_DPN_RELATIVE 1 /* nameRelativeToCRLIssuer [1] RDN: names = the SET's content */

/* Parses a DistributionPointName given the content of its [0] wrapper (the CHOICE is explicitly
 * tagged where DistributionPoint and IssuingDistributionPoint use it). Returns FM_OK, -1 when
 * malformed, or -2 when well formed but empty (a SIZE (1..MAX) rule OpenSSL does not enforce;
 * refused all the same). */
int fm_dpname_parse(fm_span v, int *kind, fm_span *names);
/* Whether a GeneralName (its full tag and content) is one OpenSSL's decoder reads: a context
 * tag 0..8 in a form its type allows, otherName { OID, [0] }, directoryName one Name that
 * fm_name_parse reads, ediPartyName { [0] OPTIONAL, [1] }, registeredID a valid OID. The
 * characters of the string forms are not examined. Returns 1 or 0. */
int fm_general_name_decodes(unsigned tag, fm_span v);

/* One DistributionPoint of a certificate's cRLDistributionPoints. */
typedef struct fm_dist_point {
    int has_name;       /* distributionPoint present */
    int name_kind;      /* FM_DPN_* */
    fm_span names;      /* see FM_DPN_* */
    int has_reasons;    /* reasons present (the CRLs found through it are partial) */
    fm_span crl_issuer; /* cRLIssuer GeneralNames content (empty when absent) */
} fm_dist_point;

/* Reads the next DistributionPoint of a reader over fm_cert.crldp: 1 = read, 0 = end, -1 =
 * malformed, -2 = a name list empty (fm_dpname_parse); never below 0 for a span fm_cert_parse
 * accepted. */
int fm_crldp_next(fm_der *r, fm_dist_point *out);

#endif /* FM_X509_H */
