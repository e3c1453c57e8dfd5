#!/usr/bin/env python3
"""Generate the seed corpora of the fuzz targets into ``csrc/fuzz/corpus/<target>/``.

    python3 csrc/fuzz/make_corpus.py [--force] [--out DIR] [--no-limbo] [TARGET ...]

The corpora are not committed (``csrc/fuzz/.gitignore``): this script regenerates them, and
``tools/fuzz.sh`` runs it when a target's corpus is missing. A target whose directory already
holds files is left alone unless ``--force`` is given. Files are named by the SHA-1 of their
content, as libFuzzer names its own, so regenerating never duplicates a seed.

Seeds:
  * certificates of every key type (RSA-2048, P-256, P-384, P-521, Ed25519, RSA-PSS signatures)
    with many extensions, from ``tests/pki.py``, issued under the fixed anchors of
    ``fixed_ca.h`` (keys in ``fixed_keys.pem``) so the verifier fuzzer starts from chains that
    verify; plus every certificate of the x509-limbo suite when ``shared/limbo/limbo.json.gz``
    exists (``FASTMTLS_LIMBO`` overrides the path);
  * CRLs signed by the fixed CAs (entries with reasons and invalidity dates, cRLNumber, delta CRLs
    after their base, IDP scopes, onlySomeReasons, every signature algorithm) and limbo's CRLs;
  * revocation snapshots written by ``fastmtls.RevocationSet.save`` (needs the built package:
    an installed one, else an in-place build in ``src/``);
  * the framed inputs of fuzz_verify and fuzz_names (control byte, expected name, DER) and of
    fuzz_hook (control byte, DER); see the comments at the top of those targets.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import ipaddress
import json
import os
import random
import shutil
import sys
import tempfile
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))
if str(ROOT / "src") not in sys.path:  # last: an installed fastmtls (CI's venv) comes first
    sys.path.append(str(ROOT / "src"))

import pki  # noqa: E402  (tests/pki.py)
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier  # noqa: E402

TARGETS = ("fuzz_cert", "fuzz_chain_split", "fuzz_verify", "fuzz_crl", "fuzz_snapshot",
           "fuzz_names", "fuzz_hook")
UTC = timezone.utc
NOW = datetime(2026, 6, 1, tzinfo=UTC)  # FUZZ_FIXED_TIME
LIMBO = Path(os.environ.get("FASTMTLS_LIMBO", ROOT.parent / "shared" / "limbo" / "limbo.json.gz"))
REVOKED_SERIALS = (0x0BAD, 0x0BAD01)  # revoked in fuzz_verify's fixed revocation set

# fuzz_verify control byte (see fuzz_verify.c)
HOST_NONE, HOST_API, HOST_ORG, HOST_NAME = 0, 1, 2, 3
KIND_NONE, KIND_DNS, KIND_IP, KIND_EMAIL, KIND_URI = 0, 1, 2, 3, 4
CTL_REVS, CTL_STRICT, CTL_CACHED = 0x20, 0x40, 0x80
# fuzz_hook control byte (see fuzz_hook.c): SNI in bits 0-1 as HOST_* above (3: no associations)
HOOK_RECORD, HOOK_REQUIRE, HOOK_REVS = 0x04, 0x08, 0x10


# --- the fixed anchors -------------------------------------------------------------------------

def load_fixed() -> dict[str, pki.Cert]:
    """The fixed CAs of fixed_ca.h with their private keys (from fixed_keys.pem)."""
    text = (HERE / "fixed_keys.pem").read_bytes()
    out: dict[str, pki.Cert] = {}
    for chunk in text.split(b"# ")[1:]:
        name, _, body = chunk.partition(b"\n")
        cert = x509.load_pem_x509_certificate(body)
        key = serialization.load_pem_private_key(body[body.index(b"-----BEGIN PRIVATE KEY"):],
                                                 None)
        out[name.decode().strip()] = pki.Cert(cert, key)  # type: ignore[arg-type]
    return out


# --- helpers -----------------------------------------------------------------------------------

def frame(ctl: int, name: bytes, body: bytes) -> bytes:
    """[control byte][name length][name][body]: the input of fuzz_verify and fuzz_names."""
    assert len(name) < 256
    return bytes([ctl & 0xFF, len(name)]) + name + body


def der(c: pki.Cert) -> bytes:
    return c.der


class Sink:
    """Collects seeds for one target, deduplicated by content."""

    def __init__(self) -> None:
        self.items: dict[str, bytes] = {}

    def add(self, data: bytes) -> None:
        self.items.setdefault(hashlib.sha1(data).hexdigest(), data)

    def extend(self, items: Iterable[bytes]) -> None:
        for d in items:
            self.add(d)

    def write(self, path: Path) -> int:
        path.mkdir(parents=True, exist_ok=True)
        for name, data in self.items.items():
            (path / name).write_bytes(data)
        return len(self.items)


# --- certificates ------------------------------------------------------------------------------

KEY_TYPES: tuple[pki.KeyType, ...] = ("rsa2048", "p256", "p384", "p521", "ed25519")


def extension_zoo(issuer: pki.Cert) -> list[pki.Cert]:
    """Leaves and CAs under ``issuer`` exercising every extension the parser knows, and some it
    does not."""
    aia = x509.AuthorityInformationAccess([
        x509.AccessDescription(x509.AuthorityInformationAccessOID.OCSP,
                               x509.UniformResourceIdentifier("http://ocsp.example.com")),
        x509.AccessDescription(x509.AuthorityInformationAccessOID.CA_ISSUERS,
                               x509.UniformResourceIdentifier("http://ca.example.com/ca.crt"))])
    cdp = x509.CRLDistributionPoints([x509.DistributionPoint(
        [x509.UniformResourceIdentifier("http://crl.example.com/ca.crl")], None, None, None)])
    policies = x509.CertificatePolicies([x509.PolicyInformation(
        ObjectIdentifier("2.23.140.1.2.1"), ["https://cps.example.com"])])
    unknown = x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00")
    sans: list[Sequence[x509.GeneralName]] = [
        [x509.DNSName("client.example.com"), x509.DNSName("*.example.com")],
        [x509.IPAddress(ipaddress.ip_address("10.1.2.3")),
         x509.IPAddress(ipaddress.ip_address("2001:db8::1"))],
        [x509.RFC822Name("alice@example.com")],
        [x509.UniformResourceIdentifier("spiffe://example.com/ns/default/sa/client")],
        [x509.DirectoryName(pki.parse_name("CN=dir,O=example"))],
        [x509.OtherName(ObjectIdentifier("1.3.6.1.4.1.311.20.2.3"), b"\x0c\x03a@b")],
        [x509.RegisteredID(ObjectIdentifier("1.2.3.4"))],
    ]
    out = [pki.leaf(issuer, san=s) for s in sans]
    out += [
        pki.leaf(issuer, extra_extensions=[(aia, False), (cdp, False), (policies, False)]),
        pki.leaf(issuer, extra_extensions=[(unknown, False)]),
        pki.leaf(issuer, extra_extensions=[(unknown, True)]),
        pki.leaf(issuer, eku=None),
        pki.leaf(issuer, eku=[ExtendedKeyUsageOID.SERVER_AUTH]),
        pki.leaf(issuer, eku=[ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
                              ExtendedKeyUsageOID.CODE_SIGNING, ExtendedKeyUsageOID.CLIENT_AUTH]),
        pki.leaf(issuer, key_usage={"digital_signature", "key_encipherment", "key_agreement",
                                    "encipher_only"}),
        pki.leaf(issuer, key_usage=None, ca=None),
        pki.leaf(issuer, ski=False, aki=False),
        pki.leaf(issuer, san_critical=True, name=x509.Name([])),
        pki.leaf(issuer, name=[
            (NameOID.COUNTRY_NAME, "US"), (NameOID.STATE_OR_PROVINCE_NAME, "IDF"),
            (NameOID.LOCALITY_NAME, "Paris"), (NameOID.ORGANIZATION_NAME, "Example, Inc."),
            (NameOID.ORGANIZATIONAL_UNIT_NAME, "dev"), (NameOID.COMMON_NAME, "client"),
            (NameOID.EMAIL_ADDRESS, "a@example.com")]),
        pki.leaf(issuer, not_after=NOW - timedelta(days=1)),
        pki.leaf(issuer, not_before=NOW + timedelta(days=1)),
        pki.leaf(issuer, not_after=datetime(2060, 1, 1, tzinfo=UTC)),  # GeneralizedTime
        pki.leaf(issuer, serial=1),
        pki.leaf(issuer, serial=(1 << 159) - 1),
        pki.leaf(issuer, hash="sha384"),
        pki.leaf(issuer, hash="sha1"),
        pki.leaf(issuer, version=1, ski=False, aki=False),
        pki.leaf(issuer, tamper_signature=True),
        pki.intermediate(issuer, "CA pathlen 0", path_len=0),
        pki.intermediate(issuer, "CA no KU", key_usage=None),
        pki.intermediate(issuer, "CA BC not critical", bc_critical=False),
        pki.intermediate(issuer, "CA KU no certSign", key_usage={"crl_sign"}),
        pki.intermediate(issuer, "CA EKU client", eku=[ExtendedKeyUsageOID.CLIENT_AUTH]),
        pki.intermediate(issuer, "CA NC", name_constraints=(
            [x509.DNSName("example.com"), x509.IPAddress(ipaddress.ip_network("10.0.0.0/8")),
             x509.IPAddress(ipaddress.ip_network("2001:db8::/32")),
             x509.RFC822Name("example.com"), x509.UniformResourceIdentifier(".example.com"),
             x509.DirectoryName(pki.parse_name("O=example"))],
            [x509.DNSName("evil.example.com"), x509.RFC822Name(".evil.example.com")])),
        pki.intermediate(issuer, "CA NC excluded only", name_constraints=(
            None, [x509.DNSName("bad.example"), x509.IPAddress(ipaddress.ip_network(
                "192.168.0.0/16"))])),
    ]
    return out


def key_type_certs(fixed: dict[str, pki.Cert]) -> list[pki.Cert]:
    """Every key type as subject and as issuer, and RSA-PSS signatures."""
    out: list[pki.Cert] = []
    for kt in KEY_TYPES:
        root = pki.ca(f"Root {kt}", kt)
        inter = pki.intermediate(root, f"Inter {kt}", kt)
        out += [root, inter, pki.leaf(inter, f"leaf {kt}", kt)]
    rsa_root = fixed["root_rsa"]
    for h in ("sha256", "sha384", "sha512"):
        out.append(pki.leaf(rsa_root, f"pss {h}", "p256", rsa_pss=True, hash=h))  # type: ignore
        out.append(pki.intermediate(rsa_root, f"PSS CA {h}", "rsa2048", rsa_pss=True, hash=h))
    out.append(pki.leaf(rsa_root, "rsa1024 leaf", "rsa1024"))
    out.append(pki.leaf(rsa_root, "rsa3072 leaf", "rsa3072"))
    out.append(pki.leaf(rsa_root, "secp256k1 leaf", "secp256k1"))
    return out


# --- chains under the fixed anchors ------------------------------------------------------------

def fixed_chains(fixed: dict[str, pki.Cert]) -> list[tuple[str, list[pki.Cert]]]:
    """(label, presented chain leaf first) pairs that reach the fixed anchors."""
    p256, rsa_root, ed_root, inter = (fixed["root_p256"], fixed["root_rsa"],
                                      fixed["root_ed25519"], fixed["inter_p384"])
    nc_san = [x509.DNSName("client.example.com"), x509.IPAddress(ipaddress.ip_address("10.1.2.3")),
              x509.RFC822Name("alice@mail.example.com")]
    chains: list[tuple[str, list[pki.Cert]]] = []
    for kt in KEY_TYPES:
        chains.append((f"p256-direct-{kt}", [pki.leaf(p256, f"direct {kt}", kt)]))
        i1 = pki.intermediate(p256, f"I {kt}", kt)
        chains.append((f"p256-inter-{kt}", [pki.leaf(i1, f"via {kt}", "p256"), i1]))
        i2 = pki.intermediate(rsa_root, f"NC I {kt}", kt)
        chains.append((f"rsa-inter-{kt}", [pki.leaf(i2, "nc leaf", kt, san=nc_san), i2]))
        i3 = pki.intermediate(ed_root, f"Ed I {kt}", kt)
        chains.append((f"ed-inter-{kt}", [pki.leaf(i3, "ed leaf", kt), i3]))
    chains.append(("operator-inter", [pki.leaf(inter, "under operator intermediate")]))
    chains.append(("operator-inter-presented", [pki.leaf(inter, "with inter"), inter]))
    # deep chains: within and beyond root_ed25519's pathLen 1 and the strict verifier's depth 3
    for root, label in ((p256, "p256"), (ed_root, "ed")):
        issuers = [root]
        for d in range(4):
            issuers.append(pki.intermediate(issuers[-1], f"Deep {label} {d}", "p256"))
        chains.append((f"deep-{label}", [pki.leaf(issuers[-1], "deep leaf"), *issuers[:0:-1]]))
    # revoked serials, RSA-PSS, name constraints violated, expired, wrong order, duplicates
    for s in REVOKED_SERIALS:
        chains.append((f"revoked-{s:x}", [pki.leaf(p256, "revoked", serial=s)]))
        i = pki.intermediate(p256, "revoked CA", serial=s)
        chains.append((f"revoked-ca-{s:x}", [pki.leaf(i, "under revoked CA"), i]))
    chains.append(("pss", [pki.leaf(rsa_root, "pss leaf", san=nc_san, rsa_pss=True)]))
    chains.append(("nc-violation", [pki.leaf(rsa_root, "evil", san=[
        x509.DNSName("evil.example.com")])]))
    chains.append(("nc-outside", [pki.leaf(rsa_root, "outside", san=[x509.DNSName("other.net")])]))
    chains.append(("nc-cn", [pki.leaf(rsa_root, "host.other.net", san=None)]))
    chains.append(("expired", [pki.leaf(p256, "expired", not_after=NOW - timedelta(days=2))]))
    i = pki.intermediate(p256, "order CA")
    lf = pki.leaf(i, "order leaf")
    chains.append(("reversed", [i, lf]))
    chains.append(("duplicated", [lf, i, i, lf]))
    chains.append(("bad-sig", [pki.leaf(p256, "bad sig", tamper_signature=True)]))
    chains.append(("no-eku", [pki.leaf(p256, "no eku", eku=None)]))
    chains.append(("server-eku", [pki.leaf(p256, "server", eku=[pki.SERVER_AUTH])]))
    chains.append(("self-signed", [pki.ca("Self signed", "p256")]))
    for lf2 in extension_zoo(p256):
        chains.append(("zoo", [lf2]))
    return chains


def verify_seeds(chains: list[tuple[str, list[pki.Cert]]], extra: Iterable[bytes]) -> Sink:
    sink = Sink()
    names = {KIND_NONE: b"", KIND_DNS: b"client.example.com", KIND_IP: bytes([10, 1, 2, 3]),
             KIND_EMAIL: b"alice@example.com", KIND_URI: b"spiffe://example.com/ns/default/sa/client"}
    ctls = [HOST_NONE, HOST_API, HOST_ORG, CTL_REVS, CTL_STRICT | CTL_REVS, CTL_CACHED,
            CTL_CACHED | CTL_REVS | HOST_API]
    rnd = random.Random(1)
    for _, chain in chains:
        body = b"".join(c.der for c in chain)
        for ctl in ctls:
            sink.add(frame(ctl, b"", body))
        kind = rnd.choice([KIND_DNS, KIND_IP, KIND_EMAIL, KIND_URI])
        sink.add(frame(kind << 2, names[kind], body))
        sink.add(frame(HOST_NAME | (KIND_DNS << 2), b"x.example.org", body))
    sink.add(frame(0, b"", b""))
    sink.add(frame(KIND_IP << 2, bytes(16), b"\x30\x00"))
    for body in extra:
        sink.add(frame(0, b"", body))
    return sink


def hook_seeds(chains: list[tuple[str, list[pki.Cert]]], extra: Iterable[bytes]) -> Sink:
    """fuzz_hook inputs: each chain as a Certificate message under several SNI / mode choices."""
    sink = Sink()
    ctls = [HOST_NONE, HOST_API | HOOK_REQUIRE, HOST_ORG | HOOK_RECORD, HOST_NAME | HOOK_REVS,
            HOST_API | HOOK_RECORD | HOOK_REVS | HOOK_REQUIRE]
    for _, chain in chains:
        body = b"".join(c.der for c in chain)
        for ctl in ctls:
            sink.add(bytes([ctl]) + body)
    for ctl in (HOST_NONE, HOOK_REQUIRE, HOOK_RECORD | HOOK_REQUIRE):
        sink.add(bytes([ctl]))  # no certificate
        sink.add(bytes([ctl]) + b"\x30\x00")
    for body in extra:
        sink.add(bytes([HOOK_RECORD]) + body)
    return sink


# --- CRLs --------------------------------------------------------------------------------------

REASONS = [x509.ReasonFlags.unspecified, x509.ReasonFlags.key_compromise,
           x509.ReasonFlags.ca_compromise, x509.ReasonFlags.affiliation_changed,
           x509.ReasonFlags.superseded, x509.ReasonFlags.cessation_of_operation,
           x509.ReasonFlags.certificate_hold, x509.ReasonFlags.privilege_withdrawn,
           x509.ReasonFlags.aa_compromise]


def _hash_for(key: Any, name: str | None = None) -> hashes.HashAlgorithm | None:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return None
    if name:
        table = {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}
        return table[name]()
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return {256: hashes.SHA256(), 384: hashes.SHA384()}.get(key.curve.key_size, hashes.SHA512())
    return hashes.SHA256()


def make_crl(ca: pki.Cert, serials: Iterable[int] = (), *, number: int | None = 1,
             base: int | None = None, idp: x509.IssuingDistributionPoint | None = None,
             reasons: bool = True, remove: Iterable[int] = (),
             hash: str | None = None, pss: bool = False, invalidity: bool = False,
             extra: Sequence[tuple[x509.ExtensionType, bool]] = ()) -> bytes:
    """A CRL by ``ca`` with cryptography's builder."""
    b = (x509.CertificateRevocationListBuilder().issuer_name(ca.cert.subject)
         .last_update(NOW - timedelta(days=1)).next_update(NOW + timedelta(days=7)))
    if number is not None:
        b = b.add_extension(x509.CRLNumber(number), False)
    if base is not None:
        b = b.add_extension(x509.DeltaCRLIndicator(base), True)
    if idp is not None:
        b = b.add_extension(idp, True)
    ski = ca.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), False)
    for ext, crit in extra:
        b = b.add_extension(ext, crit)
    for k, s in enumerate(serials):
        rb = x509.RevokedCertificateBuilder().serial_number(s).revocation_date(
            NOW - timedelta(days=10, seconds=k))
        if reasons:
            rb = rb.add_extension(x509.CRLReason(REASONS[k % len(REASONS)]), False)
        if invalidity and k % 2 == 0:
            rb = rb.add_extension(x509.InvalidityDate(datetime(2026, 5, 1)), False)
        b = b.add_revoked_certificate(rb.build())
    for s in remove:
        rb = (x509.RevokedCertificateBuilder().serial_number(s).revocation_date(NOW)
              .add_extension(x509.CRLReason(x509.ReasonFlags.remove_from_crl), False))
        b = b.add_revoked_certificate(rb.build())
    key = ca.key
    h = _hash_for(key, hash)
    if pss:
        assert h is not None
        crl = b.sign(key, h, rsa_padding=padding.PSS(padding.MGF1(h),  # type: ignore[arg-type]
                                                     padding.PSS.DIGEST_LENGTH))
    else:
        crl = b.sign(key, h)  # type: ignore[arg-type]
    return crl.public_bytes(serialization.Encoding.DER)


def _idp(scope: str = "all", reasons: bool = False, uri: str = "http://crl.example.com/ca.crl",
         relative: x509.RelativeDistinguishedName | None = None,
         ) -> x509.IssuingDistributionPoint:
    return x509.IssuingDistributionPoint(
        full_name=None if relative else [x509.UniformResourceIdentifier(uri)],
        relative_name=relative, only_contains_user_certs=scope == "user",
        only_contains_ca_certs=scope == "ca",
        only_some_reasons=frozenset({x509.ReasonFlags.key_compromise}) if reasons else None,
        indirect_crl=False, only_contains_attribute_certs=scope == "attribute")


def crl_sets(fixed: dict[str, pki.Cert]) -> list[tuple[str, pki.Cert, list[bytes]]]:
    """(label, CA, CRLs) groups: one CRL, or a base followed by its deltas."""
    groups: list[tuple[str, pki.Cert, list[bytes]]] = []
    serials = [1, 2, 0x0BAD, 0x0BAD01, 0x7F, 0x80, 0xFF, 1 << 64, (1 << 159) - 1]
    for name in ("root_p256", "root_rsa", "root_ed25519", "inter_p384"):
        ca = fixed[name]
        groups += [
            (f"{name}-empty", ca, [make_crl(ca)]),
            (f"{name}-entries", ca, [make_crl(ca, serials, invalidity=True)]),
            (f"{name}-noreason", ca, [make_crl(ca, serials[:3], reasons=False, number=None)]),
            (f"{name}-delta", ca, [make_crl(ca, [1, 2, 3], number=10),
                                   make_crl(ca, [4], number=11, base=10, remove=[2]),
                                   make_crl(ca, [5], number=12, base=10, remove=[4])]),
            (f"{name}-delta-nobase", ca, [make_crl(ca, [4], number=11, base=10)]),
            (f"{name}-two-bases", ca, [make_crl(ca, [1], number=3), make_crl(ca, [2], number=4)]),
        ]
        for scope in ("user", "ca", "attribute", "all"):
            groups.append((f"{name}-idp-{scope}", ca,
                           [make_crl(ca, serials[:4], idp=_idp(scope))]))
        groups.append((f"{name}-idp-reasons", ca, [make_crl(ca, [1], idp=_idp("all", True))]))
        # distribution point partitions: two fullName URIs and a nameRelativeToCRLIssuer
        rdn = x509.RelativeDistinguishedName([x509.NameAttribute(x509.NameOID.COMMON_NAME, "p")])
        groups.append((f"{name}-idp-partitions", ca, [
            make_crl(ca, [1], number=1, idp=_idp(uri="http://crl.example.com/a.crl")),
            make_crl(ca, [2], number=1, idp=_idp("user", uri="http://crl.example.com/b.crl")),
            make_crl(ca, [3], number=1, idp=_idp("ca", relative=rdn))]))
        groups.append((f"{name}-idp-delta", ca, [
            make_crl(ca, [1, 2], number=5, idp=_idp("user")),
            make_crl(ca, [3], number=6, base=5, idp=_idp("user"), remove=[1])]))
    rsa_root = fixed["root_rsa"]
    for h in ("sha384", "sha512"):
        groups.append((f"rsa-{h}", rsa_root, [make_crl(rsa_root, [9], hash=h)]))
        groups.append((f"rsa-pss-{h}", rsa_root, [make_crl(rsa_root, [9], hash=h, pss=True)]))
    groups.append(("rsa-pss-256", rsa_root, [make_crl(rsa_root, [9], pss=True)]))
    big = list(range(1000, 1600))
    groups.append(("p256-600", fixed["root_p256"], [make_crl(fixed["root_p256"], big,
                                                             reasons=False)]))
    try:  # tests/crls.py writes what the builder refuses (v1 CRLs, odd encodings), when present
        import crls as raw  # type: ignore[import-not-found]

        ca = fixed["root_p256"]
        groups += [
            ("raw-v1", ca, [raw.raw_crl(ca, [raw.raw_entry(7)], version=1)]),
            ("raw-no-next", ca, [raw.raw_crl(ca, [raw.raw_entry(7, reason=1)], next_update=None)]),
            ("raw-empty-revoked", ca, [raw.raw_crl(ca, empty_revoked=True)]),
            ("raw-remove-in-base", ca, [raw.raw_crl(ca, [raw.raw_entry(7, reason=8)])]),
            ("raw-cert-issuer", ca, [raw.raw_crl(ca, [raw.raw_entry(
                7, extensions=[raw.certificate_issuer_ext(ca.cert.subject)])])]),
        ]
    except Exception as exc:  # pragma: no cover - optional seeds
        print(f"make_corpus: raw CRL seeds skipped ({exc})", file=sys.stderr)
    return groups


# --- snapshots ---------------------------------------------------------------------------------

def snapshot_seeds(fixed: dict[str, pki.Cert], groups: list[tuple[str, pki.Cert, list[bytes]]],
                   ) -> list[bytes]:
    """Snapshots written by fastmtls.RevocationSet.save (an empty list when fastmtls does not
    import)."""
    try:
        from fastmtls import Revocation, RevocationSet
    except Exception as exc:  # pragma: no cover
        print(f"make_corpus: snapshot seeds skipped, fastmtls does not import ({exc})",
              file=sys.stderr)
        return []
    ca_ders = [c.der for c in fixed.values()]
    sets: list[Any] = [RevocationSet.empty()]
    for _label, _, crl_list in groups:
        try:
            sets.append(RevocationSet.build(crl_list, cas=ca_ders))
        except Exception:
            continue  # e.g. a delta without its base: refused, as it should be
    p256 = fixed["root_p256"]
    sets.append(RevocationSet.build(entries=[
        Revocation(p256.der, s, reason=s % 11 if s % 11 not in (7, 8) else 0, date=1780000000 + s)
        for s in range(1, 40)]))
    sets.append(RevocationSet.build(
        [groups[1][2][0]], cas=ca_ders,
        entries=[Revocation(c.der, 0x0BAD, 1, 1780000000) for c in fixed.values()]))
    out: list[bytes] = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, s in enumerate(sets):
            path = Path(tmp) / f"{i}.fmrev"
            s.save(path)
            out.append(path.read_bytes())
    return out


# --- limbo -------------------------------------------------------------------------------------

def limbo_cases() -> list[dict[str, Any]]:
    if not LIMBO.exists():
        print(f"make_corpus: {LIMBO} not found, limbo seeds skipped", file=sys.stderr)
        return []
    with gzip.open(LIMBO, "rt") if LIMBO.suffix == ".gz" else open(LIMBO) as fh:
        cases: list[dict[str, Any]] = json.load(fh)["testcases"]
    return cases


def _pem_body(pem: str) -> bytes | None:
    """The base64 body of one PEM block, decoded by hand (no check of what it holds)."""
    body = "".join(ln for ln in pem.strip().splitlines() if not ln.startswith("-----"))
    try:
        return base64.b64decode(body)
    except Exception:
        return None


def pem_ders(pems: Iterable[str]) -> list[bytes]:
    out = []
    for pem in pems:
        try:
            out.append(x509.load_pem_x509_certificate(pem.encode()).public_bytes(
                serialization.Encoding.DER))
        except Exception:
            # cryptography refuses some of limbo's deliberately broken certificates: decode the
            # base64 by hand so the fuzzers still get them
            der = _pem_body(pem)
            if der is not None:
                out.append(der)
    return out


def crl_ders(pems: Iterable[str]) -> list[bytes]:
    return [der for der in map(_pem_body, pems) if der is not None]


# --- main --------------------------------------------------------------------------------------

def build(targets: Sequence[str], use_limbo: bool) -> dict[str, Sink]:
    fixed = load_fixed()
    sinks = {t: Sink() for t in targets}
    want = set(targets)

    certs: list[pki.Cert] = list(fixed.values())
    if want & {"fuzz_cert", "fuzz_names", "fuzz_chain_split", "fuzz_verify"}:
        certs += key_type_certs(fixed) + extension_zoo(fixed["root_p256"]) + \
                 extension_zoo(pki.ca("Zoo RSA root", "rsa2048"))
    chains = fixed_chains(fixed) if want & {"fuzz_verify", "fuzz_chain_split", "fuzz_names",
                                            "fuzz_hook"} else []
    cases = limbo_cases() if use_limbo else []
    limbo_certs: list[bytes] = []
    limbo_chains: list[bytes] = []
    limbo_nc: list[tuple[bytes, bytes, str]] = []
    for case in cases:
        peer = pem_ders([case["peer_certificate"]])
        inters = pem_ders(case.get("untrusted_intermediates") or [])
        trusted = pem_ders(case.get("trusted_certs") or [])
        limbo_certs += peer + inters + trusted
        if peer:
            limbo_chains.append(b"".join(peer + inters))
            name = ""
            pn = case.get("expected_peer_name")
            if pn:
                name = str(pn.get("value", ""))
            for ca_der in inters + trusted:
                if b"\x55\x1d\x1e" in ca_der:  # nameConstraints OID 2.5.29.30
                    limbo_nc.append((ca_der, peer[0], name))

    if "fuzz_cert" in want:
        s = sinks["fuzz_cert"]
        s.extend(c.der for c in certs)
        s.extend(limbo_certs)
        for c in certs[:20]:  # truncations and a trailing byte
            s.add(c.der[: len(c.der) // 2])
            s.add(c.der + b"\x00")
    if "fuzz_chain_split" in want:
        s = sinks["fuzz_chain_split"]
        s.extend(b"".join(c.der for c in ch) for _, ch in chains)
        s.extend(limbo_chains[:2000])
        s.extend([b"", b"\x30\x00", b"\x30\x80\x00\x00", b"\x30\x81\x01\x00",
                  b"\x30\x84\xff\xff\xff\xff", b"\x30\x82\x00\x01\x00", b"\x31\x00"])
    if "fuzz_verify" in want:
        rnd = random.Random(2)
        extra = rnd.sample(limbo_chains, min(1500, len(limbo_chains)))
        sinks["fuzz_verify"] = verify_seeds(chains, extra)
    if "fuzz_hook" in want:
        sample = random.Random(4).sample(limbo_chains, min(300, len(limbo_chains)))
        sinks["fuzz_hook"] = hook_seeds(chains, sample)
    if "fuzz_names" in want:
        s = sinks["fuzz_names"]
        names = [(1, b"client.example.com"), (1, b"*.example.com"), (1, b"foo.bar.example.com"),
                 (2, bytes([10, 1, 2, 3])), (2, bytes(16)), (3, b"alice@example.com"),
                 (3, b"alice@mail.example.com"), (4, b"spiffe://example.com/ns/default/sa/client"),
                 (0, b""), (5, b"x")]
        rnd = random.Random(3)
        for c in certs:
            kind, nm = rnd.choice(names)
            s.add(frame(kind, nm, c.der))
        nc_cas = [c for c in certs if c.cert.extensions and any(
            e.oid == x509.oid.ExtensionOID.NAME_CONSTRAINTS for e in c.cert.extensions)]
        subjects = [c for c in certs if not any(
            e.oid == x509.oid.ExtensionOID.NAME_CONSTRAINTS for e in c.cert.extensions)]
        for ca in nc_cas:
            for sub in rnd.sample(subjects, min(25, len(subjects))):
                kind, nm = rnd.choice(names)
                s.add(frame(kind, nm, ca.der + sub.der))
        for ca_der, peer_der, name in limbo_nc:
            s.add(frame(1, name.encode()[:255], ca_der + peer_der))
        for c in limbo_certs[:3000]:
            kind, nm = rnd.choice(names)
            s.add(frame(kind, nm, c))

    groups = crl_sets(fixed) if want & {"fuzz_crl", "fuzz_snapshot"} else []
    if "fuzz_crl" in want:
        s = sinks["fuzz_crl"]
        for _, _, crl_list in groups:
            s.add(b"".join(crl_list))
            if len(crl_list) > 1:
                s.extend(crl_list)
        for case in cases:
            s.extend(crl_ders(case.get("crls") or []))
    if "fuzz_snapshot" in want:
        sinks["fuzz_snapshot"].extend(snapshot_seeds(fixed, groups))
    return sinks


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("targets", nargs="*", help=f"targets (default: all of {', '.join(TARGETS)})")
    ap.add_argument("--out", type=Path, default=HERE / "corpus", help="corpus root directory")
    ap.add_argument("--force", action="store_true", help="regenerate non-empty corpora")
    ap.add_argument("--no-limbo", action="store_true", help="leave out x509-limbo's certificates")
    args = ap.parse_args(argv)
    targets = args.targets or list(TARGETS)
    for t in targets:
        if t not in TARGETS:
            ap.error(f"unknown target {t!r}")
    todo = [t for t in targets
            if args.force or not (args.out / t).is_dir() or not any((args.out / t).iterdir())]
    if not todo:
        print("make_corpus: every corpus exists (use --force to regenerate)")
        return 0
    sinks = build(todo, not args.no_limbo)
    for t in todo:
        d = args.out / t
        if args.force and d.exists():
            shutil.rmtree(d)
        n = sinks[t].write(d)
        print(f"make_corpus: {t}: {n} seeds in {d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
