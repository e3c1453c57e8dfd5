"""Merge gcov text reports of the C core and print line coverage per file (tools/coverage.sh).

    python tools/coverage_report.py [--lines PREFIX,...] GCOV_DIR...

Each GCOV_DIR holds ``fm_*.c.gcov`` files from one instrumented program (the extension under
pytest, each C test); a source line counts as executed when any of them executed it. With
``--lines``, the lines no program executed are printed, with their source, for the files whose
name starts with one of the (comma-separated) prefixes.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

_LINE = re.compile(r"\s*([^:]+):\s*(\d+):(.*)")


def merge(dirs: list[Path]) -> dict[str, dict[int, tuple[bool, str]]]:
    """{file name: {line: (executed by some program, source)}} over executable lines."""
    files: dict[str, dict[int, tuple[bool, str]]] = {}
    for d in dirs:
        for report in sorted(d.glob("fm_*.c.gcov")):
            lines = files.setdefault(report.name[: -len(".gcov")], {})
            for text in report.read_text(errors="replace").splitlines():
                m = _LINE.match(text)
                if not m or m.group(1).strip() == "-" or int(m.group(2)) == 0:
                    continue
                count, number, source = m.group(1).strip(), int(m.group(2)), m.group(3)
                hit = count not in ("#####", "=====")
                old = lines.get(number, (False, source))
                lines[number] = (old[0] or hit, source)
    return files


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", default="", metavar="PREFIX,...")
    ap.add_argument("dirs", nargs="+", type=Path)
    args = ap.parse_args()
    files = merge(args.dirs)
    if not files:
        print("no fm_*.c.gcov reports found")
        return 1
    total = hit = 0
    print(f"{'file':<16} {'lines':>6} {'run':>6} {'cover':>7}")
    for name, lines in sorted(files.items()):
        n, h = len(lines), sum(1 for ok, _ in lines.values() if ok)
        total, hit = total + n, hit + h
        print(f"{name:<16} {n:>6} {h:>6} {100.0 * h / max(n, 1):>6.1f}%")
    print(f"{'total':<16} {total:>6} {hit:>6} {100.0 * hit / max(total, 1):>6.1f}%")
    prefixes = tuple(p for p in args.lines.split(",") if p)
    for name, lines in sorted(files.items()):
        if not prefixes or not name.startswith(prefixes):
            continue
        missed = [(k, src) for k, (ok, src) in sorted(lines.items()) if not ok]
        print(f"\n--- {name}: {len(missed)} lines never executed")
        for k, src in missed:
            print(f"{k:6d}  {src.strip()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
