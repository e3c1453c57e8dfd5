"""Every check the verifier makes: a violating certificate is rejected with the right Reason and
depth, and the compliant twin passes.

Depth is the position of the certificate blamed, leaf = 0, as OpenSSL's error depth. Chains are
root -> intermediate(s) -> leaf built by ``tests/pki.py``; the verification time is ``pki.NOW``.
"""

from __future__ import annotations

import ipaddress
import time
from datetime import timedelta
from typing import Any

import pki
import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier
from helpers import make_verifier, run_verify

from fastmtls import (
    CertificateLoadError,
    ConfigurationError,
    NotACAError,
    Reason,
    TrustStore,
    Verifier,
)

R = Reason
NOW = pki.NOW
DAY = timedelta(days=1)
EXPIRED = {"not_before": NOW - 400 * DAY, "not_after": NOW - DAY}
NOT_YET_VALID = {"not_before": NOW + DAY, "not_after": NOW + 400 * DAY}
PRIVATE_OID = ObjectIdentifier("1.3.6.1.4.1.55555.1")
DNS_ = x509.DNSName
CODE_SIGNING = ExtendedKeyUsageOID.CODE_SIGNING
ANY_EKU = ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE


def unknown_ext(critical: bool) -> list[tuple[x509.ExtensionType, bool]]:
    """An extension no verifier knows (a private OID), critical or not."""
    return [(x509.UnrecognizedExtension(PRIVATE_OID, b"\x05\x00"), critical)]


def three(root_kw: dict[str, Any] | None = None, inter_kw: dict[str, Any] | None = None,
          leaf_kw: dict[str, Any] | None = None, key: pki.KeyType = "p256",
          ) -> tuple[pki.Cert, pki.Cert, pki.Cert]:
    """(root, intermediate, leaf) with per-certificate keyword overrides."""
    rkw = {"name": "Checks Root CA", "key": key, **(root_kw or {})}
    ikw = {"name": "Checks Intermediate CA", "key": key, **(inter_kw or {})}
    lkw = {"name": "checks client", "key": key, **(leaf_kw or {})}
    root = pki.ca(**rkw)
    inter = pki.intermediate(root, **ikw)
    leaf = pki.leaf(inter, **lkw)
    return root, inter, leaf


def check3(expected: Reason, depth: int | None, root_kw: dict[str, Any] | None = None,
           inter_kw: dict[str, Any] | None = None, leaf_kw: dict[str, Any] | None = None,
           vkw: dict[str, Any] | None = None, **kw: Any) -> None:
    """Build root -> intermediate -> leaf, verify [leaf, intermediate], assert reason and depth."""
    root, inter, leaf = three(root_kw, inter_kw, leaf_kw)
    r = run_verify(make_verifier(root, **(vkw or {})), [leaf, inter], **kw)
    assert_result(r, expected, depth)


def assert_result(r: Any, expected: Reason, depth: int | None) -> None:
    """Reason, depth and the status/verified invariants of one result."""
    assert (r.reason, r.depth) == (expected, depth), r.status
    assert r.verified is (expected == R.OK)
    assert r.presented
    if expected == R.OK:
        assert r.status == "SUCCESS" and r.chain and r.anchor_name == "root"
    else:
        assert r.status == "FAILED:" + expected.message and r.chain == [] and r.anchor_name is None


def chain_of(depth: int, key: pki.KeyType = "p256", **leaf_kw: Any) -> pki.Chain:
    """pki.chain with distinct intermediate names."""
    return pki.chain(depth, key, **leaf_kw)


# ---- validity (RFC 5280 6.1.3 (a)(2)) --------------------------------------------------------


@pytest.mark.parametrize("window", ["expired", "not_yet_valid", "valid"])
@pytest.mark.parametrize(("position", "depth"), [("leaf", 0), ("inter", 1), ("root", 2)])
def test_validity(window: str, position: str, depth: int) -> None:
    """A certificate outside its validity at any depth fails with OpenSSL's reason and depth."""
    dates = {"expired": EXPIRED, "not_yet_valid": NOT_YET_VALID, "valid": {}}[window]
    kws: dict[str, dict[str, Any]] = {"root": {}, "inter": {}, "leaf": {}}
    kws[position] = dict(dates)
    expected = {"expired": R.CERT_HAS_EXPIRED, "not_yet_valid": R.CERT_NOT_YET_VALID,
                "valid": R.OK}[window]
    check3(expected, None if expected == R.OK else depth,
           root_kw=kws["root"], inter_kw=kws["inter"], leaf_kw=kws["leaf"])


@pytest.mark.parametrize(("offset", "expected"), [
    (timedelta(0), R.OK), (timedelta(seconds=1), R.CERT_HAS_EXPIRED),
    (-timedelta(seconds=1), R.OK)])
def test_validity_not_after_boundary(offset: timedelta, expected: Reason) -> None:
    """notAfter is inclusive (RFC 5280 4.1.2.5): valid at that second, expired one second later."""
    root, inter, leaf = three(leaf_kw={"not_after": NOW})
    r = run_verify(make_verifier(root), [leaf, inter], at=NOW + offset)
    assert_result(r, expected, None if expected == R.OK else 0)


@pytest.mark.parametrize(("offset", "expected"), [
    (timedelta(0), R.OK), (-timedelta(seconds=1), R.CERT_NOT_YET_VALID)])
def test_validity_not_before_boundary(offset: timedelta, expected: Reason) -> None:
    """notBefore is inclusive: valid at that second, not yet valid one second before."""
    root, inter, leaf = three(leaf_kw={"not_before": NOW})
    r = run_verify(make_verifier(root), [leaf, inter], at=NOW + offset)
    assert_result(r, expected, None if expected == R.OK else 0)


# ---- signatures --------------------------------------------------------------------------------


@pytest.mark.parametrize(("tamper", "position", "depth"), [
    ("sig", "leaf", 0), ("sig", "inter", 1), ("tbs", "leaf", 0), ("tbs", "inter", 1),
    ("none", "leaf", None)])
def test_signature_tampered(tamper: str, position: str, depth: int | None) -> None:
    """A flipped bit in the signature or in the signed TBS fails; the untouched chain passes."""
    root, inter, leaf = three()
    fn = {"sig": pki.tamper_sig, "tbs": pki.tamper_tbs, "none": bytes}[tamper]
    certs = [leaf.der, inter.der]
    i = {"leaf": 0, "inter": 1}[position]
    certs[i] = fn(certs[i])
    r = run_verify(make_verifier(root), certs)
    assert_result(r, R.OK if depth is None else R.CERT_SIGNATURE_FAILURE, depth)


@pytest.mark.parametrize("key", ["p256", "rsa2048", "ed25519"])
@pytest.mark.parametrize("impostor_signs", ["leaf", "inter", "nothing"])
@pytest.mark.parametrize("aki_names", ["signer", "issuer"])
def test_signature_wrong_issuer_key(key: pki.KeyType, impostor_signs: str, aki_names: str
                                    ) -> None:  # fmt: skip
    """A certificate signed by a different key under its issuer's exact name is rejected. When
    its authorityKeyIdentifier names the signer's key, which is not the candidate issuer's, the
    issuer was not found (another CA of the same name: another tenant's, a re-keyed CA), as
    OpenSSL reports it; when it names the candidate's key, the signature failed (it used to
    say so in both cases, which in enforce mode is a decrypt_error alert suggesting tampering;
    found by review)."""
    root, inter, leaf = three(key=key)
    impostor_root = pki.ca("Checks Root CA", key=pki.make_key(key, fresh=key == "rsa2048"))
    impostor_inter = pki.intermediate(root, "Checks Intermediate CA",
                                      key=pki.make_key(key, fresh=key == "rsa2048"))
    def ski(c: pki.Cert) -> bytes | bool:
        if aki_names == "signer":
            return True
        return c.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest

    failure = (R.UNABLE_TO_GET_ISSUER_CERT_LOCALLY if aki_names == "signer"
               else R.CERT_SIGNATURE_FAILURE)  # fmt: skip
    if impostor_signs == "leaf":  # leaf names the real intermediate but the impostor signed it
        leaf = pki.leaf(impostor_inter, "checks client", key=key, aki=ski(inter))
        expected, depth = failure, 0
    elif impostor_signs == "inter":
        inter = pki.intermediate(impostor_root, "Checks Intermediate CA", key=inter.key,
                                 aki=ski(root))  # fmt: skip
        expected, depth = failure, 1
    else:
        expected, depth = R.OK, None
    assert_result(run_verify(make_verifier(root), [leaf, inter]), expected, depth)


# ---- basicConstraints / keyUsage on issuers (RFC 5280 6.1.4 (k), (n)) -------------------------


@pytest.mark.parametrize(("inter_kw", "expected"), [
    ({"ca": None, "key_usage": None}, R.INVALID_CA),
    ({"ca": False, "key_usage": None}, R.INVALID_CA),
    ({"ca": False, "key_usage": {"digital_signature"}}, R.INVALID_CA),
    ({"ca": True}, R.OK),
    ({"ca": True, "key_usage": None}, R.OK),
])
def test_issuer_must_be_ca(inter_kw: dict[str, Any], expected: Reason) -> None:
    """An issuer without basicConstraints cA=TRUE is not a CA (INVALID_CA at its depth)."""
    check3(expected, None if expected == R.OK else 1, inter_kw=inter_kw)


@pytest.mark.parametrize("ca", [None, False])
def test_issuer_certsign_without_ca(ca: bool | None) -> None:
    """keyCertSign without cA=TRUE is inconsistent (RFC 5280 4.2.1.3) and not a CA either."""
    root, inter, leaf = three(inter_kw={"ca": ca})  # keeps keyCertSign | cRLSign
    r = run_verify(make_verifier(root), [leaf, inter])
    assert not r.verified
    assert (r.reason, r.depth) in ((R.INVALID_CA, 1), (R.INVALID_EXTENSION, 1)), r.status


@pytest.mark.parametrize(("inter_kw", "expected"), [
    ({"bc_critical": False}, R.INVALID_EXTENSION),  # RFC 5280 4.2.1.9: MUST be critical in CAs
    ({"ski": False}, R.INVALID_EXTENSION),  # RFC 5280 4.2.1.2: CAs MUST carry an SKI
    ({"aki": False}, R.INVALID_EXTENSION),  # RFC 5280 4.2.1.1: MUST be present (not self-signed)
    ({"aki": False, "extra_extensions": [(x509.AuthorityKeyIdentifier(None, None, None), False)]},
     R.INVALID_EXTENSION),  # ... with a keyIdentifier
    ({"bc_critical": True, "ski": True, "aki": True}, R.OK),
])
def test_issuer_issuance_rules(inter_kw: dict[str, Any], expected: Reason) -> None:
    """RFC 5280 issuance rules for intermediates: critical BC, SKI, AKI."""
    check3(expected, None if expected == R.OK else 1, inter_kw=inter_kw)


@pytest.mark.parametrize(("key_usage", "expected"), [
    ({"digital_signature"}, R.KEYUSAGE_NO_CERTSIGN),
    ({"crl_sign", "digital_signature"}, R.KEYUSAGE_NO_CERTSIGN),
    ({"key_cert_sign"}, R.OK),
    ({"key_cert_sign", "crl_sign"}, R.OK),
    (None, R.OK),
])
def test_issuer_key_usage_certsign(key_usage: set[str] | None, expected: Reason) -> None:
    """An issuer whose keyUsage lacks keyCertSign is refused; absent keyUsage is allowed."""
    check3(expected, None if expected == R.OK else 1, inter_kw={"key_usage": key_usage})


def _serial_der(leaf_der: bytes, serial: bytes) -> bytes:
    """TBS edit: replace the serial INTEGER content."""
    _, hl, _ = pki._tlv(leaf_der, 0)
    off = hl
    if leaf_der[off] == 0xA0:
        _, h, c = pki._tlv(leaf_der, off)
        off += h + c
    _, h, c = pki._tlv(leaf_der, off)
    body = leaf_der[hl:off] + pki._enc(0x02, serial) + leaf_der[off + h + c:]
    return pki._enc(0x30, body)


@pytest.mark.parametrize(("leaf_kw", "expected"), [
    ({"name_constraints": ([DNS_("example.com")], None)}, R.INVALID_EXTENSION),  # CA-only ext
    ({"key_usage": {"digital_signature", "key_cert_sign"}}, R.INVALID_EXTENSION),  # not a CA
    ({"san_critical": True}, R.INVALID_EXTENSION),  # SAN critical beside a non-empty subject
    ({"aki": False}, R.INVALID_EXTENSION),  # RFC 5280 4.2.1.1: AKI MUST be present
    # ... with its keyIdentifier: an empty AKI, or one naming the issuer by name and serial only
    ({"aki": False, "extra_extensions": [(x509.AuthorityKeyIdentifier(None, None, None), False)]},
     R.INVALID_EXTENSION),
    ({"aki": False, "extra_extensions": [(x509.AuthorityKeyIdentifier(
        None, [DNS_("ca.example")], 7), False)]}, R.INVALID_EXTENSION),
    ({"extra_extensions": [(x509.SubjectKeyIdentifier(b"\x01" * 20), True)], "ski": False},
     R.INVALID_EXTENSION),  # SKI MUST be non-critical
    ({"ski": False}, R.OK),  # SKI is optional in end entities
    ({}, R.OK),
])
def test_leaf_issuance_rules(leaf_kw: dict[str, Any], expected: Reason) -> None:
    """RFC 5280 issuance rules on the leaf: inconsistent or mis-critical extensions fail."""
    check3(expected, None if expected == R.OK else 0, leaf_kw=leaf_kw)


@pytest.mark.filterwarnings("ignore:Parsed a serial number")
@pytest.mark.parametrize(("serial", "expected"), [
    (b"\x00", R.INVALID_EXTENSION),  # zero
    (b"\xff", R.INVALID_EXTENSION),  # negative
    (b"\x01" * 21, R.INVALID_EXTENSION),  # more than 20 octets
    (b"\x01" * 20, R.OK),
    (b"\x01", R.OK),
])
def test_serial_number_rules(serial: bytes, expected: Reason) -> None:
    """RFC 5280 4.1.2.2: a serial is a positive integer of at most 20 octets."""
    root, inter, leaf = three()
    leaf = pki.resign(leaf, inter.key, lambda tbs: _serial_der(tbs, serial))
    assert_result(run_verify(make_verifier(root), [leaf, inter]), expected,
                  None if expected == R.OK else 0)


@pytest.mark.filterwarnings("ignore:Parsed a serial number")
def test_anchor_issuance_not_policed() -> None:
    """The operator's own anchor is not held to AKI / serial issuance rules."""
    root = pki.ca("Lax Root", aki=False)
    root = pki.resign(root, root.key, lambda tbs: _serial_der(tbs, b"\x00"))
    leaf = pki.leaf(root)
    assert_result(run_verify(make_verifier(root), [leaf]), R.OK, None)


# ---- pathLenConstraint (RFC 5280 6.1.4 (l), (m)) -----------------------------------------------


@pytest.mark.parametrize(("top_len", "mid_len", "expected", "depth"), [
    (None, 0, R.OK, None),  # pathLen 0 directly above the leaf
    (0, None, R.PATH_LENGTH_EXCEEDED, 2),  # pathLen 0 with an intermediate below
    (1, None, R.OK, None),
    (1, 0, R.OK, None),
])
def test_path_length(top_len: int | None, mid_len: int | None, expected: Reason,
                     depth: int | None) -> None:
    """pathLenConstraint bounds the non-self-issued intermediates below a CA."""
    root = pki.ca("PL Root")
    top = pki.intermediate(root, "PL Top", path_len=top_len)
    mid = pki.intermediate(top, "PL Mid", path_len=mid_len)
    leaf = pki.leaf(mid)
    assert_result(run_verify(make_verifier(root), [leaf, mid, top]), expected, depth)


@pytest.mark.parametrize(("root_len", "expected", "depth"), [
    (0, R.PATH_LENGTH_EXCEEDED, 2), (1, R.OK, None)])
def test_path_length_on_anchor(root_len: int, expected: Reason, depth: int | None) -> None:
    """The trust anchor's own pathLenConstraint is enforced (as OpenSSL and webpki do)."""
    check3(expected, depth, root_kw={"path_len": root_len})


@pytest.mark.parametrize(("self_issued", "expected", "depth"), [
    (True, R.OK, None), (False, R.PATH_LENGTH_EXCEEDED, 2)])
def test_path_length_self_issued_not_counted(self_issued: bool, expected: Reason,
                                            depth: int | None) -> None:
    """A self-issued intermediate (key rollover) does not count against pathLenConstraint."""
    root = pki.ca("SI Root")
    top = pki.intermediate(root, "SI CA", path_len=0)
    # Rollover certificate: same name as `top`, new key, signed by top's key.
    below = pki.intermediate(top, "SI CA" if self_issued else "SI Other CA")
    leaf = pki.leaf(below)
    r = run_verify(make_verifier(root), [leaf, below, top])
    assert_result(r, expected, depth)
    if expected == R.OK:
        assert r.chain == [leaf.der, below.der, top.der, root.der]


# ---- name constraints (RFC 5280 4.2.1.10, 6.1.3 (b)-(c)) ---------------------------------------

DNS, IP, EMAIL, URI, DIRN = (x509.DNSName, x509.IPAddress, x509.RFC822Name,
                             x509.UniformResourceIdentifier, x509.DirectoryName)


def _attr(oid: x509.ObjectIdentifier, value: str, kind: str) -> x509.NameAttribute:
    """A name attribute encoded as the given string type (``_ASN1Type`` member name)."""
    from cryptography.x509.name import _ASN1Type

    return x509.NameAttribute(oid, value, _type=_ASN1Type[kind])


def _net(s: str) -> x509.IPAddress:
    return x509.IPAddress(ipaddress.ip_network(s))


def _ip(s: str) -> x509.IPAddress:
    return x509.IPAddress(ipaddress.ip_address(s))


# a leaf's host-like CN beside SANs of other forms than dNSName under dNSName constraints:
# checked for client certificates (the default rule, OpenSSL's: has_san_id(x, GEN_DNS))
_CN_BESIDE_SANS = [
    ("cn-beside-email-san", (None, [DNS("evil.com")]), "x.evil.com", [EMAIL("alice@example.com")],
     R.EXCLUDED_VIOLATION),
    ("cn-beside-uri-san", (None, [DNS("evil.com")]), "a_b.evil.com",
     [URI("spiffe://example.com/ns/prod/sa/api")], R.EXCLUDED_VIOLATION),
    ("cn-beside-ip-san", (None, [DNS("evil.com")]), "x.evil.com", [_ip("10.0.0.1")],
     R.EXCLUDED_VIOLATION),
    ("cn-beside-email-san-permitted", ([DNS("partner.example")], None),
     "CN=admin.corp.example,O=Corp", [EMAIL("mallory@partner.example")],
     R.PERMITTED_VIOLATION),
]
NC_CASES = [
    # id, (permitted, excluded), leaf subject, leaf SAN, expected
    ("dns-permitted-ok", ([DNS("example.com")], None), "client",
     [DNS("client.example.com")], R.OK),
    ("dns-permitted-exact", ([DNS("example.com")], None), "client", [DNS("example.com")], R.OK),
    ("dns-permitted-violation", ([DNS("example.com")], None), "client",
     [DNS("client.example.org")], R.PERMITTED_VIOLATION),
    ("dns-permitted-suffix-not-label", ([DNS("example.com")], None), "client",
     [DNS("badexample.com")], R.PERMITTED_VIOLATION),
    ("dns-permitted-one-of-two-bad", ([DNS("example.com")], None), "client",
     [DNS("a.example.com"), DNS("b.example.net")], R.PERMITTED_VIOLATION),
    ("dns-excluded-ok", (None, [DNS("evil.com")]), "client", [DNS("good.com")], R.OK),
    ("dns-excluded-violation", (None, [DNS("evil.com")]), "client", [DNS("x.evil.com")],
     R.EXCLUDED_VIOLATION),
    ("dns-excluded-case", (None, [DNS("evil.com")]), "client", [DNS("X.EVIL.COM")],
     R.EXCLUDED_VIOLATION),
    ("dns-excluded-beats-permitted", ([DNS("example.com")], [DNS("bad.example.com")]), "client",
     [DNS("x.bad.example.com")], R.EXCLUDED_VIOLATION),
    ("ip-permitted-ok", ([_net("10.0.0.0/8")], None), "client", [_ip("10.1.2.3")], R.OK),
    ("ip-permitted-violation", ([_net("10.0.0.0/8")], None), "client", [_ip("192.168.1.1")],
     R.PERMITTED_VIOLATION),
    ("ip6-permitted-ok", ([_net("2001:db8::/32")], None), "client", [_ip("2001:db8::1")], R.OK),
    ("ip6-permitted-violation", ([_net("2001:db8::/32")], None), "client",
     [_ip("2001:db9::1")], R.PERMITTED_VIOLATION),
    ("ip-excluded-violation", (None, [_net("192.168.0.0/16")]), "client",
     [_ip("192.168.7.7")], R.EXCLUDED_VIOLATION),
    ("ip-excluded-ok", (None, [_net("192.168.0.0/16")]), "client", [_ip("10.0.0.1")], R.OK),
    ("email-permitted-ok", ([EMAIL("example.com")], None), "client",
     [EMAIL("alice@example.com")], R.OK),
    ("email-permitted-violation", ([EMAIL("example.com")], None), "client",
     [EMAIL("alice@example.org")], R.PERMITTED_VIOLATION),
    ("email-domain-ok", ([EMAIL(".example.com")], None), "client",
     [EMAIL("alice@mail.example.com")], R.OK),
    ("email-excluded-violation", (None, [EMAIL("mallory@example.com")]), "client",
     [EMAIL("mallory@example.com")], R.EXCLUDED_VIOLATION),
    ("email-in-subject-violation", ([EMAIL("example.com")], None),
     [(NameOID.COMMON_NAME, "client"), (NameOID.EMAIL_ADDRESS, "eve@evil.org")], None,
     R.PERMITTED_VIOLATION),
    ("uri-permitted-ok", ([URI(".example.com")], None), "client",
     [URI("https://svc.example.com/path")], R.OK),
    ("uri-permitted-violation", ([URI(".example.com")], None), "client",
     [URI("https://svc.example.org/path")], R.PERMITTED_VIOLATION),
    ("uri-host-exact-ok", ([URI("example.com")], None), "client",
     [URI("spiffe://example.com/ns/prod/sa/api")], R.OK),
    ("uri-excluded-violation", (None, [URI("evil.com")]), "client",
     [URI("https://evil.com/x")], R.EXCLUDED_VIOLATION),
    ("dirname-permitted-ok", ([DIRN(x509.Name.from_rfc4514_string("O=Acme,C=US"))], None),
     "CN=client,O=Acme,C=US", None, R.OK),
    ("dirname-permitted-violation",
     ([DIRN(x509.Name.from_rfc4514_string("O=Acme,C=US"))], None),
     "CN=client,O=Other,C=US", None, R.PERMITTED_VIOLATION),
    ("dirname-excluded-violation",
     (None, [DIRN(x509.Name.from_rfc4514_string("O=Evil,C=US"))]),
     "CN=client,O=Evil,C=US", None, R.EXCLUDED_VIOLATION),
    ("dirname-excluded-ok", (None, [DIRN(x509.Name.from_rfc4514_string("O=Evil,C=US"))]),
     "CN=client,O=Acme,C=US", None, R.OK),
    ("dns-constraint-ignores-ip-san", ([DNS("example.com")], None), "client",
     [_ip("10.0.0.1")], R.OK),
    # A SAN-less leaf's host-like CN is a dNSName for the constraints, '_' allowed as in
    # OpenSSL's cn2dnsid (a client falling back to the CN may match "a_b.evil.com")
    ("cn-excluded", (None, [DNS("evil.com")]), "x.evil.com", None, R.EXCLUDED_VIOLATION),
    ("cn-underscore-excluded", (None, [DNS("evil.com")]), "a_b.evil.com", None,
     R.EXCLUDED_VIOLATION),
    ("cn-leading-underscore-excluded", (None, [DNS("evil.com")]), "_svc.evil.com", None,
     R.EXCLUDED_VIOLATION),
    ("cn-underscore-permitted-violation", ([DNS("good.com")], None), "a_b.evil.com", None,
     R.PERMITTED_VIOLATION),
    ("cn-underscore-permitted-ok", ([DNS("good.com")], None), "a_b.good.com", None, R.OK),
    ("cn-one-label-not-a-host", ([DNS("good.com")], None), "a_b", None, R.OK),
    # ... and whenever the leaf has no dNSName SAN (the "no-san" rule is tested below)
    *_CN_BESIDE_SANS,
    ("cn-ignored-beside-dns-san", (None, [DNS("evil.com")]), "x.evil.com",
     [DNS("client.example.com")], R.OK),
    # directoryNames compare in OpenSSL's canonical form: string type, ASCII case and white
    # space do not hide a subject from an excluded subtree (nor from a permitted one)
    ("dirname-excluded-other-type-and-case",
     (None, [DIRN(x509.Name.from_rfc4514_string("O=Evil,C=US"))]),
     x509.Name([_attr(NameOID.COUNTRY_NAME, "US", "PrintableString"),
                _attr(NameOID.ORGANIZATION_NAME, " EVIL ", "PrintableString"),
                _attr(NameOID.COMMON_NAME, "client", "UTF8String")]), None,
     R.EXCLUDED_VIOLATION),
    ("dirname-excluded-bmpstring",
     (None, [DIRN(x509.Name.from_rfc4514_string("O=Evil,C=US"))]),
     x509.Name([_attr(NameOID.COUNTRY_NAME, "US", "PrintableString"),
                _attr(NameOID.ORGANIZATION_NAME, "evil", "BMPString"),
                _attr(NameOID.COMMON_NAME, "client", "UTF8String")]), None,
     R.EXCLUDED_VIOLATION),
    ("dirname-permitted-case-and-spaces",
     ([DIRN(x509.Name.from_rfc4514_string("O=Acme,C=US"))], None),
     x509.Name([_attr(NameOID.COUNTRY_NAME, "us", "PrintableString"),
                _attr(NameOID.ORGANIZATION_NAME, "  ACME ", "UTF8String"),
                _attr(NameOID.COMMON_NAME, "client", "UTF8String")]), None, R.OK),
    # a CN spelled as NumericString is read as text, as OpenSSL's cn2dnsid reads it (it was
    # skipped: a hostname CN escaped an excluded dNSName subtree)
    ("cn-numeric-string-dns-excluded", (None, [DNS("evil.com")]),
     x509.Name([_attr(NameOID.COMMON_NAME, "x.evil.com", "NumericString")]), None,
     R.EXCLUDED_VIOLATION),
    # a NumericString holding letters (OpenSSL accepts and prints it as O=Evil) compared with a
    # directoryName constraint fails closed rather than differ from the UTF8String "Evil"
    ("dirname-numeric-string-not-digits", (None, [DIRN(x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Evil")]))]),
     x509.Name([_attr(NameOID.ORGANIZATION_NAME, "Evil", "NumericString"),
                _attr(NameOID.COMMON_NAME, "client", "UTF8String")]), None,
     R.UNSUPPORTED_NAME_SYNTAX),
    ("dirname-numeric-string-digits", (None, [DIRN(x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "1234")]))]),
     x509.Name([_attr(NameOID.ORGANIZATION_NAME, " 1234", "NumericString"),
                _attr(NameOID.COMMON_NAME, "client", "UTF8String")]), None,
     R.EXCLUDED_VIOLATION),
]


@pytest.mark.parametrize(("constraints", "subject", "san", "expected"),
                         [c[1:] for c in NC_CASES], ids=[c[0] for c in NC_CASES])
@pytest.mark.parametrize("on", ["inter", "root"])
def test_name_constraints(constraints: Any, subject: Any, san: Any, expected: Reason,
                          on: str) -> None:
    """Name constraints of an intermediate or of the anchor bind the leaf's SAN and subject."""
    kw = {"name_constraints": constraints}
    # The intermediate's own name lies inside every directoryName subtree used here, so that an
    # anchor's constraints only ever fail on the leaf.
    inter_kw = {"name": "CN=Checks Intermediate CA,O=Acme,C=US"}
    check3(expected, None if expected == R.OK else 0,
           root_kw=kw if on == "root" else None,
           inter_kw={**inter_kw, **kw} if on == "inter" else inter_kw,
           leaf_kw={"name": subject, "san": san})


def test_a_self_issued_leaf_is_name_constrained() -> None:
    """RFC 5280 6.1.4: name constraints skip self-issued intermediates only, never the last
    certificate: a leaf named exactly like its CA (subject == issuer) with a SAN outside the
    CA's permitted subtree is refused (no test held this; found by mutation review)."""
    root = pki.ca("NC SI Root")
    inter = pki.intermediate(root, "NC SI CA",
                             name_constraints=([DNS("partner.example")], None))  # fmt: skip
    leaf = pki.leaf(inter, inter.cert.subject, san=[DNS("admin.corp.example")])
    assert leaf.cert.subject == leaf.cert.issuer
    assert_result(run_verify(make_verifier(root), [leaf, inter]), R.PERMITTED_VIOLATION, 0)


def test_a_self_issued_intermediate_is_not_name_constrained() -> None:
    """The twin: a key-rollover certificate (self-issued: subject == issuer, a new key) below a
    CA whose directoryName constraint its own name does not meet is exempt (RFC 5280 6.1.4
    (b)), and the leaf under it, within the constraints, verifies."""
    root = pki.ca("NC Rollover Root")
    partner = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Partner")])
    old = pki.intermediate(root, "CN=Rollover CA",
                           name_constraints=([DNS("partner.example"), DIRN(partner)], None))
    rollover = pki.intermediate(old, "CN=Rollover CA", key=pki.make_key("p256", fresh=True))
    assert rollover.cert.subject == rollover.cert.issuer
    leaf = pki.leaf(rollover, "CN=client,O=Partner", san=[DNS("a.partner.example")])
    assert_result(run_verify(make_verifier(root), [leaf, rollover, old]), R.OK, None)


@pytest.mark.parametrize(("constraints", "subject", "san", "default"),
                         [c[1:] for c in _CN_BESIDE_SANS], ids=[c[0] for c in _CN_BESIDE_SANS])
@pytest.mark.parametrize("how", ["no-san", "server"])
def test_name_constraints_cn_no_san_rule(constraints: Any, subject: Any, san: Any,
                                         default: Reason, how: str) -> None:
    """cn_constraints="no-san", the default for purpose="server" (a server certificate with
    SANs is named by them, as modern TLS clients and BetterTLS read it), leaves the host-like CN
    beside other SANs to those SANs; without any SAN the CN is still checked."""
    assert default != R.OK
    inter_kw = {"name": "CN=Checks Intermediate CA,O=Acme,C=US", "name_constraints": constraints}
    vkw: dict[str, Any] = ({"cn_constraints": "no-san"} if how == "no-san" else
                           {"purpose": "server"})  # fmt: skip
    eku = [ExtendedKeyUsageOID.SERVER_AUTH] if how == "server" else None
    leaf_kw: dict[str, Any] = {"name": subject, "san": san}
    if eku:
        leaf_kw["eku"] = eku
    check3(R.OK, None, inter_kw=inter_kw, leaf_kw=leaf_kw, vkw=vkw)
    check3(default, 0, inter_kw=inter_kw, leaf_kw={**leaf_kw, "san": None}, vkw=vkw)
    # and purpose="server" with the rule named explicitly: OpenSSL's again
    if how == "server":
        check3(default, 0, inter_kw=inter_kw, leaf_kw=leaf_kw,
               vkw={"purpose": "server", "cn_constraints": "no-dns-san"})


@pytest.mark.parametrize(("rule", "expected"), [
    (None, R.OK), ("no-dns-san", R.OK), ("no-san", R.OK), ("always", R.PERMITTED_VIOLATION)])
def test_cn_beside_a_dns_san_is_checked_only_always(rule: str | None, expected: Reason) -> None:
    """OpenSSL's rule checks a host-like CN only when the leaf has no dNSName SAN: a CA
    constrained to partner.example can put CN=admin.corp.example beside one SAN
    x.partner.example, and a backend authorising on the subject would take it (found by
    review). cn_constraints="always" checks the CN whatever SANs the leaf has; a CN that is no
    hostname ("alice") is still no DNS name."""
    inter_kw = {"name": "CN=Checks Intermediate CA,O=Acme,C=US",
                "name_constraints": ([DNS("partner.example")], None)}
    vkw = {} if rule is None else {"cn_constraints": rule}
    san = [DNS("x.partner.example")]
    check3(expected, None if expected == R.OK else 0, inter_kw=inter_kw,
           leaf_kw={"name": "CN=admin.corp.example,O=Corp", "san": san}, vkw=vkw)
    check3(R.OK, None, inter_kw=inter_kw, leaf_kw={"name": "CN=alice,O=Corp", "san": san},
           vkw=vkw)
    check3(R.OK, None, inter_kw=inter_kw,
           leaf_kw={"name": "CN=api.partner.example,O=Corp", "san": san}, vkw=vkw)


def test_cn_constraints_option_checked() -> None:
    with pytest.raises(ConfigurationError, match="cn_constraints"):
        Verifier(TrustStore(), cn_constraints="never")  # type: ignore[arg-type]


# A CA list with 16 or more dNSName subtrees is looked up through a hash index rather than
# scanned (fm_names.c): every case with dNSName subtrees must give the same answer with 20
# subtrees that match nothing added to each list that has dNSName subtrees, and the index's own
# matching rules (case, label boundaries) are checked directly below.
_FILLERS = [DNS(f"filler{i}.invalid") for i in range(20)]


def _has_dns(subtrees: Any) -> bool:
    return bool(subtrees) and any(isinstance(g, x509.DNSName) for g in subtrees)


def _padded(constraints: Any) -> Any:
    return tuple([*lst, *_FILLERS] if _has_dns(lst) else lst for lst in constraints)


_DNS_NC_CASES = [c for c in NC_CASES if any(_has_dns(lst) for lst in c[1])]
_INDEX_CASES = [  # id, subtrees, SANs, result as permitted subtrees, result as excluded ones
    ("exact-other-case", [DNS("Example.COM")], [DNS("example.com")], R.OK, R.EXCLUDED_VIOLATION),
    ("below", [DNS("example.com")], [DNS("a.B.example.com")], R.OK, R.EXCLUDED_VIOLATION),
    ("label-boundary", [DNS("example.com")], [DNS("badexample.com")], R.PERMITTED_VIOLATION,
     R.OK),
    ("longer-tld", [DNS("example.com")], [DNS("example.com.evil")], R.PERMITTED_VIOLATION, R.OK),
    ("one-of-two-names", [DNS("example.com")], [DNS("a.example.com"), DNS("a.example.org")],
     R.PERMITTED_VIOLATION, R.EXCLUDED_VIOLATION),
]


@pytest.mark.parametrize(("constraints", "subject", "san", "expected"),
                         [c[1:] for c in _DNS_NC_CASES], ids=[c[0] for c in _DNS_NC_CASES])
def test_name_constraints_indexed(constraints: Any, subject: Any, san: Any,
                                  expected: Reason) -> None:
    """The dNSName cases of NC_CASES through the index: the same answers."""
    check3(expected, None if expected == R.OK else 0,
           inter_kw={"name": "CN=Checks Intermediate CA,O=Acme,C=US",
                     "name_constraints": _padded(constraints)},
           leaf_kw={"name": subject, "san": san})


@pytest.mark.parametrize(("subtrees", "san", "as_permitted", "as_excluded"),
                         [c[1:] for c in _INDEX_CASES], ids=[c[0] for c in _INDEX_CASES])
@pytest.mark.parametrize("kind", ["permitted", "excluded"])
def test_name_constraints_index_matching(subtrees: Any, san: Any, as_permitted: Reason,
                                         as_excluded: Reason, kind: str) -> None:
    """Index lookups: case-insensitive, only at label boundaries, every name checked."""
    listed = [*subtrees, *_FILLERS]
    nc, expected = ((listed, None), as_permitted) if kind == "permitted" else \
        ((None, listed), as_excluded)
    check3(expected, None if expected == R.OK else 0,
           inter_kw={"name_constraints": nc}, leaf_kw={"name": "client", "san": san})


@pytest.mark.parametrize(("excluded", "expected", "depth"), [
    ("Checks Intermediate CA", R.EXCLUDED_VIOLATION, 1), ("Somebody Else", R.OK, None)])
def test_name_constraints_bind_intermediates(excluded: str, expected: Reason,
                                             depth: int | None) -> None:
    """An anchor's directoryName constraint also binds the (non-self-issued) intermediate."""
    nc = (None, [DIRN(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, excluded)]))])
    check3(expected, depth, root_kw={"name_constraints": nc})


def test_name_constraints_depth_is_the_highest_certificate_that_breaks_them() -> None:
    """Where the leaf and the intermediate both break the anchor's directoryName constraint,
    the depth reported is the intermediate's, as OpenSSL reports it (it checks the certificates
    from the top down); the intermediate's own constraint broken by the leaf alone is depth 0."""
    acme = x509.Name.from_rfc4514_string("O=Acme,C=US")
    evil = x509.Name.from_rfc4514_string("O=Evil,C=US")
    root = pki.ca("CN=Root,O=Evil,C=US", name_constraints=([DIRN(evil)], None))
    inter = pki.intermediate(root, "CN=Inter,O=Acme,C=US")
    leaf = pki.leaf(inter, "CN=client,O=Acme,C=US")
    res = run_verify(make_verifier(root.der), [leaf.der, inter.der])
    assert res.reason == R.PERMITTED_VIOLATION and res.depth == 1, (res.status, res.depth)
    root = pki.ca("CN=Root,O=Acme,C=US")
    inter = pki.intermediate(root, "CN=Inter,O=Acme,C=US", name_constraints=([DIRN(acme)], None))
    leaf = pki.leaf(inter, "CN=client,O=Evil,C=US")
    res = run_verify(make_verifier(root.der), [leaf.der, inter.der])
    assert res.reason == R.PERMITTED_VIOLATION and res.depth == 0, (res.status, res.depth)


@pytest.mark.parametrize(("base", "expected"), [
    (DNS(".example.com"), R.INVALID_EXTENSION),  # leading period is not dNSName syntax
    (DNS("example.com"), R.OK)])
def test_name_constraints_malformed(base: x509.GeneralName, expected: Reason) -> None:
    """A CA whose nameConstraints cannot be interpreted is refused (fail closed)."""
    check3(expected, None if expected == R.OK else 1,
           inter_kw={"name_constraints": ([base], None)},
           leaf_kw={"san": [DNS("client.example.com")]})


def _raw_nc(tag: int, *bases: bytes, excluded: bool = False) -> list[tuple[Any, bool]]:
    """A critical nameConstraints of one form (GeneralName ``tag``) written by hand, so that it
    may hold an empty base the cryptography builder refuses."""
    from der import enc

    subtrees = b"".join(enc(0x30, enc(tag, b)) for b in bases)
    value = enc(0x30, enc(0xA1 if excluded else 0xA0, subtrees))
    return [(x509.UnrecognizedExtension(x509.oid.ExtensionOID.NAME_CONSTRAINTS, value), True)]


@pytest.mark.parametrize("excluded", [False, True])
@pytest.mark.parametrize(("tag", "san"), [
    (0x81, EMAIL("alice@evil.com")), (0x86, URI("https://evil.com/"))],
    ids=["rfc822Name", "uniformResourceIdentifier"])
def test_empty_email_and_uri_constraints_are_malformed(
    tag: int, san: x509.GeneralName, excluded: bool
) -> None:
    """An empty rfc822Name or URI constraint is no mailbox, host or domain (RFC 5280 4.2.1.10
    defines no "every name" for them, unlike dNSName): refused as malformed, as pyca/cryptography
    does. It used to match every name, so permitted {"", "example.com"} let alice@evil.com
    through (OpenSSL: permitted subtree violation)."""
    leaf_kw = {"san": [DNS("client.example.com"), san]}
    check3(R.INVALID_EXTENSION, 1, leaf_kw=leaf_kw,
           inter_kw={"extra_extensions": _raw_nc(tag, b"", b"example.com", excluded=excluded)})
    expected = R.EXCLUDED_VIOLATION if excluded else R.PERMITTED_VIOLATION
    check3(expected, 0, leaf_kw=leaf_kw,
           inter_kw={"extra_extensions": _raw_nc(tag, b"evil.com" if excluded else b"example.com",
                                                 excluded=excluded)})


# ---- explicit policy (RFC 5280 4.2.1.11, 6.1) --------------------------------------------------

P1, P2 = ObjectIdentifier("1.3.6.1.4.1.99999.1.1"), ObjectIdentifier("1.3.6.1.4.1.99999.1.2")
ANY_POLICY = ObjectIdentifier("2.5.29.32.0")


def _policies(*oids: ObjectIdentifier) -> tuple[Any, bool]:
    return (x509.CertificatePolicies([x509.PolicyInformation(o, None) for o in oids]), False)


def _require(skip: int) -> tuple[Any, bool]:
    return (x509.PolicyConstraints(require_explicit_policy=skip, inhibit_policy_mapping=None),
            True)


def _policy_mappings(issuer: ObjectIdentifier, subject: ObjectIdentifier) -> tuple[Any, bool]:
    """policyMappings (2.5.29.33; the cryptography builder has none), non-critical."""
    from crls import der_oid, enc

    value = enc(0x30, enc(0x30, der_oid(issuer.dotted_string) + der_oid(subject.dotted_string)))
    return (x509.UnrecognizedExtension(ObjectIdentifier("2.5.29.33"), value), False)


@pytest.mark.parametrize(("inter", "leaf", "expected", "depth"), [
    ([_require(0)], [], R.NO_EXPLICIT_POLICY, 1),  # no certificatePolicies at all
    ([_require(0), _policies(P1)], [], R.NO_EXPLICIT_POLICY, 0),  # the leaf has none
    ([_require(0), _policies(P1)], [_policies(P1)], R.OK, None),
    ([_require(0), _policies(P1, P2)], [_policies(P2)], R.OK, None),
    ([_require(0), _policies(P1)], [_policies(P2)], R.NO_EXPLICIT_POLICY, 0),  # none in common
    ([_require(0), _policies(ANY_POLICY)], [_policies(P2)], R.OK, None),  # anyPolicy: every one
    ([_require(0), _policies(P1)], [_policies(ANY_POLICY)], R.OK, None),
    # requireExplicitPolicy counts certificates: 1 below the intermediate is the leaf (required),
    # 2 would be past the end of the path (not required)
    ([_require(1)], [], R.NO_EXPLICIT_POLICY, 1),
    ([_require(2)], [], R.OK, None),
    ([], [_require(0)], R.NO_EXPLICIT_POLICY, 1),  # the leaf's own requirement
    ([], [_require(1)], R.OK, None),  # on the leaf only 0 counts (6.1.5 (b))
    ([_policies(P1)], [_policies(P2)], R.OK, None),  # no requirement: policies are not checked
    # policy mapping is not processed: where a policy is required, it fails closed
    ([(x509.PolicyConstraints(0, 0), True), _policies(P1)], [_policies(P1)],
     R.NO_EXPLICIT_POLICY, 1),  # inhibitPolicyMapping
    ([_require(0), _policies(P1), _policy_mappings(P1, P2)], [_policies(P1)],
     R.NO_EXPLICIT_POLICY, 1),
    ([_policies(P1), _policy_mappings(P1, P2)], [_policies(P2)], R.OK, None),  # not required
    # a policy named twice (RFC 5280 4.2.1.4; OpenSSL's policy cache refuses it too), where a
    # policy is required; not read where none is
    ([_require(0), _policies(P1)], [_policies(P1, P2, P1)], R.INVALID_EXTENSION, 0),
    ([_require(0), _policies(ANY_POLICY, ANY_POLICY)], [_policies(P1)], R.INVALID_EXTENSION, 1),
    ([_policies(P1, P1)], [_policies(P2, P2)], R.OK, None),
])  # fmt: skip
def test_require_explicit_policy(inter: list[Any], leaf: list[Any], expected: Reason,
                                 depth: int | None) -> None:
    """RFC 5280 6.1: fastmtls sets no initial explicit-policy, but a certificate's
    requireExplicitPolicy makes the rest of its path need a policy common to every certificate
    below the anchor (OpenSSL with X509_V_FLAG_POLICY_CHECK: "no explicit policy"). It used to be
    ignored, so such paths passed without any policy."""
    check3(expected, depth, inter_kw={"extra_extensions": inter},
           leaf_kw={"extra_extensions": leaf})


# ---- critical extensions (RFC 5280 4.2) --------------------------------------------------------


@pytest.mark.parametrize("critical", [True, False])
@pytest.mark.parametrize(("position", "depth"), [("leaf", 0), ("inter", 1)])
def test_unknown_critical_extension(critical: bool, position: str, depth: int) -> None:
    """An unrecognised critical extension is rejected; the same extension non-critical is not."""
    ext = {"extra_extensions": unknown_ext(critical)}
    check3(R.UNHANDLED_CRITICAL_EXTENSION if critical else R.OK, depth if critical else None,
           inter_kw=ext if position == "inter" else None,
           leaf_kw=ext if position == "leaf" else None)


_CRL_DP = [x509.DistributionPoint([x509.UniformResourceIdentifier("http://crl.example/ca.crl")],
                                  None, None, None)]
# Extensions fastmtls recognises but does not process: critical, they are unhandled (as in
# OpenSSL and pyca/cryptography); freshestCRL MUST be non-critical anyway (RFC 5280 4.2.1.15).
UNPROCESSED_EXTS = {
    "freshestCRL": x509.FreshestCRL(_CRL_DP),
    "issuerAltName": x509.IssuerAlternativeName([x509.DNSName("ca.example")]),
    "sct-list": x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2"),
                                           bytes.fromhex("04020000")),
}
# Accepted critical, as OpenSSL does (pyca/cryptography refuses them): cRLDistributionPoints is
# revocation's business; certificatePolicies matter only where a policy is required, and
# policyConstraints is processed (test_require_explicit_policy; here its requirement starts
# past the end of the path).
CRITICAL_OK_EXTS = {
    "cRLDistributionPoints": x509.CRLDistributionPoints(_CRL_DP),
    "certificatePolicies": x509.CertificatePolicies(
        [x509.PolicyInformation(ObjectIdentifier("1.2.3.4"), None)]),
    "policyConstraints": x509.PolicyConstraints(require_explicit_policy=5,
                                                inhibit_policy_mapping=None),
}


@pytest.mark.parametrize("critical", [True, False])
@pytest.mark.parametrize(("position", "depth"), [("leaf", 0), ("inter", 1)])
@pytest.mark.parametrize("name", sorted(UNPROCESSED_EXTS))
def test_unprocessed_critical_extension(name: str, critical: bool, position: str,
                                        depth: int) -> None:
    """freshestCRL, issuerAltName and the SCT list are not processed: critical, they fail as
    unhandled (FAILED:unhandled critical extension); non-critical they are ignored."""
    ext = {"extra_extensions": [(UNPROCESSED_EXTS[name], critical)]}
    check3(R.UNHANDLED_CRITICAL_EXTENSION if critical else R.OK, depth if critical else None,
           inter_kw=ext if position == "inter" else None,
           leaf_kw=ext if position == "leaf" else None)


@pytest.mark.parametrize("position", ["leaf", "inter"])
@pytest.mark.parametrize("name", sorted(CRITICAL_OK_EXTS))
def test_critical_extension_accepted_as_openssl(name: str, position: str) -> None:
    """Critical cRLDistributionPoints, certificatePolicies and policyConstraints pass (OpenSSL's
    behaviour; SECURITY.md lists them under "deliberately as lenient as OpenSSL")."""
    ext = {"extra_extensions": [(CRITICAL_OK_EXTS[name], True)]}
    check3(R.OK, None, inter_kw=ext if position == "inter" else None,
           leaf_kw=ext if position == "leaf" else None)


# ---- extended key usage (RFC 5280 4.2.1.12) ----------------------------------------------------

SA, CA_ = pki.SERVER_AUTH, pki.CLIENT_AUTH


@pytest.mark.parametrize(("purpose", "require", "eku", "expected"), [
    ("client", False, [SA], R.INVALID_PURPOSE),
    ("client", False, [CA_], R.OK),
    ("client", False, [SA, CA_], R.OK),
    ("client", False, None, R.OK),
    ("client", False, [CODE_SIGNING], R.INVALID_PURPOSE),
    ("client", False, [ANY_EKU], R.INVALID_PURPOSE),
    ("client", True, None, R.INVALID_PURPOSE),
    ("client", True, [CA_], R.OK),
    ("server", False, [SA], R.OK),
    ("server", False, [CA_], R.INVALID_PURPOSE),
    ("server", False, None, R.OK),
    ("server", True, None, R.INVALID_PURPOSE),
    ("any", False, [SA], R.OK),
    ("any", False, [CA_], R.OK),
    ("any", False, [CODE_SIGNING], R.OK),
    ("any", False, None, R.OK),
])
def test_leaf_eku(purpose: str, require: bool, eku: list[ObjectIdentifier] | None,
                  expected: Reason) -> None:
    """The leaf's EKU must name the verifier's purpose when present (or always, by option)."""
    check3(expected, None if expected == R.OK else 0, leaf_kw={"eku": eku},
           vkw={"purpose": purpose, "require_eku": require})


@pytest.mark.parametrize(("eku", "on", "expected", "depth"), [
    ([SA], "inter", R.INVALID_PURPOSE, 1),
    ([SA], "root", R.INVALID_PURPOSE, 2),
    ([CA_], "inter", R.OK, None),
    ([SA, CA_], "inter", R.OK, None),
    ([ANY_EKU], "inter", R.OK, None),
])
def test_ca_eku(eku: list[ObjectIdentifier], on: str, expected: Reason,
                depth: int | None) -> None:
    """A CA whose EKU lacks clientAuth (and anyExtendedKeyUsage) cannot issue client certs."""
    kw = {"eku": eku}
    check3(expected, depth, root_kw=kw if on == "root" else None,
           inter_kw=kw if on == "inter" else None)


# ---- end entity must not be a CA ---------------------------------------------------------------


@pytest.mark.parametrize(("leaf_kw", "expected"), [
    ({"ca": True, "key_usage": {"digital_signature", "key_cert_sign"}}, R.INVALID_NON_CA),
    ({"ca": True}, R.INVALID_NON_CA),
    ({"ca": True, "key_usage": None, "path_len": 0}, R.INVALID_NON_CA),
    ({"ca": False}, R.OK),
    ({"ca": None}, R.OK),
])
def test_leaf_is_not_a_ca(leaf_kw: dict[str, Any], expected: Reason) -> None:
    """A leaf with basicConstraints cA=TRUE is refused as an end entity (INVALID_NON_CA)."""
    check3(expected, None if expected == R.OK else 0, leaf_kw=leaf_kw)


# ---- key sizes and algorithms ------------------------------------------------------------------


@pytest.mark.parametrize(("weak", "min_bits", "expected", "depth"), [
    ("leaf", 2048, R.EE_KEY_TOO_SMALL, 0),
    ("inter", 2048, R.CA_KEY_TOO_SMALL, 1),
    ("root", 2048, R.CA_KEY_TOO_SMALL, 2),
    ("leaf", 1024, R.OK, None),
    ("inter", 1024, R.OK, None),
    ("none", 2048, R.OK, None),
])
def test_rsa_key_size(weak: str, min_bits: int, expected: Reason, depth: int | None) -> None:
    """RSA keys below min_rsa_bits are refused, as an end entity or as a CA."""
    key = {p: ("rsa1024" if p == weak else "rsa2048") for p in ("root", "inter", "leaf")}
    check3(expected, depth, root_kw={"key": key["root"]}, inter_kw={"key": key["inter"]},
           leaf_kw={"key": key["leaf"]}, vkw={"min_rsa_bits": min_bits})


@pytest.mark.parametrize(("min_bits", "expected"), [
    (3072, R.EE_KEY_TOO_SMALL), (8192, R.EE_KEY_TOO_SMALL), (2048, R.OK)])
def test_min_rsa_bits_option(min_bits: int, expected: Reason) -> None:
    """min_rsa_bits raises the floor: a 2048-bit leaf fails at 3072 (EC CAs are unaffected)."""
    check3(expected, None if expected == R.OK else 0, leaf_kw={"key": "rsa2048"},
           vkw={"min_rsa_bits": min_bits})


@pytest.mark.parametrize(("root_key", "inter_key", "leaf_key", "kw"), [
    ("p256", "p256", "p256", {}),
    ("p384", "p384", "p384", {}),
    ("p521", "p521", "p521", {}),
    ("ed25519", "ed25519", "ed25519", {}),
    ("rsa2048", "rsa2048", "rsa2048", {}),
    ("rsa3072", "rsa3072", "p256", {}),
    ("rsa4096", "p256", "p256", {}),
    ("rsa2048", "rsa2048", "rsa2048", {"rsa_pss": True}),
    ("rsa2048", "rsa2048", "p256", {"rsa_pss": True, "hash": "sha384"}),
    ("rsa2048", "rsa2048", "p256", {"rsa_pss": True, "hash": "sha512"}),
    ("rsa2048", "rsa2048", "p256", {"hash": "sha384"}),
    ("rsa2048", "rsa2048", "p256", {"hash": "sha512"}),
    ("p256", "p384", "p521", {"hash": "sha512"}),
    ("p384", "ed25519", "rsa2048", {}),
])
def test_supported_algorithms(root_key: pki.KeyType, inter_key: pki.KeyType,
                              leaf_key: pki.KeyType, kw: dict[str, Any]) -> None:
    """Chains of every supported key type and signature algorithm verify."""
    root = pki.ca("Alg Root", key=root_key)
    inter = pki.intermediate(root, "Alg Intermediate", key=inter_key, **kw)
    leaf = pki.leaf(inter, key=leaf_key, **kw)
    r = run_verify(make_verifier(root), [leaf, inter])
    assert_result(r, R.OK, None)
    assert r.chain == [leaf.der, inter.der, root.der]


def test_secp256k1_leaf_rejected() -> None:
    """A leaf whose key is on an unsupported curve (secp256k1) is refused."""
    root, inter, leaf = three(leaf_kw={"key": "secp256k1"})
    r = run_verify(make_verifier(root), [leaf, inter])
    assert not r.verified
    assert (r.reason, r.depth) == (R.UNSUPPORTED_KEY, 0)


def test_secp256k1_issuer_rejected() -> None:
    """A certificate signed by a secp256k1 CA key cannot be verified: refused."""
    root = pki.ca("K1 Root")
    inter = pki.intermediate(root, "K1 Intermediate", key="secp256k1")
    leaf = pki.leaf(inter)
    r = run_verify(make_verifier(root), [leaf, inter])
    assert not r.verified
    assert r.reason in (R.UNSUPPORTED_KEY, R.UNSUPPORTED_SIGNATURE_ALGORITHM)
    assert r.depth in (0, 1)


def test_secp256k1_anchor_refused_by_store() -> None:
    """A trust anchor with an unsupported key is refused when it is added."""
    with pytest.raises(CertificateLoadError):
        TrustStore().add_der(pki.ca("K1 Root", key="secp256k1").der, name="k1")


@pytest.mark.parametrize(("position", "key", "depth"), [
    ("leaf", "rsa2048", 0), ("leaf", "p256", 0), ("inter", "rsa2048", 1), ("inter", "p256", 1)])
def test_sha1_signature(position: str, key: pki.KeyType, depth: int) -> None:
    """SHA-1 signatures (RSA or ECDSA) are refused as an unsupported algorithm."""
    kw = {"hash": "sha1"}
    root = pki.ca("SHA1 Root", key=key)
    inter = pki.intermediate(root, "SHA1 Intermediate", key=key,
                             **(kw if position == "inter" else {}))
    leaf = pki.leaf(inter, key=key, **(kw if position == "leaf" else {}))
    assert_result(run_verify(make_verifier(root), [leaf, inter]),
                  R.UNSUPPORTED_SIGNATURE_ALGORITHM, depth)


@pytest.mark.parametrize(("position", "depth"), [("leaf", 0), ("inter", 1)])
def test_v1_certificate(position: str, depth: int) -> None:
    """X.509 v1 certificates (no extensions possible) are refused: v3 only."""
    root = pki.ca("V1 Root")
    v1 = {"version": 1, "ski": False, "aki": False, "ca": None, "key_usage": None}
    if position == "inter":
        inter = pki.issue(subject="V1 Intermediate", issuer=root, **v1)
    else:
        inter = pki.intermediate(root, "V1 Intermediate")
    leaf = (pki.leaf(inter, eku=None, san=None, **v1) if position == "leaf"
            else pki.leaf(inter))
    assert_result(run_verify(make_verifier(root), [leaf, inter]), R.INVALID_VERSION, depth)


# ---- chain length ------------------------------------------------------------------------------


@pytest.mark.parametrize(("n_inters", "max_depth", "expected"), [
    (0, 0, R.OK), (1, 0, R.CERT_CHAIN_TOO_LONG), (1, 1, R.OK), (3, 3, R.OK),
    (3, 2, R.CERT_CHAIN_TOO_LONG), (8, 8, R.OK), (9, 8, R.CERT_CHAIN_TOO_LONG)])
def test_max_depth(n_inters: int, max_depth: int, expected: Reason) -> None:
    """Exactly max_depth intermediates pass; one more fails with CERT_CHAIN_TOO_LONG."""
    ch = chain_of(n_inters)
    r = run_verify(make_verifier(ch.root, max_depth=max_depth), ch.presented)
    assert_result(r, expected, None if expected == R.OK else max_depth + 1)


@pytest.mark.parametrize(("rollover", "expected"), [(True, R.OK), (False, R.CERT_CHAIN_TOO_LONG)])
def test_max_depth_ignores_self_issued(rollover: bool, expected: Reason) -> None:
    """A self-issued (key rollover) intermediate does not count toward max_depth."""
    root = pki.ca("MD Root")
    top = pki.intermediate(root, "MD CA")
    below = pki.intermediate(top, "MD CA" if rollover else "MD Other CA")
    leaf = pki.leaf(below)
    r = run_verify(make_verifier(root, max_depth=1), [leaf, below, top])
    assert_result(r, expected, None if expected == R.OK else 2)


def test_max_depth_default_is_eight() -> None:
    """The default max_depth allows 8 intermediates and refuses 9."""
    ch9 = chain_of(9)
    v = make_verifier(ch9.root)
    assert_result(run_verify(v, ch9.presented), R.CERT_CHAIN_TOO_LONG, 9)
    ch8 = chain_of(8)
    assert_result(run_verify(make_verifier(ch8.root), ch8.presented), R.OK, None)


# ---- issuers that cannot be found --------------------------------------------------------------


def test_unknown_issuer() -> None:
    """A leaf from an untrusted CA: unable to get local issuer certificate, at depth 0."""
    _root, inter, leaf = three()
    other = pki.ca("Some Other Root")
    assert_result(run_verify(make_verifier(other), [leaf]),
                  R.UNABLE_TO_GET_ISSUER_CERT_LOCALLY, 0)
    assert_result(run_verify(make_verifier(other), [leaf, inter]),
                  R.UNABLE_TO_GET_ISSUER_CERT_LOCALLY, 1)


def test_missing_intermediate() -> None:
    """The leaf alone, without its intermediate, cannot reach the root."""
    root, inter, leaf = three()
    assert_result(run_verify(make_verifier(root), [leaf]),
                  R.UNABLE_TO_GET_ISSUER_CERT_LOCALLY, 0)
    assert_result(run_verify(make_verifier(root), [leaf, inter]), R.OK, None)


def test_self_signed_leaf() -> None:
    """A self-signed end-entity certificate: 'self signed certificate' at depth 0."""
    root = pki.ca("SS Root")
    me = pki.issue(subject="self signed client", ca=False, key_usage={"digital_signature"},
                   eku=[pki.CLIENT_AUTH], san=list(pki.CLIENT_SAN))
    assert_result(run_verify(make_verifier(root), [me]), R.DEPTH_ZERO_SELF_SIGNED_CERT, 0)


def test_untrusted_root_in_chain() -> None:
    """An untrusted self-signed root sent in the chain: SELF_SIGNED_CERT_IN_CHAIN at its depth."""
    root, inter, leaf = three()
    trusted = pki.ca("The Trusted Root")
    assert_result(run_verify(make_verifier(trusted), [leaf, inter, root]),
                  R.SELF_SIGNED_CERT_IN_CHAIN, 2)
    # Twin: the same chain with its root trusted passes (the presented root copy is harmless).
    r = run_verify(make_verifier(root), [leaf, inter, root])
    assert_result(r, R.OK, None)
    assert len(r.chain) == 3


# ---- path building -----------------------------------------------------------------------------


@pytest.mark.parametrize("expired_first", [True, False])
def test_cross_signed_same_key_one_expired(expired_first: bool) -> None:
    """Two intermediates with the same name and key, one expired: the valid one is chosen."""
    root = pki.ca("XS Root")
    key = pki.make_key("p256")
    old = pki.intermediate(root, "XS Intermediate", key=key, **EXPIRED)
    new = pki.intermediate(root, "XS Intermediate", key=key)
    leaf = pki.leaf(new)
    inters = [old, new] if expired_first else [new, old]
    r = run_verify(make_verifier(root), [leaf, *inters])
    assert_result(r, R.OK, None)
    assert r.chain == [leaf.der, new.der, root.der]
    # Twin: only the expired copy is presented.
    assert_result(run_verify(make_verifier(root), [leaf, old]), R.CERT_HAS_EXPIRED, 1)


def test_cross_signed_by_untrusted_and_trusted_roots() -> None:
    """An intermediate cross-signed by an untrusted and a trusted root: the trusted path wins."""
    trusted, untrusted = pki.ca("XS Trusted Root"), pki.ca("XS Old Root")
    key = pki.make_key("p256")
    via_untrusted = pki.intermediate(untrusted, "XS Shared Intermediate", key=key)
    via_trusted = pki.intermediate(trusted, "XS Shared Intermediate", key=key)
    leaf = pki.leaf(via_trusted)
    r = run_verify(make_verifier(trusted), [leaf, via_untrusted, untrusted, via_trusted])
    assert_result(r, R.OK, None)
    assert r.chain == [leaf.der, via_trusted.der, trusted.der]


@pytest.mark.parametrize("which", [0, 1])
def test_same_name_anchors_different_keys(which: int) -> None:
    """Two trusted CAs with the same name and different keys: the one that signed is found."""
    roots = [pki.ca("Twin Root"), pki.ca("Twin Root")]
    leaf = pki.leaf(roots[which])
    r = run_verify(make_verifier(*roots), [leaf])
    assert_result(r, R.OK, None)
    assert r.chain == [leaf.der, roots[which].der]


@pytest.mark.parametrize("which", [0, 1])
def test_same_name_intermediates_different_keys(which: int) -> None:
    """Two presented intermediates with the same name, different keys: the signer is chosen."""
    root = pki.ca("Twin Inter Root")
    inters = [pki.intermediate(root, "Twin Intermediate"),
              pki.intermediate(root, "Twin Intermediate")]
    leaf = pki.leaf(inters[which])
    r = run_verify(make_verifier(root), [leaf, *inters])
    assert_result(r, R.OK, None)
    assert r.chain == [leaf.der, inters[which].der, root.der]


def _loop_pair() -> tuple[pki.Cert, pki.Cert, pki.Cert]:
    """A issued by B, B issued by A (neither self-signed), and a leaf under A."""
    ka, kb = pki.make_key("p256"), pki.make_key("p256")

    def kid(k: pki.PrivateKey) -> bytes:
        return x509.SubjectKeyIdentifier.from_public_key(k.public_key()).digest

    a = pki.issue(subject="Loop A", key=ka, issuer=pki.Cert(None, kb),  # type: ignore[arg-type]
                  issuer_name="Loop B", aki=kid(kb), ca=True, key_usage={"key_cert_sign"})
    b = pki.issue(subject="Loop B", key=kb, issuer=pki.Cert(None, ka),  # type: ignore[arg-type]
                  issuer_name="Loop A", aki=kid(ka), ca=True, key_usage={"key_cert_sign"})
    return a, b, pki.leaf(a)


def test_loop_terminates() -> None:
    """A <-> B issuer loop with neither trusted ends quickly with a failure, not a hang."""
    a, b, leaf = _loop_pair()
    t0 = time.monotonic()
    r = run_verify(make_verifier(pki.ca("Unrelated Root")), [leaf, a, b, a, b])
    assert time.monotonic() - t0 < 5
    assert not r.verified
    assert r.reason in (R.UNABLE_TO_GET_ISSUER_CERT_LOCALLY, R.BUDGET_EXCEEDED)


def test_loop_with_trusted_member() -> None:
    """The same loop with B trusted: leaf -> A -> B (anchor) validates."""
    a, b, leaf = _loop_pair()
    r = run_verify(make_verifier(b), [leaf, a, b])
    assert_result(r, R.OK, None)
    assert r.chain == [leaf.der, a.der, b.der]


@pytest.mark.parametrize("order", ["bad-first", "good-first"])
def test_copy_with_bad_signature_does_not_hide_good_copy(order: str) -> None:
    """The intermediate presented twice with the same TBSCertificate, one copy with a corrupted
    signature: the good copy is found in either order (copies are one candidate only when their
    DER is identical)."""
    root, inter, leaf = three()
    bad = pki.tamper_sig(inter.der)
    copies = [bad, inter.der] if order == "bad-first" else [inter.der, bad]
    r = run_verify(make_verifier(root), [leaf, *copies])
    assert_result(r, R.OK, None)
    assert r.chain == [leaf.der, inter.der, root.der]
    # twin: the bad copy alone fails its signature check
    assert_result(run_verify(make_verifier(root), [leaf, bad]), R.CERT_SIGNATURE_FAILURE, 1)


def test_same_tbs_signed_by_twin_roots() -> None:
    """One TBSCertificate signed by two same-name roots: only the second is trusted, so only the
    second copy leads to it (the first copy's signature fails under it; its authority key
    identifier names the first root's key: the issuer is not found, as OpenSSL says)."""
    roots = [pki.ca("Twin Copy Root"), pki.ca("Twin Copy Root")]
    inter = pki.intermediate(roots[0], "Twin Copy Intermediate")
    other = pki.resign(inter, roots[1].key)
    assert other.der != inter.der and pki._split(other.der)[0] == pki._split(inter.der)[0]
    leaf = pki.leaf(inter)
    r = run_verify(make_verifier(roots[1]), [leaf, inter, other])
    assert_result(r, R.OK, None)
    assert r.chain == [leaf.der, other.der, roots[1].der]
    assert_result(run_verify(make_verifier(roots[1]), [leaf, inter]),
                  R.UNABLE_TO_GET_ISSUER_CERT_LOCALLY, 1)


def test_validly_signed_twins_one_pass() -> None:
    """Two validly signed copies of one TBS (ECDSA signs with a fresh nonce) and an exact
    duplicate: the paths above them are explored once, so an expired leaf costs two signature
    checks (leaf under the intermediate, intermediate under the root), not four."""
    root, inter, leaf = three(leaf_kw=EXPIRED)
    twin = pki.resign(inter, root.key)
    assert twin.der != inter.der
    r = run_verify(make_verifier(root), [leaf, inter, twin, inter, twin])
    assert_result(r, R.CERT_HAS_EXPIRED, 0)
    assert r._res.sig_checks == 2


def test_twin_intermediates_below_an_intermediate_one_pass() -> None:
    """The same, one level up: two validly signed copies of the lower intermediate, whose issuer
    is itself an intermediate. The second copy's path above is not explored again, so an
    expired leaf costs three signature checks (leaf, lower, upper), not five."""
    root = pki.ca("Twin Depth Root")
    upper = pki.intermediate(root, "Twin Upper CA")
    lower = pki.intermediate(upper, "Twin Lower CA")
    leaf = pki.leaf(lower, **EXPIRED)
    twin = pki.resign(lower, upper.key)
    assert twin.der != lower.der
    r = run_verify(make_verifier(root), [leaf, lower, twin, upper])
    assert_result(r, R.CERT_HAS_EXPIRED, 0)
    assert r._res.sig_checks == 3


# ---- trust anchors that are not roots, and operator intermediates ------------------------------


def test_intermediate_as_trust_anchor() -> None:
    """A trusted intermediate is a complete anchor (partial chain): its root is not needed."""
    _root, inter, leaf = three()
    for presented in ([leaf], [leaf, inter]):
        r = run_verify(make_verifier(inter), presented)
        assert_result(r, R.OK, None)
        assert r.chain == [leaf.der, inter.der]
    # Twin: trusting an unrelated intermediate does not help.
    _, other_inter, _ = three(inter_kw={"name": "Other Intermediate CA"})
    assert_result(run_verify(make_verifier(other_inter), [leaf, inter]),
                  R.UNABLE_TO_GET_ISSUER_CERT_LOCALLY, 1)


def test_operator_intermediates_complete_chain() -> None:
    """Verifier(intermediates=...) completes a chain the client sent as a bare leaf."""
    root, inter, leaf = three()
    store = TrustStore()
    store.add_der(root.der, name="root")
    r = Verifier(store, intermediates=[inter.der]).verify([leaf.der], at=NOW)
    assert_result(r, R.OK, None)
    assert r.chain == [leaf.der, inter.der, root.der]
    # Twin: without the operator intermediate the leaf alone fails.
    assert_result(Verifier(store).verify([leaf.der], at=NOW),
                  R.UNABLE_TO_GET_ISSUER_CERT_LOCALLY, 0)
    # Operator intermediates get the same checks as presented ones.
    bad_root, bad_inter, _bad_leaf = three(inter_kw={"ca": False})
    bad_store = TrustStore()
    bad_store.add_der(bad_root.der, name="root")
    with pytest.raises(NotACAError):
        Verifier(bad_store, intermediates=[bad_inter.der])


def test_operator_intermediate_expired() -> None:
    """An expired operator intermediate is reported like a presented one."""
    root, inter, leaf = three(inter_kw=EXPIRED)
    store = TrustStore()
    store.add_der(root.der, name="root")
    r = Verifier(store, intermediates=[inter.der]).verify([leaf.der], at=NOW)
    assert_result(r, R.CERT_HAS_EXPIRED, 1)


# ---- host associations (the Cloudflare model) --------------------------------------------------


@pytest.fixture(scope="module")
def two_cas() -> dict[str, Any]:
    """Two roots (names 'a' and 'b'), a leaf under each, and a store with associations."""
    ra, rb = pki.ca("Assoc Root A"), pki.ca("Assoc Root B")
    store = TrustStore()
    store.add_der(ra.der, name="a")
    store.add_der(rb.der, name="b")
    store.associate("api.example.com", ["a"])
    store.associate("*.wild.example.com", ["b"])
    store.associate("both.example.com", ["a", "b"])
    store.associate("locked.example.com", [])
    return {"store": store, "a": pki.leaf(ra), "b": pki.leaf(rb)}


@pytest.mark.parametrize(("host", "ok_a", "ok_b"), [
    ("api.example.com", True, False),
    ("API.Example.COM.", True, False),
    ("x.wild.example.com", False, True),
    ("wild.example.com", True, True),  # the wildcard covers the names below, not the parent
    ("a.b.wild.example.com", False, True),  # ... at any depth (the nearest wildcard applies)
    ("both.example.com", True, True),
    ("other.example.com", True, True),  # no association: every CA
    (None, True, True),
    ("locked.example.com", False, False),  # empty association: nothing
])
def test_host_associations(two_cas: dict[str, Any], host: str | None, ok_a: bool,
                           ok_b: bool) -> None:
    """A host with associations trusts only its CAs; a host without trusts every CA."""
    v = Verifier(two_cas["store"])
    for which, ok in (("a", ok_a), ("b", ok_b)):
        r = v.verify([two_cas[which].der], host=host, at=NOW)
        assert r.verified is ok, (which, r.status)
        if ok:
            assert r.anchor_name == which
        else:
            assert (r.reason, r.depth) == (R.UNABLE_TO_GET_ISSUER_CERT_LOCALLY, 0)


# ---- expected names (server purpose) -----------------------------------------------------------


@pytest.fixture(scope="module")
def server_chain() -> tuple[pki.Cert, pki.Cert]:
    """(root, server leaf) with DNS, wildcard DNS, IP and e-mail SANs."""
    root = pki.ca("Name Root")
    leaf = pki.leaf(root, "CN=cn-only.example.com", eku=[pki.SERVER_AUTH], san=[
        DNS("www.example.com"), DNS("*.wild.example.com"), _ip("192.0.2.1"), _ip("2001:db8::7"),
        EMAIL("ops@example.com"), URI("spiffe://example.com/svc")])
    return root, leaf


@pytest.mark.parametrize(("name", "expected"), [
    ("www.example.com", R.OK),
    ("WWW.Example.COM", R.OK),
    ("a.wild.example.com", R.OK),
    ("wild.example.com", R.HOSTNAME_MISMATCH),
    ("a.b.wild.example.com", R.HOSTNAME_MISMATCH),
    ("other.example.com", R.HOSTNAME_MISMATCH),
    ("cn-only.example.com", R.HOSTNAME_MISMATCH),  # no fallback to the subject CN
    ("192.0.2.1", R.OK),
    (ipaddress.ip_address("192.0.2.1"), R.OK),
    ("192.0.2.2", R.IP_ADDRESS_MISMATCH),
    ("2001:db8::7", R.OK),
    ("2001:db8::8", R.IP_ADDRESS_MISMATCH),
    ("ops@example.com", R.OK),
    ("ops@EXAMPLE.com", R.OK),
    ("dev@example.com", R.EMAIL_MISMATCH),
    ("spiffe://example.com/svc", R.OK),
    ("spiffe://example.com/other", R.HOSTNAME_MISMATCH),
])
def test_expected_name(server_chain: tuple[pki.Cert, pki.Cert], name: Any,
                       expected: Reason) -> None:
    """expected_name must match a SAN of its type (DNS with RFC 6125 wildcards, IP, e-mail)."""
    root, leaf = server_chain
    r = run_verify(make_verifier(root, purpose="server"), [leaf], expected_name=name)
    assert_result(r, expected, None if expected == R.OK else 0)


@pytest.mark.parametrize(("name", "expected"), [
    ("www.example.com.", R.OK),  # the root's dot
    ("www.example.com..", R.HOSTNAME_MISMATCH),  # an empty label: no host name
    ("1.2.3.4.", R.HOSTNAME_MISMATCH),  # an IPv4 literal, not a DNS name spelled the same
    ("010.0.0.5", R.HOSTNAME_MISMATCH),  # 8.0.0.5 to URL parsers and inet_aton
    ("example.0x1f", R.HOSTNAME_MISMATCH),  # a hex number as its last label
    ("example.0xyz", R.OK),  # letters: a name
    ("1.2.3.4", R.IP_ADDRESS_MISMATCH),  # an IP address matches iPAddress SANs only
])
def test_expected_name_that_reads_as_a_number(name: str, expected: Reason) -> None:
    """A DNS reference identity whose last label is a number (RFC 1123 2.1) matches no dNSName,
    not even one spelled the same (it matched, found by a differential review against
    pyca/cryptography and rustls-webpki), and only one trailing dot is the root's."""
    root = pki.ca("Name Root")
    leaf = pki.leaf(root, "CN=numbers", eku=[pki.SERVER_AUTH], san=[DNS(n) for n in (
        "www.example.com", "1.2.3.4", "010.0.0.5", "example.0x1f", "example.0xyz")])
    r = run_verify(make_verifier(root, purpose="server"), [leaf], expected_name=name)
    assert_result(r, expected, None if expected == R.OK else 0)


# ---- subject / SAN consistency (RFC 5280 4.1.2.6) ----------------------------------------------


@pytest.mark.parametrize(("san_critical", "expected"), [
    (False, R.INVALID_EXTENSION), (True, R.OK)])
def test_empty_subject_needs_critical_san(san_critical: bool, expected: Reason) -> None:
    """An empty subject is allowed only with a critical subjectAltName."""
    check3(expected, None if expected == R.OK else 0,
           leaf_kw={"name": x509.Name([]), "san_critical": san_critical})


def test_ca_with_an_empty_subject_issues_nothing() -> None:
    """RFC 5280 4.1.2.4 / 4.1.2.6: an issuer is a non-empty DN, so a CA's subject is one. What a
    CA with an empty subject (and a critical subjectAltName) issues names an empty issuer, and is
    refused for that (OpenSSL: "Issuer name empty"): the leaf it issued directly (depth 0), and
    an intermediate below it (depth 1). The CA's own empty-subject rule stays as defence in
    depth; this refusal comes first."""
    inter_kw = {"name": x509.Name([]), "san": [DNS("ca.example")], "san_critical": True}
    check3(R.INVALID_EXTENSION, 0, inter_kw=inter_kw)
    root, inter, _ = three(inter_kw=inter_kw)
    below = pki.intermediate(inter, "Below Empty CA")
    leaf = pki.leaf(below)
    r = run_verify(make_verifier(root), [leaf, below, inter])
    assert_result(r, R.INVALID_EXTENSION, 1)


def test_self_issued_certificate_without_aki_must_be_self_signed() -> None:
    """RFC 5280 4.2.1.1: only a self-signed certificate may omit authorityKeyIdentifier. A leaf
    named like its issuer (self-issued) but signed by the issuer's key, without an AKI, is
    refused; so is a key-rollover intermediate without one. A self-signed leaf still reads
    "self signed certificate" (test_self_signed_leaf)."""
    root, inter, _ = three()
    leaf = pki.leaf(inter, inter.cert.subject, aki=False)
    assert_result(run_verify(make_verifier(root), [leaf, inter]), R.INVALID_EXTENSION, 0)
    assert_result(run_verify(make_verifier(root), [pki.leaf(inter, inter.cert.subject), inter]),
                  R.OK, None)  # fmt: skip
    rollover = pki.intermediate(inter, inter.cert.subject, aki=False)
    leaf = pki.leaf(rollover)
    assert_result(run_verify(make_verifier(root), [leaf, rollover, inter]),
                  R.INVALID_EXTENSION, 1)  # fmt: skip
    rollover = pki.intermediate(inter, inter.cert.subject)
    leaf = pki.leaf(rollover)
    assert_result(run_verify(make_verifier(root), [leaf, rollover, inter]), R.OK, None)


def test_empty_subject_without_san() -> None:
    """An empty subject with no subjectAltName at all is refused."""
    check3(R.INVALID_EXTENSION, 0, leaf_kw={"name": x509.Name([]), "san": None})



def _constructed(text: bytes) -> bytes:
    """A UTF8String in BER's constructed form: two OCTET STRING pieces."""
    from der import enc

    return enc(0x2C, enc(0x04, text[:2]) + enc(0x04, text[2:]))


@pytest.mark.parametrize("where", ["subject-o", "subject-cn", "san-dirname"])
def test_constructed_strings_are_refused(where: str) -> None:
    """A Name attribute value in constructed form ("Ev" + "il": BER, not DER) prints as its
    joined text (OpenSSL joins it) but compared as other bytes, so an excluded O=Evil, or a
    hostname CN under an excluded dNSName, escaped the constraint. Such a value is refused where
    names are read: in the subject (a malformed certificate) and in a SAN directoryName (an
    invalid extension)."""
    from der import enc, header, seq

    o_oid, cn_oid = enc(0x06, b"\x55\x04\x0a"), enc(0x06, b"\x55\x04\x03")
    root = pki.ca("Constructed Root", name_constraints=(None, [
        DNS("evil.com"), DIRN(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Evil")]))]))
    if where == "san-dirname":
        dn = seq(enc(0x31, seq(o_oid, _constructed(b"Evil"))))
        san = x509.UnrecognizedExtension(x509.ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
                                         seq(enc(0xA4, dn)))  # fmt: skip
        leaf = pki.leaf(root, "client", san=None, extra_extensions=[(san, False)])
        expected = R.INVALID_EXTENSION
    else:
        o = _constructed(b"Evil") if where == "subject-o" else enc(0x0C, b"Good")
        cn = _constructed(b"x.evil.com") if where == "subject-cn" else enc(0x0C, b"client")
        subject = seq(enc(0x31, seq(o_oid, o)), enc(0x31, seq(cn_oid, cn)))
        leaf = pki.leaf(root, "PLACEHOLDER", san=[EMAIL("a@good.com")])
        old = leaf.cert.subject.public_bytes()

        def swap(tbs: bytes) -> bytes:
            _, hl, _ = header(tbs, 0)
            assert tbs.count(old) == 1
            return enc(0x30, tbs[hl:].replace(old, subject, 1))

        leaf = pki.resign(leaf, root.key, swap)
        expected = R.MALFORMED_CERT
    r = make_verifier(root).verify([leaf.der], at=pki.NOW)
    assert r.reason == expected, r.status
