/* fm_revset.h - internal revocation-set lookups used by the verifier. */
#ifndef FM_REVSET_H
#define FM_REVSET_H

#include "fm_der.h"
#include "fm_x509.h" /* FM_DPN_* */
#include "include/fastmtls.h"

/* Index of the CA (name + key) in the set, or -1. */
int fm_revset_find_issuer(const fm_revset *s, fm_span name, fm_span spki);
/* The window in which a certificate's revocation status is current: from the thisUpdate to the
 * nextUpdate of the CRLs giving it (INT64_MIN and INT64_MAX when unbounded). */
typedef struct fm_window {
    int64_t this_update, next_update;
} fm_window;

/* Whether window a gives fresher status than b at time `at`: one already in force (thisUpdate not
 * after `at`) first, then the later nextUpdate. */
int fm_window_fresher(fm_window a, fm_window b, int64_t at);

/* Whether the CA's CRLs without a distribution point name (or its operator-managed entries,
 * when it has no CRL) cover certificates of this kind; *w receives the window of the freshest
 * of those that do. */
int fm_revset_issuer_state(const fm_revset *s, int issuer, int is_ca, fm_window *w);
/* Whether a partitioned CRL of `issuer` (its IDP names a distribution point) covering
 * certificates of this kind has the distribution point name `name`: kind FM_DPN_FULL with one
 * GeneralName TLV of a fullName, FM_DPN_RELATIVE with a nameRelativeToCRLIssuer's content.
 * Names compare as exact DER. When the name is found, *w receives the window of the freshest
 * CRL naming it for this kind. */
int fm_revset_covers_dp(const fm_revset *s, int issuer, int is_ca, int kind, fm_span name,
                        fm_window *w);
/* 1 when `serial` (INTEGER content) of a certificate issued by `issuer` is revoked. */
int fm_revset_check(const fm_revset *s, int issuer, fm_span serial, int is_ca, fm_revocation *out);
uint64_t fm_checksum64(const uint8_t *p, size_t n);

#endif /* FM_REVSET_H */
