"""CRLSource: file and HTTP(S) CRL sources kept current in the background, published to verifiers.

A local ``ThreadingHTTPServer`` on 127.0.0.1 serves CRLs built with cryptography's
CertificateRevocationListBuilder (signed by ``pki`` CAs); it supports ETag / Last-Modified and
counts requests. CRL dates are real time (the source schedules against the wall clock).
"""

from __future__ import annotations

import email.utils
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import crls
import pki
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

from fastmtls import ConfigurationError, Revocation, RevocationSet, TrustStore, Verifier, crlsource
from fastmtls.crlsource import CRLSource, SourceStatus, distribution_points

UTC = timezone.utc

# -- helpers -----------------------------------------------------------------------------------


def make_crl(
    issuer: pki.Cert,
    revoked: Sequence[int] = (),
    *,
    number: int | None = 1,
    key: Any = None,
    this_update: datetime | None = None,
    next_update: datetime | None = None,
    delta_of: int | None = None,
    pem: bool = False,
) -> bytes:
    """A CRL of ``issuer`` revoking ``revoked`` serials (signed by ``key``, default the CA's)."""
    now = datetime.now(UTC).replace(microsecond=0)
    tu = this_update or now - timedelta(minutes=1)
    b = (x509.CertificateRevocationListBuilder().issuer_name(issuer.cert.subject)
         .last_update(tu).next_update(next_update or now + timedelta(days=1)))  # fmt: skip
    if number is not None:  # (None: a CRL without a cRLNumber, ranked by thisUpdate)
        b = b.add_extension(x509.CRLNumber(number), False)
    if delta_of is not None:
        b = b.add_extension(x509.DeltaCRLIndicator(delta_of), True)
    for serial in revoked:
        b = b.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(tu).build()
        )
    crl = b.sign(key or issuer.key, hashes.SHA256())
    return crl.public_bytes(Encoding.PEM if pem else Encoding.DER)


@dataclass
class Route:
    """What the test server answers for one path."""

    body: bytes = b""
    status: int = 200
    etag: str | None = None
    last_modified: float | None = None
    send_length: bool = True
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Hit:
    at: float
    path: str
    headers: dict[str, str]
    status: int


class CRLServer:
    """A threaded HTTP server on 127.0.0.1 with per-path routes and a request log."""

    def __init__(self, port: int = 0) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: list[Hit] = []
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.state = self  # type: ignore[attr-defined]
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def requests(self, path: str) -> list[Hit]:
        with self.lock:
            return [h for h in self.hits if h.path == path]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        state: CRLServer = self.server.state  # type: ignore[attr-defined]
        self._answer(state.routes.get(self.path))

    def _record(self, code: int) -> None:
        """Log the request before answering: the client may look as soon as it has the answer."""
        state: CRLServer = self.server.state  # type: ignore[attr-defined]
        with state.lock:
            state.hits.append(Hit(time.time(), self.path, dict(self.headers.items()), code))

    def _answer(self, route: Route | None) -> None:
        if route is None:
            self._record(404)
            self.send_error(404)
            return
        if route.status != 200:
            self._record(route.status)
            self.send_response(route.status)
            for k, v in route.headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        inm, ims = self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")
        if route.etag is not None and inm is not None:
            fresh = inm == route.etag
        elif route.last_modified is not None and ims is not None:
            fresh = email.utils.parsedate_to_datetime(ims).timestamp() >= int(route.last_modified)
        else:
            fresh = False
        if fresh:
            self._record(304)
            self.send_response(304)
            if route.etag:
                self.send_header("ETag", route.etag)
            self.end_headers()
            return
        self._record(200)
        self.send_response(200)
        self.send_header("Content-Type", "application/pkix-crl")
        if route.send_length:
            self.send_header("Content-Length", str(len(route.body)))
        if route.etag is not None:
            self.send_header("ETag", route.etag)
        if route.last_modified is not None:
            self.send_header("Last-Modified",
                             email.utils.formatdate(route.last_modified, usegmt=True))
        self.end_headers()
        self.wfile.write(route.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def wait_until(cond: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll ``cond`` until true or ``timeout`` seconds pass."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.01)
    return cond()


def one(src: CRLSource) -> SourceStatus:
    """The status of a source's single source."""
    (st,) = src.status()
    return st


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests to 127.0.0.1 must not go through a proxy from the environment."""
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy",
                "ALL_PROXY"):  # fmt: skip
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="module")
def ca() -> pki.Cert:
    """The CA that signs the CRLs."""
    return pki.ca("CRLSource Test CA")


@pytest.fixture
def server() -> Iterator[CRLServer]:
    """A fresh CRL server for one test."""
    s = CRLServer()
    yield s
    s.close()


def real_time_leaf(issuer: pki.Cert, name: str = "client") -> pki.Cert:
    """A client leaf valid around the real current time."""
    now = datetime.now(UTC)
    return pki.leaf(issuer, name, not_before=now - timedelta(days=1),
                    not_after=now + timedelta(days=1))  # fmt: skip


# -- files -------------------------------------------------------------------------------------


def test_file_source_reloads_only_when_the_file_changes(tmp_path: Path, ca: pki.Cert) -> None:
    """A file source is re-read and republished when it changes, and not when it does not."""
    path = tmp_path / "ca.crl"
    path.write_bytes(make_crl(ca, number=1))
    src = CRLSource(files=[path], cas=[ca.der])
    assert src.current is None
    assert src.refresh() is True
    first = src.current
    assert first is not None and len(first) == 0
    assert src.refresh() is False and src.current is first

    st = os.stat(path)  # same bytes, new mtime: read again, nothing to publish
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert src.refresh() is False and src.current is first

    path.write_bytes(make_crl(ca, [0x1234], number=2))
    assert src.refresh() is True
    assert src.current is not first and src.current.lookup(ca.der, 0x1234) is not None
    st2 = one(src)
    assert (st2.kind, st2.origin, st2.in_set, st2.crls, st2.last_error) == (
        "file", "file", True, 1, None)


def test_cas_of_a_verifier_follow_its_configuration(tmp_path: Path, ca: pki.Cert) -> None:
    """cas= a Verifier takes its trust anchors and intermediates, as they are at each round:
    the CRL of an intermediate it holds is taken beside its root's, and once its store no
    longer trusts the root, a new CRL of the root is refused (cas=verifier raised TypeError;
    found by review)."""
    inter = pki.intermediate(ca, "CRLSource Verifier Intermediate")
    inter_crl, ca_crl = tmp_path / "inter.crl", tmp_path / "ca.crl"
    inter_crl.write_bytes(make_crl(inter, [7], number=1))
    ca_crl.write_bytes(make_crl(ca, [9], number=1))
    store = TrustStore()
    store.add_der(ca.der, name="ca")
    v = Verifier(store, intermediates=[inter.der])
    src = CRLSource(files=[inter_crl, ca_crl], cas=v)
    assert src.refresh() is True and src.current is not None
    assert src.current.lookup(inter.der, 7) and src.current.lookup(ca.der, 9)
    v.store = TrustStore()
    ca_crl.write_bytes(make_crl(ca, [9, 10], number=2))
    src.refresh()
    errors = {Path(st.location).name: st.last_error for st in src.status()}
    assert errors["inter.crl"] is None
    assert "no configured CA" in (errors["ca.crl"] or "")
    with pytest.raises(ConfigurationError, match="cas must be a TrustStore, a Verifier or"):
        CRLSource(files=[inter_crl], cas=5)  # type: ignore[arg-type]


def test_file_pem_bundle_with_crls_of_two_cas(tmp_path: Path, ca: pki.Cert) -> None:
    """One PEM file may hold CRLs of several CAs."""
    other = pki.ca("CRLSource Other CA")
    path = tmp_path / "all.pem"
    path.write_bytes(make_crl(ca, [1], pem=True) + make_crl(other, [2], pem=True))
    src = CRLSource(files=[str(path)], cas=[ca.der, other.der])
    assert src.refresh() is True and src.current is not None
    assert src.current.lookup(ca.der, 1) and src.current.lookup(other.der, 2)
    assert one(src).crls == 2


def test_bad_or_missing_file_keeps_last_good(tmp_path: Path, ca: pki.Cert) -> None:
    """A garbage or deleted file keeps the last good set; the bad content is not re-read."""
    path = tmp_path / "ca.crl"
    path.write_bytes(make_crl(ca, [7]))
    src = CRLSource(files=[path], cas=[ca.der])
    assert src.refresh()
    good = src.current
    path.write_bytes(b"garbage, not a CRL")
    assert src.refresh() is False and src.current is good
    st = one(src)
    assert st.last_error and "not a CRL" in st.last_error and st.consecutive_failures == 1
    assert src.refresh() is False and one(src).consecutive_failures == 1  # unchanged: no re-read
    path.unlink()
    assert src.refresh() is False and src.current is good
    assert "cannot read" in (one(src).last_error or "") and one(src).in_set
    path.write_bytes(make_crl(ca, [7, 8], number=2))
    assert src.refresh() is True and src.current.lookup(ca.der, 8) is not None  # type: ignore[union-attr]
    assert one(src).last_error is None and one(src).consecutive_failures == 0


def test_background_thread_reloads_a_changed_file(tmp_path: Path, ca: pki.Cert) -> None:
    """The background thread polls files and publishes a change."""
    path = tmp_path / "ca.crl"
    path.write_bytes(make_crl(ca))
    with CRLSource(files=[path], cas=[ca.der], poll_interval=0.02) as src:
        first = src.current
        assert first is not None
        path.write_bytes(make_crl(ca, [99], number=2))
        assert wait_until(lambda: src.current is not first)
        assert src.current.lookup(ca.der, 99) is not None  # type: ignore[union-attr]


@pytest.mark.parametrize("background", [False, True], ids=["refresh", "thread"])
def test_crl_issued_for_later_comes_into_force_at_its_this_update(
    tmp_path: Path, ca: pki.Cert, background: bool
) -> None:
    """A CRL held but issued for later (thisUpdate ahead) does not replace the current one until
    its thisUpdate; then the set is rebuilt without any file changing (by refresh(), or by the
    background thread waking for it even with a long poll interval)."""
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    (tmp_path / "current.crl").write_bytes(make_crl(ca, [0x77], number=1))
    (tmp_path / "next.crl").write_bytes(make_crl(ca, [], number=2, this_update=later))
    files = [tmp_path / "current.crl", tmp_path / "next.crl"]
    src = CRLSource(files=files, cas=[ca.der], poll_interval=60)
    if background:
        src.start()
    else:
        assert src.refresh() is True
    try:
        first = src.current
        assert first is not None and first.lookup(ca.der, 0x77) is not None
        if not background:
            assert src.refresh() is False and src.current is first
            assert wait_until(lambda: datetime.now(UTC) >= later + timedelta(seconds=1), 10)
            assert src.refresh() is True
        assert wait_until(lambda: src.current is not first, 10)
        assert src.current.lookup(ca.der, 0x77) is None  # type: ignore[union-attr]
        assert src.refresh() is False
    finally:
        src.stop()


@pytest.mark.parametrize("then_again", [False, True], ids=["one", "two-ahead"])
def test_source_publishing_ahead_keeps_the_crl_in_force(
    tmp_path: Path, ca: pki.Cert, then_again: bool
) -> None:
    """A source whose new CRL is issued a little ahead of the clock (thisUpdate in the future:
    a CA publishing early, a skewed clock) keeps the CRL it replaces in the set until then, so
    expired_crl="deny" finds a current CRL throughout (it used to refuse every client with "CRL
    is not yet valid" until that thisUpdate). The new CRL's revocations apply from its
    thisUpdate on; a second early CRL before that keeps the same CRL in force."""
    store = TrustStore()
    store.add_der(ca.der, name="ca")
    v = Verifier(store, expired_crl="deny")
    leaf, revoked_later = real_time_leaf(ca), real_time_leaf(ca, "revoked later")
    path = tmp_path / "ca.crl"
    path.write_bytes(make_crl(ca, [0x11], number=1))
    src = CRLSource(files=[path], targets=[v], poll_interval=60)
    assert src.refresh() is True
    # ahead by a margin that slow runs (sanitizers) cannot use up before the checks below
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=4)
    ahead = [int(revoked_later.cert.serial_number)]
    path.write_bytes(make_crl(ca, [0x11, *ahead], number=2, this_update=later))
    os.utime(path, (time.time() + 1, time.time() + 1))  # a new mtime whatever the clock's grain
    assert src.refresh() is True
    if then_again:
        path.write_bytes(make_crl(ca, [0x11, *ahead], number=3, this_update=later))
        os.utime(path, (time.time() + 2, time.time() + 2))
        assert src.refresh() is True
    res = v.verify([leaf.der])
    assert res.status == "SUCCESS", res.status
    assert v.verify([revoked_later.der]).status == "SUCCESS"
    assert src.current is not None and src.current.lookup(ca.der, 0x11) is not None
    assert wait_until(lambda: datetime.now(UTC) >= later + timedelta(seconds=1), 10)
    assert src.refresh() is True  # the new CRL came into force: the old one is let go
    res = v.verify([revoked_later.der])
    assert res.status == "SUCCESS" and res.revoked
    assert v.verify([leaf.der]).status == "SUCCESS"
    assert src.status()[0].crls == 1 and src.refresh() is False


def test_status_describes_the_content_in_force(tmp_path: Path, ca: pki.Cert) -> None:
    """While a source's new content is issued for later, status() counts and dates the content
    still in force (a base CRL and its delta here), not the one held for later; once that comes
    into force, it is the one described."""
    path = tmp_path / "ca.crl"
    path.write_bytes(make_crl(ca, [0x11], number=1, pem=True)
                     + make_crl(ca, [0x12], number=2, delta_of=1, pem=True))  # fmt: skip
    src = CRLSource(files=[path], cas=[ca.der], poll_interval=60)
    assert src.refresh() is True
    before = src.status()[0]
    assert before.crls == 2
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
    path.write_bytes(make_crl(ca, [0x11, 0x12], number=3, this_update=later))
    os.utime(path, (time.time() + 1, time.time() + 1))
    assert src.refresh() is True
    held = src.status()[0]
    assert (held.crls, held.this_update, held.next_update) == (
        before.crls, before.this_update, before.next_update)
    assert wait_until(lambda: datetime.now(UTC) >= later + timedelta(seconds=1), 10)
    assert src.refresh() is True
    now = src.status()[0]
    assert (now.crls, now.this_update) == (1, int(later.timestamp()))


def test_crl_coming_into_force_during_a_slow_build_is_not_lost(
    tmp_path: Path, ca: pki.Cert, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A held CRL whose thisUpdate passes while the round's build runs (large CRLs) comes into
    force at the next round: the round's builds and its bookkeeping use one time (they used to
    read the clock twice, so the CRL was neither built in nor waited for, until some source
    changed)."""
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    (tmp_path / "current.crl").write_bytes(make_crl(ca, [], number=1))
    (tmp_path / "next.crl").write_bytes(make_crl(ca, [0x77], number=2, this_update=later))
    src = CRLSource(files=[tmp_path / "current.crl", tmp_path / "next.crl"], cas=[ca.der],
                    poll_interval=60)  # fmt: skip
    build = CRLSource._build

    def slow_build(self: CRLSource, ders: Sequence[bytes], cas: Sequence[bytes]) -> Any:
        rs = build(self, ders, cas)
        assert wait_until(lambda: datetime.now(UTC) >= later + timedelta(seconds=0.5), 10)
        return rs

    monkeypatch.setattr(CRLSource, "_build", slow_build)
    assert src.refresh() is True
    assert src.current is not None and src.current.lookup(ca.der, 0x77) is None
    monkeypatch.setattr(CRLSource, "_build", build)
    assert src.refresh() is True
    assert src.current.lookup(ca.der, 0x77) is not None


# -- URLs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("validator", ["etag", "last_modified"])
def test_url_conditional_request_304_keeps_the_set(
    server: CRLServer, ca: pki.Cert, validator: str
) -> None:
    """A URL is fetched; the next request is conditional, 304 keeps the set without a rebuild."""
    route = Route(make_crl(ca, [5]))
    if validator == "etag":
        route.etag = '"v1"'
    else:
        route.last_modified = time.time() - 60
    server.routes["/ca.crl"] = route
    src = CRLSource(urls=[server.url("/ca.crl")], cas=[ca.der])
    assert src.refresh() is True
    first = src.current
    assert first is not None and first.lookup(ca.der, 5) is not None
    assert src.refresh() is False and src.current is first
    hits = server.requests("/ca.crl")
    assert [h.status for h in hits] == [200, 304]
    header = "If-None-Match" if validator == "etag" else "If-Modified-Since"
    assert header not in hits[0].headers and header in hits[1].headers
    st = one(src)
    assert st.last_error is None and st.last_success is not None
    assert (st.etag == '"v1"') if validator == "etag" else (st.last_modified is not None)

    route.body, route.etag = make_crl(ca, [5, 6], number=2), '"v2"'
    route.last_modified = time.time()
    assert src.refresh() is True and src.current.lookup(ca.der, 6) is not None  # type: ignore[union-attr]
    assert server.requests("/ca.crl")[-1].status == 200


def test_unchanged_body_without_validators_is_not_republished(
    server: CRLServer, ca: pki.Cert
) -> None:
    """A 200 with the same bytes as held counts as unchanged: no new set."""
    server.routes["/ca.crl"] = Route(make_crl(ca))
    src = CRLSource(urls=[server.url("/ca.crl")], cas=[ca.der])
    assert src.refresh() is True
    first = src.current
    assert src.refresh() is False and src.current is first
    assert [h.status for h in server.requests("/ca.crl")] == [200, 200]


FAILURES = {
    "http500": "HTTP 500",
    "refused": "refused",
    "garbage": "not a CRL",
    "wrong_key": "signature",
    # another CA's CRL in place of the one held: no configured CA signs it (the build says so)
    "unknown_issuer": "no configured CA has the CRL's issuer name",
    "too_large": "max_bytes",
    "too_large_unannounced": "max_bytes",
    "older": "older than the one held",
    "redirect_ftp": "redirect",
}


@pytest.mark.parametrize("failure", sorted(FAILURES))
def test_url_failure_keeps_last_good_then_recovers(
    server: CRLServer, ca: pki.Cert, failure: str
) -> None:
    """Every kind of failure keeps the last good set, reports last_error and counts failures."""
    route = Route(make_crl(ca, [1], number=5), etag='"good"')
    server.routes["/ca.crl"] = route
    src = CRLSource(urls=[server.url("/ca.crl")], cas=[ca.der], max_bytes=100_000)
    assert src.refresh() is True
    good = src.current

    port = server.port
    route.etag = '"bad"'
    if failure == "http500":
        route.status = 500
    elif failure == "refused":
        server.close()
    elif failure == "garbage":
        route.body = b"<html>this is not a CRL</html>"
    elif failure == "wrong_key":
        route.body = make_crl(ca, [1, 2], number=6, key=pki.make_key("p256"))
    elif failure == "unknown_issuer":
        route.body = make_crl(pki.ca("Stranger CA"), [3])
    elif failure.startswith("too_large"):
        route.body = b"\x30" * 200_000
        route.send_length = failure == "too_large"
    elif failure == "older":
        route.body = make_crl(ca, [], number=4)
    elif failure == "redirect_ftp":
        route.status, route.headers = 302, {"Location": "ftp://127.0.0.1/ca.crl"}

    for n in (1, 2):
        assert src.refresh() is False
        assert src.current is good
        st = one(src)
        assert st.last_error is not None and FAILURES[failure] in st.last_error, st.last_error
        assert st.consecutive_failures == n and st.in_set and st.crls == 1
    assert good is not None and good.lookup(ca.der, 1) is not None

    if failure == "refused":
        server = CRLServer(port)
        server.routes["/ca.crl"] = route
    route.status, route.headers, route.send_length = 200, {}, True
    route.body, route.etag = make_crl(ca, [1, 2], number=7), '"new"'
    try:
        assert src.refresh() is True
        assert src.current is not None and src.current.lookup(ca.der, 2) is not None
        st = one(src)
        assert st.last_error is None and st.consecutive_failures == 0 and st.etag == '"new"'
    finally:
        if failure == "refused":
            server.close()


def test_backoff_grows_with_jitter_and_is_capped(server: CRLServer, ca: pki.Cert) -> None:
    """Consecutive failures back off exponentially (jitter in [0.5, 1]) up to backoff_max."""
    server.routes["/ca.crl"] = Route(status=500)
    src = CRLSource(urls=[server.url("/ca.crl")], cas=[ca.der], backoff_base=1.0,
                    backoff_max=4.0)  # fmt: skip
    delays = []
    for _ in range(7):
        assert src.refresh() is False
        st = one(src)
        assert st.last_attempt is not None
        delays.append(st.next_attempt - st.last_attempt)
    assert src.current is None and one(src).consecutive_failures == 7
    for n, delay in enumerate(delays, 1):
        cap = min(4.0, 2.0 ** (n - 1))
        assert cap * 0.5 - 0.05 <= delay <= cap + 0.05, (n, delays)
    assert max(delays) <= 4.05 and min(delays[2:]) >= 1.95


def test_retry_after_lengthens_the_backoff(server: CRLServer, ca: pki.Cert) -> None:
    """A Retry-After header on an error response is honoured (within backoff_max)."""
    server.routes["/ca.crl"] = Route(status=503, headers={"Retry-After": "30"})
    src = CRLSource(urls=[server.url("/ca.crl")], cas=[ca.der], backoff_base=0.1,
                    backoff_max=20.0)  # fmt: skip
    src.refresh()
    st = one(src)
    assert st.last_attempt is not None and "HTTP 503" in (st.last_error or "")
    assert 19.5 <= st.next_attempt - st.last_attempt <= 20.5


def test_background_thread_respects_backoff(server: CRLServer, ca: pki.Cert) -> None:
    """A failing URL is not hammered by the background thread while backing off."""
    server.routes["/ca.crl"] = Route(status=500)
    src = CRLSource(urls=[server.url("/ca.crl")], cas=[ca.der], min_interval=0.01,
                    poll_interval=0.01, backoff_base=30.0, backoff_max=60.0)  # fmt: skip
    with src:
        time.sleep(0.3)
        assert len(server.requests("/ca.crl")) == 1
        assert src.running and one(src).consecutive_failures == 1


def test_nothing_published_until_a_source_works(server: CRLServer, ca: pki.Cert) -> None:
    """While no source has produced CRLs, targets keep the set they had (e.g. a snapshot)."""
    store = TrustStore()
    store.add_der(ca.der, name="ca")
    preloaded = RevocationSet.build(entries=[Revocation(ca.der, 42)])
    v = Verifier(store, revocations=preloaded)
    server.routes["/ca.crl"] = Route(status=500)
    src = CRLSource(urls=[server.url("/ca.crl")], targets=[v])
    assert src.refresh() is False and src.current is None and v.revocations is preloaded
    server.routes["/ca.crl"] = Route(make_crl(ca, [43]))
    assert src.refresh() is True and v.revocations is src.current
    assert v.revocations is not None and v.revocations.lookup(ca.der, 43) is not None


def test_one_failing_source_does_not_block_the_others(server: CRLServer, ca: pki.Cert) -> None:
    """A set is published from the sources that work; the failing one is reported."""
    other = pki.ca("CRLSource Second CA")
    server.routes["/a.crl"] = Route(make_crl(ca, [1]))
    server.routes["/b.crl"] = Route(make_crl(other, [2], key=pki.make_key("p256")))
    src = CRLSource(urls=[server.url("/a.crl"), server.url("/b.crl")], cas=[ca.der, other.der])
    assert src.refresh() is True and src.current is not None
    assert src.current.lookup(ca.der, 1) is not None and src.current.lookup(other.der, 2) is None
    a, b = src.status()
    assert a.in_set and a.last_error is None
    assert not b.in_set and "signature" in (b.last_error or "") and b.crls == 0


def test_delta_crl_is_merged_and_waits_for_its_base(server: CRLServer, ca: pki.Cert) -> None:
    """A delta CRL from its own URL merges onto its base; without a base it is rejected, and a
    bad third source does not stop base and delta from being combined (bases first)."""
    server.routes["/delta.crl"] = Route(make_crl(ca, [11], number=2, delta_of=1))
    server.routes["/base.crl"] = Route(status=500)
    server.routes["/bad.crl"] = Route(make_crl(ca, [12], number=3, key=pki.make_key("p256")))
    src = CRLSource(urls=[server.url(p) for p in ("/delta.crl", "/base.crl", "/bad.crl")],
                    cas=[ca.der])  # fmt: skip
    src.refresh()
    delta, base, bad = src.status()
    assert "base" in (delta.last_error or "") and not delta.in_set
    server.routes["/base.crl"] = Route(make_crl(ca, [10], number=1))
    assert src.refresh() is True and src.current is not None
    assert src.current.lookup(ca.der, 10) and src.current.lookup(ca.der, 11)
    assert src.current.lookup(ca.der, 12) is None
    delta, base, bad = src.status()
    assert delta.in_set and base.in_set and not bad.in_set and "signature" in (bad.last_error or "")


# -- calls that never return: a hung file system, a resolver that does not answer ------------------


def _error_of(src: CRLSource, location: str) -> str | None:
    return next(st.last_error for st in src.status() if st.location == location)


def test_hung_file_system_fails_only_its_source(
    tmp_path: Path, ca: pki.Cert, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file whose stat or read never returns (a hard NFS mount that stopped answering) fails
    its own source after ``timeout`` seconds; the round goes on and publishes the others. While
    the late call has not returned, the source is not read again (no thread piles up); once it
    returns, the source is read as usual."""
    other = pki.ca("CRLSource Other CA")
    hung, fine = tmp_path / "hung.crl", tmp_path / "fine.crl"
    hung.write_bytes(make_crl(ca, [0x51]))
    fine.write_bytes(make_crl(other, [0x52]))
    release = threading.Event()
    calls: list[str] = []
    real = crlsource._stat_and_read

    def stat_and_read(path: str, old_key: object, max_bytes: int) -> Any:
        calls.append(path)
        if path == str(hung):
            release.wait(30)
        return real(path, old_key, max_bytes)

    monkeypatch.setattr(crlsource, "_stat_and_read", stat_and_read)
    src = CRLSource(files=[hung, fine], cas=[ca.der, other.der], timeout=0.3)
    started = time.monotonic()
    assert src.refresh() is True
    assert time.monotonic() - started < 5
    assert src.current is not None and src.current.lookup(other.der, 0x52) is not None
    assert "did not finish within 0.3 s" in (_error_of(src, str(hung)) or "")
    assert src.refresh() is False
    assert "has not returned" in (_error_of(src, str(hung)) or "")
    assert calls.count(str(hung)) == 1  # the stuck call was not repeated
    release.set()
    assert wait_until(lambda: src.refresh(), 10)
    assert src.current.lookup(ca.der, 0x51) is not None  # type: ignore[union-attr]
    assert _error_of(src, str(hung)) is None


def test_unanswered_dns_lookup_fails_only_its_source(
    server: CRLServer, ca: pki.Cert, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A URL whose host name the resolver never answers for fails after ``timeout`` seconds
    (getaddrinfo has no timeout of its own); the other sources are fetched and published, and
    stop() ends a background thread waiting on such a lookup at once."""
    server.routes["/ca.crl"] = Route(make_crl(ca, [0x61]))
    release = threading.Event()
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *a: Any, **k: Any) -> Any:
        if host == "crl.unanswered.example":
            release.wait(30)
        return real(host, *a, **k)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    hung_url = "http://crl.unanswered.example/ca.crl"
    src = CRLSource(urls=[hung_url, server.url("/ca.crl")], cas=[ca.der], timeout=0.3)
    started = time.monotonic()
    assert src.refresh() is True
    assert time.monotonic() - started < 5
    assert src.current is not None and src.current.lookup(ca.der, 0x61) is not None
    assert "DNS lookup of crl.unanswered.example did not finish within 0.3 s" in (
        _error_of(src, hung_url) or "")  # fmt: skip
    slow = CRLSource(urls=[hung_url], cas=[ca.der], timeout=20)
    slow.start(wait=False)
    time.sleep(0.3)  # the thread is waiting on the lookup
    started = time.monotonic()
    slow.stop(timeout=10)
    assert time.monotonic() - started < 3
    release.set()


def test_deadline_calls() -> None:
    """fastmtls._deadline: a value or the call's own exception; a call past its deadline is left
    to its helper thread; at most MAX_STUCK such helpers at once, then calls fail at once (a
    resolver that never answers cannot pile up threads), and they work again once one returns."""
    from fastmtls import _deadline

    assert _deadline.call(lambda: 42, 1.0, "answer") == 42
    with pytest.raises(KeyError):
        _deadline.call(lambda: {}["missing"], 1.0, "lookup")
    release = threading.Event()
    stuck = []
    for _ in range(_deadline.MAX_STUCK):
        with pytest.raises(_deadline.DeadlineExceeded, match=r"did not finish within 0\.05 s") as e:
            _deadline.call(lambda: release.wait(30), 0.05, "hang")
        stuck.append(e.value.done)
    started = time.monotonic()
    with pytest.raises(_deadline.DeadlineExceeded, match="earlier calls are still not answered"):
        _deadline.call(lambda: 1, 5.0, "one more")
    assert time.monotonic() - started < 1
    release.set()
    assert all(done.wait(5) for done in stuck)
    assert _deadline.call(lambda: 7, 1.0, "again") == 7
    # cancelled while waiting (CRLSource.stop() during a lookup): at once, not at the deadline
    gate = threading.Event()
    started = time.monotonic()
    with pytest.raises(_deadline.DeadlineExceeded, match="hang: stopped"):
        _deadline.call(lambda: gate.wait(30), 20.0, "hang", cancelled=lambda: True)
    assert time.monotonic() - started < 1
    gate.set()


def test_deadline_calls_in_progress_do_not_count_as_stuck() -> None:
    """Twelve slow calls at once (sources refreshing together, a resolver answering in 0.3 s),
    each within its deadline: all answer. The cap counted every call in progress, so the ninth
    failed at once with "8 earlier calls are still not answered"."""
    from fastmtls import _deadline

    results: list[object] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        try:
            value: object = _deadline.call(lambda: time.sleep(0.3) or i, 5.0, f"slow {i}")
        except Exception as exc:  # recorded: the assertion below names it
            value = exc
        with lock:
            results.append(value)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(3 * _deadline.MAX_STUCK // 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(r for r in results if isinstance(r, int)) == list(range(len(threads))), results
    assert _deadline.stuck() == 0


def test_deadline_helper_threads_are_bounded() -> None:
    """Calls all in progress at once, then all given up on together (a resolver that stops
    answering many sources at the same moment): MAX_STUCK only refuses new calls, so the
    helper threads alive at all are bounded by MAX_THREADS (30 hung calls used to leave 30)."""
    from fastmtls import _deadline

    release = threading.Event()
    errors: list[str] = []
    lock = threading.Lock()

    def one() -> None:
        try:
            _deadline.call(lambda: release.wait(30), 0.5, "hang")
        except _deadline.DeadlineExceeded as exc:
            with lock:
                errors.append(str(exc))

    n = _deadline.MAX_THREADS + 16
    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    try:
        assert len(errors) == n
        assert _deadline.stuck() <= _deadline.MAX_THREADS
        assert sum("still not answered" in e for e in errors) >= n - _deadline.MAX_THREADS
    finally:
        release.set()
    deadline = time.monotonic() + 10
    while _deadline.stuck() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _deadline.stuck() == 0 and _deadline.call(lambda: 3, 1.0, "after") == 3


# -- distribution points, CAs, targets -----------------------------------------------------------


def _with_dp(issuer: pki.Cert, name: str, *urls: str) -> pki.Cert:
    dp = x509.DistributionPoint(
        full_name=[x509.UniformResourceIdentifier(u) for u in urls],
        relative_name=None, reasons=None, crl_issuer=None)  # fmt: skip
    return pki.intermediate(issuer, name,
                            extra_extensions=[(x509.CRLDistributionPoints([dp]), False)])


def test_distribution_points_are_found_and_fetched(server: CRLServer) -> None:
    """The http(s) CRL distribution points of the CA certificates become URL sources; a CRL from
    one revokes an intermediate and a chain-checking verifier reports it."""
    root = pki.ca("DP Root CA")
    url = server.url("/root.crl")
    inter = _with_dp(root, "DP Intermediate CA", "ldap://ldap.example/cn=DP%20Root", url)
    assert distribution_points([root.der, inter.der, b"junk"]) == [url]
    server.routes["/root.crl"] = Route(make_crl(root, [inter.cert.serial_number]), etag='"r1"')

    store = TrustStore()
    store.add_der(root.der, name="root")
    v = Verifier(store, intermediates=[inter.der], revocation_check="chain")
    src = CRLSource(cas=[root.der, inter.der], use_distribution_points=True, targets=[v])
    (st,) = src.status()
    assert (st.location, st.kind, st.origin) == (url, "url", "distribution_point")
    assert src.refresh() is True and len(server.requests("/root.crl")) == 1
    assert src.current is not None
    assert src.current.lookup(root.der, inter.cert.serial_number) is not None
    leaf = real_time_leaf(inter)
    assert v.verify([leaf.der, inter.der]).revoked


def test_trust_store_changes_are_followed(server: CRLServer, ca: pki.Cert) -> None:
    """With a TrustStore as ``cas``, a CA added later validates a CRL that failed before, and
    its distribution points are added."""
    inter = _with_dp(ca, "Followed Intermediate", server.url("/ca.crl"))
    server.routes["/ca.crl"] = Route(make_crl(ca, [21]))
    server.routes["/inter.crl"] = Route(make_crl(inter, [22]))
    store = TrustStore()
    store.add_der(ca.der, name="ca")
    src = CRLSource(urls=[server.url("/inter.crl")], cas=store, use_distribution_points=True)
    assert src.refresh() is False and src.current is None
    assert "no configured CA" in (one(src).last_error or "")
    store.add_der(inter.der, name="inter")
    assert src.refresh() is True and src.current is not None
    assert [s.location for s in src.status()] == [server.url("/inter.crl"), server.url("/ca.crl")]
    assert src.current.lookup(inter.der, 22) and src.current.lookup(ca.der, 21)
    assert all(s.last_error is None and s.in_set for s in src.status())


def test_targets_are_updated_and_the_leaf_becomes_revoked(server: CRLServer, ca: pki.Cert) -> None:
    """Each new set is assigned to every target verifier (CAs taken from their stores) and
    on_update is called; a verifier then reports the leaf revoked."""
    store = TrustStore()
    store.add_der(ca.der, name="ca")
    v = Verifier(store)
    leaf = real_time_leaf(ca)
    route = Route(make_crl(ca, number=1), etag='"1"')
    server.routes["/ca.crl"] = route
    seen: list[RevocationSet] = []
    src = CRLSource(urls=[server.url("/ca.crl")], targets=[v], on_update=seen.append)
    assert src.refresh() is True
    assert v.revocations is src.current and seen == [src.current]
    res = v.verify([leaf.der])
    assert res.verified and not res.revoked

    route.body, route.etag = make_crl(ca, [leaf.cert.serial_number], number=2), '"2"'
    assert src.refresh() is True
    assert v.revocations is src.current and len(seen) == 2 and seen[-1] is src.current
    assert v.verify([leaf.der]).revoked

    v2 = Verifier(store)
    src.add_target(v2)
    assert v2.revocations is src.current and v2.verify([leaf.der]).revoked


def test_on_update_exception_does_not_stop_publication(server: CRLServer, ca: pki.Cert) -> None:
    """An exception from on_update is logged; targets still get the set."""
    store = TrustStore()
    store.add_der(ca.der, name="ca")
    v = Verifier(store)
    server.routes["/ca.crl"] = Route(make_crl(ca, [3]))

    def boom(rs: RevocationSet) -> None:
        raise RuntimeError("callback failed")

    src = CRLSource(urls=[server.url("/ca.crl")], targets=[v], on_update=boom)
    assert src.refresh() is True and v.revocations is src.current


def test_entries_are_part_of_every_set(tmp_path: Path, ca: pki.Cert) -> None:
    """Explicit entries are merged into each published set."""
    path = tmp_path / "ca.crl"
    path.write_bytes(make_crl(ca, [1]))
    src = CRLSource(files=[path], cas=[ca.der], entries=[Revocation(ca.der, 77, reason=1)])
    assert src.refresh() and src.current is not None
    assert src.current.lookup(ca.der, 1) and src.current.lookup(ca.der, 77)


# -- thread lifecycle and scheduling -------------------------------------------------------------


def test_start_stop_and_context_manager(tmp_path: Path, ca: pki.Cert) -> None:
    """start() publishes synchronously and runs a daemon thread; stop() ends it; the context
    manager does both; start(wait=False) leaves the first round to the thread."""
    path = tmp_path / "ca.crl"
    path.write_bytes(make_crl(ca))
    src = CRLSource(files=[path], cas=[ca.der], poll_interval=0.02)
    src.stop()  # stopping a source that never started is fine
    src.start()
    thread = src._thread
    assert thread is not None and thread.is_alive() and thread.daemon
    assert thread.name == "fastmtls-crlsource" and src.running and src.current is not None
    src.start()  # no-op while running
    assert src._thread is thread
    src.stop(timeout=5)
    assert not thread.is_alive() and not src.running
    assert src.current is not None  # the published set stays

    with CRLSource(files=[path], cas=[ca.der], poll_interval=0.02) as cm:
        t2 = cm._thread
        assert cm.running and t2 is not None and cm.current is not None
    assert not t2.is_alive() and not cm.running

    lazy = CRLSource(files=[path], cas=[ca.der], poll_interval=0.02)
    lazy.start(wait=False)
    try:
        assert wait_until(lambda: lazy.current is not None)
    finally:
        lazy.stop(timeout=5)
    assert not lazy.running


def test_background_thread_refreshes_before_next_update(server: CRLServer, ca: pki.Cert) -> None:
    """The thread fetches again before the CRL's nextUpdate (refresh_margin of the time left)."""
    now = datetime.now(UTC).replace(microsecond=0)
    next_update = now + timedelta(seconds=3)
    server.routes["/ca.crl"] = Route(make_crl(ca, next_update=next_update), etag='"x"')
    src = CRLSource(urls=[server.url("/ca.crl")], cas=[ca.der], min_interval=0.05,
                    max_interval=60, refresh_margin=0.5)  # fmt: skip
    with src:
        st = one(src)
        assert st.next_update == int(next_update.timestamp())
        assert st.next_attempt < next_update.timestamp()
        assert wait_until(lambda: len(server.requests("/ca.crl")) >= 2, timeout=5)
    _, second = server.requests("/ca.crl")[:2]
    assert second.at < next_update.timestamp()
    assert second.headers.get("If-None-Match") == '"x"' and second.status == 304


def test_status_reports_age_next_update_and_schedule(server: CRLServer, ca: pki.Cert) -> None:
    """status(): age from the CRL's thisUpdate, its nextUpdate, and the next attempt clamped to
    [min_interval, max_interval] before nextUpdate."""
    now = datetime.now(UTC).replace(microsecond=0)
    tu, nu = now - timedelta(seconds=100), now + timedelta(seconds=1000)
    server.routes["/ca.crl"] = Route(make_crl(ca, this_update=tu, next_update=nu))
    for max_interval, expected in ((3600.0, 900.0), (60.0, 60.0)):
        src = CRLSource(urls=[server.url("/ca.crl")], cas=[ca.der], min_interval=1.0,
                        max_interval=max_interval, refresh_margin=0.1)  # fmt: skip
        src.refresh()
        st = one(src)
        assert st.this_update == int(tu.timestamp()) and st.next_update == int(nu.timestamp())
        assert st.age is not None and 99 <= st.age <= 110
        assert st.last_success is not None and abs(st.last_success - time.time()) < 5
        assert abs(st.next_attempt - st.last_success - expected) < 5
        assert not st.expired and st.last_error is None


def test_configuration_errors(ca: pki.Cert) -> None:
    """Bad URLs (scheme), intervals, margins, sizes and targets are refused up front."""
    cas = [ca.der]
    bad: list[dict[str, Any]] = [
        {"urls": ["ftp://example.com/ca.crl"], "cas": cas},
        {"urls": ["file:///etc/ca.crl"], "cas": cas},
        {"urls": ["http:///nohost"], "cas": cas},
        {"urls": ["http://example.com/ca.crl"]},  # no cas, and no targets to take them from
        {"min_interval": 0},
        {"min_interval": 10, "max_interval": 5},
        {"refresh_margin": 1.0},
        {"max_bytes": 0},
        {"backoff_base": 10, "backoff_max": 1},
        {"targets": [object()]},
        {"cas": b"not a list"},
        {"entries": [Revocation(b"not a certificate", 1)]},
    ]
    for kw in bad:
        with pytest.raises(ConfigurationError):
            CRLSource(**kw)


# ---- review fixes: deadlines, callbacks, CRL series ------------------------------------------


@pytest.fixture()
def trickling_server(ca: pki.Cert) -> Iterator[str]:
    """A URL whose server sends headers, then its CRL one byte every 0.2 s: each byte restarts
    a per-read socket timeout, so only an overall deadline ends the fetch."""
    body = make_crl(ca)

    def trickle(conn: socket.socket, done: threading.Event) -> None:
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body))
        for b in body:
            if done.wait(0.2):
                return
            conn.sendall(bytes([b]))

    yield from _raw_server(trickle)


def _raw_server(answer: Callable[[socket.socket, threading.Event], None]) -> Iterator[str]:
    """A fixture's body: a listening socket on 127.0.0.1 whose connections ``answer(conn,
    done)`` handles on a thread each (an OSError there: the client gave up); yields the URL
    /c.crl on it, and stops (``done`` set) when the test ends."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(8)
    lsock.settimeout(0.2)
    done = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            try:
                answer(conn, done)
            except OSError:
                pass

    def accept() -> None:
        while not done.is_set():
            try:
                conn, _ = lsock.accept()
            except OSError:
                continue
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{lsock.getsockname()[1]}/c.crl"
    done.set()
    t.join(5)
    lsock.close()


def test_trickling_server_is_abandoned_at_the_deadline(trickling_server: str, ca: pki.Cert) -> None:
    """The fetch ends after 4 x timeout however the server trickles, with a clear error."""
    src = CRLSource(urls=[trickling_server], cas=[ca.der], timeout=0.25)
    t0 = time.monotonic()
    assert src.refresh() is False
    assert time.monotonic() - t0 < 3.0  # deadline 1 s
    error = src.status()[0].last_error
    assert error is not None and "abandoned" in error


def test_stop_abandons_the_background_fetch(trickling_server: str, ca: pki.Cert) -> None:
    """stop() does not wait for a slow fetch to reach its deadline (here 40 s)."""
    src = CRLSource(urls=[trickling_server], cas=[ca.der], timeout=10)
    src.start(wait=False)
    time.sleep(0.6)  # the thread is inside the fetch
    _assert_stops_within(src, 3.0)


def _assert_stops_within(src: CRLSource, seconds: float) -> None:
    t0 = time.monotonic()
    src.stop(timeout=10)
    assert time.monotonic() - t0 < seconds
    assert not src.running


def test_stop_does_not_wait_behind_a_refresh_elsewhere(
    trickling_server: str, ca: pki.Cert
) -> None:
    """The background thread waiting for its round while a refresh() in another thread fetches
    (here a slow fetch with a 4 s deadline: 4 x timeout) ends as soon as stop() is called:
    stop() used to wait until that refresh() finished."""
    src = CRLSource(urls=[trickling_server], cas=[ca.der], timeout=1)
    refresher = threading.Thread(target=src.refresh)
    refresher.start()
    time.sleep(0.4)  # the refresh() is inside the fetch, holding the round
    src.start(wait=False)
    time.sleep(0.4)  # the thread waits for the round
    _assert_stops_within(src, 1.5)
    refresher.join(10)
    assert not refresher.is_alive()


def test_on_update_may_stop_the_source(tmp_path: Path, ca: pki.Cert) -> None:
    """on_update runs without the round lock: calling stop() from it, in a refresh() on
    another thread while the background thread waits for its next round, returns."""
    f = tmp_path / "a.crl"
    f.write_bytes(make_crl(ca, [1], number=1))
    armed = threading.Event()

    def on_update(rs: RevocationSet) -> None:
        if armed.is_set():
            time.sleep(0.7)  # the background thread (polling every 0.5 s) becomes due meanwhile
            src.stop(timeout=10)

    src = CRLSource(files=[f], cas=[ca.der], on_update=on_update, poll_interval=0.5,
                    min_interval=0.5)  # fmt: skip
    src.start()
    armed.set()
    f.write_bytes(make_crl(ca, [1, 2], number=2))
    done = threading.Event()
    threading.Thread(target=lambda: (src.refresh(), done.set()), daemon=True).start()
    assert done.wait(10), "refresh() deadlocked with stop() in on_update"
    assert not src.running


def _pem_crl(der: bytes) -> bytes:
    return x509.load_der_x509_crl(der).public_bytes(Encoding.PEM)


@pytest.mark.parametrize("series", ["partitions", "re-keyed CA"])
def test_independent_crl_series_under_one_issuer_name_update(
    server: CRLServer, series: str
) -> None:
    """One URL serving two CRL series under the same issuer name, whose numbers are independent
    (RFC 5280 5.2.3 numbers per issuer and scope): two IDP partitions, or the old and the new
    key of a re-keyed CA (told apart by the keys that verify them). Both moving on is
    an update, not a replay of the series with the higher numbers."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    when = {"this_update": now - timedelta(minutes=1), "next_update": now + timedelta(days=1)}
    if series == "partitions":
        ca_a = ca_b = pki.ca("Partitioned CA")
        kw_a = {"issuing_dp": crls.idp("all", uri="http://crl.example/a.crl")}
        kw_b = {"issuing_dp": crls.idp("all", uri="http://crl.example/b.crl")}
    else:
        ca_a, ca_b = pki.ca("Re-keyed CA"), pki.ca("Re-keyed CA")
        kw_a = kw_b = {}

    def bundle(n_a: int, n_b: int, revoked_b: Sequence[int] = ()) -> bytes:
        return (_pem_crl(crls.crl(ca_a, [], number=n_a, **kw_a, **when))  # type: ignore[arg-type]
                + _pem_crl(crls.crl(ca_b, revoked_b, number=n_b, **kw_b, **when)))  # type: ignore[arg-type]  # fmt: skip

    cas = list(dict.fromkeys([ca_a.der, ca_b.der]))
    server.routes["/c.pem"] = Route(body=bundle(500, 3))
    src = CRLSource(urls=[server.url("/c.pem")], cas=cas)
    assert src.refresh() and src.status()[0].last_error is None
    server.routes["/c.pem"] = Route(body=bundle(501, 4, [42]))
    assert src.refresh(), src.status()[0].last_error
    assert src.current is not None and src.current.lookup(ca_b.der, 42) is not None
    server.routes["/c.pem"] = Route(body=bundle(501, 3))  # the b series going back: a replay
    assert not src.refresh()
    error = src.status()[0].last_error
    assert error is not None and "older than the one held" in error


# ---- a server that leaves CRLs out, and other hostile sources (acceptance audit) -------------


@pytest.mark.parametrize("attack", ["other-ca", "base-without-delta", "delta-url-serves-base"])
def test_a_response_leaving_a_held_crl_out_is_refused(
    server: CRLServer, ca: pki.Cert, attack: str
) -> None:
    """A server cannot take revocations back by leaving a CRL out of its response: another CA's
    valid CRL in place of the one held, a base CRL without the delta it was served with, or a
    delta URL answering with the (older-numbered) base. Each kept the last good set only when the
    held series was in the new response too; now each is a failure."""
    other = pki.ca("Other Series CA")
    base10 = make_crl(ca, [1], number=10, pem=True)
    delta12 = make_crl(ca, [99], number=12, delta_of=10, pem=True)
    urls = {"base-without-delta": ["/bundle.pem"], "delta-url-serves-base": ["/b.crl", "/d.crl"],
            "other-ca": ["/ca.crl"]}[attack]  # fmt: skip
    server.routes.update({"/bundle.pem": Route(base10 + delta12), "/b.crl": Route(base10),
                          "/d.crl": Route(delta12), "/ca.crl": Route(base10 + delta12)})
    src = CRLSource(urls=[server.url(u) for u in urls], cas=[ca.der, other.der])
    assert src.refresh() is True and src.current is not None
    assert src.current.lookup(ca.der, 99) is not None
    served = {"other-ca": ("/ca.crl", make_crl(other, [5])),
              "base-without-delta": ("/bundle.pem", base10),
              "delta-url-serves-base": ("/d.crl", base10)}[attack]  # fmt: skip
    server.routes[served[0]] = Route(served[1])
    assert src.refresh() is False
    assert src.current.lookup(ca.der, 99) is not None  # still revoked
    errors = [s.last_error for s in src.status() if s.last_error]
    assert len(errors) == 1 and "no longer has the" in errors[0]


def test_a_newer_base_may_replace_a_held_delta_and_a_rekeyed_ca_its_old_series(
    server: CRLServer,
) -> None:
    """What legitimately leaves a series out still passes: a base numbered at least as high as
    the held delta (it includes the delta's changes), and a CA re-keyed (its CRLs under the new
    key, newer than those of the old one; the old key's last CRL stays beside them, for the
    certificates that key issued)."""
    old_key = pki.make_key("p256")
    ca_old = pki.issue(subject="Rekeyed CA", key=old_key, ca=True,
                       key_usage=["key_cert_sign", "crl_sign"])  # fmt: skip
    now = datetime.now(UTC).replace(microsecond=0)
    nu = now + timedelta(days=1)

    def crl(issuer: pki.Cert, revoked: list[int], number: int, age_h: int, **kw: Any) -> bytes:
        return _pem_crl(crls.crl(issuer, revoked, number=number, next_update=nu,
                                 this_update=now - timedelta(hours=age_h), **kw))  # fmt: skip

    server.routes["/c.crl"] = Route(crl(ca_old, [1], 10, 3) + crl(ca_old, [99], 12, 2, base=10))
    ca_new = pki.issue(subject="Rekeyed CA", ca=True, key_usage=["key_cert_sign", "crl_sign"])
    src = CRLSource(urls=[server.url("/c.crl")], cas=[ca_old.der, ca_new.der])
    assert src.refresh() is True
    server.routes["/c.crl"] = Route(crl(ca_old, [1, 99], 13, 1))
    assert src.refresh() is True and src.status()[0].last_error is None
    server.routes["/c.crl"] = Route(crl(ca_new, [7], 1, 0))  # CRL numbers start again
    assert src.refresh() is True and src.status()[0].last_error is None
    assert src.current is not None and src.current.lookup(ca_new.der, 7) is not None
    # the new key's CRL says nothing about the old key's certificates: its last CRL stays
    assert src.current.lookup(ca_old.der, 99) is not None
    assert (src.status()[0].crls, src.status()[0].carried) == (1, 1)
    server.routes["/c.crl"] = Route(crl(ca_new, [7, 8], 2, 0))
    assert src.refresh() is True and src.current.lookup(ca_new.der, 8) is not None
    assert src.current.lookup(ca_old.der, 99) is not None
    server.routes["/c.crl"] = Route(crl(ca_new, [7, 8], 3, 0) + crl(ca_old, [1], 12, 0))
    assert src.refresh() is False  # and the old key's series cannot go back either
    assert "older than the one held" in (src.status()[0].last_error or "")
    assert src.current.lookup(ca_old.der, 99) is not None


@pytest.mark.parametrize("aki", [True, False])
def test_a_same_named_cas_crl_served_in_place_does_not_take_revocations_back(
    server: CRLServer, aki: bool
) -> None:
    """A URL serving CA A's CRL that then serves the valid CRL of CA B, another CA (tenant) of
    the same name with its own key, must not drop A's revocations: the set applies B's CRL to
    B's certificates only. The replay check used to tell series apart by the key identifier the
    CRL claims, took B's CRL for A's re-keyed series and let it replace A's (found by review).
    Without key identifiers, B's higher CRL number passed the number comparison too."""
    now = datetime.now(UTC).replace(microsecond=0)
    ca_a, ca_b = pki.ca("Shared Tenant CA"), pki.ca("Shared Tenant CA")

    def crl(issuer: pki.Cert, revoked: list[int], number: int, age_h: int) -> bytes:
        return crls.crl(issuer, revoked, number=number, aki=aki,
                        next_update=now + timedelta(days=1),
                        this_update=now - timedelta(hours=age_h))  # fmt: skip

    leaf = real_time_leaf(ca_a)
    server.routes["/a.crl"] = Route(crl(ca_a, [leaf.cert.serial_number], 10, 3))
    store = TrustStore()
    store.add_der(ca_a.der, name="tenant-a")
    store.add_der(ca_b.der, name="tenant-b")
    verifier = Verifier(store, revoked="fail")
    src = CRLSource(urls=[server.url("/a.crl")], cas=[ca_a.der, ca_b.der], targets=[verifier])
    assert src.refresh() is True
    assert verifier.verify([leaf.der]).status == "FAILED:certificate revoked"
    server.routes["/a.crl"] = Route(crl(ca_b, [], 11, 1))
    assert src.refresh() is True  # B's CRL is taken (beside A's) ...
    assert src.current is not None and src.current.lookup(ca_b.der, leaf.cert.serial_number) is None
    assert verifier.verify([leaf.der]).status == "FAILED:certificate revoked"  # ... A's stays
    server.routes["/a.crl"] = Route(crl(ca_b, [], 12, 0) + crl(ca_a, [], 9, 0))
    assert src.refresh() is False  # and A's series cannot be replayed back beside it
    assert verifier.verify([leaf.der]).status == "FAILED:certificate revoked"


def test_stop_while_the_fetch_sets_up_its_deadline(
    trickling_server: str, ca: pki.Cert, monkeypatch: pytest.MonkeyPatch
) -> None:
    """stop() landing between the thread's last stop check and the fetch registering its
    deadline (widened here) still abandons the fetch at once, and leaves no error: the source did
    not fail, it was stopped. stop() used to wait for the deadline (4 x timeout)."""
    import fastmtls.crlsource as cs

    real_init = cs._Watch.__init__
    entered = threading.Event()

    def slow_init(self: Any, seconds: float) -> None:
        entered.set()
        time.sleep(0.5)
        real_init(self, seconds)

    monkeypatch.setattr(cs._Watch, "__init__", slow_init)
    src = CRLSource(urls=[trickling_server], cas=[ca.der], timeout=5)
    src.start(wait=False)
    assert entered.wait(5)
    t0 = time.monotonic()
    src.stop(timeout=30)
    assert time.monotonic() - t0 < 3.0 and not src.running
    assert src.status()[0].last_error is None and src.status()[0].consecutive_failures == 0


def test_a_fifo_is_not_read(tmp_path: Path, ca: pki.Cert) -> None:
    """A FIFO (or a device) as a CRL file is refused: opening it would block the round, and
    every other source with it, forever."""
    good, fifo = tmp_path / "good.crl", tmp_path / "fifo.crl"
    good.write_bytes(make_crl(ca, [1]))
    os.mkfifo(fifo)
    src = CRLSource(files=[good, fifo], cas=[ca.der])
    done = threading.Event()
    threading.Thread(target=lambda: (src.refresh(), done.set()), daemon=True).start()
    assert done.wait(10), "the round blocked on the FIFO"
    assert src.current is not None and src.current.lookup(ca.der, 1) is not None
    assert "not a regular file" in (src.status()[1].last_error or "")


def test_add_target_does_not_wait_for_a_round(trickling_server: str, tmp_path: Path,
                                              ca: pki.Cert) -> None:  # fmt: skip
    """add_target() hands over the current set at once, while a round is stuck in a slow fetch
    (it used to wait for the whole round)."""
    f = tmp_path / "a.crl"
    f.write_bytes(make_crl(ca, [1]))
    src = CRLSource(files=[f], urls=[trickling_server], cas=[ca.der], timeout=1)
    src.refresh()
    round_done = threading.Event()
    threading.Thread(target=lambda: (src.refresh(), round_done.set()), daemon=True).start()
    time.sleep(0.3)  # inside the trickling fetch (deadline 4 s)
    v = Verifier(TrustStore())
    t0 = time.monotonic()
    src.add_target(v)
    assert time.monotonic() - t0 < 1.0 and not round_done.is_set()
    assert v.revocations is src.current
    assert round_done.wait(10)


def test_a_torn_pem_file_keeps_the_last_good_set(tmp_path: Path, ca: pki.Cert) -> None:
    """A PEM bundle read while being rewritten (its last block without its END line) is an
    error, not a bundle with one CRL fewer: the CRL it lost was silently dropped before."""
    other = pki.ca("Torn Bundle CA")
    f = tmp_path / "bundle.pem"
    whole = make_crl(ca, [1], pem=True) + make_crl(other, [2], pem=True)
    f.write_bytes(whole)
    src = CRLSource(files=[f], cas=[ca.der, other.der])
    assert src.refresh() is True
    f.write_bytes(whole[: len(whole) - 40])
    assert src.refresh() is False
    assert src.current is not None and src.current.lookup(other.der, 2) is not None
    assert "no END line" in (src.status()[0].last_error or "")


def test_distribution_points_skip_what_they_cannot_read(ca: pki.Cert) -> None:
    """A CA certificate whose distribution point is not a URL urllib can split, or that has a
    duplicated extension, is skipped; the other certificates' points still count, and the
    constructor does not raise."""
    good = _with_dp(ca, "Good DP CA", "http://127.0.0.1:9/good.crl")
    bad_uri = _with_dp(ca, "Bad DP CA", "http://[bad/x.crl", "http://127.0.0.1:9/also.crl")
    assert distribution_points([bad_uri.der, good.der]) == [
        "http://127.0.0.1:9/also.crl", "http://127.0.0.1:9/good.crl"]
    CRLSource(cas=[bad_uri.der, good.der], use_distribution_points=True)


def test_retry_after_with_a_non_ascii_digit() -> None:
    """Retry-After: "²" (a digit to str.isdigit) is no delay, not an unexpected error."""
    from email.message import Message

    from fastmtls.crlsource import _retry_after

    m = Message()
    m["Retry-After"] = "²"
    assert _retry_after(m) is None
    m.replace_header("Retry-After", "120")
    assert _retry_after(m) == 120.0


def test_one_bad_source_among_many_costs_linear_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the set of every source does not build (one source turned bad), each base-only source
    is checked alone: the CRLs handed to builds grow with the number of sources, not with its
    square (each source used to be built with everything accepted before it)."""
    cas = [pki.ca(f"Linear CA {i}") for i in range(30)]
    files = [tmp_path / f"{i}.crl" for i in range(30)]
    for ca_, f in zip(cas, files):
        f.write_bytes(make_crl(ca_, [1]))
    src = CRLSource(files=files, cas=[c.der for c in cas])
    assert src.refresh() is True
    files[0].write_bytes(make_crl(cas[0], [1, 2], number=2, key=pki.make_key("p256")))
    handed: list[int] = []
    real_build = CRLSource._build

    def counting_build(self: CRLSource, ders: Sequence[bytes], cas_: Sequence[bytes]) -> Any:
        handed.append(len(ders))
        return real_build(self, ders, cas_)

    monkeypatch.setattr(CRLSource, "_build", counting_build)
    src.refresh()  # file 0 rejected: its held CRL stays in the set with the rest (unchanged)
    assert "signature" in (src.status()[0].last_error or "")
    assert src.current is not None and src.current.lookup(cas[0].der, 1) is not None
    assert sum(handed) <= 4 * len(files), handed  # quadratic: ~ 30 + 30 * 31 / 2


# ---- second review: stop() mid-round, stale validators, moved distribution points, helper
# threads, redirects, connect deadlines, on_update order -----------------------------------------


def test_a_file_read_in_a_round_that_stop_abandons_is_read_again(
    tmp_path: Path, trickling_server: str, ca: pki.Cert
) -> None:
    """The background round reads a changed file, then stop() abandons it during a slow fetch:
    the next round reads the file again and publishes its CRL. Its stat used to be recorded as
    read, so the change was never loaded (and the source reported healthy)."""
    f = tmp_path / "a.crl"
    f.write_bytes(make_crl(ca, [1], number=1))
    src = CRLSource(files=[f], urls=[trickling_server], cas=[ca.der], timeout=0.25)
    assert src.refresh() is True  # the file; the URL is abandoned at its 1 s deadline
    f.write_bytes(make_crl(ca, [1, 2], number=2))
    src.start(wait=False)
    time.sleep(0.4)  # the thread has read the file and is inside the trickling fetch
    src.stop(timeout=10)
    assert src.current is not None and src.current.lookup(ca.der, 2) is None  # not published
    assert src.refresh() is True
    assert src.current.lookup(ca.der, 2) is not None
    assert _error_of(src, str(f)) is None


def test_an_expired_crl_is_fetched_without_validators(server: CRLServer, ca: pki.Cert) -> None:
    """While the CRL held is current, requests are conditional; once it is past its nextUpdate
    they are not, so a server whose Last-Modified did not change with its CRL (a new CRL within
    the same second) cannot keep the expired one in use with 304s for ever. A 304 to a request
    without validators is an error, not a confirmation."""
    now = datetime.now(UTC).replace(microsecond=0)
    lm = time.time()
    server.routes["/c.crl"] = Route(
        make_crl(ca, [1], number=1, next_update=now + timedelta(seconds=2)), last_modified=lm)
    src = CRLSource(urls=[server.url("/c.crl")], cas=[ca.der])
    assert src.refresh() is True
    server.routes["/c.crl"] = Route(make_crl(ca, [1, 2], number=2), last_modified=lm)
    assert src.refresh() is False  # 304: the CRL held is still current
    assert server.requests("/c.crl")[-1].status == 304
    assert wait_until(lambda: one(src).expired, 5)
    server.routes["/c.crl"] = Route(status=304)  # a server answering 304 whatever it is asked
    assert src.refresh() is False
    assert "If-Modified-Since" not in server.requests("/c.crl")[-1].headers
    assert "HTTP 304" in (one(src).last_error or "")
    assert src.current is not None and src.current.lookup(ca.der, 1) is not None  # kept
    server.routes["/c.crl"] = Route(make_crl(ca, [1, 2], number=2), last_modified=lm)
    assert src.refresh() is True
    assert server.requests("/c.crl")[-1].status == 200
    assert src.current.lookup(ca.der, 2) is not None
    assert one(src).last_error is None and not one(src).expired


@pytest.mark.parametrize("new_point", ["newer", "older"])
def test_a_moved_distribution_point_keeps_the_crl_in_force(server: CRLServer,
                                                            new_point: str) -> None:  # fmt: skip
    """A renewed CA certificate names another distribution point, not served yet: the old
    point's CRL stays in the set (a revoked leaf stays revoked), its source is retired (still
    fetched) until the new point serves a CRL at least as recent of the same issuer; one that
    serves an older CRL does not replace it. Removing the CA that named it, and its issuer,
    drops it."""
    root = pki.ca(f"Moved DP Root {new_point}")
    leaf = real_time_leaf(root)
    old_url, new_url = server.url("/old.crl"), server.url("/new.crl")
    server.routes["/old.crl"] = Route(make_crl(root, [leaf.cert.serial_number], number=5))
    store = TrustStore()
    store.add_der(root.der, name="root")
    store.add_der(_with_dp(root, "Moved DP CA", old_url).der, name="inter")
    v = Verifier(store)
    src = CRLSource(cas=store, use_distribution_points=True, targets=[v])
    assert src.refresh() is True and v.verify([leaf.der]).revoked
    store.remove("inter")
    store.add_der(_with_dp(root, "Moved DP CA", new_url).der, name="inter")
    old_hits = len(server.requests("/old.crl"))
    src.refresh()  # the new point answers 404
    assert v.verify([leaf.der]).revoked
    by_url = {st.location: st for st in src.status()}
    assert by_url[old_url].retired and by_url[old_url].in_set
    assert not by_url[new_url].retired and "404" in (by_url[new_url].last_error or "")
    number = 6 if new_point == "newer" else 4
    server.routes["/new.crl"] = Route(make_crl(root, [leaf.cert.serial_number], number=number))
    src.refresh()
    src.refresh()  # the round after the new point is in the set drops the retired one
    assert v.verify([leaf.der]).revoked
    locations = [st.location for st in src.status()]
    assert locations == ([new_url] if new_point == "newer" else [old_url, new_url])
    assert len(server.requests("/old.crl")) > old_hits  # a retired point is still fetched
    store.remove("inter")
    store.remove("root")
    src.refresh()
    src.refresh()
    assert [st.location for st in src.status()] == []


def test_a_name_the_resolver_never_answers_holds_one_helper_thread(
    tmp_path: Path, ca: pki.Cert, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Retrying a host name whose lookup never returns does not look it up again while the
    first lookup is out: one helper thread, not one per retry, so after many retries file reads
    (which share the helpers' bound) still work."""
    from fastmtls import _deadline

    release = threading.Event()
    lookups: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *a: Any, **k: Any) -> Any:
        if host == "crl.never-answers.example":
            lookups.append(host)
            release.wait(30)
        return real(host, *a, **k)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    f = tmp_path / "a.crl"
    f.write_bytes(make_crl(ca, [1], number=1))
    url = "http://crl.never-answers.example/a.crl"
    src = CRLSource(files=[f], urls=[url], cas=[ca.der], timeout=0.1)
    for _ in range(2 * _deadline.MAX_STUCK):
        src.refresh()
    assert lookups == ["crl.never-answers.example"]
    assert "earlier lookup has not returned" in (_error_of(src, url) or "")
    f.write_bytes(make_crl(ca, [1, 2], number=2))
    assert src.refresh() is True
    assert src.current is not None and src.current.lookup(ca.der, 2) is not None
    release.set()
    assert wait_until(lambda: src.refresh() or len(lookups) > 1, 5)  # looked up again


def test_stop_during_start_abandons_its_round_and_starts_no_thread(
    trickling_server: str, ca: pki.Cert
) -> None:
    """stop() while start() runs its first round synchronously ends that round's fetch at once,
    and start() then starts no background thread (it used to start one after stop() returned)."""
    src = CRLSource(urls=[trickling_server], cas=[ca.der], timeout=10)
    starter = threading.Thread(target=src.start, daemon=True)
    starter.start()
    time.sleep(0.5)  # start() is inside the fetch (its deadline: 40 s)
    t0 = time.monotonic()
    src.stop(timeout=10)
    starter.join(10)
    assert not starter.is_alive() and time.monotonic() - t0 < 3.0
    assert not src.running
    assert one(src).last_error is None  # stopped, not failed


@pytest.fixture()
def redirecting_server(ca: pki.Cert) -> Iterator[str]:
    """A URL answering ``302`` to /elsewhere.crl with a body that never ends, and the CRL there."""
    body = make_crl(ca, [0x77])

    def answer(conn: socket.socket, done: threading.Event) -> None:
        if conn.recv(65536).startswith(b"GET /elsewhere.crl "):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            return
        conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: /elsewhere.crl\r\n"
                     b"Content-Length: 4000000000\r\n\r\n")  # fmt: skip
        block = bytes(1 << 16)
        while not done.is_set():
            conn.sendall(block)

    yield from _raw_server(answer)


def test_a_redirect_body_is_not_read(redirecting_server: str, ca: pki.Cert) -> None:
    """The body of a redirect response is never read (urllib reads it whole, without bound,
    before following): the redirect is followed at once and its target's CRL loaded."""
    src = CRLSource(urls=[redirecting_server], cas=[ca.der], timeout=2, max_bytes=1 << 20)
    t0 = time.monotonic()
    assert src.refresh() is True, one(src).last_error
    assert time.monotonic() - t0 < 4.0  # reading the endless body would run to the 8 s deadline
    assert src.current is not None and src.current.lookup(ca.der, 0x77) is not None


def test_connects_to_many_addresses_share_the_fetch_deadline(
    ca: pki.Cert, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name with 8 addresses that never answer a connect: the fetch ends at its deadline
    (4 x timeout), not after 8 x timeout: each connect gets at most the time left; stop()
    ends a background fetch within one connect attempt."""
    def getaddrinfo(host: Any, port: Any, *a: Any, **k: Any) -> Any:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (f"192.0.2.{i}", port))
                for i in range(1, 9)]  # fmt: skip

    waits: list[float] = []

    def create_connection(address: Any, timeout: Any = None, *a: Any, **k: Any) -> Any:
        waits.append(float(timeout))
        time.sleep(float(timeout))  # a SYN that is never answered
        raise TimeoutError("timed out")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    src = CRLSource(urls=["http://crl.many-addresses.example/c.crl"], cas=[ca.der], timeout=0.4)
    t0 = time.monotonic()
    assert src.refresh() is False
    assert time.monotonic() - t0 < 2.5  # deadline 1.6 s; 8 x 0.4 = 3.2 s before
    assert all(w <= 0.4 for w in waits) and sum(waits) <= 1.6 + 0.05, waits
    assert "abandoned" in (one(src).last_error or "")
    src.start(wait=False)
    time.sleep(0.2)
    t0 = time.monotonic()
    src.stop(timeout=10)
    assert time.monotonic() - t0 < 1.0 and not src.running


def test_on_update_is_called_one_at_a_time_in_publication_order(
    tmp_path: Path, ca: pki.Cert
) -> None:
    """Two rounds on two threads publish one after the other while the first set's callback is
    slow: the callbacks never overlap, and the last set announced is the current one (the older
    set used to be announced last)."""
    f = tmp_path / "a.crl"
    f.write_bytes(make_crl(ca, [1], number=1))
    announced: list[RevocationSet] = []
    running = [0]
    overlap = []
    first = threading.Event()

    def on_update(rs: RevocationSet) -> None:
        running[0] += 1
        overlap.append(running[0] > 1)
        if rs.lookup(ca.der, 2) is None:
            first.set()
            time.sleep(0.5)
        announced.append(rs)
        running[0] -= 1

    src = CRLSource(files=[f], cas=[ca.der], on_update=on_update)
    a = threading.Thread(target=src.refresh, daemon=True)
    a.start()
    assert first.wait(5)  # round A published and is inside the slow callback
    f.write_bytes(make_crl(ca, [1, 2], number=2))
    assert src.refresh() is True
    a.join(5)
    assert not any(overlap)
    assert src.current is not None and announced[-1] is src.current
    assert [rs.lookup(ca.der, 2) is not None for rs in announced] == [False, True]


def test_a_moved_distribution_point_serving_ahead_keeps_the_crl_in_force(
    server: CRLServer,
) -> None:
    """The new distribution point serves a newer CRL issued a few seconds ahead (thisUpdate in
    the future): the retired point's CRL in force stays in the set until then, so
    expired_crl="deny" never sees only a CRL not yet valid (it did for one round)."""
    root = pki.ca("Ahead DP Root")
    leaf = real_time_leaf(root)
    old_url, new_url = server.url("/old-a.crl"), server.url("/new-a.crl")
    server.routes["/old-a.crl"] = Route(make_crl(root, [], number=5))
    store = TrustStore()
    store.add_der(root.der, name="root")
    store.add_der(_with_dp(root, "Ahead DP CA", old_url).der, name="inter")
    v = Verifier(store, expired_crl="deny", revocation_check="chain")
    src = CRLSource(cas=store, use_distribution_points=True, targets=[v])
    assert src.refresh() is True
    store.remove("inter")
    store.add_der(_with_dp(root, "Ahead DP CA", new_url).der, name="inter")
    ahead = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
    server.routes["/new-a.crl"] = Route(make_crl(root, [], number=6, this_update=ahead))
    chain = [leaf.der]
    for _ in range(3):
        src.refresh()
        assert v.verify(chain, host=None).status == "SUCCESS"
    assert any(st.retired for st in src.status())
    assert wait_until(lambda: (src.refresh() or True) and not any(
        st.retired for st in src.status()), 8)  # fmt: skip
    assert v.verify(chain).status == "SUCCESS"


# -- content refused beside other sources, transient read errors, expired content -------------


@pytest.mark.parametrize("background", [False, True], ids=["refresh", "thread"])
def test_a_refused_delta_file_is_read_again_when_its_base_arrives(
    tmp_path: Path, ca: pki.Cert, background: bool
) -> None:
    """Base and delta in two files; the publisher writes the new delta (needing base 3) before
    the new base. The round that sees the delta alone refuses it; once the base file changes,
    the delta file (whose stat did not change) is read again and merged."""
    base, delta = tmp_path / "base.crl", tmp_path / "delta.crl"
    base.write_bytes(make_crl(ca, [1], number=1))
    delta.write_bytes(make_crl(ca, [2], number=2, delta_of=1))
    src = CRLSource(files=[base, delta], cas=[ca.der], poll_interval=0.05, min_interval=0.05)
    assert src.refresh() is True
    delta.write_bytes(make_crl(ca, [0x99], number=4, delta_of=3))
    src.refresh()
    assert "base" in (_error_of(src, str(delta)) or "")
    base.write_bytes(make_crl(ca, [1, 2], number=3))
    if background:
        src.start()
        try:
            assert wait_until(lambda: src.current is not None and
                              src.current.lookup(ca.der, 0x99) is not None)  # fmt: skip
        finally:
            src.stop()
    else:
        src.refresh()
        src.refresh()
        assert src.current is not None and src.current.lookup(ca.der, 0x99) is not None
    assert all(st.last_error is None for st in src.status())


def test_a_file_that_cannot_be_opened_for_a_while_is_read_once_it_can(
    tmp_path: Path, ca: pki.Cert, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read that fails after the stat succeeded (out of file descriptors, EACCES until a chmod:
    neither changes the stat) is no verdict on the new content: once the condition clears, the
    next round reads it."""
    path = tmp_path / "ca.crl"
    path.write_bytes(make_crl(ca, [1], number=1))
    src = CRLSource(files=[path], cas=[ca.der])
    assert src.refresh() is True
    path.write_bytes(make_crl(ca, [1, 0x66], number=2))
    real_open = open

    def no_fds(file: Any, *args: Any, **kw: Any) -> Any:
        if str(file) == str(path):
            raise OSError(24, "Too many open files")
        return real_open(file, *args, **kw)

    monkeypatch.setattr("builtins.open", no_fds)
    assert src.refresh() is False
    assert "Too many open files" in (one(src).last_error or "")
    assert src.refresh() is False and one(src).consecutive_failures == 1  # the same failure
    monkeypatch.undo()
    assert src.refresh() is True
    assert src.current is not None and src.current.lookup(ca.der, 0x66) is not None
    assert one(src).last_error is None


@pytest.mark.parametrize("kind", ["url", "file"])
def test_an_expired_crl_served_again_is_a_failure(
    server: CRLServer, tmp_path: Path, ca: pki.Cert, kind: str
) -> None:
    """A source that keeps serving a CRL past its nextUpdate (or serves one already expired) has
    no current CRL: the set keeps it, but the status says so (last_error, failures, no new
    last_success) and a URL is retried with back-off, until a current CRL arrives."""
    now = datetime.now(UTC).replace(microsecond=0)
    stale = make_crl(ca, [1], number=1, this_update=now - timedelta(days=2),
                     next_update=now - timedelta(days=1))  # fmt: skip
    path = tmp_path / "c.crl"
    if kind == "url":
        server.routes["/c.crl"] = Route(stale)
        src = CRLSource(urls=[server.url("/c.crl")], cas=[ca.der])
    else:
        path.write_bytes(stale)
        src = CRLSource(files=[path], cas=[ca.der])
    assert src.refresh() is True  # used: the expired_crl policy decides what it is worth
    st = one(src)
    assert st.expired and st.in_set and "expired" in (st.last_error or "")
    assert st.consecutive_failures == 1 and st.last_success is None
    src.refresh()  # served again, unchanged
    assert "expired" in (one(src).last_error or "") and one(src).last_success is None
    if kind == "url":
        assert one(src).consecutive_failures == 2
        assert one(src).next_attempt is not None
    fresh = make_crl(ca, [1, 2], number=2)
    if kind == "url":
        server.routes["/c.crl"] = Route(fresh)
    else:
        path.write_bytes(fresh)
    assert src.refresh() is True
    st = one(src)
    assert st.last_error is None and st.consecutive_failures == 0 and not st.expired
    assert st.last_success is not None


def test_crls_published_faster_than_they_come_into_force_each_take_effect(
    tmp_path: Path, ca: pki.Cert
) -> None:
    """A CA whose clock runs ahead publishes CRL 2 and, before that one is in force, CRL 3. Each
    takes effect at its own thisUpdate: CRL 2 is not dropped for CRL 3 (the set used to stay on
    CRL 1, past its nextUpdate, while the status described CRL 3); the status describes the CRL
    in force."""
    now = datetime.now(UTC).replace(microsecond=0)
    path = tmp_path / "ca.crl"
    path.write_bytes(make_crl(ca, [1], number=1, this_update=now - timedelta(seconds=10)))
    src = CRLSource(files=[path], cas=[ca.der], poll_interval=60)
    assert src.refresh() is True
    t2, t3 = now + timedelta(seconds=3), now + timedelta(seconds=5)
    path.write_bytes(make_crl(ca, [1, 2], number=2, this_update=t2))
    os.utime(path, (time.time() + 1, time.time() + 1))
    src.refresh()
    path.write_bytes(make_crl(ca, [1, 2, 3], number=3, this_update=t3))
    os.utime(path, (time.time() + 2, time.time() + 2))
    src.refresh()

    def revoked(serial: int) -> bool:
        return src.current is not None and src.current.lookup(ca.der, serial) is not None

    assert revoked(1) and not revoked(2)
    st = one(src)
    assert st.this_update == int((now - timedelta(seconds=10)).timestamp()) and st.age >= 0
    assert wait_until(lambda: datetime.now(UTC) >= t2 + timedelta(seconds=1), 10)
    assert src.refresh() is True
    assert revoked(2) and not revoked(3)  # CRL 2, in force, though CRL 3 replaced it
    st = one(src)
    assert st.this_update == int(t2.timestamp()) and st.age is not None and st.age >= 0
    assert wait_until(lambda: datetime.now(UTC) >= t3 + timedelta(seconds=1), 10)
    assert src.refresh() is True
    assert revoked(3)
    assert one(src).this_update == int(t3.timestamp()) and src.refresh() is False


def test_a_file_rewritten_within_its_mtime_grain_is_read_again(
    tmp_path: Path, ca: pki.Cert, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file rewritten in place, same size, within the grain of its mtime (a second on some file
    systems and NFS) keeps its whole stat: a stat read while the mtime was that recent is not
    trusted, so the next poll reads the file again and finds the new CRL."""
    path = tmp_path / "ca.crl"
    first = make_crl(ca, [0x10], number=1)
    second = make_crl(ca, [0x20], number=2)
    while len(second) != len(first):  # ECDSA signatures vary in length: one of the same size
        second = make_crl(ca, [0x20], number=2)
    path.write_bytes(first)
    src = CRLSource(files=[path], cas=[ca.der])
    assert src.refresh() is True
    before = os.stat(path)
    with open(path, "r+b") as fh:  # in place: the same inode
        fh.write(second)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # the same mtime, to the ns
    st = os.stat(path)
    assert (st.st_mtime_ns, st.st_size, st.st_ino) == (before.st_mtime_ns, before.st_size,
                                                       before.st_ino)  # fmt: skip
    assert src.refresh() is True
    assert src.current is not None and src.current.lookup(ca.der, 0x20) is not None
    old = time.time() - 60  # once the mtime is old, an unchanged stat is trusted: no re-read
    os.utime(path, (old, old))
    src.refresh()
    reads = _opens(path, monkeypatch)
    assert src.refresh() is False
    assert reads == []


def test_a_refused_url_keeps_its_backoff_while_other_sources_change(
    server: CRLServer, tmp_path: Path, ca: pki.Cert
) -> None:
    """A URL whose CRL the build refuses (another CA's) is not fetched again each time a file
    source changes: it keeps its back-off (only refused files are read again at once)."""
    other = pki.ca("Unconfigured CA")
    server.routes["/bad.crl"] = Route(make_crl(other, [5], number=1))
    path = tmp_path / "ca.crl"
    path.write_bytes(make_crl(ca, [1], number=1))
    src = CRLSource(files=[path], urls=[server.url("/bad.crl")], cas=[ca.der], poll_interval=0.1,
                    min_interval=0.1, backoff_base=60, backoff_max=600)  # fmt: skip
    src.start()
    try:
        assert wait_until(lambda: len(server.requests("/bad.crl")) >= 1)
        first = len(server.requests("/bad.crl"))
        for k in range(2, 7):
            path.write_bytes(make_crl(ca, [1, k], number=k))
            assert wait_until(lambda k=k: src.current is not None and  # type: ignore[misc]
                              src.current.lookup(ca.der, k) is not None)  # fmt: skip
        assert len(server.requests("/bad.crl")) == first
    finally:
        src.stop()


def _opens(path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A list that records every open() of ``path`` from now on."""
    seen: list[str] = []
    real_open = open

    def counting(file: Any, *args: Any, **kw: Any) -> Any:
        if str(file) == str(path):
            seen.append(str(file))
        return real_open(file, *args, **kw)

    monkeypatch.setattr("builtins.open", counting)
    return seen


def test_a_file_dated_in_the_future_settles(
    tmp_path: Path, ca: pki.Cert, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file whose mtime is well ahead of the clock (cp -p from a skewed host) is read once,
    not on every poll: only an mtime within 2 s of now is not trusted."""
    path = tmp_path / "ca.crl"
    path.write_bytes(make_crl(ca, [1], number=1))
    ahead = time.time() + 3600
    os.utime(path, (ahead, ahead))
    src = CRLSource(files=[path], cas=[ca.der])
    assert src.refresh() is True
    opens = _opens(path, monkeypatch)
    for _ in range(3):
        assert src.refresh() is False
    assert opens == []


def test_refused_content_read_again_soon_after_its_write_is_one_failure(
    tmp_path: Path, ca: pki.Cert
) -> None:
    """A file read within 2 s of its write is read again at the next poll; when its content was
    refused (another CA's CRL) and nothing changed since, that read is no second failure."""
    path = tmp_path / "ca.crl"
    path.write_bytes(make_crl(ca, [1], number=1))
    src = CRLSource(files=[path], cas=[ca.der])
    assert src.refresh() is True
    path.write_bytes(make_crl(pki.ca("Unconfigured CA"), [5], number=2))
    os.utime(path, (time.time() + 5, time.time() + 5))  # a new stat, however coarse the clock
    src.refresh()
    assert one(src).consecutive_failures == 1 and one(src).last_error
    now = time.time()
    os.utime(path, (now, now))  # within the 2 s: read again at the next poll
    src.refresh()
    src.refresh()
    assert one(src).consecutive_failures == 1


def test_accept_older_follows_a_ca_whose_crl_numbers_started_again(
    server: CRLServer, ca: pki.Cert
) -> None:
    """A URL that serves an older CRL (number 1 after 5) is refused as a replay, the held CRL
    kept; accept_older(url) takes the next one, once: a replay after it is refused again. An
    unknown location is a ConfigurationError."""
    url = server.url("/c.crl")
    server.routes["/c.crl"] = Route(make_crl(ca, [0x50], number=5))
    src = CRLSource(urls=[url], cas=[ca.der])
    assert src.refresh() is True
    server.routes["/c.crl"] = Route(make_crl(ca, [0x01], number=1))
    assert src.refresh() is False
    assert "older" in (one(src).last_error or "")
    assert src.current is not None and src.current.lookup(ca.der, 0x50) is not None
    assert src.accept_older(url) is True
    assert src.current.lookup(ca.der, 0x01) is not None and src.current.lookup(ca.der, 0x50) is None
    assert one(src).last_error is None
    server.routes["/c.crl"] = Route(make_crl(ca, [0x02], number=2))
    assert src.refresh() is True
    server.routes["/c.crl"] = Route(make_crl(ca, [], number=1))  # a replay again: refused
    assert src.refresh() is False and "older" in (one(src).last_error or "")
    with pytest.raises(ConfigurationError, match="no CRL source"):
        src.accept_older("http://127.0.0.1:1/other.crl")


def test_a_crl_file_refused_for_want_of_its_ca_is_taken_once_the_ca_is_added(
    tmp_path: Path, ca: pki.Cert
) -> None:
    """A file CRL of a CA the store does not hold yet is refused; once the CA is added, the next
    round reads it again and takes it (the same bytes that failed are not skipped as known)."""
    other = pki.ca("Later CA")
    store = TrustStore()
    store.add_der(ca.der, name="ca")
    path = tmp_path / "later.crl"
    path.write_bytes(make_crl(other, [0x77], number=1))
    src = CRLSource(files=[path], cas=store)
    src.refresh()
    assert one(src).last_error and src.current is None
    store.add_der(other.der, name="later")
    assert src.refresh() is True
    assert src.current is not None and src.current.lookup(other.der, 0x77) is not None


def test_accept_older_is_armed_for_its_round_only(server: CRLServer, ca: pki.Cert) -> None:
    """accept_older() whose fetch fails takes nothing and leaves nothing armed: a replay served
    afterwards is refused as before."""
    url = server.url("/c.crl")
    server.routes["/c.crl"] = Route(make_crl(ca, [0x50], number=5))
    src = CRLSource(urls=[url], cas=[ca.der])
    assert src.refresh() is True
    server.routes["/c.crl"] = Route(status=503)
    assert src.accept_older(url) is False
    server.routes["/c.crl"] = Route(make_crl(ca, [0x01], number=1))
    assert src.refresh() is False and "older" in (one(src).last_error or "")
    assert src.current is not None and src.current.lookup(ca.der, 0x50) is not None


def test_static_cas_are_checked_at_construction(tmp_path: Path, ca: pki.Cert) -> None:
    """cas= given as certificates is checked when the source is made: garbled PEM or bytes that
    are no certificate raise ConfigurationError then (they failed every build before); PEM text
    and DER both work."""
    path = tmp_path / "ca.crl"
    path.write_bytes(make_crl(ca, [3]))
    garbled = "-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n"
    for bad in ([b"not a certificate"], [garbled], [ca.der[:-10]]):
        with pytest.raises(ConfigurationError):
            CRLSource(files=[path], cas=bad)
    for good in ([ca.der], [ca.cert.public_bytes(Encoding.PEM).decode()],
                 [ca.cert.public_bytes(Encoding.PEM)]):  # fmt: skip
        src = CRLSource(files=[path], cas=good)
        assert src.refresh() is True and src.current is not None
        assert src.current.lookup(ca.der, 3) is not None


# ---- CRLs carried beside a URL's content (a re-keyed or same-named CA; found by review) -------


def _crl_now(issuer: pki.Cert, revoked: Sequence[int], number: int, age_h: int = 0,
             valid_s: int = 86_400) -> bytes:  # fmt: skip
    now = datetime.now(UTC).replace(microsecond=0)
    return crls.crl(issuer, revoked, number=number, this_update=now - timedelta(hours=age_h),
                    next_update=now + timedelta(seconds=valid_s))  # fmt: skip


def test_a_carried_crl_whose_ca_goes_leaves_the_content_in_the_set(server: CRLServer) -> None:
    """A URL that served CA A's CRL now serves B's (same name, another key): A's is carried
    beside it. Removing A from the store (the end of a re-key) must not take the URL's own
    content out of the set: the carried CRL is left out of the build, B's revocations stay.
    Carried CRLs used to be part of the content, which then no longer built at all."""
    store, v, (ca_a, ca_b) = _tenants("Shared Tenant CA", "Shared Tenant CA")
    leaf_a, leaf_b = real_time_leaf(ca_a, "a"), real_time_leaf(ca_b, "b")
    server.routes["/x.crl"] = Route(_crl_now(ca_a, [leaf_a.cert.serial_number], 10, 3))
    src = CRLSource(urls=[server.url("/x.crl")], cas=store, targets=[v])
    assert src.refresh()
    server.routes["/x.crl"] = Route(_crl_now(ca_b, [leaf_b.cert.serial_number], 11, 1))
    assert src.refresh() and src.status()[0].carried == 1
    for leaf in (leaf_a, leaf_b):
        assert v.verify([leaf.der]).status == "FAILED:certificate revoked"
    store.remove("ca0")
    for _ in range(2):
        src.refresh()
        st = src.status()[0]
        assert st.in_set and st.last_error is None, st
        assert v.verify([leaf_b.der]).status == "FAILED:certificate revoked"


def test_held_crls_keep_their_replay_protection_while_their_ca_is_away(
    server: CRLServer,
) -> None:
    """While CA A is out of the store (a tenant disabled, a remove then add outside batch()),
    the URL serving A's CRL #10 may serve only another CA's CRL: A's CRL is carried (not
    refused: it revokes nothing meanwhile), and once A is back an older A CRL replayed beside
    the other one is refused as a replay. Held CRLs were re-checked against the CAs of the
    moment, so A's series was no longer held and #5 was taken."""
    store, v, (ca_a, ca_c) = _tenants("Tenant A CA", "Tenant C CA")
    leaf = real_time_leaf(ca_a)
    server.routes["/x.crl"] = Route(_crl_now(ca_a, [leaf.cert.serial_number], 10, 3))
    src = CRLSource(urls=[server.url("/x.crl")], cas=store, targets=[v])
    assert src.refresh() and v.verify([leaf.der]).status == "FAILED:certificate revoked"
    store.remove("ca0")
    server.routes["/x.crl"] = Route(_crl_now(ca_c, [], 3, 1))
    src.refresh()
    assert src.status()[0].carried == 1
    store.add_der(ca_a.der, name="ca0")
    src.refresh()
    assert v.verify([leaf.der]).status == "FAILED:certificate revoked"
    server.routes["/x.crl"] = Route(_pem_crl(_crl_now(ca_a, [], 5, 10))
                                    + _pem_crl(_crl_now(ca_c, [], 4)))  # fmt: skip
    assert src.refresh() is False
    assert "older than the one held" in (src.status()[0].last_error or "")
    assert v.verify([leaf.der]).status == "FAILED:certificate revoked"


def test_a_carried_crl_is_not_the_sources_own(server: CRLServer) -> None:
    """A carried CRL stays out of the URL's crls, this_update and next_update, and of its
    conditional requests: once it passes its nextUpdate (while another source holds a newer
    CRL of its series) the URL that carries it does not report that expiry as its own (a
    failure on every fetch, unconditional requests, as a first version did)."""
    ca_old, ca_new = pki.ca("Rekeyed CA"), pki.ca("Rekeyed CA")
    server.routes["/x.crl"] = Route(_crl_now(ca_old, [1], 10, 1, valid_s=3), etag='"old10"')
    server.routes["/old.crl"] = Route(status=404)
    src = CRLSource(urls=[server.url("/x.crl"), server.url("/old.crl")],
                    cas=[ca_old.der, ca_new.der])  # fmt: skip
    assert src.refresh()
    server.routes["/x.crl"] = Route(_crl_now(ca_new, [7], 1), etag='"new1"')
    assert src.refresh()
    x = src.status()[0]
    assert (x.crls, x.carried) == (1, 1) and x.next_update is not None
    assert x.next_update > time.time() + 3600  # the served CRL's, not the carried one's
    server.routes["/old.crl"] = Route(_crl_now(ca_old, [1, 2], 11), etag='"old11"')
    time.sleep(3.5)  # the carried CRL #10 passes its nextUpdate
    for _ in range(2):
        src.refresh()
    x = src.status()[0]
    assert (x.carried, x.last_error, x.consecutive_failures) == (1, None, 0), x
    assert src.current is not None and src.current.lookup(ca_old.der, 2) is not None
    assert "If-None-Match" in server.requests("/x.crl")[-1].headers


def _tenants(*names: str) -> tuple[TrustStore, Verifier, list[pki.Cert]]:
    """A store with a CA per name (same names make same-named CAs), and a strict verifier."""
    cas = [pki.ca(n) for n in names]
    store = TrustStore()
    for i, c in enumerate(cas):
        store.add_der(c.der, name=f"ca{i}")
    return store, Verifier(store, revoked="fail"), cas


REVOKED = "FAILED:certificate revoked"


@dataclass
class _CarriedAhead:
    """_carried_ahead's scene: A's base #10 and delta d13 (issued ``ahead`` seconds ahead) were
    served, then another same-named CA B's CRL: A's series are carried."""

    src: CRLSource
    verifier: Verifier
    leaf: pki.Cert
    content: bytes  # A's base #10 and d13, PEM
    d13_at: float  # d13's thisUpdate (unix seconds)


def _carried_ahead(server: CRLServer, ahead: int) -> _CarriedAhead:
    """The URL serves A's base #10 with delta d12 in force (revoking the leaf), then base #10
    with d13 issued ``ahead`` seconds ahead (d12 kept beside it), then B's CRL; the leaf stays
    revoked throughout."""
    store, v, (ca_a, ca_b) = _tenants("Shared Tenant CA", "Shared Tenant CA")
    leaf = real_time_leaf(ca_a)
    now = datetime.now(UTC).replace(microsecond=0)
    serial = leaf.cert.serial_number
    base10 = _crl_now(ca_a, [], 10, 3)
    d12 = crls.crl(ca_a, [serial], number=12, base=10, this_update=now - timedelta(hours=1),
                   next_update=now + timedelta(days=1))  # fmt: skip
    d13 = crls.crl(ca_a, [serial], number=13, base=10, this_update=now + timedelta(seconds=ahead),
                   next_update=now + timedelta(days=1))  # fmt: skip
    content = _pem_crl(base10) + _pem_crl(d13)
    server.routes["/x.crl"] = Route(_pem_crl(base10) + _pem_crl(d12))
    src = CRLSource(urls=[server.url("/x.crl")], cas=store, targets=[v])
    for body in (content, _crl_now(ca_b, [], 3, 1)):
        assert src.refresh() and v.verify([leaf.der]).status == REVOKED
        server.routes["/x.crl"] = Route(body)
    assert src.refresh() and v.verify([leaf.der]).status == REVOKED
    return _CarriedAhead(src, v, leaf, content, now.timestamp() + ahead)


def test_a_carried_series_keeps_its_crl_in_force_beside_one_issued_for_later(
    server: CRLServer,
) -> None:
    """The URL held A's base and a delta issued a little ahead, with the delta in force kept
    beside it; it then serves another key's CRL. The carried series keeps the delta in force
    too (carrying only the newest left no delta in force), and the set is rebuilt when the
    later delta comes into force."""
    scene = _carried_ahead(server, 3)
    assert scene.src.status()[0].carried == 3  # base #10, d12 in force, d13 issued for later
    time.sleep(max(0.0, scene.d13_at + 0.5 - time.time()))
    assert scene.src.refresh()  # d13 came into force: rebuilt
    assert scene.verifier.verify([scene.leaf.der]).status == REVOKED


def test_a_carried_series_served_again_ahead_keeps_its_crl_in_force(server: CRLServer) -> None:
    """A's series were carried (the URL served another same-named CA's CRL); the URL then serves
    A's base and a delta issued a little ahead again: the carried delta in force stays until
    the new one comes into force (the revocation disappeared until then; found by review)."""
    scene = _carried_ahead(server, 30)
    server.routes["/x.crl"] = Route(scene.content)
    assert scene.src.refresh()
    assert scene.verifier.verify([scene.leaf.der]).status == REVOKED  # d12, beside d13


def test_a_carried_delta_is_built_with_the_base_of_another_source(
    server: CRLServer, tmp_path: Path
) -> None:
    """A freshest-CRL URL whose delta (its base in a file) is carried beside another key's
    CRL: when the all-at-once build fails (here the URL serves a CRL no configured CA signs),
    the source is built with the bases, not alone, so its held content stays in the set."""
    store, v, (ca_a, ca_b) = _tenants("Shared Tenant CA", "Shared Tenant CA")
    la, lb = real_time_leaf(ca_a, "la"), real_time_leaf(ca_b, "lb")
    now = datetime.now(UTC).replace(microsecond=0)
    base = tmp_path / "base.crl"
    base.write_bytes(_crl_now(ca_a, [], 10, 3))
    d12 = crls.crl(ca_a, [la.cert.serial_number], number=12, base=10,
                   this_update=now - timedelta(hours=1), next_update=now + timedelta(days=1))
    server.routes["/delta.crl"] = Route(d12)
    src = CRLSource(files=[base], urls=[server.url("/delta.crl")], cas=store, targets=[v])
    assert src.refresh()
    server.routes["/delta.crl"] = Route(_crl_now(ca_b, [lb.cert.serial_number], 3, 1))
    assert src.refresh() and src.status()[1].carried == 1
    server.routes["/delta.crl"] = Route(_crl_now(pki.ca("Stranger CA"), [], 1, 1))
    assert src.refresh() is False
    st = src.status()[1]
    assert st.in_set and "no configured CA" in (st.last_error or "")
    assert v.verify([la.der]).status == REVOKED and v.verify([lb.der]).status == REVOKED


def test_removing_one_ca_keeps_the_others_crls_of_a_bundle(server: CRLServer) -> None:
    """A URL serving the CRLs of CAs A and C in one response: removing C from the store takes
    C's CRL out of the set, not A's beside it. A new response that still has C's CRL, signed by
    the key C's held CRLs were signed with, is taken whole (C's with its replay check, unused
    while C is away): A's new revocations apply; such a response used to be refused until the
    URL left C's CRL out. C configured again: its newest CRL is in force at once."""
    store, v, (ca_a, ca_c) = _tenants("Tenant A CA", "Tenant C CA")
    la, la2 = real_time_leaf(ca_a, "a"), real_time_leaf(ca_a, "a2")
    lc = real_time_leaf(ca_c, "c")
    server.routes["/all.crl"] = Route(_pem_crl(_crl_now(ca_a, [la.cert.serial_number], 10, 1))
                                      + _pem_crl(_crl_now(ca_c, [], 4, 1)))  # fmt: skip
    src = CRLSource(urls=[server.url("/all.crl")], cas=store, targets=[v])
    assert src.refresh() and v.verify([la.der]).status == REVOKED
    store.remove("ca1")
    src.refresh()
    assert src.status()[0].in_set and v.verify([la.der]).status == REVOKED
    server.routes["/all.crl"] = Route(
        _pem_crl(_crl_now(ca_a, [la.cert.serial_number, la2.cert.serial_number], 11))
        + _pem_crl(_crl_now(ca_c, [lc.cert.serial_number], 5)))  # fmt: skip
    assert src.refresh() is True
    st = src.status()[0]
    assert st.in_set and st.last_error is None and st.crls == 1, st  # C's held, not in the set
    assert v.verify([la2.der]).status == REVOKED and v.verify([la.der]).status == REVOKED
    # C's CRL replayed while C is away: refused as older than the one held, A's kept
    server.routes["/all.crl"] = Route(
        _pem_crl(_crl_now(ca_a, [la.cert.serial_number, la2.cert.serial_number], 12))
        + _pem_crl(_crl_now(ca_c, [], 3, 2)))  # fmt: skip
    assert src.refresh() is False
    assert "older than the one held" in (src.status()[0].last_error or "")
    store.add_der(ca_c.der, name="ca1")  # C back: its held CRL #5 is in the set at once
    src.refresh()
    assert v.verify([lc.der]).status == REVOKED and v.verify([la2.der]).status == REVOKED


def test_bundle_with_a_configured_cas_crl_that_does_not_verify_is_refused(tmp_path: Path) -> None:
    """A bundle file in which one CRL names a configured CA but verifies under none of its keys
    (corrupted, substituted, or signed by a re-keyed CA not configured yet) is refused whole and
    its last good CRLs stay: that CA's CRL must not silently disappear from the set."""
    store, v, (ca_a, ca_b) = _tenants("Bundle A CA", "Bundle B CA")
    la, lb = real_time_leaf(ca_a, "a"), real_time_leaf(ca_b, "b")
    path = tmp_path / "bundle.pem"
    path.write_bytes(_pem_crl(_crl_now(ca_a, [la.cert.serial_number], 1, 1))
                     + _pem_crl(_crl_now(ca_b, [lb.cert.serial_number], 1, 1)))  # fmt: skip
    src = CRLSource(files=[path], cas=store, targets=[v])
    assert src.refresh() and v.verify([lb.der]).status == REVOKED
    now = datetime.now(UTC).replace(microsecond=0)
    forged = crls.crl(ca_b, [], number=2, this_update=now, next_update=now + timedelta(days=1),
                      key=pki.make_key("p256"))  # fmt: skip
    path.write_bytes(_pem_crl(_crl_now(ca_a, [la.cert.serial_number], 2)) + _pem_crl(forged))
    os.utime(path, (time.time() + 2, time.time() + 2))
    assert src.refresh() is False
    assert "signature" in (src.status()[0].last_error or "")
    assert v.verify([lb.der]).status == REVOKED and v.verify([la.der]).status == REVOKED


def test_file_bundle_keeps_its_other_cas_current_after_a_ca_is_removed(tmp_path: Path) -> None:
    """An nginx-style bundle file still carrying the CRL of a CA removed from the store (the job
    writing it not updated yet): the other CAs' new CRLs are taken (it used to be refused whole
    until the CRL was left out). A file of nothing but the removed CA's CRLs is refused, its
    issuer named; so is a CRL of that issuer that its held key does not verify."""
    store, v, (ca_a, ca_c) = _tenants("File A CA", "File C CA")
    la, la2, lc = (real_time_leaf(ca_a, "a"), real_time_leaf(ca_a, "a2"),
                   real_time_leaf(ca_c, "c"))  # fmt: skip
    path = tmp_path / "bundle.pem"
    path.write_bytes(_pem_crl(_crl_now(ca_a, [la.cert.serial_number], 1, 1))
                     + _pem_crl(_crl_now(ca_c, [], 1, 1)))  # fmt: skip
    src = CRLSource(files=[path], cas=store, targets=[v])
    assert src.refresh() and v.verify([la.der]).status == REVOKED
    store.remove("ca1")
    src.refresh()  # the set without C's CRL
    a2 = _pem_crl(_crl_now(ca_a, [la.cert.serial_number, la2.cert.serial_number], 2))
    path.write_bytes(a2 + _pem_crl(_crl_now(ca_c, [lc.cert.serial_number], 2)))
    os.utime(path, (time.time() + 2, time.time() + 2))
    assert src.refresh() is True
    assert v.verify([la2.der]).status == REVOKED and src.status()[0].last_error is None
    now = datetime.now(UTC).replace(microsecond=0)
    forged = crls.crl(ca_c, [], number=3, this_update=now, next_update=now + timedelta(days=1),
                      key=pki.make_key("p256"))  # fmt: skip
    path.write_bytes(a2 + _pem_crl(forged))
    os.utime(path, (time.time() + 4, time.time() + 4))
    assert src.refresh() is False
    assert "CN=File C CA" in (src.status()[0].last_error or "")
    store.add_der(ca_c.der, name="ca1")  # C back: its CRL #2 held is in force
    src.refresh()
    assert v.verify([lc.der]).status == REVOKED
    store.remove("ca1")
    src.refresh()
    path.write_bytes(_pem_crl(_crl_now(ca_c, [], 5)))  # only C's CRL, C away: refused
    os.utime(path, (time.time() + 6, time.time() + 6))
    assert src.refresh() is False
    err = src.status()[0].last_error or ""
    assert "no configured CA" in err and "CN=File C CA" in err, err
    assert v.verify([la2.der]).status == REVOKED
    only_c = tmp_path / "c-only.pem"
    only_c.write_bytes(_pem_crl(_crl_now(ca_c, [], 4)))
    src2 = CRLSource(files=[only_c], cas=store)
    src2.refresh()
    err = src2.status()[0].last_error or ""
    assert "no configured CA" in err and "CN=File C CA" in err, err


def test_a_removed_cas_expired_crl_in_a_bundle_does_not_fail_the_source(tmp_path: Path) -> None:
    """A bundle still carrying the last CRL of a CA removed from the store, past its nextUpdate:
    the source's status describes the CRLs in the set only (it reported "its CRL expired" and
    counted a failure every round; found by review)."""
    store, v, (ca_a, ca_c) = _tenants("Expired A CA", "Expired C CA")
    path = tmp_path / "bundle.pem"
    path.write_bytes(_pem_crl(_crl_now(ca_a, [], 1, 1)) + _pem_crl(_crl_now(ca_c, [], 1, 1)))
    src = CRLSource(files=[path], cas=store, targets=[v])
    assert src.refresh()
    store.remove("ca1")
    path.write_bytes(_pem_crl(_crl_now(ca_a, [], 2))
                     + _pem_crl(_crl_now(ca_c, [], 2, 2, valid_s=-60)))  # fmt: skip
    os.utime(path, (time.time() + 2, time.time() + 2))
    assert src.refresh() is True
    st = src.status()[0]
    assert st.last_error is None and st.consecutive_failures == 0 and st.crls == 1, st
    assert not st.expired and st.next_update is not None


def test_bundle_with_a_crl_of_an_unconfigured_issuer_keeps_the_verifiers_set(
    tmp_path: Path,
) -> None:
    """A CRL of an issuer no configured CA is named as (here an intermediate the verifier knows
    but the source was not given) refuses the whole file, naming its issuer: nothing is
    published over the set the verifier has, whose revocation stays."""
    store, _, (ca_a,) = _tenants("Never A CA")
    inter = pki.intermediate(ca_a, "Never Issuing CA")
    li = real_time_leaf(inter, "i")
    start = RevocationSet.build([_crl_now(inter, [li.cert.serial_number], 1, 1)], cas=[inter.der])
    v = Verifier(store, intermediates=[inter.der], revocations=start, revoked="fail")
    assert v.verify([li.der]).status == REVOKED
    path = tmp_path / "bundle.pem"
    path.write_bytes(_pem_crl(_crl_now(ca_a, [], 1, 1))
                     + _pem_crl(_crl_now(inter, [li.cert.serial_number], 2, 1)))  # fmt: skip
    src = CRLSource(files=[path], cas=store, targets=[v])
    assert src.refresh() is False
    err = src.status()[0].last_error or ""
    assert "no configured CA" in err and "CN=Never Issuing CA" in err, err
    assert v.verify([li.der]).status == REVOKED


def test_accept_older_does_not_lift_the_check_of_carried_series(server: CRLServer) -> None:
    """accept_older() takes the next CRLs of a source whose own series restarted; a series the
    source carries keeps its replay check: an older CRL of that key served beside them is
    refused (it would have replaced the carried one)."""
    store, v, (ca_a, ca_b) = _tenants("Shared Tenant CA", "Shared Tenant CA")
    la = real_time_leaf(ca_a)
    server.routes["/x.crl"] = Route(_crl_now(ca_a, [la.cert.serial_number], 10, 3))
    src = CRLSource(urls=[server.url("/x.crl")], cas=store, targets=[v])
    assert src.refresh()
    server.routes["/x.crl"] = Route(_crl_now(ca_b, [], 30, 1))
    assert src.refresh() and src.status()[0].carried == 1
    server.routes["/x.crl"] = Route(_pem_crl(_crl_now(ca_b, [], 1))
                                    + _pem_crl(_crl_now(ca_a, [], 5, 20)))  # fmt: skip
    assert src.accept_older(server.url("/x.crl")) is False
    assert "older than the one held" in (src.status()[0].last_error or "")
    assert v.verify([la.der]).status == REVOKED
    server.routes["/x.crl"] = Route(_crl_now(ca_b, [], 1))  # B's restart alone: taken
    assert src.accept_older(server.url("/x.crl")) is True
    assert v.verify([la.der]).status == REVOKED


def test_a_retired_point_carrying_only_a_removed_cas_crl_is_dropped(server: CRLServer) -> None:
    """A distribution point whose CA was removed (retired) and that now serves another
    same-named CA's CRL, carrying the removed CA's: the carried CRL of a key no configured CA
    has keeps nothing in the set, so the retired point is dropped (it was fetched for ever)."""
    root = pki.ca("DP Root R")
    ca_a = _with_dp(root, "Shared Tenant CA", server.url("/dp.crl"))
    ca_b = pki.intermediate(root, "Shared Tenant CA")
    store = TrustStore()
    for name, c in (("root", root), ("a", ca_a), ("b", ca_b)):
        store.add_der(c.der, name=name)
    server.routes["/dp.crl"] = Route(_crl_now(ca_a, [1], 10, 3))
    server.routes["/b.crl"] = Route(_crl_now(ca_b, [2], 3, 1))
    src = CRLSource(urls=[server.url("/b.crl")], cas=store, use_distribution_points=True)
    assert src.refresh()
    server.routes["/dp.crl"] = Route(_crl_now(ca_b, [2], 3, 1))
    src.refresh()
    store.remove("a")
    for _ in range(3):
        src.refresh()
    assert [st.location for st in src.status()] == [server.url("/b.crl")]


def test_a_distribution_point_pruned_and_named_again_keeps_what_it_held(
    server: CRLServer,
) -> None:
    """A distribution point whose CA is removed is pruned; when the CA is added again, the
    point starts with the CRLs it held: an older CRL it serves then is refused as a replay, and
    the last good one stays in use (the point started without history, and took the replay;
    found by review)."""
    root = pki.ca("DP Pruned Root")
    ca_a = _with_dp(root, "DP Pruned CA", server.url("/dp.crl"))
    leaf = real_time_leaf(ca_a)
    store = TrustStore()
    store.add_der(root.der, name="root")
    store.add_der(ca_a.der, name="a")
    v = Verifier(store, revoked="fail")
    server.routes["/dp.crl"] = Route(_crl_now(ca_a, [leaf.cert.serial_number], 10, 3))
    src = CRLSource(cas=store, use_distribution_points=True, targets=[v])
    assert src.refresh() and v.verify([leaf.der]).status == REVOKED
    store.remove("a")
    src.refresh()
    assert src.status() == []
    store.add_der(ca_a.der, name="a")
    server.routes["/dp.crl"] = Route(_crl_now(ca_a, [], 5, 30))
    src.refresh()
    st = src.status()[0]
    assert "older than the one held" in (st.last_error or "") and st.in_set, st
    assert v.verify([leaf.der]).status == REVOKED


def test_a_source_whose_crls_all_lost_their_ca_is_out_of_the_set(server: CRLServer) -> None:
    """A URL serving only A's CRL, A removed: the CRL is left out of the set, and the status
    says so (in_set False, an error naming the CRLs left out) instead of in_set True and no
    error (found by review)."""
    store, v, (ca_a,) = _tenants("Lone Tenant CA")
    server.routes["/a.crl"] = Route(_crl_now(ca_a, [1], 10, 1))
    src = CRLSource(urls=[server.url("/a.crl")], cas=store, targets=[v])
    assert src.refresh()
    store.remove("ca0")
    src.refresh()
    st = src.status()[0]
    assert not st.in_set and "left out of the set" in (st.last_error or ""), st
    assert src.current is not None and src.current.issuers() == []


def test_an_older_crl_written_to_a_file_is_refused(tmp_path: Path) -> None:
    """A CRL file overwritten with an older CRL of the same series (a job writing a stale copy,
    a restored backup) is refused as a URL's would be, and accept_older(path) takes it; a file
    may leave a CRL out (the operator edits it). Files used to be trusted as written, while the
    docs promised the replay check for every source (found by review)."""
    store, v, (ca_a, ca_c) = _tenants("File A CA", "File C CA")
    leaf = real_time_leaf(ca_a)
    path = tmp_path / "all.crl"
    path.write_bytes(_pem_crl(_crl_now(ca_a, [leaf.cert.serial_number], 5, 1))
                     + _pem_crl(_crl_now(ca_c, [], 2, 1)))  # fmt: skip
    src = CRLSource(files=[path], cas=store, targets=[v])
    assert src.refresh() and v.verify([leaf.der]).status == REVOKED
    path.write_bytes(_crl_now(ca_a, [leaf.cert.serial_number], 6))  # C's CRL left out: taken
    assert src.refresh() and one(src).last_error is None
    path.write_bytes(_crl_now(ca_a, [], 3, 2))  # older: refused
    assert src.refresh() is False
    assert "older than the one held" in (one(src).last_error or "")
    assert v.verify([leaf.der]).status == REVOKED
    assert src.accept_older(path) is True
    assert v.verify([leaf.der]).status == "SUCCESS"


@pytest.mark.parametrize("kind", ["file", "url"])
def test_an_older_unnumbered_crl_is_refused(server: CRLServer, tmp_path: Path, kind: str) -> None:
    """CRLs without a cRLNumber (v1 CRLs) rank by thisUpdate: an older one of the same series
    (a replay, from before a revocation) is refused from a file or a URL, and a newer one
    replaces it (no test held this branch: every test CRL was numbered; found by mutation
    review)."""
    ca = pki.ca("Unnumbered CRL CA")
    leaf = real_time_leaf(ca)
    now = datetime.now(UTC).replace(microsecond=0)
    sn = leaf.cert.serial_number
    held = make_crl(ca, [sn], number=None, this_update=now - timedelta(hours=1))
    older = make_crl(ca, [], number=None, this_update=now - timedelta(days=2))
    newer = make_crl(ca, [], number=None, this_update=now - timedelta(minutes=1))
    path = tmp_path / "ca.crl"

    def serve(body: bytes) -> None:
        if kind == "file":
            path.write_bytes(body)
        else:
            server.routes["/ca.crl"] = Route(body)

    serve(held)
    src = CRLSource(**({"files": [path]} if kind == "file" else {"urls": [server.url("/ca.crl")]}),
                    cas=[ca.der])  # fmt: skip
    assert src.refresh() and src.current is not None and src.current.lookup(ca.der, sn)
    serve(older)
    assert src.refresh() is False
    assert "older than the one held" in (one(src).last_error or "")
    assert src.current.lookup(ca.der, sn) is not None
    serve(newer)
    assert src.refresh() and src.current.lookup(ca.der, sn) is None


def test_a_base_at_least_as_recent_replaces_a_held_unnumbered_delta_only_if_newer(
    server: CRLServer,
) -> None:
    """A URL held a base and a delta; its next response has a base only, without a cRLNumber:
    it stands for the delta only when issued at least as late (an older base lacks what the
    delta said: refused as leaving the delta out)."""
    ca = pki.ca("Unnumbered Base CA")
    now = datetime.now(UTC).replace(microsecond=0)
    base = make_crl(ca, [1], number=10, this_update=now - timedelta(hours=3), pem=True)
    delta = make_crl(ca, [2], number=12, delta_of=10, this_update=now - timedelta(hours=2),
                     pem=True)  # fmt: skip
    server.routes["/c.crl"] = Route(base + delta)
    src = CRLSource(urls=[server.url("/c.crl")], cas=[ca.der])
    assert src.refresh() and src.current is not None and src.current.lookup(ca.der, 2)
    # newer than the held base (no replay), older than the delta
    server.routes["/c.crl"] = Route(make_crl(ca, [1], number=None,
                                             this_update=now - timedelta(minutes=150)))  # fmt: skip
    assert src.refresh() is False
    assert "no longer has the delta CRL" in (one(src).last_error or "")
    server.routes["/c.crl"] = Route(make_crl(ca, [1, 2], number=None,
                                             this_update=now - timedelta(hours=1)))  # fmt: skip
    assert src.refresh() and src.current.lookup(ca.der, 2) is not None


def test_a_bundle_keeping_past_crls_is_taken(tmp_path: Path) -> None:
    """A CRL file built from a directory that keeps past CRLs (``cat crls/*.pem``): the replay
    check compares the newest CRL offered of each series, so #10 and #12 still beside the new
    #14 do not make the update refused (it was, and the revocation in #14 never taken; found by
    review)."""
    store, v, (ca,) = _tenants("Bundle CA")
    leaf = real_time_leaf(ca)
    c10, c12 = _pem_crl(_crl_now(ca, [], 10, 3)), _pem_crl(_crl_now(ca, [], 12, 2))
    path = tmp_path / "all.crl"
    path.write_bytes(c10)
    src = CRLSource(files=[path], cas=store, targets=[v])
    assert src.refresh()
    path.write_bytes(c10 + c12)
    assert src.refresh()
    path.write_bytes(c10 + c12 + _pem_crl(_crl_now(ca, [leaf.cert.serial_number], 14, 1)))
    assert src.refresh() and one(src).last_error is None
    assert v.verify([leaf.der]).status == REVOKED
    path.write_bytes(c10)  # the newest offered older than the newest held: refused
    assert src.refresh() is False and v.verify([leaf.der]).status == REVOKED
    failures = one(src).consecutive_failures
    for _ in range(3):  # refused once: not read (and checked, and logged) again until it changes
        src.refresh()
    assert one(src).consecutive_failures == failures == 1


def test_a_retired_point_partly_left_out_is_kept_while_needed(server: CRLServer) -> None:
    """CAs A and B share a distribution point; both are reissued naming a new point that does
    not serve yet, A under a new key. The old point, retired, still holds B's CRL (A's old-key
    CRL is left out): it stays until the new point serves (a note on CRLs left out used to mark
    it failed, and the failed retired point was pruned with B's revocation; found by review)."""
    root = pki.ca("Shared DP Root")
    ca_a = _with_dp(root, "Shared A", server.url("/shared.crl"))
    ca_b = _with_dp(root, "Shared B", server.url("/shared.crl"))
    leaf = real_time_leaf(ca_b)
    store = TrustStore()
    for name, c in (("root", root), ("a", ca_a), ("b", ca_b)):
        store.add_der(c.der, name=name)
    v = Verifier(store, revoked="fail")
    server.routes["/shared.crl"] = Route(_pem_crl(_crl_now(ca_a, [], 3, 2))
                                         + _pem_crl(_crl_now(ca_b, [leaf.cert.serial_number], 7,
                                                             2)))  # fmt: skip
    server.routes["/new.crl"] = Route(status=503)
    src = CRLSource(cas=store, use_distribution_points=True, targets=[v])
    assert src.refresh() and v.verify([leaf.der]).status == REVOKED
    b2 = pki.intermediate(root, "Shared B", key=ca_b.key, extra_extensions=[(
        x509.CRLDistributionPoints([x509.DistributionPoint(
            [x509.UniformResourceIdentifier(server.url("/new.crl"))], None, None, None)]),
        False)])  # fmt: skip
    with store.batch():
        store.remove("a")
        store.remove("b")
        store.add_der(_with_dp(root, "Shared A", server.url("/new.crl")).der, name="a")
        store.add_der(b2.der, name="b")
    for _ in range(3):
        src.refresh()
        assert v.verify([leaf.der]).status == REVOKED
    assert server.url("/shared.crl") in [st.location for st in src.status()]


def test_accept_older_follows_a_reinstalled_ca_at_a_restored_point(server: CRLServer) -> None:
    """A distribution point pruned when its CA was removed starts again with what it held; when
    the CA comes back reinstalled (same key, numbers restarted), accept_older(point) takes its
    new CRLs (the restored, carried CRLs kept their check for ever: only a restart recovered;
    found by review)."""
    root = pki.ca("Reinstalled Root")
    ca = _with_dp(root, "Reinstalled CA", server.url("/dp.crl"))
    store = TrustStore()
    store.add_der(root.der, name="root")
    store.add_der(ca.der, name="a")
    v = Verifier(store, revoked="fail")
    server.routes["/dp.crl"] = Route(_crl_now(ca, [], 500, 3))
    src = CRLSource(cas=store, use_distribution_points=True, targets=[v])
    assert src.refresh()
    store.remove("a")
    src.refresh()
    store.add_der(ca.der, name="a")
    leaf = real_time_leaf(ca)
    server.routes["/dp.crl"] = Route(_crl_now(ca, [leaf.cert.serial_number], 1))
    src.refresh()
    assert "older than the one held" in (src.status()[0].last_error or "")
    assert src.accept_older(server.url("/dp.crl")) is True
    st = src.status()[0]
    assert (st.last_error, st.carried) == (None, 0), st
    assert v.verify([leaf.der]).status == REVOKED
