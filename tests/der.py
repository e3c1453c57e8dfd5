"""A small DER tree for tests that edit certificates field by field.

``parse`` turns DER into nested ``Node``s (constructed tags hold a list of children, primitive
ones their content octets) and ``Node.der`` writes it back with definite, minimal lengths, so an
edit deep inside a TBSCertificate re-encodes every enclosing length. Only what the test data
needs: single-octet tags, definite lengths.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

Content = Union[bytes, list["Node"]]


def length(n: int) -> bytes:
    """DER length octets of ``n`` (definite, minimal)."""
    if n < 0x80:
        return bytes([n])
    nb = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(nb)]) + nb


def enc(tag: int, content: bytes) -> bytes:
    """One DER TLV (definite length, minimal length octets)."""
    return bytes([tag]) + length(len(content)) + content


def seq(*parts: bytes) -> bytes:
    """A SEQUENCE of the given TLVs."""
    return enc(0x30, b"".join(parts))


NULL = b"\x05\x00"


def header(der: bytes, off: int) -> tuple[int, int, int]:
    """(tag, header length, content length) of the DER element at ``off``."""
    tag, n = der[off], der[off + 1]
    if n < 0x80:
        return tag, 2, n
    k = n & 0x7F
    return tag, 2 + k, int.from_bytes(der[off + 2:off + 2 + k], "big")


def elements(tlv: bytes) -> list[tuple[int, int]]:
    """(offset, total length) of each element inside the constructed TLV ``tlv``, offsets
    within ``tlv``."""
    _, hl, _ = header(tlv, 0)
    out, off = [], hl
    while off < len(tlv):
        _, h, c = header(tlv, off)
        out.append((off, h + c))
        off += h + c
    return out


def split_signed(der: bytes, what: str = "certificate") -> tuple[bytes, bytes, bytes]:
    """A signed structure (certificate, CRL) -> (to-be-signed, signatureAlgorithm, signature BIT
    STRING), whole TLVs."""
    tag, hl, cl = header(der, 0)
    if tag != 0x30 or hl + cl != len(der):
        raise ValueError(f"not a DER {what}")
    parts = [der[off:off + n] for off, n in elements(der)]
    if len(parts) != 3 or parts[2][0] != 0x03:
        raise ValueError(f"{what} is not SEQUENCE {{tbs, alg, BIT STRING}}")
    return parts[0], parts[1], parts[2]


@dataclass
class Node:
    """One TLV: ``tag`` and either content octets or, when constructed, the child nodes."""

    tag: int
    content: Content = field(default=b"")

    @property
    def children(self) -> list[Node]:
        assert isinstance(self.content, list), f"tag {self.tag:#x} is primitive"
        return self.content

    @property
    def der(self) -> bytes:
        if isinstance(self.content, list):
            return enc(self.tag, b"".join(c.der for c in self.content))
        return enc(self.tag, self.content)

    def __getitem__(self, i: int) -> Node:
        return self.children[i]


def _read(der: bytes, off: int) -> tuple[int, bytes, int]:
    """(tag, content, offset after the element) of the TLV at ``off``."""
    tag, n = der[off], der[off + 1]
    off += 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(der[off:off + k], "big")
        off += k
    if off + n > len(der):
        raise ValueError("DER element runs past its parent")
    return tag, der[off:off + n], off + n


def parse_all(der: bytes) -> list[Node]:
    """Every element of a concatenation of TLVs."""
    out, off = [], 0
    while off < len(der):
        tag, content, off = _read(der, off)
        out.append(Node(tag, parse_all(content) if tag & 0x20 else content))
    return out


def parse(der: bytes) -> Node:
    """Exactly one TLV."""
    nodes = parse_all(der)
    if len(nodes) != 1:
        raise ValueError(f"{len(nodes)} elements, expected one")
    return nodes[0]


@dataclass
class Verbatim(Node):
    """Octets written exactly as given, e.g. a TLV whose length runs past its parent."""

    octets: bytes = b""

    @property
    def der(self) -> bytes:
        return self.octets


def verbatim(octets: bytes) -> Node:
    return Verbatim(-1, octets=octets)


def raw(der: bytes) -> Node:
    """One TLV whose content is kept as octets, not parsed: for content that is not valid DER
    inside (a malformed edit), written back exactly."""
    tag, content, end = _read(der, 0)
    if end != len(der):
        raise ValueError("raw() takes one TLV")
    return Node(tag, content)
