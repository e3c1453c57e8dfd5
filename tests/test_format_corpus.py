"""fields() of every certificate in the x509-limbo suite (30,000 distinct ones: real web
certificates, BetterTLS names, crafted extensions) against OpenSSL's own formatting of the same
certificate, in process (tests/openssl_ref.py)."""

from __future__ import annotations

import collections

import openssl_ref
import pytest
from cryptography import x509
from limbo_runner import load_cases

import fastmtls
from fastmtls.result import FIELD_NAME_MAX

CASES = load_cases()
pytestmark = [
    pytest.mark.skipif(not CASES, reason="x509-limbo suite not available"),
    pytest.mark.skipif(not openssl_ref.AVAILABLE, reason="no libcrypto to compare with"),
]


def _corpus() -> list[bytes]:
    seen: dict[bytes, None] = {}
    for case in CASES:
        for pem in [*case["trusted_certs"], *case["untrusted_intermediates"],
                    case["peer_certificate"]]:  # fmt: skip
            try:
                seen.update(dict.fromkeys(fastmtls.pem_to_der(pem)))
            except fastmtls.CertificateLoadError:
                continue
    return list(seen)


def _name_size(der: bytes, key: str) -> int:
    cert = x509.load_der_x509_certificate(der)
    return len((cert.issuer if key.startswith("cert_issuer") else cert.subject).public_bytes())


def test_fields_match_openssl_on_the_limbo_corpus() -> None:
    """Each certificate presented alone (so it fails: no trust anchor) gives the leaf fields
    OpenSSL prints, byte for byte: DNs in both forms, serial, dates, fingerprints and the SKI
    (none where OpenSSL's extension cache flags the certificate invalid). The one documented
    difference: a name over FIELD_NAME_MAX octets of DER is left blank (a header budget)."""
    verifier = fastmtls.Verifier(fastmtls.TrustStore())
    ders = _corpus()
    assert len(ders) > 20000
    compared, oversized = 0, 0
    wrong: collections.Counter[str] = collections.Counter()
    examples: dict[str, str] = {}
    for der in ders:
        ref = openssl_ref.cert_fields(der)
        if ref is None:  # OpenSSL cannot parse it: nothing to compare with
            continue
        got = verifier.verify([der]).fields()
        compared += 1
        for key, want in ref.items():
            if got[key] == want:
                continue
            if got[key] == "" and "_dn" in key and _name_size(der, key) > FIELD_NAME_MAX:
                oversized += 1
                continue
            wrong[key] += 1
            examples.setdefault(key, f"{want[:120]!r} != {got[key][:120]!r}")
    assert compared > 20000
    assert not wrong, (dict(wrong), examples)
    assert oversized <= 8  # the 2,048-attribute names of the limbo pathological cases only
