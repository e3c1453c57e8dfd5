"""Each connection's :func:`fastmtls.ssl.result` in an ASGI app served by uvicorn.

uvicorn puts neither its transport nor the ASGI TLS extension in a request's scope, so an app
cannot call :func:`fastmtls.ssl.result` itself, and in record mode could not act on anything.
:func:`uvicorn_protocol` makes a uvicorn HTTP protocol class that reads the result once per
connection, when the TLS handshake is done, and puts it into the scope of every request of that
connection as ``scope["extensions"]["fastmtls"]``; :func:`scope_result` reads it back::

    config = uvicorn.Config(app, http=fastmtls.asgi.uvicorn_protocol(), ssl_certfile=...,
                            ssl_keyfile=..., ssl_context_factory=factory)  # factory: install()

    async def app(scope, receive, send):
        result = fastmtls.asgi.scope_result(scope)   # this connection's VerifyResult

uvicorn is not a dependency of fastmtls: it is imported when :func:`uvicorn_protocol` is called.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import ssl as _fssl
from .errors import ConfigurationError
from .result import VerifyResult

__all__ = ["EXTENSION", "scope_result", "uvicorn_protocol"]

EXTENSION = "fastmtls"  # the key under scope["extensions"]


def uvicorn_protocol(base: type | None = None) -> type:
    """A subclass of uvicorn's protocol ``base`` (default: its h11 HTTP protocol; pass
    ``uvicorn.protocols.http.httptools_impl.HttpToolsProtocol`` for httptools) for
    ``uvicorn.Config(http=...)``: every request's scope carries its connection's
    :class:`~fastmtls.VerifyResult` under ``scope["extensions"]["fastmtls"]``. For WebSocket
    routes wrap uvicorn's ws protocol the same way, ``Config(ws=uvicorn_protocol(WSProtocol))``
    (``uvicorn.protocols.websockets.wsproto_impl``; or the websockets implementation): an
    upgraded connection is handed to a new ws protocol, which calls the app itself.

    The result is read once per connection (asyncio calls ``connection_made`` after the TLS
    handshake), so every request of a kept-alive connection sees the result of that connection's
    own handshake. The server's SSL context must have :func:`fastmtls.ssl.install` on it
    (``config.load()`` then ``install(config.ssl, ...)``, or ``ssl_context_factory``); a
    connection on a context without the hook raises :class:`~fastmtls.ConfigurationError` from
    ``connection_made``, which uvicorn logs and closes.
    """
    if base is None:
        from uvicorn.protocols.http.h11_impl import H11Protocol

        base = H11Protocol
    parent: Any = base

    class FastMTLSProtocol(parent):  # type: ignore[misc]
        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            result = _fssl.result(transport)
            app: Any = self.app  # type: ignore[has-type]

            async def with_result(scope: dict[str, Any], receive: Any, send: Any) -> None:
                scope.setdefault("extensions", {})[EXTENSION] = result
                await app(scope, receive, send)

            self.app = with_result

    FastMTLSProtocol.__name__ = FastMTLSProtocol.__qualname__ = f"FastMTLS{base.__name__}"
    return FastMTLSProtocol


def scope_result(scope: Mapping[str, Any]) -> VerifyResult:
    """The :class:`~fastmtls.VerifyResult` of the connection an ASGI request came on, as
    :func:`uvicorn_protocol` put it in the scope."""
    result = (scope.get("extensions") or {}).get(EXTENSION)
    if not isinstance(result, VerifyResult):
        raise ConfigurationError(
            "no fastmtls result in this ASGI scope: serve the app with "
            "uvicorn.Config(http=fastmtls.asgi.uvicorn_protocol(), ...) on an SSL context that "
            "fastmtls.ssl.install() hooked")
    return result
