"""CRL rejection branches of the C parser (csrc/fm_crl.c, fm_x509.c), each seen failing a CRL.

Every case is a pair built by one function from one DER component: a control CRL that is
accepted (``inspect_crl``, ``RevocationSet.build`` and ``check_crl`` all take it, and the set
revokes the entry's serial) and the same CRL with only that component edited, which all three
refuse with the specific error. So each test shows that it is the edit that is rejected, not
some other defect of a hand-written CRL. CRLs are written with ``tests/crls.py``'s raw DER
helpers (the cryptography builder refuses most of these encodings); the line each case reaches
is noted beside it (fm_crl.c unless said otherwise).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import crls
import pki
import pytest
from crls import REVOKED_AT, RawExt, der_integer, der_oid, enc
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from der import NULL, seq

from fastmtls import Reason, RevocationError, RevocationSet, TrustStore, Verifier, inspect_crl
from fastmtls.cli import main
from fastmtls.revocation import check_crl

MALFORMED = "malformed CRL"
SERIAL = 5  # the serial every control CRL revokes

Wrap = Callable[[pki.Cert, bytes], bytes]  # (issuing CA, component) -> signed CRL DER


@pytest.fixture(scope="module")
def ca() -> pki.Cert:
    """The issuing CA of every CRL here (P-256: ECDSA-with-SHA256 signatures)."""
    return pki.ca("CRL Rejects CA")


def assert_accepted(der: bytes, ca: pki.Cert, *, others: Sequence[bytes] = ()) -> None:
    """``der`` parses (every entry), builds into a set (beside ``others``, e.g. its base CRL)
    that revokes SERIAL, and verifies against ``ca``. A CRL of attribute certificates only
    (onlyContainsAttributeCerts) is used but revokes no public-key certificate."""
    info = inspect_crl(der)
    revs = RevocationSet.build([*others, der], cas=[ca.der], at=pki.NOW)
    assert (revs.lookup(ca.der, SERIAL) is not None) is (info.scope != "attribute")
    assert check_crl(der, ca.der) is None


def assert_refused(der: bytes, ca: pki.Cert, *, others: Sequence[bytes] = (),
                   message: str = MALFORMED) -> None:
    """``der`` is refused with ``message`` by inspect_crl, RevocationSet.build and check_crl."""
    with pytest.raises(RevocationError, match=message):
        inspect_crl(der)
    with pytest.raises(RevocationError, match=message):
        RevocationSet.build([*others, der], cas=[ca.der], at=pki.NOW)
    assert check_crl(der, ca.der) == message


def assert_edit_refused(wrap: Wrap, good: bytes, bad: bytes, ca: pki.Cert) -> None:
    """The CRL around ``good`` is accepted; the same CRL around ``bad`` is malformed."""
    assert good != bad
    assert_accepted(wrap(ca, good), ca)
    assert_refused(wrap(ca, bad), ca)


ENTRY_REASON = crls.reason_ext(1).der  # reasonCode keyCompromise
CRL_NUMBER = crls.crl_number_ext(1).der


def _entry_crl(ca: pki.Cert, entry: bytes) -> bytes:
    """A v2 CRL (cRLNumber 1) whose only revokedCertificates element is ``entry``."""
    return crls.raw_crl(ca, [entry])


def _idp_crl(ca: pki.Cert, value: bytes) -> bytes:
    """A CRL revoking SERIAL with cRLNumber and a critical issuingDistributionPoint whose
    extnValue content is ``value``."""
    return crls.raw_crl(ca, [crls.raw_entry(SERIAL, reason=1)],
                        extensions=[crls.crl_number_ext(1), RawExt("2.5.29.28", True, value)])


def _crl_ext_crl(ca: pki.Cert, exts: bytes) -> bytes:
    """A CRL revoking SERIAL whose crlExtensions SEQUENCE holds the Extension TLVs ``exts``."""
    return crls.raw_crl(ca, [crls.raw_entry(SERIAL, reason=1)], raw_extensions=enc(0x30, exts))


def _entry_ext_crl(ca: pki.Cert, exts: bytes) -> bytes:
    """A CRL with one entry (SERIAL) whose crlEntryExtensions hold the Extension TLVs ``exts``."""
    return _entry_crl(ca, seq(der_integer(SERIAL), crls.der_time(REVOKED_AT), enc(0x30, exts)))


def _sig_alg_crl(ca: pki.Cert, alg: bytes) -> bytes:
    """A CRL revoking SERIAL with ``alg`` as its signature AlgorithmIdentifier both inside the
    tbsCertList and outside it (so the 5.1.1.2 "MUST match" check passes), signed with the CA's
    key (ECDSA-with-SHA256)."""
    tbs = seq(der_integer(1), alg, ca.cert.subject.public_bytes(),
              crls.der_time(crls.THIS_UPDATE), crls.der_time(crls.NEXT_UPDATE),
              seq(crls.raw_entry(SERIAL, reason=1)), enc(0xA0, seq(CRL_NUMBER)))
    return seq(tbs, alg, enc(0x03, b"\x00" + crls.sign_tbs(tbs, ca.key)))


def test_sig_alg_wrapper_writes_what_raw_crl_writes(ca: pki.Cert) -> None:
    """_sig_alg_crl with the usual AlgorithmIdentifier is raw_crl's CRL (up to the signature)."""
    alg = crls.sig_alg(ca.key)
    ours = crls.split_crl(_sig_alg_crl(ca, alg))
    theirs = crls.split_crl(crls.raw_crl(ca, [crls.raw_entry(SERIAL, reason=1)]))
    assert ours[:2] == theirs[:2]


# --- issuingDistributionPoint (RFC 5280 5.2.5): parse_idp and fm_dpname_parse ---------------------

URI = enc(0x86, b"http://crl.example.com/ca.crl")  # GeneralName uniformResourceIdentifier [6]
FULL_NAME = enc(0xA0, URI)  # DistributionPointName fullName [0] GeneralNames
DP = enc(0xA0, FULL_NAME)  # IDP distributionPoint [0]
ATV_CONTENT = der_oid("2.5.4.3") + enc(0x0C, b"crl partition")  # commonName
RELATIVE_DP = enc(0xA0, enc(0xA1, enc(0x30, ATV_CONTENT)))  # nameRelativeToCRLIssuer [1]
USER = b"\x81\x01\xff"  # onlyContainsUserCerts TRUE
CA_CERTS = b"\x82\x01\xff"  # onlyContainsCACerts TRUE
REASONS = b"\x83\x02\x06\x40"  # onlySomeReasons {keyCompromise}
ATTR = b"\x85\x01\xff"  # onlyContainsAttributeCerts TRUE


DIRNAME = enc(0xA4, enc(0x30, enc(0x31, enc(0x30, ATV_CONTENT))))  # directoryName [4] Name
DIRNAME_WITHOUT_VALUE = enc(0xA4, enc(0x30, enc(0x31, enc(0x30, der_oid("2.5.4.3")))))
UPN = der_oid("1.3.6.1.4.1.311.20.2.3")  # an otherName type-id


def _full(general_name: bytes) -> bytes:
    """An IDP whose distributionPoint is a fullName of one GeneralName."""
    return seq(enc(0xA0, enc(0xA0, general_name)))


def _long_form(tlv: bytes) -> bytes:
    """``tlv`` (short-form length) with its length in the long form: BER, not DER."""
    assert tlv[1] < 0x80
    return bytes([tlv[0], 0x81, tlv[1]]) + tlv[2:]


def _overrun(tlv: bytes) -> bytes:
    """``tlv`` whose length claims one octet more than its content has."""
    assert tlv[1] < 0x7F
    return bytes([tlv[0], tlv[1] + 1]) + tlv[2:]


_IDP_CASES = [
    # line 46: the extnValue is not exactly one IssuingDistributionPoint SEQUENCE
    ("idp-trailing-null", seq(DP), seq(DP) + NULL),
    ("idp-two-sequences", seq(DP), seq(DP) + seq(DP)),
    ("idp-set-not-sequence", seq(DP), enc(0x31, DP)),
    # line 50: the distributionPoint [0] TLV itself is malformed
    ("dp-length-overruns-idp", seq(DP), seq(_overrun(DP))),
    ("dp-long-form-length", seq(DP), seq(_long_form(DP))),
    # line 53, fm_x509.c 460: fullName is an empty GeneralNames (SIZE (1..MAX))
    ("fullname-empty", seq(DP), seq(enc(0xA0, enc(0xA0, b"")))),
    # line 53, fm_x509.c 464: a GeneralName not context-specific, or numbered above 8
    ("generalname-universal-ia5string", seq(DP), seq(enc(0xA0, enc(0xA0, b"\x16" + URI[1:])))),
    ("generalname-tag-9", seq(DP), seq(enc(0xA0, enc(0xA0, b"\x89" + URI[1:])))),
    # fm_general_name_decodes: a GeneralName whose structure OpenSSL cannot decode either (a
    # directoryName that is no Name, an otherName without its value, an empty ediPartyName)
    ("generalname-directory-name-broken", _full(DIRNAME), _full(DIRNAME_WITHOUT_VALUE)),
    ("generalname-other-name-without-value", _full(enc(0xA0, UPN + enc(0xA0, enc(0x0C, b"x")))),
     _full(enc(0xA0, UPN))),
    ("generalname-edi-party-empty", _full(enc(0xA5, enc(0xA1, enc(0x0C, b"x")))),
     _full(enc(0xA5, b""))),
    # line 53, fm_x509.c 477: more than the one DistributionPointName CHOICE inside [0]
    ("dpname-trailing-null", seq(DP), seq(enc(0xA0, FULL_NAME + NULL))),
    # line 53, fm_x509.c 483: a DistributionPointName neither [0] nor a non-empty [1]
    ("dpname-tag-2", seq(DP), seq(enc(0xA0, b"\xa2" + FULL_NAME[1:]))),
    ("relative-name-empty", seq(RELATIVE_DP), seq(enc(0xA0, enc(0xA1, b"")))),
    # line 53, fm_x509.c 489: a RelativeDistinguishedName member that is not a SEQUENCE
    ("relative-member-set", seq(RELATIVE_DP), seq(enc(0xA0, enc(0xA1, enc(0x31, ATV_CONTENT))))),
    # an attribute value OpenSSL's Name decoder does not take (an INTEGER)
    ("relative-integer-value", seq(RELATIVE_DP),
     seq(enc(0xA0, enc(0xA1, enc(0x30, der_oid("2.5.4.3") + der_integer(1)))))),
    # line 53, fm_x509.c 493: an AttributeTypeAndValue with an empty OID, no value, or extra data
    ("atv-empty-oid", seq(RELATIVE_DP),
     seq(enc(0xA0, enc(0xA1, enc(0x30, b"\x06\x00" + enc(0x0C, b"crl partition")))))),
    ("atv-without-value", seq(RELATIVE_DP),
     seq(enc(0xA0, enc(0xA1, enc(0x30, der_oid("2.5.4.3")))))),
    ("atv-trailing-null", seq(RELATIVE_DP),
     seq(enc(0xA0, enc(0xA1, enc(0x30, ATV_CONTENT + NULL))))),
    # line 59: a malformed [1]..[5] field TLV
    ("user-flag-length-overruns-idp", seq(DP, USER), seq(DP, _overrun(USER))),
    ("user-flag-long-form-length", seq(DP, USER), seq(DP, _long_form(USER))),
    ("reasons-long-form-length", seq(DP, REASONS), seq(DP, _long_form(REASONS))),
    # a BOOLEAN that is not one octet (any non-zero octet is TRUE: test_ber_true_flags_accepted)
    ("user-flag-two-octets", seq(DP, USER), seq(DP, b"\x81\x02\x00\xff")),
    ("user-flag-empty", seq(DP, USER), seq(DP, b"\x81\x00")),
    # line 76: something left after the fields: unknown, repeated or out of order
    ("unknown-field-6", seq(DP, USER), seq(DP, USER, b"\x86\x01\xff")),
    ("user-flag-twice", seq(DP, USER), seq(DP, USER, USER)),
    ("reasons-before-user-flag", seq(DP, USER, REASONS), seq(DP, REASONS, USER)),
    ("dp-after-user-flag", seq(DP, USER), seq(USER, DP)),
    # onlySomeReasons: a DER ReasonFlags BIT STRING (nine named bits, X.690 11.2.2)
    ("reasons-empty-content", seq(DP, REASONS), seq(DP, b"\x83\x00")),
    ("reasons-eight-unused-bits", seq(DP, REASONS), seq(DP, b"\x83\x02\x08\x40")),
    ("reasons-nonzero-padding", seq(DP, REASONS), seq(DP, b"\x83\x02\x06\x41")),
    # line 80 (RFC 5280 5.2.5): at most one of the three "only" flags
    ("user-and-ca-flags", seq(DP, USER), seq(DP, USER, CA_CERTS)),
    ("user-and-attribute-flags", seq(DP, USER), seq(DP, USER, ATTR)),
    ("ca-and-attribute-flags", seq(DP, CA_CERTS), seq(DP, CA_CERTS, ATTR)),
]  # fmt: skip


@pytest.mark.parametrize(("good", "bad"), [pytest.param(g, b, id=i) for i, g, b in _IDP_CASES])
def test_malformed_issuing_distribution_point(ca: pki.Cert, good: bytes, bad: bytes) -> None:
    """An IDP edited out of DER, out of its grammar or out of 5.2.5 makes the CRL malformed."""
    assert_edit_refused(_idp_crl, good, bad, ca)


@pytest.mark.parametrize(("flag", "scope"), [(b"\x81", "user"), (b"\x82", "ca"),
                                             (b"\x85", "attribute")])  # fmt: skip
def test_ber_true_flags_accepted(ca: pki.Cert, flag: bytes, scope: str) -> None:
    """An IDP scope flag whose BOOLEAN is TRUE in BER but not DER (0x01, not 0xFF) means TRUE,
    as OpenSSL reads it: refusing the CA's CRL for the encoding would leave its predecessor,
    without the new revocations, in force."""
    for value in (b"\x01", b"\x7f"):
        der = _idp_crl(ca, seq(DP, flag + b"\x01" + value))
        assert_accepted(der, ca)
        assert inspect_crl(der).scope == scope


def test_reasons_with_trailing_zero_octets_accepted(ca: pki.Cert) -> None:
    """onlySomeReasons with a trailing zero octet, which DER leaves out but OpenSSL reads, is
    accepted and means the same reasons: the zero octet names none."""
    lax = _idp_crl(ca, seq(DP, b"\x83\x03\x00\x40\x00"))
    assert_accepted(lax, ca)
    same = dataclasses.replace(inspect_crl(lax), idp_der=None)
    assert same == dataclasses.replace(inspect_crl(_idp_crl(ca, seq(DP, REASONS))), idp_der=None)


def test_reasons_with_bits_past_the_named_ones_accepted(ca: pki.Cert) -> None:
    """onlySomeReasons with a bit past the nine named ones (valid DER that names no reason, as
    OpenSSL reads it) is accepted; the CRL is still a partial one, scoped by its reasons."""
    der = _idp_crl(ca, seq(DP, b"\x83\x04\x07\x40\x00\x80"))
    assert_accepted(der, ca)
    info = inspect_crl(der)
    assert info.partitioned_by_reason, info


# --- crlExtensions: cRLNumber (5.2.3), deltaCRLIndicator (5.2.4) --------------------------------


def test_critical_crl_number(ca: pki.Cert) -> None:
    """cRLNumber MUST be non-critical (RFC 5280 5.2.3): a critical one is malformed."""
    bad = crls.crl_number_ext(1, critical=True).der
    assert_edit_refused(_crl_ext_crl, CRL_NUMBER, bad, ca)


DELTA = "2.5.29.27"


@pytest.mark.parametrize(
    "bad",
    [RawExt(DELTA, False, der_integer(1)), RawExt(DELTA, True, der_integer(-1)),
     RawExt(DELTA, True, enc(0x04, b"\x01")), RawExt(DELTA, True, der_integer(1) + NULL)],
    ids=["not-critical", "negative-base", "base-not-integer", "base-trailing-null"],
)
def test_malformed_delta_crl_indicator(ca: pki.Cert, bad: RawExt) -> None:
    """deltaCRLIndicator MUST be critical and name a BaseCRLNumber (RFC 5280 5.2.4, line 108)."""
    base = crls.raw_crl(ca, [], extensions=[crls.crl_number_ext(1)])
    numbered = crls.crl_number_ext(2).der

    def delta(ca: pki.Cert, indicator: bytes) -> bytes:
        return _crl_ext_crl(ca, numbered + indicator)

    good = crls.delta_ext(1)
    assert_accepted(delta(ca, good.der), ca, others=[base])
    assert_refused(delta(ca, bad.der), ca, others=[base])


# --- crlEntryExtensions (5.3) -----------------------------------------------------------------


def _private(i: int) -> bytes:
    """A non-critical private entry extension (NULL value), distinct for each ``i``."""
    return RawExt(f"1.3.6.1.4.1.99999.7.{i}", False, NULL).der


_REASON_OID = der_oid("2.5.29.21")


@pytest.mark.parametrize(
    "bad",
    [seq(_REASON_OID, enc(0x0A, b"\x01")), seq(_REASON_OID, enc(0x01, b"\xff")),
     seq(_REASON_OID, enc(0x04, enc(0x0A, b"\x01")), NULL), _overrun(ENTRY_REASON),
     ENTRY_REASON[:-1]],
    ids=["value-not-octet-string", "critical-without-value", "trailing-null", "overruns",
         "cut-short"],
)  # fmt: skip
def test_broken_entry_extension_structure(ca: pki.Cert, bad: bytes) -> None:
    """An Extension of an entry out of its grammar (fm_der_extension in parse_entry_extensions)
    makes the CRL malformed. What a well-formed extension says never does: an unreadable
    reasonCode reads as unspecified (test_revocation.py: test_odd_entry_extensions_...)."""
    assert_edit_refused(_entry_ext_crl, ENTRY_REASON, bad, ca)


# --- signature AlgorithmIdentifier (5.1.1.2) ------------------------------------------------------

ECDSA_SHA256 = der_oid("1.2.840.10045.4.3.2")


@pytest.mark.parametrize(
    "bad",
    [seq(ECDSA_SHA256, NULL, NULL), seq(), seq(b"\x02" + ECDSA_SHA256[1:]),
     seq(ECDSA_SHA256, b"\x05\x01")],
    ids=["two-parameters", "no-oid", "integer-for-oid", "parameter-overruns"],
)
def test_malformed_signature_algorithm(ca: pki.Cert, bad: bytes) -> None:
    """A malformed AlgorithmIdentifier, identical inside and outside the tbsCertList (so not a
    mismatch), makes the CRL malformed (line 209)."""
    good = seq(ECDSA_SHA256)
    assert good == crls.sig_alg(ca.key)
    assert_edit_refused(_sig_alg_crl, good, bad, ca)


# --- revokedCertificates entries (5.1.2.6) --------------------------------------------------------

ENTRY_SERIAL = der_integer(SERIAL)
DATE = enc(0x17, b"260522000000Z")  # REVOKED_AT as UTCTime
ENTRY_EXTS = enc(0x30, ENTRY_REASON)
ENTRY = seq(ENTRY_SERIAL, DATE, ENTRY_EXTS)

_ENTRY_CASES = [
    # an element of revokedCertificates that is not a SEQUENCE: refused by the header's pass over
    # the entries (fm_crl_parse_header) before line 286 can see it
    ("entry-set-not-sequence", ENTRY, b"\x31" + ENTRY[1:]),
    # line 293: revocationDate not a valid Time
    ("date-month-13", ENTRY, seq(ENTRY_SERIAL, enc(0x17, b"261322000000Z"), ENTRY_EXTS)),
    ("date-february-30", ENTRY, seq(ENTRY_SERIAL, enc(0x17, b"260230000000Z"), ENTRY_EXTS)),
    ("date-octet-string", ENTRY, seq(ENTRY_SERIAL, b"\x04" + DATE[1:], ENTRY_EXTS)),
    ("date-without-z", ENTRY, seq(ENTRY_SERIAL, enc(0x17, b"2605220000000"), ENTRY_EXTS)),
    # line 295: the crlEntryExtensions SEQUENCE TLV is malformed
    ("extensions-length-overruns-entry", ENTRY, seq(ENTRY_SERIAL, DATE, _overrun(ENTRY_EXTS))),
    ("extensions-long-form-length", ENTRY, seq(ENTRY_SERIAL, DATE, _long_form(ENTRY_EXTS))),
    # line 301: an element after the entry's last field
    ("trailing-null-after-extensions", ENTRY, seq(ENTRY_SERIAL, DATE, ENTRY_EXTS, NULL)),
    ("extensions-twice", ENTRY, seq(ENTRY_SERIAL, DATE, ENTRY_EXTS, ENTRY_EXTS)),
    ("trailing-null-without-extensions", seq(ENTRY_SERIAL, DATE), seq(ENTRY_SERIAL, DATE, NULL)),
]  # fmt: skip


@pytest.mark.parametrize(("good", "bad"), [pytest.param(g, b, id=i) for i, g, b in _ENTRY_CASES])
def test_malformed_crl_entry(ca: pki.Cert, good: bytes, bad: bytes) -> None:
    """A revokedCertificates element edited out of its grammar makes the CRL malformed."""
    assert DATE == crls.der_time(REVOKED_AT)
    assert_edit_refused(_entry_crl, good, bad, ca)


# --- the issuing CA given to check_crl / build / `fastmtls crl inspect --ca` ---------------------


def _inspect(tmp_path: Path, crl: bytes, ca_der: bytes,
             capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """`fastmtls crl inspect CRL --ca CA`: (exit status, the CRL's "signature" field)."""
    (tmp_path / "ca.der").write_bytes(ca_der)
    (tmp_path / "x.crl").write_bytes(crl)
    rc = main(["crl", "inspect", str(tmp_path / "x.crl"), "--ca", str(tmp_path / "ca.der")])
    report: list[dict[str, Any]] = json.loads(capsys.readouterr().out)
    return rc, str(report[0]["signature"])


def _off_curve(ca: pki.Cert) -> bytes:
    """The CA's DER with the last octet of its EC point flipped: the certificate still parses
    (same name, SKI, point length) but the point is not on P-256."""
    point = ca.cert.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    assert ca.der.count(point) == 1
    return ca.der.replace(point, point[:-1] + bytes([point[-1] ^ 0x01]))


def test_ca_key_that_cannot_be_decoded(ca: pki.Cert, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """A CA whose certificate parses but whose public key OpenSSL cannot decode: the CRL check
    fails with that error (line 349) in check_crl, build and `fastmtls crl inspect --ca`."""
    der = _entry_crl(ca, ENTRY)
    assert_accepted(der, ca)
    assert _inspect(tmp_path, der, ca.der, capsys) == (0, "valid")
    bad_ca = _off_curve(ca)
    assert check_crl(der, bad_ca) == "unable to decode public key"
    with pytest.raises(RevocationError, match=r"\(issuer CN=CRL Rejects CA\): unable to decode"):
        RevocationSet.build([der], cas=[bad_ca], at=pki.NOW)
    assert _inspect(tmp_path, der, bad_ca, capsys) == (1, "invalid: unable to decode public key")


@pytest.mark.parametrize(
    "edit", [lambda d: d + b"\x00", lambda d: d[:-1]], ids=["trailing-octet", "truncated"],
)
def test_ca_that_does_not_parse(ca: pki.Cert, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                edit: Callable[[bytes], bytes]) -> None:
    """check_crl with CA bytes that are not a certificate reports it (line 363); the CLI says no
    --ca has the CRL's issuer name (it cannot read one from them)."""
    der = _entry_crl(ca, ENTRY)
    assert check_crl(der, ca.der) is None
    assert check_crl(der, edit(ca.der)) == "malformed certificate"
    assert _inspect(tmp_path, der, edit(ca.der), capsys) == (
        1, "not checked: no --ca certificate has the CRL's issuer name")


# --- TrustStore.associate() twice for one host ----------------------------------------------------


def test_associating_a_host_again_replaces_its_cas() -> None:
    """A second associate() for a host (however spelled) replaces its CA list: the second call's
    CAs are trusted for it, the first call's no longer."""
    roots = {"a": pki.ca("Reassociate Root A"), "b": pki.ca("Reassociate Root B")}
    leaves = {name: pki.leaf(root) for name, root in roots.items()}
    store = TrustStore()
    for name, root in roots.items():
        store.add_der(root.der, name=name)
    verifier = Verifier(store)
    host = "api.example.com"

    def trusted() -> set[str]:
        out = set()
        for name, leaf in leaves.items():
            r = verifier.verify([leaf.der], host=host, at=pki.NOW)
            if r.verified:
                assert r.anchor_name == name
                out.add(name)
            else:
                assert (r.reason, r.depth) == (Reason.UNABLE_TO_GET_ISSUER_CERT_LOCALLY, 0)
        return out

    assert trusted() == {"a", "b"}  # no association: every CA
    store.associate(host, ["a"])
    assert trusted() == {"a"}
    store.associate(host, ["b"])
    assert trusted() == {"b"}
    store.associate("API.Example.com.", ["a"])  # the same host, spelled otherwise
    assert trusted() == {"a"}
    assert store.associations() == {host: ("a",)}
    store.associate(host, [])
    assert trusted() == set()


def test_a_crl_of_another_name_is_not_a_cas_even_under_its_key() -> None:
    """fm_crl_check: a CRL whose issuer is not the CA's subject is not that CA's CRL, even when
    the CA certificate carries the signing key (a CA re-issued under another name): the C
    check was hidden by RevocationSet.build, which picks candidates by name first (no test
    held it; found by mutation review)."""
    a = pki.ca("Name A CA")
    b = pki.ca("Name B CA", key=a.key)  # same key, same SKI, another name
    crl = crls.crl(a, [5])
    assert check_crl(crl, a.der) is None
    assert check_crl(crl, b.der) == "CRL issuer does not match the CA"
