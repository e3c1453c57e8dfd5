"""Verification results: status, booleans, the validated chain, and Cloudflare's field vocabulary.

Everything beyond the status is decoded lazily from the DER on first access and cached on the
result, so a verification pays nothing for formatting nobody reads.
"""

from __future__ import annotations

import enum
import hashlib
from typing import TYPE_CHECKING, Any, Callable, Union

from . import _format
from ._certinfo import CertInfo, by_subject
from ._ffi import ffi, lib, message
from ._sans import empty_sans, sans_by_type
from .pem import tlv_len

if TYPE_CHECKING:
    from .store import _Snapshot

FieldValue = Union[str, bool]

MEMO_SIZE = 2048  # formatted field sets a verifier keeps for clients that come back
# A DN is formatted for fields() up to this many bytes of DER (real ones are well under 1 KiB):
# formatting costs ~0.1-0.3 us a byte in Python, and a client's self-signed leaf may carry a
# 60 KiB subject, so larger names read "" instead of costing tens of milliseconds a connection
# (OpenSSL would print them: a deliberate difference, for cost).
FIELD_NAME_MAX = 8192
RFC9440_LEAF_LIMIT = 10 * 1024
RFC9440_CHAIN_LIMIT = 16 * 1024


class Reason(enum.IntEnum):
    """Why a verification ended as it did: one member per C status (FM_ERR_<NAME> -> NAME)."""

    OK = 0
    NO_CERTIFICATE = 1
    MALFORMED_CERT = 2
    UNABLE_TO_GET_ISSUER_CERT_LOCALLY = 3
    DEPTH_ZERO_SELF_SIGNED_CERT = 4
    SELF_SIGNED_CERT_IN_CHAIN = 5
    CERT_NOT_YET_VALID = 6
    CERT_HAS_EXPIRED = 7
    CERT_SIGNATURE_FAILURE = 8
    INVALID_CA = 9
    KEYUSAGE_NO_CERTSIGN = 10
    PATH_LENGTH_EXCEEDED = 11
    INVALID_PURPOSE = 12
    CERT_CHAIN_TOO_LONG = 13
    UNHANDLED_CRITICAL_EXTENSION = 14
    INVALID_EXTENSION = 15
    PERMITTED_VIOLATION = 16
    EXCLUDED_VIOLATION = 17
    SUBTREE_MINMAX = 18
    UNSUPPORTED_CONSTRAINT_TYPE = 19
    UNSUPPORTED_NAME_SYNTAX = 20
    HOSTNAME_MISMATCH = 21
    EMAIL_MISMATCH = 22
    IP_ADDRESS_MISMATCH = 23
    UNSUPPORTED_SIGNATURE_ALGORITHM = 24
    EE_KEY_TOO_SMALL = 25
    CA_KEY_TOO_SMALL = 26
    UNSUPPORTED_KEY = 27
    INVALID_NON_CA = 28
    BUDGET_EXCEEDED = 29
    INPUT_TOO_LARGE = 30
    CERT_REVOKED = 31
    UNABLE_TO_GET_CRL = 32
    CRL_HAS_EXPIRED = 33
    INVALID_VERSION = 34
    CRL_NOT_YET_VALID = 35
    NO_EXPLICIT_POLICY = 36
    NOMEM = 100
    INVALID_ARGUMENT = 101
    NOT_A_CA = 102
    KEY_DECODE = 103
    SEALED = 104
    LIMIT = 105
    INTERNAL = 106
    CRL_MALFORMED = 107
    CRL_SIGNATURE_FAILURE = 108
    CRL_ISSUER_MISMATCH = 109
    CRL_UNSUPPORTED = 110
    CRL_NO_BASE = 111
    SNAPSHOT_CORRUPT = 112
    SNAPSHOT_VERSION = 113
    IO = 114
    SYMBOL_NOT_FOUND = 115
    UNSUPPORTED_PLATFORM = 116

    @property
    def message(self) -> str:
        """OpenSSL-style wording of the reason, from the C core."""
        return message(int(self))


FIELD_NAMES: tuple[str, ...] = (
    "cert_presented", "cert_verified", "cert_revoked",
    "cert_issuer_dn", "cert_subject_dn", "cert_issuer_dn_rfc2253", "cert_subject_dn_rfc2253",
    "cert_issuer_dn_legacy", "cert_subject_dn_legacy", "cert_serial", "cert_issuer_serial",
    "cert_fingerprint_sha256", "cert_fingerprint_sha1", "cert_not_before", "cert_not_after",
    "cert_ski", "cert_issuer_ski", "cert_rfc9440", "cert_rfc9440_too_large",
    "cert_chain_rfc9440", "cert_chain_rfc9440_too_large",
)  # fmt: skip

_SOURCES = ("presented", "intermediate", "anchor")


def split_der(raw: bytes, cap: int | None = None) -> list[bytes]:
    """Split concatenated DER certificates as the C core does: the first ``cap`` when there are
    more (default: room for every element, each at least 2 bytes), the whole input when it is
    not a sequence of DER elements."""
    if cap is None:
        cap = len(raw) // 2 + 1
    cap = max(1, cap)
    offs = ffi.new("size_t[]", cap)
    lens = ffi.new("size_t[]", cap)
    n = ffi.new("size_t *")
    rc = lib.fm_chain_split(raw, len(raw), offs, lens, cap, n)
    if rc not in (0, int(Reason.LIMIT)) or n[0] == 0:
        return [raw]
    return [raw[offs[i] : offs[i] + lens[i]] for i in range(n[0])]


def _presented_digest(presented: list[bytes]) -> bytes:
    """SHA-256 over the presented certificates, each with its length (where one ends counts)."""
    h = hashlib.sha256()
    for c in presented:
        h.update(len(c).to_bytes(8, "big"))
        h.update(c)
    return h.digest()


def _safe(fmt: Callable[[bytes], str], value: bytes) -> str:
    """Format a field of a client-chosen certificate; a value OpenSSL itself would refuse to
    print (non-minimal DER, invalid strings) becomes "" rather than an exception."""
    try:
        return fmt(value)
    except ValueError:
        return ""


class VerifyResult:
    """The outcome of one verification.

    ``status`` is ``"SUCCESS"``, ``"NONE"`` (no certificate) or ``"FAILED:<reason>"`` in OpenSSL
    wording. ``verified`` stays true for a revoked chain (Cloudflare semantics); ``revoked`` says
    so.
    """

    __slots__ = ("_cache", "_memo", "_pres", "_res", "_snap", "_unchecked", "_verifier_inters")

    def __init__(
        self,
        res: Any,
        presented: list[bytes],
        snap: _Snapshot,
        inters: tuple[bytes, ...],
        memo: dict[Any, dict[str, FieldValue]] | None = None,
        *,
        unchecked: bool = False,
    ) -> None:
        self._res = res
        self._pres = presented
        # the caller's elements, as many as the certificates the core found: whether each is
        # one certificate is checked on first use, off the verification path
        self._unchecked = unchecked
        self._snap = snap
        self._verifier_inters = inters
        self._memo = memo  # the verifier's formatted fields, shared by equal results
        self._cache: dict[str, Any] = {}  # lazily decoded fields

    # -- outcome -------------------------------------------------------------------------------

    @property
    def _presented(self) -> list[bytes]:
        """The presented certificates, one DER each: elements that were not (several in one,
        one cut across two) are replaced by what the core split, which the status and the
        chain indices describe."""
        if self._unchecked:
            pres = self._pres
            if not all(tlv_len(c) == len(c) for c in pres):
                self._pres = split_der(b"".join(pres), self._res.n_presented or None)
            self._unchecked = False
        return self._pres

    @property
    def reason(self) -> Reason:
        """The C status as an enum member."""
        return Reason(self._res.status)

    @property
    def status(self) -> str:
        """``SUCCESS``, ``NONE`` or ``FAILED:<reason>``."""
        st = self._res.status
        if st == 0:
            return "SUCCESS"
        if st == Reason.NO_CERTIFICATE:
            return "NONE"
        return "FAILED:" + message(st)

    @property
    def presented(self) -> bool:
        """The client sent a certificate (valid or not)."""
        return bool(self._res.status != Reason.NO_CERTIFICATE)

    @property
    def verified(self) -> bool:
        """The chain validates to a trusted CA at the verification time (also when revoked)."""
        return bool(self._res.status == 0)

    @property
    def revoked(self) -> bool:
        """The chain validates but a checked certificate is revoked (Cloudflare semantics: then
        ``verified`` stays true). With ``Verifier(revoked="fail")`` the status is
        ``FAILED:certificate revoked`` instead."""
        return bool(self._res.flags & lib.FM_RESULT_REVOKED) or bool(
            self._res.status == Reason.CERT_REVOKED
        )

    @property
    def revocation(self) -> tuple[int, int, int] | None:
        """(depth, CRLReason code, revocation date as unix seconds) of the revoked certificate,
        also when ``Verifier(revoked="fail")`` made the status ``FAILED:certificate revoked``."""
        res = self._res
        strict = res.status == Reason.CERT_REVOKED and res.revoked_depth >= 0
        if not (res.flags & lib.FM_RESULT_REVOKED or strict):
            return None
        return int(res.revoked_depth), int(res.revoked_reason), int(res.revoked_at)

    @property
    def depth(self) -> int | None:
        """Depth of the certificate that failed (0 = leaf), None on success or when not known."""
        d = int(self._res.depth)
        return None if d < 0 else d

    @property
    def cached(self) -> bool:
        """The answer came from the whole-result cache."""
        return bool(self._res.flags & lib.FM_RESULT_CACHED)

    @property
    def not_before(self) -> int | None:
        """Latest notBefore of the validated chain (unix seconds)."""
        return int(self._res.not_before) if self.verified else None

    @property
    def not_after(self) -> int | None:
        """Earliest notAfter of the validated chain (unix seconds)."""
        return int(self._res.not_after) if self.verified else None

    # -- chain ---------------------------------------------------------------------------------

    @property
    def presented_chain(self) -> list[bytes]:
        """The certificates as sent, leaf first (from a handshake, a chain longer than the
        verifier's ``max_chain_certs`` keeps its first ``max_chain_certs + 1``: enough to
        refuse it, with the copy bounded)."""
        return [bytes(c) for c in self._presented]

    def _validated(self) -> bool:
        """The chain validates to a trusted CA: verified, or refused only for a revocation
        (``Verifier(revoked="fail")``), whose path the core names too."""
        return self.verified or self._res.status == Reason.CERT_REVOKED

    def _path(self) -> list[bytes]:
        """The validated path, leaf to anchor (DER), when :meth:`_validated`."""
        if "path" not in self._cache:
            out: list[bytes] = []
            if self._validated():
                for i in range(self._res.chain_len):
                    src, idx = self._res.chain_src[i], self._res.chain_idx[i]
                    pool = (self._presented, self._verifier_inters, self._snap.anchors)[src]
                    out.append(bytes(pool[idx]))
            self._cache["path"] = out
        return list(self._cache["path"])

    @property
    def chain(self) -> list[bytes]:
        """The validated chain, leaf to trust anchor (DER); empty unless verified."""
        return self._path() if self.verified else []

    @property
    def anchor_name(self) -> str | None:
        """Name (as given to the TrustStore) of the CA the chain validated to."""
        if not self.verified:
            return None
        idx = self._res.chain_idx[self._res.chain_len - 1]
        return str(self._snap.anchor_names[idx])

    # -- certificate details -------------------------------------------------------------------

    def _leaf(self) -> CertInfo | None:
        if not self._presented:
            return None
        if "leaf" not in self._cache:
            self._cache["leaf"] = CertInfo(self._presented[0])
        leaf: CertInfo = self._cache["leaf"]
        return leaf

    def _issuer(self) -> CertInfo | None:
        """The leaf's direct issuer: from the validated chain, else a certificate that names it,
        one whose key the leaf's authorityKeyIdentifier names first (a client may send a
        certificate of the same name that did not sign the leaf before the one that did), from
        the presented ones, then the verifier's intermediates, then the trusted CAs (a leaf
        issued by a trusted CA that fails, say, for its validity has its issuer there)."""
        if "issuer" not in self._cache:
            found: CertInfo | None = None
            leaf = self._leaf()
            path = self._path()
            if len(path) > 1:
                found = CertInfo(path[1])
            elif leaf is not None and leaf.has(lib.FM_INFO_ISSUER):
                name = leaf.issuer
                named = [c for c in map(CertInfo, self._presented[1:])
                         if c.ok and c.subject == name]  # fmt: skip
                for pool in (self._verifier_inters, self._snap.anchors):
                    named += by_subject(pool).get(name, ())
                aki = leaf.aki
                keyed = [c for c in named if aki and c.ski == aki]
                found = next(iter(keyed or named), None)
            self._cache["issuer"] = found
        issuer: CertInfo | None = self._cache["issuer"]
        return issuer

    @property
    def sans(self) -> dict[str, list[str]]:
        """The leaf's subjectAltName entries by type: ``dns``, ``ip``, ``email``, ``uri``."""
        if "sans" not in self._cache:
            leaf = self._leaf()
            if leaf is None:
                self._cache["sans"] = {}
            elif not leaf.ok or not leaf.san:
                self._cache["sans"] = empty_sans()
            else:
                self._cache["sans"] = sans_by_type(leaf.san)
        return {k: list(v) for k, v in self._cache["sans"].items()}

    def fields(self) -> dict[str, FieldValue]:
        """Cloudflare's ``cf.tls_client_auth.*`` fields, names and formats of FIELDS.md."""
        if "fields" not in self._cache:
            memo = self._memo
            r = self._res
            key = (
                self._snap.generation,
                r.status,
                self.revoked,
                # a digest, not the bytes: the memo's size must not follow what clients send
                # (a refused input is presented whole)
                _presented_digest(self._presented),
                # the validated path: the issuer fields come from its second certificate, and
                # one leaf can chain to two anchors of one name and key (a re-issued root: by
                # host association or by time)
                tuple((r.chain_src[i], r.chain_idx[i]) for i in range(r.chain_len)),
            )
            f = memo.get(key) if memo is not None else None
            if f is None:
                f = self._compute_fields()
                if memo is not None:
                    if len(memo) >= MEMO_SIZE:
                        memo.clear()  # bounded: a reconnecting client is formatted once
                    memo[key] = f
            self._cache["fields"] = f
        return dict(self._cache["fields"])

    def _compute_fields(self) -> dict[str, FieldValue]:
        f: dict[str, FieldValue] = {n: "" for n in FIELD_NAMES}
        f.update(cert_presented=False, cert_verified=False, cert_revoked=False,
                 cert_rfc9440_too_large=False, cert_chain_rfc9440_too_large=False)  # fmt: skip
        leaf = self._leaf()
        if leaf is None:
            return f
        f["cert_presented"] = True
        # Cloudflare's meaning: the chain validates to a trusted CA, also when revoked, and
        # cert_revoked implies it. Under Verifier(revoked="fail") the status (and `verified`,
        # `bool(result)`) fail a revoked chain; the fields still say what Cloudflare's would.
        f["cert_verified"] = self._validated()
        f["cert_revoked"] = self.revoked
        der = leaf.der
        f["cert_fingerprint_sha256"] = hashlib.sha256(der).hexdigest()
        f["cert_fingerprint_sha1"] = hashlib.sha1(der).hexdigest()
        leaf_b64 = _format.rfc9440(der)
        f["cert_rfc9440_too_large"] = len(leaf_b64) > RFC9440_LEAF_LIMIT
        f["cert_rfc9440"] = "" if f["cert_rfc9440_too_large"] else leaf_b64
        chain_b64 = _format.rfc9440_chain([bytes(c) for c in self._presented[1:]])
        f["cert_chain_rfc9440_too_large"] = len(chain_b64) > RFC9440_CHAIN_LIMIT
        f["cert_chain_rfc9440"] = "" if f["cert_chain_rfc9440_too_large"] else chain_b64
        # each identity field the parser validated, also in a certificate it rejected
        for kind, bit, name_der in (("issuer", lib.FM_INFO_ISSUER, leaf.issuer),
                                    ("subject", lib.FM_INFO_SUBJECT, leaf.subject)):  # fmt: skip
            if leaf.has(bit) and len(name_der) <= FIELD_NAME_MAX:
                rfc = _safe(_format.dn_rfc2253, name_der)
                f[f"cert_{kind}_dn"] = rfc
                f[f"cert_{kind}_dn_rfc2253"] = rfc
                f[f"cert_{kind}_dn_legacy"] = _safe(_format.dn_oneline, name_der)
        if leaf.has(lib.FM_INFO_SERIAL):
            f["cert_serial"] = _safe(_format.serial_hex, leaf.serial)
        if leaf.has(lib.FM_INFO_VALIDITY):
            f["cert_not_before"] = _format.asn1_time(leaf.info.not_before)
            f["cert_not_after"] = _format.asn1_time(leaf.info.not_after)
        if leaf.ok or leaf.has(lib.FM_INFO_SKI):  # the SKI of a rejected leaf too
            f["cert_ski"] = _format.hex_upper(leaf.ski)
        issuer = self._issuer()
        if issuer is not None and issuer.ok:
            f["cert_issuer_serial"] = _safe(_format.serial_hex, issuer.serial)
            f["cert_issuer_ski"] = _format.hex_upper(issuer.ski)
        return f

    def as_dict(self) -> dict[str, Any]:
        """``status`` plus every field: what the CLI prints."""
        return {"status": self.status, **self.fields()}

    def __repr__(self) -> str:
        return f"<VerifyResult {self.status}>"

    def __bool__(self) -> bool:
        return self.verified
