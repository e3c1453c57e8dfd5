"""The verifier: one C call per chain, the GIL released while C runs.

A :class:`Verifier` owns the C verifier (options, operator intermediates, caches) and reads its
:class:`~fastmtls.store.TrustStore`'s current snapshot at the start of every call, so replacing
the store's contents never blocks verifications and never shows one half of a change.
"""

from __future__ import annotations

import ipaddress
import re
import threading
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Union

from ._certinfo import CertPool
from ._ffi import ensure, ffi, lib
from ._hostname import ascii_host
from ._time import TimeInput, unix_time
from .errors import ConfigurationError
from .pem import (
    ChainInput,
    PEMBlockError,
    TooManyBlocks,
    certificates,
    looks_like_pem,
    pem_to_der,
)
from .result import Reason, VerifyResult, split_der
from .revocation import RevocationSet
from .store import TrustStore

Purpose = Literal["client", "server", "any"]
NameInput = Union[str, ipaddress.IPv4Address, ipaddress.IPv6Address, None]

_alloc = ffi.new_allocator(should_clear_after_alloc=False)  # fm_verify initialises what it sets
_RESULT_T = ffi.typeof("fm_result *")
_c_verify_again = lib.fm_verify_again
_c_chain_again = lib.fm_verify_chain_again
_NULL = ffi.NULL
_OCTETS = frozenset((bytes, bytearray))  # element types whose == compares their octets
_NO_CERTIFICATE = int(Reason.NO_CERTIFICATE)
_NOW = int(lib.FM_TIME_NOW)

_PURPOSES = {
    "any": lib.FM_PURPOSE_ANY,
    "client": lib.FM_PURPOSE_CLIENT,
    "server": lib.FM_PURPOSE_SERVER,
}


@dataclass(frozen=True)
class Limits:
    """Bounds on hostile input (defaults from the C core, csrc/include/fastmtls.h; the depth
    limit is ``Verifier(max_depth=)``). Crossing one gives a ``FAILED:`` result, never an
    exception.

    ``max_cert_size``: bytes in one certificate; ``max_chain_certs``: certificates presented;
    ``max_input_size``: bytes of the whole presented chain; ``max_sig_checks``, ``max_steps`` and
    ``max_sig_cost`` (in RSA-2048 verifications): signature checks, path-building steps and
    signature work per verification; ``max_nc_checks``: names x name constraints compared per
    verification (every (CA, certificate) pair of every path tried).
    """

    max_cert_size: int = int(lib.FM_DEFAULT_MAX_CERT_SIZE)
    max_chain_certs: int = int(lib.FM_DEFAULT_MAX_CHAIN_CERTS)
    max_input_size: int = int(lib.FM_DEFAULT_MAX_INPUT_SIZE)
    max_sig_checks: int = int(lib.FM_DEFAULT_MAX_SIG_CHECKS)
    max_steps: int = int(lib.FM_DEFAULT_MAX_STEPS)
    max_sig_cost: int = int(lib.FM_DEFAULT_MAX_SIG_COST)
    max_nc_checks: int = int(lib.FM_DEFAULT_MAX_NC_CHECKS)


def _expected_name(name: NameInput) -> tuple[int, bytes]:
    """(kind, bytes) for the C core: IP addresses as raw bytes, a URI when it starts with a
    scheme (``spiffe://…``, ``urn:uuid:…``, ``mailto:…``: a DNS name has no ':'), e-mail when
    it has '@', otherwise a DNS name (a trailing dot dropped, non-ASCII in IDNA 2008 A-labels)."""
    if name is None:
        return lib.FM_NAME_NONE, b""
    if isinstance(name, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return lib.FM_NAME_IP, name.packed
    if not isinstance(name, str) or not name:
        raise ConfigurationError(f"invalid expected name {name!r}")
    try:
        return lib.FM_NAME_IP, ipaddress.ip_address(name).packed
    except ValueError:
        pass
    try:
        if _URI_SCHEME.match(name):
            return lib.FM_NAME_URI, name.encode("utf-8")
        if "@" in name:  # a non-ASCII domain as the SAN spells it, in A-labels (RFC 8398)
            local, _, domain = name.rpartition("@")
            if not domain.isascii():
                domain = ascii_host(domain.rstrip(".").lower())
            return lib.FM_NAME_EMAIL, (local + "@" + domain).encode("utf-8")
        dns = name[:-1] if name.endswith(".") else name  # the root's dot (two: no host name)
        return lib.FM_NAME_DNS, ascii_host(dns if dns.isascii() else dns.lower()).encode("ascii")
    except UnicodeError as exc:  # no IDNA spelling, or a lone surrogate
        raise ConfigurationError(f"invalid expected name {name!r}: {exc}") from None


_URI_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")  # RFC 3986 3.1


_NOT_A_HOST = b"\x00"  # the core gives a malformed host no CA when the store has associations


def _host_bytes(host: str | None) -> bytes:
    """The host as the core looks it up: spelled as TrustStore.associate spells hosts (white
    space around it and trailing dots dropped, lower case, IDNA 2008 / UTS 46: _hostname). A
    host that cannot be encoded (it comes from an SNI or a Host header: a client's bytes) is
    never an exception: it is passed on malformed, and trusts no CA when the store has host
    associations, so an odd spelling cannot escape its host's association into "every CA" (the
    core refuses what is not a host the same way: a port, a path, user info)."""
    if host is None:
        return b""
    if not isinstance(host, str):
        raise ConfigurationError(f"host must be a str, not {type(host).__name__}")
    h = host.strip().rstrip(".").lower()
    if not h:
        return b"" if not host else _NOT_A_HOST
    try:
        return ascii_host(h).encode("ascii")
    except UnicodeError:
        return _NOT_A_HOST


class Verifier:
    """Verifies client (or server) certificate chains against a :class:`TrustStore`.

    Thread safe: any number of threads may call :meth:`verify` at once.
    """

    def __init__(
        self,
        store: TrustStore,
        *,
        purpose: Purpose = "client",
        intermediates: Iterable[bytes] | bytes | str = (),
        max_depth: int = int(lib.FM_DEFAULT_MAX_DEPTH),
        require_eku: bool = False,
        min_rsa_bits: int = 2048,
        limits: Limits | None = None,
        result_cache_size: int = 4096,
        signature_cache_size: int = 4096,
        revocations: RevocationSet | None = None,
        revocation_check: Literal["leaf", "chain"] = "leaf",
        missing_crl: Literal["allow", "deny"] = "allow",
        expired_crl: Literal["ignore", "deny"] = "ignore",
        revoked: Literal["flag", "fail"] = "flag",
        cn_constraints: Literal["no-san", "no-dns-san", "always"] | None = None,
        profile: Literal["rfc5280", "webpki"] = "rfc5280",
    ) -> None:
        if not isinstance(store, TrustStore):
            raise ConfigurationError("store must be a TrustStore")
        if not isinstance(purpose, str) or purpose not in _PURPOSES:
            raise ConfigurationError(f"purpose must be one of {sorted(_PURPOSES)}, not {purpose!r}")
        lim = Limits() if limits is None else limits
        sizes = {
            "min_rsa_bits": min_rsa_bits,
            "result_cache_size": result_cache_size,
            "signature_cache_size": signature_cache_size,
        }
        for label, value in sizes.items():
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
                raise ConfigurationError(f"{label} must be a non-negative integer")
        if min_rsa_bits > int(lib.FM_MAX_RSA_BITS):  # a larger floor would refuse every RSA key
            raise ConfigurationError(
                f"min_rsa_bits must be at most {int(lib.FM_MAX_RSA_BITS)}, the largest RSA key "
                "fastmtls verifies with")
        if isinstance(max_depth, bool) or not isinstance(max_depth, int):
            raise ConfigurationError("max_depth must be an int")
        if not isinstance(require_eku, bool):
            raise ConfigurationError("require_eku must be a bool")
        if not isinstance(lim, Limits):
            raise ConfigurationError("limits must be a fastmtls.Limits")
        if not 0 <= max_depth <= int(lib.FM_MAX_DEPTH_LIMIT):
            raise ConfigurationError(f"max_depth must be within 0..{int(lib.FM_MAX_DEPTH_LIMIT)}")
        opts = ffi.new("fm_options *")
        lib.fm_options_default(opts)
        opts.purpose = _PURPOSES[purpose]
        if cn_constraints is None:  # by purpose: see _option_flags
            cn_constraints = "no-san" if purpose == "server" else "no-dns-san"
        opts.flags = _option_flags(revocation_check, missing_crl, expired_crl, revoked,
                                   cn_constraints, profile)
        if require_eku:
            opts.flags |= lib.FM_OPT_REQUIRE_EKU
        opts.min_rsa_bits = min_rsa_bits
        opts.result_cache_size = result_cache_size
        opts.sig_cache_size = signature_cache_size
        opts.limits.max_depth = max_depth
        for field in ("max_cert_size", "max_chain_certs", "max_input_size", "max_sig_checks",
                      "max_steps", "max_sig_cost", "max_nc_checks"):  # fmt: skip
            value = getattr(lim, field)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**32:
                raise ConfigurationError(f"limit {field} must be a positive 32-bit integer")
            setattr(opts.limits, field, value)
        out = ffi.new("fm_verifier **")
        ensure(lib.fm_verifier_new(opts, out), "verifier options")
        self._ptr: Any = ffi.gc(out[0], lib.fm_verifier_free)
        if isinstance(intermediates, (bytes, str)):  # PEM text, or DER (one or concatenated)
            if isinstance(intermediates, bytes) and not looks_like_pem(intermediates):
                inters = split_der(intermediates)
            else:
                inters = pem_to_der(intermediates)
        elif isinstance(intermediates, Iterable):  # each DER, or PEM text of one or several
            inters = [der for item in intermediates for der in certificates(item, "intermediates")]
        else:
            raise ConfigurationError("intermediates must be PEM, or a list of DER or PEM "
                                     f"certificates, not {type(intermediates).__name__}")
        for i, der in enumerate(inters):
            ensure(lib.fm_verifier_add_intermediate(self._ptr, der, len(der)), f"intermediate {i}")
        self._inters = CertPool(inters)
        self._store = store
        self._last: tuple[TimeInput, int] = (None, 0)  # one attribute: swapped atomically
        self._hosts: dict[str, bytes] = {}
        self._tl = threading.local()  # per thread: (result buffer, VerifyResult, spare buffer)
        self._fields_memo: dict[Any, dict[str, Any]] = {}
        self._revocations: RevocationSet | None = None
        self._rev_lock = threading.Lock()  # the C side's set and the attribute change together
        self.revocations = revocations
        self._swap_lock = threading.Lock()
        # called with each snapshot the C side gets (handshake hooks' CA names)
        self._store_listeners: weakref.WeakSet[Callable[[Any], None]] = weakref.WeakSet()
        store._register(self)
        self._purpose: Purpose = purpose
        self._max_depth = max_depth
        self._limits = lim

    @property
    def purpose(self) -> Purpose:
        """The purpose checked (fixed at construction: the C verifier is configured with it)."""
        return self._purpose

    @property
    def max_depth(self) -> int:
        """The maximum number of intermediates (fixed at construction)."""
        return self._max_depth

    @property
    def limits(self) -> Limits:
        """The input limits (fixed at construction)."""
        return self._limits

    @property
    def store(self) -> TrustStore:
        """The trust store this verifier reads (its current snapshot, per call)."""
        return self._store

    @store.setter
    def store(self, value: TrustStore) -> None:
        """Hot swap of the whole trust store: the next verifications (and handshakes through
        fastmtls.ssl) read ``value``; those in flight finish with the snapshot they started
        with, and results cached under the old store are never answered again (each snapshot
        has its own generation)."""
        if not isinstance(value, TrustStore):
            raise ConfigurationError("store must be a fastmtls.TrustStore")
        with self._swap_lock:  # two swaps at once would leave the verifier on both stores
            old = self._store
            # off the old store first: a change to it from now on no longer publishes its
            # snapshot to the C side (handshake hooks), which keeps the old one until ...
            old._unregister(self)
            # ... the new store publishes its current snapshot, under its own lock
            value._register(self)
            self._store = value  # one reference assignment: Python callers read it per call

    @property
    def revocations(self) -> RevocationSet | None:
        """The revocation set consulted (None = no revocation checking, except that under
        ``missing_crl="deny"`` no certificate then has a CRL: every chain fails)."""
        return self._revocations

    @revocations.setter
    def revocations(self, value: RevocationSet | None) -> None:
        """Hot swap: one reference assignment. Verifications in flight keep the set they read at
        their start; results cached under the old set are never answered again."""
        if value is not None and not isinstance(value, RevocationSet):
            raise ConfigurationError("revocations must be a RevocationSet or None")
        # under a lock: two swaps at once (two CRLSources, or one and the operator) could leave
        # handshakes (the C side) on one set and verify() on the other
        with self._rev_lock:
            lib.fm_verifier_set_revocations(self._ptr, ffi.NULL if value is None else value._ptr)
            self._revocations = value

    def _publish_store(self, snap: Any) -> None:
        """Make ``snap`` the store the C side (handshake hook) verifies with. Called under the
        lock of the store ``snap`` belongs to."""
        lib.fm_verifier_set_store(self._ptr, snap.ptr)
        for listener in list(self._store_listeners):
            listener(snap)

    def _watch_store(self, listener: Callable[[Any], None]) -> None:
        """Call ``listener(snapshot)`` now and with every later snapshot of the store this
        verifier reads, also after ``verifier.store = other`` (kept while ``listener`` lives)."""
        with self._swap_lock:
            store = self._store
            with store._lock:  # in order with the store's changes, as _register
                self._store_listeners.add(listener)
                listener(store._snapshot)

    def _remember_host(self, host: str) -> bytes:
        """Encode a host once (lower case, IDNA) and keep it: gateways see a few hosts often."""
        hb = _host_bytes(host)
        if len(self._hosts) >= 4096:
            self._hosts.clear()
        self._hosts[host] = hb
        return hb

    def clear_caches(self) -> None:
        """Forget cached results, signatures, keys and parsed intermediates."""
        lib.fm_verifier_clear_caches(self._ptr)

    def verify(
        self,
        chain: ChainInput,
        *,
        host: str | None = None,
        at: TimeInput = None,
        expected_name: NameInput = None,
    ) -> VerifyResult:
        """Verify a presented chain (DER list leaf first, or one PEM text); never raises for a bad
        chain: the result says ``FAILED:<reason>``.

        ``host`` selects the CA associations (the TLS SNI), ``at`` the verification time (default
        now), ``expected_name`` a DNS name / IP / e-mail / URI the leaf's SAN must match.
        """
        snap = self._store._snapshot
        rset = self._revocations  # one read: the whole call uses this snapshot
        revs = _NULL if rset is None else rset._ptr
        if at is None:
            t = _NOW
        elif type(at) is int and -(2**62) <= at <= 2**62:  # unix seconds, read from a clock
            t = at
        else:
            last = self._last
            if at is last[0]:  # datetime -> seconds is slow; gateways reuse one value
                t = last[1]
            else:
                t = unix_time(at)
                self._last = (at, t)
        if type(chain) is list and expected_name is None:
            # The per-connection call (a list of DER certificates), kept short. Each thread keeps
            # its last result: when the core's answer equals it field for field (C compares:
            # fm_verify_again) for the same certificates and trust store, that same immutable
            # VerifyResult is returned, so a warm verification allocates nothing in Python. The
            # core's result buffer of a returned object is never written again; the thread's
            # spare buffer receives a differing answer. The thread also keeps the bytes of its
            # last call's elements and their concatenation: the same certificates again (compared
            # element by element, by identity first) are not joined again. The leaf must then be
            # bytes or a bytearray, whose equality is that of their octets (a memoryview of
            # 2-byte items, or a class with an __eq__ of its own, can equal the last leaf by
            # value and hold other octets; joined, its octets are what the core reads).
            tl = self._tl
            prev: VerifyResult
            try:
                prev_res, prev, spare, prev_elems, data = tl.last
            except AttributeError:
                prev_res, spare = _NULL, _alloc(_RESULT_T)  # then the answer is never "same"
                prev_elems = data = None
            try:
                again = type(chain[0]) in _OCTETS and chain == prev_elems
            except Exception:  # no leaf, or an element whose comparison raises: not the same
                again = False
            if not again:
                try:
                    data = b"".join(chain)
                except TypeError:
                    data = None
            if data is not None:
                if host is None:  # the common call: two CFFI arguments fewer (~70 ns)
                    same = _c_chain_again(self._ptr, snap.ptr, revs, data, len(data), t,
                                          prev_res, spare)  # fmt: skip
                else:
                    # a str (the cache's keys): anything else goes to _remember_host, which
                    # refuses it (an unhashable host must not raise TypeError here)
                    known = self._hosts.get(host) if type(host) is str else None
                    hb = self._remember_host(host) if known is None else known
                    same = _c_verify_again(self._ptr, snap.ptr, revs, data, len(data), hb, len(hb),
                                           t, prev_res, spare)  # fmt: skip
                if same:
                    if again and prev._snap is snap:
                        return prev
                    res = prev_res  # the same answer about other certificates: share the buffer
                else:
                    res, spare = spare, _alloc(_RESULT_T)
                # the result keeps its own copy of what was presented: bytes as they are, any
                # other buffer (a gateway may reuse one bytearray per connection) as bytes; one
                # that another thread changed while the core read it is verified again, as it is
                # now, so that the result never describes bytes the core did not verify
                presented = [c if type(c) is bytes else bytes(c) for c in chain]
                if b"".join(presented) != data:
                    return self.verify(presented, host=host, at=at)
                out = self._result(res, presented, data, snap)
                tl.last = (res, out, spare, presented, data)
                return out
        presented, data, bad = _chain_bytes(chain, self.limits)
        if bad:  # refused before the core: a result of its own, every field set (zeroed)
            res = ffi.new(_RESULT_T)
            res.status, res.depth, res.revoked_depth = bad, 0, -1
            return VerifyResult(res, presented, snap, self._inters, self._fields_memo)
        res = _alloc(_RESULT_T)
        kind, name = _expected_name(expected_name)
        hb = _host_bytes(host)
        lib.fm_verify(self._ptr, snap.ptr, revs, data, len(data), hb, len(hb), t, kind, name,
                      len(name), res)  # fmt: skip
        return self._result(res, presented, data, snap)

    def _result(self, res: Any, presented: list[bytes], data: bytes, snap: Any) -> VerifyResult:
        """The VerifyResult of the core's answer ``res`` about ``presented``."""
        if res.status == _NO_CERTIFICATE:
            presented = []  # empty elements: nothing was presented, and fields() says so
        elif res.n_presented and res.n_presented != len(presented):
            # an element held several certificates (or none): index what the core saw
            presented = split_der(data, res.n_presented)
        # as many elements as certificates: whether each is one is checked lazily (the result);
        # also when the core refused the input before splitting it (too long, too large), so
        # that the leaf's fields describe the first certificate, not the first element
        return VerifyResult(res, presented, snap, self._inters, self._fields_memo,
                            unchecked=bool(res.n_presented) or bool(presented))  # fmt: skip


def _option_flags(
    check: str, missing: str, expired: str, revoked: str, cn: str, profile: str
) -> int:
    """FM_OPT_* bits for the revocation policy options, the commonName rule and the profile
    (each validated). ``profile``: "rfc5280" (RFC 5280 with the end-entity rules of rustls-webpki
    and pyca/cryptography), or "webpki", which adds the CA/B Forum Baseline Requirements for
    publicly trusted TLS certificates (the leaf's extendedKeyUsage present and without
    anyExtendedKeyUsage, no extendedKeyUsage critical, keys RSA with moduli of whole octets or
    ECDSA P-256/P-384/P-521, a root without extendedKeyUsage or an authorityKeyIdentifier
    other than its own key identifier): for
    server certificates of the web PKI; private PKIs often break them for no security loss.
    ``cn_constraints``: a leaf's hostname-like commonName is checked against its CAs' dNSName
    constraints whenever the leaf has no dNSName SAN ("no-dns-san", OpenSSL's and BoringSSL's
    rule, the default for client certificates: the subject DN is what a gateway
    forwards and backends authorise on, so a CA constrained to partner.example must not vouch
    for CN=admin.corp.example beside an e-mail, URI or IP SAN), or only when the leaf has no
    subjectAltName at all ("no-san", the default for purpose="server": a server certificate
    with SANs is named by them, as modern TLS clients and BetterTLS read it), or whatever SANs
    the leaf has ("always": OpenSSL's rule still lets such a CA put CN=admin.corp.example
    beside one SAN x.partner.example, which a backend authorising on the subject would take;
    a CA that issues host-like CNs outside its constraints beside SANs fails)."""
    choices = {
        "revocation_check": (check, {"leaf": 0, "chain": lib.FM_OPT_REV_CHAIN}),
        "missing_crl": (missing, {"allow": 0, "deny": lib.FM_OPT_REV_DENY_MISSING}),
        "expired_crl": (expired, {"ignore": 0, "deny": lib.FM_OPT_REV_DENY_EXPIRED}),
        "revoked": (revoked, {"flag": 0, "fail": lib.FM_OPT_REV_STRICT}),
        "cn_constraints": (cn, {"no-san": lib.FM_OPT_CN_NO_SAN, "no-dns-san": 0,
                                "always": lib.FM_OPT_CN_ALWAYS}),
        "profile": (profile, {"rfc5280": 0, "webpki": lib.FM_OPT_WEBPKI}),
    }
    flags = 0
    for option, (value, table) in choices.items():
        if value not in table:
            raise ConfigurationError(f"{option} must be one of {sorted(table)}, not {value!r}")
        flags |= table[value]
    return flags


def _chain_bytes(chain: ChainInput, limits: Limits) -> tuple[list[bytes], bytes, int]:
    """(presented certificates, their concatenation, 0 or the status refusing them before the
    core: unparseable PEM, or PEM text too large / with too many blocks for ``limits``) for any
    accepted chain form."""
    if isinstance(chain, (list, tuple)):
        presented = [_der_element(c) for c in chain]
        return presented, b"".join(presented), 0
    if isinstance(chain, (bytes, bytearray, memoryview, str)):
        if not chain:
            return [], b"", 0
        if looks_like_pem(chain):
            text = chain if isinstance(chain, str) else bytes(chain)
            raw = text.encode("utf-8", "replace") if isinstance(text, str) else text
            # base64 is 4/3 of the DER, plus lines and headers: twice the DER limit is ample,
            # and no PEM scan of a client's text runs longer than that allows. Refused, the
            # certificates read before the refusal are what was presented (the leaf's fields,
            # as for the same chain in DER); only unreadable text stands for itself
            if len(text) > 2 * limits.max_input_size + 65536:
                lead = _leading_blocks(text[: 2 * limits.max_cert_size + 65536], limits)
                return lead or [raw], raw, int(Reason.INPUT_TOO_LARGE)
            try:
                presented = pem_to_der(text, max_blocks=limits.max_chain_certs)
            except TooManyBlocks as exc:
                return exc.blocks, raw, int(Reason.CERT_CHAIN_TOO_LONG)
            except PEMBlockError as exc:
                return exc.blocks or [raw], raw, int(Reason.MALFORMED_CERT)
            except ValueError:
                return [raw], raw, int(Reason.MALFORMED_CERT)
            return presented, b"".join(presented), 0
        raw = bytes(chain) if not isinstance(chain, str) else chain.encode()
        # more than the core splits: it refuses the chain, and its first certificates stand
        return split_der(raw, limits.max_chain_certs), raw, 0
    if isinstance(chain, Sequence):
        presented = [_der_element(c) for c in chain]
        return presented, b"".join(presented), 0
    raise ConfigurationError(f"unsupported chain type {type(chain).__name__}")


def _leading_blocks(text: str | bytes, limits: Limits) -> list[bytes]:
    """The certificates of the complete PEM blocks at the start of ``text`` (at most
    max_chain_certs; none when the first is unreadable)."""
    try:
        return pem_to_der(text, max_blocks=limits.max_chain_certs)
    except PEMBlockError as exc:
        return exc.blocks
    except ValueError:
        return []


def _der_element(cert: object) -> bytes:
    """One element of a chain given as a sequence: DER bytes (bytes, bytearray, memoryview).
    Anything else is the caller's mistake (``bytes(5)`` would quietly be five zero octets)."""
    if isinstance(cert, (bytes, bytearray, memoryview)):
        return bytes(cert)
    raise ConfigurationError(
        f"chain elements must be DER bytes, not {type(cert).__name__} (a PEM chain is passed "
        "whole, as one str or bytes)"
    )


