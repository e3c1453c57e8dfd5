"""Encodings the certificate parser refuses, one field at a time.

Each case edits one field of a leaf's TBSCertificate (through the DER tree of ``tests/der.py``)
and signs it again with the root's key, so the signature is valid and the edit is the only thing
wrong. Every case has a control: the same construction without the edit verifies. The cases
were chosen from what ``tools/coverage.sh --lines`` showed no other test reaching in
csrc/fm_x509.c: signature AlgorithmIdentifier parameters (RFC 4055, RFC 5758, RFC 8410), public
key encodings (RFC 3279, RFC 8410), extension syntax (RFC 5280 4.2) and TBSCertificate structure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import der
import pki
import pytest
from crls import der_integer, der_oid, enc
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from der import NULL, Node, seq
from helpers import make_verifier, run_verify

from fastmtls import Reason, TrustStore, Verifier

R = Reason
OID = {
    "rsa": "1.2.840.113549.1.1.1", "rsa-sha256": "1.2.840.113549.1.1.11",
    "pss": "1.2.840.113549.1.1.10", "mgf1": "1.2.840.113549.1.1.8",
    "sha1": "1.3.14.3.2.26", "sha256": "2.16.840.1.101.3.4.2.1", "sha384": "2.16.840.1.101.3.4.2.2",
    "ecdsa-sha256": "1.2.840.10045.4.3.2", "ed25519": "1.3.101.112", "ed448": "1.3.101.113",
    "ku": "2.5.29.15", "bc": "2.5.29.19", "nc": "2.5.29.30", "crldp": "2.5.29.31",
    "aia": "1.3.6.1.5.5.7.1.1", "ocsp": "1.3.6.1.5.5.7.48.1", "san": "2.5.29.17",
    "ns-cert-type": "2.16.840.1.113730.1.1", "ip-addr": "1.3.6.1.5.5.7.1.7",
    "as-ids": "1.3.6.1.5.5.7.1.8", "proxy": "1.3.6.1.5.5.7.1.14",
}  # fmt: skip
# TBSCertificate children, v3: version, serial, signature, issuer, validity, subject, spki, [3]
VERSION, SERIAL, SIG_ALG, ISSUER, VALIDITY, SUBJECT, SPKI, EXTS = range(8)



def hash_alg(name: str, params: bytes = NULL) -> bytes:
    return seq(der_oid(OID[name]), params)


def pss_alg(hash: str = "sha256", mgf_hash: str = "sha256", salt: int | None = 32,
            trailer: int | None = None, *, extra: bytes = b"", hash_der: bytes | None = None,
            mgf_der: bytes | None = None) -> bytes:
    """id-RSASSA-PSS with RSASSA-PSS-params (RFC 4055 3.1), each field overridable."""
    fields = enc(0xA0, hash_der if hash_der is not None else hash_alg(hash))
    fields += enc(0xA1, mgf_der if mgf_der is not None
                  else seq(der_oid(OID["mgf1"]), hash_alg(mgf_hash)))  # fmt: skip
    if salt is not None:
        fields += enc(0xA2, der_integer(salt))
    if trailer is not None:
        fields += enc(0xA3, der_integer(trailer))
    return seq(der_oid(OID["pss"]), seq(fields + extra))


# --- building the edited leaf ------------------------------------------------------------------

Edit = Callable[[Node], None]


@dataclass(frozen=True)
class Case:
    """A leaf edit under a root of ``root_key``; ``alg`` replaces the signature
    AlgorithmIdentifier (inside and outside the TBS), ``pss`` signs with RSASSA-PSS and that
    salt length; ``want`` is the reason the edited leaf fails with."""

    edit: Edit | None
    want: Reason
    root_key: pki.KeyType = "p256"
    leaf_key: pki.KeyType = "p256"
    alg: bytes | None = None
    pss: int | None = None


_roots: dict[str, pki.Cert] = {}


def _root(kind: pki.KeyType) -> pki.Cert:
    if kind not in _roots:
        _roots[kind] = pki.ca(f"Reject Root {kind}", key=kind)
    return _roots[kind]


def _sign(tbs: bytes, key: pki.PrivateKey, pss: int | None) -> bytes:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(tbs)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(tbs, ec.ECDSA(hashes.SHA256()))
    assert isinstance(key, rsa.RSAPrivateKey)
    pad: padding.AsymmetricPadding = padding.PKCS1v15()
    if pss is not None:
        pad = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=pss)
    return key.sign(tbs, pad, hashes.SHA256())


def build(case: Case, *, edited: bool) -> bytes:
    """The leaf's DER: issued by the root, then (edited or not) re-signed by it."""
    root = _root(case.root_key)
    leaf = pki.leaf(root, key=case.leaf_key)
    cert = der.parse(leaf.der)
    tbs = cert[0]
    if case.alg is not None:
        tbs.children[SIG_ALG] = der.parse(case.alg)
    if edited and case.edit is not None:
        case.edit(tbs)
    alg = tbs[SIG_ALG if tbs[0].tag == 0xA0 else SIG_ALG - 1].der  # v1 edits drop the version
    sig = _sign(tbs.der, root.key, case.pss)
    return seq(tbs.der, alg, enc(0x03, b"\x00" + sig))


def verify(case: Case, leaf_der: bytes) -> Reason:
    v = make_verifier(_root(case.root_key).der, purpose="any")
    return run_verify(v, [leaf_der]).reason


# --- edits -------------------------------------------------------------------------------------

def set_alg(alg: bytes) -> Edit:
    def edit(tbs: Node) -> None:
        tbs.children[SIG_ALG] = der.raw(alg)
    return edit


def extension(tbs: Node, oid: str) -> Node:
    """The Extension SEQUENCE of ``oid`` (appended, non-critical, when the leaf has none)."""
    exts = tbs[EXTS][0]
    want = der_oid(oid)
    for ext in exts.children:
        if ext[0].der == want:
            return ext
    ext = der.parse(seq(want, enc(0x04, NULL)))
    exts.children.append(ext)
    return ext


def set_ext(oid: str, value: bytes) -> Edit:
    """Extension ``oid`` with extnValue content ``value`` (verbatim DER, possibly malformed)."""
    def edit(tbs: Node) -> None:
        extension(tbs, oid).children[-1] = Node(0x04, value)
    return edit


def set_spki(alg: bytes, key: bytes | None = None, *, key_suffix: bytes = b"") -> Edit:
    """SubjectPublicKeyInfo with AlgorithmIdentifier ``alg`` and key bits ``key`` (default: the
    leaf's own, followed by ``key_suffix``)."""
    def edit(tbs: Node) -> None:
        spki = tbs[SPKI]
        bits = spki[1].content
        assert isinstance(bits, bytes)
        new = key if key is not None else bits[1:] + key_suffix
        spki.content = [der.raw(alg), Node(0x03, b"\x00" + new)]
    return edit


def rsa_key_with_suffix(tbs: Node) -> None:
    """The RSAPublicKey SEQUENCE followed by one more element inside the BIT STRING."""
    set_spki(seq(der_oid(OID["rsa"]), NULL), key_suffix=NULL)(tbs)


def pss_spki(tbs: Node) -> None:
    """An id-RSASSA-PSS subjectPublicKeyInfo (RFC 4055 1.2) around the leaf's RSA key."""
    set_spki(seq(der_oid(OID["pss"])))(tbs)


def subject_oid_empty(tbs: Node) -> None:
    """The subject's first AttributeTypeAndValue with a zero-length OID."""
    tbs[SUBJECT][0][0].children[0] = Node(0x06, b"")


def subject_value(tag: int, content: bytes, field: int = SUBJECT) -> Edit:
    """The first attribute value of the subject (or ``field``) as ``tag`` + ``content``."""
    def edit(tbs: Node) -> None:
        tbs[field][0][0].children[1] = Node(tag, content)
    return edit


def subject_oid(content: bytes) -> Edit:
    """The subject's first attribute type OID with content octets ``content``."""
    def edit(tbs: Node) -> None:
        tbs[SUBJECT][0][0].children[0] = Node(0x06, content)
    return edit


def set_serial(content: bytes) -> Edit:
    """The serialNumber INTEGER with content octets ``content`` (verbatim)."""
    def edit(tbs: Node) -> None:
        tbs.children[SERIAL] = Node(0x02, content)
    return edit


def version_with_extra(tbs: Node) -> None:
    tbs[VERSION].children.append(Node(0x05, b""))


def empty_extensions(tbs: Node) -> None:
    tbs[EXTS].children[0] = Node(0x30, [])


def extensions_with_extra(tbs: Node) -> None:
    tbs[EXTS].children.append(Node(0x05, b""))


def v1_with_issuer_unique_id(tbs: Node) -> None:
    """No version (v1), no extensions, an issuerUniqueID (RFC 5280 4.1.2.8: v2 or v3 only)."""
    del tbs.children[EXTS]
    del tbs.children[VERSION]
    tbs.children.append(Node(0x81, b"\x00\x01"))


def v1_truncated_unique_id(tbs: Node) -> None:
    """A v1 certificate ending in an issuerUniqueID whose length runs past the TBS."""
    v1_plain(tbs)
    tbs.children.append(der.verbatim(truncated(0x81)))


def v1_plain(tbs: Node) -> None:
    del tbs.children[EXTS]
    del tbs.children[VERSION]


def private_extensions(n: int) -> Edit:
    """Exactly ``n`` distinct extensions: the leaf's own, then private non-critical ones."""
    def edit(tbs: Node) -> None:
        exts = tbs[EXTS][0].children
        k = 0
        while len(exts) < n:
            exts.append(der.parse(seq(der_oid(f"1.3.6.1.4.1.55555.9.{k}"), enc(0x04, NULL))))
            k += 1
        assert len(exts) == n
    return edit


def v1_with_extensions(tbs: Node) -> None:
    """No version (v1) but extensions (RFC 5280 4.1.2.9: v3 only)."""
    del tbs.children[VERSION]


def truncated(tag: int) -> bytes:
    """A TLV of ``tag`` whose length runs past its parent's end."""
    return bytes([tag, 0x05, 0x00])


def pss_raw(fields: bytes) -> bytes:
    """id-RSASSA-PSS with the RSASSA-PSS-params content ``fields`` verbatim."""
    return seq(der_oid(OID["pss"]), enc(0x30, fields))


def crldp(*dps: bytes) -> Edit:
    return set_ext(OID["crldp"], seq(*dps))


URI = enc(0x86, b"http://crl.example/ca.crl")
DP_OK = seq(enc(0xA0, enc(0xA0, URI)))
RDN_OK = seq(der_oid("2.5.4.3"), enc(0x0C, b"part1"))
UTF8_PARTY = enc(0x0C, b"party")
AFI_V4 = enc(0x04, b"\x00\x01")

# Every case's control (the same construction without the edit) verifies: test_control.
SIG_ALG_CASES = {
    # RFC 4055 3.1 parameters: only SHA-2 with MGF1 over the same hash and trailerField 1
    "pss-absent-params": Case(set_alg(seq(der_oid(OID["pss"]))), R.UNSUPPORTED_SIGNATURE_ALGORITHM,
                              "rsa2048", alg=pss_alg(), pss=32),
    "pss-params-null": Case(set_alg(seq(der_oid(OID["pss"]), NULL)),
                            R.UNSUPPORTED_SIGNATURE_ALGORITHM, "rsa2048", alg=pss_alg(), pss=32),
    "pss-all-defaults-sha1": Case(set_alg(seq(der_oid(OID["pss"]), seq())),
                                  R.UNSUPPORTED_SIGNATURE_ALGORITHM, "rsa2048", alg=pss_alg(),
                                  pss=32),
    "pss-sha1": Case(set_alg(pss_alg("sha1", "sha1", 20)), R.UNSUPPORTED_SIGNATURE_ALGORITHM,
                     "rsa2048", alg=pss_alg(), pss=32),
    "pss-mgf1-hash-differs": Case(set_alg(pss_alg("sha256", "sha384")),
                                  R.UNSUPPORTED_SIGNATURE_ALGORITHM, "rsa2048", alg=pss_alg(),
                                  pss=32),
    "pss-mgf-not-mgf1": Case(set_alg(pss_alg(mgf_der=seq(der_oid(OID["sha256"]),
                                                         hash_alg("sha256")))),
                             R.UNSUPPORTED_SIGNATURE_ALGORITHM, "rsa2048", alg=pss_alg(), pss=32),
    "pss-mgf1-hash-params-bad": Case(
        set_alg(pss_alg(mgf_der=seq(der_oid(OID["mgf1"]), hash_alg("sha256", b"\x01\x01\xff")))),
        R.UNSUPPORTED_SIGNATURE_ALGORITHM, "rsa2048", alg=pss_alg(), pss=32),
    "pss-mgf1-extra": Case(
        set_alg(pss_alg(mgf_der=seq(der_oid(OID["mgf1"]), hash_alg("sha256"), NULL))),
        R.UNSUPPORTED_SIGNATURE_ALGORITHM, "rsa2048", alg=pss_alg(), pss=32),
    "pss-hash-params-not-null": Case(set_alg(pss_alg(hash_der=hash_alg("sha256", b"\x02\x01\x00"))),
                                     R.UNSUPPORTED_SIGNATURE_ALGORITHM, "rsa2048", alg=pss_alg(),
                                     pss=32),
    "pss-hash-field-extra": Case(set_alg(pss_alg(hash_der=hash_alg("sha256") + NULL)),
                                 R.UNSUPPORTED_SIGNATURE_ALGORITHM, "rsa2048", alg=pss_alg(),
                                 pss=32),
    "pss-trailer-2": Case(set_alg(pss_alg(trailer=2)), R.UNSUPPORTED_SIGNATURE_ALGORITHM,
                          "rsa2048", alg=pss_alg(), pss=32),
    "pss-salt-1025": Case(set_alg(pss_alg(salt=1025)), R.UNSUPPORTED_SIGNATURE_ALGORITHM,
                          "rsa2048", alg=pss_alg(), pss=32),
    "pss-salt-negative": Case(set_alg(pss_alg(salt=-1)), R.UNSUPPORTED_SIGNATURE_ALGORITHM,
                              "rsa2048", alg=pss_alg(), pss=32),
    "pss-unknown-field": Case(set_alg(pss_alg(extra=enc(0xA4, NULL))),
                              R.UNSUPPORTED_SIGNATURE_ALGORITHM, "rsa2048", alg=pss_alg(), pss=32),
    "pss-mgf-field-extra": Case(
        set_alg(pss_raw(enc(0xA0, hash_alg("sha256"))
                        + enc(0xA1, seq(der_oid(OID["mgf1"]), hash_alg("sha256")) + NULL))),
        R.UNSUPPORTED_SIGNATURE_ALGORITHM, "rsa2048", alg=pss_alg(), pss=32),
    "pss-trailer-field-extra": Case(
        set_alg(pss_raw(enc(0xA0, hash_alg("sha256"))
                        + enc(0xA1, seq(der_oid(OID["mgf1"]), hash_alg("sha256")))
                        + enc(0xA2, der_integer(32)) + enc(0xA3, der_integer(1) + NULL))),
        R.UNSUPPORTED_SIGNATURE_ALGORITHM, "rsa2048", alg=pss_alg(), pss=32),
    **{f"pss-field-{n}-truncated": Case(
        set_alg(pss_raw(b"".join(enc(0xA0 + k, f) for k, f in enumerate(
            [hash_alg("sha256"), seq(der_oid(OID["mgf1"]), hash_alg("sha256")),
             der_integer(32)][:n])) + truncated(0xA0 + n))),
        R.UNSUPPORTED_SIGNATURE_ALGORITHM, "rsa2048", alg=pss_alg(), pss=32) for n in range(4)},
    "pss-fields-out-of-order": Case(
        set_alg(seq(der_oid(OID["pss"]), seq(enc(0xA2, der_integer(32)),
                                             enc(0xA0, hash_alg("sha256"))))),
        R.UNSUPPORTED_SIGNATURE_ALGORITHM, "rsa2048", alg=pss_alg(), pss=32),
    # RFC 4055 5: NULL parameters for PKCS#1 v1.5; RFC 5758 3.2 / RFC 8410 3: absent for ECDSA
    # and Ed25519
    "rsa-params-integer": Case(set_alg(seq(der_oid(OID["rsa-sha256"]), der_integer(0))),
                               R.UNSUPPORTED_SIGNATURE_ALGORITHM, "rsa2048"),
    "ecdsa-params-null": Case(set_alg(seq(der_oid(OID["ecdsa-sha256"]), NULL)),
                              R.UNSUPPORTED_SIGNATURE_ALGORITHM, "p256"),
    "ed25519-params-null": Case(set_alg(seq(der_oid(OID["ed25519"]), NULL)),
                                R.UNSUPPORTED_SIGNATURE_ALGORITHM, "ed25519"),
    "algorithm-identifier-extra-element": Case(
        set_alg(seq(der_oid(OID["rsa-sha256"]), NULL, NULL)), R.MALFORMED_CERT, "rsa2048"),
}

SPKI_CASES = {
    "rsa-key-extra-element": Case(rsa_key_with_suffix, R.MALFORMED_CERT, leaf_key="rsa2048"),
    "rsa-modulus-zero": Case(set_spki(seq(der_oid(OID["rsa"]), NULL),
                                      seq(der_integer(0), der_integer(65537))),
                             R.MALFORMED_CERT, leaf_key="rsa2048"),
    "spki-algorithm-extra-element": Case(set_spki(seq(der_oid(OID["rsa"]), NULL, NULL)),
                                         R.MALFORMED_CERT, leaf_key="rsa2048"),
    "ed25519-key-params-null": Case(set_spki(seq(der_oid(OID["ed25519"]), NULL)),
                                    R.MALFORMED_CERT, leaf_key="ed25519"),
    "ed25519-key-31-octets": Case(set_spki(seq(der_oid(OID["ed25519"])), bytes(31)),
                                  R.MALFORMED_CERT, leaf_key="ed25519"),
    "ed448-key-56-octets": Case(set_spki(seq(der_oid(OID["ed448"])), bytes(56)),
                                R.MALFORMED_CERT, leaf_key="ed25519"),
    "ed448-key": Case(set_spki(seq(der_oid(OID["ed448"])), bytes(57)), R.UNSUPPORTED_KEY,
                      leaf_key="ed25519"),
    "rsa-pss-key": Case(pss_spki, R.UNSUPPORTED_KEY, leaf_key="rsa2048"),
    "rsa-pss-key-not-rsa": Case(set_spki(seq(der_oid(OID["pss"])), bytes(32)), R.MALFORMED_CERT,
                                leaf_key="rsa2048"),
}

# Attribute values OpenSSL's X509_NAME decoder refuses (ASN1_PRINTABLE, x509_name_canon): OpenSSL
# cannot load such a certificate, nor print its names (fields() would be empty for a verified
# one). fm_name_atv_ok.
NAME_VALUE_CASES = {
    "subject-visible-string": Case(subject_value(0x1A, b"visible"), R.MALFORMED_CERT),
    "subject-general-string": Case(subject_value(0x1B, b"general"), R.MALFORMED_CERT),
    "subject-graphic-string": Case(subject_value(0x19, b"graphic"), R.MALFORMED_CERT),
    "subject-videotex-string": Case(subject_value(0x15, b"videotex"), R.MALFORMED_CERT),
    "subject-integer": Case(subject_value(0x02, b"\x05"), R.MALFORMED_CERT),
    "subject-null": Case(subject_value(0x05, b""), R.MALFORMED_CERT),
    "subject-octet-string": Case(subject_value(0x04, b"abc"), R.MALFORMED_CERT),
    "subject-utctime": Case(subject_value(0x17, b"250101000000Z"), R.MALFORMED_CERT),
    "subject-context-tag": Case(subject_value(0x80, b"abc"), R.MALFORMED_CERT),
    "subject-utf8-overlong": Case(subject_value(0x0C, b"a\xc0\x80b"), R.MALFORMED_CERT),
    "subject-utf8-surrogate": Case(subject_value(0x0C, b"\xed\xa0\x80"), R.MALFORMED_CERT),
    "subject-utf8-past-10ffff": Case(subject_value(0x0C, b"\xf4\x90\x80\x80"),
                                     R.MALFORMED_CERT),
    "subject-utf8-cut-short": Case(subject_value(0x0C, b"ab\xe2\x82"), R.MALFORMED_CERT),
    "subject-utf8-lone-continuation": Case(subject_value(0x0C, b"\x80"), R.MALFORMED_CERT),
    "subject-bmp-odd-length": Case(subject_value(0x1E, b"\x00a\x00"), R.MALFORMED_CERT),
    "subject-bmp-surrogate": Case(subject_value(0x1E, b"\x00a\xd8\x00"), R.MALFORMED_CERT),
    "subject-universal-past-10ffff": Case(subject_value(0x1C, b"\x00\x11\x00\x00"),
                                          R.MALFORMED_CERT),
    "subject-universal-length-3": Case(subject_value(0x1C, b"\x00\x00a"), R.MALFORMED_CERT),
    "subject-bit-string-empty": Case(subject_value(0x03, b""), R.MALFORMED_CERT),
    "subject-bit-string-8-unused": Case(subject_value(0x03, b"\x08\xff"), R.MALFORMED_CERT),
    "subject-oid-last-octet-continues": Case(subject_oid(b"\x55\x04\x83"), R.MALFORMED_CERT),
    "subject-oid-subidentifier-0x80": Case(subject_oid(b"\x55\x80\x04"), R.MALFORMED_CERT),
    "issuer-visible-string": Case(subject_value(0x1A, b"x", field=ISSUER), R.MALFORMED_CERT),
}  # fmt: skip

# ... and values it takes, printed as OpenSSL prints them.
NAME_VALUE_ACCEPTED = {
    "numeric-string-of-letters": subject_value(0x12, b"Evil"),
    "t61-string-latin-1": subject_value(0x14, b"caf\xe9"),
    "utf8-four-octets": subject_value(0x0C, b"\xf0\x9f\x94\x91 key"),
    "bmp-non-ascii": subject_value(0x1E, "K\u00f6ln".encode("utf-16-be")),
    "universal": subject_value(0x1C, "K\u00f6ln \U0001f511".encode("utf-32-be")),
    "bit-string": subject_value(0x03, b"\x04\xf0"),
    "object-descriptor": subject_value(0x07, b"desc"),
    "printable-empty": subject_value(0x13, b""),
}


@pytest.mark.parametrize("name", sorted(NAME_VALUE_ACCEPTED))
def test_name_values_openssl_takes_are_accepted(name: str) -> None:
    """Values of every type OpenSSL's name decoder takes verify, and their DNs print."""
    case = Case(NAME_VALUE_ACCEPTED[name], R.OK)
    der = build(case, edited=True)
    assert verify(case, der) == R.OK
    store = TrustStore()
    store.add_der(_root(case.root_key).der, name="root")
    fields = Verifier(store, purpose="any").verify([der], at=pki.NOW).fields()
    assert fields["cert_subject_dn"] and fields["cert_subject_dn_legacy"]


STRUCTURE_CASES = {
    "subject-attribute-empty-oid": Case(subject_oid_empty, R.MALFORMED_CERT),
    # X.690 8.3.2: an INTEGER in the fewest octets
    "serial-non-minimal": Case(set_serial(b"\x00\x01\x02"), R.MALFORMED_CERT),
    "serial-non-minimal-negative": Case(set_serial(b"\xff\x80"), R.MALFORMED_CERT),
    "serial-empty": Case(set_serial(b""), R.MALFORMED_CERT),
    "version-extra-element": Case(version_with_extra, R.MALFORMED_CERT),
    "extensions-empty": Case(empty_extensions, R.MALFORMED_CERT),
    "extensions-extra-element": Case(extensions_with_extra, R.MALFORMED_CERT),
    # its v1 twin without the identifier fails only for being v1: test_v1_twin_is_refused_as_v1
    "v1-issuer-unique-id": Case(v1_with_issuer_unique_id, R.MALFORMED_CERT),
    "v1-issuer-unique-id-truncated": Case(v1_truncated_unique_id, R.MALFORMED_CERT),
    "v1-with-extensions": Case(v1_with_extensions, R.INVALID_VERSION),
    "65-extensions": Case(private_extensions(65), R.INVALID_EXTENSION),
}

EXTENSION_CASES = {
    "key-usage-extra-element": Case(set_ext(OID["ku"], enc(0x03, b"\x07\x80") + NULL),
                                    R.INVALID_EXTENSION),
    # 4.2.1.9 BasicConstraints: DER BOOLEAN, non-negative pathLenConstraint
    "basic-constraints-boolean-01": Case(set_ext(OID["bc"], seq(b"\x01\x01\x01")),
                                         R.INVALID_EXTENSION),
    "basic-constraints-pathlen-negative": Case(set_ext(OID["bc"], seq(der_integer(-1))),
                                               R.INVALID_EXTENSION),
    "basic-constraints-pathlen-truncated": Case(set_ext(OID["bc"], enc(0x30, truncated(0x02))),
                                                R.INVALID_EXTENSION),
    "name-constraints-extra-element": Case(
        set_ext(OID["nc"], seq(enc(0xA0, seq(enc(0x82, b"example.com")))) + NULL),
        R.INVALID_EXTENSION),
    # 4.2.1.13 CRLDistributionPoints
    "crldp-full-name-empty": Case(crldp(seq(enc(0xA0, enc(0xA0, b"")))), R.INVALID_EXTENSION),
    "crldp-full-name-universal-tag": Case(crldp(seq(enc(0xA0, enc(0xA0, enc(0x16, b"x"))))),
                                          R.INVALID_EXTENSION),
    "crldp-full-name-tag-9": Case(crldp(seq(enc(0xA0, enc(0xA0, enc(0x89, b"x"))))),
                                  R.INVALID_EXTENSION),
    "crldp-name-tag-2": Case(crldp(seq(enc(0xA0, enc(0xA2, URI)))), R.INVALID_EXTENSION),
    "crldp-relative-empty": Case(crldp(seq(enc(0xA0, enc(0xA1, b"")))), R.INVALID_EXTENSION),
    "crldp-relative-not-sequence": Case(crldp(seq(enc(0xA0, enc(0xA1, enc(0x04, b""))))),
                                        R.INVALID_EXTENSION),
    "crldp-relative-empty-oid": Case(
        crldp(seq(enc(0xA0, enc(0xA1, seq(enc(0x06, b""), enc(0x0C, b"x")))))),
        R.INVALID_EXTENSION),
    "crldp-relative-extra": Case(crldp(seq(enc(0xA0, enc(0xA1, RDN_OK + NULL)))),
                                 R.INVALID_EXTENSION),
    "crldp-name-extra-element": Case(crldp(seq(enc(0xA0, enc(0xA0, URI) + NULL))),
                                     R.INVALID_EXTENSION),
    "crldp-reasons-truncated": Case(crldp(enc(0x30, enc(0xA0, enc(0xA0, URI)) + truncated(0x81))),
                                    R.INVALID_EXTENSION),
    # reasons [1] ReasonFlags: a DER BIT STRING of nine named bits
    "crldp-reasons-eight-unused-bits": Case(crldp(seq(enc(0xA0, enc(0xA0, URI)),
                                                      enc(0x81, b"\x08\x40"))),
                                            R.INVALID_EXTENSION),
    "crldp-point-not-sequence": Case(crldp(enc(0x04, b"")), R.INVALID_EXTENSION),
    "crldp-point-truncated-name": Case(crldp(enc(0x30, b"\xa0\x05\x00")), R.INVALID_EXTENSION),
    "crldp-point-reasons-only": Case(crldp(seq(enc(0x81, b"\x05\xa0"))), R.INVALID_EXTENSION),
    "crldp-point-extra-element": Case(crldp(seq(enc(0xA0, enc(0xA0, URI)), NULL)),
                                      R.INVALID_EXTENSION),
    # 4.2.2.1 AuthorityInfoAccess: SEQUENCE OF { accessMethod, accessLocation GeneralName }
    "aia-description-not-sequence": Case(set_ext(OID["aia"], seq(enc(0x04, b""))),
                                         R.INVALID_EXTENSION),
    "aia-location-not-general-name": Case(
        set_ext(OID["aia"], seq(seq(der_oid(OID["ocsp"]), enc(0x16, b"http://ocsp")))),
        R.INVALID_EXTENSION),
    # Extensions OpenSSL decodes for every certificate (and refuses it as invalid when one does
    # not decode), though fastmtls does not use them: their structure is checked
    "crldp-relative-integer-value": Case(
        crldp(seq(enc(0xA0, enc(0xA1, seq(der_oid("2.5.4.3"), der_integer(1)))))),
        R.INVALID_EXTENSION),
    "san-edi-party-integer": Case(set_ext(OID["san"], seq(enc(0xA5, enc(0xA1, der_integer(1))))),
                                  R.INVALID_EXTENSION),
    "san-edi-assigner-integer": Case(
        set_ext(OID["san"], seq(enc(0xA5, enc(0xA0, der_integer(1)) + enc(0xA1, UTF8_PARTY)))),
        R.INVALID_EXTENSION),
    "crldp-relative-bmp-odd": Case(
        crldp(seq(enc(0xA0, enc(0xA1, seq(der_oid("2.5.4.10"), enc(0x1E, b"abc")))))),
        R.INVALID_EXTENSION),
    "san-edi-party-bmp-odd": Case(set_ext(OID["san"], seq(enc(0xA5, enc(0xA1, enc(0x1E, b"abc"))))),
                                  R.INVALID_EXTENSION),
    "ns-cert-type-integer": Case(set_ext(OID["ns-cert-type"], der_integer(5)), R.INVALID_EXTENSION),
    "ns-cert-type-nine-unused-bits": Case(set_ext(OID["ns-cert-type"], enc(0x03, b"\x08\x80")),
                                          R.INVALID_EXTENSION),
    "ip-addr-blocks-null": Case(set_ext(OID["ip-addr"], NULL), R.INVALID_EXTENSION),
    "ip-addr-blocks-integer-choice": Case(
        set_ext(OID["ip-addr"], seq(seq(AFI_V4, der_integer(1)))), R.INVALID_EXTENSION),
    "ip-addr-blocks-range-of-one": Case(
        set_ext(OID["ip-addr"], seq(seq(AFI_V4, seq(seq(enc(0x03, b"\x00\x0a")))))),
        R.INVALID_EXTENSION),
    "as-ids-octet-string-choice": Case(set_ext(OID["as-ids"], seq(enc(0xA0, enc(0x04, b"x")))),
                                       R.INVALID_EXTENSION),
    "as-ids-non-minimal-integer": Case(
        set_ext(OID["as-ids"], seq(enc(0xA0, seq(enc(0x02, b"\x00\x05"))))), R.INVALID_EXTENSION),
    "as-ids-tag-2": Case(set_ext(OID["as-ids"], seq(enc(0xA2, NULL))), R.INVALID_EXTENSION),
    "proxy-cert-info-null": Case(set_ext(OID["proxy"], NULL), R.INVALID_EXTENSION),
    "proxy-cert-info-policy-not-oid": Case(
        set_ext(OID["proxy"], seq(seq(enc(0x04, b"x")))), R.INVALID_EXTENSION),
}

ALL = {**SIG_ALG_CASES, **SPKI_CASES, **STRUCTURE_CASES, **EXTENSION_CASES, **NAME_VALUE_CASES}


@pytest.mark.parametrize("name", sorted(ALL))
def test_rejected(name: str) -> None:
    case = ALL[name]
    assert verify(case, build(case, edited=True)) == case.want


@pytest.mark.parametrize("name", sorted(ALL))
def test_control(name: str) -> None:
    case = ALL[name]
    assert verify(case, build(case, edited=False)) == R.OK


# Encodings DER rules out but OpenSSL and pyca/cryptography read, with no effect on what the
# extension says: refusing them would only refuse clients of CAs with lax encoders.
LAX_CASES = {
    # X.690 11.2.2 drops trailing zero bits; an encoder writing both KeyUsage octets does not
    "key-usage-trailing-zero-octet": Case(set_ext(OID["ku"], enc(0x03, b"\x00\x80\x00")), R.OK),
    "key-usage-two-trailing-zero-octets": Case(set_ext(OID["ku"], enc(0x03, b"\x00\x80\x00\x00")),
                                               R.OK),
    "crldp-reasons-trailing-zero-octet": Case(crldp(seq(enc(0xA0, enc(0xA0, URI)),
                                                        enc(0x81, b"\x00\x40\x00"))), R.OK),
    # bits past the nine named ones: valid DER naming nothing, which OpenSSL and
    # pyca/cryptography read (refused before, the leaf's SKI then showed nowhere)
    "key-usage-three-octets": Case(set_ext(OID["ku"], enc(0x03, b"\x07\x80\x00\x80")), R.OK),
    "key-usage-five-octets": Case(set_ext(OID["ku"], enc(0x03, b"\x00\x80\x00\x00\x00\x01")),
                                  R.OK),
    "crldp-reasons-three-octets": Case(crldp(seq(enc(0xA0, enc(0xA0, URI)),
                                                 enc(0x81, b"\x07\x40\x00\x80"))), R.OK),
    # the extensions OpenSSL decodes but fastmtls does not use, well formed (a BIT STRING's
    # unused bits OpenSSL masks rather than refuses)
    "crldp-relative-name": Case(crldp(seq(enc(0xA0, enc(0xA1, RDN_OK)))), R.OK),
    # a relative name's characters are not read by OpenSSL's decoder (a subject's are)
    "crldp-relative-name-bad-utf8": Case(
        crldp(seq(enc(0xA0, enc(0xA1, seq(der_oid("2.5.4.10"), enc(0x0C, b"\x80\xed\x80")))))),
        R.OK),
    "san-edi-party": Case(set_ext(OID["san"], seq(enc(0xA5, enc(0xA0, enc(0x13, b"a"))
                                                         + enc(0xA1, UTF8_PARTY)))), R.OK),
    "ns-cert-type": Case(set_ext(OID["ns-cert-type"], enc(0x03, b"\x07\x80")), R.OK),
    "ns-cert-type-padding-bits": Case(set_ext(OID["ns-cert-type"], enc(0x03, b"\x07\x81")), R.OK),
    "ip-addr-blocks": Case(set_ext(OID["ip-addr"], seq(
        seq(AFI_V4, NULL),
        seq(enc(0x04, b"\x00\x02\x01"), seq(enc(0x03, b"\x00\x20\x01"),
                                            seq(enc(0x03, b"\x00\x0a"), enc(0x03, b"\x04\xb0")))))),
                           R.OK),
    "as-ids": Case(set_ext(OID["as-ids"], seq(enc(0xA0, seq(der_integer(64512),
                                                         seq(der_integer(1), der_integer(5)))),
                                              enc(0xA1, NULL))), R.OK),
    "proxy-cert-info": Case(set_ext(OID["proxy"], seq(der_integer(0),
                                                      seq(der_oid("1.3.6.1.5.5.7.21.1")))), R.OK),
}


@pytest.mark.parametrize("name", sorted(LAX_CASES))
def test_lax_encodings_accepted(name: str) -> None:
    case = LAX_CASES[name]
    assert verify(case, build(case, edited=True)) == R.OK


def test_key_usage_trailing_zero_octets_still_name_no_bit() -> None:
    """Trailing zero octets name nothing: an intermediate whose KeyUsage is cRLSign only,
    spelled with a trailing zero octet, has no keyCertSign and cannot issue."""
    root = _root("p256")
    inter = pki.intermediate(root, "Lax KU CA")
    leaf = pki.leaf(inter)

    def lax_ku(tbs: bytes) -> bytes:
        t = der.parse(tbs)
        extension(t, OID["ku"]).children[-1] = Node(0x04, enc(0x03, b"\x01\x02\x00"))
        return t.der

    bad = pki.resign(inter, root.key, lax_ku)
    v = make_verifier(root.der, purpose="any")
    assert run_verify(v, [leaf.der, inter.der]).reason == R.OK
    res = run_verify(v, [leaf.der, bad.der])
    assert res.reason == R.KEYUSAGE_NO_CERTSIGN and res.depth == 1, res.status


@pytest.mark.parametrize("bits", [b"\x07\x00\x00\x80", b"\x00\x01\x00\x00\x00\x00\xff"])
def test_key_usage_bits_past_the_named_ones_grant_nothing(bits: bytes) -> None:
    """A KeyUsage whose only bits lie past decipherOnly (valid DER, read as OpenSSL reads it) has
    no keyCertSign: an intermediate with it cannot issue."""
    root = _root("p256")
    inter = pki.intermediate(root, "Unnamed KU bits CA")
    leaf = pki.leaf(inter)

    def ku(tbs: bytes) -> bytes:
        t = der.parse(tbs)
        extension(t, OID["ku"]).children[-1] = Node(0x04, enc(0x03, bits))
        return t.der

    bad = pki.resign(inter, root.key, ku)
    v = make_verifier(root.der, purpose="any")
    res = run_verify(v, [leaf.der, bad.der])
    assert res.reason == R.KEYUSAGE_NO_CERTSIGN and res.depth == 1, res.status


@pytest.mark.parametrize("path_len", [2**31 - 1, 2**31, 2**32, 2**64, 2**200])
def test_huge_path_length_is_no_limit(path_len: int) -> None:
    """pathLenConstraint is INTEGER (0..MAX): a value past 31 bits (OpenSSL and pyca/cryptography
    take it) is a bound no path reaches, not a malformed certificate; negative stays malformed."""
    root = _root("p256")
    top = pki.intermediate(root, "Huge PathLen CA")
    mid = pki.intermediate(top, "Under Huge PathLen CA")
    leaf = pki.leaf(mid)

    def set_len(n: int) -> Callable[[bytes], bytes]:
        def edit(tbs: bytes) -> bytes:
            t = der.parse(tbs)
            value = seq(b"\x01\x01\xff" + der_integer(n))
            extension(t, OID["bc"]).children[-1] = Node(0x04, value)
            return t.der
        return edit

    v = make_verifier(root.der, purpose="any")
    huge = pki.resign(top, root.key, set_len(path_len))
    assert run_verify(v, [leaf.der, mid.der, huge.der]).reason == R.OK
    negative = pki.resign(top, root.key, set_len(-1))
    assert run_verify(v, [leaf.der, mid.der, negative.der]).reason != R.OK
    zero = pki.resign(top, root.key, set_len(0))
    res = run_verify(v, [leaf.der, mid.der, zero.der])
    assert res.reason == R.PATH_LENGTH_EXCEEDED, res.status


def test_v1_twin_is_refused_as_v1() -> None:
    """v1-issuer-unique-id without the identifier: a well-formed v1 certificate, refused for
    its version only (fastmtls accepts v3), so the identifier is what makes the case malformed."""
    case = Case(v1_plain, R.INVALID_VERSION)
    assert verify(case, build(case, edited=True)) == R.INVALID_VERSION


def test_64_extensions_accepted() -> None:
    """The bound on distinct extensions is 64: exactly 64 passes."""
    case = Case(private_extensions(64), R.OK)
    assert verify(case, build(case, edited=True)) == R.OK


@pytest.mark.parametrize("trailer", [None, 1])
@pytest.mark.parametrize("salt", [32, 20, 0])
def test_pss_parameters_accepted(salt: int, trailer: int | None) -> None:
    """RSASSA-PSS parameters written out at DEFAULT values (trailerField 1) and salt lengths
    other than the hash length verify (SECURITY.md), when the signature uses that salt."""
    case = Case(None, R.OK, "rsa2048", alg=pss_alg(salt=salt, trailer=trailer), pss=salt)
    assert verify(case, build(case, edited=False)) == R.OK


def test_pss_salt_must_match_signature() -> None:
    """The salt length in the parameters is the one the signature is checked with."""
    case = Case(None, R.OK, "rsa2048", alg=pss_alg(salt=20), pss=32)
    assert verify(case, build(case, edited=False)) == R.CERT_SIGNATURE_FAILURE


@pytest.mark.parametrize(("exponent", "odd_modulus"), [(1, True), (2, True), (65536, True),
                                                       (65537, False), (3, True), (65537, True)])
def test_issuer_rsa_key_that_cannot_be_one(exponent: int, odd_modulus: bool) -> None:
    """An issuer's RSA key must have an odd modulus and an odd exponent of at least 3 (SP 800-89
    5.3.3, RFC 8017 3.1). Under e = 1 a "signature" is the encoded message itself, so anyone can
    sign under such a key: a leaf "signed" that way verified (OpenSSL accepts it too;
    pyca/cryptography refuses the key; found by review). e = 3 is a key; the forgery fails."""
    root = _root("p256")
    real = pki.intermediate(root, "Exponent CA", key="rsa2048")
    n = real.key.public_key().public_numbers().n  # type: ignore[union-attr]
    n = n if odd_modulus else n + 1
    spki = seq(seq(der_oid(OID["rsa"]), NULL),
               enc(0x03, b"\x00" + seq(der_integer(n), der_integer(exponent))))

    def with_key(tbs_der: bytes) -> bytes:
        tbs = der.parse(tbs_der)
        tbs.children[SPKI] = der.raw(spki)
        return tbs.der

    inter = pki.resign(real, root.key, with_key)
    leaf = pki.leaf(real, "forged client")

    def forged(tbs: bytes) -> bytes:  # PKCS #1 v1.5 encoding of the TBS hash: its own e=1 power
        return tbs

    tbs, alg, _ = pki._split(pki.resign(leaf, real.key, forged).der)
    h = hashes.Hash(hashes.SHA256())
    h.update(tbs)
    digest_info = bytes.fromhex("3031300d060960864801650304020105000420") + h.finalize()
    em = b"\x00\x01" + b"\xff" * (256 - 3 - len(digest_info)) + b"\x00" + digest_info
    forged_leaf = enc(0x30, tbs + alg + enc(0x03, b"\x00" + em))
    res = run_verify(make_verifier(root.der), [forged_leaf, inter.der])
    assert not res.verified, res.status
    if exponent in (3, 65537) and odd_modulus:  # a key: the forgery fails its check
        assert res.reason == R.CERT_SIGNATURE_FAILURE and res.depth == 0, res.status
    else:  # the issuer key is refused
        assert res.reason == R.UNSUPPORTED_SIGNATURE_ALGORITHM and res.depth == 0, res.status
    if exponent == 65537 and odd_modulus:  # the control: the real key and a real signature
        assert run_verify(make_verifier(root.der), [leaf.der, inter.der]).verified
