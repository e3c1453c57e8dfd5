"""Revocation: CRLs checked and merged into RevocationSets, snapshots, and the verifier's policy.

CRLs come from ``tests/crls.py`` (pyca/cryptography's builder, or DER written by hand for what the
builder refuses); every verification runs at ``pki.NOW``. The default world is root -> inter ->
leaf, with ``other`` a second, never revoked, leaf of ``inter``.
"""

from __future__ import annotations

import base64
import collections
import os
import random
import struct
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import crls
import pki
import pytest
from crls import REVOKED_AT, Revoked
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from helpers import run_verify

from fastmtls import (
    ConfigurationError,
    Reason,
    Revocation,
    RevocationError,
    RevocationSet,
    SnapshotError,
    TrustStore,
    Verifier,
    VerifyResult,
    inspect_crl,
)
from fastmtls.revocation import check_crl, crl_to_der

NOW = pki.NOW
REVOKED_TS = int(REVOKED_AT.timestamp())
UTC = timezone.utc
# fixed serials keep snapshot layouts (and so the snapshot corruption tests) deterministic
LEAF_SERIAL, OTHER_SERIAL, INTER_SERIAL = 0x1E4F01, 0x1E4F02, 0x2E4F01


@dataclass(frozen=True)
class World:
    """root -> inter -> leaf / other, and a store trusting root."""

    root: pki.Cert
    inter: pki.Cert
    leaf: pki.Cert
    other: pki.Cert
    store: TrustStore

    @property
    def cas(self) -> list[bytes]:
        return [self.root.der, self.inter.der]

    def chain(self, leaf: pki.Cert | None = None) -> list[pki.Cert]:
        return [leaf or self.leaf, self.inter]


@pytest.fixture(scope="module")
def w() -> World:
    """The revocation test PKI (module scoped: do not modify its store)."""
    root = pki.ca("Revocation Root CA")
    inter = pki.intermediate(root, "Revocation Intermediate CA", serial=INTER_SERIAL)
    store = TrustStore()
    store.add_der(root.der, name="root")
    leaf = pki.leaf(inter, "revoked client", serial=LEAF_SERIAL)
    other = pki.leaf(inter, "good client", serial=OTHER_SERIAL)
    return World(root, inter, leaf, other, store)


def serial(c: pki.Cert) -> int:
    return int(c.cert.serial_number)


def build(w: World, *ders: bytes, cas: Sequence[bytes] | None = None,
          entries: Sequence[Revocation] = (), at: datetime | None = None) -> RevocationSet:
    """A set from CRL DERs checked against ``cas`` (default: root and inter), built for ``at``
    (default: now)."""
    return RevocationSet.build(list(ders), cas=w.cas if cas is None else list(cas),
                               entries=entries, at=at)  # fmt: skip


def verifier(w: World, revs: RevocationSet | None, **kw: Any) -> Verifier:
    return Verifier(w.store, revocations=revs, **kw)


def check(w: World, revs: RevocationSet | None, leaf: pki.Cert | None = None,
          **kw: Any) -> VerifyResult:
    """Verify leaf (default w.leaf) + inter at NOW (``at=`` overrides) under ``revs``."""
    at = kw.pop("at", NOW)
    return run_verify(verifier(w, revs, **kw), w.chain(leaf), at=at)


def revoking_leaf(w: World, reason: int | None = 1, **kw: Any) -> bytes:
    """inter's CRL revoking w.leaf."""
    return crls.crl(w.inter, [Revoked(serial(w.leaf), reason=reason)], **kw)


# --- revoked and not revoked --------------------------------------------------------------------

@pytest.mark.parametrize("reason", [None, 0, 1, 2, 3, 4, 5, 6, 9, 10])
def test_revoked_leaf_is_flagged_in_default_mode(w: World, reason: int | None) -> None:
    """Cloudflare mode: a revoked leaf is SUCCESS, verified and revoked, with reason and date."""
    r = check(w, build(w, revoking_leaf(w, reason)))
    assert (r.status, r.verified, r.revoked, bool(r)) == ("SUCCESS", True, True, True)
    assert r.reason is Reason.OK
    assert r.revocation == (0, reason or 0, REVOKED_TS)
    f = r.fields()
    assert f["cert_revoked"] is True and f["cert_verified"] is True
    assert r.as_dict()["status"] == "SUCCESS"


def test_unrevoked_leaf_is_not_flagged(w: World) -> None:
    """A leaf whose serial is not on its issuer's CRL: SUCCESS, not revoked, no revocation."""
    r = check(w, build(w, revoking_leaf(w)), w.other)
    assert (r.status, r.revoked, r.revocation) == ("SUCCESS", False, None)
    assert r.fields()["cert_revoked"] is False


def test_no_revocation_set_revokes_nothing(w: World) -> None:
    """Without a RevocationSet nothing is revoked and no CRL is stale, whatever the policy
    options say (but missing_crl="deny" then fails: test_missing_crl_denied_without_any_set)."""
    r = check(w, None, revoked="fail", expired_crl="deny", revocation_check="chain")
    assert (r.status, r.revoked) == ("SUCCESS", False)


def test_strict_mode_fails_a_revoked_leaf(w: World) -> None:
    """revoked="fail": FAILED:certificate revoked at depth 0, not verified (nor true as a
    bool), still revoked. The Cloudflare fields keep their meaning: cert_revoked implies
    cert_verified (FIELDS.md), the chain validates to a trusted CA."""
    r = check(w, build(w, revoking_leaf(w)), revoked="fail")
    assert (r.status, r.verified, bool(r), r.revoked, r.depth) == (
        "FAILED:certificate revoked", False, False, True, 0)
    assert r.reason is Reason.CERT_REVOKED
    assert r.fields()["cert_revoked"] is True and r.fields()["cert_verified"] is True
    assert r.chain == [] and r.anchor_name is None  # not verified
    flagged = check(w, build(w, revoking_leaf(w))).fields()  # the same fields as without "fail"
    assert r.fields() == flagged
    # the issuer fields come from the validated path also when the issuer is the anchor itself
    direct = pki.leaf(w.root, "direct client")
    revs = build(w, crls.crl(w.root, [serial(direct)]))
    strict = check(w, revs, direct, revoked="fail").fields()
    assert strict == check(w, revs, direct).fields()
    n = w.root.cert.serial_number
    root_serial = n.to_bytes((n.bit_length() + 7) // 8, "big").hex().upper()
    assert strict["cert_issuer_serial"] == root_serial
    expired = check(w, build(w, revoking_leaf(w)), revoked="fail", at=NOW + timedelta(days=9999))
    assert expired.fields()["cert_verified"] is False and not expired.fields()["cert_revoked"]
    assert check(w, build(w, revoking_leaf(w)), w.other, revoked="fail").status == "SUCCESS"


@pytest.mark.parametrize(
    ("mode", "strict", "status", "revocation"),
    [
        ("leaf", False, "SUCCESS", None),
        ("leaf", True, "SUCCESS", None),
        ("chain", False, "SUCCESS", (1, 2, REVOKED_TS)),
        ("chain", True, "FAILED:certificate revoked", (1, 2, REVOKED_TS)),  # named there too
    ],
)
def test_revoked_intermediate_only_with_chain_checking(
    w: World, mode: str, strict: bool, status: str, revocation: Any
) -> None:
    """An intermediate on its root's CRL is detected only with revocation_check="chain"."""
    revs = build(w, crls.crl(w.root, [Revoked(serial(w.inter), reason=2)]))
    r = check(w, revs, revocation_check=mode, revoked="fail" if strict else "flag")
    assert r.status == status
    assert r.revoked == (mode == "chain")
    assert r.revocation == revocation
    if status != "SUCCESS":
        assert r.depth == 1


def test_chain_mode_reports_the_leaf_first(w: World) -> None:
    """Leaf and intermediate both revoked: the leaf (depth 0) is the one reported."""
    revs = build(w, revoking_leaf(w, 1), crls.crl(w.root, [Revoked(serial(w.inter), reason=2)]))
    r = check(w, revs, revocation_check="chain")
    assert r.revocation == (0, 1, REVOKED_TS)
    assert check(w, revs, revocation_check="chain", revoked="fail").depth == 0


def test_trust_anchor_is_never_revocation_checked(w: World) -> None:
    """The root on its own CRL: anchors are trusted by configuration, not checked."""
    revs = build(w, crls.crl(w.root, [w.root]))
    r = check(w, revs, revocation_check="chain", revoked="fail", missing_crl="allow")
    assert (r.status, r.revoked) == ("SUCCESS", False)


@pytest.mark.parametrize("key", ["p256", "p384", "p521", "rsa2048", "rsa3072", "ed25519"])
def test_crl_signature_algorithms(key: pki.KeyType) -> None:
    """CRLs signed with ECDSA (each curve's hash), RSA PKCS#1 v1.5 and Ed25519 are accepted."""
    root = pki.ca(f"{key} CRL root", key)
    leaf = pki.leaf(root, key="p256")
    store = TrustStore()
    store.add_der(root.der, name="r")
    revs = RevocationSet.build([crls.crl(root, [leaf])], cas=[root.der])
    r = Verifier(store, revocations=revs).verify([leaf.der], at=NOW)
    assert (r.status, r.revoked) == ("SUCCESS", True)


@pytest.mark.parametrize("hash", ["sha256", "sha384", "sha512"])
def test_rsa_pss_signed_crl(hash: pki.HashName) -> None:
    """An RSASSA-PSS signed CRL is accepted."""
    root = pki.ca("PSS CRL root", "rsa2048")
    revs = RevocationSet.build([crls.crl(root, [7], hash=hash, rsa_pss=True)], cas=[root.der])
    assert revs.lookup(root.der, 7) is not None


@pytest.mark.parametrize(
    "value", [1, 0x7F, 0x80, 0xFF, 0x100, 2**63, 2**64 - 1, 2**127, 2**159 - 1],
    ids=lambda v: f"{v:x}",
)
def test_serial_encodings(w: World, value: int) -> None:
    """Serials of every length, with and without a leading zero octet, match exactly."""
    leaf = pki.leaf(w.inter, serial=value)
    neighbour = pki.leaf(w.inter, serial=value + 1 if value + 1 < 2**159 else value - 1)
    revs = build(w, crls.crl(w.inter, [value]))
    assert check(w, revs, leaf).revoked
    assert not check(w, revs, neighbour).revoked
    assert revs.lookup(w.inter.der, value) == Revocation(w.inter.der, value, 0, REVOKED_TS)


@pytest.mark.parametrize("value", [-1, -127, -128, -129, -32768, -32769, -(2**63)])
def test_negative_serials(w: World, value: int) -> None:
    """Negative serials (RFC 5280 forbids them; CAs issued them) are looked up by their minimal
    two's complement encoding, as a CRL carries them: -128 is 80, not FF80 (which no CRL holds,
    and an explicit entry with it was refused)."""
    from crls import raw_crl, raw_entry

    from fastmtls.revocation import serial_bytes

    assert serial_bytes(value) == value.to_bytes(
        next(n for n in range(1, 10) if -(2 ** (8 * n - 1)) <= value), "big", signed=True)
    from_crl = RevocationSet.build([raw_crl(w.inter, [raw_entry(value)])], cas=[w.inter.der])
    from_entry = RevocationSet.build(entries=[Revocation(w.inter.der, value)])
    for revs in (from_crl, from_entry):
        assert revs.lookup(w.inter.der, value) is not None
        assert revs.lookup(w.inter.der, value - 1) is None


def test_revocation_api_refuses_wrong_types(w: World) -> None:
    """The operator's type mistakes are ConfigurationErrors naming the problem, never a bare
    TypeError / AttributeError / OverflowError, and never a silent coercion ("2020" as unix
    second 2020)."""
    crl = crls.crl(w.inter, [5])
    bad_calls = [
        lambda: Revocation("issuer", 1),  # type: ignore[arg-type]
        lambda: Revocation(w.inter.der, "1"),  # type: ignore[arg-type]
        lambda: Revocation(w.inter.der, 1, date="2020"),  # type: ignore[arg-type]
        lambda: Revocation(w.inter.der, 1, date=2**70),
        lambda: RevocationSet.build(None),  # type: ignore[arg-type]
        lambda: RevocationSet.build([crl], cas=[12]),  # type: ignore[list-item]
        lambda: RevocationSet.build([crl], cas=5),
        lambda: RevocationSet.build([5], cas=w.cas),  # type: ignore[list-item]
        lambda: RevocationSet.build(entries=[(w.inter.der, 5)]),  # type: ignore[list-item]
        lambda: RevocationSet.from_snapshot_bytes("FMREVSET"),  # type: ignore[arg-type]
        lambda: RevocationSet.empty().lookup("issuer", 1),  # type: ignore[arg-type]
        lambda: RevocationSet.empty().lookup(w.inter.der, 1.0),  # type: ignore[arg-type]
    ]
    for call in bad_calls:
        with pytest.raises(ConfigurationError):
            call()
    # one CRL or one CA given bare (not in a list), and CAs as PEM text, are what they look like
    for crls_arg, cas_arg in ((crl, w.inter.der), ([crl], w.inter.pem.decode()),
                              ([crl], [w.inter.pem])):  # fmt: skip
        revs = RevocationSet.build(crls_arg, cas=cas_arg)
        assert revs.lookup(w.inter.der, 5) is not None


def test_revoked_among_agrees_with_lookup(w: World) -> None:
    """revoked_among() answers, for many serials in one C call, what lookup() answers for each;
    another CA's serials are never among them."""
    rnd = random.Random(7)
    revoked = sorted({rnd.getrandbits(rnd.randint(1, 159)) | 1 for _ in range(300)})
    revs = build(w, crls.crl(w.inter, revoked))
    probe = revoked[::3] + [v + 1 for v in revoked[::5]] + [0, 2**159, 2**3000]
    rnd.shuffle(probe)
    want = [v for v in probe if revs.lookup(w.inter.der, v) is not None]
    assert revs.revoked_among(w.inter.der, probe) == want and len(want) == len(revoked[::3])
    assert revs.revoked_among(w.root.der, probe) == []
    assert revs.revoked_among(w.inter.der, []) == []
    with pytest.raises(ConfigurationError):
        revs.revoked_among(w.inter.der, ["5"])  # type: ignore[list-item]


@pytest.mark.parametrize(
    "records",
    [b"\x00", b"\x02\x05", b"\x01\x05\x01", b"\x01\x05\x03\x01\x02", b"\xff" + b"\x01" * 10],
)
def test_lookup_many_refuses_malformed_records(w: World, records: bytes) -> None:
    """The C batch lookup checks each record's length before reading it: a zero length, one
    past the end, or bytes left over are refused, never read out of bounds (ASan runs this)."""
    from fastmtls._ffi import ffi, lib

    revs = build(w, crls.crl(w.inter, [5]))
    name = w.inter.cert.subject.public_bytes()
    spki = w.inter.cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    n = 2 if records.startswith(b"\x01\x05\x03") else 1
    out = ffi.new("uint8_t[]", 2)
    data = ffi.new("uint8_t[]", records)  # exactly len(records) bytes: ASan sees an overread
    rc = lib.fm_revset_lookup_many(revs._ptr, name, len(name), spki, len(spki), data,
                                   len(records), n, out)  # fmt: skip
    assert rc == -Reason.INVALID_ARGUMENT


# --- CRLs that must not be used -------------------------------------------------------------------

def _impostor(w: World) -> pki.Cert:
    """A CA with inter's exact name but its own key."""
    return pki.intermediate(w.root, "Revocation Intermediate CA")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda w: crls.flip_signature_bit(revoking_leaf(w)), "CRL signature failure"),
        (lambda w: crls.flip_tbs_bit(revoking_leaf(w)), "CRL signature failure"),
        (lambda w: revoking_leaf(w, key=pki.make_key("p256")), "CRL signature failure"),
        (lambda w: crls.crl(pki.ca("Stranger CA"), [w.leaf]), "no configured CA"),
        (lambda w: crls.crl(_impostor(w), [w.leaf]), "CRL issuer does not match the CA"),
        (lambda w: crls.crl(_impostor(w), [w.leaf], aki=False), "CRL signature failure"),
        (lambda w: revoking_leaf(w, aki=b"\x01" * 20), "CRL issuer does not match the CA"),
    ],
    ids=["flipped-signature-bit", "flipped-tbs-bit", "signed-by-another-key",
         "name-matches-no-ca", "same-name-other-key", "same-name-other-key-no-aki",
         "aki-mismatch"],
)
def test_unverifiable_crl_is_refused(w: World, make: Any, message: str) -> None:
    """A CRL that fails its signature or comes from the wrong CA raises RevocationError."""
    # never trusted: bad signature, a name no CA has, or the right name with another key
    der = make(w)
    inspect_crl(der)  # well formed: the refusal is about who signed it
    with pytest.raises(RevocationError, match=message):
        build(w, der)


def test_crl_of_an_unconfigured_impostor_is_refused(w: World) -> None:
    """The genuine inter's CRL, when only a same-named impostor is configured, is refused."""
    with pytest.raises(RevocationError):
        build(w, revoking_leaf(w), cas=[w.root.der, _impostor(w).der])
    assert check_crl(revoking_leaf(w), _impostor(w).der) is not None
    assert check_crl(revoking_leaf(w), w.inter.der) is None


def test_a_file_name_given_as_data_is_named(
    w: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name of a CRL or CA file passed where its contents belong says so (it said only "no
    PEM ... block found"; found by a review of the docs); other garbage does not."""
    crl_file = tmp_path / "inter.crl"
    crl_file.write_bytes(revoking_leaf(w))
    with pytest.raises(RevocationError, match=r"is the name of a file, .*inter\.crl"):
        RevocationSet.build([str(crl_file)], cas=w.cas)
    ca_file = tmp_path / "root.pem"
    ca_file.write_bytes(w.root.pem)
    with pytest.raises(ConfigurationError, match=r"is the name of a file, .*root\.pem"):
        TrustStore().add_pem(str(ca_file), name="root")
    with pytest.raises(ConfigurationError, match="is the name of a file"):
        Verifier(w.store, intermediates=[str(ca_file).encode()])
    with pytest.raises(RevocationError) as exc:
        RevocationSet.build([str(tmp_path / "absent.crl")], cas=w.cas)
    assert "name of a file" not in str(exc.value)
    # a client's chain, or a downloaded CRL, never makes fastmtls look at a path
    def no_lookups(path: object) -> bool:
        raise AssertionError(f"looked at {path!r}")

    monkeypatch.setattr(os.path, "isfile", no_lookups)
    assert Verifier(w.store).verify(str(ca_file)).status == "FAILED:malformed certificate"
    with pytest.raises(RevocationError, match=r"no PEM X509 CRL block found$"):
        crl_to_der(str(crl_file))


def test_cas_of_a_verifier_are_its_anchors_and_intermediates(w: World) -> None:
    """cas=verifier: the CAs the verifier is configured with, so the CRL of the intermediate
    it holds in intermediates= is taken; a store holding only the root names the way out."""
    v = Verifier(w.store, intermediates=[w.inter.der])
    rs = RevocationSet.build([revoking_leaf(w)], cas=v)
    assert rs.lookup(w.inter.der, serial(w.leaf)) is not None
    with pytest.raises(RevocationError, match="give the issuing intermediate itself, or the "
                                              "Verifier whose intermediates= holds it"):
        RevocationSet.build([revoking_leaf(w)], cas=w.store)
    with pytest.raises(RevocationError, match="no CAs given: pass cas="):
        RevocationSet.build([revoking_leaf(w)])


@pytest.mark.parametrize(
    ("key_usage", "ok"),
    [({"key_cert_sign"}, False), ({"key_cert_sign", "digital_signature"}, False),
     ({"key_cert_sign", "crl_sign"}, True), (None, True)],
    ids=["certsign-only", "certsign-digsig", "certsign-crlsign", "no-keyusage"],
)
def test_crl_issuer_needs_crlsign_when_keyusage_present(
    w: World, key_usage: set[str] | None, ok: bool
) -> None:
    """A CRL issuer with keyUsage must assert cRLSign; without keyUsage it is accepted."""
    # RFC 5280 6.3.3(f)
    ca = pki.intermediate(w.root, "KU CA", key_usage=key_usage)
    der = crls.crl(ca, [5])
    if ok:
        assert RevocationSet.build([der], cas=[ca.der]).lookup(ca.der, 5) is not None
        assert check_crl(der, ca.der) is None
    else:
        with pytest.raises(RevocationError, match="CRL issuer does not match the CA"):
            RevocationSet.build([der], cas=[ca.der])
        assert check_crl(der, ca.der) == "CRL issuer does not match the CA"


def _sig_alg_mismatch(w: World) -> bytes:
    tbs, _, sig = crls.split_crl(revoking_leaf(w))
    return crls.enc(0x30, tbs + crls.sig_alg(w.inter.key, "sha384") + sig)


def _unused_bits(w: World) -> bytes:
    tbs, alg, sig = crls.split_crl(revoking_leaf(w))
    return crls.enc(0x30, tbs + alg + sig[:2] + b"\x01" + sig[3:])


_IDP_TWO_ONLY_FLAGS = crls.RawExt("2.5.29.28", True, bytes.fromhex("30068101ff8201ff"))
_UNKNOWN = "1.3.6.1.4.1.99999.1"


def _cases_malformed() -> list[Any]:
    inter_entry = crls.raw_entry
    cases = [
        ("trailing-garbage", lambda w: revoking_leaf(w) + b"\x00", "malformed"),
        ("v3-version", lambda w: crls.raw_crl(w.inter, version=3), "malformed"),
        ("v1-with-extensions",
         lambda w: crls.raw_crl(w.inter, version=1, extensions=[crls.crl_number_ext(1)]),
         "malformed"),
        ("non-minimal-serial",
         lambda w: crls.raw_crl(w.inter, [inter_entry(5, serial_der=b"\x02\x02\x00\x05")]),
         "malformed"),
        ("empty-crl-extensions", lambda w: crls.raw_crl(w.inter, raw_extensions=b"\x30\x00"),
         "malformed"),
        ("duplicate-crl-number",
         lambda w: crls.raw_crl(w.inter, extensions=[crls.crl_number_ext(1),
                                                     crls.crl_number_ext(2)]), "malformed"),
        ("negative-crl-number",
         lambda w: crls.raw_crl(w.inter, extensions=[crls.crl_number_ext(-1)]), "malformed"),
        ("crl-number-over-20-octets",
         lambda w: crls.raw_crl(w.inter, extensions=[crls.crl_number_ext(2**170)]), "malformed"),
        ("idp-two-only-flags",
         lambda w: crls.raw_crl(w.inter, extensions=[crls.crl_number_ext(1), _IDP_TWO_ONLY_FLAGS]),
         "malformed"),
        ("signature-algorithm-mismatch", _sig_alg_mismatch, "malformed"),
        ("signature-unused-bits", _unused_bits, "malformed"),
        ("indirect-crl", lambda w: crls.crl(w.inter, [5], issuing_dp=crls.idp(indirect=True)),
         "unsupported"),
        ("certificate-issuer-entry",
         lambda w: crls.raw_crl(w.inter, [inter_entry(5, extensions=[
             crls.certificate_issuer_ext(w.inter.cert.subject)])]), "unsupported"),
        ("certificate-issuer-entry-noncritical",
         lambda w: crls.raw_crl(w.inter, [inter_entry(5, extensions=[
             crls.certificate_issuer_ext(w.inter.cert.subject, critical=False)])]),
         "unsupported"),
        ("unknown-critical-crl-extension",
         lambda w: crls.raw_crl(w.inter, extensions=[crls.crl_number_ext(1),
                                                     crls.RawExt(_UNKNOWN, True, b"\x05\x00")]),
         "unsupported"),
        ("unknown-critical-entry-extension",
         lambda w: crls.raw_crl(w.inter, [inter_entry(5, extensions=[
             crls.RawExt(_UNKNOWN, True, b"\x05\x00")])]), "unsupported"),
    ]  # fmt: skip
    return [pytest.param(make, what, id=name) for name, make, what in cases]


@pytest.mark.parametrize(("make", "what"), _cases_malformed())
def test_malformed_or_unsupported_crl_is_refused(w: World, make: Any, what: str) -> None:
    """Malformed and unsupported CRLs raise RevocationError from inspect_crl and build."""
    # unsupported: indirect CRLs, certificateIssuer entries, unknown critical extensions
    der = make(w)
    with pytest.raises(RevocationError, match=f"{what} CRL"):
        inspect_crl(der)
    with pytest.raises(RevocationError, match=f"{what} CRL"):
        build(w, der)


def _reason_raw(content: bytes, tag: int = 0x0A) -> crls.RawExt:
    """A reasonCode entry extension whose value is ``tag`` + ``content`` as given."""
    return crls.RawExt("2.5.29.21", False, crls.enc(tag, content))


# (id, entry extensions of the victim's entry, the reason it reads as)
_ODD_ENTRIES = [
    ("reason-7", [crls.reason_ext(7)], 0),
    ("reason-11-weak-algorithm", [crls.reason_ext(11)], 0),
    ("reason-255", [crls.reason_ext(255)], 0),
    ("reason-two-octets", [_reason_raw(b"\x00\x01")], 0),
    ("reason-as-integer", [_reason_raw(b"\x01", tag=0x02)], 0),
    ("reason-empty", [_reason_raw(b"")], 0),
    ("reason-twice-agreeing", [crls.reason_ext(1), crls.reason_ext(1)], 1),
    ("reason-twice-disagreeing", [crls.reason_ext(6), crls.reason_ext(1)], 0),
    ("remove-and-key-compromise", [crls.reason_ext(8), crls.reason_ext(1)], 0),
    ("extension-twice", [crls.reason_ext(3), crls.RawExt(_UNKNOWN, False, b"\x05\x00"),
                         crls.RawExt(_UNKNOWN, False, b"\x05\x00")], 3),
    ("seventeen-extensions", [crls.reason_ext(2)] + [
        crls.RawExt(f"{_UNKNOWN}.{i}", False, b"\x05\x00") for i in range(16)], 2),
    ("critical-reason", [crls.RawExt("2.5.29.21", True, crls.enc(0x0A, b"\x01"))], 1),
]  # fmt: skip


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize(("exts", "reason"), [pytest.param(e, r, id=i) for i, e, r in _ODD_ENTRIES])
def test_odd_entry_extensions_never_unrevoke(
    w: World, exts: list[crls.RawExt], reason: int, version: int
) -> None:
    """An entry's extensions never make a CRL say less than its entries (a CA's CRL refused for
    one odd entry would leave CRLSource on the previous CRL, without the revocations the new one
    adds). A reasonCode RFC 5280 does not define (7, X.509's 11, ...), a malformed one, or two
    that disagree read as unspecified; an extension twice, many extensions, and entry
    extensions in a v1 CRL are taken as OpenSSL takes them. The leaf stays revoked, the other
    entries too, in a base CRL and in a delta (where an unreadable reason is never
    removeFromCRL)."""
    leaf = serial(w.leaf)
    entries = [crls.raw_entry(leaf, extensions=exts), crls.raw_entry(5, reason=1)]
    der = crls.raw_crl(w.inter, entries, version=version,
                       extensions=None if version == 2 else [])  # fmt: skip
    assert check_crl(der, w.inter.der) is None and inspect_crl(der).entries == 2
    revs = build(w, der)
    found = revs.lookup(w.inter.der, leaf)
    assert found is not None and found.reason == reason
    assert revs.lookup(w.inter.der, 5) is not None
    assert check(w, revs).revoked
    if version == 2:
        base = crls.crl(w.inter, [leaf], number=1)
        delta = crls.raw_crl(w.inter, [crls.raw_entry(leaf, extensions=exts)],
                             extensions=[crls.crl_number_ext(2), crls.delta_ext(1)])  # fmt: skip
        assert check(w, build(w, base, delta)).revoked


def test_the_empty_entry_extension_list_is_taken_as_none(w: World) -> None:
    """crlEntryExtensions present but empty (SIZE (1..MAX) says it should not be): the entry
    revokes, with no reason (OpenSSL takes it too)."""
    leaf = serial(w.leaf)
    der = crls.raw_crl(w.inter, [crls.raw_entry(leaf, raw_extensions=b"\x30\x00")])
    assert check_crl(der, w.inter.der) is None
    assert check(w, build(w, der)).revoked


def test_entries_with_serials_no_certificate_can_have_are_skipped(w: World) -> None:
    """An entry whose serial is longer than 64 octets names no certificate fastmtls accepts
    (RFC 5280: at most 20): the set skips it and the CRL's other entries revoke."""
    huge = (1 << (8 * 64)) + 12345  # 65 octets
    der = crls.raw_crl(w.inter, [crls.raw_entry(huge, reason=1),
                                 crls.raw_entry(serial(w.leaf), reason=1)])  # fmt: skip
    assert check_crl(der, w.inter.der) is None and inspect_crl(der).entries == 2
    revs = build(w, der)
    assert len(revs) == 1 and revs.lookup(w.inter.der, huge) is None
    assert check(w, revs).revoked
    at_limit = (1 << (8 * 63 + 6)) + 1  # 64 octets
    assert build(w, crls.raw_crl(w.inter, [crls.raw_entry(at_limit)])).lookup(
        w.inter.der, at_limit) is not None  # fmt: skip


def test_remove_from_crl_in_a_base_crl_revokes_nothing(w: World) -> None:
    """removeFromCRL belongs in delta CRLs (RFC 5280 5.3.1). In a complete CRL it revokes
    nothing, as OpenSSL reads it, and the CRL stays usable: its other entries revoke (the CRL
    used to be refused whole, which left CRLSource on the previous CRL, without the leaf this
    one revokes). A serial also listed with another reason stays revoked."""
    leaf = serial(w.leaf)
    der = crls.raw_crl(w.inter, [crls.raw_entry(leaf, reason=1), crls.raw_entry(6, reason=8),
                                 crls.raw_entry(7, reason=8), crls.raw_entry(7, reason=4)],
                       extensions=[crls.crl_number_ext(2)])  # fmt: skip
    assert inspect_crl(der).entries == 4 and check_crl(der, w.inter.der) is None
    revs = build(w, der)
    assert revs.lookup(w.inter.der, 6) is None
    assert revs.lookup(w.inter.der, 7) == Revocation(w.inter.der, 7, 4, REVOKED_TS)
    res = check(w, revs, missing_crl="deny", revoked="fail")
    assert res.status == "FAILED:certificate revoked"


def _cases_accepted() -> list[Any]:
    e = crls.raw_entry
    far = datetime(2060, 1, 1, tzinfo=UTC)
    cases = [
        ("v1-no-extensions", lambda w, s: crls.raw_crl(w.inter, [e(s)], version=1)),
        ("no-next-update", lambda w, s: crls.raw_crl(w.inter, [e(s)], next_update=None)),
        ("no-crl-number", lambda w, s: crls.crl(w.inter, [s], number=None)),
        ("no-aki", lambda w, s: crls.crl(w.inter, [s], aki=False)),
        ("generalized-time", lambda w, s: crls.raw_crl(w.inter, [e(s, far)], next_update=far,
                                                       this_update=far - timedelta(days=1))),
        ("unknown-noncritical-extensions",
         lambda w, s: crls.raw_crl(w.inter, [e(s, extensions=[
             crls.RawExt(_UNKNOWN, False, b"\x05\x00")])], extensions=[
             crls.crl_number_ext(1), crls.RawExt(_UNKNOWN, False, b"\x05\x00")])),
        ("invalidity-date", lambda w, s: crls.crl(
            w.inter, [Revoked(s, reason=1, invalidity=REVOKED_AT - timedelta(days=1))])),
        ("freshest-crl", lambda w, s: crls.crl(w.inter, [s], extensions=[(x509.FreshestCRL([
            x509.DistributionPoint([x509.UniformResourceIdentifier("http://x/d.crl")], None,
                                   None, None)]), False)])),
        ("idp-full-scope", lambda w, s: crls.crl(w.inter, [s], scope="all")),
        ("idp-only-some-reasons", lambda w, s: crls.crl(w.inter, [Revoked(s, reason=1)],
            issuing_dp=crls.idp(reasons=[x509.ReasonFlags.key_compromise]))),
        ("sha512-on-p256", lambda w, s: crls.crl(w.inter, [s], hash="sha512")),
        ("pem", lambda w, s: x509.load_der_x509_crl(crls.crl(w.inter, [s])).public_bytes(
            Encoding.PEM)),
        ("pem-str", lambda w, s: x509.load_der_x509_crl(crls.crl(w.inter, [s])).public_bytes(
            Encoding.PEM).decode()),
    ]  # fmt: skip
    return [pytest.param(make, id=name) for name, make in cases]


@pytest.mark.parametrize("make", _cases_accepted())
def test_accepted_crl_variants(w: World, make: Any) -> None:
    """Legal CRL variants (v1, no nextUpdate, no cRLNumber, PEM, ...) revoke the leaf."""
    revs = RevocationSet.build([make(w, serial(w.leaf))], cas=w.cas)
    assert len(revs) == 1
    assert check(w, revs).revoked
    assert not check(w, revs, w.other).revoked


def test_empty_crl_variants(w: World) -> None:
    """A CRL without entries revokes nothing but still counts as the issuer's CRL."""
    for der in (crls.crl(w.inter), crls.raw_crl(w.inter, empty_revoked=True)):
        revs = build(w, der)
        assert len(revs) == 0 and inspect_crl(der).entries == 0
        r = check(w, revs, missing_crl="deny")
        assert (r.status, r.revoked) == ("SUCCESS", False)


def test_pem_bundle_of_several_crls(w: World) -> None:
    """One PEM text holding two CRLs (root's and inter's) adds both."""
    pem = b"".join(
        x509.load_der_x509_crl(d).public_bytes(Encoding.PEM)
        for d in (crls.crl(w.root, [w.inter]), revoking_leaf(w))
    )
    revs = RevocationSet.build([pem], cas=w.cas)
    assert len(revs) == 2 and len(revs.issuers()) == 2


@pytest.mark.parametrize("data", [b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                                  b"", b"\x30", b"not a crl"])
def test_garbage_input_is_refused(w: World, data: bytes) -> None:
    """Empty input, a PEM without an X509 CRL block, or random bytes raise RevocationError."""
    with pytest.raises(RevocationError):
        build(w, data)


def test_every_prefix_of_a_crl_is_refused(w: World) -> None:
    """Every truncation of a small CRL raises RevocationError from inspect_crl and build."""
    der = crls.crl(w.inter, [Revoked(serial(w.leaf), reason=1), Revoked(77, reason=6)],
                   scope="user")
    for n in range(len(der)):
        with pytest.raises(RevocationError):
            inspect_crl(der[:n])
        with pytest.raises(RevocationError):
            build(w, der[:n])


def test_every_bit_flip_of_a_crl_is_refused(w: World) -> None:
    """Any single flipped bit in a CRL makes it refused: it never (un)revokes anything."""
    der = crls.crl(w.inter, [Revoked(serial(w.leaf), reason=1)])
    for i in range(len(der)):
        for bit in range(8):
            bad = bytearray(der)
            bad[i] ^= 1 << bit
            with pytest.raises(RevocationError):
                build(w, bytes(bad))


# --- freshness and coverage policy -------------------------------------------------------------

def _expired(w: World) -> bytes:
    return revoking_leaf(w, this_update=NOW - timedelta(days=8),
                         next_update=NOW - timedelta(days=1))  # fmt: skip


def test_expired_crl_ignored_by_default(w: World) -> None:
    """expired_crl="ignore": a CRL past its nextUpdate still revokes, and the chain verifies."""
    revs = build(w, _expired(w))
    r = check(w, revs, expired_crl="ignore")
    assert (r.status, r.verified, r.revoked) == ("SUCCESS", True, True)
    assert check(w, revs, w.other).status == "SUCCESS"


@pytest.mark.parametrize("strict", [False, True])
def test_expired_crl_denied(w: World, strict: bool) -> None:
    """expired_crl="deny": FAILED:CRL has expired, for revoked and unrevoked leaves alike."""
    revs = build(w, _expired(w))
    for leaf in (w.leaf, w.other):
        r = check(w, revs, leaf, expired_crl="deny", revoked="fail" if strict else "flag")
        assert (r.status, r.verified, r.depth) == ("FAILED:CRL has expired", False, 0)
        assert r.reason is Reason.CRL_HAS_EXPIRED


def test_expiry_boundary_is_next_update(w: World) -> None:
    """The CRL is fresh at exactly nextUpdate and expired one second later."""
    nu = NOW + timedelta(days=2)
    revs = build(w, crls.crl(w.inter, [], next_update=nu))
    v = verifier(w, revs, expired_crl="deny")
    assert run_verify(v, w.chain(), at=nu).status == "SUCCESS"
    assert run_verify(v, w.chain(), at=nu + timedelta(seconds=1)).status == (
        "FAILED:CRL has expired")


def test_expired_intermediate_crl_only_matters_in_chain_mode(w: World) -> None:
    """root's expired CRL is consulted (and denied) only when the intermediate is checked."""
    revs = build(w, crls.crl(w.inter, []), crls.crl(w.root, [], this_update=NOW - timedelta(days=9),
                                                     next_update=NOW - timedelta(days=2)))
    assert check(w, revs, expired_crl="deny").status == "SUCCESS"
    r = check(w, revs, expired_crl="deny", revocation_check="chain")
    assert (r.status, r.depth) == ("FAILED:CRL has expired", 1)


STALE = {"this_update": NOW - timedelta(days=9), "next_update": NOW - timedelta(days=2)}


def test_expired_crl_of_another_scope_does_not_deny(w: World) -> None:
    """expired_crl="deny" judges the CRLs that give the certificate its status: inter's fresh
    CRL of user certificates, not its stale one of CA certificates (it used to take the earliest
    nextUpdate of all the CA's CRLs and deny every certificate of the CA)."""
    revs = build(w, crls.crl(w.inter, [], scope="user"), crls.crl(w.inter, [], scope="ca", **STALE))
    assert check(w, revs, expired_crl="deny").status == "SUCCESS"
    revs = build(w, crls.crl(w.inter, [], scope="user", **STALE), crls.crl(w.inter, [], scope="ca"))
    assert check(w, revs, expired_crl="deny").status == "FAILED:CRL has expired"
    # the root's stale CRL of user certificates says nothing of the intermediate (a CA)
    revs = build(w, crls.crl(w.inter, []), crls.crl(w.root, [], scope="user", **STALE),
                 crls.crl(w.root, [], scope="ca"))  # fmt: skip
    r = check(w, revs, expired_crl="deny", revocation_check="chain")
    assert r.status == "SUCCESS"


@pytest.mark.parametrize(
    ("fresh", "stale", "cert_parts", "status"),
    [
        (["a"], ["b"], ["a"], "SUCCESS"),  # another partition's stale CRL: not this one's
        (["a"], ["b"], ["b"], "FAILED:CRL has expired"),
        (["a"], ["b"], ["b", "a"], "SUCCESS"),  # two partitions cover it: the fresh one decides
        ([], ["b"], ["a"], "SUCCESS"),  # no CRL covers it: missing_crl decides (allow)
        (["*"], ["b"], ["b"], "SUCCESS"),  # a fresh CRL of the whole CA covers it too
        (["a"], ["*"], ["a"], "SUCCESS"),
        (["a"], ["*"], ["c"], "FAILED:CRL has expired"),
    ],
    ids=["other-partition-stale", "own-partition-stale", "one-of-two-fresh", "uncovered",
         "fresh-full-crl", "stale-full-crl-fresh-partition", "stale-full-crl-only"],
)
def test_expired_partition_denies_only_its_certificates(
    w: World, fresh: list[str], stale: list[str], cert_parts: list[str], status: str
) -> None:
    """Partitioned CRLs (IDP distributionPoint) expire per partition: a certificate is denied
    when no CRL covering it is fresh ("*" is a CRL of the whole CA, without a distribution
    point). Also through a snapshot."""

    def crl_of(part: str, **kw: Any) -> bytes:
        idp = None if part == "*" else crls.idp(uri=crls.crl_uri(part))
        return crls.crl(w.inter, [], issuing_dp=idp, **kw)

    revs = build(w, *(crl_of(p) for p in fresh), *(crl_of(p, **STALE) for p in stale))
    leaf = _dp_leaf(w, *cert_parts)
    for rs in (revs, RevocationSet.from_snapshot_bytes(_bytes_of(revs))):
        assert check(w, rs, leaf, expired_crl="deny").status == status


def test_a_stale_delta_makes_its_partition_stale(w: World) -> None:
    """A base and its delta give current status until the earlier nextUpdate of the two."""
    base = crls.crl(w.inter, [], number=10, next_update=NOW + timedelta(days=30))
    delta = crls.crl(w.inter, [], number=11, base=10, **STALE)
    assert check(w, build(w, base), expired_crl="deny").status == "SUCCESS"
    assert check(w, build(w, base, delta), expired_crl="deny").status == "FAILED:CRL has expired"


def test_stale_partition_of_one_kind_does_not_deny_the_other(w: World) -> None:
    """One distribution point named by a fresh CRL of user certificates and a stale one of CA
    certificates: a leaf naming it is current (the window is kept per certificate kind)."""
    fresh = crls.crl(w.inter, [], issuing_dp=crls.idp("user", uri=crls.crl_uri("p1")))
    stale = crls.crl(w.inter, [], issuing_dp=crls.idp("ca", uri=crls.crl_uri("p1")), **STALE)
    leaf = _dp_leaf(w, "p1")
    for ders in ((fresh, stale), (stale, fresh)):
        revs = build(w, *ders)
        for rs in (revs, RevocationSet.from_snapshot_bytes(_bytes_of(revs))):
            assert check(w, rs, leaf, expired_crl="deny").status == "SUCCESS"
    revs = build(w, crls.crl(w.inter, [], issuing_dp=crls.idp("user", uri=crls.crl_uri("p1")),
                             **STALE), stale)  # fmt: skip
    assert check(w, revs, leaf, expired_crl="deny").status == "FAILED:CRL has expired"


@pytest.mark.parametrize("fresh_first", [True, False])
def test_fresh_full_crl_beside_a_stale_one_of_user_certificates(
    w: World, fresh_first: bool
) -> None:
    """Two CRLs without a distribution point both cover the leaf: the fresh one decides (it used
    to be the earliest nextUpdate of all of them), as OpenSSL picks the time-valid CRL."""
    fresh, stale = crls.crl(w.inter, []), crls.crl(w.inter, [], scope="user", **STALE)
    revs = build(w, *((fresh, stale) if fresh_first else (stale, fresh)))
    assert check(w, revs, expired_crl="deny").status == "SUCCESS"


@pytest.mark.parametrize("partitioned", [True, False], ids=["dp-crl", "full-crl"])
def test_explicit_entries_do_not_hide_a_stale_crl(w: World, partitioned: bool) -> None:
    """A CA with CRLs takes its coverage and deadlines from them: an explicit entry (here for an
    unrelated serial) adds a revocation, never a fresh status (it used to cover the CA for
    ever, so a stale distribution-point CRL no longer denied). A CA with only explicit entries
    is covered and never stale."""
    idp = crls.idp(uri=crls.crl_uri("p1")) if partitioned else None
    stale = crls.crl(w.inter, [], issuing_dp=idp, **STALE)
    leaf = _dp_leaf(w, "p1")
    entry = [Revocation(w.inter.der, 0x9999, 1)]
    assert check(w, build(w, stale), leaf, expired_crl="deny").status == "FAILED:CRL has expired"
    revs = build(w, stale, entries=entry)
    assert check(w, revs, leaf, expired_crl="deny").status == "FAILED:CRL has expired"
    only_entries = build(w, entries=entry)
    r = check(w, only_entries, leaf, expired_crl="deny", missing_crl="deny")
    assert (r.status, r.revoked) == ("SUCCESS", False)


# --- which CRL is current: time, numbers, removals (RFC 5280 5.2.3, 5.2.4, 6.3.3) -------------

FUTURE = {"this_update": NOW + timedelta(hours=6), "next_update": NOW + timedelta(days=7)}


@pytest.mark.parametrize("current_first", [True, False])
def test_crl_not_yet_in_force_ranks_below_the_current_one(w: World, current_first: bool) -> None:
    """A CRL issued for later (thisUpdate after the build time) does not replace the one in
    force, however it is numbered (OpenSSL prefers the time-valid CRL): the hold on the current
    CRL stands. Built for a time after its thisUpdate, the later CRL is the current one."""
    current = revoking_leaf(w, reason=6, number=4)
    later = crls.crl(w.inter, [], number=5, **FUTURE)
    ders = (current, later) if current_first else (later, current)
    r = check(w, build(w, *ders, at=NOW))
    assert (r.status, r.revoked) == ("SUCCESS", True)
    after = NOW + timedelta(hours=7)
    r = check(w, build(w, *ders, at=after), at=after)
    assert (r.status, r.revoked) == ("SUCCESS", False)


def test_delta_not_yet_in_force_is_not_applied(w: World) -> None:
    """A delta CRL issued for later does not release a hold now."""
    base = revoking_leaf(w, reason=6, number=10)
    delta = crls.raw_crl(w.inter, [crls.raw_entry(serial(w.leaf), reason=8)],
                         this_update=FUTURE["this_update"],
                         extensions=[crls.crl_number_ext(11), crls.delta_ext(10)])  # fmt: skip
    assert check(w, build(w, base, delta, at=NOW)).revoked
    after = NOW + timedelta(hours=7)
    assert not check(w, build(w, base, delta, at=after), at=after).revoked


def test_only_crl_not_yet_valid(w: World) -> None:
    """The only CRL of the leaf's issuer is issued for later: expired_crl="deny" refuses the
    status before its thisUpdate ("CRL is not yet valid", as OpenSSL), "ignore" uses it; a
    result cached after its thisUpdate is not answered for a time before it."""
    revs = build(w, crls.crl(w.inter, [], **FUTURE), at=NOW)
    r = check(w, revs, expired_crl="deny")
    assert (r.status, r.depth, r.reason) == ("FAILED:CRL is not yet valid", 0,
                                              Reason.CRL_NOT_YET_VALID)  # fmt: skip
    assert check(w, revs).status == "SUCCESS"
    v = verifier(w, revs, expired_crl="deny")
    later = NOW + timedelta(hours=7)
    assert run_verify(v, w.chain(), at=later).status == "SUCCESS"
    assert run_verify(v, w.chain(), at=later).cached
    r = run_verify(v, w.chain(), at=NOW)
    assert (r.status, r.cached) == ("FAILED:CRL is not yet valid", False)


@pytest.mark.parametrize("numbered_first", [True, False])
def test_newer_crl_without_number_beats_an_older_numbered_one(
    w: World, numbered_first: bool
) -> None:
    """cRLNumbers order CRLs that both carry one; a CRL without a number is ranked by its
    thisUpdate (an older numbered CRL used to win, and the newer CRL's entries were lost)."""
    old = crls.crl(w.inter, [], number=1, this_update=NOW - timedelta(days=5))
    new = revoking_leaf(w, number=None, this_update=NOW - timedelta(hours=1))
    revs = build(w, *((old, new) if numbered_first else (new, old)))
    assert check(w, revs).revoked
    newer_numbered = crls.crl(w.inter, [], number=2, this_update=NOW - timedelta(minutes=5))
    assert not check(w, build(w, old, new, newer_numbered)).revoked


IDP_OID = "2.5.29.28"


@pytest.mark.parametrize(
    "idp_content",
    [crls.enc(0x30, b""), crls.enc(0x30, b"\x81\x01\x00"), crls.enc(0x30, b"\x82\x01\x00")],
    ids=["empty-idp", "user-flag-false", "ca-flag-false"],
)
@pytest.mark.parametrize("idp_on_newer", [True, False])
def test_idp_with_only_default_values_is_the_whole_ca(
    w: World, idp_content: bytes, idp_on_newer: bool
) -> None:
    """An issuingDistributionPoint that says nothing (empty, or FALSE flags written out) is the
    partition of a CRL without one: the newer CRL supersedes the older however each spells it
    (a released hold used to stay, the two read as two partitions)."""
    def one(number: int, entries: list[bytes], idp: bool) -> bytes:
        exts = [crls.crl_number_ext(number)]
        if idp:
            exts.append(crls.RawExt(IDP_OID, True, idp_content))
        return crls.raw_crl(w.inter, entries, extensions=exts)

    held = [crls.raw_entry(serial(w.leaf), reason=6)]
    old, new = one(1, held, not idp_on_newer), one(2, [], idp_on_newer)
    for ders in ((old, new), (new, old)):
        revs = build(w, *ders)
        assert not check(w, revs).revoked
        assert check(w, revs, missing_crl="deny").status == "SUCCESS"


@pytest.mark.parametrize("critical", [True, False])
def test_freshest_crl_must_not_be_critical(w: World, critical: bool) -> None:
    """freshestCRL (RFC 5280 5.2.6) MUST be non-critical: a critical one makes the CRL
    malformed (as OpenSSL refuses it) rather than used without the delta it points to."""
    freshest = crls.raw_ext(x509.FreshestCRL([x509.DistributionPoint(
        [x509.UniformResourceIdentifier("http://crl.example/delta.crl")], None, None, None)]),
        critical)  # fmt: skip
    der = crls.raw_crl(w.inter, [crls.raw_entry(serial(w.leaf))],
                       extensions=[crls.crl_number_ext(1), freshest])  # fmt: skip
    if critical:
        with pytest.raises(RevocationError, match="malformed CRL"):
            build(w, der)
        assert check_crl(der, w.inter.der) == "malformed CRL"
    else:
        assert check(w, build(w, der)).revoked
        assert check_crl(der, w.inter.der) is None


def test_check_crl_reads_every_entry(w: World) -> None:
    """check_crl (and `fastmtls crl inspect`) judge a CRL as build() does: a bad entry
    (crlEntryExtensions that are not a SEQUENCE, an unknown critical entry extension) is
    reported, not "valid"."""
    unknown = crls.RawExt(_UNKNOWN, True, b"\x05\x00")
    for entry, what in ((crls.raw_entry(5, raw_extensions=b"\x04\x00"), "malformed CRL"),
                        (crls.raw_entry(5, extensions=[unknown]), "unsupported CRL")):
        der = crls.raw_crl(w.inter, [entry], extensions=[crls.crl_number_ext(1)])
        assert (check_crl(der, w.inter.der) or "").startswith(what)
        with pytest.raises(RevocationError):
            build(w, der)


@pytest.mark.parametrize("partitioned", [False, True], ids=["user-crl", "dp-crl"])
def test_crl_in_force_beats_a_fresher_one_issued_for_later(w: World, partitioned: bool) -> None:
    """Beside the CA's CRL in force, another CRL covering the leaf (of user certificates, or of a
    distribution point it names) issued for later, with a later nextUpdate: the status is the
    current CRL's under expired_crl="deny" (the later nextUpdate used to win, and every client
    failed "CRL is not yet valid" until the other CRL's thisUpdate)."""
    later = crls.crl(w.inter, [], number=1, this_update=FUTURE["this_update"],
                     next_update=NOW + timedelta(days=9), scope=None if partitioned else "user",
                     issuing_dp=crls.idp(uri=crls.crl_uri("a")) if partitioned else None)
    leaf, current = _dp_leaf(w, "a"), crls.crl(w.inter, [], number=3)
    for ders in ((current, later), (later, current)):
        assert check(w, build(w, *ders, at=NOW), leaf, expired_crl="deny").status == "SUCCESS"
    after = NOW + timedelta(hours=7)
    revs = build(w, current, later, at=after)
    assert check(w, revs, leaf, expired_crl="deny", at=after).status == "SUCCESS"


@pytest.mark.parametrize("order", [0, 1, 2])
def test_unnumbered_crl_older_than_a_base_and_its_delta(w: World, order: int) -> None:
    """A numbered base with its newer delta, and a CRL without a number issued between the two:
    the base with its delta is the current status (the unnumbered CRL, ranked by its own date
    against the base's, used to win and leave the delta without a base: no set at all)."""
    base = revoking_leaf(w, number=5, this_update=NOW - timedelta(days=2))
    delta = crls.crl(w.inter, [], number=6, base=5, this_update=NOW - timedelta(hours=1))
    plain = crls.crl(w.inter, [], number=None, this_update=NOW - timedelta(days=1))
    ders = [base, delta, plain]
    ders = ders[order:] + ders[:order]
    assert check(w, build(w, *ders)).revoked


@pytest.mark.parametrize("order", [0, 1, 2])
@pytest.mark.parametrize("revokes", ["delta", "unnumbered"])
def test_unnumbered_crl_of_the_same_time_as_a_delta(w: World, order: int, revokes: str) -> None:
    """A CA publishing a full CRL without a number and a delta in the same run (one thisUpdate):
    the base with its delta and the unnumbered CRL are equally current; the numbered base wins
    and its delta applies. The unnumbered CRL, ranked first by its own (later) thisUpdate, used
    to leave the delta without its base: the set refused to build, whatever the order."""
    at = NOW - timedelta(hours=1)
    base = crls.crl(w.inter, [], number=5, this_update=NOW - timedelta(days=2))
    delta = crls.crl(w.inter, [w.leaf] if revokes == "delta" else [], number=6, base=5,
                     this_update=at)  # fmt: skip
    plain = crls.crl(w.inter, [w.leaf] if revokes == "unnumbered" else [], number=None,
                     this_update=at)  # fmt: skip
    ders = [base, delta, plain]
    revs = build(w, *(ders[order:] + ders[:order]))
    assert check(w, revs).revoked == (revokes == "delta")
    assert revs.issuers()[0].crl_number == 6


@pytest.mark.parametrize("reissue_first", [True, False])
def test_base_reissued_under_one_number_with_a_delta(w: World, reissue_first: bool) -> None:
    """Base #5 issued twice (the later issue revokes the leaf) and a delta on #5: the later issue
    is the base whatever the order (the delta made both equally current, and the order given
    used to decide)."""
    first = crls.crl(w.inter, [], number=5, this_update=NOW - timedelta(days=2))
    again = revoking_leaf(w, number=5, this_update=NOW - timedelta(days=1))
    delta = crls.crl(w.inter, [], number=6, base=5, this_update=NOW - timedelta(hours=1))
    ders = (again, first, delta) if reissue_first else (first, again, delta)
    assert check(w, build(w, *ders)).revoked


@pytest.mark.parametrize("order", [0, 1, 2])
def test_unnumbered_crl_newer_than_a_base_and_its_delta(w: World, order: int) -> None:
    """A CRL without a number issued after a numbered base and its delta is the current status;
    the delta is superseded by it (the build used to fail: a delta without a numbered base)."""
    base = crls.crl(w.inter, [], number=5, this_update=NOW - timedelta(days=2))
    delta = crls.crl(w.inter, [], number=6, base=5, this_update=NOW - timedelta(hours=2))
    plain = revoking_leaf(w, number=None, this_update=NOW - timedelta(hours=1))
    ders = [base, delta, plain]
    assert check(w, build(w, *(ders[order:] + ders[:order]))).revoked


def test_crl_numbers_not_rising_with_dates_still_give_a_base(w: World) -> None:
    """#7 older than #5 and a CRL without a number between them rank in a circle (a CA's
    numbering error): a base is still chosen and the leaf each lists is revoked (no base used to
    be chosen, and the partition dropped out)."""
    ders = [revoking_leaf(w, number=7, this_update=NOW - timedelta(days=3)),
            revoking_leaf(w, number=5, this_update=NOW - timedelta(days=1)),
            revoking_leaf(w, number=None, this_update=NOW - timedelta(days=2))]  # fmt: skip
    for k in range(3):
        revs = build(w, *(ders[k:] + ders[:k]))
        assert check(w, revs).revoked
        assert check(w, revs, missing_crl="deny").status == "SUCCESS"


def _remove_delta(w: World, serial_: int, base: int, idp: x509.IssuingDistributionPoint) -> bytes:
    return crls.raw_crl(w.inter, [crls.raw_entry(serial_, reason=8)],
                        extensions=[crls.crl_number_ext(base + 1), crls.delta_ext(base),
                                    crls.raw_ext(idp, True)])  # fmt: skip


@pytest.mark.parametrize("order", ["ca-first", "ca-last", "ca-between"])
def test_remove_from_crl_acts_on_its_own_base_whatever_the_order(w: World, order: str) -> None:
    """A hold on a CA-only CRL and on a user CRL, the user CRL's delta releasing it: the leaf is
    not revoked (the CA-only CRL is out of its scope), whatever the order the CRLs come in (a
    record created by another partition used to stay)."""
    held = Revoked(serial(w.leaf), reason=6)
    ca_base = crls.crl(w.inter, [held], number=1, scope="ca")
    user_base = crls.crl(w.inter, [held], number=1, scope="user")
    user_delta = _remove_delta(w, serial(w.leaf), 1, crls.idp("user", uri=None))
    ders = {"ca-first": (ca_base, user_base, user_delta),
            "ca-last": (user_base, user_delta, ca_base),
            "ca-between": (user_base, ca_base, user_delta)}[order]  # fmt: skip
    revs = build(w, *ders)
    assert not check(w, revs).revoked
    assert revs.lookup(w.inter.der, serial(w.leaf)) is not None  # still a CA-only revocation


@pytest.mark.parametrize("both_release", [True, False])
def test_hold_on_two_partitions_released_by_each(w: World, both_release: bool) -> None:
    """Two partitions put one serial on hold and each delta releases it: not revoked (it used to
    stay revoked); when only one releases it, the other partition's hold stands."""
    leaf = _dp_leaf(w, "p1")
    held = [Revoked(serial(leaf), reason=6)]

    def base(name: str) -> bytes:
        return crls.crl(w.inter, held, number=1, issuing_dp=crls.idp(uri=crls.crl_uri(name)))

    ders = [base("p1"), _remove_delta(w, serial(leaf), 1, crls.idp(uri=crls.crl_uri("p1"))),
            base("p2")]  # fmt: skip
    if both_release:
        ders.append(_remove_delta(w, serial(leaf), 1, crls.idp(uri=crls.crl_uri("p2"))))
    revs = build(w, *ders)
    assert check(w, revs, leaf).revoked is not both_release
    assert len(revs) == (0 if both_release else 1)


def test_crl_without_next_update_never_expires(w: World) -> None:
    """A CRL without nextUpdate is never stale."""
    revs = build(w, crls.raw_crl(w.inter, [crls.raw_entry(serial(w.leaf))], next_update=None))
    r = check(w, revs, expired_crl="deny", at=NOW + timedelta(days=300))
    assert (r.status, r.revoked) == ("SUCCESS", True)


def test_cached_result_is_not_answered_after_the_crl_expires(w: World) -> None:
    """With expired_crl="deny" a cached SUCCESS is valid only until the CRL's nextUpdate."""
    revs = build(w, crls.crl(w.inter, [], next_update=NOW + timedelta(days=1)))
    v = verifier(w, revs, expired_crl="deny")
    assert run_verify(v, w.chain()).status == "SUCCESS"
    assert run_verify(v, w.chain()).cached
    r = run_verify(v, w.chain(), at=NOW + timedelta(days=2))
    assert (r.status, r.cached) == ("FAILED:CRL has expired", False)


@pytest.mark.parametrize(
    ("crl_from", "mode", "status", "depth"),
    [
        ("inter", "leaf", "SUCCESS", None),
        ("root", "leaf", "FAILED:unable to get certificate CRL", 0),
        ("none", "leaf", "FAILED:unable to get certificate CRL", 0),
        ("inter", "chain", "FAILED:unable to get certificate CRL", 1),
        ("root", "chain", "FAILED:unable to get certificate CRL", 0),
        ("both", "chain", "SUCCESS", None),
    ],
)
def test_missing_crl_denied(
    w: World, crl_from: str, mode: str, status: str, depth: int | None
) -> None:
    """missing_crl="deny": every checked certificate's issuer must have a CRL in the set."""
    ders = {"inter": [crls.crl(w.inter)], "root": [crls.crl(w.root)], "none": [],
            "both": [crls.crl(w.inter), crls.crl(w.root)]}[crl_from]  # fmt: skip
    revs = build(w, *ders)
    r = check(w, revs, missing_crl="deny", revocation_check=mode)
    assert (r.status, r.depth) == (status, depth)
    if depth is not None:
        assert r.reason is Reason.UNABLE_TO_GET_CRL and not r.verified
    allowed = check(w, revs, missing_crl="allow", revocation_check=mode)
    assert (allowed.status, allowed.revoked) == ("SUCCESS", False)


@pytest.mark.parametrize("mode", ["leaf", "chain"])
def test_missing_crl_denied_without_any_set(w: World, mode: str) -> None:
    """missing_crl="deny" with no revocation set at all (revocations=None: before a CRLSource
    first loaded, or swapped out) covers nothing: every chain fails, as under an empty set. It
    used to skip revocation checking and pass every chain (fail open)."""
    r = check(w, None, missing_crl="deny", revocation_check=mode)
    assert (r.status, r.depth, r.verified) == ("FAILED:unable to get certificate CRL", 0, False)
    v = verifier(w, build(w, crls.crl(w.inter), crls.crl(w.root)), missing_crl="deny",
                 revocation_check=mode)  # fmt: skip
    assert run_verify(v, w.chain(), at=NOW).status == "SUCCESS"
    v.revocations = None  # hot swap to no set: fails closed from the next verification on
    assert run_verify(v, w.chain(), at=NOW).status == "FAILED:unable to get certificate CRL"
    assert check(w, None, missing_crl="allow", revocation_check=mode).status == "SUCCESS"


def test_explicit_entries_count_as_the_issuers_crl(w: World) -> None:
    """A CA with operator-managed entries only is covered: missing_crl="deny" passes."""
    revs = build(w, entries=[Revocation(w.inter.der, 12345)])
    r = check(w, revs, missing_crl="deny")
    assert (r.status, r.revoked) == ("SUCCESS", False)


def test_missing_crl_of_a_same_named_other_ca(w: World) -> None:
    """A CRL of another CA that shares inter's name does not cover inter."""
    impostor = _impostor(w)
    revs = RevocationSet.build([crls.crl(impostor, [w.leaf])], cas=[impostor.der])
    r = check(w, revs, missing_crl="deny")
    assert (r.status, r.revoked) == ("FAILED:unable to get certificate CRL", False)
    assert not check(w, revs).revoked


# --- delta CRLs -----------------------------------------------------------------------------------

def test_delta_adds_a_serial(w: World) -> None:
    """A delta CRL's entries are merged onto its base: both serials are revoked."""
    base = crls.crl(w.inter, [Revoked(serial(w.other), reason=4)], number=1)
    delta = crls.crl(w.inter, [Revoked(serial(w.leaf), reason=1)], number=2, base=1)
    revs = build(w, base, delta)
    assert len(revs) == 2
    assert check(w, revs).revocation == (0, 1, REVOKED_TS)
    assert check(w, revs, w.other).revocation == (0, 4, REVOKED_TS)


def test_delta_remove_from_crl_unrevokes_a_hold(w: World) -> None:
    """A certificateHold on the base is lifted by removeFromCRL in the delta."""
    base = crls.crl(w.inter, [Revoked(serial(w.leaf), reason=6), 99], number=1)
    delta = crls.crl(w.inter, [Revoked(serial(w.leaf), reason=8)], number=2, base=1)
    assert check(w, build(w, base)).revocation == (0, 6, REVOKED_TS)
    revs = build(w, base, delta)
    assert not check(w, revs).revoked
    assert revs.lookup(w.inter.der, serial(w.leaf)) is None
    assert len(revs) == 1
    assert [i.entries for i in revs.issuers()] == [1]


def test_delta_remove_from_crl_of_an_absent_serial_is_harmless(w: World) -> None:
    """removeFromCRL for a serial the base does not list changes nothing."""
    base = revoking_leaf(w, number=1)
    delta = crls.crl(w.inter, [Revoked(424242, reason=8)], number=2, base=1)
    revs = build(w, base, delta)
    assert len(revs) == 1 and check(w, revs).revoked
    assert revs.lookup(w.inter.der, 424242) is None


def test_delta_can_change_the_reason(w: World) -> None:
    """A hold on the base that the delta turns into keyCompromise reports keyCompromise."""
    base = revoking_leaf(w, 6, number=1)
    delta = crls.crl(w.inter, [Revoked(serial(w.leaf), reason=1, date=NOW)], number=2, base=1)
    assert check(w, build(w, base, delta)).revocation == (0, 1, int(NOW.timestamp()))


@pytest.mark.parametrize("delta_number", [3, 5], ids=["older", "same-number"])
def test_delta_not_newer_than_the_base_is_ignored(w: World, delta_number: int) -> None:
    """A delta whose number is not above the base's is superseded by the base: ignored."""
    base = crls.crl(w.inter, [w.other], number=5)
    delta = crls.crl(w.inter, [w.leaf], number=delta_number, base=2)
    revs = build(w, base, delta)
    assert not check(w, revs).revoked and check(w, revs, w.other).revoked
    assert len(revs) == 1


def test_delta_applies_to_a_newer_base_than_it_names(w: World) -> None:
    """BaseCRLNumber 3 applies to base 5 (RFC 5280 5.2.4: base number >= BaseCRLNumber)."""
    revs = build(w, crls.crl(w.inter, [], number=5), crls.crl(w.inter, [w.leaf], number=6, base=3))
    assert check(w, revs).revoked


@pytest.mark.parametrize(
    "ders",
    [
        lambda w: [crls.crl(w.inter, [w.leaf], number=2, base=1)],
        lambda w: [crls.crl(w.inter, [], number=1), crls.crl(w.inter, [w.leaf], number=4, base=2)],
        lambda w: [crls.crl(w.inter, [], number=None), crls.crl(w.inter, [w.leaf], number=2,
                                                                  base=1)],
        lambda w: [crls.crl(w.inter, [], number=1, scope="user"),
                   crls.crl(w.inter, [w.leaf], number=2, base=1)],
        lambda w: [crls.crl(w.root, [], number=1), crls.crl(w.inter, [w.leaf], number=2, base=1)],
    ],
    ids=["no-base", "base-too-old", "base-without-number", "base-in-other-partition",
         "base-of-other-ca"],
)
def test_delta_without_a_usable_base_is_refused(w: World, ders: Any) -> None:
    """A delta without a base of its CA and partition, or too new a base, is refused."""
    with pytest.raises(RevocationError, match="delta CRL without a matching base CRL"):
        build(w, *ders(w))


@pytest.mark.parametrize("order", ["in-order", "reversed"])
@pytest.mark.parametrize(
    ("second", "third", "revoked"),
    [(6, 8, False), (8, 1, True), (6, 1, True), (1, 8, False)],
    ids=["hold-then-remove", "remove-then-revoke", "hold-then-compromise", "revoke-then-remove"],
)
def test_two_deltas_apply_in_number_order(
    w: World, order: str, second: int, third: int, revoked: bool
) -> None:
    """Of deltas 2 and 3 on base 1, delta 3 alone applies, whatever order they are given in."""
    base = crls.crl(w.inter, [], number=1)
    d2 = crls.crl(w.inter, [Revoked(serial(w.leaf), reason=second)], number=2, base=1)
    d3 = crls.crl(w.inter, [Revoked(serial(w.leaf), reason=third)], number=3, base=1)
    ders = [base, d2, d3] if order == "in-order" else [d3, d2, base]
    revs = build(w, *ders)
    r = check(w, revs)
    assert r.revoked == revoked
    if revoked:
        assert r.revocation is not None and r.revocation[1] == third
    assert revs.issuers()[0].crl_number == 3


@pytest.mark.parametrize("order", ["in-order", "reversed", "mixed"])
def test_superseded_delta_is_not_applied(w: World, order: str) -> None:
    """A delta lists every change since its base: an older delta's hold, released before the
    newest delta (which does not list it), does not revoke (RFC 5280 5.2.4)."""
    base = crls.crl(w.inter, [], number=1)
    d2 = crls.crl(w.inter, [Revoked(serial(w.leaf), reason=6)], number=2, base=1)
    d3 = crls.crl(w.inter, [Revoked(serial(w.other), reason=1)], number=3, base=1)
    ders = {"in-order": [base, d2, d3], "reversed": [d3, d2, base], "mixed": [d2, base, d3]}
    revs = build(w, *ders[order])
    assert not check(w, revs).revoked and revs.lookup(w.inter.der, serial(w.leaf)) is None
    assert check(w, revs, w.other).revoked and len(revs) == 1
    assert revs.issuers()[0].crl_number == 3


def test_superseded_delta_dates_do_not_count(w: World) -> None:
    """An expired older delta beside a fresh newer one: expired_crl="deny" passes, and the
    issuer's dates are the base's and the newest delta's."""
    base = crls.crl(w.inter, [], number=1, next_update=NOW + timedelta(days=30))
    stale = crls.crl(w.inter, [], number=2, base=1, this_update=NOW - timedelta(days=5),
                     next_update=NOW - timedelta(days=1))  # fmt: skip
    fresh = crls.crl(w.inter, [], number=3, base=1)
    revs = build(w, base, stale, fresh)
    assert check(w, revs, expired_crl="deny").status == "SUCCESS"
    info = revs.issuers()[0]
    assert info.next_update == int(crls.NEXT_UPDATE.timestamp())
    assert info.this_update == int(crls.THIS_UPDATE.timestamp())
    # the stale delta alone is still refused when expired CRLs are denied
    assert check(w, build(w, base, stale), expired_crl="deny").status == "FAILED:CRL has expired"


def test_unusable_delta_older_than_the_applied_one_is_ignored(w: World) -> None:
    """A delta that needs a newer base but is superseded by an applicable newer delta is
    ignored; the newest delta needing a newer base is refused (its status cannot be applied),
    even beside an older applicable delta."""
    base = crls.crl(w.inter, [], number=2)
    needs_3 = crls.crl(w.inter, [w.other], number=4, base=3)
    applicable = crls.crl(w.inter, [w.leaf], number=6, base=2)
    revs = build(w, base, needs_3, applicable)
    assert check(w, revs).revoked and not check(w, revs, w.other).revoked
    newest_needs_5 = crls.crl(w.inter, [w.other], number=7, base=5)
    with pytest.raises(RevocationError, match=r"CRL #3 \(issuer CN=Revocation Intermediate CA\)"
                       ".*delta CRL without a matching base CRL"):
        build(w, base, applicable, newest_needs_5)


@pytest.mark.parametrize("order", ["old-first", "new-first"])
def test_newest_base_wins(w: World, order: str) -> None:
    """Of two base CRLs of one CA and partition, only the highest cRLNumber is used."""
    old = crls.crl(w.inter, [w.leaf], number=1)
    new = crls.crl(w.inter, [w.other], number=2)
    revs = build(w, *([old, new] if order == "old-first" else [new, old]))
    assert not check(w, revs).revoked and check(w, revs, w.other).revoked
    assert len(revs) == 1 and revs.issuers()[0].crl_number == 2


@pytest.mark.parametrize("numbered", [True, False])
def test_two_crls_of_one_number_and_date_never_depend_on_order(w: World, numbered: bool) -> None:
    """Two different CRLs with the same cRLNumber (or none) and the same thisUpdate (a CA's
    error): the one revoking more is used, and between two of one size the choice is the same
    whatever order they are given in (it used to be the first given)."""
    number = 4 if numbered else None
    fewer = crls.crl(w.inter, [w.leaf], number=number)
    more = crls.crl(w.inter, [w.leaf, w.other], number=number)
    for ders in ((fewer, more), (more, fewer)):
        revs = build(w, *ders)
        assert check(w, revs).revoked and check(w, revs, w.other).revoked
    a = crls.crl(w.inter, [w.leaf], number=number)
    b = crls.crl(w.inter, [w.other], number=number)
    outcomes = set()
    for ders in ((a, b), (b, a)):
        revs = build(w, *ders)
        outcomes.add((check(w, revs).revoked, check(w, revs, w.other).revoked))
    assert len(outcomes) == 1 and outcomes.pop() in ((True, False), (False, True))


def test_bases_in_different_partitions_are_all_used(w: World) -> None:
    """A user-certificate CRL and a CA-certificate CRL of one CA are separate partitions."""
    user = crls.crl(w.root, [w.leaf], number=1, scope="user")
    ca = crls.crl(w.root, [w.inter], number=7, scope="ca")
    revs = build(w, user, ca, crls.crl(w.inter, []))
    assert len(revs) == 2
    r = check(w, revs, revocation_check="chain", missing_crl="deny")
    assert r.revocation is not None and r.revocation[0] == 1


@pytest.mark.parametrize(
    ("old", "new"), [(1, 2), (127, 128), (255, 256), (2**64 - 1, 2**64), (2**158, 2**159 - 1)],
    ids=lambda n: f"{n:x}",
)
def test_crl_numbers_compare_by_value(w: World, old: int, new: int) -> None:
    """cRLNumbers compare as integers, whatever their encoded length."""
    # the higher base wins, and a delta numbered above its base applies
    a, b = crls.crl(w.inter, [w.leaf], number=old), crls.crl(w.inter, [w.other], number=new)
    revs = build(w, b, a)
    assert not check(w, revs).revoked and check(w, revs, w.other).revoked
    assert revs.issuers()[0].crl_number == new
    revs = build(w, crls.crl(w.inter, [], number=old), crls.crl(w.inter, [w.leaf], number=new,
                                                                base=old))
    assert check(w, revs).revoked


def test_partitions_by_distribution_point_all_apply(w: World) -> None:
    """Complete CRLs of one CA with different distribution points all apply."""
    a = crls.crl(w.inter, [w.leaf], number=4, issuing_dp=crls.idp(uri="http://crl/a.crl"))
    b = crls.crl(w.inter, [w.other], number=2, issuing_dp=crls.idp(uri="http://crl/b.crl"))
    revs = build(w, a, b)
    assert check(w, revs).revoked and check(w, revs, w.other).revoked
    assert len(revs) == 2


def test_reissued_ca_certificate_shares_revocations(w: World) -> None:
    """A re-issued CA certificate (same name and key) shares its revocations."""
    # revocations are keyed by the CA's name and key, not by its certificate
    reissued = pki.intermediate(w.root, "Revocation Intermediate CA", key=w.inter.key,
                                serial=INTER_SERIAL + 1)  # fmt: skip
    revs = build(w, revoking_leaf(w))
    r = run_verify(verifier(w, revs), [w.leaf, reissued])
    assert (r.status, r.revoked) == ("SUCCESS", True)
    assert revs.lookup(reissued.der, serial(w.leaf)) is not None


def test_delta_in_a_partition(w: World) -> None:
    """A delta with the same IDP as its base merges onto that partition only."""
    base = crls.crl(w.inter, [], number=1, scope="user")
    delta = crls.crl(w.inter, [w.leaf], number=2, base=1, scope="user")
    assert check(w, build(w, base, delta)).revoked


# --- IDP scopes ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("issuer", "scope", "target", "mode", "revoked"),
    [
        ("inter", None, "leaf", "leaf", True),
        ("inter", "all", "leaf", "leaf", True),
        ("inter", "user", "leaf", "leaf", True),
        ("inter", "ca", "leaf", "leaf", False),
        ("inter", "attribute", "leaf", "leaf", False),
        ("root", None, "inter", "chain", True),
        ("root", "ca", "inter", "chain", True),
        ("root", "user", "inter", "chain", False),
        ("root", "attribute", "inter", "chain", False),
        ("root", "ca", "inter", "leaf", False),
    ],
)
def test_idp_scope(
    w: World, issuer: str, scope: crls.Scope | None, target: str, mode: str, revoked: bool
) -> None:
    """IDP scopes: user CRLs revoke leaves, CA CRLs intermediates, attribute CRLs nothing."""
    ca = getattr(w, issuer)
    revs = build(w, crls.crl(ca, [getattr(w, target)], scope=scope))
    r = check(w, revs, revocation_check=mode)
    assert r.status == "SUCCESS"
    assert r.revoked == revoked
    if revoked:
        assert r.revocation is not None and r.revocation[0] == (0 if target == "leaf" else 1)


@pytest.mark.parametrize(
    ("scope", "leaf_covered"), [("user", True), ("ca", False), ("attribute", False)]
)
def test_idp_scope_decides_coverage(w: World, scope: crls.Scope, leaf_covered: bool) -> None:
    """With missing_crl="deny", only a CRL covering end entities is the leaf's CRL."""
    r = check(w, build(w, crls.crl(w.inter, [], scope=scope)), missing_crl="deny")
    assert r.status == ("SUCCESS" if leaf_covered else "FAILED:unable to get certificate CRL")


@pytest.mark.parametrize("full_scope", [None, "user"])
@pytest.mark.parametrize("ca_first", [True, False], ids=["ca-crl-first", "ca-crl-last"])
def test_serial_on_crls_of_two_scopes_is_revoked_for_both(
    w: World, full_scope: crls.Scope | None, ca_first: bool
) -> None:
    """The same serial on a CA-only CRL and on a CRL covering end entities (of one issuer):
    revoked as a leaf whatever the order the CRLs come in (the union of their scopes, never the
    last CRL's alone), and the entry counted once."""
    ca_crl = crls.crl(w.inter, [w.leaf], scope="ca")
    user_crl = crls.crl(w.inter, [w.leaf], scope=full_scope)
    revs = build(w, *((ca_crl, user_crl) if ca_first else (user_crl, ca_crl)))
    assert len(revs) == 1
    assert check(w, revs).revoked
    snap = RevocationSet.from_snapshot_bytes(_bytes_of(revs))
    assert check(w, snap).revoked


def test_lookup_ignores_user_and_ca_scope(w: World) -> None:
    """The public lookup answers for any certificate type; attribute-only CRLs add nothing."""
    ca_only = build(w, crls.crl(w.inter, [w.leaf], scope="ca"))
    assert ca_only.lookup(w.inter.der, serial(w.leaf)) is not None
    attr = build(w, crls.crl(w.inter, [w.leaf], scope="attribute"))
    assert attr.lookup(w.inter.der, serial(w.leaf)) is None and len(attr) == 0


# --- distribution point partitions (RFC 5280 6.3.3 (b)(2)(i)) ----------------------------------

def _dp_leaf(w: World, *names: Any, **kw: Any) -> pki.Cert:
    """A leaf of w.inter whose cRLDistributionPoints names ``names`` (see crls.cdp_ext)."""
    return pki.leaf(w.inter, "partitioned client", extra_extensions=[crls.cdp_ext(*names, **kw)])


def _part_crl(w: World, name: str, entries: Sequence[Any] = (), **kw: Any) -> bytes:
    """inter's CRL of partition ``name`` (IDP distributionPoint crls.crl_uri(name))."""
    return crls.crl(w.inter, entries, issuing_dp=crls.idp(uri=crls.crl_uri(name), **kw))


def _covered(w: World, revs: RevocationSet, leaf: pki.Cert, **kw: Any) -> bool:
    r = check(w, revs, leaf, missing_crl="deny", **kw)
    assert r.status in ("SUCCESS", "FAILED:unable to get certificate CRL")
    return r.status == "SUCCESS"


@pytest.mark.parametrize(
    ("crl_parts", "cert_parts", "covered"),
    [
        (["a"], ["b"], False),  # another partition's CRL: no status for this certificate
        (["b"], ["b"], True),
        (["a", "b"], ["b"], True),
        (["a"], ["b", "a"], True),  # several names in the CDP: any one matching is enough
        (["a"], [], False),  # a certificate without cRLDistributionPoints
    ],
    ids=["other-partition", "own-partition", "both", "cdp-with-two-names", "no-cdp"],
)
def test_partitioned_crl_covers_only_its_distribution_point(
    w: World, crl_parts: list[str], cert_parts: list[str], covered: bool
) -> None:
    """A CRL whose IDP names a distribution point is complete status only for certificates
    whose cRLDistributionPoints name it (OpenSSL: "different CRL scope")."""
    leaf = _dp_leaf(w, *cert_parts) if cert_parts else w.other
    revs = build(w, *(_part_crl(w, p) for p in crl_parts))
    assert _covered(w, revs, leaf) == covered
    assert check(w, revs, leaf).status == "SUCCESS"  # missing_crl="allow": never a failure


def test_crl_without_distribution_point_covers_every_certificate(w: World) -> None:
    """A CRL without IDP distributionPoint is in scope for certificates of any CDP."""
    for der in (crls.crl(w.inter, []), crls.crl(w.inter, [], scope="user")):
        assert _covered(w, build(w, der), _dp_leaf(w, "b"))


def test_partitioned_crl_keeps_its_user_or_ca_scope(w: World) -> None:
    """A partition's onlyContainsUserCerts / onlyContainsCACerts still applies."""
    leaf = _dp_leaf(w, "a")
    assert _covered(w, build(w, _part_crl(w, "a", scope="user")), leaf)
    assert not _covered(w, build(w, _part_crl(w, "a", scope="ca")), leaf)
    assert not _covered(w, build(w, _part_crl(w, "a", reasons=[
        x509.ReasonFlags.key_compromise])), leaf)  # fmt: skip
    inter = pki.intermediate(w.root, "Revocation Intermediate CA", key=w.inter.key,
                             serial=INTER_SERIAL, extra_extensions=[crls.cdp_ext("root")])
    root_part = crls.crl(w.root, [], issuing_dp=crls.idp("ca", uri=crls.crl_uri("root")))
    revs = build(w, root_part, crls.crl(w.inter, []))
    r = run_verify(verifier(w, revs, missing_crl="deny", revocation_check="chain"),
                   [w.leaf, inter], at=NOW)  # fmt: skip
    assert r.status == "SUCCESS"
    r = run_verify(verifier(w, revs, missing_crl="deny", revocation_check="chain"),
                   [w.leaf, w.inter], at=NOW)  # fmt: skip
    assert r.status == "FAILED:unable to get certificate CRL" and r.depth == 1


def test_partition_names_by_relative_name(w: World) -> None:
    """nameRelativeToCRLIssuer compares by its RDN, never with a fullName."""
    rdn = x509.RelativeDistinguishedName([x509.NameAttribute(x509.NameOID.COMMON_NAME, "part7")])
    other = x509.RelativeDistinguishedName([x509.NameAttribute(x509.NameOID.COMMON_NAME, "part8")])
    crl = crls.crl(w.inter, [], issuing_dp=crls.idp(relative=rdn))
    assert _covered(w, build(w, crl), _dp_leaf(w, relative=rdn))
    assert not _covered(w, build(w, crl), _dp_leaf(w, relative=other))
    assert not _covered(w, build(w, crl), _dp_leaf(w, "part7"))


@pytest.mark.parametrize("stale_first", [True, False])
def test_two_relative_distribution_points_the_fresh_one_decides(
    w: World, stale_first: bool
) -> None:
    """A certificate naming two partitions by nameRelativeToCRLIssuer, in two distribution
    points: with one partition's CRL stale and the other's fresh, the fresh one gives current
    status, whichever point comes first; with both stale, expired_crl="deny" refuses."""
    rdns = [x509.RelativeDistinguishedName([x509.NameAttribute(x509.NameOID.COMMON_NAME, n)])
            for n in ("rel-stale", "rel-fresh")]  # fmt: skip
    points = [x509.DistributionPoint(None, rdn, None, None) for rdn in rdns]
    if not stale_first:
        points.reverse()
    leaf = pki.leaf(w.inter, "two relative points",
                    extra_extensions=[(x509.CRLDistributionPoints(points), False)])
    stale = crls.crl(w.inter, [], issuing_dp=crls.idp(relative=rdns[0]), **STALE)
    fresh = crls.crl(w.inter, [], issuing_dp=crls.idp(relative=rdns[1]))
    assert check(w, build(w, stale, fresh), leaf, expired_crl="deny").status == "SUCCESS"
    both_stale = crls.crl(w.inter, [], issuing_dp=crls.idp(relative=rdns[1]), **STALE)
    r = check(w, build(w, stale, both_stale), leaf, expired_crl="deny")
    assert r.status == "FAILED:CRL has expired"


def test_distribution_point_reasons_and_crl_issuer(w: World) -> None:
    """A CDP with reasons is partial; one with a cRLIssuer counts when it names the CA."""
    revs = build(w, _part_crl(w, "a"))
    assert not _covered(w, revs, _dp_leaf(w, "a", reasons=[x509.ReasonFlags.key_compromise]))
    assert _covered(w, revs, _dp_leaf(w, "a", crl_issuer=[x509.DirectoryName(
        w.inter.cert.subject)]))  # fmt: skip
    assert not _covered(w, revs, _dp_leaf(w, "a", crl_issuer=[x509.DirectoryName(
        w.root.cert.subject)]))  # fmt: skip


def test_a_complete_crl_covers_a_certificate_whose_distribution_point_has_reasons(
        w: World) -> None:  # fmt: skip
    """A deliberate difference from OpenSSL, which reads RFC 5280 6.3.3 by the certificate's
    distribution points ("unable to get certificate CRL" here): a complete CRL of the CA (no
    issuingDistributionPoint, or one of the leaf's scope naming no partition and no reasons)
    lists every revoked certificate of the CA for every reason, so it decides a leaf whatever
    reasons the leaf's distribution point names. Only partitioned CRLs are matched by name."""
    leaf = _dp_leaf(w, "a", reasons=[x509.ReasonFlags.key_compromise])
    for crl in (crls.crl(w.inter, []), crls.crl(w.inter, [], scope="user")):
        assert _covered(w, build(w, crl), leaf)
    revoking = crls.crl(w.inter, [Revoked(serial(leaf), reason=1)])
    assert check(w, build(w, revoking), leaf, missing_crl="deny").revoked


def test_partition_entries_revoke_whatever_the_partition(w: World) -> None:
    """Entries revoke by issuer and serial whichever partition listed them (conservative)."""
    leaf = _dp_leaf(w, "b")
    revs = build(w, _part_crl(w, "a", [leaf]))
    r = check(w, revs, leaf)
    assert (r.status, r.revoked) == ("SUCCESS", True)


def test_removal_in_one_partition_keeps_another_partitions_entry(w: World) -> None:
    """A delta's removeFromCRL in partition B does not undo partition A's listing."""
    hold = Revoked(serial(w.leaf), reason=6)
    a = crls.crl(w.inter, [w.leaf], number=3, issuing_dp=crls.idp(uri=crls.crl_uri("a")))
    b = crls.crl(w.inter, [hold], number=1, issuing_dp=crls.idp(uri=crls.crl_uri("b")))
    b_delta = crls.crl(w.inter, [Revoked(serial(w.leaf), reason=8)], number=2, base=1,
                       issuing_dp=crls.idp(uri=crls.crl_uri("b")))  # fmt: skip
    for order in ([a, b, b_delta], [b, b_delta, a], [b_delta, a, b]):
        assert check(w, build(w, *order)).revoked
    assert not check(w, build(w, b, b_delta)).revoked


def test_partitions_survive_a_snapshot(w: World, tmp_path: Path) -> None:
    """Coverage by distribution point is the same after save and load."""
    rdn = x509.RelativeDistinguishedName([x509.NameAttribute(x509.NameOID.COMMON_NAME, "r")])
    revs = build(w, _part_crl(w, "a", scope="user"), _part_crl(w, "c"),
                 crls.crl(w.inter, [], number=2, issuing_dp=crls.idp(relative=rdn)),
                 crls.crl(w.root, [], issuing_dp=crls.idp("ca", uri=crls.crl_uri("root"))))
    revs.save(tmp_path / "p.snap")
    for s in (revs, RevocationSet.load(tmp_path / "p.snap"),
              RevocationSet.from_snapshot_bytes((tmp_path / "p.snap").read_bytes())):
        assert _covered(w, s, _dp_leaf(w, "a"))
        assert _covered(w, s, _dp_leaf(w, "c"))
        assert _covered(w, s, _dp_leaf(w, relative=rdn))
        assert not _covered(w, s, _dp_leaf(w, "b"))
        assert not _covered(w, s, w.other)


def test_malformed_crl_distribution_points_reject_the_certificate(w: World) -> None:
    """A cRLDistributionPoints that is not valid DER of its syntax is an invalid extension."""
    oid = x509.ObjectIdentifier("2.5.29.31")
    for value in (b"\x30\x00", b"\x30\x02\x30\x00", b"\x30\x04\x30\x02\x81\x00",
                  b"\x30\x06\x30\x04\xa0\x02\x82\x00"):  # fmt: skip
        leaf = pki.leaf(w.inter, "bad cdp",
                        extra_extensions=[(x509.UnrecognizedExtension(oid, value), False)])
        r = check(w, None, leaf)
        assert r.status.startswith("FAILED:"), value.hex()


# --- issuers, explicit entries, lookup ---------------------------------------------------------

def test_same_serial_under_two_cas(w: World) -> None:
    """Two intermediates reuse one serial; only the one whose CA revoked it is revoked."""
    a = pki.intermediate(w.root, "Serial CA A")
    b = pki.intermediate(w.root, "Serial CA B")
    la, lb = pki.leaf(a, serial=0x5EED), pki.leaf(b, serial=0x5EED)
    revs = RevocationSet.build([crls.crl(a, [0x5EED]), crls.crl(b, [1])],
                               cas=[w.root.der, a.der, b.der])  # fmt: skip
    v = verifier(w, revs, missing_crl="deny")
    assert run_verify(v, [la, a]).revoked
    assert not run_verify(v, [lb, b]).revoked
    assert revs.lookup(a.der, 0x5EED) is not None and revs.lookup(b.der, 0x5EED) is None


@pytest.mark.parametrize("n_cas", [8, 9, 40])
def test_many_issuing_cas(w: World, tmp_path: Path, n_cas: int) -> None:
    """Sets of more than 8 CAs find issuers through an index (fewer are scanned): every CA's
    revocations are found, in the built set, its snapshot and during verification, and a serial
    revoked by one CA stays valid under the others."""
    cas = [pki.intermediate(w.root, f"Many CA {i}") for i in range(n_cas)]
    revs = RevocationSet.build([crls.crl(ca, [100 + i]) for i, ca in enumerate(cas)],
                               cas=[w.root.der, *(ca.der for ca in cas)])  # fmt: skip
    path = tmp_path / "many.snap"
    revs.save(path)
    for rs in (revs, RevocationSet.load(path)):
        assert len(rs.issuers()) == n_cas
        for i, ca in enumerate(cas):
            assert rs.lookup(ca.der, 100 + i) is not None
            assert rs.lookup(ca.der, 100 + (i + 1) % n_cas) is None
        v = verifier(w, rs, missing_crl="deny")
        last = cas[-1]
        assert run_verify(v, [pki.leaf(last, serial=100 + n_cas - 1), last]).revoked
        assert not run_verify(v, [pki.leaf(last, serial=100), last]).revoked
        stranger = pki.intermediate(w.root, "Not In The Set")
        r = run_verify(v, [pki.leaf(stranger, serial=100), stranger])
        assert r.reason == Reason.UNABLE_TO_GET_CRL, r.status


@pytest.mark.parametrize("order", ["a-first", "b-first"])
def test_same_name_two_keys(w: World, order: str) -> None:
    """Two CAs with one name and different keys are different issuers."""
    # each CRL lands on the CA whose key signed it; a serial one revokes stays valid under the other
    a = pki.intermediate(w.root, "Twin CA")
    b = pki.intermediate(w.root, "Twin CA")
    la, lb = pki.leaf(a, serial=777), pki.leaf(b, serial=777)
    cas = [w.root.der, a.der, b.der] if order == "a-first" else [w.root.der, b.der, a.der]
    for aki in (True, False):
        revs = RevocationSet.build([crls.crl(b, [1], aki=aki), crls.crl(a, [777], aki=aki)],
                                   cas=cas)  # fmt: skip
        assert len(revs.issuers()) == 2
        v = verifier(w, revs)
        assert run_verify(v, [la, a]).revoked
        assert not run_verify(v, [lb, b]).revoked
        assert revs.lookup(b.der, 777) is None


@pytest.mark.parametrize("date", [REVOKED_AT, REVOKED_TS, None], ids=["datetime", "int", "none"])
def test_explicit_entries(w: World, date: Any) -> None:
    """Revocation entries revoke like CRL entries, with their reason and date."""
    revs = build(w, entries=[Revocation(w.inter.der, serial(w.leaf), 1, date)])
    r = check(w, revs)
    assert r.revocation == (0, 1, REVOKED_TS if date is not None else 0)
    assert not check(w, revs, w.other).revoked
    assert revs.issuers()[0].has_crl is False
    assert Revocation(w.inter.der, 1, 9).reason_name == "privilegeWithdrawn"


def test_explicit_entries_apply_after_crls(w: World) -> None:
    """An explicit entry overrides the CRL's reason and survives a delta's removeFromCRL."""
    base = revoking_leaf(w, 6, number=1)
    delta = crls.crl(w.inter, [Revoked(serial(w.leaf), reason=8)], number=2, base=1)
    revs = build(w, base, delta, entries=[Revocation(w.inter.der, serial(w.leaf), 1, REVOKED_TS)])
    assert check(w, revs).revocation == (0, 1, REVOKED_TS)
    assert len(revs) == 1


@pytest.mark.parametrize(
    ("entry", "exc"),
    [
        (lambda w: Revocation(w.inter.der, 5, reason=7), RevocationError),
        (lambda w: Revocation(w.inter.der, 5, reason=8), RevocationError),
        (lambda w: Revocation(w.inter.der, 5, reason=11), RevocationError),
        (lambda w: Revocation(b"not a certificate", 5), RevocationError),
        (lambda w: Revocation(w.inter.der, 5, date=datetime(2026, 1, 1)), ConfigurationError),
    ],
    ids=["reason-7", "reason-8", "reason-11", "issuer-not-a-certificate", "naive-date"],
)
def test_invalid_explicit_entries(w: World, entry: Any, exc: type[Exception]) -> None:
    """Invalid reasons, unparseable issuers and naive dates are configuration errors."""
    with pytest.raises(exc):
        build(w, entries=[entry(w)])


def test_explicit_remove_from_crl_is_refused(w: World) -> None:
    """An explicit removeFromCRL (8) is refused, in Python and in C: it would delete the CA's
    own CRL revocation of that serial."""
    with pytest.raises(RevocationError, match="reason 8 is not allowed in an explicit entry"):
        build(w, revoking_leaf(w), entries=[Revocation(w.inter.der, serial(w.leaf), reason=8)])
    from fastmtls._ffi import ffi, lib

    out = ffi.new("fm_revbuild **")
    assert lib.fm_revbuild_new(out) == 0
    try:
        for reason, ok in ((8, False), (7, False), (11, False), (6, True), (10, True)):
            rc = lib.fm_revbuild_add_entry(out[0], w.inter.der, len(w.inter.der), b"\x05", 1,
                                           reason, 0)  # fmt: skip
            assert (rc == 0) == ok, reason
    finally:
        lib.fm_revbuild_free(out[0])


@pytest.mark.parametrize("position", [1, 2, 3])
def test_errors_name_the_crl_at_fault(w: World, position: int) -> None:
    """A CRL refused for a bad entry (found while building) or a bad header is named by its
    position among the CRLs given and its issuer."""
    good = [crls.crl(w.root, [w.inter]), crls.crl(w.inter, [w.other], number=1)]
    bad_entry = crls.raw_crl(w.inter, [crls.raw_entry(5, reason=1),
                                       crls.raw_entry(6, raw_extensions=b"\x04\x00")],
                             number=2)  # fmt: skip
    ders = [*good[: position - 1], bad_entry, *good[position - 1 :]]
    pattern = rf"CRL #{position} \(issuer CN=Revocation Intermediate CA\): malformed CRL"
    with pytest.raises(RevocationError, match=pattern):
        build(w, *ders)
    ders[position - 1] = b"\x30\x03\x02\x01\x01"
    with pytest.raises(RevocationError, match=rf"CRL #{position}: malformed CRL"):
        build(w, *ders)


def test_lookup_api(w: World) -> None:
    """lookup() returns the Revocation, or None for other serials and issuers."""
    entries = [crls.raw_entry(5, reason=1), crls.raw_entry(0, reason=3)]
    revs = build(w, crls.raw_crl(w.inter, entries), entries=[Revocation(w.root.der, -5, 4, 100)])
    assert revs.lookup(w.inter.der, 5) == Revocation(w.inter.der, 5, 1, REVOKED_TS)
    assert revs.lookup(w.inter.der, 0) == Revocation(w.inter.der, 0, 3, REVOKED_TS)
    assert revs.lookup(w.root.der, -5) == Revocation(w.root.der, -5, 4, 100)
    for issuer, s in [(w.inter.der, 6), (w.inter.der, 5 << 8), (w.inter.der, -5),
                      (w.root.der, 5), (pki.ca("unrelated").der, 5), (_impostor(w).der, 5)]:
        assert revs.lookup(issuer, s) is None
    with pytest.raises(ConfigurationError):
        revs.lookup(b"\x30\x00", 5)


def test_issuers_info(w: World) -> None:
    """issuers(): per CA its name and key, CRL dates, newest cRLNumber and live entry count."""
    t1, t2 = NOW - timedelta(days=3), NOW - timedelta(hours=5)
    base = crls.crl(w.inter, [1, 2, 3], number=7, this_update=t1, next_update=NOW + timedelta(9))
    delta = crls.crl(w.inter, [4, Revoked(2, reason=8)], number=9, base=7, this_update=t2,
                     next_update=NOW + timedelta(days=1))
    revs = build(w, base, delta, entries=[Revocation(w.root.der, 1)])
    info = {i.name_der: i for i in revs.issuers()}
    inter = info[w.inter.cert.subject.public_bytes()]
    assert inter.spki_der == w.inter.cert.public_key().public_bytes(
        Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    assert (inter.has_crl, inter.crl_number, inter.entries) == (True, 9, 3)
    assert inter.this_update == int(t2.timestamp())
    assert inter.next_update == int((NOW + timedelta(days=1)).timestamp())
    root = info[w.root.cert.subject.public_bytes()]
    assert (root.has_crl, root.this_update, root.next_update, root.crl_number, root.entries) == (
        False, None, None, None, 1)
    assert len(revs) == 4
    assert repr(revs) == "<RevocationSet entries=4 issuers=2>"


def test_empty_set(w: World) -> None:
    """RevocationSet.empty() revokes nothing and has no issuers."""
    e = RevocationSet.empty()
    assert (len(e), e.issuers(), e.lookup(w.inter.der, 1)) == (0, [], None)
    assert e.memory_bytes > 0
    assert not check(w, e).revoked
    assert check(w, e, missing_crl="deny").status == "FAILED:unable to get certificate CRL"


def test_generations_are_unique(w: World) -> None:
    """Every set, built or loaded, has its own generation."""
    gens = {build(w, revoking_leaf(w)).generation for _ in range(3)}
    assert len(gens) == 3


def test_cas_may_be_a_trust_store(w: World) -> None:
    """cas= accepts a TrustStore (its anchors); CRLs of CAs outside it are refused."""
    revs = RevocationSet.build([crls.crl(w.root, [w.inter])], cas=w.store)
    assert revs.lookup(w.root.der, serial(w.inter)) is not None
    with pytest.raises(RevocationError, match="no configured CA"):
        RevocationSet.build([revoking_leaf(w)], cas=w.store)


@pytest.mark.parametrize(
    ("kind", "expect"),
    [
        ("base", dict(number=1, base_number=None, delta=False, scope="all", entries=2, version=2)),
        ("delta", dict(number=3, base_number=2, delta=True, scope="all", entries=1, version=2)),
        ("user", dict(number=1, delta=False, scope="user", partitioned_by_reason=False)),
        ("ca", dict(scope="ca")),
        ("attribute", dict(scope="attribute")),
        ("reasons", dict(scope="all", partitioned_by_reason=True)),
        ("v1", dict(number=None, base_number=None, next_update=None, version=1, entries=1)),
    ],
)
def test_inspect_crl(w: World, kind: str, expect: dict[str, Any]) -> None:
    """inspect_crl reports issuer, dates, numbers, entries, delta flag, scope and version."""
    ders = {
        "base": lambda: crls.crl(w.inter, [1, 2], number=1),
        "delta": lambda: crls.crl(w.inter, [1], number=3, base=2),
        "user": lambda: crls.crl(w.inter, [], scope="user"),
        "ca": lambda: crls.crl(w.inter, [], scope="ca"),
        "attribute": lambda: crls.crl(w.inter, [], scope="attribute"),
        "reasons": lambda: crls.crl(w.inter, [], issuing_dp=crls.idp(
            reasons=[x509.ReasonFlags.key_compromise, x509.ReasonFlags.ca_compromise])),
        "v1": lambda: crls.raw_crl(w.inter, [crls.raw_entry(1)], version=1, next_update=None),
    }  # fmt: skip
    info = inspect_crl(ders[kind]())
    assert info.issuer_der == w.inter.cert.subject.public_bytes()
    assert info.this_update == int(crls.THIS_UPDATE.timestamp())
    if kind != "v1":
        assert info.next_update == int(crls.NEXT_UPDATE.timestamp())
    for k, v in expect.items():
        assert getattr(info, k) == v, k


def test_inspect_crl_reads_pem_and_bytes_like(w: World) -> None:
    """inspect_crl takes the forms build() and CRLSource take: DER bytes or bytes-like, PEM
    bytes or text (one CRL; it read DER only, and a PEM CRL raised 'malformed CRL')."""
    der = crls.crl(w.inter, [1, 2])
    pem = b"-----BEGIN X509 CRL-----\n" + base64.encodebytes(der) + b"-----END X509 CRL-----\n"
    for form in (der, bytearray(der), memoryview(der), pem, pem.decode()):
        assert inspect_crl(form) == inspect_crl(der)
    with pytest.raises(ConfigurationError, match="reads one CRL; this PEM holds 2"):
        inspect_crl(pem + pem)
    with pytest.raises(ConfigurationError):
        inspect_crl(12345)  # type: ignore[arg-type]


def test_check_crl(w: World) -> None:
    """check_crl: None for the issuing CA, the reason otherwise."""
    der = revoking_leaf(w)
    assert check_crl(der, w.inter.der) is None
    assert check_crl(der, w.root.der) == "CRL issuer does not match the CA"
    assert check_crl(crls.flip_signature_bit(der), w.inter.der) == "CRL signature failure"
    assert check_crl(der[:-3], w.inter.der) == "malformed CRL"


# --- snapshots ----------------------------------------------------------------------------------

def _rich_set(w: World) -> RevocationSet:
    base = crls.crl(w.inter, [Revoked(serial(w.leaf), reason=1), Revoked(3, reason=6), 4],
                    number=10)
    delta = crls.crl(w.inter, [Revoked(3, reason=8), Revoked(5, reason=2)], number=11, base=10)
    root = crls.crl(w.root, [Revoked(serial(w.inter), reason=5)], scope="ca")
    return build(w, base, delta, root, entries=[Revocation(w.root.der, 2**100, 9, 12345)])


def _probe(w: World, revs: RevocationSet) -> list[Any]:
    out: list[Any] = [len(revs), revs.issuers()]
    for issuer in (w.inter, w.root):
        for s in (serial(w.leaf), serial(w.inter), serial(w.other), 3, 4, 5, 6, 2**100):
            out.append(revs.lookup(issuer.der, s))
    for mode in ("leaf", "chain"):
        for leaf in (w.leaf, w.other):
            r = check(w, revs, leaf, revocation_check=mode)
            out.append((r.status, r.revocation))
    return out


def test_snapshot_round_trip(w: World, tmp_path: Path) -> None:
    """save() then load() / from_snapshot_bytes() give the same set, new generation."""
    revs = _rich_set(w)
    path = tmp_path / "revs.snap"
    revs.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["revs.snap"]
    loaded = RevocationSet.load(path)
    from_bytes = RevocationSet.from_snapshot_bytes(path.read_bytes())
    expected = _probe(w, revs)
    assert expected[0] == 5
    assert _probe(w, loaded) == expected and _probe(w, from_bytes) == expected
    assert loaded.memory_bytes == revs.memory_bytes
    assert len({revs.generation, loaded.generation, from_bytes.generation}) == 3
    RevocationSet.empty().save(str(path))
    assert len(RevocationSet.load(path)) == 0 and len(loaded) == 5  # the mapping is private


def _bytes_of(revs: RevocationSet) -> bytes:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "s"
        revs.save(p)
        return p.read_bytes()


def test_every_truncation_of_a_snapshot_is_refused(w: World, tmp_path: Path) -> None:
    """Every prefix of a snapshot, or one with bytes appended, raises SnapshotError."""
    data = _bytes_of(_rich_set(w))
    for n in range(len(data)):
        with pytest.raises(SnapshotError):
            RevocationSet.from_snapshot_bytes(data[:n])
    path = tmp_path / "t.snap"
    for n in (0, 1, 7, 8, 127, 128, 129, len(data) // 2, len(data) - 8, len(data) - 1):
        path.write_bytes(data[:n])
        with pytest.raises(SnapshotError):
            RevocationSet.load(path)
    for extra in (b"\x00", b"\x00" * 8):
        with pytest.raises(SnapshotError):
            RevocationSet.from_snapshot_bytes(data + extra)


def test_snapshot_byte_flips_never_crash(w: World) -> None:
    """Any corrupted byte in a snapshot is refused or loads into a usable set, no crash."""
    data = _bytes_of(_rich_set(w))
    for i in range(len(data)):
        for mask in (0x01, 0x10, 0x80, 0xFF):
            bad = bytearray(data)
            bad[i] ^= mask
            try:
                revs = RevocationSet.from_snapshot_bytes(bytes(bad))
            except SnapshotError:
                continue
            _probe(w, revs)


# Header layout (fm_revset.c rs_header): magic 0-7, version 8-11, endian 12-15, total_len 16-23,
# checksum 24-31, n_entries 32-39, n_slots 40-47, n_issuers 48-55, off_issuers 56-63,
# off_slots 64-71, off_arena 72-79, arena_len 80-87, off_blob 88-95, blob_len 96-103,
# off_parts 104-111, n_parts 112-119, seed 120-127. The checksum covers every byte, the
# header included.
_FIELDS = [
    ("magic", 0, 8), ("version", 8, 4), ("endian", 12, 4), ("total_len", 16, 8),
    ("checksum", 24, 8), ("n_entries", 32, 8), ("n_slots", 40, 8), ("n_issuers", 48, 8),
    ("off_issuers", 56, 8), ("off_slots", 64, 8), ("off_arena", 72, 8), ("arena_len", 80, 8),
    ("off_blob", 88, 8), ("blob_len", 96, 8), ("off_parts", 104, 8), ("n_parts", 112, 8),
    ("seed", 120, 8),
]  # fmt: skip


def _snapshot_variety(w: World) -> list[bytes]:
    """Snapshots of several layouts: the rich set, one CRL, the empty set, and explicit-entry
    sets of 1..7 entries (body lengths of every residue mod 32)."""
    sets = [_rich_set(w), build(w, revoking_leaf(w)), RevocationSet.empty()]
    sets += [build(w, entries=[Revocation(w.inter.der, s) for s in range(1, k + 1)])
             for k in range(1, 8)]  # fmt: skip
    return [_bytes_of(s) for s in sets]


def _bit_flip_survivors(w: World, start: int, stop: int | None) -> list[tuple[int, int, int]]:
    """(snapshot length, byte, bit) of every single-bit flip in bytes start..stop (None: to the
    end) of the snapshots of _snapshot_variety that still loads."""
    survivors = []
    for data in _snapshot_variety(w):
        for i in range(start, len(data) if stop is None else stop):
            for bit in range(8):
                bad = bytearray(data)
                bad[i] ^= 1 << bit
                try:
                    RevocationSet.from_snapshot_bytes(bytes(bad))
                    survivors.append((len(data), i, bit))
                except SnapshotError:
                    pass
    return survivors


@pytest.mark.parametrize(("off", "size"), [pytest.param(o, n, id=f) for f, o, n in _FIELDS])
def test_snapshot_header_field_bit_flips_are_refused(w: World, off: int, size: int) -> None:
    """Every single-bit flip of a snapshot header field raises SnapshotError."""
    assert not _bit_flip_survivors(w, off, off + size)


def test_snapshot_body_bit_flips_are_refused(w: World) -> None:
    """Every single-bit flip after the snapshot header is caught by the checksum."""
    # snapshots of several layouts: body lengths of every residue modulo the 32-byte blocks
    assert not _bit_flip_survivors(w, 128, None)


def test_snapshot_random_byte_flips_are_refused(w: World) -> None:
    """Random corruption anywhere in a snapshot (1-3 bytes) raises SnapshotError."""
    data = _bytes_of(_rich_set(w))
    rng = random.Random(5280)
    survivors = []
    for _ in range(3000):
        bad = bytearray(data)
        for _ in range(rng.randint(1, 3)):
            bad[rng.randrange(len(bad))] ^= rng.randint(1, 255)
        if bad == data:
            continue
        try:
            RevocationSet.from_snapshot_bytes(bytes(bad))
            survivors.append(bytes(bad))
        except SnapshotError:
            pass
    assert not survivors


@pytest.mark.parametrize(
    ("off", "value", "match"),
    [(0, b"FMREVSEU", "corrupt"), (0, b"\x00" * 8, "corrupt"), (8, struct.pack("<I", 1), "version"),
     (8, struct.pack("<I", 5), "version"), (8, struct.pack("<I", 7), "version"),
     (8, struct.pack("<I", 0), "version"), (12, struct.pack(">I", 0x01020304), "version")],
    ids=["magic", "zero-magic", "version-1", "version-5", "version-7", "version-0",
         "other-endian"],
)
def test_snapshot_wrong_magic_or_version(
    w: World, tmp_path: Path, off: int, value: bytes, match: str
) -> None:
    """A wrong magic, version or byte order raises SnapshotError."""
    data = bytearray(_bytes_of(_rich_set(w)))
    data[off : off + len(value)] = value
    path = tmp_path / "v.snap"
    path.write_bytes(bytes(data))
    with pytest.raises(SnapshotError, match=match):
        RevocationSet.load(path)
    with pytest.raises(SnapshotError, match=match):
        RevocationSet.from_snapshot_bytes(bytes(data))


def test_snapshot_of_an_older_format_is_refused_clearly(w: World, tmp_path: Path) -> None:
    """A version-1 snapshot (before distribution point partitions), even with a valid checksum,
    raises SnapshotError saying to compile it again."""
    data = bytearray(_bytes_of(_rich_set(w)))
    data[8:12] = struct.pack("<I", 1)
    path = tmp_path / "v1.snap"
    path.write_bytes(bytes(data))
    with pytest.raises(SnapshotError, match=r"unsupported revocation snapshot version.*compile it"):
        RevocationSet.load(path)


def test_concurrent_saves_to_one_path(w: World, tmp_path: Path) -> None:
    """Two saves to one path at once (two jobs publishing one snapshot) each write a temporary
    file of their own: both succeed, the path always loads as one of the two whole sets, and no
    temporary file is left behind (a shared one was truncated under the other writer)."""
    sets = [build(w, crls.big_crl(w.inter, 60_000, seed=s).der) for s in (1, 2)]
    path = tmp_path / "shared.snap"
    def save(revs: RevocationSet, barrier: threading.Barrier, errors: list[Exception]) -> None:
        barrier.wait()
        try:
            revs.save(path)
        except RevocationError as e:  # pragma: no cover - the failure this test catches
            errors.append(e)

    for _ in range(12):
        barrier, errors = threading.Barrier(2), []
        threads = [threading.Thread(target=save, args=(s, barrier, errors)) for s in sets]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        loaded = RevocationSet.load(path)
        assert len(loaded) == 60_000
        assert _bytes_of(loaded) in (_bytes_of(sets[0]), _bytes_of(sets[1]))
    assert [p.name for p in tmp_path.iterdir()] == ["shared.snap"]


def test_snapshot_io_errors(tmp_path: Path) -> None:
    """I/O failures raise RevocationError (not SnapshotError); an empty file is corrupt."""
    for bad in (tmp_path / "missing.snap", tmp_path):
        with pytest.raises(RevocationError) as exc:
            RevocationSet.load(bad)
        assert not isinstance(exc.value, SnapshotError)
    with pytest.raises(RevocationError):
        RevocationSet.empty().save(tmp_path / "no" / "such" / "dir.snap")
    (tmp_path / "empty.snap").write_bytes(b"")
    with pytest.raises(SnapshotError):
        RevocationSet.load(tmp_path / "empty.snap")


# --- swaps and caches ---------------------------------------------------------------------------

@pytest.mark.parametrize("before", ["none", "empty", "crl-not-revoking"])
def test_result_cache_never_answers_from_before_a_revocation(w: World, before: str) -> None:
    """The result cache never answers from before a swap to a set revoking the leaf."""
    first = {"none": None, "empty": RevocationSet.empty(),
             "crl-not-revoking": build(w, crls.crl(w.inter, [w.other]))}[before]  # fmt: skip
    v = verifier(w, first)
    assert run_verify(v, w.chain()).cached is False
    r = run_verify(v, w.chain())
    assert (r.status, r.revoked, r.cached) == ("SUCCESS", False, True)
    v.revocations = build(w, revoking_leaf(w))
    r = run_verify(v, w.chain())
    assert (r.status, r.revoked, r.cached) == ("SUCCESS", True, False)
    assert r.fields()["cert_revoked"] is True
    r = run_verify(v, w.chain())
    assert (r.revoked, r.cached, r.revocation) == (True, True, (0, 1, REVOKED_TS))
    v.revocations = first
    r = run_verify(v, w.chain())
    assert (r.revoked, r.fields()["cert_revoked"]) == (False, False)


def test_swap_to_an_identical_rebuilt_set_is_a_new_generation(w: World, tmp_path: Path) -> None:
    """A reloaded copy of the same set is a new generation: no stale cache answers."""
    revs = build(w, revoking_leaf(w))
    v = verifier(w, revs)
    run_verify(v, w.chain())
    assert run_verify(v, w.chain()).cached
    revs.save(tmp_path / "s")
    v.revocations = RevocationSet.load(tmp_path / "s")
    r = run_verify(v, w.chain())
    assert (r.revoked, r.cached) == (True, False)


def test_revocations_setter_validates(w: World) -> None:
    """Only a RevocationSet or None can be assigned; policy options are validated."""
    v = verifier(w, None)
    with pytest.raises(ConfigurationError):
        v.revocations = b"crl"  # type: ignore[assignment]  # the point of the test
    for opt in ("revocation_check", "missing_crl", "expired_crl", "revoked"):
        kw: dict[str, Any] = {opt: "bogus"}
        with pytest.raises(ConfigurationError, match=opt):
            Verifier(w.store, **kw)


def test_hot_swap_under_threads(w: World) -> None:
    """Swapping sets and the store under 4 verifying threads: answers from exactly one set."""
    # set A revokes the leaf, set B the other leaf; 500 swaps; never an exception
    a = build(w, crls.crl(w.inter, [Revoked(serial(w.leaf), reason=1)]))
    b = build(w, crls.crl(w.inter, [Revoked(serial(w.other), reason=4)]))
    store = TrustStore()
    store.add_der(w.root.der, name="root")
    flag = Verifier(store, revocations=a)
    strict = Verifier(store, revocations=a, revoked="fail", result_cache_size=0)
    uncached = Verifier(store, revocations=a, result_cache_size=0, signature_cache_size=0)
    extra = pki.ca("Hot swap extra CA")
    chains = {"leaf": [w.leaf.der, w.inter.der], "other": [w.other.der, w.inter.der]}
    stop = threading.Event()
    errors: list[str] = []
    seen: collections.Counter[str] = collections.Counter()
    lock = threading.Lock()

    def classify(kind: str, target: str, r: VerifyResult) -> str:
        if kind == "strict":
            if r.status not in ("SUCCESS", "FAILED:certificate revoked"):
                return f"bad status {r.status}"
            if r.revoked != (r.status != "SUCCESS"):
                return "revoked disagrees with status"
        else:
            if r.status != "SUCCESS" or not r.verified:
                return f"bad status {r.status}"
            want = {"leaf": (0, 1, REVOKED_TS), "other": (0, 4, REVOKED_TS)}[target]
            if r.revoked and r.revocation != want:
                return f"revocation {r.revocation} is in neither set"
            if r.fields()["cert_revoked"] is not r.revoked:
                return "fields disagree"
        revoked_one = target if r.revoked else "none"
        # A revokes leaf, B revokes other: exactly one set explains each answer
        return {("leaf", "leaf"): "A", ("leaf", "none"): "B", ("other", "other"): "B",
                ("other", "none"): "A"}[(target, revoked_one)]  # fmt: skip

    def worker() -> None:
        local: collections.Counter[str] = collections.Counter()
        try:
            while not stop.is_set():
                for kind, v in (("flag", flag), ("strict", strict), ("uncached", uncached)):
                    for target, ch in chains.items():
                        label = classify(kind, target, v.verify(ch, at=NOW))
                        if label not in ("A", "B"):
                            errors.append(f"{kind}/{target}: {label}")
                        local[label] += 1
        except BaseException as exc:
            errors.append(repr(exc))
        with lock:
            seen.update(local)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for k in range(500):
            s = a if k % 2 else b
            flag.revocations = s
            strict.revocations = s
            uncached.revocations = s
            if k % 10 == 0:
                store.add_der(extra.der, name="extra")
            elif k % 10 == 5:
                store.remove("extra")
            time.sleep(0.0002)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors[:10]
    assert seen["A"] > 0 and seen["B"] > 0, seen


def test_lookup_remembers_issuers_without_mixing_them_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """rs.lookup() remembers each CA's (name, key) for speed: across more CAs than it keeps (2
    here), with bytes and bytearray issuers, every answer is still that CA's own."""
    import fastmtls.revocation as revocation

    monkeypatch.setattr(revocation, "_ISSUER_KEYS_MAX", 2)
    cas = [pki.ca(f"Lookup CA {i}") for i in range(3)]
    rs = RevocationSet.build(entries=[Revocation(ca.der, 7 + i, 1, 0) for i, ca in
                                      enumerate(cas)])  # fmt: skip
    for _ in range(2):
        for i, ca in enumerate(cas):
            assert rs.lookup(ca.der, 7 + i) == Revocation(ca.der, 7 + i, 1, 0)
            assert rs.lookup(bytearray(ca.der), 7 + i) is not None
            assert rs.lookup(ca.der, 7 + (i + 1) % 3) is None  # another CA's serial
            assert len(revocation._ISSUER_KEYS) <= 2
    with pytest.raises(ConfigurationError):
        rs.lookup(b"not a certificate", 7)


# --- scale --------------------------------------------------------------------------------------

def test_big_crl_generator_output_is_a_valid_crl() -> None:
    """crls.big_crl writes a CRL cryptography parses and whose signature is valid."""
    for key in ("p256", "rsa2048", "ed25519"):
        ca = pki.ca(f"Generator {key} CA", key)
        big = crls.big_crl(ca, 500, seed=3)
        parsed = x509.load_der_x509_crl(big.der)
        assert parsed.is_signature_valid(ca.cert.public_key())  # type: ignore[arg-type]
        assert len(parsed) == 500 == len(big)
        assert parsed.get_revoked_certificate_by_serial_number(big.serial(123)) is not None
        assert [r.serial_number for r in parsed][:3] == [big.serial(i) for i in range(3)]


def test_million_entry_set(tmp_path: Path) -> None:
    """1,000,000 entries: <= 40 bytes each, exact lookups, a revoked leaf found, fast; the set
    (in its own huge-page mapping) outlives the CRL the builder borrowed, and its snapshot (the
    checksum computed at save) opens to the same answers."""
    ca = pki.ca("Million CA")
    n = 1_000_000
    big = crls.big_crl(ca, n, seed=1)
    der = bytearray(big.der)  # build() takes its own bytes; mutating this afterwards is harmless
    revs = RevocationSet.build([der], cas=[ca.der])
    der[:] = bytes(len(der))
    del der
    revs.save(tmp_path / "million.fmrs")
    loaded = RevocationSet.load(tmp_path / "million.fmrs")
    assert len(revs) == len(loaded) == n
    assert revs.memory_bytes / len(revs) <= 40
    rng = random.Random(2)
    for i in rng.sample(range(n), 2000):
        want = Revocation(ca.der, big.serial(i), 0, REVOKED_TS)
        assert revs.lookup(ca.der, big.serial(i)) == want == loaded.lookup(ca.der, big.serial(i))
    present = {big.serial(i) for i in range(n)}
    absent = [s for s in (rng.getrandbits(127) for _ in range(2000)) if s not in present]
    assert all(revs.lookup(ca.der, s) is None and loaded.lookup(ca.der, s) is None for s in absent)
    store = TrustStore()
    store.add_der(ca.der, name="m")
    v = Verifier(store, revocations=revs, missing_crl="deny", expired_crl="deny")
    revoked_leaf = pki.leaf(ca, serial=big.serial(n // 2))
    good_leaf = pki.leaf(ca, serial=absent[0])
    assert v.verify([revoked_leaf.der], at=NOW).revoked
    r = v.verify([good_leaf.der], at=NOW)
    assert (r.status, r.revoked) == ("SUCCESS", False)


# --- extension criticality and partial CRLs (RFC 5280 5.2, 6.3.3) ------------------------------


@pytest.mark.parametrize(
    "extensions",
    [
        pytest.param(lambda: [crls.crl_number_ext(1, critical=True)], id="critical-crl-number"),
        pytest.param(lambda: [crls.delta_ext(1)], id="delta-without-crl-number"),
    ],
)
def test_crl_extension_rules_refused(w: World, extensions: Any) -> None:
    """A critical cRLNumber (5.2.3) and a delta CRL without its own cRLNumber (5.2.4) are
    refused."""
    der = crls.raw_crl(w.inter, extensions=extensions())
    with pytest.raises(RevocationError):
        build(w, der)


def test_reason_partitioned_crl_is_not_complete_status(w: World) -> None:
    """A CRL with onlySomeReasons still revokes, but is not complete status for
    missing_crl="deny"."""
    der = crls.crl(
        w.inter,
        [Revoked(serial(w.other), reason=1)],
        issuing_dp=crls.idp(reasons=[x509.ReasonFlags.key_compromise]),
    )
    revs = build(w, der)
    assert check(w, revs, w.other).revoked
    r = check(w, revs, missing_crl="deny")
    assert r.status == "FAILED:unable to get certificate CRL"
    assert check(w, revs, missing_crl="allow").status == "SUCCESS"


def test_bytes_like_inputs_and_typed_outputs(w: World) -> None:
    """inspect_crl takes any bytes-like DER (a bytearray raised a raw CFFI TypeError); lookup
    refuses a bool serial, and the Revocation it returns holds bytes, not the caller's buffer."""
    from fastmtls.revocation import inspect_crl

    der = crls.crl(w.inter, [w.leaf], number=3)
    assert inspect_crl(bytearray(der)).number == inspect_crl(memoryview(der)).number == 3
    with pytest.raises(ConfigurationError):
        inspect_crl("not bytes")  # type: ignore[arg-type]
    revs = build(w, der)
    buf = bytearray(w.inter.der)
    rv = revs.lookup(buf, serial(w.leaf))
    assert rv is not None and type(rv.issuer) is bytes and rv.issuer == w.inter.der
    with pytest.raises(ConfigurationError, match="bool"):
        revs.lookup(w.inter.der, True)


# ---- review: revocation is part of path validity -----------------------------------------------


@pytest.mark.parametrize("revoked", ["fail", "flag"])
@pytest.mark.parametrize("order", ["old-presented-new-configured", "old-then-new", "new-then-old"])
def test_a_revoked_path_does_not_hide_a_clean_one(order: str, revoked: str) -> None:
    """A re-issued intermediate (same name and key, new serial) beside the revoked old one: the
    path through the new one is found whatever the order, with chain checking in both modes.
    Revocation used to be checked on the first valid path only: FAILED (strict), or SUCCESS
    flagged revoked, when the old one came first."""
    root = pki.ca("Reissue Root CA")
    key = pki.make_key("p256")
    old = pki.intermediate(root, "Reissued Issuing CA", key, serial=1001)
    new = pki.intermediate(root, "Reissued Issuing CA", key, serial=1002)
    leaf = pki.leaf(new, "reissue client")
    store = TrustStore()
    store.add_der(root.der, name="root")
    revs = RevocationSet.build([crls.crl(root, [1001])], cas=[root.der], at=NOW)
    presented, configured = {"old-presented-new-configured": ([old.der], [new.der]),
                             "old-then-new": ([old.der, new.der], []),
                             "new-then-old": ([new.der, old.der], [])}[order]  # fmt: skip
    v = Verifier(store, intermediates=configured, revocations=revs, revocation_check="chain",
                 revoked=revoked)  # fmt: skip
    r = v.verify([leaf.der, *presented], at=NOW)
    assert r.status == "SUCCESS" and not r.revoked
    assert r.chain[1] == new.der
    only_old = Verifier(store, revocations=revs, revocation_check="chain", revoked=revoked)
    r = only_old.verify([leaf.der, old.der], at=NOW)  # the only path: revoked
    if revoked == "fail":  # the refused path is named (the fuzzer found it missing once)
        assert r.status == "FAILED:certificate revoked" and r.depth == 1
        assert r._res.chain_len == 3  # (the API shows a chain for successes only)
    else:
        assert r.status == "SUCCESS" and r.revoked and r.revocation is not None


def test_a_path_without_a_crl_does_not_hide_one_with(w: World) -> None:
    """A cross-signed intermediate under two roots, one publishing CRLs: with missing_crl="deny"
    the path through the root that has a CRL is found whatever the order (the one through the
    CRL-less root used to be found first and fail)."""
    r1, r2 = pki.ca("Cross Root One"), pki.ca("Cross Root Two")
    key = pki.make_key("p256")
    via_r2 = pki.intermediate(r2, "Cross Issuing CA", key)
    via_r1 = pki.intermediate(r1, "Cross Issuing CA", key)
    leaf = pki.leaf(via_r1, "cross client")
    store = TrustStore()
    store.add_der(r1.der, name="r1")
    store.add_der(r2.der, name="r2")
    revs = RevocationSet.build([crls.crl(r1, []), crls.crl(via_r1, [])],
                               cas=[r1.der, via_r1.der], at=NOW)  # fmt: skip
    v = Verifier(store, revocations=revs, revocation_check="chain", missing_crl="deny")
    for presented in ([via_r2.der, via_r1.der], [via_r1.der, via_r2.der]):
        r = v.verify([leaf.der, *presented], at=NOW)
        assert r.status == "SUCCESS" and r.anchor_name == "r1"
    r = v.verify([leaf.der, via_r2.der], at=NOW)
    assert r.status == "FAILED:unable to get certificate CRL" and r.depth == 1


def test_a_revoked_leaf_ends_the_search(w: World) -> None:
    """The leaf's own revocation is the same on every path (its issuer's name and key are fixed
    by its signature): found revoked, the search stops there (no other candidate is tried)."""
    revs = build(w, crls.crl(w.inter, [w.leaf]))
    extra = [pki.intermediate(w.root, "Revocation Intermediate CA").der for _ in range(5)]
    v = Verifier(w.store, revocations=revs, result_cache_size=0, signature_cache_size=0)
    r = v.verify([w.leaf.der, w.inter.der, *extra], at=NOW)
    assert r.revoked and r._res.sig_checks == 2


# ---- hash flooding: serials a CA chose to collide --------------------------------------------

_K = 0x9E3779B97F4A7C15
_M64 = (1 << 64) - 1


def _fold_mul(a: int, b: int) -> int:
    p = a * b
    return (p ^ (p >> 64)) & _M64


def _entry_hash(seed: int, issuer: int, serial: bytes) -> int:
    """fm_revset.c entry_hash, in Python: where a serial's record goes in a set built with
    ``seed`` (issuer: the CA's position in the set)."""
    h = _fold_mul(seed ^ (issuer << 32) ^ len(serial), _K)
    for i in range(0, len(serial), 8):
        h = _fold_mul(h ^ int.from_bytes(serial[i : i + 8], "little"), _K)
    h ^= seed
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & _M64
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & _M64
    return h ^ (h >> 33)


def _colliding_serials(seed: int, n: int, share: int) -> list[int]:
    """n serials whose records all belong in the first 1/share of a table built with ``seed``
    (a slot is (hash mod 2^32) * slots / 2^32, whatever the table's size)."""
    out, candidate = [], 1 << 24
    while len(out) < n:
        candidate += 1
        if _entry_hash(seed, 0, candidate.to_bytes(4, "big")) & 0xFFFFFFFF < (1 << 32) // share:
            out.append(candidate)
    return out


def test_entry_hash_mirror_matches_the_core(w: World) -> None:
    """The Python mirror above places serials where the core does (else the flooding test below
    would test nothing): under a known seed, the crafted serials form one long run."""
    serials = _colliding_serials(7, 200, 64)
    revs = RevocationSet.build(entries=[Revocation(w.inter.der, s) for s in serials], seed=7)
    assert revs.seed == 7 and revs.max_probes >= 200  # all of them in one run
    plain = RevocationSet.build(entries=[Revocation(w.inter.der, s) for s in range(1, 201)],
                                seed=7)  # fmt: skip
    assert plain.max_probes < 150


def _length_groups(n_groups: int) -> list[int]:
    """Serials in groups of eight that the hash before snapshot format 6 put on one slot, under
    every seed: lengths 9..16 octets, the first octet XORed with the length (which met it in
    the same word) and the rest after the ninth octet zero (what the last word's padding adds)."""
    rng = random.Random(99)
    out = []
    for _ in range(n_groups):
        a, body, t = rng.randrange(0x20, 0x70), rng.randbytes(7), rng.randrange(1, 256)
        out += [int.from_bytes(bytes([a ^ n]) + body + bytes([t]) + bytes(n - 9), "big")
                for n in range(9, 17)]
    return out


def test_serials_of_other_lengths_do_not_collide_whatever_the_seed(w: World) -> None:
    """Serials a CA builds to collide without knowing the seed (groups of eight of lengths 9..16,
    which shared their full hash under every seed before format 6): spread as random serials
    are. The seed is fixed, so the table is the same every run."""
    crafted = _length_groups(2500)
    assert len(set(crafted)) == len(crafted) == 20000
    assert len({_entry_hash(3, 0, s.to_bytes((s.bit_length() + 7) // 8, "big"))
                for s in crafted[:8]}) == 8  # fmt: skip
    revs = RevocationSet.build(entries=[Revocation(w.inter.der, s) for s in crafted], seed=3)
    plain = RevocationSet.build(
        entries=[Revocation(w.inter.der, s) for s in range(1 << 70, (1 << 70) + 20000)], seed=3)
    assert revs.seed == 3 and len(revs) == 20000
    assert revs.max_probes < 2 * plain.max_probes + 20, (revs.max_probes, plain.max_probes)


def test_crl_with_serials_crafted_for_the_seed_is_placed_under_another(w: World) -> None:
    """A CA that knows the seed (here: the caller fixed it) signs a CRL of 2,000 serials that all
    belong in 1/64 of the table: one run of 2,000, each insertion and each lookup near it walking
    it. The build sees an insertion probe past 1024 slots, draws a random seed and places them
    again: the set keeps every serial and no lookup probes more than an ordinary table's."""
    seed = 0x5EED
    serials = _colliding_serials(seed, 2000, 64)
    der = crls.crl(w.inter, serials)
    revs = RevocationSet.build([der], cas=w.cas, seed=seed)
    assert revs.seed != seed
    assert revs.max_probes < 400  # ~50 for 2,000 random entries; 2^-35 odds of 400
    assert len(revs) == 2000
    assert all(revs.lookup(w.inter.der, s) is not None for s in serials[::97])
    assert revs.lookup(w.inter.der, serials[0] + 10**9) is None
    # without a fixed seed nobody knows the one drawn: the same CRL lands spread out
    assert RevocationSet.build([der], cas=w.cas).max_probes < 400


def test_seed_reproduces_the_snapshot_bytes(w: World) -> None:
    """The same input and seed give the same snapshot bytes; without a seed every build draws
    its own (two builds differ)."""
    entries = [Revocation(w.inter.der, s) for s in range(1, 300)]
    a = RevocationSet.build(entries=entries, seed=42)
    b = RevocationSet.build(entries=entries, seed=42)
    assert a.seed == b.seed == 42 and _bytes_of(a) == _bytes_of(b)
    c, d = RevocationSet.build(entries=entries), RevocationSet.build(entries=entries)
    assert c.seed != d.seed and _bytes_of(c) != _bytes_of(d)
    assert _probe(w, c) == _probe(w, a)
    for bad in (-1, 1 << 64, 1.5, "7", True):
        with pytest.raises(ConfigurationError, match="seed"):
            RevocationSet.build(entries=entries, seed=bad)  # type: ignore[arg-type]


def test_save_writes_through_a_symlink_and_refuses_special_files(
    w: World, tmp_path: Path
) -> None:
    """save() replaces the file a symbolic link names and keeps the link (a versioned layout:
    current.snap -> versions/v1.snap); a path that is not a regular file (a FIFO, a device) is
    refused rather than replaced by the rename; I/O errors say what the file system said."""
    revs = _rich_set(w)
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "v1.snap").write_bytes(b"old")
    link = tmp_path / "current.snap"
    link.symlink_to(versions / "v1.snap")
    revs.save(link)
    assert link.is_symlink() and len(RevocationSet.load(link)) == len(revs)
    assert (versions / "v1.snap").read_bytes() == _bytes_of(revs)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for special in (fifo, Path("/dev/null")):
        with pytest.raises(RevocationError, match="not a regular file"):
            revs.save(special)
    assert Path("/dev/null").is_char_device()
    with pytest.raises(RevocationError, match="No such file or directory"):
        revs.save(tmp_path / "missing-dir" / "x.snap")
    with pytest.raises(RevocationError, match="No such file or directory"):
        RevocationSet.load(tmp_path / "absent.snap")
