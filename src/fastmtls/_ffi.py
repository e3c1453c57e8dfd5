"""The one module that imports the compiled core (``fastmtls._native``).

It checks that the compiled module matches this package's version, and turns C status codes of
configuration calls into exceptions (:func:`ensure`). Messages come from C, never duplicated here.
"""

from __future__ import annotations

from typing import Any

from . import errors
from ._native import ffi, lib

__all__ = ["PACKAGE_VERSION", "ensure", "ffi", "lib", "message"]

PACKAGE_VERSION = "0.1.0"

_native_version = ffi.string(lib.fm_version_string()).decode()
if _native_version != PACKAGE_VERSION:  # pragma: no cover - a broken install
    raise ImportError(
        f"fastmtls: compiled core is version {_native_version}, Python package is "
        f"{PACKAGE_VERSION}; reinstall fastmtls"
    )

_STATUS_EXCEPTIONS: dict[str, type[errors.FastMTLSError]] = {
    "FM_ERR_NOMEM": errors.NativeError,
    "FM_ERR_INTERNAL": errors.NativeError,
    "FM_ERR_INVALID_ARGUMENT": errors.ConfigurationError,
    "FM_ERR_SEALED": errors.ConfigurationError,
    "FM_ERR_LIMIT": errors.LimitError,
    "FM_ERR_NOT_A_CA": errors.NotACAError,
}


def message(status: int) -> str:
    """The C core's message for a status code."""
    return str(ffi.string(lib.fm_status_message(status)).decode())


def status_name(status: int) -> str | None:
    """The C symbol of a status code (``FM_ERR_...``), or None when unknown."""
    p: Any = lib.fm_status_name(status)
    return None if p == ffi.NULL else str(ffi.string(p).decode())


def ensure(status: int, what: str) -> None:
    """Raise the exception that matches a non-zero status of a configuration call."""
    if status == 0:
        return
    name = status_name(status) or ""
    exc = _STATUS_EXCEPTIONS.get(name, errors.CertificateLoadError)
    raise exc(f"{what}: {message(status)}")


def status_values() -> list[int]:
    """Every status code the C core defines."""
    n = lib.fm_status_values(ffi.NULL, 0)
    buf = ffi.new("int[]", n)
    lib.fm_status_values(buf, n)
    return list(buf)
