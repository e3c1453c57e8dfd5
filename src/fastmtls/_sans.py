"""subjectAltName entries of a certificate, by type (off the hot path; uses cryptography)."""

from __future__ import annotations

from cryptography import x509


def leaf_sans(der: bytes) -> dict[str, list[str]]:
    """``{"dns": [...], "ip": [...], "email": [...], "uri": [...]}``; empty lists when the
    certificate has no SAN or cannot be parsed."""
    out: dict[str, list[str]] = {"dns": [], "ip": [], "email": [], "uri": []}
    try:
        cert = x509.load_der_x509_certificate(der)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return out
    out["dns"] = [str(v) for v in san.get_values_for_type(x509.DNSName)]
    out["ip"] = [str(v) for v in san.get_values_for_type(x509.IPAddress)]
    out["email"] = [str(v) for v in san.get_values_for_type(x509.RFC822Name)]
    out["uri"] = [str(v) for v in san.get_values_for_type(x509.UniformResourceIdentifier)]
    return out
