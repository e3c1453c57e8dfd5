/* fm_revset.h - internal revocation-set lookups used by the verifier. */
#ifndef FM_REVSET_H
#define FM_REVSET_H

#include "fm_der.h"
#include "fm_x509.h" /* FM_DPN_* */
#include "include/fastmtls.h"

/* Index of the CA (name + key) in the set, or -1. */
int fm_revset_find_issuer(const fm_revset *s, fm_span name, fm_span spki);
/* Whether the CA's CRLs without a distribution point name cover certificates of this kind;
 * *next_update receives the earliest nextUpdate of those that do (INT64_MAX: none). */
int fm_revset_issuer_state(const fm_revset *s, int issuer, int is_ca, int64_t *next_update);
/* Whether a partitioned CRL of `issuer` (its IDP names a distribution point) covering
 * certificates of this kind has the distribution point name `name`: kind FM_DPN_FULL with one
 * GeneralName TLV of a fullName, FM_DPN_RELATIVE with a nameRelativeToCRLIssuer's content.
 * Names compare as exact DER. When the name is found, *next_update receives the earliest
 * nextUpdate of the CRLs naming it. */
int fm_revset_covers_dp(const fm_revset *s, int issuer, int is_ca, int kind, fm_span name,
                        int64_t *next_update);
/* 1 when `serial` (INTEGER content) of a certificate issued by `issuer` is revoked. */
int fm_revset_check(const fm_revset *s, int issuer, fm_span serial, int is_ca, fm_revocation *out);
uint64_t fm_checksum64(const uint8_t *p, size_t n);

#endif /* FM_REVSET_H */
