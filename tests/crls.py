"""Test CRL factory: CRLs with every knob a revocation test needs.

``crl()`` builds with pyca/cryptography's ``CertificateRevocationListBuilder`` (entries with reason
codes and dates, cRLNumber, deltaCRLIndicator, issuingDistributionPoint, AKI, nextUpdate, signed
with any key and hash). ``raw_crl()`` writes the DER by hand for what the builder refuses or
what must be fast: v1 CRLs, no nextUpdate, removeFromCRL in a base CRL, certificateIssuer
entries, arbitrary extensions; ``big_crl()`` writes a million entries in about a second. Mutators
(``truncate``, ``flip_signature_bit``, ``flip_tbs_bit``, ``resign``) damage or re-sign a CRL.

All dates default relative to ``pki.NOW``: thisUpdate a day before, nextUpdate a week after,
revocation dates ten days before.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Literal, Union

import der as _der
import pki
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ObjectIdentifier

__all__ = [
    "NEXT_UPDATE", "REASON_FLAGS", "REVOKED_AT", "SERIAL_LEN", "THIS_UPDATE", "BigCRL", "RawExt",
    "Revoked", "Scope", "big_crl", "cdp_ext", "certificate_issuer_ext", "crl", "crl_number_ext",
    "crl_uri",
    "delta_ext", "der_integer", "der_oid", "der_time", "enc", "flip_signature_bit",
    "flip_tbs_bit", "idp", "random_serials", "raw_crl", "raw_entry", "raw_ext", "reason_ext",
    "resign", "sig_alg", "sign_tbs", "split_crl", "truncate",
]  # fmt: skip

UTC = timezone.utc
THIS_UPDATE = pki.NOW - timedelta(days=1)
NEXT_UPDATE = pki.NOW + timedelta(days=7)
REVOKED_AT = pki.NOW - timedelta(days=10)

# CRLReason code (RFC 5280 5.3.1) -> cryptography's enum (7 is unused).
REASON_FLAGS: dict[int, x509.ReasonFlags] = {
    0: x509.ReasonFlags.unspecified, 1: x509.ReasonFlags.key_compromise,
    2: x509.ReasonFlags.ca_compromise, 3: x509.ReasonFlags.affiliation_changed,
    4: x509.ReasonFlags.superseded, 5: x509.ReasonFlags.cessation_of_operation,
    6: x509.ReasonFlags.certificate_hold, 8: x509.ReasonFlags.remove_from_crl,
    9: x509.ReasonFlags.privilege_withdrawn, 10: x509.ReasonFlags.aa_compromise,
}  # fmt: skip

Scope = Literal["all", "user", "ca", "attribute"]
SerialLike = Union[int, pki.Cert, "Revoked"]


@dataclass(frozen=True)
class Revoked:
    """One revokedCertificates entry: serial, revocationDate, optional CRLReason code (None = no
    reasonCode extension) and invalidityDate."""

    serial: int
    date: datetime = REVOKED_AT
    reason: int | None = None
    invalidity: datetime | None = None

    @classmethod
    def of(cls, item: SerialLike) -> Revoked:
        """A Revoked from an int serial, a pki.Cert (its serial) or a Revoked."""
        if isinstance(item, Revoked):
            return item
        if isinstance(item, pki.Cert):
            return cls(item.cert.serial_number)
        return cls(int(item))


def crl_uri(name: str) -> str:
    """The distribution point URI of partition ``name`` (``http://crl.example.com/<name>.crl``)."""
    return f"http://crl.example.com/{name}.crl"


def cdp_ext(*names: x509.GeneralName | str, reasons: Iterable[x509.ReasonFlags] | None = None,
            crl_issuer: Sequence[x509.GeneralName] | None = None,
            relative: x509.RelativeDistinguishedName | None = None,
            ) -> tuple[x509.CRLDistributionPoints, bool]:
    """A cRLDistributionPoints extension (for ``pki.leaf(extra_extensions=[...])``) with one
    distribution point: fullName ``names`` (a str is a partition name for :func:`crl_uri`), or
    ``relative`` (nameRelativeToCRLIssuer), optionally ``reasons`` and ``crl_issuer``."""
    full = [x509.UniformResourceIdentifier(crl_uri(n)) if isinstance(n, str) else n
            for n in names] or None
    dp = x509.DistributionPoint(full, relative if full is None else None,
                                frozenset(reasons) if reasons is not None else None, crl_issuer)
    return x509.CRLDistributionPoints([dp]), False


def idp(
    scope: Scope = "all",
    *,
    indirect: bool = False,
    reasons: Iterable[x509.ReasonFlags] | None = None,
    uri: str | None = "http://crl.example.com/ca.crl",
    relative: x509.RelativeDistinguishedName | None = None,
) -> x509.IssuingDistributionPoint:
    """An IssuingDistributionPoint with one of the "only" scopes, a distribution point URI,
    optionally onlySomeReasons and indirectCRL."""
    return x509.IssuingDistributionPoint(
        full_name=[x509.UniformResourceIdentifier(uri)] if uri and relative is None else None,
        relative_name=relative,
        only_contains_user_certs=scope == "user",
        only_contains_ca_certs=scope == "ca",
        only_some_reasons=frozenset(reasons) if reasons is not None else None,
        indirect_crl=indirect,
        only_contains_attribute_certs=scope == "attribute",
    )


def _hash(key: pki.PrivateKey, name: pki.HashName | None) -> hashes.HashAlgorithm | None:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return None
    if name is None:
        bits = key.curve.key_size if isinstance(key, ec.EllipticCurvePrivateKey) else 0
        name = "sha512" if bits == 521 else "sha384" if bits == 384 else "sha256"
    return _HASHES[name]()


_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1, "sha224": hashes.SHA224, "sha256": hashes.SHA256,
    "sha384": hashes.SHA384, "sha512": hashes.SHA512,
}  # fmt: skip


def crl(
    issuer: pki.Cert,
    entries: Iterable[SerialLike] = (),
    *,
    number: int | None = 1,
    base: int | None = None,
    scope: Scope | None = None,
    issuing_dp: x509.IssuingDistributionPoint | None = None,
    this_update: datetime = THIS_UPDATE,
    next_update: datetime = NEXT_UPDATE,
    aki: bool | bytes = True,
    issuer_name: pki.NameSpec | None = None,
    key: pki.PrivateKey | None = None,
    hash: pki.HashName | None = None,
    extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
    rsa_pss: bool = False,
) -> bytes:
    """A DER CRL issued by ``issuer`` (signed with its key unless ``key``), revoking ``entries``.

    ``number`` is the cRLNumber (None leaves it out), ``base`` makes it a delta CRL
    (deltaCRLIndicator BaseCRLNumber), ``scope`` adds an IDP with that "only" flag (or pass a
    whole ``issuing_dp``), ``aki`` False leaves the AKI out and bytes force its key identifier,
    ``issuer_name`` overrides the issuer DN, ``rsa_pss`` signs with RSASSA-PSS. The builder always
    writes a v2 CRL with nextUpdate.
    """
    sign_key = key if key is not None else issuer.key
    name = pki.parse_name(issuer_name) if issuer_name is not None else issuer.cert.subject
    b = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(name)
        .last_update(this_update)
        .next_update(next_update)
    )
    if number is not None:
        b = b.add_extension(x509.CRLNumber(number), False)
    if base is not None:
        b = b.add_extension(x509.DeltaCRLIndicator(base), True)
    if scope is not None and issuing_dp is None:
        # a scope alone: no distribution point name (a CRL naming one covers only the
        # certificates whose cRLDistributionPoints name it); "all" needs one to be an IDP at all
        issuing_dp = idp(scope, uri=crl_uri("ca") if scope == "all" else None)
    if issuing_dp is not None:
        b = b.add_extension(issuing_dp, True)
    if aki:
        if isinstance(aki, bytes):
            b = b.add_extension(x509.AuthorityKeyIdentifier(aki, None, None), False)
        else:
            try:
                ski = issuer.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
                value = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski.value)
            except x509.ExtensionNotFound:
                value = x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    issuer.key.public_key()
                )
            b = b.add_extension(value, False)
    for ext, critical in extensions:
        b = b.add_extension(ext, critical)
    for item in entries:
        e = Revoked.of(item)
        rb = x509.RevokedCertificateBuilder().serial_number(e.serial).revocation_date(e.date)
        if e.reason is not None:
            rb = rb.add_extension(x509.CRLReason(REASON_FLAGS[e.reason]), False)
        if e.invalidity is not None:
            rb = rb.add_extension(x509.InvalidityDate(e.invalidity.replace(tzinfo=None)), False)
        b = b.add_revoked_certificate(rb.build())
    h = _hash(sign_key, hash)
    pad = padding.PSS(mgf=padding.MGF1(h), salt_length=padding.PSS.DIGEST_LENGTH) if (
        rsa_pss and h is not None) else None
    signed = b.sign(sign_key, h, rsa_padding=pad)  # type: ignore[arg-type]
    return signed.public_bytes(Encoding.DER)


# --- raw DER -----------------------------------------------------------------------------------

enc = _der.enc


def der_integer(value: int) -> bytes:
    """INTEGER TLV (two's complement, minimal)."""
    n = (value.bit_length() + 8) // 8 if value >= 0 else (value + 1).bit_length() // 8 + 1
    return enc(0x02, value.to_bytes(max(n, 1), "big", signed=True))


def der_oid(dotted: str | ObjectIdentifier) -> bytes:
    """OBJECT IDENTIFIER TLV."""
    s = dotted.dotted_string if isinstance(dotted, ObjectIdentifier) else dotted
    arcs = [int(a) for a in s.split(".")]
    body = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:  # the first two arcs share one subidentifier
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body += bytes(reversed(chunk))
    return enc(0x06, bytes(body))


def der_time(t: datetime) -> bytes:
    """RFC 5280 Time: UTCTime through 2049, GeneralizedTime from 2050."""
    t = t.astimezone(UTC)
    if 1950 <= t.year < 2050:
        return enc(0x17, t.strftime("%y%m%d%H%M%SZ").encode())
    return enc(0x18, t.strftime("%Y%m%d%H%M%SZ").encode())


@dataclass(frozen=True)
class RawExt:
    """An Extension: OID, critical flag, extnValue content (the DER inside the OCTET STRING)."""

    oid: str
    critical: bool
    value: bytes

    @property
    def der(self) -> bytes:
        crit = b"\x01\x01\xff" if self.critical else b""
        return enc(0x30, der_oid(self.oid) + crit + enc(0x04, self.value))


def raw_ext(ext: x509.ExtensionType, critical: bool = False) -> RawExt:
    """A cryptography extension value as a RawExt (its DER from ``public_bytes``)."""
    return RawExt(ext.oid.dotted_string, critical, ext.public_bytes())


def crl_number_ext(n: int, critical: bool = False) -> RawExt:
    """cRLNumber (2.5.29.20)."""
    return RawExt("2.5.29.20", critical, der_integer(n))


def delta_ext(base: int) -> RawExt:
    """deltaCRLIndicator (2.5.29.27, critical) naming BaseCRLNumber ``base``."""
    return RawExt("2.5.29.27", True, der_integer(base))


def reason_ext(code: int) -> RawExt:
    """CRL entry reasonCode (2.5.29.21): any code, removeFromCRL or 7 included."""
    return RawExt("2.5.29.21", False, enc(0x0A, bytes([code])))


def certificate_issuer_ext(name: x509.Name, critical: bool = True) -> RawExt:
    """CRL entry certificateIssuer (2.5.29.29): one directoryName (indirect CRLs)."""
    return RawExt("2.5.29.29", critical, enc(0x30, enc(0xA4, name.public_bytes())))


def raw_entry(serial: int, date: datetime = REVOKED_AT, *, reason: int | None = None,
              extensions: Sequence[RawExt] = (), serial_der: bytes | None = None,
              raw_extensions: bytes | None = None) -> bytes:
    """One revokedCertificates entry DER: any reason code (removeFromCRL, 7, ...) as a
    reasonCode extension; ``serial_der`` overrides the INTEGER TLV (e.g. a non-minimal
    encoding); ``raw_extensions`` is written verbatim as crlEntryExtensions (whole TLV)."""
    exts = list(extensions)
    if reason is not None:
        exts.insert(0, reason_ext(reason))
    body = (serial_der or der_integer(serial)) + der_time(date)
    if raw_extensions is not None:
        body += raw_extensions
    elif exts:
        body += enc(0x30, b"".join(e.der for e in exts))
    return enc(0x30, body)


def sig_alg(key: pki.PrivateKey, hash: pki.HashName | None = None) -> bytes:
    """The signature AlgorithmIdentifier DER for ``key`` and ``hash`` (RSA: PKCS#1 v1.5)."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return bytes.fromhex("300506032b6570")
    h = _hash(key, hash)
    assert h is not None
    if isinstance(key, ec.EllipticCurvePrivateKey):
        oid = {"sha1": "1.2.840.10045.4.1", "sha224": "1.2.840.10045.4.3.1",
               "sha256": "1.2.840.10045.4.3.2", "sha384": "1.2.840.10045.4.3.3",
               "sha512": "1.2.840.10045.4.3.4"}[h.name]  # fmt: skip
        return enc(0x30, der_oid(oid))
    oid = {"sha1": "1.2.840.113549.1.1.5", "sha224": "1.2.840.113549.1.1.14",
           "sha256": "1.2.840.113549.1.1.11", "sha384": "1.2.840.113549.1.1.12",
           "sha512": "1.2.840.113549.1.1.13"}[h.name]  # fmt: skip
    return enc(0x30, der_oid(oid) + b"\x05\x00")


def sign_tbs(tbs: bytes, key: pki.PrivateKey, hash: pki.HashName | None = None) -> bytes:
    """The signature of ``tbs`` (ECDSA, RSA PKCS#1 v1.5 or Ed25519)."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(tbs)
    h = _hash(key, hash)
    assert h is not None
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(tbs, ec.ECDSA(h))
    assert isinstance(key, rsa.RSAPrivateKey)
    return key.sign(tbs, padding.PKCS1v15(), h)


def _assemble(tbs: bytes, alg: bytes, key: pki.PrivateKey, hash: pki.HashName | None) -> bytes:
    sig = sign_tbs(tbs, key, hash)
    return enc(0x30, tbs + alg + enc(0x03, b"\x00" + sig))


def raw_crl(
    issuer: pki.Cert | bytes,
    entries: Iterable[bytes] = (),
    *,
    key: pki.PrivateKey | None = None,
    hash: pki.HashName | None = None,
    version: int = 2,
    this_update: datetime = THIS_UPDATE,
    next_update: datetime | None = NEXT_UPDATE,
    extensions: Sequence[RawExt] | None = None,
    number: int | None = 1,
    empty_revoked: bool = False,
    raw_extensions: bytes | None = None,
) -> bytes:
    """A CRL written by hand and signed: ``issuer`` is the issuing pki.Cert (its subject and
    key) or a Name DER (then ``key`` is required). ``entries`` are ``raw_entry()`` DERs.

    ``extensions`` None means a cRLNumber ``number`` (v2 only); pass [] for none at all (a v1
    CRL must have none). ``version`` 1 omits the version field, any other writes INTEGER
    version-1 (3 is invalid). ``next_update`` None leaves it out. ``empty_revoked`` writes an
    empty revokedCertificates SEQUENCE instead of omitting it. ``raw_extensions`` is written
    verbatim as the content of crlExtensions [0] (e.g. an empty SEQUENCE).
    """
    if isinstance(issuer, pki.Cert):
        name_der = issuer.cert.subject.public_bytes()
        sign_key = key if key is not None else issuer.key
    else:
        if key is None:
            raise ValueError("raw_crl with a Name DER needs key=")
        name_der, sign_key = issuer, key
    alg = sig_alg(sign_key, hash)
    if extensions is None:
        extensions = [crl_number_ext(number)] if number is not None and version == 2 else []
    body = der_integer(version - 1) if version != 1 else b""
    body += alg + name_der + der_time(this_update)
    if next_update is not None:
        body += der_time(next_update)
    revoked = b"".join(entries)
    if revoked or empty_revoked:
        body += enc(0x30, revoked)
    if raw_extensions is not None:
        body += enc(0xA0, raw_extensions)
    elif extensions:
        body += enc(0xA0, enc(0x30, b"".join(e.der for e in extensions)))
    return _assemble(enc(0x30, body), alg, sign_key, hash)


# --- mutators ----------------------------------------------------------------------------------

def split_crl(der: bytes) -> tuple[bytes, bytes, bytes]:
    """CRL DER -> (tbsCertList, signatureAlgorithm, signature BIT STRING), whole TLVs."""
    return _der.split_signed(der, "CRL")


def truncate(der: bytes, n: int) -> bytes:
    """The first ``n`` bytes."""
    return der[:n]


def flip_signature_bit(der: bytes) -> bytes:
    """CRL DER with one bit flipped in the last octet of the signature."""
    split_crl(der)
    return der[:-1] + bytes([der[-1] ^ 0x01])


def flip_tbs_bit(der: bytes) -> bytes:
    """CRL DER with bit 0 of thisUpdate's last seconds digit flipped: still well formed and
    issued by the same CA, but the signature no longer matches."""
    tbs, _, _ = split_crl(der)
    elems = _der.elements(tbs)
    first = 1 if tbs[elems[0][0]] == 0x02 else 0  # skip the version
    off, n = elems[first + 2]  # signature, issuer, thisUpdate
    _, hl, _ = _der.header(der, 0)
    out = bytearray(der)
    out[hl + off + n - 2] ^= 0x01  # the digit before "Z"
    return bytes(out)


def resign(der: bytes, key: pki.PrivateKey, edit: Callable[[bytes], bytes] = bytes, *,
           hash: pki.HashName | None = None) -> bytes:
    """Apply ``edit`` to the tbsCertList DER and sign it again with ``key`` (the algorithm
    identifier is kept, so ``hash`` must match it)."""
    tbs, alg, _ = split_crl(der)
    return _assemble(edit(tbs), alg, key, hash)


# --- big CRLs ----------------------------------------------------------------------------------

SERIAL_LEN = 16  # octets per generated serial (real CAs use 16-20)


@dataclass(frozen=True)
class BigCRL:
    """A generated CRL and its serials (``SERIAL_LEN`` octets each, positive, minimal)."""

    der: bytes
    serials: bytes = field(repr=False)

    def __len__(self) -> int:
        return len(self.serials) // SERIAL_LEN

    def serial(self, i: int) -> int:
        """The ``i``-th revoked serial."""
        return int.from_bytes(self.serials[i * SERIAL_LEN : (i + 1) * SERIAL_LEN], "big")


def random_serials(n: int, seed: int = 0) -> bytes:
    """``n`` random ``SERIAL_LEN``-octet serials, concatenated, each a positive minimal INTEGER
    content (first octet 0x01..0x7F)."""
    raw = bytearray(random.Random(seed).randbytes(n * SERIAL_LEN))
    table = bytes((x % 0x7F) + 1 for x in range(256))
    raw[0::SERIAL_LEN] = bytes(raw[0::SERIAL_LEN]).translate(table)
    return bytes(raw)


def big_crl(
    issuer: pki.Cert,
    n: int,
    *,
    seed: int = 0,
    serials: bytes | None = None,
    number: int = 1,
    date: datetime = REVOKED_AT,
    this_update: datetime = THIS_UPDATE,
    next_update: datetime = NEXT_UPDATE,
    hash: pki.HashName | None = None,
) -> BigCRL:
    """A v2 CRL by ``issuer`` with ``n`` entries (random serials from ``seed``, or ``serials``:
    n * SERIAL_LEN octets), all revoked at ``date`` without entry extensions. The
    TBSCertList is written with strided bytearray stores, not per entry: 1,000,000 entries take
    about a second to generate and sign."""
    ser = serials if serials is not None else random_serials(n, seed)
    if len(ser) != n * SERIAL_LEN or any(not 0 < b < 0x80 for b in ser[0::SERIAL_LEN]):
        raise ValueError("serials must be n positive minimal SERIAL_LEN-octet integers")
    date_tlv = der_time(date)
    head = b"\x02" + bytes([SERIAL_LEN])
    entry_len = len(head) + SERIAL_LEN + len(date_tlv)
    if entry_len >= 0x80:
        raise ValueError("entry too long for the one-octet length the generator writes")
    stride = 2 + entry_len
    out = bytearray(stride * n)
    for k, b in enumerate(b"\x30" + bytes([entry_len]) + head):
        out[k::stride] = bytes([b]) * n
    for k in range(SERIAL_LEN):
        out[4 + k :: stride] = ser[k::SERIAL_LEN]
    base = 4 + SERIAL_LEN
    for k, b in enumerate(date_tlv):
        out[base + k :: stride] = bytes([b]) * n
    sign_key = issuer.key
    alg = sig_alg(sign_key, hash)
    exts = enc(0xA0, enc(0x30, crl_number_ext(number).der))
    prefix = (der_integer(1) + alg + issuer.cert.subject.public_bytes() + der_time(this_update)
              + der_time(next_update))  # fmt: skip
    revoked_hdr = b"\x30" + _der.length(len(out))
    body_len = len(prefix) + len(revoked_hdr) + len(out) + len(exts)
    tbs = b"".join((b"\x30", _der.length(body_len), prefix, revoked_hdr, out, exts))
    return BigCRL(_assemble(tbs, alg, sign_key, hash), ser)

