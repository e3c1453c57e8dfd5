"""Smoke test of an installed fastmtls (the wheel jobs' test command; any installed build works).

    python tools/wheel_smoke.py [--data tests/data] [--openssl VERSION] [--static]

Checks, in a process that has nothing but the installed package and its dependencies:

1. ``fastmtls`` and its compiled core import (the import itself checks that the compiled core's
   version is the package's), and report their versions and libcrypto's;
2. ``--openssl VERSION`` (default: $FASTMTLS_OPENSSL_VERSION, which the wheel builds set to the
   release they link): the core is linked against exactly that OpenSSL release;
3. ``--static``: libcrypto is inside the module, not beside it: no OpenSSL symbol is reachable
   through the module (neither exported by it nor from a library it depends on), and the wheel
   ships no libcrypto of its own next to the package;
4. the demo chain of tests/data verifies through the API, through ``python -m fastmtls verify``
   and through the ``fastmtls`` console script (exit status 0, JSON status SUCCESS);
5. the interpreter's own ``ssl`` module still works beside it;
6. on a free-threaded interpreter (3.14t), importing fastmtls leaves the GIL off.

Exits non-zero with a message on the first failure.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import shutil
import ssl
import subprocess
import sys
import sysconfig
from pathlib import Path


def fail(msg: str) -> None:
    sys.exit(f"wheel_smoke: FAILED: {msg}")


def check_cli(cmd: list[str], ca: Path, chain: Path) -> None:
    proc = subprocess.run([*cmd, "verify", "--ca", str(ca), str(chain)], capture_output=True,
                          text=True, check=False)  # fmt: skip
    if proc.returncode != 0:
        fail(f"{' '.join(cmd)} verify exited {proc.returncode}: {proc.stdout}{proc.stderr}")
    out = json.loads(proc.stdout)
    if out.get("status") != "SUCCESS" or out.get("cert_verified") is not True:
        fail(f"{' '.join(cmd)} verify: {out}")
    print(f"  {' '.join(cmd)} verify: {out['status']} ({out.get('cert_subject_dn')})")


def check_static(native_file: Path) -> None:
    # dlsym on the module's own handle searches the module and the libraries it depends on: a
    # module linked to a shared libcrypto, or exporting a static one, resolves these names.
    if sys.platform != "win32":
        handle = ctypes.CDLL(str(native_file))
        leaked = [s for s in ("OpenSSL_version", "EVP_DigestVerify", "EVP_sha256")
                  if hasattr(handle, s)]  # fmt: skip
        if leaked:
            fail(f"{native_file.name} exposes OpenSSL symbols {leaked}: libcrypto is not linked "
                 "statically with hidden symbols")  # fmt: skip
    # Repair tools put the shared libraries they bundle next to the package.
    site = native_file.parent.parent
    bundled = [p for d in ("fastmtls.libs", "fastmtls/.dylibs") for p in site.glob(f"{d}/*")
               if "crypto" in p.name.lower()]  # fmt: skip
    if bundled:
        fail(f"the wheel bundles a shared libcrypto: {bundled}")
    print("  libcrypto: static, symbols hidden")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="tests/data", help="directory with ca.pem and chain.pem")
    ap.add_argument("--openssl", default=os.environ.get("FASTMTLS_OPENSSL_VERSION", ""),
                    help="the OpenSSL release the core must be linked against")  # fmt: skip
    ap.add_argument("--static", action="store_true", help="libcrypto must be linked statically")
    args = ap.parse_args()

    free_threaded = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    import fastmtls
    import fastmtls._native as native
    from fastmtls import TrustStore, Verifier

    # A free-threaded interpreter turns the GIL back on when it imports a module that does not
    # declare it can run without (and only warns): the wheel would work, serialised.
    gil_forced = os.environ.get("PYTHON_GIL") == "1"
    if free_threaded and not gil_forced and getattr(sys, "_is_gil_enabled", lambda: False)():
        fail("importing fastmtls turned the GIL back on (module not marked free-threading safe)")

    native_file = Path(native.__file__)
    crypto = native.ffi.string(native.lib.fm_crypto_version()).decode()
    print(f"fastmtls {fastmtls.__version__} on {sys.implementation.name} "
          f"{sys.version.split()[0]} ({sysconfig.get_platform()})")  # fmt: skip
    print(f"  module: {native_file}")
    print(f"  libcrypto: {crypto}; ssl module: {ssl.OPENSSL_VERSION}")
    if free_threaded:
        print("  free-threaded interpreter: the GIL stays off")
    if args.openssl and not crypto.startswith(f"OpenSSL {args.openssl} "):
        fail(f"linked against {crypto!r}, expected OpenSSL {args.openssl}")
    if args.static:
        check_static(native_file)

    data = Path(args.data)
    ca, chain = data / "ca.pem", data / "chain.pem"
    store = TrustStore()
    store.add_file(str(ca), name="demo")
    result = Verifier(store).verify(chain.read_bytes())
    if result.status != "SUCCESS" or not result.verified:
        fail(f"API verification of the demo chain: {result.status}")
    print(f"  API verify: {result.status}, anchor {result.anchor_name}")
    check_cli([sys.executable, "-m", "fastmtls"], ca, chain)
    script = shutil.which("fastmtls", path=sysconfig.get_path("scripts"))
    if script is None:
        fail(f"no fastmtls console script in {sysconfig.get_path('scripts')}")
    check_cli([script], ca, chain)

    ctx = ssl.create_default_context()
    if ctx.verify_mode != ssl.CERT_REQUIRED:
        fail("ssl module misbehaves beside fastmtls")
    print("wheel_smoke: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
