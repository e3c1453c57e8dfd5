"""The ``fastmtls`` command line: verify, crl inspect, crl compile."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pki
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from fastmtls import RevocationSet
from fastmtls.cli import main

DATA = Path(__file__).resolve().parent / "data"


def _crl(issuer: pki.Cert, serials: list[int], number: int = 1,
         this_update: dt.datetime = pki.NOW - dt.timedelta(days=1)) -> bytes:
    b = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.cert.subject)
        .last_update(this_update)
        .next_update(pki.NOW + dt.timedelta(days=7))
        .add_extension(x509.CRLNumber(number), False)
    )
    for s in serials:
        rc = x509.RevokedCertificateBuilder().serial_number(s).revocation_date(pki.NOW)
        b = b.add_revoked_certificate(rc.build())
    return b.sign(issuer.key, hashes.SHA256()).public_bytes(Encoding.PEM)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A chain, its root, and a CRL revoking the leaf, written to files."""
    d = tmp_path_factory.mktemp("cli")
    ch = pki.chain(1)
    files = {
        "root": d / "root.pem",
        "inter": d / "inter.pem",
        "chain": d / "chain.pem",
        "crl": d / "inter.crl",
        "other": d / "other.pem",
        "later_crl": d / "later.crl",
    }
    files["root"].write_bytes(ch.root.pem)
    files["inter"].write_bytes(ch.intermediates[0].pem)
    files["chain"].write_bytes(ch.pem_bundle)
    files["crl"].write_bytes(_crl(ch.intermediates[0], [ch.leaf.cert.serial_number, 7]))
    files["other"].write_bytes(pki.ca("Other").pem)
    # the intermediate's next CRL, issued for an hour after pki.NOW, revoking nothing
    files["later_crl"].write_bytes(_crl(ch.intermediates[0], [], number=2,
                                        this_update=pki.NOW + dt.timedelta(hours=1)))
    return files


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, object]:
    rc = main(argv)
    out = capsys.readouterr().out
    return rc, json.loads(out) if out.strip() else None


AT = ["--at", str(int(pki.NOW.timestamp()))]


def test_verify_success_exit_zero(
    world: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """A valid chain prints SUCCESS with every field and exits 0."""
    rc, out = _run(["verify", "--ca", str(world["root"]), *AT, str(world["chain"])], capsys)
    assert rc == 0
    assert isinstance(out, dict) and out["status"] == "SUCCESS" and out["cert_verified"] is True
    assert out["anchor"] == str(world["root"])


def test_verify_failure_exit_one(
    world: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """A chain from a CA that is not trusted exits 1 with a FAILED status."""
    rc, out = _run(["verify", "--ca", str(world["other"]), *AT, str(world["chain"])], capsys)
    assert rc == 1
    assert isinstance(out, dict)
    assert out["status"] == "FAILED:unable to get local issuer certificate"


def test_verify_require_eku_and_cn_constraints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--require-eku refuses a leaf without extendedKeyUsage; --cn-constraints chooses the
    commonName rule: a CA constrained to partner.example and a leaf "CN=admin.corp.example"
    beside an e-mail SAN fails by default (and with no-dns-san), passes with no-san; beside a
    DNS SAN of partner.example it passes by default and fails with always."""
    root = pki.ca("CLI Root")
    inter = pki.intermediate(root, "CN=CLI Partner CA",
                             name_constraints=([x509.DNSName("partner.example")], None))
    (tmp_path / "root.pem").write_bytes(root.pem)
    no_eku = pki.leaf(inter, "client.partner.example", eku=None,
                      san=[x509.DNSName("client.partner.example")])
    cn = pki.leaf(inter, "CN=admin.corp.example",
                  san=[x509.RFC822Name("mallory@partner.example")])
    cn_dns = pki.leaf(inter, "CN=admin.corp.example",
                      san=[x509.DNSName("x.partner.example")])
    for name, leaf in (("no-eku.pem", no_eku), ("cn.pem", cn), ("cn-dns.pem", cn_dns)):
        (tmp_path / name).write_bytes(leaf.pem + inter.pem)
    base = ["verify", "--ca", str(tmp_path / "root.pem"), *AT]
    assert _run([*base, str(tmp_path / "no-eku.pem")], capsys)[0] == 0
    rc, out = _run([*base, "--require-eku", str(tmp_path / "no-eku.pem")], capsys)
    assert rc == 1 and isinstance(out, dict)
    assert out["status"] == "FAILED:unsupported certificate purpose"
    for pem, extra, want in (("cn", [], 1), ("cn", ["--cn-constraints", "no-dns-san"], 1),
                             ("cn", ["--cn-constraints", "no-san"], 0),
                             ("cn-dns", [], 0), ("cn-dns", ["--cn-constraints", "always"], 1)):
        rc, out = _run([*base, *extra, str(tmp_path / f"{pem}.pem")], capsys)
        assert rc == want and isinstance(out, dict), (pem, extra)
        if want:
            assert out["status"] == "FAILED:permitted subtree violation"


def test_verify_profile_webpki(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--profile webpki applies the CA/B Forum rules: a server leaf with anyExtendedKeyUsage
    verifies by default and fails under it."""
    root = pki.ca("CLI Web Root")
    leaf = pki.leaf(root, "www.example.com", san=[x509.DNSName("www.example.com")],
                    eku=(pki.SERVER_AUTH, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE))
    (tmp_path / "root.pem").write_bytes(root.pem)
    (tmp_path / "leaf.pem").write_bytes(leaf.pem)
    base = ["verify", "--ca", str(tmp_path / "root.pem"), "--purpose", "server", *AT]
    assert _run([*base, str(tmp_path / "leaf.pem")], capsys)[0] == 0
    rc, out = _run([*base, "--profile", "webpki", str(tmp_path / "leaf.pem")], capsys)
    assert rc == 1 and isinstance(out, dict)
    assert out["status"] == "FAILED:unsupported certificate purpose"


def test_verify_bad_ca_exit_two(world: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """A CA file that is not a CA is a configuration error: exit 2, message on stderr."""
    leaf_only = world["chain"]
    rc = main(["verify", "--ca", str(leaf_only), *AT, str(world["chain"])])
    assert rc == 2
    assert "not a CA" in capsys.readouterr().err


def test_verify_chooses_the_crl_in_force_at_the_given_time(
    world: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """--at is also the time the CRLs are chosen for: a newer CRL issued after it (thisUpdate
    later) does not replace the one revoking the leaf."""
    crl_args = ["--intermediate", str(world["inter"]), "--crl", str(world["crl"]), "--crl",
                str(world["later_crl"])]  # fmt: skip
    rc, out = _run(["verify", "--ca", str(world["root"]), *crl_args, *AT, str(world["chain"])],
                   capsys)  # fmt: skip
    assert rc == 1 and isinstance(out, dict) and out["cert_revoked"] is True


def test_verify_with_crl(world: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """--crl revokes the leaf: verified and revoked by default, FAILED with --strict-revocation;
    exit status 1 either way (a script reading 0 as "allow" must not admit a revoked client;
    found by a review of the docs)."""
    base = ["verify", "--ca", str(world["root"]), "--intermediate", str(world["inter"]), *AT]
    rc, out = _run([*base, "--crl", str(world["crl"]), str(world["chain"])], capsys)
    assert rc == 1 and isinstance(out, dict) and out["status"] == "SUCCESS"
    assert out["cert_revoked"] is True and out["cert_verified"] is True
    rc, out = _run(
        [*base, "--crl", str(world["crl"]), "--strict-revocation", str(world["chain"])], capsys
    )
    assert rc == 1 and isinstance(out, dict)
    assert out["status"] == "FAILED:certificate revoked"


def test_verify_missing_and_expired_crl_options(
    world: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """--missing-crl deny fails a certificate whose CA published no CRL (here the intermediate,
    under --revocation-check chain: the root's CRL is missing), --expired-crl deny one whose CRL
    is past its nextUpdate (a week after pki.NOW)."""
    base = ["verify", "--ca", str(world["root"]), "--intermediate", str(world["inter"]),
            "--crl", str(world["later_crl"])]  # fmt: skip
    chain = str(world["chain"])
    assert _run([*base, *AT, "--missing-crl", "deny", chain], capsys)[0] == 0  # leaf only
    rc, out = _run([*base, *AT, "--missing-crl", "deny", "--revocation-check", "chain", chain],
                   capsys)  # fmt: skip
    assert rc == 1 and isinstance(out, dict)
    assert out["status"] == "FAILED:unable to get certificate CRL"
    later = ["--at", str(int((pki.NOW + dt.timedelta(days=30)).timestamp()))]
    assert _run([*base, *later, chain], capsys)[0] == 0
    rc, out = _run([*base, *later, "--expired-crl", "deny", chain], capsys)
    assert rc == 1 and isinstance(out, dict) and out["status"] == "FAILED:CRL has expired"


@pytest.mark.parametrize("option", [["--strict-revocation"], ["--revocation-check", "chain"],
                                    ["--missing-crl", "deny"], ["--expired-crl", "deny"]])
def test_verify_revocation_options_need_a_revocation_source(
    world: dict[str, Path], capsys: pytest.CaptureFixture[str], option: list[str]
) -> None:
    """A revocation option without --crl or --revocations would check nothing: exit 2, named
    (it was taken silently; found by a review of the docs)."""
    rc = main(["verify", "--ca", str(world["root"]), *AT, *option, str(world["chain"])])
    out, err = capsys.readouterr()
    assert rc == 2 and out == ""
    assert f"{' '.join(option)} needs --crl or --revocations" in err


def test_verify_a_file_of_no_certificates_is_named(
    world: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """A CRL (or key) given as CHAIN is still a FAILED result (exit 1, never 2 for a client
    chain), with a note on stderr saying what the file holds (it gave only "malformed
    certificate"; found by a review of the docs); a real chain gets no note."""
    rc = main(["verify", "--ca", str(world["root"]), *AT, str(world["crl"])])
    out, err = capsys.readouterr()
    assert rc == 1 and json.loads(out)["status"] == "FAILED:malformed certificate"
    assert "holds no PEM CERTIFICATE block, only X509 CRL" in err
    rc = main(["verify", "--ca", str(world["root"]), *AT, str(world["chain"])])
    assert rc == 0 and capsys.readouterr().err == ""


def test_crl_inspect(world: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """crl inspect reports issuer, dates, number, entries and the signature status."""
    rc, out = _run(["crl", "inspect", str(world["crl"]), "--ca", str(world["inter"])], capsys)
    assert rc == 0 and isinstance(out, list)
    (info,) = out
    assert info["issuer"] == "CN=Intermediate CA 1"
    assert info["entries"] == 2 and info["crl_number"] == 1 and info["signature"] == "valid"
    assert info["this_update"] == "May 31 00:00:00 2026 GMT"
    # its nextUpdate is a week after pki.NOW (2026-06-01): past, today
    assert info["expired"] is (dt.datetime.now(dt.timezone.utc) > pki.NOW + dt.timedelta(days=7))
    rc, out = _run(["crl", "inspect", str(world["crl"]), "--ca", str(world["root"])], capsys)
    assert rc == 1 and isinstance(out, list)
    assert out[0]["signature"] == "not checked: no --ca certificate has the CRL's issuer name"
    rc, out = _run(["crl", "inspect", str(world["crl"])], capsys)
    assert rc == 0 and isinstance(out, list) and out[0]["signature"].startswith("not checked")


def test_crl_inspect_reports_the_error_of_the_issuing_ca(
    world: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With several --ca, a CRL no CA verifies is reported with the error of the CA whose
    subject is its issuer (here a bad signature), whatever the order of the CAs."""
    import crls

    der = x509.load_pem_x509_crl(world["crl"].read_bytes()).public_bytes(Encoding.DER)
    bad = tmp_path / "bad.crl"
    bad.write_bytes(crls.flip_signature_bit(der))
    for cas in (["inter", "other"], ["other", "inter"], ["root", "inter", "other"]):
        argv = ["crl", "inspect", str(bad)]
        for ca in cas:
            argv += ["--ca", str(world[ca])]
        rc, out = _run(argv, capsys)
        assert rc == 1 and isinstance(out, list)
        assert out[0]["signature"] == "invalid: CRL signature failure", cas
    rc, out = _run(["crl", "inspect", str(bad), "--ca", str(world["root"]), "--ca",
                    str(world["other"])], capsys)  # fmt: skip
    assert rc == 1 and isinstance(out, list)
    assert out[0]["signature"] == "not checked: no --ca certificate has the CRL's issuer name"


def test_crl_compile_then_verify(
    world: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """crl compile writes a snapshot that verify --revocations uses."""
    snap = tmp_path / "revoked.fmrs"
    rc, out = _run(
        ["crl", "compile", str(world["crl"]), "--ca", str(world["inter"]), "-o", str(snap)], capsys
    )
    assert rc == 0 and isinstance(out, dict) and out["entries"] == 2
    rc, out = _run(
        [
            "verify",
            "--ca",
            str(world["root"]),
            *AT,
            "--revocations",
            str(snap),
            str(world["chain"]),
        ],
        capsys,
    )
    assert rc == 1 and isinstance(out, dict) and out["cert_revoked"] is True


@pytest.mark.parametrize(("at", "entries"), [(AT, 2), ([], 0)], ids=["at", "now"])
def test_crl_compile_for_a_time(
    world: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    at: list[str], entries: int,
) -> None:
    """crl compile --at chooses the CRLs in force at that time: the CRL revoking two serials
    then, the later empty CRL by default (now is after both thisUpdates)."""
    snap = tmp_path / "revoked.fmrs"
    rc, out = _run(["crl", "compile", str(world["crl"]), str(world["later_crl"]), "--ca",
                    str(world["inter"]), *at, "-o", str(snap)], capsys)  # fmt: skip
    assert rc == 0 and isinstance(out, dict) and out["entries"] == entries


def test_crl_compile_wrong_ca(world: dict[str, Path], tmp_path: Path) -> None:
    """A CRL no given CA signed is refused with exit 2."""
    rc = main(["crl", "compile", str(world["crl"]), "--ca", str(world["root"]), "-o",
               str(tmp_path / "x")])  # fmt: skip
    assert rc == 2


def test_module_entry_point_demo_data() -> None:
    """`python -m fastmtls verify` works on the committed demo PKI."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "fastmtls",
            "verify",
            "--ca",
            str(DATA / "ca.pem"),
            str(DATA / "chain.pem"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["status"] == "SUCCESS"


@pytest.mark.parametrize("at", ["inf", "1e20", "253402300800", "yesterday"])
def test_verify_bad_time_is_a_usage_error(
    world: dict[str, Path], capsys: pytest.CaptureFixture[str], at: str
) -> None:
    """--at outside datetime's range (or not a time) is a usage error (exit 2), not a traceback
    (exit 1 would read as "not verified")."""
    with pytest.raises(SystemExit) as exc:
        main(["verify", "--ca", str(world["root"]), "--at", at, str(world["chain"])])
    assert exc.value.code == 2
    assert "not a time" in capsys.readouterr().err


def test_verify_crl_and_snapshot_are_exclusive(
    world: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--crl and --revocations together used to ignore the CRLs (a revoked leaf passed)."""
    snap = tmp_path / "empty.snap"
    RevocationSet.build([]).save(snap)
    with pytest.raises(SystemExit) as exc:
        main(["verify", "--ca", str(world["root"]), "--crl", str(world["crl"]),
              "--revocations", str(snap), *AT, str(world["chain"])])  # fmt: skip
    assert exc.value.code == 2
    assert "not allowed with" in capsys.readouterr().err


def test_pem_files_with_text_before_the_first_block(
    world: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A CA bundle that opens with comments (certifi's does) and a CRL printed by
    `openssl crl -text` are PEM: verify and crl compile read them."""
    commented = tmp_path / "bundle.pem"
    commented.write_bytes(b"\n# Issuer: CN=Test\n# Label: test\n" + world["root"].read_bytes())
    inter = tmp_path / "inter.pem"
    inter.write_bytes(b"Certificate:\n    Data: ...\n" + world["inter"].read_bytes())
    rc, out = _run(["verify", "--ca", str(commented), "--intermediate", str(inter), *AT,
                    str(world["chain"])], capsys)  # fmt: skip
    assert rc == 0 and isinstance(out, dict) and out["status"] == "SUCCESS"
    crl = tmp_path / "text.crl"
    crl.write_bytes(b"Certificate Revocation List (CRL):\n        Version 2 (0x1)\n"
                    + world["crl"].read_bytes())  # fmt: skip
    snap = tmp_path / "out.snap"
    assert main(["crl", "compile", str(crl), "--ca", str(inter), "-o", str(snap)]) == 0
    assert len(RevocationSet.load(snap)) == 2


@pytest.mark.parametrize("value", [b"\x02\x01\x05", b"\x05\x00", b"\x1e\x03\x00a\x00"])
def test_crl_inspect_refuses_issuer_names_openssl_cannot_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: bytes
) -> None:
    """A CRL whose issuer CN is an INTEGER, a NULL or an odd-length BMPString (OpenSSL's Name
    decoder takes none of them) is malformed: an error and exit 2, not a traceback."""
    import crls

    name = crls.enc(0x30, crls.enc(0x31, crls.enc(0x30, crls.der_oid("2.5.4.3") + value)))
    path = tmp_path / "odd.crl"
    path.write_bytes(crls.raw_crl(name, key=pki.make_key("p256")))
    assert main(["crl", "inspect", str(path)]) == 2
    assert "malformed CRL" in capsys.readouterr().err


def test_crl_inspect_prints_an_issuer_name_too_long_to_format_as_hex(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An issuer Name longer than OpenSSL's X509_NAME_MAX (1 MiB), which OpenSSL would not
    print: the listing shows ``#`` and the Name's DER in hex instead of ending in a
    ValueError traceback (and exit 1, which reads as "signature invalid")."""
    import crls

    value = crls.enc(0x0C, b"x" * (1024 * 1024))
    name = crls.enc(0x30, crls.enc(0x31, crls.enc(0x30, crls.der_oid("2.5.4.3") + value)))
    path = tmp_path / "long.crl"
    path.write_bytes(crls.raw_crl(name, key=pki.make_key("p256")))
    rc, out = _run(["crl", "inspect", str(path)], capsys)
    assert rc == 0 and isinstance(out, list)
    assert out[0]["issuer"] == "#" + name.hex()


def _leaf_only(world: dict[str, Path]) -> bytes:
    """The chain's leaf alone, PEM."""
    return world["chain"].read_bytes().split(b"-----END CERTIFICATE-----")[0] + (
        b"-----END CERTIFICATE-----\n"
    )


def _client_chains(world: dict[str, Path]) -> dict[str, bytes]:
    """What a client may send: the whole chain, its leaf alone, the leaf with an intermediate of
    the same name and another key (before or after the real one), garbage."""
    fake = pki.ca("CN=Intermediate CA 1", key=pki.make_key("p256", fresh=True)).pem
    leaf, inter = _leaf_only(world), world["inter"].read_bytes()
    return {"chain": leaf + inter, "leaf": leaf, "fake": leaf + fake,
            "real+fake": leaf + inter + fake, "garbage": b"garbage"}  # fmt: skip


def _verify_stdin(argv: list[str], data: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "fastmtls", "verify", *argv, "-"], input=data,
                          capture_output=True, timeout=60, check=False)  # fmt: skip


def test_verify_crl_issuer_comes_from_the_configuration_only(world: dict[str, Path]) -> None:
    """--crl is checked against the --ca and --intermediate certificates, never the client's
    chain: an intermediate's CRL without --intermediate is a configuration error (exit 2)
    whatever the client sends (it used to pass with the chain's copy, and exit 2 for a client
    that sent only its leaf, a fake intermediate or garbage)."""
    for name, data in _client_chains(world).items():
        proc = _verify_stdin(["--ca", str(world["root"]), "--crl", str(world["crl"]), *AT], data)
        assert proc.returncode == 2 and proc.stdout == b"", name
        assert b"no configured CA has the CRL's issuer name" in proc.stderr, name
        assert b"--intermediate" in proc.stderr, name


def test_verify_crl_a_bad_client_chain_is_a_result(world: dict[str, Path]) -> None:
    """With the CRL's issuer configured (--intermediate), every client chain gives a result as
    JSON (exit 0 or 1), never a configuration error: the leaf alone or with a fake intermediate
    is found revoked through the configured intermediate, garbage is malformed."""
    argv = ["--ca", str(world["root"]), "--intermediate", str(world["inter"]), "--crl",
            str(world["crl"]), *AT]  # fmt: skip
    expected = {"chain": (1, "SUCCESS", True), "leaf": (1, "SUCCESS", True),
                "fake": (1, "SUCCESS", True), "real+fake": (1, "SUCCESS", True),
                "garbage": (1, "FAILED:malformed certificate", False)}  # fmt: skip
    for name, data in _client_chains(world).items():
        proc = _verify_stdin(argv, data)
        out = json.loads(proc.stdout)
        assert (proc.returncode, out["status"], out["cert_revoked"]) == expected[name], name


@pytest.mark.parametrize("port", ["99999", "-1", "http"])
def test_demo_port_out_of_range_is_a_usage_error(
    port: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """--port outside 0-65535 is a usage error (exit 2), not an OverflowError traceback."""
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--port", port])
    assert exc.value.code == 2
    assert "0-65535" in capsys.readouterr().err


def _der_chain(world: dict[str, Path], tmp_path: Path) -> Path:
    from fastmtls import pem_to_der

    path = tmp_path / "chain.der"
    path.write_bytes(b"".join(pem_to_der(world["chain"].read_bytes())))
    return path


def test_verify_der_chain_with_crl(world: dict[str, Path], tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    """--crl with a DER chain, as with a PEM chain: the leaf is found revoked."""
    der = _der_chain(world, tmp_path)
    for chain in (world["chain"], der):
        rc, out = _run(["verify", "--ca", str(world["root"]), "--intermediate", str(world["inter"]),
                        "--crl", str(world["crl"]), *AT, str(chain)], capsys)  # fmt: skip
        assert rc == 1 and isinstance(out, dict), chain
        assert out["status"] == "SUCCESS" and out["cert_revoked"] is True, chain


def test_der_bundles(world: dict[str, Path], tmp_path: Path,
                     capsys: pytest.CaptureFixture[str]) -> None:
    """A CA file of concatenated DER certificates (README: "a PEM or DER CA bundle") is read as
    several certificates by --ca, TrustStore.add_file and --intermediate (it was one malformed
    certificate)."""
    from fastmtls import TrustStore, pem_to_der

    bundle = tmp_path / "bundle.der"
    pems = world["other"].read_bytes() + world["root"].read_bytes()
    bundle.write_bytes(b"".join(pem_to_der(pems)))
    rc, out = _run(["verify", "--ca", str(bundle), *AT, str(world["chain"])], capsys)
    assert rc == 0 and isinstance(out, dict) and out["status"] == "SUCCESS"
    assert TrustStore().add_file(bundle) == 2
    inter = tmp_path / "inter.der"
    inter.write_bytes(pem_to_der(world["inter"].read_bytes())[0])
    leaf = tmp_path / "leaf.pem"
    leaf.write_bytes(world["chain"].read_bytes().split(b"-----END CERTIFICATE-----")[0]
                     + b"-----END CERTIFICATE-----\n")  # fmt: skip
    rc, out = _run(["verify", "--ca", str(world["root"]), "--intermediate", str(inter), *AT,
                    str(leaf)], capsys)  # fmt: skip
    assert rc == 0 and isinstance(out, dict) and out["status"] == "SUCCESS"


def test_verify_from_closed_stdin(world: dict[str, Path]) -> None:
    """`fastmtls verify ... -` started with standard input closed: an error message and exit
    status 2 (it printed a traceback)."""
    proc = subprocess.run(
        [sys.executable, "-m", "fastmtls", "verify", "--ca", str(world["root"]), "-"],
        stdin=None, capture_output=True, text=True, check=False, timeout=60,
        preexec_fn=lambda: __import__("os").close(0),
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "standard input is closed" in proc.stderr and "Traceback" not in proc.stderr


UTC = dt.timezone.utc
JUNE_1 = dt.datetime(2026, 6, 1, tzinfo=UTC)


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-06-01T00:00:00Z", JUNE_1),
    ("2026-06-01t00:00:00z", JUNE_1),
    ("2026-06-01 00:00:00Z", JUNE_1),
    ("2026-06-01T00:00:00.5Z", JUNE_1.replace(microsecond=500000)),
    ("2026-06-01T00:00:00,123456789Z", JUNE_1.replace(microsecond=123456)),
    ("2026-06-01T02:00:00+02:00", JUNE_1),
    ("2026-05-31T22:00:00-02:00", JUNE_1),
    ("20260601T000000Z", JUNE_1),
    ("20260601T020000.25+0200", JUNE_1.replace(microsecond=250000)),
    ("2026-06-01T00:00Z", JUNE_1),
    ("2026-06-01T00:00:00", JUNE_1),  # no offset: UTC
    ("2026-06-01", JUNE_1),
    ("2026-05-31T23:59:60Z", JUNE_1 - dt.timedelta(seconds=1)),  # a leap second
    ("1780272000", JUNE_1),
    ("20260601", dt.datetime(1970, 8, 23, 11, 56, 41, tzinfo=UTC)),  # a number: unix seconds
])  # fmt: skip
def test_at_accepts_rfc3339_and_iso8601(text: str, expected: dt.datetime) -> None:
    """--at takes RFC 3339 date-times (T/Z in either case, fractions, offsets), the basic
    form, a date alone and unix seconds, the same on every Python (datetime.fromisoformat
    refused the fraction and the basic form before 3.11, and lower-case z everywhere)."""
    from fastmtls.cli import _parse_time

    assert _parse_time(text) == expected


@pytest.mark.parametrize("text", [
    "2026-06-01x00:00:00",  # fromisoformat on 3.11 takes any separator
    "2026-06-01T00:00:00+24:00", "2026-06-01T00:00:00+01:60", "2026-13-01", "2026-06-31",
    "20260601T00:00:00Z", "2026-06-01T0000", "2026-06-01T", "2026-06-01Z",
    "\uff12\uff10\uff12\uff16-06-01",  # full-width digits
    "2026-06-01T00:00:00 Z", "",
])  # fmt: skip
def test_at_refuses_what_is_not_a_time(
    world: dict[str, Path], capsys: pytest.CaptureFixture[str], text: str
) -> None:
    """What is not one of those forms is a usage error (exit 2) saying which forms are."""
    with pytest.raises(SystemExit) as exc:
        main(["verify", "--ca", str(world["root"]), "--at", text, str(world["chain"])])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "not a time" in err and "RFC 3339" in err


def test_verify_at_lower_case_rfc3339(
    world: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """verify --at with a lower-case RFC 3339 time verifies the chain at that time."""
    rc, out = _run(["verify", "--ca", str(world["root"]), "--at", "2026-06-01t00:00:00.5z",
                    str(world["chain"])], capsys)  # fmt: skip
    assert rc == 0 and isinstance(out, dict) and out["status"] == "SUCCESS"


def test_verify_host_with_associations(
    world: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """--associate HOST=CAFILE makes HOST trust only that --ca file's CAs, and --host selects
    it: the chain from root fails for a host associated with the other CA, passes for a host
    without association, through a wildcard association, and for a host given both files."""
    root, other = str(world["root"]), str(world["other"])
    base = ["verify", "--ca", root, "--ca", other, *AT]
    cases = [
        (["--associate", f"api.example.com={other}", "--host", "api.example.com"], 1),
        (["--associate", f"api.example.com={other}", "--host", "API.Example.com."], 1),
        (["--associate", f"api.example.com={other}"], 0),  # no --host: every CA
        (["--associate", f"api.example.com={other}", "--host", "www.example.com"], 0),
        (["--associate", f"*.example.com={root}", "--host", "api.example.com"], 0),
        (["--associate", f"*.example.com={other}", "--host", "api.example.com"], 1),
        (["--associate", f"API.example.com={other}", "--associate", f"api.example.com={root}",
          "--host", "api.example.com"], 0),
        (["--associate", f"api.example.com={root}", "--host", "api.example.com:443"], 1),
    ]  # fmt: skip
    for extra, expected in cases:
        rc, out = _run([*base, *extra, str(world["chain"])], capsys)
        assert rc == expected and isinstance(out, dict), extra
        if rc == 0:
            assert out["anchor"] == root, extra
        else:
            assert out["status"] == "FAILED:unable to get local issuer certificate", extra


@pytest.mark.parametrize(("value", "message"), [
    ("api.example.com=elsewhere.pem", "one of the --ca files"),
    ("api.example.com", "expected HOST=CAFILE"),
    ("a host={root}", "invalid hostname"),
    ("*.*.example.com={root}", "invalid wildcard hostname"),
])  # fmt: skip
def test_verify_bad_association_is_a_configuration_error(
    world: dict[str, Path], capsys: pytest.CaptureFixture[str], value: str, message: str
) -> None:
    """An --associate that names no --ca file, or no valid host, exits 2 with a message."""
    value = value.format(root=world["root"])
    rc = main(["verify", "--ca", str(world["root"]), "--associate", value, *AT,
               str(world["chain"])])  # fmt: skip
    assert rc == 2 and message in capsys.readouterr().err


def _run_into_closed_pipe(argv: list[str]) -> subprocess.CompletedProcess[bytes]:
    """``python -m fastmtls ARGV`` with a standard output whose reader is already gone."""
    import os

    r, w = os.pipe()
    os.close(r)
    try:
        return subprocess.run([sys.executable, "-m", "fastmtls", *argv], stdout=w,
                              stderr=subprocess.PIPE, timeout=120, check=False)  # fmt: skip
    finally:
        os.close(w)


def test_closed_stdout_keeps_the_exit_status(world: dict[str, Path]) -> None:
    """A reader that went away (`| head -c1`) is not an error: no message, and the exit status
    is the command's (verify: 0 verified, 1 not); it was "Broken pipe" and exit 2."""
    cases = [
        (["verify", "--ca", str(world["root"]), *AT, str(world["chain"])], 0),
        (["verify", "--ca", str(world["other"]), *AT, str(world["chain"])], 1),
        (["crl", "inspect", str(world["crl"])], 0),
    ]
    for argv, expected in cases:
        proc = _run_into_closed_pipe(argv)
        assert (proc.returncode, proc.stderr) == (expected, b""), argv


def test_json_paths_are_utf8(
    world: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file name that is not UTF-8 appears with backslash escapes in crl inspect and crl
    compile, as in verify's anchor: JSON that strict parsers read (a lone surrogate escape,
    before, is not)."""
    import os

    crl = tmp_path / os.fsdecode(b"i\xffnter.crl")
    crl.write_bytes(world["crl"].read_bytes())
    snap = tmp_path / os.fsdecode(b"s\xfe.snap")
    for argv, field, name in [
        (["crl", "inspect", str(crl)], "file", "i\\xffnter.crl"),
        (["crl", "compile", str(crl), "--ca", str(world["inter"]), "-o", str(snap)], "output",
         "s\\xfe.snap"),
    ]:  # fmt: skip
        assert main(argv) == 0
        text = capsys.readouterr().out
        assert "\\ud" not in text, text  # no surrogate escape
        out = json.loads(text)
        value = (out[0] if isinstance(out, list) else out)[field]
        assert value == str(tmp_path / name)


def test_crl_compile_reports_the_file_size(
    world: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """crl compile's "bytes" is the size of the snapshot written (it was the set's memory)."""
    snap = tmp_path / "out.snap"
    rc, out = _run(["crl", "compile", str(world["crl"]), "--ca", str(world["inter"]), "-o",
                    str(snap)], capsys)  # fmt: skip
    assert rc == 0 and isinstance(out, dict) and out["bytes"] == snap.stat().st_size


def test_crl_compile_refuses_stdout(
    world: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """crl compile -o - is a usage error (exit 2): a snapshot is binary and needs a file; it
    wrote a file named "-"."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(["crl", "compile", str(world["crl"]), "--ca", str(world["inter"]), "-o", "-"])
    assert exc.value.code == 2
    assert "not '-'" in capsys.readouterr().err
    assert not (tmp_path / "-").exists()


@pytest.mark.parametrize("source", ["stdin", "fifo"])
def test_verify_reads_a_bounded_chain(
    world: dict[str, Path], tmp_path: Path, source: str
) -> None:
    """verify reads no more of the presented chain than the verifier could take (a few MiB):
    an endless input (/dev/zero, a huge stdin) is refused as too large (exit 1, JSON) instead
    of being read into memory first."""
    import os

    total = 64 << 20
    chunk = b"\0" * (1 << 20)
    if source == "fifo":
        path = tmp_path / "chain.fifo"
        os.mkfifo(path)
        argv, stdin = [str(path)], subprocess.DEVNULL
    else:
        argv, stdin = ["-"], subprocess.PIPE
    proc = subprocess.Popen([sys.executable, "-m", "fastmtls", "verify", "--ca",
                             str(world["root"]), *AT, *argv], stdin=stdin,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    sink = open(path, "wb", buffering=0) if source == "fifo" else proc.stdin
    assert sink is not None and proc.stdout is not None and proc.stderr is not None
    written = 0
    try:
        while written < total:
            sink.write(chunk)
            written += len(chunk)
    except BrokenPipeError:
        pass
    finally:
        with contextlib.suppress(BrokenPipeError):
            sink.close()
    out, err = proc.stdout.read(), proc.stderr.read()
    assert proc.wait(timeout=60) == 1, err
    assert json.loads(out)["status"] == "FAILED:certificate chain input too large"
    assert written < 16 << 20  # the reader stopped after a few MiB


def test_help_describes_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    """``fastmtls --help`` prints the module's whole first paragraph (it printed its first line
    only, cut off mid-sentence; found by review) and the exit statuses and the demo of the
    second (which CHANGELOG promised; found by a review of the docs)."""
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "fastmtls crl compile turns CRLs into a revocation snapshot." in out
    assert "Exit status of verify: 0 only when the chain verified and is not revoked; 1" in out
    assert "fastmtls demo runs mutual TLS end to end on 127.0.0.1 (see fastmtls.demo)" in out
    assert "``" not in out and ":mod:" not in out


@pytest.mark.parametrize("case", ["garbage-ca", "leaf-as-intermediate", "empty-crl",
                                  "second-crl-empty", "garbage-crl-inspect",
                                  "garbage-crl-compile"])
def test_configuration_errors_name_their_file(
    world: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    """A configuration error names the option and file it is about (a bad --ca said only "no
    PEM CERTIFICATE block found", an empty --crl "CRL #1: malformed CRL"; found by a review of
    the docs)."""
    bad = tmp_path / "bad.pem"
    bad.write_bytes(b"" if "empty" in case else world["chain"].read_bytes()
                    if case == "leaf-as-intermediate" else b"garbage\n")  # fmt: skip
    base = ["verify", "--ca", str(world["root"]), *AT]
    argv, want = {
        "garbage-ca": (["verify", "--ca", str(bad), str(world["chain"])], "--ca "),
        "leaf-as-intermediate": ([*base, "--intermediate", str(bad), str(world["chain"])],
                                 "--intermediate "),
        "empty-crl": ([*base, "--intermediate", str(world["inter"]), "--crl", str(bad),
                       str(world["chain"])], "--crl "),
        "second-crl-empty": ([*base, "--intermediate", str(world["inter"]), "--crl",
                              str(world["crl"]), "--crl", str(bad), str(world["chain"])],
                             "--crl "),
        "garbage-crl-inspect": (["crl", "inspect", str(bad)], "CRL file "),
        "garbage-crl-compile": (["crl", "compile", str(bad), "--ca", str(world["inter"]), "-o",
                                 str(tmp_path / "x.snap")], "CRL file "),
    }[case]  # fmt: skip
    with contextlib.suppress(SystemExit):
        assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"{want}{bad}" in err or f"{want}bad.pem" in err, err
