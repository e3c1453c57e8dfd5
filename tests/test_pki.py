"""Tests of the test PKI factory itself (tests/pki.py)."""

from __future__ import annotations

import typing
from datetime import timedelta

import pki
import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509 import verification
from cryptography.x509.oid import NameOID, ObjectIdentifier

CUSTOM_OID = ObjectIdentifier("1.3.6.1.4.1.55555.1")


def cryptography_verify(ch: pki.Chain) -> list[x509.Certificate]:
    """Verify ``ch`` with pyca/cryptography's client verifier at ``pki.NOW``."""
    verifier = (verification.PolicyBuilder().store(verification.Store([ch.root.cert]))
                .time(pki.NOW).build_client_verifier())
    verified = verifier.verify(ch.leaf.cert, [c.cert for c in ch.intermediates])
    return verified.chain


@pytest.mark.parametrize("depth", [0, 1, 3])
def test_chain_verifies(depth: int) -> None:
    """chain(depth) builds root + depth intermediates + leaf that cryptography accepts."""
    ch = pki.chain(depth)
    assert len(ch.intermediates) == depth
    assert cryptography_verify(ch) == [ch.leaf.cert, *(c.cert for c in ch.intermediates),
                                       ch.root.cert]
    assert ch.presented_der == [ch.leaf.der] + [c.der for c in ch.intermediates]
    assert x509.load_pem_x509_certificates(ch.pem_bundle) == [c.cert for c in ch.presented]


@pytest.mark.parametrize(("key", "leaf_kw"), [
    ("p384", {}), ("p521", {}), ("rsa2048", {}), ("rsa3072", {}),
    ("rsa2048", {"rsa_pss": True}), ("rsa2048", {"hash": "sha512"}),
])
def test_chain_verifies_per_algorithm(key: pki.KeyType, leaf_kw: dict[str, object]) -> None:
    """Chains of each algorithm cryptography's verifier supports (not Ed25519) pass it."""
    cryptography_verify(pki.chain(1, key, **leaf_kw))


@pytest.mark.parametrize("kind", typing.get_args(pki.KeyType))
def test_every_key_type_issues(kind: pki.KeyType) -> None:
    """Every key type issues a certificate whose signature checks against its issuer."""
    root = pki.ca(key=kind)
    leaf = pki.leaf(root, key=kind)
    leaf.cert.verify_directly_issued_by(root.cert)
    pub = leaf.cert.public_key()
    if kind.startswith("rsa"):
        assert isinstance(pub, rsa.RSAPublicKey) and pub.key_size == int(kind[3:])
    elif kind == "ed25519":
        assert isinstance(pub, ed25519.Ed25519PublicKey)
    else:
        assert isinstance(pub, ec.EllipticCurvePublicKey)
        assert pub.curve.name == {"p256": "secp256r1", "p384": "secp384r1",
                                  "p521": "secp521r1", "secp256k1": "secp256k1"}[kind]


def test_tamper_signature_breaks_signature() -> None:
    """tamper_signature=True yields a parseable cert whose signature no longer verifies."""
    root = pki.ca()
    good = pki.leaf(root, serial=1234)
    bad = pki.leaf(root, serial=1234, tamper_signature=True)
    assert bad.cert.serial_number == 1234 and bad.cert.subject == good.cert.subject
    with pytest.raises(InvalidSignature):
        bad.cert.verify_directly_issued_by(root.cert)
    flipped = x509.load_der_x509_certificate(pki.tamper_sig(good.der))
    with pytest.raises(InvalidSignature):
        flipped.verify_directly_issued_by(root.cert)


def test_tamper_tbs_breaks_signature() -> None:
    """tamper_tbs changes the serial and the signature no longer matches."""
    root = pki.ca(key="rsa2048")
    good = pki.leaf(root, key="rsa2048")
    bad = x509.load_der_x509_certificate(pki.tamper_tbs(good.der))
    assert bad.serial_number != good.cert.serial_number
    with pytest.raises(InvalidSignature):
        bad.verify_directly_issued_by(root.cert)


def test_name_constraints_and_unknown_critical_extension_are_encoded() -> None:
    """Name constraints and a custom critical extension appear in the parsed certificate."""
    root = pki.ca()
    permitted = [x509.DNSName("example.com")]
    excluded = [x509.DNSName("bad.example.com")]
    unknown = x509.UnrecognizedExtension(CUSTOM_OID, b"\x05\x00")
    inter = pki.intermediate(root, name_constraints=(permitted, excluded),
                             extra_extensions=[(unknown, True)])
    nc = inter.cert.extensions.get_extension_for_class(x509.NameConstraints)
    assert nc.critical and nc.value.permitted_subtrees == permitted
    assert nc.value.excluded_subtrees == excluded
    ext = inter.cert.extensions.get_extension_for_oid(CUSTOM_OID)
    assert ext.critical and ext.value == unknown


def test_extension_knobs() -> None:
    """Absent/critical/path_len/ski/aki/issuer_name knobs land in the certificate."""
    root = pki.ca("CN=Root,O=Test")
    inter = pki.intermediate(root, path_len=0, bc_critical=False, aki=b"\x01" * 20,
                             issuer_name="Someone Else")
    ext = inter.cert.extensions
    bc = ext.get_extension_for_class(x509.BasicConstraints)
    assert not bc.critical and bc.value.ca and bc.value.path_length == 0
    ku = ext.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign
    assert not ku.value.digital_signature
    aki = ext.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == b"\x01" * 20
    assert inter.cert.issuer.rfc4514_string() == "CN=Someone Else"
    bare = pki.issue(subject=[(NameOID.COMMON_NAME, "bare")], issuer=root, ski=False, aki=False)
    assert len(bare.cert.extensions) == 0
    assert bare.cert.issuer == root.cert.subject
    assert bare.cert.not_valid_before_utc == pki.NOW - timedelta(days=30)
    assert bare.cert.not_valid_after_utc == pki.NOW + timedelta(days=365)
    child = pki.leaf(inter, san=None, eku=[pki.CLIENT_AUTH, pki.SERVER_AUTH], eku_critical=True)
    eku = child.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [pki.CLIENT_AUTH, pki.SERVER_AUTH]
    with pytest.raises(x509.ExtensionNotFound):
        child.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)


@pytest.mark.parametrize("kind", ["rsa2048", "p256"])
def test_sha1_and_v1_certificates(kind: pki.KeyType) -> None:
    """hash='sha1' and version=1 produce correctly signed certificates the builder refuses."""
    root = pki.ca(key=kind)
    old = pki.leaf(root, hash="sha1")
    assert old.cert.signature_hash_algorithm is not None
    assert old.cert.signature_hash_algorithm.name == "sha1"
    pub = root.cert.public_key()
    sig, tbs = old.cert.signature, old.cert.tbs_certificate_bytes
    if isinstance(pub, rsa.RSAPublicKey):
        pub.verify(sig, tbs, padding.PKCS1v15(), hashes.SHA1())
    else:
        assert isinstance(pub, ec.EllipticCurvePublicKey)
        pub.verify(sig, tbs, ec.ECDSA(hashes.SHA1()))
    v1 = pki.leaf(root, version=1, ski=False, aki=False, ca=None, key_usage=None, eku=None,
                  san=None)
    assert v1.cert.version == x509.Version.v1
    v1.cert.verify_directly_issued_by(root.cert)


def test_rsa_key_pool() -> None:
    """RSA keys repeat every RSA_POOL_SIZE draws; fresh=True bypasses the pool."""
    keys = [pki.make_key("rsa1024") for _ in range(pki.RSA_POOL_SIZE + 1)]
    assert len({id(k) for k in keys}) == pki.RSA_POOL_SIZE
    assert pki.make_key("rsa1024", fresh=True) not in pki._rsa_pool["rsa1024"]
    assert pki.make_key("p256") is not pki.make_key("p256")
