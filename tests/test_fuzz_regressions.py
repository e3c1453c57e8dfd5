"""Replays fuzzer findings and hostile inputs through the public API and the sanitized C core.

1. Every file in ``csrc/fuzz/regressions/<target>/`` (artifacts saved by ``tools/fuzz.sh``), plus
   a set of built-in nasty inputs, goes through the Python path that corresponds to its target:
   certificates and chains through ``Verifier.verify``, CRLs through ``inspect_crl`` and
   ``RevocationSet.build``, snapshots through ``RevocationSet.from_snapshot_bytes``, the hook's
   Certificate messages through ``Verifier.verify`` (what the hook does with them). A bad input
   must give a ``FAILED:`` result or the documented exception, never a crash.
2. When a C compiler with AddressSanitizer/UBSan is available (clang, or gcc), the fuzz targets
   are built without libFuzzer, linked with ``csrc/fuzz/replay_main.c``, and replay the same
   files plus a sample of the seed corpus under ASan (leaks included) and UBSan (halting). The
   known, already reported UBSan findings listed in ``csrc/fuzz/ubsan.supp`` are suppressed.
   Without a compiler (or without OpenSSL headers) these tests skip.
"""

from __future__ import annotations

import ipaddress
import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import fastmtls
from fastmtls import (
    ConfigurationError,
    RevocationError,
    RevocationSet,
    SnapshotError,
    TrustStore,
    Verifier,
    VerifyResult,
)

ROOT = Path(__file__).resolve().parent.parent
CSRC = ROOT / "csrc"
FUZZ = CSRC / "fuzz"
REGRESSIONS = FUZZ / "regressions"
TARGETS = ("fuzz_cert", "fuzz_chain_split", "fuzz_verify", "fuzz_crl", "fuzz_snapshot",
           "fuzz_names", "fuzz_hook")
FIXED_TIME = 1780272000  # FUZZ_FIXED_TIME (fixed_ca.h)
NOTE_SUFFIXES = (".txt", ".md")  # logs and notes kept beside the artifacts
CORPUS_SAMPLE = 150  # corpus files replayed per target under the sanitizers


# --- inputs ------------------------------------------------------------------------------------

def regression_files(target: str) -> list[Path]:
    d = REGRESSIONS / target
    if not d.is_dir():
        return []
    return sorted(p for p in d.iterdir()
                  if p.is_file() and not p.name.startswith(".") and p.suffix not in NOTE_SUFFIXES)


def _tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    nb = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(nb)]) + nb + content


def fixed_cas() -> list[bytes]:
    """DER of root_p256, root_rsa, root_ed25519, inter_p384 (csrc/fuzz/fixed_keys.pem)."""
    return fastmtls.pem_to_der((FUZZ / "fixed_keys.pem").read_bytes())


def nasty_der() -> list[bytes]:
    """Hostile DER shapes: truncations, absurd lengths, deep nesting, oversize inputs."""
    ca = fixed_cas()[0]
    deep = b"\x05\x00"
    for _ in range(300):
        deep = _tlv(0x30, deep)
    out = [
        b"", b"\x00", b"\x30", b"\x30\x00", b"\x30\x80\x00\x00", b"\x30\x81", b"\x30\x81\x05",
        b"\x30\x81\x01\x00",  # non-minimal length
        b"\x30\x84\xff\xff\xff\xff", b"\x30\x88" + b"\xff" * 8, b"\x30\x89" + b"\x01" * 9,
        b"\x3f\x81\x01\x00",  # high tag number
        b"\x1f\x00", b"\x30\x02\x1f\x00", deep, b"\x30" * 4096,
        ca[:-1], ca[: len(ca) // 2], ca + b"\x00", ca + b"\x30", ca * 70,  # > max_chain_certs
        _tlv(0x30, b"\x00" * 70000),  # > max_cert_size
        _tlv(0x30, _tlv(0x30, b"\x00" * (1 << 20))),  # > max_input_size
        b"\xff" * 512, bytes(range(256)) * 4,
    ]
    for i in range(0, len(ca), 97):  # one bit flipped here and there
        b = bytearray(ca)
        b[i] ^= 0x80
        out.append(bytes(b))
    return out


def nasty_snapshots() -> list[bytes]:
    good = bytearray(b"FMREVSET" + (1).to_bytes(4, "little") + (0x01020304).to_bytes(4, "little"))
    good += (256).to_bytes(8, "little") + bytes(256 - len(good))
    out = [b"", b"FMREVSET", bytes(good), bytes(good[:127]), bytes(good) + b"\x00"]
    big = bytearray(good)
    big[16:24] = (2**64 - 1).to_bytes(8, "little")
    out.append(bytes(big))
    wrong_version = bytearray(good)
    wrong_version[8:12] = (99).to_bytes(4, "little")
    out.append(bytes(wrong_version))
    wrong_endian = bytearray(good)
    wrong_endian[12:16] = (0x04030201).to_bytes(4, "little")
    out.append(bytes(wrong_endian))
    return out


def unframe(data: bytes) -> tuple[int, bytes, bytes]:
    """(control, name, body) of a fuzz_verify / fuzz_names input (see those targets)."""
    if len(data) < 2:
        return 0, b"", data
    n = min(data[1], len(data) - 2)
    return data[0], data[2 : 2 + n], data[2 + n :]


def der_split(data: bytes) -> list[bytes]:
    """Top-level DER TLVs of ``data`` (as fm_chain_split), or [data] when it does not split."""
    out, off = [], 0
    while off < len(data):
        if len(data) - off < 2 or data[off] != 0x30:
            return [data]
        n, hl = data[off + 1], 2
        if n & 0x80:
            k = n & 0x7F
            if k == 0 or k > 8 or len(data) - off < 2 + k:
                return [data]
            n, hl = int.from_bytes(data[off + 2 : off + 2 + k], "big"), 2 + k
        if off + hl + n > len(data):
            return [data]
        out.append(data[off : off + hl + n])
        off += hl + n
    return out or [data]


# --- Python-side replay ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cas() -> list[bytes]:
    return fixed_cas()


@pytest.fixture(scope="module")
def fuzz_verifier(cas: list[bytes]) -> Verifier:
    """The fuzz_verify setup: three fixed roots, host associations, the operator intermediate."""
    store = TrustStore()
    for name, der in zip(("root_p256", "root_rsa", "root_ed25519"), cas[:3]):
        store.add_der(der, name=name)
    store.associate("api.example.com", ["root_p256"])
    store.associate("*.example.org", ["root_rsa", "root_ed25519"])
    return Verifier(store, intermediates=[cas[3]])


def assert_clean(result: VerifyResult) -> None:
    assert isinstance(result, VerifyResult)
    status = result.status
    assert status in ("SUCCESS", "NONE") or status.startswith("FAILED:"), status
    result.fields()  # formatting every field of a hostile chain must not raise either


def expected_name(kind: int, name: bytes) -> Any:
    """fuzz_verify's expected name as the Python API takes it, or None when not expressible."""
    try:
        if kind == 2 and len(name) in (4, 16):
            return ipaddress.ip_address(name)
        text = name.decode("ascii")
    except (UnicodeDecodeError, ValueError):
        return None
    if not text or not text.isprintable():
        return None
    if kind == 1 and "@" not in text and "://" not in text:
        return text
    if kind == 3 and "@" in text and "://" not in text:
        return text
    if kind == 4 and "://" in text:
        return text
    return None


def replay_cert(v: Verifier, data: bytes) -> None:
    assert_clean(v.verify([data], at=FIXED_TIME))
    assert_clean(v.verify(data, at=FIXED_TIME))
    try:
        TrustStore().add_der(data, name="x")
    except ConfigurationError:
        pass  # CertificateLoadError / NotACAError / LimitError: all ConfigurationError


def replay_chain(v: Verifier, data: bytes) -> None:
    assert_clean(v.verify(data, at=FIXED_TIME))
    assert_clean(v.verify(der_split(data), at=FIXED_TIME))


def replay_verify(v: Verifier, data: bytes) -> None:
    ctl, name, body = unframe(data)
    hosts = {0: None, 1: "api.example.com", 2: "x.example.org"}
    host = hosts.get(ctl & 3)
    if ctl & 3 == 3:
        try:
            text = name.decode("ascii")
            host = text if text and text.isprintable() else None
        except UnicodeDecodeError:
            host = None
    kind = ((ctl >> 2) & 7) % 5
    try:
        result = v.verify(body, host=host, at=FIXED_TIME, expected_name=expected_name(kind, name))
    except ConfigurationError:  # a host or name the Python layer refuses (IDNA, ...)
        result = v.verify(body, at=FIXED_TIME)
    assert_clean(result)
    assert_clean(v.verify(der_split(body), at=FIXED_TIME))


def replay_names(v: Verifier, data: bytes) -> None:
    kind, name, body = unframe(data)
    certs = der_split(body)
    try:
        result = v.verify(certs[-1:], at=FIXED_TIME,
                          expected_name=expected_name(kind % 6, name))
    except ConfigurationError:
        result = v.verify(certs[-1:], at=FIXED_TIME)
    assert_clean(result)
    assert_clean(v.verify(certs[::-1], at=FIXED_TIME))


def replay_crl(cas: list[bytes], data: bytes) -> None:
    crls = der_split(data)
    for der in crls:
        try:
            info = fastmtls.inspect_crl(der)
            assert info.entries >= 0
        except RevocationError:
            pass
    try:
        rs = RevocationSet.build(crls, cas=cas)
    except RevocationError:
        return
    len(rs)
    rs.issuers()
    for ca in cas:
        rs.lookup(ca, 1)
        rs.lookup(ca, 0x0BAD)


def replay_snapshot(cas: list[bytes], data: bytes) -> None:
    try:
        rs = RevocationSet.from_snapshot_bytes(data)
    except SnapshotError:
        return
    len(rs)
    for info in rs.issuers():
        assert isinstance(info.name_der, bytes)
    for ca in cas:
        rs.lookup(ca, 1)
        rs.lookup(ca, 0x0BAD)


def _cases() -> Iterator[Any]:
    for target in TARGETS:
        for path in regression_files(target):
            yield pytest.param(target, path, id=f"{target}/{path.name[:24]}")



@pytest.mark.parametrize(("target", "path"), list(_cases()))
def test_regression_python(target: str, path: Path, fuzz_verifier: Verifier,
                           cas: list[bytes]) -> None:
    data = path.read_bytes()
    if target == "fuzz_cert":
        replay_cert(fuzz_verifier, data)
    elif target == "fuzz_chain_split":
        replay_chain(fuzz_verifier, data)
    elif target == "fuzz_verify":
        replay_verify(fuzz_verifier, data)
    elif target == "fuzz_names":
        replay_names(fuzz_verifier, data)
    elif target == "fuzz_crl":
        replay_crl(cas, data)
    elif target == "fuzz_snapshot":
        replay_snapshot(cas, data)
    elif target == "fuzz_hook":
        replay_chain(fuzz_verifier, data[1:])
    else:  # pragma: no cover - a new target without a Python replay
        pytest.fail(f"no Python replay for {target}")


def test_regression_dirs_name_known_targets() -> None:
    if not REGRESSIONS.is_dir():
        pytest.skip("no regressions yet")
    for d in REGRESSIONS.iterdir():
        if d.is_dir():
            assert d.name in TARGETS, f"regressions/{d.name}: no such fuzz target"
            assert (FUZZ / f"{d.name}.c").exists()


def test_nasty_chains(fuzz_verifier: Verifier) -> None:
    for data in nasty_der():
        replay_cert(fuzz_verifier, data)
        replay_chain(fuzz_verifier, data)


def test_nasty_pem(fuzz_verifier: Verifier, cas: list[bytes]) -> None:
    good = (FUZZ / "fixed_keys.pem").read_text()
    texts = [
        "", "-----BEGIN CERTIFICATE-----", "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----",
        "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
        "-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n",
        "-----BEGIN CERTIFICATE-----\n" + "A" * 100000 + "\n-----END CERTIFICATE-----\n",
        "-----BEGIN CERTIFICATE-----\n" * 1000, "\x00" * 100, "é" * 50,
        good, good.replace("A", "B"), good[: len(good) // 2], good.replace("\n", "\r\n"),
    ]
    for text in texts:
        assert_clean(fuzz_verifier.verify(text, at=FIXED_TIME))
        assert_clean(fuzz_verifier.verify(text.encode("utf-8", "replace"), at=FIXED_TIME))
        try:
            fastmtls.pem_to_der(text)
        except fastmtls.CertificateLoadError:
            pass
        try:
            RevocationSet.build([text], cas=cas)
        except RevocationError:
            pass


def test_nasty_crls(cas: list[bytes]) -> None:
    for data in nasty_der():
        replay_crl(cas, data)


def test_nasty_snapshots(cas: list[bytes]) -> None:
    for data in nasty_snapshots() + nasty_der():
        replay_snapshot(cas, data)
    with pytest.raises(SnapshotError):
        RevocationSet.from_snapshot_bytes(nasty_snapshots()[2])  # header without a checksum


# --- C replay under ASan/UBSan -----------------------------------------------------------------

def find_cc() -> str | None:
    """A C compiler that can build and run an ASan/UBSan program linking libcrypto."""
    env = os.environ.get("FASTMTLS_FUZZ_CC")
    candidates = [env] if env else ["clang", "clang-19", "clang-18", "clang-17", "clang-16",
                                    "clang-15", "clang-14", "gcc", "cc"]
    probe = '#include <openssl/evp.h>\nint main(void){return EVP_MD_CTX_new()==0;}\n'
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "probe.c"
        src.write_text(probe)
        for cc in candidates:
            if not cc or shutil.which(cc) is None:
                continue
            exe = Path(tmp) / "probe"
            r = subprocess.run([cc, "-fsanitize=address,undefined", str(src), "-o", str(exe),
                                "-lcrypto"], capture_output=True, timeout=120)
            if r.returncode == 0 and subprocess.run([str(exe)], capture_output=True,
                                                    env=_san_env(leaks=False)).returncode == 0:
                return cc
    return None


def _san_env(leaks: bool = True) -> dict[str, str]:
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = f"detect_leaks={int(leaks)}:abort_on_error=0:allocator_may_return_null=1"
    ubsan = "print_stacktrace=1:halt_on_error=1"
    if (FUZZ / "ubsan.supp").exists():
        ubsan += f":suppressions={FUZZ / 'ubsan.supp'}"
    env["UBSAN_OPTIONS"] = ubsan
    return env


@pytest.fixture(scope="module")
def replay_bins(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every fuzz target linked with replay_main.c under ASan/UBSan (built once)."""
    cc = find_cc()
    if cc is None:
        pytest.skip("no C compiler with ASan/UBSan and OpenSSL headers")
    out = tmp_path_factory.mktemp("fuzz_replay")
    # warnings are errors: a harness calling the core with a stale signature must not build
    flags = ["-Wall", "-Wextra", "-Werror", "-fsanitize=address,undefined",
             "-fno-omit-frame-pointer", "-g", "-O1",
             f"-I{CSRC}", f"-I{CSRC / 'include'}", f"-I{FUZZ}"]
    core = sorted(CSRC.glob("fm_*.c"))

    def compile_one(src: Path) -> Path:
        obj = out / (src.stem + ".o")
        r = subprocess.run([cc, *flags, "-c", str(src), "-o", str(obj)], capture_output=True,
                           text=True, timeout=600)
        assert r.returncode == 0, f"{src.name}:\n{r.stderr[-4000:]}"
        return obj

    sources = core + [FUZZ / "replay_main.c"] + [FUZZ / f"{t}.c" for t in TARGETS]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        objs = dict(zip(sources, pool.map(compile_one, sources)))
    bins: dict[str, Path] = {}
    for t in TARGETS:
        exe = out / t
        link = [cc, *flags, *(str(objs[s]) for s in core), str(objs[FUZZ / "replay_main.c"]),
                str(objs[FUZZ / f"{t}.c"]), "-o", str(exe), "-lssl", "-lcrypto", "-ldl",
                "-lpthread"]
        r = subprocess.run(link, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, f"link {t}:\n{r.stderr[-4000:]}"
        bins[t] = exe
    return bins


@pytest.fixture(scope="module")
def corpus_root(tmp_path_factory: pytest.TempPathFactory) -> Path | None:
    """csrc/fuzz/corpus when generated, else a small corpus made now (no limbo: fast)."""
    local = FUZZ / "corpus"
    if local.is_dir() and all((local / t).is_dir() for t in TARGETS):
        return local
    out = tmp_path_factory.mktemp("fuzz_corpus")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    r = subprocess.run([sys.executable, "-W", "ignore", str(FUZZ / "make_corpus.py"), "--no-limbo",
                        "--out", str(out)], capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr[-4000:]
    return out


def _run_replay(exe: Path, files: list[Path]) -> subprocess.CompletedProcess[str]:
    r = subprocess.run([str(exe), *map(str, files)], capture_output=True, text=True,
                       timeout=900, env=_san_env(leaks=True))
    if r.returncode != 0 and "LeakSanitizer has encountered a fatal error" in r.stderr:
        # LSan cannot run here (ptrace restricted): replay without leak detection
        r = subprocess.run([str(exe), *map(str, files)], capture_output=True, text=True,
                           timeout=900, env=_san_env(leaks=False))
    return r


@pytest.mark.parametrize("target", TARGETS)
def test_replay_sanitized(target: str, replay_bins: dict[str, Path],
                          corpus_root: Path | None, tmp_path: Path) -> None:
    files = regression_files(target)
    if corpus_root is not None and (corpus_root / target).is_dir():
        corpus = sorted((corpus_root / target).iterdir())
        files += random.Random(target).sample(corpus, min(CORPUS_SAMPLE, len(corpus)))
    nasty = tmp_path / "nasty"
    nasty.mkdir()
    extra = nasty_snapshots() if target == "fuzz_snapshot" else nasty_der()
    for i, data in enumerate(extra):
        p = nasty / f"n{i:03d}"
        p.write_bytes(data)
        files.append(p)
    r = _run_replay(replay_bins[target], files)
    tail = "\n".join(r.stderr.splitlines()[-60:])
    assert r.returncode == 0, f"{target} crashed under the sanitizers:\n{tail}"
    assert "runtime error" not in r.stderr, tail
    assert f"replayed {len(files)} argument(s)" in r.stderr
