"""PEM and DER chain splitting.

Strict and bounded: only ``CERTIFICATE`` blocks count; text outside blocks is ignored (as OpenSSL
does for bundles with comments), but a block whose base64 is invalid is an error. A client chain
that fails here becomes a ``FAILED:`` result; a CA file that fails raises.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from typing import Union

from .errors import CertificateLoadError

ChainInput = Union[Sequence[bytes], bytes, bytearray, memoryview, str]

# The body never holds "-----" (base64, and RFC 1421 headers): matching it as runs without five
# dashes keeps every attempt from scanning past the next marker, so the time stays linear in the
# input (a lazy ".*?" rescanned to the end for each BEGIN without its END: quadratic, ~1 s for
# 56 KB of BEGIN lines, which a client can send as its chain).
_BLOCK = re.compile(
    rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n?([^-]*(?:-(?!----)[^-]*)*)-----END \1-----"
)
_B64_CHARS = re.compile(rb"^[A-Za-z0-9+/=\s]*$")


_CERT_LABELS = (b"CERTIFICATE", b"X509 CERTIFICATE", b"TRUSTED CERTIFICATE")


def pem_to_der(data: bytes | str, *, max_bytes: int = 16 * 1024 * 1024) -> list[bytes]:
    """Return the DER of every ``CERTIFICATE`` block in ``data``, in order.

    Raises :class:`CertificateLoadError` when a block is malformed, when there is no certificate,
    or when the input is larger than ``max_bytes``.
    """
    out = pem_to_der_blocks(data, _CERT_LABELS, max_bytes=max_bytes)
    if not out:
        raise CertificateLoadError("no PEM CERTIFICATE block found")
    return out


def pem_to_der_blocks(
    data: bytes | str, labels: tuple[bytes, ...], *, max_bytes: int = 1 << 30
) -> list[bytes]:
    """The DER of every PEM block whose label is in ``labels`` (possibly none)."""
    raw = data.encode("ascii", "replace") if isinstance(data, str) else bytes(data)
    if len(raw) > max_bytes:
        raise CertificateLoadError(f"PEM input is larger than {max_bytes} bytes")
    out: list[bytes] = []
    for m in _BLOCK.finditer(raw):
        label, body = m.group(1), m.group(2)
        if label not in labels:
            continue
        if not _B64_CHARS.match(body):
            raise CertificateLoadError("PEM certificate block contains non-base64 data")
        try:
            der = base64.b64decode(b"".join(body.split()), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CertificateLoadError(
                f"PEM certificate block is not valid base64: {exc}"
            ) from None
        if not der:
            raise CertificateLoadError("PEM certificate block is empty")
        if label == b"TRUSTED CERTIFICATE" and tlv_len(der) not in (None, len(der)):
            # OpenSSL's trust settings (X509_CERT_AUX) follow the certificate: trusted or
            # rejected purposes that fastmtls would not apply, so it refuses them outright
            raise CertificateLoadError(
                "a TRUSTED CERTIFICATE block carries OpenSSL trust settings, which fastmtls does "
                "not apply; write the plain certificate with `openssl x509 -in FILE -out NEW`"
            )
        out.append(der)
    return out


def tlv_len(der: bytes) -> int | None:
    """The length of the DER element at the start of ``der`` (None when unreadable)."""
    if len(der) < 2:
        return None
    n = der[1]
    if n < 0x80:
        return 2 + n
    k = n & 0x7F
    if k == 0 or k > 4 or len(der) < 2 + k:
        return None
    return 2 + k + int.from_bytes(der[2 : 2 + k], "big")


def looks_like_pem(data: bytes | bytearray | memoryview | str) -> bool:
    """True when the input is text holding a PEM block rather than raw DER."""
    if isinstance(data, str):
        return True
    head = bytes(data[:64]).lstrip()
    return head.startswith(b"-----BEGIN") or (len(head) > 0 and head[:1] != b"\x30")
