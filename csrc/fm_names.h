/* fm_names.h - names in certificates: name constraints (RFC 5280 4.2.1.10, 6.1.3 (b)-(c)),
 * subjectAltName syntax (RFC 5280 4.2.1.6) and expected-name matching against the leaf's
 * subjectAltName (RFC 6125 6.4, RFC 9525). No allocation, no state: thread safe. */
#ifndef FM_NAMES_H
#define FM_NAMES_H

#include "fm_x509.h"


/* Checks the names of `sub` (its subject DN when non-empty, the emailAddress attributes of its
 * subject, every subjectAltName entry, and, for an end entity without a dNSName SAN, the
 * commonNames that look like hostnames) against ca's nameConstraints. FM_OK when ca has none.
 * Returns FM_OK, FM_ERR_PERMITTED_VIOLATION, FM_ERR_EXCLUDED_VIOLATION,
 * FM_ERR_UNSUPPORTED_CONSTRAINT_TYPE, FM_ERR_UNSUPPORTED_NAME_SYNTAX, FM_ERR_SUBTREE_MINMAX,
 * FM_ERR_INVALID_EXTENSION (malformed constraints or SAN), FM_ERR_MALFORMED_CERT (subject is not a
 * Name), FM_ERR_BUDGET_EXCEEDED or FM_ERR_INVALID_ARGUMENT. Applies no exemption: the caller skips
 * self-issued intermediates (RFC 5280 6.1.3 (b)).
 * Semantics: dNSName "example.com" covers itself and its subdomains, a leading-dot dNSName
 * constraint is malformed (as in pyca/cryptography and x509-limbo); rfc822Name and URI take
 * "host" (exactly) or ".domain" (strictly below); "" covers every name of its form; a wildcard
 * SAN "*.d" is permitted only when all its expansions are, excluded when any could be;
 * directoryName is an RDN prefix compared RDN by RDN in OpenSSL's canonical form (string types
 * read as Unicode, ASCII case and white space runs ignored; a value of no string type as DER
 * octets; a string in constructed form refused); a name that cannot be parsed for a
 * constraint of its form (bad DNS syntax, URI without a DNS host, non-IA5 emailAddress) is
 * FM_ERR_UNSUPPORTED_NAME_SYNTAX.
 * Subject commonName (as OpenSSL's NAME_CONSTRAINTS_check_CN): when `sub` is no CA (no
 * basicConstraints cA), ca has dNSName constraints and `sub` has no dNSName among its
 * subjectAltNames (cn_rule FM_NC_CN_NO_DNS_SAN, OpenSSL's rule), no subjectAltName at all
 * (FM_NC_CN_NO_SAN), or whatever subjectAltNames it has (FM_NC_CN_ALWAYS), each
 * CN (OID 2.5.4.3) whose text is a hostname (two or more labels of letters, digits, '_' and
 * inner hyphens; no '*', no trailing dot) is checked as a dNSName; other CNs ("alice",
 * "John Smith", "*.evil.com") are ignored. A CN with an embedded NUL, of a type that is no text
 * (OpenSSL's ASN1_STRING_to_UTF8 reads none), or a BMPString/UniversalString of a broken
 * length or of more than 1024 ASCII characters, is FM_ERR_UNSUPPORTED_NAME_SYNTAX (fail
 * closed).
 * max_checks: the budget of weighted name x constraint comparisons (FM_ERR_BUDGET_EXCEEDED when
 * the pair would need more); *spent (may be NULL) receives what the pair counted against it. */
enum { FM_NC_CN_NO_DNS_SAN = 0, FM_NC_CN_NO_SAN = 1, FM_NC_CN_ALWAYS = 2 };

/* Whether the last label of a name is a number, decimal or "0x" hex: then URL parsers (WHATWG,
 * curl, browsers) and inet_aton read the whole name as an IPv4 address in some spelling
 * ("010.0.0.5" is 8.0.0.5, "10.5" and "167772165" are 10.0.0.5), never as a DNS name (no
 * top-level domain is numeric). */
int fm_name_ends_in_number(const uint8_t *h, size_t n);
int fm_nc_check(const fm_cert *ca, const fm_cert *sub, unsigned cn_rule, uint32_t max_checks,
                uint64_t *spent);

/* Syntax of ca's nameConstraints (FM_OK when absent): FM_OK, FM_ERR_SUBTREE_MINMAX (a subtree
 * with a minimum other than 0 or with a maximum, RFC 5280 4.2.1.10), FM_ERR_INVALID_EXTENSION
 * (anything else malformed), or FM_ERR_INVALID_ARGUMENT (NULL). Constraints of unsupported forms
 * (otherName, x400Address, ediPartyName, registeredID) are well formed here: fm_nc_check returns
 * FM_ERR_UNSUPPORTED_CONSTRAINT_TYPE only when `sub` has a name of that form (x509-limbo
 * rfc5280::nc::nc-forbids-othername-noop must verify). Callers may return the code as it is. */
int fm_nc_validate(const fm_cert *ca);

/* Syntax of c's subjectAltName (FM_OK when absent): FM_OK or FM_ERR_INVALID_EXTENSION. */
int fm_san_validate(const fm_cert *c);

/* Does the leaf's subjectAltName contain the expected name? kind is enum fm_name_kind (DNS: ASCII
 * hostname; IP: 4 or 16 raw bytes; EMAIL: mailbox; URI: exact bytes). Returns FM_OK,
 * FM_ERR_HOSTNAME_MISMATCH (DNS and URI), FM_ERR_IP_ADDRESS_MISMATCH, FM_ERR_EMAIL_MISMATCH, or
 * FM_ERR_INVALID_ARGUMENT for any other kind (FM_NAME_NONE included: nothing to match). */
int fm_name_match(const fm_cert *leaf, uint32_t kind, const uint8_t *name, size_t len);

/* One step of FNV-1a over ASCII-lowercased octets, from FM_FOLD_HASH_SEED: host names and DNS
 * constraints hash the same in any letter case (the DNS constraint index, the store's hosts). */
#define FM_FOLD_HASH_SEED 0xcbf29ce484222325ULL
static inline uint64_t fm_fold_hash_step(uint64_t h, uint8_t c) {
    return (h ^ (uint8_t)((c >= 'A' && c <= 'Z') ? c + 32 : c)) * 0x100000001b3ULL;
}

#endif /* FM_NAMES_H */
