#!/usr/bin/env python3
"""Generate ``src/fastmtls/_oids.py``: OpenSSL's object table, OID -> short name.

fastmtls prints distinguished names exactly as OpenSSL does, and OpenSSL names an attribute
by the short name of its NID (``OBJ_nid2sn``), falling back to the dotted OID for objects it
does not know.  The table is therefore taken from OpenSSL itself: ``obj_mac.h`` defines, per
object, ``SN_x`` (short name), ``LN_x`` (long name), ``NID_x`` and ``OBJ_x`` (the OID as a
comma list of arcs and other ``OBJ_`` macros).  As in OpenSSL's ``obj_dat.pl``, an object
without a short name uses its long name, and objects of fewer than two arcs (no DER
encoding) are left out.  The table is keyed by the OID's DER content octets, the form in
which a certificate carries it (so a lookup needs no decoding, as in OpenSSL's own
``OBJ_obj2nid``); each line carries the dotted form as a comment.  Aliases (``NID_x``
defined as another ``NID_`` macro) are skipped.  Where two objects share an OID (1.3:
``identified-organization`` and ``ORG``) OpenSSL's lookup returns the lower NID (checked
with the ``openssl`` command), so that one is kept.

Usage: ``python tools/gen_oids.py [--header PATH] [--output PATH]`` (defaults:
``/usr/include/openssl/obj_mac.h`` and ``src/fastmtls/_oids.py`` next to this script).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

_DEFINE = re.compile(r"^#\s*define\s+(SN|LN|NID|OBJ)_(\w+)\s+(.*?)\s*$")
_VERSION = re.compile(r'^#\s*define\s+OPENSSL_VERSION_TEXT\s+"([^"]*)"', re.M)


def parse_header(text: str) -> dict[str, tuple[str, str]]:
    """Return ``{dotted_oid: (short_name, object_name)}`` for every object in ``obj_mac.h``."""
    macros: dict[str, dict[str, str]] = {"SN": {}, "LN": {}, "NID": {}, "OBJ": {}}
    for line in text.splitlines():
        m = _DEFINE.match(line)
        if m:
            macros[m.group(1)][m.group(2)] = m.group(3)

    resolved: dict[str, list[int]] = {}

    def arcs(name: str, depth: int = 0) -> list[int]:
        """Resolve ``OBJ_name`` (which may refer to other ``OBJ_`` macros) to its arcs."""
        if name in resolved:
            return resolved[name]
        if depth > 64:
            raise ValueError(f"OBJ_{name}: reference loop")
        out: list[int] = []
        for tok in macros["OBJ"][name].split(","):
            tok = tok.strip()
            if tok.startswith("OBJ_"):
                out.extend(arcs(tok[4:], depth + 1))
            elif re.fullmatch(r"\d+L", tok):
                out.append(int(tok[:-1]))
            else:
                raise ValueError(f"OBJ_{name}: cannot parse {tok!r}")
        resolved[name] = out
        return out

    table: dict[str, tuple[str, str]] = {}
    nids: dict[str, int] = {}
    for name in macros["OBJ"]:
        nid = macros["NID"].get(name, "")
        if not nid.isdigit():
            continue  # an alias without an object of its own
        literal = macros["SN"].get(name) or macros["LN"].get(name)
        if literal is None:
            continue  # OBJ_nid2sn() has no name for it either
        oid = arcs(name)
        if len(oid) < 2:
            continue  # not encodable, never in OpenSSL's OID lookup table
        dotted = ".".join(map(str, oid))
        short = literal.strip('"')
        if dotted in nids and nids[dotted] < int(nid):
            continue
        nids[dotted] = int(nid)
        table[dotted] = (short, name)
    return table


def _der_content(dotted: str) -> bytes:
    """DER content octets of a dotted OID (X.690 8.19)."""
    arcs = [int(a) for a in dotted.split(".")]
    out = bytearray()
    for v in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        enc = [v & 0x7F]
        v >>= 7
        while v:
            enc.append(0x80 | (v & 0x7F))
            v >>= 7
        out += bytes(reversed(enc))
    return bytes(out)


def render(table: dict[str, tuple[str, str]], header: str, version: str) -> str:
    """Render the generated module's source text."""
    lines = [
        "# ruff: noqa: E501",
        '"""OpenSSL object short names (what ``OBJ_nid2sn`` prints), by OID content octets.',
        "",
        "GENERATED FILE, do not edit.  Produced by ``tools/gen_oids.py`` from",
        f"``{header}`` ({version}); regenerate with",
        "``python tools/gen_oids.py --header /path/to/obj_mac.h``.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from collections.abc import Mapping",
        "from typing import Final",
        "",
        f"OPENSSL_VERSION_TEXT: Final = {json.dumps(version)}",
        "",
        "SHORT_NAMES: Final[Mapping[bytes, str]] = {",
    ]
    for dotted in sorted(table, key=lambda d: tuple(map(int, d.split(".")))):
        key = "".join(f"\\x{b:02x}" for b in _der_content(dotted))
        lines.append(f'    b"{key}": {json.dumps(table[dotted][0])},  # {dotted}')
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    ap.add_argument("--header", default="/usr/include/openssl/obj_mac.h")
    ap.add_argument("--output", default=str(here.parent / "src" / "fastmtls" / "_oids.py"))
    args = ap.parse_args(argv)
    header = Path(args.header)
    text = header.read_text(encoding="ascii")
    version = "OpenSSL version unknown"
    opensslv = header.with_name("opensslv.h")
    if opensslv.exists():
        m = _VERSION.search(opensslv.read_text(encoding="ascii"))
        if m:
            version = m.group(1)
    table = parse_header(text)
    Path(args.output).write_text(render(table, str(header), version), encoding="ascii")
    print(f"{args.output}: {len(table)} objects", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
