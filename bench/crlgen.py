"""Large CRLs for the revocation benchmarks, written as DER by hand.

cryptography's ``CertificateRevocationListBuilder`` needs minutes for a million entries; this
module writes the TBSCertList itself (a few seconds for 1M entries) and signs it with the CA key:

    CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue BIT STRING }
    TBSCertList ::= SEQUENCE {
        version INTEGER 1 (v2), signature AlgorithmIdentifier, issuer Name (the CA's subject DER),
        thisUpdate UTCTime, nextUpdate UTCTime,
        revokedCertificates SEQUENCE OF SEQUENCE {
            userCertificate INTEGER, revocationDate UTCTime },
        crlExtensions [0] EXPLICIT SEQUENCE { authorityKeyIdentifier, cRLNumber } }

Serials are realistic: 128 random bits, positive, minimal DER INTEGER content, so 16 octets, or 17
when the top bit is set (a leading 0x00). ECDSA P-256 / SHA-256 or RSA-2048 PKCS#1 v1.5 / SHA-256.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from der import enc as tlv
from der import length as der_len

# AlgorithmIdentifier DER: ecdsa-with-SHA256 (no parameters), sha256WithRSAEncryption (NULL).
ALG_ECDSA_SHA256 = bytes.fromhex("300a06082a8648ce3d040302")
ALG_RSA_SHA256 = bytes.fromhex("300d06092a864886f70d01010b0500")
OID_AKI = bytes.fromhex("0603551d23")  # 2.5.29.35
OID_CRL_NUMBER = bytes.fromhex("0603551d14")  # 2.5.29.20


def der_int(value: int) -> bytes:
    """DER INTEGER of a non-negative ``value`` (minimal, a 0x00 prefix when the top bit is set)."""
    return tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def utc_time(t: datetime) -> bytes:
    """UTCTime TLV (years 1950-2049), YYMMDDHHMMSSZ."""
    return tlv(0x17, t.astimezone(timezone.utc).strftime("%y%m%d%H%M%SZ").encode())


def serial_int(content: bytes) -> int:
    """The (positive) value of INTEGER content octets."""
    return int.from_bytes(content, "big")


def random_serials(n: int, seed: int) -> list[bytes]:
    """``n`` random 128-bit positive serials as minimal INTEGER content (16 or 17 octets)."""
    raw = random.Random(seed).randbytes(16 * n)
    out = []
    for i in range(0, 16 * n, 16):
        s = raw[i : i + 16]
        if s[0] == 0:  # keep the encoding minimal (and the serial 128-bit)
            s = b"\x01" + s[1:]
        out.append(b"\x00" + s if s[0] & 0x80 else s)
    return out


@dataclass(frozen=True)
class GeneratedCRL:
    der: bytes
    serials: list[bytes]  # INTEGER content of every entry, in CRL order (extras last)
    this_update: datetime
    next_update: datetime


def revoked_certificates(serials: Sequence[bytes], revoked_before: datetime) -> bytes:
    """The revokedCertificates SEQUENCE; revocation dates spread over the 64 days before
    ``revoked_before``."""
    tails = [utc_time(revoked_before - timedelta(days=d, seconds=37 * d)) for d in range(64)]
    parts = []
    for i, s in enumerate(serials):
        body = tlv(0x02, s) + tails[i & 63]
        parts.append(b"\x30" + der_len(len(body)) + body)
    return tlv(0x30, b"".join(parts))


def sign(key: object, tbs: bytes) -> tuple[bytes, bytes]:
    """(signatureAlgorithm DER, signature) of ``tbs`` with a P-256/RSA key, SHA-256."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return ALG_ECDSA_SHA256, key.sign(tbs, ec.ECDSA(hashes.SHA256()))
    if isinstance(key, rsa.RSAPrivateKey):
        return ALG_RSA_SHA256, key.sign(tbs, padding.PKCS1v15(), hashes.SHA256())
    raise TypeError(f"unsupported CRL signing key {type(key).__name__}")


def make_crl(
    ca_cert: x509.Certificate,
    ca_key: object,
    n: int,
    *,
    now: datetime,
    seed: int = 1,
    extra_serials: Sequence[int] = (),
    number: int = 1,
) -> GeneratedCRL:
    """A v2 CRL issued by ``ca_cert`` revoking ``n`` random serials plus ``extra_serials``.

    thisUpdate is a day before ``now``, nextUpdate a week after it (valid for OpenSSL at ``now``).
    """
    serials = random_serials(n, seed)
    serials += [x.to_bytes(x.bit_length() // 8 + 1, "big") for x in extra_serials]
    this_update, next_update = now - timedelta(days=1), now + timedelta(days=7)
    alg_probe = (
        ALG_ECDSA_SHA256 if isinstance(ca_key, ec.EllipticCurvePrivateKey) else ALG_RSA_SHA256
    )
    ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    aki = tlv(0x30, OID_AKI + tlv(0x04, tlv(0x30, tlv(0x80, ski))))
    crl_number = tlv(0x30, OID_CRL_NUMBER + tlv(0x04, der_int(number)))
    tbs = tlv(
        0x30,
        b"".join(
            (
                b"\x02\x01\x01",  # v2
                alg_probe,
                ca_cert.subject.public_bytes(),
                utc_time(this_update),
                utc_time(next_update),
                revoked_certificates(serials, now - timedelta(days=1)),
                tlv(0xA0, tlv(0x30, aki + crl_number)),
            )
        ),
    )
    alg, sig = sign(ca_key, tbs)
    assert alg == alg_probe
    der = tlv(0x30, tbs + alg + tlv(0x03, b"\x00" + sig))
    return GeneratedCRL(der, serials, this_update, next_update)


def check_with_cryptography(der: bytes, ca_cert: x509.Certificate, n: int) -> None:
    """cryptography parses the CRL, counts ``n`` entries and finds the signature valid."""
    crl = x509.load_der_x509_crl(der)
    assert crl.is_signature_valid(ca_cert.public_key()), "generated CRL: bad signature"  # type: ignore[arg-type]
    assert len(crl) == n, (len(crl), n)
    assert crl.issuer == ca_cert.subject
