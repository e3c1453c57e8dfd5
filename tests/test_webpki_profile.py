"""Verifier(profile="webpki"): the CA/B Forum Baseline Requirements that RFC 5280 leaves open.

Every rule has a violating certificate that fails under the web PKI profile and passes under the
default profile ("rfc5280"), and a compliant twin that passes under both. Server certificates
(purpose="server"), as the web PKI issues them.
"""

from __future__ import annotations

from typing import Any

import der
import pki
import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from helpers import make_verifier, run_verify

from fastmtls import ConfigurationError, Reason

R = Reason
SERVER_SAN = (x509.DNSName("www.example.com"),)
ANY_EKU = ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE


def server_leaf(issuer: pki.Cert, **kw: Any) -> pki.Cert:
    kw.setdefault("eku", (pki.SERVER_AUTH,))
    return pki.leaf(issuer, "www.example.com", san=SERVER_SAN, **kw)


def outcomes(root: pki.Cert, chain: list[pki.Cert]) -> tuple[str, str]:
    """(status under rfc5280, status under webpki) of ``chain`` (leaf first) under ``root``."""
    return tuple(  # type: ignore[return-value]
        run_verify(make_verifier(root, purpose="server", profile=p), chain,
                   expected_name="www.example.com").status
        for p in ("rfc5280", "webpki"))


@pytest.fixture(scope="module")
def root() -> pki.Cert:
    return pki.ca("Web Root")


@pytest.mark.parametrize(
    ("leaf_kw", "reason"),
    [
        ({"eku": None}, R.INVALID_PURPOSE),  # BR 7.1.2.7.10: extKeyUsage MUST be present
        ({"eku": (pki.SERVER_AUTH, ANY_EKU)}, R.INVALID_PURPOSE),  # anyEKU MUST NOT be
        ({"eku_critical": True}, R.INVALID_EXTENSION),  # extKeyUsage MUST NOT be critical
    ],
    ids=["no-eku", "any-eku", "critical-eku"],
)
def test_leaf_eku_rules(root: pki.Cert, leaf_kw: dict[str, Any], reason: Reason) -> None:
    plain, web = outcomes(root, [server_leaf(root, **leaf_kw)])
    assert plain == "SUCCESS"
    assert web == f"FAILED:{reason.message}"


def test_compliant_chain_passes_both_profiles(root: pki.Cert) -> None:
    inter = pki.intermediate(root, eku=(pki.SERVER_AUTH,))
    assert outcomes(root, [server_leaf(inter), inter]) == ("SUCCESS", "SUCCESS")


def test_webpki_leaf_still_needs_the_purpose(root: pki.Cert) -> None:
    leaf = server_leaf(root, eku=(pki.CLIENT_AUTH,))
    assert outcomes(root, [leaf]) == (f"FAILED:{R.INVALID_PURPOSE.message}",) * 2


@pytest.mark.parametrize("where", ["leaf", "intermediate", "root"])
@pytest.mark.parametrize("kind", ["rsa2052", "ed25519"])
def test_keys_outside_the_web_pki(kind: str, where: str) -> None:
    """BR 6.1.5 / 7.1.3.1: rsaEncryption with a modulus of whole octets (2052 bits is strong
    enough, but no whole number of octets), or ECDSA on P-256, P-384, P-521: no Ed25519."""
    odd: pki.KeyType | pki.PrivateKey = (pki.make_key(kind, fresh=True) if kind.startswith("rsa")
                                         else kind)  # fmt: skip
    r = pki.ca("Odd Root", key=odd if where == "root" else "p256")
    inter = pki.intermediate(r, key=odd if where == "intermediate" else "p384")
    leaf = server_leaf(inter, key=odd if where == "leaf" else "p521")
    plain, web = outcomes(r, [leaf, inter])
    assert plain == "SUCCESS"
    # an Ed25519 CA signs with Ed25519, which the certificate below it carries (BR 7.1.3.2.1):
    # that certificate, checked first, fails on its signature algorithm
    signs = kind == "ed25519" and where != "leaf"
    reason = R.UNSUPPORTED_SIGNATURE_ALGORITHM if signs else R.UNSUPPORTED_KEY
    assert web == f"FAILED:{reason.message}"


def _hash_alg(h: int, null: bool = True) -> bytes:
    """AlgorithmIdentifier of SHA-256 (h=1), SHA-384 (2) or SHA-512 (3)."""
    return der.seq(der.enc(0x06, bytes.fromhex("6086480165030402") + bytes([h])),
                   *([b"\x05\x00"] if null else []))  # fmt: skip


def _pss_alg(h: int = 1, *, hash_null: bool = True, trailer: bool = False) -> bytes:
    """RSASSA-PSS AlgorithmIdentifier: hash and MGF1 hash SHA-2 (h as in _hash_alg), salt of the
    hash's length, as BR 7.1.3.2.1 has them unless told otherwise."""
    mgf1 = der.seq(der.enc(0x06, bytes.fromhex("2a864886f70d010108")), _hash_alg(h))
    params = (der.enc(0xA0, _hash_alg(h, hash_null)) + der.enc(0xA1, mgf1)
              + der.enc(0xA2, der.enc(0x02, bytes([16 * (h + 1)])))
              + (der.enc(0xA3, der.enc(0x02, b"\x01")) if trailer else b""))  # fmt: skip
    return der.seq(der.enc(0x06, bytes.fromhex("2a864886f70d01010a")), der.seq(params))


_RSA_SHA256_NO_NULL = der.seq(der.enc(0x06, bytes.fromhex("2a864886f70d01010b")))


@pytest.mark.parametrize("where", ["leaf", "intermediate"])
@pytest.mark.parametrize(("alg", "hash", "allowed"), [
    (_RSA_SHA256_NO_NULL, "sha256", False),  # PKCS#1 v1.5 without its NULL parameters
    (_pss_alg(1, hash_null=False), "sha256", False),  # a hash AlgorithmIdentifier without NULL
    (_pss_alg(1, trailer=True), "sha256", False),  # an explicit (default) trailerField
    (_pss_alg(1), "sha256", True),  # the encodings BR 7.1.3.2.1 lists
    (_pss_alg(3), "sha512", True),
], ids=["pkcs1-no-null", "pss-hash-no-null", "pss-trailer", "pss-sha256", "pss-sha512"])
def test_signature_algorithm_encodings(where: str, alg: bytes, hash: pki.HashName,
                                       allowed: bool) -> None:
    """BR 7.1.3.2.1: a certificate's signatureAlgorithm is one of the listed encodings, byte
    for byte (RFC 4055 permits the others, and the default profile takes them)."""
    r = pki.ca("Rsa Root", key="rsa2048")
    inter = pki.intermediate(r, key="rsa2048")
    leaf = server_leaf(inter)
    if where == "leaf":
        leaf = pki.resign(leaf, inter.key, hash=hash, alg=alg)
    else:
        inter = pki.resign(inter, r.key, hash=hash, alg=alg)
    plain, web = outcomes(r, [leaf, inter])
    assert plain == "SUCCESS"
    assert web == ("SUCCESS" if allowed else
                   f"FAILED:{R.UNSUPPORTED_SIGNATURE_ALGORITHM.message}")  # fmt: skip


def test_a_trust_anchors_own_signature_algorithm_is_not_checked() -> None:
    """A root's self-signature is never checked, so its encoding does not matter."""
    r = pki.ca("Rsa Root", key="rsa2048")
    r = pki.resign(r, r.key, hash="sha256", alg=_RSA_SHA256_NO_NULL)
    assert outcomes(r, [server_leaf(r)]) == ("SUCCESS", "SUCCESS")


def test_rsa_of_whole_octets_passes() -> None:
    even = pki.ca("Even Root", key="rsa2048")
    assert outcomes(even, [server_leaf(even, key="rsa2048")]) == ("SUCCESS", "SUCCESS")


def test_p384_and_p521_keys_pass(root: pki.Cert) -> None:
    inter = pki.intermediate(root, key="p384")
    assert outcomes(root, [server_leaf(inter, key="p521"), inter]) == ("SUCCESS", "SUCCESS")


@pytest.mark.parametrize("where", ["intermediate", "root"])
def test_ca_eku_must_not_be_critical(where: str) -> None:
    """BR 7.1.2.2-7.1.2.3: a subordinate CA's extKeyUsage is not critical (a trusted
    intermediate's neither)."""
    r = pki.ca("Crit Root")
    inter = pki.intermediate(r, eku=(pki.SERVER_AUTH,), eku_critical=True)
    anchor = inter if where == "root" else r
    chain = [server_leaf(inter)] + ([inter] if where == "intermediate" else [])
    plain, web = outcomes(anchor, chain)
    assert plain == "SUCCESS"
    assert web == f"FAILED:{R.INVALID_EXTENSION.message}"


@pytest.mark.parametrize(
    "root_kw",
    [
        {"eku": (pki.SERVER_AUTH,)},  # BR 7.1.2.1.2: a root has no extKeyUsage
        {"aki": b"\x01" * 20},  # 7.1.2.1.3: keyIdentifier identical to the SKI
        {"aki_ext": x509.AuthorityKeyIdentifier(None, None, None)},  # keyIdentifier MUST be
        {"aki_ext": "issuer-serial"},  # authorityCertIssuer, authorityCertSerialNumber MUST NOT
    ],
    ids=["eku", "aki-mismatch", "aki-without-keyid", "aki-issuer-serial"],
)
def test_root_rules(root_kw: dict[str, Any]) -> None:
    kw = dict(root_kw)
    ext = kw.pop("aki_ext", None)
    key = pki.make_key("p256")
    if ext == "issuer-serial":
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key()).digest
        ext = x509.AuthorityKeyIdentifier(
            ski, [x509.DirectoryName(pki.parse_name("Bad Root"))], 1)
    if ext is not None:
        kw.update(aki=False, extra_extensions=[(ext, False)])
    bad = pki.ca("Bad Root", key=key, **kw)
    plain, web = outcomes(bad, [server_leaf(bad)])
    assert plain == "SUCCESS"
    assert web == f"FAILED:{R.INVALID_EXTENSION.message}"


def test_root_with_own_key_identifier_as_aki_passes() -> None:
    good = pki.ca("Good Root", aki=True)  # AKI keyIdentifier = its own SKI
    assert outcomes(good, [server_leaf(good)]) == ("SUCCESS", "SUCCESS")


def test_root_rules_bind_roots_only(root: pki.Cert) -> None:
    """A trusted intermediate (no root) names its issuer in its AKI and may carry an EKU."""
    inter = pki.intermediate(root, eku=(pki.SERVER_AUTH,))
    leaf = server_leaf(inter)
    assert outcomes(inter, [leaf]) == ("SUCCESS", "SUCCESS")


def test_profile_is_validated() -> None:
    with pytest.raises(ConfigurationError, match="profile"):
        make_verifier(purpose="server", profile="cabf")  # type: ignore[arg-type]
