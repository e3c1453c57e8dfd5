"""fastmtls._format against OpenSSL itself: every string must equal what `openssl x509` prints.

Certificates are built with `cryptography` (ordinary names) and with a small DER builder below
(values `cryptography` will not encode: T61 octets, BIT STRING and SEQUENCE values, unknown
tags, negative serials, any year).  Signatures are never checked, so crafted certificates carry
a dummy one.  Tests that need the `openssl` binary skip when it is absent.
"""

from __future__ import annotations

import base64
import calendar
import datetime as dt
import hashlib
import importlib
import os
import random
import shutil
import subprocess
import sys
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import der
import pytest
from crls import der_oid, enc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def _load_format() -> Any:
    """Import fastmtls._format, standalone from the source tree if the package cannot load."""
    try:
        return importlib.import_module("fastmtls._format")
    except Exception:  # e.g. the package __init__ needs a native module that is not built
        src = Path(__file__).resolve().parents[1] / "src" / "fastmtls"
        pkg = types.ModuleType("_fastmtls_format_standalone")
        pkg.__path__ = [str(src)]
        sys.modules[pkg.__name__] = pkg
        return importlib.import_module(pkg.__name__ + "._format")


F = _load_format()
SHORT_NAMES: dict[bytes, str] = dict(importlib.import_module(F.__package__ + "._oids").SHORT_NAMES)

pytestmark = pytest.mark.filterwarnings("ignore:Attribute's length:UserWarning")

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl command not available")
# No config file: the default one may register extra OIDs that the library itself does not know.
_ENV = dict(os.environ, OPENSSL_CONF=os.devnull)

# ---------------------------------------------------------------------------------------------
# DER building and reading (test-side, independent of the module under test)


_tlv = enc


_seq = der.seq


_oid = der_oid


def _ava(oid: str, tag: int, value: bytes) -> bytes:
    """AttributeTypeAndValue with a value of the given tag and content."""
    return _seq(_oid(oid), _tlv(tag, value))


def _name(*rdns: Sequence[bytes]) -> bytes:
    """Name from RDNs, each a list of AttributeTypeAndValue encodings (kept in this order)."""
    return _seq(*[_tlv(0x31, b"".join(r)) for r in rdns])


_SPKI = (
    ed25519.Ed25519PrivateKey.generate()
    .public_key()
    .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
)
_ALG = _seq(_oid("1.3.101.112"))


def _utc(s: str) -> bytes:
    """UTCTime TLV."""
    return _tlv(0x17, s.encode())


def _gen(s: str) -> bytes:
    """GeneralizedTime TLV."""
    return _tlv(0x18, s.encode())


def _raw_cert(
    subject: bytes,
    issuer: bytes | None = None,
    serial: bytes = b"\x01",
    not_before: bytes = _utc("200101000000Z"),
    not_after: bytes = _utc("300101000000Z"),
) -> bytes:
    """A v3 certificate with exactly the given encodings (and a dummy signature)."""
    tbs = _seq(
        _tlv(0xA0, _tlv(2, b"\x02")),
        _tlv(2, serial),
        _ALG,
        subject if issuer is None else issuer,
        _seq(not_before, not_after),
        subject,
        _SPKI,
    )
    return _seq(tbs, _ALG, _tlv(3, b"\x00" + bytes(64)))


def _time(node: der.Node) -> int:
    """A Time node as unix seconds."""
    text = bytes(node.content).decode()  # type: ignore[arg-type]
    if node.tag == 0x17:
        yy = int(text[:2])
        text = str(1900 + yy if yy >= 50 else 2000 + yy) + text[2:]
    parts = (text[0:4], text[4:6], text[6:8], text[8:10], text[10:12], text[12:14])
    return calendar.timegm((*(int(x) for x in parts), 0, 0, 0))


def _fields(cert_der: bytes) -> dict[str, Any]:
    """The TBSCertificate fields _format works on, cut out of a certificate's DER."""
    tbs = der.parse(cert_der)[0].children
    if tbs[0].tag == 0xA0:
        tbs = tbs[1:]
    serial, _alg, issuer, validity, subject = tbs[:5]
    return {"serial": serial.content, "issuer": issuer.der, "subject": subject.der,
            "nb": _time(validity[0]), "na": _time(validity[1])}


# ---------------------------------------------------------------------------------------------
# The reference: the openssl command


def _openssl(der: bytes, *args: str) -> str:
    """Run `openssl x509 -inform DER -noout ARGS` on der; return stdout."""
    assert OPENSSL is not None
    r = subprocess.run(
        [OPENSSL, "x509", "-inform", "DER", "-noout", *args],
        input=der,
        capture_output=True,
        env=_ENV,
        check=False,
    )
    if r.returncode:
        raise AssertionError(f"openssl refused the certificate: {r.stderr.decode()[-300:]}")
    return r.stdout.decode("latin-1")


def _lines(out: str) -> dict[str, str]:
    """Map "key=value" output lines by lower-cased key.

    i2a_ASN1_INTEGER breaks serials longer than 35 octets with a backslash-newline, which
    _format deliberately does not reproduce: such serial lines are joined here.
    """
    res: dict[str, str] = {}
    lines = iter(out.split("\n"))
    for line in lines:
        if "=" in line:
            k, v = line.split("=", 1)
            while k == "serial" and v.endswith("\\"):
                v = v[:-1] + next(lines)
            res[k.lower()] = v
    return res


def _reference(der: bytes) -> dict[str, str]:
    """What OpenSSL prints for der: RFC 2253 and one-line names, serial, dates, SHA-256."""
    a = _openssl(
        der,
        "-nameopt",
        "RFC2253",
        "-subject",
        "-issuer",
        "-serial",
        "-startdate",
        "-enddate",
        "-fingerprint",
        "-sha256",
    )
    ref = _lines(a)
    b = _lines(_openssl(der, "-nameopt", "compat", "-subject", "-issuer"))
    return {
        "subject": ref["subject"],
        "issuer": ref["issuer"],
        "subject_oneline": b["subject"],
        "issuer_oneline": b["issuer"],
        "serial": ref["serial"],
        "nb": ref["notbefore"],
        "na": ref["notafter"],
        "sha256": ref["sha256 fingerprint"].replace(":", "").lower(),
    }


def _ours(der: bytes) -> dict[str, str]:
    """The same fields as formatted by fastmtls._format."""
    f = _fields(der)
    return {
        "subject": F.dn_rfc2253(f["subject"]),
        "issuer": F.dn_rfc2253(f["issuer"]),
        "subject_oneline": F.dn_oneline(f["subject"]),
        "issuer_oneline": F.dn_oneline(f["issuer"]),
        "serial": F.serial_hex(f["serial"]),
        "nb": F.asn1_time(f["nb"]),
        "na": F.asn1_time(f["na"]),
        "sha256": F.hex_lower(hashlib.sha256(der).digest()),
    }


def _check(der: bytes) -> None:
    """Assert that every field of der formats exactly as OpenSSL prints it."""
    assert _ours(der) == _reference(der)


def _check_name(name_der: bytes) -> dict[str, str]:
    """Assert both name forms of name_der match OpenSSL; return OpenSSL's output."""
    der = _raw_cert(name_der)
    ref = _lines(_openssl(der, "-nameopt", "RFC2253", "-subject"))
    one = _lines(_openssl(der, "-nameopt", "compat", "-subject"))
    assert F.dn_rfc2253(name_der) == ref["subject"]
    assert F.dn_oneline(name_der) == one["subject"]
    return {"rfc2253": ref["subject"], "oneline": one["subject"]}


# ---------------------------------------------------------------------------------------------
# Certificates from cryptography

_KEY = ed25519.Ed25519PrivateKey.generate()
_SPECIALS = ',+"\\<>;=/#  \x00\x01\x1f\x7f~'
_ALPHABET = _SPECIALS + "abcXYZ019-._'()*?!@" + "éßÿ\u0100€\u4e2d\ufffd" + "😀\U0010fffd"
_BMP_ALPHABET = _SPECIALS + "abcXYZ09-" + "éßÿ\u0100€\u4e2d\ufffd"
_PRINTABLE = "ABCxyz0189 '()+,-./:=?"


def _cert(
    subject: x509.Name,
    issuer: x509.Name | None = None,
    serial: int = 1,
    not_before: dt.datetime = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc),
    not_after: dt.datetime = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc),
    ski: bool = False,
) -> x509.Certificate:
    """Sign a certificate with cryptography."""
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject if issuer is None else issuer)
        .public_key(_KEY.public_key())
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    if ski:
        b = b.add_extension(x509.SubjectKeyIdentifier.from_public_key(_KEY.public_key()), False)
    return b.sign(_KEY, None)


def _attr(
    oid: x509.ObjectIdentifier, value: str, t: _ASN1Type | None = None
) -> x509.NameAttribute[str]:
    """A NameAttribute, optionally of an explicit string type, without length limits."""
    if t is None:
        return x509.NameAttribute(oid, value, _validate=False)
    return x509.NameAttribute(oid, value, _type=t, _validate=False)


def _random_name(rng: random.Random) -> x509.Name:
    """A random Name exercising types, specials, multi-valued RDNs and unknown OIDs."""

    def text(alphabet: str, lo: int = 0, hi: int = 12) -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(lo, hi)))

    def attribute() -> x509.NameAttribute[str]:
        kind = rng.randrange(9)
        oid = rng.choice(
            [
                NameOID.COMMON_NAME,
                NameOID.ORGANIZATION_NAME,
                NameOID.ORGANIZATIONAL_UNIT_NAME,
                NameOID.LOCALITY_NAME,
                NameOID.STATE_OR_PROVINCE_NAME,
                NameOID.TITLE,
                NameOID.SERIAL_NUMBER,
                NameOID.USER_ID,
                NameOID.GIVEN_NAME,
                NameOID.SURNAME,
                NameOID.STREET_ADDRESS,
                NameOID.BUSINESS_CATEGORY,
                NameOID.PSEUDONYM,
                x509.ObjectIdentifier("2.5.4.97"),
                x509.ObjectIdentifier("1.3"),
                x509.ObjectIdentifier("1.2.3.4.5"),
                x509.ObjectIdentifier("2.999.7"),
                x509.ObjectIdentifier("1.3.6.1.4.1.99999.1.2"),
            ]
        )
        if kind == 0:
            return _attr(NameOID.COUNTRY_NAME, rng.choice(["US", "DE", "JP", "  ", " A", "A "]))
        if kind == 1:
            return _attr(NameOID.EMAIL_ADDRESS, text("ab.@+-_ ,", 1), _ASN1Type.IA5String)
        if kind == 2:
            return _attr(NameOID.DOMAIN_COMPONENT, text("abc-.", 1), _ASN1Type.IA5String)
        if kind == 3:
            return _attr(oid, text(_BMP_ALPHABET), _ASN1Type.BMPString)
        if kind == 4:
            return _attr(oid, text(_ALPHABET), _ASN1Type.UniversalString)
        if kind == 5:
            return _attr(oid, text(_PRINTABLE), _ASN1Type.PrintableString)
        if kind == 6:
            return _attr(oid, text("abc é"), _ASN1Type.T61String)
        return _attr(oid, text(_ALPHABET), _ASN1Type.UTF8String)

    rdns = []
    for _ in range(rng.randint(0, 6)):
        attrs = {
            a.oid.dotted_string + a.value: a
            for a in (attribute() for _ in range(rng.choice([1, 1, 1, 2, 3])))
        }
        rdns.append(x509.RelativeDistinguishedName(list(attrs.values())))
    return x509.Name(rdns)


_CRAFTED: dict[str, x509.Name] = {
    "empty": x509.Name([]),
    "acme": x509.Name(
        [
            _attr(NameOID.COUNTRY_NAME, "US"),
            _attr(NameOID.STATE_OR_PROVINCE_NAME, "Texas"),
            _attr(NameOID.ORGANIZATION_NAME, "Acme, Inc."),
            _attr(NameOID.COMMON_NAME, "James"),
        ]
    ),
    "specials": x509.Name([_attr(NameOID.COMMON_NAME, ',+"\\<>;=/ # \x00\x1f\x7f')]),
    "leading_trailing": x509.Name(
        [
            _attr(NameOID.COMMON_NAME, "#hash"),
            _attr(NameOID.ORGANIZATION_NAME, " lead"),
            _attr(NameOID.ORGANIZATIONAL_UNIT_NAME, "trail "),
            _attr(NameOID.LOCALITY_NAME, "#"),
            _attr(NameOID.TITLE, " "),
            _attr(NameOID.SURNAME, "  "),
            _attr(NameOID.GIVEN_NAME, "a#"),
        ]
    ),
    "unicode": x509.Name(
        [
            _attr(NameOID.COMMON_NAME, "Jürgen Ω 中文 😀"),
            _attr(NameOID.ORGANIZATION_NAME, "é€中", _ASN1Type.BMPString),
            _attr(NameOID.ORGANIZATIONAL_UNIT_NAME, "é😀 ", _ASN1Type.UniversalString),
            _attr(NameOID.LOCALITY_NAME, "Zürich", _ASN1Type.T61String),
        ]
    ),
    "multivalued": x509.Name(
        [
            x509.RelativeDistinguishedName([_attr(NameOID.COUNTRY_NAME, "US")]),
            x509.RelativeDistinguishedName(
                [
                    _attr(NameOID.COMMON_NAME, "b"),
                    _attr(NameOID.USER_ID, "uid+1"),
                    _attr(NameOID.COMMON_NAME, "a/b"),
                    _attr(NameOID.SERIAL_NUMBER, "42"),
                ]
            ),
            x509.RelativeDistinguishedName([_attr(NameOID.DOMAIN_COMPONENT, "com")]),
        ]
    ),
    "types": x509.Name(
        [
            _attr(NameOID.COMMON_NAME, "Printable 1", _ASN1Type.PrintableString),
            _attr(NameOID.EMAIL_ADDRESS, "a.b+c@example.com", _ASN1Type.IA5String),
            _attr(NameOID.DOMAIN_COMPONENT, "example", _ASN1Type.IA5String),
            _attr(NameOID.DOMAIN_COMPONENT, "com", _ASN1Type.IA5String),
            _attr(NameOID.USER_ID, "jdoe"),
            _attr(NameOID.SERIAL_NUMBER, "ABC-123", _ASN1Type.PrintableString),
            _attr(NameOID.TITLE, "Dr."),
            _attr(NameOID.JURISDICTION_COUNTRY_NAME, "US"),
            _attr(NameOID.BUSINESS_CATEGORY, "Private Organization"),
            _attr(NameOID.COMMON_NAME, "123", _ASN1Type.NumericString),
            _attr(NameOID.COMMON_NAME, "vis", _ASN1Type.UTF8String),
        ]
    ),
    "unknown_oids": x509.Name(
        [
            _attr(x509.ObjectIdentifier("1.2.3.4.5"), "value"),
            _attr(x509.ObjectIdentifier("2.999.1"), "é", _ASN1Type.BMPString),
            _attr(x509.ObjectIdentifier("1.3"), "org"),
            _attr(x509.ObjectIdentifier("1.2.840.113549.1.9.99"), "x", _ASN1Type.PrintableString),
            _attr(
                x509.ObjectIdentifier(
                    "1.2." + ".".join(["4294967295"] * 9) + ".18446744073709551616"
                ),
                "long",
            ),
        ]
    ),
    "long": x509.Name(
        [_attr(NameOID.ORGANIZATIONAL_UNIT_NAME, f"unit {i} " * 20) for i in range(40)]
    ),
}


@needs_openssl
@pytest.mark.parametrize("key", sorted(_CRAFTED))
def test_crafted_names(key: str) -> None:
    """Crafted subjects (escaping, types, multi-valued RDNs, unknown OIDs) match OpenSSL."""
    issuer = x509.Name(
        [_attr(NameOID.COMMON_NAME, "Issuer, CA"), _attr(NameOID.COUNTRY_NAME, "DE")]
    )
    cert = _cert(_CRAFTED[key], issuer)
    der = cert.public_bytes(serialization.Encoding.DER)
    assert _fields(der)["subject"] == cert.subject.public_bytes()
    _check(der)


@needs_openssl
@pytest.mark.parametrize("seed", range(60))
def test_random_cryptography_certs(seed: int) -> None:
    """Random names, serials and validity dates in cryptography-built certificates match OpenSSL."""
    rng = random.Random(seed)
    epoch = dt.datetime(1950, 1, 1, tzinfo=dt.timezone.utc)
    nb = epoch + dt.timedelta(seconds=rng.randrange(100 * 365 * 86400))
    na = nb + dt.timedelta(seconds=rng.randrange(60 * 365 * 86400))
    serial = rng.choice([rng.getrandbits(rng.randint(1, 159)) or 1, rng.randint(1, 300)])
    cert = _cert(_random_name(rng), _random_name(rng), serial, nb, na)
    _check(cert.public_bytes(serialization.Encoding.DER))


@needs_openssl
def test_acme_legacy_and_rfc2253() -> None:
    """The FIELDS.md example: /C=US/ST=Texas/O=Acme, Inc./CN=James and its RFC 2253 form."""
    name = _CRAFTED["acme"].public_bytes()
    assert F.dn_oneline(name) == "/C=US/ST=Texas/O=Acme, Inc./CN=James"
    assert F.dn_rfc2253(name) == "CN=James,O=Acme\\, Inc.,ST=Texas,C=US"
    _check_name(name)


# ---------------------------------------------------------------------------------------------
# Names cryptography cannot build

CN = "2.5.4.3"
_RAW_NAMES: dict[str, bytes] = {
    "lone_hash": _name([_ava(CN, 0x0C, b"#")]),
    "lone_space": _name([_ava(CN, 0x0C, b" ")]),
    "hash_space": _name([_ava(CN, 0x0C, b"#a#")], [_ava(CN, 0x0C, b"  a  ")]),
    "bmp_first_last": _name([_ava(CN, 0x1E, " # ".encode("utf-16-be"))]),
    "univ_first_last": _name([_ava(CN, 0x1C, "#x ".encode("utf-32-be"))]),
    "empty_value": _name([_ava(CN, 0x0C, b"")], [_ava(CN, 0x1E, b"")]),
    "t61_latin1": _name([_ava(CN, 0x14, bytes(range(0x20, 0x100)))]),
    "printable_raw": _name([_ava(CN, 0x13, bytes(range(0x100)))]),
    "ia5_controls": _name([_ava("1.2.840.113549.1.9.1", 0x16, b"\x00\x1b[31m\r\n@x")]),
    "utf8_all_bytes": _name(
        [_ava(CN, 0x0C, "".join(map(chr, range(0x80))).encode() + "ÿ€".encode())]
    ),
    "bit_string": _name(
        [_ava(CN, 0x03, b"\x03\xff")], [_ava(CN, 0x03, b"\x05")], [_ava(CN, 0x03, b"\x00")]
    ),
    "sequence": _name([_ava(CN, 0x30, _tlv(2, b"\x05") + _tlv(0x0C, b"/+"))]),
    "other_tags": _name(*[[_ava(CN, t, b"A/+\x00")] for t in (7, 9, 13, 14, 15, 29)]),
    "constructed": _name(
        [_ava(CN, 0x2C, _tlv(4, b"ab") + _tlv(0x24, _tlv(4, b"c")) + _tlv(0x81, b"d"))],
        [_ava(CN, 0x28, _tlv(4, b"ext"))],
        [_ava(CN, 0x23, _tlv(3, b"\x01\xff"))],
    ),
    "unknown_types": _name(
        [_ava("1.2.3.4.5", 0x1E, b"\x00a")],
        [_ava("1.2.3.4.5", 0x30, _tlv(5, b""))],
        [_ava("1.2.3.4.5", 0x03, b"\x01\xff")],
        [_ava("1.2.3.4.5", 0x2C, _tlv(4, b"ab"))],
        [_ava("1.2.3.4.5", 0x0C, b"x" * 300)],
    ),
    "oid_forms": _name(
        [_ava("2.999.1", 0x0C, b"x")],
        [_ava("2." + str(2**70), 0x0C, b"x")],
        [_ava("1.2." + str(2**70) + ".5", 0x0C, b"x")],
        [_ava("0.0", 0x0C, b"x")],
        [_ava("1.3", 0x0C, b"x")],
    ),
    "oid_truncated": _name([_ava("1.2." + ".".join(["123456789"] * 12), 0x0C, b"x")]),
    "oid_586": _name([_ava("1.2." + ".".join(["127"] * 585), 0x0C, b"x")]),
    "oid_587": _name([_ava("1.2." + ".".join(["127"] * 586), 0x0C, b"x")]),
    "empty_rdn": _name([_ava(CN, 0x0C, b"a")], [], [_ava(CN, 0x0C, b"b")]),
    "multivalued_order": _name(
        [_ava("2.5.4.6", 0x13, b"US")],
        [_ava(CN, 0x0C, b"z"), _ava("2.5.4.10", 0x0C, b"a"), _ava(CN, 0x0C, b"a")],
        [_ava(CN, 0x0C, b"+"), _ava("1.2.3.4", 0x0C, b"+")],
    ),
}


@needs_openssl
@pytest.mark.parametrize("key", sorted(_RAW_NAMES))
def test_raw_names(key: str) -> None:
    """Hand-encoded names (value types, escapes, OID edge cases) match OpenSSL byte for byte."""
    _check_name(_RAW_NAMES[key])


@needs_openssl
def test_quirks_pinned() -> None:
    """OpenSSL quirks stay pinned: lone '#', T61 as Latin-1, raw BMP octets in the one-line form."""
    assert _check_name(_RAW_NAMES["lone_hash"]) == {"rfc2253": "CN=#", "oneline": "/CN=#"}
    assert _check_name(_RAW_NAMES["lone_space"]) == {"rfc2253": "CN=\\ ", "oneline": "/CN= "}
    t61 = _name([_ava(CN, 0x14, b"\xe9")])
    assert _check_name(t61) == {"rfc2253": "CN=\\C3\\A9", "oneline": "/CN=\\xE9"}
    bmp = _name([_ava(CN, 0x1E, "aé".encode("utf-16-be"))])
    assert _check_name(bmp) == {"rfc2253": "CN=a\\C3\\A9", "oneline": "/CN=\\x00a\\x00\\xE9"}
    bits = _check_name(_RAW_NAMES["bit_string"])
    assert bits["rfc2253"] == "CN=#030100,CN=#030100,CN=#030203F8"
    mv = _check_name(_RAW_NAMES["multivalued_order"])
    assert mv["oneline"] == "/C=US/CN=z+O=a+CN=a/CN=\\++1.2.3.4=\\+"


@needs_openssl
def test_every_known_oid() -> None:
    """Each OID of the generated table prints with OpenSSL's own short name."""
    oids = sorted(SHORT_NAMES)
    assert len(oids) > 1000
    name = _seq(*[_tlv(0x31, _seq(_tlv(6, o), _tlv(0x0C, b"v"))) for o in oids])
    _check_name(name)
    assert F.dn_oneline(name).startswith("/" + SHORT_NAMES[oids[0]] + "=v/")


_OBJ_MAC = Path("/usr/include/openssl/obj_mac.h")


def _header_version() -> str | None:
    """OPENSSL_VERSION_TEXT of the installed headers, if any."""
    opensslv = _OBJ_MAC.with_name("opensslv.h")
    if not opensslv.exists():
        return None
    for line in opensslv.read_text().splitlines():
        if "define OPENSSL_VERSION_TEXT" in line:
            return line.split('"')[1]
    return None


_TABLE_VERSION = importlib.import_module(F.__package__ + "._oids").OPENSSL_VERSION_TEXT


def _series(version_text: str | None) -> str | None:
    """"3.0" of "OpenSSL 3.0.19 27 Jan 2026": a release series keeps its object table."""
    return ".".join(version_text.split()[1].split(".")[:2]) if version_text else None


@pytest.mark.skipif(
    _series(_header_version()) != _series(_TABLE_VERSION),
    reason="installed OpenSSL headers are of another release series than the table's",
)
def test_oid_table_is_generated(tmp_path: Path) -> None:
    """src/fastmtls/_oids.py is what tools/gen_oids.py makes from this machine's obj_mac.h
    (the same objects in a patch release of the same series; only the version named differs)."""
    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "_oids.py"
    subprocess.run(
        [sys.executable, str(root / "tools" / "gen_oids.py"), "--output", str(out)],
        check=True,
        capture_output=True,
    )
    made, committed = out.read_text(), (root / "src" / "fastmtls" / "_oids.py").read_text()
    header = _header_version()
    assert header is not None
    assert made.replace(header, _TABLE_VERSION) == committed


# ---------------------------------------------------------------------------------------------
# Random names (hypothesis)

_KNOWN = [
    "2.5.4.3",
    "2.5.4.6",
    "2.5.4.10",
    "2.5.4.11",
    "2.5.4.5",
    "2.5.4.12",
    "2.5.4.97",
    "0.9.2342.19200300.100.1.1",
    "0.9.2342.19200300.100.1.25",
    "1.2.840.113549.1.9.1",
    "1.3",
    "1.3.6.1.4.1.311.60.2.1.3",
]
_TRICKY = st.text(alphabet=st.sampled_from(list(_SPECIALS + "aZ9é€\u4e2d😀")), max_size=8)
_ANY_TEXT = st.text(max_size=12).map(
    lambda s: s.encode("utf-8", "replace").decode("utf-8", "replace")
)


def _values() -> st.SearchStrategy[tuple[int, bytes]]:
    """(tag, content) pairs for values of every type OpenSSL accepts in a name."""
    text = st.one_of(_TRICKY, _ANY_TEXT)
    bmp = text.map(
        lambda s: "".join(c for c in s if c < "\U00010000" and not "\ud800" <= c <= "\udfff")
    )
    return st.one_of(
        text.map(lambda s: (0x0C, s.encode())),
        bmp.map(lambda s: (0x1E, s.encode("utf-16-be"))),
        text.map(lambda s: (0x1C, s.encode("utf-32-be"))),
        st.tuples(st.sampled_from([0x12, 0x13, 0x14, 0x16]), st.binary(max_size=10)),
        st.binary(max_size=6).map(lambda b: (0x03, b"\x00" + b)),
        st.binary(max_size=6).map(lambda b: (0x30, _tlv(4, b))),
        st.tuples(st.sampled_from([7, 9, 13, 14, 15, 29]), st.binary(max_size=6)),
    )


_OIDS = st.one_of(
    st.sampled_from(_KNOWN),
    st.lists(st.integers(0, 2**40), min_size=1, max_size=6).map(
        lambda a: "1.2." + ".".join(map(str, a))
    ),
)
_RDN = st.lists(st.tuples(_OIDS, _values()), min_size=1, max_size=3)


@needs_openssl
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_RDN, max_size=6), st.binary(min_size=1, max_size=24))
def test_hypothesis_names(rdns: list[list[tuple[str, tuple[int, bytes]]]], serial: bytes) -> None:
    """Random names of every accepted value type, and random serials, match OpenSSL."""
    name = _name(*[[_ava(o, t, v) for o, (t, v) in rdn] for rdn in rdns])
    while len(serial) > 1 and serial[0] in (0, 0xFF) and (serial[0] ^ serial[1]) < 0x80:
        serial = serial[1:]  # keep it minimal (OpenSSL refuses padded INTEGERs)
    _check(_raw_cert(name, _name([_ava(CN, 0x0C, b"issuer")]), serial=serial))


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=64), st.data())
def test_garbage_never_crashes(noise: bytes, data: st.DataObject) -> None:
    """Malformed or mutated names raise ValueError, never anything else."""
    base = data.draw(st.sampled_from(sorted(_RAW_NAMES.values())))
    pos = data.draw(st.integers(0, len(base)))
    for blob in (noise, base[:pos] + noise + base[pos + len(noise) :], base[:pos], _seq(noise)):
        for fn in (F.dn_rfc2253, F.dn_oneline):
            try:
                assert isinstance(fn(blob), str)
            except ValueError:
                pass
    try:
        assert isinstance(F.serial_hex(noise), str)
    except ValueError:
        pass


def test_rejects_malformed() -> None:
    """Structures OpenSSL (or DER) refuses raise ValueError."""
    bad = [
        b"",
        b"\x30",
        b"\x30\x00\x00",
        b"\x31\x00",
        b"\x30\x80\x00\x00",
        _seq(_tlv(0x31, _seq(_oid(CN)))),
        _name([_seq(_oid(CN), _tlv(0x0C, b"x"), _tlv(0x0C, b"y"))]),
        _name([_seq(_tlv(6, b"\x2a\x80\x01"), _tlv(0x0C, b"x"))]),
        _name([_seq(_tlv(6, b"\x2a\x81"), _tlv(0x0C, b"x"))]),
        _name([_ava(CN, 0x1A, b"visible")]),
        _name([_ava(CN, 0x04, b"octets")]),
        _name([_ava(CN, 0x10, b"primitive sequence")]),
        _name([_ava(CN, 0x1E, b"\x00a\x00")]),
        _name([_ava(CN, 0x1C, b"\x00\x00a")]),
        _name([_ava(CN, 0x03, b"")]),
        _name([_ava(CN, 0x03, b"\x08\x00")]),
        _name([_seq(_oid(CN), b"\x0c\x81\x01x")]),  # non-minimal length
        _name([_seq(_oid(CN), b"\x1f\x20\x01x")]),  # high tag number
    ]
    for blob in bad:
        for fn in (F.dn_rfc2253, F.dn_oneline):
            with pytest.raises(ValueError):
                fn(blob)
    for serial in (b"", b"\x00\x01", b"\xff\x80"):
        with pytest.raises(ValueError):
            F.serial_hex(serial)


# ---------------------------------------------------------------------------------------------
# Serials, dates, fingerprints, SKI, RFC 9440

_SERIALS = [
    0,
    1,
    0x7F,
    0x80,
    0xFF,
    0x100,
    0x7FFF,
    0x8000,
    2**64,
    2**159,
    2**159 - 1,
    -1,
    -0x7F,
    -0x80,
    -0x81,
    -0xFF,
    -0x100,
    -0x8000,
    -(2**64),
    256**36,
    256**70 + 1,
]


@needs_openssl
@pytest.mark.parametrize("serial", _SERIALS)
def test_serials(serial: int) -> None:
    """Zero, small, sign-padded, negative and very long serials match i2a_ASN1_INTEGER."""
    content = serial.to_bytes((serial + (serial < 0)).bit_length() // 8 + 1, "big", signed=True)
    der = _raw_cert(_name([_ava(CN, 0x0C, b"s")]), serial=content)
    assert F.serial_hex(content) == _reference(der)["serial"]
    if 0 < serial < 2**159:
        cert = _cert(x509.Name([]), serial=serial)
        _check(cert.public_bytes(serialization.Encoding.DER))


def test_serial_values() -> None:
    """Serial strings for hand-checked values (no openssl needed)."""
    cases = {
        b"\x00": "00",
        b"\x01": "01",
        b"\x00\x80": "80",
        b"\x80": "-80",
        b"\xff": "-01",
        b"\xff\x7f": "-81",
        b"\xff\x00": "-0100",
        b"\x0f": "0F",
    }
    for content, text in cases.items():
        assert F.serial_hex(content) == text


_TIMES = [
    _utc("500101000000Z"),
    _utc("491231235959Z"),
    _utc("220301133500Z"),
    _utc("000229120000Z"),
    _utc("991231235959Z"),
    _utc("700101000000Z"),
    _gen("19491231235959Z"),
    _gen("20500101000000Z"),
    _gen("00010101000000Z"),
    _gen("09991231235959Z"),
    _gen("99991231235959Z"),
    _gen("19000228000000Z"),
    _gen("21000301000001Z"),
    _gen("16000229000000Z"),
]


@needs_openssl
@pytest.mark.parametrize("time", _TIMES, ids=lambda t: t[2:].decode())
def test_raw_times(time: bytes) -> None:
    """UTCTime and GeneralizedTime validity in any year prints as ASN1_TIME_print does."""
    _check(_raw_cert(_name([_ava(CN, 0x0C, b"t")]), not_before=time, not_after=time))


@needs_openssl
@pytest.mark.parametrize("day", [1, 2, 9, 10, 28, 31])
def test_cryptography_times(day: int) -> None:
    """Dates on single- and double-digit days, UTCTime and GeneralizedTime, match OpenSSL."""
    nb = dt.datetime(1950, 1, day, 0, 0, 1, tzinfo=dt.timezone.utc)
    na = dt.datetime(2050, 12, day, 23, 59, 59, tzinfo=dt.timezone.utc)
    der = _cert(x509.Name([]), not_before=nb, not_after=na).public_bytes(serialization.Encoding.DER)
    _check(der)
    assert F.asn1_time(calendar.timegm(nb.timetuple())) == f"Jan {day:2d} 00:00:01 1950 GMT"


def test_time_values() -> None:
    """asn1_time on hand-checked instants, year 0 and out-of-range values."""
    assert F.asn1_time(1646141700) == "Mar  1 13:35:00 2022 GMT"
    assert F.asn1_time(0) == "Jan  1 00:00:00 1970 GMT"
    assert F.asn1_time(-1) == "Dec 31 23:59:59 1969 GMT"
    assert F.asn1_time(-62167219200) == "Jan  1 00:00:00 0 GMT"
    assert F.asn1_time(253402300799) == "Dec 31 23:59:59 9999 GMT"
    for bad in (-62167219201, 253402300800):
        with pytest.raises(ValueError):
            F.asn1_time(bad)


@needs_openssl
def test_year_zero() -> None:
    """GeneralizedTime year 0000 prints as year 0, as OpenSSL does."""
    der = _raw_cert(_name(), not_before=_gen("00000101000000Z"))
    assert F.asn1_time(-62167219200) == _lines(_openssl(der, "-startdate"))["notbefore"]


@needs_openssl
def test_fingerprints_and_ski() -> None:
    """SHA-1/SHA-256 fingerprints (lower hex) and the SKI (upper hex) match openssl."""
    cert = _cert(_CRAFTED["acme"], ski=True)
    der = cert.public_bytes(serialization.Encoding.DER)
    for algo, h in (("-sha1", hashes.SHA1()), ("-sha256", hashes.SHA256())):
        out = _openssl(der, "-fingerprint", algo).split("=", 1)[1].strip()
        assert F.hex_lower(cert.fingerprint(h)) == out.replace(":", "").lower()
    ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    out = _openssl(der, "-ext", "subjectKeyIdentifier")
    assert F.hex_upper(ski) == out.strip().splitlines()[-1].strip().replace(":", "")


def test_hex() -> None:
    """hex_upper/hex_lower are plain hex without separators."""
    assert F.hex_upper(b"\x00\xab\x0f") == "00AB0F"
    assert F.hex_lower(b"\x00\xab\x0f") == "00ab0f"
    assert F.hex_upper(b"") == F.hex_lower(b"") == ""


def test_rfc9440() -> None:
    """Client-Cert is :base64(DER): (padded) and Client-Cert-Chain joins with ', '."""
    certs = [_cert(_CRAFTED[k]) for k in ("acme", "types")]
    ders = [c.public_bytes(serialization.Encoding.DER) for c in certs]
    for c, d in zip(certs, ders):
        pem = c.public_bytes(serialization.Encoding.PEM).decode().splitlines()
        assert F.rfc9440(d) == ":" + "".join(pem[1:-1]) + ":"
        assert base64.b64decode(F.rfc9440(d)[1:-1], validate=True) == d
    assert F.rfc9440(b"\x01\x02") == ":AQI=:"
    assert F.rfc9440_chain(ders) == F.rfc9440(ders[0]) + ", " + F.rfc9440(ders[1])
    assert F.rfc9440_chain([]) == ""
