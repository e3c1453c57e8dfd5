/* fm_crl.h - CRL parser (RFC 5280 section 5): offsets into the caller's DER, no allocation. */
#ifndef FM_CRL_H
#define FM_CRL_H

#include "fm_x509.h"

typedef struct fm_crl {
    fm_span der, tbs, sig_alg, sig;
    int version;        /* 0 = v1, 1 = v2 */
    int sig_alg_id;     /* enum fm_sig_alg */
    fm_pss pss;
    fm_span issuer;     /* Name TLV */
    int64_t this_update, next_update; /* next_update INT64_MAX when absent */
    fm_span revoked;    /* content of revokedCertificates (may be empty) */
    uint64_t n_entries;
    uint64_t serial_octets; /* sum of the entries' serial lengths */
    uint32_t flags;     /* FM_CRL_* */
    int indirect;
    fm_span number;      /* cRLNumber content */
    fm_span base_number; /* deltaCRLIndicator content */
    fm_span aki;         /* authorityKeyIdentifier keyIdentifier */
    fm_span idp;         /* issuingDistributionPoint value (whole SEQUENCE), partition key */
    int has_idp_dp;      /* the IDP names a distributionPoint: the CRL covers only the
                          * certificates whose cRLDistributionPoints name it (RFC 5280 6.3.3) */
    int idp_dp_kind;     /* FM_DPN_* */
    fm_span idp_dp;      /* its names (see FM_DPN_*) */
    uint32_t idp_reasons; /* onlySomeReasons as fm_der_named_bits() reads it (0 when absent) */
} fm_crl;

typedef struct fm_crl_entry {
    fm_span serial;   /* INTEGER content */
    int64_t date;     /* revocationDate */
    uint32_t reason;  /* CRLReason, 0 when absent */
} fm_crl_entry;

typedef struct fm_crl_iter {
    fm_der r;
} fm_crl_iter;

/* Entries whose serial is longer than this name no certificate fastmtls accepts (RFC 5280
 * 4.1.2.2: at most 20 octets): a revocation set skips them, the CRL stays usable. */
#define FM_CRL_MAX_SERIAL 64u

/* Parses and validates the whole CRL, entries included. Returns FM_OK, FM_ERR_CRL_MALFORMED or
 * FM_ERR_CRL_UNSUPPORTED. */
int fm_crl_parse_full(fm_crl *c, const uint8_t *der, size_t len);
/* Everything but the entries' contents (they are counted by their TLV headers): the iterator
 * validates each entry when it reads it. */
int fm_crl_parse_header(fm_crl *c, const uint8_t *der, size_t len);
void fm_crl_iter_init(fm_crl_iter *it, const fm_crl *c);
/* 1 = an entry was read, 0 = end, negative/other = error status. */
int fm_crl_iter_next(fm_crl_iter *it, fm_crl_entry *out);
/* Issuer, AKI, cRLSign and signature of a parsed CRL against the CA certificate. */
int fm_crl_check_parsed(const fm_crl *c, const fm_cert *ca);

#endif /* FM_CRL_H */
