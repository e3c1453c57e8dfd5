"""Each connection's :func:`fastmtls.ssl.result` in an ASGI app served by uvicorn.

uvicorn puts neither its transport nor the ASGI TLS extension in a request's scope, so an app
cannot call :func:`fastmtls.ssl.result` itself, and in record mode could not act on anything.
:func:`uvicorn_protocol` makes a uvicorn protocol class that reads the result once per
connection, when the TLS handshake is done, and puts it into the scope of every request of that
connection as ``scope["extensions"]["fastmtls"]``; :func:`scope_result` reads it back::

    config = uvicorn.Config(app, http=fastmtls.asgi.uvicorn_protocol(), ssl_certfile=...,
                            ssl_keyfile=..., ssl_context_factory=factory)  # factory: install()

    async def app(scope, receive, send):
        if scope["type"] in ("http", "websocket"):
            result = fastmtls.asgi.scope_result(scope)   # this connection's VerifyResult

uvicorn is not a dependency of fastmtls: it is imported when :func:`uvicorn_protocol` is called
without a base.
"""

from __future__ import annotations

import copyreg
import logging
import threading
from collections.abc import Mapping
from typing import Any

from . import ssl as _fssl
from .errors import ConfigurationError, FastMTLSError
from .result import VerifyResult

__all__ = ["EXTENSION", "scope_result", "uvicorn_protocol"]

EXTENSION = "fastmtls"  # the key under scope["extensions"]

log = logging.getLogger(__name__)

_made: dict[type, type] = {}  # base -> its wrapper: one class per base
_made_lock = threading.Lock()


def uvicorn_protocol(base: type | None = None) -> type:
    """A subclass of uvicorn's protocol ``base`` (default: its h11 HTTP protocol; pass
    ``uvicorn.protocols.http.httptools_impl.HttpToolsProtocol`` for httptools) for
    ``uvicorn.Config(http=...)``: every request's scope carries its connection's
    :class:`~fastmtls.VerifyResult` under ``scope["extensions"]["fastmtls"]``. For WebSocket
    routes wrap uvicorn's ws protocol the same way, ``Config(ws=uvicorn_protocol(WSProtocol))``
    (``uvicorn.protocols.websockets.wsproto_impl``; or a websockets implementation): an
    upgraded connection is handed to a new ws protocol, which calls the app itself.

    The result is read once per connection (asyncio calls ``connection_made`` after the TLS
    handshake), so every request of a kept-alive connection sees the result of that connection's
    own handshake. The server's SSL context must have :func:`fastmtls.ssl.install` on it
    (``config.load()`` then ``install(config.ssl, ...)``, or ``ssl_context_factory``): a
    connection without a result (no TLS, or a context without the hook) is logged and aborted
    before any of its requests reaches the app.

    One class per ``base``; it pickles as "the wrapper of ``base``" (``base`` by reference),
    so it reaches uvicorn's worker processes (``workers=N``, the configuration pickled).
    """
    if base is None:
        from uvicorn.protocols.http.h11_impl import H11Protocol

        base = H11Protocol
    with _made_lock:
        made = _made.get(base)
        if made is None:
            made = _made[base] = _wrapper(base)
    return made


class _Wrapper(type):
    """The metaclass of the wrappers, through which they pickle (copyreg below)."""

    fastmtls_base: type


def _reduce(cls: _Wrapper) -> tuple[Any, tuple[type]]:
    """A wrapper pickles as the call that makes it: uvicorn_protocol(its base)."""
    return uvicorn_protocol, (cls.fastmtls_base,)


copyreg.pickle(_Wrapper, _reduce)


def _wrapper(base: type) -> type:
    parent: Any = base

    class FastMTLSProtocol(parent, metaclass=_Wrapper):  # type: ignore[misc]
        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            try:
                result = _fssl.result(transport)
            except FastMTLSError as exc:  # no TLS, or no hook: no request may go unchecked
                log.error("fastmtls.asgi: no client certificate result for a connection (%s);"
                          " closing it", exc)  # fmt: skip
                transport.abort()
                return
            app: Any = self.app  # type: ignore[has-type]

            async def with_result(scope: dict[str, Any], receive: Any, send: Any) -> None:
                scope.setdefault("extensions", {})[EXTENSION] = result
                await app(scope, receive, send)

            self.app = with_result

    name = f"FastMTLS{base.__name__}"
    FastMTLSProtocol.__name__ = FastMTLSProtocol.__qualname__ = name
    FastMTLSProtocol.connection_made.__qualname__ = f"{name}.connection_made"
    FastMTLSProtocol.__module__ = __name__
    FastMTLSProtocol.fastmtls_base = base
    return FastMTLSProtocol


def scope_result(scope: Mapping[str, Any]) -> VerifyResult:
    """The :class:`~fastmtls.VerifyResult` of the connection an ASGI request (an ``http`` or
    ``websocket`` scope) came on, as :func:`uvicorn_protocol` put it in the scope."""
    if scope.get("type") == "lifespan":
        raise ConfigurationError("a lifespan scope belongs to no connection, so it has no "
                                 "fastmtls result: read it in http and websocket scopes")
    result = (scope.get("extensions") or {}).get(EXTENSION)
    if not isinstance(result, VerifyResult):
        raise ConfigurationError(
            "no fastmtls result in this ASGI scope: serve the app with "
            "uvicorn.Config(http=fastmtls.asgi.uvicorn_protocol(), ...) on an SSL context that "
            "fastmtls.ssl.install() hooked")
    return result
