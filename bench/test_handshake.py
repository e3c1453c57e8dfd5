"""Server-side CPU per TLS handshake, over memory BIOs (no sockets), with and without client
certificate verification: Python's own (OpenSSL ``X509_verify_cert``, optionally with a CRL) and
the fastmtls hook (``fastmtls.ssl.install``), for TLS 1.2 and 1.3, P-256 and RSA-2048.

One group per (TLS version, key type), ``handshake-tls13-p256`` etc., holding these cases:

- ``noauth``: the server asks for no client certificate (``CERT_NONE``).
- ``accept-all``: a client certificate is required and OpenSSL's TLS layer does everything it
  always does with it (parse every presented certificate, check the CertificateVerify signature
  with the leaf's key), but the chain is accepted unverified (a ctypes
  ``SSL_CTX_set_cert_verify_callback`` that returns 1): the floor of any verifier, the hook
  included, in this TLS stack. (The ctypes callback takes the GIL: a few µs.)
- ``stdlib``: ``verify_mode = CERT_REQUIRED``, the root loaded with ``load_verify_locations``.
- ``stdlib+crl``: the same plus a CRL of the client's issuing intermediate (100k entries when
  timing, 1k as a plain test) and ``VERIFY_CRL_CHECK_LEAF``.
- ``fastmtls-warm``: the hook in enforce mode, the same client chain every time (the result cache
  answers; asserted on every handshake).
- ``fastmtls-cold``: the hook with 64-entry result and signature caches and a pool of distinct
  client leaves under one intermediate, cycled: every handshake misses the result cache and
  checks exactly one signature (asserted on every handshake), the intermediate's stays cached.
- ``fastmtls-warm+revset`` / ``fastmtls-cold+revset``: the same with a ``RevocationSet`` built
  from the same CRL as ``stdlib+crl``.

What is timed, and how: each case is a function that runs one complete handshake between a
client and a server ``SSLObject`` over ``MemoryBIO`` pairs, in this thread, and adds to a counter
the CPU time (``time.thread_time()``) spent inside the server's ``do_handshake()`` calls only. The
client's steps, object creation, BIO shuffling and the per-handshake assertions run outside those
spans. That counter is the benchmark's timer (pytest-benchmark's pedantic mode reads
``benchmark._timer`` before and after each round and does no calibration), so every statistic
pytest-benchmark records (min, median, IQR, JSON, ``--benchmark-compare``) is server CPU seconds
per handshake. Thread CPU time rather than wall time: time slices lost to other processes are
not counted (their cache and frequency effects still are: compare cases of one run only). The
wall time of a whole handshake (both sides) is kept in ``extra_info``.

Identical for every case, so that the cases differ only by client authentication: no session
resumption (no tickets: ``OP_NO_TICKET`` and ``num_tickets = 0``; the server's session cache off,
for the hook's contexts set after ``install``, which turns on the hook's own session-ID cache; a
new client ``SSLObject`` without a session each time); the client presents leaf + intermediate and
does not verify the server (its work is not measured anyway); SNI ``localhost``; default cipher
suites and groups (X25519). Certificates are valid around the real current time, since both
verifiers check the handshake's own clock. Not counted: ``SSL_new``/``SSL_free`` of the server
connection (``wrap_bio`` and garbage collection).

    PYTHONPATH=src python -m pytest bench/test_handshake.py -p no:cacheprovider \\
        --benchmark-enable --benchmark-json=/tmp/hs.json && python bench/report.py /tmp/hs.json
"""

from __future__ import annotations

import ctypes
import itertools
import random
import ssl
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import crlgen
import pki
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)

import fastmtls.ssl as fssl
from fastmtls import RevocationSet, TrustStore, Verifier, VerifyResult

KEYS = ("p256", "rsa2048")
VERSIONS = {"tls12": ssl.TLSVersion.TLSv1_2, "tls13": ssl.TLSVersion.TLSv1_3}
IMPLS = ("noauth", "accept-all", "stdlib", "stdlib+crl", "fastmtls-warm", "fastmtls-cold",
         "fastmtls-warm+revset", "fastmtls-cold+revset")  # fmt: skip
# role in the generic report tables; every other case is an "anchor"
ROLES = {"fastmtls-warm": "subject", "noauth": "reference", "accept-all": "reference"}
COLD_CACHE = 64  # result/signature cache entries of the cold verifiers (as test_verify.py)


@dataclass(frozen=True)
class Sizes:
    crl_entries: int  # revoked serials in the CRL / revocation set
    pool: int  # distinct client leaves cycled by the cold cases (>> COLD_CACHE)
    rounds: int  # pytest-benchmark rounds per case
    iterations: int  # handshakes per round (each round's value is their mean)


    interleaved_rounds: int  # rounds of test_handshake_interleaved (one handshake per case each)


TIMED = Sizes(crl_entries=100_000, pool=512, rounds=50, iterations=10, interleaved_rounds=400)
QUICK = Sizes(crl_entries=1_000, pool=4, rounds=1, iterations=1, interleaved_rounds=2)

SSL_CTRL_SET_SESS_CACHE_MODE, SSL_CTRL_GET_SESS_CACHE_MODE, SSL_SESS_CACHE_OFF = 44, 45, 0


def timing_enabled(config: pytest.Config) -> bool:
    """Same rule as conftest.timing_enabled (pytest-benchmark's own)."""
    return not (config.getoption("benchmark_disable") and not config.getoption("benchmark_enable"))


# --- PKI and client contexts, per key type, built once per session ---------------------------


def _pem_key(c: pki.Cert) -> bytes:
    der: bytes = c.key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    return der


def _crl_pem(der: bytes) -> bytes:
    import base64

    b64 = base64.encodebytes(der).decode().replace("\n", "")
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    return ("-----BEGIN X509 CRL-----\n" + "\n".join(lines) + "\n-----END X509 CRL-----\n").encode()


def _validity() -> tuple[datetime, datetime]:
    """Around the real current time: handshakes verify at the clock's time, not at pki.NOW."""
    now = datetime.now(timezone.utc)
    return now - timedelta(days=1), now + timedelta(days=30)


@dataclass
class HsPKI:
    """Root -> intermediate -> client leaves (one key, distinct serials); root -> server leaf.

    Dates around the real current time: handshakes verify at the clock's time, not pki.NOW."""

    key: str
    sizes: Sizes
    dir: Path
    root: pki.Cert
    inter: pki.Cert
    client: pki.Cert  # the warm client
    revoked: pki.Cert  # a client whose serial is in every CRL
    server_cert: str  # file: server leaf PEM
    server_key: str  # file: server key PEM
    _clients: dict[str, ssl.SSLContext] = field(default_factory=dict)
    _pool: list[ssl.SSLContext] | None = None
    _crl: crlgen.GeneratedCRL | None = None
    _crl_file: str | None = None
    _rset: RevocationSet | None = None

    @classmethod
    def build(cls, key: str, sizes: Sizes, d: Path) -> HsPKI:
        kt: Any = key  # a pki.KeyType
        nb, na = _validity()
        root = pki.ca(f"Handshake Root {key}", key=kt, not_before=nb, not_after=na)
        inter = pki.intermediate(root, f"Handshake Intermediate {key}", kt, not_before=nb,
                                 not_after=na)  # fmt: skip
        server = pki.leaf(root, "localhost", key=kt, eku=[pki.SERVER_AUTH],
                          san=[x509.DNSName("localhost")], not_before=nb, not_after=na)  # fmt: skip
        client = pki.leaf(inter, "client warm", key=kt, not_before=nb, not_after=na)
        revoked = pki.leaf(inter, "client revoked", key=client.key, not_before=nb, not_after=na)
        d.mkdir(parents=True, exist_ok=True)
        (d / "server.pem").write_bytes(server.pem)
        (d / "server.key").write_bytes(_pem_key(server))
        (d / "client.key").write_bytes(_pem_key(client))
        return cls(key, sizes, d, root, inter, client, revoked, str(d / "server.pem"),
                   str(d / "server.key"))  # fmt: skip

    def _client_ctx(self, leaf: pki.Cert, name: str) -> ssl.SSLContext:
        path = self.dir / f"{name}.pem"
        path.write_bytes(pki.pem_bundle(leaf, self.inter))  # leaf + intermediate, as presented
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # the client's own work is not measured
        ctx.load_cert_chain(str(path), str(self.dir / "client.key"))
        return ctx

    def client_ctx(self, which: str = "warm") -> ssl.SSLContext:
        if which not in self._clients:
            leaf = self.client if which == "warm" else self.revoked
            self._clients[which] = self._client_ctx(leaf, f"client-{which}")
        return self._clients[which]

    @property
    def pool(self) -> list[ssl.SSLContext]:
        """Client contexts of distinct leaves (the cold cases' clients)."""
        if self._pool is None:
            key, (nb, na) = self.client.key, _validity()
            leaves = (
                pki.leaf(self.inter, f"client {i}", key=key, not_before=nb, not_after=na)
                for i in range(self.sizes.pool)
            )
            self._pool = [self._client_ctx(lf, f"pool-{i}") for i, lf in enumerate(leaves)]
        return self._pool

    @property
    def crl(self) -> crlgen.GeneratedCRL:
        """The intermediate's CRL: random serials plus the revoked client's (valid now)."""
        if self._crl is None:
            n = self.sizes.crl_entries
            self._crl = crlgen.make_crl(
                self.inter.cert, self.inter.key, n - 1, now=datetime.now(timezone.utc),
                seed=n, extra_serials=[int(self.revoked.cert.serial_number)])  # fmt: skip
        return self._crl

    @property
    def crl_file(self) -> str:
        """The CRL as PEM in a file: ``load_verify_locations(cafile=)`` loads CRLs, ``cadata``
        does not (it reads certificates only)."""
        if self._crl_file is None:
            path = self.dir / "crl.pem"
            path.write_bytes(_crl_pem(self.crl.der))
            self._crl_file = str(path)
        return self._crl_file

    @property
    def rset(self) -> RevocationSet:
        if self._rset is None:
            self._rset = RevocationSet.build([self.crl.der], cas=[self.inter.der])
            assert len(self._rset) == self.sizes.crl_entries
        return self._rset

    def store(self) -> TrustStore:
        s = TrustStore()
        s.add_der(self.root.der, name="root")
        return s


class HsWorld:
    def __init__(self, sizes: Sizes, d: Path) -> None:
        self.sizes = sizes
        self.dir = d
        self._pkis: dict[str, HsPKI] = {}

    def pki(self, key: str) -> HsPKI:
        if key not in self._pkis:
            self._pkis[key] = HsPKI.build(key, self.sizes, self.dir / key)
        return self._pkis[key]


@pytest.fixture(scope="session")
def hsworld(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> HsWorld:
    sizes = TIMED if timing_enabled(request.config) else QUICK
    return HsWorld(sizes, tmp_path_factory.mktemp("handshake"))


# --- server contexts ---------------------------------------------------------------------------


def _ssl_ctx_ctrl() -> Any:
    """``SSL_CTX_ctrl`` of the libssl the ssl module uses (Python has no session-cache setter)."""
    import _ssl

    f = ctypes.CDLL(_ssl.__file__).SSL_CTX_ctrl
    f.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
    f.restype = ctypes.c_long
    return f


_CERT_VERIFY_CB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)


def _accept_all_py(store_ctx: int, arg: int) -> int:
    """Replaces X509_verify_cert: every presented chain is accepted (the ``accept-all`` case)."""
    return 1


_accept_all = _CERT_VERIFY_CB(_accept_all_py)


def _set_accept_all(ctx: ssl.SSLContext) -> None:
    import _ssl

    f = ctypes.CDLL(_ssl.__file__).SSL_CTX_set_cert_verify_callback
    f.argtypes = [ctypes.c_void_p, _CERT_VERIFY_CB, ctypes.c_void_p]
    f.restype = None
    f(_ctx_ptr(ctx), _accept_all, None)  # _accept_all is module-level: it outlives the context


def _ctx_ptr(ctx: ssl.SSLContext) -> int:
    # PySSLContext: PyObject_HEAD, then SSL_CTX *ctx (what fastmtls.ssl checks before trusting it)
    return ctypes.c_void_p.from_address(id(ctx) + object.__basicsize__).value or 0


def session_cache_mode(ctx: ssl.SSLContext) -> int:
    return int(_ssl_ctx_ctrl()(_ctx_ptr(ctx), SSL_CTRL_GET_SESS_CACHE_MODE, 0, None))


def server_context(p: HsPKI, tls: str, impl: str) -> tuple[ssl.SSLContext, Verifier | None]:
    """The server side of one case (and its fastmtls verifier, if any)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ctx.maximum_version = VERSIONS[tls]
    ctx.load_cert_chain(p.server_cert, p.server_key)
    ctx.options |= ssl.OP_NO_TICKET
    ctx.num_tickets = 0
    verifier = None
    if impl == "accept-all":
        ctx.verify_mode = ssl.CERT_REQUIRED
        _set_accept_all(ctx)
    elif impl.startswith("stdlib"):
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cadata=p.root.pem.decode())
        if impl == "stdlib+crl":
            ctx.load_verify_locations(cafile=p.crl_file)
            ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
    elif impl.startswith("fastmtls"):
        cold = "-cold" in impl
        size = COLD_CACHE if cold else 4096  # 4096: the Verifier's default
        verifier = Verifier(p.store(), result_cache_size=size, signature_cache_size=size,
                            revocations=p.rset if impl.endswith("+revset") else None)  # fmt: skip
        fssl.install(ctx, verifier, mode="enforce")
    # after install, which turns on the hook's own session-ID cache: no case caches sessions
    _ssl_ctx_ctrl()(_ctx_ptr(ctx), SSL_CTRL_SET_SESS_CACHE_MODE, SSL_SESS_CACHE_OFF, None)
    assert session_cache_mode(ctx) == SSL_SESS_CACHE_OFF
    return ctx, verifier


# --- one handshake, server CPU counted ---------------------------------------------------------


class ServerClock:
    """Seconds of thread CPU spent in the server's ``do_handshake()`` calls so far; its
    ``server_thread_time`` is the benchmark's timer (the JSON's ``options.timer`` names it)."""

    def __init__(self) -> None:
        self.spent = 0.0
        self.steps = 0
        self.handshakes = 0
        self.wall = 0.0

    def server_thread_time(self) -> float:
        return self.spent


def handshake(sctx: ssl.SSLContext, cctx: ssl.SSLContext, clock: ServerClock) -> ssl.SSLObject:
    """One full handshake over memory BIOs; returns the server's SSLObject. Only the server's
    ``do_handshake()`` calls are added to ``clock`` (an SSLError raised by either side
    propagates)."""
    w0 = time.perf_counter()
    si, so, ci, co = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    srv = sctx.wrap_bio(si, so, server_side=True)
    cli = cctx.wrap_bio(ci, co, server_hostname="localhost")
    c_done = s_done = False
    tt = time.thread_time
    for _ in range(8):
        if not c_done:
            try:
                cli.do_handshake()
                c_done = True
            except ssl.SSLWantReadError:
                pass
        si.write(co.read())
        if not s_done:
            t0 = tt()
            try:
                srv.do_handshake()
                s_done = True
            except ssl.SSLWantReadError:
                pass
            finally:
                clock.spent += tt() - t0
                clock.steps += 1
        ci.write(so.read())
        if c_done and s_done:
            clock.handshakes += 1
            clock.wall += time.perf_counter() - w0
            return srv
    raise AssertionError("handshake did not complete")


def checker(impl: str) -> Callable[[ssl.SSLObject], None]:
    """What every handshake of a case must show (run outside the server's timed spans)."""
    if impl == "noauth":

        def check(s: ssl.SSLObject) -> None:
            assert s.getpeercert() is None

    elif impl == "accept-all":

        def check(s: ssl.SSLObject) -> None:
            assert s.getpeercert(binary_form=True), "no client certificate"

    elif impl.startswith("stdlib"):

        def check(s: ssl.SSLObject) -> None:
            assert s.getpeercert(), "no verified client certificate"

    else:
        cold = "-cold" in impl

        def check(s: ssl.SSLObject) -> None:
            r = fssl.result(s)
            assert isinstance(r, VerifyResult) and r.verified and not r.revoked, r.status
            if cold:  # a new leaf: no cached result, one signature check (the leaf's)
                assert not r.cached and r._res.sig_checks == 1, (r.cached, r._res.sig_checks)
            else:
                assert r.cached

    return check


def prepare(p: HsPKI, tls: str, impl: str) -> tuple[ssl.SSLContext, Verifier | None,
                                                     Iterator[ssl.SSLContext],
                                                     Callable[[ssl.SSLObject], None]]:  # fmt: skip
    """The server context of a case, its verifier, its clients and its per-handshake check, after
    checking the path that will be measured: the first handshake fills the caches (and, for the
    cold cases, makes the intermediate's signature known); with a CRL or set, the revoked client
    is refused (the CRL / set is really consulted)."""
    sctx, verifier = server_context(p, tls, impl)
    clients = itertools.cycle(p.pool) if "-cold" in impl else itertools.repeat(p.client_ctx())
    check = checker(impl)
    probe = ServerClock()
    warmup = handshake(sctx, p.client_ctx(), probe)
    if impl.startswith("fastmtls"):
        r = fssl.result(warmup)
        assert r.verified and not r.cached, r.status
    else:
        checker(impl)(warmup)
    check(handshake(sctx, next(clients), probe))
    if impl.endswith(("+crl", "+revset")):
        with pytest.raises(ssl.SSLError, match=r"(?i)revoked"):
            handshake(sctx, p.client_ctx("revoked"), probe)
    return sctx, verifier, clients, check


def _case_id(tls: str, key: str, impl: str) -> str:
    return f"{tls}-{key}-{impl}"


CASES = [pytest.param(tls, key, impl, id=_case_id(tls, key, impl))
         for tls in VERSIONS for key in KEYS for impl in IMPLS]  # fmt: skip


@pytest.mark.skipif(not fssl.available(), reason="fastmtls.ssl hook unavailable here")
@pytest.mark.parametrize(("tls", "key", "impl"), CASES)
def test_handshake(benchmark: Any, hsworld: HsWorld, tls: str, key: str, impl: str) -> None:
    """Server CPU of one full handshake (no resumption), per client-authentication setup."""
    p = hsworld.pki(key)
    sizes = hsworld.sizes
    with_crl = impl.endswith(("+crl", "+revset"))
    entries = sizes.crl_entries if with_crl else 0
    benchmark.group = f"handshake-{tls}-{key}"
    benchmark.extra_info.update(op="handshake", key=key, depth=1, impl=impl,
                                role=ROLES.get(impl, "anchor"), tls=VERSIONS[tls].name,
                                entries=entries, clock="server thread_time")  # fmt: skip
    sctx, _verifier, clients, check = prepare(p, tls, impl)
    clock = ServerClock()

    def one() -> None:
        check(handshake(sctx, next(clients), clock))

    # pedantic mode reads the timer before/after each round and does no calibration
    benchmark._timer = clock.server_thread_time
    benchmark.pedantic(one, rounds=sizes.rounds, iterations=sizes.iterations,
                       warmup_rounds=1 if sizes.rounds > 1 else 0)  # disabled: one call
    if not benchmark.enabled:
        return
    n = clock.handshakes
    benchmark.extra_info.update(
        handshakes=n,
        server_steps_per_handshake=round(clock.steps / n, 2),
        server_cpu_us_mean=round(clock.spent / n * 1e6, 1),
        wall_us_per_handshake=round(clock.wall / n * 1e6, 1),  # both sides, harness included
    )


GROUPS = [pytest.param(tls, key, id=f"{tls}-{key}") for tls in VERSIONS for key in KEYS]


@pytest.mark.skipif(not fssl.available(), reason="fastmtls.ssl hook unavailable here")
@pytest.mark.parametrize(("tls", "key"), GROUPS)
def test_handshake_interleaved(benchmark: Any, hsworld: HsWorld, tls: str, key: str) -> None:
    """Every case of one (TLS version, key) group, interleaved: each round runs one handshake of
    each case, in a new random order every round (seeded). Whatever drifts while a benchmark runs
    (other jobs on the machine, CPU frequency, the heap) then weighs on all cases alike, so their
    ratios compare like with like; run case after case (test_handshake), phases of a few seconds
    move single cases by 30% here. The order is shuffled, not rotated, because a case pays for
    the one before it: after a stdlib+crl handshake (a 100k-entry CRL walked) the CPU caches are
    cold, which cost whichever case always came next about 60 µs. The benchmark's value is the
    server CPU of a whole round; the per-case statistics (server CPU of each handshake) are in
    ``extra_info["per_case"]``, from which bench/report.py computes the handshake targets."""
    p = hsworld.pki(key)
    sizes = hsworld.sizes
    benchmark.group = f"handshake-{tls}-{key}-interleaved"
    setups = [(impl, *prepare(p, tls, impl)) for impl in IMPLS]
    samples: dict[str, list[float]] = {impl: [] for impl in IMPLS}
    clock = ServerClock()
    order = list(range(len(setups)))
    rng = random.Random(f"handshake-{tls}-{key}")

    def one_round() -> None:
        rng.shuffle(order)
        for k in order:
            impl, sctx, _verifier, clients, check = setups[k]
            before = clock.spent
            check(handshake(sctx, next(clients), clock))
            samples[impl].append(clock.spent - before)

    benchmark._timer = clock.server_thread_time
    benchmark.pedantic(one_round, rounds=sizes.interleaved_rounds, iterations=1,
                       warmup_rounds=1 if sizes.rounds > 1 else 0)  # fmt: skip
    assert all(len(v) == len(samples[IMPLS[0]]) for v in samples.values())

    def stats(v: list[float]) -> dict[str, float]:
        q = statistics.quantiles(v, n=4) if len(v) > 1 else [v[0]] * 3
        return {"median": statistics.median(v), "min": min(v), "p25": q[0], "p75": q[2],
                "n": len(v)}  # fmt: skip

    benchmark.extra_info.update(
        op="handshake-interleaved", key=key, depth=1, impl="all", role="reference",
        tls=VERSIONS[tls].name, entries=sizes.crl_entries, clock="server thread_time",
        per_case={impl: stats(v) for impl, v in samples.items()},
    )  # fmt: skip
