"""Markdown report of a pytest-benchmark JSON file: medians and ratios to fastmtls, per group.

    python bench/report.py /tmp/bench.json            # summary, targets, then one table per group
    python bench/report.py /tmp/bench.json --summary  # summary and targets only

Ratios are ``anchor median / fastmtls median`` (``142x`` = fastmtls is 142 times faster), the form
of DESIGN.md's performance table; the reference row (one raw signature check) is shown the other
way round, ``fastmtls / reference``, because its target is a ceiling (≤ 1.2x). Targets are checked
against the DESIGN.md table and listed as met or missed; nothing here fails a build.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

OPS = ("warm", "cold-leaf", "cold-chain", "threads")
KEY_ORDER = ("rsa2048", "p256", "ed25519")
IMPL_ORDER = ("fastmtls", "cryptography", "openssl", "sigcheck")
IMPL_LABELS = {
    "fastmtls": "fastmtls",
    "cryptography": "cryptography ClientVerifier (incl. DER parse)",
    "openssl": "OpenSSL X509_verify_cert via pyOpenSSL (incl. DER load)",
    "sigcheck": "one OpenSSL signature check (cryptography `pub.verify`)",
}

# DESIGN.md "Performance targets": (op, anchor) -> (min anchor/fastmtls ratio, description)
RATIO_TARGETS = {
    ("warm", "cryptography"): 100.0,
    ("cold-leaf", "cryptography"): 3.0,
    ("cold-chain", "openssl"): 1.5,
}
TIMES = "\N{MULTIPLICATION SIGN}"
WARM_ABS_TARGET = 1e-6  # ≤ 1 µs per call from Python
SIGCHECK_MAX_RATIO = 1.2  # cold leaf ≤ 1.2x one OpenSSL signature check


@dataclass
class Case:
    group: str
    name: str
    op: str
    key: str
    depth: int
    impl: str
    role: str
    median: float  # seconds per call (per round for threads)
    iqr: float
    rounds: int
    extra: dict[str, Any]


def fmt_time(s: float) -> str:
    if s < 1e-6:
        return f"{s * 1e9:.0f} ns"
    if s < 1e-3:
        return f"{s * 1e6:.2f} µs" if s < 1e-5 else f"{s * 1e6:.1f} µs"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def fmt_ratio(r: float) -> str:
    digits = 0 if r >= 20 else 1 if r >= 2 else 2
    return f"{r:.{digits}f}{TIMES}"


def _guess(name: str) -> dict[str, Any]:
    """Fallback for benchmarks without extra_info: parse ``test_x[key-dN-impl]``."""
    m = re.match(r"test_(\w+)\[(\w+)-d(\d+)-(\w+)\]", name)
    if not m:
        return {"op": "other", "key": "", "depth": 0, "impl": name, "role": "subject"}
    op, key, depth, impl = m.groups()
    role = "subject" if impl == "fastmtls" else "reference" if impl == "sigcheck" else "anchor"
    return {"op": op.replace("_", "-"), "key": key, "depth": int(depth), "impl": impl,
            "role": role}  # fmt: skip


def load(path: str) -> list[Case]:
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    cases = []
    for b in data.get("benchmarks", []):
        info = {**_guess(b["name"]), **(b.get("extra_info") or {})}
        st = b["stats"]
        cases.append(Case(
            group=b.get("group") or info["op"], name=b["name"], op=info["op"], key=info["key"],
            depth=int(info["depth"]), impl=info["impl"], role=info["role"],
            median=float(st["median"]), iqr=float(st.get("iqr", 0.0)),
            rounds=int(st.get("rounds", 0)), extra=info))  # fmt: skip
    return cases


def _order(c: Case) -> tuple[Any, ...]:
    op = OPS.index(c.op) if c.op in OPS else len(OPS)
    key = KEY_ORDER.index(c.key) if c.key in KEY_ORDER else len(KEY_ORDER)
    impl = IMPL_ORDER.index(c.impl) if c.impl in IMPL_ORDER else len(IMPL_ORDER)
    return (op, key, c.depth, c.group, impl, c.extra.get("threads", 0), c.name)


def groups(cases: Iterable[Case]) -> dict[str, list[Case]]:
    out: dict[str, list[Case]] = defaultdict(list)
    for c in sorted(cases, key=_order):
        out[c.group].append(c)
    return dict(out)


def _subject(cs: list[Case]) -> Case | None:
    return next((c for c in cs if c.role == "subject"), None)


def _cpu_cells(c: Case) -> str:
    """``CPU/wall | CPU µs per verification`` of a threads case (blank when not recorded)."""
    ratio, per = c.extra.get("cpu_per_wall"), c.extra.get("cpu_us_per_verify")
    return (f"{ratio:.2f}" if ratio else "") + " | " + (f"{per:.1f} µs" if per else "")


def group_table(name: str, cs: list[Case]) -> list[str]:
    subj = _subject(cs)
    lines = [f"### {name}", ""]
    if cs and cs[0].op == "threads":
        lines += [
            "| case | median per round | verifications/s | speedup vs 1 thread | "
            "CPU / wall | CPU per verification |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for c in cs:
            n = int(c.extra.get("ops_per_round", 1))
            rate = n / c.median if c.median else 0.0
            speed = fmt_ratio(subj.median / c.median) if subj and c.median else ""
            lines.append(f"| {c.impl} | {fmt_time(c.median)} | {rate:,.0f} | {speed} | "
                         f"{_cpu_cells(c)} |")  # fmt: skip
        return [*lines, ""]
    lines += ["| case | median | IQR | ratio |", "|---|---:|---:|---:|"]
    for c in cs:
        label = IMPL_LABELS.get(c.impl, c.impl)
        ratio = ""
        if subj is not None and c is not subj and c.median and subj.median:
            if c.role == "reference":
                ratio = f"fastmtls / {c.impl} = {fmt_ratio(subj.median / c.median)}"
            else:
                ratio = f"{c.impl} / fastmtls = {fmt_ratio(c.median / subj.median)}"
        lines.append(f"| {label} | {fmt_time(c.median)} | {fmt_time(c.iqr)} | {ratio} |")
    return [*lines, ""]


def _ratio_cell(cs: list[Case], subj: Case, impl: str, *, inverse: bool = False) -> str:
    """``impl / fastmtls`` (or ``fastmtls / impl`` when ``inverse``), "—" when impl is absent."""
    c = next((c for c in cs if c.impl == impl), None)
    if c is None or not c.median or not subj.median:
        return "—"
    return fmt_ratio(subj.median / c.median if inverse else c.median / subj.median)


def summary_table(gs: dict[str, list[Case]]) -> list[str]:
    """One row per (operation, key, depth): fastmtls median and every ratio."""
    lines = ["| operation | key | depth | fastmtls | cryptography / fastmtls | "
             "OpenSSL / fastmtls | fastmtls / one sig check |",
             "|---|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for cs in gs.values():
        subj = _subject(cs)
        if subj is None or subj.op == "threads":
            continue
        cells = [_ratio_cell(cs, subj, "cryptography"), _ratio_cell(cs, subj, "openssl"),
                 _ratio_cell(cs, subj, "sigcheck", inverse=True)]  # fmt: skip
        lines.append(f"| {subj.op} | {subj.key} | {subj.depth} | {fmt_time(subj.median)} | "
                     + " | ".join(cells) + " |")  # fmt: skip
    threads = [cs for cs in gs.values() if cs and cs[0].op == "threads"]
    if threads:
        lines += ["", "| threads (cold leaf, depth 1) | key | verifications/s, 1 thread | "
                  "N threads | speedup | CPU / wall, 1 → N | CPU per verification, 1 → N |",
                  "|---|---|---:|---:|---:|---:|---:|"]  # fmt: skip
        for cs in threads:
            one = _subject(cs)
            for c in cs:
                if c is one or one is None:
                    continue
                r1 = int(one.extra.get("ops_per_round", 1)) / one.median
                rn = int(c.extra.get("ops_per_round", 1)) / c.median
                a, b = _cpu_cells(one).split(" | "), _cpu_cells(c).split(" | ")
                lines.append(
                    f"| {c.impl} | {c.key} | {r1:,.0f} | {rn:,.0f} | "
                    f"{fmt_ratio(rn / r1)} | {a[0]} → {b[0]} | {a[1]} → {b[1]} |"
                )
    return [*lines, ""]


def target_check(gs: dict[str, list[Case]]) -> list[str]:
    """DESIGN.md targets, met or missed, per group."""
    missed, met = [], 0
    for name, cs in gs.items():
        subj = _subject(cs)
        if subj is None or subj.op == "threads":
            continue
        by = {c.impl: c for c in cs}
        checks: list[tuple[bool, str]] = []
        for (op, impl), want in RATIO_TARGETS.items():
            if subj.op == op and impl in by:
                r = by[impl].median / subj.median
                checks.append(
                    (r >= want, f"{impl} / fastmtls = {fmt_ratio(r)} (target ≥ {want:g}{TIMES})")
                )
        if subj.op == "warm":
            checks.append((subj.median <= WARM_ABS_TARGET,
                           f"{fmt_time(subj.median)} per call (target ≤ 1 µs)"))  # fmt: skip
        if subj.op == "cold-leaf" and "sigcheck" in by:
            r = subj.median / by["sigcheck"].median
            checks.append(
                (
                    r <= SIGCHECK_MAX_RATIO,
                    f"fastmtls / one signature check = {fmt_ratio(r)} (target ≤ 1.2{TIMES})",
                )
            )
        for ok, text in checks:
            if ok:
                met += 1
            else:
                missed.append(f"- **{name}**: {text}")
    head = [f"Targets met: {met}; missed: {len(missed)}.", ""]
    return [*head, *missed, ""] if missed else head


def render(cases: list[Case], *, summary_only: bool = False, machine: str = "") -> str:
    gs = groups(cases)
    out = ["# fastmtls benchmarks", ""]
    if machine:
        out += [machine, ""]
    out += ["## Summary", "", *summary_table(gs), "## DESIGN.md targets", "", *target_check(gs)]
    if not summary_only:
        out += ["## Groups", ""]
        for name, cs in gs.items():
            out += group_table(name, cs)
    return "\n".join(out).rstrip() + "\n"


def _machine(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    mi = data.get("machine_info") or {}
    cpu = (mi.get("cpu") or {}).get("brand_raw", "")
    parts = [f"Python {mi.get('python_version', '?')}", cpu, data.get("datetime", "")]
    ossl = mi.get("openssl") or {}
    if ossl:
        parts.append("OpenSSL: " + ", ".join(f"{k} {v}" for k, v in ossl.items()))
    return " · ".join(p for p in parts if p)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json", help="pytest-benchmark JSON (--benchmark-json=FILE)")
    ap.add_argument("--summary", action="store_true", help="summary and targets only")
    args = ap.parse_args(argv)
    cases = load(args.json)
    if not cases:
        print(f"{args.json}: no benchmarks (was the run made with --benchmark-enable?)",
              file=sys.stderr)  # fmt: skip
        return 1
    sys.stdout.write(render(cases, summary_only=args.summary, machine=_machine(args.json)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
