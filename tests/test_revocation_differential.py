"""Revocation against OpenSSL: random CRL configurations, one answer from both.

Each scenario is root -> intermediate -> leaf (one of three leaves, two of them naming a CRL
distribution point), with CRLs drawn at random for the intermediate (the leaf's status) and for
the root (the intermediate's): none, or CRLs of distinct scopes (the whole CA, only end
entities, only CAs, only attribute certificates, a distribution point's partition) of which at
most one covers each certificate, each in force, expired or not yet valid, listing a random
subset of what its CA issued; checked for the leaf only or for the whole chain. OpenSSL
(``X509_verify_cert`` with CRL_CHECK, and CRL_CHECK_ALL for the chain, through pyOpenSSL) fails
closed throughout, so fastmtls runs with its fail-closed options (``missing_crl="deny"``,
``expired_crl="deny"``, ``revoked="fail"``): both must give the same outcome (valid, revoked, no
CRL in scope, CRL expired, CRL not yet valid) at the same depth.

Delta CRLs (OpenSSL's X509_V_FLAG_USE_DELTAS; the base carries freshestCRL): a base and at most
one delta, both in force, the delta numbered above, at or below the base and naming an older or
the same base, each listing serials with keyCompromise, certificateHold or (the delta)
removeFromCRL: the same outcome again.

Left out because fastmtls differs on purpose (SECURITY.md): several CRLs covering one
certificate (OpenSSL reads the one it picks, fastmtls every one, so a serial any of them lists
is revoked); the trust anchor's own status (fastmtls never checks it); and a base or delta out
of its validity window (OpenSSL takes a base past its nextUpdate as current while a delta is,
and applies a delta not yet valid, removals included; fastmtls holds the pair to both windows
and applies a delta from its thisUpdate on) or a delta naming a base newer than any given
(OpenSSL ignores it, fastmtls refuses the set: that base's revocations are missing).
"""

from __future__ import annotations

import random
import warnings
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import crls
import pki
import pytest
from crls import Revoked
from cryptography import x509

from fastmtls import RevocationSet, TrustStore, Verifier

ossl = pytest.importorskip("OpenSSL.crypto")

NOW = pki.NOW
DAY = timedelta(days=1)
WINDOWS = {  # (thisUpdate, nextUpdate) around NOW
    "in-force": (NOW - DAY, NOW + 7 * DAY),
    "expired": (NOW - 10 * DAY, NOW - DAY),
    "not-yet-valid": (NOW + DAY, NOW + 8 * DAY),
}
WINDOW_DRAW = ["in-force"] * 3 + ["expired", "not-yet-valid"]  # the leaf passes often enough
# for the intermediate's status to be reached in chain mode
# the scopes a CA's CRLs may have together: at most one covers any one certificate
SCOPE_SETS: list[tuple[str, ...]] = [
    (), ("all",), ("user",), ("ca",), ("user", "ca"), ("attribute",), ("all", "attribute"),
    ("part-1",), ("part-2",), ("part-1", "part-2"), ("part-1", "ca"), ("part-2", "ca"),
]
N_SCENARIOS = 900
N_DELTA_SCENARIOS = 400
X509_V_FLAG_USE_DELTAS = 0x2000  # not in pyOpenSSL's X509StoreFlags
FRESHEST = (x509.FreshestCRL([x509.DistributionPoint(
    [x509.UniformResourceIdentifier("http://crl.example.com/delta.crl")], None, None, None)]),
    False)  # fmt: skip

# OpenSSL's errors and fastmtls' statuses, by outcome
OPENSSL_OUTCOME = {
    "certificate revoked": "revoked",
    "unable to get certificate CRL": "no-crl",
    "different CRL scope": "no-crl",
    "CRL has expired": "expired",
    "CRL is not yet valid": "not-yet-valid",
}
FASTMTLS_OUTCOME = {
    "SUCCESS": "valid",
    "FAILED:certificate revoked": "revoked",
    "FAILED:unable to get certificate CRL": "no-crl",
    "FAILED:CRL has expired": "expired",
    "FAILED:CRL is not yet valid": "not-yet-valid",
}


@dataclass(frozen=True)
class PKI:
    root: pki.Cert
    inter: pki.Cert
    leaves: dict[str, pki.Cert]  # "plain", "part-1" (its CDP names partition 1), "part-2"


@pytest.fixture(scope="module")
def p() -> PKI:
    root = pki.ca("Differential Revocation Root")
    inter = pki.intermediate(root, "Differential Revocation CA", serial=0x1A7E)
    leaves = {"plain": pki.leaf(inter, "plain client", serial=0x100)}
    for n, part in enumerate(("part-1", "part-2"), start=1):
        leaves[part] = pki.leaf(inter, f"{part} client", serial=0x100 + n,
                                extra_extensions=[crls.cdp_ext(part)])  # fmt: skip
    return PKI(root, inter, leaves)


@dataclass(frozen=True)
class Scenario:
    leaf: str
    chain: bool
    inter_crls: tuple[tuple[str, str, tuple[int, ...]], ...]  # (scope, window, serials)
    root_crls: tuple[tuple[str, str, tuple[int, ...]], ...]

    def __str__(self) -> str:
        return (f"leaf={self.leaf} chain={self.chain} inter_crls={self.inter_crls} "
                f"root_crls={self.root_crls}")  # fmt: skip


def covered(scope: str, leaf: str | None) -> bool:
    """Whether a CRL of ``scope`` covers the leaf named ``leaf`` (None: the intermediate)."""
    if scope == "all":
        return True
    if leaf is None:
        return scope == "ca"
    return scope == "user" or scope == leaf


def draw(rng: random.Random, p: PKI) -> Scenario:
    """A scenario; each CRL lists (some of) the certificates it covers and an unknown serial
    (a serial on a CRL that does not cover its certificate revokes it in fastmtls only)."""
    def crl_set(issued: dict[str | None, int], unknown: int) -> tuple[Any, ...]:
        return tuple((scope, rng.choice(WINDOW_DRAW), tuple(
            s for s in [*(s for c, s in issued.items() if covered(scope, c)), unknown]
            if rng.random() < 0.4)) for scope in rng.choice(SCOPE_SETS))  # fmt: skip

    leaves: dict[str | None, int] = {n: int(c.cert.serial_number) for n, c in p.leaves.items()}
    return Scenario(rng.choice(list(p.leaves)), rng.random() < 0.7, crl_set(leaves, 0x999),
                    crl_set({None: int(p.inter.cert.serial_number)}, 0x998))


def make_crl(issuer: pki.Cert, scope: str, window: str, serials: tuple[int, ...],
             number: int) -> bytes:
    this_update, next_update = WINDOWS[window]
    kw: dict[str, Any] = {}
    if scope.startswith("part-"):
        kw["issuing_dp"] = crls.idp(uri=crls.crl_uri(scope))
    elif scope != "all":
        kw["scope"] = scope
    return crls.crl(issuer, list(serials), number=number, this_update=this_update,
                    next_update=next_update, **kw)  # fmt: skip


def crls_of(s: Scenario, p: PKI) -> list[bytes]:
    out = [make_crl(p.inter, *c, number=k + 1) for k, c in enumerate(s.inter_crls)]
    return out + [make_crl(p.root, *c, number=k + 1) for k, c in enumerate(s.root_crls)]


def openssl_outcome(s: Scenario, p: PKI, ders: list[bytes], *,
                    deltas: bool = False) -> tuple[str, int | None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        store = ossl.X509Store()
        store.add_cert(ossl.X509.from_cryptography(p.root.cert))
        for der in ders:
            store.add_crl(x509.load_der_x509_crl(der))
        store.set_time(NOW)
        flags = ossl.X509StoreFlags.CRL_CHECK
        if s.chain:
            flags |= ossl.X509StoreFlags.CRL_CHECK_ALL
        store.set_flags(flags | (X509_V_FLAG_USE_DELTAS if deltas else 0))
        leaf = ossl.X509.from_cryptography(p.leaves[s.leaf].cert)
        ctx = ossl.X509StoreContext(store, leaf, chain=[ossl.X509.from_cryptography(p.inter.cert)])
        try:
            ctx.verify_certificate()
        except ossl.X509StoreContextError as exc:
            message = str(exc.errors[2])
            assert message in OPENSSL_OUTCOME, f"{message}: {s}"
            return OPENSSL_OUTCOME[message], exc.errors[1]
    return "valid", None


def fastmtls_outcome(s: Scenario, p: PKI, ders: list[bytes]) -> tuple[str, int | None]:
    store = TrustStore()
    store.add_der(p.root.der, name="root")
    revs = RevocationSet.build(ders, cas=[p.root.der, p.inter.der], at=NOW)
    v = Verifier(store, revocations=revs, revocation_check="chain" if s.chain else "leaf",
                 missing_crl="deny", expired_crl="deny", revoked="fail")  # fmt: skip
    r = v.verify([p.leaves[s.leaf].der, p.inter.der], at=NOW)
    assert r.status in FASTMTLS_OUTCOME, f"{r.status}: {s}"
    return FASTMTLS_OUTCOME[r.status], r.depth


@pytest.fixture(scope="module")
def outcomes(p: PKI) -> list[tuple[Scenario, tuple[str, int | None], tuple[str, int | None]]]:
    rng = random.Random(20261128)
    out = []
    for _ in range(N_SCENARIOS):
        s = draw(rng, p)
        ders = crls_of(s, p)
        out.append((s, openssl_outcome(s, p, ders), fastmtls_outcome(s, p, ders)))
    return out


def test_same_outcome_and_depth_as_openssl(
    outcomes: list[tuple[Scenario, tuple[str, int | None], tuple[str, int | None]]],
) -> None:
    differ = [f"{s}: OpenSSL {o}, fastmtls {f}" for s, o, f in outcomes if o != f]
    assert not differ, f"{len(differ)} of {len(outcomes)} differ:\n" + "\n".join(differ[:20])


def test_scenarios_reach_every_outcome(
    outcomes: list[tuple[Scenario, tuple[str, int | None], tuple[str, int | None]]],
) -> None:
    """The draw is not degenerate: every outcome, at the leaf and (chain mode) the intermediate."""
    seen = Counter(o for _, o, _ in outcomes)
    for outcome in ("revoked", "no-crl", "expired", "not-yet-valid"):
        assert seen[(outcome, 0)] >= 5, seen
        assert seen[(outcome, 1)] >= 3, seen
    assert seen[("valid", None)] >= 20, seen


# --- delta CRLs ---------------------------------------------------------------------------------

DELTA_NUMBERS = [(6, 5), (6, 3), (7, 5), (4, 3), (5, 5)]  # (cRLNumber, BaseCRLNumber); base is 5


def delta_scenario(rng: random.Random, p: PKI) -> tuple[str, list[bytes]]:
    """(leaf, [base, delta?]) of the intermediate, as in the module docstring."""
    serials = [int(c.cert.serial_number) for c in p.leaves.values()]

    def entries(reasons: list[int]) -> list[Revoked]:
        return [Revoked(s, reason=rng.choice(reasons)) for s in serials if rng.random() < 0.4]

    this_update, next_update = WINDOWS["in-force"]
    ders = [crls.crl(p.inter, entries([1, 6]), number=5, this_update=this_update,
                     next_update=next_update, extensions=[FRESHEST])]  # fmt: skip
    if rng.random() < 0.85:
        number, base = rng.choice(DELTA_NUMBERS)
        ders.append(crls.crl(p.inter, entries([1, 6, 8]), number=number, base=base,
                             this_update=this_update + timedelta(hours=1),
                             next_update=next_update - timedelta(hours=1)))  # fmt: skip
    return rng.choice(list(p.leaves)), ders


def test_delta_crls_as_openssl(p: PKI) -> None:
    """A base with a delta merged as OpenSSL merges it (additions, holds, removeFromCRL; a delta
    not numbered above the base ignored), for the leaf."""
    rng = random.Random(5280)
    seen: Counter[str] = Counter()
    differ = []
    for _ in range(N_DELTA_SCENARIOS):
        leaf, ders = delta_scenario(rng, p)
        s = Scenario(leaf, False, (), ())
        o = openssl_outcome(s, p, ders, deltas=True)
        f = fastmtls_outcome(s, p, ders)
        seen[o[0]] += 1
        if o != f:
            differ.append(f"{leaf} {[x509.load_der_x509_crl(d) for d in ders]}: OpenSSL {o}, "
                          f"fastmtls {f}")  # fmt: skip
    assert not differ, "\n".join(differ[:10])
    assert seen["revoked"] >= 50 and seen["valid"] >= 50, seen
