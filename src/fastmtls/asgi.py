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

import importlib
import threading
from collections.abc import Mapping
from typing import Any

from . import ssl as _fssl
from .errors import ConfigurationError
from .result import VerifyResult

__all__ = ["EXTENSION", "scope_result", "uvicorn_protocol"]

EXTENSION = "fastmtls"  # the key under scope["extensions"]

# The wrappers of uvicorn's own protocols, by the name each gets here: uvicorn's worker processes
# (workers=N) receive the configuration pickled, so a wrapper must be found again by its name in
# this module, also in a new process that never called uvicorn_protocol (module __getattr__).
_UVICORN_BASES = {
    "FastMTLSH11Protocol": ("uvicorn.protocols.http.h11_impl", "H11Protocol"),
    "FastMTLSHttpToolsProtocol": ("uvicorn.protocols.http.httptools_impl", "HttpToolsProtocol"),
    "FastMTLSWSProtocol": ("uvicorn.protocols.websockets.wsproto_impl", "WSProtocol"),
    "FastMTLSWebSocketProtocol": (
        "uvicorn.protocols.websockets.websockets_impl", "WebSocketProtocol"),
}
_made: dict[type, type] = {}  # base -> its wrapper: one class per base, so pickling finds it
_made_lock = threading.Lock()


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

    One class per ``base``, named ``FastMTLS<base name>`` in this module, where pickle finds it:
    the wrappers of uvicorn's own protocols go to worker processes (``workers=N``) as they are;
    for a class of your own as ``base``, pass uvicorn an import string of its wrapper instead.
    """
    if base is None:
        from uvicorn.protocols.http.h11_impl import H11Protocol

        base = H11Protocol
    with _made_lock:
        made = _made.get(base)
        if made is None:
            made = _made[base] = _wrapper(base)
            if _UVICORN_BASES.get(made.__name__) == (base.__module__, base.__name__):
                globals()[made.__name__] = made  # where pickle looks it up
    return made


def __getattr__(name: str) -> type:
    """The wrapper of one of uvicorn's protocols by its name (a worker process unpickling its
    configuration imports this module afresh)."""
    spec = _UVICORN_BASES.get(name)
    if spec is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return uvicorn_protocol(getattr(importlib.import_module(spec[0]), spec[1]))


def _wrapper(base: type) -> type:
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
    FastMTLSProtocol.__module__ = __name__
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
