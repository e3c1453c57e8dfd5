"""Revocation benchmarks: building a set from a CRL, opening a snapshot, lookups, and cold-leaf
verification with revocation checking, at 1k / 100k / 1M revoked entries.

Every group holds the fastmtls case beside its anchors, measured in the same run:

- ``crl-build``: ``RevocationSet.build([der], cas=[ca])`` (parse, CRL signature check, table) vs
  cryptography ``load_der_x509_crl`` + ``is_signature_valid`` + ``{r.serial_number for r in crl}``
  (the anchor of the ≥10x target) and vs cryptography load + signature check alone.
- ``snapshot-open``: ``RevocationSet.load(path)`` of a snapshot saved once (mmap, header and
  checksum checked); reference row: reading the same file into ``bytes``.
- ``lookup-hit`` / ``lookup-miss``: ``rs.lookup(issuer_der, serial)`` vs ``serial in set`` vs
  cryptography ``crl.get_revoked_certificate_by_serial_number``; plus the C lookup called directly
  through cffi with the issuer name/key and serial pre-encoded, and the C lookup alone
  (``fm_revset_lookup_many`` over the whole pool in one call, the verifier's check serial after
  serial; reported per serial). The pool is up to 100k distinct serials: at 1M entries the table
  (36 MB) cannot stay in the CPU caches, the DRAM-bound worst case.
- ``lookup-ws-hit`` / ``lookup-ws-miss``: the same with one working set of 1,000 serials at every
  size (a gateway's clients), so only the table's size varies: the O(1) property itself.
- ``verify-revocation``: cold-leaf verification without a set vs with a 1k/100k/1M set
  (``revocation_check="leaf"``), and OpenSSL ``X509_verify_cert`` without / with ``CRL_CHECK`` and
  the same CRL (pyOpenSSL ``X509Store.add_crl``).

CRLs are written by ``crlgen`` (random 128-bit serials), issued by the depth-1 intermediate of the
``world`` scenario, and cached for the session in memory and under pytest's temporary directory.
As plain tests (``--benchmark-disable``, the default) only the 1k size runs, once per case.

    PYTHONPATH=src python -m pytest bench/test_revocation.py -p no:cacheprovider \\
        --benchmark-enable --benchmark-json=/tmp/rev.json && python bench/report.py /tmp/rev.json
"""

from __future__ import annotations

import itertools
import random
import sys
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import crlgen
import pki
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from OpenSSL import crypto

from fastmtls import RevocationSet, Verifier, VerifyResult
from fastmtls._ffi import ffi, lib

AT = int(pki.NOW.timestamp())
TIMED_SIZES = (1_000, 100_000, 1_000_000)
QUICK_SIZES = (1_000,)
BUILD_KEYS = ("p256", "rsa2048")  # CRL signature algorithms: ECDSA P-256, RSA-2048 (SHA-256)
VERIFY_KEYS = ("p256", "rsa2048")
LOOKUP_KEY = SNAPSHOT_KEY = "p256"  # lookups and snapshots do not depend on the CRL's key type
COLD_LEAF_CACHE = 64  # as test_verify.py: every leaf misses, the intermediate stays cached
LOOKUP_POOL = 100_000  # distinct serials cycled by lookups: larger than the CPU caches at 1M
WORKING_SET = 1_000  # distinct serials cycled by the working-set lookups, at every size
BIG = 1_000_000  # from this size, slow cases run a fixed, small number of rounds

BUILD_IMPLS = ("fastmtls", "crypto-set", "crypto-sig")
LOOKUP_IMPLS = ("fastmtls", "fastmtls-ffi", "fastmtls-c", "pyset", "cryptography")
WORKING_SET_IMPLS = ("fastmtls", "fastmtls-c", "pyset")


def timing_enabled(config: pytest.Config) -> bool:
    """Same rule as conftest.timing_enabled (pytest-benchmark's own)."""
    return not (config.getoption("benchmark_disable") and not config.getoption("benchmark_enable"))


def size_label(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1000}k" if n >= 1000 else str(n)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Sizes depend on the mode: 1k/100k/1M when timing, 1k as plain tests."""
    sizes = TIMED_SIZES if timing_enabled(metafunc.config) else QUICK_SIZES
    if "entries" in metafunc.fixturenames:
        metafunc.parametrize("entries", sizes, ids=[size_label(n) for n in sizes])
    if "rev_case" in metafunc.fixturenames:  # verify-revocation: (impl, entries), 0 = no CRL
        cases = [(impl, n) for impl in ("fastmtls", "openssl") for n in (0, *sizes)]
        metafunc.parametrize(
            "rev_case", cases, ids=[f"{i}-{size_label(n) if n else 'none'}" for i, n in cases]
        )


# --- session data: CRLs, sets, snapshots -------------------------------------------------------


class RevData:
    """CRLs per (key, size), generated once; the sets, snapshots and Python sets built from them."""

    def __init__(self, world: Any, tmp: Path) -> None:
        self.world = world
        self.tmp = tmp
        self._crls: dict[tuple[str, int], crlgen.GeneratedCRL] = {}
        self._sets: dict[tuple[str, int], RevocationSet] = {}
        self._snaps: dict[tuple[str, int], Path] = {}
        self._pysets: dict[tuple[str, int], set[int]] = {}

    def scenario(self, key: str) -> Any:
        return self.world.scenario(key, 1)

    def issuer(self, key: str) -> pki.Cert:
        """The CRL issuer: the intermediate that issues the scenario's leaves."""
        return self.scenario(key).inters[0]

    def revoked_leaf_serial(self, key: str) -> int:
        """The scenario's warm leaf is revoked in every CRL (a known hit for the checks)."""
        return int(self.scenario(key).leaf.cert.serial_number)

    def crl(self, key: str, n: int) -> crlgen.GeneratedCRL:
        """A CRL of exactly ``n`` entries (n - 1 random serials, then the revoked leaf's)."""
        if (key, n) not in self._crls:
            iss = self.issuer(key)
            seed = zlib.crc32(f"{key}-{n}".encode())  # the same CRLs in every run
            g = crlgen.make_crl(
                iss.cert,
                iss.key,
                n - 1,
                now=pki.NOW,
                seed=seed,
                extra_serials=[self.revoked_leaf_serial(key)],
            )
            crlgen.check_with_cryptography(g.der, iss.cert, n)  # once per CRL
            (self.tmp / f"crl-{key}-{size_label(n)}.der").write_bytes(g.der)
            self._crls[key, n] = g
        return self._crls[key, n]

    def crl_path(self, key: str, n: int) -> Path:
        self.crl(key, n)
        return self.tmp / f"crl-{key}-{size_label(n)}.der"

    def rset(self, key: str, n: int) -> RevocationSet:
        if (key, n) not in self._sets:
            rs = RevocationSet.build([self.crl(key, n).der], cas=[self.issuer(key).der])
            assert len(rs) == n
            self._sets[key, n] = rs
        return self._sets[key, n]

    def snapshot(self, key: str, n: int) -> Path:
        if (key, n) not in self._snaps:
            path = self.tmp / f"revset-{key}-{size_label(n)}.snap"
            self.rset(key, n).save(path)
            self._snaps[key, n] = path
        return self._snaps[key, n]

    def pyset(self, key: str, n: int) -> set[int]:
        """What the cryptography anchor builds: the set of revoked serials as ints."""
        if (key, n) not in self._pysets:
            self._pysets[key, n] = {crlgen.serial_int(s) for s in self.crl(key, n).serials}
        return self._pysets[key, n]


@pytest.fixture(scope="session")
def revdata(world: Any, tmp_path_factory: pytest.TempPathFactory) -> RevData:
    return RevData(world, tmp_path_factory.mktemp("revocation"))


def _label(
    benchmark: Any,
    group: str,
    op: str,
    key: str,
    impl: str,
    entries: int,
    role: str = "anchor",
    **extra: Any,
) -> None:
    benchmark.group = group
    if impl == "fastmtls":
        role = "subject"
    benchmark.extra_info.update(
        op=op, key=key, depth=1, impl=impl, role=role, entries=entries, **extra
    )


def _slow(benchmark: Any, fn: Callable[[], object], rounds: int) -> object:
    """A fixed number of rounds, one call each: for calls of a good fraction of a second."""
    return benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=0)


def pyset_bytes(s: set[int]) -> int:
    """Memory of a set of ints: the set object and every int object in it."""
    return sys.getsizeof(s) + sum(map(sys.getsizeof, s))


# --- crl-build --------------------------------------------------------------------------------


@pytest.mark.parametrize("impl", BUILD_IMPLS)
@pytest.mark.parametrize("key", BUILD_KEYS)
def test_crl_build(benchmark: Any, revdata: RevData, key: str, entries: int, impl: str) -> None:
    """From CRL DER to something that answers lookups, the CRL's signature checked."""
    group = f"crl-build {key} n={size_label(entries)}"
    der = revdata.crl(key, entries).der
    iss = revdata.issuer(key)
    if impl == "fastmtls":
        ca = iss.der

        def run() -> object:
            return RevocationSet.build([der], cas=[ca])

        rs = revdata.rset(key, entries)
        _label(
            benchmark,
            group,
            "crl-build",
            key,
            impl,
            entries,
            memory_bytes=rs.memory_bytes,
            bytes_per_entry=round(rs.memory_bytes / len(rs), 2),
        )
        res = _slow(benchmark, run, 5) if entries >= BIG else benchmark(run)
        assert isinstance(res, RevocationSet) and len(res) == entries
        return
    pub = iss.cert.public_key()
    load = x509.load_der_x509_crl
    if impl == "crypto-set":
        s = revdata.pyset(key, entries)
        mem = pyset_bytes(s)
        _label(
            benchmark,
            group,
            "crl-build",
            key,
            impl,
            entries,
            memory_bytes=mem,
            bytes_per_entry=round(mem / len(s), 2),
        )

        def run_set() -> object:
            crl = load(der)
            if not crl.is_signature_valid(pub):  # type: ignore[arg-type]
                raise ValueError("bad CRL signature")
            return {r.serial_number for r in crl}

        res = _slow(benchmark, run_set, 3) if entries >= BIG else benchmark(run_set)
        assert res == s
        return
    _label(benchmark, group, "crl-build", key, impl, entries)

    def run_sig() -> object:
        crl = load(der)
        if not crl.is_signature_valid(pub):  # type: ignore[arg-type]
            raise ValueError("bad CRL signature")
        return crl

    res = _slow(benchmark, run_sig, 3) if entries >= BIG else benchmark(run_sig)
    assert len(res) == entries  # type: ignore[arg-type]


# --- snapshot-open ----------------------------------------------------------------------------


@pytest.mark.parametrize("impl", ("fastmtls", "file-read"))
def test_snapshot_open(benchmark: Any, revdata: RevData, entries: int, impl: str) -> None:
    """Open a compiled snapshot (the file is in the page cache: it was just written)."""
    path = revdata.snapshot(SNAPSHOT_KEY, entries)
    size = path.stat().st_size
    _label(
        benchmark,
        f"snapshot-open n={size_label(entries)}",
        "snapshot-open",
        SNAPSHOT_KEY,
        impl,
        entries,
        role="reference",
        file_bytes=size,
        bytes_per_entry=round(revdata.rset(SNAPSHOT_KEY, entries).memory_bytes / entries, 2),
    )
    if impl == "fastmtls":
        rs = benchmark(RevocationSet.load, path)
        assert isinstance(rs, RevocationSet) and len(rs) == entries
        leaf_serial = revdata.revoked_leaf_serial(SNAPSHOT_KEY)
        assert rs.lookup(revdata.issuer(SNAPSHOT_KEY).der, leaf_serial) is not None
    else:
        data = benchmark(path.read_bytes)
        assert len(data) == size


# --- lookup-hit / lookup-miss -----------------------------------------------------------------


def _lookup_pools(revdata: RevData, n: int, size: int) -> tuple[list[int], list[int]]:
    """(hits, misses): up to ``size`` serials from the CRL, and as many that are not in it."""
    g = revdata.crl(LOOKUP_KEY, n)
    k = min(n, size)
    rnd = random.Random(n)
    hits = [crlgen.serial_int(s) for s in rnd.sample(g.serials, k)]
    s = revdata.pyset(LOOKUP_KEY, n)
    misses = [
        v for v in map(crlgen.serial_int, crlgen.random_serials(k, seed=~n & 0xFFFF)) if v not in s
    ]
    return hits, misses


@pytest.mark.parametrize("impl", LOOKUP_IMPLS)
@pytest.mark.parametrize("kind", ("hit", "miss"))
def test_lookup(benchmark: Any, revdata: RevData, kind: str, entries: int, impl: str) -> None:
    """One serial looked up per call, cycling through many distinct serials (up to 100k: at 1M
    entries the table is far larger than the CPU caches, so this is the DRAM-bound worst case)."""
    _lookup(benchmark, revdata, kind, entries, impl, f"lookup-{kind}", LOOKUP_POOL)


@pytest.mark.parametrize("impl", WORKING_SET_IMPLS)
@pytest.mark.parametrize("kind", ("hit", "miss"))
def test_lookup_working_set(
    benchmark: Any, revdata: RevData, kind: str, entries: int, impl: str
) -> None:
    """The same 1,000 distinct serials at every set size (a gateway's clients are a bounded
    working set): what changes with the size is then only the table, so an O(1) lookup takes
    the same time at 1k and 1M; test_lookup shows the cost of missing the CPU caches."""
    _lookup(benchmark, revdata, kind, entries, impl, f"lookup-ws-{kind}", WORKING_SET)


def _lookup(benchmark: Any, revdata: RevData, kind: str, entries: int, impl: str, op: str,
            pool_size: int) -> None:  # fmt: skip
    _label(
        benchmark,
        f"{op} n={size_label(entries)}",
        op,
        LOOKUP_KEY,
        impl,
        entries,
        role="reference" if impl == "fastmtls-ffi" else "anchor",
    )
    hits, misses = _lookup_pools(revdata, entries, pool_size)
    pool = hits if kind == "hit" else misses
    want = kind == "hit"
    issuer = revdata.issuer(LOOKUP_KEY)
    rs = revdata.rset(LOOKUP_KEY, entries)
    serials = itertools.cycle(pool)
    fn: Callable[[], object]
    if impl == "fastmtls":
        lookup, ca = rs.lookup, issuer.der
        for v in pool[:50]:
            assert (lookup(ca, v) is not None) is want

        def fn() -> object:
            return lookup(ca, next(serials))

    elif impl == "fastmtls-ffi":
        name = issuer.cert.subject.public_bytes()
        spki = issuer.cert.public_key().public_bytes(
            Encoding.DER, PublicFormat.SubjectPublicKeyInfo
        )
        ptr, c_lookup, rv = rs._ptr, lib.fm_revset_lookup, ffi.new("fm_revocation *")
        enc = itertools.cycle([v.to_bytes(v.bit_length() // 8 + 1, "big") for v in pool])
        nn, ns = len(name), len(spki)
        for v in pool[:50]:
            ser = v.to_bytes(v.bit_length() // 8 + 1, "big")
            assert bool(c_lookup(ptr, name, nn, spki, ns, ser, len(ser), rv)) is want

        def fn() -> object:
            ser = next(enc)
            return c_lookup(ptr, name, nn, spki, ns, ser, len(ser), rv)

    elif impl == "fastmtls-c":
        # the C lookup alone: one call looks up the whole pool, serial after serial (the
        # verifier's own check); the report divides by items_per_call
        name = issuer.cert.subject.public_bytes()
        spki = issuer.cert.public_key().public_bytes(
            Encoding.DER, PublicFormat.SubjectPublicKeyInfo
        )
        enc_all = [v.to_bytes(v.bit_length() // 8 + 1, "big") for v in pool]
        packed = b"".join(bytes([len(e)]) + e for e in enc_all)
        out = ffi.new("uint8_t[]", len(pool))
        many, ptr, k = lib.fm_revset_lookup_many, rs._ptr, len(pool)
        benchmark.extra_info["items_per_call"] = k
        assert many(ptr, name, len(name), spki, len(spki), packed, len(packed), k, out) == (
            k if want else 0
        )

        def fn() -> object:
            return many(ptr, name, len(name), spki, len(spki), packed, len(packed), k, out)

    elif impl == "pyset":
        s = revdata.pyset(LOOKUP_KEY, entries)
        assert all((v in s) is want for v in pool)

        def fn() -> object:
            return next(serials) in s

    else:
        crl = x509.load_der_x509_crl(revdata.crl(LOOKUP_KEY, entries).der)
        by_serial = crl.get_revoked_certificate_by_serial_number
        assert (by_serial(pool[0]) is not None) is want

        def fn() -> object:
            return by_serial(next(serials))

        if entries >= 100_000:  # a linear scan of the CRL per call: tens of ms at 1M
            _slow(benchmark, fn, 10 if entries >= BIG else 30)
            return
    benchmark(fn)


# --- verify-revocation ------------------------------------------------------------------------


def _openssl_verifier(revdata: RevData, key: str, n: int) -> Callable[[list[bytes]], object]:
    """X509_verify_cert through pyOpenSSL; with ``n`` > 0 the CRL is in the store and CRL_CHECK on
    (the leaf's CRL: OpenSSL's default scope without CRL_CHECK_ALL)."""
    sc = revdata.scenario(key)
    store = crypto.X509Store()
    store.add_cert(crypto.load_certificate(crypto.FILETYPE_ASN1, sc.root.der))
    store.set_time(pki.NOW)
    if n:
        store.add_crl(x509.load_der_x509_crl(revdata.crl(key, n).der))
        store.set_flags(crypto.X509StoreFlags.CRL_CHECK)
    load, asn1, ctx = crypto.load_certificate, crypto.FILETYPE_ASN1, crypto.X509StoreContext

    def verify(chain: list[bytes]) -> object:
        ctx(store, load(asn1, chain[0]), [load(asn1, d) for d in chain[1:]]).verify_certificate()
        return True

    if n:  # the revoked leaf is refused
        with pytest.raises(crypto.X509StoreContextError, match="revoked"):
            verify(sc.chain)
    return verify


@pytest.mark.parametrize("key", VERIFY_KEYS)
def test_verify_revocation(
    benchmark: Any, revdata: RevData, key: str, rev_case: tuple[str, int]
) -> None:
    """Cold-leaf verification (a new leaf each call, the intermediate known) with and without a
    revocation set of ``entries`` revoked serials; OpenSSL with and without CRL_CHECK."""
    impl, n = rev_case
    name = f"{impl}+{size_label(n)}" if n else impl
    _label(benchmark, f"verify-revocation {key} depth=1", "verify-revocation", key, name, n)
    sc = revdata.scenario(key)
    chains = itertools.cycle(sc.leaf_pool)
    if impl == "fastmtls":
        rs = revdata.rset(key, n) if n else None
        verify = Verifier(
            sc.store,
            result_cache_size=COLD_LEAF_CACHE,
            signature_cache_size=COLD_LEAF_CACHE,
            revocations=rs,
            revocation_check="leaf",
        ).verify
        warm = verify(sc.chain, at=AT)  # the intermediate becomes known; its leaf is revoked
        assert warm.verified and warm.revoked is (rs is not None), warm.status
        if rs is not None:
            benchmark.extra_info.update(bytes_per_entry=round(rs.memory_bytes / len(rs), 2))

        def run() -> object:
            return verify(next(chains), at=AT)

        res = benchmark(run)
        assert isinstance(res, VerifyResult) and res.verified and not res.revoked
        res = verify(next(chains), at=AT)
        assert res.verified and not res.cached and res._res.sig_checks == 1, res._res.sig_checks
        return
    check = _openssl_verifier(revdata, key, n)

    def run_openssl() -> object:
        return check(next(chains))

    # OpenSSL cost grows with the CRL (consistent with re-verifying its signature, a hash of the
    # whole CRL, on every verification): ~40-60 ms per call at 1M
    if n >= BIG:
        assert _slow(benchmark, run_openssl, 5)
    else:
        assert benchmark(run_openssl)
