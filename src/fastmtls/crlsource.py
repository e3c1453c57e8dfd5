"""Keep a revocation set current from CRL files and HTTP(S) URLs, off the verification path.

A :class:`CRLSource` watches CRL files (re-read when their ``(mtime_ns, size, inode, device)``
changes) and fetches CRLs over HTTP(S), including the CRL distribution points named in the CA
certificates. Whenever the usable CRLs change it builds a new immutable
:class:`~fastmtls.RevocationSet` and publishes it: one attribute assignment per target
:class:`~fastmtls.Verifier` (an atomic hot swap) and the ``on_update`` callback. Verification
never calls into this module: it only ever reads the published set::

    source = CRLSource(urls=["http://crl.example.com/clients.crl"], targets=[verifier])
    source.start()          # first round synchronously, then a background daemon thread
    source.status()         # per source: last success, error, age, nextUpdate, next attempt
    source.stop()

Failures never make things worse: a source that cannot be read, returns an error, garbage, a CRL
no configured CA signed, an older CRL than the one held (URLs: a replay) or too many bytes keeps
its last good CRLs in the set, records the error and retries with capped exponential back-off
(with jitter); a CRL of a CA removed from the store, signed by the key of that CA's CRLs the
source holds, is taken (replay-checked, unused while the CA is away) so that a bundle still
carrying it keeps the other CAs' CRLs current. URLs are refreshed before the CRL's nextUpdate
with conditional requests (``If-None-Match`` / ``If-Modified-Since``).
"""

from __future__ import annotations

import email.utils
import hashlib
import http.client
import ipaddress
import itertools
import logging
import os
import random
import socket
import ssl
import stat
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from email.message import Message
from typing import IO, Literal, NamedTuple, Union

from cryptography import x509

from . import _deadline
from ._certinfo import CertInfo, by_subject
from ._ffi import PACKAGE_VERSION
from ._format import dn_rfc2253
from .errors import ConfigurationError, FastMTLSError
from .revocation import (
    CRLInfo,
    PathLike,
    Revocation,
    RevocationSet,
    _ca_ders,
    ca_subject,
    check_crl,
    configured_cas,
    crl_to_der,
    inspect_crl,
)
from .store import TrustStore
from .verifier import Verifier

__all__ = ["CRLSource", "SourceStatus", "distribution_points"]

log = logging.getLogger("fastmtls.crlsource")

_SCHEMES = ("http", "https")
_CHUNK = 64 * 1024
_SLACK = 0.005  # a source due within this many seconds counts as due
_NEVER = object()  # a file stat key that matches nothing
_STOP_POLL = 0.05  # how often a background round waiting for the round lock looks at stop()
_uids = itertools.count(1)

SourceKind = Literal["file", "url"]
SourceOrigin = Literal["file", "url", "distribution_point"]
CAInput = Union[TrustStore, Iterable[bytes], None]


@dataclass(frozen=True)
class SourceStatus:
    """The state of one CRL source. Times are unix seconds; ``age`` is seconds."""

    location: str  # the file path or URL
    kind: SourceKind
    origin: SourceOrigin  # "distribution_point" when read from a CA certificate
    in_set: bool  # its CRLs are part of the published (or next) set
    # crls, this_update and next_update describe the same CRLs: those held from this source
    # (its last good content) or, while those are issued for later (thisUpdate ahead), the
    # earlier content still in force, which the set uses; of them, those of keys a configured
    # CA has (a removed CA's CRLs, held but not in the set, are not counted)
    crls: int  # how many CRLs
    this_update: int | None  # their newest thisUpdate
    next_update: int | None  # their earliest nextUpdate
    age: float | None  # seconds since ``this_update``
    last_attempt: float | None  # last read / request
    last_success: float | None  # last time the source was confirmed good (incl. HTTP 304)
    next_attempt: float  # when it is next due (the background thread reads it then)
    last_error: str | None  # None when the last attempt succeeded
    consecutive_failures: int
    etag: str | None
    last_modified: str | None
    # a distribution point no CA names any more (a renewed CA moved it): still fetched, its
    # CRLs stay in the set until other sources hold CRLs in force at least as recent for the
    # same issuer and scope, or no configured CA verifies them; then it is dropped
    retired: bool = False
    # CRLs of signing keys the URL served before and no longer does (a re-keyed CA, a
    # same-named CA's CRL served in place of another's, a CA not configured at the time): kept
    # beside its content, built in while a configured CA has their key, until the URL serves
    # their series again; not counted in crls, this_update and next_update
    carried: int = 0

    @property
    def expired(self) -> bool:
        """The CRLs held are past their nextUpdate."""
        return self.next_update is not None and self.next_update < time.time()


class _FetchError(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class _Content(NamedTuple):
    """What one read of a source gave: its CRLs, what they say, and their signers' keys."""

    ders: tuple[bytes, ...]
    infos: tuple[CRLInfo, ...]
    signers: tuple[bytes | None, ...]


class _Carried(NamedTuple):
    """A CRL a URL served before and no longer does, kept beside its content (see _Verdict)."""

    der: bytes
    info: CRLInfo
    signer: bytes  # the subjectPublicKeyInfo of the CA that verified it


_MAX_AHEAD = 8  # contents issued for later that a source keeps beside the one in force
_MAX_PRUNED = 16  # pruned distribution points whose CRLs are kept (for when they come back)


def _in_force(infos: Sequence[CRLInfo], now: float) -> bool:
    """Every CRL of ``infos`` is at or past its thisUpdate at ``now``."""
    return all(i.this_update <= now for i in infos)


class _Pending(NamedTuple):
    data: bytes
    ders: tuple[bytes, ...]
    infos: tuple[CRLInfo, ...]
    signers: tuple[bytes | None, ...]  # per CRL: the key of the configured CA that verifies it
    carried: tuple[_Carried, ...]
    etag: str | None
    last_modified: str | None
    stat_key: object  # a file's, recorded once the round decided on the content (_rebuild)
    digest: bytes  # SHA-256 of a file's data (b"" for a URL's)


class _Source:
    """Mutable per-source state; only the refresh round (under the round lock) changes it, in
    short sections under the state lock so :meth:`CRLSource.status` reads consistent values."""

    def __init__(self, location: str, kind: SourceKind, origin: SourceOrigin) -> None:
        self.uid = next(_uids)
        self.location = location
        self.kind: SourceKind = kind
        self.origin: SourceOrigin = origin
        # last good content
        self.data: bytes | None = None
        self.ders: tuple[bytes, ...] = ()
        self.infos: tuple[CRLInfo, ...] = ()
        # per CRL of ders: the subjectPublicKeyInfo of the configured CA that verified it when
        # the content was taken (the replay checks' series; kept whatever the CAs become)
        self.signers: tuple[bytes | None, ...] = ()
        # CRLs of keys the URL served before and no longer does (_Verdict.carry): built in
        # while a configured CA has their key, kept until the URL serves their series again
        self.carried: tuple[_Carried, ...] = ()
        # earlier content still needed beside content issued for later (thisUpdate ahead of the
        # clock): the newest in force, built in where it ranks first, and every later one, each
        # built in from its thisUpdate on, so a CA publishing a little ahead (even faster than
        # its CRLs come into force) never leaves a gap without its current CRL; oldest first
        self.outgoing: tuple[_Content, ...] = ()
        self.version = 0
        self.etag: str | None = None
        self.last_modified: str | None = None
        self.in_set = False
        self.retired = False  # see SourceStatus.retired
        # bookkeeping
        self.stat_key: object = _NEVER
        self.due = 0.0  # time.monotonic() of the next background attempt
        self.last_attempt: float | None = None
        self.last_success: float | None = None
        self.last_error: str | None = None
        self.held_error: str | None = None  # the held CRLs no longer build (e.g. CA removed)
        # its latest content was refused by the build (e.g. a delta whose base has not arrived):
        # read again once another source's content changes, which may make it usable
        self.rejected = False
        # during the round accept_older() runs: content older than the content held is taken
        self.accept_older = False
        # SHA-256 of the latest content that failed (not a CRL, or refused by the build while
        # the other sources stay as they are): read again, it is no new failure
        self.bad_digest: bytes | None = None
        self.failures = 0
        # a file read that outlived its deadline: set once it returns (another waits till then)
        self.io_stuck: threading.Event | None = None

    @property
    def content(self) -> _Content:
        """The last good content, as one _Content."""
        return _Content(self.ders, self.infos, self.signers)

    def held_crls(self) -> list[_Carried]:
        """Every CRL the source holds with a signing key recorded: of its earlier content still
        needed, its content, and the CRLs it carries."""
        return [*(_Carried(d, i, k) for part in (*self.outgoing, self.content)
                  for d, i, k in zip(part.ders, part.infos, part.signers) if k is not None),
                *self.carried]  # fmt: skip

    @property
    def has_delta(self) -> bool:
        return any(i.delta for i in self.infos)


class _RedirectHandler(urllib.request.HTTPRedirectHandler):
    """Follows redirects to http and https URLs only."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        if urllib.parse.urlsplit(newurl).scheme.lower() not in _SCHEMES:
            fp.close()
            raise _FetchError(f"redirect to {newurl!r} refused: only http and https")
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None:
            # urllib reads the whole body of the redirect response (fp.read()) before it
            # follows, with no bound: closed here, that read returns b""
            fp.close()
        return new


class _Watch:
    """The deadline of one fetch. A per-read socket timeout does not bound a server that
    trickles bytes (each byte restarts it), in the TLS handshake, the headers or the body: at the
    deadline (or when stop() ends the thread) the watch shuts the fetch's connections down, so
    every read in progress fails at once. It holds a duplicate of each connection's socket
    (shutdown acts on the connection, whatever wrapped the original)."""

    def __init__(self, seconds: float) -> None:
        self._lock = threading.Lock()
        self._socks: list[socket.socket] = []
        self.expired = False
        self.deadline = time.monotonic() + seconds
        self._timer = threading.Timer(seconds, self.expire)
        self._timer.daemon = True
        self._timer.start()

    def track(self, sock: socket.socket) -> None:
        dup = sock.dup()
        with self._lock:
            self._socks.append(dup)
            expired = self.expired
        if expired:
            _shutdown(dup)

    def expire(self) -> None:
        with self._lock:
            self.expired = True
            socks = list(self._socks)
        for sock in socks:
            _shutdown(sock)

    def close(self) -> None:
        self._timer.cancel()
        with self._lock:
            socks, self._socks = self._socks, []
        for sock in socks:
            sock.close()


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # already closed by the peer or by us
        pass


_current_watch = threading.local()  # the _Watch of the fetch running on this thread
# the stop event of the run (background thread or start()) whose round runs on this thread;
# None in a refresh(), which is never abandoned
_thread_stop = threading.local()


class _WatchedConnectionMixin:
    """Registers each new TCP connection with the fetch's _Watch (see _Watch)."""

    _create_connection: Callable[..., socket.socket]

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        create = self._create_connection

        def create_watched(address: tuple[str, int], timeout: object = None,
                           *a: object, **k: object) -> socket.socket:  # fmt: skip
            watch: _Watch | None = getattr(_current_watch, "watch", None)
            limit = timeout if isinstance(timeout, (int, float)) else 10.0
            error: OSError | None = None
            for addr in _resolve(address, watch, limit):
                # the fetch's deadline and stop() also bound the connects: each address gets
                # at most the time left (not `timeout` each, past the deadline)
                left = limit if watch is None else min(limit, watch.deadline - time.monotonic())
                if watch is not None and left <= 0:
                    watch.expire()  # due now: its timer may not have run yet
                if watch is not None and watch.expired:
                    raise OSError(f"connecting to {address[0]}: the fetch's deadline passed, "
                                  "or it was stopped")  # fmt: skip
                try:
                    sock = create(addr, left, *a, **k)
                except OSError as exc:  # the next address, as socket.create_connection does
                    error = exc
                    continue
                sock.settimeout(limit)  # each read: `timeout` again (the watch bounds the sum)
                if watch is not None:
                    watch.track(sock)
                return sock
            raise error or OSError(f"no address for {address[0]}")

        self._create_connection = create_watched


# host name -> the `done` event of its lookup that outlived its deadline: while that lookup has
# not returned, the name is not looked up again, so a name the resolver never answers holds one
# of _deadline's MAX_STUCK helper threads, not one per retry (which would soon fail every lookup
# and file read of every source in the process)
_dns_lock = threading.Lock()
_dns_stuck: dict[str, threading.Event] = {}


def _resolve(address: tuple[str, int], watch: _Watch | None,
             timeout: float) -> list[tuple[str, int]]:  # fmt: skip
    """The addresses to connect to for ``address``, looked up under a deadline (``timeout``, or
    the fetch's end): a resolver that does not answer fails this fetch, not the round."""
    host, port = address[0], address[1]
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
        return [(host, port)]  # a literal: nothing to look up
    except ValueError:
        pass
    with _dns_lock:
        stuck = _dns_stuck.get(host)
        if stuck is not None and stuck.is_set():
            del _dns_stuck[host]
            stuck = None
    if stuck is not None:  # one unanswered lookup per name at a time, not one per retry
        raise OSError(f"DNS lookup of {host}: an earlier lookup has not returned "
                      "(the resolver does not answer)")  # fmt: skip
    cancelled = (lambda: watch.expired) if watch is not None else None
    try:
        infos = _deadline.call(lambda: socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM),
                               timeout, f"DNS lookup of {host}", cancelled)  # fmt: skip
    except _deadline.DeadlineExceeded as exc:
        with _dns_lock:
            _dns_stuck[host] = exc.done
        raise
    out: list[tuple[str, int]] = []
    for family, _, _, _, sockaddr in infos:
        ip = str(sockaddr[0])
        if family == socket.AF_INET6 and len(sockaddr) > 3 and sockaddr[3]:
            ip = f"{ip}%{sockaddr[3]}"
        if (ip, port) not in out:
            out.append((ip, port))
    return out


_RACY_SECONDS = 2.0  # a file modified this recently is read again at the next poll


def _stat_and_read(path: str, old_key: object, max_bytes: int
                   ) -> tuple[object, bytes | None, str | None]:  # fmt: skip
    """(stat key, content, error) of a file source: content None when the key is ``old_key``
    (unchanged) or on an error. The file system calls of a refresh, run under a deadline."""
    try:
        st = os.stat(path)
    except OSError as exc:
        return ("error", exc.errno), None, f"cannot read {path!r}: {exc.strerror or exc}"
    key: object = (st.st_mtime_ns, st.st_size, st.st_ino, st.st_dev)
    if key == old_key:
        return key, None, None
    if not stat.S_ISREG(st.st_mode):  # a FIFO or a device would block the read forever
        return key, None, f"{path!r} is not a regular file"
    if st.st_size > max_bytes:
        return key, None, f"file of {st.st_size} bytes exceeds max_bytes ({max_bytes})"
    try:
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:  # (EMFILE, EACCES until a chmod, ...): not a verdict on this content,
        # so not its stat key: the next poll reads the file again
        return ("error", exc.errno), None, f"cannot read {path!r}: {exc.strerror or exc}"
    if len(data) > max_bytes:
        return key, None, f"file exceeds max_bytes ({max_bytes})"
    if abs(time.time() - st.st_mtime) < _RACY_SECONDS:
        # modified this recently, the file may change again within its mtime's grain (a second
        # on some file systems, NFS) without its stat changing: the content read is not taken
        # as that stat's (the next poll reads the file again) until the mtime is older, as git's
        # "racy" check; a read again that finds what failed before is no new failure (bad_digest)
        key = ("racy", key)
    return key, data, None


class _WatchedHTTPConnection(_WatchedConnectionMixin, http.client.HTTPConnection):
    pass


class _WatchedHTTPSConnection(_WatchedConnectionMixin, http.client.HTTPSConnection):
    pass


_WATCHED: dict[type, type] = {
    http.client.HTTPConnection: _WatchedHTTPConnection,
    http.client.HTTPSConnection: _WatchedHTTPSConnection,
}


class _WatchedHTTPHandler(urllib.request.HTTPHandler):
    def do_open(self, http_class: type, req: urllib.request.Request, **kw: object) -> object:  # type: ignore[override]
        return super().do_open(_WATCHED.get(http_class, http_class), req, **kw)  # type: ignore[arg-type]


class _WatchedHTTPSHandler(urllib.request.HTTPSHandler):
    def do_open(self, http_class: type, req: urllib.request.Request, **kw: object) -> object:  # type: ignore[override]
        return super().do_open(_WATCHED.get(http_class, http_class), req, **kw)  # type: ignore[arg-type]


def distribution_points(cas: Iterable[bytes]) -> list[str]:
    """The http(s) URLs of the CRL distribution points (and freshest-CRL points, where delta CRLs
    are published) in DER certificates, in order, without duplicates. Other schemes (ldap) and
    unparseable certificates are skipped."""
    urls: dict[str, None] = {}
    for der in cas:
        try:
            cert = x509.load_der_x509_certificate(bytes(der))
            exts = cert.extensions
        except Exception:  # ValueError, and cryptography's DuplicateExtension (not a ValueError)
            continue
        points: list[x509.DistributionPoint] = []
        for ext in exts:
            if isinstance(ext.value, (x509.CRLDistributionPoints, x509.FreshestCRL)):
                points.extend(ext.value)
        for point in points:
            for name in point.full_name or ():
                if isinstance(name, x509.UniformResourceIdentifier):
                    uri = str(name.value)
                    try:
                        scheme = urllib.parse.urlsplit(uri).scheme.lower()
                    except ValueError:  # e.g. "http://[bad": skipped, the others still count
                        continue
                    if scheme in _SCHEMES:
                        urls.setdefault(uri, None)
    return list(urls)


def _check_url(url: str) -> str:
    if not isinstance(url, str):
        raise ConfigurationError(f"CRL URL must be a string, not {type(url).__name__}")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() not in _SCHEMES or not parts.netloc:
        raise ConfigurationError(f"CRL URL {url!r}: only http:// and https:// URLs are supported")
    return url


def _positive(name: str, value: float, *, zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigurationError(f"{name} must be a number")
    if not (value >= 0 if zero else value > 0):
        raise ConfigurationError(f"{name} must be {'non-negative' if zero else 'positive'}")
    return float(value)


def _retry_after(headers: Message | None) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # "²".isdigit() is True too
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _expired(infos: Sequence[CRLInfo], now: float) -> bool:
    """Some CRL of ``infos`` is past its nextUpdate at ``now``."""
    return any(i.next_update is not None and i.next_update < now for i in infos)


# A CRL as the replay checks see it: its description and the subjectPublicKeyInfo of the
# configured CA that signed it (None when none does: then none of it is in the set to protect)
_Item = tuple[CRLInfo, Union[bytes, None]]
_SeriesKey = tuple[bytes, bytes, Union[bytes, None], bool, str]


def _series(i: CRLInfo, signer: bytes) -> _SeriesKey:
    """The CRL series ``i`` belongs to, whose numbers only grow (RFC 5280 5.2.3: per issuer and
    scope): its issuer and the key that signed it (a re-keyed CA starts a new series; the key
    that verified the signature, not the authority key identifier the CRL claims), its partition
    (issuingDistributionPoint), base or delta, and certificate scope."""
    return (i.issuer_der, signer, i.idp_der, i.delta, i.scope)


class _Verdict(NamedTuple):
    """What :func:`_rollback` decided about a new response."""

    why: str | None  # why it is refused (it would take revocations back), None when taken
    # positions (in the held CRLs) of the CRLs to keep beside it, the latest of each series it
    # left out: signed by a key of an issuer the response now signs with another key only (a
    # re-keyed CA, or a same-named CA's CRL served in its place: the set applies a CRL to the
    # certificates of the key that signed it, so the new key's CRL does not stand for them),
    # or by a key no configured CA has now (kept, unused, for when one has it again: its
    # series must not be replayed back then)
    carry: tuple[int, ...] = ()


def _newest(items: Sequence[_Item]) -> dict[_SeriesKey, tuple[int, CRLInfo]]:
    """The newest CRL (position, description) of each series among ``items``, by thisUpdate
    then number (items without a signer have no series)."""
    out: dict[_SeriesKey, tuple[int, CRLInfo]] = {}
    for n, (i, signer) in enumerate(items):
        if signer is None:
            continue
        key = _series(i, signer)
        have = out.get(key)
        if have is None or (i.this_update, i.number or 0) > (have[1].this_update,
                                                              have[1].number or 0):  # fmt: skip
            out[key] = (n, i)
    return out


def _rollback(old: Sequence[_Item], new: Sequence[_Item], *,
              configured: Collection[tuple[bytes, bytes]], allow_older: bool = False,
              served: int | None = None, whole: bool = True) -> _Verdict:  # fmt: skip
    """Whether ``new`` (a URL's new response) would take back revocations that ``old`` (its last
    good response) gave. Refused: a CRL older than the one held of its series (a replay), and a
    response without a series held before, unless a base CRL of the same issuer, key and
    partition at least as recent replaces it (it includes what a held delta said). A server
    that serves another CA's valid CRL, or a base without its delta, would otherwise make the
    revocations it leaves out disappear. A series whose issuer the response signs with another
    key only is kept beside the response (``carry``), not refused: a re-keyed CA publishes its
    new key's CRLs at the old URL; so is one whose key no configured CA has now
    (``configured``: the (name, subjectPublicKeyInfo) of the configured CAs).
    ``allow_older``: an older CRL of a series held is taken (CRLSource.accept_older), of the
    series whose newest held CRL is among the first ``served`` of ``old`` (the source's own
    content; default all: a carried series keeps its check); leaving a series out is still
    refused. ``whole=False`` (a file, whose operator may drop a CRL from it): only the
    replay check."""
    held = _newest(old)
    signed = [(i, signer) for i, signer in new if signer is not None]
    # (the newest CRL offered of each series: a bundle may keep the past CRLs beside it)
    for key, (_, i) in _newest(signed).items():
        found = held.get(key)
        if found is None or (allow_older and (served is None or found[0] < served)):
            continue
        prev = found[1]
        if i.number is not None and prev.number is not None:
            if i.number < prev.number:
                return _Verdict(f"CRL number {i.number} is older than the one held "
                                f"({prev.number}): not replacing it")  # fmt: skip
        elif i.this_update < prev.this_update:
            return _Verdict(f"CRL thisUpdate {i.this_update} is older than the one held "
                            f"({prev.this_update}): not replacing it")  # fmt: skip
    if not whole:
        return _Verdict(None)
    present = {_series(i, signer) for i, signer in signed}
    keys = {(i.issuer_der, signer) for i, signer in signed}
    names = {i.issuer_der for i, _ in signed}
    carry = []
    for key, (n, prev) in held.items():
        if key in present or any(_replaces(i, signer, prev, key[1]) for i, signer in signed):
            continue
        ca = (prev.issuer_der, key[1])
        if ca not in configured or (prev.issuer_der in names and ca not in keys):
            carry.append(n)
            continue
        kind = "delta CRL" if prev.delta else "CRL"
        return _Verdict(f"the response no longer has the {kind} of "
                        f"{_issuer_text(prev.issuer_der)} it had (leaving a CRL out would take "
                        "its revocations back): keeping the last good one")  # fmt: skip
    return _Verdict(None, tuple(sorted(carry)))


def _replaces(i: CRLInfo, signer: bytes, prev: CRLInfo, prev_signer: bytes) -> bool:
    """Whether base CRL ``i`` stands for the held CRL ``prev`` of another series: same issuer,
    key, partition and scope, at least as recent, and numbered at least as high (a base
    numbered below a held delta lacks the delta's changes)."""
    if i.delta or (i.issuer_der, signer, i.idp_der, i.scope) != (
            prev.issuer_der, prev_signer, prev.idp_der, prev.scope):  # fmt: skip
        return False
    if i.this_update < prev.this_update:
        return False
    return i.number is None or prev.number is None or i.number >= prev.number


def _held(s: _Source) -> list[_Item]:
    """The CRLs source ``s`` holds, with their signers, for _rollback: its content, then the
    CRLs it carries."""
    return [*zip(s.infos, s.signers), *((c.info, c.signer) for c in s.carried)]


def _issuer_text(name_der: bytes) -> str:
    try:
        return dn_rfc2253(name_der)
    except ValueError:
        return "its issuer"


class CRLSource:
    """Keeps a :class:`~fastmtls.RevocationSet` current from CRL files and HTTP(S) URLs.

    ``files``: CRL files (DER or PEM, one or more CRLs each), re-read when they change.
    ``urls``: http(s) URLs serving a CRL (DER or PEM). ``use_distribution_points=True`` adds the
    http(s) CRL distribution points (and freshest-CRL points) of every CA certificate in ``cas``
    (followed as the CAs change).

    ``cas``: the CAs whose CRLs are accepted (each CRL's signature is checked against the CA
    whose name it carries): a :class:`~fastmtls.TrustStore` (followed as it changes), a
    :class:`~fastmtls.Verifier` (its trust anchors and operator intermediates, followed as its
    store changes) or DER/PEM certificates. ``None`` (the default) takes those of every
    ``targets`` verifier.

    ``entries``: explicit revocations added to every set. ``targets``: verifiers whose
    ``revocations`` are replaced by each new set; ``on_update(set)`` is called after that (its
    exceptions are logged). Nothing is published until at least one source has contributed
    CRLs (unless no source is configured), so a set loaded at start-up is not replaced by an
    empty one.

    Scheduling: a URL is fetched again ``(nextUpdate - now) * (1 - refresh_margin)`` seconds
    after a success, clamped to ``[min_interval, max_interval]`` (``max_interval`` without a
    nextUpdate); after a failure after ``backoff_base * 2**(failures - 1)`` seconds, capped at
    ``backoff_max``, times a random factor in [0.5, 1] (a ``Retry-After`` on the error response
    lengthens it, within ``backoff_max``). Files are checked every ``poll_interval`` seconds
    (default ``min(5, min_interval)``); one that failed is read again when it changes. When the
    CAs change, failed sources are retried at once.

    A CRL older than the one held for the same issuer, signing key and scope (lower
    cRLNumber, else earlier thisUpdate) is refused as a possible replay, from a URL or a file
    (a job that writes an older CRL over it, a restored backup; ``accept_older(location)``
    takes it). A URL's response that leaves out a CRL it served is refused too, unless its
    issuer's CRLs now come under another key (a re-keyed CA) or no configured CA has that CRL's
    key: then the CRL left out is carried beside the response (``SourceStatus.carried``), built
    in while a configured CA has its key, until the URL serves that series again; a file may
    leave a CRL out. A source's CRLs whose signing key no configured CA has (a CA removed) are
    left out of the set, the others beside them stay; new content must verify in full.

    ``timeout`` bounds connecting, each read, a DNS lookup, and a file's stat and read (a mount
    that stopped answering fails its own source; it is not read again until the late call
    returns); a transfer also fails after ``4 * timeout`` seconds in total. A response or file
    larger than ``max_bytes`` is an error. Proxies come from the environment (``https_proxy``,
    ``no_proxy``); ``ssl_context`` overrides HTTPS settings.
    """

    def __init__(
        self,
        *,
        files: Iterable[PathLike] = (),
        urls: Iterable[str] = (),
        cas: CAInput = None,
        use_distribution_points: bool = False,
        entries: Iterable[Revocation] = (),
        targets: Iterable[Verifier] = (),
        on_update: Callable[[RevocationSet], None] | None = None,
        min_interval: float = 60.0,
        max_interval: float = 3600.0,
        refresh_margin: float = 0.1,
        poll_interval: float | None = None,
        timeout: float = 10.0,
        max_bytes: int = 50 * 1024 * 1024,
        backoff_base: float = 5.0,
        backoff_max: float = 600.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        file_list, url_list = list(files), list(urls)
        self._min_interval = _positive("min_interval", min_interval)
        self._max_interval = _positive("max_interval", max_interval)
        if self._max_interval < self._min_interval:
            raise ConfigurationError("max_interval must be >= min_interval")
        if isinstance(refresh_margin, bool) or not 0 <= refresh_margin < 1:
            raise ConfigurationError("refresh_margin must be within [0, 1)")
        self._margin = float(refresh_margin)
        self._poll = (_positive("poll_interval", poll_interval) if poll_interval is not None
                      else min(5.0, self._min_interval))  # fmt: skip
        self._timeout = _positive("timeout", timeout)
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes <= 0:
            raise ConfigurationError("max_bytes must be a positive integer")
        self._max_bytes = max_bytes
        self._backoff_base = _positive("backoff_base", backoff_base)
        self._backoff_max = _positive("backoff_max", backoff_max)
        if self._backoff_max < self._backoff_base:
            raise ConfigurationError("backoff_max must be >= backoff_base")
        if on_update is not None and not callable(on_update):
            raise ConfigurationError("on_update must be callable")
        self._on_update = on_update

        self._targets: tuple[Verifier, ...] = tuple(targets)
        for t in self._targets:
            if not isinstance(t, Verifier):
                raise ConfigurationError("targets must be Verifier instances")
        self._cas_store: TrustStore | None = None
        self._cas_static: tuple[bytes, ...] | None = None
        # cas= a Verifier: its configured CAs, followed as they change (None: the targets')
        self._cas_verifier: Verifier | None = None
        if isinstance(cas, TrustStore):
            self._cas_store = cas
        elif isinstance(cas, Verifier):
            self._cas_verifier = cas
        elif cas is not None:
            if isinstance(cas, (bytes, bytearray, memoryview, str)) or not isinstance(
                    cas, Iterable):  # fmt: skip
                raise ConfigurationError("cas must be a TrustStore, a Verifier or an iterable of "
                                         f"DER/PEM certificates, not {type(cas).__name__}")
            ders = _ca_ders(list(cas))  # PEM decoded; garbled PEM: CertificateLoadError
            for i, der in enumerate(ders):  # refused now, not at every build of every round
                if ca_subject(der) is None:
                    raise ConfigurationError(f"cas[{i}] is not a certificate (DER or PEM)")
            self._cas_static = tuple(ders)
        if cas is None and not self._targets and (file_list or url_list):
            raise ConfigurationError("give cas (the CAs whose CRLs are accepted) or targets")
        self._entries = tuple(entries)
        RevocationSet.build(entries=self._entries)  # raises now for a bad entry
        self._use_dp = bool(use_distribution_points)

        sources: dict[str, _Source] = {}
        for f in file_list:
            path = os.fspath(f)
            if not isinstance(path, str):
                raise ConfigurationError("CRL file paths must be str or os.PathLike[str]")
            sources.setdefault(path, _Source(path, "file", "file"))
        for u in url_list:
            sources.setdefault(_check_url(u), _Source(u, "url", "url"))
        self._sources: tuple[_Source, ...] = tuple(sources.values())

        handlers: list[urllib.request.BaseHandler] = [
            urllib.request.ProxyHandler(),
            _WatchedHTTPHandler(),
            _WatchedHTTPSHandler(context=ssl_context),
            urllib.request.HTTPDefaultErrorHandler(),
            _RedirectHandler(),
            urllib.request.HTTPErrorProcessor(),
        ]
        self._opener = urllib.request.OpenerDirector()
        for h in handlers:
            self._opener.add_handler(h)
        self._headers = {
            "User-Agent": f"fastmtls/{PACKAGE_VERSION}",
            "Accept": "application/pkix-crl, application/x-pem-file;q=0.9, */*;q=0.5",
        }
        self._rand = random.Random()

        self._round_lock = threading.RLock()  # one refresh round at a time
        self._state_lock = threading.Lock()  # short: source fields, targets, thread
        self._publish_lock = threading.Lock()  # short: the current set and the targets
        self._cas_seen: tuple[bytes, ...] | None = None
        # the round's CAs by subject (finding a CRL's signer), and their (name, key) pairs
        self._ca_index: dict[bytes, tuple[CertInfo, ...]] = {}
        # every CA configured at some time, by (subject, subjectPublicKeyInfo): a source's new
        # CRL of a CA removed since is checked against the key its held CRLs were signed with
        self._known: dict[tuple[bytes, bytes], CertInfo] = {}
        # location -> the CRLs a distribution point held when it was pruned, the newest of each
        # series (at most _MAX_PRUNED points, the oldest dropped first)
        self._pruned: dict[str, tuple[_Carried, ...]] = {}
        self._configured: frozenset[tuple[bytes, bytes]] = frozenset()
        self._published_key: object = None
        # the earliest thisUpdate (unix seconds) of a CRL held but issued for later: the set is
        # rebuilt then, when that CRL comes into force (RevocationSet.build ranks it below the
        # CRLs in force until its thisUpdate)
        self._next_in_force: int | None = None
        self._build_at = 0  # the time of the round's builds (set by _rebuild before they run)
        self._current: RevocationSet | None = None
        # on_update (_announce): a thread is calling it; a newer set may need announcing; the
        # last set announced
        self._announcing = False
        self._announce_due = False
        self._announced: RevocationSet | None = None
        self._published_at: float | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        # thread ident -> its fetch in progress and the stop event of the run it belongs to
        self._watches: dict[int, tuple[_Watch, threading.Event | None]] = {}
        if self._use_dp:  # listed by status() from the start; followed as the CAs change
            self._sync_distribution_points(self._ca_ders(), time.monotonic())

    # -- public API -----------------------------------------------------------------------------

    @property
    def current(self) -> RevocationSet | None:
        """The last published set (None before the first publication)."""
        return self._current

    @property
    def published_at(self) -> float | None:
        """When the current set was published (unix seconds)."""
        return self._published_at

    @property
    def running(self) -> bool:
        """The background thread is alive."""
        t = self._thread
        return t is not None and t.is_alive()

    def add_target(self, verifier: Verifier) -> None:
        """Also publish to ``verifier``; it receives the current set now, if there is one."""
        if not isinstance(verifier, Verifier):
            raise ConfigurationError("targets must be Verifier instances")
        with self._publish_lock:  # not the round lock: a round may be fetching for a while
            if verifier not in self._targets:
                self._targets = (*self._targets, verifier)
            if self._current is not None:
                verifier.revocations = self._current

    def refresh(self) -> bool:
        """One synchronous round over every source, ignoring schedule and back-off: files whose
        stat changed are read, every URL is fetched (conditionally). Publishes a new set when the
        usable CRLs (or the CAs) changed and returns True if it did. Source failures are recorded
        in :meth:`status`, never raised."""
        return self._round(force=True)

    def accept_older(self, location: PathLike) -> bool:
        """Run a round (as :meth:`refresh`) in which the CRLs read from ``location`` (a
        configured file or URL, or a distribution point) are taken even when they are older than
        those held: the way to follow a CA whose CRL numbers started again under the same key (a
        reinstalled CA), which the protection against replayed CRLs otherwise refuses until the
        process restarts. Only that round: a fetch that fails leaves the CRLs held in use and
        nothing armed. A response that leaves out a CRL held is still refused, and where another
        source still serves the higher-numbered CRL, the set keeps ranking that one first.
        Returns whether a new set was published."""
        text = os.fspath(location)
        text = text if isinstance(text, str) else os.fsdecode(text)
        with self._state_lock:
            chosen = [s for s in self._sources if s.location in (text, os.path.abspath(text))]
        if not chosen:
            raise ConfigurationError(f"no CRL source {text!r}")
        return self._round(force=True, accept_older=chosen)

    def start(self, *, wait: bool = True) -> None:
        """Start the background daemon thread (no-op when running).

        With ``wait`` (the default) the first round runs here, synchronously, so a set exists
        before traffic is served when the sources are reachable; this blocks for up to the fetch
        timeouts. ``wait=False`` makes the thread do the first round.
        """
        with self._state_lock:
            if self._thread is not None and self._thread.is_alive():
                return
            if self._stop.is_set():  # stopped before: a new run (concurrent starts share it)
                self._stop = threading.Event()
            stop = self._stop
        if wait:  # a stop() meanwhile abandons this round and no thread starts
            self._round(force=True, stop=stop)
        with self._state_lock:
            if stop.is_set() or (self._thread is not None and self._thread.is_alive()):
                return
            self._thread = threading.Thread(
                target=self._run, args=(stop, not wait), name="fastmtls-crlsource",
                daemon=True)  # fmt: skip
            self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Stop the background thread and wait for it (up to ``timeout``): its fetch in progress
        is abandoned and its round ends there. The published set stays in place."""
        with self._state_lock:
            thread, self._thread = self._thread, None
            stop = self._stop
            stop.set()
            # the fetches of the thread and of a start() in progress are abandoned (a refresh()
            # elsewhere is not)
            watches = [w for w, ev in self._watches.values() if ev is stop]
        for watch in watches:
            watch.expire()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def __enter__(self) -> CRLSource:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def status(self) -> list[SourceStatus]:
        """Per-source state, in configuration order (distribution points last)."""
        now, now_m = time.time(), time.monotonic()
        out = []
        with self._state_lock:
            for s in self._sources:
                infos = self._describes(s, now)
                this_update = max((i.this_update for i in infos), default=None)
                next_update = min(
                    (i.next_update for i in infos if i.next_update is not None), default=None
                )
                out.append(SourceStatus(
                    location=s.location, kind=s.kind, origin=s.origin, in_set=s.in_set,
                    crls=len(infos), this_update=this_update, next_update=next_update,
                    age=None if this_update is None else now - this_update,
                    last_attempt=s.last_attempt, last_success=s.last_success,
                    next_attempt=now + max(0.0, s.due - now_m),
                    last_error=s.last_error or s.held_error,
                    consecutive_failures=s.failures, etag=s.etag,
                    last_modified=s.last_modified, retired=s.retired, carried=len(s.carried),
                ))  # fmt: skip
        return out

    def _describes(self, s: _Source, now: float) -> tuple[CRLInfo, ...]:
        """The CRLs a status describes: the held ones, or while they are issued for later, the
        newest earlier content in force (what the set uses); of those, the CRLs of keys a
        configured CA has (a removed CA's CRLs, held but left out of the set, neither count nor
        make the source's CRL expire)."""
        content = s.content
        if not _in_force(s.infos, now):
            current = [c for c in s.outgoing if _in_force(c.infos, now)]
            content = current[-1] if current else content
        return tuple(i for i, k in zip(content.infos, content.signers)
                     if (i.issuer_der, k) in self._configured)  # fmt: skip

    def __repr__(self) -> str:
        errors = sum(1 for s in self._sources if s.last_error or s.held_error)
        return (f"<CRLSource sources={len(self._sources)} errors={errors} "
                f"running={self.running} current={self._current!r}>")  # fmt: skip

    # -- the round ------------------------------------------------------------------------------

    def _run(self, stop: threading.Event, first: bool) -> None:
        if first:
            self._safe_round(force=True, stop=stop)
        while not stop.wait(self._sleep()):
            self._safe_round(force=False, stop=stop)

    def _safe_round(self, *, force: bool, stop: threading.Event) -> None:
        try:
            self._round(force=force, stop=stop)
        except Exception:  # never let the thread die; the next round retries
            log.exception("CRL refresh round failed")

    def _sleep(self) -> float:
        now_m = time.monotonic()
        due = min((s.due for s in self._sources), default=now_m + self._poll)
        if self._next_in_force is not None:
            due = min(due, now_m + (self._next_in_force - time.time()))
        return min(self._poll, max(0.01, due - now_m))

    def _ca_ders(self) -> tuple[bytes, ...]:
        if self._cas_store is not None:
            return self._cas_store._snapshot.anchors
        if self._cas_static is not None:
            return self._cas_static
        found: dict[bytes, None] = {}
        for v in self._targets if self._cas_verifier is None else (self._cas_verifier,):
            found.update(dict.fromkeys(configured_cas(v)))
        return tuple(found)

    def _round(self, *, force: bool, stop: threading.Event | None = None,
               accept_older: Sequence[_Source] = ()) -> bool:  # fmt: skip
        """One round; ``stop``: the event of the run (background thread, or start()) it belongs
        to, which abandons it; None for refresh(), which is never abandoned. ``accept_older``:
        sources whose older content this round takes (armed and disarmed under the round lock,
        so no other round sees them armed)."""
        if not self._acquire_round(stop):
            return False  # stopped while another thread's round (a refresh()) ran
        outer = getattr(_thread_stop, "event", None)  # refresh() from on_update on the thread
        _thread_stop.event = stop
        try:
            with self._state_lock:
                for s in accept_older:
                    s.accept_older, s.stat_key, s.bad_digest = True, _NEVER, None
            try:
                published = self._round_locked(force=force, stop=stop)
            finally:
                with self._state_lock:
                    for s in accept_older:
                        s.accept_older = False
        finally:
            _thread_stop.event = outer
            self._round_lock.release()
        if published is not None and self._on_update is not None:
            self._announce(self._on_update)
        return published is not None

    def _acquire_round(self, stop: threading.Event | None) -> bool:
        """Takes the round lock; a round of a run (``stop`` given) gives up, returning False, once
        the run is stopped, so that stop() does not wait for a refresh() in another thread to
        finish its fetches (up to their timeouts) before the background thread can end."""
        if stop is None:
            return self._round_lock.acquire()
        while not self._round_lock.acquire(timeout=_STOP_POLL):
            if stop.is_set():
                return False
        return True

    def _announce(self, callback: Callable[[RevocationSet], None]) -> None:
        """Calls on_update with the current set, one call at a time and in publication order:
        a thread that finds another one announcing leaves the newer set to it (that thread
        loops until it has announced the latest), so no one waits and a slow callback for an
        older set can never be the last one. The callback runs without the round lock: it may
        call stop(), refresh() or status() (stop() joins the thread, which may be waiting for
        that lock)."""
        with self._state_lock:
            self._announce_due = True
            if self._announcing:
                return
            self._announcing = True
        try:
            while True:
                with self._state_lock:  # the flag drops in the same hold as the last check
                    if not self._announce_due:
                        self._announcing = False
                        return
                    self._announce_due = False
                with self._publish_lock:
                    rs = self._current
                if rs is None or rs is self._announced:
                    continue
                try:
                    callback(rs)
                except Exception:
                    log.exception("CRLSource on_update callback failed")
                self._announced = rs
        except BaseException:  # KeyboardInterrupt in the callback: the next round announces
            with self._state_lock:
                self._announcing = False
            raise

    def _round_locked(
        self, *, force: bool, stop: threading.Event | None
    ) -> RevocationSet | None:
        """One round (the caller holds _round_lock): the set it published, or None. ``stop``:
        the background thread's event; once set, the round polls no further source and
        publishes nothing."""
        now_m = time.monotonic()
        cas = self._ca_ders()
        ca_changed = cas != self._cas_seen
        if ca_changed:
            self._cas_seen = cas
            self._ca_index = by_subject(cas)
            self._known.update(((c.subject, c.spki), c) for found in self._ca_index.values()
                               for c in found)  # fmt: skip
            self._configured = frozenset((c.subject, c.spki) for found in self._ca_index.values()
                                         for c in found)  # fmt: skip
            if self._use_dp:
                self._sync_distribution_points(cas, now_m)
            with self._state_lock:
                for s in self._sources:  # a CA may now verify what failed before
                    if s.last_error or s.held_error:
                        s.stat_key = _NEVER
                        s.bad_digest = None
                        s.due = min(s.due, now_m)
        pruned = self._prune_retired()
        pending: dict[_Source, _Pending] = {}
        for s in self._sources:
            if stop is not None and stop.is_set():
                return None
            if force or s.due <= now_m + _SLACK:
                self._poll_source(s, pending)
        in_force = self._next_in_force is not None and time.time() >= self._next_in_force
        if stop is not None and stop.is_set():
            return None
        if not pending and not ca_changed and not in_force and not pruned:
            return None
        return self._rebuild(pending, cas)

    def _sync_distribution_points(self, cas: Sequence[bytes], now_m: float) -> None:
        """Distribution point sources for the CAs ``cas`` name: new ones are due now; one no
        CA names any more is dropped, or retired while it holds CRLs (a renewed CA certificate
        that moved its distribution point must not take the CRL in force out of the set before
        the new point serves one; it is still fetched meanwhile); one named again is no longer
        retired."""
        wanted = distribution_points(cas)
        have = {s.location: s for s in self._sources}
        keep = []
        with self._state_lock:
            for s in self._sources:
                if s.origin == "distribution_point":
                    named = s.location in wanted
                    if not named and s.data is None and not s.carried:
                        continue
                    s.retired = not named
                keep.append(s)
            for url in wanted:
                if url not in have:
                    keep.append(_Source(url, "url", "distribution_point"))
                    keep[-1].due = now_m
                    # a point pruned before (its CA removed, now added again) starts with what
                    # it held: its series cannot be replayed, its last good CRLs stay in use
                    keep[-1].carried = self._pruned.pop(url, ())
            self._sources = tuple(keep)

    def _prune_retired(self) -> bool:
        """Drops the retired sources that are no longer needed: their CRLs no longer build (no
        configured CA verifies them), or the other sources in the set hold, for each of their
        CRL series, one in force at least as recent (:func:`_rollback` finds nothing taken
        back; a CRL issued for later does not replace one in force before its thisUpdate, when
        a round runs again). True when one was dropped (the set changes)."""
        retired = [s for s in self._sources if s.retired]
        if not retired:
            return False
        now = time.time()
        others = [item for s in self._sources if s.in_set and not s.retired
                  for item in _held(s) if item[0].this_update <= now]  # fmt: skip
        gone = {s for s in retired if s.held_error or self._redundant(_held(s), others)}
        if gone:
            with self._state_lock:
                self._sources = tuple(s for s in self._sources if s not in gone)
            for s in gone:  # what it held outlives it (a CA removed, then added again)
                kept = self._carried(s, _held(s), ())
                if any(c.info.next_update is None or c.info.next_update >= now
                       for c in kept):  # (all past their nextUpdate: nothing worth keeping)
                    self._pruned[s.location] = kept
            while len(self._pruned) > _MAX_PRUNED:
                del self._pruned[next(iter(self._pruned))]
        return bool(gone)

    def _carried(self, s: _Source, series_of: Sequence[_Item], new: Sequence[_Item]
                 ) -> tuple[_Carried, ...]:  # fmt: skip
        """The CRLs source ``s`` keeps of the series of ``series_of`` (_Verdict.carry): of every
        CRL of those series it holds (content, carried, and earlier content still needed, the
        one in force beside one issued for later), the newest in force and those issued for
        later (at most _MAX_AHEAD), as earlier content is kept (_outgoing). A carried series
        the response ``new`` serves again with CRLs issued for later only keeps its CRL in force
        until then (its content's _outgoing does not hold it)."""
        now = time.time()
        wanted = {_series(i, k) for i, k in series_of if k is not None}
        ahead = {_series(i, k) for i, k in new if k is not None and i.this_update > now}
        ahead -= {_series(i, k) for i, k in new if k is not None and i.this_update <= now}
        keep = wanted | (ahead & {_series(c.info, c.signer) for c in s.carried})
        found: dict[bytes, _Carried] = {}
        for c in s.held_crls():
            if _series(c.info, c.signer) in keep:
                found.setdefault(c.der, c)
        out: list[_Carried] = []
        for key in keep:
            mine = sorted((c for c in found.values() if _series(c.info, c.signer) == key),
                          key=lambda c: (c.info.this_update, c.info.number or 0))  # fmt: skip
            out.extend([c for c in mine if c.info.this_update <= now][-1:])
            if key in wanted:
                out.extend([c for c in mine if c.info.this_update > now][-_MAX_AHEAD:])
        return tuple(out)

    def _redundant(self, held: Sequence[_Item], others: Sequence[_Item]) -> bool:
        """Whether the CRLs ``held`` (a retired source's) are no longer needed beside ``others``:
        nothing of them would be taken back, and nothing kept beside the others but CRLs of keys
        no configured CA has (which no longer verify)."""
        verdict = _rollback(held, others, configured=self._configured)
        return verdict.why is None and all(
            (held[n][0].issuer_der, held[n][1]) not in self._configured
            for n in verdict.carry)  # fmt: skip

    def _poll_source(self, s: _Source, pending: dict[_Source, _Pending]) -> None:
        with self._state_lock:
            s.last_attempt = time.time()
            # provisional, until success or failure reschedules: an unexpected exception must
            # not make the thread spin on this source
            s.due = time.monotonic() + max(self._poll, self._min_interval)
        etag = last_modified = None
        key = s.stat_key
        try:
            if s.kind == "file":
                key, data = self._read_file(s)
            else:
                data, etag, last_modified = self._fetch(s)
        except _FetchError as exc:
            stop: threading.Event | None = getattr(_thread_stop, "event", None)
            if stop is not None and stop.is_set():
                return  # stopped, not failed: the source's state stays as it was
            self._failed(s, str(exc), exc.retry_after)
            return
        except Exception as exc:  # a bug or an exotic library error: still only this source
            log.exception("CRL source %s: unexpected error", s.location)
            self._failed(s, f"unexpected error: {exc!r}")
            return
        if data is None or data == s.data:
            s.stat_key = key
            self._unchanged(s, data is None and s.kind == "file", etag, last_modified)
            return
        # (files only: a URL's failures are retried on its back-off, whatever it serves)
        digest = hashlib.sha256(data).digest() if s.kind == "file" else b""
        if digest and digest == s.bad_digest:  # read again (a recent mtime): the
            s.stat_key = key  # same content that failed, and nothing made it usable since
            self._unchanged(s, True, etag, last_modified)
            return
        try:
            ders = tuple(crl_to_der(data))
            infos = tuple(inspect_crl(d) for d in ders)
        except FastMTLSError as exc:
            s.stat_key = key
            s.bad_digest = digest
            self._failed(s, f"not a CRL: {exc}")
            return
        signers = self._signers_of(ders, infos, _held(s))
        carried = s.carried
        # (a CRL no configured CA signs: the build refuses the content, and says why)
        if (s.data is not None or s.carried) and None not in signers:
            old, new = _held(s), list(zip(infos, signers))
            # (a point restored from _pruned holds carried CRLs only: accept_older takes them all)
            served = len(s.infos) if s.data is not None else None
            verdict = _rollback(old, new, configured=self._configured, allow_older=s.accept_older,
                                served=served, whole=s.kind == "url")  # fmt: skip
            if verdict.why is not None:
                if s.kind == "file":  # read again once it changes (or accept_older, a CA change)
                    s.stat_key, s.bad_digest = key, digest
                self._failed(s, verdict.why)
                return
            carried = self._carried(s, [old[n] for n in verdict.carry], new)
            if len(carried) > len(s.carried):
                log.warning("CRL source %s: the response no longer has CRLs signed by %d key(s) "
                            "(a re-keyed CA, or another CA of the same name): keeping their "
                            "last good CRLs beside it", s.location,
                            len(carried) - len(s.carried))  # fmt: skip
        # the file's new stat key is kept only once _rebuild took or refused the content: a
        # round that stops before (stop()) leaves the file to be read again
        pending[s] = _Pending(data, ders, infos, signers, carried, etag, last_modified, key,
                              digest)  # fmt: skip

    def _signers_of(self, ders: Sequence[bytes], infos: Sequence[CRLInfo],
                    held: Sequence[_Item] = ()) -> tuple[bytes | None, ...]:  # fmt: skip
        """Per CRL of ``ders`` (described by ``infos``): the subjectPublicKeyInfo of the
        configured CA (of the round's) that verifies it, as RevocationSet.build picks it (the
        first CA of the CRL's issuer name whose key verifies it), or None. A signature check
        per CRL of new content; the answer is kept with the content when it is taken.

        A CRL no configured CA verifies may still be of a CA removed from the store whose CRLs
        the source holds (``held``: a bundle that still carries that CA's CRL): the key of such
        a held series, when that CA's certificate verifies the CRL. The content is then taken
        whole, that CRL with its series' replay check, and left out of the set while no
        configured CA has the key (_usable) as the held one is; the other CAs' CRLs beside it
        stay current. Any other CRL no configured CA verifies refuses the content (the build
        says why)."""
        away: dict[bytes, list[CertInfo]] = {}  # removed CAs of held series, by name
        for i, k in held:
            if (k is not None and (i.issuer_der, k) not in self._configured
                    and (i.issuer_der, k) in self._known):  # fmt: skip
                away.setdefault(i.issuer_der, []).append(self._known[i.issuer_der, k])
        return tuple(next((ca.spki for ca in (*self._ca_index.get(info.issuer_der, ()),
                                              *away.get(info.issuer_der, ()))
                           if check_crl(der, ca.der) is None), None)
                     for der, info in zip(ders, infos))  # fmt: skip

    def _read_file(self, s: _Source) -> tuple[object, bytes | None]:
        """(stat key, content): content None when the stat did not change since the last read;
        the caller records the key once it has dealt with the content (a failure records it
        here). The file system calls get ``timeout`` seconds (a mount that stopped answering
        fails this source, not the round); the source is not read again until a late call
        returns."""
        if s.io_stuck is not None:
            if not s.io_stuck.is_set():
                raise _FetchError(f"{s.location!r}: an earlier read has not returned "
                                  "(the file system does not answer)")  # fmt: skip
            s.io_stuck = None
        old = s.stat_key
        stop: threading.Event | None = getattr(_thread_stop, "event", None)
        try:
            key, data, error = _deadline.call(
                lambda: _stat_and_read(s.location, old, self._max_bytes), self._timeout,
                f"reading {s.location!r}", stop.is_set if stop is not None else None)  # fmt: skip
        except _deadline.DeadlineExceeded as exc:
            s.io_stuck = exc.done
            raise _FetchError(str(exc)) from None
        if error is not None:
            if key == old:
                return key, None  # the same failure as last time
            s.stat_key = key
            raise _FetchError(error)
        return key, data  # data None: unchanged

    def _fetch(self, s: _Source) -> tuple[bytes | None, str | None, str | None]:
        """(body, ETag, Last-Modified); body None for 304 Not Modified."""
        headers = dict(self._headers)
        # validators belong to the good content only, and only while it is current: a server
        # whose validators did not change with its CRL (a new CRL in the same second as the
        # old one's Last-Modified, an mtime + size ETag) would otherwise answer 304 for ever,
        # and an expired CRL stay in use; past its nextUpdate the request is unconditional
        if s.data is not None and not _expired(s.infos, time.time()):
            if s.etag:
                headers["If-None-Match"] = s.etag
            if s.last_modified:
                headers["If-Modified-Since"] = s.last_modified
        conditional = "If-None-Match" in headers or "If-Modified-Since" in headers
        req = urllib.request.Request(s.location, headers=headers)
        limit = 4 * self._timeout
        watch = _Watch(limit)
        _current_watch.watch = watch
        stop: threading.Event | None = getattr(_thread_stop, "event", None)
        with self._state_lock:  # stop() sets the event and reads the watches under this lock:
            self._watches[threading.get_ident()] = (watch, stop)  # it sees this watch, or ...
            if stop is not None and stop.is_set():  # ... this fetch sees that it stopped
                watch.expire()
        abandoned = f"fetch abandoned: longer than {limit:g} s, or stopped"
        try:
            try:
                got = self._fetch_request(req, conditional)
            except _FetchError:
                if watch.expired:
                    raise _FetchError(abandoned) from None
                raise
            if watch.expired:  # a connection shut down mid-body can read as a short, clean end
                raise _FetchError(abandoned)
            return got
        finally:
            _current_watch.watch = None
            with self._state_lock:
                self._watches.pop(threading.get_ident(), None)
            watch.close()

    def _fetch_request(
        self, req: urllib.request.Request, conditional: bool
    ) -> tuple[bytes | None, str | None, str | None]:
        """One request; its deadline is the caller's _Watch. A 304 answers only a conditional
        request (``conditional``): to any other it is an error."""
        try:
            with self._opener.open(req, timeout=self._timeout) as resp:
                if resp.status != 200:
                    raise _FetchError(f"HTTP {resp.status} {resp.reason}")
                length = (resp.headers.get("Content-Length") or "").strip()
                if length.isdigit() and int(length) > self._max_bytes:
                    raise _FetchError(
                        f"response of {int(length)} bytes exceeds max_bytes ({self._max_bytes})"
                    )
                chunks: list[bytes] = []
                total = 0
                while True:
                    chunk = resp.read(_CHUNK)
                    if not chunk:
                        break
                    total += len(chunk)
                    if total > self._max_bytes:
                        raise _FetchError(f"response exceeds max_bytes ({self._max_bytes})")
                    chunks.append(chunk)
                return b"".join(chunks), resp.headers.get("ETag"), resp.headers.get(
                    "Last-Modified"
                )
        except urllib.error.HTTPError as exc:
            try:
                if exc.code == 304 and conditional:
                    hdrs = exc.headers
                    return None, hdrs.get("ETag") if hdrs else None, (
                        hdrs.get("Last-Modified") if hdrs else None)  # fmt: skip
                raise _FetchError(f"HTTP {exc.code} {exc.reason}", _retry_after(exc.headers)
                                  ) from None  # fmt: skip
            finally:
                exc.close()
        except urllib.error.URLError as exc:
            raise _FetchError(f"cannot fetch: {exc.reason}") from None
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise _FetchError(f"cannot fetch: {type(exc).__name__}: {exc}") from None

    # -- bookkeeping ----------------------------------------------------------------------------

    def _success_delay(self, s: _Source) -> float:
        if s.kind == "file":
            return self._poll
        nexts = [i.next_update for i in s.infos if i.next_update is not None]
        if not nexts:
            return self._max_interval
        ahead = (min(nexts) - time.time()) * (1 - self._margin)
        return min(self._max_interval, max(self._min_interval, ahead))

    def _backoff(self, failures: int, retry_after: float | None) -> float:
        delay = min(self._backoff_max, self._backoff_base * 2.0 ** min(failures - 1, 60))
        delay *= 0.5 + 0.5 * self._rand.random()
        if retry_after is not None:
            delay = max(delay, min(retry_after, self._backoff_max))
        return delay

    def _failed(self, s: _Source, message: str, retry_after: float | None = None) -> None:
        with self._state_lock:
            s.last_error = message
            s.failures += 1
            s.due = time.monotonic() + (
                self._poll if s.kind == "file" else self._backoff(s.failures, retry_after))
        log.warning("CRL source %s: %s (failure %d)", s.location, message, s.failures)

    def _succeeded(self, s: _Source) -> None:
        """Caller holds the state lock. Content past its nextUpdate is no success, new or
        served again: the source has no current CRL (the set keeps the expired one, and
        ``expired_crl`` decides what it is worth), so it is reported and retried as a failure."""
        now = time.time()
        infos = self._describes(s, now)  # the CRLs in force, as status() describes them
        if _expired(infos, now):
            ended = min(i.next_update for i in infos if i.next_update is not None and
                        i.next_update < now)  # fmt: skip
            when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ended))
            s.last_error = f"its CRL expired at {when} (nextUpdate) and no newer one is published"
            s.failures += 1
            s.due = time.monotonic() + (
                self._poll if s.kind == "file" else self._backoff(s.failures, None))
            log.warning("CRL source %s: %s", s.location, s.last_error)
            return
        s.bad_digest = None
        if s.failures:
            log.info("CRL source %s recovered", s.location)
        s.last_success = time.time()
        s.last_error = None
        s.failures = 0
        s.due = time.monotonic() + self._success_delay(s)

    def _unchanged(self, s: _Source, same_stat: bool, etag: str | None, lm: str | None) -> None:
        with self._state_lock:
            if same_stat and s.last_error is not None:  # still the content that failed
                s.due = time.monotonic() + self._poll
                return
            if s.kind == "url":
                s.etag = etag or s.etag
                s.last_modified = lm or s.last_modified
            self._succeeded(s)

    def _build(self, ders: Sequence[bytes], cas: Sequence[bytes]) -> RevocationSet:
        return RevocationSet.build(ders, cas=cas, entries=self._entries, at=self._build_at)

    def _outgoing(self, s: _Source, infos: Sequence[CRLInfo]) -> tuple[_Content, ...]:
        """What source ``s`` builds in beside its content ``infos`` (new or held): nothing once
        all of it is in force at the round's time, else of the earlier contents (those kept and,
        for new content, the held one) the newest in force and every one issued for later
        (at most _MAX_AHEAD, the newest): the set ranks each by time and the round rebuilds when
        the next comes into force."""
        now = self._build_at
        if _in_force(infos, now):
            return ()
        earlier = s.outgoing
        if infos is not s.infos and s.data is not None:
            earlier += (s.content,)
        current = [c for c in earlier if _in_force(c.infos, now)][-1:]
        ahead = [c for c in earlier if not _in_force(c.infos, now)][-_MAX_AHEAD:]
        return (*current, *ahead)

    def _ders(self, s: _Source, pending: dict[_Source, _Pending], new: bool) -> tuple[bytes, ...]:
        """Source ``s``'s new (``new``) or held content, with the earlier content it needs."""
        content, infos, carried = ((pending[s].ders, pending[s].infos, pending[s].carried) if new
                                   else (s.ders, s.infos, s.carried))  # fmt: skip
        # the CRLs of keys a configured CA has now (a CA removed takes its CRLs out); new content
        # with a CRL no key verified, or none a configured CA has, goes to the build whole,
        # which refuses it and says why
        if not new:
            content = self._usable(content, infos, s.signers)
        elif None not in pending[s].signers:
            content = self._usable(content, infos, pending[s].signers) or content
        out = [*content, *(c.der for c in carried
                           if (c.info.issuer_der, c.signer) in self._configured)]  # fmt: skip
        for c in self._outgoing(s, infos):
            out.extend(self._usable(c.ders, c.infos, c.signers))
        return tuple(out)

    def _usable(self, ders: Sequence[bytes], infos: Sequence[CRLInfo],
                signers: Sequence[bytes | None]) -> tuple[bytes, ...]:  # fmt: skip
        """The CRLs of ``ders`` whose recorded signing key a configured CA has now: a CA removed
        takes its own CRLs out of a source's content, not the others' beside them."""
        return tuple(d for d, i, k in zip(ders, infos, signers)
                     if (i.issuer_der, k) in self._configured)  # fmt: skip

    def _assemble(
        self, pending: dict[_Source, _Pending], cas: Sequence[bytes]
    ) -> tuple[RevocationSet, dict[_Source, str], dict[_Source, str], set[_Source]]:
        """(set, errors of rejected new content, errors of unusable held content, sources in the
        set). Everything at once first; when that fails, source by source (bases before deltas),
        each with its new content, else its held content, else left out. A source of base CRLs
        only is checked alone (bases of other sources cannot make it fail), so that one bad source
        among many costs a build per source, not one of everything accepted so far per source;
        a source with deltas is checked with the bases accepted before it."""
        chosen = [s for s in self._sources if s in pending or s.data is not None or s.carried]
        try:
            every = [d for s in chosen for d in self._ders(s, pending, s in pending)]
            return self._build(every, cas), {}, {}, set(chosen)
        except FastMTLSError:
            pass
        _, rejected, held, in_set, accepted = self._assemble_by_source(chosen, pending, cas,
                                                                       alone=True)  # fmt: skip
        try:  # the sources each usable: together too, unless they conflict (then as before)
            return self._build(accepted, cas), rejected, held, in_set
        except FastMTLSError:
            rs, rejected, held, in_set, _ = self._assemble_by_source(chosen, pending, cas,
                                                                     alone=False)  # fmt: skip
            return rs, rejected, held, in_set

    def _assemble_by_source(
        self, chosen: list[_Source], pending: dict[_Source, _Pending], cas: Sequence[bytes],
        *, alone: bool,
    ) -> tuple[RevocationSet, dict[_Source, str], dict[_Source, str], set[_Source], list[bytes]]:
        """_assemble's fallback: each source's new content, else its held content, checked with
        the CRLs accepted before it (``alone``: a base-only source by itself); also the DER of
        everything accepted."""
        rejected: dict[_Source, str] = {}
        held: dict[_Source, str] = {}
        in_set: set[_Source] = set()
        accepted: list[bytes] = []
        result: RevocationSet | None = None

        def is_delta(s: _Source) -> bool:  # (a carried delta needs its base from elsewhere too)
            carried = pending[s].carried if s in pending else s.carried
            return (any(i.delta for i in pending[s].infos) if s in pending else s.has_delta) or any(
                c.info.delta for c in carried)  # fmt: skip

        for s in sorted(chosen, key=is_delta):
            options: list[tuple[tuple[bytes, ...], bool]] = []
            if s in pending:
                options.append((self._ders(s, pending, True), True))
            if s.data is not None or s.carried:
                options.append((self._ders(s, pending, False), False))
            with_accepted = not alone or is_delta(s)
            for ders, new in options:
                try:
                    result = self._build([*accepted, *ders] if with_accepted else list(ders), cas)
                except FastMTLSError as exc:
                    if new:
                        rejected[s] = str(exc)
                    else:
                        held[s] = f"held CRLs no longer usable: {exc}"
                    continue
                accepted.extend(ders)
                in_set.add(s)
                break
        if result is None:
            result = self._build([], cas)
        return result, rejected, held, in_set, accepted

    def _rebuild(
        self, pending: dict[_Source, _Pending], cas: tuple[bytes, ...]
    ) -> RevocationSet | None:
        """Builds the set from every usable source; returns it when it was published."""
        # one time for every build of the round and for what it says is in force (read once: a
        # CRL coming into force during a slow build would otherwise be neither built in nor
        # waited for)
        now = self._build_at = int(time.time())
        rs, rejected, held, in_set = self._assemble(pending, cas)
        with self._state_lock:
            for s in self._sources:
                s.in_set = s in in_set
                s.held_error = held.get(s)
                if s in pending:
                    s.stat_key = pending[s].stat_key
                if s in pending and s not in rejected:
                    p = pending[s]
                    s.outgoing = self._outgoing(s, p.infos)
                    s.data, s.ders, s.infos = p.data, p.ders, p.infos
                    s.signers, s.carried = p.signers, p.carried
                    s.etag, s.last_modified = p.etag, p.last_modified
                    s.version += 1
                    self._succeeded(s)
                else:
                    s.outgoing = self._outgoing(s, s.infos)
                    # the held CRLs whose key no configured CA has (a CA removed) are left out
                    # of the set: said, and a source left with none is not in it
                    # (some left out, others in use: the source is still needed, as it is)
                    left_out = len(s.ders) - len(self._usable(s.ders, s.infos, s.signers))
                    if s.in_set and left_out and not self._ders(s, pending, False):
                        s.in_set = False
                        s.held_error = s.held_error or (
                            f"{left_out} held CRL(s) left out of the set: no configured CA has "
                            "their key")  # fmt: skip
        for s, message in rejected.items():
            self._failed(s, message)
        with self._state_lock:
            for s in self._sources:
                if s in pending:
                    s.rejected = s in rejected
                    if s.rejected:
                        s.bad_digest = pending[s].digest
            if any(s in pending and s not in rejected for s in self._sources):
                for s in self._sources:
                    # a file refused beside what was, not what is, is read again at once (a URL
                    # keeps its back-off: its next fetch is built beside the sources as they are)
                    if s.rejected and s not in pending and s.kind == "file":
                        s.stat_key = _NEVER
                        s.bad_digest = None
                        s.due = min(s.due, time.monotonic())
        held_updates = [c.info.this_update for s in self._sources if s.in_set
                        for c in s.held_crls()
                        if (c.info.issuer_der, c.signer) in self._configured]  # fmt: skip
        self._next_in_force = min((t for t in held_updates if t > now), default=None)
        # the CRLs in force are part of what the set was built from (one coming into force can
        # also let an earlier one go: their times, not their number)
        in_force = tuple(sorted(t for t in held_updates if t <= now))
        key = (tuple((s.uid, s.version) for s in self._sources if s.in_set), cas, in_force)
        if key == self._published_key:
            return None
        if self._published_key is None and self._sources and not any(
                s.in_set for s in self._sources):  # fmt: skip
            return None  # nothing usable yet: leave the targets' sets alone
        self._published_key = key
        self._publish(rs)
        return rs

    def _publish(self, rs: RevocationSet) -> None:
        with self._publish_lock:
            self._current = rs
            self._published_at = time.time()
            for v in self._targets:
                v.revocations = rs  # one reference assignment: the verifier's atomic hot swap
        log.info("published revocation set: %d entries, %d issuers", len(rs), len(rs.issuers()))

