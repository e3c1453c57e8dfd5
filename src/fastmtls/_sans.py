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
        return {
            "dns": [str(v) for v in san.get_values_for_type(x509.DNSName)],
            "ip": [str(v) for v in san.get_values_for_type(x509.IPAddress)],
            "email": [str(v) for v in san.get_values_for_type(x509.RFC822Name)],
            "uri": [str(v) for v in san.get_values_for_type(x509.UniformResourceIdentifier)],
        }
    except Exception:
        # the client chose these bytes: a duplicate or undecodable extension (DuplicateExtension,
        # ValueError, UnsupportedGeneralNameType, ...) reads as "no SAN", never as an exception
        # in the application's request path
        return out
