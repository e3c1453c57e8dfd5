"""Hostile input: truncations, bit flips, garbage, oversized and deeply nested input, path-building
bombs, and concurrent use. A bad chain must always end as a clear ``FAILED:`` result, quickly,
without crashing and without ever verifying.

Wall-time assertions are generous hang guards, never performance claims; ``faulthandler`` dumps
every thread's stack if a test hangs.
"""

from __future__ import annotations

import faulthandler
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import openssl_ref
import pki
import pytest
from cryptography import x509
from cryptography.x509.oid import ObjectIdentifier
from helpers import make_verifier

from fastmtls import Limits, Reason, TrustStore, Verifier, VerifyResult

R = Reason
NOW = pki.NOW
HANG_GUARD = 20.0  # seconds; only catches hangs and explosions
BIG_OID = ObjectIdentifier("1.3.6.1.4.1.55555.2")


@pytest.fixture(autouse=True)
def _hang_guard() -> Iterator[None]:
    """Dump all thread stacks if a test runs far longer than any sane verification could."""
    faulthandler.dump_traceback_later(120, exit=False)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture(scope="module")
def ch() -> pki.Chain:
    """root -> intermediate -> leaf (P-256)."""
    return pki.chain(1)


@pytest.fixture(scope="module")
def rsa_ch() -> pki.Chain:
    """root -> intermediate -> leaf (RSA-2048): longer DER, other signature code."""
    return pki.chain(1, "rsa2048")


def der_enc(tag: int, content: bytes) -> bytes:
    """One DER TLV."""
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    nb = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(nb)]) + nb + content


def check_failed(r: VerifyResult) -> None:
    """A hostile chain's result: FAILED, a known reason, nothing validated, fields readable."""
    assert r.status.startswith("FAILED:"), r.status
    assert not r.verified and r.presented and r.chain == [] and r.anchor_name is None
    assert isinstance(r.reason, Reason) and r.reason not in (R.OK, R.NO_CERTIFICATE)
    assert r.status == "FAILED:" + r.reason.message
    f = r.fields()  # the gateway reads fields of failed chains too: must never raise
    assert f["cert_presented"] is True and f["cert_verified"] is False
    sans = r.sans  # decoded from the client's leaf with another parser: must never raise either
    assert set(sans) in (set(), {"dns", "ip", "email", "uri"})


# ---- malformed DER -----------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["ch", "rsa_ch"])
def test_truncated_leaf_every_prefix(which: str, request: pytest.FixtureRequest) -> None:
    """Every proper prefix of a real leaf, alone or with its intermediate, is FAILED."""
    c: pki.Chain = request.getfixturevalue(which)
    v = make_verifier(c.root)
    leaf, inter = c.leaf.der, c.intermediates[0].der
    t0 = time.monotonic()
    for n in range(1, len(leaf)):
        check_failed(v.verify([leaf[:n]], at=NOW))
        check_failed(v.verify([leaf[:n], inter], at=NOW))
        check_failed(v.verify(leaf[:n] + inter, at=NOW))
    assert v.verify([leaf[:0]], at=NOW).status == "NONE"
    assert v.verify([leaf, inter], at=NOW).verified
    assert time.monotonic() - t0 < HANG_GUARD


def test_truncated_intermediate_every_prefix(ch: pki.Chain) -> None:
    """A truncated intermediate never completes the path (the leaf alone cannot verify)."""
    v = make_verifier(ch.root)
    leaf, inter = ch.leaf.der, ch.intermediates[0].der
    for n in range(1, len(inter)):
        check_failed(v.verify([leaf, inter[:n]], at=NOW))


def test_trailing_and_leading_junk(ch: pki.Chain) -> None:
    """Junk around an otherwise valid certificate is refused, not skipped."""
    v = make_verifier(ch.root)
    leaf, inter = ch.leaf.der, ch.intermediates[0].der
    for chain in ([leaf + b"\x00", inter], [leaf, inter + b"\x00\x00"], [b"\x00" + leaf, inter],
                  leaf + inter + b"\x30", leaf + inter + b"\x05\x00"):
        check_failed(v.verify(chain, at=NOW))


def _flips(der: bytes, rng: random.Random, n: int) -> Iterator[tuple[int, bytes]]:
    for _ in range(n):
        i = rng.randrange(len(der))
        out = bytearray(der)
        out[i] ^= rng.randrange(1, 256)
        yield i, bytes(out)


def _flip_storm(c: pki.Chain, seed: str) -> None:
    v = make_verifier(c.root)
    leaf, inter = c.leaf.der, c.intermediates[0].der
    rng = random.Random(seed)
    t0 = time.monotonic()
    for target in ("leaf", "inter"):
        for _, mutated in _flips(leaf if target == "leaf" else inter, rng, 1500):
            chain = [mutated, inter] if target == "leaf" else [leaf, mutated]
            r = v.verify(chain, at=NOW)
            assert mutated not in (leaf, inter)
            check_failed(r)
    assert v.verify([leaf, inter], at=NOW).verified  # caches survived the storm intact
    assert time.monotonic() - t0 < HANG_GUARD


@pytest.mark.parametrize("which", ["ch", "rsa_ch"])
def test_random_byte_flips(which: str, request: pytest.FixtureRequest) -> None:
    """Thousands of seeded byte flips never crash or verify, and every result's fields read."""
    _flip_storm(request.getfixturevalue(which), f"flips-{which}")


def test_random_structural_mutations(ch: pki.Chain) -> None:
    """Seeded insertions, deletions and splices of DER bytes never crash or verify."""
    v = make_verifier(ch.root)
    leaf, inter = ch.leaf.der, ch.intermediates[0].der
    rng = random.Random("structural")
    for _ in range(1500):
        d = bytearray(leaf)
        op = rng.randrange(4)
        i = rng.randrange(len(d))
        if op == 0:
            d[i:i] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 5)))
        elif op == 1:
            del d[i:i + rng.randrange(1, 8)]
        elif op == 2:
            j = rng.randrange(len(inter))
            d[i:] = inter[j:]
        else:  # a random length byte set to a long form
            d[i] = rng.choice([0x81, 0x82, 0x83, 0x84, 0x85, 0x80, 0xFF])
        if bytes(d) == leaf:
            continue
        check_failed(v.verify([bytes(d), inter], at=NOW))


@pytest.mark.parametrize("pem", [
    "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n",
    "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    "-----BEGIN CERTIFICATE-----\nAAAA" + "A" * 4000 + "\n-----END CERTIFICATE-----\n",
    "-----BEGIN CERTIFICATE-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A\n",  # no END line
    "-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----\n",
    "-----BEGIN CERTIFICATE-----\n====\n-----END CERTIFICATE-----\n",
    "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n",
    "\x00\x01\x02 binary noise \xff",
    b"\xff\xfe\xfd binary noise",
    "-----BEGIN CERTIFICATE-----\n" + "QUJD\n" * 10 + "-----END CERTIFICATE-----\n",
])
def test_garbage_pem(ch: pki.Chain, pem: str | bytes) -> None:
    """Garbage PEM text is a clear FAILED result, never an exception."""
    check_failed(make_verifier(ch.root).verify(pem, at=NOW))


def test_pem_valid_then_garbage_block(ch: pki.Chain) -> None:
    """A valid chain followed by an undecodable CERTIFICATE block is refused as a whole."""
    bad = b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"
    check_failed(make_verifier(ch.root).verify(ch.pem_bundle + bad, at=NOW))


def test_deeply_nested_der_leaf(ch: pki.Chain) -> None:
    """10,000 nested SEQUENCE headers as the leaf: FAILED (malformed), no recursion blow-up."""
    v = make_verifier(ch.root)
    blob = b""
    for _ in range(10_000):
        blob = der_enc(0x30, blob)
    for chain in ([blob], [blob, ch.intermediates[0].der], [ch.leaf.der, blob]):
        check_failed(v.verify(chain, at=NOW))
    indefinite = b"\x30\x80" * 10_000 + b"\x00\x00" * 10_000
    check_failed(v.verify([indefinite], at=NOW))


def _replace_subject(tbs: bytes, new_subject: bytes) -> bytes:
    """Rebuild a TBSCertificate with another subject Name TLV."""
    elems, off = [], pki._tlv(tbs, 0)[1]
    while off < len(tbs):
        _, h, c = pki._tlv(tbs, off)
        elems.append(tbs[off:off + h + c])
        off += h + c
    i = 5 if elems[0][0] == 0xA0 else 4  # [version] serial sigalg issuer validity SUBJECT
    elems[i] = new_subject
    return der_enc(0x30, b"".join(elems))


def _leaf_with_subject(ch: pki.Chain, name: bytes) -> bytes:
    """ch.leaf with another subject Name, re-signed by the intermediate (raw DER: cryptography
    refuses to load some of these names)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    tbs, alg, _ = pki._split(ch.leaf.der)
    new_tbs = _replace_subject(tbs, name)
    key = ch.intermediates[0].key
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    sig = key.sign(new_tbs, ec.ECDSA(hashes.SHA256()))
    return der_enc(0x30, new_tbs + alg + der_enc(0x03, b"\x00" + sig))


CN = b"\x06\x03\x55\x04\x03"  # id-at-commonName


def _nested(tag: int, inner: bytes, n: int) -> bytes:
    for _ in range(n):
        inner = der_enc(tag, inner)
    return inner


HOSTILE_NAMES = {
    "nested-sequence": (CN, _nested(0x30, b"", 5000)),
    "huge-value": (CN, der_enc(0x0C, b"A" * 40_000)),
    "private-tag": (CN, b"\xc6\x01x"),
    "constructed-string": (CN, _nested(0x24, b"\x04\x01x", 50)),
    "bad-oid": (b"\x06\x02\x80\x01", b"\x0c\x01x"),  # non-minimal subidentifier
}


@pytest.mark.parametrize("kind", [
    "nested-sequence", "huge-value", "private-tag", "constructed-string", "bad-oid"])
def test_fields_never_raise_on_hostile_subject(ch: pki.Chain, kind: str) -> None:
    """A leaf whose subject DN is nasty DER: verifying and fields() never raise."""
    oid, value = HOSTILE_NAMES[kind]
    leaf = _leaf_with_subject(ch, der_enc(0x30, der_enc(0x31, der_enc(0x30, oid + value))))
    r = make_verifier(ch.root).verify([leaf, ch.intermediates[0].der], at=NOW)
    assert r.presented
    f = r.fields()
    assert f["cert_presented"] is True and f["cert_verified"] is r.verified
    assert isinstance(f["cert_subject_dn"], str)



def _children(der: bytes) -> list[bytes]:
    """The TLVs inside one constructed TLV."""
    _, hl, cl = pki._tlv(der, 0)
    out, off = [], hl
    while off < hl + cl:
        _, h, c = pki._tlv(der, off)
        out.append(der[off:off + h + c])
        off += h + c
    return out


def _edit_extensions(leaf: pki.Cert, issuer: pki.Cert,
                     edit: Callable[[list[bytes]], list[bytes]]) -> bytes:
    """leaf with its Extension TLVs passed through ``edit``, re-signed by issuer (raw DER)."""
    tbs = pki.resign(leaf, issuer.key, lambda t: der_enc(0x30, b"".join(
        der_enc(0xA3, der_enc(0x30, b"".join(edit(_children(_children(e)[0])))))
        if e[0] == 0xA3 else e for e in _children(t)))).der
    return tbs


def _ext(oid: bytes, value: bytes) -> bytes:
    return der_enc(0x30, der_enc(0x06, oid) + der_enc(0x04, value))


SAN_OID, EKU_OID = b"\x55\x1d\x11", b"\x55\x1d\x25"


def _replace_ext(oid: bytes, value: bytes) -> Callable[[list[bytes]], list[bytes]]:
    return lambda exts: [_ext(oid, value) if _children(e)[0] == der_enc(0x06, oid) else e
                         for e in exts]


def _mismatched_alg(der: bytes) -> bytes:
    """The outer signatureAlgorithm says ecdsa-with-SHA384, the TBS ecdsa-with-SHA256."""
    tbs, alg, sig = pki._split(der)
    sha384 = alg.replace(bytes.fromhex("2a8648ce3d040302"), bytes.fromhex("2a8648ce3d040303"))
    assert sha384 != alg
    return der_enc(0x30, tbs + sha384 + sig)


REJECTED_AFTER_SUBJECT: dict[str, Callable[[pki.Chain], bytes]] = {
    "duplicate-extension": lambda ch: _edit_extensions(ch.leaf, ch.intermediates[0],
                                                       lambda exts: exts + exts[-1:]),
    "malformed-san": lambda ch: _edit_extensions(
        ch.leaf, ch.intermediates[0], _replace_ext(SAN_OID, b"\x30\x04\x82\x05ab")),
    "san-universal-element": lambda ch: _edit_extensions(
        ch.leaf, ch.intermediates[0], _replace_ext(SAN_OID, b"\x30\x02\x05\x00")),
    "san-constructed-dns": lambda ch: _edit_extensions(
        ch.leaf, ch.intermediates[0], _replace_ext(SAN_OID, b"\x30\x04\xa2\x02\x04\x00")),
    "empty-eku": lambda ch: _edit_extensions(ch.leaf, ch.intermediates[0],
                                             _replace_ext(EKU_OID, b"\x30\x00")),
    "mismatched-signature-algorithm": lambda ch: _mismatched_alg(ch.leaf.der),
}


# an empty extendedKeyUsage breaks a SIZE rule OpenSSL does not enforce; the algorithm mismatch
# is outside the extensions
# (OpenSSL's BER decoder reads a constructed dNSName)
SKI_SHOWN_WHEN_REJECTED = {"empty-eku", "mismatched-signature-algorithm", "san-constructed-dns"}


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl binary")
@pytest.mark.parametrize("kind", sorted(REJECTED_AFTER_SUBJECT))
def test_fields_of_a_certificate_rejected_after_its_subject(ch: pki.Chain, kind: str) -> None:
    """A presented leaf that OpenSSL parses but fastmtls rejects for what follows its subject
    (an extension, the outer signature algorithm) is FAILED, and its fields still name it: DNs,
    serial and validity as ``openssl x509`` prints them (an OpenSSL-based gateway shows them)."""
    from test_format import _reference

    leaf = REJECTED_AFTER_SUBJECT[kind](ch)
    v = make_verifier(ch.root)
    r = v.verify([leaf, ch.intermediates[0].der], at=NOW)
    check_failed(r)
    assert r.reason in (R.INVALID_EXTENSION, R.MALFORMED_CERT, R.CERT_SIGNATURE_FAILURE), kind
    ref = _reference(leaf)
    f = r.fields()
    got = {"subject": f["cert_subject_dn_rfc2253"], "issuer": f["cert_issuer_dn_rfc2253"],
           "subject_oneline": f["cert_subject_dn_legacy"],
           "issuer_oneline": f["cert_issuer_dn_legacy"], "serial": f["cert_serial"],
           "nb": f["cert_not_before"], "na": f["cert_not_after"],
           "sha256": f["cert_fingerprint_sha256"]}  # fmt: skip
    assert got == ref
    assert f["cert_subject_dn"] == ref["subject"] != ""
    assert isinstance(r.sans, dict)
    # the SKI is found past what the parser refused, unless OpenSSL's extension cache flags
    # the certificate invalid (an extension it decodes repeated or unreadable: it shows none)
    want_ski = _ski_hex(ch.leaf) if kind in SKI_SHOWN_WHEN_REJECTED else ""
    assert f["cert_ski"] == want_ski
    _assert_openssl_ski(leaf, want_ski)
    # the issuer fields come from the presented intermediate that names the leaf's issuer
    assert f["cert_issuer_serial"] == format(ch.intermediates[0].cert.serial_number, "X").zfill(
        2 * ((ch.intermediates[0].cert.serial_number.bit_length() + 7) // 8))


def _with_version(ch: pki.Chain, version: int) -> bytes:
    """ch.leaf with an explicit [0] version INTEGER ``version`` (0 = v1 written out), re-signed
    by the intermediate (raw DER: cryptography refuses to load these)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    tbs, alg, _ = pki._split(ch.leaf.der)
    kids = _children(tbs)
    if kids[0][0] == 0xA0:
        kids = kids[1:]
    new_tbs = der_enc(0x30, der_enc(0xA0, der_enc(0x02, bytes([version]))) + b"".join(kids))
    key = ch.intermediates[0].key
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    sig = key.sign(new_tbs, ec.ECDSA(hashes.SHA256()))
    return der_enc(0x30, new_tbs + alg + der_enc(0x03, b"\x00" + sig))


def _with_subject_rdns(ch: pki.Chain, *rdns: bytes) -> bytes:
    return _leaf_with_subject(ch, der_enc(0x30, b"".join(der_enc(0x31, r) for r in rdns)))


CN_A = der_enc(0x30, CN + der_enc(0x0C, b"a"))

# flawed identity fields: which fields still show (each one the parser validated)
IDENTITY_FLAWS: dict[str, tuple[Callable[[pki.Chain], bytes], set[str]]] = {
    # the validity's first UTCTime one octet longer than its content allows: no dates
    "bad-time": (lambda ch: ch.leaf.der.replace(b"\x17\x0d", b"\x17\x0e", 1),
                 {"cert_not_before", "cert_not_after"}),
    # an empty RDN (SET {}) in the subject: no subject DN
    "empty-rdn": (lambda ch: _with_subject_rdns(ch, CN_A, b""),
                  {"cert_subject_dn", "cert_subject_dn_rfc2253", "cert_subject_dn_legacy"}),
    # a v1 written out explicitly (DER forbids it), or a version that does not exist
    "explicit-v1": (lambda ch: _with_version(ch, 0), set()),
    "version-99": (lambda ch: _with_version(ch, 99), set()),
}


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl binary")
@pytest.mark.parametrize("kind", sorted(IDENTITY_FLAWS))
def test_fields_of_a_certificate_with_a_flawed_identity_field(ch: pki.Chain, kind: str) -> None:
    """One identity field (version, time, Name) fails fastmtls's checks: the certificate is
    FAILED, and every other identity field still shows as ``openssl x509`` prints it (they all
    went blank before); the flawed one is empty."""
    from test_format import _reference

    make, blank = IDENTITY_FLAWS[kind]
    leaf = make(ch)
    r = make_verifier(ch.root).verify([leaf, ch.intermediates[0].der], at=NOW)
    check_failed(r)
    f = r.fields()
    ref = _reference(leaf) if kind != "bad-time" else None  # OpenSSL refuses that one
    shown = {"cert_subject_dn_rfc2253": "subject", "cert_issuer_dn_rfc2253": "issuer",
             "cert_subject_dn_legacy": "subject_oneline", "cert_issuer_dn_legacy": "issuer_oneline",
             "cert_serial": "serial", "cert_not_before": "nb", "cert_not_after": "na"}  # fmt: skip
    for field, ref_key in shown.items():
        if field in blank:
            assert f[field] == "", field
        else:
            assert f[field] != "", field
            if ref is not None and not (kind == "empty-rdn" and "subject" in field):
                assert f[field] == ref[ref_key], field
    assert f["cert_presented"] is True and f["cert_fingerprint_sha256"] != ""
    assert f["cert_ski"] == _ski_hex(ch.leaf) != ""  # as OpenSSL prints it (it went blank)


SKI_OID = b"\x55\x1d\x0e"


def test_a_rejected_leaf_with_two_skis_shows_none(ch: pki.Chain) -> None:
    """A leaf with two subjectKeyIdentifier extensions (refused as a duplicate extension) has
    no cert_ski, as OpenSSL's X509_get0_subject_key_id gives none for it; with one SKI and
    another extension twice, its SKI shows."""
    second = _ext(SKI_OID, der_enc(0x04, b"\x01" * 20))
    two = _edit_extensions(ch.leaf, ch.intermediates[0], lambda exts: [*exts, second])
    r = make_verifier(ch.root).verify([two, ch.intermediates[0].der], at=NOW)
    check_failed(r)
    assert r.fields()["cert_ski"] == ""
    private = _ext(b"\x2a\x03\x04", b"\x05\x00")  # OID 1.2.3.4, twice
    other_twice = _edit_extensions(ch.leaf, ch.intermediates[0],
                                   lambda exts: [*exts, private, private])  # fmt: skip
    r = make_verifier(ch.root).verify([other_twice, ch.intermediates[0].der], at=NOW)
    check_failed(r)
    assert r.fields()["cert_ski"] == _ski_hex(ch.leaf) != ""
    # an extension that does not read at all (an OID alone) after the SKI: the SKI still shows
    broken = der_enc(0x30, der_enc(0x06, b"\x2a\x03\x05"))
    after = _raw_with_extension(ch, broken)
    r = make_verifier(ch.root).verify([after, ch.intermediates[0].der], at=NOW)
    check_failed(r)
    assert r.fields()["cert_ski"] == _ski_hex(ch.leaf) != ""


def _put_ext(oid: bytes, value: bytes) -> Callable[[list[bytes]], list[bytes]]:
    """Replace extension ``oid`` by ``value``, or append it."""
    def edit(exts: list[bytes]) -> list[bytes]:
        if any(_children(e)[0] == der_enc(0x06, oid) for e in exts):
            return _replace_ext(oid, value)(exts)
        return [*exts, _ext(oid, value)]
    return edit


_BC, _AKI, _NC, _CRLDP = (bytes([0x55, 0x1D, n]) for n in (19, 35, 30, 31))
_NS_CERT_TYPE = bytes.fromhex("6086480186f8420101")
_IP_ADDR, _AS_IDS, _PROXY = (bytes.fromhex("2b060105050701") + bytes([n]) for n in (7, 8, 14))


def _dup_san(exts: list[bytes]) -> list[bytes]:
    return [*exts, *(e for e in exts if _children(e)[0] == der_enc(0x06, SAN_OID))]


# A leaf fastmtls refuses (or that verifies nothing) with an extension edited: whether its
# cert_ski shows, as OpenSSL's X509_get0_subject_key_id decides (none when the extension cache
# flags the certificate invalid: an extension it decodes repeated, or unreadable to it).
SKI_CASES: dict[str, tuple[Callable[[list[bytes]], list[bytes]], bool]] = {
    "san-other-name-empty": (_replace_ext(SAN_OID, bytes.fromhex("3002a000")), False),
    "san-directory-name-not-a-name": (_replace_ext(SAN_OID, bytes.fromhex("3004a4020400")),
                                      False),
    "san-edi-party-name-empty": (_replace_ext(SAN_OID, bytes.fromhex("3002a500")), False),
    "san-registered-id-constructed": (_replace_ext(SAN_OID, bytes.fromhex("3006a80406022a03")),
                                      False),
    "san-registered-id-bad-oid": (_replace_ext(SAN_OID, bytes.fromhex("3003880180")), False),
    "san-ip-constructed": (_replace_ext(SAN_OID, bytes.fromhex("3008a70604047f000001")), True),
    "san-empty": (_replace_ext(SAN_OID, b"\x30\x00"), True),  # only a SIZE rule
    "eku-bad-oid": (_replace_ext(EKU_OID, bytes.fromhex("3003060180")), False),
    "aki-empty-serial": (_put_ext(_AKI, bytes.fromhex("30028200")), False),
    "aki-issuer-not-general-names": (_put_ext(_AKI, bytes.fromhex("3004a1020500")), False),
    "nc-subtree-not-a-subtree": (_put_ext(_NC, bytes.fromhex("3004a0020500")), False),
    "crldp-empty": (_put_ext(_CRLDP, b"\x30\x00"), True),  # only a SIZE rule
    "crldp-full-name-empty": (_put_ext(_CRLDP, bytes.fromhex("30063004a002a000")), True),
    "crldp-relative-name-empty": (_put_ext(_CRLDP, bytes.fromhex("30063004a002a100")), True),
    "crldp-directory-name-broken": (
        _put_ext(_CRLDP, bytes.fromhex("30133011a00fa00da40b3009310730050603550403")), False),
    # extensions fastmtls does not use but OpenSSL decodes for every certificate
    "ns-cert-type-integer": (_put_ext(_NS_CERT_TYPE, bytes.fromhex("020105")), False),
    "ip-addr-blocks-null": (_put_ext(_IP_ADDR, b"\x05\x00"), False),
    "as-ids-octet-string": (_put_ext(_AS_IDS, bytes.fromhex("3005a003040178")), False),
    "proxy-cert-info-null": (_put_ext(_PROXY, b"\x05\x00"), False),
    "san-edi-party-integer": (_replace_ext(SAN_OID, bytes.fromhex("3007a505a103020101")), False),
    "crldp-relative-name-integer": (
        _put_ext(_CRLDP, bytes.fromhex("300f300da00ba10930070603550403020101")), False),
    "empty-eku-then-unreadable-bc": (
        lambda exts: _put_ext(_BC, b"\x05\x00")(_replace_ext(EKU_OID, b"\x30\x00")(exts)),
        False),
    "empty-eku-then-duplicate-san": (
        lambda exts: _dup_san(_replace_ext(EKU_OID, b"\x30\x00")(exts)), False),
}


@pytest.mark.parametrize("kind", sorted(SKI_CASES))
def test_cert_ski_of_a_refused_leaf_follows_openssl(ch: pki.Chain, kind: str) -> None:
    """cert_ski of a leaf with one extension edited is OpenSSL's (and, where the system
    libcrypto is at hand, checked against it): none where OpenSSL's extension cache flags the
    certificate invalid, the SKI where only an RFC 5280 rule OpenSSL does not enforce is broken.
    The certificate never verifies."""
    edit, shown = SKI_CASES[kind]
    leaf = _edit_extensions(ch.leaf, ch.intermediates[0], edit)
    r = make_verifier(ch.root).verify([leaf, ch.intermediates[0].der], at=NOW)
    assert not r.verified
    assert r.fields()["cert_ski"] == (_ski_hex(ch.leaf) if shown else "")
    _assert_openssl_ski(leaf, r.fields()["cert_ski"])
    # and after a mismatched signature algorithm, which stops the parse before the extensions
    if kind.startswith("empty-eku-then") or kind == "san-other-name-empty":
        r = make_verifier(ch.root).verify([_mismatched_alg(leaf), ch.intermediates[0].der],
                                          at=NOW)  # fmt: skip
        assert r.fields()["cert_ski"] == ""


def _aki_with(ch: pki.Chain, tail: bytes) -> Callable[[list[bytes]], list[bytes]]:
    """The leaf's AKI keeping its keyIdentifier (the issuer's SKI), with ``tail`` after it."""
    kid = ch.intermediates[0].cert.extensions.get_extension_for_class(
        x509.SubjectKeyIdentifier).value.digest
    return _put_ext(_AKI, der_enc(0x30, der_enc(0x80, kid) + tail))


UNDECODABLE = {
    "aki-issuer-not-general-names": lambda ch: _aki_with(ch, bytes.fromhex("a1020500")),
    "aki-serial-not-minimal": lambda ch: _aki_with(ch, bytes.fromhex("82020001")),
    "eku-bad-oid": lambda ch: _replace_ext(EKU_OID,
                                           bytes.fromhex("300d06082b06010505070302060180")),
}


@pytest.mark.parametrize("kind", sorted(UNDECODABLE))
def test_an_extension_openssl_cannot_decode_is_refused(ch: pki.Chain, kind: str) -> None:
    """A leaf otherwise valid whose AKI issuer or serial, or one of whose EKU purposes, does
    not decode (fastmtls does not use them) is refused as OpenSSL refuses it (its extension
    cache flags the certificate invalid); it used to verify, with no cert_ski."""
    leaf = _edit_extensions(ch.leaf, ch.intermediates[0], UNDECODABLE[kind](ch))
    r = make_verifier(ch.root).verify([leaf, ch.intermediates[0].der], at=NOW)
    assert r.status == "FAILED:invalid or inconsistent certificate extension"
    assert r.depth == 0 and r.fields()["cert_ski"] == ""
    _assert_openssl_ski(leaf, "")


def _raw_with_extension(ch: pki.Chain, ext: bytes) -> bytes:
    """ch.leaf with the TLV ``ext`` appended to its extensions, re-signed by the intermediate
    as raw DER (cryptography refuses to load a malformed extension)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    tbs, alg, _ = pki._split(ch.leaf.der)
    kids = [der_enc(0xA3, der_enc(0x30, b"".join(_children(_children(k)[0])) + ext))
            if k[0] == 0xA3 else k for k in _children(tbs)]  # fmt: skip
    new_tbs = der_enc(0x30, b"".join(kids))
    key = ch.intermediates[0].key
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    sig = key.sign(new_tbs, ec.ECDSA(hashes.SHA256()))
    return der_enc(0x30, new_tbs + alg + der_enc(0x03, b"\x00" + sig))


def _assert_openssl_ski(der: bytes, ski: str) -> None:
    """Where the system libcrypto is at hand: OpenSSL parses ``der`` and its
    X509_get0_subject_key_id gives ``ski`` (hex, "" for none)."""
    if openssl_ref.AVAILABLE:
        ref = openssl_ref.cert_fields(der)
        assert ref is not None and ref["cert_ski"] == ski


def _ski_hex(c: pki.Cert) -> str:
    """The subjectKeyIdentifier of ``c`` as cf.tls_client_auth.cert_ski writes it."""
    return c.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest.hex(
    ).upper()  # fmt: skip


# ---- oversized input ---------------------------------------------------------------------------


def _big_leaf(inter: pki.Cert, size: int) -> pki.Cert:
    ext = x509.UnrecognizedExtension(BIG_OID, b"\x04" + b"\x83" + size.to_bytes(3, "big")
                                     + b"\x00" * size)
    return pki.leaf(inter, extra_extensions=[(ext, False)])


@pytest.mark.parametrize("n_rdns", [200, 600])
def test_fields_of_a_giant_subject_are_bounded(n_rdns: int) -> None:
    """A client's self-signed leaf with thousands of non-ASCII RDNs took ~40 ms to format
    (fields() per connection, the memo defeated by any changed byte). A DN of more than
    FIELD_NAME_MAX (8 KiB) of DER now reads "", like one OpenSSL would not print; a smaller
    one is formatted in full (here as a UniversalString of astral characters, which costs the
    most a byte)."""
    from cryptography.x509.name import _ASN1Type
    from cryptography.x509.oid import NameOID

    from fastmtls.result import FIELD_NAME_MAX

    value = "\U0001F600" * 6
    name = x509.Name([x509.RelativeDistinguishedName([x509.NameAttribute(
        NameOID.ORGANIZATIONAL_UNIT_NAME, value, _type=_ASN1Type.UniversalString,
        _validate=False)]) for _ in range(n_rdns)])  # fmt: skip
    leaf = pki.issue(subject=name, key="p256", ca=False)
    size = len(name.public_bytes())
    f = Verifier(TrustStore()).verify([leaf.der], at=pki.NOW).fields()
    escaped = "OU=" + "\\F0\\9F\\98\\80" * 6
    if size <= FIELD_NAME_MAX:
        assert f["cert_subject_dn"] == ",".join([escaped] * n_rdns) == f["cert_issuer_dn"]
        assert f["cert_subject_dn_legacy"].startswith("/OU=\\x00\\x01\\xF6\\x00")
    else:
        assert f["cert_subject_dn"] == f["cert_subject_dn_legacy"] == f["cert_issuer_dn"] == ""
        assert f["cert_serial"] and f["cert_fingerprint_sha256"]  # the rest as always


def test_one_megabyte_certificate(ch: pki.Chain) -> None:
    """A 1 MB certificate is refused clearly (input too large), and accepted by raised limits."""
    inter = ch.intermediates[0]
    big = _big_leaf(inter, 1 << 20)
    assert len(big.der) > 1 << 20
    v = make_verifier(ch.root)
    for chain in ([big.der, inter.der], big.der + inter.der, [big.der]):
        r = v.verify(chain, at=NOW)
        check_failed(r)
        assert r.reason in (R.INPUT_TOO_LARGE, R.MALFORMED_CERT)
        assert r.status in ("FAILED:certificate chain input too large",
                            "FAILED:malformed certificate")
    roomy = make_verifier(ch.root, limits=Limits(max_cert_size=4 << 20, max_input_size=8 << 20))
    assert roomy.verify([big.der, inter.der], at=NOW).verified


def test_certificate_over_max_cert_size(ch: pki.Chain) -> None:
    """A 100 KB certificate exceeds the default 64 KiB max_cert_size: input too large."""
    inter = ch.intermediates[0]
    big = _big_leaf(inter, 100_000)
    r = make_verifier(ch.root).verify([big.der, inter.der], at=NOW)
    check_failed(r)
    assert r.reason == R.INPUT_TOO_LARGE
    # An oversized *intermediate* is skipped as unusable, never trusted.
    r = make_verifier(ch.root).verify([ch.leaf.der, big.der], at=NOW)
    check_failed(r)


def test_five_hundred_certificate_chain(ch: pki.Chain) -> None:
    """500 presented certificates: a clear FAILED (chain too long), quickly."""
    v = make_verifier(ch.root)
    chain = [ch.leaf.der] + [ch.intermediates[0].der] * 499
    t0 = time.monotonic()
    for form in (chain, b"".join(chain)):
        r = v.verify(form, at=NOW)
        check_failed(r)
        assert r.reason == R.CERT_CHAIN_TOO_LONG
    assert time.monotonic() - t0 < HANG_GUARD


@pytest.mark.parametrize(("n", "ok"), [(64, True), (65, False)])
def test_max_chain_certs_boundary(ch: pki.Chain, n: int, ok: bool) -> None:
    """Exactly max_chain_certs (64) certificates are accepted as input; 65 are refused."""
    strays = [pki.ca(f"Stray {i}").der for i in range(n - 2)]
    chain = [ch.leaf.der, *strays, ch.intermediates[0].der]
    r = make_verifier(ch.root).verify(chain, at=NOW)
    if ok:
        assert r.verified, r.status
    else:
        check_failed(r)
        assert r.reason == R.CERT_CHAIN_TOO_LONG


# ---- path-building bombs -----------------------------------------------------------------------


def _kid(key: pki.PrivateKey) -> bytes:
    return x509.SubjectKeyIdentifier.from_public_key(key.public_key()).digest


def _ca_signed_by(subject: str, key: pki.PrivateKey, issuer_name: str,
                  issuer_key: pki.PrivateKey) -> pki.Cert:
    """A CA certificate with an arbitrary issuer name and signing key."""
    return pki.issue(subject=subject, key=key, issuer=pki.Cert(None, issuer_key),  # type: ignore
                     issuer_name=issuer_name, aki=_kid(issuer_key), ca=True,
                     key_usage={"key_cert_sign"})


BOMB_REASONS = (R.BUDGET_EXCEEDED, R.UNABLE_TO_GET_ISSUER_CERT_LOCALLY, R.CERT_CHAIN_TOO_LONG,
                R.CERT_SIGNATURE_FAILURE, R.SELF_SIGNED_CERT_IN_CHAIN)


def test_sixty_same_name_cas() -> None:
    """60 CAs sharing one name (each signed by the next key) finish fast with a FAILED result."""
    keys = [pki.make_key("p256") for _ in range(61)]
    cas = [_ca_signed_by("Bomb CA", keys[i], "Bomb CA", keys[i + 1]) for i in range(60)]
    leaf = pki.leaf(pki.Cert(cas[0].cert, keys[0]))
    rng = random.Random("bomb")
    presented = [c.der for c in cas]
    rng.shuffle(presented)
    v = make_verifier(pki.ca("Unrelated Root"))
    t0 = time.monotonic()
    r = v.verify([leaf.der, *presented], at=NOW)
    assert time.monotonic() - t0 < HANG_GUARD
    check_failed(r)
    assert r.reason in BOMB_REASONS, r.status


def test_layered_same_key_bomb() -> None:
    """6 layers x 10 same-name same-key CAs (10^6 paths): the step budget stops the search."""
    layers, width = 6, 10
    keys = [pki.make_key("p256") for _ in range(layers + 1)]
    certs = []
    for i in range(layers):
        for _ in range(width):
            certs.append(_ca_signed_by(f"Layer {i}", keys[i], f"Layer {i + 1}", keys[i + 1]))
    leaf = pki.leaf(pki.Cert(certs[0].cert, keys[0]))
    v = make_verifier(pki.ca("Unrelated Root"))
    t0 = time.monotonic()
    r = v.verify([leaf.der, *(c.der for c in certs)], at=NOW)
    assert time.monotonic() - t0 < HANG_GUARD
    check_failed(r)
    assert r.reason == R.BUDGET_EXCEEDED, r.status
    assert r.depth is None


def test_layered_bomb_with_trusted_top_still_bounded() -> None:
    """The same bomb whose top layer is reachable from a trusted root: a bounded answer."""
    layers, width = 6, 10
    root = pki.ca("Bomb Root")
    keys = [pki.make_key("p256") for _ in range(layers)] + [root.key]
    certs = []
    for i in range(layers):
        iname = "Bomb Root" if i == layers - 1 else f"Layer {i + 1}"
        for _ in range(width):
            certs.append(_ca_signed_by(f"Layer {i}", keys[i], iname, keys[i + 1]))
    leaf = pki.leaf(pki.Cert(certs[0].cert, keys[0]))
    t0 = time.monotonic()
    r = make_verifier(root).verify([leaf.der, *(c.der for c in certs)], at=NOW)
    assert time.monotonic() - t0 < HANG_GUARD
    # Depth-first search finds a path at once (every candidate is good); either answer is sound.
    assert r.verified or r.reason == R.BUDGET_EXCEEDED, r.status


@pytest.mark.parametrize("limits", [Limits(max_sig_checks=1), Limits(max_steps=1)])
def test_small_budgets_fail_closed(ch: pki.Chain, limits: Limits) -> None:
    """A budget too small for a legitimate chain fails closed with BUDGET_EXCEEDED."""
    r = make_verifier(ch.root, limits=limits).verify(ch.presented_der, at=NOW)
    check_failed(r)
    assert r.reason == R.BUDGET_EXCEEDED


# ---- concurrency -------------------------------------------------------------------------------


def _mixed_chains() -> tuple[pki.Cert, list[tuple[str, list[bytes], dict[str, Any]]]]:
    """One root and a mix of good and bad chains (with per-chain verify keyword arguments)."""
    root = pki.ca("MT Root")
    inter = pki.intermediate(root, "MT Intermediate")
    inter2 = pki.intermediate(root, "MT Intermediate 2", key="rsa2048")
    expired_inter = pki.intermediate(root, "MT Old Intermediate",
                                     not_after=NOW - timedelta(days=1),
                                     not_before=NOW - timedelta(days=100))
    other_root = pki.ca("MT Other Root")
    server = pki.leaf(inter, san=[x509.DNSName("svc.example.com")])
    out: list[tuple[str, list[bytes], dict[str, Any]]] = []
    for i in range(6):
        lf = pki.leaf(inter if i % 2 else inter2, f"client {i}")
        out.append((f"good{i}", [lf.der, (inter if i % 2 else inter2).der], {}))
        out.append((f"tampered{i}", [pki.tamper_sig(lf.der), (inter if i % 2 else inter2).der],
                    {}))
    out += [
        ("expired-inter", [pki.leaf(expired_inter).der, expired_inter.der], {}),
        ("expired-leaf", [pki.leaf(inter, not_after=NOW - timedelta(days=1)).der, inter.der],
         {}),
        ("unknown", [pki.leaf(other_root).der], {}),
        ("missing-inter", [pki.leaf(inter).der], {}),
        ("server-leaf", [pki.leaf(inter, eku=[pki.SERVER_AUTH]).der, inter.der], {}),
        ("host", [pki.leaf(inter).der, inter.der], {"host": "api.example.com"}),
        ("name-ok", [server.der, inter.der], {"expected_name": "svc.example.com"}),
        ("name-bad", [server.der, inter.der], {"expected_name": "evil.example.com"}),
        ("garbage", [b"\x30\x03\x02\x01\x01"], {}),
        ("none", [], {}),
    ]
    return root, out


def _outcome(r: VerifyResult) -> tuple[Any, ...]:
    return (r.status, r.depth, tuple(r.chain), r.anchor_name)


def _run_threads(n: int, fn: Callable[[int], None]) -> None:
    errors: list[BaseException] = []

    def wrap(i: int) -> None:
        try:
            fn(i)
        except BaseException as exc:  # re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=wrap, args=(i,)) for i in range(n)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "verification threads hung"
    assert time.monotonic() - t0 < 60
    if errors:
        raise errors[0]


@pytest.mark.parametrize("cache", ["default", "tiny", "off"])
def test_threads_match_single_threaded(cache: str) -> None:
    """8 threads x 2000 verifications of mixed chains give the single-threaded answers."""
    root, chains = _mixed_chains()
    size = {"default": 4096, "tiny": 2, "off": 0}[cache]
    kw = {"result_cache_size": size, "signature_cache_size": size}
    expected = {}
    ref = make_verifier(root, **kw)
    for name, chain, vkw in chains:
        expected[name] = _outcome(ref.verify(chain, at=NOW, **vkw))
    assert expected["good0"][0] == "SUCCESS" and expected["tampered0"][0] != "SUCCESS"
    assert expected["name-ok"][0] == "SUCCESS" and expected["name-bad"][0] != "SUCCESS"
    shared = make_verifier(root, **kw)
    per_thread = 2000 if cache == "default" else 700

    def work(i: int) -> None:
        rng = random.Random(i)
        for _ in range(per_thread):
            name, chain, vkw = chains[rng.randrange(len(chains))]
            r = shared.verify(chain, at=NOW, **vkw)
            assert _outcome(r) == expected[name], (name, r.status)

    _run_threads(8, work)


def test_threads_with_different_times() -> None:
    """Concurrent calls with different ``at`` values each get the answer for their own time."""
    root = pki.ca("Time Root")
    leaf = pki.leaf(root, not_before=NOW - timedelta(days=10), not_after=NOW + timedelta(days=10))
    v = make_verifier(root)
    valid, late = NOW, NOW + timedelta(days=30)

    def work(i: int) -> None:
        mine = valid if i % 2 else late
        for _ in range(2000):
            r = v.verify([leaf.der], at=mine)
            assert r.verified is (mine is valid), (i, r.status)

    _run_threads(8, work)


def test_store_modified_while_verifying() -> None:
    """CAs added/removed while threads verify: every result matches an old or new snapshot."""
    roots = {n: pki.ca(f"Churn Root {n}") for n in "abc"}
    leaves = {n: pki.leaf(r) for n, r in roots.items()}
    store = TrustStore()
    store.add_der(roots["a"].der, name="a")
    store.add_der(roots["b"].der, name="b")
    v = Verifier(store)
    stop = threading.Event()
    changes = [0]

    def churn() -> None:
        rng = random.Random("churn")
        while not stop.is_set():
            name = rng.choice("bc")
            if name in store.names():
                store.remove(name)
            else:
                store.add_der(roots[name].der, name=name)
            if rng.random() < 0.3:
                store.associate("api.example.com", rng.sample(store.names(), 1))
            changes[0] += 1

    def work(i: int) -> None:
        rng = random.Random(100 + i)
        for _ in range(1500):
            name = rng.choice("abc")
            host = "api.example.com" if rng.random() < 0.2 else None
            r = v.verify([leaves[name].der], at=NOW, host=host)
            if r.verified:
                assert r.anchor_name == name
                assert r.chain == [leaves[name].der, roots[name].der]
            else:
                assert (r.reason, r.depth) == (R.UNABLE_TO_GET_ISSUER_CERT_LOCALLY, 0), r.status
                assert host is not None or name != "a", "root a is never removed"

    churner = threading.Thread(target=churn)
    churner.start()
    try:
        _run_threads(8, work)
    finally:
        stop.set()
        churner.join(timeout=30)
    assert changes[0] > 10
    # The final store still answers correctly.
    for name, lf in leaves.items():
        assert v.verify([lf.der], at=NOW).verified is (name in store.names())


# ---- memory safety under AddressSanitizer ------------------------------------------------------

_ASAN_HARNESS = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fastmtls.h"

/* stdin: u32 n_anchors, {u32 len, der}*, then records until EOF:
 *   u32 host_len, host, u32 name_kind, u32 name_len, name, u32 chain_len, chain, i64 at
 * stdout: one status per record. */
static int rd(void *p, size_t n) { return fread(p, 1, n, stdin) == n; }
static uint8_t *rdbuf(uint32_t *len) {
    if (!rd(len, 4)) return NULL;
    uint8_t *b = malloc(*len ? *len : 1);
    if (*len && !rd(b, *len)) { free(b); return NULL; }
    return b;
}
int main(void) {
    fm_store *s; fm_verifier *v; fm_result r; uint32_t n, len, kind, hl, nl, cl; int64_t at;
    if (fm_store_new(&s) || fm_verifier_new(NULL, &v) || !rd(&n, 4)) return 2;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t *d = rdbuf(&len);
        if (!d || fm_store_add_anchor(s, d, len, 0)) return 3;
        free(d);
    }
    for (;;) {
        uint8_t *host = rdbuf(&hl);
        if (!host) break;
        if (!rd(&kind, 4)) return 4;
        uint8_t *name = rdbuf(&nl), *chain = name ? rdbuf(&cl) : NULL;
        if (!chain || !rd(&at, 8)) return 5;
        fm_verify(v, s, FM_REVS_ARG chain, cl, host, hl, at, kind, name, nl, &r);
        printf("%d\n", r.status);
        free(host); free(name); free(chain);
    }
    fm_verifier_free(v);
    fm_store_free(s);
    return 0;
}
"""


@pytest.fixture(scope="module")
def asan_harness(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The C core compiled with AddressSanitizer + UBSan around a record-driven harness."""
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    assert cc, "a C compiler is needed (the package itself is built from C sources)"
    csrc = Path(__file__).resolve().parent.parent / "csrc"
    out = tmp_path_factory.mktemp("asan")
    # fm_verify gained a revocation-set argument after the store; follow whichever prototype the
    # header declares, so that this harness tracks the C API instead of pinning one version.
    header = (csrc / "include" / "fastmtls.h").read_text()
    proto = header[header.index("int fm_verify("):]
    proto = proto[:proto.index(";")]
    revs = "NULL, " if "fm_revset" in proto else ""
    (out / "harness.c").write_text(_ASAN_HARNESS.replace("FM_REVS_ARG ", revs))
    exe = out / "harness"
    sources = sorted(str(p) for p in csrc.glob("fm_*.c"))
    cmd = [cc, "-std=c11", "-O1", "-g", "-fsanitize=address,undefined",
           "-fno-sanitize-recover=undefined", "-fno-omit-frame-pointer",
           f"-I{csrc}", f"-I{csrc / 'include'}", *sources, str(out / "harness.c"),
           "-lcrypto", "-lpthread", "-o", str(exe)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return exe


def _record(chain: bytes, host: bytes = b"", kind: int = 0, name: bytes = b"",
            at: int = int(NOW.timestamp())) -> bytes:
    return (struct.pack("<I", len(host)) + host + struct.pack("<II", kind, len(name)) + name
            + struct.pack("<I", len(chain)) + chain + struct.pack("<q", at))


def _run_asan(exe: Path, anchors: list[bytes], records: list[bytes]) -> list[int]:
    data = struct.pack("<I", len(anchors)) + b"".join(
        struct.pack("<I", len(a)) + a for a in anchors) + b"".join(records)
    env = {**os.environ, "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:exitcode=99",
           "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1"}
    proc = subprocess.run([str(exe)], input=data, capture_output=True, timeout=300, env=env)
    err = proc.stderr.decode(errors="replace")
    assert proc.returncode == 0 and "Sanitizer" not in err, err[-4000:]
    return [int(x) for x in proc.stdout.split()]


def test_asan_hostile_corpus(asan_harness: Path, ch: pki.Chain, rsa_ch: pki.Chain) -> None:
    """Hostile corpus runs clean under ASan/UBSan in C, with the Python API's verdicts."""
    rng = random.Random("asan")
    records, expect = [], []
    v = make_verifier(ch.root, rsa_ch.root)
    for c in (ch, rsa_ch):
        leaf, inter = c.leaf.der, c.intermediates[0].der
        cases = [leaf + inter]
        cases += [leaf[:n] + inter for n in range(1, len(leaf))]
        cases += [m + inter for _, m in _flips(leaf, rng, 400)]
        cases += [leaf + m for _, m in _flips(inter, rng, 400)]
        for chain in cases:
            records.append(_record(chain))
            expect.append(int(v.verify(chain, at=NOW).reason))
    nested = b""
    for _ in range(10_000):
        nested = der_enc(0x30, nested)
    big = _big_leaf(ch.intermediates[0], 1 << 20).der
    for chain in (nested, big + ch.intermediates[0].der, ch.leaf.der * 70):
        records.append(_record(chain))
        expect.append(int(v.verify(chain, at=NOW).reason))
    # host and expected-name plumbing at ordinary sizes
    for host, name in ((b"api.example.com", b"client.example.com"), (b"h" * 255, b""),
                       (b"", b"x" * 200)):
        records.append(_record(ch.leaf.der + ch.intermediates[0].der, host, 1 if name else 0,
                               name))
        expect.append(-1)
    got = _run_asan(asan_harness, [ch.root.der, rsa_ch.root.der], records)
    assert len(got) == len(records)
    assert [g for g, e in zip(got, expect) if e != -1] == [e for e in expect if e != -1]
    assert expect[0] == 0 and all(e != 0 for e in expect[1:len(ch.leaf.der)])


@pytest.mark.parametrize(("host_len", "name_len"), [
    (0, 256), (200, 56), (255, 1), (255, 256), (255, 257), (256, 256), (0, 5000), (300, 0)])
def test_asan_cache_key_boundary(asan_harness: Path, ch: pki.Chain, host_len: int,
                                 name_len: int) -> None:
    """Host/expected-name lengths at and past the result-cache key's capacity: no overflow."""
    # Regression: ctxkey once overflowed by one byte when host_len + name_len == 256.
    rec = _record(ch.leaf.der + ch.intermediates[0].der, b"h" * host_len, 4, b"u" * name_len)
    assert len(_run_asan(asan_harness, [ch.root.der], [rec])) == 1


def test_python_long_expected_name_is_a_result(ch: pki.Chain) -> None:
    """Very long expected names and hosts are results (mismatch), never exceptions."""
    v = make_verifier(ch.root)
    for name in ("a" * 300 + ".example.com", "x" * 5000, "spiffe://" + "a" * 1000):
        r = v.verify(ch.presented_der, at=NOW, expected_name=name)
        assert not r.verified and r.depth == 0
    r = v.verify(ch.presented_der, at=NOW, host="h" * 300)
    assert r.verified


if sys.platform == "win32":  # pragma: no cover - the ASan harness needs a Unix toolchain
    pytestmark = pytest.mark.skip(reason="Unix only")


# ---- PEM text from a client (a forwarded certificate header) -----------------------------------


# The reference: a PEM block as a regex (linear too, but ~0.1 s per MiB of dashes).
_BLOCK = re.compile(
    rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n?([^-]*(?:-(?!----)[^-]*)*)-----END \1-----"
)


def _regex_blocks(raw: bytes) -> list[tuple[bytes, bytes]]:
    return [(m.group(1), m.group(2)) for m in _BLOCK.finditer(raw)]


def test_pem_scanner_finds_what_the_reference_regex_finds(ch: pki.Chain) -> None:
    """The find-based PEM scanner and the reference regex agree on crafted and random texts
    (labels, dashes, nesting, missing and mismatched END lines, CRLF)."""
    from fastmtls.pem import _blocks

    good = ch.pem_bundle
    pieces = [good, b"-----BEGIN CERTIFICATE-----\n", b"-----END CERTIFICATE-----\n",
              b"-----BEGIN X509 CRL-----\r\n", b"-----END X509 CRL-----", b"----", b"-----",
              b"------", b"-", b"a", b"\n", b"\r\n", b"MIIB", b"-----BEGIN lower-----",
              b"-----BEGIN  -----", b"-----END FOO-----", b"-----BEGIN FOO-----"]  # fmt: skip
    rnd = random.Random(11)
    texts = [good, good + good, b"x" + good, good.replace(b"\n", b"\r\n")]
    texts += [b"".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 12))) for _ in range(3000)]
    for t in texts:
        assert list(_blocks(t)) == _regex_blocks(t), t[:200]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (b"-----BEGIN CERTIFICATE-----\n" + b"-a" * 1_200_000, R.INPUT_TOO_LARGE),
        (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" * 70,
         R.CERT_CHAIN_TOO_LONG),
    ],
    ids=["dashes-past-the-size-cap", "more-blocks-than-max-chain-certs"],
)
def test_pem_text_is_bounded_before_it_is_scanned(ch: pki.Chain, text: bytes, reason: R) -> None:
    """PEM text larger than twice max_input_size is refused unread, and the scan stops past
    max_chain_certs blocks: a client's forwarded PEM costs a bounded scan (16 MiB of it used to
    be scanned whole, ~0.3 s). The refusal's counters are zero, not whatever memory held."""
    r = make_verifier(ch.root).verify(text, at=NOW)
    check_failed(r)
    assert r.reason == reason
    assert (r._res.sig_checks, r._res.steps, r._res.chain_len) == (0, 0, 0)
    r = make_verifier(ch.root).verify(b"-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----",
                                      at=NOW)  # fmt: skip
    assert r.reason == R.MALFORMED_CERT and (r._res.sig_checks, r._res.steps) == (0, 0)


@pytest.mark.parametrize("junk", [b"-----BEGIN " * 190_000,
                                  b"-----BEGIN X-----\n-----END X-----\n" * 60_000])  # fmt: skip
def test_pem_markers_are_bounded(ch: pki.Chain, junk: bytes) -> None:
    """A chain followed by ~2 MiB of BEGIN lines (just under the text bound): each was a step
    of the scan in Python (80 ms). Past 4 x max_chain_certs + 64 BEGIN lines the text is
    refused as malformed, the certificates read before standing for what was presented."""
    text = pki.pem_bundle(ch.leaf, *ch.intermediates) + junk
    assert len(text) < 2 * Limits().max_input_size + 65536
    r = make_verifier(ch.root).verify(text, at=NOW)
    assert r.reason == R.MALFORMED_CERT, r.status
    assert r.presented_chain[0] == ch.leaf.der
    few = pki.pem_bundle(ch.leaf, *ch.intermediates) + b"-----BEGIN X-----\n-----END X-----\n" * 60
    assert make_verifier(ch.root).verify(few, at=NOW).verified


def test_pem_after_a_line_starting_with_zero(ch: pki.Chain, tmp_path: Path) -> None:
    """Text before the first block is ignored, as OpenSSL ignores it, also a line that starts
    with "0" (0x30, the first octet of DER): such bytes used to be read as DER and refused."""
    text = b"0 = the client chain\n" + pki.pem_bundle(ch.leaf, *ch.intermediates)
    assert make_verifier(ch.root).verify(text, at=NOW).verified
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(b"0 roots\n" + pki.pem_bundle(ch.root))
    store = TrustStore()
    store.add_file(bundle, name="roots")
    assert Verifier(store).verify(text, at=NOW).verified


# ---- review: refused and oddly split chains report the leaf; the fields memo is bounded --------


def test_many_tiny_elements_index_what_the_core_split() -> None:
    """Leaf, 62 empty SEQUENCEs and the intermediate, as concatenated DER (64 elements of ~13
    bytes each on average): SUCCESS, and the result indexes the core's split (the Python split
    made room for len // 16 elements, fell back to the whole input, and ``chain`` /
    ``fields()`` raised IndexError)."""
    c = pki.chain(1, key="ed25519")
    leaf, inter = c.presented_der
    r = make_verifier(c.root).verify(leaf + b"\x30\x00" * 62 + inter, at=NOW)
    assert r.status == "SUCCESS" and len(r.presented_chain) == 64
    assert r.chain == [leaf, inter, c.root.der]
    assert r.fields()["cert_fingerprint_sha256"] == _sha256(leaf)


def _sha256(der: bytes) -> str:
    import hashlib

    return hashlib.sha256(der).hexdigest()


@pytest.mark.parametrize("form", ["der-list", "concatenated-der", "pem"])
def test_a_chain_refused_as_too_long_reports_its_leaf(ch: pki.Chain, form: str) -> None:
    """Three certificates over max_chain_certs=2, in each chain form: FAILED (too long), and
    the fields are the leaf's (PEM used to report the fingerprint of the PEM text and an empty
    subject)."""
    ders = [*ch.presented_der, ch.root.der]
    chain: Any = {"der-list": ders, "concatenated-der": b"".join(ders),
                  "pem": pki.pem_bundle(*ch.presented, ch.root)}[form]  # fmt: skip
    r = make_verifier(ch.root, limits=Limits(max_chain_certs=2)).verify(chain, at=NOW)
    assert r.reason == R.CERT_CHAIN_TOO_LONG
    f = r.fields()
    assert f["cert_fingerprint_sha256"] == _sha256(ders[0])
    assert f["cert_subject_dn"] == ch.leaf.cert.subject.rfc4514_string()


@pytest.mark.parametrize("case", ["too-large", "bad-second-block"])
def test_refused_pem_reports_the_certificates_read_before(ch: pki.Chain, case: str) -> None:
    """PEM refused before the core (text over the size cap, or a block that is not base64 after
    the leaf's) still reports the leaf's fields."""
    pem = pki.pem_bundle(*ch.presented)
    text = (pem + b"A" * 3_000_000 if case == "too-large"
            else pem + b"-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n")  # fmt: skip
    r = make_verifier(ch.root).verify(text, at=NOW)
    assert r.reason == (R.INPUT_TOO_LARGE if case == "too-large" else R.MALFORMED_CERT)
    assert r.fields()["cert_fingerprint_sha256"] == _sha256(ch.presented_der[0])


def test_the_fields_memo_does_not_keep_client_input() -> None:
    """The verifier's memo of formatted fields is keyed by a digest of what was presented, not
    by the bytes: 40 refused 1 MiB inputs leave no megabytes behind (each used to stay in the
    memo, up to 2048 of them)."""
    c = pki.chain(1)
    v = make_verifier(c.root)
    for i in range(40):
        v.verify(c.leaf.der + bytes([i]) * (1 << 20), at=NOW).fields()
    held = sum(len(part) for key in v._fields_memo for part in key if isinstance(part, bytes))
    assert len(v._fields_memo) == 40 and held <= 40 * 64
