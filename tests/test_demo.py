"""``fastmtls demo``: the command's table and exit status, and ``--keep`` serving curl."""

from __future__ import annotations

import io
import json
import os
import queue
import re
import shlex
import shutil
import ssl
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from fastmtls import demo

EXPECTED = {
    "good": ("SUCCESS", "yes", "no"),
    "expired": ("FAILED:certificate has expired", "no", "no"),
    "revoked": ("SUCCESS", "yes", "yes"),
    "foreign": ("FAILED:unable to get local issuer certificate", "no", "no"),
    "(no certificate)": ("NONE", "no", "no"),
}


def _env() -> dict[str, str]:
    """The environment for ``python -m fastmtls`` (the tests' fastmtls on its path)."""
    env = dict(os.environ)
    src = str(Path(demo.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    return env


def _rows(table: str) -> dict[str, list[str]]:
    """The demo table's rows by client (cells split on runs of two or more spaces)."""
    rows = {}
    for line in table.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if cells and cells[0] in EXPECTED:
            rows[cells[0]] = cells
    return rows


def test_demo_command() -> None:
    """``python -m fastmtls demo`` exits 0 and prints every client's expected result."""
    proc = subprocess.run([sys.executable, "-m", "fastmtls", "demo"], capture_output=True,
                          text=True, timeout=120, env=_env(), check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    for text in ("SUCCESS", "FAILED:certificate has expired", "revoked",
                 "FAILED:unable to get local issuer certificate", "NONE"):  # fmt: skip
        assert text in out
    rows = _rows(out)
    assert set(rows) == set(EXPECTED), out
    for client, (status, verified, revoked) in EXPECTED.items():
        cells = rows[client]
        assert cells[1:4] == [status, verified, revoked], cells
        assert re.fullmatch(r"\d+\.\d ms", cells[-1]), cells
    assert "CN=good client" in rows["good"][4]
    assert rows["(no certificate)"][4] == "-"
    assert "UNEXPECTED" not in out


def test_demo_in_process() -> None:
    """demo.main() returns 0 and writes the table to the given stream."""
    out = io.StringIO()
    assert demo.main(out=out) == 0
    assert set(_rows(out.getvalue())) == set(EXPECTED)


def test_demo_check_flags_wrong_outcomes() -> None:
    """check() reports a refused good client and an accepted bad one."""
    ok = {"status": "SUCCESS", "cert_verified": True, "cert_revoked": False}
    bad = {"status": "FAILED:certificate has expired", "cert_verified": False}
    assert demo.check([demo.Outcome("good", ok, 1.0), demo.Outcome("expired", bad, 1.0)]) == []
    problems = demo.check([demo.Outcome("good", bad, 1.0), demo.Outcome("foreign", ok, 1.0),
                           demo.Outcome("revoked", {**ok, "cert_revoked": True}, 1.0),
                           demo.Outcome("none", {}, 0.0, error="refused")])  # fmt: skip
    assert [p.split(":")[0] for p in problems] == ["good", "foreign", "none"]


def _read_until(stream: queue.Queue[str], pattern: str, timeout: float = 60) -> tuple[str, str]:
    """Lines read from the demo until one matches ``pattern``: (all text, the match)."""
    seen = []
    while True:
        line = stream.get(timeout=timeout)
        if line == "":
            raise AssertionError("demo ended early:\n" + "".join(seen))
        seen.append(line)
        m = re.search(pattern, line)
        if m:
            return "".join(seen), m.group(0)


def test_demo_keep(tmp_path: Path) -> None:
    """demo --keep DIR writes the PKI, serves curl the result as JSON, stops on SIGTERM. The
    directory has a space: the printed curl lines quote their paths, as a shell needs them."""
    pki_dir = tmp_path / "demo pki"
    proc = subprocess.Popen(
        [sys.executable, "-m", "fastmtls", "demo", "--keep", str(pki_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env(),
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put("")

    threading.Thread(target=pump, daemon=True).start()
    try:
        text, curl_line = _read_until(lines, r"curl --cacert .+ --cert .+good\.pem.* https://\S+")
        _read_until(lines, r"^\s*$")  # the list of curl lines is complete
        assert "SUCCESS" in text and "UNEXPECTED" not in text
        names = ("ca.pem", "intermediate.pem", "server.pem", "server.key", "crl.pem", "good.pem",
                 "good.key", "expired.pem", "revoked.key", "foreign.pem")  # fmt: skip
        for name in names:
            assert (pki_dir / name).is_file(), name
        assert (pki_dir / "good.key").stat().st_mode & 0o077 == 0
        port = int(re.search(r"https://127\.0\.0\.1:(\d+)/", curl_line).group(1))  # type: ignore[union-attr]
        curl = shutil.which("curl")
        if curl is not None:
            args = shlex.split(curl_line)
            assert args[0] == "curl"
            got = subprocess.run([curl, "-sS", *args[1:]], capture_output=True, text=True,
                                 timeout=30, check=False)  # fmt: skip
            assert got.returncode == 0, got.stderr
            answer = json.loads(got.stdout)
        else:  # the same request from Python
            ctx = ssl.create_default_context(cafile=str(pki_dir / "ca.pem"))
            ctx.load_cert_chain(pki_dir / "good.pem", pki_dir / "good.key")
            import http.client

            conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=30)
            conn.request("GET", "/")
            answer = json.loads(conn.getresponse().read())
        assert answer["status"] == "SUCCESS" and answer["cert_verified"] is True
        assert answer["cert_subject_dn"] == "CN=good client,O=fastmtls demo"
        _read_until(lines, r"SUCCESS revoked=False")  # the server logs the request
    finally:
        proc.terminate()
        try:
            rc = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert rc == 0


@pytest.mark.parametrize("argv", [["demo", "--help"]])
def test_demo_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """The demo subcommand documents --keep and --port."""
    from fastmtls.cli import main

    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "--keep DIR" in out and "--port" in out


def test_demo_keep_refuses_a_directory_not_empty(tmp_path: Path) -> None:
    """--keep DIR refuses (exit 2, nothing written) a DIR that is not empty, a symbolic link or a
    file: the demo replaced the user's files there (a key file kept its 0644 mode) and wrote
    through links planted in DIR. (Before, it went on serving: the timeout ends that.)"""
    victim = tmp_path / "victim"
    victim.write_bytes(b"mine\n")
    full = tmp_path / "full"
    full.mkdir()
    (full / "ca.pem").write_bytes(b"my own CA\n")
    (full / "good.key").symlink_to(victim)
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "elsewhere")
    cases = [(full, "not empty"), (link, "symbolic link"), (victim, "not a directory")]
    for keep, message in cases:
        proc = subprocess.run([sys.executable, "-m", "fastmtls", "demo", "--keep", str(keep)],
                              capture_output=True, text=True, timeout=60, env=_env(),
                              check=False)  # fmt: skip
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr
        assert proc.stdout == ""
    assert sorted(p.name for p in full.iterdir()) == ["ca.pem", "good.key"]
    assert (full / "ca.pem").read_bytes() == b"my own CA\n" and victim.read_bytes() == b"mine\n"
    assert not (tmp_path / "elsewhere").exists()


@pytest.mark.parametrize("planted", ["file", "symlink"])
def test_write_pki_never_replaces_a_file(tmp_path: Path, planted: str) -> None:
    """write_pki creates every file anew (0600 keys, whatever existed): a file already there,
    or a symbolic link, is FileExistsError and stays as it was."""
    import dataclasses

    pki = demo.build_pki(tmp_path / "a")
    assert (tmp_path / "a" / "server.key").stat().st_mode & 0o777 == 0o600
    target = tmp_path / "b"
    target.mkdir()
    victim = tmp_path / "victim"
    victim.write_bytes(b"mine\n")
    if planted == "file":
        (target / "good.key").write_bytes(b"")
        (target / "good.key").chmod(0o644)
    else:
        (target / "good.key").symlink_to(victim)
    with pytest.raises(FileExistsError):
        demo.write_pki(dataclasses.replace(pki, directory=target))
    assert (target / "good.key").read_bytes() == (b"" if planted == "file" else b"mine\n")
    assert victim.read_bytes() == b"mine\n"


_STALLED_DEMO = """
import sys, time
from fastmtls import cli, demo

def stall(pki, port):  # the demo waits here for the signal, its PKI written
    print("PKI", pki.directory, flush=True)
    time.sleep(60)
    return []

demo.run_clients = stall
sys.exit(cli.main(["demo"]))
"""


@pytest.mark.parametrize(("sig", "status"), [("SIGTERM", 143), ("SIGINT", 130)])
def test_demo_interrupted_removes_its_pki(sig: str, status: int) -> None:
    """SIGTERM or Ctrl-C during the demo: the temporary PKI (private keys) is removed and the
    command ends quietly with 128 + the signal (SIGTERM left the keys in /tmp; Ctrl-C printed a
    KeyboardInterrupt traceback)."""
    import signal

    proc = subprocess.Popen(
        [sys.executable, "-c", _STALLED_DEMO], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=_env(), preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    assert proc.stdout is not None
    directory = None
    try:
        for line in proc.stdout:
            if line.startswith("PKI "):
                directory = Path(line[4:].strip())
                break
        assert directory is not None and (directory / "good.key").is_file()
        proc.send_signal(getattr(signal, sig))
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == status, err
        assert err == ""
        assert not directory.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)


def test_server_shutdown_is_prompt(tmp_path: Path) -> None:
    """Stopping the demo server takes well under socketserver's 0.5 s polling interval."""
    import time

    pki = demo.build_pki(tmp_path)
    server, thread = demo.start_server(pki, demo.make_verifier(pki))
    time.sleep(0.1)  # serve_forever is waiting in its poll
    t0 = time.perf_counter()
    server.shutdown()
    elapsed = time.perf_counter() - t0
    server.server_close()
    thread.join(5)
    assert elapsed < 0.3


def test_demo_closed_stdout() -> None:
    """`fastmtls demo | head -1`: the reader going away is not an error; the demo still exits
    with its status (0), without a message (it was "Broken pipe" and exit 2)."""
    r, w = os.pipe()
    os.close(r)
    try:
        proc = subprocess.run([sys.executable, "-m", "fastmtls", "demo"], stdout=w,
                              stderr=subprocess.PIPE, text=True, timeout=120, env=_env(),
                              check=False)  # fmt: skip
    finally:
        os.close(w)
    assert (proc.returncode, proc.stderr) == (0, "")
