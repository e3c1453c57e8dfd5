"""Helpers shared by the test modules (importable as ``helpers``; conftest.py is not a module
other files should import, since bench/ has a conftest.py of its own)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pki

from fastmtls import TrustStore, Verifier, VerifyResult

CertLike = Any  # pki.Cert, or DER bytes
VerifyFn = Callable[..., VerifyResult]


def der_of(c: CertLike) -> bytes:
    """DER bytes of a ``pki.Cert`` (or bytes passed through)."""
    return c if isinstance(c, (bytes, bytearray)) else c.der


def make_verifier(*roots: CertLike, **kw: Any) -> Verifier:
    """A Verifier over a fresh store trusting ``roots`` (all under the name ``root``)."""
    store = TrustStore()
    if roots:
        store.add_ders([der_of(r) for r in roots], name="root")
    return Verifier(store, **kw)


def run_verify(verifier: Verifier, certs: Sequence[CertLike], **kw: Any) -> VerifyResult:
    """Verify ``certs`` (leaf first) at ``pki.NOW`` unless ``at`` is given."""
    kw.setdefault("at", pki.NOW)
    return verifier.verify([der_of(c) for c in certs], **kw)


def sanitized() -> bool:
    """True under ASan/TSan/valgrind (FASTMTLS_SANITIZED, or their runtime mapped), where CPU
    times and memory growth mean nothing."""
    if os.environ.get("FASTMTLS_SANITIZED"):
        return True
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return False
    return any(s in maps for s in ("libasan", "libtsan", "vgpreload"))
