"""Benchmark fixtures: PKIs per (key type, depth), built once per session, plus the anchors.

Every benchmark group holds the fastmtls case beside its anchors (pyca/cryptography's
``ClientVerifier`` and OpenSSL's ``X509_verify_cert`` through pyOpenSSL), measured in the same run
so that ratios mean something. Anchors start from DER, as a gateway does: each call includes
loading the certificates. What never changes between calls (a trust store, a built verifier) is
built outside the timed call, for fastmtls and anchors alike.

Pools are large only when timing (``--benchmark-enable``); as plain tests (the default,
``--benchmark-disable``) every pool is a handful of certificates so that ``bench/`` runs in seconds.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

_BENCH = str(Path(__file__).resolve().parent)
_TESTS = str(Path(__file__).resolve().parent.parent / "tests")
for _dir in (_TESTS, _BENCH):  # helper modules (pki, crlgen) import by name
    if _dir not in sys.path:
        sys.path.insert(0, _dir)

import pki  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa  # noqa: E402
from cryptography.x509.verification import PolicyBuilder, Store  # noqa: E402
from OpenSSL import crypto  # noqa: E402

from fastmtls import TrustStore  # noqa: E402

ChainDer = list[bytes]  # leaf first, then the intermediates (what a client sends)
Anchor = Callable[[ChainDer], object]


@dataclass(frozen=True)
class Sizes:
    """How many certificates to pre-generate (small as plain tests, large when timing)."""

    cold_leaves: int  # distinct leaves under one intermediate, cycled by cold-leaf benches
    cold_chains: int  # distinct full chains under one root, cycled by cold-chain benches
    thread_rounds: int  # timed rounds of the threads benchmark


TIMED = Sizes(cold_leaves=2000, cold_chains=100, thread_rounds=10)
QUICK = Sizes(cold_leaves=8, cold_chains=2, thread_rounds=1)


@dataclass
class Scenario:
    """One root, a chain of ``depth`` intermediates under it and everything derived from it."""

    key: str
    depth: int
    sizes: Sizes
    root: pki.Cert
    inters: list[pki.Cert]  # leaf side first
    leaf: pki.Cert
    store: TrustStore
    _leaf_pool: list[ChainDer] | None = field(default=None, repr=False)
    _chain_pool: list[ChainDer] | None = field(default=None, repr=False)
    _sig_refs: list[tuple[bytes, bytes]] | None = field(default=None, repr=False)

    @property
    def chain(self) -> ChainDer:
        """The warm chain: leaf and intermediates as presented."""
        return [self.leaf.der, *(c.der for c in self.inters)]

    @property
    def leaf_pool(self) -> list[ChainDer]:
        """Distinct leaves (one shared key, random serials) under ``inters[0]``, as chains."""
        if self._leaf_pool is None:
            inter_ders = [c.der for c in self.inters]
            key = self.leaf.key
            self._leaf_pool = [
                [pki.leaf(self.inters[0], f"client {i}", key=key).der, *inter_ders]
                for i in range(self.sizes.cold_leaves)
            ]
        return self._leaf_pool

    @property
    def chain_pool(self) -> list[ChainDer]:
        """Distinct whole chains (every intermediate new) under the same root."""
        if self._chain_pool is None:
            pool = []
            for i in range(self.sizes.cold_chains):
                issuers = [self.root]
                for d in range(1, self.depth + 1):
                    issuers.append(pki.intermediate(issuers[-1], f"Pool {i} CA {d}", self.key))
                lf = pki.leaf(issuers[-1], f"pool client {i}", key=self.leaf.key)
                pool.append([lf.der, *(c.der for c in issuers[:0:-1])])
            self._chain_pool = pool
        return self._chain_pool

    def issuer_public_key(self) -> Any:
        return self.inters[0].cert.public_key()

    @property
    def sig_refs(self) -> list[tuple[bytes, bytes]]:
        """(signature, TBS) of every pool leaf: the input of one raw signature check."""
        if self._sig_refs is None:
            certs = (x509.load_der_x509_certificate(c[0]) for c in self.leaf_pool)
            self._sig_refs = [(c.signature, c.tbs_certificate_bytes) for c in certs]
        return self._sig_refs


class World:
    """Scenarios built on first use and kept for the session (RSA signing is slow)."""

    def __init__(self, sizes: Sizes) -> None:
        self.sizes = sizes
        self._scenarios: dict[tuple[str, int], Scenario] = {}

    def scenario(self, key: str, depth: int) -> Scenario:
        if (key, depth) not in self._scenarios:
            c = pki.chain(depth, key=key)  # type: ignore[arg-type]
            store = TrustStore()
            store.add_der(c.root.der, name="root")
            self._scenarios[key, depth] = Scenario(
                key, depth, self.sizes, c.root, c.intermediates, c.leaf, store
            )
        return self._scenarios[key, depth]


def timing_enabled(config: pytest.Config) -> bool:
    """True when pytest-benchmark times (same rule as the plugin's own session)."""
    return not (config.getoption("benchmark_disable") and not config.getoption("benchmark_enable"))


@pytest.fixture(scope="session")
def world(request: pytest.FixtureRequest) -> World:
    """Every PKI the benchmarks use, sized for timing or for a quick test run."""
    return World(TIMED if timing_enabled(request.config) else QUICK)


# --- anchors --------------------------------------------------------------------------------


def cryptography_anchor(sc: Scenario) -> Anchor:
    """pyca/cryptography ``ClientVerifier.verify`` including the DER parse of every certificate.

    The policy/verifier is built once (as a gateway would), not per call.
    """
    verifier = PolicyBuilder().store(Store([sc.root.cert])).time(pki.NOW).build_client_verifier()
    load = x509.load_der_x509_certificate

    def verify(chain: ChainDer) -> object:
        return verifier.verify(load(chain[0]), [load(d) for d in chain[1:]])

    return verify


def openssl_anchor(sc: Scenario) -> Anchor:
    """OpenSSL ``X509_verify_cert`` via pyOpenSSL: DER load of each certificate, a fresh
    ``X509StoreContext`` per call over a store built once."""
    store = crypto.X509Store()
    store.add_cert(crypto.load_certificate(crypto.FILETYPE_ASN1, sc.root.der))
    store.set_time(pki.NOW)
    load, asn1, ctx = crypto.load_certificate, crypto.FILETYPE_ASN1, crypto.X509StoreContext

    def verify(chain: ChainDer) -> object:
        ctx(store, load(asn1, chain[0]), [load(asn1, d) for d in chain[1:]]).verify_certificate()
        return True

    return verify


ANCHOR_FACTORIES: dict[str, Callable[[Scenario], Anchor]] = {
    "cryptography": cryptography_anchor,
    "openssl": openssl_anchor,
}


def signature_check(sc: Scenario) -> Callable[[tuple[bytes, bytes]], None]:
    """One raw OpenSSL signature verification (through cryptography) of a leaf by its issuer's
    already-loaded public key: the reference for the cold-leaf target."""
    pub = sc.issuer_public_key()
    if isinstance(pub, rsa.RSAPublicKey):
        pad, h = padding.PKCS1v15(), sc.leaf.cert.signature_hash_algorithm
        assert h is not None
        return lambda st: pub.verify(st[0], st[1], pad, h)
    if isinstance(pub, ec.EllipticCurvePublicKey):
        h = sc.leaf.cert.signature_hash_algorithm
        assert h is not None
        alg = ec.ECDSA(h)
        return lambda st: pub.verify(st[0], st[1], alg)
    assert isinstance(pub, ed25519.Ed25519PublicKey)
    return lambda st: pub.verify(st[0], st[1])


@pytest.fixture(scope="session")
def anchor() -> Callable[[str, Scenario], Anchor]:
    """``anchor(name, scenario)``: the verify function of anchor ``name`` for that PKI."""
    return lambda name, sc: ANCHOR_FACTORIES[name](sc)


@pytest.fixture(scope="session")
def sigcheck() -> Callable[[Scenario], Callable[[tuple[bytes, bytes]], None]]:
    """``sigcheck(scenario)``: one raw signature check of a (signature, TBS) pair."""
    return signature_check


def pytest_benchmark_update_machine_info(
    config: pytest.Config, machine_info: dict[str, Any]
) -> None:
    """Record which OpenSSL each side runs on: fastmtls links the system libcrypto (or the one its
    wheel carries), the anchors the one inside the cryptography/pyOpenSSL wheels. Signature and
    key-decoding costs differ between OpenSSL releases, so ratios depend on both."""
    from cryptography.hazmat.backends.openssl.backend import backend
    from OpenSSL import SSL

    from fastmtls._ffi import ffi, lib

    machine_info["openssl"] = {
        "fastmtls": ffi.string(lib.fm_crypto_version()).decode(),
        "cryptography": backend.openssl_version_text(),
        "pyOpenSSL": SSL.OpenSSL_version(SSL.OPENSSL_VERSION).decode(),
    }
