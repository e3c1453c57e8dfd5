"""Command line: ``fastmtls verify`` prints a verification result as JSON; ``fastmtls crl
inspect`` describes CRLs; ``fastmtls crl compile`` turns CRLs into a revocation snapshot.

Exit status of ``verify``: 0 only when the chain verified and is not revoked; 1 when it did not
verify or is revoked (the JSON still says SUCCESS with cert_revoked true for a revoked chain
unless --strict-revocation, as Cloudflare's fields do); 2 for usage or configuration errors (a
CA file that is not a CA, an unreadable chain file, a CRL no configured CA issued), never for a
bad client chain. ``crl inspect`` exits 1 when a CRL's signature could not be verified with the
--ca certificates (not valid, or no --ca has the CRL's issuer name); ``crl compile`` exits 0
or 2. ``fastmtls demo`` runs mutual TLS end to end on 127.0.0.1 (see
:mod:`fastmtls.demo`); it exits 0 when every client got the expected result.

A reader that stops reading (``fastmtls verify ... | head -c1``) is not a failure of the command:
the output stops quietly and the exit status is still the command's (:func:`emit`).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TextIO

from ._format import asn1_time, dn_rfc2253
from ._time import TimeInput
from .errors import ConfigurationError, FastMTLSError
from .pem import non_certificate_blocks
from .result import Reason
from .revocation import (
    RevocationError,
    RevocationSet,
    ca_subject,
    check_crl,
    crl_to_der,
    inspect_crl,
)
from .store import TrustStore, _normalize_host, certificates_of
from .verifier import Limits, Verifier

# RFC 3339 date-times and the ISO 8601 forms around them: extended (2026-06-01T00:00:00Z) or
# basic (20260601T000000Z) throughout, T / t / space between date and time, seconds and their
# fraction ("." or ",", any number of digits) optional, offset Z / z / +hh:mm / +hhmm / +hh or
# none (UTC); or a date alone. ASCII digits only.
_ISO_TIME = re.compile(
    r"(?P<year>\d{4})(?P<dash>-?)(?P<month>\d{2})(?P=dash)(?P<day>\d{2})"
    r"(?:[Tt ](?P<hour>\d{2})"
    r"(?:(?P<colon>:?)(?P<minute>\d{2})(?:(?P=colon)(?P<second>\d{2})(?:[.,](?P<frac>\d+))?)?)?"
    r"(?P<offset>[Zz]|(?P<sign>[+-])(?P<off_h>\d{2})(?::?(?P<off_m>\d{2}))?)?)?",
    re.ASCII,
)


def _iso_time(text: str) -> dt.datetime:
    """``text`` as one of the forms of :data:`_ISO_TIME` (ValueError otherwise). Parsed here, not
    by ``datetime.fromisoformat``, whose forms change with the Python version (3.11 added the
    basic form and fractions of any length, and takes any character between date and time): the
    command takes the same times on every Python."""
    m = _ISO_TIME.fullmatch(text)
    # the basic and extended forms are not mixed (20260601T00:00:00, 2026-06-01T0000)
    if m is None or (m["minute"] is not None and bool(m["dash"]) != bool(m["colon"])):
        raise ValueError(text)
    tz = dt.timezone.utc
    if m["sign"] is not None:
        off_m = int(m["off_m"] or 0)
        if off_m > 59:
            raise ValueError(text)
        offset = dt.timedelta(hours=int(m["off_h"]), minutes=off_m)
        tz = dt.timezone(-offset if m["sign"] == "-" else offset)  # refuses 24 hours or more
    second = int(m["second"] or 0)
    return dt.datetime(
        int(m["year"]),
        int(m["month"]),
        int(m["day"]),
        int(m["hour"] or 0),
        int(m["minute"] or 0),
        59 if second == 60 else second,  # a leap second (:60): POSIX time has none
        int((m["frac"] or "")[:6].ljust(6, "0")),  # microseconds, the finer digits dropped
        tzinfo=tz,
    )


def _parse_time(text: str) -> dt.datetime:
    """``--at``: unix seconds (a number: ``20260601`` too, which is not read as a date), else an
    RFC 3339 / ISO 8601 date-time or date (:func:`_iso_time`); without an offset, UTC."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = None
    try:
        if seconds is not None:
            return dt.datetime.fromtimestamp(seconds, tz=dt.timezone.utc)
        return _iso_time(text)
    except (ValueError, OverflowError, OSError):  # "inf", 1e20: outside datetime's range
        raise argparse.ArgumentTypeError(
            f"not a time: {text!r} (RFC 3339 / ISO 8601 such as 2026-06-01T00:00:00Z, "
            "20260601T000000Z or 2026-06-01, or unix seconds; years 1 to 9999)"
        ) from None


def _snapshot_path(text: str) -> str:
    """``crl compile -o``: a file name; ``-`` (standard output) is refused, not taken as a file
    named ``-``: a snapshot is binary, written to a temporary file and renamed into place."""
    if text == "-":
        raise argparse.ArgumentTypeError(
            "a snapshot is binary and written to a file: give a file name, not '-'"
        )
    return text


def _display_path(path: str) -> str:
    """A path as the JSON output and the CA names show it: a name that is not UTF-8 (surrogate
    escapes from the OS) with backslash escapes, so that the JSON is UTF-8 that strict parsers
    read (``json.dumps`` would write lone surrogates)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def emit(text: str, out: TextIO | None = None) -> None:
    """Write ``text`` and a newline to ``out`` (default: standard output), flushed.

    A reader that went away (``fastmtls verify ... | head -c1``) is not a failure of the command:
    the output stops, quietly, and the command still ends with the status its work gave. On
    BrokenPipeError the stream's descriptor is pointed at /dev/null (the recipe of Python's
    ``signal`` documentation), so that later writes and the flush at exit do not fail again.
    """
    stream = sys.stdout if out is None else out
    try:
        print(text, file=stream, flush=True)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, stream.fileno())
        except (OSError, ValueError):  # a stream without a descriptor: later writes retry
            pass
        finally:
            os.close(devnull)


def _help_text(paragraph: str) -> str:
    """A docstring paragraph as plain text for ``--help`` (reST markup dropped)."""
    text = re.sub(r":\w+:`([^`]+)`", r"\1", " ".join(paragraph.split()))
    return text.replace("``", "")


def _build_parser() -> argparse.ArgumentParser:
    # the module docstring's first paragraph (what each command does) and its second (exit
    # statuses, the demo); the third is about the implementation
    summary, statuses = [*(__doc__ or "").split("\n\n"), "", ""][:2]
    parser = argparse.ArgumentParser(prog="fastmtls", description=_help_text(summary),
                                     epilog=_help_text(statuses))  # fmt: skip
    sub = parser.add_subparsers(dest="command", required=True)
    v = sub.add_parser("verify", help="verify a client certificate chain (PEM or DER, leaf first)")
    v.add_argument("chain", help="PEM (or DER) file holding the presented chain, leaf first "
                   "('-' = stdin)")
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
        help="extra untrusted intermediates (PEM or DER); repeatable",
    )
    v.add_argument(
        "--associate",
        action="append",
        default=[],
        metavar="HOST=CAFILE",
        help="HOST (or *.DOMAIN) trusts only the CAs of CAFILE, one of the --ca files as given "
        "there; repeatable (a host given several files trusts all of them)",
    )
    v.add_argument(
        "--host",
        help="hostname (SNI) whose --associate CAs apply; a host without an association trusts "
        "every --ca",
    )
    v.add_argument(
        "--at",
        type=_parse_time,
        help="verification time: RFC 3339 / ISO 8601 (2026-06-01T00:00:00Z; UTC without an "
        "offset) or unix seconds",
    )
    v.add_argument("--purpose", choices=("client", "server", "any"), default="client")
    v.add_argument(
        "--require-eku",
        action="store_true",
        help="the leaf must carry an extendedKeyUsage naming the purpose (default: only when it "
        "has one; no effect with --purpose any)",
    )
    v.add_argument(
        "--cn-constraints",
        choices=("no-san", "no-dns-san", "always"),
        help="when a host-like subject CN is checked against DNS name constraints: whenever the "
        "leaf has no DNS SAN (no-dns-san, OpenSSL's rule, the default for client certificates), "
        "only when it has no SAN at all (no-san, the default for --purpose server), or always "
        "(backends that authorise on the subject)",
    )
    v.add_argument(
        "--profile",
        choices=("rfc5280", "webpki"),
        default="rfc5280",
        help="webpki adds the CA/B Forum rules of publicly trusted server certificates (leaf "
        "EKU present, without anyExtendedKeyUsage; no EKU critical; RSA keys of whole octets "
        "or ECDSA P-256/P-384/P-521; roots without EKU or a foreign AKI)",
    )
    v.add_argument("--expected-name", help="DNS name, IP, e-mail or URI the leaf must carry")
    v.add_argument("--max-depth", type=int, default=8, help="intermediates allowed (default 8)")
    revocation_source = v.add_mutually_exclusive_group()
    revocation_source.add_argument(
        "--crl",
        action="append",
        default=[],
        metavar="FILE",
        help="CRL (PEM or DER) issued by one of the --ca or --intermediate certificates (never "
        "one of the client's chain: give an intermediate's CRL with --intermediate); repeatable",
    )
    revocation_source.add_argument(
        "--revocations", metavar="SNAPSHOT", help="compiled revocation snapshot (not with --crl)"
    )
    v.add_argument(
        "--revocation-check",
        choices=("leaf", "chain"),
        default="leaf",
        help="check the leaf only, or every certificate below the trusted CA (needs --crl or "
        "--revocations)",
    )
    v.add_argument(
        "--strict-revocation",
        action="store_true",
        help="a revoked chain is FAILED:certificate revoked (default: SUCCESS with "
        "cert_revoked true, as Cloudflare; the exit status is 1 either way)",
    )
    v.add_argument(
        "--missing-crl",
        choices=("allow", "deny"),
        default="allow",
        help="deny: a checked certificate whose CA has no CRL fails (unable to get certificate "
        "CRL)",
    )
    v.add_argument(
        "--expired-crl",
        choices=("ignore", "deny"),
        default="ignore",
        help="deny: a certificate whose CRL is past its nextUpdate fails (CRL has expired)",
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
    comp.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="SNAPSHOT",
        type=_snapshot_path,
        help="the snapshot file to write (not '-': a snapshot is binary)",
    )
    comp.add_argument(
        "--at",
        type=_parse_time,
        help="the time the snapshot is compiled for (as verify --at; default now): a "
        "CRL issued for later ranks below the CRLs in force then",
    )

    demo = sub.add_parser(
        "demo", help="mutual TLS end to end: a throwaway PKI, an HTTPS server, clients"
    )
    demo.add_argument(
        "--keep",
        metavar="DIR",
        help="write the PKI (PEM) into DIR, a new or empty directory, and keep the server "
        "running until Ctrl-C",
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


@contextlib.contextmanager
def _about(option: str, path: str) -> Iterator[None]:
    """Errors raised inside name the option and file they are about (``--ca root.pem: no PEM
    CERTIFICATE block found``), whatever part of the configuration found them."""
    try:
        yield
    except FastMTLSError as exc:
        exc.args = (f"{option} {_display_path(path)}: {exc}", *exc.args[1:])
        raise


def _read_cas(paths: Sequence[str], option: str = "--ca") -> list[bytes]:
    """The certificates of CA or intermediate files (PEM or DER), in order."""
    return _read_each(paths, option, certificates_of)[0]


def _read_each(paths: Sequence[str], option: str, split: Callable[[bytes], list[bytes]]
               ) -> tuple[list[bytes], list[str]]:  # fmt: skip
    """The items (certificates, CRLs: ``split``) of the files ``paths``, in order, and the file
    of each; a file that does not read is refused with its name."""
    items: list[bytes] = []
    files: list[str] = []
    for path in paths:
        with _about(option, path):
            found = split(Path(path).read_bytes())
        items.extend(found)
        files.extend([path] * len(found))
    return items, files


def _name_item(exc: FastMTLSError, pattern: str, option: str, files: Sequence[str],
               first: int) -> None:  # fmt: skip
    """Prefix ``exc`` (about item n of a list read by _read_each, ``pattern`` capturing n,
    counted from ``first``) with the option and file the item came from."""
    m = re.match(pattern, str(exc))
    if m and 0 <= int(m.group(1)) - first < len(files):
        path = files[int(m.group(1)) - first]
        exc.args = (f"{option} {_display_path(path)}: {exc}", *exc.args[1:])


def _build_set(paths: Sequence[str], option: str, cas: Sequence[bytes],
               at: TimeInput) -> RevocationSet:  # fmt: skip
    """RevocationSet.build over the CRLs of ``paths``; a CRL it refuses (``CRL #n ...``, n
    counting the CRLs of every file from 1) is named with its file."""
    crls, files = _read_each(paths, option, crl_to_der)
    try:
        return RevocationSet.build(crls, cas=cas, at=at)
    except FastMTLSError as exc:
        _name_item(exc, r"CRL #(\d+)", option, files, 1)
        raise


def _inspect_error(der: bytes, cas: Sequence[bytes], errors: Sequence[str | None]) -> str:
    """Why no --ca verified the CRL, as its "signature" reads: invalid, with the error of the
    first CA whose subject is the CRL's issuer (its signature, AKI or keyUsage), else not
    checked, since no CA has that name."""
    issuer = inspect_crl(der).issuer_der
    for ca, error in zip(cas, errors):
        if error is not None and ca_subject(ca) == issuer:
            return f"invalid: {error}"
    return "not checked: no --ca certificate has the CRL's issuer name"


def _crl_inspect(args: argparse.Namespace) -> int:
    cas = _read_cas(args.ca)
    reports: list[dict[str, object]] = []
    bad_signature = False
    now = dt.datetime.now(dt.timezone.utc).timestamp()
    for path in args.files:
        for der in _read_each([path], "CRL file", crl_to_der)[0]:
            with _about("CRL file", path):
                info = inspect_crl(der)
            signature = "not checked (give --ca)"
            if cas:
                errors = [check_crl(der, ca) for ca in cas]
                if None in errors:
                    signature = "valid"
                else:
                    signature = _inspect_error(der, cas, errors)
                bad_signature |= None not in errors
            reports.append(
                {
                    "file": _display_path(path),
                    "issuer": _name(info.issuer_der),
                    "this_update": asn1_time(info.this_update),
                    "next_update": None
                    if info.next_update is None
                    else asn1_time(info.next_update),
                    # past its nextUpdate now (a relying party with expired_crl="deny" refuses
                    # what it covers)
                    "expired": info.next_update is not None and info.next_update < now,
                    "crl_number": info.number,
                    "delta_of": info.base_number,
                    "entries": info.entries,
                    "scope": info.scope,
                    "version": info.version,
                    "signature": signature,
                }
            )
    emit(json.dumps(reports, indent=2))
    return 1 if bad_signature else 0


def _crl_compile(args: argparse.Namespace) -> int:
    rs = _build_set(args.files, "CRL file", _read_cas(args.ca), args.at)
    rs.save(args.output)
    report = {
        "output": _display_path(args.output),
        "entries": len(rs),
        "issuers": len(rs.issuers()),
        "bytes": os.stat(args.output).st_size,  # the file's size (not the set's memory)
    }
    emit(json.dumps(report, indent=2))
    return 0


# At most this much of the presented chain is read: more than the verifier takes in either form
# (DER: max_input_size; PEM text: about twice that), so that a larger input is still refused as
# too large, while /dev/zero or an endless stdin cannot fill the memory.
_MAX_CHAIN_READ = 4 * Limits().max_input_size + 65536


def _read_chain(path: str) -> bytes:
    """The presented chain (``-``: standard input), at most :data:`_MAX_CHAIN_READ` bytes."""
    if path != "-":
        with open(path, "rb") as f:
            return f.read(_MAX_CHAIN_READ)
    if sys.stdin is None:  # started with stdin closed
        raise OSError("standard input is closed")
    return sys.stdin.buffer.read(_MAX_CHAIN_READ)


def _trust_store(cas: Sequence[str], associations: Sequence[str]) -> TrustStore:
    """The --ca files, each named by its path (the JSON's anchor name), and the --associate
    HOST=CAFILE pairs: a host trusts the CAs of the files given for it, and only those."""
    store = TrustStore()
    names = {path: _display_path(path) for path in cas}
    for path in cas:
        with _about("--ca", path):
            store.add_file(path, name=names[path])
    hosts: dict[str, list[str]] = {}  # by the host as the store spells it (lower case, IDNA)
    for item in associations:
        host, sep, path = item.partition("=")
        if not sep or path not in names:
            raise ConfigurationError(
                f"--associate {item!r}: expected HOST=CAFILE, CAFILE one of the --ca files as "
                "given there"
            )
        hosts.setdefault(_normalize_host(host), []).append(names[path])
    for host, ca_names in hosts.items():
        store.associate(host, ca_names)
    return store


def _crl_revocations(args: argparse.Namespace, inters: Sequence[bytes]) -> RevocationSet:
    """The --crl files as a revocation set, each CRL checked against the configured CAs (--ca
    and --intermediate) only: never against certificates of the client's chain, so that what a
    client sends cannot make the configuration fail (exit 2 instead of a result) nor pass."""
    try:
        return _build_set(args.crl, "--crl", [*_read_cas(args.ca), *inters], args.at)
    except RevocationError as exc:
        if "no configured CA" not in str(exc):
            raise
        raise RevocationError(
            f"{exc} (a --crl is checked against the --ca and --intermediate certificates: give "
            "the CA that issued it, an intermediate with --intermediate)"
        ) from None


def _verify(args: argparse.Namespace) -> int:
    given = [opt for opt, on in (("--revocation-check chain", args.revocation_check == "chain"),
                                 ("--strict-revocation", args.strict_revocation),
                                 ("--missing-crl deny", args.missing_crl == "deny"),
                                 ("--expired-crl deny", args.expired_crl == "deny")) if on]
    if given and not (args.crl or args.revocations):  # a check that would check nothing
        raise ConfigurationError(f"{', '.join(given)} needs --crl or --revocations")
    store = _trust_store(args.ca, args.associate)
    inters, files = _read_each(args.intermediate, "--intermediate", certificates_of)
    try:
        verifier = Verifier(
            store,
            purpose=args.purpose,
            intermediates=inters,
            max_depth=args.max_depth,
            revocation_check=args.revocation_check,
            revoked="fail" if args.strict_revocation else "flag",
            missing_crl=args.missing_crl,
            expired_crl=args.expired_crl,
            require_eku=args.require_eku,
            cn_constraints=args.cn_constraints,
            profile=args.profile,
        )
    except FastMTLSError as exc:  # "intermediate n: ...", n counted from 0
        _name_item(exc, r"intermediate (\d+)", "--intermediate", files, 0)
        raise
    # read before the chain: configuration errors do not depend on it
    if args.revocations:
        verifier.revocations = RevocationSet.load(args.revocations)
    elif args.crl:
        verifier.revocations = _crl_revocations(args, inters)
    data = _read_chain(args.chain)
    result = verifier.verify(data, host=args.host, at=args.at, expected_name=args.expected_name)
    out = result.as_dict()
    out["reason"] = result.reason.name
    out["depth"] = result.depth
    out["anchor"] = result.anchor_name
    emit(json.dumps(out, indent=2))
    note = _not_a_chain(data)
    if note and result.reason == Reason.MALFORMED_CERT:  # a result still: the note helps find why
        print(f"fastmtls: note: {_display_path(args.chain)} {note}", file=sys.stderr)
    return 0 if result.verified and not result.revoked else 1


def _not_a_chain(data: bytes) -> str:
    """What a CHAIN file holds instead of certificates, when its PEM blocks are all of other
    kinds (a CRL, a key, a CSR given by mistake); "" otherwise."""
    labels = non_certificate_blocks(data[:1 << 20])
    if not labels:
        return ""
    kinds = ", ".join(labels)
    return f"holds no PEM CERTIFICATE block, only {kinds}: CHAIN is the client's certificates"


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
