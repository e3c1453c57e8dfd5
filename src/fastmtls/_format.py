"""Certificate fields formatted byte for byte as OpenSSL prints them.

Operators write rules against, and origins parse headers in, the strings OpenSSL produces
(Cloudflare's ``cf.tls_client_auth.*``, nginx's ``$ssl_client_*``), so fastmtls reproduces
them exactly instead of inventing its own forms.  The reference is OpenSSL 3.0's
``X509_NAME_print_ex(XN_FLAG_RFC2253)``, ``X509_NAME_oneline()``, ``i2a_ASN1_INTEGER()`` and
``ASN1_TIME_print()``, checked against the ``openssl`` command in ``tests/test_format.py``.

Names are decoded here by a small DER reader that accepts what OpenSSL's X509_NAME decoder
accepts (value tags, constructed strings, BIT STRING handling) but requires definite, minimal
lengths, and fails only with ``ValueError``.  Contents OpenSSL's decoder would also refuse
(invalid UTF-8, surrogates, code points past U+10FFFF) are printed as OpenSSL's printing
code would print them.  Pure Python, standard library only, no state but constant tables.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from ._oids import SHORT_NAMES

__all__ = [
    "asn1_time",
    "dn_oneline",
    "dn_rfc2253",
    "hex_lower",
    "hex_upper",
    "rfc9440",
    "rfc9440_chain",
    "serial_hex",
]

# OpenSSL limits that change what is printed (X509_NAME_MAX, NAME_ONELINE_MAX, the 80-byte
# buffer OBJ_obj2txt writes dotted OIDs into, the OID length OBJ_obj2txt refuses to print
# (RFC 2578 bound), ASN1_MAX_STRING_NEST).
_NAME_MAX = 1024 * 1024
_ONELINE_MAX = 1024 * 1024
_OID_TXT_MAX = 79
_OID_TXT_REFUSE = 586
_STRING_NEST = 5

# Universal tags the decoder accepts as an attribute value (ASN1_PRINTABLE: tag2bit() masked
# with B_ASN1_PRINTABLE; anything else makes OpenSSL reject the certificate).
_VALUE_TAGS = frozenset((3, 7, 8, 9, 11, 12, 13, 14, 15, 16, 18, 19, 20, 22, 28, 29, 30))
# Those kept as they are when primitive (no BIT STRING unwrapping or length check).
_PLAIN_TAGS = _VALUE_TAGS - {3, 16, 28, 30}
# Characters per code point of the string types do_print_ex() prints as text (tag2nbyte);
# 0 is UTF8String.  Every other type is hex-dumped as DER ("#0302...").
_WIDTH = {12: 0, 18: 1, 19: 1, 20: 1, 22: 1, 28: 4, 30: 2}

# RFC 2253 escape of a 7-bit character in the middle of a value (do_esc_char with
# ESC_2253 | ESC_CTRL | ESC_MSB): specials get a backslash, controls and DEL become \XX.
_ESC_MID = tuple(
    f"\\{c:02X}" if c < 0x20 or c == 0x7F else ("\\" + chr(c) if chr(c) in ',+"\\<>;' else chr(c))
    for c in range(128)
)
# One-line form (X509_NAME_oneline): outside ' '..'~' as \xXX, '/' and '+' backslashed.
_ESC_ONELINE = tuple(
    f"\\x{c:02X}" if c < 0x20 or c > 0x7E else ("\\" + chr(c) if c in b"/+" else chr(c))
    for c in range(256)
)
# The same as str.translate tables over a value's octets read as Latin-1 (one C loop instead of
# one Python step a character): each UTF-8 octet of a value in the middle of it (octets of
# multi-octet characters as \XX), and each octet in the one-line form.
_MID_UTF8 = {c: _ESC_MID[c] if c < 0x80 else f"\\{c:02X}" for c in range(256)}
_ONELINE_TABLE = dict(enumerate(_ESC_ONELINE))
# High octets of UTF-16 surrogate code units (a BMPString holding one prints differently).
_SURROGATE_HIGH = bytes(range(0xD8, 0xE0))
# Octets that print as themselves anywhere in a value (RFC 2253 / one-line form).
_SAFE_2253 = bytes(c for c in range(0x20, 0x7F) if chr(c) not in ',+"\\<>;')
_SAFE_ONELINE = bytes(c for c in range(0x20, 0x7F) if chr(c) not in "/+")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# (RDN index, OID content octets, value tag, value octets, BIT STRING unused bits)
_Entry = tuple[int, bytes, int, bytes, int]


def der_header(buf: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """Read one DER tag and length at ``pos``; return (tag octet, content start, content end).

    Low-tag-number form only, definite minimal lengths (at most 4 length octets), and the
    content must lie within ``end``: anything else is not DER and raises ``ValueError``.
    """
    if end - pos < 2:
        raise ValueError("DER: truncated header")
    tag = buf[pos]
    n = buf[pos + 1]
    pos += 2
    if tag & 0x1F == 0x1F:
        raise ValueError("DER: high tag number")
    if n & 0x80:
        k = n & 0x7F
        if k == 0 or k > 4 or end - pos < k:
            raise ValueError("DER: indefinite, oversized or truncated length")
        n = int.from_bytes(buf[pos : pos + k], "big")
        if n < 0x80 or n >> (8 * (k - 1)) == 0:
            raise ValueError("DER: non-minimal length")
        pos += k
    if n > end - pos:
        raise ValueError("DER: content overruns its container")
    return tag, pos, pos + n


def _collect(buf: bytes, pos: int, end: int, depth: int, out: list[bytes]) -> None:
    """Concatenate the primitive pieces of a constructed string, as OpenSSL's asn1_collect."""
    while pos < end:
        if buf[pos : pos + 2] == b"\x00\x00":
            raise ValueError("DER: end-of-contents in a definite-length string")
        tag, start, pos = der_header(buf, pos, end)
        if tag & 0x20:
            if depth >= _STRING_NEST:
                raise ValueError("DER: constructed string nested too deeply")
            _collect(buf, start, pos, depth + 1, out)
        else:
            out.append(buf[start:pos])


def _oid_ok(oid: bytes) -> bool:
    """Whether OID content octets are well formed (c2i_ASN1_OBJECT's checks)."""
    if not oid or oid[-1] & 0x80:
        return False
    if 0x80 not in oid:
        return True
    # 0x80 may not start a subidentifier (X.690 8.19.2)
    return oid[0] != 0x80 and all(b != 0x80 or a & 0x80 for a, b in zip(oid, oid[1:]))


def _value(der: bytes, vtag: int, start: int, vpos: int, vend: int) -> tuple[int, bytes, int]:
    """(tag number, octets, unused bits) of a value that is not a plain primitive string.

    A SEQUENCE keeps its whole encoding, constructed strings are flattened, a BIT STRING
    loses its unused-bits octet (and the unused bits are cleared): what OpenSSL's decoder
    keeps in its ASN1_STRING.  Tags OpenSSL refuses in a name raise ``ValueError``.
    """
    num = vtag & 0x1F
    if vtag & 0xC0 or num not in _VALUE_TAGS:
        raise ValueError(f"attribute value tag 0x{vtag:02X} is not accepted")
    if num == 16:
        if not vtag & 0x20:
            raise ValueError("primitive SEQUENCE")
        return 16, der[start:vend], 0
    if vtag & 0x20:
        pieces: list[bytes] = []
        _collect(der, vpos, vend, 0, pieces)
        data = b"".join(pieces)
    else:
        data = der[vpos:vend]
    bits = 0
    if num == 3:
        if not data or data[0] > 7:
            raise ValueError("bad BIT STRING")
        bits, data = data[0], data[1:]
        if data:
            data = data[:-1] + bytes((data[-1] & (0xFF << bits) & 0xFF,))
    elif (num == 30 and len(data) % 2) or (num == 28 and len(data) % 4):
        raise ValueError("BMPString/UniversalString length is not whole characters")
    return num, data, bits


def _parse_name(der: bytes) -> list[_Entry]:
    """Decode a DER Name into OpenSSL's flat entry list, RDNs in encoded order.

    Each entry is (RDN index, OID content octets, value tag number, value octets, unused
    bits).  Empty RDNs are accepted and skipped, as in OpenSSL.
    """
    der = bytes(der)  # accept bytearray/memoryview; no copy for bytes
    if len(der) > _NAME_MAX:
        raise ValueError("Name longer than OpenSSL accepts")
    tag, pos, end = der_header(der, 0, len(der))
    if tag != 0x30 or end != len(der):
        raise ValueError("Name is not a single SEQUENCE")
    entries: list[_Entry] = []
    rdn = 0
    while pos < end:
        tag, apos, rend = der_header(der, pos, end)
        if tag != 0x31:
            raise ValueError("RDN is not a SET")
        while apos < rend:
            tag, opos, aend = der_header(der, apos, rend)
            if tag != 0x30:
                raise ValueError("AttributeTypeAndValue is not a SEQUENCE")
            tag, opos, oend = der_header(der, opos, aend)
            oid = der[opos:oend]
            if tag != 0x06 or not _oid_ok(oid):
                raise ValueError("attribute type is not a valid OBJECT IDENTIFIER")
            vtag, vpos, vend = der_header(der, oend, aend)
            if vend != aend:
                raise ValueError("AttributeTypeAndValue has trailing data")
            if vtag in _PLAIN_TAGS:  # the common case: a primitive string
                entries.append((rdn, oid, vtag, der[vpos:vend], 0))
            else:
                entries.append((rdn, oid, *_value(der, vtag, oend, vpos, vend)))
            apos = aend
        pos = rend
        rdn += 1
    return entries


def _dotted(oid: bytes) -> str:
    """Dotted-decimal form of (well-formed) OID content octets."""
    arcs: list[int] = []
    v = 0
    for b in oid:
        v = (v << 7) | (b & 0x7F)
        if not b & 0x80:
            arcs.append(v)
            v = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(map(str, (first, arcs[0] - 40 * first, *arcs[1:])))


def _field_name(oid: bytes) -> tuple[str, bool]:
    """Attribute name as OpenSSL prints it, and whether OpenSSL knows the OID.

    Known OIDs print as their short name (OBJ_nid2sn).  Others print dotted, cut to the
    79 characters OBJ_obj2txt fits in its 80-byte buffer, and as nothing at all when the
    OID is longer than OBJ_obj2txt agrees to print.
    """
    sn = SHORT_NAMES.get(oid)
    if sn is not None:
        return sn, True
    if len(oid) > _OID_TXT_REFUSE:
        return "", False
    return _dotted(oid)[:_OID_TXT_MAX], False


def _dump(num: int, data: bytes, bits: int) -> str:
    """``#`` and the upper-case hex of the value's DER, as i2d_ASN1_TYPE re-encodes it."""
    if num == 16:
        der = data
    else:
        if num == 3:
            data = bytes((bits if data else 0,)) + data
        n = len(data)
        if n < 0x80:
            der = bytes((num, n)) + data
        else:
            k = (n.bit_length() + 7) // 8
            der = bytes((num, 0x80 | k)) + n.to_bytes(k, "big") + data
    return "#" + der.hex().upper()


def _rfc2253_value(num: int, data: bytes, bits: int) -> str:
    """One attribute value as do_print_ex() prints it with ASN1_STRFLGS_RFC2253."""
    width = _WIDTH.get(num)
    if width is None:
        return _dump(num, data, bits)
    if width <= 1 and not data.translate(None, _SAFE_2253):
        if not data or (data[0] not in b" #" and data[-1] != 0x20):
            return data.decode("ascii")  # printable ASCII with nothing to escape
    utf8 = _as_utf8(data, width)
    if utf8 is not None:
        return _escape_utf8(utf8)
    if width <= 1:
        cps: Sequence[int] = data
    elif width == 2:
        cps = [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
    else:
        cps = [int.from_bytes(data[i : i + 4], "big") for i in range(0, len(data), 4)]
    last = len(cps) - 1
    out: list[str] = []
    for i, c in enumerate(cps):
        if c < 0x80:
            # First/last-character escapes; for a one-character value OpenSSL only applies
            # the "last" rule, so a lone "#" is not escaped but a lone " " is.
            if c == 0x20 and (i == 0 or i == last):
                out.append("\\ ")
            elif c == 0x23 and i == 0 and last:
                out.append("\\#")
            else:
                out.append(_ESC_MID[c])
        elif width == 0:
            out.append(f"\\{c:02X}")  # UTF8String bytes are escaped as they are
        elif c < 0x110000 and not 0xD800 <= c < 0xE000:
            out.extend(f"\\{b:02X}" for b in chr(c).encode())  # converted to UTF-8 first
        # else: UTF8_putc() refuses the code point and OpenSSL prints nothing for it
    return "".join(out)


def _as_utf8(data: bytes, width: int) -> bytes | None:
    """The value's characters in UTF-8, or None when one is a code point OpenSSL prints
    nothing for (a surrogate, past U+10FFFF): _rfc2253_value's character loop handles those."""
    if width == 0:
        return data
    if width == 1:
        return data.decode("latin-1").encode()
    if width == 2:
        high = data[0::2]
        if len(high.translate(None, _SURROGATE_HIGH)) != len(high):
            return None  # UCS-2 code units, not UTF-16: no pairing of surrogates
        return data.decode("utf-16-be").encode()
    try:
        return data.decode("utf-32-be").encode()
    except UnicodeDecodeError:
        return None


def _escape_utf8(u: bytes) -> str:
    """RFC 2253 form of a value from its UTF-8 octets: as _rfc2253_value's character loop
    prints it (a first or last space and a first '#' of a longer value escaped; the first and
    last characters are ASCII exactly when the first and last octets are)."""
    out = u.decode("latin-1").translate(_MID_UTF8)
    if not u:
        return out
    head = "\\ " if u[0] == 0x20 else "\\#" if u[0] == 0x23 and len(u) > 1 else None
    if head is not None:
        out = head + out[1:]
    if u[-1] == 0x20 and len(u) > 1:
        out = out[:-1] + "\\ "
    return out


def dn_rfc2253(name_der: bytes) -> str:
    """Format a DER Name as ``openssl x509 -noout -subject -nameopt RFC2253`` does.

    This is ``X509_NAME_print_ex(XN_FLAG_RFC2253)``, the form of Cloudflare's
    ``cert_subject_dn`` and nginx's ``$ssl_client_s_dn``: most specific RDN first, ``,``
    between RDNs and ``+`` between the values of one RDN (printed in reverse encoded order),
    short names from OpenSSL's object table, RFC 2253 escapes, non-ASCII as ``\\XX`` UTF-8
    octets, non-string values and every value of an unknown attribute as ``#`` + DER hex.
    Raises ``ValueError`` for a malformed Name.
    """
    parts: list[str] = []
    prev = -1
    for rdn, oid, num, data, bits in reversed(_parse_name(name_der)):
        if prev != -1:
            parts.append("+" if rdn == prev else ",")
        prev = rdn
        field, known = _field_name(oid)
        value = _rfc2253_value(num, data, bits) if known else _dump(num, data, bits)
        parts.append(field + "=" + value)
    return "".join(parts)


def dn_oneline(name_der: bytes) -> str:
    """Format a DER Name as ``X509_NAME_oneline()`` does (``-nameopt compat``).

    The legacy form of Cloudflare's ``cert_subject_dn_legacy``: least specific RDN first,
    each attribute introduced by ``/`` (``+`` within a multi-valued RDN), short names or
    dotted OIDs, and the raw value octets (BMPString bytes included, no conversion) with
    ``/`` and ``+`` backslash-escaped and octets outside ``' '..'~'`` as ``\\xXX``.
    Raises ``ValueError`` for a malformed Name or a result longer than OpenSSL allows.
    """
    parts: list[str] = []
    prev = -1
    for rdn, oid, _num, data, _bits in _parse_name(name_der):
        parts.append("+" if rdn == prev else "/")
        prev = rdn
        parts.append(_field_name(oid)[0])
        parts.append("=")
        if data.translate(None, _SAFE_ONELINE):
            parts.append(data.decode("latin-1").translate(_ONELINE_TABLE))
        else:
            parts.append(data.decode("ascii"))
    out = "".join(parts)
    if len(out) > _ONELINE_MAX:
        raise ValueError("name longer than X509_NAME_oneline allows")
    return out


def serial_hex(serial_content: bytes) -> str:
    """Format INTEGER content octets as ``i2a_ASN1_INTEGER`` (``openssl x509 -serial``).

    Upper-case hex of the magnitude, whole octets (``00`` for zero, ``0F`` not ``F``), the
    DER sign octet dropped, ``-`` before negative values.  OpenSSL breaks values over 35
    octets with a backslash-newline; that is deliberately not reproduced, so the result is
    always safe in a header.  Non-minimal or empty encodings, which OpenSSL refuses to
    parse, raise ``ValueError``.
    """
    c = serial_content
    if not c:
        raise ValueError("empty INTEGER")
    if len(c) > 1 and ((c[0] == 0 and c[1] < 0x80) or (c[0] == 0xFF and c[1] >= 0x80)):
        raise ValueError("INTEGER is not minimally encoded")
    if c[0] < 0x80:
        return (c[1:] if c[0] == 0 and len(c) > 1 else c).hex().upper()
    n = len(c) - (1 if c[0] == 0xFF and any(c[1:]) else 0)
    return "-" + (-int.from_bytes(c, "big", signed=True)).to_bytes(n, "big").hex().upper()


def asn1_time(unix_seconds: int) -> str:
    """Format a UTC instant as ``ASN1_TIME_print`` does: ``Mar  1 13:35:00 2022 GMT``.

    The day is space-padded to two columns and the year is not padded (``999``), as in
    OpenSSL's ``"%s %2d %02d:%02d:%02d %d GMT"``.  Years outside 0..9999, which no ASN.1
    time can hold, raise ``ValueError``.
    """
    days, secs = divmod(unix_seconds, 86400)
    # Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's civil_from_days).
    z = days + 719468
    era, doe = divmod(z, 146097)
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    year = yoe + era * 400 + (month <= 2)
    if not 0 <= year <= 9999:
        raise ValueError("time outside the years ASN.1 can express")
    h, rem = divmod(secs, 3600)
    return f"{_MONTHS[month - 1]} {day:2d} {h:02d}:{rem // 60:02d}:{rem % 60:02d} {year} GMT"


def hex_upper(b: bytes) -> str:
    """Upper-case hex, no separators (``cert_ski``, ``cert_issuer_ski``)."""
    return b.hex().upper()


def hex_lower(b: bytes) -> str:
    """Lower-case hex, no separators (``cert_fingerprint_sha256``/``_sha1``, XFCC ``Hash``)."""
    return b.hex()


def rfc9440(der: bytes) -> str:
    """One certificate as an RFC 9440 ``Client-Cert`` byte sequence: ``:BASE64:``."""
    return ":" + base64.b64encode(der).decode("ascii") + ":"


def rfc9440_chain(ders: Sequence[bytes]) -> str:
    """Certificates as an RFC 9440 ``Client-Cert-Chain`` list: ``:B64:, :B64:`` (in order)."""
    return ", ".join(rfc9440(d) for d in ders)
