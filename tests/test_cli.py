"""The ``fastmtls`` command line: verify, crl inspect, crl compile."""

from __future__ import annotations

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
    crl_args = ["--crl", str(world["crl"]), "--crl", str(world["later_crl"])]
    rc, out = _run(["verify", "--ca", str(world["root"]), *crl_args, *AT, str(world["chain"])],
                   capsys)  # fmt: skip
    assert rc == 0 and isinstance(out, dict) and out["cert_revoked"] is True


def test_verify_with_crl(world: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """--crl revokes the leaf: verified and revoked by default, FAILED with --strict-revocation."""
    base = ["verify", "--ca", str(world["root"]), "--intermediate", str(world["inter"]), *AT]
    rc, out = _run([*base, "--crl", str(world["crl"]), str(world["chain"])], capsys)
    assert rc == 0 and isinstance(out, dict)
    assert out["cert_revoked"] is True and out["cert_verified"] is True
    rc, out = _run(
        [*base, "--crl", str(world["crl"]), "--strict-revocation", str(world["chain"])], capsys
    )
    assert rc == 1 and isinstance(out, dict)
    assert out["status"] == "FAILED:certificate revoked"


def test_crl_inspect(world: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """crl inspect reports issuer, dates, number, entries and the signature status."""
    rc, out = _run(["crl", "inspect", str(world["crl"]), "--ca", str(world["inter"])], capsys)
    assert rc == 0 and isinstance(out, list)
    (info,) = out
    assert info["issuer"] == "CN=Intermediate CA 1"
    assert info["entries"] == 2 and info["crl_number"] == 1 and info["signature"] == "valid"
    assert info["this_update"] == "May 31 00:00:00 2026 GMT"
    rc, out = _run(["crl", "inspect", str(world["crl"]), "--ca", str(world["root"])], capsys)
    assert rc == 1 and isinstance(out, list) and out[0]["signature"].startswith("invalid")
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
    assert out[0]["signature"] == "invalid: no --ca certificate has the CRL's issuer name"


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
    assert rc == 0 and isinstance(out, dict) and out["cert_revoked"] is True


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


def test_verify_crl_of_an_intermediate_only_in_the_chain(
    world: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """--crl for the intermediate that only the client's chain carries (no --intermediate): the
    chain's copy checks the CRL, as the usual layout (root in --ca, intermediate in CHAIN) needs.
    It used to exit 2, "no configured CA has the CRL's issuer name"."""
    rc, out = _run(["verify", "--ca", str(world["root"]), "--crl", str(world["crl"]), *AT,
                    str(world["chain"])], capsys)  # fmt: skip
    assert rc == 0 and isinstance(out, dict)
    assert out["cert_revoked"] is True and out["cert_verified"] is True
    # a CRL the chain's intermediate did not sign is still refused
    rc, _ = _run(["verify", "--ca", str(world["other"]), "--crl", str(world["crl"]), *AT,
                  str(world["root"])], capsys)  # fmt: skip
    assert rc == 2


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
    """--crl with a DER chain: the chain's intermediate is offered as the CRL's issuer, as for
    a PEM chain (it was not, and the command failed: no configured CA had the CRL's issuer)."""
    der = _der_chain(world, tmp_path)
    for chain in (world["chain"], der):
        rc, out = _run(["verify", "--ca", str(world["root"]), "--crl", str(world["crl"]), *AT,
                        str(chain)], capsys)  # fmt: skip
        assert rc == 0 and isinstance(out, dict), chain
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
