"""subjectAltName entries of a certificate, by type, decoded from the GeneralNames the C parser
located (one X.509 parser for client bytes: no second library with its own opinions, warnings
and exceptions about a hostile certificate)."""

from __future__ import annotations

import ipaddress
import re

from ._format import der_header

# GeneralName context tags (RFC 5280 4.2.1.6) whose value is an IA5String, and iPAddress.
_IA5_KINDS = {0x81: "email", 0x82: "dns", 0x86: "uri"}  # rfc822Name, dNSName, URI
_IP = 0x87
_CONTROL = re.compile("[\x00-\x1f\x7f]")


def empty_sans() -> dict[str, list[str]]:
    return {"dns": [], "ip": [], "email": [], "uri": []}


def sans_by_type(general_names: bytes) -> dict[str, list[str]]:
    """``{"dns": [...], "ip": [...], "email": [...], "uri": [...]}`` of a GeneralNames TLV, in
    order; other name forms are left out. IA5 strings print their non-ASCII octets and control
    characters (CR, LF, NUL, DEL...) as ``\\xNN``, so no value can break a log line or a header;
    an iPAddress is printed by :mod:`ipaddress`. Malformed DER gives empty lists."""
    out = empty_sans()
    try:
        tag, pos, end = der_header(general_names, 0, len(general_names))
        if tag != 0x30:
            return out
        while pos < end:
            tag, start, pos = der_header(general_names, pos, end)
            value = general_names[start:pos]
            kind = _IA5_KINDS.get(tag)
            if kind is not None:
                text = value.decode("ascii", "backslashreplace")
                if _CONTROL.search(text):  # CR, LF, NUL...: never raw into a log line or header
                    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
                out[kind].append(text)
            elif tag == _IP and len(value) in (4, 16):
                out["ip"].append(str(ipaddress.ip_address(value)))
    except ValueError:
        return empty_sans()
    return out
