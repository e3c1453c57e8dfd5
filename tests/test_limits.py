"""Every limit on hostile input, tested just under and just over it, and the CPU bound of one
verification.

Limits and what crossing each one gives (csrc/fm_verify.c unless said otherwise):

- ``Limits.max_cert_size`` (FM_DEFAULT_MAX_CERT_SIZE, 64 KiB): a larger presented certificate is
  not parsed; the leaf gives ``FAILED:certificate chain input too large`` (INPUT_TOO_LARGE, depth
  0), an intermediate is not a candidate issuer. An operator intermediate that large is refused
  with :class:`LimitError`.
- ``Limits.max_chain_certs`` (64): more presented certificates give CERT_CHAIN_TOO_LONG.
- ``Limits.max_input_size`` (1 MiB): a longer presented chain gives INPUT_TOO_LARGE.
- ``Verifier(max_depth=)`` (FM_DEFAULT_MAX_DEPTH, 8; at most FM_MAX_DEPTH_LIMIT, 62): more
  intermediates give CERT_CHAIN_TOO_LONG.
- ``Limits.max_sig_checks`` (100), ``Limits.max_sig_cost`` (400 units of signature work, one
  unit an RSA-2048 check with e = 65537: P-256 4, RSA-4096 4, Ed25519 7, RSA-8192 16 (32 with a
  32-bit exponent), P-521 32, P-384 40) and ``Limits.max_steps`` (2000): path building past any
  gives BUDGET_EXCEEDED.
- RSA keys verified with: at most FM_MAX_RSA_BITS (8192) bits and a 32-bit exponent (fm_crypto.c);
  others are unsupported (UNSUPPORTED_SIGNATURE_ALGORITHM for the certificate they should verify).
- A certificate presented twice (the same DER) is one candidate issuer; copies with the same TBS
  and other signatures are separate candidates (a bad signature must not hide a good one), but
  the paths above them are explored once per issuer key that one of them verified under.
- ``Limits.max_nc_checks`` (FM_DEFAULT_MAX_NC_CHECKS, 2^20): names x name constraints per (CA,
  certificate) pair; BUDGET_EXCEEDED past it.
- Trust anchors: at most FM_MAX_ANCHOR_SIZE (1 MiB) each and FM_MAX_ANCHORS (65535) per store,
  LimitError.
- Revocation sets: at most FM_MAX_REVSET_ISSUERS (65535) issuing CAs, RevocationError;
  the record arena and slot table are bounded at 4 GiB (not tested: it takes that much memory).
- PEM input: ``pem_to_der(max_bytes=16 MiB)``, CertificateLoadError; ``CRLSource(max_bytes=50
  MiB)`` per file or response, recorded as the source's error.

The CPU bound: no verification may take more than ``CPU_BUDGET_MS`` (10 ms, or
$FASTMTLS_CPU_BUDGET_MS) of CPU time, measured with ``time.thread_time()`` around one cold
``verify`` (a new verifier: nothing cached), the minimum of 3 runs. Inputs measured within ~20%
of it here are held to twice the budget, so that a loaded machine passes and a regression fails.
Timing is skipped under sanitizers (tools/sanitize.sh sets FASTMTLS_SANITIZED) and where the
thread clock is coarse.
"""

from __future__ import annotations

import math
import os
import secrets
import sys
import time
import types
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pki
import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from helpers import make_verifier, sanitized

import fastmtls
from fastmtls import (
    CertificateLoadError,
    ConfigurationError,
    LimitError,
    Limits,
    Reason,
    Revocation,
    RevocationError,
    RevocationSet,
    TrustStore,
    Verifier,
    pem_to_der,
)
from fastmtls._ffi import lib

R = Reason
DEFAULT = Limits()
PAD_OID = x509.ObjectIdentifier("1.3.6.1.4.1.55738.666.7")  # non-critical, unknown: ignored
CPU_BUDGET_MS = float(os.environ.get("FASTMTLS_CPU_BUDGET_MS", "10"))
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
NC_MAX_CHECKS = int(lib.FM_DEFAULT_MAX_NC_CHECKS)
RS_MAX_ISSUERS = int(lib.FM_MAX_REVSET_ISSUERS)
_UTF8STRING = x509.name._ASN1Type.UTF8String
ANCHOR_MAX = int(lib.FM_MAX_ANCHOR_SIZE)


TIMING_OK = not sanitized() and time.get_clock_info("thread_time").resolution <= 1e-4


# ---- DER surgery --------------------------------------------------------------------------


def _tlv(der: bytes, off: int) -> tuple[int, int, int]:
    """(tag, header length, content length) of the element at ``off``."""
    n = der[off + 1]
    if n < 0x80:
        return der[off], 2, n
    k = n & 0x7F
    return der[off], 2 + k, int.from_bytes(der[off + 2 : off + 2 + k], "big")


def _enc(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(b)]) + b + content


def _inner(der: bytes) -> bytes:
    _, h, n = _tlv(der, 0)
    return der[h : h + n]


def _children(content: bytes) -> list[bytes]:
    out, off = [], 0
    while off < len(content):
        _, h, n = _tlv(content, off)
        out.append(content[off : off + h + n])
        off += h + n
    return out


def _integer(v: int) -> bytes:
    return _enc(0x02, v.to_bytes((v.bit_length() + 8) // 8, "big"))


def rsa_spki(n: int, e: int) -> bytes:
    """SubjectPublicKeyInfo of an RSA key with modulus ``n`` and exponent ``e`` (no private key:
    only the cost of checking a signature under it matters)."""
    alg = bytes.fromhex("300d06092a864886f70d0101010500")
    return _enc(0x30, alg + _enc(0x03, b"\x00" + _enc(0x30, _integer(n) + _integer(e))))


def replace_spki(cert: bytes, spki: bytes) -> bytes:
    """``cert`` with another subject key (its own signature is left as it was)."""
    tbs, alg, sig = _children(_inner(cert))
    parts = _children(_inner(tbs))
    parts[6] = spki  # [0] version, serial, signature, issuer, validity, subject, spki, ...
    return _enc(0x30, _enc(0x30, b"".join(parts)) + alg + sig)


def replace_signature(cert: bytes, value: bytes) -> bytes:
    tbs, alg, _ = _children(_inner(cert))
    return _enc(0x30, tbs + alg + _enc(0x03, b"\x00" + value))


def malleate_ecdsa(cert: bytes, order: int = P256_ORDER) -> bytes:
    """The same certificate with its ECDSA signature (r, s) replaced by (r, n - s): a different
    DER, still validly signed."""
    tbs, alg, sig = _children(_inner(cert))
    r_der, s_der = _children(_inner(_inner(sig)[1:]))
    s_val = int.from_bytes(_inner(s_der), "big")
    value = _enc(0x30, r_der + _integer(order - s_val))
    return _enc(0x30, tbs + alg + _enc(0x03, b"\x00" + value))


def junk(size: int) -> bytes:
    """A DER SEQUENCE of exactly ``size`` bytes (>= 4) that is no certificate."""
    for hdr in (2, 3, 4, 5):
        n = size - hdr
        if n >= 0 and len(_enc(0x30, b"\x00" * n)) == size:
            return _enc(0x30, b"\x00" * n)
    raise ValueError(size)


def odd(bits: int) -> int:
    """A random odd number of exactly ``bits`` bits with its top byte 0xff."""
    return secrets.randbits(bits) | 1 | (0xFF << (bits - 8))


# ---- certificates of an exact size --------------------------------------------------------


@pytest.fixture(scope="module")
def ed_root() -> pki.Cert:
    """An Ed25519 root: its signatures are 64 bytes, so what it issues has a predictable size."""
    return pki.ca("Limits Ed25519 Root", "ed25519")


@pytest.fixture(scope="module")
def ed_inter(ed_root: pki.Cert) -> pki.Cert:
    return pki.intermediate(ed_root, "Limits Ed25519 Intermediate", "ed25519", serial=7)


def sized(make: Callable[[int], bytes], size: int) -> bytes:
    """``make(pad)`` for the pad length that gives a DER of exactly ``size`` bytes."""
    pad = max(0, size - len(make(0)) - 8)
    for _ in range(12):
        der = make(pad)
        if len(der) == size:
            return der
        pad = max(0, pad + size - len(der))
    raise AssertionError(f"no padding gives {size} bytes")


def padded_leaf(issuer: pki.Cert, size: int, key: Any) -> bytes:
    def make(pad: int) -> bytes:
        ext = x509.UnrecognizedExtension(PAD_OID, b"\x00" * pad)
        return pki.leaf(issuer, "padded client", key, serial=11,
                        extra_extensions=[(ext, False)]).der  # fmt: skip

    return sized(make, size)


@pytest.fixture(scope="module")
def leaf_key() -> Any:
    return pki.make_key("p256")


# ---- max_cert_size ------------------------------------------------------------------------


@pytest.mark.parametrize("size", [DEFAULT.max_cert_size, DEFAULT.max_cert_size + 1])
def test_max_cert_size_default(ed_root: pki.Cert, ed_inter: pki.Cert, leaf_key: Any,
                               size: int) -> None:  # fmt: skip
    """A 64 KiB leaf verifies; one byte more is input too large (depth 0)."""
    leaf = padded_leaf(ed_inter, size, leaf_key)
    assert len(leaf) == size
    r = make_verifier(ed_root).verify([leaf, ed_inter.der], at=pki.NOW)
    if size <= DEFAULT.max_cert_size:
        assert r.verified, r.status
    else:
        assert r.reason == R.INPUT_TOO_LARGE and r.depth == 0, r.status
        assert r.status == "FAILED:certificate chain input too large"


def test_max_cert_size_configured(ed_root: pki.Cert, ed_inter: pki.Cert, leaf_key: Any) -> None:
    """max_cert_size = the largest certificate's size passes; one less fails."""
    chain = [pki.leaf(ed_inter, "client", leaf_key).der, ed_inter.der]
    big = max(map(len, chain))
    r = make_verifier(ed_root, limits=Limits(max_cert_size=big)).verify(chain, at=pki.NOW)
    assert r.verified, r.status
    r = make_verifier(ed_root, limits=Limits(max_cert_size=big - 1)).verify(chain, at=pki.NOW)
    assert r.reason in (R.INPUT_TOO_LARGE, R.UNABLE_TO_GET_ISSUER_CERT_LOCALLY), r.status


@pytest.mark.parametrize("size", [DEFAULT.max_cert_size, DEFAULT.max_cert_size + 1])
def test_max_cert_size_intermediate(ed_root: pki.Cert, size: int) -> None:
    """A presented 64 KiB intermediate is used; one byte larger it is not read, so the leaf has
    no issuer."""
    key = pki.make_key("ed25519")

    def make(pad: int) -> bytes:
        ext = x509.UnrecognizedExtension(PAD_OID, b"\x00" * pad)
        return pki.intermediate(ed_root, "Padded Intermediate", key, serial=9,
                                extra_extensions=[(ext, False)]).der  # fmt: skip

    inter_der = sized(make, size)
    issuer = pki.Cert(x509.load_der_x509_certificate(inter_der), key)
    leaf = pki.leaf(issuer, "client")
    r = make_verifier(ed_root).verify([leaf.der, inter_der], at=pki.NOW)
    if size <= DEFAULT.max_cert_size:
        assert r.verified, r.status
    else:
        assert r.reason == R.UNABLE_TO_GET_ISSUER_CERT_LOCALLY and r.depth == 0, r.status


def test_max_cert_size_operator_intermediate(ed_root: pki.Cert, ed_inter: pki.Cert) -> None:
    """An operator intermediate larger than max_cert_size is refused when configured."""
    n = len(ed_inter.der)
    Verifier(TrustStore(), intermediates=[ed_inter.der], limits=Limits(max_cert_size=n))
    with pytest.raises(LimitError):
        Verifier(TrustStore(), intermediates=[ed_inter.der], limits=Limits(max_cert_size=n - 1))


# ---- max_chain_certs ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def ch() -> pki.Chain:
    return pki.chain(1)


@pytest.mark.parametrize("n", [DEFAULT.max_chain_certs, DEFAULT.max_chain_certs + 1])
def test_max_chain_certs_default(ch: pki.Chain, n: int) -> None:
    """64 presented certificates are read; 65 are certificate chain too long."""
    filler = pki.leaf(ch.intermediates[0], "someone else").der
    chain = [*ch.presented_der, *[filler] * (n - 2)]
    r = make_verifier(ch.root).verify(chain, at=pki.NOW)
    if n <= DEFAULT.max_chain_certs:
        assert r.verified, r.status
    else:
        assert r.reason == R.CERT_CHAIN_TOO_LONG, r.status


def test_max_chain_certs_configured(ch: pki.Chain) -> None:
    """max_chain_certs = 2 reads leaf + intermediate; 1 refuses them."""
    assert make_verifier(ch.root, limits=Limits(max_chain_certs=2)).verify(
        ch.presented_der, at=pki.NOW).verified
    r = make_verifier(ch.root, limits=Limits(max_chain_certs=1)).verify(ch.presented_der,
                                                                        at=pki.NOW)
    assert r.reason == R.CERT_CHAIN_TOO_LONG


# ---- max_input_size -----------------------------------------------------------------------


def _chain_of_size(ch: pki.Chain, total: int) -> list[bytes]:
    """Leaf, intermediate and junk elements (no certificates: ignored) of ``total`` bytes."""
    head = ch.presented_der
    rest = total - sum(map(len, head))
    fill, size = [], 60000
    while rest > size + 8:
        fill.append(junk(size))
        rest -= size
    fill.append(junk(rest))
    out = [*head, *fill]
    assert sum(map(len, out)) == total and len(out) <= DEFAULT.max_chain_certs
    return out


@pytest.mark.parametrize("total", [DEFAULT.max_input_size, DEFAULT.max_input_size + 1])
def test_max_input_size_default(ch: pki.Chain, total: int) -> None:
    """A presented chain of 1 MiB is read; one byte more is input too large."""
    r = make_verifier(ch.root).verify(_chain_of_size(ch, total), at=pki.NOW)
    if total <= DEFAULT.max_input_size:
        assert r.verified, r.status
    else:
        assert r.reason == R.INPUT_TOO_LARGE and r.depth == 0, r.status


def test_max_input_size_configured(ch: pki.Chain) -> None:
    n = sum(map(len, ch.presented_der))
    assert make_verifier(ch.root, limits=Limits(max_input_size=n)).verify(ch.presented_der,
                                                                          at=pki.NOW).verified
    r = make_verifier(ch.root, limits=Limits(max_input_size=n - 1)).verify(ch.presented_der,
                                                                           at=pki.NOW)
    assert r.reason == R.INPUT_TOO_LARGE


# ---- max_depth ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def deep() -> pki.Chain:
    """Root + 9 intermediates + leaf."""
    return pki.chain(9)


@pytest.mark.parametrize("n_inters", [8, 9])
def test_max_depth_default(deep: pki.Chain, n_inters: int) -> None:
    """8 intermediates (the default max_depth) verify; 9 are certificate chain too long."""
    inters = deep.intermediates[len(deep.intermediates) - n_inters :]  # the ones near the root
    leaf = deep.leaf if n_inters == 9 else pki.leaf(inters[0], "client")
    r = make_verifier(deep.root).verify([leaf.der, *[c.der for c in inters]], at=pki.NOW)
    if n_inters <= int(lib.FM_DEFAULT_MAX_DEPTH):
        assert r.verified and len(r.chain) == n_inters + 2, r.status
    else:
        assert r.reason == R.CERT_CHAIN_TOO_LONG, r.status


@pytest.mark.parametrize("max_depth", [0, 1, 2])
def test_max_depth_configured(max_depth: int) -> None:
    """max_depth intermediates pass, max_depth + 1 do not."""
    c = pki.chain(max_depth + 1)
    v = make_verifier(c.root, max_depth=max_depth)
    assert v.verify(c.presented_der, at=pki.NOW).reason == R.CERT_CHAIN_TOO_LONG
    under = pki.leaf(c.intermediates[1], "client") if max_depth + 1 > 1 else pki.leaf(c.root)
    presented = [under.der, *[i.der for i in c.intermediates[1:]]]
    assert v.verify(presented, at=pki.NOW).verified


def test_max_depth_ceiling() -> None:
    """max_depth is at most FM_MAX_DEPTH_LIMIT (62): 63 is refused."""
    top = int(lib.FM_MAX_DEPTH_LIMIT)
    assert top == 62
    Verifier(TrustStore(), max_depth=top)
    with pytest.raises(ConfigurationError):
        Verifier(TrustStore(), max_depth=top + 1)


# ---- max_sig_checks and max_steps ---------------------------------------------------------


def _no_cache(**kw: Any) -> dict[str, Any]:
    return {"result_cache_size": 0, "signature_cache_size": 0, **kw}


@pytest.fixture(scope="module")
def same_name_anchors() -> tuple[list[pki.Cert], pki.Cert]:
    """101 roots named "Same Name Root" (distinct keys) and a leaf issued by the last one, whose
    authorityKeyIdentifier names none of them (the root it names would be tried first)."""
    roots = [pki.ca("Same Name Root") for _ in range(DEFAULT.max_sig_checks + 1)]
    return roots, pki.leaf(roots[-1], "client", aki=b"\x01" * 20)


@pytest.mark.parametrize("n", [DEFAULT.max_sig_checks, DEFAULT.max_sig_checks + 1])
def test_max_sig_checks_default(same_name_anchors: tuple[list[pki.Cert], pki.Cert],
                                n: int) -> None:  # fmt: skip
    """The leaf's issuer is the n-th of n same-name anchors: 100 signature checks find it, the
    101st check is over budget."""
    roots, leaf = same_name_anchors
    store = TrustStore()
    store.add_ders([r.der for r in [*roots[: n - 1], roots[-1]]], name="same")
    r = Verifier(store, **_no_cache()).verify([leaf.der], at=pki.NOW)
    if n <= DEFAULT.max_sig_checks:
        assert r.verified and r._res.sig_checks == n, r.status
    else:
        assert r.reason == R.BUDGET_EXCEEDED, r.status
        assert r.status == "FAILED:path building budget exceeded"


def test_the_anchor_the_aki_names_is_tried_first(
    same_name_anchors: tuple[list[pki.Cert], pki.Cert],
) -> None:
    """Many tenants' CAs under one name (a shared store; Easy-RSA's "CN=Easy-RSA CA"): a leaf
    whose authorityKeyIdentifier names its CA is checked against that CA first, so a leaf under
    the 101st verifies with one signature check (it used to exceed the budget). Without a
    matching identifier the order is the store's; the signature decides either way."""
    roots, _ = same_name_anchors
    store = TrustStore()
    store.add_ders([r.der for r in roots], name="same")
    v = Verifier(store, **_no_cache())
    for root in (roots[0], roots[-1]):
        r = v.verify([pki.leaf(root, "tenant client").der], at=pki.NOW)
        assert r.verified and r._res.sig_checks == 1, r.status
    wrong = pki.leaf(roots[-1], "misnamed", aki=roots[0].cert.extensions.get_extension_for_class(
        x509.SubjectKeyIdentifier).value.digest)  # fmt: skip
    r = v.verify([wrong.der], at=pki.NOW)
    assert r.reason == R.BUDGET_EXCEEDED  # the order of the store again: the 101st is too late


def test_max_sig_checks_configured(ch: pki.Chain) -> None:
    """leaf -> intermediate -> root takes 2 signature checks."""
    v = make_verifier(ch.root, **_no_cache(limits=Limits(max_sig_checks=2)))
    r = v.verify(ch.presented_der, at=pki.NOW)
    assert r.verified and r._res.sig_checks == 2
    v = make_verifier(ch.root, **_no_cache(limits=Limits(max_sig_checks=1)))
    assert v.verify(ch.presented_der, at=pki.NOW).reason == R.BUDGET_EXCEEDED


@pytest.mark.parametrize("n_bad", [DEFAULT.max_steps - 2, DEFAULT.max_steps - 1])
def test_max_steps_default(ch: pki.Chain, n_bad: int) -> None:
    """Operator intermediates: n_bad same-name CAs without keyCertSign (each a step, none a
    signature check), then the real one, then the root: 2000 steps verify, 2001 are over."""
    real = ch.intermediates[0]
    bad = pki.intermediate(ch.root, real.cert.subject, key_usage={"digital_signature"}).der
    v = make_verifier(ch.root, intermediates=[*[bad] * n_bad, real.der], **_no_cache())
    r = v.verify([ch.leaf.der], at=pki.NOW)
    if n_bad + 2 <= DEFAULT.max_steps:
        assert r.verified and r._res.steps == DEFAULT.max_steps, r.status
    else:
        assert r.reason == R.BUDGET_EXCEEDED, r.status
    assert r._res.sig_checks <= 2


def test_max_steps_configured(ch: pki.Chain) -> None:
    """leaf -> intermediate -> root takes 2 steps."""
    r = make_verifier(ch.root, **_no_cache(limits=Limits(max_steps=2))).verify(ch.presented_der,
                                                                              at=pki.NOW)
    assert r.verified and r._res.steps == 2
    r = make_verifier(ch.root, **_no_cache(limits=Limits(max_steps=1))).verify(ch.presented_der,
                                                                              at=pki.NOW)
    assert r.reason == R.BUDGET_EXCEEDED


def _mixed_anchor_store(p521: list[pki.Cert], p256: list[pki.Cert], n_p256: int) -> TrustStore:
    """12 wrong P-521 anchors (32 units each), n_p256 - 1 wrong P-256 ones (4 each), then the
    leaf's real P-256 issuer, all named "Cost Root"."""
    store = TrustStore()
    store.add_ders([c.der for c in [*p521, *p256[: n_p256 - 1], p256[-1]]], name="cost")
    return store


@pytest.fixture(scope="module")
def cost_anchors() -> tuple[list[pki.Cert], list[pki.Cert], pki.Cert]:
    p521 = [pki.ca("Cost Root", "p521") for _ in range(12)]
    p256 = [pki.ca("Cost Root", "p256") for _ in range(6)]
    # an authorityKeyIdentifier naming none of them: the store's order (see same_name_anchors)
    return p521, p256, pki.leaf(p256[-1], "client", aki=b"\x01" * 20)


@pytest.mark.parametrize("n_p256", [4, 5])
def test_max_sig_cost_default(cost_anchors: tuple[list[pki.Cert], list[pki.Cert], pki.Cert],
                              n_p256: int) -> None:  # fmt: skip
    """12 P-521 checks (384 units) and 4 P-256 checks (16) are 400 units: verified; one P-256
    check more (404) is over max_sig_cost."""
    p521, p256, leaf = cost_anchors
    store = _mixed_anchor_store(p521, p256, n_p256)
    r = Verifier(store, **_no_cache()).verify([leaf.der], at=pki.NOW)
    assert DEFAULT.max_sig_cost == 400
    if 12 * 32 + 4 * n_p256 <= DEFAULT.max_sig_cost:
        assert r.verified and r._res.sig_checks == 12 + n_p256, r.status
    else:
        assert r.reason == R.BUDGET_EXCEEDED, r.status
        assert r._res.sig_checks == 12 + n_p256


def test_max_sig_cost_configured(ch: pki.Chain) -> None:
    """leaf -> intermediate -> root (P-256) costs 8 units."""
    r = make_verifier(ch.root, **_no_cache(limits=Limits(max_sig_cost=8))).verify(
        ch.presented_der, at=pki.NOW)
    assert r.verified, r.status
    r = make_verifier(ch.root, **_no_cache(limits=Limits(max_sig_cost=7))).verify(
        ch.presented_der, at=pki.NOW)
    assert r.reason == R.BUDGET_EXCEEDED


def test_presented_twice_is_one_candidate(ch: pki.Chain) -> None:
    """63 copies of a same-name intermediate that did not sign the leaf cost one check (the
    leaf's authority key identifier names another key: the issuer is not found)."""
    other = pki.intermediate(pki.ca("Other Root"), ch.intermediates[0].cert.subject).der
    r = make_verifier(ch.root, **_no_cache()).verify([ch.leaf.der, *[other] * 63], at=pki.NOW)
    assert r.reason == R.UNABLE_TO_GET_ISSUER_CERT_LOCALLY and r._res.sig_checks == 1, r.status


# ---- option ranges ------------------------------------------------------------------------


@pytest.mark.parametrize(("field", "top"), [
    ("max_cert_size", 2**32 - 1), ("max_input_size", 2**32 - 1), ("max_sig_checks", 2**32 - 1),
    ("max_steps", 2**32 - 1), ("max_sig_cost", 2**32 - 1), ("max_nc_checks", 2**32 - 1),
    ("max_chain_certs", 65535)],
)  # fmt: skip
def test_limit_ranges(field: str, top: int) -> None:
    """Each limit takes 1 .. its top value; 0 and top + 1 are configuration errors."""
    Verifier(TrustStore(), limits=Limits(**{field: 1}))
    Verifier(TrustStore(), limits=Limits(**{field: top}))
    for bad in (0, top + 1):
        with pytest.raises(ConfigurationError):
            Verifier(TrustStore(), limits=Limits(**{field: bad}))


@pytest.mark.parametrize(("option", "top"), [
    ("result_cache_size", 1 << 24), ("signature_cache_size", 1 << 24), ("min_rsa_bits", 8192)])
def test_option_ranges(option: str, top: int) -> None:
    """Cache sizes up to 2^24 entries, min_rsa_bits up to 8192 (FM_MAX_RSA_BITS: the largest
    RSA key verified)."""
    Verifier(TrustStore(), **{option: top})
    with pytest.raises(ConfigurationError):
        Verifier(TrustStore(), **{option: top + 1})


# ---- name constraints: names x constraints ------------------------------------------------


@pytest.fixture(scope="module")
def nc_root() -> pki.Cert:
    return pki.ca("NC Root")


def nc_chain(root: pki.Cert, n_sans: int, n_cons: int, **leaf_kw: Any) -> list[bytes]:
    """An intermediate permitting n_cons DNS subtrees and a leaf with n_sans DNS names (each
    within the last subtree), its subject a single CN: n_sans + 1 names to check."""
    permitted = [x509.DNSName(f"p{i}.example") for i in range(n_cons)]
    inter = pki.intermediate(root, "NC Intermediate", name_constraints=(permitted, None))
    sans = [x509.DNSName(f"h{i}.p{n_cons - 1}.example") for i in range(n_sans)]
    leaf = pki.leaf(inter, "nc client", san=sans, **leaf_kw)
    return [leaf.der, inter.der]


@pytest.mark.parametrize("n_cons", [1024, 1025])
def test_name_constraint_checks(nc_root: pki.Cert, n_cons: int) -> None:
    """1024 names (1023 SANs and the subject) x 1024 constraints = 2^20 checks verify; one
    constraint more is over the budget."""
    r = make_verifier(nc_root).verify(nc_chain(nc_root, 1023, n_cons), at=pki.NOW)
    if 1024 * n_cons <= NC_MAX_CHECKS:
        assert r.verified, r.status
    else:
        assert r.reason == R.BUDGET_EXCEEDED, r.status


@pytest.mark.parametrize("n_cons", [8, 9])
def test_name_constraint_checks_configured(nc_root: pki.Cert, n_cons: int) -> None:
    """Limits(max_nc_checks=32): 4 names (3 SANs and the subject) x 8 constraints verify, x 9
    is over the budget; the default budget takes both."""
    chain = nc_chain(nc_root, 3, n_cons)
    r = make_verifier(nc_root, limits=Limits(max_nc_checks=32)).verify(chain, at=pki.NOW)
    if 4 * n_cons <= 32:
        assert r.verified, r.status
    else:
        assert r.reason == R.BUDGET_EXCEEDED and r.depth == 0, (r.status, r.depth)
    assert make_verifier(nc_root).verify(chain, at=pki.NOW).verified


@pytest.mark.parametrize("n_cons", [15, 16])
def test_directory_name_constraint_checks(nc_root: pki.Cert, n_cons: int) -> None:
    """directoryNames against directoryName constraints count again (walking two Names costs
    ~100 ns a pair): 16 x (the names' weight x the constraints + the names x the constraints'
    weight), a one-attribute RDN of L octets weighing 1 + L / 8 (here 2; the subject 3). 1023
    SANs and the subject (1024 names of plain weight 1, DN weight 2049) x 15 excluded Names
    (DN weight 30) = 15 x 1024 + 16 x (2049 x 15 + 1024 x 30) = 998,640 weighted checks verify;
    x 16 = 1,065,216 is over the 2^20 budget."""
    def dn(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    excluded = [x509.DirectoryName(dn(f"ex{i}")) for i in range(n_cons)]
    inter = pki.intermediate(nc_root, "NC DN Intermediate", name_constraints=(None, excluded))
    sans = [x509.DirectoryName(dn(f"h{i}")) for i in range(1023)]
    leaf = pki.leaf(inter, "nc client", san=sans)
    r = make_verifier(nc_root).verify([leaf.der, inter.der], at=pki.NOW)
    if 1024 * n_cons + 16 * (2049 * n_cons + 1024 * 2 * n_cons) <= NC_MAX_CHECKS:
        assert r.verified, r.status
    else:
        assert r.reason == R.BUDGET_EXCEEDED and r.depth == 0, (r.status, r.depth)


def test_many_attribute_rdns_weigh_what_comparing_them_costs(nc_root: pki.Cert) -> None:
    """A multi-valued RDN of k attributes costs ~2k^2 attribute comparisons against another:
    17 short attributes in one RDN weighed 2 a Name: 480 such directoryName SANs against as many
    excluded ones took 3 s of CPU within the budget (found by review). Now such a Name weighs
    ~300, and 100 of them against 100 are over the budget at once (within it before), valid
    or expired (failures are not cached)."""
    def rdn(last: int) -> x509.Name:
        attrs = [x509.NameAttribute(x509.ObjectIdentifier(f"1.2.{i}"), "v") for i in range(16)]
        attrs.append(x509.NameAttribute(x509.ObjectIdentifier(f"1.2.{last}"), "v"))
        return x509.Name([x509.RelativeDistinguishedName(attrs)])

    excluded = [x509.DirectoryName(rdn(100)) for _ in range(100)]
    inter = pki.intermediate(nc_root, "NC RDN Intermediate", name_constraints=(None, excluded))
    sans = [x509.DirectoryName(rdn(101)) for _ in range(100)]
    for kw in ({}, {"not_after": pki.NOW - timedelta(days=1)}):
        leaf = pki.leaf(inter, "nc client", san=sans, **kw)
        r = make_verifier(nc_root).verify([leaf.der, inter.der], at=pki.NOW)
        assert r.reason == R.BUDGET_EXCEEDED and r.depth == 0, (r.status, r.depth)


def _policy_layers(branching: int, expired: bool) -> tuple[pki.Cert, list[bytes]]:
    """A root, and a chain of six layers of ``branching`` same-name, same-key intermediates
    (branching^6 paths to the root), every certificate with 64 policies, the top layer requiring
    an explicit policy: each path reaching the root has its policies intersected."""
    policies = (x509.CertificatePolicies([
        x509.PolicyInformation(x509.ObjectIdentifier(f"1.3.6.1.4.1.99999.{i}"), None)
        for i in range(64)]), False)  # fmt: skip
    require = (x509.PolicyConstraints(require_explicit_policy=0, inhibit_policy_mapping=None),
               True)  # fmt: skip
    root = pki.ca("Policy Root")
    issuers, inters = [root], []
    for layer in range(6):
        key = pki.make_key("p256")
        extra = [policies, require] if layer == 0 else [policies]
        issuers = [pki.intermediate(issuers[0], f"Policy Layer {layer}", key=key,
                                    extra_extensions=extra) for _ in range(branching)]  # fmt: skip
        inters = [c.der for c in issuers] + inters
    kw = {"not_after": pki.NOW - timedelta(days=1)} if expired else {}
    leaf = pki.leaf(issuers[0], extra_extensions=[policies], **kw)
    return root, [leaf.der, *inters]


def test_policy_work_counts_towards_the_step_budget() -> None:
    """Explicit policy is processed for every path that reaches an anchor: 729 paths through
    certificates of 64 policies (or 52 KB of repeated anyPolicy entries) took 280 ms per call,
    uncounted, and as much for an expired leaf (failures are not cached; found by review). The
    entries read and identifiers compared now count towards max_steps (one step per 64), and a
    repeated policy is refused."""
    root, chain = _policy_layers(3, expired=True)
    r = make_verifier(root).verify(chain, at=pki.NOW)
    assert r.reason == R.BUDGET_EXCEEDED, r.status
    root, chain = _policy_layers(1, expired=False)  # one such path: well within the budget
    assert make_verifier(root).verify(chain, at=pki.NOW).verified


# ---- trust anchors, revocation sets, PEM, CRL sources -------------------------------------


def padded_root(size: int) -> bytes:
    key = pki.make_key("ed25519")

    def make(pad: int) -> bytes:
        ext = x509.UnrecognizedExtension(PAD_OID, b"\x00" * pad)
        return pki.ca("Padded Root", key, serial=5, extra_extensions=[(ext, False)]).der

    return sized(make, size)


def test_anchor_size() -> None:
    """A 1 MiB trust anchor is accepted; one byte more is a LimitError."""
    ok = padded_root(ANCHOR_MAX)
    TrustStore().add_der(ok, name="big")
    with pytest.raises(LimitError):
        TrustStore().add_der(padded_root(ANCHOR_MAX + 1), name="too big")


def _issuer_variants(template: bytes, n: int) -> list[bytes]:
    """n CA certificates that differ in the subject CN (the same length: patched in place; the
    signatures no longer match, which revocation entries do not check)."""
    marker = b"CA-00000"
    assert template.count(marker) == 2  # issuer and subject (self-signed)
    return [template.replace(marker, f"CA-{i:05x}".encode()) for i in range(n)]


@pytest.fixture(scope="module")
def ca_template() -> bytes:
    return pki.ca("CA-00000").der


@pytest.mark.parametrize("n", [int(lib.FM_MAX_ANCHORS), int(lib.FM_MAX_ANCHORS) + 1])
def test_store_anchors(ca_template: bytes, n: int) -> None:
    """A trust store holds up to 65535 anchors; one more is a LimitError (results index chain
    certificates with 16 bits)."""
    cas = _issuer_variants(ca_template, n)
    store = TrustStore()
    if n <= int(lib.FM_MAX_ANCHORS):
        store.add_ders(cas, name="many")
        assert len(store) == n
    else:
        with pytest.raises(LimitError):
            store.add_ders(cas, name="many")
        assert len(store) == 0


@pytest.mark.parametrize("n", [RS_MAX_ISSUERS, RS_MAX_ISSUERS + 1])
def test_revocation_set_issuers(ca_template: bytes, n: int) -> None:
    """A revocation set holds revocations of up to 65535 CAs; the 65536th is refused."""
    cas = _issuer_variants(ca_template, n)
    entries = [Revocation(issuer=ca, serial=1) for ca in cas]
    if n <= RS_MAX_ISSUERS:
        # a second serial for some CAs lands on the CA's existing issuer (the builder's index)
        again = [Revocation(issuer=ca, serial=2) for ca in cas[::997]]
        rs = RevocationSet.build(entries=entries + again)
        assert len(rs) == n + len(again) and len(rs.issuers()) == n
        for ca in cas[::4099]:
            assert rs.lookup(ca, 1) is not None and rs.lookup(ca, 3) is None
        assert rs.lookup(cas[997], 2) is not None and rs.lookup(cas[998], 2) is None
    else:
        with pytest.raises(RevocationError, match="limit"):
            RevocationSet.build(entries=entries)


def test_pem_max_bytes(ch: pki.Chain) -> None:
    """pem_to_der reads up to max_bytes (16 MiB by default): one byte more is refused."""
    pem = ch.leaf.pem
    assert pem_to_der(pem, max_bytes=len(pem)) == [ch.leaf.der]
    with pytest.raises(CertificateLoadError, match="larger than"):
        pem_to_der(pem, max_bytes=len(pem) - 1)
    default = 16 * 1024 * 1024
    filler = b"#" * (default - len(pem) - 1) + b"\n"  # text outside PEM blocks is ignored
    assert pem_to_der(filler + pem) == [ch.leaf.der]
    with pytest.raises(CertificateLoadError, match="larger than"):
        pem_to_der(b"#" + filler + pem)


def test_crl_source_max_bytes(tmp_path: Path, ch: pki.Chain) -> None:
    """A CRL file of max_bytes is read; a source whose file is one byte larger fails."""
    import crls

    now = datetime.now(timezone.utc).replace(microsecond=0)  # a current CRL: an expired one
    der = crls.crl(ch.root, [123], this_update=now - timedelta(days=1),  # reports its expiry
                   next_update=now + timedelta(days=1))  # fmt: skip
    path = tmp_path / "root.crl"
    path.write_bytes(der)
    src = fastmtls.CRLSource(files=[path], cas=[ch.root.der], max_bytes=len(der))
    src.refresh()
    assert src.status()[0].last_error is None and src.current is not None
    src = fastmtls.CRLSource(files=[path], cas=[ch.root.der], max_bytes=len(der) - 1)
    src.refresh()
    assert "max_bytes" in (src.status()[0].last_error or "")


# ---- worst-case CPU -----------------------------------------------------------------------

WORST: dict[str, float] = {}  # case -> milliseconds (printed with -s, and at the end)


def cpu_ms(make_verifier_: Callable[[], Verifier], chain: list[bytes], runs: int = 3,
           **kw: Any) -> tuple[float, fastmtls.VerifyResult]:  # fmt: skip
    """The least CPU time (ms, this thread) of one cold verification among ``runs``."""
    best, res = math.inf, None
    for _ in range(runs):
        v = make_verifier_()
        t0 = time.thread_time()
        res = v.verify(chain, **kw)
        best = min(best, time.thread_time() - t0)
    assert res is not None
    return best * 1000, res


def _record(case: str, ms: float, res: fastmtls.VerifyResult) -> None:
    WORST[case] = ms
    print(f"\n  cpu {ms:8.2f} ms  {case}: {res.status} (signatures {res._res.sig_checks}, steps "
          f"{res._res.steps})", file=sys.stderr)


def _assert_budget(ms: float, slack: float = 1.0) -> None:
    """ms < the budget (x slack: cases measured within ~20% of it are held to twice the budget,
    so that a loaded machine does not fail them while a regression still does)."""
    if TIMING_OK:
        assert ms < CPU_BUDGET_MS * slack, f"{ms:.2f} ms of CPU for one verification"


def _limbo_cases() -> list[dict[str, Any]]:
    try:
        from limbo_runner import load_cases
    except ImportError:  # pragma: no cover
        return []
    return [c for c in load_cases() if c["id"].startswith("pathological::")]


LIMBO = _limbo_cases()


@pytest.mark.skipif(not LIMBO, reason="x509-limbo not found (FASTMTLS_LIMBO)")
@pytest.mark.parametrize("case", LIMBO, ids=[c["id"] for c in LIMBO])
def test_cpu_limbo_pathological(case: dict[str, Any]) -> None:
    """x509-limbo's pathological:: cases (cycles, same-name CAs, name-constraint DoS)."""
    import datetime as dt

    store = TrustStore()
    for i, pem in enumerate(case["trusted_certs"]):
        try:
            store.add_pem(pem, name=f"t{i}")
        except fastmtls.CertificateLoadError:
            pass
    inters = [d for pem in case["untrusted_intermediates"] for d in pem_to_der(pem)]
    chain = [*pem_to_der(case["peer_certificate"]), *inters]
    kind = "server" if case["validation_kind"] == "SERVER" else "client"
    depth = case.get("max_chain_depth")
    at_s = case.get("validation_time")
    at = dt.datetime.fromisoformat(at_s) if at_s else pki.NOW
    peer = case.get("expected_peer_name") or {}
    name = peer.get("value") if kind == "server" else None

    def mk() -> Verifier:
        return Verifier(store, purpose=kind, max_depth=8 if depth is None else min(depth, 62))

    ms, res = cpu_ms(mk, chain, at=at, expected_name=name)
    _record(case["id"], ms, res)
    _assert_budget(ms)


@pytest.fixture(scope="module")
def real_root() -> pki.Cert:
    return pki.ca("CPU Real Root")


@pytest.fixture(scope="module")
def evil_base() -> tuple[list[pki.Cert], pki.Cert]:
    """63 distinct untrusted RSA intermediates named "Evil CA" (a certificate presented twice is
    one candidate) and a leaf the first one issued (RSA signature)."""
    evil_root = pki.ca("Evil Root", "rsa2048")
    inters = [pki.intermediate(evil_root, "Evil CA", "rsa2048", serial=1000 + i)
              for i in range(DEFAULT.max_chain_certs - 1)]  # fmt: skip
    return inters, pki.leaf(inters[0], "victim")


def _evil_chain(inters: list[pki.Cert], leaf: pki.Cert, bits: int, e: int) -> list[bytes]:
    """The leaf with a junk signature, then the intermediates each with its own RSA key of
    ``bits`` bits and exponent ``e``: each costs one signature check under that key."""
    bad_leaf = replace_signature(leaf.der, b"\x01" + secrets.token_bytes(bits // 8 - 1))
    return [bad_leaf, *[replace_spki(c.der, rsa_spki(odd(bits), e)) for c in inters]]


def _measure(root: pki.Cert, chain: list[bytes], case: str) -> tuple[float, fastmtls.VerifyResult]:
    ms, res = cpu_ms(lambda: make_verifier(root), chain, at=pki.NOW)
    _record(case, ms, res)
    return ms, res


@pytest.mark.parametrize(("kind", "checks", "slack"), [
    ("p256", 63, 1.0), ("p384", 11, 2.0), ("p521", 13, 2.0)])  # fmt: skip
def test_cpu_same_name_intermediates(real_root: pki.Cert, kind: pki.KeyType, checks: int,
                                     slack: float) -> None:  # fmt: skip
    """63 presented same-name intermediates (distinct, one key), none of which signed the leaf:
    P-256 checks all of them; P-384 (40 units) and P-521 (32) stop at max_sig_cost (measured
    ~8 ms here: held to twice the budget)."""
    evil_root = pki.ca("Evil Root")
    key = pki.make_key(kind)
    inters = [pki.intermediate(evil_root, "Evil CA", key, serial=2000 + i)
              for i in range(DEFAULT.max_chain_certs - 1)]  # fmt: skip
    leaf = pki.leaf(inters[0], "victim")
    ms, res = _measure(real_root, [pki.tamper_sig(leaf.der), *[c.der for c in inters]],
                       f"63 same-name {kind} intermediates")
    assert res._res.sig_checks == checks, res.status
    assert res.reason == (R.CERT_SIGNATURE_FAILURE if checks == 63 else R.BUDGET_EXCEEDED)
    _assert_budget(ms, slack)


@pytest.mark.parametrize(("bits", "e", "want", "checks", "slack"), [
    pytest.param(4096, 65537, R.CERT_SIGNATURE_FAILURE, 63, 1.0, id="rsa4096"),
    pytest.param(8192, 65537, R.BUDGET_EXCEEDED, 26, 2.0, id="rsa8192"),
    # a 32-bit exponent doubles the cost (one squaring per bit): half as many checks
    pytest.param(8192, 2**32 - 1, R.BUDGET_EXCEEDED, 13, 2.0, id="rsa8192-e32"),
    pytest.param(3072, odd(3070), R.UNSUPPORTED_SIGNATURE_ALGORITHM, 63, 1.0, id="rsa3072-huge-e"),
    pytest.param(16384, 65537, R.UNSUPPORTED_SIGNATURE_ALGORITHM, 63, 1.0, id="rsa16384"),
])  # fmt: skip
def test_cpu_same_name_rsa_intermediates(real_root: pki.Cert,
                                         evil_base: tuple[list[pki.Cert], pki.Cert], bits: int,
                                         e: int, want: Reason, checks: int,
                                         slack: float) -> None:  # fmt: skip
    """63 same-name intermediates with RSA keys of a given size and exponent: RSA-4096 all
    checked, RSA-8192 stopped by max_sig_cost (16 units each, 32 with a 32-bit exponent), a
    >32-bit exponent or a modulus over 8192 bits refused without any modular exponentiation."""
    chain = _evil_chain(*evil_base, bits, e)
    ms, res = _measure(real_root, chain, f"63 same-name RSA-{bits} intermediates, e of "
                                         f"{e.bit_length()} bits")
    assert res.reason == want and res._res.sig_checks == checks, res.status
    _assert_budget(ms, slack)


def test_cpu_same_name_anchors(same_name_anchors: tuple[list[pki.Cert], pki.Cert]) -> None:
    """100 same-name anchors (the operator's, P-256), the leaf signed by none of them."""
    roots, leaf = same_name_anchors
    store = TrustStore()
    store.add_ders([r.der for r in roots[:-1]], name="same")
    ms, res = cpu_ms(lambda: Verifier(store), [leaf.der], at=pki.NOW)
    _record("100 same-name P-256 anchors", ms, res)
    # (the leaf's authority key identifier names none of them: the issuer is not found)
    assert res.reason == R.UNABLE_TO_GET_ISSUER_CERT_LOCALLY and res._res.sig_checks == 100
    _assert_budget(ms, slack=2.0)  # measured 6.8-8.2 ms here


@pytest.mark.parametrize("max_depth", [int(lib.FM_DEFAULT_MAX_DEPTH), int(lib.FM_MAX_DEPTH_LIMIT)])
def test_cpu_long_rsa_4096_chain(max_depth: int) -> None:
    """A valid chain of max_depth RSA-4096 intermediates (the default 8, and the ceiling 62 an
    operator may configure: only the default is held to the budget)."""
    c = pki.chain(max_depth, "rsa4096")
    store = TrustStore()
    store.add_der(c.root.der, name="root")
    ms, res = cpu_ms(lambda: Verifier(store, max_depth=max_depth), c.presented_der, at=pki.NOW)
    _record(f"valid chain of {max_depth} RSA-4096 intermediates", ms, res)
    assert res.verified, res.status
    if max_depth == int(lib.FM_DEFAULT_MAX_DEPTH):
        _assert_budget(ms)


def test_cpu_name_constraints(nc_root: pki.Cert) -> None:
    """2^20 name-constraint checks (1023 SANs + subject x 1024 permitted subtrees), passing."""
    chain = nc_chain(nc_root, 1023, 1024)
    ms, res = cpu_ms(lambda: make_verifier(nc_root), chain, at=pki.NOW)
    _record("2^20 name-constraint checks (1024 names x 1024 subtrees)", ms, res)
    assert res.verified, res.status
    _assert_budget(ms)  # 0.4 ms here with the dNSName index (8.4 ms scanning every pair)


def test_cpu_name_constraints_bad_signature_copies(nc_root: pki.Cert) -> None:
    """The 2^20-check chain with as many copies of the 1024-subtree intermediate as the input
    takes, each with another corrupted signature, before the good one: each copy is a candidate
    costing a parse and a signature check, then the name constraints run once."""
    leaf, inter = nc_chain(nc_root, 1023, 1024)
    n = min(DEFAULT.max_chain_certs - 2, (DEFAULT.max_input_size - len(leaf)) // len(inter) - 1)
    bad = [inter[:-1] + bytes([inter[-1] ^ (i + 1)]) for i in range(n)]
    ms, res = cpu_ms(lambda: make_verifier(nc_root), [leaf, *bad, inter], at=pki.NOW)
    _record(f"2^20 name-constraint checks after {n} bad-signature copies", ms, res)
    assert res.verified and res._res.sig_checks == n + 2, res.status
    _assert_budget(ms)  # 7.2 ms here (15 ms before the dNSName index)


def _expired_nc_chain(nc_root: pki.Cert) -> tuple[bytes, bytes]:
    """An expired leaf under the 1024-subtree intermediate: each path to the root fails after
    its name-constraint check (validity is checked last), so path building tries the next."""
    leaf, inter = nc_chain(nc_root, 1023, 1024, not_after=pki.NOW - timedelta(days=1))
    return leaf, inter


def test_cpu_name_constraints_copies(nc_root: pki.Cert) -> None:
    """Every presented copy of the constrained intermediate, identical: one candidate, one pass
    of 2^20 checks."""
    leaf, inter = _expired_nc_chain(nc_root)
    copies = min(DEFAULT.max_chain_certs - 1, (DEFAULT.max_input_size - len(leaf)) // len(inter))
    ms, res = cpu_ms(lambda: make_verifier(nc_root), [leaf, *[inter] * copies], at=pki.NOW)
    _record(f"2^20 name-constraint checks, intermediate presented {copies} times", ms, res)
    assert res.reason == R.CERT_HAS_EXPIRED and res._res.sig_checks == 2, res.status
    _assert_budget(ms)  # one pass: 0.5 ms here (9 ms before the dNSName index)


def test_cpu_name_constraints_malleated_copy(nc_root: pki.Cert) -> None:
    """The constrained intermediate and its twin whose ECDSA signature (r, s) is re-encoded as
    (r, n - s), another DER still validly signed: the same TBS, so the paths above the twin
    were already explored through the first copy: one pass."""
    leaf, inter = _expired_nc_chain(nc_root)
    twin = malleate_ecdsa(inter)
    assert twin != inter
    ms, res = cpu_ms(lambda: make_verifier(nc_root), [leaf, inter, twin], at=pki.NOW)
    _record("2^20 name-constraint checks, intermediate + its ECDSA-malleated twin", ms, res)
    assert res.reason == R.CERT_HAS_EXPIRED and res._res.sig_checks == 2, res.status
    _assert_budget(ms)  # one pass: 0.5 ms here (8.5 ms before the dNSName index)


def test_cpu_bad_signature_copies(real_root: pki.Cert) -> None:
    """61 copies of the intermediate, each with another corrupted signature, before the good
    one: each is a candidate (a bad copy must not hide the good one) and costs one signature
    check under the root, as 61 distinct same-name intermediates did before; the chain verifies.
    The same copies after the good one cost nothing: the good one explored those paths."""
    inter = pki.intermediate(real_root, "Copies Intermediate")
    leaf = pki.leaf(inter, "copies client")
    n = DEFAULT.max_chain_certs - 3
    bad = [inter.der[:-1] + bytes([inter.der[-1] ^ (i + 1)]) for i in range(n)]
    ms, res = _measure(real_root, [leaf.der, *bad, inter.der],
                       f"{n} bad-signature copies of the intermediate, then the good one")
    assert res.verified and res._res.sig_checks == n + 2, res.status
    _assert_budget(ms)
    res = make_verifier(real_root).verify([leaf.der, inter.der, *bad], at=pki.NOW)
    assert res.verified and res._res.sig_checks == 2, res.status


def test_cpu_max_size_certificates(ed_root: pki.Cert, ed_inter: pki.Cert, leaf_key: Any) -> None:
    """A 64 KiB leaf with 15 64 KiB junk elements beside it (1 MiB of input)."""
    leaf = padded_leaf(ed_inter, DEFAULT.max_cert_size, leaf_key)
    chain = [leaf, ed_inter.der, *[junk(DEFAULT.max_cert_size)] * 14]
    ms, res = cpu_ms(lambda: make_verifier(ed_root), chain, at=pki.NOW)
    _record("64 KiB leaf + 14 64 KiB elements", ms, res)
    assert res.verified, res.status
    _assert_budget(ms)


def test_cpu_many_sans(real_root: pki.Cert) -> None:
    """A leaf with 2500 SANs matched against an expected name that is none of them."""
    inter = pki.intermediate(real_root, "SAN Intermediate")
    sans = [x509.DNSName(f"host{i}.example.com") for i in range(2500)]
    leaf = pki.leaf(inter, x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")]), san=sans)
    assert len(leaf.der) <= DEFAULT.max_cert_size
    ms, res = cpu_ms(lambda: make_verifier(real_root), [leaf.der, inter.der], at=pki.NOW,
                     expected_name="nothere.example.com")
    _record("leaf with 2500 SANs, expected name absent", ms, res)
    assert res.reason == R.HOSTNAME_MISMATCH, res.status
    _assert_budget(ms)


def test_cpu_report() -> None:
    """The worst case measured above (printed; runs last in this module)."""
    measured = {k: v for k, v in WORST.items() if not k.startswith("_")}
    if not measured:
        pytest.skip("no CPU measurement ran")
    worst = max(measured, key=measured.__getitem__)
    lines = "\n".join(f"  {v:9.2f} ms  {k}" for k, v in sorted(measured.items(),
                                                              key=lambda kv: -kv[1]))
    print(f"\nCPU per verification (min of 3, thread time), worst first:\n{lines}\n"
          f"worst: {measured[worst]:.2f} ms ({worst})", file=sys.stderr)


# ---- crafted trees of candidates (an acceptance audit's worst cases) ---------------------------


class _NamedKey:
    """What pki.issue needs of an issuer: a subject Name and a private key."""

    def __init__(self, name: str, key: Any) -> None:
        self.cert = types.SimpleNamespace(subject=pki.parse_name(name),
                                          extensions=x509.Extensions([]))  # fmt: skip
        self.key = key


def _tree(widths: list[int], stuffing: int) -> list[bytes]:
    """A leaf and same-name intermediates in levels of ``widths`` (level i signed by the key of
    level i + 1, all made by the attacker), each carrying ``stuffing`` DNS SANs: path building
    walks a tree of ~2000 steps over big certificates, none reaching an anchor."""
    keys = [pki.make_key("p256", fresh=True) for _ in range(len(widths) + 2)]
    level = [f"Tree Level {i}" for i in range(len(widths) + 2)]
    san = [x509.DNSName(f"n{j}.example") for j in range(stuffing)]
    inters = [pki.issue(subject=level[i], issuer=_NamedKey(level[i + 1], keys[i + 1]), key=keys[i],  # type: ignore[arg-type]
                        ca=True, key_usage=["key_cert_sign"], serial=100 * i + w, aki=b"\x01" * 20,
                        san=san).der
              for i in range(1, len(widths) + 1) for w in range(widths[i - 1])]  # fmt: skip
    leaf = pki.issue(subject="tree victim", issuer=_NamedKey(level[1], keys[1]), key="p256",  # type: ignore[arg-type]
                     serial=5, aki=b"\x01" * 20)  # fmt: skip
    return [leaf.der, *inters]


def test_cpu_tree_of_big_same_name_intermediates(real_root: pki.Cert) -> None:
    """19 intermediates of ~50 KiB (DNS SAN stuffing) in same-name levels 3,3,3,3,2,2,2,1: ~1900
    path-building steps, 19 signature checks. Each step used to validate the candidate's whole
    subjectAltName again and hash the whole child again (~210 ms); both are per call now."""
    chain = _tree([3, 3, 3, 3, 2, 2, 2, 1], 3700)
    assert 900_000 < sum(map(len, chain)) < DEFAULT.max_input_size
    ms, res = _measure(real_root, chain, "tree of 19 same-name 50 KiB intermediates")
    assert res.reason == R.UNABLE_TO_GET_ISSUER_CERT_LOCALLY and res._res.sig_checks == 19
    assert 1800 < res._res.steps <= DEFAULT.max_steps
    _assert_budget(ms)


@pytest.fixture(scope="module")
def tenant_anchors() -> list[bytes]:
    """3,000 CAs of other tenants, all named as the top of _tree's levels ("Tree Level 9")."""
    key = pki.make_key("p256")
    return [pki.issue(subject="Tree Level 9", key=key, ca=True, key_usage=["key_cert_sign"],
                      serial=7000 + i).der for i in range(3000)]  # fmt: skip


@pytest.mark.parametrize("n_groups", [1, 20])
def test_cpu_same_name_anchors_of_other_tenants(real_root: pki.Cert, tenant_anchors: list[bytes],
                                                n_groups: int) -> None:
    """A host associated with its own CA (and n_groups - 1 others) in a store where 3,000 other
    tenants' CAs carry the name the attacker's tree of same-name intermediates ends in: every
    step of the search at the top used to walk all 3,000 (5 s at 65,000), outside the step
    budget. A host with a few groups now walks only its groups' CAs of the name (the search is
    as without them); one with many walks them all, and the walk counts towards the steps."""
    store = TrustStore()
    store.add_ders(tenant_anchors, name="others")
    store.add_der(real_root.der, name="mine")
    extra = [f"g{i}" for i in range(n_groups - 1)]
    for name in extra:
        store.add_der(pki.ca(f"Group {name} CA").der, name=name)
    store.associate("tenant.example", ["mine", *extra])
    chain = _tree([3, 3, 3, 3, 2, 2, 2, 1], 1)
    ms, res = cpu_ms(lambda: Verifier(store), chain, at=pki.NOW, host="tenant.example")
    _record(f"tree under 3,000 other tenants' same-name CAs, {n_groups} groups", ms, res)
    if n_groups == 1:
        assert res.reason == R.UNABLE_TO_GET_ISSUER_CERT_LOCALLY and res._res.steps < 2000
    else:
        assert res.reason == R.BUDGET_EXCEEDED, res.status
    _assert_budget(ms)
    leaf = pki.leaf(real_root, "tenant client")
    assert Verifier(store).verify([leaf.der], at=pki.NOW, host="tenant.example").verified


def test_name_constraint_budget_is_per_verification(nc_root: pki.Cert) -> None:
    """max_nc_checks bounds the name-constraint work of a whole verification, every path tried:
    an expired copy of a constrained intermediate, tried first, spends 32 of a budget of 48, and
    the valid copy, whose check needs 32 more, is over it (the result names the expired copy,
    the more specific failure). Each (CA, certificate) pair had its
    own budget, so that many same-key copies of a constrained CA multiplied the work (8.7 s
    with 62 copies and a long CN)."""
    key = pki.make_key("p256")
    permitted = [x509.DNSName(f"p{i}.example") for i in range(8)]
    expired = {"not_before": pki.NOW - timedelta(days=400),
               "not_after": pki.NOW - timedelta(days=1)}  # fmt: skip
    old = pki.intermediate(nc_root, "NC Copy CA", key, name_constraints=(permitted, None),
                           serial=1, **expired)  # fmt: skip
    new = pki.intermediate(nc_root, "NC Copy CA", key, name_constraints=(permitted, None), serial=2)
    leaf = pki.leaf(new, "nc copy client", san=[x509.DNSName(f"h{i}.p7.example") for i in range(3)])
    chain = [leaf.der, old.der, new.der]
    assert make_verifier(nc_root).verify(chain, at=pki.NOW).verified
    assert make_verifier(nc_root).verify([leaf.der, new.der], at=pki.NOW).verified
    tight = make_verifier(nc_root, limits=Limits(max_nc_checks=48))
    assert tight.verify([leaf.der, new.der], at=pki.NOW).verified  # one pair: 32
    r = tight.verify(chain, at=pki.NOW)  # reported as the expired copy's failure
    assert not r.verified and r.reason == R.CERT_HAS_EXPIRED and r.depth == 1, r.status


@pytest.mark.filterwarnings("ignore:Attribute's length must be:UserWarning")  # the point of it
def test_cpu_long_common_name_under_indexed_dns_constraints(nc_root: pki.Cert) -> None:
    """A leaf without a dNSName SAN whose CN is a 16,000-character hostname, under 16 dNSName
    subtrees (indexed): matching hashed every suffix of the name again (quadratic, 140 ms);
    the suffixes' hashes now come out of one pass."""
    permitted = [x509.DNSName(f"p{i}.example") for i in range(16)]
    inter = pki.intermediate(nc_root, "NC CN Intermediate", name_constraints=(permitted, None))
    cn = "a." * 7994 + "p15.example"
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn, _validate=False)])
    leaf = pki.leaf(inter, name, san=[x509.RFC822Name("u@p15.example")])
    ms, res = _measure(nc_root, [leaf.der, inter.der], "16,000-character CN, 16 DNS subtrees")
    assert res.verified, res.status
    _assert_budget(ms)


def test_cpu_big_leaf_under_same_name_candidates(real_root: pki.Cert) -> None:
    """A 60 KiB leaf with a bad signature under 63 same-name P-256 intermediates: hashing its TBS
    counts in max_sig_cost (4 units per 16 KiB), so the checks stop before they cost more than
    the key operations' budget."""
    evil_root = pki.ca("Evil Root")
    key = pki.make_key("p256")
    inters = [pki.intermediate(evil_root, "Evil CA", key, serial=3000 + i) for i in range(63)]
    leaf = pki.leaf(inters[0], "big victim",
                    san=[x509.DNSName(f"n{j}.example") for j in range(4200)])  # fmt: skip
    assert 55_000 < len(leaf.der) < DEFAULT.max_cert_size
    ms, res = _measure(real_root, [pki.tamper_sig(leaf.der), *[c.der for c in inters]],
                       "60 KiB leaf under 63 same-name P-256 intermediates")
    assert res.reason == R.BUDGET_EXCEEDED and res._res.sig_checks < 63
    _assert_budget(ms)


def _email_nc_chain(root: pki.Cert, n_sans: int, n_cons: int) -> list[bytes]:
    permitted = [x509.RFC822Name(f"p{i}.example") for i in range(n_cons)]
    inter = pki.intermediate(root, "Email NC Intermediate", name_constraints=(permitted, None))
    sans = [x509.RFC822Name(f"u{i}@p{n_cons - 1}.example") for i in range(n_sans)]
    return [pki.leaf(inter, "nc client", san=sans).der, inter.der]


@pytest.mark.parametrize("n_cons", [1031, 1032])
def test_name_constraint_budget_weighs_scanned_forms(nc_root: pki.Cert, n_cons: int) -> None:
    """An e-mail name is compared with every constraint (no index), ~50 ns a pair: it weighs 8
    in max_nc_checks. 127 e-mail SANs (1016) and the subject (1) x 1031 constraints fit 2^20;
    1032 do not. Unweighted, 1024 x 1023 of them (~50 ms) passed."""
    r = make_verifier(nc_root).verify(_email_nc_chain(nc_root, 127, n_cons), at=pki.NOW)
    if (127 * 8 + 1) * n_cons <= NC_MAX_CHECKS:
        assert r.verified, r.status
    else:
        assert r.reason == R.BUDGET_EXCEEDED, r.status


def test_name_constraint_budget_weighs_big_directory_names(nc_root: pki.Cert) -> None:
    """A directoryName is compared attribute by attribute within each RDN (quadratic): 56
    directoryName SANs of one 32-attribute RDN against 57 such subtrees (3,192 pairs, ~0.9 s of
    comparisons) is over the weighted budget; the same with short names verifies."""

    def dn(i: int, wide: bool) -> x509.Name:
        attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"{'x' * 20}{i}-{j}")
                 for j in range(32 if wide else 1)]  # fmt: skip
        return x509.Name([x509.RelativeDistinguishedName(attrs)])

    for wide in (True, False):
        permitted = [x509.DirectoryName(dn(i, wide)) for i in range(57)]
        inter = pki.intermediate(nc_root, "DN NC Intermediate", name_constraints=(permitted, None))
        sans = [x509.DirectoryName(dn(56, wide))] * 56
        leaf = pki.leaf(inter, "dn client", san=sans)
        ms, r = cpu_ms(lambda: make_verifier(nc_root), [leaf.der, inter.der], at=pki.NOW)
        if wide:
            assert r.reason == R.BUDGET_EXCEEDED, r.status
            _assert_budget(ms)
        else:
            assert r.reason in (R.OK, R.PERMITTED_VIOLATION), r.status


def test_cpu_space_padded_directory_name_constraint(real_root: pki.Cert) -> None:
    """A directoryName constraint whose one RDN holds 32 attributes of one type, each "v" and
    ~1,800 spaces (canonically "v"), against a leaf whose subject starts with an RDN of 32
    short "v" attributes: every comparison canonicalises the padding. The length term of an
    RDN's weight was L / 64, so this stayed within the budget and took 28 ms per call, as much
    for an expired leaf (found by review); with L / 8 it is over the budget at once."""
    org = NameOID.ORGANIZATION_NAME

    def rdn(values: list[str], cn: str) -> x509.Name:
        return x509.Name([x509.RelativeDistinguishedName(
                              [x509.NameAttribute(org, v, _UTF8STRING) for v in values]),
                          x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COMMON_NAME,
                                                                             cn)])])  # fmt: skip

    padded = rdn(["v" + " " * (1790 + i) for i in range(32)], "x")
    inter = pki.intermediate(real_root, "Padded NC CA", name_constraints=([x509.DirectoryName(
        padded)], None))  # fmt: skip
    short = ["v" + " " * i for i in range(32)]  # distinct as written, "v" canonically
    leaf = pki.leaf(inter, rdn(short, "y"), not_after=pki.NOW - timedelta(days=1),
                    san=[x509.DNSName("client.example.com")])  # fmt: skip
    ms, res = _measure(real_root, [leaf.der, inter.der], "32 space-padded RDN attributes")
    assert res.reason == R.BUDGET_EXCEEDED, res.status
    _assert_budget(ms)


def test_cpu_name_constraints_over_the_budget_on_every_path(real_root: pki.Cert) -> None:
    """A CA with 4,000 DNS constraints above seven layers of three same-name, same-key
    intermediates (2,187 paths), and a leaf with 271 names: the (CA, leaf) pair is over the
    budget. Each refusal read every constraint and charged nothing, so every path read them
    again: ~90-150 ms per call (found by review). A pair over what is left now uses the budget
    up, and the next paths are refused without reading."""
    top = pki.intermediate(real_root, "Many Constraints CA", name_constraints=(
        None, [x509.DNSName(f"x{i}.ex") for i in range(4000)]))  # fmt: skip
    issuers, inters = [top], [top.der]
    for layer in range(7):
        key = pki.make_key("p256")
        issuers = [pki.intermediate(issuers[0], f"Layer {layer}", key=key) for _ in range(3)]
        inters = [c.der for c in issuers] + inters
    sans = [x509.DNSName(f"h{i}.example.com") for i in range(270)]
    leaf = pki.leaf(issuers[0], san=sans, not_after=pki.NOW - timedelta(days=1))
    ms, res = _measure(real_root, [leaf.der, *inters], "constraints over the budget, 2,187 paths")
    assert res.reason == R.BUDGET_EXCEEDED, res.status
    _assert_budget(ms)
