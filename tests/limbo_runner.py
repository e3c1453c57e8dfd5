"""Runs x509-limbo test cases through fastmtls (shared by tests/test_limbo.py and tools).

Each case maps onto the public API: trusted certificates become a TrustStore (a trusted certificate
that is not a CA is not trusted), untrusted intermediates are the presented chain after the leaf,
SERVER cases verify with purpose "server" and the expected peer name, CLIENT cases with purpose
"client". A case's CRLs become a RevocationSet (see revocations_for()).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography import x509

import fastmtls
import fastmtls.revocation

ROOT = Path(__file__).resolve().parent.parent
LIMBO_PATH = Path(
    os.environ.get("FASTMTLS_LIMBO", ROOT.parent / "shared" / "limbo" / "limbo.json.gz")
)
SOFT_IDS_PATH = LIMBO_PATH.parent / "bettertls-soft-ids.txt"
DISAGREEMENTS_PATH = Path(__file__).resolve().parent / "limbo_disagreements.txt"

# Features we deliberately do not implement, and why (limbo_disagreements.txt lists the
# individual cases we run and disagree with).
SKIPPED_FEATURES: dict[str, str] = {
    "pedantic-public-suffix-wildcard": "needs a public suffix list, which fastmtls does not ship"
    " (a wildcard is still one whole label, never a bare TLD)",
    "pedantic-rfc5280": "polices the issuance fields of a trust anchor, which the operator"
    " chose (cve::cve-2024-0567 needs a cross-signed anchor without AKI to validate)",
}


def load_cases() -> list[dict[str, Any]]:
    """Every limbo test case, or [] when the suite is not available."""
    if not LIMBO_PATH.exists():
        return []
    opener = gzip.open if LIMBO_PATH.suffix == ".gz" else open
    with opener(LIMBO_PATH, "rt") as fh:
        cases: list[dict[str, Any]] = json.load(fh)["testcases"]
    return cases


def soft_ids() -> set[str]:
    """BetterTLS ids whose expectation is only a soft pass/fail."""
    if not SOFT_IDS_PATH.exists():
        return set()
    return {line.strip() for line in SOFT_IDS_PATH.read_text().splitlines() if line.strip()}


def disagreements() -> dict[str, str]:
    """Case id -> reason we deliberately disagree with the expected result."""
    out: dict[str, str] = {}
    for line in DISAGREEMENTS_PATH.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            case_id, _, reason = line.partition(" ")
            out[case_id] = reason.strip()
    return out


def skip_reason(case: dict[str, Any]) -> str | None:
    """Why a case is not run, or None."""
    for feature in case.get("features") or []:
        if feature in SKIPPED_FEATURES:
            return f"feature {feature} is not implemented: {SKIPPED_FEATURES[feature]}"
    return None


def revocations_for(
    crls: list[str], cas: list[bytes]
) -> tuple[fastmtls.RevocationSet, list[str]]:
    """The RevocationSet of the CRLs that ``cas`` issued and signed, and the CRLs refused.

    Each CRL is added on its own (a delta after its base), so one bad CRL does not hide the
    others. A refused CRL (bad signature, issuer without cRLSign, malformed, unsupported) is
    never trusted: it revokes nothing and does not count as its CA's CRL. A well-formed CRL
    whose issuer name is none of ``cas`` is about no certificate here: ignored, not refused.
    """
    usable: list[str] = []
    refused: list[str] = []
    pending = list(crls)
    progress = True
    while pending and progress:  # retry until no CRL is added (a delta given before its base)
        progress = False
        for crl in list(pending):
            try:
                fastmtls.RevocationSet.build([*usable, crl], cas=cas)
            except fastmtls.RevocationError:
                continue
            usable.append(crl)
            pending.remove(crl)
            progress = True
    subjects = {_subject(d) for d in cas}
    for crl in pending:
        try:
            issuer = fastmtls.inspect_crl(fastmtls.revocation.crl_to_der(crl)[0]).issuer_der
        except fastmtls.RevocationError:
            issuer = None  # unparseable: it may have been about this chain
        if issuer is None or issuer in subjects:
            refused.append(crl)
    return fastmtls.RevocationSet.build(usable, cas=cas), refused


def _subject(der: bytes) -> bytes | None:
    try:
        return x509.load_der_x509_certificate(der).subject.public_bytes()
    except ValueError:
        return None


def run_case(case: dict[str, Any]) -> fastmtls.VerifyResult:
    """Verify one case; returns the result (expected outcome is case['expected_result'])."""
    store = fastmtls.TrustStore()
    for i, pem in enumerate(case["trusted_certs"]):
        try:
            store.add_pem(pem, name=f"trusted-{i}")
        except fastmtls.CertificateLoadError:
            pass  # not a usable trust anchor (e.g. not a CA): simply not trusted
    inters: list[bytes] = []
    for pem in case["untrusted_intermediates"]:
        try:
            inters.extend(fastmtls.pem_to_der(pem))
        except fastmtls.CertificateLoadError:
            continue
    try:
        leaf = fastmtls.pem_to_der(case["peer_certificate"])
    except fastmtls.CertificateLoadError:
        leaf = [case["peer_certificate"].encode()]
    kind = case["validation_kind"]
    depth = case.get("max_chain_depth")
    # Revocation as a conforming relying party that was handed CRLs checks it (RFC 5280 6.3):
    # every certificate below the anchor, a revoked one fails the chain, a stale CRL is not
    # used. A certificate whose issuer published no CRL is accepted, but when a CRL had to be
    # refused, the status it was meant to give cannot be determined and the chain fails
    # ("unable to get certificate CRL") rather than passing as if the CRL did not exist.
    rev_kw: dict[str, Any] = {}
    if case.get("crls"):
        cas = [d for pem in case["trusted_certs"] for d in _ders(pem)] + inters
        revs, refused = revocations_for(case["crls"], cas)
        rev_kw = {
            "revocations": revs,
            "revocation_check": "chain",
            "revoked": "fail",
            "missing_crl": "deny" if refused else "allow",
            "expired_crl": "deny",
        }
    verifier = fastmtls.Verifier(
        store,
        purpose="server" if kind == "SERVER" else "client",
        # limbo's SERVER cases are web PKI server certificates (its webpki:: namespace tests
        # the CA/B Forum rules), as rustls-webpki and pyca/cryptography validate them
        profile="webpki" if kind == "SERVER" else "rfc5280",
        max_depth=8 if depth is None else min(depth, 62),
        **rev_kw,
    )
    at_s = case.get("validation_time")
    at = dt.datetime.fromisoformat(at_s) if at_s else None
    name: Any = None
    peer = case.get("expected_peer_name")
    if kind == "SERVER" and peer:
        name = peer["value"]
    elif kind == "CLIENT" and case.get("expected_peer_names"):
        name = case["expected_peer_names"][0]["value"]
    try:
        return verifier.verify([*leaf, *inters], at=at, expected_name=name)
    except fastmtls.ConfigurationError:
        # an expected name we cannot even express (e.g. invalid IDNA) cannot match
        return verifier.verify([b"\x00"], at=at)


def _ders(pem: str) -> list[bytes]:
    try:
        return fastmtls.pem_to_der(pem)
    except fastmtls.CertificateLoadError:
        return []


def iter_results(cases: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], bool]]:
    """(case, outcome agrees with the expectation) for every case that is run."""
    for case in cases:
        if skip_reason(case):
            continue
        r = run_case(case)
        yield case, r.verified == (case["expected_result"] == "SUCCESS")


if __name__ == "__main__":
    import collections
    import sys

    cases = load_cases()
    soft = soft_ids()
    known = disagreements()
    wrong_accept: list[str] = []
    wrong_reject: list[str] = []
    per_ns: collections.Counter[str] = collections.Counter()
    for case, ok in iter_results(cases):
        if ok or case["id"] in soft:
            continue
        per_ns[case["id"].split("::")[0]] += 1
        target = wrong_accept if case["expected_result"] == "FAILURE" else wrong_reject
        target.append(case["id"])
    print(f"accepted-should-fail: {len(wrong_accept)}  rejected-should-pass: {len(wrong_reject)}")
    print(dict(per_ns))
    verbose = "-v" in sys.argv
    for cid in wrong_accept + wrong_reject:
        if verbose or not cid.startswith("bettertls"):
            tag = "ACCEPT" if cid in wrong_accept else "REJECT"
            r = run_case(next(c for c in cases if c["id"] == cid))
            print(tag, cid, r.status, "(known)" if cid in known else "")
