"""Check that fastmtls's version is the same everywhere it is written down.

    python tools/check_version.py                 # the three sources agree
    python tools/check_version.py --tag v0.1.0    # ... and match the release tag
    python tools/check_version.py --changelog     # ... and CHANGELOG.md has a section for it

The version lives in three places that must agree, or the package fails at import time (the
compiled core refuses a Python package of another version) or publishes under the wrong name:

- ``pyproject.toml``: ``[project] version`` (the distribution's version);
- ``csrc/include/fastmtls.h``: ``#define FM_VERSION "..."`` (compiled into ``fastmtls._native``);
- ``src/fastmtls/_ffi.py``: ``PACKAGE_VERSION = "..."`` (checked against FM_VERSION on import).

Exits 0 when they agree (printing the version), 1 with the differences otherwise. Needs only the
standard library (Python >= 3.9) and runs from any directory.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = {
    "pyproject.toml [project] version": (ROOT / "pyproject.toml", None),
    "csrc/include/fastmtls.h FM_VERSION": (
        ROOT / "csrc" / "include" / "fastmtls.h",
        re.compile(r'^\s*#\s*define\s+FM_VERSION\s+"([^"]*)"', re.M),
    ),
    "src/fastmtls/_ffi.py PACKAGE_VERSION": (
        ROOT / "src" / "fastmtls" / "_ffi.py",
        re.compile(r'^PACKAGE_VERSION\s*(?::\s*\w+\s*)?=\s*["\']([^"\']*)["\']', re.M),
    ),
}
# PEP 440 public versions, as used here: 1.2.3, 1.2.3rc1, 1.2.3.post1, 1.2.3.dev0
VERSION_RE = re.compile(r"^\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?$")


def pyproject_version(path: Path) -> str | None:
    text = path.read_text(encoding="utf-8")
    try:
        import tomllib  # Python >= 3.11
    except ImportError:  # pragma: no cover - Python 3.9/3.10: the [project] table by hand
        m = re.search(r"^\[project\]\s*$(.*?)(?=^\[)", text + "\n[", re.M | re.S)
        v = m and re.search(r'^version\s*=\s*["\']([^"\']*)["\']', m.group(1), re.M)
        return v.group(1) if v else None
    version = tomllib.loads(text).get("project", {}).get("version")
    return version if isinstance(version, str) else None


def read_versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name, (path, pattern) in SOURCES.items():
        if not path.is_file():
            found[name] = None
        elif pattern is None:
            found[name] = pyproject_version(path)
        else:
            matches = pattern.findall(path.read_text(encoding="utf-8"))
            found[name] = matches[0] if len(matches) == 1 else None
    return found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tag", help="release tag that must name the version (v1.2.3 or 1.2.3)")
    ap.add_argument("--changelog", action="store_true",
                    help="CHANGELOG.md must have a '## [VERSION]' section")  # fmt: skip
    args = ap.parse_args(argv)

    errors: list[str] = []
    found = read_versions()
    for name, value in found.items():
        if value is None:
            errors.append(f"{name}: not found (exactly one definition expected)")
        elif not VERSION_RE.match(value):
            errors.append(f"{name}: {value!r} is not a PEP 440 release version")
    values = {v for v in found.values() if v is not None}
    if len(values) > 1:
        errors.append("versions differ: " + "; ".join(f"{n} = {v}" for n, v in found.items()))
    version = next(iter(values)) if len(values) == 1 else None

    if args.tag is not None and version is not None:
        tag = args.tag.rsplit("/", 1)[-1]  # refs/tags/v1.2.3 -> v1.2.3
        if tag.removeprefix("v") != version:
            errors.append(f"tag {args.tag} does not name version {version}")
    if args.changelog and version is not None:
        changelog = ROOT / "CHANGELOG.md"
        text = changelog.read_text(encoding="utf-8") if changelog.is_file() else ""
        if not re.search(rf"^## \[{re.escape(version)}\]", text, re.M):
            errors.append(f"CHANGELOG.md has no '## [{version}]' section")

    if errors:
        for e in errors:
            print(f"check_version: {e}", file=sys.stderr)
        return 1
    print(f"fastmtls version {version}: " + ", ".join(found))
    return 0


if __name__ == "__main__":
    sys.exit(main())
