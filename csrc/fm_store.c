/* fm_store.c - trust anchors and hostname associations; immutable once sealed by first use. */
#include <stdlib.h>
#include <string.h>

#include "fm_internal.h"
#include "fm_names.h"

static atomic_uint_fast64_t g_generation = 1; /* process-wide source of store generations */

uint64_t fm_name_hash(fm_span name) { return fm_hash64(0x6e616d65ULL, &name, 1); }

int fm_owned_cert_init(fm_owned_cert *oc, const uint8_t *der, size_t len) {
    memset(oc, 0, sizeof *oc);
    if (der == NULL || len == 0)
        return FM_ERR_MALFORMED_CERT;
    oc->der = malloc(len);
    if (oc->der == NULL)
        return FM_ERR_NOMEM;
    memcpy(oc->der, der, len);
    oc->len = len;
    int rc = fm_cert_parse(&oc->cert, oc->der, len);
    if (rc != FM_OK) {
        free(oc->der);
        memset(oc, 0, sizeof *oc);
        return rc;
    }
    oc->subject_hash = fm_name_hash(oc->cert.subject);
    return FM_OK;
}

void fm_owned_cert_clear(fm_owned_cert *oc) {
    fm_key_free(oc->key);
    free(oc->der);
    memset(oc, 0, sizeof *oc);
}

int fm_store_new(fm_store **out) {
    if (out == NULL)
        return FM_ERR_INVALID_ARGUMENT;
    fm_store *s = calloc(1, sizeof *s);
    *out = NULL;
    if (s == NULL)
        return FM_ERR_NOMEM;
    atomic_init(&s->refs, 1);
    atomic_init(&s->sealed, 0);
    s->generation = atomic_fetch_add(&g_generation, 1);
    *out = s;
    return FM_OK;
}

void fm_store_ref(fm_store *s) {
    if (s)
        atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void fm_store_free(fm_store *s) {
    if (s == NULL || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < s->n_anchors; i++)
        fm_owned_cert_clear(&s->anchors[i]);
    for (size_t i = 0; i < s->n_assocs; i++) {
        free(s->assocs[i].host);
        free(s->assocs[i].groups);
    }
    for (size_t i = 0; i < s->n_group_names; i++)
        free((void *)s->group_names[i].p);
    free(s->group_names);
    free(s->anchors);
    fm_cindex_free(&s->by_name);
    fm_cindex_free(&s->by_group);
    free(s->assocs);
    fm_cindex_free(&s->assoc_by_host);
    free(s);
}

int fm_store_set_group_name(fm_store *s, uint32_t group, const uint8_t *name, size_t len) {
    if (s == NULL || (len && name == NULL) || len > 4096 || group > 1u << 20)
        return FM_ERR_INVALID_ARGUMENT;
    if (atomic_load(&s->sealed))
        return FM_ERR_SEALED;
    if (group >= s->n_group_names) {
        fm_span *p = realloc(s->group_names, (group + 1) * sizeof *p);
        if (p == NULL)
            return FM_ERR_NOMEM;
        for (size_t i = s->n_group_names; i <= group; i++)
            p[i] = (fm_span){NULL, 0};
        s->group_names = p;
        s->n_group_names = group + 1;
    }
    uint8_t *copy = malloc(len + 1); /* NUL-terminated for C callers (len <= 4096) */
    if (copy == NULL)
        return FM_ERR_NOMEM;
    if (len)
        memcpy(copy, name, len);
    copy[len] = 0;
    free((void *)s->group_names[group].p);
    s->group_names[group] = (fm_span){copy, len};
    return FM_OK;
}

int fm_store_anchor_get(const fm_store *s, size_t i, const uint8_t **der, size_t *len,
                        uint32_t *group) {
    if (s == NULL || i >= s->n_anchors)
        return FM_ERR_INVALID_ARGUMENT;
    *der = s->anchors[i].der;
    *len = s->anchors[i].len;
    *group = s->anchors[i].group;
    return FM_OK;
}

const uint8_t *fm_store_group_name(const fm_store *s, uint32_t group, size_t *len) {
    if (s == NULL || group >= s->n_group_names || s->group_names[group].p == NULL) {
        *len = 0;
        return (const uint8_t *)"";
    }
    *len = s->group_names[group].len;
    return s->group_names[group].p;
}

uint64_t fm_store_generation(const fm_store *s) { return s->generation; }
size_t fm_store_anchor_count(const fm_store *s) { return s->n_anchors; }

static int grow(void **arr, size_t *cap, size_t n, size_t elem) {
    if (n < *cap)
        return FM_OK;
    size_t nc = *cap ? *cap * 2 : 8;
    if (nc > SIZE_MAX / elem)
        return FM_ERR_NOMEM;
    void *p = realloc(*arr, nc * elem);
    if (p == NULL)
        return FM_ERR_NOMEM;
    *arr = p;
    *cap = nc;
    return FM_OK;
}

/* A trust anchor must be a CA: basicConstraints cA=TRUE (RFC 5280 4.2.1.9) and keyCertSign when
 * keyUsage is present (4.2.1.3); its key must be one we can verify with. */
int fm_store_add_anchor(fm_store *s, const uint8_t *der, size_t len, uint32_t group) {
    if (s == NULL)
        return FM_ERR_INVALID_ARGUMENT;
    if (atomic_load(&s->sealed))
        return FM_ERR_SEALED;
    if (len > FM_MAX_ANCHOR_SIZE || s->n_anchors >= FM_MAX_ANCHORS)
        return FM_ERR_LIMIT;
    int rc = grow((void **)&s->anchors, &s->cap_anchors, s->n_anchors, sizeof *s->anchors);
    if (rc != FM_OK)
        return rc;
    fm_owned_cert oc;
    if ((rc = fm_owned_cert_init(&oc, der, len)) != FM_OK)
        return rc;
    const fm_cert *c = &oc.cert;
    if (!(c->ext_flags & FM_X_BC) || !c->is_ca ||
        ((c->ext_flags & FM_X_KU) && !(c->key_usage & FM_KU_KEY_CERT_SIGN))) {
        fm_owned_cert_clear(&oc);
        return FM_ERR_NOT_A_CA;
    }
    if ((rc = fm_key_new(c->spki.p, c->spki.len, &oc.key)) != FM_OK) {
        fm_owned_cert_clear(&oc);
        return rc;
    }
    oc.group = group;
    /* both indexes hold n_anchors entries: room first, so a failure leaves them as they were */
    if ((rc = fm_cindex_reserve(&s->by_name)) != FM_OK ||
        (rc = fm_cindex_reserve(&s->by_group)) != FM_OK) {
        fm_owned_cert_clear(&oc);
        return rc;
    }
    fm_cindex_put(&s->by_name, oc.subject_hash);
    fm_cindex_put(&s->by_group, fm_group_key(oc.subject_hash, group));
    s->anchors[s->n_anchors++] = oc;
    return FM_OK;
}

static int is_hex(uint8_t c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* An IPv4 dotted quad, each part 0-255 in decimal without leading zeros. */
static int ipv4_ok(const uint8_t *h, size_t n) {
    size_t parts = 0, i = 0;
    while (i < n) {
        size_t start = i;
        unsigned v = 0;
        while (i < n && h[i] >= '0' && h[i] <= '9' && i - start < 3)
            v = v * 10 + (unsigned)(h[i++] - '0');
        if (i == start || v > 255 || (h[start] == '0' && i - start > 1))
            return 0;
        if (++parts > 4)
            return 0;
        if (i < n && h[i++] != '.')
            return 0;
        if (i == n && h[n - 1] == '.')
            return 0;
    }
    return parts == 4;
}

/* An IPv6 literal (RFC 4291 2.2, no brackets, no zone): groups of 1-4 hex digits, at most one
 * "::", an IPv4 dotted quad in the last two groups' place. Its 8 groups into g; 1 or 0. */
static int ipv6_parse(const uint8_t *h, size_t n, uint16_t g[8]) {
    uint16_t head[8], tail[8];
    size_t nh = 0, nt = 0, i = 0;
    int gap = 0;
    if (n >= 2 && h[0] == ':' && h[1] == ':') {
        gap = 1, i = 2;
    } else if (n && h[0] == ':') {
        return 0;
    }
    while (i < n) {
        size_t start = i;
        unsigned v = 0;
        while (i < n && is_hex(h[i]) && i - start < 5) {
            uint8_t c = h[i++];
            v = v << 4 | (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
        }
        uint16_t *dst = gap ? tail : head;
        size_t *nd = gap ? &nt : &nh;
        if (i < n && h[i] == '.') { /* an IPv4 address in the last two groups' place ends it */
            if (!ipv4_ok(h + start, n - start) || nh + nt + 2 > 8)
                return 0;
            unsigned q[4] = {0, 0, 0, 0}, k = 0;
            for (size_t j = start; j < n; j++)
                h[j] == '.' ? (void)k++ : (void)(q[k] = q[k] * 10 + (unsigned)(h[j] - '0'));
            dst[(*nd)++] = (uint16_t)(q[0] << 8 | q[1]);
            dst[(*nd)++] = (uint16_t)(q[2] << 8 | q[3]);
            i = n;
            break;
        }
        if (i == start || i - start > 4 || nh + nt >= 8)
            return 0;
        dst[(*nd)++] = (uint16_t)v;
        if (i == n)
            break;
        if (h[i] != ':')
            return 0;
        i++;
        if (i < n && h[i] == ':') {
            if (gap)
                return 0;
            gap = 1, i++;
        } else if (i == n) {
            return 0; /* a trailing single ':' */
        }
    }
    if (gap ? nh + nt >= 8 : nh != 8)
        return 0;
    for (size_t k = 0; k < 8; k++)
        g[k] = 0;
    for (size_t k = 0; k < nh; k++)
        g[k] = head[k];
    for (size_t k = 0; k < nt; k++)
        g[8 - nt + k] = tail[k];
    return 1;
}

static int ipv6_ok(const uint8_t *h, size_t n) {
    uint16_t g[8];
    return ipv6_parse(h, n, g);
}

/* The compressed spelling of an IPv6 literal (RFC 5952 as Python's ipaddress writes it: lower
 * case, no leading zeros, the first longest run of two or more zero groups as "::"), so that
 * any spelling of an address finds its association. Its length (at most 39), or 0. */
static size_t ipv6_canon(const uint8_t *h, size_t n, char out[40]) {
    uint16_t g[8];
    if (!ipv6_parse(h, n, g))
        return 0;
    size_t best = 8, best_len = 1; /* runs of at least 2 */
    for (size_t k = 0; k < 8;) {
        size_t r = k;
        while (r < 8 && g[r] == 0)
            r++;
        if (r - k > best_len)
            best = k, best_len = r - k;
        k = r > k ? r : k + 1;
    }
    size_t len = 0;
    for (size_t k = 0; k < 8; k++) {
        if (k == best) {
            out[len++] = ':';
            if (k == 0)
                out[len++] = ':';
            k += best_len - 1;
            continue;
        }
        static const char hex[] = "0123456789abcdef";
        char tmp[4];
        size_t t = 0;
        unsigned v = g[k];
        do
            tmp[t++] = hex[v & 0xF];
        while ((v >>= 4) != 0);
        while (t)
            out[len++] = tmp[--t];
        if (k < 7)
            out[len++] = ':';
    }
    return len;
}

static int is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

/* The one spelling of an IPv4 address a host may have: four decimal octets 0-255 without
 * leading zeros. */
static int ipv4_canonical(const uint8_t *h, size_t n) {
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part > 0) {
            if (i >= n || h[i] != '.')
                return 0;
            i++;
        }
        size_t start = i;
        unsigned v = 0;
        while (i < n && is_digit(h[i]) && i - start < 3)
            v = v * 10 + (unsigned)(h[i++] - '0');
        size_t len = i - start;
        if (len == 0 || v > 255 || (len > 1 && h[start] == '0'))
            return 0;
    }
    return i == n;
}

/* A host as associations spell them, trailing dots removed, at most 253 octets: a host name
 * (letters, digits, '-' and '_' in non-empty labels), an IPv4 literal in its canonical
 * dotted-decimal spelling or an IPv6 literal (no brackets). Anything else is not a host: a
 * port ("api.example.com:8443", "10.0.0.5:8443"), a path, user info, a zone, '*', UTF-8 bytes,
 * another spelling of an IPv4 address ("010.0.0.5", "10.5", "0xa.0.0.5": each would otherwise
 * be a host without associations, trusting every CA, while a client that connects to it
 * reaches the address an association names). */
static int host_ok(const uint8_t *h, size_t n) {
    if (n > 253)
        return 0;
    if (memchr(h, ':', n) != NULL)
        return ipv6_ok(h, n);
    for (size_t i = 0; i < n; i++) {
        uint8_t c = h[i];
        int alnum = is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (!alnum && c != '-' && c != '_' && c != '.')
            return 0;
        if (c == '.' && (i == 0 || h[i - 1] == '.'))
            return 0;
    }
    return !fm_name_ends_in_number(h, n) || ipv4_canonical(h, n);
}

static uint8_t lower(uint8_t ch) { return (ch >= 'A' && ch <= 'Z') ? (uint8_t)(ch + 32) : ch; }

/* ---- the associations' index: by host (lower case, "*." included), so that lookups, and
 * associating 400,000 hosts, do not scan every association ------------------------------------ */

/* The hash of prefix + host, lower case (prefix: "" or "*."). */
static uint64_t host_hash(const uint8_t *prefix, size_t plen, const uint8_t *host, size_t len) {
    uint64_t h = FM_FOLD_HASH_SEED;
    for (size_t i = 0; i < plen; i++)
        h = fm_fold_hash_step(h, prefix[i]);
    for (size_t i = 0; i < len; i++)
        h = fm_fold_hash_step(h, host[i]);
    return h;
}

/* The index of the association of prefix + host (compared in lower case; stored hosts are),
 * or n_assocs. */
static size_t assoc_find(const fm_store *s, const uint8_t *prefix, size_t plen,
                         const uint8_t *host, size_t len) {
    const fm_cindex *ix = &s->assoc_by_host;
    for (uint32_t i1 = fm_cindex_first(ix, host_hash(prefix, plen, host, len)); i1;
         i1 = ix->next1[i1 - 1]) {
        const fm_assoc *a = &s->assocs[i1 - 1];
        if (a->host_len != plen + len || memcmp(a->host, prefix, plen) != 0)
            continue;
        size_t k = 0;
        while (k < len && a->host[plen + k] == lower(host[k]))
            k++;
        if (k == len)
            return i1 - 1;
    }
    return s->n_assocs;
}

int fm_store_associate(fm_store *s, const uint8_t *host, size_t host_len, const uint32_t *groups,
                       size_t n_groups) {
    if (s == NULL || host == NULL || host_len == 0 || host_len > 253 + 2 ||
        (n_groups && groups == NULL) || n_groups > 1u << 20)
        return FM_ERR_INVALID_ARGUMENT;
    /* only a host the lookup can match: "*." and a host, or a host */
    size_t off = host_len > 2 && host[0] == '*' && host[1] == '.' ? 2 : 0;
    if (!host_ok(host + off, host_len - off) || host[host_len - 1] == '.' ||
        (off && fm_name_ends_in_number(host + off, host_len - off))) /* no wildcard of an address */
        return FM_ERR_INVALID_ARGUMENT;
    char v6[40];
    if (memchr(host, ':', host_len) != NULL) { /* stored compressed, as lookups spell it */
        if (off)
            return FM_ERR_INVALID_ARGUMENT; /* no wildcard of an address */
        host_len = ipv6_canon(host, host_len, v6);
        host = (const uint8_t *)v6;
    }
    if (atomic_load(&s->sealed))
        return FM_ERR_SEALED;
    int rc = grow((void **)&s->assocs, &s->cap_assocs, s->n_assocs, sizeof *s->assocs);
    if (rc != FM_OK)
        return rc;
    fm_assoc a;
    a.host = malloc(host_len);
    a.groups = malloc(n_groups ? n_groups * sizeof *groups : 1);
    if (a.host == NULL || a.groups == NULL) {
        free(a.host);
        free(a.groups);
        return FM_ERR_NOMEM;
    }
    for (size_t i = 0; i < host_len; i++)
        a.host[i] = lower(host[i]);
    a.host_len = host_len;
    if (n_groups)
        memcpy(a.groups, groups, n_groups * sizeof *groups);
    a.n_groups = n_groups;
    /* a later association for the same host replaces the earlier one */
    size_t i = assoc_find(s, (const uint8_t *)"", 0, a.host, host_len);
    if (i < s->n_assocs) {
        free(s->assocs[i].host);
        free(s->assocs[i].groups);
        s->assocs[i] = a;
        return FM_OK;
    }
    if ((rc = fm_cindex_reserve(&s->assoc_by_host)) != FM_OK) {
        free(a.host);
        free(a.groups);
        return rc;
    }
    fm_cindex_put(&s->assoc_by_host, host_hash((const uint8_t *)"", 0, a.host, host_len));
    s->assocs[s->n_assocs++] = a;
    s->n_wild += off != 0;
    return FM_OK;
}

static const fm_assoc *find_exact(const fm_store *s, const uint8_t *host, size_t len, int star) {
    static const uint8_t wild[2] = {'*', '.'};
    size_t i = assoc_find(s, wild, star ? 2 : 0, host, len);
    return i < s->n_assocs ? &s->assocs[i] : NULL;
}

/* The association of a host that is not a host name: no CA. */
static const fm_assoc g_not_a_host = {NULL, 0, NULL, 0};

/* Exact host first; then "*.parent" for the host's parent, its grandparent, and so on: the
 * nearest wildcard above the host applies ("*.example.com" covers "x.api.example.com" unless
 * "*.api.example.com" is associated), as nginx's and Envoy's wildcard server names route every
 * name below a domain to one backend: a name a wildcard association routes but does not cover
 * must not trust every CA. A host that is not a host name ("x..example.com", ".example.com", "api.example.com\t", UTF-8 bytes:
 * an SNI or a Host header is the client's) trusts no CA when the store has associations: an odd
 * spelling of an associated host must not escape into "every CA". */
const fm_assoc *fm_store_lookup_host(const fm_store *s, const uint8_t *host, size_t host_len) {
    /* "api.example.com." is "api.example.com": a trailing dot must not escape the association */
    while (host_len && host[host_len - 1] == '.')
        host_len--;
    if (host == NULL || host_len == 0 || s->n_assocs == 0)
        return NULL;
    if (!host_ok(host, host_len))
        return &g_not_a_host;
    char v6[40];
    if (memchr(host, ':', host_len) != NULL) { /* any spelling of an IPv6 address: one */
        host_len = ipv6_canon(host, host_len, v6);
        host = (const uint8_t *)v6;
    }
    const fm_assoc *a = find_exact(s, host, host_len, 0);
    if (a || s->n_wild == 0)
        return a;
    for (size_t i = 0; i + 1 < host_len; i++) {
        /* (host_ok: no empty label, no leading dot; an IPv6 literal has no dot) */
        if (host[i] == '.' && (a = find_exact(s, host + i + 1, host_len - i - 1, 1)) != NULL)
            return a;
    }
    return NULL;
}
