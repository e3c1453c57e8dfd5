"""Real TLS handshakes for the tests of ``fastmtls.ssl``: a PKI valid around *now* (handshakes
verify at the current time, not at ``pki.NOW``), server and client contexts, handshakes over
memory BIOs and over loopback sockets (a small threaded TLS server answering HTTP with the
connection's fastmtls result as JSON), and ``openssl s_client`` / ``curl`` runners.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any, Callable

import pki
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

import fastmtls
import fastmtls.ssl as fssl
from fastmtls._ffi import ffi

UTC = dt.timezone.utc
HOST = "127.0.0.1"
SERVER_DNS = ("localhost", "a.example", "b.example")
VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}
HTTP_GET = b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n"
OPENSSL = shutil.which("openssl")
CURL = shutil.which("curl")

# clients issued by the intermediate, which they send after their leaf
INTER_CLIENTS = ("good", "revocable", "expired", "not_yet_valid", "bad_sig", "wrong_eku",
                 "critical_ext")  # fmt: skip
UNKNOWN_CRITICAL = x509.ObjectIdentifier("1.3.6.1.4.1.55738.666.1")


# ---- PKI ------------------------------------------------------------------------------------


@dataclass
class LivePKI:
    """Certificates valid around now, and their PEM files in ``directory``.

    Roots: ``root`` (issues ``inter``, which issues the clients of :data:`INTER_CLIENTS`, and the
    server certificate), ``other`` (issues ``foreign``), ``ca_a``/``ca_b`` (issue ``from_a`` and
    ``from_b``), ``pathlen_root`` (pathLen 0, yet issues an intermediate that issues
    ``pathlen``; also a non-CA "intermediate" that issues ``non_ca_issued``).
    ``self_signed`` is a self-signed leaf; ``foreign_with_root`` is ``foreign`` sending its root
    too. ``clients[name]`` is the leaf, ``sent[name]`` what that client sends; ``cas`` the roots
    by name.
    """

    root: pki.Cert
    inter: pki.Cert
    other: pki.Cert
    ca_a: pki.Cert
    ca_b: pki.Cert
    server: pki.Cert
    clients: dict[str, pki.Cert]
    sent: dict[str, list[pki.Cert]]
    directory: Path
    cas: dict[str, pki.Cert] = field(default_factory=dict)

    def chain_file(self, name: str) -> str:
        """PEM file: the client's leaf then what it sends after it."""
        return str(self.directory / f"{name}.pem")

    def leaf_file(self, name: str) -> str:
        """PEM file: the client's leaf alone."""
        return str(self.directory / f"{name}.leaf.pem")

    def key_file(self, name: str) -> str:
        """PEM file: the private key of ``name`` (a client, or ``server``)."""
        return str(self.directory / f"{name}.key")

    def file(self, name: str) -> str:
        """Path of ``root.pem``, ``inter.pem``, ``server.pem``, ..."""
        return str(self.directory / name)

    def subject(self, name: str) -> str:
        """The client leaf's subject as fastmtls formats it (RFC 2253)."""
        return self.clients[name].cert.subject.rfc4514_string()

    def crl(self, *revoked: str, issuer: pki.Cert | None = None, expired: bool = False,
            future: bool = False) -> bytes:
        """A DER CRL from ``issuer`` (default: the intermediate) revoking the named clients;
        ``expired``: its nextUpdate is yesterday; ``future``: its thisUpdate is tomorrow."""
        ca = issuer or self.inter
        now = dt.datetime.now(UTC)
        shift = dt.timedelta(days=2 if expired else -2 if future else 0)
        b = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(ca.cert.subject)
            .last_update(now - dt.timedelta(hours=1) - shift)
            .next_update(now + dt.timedelta(days=1) - shift)
        )
        for name in revoked:
            b = b.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(self.clients[name].cert.serial_number)
                .revocation_date(now - dt.timedelta(minutes=5))
                .build()
            )
        return b.sign(ca.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    def revocations(self, *revoked: str, expired: bool = False,
                    future: bool = False) -> fastmtls.RevocationSet:
        """A RevocationSet from the intermediate's CRL revoking the named clients."""
        crl = self.crl(*revoked, expired=expired, future=future)
        return fastmtls.RevocationSet.build([crl], cas=[self.inter.der])


def _key_pem(c: pki.Cert) -> bytes:
    return c.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def build_live_pki(directory: Path) -> LivePKI:
    """Build :class:`LivePKI` (every certificate valid from an hour ago for 30 days, except the
    expired and not-yet-valid clients) and write its files."""
    now = dt.datetime.now(UTC).replace(microsecond=0)
    valid = {"not_before": now - dt.timedelta(hours=1), "not_after": now + dt.timedelta(days=30)}
    root = pki.ca("Live Root CA", **valid)
    inter = pki.intermediate(root, "Live Client CA", **valid)
    other = pki.ca("Other Root CA", **valid)
    ca_a = pki.ca("Tenant A CA", **valid)
    ca_b = pki.ca("Tenant B CA", **valid)
    pathlen_root = pki.ca("Path Length Zero Root CA", path_len=0, **valid)
    pathlen_inter = pki.intermediate(pathlen_root, "Too Deep CA", **valid)
    non_ca = pki.issue(subject="Not A CA", issuer=pathlen_root, ca=False,
                       key_usage={"key_cert_sign", "digital_signature"}, **valid)  # fmt: skip
    policy_inter = pki.intermediate(root, "Policy Requiring CA", **valid, extra_extensions=[(
        x509.PolicyConstraints(require_explicit_policy=0, inhibit_policy_mapping=None), True)])
    server = pki.leaf(
        root,
        "localhost",
        eku=[pki.SERVER_AUTH],
        san=[*(x509.DNSName(n) for n in SERVER_DNS), x509.IPAddress(IPv4Address(HOST))],
        **valid,
    )
    clients = {
        "good": pki.leaf(inter, "CN=good client,O=fastmtls tests", **valid),
        "revocable": pki.leaf(inter, "CN=revocable client,O=fastmtls tests", **valid),
        "expired": pki.leaf(inter, "CN=expired client,O=fastmtls tests",
                            not_before=now - dt.timedelta(days=60),
                            not_after=now - dt.timedelta(days=1)),
        "not_yet_valid": pki.leaf(inter, "CN=future client,O=fastmtls tests",
                                  not_before=now + dt.timedelta(days=1),
                                  not_after=now + dt.timedelta(days=30)),
        "bad_sig": pki.leaf(inter, "CN=tampered client,O=fastmtls tests", tamper_signature=True,
                            **valid),
        "wrong_eku": pki.leaf(inter, "CN=server-only client,O=fastmtls tests",
                              eku=[pki.SERVER_AUTH], **valid),
        "foreign": pki.leaf(other, "CN=foreign client,O=fastmtls tests", **valid),
        "from_a": pki.leaf(ca_a, "CN=tenant a client,O=fastmtls tests", **valid),
        "from_b": pki.leaf(ca_b, "CN=tenant b client,O=fastmtls tests", **valid),
        "critical_ext": pki.leaf(inter, "CN=critical client,O=fastmtls tests", **valid,
                                 extra_extensions=[(x509.UnrecognizedExtension(
                                     UNKNOWN_CRITICAL, b"\x05\x00"), True)]),
        "pathlen": pki.leaf(pathlen_inter, "CN=too deep client,O=fastmtls tests", **valid),
        "non_ca_issued": pki.leaf(non_ca, "CN=non-CA issued client,O=fastmtls tests", **valid),
        # its CA requires an explicit policy, and the leaf names none
        "policy_required": pki.leaf(policy_inter, "CN=policy-less client,O=fastmtls tests",
                                    **valid),
        "self_signed": pki.issue(subject="CN=self-signed client,O=fastmtls tests", ca=False,
                                 key_usage={"digital_signature"}, eku=[pki.CLIENT_AUTH],
                                 san=list(pki.CLIENT_SAN), **valid),
    }  # fmt: skip
    clients["foreign_with_root"] = clients["foreign"]
    sent = {n: [c, inter] if n in INTER_CLIENTS else [c] for n, c in clients.items()}
    sent["pathlen"].append(pathlen_inter)
    sent["non_ca_issued"].append(non_ca)
    sent["policy_required"].append(policy_inter)
    sent["foreign_with_root"].append(other)
    cas = {"root": root, "other": other, "ca_a": ca_a, "ca_b": ca_b, "pathlen_root": pathlen_root}
    live = LivePKI(root, inter, other, ca_a, ca_b, server, clients, sent, directory, cas)
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        "root.pem": root.pem, "inter.pem": inter.pem, "other.pem": other.pem,
        "ca_a.pem": ca_a.pem, "ca_b.pem": ca_b.pem,
        "server.pem": server.pem, "server.key": _key_pem(server),
    }  # fmt: skip
    for name, c in clients.items():
        files[f"{name}.pem"] = pki.pem_bundle(*sent[name])
        files[f"{name}.leaf.pem"] = c.pem
        files[f"{name}.key"] = _key_pem(c)
    for name, data in files.items():
        (directory / name).write_bytes(data)
    return live


def make_verifier(
    *cas: tuple[str, pki.Cert], associations: dict[str, list[str]] | None = None, **kw: Any
) -> fastmtls.Verifier:
    """A Verifier over a new store holding ``(name, CA)`` pairs, with host associations."""
    store = fastmtls.TrustStore()
    for name, c in cas:
        store.add_der(c.der, name=name)
    for host, names in (associations or {}).items():
        store.associate(host, names)
    return fastmtls.Verifier(store, **kw)


# ---- contexts -------------------------------------------------------------------------------


def server_context(
    live: LivePKI, verifier: fastmtls.Verifier | None, mode: str = "record", **install_kw: Any
) -> ssl.SSLContext:
    """A TLS server context with the live server certificate and (unless ``verifier`` is None)
    the fastmtls hook installed."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(live.file("server.pem"), live.key_file("server"))
    if verifier is not None:
        fssl.install(ctx, verifier, mode=mode, **install_kw)
    return ctx


def client_context(
    live: LivePKI, name: str | None = None, *, version: str | None = None, tickets: bool = True
) -> ssl.SSLContext:
    """A TLS client context trusting the live root, presenting client ``name`` (None: no
    certificate), pinned to TLS ``version`` ("1.2"/"1.3") when given."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(live.file("root.pem"))
    if name is not None:
        ctx.load_cert_chain(live.chain_file(name), live.key_file(name))
    if version is not None:
        ctx.minimum_version = ctx.maximum_version = VERSIONS[version]
    if not tickets:
        ctx.options |= ssl.OP_NO_TICKET
    return ctx


# ---- memory BIO handshakes ------------------------------------------------------------------


def _move(src: ssl.MemoryBIO, dst: ssl.MemoryBIO) -> bool:
    data = src.read()
    if data:
        dst.write(data)
    return bool(data)


@dataclass
class BioPair:
    """One client and one server SSLObject wired together with memory BIOs."""

    server: ssl.SSLObject
    client: ssl.SSLObject
    s_in: ssl.MemoryBIO
    s_out: ssl.MemoryBIO
    c_in: ssl.MemoryBIO
    c_out: ssl.MemoryBIO
    done: dict[str, bool] = field(default_factory=lambda: {"server": False, "client": False})
    errors: dict[str, ssl.SSLError | None] = field(
        default_factory=lambda: {"server": None, "client": None}
    )

    @classmethod
    def open(
        cls,
        sctx: ssl.SSLContext,
        cctx: ssl.SSLContext,
        *,
        hostname: str | None = "localhost",
        session: ssl.SSLSession | None = None,
    ) -> BioPair:
        """Both ends, before any byte moved."""
        s_in, s_out, c_in, c_out = (ssl.MemoryBIO() for _ in range(4))
        server = sctx.wrap_bio(s_in, s_out, server_side=True)
        client = cctx.wrap_bio(c_in, c_out, server_hostname=hostname, session=session)
        return cls(server, client, s_in, s_out, c_in, c_out)

    def _side(self, name: str) -> ssl.SSLObject:
        return self.server if name == "server" else self.client

    def step(self) -> bool:
        """One handshake attempt on each side and one delivery each way; True if bytes moved."""
        for name in ("client", "server"):
            if not self.done[name] and self.errors[name] is None:
                try:
                    self._side(name).do_handshake()
                    self.done[name] = True
                except ssl.SSLWantReadError:
                    pass
                except ssl.SSLError as exc:
                    self.errors[name] = exc
        moved = _move(self.c_out, self.s_in)
        return _move(self.s_out, self.c_in) or moved

    def handshake(self, close: bool = False) -> BioPair:
        """Run the handshake to its end, then exchange a little application data: the client
        receives TLS 1.3 tickets, and (TLS 1.3) the server's alert when it refused the client.
        ``close``: the server then sends its close_notify (OpenSSL drops from its session cache
        the session of a connection freed without one)."""
        for _ in range(100):
            if not self.step() and (all(self.done.values()) or any(self.errors.values())):
                break
        self._exchange()
        if close and self.ok:
            try:
                self.server.unwrap()
            except ssl.SSLWantReadError:
                pass  # sent; the client's close_notify is not awaited
        return self

    def _exchange(self) -> None:
        c, s = self.client, self.server
        if self.done["client"] and self.errors["client"] is None:
            try:
                c.write(b"ping")
            except ssl.SSLError as exc:
                self.errors["client"] = exc
        _move(self.c_out, self.s_in)
        if self.done["server"] and self.errors["server"] is None:
            try:
                s.read(16)
                s.write(b"pong")
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError as exc:
                self.errors["server"] = exc
        _move(self.s_out, self.c_in)
        if self.done["client"] and self.errors["client"] is None:
            try:
                c.read(16)
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError as exc:
                self.errors["client"] = exc

    @property
    def ok(self) -> bool:
        """Both ends completed the handshake and no error was seen."""
        return all(self.done.values()) and not any(self.errors.values())

    @property
    def client_error(self) -> str | None:
        """The client's SSLError as text (OpenSSL's alert wording), if any."""
        e = self.errors["client"]
        return None if e is None else str(e)

    def result(self) -> fastmtls.VerifyResult:
        """``fastmtls.ssl.result`` of the server end."""
        return fssl.result(self.server)


def bio_handshake(
    sctx: ssl.SSLContext,
    cctx: ssl.SSLContext,
    *,
    hostname: str = "localhost",
    session: ssl.SSLSession | None = None,
    close: bool = False,
) -> BioPair:
    """A complete handshake over memory BIOs (see :meth:`BioPair.handshake`)."""
    return BioPair.open(sctx, cctx, hostname=hostname, session=session).handshake(close)



# The random of a HelloRetryRequest (RFC 8446 4.1.3): SHA-256("HelloRetryRequest").
HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")


def _set_client_sni(client: ssl.SSLObject, name: str | None) -> None:
    """Changes the server name a client SSLObject sends in its next ClientHello, through the
    OpenSSL the ssl module loaded (SSL_set_tlsext_host_name; None: send none)."""
    lib = ctypes.CDLL(fssl._library_path())
    lib.SSL_ctrl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_long, ctypes.c_char_p]
    lib.SSL_ctrl.restype = ctypes.c_long
    ptr = int(ffi.cast("uintptr_t", fssl._ssl_pointer(client._sslobj)))  # type: ignore[attr-defined]
    set_tlsext_hostname, host_name = 55, 0
    if lib.SSL_ctrl(ptr, set_tlsext_hostname, host_name, name.encode() if name else None) != 1:
        raise RuntimeError("SSL_set_tlsext_host_name failed")


def hrr_handshake(
    sctx: ssl.SSLContext,
    cctx: ssl.SSLContext,
    *,
    hostname: str | None,
    retry_hostname: str | None,
    session: ssl.SSLSession | None = None,
    before_retry: Callable[[BioPair], None] | None = None,
) -> BioPair:
    """A TLS 1.3 handshake in which the server answers the first ClientHello (server name
    ``hostname``) with a HelloRetryRequest, and the client's second ClientHello names
    ``retry_hostname`` (``before_retry`` may change more of the client first). The server must
    accept only P-384 key exchange (the client's first ClientHello offers an X25519 share): this
    checks that a HelloRetryRequest was sent."""
    pair = BioPair.open(sctx, cctx, hostname=hostname, session=session)
    for side in (pair.client, pair.server):
        try:
            side.do_handshake()
        except ssl.SSLWantReadError:
            pass
        if side is pair.client:
            _move(pair.c_out, pair.s_in)
    flight = pair.s_out.read()
    if HRR_RANDOM not in flight:
        raise AssertionError("the server did not send a HelloRetryRequest")
    pair.c_in.write(flight)
    _set_client_sni(pair.client, retry_hostname)
    if before_retry is not None:
        before_retry(pair)
    return pair.handshake()


# ---- loopback sockets ----------------------------------------------------------------------


@dataclass
class ServerRecord:
    """What the test server saw on one connection."""

    result: fastmtls.VerifyResult | None = None
    error: str | None = None
    version: str | None = None
    reused: bool = False


def result_json(res: fastmtls.VerifyResult, tls: Any) -> dict[str, Any]:
    """The answer of the test server: status, booleans, subject, TLS details."""
    return {
        "status": res.status,
        "verified": res.verified,
        "revoked": res.revoked,
        "subject": res.fields()["cert_subject_dn"],
        "version": tls.version(),
        "reused": tls.session_reused,
    }


class TLSServer:
    """A threaded TLS server on 127.0.0.1 (ephemeral port).

    Each connection: handshake, record a :class:`ServerRecord` under the client's port, read an
    HTTP request head and answer with :func:`result_json` (HTTP/1.0, then close). A failed
    handshake is recorded too; the server then drains the connection before closing it, so that
    the client reads the alert rather than a TCP reset.
    """

    def __init__(self, ctx: ssl.SSLContext, result_of: Callable[[Any], Any] = fssl.result):
        self.ctx = ctx
        self.result_of = result_of
        self.sock = socket.create_server((HOST, 0))
        self.sock.settimeout(0.1)
        self.port: int = self.sock.getsockname()[1]
        self._records: dict[int, ServerRecord] = {}
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    def __enter__(self) -> TLSServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop accepting."""
        self._stop.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes accept() at once (Linux)
        except OSError:
            pass
        self._thread.join(5)
        self.sock.close()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, addr = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            threading.Thread(target=self._serve, args=(conn, addr), daemon=True).start()

    def _record(self, port: int, rec: ServerRecord) -> None:
        with self._cond:
            self._records[port] = rec
            self._cond.notify_all()

    def _serve(self, conn: socket.socket, addr: tuple[str, int]) -> None:
        conn.settimeout(10)
        tls = self.ctx.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        try:
            tls.do_handshake()
        except (ssl.SSLError, OSError) as exc:
            self._record(addr[1], ServerRecord(error=str(exc)))
            _drain_and_close(tls)
            return
        try:
            res = self.result_of(tls)
            self._record(addr[1], ServerRecord(res, None, tls.version(), tls.session_reused))
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 65536:
                data = tls.recv(4096)
                if not data:
                    break
                head += data
            body = json.dumps(result_json(res, tls)).encode()
            tls.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n"
                        b"Content-Length: %d\r\n\r\n%s" % (len(body), body))  # fmt: skip
            tls.settimeout(2)
            tls.unwrap()  # close_notify: OpenSSL clients report a bare EOF as an error
        except (ssl.SSLError, OSError):
            pass
        finally:
            tls.close()

    def record(self, port: int, timeout: float = 10) -> ServerRecord:
        """The record of the connection from client port ``port`` (waits for it)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while port not in self._records:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no server record for client port {port}")
                self._cond.wait(left)
            return self._records[port]


def _drain_and_close(tls: ssl.SSLSocket) -> None:
    """Close without a TCP reset: stop writing, read what the client still sends, then close."""
    try:
        tls.settimeout(2)
        tls.shutdown(socket.SHUT_WR)  # drops the TLS layer: recv() below reads the raw socket
        while tls.recv(4096):
            pass
    except OSError:
        pass
    finally:
        tls.close()


@dataclass
class ClientOutcome:
    """What a Python client saw on one loopback connection."""

    port: int  # the client's local port: the server's record key
    error: str | None = None
    body: dict[str, Any] | None = None
    session: ssl.SSLSession | None = None
    reused: bool = False
    version: str | None = None


def https_get(
    port: int,
    cctx: ssl.SSLContext,
    *,
    hostname: str = "localhost",
    session: ssl.SSLSession | None = None,
) -> ClientOutcome:
    """Connect, handshake, GET / and read the answer to EOF; errors are recorded, not raised."""
    sock = socket.create_connection((HOST, port), timeout=10)
    out = ClientOutcome(port=sock.getsockname()[1])
    try:
        with cctx.wrap_socket(sock, server_hostname=hostname, session=session) as tls:
            out.reused, out.version = tls.session_reused, tls.version()
            tls.sendall(HTTP_GET)
            data = b""
            while True:
                chunk = tls.recv(65536)
                if not chunk:
                    break
                data += chunk
            out.session = tls.session
            out.body = json.loads(data.partition(b"\r\n\r\n")[2])
            # a clean close (close_notify), as a browser or curl sends: Python 3.9 frees an SSL
            # closed without one unshut, and OpenSSL then marks its session not resumable, so a
            # session-ID resumption test would fail on the client's side
            with contextlib.suppress(ssl.SSLError, OSError):
                tls.unwrap()
    except (ssl.SSLError, OSError, ValueError) as exc:
        out.error = str(exc)
    finally:
        sock.close()
    return out


# ---- external clients -----------------------------------------------------------------------


def s_client(
    port: int,
    live: LivePKI,
    name: str | None,
    *,
    version: str = "1.3",
    servername: str = "localhost",
    extra: Sequence[str] = (),
    timeout: float = 20,
) -> subprocess.CompletedProcess[str]:
    """``openssl s_client`` as client ``name`` (None: no certificate), sending an HTTP GET."""
    assert OPENSSL is not None
    args = [OPENSSL, "s_client", "-connect", f"{HOST}:{port}", "-servername", servername,
            "-CAfile", live.file("root.pem"), "-verify_return_error", "-ign_eof",
            "-tls1_3" if version == "1.3" else "-tls1_2", *extra]  # fmt: skip
    if name is not None:
        args += ["-cert", live.leaf_file(name), "-key", live.key_file(name)]
        if len(live.sent[name]) > 1:
            args += ["-cert_chain", live.file("inter.pem")]
    return subprocess.run(args, input=HTTP_GET.decode(), capture_output=True, text=True,
                          timeout=timeout, check=False)  # fmt: skip


def curl(
    port: int, live: LivePKI, name: str | None, *, version: str = "1.3", timeout: float = 20
) -> subprocess.CompletedProcess[str]:
    """``curl -v https://127.0.0.1:port/`` as client ``name`` (None: no certificate): the body
    on stdout, the TLS messages (alerts included) on stderr."""
    assert CURL is not None
    args = [CURL, "-sS", "-v", "--max-time", "10", "--cacert", live.file("root.pem")]
    args += ["--tlsv1.3"] if version == "1.3" else ["--tlsv1.2", "--tls-max", "1.2"]
    if name is not None:
        args += ["--cert", live.chain_file(name), "--key", live.key_file(name)]
    args.append(f"https://{HOST}:{port}/")
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)


def body_of(stdout: str) -> dict[str, Any]:
    """The JSON object in an HTTP answer printed by s_client or curl."""
    start = stdout.find('{"status"')
    if start < 0:
        raise AssertionError(f"no JSON answer in {stdout!r}")
    answer: dict[str, Any] = json.JSONDecoder().raw_decode(stdout, start)[0]
    return answer


def all_results(pairs: Iterable[BioPair]) -> list[str]:
    """The statuses of the server ends of ``pairs``."""
    return [p.result().status for p in pairs]


# ---- shared by the handshake test modules ------------------------------------------------------


def root_verifier(live: LivePKI, **kw: Any) -> fastmtls.Verifier:
    """A verifier trusting the live root under the name ``root``."""
    return make_verifier(("root", live.root), **kw)


def resuming_client(live: LivePKI, who: str | None, version: str, how: str) -> ssl.SSLContext:
    """A client that resumes by session ticket, or by session ID (no tickets: TLS 1.2 session
    IDs; TLS 1.3, with a server under OP_NO_TICKET, stateful sessions looked up the same way)."""
    return client_context(live, who, version=version, tickets=how == "ticket")


def route_b_example(
    listening: ssl.SSLContext, target: ssl.SSLContext | Callable[[], ssl.SSLContext]
) -> None:
    """``listening``'s sni_callback moves connections for b.example to ``target`` (a context, or
    a function returning the context of the moment)."""

    def pick(sslobj: ssl.SSLObject, name: str | None, ctx: ssl.SSLContext) -> None:
        if name == "b.example":
            sslobj.context = target() if callable(target) else target

    listening.sni_callback = pick


def offer_session(pair: BioPair, session: ssl.SSLSession) -> None:
    """Puts ``session`` on the pair's client SSL by hand (``SSL_set_session``), as an attacker
    would replay a ticket or session ID seen on the wire (in clear before TLS 1.3), with no
    certificate or key of the client it belonged to."""
    import _ssl
    import ctypes

    f = ctypes.CDLL(_ssl.__file__).SSL_set_session
    f.argtypes, f.restype = [ctypes.c_void_p, ctypes.c_void_p], ctypes.c_int
    # PySSLSession: PyObject_HEAD, then SSL_SESSION *session
    sess = ctypes.c_void_p.from_address(id(session) + object.__basicsize__).value
    ssl_ptr = int(ffi.cast("uintptr_t", fssl._ssl_pointer(pair.client._sslobj)))
    assert f(ssl_ptr, sess) == 1


def libssl() -> ctypes.CDLL:
    """The OpenSSL library of the ssl module (its symbols, through its dependencies)."""
    import _ssl

    lib = ctypes.CDLL(_ssl.__file__)
    lib.SSL_use_certificate_chain_file.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.SSL_use_PrivateKey_file.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    lib.SSL_certs_clear.argtypes = [ctypes.c_void_p]
    return lib


INFO_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_int)


def set_info_callback(ctx: ssl.SSLContext, callback: Any) -> None:
    """SSL_CTX_set_info_callback on the SSL_CTX of ``ctx`` (an ``INFO_FN``), as an application
    could."""
    lib = libssl()
    lib.SSL_CTX_set_info_callback.argtypes = [ctypes.c_void_p, INFO_FN]
    lib.SSL_CTX_set_info_callback(int(ffi.cast("uintptr_t", fssl._ctx_pointer(ctx))), callback)
