"""Test PKI factory: build certificate chains with every knob a verifier test needs.

All dates default relative to the fixed ``NOW`` so tests are deterministic; verify at ``NOW``.
RSA keys come from a small per-kind pool (keygen is slow): they repeat every ``RSA_POOL_SIZE``
calls, so pass ``make_key(kind, fresh=True)`` when distinct keys matter. EC/Ed25519 keys are fresh.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Literal, Union

import der as _der
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

__all__ = [
    "CLIENT_AUTH", "CLIENT_SAN", "NOW", "RSA_POOL_SIZE", "SERVER_AUTH", "Cert", "Chain",
    "HashName", "KeyType", "PrivateKey", "ca", "chain", "intermediate", "issue", "leaf",
    "make_key", "parse_name", "pem_bundle", "resign", "tamper_sig", "tamper_tbs",
]

KeyType = Literal["rsa2048", "rsa1024", "rsa3072", "rsa4096", "p256", "p384", "p521", "ed25519",
                  "secp256k1"]
PrivateKey = Union[rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey]
HashName = Literal["sha1", "sha224", "sha256", "sha384", "sha512"]
NameSpec = Union[str, x509.Name, Sequence[tuple[ObjectIdentifier, str]]]
GeneralNames = Sequence[x509.GeneralName]

UTC = timezone.utc
NOW = datetime(2026, 6, 1, tzinfo=UTC)
CLIENT_AUTH = ExtendedKeyUsageOID.CLIENT_AUTH
SERVER_AUTH = ExtendedKeyUsageOID.SERVER_AUTH
RSA_POOL_SIZE = 8
CLIENT_SAN: tuple[x509.GeneralName, ...] = (x509.DNSName("client.example.com"),)

_CURVES: dict[str, Callable[[], ec.EllipticCurve]] = {
    "p256": ec.SECP256R1, "p384": ec.SECP384R1, "p521": ec.SECP521R1, "secp256k1": ec.SECP256K1}
_BuilderHash = Union[hashes.SHA224, hashes.SHA256, hashes.SHA384, hashes.SHA512]
_BUILDER_HASHES: dict[str, Callable[[], _BuilderHash]] = {
    "sha224": hashes.SHA224, "sha256": hashes.SHA256, "sha384": hashes.SHA384,
    "sha512": hashes.SHA512}
_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {**_BUILDER_HASHES, "sha1": hashes.SHA1}
# AlgorithmIdentifier DER for SHA-1 signatures (the builder refuses them): RSA, then ECDSA.
_SHA1_ALG = {True: bytes.fromhex("300d06092a864886f70d0101050500"),
             False: bytes.fromhex("300906072a8648ce3d0401")}
_KU_NAMES = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
             "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")
_rsa_pool: dict[str, list[rsa.RSAPrivateKey]] = {}
_rsa_next: dict[str, itertools.count[int]] = {}


def make_key(kind: KeyType, *, fresh: bool = False) -> PrivateKey:
    """A private key of ``kind``; RSA keys are drawn round-robin from a lazily filled pool."""
    if kind in _CURVES:
        return ec.generate_private_key(_CURVES[kind]())
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if not kind.startswith("rsa"):
        raise ValueError(f"unknown key type {kind!r}")
    if fresh:
        return rsa.generate_private_key(65537, int(kind[3:]))
    pool = _rsa_pool.setdefault(kind, [])
    i = next(_rsa_next.setdefault(kind, itertools.count())) % RSA_POOL_SIZE
    if i == len(pool):
        pool.append(rsa.generate_private_key(65537, int(kind[3:])))
    return pool[i]


@dataclass(frozen=True)
class Cert:
    """A certificate with the private key of its subject."""

    cert: x509.Certificate
    key: PrivateKey

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(Encoding.DER)

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(Encoding.PEM)


def pem_bundle(*certs: Cert) -> bytes:
    """Concatenated PEM of ``certs`` in the given order."""
    return b"".join(c.pem for c in certs)


@dataclass(frozen=True)
class Chain:
    """A root, its intermediates (leaf-side first) and a leaf."""

    root: Cert
    intermediates: list[Cert]
    leaf: Cert

    @property
    def presented(self) -> list[Cert]:
        """What a client sends: leaf, then intermediates."""
        return [self.leaf, *self.intermediates]

    @property
    def presented_der(self) -> list[bytes]:
        return [c.der for c in self.presented]

    @property
    def pem_bundle(self) -> bytes:
        return pem_bundle(*self.presented)


def parse_name(spec: NameSpec) -> x509.Name:
    """``"CN=a,O=b"`` (RFC 4514), a bare ``"a"`` (= CN), a list of (oid, value) RDNs, or a Name."""
    if isinstance(spec, x509.Name):
        return spec
    if isinstance(spec, str):
        if "=" in spec:
            return x509.Name.from_rfc4514_string(spec)
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, spec)])
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in spec])


def _hash_name(key: PrivateKey, h: HashName | None) -> HashName | None:
    """Signing hash: none for Ed25519, else ``h``, else matched to the curve (RSA: SHA-256)."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return None
    if h is not None:
        return h
    bits = key.curve.key_size if isinstance(key, ec.EllipticCurvePrivateKey) else 0
    return "sha512" if bits == 521 else "sha384" if bits == 384 else "sha256"


def _pss(h: hashes.HashAlgorithm) -> padding.PSS:
    return padding.PSS(mgf=padding.MGF1(h), salt_length=padding.PSS.DIGEST_LENGTH)


def issue(
    *,
    subject: NameSpec,
    issuer: Cert | None = None,
    key: KeyType | PrivateKey = "p256",
    issuer_name: NameSpec | None = None,
    ca: bool | None = None,
    path_len: int | None = None,
    bc_critical: bool = True,
    key_usage: Iterable[str] | None = None,
    ku_critical: bool = True,
    eku: Sequence[ObjectIdentifier] | None = None,
    eku_critical: bool = False,
    san: GeneralNames | None = None,
    san_critical: bool = False,
    name_constraints: tuple[GeneralNames | None, GeneralNames | None] | None = None,
    nc_critical: bool = True,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    serial: int | None = None,
    ski: bool | bytes = True,
    aki: bool | bytes = True,
    extra_extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
    hash: HashName | None = None,
    rsa_pss: bool = False,
    version: Literal[1, 3] = 3,
    tamper_signature: bool = False,
) -> Cert:
    """Issue one certificate; ``issuer=None`` self-signs. Every extension is absent when None/False.

    ``ski``/``aki`` may be bytes to force a key identifier (e.g. a mismatching AKI). ``issuer_name``
    overrides the issuer DN written into the certificate. ``hash`` defaults to the issuer's curve
    (SHA-256 for RSA); ``"sha1"`` and ``version=1`` are made by re-encoding the TBS and
    re-signing it (extensions are kept: pass ``ski=False, aki=False`` for a clean v1).
    """
    subj_key = key if not isinstance(key, str) else make_key(key)
    sign_key = issuer.key if issuer is not None else subj_key
    name = parse_name(subject)
    iname = parse_name(issuer_name) if issuer_name is not None else (
        issuer.cert.subject if issuer is not None else name)
    b = (x509.CertificateBuilder().subject_name(name).issuer_name(iname)
         .public_key(subj_key.public_key())
         .serial_number(serial if serial is not None else x509.random_serial_number())
         .not_valid_before(not_before or NOW - timedelta(days=30))
         .not_valid_after(not_after or NOW + timedelta(days=365)))
    if ca is not None:
        b = b.add_extension(x509.BasicConstraints(ca=ca, path_length=path_len), bc_critical)
    if key_usage is not None:
        ku = set(key_usage)
        if unknown := ku - set(_KU_NAMES):
            raise ValueError(f"unknown key usage names {sorted(unknown)}")
        b = b.add_extension(x509.KeyUsage(**{n: n in ku for n in _KU_NAMES}), ku_critical)
    if eku is not None:
        b = b.add_extension(x509.ExtendedKeyUsage(list(eku)), eku_critical)
    if san is not None:
        b = b.add_extension(x509.SubjectAlternativeName(list(san)), san_critical)
    if name_constraints is not None:
        permitted, excluded = name_constraints
        nc = x509.NameConstraints(
            list(permitted) if permitted is not None else None,
            list(excluded) if excluded is not None else None)
        b = b.add_extension(nc, nc_critical)
    if ski:
        ski_ext = (x509.SubjectKeyIdentifier(ski) if isinstance(ski, bytes)
                   else x509.SubjectKeyIdentifier.from_public_key(subj_key.public_key()))
        b = b.add_extension(ski_ext, False)
    if aki:
        b = b.add_extension(_aki(aki, issuer, sign_key), False)
    for ext, critical in extra_extensions:
        b = b.add_extension(ext, critical)
    hn = _hash_name(sign_key, hash)
    is_rsa = isinstance(sign_key, rsa.RSAPrivateKey)
    if rsa_pss and (not is_rsa or hn == "sha1"):
        raise ValueError("rsa_pss needs an RSA issuer key and SHA-2")
    h = _BUILDER_HASHES["sha256" if hn == "sha1" else hn]() if hn is not None else None
    out = Cert(b.sign(sign_key, h, rsa_padding=_pss(h) if rsa_pss and h else None), subj_key)
    if version != 3 or hn == "sha1":
        out = resign(out, sign_key, lambda tbs: _set_version(tbs, version), hash=hn,
                     alg=_SHA1_ALG[is_rsa] if hn == "sha1" else None)
    if tamper_signature:
        out = Cert(x509.load_der_x509_certificate(tamper_sig(out.der)), out.key)
    return out


def _aki(aki: bool | bytes, issuer: Cert | None, sign_key: PrivateKey,
         ) -> x509.AuthorityKeyIdentifier:
    if isinstance(aki, bytes):
        return x509.AuthorityKeyIdentifier(aki, None, None)
    if issuer is not None:
        try:
            ski = issuer.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
        except x509.ExtensionNotFound:
            pass
    return x509.AuthorityKeyIdentifier.from_issuer_public_key(sign_key.public_key())


def ca(name: NameSpec = "Root CA", key: KeyType | PrivateKey = "p256", **kw: Any) -> Cert:
    """A self-signed root: CA (BC critical), keyCertSign|cRLSign (critical), SKI."""
    kw.setdefault("ca", True)
    kw.setdefault("key_usage", {"key_cert_sign", "crl_sign"})
    return issue(subject=name, key=key, **kw)


def intermediate(issuer: Cert, name: NameSpec = "Intermediate CA",
                 key: KeyType | PrivateKey = "p256", path_len: int | None = None,
                 **kw: Any) -> Cert:
    """A CA certificate issued by ``issuer``: like ``ca()`` plus an optional pathLenConstraint."""
    return ca(name, key, issuer=issuer, path_len=path_len, **kw)


def leaf(issuer: Cert, name: NameSpec = "client", key: KeyType | PrivateKey = "p256",
         eku: Sequence[ObjectIdentifier] | None = (CLIENT_AUTH,),
         san: GeneralNames | None = CLIENT_SAN, **kw: Any) -> Cert:
    """An end-entity certificate: BC ca=False (critical), KU digitalSignature, EKU clientAuth,
    a SAN (cryptography's ClientVerifier requires one; ``san=None`` leaves it out)."""
    kw.setdefault("ca", False)
    kw.setdefault("key_usage", {"digital_signature"})
    return issue(subject=name, issuer=issuer, key=key, eku=eku, san=san, **kw)


def chain(depth: int, key: KeyType = "p256", **leaf_kw: Any) -> Chain:
    """Root + ``depth`` intermediates + leaf, all with ``key`` keys; ``leaf_kw`` go to leaf()."""
    root = ca(key=key)
    issuers = [root]
    for i in range(1, depth + 1):
        issuers.append(intermediate(issuers[-1], f"Intermediate CA {i}", key))
    leaf_kw.setdefault("key", key)
    return Chain(root, issuers[:0:-1], leaf(issuers[-1], **leaf_kw))


# --- raw DER tweaks --------------------------------------------------------------------------

_tlv, _enc = _der.header, _der.enc


def _split(der: bytes) -> tuple[bytes, bytes, bytes]:
    """Certificate DER -> (tbs, signatureAlgorithm, signature BIT STRING elements), whole TLVs."""
    return _der.split_signed(der)


def tamper_sig(der: bytes) -> bytes:
    """Certificate DER with one bit flipped in the last byte of the signature BIT STRING."""
    _split(der)  # validates the outer structure: the BIT STRING is the last element
    return der[:-1] + bytes([der[-1] ^ 0x01])


def tamper_tbs(der: bytes) -> bytes:
    """Certificate DER with the serial's last byte flipped, so the signature no longer matches."""
    _split(der)
    _, hl, _ = _tlv(der, 0)
    _, thl, _ = _tlv(der, hl)
    off = hl + thl
    if der[off] == 0xA0:  # [0] EXPLICIT version
        _, h, c = _tlv(der, off)
        off += h + c
    tag, h, c = _tlv(der, off)
    if tag != 0x02:
        raise ValueError("serial INTEGER not found")
    out = bytearray(der)
    out[off + h + c - 1] ^= 0x01
    return bytes(out)


def _set_version(tbs: bytes, version: int) -> bytes:
    _, hl, _ = _tlv(tbs, 0)
    body = tbs[hl:]
    if body[0] == 0xA0:
        _, h, c = _tlv(body, 0)
        body = body[h + c:]
    if version != 1:
        body = _enc(0xA0, _enc(0x02, bytes([version - 1]))) + body
    return _enc(0x30, body)


def resign(c: Cert, issuer_key: PrivateKey, edit: Callable[[bytes], bytes] = bytes, *,
           hash: HashName | None = None, alg: bytes | None = None) -> Cert:
    """Apply ``edit`` to the TBS DER of ``c`` and sign it again with ``issuer_key``.

    Keeps the signature algorithm of ``c`` unless ``alg`` (an AlgorithmIdentifier DER, written
    both inside the TBS and outside) replaces it; then ``hash`` must name its digest.
    For edits the builder refuses: versions, SHA-1, odd encodings.
    """
    tbs, old_alg, _ = _split(c.der)
    if alg is not None:
        _, hl, _ = _tlv(tbs, 0)
        tbs = _enc(0x30, tbs[hl:].replace(old_alg, alg, 1))
    new_tbs, alg = edit(tbs), alg or old_alg
    rsa_pss = bytes.fromhex("06092a864886f70d01010a") in alg  # id-RSASSA-PSS (salt: hash length)
    h = _HASHES[hash]() if hash else c.cert.signature_hash_algorithm
    if isinstance(issuer_key, ed25519.Ed25519PrivateKey):
        sig = issuer_key.sign(new_tbs)
    elif isinstance(issuer_key, ec.EllipticCurvePrivateKey):
        assert h is not None
        sig = issuer_key.sign(new_tbs, ec.ECDSA(h))
    else:
        assert h is not None
        sig = issuer_key.sign(new_tbs, _pss(h) if rsa_pss else padding.PKCS1v15(), h)
    der = _enc(0x30, new_tbs + alg + _enc(0x03, b"\x00" + sig))
    return Cert(x509.load_der_x509_certificate(der), c.key)
