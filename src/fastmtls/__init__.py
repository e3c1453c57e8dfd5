"""fastmtls: Cloudflare-grade mutual TLS client-certificate verification for your own gateway.

A C core (through CFFI, GIL released) verifies client chains; this package exposes it::

    store = TrustStore()
    store.add_file("clients-ca.pem", name="clients")
    verifier = Verifier(store)
    result = verifier.verify([leaf_der, intermediate_der], host="api.example.com")
    result.status        # "SUCCESS" / "NONE" / "FAILED:certificate has expired"
    result.fields()      # cert_presented, cert_verified, cert_subject_dn, ... (Cloudflare names)
"""

from __future__ import annotations

from ._ffi import PACKAGE_VERSION as __version__
from .crlsource import CRLSource, SourceStatus
from .errors import (
    CertificateLoadError,
    ConfigurationError,
    FastMTLSError,
    LimitError,
    NativeError,
    NotACAError,
)
from .pem import pem_to_der
from .result import FIELD_NAMES, Reason, VerifyResult
from .revocation import (
    CRLInfo,
    Revocation,
    RevocationError,
    RevocationSet,
    SnapshotError,
    inspect_crl,
)
from .store import TrustStore
from .verifier import Limits, Verifier

__all__ = [
    "FIELD_NAMES",
    "CRLInfo",
    "CRLSource",
    "CertificateLoadError",
    "ConfigurationError",
    "FastMTLSError",
    "LimitError",
    "Limits",
    "NativeError",
    "NotACAError",
    "Reason",
    "Revocation",
    "RevocationError",
    "RevocationSet",
    "SnapshotError",
    "SourceStatus",
    "TrustStore",
    "Verifier",
    "VerifyResult",
    "__version__",
    "inspect_crl",
    "pem_to_der",
]
