"""Shared fixtures for the verifier tests: a small PKI, a verifier over it, and a verify helper.

Certificates come from ``tests/pki.py`` (pyca/cryptography builds them); every verification runs
at the fixed ``pki.NOW`` unless a test passes ``at=``.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

import pki  # noqa: E402
from helpers import CertLike, VerifyFn, der_of, make_verifier, run_verify  # noqa: E402,F401

import fastmtls  # noqa: E402
from fastmtls import TrustStore, Verifier, VerifyResult  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _prerequisites() -> None:
    """Check once what every test needs: a missing piece fails the run, it never skips tests."""
    # The compiled core must import (fastmtls._native) and the differential anchors
    # (pyca/cryptography's verifier, pyOpenSSL) must be importable. A core older than csrc/ only
    # warns: setup.py build_ext does not track headers, so rebuild with --force after edits.
    from cryptography.x509 import verification  # noqa: F401
    from OpenSSL import crypto  # noqa: F401

    from fastmtls import _ffi

    assert fastmtls.__version__ == _ffi.PACKAGE_VERSION
    assert fastmtls.Reason.OK == 0 and _ffi.status_name(0) == "FM_OK"
    native = Path(_ffi.__file__).with_name("_native.abi3.so")
    csrc = Path(_TESTS).parent / "csrc"
    if native.exists() and csrc.is_dir():
        sources = [*csrc.glob("*.[ch]"), *csrc.glob("include/*.h")]  # what _native compiles
        newest = max((p.stat().st_mtime for p in sources), default=0.0)
        if newest > native.stat().st_mtime:
            warnings.warn("fastmtls._native is older than csrc/: rebuild before trusting results",
                          stacklevel=1)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The live PKI of the handshake tests (tls_helpers.LivePKI), its files in a temporary
    directory."""
    import tls_helpers

    return tls_helpers.build_live_pki(tmp_path_factory.mktemp("live-pki"))


@pytest.fixture(scope="session")
def root() -> pki.Cert:
    """A P-256 self-signed root CA."""
    return pki.ca("Fixture Root CA")


@pytest.fixture(scope="session")
def inter(root: pki.Cert) -> pki.Cert:
    """A P-256 intermediate CA under ``root``."""
    return pki.intermediate(root, "Fixture Intermediate CA")


@pytest.fixture(scope="session")
def good_leaf(inter: pki.Cert) -> pki.Cert:
    """A client leaf (clientAuth EKU, DNS SAN) under ``inter``."""
    return pki.leaf(inter, "fixture client")


@pytest.fixture(scope="session")
def store(root: pki.Cert) -> TrustStore:
    """A trust store holding ``root`` under the name ``root`` (do not modify: session scoped)."""
    s = TrustStore()
    s.add_der(root.der, name="root")
    return s


@pytest.fixture
def verifier(store: TrustStore) -> Verifier:
    """A client-purpose verifier with default options over ``store``."""
    return Verifier(store)


@pytest.fixture
def verify(verifier: Verifier) -> VerifyFn:
    """``verify(certs, **kw)``: verify a chain (pki.Cert or DER, leaf first) at ``pki.NOW``."""

    def _verify(certs: Sequence[CertLike], **kw: Any) -> VerifyResult:
        return run_verify(verifier, certs, **kw)

    return _verify
