"""Revocation sets: CRLs and managed revocations, looked up in C in O(1).

A :class:`RevocationSet` is immutable. It is built once from CRLs (each CRL's signature checked
against its issuing CA) and explicit entries, or opened from a compiled snapshot file that is
memory-mapped. Give it to a :class:`~fastmtls.Verifier` (``revocations=``) and replace it on a
running verifier with one attribute assignment: verifications in flight finish on the set they
started with, and cached results from before the swap are never answered.
"""

from __future__ import annotations

import datetime as _dt
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Union

from ._certinfo import CertInfo
from ._ffi import ffi, lib, message, status_name
from ._format import dn_rfc2253
from ._time import TimeInput, unix_time
from .errors import ConfigurationError, NativeError
from .pem import certificates, looks_like_pem, path_hint, pem_to_der_blocks

PathLike = Union[str, "os.PathLike[str]"]
CRLInput = Union[bytes, bytearray, memoryview, str]

REASONS = {
    0: "unspecified", 1: "keyCompromise", 2: "cACompromise", 3: "affiliationChanged",
    4: "superseded", 5: "cessationOfOperation", 6: "certificateHold", 8: "removeFromCRL",
    9: "privilegeWithdrawn", 10: "aACompromise",
}  # fmt: skip


class RevocationError(ConfigurationError):
    """A CRL or snapshot could not be used: malformed, bad signature, wrong issuer, unsupported."""


class SnapshotError(RevocationError):
    """A compiled snapshot file is truncated, corrupt or of an unsupported version."""


def _raise(status: int, what: str) -> None:
    if status == 0:
        return
    name = status_name(status) or ""
    exc = SnapshotError if "SNAPSHOT" in name else RevocationError
    if name in ("FM_ERR_NOMEM", "FM_ERR_INTERNAL"):
        raise NativeError(f"{what}: {message(status)}")
    hint = ""
    if name == "FM_ERR_SNAPSHOT_VERSION":
        hint = " (written by another fastmtls version: compile it again from its CRLs)"
    elif name == "FM_ERR_IO" and ffi.errno:  # what the file system said (saved by CFFI)
        hint = f" ({os.strerror(ffi.errno)})"
    raise exc(f"{what}: {message(status)}{hint}")


def serial_bytes(serial: int) -> bytes:
    """A certificate serial number as DER INTEGER content octets (what CRLs carry)."""
    if serial < 0:  # the fewest octets in two's complement: -128 is 80, -129 is FF7F
        return serial.to_bytes(((~serial).bit_length() + 8) // 8, "big", signed=True)
    return serial.to_bytes(serial.bit_length() // 8 + 1, "big")


_BYTES_LIKE = (bytes, bytearray, memoryview)
_INT64 = range(-(2**63), 2**63)


_c_lookup = lib.fm_revset_lookup
_new_revocation = object.__new__
_alloc_revocation = ffi.new_allocator(should_clear_after_alloc=False)  # the lookup fills it
_REVOCATION_T = ffi.typeof("fm_revocation *")
_ISSUER_KEYS: dict[bytes, tuple[bytes, bytes]] = {}  # CA DER -> (subject, SPKI); a few CAs
_ISSUER_KEYS_MAX = 256


def _issuer_key(issuer: bytes) -> tuple[bytes, bytes]:
    """The (subject Name, SubjectPublicKeyInfo) DER of the CA certificate ``issuer``, which is
    what a revocation set is keyed by; remembered for the few CAs a process asks about."""
    if type(issuer) is not bytes:
        if not isinstance(issuer, _BYTES_LIKE):
            raise ConfigurationError(
                f"issuer must be the CA certificate's DER bytes, not {type(issuer).__name__}")
        issuer = bytes(issuer)  # bytearray, memoryview: hashable, and frozen while remembered
    key = _ISSUER_KEYS.get(issuer)
    if key is None:
        cert = CertInfo(issuer)
        if not cert.ok:
            raise ConfigurationError("issuer is not a parseable certificate")
        key = (cert.subject, cert.spki)
        if len(_ISSUER_KEYS) >= _ISSUER_KEYS_MAX:
            _ISSUER_KEYS.clear()
        _ISSUER_KEYS[issuer] = key
    return key


def _unix(value: _dt.datetime | int | None) -> int:
    if value is None:
        return 0
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            raise ConfigurationError("revocation dates must be timezone-aware")
        return int(value.timestamp())
    if type(value) is not int or value not in _INT64:
        raise ConfigurationError(
            f"revocation date must be a timezone-aware datetime or unix seconds, not {value!r}")
    return value


@dataclass(frozen=True)
class Revocation:
    """One revoked certificate: its issuing CA (DER certificate), serial, reason code and date.

    As an explicit entry of :meth:`RevocationSet.build`, ``reason`` is a CRLReason code 0-10
    other than 7 (unused) and 8 (``removeFromCRL``, which only has a meaning in a delta CRL: to
    take a revocation back, leave the entry out). The set keeps ``date`` as 32-bit Unix seconds
    (4 of its ~36 bytes per entry): dates before 1970 read back as 0 and after 2106-02-07 as
    2**32 - 1; no revocation date outside that range occurs in practice.
    """

    issuer: bytes
    serial: int
    reason: int = 0
    date: _dt.datetime | int | None = None

    def __post_init__(self) -> None:
        """Wrong types are the caller's mistake, caught here rather than deep in a build."""
        if not isinstance(self.issuer, _BYTES_LIKE):
            raise ConfigurationError("Revocation.issuer must be the CA certificate's DER bytes")
        if type(self.serial) is not int or type(self.reason) is not int:
            raise ConfigurationError("Revocation.serial and .reason must be ints")
        _unix(self.date)  # validates the date's type and range

    @property
    def reason_name(self) -> str:
        """RFC 5280 CRLReason name (``keyCompromise``, ...)."""
        return REASONS.get(self.reason, str(self.reason))


@dataclass(frozen=True)
class CRLInfo:
    """What a CRL says about itself (``fastmtls crl inspect``)."""

    issuer_der: bytes
    this_update: int
    next_update: int | None
    number: int | None
    base_number: int | None
    entries: int
    delta: bool
    scope: str  # "all", "user", "ca", "attribute"
    partitioned_by_reason: bool
    version: int
    aki: bytes | None = None  # authorityKeyIdentifier keyIdentifier: which key of the CA signed
    idp_der: bytes | None = None  # issuingDistributionPoint (DER): which partition it covers


@dataclass(frozen=True)
class IssuerInfo:
    """Per-CA state of a revocation set."""

    name_der: bytes
    spki_der: bytes
    has_crl: bool
    this_update: int | None
    next_update: int | None
    crl_number: int | None
    entries: int


def _scope(flags: int) -> str:
    if flags & lib.FM_CRL_ONLY_USER:
        return "user"
    if flags & lib.FM_CRL_ONLY_CA:
        return "ca"
    if flags & lib.FM_CRL_ONLY_ATTR:
        return "attribute"
    return "all"


def crl_to_der(data: CRLInput, *, configured: bool = False) -> list[bytes]:
    """The DER of every CRL in ``data`` (DER, or PEM with one or more ``X509 CRL`` blocks).
    ``configured``: the operator's data (not a download), whose error also says when it is the
    name of a file."""
    if not isinstance(data, (*_BYTES_LIKE, str)):
        raise ConfigurationError(f"a CRL must be DER bytes or PEM text, not {type(data).__name__}")
    raw = data.encode("ascii", "replace") if isinstance(data, str) else bytes(data)
    if looks_like_pem(raw):  # text around the blocks (openssl crl -text, comments) is allowed
        ders = pem_to_der_blocks(raw, (b"X509 CRL",))
        if not ders:
            raise RevocationError(
                "no PEM X509 CRL block found" + (path_hint(raw) if configured else ""))
        if raw.count(b"-----BEGIN X509 CRL-----") != len(ders):  # a block cut short: a file
            # read while being written, a body cut off; its CRL would silently be missing
            raise RevocationError("a PEM X509 CRL block has no END line (truncated?)")
        return ders
    return [raw]


def inspect_crl(data: CRLInput) -> CRLInfo:
    """Parse one CRL, DER or PEM (no signature check) and describe it."""
    if type(data) is bytes and not looks_like_pem(data):
        der = data
    else:
        ders = crl_to_der(data)
        if len(ders) != 1:
            raise ConfigurationError(f"inspect_crl() reads one CRL; this PEM holds {len(ders)}")
        der = ders[0]
    info = ffi.new("fm_crl_info *")
    _raise(lib.fm_crl_parse(der, len(der), info), "CRL")

    def num(off: int, n: int) -> int | None:
        return int.from_bytes(der[off : off + n], "big") if n else None

    return CRLInfo(
        issuer_der=der[info.issuer_off : info.issuer_off + info.issuer_len],
        this_update=int(info.this_update),
        next_update=None if info.next_update == 2**63 - 1 else int(info.next_update),
        number=num(info.number_off, info.number_len),
        base_number=num(info.base_off, info.base_len),
        entries=int(info.n_entries),
        delta=bool(info.flags & lib.FM_CRL_DELTA),
        scope=_scope(info.flags),
        partitioned_by_reason=bool(info.flags & lib.FM_CRL_SOME_REASONS),
        version=int(info.version) + 1,
        aki=der[info.aki_off : info.aki_off + info.aki_len] if info.aki_len else None,
        idp_der=der[info.idp_off : info.idp_off + info.idp_len] if info.idp_len else None,
    )


def _crl_label(der: bytes, index: int, issuer: bytes | None = None) -> str:
    """``CRL #index (issuer DN)`` for error messages (index: 1-based among the CRLs given)."""
    if issuer is None:
        info = ffi.new("fm_crl_info *")
        if lib.fm_crl_parse_header_info(der, len(der), info) != 0:
            return f"CRL #{index}"
        issuer = der[info.issuer_off : info.issuer_off + info.issuer_len]
    try:
        name = dn_rfc2253(issuer)
    except Exception:  # pragma: no cover - the C parser accepted the Name
        return f"CRL #{index}"
    return f"CRL #{index} (issuer {name})"


def check_crl(der: bytes, ca_der: bytes) -> str | None:
    """None when ``ca_der`` issued and signed the CRL, else the reason it did not."""
    rc = lib.fm_crl_check(der, len(der), ca_der, len(ca_der))
    return None if rc == 0 else message(rc)


def ca_subject(ca_der: bytes) -> bytes | None:
    """The subject Name DER of a certificate, or None when it does not parse."""
    cert = CertInfo(ca_der)
    return cert.subject if cert.ok else None


def configured_cas(verifier: Any) -> tuple[bytes, ...]:
    """The CAs a Verifier is configured with: its store's trust anchors (the current snapshot)
    and its operator intermediates, each once: the CAs whose CRLs its revocation set takes."""
    return tuple(dict.fromkeys((*verifier.store._snapshot.anchors, *verifier._inters)))


def _ca_ders(cas: Any) -> list[bytes]:
    """``cas=`` of build(): None, a TrustStore, a Verifier, one DER/PEM (a bundle), or a list
    of DER/PEM."""
    from .verifier import Verifier  # (verifier.py imports this module)

    if cas is None:
        return []
    if isinstance(cas, Verifier):
        return list(configured_cas(cas))
    anchors = getattr(getattr(cas, "_snapshot", None), "anchors", None)
    if anchors is not None:  # a TrustStore
        return list(anchors)
    if isinstance(cas, (*_BYTES_LIKE, str)):
        return certificates(cas, "cas")
    if not isinstance(cas, Iterable):
        raise ConfigurationError("cas must be a TrustStore, a Verifier or DER/PEM certificates, "
                                 f"not {type(cas).__name__}")
    return [der for item in cas for der in certificates(item, "cas")]


def _crl_items(crls: Any) -> list[CRLInput]:
    """``crls`` of build(): one CRL (DER or PEM text) or an iterable of them."""
    if isinstance(crls, (*_BYTES_LIKE, str)):
        return [crls]
    if not isinstance(crls, Iterable):
        raise ConfigurationError(f"crls must be CRLs (DER or PEM), not {type(crls).__name__}")
    return list(crls)


class RevocationSet:
    """Revoked certificates keyed by (issuing CA name + key, serial): two CAs that reuse a serial
    never collide. Immutable; build a new one to change it."""

    __slots__ = ("__weakref__", "_ptr")

    def __init__(self, _ptr: Any) -> None:
        """Internal: use :meth:`build`, :meth:`load` or :meth:`empty`."""
        self._ptr = ffi.gc(_ptr, lib.fm_revset_free)

    # -- construction ---------------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        crls: Iterable[CRLInput] = (),
        *,
        cas: Any = None,
        entries: Iterable[Revocation] = (),
        at: TimeInput = None,
        seed: int | None = None,
    ) -> RevocationSet:
        """Build from CRLs (DER or PEM) and explicit entries.

        ``cas`` (a :class:`~fastmtls.TrustStore`, a :class:`~fastmtls.Verifier`, whose trust
        anchors and operator intermediates count, or DER/PEM certificates) are the CAs that may
        have issued the CRLs: each CRL is checked against the CA whose name it carries and whose key
        verifies its signature. A CRL no CA verifies raises :class:`RevocationError`, whose
        message names the CRL (its position among the CRLs given, counting each PEM block, and
        its issuer).

        Per CA and partition (CRLs whose issuingDistributionPoint means the same), the newest
        base CRL is used with the newest delta CRL that applies to it (``removeFromCRL``
        honoured): a delta lists every change since its base, so older deltas are superseded.
        A delta whose base is missing, or that needs a newer base than the newest one given,
        raises :class:`RevocationError` unless a newer applicable delta supersedes it.

        ``at`` (default: now) is the time the set is built for: a CRL issued for later (its
        thisUpdate after ``at``) ranks below every CRL of its partition already in force, and a
        delta CRL not yet in force is not applied, as OpenSSL prefers a time-valid CRL. A CRL
        without a cRLNumber ranks by its thisUpdate against numbered ones.

        ``seed`` (default: 64 random bits drawn for this build) keys the hash that places the
        entries in the set's table: the same input and seed give the same snapshot bytes. A CA
        chooses its serials, so a CRL could carry serials chosen to collide under a seed its
        issuer knows; the build then draws random seeds until no lookup probes more than 1024
        slots (:attr:`seed` tells which one it kept).
        """
        now = unix_time(at, "build time")
        if seed is not None and (type(seed) is not int or not 0 <= seed < 1 << 64):
            raise ConfigurationError("seed must be an int from 0 to 2**64 - 1")
        ca_list = [(der, ca_subject(der)) for der in _ca_ders(cas)]
        crl_items = _crl_items(crls)
        entry_list = list(entries) if isinstance(entries, Iterable) else None
        if entry_list is None or not all(isinstance(e, Revocation) for e in entry_list):
            raise ConfigurationError("entries must be fastmtls.Revocation objects")
        out = ffi.new("fm_revbuild **")
        _raise(lib.fm_revbuild_new(out), "revocation set")
        builder = out[0]
        lib.fm_revbuild_set_time(builder, now)
        if seed is not None:
            lib.fm_revbuild_set_seed(builder, seed)
        held: list[bytes] = []  # the builder borrows each CRL's DER until finish: keep them alive
        try:
            for item in crl_items:
                for der in crl_to_der(item, configured=True):
                    held.append(der)
                    cls._add_crl(builder, der, ca_list, len(held))
            for e in entry_list:
                if e.reason not in REASONS or e.reason == lib.FM_REASON_REMOVE_FROM_CRL:
                    raise RevocationError(
                        f"revocation of serial {e.serial:X}: reason {e.reason} is not allowed in "
                        "an explicit entry (CRLReason 0-10 except 7 and 8, removeFromCRL: to take "
                        "a revocation back, leave the entry out)"
                    )
                ser, issuer = serial_bytes(e.serial), bytes(e.issuer)
                rc = lib.fm_revbuild_add_entry(builder, issuer, len(issuer), ser, len(ser),
                                               e.reason, _unix(e.date))  # fmt: skip
                _raise(rc, f"revocation of serial {e.serial:X}")
        except BaseException:
            lib.fm_revbuild_free(builder)
            raise
        res = ffi.new("fm_revset **")
        bad = ffi.new("int64_t *")
        rc = lib.fm_revbuild_finish_ex(builder, res, bad)  # consumes the builder
        what = "revocation set"
        if rc != 0 and 0 <= bad[0] < len(held):  # the CRL at fault (a bad entry, no base)
            what = _crl_label(held[bad[0]], int(bad[0]) + 1)
        del held  # only now may the CRLs' DER go
        _raise(rc, what)
        return cls(res[0])

    @staticmethod
    def _add_crl(
        builder: Any, der: bytes, ca_list: Sequence[tuple[bytes, bytes | None]], index: int
    ) -> None:
        # only the header here: entries are validated once, as the builder reads them
        info = ffi.new("fm_crl_info *")
        _raise(lib.fm_crl_parse_header_info(der, len(der), info), f"CRL #{index}")
        issuer = der[info.issuer_off : info.issuer_off + info.issuer_len]
        candidates = [ca for ca, subject in ca_list if subject == issuer]
        what = _crl_label(der, index, issuer)
        if not candidates:
            raise RevocationError(
                f"{what}: no configured CA has the CRL's issuer name" + (
                    " (cas= holds the CAs that issue the CRLs: give the issuing intermediate "
                    "itself, or the Verifier whose intermediates= holds it)" if ca_list else
                    " (no CAs given: pass cas=, the TrustStore, Verifier or certificates "
                    "of the CAs that issue the CRLs)"))
        last = 0
        for ca in candidates:
            # borrowed: ``der`` is an immutable bytes object that build() holds until finish
            last = lib.fm_revbuild_add_crl_borrowed(builder, der, len(der), ca, len(ca), ffi.NULL)
            if last == 0:
                return
        _raise(last, what)

    @classmethod
    def empty(cls) -> RevocationSet:
        """A set that revokes nothing."""
        return cls.build()

    @classmethod
    def load(cls, path: PathLike) -> RevocationSet:
        """Open a compiled snapshot (memory-mapped; header and checksum verified).

        The file is shared with the page cache, so worker processes opening one snapshot share its
        memory, and it is checked once, when opened: replace a snapshot by renaming a new file
        over it (as :meth:`save` does), never by rewriting it in place (``cp new old`` truncates
        it: a process that has it mapped then dies of SIGBUS on its next lookup). For a private
        copy immune to the file, use ``from_snapshot_bytes(path.read_bytes())``.
        """
        out = ffi.new("fm_revset **")
        ffi.errno = 0
        _raise(lib.fm_revset_load(os.fsencode(path), out), f"snapshot {os.fspath(path)!r}")
        return cls(out[0])

    @classmethod
    def from_snapshot_bytes(cls, data: bytes) -> RevocationSet:
        """Open a snapshot held in memory (copied)."""
        if not isinstance(data, _BYTES_LIKE):
            raise ConfigurationError(f"a snapshot is bytes, not {type(data).__name__}")
        data = bytes(data)
        out = ffi.new("fm_revset **")
        _raise(lib.fm_revset_load_bytes(data, len(data), out), "snapshot")
        return cls(out[0])

    def save(self, path: PathLike) -> None:
        """Write a compiled snapshot (written to a temporary file, then renamed into place).

        A symbolic link is followed: the file it names is replaced and the link kept (as ``cp``
        writes through one; replacing the link itself would undo a deployment's versioned
        layout). A path naming something other than a regular file (a device, a FIFO,
        ``/dev/stdout``) is refused: the rename would replace it."""
        what = f"snapshot {os.fspath(path)!r}"
        target = os.path.realpath(os.fsencode(path))
        try:
            mode = os.stat(target).st_mode
        except FileNotFoundError:
            mode = None
        except OSError as exc:
            raise RevocationError(f"{what}: {exc.strerror or exc}") from None
        if mode is not None and not stat.S_ISREG(mode):
            raise RevocationError(f"{what}: not a regular file (a snapshot replaces the file it "
                                  "is written to)")  # fmt: skip
        ffi.errno = 0
        _raise(lib.fm_revset_save(self._ptr, target), what)

    # -- queries ---------------------------------------------------------------------------------

    def lookup(self, issuer: bytes, serial: int) -> Revocation | None:
        """The revocation of ``serial`` issued by the CA certificate ``issuer`` (DER), if any."""
        key = _issuer_key(issuer)
        if isinstance(serial, bool):  # an int to Python, never a serial
            raise ConfigurationError("serial must be an int, not bool")
        try:
            ser = serial_bytes(serial)
        except (AttributeError, TypeError):
            what = type(serial).__name__
            raise ConfigurationError(f"serial must be an int, not {what}") from None
        rv = _alloc_revocation(_REVOCATION_T)
        if _c_lookup(self._ptr, key[0], len(key[0]), key[1], len(key[1]), ser, len(ser), rv) != 1:
            return None
        # Revocation(issuer, serial, reason, date) without the frozen dataclass's per-field
        # object.__setattr__ (the same instance, a third of the cost)
        out = _new_revocation(Revocation)
        if type(issuer) is not bytes:  # the caller's buffer may change: a copy, as typed
            issuer = bytes(issuer)
        out.__dict__.update(issuer=issuer, serial=serial, reason=rv.reason, date=rv.date)
        return out

    def revoked_among(self, issuer: bytes, serials: Iterable[int]) -> list[int]:
        """The serials of ``serials`` that the CA certificate ``issuer`` (DER) revoked, in order:
        one C call for the lot (an inventory audit, a migration check), each serial looked up as
        :meth:`lookup` does."""
        key = _issuer_key(issuer)
        try:
            wanted = list(serials)
            encoded = [serial_bytes(v) for v in wanted]
        except (AttributeError, TypeError):
            raise ConfigurationError("serials must be ints") from None
        if any(len(e) > 255 for e in encoded):  # no certificate serial is that long
            keep = [i for i, e in enumerate(encoded) if len(e) <= 255]
            wanted, encoded = [wanted[i] for i in keep], [encoded[i] for i in keep]
        packed = b"".join(bytes([len(e)]) + e for e in encoded)
        out = ffi.new("uint8_t[]", max(1, len(encoded)))
        n = lib.fm_revset_lookup_many(self._ptr, key[0], len(key[0]), key[1], len(key[1]),
                                      packed, len(packed), len(encoded), out)  # fmt: skip
        if n < 0:  # pragma: no cover - the records are built above
            raise NativeError(f"revocation lookup: {message(-n)}")
        return [v for i, v in enumerate(wanted) if out[i]]

    def issuers(self) -> list[IssuerInfo]:
        """Per-CA state: CRL dates and number, entry count."""
        out: list[IssuerInfo] = []
        info = ffi.new("fm_revset_issuer *")
        for i in range(lib.fm_revset_issuer_count(self._ptr)):
            lib.fm_revset_issuer_get(self._ptr, i, info)
            has = bool(info.has_crl)
            number = bytes(ffi.buffer(info.number, info.number_len)) if info.number_len else b""
            out.append(
                IssuerInfo(
                    name_der=bytes(ffi.buffer(info.name, info.name_len)),
                    spki_der=bytes(ffi.buffer(info.spki, info.spki_len)),
                    has_crl=has,
                    this_update=int(info.this_update) if has else None,
                    next_update=None if info.next_update == 2**63 - 1 else int(info.next_update),
                    crl_number=int.from_bytes(number, "big") if number else None,
                    entries=int(info.n_entries),
                )
            )
        return out

    @property
    def generation(self) -> int:
        """Process-unique number of this set (cached verification results are keyed by it)."""
        return int(lib.fm_revset_generation(self._ptr))

    @property
    def seed(self) -> int:
        """The seed of the hash that placed this set's entries (see :meth:`build`)."""
        out = ffi.new("uint64_t *")
        lib.fm_revset_layout(self._ptr, out, ffi.NULL, ffi.NULL)
        return int(out[0])

    @property
    def max_probes(self) -> int:
        """The most table slots one lookup reads: the longest run of occupied slots (~50 in a
        set of 2,000, ~150 in one of a million; the slot tags make each probe cheap), never over
        1024 (builds and snapshots keep to it). Computed on each call, by a scan of the table."""
        out = ffi.new("uint64_t *")
        lib.fm_revset_layout(self._ptr, ffi.NULL, ffi.NULL, out)
        return int(out[0])

    @property
    def memory_bytes(self) -> int:
        """Bytes the set holds (the whole image: table, records, issuer data)."""
        return int(lib.fm_revset_memory(self._ptr))

    def __len__(self) -> int:
        return int(lib.fm_revset_count(self._ptr))

    def __repr__(self) -> str:
        return f"<RevocationSet entries={len(self)} issuers={len(self.issuers())}>"
