/*
 * fastmtls.h - the public C API of the fastmtls verification core.
 *
 * DER bytes in, a caller-allocated result out. No Python object and no OpenSSL type crosses this
 * API (the handshake hook's functions take OpenSSL's SSL and SSL_CTX as opaque pointers), so the
 * same core serves CFFI, an OpenSSL verify callback, fuzzers and C tests.
 *
 * Conventions:
 * - Functions return an int status (FM_OK or an FM_ERR_* code from FM_STATUS_LIST) unless their
 *   comment says otherwise; handles are created with *_new and released with *_free (which accept
 *   NULL); byte inputs are (const uint8_t *p, size_t len) and are copied unless the function says
 *   it borrows them (*_borrowed).
 * - Pointer arguments must not be NULL unless their comment says "may be NULL" (the *_new
 *   functions and fm_verify* check theirs and return FM_ERR_INVALID_ARGUMENT).
 * - Building calls (fm_store_add_anchor, fm_store_associate, fm_store_set_group_name,
 *   fm_verifier_add_intermediate, fm_revbuild_*) are not thread safe: make them on one thread,
 *   before the object is shared or verified with (the first verification seals a store and a
 *   verifier: later building calls return FM_ERR_SEALED). Everything else may be called from
 *   any number of threads at once.
 * - Functions that take another object keep their own reference (fm_verifier_set_store,
 *   fm_verifier_set_revocations): the caller still frees its own. Pointers
 *   a getter returns (fm_store_anchor_get, fm_store_group_name, fm_revset_issuer_get) stay valid
 *   while the caller holds a reference to the object they came from.
 */
#ifndef FASTMTLS_H
#define FASTMTLS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FM_VERSION "0.1.0"

/*
 * Every status code, once: X(name, value, message).
 *   0        success
 *   1..99    verification results (a bad client chain; never an exception in Python)
 *   100..199 configuration and API errors
 * Messages use OpenSSL's X509_verify_cert_error_string() wording where an equivalent exists
 * (the 1.1.1 wording Cloudflare and nginx expose, e.g. "self signed certificate").
 */
#define FM_STATUS_LIST(X)                                                                         \
    X(FM_OK, 0, "ok")                                                                             \
    X(FM_ERR_NO_CERTIFICATE, 1, "no certificate presented")                                      \
    X(FM_ERR_MALFORMED_CERT, 2, "malformed certificate")                                         \
    X(FM_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, 3, "unable to get local issuer certificate")     \
    X(FM_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, 4, "self signed certificate")                          \
    X(FM_ERR_SELF_SIGNED_CERT_IN_CHAIN, 5, "self signed certificate in certificate chain")       \
    X(FM_ERR_CERT_NOT_YET_VALID, 6, "certificate is not yet valid")                              \
    X(FM_ERR_CERT_HAS_EXPIRED, 7, "certificate has expired")                                     \
    X(FM_ERR_CERT_SIGNATURE_FAILURE, 8, "certificate signature failure")                         \
    X(FM_ERR_INVALID_CA, 9, "invalid CA certificate")                                            \
    X(FM_ERR_KEYUSAGE_NO_CERTSIGN, 10, "key usage does not include certificate signing")         \
    X(FM_ERR_PATH_LENGTH_EXCEEDED, 11, "path length constraint exceeded")                        \
    X(FM_ERR_INVALID_PURPOSE, 12, "unsupported certificate purpose")                             \
    X(FM_ERR_CERT_CHAIN_TOO_LONG, 13, "certificate chain too long")                              \
    X(FM_ERR_UNHANDLED_CRITICAL_EXTENSION, 14, "unhandled critical extension")                   \
    X(FM_ERR_INVALID_EXTENSION, 15, "invalid or inconsistent certificate extension")             \
    X(FM_ERR_PERMITTED_VIOLATION, 16, "permitted subtree violation")                             \
    X(FM_ERR_EXCLUDED_VIOLATION, 17, "excluded subtree violation")                               \
    X(FM_ERR_SUBTREE_MINMAX, 18, "name constraints minimum and maximum not supported")           \
    X(FM_ERR_UNSUPPORTED_CONSTRAINT_TYPE, 19, "unsupported name constraint type")                \
    X(FM_ERR_UNSUPPORTED_NAME_SYNTAX, 20, "unsupported or invalid name syntax")                  \
    X(FM_ERR_HOSTNAME_MISMATCH, 21, "hostname mismatch")                                         \
    X(FM_ERR_EMAIL_MISMATCH, 22, "email address mismatch")                                       \
    X(FM_ERR_IP_ADDRESS_MISMATCH, 23, "IP address mismatch")                                     \
    X(FM_ERR_UNSUPPORTED_SIGNATURE_ALGORITHM, 24, "unsupported signature algorithm")             \
    X(FM_ERR_EE_KEY_TOO_SMALL, 25, "EE certificate key too weak")                                \
    X(FM_ERR_CA_KEY_TOO_SMALL, 26, "CA certificate key too weak")                                \
    X(FM_ERR_UNSUPPORTED_KEY, 27, "unsupported public key algorithm")                            \
    X(FM_ERR_INVALID_NON_CA, 28, "invalid non-CA certificate (has CA markings)")                 \
    X(FM_ERR_BUDGET_EXCEEDED, 29, "path building budget exceeded")                               \
    X(FM_ERR_INPUT_TOO_LARGE, 30, "certificate chain input too large")                           \
    X(FM_ERR_CERT_REVOKED, 31, "certificate revoked")                                            \
    X(FM_ERR_UNABLE_TO_GET_CRL, 32, "unable to get certificate CRL")                             \
    X(FM_ERR_CRL_HAS_EXPIRED, 33, "CRL has expired")                                             \
    X(FM_ERR_INVALID_VERSION, 34, "unsupported certificate version")                             \
    X(FM_ERR_CRL_NOT_YET_VALID, 35, "CRL is not yet valid")                                      \
    X(FM_ERR_NO_EXPLICIT_POLICY, 36, "no explicit policy")                                       \
    X(FM_ERR_NOMEM, 100, "out of memory")                                                        \
    X(FM_ERR_INVALID_ARGUMENT, 101, "invalid argument")                                          \
    X(FM_ERR_NOT_A_CA, 102, "certificate is not a CA")                                           \
    X(FM_ERR_KEY_DECODE, 103, "unable to decode public key")                                     \
    X(FM_ERR_SEALED, 104, "object is in use and can no longer be modified")                      \
    X(FM_ERR_LIMIT, 105, "configured limit exceeded")                                            \
    X(FM_ERR_INTERNAL, 106, "internal error")                                                    \
    X(FM_ERR_CRL_MALFORMED, 107, "malformed CRL")                                                \
    X(FM_ERR_CRL_SIGNATURE_FAILURE, 108, "CRL signature failure")                                \
    X(FM_ERR_CRL_ISSUER_MISMATCH, 109, "CRL issuer does not match the CA")                       \
    X(FM_ERR_CRL_UNSUPPORTED, 110, "unsupported CRL (indirect CRL or unknown critical extension)") \
    X(FM_ERR_CRL_NO_BASE, 111, "delta CRL without a matching base CRL")                          \
    X(FM_ERR_SNAPSHOT_CORRUPT, 112, "revocation snapshot is truncated or corrupt")               \
    X(FM_ERR_SNAPSHOT_VERSION, 113, "unsupported revocation snapshot version")                   \
    X(FM_ERR_IO, 114, "I/O error")                                                               \
    X(FM_ERR_SYMBOL_NOT_FOUND, 115, "OpenSSL functions of the ssl module not found")             \
    X(FM_ERR_UNSUPPORTED_PLATFORM, 116, "not supported on this platform")

typedef enum fm_status {
#define FM_X_ENUM(name, value, msg) name = value,
    FM_STATUS_LIST(FM_X_ENUM)
#undef FM_X_ENUM
} fm_status;

/* Message for a status ("unknown status" for a value not in the list); never NULL. */
const char *fm_status_message(int status);
/* Symbolic name ("FM_ERR_CERT_HAS_EXPIRED"); NULL for a value not in the list. */
const char *fm_status_name(int status);
/* Writes every status value into out (up to cap); returns how many exist. */
size_t fm_status_values(int *out, size_t cap);

/* ---- limits ------------------------------------------------------------------------------ */

/* Every limit that bounds hostile input, in one place. Defaults below; all configurable. */
typedef struct fm_limits {
    uint32_t max_cert_size;   /* bytes in one certificate */
    uint32_t max_chain_certs; /* certificates in one presented chain */
    uint32_t max_input_size;  /* total bytes of one presented chain */
    uint32_t max_depth;       /* intermediates between leaf and trust anchor */
    uint32_t max_sig_checks;  /* signature verifications per verify call */
    uint32_t max_steps;       /* path-building candidate examinations per verify call (and one
                               * per ~1024 anchors of a name a host may not use, walked) */
    uint32_t max_sig_cost;    /* signature work per verify call, in RSA-2048 verifications */
    uint32_t max_nc_checks;   /* name/constraint comparisons per verify call (all pairs, paths) */
} fm_limits;

/* 64 KiB: the largest certificates seen in practice (PQ hybrids, huge SAN lists) are ~20 KiB. */
#define FM_DEFAULT_MAX_CERT_SIZE 65536u
/* 64 certificates: a TLS 1.3 Certificate message cannot carry many more of realistic size. */
#define FM_DEFAULT_MAX_CHAIN_CERTS 64u
/* 1 MiB: OpenSSL's default max certificate list (SSL_CTX_set_max_cert_list is 100 KiB, 1 MiB here
 * for operators with very large chains). */
#define FM_DEFAULT_MAX_INPUT_SIZE 1048576u
/* 8 intermediates: pyca/cryptography's default; rustls allows 6. */
#define FM_DEFAULT_MAX_DEPTH 8u
/* Hard ceiling for max_depth: the size of the result's chain arrays. */
#define FM_MAX_DEPTH_LIMIT 62u
/* 100 signature checks and 2000 steps: webpki's budget is 100 signatures / 100 build-chain calls. */
#define FM_DEFAULT_MAX_SIG_CHECKS 100u
#define FM_DEFAULT_MAX_STEPS 2000u
/* 400 units of signature work: one unit is an RSA-2048 verification (~17-25 us with OpenSSL 3.0
 * on a 2020s x86 core), P-256 costs 4, Ed25519 7, P-521 32, P-384 40, RSA-4096 4, and each
 * 16 KiB of TBSCertificate hashed one more: a count alone would let 100 P-384 checks burn
 * ~70 ms, or 60 checks of a 64 KiB certificate ~11 ms; this bounds a verification near 10 ms. */
#define FM_DEFAULT_MAX_SIG_COST 400u
/* 2^20 name/constraint pairs (names of a certificate x subtrees of a CA's nameConstraints):
 * OpenSSL's NAME_CHECK_MAX and pyca/cryptography's budget. Beyond it the name-constraint check is
 * FM_ERR_BUDGET_EXCEEDED (x509-limbo pathological::nc-dos-*). Each name and subtree is weighted
 * by what comparing it costs: 1 + its size in 64-byte units (squared for a directoryName,
 * compared attribute by attribute), a name of a scanned form (e-mail, URI, wildcard DNS) x 8,
 * an iPAddress x 2; a short dNSName (hash-indexed) counts 1. */
#define FM_DEFAULT_MAX_NC_CHECKS 1048576u
/* Bounds on what the operator configures (trusted input, so fixed): a trust anchor's size (1 MiB,
 * 16 x FM_DEFAULT_MAX_CERT_SIZE: anchors are never hostile, only possibly large), the issuing
 * CAs of one revocation set (65,535: a record stores its issuer as a 16-bit index, a format
 * bound of the snapshot too), and the anchors of one store (65,535, as operator intermediates:
 * fm_result.chain_idx is 16-bit). */
#define FM_MAX_ANCHOR_SIZE (16u * FM_DEFAULT_MAX_CERT_SIZE)
#define FM_MAX_REVSET_ISSUERS 65535u
/* Trust anchors in one store (a result names its chain's certificates by 16-bit indexes). */
#define FM_MAX_ANCHORS 65535u
/* RSA keys used to verify: at most 8192-bit moduli (as rustls-webpki) and 32-bit exponents, so
 * one signature check has a bounded cost. */
#define FM_MAX_RSA_BITS 8192u

/* ---- options ----------------------------------------------------------------------------- */

enum fm_purpose { FM_PURPOSE_ANY = 0, FM_PURPOSE_CLIENT = 1, FM_PURPOSE_SERVER = 2 };

/* The leaf must carry an extendedKeyUsage that includes the purpose (default: only when present). */
#define FM_OPT_REQUIRE_EKU 0x1u
/* Revocation (when a revocation set is given): check every certificate of the validated chain
 * below the anchor, not only the leaf (Envoy's only_verify_leaf_cert_crl=false). */
#define FM_OPT_REV_CHAIN 0x2u
/* A checked certificate whose issuer has no CRL in the set fails ("unable to get certificate
 * CRL"); default: allowed. */
#define FM_OPT_REV_DENY_MISSING 0x4u
/* A CRL past its nextUpdate fails the verification ("CRL has expired"); default: still used. */
#define FM_OPT_REV_DENY_EXPIRED 0x8u
/* A revoked chain is FAILED:certificate revoked; default (Cloudflare): verified and revoked. */
#define FM_OPT_REV_STRICT 0x10u
/* A leaf's hostname-like commonName is checked against its CAs' dNSName constraints only when the
 * leaf has no subjectAltName at all (as modern TLS clients read server certificates, and as
 * BetterTLS expects); default: whenever it has no dNSName SAN (OpenSSL's rule). */
#define FM_OPT_CN_NO_SAN 0x20u
/* A leaf's hostname-like commonName is checked against its CAs' dNSName constraints whatever
 * subjectAltNames it has (backends that authorise on the subject DN); overrides
 * FM_OPT_CN_NO_SAN. */
#define FM_OPT_CN_ALWAYS 0x40u

/* The web PKI profile: CA/B Forum Baseline Requirements for TLS server certificates on top of
 * RFC 5280: the leaf has an extendedKeyUsage without anyExtendedKeyUsage (and with the
 * purpose), no extendedKeyUsage is critical, every key is rsaEncryption with a modulus of whole
 * octets or ECDSA on P-256, P-384 or P-521, and a self-issued trust anchor has no
 * extendedKeyUsage and no authorityKeyIdentifier but its keyIdentifier, equal to its
 * subjectKeyIdentifier. */
#define FM_OPT_WEBPKI 0x80u

/* Options of a verifier. Start from fm_options_default (a zeroed struct is refused: its limits
 * are 0): purpose FM_PURPOSE_CLIENT, no flags, min_rsa_bits 2048, both caches 4096 entries,
 * the FM_DEFAULT_* limits. fm_verifier_new refuses max_depth over FM_MAX_DEPTH_LIMIT,
 * max_chain_certs over 65535, min_rsa_bits over FM_MAX_RSA_BITS and cache sizes over 2^24. */
typedef struct fm_options {
    fm_limits limits;
    uint32_t purpose;           /* enum fm_purpose */
    uint32_t flags;             /* FM_OPT_* */
    uint32_t min_rsa_bits;      /* default 2048 */
    uint32_t result_cache_size; /* entries; 0 disables the whole-result cache */
    uint32_t sig_cache_size;    /* verified-signature (issuer) cache entries; 0 disables */
} fm_options;

void fm_options_default(fm_options *opts);

/* ---- trust store ------------------------------------------------------------------------- */

/*
 * A set of trust anchors, each tagged with a group number (the Python layer's CA name), plus
 * hostname associations. Built by fm_store_new + fm_store_add_anchor/associate, then sealed by its
 * first use; immutable afterwards and reference counted, so verifications in flight keep the
 * snapshot they started with. Every store gets a process-unique generation number.
 */
typedef struct fm_store fm_store;

int fm_store_new(fm_store **out);
void fm_store_free(fm_store *store); /* drops one reference */
void fm_store_ref(fm_store *store);
/* Adds a CA certificate (must be a CA: basicConstraints cA=TRUE, and keyCertSign when keyUsage is
 * present). Returns FM_ERR_NOT_A_CA, FM_ERR_MALFORMED_CERT, FM_ERR_KEY_DECODE, ... otherwise. */
int fm_store_add_anchor(fm_store *store, const uint8_t *der, size_t len, uint32_t group);
/* A host (exact, or "*.example.com" for any one label) trusts only anchors of these groups. */
int fm_store_associate(fm_store *store, const uint8_t *host, size_t host_len,
                       const uint32_t *groups, size_t n_groups);
uint64_t fm_store_generation(const fm_store *store);
/* Names of anchor groups (the Python layer's CA names), so that a result can be read without
 * the Python-side snapshot it came from. */
int fm_store_set_group_name(fm_store *store, uint32_t group, const uint8_t *name, size_t len);
/* Anchor i: its DER and group; returns FM_ERR_INVALID_ARGUMENT past the end. */
int fm_store_anchor_get(const fm_store *store, size_t i, const uint8_t **der, size_t *len,
                        uint32_t *group);
/* Name of a group: *len bytes, NUL-terminated ("" when none was set). */
const uint8_t *fm_store_group_name(const fm_store *store, uint32_t group, size_t *len);
size_t fm_store_anchor_count(const fm_store *store);

/* ---- revocation sets --------------------------------------------------------------------- */

/*
 * An immutable set of revoked certificates keyed by (issuing CA name + key, serial number): two
 * CAs that reuse a serial never collide. Built from CRLs (signature checked against the issuing
 * CA) and explicit entries; looked up in O(1) without allocation or locks; saved to and memory-
 * mapped from a versioned, checksummed snapshot file. Reference counted like fm_store.
 */
typedef struct fm_revset fm_revset;
typedef struct fm_revbuild fm_revbuild;

#define FM_CRL_DELTA 0x1u       /* deltaCRLIndicator present */
#define FM_CRL_ONLY_USER 0x2u   /* IDP onlyContainsUserCerts */
#define FM_CRL_ONLY_CA 0x4u     /* IDP onlyContainsCACerts */
#define FM_CRL_ONLY_ATTR 0x8u   /* IDP onlyContainsAttributeCerts */
#define FM_CRL_HAS_NUMBER 0x10u /* cRLNumber present */
#define FM_CRL_HAS_IDP 0x20u    /* issuingDistributionPoint present */
#define FM_CRL_SOME_REASONS 0x40u /* IDP onlySomeReasons present (partitioned by reason) */
#define FM_REASON_REMOVE_FROM_CRL 8u

typedef struct fm_crl_info {
    int32_t version;               /* 0 = v1, 1 = v2 */
    uint32_t flags;                /* FM_CRL_* */
    int64_t this_update;
    int64_t next_update;           /* INT64_MAX when absent */
    uint64_t n_entries;
    size_t issuer_off, issuer_len; /* Name TLV */
    size_t number_off, number_len; /* cRLNumber INTEGER content */
    size_t base_off, base_len;     /* deltaCRLIndicator BaseCRLNumber content */
    size_t aki_off, aki_len;       /* authorityKeyIdentifier keyIdentifier */
    size_t idp_off, idp_len;       /* issuingDistributionPoint value (whole SEQUENCE) */
    int32_t sig_status;            /* FM_OK when the signature was checked and is valid, -1 when
                                    * not checked (fm_crl_parse) */
} fm_crl_info;

/* Parses a DER CRL (syntax and extensions, every entry; no signature check). */
int fm_crl_parse(const uint8_t *crl, size_t len, fm_crl_info *out);
/* The same without validating each entry (they are only counted): for routing a CRL to its CA
 * before fm_revbuild_add_crl, which validates entries as it reads them. */
int fm_crl_parse_header_info(const uint8_t *crl, size_t len, fm_crl_info *out);
/* Checks a CRL against its issuing CA certificate: issuer name, AKI/SKI, cRLSign, signature, and
 * every entry as a revocation set reads it (FM_OK: fm_revbuild_add_crl accepts it). */
int fm_crl_check(const uint8_t *crl, size_t len, const uint8_t *ca, size_t ca_len);

int fm_revbuild_new(fm_revbuild **out);
void fm_revbuild_free(fm_revbuild *b);
/* Adds a CRL (checked with fm_crl_check against `ca`); delta CRLs are merged onto the base CRL of
 * the same CA at fm_revbuild_finish. `info` (may be NULL) receives what fm_crl_parse reports. */
int fm_revbuild_add_crl(fm_revbuild *b, const uint8_t *crl, size_t len, const uint8_t *ca,
                        size_t ca_len, fm_crl_info *info);
/* The same without copying the CRL: `crl` must stay valid and unchanged until the builder is
 * finished or freed (a 35 MB CRL then costs no copy and no fresh pages). */
int fm_revbuild_add_crl_borrowed(fm_revbuild *b, const uint8_t *crl, size_t len,
                                 const uint8_t *ca, size_t ca_len, fm_crl_info *info);
/* Adds one revocation by the CA `ca` (DER certificate). serial: INTEGER content octets. */
int fm_revbuild_add_entry(fm_revbuild *b, const uint8_t *ca, size_t ca_len, const uint8_t *serial,
                          size_t serial_len, uint32_t reason, int64_t date);
/* The time the set is built for (unix seconds): a CRL issued for later (thisUpdate after it)
 * ranks below every CRL of its partition already in force, and a delta CRL not yet in force is
 * not applied. Without it, CRLs rank by cRLNumber and thisUpdate alone. */
int fm_revbuild_set_time(fm_revbuild *b, int64_t now);
/* The seed of the hash that places the entries (default: 64 random bits per build). The same
 * input and seed then give the same snapshot bytes (unless the build had to draw another). A CA chooses its serials: whoever knows the
 * seed can choose colliding ones, and the build then draws random seeds (up to 4 in all; then
 * FM_ERR_LIMIT) until no lookup has to probe more than 1024 slots. */
int fm_revbuild_set_seed(fm_revbuild *b, uint64_t seed);
/* Builds the set; the builder is consumed (freed) whatever the outcome. */
int fm_revbuild_finish(fm_revbuild *b, fm_revset **out);
/* The same; on failure *bad_crl (may be NULL) receives the index, in the order they were added,
 * of the CRL at fault (a malformed entry, a delta without a usable base), else -1. */
int fm_revbuild_finish_ex(fm_revbuild *b, fm_revset **out, int64_t *bad_crl);

typedef struct fm_revocation {
    uint32_t reason;  /* CRLReason */
    int64_t date;     /* revocationDate, unix seconds */
} fm_revocation;

typedef struct fm_revset_issuer {
    const uint8_t *name; size_t name_len; /* Name TLV of the CA */
    const uint8_t *spki; size_t spki_len; /* its SubjectPublicKeyInfo */
    int64_t this_update, next_update;     /* of its CRL; 0 / INT64_MAX for explicit entries only */
    uint32_t flags;                       /* FM_CRL_* of the base CRL */
    uint32_t has_crl;
    uint64_t n_entries;
    const uint8_t *number; size_t number_len; /* cRLNumber content (base, or the newest delta) */
} fm_revset_issuer;

/* 1 = revoked (details in *out, may be NULL), 0 = not revoked or issuer unknown,
 * -FM_ERR_INVALID_ARGUMENT for a NULL set, name, key or serial. */
int fm_revset_lookup(const fm_revset *s, const uint8_t *ca_name, size_t name_len,
                     const uint8_t *ca_spki, size_t spki_len, const uint8_t *serial,
                     size_t serial_len, fm_revocation *out);
/* fm_revset_lookup for `n` serials of one CA: `serials` (`len` bytes) holds each as one length
 * octet (1-255) then its INTEGER content octets; revoked[i] receives 1 when serial i is revoked.
 * Returns how many are, or -FM_ERR_INVALID_ARGUMENT when `serials` is not exactly n such records
 * (revoked[] then holds the answers before the bad record). Each serial is the verifier's own lookup, done one after another: the time per serial
 * is what a revocation check costs in C. */
int64_t fm_revset_lookup_many(const fm_revset *s, const uint8_t *ca_name, size_t name_len,
                              const uint8_t *ca_spki, size_t spki_len, const uint8_t *serials,
                              size_t len, size_t n, uint8_t *revoked);
uint64_t fm_revset_count(const fm_revset *s);
size_t fm_revset_issuer_count(const fm_revset *s);
int fm_revset_issuer_get(const fm_revset *s, size_t i, fm_revset_issuer *out);
uint64_t fm_revset_generation(const fm_revset *s);
size_t fm_revset_memory(const fm_revset *s); /* bytes held */
/* The hash table's layout: the seed its entries were placed by, its slots, and the longest run
 * of occupied slots (the most a lookup probes). Each pointer may be NULL. */
void fm_revset_layout(const fm_revset *s, uint64_t *seed, uint64_t *n_slots, uint64_t *longest_run);
void fm_revset_ref(fm_revset *s);
void fm_revset_free(fm_revset *s);
int fm_revset_save(const fm_revset *s, const char *path);
/* Memory-maps a snapshot (falls back to reading it), verifying its header and checksum. */
int fm_revset_load(const char *path, fm_revset **out);
/* Loads a snapshot from bytes (copied). */
int fm_revset_load_bytes(const uint8_t *p, size_t len, fm_revset **out);

/* ---- verifier ---------------------------------------------------------------------------- */

typedef struct fm_verifier fm_verifier;

int fm_verifier_new(const fm_options *opts, fm_verifier **out);
void fm_verifier_free(fm_verifier *v);
/* Operator-configured untrusted intermediates (tried after the ones the client sent). Only before
 * the first verification. */
int fm_verifier_add_intermediate(fm_verifier *v, const uint8_t *der, size_t len);
/* Empties the caches (they are also invalidated by store generation and bounded). */
void fm_verifier_clear_caches(fm_verifier *v);

/* Where one certificate of a validated chain came from. */
enum fm_source { FM_SRC_PRESENTED = 0, FM_SRC_INTERMEDIATE = 1, FM_SRC_ANCHOR = 2 };

/* Name kinds for expected-name matching against the leaf's subjectAltName. */
enum fm_name_kind { FM_NAME_NONE = 0, FM_NAME_DNS = 1, FM_NAME_IP = 2, FM_NAME_EMAIL = 3, FM_NAME_URI = 4 };

#define FM_RESULT_CACHED 0x1u  /* answered from the whole-result cache */
#define FM_RESULT_REVOKED 0x2u /* a checked certificate is revoked (see revoked_depth) */

typedef struct fm_result {
    int32_t status;     /* FM_OK or an FM_ERR_* code */
    int32_t depth;      /* depth of the certificate that failed (0 = leaf), -1 when none */
    uint32_t chain_len; /* certificates in the validated chain, leaf to anchor */
    uint32_t flags;     /* FM_RESULT_* */
    uint8_t chain_src[FM_MAX_DEPTH_LIMIT + 2];  /* enum fm_source per chain position */
    uint16_t chain_idx[FM_MAX_DEPTH_LIMIT + 2]; /* index within that source */
    uint32_t anchor_group;                      /* group of the anchor reached */
    uint32_t sig_checks;                        /* signatures verified by this call */
    uint32_t steps;                             /* path-building steps taken by this call */
    uint32_t certs_reused; /* presented certificates this call took parsed from the verifier's
                            * cache of validated intermediates instead of parsing them */
    int64_t not_before; /* latest notBefore of the validated chain (unix seconds) */
    int64_t not_after;  /* earliest notAfter of the validated chain (unix seconds) */
    int32_t revoked_depth;   /* depth of the revoked certificate, -1 when none (also set, with
                              * FM_RESULT_REVOKED clear, when the status is
                              * FM_ERR_CERT_REVOKED under FM_OPT_REV_STRICT) */
    uint32_t revoked_reason; /* CRLReason code (RFC 5280 5.3.1), 0 unspecified */
    int64_t revoked_at;      /* revocationDate (unix seconds) */
    uint32_t n_presented;    /* certificates the core found in the presented chain */
    /* The verification times at which this answer holds, the whole-result cache's window: the
     * chain's validity, narrowed to the windows of the CRLs it was checked with when stale CRLs
     * are refused, and to the times at which every candidate path refused for its time (a
     * certificate not yet valid or expired, a CRL not yet or no longer in force) still would be
     * (at another time that path could be the answer). */
    int64_t holds_from, holds_until;
} fm_result;

/*
 * Verifies a presented chain: `chain` is the concatenation of the DER certificates, leaf first
 * (empty = no certificate presented). `host` selects the CA associations (NULL/0 = none). `at` is
 * the verification time in unix seconds. `revs` (may be NULL) is the revocation set to consult. `name_kind`/`name` optionally give an expected name that
 * the leaf's subjectAltName must match (IP as 4 or 16 raw bytes). Returns out->status.
 * A revoked chain returns FM_OK with FM_RESULT_REVOKED in out->flags (Cloudflare's semantics:
 * verified, and revoked) unless the verifier has FM_OPT_REV_STRICT: a caller that allows only
 * FM_OK must test the flag too, or set FM_OPT_REV_STRICT. Without FM_OPT_REV_DENY_MISSING and
 * FM_OPT_REV_DENY_EXPIRED, a certificate whose issuer has no CRL in `revs`, or whose CRL has
 * expired, is not revoked.
 * Thread safe: any number of threads may call it at once on one verifier and store.
 */
int fm_verify(fm_verifier *v, fm_store *store, const fm_revset *revs, const uint8_t *chain,
              size_t chain_len, const uint8_t *host, size_t host_len, int64_t at,
              uint32_t name_kind, const uint8_t *name, size_t name_len, fm_result *out);

/* fm_verify's `at` value meaning "the current time" (read by the core: saves the caller a call). */
#define FM_TIME_NOW INT64_MIN

/* fm_verify without host or expected name: the common gateway call, with fewer arguments. */
int fm_verify_chain(fm_verifier *v, fm_store *store, const fm_revset *revs,
                    const uint8_t *chain, size_t chain_len, int64_t at, fm_result *out);

/*
 * fm_verify for callers that keep the objects they built from their last result (the Python
 * layer reuses its result object while a thread sees the same answer again): the result is
 * computed into a local and compared, field by field, with *prev (may be NULL). Returns 1 when
 * it equals *prev (then *out is not written), 0 when it differs and was written to *out,
 * FM_ERR_INVALID_ARGUMENT when out is NULL (1 and 0 are no status: the status is in the
 * result). prev and out must not overlap.
 */
int fm_verify_again(fm_verifier *v, fm_store *store, const fm_revset *revs, const uint8_t *chain,
                    size_t chain_len, const uint8_t *host, size_t host_len, int64_t at,
                    const fm_result *prev, fm_result *out);
/* fm_verify_again without a host: two arguments fewer on the per-connection call. */
int fm_verify_chain_again(fm_verifier *v, fm_store *store, const fm_revset *revs,
                          const uint8_t *chain, size_t chain_len, int64_t at,
                          const fm_result *prev, fm_result *out);

/* Two results say the same: every field equal, chain positions compared up to chain_len. */
int fm_result_equal(const fm_result *a, const fm_result *b);

/* The verifier's current trust store and revocation set, used by fm_verify_current (the
 * handshake hook): replaced atomically (a short lock around a pointer swap and a reference
 * count, never held during a verification); a verification keeps the ones it started with. */
int fm_verifier_set_store(fm_verifier *v, fm_store *store);
int fm_verifier_set_revocations(fm_verifier *v, fm_revset *revs); /* NULL = none */
/* fm_verify with the current store and revocation set. *store_used (may be NULL) receives a
 * reference to the store used (NULL when the verifier has none: FM_ERR_INVALID_ARGUMENT); the
 * caller releases it with fm_store_free. */
int fm_verify_current(fm_verifier *v, const uint8_t *chain, size_t chain_len, const uint8_t *host,
                      size_t host_len, int64_t at, fm_result *out, fm_store **store_used);
void fm_verifier_ref(fm_verifier *v);
void fm_verifier_unref(fm_verifier *v); /* same as fm_verifier_free */

/* ---- handshake hook (OpenSSL verify callback; see fm_hook.c) ----------------------------- */

typedef struct fm_hook fm_hook;
/* ENFORCE and RECORD verify client certificates; GUARD (no verifier) only checks resumption on a
 * listening SSL_CTX whose sni_callback moves connections to hooked ones (see fm_hook.c). */
enum fm_hook_mode { FM_HOOK_ENFORCE = 0, FM_HOOK_RECORD = 1, FM_HOOK_GUARD = 2 };
#define FM_HOOK_DEFAULT_SESSION_CACHE 20480 /* sessions per SSL_CTX (OpenSSL's cache default) */
#define FM_HOOK_MAX_SESSION_CACHE 16777216
/* Bytes the session-ID cache may hold, estimated per session (fm_hook_set_session_cache_bytes) */
#define FM_HOOK_DEFAULT_SESSION_CACHE_BYTES (128u << 20)

/* Resolves the OpenSSL functions from `library_path` (a library the process already loaded, e.g.
 * the ssl extension module) and creates a hook verifying with `v` (a reference is kept; NULL
 * exactly for FM_HOOK_GUARD). host/host_len: fixed host for CA associations; empty = the
 * connection's SNI. */
int fm_hook_new(const char *library_path, fm_verifier *v, uint32_t mode, const uint8_t *host,
                size_t host_len, fm_hook **out);
void fm_hook_free(fm_hook *h);
/* Installs the verify and session-ticket callbacks on an SSL_CTX (an `SSL_CTX *` of that
 * library) and requests client certificates (required when require_cert) in every full
 * handshake, whatever verify mode the SSL_CTX is given later. A GUARD hook installs only the
 * resumption callbacks (require_cert ignored). */
int fm_hook_install(fm_hook *h, void *ssl_ctx, int require_cert);
/* Sessions the hook's session-ID cache keeps for the SSL_CTX it is installed on (default
 * FM_HOOK_DEFAULT_SESSION_CACHE, at most FM_HOOK_MAX_SESSION_CACHE; 0 = no session-ID
 * resumption, tickets only). Call before fm_hook_install. No effect on a hook without a session
 * cache (one made for a second OpenSSL library in the process: tickets only). */
int fm_hook_set_session_cache_size(fm_hook *h, size_t n);
/* Memory the session-ID cache may hold (default FM_HOOK_DEFAULT_SESSION_CACHE_BYTES), as
 * estimated per session: its data (the client's chain) four times over (OpenSSL's session holds
 * the chain parsed) plus 2 KiB. The oldest sessions go first when either bound is reached; a
 * session estimated over the whole budget is not kept. Call before fm_hook_install. */
int fm_hook_set_session_cache_bytes(fm_hook *h, size_t n);
/* CA names sent in the CertificateRequest of every handshake the hook runs: concatenated DER
 * Names (len 0: none). May be called again at any time (the trust store changed): handshakes
 * that have not sent their CertificateRequest yet send the new list. */
int fm_hook_set_ca_names(fm_hook *h, const uint8_t *names, size_t len);
void *fm_hook_ssl_ctx_of(const fm_hook *h, void *ssl);
int fm_hook_ctx_verify_mode(const fm_hook *h, void *ssl_ctx);
/* The result computed in this connection's handshake: 1 and the details, or 0 (no result: no
 * certificate was presented, or a TLS 1.3 post-handshake authentication was answered without
 * one; out->status = FM_ERR_NO_CERTIFICATE), or -1 (no result: the handshake has not started),
 * or -2 (a client connection: the hook verifies what clients present), or 2 and the details of
 * a chain that passed but whose handshake has not finished (in progress, or failed after the
 * certificate: the client has not proved it holds the key; no success to act on). A finished
 * handshake's result stays readable after a later error or an unclean close. With 1 or 2,
 * `*store` and `*der`
 * stay valid until fm_hook_result_release(*handle), whatever happens to the connection. */
int fm_hook_result(fm_hook *h, void *ssl, fm_result *out, fm_store **store,
                   const uint8_t **der, size_t *der_len, int *resumed, void **handle);
void fm_hook_result_release(void *handle);

/* Splits a concatenation of DER certificates: writes up to `cap` (offset, length) pairs. Returns
 * FM_OK, FM_ERR_MALFORMED_CERT when the bytes are not a sequence of DER TLVs, or FM_ERR_LIMIT
 * when there are more than `cap`. *n receives the number found. */
int fm_chain_split(const uint8_t *chain, size_t len, size_t *offsets, size_t *lens, size_t cap,
                   size_t *n);

/* ---- certificate information (for lazily decoded result fields) -------------------------- */

typedef struct fm_cert_info {
    size_t serial_off, serial_len;   /* INTEGER content octets */
    size_t issuer_off, issuer_len;   /* Name, whole TLV */
    size_t subject_off, subject_len; /* Name, whole TLV */
    size_t spki_off, spki_len;       /* SubjectPublicKeyInfo, whole TLV */
    size_t ski_off, ski_len;         /* subjectKeyIdentifier octets; len 0 when absent, or
                                      * when OpenSSL's X509_get0_subject_key_id gives none (an
                                      * extension it decodes repeated or unreadable) */
    size_t aki_off, aki_len;         /* authorityKeyIdentifier keyIdentifier octets; 0 = absent */
    size_t san_off, san_len;         /* GeneralNames, whole TLV; 0 = absent */
    int64_t not_before, not_after;   /* unix seconds */
    uint32_t key_type;               /* FM_KEY_* */
    uint32_t key_bits;
    uint32_t eku;                    /* FM_EKU_* bits */
    int32_t is_ca;
    int32_t path_len;                /* -1 when absent */
    uint32_t key_usage;              /* bit n = KeyUsage bit n (0 digitalSignature ... 8 decipherOnly); */
    uint32_t has_key_usage;
    uint32_t located;                /* FM_INFO_* bits: which fields above are valid */
} fm_cert_info;

/* fm_cert_info.located: the identity fields a certificate's parse validated. FM_OK sets all of
 * them; a certificate rejected further on (a malformed extension, a duplicate extension, an
 * explicit curve, a mismatched signature algorithm...) keeps those it validated before, so that
 * a presented certificate OpenSSL would parse still shows its names, serial and validity in a
 * FAILED: result. Every other member is valid only after FM_OK. */
#define FM_INFO_SERIAL 0x1u
#define FM_INFO_ISSUER 0x2u
#define FM_INFO_VALIDITY 0x4u
#define FM_INFO_SUBJECT 0x8u
#define FM_INFO_ALL 0xFu
/* A rejected certificate whose subjectKeyIdentifier could still be found (ski_off, ski_len):
 * after FM_OK those are valid anyway, and this bit is not set. */
#define FM_INFO_SKI 0x10u

enum fm_key_type { FM_KEY_UNKNOWN = 0, FM_KEY_RSA = 1, FM_KEY_EC_P256 = 2, FM_KEY_EC_P384 = 3,
                   FM_KEY_EC_P521 = 4, FM_KEY_ED25519 = 5, FM_KEY_RSA_PSS = 6, FM_KEY_EC_OTHER = 7,
                   FM_KEY_ED448 = 8 };

#define FM_EKU_SERVER 0x1u
#define FM_EKU_CLIENT 0x2u
#define FM_EKU_ANY 0x4u
#define FM_EKU_OTHER 0x8u
#define FM_EKU_PRESENT 0x80u

/* Returns fm_cert_parse's status; out->located says which fields are set (see above). */
int fm_cert_info_get(const uint8_t *der, size_t len, fm_cert_info *out);

#ifdef __cplusplus
}
#endif
#endif /* FASTMTLS_H */
