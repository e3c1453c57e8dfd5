"""``fastmtls demo``: mutual TLS end to end on this machine, in a few seconds.

The demo builds a throwaway PKI with ``cryptography`` (a root CA, an intermediate that issues the
client certificates and a CRL, a server certificate for ``127.0.0.1``/``localhost``, and client
certificates: a good one, an expired one, a revoked one and one from a foreign root), starts an
HTTPS server on ``127.0.0.1`` whose :class:`ssl.SSLContext` carries the fastmtls handshake hook in
record mode, connects to it with every client certificate and with none, and prints what the
server saw: each request is answered with the connection's fastmtls result as JSON.

``fastmtls demo --keep DIR`` also writes the PKI into ``DIR`` (a new or empty directory: the demo
never replaces a file, nor writes through a link) as PEM files and keeps the server running until
Ctrl-C or SIGTERM, so that ``curl`` (or anything else) can try it. Without ``--keep`` the PKI,
private keys included, lives in a temporary directory that is removed however the demo ends.

Exit status: 0 when the good client was accepted (``SUCCESS``, not revoked) and no other client
was (with ``--keep``, once stopped by Ctrl-C or SIGTERM); 1 otherwise; 2 when the handshake hook
cannot work with this Python's ssl module or ``DIR`` is not usable; 130 (Ctrl-C) or 143 (SIGTERM)
when interrupted before the clients' results were in.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import signal
import socket
import ssl
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any, TextIO

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from . import ssl as hook
from .cli import emit
from .errors import ConfigurationError
from .revocation import RevocationSet
from .store import TrustStore
from .verifier import Verifier

__all__ = ["DemoPKI", "Outcome", "build_pki", "main", "run_clients", "start_server"]

HOST = "127.0.0.1"
SERVER_NAME = "localhost"
CLIENTS = ("good", "expired", "revoked", "foreign", "none")
_ORG = "fastmtls demo"


# ---- PKI ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Issued:
    """A certificate and the private key of its subject."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def der(self) -> bytes:
        """The certificate, DER."""
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def pem(self) -> bytes:
        """The certificate, PEM."""
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        """The private key, unencrypted PKCS#8 PEM."""
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


@dataclass(frozen=True)
class DemoPKI:
    """The demo's certificates, CRL and the files they were written to."""

    root: Issued
    intermediate: Issued
    server: Issued
    foreign_root: Issued
    clients: dict[str, Issued]  # good, expired, revoked, foreign
    crl: x509.CertificateRevocationList
    directory: Path

    def path(self, name: str) -> Path:
        """Path of one of the files written by :func:`write_pki`."""
        return self.directory / name


def _name(common_name: str) -> x509.Name:
    """O first, then CN, in the certificate: RFC 2253 (the fields) prints the last RDN first,
    "CN=good client,O=fastmtls demo", as the README's example reads."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORG),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _issue(
    common_name: str,
    issuer: Issued | None,
    *,
    not_before: dt.datetime,
    not_after: dt.datetime,
    is_ca: bool,
    eku: x509.ObjectIdentifier | None = None,
    san: list[x509.GeneralName] | None = None,
) -> Issued:
    """One certificate with a fresh P-256 key; ``issuer=None`` self-signs."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = _name(common_name)
    sign_key = key if issuer is None else issuer.key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject if issuer is None else issuer.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not is_ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=is_ca,
                crl_sign=is_ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(sign_key.public_key()), False
        )
    )
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return Issued(builder.sign(sign_key, hashes.SHA256()), key)


def build_pki(directory: Path, *, days: int = 30) -> DemoPKI:
    """Build the demo PKI, valid around now, and write it into ``directory`` (see
    :func:`write_pki`)."""
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    start, end = now - dt.timedelta(hours=1), now + dt.timedelta(days=days)
    root = _issue("fastmtls demo root CA", None, not_before=start, not_after=end, is_ca=True)
    inter = _issue("fastmtls demo client CA", root, not_before=start, not_after=end, is_ca=True)
    server = _issue(
        SERVER_NAME,
        root,
        not_before=start,
        not_after=end,
        is_ca=False,
        eku=ExtendedKeyUsageOID.SERVER_AUTH,
        san=[x509.DNSName(SERVER_NAME), x509.IPAddress(IPv4Address(HOST))],
    )
    foreign_root = _issue("some other root CA", None, not_before=start, not_after=end, is_ca=True)
    client = ExtendedKeyUsageOID.CLIENT_AUTH
    clients = {
        "good": _issue(
            "good client", inter, not_before=start, not_after=end, is_ca=False, eku=client
        ),
        "expired": _issue(
            "expired client",
            inter,
            not_before=now - dt.timedelta(days=60),
            not_after=now - dt.timedelta(days=1),
            is_ca=False,
            eku=client,
        ),
        "revoked": _issue(
            "revoked client", inter, not_before=start, not_after=end, is_ca=False, eku=client
        ),
        "foreign": _issue(
            "foreign client", foreign_root, not_before=start, not_after=end, is_ca=False, eku=client
        ),
    }
    revoked = (
        x509.RevokedCertificateBuilder()
        .serial_number(clients["revoked"].cert.serial_number)
        .revocation_date(start)
        .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
        .build()
    )
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(inter.cert.subject)
        .last_update(start)
        .next_update(now + dt.timedelta(days=7))
        .add_revoked_certificate(revoked)
        .add_extension(x509.CRLNumber(1), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(inter.key.public_key()), False
        )
        .sign(inter.key, hashes.SHA256())
    )
    pki = DemoPKI(root, inter, server, foreign_root, clients, crl, directory)
    write_pki(pki)
    return pki


def _create(path: Path, data: bytes, mode: int) -> None:
    """Write a new file ``path`` with ``mode``: never an existing file (it would keep its own
    mode, 0644 for a file that now holds a private key), never through a symbolic link (O_EXCL
    refuses any name that exists); FileExistsError otherwise."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def write_pki(pki: DemoPKI) -> None:
    """Write ``ca.pem`` (the root: trusted for client certificates, and the server's issuer),
    ``intermediate.pem``, ``server.pem``/``server.key``, ``NAME.pem`` (leaf then intermediate)
    and ``NAME.key`` for every client, ``foreign-ca.pem`` and ``crl.pem``, as new files (an
    existing one is FileExistsError: see :func:`_create`). Keys are mode 0600."""
    d = pki.directory
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    files: dict[str, bytes] = {
        "ca.pem": pki.root.pem,
        "intermediate.pem": pki.intermediate.pem,
        "server.pem": pki.server.pem,
        "foreign-ca.pem": pki.foreign_root.pem,
        "crl.pem": pki.crl.public_bytes(serialization.Encoding.PEM),
    }
    for name, issued in pki.clients.items():
        chain = issued.pem + (pki.intermediate.pem if name != "foreign" else b"")
        files[f"{name}.pem"] = chain
    for name, data in files.items():
        _create(d / name, data, 0o644)
    keys = {"server.key": pki.server, **{f"{n}.key": c for n, c in pki.clients.items()}}
    for name, issued in keys.items():
        _create(d / name, issued.key_pem, 0o600)


# ---- server ---------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    """Answers every GET with the connection's fastmtls result as JSON."""

    server: _DemoServer
    protocol_version = "HTTP/1.0"

    def setup(self) -> None:
        """Run the TLS handshake (in this connection's thread), then set up the streams."""
        self.request.settimeout(10)
        self.request.do_handshake()
        super().setup()

    def do_GET(self) -> None:
        """The result of this connection's handshake, as JSON."""
        conn = self.connection
        assert isinstance(conn, ssl.SSLSocket)
        res = hook.result(conn)
        body = {
            **res.as_dict(),
            "reason": res.reason.name,
            "anchor": res.anchor_name,
            "tls_version": conn.version(),
            "session_reused": conn.session_reused,
        }
        data = (json.dumps(body, indent=2) + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        if self.server.log is not None:
            subject = res.fields()["cert_subject_dn"] or "-"
            emit(
                f"{self.client_address[0]}:{self.client_address[1]} {res.status} "
                f"revoked={res.revoked} {subject}",
                self.server.log,
            )

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the demo prints its own lines."""


class _DemoServer(ThreadingHTTPServer):
    """A threaded HTTPS server; each connection's handshake runs in its own thread."""

    daemon_threads = True

    def __init__(self, port: int, context: ssl.SSLContext, log: TextIO | None) -> None:
        self.context = context
        self.log = log
        super().__init__((HOST, port), _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        """Accept a TCP connection and wrap it (the handshake happens in the handler)."""
        sock, addr = super().get_request()
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        """One line for a failed connection (a client that gave up, a failed handshake)."""
        if self.log is not None:
            exc = sys.exc_info()[1]
            emit(f"{client_address[0]}:{client_address[1]} connection failed: {exc}", self.log)


def make_verifier(pki: DemoPKI) -> Verifier:
    """A verifier trusting the demo root, with the intermediate's CRL."""
    store = TrustStore()
    store.add_der(pki.root.der, name="demo root")
    crl = pki.crl.public_bytes(serialization.Encoding.DER)
    return Verifier(store, revocations=RevocationSet.build([crl], cas=[pki.intermediate.der]))


def start_server(
    pki: DemoPKI, verifier: Verifier, *, port: int = 0, log: TextIO | None = None
) -> tuple[_DemoServer, threading.Thread]:
    """Start the HTTPS server (hook in record mode) on ``127.0.0.1:port`` in a thread. It polls
    for shutdown every 50 ms (socketserver's default, 0.5 s, made every run's shutdown() wait
    that long)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki.path("server.pem"), pki.path("server.key"))
    hook.install(ctx, verifier, mode="record")
    server = _DemoServer(port, ctx, log)
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="fastmtls-demo", daemon=True
    )
    thread.start()
    return server, thread


# ---- clients --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What one client saw: the server's JSON answer (or an error) and the handshake time."""

    client: str
    body: dict[str, Any]
    handshake_ms: float
    error: str | None = None

    @property
    def status(self) -> str:
        """The fastmtls status the server reported (``ERROR`` when there was no answer)."""
        return str(self.body.get("status", "ERROR"))

    @property
    def accepted(self) -> bool:
        """Verified and not revoked: what an application would let in."""
        return bool(self.body.get("cert_verified")) and not self.body.get("cert_revoked")


def _client_context(pki: DemoPKI, client: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(pki.path("ca.pem"))
    if client != "none":
        ctx.load_cert_chain(pki.path(f"{client}.pem"), pki.path(f"{client}.key"))
    return ctx


def _http_get(tls: ssl.SSLSocket) -> dict[str, Any]:
    tls.sendall(f"GET / HTTP/1.0\r\nHost: {SERVER_NAME}\r\n\r\n".encode())
    chunks = []
    while True:
        data = tls.recv(65536)
        if not data:
            break
        chunks.append(data)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.0 200"):
        raise OSError(f"unexpected answer: {head[:80]!r}")
    answer: dict[str, Any] = json.loads(body)
    return answer


def connect(pki: DemoPKI, port: int, client: str) -> Outcome:
    """Connect as ``client`` (a name of :data:`CLIENTS`), GET /, and return what it saw."""
    ctx = _client_context(pki, client)
    ms = 0.0
    try:
        with socket.create_connection((HOST, port), timeout=10) as sock:
            with ctx.wrap_socket(
                sock, server_hostname=SERVER_NAME, do_handshake_on_connect=False
            ) as tls:
                t0 = time.perf_counter()
                tls.do_handshake()
                ms = (time.perf_counter() - t0) * 1000
                return Outcome(client, _http_get(tls), ms)
    except (OSError, ValueError) as exc:
        return Outcome(client, {}, ms, error=str(exc))


def run_clients(pki: DemoPKI, port: int) -> list[Outcome]:
    """Connect once with every demo client (and without a certificate), after one unmeasured
    connection without a certificate that warms up both ends' TLS machinery."""
    connect(pki, port, "none")
    return [connect(pki, port, client) for client in CLIENTS]


# ---- output ---------------------------------------------------------------------------------


def format_table(outcomes: list[Outcome]) -> str:
    """The outcomes as a text table."""
    header = ("client", "status", "verified", "revoked", "subject DN", "handshake")
    rows = [header]
    for o in outcomes:
        status = o.status if o.error is None else f"ERROR: {o.error}"
        rows.append(
            (
                o.client if o.client != "none" else "(no certificate)",
                status,
                "yes" if o.body.get("cert_verified") else "no",
                "yes" if o.body.get("cert_revoked") else "no",
                str(o.body.get("cert_subject_dn") or "-"),
                f"{o.handshake_ms:.1f} ms",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def check(outcomes: list[Outcome]) -> list[str]:
    """Problems: the good client not accepted, or another one accepted."""
    problems = []
    for o in outcomes:
        if o.error is not None:
            problems.append(f"{o.client}: {o.error}")
        elif (o.client == "good") != o.accepted:
            problems.append(f"{o.client}: {o.status}, revoked={o.body.get('cert_revoked')}")
    return problems


class _Interrupted(BaseException):
    """SIGINT or SIGTERM, raised in the main thread by :class:`_Signals` (a BaseException, as
    KeyboardInterrupt: no ``except Exception`` on the way catches it)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class _Signals:
    """SIGINT and SIGTERM while the demo runs: the first one raises :class:`_Interrupted` in the
    main thread, so that the server stops and the temporary PKI (private keys) is removed on the
    way out, where SIGTERM's default action would leave it behind. Once ``stopping`` is set (by
    that first signal, or by the cleanup as it starts) signals are ignored: they cannot cut the
    cleanup short or end it with a traceback. Installed only in the main thread (Python runs
    handlers there only) and for a signal not ignored (``nohup``, a background job); the previous
    handlers come back on exit."""

    def __init__(self) -> None:
        self.stopping = False
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if not self.stopping:
            self.stopping = True
            raise _Interrupted(signum)

    def __enter__(self) -> _Signals:
        self.stopping = True  # not raised before every handler is in (and __exit__ due)
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                if signal.getsignal(sig) is not signal.SIG_IGN:
                    self._previous[sig] = signal.signal(sig, self._handle)
        self.stopping = False
        return self

    def __exit__(self, *exc_info: object) -> None:
        for sig, previous in self._previous.items():
            # None: a handler not installed from Python, which is the default one
            signal.signal(sig, signal.SIG_DFL if previous is None else previous)


def _keep_directory(keep: str) -> Path:
    """The ``--keep`` directory, absolute (the curl lines print it), created (mode 0700) when
    missing. ConfigurationError for a symbolic link, a file, or a directory that is not empty:
    the demo writes private keys there, and must neither replace the user's files nor write
    where links planted in it point."""
    directory = Path(os.path.abspath(keep))
    if directory.is_symlink():
        raise ConfigurationError(f"--keep {keep}: a symbolic link; give a new or empty directory")
    if directory.exists() and not directory.is_dir():
        raise ConfigurationError(f"--keep {keep}: not a directory; give a new or empty directory")
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if any(directory.iterdir()):
        raise ConfigurationError(
            f"--keep {keep}: the directory is not empty; give a new or empty directory"
        )
    return directory


def _serve_until_interrupted(pki: DemoPKI, port: int, out: TextIO) -> None:
    """Print how to try the server with curl, then serve until SIGINT or SIGTERM (the end the
    demo offers with ``--keep``, not an interruption)."""
    d = pki.directory
    emit(f"\nPKI written to {d}/ (ca.pem = the root; NAME.pem/NAME.key = client certificates)", out)
    emit(f"Server running on https://{HOST}:{port}/ - try, then press Ctrl-C to stop:\n", out)

    def q(name: str) -> str:  # a path a shell takes as one word (a directory with a space)
        return shlex.quote(str(d / name))

    for client in ("good", "expired", "revoked", "foreign"):
        emit(
            f"  curl --cacert {q('ca.pem')} --cert {q(client + '.pem')} --key "
            f"{q(client + '.key')} https://{HOST}:{port}/",
            out,
        )
    emit(f"  curl --cacert {q('ca.pem')} https://{HOST}:{port}/\n", out)
    try:
        while True:
            time.sleep(3600)
    except _Interrupted:
        emit("stopped", out)


def _run(keep: Path | None, port: int, out: TextIO, signals: _Signals) -> int:
    """The demo proper (see :func:`main`): in ``keep``, serving until stopped, or else in a
    temporary directory that is removed on the way out, whatever ends the run (interrupted
    before the cleanup below, it goes with the TemporaryDirectory's own finalizer)."""
    tmp: tempfile.TemporaryDirectory[str] | None = None
    if keep is None:
        tmp = tempfile.TemporaryDirectory(prefix="fastmtls-demo-")
        directory = Path(tmp.name)
    else:
        directory = keep
    server: _DemoServer | None = None
    try:
        pki = build_pki(directory)
        verifier = make_verifier(pki)
        server, thread = start_server(pki, verifier, port=port)
        bound = server.server_address[1]
        emit(
            f"fastmtls demo: https://{HOST}:{bound}/ (Python ssl + fastmtls.ssl hook, "
            f"record mode; {ssl.OPENSSL_VERSION})\n",
            out,
        )
        outcomes = run_clients(pki, int(bound))
        emit(format_table(outcomes), out)
        tls = {str(o.body["tls_version"]) for o in outcomes if "tls_version" in o.body}
        emit(
            f"\nhandshake: client-side time of do_handshake() ({', '.join(sorted(tls))})"
            "\nrevoked: on the client CA's CRL; verified stays yes (Cloudflare semantics)",
            out,
        )
        problems = check(outcomes)
        for p in problems:
            emit(f"UNEXPECTED: {p}", out)
        if keep is not None:
            server.log = out  # from now on, one line per request
            _serve_until_interrupted(pki, int(bound), out)
        return 1 if problems else 0
    finally:
        signals.stopping = True  # a signal from here on is ignored
        if server is not None:
            server.shutdown()
            server.server_close()
            thread.join(5)
        if tmp is not None:
            tmp.cleanup()


def main(keep: str | None = None, port: int = 0, out: TextIO | None = None) -> int:
    """Run the demo; with ``keep``, write the PKI there and serve until interrupted. Ctrl-C or
    SIGTERM before the clients' results are in ends it quietly with status 130 or 143."""
    out = out if out is not None else sys.stdout
    if not hook.available():
        print(
            "fastmtls demo: the handshake hook cannot work with this Python's ssl module "
            "(fastmtls.ssl.available() is False)",
            file=sys.stderr,
        )
        return 2
    directory = None
    if keep is not None:
        try:
            directory = _keep_directory(keep)
        except ConfigurationError as exc:
            print(f"fastmtls demo: {exc}", file=sys.stderr)
            return 2
    try:
        with _Signals() as signals:
            return _run(directory, port, out, signals)
    except _Interrupted as exc:
        return 128 + exc.signum
