"""One certificate's fields as the C parser located them: the one way the Python layer reads
a certificate's names, key and extensions."""

from __future__ import annotations

from typing import Any

from ._ffi import ffi, lib


class CertInfo:
    """Offsets of one certificate's fields, recorded by the C parser (no copy)."""

    __slots__ = ("der", "info", "located", "ok")

    def __init__(self, der: bytes) -> None:
        self.der = bytes(der)  # callers may pass bytearray or memoryview
        self.info: Any = ffi.new("fm_cert_info *")
        self.ok = lib.fm_cert_info_get(self.der, len(self.der), self.info) == 0
        # FM_INFO_* bits: the identity fields (serial, issuer, validity, subject) the parser
        # validated, also in a certificate it rejected (a malformed extension or time, say):
        # enough for a FAILED: result to show who presented it, as OpenSSL-based gateways do
        self.located = int(self.info.located)

    def has(self, bit: int) -> bool:
        """Whether the identity field ``bit`` (``lib.FM_INFO_*``) was validated."""
        return bool(self.located & bit)

    def _slice(self, off: int, n: int) -> bytes:
        return self.der[off : off + n]

    @property
    def serial(self) -> bytes:
        return self._slice(self.info.serial_off, self.info.serial_len)

    @property
    def issuer(self) -> bytes:
        return self._slice(self.info.issuer_off, self.info.issuer_len)

    @property
    def subject(self) -> bytes:
        return self._slice(self.info.subject_off, self.info.subject_len)

    @property
    def ski(self) -> bytes:
        return self._slice(self.info.ski_off, self.info.ski_len)

    @property
    def aki(self) -> bytes:
        """authorityKeyIdentifier keyIdentifier octets; empty when absent."""
        return self._slice(self.info.aki_off, self.info.aki_len)

    @property
    def spki(self) -> bytes:
        return self._slice(self.info.spki_off, self.info.spki_len)

    @property
    def san(self) -> bytes:
        """subjectAltName GeneralNames TLV; empty when absent."""
        return self._slice(self.info.san_off, self.info.san_len)


class CertPool(tuple[bytes, ...]):
    """DER certificates an operator configured (a store snapshot's anchors, a verifier's
    intermediates): a tuple that keeps its by-subject index (by_subject) once built, for as long
    as the pool lives."""

    _subject_index: dict[bytes, tuple[CertInfo, ...]] | None = None


def by_subject(pool: tuple[bytes, ...]) -> dict[bytes, tuple[CertInfo, ...]]:
    """The parsable certificates of a configured pool by subject name DER, built once per
    CertPool: finding a failed chain's issuer among hundreds of CAs must not parse them all for
    every result (a cache shared by every pool of the process thrashed past 16 stores)."""
    index = pool._subject_index if isinstance(pool, CertPool) else None
    if index is None:
        out: dict[bytes, list[CertInfo]] = {}
        for der in pool:
            info = CertInfo(der)
            if info.ok:
                out.setdefault(info.subject, []).append(info)
        index = {k: tuple(v) for k, v in out.items()}
        if isinstance(pool, CertPool):
            pool._subject_index = index  # a race computes it twice, harmlessly
    return index
