"""Command line: ``fastmtls verify`` prints a verification result as JSON.

Exit status 0 only when the chain verified; 1 when it did not; 2 for usage or configuration
errors (a CA file that is not a CA, an unreadable chain file).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from .errors import FastMTLSError
from .store import TrustStore
from .verifier import Verifier


def _parse_time(text: str) -> dt.datetime:
    """ISO 8601 (``2026-06-01T00:00:00Z``) or unix seconds."""
    try:
        return dt.datetime.fromtimestamp(float(text), tz=dt.timezone.utc)
    except ValueError:
        pass
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fastmtls", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    v = sub.add_parser("verify", help="verify a client certificate chain (PEM, leaf first)")
    v.add_argument("chain", help="PEM file holding the presented chain, leaf first ('-' = stdin)")
    v.add_argument("--ca", action="append", required=True, metavar="FILE",
                   help="trusted CA bundle (PEM or DER); repeatable")  # fmt: skip
    v.add_argument("--intermediate", action="append", default=[], metavar="FILE",
                   help="extra untrusted intermediates (PEM); repeatable")  # fmt: skip
    v.add_argument("--host", help="hostname (SNI) whose CA associations apply")
    v.add_argument("--at", type=_parse_time, help="verification time (ISO 8601 or unix seconds)")
    v.add_argument("--purpose", choices=("client", "server", "any"), default="client")
    v.add_argument("--expected-name", help="DNS name, IP, e-mail or URI the leaf must carry")
    v.add_argument("--max-depth", type=int, default=8, help="intermediates allowed (default 8)")
    return parser


def _verify(args: argparse.Namespace) -> int:
    store = TrustStore()
    for path in args.ca:
        store.add_file(path, name=path)
    inters: list[bytes] = []
    for path in args.intermediate:
        from .pem import pem_to_der

        inters.extend(pem_to_der(Path(path).read_bytes()))
    verifier = Verifier(store, purpose=args.purpose, intermediates=inters,
                        max_depth=args.max_depth)  # fmt: skip
    data = sys.stdin.buffer.read() if args.chain == "-" else Path(args.chain).read_bytes()
    result = verifier.verify(data, host=args.host, at=args.at, expected_name=args.expected_name)
    out = result.as_dict()
    out["reason"] = result.reason.name
    out["depth"] = result.depth
    out["anchor"] = result.anchor_name
    print(json.dumps(out, indent=2))
    return 0 if result.verified else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fastmtls`` command."""
    args = _build_parser().parse_args(argv)
    try:
        return _verify(args)
    except (FastMTLSError, OSError) as exc:
        print(f"fastmtls: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
