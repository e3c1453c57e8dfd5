#!/usr/bin/env python3
"""Writes csrc/tests/names_vectors.h: DER inputs and expected results for test_names.c.

Well-formed encodings come from pyca/cryptography (SubjectAlternativeName / NameConstraints /
Name .public_bytes()); malformed or unusual ones (non-contiguous masks, minimum/maximum, x400,
truncations, ...) are built with the small DER helpers below. Run from the repository root:
    python3 csrc/tests/gen_names_vectors.py
"""

import ipaddress
import os

from cryptography import x509
from cryptography.x509.oid import NameOID


# ---- DER helpers -----------------------------------------------------------------------------
def tlv(tag, content):
    n = len(content)
    if n < 0x80:
        head = bytes([n])
    else:
        b = n.to_bytes((n.bit_length() + 7) // 8, "big")
        head = bytes([0x80 | len(b)]) + b
    return bytes([tag]) + head + content


def children(der):
    out, i = [], 0
    while i < len(der):
        n, h = der[i + 1], 2
        if n & 0x80:
            k = n & 0x7F
            n, h = int.from_bytes(der[i + 2 : i + 2 + k], "big"), 2 + k
        out.append((der[i], der[i + h : i + h + n]))
        i += h + n
    return out


def seq(*parts):
    return tlv(0x30, b"".join(parts))


# ---- builders --------------------------------------------------------------------------------
DNS, EMAIL, URI, IP = x509.DNSName, x509.RFC822Name, x509.UniformResourceIdentifier, x509.IPAddress
DN, RID, OTHER = x509.DirectoryName, x509.RegisteredID, x509.OtherName


def ip(s):
    return IP(ipaddress.ip_network(s) if "/" in s else ipaddress.ip_address(s))


def name(*rdns):
    """Name from (oid, value) pairs, most general first, as written in DER."""
    rdn = x509.RelativeDistinguishedName
    return x509.Name([rdn([x509.NameAttribute(oid, v)]) for oid, v in rdns])


def name_der(*rdns):
    return name(*rdns).public_bytes()


def san(*gns):
    """subjectAltName extension value (GeneralNames SEQUENCE); raw bytes entries are spliced in."""
    if any(isinstance(g, bytes) for g in gns):
        return seq(*[g if isinstance(g, bytes) else san(g)[2:] for g in gns])
    return x509.SubjectAlternativeName(list(gns)).public_bytes()


def nc(perm=None, excl=None):
    """(content of [0], content of [1]) of NameConstraints; raw bytes lists are used as they are."""
    if isinstance(perm, bytes) or isinstance(excl, bytes):
        return perm or b"", excl or b""
    der = x509.NameConstraints(perm, excl).public_bytes()
    parts = dict(children(children(der)[0][1]))
    return parts.get(0xA0, b""), parts.get(0xA1, b"")


def subtree(tag, content, extra=b""):
    """One GeneralSubtree with a hand-made base GeneralName and optional minimum/maximum."""
    return seq(tlv(tag, content), extra)


C, ORG, CN = NameOID.COUNTRY_NAME, NameOID.ORGANIZATION_NAME, NameOID.COMMON_NAME
MAIL = NameOID.EMAIL_ADDRESS
ACME = name((C, "US"), (ORG, "Acme"))
ACME_LEAF = name_der((C, "US"), (ORG, "Acme"), (CN, "leaf"))
OTHER_LEAF = name_der((C, "US"), (ORG, "Other"), (CN, "leaf"))
OID_X = x509.ObjectIdentifier("1.3.6.1.4.1.55738.666.3")
OID_EMAIL = bytes.fromhex("2a864886f70d010901")  # 1.2.840.113549.1.9.1, content octets
OID_CN = bytes.fromhex("550403")  # 2.5.4.3


def cn_der(*values):
    """Subject C=US, CN=v... : str values as UTF8String, (tag, bytes) values as they are."""
    rdns = [tlv(0x31, seq(tlv(0x06, bytes.fromhex("550406")), tlv(0x13, b"US")))]
    for v in values:
        tag, raw = (0x0C, v.encode()) if isinstance(v, str) else v
        rdns.append(tlv(0x31, seq(tlv(0x06, OID_CN), tlv(tag, raw))))
    return seq(*rdns)

# Names built attribute by attribute, with the string type of each value chosen:
# dn_raw([(oid content, value tag, value octets), ...], ...), one list per RDN, as written.
A_C, A_O, A_OU, A_CN = (bytes.fromhex(h) for h in ("550406", "55040a", "55040b", "550403"))
_C_US = (A_C, 0x13, b"US")


def dn_raw(*rdns):
    return seq(*[tlv(0x31, b"".join(seq(tlv(0x06, o), tlv(t, v)) for o, t, v in rdn))
                 for rdn in rdns])


def _dn_list(name_tlv):
    """A GeneralSubtrees list content holding one directoryName subtree."""
    return subtree(0xA4, name_tlv)


EVIL = dn_raw([_C_US], [(A_O, 0x13, b"Evil")])

OK, PERM, EXCL = "FM_OK", "FM_ERR_PERMITTED_VIOLATION", "FM_ERR_EXCLUDED_VIOLATION"
BAD = "FM_ERR_INVALID_EXTENSION"
SYNTAX, UNSUP = "FM_ERR_UNSUPPORTED_NAME_SYNTAX", "FM_ERR_UNSUPPORTED_CONSTRAINT_TYPE"
MINMAX, MALFORMED = "FM_ERR_SUBTREE_MINMAX", "FM_ERR_MALFORMED_CERT"

# ---- fm_nc_check cases:
# (description, (permitted, excluded), subject DER or None, SAN or None, expected status); the
# status is a pair (under FM_NC_CN_NO_SAN, under FM_NC_CN_NO_DNS_SAN) where the commonName rules
# differ
EX = nc([DNS("example.com")])
_DNS15 = [DNS(f"d{i}.test") for i in range(1, 16)]
NO_EVIL = nc(None, [DNS("evil.com")])
NC_CASES = [
    # dNSName (RFC 5280 4.2.1.10)
    ("dns permitted exact", EX, None, san(DNS("example.com")), OK),
    ("dns permitted subdomain", EX, None, san(DNS("a.b.example.com")), OK),
    ("dns permitted not a label boundary", EX, None, san(DNS("badexample.com")), PERM),
    ("dns permitted other domain", EX, None, san(DNS("example.org")), PERM),
    ("dns case-insensitive name", EX, None, san(DNS("WWW.EXAMPLE.COM")), OK),
    ("dns case-insensitive constraint", nc([DNS("Example.COM")]), None, san(DNS("foo.example.com")),
     OK),
    ("dns excluded subdomain", nc(None, [DNS("example.com")]), None, san(DNS("foo.example.com")),
     EXCL),
    ("dns excluded sibling ok", nc(None, [DNS("bad.example.com")]), None,
     san(DNS("good.example.com")), OK),
    ("dns excluded wins over permitted", nc([DNS("example.com")], [DNS("bad.example.com")]), None,
     san(DNS("bad.example.com")), EXCL),
    ("dns permitted and excluded same", nc([DNS("example.com")], [DNS("example.com")]), None,
     san(DNS("example.com")), EXCL),
    ("dns excluded on a later name wins", nc([DNS("example.com")], [DNS("bad.example.com")]), None,
     san(DNS("other.org"), DNS("bad.example.com")), EXCL),
    ("dns second name violates", EX, None, san(DNS("example.com"), DNS("evil.org")), PERM),
    ("dns one of several permitted", nc([DNS("a.org"), DNS("example.com")]), None,
     san(DNS("x.example.com")), OK),
    ("dns empty constraint permits all", nc([DNS("")]), None, san(DNS("anything.org")), OK),
    ("dns empty constraint excludes all", nc(None, [DNS("")]), None, san(DNS("anything.org")),
     EXCL),
    # DNS_INDEX_MIN (16) dNSName subtrees or more, and two names: checked through the hash
    # index, where "" is a flag (every name)
    ("dns indexed: empty constraint permits all", nc([DNS(""), *_DNS15]), None,
     san(DNS("anything.org"), DNS("other.net")), OK),
    ("dns indexed: empty constraint excludes all", nc(None, [DNS(""), *_DNS15]), None,
     san(DNS("anything.org"), DNS("other.net")), EXCL),
    ("dns indexed: empty excluded constraint wins", nc(_DNS15, [DNS(""), *_DNS15]), None,
     san(DNS("d1.test"), DNS("x.d2.test")), EXCL),
    ("dns indexed: without an empty constraint", nc([DNS("d0.test"), *_DNS15]), None,
     san(DNS("anything.org"), DNS("x.d3.test")), PERM),
    ("dns indexed: excluded, without an empty constraint", nc(None, [DNS("d0.test"), *_DNS15]),
     None, san(DNS("anything.org"), DNS("other.net")), OK),
    ("dns indexed: names within", nc([DNS("d0.test"), *_DNS15]), None,
     san(DNS("d0.test"), DNS("a.b.d15.test")), OK),
    ("dns leading-dot constraint rejected", nc([DNS(".example.com")]), None,
     san(DNS("a.example.com")), BAD),
    ("dns wildcard constraint rejected", nc(subtree(0x82, b"*.example.com")), None,
     san(DNS("a.example.com")), BAD),
    ("dns wildcard san within permitted", EX, None, san(DNS("*.example.com")), OK),
    ("dns wildcard san wider than permitted", nc([DNS("foo.example.com")]), None,
     san(DNS("*.example.com")), PERM),
    ("dns wildcard san could hit excluded", nc(None, [DNS("bar.example.com")]), None,
     san(DNS("*.example.com")), EXCL),
    ("dns wildcard san under excluded parent", nc(None, [DNS("example.com")]), None,
     san(DNS("*.example.com")), EXCL),
    ("dns wildcard san cannot reach two labels down", nc(None, [DNS("a.b.example.com")]), None,
     san(DNS("*.example.com")), OK),
    ("dns invalid san underscore", EX, None, san(DNS("foo_bar.example.com")), SYNTAX),
    ("dns invalid san leading dot", EX, None, san(DNS(".example.com")), SYNTAX),
    ("dns invalid san trailing dot", nc(None, [DNS("evil.com")]), None, san(DNS("evil.com.")),
     SYNTAX),
    ("dns invalid san, no dns constraint", nc([ip("192.0.2.0/24")]), None,
     san(DNS("foo_bar.example.com")), OK),
    ("dns constraint, ip name only", EX, None, san(ip("192.0.2.1")), OK),
    ("ip constraint, dns name only", nc(None, [ip("192.0.2.0/24")]), None, san(DNS("example.com")),
     OK),
    ("no san, no subject", EX, None, None, OK),
    # iPAddress
    ("ipv4 permitted", nc([ip("192.0.2.0/24")]), None, san(ip("192.0.2.7")), OK),
    ("ipv4 permitted mismatch", nc([ip("192.0.2.0/24")]), None, san(ip("192.0.3.1")), PERM),
    ("ipv4 excluded", nc(None, [ip("10.0.0.0/8")]), None, san(ip("10.1.2.3")), EXCL),
    ("ipv4 /20 inside", nc([ip("10.0.16.0/20")]), None, san(ip("10.0.31.255")), OK),
    ("ipv4 /20 outside", nc([ip("10.0.16.0/20")]), None, san(ip("10.0.32.0")), PERM),
    ("ipv4 /32 host", nc([ip("192.0.2.1/32")]), None, san(ip("192.0.2.1")), OK),
    ("ipv4 /32 other host", nc([ip("192.0.2.1/32")]), None, san(ip("192.0.2.2")), PERM),
    ("ipv4 /0 all", nc([ip("0.0.0.0/0")]), None, san(ip("8.8.8.8")), OK),
    ("ipv6 permitted", nc([ip("2001:db8::/32")]), None, san(ip("2001:db8::1")), OK),
    ("ipv6 permitted mismatch", nc([ip("2001:db8::/32")]), None, san(ip("2001:db9::1")), PERM),
    ("ipv6 excluded ::1/128", nc(None, [ip("::1/128")]), None, san(ip("::1")), EXCL),
    ("family mismatch never permitted", nc([ip("192.0.2.0/24")]), None, san(ip("::ffff:192.0.2.1")),
     PERM),
    ("family mismatch never excluded", nc(None, [ip("0.0.0.0/0")]), None, san(ip("::1")), OK),
    ("ipv4 and ipv6 permitted", nc([ip("192.0.2.0/24"), ip("2001:db8::/32")]), None,
     san(ip("2001:db8::5"), ip("192.0.2.5")), OK),
    ("ip mask not contiguous", nc(subtree(0x87, bytes([10, 0, 0, 0, 255, 0, 255, 0]))), None,
     san(ip("10.0.0.1")), BAD),
    ("ip constraint without mask", nc(subtree(0x87, bytes([10, 0, 0, 0]))), None,
     san(ip("10.0.0.1")), BAD),
    ("ip san 8 octets", nc([ip("192.0.2.0/24")]), None,
     san(tlv(0x87, bytes([192, 0, 2, 0, 255, 255, 255, 0]))), BAD),
    # rfc822Name, SAN and subject emailAddress
    ("email mailbox exact", nc([EMAIL("foo@example.com")]), None, san(EMAIL("foo@example.com")),
     OK),
    ("email mailbox domain any case", nc([EMAIL("foo@example.com")]), None,
     san(EMAIL("foo@EXAMPLE.com")), OK),
    ("email mailbox local part case-sensitive", nc([EMAIL("foo@example.com")]), None,
     san(EMAIL("Foo@example.com")), PERM),
    ("email mailbox asterisk is literal", nc([EMAIL("*@example.com")]), None,
     san(EMAIL("user@example.com")), PERM),
    ("email host", nc([EMAIL("example.com")]), None, san(EMAIL("any@example.com")), OK),
    ("email host excludes subdomain", nc([EMAIL("example.com")]), None,
     san(EMAIL("any@sub.example.com")), PERM),
    ("email .domain subdomain", nc([EMAIL(".example.com")]), None,
     san(EMAIL("any@sub.example.com")), OK),
    ("email .domain not the host", nc([EMAIL(".example.com")]), None, san(EMAIL("any@example.com")),
     PERM),
    ("email excluded host", nc(None, [EMAIL("example.com")]), None, san(EMAIL("a@example.com")),
     EXCL),
    ("email invalid san", nc([EMAIL("example.com")]), None, san(tlv(0x81, b"a@b@example.com")),
     SYNTAX),
    ("email invalid constraint", nc(subtree(0x81, b"a@b@example.com")), None,
     san(EMAIL("a@example.com")), BAD),
    ("email san without @", nc([EMAIL("example.com")]), None, san(tlv(0x81, b"example.com")),
     SYNTAX),
    ("email san without @ vs excluded", nc(None, [EMAIL("example.com")]), None,
     san(tlv(0x81, b"example.com")), SYNTAX),
    ("email san empty local part", nc([EMAIL("example.com")]), None,
     san(tlv(0x81, b"@example.com")), SYNTAX),
    ("email san local part leading dot", nc(None, [EMAIL("example.com")]), None,
     san(tlv(0x81, b".a@example.com")), SYNTAX),
    ("email san local part trailing dot", nc([EMAIL("example.com")]), None,
     san(tlv(0x81, b"a.@example.com")), SYNTAX),
    ("email san local part double dot", nc([EMAIL("example.com")]), None,
     san(tlv(0x81, b"a..b@example.com")), SYNTAX),
    ("email san inner dot", nc([EMAIL("example.com")]), None, san(EMAIL("a.b@example.com")), OK),
    ("email constraint empty local part", nc(subtree(0x81, b"@example.com")), None,
     san(EMAIL("a@example.com")), BAD),
    ("email constraint local part trailing dot", nc(None, subtree(0x81, b"a.@example.com")), None,
     san(EMAIL("a@example.com")), BAD),
    ("subject email without @", nc([EMAIL("example.com")]),
     seq(tlv(0x31, seq(tlv(0x06, OID_EMAIL), tlv(0x16, b"bob")))), None, SYNTAX),
    ("subject email outside permitted", nc([EMAIL("example.com")]),
     name_der((CN, "x"), (MAIL, "bob@evil.com")), None, PERM),
    ("subject email inside permitted", nc([EMAIL("example.com")]),
     name_der((CN, "x"), (MAIL, "bob@example.com")), None, OK),
    ("subject email excluded", nc(None, [EMAIL("example.com")]),
     name_der((MAIL, "bob@example.com")), san(DNS("example.com")), EXCL),
    ("subject email utf8string", nc([EMAIL("example.com")]),
     seq(tlv(0x31, seq(tlv(0x06, OID_EMAIL), tlv(0x0C, b"bob@example.com")))), None, SYNTAX),
    ("subject email, no email constraint", EX, name_der((MAIL, "bob@evil.com")),
     san(DNS("example.com")), OK),
    # subject commonName of an end entity without a dNSName SAN, checked as a dNSName when it
    # looks like a hostname (OpenSSL NAME_CONSTRAINTS_check_CN / cn2dnsid)
    ("cn in excluded domain", NO_EVIL, cn_der("x.evil.com"), None, EXCL),
    ("cn excluded, any case", NO_EVIL, cn_der("X.Evil.COM"), None, EXCL),
    ("cn is the excluded domain", NO_EVIL, cn_der("evil.com"), None, EXCL),
    ("cn not below the excluded domain", NO_EVIL, cn_der("notevil.com"), None, OK),
    ("cn outside permitted", EX, cn_der("x.evil.com"), None, PERM),
    ("cn inside permitted", EX, cn_der("www.example.com"), None, OK),
    ("cn excluded wins over permitted", nc([DNS("example.com")], [DNS("bad.example.com")]),
     cn_der("a.bad.example.com"), None, EXCL),
    ("cn user name ignored", EX, cn_der("alice"), None, OK),
    ("cn with spaces ignored", EX, cn_der("John Smith"), None, OK),
    # '_' is a hostname character here, as in OpenSSL's cn2dnsid
    ("cn underscore outside permitted", EX, cn_der("a_b.example"), None, PERM),
    ("cn underscore inside permitted", EX, cn_der("a_b.example.com"), None, OK),
    ("cn underscore vs excluded", NO_EVIL, cn_der("a_b.evil.com"), None, EXCL),
    ("cn leading underscore vs excluded", NO_EVIL, cn_der("_svc.evil.com"), None, EXCL),
    ("cn single label ignored", EX, cn_der("localhost"), None, OK),
    ("cn trailing dot ignored", NO_EVIL, cn_der("x.evil.com."), None, OK),
    ("cn leading dot ignored", EX, cn_der(".evil.com"), None, OK),
    ("cn empty label ignored", EX, cn_der("x..evil.com"), None, OK),
    ("cn hyphen before dot ignored", EX, cn_der("x-.evil.com"), None, OK),
    ("cn hyphen after dot ignored", EX, cn_der("x.-evil.com"), None, OK),
    ("cn inner hyphen checked", NO_EVIL, cn_der("x-y.evil.com"), None, EXCL),
    ("cn wildcard ignored vs excluded", NO_EVIL, cn_der("*.evil.com"), None, OK),
    ("cn wildcard ignored vs permitted", EX, cn_der("*.evil.com"), None, OK),
    ("cn ipv4 text is a hostname", EX, cn_der("192.0.2.1"), None, PERM),
    ("cn label over 63 octets checked", NO_EVIL, cn_der("a" * 70 + ".evil.com"), None, EXCL),
    ("cn ignored with a dns san", EX, cn_der("x.evil.com"), san(DNS("www.example.com")), OK),
    ("cn ignored with a dns san vs excluded", NO_EVIL, cn_der("x.evil.com"), san(DNS("ok.org")),
     OK),
    # beside other SANs: ignored under FM_NC_CN_NO_SAN (BetterTLS), checked under OpenSSL's rule
    # (whenever there is no dNSName SAN: has_san_id(x, GEN_DNS))
    ("cn beside an ip san only", EX, cn_der("x.evil.com"), san(ip("192.0.2.1")), (OK, PERM)),
    ("cn beside an email san only", NO_EVIL, cn_der("x.evil.com"),
     san(EMAIL("bob@example.com")), (OK, EXCL)),
    ("cn beside a uri san only", NO_EVIL, cn_der("x.evil.com"),
     san(URI("spiffe://example.com/x")), (OK, EXCL)),
    ("cn beside an ip san, excluded ip", nc(None, [DNS("evil.com"), ip("192.0.2.0/24")]),
     cn_der("x.evil.com"), san(ip("192.0.2.1")), EXCL),
    ("cn without dns constraints", nc([ip("192.0.2.0/24")]), cn_der("x.evil.com"), None, OK),
    ("cn with email constraints only", nc([EMAIL("example.com")]), cn_der("x.evil.com"), None,
     OK),
    ("cn several, second excluded", NO_EVIL, cn_der("alice", "x.evil.com"), None, EXCL),
    ("cn several, all permitted", EX, cn_der("www.example.com", "alice", "api.example.com"),
     None, OK),
    ("cn several, one outside permitted", EX, cn_der("www.example.com", "x.evil.com"), None,
     PERM),
    ("cn in a multi-valued rdn", NO_EVIL,
     x509.Name([x509.RelativeDistinguishedName([x509.NameAttribute(ORG, "Acme"),
                                                x509.NameAttribute(CN, "x.evil.com")])])
     .public_bytes(), None, EXCL),
    ("cn printablestring", NO_EVIL, cn_der((0x13, b"x.evil.com")), None, EXCL),
    ("cn ia5string", NO_EVIL, cn_der((0x16, b"x.evil.com")), None, EXCL),
    ("cn teletexstring", NO_EVIL, cn_der((0x14, b"x.evil.com")), None, EXCL),
    ("cn visiblestring", NO_EVIL, cn_der((0x1A, b"x.evil.com")), None, EXCL),
    ("cn bmpstring", NO_EVIL, cn_der((0x1E, "x.evil.com".encode("utf-16-be"))), None, EXCL),
    ("cn universalstring", NO_EVIL, cn_der((0x1C, "x.evil.com".encode("utf-32-be"))), None,
     EXCL),
    ("cn bmpstring odd length", NO_EVIL, cn_der((0x1E, b"\x00x\x00.\x00")), None, SYNTAX),
    ("cn bmpstring not ascii ignored", NO_EVIL,
     cn_der((0x1E, "x.\u00e9vil.com".encode("utf-16-be"))), None, OK),
    ("cn utf8 not ascii ignored", NO_EVIL, cn_der("b\u00fccher.evil.com"), None, OK),
    # no text to read (OpenSSL's cn2dnsid fails the verification: ASN1_STRING_to_UTF8 reads no
    # OCTET STRING or GeneralString); NumericString is read as one octet a character
    ("cn octet string fails closed", NO_EVIL, cn_der((0x04, b"x.evil.com")), None, SYNTAX),
    ("cn generalstring fails closed", NO_EVIL, cn_der((0x1B, b"x.evil.com")), None, SYNTAX),
    ("cn numericstring", NO_EVIL, cn_der((0x12, b"x.evil.com")), None, EXCL),
    ("cn trailing nul dropped", NO_EVIL, cn_der("x.evil.com\0\0"), None, EXCL),
    ("cn embedded nul", EX, cn_der("x.evil.com\0.example.com"), None, SYNTAX),
    ("cn embedded nul, no dns constraint", nc([ip("192.0.2.0/24")]),
     cn_der("x.evil.com\0.example.com"), None, OK),
    # uniformResourceIdentifier (host part)
    ("uri host exact", nc([URI("example.com")]), None, san(URI("https://example.com/path")), OK),
    ("uri host is not its subdomains", nc([URI("example.com")]), None,
     san(URI("https://www.example.com/")), PERM),
    ("uri .domain subdomain", nc([URI(".example.com")]), None, san(URI("https://www.example.com")),
     OK),
    ("uri .domain not the host", nc([URI(".example.com")]), None, san(URI("https://example.com")),
     PERM),
    ("uri port", nc([URI("example.com")]), None, san(URI("https://example.com:8443/x?q#f")), OK),
    ("uri userinfo", nc([URI("example.com")]), None, san(URI("https://user:pw@example.com/")), OK),
    ("uri host after userinfo", nc([URI("example.com")]), None,
     san(URI("https://example.com@evil.com/")), PERM),
    ("uri case-insensitive host", nc([URI("EXAMPLE.com")]), None, san(URI("https://Example.COM/")),
     OK),
    ("uri spiffe", nc([URI("example.org")]), None, san(URI("spiffe://example.org/ns/prod/sa/web")),
     OK),
    ("uri excluded domain", nc(None, [URI(".evil.com")]), None, san(URI("https://a.evil.com/")),
     EXCL),
    ("uri no authority", nc([URI("example.com")]), None, san(URI("urn:example:foo")), SYNTAX),
    ("uri no authority vs excluded", nc(None, [URI("evil.com")]), None,
     san(URI("mailto:a@evil.com")), SYNTAX),
    ("uri empty host", nc([URI("example.com")]), None, san(URI("file:///etc/passwd")), SYNTAX),
    ("uri ipv6 literal", nc([URI("example.com")]), None, san(URI("https://[::1]/")), SYNTAX),
    ("uri ipv4 host", nc(None, [URI("evil.com")]), None, san(URI("https://192.0.2.1/")), SYNTAX),
    ("uri backslash in authority", nc([URI("example.com")]), None,
     san(URI("https://example.com\\@evil.com/")), SYNTAX),
    ("uri bad port", nc([URI("example.com")]), None, san(URI("https://example.com:80a/")), SYNTAX),
    ("uri without uri constraint", EX, None, san(URI("urn:x"), DNS("example.com")), OK),
    # directoryName: subject DN and SAN directoryName, RDN prefix
    ("dn subject within permitted", nc([DN(ACME)]), ACME_LEAF, None, OK),
    ("dn subject outside permitted", nc([DN(ACME)]), OTHER_LEAF, None, PERM),
    ("dn subject excluded", nc(None, [DN(ACME)]), ACME_LEAF, san(DNS("x.org")), EXCL),
    ("dn san within permitted", nc([DN(ACME)]), None,
     san(DN(name((C, "US"), (ORG, "Acme"), (CN, "x")))), OK),
    ("dn san outside permitted", nc([DN(ACME)]), ACME_LEAF, san(DN(name((C, "US"), (CN, "x")))),
     PERM),
    ("dn san excluded, subject not", nc(None, [DN(ACME)]), OTHER_LEAF,
     san(DN(name((C, "US"), (ORG, "Acme")))), EXCL),
    ("dn constraint longer than name",
     nc([DN(name((C, "US"), (ORG, "Acme"), (CN, "leaf"), (CN, "more")))]), ACME_LEAF, None, PERM),
    ("dn empty subject not checked", nc([DN(ACME)]), seq(), san(DNS("x.org")), OK),
    ("dn empty constraint matches all", nc([DN(x509.Name([]))]), OTHER_LEAF, None, OK),
    ("dn compared case-insensitively (OpenSSL's canonical form)", nc([DN(ACME)]),
     name_der((C, "US"), (ORG, "ACME"), (CN, "x")), None, OK),
    ("dn excluded: UTF8String, other case, spaces", nc(None, _dn_list(EVIL)),
     dn_raw([_C_US], [(A_O, 0x0C, b"  eVIL  ")], [(A_CN, 0x0C, b"x")]), None, EXCL),
    ("dn excluded: BMPString", nc(None, _dn_list(EVIL)),
     dn_raw([_C_US], [(A_O, 0x1E, "Evil".encode("utf-16-be"))], [(A_CN, 0x0C, b"x")]), None,
     EXCL),
    ("dn excluded: UniversalString", nc(None, _dn_list(EVIL)),
     dn_raw([_C_US], [(A_O, 0x1C, "EVIL".encode("utf-32-be"))], [(A_CN, 0x0C, b"x")]), None,
     EXCL),
    ("dn excluded: T61String, tab and newline", nc(None, _dn_list(EVIL)),
     dn_raw([_C_US], [(A_O, 0x14, b"\tEvil\n")], [(A_CN, 0x0C, b"x")]), None, EXCL),
    ("dn inner white space collapses", nc(_dn_list(dn_raw([_C_US], [(A_O, 0x0C, b"Acme  Corp")]))),
     dn_raw([_C_US], [(A_O, 0x13, b"acme corp")], [(A_CN, 0x0C, b"x")]), None, OK),
    ("dn inner white space is not removed", nc(_dn_list(dn_raw([_C_US], [(A_O, 0x0C, b"Acme Corp")]))),
     dn_raw([_C_US], [(A_O, 0x13, b"acmecorp")], [(A_CN, 0x0C, b"x")]), None, PERM),
    ("dn non-ASCII letters keep their case", nc(_dn_list(dn_raw([_C_US], [(A_O, 0x0C, "É".encode())]))),
     dn_raw([_C_US], [(A_O, 0x0C, "é".encode())], [(A_CN, 0x0C, b"x")]), None, PERM),
    ("dn invalid UTF-8 fails closed", nc(None, _dn_list(EVIL)),
     dn_raw([_C_US], [(A_O, 0x0C, b"Ev\xffil")], [(A_CN, 0x0C, b"x")]), None, SYNTAX),
    ("dn overlong UTF-8 fails closed", nc(None, _dn_list(EVIL)),
     dn_raw([_C_US], [(A_O, 0x0C, b"\xc1\x85vil")], [(A_CN, 0x0C, b"x")]), None, SYNTAX),
    ("dn odd-length BMPString fails closed", nc(None, _dn_list(EVIL)),
     dn_raw([_C_US], [(A_O, 0x1E, b"\x00E\x00")], [(A_CN, 0x0C, b"x")]), None, SYNTAX),
    ("dn UniversalString of a broken length fails closed", nc(None, _dn_list(EVIL)),
     dn_raw([_C_US], [(A_O, 0x1C, b"\x00\x00\x00E\x00\x00")], [(A_CN, 0x0C, b"x")]), None,
     SYNTAX),
    # a constraint's directoryName OpenSSL cannot decode (fm_name_parse): the constraints are
    # malformed, as OpenSSL's extension cache finds them
    ("dn UniversalString of a broken length in a permitted subtree",
     nc(_dn_list(dn_raw([_C_US], [(A_O, 0x1C, b"\x00\x00A")]))),
     dn_raw([_C_US], [(A_O, 0x13, b"Acme")], [(A_CN, 0x0C, b"x")]), None, BAD),
    ("dn OCTET STRING value in a permitted subtree",
     nc(_dn_list(dn_raw([_C_US], [(A_O, 0x04, b"Acme")]))),
     dn_raw([_C_US], [(A_O, 0x0C, b"Acme")], [(A_CN, 0x0C, b"x")]), None, BAD),
    ("dn empty values are equal", nc(None, _dn_list(dn_raw([_C_US], [(A_O, 0x0C, b"")]))),
     dn_raw([_C_US], [(A_O, 0x13, b"")], [(A_CN, 0x0C, b"x")]), None, EXCL),
    ("dn empty value equals white space only",
     nc(None, _dn_list(dn_raw([_C_US], [(A_O, 0x0C, b"")]))),
     dn_raw([_C_US], [(A_O, 0x0C, b" \t ")], [(A_CN, 0x0C, b"x")]), None, EXCL),
    ("dn empty constraint value vs text", nc(_dn_list(dn_raw([_C_US], [(A_O, 0x0C, b"")]))),
     dn_raw([_C_US], [(A_O, 0x13, b"Acme")], [(A_CN, 0x0C, b"x")]), None, PERM),
    ("dn constraint text vs empty value", nc(_dn_list(dn_raw([_C_US], [(A_O, 0x0C, b"Acme")]))),
     dn_raw([_C_US], [(A_O, 0x13, b"")], [(A_CN, 0x0C, b"x")]), None, PERM),
    ("dn non-string values compare as octets", nc(_dn_list(dn_raw([_C_US], [(A_O, 0x30, b"\x02\x01\x01")]))),
     dn_raw([_C_US], [(A_O, 0x0C, b"Acme")], [(A_CN, 0x0C, b"x")]), None, PERM),
    ("dn multi-valued RDN in another order", nc(_dn_list(dn_raw([_C_US], [(A_O, 0x0C, b"Acme"), (A_OU, 0x0C, b"Unit")]))),
     dn_raw([_C_US], [(A_OU, 0x13, b"UNIT"), (A_O, 0x13, b"acme")], [(A_CN, 0x0C, b"x")]), None, OK),
    ("dn multi-valued RDN, one attribute missing", nc(_dn_list(dn_raw([_C_US], [(A_O, 0x0C, b"Acme"), (A_OU, 0x0C, b"Unit")]))),
     dn_raw([_C_US], [(A_O, 0x0C, b"Acme")], [(A_CN, 0x0C, b"x")]), None, PERM),
    ("dn multi-valued RDN, duplicates counted", nc(_dn_list(dn_raw([_C_US], [(A_O, 0x0C, b"Acme"), (A_O, 0x0C, b"Acme"), (A_OU, 0x0C, b"U")]))),
     dn_raw([_C_US], [(A_O, 0x0C, b"Acme"), (A_OU, 0x0C, b"U"), (A_OU, 0x0C, b"U")], [(A_CN, 0x0C, b"x")]), None, PERM),
    ("dn RDN of 33 attributes: over the comparison budget", nc(None, _dn_list(dn_raw([(A_OU, 0x0C, b"u%d" % i) for i in range(33)]))),
     dn_raw([(A_OU, 0x0C, b"u%d" % i) for i in range(33)], [(A_CN, 0x0C, b"x")]), None, "FM_ERR_BUDGET_EXCEEDED"),
    ("dn RDN of 32 attributes: compared", nc(None, _dn_list(dn_raw([(A_OU, 0x0C, b"u%d" % i) for i in range(32)]))),
     dn_raw([(A_OU, 0x13, b"U%d" % i) for i in reversed(range(32))], [(A_CN, 0x0C, b"x")]), None, EXCL),
    # forms that are not supported
    ("othername constraint and name", nc(None, [OTHER(OID_X, b"\x05\x00")]), None,
     san(DNS("example.com"), OTHER(OID_X, b"\x05\x00")), UNSUP),
    ("othername constraint, no such name", nc(None, [OTHER(OID_X, b"\x05\x00")]), None,
     san(DNS("example.com")), OK),
    ("registeredid constraint and name", nc([RID(OID_X)]), None, san(RID(OID_X)), UNSUP),
    ("registeredid constraint, dns name", nc([RID(OID_X)]), None, san(DNS("example.com")), OK),
    ("x400 constraint and name", nc(subtree(0xA3, seq())), None, san(tlv(0xA3, seq())), UNSUP),
    ("edi constraint and name", nc(None, subtree(0xA5, tlv(0xA1, tlv(0x0C, b"x")))), None,
     san(tlv(0xA5, tlv(0xA1, tlv(0x0C, b"x")))), UNSUP),
    # minimum / maximum (RFC 5280 4.2.1.10: minimum 0, maximum absent)
    ("minimum 0 written out", nc(subtree(0x82, b"example.com", tlv(0x80, b"\x00"))), None,
     san(DNS("example.com")), OK),
    ("minimum 1", nc(subtree(0x82, b"example.com", tlv(0x80, b"\x01"))), None,
     san(DNS("example.com")), MINMAX),
    ("maximum", nc(None, subtree(0x82, b"example.com", tlv(0x81, b"\x05"))), None,
     san(DNS("example.com")), MINMAX),
    ("minimum and maximum",
     nc(subtree(0x82, b"example.com", tlv(0x80, b"\x01") + tlv(0x81, b"\x02"))), None,
     san(DNS("example.com")), MINMAX),
    ("minimum not minimal", nc(subtree(0x82, b"example.com", tlv(0x80, b"\x00\x00"))), None,
     san(DNS("example.com")), BAD),
    # malformed DER
    ("subtree trailing junk", nc(subtree(0x82, b"example.com", b"\x05\x00")), None,
     san(DNS("example.com")), BAD),
    ("subtree list truncated", (EX[0][:-3], b""), None, san(DNS("example.com")), BAD),
    ("subtree not a sequence", (tlv(0x82, b"example.com"), b""), None, san(DNS("example.com")),
     BAD),
    # (rejected by fm_nc_validate, before any name is compared)
    ("empty GeneralSubtree", (seq(), b""), None, san(DNS("example.com")), BAD),
    ("empty GeneralSubtree in excluded", (b"", seq()), None, san(DNS("example.com")), BAD),
    ("GeneralSubtree after a valid one not a sequence", (EX[0] + tlv(0x82, b"x.org"), b""), None,
     san(DNS("example.com")), BAD),
    ("unknown GeneralName tag in constraint", nc(subtree(0x89, b"x")), None,
     san(DNS("example.com")), BAD),
    ("nameConstraints with neither list", (b"", b""), None, san(DNS("example.com")), BAD),
    ("san truncated", EX, None, san(DNS("example.com"))[:-2], BAD),
    ("san empty sequence", EX, None, seq(), BAD),
    ("subject not a name", EX, tlv(0x31, b""), None, MALFORMED),
]

# ---- fm_san_validate cases: (description, SAN, expected)
SAN_CASES = [
    ("all forms",
     san(DNS("example.com"), EMAIL("a@example.com"), URI("https://example.com/"), ip("192.0.2.1"),
         ip("::1"), DN(ACME), RID(OID_X), OTHER(OID_X, b"\x05\x00")), OK),
    ("empty sequence", seq(), BAD),
    ("not a sequence", tlv(0x31, tlv(0x82, b"x")), BAD),
    ("ascii text, not DER", b"example.com", BAD),
    ("trailing bytes", san(DNS("example.com")) + b"\x00", BAD),
    ("ip 5 octets", seq(tlv(0x87, b"\x01\x02\x03\x04\x05")), BAD),
    ("ip 8 octets (a subnet)", seq(tlv(0x87, bytes(8))), BAD),
    ("dns not IA5", seq(tlv(0x82, "\U0001f61c.example.com".encode())), BAD),
    ("dns constructed", seq(tlv(0xA2, tlv(0x16, b"x"))), BAD),
    ("unknown tag [9]", seq(tlv(0x89, b"x")), BAD),
    ("directoryName not a Name", seq(tlv(0xA4, tlv(0x04, b"x"))), BAD),
    ("directoryName empty RDN set", seq(tlv(0xA4, seq(tlv(0x31, b"")))), BAD),
    ("otherName without value", seq(tlv(0xA0, tlv(0x06, b"\x2a\x03"))), BAD),
    ("registeredID bad OID", seq(tlv(0x88, b"\x2a\x83")), BAD),
    ("long form length", seq(*[tlv(0x82, b"a%03d.example.com" % i) for i in range(20)]), OK),
]

# ---- fm_name_match cases: (description, SAN or None, kind, reference bytes, expected)
DNSK, IPK, MAILK, URIK = "FM_NAME_DNS", "FM_NAME_IP", "FM_NAME_EMAIL", "FM_NAME_URI"
HM, IM, EM = "FM_ERR_HOSTNAME_MISMATCH", "FM_ERR_IP_ADDRESS_MISMATCH", "FM_ERR_EMAIL_MISMATCH"
S_EX = san(DNS("example.com"))
S_WILD = san(DNS("*.example.com"))
MATCH_CASES = [
    ("dns exact", S_EX, DNSK, b"example.com", OK),
    ("dns any case", S_EX, DNSK, b"EXAMPLE.Com", OK),
    ("dns other name", S_EX, DNSK, b"example.org", HM),
    ("dns subdomain of san", S_EX, DNSK, b"www.example.com", HM),
    ("dns reference trailing dot", S_EX, DNSK, b"example.com.", HM),
    ("dns reference empty label", S_EX, DNSK, b"example..com", HM),
    ("dns reference leading dot", S_EX, DNSK, b".example.com", HM),
    ("dns reference empty", S_EX, DNSK, b"", HM),
    ("dns reference underscore", san(DNS("foo_bar.example.com")), DNSK, b"foo_bar.example.com", HM),
    ("dns reference wildcard", S_WILD, DNSK, b"*.example.com", HM),
    ("dns wildcard one label", S_WILD, DNSK, b"foo.example.com", OK),
    ("dns wildcard any case", S_WILD, DNSK, b"FOO.Example.COM", OK),
    ("dns wildcard not the parent", S_WILD, DNSK, b"example.com", HM),
    ("dns wildcard not two labels", S_WILD, DNSK, b"a.b.example.com", HM),
    ("dns wildcard over a tld", san(DNS("*.com")), DNSK, b"example.com", HM),
    ("dns wildcard alone", san(DNS("*")), DNSK, b"com", HM),
    ("dns partial wildcard", san(DNS("f*.example.com")), DNSK, b"foo.example.com", HM),
    ("dns wildcard not leftmost", san(DNS("foo.*.example.com")), DNSK, b"foo.bar.example.com", HM),
    ("dns second entry", san(ip("192.0.2.1"), DNS("a.org"), DNS("example.com")), DNSK,
     b"example.com", OK),
    ("dns only ip entries", san(ip("192.0.2.1")), DNSK, b"example.com", HM),
    ("dns no san", None, DNSK, b"example.com", HM),
    ("dns malformed san", S_EX[:-1], DNSK, b"example.co", HM),
    ("dns name only in uri", san(URI("https://example.com/")), DNSK, b"example.com", HM),
    ("ipv4 match", san(ip("127.0.0.1")), IPK, bytes([127, 0, 0, 1]), OK),
    ("ipv4 mismatch", san(ip("127.0.0.1")), IPK, bytes([127, 0, 0, 2]), IM),
    ("ipv4 vs mapped ipv6", san(ip("127.0.0.1")), IPK,
     ipaddress.ip_address("::ffff:127.0.0.1").packed, IM),
    ("ipv6 match", san(DNS("x.org"), ip("2001:db8::1")), IPK,
     ipaddress.ip_address("2001:db8::1").packed, OK),
    ("ip reference 3 octets", san(ip("127.0.0.1")), IPK, bytes([127, 0, 0]), IM),
    ("ip only in dns entry", san(DNS("8.8.8.8")), IPK, bytes([8, 8, 8, 8]), IM),
    ("email match, domain any case", san(EMAIL("Foo@Example.com")), MAILK, b"Foo@example.COM", OK),
    ("email local part case", san(EMAIL("Foo@example.com")), MAILK, b"foo@example.com", EM),
    ("email invalid reference", san(EMAIL("a@example.com")), MAILK, b"a@@example.com", EM),
    ("email reference empty local part", san(EMAIL("a@example.com")), MAILK, b"@example.com",
     EM),
    ("email reference without @", san(EMAIL("a@example.com")), MAILK, b"example.com", EM),
    ("email san empty local part", san(tlv(0x81, b"@example.com"), EMAIL("b@example.com")), MAILK,
     b"b@example.com", OK),
    ("email other domain", san(EMAIL("a@example.com")), MAILK, b"a@example.org", EM),
    ("uri exact", san(URI("spiffe://example.org/ns/a")), URIK, b"spiffe://example.org/ns/a", OK),
    ("uri bytes differ", san(URI("spiffe://example.org/ns/a")), URIK, b"spiffe://EXAMPLE.org/ns/a",
     HM),
    ("uri prefix", san(URI("spiffe://example.org/ns/a")), URIK, b"spiffe://example.org/ns", HM),
]


# ---- output ----------------------------------------------------------------------------------
def main():
    arrays, lines = {}, []

    def arr(b):
        if b is None:
            return "NULL, 0"
        if b not in arrays:
            arrays[b] = f"v{len(arrays)}"
            body = ", ".join(f"0x{x:02x}" for x in b) or "0"
            lines.append(f"static const uint8_t {arrays[b]}[{max(len(b), 1)}] = {{{body}}};")
        return f"{arrays[b]}, {len(b)}"

    def cstr(s):
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'

    def row(*fields):
        return "    {" + ", ".join(fields) + "},"

    nc_rows = [row(cstr(d), arr(p), arr(e), arr(s), arr(a), *(x if isinstance(x, tuple) else (x, x)))
               for d, (p, e), s, a, x in NC_CASES]
    san_rows = [row(cstr(d), arr(a), x) for d, a, x in SAN_CASES]
    match_rows = [row(cstr(d), arr(a), k, arr(r), x) for d, a, k, r, x in MATCH_CASES]
    out = [
        "/* Generated by csrc/tests/gen_names_vectors.py - do not edit. */",
        "#ifndef NAMES_VECTORS_H",
        "#define NAMES_VECTORS_H",
        "#include <stddef.h>",
        "#include <stdint.h>",
        "",
        *lines,
        "",
        "struct nc_vec {",
        "    const char *desc;",
        "    const uint8_t *perm; size_t perm_len; const uint8_t *excl; size_t excl_len;",
        "    const uint8_t *subj; size_t subj_len; const uint8_t *san; size_t san_len;",
        "    int expect, expect_no_dns_san; /* under FM_NC_CN_NO_SAN, FM_NC_CN_NO_DNS_SAN */",
        "};",
        "static const struct nc_vec NC_VECS[] = {",
        *nc_rows,
        "};",
        "",
        "struct san_vec { const char *desc; const uint8_t *san; size_t san_len; int expect; };",
        "static const struct san_vec SAN_VECS[] = {",
        *san_rows,
        "};",
        "",
        "struct match_vec {",
        "    const char *desc; const uint8_t *san; size_t san_len; uint32_t kind;",
        "    const uint8_t *ref; size_t ref_len; int expect;",
        "};",
        "static const struct match_vec MATCH_VECS[] = {",
        *match_rows,
        "};",
        "",
        "#endif",
    ]
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "names_vectors.h")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    counts = f"{len(NC_CASES)} nc, {len(SAN_CASES)} san, {len(MATCH_CASES)} match cases"
    print(f"wrote {path}: {counts}")


if __name__ == "__main__":
    main()
