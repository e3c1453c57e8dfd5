"""PEM and DER chain splitting.

Strict and bounded: only ``CERTIFICATE`` blocks count; text outside blocks is ignored (as OpenSSL
does for bundles with comments), but a block whose base64 is invalid is an error. A client chain
that fails here becomes a ``FAILED:`` result; a CA file that fails raises.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Iterator, Sequence
from typing import Union

from .errors import CertificateLoadError, ConfigurationError

ChainInput = Union[Sequence[bytes], bytes, bytearray, memoryview, str]

# PEM blocks are found by _blocks() with bytes.find: linear in the input (a body never holds
# "-----"), at C speed, whatever a client sends as its chain.
_LABEL = re.compile(rb"[A-Z0-9 ]+")


class PEMBlockError(CertificateLoadError):
    """A PEM input refused part way; ``blocks``: the DER of the certificate blocks read before
    (so that a refused client chain still reports its leaf's fields)."""

    def __init__(self, message: str, blocks: list[bytes]) -> None:
        super().__init__(message)
        self.blocks = blocks


class TooManyBlocks(PEMBlockError):
    """More PEM blocks than the caller allows (a chain longer than max_chain_certs)."""
_B64_CHARS = re.compile(rb"^[A-Za-z0-9+/=\s]*$")


_CERT_LABELS = (b"CERTIFICATE", b"X509 CERTIFICATE", b"TRUSTED CERTIFICATE")


def pem_to_der(
    data: bytes | str, *, max_bytes: int = 16 * 1024 * 1024, max_blocks: int | None = None
) -> list[bytes]:
    """Return the DER of every ``CERTIFICATE`` block in ``data``, in order.

    Raises :class:`CertificateLoadError` when a block is malformed, when there is no certificate,
    when the input is larger than ``max_bytes``, or (:class:`TooManyBlocks`) when it holds more
    than ``max_blocks`` certificates.
    """
    out = pem_to_der_blocks(data, _CERT_LABELS, max_bytes=max_bytes, max_blocks=max_blocks)
    if not out:
        raise CertificateLoadError("no PEM CERTIFICATE block found")
    return out


def configured_pem(data: bytes | str) -> list[bytes]:
    """:func:`pem_to_der` of the operator's configuration (CA bundles, intermediates): a
    failure also says when the data is the name of a file (never for a client's chain: no
    client chooses a path that fastmtls looks at)."""
    try:
        return pem_to_der(data)
    except CertificateLoadError as exc:
        hint = path_hint(data)
        if not hint:
            raise
        raise CertificateLoadError(f"{exc}{hint}") from None


def path_hint(data: bytes | bytearray | memoryview | str) -> str:
    """Where PEM or DER data was expected: a note when it is instead the name of a file (one
    short line naming an existing file), the commonest mistake of a first try; else ""."""
    text = data if isinstance(data, str) else bytes(data[:4097]).decode("utf-8", "replace")
    name = text.strip()
    if not name or len(name) > 4096 or "\n" in name or "-----" in name:
        return ""
    try:
        if not os.path.isfile(name):
            return ""
    except (OSError, ValueError):  # a NUL, a name too long for the system
        return ""
    return f" (the data given is the name of a file, {name!r}, not its contents: read the file)"


_TEXT_OCTETS = bytes(range(0x20, 0x7F)) + b"\t\r\n"


class _TooManyMarkers(Exception):
    """More BEGIN lines than _blocks was told to look at."""


def _blocks(raw: bytes, max_markers: int | None = None) -> Iterator[tuple[bytes, bytes]]:
    """(label, body) of each PEM block, as the reference regex of tests/test_hostile.py matches
    them, found with bytes.find: every position of the input is looked at a bounded number of
    times, at C speed (the regex is linear too, but spends ~0.1 s per MiB of dashes a client may
    send). Each "-----BEGIN " found still costs a step in Python (a client's 2 MiB of them, 80
    ms): with ``max_markers``, :class:`_TooManyMarkers` once more than that many were found."""
    pos = 0
    markers = 0
    while True:
        begin = raw.find(b"-----BEGIN ", pos)
        if begin < 0:
            return
        markers += 1
        if max_markers is not None and markers > max_markers:
            raise _TooManyMarkers
        start = begin + 11
        close = raw.find(b"-----", start)
        if close < 0:
            return
        label = raw[start:close]
        if not _LABEL.fullmatch(label):
            pos = close  # not a BEGIN line: scanning goes on from the dashes
            continue
        body_start = close + 5
        if raw.startswith(b"\r", body_start):
            body_start += 1
        if raw.startswith(b"\n", body_start):
            body_start += 1
        end = raw.find(b"-----", body_start)  # a body holds no five dashes
        if end < 0:
            return
        marker = b"-----END " + label + b"-----"
        if raw.startswith(marker, end):
            yield label, raw[body_start:end]
            pos = end + len(marker)
        else:
            pos = end  # another BEGIN, or another END: the block has none of its own


def pem_to_der_blocks(
    data: bytes | str, labels: tuple[bytes, ...], *, max_bytes: int = 1 << 30,
    max_blocks: int | None = None,
) -> list[bytes]:
    """The DER of every PEM block whose label is in ``labels`` (possibly none); with
    ``max_blocks``, :class:`TooManyBlocks` once more than that many are found (the scan stops
    there)."""
    raw = data.encode("ascii", "replace") if isinstance(data, str) else bytes(data)
    if len(raw) > max_bytes:
        raise CertificateLoadError(f"PEM input is larger than {max_bytes} bytes")
    out: list[bytes] = []
    # a bound on the BEGIN lines looked at, with the one on blocks: room for other blocks (keys,
    # parameters) and some junk beside the certificates, not for megabytes of markers
    max_markers = None if max_blocks is None else 4 * max_blocks + 64
    blocks = _blocks(raw, max_markers)
    while True:
        try:
            label, body = next(blocks)
        except StopIteration:
            break
        except _TooManyMarkers:
            raise PEMBlockError(f"more than {max_markers} PEM BEGIN lines", out) from None
        if label not in labels:
            continue
        if max_blocks is not None and len(out) >= max_blocks:
            raise TooManyBlocks(f"more than {max_blocks} PEM blocks", out)
        if not _B64_CHARS.match(body):
            raise PEMBlockError("PEM certificate block contains non-base64 data", out)
        try:
            der = base64.b64decode(b"".join(body.split()), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise PEMBlockError(f"PEM certificate block is not valid base64: {exc}", out) from None
        if not der:
            raise PEMBlockError("PEM certificate block is empty", out)
        if label == b"TRUSTED CERTIFICATE" and tlv_len(der) not in (None, len(der)):
            # OpenSSL's trust settings (X509_CERT_AUX) follow the certificate: trusted or
            # rejected purposes that fastmtls would not apply, so it refuses them outright
            raise PEMBlockError(
                "a TRUSTED CERTIFICATE block carries OpenSSL trust settings, which fastmtls does "
                "not apply; write the plain certificate with `openssl x509 -in FILE -out NEW`",
                out,
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


def non_certificate_blocks(raw: bytes) -> list[str]:
    """The labels of ``raw``'s PEM blocks (each once) when none of them is a certificate (a CRL
    or key where certificates were expected); [] otherwise."""
    labels = dict.fromkeys(label for label, _ in _blocks(raw))
    if any(label in labels for label in _CERT_LABELS):
        return []
    return [label.decode("ascii") for label in labels]


def certificates(item: object, what: str) -> list[bytes]:
    """One element of a list of configured certificates (CAs, intermediates): one DER
    certificate (bytes, bytearray, memoryview), or every certificate of a PEM text (str or
    bytes). Anything else is a :class:`ConfigurationError` naming ``what``."""
    if isinstance(item, str):
        return configured_pem(item)  # CertificateLoadError (a ConfigurationError) when garbled
    if isinstance(item, (bytes, bytearray, memoryview)):
        return configured_pem(bytes(item)) if looks_like_pem(item) else [bytes(item)]
    raise ConfigurationError(
        f"{what} must hold DER or PEM certificates, not {type(item).__name__}")


def looks_like_pem(data: bytes | bytearray | memoryview | str) -> bool:
    """True when the input is text holding a PEM block rather than raw DER."""
    if isinstance(data, str):
        return True
    raw = bytes(data[:64])
    head = raw.lstrip()
    if head.startswith(b"-----BEGIN"):
        return True
    if not head:
        return False
    if raw[:1] != b"\x30":
        return True
    # a DER SEQUENCE, or text whose first line starts with "0" (a comment before the blocks, as
    # OpenSSL allows): text is printable ASCII and white space, DER's length octets are not
    # (0x82 for anything over 255 octets; a short test blob's are control characters)
    return not raw.translate(None, _TEXT_OCTETS)
