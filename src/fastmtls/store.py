"""Trust stores: named CAs and the hostnames they serve (the Cloudflare model).

A :class:`TrustStore` holds CA certificates, each under a name (one name may hold several CAs, e.g.
a bundle), and hostname associations: a host with associations trusts only the CAs named for it; a
host without any trusts every CA in the store. Each change builds a new immutable C snapshot and
publishes it with one attribute assignment, so verifications in flight keep the snapshot they
started with and never see half a change.
"""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from ._certinfo import CertInfo, CertPool
from ._ffi import ensure, ffi, lib
from ._format import dn_rfc2253
from ._hostname import ascii_host, is_host, is_ipv4
from .errors import CertificateLoadError, ConfigurationError
from .pem import configured_pem, looks_like_pem, pem_to_der
from .result import split_der

if TYPE_CHECKING:
    from .verifier import Verifier

PathLike = Union[str, Path]
if TYPE_CHECKING:
    _CAs = list[tuple[str, bytes]]
    _Assoc = dict[str, tuple[str, ...]]
    # One change of a store's state: (CAs, associations) -> new ones; raises when it cannot apply.
    _Step = Callable[[_CAs, _Assoc], tuple[_CAs, _Assoc]]


@dataclass(frozen=True)
class _Snapshot:
    """An immutable C store plus what Python needs to interpret results against it."""

    ptr: Any  # fm_store *, freed by ffi.gc
    anchors: tuple[bytes, ...]
    anchor_names: tuple[str, ...]
    generation: int


def _normalize_host(hostname: str) -> str:
    if not isinstance(hostname, str):
        raise ConfigurationError(f"hostname must be a str, not {type(hostname).__name__}")
    host = hostname.strip().rstrip(".").lower()
    if not host or len(host) > 253 or any(c.isspace() for c in host):
        raise ConfigurationError(f"invalid hostname {hostname!r}")
    if "*" in host and not (host.startswith("*.") and "*" not in host[2:]):
        raise ConfigurationError(
            f"invalid wildcard hostname {hostname!r}: only a leading '*.' label is allowed"
        )
    wild, name = ("*.", host[2:]) if host.startswith("*.") else ("", host)
    try:
        name = ascii_host(name)
    except UnicodeError as exc:
        raise ConfigurationError(f"invalid hostname {hostname!r}: {exc}") from None
    if not is_host(name) or len(wild + name) > 253 or (wild and is_ipv4(name)):
        raise ConfigurationError(
            f"invalid hostname {hostname!r}: a host name (letters, digits, '-', '_'; labels of 1"
            " to 63 octets) or an IP address, without port"
        )
    return wild + name


def _subject_of(der: bytes) -> str:
    """A certificate's subject for an error about it (' (subject ...)'), or '' unreadable."""
    info = CertInfo(der)
    if not info.has(lib.FM_INFO_SUBJECT):
        return ""
    try:
        return f" (subject {dn_rfc2253(info.subject)!r})"
    except ValueError:
        return ""


class TrustStore:
    """Named trust anchors (roots or intermediates the operator trusts) and host associations."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._local = threading.local()  # .pending: the changes of this thread's open batch()
        self._cas: list[tuple[str, bytes]] = []
        self._assoc: dict[str, tuple[str, ...]] = {}
        self._snapshot: _Snapshot = self._build(self._cas, self._assoc)
        # the snapshots still in use (the current one, those results hold), by generation, to
        # interpret results computed in handshakes; weak: each is a whole C store, and one no
        # longer held is read back from the handshake's own store (snapshot_of)
        self._recent: weakref.WeakValueDictionary[int, _Snapshot] = weakref.WeakValueDictionary()
        self._recent[self._snapshot.generation] = self._snapshot
        self._verifiers: weakref.WeakSet[Verifier] = weakref.WeakSet()

    # -- building ------------------------------------------------------------------------------

    @staticmethod
    def _build(cas: list[tuple[str, bytes]], assoc: dict[str, tuple[str, ...]]) -> _Snapshot:
        names = sorted({n for n, _ in cas})
        group_of = {n: i for i, n in enumerate(names)}
        out = ffi.new("fm_store **")
        ensure(lib.fm_store_new(out), "creating trust store")
        ptr = ffi.gc(out[0], lib.fm_store_free)
        for name, group in group_of.items():
            nb = name.encode("utf-8")
            ensure(lib.fm_store_set_group_name(ptr, group, nb, len(nb)), f"CA name {name!r}")
        seen: dict[str, int] = {}
        for name, der in cas:
            seen[name] = seen.get(name, 0) + 1
            rc = lib.fm_store_add_anchor(ptr, der, len(der), group_of[name])
            if rc != 0:  # which certificate of the name, and whose
                ensure(rc, f"certificate #{seen[name]} of CA {name!r}{_subject_of(der)}")
        for host, ca_names in assoc.items():
            groups = [group_of[n] for n in ca_names if n in group_of]
            hb = host.encode("ascii")
            arr = ffi.new("uint32_t[]", groups) if groups else ffi.NULL
            ensure(lib.fm_store_associate(ptr, hb, len(hb), arr, len(groups)), f"host {host!r}")
        return _Snapshot(
            ptr=ptr,
            anchors=CertPool(d for _, d in cas),
            anchor_names=tuple(n for n, _ in cas),
            generation=int(lib.fm_store_generation(ptr)),
        )

    def _change(self, step: _Step) -> None:
        """Apply ``step`` to the store's state and publish the result; in a batch() of this
        thread, keep it for the batch's end."""
        pending: list[_Step] | None = getattr(self._local, "pending", None)
        if pending is not None:
            pending.append(step)
            return
        with self._lock:
            self._commit(*step(self._cas, self._assoc))

    def _commit(self, cas: list[tuple[str, bytes]], assoc: dict[str, tuple[str, ...]]) -> None:
        snap = self._build(cas, assoc)  # raises before anything changes
        self._cas, self._assoc = cas, assoc
        self._snapshot = snap  # one reference assignment: atomic for readers
        self._recent[snap.generation] = snap
        for verifier in list(self._verifiers):  # handshake hooks read the store in C
            verifier._publish_store(snap)

    def _register(self, verifier: Verifier) -> None:
        """Keep ``verifier``'s C-side current store in step with this store. Under the lock that
        changes take: a change on another thread never iterates the set while it grows, nor
        publishes an older snapshot after this one."""
        with self._lock:
            self._verifiers.add(verifier)
            verifier._publish_store(self._snapshot)

    def _unregister(self, verifier: Verifier) -> None:
        """``verifier`` reads another store from now on."""
        with self._lock:
            self._verifiers.discard(verifier)

    def _snapshot_for(self, generation: int) -> _Snapshot | None:
        """The snapshot with this generation, while something still holds it."""
        return self._recent.get(generation)

    # -- public API ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def batch(self) -> Iterator[TrustStore]:
        """Make many changes as one: the changes this thread makes in ``with store.batch(): ...``
        are applied and published as a single snapshot when the block ends, where each change
        otherwise rebuilds the whole store (a thousand tenants' CAs and hosts added one by one
        would rebuild it a thousand times). They are checked then, in order, against the store
        as it is (changes other threads made meanwhile stand), and become visible then, also to
        ``names()`` and ``associations()``. All or nothing: if the block raises, or a change
        cannot be applied (a CA that is no CA, an association naming an unknown CA), none of
        its changes apply and the exception propagates. A batch inside a batch is part of it,
        and all or nothing itself. The store is not locked while the block runs."""
        outer: list[_Step] | None = getattr(self._local, "pending", None)
        mine: list[_Step] = []
        self._local.pending = mine
        try:
            yield self
        finally:
            self._local.pending = outer
        if outer is not None:
            outer.extend(mine)
        elif mine:
            with self._lock:
                cas, assoc = self._cas, self._assoc
                for step in mine:
                    cas, assoc = step(cas, assoc)
                self._commit(cas, assoc)

    def add_der(self, der: bytes, *, name: str) -> None:
        """Trust one DER-encoded CA certificate under ``name``.

        Raises :class:`~fastmtls.errors.NotACAError` when it is not a CA and
        :class:`~fastmtls.errors.CertificateLoadError` when it cannot be parsed.
        """
        self.add_ders([der], name=name)  # which checks its type

    def add_ders(self, ders: Iterable[bytes], *, name: str) -> None:
        """Trust several DER certificates under one name, all or none."""
        if not isinstance(name, str) or not name:
            raise ConfigurationError("a CA needs a non-empty name")
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate (a file name that is not UTF-8)
            raise ConfigurationError(f"CA name {name!r} is not valid Unicode text") from None
        if isinstance(ders, (bytes, bytearray, memoryview, str)) or not isinstance(ders, Iterable):
            raise ConfigurationError("ders must be a list of DER certificates")
        given = list(ders)
        if not all(isinstance(d, (bytes, bytearray, memoryview)) for d in given):
            raise ConfigurationError("a DER certificate is bytes (PEM text goes to add_pem)")
        items = [(name, bytes(d)) for d in given]
        if not items:
            raise CertificateLoadError(f"CA {name!r}: no certificate given")
        self._change(lambda cas, assoc: ([*cas, *items], dict(assoc)))

    def add_pem(self, data: bytes | str, *, name: str) -> int:
        """Trust every certificate of a PEM bundle under ``name``; returns how many were added."""
        if not isinstance(data, (bytes, bytearray, memoryview, str)):
            raise ConfigurationError(f"PEM data must be bytes or str, not {type(data).__name__}")
        ders = configured_pem(data)
        self.add_ders(ders, name=name)
        return len(ders)

    def add_file(self, path: PathLike, *, name: str | None = None) -> int:
        """Trust the certificates of a PEM (or DER) file; the name defaults to the file name."""
        p = Path(path)
        try:
            data = p.read_bytes()
        except OSError as exc:
            raise CertificateLoadError(f"cannot read CA file {str(p)!r}: {exc}") from None
        # a file name that is not UTF-8 (surrogate escapes) is shown with backslash escapes
        label = (name if name is not None
                 else os.fsencode(p.name).decode("utf-8", "backslashreplace"))  # fmt: skip
        if looks_like_pem(data):  # comments before the first block, as in certifi's bundle
            return self.add_pem(data, name=label)
        ders = certificates_of(data)  # one DER certificate, or several concatenated
        self.add_ders(ders, name=label)
        return len(ders)

    def remove(self, name: str) -> None:
        """Stop trusting every CA stored under ``name``."""
        def step(cas: _CAs, assoc: _Assoc) -> tuple[_CAs, _Assoc]:
            if all(n != name for n, _ in cas):
                raise ConfigurationError(f"no CA named {name!r}")
            return [c for c in cas if c[0] != name], dict(assoc)

        self._change(step)

    def associate(self, hostname: str, ca_names: Iterable[str]) -> None:
        """Make ``hostname`` (exact, or ``*.example.com``) trust only ``ca_names``.

        ``*.example.com`` covers every name below example.com (not example.com itself), as
        nginx's and Envoy's wildcard server names route them all to one backend; a host takes
        its exact association, else the nearest wildcard above it. An empty list makes the host
        trust nothing. Names must already be in the store.
        """
        host = _normalize_host(hostname)
        if isinstance(ca_names, str) or not isinstance(ca_names, Iterable):
            raise ConfigurationError("ca_names must be a list of CA names (not one str)")
        names = tuple(ca_names)
        if not all(isinstance(n, str) for n in names):
            raise ConfigurationError("CA names are str")
        def step(cas: _CAs, assoc: _Assoc) -> tuple[_CAs, _Assoc]:
            known = {n for n, _ in cas}
            missing = [n for n in names if n not in known]
            if missing:
                raise ConfigurationError(f"unknown CA name(s) for {hostname!r}: {missing}")
            return list(cas), {**assoc, host: names}

        self._change(step)

    def dissociate(self, hostname: str) -> None:
        """Remove a host's associations: it trusts every CA again."""
        host = _normalize_host(hostname)
        def step(cas: _CAs, assoc: _Assoc) -> tuple[_CAs, _Assoc]:
            return list(cas), {h: n for h, n in assoc.items() if h != host}

        self._change(step)

    def names(self) -> list[str]:
        """CA names in the store, in insertion order."""
        return list(dict.fromkeys(n for n, _ in self._cas))

    def associations(self) -> dict[str, tuple[str, ...]]:
        """Host -> CA names."""
        return dict(self._assoc)

    def __len__(self) -> int:
        return len(self._cas)

    @property
    def generation(self) -> int:
        """Process-unique number of the current snapshot; changes with every modification."""
        return self._snapshot.generation


def certificates_of(data: bytes) -> list[bytes]:
    """The certificates of a CA file or chain: its PEM certificate blocks, or its concatenated
    DER certificates as the core splits them (the whole input as one element when it does not
    split, for the parser to refuse). Raises CertificateLoadError for bad PEM."""
    return pem_to_der(data) if looks_like_pem(data) else split_der(data)


def snapshot_of(store_ptr: Any) -> _Snapshot:
    """A snapshot view of a C store (anchors and CA names read back from C): interprets results
    computed in a handshake whatever the Python-side store has become since."""
    lib.fm_store_ref(store_ptr)
    ptr = ffi.gc(store_ptr, lib.fm_store_free)
    der = ffi.new("const uint8_t **")
    n = ffi.new("size_t *")
    group = ffi.new("uint32_t *")
    anchors: list[bytes] = []
    names: list[str] = []
    for i in range(lib.fm_store_anchor_count(ptr)):
        lib.fm_store_anchor_get(ptr, i, der, n, group)
        anchors.append(bytes(ffi.buffer(der[0], n[0])))
        name = lib.fm_store_group_name(ptr, group[0], n)
        names.append(bytes(ffi.buffer(name, n[0])).decode("utf-8", "replace"))
    return _Snapshot(
        ptr=ptr,
        anchors=CertPool(anchors),
        anchor_names=tuple(names),
        generation=int(lib.fm_store_generation(ptr)),
    )
