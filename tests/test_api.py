"""The Python API: configuration errors, chain input forms, times, status/Reason mapping, the
result cache, and the content of results (chain, anchor name, fields)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import subprocess
import sys
import sysconfig
import threading
import time
from typing import Any

import pki
import pytest
from cryptography import x509
from helpers import make_verifier, run_verify

import fastmtls
from fastmtls import (
    FIELD_NAMES,
    CertificateLoadError,
    ConfigurationError,
    FastMTLSError,
    Limits,
    NotACAError,
    Reason,
    TrustStore,
    Verifier,
    VerifyResult,
    _ffi,
)

NOW = pki.NOW


@pytest.fixture(scope="module")
def ch() -> pki.Chain:
    """root -> one intermediate -> client leaf."""
    return pki.chain(1)


@pytest.fixture
def v(ch: pki.Chain) -> Verifier:
    """A fresh verifier (fresh caches) trusting ``ch.root`` under the name ``root``."""
    return make_verifier(ch.root)


# ---- TrustStore errors -------------------------------------------------------------------------


def test_store_rejects_non_ca(ch: pki.Chain) -> None:
    """A leaf offered as a CA raises NotACAError, also a ValueError and a FastMTLSError."""
    store = TrustStore()
    with pytest.raises(NotACAError) as info:
        store.add_der(ch.leaf.der, name="leaf")
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, FastMTLSError)
    assert isinstance(info.value, CertificateLoadError)
    assert len(store) == 0 and store.names() == []


def test_store_rejects_ca_without_certsign() -> None:
    """A CA whose keyUsage lacks keyCertSign is not a trust anchor."""
    with pytest.raises(NotACAError):
        TrustStore().add_der(pki.ca(key_usage={"crl_sign"}).der, name="x")


@pytest.mark.parametrize("pem", [
    "not a pem at all",
    b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
    b"-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----\n",  # base64 of b"ABC"
    b"-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----\n",
    b"-----BEGIN PRIVATE KEY-----\nQUJD\n-----END PRIVATE KEY-----\n",
    b"",
])
def test_store_garbage_pem(pem: Any) -> None:
    """Garbage PEM raises CertificateLoadError (a ValueError) and leaves the store unchanged."""
    store = TrustStore()
    with pytest.raises(CertificateLoadError) as info:
        store.add_pem(pem, name="garbage")
    assert isinstance(info.value, ValueError)
    assert len(store) == 0


@pytest.mark.parametrize("der", [b"", b"\x30\x00", b"\x30\x03\x02\x01\x01", b"junk" * 20])
def test_store_garbage_der(der: bytes) -> None:
    """Bytes that are not a certificate raise CertificateLoadError."""
    with pytest.raises(CertificateLoadError):
        TrustStore().add_der(der, name="garbage")


def test_store_add_is_all_or_nothing(ch: pki.Chain) -> None:
    """add_ders with one bad certificate adds none of them."""
    store = TrustStore()
    gen = store.generation
    with pytest.raises(NotACAError):
        store.add_ders([ch.root.der, ch.leaf.der], name="mixed")
    assert len(store) == 0 and store.generation == gen


def test_store_pem_bundle(ch: pki.Chain) -> None:
    """add_pem adds every CERTIFICATE block of a bundle and returns how many."""
    store = TrustStore()
    n = store.add_pem(pki.pem_bundle(ch.root, *ch.intermediates), name="bundle")
    assert n == 2 and len(store) == 2 and store.names() == ["bundle"]


@pytest.mark.parametrize(("call", "args"), [
    ("associate", ("api.example.com", ["nope"])),
    ("associate", ("api.example.com", ["root", "nope"])),
    ("associate", ("bad host.example.com", ["root"])),
    ("associate", ("a.*.example.com", ["root"])),
    ("associate", ("", ["root"])),
    ("remove", ("nope",)),
])
def test_store_configuration_errors(ch: pki.Chain, call: str, args: tuple[Any, ...]) -> None:
    """Unknown CA names and invalid host names raise ConfigurationError (a ValueError)."""
    store = TrustStore()
    store.add_der(ch.root.der, name="root")
    with pytest.raises(ConfigurationError) as info:
        getattr(store, call)(*args)
    assert isinstance(info.value, ValueError)
    assert store.associations() == {}


@pytest.mark.parametrize("name", ["", None, 3])
def test_store_ca_needs_a_name(ch: pki.Chain, name: Any) -> None:
    """A CA needs a non-empty string name."""
    with pytest.raises(ConfigurationError):
        TrustStore().add_der(ch.root.der, name=name)


def test_store_generation_changes(ch: pki.Chain) -> None:
    """Every modification publishes a snapshot with a new generation."""
    store = TrustStore()
    seen = {store.generation}
    store.add_der(ch.root.der, name="root")
    seen.add(store.generation)
    store.associate("api.example.com", ["root"])
    seen.add(store.generation)
    store.dissociate("api.example.com")
    seen.add(store.generation)
    store.remove("root")
    seen.add(store.generation)
    assert len(seen) == 5


# ---- Verifier option errors --------------------------------------------------------------------


@pytest.mark.parametrize("kw", [
    {"purpose": "bogus"},
    {"purpose": None},
    {"max_depth": -1},
    {"max_depth": 63},
    {"min_rsa_bits": 20000},
    {"min_rsa_bits": 8193},
    {"limits": Limits(max_steps=0)},
    {"limits": Limits(max_sig_checks=0)},
    {"limits": Limits(max_cert_size=2**32)},
    {"limits": Limits(max_chain_certs=-1)},
])
def test_verifier_option_errors(ch: pki.Chain, kw: dict[str, Any]) -> None:
    """Invalid options raise ConfigurationError (a ValueError)."""
    store = TrustStore()
    store.add_der(ch.root.der, name="root")
    with pytest.raises(ConfigurationError) as info:
        Verifier(store, **kw)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("kw", [{"min_rsa_bits": -1}, {"result_cache_size": -1},
                                {"signature_cache_size": -5}])
def test_verifier_negative_option_errors(ch: pki.Chain, kw: dict[str, Any]) -> None:
    """Negative sizes are option errors (ConfigurationError), like every other bad option."""
    store = TrustStore()
    store.add_der(ch.root.der, name="root")
    with pytest.raises(ConfigurationError):
        Verifier(store, **kw)


def test_verifier_needs_a_trust_store() -> None:
    """The store argument must be a TrustStore."""
    with pytest.raises(ConfigurationError):
        Verifier([])  # type: ignore[arg-type]


def test_a_bundle_with_a_non_ca_names_the_certificate(ch: pki.Chain) -> None:
    """A CA bundle holding a leaf (a chain file given as CA file) is refused naming which
    certificate of the name, and whose (it said only "certificate is not a CA"; found by a
    review of the docs); certificates already under the name count before the new ones."""
    with pytest.raises(NotACAError, match=r"certificate #1 of CA 'bundle' \(subject 'CN=client'\)"):
        TrustStore().add_pem(ch.pem_bundle, name="bundle")
    with pytest.raises(NotACAError, match=r"certificate #2 of CA 'bundle' \(subject 'CN=client'\)"):
        TrustStore().add_ders([ch.root.der, ch.leaf.der], name="bundle")
    store = TrustStore()
    store.add_ders([ch.root.der, ch.intermediates[0].der], name="bundle")
    with pytest.raises(NotACAError, match=r"certificate #3 of CA 'bundle'"):
        store.add_der(ch.leaf.der, name="bundle")


def test_verifier_intermediates_errors(ch: pki.Chain) -> None:
    """Operator intermediates must be CA certificates that parse."""
    store = TrustStore()
    store.add_der(ch.root.der, name="root")
    with pytest.raises(NotACAError):
        Verifier(store, intermediates=[ch.leaf.der])
    with pytest.raises(CertificateLoadError):
        Verifier(store, intermediates=[b"junk"])
    with pytest.raises(CertificateLoadError):
        Verifier(store, intermediates="not pem")


def test_verifier_intermediates_as_pem(ch: pki.Chain) -> None:
    """Operator intermediates may be given as one PEM text."""
    store = TrustStore()
    store.add_der(ch.root.der, name="root")
    v = Verifier(store, intermediates=pki.pem_bundle(*ch.intermediates).decode())
    r = v.verify([ch.leaf.der], at=NOW)
    assert r.verified and r.chain == [ch.leaf.der, ch.intermediates[0].der, ch.root.der]


@pytest.mark.parametrize("form", ["pem-bytes", "pem-str", "mixed"])
def test_verifier_intermediates_as_a_list_of_pem(ch: pki.Chain, form: str) -> None:
    """A list of intermediates may hold PEM texts (bytes or str, each one or more certificates)
    beside DER, as RevocationSet.build(cas=...) takes them."""
    store = TrustStore()
    store.add_der(ch.root.der, name="root")
    inter = ch.intermediates[0]
    items: list[Any] = {"pem-bytes": [inter.pem], "pem-str": [inter.pem.decode()],
                        "mixed": [inter.der, inter.pem]}[form]
    v = Verifier(store, intermediates=items)
    assert v.verify([ch.leaf.der], at=NOW).verified
    with pytest.raises(ConfigurationError, match="intermediates must hold DER or PEM"):
        Verifier(store, intermediates=[inter.der, 5])  # type: ignore[list-item]


def test_verifier_attributes(ch: pki.Chain) -> None:
    """A verifier exposes its store, purpose, max_depth and limits."""
    store = TrustStore()
    lim = Limits(max_steps=50)
    v = Verifier(store, purpose="server", max_depth=3, limits=lim)
    assert v.store is store and v.purpose == "server" and v.max_depth == 3 and v.limits == lim
    # fixed at construction (the C verifier is configured with them): assigning one used to
    # be accepted and change nothing but the Python-side PEM checks
    for attr, value in (("purpose", "client"), ("max_depth", 5), ("limits", Limits())):
        with pytest.raises(AttributeError):
            setattr(v, attr, value)


# ---- chain input forms -------------------------------------------------------------------------


def _forms(ch: pki.Chain) -> dict[str, Any]:
    ders = ch.presented_der
    pem = ch.pem_bundle
    return {
        "list": list(ders),
        "tuple": tuple(ders),
        "pem-str": pem.decode(),
        "pem-bytes": pem,
        "pem-with-comments": b"# client chain\n" + pem + b"\ntrailing text\n",
        "der-concat": b"".join(ders),
        "der-bytearray": bytearray(b"".join(ders)),
        "der-memoryview": memoryview(b"".join(ders)),
    }


@pytest.mark.parametrize("form", list(_forms(pki.chain(0)).keys()))
def test_chain_input_forms(ch: pki.Chain, v: Verifier, form: str) -> None:
    """Every accepted chain form verifies to the same chain and presented certificates."""
    r = v.verify(_forms(ch)[form], at=NOW)
    assert r.status == "SUCCESS"
    assert r.presented_chain == ch.presented_der
    assert r.chain == [*ch.presented_der, ch.root.der]
    assert r.fields()["cert_fingerprint_sha256"] == fastmtls.result.hashlib.sha256(
        ch.leaf.der).hexdigest()


@pytest.mark.parametrize("empty", [[], (), b"", "", bytearray()])
def test_empty_chain_is_none(v: Verifier, empty: Any) -> None:
    """No certificate is status NONE: not presented, not verified, never an exception."""
    r = v.verify(empty, at=NOW)
    assert r.status == "NONE" and r.reason == Reason.NO_CERTIFICATE
    assert not r.presented and not r.verified and not r
    assert r.chain == [] and r.anchor_name is None


@pytest.mark.parametrize("junk", [
    b"\x30\x03\x02\x01\x01", b"\x00" * 10, b"junk", "garbage text",
    "-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n", [b"junk"]])
def test_garbage_chain_is_failed(v: Verifier, junk: Any) -> None:
    """Unparseable input is a FAILED result (presented, not verified), never an exception."""
    r = v.verify(junk, at=NOW)
    assert r.status.startswith("FAILED:") and r.presented and not r.verified
    assert r.reason in (Reason.MALFORMED_CERT, Reason.NO_CERTIFICATE) or r.reason != Reason.OK


@pytest.mark.parametrize("bad", [123, 1.5, object()])
def test_unsupported_chain_type(v: Verifier, bad: Any) -> None:
    """A chain of an unsupported type is the caller's mistake: ConfigurationError."""
    with pytest.raises(ConfigurationError):
        v.verify(bad, at=NOW)


@pytest.mark.parametrize("element", [5, None, "MIIB...", 1.5])
@pytest.mark.parametrize("container", [list, tuple])
def test_chain_element_of_a_wrong_type(ch: pki.Chain, v: Verifier, element: Any,
                                       container: Any) -> None:  # fmt: skip
    """A chain element that is not DER bytes is the caller's mistake: ConfigurationError, not
    bytes(5) (five zero octets) verified as a certificate."""
    with pytest.raises(ConfigurationError, match="chain elements must be DER bytes"):
        v.verify(container([ch.leaf.der, element]), at=NOW)


@pytest.mark.parametrize("kind", [bytearray, memoryview])
def test_list_of_bytes_like(ch: pki.Chain, v: Verifier, kind: Any) -> None:
    """A list of bytearray / memoryview DER elements behaves like a list of bytes."""
    r = v.verify([kind(d) for d in ch.presented_der], at=NOW)
    assert r.status == "SUCCESS"
    assert r.chain == [*ch.presented_der, ch.root.der]
    assert r.fields()["cert_serial"] != ""


@pytest.mark.parametrize("shape", ["two-in-one", "empty-first"])
def test_list_element_not_one_certificate(ch: pki.Chain, v: Verifier, shape: str) -> None:
    """A list element that is not exactly one certificate is either split or refused."""
    leaf, inter = ch.presented_der
    chain = [leaf + inter] if shape == "two-in-one" else [b"", leaf, inter]
    r = v.verify(chain, at=NOW)
    if r.verified:
        assert r.chain == [*ch.presented_der, ch.root.der]
        assert r.fields()["cert_fingerprint_sha256"] == fastmtls.result.hashlib.sha256(
            ch.leaf.der).hexdigest()
    else:
        assert r.chain == [] and r.fields()["cert_presented"] is True


# ---- verification time -------------------------------------------------------------------------


@pytest.mark.parametrize("at", [
    NOW, NOW.astimezone(dt.timezone(dt.timedelta(hours=-7))), int(NOW.timestamp()),
    float(NOW.timestamp()) + 0.5])
def test_at_forms(ch: pki.Chain, v: Verifier, at: Any) -> None:
    """``at`` may be an aware datetime (any zone), an int or a float of unix seconds."""
    assert v.verify(ch.presented_der, at=at).verified


@pytest.mark.parametrize("at", [NOW.replace(tzinfo=None), "2026-06-01", True, [1]])
def test_at_invalid(ch: pki.Chain, v: Verifier, at: Any) -> None:
    """A naive datetime (ambiguous) and non-time values raise ConfigurationError."""
    with pytest.raises(ConfigurationError):
        v.verify(ch.presented_der, at=at)


def test_at_selects_validity(ch: pki.Chain, v: Verifier) -> None:
    """The verification time decides validity: before/after the window fails."""
    assert v.verify(ch.presented_der, at=NOW - dt.timedelta(days=3650)).reason == \
        Reason.CERT_NOT_YET_VALID
    assert v.verify(ch.presented_der, at=NOW + dt.timedelta(days=3650)).reason == \
        Reason.CERT_HAS_EXPIRED


def test_at_default_is_now() -> None:
    """Without ``at`` the current time is used."""
    now = dt.datetime.now(dt.timezone.utc)
    root = pki.ca(not_before=now - dt.timedelta(days=1), not_after=now + dt.timedelta(days=9))
    leaf = pki.leaf(root, not_before=now - dt.timedelta(days=1),
                    not_after=now + dt.timedelta(days=9))
    v = make_verifier(root)
    assert v.verify([leaf.der]).verified
    old = pki.leaf(root, not_before=now - dt.timedelta(days=9),
                   not_after=now - dt.timedelta(days=1))
    assert v.verify([old.der]).reason == Reason.CERT_HAS_EXPIRED


# ---- status codes and Reason -------------------------------------------------------------------


def test_every_status_maps_to_one_reason() -> None:
    """Each C status FM_ERR_X is Reason.X with the same value (FM_OK is Reason.OK), and back."""
    values = _ffi.status_values()
    assert len(values) == len(set(values))
    mapped = {}
    for value in values:
        name = _ffi.status_name(value)
        assert name is not None and name.startswith("FM_")
        short = "OK" if name == "FM_OK" else name.removeprefix("FM_ERR_")
        assert name == "FM_OK" or name.startswith("FM_ERR_")
        assert short in Reason.__members__, f"C status {name} ({value}) has no Reason member"
        assert Reason[short].value == value, name
        mapped[short] = value
    assert mapped == {m.name: m.value for m in Reason}
    assert len(Reason) == len(values)


def test_reason_messages_come_from_c() -> None:
    """Reason.message is the C core's message; unknown codes have no name."""
    for member in Reason:
        assert member.message == _ffi.message(member.value)
        assert member.message and member.message != "unknown status"
    assert Reason.CERT_HAS_EXPIRED.message == "certificate has expired"
    assert Reason.UNABLE_TO_GET_ISSUER_CERT_LOCALLY.message == \
        "unable to get local issuer certificate"
    assert Reason.DEPTH_ZERO_SELF_SIGNED_CERT.message == "self signed certificate"
    assert _ffi.status_name(99999) is None
    assert _ffi.message(99999) == "unknown status"


def test_status_strings(ch: pki.Chain, v: Verifier) -> None:
    """status is SUCCESS, NONE or FAILED:<OpenSSL wording>."""
    assert v.verify(ch.presented_der, at=NOW).status == "SUCCESS"
    assert v.verify([], at=NOW).status == "NONE"
    r = v.verify([ch.leaf.der], at=NOW)
    assert r.status == "FAILED:unable to get local issuer certificate"
    assert r.depth == 0


# ---- result cache ------------------------------------------------------------------------------


def test_cache_second_verify_is_cached(ch: pki.Chain, v: Verifier) -> None:
    """The same chain verified again is answered from the cache, with the same content."""
    r1 = v.verify(ch.presented_der, at=NOW)
    r2 = v.verify(ch.presented_der, at=NOW + dt.timedelta(days=1))
    assert r1.verified and not r1.cached
    assert r2.verified and r2.cached
    assert r2.chain == r1.chain and r2.anchor_name == r1.anchor_name
    assert r2.fields() == r1.fields()


def test_cache_not_used_outside_validity(ch: pki.Chain, v: Verifier) -> None:
    """A cached success is not returned at a time outside the chain's validity."""
    assert v.verify(ch.presented_der, at=NOW).verified
    late = v.verify(ch.presented_der, at=NOW + dt.timedelta(days=3650))
    assert not late.cached and late.reason == Reason.CERT_HAS_EXPIRED
    early = v.verify(ch.presented_der, at=NOW - dt.timedelta(days=3650))
    assert not early.cached and early.reason == Reason.CERT_NOT_YET_VALID
    assert v.verify(ch.presented_der, at=NOW).cached


def test_cache_holds_only_while_a_path_refused_for_time_stays_refused() -> None:
    """A cached answer holds at another time only while every path refused for its time at the
    first verification still is: a re-issued intermediate (same name and key, valid from
    tomorrow) beside the current one whose validity ends in five days, under two roots. Before
    the new one is valid the answer is the old path (anchor "old"); once it is valid, the search
    takes the new one first, so the cache must not keep answering with the old path (nor the
    old path's revocation once it is revoked)."""
    old_root, new_root = pki.ca("Old Root"), pki.ca("New Root")
    key = pki.make_key("p256")
    soon = NOW + dt.timedelta(days=1)
    new_i = pki.intermediate(new_root, "Rollover CA", key=key, not_before=soon)
    old_i = pki.intermediate(old_root, "Rollover CA", key=key,
                             not_after=NOW + dt.timedelta(days=5))  # fmt: skip
    leaf = pki.leaf(old_i)
    store = fastmtls.TrustStore()
    store.add_der(new_root.der, name="new")
    store.add_der(old_root.der, name="old")
    chain = [leaf.der, new_i.der, old_i.der]
    revs = fastmtls.RevocationSet.build(
        entries=[fastmtls.Revocation(old_root.der, old_i.cert.serial_number)])
    for kw in ({}, {"revocations": revs, "revocation_check": "chain"}):
        v = Verifier(store, **kw)
        first = v.verify(chain, at=NOW)
        assert (first.anchor_name, first.revoked) == ("old", bool(kw))
        for t in (soon, soon + dt.timedelta(days=2), NOW - dt.timedelta(days=1)):
            r = v.verify(chain, at=t)
            fresh = Verifier(store, result_cache_size=0, **kw).verify(chain, at=t)
            assert (r.anchor_name, r.revoked, r.chain) == (fresh.anchor_name, fresh.revoked,
                                                           fresh.chain), t  # fmt: skip
        assert v.verify(chain, at=soon).anchor_name == "new"
        # the other way round: first verified once the new path is valid, then before it was
        v = Verifier(store, **kw)
        assert v.verify(chain, at=soon).anchor_name == "new"
        before = v.verify(chain, at=NOW)
        assert (before.anchor_name, before.cached) == ("old", False)


def test_result_not_after_is_the_chains(ch: pki.Chain) -> None:
    """not_before / not_after are the validated chain's validity, also when stale CRLs are
    refused (the CRL's window bounds only how long the cached answer holds)."""
    import crls

    store = fastmtls.TrustStore()
    store.add_der(ch.root.der, name="root")
    issuer = ch.intermediates[0] if ch.intermediates else ch.root
    revs = fastmtls.RevocationSet.build([crls.crl(issuer)], cas=[issuer.der], at=NOW)
    v = Verifier(store, revocations=revs, expired_crl="deny", missing_crl="allow")
    r = v.verify(ch.presented_der, at=NOW)
    assert r.verified
    certs = [x509.load_der_x509_certificate(d) for d in r.chain]
    assert r.not_after == min(int(c.not_valid_after_utc.timestamp()) for c in certs)
    assert r.not_before == max(int(c.not_valid_before_utc.timestamp()) for c in certs)
    late = v.verify(ch.presented_der, at=crls.NEXT_UPDATE + dt.timedelta(seconds=1))
    assert not late.cached and late.reason == Reason.CRL_HAS_EXPIRED


def test_cache_invalidated_by_store_remove(ch: pki.Chain) -> None:
    """Removing the CA from the store makes the (cached) chain fail at once."""
    store = TrustStore()
    store.add_der(ch.root.der, name="root")
    store.add_der(pki.ca("Another Root").der, name="other")
    v = Verifier(store)
    assert v.verify(ch.presented_der, at=NOW).verified
    assert v.verify(ch.presented_der, at=NOW).cached
    store.remove("root")
    r = v.verify(ch.presented_der, at=NOW)
    assert not r.verified and not r.cached
    assert r.reason == Reason.UNABLE_TO_GET_ISSUER_CERT_LOCALLY


def test_cache_invalidated_by_association(ch: pki.Chain) -> None:
    """A new host association applies to a chain already cached for that host."""
    store = TrustStore()
    store.add_der(ch.root.der, name="root")
    store.add_der(pki.ca("Another Root").der, name="other")
    v = Verifier(store)
    host = "api.example.com"
    assert v.verify(ch.presented_der, host=host, at=NOW).verified
    assert v.verify(ch.presented_der, host=host, at=NOW).cached
    store.associate(host, ["other"])
    assert not v.verify(ch.presented_der, host=host, at=NOW).verified
    assert v.verify(ch.presented_der, host="else.example.com", at=NOW).verified


def test_cache_keyed_by_host_and_name() -> None:
    """A cached success for one host / expected name is not reused for another."""
    root = pki.ca()
    leaf = pki.leaf(root, eku=[pki.SERVER_AUTH], san=[pki.x509.DNSName("a.example.com")])
    v = make_verifier(root, purpose="server")
    assert v.verify([leaf.der], expected_name="a.example.com", at=NOW).verified
    assert v.verify([leaf.der], expected_name="a.example.com", at=NOW).cached
    r = v.verify([leaf.der], expected_name="b.example.com", at=NOW)
    assert not r.cached and r.reason == Reason.HOSTNAME_MISMATCH
    assert not v.verify([leaf.der], host="h.example.com", at=NOW).cached


def test_cache_clear_and_disable(ch: pki.Chain) -> None:
    """clear_caches() forgets results; result_cache_size=0 never caches."""
    v = make_verifier(ch.root)
    v.verify(ch.presented_der, at=NOW)
    v.clear_caches()
    assert not v.verify(ch.presented_der, at=NOW).cached
    off = make_verifier(ch.root, result_cache_size=0, signature_cache_size=0)
    for _ in range(3):
        r = off.verify(ch.presented_der, at=NOW)
        assert r.verified and not r.cached


def test_cache_never_caches_failures(ch: pki.Chain, v: Verifier) -> None:
    """A failure is recomputed, so a later store change can make it succeed."""
    assert not v.verify([ch.leaf.der], at=NOW).cached
    assert not v.verify([ch.leaf.der], at=NOW).cached


def test_cache_distinguishes_chains(ch: pki.Chain, v: Verifier) -> None:
    """A tampered copy of a cached chain is verified afresh and fails."""
    assert v.verify(ch.presented_der, at=NOW).verified
    bad = [pki.tamper_sig(ch.leaf.der), *ch.presented_der[1:]]
    r = v.verify(bad, at=NOW)
    assert not r.cached and r.reason == Reason.CERT_SIGNATURE_FAILURE


@pytest.mark.parametrize("depth", [0, 1])
def test_cache_distinguishes_certificates_with_one_signature(ch: pki.Chain, depth: int) -> None:
    """A certificate of the same length and signature as a cached one but another TBS (the
    caches' buckets are chosen from lengths and final bytes) is checked afresh and fails: with
    the result cache on or off, the signature cache warm."""
    for results in (4096, 0):
        v = make_verifier(ch.root, result_cache_size=results)
        assert v.verify(ch.presented_der, at=NOW).verified
        bad = list(ch.presented_der)
        bad[depth] = pki.tamper_tbs(bad[depth])
        assert len(bad[depth]) == len(ch.presented_der[depth])
        assert bad[depth][-32:] == ch.presented_der[depth][-32:]
        r = v.verify(bad, at=NOW)
        assert not r.cached and r.reason == Reason.CERT_SIGNATURE_FAILURE and r.depth == depth
        assert v.verify(ch.presented_der, at=NOW).verified


# ---- parsed intermediates (the verifier keeps those of validated paths parsed) ---------------


def _answer(r: VerifyResult) -> tuple[Any, ...]:
    return (r.status, r.depth, r.chain, r.anchor_name, r.sans, r.fields())


def test_parsed_intermediates_are_reused_with_the_same_answers() -> None:
    """A new leaf under known intermediates takes them parsed from the verifier's cache (none is
    parsed again: certs_reused), and every answer equals a verifier's without caches, for good
    leaves and for leaves that fail (a tampered signature, an expired leaf, a wrong name)."""
    ch = pki.chain(3)
    inters = ch.presented_der[1:]
    v = make_verifier(ch.root, result_cache_size=0)
    off = make_verifier(ch.root, result_cache_size=0, signature_cache_size=0)
    first = v.verify(ch.presented_der, at=NOW)
    assert first.verified and first._res.certs_reused == 0
    issuer = ch.intermediates[0]
    leaves = [pki.leaf(issuer, f"client {i}").der for i in range(3)]
    leaves += [pki.tamper_sig(leaves[0]),
               pki.leaf(issuer, "expired", not_after=NOW - dt.timedelta(days=1)).der]
    for leaf in leaves:
        got, want = v.verify([leaf, *inters], at=NOW), off.verify([leaf, *inters], at=NOW)
        assert _answer(got) == _answer(want)
        assert got._res.certs_reused == 3 and want._res.certs_reused == 0
    named = v.verify([leaves[1], *inters], at=NOW, expected_name="nothing.example")
    assert named.reason == Reason.HOSTNAME_MISMATCH and named._res.certs_reused == 3


def test_parsed_intermediates_are_still_checked_on_every_call() -> None:
    """Only parsing is skipped: a reused intermediate is checked again for the time, the store
    and the host's associations of each call."""
    ch = pki.chain(1)
    store = TrustStore()
    store.add_der(ch.root.der, name="root")
    v = Verifier(store, result_cache_size=0)
    assert v.verify(ch.presented_der, at=NOW).verified
    inter_end = ch.intermediates[0].cert.not_valid_after_utc
    late = v.verify(ch.presented_der, at=inter_end + dt.timedelta(days=1))
    assert late.reason == Reason.CERT_HAS_EXPIRED and late._res.certs_reused == 1
    other = pki.ca("Other Root")
    store.add_der(other.der, name="other")
    store.associate("only-other.example", ["other"])
    r = v.verify(ch.presented_der, at=NOW, host="only-other.example")
    assert not r.verified and r._res.certs_reused == 1
    store.remove("root")
    r = v.verify(ch.presented_der, at=NOW)
    assert r.reason == Reason.UNABLE_TO_GET_ISSUER_CERT_LOCALLY and r._res.certs_reused == 1


def test_only_intermediates_of_validated_paths_are_kept_parsed() -> None:
    """A client's chain that does not verify puts nothing in the cache (a client cannot fill it
    with its own certificates), nor is a leaf kept; a byte changed is another certificate."""
    ch = pki.chain(1)
    v = make_verifier(ch.root, result_cache_size=0)
    stranger = pki.chain(1)
    for _ in range(2):
        r = v.verify(stranger.presented_der, at=NOW)
        assert not r.verified and r._res.certs_reused == 0
    assert v.verify(ch.presented_der, at=NOW)._res.certs_reused == 0
    assert v.verify([ch.intermediates[0].der, ch.leaf.der], at=NOW)._res.certs_reused == 0
    tampered = pki.tamper_tbs(ch.intermediates[0].der)
    r = v.verify([ch.leaf.der, tampered], at=NOW)
    assert r.reason == Reason.CERT_SIGNATURE_FAILURE and r._res.certs_reused == 0
    v.clear_caches()
    assert v.verify(ch.presented_der, at=NOW)._res.certs_reused == 0


# ---- result objects reused on a thread (Verifier._verify_again, fm_verify_again) ---------------


def test_same_answer_returns_the_same_result_object(ch: pki.Chain, v: Verifier) -> None:
    """A warm verification returns the thread's last result object when the answer is equal."""
    first = v.verify(ch.presented_der, at=NOW)
    second = v.verify(ch.presented_der, at=NOW)
    third = v.verify(list(ch.presented_der), at=NOW + dt.timedelta(seconds=1))
    assert not first.cached and second.cached and second is not first
    assert third is second
    assert third.verified and third.chain == first.chain and third.fields() == first.fields()


def test_equal_answer_about_other_certificates_is_a_new_object(ch: pki.Chain, v: Verifier) -> None:
    """Two leaves of one issuer with the same validity get equal core results: each keeps its
    own certificates (subject, serial, fingerprint), however the calls alternate."""
    other = pki.leaf(ch.intermediates[0], "another client")
    chains = [ch.presented_der, [other.der, *ch.presented_der[1:]]]
    subjects = [ch.leaf.cert.subject.rfc4514_string(), other.cert.subject.rfc4514_string()]
    for c in chains:  # fill the result cache
        v.verify(c, at=NOW)
    seen = []
    for i in range(6):
        r = v.verify(chains[i % 2], at=NOW)
        assert r.cached and r.verified
        assert r.fields()["cert_subject_dn_rfc2253"] == subjects[i % 2]
        assert r.chain[0] == chains[i % 2][0]
        seen.append(r)
    assert all(a is not b for a, b in zip(seen, seen[1:]))


def test_value_equal_elements_of_other_bytes_are_other_certificates(
    ch: pki.Chain, v: Verifier
) -> None:
    """An element equal by value to the last call's but of other raw bytes (a memoryview of
    2-byte items holding the leaf's octets as numbers) is not the last call's certificate: the
    core's reading of its raw bytes decides, as for a verifier that never saw the first chain."""
    import array

    for _ in range(2):
        ok = v.verify(ch.presented_der, at=NOW)
    wide = memoryview(array.array("H", list(ch.leaf.der)))
    assert wide == ch.leaf.der and wide.tobytes() != ch.leaf.der
    r = v.verify([wide, *ch.presented_der[1:]], at=NOW)
    fresh = make_verifier(ch.root).verify([wide, *ch.presented_der[1:]], at=NOW)
    assert r is not ok and not r.verified
    assert r.status == fresh.status and r.presented_chain == fresh.presented_chain


def test_an_element_changed_while_the_core_reads_it_is_verified_as_it_is(
    ch: pki.Chain, v: Verifier
) -> None:
    """A buffer whose content changes between the core's reading and the result's copy (another
    thread writing a bytearray mid-call; here a bytearray whose bytes() differs from its buffer)
    is verified again as it is now: the result never describes bytes the core did not verify."""
    stranger = pki.chain(1).leaf.der

    class Shifting(bytearray):
        def __bytes__(self) -> bytes:
            return stranger

    r = v.verify([Shifting(ch.leaf.der), *ch.presented_der[1:]], at=NOW)
    assert r.presented_chain[0] == stranger
    assert not r.verified and r.fields()["cert_verified"] is False
    assert v.verify(ch.presented_der, at=NOW).verified


def test_revocation_swap_changes_the_returned_object(ch: pki.Chain, v: Verifier) -> None:
    """A swap that revokes the leaf gives a new, revoked result at once; swapping back, not."""
    for _ in range(2):
        clean = v.verify(ch.presented_der, at=NOW)
    rev = fastmtls.Revocation(issuer=ch.intermediates[0].der, serial=ch.leaf.cert.serial_number)
    v.revocations = fastmtls.RevocationSet.build(entries=[rev])
    revoked = v.verify(ch.presented_der, at=NOW)
    assert revoked is not clean and revoked.revoked and not clean.revoked
    assert v.verify(ch.presented_der, at=NOW).revoked
    v.revocations = None
    again = v.verify(ch.presented_der, at=NOW)
    assert not again.revoked and again.verified


def test_store_change_gives_a_result_of_the_new_store(ch: pki.Chain) -> None:
    """An equal core answer under a new trust store snapshot is a new object naming the anchor
    as the new store does."""
    store = TrustStore()
    store.add_der(ch.root.der, name="root")
    v = Verifier(store)
    for _ in range(2):
        before = v.verify(ch.presented_der, at=NOW)
    store.remove("root")
    store.add_der(ch.root.der, name="renamed")
    for _ in range(2):
        after = v.verify(ch.presented_der, at=NOW)
    assert after is not before
    assert before.anchor_name == "root" and after.anchor_name == "renamed"


def test_failure_after_success_on_one_thread(ch: pki.Chain, v: Verifier) -> None:
    """Results alternate between success and failure without carrying anything over."""
    bad = [pki.tamper_sig(ch.leaf.der), *ch.presented_der[1:]]
    for _ in range(3):
        ok = v.verify(ch.presented_der, at=NOW)
        ko = v.verify(bad, at=NOW)
        assert ok.verified and ok.status == "SUCCESS"
        assert ko.reason == Reason.CERT_SIGNATURE_FAILURE and ko.status.startswith("FAILED:")
    assert ok.verified  # the earlier object did not change


def test_result_objects_are_per_thread(ch: pki.Chain, v: Verifier) -> None:
    """Threads alternating between two chains on one verifier each get their own answers."""
    import threading

    other = pki.leaf(ch.intermediates[0], "thread client")
    chains = [ch.presented_der, [other.der, *ch.presented_der[1:]]]
    errors: list[str] = []

    def work(k: int) -> None:
        for i in range(2000):
            c = chains[(i + k) % 2]
            r = v.verify(c, at=NOW)
            if not r.verified or r.chain[0] != c[0]:
                errors.append(f"thread {k} call {i}: {r.status}")
                return

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


# ---- result content ----------------------------------------------------------------------------


def test_result_chain_and_anchor_name() -> None:
    """chain is the validated DER leaf..anchor; anchor_name the store name of the anchor."""
    ch = pki.chain(2)
    store = TrustStore()
    store.add_der(pki.ca("Unrelated").der, name="first")
    store.add_der(ch.root.der, name="clients")
    r = Verifier(store).verify(ch.presented_der, at=NOW)
    assert r.verified and r.depth is None and bool(r)
    assert r.chain == [*ch.presented_der, ch.root.der]
    assert r.anchor_name == "clients"
    assert r.not_before is not None and r.not_after is not None
    assert r.not_before <= int(NOW.timestamp()) <= r.not_after


def test_result_chain_skips_unused_presented(ch: pki.Chain, v: Verifier) -> None:
    """Presented certificates not on the path are not in chain, but stay in presented_chain."""
    stray = pki.ca("Stray CA").der
    r = v.verify([ch.leaf.der, stray, *ch.presented_der[1:]], at=NOW)
    assert r.verified
    assert r.chain == [*ch.presented_der, ch.root.der]
    assert r.presented_chain == [ch.leaf.der, stray, *ch.presented_der[1:]]


def test_result_sans_by_type(ch: pki.Chain, v: Verifier) -> None:
    """sans: the presented leaf's subjectAltName entries by type, whatever the verification
    said; empty lists without a SAN; {} without a certificate."""
    import ipaddress

    san = [x509.DNSName("a.example"), x509.DNSName("*.b.example"),
           x509.IPAddress(ipaddress.ip_address("192.0.2.1")),
           x509.IPAddress(ipaddress.ip_address("2001:db8::1")),
           x509.RFC822Name("client@example.com"),
           x509.UniformResourceIdentifier("spiffe://example.org/ns/a/sa/b")]  # fmt: skip
    leaf = pki.leaf(ch.intermediates[0], san=san)
    r = v.verify([leaf.der, *ch.presented_der[1:]], at=NOW)
    assert r.verified
    assert r.sans == {"dns": ["a.example", "*.b.example"], "ip": ["192.0.2.1", "2001:db8::1"],
                      "email": ["client@example.com"],
                      "uri": ["spiffe://example.org/ns/a/sa/b"]}  # fmt: skip
    r.sans["dns"].append("mutated")  # a copy: the result stays as it was
    assert r.sans["dns"] == ["a.example", "*.b.example"]
    failed = v.verify([leaf.der], at=NOW)  # no intermediate: FAILED, SANs still readable
    assert not failed.verified and failed.sans["email"] == ["client@example.com"]
    no_san = pki.leaf(ch.intermediates[0], san=None)
    assert v.verify([no_san.der], at=NOW).sans == {"dns": [], "ip": [], "email": [], "uri": []}
    assert v.verify([], at=NOW).sans == {}


def test_result_sans_match_cryptography_and_skip_other_name_forms(ch: pki.Chain,
                                                                   v: Verifier) -> None:
    """sans lists what cryptography lists for the same leaf, in order, and leaves out name forms
    other than DNS, IP, e-mail and URI."""
    import ipaddress

    from cryptography.x509.oid import ObjectIdentifier

    san = [x509.OtherName(ObjectIdentifier("1.3.6.1.4.1.311.20.2.3"), b"\x0c\x03u@x"),
           x509.DNSName("one.example"),
           x509.DirectoryName(x509.Name.from_rfc4514_string("CN=dir")),
           x509.RegisteredID(ObjectIdentifier("1.2.3.4")),
           x509.IPAddress(ipaddress.ip_address("10.0.0.1")), x509.DNSName("two.example"),
           x509.UniformResourceIdentifier("https://example.org/a?b=c"),
           x509.RFC822Name("a@b.example")]  # fmt: skip
    leaf = pki.leaf(ch.intermediates[0], san=san)
    got = v.verify([leaf.der, *ch.presented_der[1:]], at=NOW).sans
    ext = x509.load_der_x509_certificate(leaf.der).extensions
    want = ext.get_extension_for_class(x509.SubjectAlternativeName).value
    assert got == {
        "dns": want.get_values_for_type(x509.DNSName),
        "ip": [str(a) for a in want.get_values_for_type(x509.IPAddress)],
        "email": want.get_values_for_type(x509.RFC822Name),
        "uri": want.get_values_for_type(x509.UniformResourceIdentifier),
    }
    assert got["dns"] == ["one.example", "two.example"]


def test_sans_by_type_on_raw_general_names() -> None:
    """The GeneralNames decoder alone: non-ASCII octets of an IA5 string print as \\xNN, an
    iPAddress of another length than 4 or 16 is left out, malformed DER gives empty lists."""
    from fastmtls._sans import empty_sans, sans_by_type

    def tlv(tag: int, value: bytes) -> bytes:
        return bytes([tag, len(value)]) + value

    names = tlv(0x30, tlv(0x82, b"caf\xc3\xa9.example") + tlv(0x87, b"\x01\x02\x03")
                + tlv(0x87, b"\xc0\x00\x02\x01"))  # fmt: skip
    assert sans_by_type(names) == {"dns": ["caf\\xc3\\xa9.example"], "ip": ["192.0.2.1"],
                                   "email": [], "uri": []}  # fmt: skip
    for bad in (b"", b"\x30", b"\x30\x05\x82\x09abc", b"\x31\x00", names[:-1]):
        assert sans_by_type(bad) == empty_sans()


def _with_duplicate_san(issuer: pki.Cert) -> bytes:
    """A leaf whose DER carries two subjectAltName extensions (cryptography will not build one:
    a same-length placeholder OID is renamed after signing, so the signature no longer holds)."""
    from cryptography.x509.oid import ObjectIdentifier

    placeholder = ObjectIdentifier("2.5.29.99")  # DER 06 03 55 1d 63, as long as 2.5.29.17
    second = x509.UnrecognizedExtension(placeholder, bytes.fromhex("300b8209632e6578616d706c65"))
    der = pki.leaf(issuer, extra_extensions=[(second, False)]).der
    assert der.count(bytes.fromhex("0603551d63")) == 1
    return der.replace(bytes.fromhex("0603551d63"), bytes.fromhex("0603551d11"))


@pytest.mark.parametrize("kind", ["duplicate-san", "malformed-san", "garbage"])
def test_result_sans_of_hostile_leaf_never_raise(ch: pki.Chain, v: Verifier, kind: str) -> None:
    """A client's leaf with two SAN extensions, an undecodable SAN, or no certificate at all in
    the bytes: the result is FAILED and sans is empty lists, never an exception."""
    from cryptography.x509.oid import ExtensionOID

    if kind == "duplicate-san":
        der = _with_duplicate_san(ch.intermediates[0])
    elif kind == "malformed-san":
        bad = x509.UnrecognizedExtension(ExtensionOID.SUBJECT_ALTERNATIVE_NAME, b"\x30\x03\x82\x01")
        der = pki.leaf(ch.intermediates[0], san=None, extra_extensions=[(bad, False)]).der
    else:
        der = b"\x30\x03\x02\x01\x00"
    r = v.verify([der, *ch.presented_der[1:]], at=NOW)
    assert not r.verified
    assert r.sans == {"dns": [], "ip": [], "email": [], "uri": []}


def test_failed_result_content(ch: pki.Chain, v: Verifier) -> None:
    """A failed result has no chain, no anchor, no validity window, but leaf fields."""
    r = v.verify([ch.leaf.der], at=NOW)
    assert r.chain == [] and r.anchor_name is None and r.not_before is None
    f = r.fields()
    assert f["cert_presented"] is True and f["cert_verified"] is False
    assert f["cert_serial"] != "" and f["cert_subject_dn"] != ""


def test_failed_result_issuer_fields_prefer_the_key_the_leaf_names() -> None:
    """A failed chain's cert_issuer_serial / cert_issuer_ski come from a presented certificate
    that names the leaf's issuer, the one whose key the leaf's authorityKeyIdentifier names
    first: a decoy of the same name sent before the real issuer is passed over."""
    root = pki.ca("Issuer Fields Root")
    real = pki.intermediate(root, "Same Name CA")
    decoy = pki.intermediate(root, "Same Name CA")
    leaf = pki.leaf(real)
    v = Verifier(fastmtls.TrustStore())  # trusts nothing: the chain fails
    f = v.verify([leaf.der, decoy.der, real.der], at=NOW).fields()
    assert f["cert_verified"] is False
    assert f["cert_issuer_serial"] == _serial_hex(real.cert.serial_number)
    ski = real.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    assert f["cert_issuer_ski"] == ski.hex().upper()
    # without a match by key, the first one of the name
    other = pki.leaf(pki.intermediate(root, "Same Name CA"))
    f = v.verify([other.der, decoy.der, real.der], at=NOW).fields()
    assert f["cert_issuer_serial"] == _serial_hex(decoy.cert.serial_number)


def test_failed_result_issuer_fields_from_configured_cas() -> None:
    """A failed chain whose leaf's issuer was not presented takes cert_issuer_serial /
    cert_issuer_ski from the verifier's intermediates, then from the trusted CAs, the one whose
    key the leaf's authorityKeyIdentifier names first; with no certificate of that name
    anywhere they stay empty."""
    root = pki.ca("Configured Issuer Root")
    decoy_root = pki.ca("Configured Issuer Root")  # same name, another key, trusted first
    inter = pki.intermediate(root, "Configured Issuer CA")
    expired = dt.timedelta(days=400)
    store = TrustStore()
    store.add_der(decoy_root.der, name="decoy")
    store.add_der(root.der, name="root")

    def ski(c: pki.Cert) -> str:
        ext = c.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        return ext.value.digest.hex().upper()

    # issued by the trusted root itself, refused for its validity
    old = pki.issue(subject="expired client", issuer=root, eku=[pki.CLIENT_AUTH],
                    not_before=NOW - expired, not_after=NOW - dt.timedelta(days=1))  # fmt: skip
    r = Verifier(store).verify([old.der], at=NOW)
    assert r.status == "FAILED:certificate has expired"
    f = r.fields()
    assert f["cert_issuer_serial"] == _serial_hex(root.cert.serial_number)
    assert f["cert_issuer_ski"] == ski(root)
    # under an intermediate the verifier was given, not the client
    old = pki.issue(subject="expired client", issuer=inter, eku=[pki.CLIENT_AUTH],
                    not_before=NOW - expired, not_after=NOW - dt.timedelta(days=1))  # fmt: skip
    r = Verifier(store, intermediates=[inter.der]).verify([old.der], at=NOW)
    assert r.status == "FAILED:certificate has expired"
    assert r.fields()["cert_issuer_serial"] == _serial_hex(inter.cert.serial_number)
    assert r.fields()["cert_issuer_ski"] == ski(inter)
    # the same intermediate unknown to this verifier: no issuer to name
    r = Verifier(store).verify([old.der], at=NOW)
    assert r.status == "FAILED:unable to get local issuer certificate"
    assert r.fields()["cert_issuer_serial"] == "" and r.fields()["cert_issuer_ski"] == ""
    assert r.fields()["cert_issuer_dn"] == "CN=Configured Issuer CA"


def test_unhashable_host_is_a_configuration_error(ch: pki.Chain, v: Verifier) -> None:
    """verify(list_of_der, host=["x"]) raised TypeError from the host cache; it is the
    ConfigurationError every other bad host gives."""
    for host in (["x"], {"x": 1}, b"x", 5):
        with pytest.raises(ConfigurationError, match="host"):
            v.verify(ch.presented_der, host=host, at=NOW)  # type: ignore[arg-type]


def test_expected_email_with_a_non_ascii_domain() -> None:
    """An expected e-mail address whose domain is not ASCII matches the SAN that spells it in
    A-labels (RFC 8398: the domain part as IDNA), as an expected DNS name does; it never
    matched."""
    root = pki.ca("Email IDNA Root")
    leaf = pki.leaf(root, san=[x509.RFC822Name("user@xn--bcher-kva.de")])
    v = Verifier(TrustStore())
    v.store.add_der(root.der, name="root")
    for name in ("user@bücher.de", "user@BÜCHER.de", "user@xn--bcher-kva.de"):
        assert v.verify([leaf.der], at=NOW, expected_name=name).verified, name
    assert v.verify([leaf.der], at=NOW, expected_name="user@bucher.de").reason == \
        fastmtls.Reason.EMAIL_MISMATCH


def test_issuer_index_is_kept_by_each_pool() -> None:
    """The by-subject index of a store snapshot's anchors (and of a verifier's intermediates)
    is built once and kept with that pool, however many stores a process has (a cache of 16
    pools shared by the process thrashed past 16 stores: every failed result parsed every
    anchor again)."""
    from fastmtls._certinfo import CertPool, by_subject

    stores = [TrustStore() for _ in range(20)]
    for i, st in enumerate(stores):
        st.add_der(pki.ca(f"Pool Root {i}").der, name="root")
    pools = [st._snapshot.anchors for st in stores]
    assert all(isinstance(p, CertPool) for p in pools)
    first = [by_subject(p) for p in pools]
    assert all(by_subject(p) is idx for p, idx in zip(pools, first))
    assert isinstance(Verifier(stores[0], intermediates=[])._inters, CertPool)


def test_fields_key_set(ch: pki.Chain, v: Verifier) -> None:
    """fields() has exactly FIELD_NAMES as keys, strings and booleans only."""
    f = v.verify(ch.presented_der, at=NOW).fields()
    assert tuple(f) == FIELD_NAMES or set(f) == set(FIELD_NAMES)
    assert set(f) == set(fastmtls.FIELD_NAMES)
    assert all(isinstance(x, (str, bool)) for x in f.values())
    assert f["cert_presented"] is True and f["cert_verified"] is True
    assert f["cert_revoked"] is False
    assert f["cert_issuer_serial"] == _serial_hex(ch.intermediates[0].cert.serial_number)
    assert f["cert_serial"] == _serial_hex(ch.leaf.cert.serial_number)


def _serial_hex(n: int) -> str:
    """OpenSSL i2a_ASN1_INTEGER: the magnitude's octets, two upper-case hex digits each."""
    return n.to_bytes(max(1, (n.bit_length() + 7) // 8), "big").hex().upper()


def test_fields_of_none_result(v: Verifier) -> None:
    """A NONE result has every string field "" and every boolean False (Cloudflare)."""
    f = v.verify([], at=NOW).fields()
    assert set(f) == set(FIELD_NAMES)
    for name, value in f.items():
        assert value in ("", False), name
        assert isinstance(value, bool) == name.endswith(
            ("presented", "verified", "revoked", "too_large")), name
    assert v.verify([], at=NOW).as_dict()["status"] == "NONE"


def test_run_verify_helper(ch: pki.Chain) -> None:
    """conftest's helper verifies pki.Cert objects at pki.NOW."""
    assert run_verify(make_verifier(ch.root), ch.presented).verified


def test_conftest_fixtures(root: pki.Cert, inter: pki.Cert, good_leaf: pki.Cert,
                           verify: Any) -> None:
    """The shared fixtures: a root, an intermediate, a leaf and a ready verify helper."""
    r = verify([good_leaf, inter])
    assert r.status == "SUCCESS" and r.anchor_name == "root"
    assert r.chain == [good_leaf.der, inter.der, root.der]
    assert verify([good_leaf]).reason == Reason.UNABLE_TO_GET_ISSUER_CERT_LOCALLY
    assert verify([good_leaf, inter], at=NOW + dt.timedelta(days=4000)).reason == \
        Reason.CERT_HAS_EXPIRED


def test_host_association_trailing_dot_in_core() -> None:
    """A trailing dot on the host (as a client's SNI may carry) does not escape its association:
    the C core normalises it, not only the Python layer."""
    from fastmtls._ffi import ffi, lib

    ca_a, ca_b = pki.ca("CA A"), pki.ca("CA B")
    leaf_b = pki.leaf(ca_b, "b-client")
    store = fastmtls.TrustStore()
    store.add_der(ca_a.der, name="a")
    store.add_der(ca_b.der, name="b")
    store.associate("api.example.com", ["a"])
    v = fastmtls.Verifier(store)
    res = ffi.new("fm_result *")
    for host in (b"api.example.com", b"api.example.com.", b"API.Example.COM.."):
        lib.fm_verify(v._ptr, store._snapshot.ptr, ffi.NULL, leaf_b.der, len(leaf_b.der), host,
                      len(host), int(NOW.timestamp()), 0, b"", 0, res)  # fmt: skip
        assert res.status == fastmtls.Reason.UNABLE_TO_GET_ISSUER_CERT_LOCALLY, host


@pytest.mark.skipif(not sysconfig.get_config_var("Py_GIL_DISABLED"),
                    reason="needs a free-threaded interpreter (3.14t)")
def test_free_threaded_import_leaves_the_gil_off() -> None:
    """The compiled core is declared safe without the GIL: importing it (and the hook module)
    must not turn the GIL back on, or every verification would be serialised again."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHON_GIL"}
    code = "import sys, fastmtls, fastmtls.ssl; print(sys._is_gil_enabled())"
    out = subprocess.run([sys.executable, "-W", "error", "-c", code], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_issuer_fields_follow_the_validated_path() -> None:
    """Two anchors with one name and key (a re-issued root, other serial and SKI): which one
    validates depends on the host's associations. The issuer fields of each result name its own
    path's anchor, also when one Verifier formatted the other result first (its fields memo)."""
    key = pki.make_key("p256")
    roots = [
        pki.issue(
            subject="Re-issued Root", key=key, ca=True, serial=serial, ski=True, aki=False,
            key_usage=["key_cert_sign", "crl_sign"],
        )
        for serial in (0x1111, 0x2222)
    ]
    leaf = pki.issue(subject="client", issuer=roots[0], eku=[pki.CLIENT_AUTH],
                     san=list(pki.CLIENT_SAN))  # fmt: skip
    store = TrustStore()
    store.add_der(roots[0].der, name="first")
    store.add_der(roots[1].der, name="second")
    store.associate("a.example", ["first"])
    store.associate("b.example", ["second"])
    verifier = Verifier(store)
    for host, root in (("a.example", roots[0]), ("b.example", roots[1]), ("a.example", roots[0])):
        res = verifier.verify([leaf.der], host=host, at=pki.NOW)
        assert res.verified and res.chain[-1] == root.der
        f = res.fields()
        ski = root.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        assert f["cert_issuer_serial"] == f"{root.cert.serial_number:X}", host
        assert f["cert_issuer_ski"] == ski.digest.hex().upper(), host


# ---- third review: buffers, hosts, PEM time, store swap, argument types -----------------------


def test_reused_buffer_gives_the_new_clients_result() -> None:
    """A gateway that reads each client's certificate into one reused bytearray gets a result
    about the certificate it holds now, not the previous client's (the fast path's result keeps
    its own copy of what was presented)."""
    root = pki.ca("Buffer Root")
    alice = pki.leaf(root, "alice", san=[x509.DNSName("alice.example")])
    bob = pki.leaf(root, "bob", san=[x509.DNSName("bob.example")])
    v = make_verifier(root)
    buf = bytearray(alice.der)
    first = v.verify([buf], at=pki.NOW)
    assert first.fields()["cert_subject_dn"] == "CN=alice"
    buf[:] = bob.der
    second = v.verify([buf], at=pki.NOW)
    assert second.fields()["cert_subject_dn"] == "CN=bob"
    assert second.sans["dns"] == ["bob.example"] and first.sans["dns"] == ["alice.example"]


def test_reused_list_and_elements_give_the_new_chains_result() -> None:
    """The fast path keeps its last call's elements to skip joining the same certificates again:
    a list edited in place, an element replaced by equal bytes or by another certificate, and an
    element whose comparison raises are each verified as they are now."""
    root = pki.ca("List Root")
    inter = pki.intermediate(root, "List Intermediate")
    alice = pki.leaf(inter, "alice")
    bob = pki.leaf(inter, "bob")
    stranger = pki.leaf(pki.ca("Other Root"), "stranger")
    v = make_verifier(root)
    chain = [alice.der, inter.der]
    v.verify(chain, at=pki.NOW)  # computed; then answered from the result cache
    first = v.verify(chain, at=pki.NOW)
    assert first.verified and first.fields()["cert_subject_dn"] == "CN=alice"
    assert v.verify(list(chain), at=pki.NOW) is first  # equal certificates: the same answer
    assert v.verify([bytes(alice.der), bytes(inter.der)], at=pki.NOW) is first
    chain[0] = bob.der  # the caller's list edited in place
    second = v.verify(chain, at=pki.NOW)
    assert second.verified and second.fields()["cert_subject_dn"] == "CN=bob"
    chain.pop()  # the intermediate left out: bob's issuer is no longer known
    third = v.verify(chain, at=pki.NOW)
    assert third.status == "FAILED:unable to get local issuer certificate"
    chain[0] = stranger.der
    assert v.verify(chain, at=pki.NOW).status == "FAILED:unable to get local issuer certificate"

    class Touchy(bytearray):
        def __eq__(self, other: object) -> bool:
            raise ValueError("no comparisons")

        __hash__ = None  # type: ignore[assignment]

    res = v.verify([Touchy(alice.der), inter.der], at=pki.NOW)
    assert res.verified and res.fields()["cert_subject_dn"] == "CN=alice"
    res = v.verify([Touchy(bob.der), inter.der], at=pki.NOW)  # after a call with the same type
    assert res.verified and res.fields()["cert_subject_dn"] == "CN=bob"



def test_pem_chain_of_begin_lines_is_linear() -> None:
    """448 KB of BEGIN lines without an END (under max_input_size) is a FAILED result at once:
    the PEM scanner no longer rescans to the end for each BEGIN (73 s before)."""
    v = make_verifier(pki.ca("PEM Root"))
    data = b"-----BEGIN CERTIFICATE-----\n" * 16000
    t0 = time.process_time()
    res = v.verify(data, at=pki.NOW)
    assert res.status.startswith("FAILED:") or res.status == "NONE", res.status
    assert time.process_time() - t0 < 2.0


def _tenants() -> tuple[Verifier, pki.Cert, pki.Cert]:
    ca_a, ca_b = pki.ca("Tenant A CA"), pki.ca("Tenant B CA")
    store = TrustStore()
    store.add_der(ca_a.der, name="a")
    store.add_der(ca_b.der, name="b")
    store.associate("api.example.com", ["a"])
    store.associate("*.example.com", ["a"])
    return Verifier(store), ca_a, pki.leaf(ca_b, "tenant b client")


@pytest.mark.parametrize("host", ["api.example.com", "API.example.com.", "api.example.com ",
                                  "\tapi.example.com", "x.example.com", "x.example.com\t"])
def test_host_spellings_keep_the_association(host: str) -> None:
    """White space and trailing dots around a host (a Host header's) are dropped, as associate()
    drops them: tenant B's client stays refused at tenant A's hosts."""
    v, _, b_leaf = _tenants()
    res = v.verify([b_leaf.der], host=host, at=pki.NOW)
    assert res.status == "FAILED:unable to get local issuer certificate", (host, res.status)


@pytest.mark.parametrize("host", ["x..example.com", ".example.com", "api .example.com",
                                  "ü..example.com", "\udcff.example.com",
                                  "api.example.com\x00", "   ", "api.example.com:8443",
                                  "API.example.com.:443", "api.example.com:", "api.example.com/",
                                  "user@api.example.com", "x.example.com%eth0",
                                  "[api.example.com]", "10.0.0.5:8443", "abc.de:443",
                                  "cafe:8443", "010.0.0.5", "10.0.0.05", "0x0a.0.0.5", "10.5",
                                  "167772165", "1.2.3.4.5", "256.0.0.1", "api.example.0x",
                                  "api.example.123", "0X0A000005"])  # fmt: skip
def test_malformed_hosts_trust_no_ca(host: str) -> None:
    """A host that is not a host name (an SNI or Host header is the client's) is never an
    exception, and with host associations in the store it trusts no CA: an odd spelling cannot
    escape an association into "every CA". A port, a path or user info make it not a host
    (a Host header passed as it is: "api.example.com:8443" used to count as another host, with
    no association, so every CA)."""
    v, ca_a, b_leaf = _tenants()
    res = v.verify([b_leaf.der], host=host, at=pki.NOW)
    assert res.status == "FAILED:unable to get local issuer certificate", (host, res.status)
    a_leaf = pki.leaf(ca_a, "tenant a client")
    assert not v.verify([a_leaf.der], host=host, at=pki.NOW).verified
    plain = Verifier(TrustStore())  # no associations: hosts do not matter
    plain.store.add_der(ca_a.der, name="a")
    assert plain.verify([a_leaf.der], host=host, at=pki.NOW).verified


def test_store_batch_publishes_one_snapshot() -> None:
    """TrustStore.batch(): 40 tenants' CAs and hosts added in one block make one new snapshot
    (each change alone rebuilds the whole store: O(n^2) for n tenants), and verifications see
    none of it until the block ends."""
    store = TrustStore()
    v = Verifier(store)
    cas = [pki.ca(f"Batch Tenant {i}") for i in range(40)]
    leaf = pki.leaf(cas[7], "batch client")
    before = store.generation
    with store.batch() as b:
        assert b is store
        for i, ca in enumerate(cas):
            store.add_der(ca.der, name=f"t{i}")
            store.associate(f"t{i}.example", [f"t{i}"])
        with store.batch():  # nested: part of the outer one
            store.associate("shared.example", ["t1", "t7"])
        assert store.generation == before
        assert not v.verify([leaf.der], at=NOW, host="t7.example").verified
    assert store.generation != before and len(store) == 40
    assert v.verify([leaf.der], at=NOW, host="t7.example").verified
    assert v.verify([leaf.der], at=NOW, host="shared.example").verified
    assert not v.verify([leaf.der], at=NOW, host="t6.example").verified


def test_store_batch_inner_batch_all_or_nothing_and_invisible_until_the_end() -> None:
    """A batch inside a batch that raises leaves none of its changes (the outer one goes on);
    a batch's changes are invisible, also to names(), until it ends, and changes another
    thread makes meanwhile are kept (the batch is applied onto the store as it then is). The
    store is not locked while the block runs: another thread swapping a verifier's store and
    installing a hook meanwhile does not wait for it (it used to deadlock against the store's
    lock, held for the whole block)."""
    import ssl

    import fastmtls.ssl as fssl

    store = TrustStore()
    cas = {n: pki.ca(f"Nested {n}") for n in ("inner", "outer", "other", "late")}
    v = Verifier(store)
    with store.batch():
        with pytest.raises(RuntimeError), store.batch():
            store.add_der(cas["inner"].der, name="inner")
            raise RuntimeError("inner block failed")
        store.add_der(cas["outer"].der, name="outer")
        assert store.names() == [] and len(store) == 0
        done = threading.Event()

        def other_thread() -> None:
            store.add_der(cas["other"].der, name="other")  # committed at once
            v.store = TrustStore()
            v.store = store
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            if fssl.available():
                fssl.install(ctx, v, send_ca_names=True)
            done.set()

        t = threading.Thread(target=other_thread)
        t.start()
        assert done.wait(10), "another thread's changes waited for the batch"
        t.join()
        assert store.names() == ["other"]
    assert store.names() == ["other", "outer"]
    leaf = pki.leaf(cas["outer"], "nested client")
    assert v.verify([leaf.der], at=NOW).verified


def test_twenty_thousand_associations() -> None:
    """Associations are found through a hash index (they were scanned, per verification and per
    association added: 400,000 hosts took five minutes to associate): exact hosts, wildcards,
    a replaced association and an unassociated host among 20,000."""
    a, b = pki.ca("Many Hosts A"), pki.ca("Many Hosts B")
    store = TrustStore()
    with store.batch():
        store.add_der(a.der, name="a")
        store.add_der(b.der, name="b")
        for i in range(10_000):
            store.associate(f"h{i}.example", ["a"])
            store.associate(f"*.w{i}.example", ["b"])
        store.associate("h5.example", ["b"])  # replaces
    assert len(store.associations()) == 20_000
    v = Verifier(store)
    la, lb = pki.leaf(a, "many a"), pki.leaf(b, "many b")
    for host, leaf in (("h0.example", la), ("h9999.example", la), ("H42.Example.", la),
                       ("x.w77.example", lb), ("h5.example", lb), ("unlisted.example", la),
                       ("unlisted.example", lb), ("w77.example", la), ("a.b.w77.example", lb)):
        # (w77.example itself has no association; a.b.w77.example is below *.w77.example)
        assert v.verify([leaf.der], at=NOW, host=host).verified, host
    for host, leaf in (("h0.example", lb), ("x.w77.example", la), ("h5.example", la),
                       ("a.b.w77.example", la)):
        assert not v.verify([leaf.der], at=NOW, host=host).verified, host


def test_the_nearest_wildcard_above_a_host_applies() -> None:
    """``*.example.com`` covers every name below example.com, as nginx's and Envoy's wildcard
    server names route them all to one backend; a nearer wildcard or the exact host wins. A
    wildcard used to cover one label only, so x.api.example.com, routed to the *.example.com
    backend, trusted every CA in the store (found by review)."""
    a, b, c = pki.ca("Wild A"), pki.ca("Wild B"), pki.ca("Wild C")
    store = TrustStore()
    for name, ca in (("a", a), ("b", b), ("c", c)):
        store.add_der(ca.der, name=name)
    store.associate("*.example.com", ["a"])
    store.associate("*.api.example.com", ["b"])
    store.associate("exact.x.api.example.com", ["c"])
    v = Verifier(store)
    leaves = {name: pki.leaf(ca, f"wild {name}").der for name, ca in (("a", a), ("b", b), ("c", c))}
    for host, trusted in (("www.example.com", "a"), ("x.y.z.example.com", "a"),
                          ("x.api.example.com", "b"), ("deep.x.api.example.com", "b"),
                          ("exact.x.api.example.com", "c"), ("api.example.com", "a"),
                          ("example.com", "abc"), ("other.test", "abc")):  # fmt: skip
        for name, der in leaves.items():
            assert v.verify([der], at=NOW, host=host).verified == (name in trusted), (host, name)


def test_store_batch_is_all_or_nothing() -> None:
    """A batch whose block raises, or whose snapshot cannot be built (a CA that is no CA, found
    when the block ends), changes nothing; the error propagates."""
    store = TrustStore()
    root = pki.ca("Batch Root")
    store.add_der(root.der, name="root")
    before = (store.generation, store.names(), store.associations())
    with pytest.raises(RuntimeError), store.batch():
        store.add_der(pki.ca("Batch Other").der, name="other")
        store.associate("x.example", ["other"])
        raise RuntimeError("operator code failed")
    assert (store.generation, store.names(), store.associations()) == before
    leaf = pki.leaf(root, "not a CA")
    with pytest.raises(fastmtls.NotACAError), store.batch():
        store.add_der(pki.ca("Batch Third").der, name="third")
        store.add_der(leaf.der, name="leaf")
    assert (store.generation, store.names(), store.associations()) == before


def test_store_can_be_swapped() -> None:
    """verifier.store = other: the next verifications read the other store (README's hot swap);
    the old store's changes no longer reach the verifier."""
    root, other = pki.ca("Swap Root"), pki.ca("Swap Other")
    leaf = pki.leaf(root, "swapped client")
    v = make_verifier(other)
    assert not v.verify([leaf.der], at=pki.NOW).verified
    old = v.store
    new = TrustStore()
    new.add_der(root.der, name="root")
    v.store = new
    assert v.store is new and v.verify([leaf.der], at=pki.NOW).verified
    old.add_der(root.der, name="late")
    new.remove("root")
    assert not v.verify([leaf.der], at=pki.NOW).verified
    with pytest.raises(ConfigurationError):
        v.store = None  # type: ignore[assignment]


def test_store_swap_racing_a_change_to_the_old_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """A change to the old store while ``verifier.store = new`` runs never leaves the C side
    (what handshake hooks verify with: fm_verify_current) on the old store. Both halves of the
    swap are slowed down, and the old store changes between them."""
    from fastmtls._ffi import ffi, lib

    root_a, root_b = pki.ca("Old Store Root"), pki.ca("New Store Root")
    leaf_a = pki.leaf(root_a, "old-store client")
    old, new = TrustStore(), TrustStore()
    old.add_der(root_a.der, name="a")
    new.add_der(root_b.der, name="b")
    v = Verifier(old)
    for name in ("_register", "_unregister"):
        orig = getattr(TrustStore, name)
        monkeypatch.setattr(TrustStore, name, lambda self, ver, _o=orig: (time.sleep(0.2),
                                                                           _o(self, ver)))
    change = threading.Thread(target=lambda: (time.sleep(0.3), old.add_der(root_b.der, name="x")))
    change.start()
    v.store = new
    change.join()
    assert not v.verify([leaf_a.der], at=pki.NOW).verified
    res = ffi.new("fm_result *")
    lib.fm_verify_current(v._ptr, leaf_a.der, len(leaf_a.der), ffi.NULL, 0,
                          int(pki.NOW.timestamp()), res, ffi.NULL)  # fmt: skip
    assert res.status == Reason.UNABLE_TO_GET_ISSUER_CERT_LOCALLY


def test_store_changes_while_verifiers_are_created() -> None:
    """Creating verifiers on one thread while another changes the store never raises."""
    root = pki.ca("Race Root")
    store = TrustStore()
    store.add_der(root.der, name="root")
    errors: list[BaseException] = []
    stop = threading.Event()

    def change() -> None:
        try:
            while not stop.is_set():
                store.associate("h.example", ["root"])
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=change)
    t.start()
    try:
        made = [Verifier(store) for _ in range(300)]
    finally:
        stop.set()
        t.join()
    assert not errors and len(made) == 300


@pytest.mark.parametrize(("call", "what"), [
    (lambda s: Verifier(s).verify([b"x"], at=float("nan")), "at=nan"),
    (lambda s: Verifier(s).verify([b"x"], at=float("inf")), "at=inf"),
    (lambda s: Verifier(s).verify([b"x"], at=2**63), "at=2**63"),
    (lambda s: Verifier(s).verify([b"x"], host=b"x"), "host=bytes"),  # type: ignore[arg-type]
    (lambda s: Verifier(s, max_depth="3"), "max_depth=str"),  # type: ignore[arg-type]
    (lambda s: Verifier(s, max_depth=True), "max_depth=True"),
    (lambda s: Verifier(s, intermediates=None), "intermediates=None"),  # type: ignore[arg-type]
    (lambda s: Verifier(s, purpose=["client"]), "purpose=list"),  # type: ignore[arg-type]
    (lambda s: Verifier(s, require_eku="no"), "require_eku=str"),  # type: ignore[arg-type]
    (lambda s: Verifier(s, limits={}), "limits=dict"),  # type: ignore[arg-type]
    (lambda s: Verifier(s, limits=Limits(max_steps=True)), "Limits(max_steps=True)"),
    (lambda s: s.add_der(None, name="x"), "add_der(None)"),  # type: ignore[arg-type]
    (lambda s: s.add_der("text", name="x"), "add_der(str)"),  # type: ignore[arg-type]
    (lambda s: s.add_pem(None, name="x"), "add_pem(None)"),  # type: ignore[arg-type]
    (lambda s: s.associate(None, ["a"]), "associate(None)"),  # type: ignore[arg-type]
    (lambda s: s.associate("h.example", None), "associate(h, None)"),  # type: ignore[arg-type]
    (lambda s: s.associate("h.example", "clients"), "associate(h, str)"),
    (lambda s: s.dissociate(None), "dissociate(None)"),  # type: ignore[arg-type]
], ids=lambda x: x if isinstance(x, str) else "")  # fmt: skip
def test_wrong_argument_types_are_configuration_errors(call: Any, what: str) -> None:
    """Every wrong argument is a ConfigurationError (one hierarchy), never a TypeError,
    OverflowError or a silently accepted value."""
    store = TrustStore()
    store.add_der(pki.ca("Types Root").der, name="a")
    with pytest.raises(ConfigurationError):
        call(store)


def test_chain_elements_split_unlike_the_certificates(ch: pki.Chain) -> None:
    """List elements that are not one certificate each but happen to be as many as the
    certificates (leaf + intermediate glued together, then an empty element; a certificate cut
    in two): the result's chain and fields describe the certificates the core verified, not the
    elements (it used to put b"" in the chain and leave every DN empty)."""
    leaf, inter = ch.leaf.der, ch.intermediates[0].der
    v = make_verifier(ch.root)
    want = v.verify([leaf, inter], at=NOW)
    for chain in ([leaf + inter, b""], [leaf[:10], leaf[10:] + inter]):
        got = v.verify(chain, at=NOW)
        assert got.status == want.status == "SUCCESS"
        assert got.chain == want.chain and got.presented_chain == [leaf, inter]
        assert got.fields() == want.fields()


def test_trusted_certificate_blocks(ch: pki.Chain) -> None:
    """A TRUSTED CERTIFICATE block without OpenSSL trust settings loads; one carrying them
    (``openssl x509 -trustout -addtrust clientAuth``) is refused with a message that says why and
    how to convert it (it used to fail as "malformed certificate")."""
    import base64
    import textwrap

    def block(der: bytes) -> bytes:
        body = "\n".join(textwrap.wrap(base64.b64encode(der).decode(), 64))
        label = "TRUSTED CERTIFICATE"
        return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n".encode()

    store = TrustStore()
    store.add_pem(block(ch.root.der), name="plain")
    client_auth = bytes.fromhex("06082b06010505070302")
    aux = b"\x30\x0c\x30\x0a" + client_auth  # X509_CERT_AUX { trust SEQUENCE OF { clientAuth } }
    with pytest.raises(fastmtls.CertificateLoadError, match=r"trust settings.*openssl x509"):
        store.add_pem(block(ch.root.der + aux), name="with-aux")


@pytest.mark.parametrize("host", ["a" * 64 + ".example.com", "a..example.com", "x." * 127 + "x",
                                  "api.example.com:443", "api.example.com/", "u@api.example.com",
                                  "[::1]", "a\u200db.example", "1.2.3.4:443", "cafe:8443",
                                  "fe80::1%eth0", "010.0.0.5", "10.5", "0xa.0.0.5",
                                  "*.10.0.0.5", "example.123"])  # fmt: skip
def test_associate_refuses_impossible_hostnames(host: str) -> None:
    """Labels of 1-63 octets, at most 253 in all (RFC 1035): a host no SNI can carry is a
    configuration mistake, reported (it was stored, and could never match). A name ending in a
    number is an IPv4 address, spelled only as four decimal octets without leading zeros."""
    store = TrustStore()
    with pytest.raises(ConfigurationError, match="invalid hostname"):
        store.associate(host, [])


def test_ipv4_association_holds_only_for_its_canonical_spelling() -> None:
    """An association of "10.0.0.5" applies to that host; other spellings of an address
    (leading zeros, fewer parts, hex) trust no CA instead of every CA, and the canonical
    spelling of another address is just another host."""
    ca_a, ca_b = pki.ca("IPv4 Tenant A"), pki.ca("IPv4 Tenant B")
    store = TrustStore()
    store.add_der(ca_a.der, name="a")
    store.add_der(ca_b.der, name="b")
    store.associate("10.0.0.5", ["a"])
    v = Verifier(store)
    a_leaf, b_leaf = pki.leaf(ca_a, "a client"), pki.leaf(ca_b, "b client")
    assert v.verify([a_leaf.der], host="10.0.0.5", at=pki.NOW).verified
    assert not v.verify([b_leaf.der], host="10.0.0.5", at=pki.NOW).verified
    for host in ("010.0.0.5", "10.0.0.005", "10.5", "10.0.5", "0xa.0.0.5", "167772165"):
        assert not v.verify([b_leaf.der], host=host, at=pki.NOW).verified, host
        assert not v.verify([a_leaf.der], host=host, at=pki.NOW).verified, host
    assert v.verify([b_leaf.der], host="10.0.0.6", at=pki.NOW).verified  # no association



@pytest.mark.parametrize(("associated", "sent"), [
    ("straße.example", "xn--strae-oqa.example"), ("xn--strae-oqa.example", "Straße.Example"),
    ("ς.example", "xn--3xa.example"), ("*.bücher.example", "shop.xn--bcher-kva.example"),
])  # fmt: skip
def test_internationalized_hosts_keep_their_association(associated: str, sent: str) -> None:
    """A host associated in Unicode is the host clients send in A-labels, and the other way
    round, spelled as IDNA 2008 with UTS 46 (what browsers and curl send): Python's IDNA 2003
    codec turned "straße" into "strasse", so the SNI "xn--strae-oqa.example" had no association
    and every CA of the store applied."""
    ca_a, ca_b = pki.ca("IDN Tenant A"), pki.ca("IDN Tenant B")
    store = TrustStore()
    store.add_der(ca_a.der, name="a")
    store.add_der(ca_b.der, name="b")
    store.associate(associated, ["a"])
    v = Verifier(store)
    res = v.verify([pki.leaf(ca_b, "b client").der], host=sent, at=pki.NOW)
    assert res.status == "FAILED:unable to get local issuer certificate", res.status
    assert v.verify([pki.leaf(ca_a, "a client").der], host=sent, at=pki.NOW).verified


@pytest.mark.parametrize("host", ["2001:db8::1", "10.0.0.1", "_acme.example.com", "::ffff:10.0.0.1",
                                  "localhost"])  # fmt: skip
def test_ip_literals_and_underscores_are_hosts(host: str) -> None:
    """IP literals and underscores are hosts an association can name and a lookup can match;
    IPv6 literals in any spelling (compressed as RFC 5952 on both sides)."""
    v, ca_a, b_leaf = _tenants()
    v.store.associate(host, ["a"])
    spellings = [host]
    if ":" in host:
        spellings.append(ipaddress.IPv6Address(host).exploded.upper())
    for h in spellings:
        assert not v.verify([b_leaf.der], host=h, at=pki.NOW).verified, h
        assert v.verify([pki.leaf(ca_a, "tenant a client").der], host=h, at=pki.NOW).verified


def test_sans_escape_control_characters(ch: pki.Chain) -> None:
    """A SAN value with CR, LF, NUL or DEL (IA5String allows them) comes out with those escaped
    as \\xNN, like non-ASCII octets: a gateway that logs or forwards sans cannot be made to
    write a line or a header the client chose (they came out raw before)."""
    uri = "spiffe://a/b\r\nX-Injected: 1"
    leaf = pki.leaf(ch.intermediates[0], "crlf client",
                    san=[x509.UniformResourceIdentifier(uri), x509.DNSName("ok.example"),
                         x509.RFC822Name("a\x00b@example.com\x7f")])  # fmt: skip
    r = make_verifier(ch.root).verify([leaf.der, ch.intermediates[0].der], at=NOW)
    assert r.sans["uri"] == ["spiffe://a/b\\x0d\\x0aX-Injected: 1"]
    assert r.sans["dns"] == ["ok.example"]
    assert r.sans["email"] == ["a\\x00b@example.com\\x7f"]
    assert not any(c in "".join(v for vs in r.sans.values() for v in vs) for c in "\r\n\x00\x7f")


# ---- review: swaps, snapshots, names -----------------------------------------------------------


def test_concurrent_revocation_swaps_leave_one_set(ch: pki.Chain) -> None:
    """Two threads swapping ``verifier.revocations`` at once: the set the C side (handshakes)
    checks is the one ``verify()`` checks. The two assignments used to interleave, leaving
    them on different sets until the next swap."""
    import crls

    from fastmtls import RevocationSet
    from fastmtls._ffi import ffi, lib

    inter = ch.intermediates[0]
    revoking = RevocationSet.build([crls.crl(inter, [ch.leaf.cert.serial_number])],
                                   cas=[inter.der], at=NOW)  # fmt: skip
    empty = RevocationSet.empty()
    v = make_verifier(ch.root)
    data = b"".join(ch.presented_der)
    res = ffi.new("fm_result *")
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for _ in range(300):
            go = threading.Barrier(2)

            def swap(rs: RevocationSet, go: threading.Barrier = go) -> None:
                go.wait()
                v.revocations = rs

            ts = [threading.Thread(target=swap, args=(rs,)) for rs in (revoking, empty)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            lib.fm_verify_current(v._ptr, data, len(data), ffi.NULL, 0, int(NOW.timestamp()),
                                  res, ffi.NULL)  # fmt: skip
            c_side = bool(res.flags & lib.FM_RESULT_REVOKED)
            assert v.verify(data, at=NOW).revoked == c_side
    finally:
        sys.setswitchinterval(interval)


def test_old_store_snapshots_are_not_kept_alive(ch: pki.Chain) -> None:
    """A TrustStore keeps the snapshots still in use, not the last 64 (each a whole C store):
    after many changes only the current one (and any a result holds) remain."""
    import gc

    store = TrustStore()
    store.add_der(ch.root.der, name="root")
    v = Verifier(store)
    held = v.verify(ch.presented_der, at=NOW)
    for i in range(70):
        store.associate(f"host{i}.example.com", ["root"])
    gc.collect()
    generations = set(store._recent.keys())
    assert store._snapshot.generation in generations and len(generations) <= 2
    assert held._snap.generation in generations  # still held by the result


def test_a_ca_file_whose_name_is_not_utf8(tmp_path: Any, ch: pki.Chain) -> None:
    """A CA file named with bytes that are not UTF-8 is named with backslash escapes (add_file
    and the CLI); a name that cannot be encoded is a ConfigurationError (it raised
    UnicodeEncodeError, and the CLI exited 1, "not verified")."""
    if sys.platform == "win32" or sys.platform == "darwin":
        pytest.skip("file names there are Unicode")
    path = os.path.join(os.fsencode(tmp_path), b"ca-\xff.pem")
    with open(path, "wb") as fh:
        fh.write(pki.pem_bundle(ch.root))
    store = TrustStore()
    assert store.add_file(os.fsdecode(path)) == 1
    assert store.names() == ["ca-\\xff.pem"]
    with pytest.raises(ConfigurationError, match="not valid Unicode"):
        TrustStore().add_der(ch.root.der, name="ca-\udcff")


@pytest.mark.parametrize("name", ["urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
                                  "spiffe://example.org/workload", "mailto:ops@example.com"])
def test_expected_uri_names_with_any_scheme(name: str) -> None:
    """An expected name starting with a URI scheme is matched against URI SANs (only names
    with "://" were, so urn: and mailto: URIs were looked for among DNS names and never
    matched)."""
    root = pki.ca("URI Root")
    leaf = pki.leaf(root, "uri client", san=[x509.UniformResourceIdentifier(name)])
    v = make_verifier(root)
    assert v.verify([leaf.der], at=NOW, expected_name=name).status == "SUCCESS"
    other = name[:-1] + ("x" if name[-1] != "x" else "y")
    assert v.verify([leaf.der], at=NOW, expected_name=other).status == "FAILED:hostname mismatch"


def test_expected_dns_name_with_a_trailing_dot(ch: pki.Chain) -> None:
    """A DNS name with a trailing dot is the same name (as hosts are)."""
    root = pki.ca("Dot Root")
    leaf = pki.leaf(root, "dot client", san=[x509.DNSName("client.example.com")])
    v = make_verifier(root)
    assert v.verify([leaf.der], at=NOW, expected_name="client.example.com.").status == "SUCCESS"
    with pytest.raises(ConfigurationError, match="invalid expected name"):
        v.verify([leaf.der], at=NOW, expected_name="a\udcff@example.com")


def test_intermediates_as_der_bytes(ch: pki.Chain) -> None:
    """intermediates= one DER certificate (or several concatenated), as well as PEM or a list:
    DER bytes used to be read as PEM ("no PEM CERTIFICATE block found")."""
    store = TrustStore()
    store.add_der(ch.root.der, name="root")
    v = Verifier(store, intermediates=ch.intermediates[0].der)
    assert v.verify([ch.leaf.der], at=NOW).verified


@pytest.mark.parametrize("chain", [[b""], [bytearray()], (b"",), [b"", b""]])
def test_empty_elements_present_nothing(v: Verifier, chain: Any) -> None:
    """A chain of empty elements is no certificate: status NONE, and fields() says so too (it
    said cert_presented True, with the SHA-256 of nothing as the fingerprint and "::" as the
    RFC 9440 value; found by review)."""
    r = v.verify(chain, at=NOW)
    assert r.status == "NONE" and not r.presented
    f = r.fields()
    assert f["cert_presented"] is False and f["cert_fingerprint_sha256"] == ""
    assert f["cert_rfc9440"] == "" and f["cert_chain_rfc9440"] == ""


def test_a_chain_refused_before_splitting_describes_its_first_certificate(
    ch: pki.Chain, v: Verifier
) -> None:
    """A chain the core refuses before splitting it (too many certificates) whose first element
    holds two certificates: the leaf's fields are the first certificate's, as for the same
    bytes concatenated (they described the first element: a fingerprint of leaf + intermediate
    and an empty subject; found by review)."""
    leaf, inter = ch.leaf.der, ch.intermediates[0].der
    grouped = v.verify([leaf + inter] + [inter] * 70, at=NOW)
    joined = v.verify(leaf + inter * 71, at=NOW)
    assert grouped.reason == joined.reason == Reason.CERT_CHAIN_TOO_LONG
    for r in (grouped, joined):
        f = r.fields()
        assert f["cert_subject_dn"] == ch.leaf.cert.subject.rfc4514_string()
        assert f["cert_fingerprint_sha256"] == ch.leaf.cert.fingerprint(
            pki.hashes.SHA256()).hex()  # fmt: skip


def test_strict_revocation_names_the_revoked_certificate(ch: pki.Chain) -> None:
    """Verifier(revoked="fail"): the status is FAILED:certificate revoked and
    ``revocation`` still gives the depth, reason and date (it was None; found by review)."""
    when = dt.datetime(2026, 5, 1, tzinfo=dt.timezone.utc)
    rev = fastmtls.Revocation(ch.intermediates[0].der, ch.leaf.cert.serial_number, reason=1,
                              date=when)  # fmt: skip
    revs = fastmtls.RevocationSet.build(entries=[rev])
    flagged = make_verifier(ch.root, revocations=revs).verify(ch.presented_der, at=NOW)
    strict = make_verifier(ch.root, revocations=revs, revoked="fail").verify(ch.presented_der,
                                                                             at=NOW)  # fmt: skip
    assert flagged.status == "SUCCESS" and strict.status == "FAILED:certificate revoked"
    assert flagged.revocation == strict.revocation == (0, 1, int(when.timestamp()))
    assert strict.revoked and strict.depth == 0
