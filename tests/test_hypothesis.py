"""Property tests (hypothesis) of the public API against hostile input.

* Random mutations (bit flips, truncations, insertions, deletions, byte swaps) of valid chains
  never crash or hang ``Verifier.verify``, and a mutated chain that verifies still has the
  original leaf, byte for byte (no alternative encoding of a signed certificate is accepted).
* A chain whose leaf or intermediate has any signature byte changed never verifies.
* Random and damaged PEM text never crashes ``pem_to_der`` or ``Verifier.verify(str)``.
* Random CRL mutations never crash ``RevocationSet.build`` (a changed signature is refused), and
  snapshot mutations never crash ``RevocationSet.from_snapshot_bytes``.

Deterministic (``derandomize=True``, no example database) and bounded: about 200 examples per
test, a deadline per example, well under 20 s in all.
"""

from __future__ import annotations

import functools
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pki
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import fastmtls
from fastmtls import (
    FIELD_NAMES,
    CertificateLoadError,
    RevocationError,
    RevocationSet,
    SnapshotError,
    TrustStore,
    Verifier,
    VerifyResult,
)

SETTINGS = settings(
    max_examples=200,
    derandomize=True,
    database=None,
    deadline=timedelta(milliseconds=2000),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --- DER helpers -------------------------------------------------------------------------------

def tlv_at(der: bytes, off: int) -> tuple[int, int, int]:
    """(tag, header length, content length) of the element at ``off``."""
    n = der[off + 1]
    if n < 0x80:
        return der[off], 2, n
    k = n & 0x7F
    return der[off], 2 + k, int.from_bytes(der[off + 2 : off + 2 + k], "big")


def first_tlv(data: bytes) -> bytes:
    """The first TLV of ``data`` (all of it when the header does not parse)."""
    try:
        _, h, c = tlv_at(data, 0)
    except IndexError:
        return data
    return data[: h + c]


def signature_span(der: bytes) -> tuple[int, int]:
    """(offset, length) of the signature value bytes of a certificate or CRL: the content of the
    last element of the outer SEQUENCE (a BIT STRING), after its unused-bits octet."""
    _, hl, cl = tlv_at(der, 0)
    off, end, last = hl, hl + cl, None
    while off < end:
        tag, h, c = tlv_at(der, off)
        last = (tag, off + h, c)
        off += h + c
    assert last is not None and last[0] == 0x03
    return last[1] + 1, last[2] - 1


# --- fixtures (built once per module; hypothesis re-runs the test body, not the fixtures) -------

@dataclass(frozen=True)
class PKI:
    verifier: Verifier
    chains: dict[str, list[bytes]]  # presented chains that verify, leaf first
    pem: str
    crl_ca: bytes
    crls: list[bytes]
    snapshot: bytes


@functools.lru_cache(maxsize=1)
def build_pki() -> PKI:
    store = TrustStore()
    chains: dict[str, list[bytes]] = {}
    for key in ("p256", "rsa2048", "ed25519", "p384"):
        root = pki.ca(f"Hyp Root {key}", key)
        inter = pki.intermediate(root, f"Hyp Inter {key}", key)
        leaf = pki.leaf(inter, f"hyp {key}", key)
        store.add_der(root.der, name=f"root-{key}")
        chains[key] = [leaf.der, inter.der]
    pss_root = pki.ca("Hyp PSS root", "rsa2048")
    store.add_der(pss_root.der, name="root-pss")
    pss_inter = pki.intermediate(pss_root, "Hyp PSS inter", "rsa2048", rsa_pss=True)
    chains["rsa-pss"] = [pki.leaf(pss_inter, "hyp pss", "p256", rsa_pss=True).der, pss_inter.der]
    verifier = Verifier(store)
    for name, chain in chains.items():
        r = verifier.verify(chain, at=pki.NOW)
        assert r.status == "SUCCESS", (name, r.status)

    crl_root = pki.ca("Hyp CRL root", "p256")
    now = pki.NOW
    b = (x509.CertificateRevocationListBuilder().issuer_name(crl_root.cert.subject)
         .last_update(now - timedelta(days=1)).next_update(now + timedelta(days=7))
         .add_extension(x509.CRLNumber(5), False))
    for serial in (1, 2, 0x0BAD, 1 << 100):
        b = b.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial)
            .revocation_date(now - timedelta(days=3))
            .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), False).build())
    base = b.sign(crl_root.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
    delta = (x509.CertificateRevocationListBuilder().issuer_name(crl_root.cert.subject)
             .last_update(now).next_update(now + timedelta(days=1))
             .add_extension(x509.CRLNumber(6), False)
             .add_extension(x509.DeltaCRLIndicator(5), True)
             .add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(3)
                                      .revocation_date(now).build())
             .sign(crl_root.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER))
    rs = RevocationSet.build([base, delta], cas=[crl_root.der])
    assert len(rs) == 5
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "set.fmrev"
        rs.save(path)
        snapshot = path.read_bytes()
    pem = "".join(x509.load_der_x509_certificate(d).public_bytes(serialization.Encoding.PEM)
                  .decode() for d in chains["p256"])
    return PKI(verifier, chains, pem, crl_root.der, [base, delta], snapshot)


@pytest.fixture(scope="module")
def p() -> PKI:
    return build_pki()


# --- mutation strategies -----------------------------------------------------------------------

def mutation() -> st.SearchStrategy[tuple[Any, ...]]:
    idx = st.integers(min_value=0, max_value=1 << 16)
    return st.one_of(
        st.tuples(st.just("flip"), idx, st.integers(0, 7)),
        st.tuples(st.just("set"), idx, st.integers(0, 255)),
        st.tuples(st.just("truncate"), idx),
        st.tuples(st.just("insert"), idx, st.binary(min_size=1, max_size=8)),
        st.tuples(st.just("delete"), idx, st.integers(1, 8)),
        st.tuples(st.just("swap"), idx, idx),
    )


def mutate(data: bytes, ops: list[tuple[Any, ...]]) -> bytes:
    b = bytearray(data)
    for op in ops:
        n = len(b)
        kind = op[0]
        if kind == "insert":
            i = op[1] % (n + 1)
            b[i:i] = op[2]
            continue
        if n == 0:
            continue
        i = op[1] % n
        if kind == "flip":
            b[i] ^= 1 << op[2]
        elif kind == "set":
            b[i] = op[2]
        elif kind == "truncate":
            del b[i:]
        elif kind == "delete":
            del b[i : i + op[2]]
        elif kind == "swap":
            j = op[2] % n
            b[i], b[j] = b[j], b[i]
    return bytes(b)


def assert_clean(r: VerifyResult) -> None:
    """A result whose every lazily decoded part reads without raising (a gateway logs them for
    chains of any quality)."""
    assert isinstance(r, VerifyResult)
    assert r.status in ("SUCCESS", "NONE") or r.status.startswith("FAILED:"), r.status
    fields = r.fields()
    assert set(fields) == set(FIELD_NAMES)
    sans = r.sans
    assert sans == {} or set(sans) == {"dns", "ip", "email", "uri"}
    assert isinstance(r.chain, list) and isinstance(r.presented_chain, list)
    (r.anchor_name, r.depth, r.revocation, r.not_before, r.not_after, r.reason)  # noqa: B018


CHAIN_NAMES = ("p256", "rsa2048", "ed25519", "p384", "rsa-pss")


# --- chains ------------------------------------------------------------------------------------

@SETTINGS
@given(name=st.sampled_from(CHAIN_NAMES), ops=st.lists(mutation(), min_size=1, max_size=4),
       as_list=st.booleans())
def test_mutated_chain_never_crashes(p: PKI, name: str, ops: list[tuple[Any, ...]],
                                     as_list: bool) -> None:
    chain = p.chains[name]
    if as_list:  # mutate the leaf only, keep the intermediate intact
        presented = [mutate(chain[0], ops), chain[1]]
        r = p.verifier.verify(presented, at=pki.NOW)
        leaf = presented[0]
    else:  # mutate the concatenation (boundaries move)
        data = mutate(b"".join(chain), ops)
        r = p.verifier.verify(data, at=pki.NOW)
        leaf = first_tlv(data)
    assert_clean(r)
    if r.status == "SUCCESS":
        assert leaf == chain[0], "a leaf with other bytes than the signed one verified"
        assert r.fields()["cert_verified"] is True


@SETTINGS
@given(name=st.sampled_from(CHAIN_NAMES), which=st.sampled_from([0, 1]),
       pos=st.integers(min_value=0, max_value=1 << 16), mask=st.integers(1, 255),
       extra=st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(1, 255)), max_size=3))
def test_signature_change_never_verifies(p: PKI, name: str, which: int, pos: int, mask: int,
                                         extra: list[tuple[int, int]]) -> None:
    chain = list(p.chains[name])
    der = bytearray(chain[which])
    off, n = signature_span(bytes(der))
    for q, m in [(pos, mask), *extra]:
        der[off + q % n] ^= m
    assume(bytes(der) != chain[which])  # two changes of one byte may cancel out
    chain[which] = bytes(der)
    r = p.verifier.verify(chain, at=pki.NOW)
    assert_clean(r)
    assert r.status != "SUCCESS", f"{name}: a changed signature at depth {which} verified"
    assert r.fields()["cert_verified"] is False
    # the concatenated form and a second call (caches warm) agree
    r2 = p.verifier.verify(b"".join(chain), at=pki.NOW)
    assert r2.status == r.status


def test_intact_chains_verify_with_warm_caches(p: PKI) -> None:
    """The signature property above is only meaningful if the untampered chains verify."""
    for name in CHAIN_NAMES:
        for _ in range(2):
            assert p.verifier.verify(p.chains[name], at=pki.NOW).status == "SUCCESS"


# --- PEM ---------------------------------------------------------------------------------------

PEM_ALPHABET = st.sampled_from(
    [*"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=- \r\n\t", "é", "\x00"])


def pem_like() -> st.SearchStrategy[str]:
    body = st.text(PEM_ALPHABET, max_size=300)
    label = st.sampled_from(["CERTIFICATE", "X509 CRL", "TRUSTED CERTIFICATE", "PRIVATE KEY",
                             "CERT", ""])
    block = st.builds(lambda lb, b, lb2: f"-----BEGIN {lb}-----\n{b}\n-----END {lb2}-----\n",
                      label, body, label)
    return st.one_of(st.text(max_size=300), body, block,
                     st.lists(block, min_size=1, max_size=3).map("".join))


@SETTINGS
@given(text=pem_like())
def test_random_pem_never_crashes(p: PKI, text: str) -> None:
    try:
        ders = fastmtls.pem_to_der(text)
        assert all(isinstance(d, bytes) and d for d in ders)
    except CertificateLoadError:
        pass
    assert_clean(p.verifier.verify(text, at=pki.NOW))
    assert_clean(p.verifier.verify(text.encode("utf-8", "replace"), at=pki.NOW))


@SETTINGS
@given(ops=st.lists(st.tuples(st.integers(0, 1 << 16), PEM_ALPHABET, st.sampled_from(
    ["set", "insert", "delete"])), min_size=1, max_size=6))
def test_damaged_pem_never_crashes(p: PKI, ops: list[tuple[int, str, str]]) -> None:
    text = list(p.pem)
    for pos, ch, kind in ops:
        i = pos % (len(text) + 1)
        if kind == "insert":
            text.insert(i, ch)
        elif text and kind == "set":
            text[i % len(text)] = ch
        elif text:
            del text[i % len(text)]
    s = "".join(text)
    try:
        fastmtls.pem_to_der(s)
    except CertificateLoadError:
        pass
    r = p.verifier.verify(s, at=pki.NOW)
    assert_clean(r)
    if r.status == "SUCCESS":  # only whitespace-level damage can leave the chain intact
        assert fastmtls.pem_to_der(s) == p.chains["p256"]


# --- CRLs and snapshots ------------------------------------------------------------------------

@SETTINGS
@given(which=st.sampled_from([0, 1]), ops=st.lists(mutation(), min_size=1, max_size=4))
def test_mutated_crl_never_crashes(p: PKI, which: int, ops: list[tuple[Any, ...]]) -> None:
    crls = list(p.crls)
    crls[which] = mutate(crls[which], ops)
    try:
        fastmtls.inspect_crl(crls[which])
    except RevocationError:
        pass
    try:
        rs = RevocationSet.build(crls, cas=[p.crl_ca])
    except RevocationError:
        return
    len(rs)
    rs.issuers()
    rs.lookup(p.crl_ca, 0x0BAD)


@SETTINGS
@given(which=st.sampled_from([0, 1]), pos=st.integers(0, 1 << 16), mask=st.integers(1, 255))
def test_crl_signature_change_is_refused(p: PKI, which: int, pos: int, mask: int) -> None:
    crls = list(p.crls)
    der = bytearray(crls[which])
    off, n = signature_span(bytes(der))
    der[off + pos % n] ^= mask
    crls[which] = bytes(der)
    with pytest.raises(RevocationError):
        RevocationSet.build(crls, cas=[p.crl_ca])


@SETTINGS
@given(ops=st.lists(mutation(), min_size=1, max_size=4))
def test_mutated_snapshot_never_crashes(p: PKI, ops: list[tuple[Any, ...]]) -> None:
    data = mutate(p.snapshot, ops)
    try:
        rs = RevocationSet.from_snapshot_bytes(data)
    except SnapshotError:
        return
    # only a no-op mutation (e.g. swapping equal bytes) gets past the checksum
    assert data == p.snapshot
    assert rs.lookup(p.crl_ca, 0x0BAD) is not None
