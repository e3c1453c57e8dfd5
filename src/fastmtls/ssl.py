"""fastmtls inside Python's own TLS handshakes.

Python's :mod:`ssl` module has no certificate verification callback. This module installs the
fastmtls C verifier as the OpenSSL verification callback of an :class:`ssl.SSLContext`, so that
client certificates are verified during the handshake, without the GIL, at fastmtls speed::

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain("server.pem", "server.key")
    fastmtls.ssl.install(ctx, verifier, mode="record")
    ...
    conn, _ = ctx.wrap_socket(sock, server_side=True).accept()   # or asyncio, uvicorn, ...
    fastmtls.ssl.result(conn).status   # "SUCCESS", "NONE", "FAILED:certificate has expired"

Modes:

- ``"enforce"``: a client without a valid, unrevoked certificate fails the handshake with the
  matching TLS alert: unknown_ca (no trusted issuer, a self-signed certificate, a path or chain
  too long, a CRL missing), certificate_expired (the certificate or a CRL),
  certificate_revoked, decrypt_error (bad signature), unsupported_certificate (wrong purpose),
  certificate_unknown (an unhandled critical extension, no explicit policy where a CA requires
  one), bad_certificate (not yet valid, the certificate or a CRL; any other failure), and
  certificate_required (TLS 1.3) or handshake_failure (TLS 1.2) without a certificate.
  A context an ``sni_callback`` switches a connection to applies its own mode: the hook
  re-applies the verify mode of the connection's current context after the ClientHello
  (OpenSSL's ``SSL_set_SSL_CTX`` keeps the listening context's).
- ``"record"``: every handshake completes and the result is recorded on the connection for the
  application's rules to act on (the Cloudflare model). In record mode ``getpeercert()`` and
  ``get_verified_chain()`` prove nothing: OpenSSL was told the chain is fine. Read
  :func:`result` instead.

How it works and where it cannot: the callback is set with ``SSL_CTX_set_cert_verify_callback``
on the ``SSL_CTX`` the ``SSLContext`` holds; every OpenSSL function it calls is taken from the
library that the ``_ssl`` module itself loaded (never from fastmtls' own libcrypto). The object
layout is checked before it is trusted. Where the functions cannot be found (a Python linking
OpenSSL statically with hidden symbols, e.g. python-build-standalone, or Windows),
:func:`available` is False and :func:`install` raises :class:`HookUnavailableError`; verify the
peer's DER after the handshake instead (``Verifier.verify(conn.getpeercert(True) ...)``).

Only server connections are the hook's: OpenSSL runs the callback for a context's client
connections too (a dual-use ``PROTOCOL_TLS`` context), and the hook hands the server's chain to
OpenSSL's own ``X509_verify_cert`` (the context's CA store and hostname check), as without the
hook. :func:`install` sets the context's verify mode to the hook's, which those client
connections use as well (``CERT_NONE`` no longer skips the server's certificate). A
``PROTOCOL_TLS_CLIENT`` context is refused with :class:`~fastmtls.ConfigurationError`.

Session resumption carries the result and is checked again: a session ticket (TLS 1.2 and 1.3)
carries the client's chain, and a TLS 1.2 session ID (or a TLS 1.3 session under
``OP_NO_TICKET``) resumes through the hook's own session cache, which keeps the chain with the
session (OpenSSL's internal cache, which would restore the old result unchecked, is turned off).
Either way, before a session may resume:

- the ClientHello must name the same server (SNI) as the handshake that made the session
  (RFC 6066 section 3; otherwise a full handshake applies the new name's CA associations);
- the chain is verified again, against today's trust store and revocations, by the hook of the
  context that verified it first (after an ``sni_callback`` switch, not the listening one whose
  callbacks OpenSSL runs before the switch): a certificate revoked after the first handshake
  does not pass on a resumed one (enforce mode: no resumption, the full handshake fails; record
  mode: the resumed connection's result says revoked);
- a session an ``sni_callback`` switch placed on another context resumes only in TLS 1.3 with
  tickets issued (the hook checks the ticket that follows, where the connection landed); a
  TLS 1.2 one makes a full handshake (the context switched to decides on a TLS 1.2 ticket
  after the switch, out of the hook's sight).

The cache holds up to 20,480 sessions per context, the oldest dropped first, each for the
context's session timeout. When an ``sni_callback`` switches connections from a listening
context to hooked ones, OpenSSL decides resumption on the listening context, before the switch:
hook it too, with :func:`install` when it verifies client certificates for hosts of its own, or
else with :func:`guard`, which only makes its resumptions follow the rules above. An unguarded
plain listening context would resume a TLS 1.3 session made for one of its own hosts under the
name of a hooked one, and the hooked context would never see that handshake.
"""

from __future__ import annotations

import ssl as _stdlib_ssl
import threading
from collections.abc import Iterable
from typing import Any, Literal

from ._certinfo import CertInfo
from ._ffi import ffi, lib
from .errors import ConfigurationError
from .result import Reason, VerifyResult, split_der
from .store import _normalize_host, snapshot_of
from .verifier import Verifier

__all__ = ["HookUnavailableError", "available", "guard", "install", "result"]

Mode = Literal["enforce", "record"]

_HEAD = object.__basicsize__  # PyObject header: the first C field of an object follows it
_PTR = ffi.sizeof("void *")
_FALLBACK = (
    "verify the client's DER after the handshake instead: "
    "verifier.verify([conn.getpeercert(binary_form=True)] + intermediates)"
)


class HookUnavailableError(ConfigurationError):
    """The handshake hook cannot work with this Python's ssl module."""


def _library_path() -> str | None:
    try:
        import _ssl
    except ImportError:
        return None
    return getattr(_ssl, "__file__", None)


class _Hook:
    """The C hook of one SSLContext, and what interpreting its results needs."""

    __slots__ = ("ca_names", "ctx_ptr", "mode", "ptr", "verifier")

    def __init__(
        self, ptr: Any, ctx_ptr: Any, verifier: Verifier | None, mode: Mode | Literal["guard"]
    ) -> None:
        self.ptr = ptr
        self.ctx_ptr = ctx_ptr
        self.verifier = verifier
        self.mode = mode
        self.ca_names: _CANames | None = None  # keeps the verifier's listener alive


class _CANames:
    """Keeps a hook's CertificateRequest CA names those of its verifier's current store (all
    CAs, or those of some names): called with every new store snapshot."""

    __slots__ = ("__weakref__", "hook", "wanted")

    def __init__(self, hook: Any, wanted: frozenset[str] | None) -> None:
        self.hook = hook
        self.wanted = wanted

    def __call__(self, snap: Any) -> None:
        names = []
        for name, der in zip(snap.anchor_names, snap.anchors):
            if self.wanted is None or name in self.wanted:
                cert = CertInfo(der)
                if cert.ok:
                    names.append(cert.subject)
        blob = b"".join(names)
        # only out of memory fails (the Names were validated): the hook keeps its last list
        lib.fm_hook_set_ca_names(self.hook, blob, len(blob))


_available: bool | None = None


def available() -> bool:
    """True when :func:`install` can work with this Python's ssl module."""
    global _available
    if _available is None:
        _available = _probe() is None
    return _available


def _probe() -> str | None:
    """None when the hook works here, else the reason it does not."""
    path = _library_path()
    if path is None:
        return "the _ssl extension module has no file (OpenSSL linked into the interpreter)"
    opts = ffi.new("fm_options *")
    lib.fm_options_default(opts)
    vp = ffi.new("fm_verifier **")
    if lib.fm_verifier_new(opts, vp) != 0:
        return "could not create a verifier"
    hp = ffi.new("fm_hook **")
    rc = lib.fm_hook_new(path.encode(), vp[0], lib.FM_HOOK_RECORD, ffi.NULL, 0, hp)
    lib.fm_verifier_free(vp[0])
    if rc != 0:
        return str(ffi.string(lib.fm_status_message(rc)).decode())
    try:
        ctx = _stdlib_ssl.SSLContext(_stdlib_ssl.PROTOCOL_TLS_SERVER)
        return _check_layout(hp[0], ctx)
    finally:
        lib.fm_hook_free(hp[0])


def _ctx_pointer(ctx: _stdlib_ssl.SSLContext) -> Any:
    return ffi.cast("void **", id(ctx) + _HEAD)[0]


def _ssl_pointer(sslobj: Any) -> Any:
    # PySSLSocket: PyObject_HEAD, PyObject *Socket, SSL *ssl, ...
    return ffi.cast("void **", id(sslobj) + _HEAD + _PTR)[0]


def _check_layout(hook: Any, ctx: _stdlib_ssl.SSLContext) -> str | None:
    """Check that the pointers read from the objects are the ones the ssl module uses."""
    ctx_ptr = _ctx_pointer(ctx)
    if ctx_ptr == ffi.NULL:
        return "SSLContext layout not recognised"
    probe = ctx.wrap_bio(_stdlib_ssl.MemoryBIO(), _stdlib_ssl.MemoryBIO(), server_side=True)
    sslobj = getattr(probe, "_sslobj", None)
    if sslobj is None:
        return "SSLObject layout not recognised"
    if lib.fm_hook_ssl_ctx_of(hook, _ssl_pointer(sslobj)) != ctx_ptr:
        return "SSL_CTX found in the SSLContext is not the one its connections use"
    # SSL_VERIFY_* of each ssl.VerifyMode: CERT_REQUIRED adds FAIL_IF_NO_PEER_CERT (0x02)
    expected = {0: 0, 1: 1, 2: 3}[int(ctx.verify_mode)]
    if lib.fm_hook_ctx_verify_mode(hook, ctx_ptr) & 0x03 != expected:
        return "verify mode read through the SSL_CTX does not match SSLContext.verify_mode"
    return None


def install(
    ctx: _stdlib_ssl.SSLContext,
    verifier: Verifier,
    *,
    mode: Mode = "enforce",
    host: str | None = None,
    send_ca_names: bool | Iterable[str] = False,
    session_cache_size: int = 20480,
    session_cache_bytes: int = 128 << 20,
) -> None:
    """Verify client certificates of ``ctx``'s handshakes with ``verifier``.

    ``ctx``: a ``PROTOCOL_TLS_SERVER`` context, or a dual-use ``PROTOCOL_TLS`` one (its client
    connections keep OpenSSL's verification of the server); ``PROTOCOL_TLS_CLIENT`` is a
    :class:`~fastmtls.ConfigurationError`.

    ``mode``: ``"enforce"`` (failures end the handshake with a TLS alert; a certificate is
    required) or ``"record"`` (every handshake completes; read :func:`result`). ``host`` fixes
    the host whose CA associations apply (default: the client's SNI). ``send_ca_names`` lists CA
    names in the CertificateRequest: True for every CA of the verifier's store, or the names of
    some (like nginx's ``ssl_client_certificate``; False sends none, like
    ``ssl_trusted_certificate``). ``session_cache_size``: sessions kept for session-ID
    resumption (each verified again when resumed; 0 resumes by ticket only; like nginx's
    ``ssl_session_cache``); ``session_cache_bytes``: the memory those sessions may hold, each
    estimated from the chain it keeps (four times its DER, plus 2 KiB), so that clients sending
    large chains cannot make the cache hold gigabytes; the oldest sessions go first when either
    bound is reached. Changes to the verifier's trust store and revocations apply to the next
    handshake.

    Calling it again on a serving context replaces the hook: each OpenSSL callback runs with the
    hook installed when it runs, so a handshake in flight may finish with the new one. Install
    every context that an ``sni_callback`` switches to before the listening context serves.
    """
    if mode not in ("enforce", "record"):
        raise ConfigurationError(f"mode must be 'enforce' or 'record', not {mode!r}")
    _check_context(ctx)
    if not isinstance(verifier, Verifier):
        raise ConfigurationError("verifier must be a fastmtls.Verifier")
    _check_cache_size(session_cache_size, session_cache_bytes)
    hb = b"" if host is None else _fixed_host(host)
    c_mode = lib.FM_HOOK_ENFORCE if mode == "enforce" else lib.FM_HOOK_RECORD
    hook = _new_hook(ctx, verifier._ptr, c_mode, hb, session_cache_size, session_cache_bytes)
    wanted = _ca_names_wanted(verifier, send_ca_names)
    installed = _Hook(hook, _ctx_pointer(ctx), verifier, mode)
    if wanted is not False:  # set before the hook is installed, then kept current
        installed.ca_names = _CANames(hook, wanted)
        verifier._watch_store(installed.ca_names)
    _install(ctx, installed, mode == "enforce")


def _fixed_host(host: str) -> bytes:
    """install(host=...): one server name, spelled as TrustStore.associate spells hosts."""
    name = _normalize_host(host)  # ConfigurationError naming the host when it is not one
    if "*" in name:
        raise ConfigurationError(f"host must be one server name, not a wildcard: {host!r}")
    return name.encode("ascii")


def guard(ctx: _stdlib_ssl.SSLContext, *, session_cache_size: int = 20480,
          session_cache_bytes: int = 128 << 20) -> None:
    """Make resumption on a listening context safe for the hooked contexts it switches to.

    OpenSSL decides whether a session resumes on the listening context, before its
    ``sni_callback`` moves the connection to another one; a context switched to never sees a
    resumed handshake. A listening context that verifies no client certificates itself (it serves
    some hosts without mTLS, or none) but switches others to contexts set up with
    :func:`install` must be guarded: its sessions then resume only under the server name they
    were made with (RFC 6066), and a session made on a hooked context is verified again by that
    context's hook, as it would be on the hooked context itself. Certificates stay OpenSSL's
    business on the guarded context (its own ``verify_mode``); :func:`result` is not available
    for its connections. ``session_cache_size`` and ``session_cache_bytes`` as for
    :func:`install`. A later
    :func:`install` on the same context replaces the guard. A ``PROTOCOL_TLS_CLIENT`` context
    is a :class:`~fastmtls.ConfigurationError`, as for :func:`install`.
    """
    _check_context(ctx)
    _check_cache_size(session_cache_size, session_cache_bytes)
    hook = _new_hook(ctx, ffi.NULL, lib.FM_HOOK_GUARD, b"", session_cache_size,
                     session_cache_bytes)  # fmt: skip
    _install(ctx, _Hook(hook, _ctx_pointer(ctx), None, "guard"), False)


def _check_context(ctx: Any) -> None:
    """A context the hook can serve: an SSLContext that can make server connections. Client
    connections of a dual-use ``PROTOCOL_TLS`` context are left to OpenSSL (the server's
    certificate is verified as without the hook); a ``PROTOCOL_TLS_CLIENT`` context makes none
    but client connections, so hooking it is a mistake, said here rather than found by accident
    (its layout probe cannot make a server connection)."""
    if not isinstance(ctx, _stdlib_ssl.SSLContext):
        raise ConfigurationError("ctx must be an ssl.SSLContext")
    if ctx.protocol == _stdlib_ssl.PROTOCOL_TLS_CLIENT:
        raise ConfigurationError(
            "ctx is a PROTOCOL_TLS_CLIENT context: fastmtls.ssl verifies the certificates of "
            "clients connecting to a server; use a PROTOCOL_TLS_SERVER (or PROTOCOL_TLS) context"
        )


def _check_cache_size(n: int, size: int) -> None:
    if type(n) is not int or not 0 <= n <= lib.FM_HOOK_MAX_SESSION_CACHE:
        raise ConfigurationError(
            f"session_cache_size must be an int from 0 to {lib.FM_HOOK_MAX_SESSION_CACHE}"
        )
    if type(size) is not int or not 0 <= size <= _MAX_CACHE_BYTES:
        raise ConfigurationError(f"session_cache_bytes must be an int from 0 to {_MAX_CACHE_BYTES}")


_MAX_CACHE_BYTES = 2**63 - 1  # a size_t on every 64-bit platform; more is no bound anyway


def _new_hook(
    ctx: _stdlib_ssl.SSLContext, verifier_ptr: Any, c_mode: int, host: bytes, cache_size: int,
    cache_bytes: int,
) -> Any:
    """A C hook for ``ctx``'s ssl module (not installed yet), freed with its Python object."""
    path = _library_path()
    if path is None:
        raise HookUnavailableError(f"fastmtls.ssl is not available here; {_FALLBACK}")
    hp = ffi.new("fm_hook **")
    rc = lib.fm_hook_new(path.encode(), verifier_ptr, c_mode, host, len(host), hp)
    if rc != 0:
        why = ffi.string(lib.fm_status_message(rc)).decode()
        raise HookUnavailableError(f"fastmtls.ssl is not available here ({why}); {_FALLBACK}")
    hook = ffi.gc(hp[0], lib.fm_hook_free)
    problem = _check_layout(hook, ctx)
    if problem:
        raise HookUnavailableError(
            f"fastmtls.ssl cannot hook this ssl module: {problem}; {_FALLBACK}"
        )
    lib.fm_hook_set_session_cache_size(hook, cache_size)  # validated by the caller
    lib.fm_hook_set_session_cache_bytes(hook, min(cache_bytes, int(ffi.cast("size_t", -1))))
    return hook


# install() and guard() calls on one context at once: the C hook OpenSSL runs and the one
# result() reads (ctx._fastmtls_hook) must be the same, so the two steps are one
_INSTALL_LOCK = threading.Lock()


def _install(ctx: _stdlib_ssl.SSLContext, hook: _Hook, require_cert: bool) -> None:
    # a failed install leaves the context as it was; a successful one is what result() reads
    with _INSTALL_LOCK:
        if lib.fm_hook_install(hook.ptr, hook.ctx_ptr, 1 if require_cert else 0) != 0:
            raise HookUnavailableError(f"installing the OpenSSL callbacks failed; {_FALLBACK}")
        ctx._fastmtls_hook = hook  # type: ignore[attr-defined]


def _ca_names_wanted(
    verifier: Verifier, which: bool | Iterable[str]
) -> frozenset[str] | Literal[False] | None:
    """send_ca_names as: False (send none), None (every CA) or the CA names to send, each of
    which must name CAs of the verifier's store now (a typo would silently send nothing)."""
    if which is False or which is True:
        return None if which else False
    if isinstance(which, (str, bytes)) or not isinstance(which, Iterable):
        raise ConfigurationError("send_ca_names must be True, False or a list of CA names")
    wanted = frozenset(which)
    if not all(isinstance(n, str) for n in wanted):
        raise ConfigurationError("send_ca_names must be True, False or a list of CA names")
    unknown = wanted - set(verifier.store._snapshot.anchor_names)
    if unknown:
        raise ConfigurationError(f"send_ca_names: no CA named {sorted(unknown)} in the store")
    return wanted if wanted else False


def _sslobj_of(conn: Any) -> Any:
    """(the C-level ``_ssl._SSLSocket``, its SSLContext) of a connection."""
    if isinstance(conn, (_stdlib_ssl.SSLSocket, _stdlib_ssl.SSLObject)):
        return getattr(conn, "_sslobj", None), conn.context
    get_extra = getattr(conn, "get_extra_info", None)  # asyncio transports
    if get_extra is not None:
        obj = get_extra("ssl_object")
        if isinstance(obj, _stdlib_ssl.SSLObject):
            return getattr(obj, "_sslobj", None), obj.context
        if get_extra("sslcontext") is not None:  # a TLS transport, its handshake not done
            raise ConfigurationError("this TLS transport has no TLS object to read: its "
                                     "handshake has not finished, or failed (asyncio gives it "
                                     "out once the connection is made)")  # fmt: skip
    raise ConfigurationError(
        "result() needs an ssl.SSLSocket, ssl.SSLObject or an asyncio TLS transport"
    )


def result(conn: Any) -> VerifyResult:
    """The verification result computed in ``conn``'s own handshake (``NONE`` when the client
    sent no certificate), or in its latest TLS 1.3 post-handshake authentication. The result of
    a handshake that failed it (enforce mode), or of one that finished before a later TLS error
    or unclean close, stays readable, for the log, until an ``ssl.SSLSocket`` is closed or
    unwrapped (Python drops the TLS object then). Before the handshake has started, after that,
    and on a client connection, there is no result: :class:`~fastmtls.ConfigurationError`."""
    sslobj, ctx = _sslobj_of(conn)
    hook: _Hook | None = getattr(ctx, "_fastmtls_hook", None)
    if hook is None or hook.verifier is None:
        raise ConfigurationError(
            "fastmtls.ssl.install() was not called on this connection's context"
            + (" (it is guarded: guard() verifies nothing)" if hook is not None else "")
        )
    if sslobj is None:
        if isinstance(conn, _stdlib_ssl.SSLSocket) and conn.fileno() == -1:
            raise ConfigurationError("the connection is closed: its result is gone with it "
                                     "(read result() before close())")  # fmt: skip
        raise ConfigurationError("no TLS connection: not connected yet, or unwrapped (read "
                                 "result() before unwrap())")  # fmt: skip
    ssl_ptr = _ssl_pointer(sslobj)
    if lib.fm_hook_ssl_ctx_of(hook.ptr, ssl_ptr) != hook.ctx_ptr:
        raise ConfigurationError("this connection does not use the hooked SSL_CTX")
    res = ffi.new("fm_result *")
    store = ffi.new("fm_store **")
    der = ffi.new("const uint8_t **")
    der_len = ffi.new("size_t *")
    resumed = ffi.new("int *")
    handle = ffi.new("void **")
    rc = lib.fm_hook_result(hook.ptr, ssl_ptr, res, store, der, der_len, resumed, handle)
    if rc == -2:
        raise ConfigurationError("a client connection: the hook verifies the certificates that "
                                 "clients present to a server; result() reads server connections")
    if rc < 0:
        raise ConfigurationError("the TLS handshake has not started yet: no result")
    if rc == 2:
        # a chain that passed, of a handshake not finished (in progress, or failed after the
        # Certificate message): its client never proved it holds the key, so nothing was
        # presented that counts (a client could send another's public chain)
        lib.fm_hook_result_release(handle[0])
        res = ffi.new("fm_result *")
        res.status, res.depth, res.revoked_depth = int(Reason.NO_CERTIFICATE), -1, -1
        return VerifyResult(res, [], hook.verifier.store._snapshot, hook.verifier._inters,
                            hook.verifier._fields_memo)  # fmt: skip
    try:  # the handle keeps the DER and the store alive, whatever the connection does meanwhile
        data = bytes(ffi.buffer(der[0], der_len[0])) if der_len[0] else b""
        verifier = hook.verifier
        if store[0] == ffi.NULL:
            snap = verifier.store._snapshot
        else:  # the very store this handshake used, even if the TrustStore changed since
            gen = int(lib.fm_store_generation(store[0]))
            snap = verifier.store._snapshot_for(gen) or snapshot_of(store[0])  # takes a ref
    finally:
        lib.fm_hook_result_release(handle[0])
    presented = split_der(data, res.n_presented or None) if data else []
    return VerifyResult(res, presented, snap, verifier._inters, verifier._fields_memo)
