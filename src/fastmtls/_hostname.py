"""Host names as fastmtls compares them, in one spelling for associations and lookups.

Lower case, no trailing dot, ASCII: a non-ASCII name is turned into its A-labels with IDNA 2008
and the UTS 46 non-transitional mapping, what browsers and curl put in the SNI (Python's own
``idna`` codec is IDNA 2003, which maps "straße" to "strasse" where clients send
"xn--strae-oqa": an association written one way would not apply to hosts spelled the other).
A host is a host name (letters, digits, ``-`` and ``_`` in non-empty labels), an IPv4 literal in
canonical dotted decimal or an IPv6 literal, as the C core's lookup accepts them (``fm_store.c``,
``host_ok``). A name whose last label is a number is an IPv4 address to URL parsers
("010.0.0.5" is 8.0.0.5, "10.5" is 10.0.0.5): unless canonical, it is not a host.
"""

from __future__ import annotations

import ipaddress
import re

import idna

__all__ = ["ascii_host", "is_host", "is_ipv4"]

_NAME = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*")
_NUMBER = re.compile(r"[0-9]+|0x[0-9a-f]*")  # a last label URL parsers read as part of an IPv4


def ascii_host(host: str) -> str:
    """``host`` (already stripped of white space and trailing dots, lower case) in ASCII; an
    IPv6 literal in its compressed form (RFC 5952), so "2001:DB8:0::1" is "2001:db8::1".
    Raises UnicodeError (``idna.IDNAError`` is one) when it has no IDNA 2008 spelling."""
    if host.isascii():
        if ":" in host and "%" not in host:
            try:
                return str(ipaddress.IPv6Address(host))
            except ValueError:
                pass  # not a host (is_host says so; the core refuses it too)
        return host
    return idna.encode(host, uts46=True, transitional=False).decode("ascii")


def is_host(host: str) -> bool:
    """Whether an ASCII, lower-case ``host`` is a host name, a canonical IPv4 literal or an IPv6
    literal of at most 253 characters, with labels of 1 to 63."""
    if len(host) > 253:
        return False
    if ":" in host:  # an IPv6 literal, or a host with a port ("10.0.0.5:8443"): not a host
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return False
        return "%" not in host  # (a zone is no host either)
    if _NAME.fullmatch(host) is None or any(len(x) > 63 for x in host.split(".")):
        return False
    return not _NUMBER.fullmatch(host.rsplit(".", 1)[-1]) or is_ipv4(host)


def is_ipv4(host: str) -> bool:
    """Whether ``host`` is an IPv4 address in canonical dotted decimal."""
    try:
        return str(ipaddress.IPv4Address(host)) == host
    except ValueError:
        return False
