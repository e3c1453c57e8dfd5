"""Real TLS handshakes through ``fastmtls.ssl``: Python clients over memory BIOs and loopback
sockets (TLS 1.2 and 1.3, record and enforce modes, every failure and the alert it sends),
``openssl s_client`` and ``curl``, session resumption, SNI, per-connection results, CA names,
concurrency with hot swaps, asyncio and uvicorn, and every X509_V_ERR code the hook sets.

Certificates come from ``tls_helpers.build_live_pki``: valid around now, since handshakes verify
at the current time.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import datetime as dt
import inspect
import itertools
import json
import socket
import ssl
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import der
import pki
import pytest
import tls_helpers as th
from cryptography import x509
from tls_helpers import LivePKI, root_verifier

import fastmtls
import fastmtls.ssl as fssl
from fastmtls._ffi import ffi

VERSIONS = ("1.2", "1.3")
MODES = ("record", "enforce")


# ---- every outcome, both modes, both versions, both transports -------------------------------


@dataclass(frozen=True)
class Case:
    """A client and what the server must conclude about it."""

    client: str | None
    status: str
    revoked: bool = False
    alert: str | None = None  # what the client reads in enforce mode (both versions)
    alert_12: str | None = None  # TLS 1.2 wording where it differs
    verifier_kw: dict[str, Any] = field(default_factory=dict)
    revoke: bool = False  # the verifier's RevocationSet revokes the client
    trust: tuple[str, ...] = ("root",)  # names of LivePKI.cas in the verifier's store
    # "empty": a set without the intermediate's CRL; "expired": stale CRL; "future": one issued
    # for tomorrow
    crl: str | None = None

    def expected_alert(self, version: str) -> str | None:
        """The alert text the client's SSLError carries in enforce mode."""
        return self.alert_12 if version == "1.2" and self.alert_12 else self.alert


# The alert OpenSSL (ssl_x509err2alert) sends for the X509_V_ERR_* code fm_hook.c sets.
CASES = {
    "good": Case("good", "SUCCESS"),
    "expired": Case("expired", "FAILED:certificate has expired",
                    alert="sslv3 alert certificate expired"),
    "not_yet_valid": Case("not_yet_valid", "FAILED:certificate is not yet valid",
                          alert="sslv3 alert bad certificate"),
    "unknown_ca": Case("foreign", "FAILED:unable to get local issuer certificate",
                       alert="tlsv1 alert unknown ca"),
    "revoked": Case("revocable", "SUCCESS", revoked=True, revoke=True,
                    alert="sslv3 alert certificate revoked"),
    "strict_revoked": Case("revocable", "FAILED:certificate revoked", revoked=True, revoke=True,
                           verifier_kw={"revoked": "fail"},
                           alert="sslv3 alert certificate revoked"),
    "bad_signature": Case("bad_sig", "FAILED:certificate signature failure",
                          alert="tlsv1 alert decrypt error"),
    "wrong_eku": Case("wrong_eku", "FAILED:unsupported certificate purpose",
                      alert="sslv3 alert unsupported certificate"),
    "no_certificate": Case(None, "NONE", alert="tlsv13 alert certificate required",
                           alert_12="sslv3 alert handshake failure"),
}  # fmt: skip


# The other X509_V_ERR_* codes fm_hook.c sets (over memory BIOs only).
CHAIN_CASES = {
    "self_signed_leaf": Case("self_signed", "FAILED:self signed certificate",
                             alert="tlsv1 alert unknown ca"),
    "self_signed_in_chain": Case("foreign_with_root",
                                 "FAILED:self signed certificate in certificate chain",
                                 alert="tlsv1 alert unknown ca"),
    "path_length": Case("pathlen", "FAILED:path length constraint exceeded",
                        trust=("pathlen_root",), alert="tlsv1 alert unknown ca"),
    "chain_too_long": Case("good", "FAILED:certificate chain too long",
                           verifier_kw={"max_depth": 0}, alert="tlsv1 alert unknown ca"),
    "critical_extension": Case("critical_ext", "FAILED:unhandled critical extension",
                               alert="sslv3 alert certificate unknown"),
    "no_explicit_policy": Case("policy_required", "FAILED:no explicit policy",
                               alert="sslv3 alert certificate unknown"),
    "missing_crl": Case("good", "FAILED:unable to get certificate CRL", crl="empty",
                        verifier_kw={"missing_crl": "deny"}, alert="tlsv1 alert unknown ca"),
    "expired_crl": Case("good", "FAILED:CRL has expired", crl="expired",
                        verifier_kw={"expired_crl": "deny"},
                        alert="sslv3 alert certificate expired"),
    "crl_not_yet_valid": Case("good", "FAILED:CRL is not yet valid", crl="future",
                              verifier_kw={"expired_crl": "deny"},
                              alert="sslv3 alert bad certificate"),
    # a status without its own X509_V_ERR code: X509_V_ERR_CERT_REJECTED
    "other_failure": Case("non_ca_issued", "FAILED:invalid or inconsistent certificate extension",
                          trust=("pathlen_root",), alert="sslv3 alert bad certificate"),
}  # fmt: skip

# TLS AlertDescription codes of those alerts (curl -v prints "TLS alert, <name> (512 + code)")
ALERT_CODES = {
    "sslv3 alert handshake failure": 40,
    "sslv3 alert bad certificate": 42,
    "sslv3 alert unsupported certificate": 43,
    "sslv3 alert certificate revoked": 44,
    "sslv3 alert certificate expired": 45,
    "sslv3 alert certificate unknown": 46,
    "tlsv1 alert unknown ca": 48,
    "tlsv1 alert decrypt error": 51,
    "tlsv13 alert certificate required": 116,
}


# The RFC 8446 names of those alerts, as the docs spell them.
ALERT_NAMES = {
    40: "handshake_failure", 42: "bad_certificate", 43: "unsupported_certificate",
    44: "certificate_revoked", 45: "certificate_expired", 46: "certificate_unknown",
    48: "unknown_ca", 51: "decrypt_error", 116: "certificate_required",
}  # fmt: skip


def _enforce_mode_docs() -> dict[str, str]:
    """What README.md and the fastmtls.ssl docstring say of enforce mode's alerts."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    doc = fssl.__doc__ or ""
    return {
        "README.md": readme.split('- `mode="enforce"`', 1)[1].split('`mode="record"`', 1)[0],
        "fastmtls.ssl": doc.split('- ``"enforce"``', 1)[1].split("A context", 1)[0],
    }


@pytest.mark.parametrize("where", ["README.md", "fastmtls.ssl"])
def test_docs_name_the_alerts_enforce_mode_sends(where: str) -> None:
    """The docs list exactly the alerts the cases above measure, each next to what sends it:
    they named bad_certificate for "others" while an unhandled critical extension (and a
    missing required policy) sends certificate_unknown."""
    text = " ".join(_enforce_mode_docs()[where].split())
    sent = {ALERT_NAMES[ALERT_CODES[a]] for c in [*CASES.values(), *CHAIN_CASES.values()]
            for a in (c.alert, c.alert_12) if a}  # fmt: skip
    assert {n for n in ALERT_NAMES.values() if n in text} == sent, text
    for name, causes in [("certificate_unknown", ("critical extension", "policy")),
                         ("bad_certificate", ("not yet valid",)),
                         ("unknown_ca", ("trusted issuer", "self-signed", "CRL"))]:  # fmt: skip
        said = text.split(name, 1)[1].split(")", 1)[0]
        assert all(c in said for c in causes), (name, said)


def case_verifier(live: LivePKI, case: Case) -> fastmtls.Verifier:
    """The verifier a case needs (revocations, strict mode)."""
    v = th.make_verifier(*((name, live.cas[name]) for name in case.trust), **case.verifier_kw)
    if case.revoke:
        v.revocations = live.revocations("revocable")
    elif case.crl == "empty":
        v.revocations = fastmtls.RevocationSet.empty()
    elif case.crl in ("expired", "future"):
        v.revocations = live.revocations(expired=case.crl == "expired", future=case.crl == "future")
    return v


@pytest.mark.parametrize("case_name", [*CASES, *CHAIN_CASES])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("version", VERSIONS)
def test_memory_bio_outcomes(live: LivePKI, version: str, mode: str, case_name: str) -> None:
    """Memory BIOs: record completes with the result; enforce sends the matching alert."""
    case = {**CASES, **CHAIN_CASES}[case_name]
    sctx = th.server_context(live, case_verifier(live, case), mode)
    pair = th.bio_handshake(sctx, th.client_context(live, case.client, version=version))
    accepted = case.status == "SUCCESS" and not case.revoked
    if mode == "record" or accepted:
        assert pair.ok, pair.errors
        assert pair.client.version() == f"TLSv{version}"
    else:
        assert not pair.ok
        alert = case.expected_alert(version)
        assert alert is not None and alert in (pair.client_error or ""), pair.client_error
    res = pair.result()
    assert (res.status, res.revoked) == (case.status, case.revoked)
    assert res.verified == (case.status == "SUCCESS")
    if case.client is not None:
        assert res.presented_chain[0] == live.clients[case.client].der
        assert res.fields()["cert_subject_dn"] == live.subject(case.client)


@pytest.mark.parametrize("case_name", list(CASES))
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("version", VERSIONS)
def test_socket_outcomes(live: LivePKI, version: str, mode: str, case_name: str) -> None:
    """Loopback sockets: the server's answer (record) or the client's alert (enforce)."""
    case = CASES[case_name]
    sctx = th.server_context(live, case_verifier(live, case), mode)
    with th.TLSServer(sctx) as server:
        out = th.https_get(server.port, th.client_context(live, case.client, version=version))
        rec = server.record(out.port)
    accepted = case.status == "SUCCESS" and not case.revoked
    if mode == "record" or accepted:
        assert out.error is None and out.body is not None, out.error
        assert (out.body["status"], out.body["revoked"]) == (case.status, case.revoked)
        assert out.body["version"] == f"TLSv{version}"
        assert rec.result is not None and rec.result.status == case.status
        subject = live.subject(case.client) if case.client else ""
        assert out.body["subject"] == subject
    else:
        alert = case.expected_alert(version)
        assert alert is not None and alert in (out.error or ""), out.error
        assert rec.error is not None and rec.result is None


# ---- openssl s_client and curl --------------------------------------------------------------

needs_openssl = pytest.mark.skipif(th.OPENSSL is None, reason="no openssl binary")
needs_curl = pytest.mark.skipif(th.CURL is None, reason="no curl binary")
EXTERNAL = ("good", "expired", "revoked", "unknown_ca", "no_certificate")


@needs_openssl
@pytest.mark.parametrize("case_name", EXTERNAL)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("version", VERSIONS)
def test_openssl_s_client(live: LivePKI, version: str, mode: str, case_name: str) -> None:
    """openssl s_client: the result in the answer (record) or the alert (enforce)."""
    case = CASES[case_name]
    with th.TLSServer(th.server_context(live, case_verifier(live, case), mode)) as server:
        proc = th.s_client(server.port, live, case.client, version=version)
    accepted = case.status == "SUCCESS" and not case.revoked
    if mode == "record" or accepted:
        body = th.body_of(proc.stdout)
        assert (body["status"], body["revoked"]) == (case.status, case.revoked)
        assert body["version"] == f"TLSv{version}"
    else:
        alert = case.expected_alert(version)
        assert alert is not None and alert in proc.stdout + proc.stderr, proc.stderr
        assert '"status"' not in proc.stdout


@needs_curl
@pytest.mark.parametrize("case_name", EXTERNAL)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("version", VERSIONS)
def test_curl(live: LivePKI, version: str, mode: str, case_name: str) -> None:
    """``curl --cert --key --cacert``: the result as JSON (record), the alert (enforce)."""
    case = CASES[case_name]
    with th.TLSServer(th.server_context(live, case_verifier(live, case), mode)) as server:
        proc = th.curl(server.port, live, case.client, version=version)
    accepted = case.status == "SUCCESS" and not case.revoked
    if mode == "record" or accepted:
        assert proc.returncode == 0, proc.stderr
        body = json.loads(proc.stdout)
        assert (body["status"], body["revoked"]) == (case.status, case.revoked)
        assert body["version"] == f"TLSv{version}"
    else:
        alert = case.expected_alert(version)
        assert alert is not None and proc.returncode != 0
        code = 512 + ALERT_CODES[alert]
        received = [line for line in proc.stderr.splitlines() if "(IN), TLS alert" in line]
        assert received and received[0].endswith(f"({code}):"), proc.stderr


@needs_openssl
@pytest.mark.parametrize("mode", MODES)
def test_openssl_s_client_session_id_resumption(
    live: LivePKI, tmp_path: Path, mode: str
) -> None:
    """``openssl s_client -no_ticket -sess_out`` then ``-sess_in``: OpenSSL's own client resumes
    a TLS 1.2 session by ID ("Reused"); after a revocation, record mode resumes revoked and
    enforce mode makes a full handshake that fails with certificate_revoked."""
    v = root_verifier(live)
    sess = str(tmp_path / "session.pem")
    with th.TLSServer(th.server_context(live, v, mode)) as server:
        first = th.s_client(server.port, live, "revocable", version="1.2",
                            extra=["-no_ticket", "-sess_out", sess])  # fmt: skip
        assert "New, TLSv1.2" in first.stdout and th.body_of(first.stdout)["status"] == "SUCCESS"
        again = th.s_client(server.port, live, "revocable", version="1.2",
                            extra=["-no_ticket", "-sess_in", sess])  # fmt: skip
        assert "Reused, TLSv1.2" in again.stdout
        assert (th.body_of(again.stdout)["status"], th.body_of(again.stdout)["reused"]) == (
            "SUCCESS", True)  # fmt: skip
        v.revocations = live.revocations("revocable")
        after = th.s_client(server.port, live, "revocable", version="1.2",
                            extra=["-no_ticket", "-sess_in", sess])  # fmt: skip
    if mode == "record":
        body = th.body_of(after.stdout)
        assert "Reused, TLSv1.2" in after.stdout and body["revoked"] and body["reused"]
    else:
        assert "Reused" not in after.stdout
        assert "certificate revoked" in after.stdout + after.stderr, after.stderr


# ---- session resumption ---------------------------------------------------------------------


RESUME = ("ticket", "session-id")


def _resuming_server(live: LivePKI, v: fastmtls.Verifier, mode: str, how: str) -> ssl.SSLContext:
    sctx = th.server_context(live, v, mode)
    if how == "session-id":
        sctx.options |= ssl.OP_NO_TICKET  # sessions live in the hook's cache, found by their ID
    return sctx


@pytest.mark.parametrize("how", RESUME)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("version", VERSIONS)
def test_resumption_then_revocation(live: LivePKI, version: str, mode: str, how: str) -> None:
    """Resumption (ticket or session ID) carries the result: SUCCESS with the chain verified
    again; after a revocation, record mode resumes revoked and enforce mode refuses to resume
    (the full handshake fails), and a refused session is forgotten."""
    v = root_verifier(live)
    cctx = th.resuming_client(live, "revocable", version, how)
    with th.TLSServer(_resuming_server(live, v, mode, how)) as server:
        first = th.https_get(server.port, cctx)
        assert first.error is None and first.session is not None
        assert not first.reused and first.body is not None and first.body["status"] == "SUCCESS"

        again = th.https_get(server.port, cctx, session=first.session)
        rec = server.record(again.port)
        assert again.error is None and again.reused and rec.reused
        assert rec.result is not None and rec.result.status == "SUCCESS"
        assert not rec.result.revoked
        assert rec.result.presented_chain == [c.der for c in live.sent["revocable"]]

        v.revocations = live.revocations("revocable")
        after = th.https_get(server.port, cctx, session=again.session or first.session)
        rec = server.record(after.port)
        if mode == "record":
            assert after.error is None and after.reused and rec.reused
            assert rec.result is not None and rec.result.status == "SUCCESS"
            assert rec.result.revoked and after.body is not None and after.body["revoked"]
        else:
            assert not after.reused
            assert "sslv3 alert certificate revoked" in (after.error or ""), after.error
            assert rec.error is not None and "certificate revoked" in rec.error
            if how == "session-id":  # refused once, forgotten: it never resumes, even unrevoked
                v.revocations = None
                later = th.https_get(server.port, cctx, session=again.session or first.session)
                assert later.error is None and not later.reused


@pytest.mark.parametrize("how", RESUME)
@pytest.mark.parametrize("version", VERSIONS)
def test_resumption_strict_revocation(live: LivePKI, version: str, how: str) -> None:
    """With revoked="fail", a resumed connection of a since-revoked client reads FAILED."""
    v = root_verifier(live, revoked="fail")
    cctx = th.resuming_client(live, "revocable", version, how)
    with th.TLSServer(_resuming_server(live, v, "record", how)) as server:
        first = th.https_get(server.port, cctx)
        v.revocations = live.revocations("revocable")
        again = th.https_get(server.port, cctx, session=first.session)
        rec = server.record(again.port)
    assert again.reused and rec.result is not None
    assert (rec.result.status, rec.result.revoked) == ("FAILED:certificate revoked", True)


@pytest.mark.parametrize("how", RESUME)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("version", VERSIONS)
def test_resumption_after_ca_removed(live: LivePKI, version: str, mode: str, how: str) -> None:
    """A resumed session is checked against today's store: its CA removed, it fails."""
    v = th.make_verifier(("root", live.root), ("other", live.other))
    cctx = th.resuming_client(live, "good", version, how)
    with th.TLSServer(_resuming_server(live, v, mode, how)) as server:
        first = th.https_get(server.port, cctx)
        assert first.body is not None and first.body["status"] == "SUCCESS"
        v.store.remove("root")
        again = th.https_get(server.port, cctx, session=first.session)
        rec = server.record(again.port)
    if mode == "record":
        assert again.reused and rec.result is not None
        assert rec.result.status == "FAILED:unable to get local issuer certificate"
    else:
        assert not again.reused and "tlsv1 alert unknown ca" in (again.error or "")


@pytest.mark.parametrize("how", RESUME)
@pytest.mark.parametrize("version", VERSIONS)
def test_resumption_without_certificate(live: LivePKI, version: str, how: str) -> None:
    """Record mode: a client without a certificate resumes as NONE."""
    cctx = th.resuming_client(live, None, version, how)
    with th.TLSServer(_resuming_server(live, root_verifier(live), "record", how)) as server:
        first = th.https_get(server.port, cctx)
        again = th.https_get(server.port, cctx, session=first.session)
        rec = server.record(again.port)
    assert first.body is not None and first.body["status"] == "NONE"
    assert again.reused and rec.result is not None and rec.result.status == "NONE"


@pytest.mark.parametrize("version", VERSIONS)
def test_memory_bio_resumption(live: LivePKI, version: str) -> None:
    """Resumption over memory BIOs: the resumed SSLObject's result is SUCCESS, then revoked."""
    v = root_verifier(live)
    sctx = th.server_context(live, v, "record")
    cctx = th.client_context(live, "revocable", version=version)
    first = th.bio_handshake(sctx, cctx)
    assert first.ok and first.client.session is not None
    again = th.bio_handshake(sctx, cctx, session=first.client.session)
    assert again.ok and again.client.session_reused and again.server.session_reused
    assert again.result().status == "SUCCESS" and not again.result().revoked
    v.revocations = live.revocations("revocable")
    third = th.bio_handshake(sctx, cctx, session=again.client.session)
    assert third.ok and third.server.session_reused
    assert third.result().revoked and third.result().status == "SUCCESS"


def test_session_id_of_another_context_does_not_resume(live: LivePKI) -> None:
    """Each hooked context has its own session cache: a session made with one server is not
    resumed by another in the same process (whose trust may differ)."""
    cctx = th.resuming_client(live, "good", "1.2", "session-id")
    with th.TLSServer(_resuming_server(live, root_verifier(live), "record", "session-id")) as a, \
            th.TLSServer(_resuming_server(live, root_verifier(live), "record", "session-id")) as b:
        first = th.https_get(a.port, cctx)
        assert first.error is None and first.session is not None
        other = th.https_get(b.port, cctx, session=first.session)
        rec = b.record(other.port)
    assert other.error is None and not other.reused
    assert rec.result is not None and rec.result.status == "SUCCESS"


def test_session_cache_size_bounds_the_sessions_kept(live: LivePKI) -> None:
    """``session_cache_size=2``: a third session pushes out the oldest, which then no longer
    resumes; the two newest do."""
    sctx = th.server_context(live, root_verifier(live), "record", session_cache_size=2)
    sctx.options |= ssl.OP_NO_TICKET
    cctx = th.resuming_client(live, "good", "1.2", "session-id")
    assert _three_sessions_resumed(sctx, cctx) == [True, True, False]


def _three_sessions_resumed(sctx: ssl.SSLContext, cctx: ssl.SSLContext) -> list[bool]:
    """Three full handshakes, then each session offered again, newest first (a miss makes a new
    session, which would push out the next oldest): whether each resumed."""
    with th.TLSServer(sctx) as server:
        firsts = [th.https_get(server.port, cctx) for _ in range(3)]
        assert all(f.error is None and f.session is not None for f in firsts)
        outcomes = [th.https_get(server.port, cctx, session=f.session) for f in firsts[::-1]]
    return [o.reused for o in outcomes]


def _resumes_by_ticket_only(live: LivePKI, sctx: ssl.SSLContext) -> None:
    """A session offered by ID does not resume on ``sctx``; one offered by ticket does."""
    with th.TLSServer(sctx) as server:
        by_id = th.resuming_client(live, "good", "1.2", "session-id")
        first = th.https_get(server.port, by_id)
        again = th.https_get(server.port, by_id, session=first.session)
        by_ticket = th.client_context(live, "good", version="1.2")
        t1 = th.https_get(server.port, by_ticket)
        t2 = th.https_get(server.port, by_ticket, session=t1.session)
    assert again.error is None and not again.reused
    assert t2.error is None and t2.reused


def test_session_cache_size_zero_resumes_by_ticket_only(live: LivePKI) -> None:
    """``session_cache_size=0`` turns session-ID resumption off; tickets still resume."""
    _resumes_by_ticket_only(
        live, th.server_context(live, root_verifier(live), "record", session_cache_size=0))


def _padded_chain(live: LivePKI, who: str, kib: int, directory: Path) -> str:
    """PEM file: ``who``'s chain followed by self-signed certificates of about ``kib`` KiB in all
    (a record-mode server takes any chain, and keeps it with the session)."""
    key = pki.make_key("p256")
    pads = []
    for i in range(max(1, kib // 30)):
        filler = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.55738.1"),
                                            b"\x04\x82" + (30000).to_bytes(2, "big") + b"A" * 30000)
        pads.append(pki.issue(subject=f"pad {i}", key=key, extra_extensions=[(filler, False)]))
    path = directory / f"{who}-padded.pem"
    path.write_bytes(Path(live.chain_file(who)).read_bytes() + pki.pem_bundle(*pads))
    return str(path)


def test_session_cache_bytes_bounds_the_memory_kept(live: LivePKI, tmp_path: Path) -> None:
    """Clients sending ~90 KiB chains (no valid certificate needed in record mode) used to have
    each of the cache's 20,480 sessions hold that much, several GB in all. With
    ``session_cache_bytes=1 MiB`` (each such session is estimated at ~370 KiB) a third session
    pushes out the oldest; the two newest still resume."""
    sctx = th.server_context(live, root_verifier(live), "record", session_cache_bytes=1 << 20)
    sctx.options |= ssl.OP_NO_TICKET
    cctx = th.resuming_client(live, None, "1.2", "session-id")
    cctx.load_cert_chain(_padded_chain(live, "good", 90, tmp_path), live.key_file("good"))
    assert _three_sessions_resumed(sctx, cctx) == [True, True, False]


def test_session_cache_bytes_below_one_session_keeps_none(live: LivePKI) -> None:
    """A budget smaller than one session's estimate keeps no session: IDs do not resume,
    tickets still do."""
    _resumes_by_ticket_only(
        live, th.server_context(live, root_verifier(live), "record", session_cache_bytes=1024))


@pytest.mark.parametrize("size", [-1, 2**63, 1.5, "10", True, None])
def test_session_cache_bytes_is_validated(live: LivePKI, size: Any) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with pytest.raises(fastmtls.ConfigurationError, match="session_cache_bytes"):
        fssl.install(ctx, root_verifier(live), session_cache_bytes=size)
    with pytest.raises(fastmtls.ConfigurationError, match="session_cache_bytes"):
        fssl.guard(ctx, session_cache_bytes=size)


@pytest.mark.parametrize("size", [-1, 2**24 + 1, 1.5, "10", True])
def test_session_cache_size_is_validated(live: LivePKI, size: Any) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with pytest.raises(fastmtls.ConfigurationError, match="session_cache_size"):
        fssl.install(ctx, root_verifier(live), session_cache_size=size)


def test_session_cache_default_is_the_c_default() -> None:
    from fastmtls._ffi import lib

    default = inspect.signature(fssl.install).parameters["session_cache_size"].default
    assert default == lib.FM_HOOK_DEFAULT_SESSION_CACHE == 20480
    assert lib.FM_HOOK_MAX_SESSION_CACHE == 2**24
    default = inspect.signature(fssl.install).parameters["session_cache_bytes"].default
    assert default == lib.FM_HOOK_DEFAULT_SESSION_CACHE_BYTES == 128 << 20
    assert inspect.signature(fssl.guard).parameters["session_cache_bytes"].default == default


def _set_session_timeout(ctx: ssl.SSLContext, seconds: int) -> None:
    """``SSL_CTX_set_timeout`` of the libssl the ssl module uses (Python has no setter)."""
    import _ssl
    import ctypes

    f = ctypes.CDLL(_ssl.__file__).SSL_CTX_set_timeout
    f.argtypes = [ctypes.c_void_p, ctypes.c_long]
    f.restype = ctypes.c_long
    # PySSLContext: PyObject_HEAD, then SSL_CTX *ctx (the layout fastmtls.ssl checks)
    f(ctypes.c_void_p.from_address(id(ctx) + object.__basicsize__).value, seconds)


def _session_callbacks(ctx: ssl.SSLContext) -> tuple[int | None, ...]:
    """The SSL_CTX's session-cache callbacks (new, get, remove), read through the libssl the
    ssl module uses."""
    import _ssl
    import ctypes

    lib_ssl = ctypes.CDLL(_ssl.__file__)
    ptr = ctypes.c_void_p.from_address(id(ctx) + object.__basicsize__).value
    out = []
    for name in ("SSL_CTX_sess_get_new_cb", "SSL_CTX_sess_get_get_cb",
                 "SSL_CTX_sess_get_remove_cb"):  # fmt: skip
        f = getattr(lib_ssl, name)
        f.argtypes, f.restype = [ctypes.c_void_p], ctypes.c_void_p
        out.append(f(ptr))
    return tuple(out)


def test_reinstall_never_clears_a_session_callback(live: LivePKI) -> None:
    """Once installed, the session callbacks stay set whatever a later install() or guard()
    asks for (a session cache of 0 included): OpenSSL tests a callback and reads it again to
    call it, so clearing one under handshakes in flight could make a handshake call NULL (seen
    once as a crash of test_reinstall_during_handshakes). Without a cache the callbacks keep
    nothing and the cache mode stops OpenSSL from asking: no session ID resumes."""
    sctx = th.server_context(live, root_verifier(live), "record")
    installed = _session_callbacks(sctx)
    assert all(installed)
    for size in (0, 64, 0):
        fssl.install(sctx, root_verifier(live), mode="record", session_cache_size=size)
        assert _session_callbacks(sctx) == installed
    fssl.guard(sctx, session_cache_size=0)
    assert _session_callbacks(sctx) == installed
    fssl.install(sctx, root_verifier(live), mode="record", session_cache_size=0)
    cctx = th.resuming_client(live, "good", "1.2", "session-id")
    with th.TLSServer(sctx) as server:
        first = th.https_get(server.port, cctx)
        again = th.https_get(server.port, cctx, session=first.session)
        assert not again.reused and again.error is None and again.body["status"] == "SUCCESS"


def test_session_id_expired_session_does_not_resume(live: LivePKI) -> None:
    """A session past its timeout is not resumed: the full handshake verifies the chain."""
    sctx = _resuming_server(live, root_verifier(live), "record", "session-id")
    _set_session_timeout(sctx, 1)
    cctx = th.resuming_client(live, "good", "1.2", "session-id")
    with th.TLSServer(sctx) as server:
        first = th.https_get(server.port, cctx)
        again = th.https_get(server.port, cctx, session=first.session)
        assert again.reused
        time.sleep(2.1)
        late = th.https_get(server.port, cctx, session=first.session)
        rec = server.record(late.port)
    assert late.error is None and not late.reused
    assert rec.result is not None and rec.result.status == "SUCCESS" and not rec.reused


def test_session_cache_is_thread_safe(live: LivePKI) -> None:
    """Clients on several threads resuming their own sessions over one context: every resumed
    connection's result is the one of its own chain, verified again."""
    v = root_verifier(live)
    cctx_good = th.resuming_client(live, "good", "1.2", "session-id")
    cctx_rev = th.resuming_client(live, "revocable", "1.2", "session-id")
    with th.TLSServer(_resuming_server(live, v, "record", "session-id")) as server:
        firsts = {name: th.https_get(server.port, c) for name, c in
                  (("good", cctx_good), ("revocable", cctx_rev))}  # fmt: skip
        v.revocations = live.revocations("revocable")
        errors: list[str] = []

        def client(name: str, cctx: ssl.SSLContext) -> None:
            for _ in range(15):
                out = th.https_get(server.port, cctx, session=firsts[name].session)
                rec = server.record(out.port)
                want_revoked = name == "revocable"
                if not (out.reused and rec.result is not None
                        and rec.result.revoked == want_revoked):  # fmt: skip
                    errors.append(f"{name}: reused={out.reused} result={rec.result}")

        threads = [threading.Thread(target=client, args=a) for a in
                   (("good", cctx_good), ("revocable", cctx_rev)) * 2]  # fmt: skip
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []


def _session_cache_mode(ctx: ssl.SSLContext, mode: int | None = None) -> int:
    """``SSL_CTX_get/set_session_cache_mode`` (macros over ``SSL_CTX_ctrl``) of the libssl the
    ssl module uses; sets ``mode`` when given. Returns the mode (the previous one when set)."""
    import _ssl
    import ctypes

    f = ctypes.CDLL(_ssl.__file__).SSL_CTX_ctrl
    f.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
    f.restype = ctypes.c_long
    ptr = ctypes.c_void_p.from_address(id(ctx) + object.__basicsize__).value
    get_mode, set_mode = 45, 44  # SSL_CTRL_GET_SESS_CACHE_MODE, SSL_CTRL_SET_SESS_CACHE_MODE
    return int(f(ptr, get_mode, 0, None) if mode is None else f(ptr, set_mode, mode, None))


@pytest.mark.parametrize("cache", [64, 0])
def test_openssl_internal_session_cache_never_resumes(live: LivePKI, cache: int) -> None:
    """OpenSSL's own session cache restores a session without calling the hook: on a hooked
    context it must never be looked up, whatever it holds and whatever the hook's session cache
    size. OpenSSL copies a session that the hook's cache returned into its internal cache when the
    context's mode allows it at that moment, as an install on another thread switching the mode
    under a handshake could (seen under ASan in test_reinstall_during_handshakes: a resumed
    connection without a result); the mode is set so here, deterministically."""
    v = root_verifier(live)
    sctx = th.server_context(live, v, "record", session_cache_size=64)
    sctx.options |= ssl.OP_NO_TICKET
    cctx = th.client_context(live, "good", version="1.2", tickets=False)
    first = th.bio_handshake(sctx, cctx, close=True)
    assert first.ok and first.result().status == "SUCCESS"
    _session_cache_mode(sctx, 0x0002)  # SSL_SESS_CACHE_SERVER: the internal store is on
    again = th.bio_handshake(sctx, cctx, session=first.client.session, close=True)
    assert again.server.session_reused and again.result().status == "SUCCESS"  # the hook's cache
    fssl.install(sctx, v, mode="record", session_cache_size=cache)
    no_internal = 0x0300  # SSL_SESS_CACHE_NO_INTERNAL_LOOKUP | SSL_SESS_CACHE_NO_INTERNAL_STORE
    assert _session_cache_mode(sctx) & no_internal == no_internal
    v.revocations = live.revocations("good")  # what an unverified resumption would miss
    third = th.bio_handshake(sctx, cctx, session=first.client.session, close=True)
    assert third.ok and not third.server.session_reused  # the new hook's cache is empty
    res = third.result()
    assert res.status == "SUCCESS" and res.revoked


# ---- SNI, per-connection results, CA names ---------------------------------------------------


@pytest.fixture(scope="module")
def tenant_verifier(live: LivePKI) -> fastmtls.Verifier:
    """A store with CAs ``ca-a`` and ``ca-b``; a.example trusts only ca-a, b.example only ca-b."""
    return th.make_verifier(
        ("ca-a", live.ca_a),
        ("ca-b", live.ca_b),
        associations={"a.example": ["ca-a"], "b.example": ["ca-b"]},
    )


SNI_CASES = [
    ("a.example", "from_a", "SUCCESS", "ca-a"),
    ("a.example", "from_b", "FAILED:unable to get local issuer certificate", None),
    ("b.example", "from_b", "SUCCESS", "ca-b"),
    ("b.example", "from_a", "FAILED:unable to get local issuer certificate", None),
    ("localhost", "from_a", "SUCCESS", "ca-a"),  # no associations: every CA
    ("localhost", "from_b", "SUCCESS", "ca-b"),
]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("sni", "client", "status", "anchor"), SNI_CASES)
def test_sni_selects_cas(
    live: LivePKI,
    tenant_verifier: fastmtls.Verifier,
    sni: str,
    client: str,
    status: str,
    anchor: str | None,
    version: str,
) -> None:
    """The client's SNI picks the host's associated CAs."""
    sctx = th.server_context(live, tenant_verifier, "record")
    pair = th.bio_handshake(sctx, th.client_context(live, client, version=version), hostname=sni)
    assert pair.ok and pair.client.server_hostname == sni
    res = pair.result()
    assert (res.status, res.anchor_name) == (status, anchor)


def test_sni_enforce_unknown_ca(live: LivePKI, tenant_verifier: fastmtls.Verifier) -> None:
    """Enforce mode: a ca-b client at a.example is refused with unknown CA."""
    sctx = th.server_context(live, tenant_verifier, "enforce")
    pair = th.bio_handshake(sctx, th.client_context(live, "from_b"), hostname="a.example")
    assert "tlsv1 alert unknown ca" in (pair.client_error or "")
    ok = th.bio_handshake(sctx, th.client_context(live, "from_b"), hostname="b.example")
    assert ok.ok and ok.result().status == "SUCCESS"


def test_fixed_host_overrides_sni(live: LivePKI, tenant_verifier: fastmtls.Verifier) -> None:
    """install(host=...) applies that host's associations whatever the SNI says."""
    sctx = th.server_context(live, tenant_verifier, "record", host="a.example")
    for sni in ("b.example", "localhost"):
        b = th.bio_handshake(sctx, th.client_context(live, "from_b"), hostname=sni)
        a = th.bio_handshake(sctx, th.client_context(live, "from_a"), hostname=sni)
        assert b.result().status == "FAILED:unable to get local issuer certificate"
        assert a.result().status == "SUCCESS"


def test_interleaved_connections_keep_their_own_results(live: LivePKI) -> None:
    """Handshakes advanced step by step in turns: each connection's result is its own."""
    v = root_verifier(live)
    sctx = th.server_context(live, v, "record")
    names = ["good", "expired", None, "foreign", "good", "wrong_eku"]
    pairs = [th.BioPair.open(sctx, th.client_context(live, n, version=ver))
             for n, ver in zip(names, ["1.3", "1.2"] * 3)]  # fmt: skip
    for _ in range(100):
        moved = [p.step() for p in pairs]  # every handshake is in flight at once
        if not any(moved):
            break
    for p in pairs:
        p.handshake()
        assert p.ok, p.errors
    got = [(p.result().status, p.result().presented_chain[:1]) for p in pairs]
    want = [
        ("SUCCESS", [live.clients["good"].der]),
        ("FAILED:certificate has expired", [live.clients["expired"].der]),
        ("NONE", []),
        ("FAILED:unable to get local issuer certificate", [live.clients["foreign"].der]),
        ("SUCCESS", [live.clients["good"].der]),
        ("FAILED:unsupported certificate purpose", [live.clients["wrong_eku"].der]),
    ]
    assert got == want


def test_concurrent_socket_connections_keep_their_own_results(live: LivePKI) -> None:
    """Sixteen loopback clients at once with different certificates: each gets its own answer."""
    sctx = th.server_context(live, root_verifier(live), "record")
    names = ["good", "expired", "foreign", None] * 4
    want = {"good": "SUCCESS", "expired": "FAILED:certificate has expired",
            "foreign": "FAILED:unable to get local issuer certificate", None: "NONE"}  # fmt: skip
    with th.TLSServer(sctx) as server, ThreadPoolExecutor(8) as pool:
        outs = list(pool.map(lambda n: th.https_get(server.port, th.client_context(live, n)),
                             names))  # fmt: skip
    for name, out in zip(names, outs):
        assert out.error is None and out.body is not None, out.error
        assert out.body["status"] == want[name]
        assert out.body["subject"] == (live.subject(name) if name else "")


def test_result_errors(live: LivePKI) -> None:
    """result() refuses objects it cannot answer for."""
    sctx = th.server_context(live, root_verifier(live), "record")
    plain = th.server_context(live, None)
    pair = th.bio_handshake(plain, th.client_context(live, "good"))
    with pytest.raises(fastmtls.ConfigurationError, match="install"):
        fssl.result(pair.server)
    with pytest.raises(fastmtls.ConfigurationError):
        fssl.result(object())
    fresh = sctx.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_side=True)
    with pytest.raises(fastmtls.ConfigurationError, match="not started"):
        fssl.result(fresh)  # no handshake yet: no result (it used to say NONE, "none sent")
    a, b = socket.socketpair()
    with a, b, sctx.wrap_socket(a, server_side=True, do_handshake_on_connect=False) as conn:
        with pytest.raises(fastmtls.ConfigurationError, match="not started"):
            fssl.result(conn)
    # once the handshake ran, "no certificate" is NONE
    pair = th.bio_handshake(sctx, th.client_context(live, None))
    assert pair.ok and fssl.result(pair.server).status == "NONE"


@needs_openssl
@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    ("send", "names"),
    [
        (True, ["Live Root CA", "Tenant A CA", "Tenant B CA"]),
        (["ca-b"], ["Tenant B CA"]),
        (False, []),
    ],
)
def test_send_ca_names(live: LivePKI, send: Any, names: list[str], version: str) -> None:
    """send_ca_names lists the store's CA subjects (all or named) in the CertificateRequest."""
    v = th.make_verifier(("root", live.root), ("ca-a", live.ca_a), ("ca-b", live.ca_b))
    with th.TLSServer(th.server_context(live, v, "record", send_ca_names=send)) as server:
        proc = th.s_client(server.port, live, "good", version=version)
    out = proc.stdout
    if not names:
        assert "No client certificate CA names sent" in out
    else:
        block = out.split("Acceptable client certificate CA names\n", 1)[1].splitlines()
        listed = list(itertools.takewhile(lambda line: line.startswith("CN = "), block))
        assert [line[len("CN = ") :] for line in listed] == names
    assert th.body_of(out)["status"] == "SUCCESS"


def _ca_names_sent(port: int, live: LivePKI) -> list[str]:
    out = th.s_client(port, live, "good").stdout
    if "No client certificate CA names sent" in out:
        return []
    block = out.split("Acceptable client certificate CA names\n", 1)[1].splitlines()
    return [line[len("CN = "):] for line in itertools.takewhile(
        lambda line: line.startswith("CN = "), block)]  # fmt: skip


@needs_openssl
def test_send_ca_names_follow_the_store(live: LivePKI) -> None:
    """The CertificateRequest lists the CAs of the store as it is at each handshake: CAs added,
    removed, or a whole store swapped in (they were frozen at install())."""
    v = th.make_verifier(("root", live.root))
    subset = th.make_verifier(("root", live.root), ("ca-b", live.ca_b))
    with th.TLSServer(th.server_context(live, v, "record", send_ca_names=True)) as server, \
            th.TLSServer(th.server_context(live, subset, "record",
                                           send_ca_names=["ca-b"])) as named:  # fmt: skip
        assert _ca_names_sent(server.port, live) == ["Live Root CA"]
        v.store.add_der(live.ca_a.der, name="ca-a")
        assert _ca_names_sent(server.port, live) == ["Live Root CA", "Tenant A CA"]
        v.store.remove("root")
        assert _ca_names_sent(server.port, live) == ["Tenant A CA"]
        v.store = th.make_verifier(("ca-b", live.ca_b)).store
        assert _ca_names_sent(server.port, live) == ["Tenant B CA"]
        assert _ca_names_sent(named.port, live) == ["Tenant B CA"]
        subset.store.remove("ca-b")  # the one named CA gone: none listed
        assert _ca_names_sent(named.port, live) == []
        subset.store.add_der(live.ca_b.der, name="ca-b")
        assert _ca_names_sent(named.port, live) == ["Tenant B CA"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"host": "a" * 300}, "invalid hostname"),
        ({"host": "a" * 64 + ".example"}, "invalid hostname"),
        ({"host": "*.example.com"}, "wildcard"),
        ({"send_ca_names": ["no-such-ca"]}, "no CA named"),
        ({"send_ca_names": "root"}, "list of CA names"),
    ],
)
def test_install_refuses_bad_options(live: LivePKI, kwargs: dict[str, Any], match: str) -> None:
    """A bad fixed host or CA name is a ConfigurationError naming it (a 300-byte host raised
    HookUnavailableError, "not available here"; an unknown CA name silently sent no names)."""
    ctx = th.server_context(live, None)
    with pytest.raises(fastmtls.ConfigurationError, match=match) as exc:
        fssl.install(ctx, root_verifier(live), **kwargs)
    assert not isinstance(exc.value, fssl.HookUnavailableError)


@pytest.mark.parametrize("which", ["install", "guard"])
def test_a_client_only_context_is_refused(live: LivePKI, which: str) -> None:
    """The hook serves the server side: a PROTOCOL_TLS_CLIENT context, whose connections are all
    client connections, is a ConfigurationError saying so (it used to fail by accident, with an
    ssl.SSLError of the layout probe's server-side connection), and is left as it was."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    with pytest.raises(fastmtls.ConfigurationError, match="PROTOCOL_TLS_CLIENT") as exc:
        if which == "install":
            fssl.install(ctx, root_verifier(live))
        else:
            fssl.guard(ctx)
    assert not isinstance(exc.value, fssl.HookUnavailableError)
    assert not hasattr(ctx, "_fastmtls_hook") and ctx.verify_mode == ssl.CERT_REQUIRED


def _dual_use_context(live: LivePKI) -> ssl.SSLContext:
    """A PROTOCOL_TLS context (server and client) trusting the live root for servers, checking
    their names, with the live server certificate for its own server connections."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # PROTOCOL_TLS, since Python 3.10
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS)
    ctx.load_verify_locations(live.file("root.pem"))
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.check_hostname = True
    ctx.load_cert_chain(live.file("server.pem"), live.key_file("server"))
    return ctx


@pytest.mark.parametrize("which", [None, "guard", *MODES])
@pytest.mark.parametrize("version", VERSIONS)
def test_a_dual_use_context_verifies_servers_as_openssl_does(
    live: LivePKI, tmp_path: Path, version: str, which: str | None
) -> None:
    """The hook's certificate verification callback (SSL_CTX_set_cert_verify_callback) also
    stands in for OpenSSL's chain verification on the context's client connections: a dual-use
    context's client connections had the server's certificate judged by the client-certificate
    verifier, so in record mode every server passed (an untrusted one, a wrong name: a silent
    man in the middle), and in enforce mode every real server failed. A client connection is
    OpenSSL's business, exactly as without the hook (``which`` None), while the context's server
    connections are still verified by the hook."""
    now = dt.datetime.now(dt.timezone.utc)
    valid = {"not_before": now - dt.timedelta(hours=1), "not_after": now + dt.timedelta(days=3)}
    evil = pki.leaf(live.other, "localhost", eku=[pki.SERVER_AUTH],
                    san=[x509.DNSName("localhost")], **valid)  # fmt: skip
    (tmp_path / "evil.pem").write_bytes(evil.pem)
    (tmp_path / "evil.key").write_bytes(th._key_pem(evil))
    untrusted = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    untrusted.load_cert_chain(str(tmp_path / "evil.pem"), str(tmp_path / "evil.key"))
    good = th.server_context(live, None)

    ctx = _dual_use_context(live)
    if which == "guard":
        fssl.guard(ctx)
    elif which is not None:
        fssl.install(ctx, root_verifier(live), mode=which)
    ctx.minimum_version = ctx.maximum_version = th.VERSIONS[version]
    ok = th.bio_handshake(good, ctx, hostname="localhost", close=True)
    assert ok.ok, ok.errors
    bad = th.bio_handshake(untrusted, ctx, hostname="localhost", close=True)
    assert not bad.ok
    assert "certificate verify failed: unable to get local issuer certificate" in str(
        bad.client_error
    ), bad.errors
    name = th.bio_handshake(good, ctx, hostname="api.bank.example", close=True)
    assert not name.ok
    assert "certificate verify failed: Hostname mismatch" in str(name.client_error), name.errors

    if which in MODES:  # its server connections: still the hook's
        served = th.bio_handshake(ctx, th.client_context(live, "good", version=version))
        assert served.ok and served.result().status == "SUCCESS"
        foreign = th.bio_handshake(ctx, th.client_context(live, "foreign", version=version))
        assert foreign.ok == (which == "record")
        assert foreign.result().status == "FAILED:unable to get local issuer certificate"
        # install() set the context's verify mode, which its client connections use too: a
        # context left at CERT_NONE now checks the server's certificate (fails closed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            lax = ssl.SSLContext(ssl.PROTOCOL_TLS)
        assert th.bio_handshake(untrusted, lax, hostname="localhost", close=True).ok
        fssl.install(lax, root_verifier(live), mode=which)
        refused = th.bio_handshake(untrusted, lax, hostname="localhost", close=True)
        assert "unable to get local issuer certificate" in str(refused.client_error)


# ---- concurrency and hot swaps ---------------------------------------------------------------


def test_thousands_of_handshakes_while_swapping(live: LivePKI) -> None:
    """4 x 500 handshakes during store/revocation swaps: each result fits a state and its conn."""
    v = root_verifier(live)
    revoking, empty = live.revocations("revocable"), live.revocations()
    sctx = th.server_context(live, v, "record")
    names = ("good", "revocable", "expired", "foreign")
    cctxs = {(n, ver): th.client_context(live, n, version=ver) for n in names for ver in VERSIONS}
    allowed = {
        "good": {("SUCCESS", False, "root")},
        "revocable": {("SUCCESS", False, "root"), ("SUCCESS", True, "root")},
        "expired": {("FAILED:certificate has expired", False, None)},
        "foreign": {("FAILED:unable to get local issuer certificate", False, None),
                    ("SUCCESS", False, "other")},  # while the swapper trusts the other root
    }  # fmt: skip
    stop = threading.Event()
    swaps = Counter[str]()

    def swapper() -> None:
        i = 0
        while not stop.is_set():
            v.revocations = revoking if i % 2 == 0 else empty
            if "other" in v.store.names():
                v.store.remove("other")
            else:
                v.store.add_der(live.other.der, name="other")
            swaps["swaps"] += 1
            i += 1
            time.sleep(0.002)

    def worker(k: int) -> Counter[tuple[str, str, bool, str | None]]:
        seen: Counter[tuple[str, str, bool, str | None]] = Counter()
        for i in range(500):
            name = names[(i + k) % len(names)]
            pair = th.bio_handshake(sctx, cctxs[(name, VERSIONS[(i // 4) % 2])])
            assert pair.ok, pair.errors
            res = pair.result()
            state = (res.status, res.revoked, res.anchor_name)
            assert state in allowed[name], (name, state)
            assert res.presented_chain[0] == live.clients[name].der
            seen[(name, *state)] += 1
        return seen

    t0 = time.monotonic()
    swap_thread = threading.Thread(target=swapper, daemon=True)
    swap_thread.start()
    try:
        with ThreadPoolExecutor(4) as pool:
            totals = sum((f.result() for f in [pool.submit(worker, k) for k in range(4)]),
                         Counter())  # fmt: skip
    finally:
        stop.set()
        swap_thread.join(5)
    elapsed = time.monotonic() - t0
    assert sum(totals.values()) == 2000
    assert swaps["swaps"] > 10, swaps
    # both states were seen (the swaps really happened under the handshakes)
    assert totals[("revocable", "SUCCESS", True, "root")] > 0
    assert totals[("revocable", "SUCCESS", False, "root")] > 0
    assert totals[("foreign", "SUCCESS", False, "other")] > 0
    assert totals[("foreign", "FAILED:unable to get local issuer certificate", False, None)] > 0
    assert elapsed < 60, f"{elapsed:.1f}s"


def _while_installing(
    install: Callable[[int], None], work: Callable[[int], Counter[Any]], workers: int
) -> tuple[Counter[Any], int]:
    """Runs ``work(k)`` on ``workers`` threads while another thread calls ``install(i)`` for
    i = 0, 1, ... (half a millisecond apart) until they are done. Returns the sum of their
    counters and the number of installs."""
    stop = threading.Event()
    count = 0

    def installer() -> None:
        nonlocal count
        while not stop.is_set():
            install(count)
            count += 1
            time.sleep(0.0005)

    thread = threading.Thread(target=installer)
    thread.start()
    try:
        with ThreadPoolExecutor(workers) as pool:
            futures = [pool.submit(work, k) for k in range(workers)]
            totals = sum((f.result() for f in futures), Counter[Any]())
    finally:
        stop.set()
        thread.join()
    return totals, count


def test_reinstall_during_handshakes(live: LivePKI) -> None:
    """install() again and again on a context that threads are handshaking on: a handshake in
    flight keeps the hook it started with (a replaced hook is freed only when no callback uses
    it), and each result is one of the two verifiers'. Under ASan this catches a replaced hook
    freed while a handshake still runs in it."""
    trusting, foreign = root_verifier(live), th.make_verifier(("other", live.other))
    sctx = th.server_context(live, trusting, "record")
    cctxs = [th.client_context(live, "good", version=ver, tickets=ver == "1.3") for ver in VERSIONS]
    allowed = {("SUCCESS", "root"), ("FAILED:unable to get local issuer certificate", None)}

    def install(i: int) -> None:
        fssl.install(sctx, foreign if i % 2 else trusting, mode="record",
                     session_cache_size=64 * (i % 3), send_ca_names=i % 4 < 2)  # fmt: skip

    def worker(k: int) -> Counter[tuple[str, str | None]]:
        seen: Counter[tuple[str, str | None]] = Counter()
        sessions: list[ssl.SSLSession | None] = [None, None]  # per client context
        for i in range(300):
            c = (i + k) % 2
            pair = th.bio_handshake(sctx, cctxs[c], session=sessions[c], close=True)
            assert pair.ok, pair.errors
            res = pair.result()
            state = (res.status, res.anchor_name)
            assert state in allowed, state
            sessions[c] = pair.client.session if i % 3 < 2 else None  # resume now and then
            seen[state] += 1
        return seen

    totals, installs = _while_installing(install, worker, 3)
    assert sum(totals.values()) == 900
    assert installs > 10, installs
    assert len(totals) == 2, totals  # both verifiers answered


def test_result_from_threads_while_reinstalling(live: LivePKI) -> None:
    """result() of one connection from several threads at once while install() swaps the
    context's hook: each call gets a whole answer of one of the verifiers (a result computed by
    a replaced hook is verified again for the caller, never swapped under another reader)."""
    trusting, foreign = root_verifier(live), th.make_verifier(("other", live.other))
    sctx = th.server_context(live, trusting, "record")
    pairs = [th.bio_handshake(sctx, th.client_context(live, "good", version=ver))
             for ver in VERSIONS]  # fmt: skip
    allowed = {("SUCCESS", "root"), ("FAILED:unable to get local issuer certificate", None)}
    good = live.clients["good"].der

    def reader(k: int) -> Counter[tuple[str, str | None]]:
        seen: Counter[tuple[str, str | None]] = Counter()
        for i in range(300):
            res = pairs[(i + k) % 2].result()
            assert (res.status, res.anchor_name) in allowed, res.status
            assert res.presented_chain[0] == good
            seen[(res.status, res.anchor_name)] += 1
        return seen

    def install(i: int) -> None:
        fssl.install(sctx, foreign if i % 2 == 0 else trusting, mode="record")

    totals, _ = _while_installing(install, reader, 4)
    assert sum(totals.values()) == 1200 and len(totals) == 2, totals


def test_result_from_threads_during_first_client_hellos(live: LivePKI) -> None:
    """result() read on other threads while each connection's first ClientHello is processed,
    when the hook makes its first SSL_set_ex_data stores on the connection (which can grow, so
    move, the SSL's ex_data storage that result() reads): every answer is whole ("not started",
    NONE, or the handshake's own SUCCESS) and every handshake gets its result. Those stores were
    made without the lock result() reads under, so a reader could read the array freed. This
    test does not fail here without the fix: the freed read happens inside the ssl module's
    libcrypto (SSL_get_ex_data), which AddressSanitizer checks only in a Python whose OpenSSL
    is built with it (then tools/sanitize.sh --asan -k this test); otherwise the test exercises
    the path, and the race would show only as a rare wrong answer or crash."""
    sctx = th.server_context(live, root_verifier(live), "record")
    cctxs = [th.client_context(live, "good", version=ver) for ver in VERSIONS]
    pairs = [th.BioPair.open(sctx, cctxs[i % 2]) for i in range(300)]
    current = [0]
    stop = threading.Event()

    def reader() -> Counter[str]:
        seen = Counter[str]()
        while not stop.is_set():
            pair = pairs[current[0]]
            try:
                seen[pair.result().status] += 1
            except fastmtls.ConfigurationError:
                seen["not started"] += 1
        return seen

    with ThreadPoolExecutor(3) as pool:
        readers = [pool.submit(reader) for _ in range(3)]
        try:
            for i, pair in enumerate(pairs):
                current[0] = i
                pair.handshake()
        finally:
            stop.set()
        seen = sum((r.result() for r in readers), Counter[str]())
    assert set(seen) <= {"not started", "NONE", "SUCCESS"}, seen
    assert all(p.ok and p.result().status == "SUCCESS" for p in pairs)


def test_tls12_session_id_resumption_issuing_tickets_from_threads(live: LivePKI) -> None:
    """A TLS 1.2 session cached by ID (issued while the server sent no tickets), resumed by
    several threads at once by a client that offers an empty ticket, so that each resumption
    also issues a ticket: OpenSSL writes that ticket from the shared, cached SSL_SESSION, which
    the hook must not modify. Every resumption verifies the chain again, and the tickets they
    issue carry the chain: resuming by one of them is verified too."""
    sctx = th.server_context(live, root_verifier(live), "record")
    sctx.options |= ssl.OP_NO_TICKET
    cctx = th.client_context(live, "good", version="1.2")  # tickets on: offers an empty one
    first = th.bio_handshake(sctx, cctx, close=True)
    assert first.ok and first.result().status == "SUCCESS"
    session = first.client.session
    assert session is not None and not session.has_ticket
    sctx.options &= ~ssl.OP_NO_TICKET  # from now on the server issues tickets

    def resume(_: int) -> ssl.SSLSession | None:
        last = None
        for _ in range(60):
            pair = th.bio_handshake(sctx, cctx, session=session, close=True)
            assert pair.ok and pair.server.session_reused, pair.errors
            res = pair.result()
            assert (res.status, res.anchor_name) == ("SUCCESS", "root")
            assert res.presented_chain[0] == live.clients["good"].der
            last = pair.client.session
        return last

    with ThreadPoolExecutor(4) as pool:
        tickets = list(pool.map(resume, range(4)))
    ticket = tickets[0]
    assert ticket is not None and ticket.has_ticket
    by_ticket = th.bio_handshake(sctx, cctx, session=ticket)
    assert by_ticket.ok and by_ticket.server.session_reused
    res = by_ticket.result()
    assert (res.status, res.anchor_name) == ("SUCCESS", "root")
    assert res.presented_chain[0] == live.clients["good"].der


# ---- asyncio --------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_asyncio_server(live: LivePKI, version: str) -> None:
    """asyncio.start_server: result() of the writer's transport/ssl_object, per connection."""
    sctx = th.server_context(live, root_verifier(live), "record")
    names = ["good", "expired", None, "foreign"]

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        res = fssl.result(writer.transport)
        same = fssl.result(writer.get_extra_info("ssl_object"))
        assert same.status == res.status
        answer = {"status": res.status, "subject": res.fields()["cert_subject_dn"]}
        writer.write(json.dumps(answer).encode())
        await writer.drain()
        writer.close()

    async def client(port: int, name: str | None) -> dict[str, Any]:
        cctx = th.client_context(live, name, version=version)
        reader, writer = await asyncio.open_connection(
            th.HOST, port, ssl=cctx, server_hostname="localhost"
        )
        data = await reader.read()
        writer.close()
        answer: dict[str, Any] = json.loads(data)
        return answer

    async def main() -> list[dict[str, Any]]:
        server = await asyncio.start_server(handle, th.HOST, 0, ssl=sctx)
        port = server.sockets[0].getsockname()[1]
        async with server:
            return list(await asyncio.gather(*(client(port, n) for n in names)))

    answers = asyncio.run(asyncio.wait_for(main(), 30))
    assert [a["status"] for a in answers] == [
        "SUCCESS",
        "FAILED:certificate has expired",
        "NONE",
        "FAILED:unable to get local issuer certificate",
    ]
    assert [a["subject"] for a in answers] == [live.subject(n) if n else "" for n in names]


def test_asyncio_transport_before_its_handshake(live: LivePKI) -> None:
    """An asyncio TLS transport gives its TLS object out only once the handshake is done:
    before, result() says so (it said it needs a TLS transport, which it had been given)."""
    from asyncio import sslproto

    async def check() -> None:
        loop = asyncio.get_running_loop()
        sctx = th.server_context(live, root_verifier(live), "record")
        proto = sslproto.SSLProtocol(loop, asyncio.Protocol(), sctx, loop.create_future(),
                                     server_side=True)  # fmt: skip
        with pytest.raises(fastmtls.ConfigurationError, match="handshake has not finished"):
            fssl.result(proto._app_transport)
        with pytest.raises(fastmtls.ConfigurationError, match=r"needs an ssl\.SSLSocket"):
            fssl.result(object())

    asyncio.run(check())


def test_asyncio_enforce(live: LivePKI) -> None:
    """asyncio in enforce mode: the expired client gets nothing, the handler never runs."""
    sctx = th.server_context(live, root_verifier(live), "enforce")
    handled: list[str] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handled.append(fssl.result(writer.transport).status)
        writer.write(b"hello")
        await writer.drain()
        writer.close()

    async def main() -> tuple[bytes, bytes]:
        server = await asyncio.start_server(handle, th.HOST, 0, ssl=sctx)
        port = server.sockets[0].getsockname()[1]
        async with server:
            reader, writer = await asyncio.open_connection(
                th.HOST, port, ssl=th.client_context(live, "good"), server_hostname="localhost"
            )
            good = await reader.read()
            writer.close()
            bad = b"refused"
            try:
                reader, writer = await asyncio.open_connection(
                    th.HOST, port, ssl=th.client_context(live, "expired"),
                    server_hostname="localhost",
                )  # fmt: skip
                bad = await reader.read()  # asyncio reports the TLS 1.3 alert as EOF
                writer.close()
            except (ssl.SSLError, OSError):
                pass
            return good, bad

    good, bad = asyncio.run(asyncio.wait_for(main(), 30))
    assert good == b"hello" and bad in (b"", b"refused")
    assert handled == ["SUCCESS"]


# ---- uvicorn --------------------------------------------------------------------------------


def test_uvicorn_wrappers_pickle_for_worker_processes() -> None:
    """uvicorn sends its configuration to worker processes (workers=N) pickled: a wrapper
    pickles as the wrapper of its base, found again in this process and made again in a new one
    (it failed: "attribute lookup FastMTLSH11Protocol on fastmtls.asgi failed"; then a table of
    uvicorn's protocols left out websockets-sansio; found by reviews)."""
    pytest.importorskip("uvicorn")
    pytest.importorskip("wsproto")
    import os
    import pickle
    import subprocess
    import sys

    from uvicorn.protocols.http.h11_impl import H11Protocol
    from uvicorn.protocols.websockets.wsproto_impl import WSProtocol

    import fastmtls.asgi

    made = fastmtls.asgi.uvicorn_protocol()
    assert made is fastmtls.asgi.uvicorn_protocol(H11Protocol)  # one class per base
    ws = fastmtls.asgi.uvicorn_protocol(WSProtocol)
    data = pickle.dumps([made, ws])
    assert pickle.loads(data) == [made, ws]
    code = ("import pickle, sys\n"
            "for c in pickle.loads(sys.stdin.buffer.read()): print(c.__name__, c.__mro__[1])")
    src = Path(fastmtls.__file__).resolve().parent.parent  # this fastmtls, also uninstalled
    out = subprocess.run([sys.executable, "-c", code], input=data, capture_output=True,
                         check=True, env={**os.environ, "PYTHONPATH": str(src)})  # fmt: skip
    assert out.stdout.decode().splitlines() == [
        f"FastMTLSH11Protocol {H11Protocol}", f"FastMTLSWSProtocol {WSProtocol}"]


def test_uvicorn_connection_without_a_result_never_reaches_the_app(live: LivePKI) -> None:
    """A connection with no result (a server without TLS, or a context without the hook) is
    aborted before any request of it reaches the app (uvicorn served its requests without the
    result, which an app reading scope["extensions"].get("fastmtls") took for none; found by
    review)."""
    uvicorn = pytest.importorskip("uvicorn")
    import fastmtls.asgi

    calls = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        calls.append(scope["type"])

    for tls in (False, True):
        kw = ({"ssl_certfile": live.file("server.pem"), "ssl_keyfile": live.key_file("server")}
              if tls else {})  # fmt: skip
        config = uvicorn.Config(app, http=fastmtls.asgi.uvicorn_protocol(), lifespan="off",
                                log_level="critical", **kw)  # fmt: skip
        with _uvicorn_serving(uvicorn, config) as port:
            with socket.create_connection((th.HOST, port), timeout=10) as raw:
                cctx = th.client_context(live, "good")
                conn = cctx.wrap_socket(raw, server_hostname="localhost") if tls else raw
                try:
                    conn.sendall(th.HTTP_GET)
                    assert conn.recv(4096) == b""  # closed, unanswered
                except (ssl.SSLError, OSError):
                    pass  # reset
    assert calls == []


def test_scope_result_without_the_protocol_names_the_fix() -> None:
    """An ASGI scope without the result (the app served without fastmtls.asgi's protocol) is a
    ConfigurationError saying how to serve it, never a KeyError."""
    import fastmtls.asgi

    for scope in ({"type": "http"}, {"type": "http", "extensions": None},
                  {"type": "http", "extensions": {"fastmtls": "SUCCESS"}}):  # fmt: skip
        with pytest.raises(fastmtls.ConfigurationError, match="uvicorn_protocol"):
            fastmtls.asgi.scope_result(scope)
    with pytest.raises(fastmtls.ConfigurationError, match="lifespan scope belongs to no conn"):
        fastmtls.asgi.scope_result({"type": "lifespan"})


@pytest.mark.parametrize(("setup", "http"), [("load", "h11"), ("factory", "h11"),
                                             ("factory", "httptools")])
def test_uvicorn_app_sees_result(live: LivePKI, setup: str, http: str) -> None:
    """uvicorn (hook on its own SSLContext): the ASGI app reads each connection's result with
    fastmtls.asgi (uvicorn puts no transport, nor the TLS extension, in the scope), with either
    of uvicorn's HTTP protocols."""
    uvicorn = pytest.importorskip("uvicorn")
    import fastmtls.asgi

    base: Any = None
    if http == "httptools":
        pytest.importorskip("httptools")
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        base = HttpToolsProtocol

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        res = fastmtls.asgi.scope_result(scope)
        body = json.dumps({"status": res.status, "revoked": res.revoked,
                           "subject": res.fields()["cert_subject_dn"]}).encode()  # fmt: skip
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})  # fmt: skip
        await send({"type": "http.response.body", "body": body})

    v = root_verifier(live)
    v.revocations = live.revocations("revocable")
    kw: dict[str, Any] = {}
    if setup == "factory":  # newer uvicorn: a hook for the SSLContext it builds
        if "ssl_context_factory" not in inspect.signature(uvicorn.Config).parameters:
            pytest.skip("this uvicorn has no ssl_context_factory")

        def factory(config: Any, default: Any) -> ssl.SSLContext:
            ctx: ssl.SSLContext = default()
            fssl.install(ctx, v, mode="record")
            return ctx

        kw["ssl_context_factory"] = factory
    config = uvicorn.Config(
        app,
        http=fastmtls.asgi.uvicorn_protocol(base),
        ssl_certfile=live.file("server.pem"),
        ssl_keyfile=live.key_file("server"),
        lifespan="off",
        log_level="warning",
        **kw,
    )
    if setup == "load":  # any uvicorn: load() builds config.ssl, the context it serves with
        config.load()
        fssl.install(config.ssl, v, mode="record")
    got = {}
    with _uvicorn_serving(uvicorn, config) as port:
        for name in ("good", "expired", "revocable", None):
            out = th.https_get(port, th.client_context(live, name))
            assert out.error is None and out.body is not None, out.error
            got[name] = (out.body["status"], out.body["revoked"], out.body["subject"])
    assert got == _uvicorn_expected(live)


def _uvicorn_expected(live: LivePKI) -> dict[str | None, tuple[str, bool, str]]:
    return {
        "good": ("SUCCESS", False, live.subject("good")),
        "expired": ("FAILED:certificate has expired", False, live.subject("expired")),
        "revocable": ("SUCCESS", True, live.subject("revocable")),
        None: ("NONE", False, ""),
    }


@contextlib.contextmanager
def _uvicorn_serving(uvicorn: Any, config: Any) -> Iterator[int]:
    """Run ``config`` in a uvicorn server thread on a free port; yields the port."""
    server = uvicorn.Server(config)
    sock = socket.create_server((th.HOST, 0))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert server.started
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


def _websocket_text(port: int, cctx: ssl.SSLContext) -> str:
    """Open a WebSocket over TLS (RFC 6455 upgrade) and return the first text message."""
    with socket.create_connection((th.HOST, port), timeout=10) as raw, \
            cctx.wrap_socket(raw, server_hostname="localhost") as tls:
        tls.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    b"Sec-WebSocket-Version: 13\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = tls.recv(4096)
            assert chunk, data
            data += chunk
        head, _, data = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head

        def take(n: int) -> bytes:
            nonlocal data
            while len(data) < n:
                chunk = tls.recv(4096)
                assert chunk, "connection closed mid-frame"
                data += chunk
            out, data = data[:n], data[n:]
            return out

        b0, b1 = take(2)
        assert b0 & 0x0F == 1 and not b1 & 0x80  # a text frame, unmasked (server to client)
        n = b1 & 0x7F
        if n >= 126:
            n = int.from_bytes(take(2 if n == 126 else 8), "big")
        return take(n).decode()


def test_uvicorn_websocket_sees_result(live: LivePKI) -> None:
    """A WebSocket route reads its connection's result too: the same wrapper as uvicorn's ws
    protocol (the HTTP protocol hands an upgraded connection to a fresh ws protocol)."""
    uvicorn = pytest.importorskip("uvicorn")
    pytest.importorskip("wsproto")
    from uvicorn.protocols.websockets.wsproto_impl import WSProtocol

    import fastmtls.asgi

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "websocket"
        res = fastmtls.asgi.scope_result(scope)
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": json.dumps(
            [res.status, res.revoked, res.fields()["cert_subject_dn"]])})
        await send({"type": "websocket.close"})

    v = root_verifier(live)
    v.revocations = live.revocations("revocable")
    config = uvicorn.Config(app, http=fastmtls.asgi.uvicorn_protocol(),
                            ws=fastmtls.asgi.uvicorn_protocol(WSProtocol),
                            ssl_certfile=live.file("server.pem"),
                            ssl_keyfile=live.key_file("server"), lifespan="off",
                            log_level="warning")  # fmt: skip
    config.load()
    fssl.install(config.ssl, v, mode="record")
    with _uvicorn_serving(uvicorn, config) as port:
        got = {name: tuple(json.loads(_websocket_text(port, th.client_context(live, name))))
               for name in ("good", "expired", "revocable", None)}  # fmt: skip
    assert got == _uvicorn_expected(live)


# ---- bugs -----------------------------------------------------------------------------------


def test_result_after_many_store_changes(live: LivePKI) -> None:
    """A long-lived connection's result is read with its own store after 81 store changes."""
    v = th.make_verifier(("zzz", live.other), ("root", live.root))
    pair = th.bio_handshake(th.server_context(live, v, "record"), th.client_context(live, "good"))
    assert pair.result().anchor_name == "root"
    for _ in range(40):
        v.store.remove("zzz")
        v.store.add_der(live.other.der, name="zzz")
    v.store.remove("zzz")
    res = pair.result()
    assert res.status == "SUCCESS"
    assert res.anchor_name == "root"
    assert len(res.chain) == 3 and res.fields()["cert_issuer_dn"] == "CN=Live Client CA"


def _sni_switching_server(
    live: LivePKI, default_mode: str | None, switched_mode: str, default_trust: str = "root"
) -> ssl.SSLContext:
    """A server context (hooked in ``default_mode`` with a verifier trusting ``default_trust``,
    or not at all) whose sni_callback moves connections for b.example to a second context
    hooked in ``switched_mode`` with a verifier trusting the live root."""
    verifier = th.make_verifier((default_trust, live.cas[default_trust]))
    default = th.server_context(live, verifier if default_mode else None, default_mode or "record")
    switched = th.server_context(live, root_verifier(live), switched_mode)

    th.route_b_example(default, switched)
    return default


@pytest.mark.parametrize("version", VERSIONS)
def test_sni_callback_switch_keeps_result_on_resumption(live: LivePKI, version: str) -> None:
    """Record mode: a ticket resumed after an sni_callback switch is verified by that context
    (TLS 1.3; a TLS 1.2 session the switch placed makes a full handshake, verified there:
    _no_ticket_follows)."""
    sctx = _sni_switching_server(live, "record", "record", default_trust="other")
    cctx = th.client_context(live, "good", version=version)
    first = th.bio_handshake(sctx, cctx, hostname="b.example")
    assert first.ok and (first.result().status, first.result().anchor_name) == ("SUCCESS", "root")
    again = th.bio_handshake(sctx, cctx, hostname="b.example", session=first.client.session)
    assert again.ok and again.server.session_reused == (version == "1.3")
    assert (again.result().status, again.result().anchor_name) == ("SUCCESS", "root")


@pytest.mark.parametrize("version", VERSIONS)
def test_sni_callback_switch_resumes_by_session_id(live: LivePKI, version: str) -> None:
    """Session IDs after an sni_callback switch: OpenSSL keeps and looks up sessions with the
    callbacks of the accepting context, so the session goes into that context's cache (not the
    switched one's, where no lookup would find it). TLS 1.3 resumes it, verified again (the
    ticket the resumption issues lets the hook see where the callback moved it). TLS 1.2 runs
    nothing of the hook after the callback when no ticket follows (here: OP_NO_TICKET), so the
    callback could now move the name to an enforce-mode context that never verified the
    session: a session moved when it was made to a context that does not enforce (here record
    mode) makes a full handshake instead, verified by the context it lands on. (Sessions of an
    enforce-mode context resume: test_sni_switch_resumption_is_checked_by_the_context_that_...)"""
    sctx = _sni_switching_server(live, "record", "record", default_trust="other")
    sctx.options |= ssl.OP_NO_TICKET
    cctx = th.client_context(live, "good", version=version, tickets=False)
    first = th.bio_handshake(sctx, cctx, hostname="b.example", close=True)
    assert first.ok and (first.result().status, first.result().anchor_name) == ("SUCCESS", "root")
    again = th.bio_handshake(sctx, cctx, hostname="b.example", session=first.client.session)
    assert again.ok and again.server.session_reused == (version == "1.3")
    assert (again.result().status, again.result().anchor_name) == ("SUCCESS", "root")


@pytest.mark.parametrize("how", RESUME)
@pytest.mark.parametrize("version", VERSIONS)
def test_sni_switch_from_a_plain_listening_context_never_resumes_unverified(
    live: LivePKI, version: str, how: str
) -> None:
    """A plain (unhooked) listening context whose sni_callback moves b.example to a hooked
    enforce-mode context decides resumption itself, before the switch, with OpenSSL's own
    ticket keys and session cache, which would restore the session without the hook. The hook
    therefore gives the sessions it verified a session ID context of its own: the plain context
    never resumes them, the client makes a full handshake, and a certificate revoked since then
    fails."""
    v = root_verifier(live)
    switched = th.server_context(live, v, "enforce")
    default = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    default.load_cert_chain(live.file("server.pem"), live.key_file("server"))
    if how == "session-id":
        default.options |= ssl.OP_NO_TICKET

    th.route_b_example(default, switched)
    cctx = th.resuming_client(live, "revocable", version, how)
    first = th.bio_handshake(default, cctx, hostname="b.example", close=True)
    assert first.ok and first.result().status == "SUCCESS" and first.client.session is not None
    again = th.bio_handshake(default, cctx, hostname="b.example", session=first.client.session,
                             close=True)  # fmt: skip
    assert again.ok and not again.server.session_reused
    assert again.result().status == "SUCCESS"  # verified in a full handshake, not restored
    v.revocations = live.revocations("revocable")
    after = th.bio_handshake(default, cctx, hostname="b.example", session=first.client.session,
                             close=True)  # fmt: skip
    assert not after.server.session_reused
    assert "sslv3 alert certificate revoked" in (after.client_error or ""), after.client_error


# ---- HelloRetryRequest: the second ClientHello -----------------------------------------------


def _hrr_only(ctx: ssl.SSLContext) -> ssl.SSLContext:
    """``ctx``, made to answer a first ClientHello with a HelloRetryRequest (P-384 only)."""
    ctx.set_ecdh_curve("secp384r1")
    return ctx


def _listening(live: LivePKI, kind: str, switched: ssl.SSLContext) -> ssl.SSLContext:
    """A listening context of ``kind`` (hooked in record mode, guarded, or plain) whose
    sni_callback moves b.example to ``switched``."""
    if kind == "hooked":
        ctx = th.server_context(live, th.make_verifier(("other", live.cas["other"])), "record")
    else:
        ctx = th.server_context(live, None)
        if kind == "guard":
            fssl.guard(ctx)
    th.route_b_example(ctx, switched)
    return _hrr_only(ctx)


ILLEGAL_PARAMETER = "sslv3 alert illegal parameter"


@pytest.mark.parametrize(
    ("first", "second"),
    [("a.example", "b.example"), ("b.example", "a.example"), ("a.example", None),
     ("a.example", "A.example"), (None, "a.example")],
)  # fmt: skip
def test_hello_retry_with_another_server_name_is_refused(
    live: LivePKI, first: str | None, second: str | None
) -> None:
    """RFC 8446 4.1.2: the ClientHello after a HelloRetryRequest repeats the first one's server
    name. OpenSSL does not check, and the host whose CA associations apply is the second's: a
    client could have a.example's CAs chosen for b.example. The hook refuses the change."""
    store = fastmtls.TrustStore()
    store.add_der(live.root.der, name="root")
    store.add_der(live.cas["other"].der, name="other")
    store.associate("a.example", ["root"])
    store.associate("b.example", ["other"])
    sctx = _hrr_only(th.server_context(live, fastmtls.Verifier(store), "record"))
    cctx = th.client_context(live, "good", version="1.3")
    cctx.check_hostname = False
    pair = th.hrr_handshake(sctx, cctx, hostname=first, retry_hostname=second)
    assert ILLEGAL_PARAMETER in (pair.client_error or ""), pair.client_error
    assert pair.result().status == "NONE"
    same = th.hrr_handshake(sctx, cctx, hostname=first, retry_hostname=first)
    assert same.ok, same.errors
    foreign = "FAILED:unable to get local issuer certificate"  # b.example trusts "other" only
    assert same.result().status == (foreign if first == "b.example" else "SUCCESS")


@pytest.mark.parametrize("kind", ["hooked", "guard", "plain"])
@pytest.mark.parametrize("second", ["a.example", "c.example", None])
def test_hello_retry_cannot_leave_a_context_the_sni_callback_chose(
    live: LivePKI, kind: str, second: str | None
) -> None:
    """A listening context (hooked, guarded or plain) whose sni_callback moves b.example to an
    enforce-mode context: after a HelloRetryRequest the callback runs again on the second
    ClientHello's name, and one that moves only the names it serves would leave the connection
    in the enforcing context, verified for another host. The changed name is refused."""
    switched = _hrr_only(th.server_context(live, root_verifier(live), "enforce"))
    sctx = _listening(live, kind, switched)
    cctx = th.client_context(live, "good", version="1.3")
    cctx.check_hostname = False
    pair = th.hrr_handshake(sctx, cctx, hostname="b.example", retry_hostname=second)
    assert ILLEGAL_PARAMETER in (pair.client_error or ""), pair.client_error
    same = th.hrr_handshake(sctx, cctx, hostname="b.example", retry_hostname="b.example")
    assert same.ok and same.result().status == "SUCCESS", same.errors


@pytest.mark.parametrize("kind", ["hooked", "guard", "plain"])
@pytest.mark.parametrize("how", RESUME)
def test_hello_retry_never_resumes_a_revoked_session(live: LivePKI, kind: str, how: str) -> None:
    """A session of a connection moved to an enforce-mode context, offered again after its
    certificate was revoked, in a handshake with a HelloRetryRequest. The listening context
    decides resumption on each ClientHello; on the second, the connection carries the session ID
    context of the context it was moved to (SSL_set_SSL_CTX copies it), so a plain listener's
    own session cache and ticket keys would restore the session unverified. The hook gives such
    connections a context no session has: a full handshake, and the revocation fails it.
    (A plain listener that resumes a session of its own on the first ClientHello runs no hook
    callback: the known gap SECURITY.md names, closed by guard().)"""
    v = root_verifier(live)
    switched = th.server_context(live, v, "enforce")
    sctx = _listening(live, kind, switched)
    if how == "session-id":
        sctx.options |= ssl.OP_NO_TICKET
    cctx = th.resuming_client(live, "revocable", "1.3", how)
    first = th.bio_handshake(sctx, cctx, hostname="b.example", close=True)
    assert first.ok and first.result().status == "SUCCESS" and first.client.session is not None
    again = th.hrr_handshake(sctx, cctx, hostname="b.example", retry_hostname="b.example",
                             session=first.client.session)  # fmt: skip
    assert again.ok and again.result().status == "SUCCESS"
    v.revocations = live.revocations("revocable")
    after = th.hrr_handshake(sctx, cctx, hostname="b.example", retry_hostname="b.example",
                             session=first.client.session)  # fmt: skip
    assert not after.server.session_reused
    assert "sslv3 alert certificate revoked" in (after.client_error or ""), after.client_error


@pytest.mark.parametrize("how", RESUME)
def test_hello_retry_after_a_resumed_first_hello_on_a_guard(live: LivePKI, how: str) -> None:
    """A guarded listener whose sni_callback moves b.example to an enforce-mode context: the
    first ClientHello offers a session the listener made for a.example (which it may resume:
    no hooked context is involved), the second, after a HelloRetryRequest, a session of an
    earlier b.example connection whose certificate was revoked since. The guard checks the
    second offer against the hook that verified it: the revocation fails the handshake. (An
    unguarded plain listener would resume it: the gap SECURITY.md names.)"""
    v = root_verifier(live)
    switched = _hrr_only(th.server_context(live, v, "enforce"))
    sctx = _listening(live, "guard", switched)
    if how == "session-id":
        sctx.options |= ssl.OP_NO_TICKET
    cctx = th.resuming_client(live, "revocable", "1.3", how)
    cctx.check_hostname = False
    own = th.bio_handshake(sctx, cctx, hostname="a.example", close=True)
    moved = th.bio_handshake(sctx, cctx, hostname="b.example", close=True)
    assert own.ok and moved.ok and moved.result().status == "SUCCESS"
    v.revocations = live.revocations("revocable")
    lib = ctypes.CDLL(fssl._library_path())
    lib.SSL_set_session.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    # PySSLSession: PyObject_HEAD, then its SSL_SESSION * (`held` keeps it alive until used)
    held = moved.client.session
    assert held is not None

    def offer_the_revoked_session(pair: th.BioPair) -> None:
        client_ssl = int(ffi.cast("uintptr_t", fssl._ssl_pointer(pair.client._sslobj)))
        revoked = ctypes.c_void_p.from_address(id(held) + fssl._HEAD).value
        assert lib.SSL_set_session(client_ssl, revoked) == 1  # takes its own reference

    pair = th.hrr_handshake(sctx, cctx, hostname="b.example", retry_hostname="b.example",
                            session=own.client.session,
                            before_retry=offer_the_revoked_session)  # fmt: skip
    assert not (pair.ok and pair.server.session_reused)
    assert "certificate revoked" in (pair.client_error or ""), pair.client_error


@pytest.mark.parametrize("default_mode", [None, "record"])
@pytest.mark.parametrize("version", VERSIONS)
def test_sni_callback_switch_to_enforce_context_enforces(
    live: LivePKI, version: str, default_mode: str | None
) -> None:
    """A context chosen by sni_callback in enforce mode refuses a client without a certificate
    and an expired one, and accepts a good one, whether the listening context is plain or
    hooked in record mode (the hook's certificate callback applies the switched context's verify
    mode: OpenSSL's SSL_set_SSL_CTX does not)."""
    sctx = _sni_switching_server(live, default_mode, "enforce")
    none = th.bio_handshake(sctx, th.client_context(live, None, version=version),
                            hostname="b.example")  # fmt: skip
    if version == "1.3":
        assert "tlsv13 alert certificate required" in (none.client_error or "")
    else:
        assert not none.ok and none.errors["server"] is not None, "TLS 1.2: the server refuses"
    expired = th.bio_handshake(sctx, th.client_context(live, "expired", version=version),
                               hostname="b.example")  # fmt: skip
    assert "sslv3 alert certificate expired" in (expired.client_error or "")
    good = th.bio_handshake(sctx, th.client_context(live, "good", version=version),
                            hostname="b.example")  # fmt: skip
    assert good.ok and good.result().status == "SUCCESS"
    # the listening context's own hosts keep its mode: record mode lets a certificate-less client in
    other = th.bio_handshake(sctx, th.client_context(live, None, version=version),
                             hostname="a.example")  # fmt: skip
    assert other.ok
    if default_mode == "record":
        assert other.result().status == "NONE"


@pytest.mark.parametrize("version", VERSIONS)
def test_sni_callback_switch_to_record_context_records(live: LivePKI, version: str) -> None:
    """The other way round: an enforce-mode listening context whose sni_callback moves b.example
    to a record-mode context lets a client without a certificate complete there (result NONE),
    while its own hosts still refuse one."""
    sctx = _sni_switching_server(live, "enforce", "record")
    switched = th.bio_handshake(sctx, th.client_context(live, None, version=version),
                                hostname="b.example")  # fmt: skip
    assert switched.ok and switched.result().status == "NONE"
    own = th.bio_handshake(sctx, th.client_context(live, None, version=version),
                           hostname="a.example")  # fmt: skip
    assert not own.ok


@pytest.mark.parametrize("how", RESUME)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("version", VERSIONS)
def test_session_resumes_only_under_its_server_name(
    live: LivePKI, tenant_verifier: fastmtls.Verifier, version: str, mode: str, how: str
) -> None:
    """A session made at a.example (ca-a) offered with SNI b.example (only ca-b) does not resume
    (RFC 6066 3): a full handshake applies b.example's CAs and fails (record: FAILED, enforce:
    unknown CA). Under its own name it still resumes."""
    sctx = _resuming_server(live, tenant_verifier, mode, how)
    cctx = th.resuming_client(live, "from_a", version, how)
    first = th.bio_handshake(sctx, cctx, hostname="a.example", close=True)
    assert first.ok and first.result().status == "SUCCESS"
    other = th.bio_handshake(sctx, cctx, hostname="b.example", session=first.client.session,
                             close=True)  # fmt: skip
    assert not other.server.session_reused
    if mode == "record":
        assert other.ok
        assert other.result().status == "FAILED:unable to get local issuer certificate"
    else:
        assert "tlsv1 alert unknown ca" in (other.client_error or ""), other.client_error
    own = th.bio_handshake(sctx, cctx, hostname="a.example", session=first.client.session,
                           close=True)  # fmt: skip
    assert own.ok and own.server.session_reused
    assert (own.result().status, own.result().anchor_name) == ("SUCCESS", "ca-a")


@pytest.mark.parametrize("how", RESUME)
@pytest.mark.parametrize("version", VERSIONS)
def test_resumed_session_keeps_its_hosts_ca_associations(
    live: LivePKI, tenant_verifier: fastmtls.Verifier, version: str, how: str
) -> None:
    """Record mode: a ca-a client fails at b.example; resuming that session at b.example is
    verified for b.example again (OpenSSL decrypts a ticket before it parses the SNI: the hook
    reads the name from the ClientHello itself), so it still fails rather than pass for a
    connection without a host."""
    sctx = _resuming_server(live, tenant_verifier, "record", how)
    cctx = th.resuming_client(live, "from_a", version, how)
    first = th.bio_handshake(sctx, cctx, hostname="b.example", close=True)
    assert first.result().status == "FAILED:unable to get local issuer certificate"
    again = th.bio_handshake(sctx, cctx, hostname="b.example", session=first.client.session,
                             close=True)  # fmt: skip
    assert again.ok and again.server.session_reused
    assert again.result().status == "FAILED:unable to get local issuer certificate"


@pytest.mark.parametrize("how", RESUME)
@pytest.mark.parametrize("version", VERSIONS)
def test_sni_switch_resumption_is_checked_by_the_context_that_verified_it(
    live: LivePKI, version: str, how: str
) -> None:
    """Enforce-mode listening context trusting only "other", switching b.example to an
    enforce-mode context trusting the live root. OpenSSL runs the listening context's
    resumption callbacks before the switch; the hook verifies the session again with the
    verifier of the context that verified it first: a good b.example session resumes (the
    listening verifier would refuse it), a foreign one made at a.example does not resume at
    b.example, and a revocation in the switched context's verifier stops resumption."""
    listening = th.server_context(live, th.make_verifier(("other", live.other)), "enforce")
    v = root_verifier(live)
    switched = th.server_context(live, v, "enforce")

    th.route_b_example(listening, switched)
    if how == "session-id":
        listening.options |= ssl.OP_NO_TICKET
    foreign = th.resuming_client(live, "foreign", version, how)
    first = th.bio_handshake(listening, foreign, hostname="a.example", close=True)
    assert first.ok and first.result().anchor_name == "other"
    moved = th.bio_handshake(listening, foreign, hostname="b.example",
                             session=first.client.session, close=True)  # fmt: skip
    assert not moved.server.session_reused
    assert "tlsv1 alert unknown ca" in (moved.client_error or ""), moved.client_error

    cctx = th.resuming_client(live, "revocable", version, how)
    good = th.bio_handshake(listening, cctx, hostname="b.example", close=True)
    assert good.ok and good.result().anchor_name == "root"
    if _no_ticket_follows(version, how):
        _full_handshake_instead(listening, cctx, good.client.session)
        return
    again = _resumes_until_revoked(live, listening, cctx, good.client.session, v)
    assert again.server.context is switched and again.result().anchor_name == "root"


def _no_ticket_follows(version: str, how: str) -> bool:
    """Whether a moved session (one an sni_callback placed on another context than the
    listening one) may resume without a ticket surely following: TLS 1.2, whose ticket the
    context it lands on decides on after the switch (its security level, its callback; OpenSSL
    3.0 sends a TLS 1.3 ticket after every resumption). It never does: the callback could now
    move its name to another enforce-mode context. A full handshake verifies it where it lands
    (the TLS 1.2 ticket case resumed until a review found landing contexts at security level 3
    or more that issue none)."""
    del how  # (TLS 1.2 tickets and session IDs alike)
    return version == "1.2"


def _resumes_until_revoked(
    live: LivePKI,
    listening: ssl.SSLContext,
    cctx: ssl.SSLContext,
    session: ssl.SSLSession | None,
    verifier: fastmtls.Verifier,
) -> th.BioPair:
    """The "revocable" client's b.example ``session`` resumes, verified again (SUCCESS); once
    ``verifier`` revokes the client it no longer does, and the full handshake fails with
    certificate_revoked. Returns the resumed connection."""
    again = th.bio_handshake(listening, cctx, hostname="b.example", session=session, close=True)
    assert again.ok and again.server.session_reused and again.result().status == "SUCCESS"
    verifier.revocations = live.revocations("revocable")
    after = th.bio_handshake(listening, cctx, hostname="b.example", session=session, close=True)
    assert not after.server.session_reused
    assert "sslv3 alert certificate revoked" in (after.client_error or ""), after.client_error
    return again


@pytest.mark.parametrize("how", RESUME)
@pytest.mark.parametrize("version", VERSIONS)
def test_resumption_moved_to_another_enforce_context_fails(live: LivePKI, version: str,
                                                           how: str) -> None:  # fmt: skip
    """Should an sni_callback map a server name to another context than the one whose hook
    verified the session (a configuration change between handshakes), a resumption that lands
    on an enforce-mode context that would refuse the chain does not pass: it fails when that
    context would issue its next ticket (TLS 1.3; TLS 1.2 tickets, which are renewed for it), or
    makes a full handshake there (TLS 1.2 session IDs, no ticket following, of a context that
    did not enforce). TLS 1.2 used to resume either way."""
    listening = th.server_context(live, th.make_verifier(("other", live.other)), "record")
    first_ctx = th.server_context(live, th.make_verifier(("other", live.other)), "record")
    later_ctx = th.server_context(live, th.make_verifier(("other", live.other)), "enforce")
    if how == "session-id":
        listening.options |= ssl.OP_NO_TICKET
    target = [first_ctx]

    th.route_b_example(listening, lambda: target[0])
    cctx = th.resuming_client(live, "good", version, how)
    first = th.bio_handshake(listening, cctx, hostname="b.example", close=True)
    assert first.ok and first.result().status == "FAILED:unable to get local issuer certificate"
    target[0] = later_ctx
    again = th.bio_handshake(listening, cctx, hostname="b.example", session=first.client.session,
                             close=True)  # fmt: skip
    assert not again.ok and again.errors["server"] is not None


# How a session resumes when the context it lands on decides nothing of the hook's: TLS 1.2 by
# session ID without tickets, or at security level 3 (OpenSSL issues no tickets there, whatever
# the client offers); TLS 1.3 by session ID (OP_NO_TICKET) or ticket on a listening context
# that issues no tickets (num_tickets = 0), so that none follows the resumption.
UNWATCHED = ("1.2 session-id", "1.2 seclevel3", "1.3 session-id", "1.3 ticket")


def _unwatched_listener(listening: ssl.SSLContext, how: str) -> None:
    """Makes ``listening`` resume sessions as ``how`` (an UNWATCHED mode) says."""
    if how == "session-id":
        listening.options |= ssl.OP_NO_TICKET
    elif how == "seclevel3":
        listening.set_ciphers("DEFAULT:@SECLEVEL=3")


@pytest.mark.parametrize("resume", UNWATCHED)
@pytest.mark.parametrize("listener", ["hooked", "guard"])
@pytest.mark.parametrize("first", ["plain", "record"])
def test_resumption_without_a_ticket_following_moved_to_an_enforce_context(
    live: LivePKI, first: str, listener: str, resume: str
) -> None:
    """test_resumption_moved_to_another_enforce_context_fails where no ticket follows the
    resumption (nothing of the hook runs after the sni_callback then) and the session was made
    on a context that does not enforce: in record mode, or without a hook at all (a plain
    context the callback moved the name to, whose sessions name no hooked context). Once the
    callback maps the name to an enforce-mode context, a client without a certificate must not
    resume there: the session makes a full handshake, which that context refuses. A session of
    a plain context used to resume (TLS 1.2 session IDs; any TLS 1.3 session, as one of a
    record-mode context did, when the listening context issues no tickets; and at security
    level 3, where OpenSSL issues no TLS 1.2 tickets, any TLS 1.2 session, found by review)."""
    version, how = resume.split()
    listening = th.server_context(
        live, None if listener == "guard" else th.make_verifier(("other", live.other)), "record"
    )
    if listener == "guard":
        fssl.guard(listening)
    _unwatched_listener(listening, how)
    if first == "plain":
        first_ctx = th.server_context(live, None)  # asks for no certificate
    else:
        first_ctx = th.server_context(live, th.make_verifier(("other", live.other)), "record")
    later_ctx = th.server_context(live, root_verifier(live), "enforce")
    target = [first_ctx]

    th.route_b_example(listening, lambda: target[0])
    # (at security level 3 the client offers tickets: it is sent none, resumes by session ID)
    anon = th.resuming_client(live, None, version, "ticket" if how == "seclevel3" else how)
    made = th.bio_handshake(listening, anon, hostname="b.example", close=True)
    assert made.ok and made.client.session is not None
    again = th.bio_handshake(listening, anon, hostname="b.example", session=made.client.session,
                             close=True)  # fmt: skip
    # unchanged, TLS 1.3 resumes (the ticket that follows lets the hook see where it landed);
    # TLS 1.2 without one makes a full handshake: the callback could have moved the name
    assert again.ok and again.server.session_reused == (version == "1.3")
    target[0] = later_ctx  # b.example now requires client certificates
    if version == "1.3":
        listening.num_tickets = 0
    moved = th.bio_handshake(listening, anon, hostname="b.example", session=made.client.session,
                             close=True)  # fmt: skip
    assert not moved.ok and not moved.server.session_reused
    assert moved.server.context is later_ctx
    assert "peer did not return a certificate" in str(moved.errors["server"]), moved.errors
    good = th.bio_handshake(listening, th.resuming_client(live, "good", version, how),
                            hostname="b.example", close=True)  # fmt: skip
    assert good.ok and good.result().status == "SUCCESS"


@pytest.mark.parametrize("resume", UNWATCHED)
def test_resumption_without_a_ticket_following_moved_between_enforce_contexts(
    live: LivePKI, resume: str
) -> None:
    """A session an enforce-mode context verified (trusting the "other" CA) for b.example, once
    the sni_callback maps b.example to another enforce-mode context (trusting only "root"):
    without a ticket following, the resumption used to pass on the later context, its chain
    verified again by the first context's hook only (found by review). It makes a full
    handshake now, which the later context refuses as it refuses a new connection."""
    version, how = resume.split()
    listening = th.server_context(live, th.make_verifier(("other", live.other)), "record")
    _unwatched_listener(listening, how)
    first_ctx = th.server_context(live, th.make_verifier(("other", live.other)), "enforce")
    later_ctx = th.server_context(live, root_verifier(live), "enforce")
    target = [first_ctx]
    th.route_b_example(listening, lambda: target[0])
    foreign = th.resuming_client(live, "foreign", version,
                               "ticket" if how == "seclevel3" else how)  # fmt: skip
    made = th.bio_handshake(listening, foreign, hostname="b.example", close=True)
    assert made.ok and made.result().status == "SUCCESS", made.errors
    target[0] = later_ctx
    if version == "1.3":
        listening.num_tickets = 0
    moved = th.bio_handshake(listening, foreign, hostname="b.example",
                             session=made.client.session, close=True)  # fmt: skip
    assert not moved.ok and not moved.server.session_reused
    assert moved.server.context is later_ctx
    assert "unable to get local issuer" in str(moved.errors["server"]), moved.errors


@pytest.mark.parametrize("how", RESUME)
@pytest.mark.parametrize("version", VERSIONS)
def test_guarded_plain_listening_context(live: LivePKI, version: str, how: str) -> None:
    """A plain listening context (no client certificates for its own hosts) whose sni_callback
    moves b.example to an enforce-mode context: unguarded, a TLS 1.3 session made at a.example
    without a certificate resumes at b.example and lands on the enforce context unverified
    (OpenSSL decides before the switch). guard() stops that: sessions resume only under their
    own server name, and one verified at b.example is verified again by b.example's hook."""
    v = root_verifier(live)
    switched = th.server_context(live, v, "enforce")
    plain = th.server_context(live, None)
    fssl.guard(plain)
    if how == "session-id":
        plain.options |= ssl.OP_NO_TICKET

    th.route_b_example(plain, switched)
    anon = th.resuming_client(live, None, version, how)
    first = th.bio_handshake(plain, anon, hostname="a.example", close=True)
    assert first.ok and first.client.session is not None
    with pytest.raises(fastmtls.ConfigurationError, match="guarded"):
        fssl.result(first.server)
    own = th.bio_handshake(plain, anon, hostname="a.example", session=first.client.session,
                           close=True)  # fmt: skip
    assert own.ok and own.server.session_reused  # the plain host keeps its resumption
    moved = th.bio_handshake(plain, anon, hostname="b.example", session=first.client.session,
                             close=True)  # fmt: skip
    assert not moved.ok and not moved.server.session_reused

    cctx = th.resuming_client(live, "revocable", version, how)
    good = th.bio_handshake(plain, cctx, hostname="b.example", close=True)
    assert good.ok and good.result().status == "SUCCESS"
    if _no_ticket_follows(version, how):
        _full_handshake_instead(plain, cctx, good.client.session)
        return
    _resumes_until_revoked(live, plain, cctx, good.client.session, v)


def _full_handshake_instead(listening: ssl.SSLContext, cctx: ssl.SSLContext,
                            session: ssl.SSLSession | None) -> None:  # fmt: skip
    """The "revocable" client's moved b.example ``session`` makes a full handshake (verified,
    SUCCESS) instead of resuming (_no_ticket_follows)."""
    again = th.bio_handshake(listening, cctx, hostname="b.example", session=session, close=True)
    assert again.ok and not again.server.session_reused and again.result().status == "SUCCESS"


@pytest.mark.parametrize("how", RESUME)
@pytest.mark.parametrize("version", VERSIONS)
def test_session_from_before_install_does_not_resume(live: LivePKI, version: str, how: str) -> None:
    """A session made on a context before install() (no client certificate asked for, or one
    OpenSSL accepted) carries no result of the hook: offered after install, it does not resume;
    the handshake is a full one, so enforce mode refuses a client without a certificate and
    verifies one with a certificate."""
    sctx = th.server_context(live, None)
    if how == "session-id":
        sctx.options |= ssl.OP_NO_TICKET
    anon, good = (th.resuming_client(live, who, version, how) for who in (None, "good"))
    before = {c: th.bio_handshake(sctx, c, close=True) for c in (anon, good)}
    assert all(p.ok and p.client.session is not None for p in before.values())
    again = th.bio_handshake(sctx, anon, session=before[anon].client.session, close=True)
    assert again.ok and again.server.session_reused  # resumption works before the hook
    fssl.install(sctx, root_verifier(live), mode="enforce")
    offered = th.bio_handshake(sctx, anon, session=before[anon].client.session, close=True)
    assert not offered.ok and not offered.server.session_reused
    full = th.bio_handshake(sctx, good, session=before[good].client.session, close=True)
    assert full.ok and not full.server.session_reused
    assert full.result().status == "SUCCESS"


@pytest.mark.parametrize("version", VERSIONS)
def test_guarded_context_keeps_openssl_verification(live: LivePKI, version: str) -> None:
    """A guarded context that asks for client certificates itself (verify_mode CERT_REQUIRED,
    its own CA file) still has them verified by OpenSSL: the guard's verify callback hands the
    chain to X509_verify_cert, so a certificate from another CA or none fails the handshake."""
    sctx = th.server_context(live, None)
    sctx.verify_mode = ssl.CERT_REQUIRED
    sctx.load_verify_locations(live.file("root.pem"))
    fssl.guard(sctx)
    good = th.bio_handshake(sctx, th.client_context(live, "good", version=version), close=True)
    assert good.ok and good.server.getpeercert()
    for name in ("foreign", None):
        bad = th.bio_handshake(sctx, th.client_context(live, name, version=version), close=True)
        assert not bad.ok and bad.errors["server"] is not None, name


def test_guard_then_install_replaces_the_guard(live: LivePKI) -> None:
    """install() after guard() on the same context verifies client certificates again."""
    sctx = th.server_context(live, None)
    fssl.guard(sctx)
    fssl.install(sctx, root_verifier(live), mode="enforce")
    none = th.bio_handshake(sctx, th.client_context(live, None))
    assert not none.ok
    good = th.bio_handshake(sctx, th.client_context(live, "good"))
    assert good.ok and good.result().status == "SUCCESS"
    with pytest.raises(fastmtls.ConfigurationError):
        fssl.guard(object())  # type: ignore[arg-type]
    with pytest.raises(fastmtls.ConfigurationError):
        fssl.guard(sctx, session_cache_size=-1)


@pytest.mark.parametrize("verify_mode", [ssl.CERT_NONE, ssl.CERT_OPTIONAL, ssl.CERT_REQUIRED])
@pytest.mark.parametrize("version", VERSIONS)
def test_verify_mode_set_after_install_keeps_the_hooks_mode(
    live: LivePKI, version: str, verify_mode: ssl.VerifyMode
) -> None:
    """Frameworks set SSLContext.verify_mode themselves (uvicorn's ssl_cert_reqs): after install
    the hook's mode decides. Enforce still requires a valid certificate (CERT_NONE would stop
    asking for one, CERT_OPTIONAL admit clients without); record still asks for one."""
    enforce = th.server_context(live, root_verifier(live), "enforce")
    enforce.verify_mode = verify_mode
    none = th.bio_handshake(enforce, th.client_context(live, None, version=version))
    assert not none.ok and none.errors["server"] is not None
    foreign = th.bio_handshake(enforce, th.client_context(live, "foreign", version=version))
    assert "tlsv1 alert unknown ca" in (foreign.client_error or ""), foreign.client_error
    good = th.bio_handshake(enforce, th.client_context(live, "good", version=version))
    assert good.ok and good.result().status == "SUCCESS"
    record = th.server_context(live, root_verifier(live), "record")
    record.verify_mode = verify_mode
    seen = th.bio_handshake(record, th.client_context(live, "foreign", version=version))
    assert seen.ok and seen.result().status == "FAILED:unable to get local issuer certificate"


@pytest.mark.parametrize("then", ["record", "enforce"])
@pytest.mark.parametrize("before", ["CERT_REQUIRED", "enforce install"])
def test_install_over_a_context_requiring_certificates(
    live: LivePKI, before: str, then: str
) -> None:
    """install() works on a context already at CERT_REQUIRED (set by the application, or left
    by an enforce-mode install): OpenSSL's mode then carries FAIL_IF_NO_PEER_CERT."""
    sctx = th.server_context(live, None)
    if before == "CERT_REQUIRED":
        sctx.verify_mode = ssl.CERT_REQUIRED
    else:
        fssl.install(sctx, root_verifier(live), mode="enforce")
    fssl.install(sctx, root_verifier(live), mode=then)  # type: ignore[arg-type]
    pair = th.bio_handshake(sctx, th.client_context(live, "foreign"))
    assert pair.ok is (then == "record")
    assert pair.result().status == "FAILED:unable to get local issuer certificate"


def test_install_does_not_leak_ex_data_indexes(live: LivePKI) -> None:
    """install() does not allocate new process-wide OpenSSL ex_data indexes on every call."""
    import _ssl
    import ctypes

    new_index = ctypes.CDLL(_ssl.__file__).CRYPTO_get_ex_new_index  # from _ssl's libcrypto
    new_index.restype = ctypes.c_int
    new_index.argtypes = [ctypes.c_int, ctypes.c_long] + [ctypes.c_void_p] * 4
    v = root_verifier(live)
    before = new_index(0, 0, None, None, None, None)  # CRYPTO_EX_INDEX_SSL
    for _ in range(100):
        th.server_context(live, v, "record")
    after = new_index(0, 0, None, None, None, None)
    assert after - before - 1 < 10, f"{after - before - 1} SSL ex_data indexes for 100 installs"


def test_second_install_replaces_first(live: LivePKI) -> None:
    """A second install() on a context replaces the first hook: its verifier and its mode."""
    sctx = th.server_context(live, th.make_verifier(("other", live.other)), "record")
    fssl.install(sctx, root_verifier(live), mode="enforce")
    good = th.bio_handshake(sctx, th.client_context(live, "good"))
    assert good.ok and (good.result().status, good.result().anchor_name) == ("SUCCESS", "root")
    expired = th.bio_handshake(sctx, th.client_context(live, "expired"))
    assert "sslv3 alert certificate expired" in (expired.client_error or "")


def test_concurrent_installs_leave_one_hook(live: LivePKI,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Two install() calls on one context at once: the first is held after its C install (a
    proxy delays it), the second installs meanwhile. OpenSSL used to run the second's hook while
    result() read the first's (the C install and ctx._fastmtls_hook were two steps); the calls
    now run one after the other, and the hook OpenSSL runs is the one result() reads."""
    real = fssl.lib
    installed = threading.Event()

    class DelayFirst:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def fm_hook_install(self, *args: Any) -> int:
            rc = int(real.fm_hook_install(*args))
            if threading.current_thread().name == "first":
                installed.set()
                time.sleep(0.3)
            return rc

    monkeypatch.setattr(fssl, "lib", DelayFirst())
    sctx = th.server_context(live, None)
    lenient = th.make_verifier(("root", live.root), ("other", live.other))
    first = threading.Thread(name="first",
                             target=lambda: fssl.install(sctx, lenient, mode="record"))
    first.start()
    assert installed.wait(10)
    fssl.install(sctx, root_verifier(live), mode="enforce")
    first.join()
    monkeypatch.undo()
    mode = sctx._fastmtls_hook.mode  # type: ignore[attr-defined]
    foreign = th.bio_handshake(sctx, th.client_context(live, "foreign"))
    if mode == "enforce":
        assert not foreign.ok
    else:
        assert foreign.ok and foreign.result().status == "SUCCESS"
    assert mode == "enforce"  # the second call waited for the first, then replaced it


def test_hook_available() -> None:
    """The hook works with this Python's ssl module (every test here depends on it)."""
    assert fssl.available()


def test_live_pki_files(live: LivePKI) -> None:
    """The live PKI's files exist (chains hold leaf + intermediate where one is needed)."""
    assert Path(live.chain_file("good")).read_bytes().count(b"BEGIN CERTIFICATE") == 2
    assert Path(live.chain_file("foreign")).read_bytes().count(b"BEGIN CERTIFICATE") == 1


# ---- review: sessions made after a refused resumption, big chains, refused tickets -------------


@pytest.mark.parametrize("how", RESUME)
@pytest.mark.parametrize("version", VERSIONS)
def test_a_replayed_session_that_does_not_resume_lends_nothing(live: LivePKI, version: str,
                                                               how: str) -> None:  # fmt: skip
    """Record mode. A client without a certificate replays another client's expired session: the
    hook checks it (and records that check on the connection), then OpenSSL refuses it and makes
    a full handshake: the result is NONE, and the session that handshake makes holds no chain,
    so resuming it stays NONE. The new session used to take the replayed session's chain:
    resuming it read SUCCESS with the other client's certificate."""
    sctx = _resuming_server(live, root_verifier(live), "record", how)
    _set_session_timeout(sctx, 1)
    victim = th.resuming_client(live, "good", version, how)
    first = th.bio_handshake(sctx, victim, close=True)
    assert first.ok and first.result().status == "SUCCESS" and first.client.session is not None
    time.sleep(2.2)  # past the session's lifetime
    _set_session_timeout(sctx, 7200)
    attacker = th.resuming_client(live, None, version, how)
    pair = th.BioPair.open(sctx, attacker)
    th.offer_session(pair, first.client.session)
    replay = pair.handshake(close=True)
    assert replay.ok and not replay.server.session_reused
    assert replay.result().status == "NONE" and replay.client.session is not None
    again = th.bio_handshake(sctx, attacker, session=replay.client.session, close=True)
    assert again.ok and again.server.session_reused
    r = again.result()
    assert (r.status, r.presented, list(r.presented_chain)) == ("NONE", False, [])


def _big_client(live: LivePKI, directory: Path, size: int, version: str) -> ssl.SSLContext:
    """A client (TLS ``version``) whose leaf carries a ``size``-byte private extension."""
    import datetime as dt

    import pki
    from cryptography import x509

    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    big = pki.leaf(live.inter, "CN=big client,O=fastmtls tests",
                   not_before=now - dt.timedelta(hours=1), not_after=now + dt.timedelta(days=3),
                   extra_extensions=[(x509.UnrecognizedExtension(
                       x509.ObjectIdentifier("1.3.6.1.4.1.55555.1"),
                       b"\x04\x82" + size.to_bytes(2, "big") + b"x" * size), False)])  # fmt: skip
    (directory / "big.pem").write_bytes(pki.pem_bundle(big, live.inter))
    (directory / "big.key").write_bytes(th._key_pem(big))
    cctx = th.client_context(live, None, version=version)
    cctx.load_cert_chain(str(directory / "big.pem"), str(directory / "big.key"))
    return cctx


@pytest.mark.parametrize("version", VERSIONS)
def test_a_chain_too_big_for_a_ticket_still_connects(live: LivePKI, tmp_path: Path,
                                                     version: str) -> None:  # fmt: skip
    """A 40 kB leaf: with its chain in the session's ticket data the session would be over the
    0xFF00 bytes OpenSSL makes a ticket of (it fails the handshake instead). The handshake
    completes and verifies; its ticket carries no session data, so it does not resume (a full
    handshake, verified again). Such a client used to fail every handshake."""
    sctx = th.server_context(live, root_verifier(live), "enforce")
    cctx = _big_client(live, tmp_path, 40000, version)
    first = th.bio_handshake(sctx, cctx, close=True)
    assert first.ok, first.errors
    assert first.result().status == "SUCCESS"
    again = th.bio_handshake(sctx, cctx, session=first.client.session, close=True)
    assert again.ok and not again.server.session_reused
    assert again.result().status == "SUCCESS"


@pytest.mark.parametrize("case", ["tls13-stateful", "tls12-id-then-ticket"])
def test_a_chain_too_big_for_a_ticket_resumes_by_session_id(live: LivePKI, tmp_path: Path,
                                                            case: str) -> None:  # fmt: skip
    """The same 40 kB client with sessions kept by ID (TLS 1.3 under OP_NO_TICKET; TLS 1.2
    made by ID, then offered by a client that takes tickets): it resumes in enforce mode, the
    hook reading the session's origin from the check of the resumption (the session carries no
    ticket data). Both failed the handshake with internal_error once the data was left out."""
    sctx = th.server_context(live, root_verifier(live), "enforce")
    version = "1.3" if case == "tls13-stateful" else "1.2"
    cctx = _big_client(live, tmp_path, 40000, version)
    if case == "tls13-stateful":
        sctx.options |= ssl.OP_NO_TICKET
    else:
        cctx.options |= ssl.OP_NO_TICKET
    first = th.bio_handshake(sctx, cctx, close=True)
    assert first.ok, first.errors
    cctx.options &= ~ssl.OP_NO_TICKET
    again = th.bio_handshake(sctx, cctx, session=first.client.session, close=True)
    assert again.ok, again.errors
    assert again.server.session_reused and again.result().status == "SUCCESS"


@pytest.mark.parametrize("version", VERSIONS)
def test_a_ticket_refused_under_another_name_is_replaced(live: LivePKI, version: str) -> None:
    """A ticket offered under another server name than its own makes a full handshake, which
    issues a new ticket (for the new name), and that one resumes. TLS 1.3 used to issue none."""
    sctx = th.server_context(live, root_verifier(live), "record")
    cctx = th.client_context(live, "good", version=version)
    first = th.bio_handshake(sctx, cctx, hostname="a.example", close=True)
    other = th.bio_handshake(sctx, cctx, hostname="b.example", session=first.client.session,
                             close=True)  # fmt: skip
    assert other.ok and not other.server.session_reused
    session = other.client.session
    assert session is not None and session.has_ticket and session.id != first.client.session.id
    again = th.bio_handshake(sctx, cctx, hostname="b.example", session=session, close=True)
    assert again.ok and again.server.session_reused and again.result().status == "SUCCESS"


# ---- review: nothing reads as verified before the client proved its key -------------------------


def _records(data: bytes) -> list[bytes]:
    out, i = [], 0
    while i + 5 <= len(data):
        n = int.from_bytes(data[i + 3 : i + 5], "big")
        out.append(data[i : i + 5 + n])
        i += 5 + n
    assert i == len(data)
    return out


def _step(*sides: ssl.SSLObject) -> None:
    for side in sides:
        try:
            side.do_handshake()
        except (ssl.SSLWantReadError, ssl.SSLError):
            pass


def _swapped_certificate_handshake(live: LivePKI, sctx: ssl.SSLContext) -> th.BioPair:
    """A TLS 1.2 client holding only its own key sends the "good" client's (public) chain in
    its Certificate message; the server's handshake fails (or the hook refuses the chain)."""
    pair = th.BioPair.open(sctx, th.client_context(live, "self_signed", version="1.2"))
    victim = [c.der for c in live.sent["good"]]
    body = b"".join(len(d).to_bytes(3, "big") + d for d in victim)
    cert_msg = b"\x0b" + (len(body) + 3).to_bytes(3, "big") + len(body).to_bytes(3, "big") + body
    _step(pair.client, pair.server)
    pair.s_in.write(pair.c_out.read())  # ClientHello
    _step(pair.client, pair.server)
    pair.c_in.write(pair.s_out.read())  # ServerHello ... ServerHelloDone
    _step(pair.client)
    out = b""
    for r in _records(pair.c_out.read()):  # the client's Certificate message swapped
        if r[0] == 22 and r[5] == 11 and 4 + int.from_bytes(r[6:9], "big") == len(r) - 5:
            r = r[:3] + len(cert_msg).to_bytes(2, "big") + cert_msg
        out += r
    pair.s_in.write(out)
    with pytest.raises(ssl.SSLError):
        pair.server.do_handshake()
    return pair


@pytest.mark.parametrize("mode", MODES)
def test_a_certificate_without_its_key_never_reads_verified(live: LivePKI, mode: str) -> None:
    """A client holding only its own key sends another client's (public) chain in its TLS 1.2
    Certificate message: its CertificateVerify fails and so does the handshake. result() of
    that connection used to read SUCCESS with the other client's chain (stored when the
    Certificate message arrived, "readable for the log"); a chain no finished handshake proved
    is no success."""
    pair = _swapped_certificate_handshake(live, th.server_context(live, root_verifier(live), mode))
    r = fssl.result(pair.server)
    assert r.status != "SUCCESS" and not r.verified


@pytest.mark.parametrize("mode", MODES)
def test_a_refused_unproven_chain_stays_unverified_after_reinstall(live: LivePKI,
                                                                    mode: str) -> None:
    """The same swapped chain, refused by the handshake's hook (which trusts another CA), and
    the context then given a hook that trusts the chain: result() re-verifies with the new hook,
    and its answer, a success, used to be returned although the handshake failed (the check
    for an unfinished handshake was made on the old hook's failure, which stays readable)."""
    sctx = th.server_context(live, th.make_verifier(("other", live.other)), mode)
    pair = _swapped_certificate_handshake(live, sctx)
    assert fssl.result(pair.server).status == "FAILED:unable to get local issuer certificate"
    fssl.install(sctx, root_verifier(live), mode=mode)
    r = fssl.result(pair.server)
    assert r.status != "SUCCESS" and not r.verified, r.status


def _tiny_cert() -> bytes:
    """A 73-byte certificate OpenSSL parses (empty names, a one-octet serial, an empty Ed25519
    key and signature): padding for a long client chain."""
    ed = der.enc(0x30, der.enc(0x06, b"\x2b\x65\x70"))
    validity = der.enc(0x30, der.enc(0x17, b"250101000000Z") + der.enc(0x17, b"300101000000Z"))
    tbs = der.enc(0x30, der.enc(0x02, b"\x01") + ed + der.seq() + validity + der.seq()
                  + der.enc(0x30, ed + der.enc(0x03, b"\x00")))  # fmt: skip
    return der.enc(0x30, tbs + ed + der.enc(0x03, b"\x00\x00"))


@pytest.mark.parametrize("mode", MODES)
def test_a_chain_of_thousands_of_certificates_is_too_long(live: LivePKI, mode: str,
                                                           tmp_path: Path) -> None:
    """A client sending its leaf then 1,100 small certificates: the hook used to hand the core
    the leaf alone past 1,024 certificates (the chain limit skipped, one certificate in the
    result, and a leaf that chains on its own verified). It gives the core the first
    max_chain_certs + 1, and the chain is too long, as verify() finds it."""
    pad = ssl.DER_cert_to_PEM_cert(_tiny_cert()).encode()
    chain = tmp_path / "long.pem"
    chain.write_bytes(ssl.DER_cert_to_PEM_cert(live.clients["from_a"].der).encode() + pad * 1100)
    v = th.make_verifier(("ca_a", live.ca_a))
    assert v.verify(chain.read_bytes()).status == "FAILED:certificate chain too long"
    cctx = th.client_context(live, version="1.3")
    cctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    cctx.load_cert_chain(str(chain), live.key_file("from_a"))
    pair = th.bio_handshake(th.server_context(live, v, mode), cctx)
    assert pair.ok is (mode == "record")
    r = fssl.result(pair.server)
    assert r.status == "FAILED:certificate chain too long", r.status
    assert len(r.presented_chain) == int(fastmtls.Limits().max_chain_certs) + 1


def test_renegotiation_is_refused(live: LivePKI) -> None:
    """install() turns renegotiation off (a second handshake would replace the connection's
    result before its client proved anything; OpenSSL 1.1.1 allows client renegotiation by
    default), and the hook refuses a renegotiating ClientHello even when the options allow it
    again."""
    import _ssl
    import ctypes

    sctx = th.server_context(live, root_verifier(live), "record")
    assert sctx.options & ssl.OP_NO_RENEGOTIATION
    sctx.options &= ~ssl.OP_NO_RENEGOTIATION
    sctx.options |= 0x100  # SSL_OP_ALLOW_CLIENT_RENEGOTIATION (OpenSSL 3)
    first = th.bio_handshake(sctx, th.client_context(live, "good", version="1.2"))
    assert first.ok and fssl.result(first.server).status == "SUCCESS"
    lib = ctypes.CDLL(_ssl.__file__)
    lib.SSL_renegotiate.argtypes, lib.SSL_renegotiate.restype = [ctypes.c_void_p], ctypes.c_int
    client = int(fssl.ffi.cast("uintptr_t", fssl._ssl_pointer(first.client._sslobj)))
    assert lib.SSL_renegotiate(client) == 1
    _step(first.client)
    first.s_in.write(first.c_out.read())  # the renegotiating ClientHello
    with pytest.raises(ssl.SSLError, match=r"(?i)renegotiation|callback failed"):
        first.server.read(1024)  # (the server reads it with the application data)


def _ssl_of(obj: ssl.SSLObject) -> int:
    return int(ffi.cast("uintptr_t", fssl._ssl_pointer(obj._sslobj)))  # type: ignore[attr-defined]


@pytest.mark.parametrize("mode", ["record", "enforce"])
@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_a_finished_handshakes_result_survives_a_later_tls_error(
    live: LivePKI, mode: str, version: str
) -> None:
    """A connection whose handshake finished keeps its result after a fatal TLS error (a
    corrupt record): it read NONE once OpenSSL entered its error state (found by review), so
    a log written after a failed read lost the client that had proved its certificate."""
    pair = th.bio_handshake(th.server_context(live, root_verifier(live), mode),
                            th.client_context(live, "good", version=version))  # fmt: skip
    assert fssl.result(pair.server).status == "SUCCESS"
    pair.s_in.write(b"\x17\x03\x03\x00\x20" + b"\x00" * 32)  # application data, bad MAC
    with pytest.raises(ssl.SSLError):
        pair.server.read(16)
    r = fssl.result(pair.server)
    assert (r.status, r.verified, r.presented) == ("SUCCESS", True, True)


def test_a_result_survives_a_client_that_drops_the_connection(live: LivePKI) -> None:
    """A client that authenticated, sent data and closed TCP without close_notify: the
    server's recv() sees the EOF, and result() still reads the handshake's SUCCESS."""
    sctx = th.server_context(live, root_verifier(live), "record")
    out: dict[str, Any] = {}
    with socket.create_server(("127.0.0.1", 0)) as listener:
        def serve() -> None:
            conn, _ = listener.accept()
            with sctx.wrap_socket(conn, server_side=True) as tls:
                out["data"] = tls.recv(100)
                with contextlib.suppress(ssl.SSLError, OSError):
                    out["eof"] = tls.recv(100)
                out["status"] = fssl.result(tls).status

        server = threading.Thread(target=serve)
        server.start()
        raw = socket.create_connection(listener.getsockname())
        client = th.client_context(live, "good").wrap_socket(raw, server_hostname="localhost")
        client.sendall(b"hi")
        client.shutdown(socket.SHUT_RDWR)  # no close_notify
        client.close()
        server.join(10)
    assert out["data"] == b"hi"
    assert out["status"] == "SUCCESS"


def _pha_round(pair: th.BioPair) -> list[str]:
    """The server asks for a certificate after the handshake (TLS 1.3 post-handshake
    authentication) and the client answers; result()'s status at each step: after the request,
    after it was sent, after the answer."""
    seen = [fssl.result(pair.server).status]
    pair.server.verify_client_post_handshake()
    seen.append(fssl.result(pair.server).status)
    pair.server.write(b"request")
    th._move(pair.s_out, pair.c_in)
    seen.append(fssl.result(pair.server).status)
    assert pair.client.read(16) == b"request"  # the client answers the CertificateRequest
    pair.client.write(b"answer")
    th._move(pair.c_out, pair.s_in)
    try:
        assert pair.server.read(16) == b"answer"
    except ssl.SSLError as e:
        seen.append(f"refused: {e.reason}")
    seen.append(fssl.result(pair.server).status)
    return seen


@pytest.mark.parametrize(("mode", "first", "then", "expected"), [
    *((mode, "good", then, expected) for mode in ("record", "enforce") for then, expected in (
        ("good", "SUCCESS"),
        ("foreign", "FAILED:unable to get local issuer certificate"),
        ("revocable", "SUCCESS"))),
    ("record", "foreign", "good", "SUCCESS"),  # (enforce mode refuses that handshake)
])
def test_post_handshake_authentication_replaces_the_result(
    live: LivePKI, mode: str, first: str, then: str, expected: str
) -> None:
    """TLS 1.3 post-handshake authentication: the handshake's result stands while the request
    waits to be sent and answered (it read NONE from verify_client_post_handshake() on: found
    by review); the certificate the client then sends is verified as in a handshake and its
    result replaces the handshake's (enforce mode fails the connection on a refusal)."""
    v = root_verifier(live)
    v.revocations = live.revocations("revocable")
    cctx = th.client_context(live, None, version="1.3")
    cctx.post_handshake_auth = True
    pair = th.BioPair.open(th.server_context(live, v, mode), cctx)
    lib = th.libssl()
    for name in (first, then):
        ptr = _ssl_of(pair.client)
        assert lib.SSL_use_certificate_chain_file(ptr, str(live.chain_file(name)).encode()) == 1
        assert lib.SSL_use_PrivateKey_file(ptr, str(live.key_file(name)).encode(), 1) == 1
        if name is first:
            pair.handshake()
            assert pair.ok
            before = fssl.result(pair.server).status
    seen = _pha_round(pair)
    assert seen[:3] == [before] * 3
    refused = mode == "enforce" and (expected != "SUCCESS" or then == "revocable")
    assert any(s.startswith("refused") for s in seen) is refused
    r = fssl.result(pair.server)
    assert r.status == expected
    assert r.revoked is (then == "revocable")
    assert x509.load_der_x509_certificate(r.presented_chain[0]) == live.sent[then][0].cert


@pytest.mark.parametrize("when", ["before install", "between installs"])
def test_an_application_info_callback_still_runs(live: LivePKI, when: str) -> None:
    """install() sets the SSL_CTX's info callback (it sees a handshake or a post-handshake
    authentication end); one the application set before, or after an earlier install (a
    second install overwrote it: found by review), is called first, with every event."""
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(live.file("server.pem"), live.key_file("server"))
    events: list[tuple[int, int]] = []
    callback = th.INFO_FN(lambda _ssl, where, ret: events.append((where, ret)))
    if when == "between installs":
        fssl.install(sctx, root_verifier(live), mode="record")
    th.set_info_callback(sctx, callback)
    fssl.install(sctx, root_verifier(live), mode="record")
    pair = th.bio_handshake(sctx, th.client_context(live, "good"))
    assert pair.ok and fssl.result(pair.server).status == "SUCCESS"
    assert (0x20, 1) in events  # SSL_CB_HANDSHAKE_DONE
    assert (0x2002, 1) in events  # SSL_CB_ACCEPT_EXIT, the handshake done


def test_an_application_info_callback_after_an_sni_switch_to_an_unhooked_context(
    live: LivePKI,
) -> None:
    """The listening context's sni_callback moves the connection to a context without the
    hook: OpenSSL goes on calling the callback it started the handshake with (the hook's),
    which found no hook on the new context and skipped the application's callback (found by
    review). It gets the events it gets without fastmtls."""
    def events_seen(hooked: bool) -> list[tuple[int, int]]:
        events: list[tuple[int, int]] = []
        callback = th.INFO_FN(lambda _ssl, where, ret: events.append((where, ret)))
        listener = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        listener.load_cert_chain(live.file("server.pem"), live.key_file("server"))
        th.set_info_callback(listener, callback)
        plain = th.server_context(live, None)
        plain.load_verify_locations(live.file("root.pem"))
        listener.sni_callback = lambda obj, _name, _ctx: setattr(obj, "context", plain)
        if hooked:
            fssl.install(listener, root_verifier(live), mode="record")
        assert th.bio_handshake(listener, th.client_context(live, "good")).ok
        return events

    without = events_seen(False)
    assert (0x2002, -1) in without  # SSL_CB_ACCEPT_EXIT of the first flight
    assert events_seen(True) == without


@pytest.mark.parametrize("info_callback", ["the hook's", "replaced"])
def test_post_handshake_authentication_answered_without_a_certificate(
    live: LivePKI, info_callback: str
) -> None:
    """Record mode: a client that proved a certificate in the handshake answers a
    post-handshake CertificateRequest with none. OpenSSL calls no verify callback for it and
    its session then holds no certificate; result() read the handshake's SUCCESS, and the
    tickets issued after it carried that chain (found by review). Now both say NONE. An
    application that sets its own info callback after install() replaces the hook's, which
    sees the answer: that connection's result() then keeps the handshake's (as README says),
    but the tickets still carry no chain, so a resumption reads NONE."""
    cctx = th.client_context(live, "good", version="1.3")
    cctx.post_handshake_auth = True
    sctx = th.server_context(live, root_verifier(live), "record")
    callback = th.INFO_FN(lambda _ssl, _where, _ret: None)
    if info_callback == "replaced":
        th.set_info_callback(sctx, callback)
    pair = th.bio_handshake(sctx, cctx)
    assert fssl.result(pair.server).status == "SUCCESS"
    th.libssl().SSL_certs_clear(_ssl_of(pair.client))
    assert _pha_round(pair)[-1] == ("NONE" if info_callback == "the hook's" else "SUCCESS")
    assert pair.server.getpeercert() is None
    th._move(pair.s_out, pair.c_in)  # the tickets issued after the answer
    with pytest.raises(ssl.SSLWantReadError):
        pair.client.read(16)
    resumed = th.bio_handshake(sctx, cctx, session=pair.client.session)
    assert resumed.server.session_reused
    assert fssl.result(resumed.server).status == "NONE"


def _tls13_client_record(pair: th.BioPair, keylog: Path, inner: bytes, seq: int) -> bytes:
    """The client's TLS 1.3 record number ``seq`` under its first application traffic key
    (read from the client's key log), holding ``inner`` (content, then its type octet): for a
    message no client library sends."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
    from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

    cipher = pair.client.cipher()[0]  # type: ignore[index]
    digest = hashes.SHA384() if cipher.endswith("SHA384") else hashes.SHA256()

    def expand(secret: bytes, label: bytes, length: int) -> bytes:
        full = b"tls13 " + label
        info = length.to_bytes(2, "big") + bytes([len(full)]) + full + b"\x00"
        return HKDFExpand(digest, length, info).derive(secret)

    secret = next(bytes.fromhex(line.split()[2]) for line in keylog.read_text().splitlines()
                  if line.startswith("CLIENT_TRAFFIC_SECRET_0"))  # fmt: skip
    chacha = "CHACHA" in cipher
    key = expand(secret, b"key", 32 if chacha or "256" in cipher else 16)
    iv = expand(secret, b"iv", 12)
    nonce = bytes(a ^ b for a, b in zip(iv, seq.to_bytes(12, "big")))
    header = b"\x17\x03\x03" + (len(inner) + 16).to_bytes(2, "big")
    aead = ChaCha20Poly1305(key) if chacha else AESGCM(key)
    return header + aead.encrypt(nonce, inner, header)


@pytest.mark.parametrize("mode", ["record", "enforce"])
@pytest.mark.parametrize("body", [b"\x05", b"\x00\x00"], ids=["bad-type", "too-long"])
def test_a_result_survives_a_fatal_error_in_a_post_handshake_message(
    live: LivePKI, tmp_path: Path, mode: str, body: bytes
) -> None:
    """A client that proved its certificate sends a malformed KeyUpdate: OpenSSL's handshake
    state stays at the KeyUpdate after the fatal error, and result() read NONE (found by
    review); the proof is recorded when the handshake finishes, on the connection's thread."""
    cctx = th.client_context(live, "good", version="1.3")
    cctx.keylog_filename = str(tmp_path / "keys.txt")
    pair = th.bio_handshake(th.server_context(live, root_verifier(live), mode), cctx)
    assert fssl.result(pair.server).status == "SUCCESS"
    key_update = b"\x18" + len(body).to_bytes(3, "big") + body
    # after the client's one record of bio_handshake's exchange
    pair.s_in.write(_tls13_client_record(pair, tmp_path / "keys.txt", key_update + b"\x16", 1))
    with pytest.raises(ssl.SSLError, match=r"(?i)key update|message size"):
        pair.server.read(16)
    assert fssl.result(pair.server).status == "SUCCESS"


def test_result_of_a_client_connection_is_refused(live: LivePKI) -> None:
    """On a dual-use PROTOCOL_TLS context that is hooked, the client connections are OpenSSL's
    (the hook verifies what clients present): result() of one raises, where it read NONE."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        dual = ssl.SSLContext(ssl.PROTOCOL_TLS)
    dual.load_verify_locations(live.file("root.pem"))
    dual.load_cert_chain(live.chain_file("good"), live.key_file("good"))
    fssl.install(dual, root_verifier(live), mode="enforce")
    pair = th.bio_handshake(th.server_context(live, root_verifier(live), "record"), dual)
    assert pair.ok and fssl.result(pair.server).status == "SUCCESS"
    with pytest.raises(fastmtls.ConfigurationError, match="client connection"):
        fssl.result(pair.client)


@pytest.mark.parametrize("how", RESUME)
@pytest.mark.parametrize("first", ["plain", "record"])
def test_a_tls12_session_moved_to_a_level3_context_makes_a_full_handshake(
    live: LivePKI, first: str, how: str
) -> None:
    """The listening context at the default security level, the enforce-mode context the
    sni_callback now maps b.example to at level 3: OpenSSL decides on a TLS 1.2 ticket with the
    settings of the context switched to, which issues none from level 3 on, so the hook's
    ticket check never ran and a client without a certificate resumed there (found by review).
    A TLS 1.2 session a switch placed never resumes now: a full handshake, which that context
    refuses."""
    listening = th.server_context(live, th.make_verifier(("other", live.other)), "record")
    if first == "plain":
        first_ctx = th.server_context(live, None)
    else:
        first_ctx = th.server_context(live, th.make_verifier(("other", live.other)), "record")
    later_ctx = th.server_context(live, root_verifier(live), "enforce")
    later_ctx.set_ciphers("DEFAULT:@SECLEVEL=3")
    target = [first_ctx]
    th.route_b_example(listening, lambda: target[0])
    anon = th.client_context(live, None, version="1.2", tickets=True)
    made = th.bio_handshake(listening, anon, hostname="b.example", close=True)
    assert made.ok and made.client.session is not None, made.errors
    target[0] = later_ctx
    moved = th.bio_handshake(listening, anon, hostname="b.example", session=made.client.session,
                             close=True)  # fmt: skip
    assert not moved.ok and not moved.server.session_reused
    assert moved.server.context is later_ctx
    assert "peer did not return a certificate" in str(moved.errors["server"]), moved.errors


@pytest.mark.parametrize("how", RESUME)
def test_a_session_of_the_first_clienthellos_context_is_moved_after_a_retry(
    live: LivePKI, how: str
) -> None:
    """After a HelloRetryRequest the connection already belongs to the context the first
    ClientHello was routed to; a session that context made counted as one of the listening
    context's and resumed with no ticket following, and the callback, run again on the second
    ClientHello, could route it to an enforce-mode context meanwhile (found by review). Sessions
    are compared with the context that accepted the connection: a full handshake."""
    listening = _hrr_only(th.server_context(live, th.make_verifier(("other", live.other)),
                                            "record"))  # fmt: skip
    if how == "session-id":
        listening.options |= ssl.OP_NO_TICKET
    first_ctx = th.server_context(live, th.make_verifier(("other", live.other)), "record")
    later_ctx = th.server_context(live, root_verifier(live), "enforce")
    target = [first_ctx]
    th.route_b_example(listening, lambda: target[0])
    anon = th.resuming_client(live, None, "1.3", how)
    made = th.bio_handshake(listening, anon, hostname="b.example", close=True)
    assert made.ok and made.client.session is not None, made.errors
    listening.num_tickets = 0

    def remap(pair: th.BioPair) -> None:
        target[0] = later_ctx

    pair = th.hrr_handshake(listening, anon, hostname="b.example", retry_hostname="b.example",
                            session=made.client.session, before_retry=remap)  # fmt: skip
    assert not pair.ok and not pair.server.session_reused
    assert pair.server.context is later_ctx


def test_refused_result_is_readable_until_close_and_then_says_why(live: LivePKI) -> None:
    """An enforce-mode refusal is readable (for the log) until the server closes the socket;
    after close(), or unwrap() of a good connection, result() says the connection is gone (it
    said "the TLS handshake has not happened yet"; found by review)."""
    sctx = th.server_context(live, th.make_verifier(("root", live.root)), "enforce")
    listener = socket.create_server(("127.0.0.1", 0))
    seen: dict[str, str] = {}

    def end(tls: ssl.SSLSocket, how: Callable[[], object], key: str) -> None:
        """End the connection ``how`` (close, unwrap), then record what result() says."""
        how()
        try:
            fssl.result(tls)
        except fastmtls.ConfigurationError as exc:
            seen[key] = str(exc)

    def serve() -> None:
        for _ in range(2):
            conn, _ = listener.accept()
            tls = sctx.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
            try:
                tls.do_handshake()
            except (ssl.SSLError, OSError):
                seen["refused"] = fssl.result(tls).status
                end(tls, tls.close, "after close")
                continue
            seen["good"] = fssl.result(tls).status
            end(tls, tls.unwrap, "after unwrap")
            tls.close()

    server = threading.Thread(target=serve)
    server.start()
    try:
        with contextlib.suppress(ssl.SSLError, OSError):
            th.client_context(live, "foreign").wrap_socket(
                socket.create_connection(listener.getsockname()), server_hostname="localhost")
        with th.client_context(live, "good").wrap_socket(
                socket.create_connection(listener.getsockname()),
                server_hostname="localhost") as tls:  # fmt: skip
            with contextlib.suppress(ssl.SSLError, OSError):
                tls.unwrap()
    finally:
        server.join(timeout=30)
        listener.close()
    assert seen["refused"] == "FAILED:unable to get local issuer certificate", seen
    assert seen["good"] == "SUCCESS", seen
    assert "closed" in seen["after close"] and "unwrap" in seen["after unwrap"], seen
