"""Command line: ``fastmtls verify`` prints a verification result as JSON; ``fastmtls crl
inspect`` describes CRLs; ``fastmtls crl compile`` turns CRLs into a revocation snapshot.

Exit status of ``verify``: 0 only when the chain verified; 1 when it did not; 2 for usage or
configuration errors (a CA file that is not a CA, an unreadable chain file, a bad CRL).
``crl inspect`` exits 1 when a signature was checked and is not valid. ``fastmtls demo`` runs
mutual TLS end to end on 127.0.0.1 (see :mod:`fastmtls.demo`); it exits 0 when every client got
the expected result.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ._format import asn1_time, dn_rfc2253
from .errors import FastMTLSError
from .revocation import RevocationSet, ca_subject, check_crl, crl_to_der, inspect_crl
from .store import TrustStore, certificates_of
from .verifier import Verifier


def _parse_time(text: str) -> dt.datetime:
    """ISO 8601 (``2026-06-01T00:00:00Z``) or unix seconds."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = None
    try:
        if seconds is not None:
            return dt.datetime.fromtimestamp(seconds, tz=dt.timezone.utc)
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):  # "inf", 1e20: outside datetime's range
        raise argparse.ArgumentTypeError(
            f"not a time: {text!r} (ISO 8601, or unix seconds from year 1 to 9999)"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fastmtls", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    v = sub.add_parser("verify", help="verify a client certificate chain (PEM, leaf first)")
    v.add_argument("chain", help="PEM file holding the presented chain, leaf first ('-' = stdin)")
    v.add_argument(
        "--ca",
        action="append",
        required=True,
        metavar="FILE",
        help="trusted CA bundle (PEM or DER); repeatable",
    )
    v.add_argument(
        "--intermediate",
        action="append",
        default=[],
        metavar="FILE",
        help="extra untrusted intermediates (PEM); repeatable",
    )
    v.add_argument("--host", help="hostname (SNI) whose CA associations apply")
    v.add_argument("--at", type=_parse_time, help="verification time (ISO 8601 or unix seconds)")
    v.add_argument("--purpose", choices=("client", "server", "any"), default="client")
    v.add_argument("--expected-name", help="DNS name, IP, e-mail or URI the leaf must carry")
    v.add_argument("--max-depth", type=int, default=8, help="intermediates allowed (default 8)")
    revocation_source = v.add_mutually_exclusive_group()
    revocation_source.add_argument(
        "--crl",
        action="append",
        default=[],
        metavar="FILE",
        help="CRL (PEM or DER) checked against the --ca certificates; repeatable",
    )
    revocation_source.add_argument(
        "--revocations", metavar="SNAPSHOT", help="compiled revocation snapshot (not with --crl)"
    )
    v.add_argument("--revocation-check", choices=("leaf", "chain"), default="leaf")
    v.add_argument(
        "--strict-revocation",
        action="store_true",
        help="a revoked chain fails (default: verified and revoked, as Cloudflare)",
    )

    crl = sub.add_parser("crl", help="inspect and compile CRLs")
    crl_sub = crl.add_subparsers(dest="crl_command", required=True)
    ins = crl_sub.add_parser("inspect", help="describe CRLs (issuer, dates, number, entries)")
    ins.add_argument("files", nargs="+", metavar="FILE", help="CRL files (PEM or DER)")
    ins.add_argument(
        "--ca",
        action="append",
        default=[],
        metavar="FILE",
        help="CA certificates to check the signature with; repeatable",
    )
    comp = crl_sub.add_parser("compile", help="build a revocation snapshot from CRLs")
    comp.add_argument("files", nargs="+", metavar="CRL", help="CRL files (PEM or DER)")
    comp.add_argument(
        "--ca",
        action="append",
        required=True,
        metavar="FILE",
        help="CA certificates that issued the CRLs; repeatable",
    )
    comp.add_argument("-o", "--output", required=True, metavar="SNAPSHOT")
    comp.add_argument(
        "--at",
        type=_parse_time,
        help="the time the snapshot is compiled for (ISO 8601 or unix seconds; default now): a "
        "CRL issued for later ranks below the CRLs in force then",
    )

    demo = sub.add_parser(
        "demo", help="mutual TLS end to end: a throwaway PKI, an HTTPS server, clients"
    )
    demo.add_argument(
        "--keep",
        metavar="DIR",
        help="write the PKI (PEM) into DIR and keep the server running until Ctrl-C",
    )
    demo.add_argument("--port", type=_port, default=0, help="server port (default: any free one)")
    return parser


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a TCP port is 0-65535, not {text!r}")
    return port


def _name(der: bytes) -> str:
    """A CRL issuer Name as OpenSSL's RFC 2253 text; one OpenSSL would not print (longer than
    its X509_NAME_MAX; the parser refuses values it cannot read) as its DER in hex."""
    try:
        return dn_rfc2253(der)
    except ValueError:
        return "#" + der.hex()


def _chain_cas(chain: bytes) -> list[bytes]:
    """The certificates of a PEM or DER chain after its leaf (none when it does not parse:
    verifying it reports that)."""
    try:
        return certificates_of(chain)[1:]
    except ValueError:
        return []


def _read_cas(paths: Sequence[str]) -> list[bytes]:
    out: list[bytes] = []
    for path in paths:
        out.extend(certificates_of(Path(path).read_bytes()))
    return out


def _inspect_error(der: bytes, cas: Sequence[bytes], errors: Sequence[str | None]) -> str:
    """Why no --ca verified the CRL: the error of the first CA whose subject is the CRL's
    issuer (its signature, AKI or keyUsage), else that no CA has that name."""
    issuer = inspect_crl(der).issuer_der
    for ca, error in zip(cas, errors):
        if error is not None and ca_subject(ca) == issuer:
            return error
    return "no --ca certificate has the CRL's issuer name"


def _crl_inspect(args: argparse.Namespace) -> int:
    cas = _read_cas(args.ca)
    reports: list[dict[str, object]] = []
    bad_signature = False
    for path in args.files:
        for der in crl_to_der(Path(path).read_bytes()):
            info = inspect_crl(der)
            signature = "not checked (give --ca)"
            if cas:
                errors = [check_crl(der, ca) for ca in cas]
                if None in errors:
                    signature = "valid"
                else:
                    signature = f"invalid: {_inspect_error(der, cas, errors)}"
                bad_signature |= None not in errors
            reports.append(
                {
                    "file": path,
                    "issuer": _name(info.issuer_der),
                    "this_update": asn1_time(info.this_update),
                    "next_update": None
                    if info.next_update is None
                    else asn1_time(info.next_update),
                    "crl_number": info.number,
                    "delta_of": info.base_number,
                    "entries": info.entries,
                    "scope": info.scope,
                    "version": info.version,
                    "signature": signature,
                }
            )
    print(json.dumps(reports, indent=2))
    return 1 if bad_signature else 0


def _crl_compile(args: argparse.Namespace) -> int:
    crls = [Path(p).read_bytes() for p in args.files]
    rs = RevocationSet.build(crls, cas=_read_cas(args.ca), at=args.at)
    rs.save(args.output)
    print(
        json.dumps(
            {
                "output": args.output,
                "entries": len(rs),
                "issuers": len(rs.issuers()),
                "bytes": rs.memory_bytes,
            },
            indent=2,
        )
    )
    return 0


def _verify(args: argparse.Namespace) -> int:
    store = TrustStore()
    for path in args.ca:
        # named by its path (the JSON's anchor name); a path that is not UTF-8, escaped
        store.add_file(path, name=os.fsencode(path).decode("utf-8", "backslashreplace"))
    inters: list[bytes] = []
    for path in args.intermediate:
        inters.extend(certificates_of(Path(path).read_bytes()))
    if args.chain == "-" and sys.stdin is None:  # started with stdin closed
        raise OSError("standard input is closed")
    data = sys.stdin.buffer.read() if args.chain == "-" else Path(args.chain).read_bytes()
    revocations = None
    if args.revocations:
        revocations = RevocationSet.load(args.revocations)
    elif args.crl:
        crls = [Path(p).read_bytes() for p in args.crl]
        # An intermediate's CRL is checked against the intermediate: the chain's own copy
        # counts. Safe with an untrusted chain: a set keys revocations by the issuing CA's name
        # and key, so a CRL signed by a chain certificate only revokes what that key issued.
        revocations = RevocationSet.build(
            crls, cas=[*_read_cas(args.ca), *inters, *_chain_cas(data)], at=args.at
        )
    verifier = Verifier(
        store,
        purpose=args.purpose,
        intermediates=inters,
        max_depth=args.max_depth,
        revocations=revocations,
        revocation_check=args.revocation_check,
        revoked="fail" if args.strict_revocation else "flag",
    )
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
        if args.command == "demo":
            from .demo import main as demo_main  # imported on use: the server code

            return demo_main(keep=args.keep, port=args.port)
        if args.command == "crl":
            return _crl_inspect(args) if args.crl_command == "inspect" else _crl_compile(args)
        return _verify(args)
    except (FastMTLSError, OSError) as exc:
        print(f"fastmtls: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
