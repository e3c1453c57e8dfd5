"""Compare two pytest-benchmark runs (base and head of a pull request) and gate on the hot path.

    python tools/bench_compare.py BASE.json HEAD.json [--threshold 15]
        [--base MORE_BASE.json]... [--head MORE_HEAD.json]... [--summary FILE] [--hot OPS]

Prints a Markdown report: per benchmark group, every case (the fastmtls rows and the anchors:
cryptography, OpenSSL, the raw signature check, ...) with its base and head medians and the ratio
head / base. Several runs of one side (``--base``/``--head``, e.g. base and head run alternately
twice on the same machine) are merged by taking each benchmark's lowest median, the estimate
least disturbed by other load on the machine.

Exit status 1 when a hot-path benchmark regressed by more than ``--threshold`` percent (head
median > base median x (1 + threshold/100)); 0 otherwise; 2 when an input has no benchmarks (a
run without ``--benchmark-enable``). Hot path: the fastmtls rows (``impl`` fastmtls or
fastmtls-ffi) of the operations in ``--hot`` (default: warm, cold-leaf, lookup-hit, lookup-miss:
the result-cache hit, a new leaf under a known intermediate, and a revocation lookup). Other rows,
anchors included, are reported but never fail the run: the anchors do not depend on fastmtls, so
their ratio shows how much the machine itself drifted between the two runs ("anchor drift", the
geometric mean of the anchors' ratios in the group).

``--summary FILE`` appends the report to FILE too (``$GITHUB_STEP_SUMMARY`` in GitHub Actions).
``--rerun-file FILE`` writes the pytest node ids of the regressed benchmarks, one per line, so
that a workflow can time just those again (base and head alternately) and compare once more with
every run merged: a regression that was load on the machine does not survive the second look.
Benchmarks are identified by name (``test_warm[p256-d1-fastmtls]``) and described by the
``extra_info`` that bench/ records (op, key, depth, impl, role, entries).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from dataclasses import dataclass, field
from typing import Any

DEFAULT_HOT = ("warm", "cold-leaf", "lookup-hit", "lookup-miss")
HOT_IMPLS = ("fastmtls", "fastmtls-ffi")
TIMES = "\N{MULTIPLICATION SIGN}"


@dataclass
class Bench:
    name: str
    group: str
    op: str
    impl: str
    role: str
    median: float
    runs: int = 1
    extra: dict[str, Any] = field(default_factory=dict)


def _guess(name: str) -> dict[str, str]:
    """op/impl from ``test_<op>[<key>-d<depth>-<impl>]`` when a benchmark has no extra_info."""
    m = re.match(r"test_(\w+?)\[(?:.*-)?([\w+.-]+)\]$", name)
    if not m:
        return {"op": "other", "impl": name, "role": "subject"}
    op, impl = m.group(1).replace("_", "-"), m.group(2)
    return {"op": op, "impl": impl, "role": "subject" if impl.startswith("fastmtls") else "anchor"}


def load(path: str) -> dict[str, Bench]:
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    out: dict[str, Bench] = {}
    for b in data.get("benchmarks") or []:
        info = {**_guess(b["name"]), **(b.get("extra_info") or {})}
        op = str(info.get("op", "other"))
        if op == "lookup":  # bench/test_revocation.py names lookups by kind
            op = f"lookup-{info.get('kind', 'hit')}"
        key = b.get("fullname") or b["name"]
        out[key] = Bench(name=b["name"], group=b.get("group") or op, op=op,
                         impl=str(info.get("impl", b["name"])),
                         role=str(info.get("role", "subject")),
                         median=float(b["stats"]["median"]), extra=info)  # fmt: skip
    return out


def merge(runs: list[dict[str, Bench]]) -> dict[str, Bench]:
    """Each benchmark's lowest median over several runs of the same code."""
    merged: dict[str, Bench] = {}
    for run in runs:
        for key, b in run.items():
            if key not in merged:
                merged[key] = Bench(**{**b.__dict__, "runs": 1})
            else:
                m = merged[key]
                m.runs += 1
                m.median = min(m.median, b.median)
    return merged


def is_hot(b: Bench, hot_ops: tuple[str, ...]) -> bool:
    return b.op in hot_ops and b.impl in HOT_IMPLS


def fmt_time(s: float | None) -> str:
    if s is None:
        return "—"
    if s < 1e-6:
        return f"{s * 1e9:.0f} ns"
    if s < 1e-3:
        return f"{s * 1e6:.2f} µs"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def compare(base: dict[str, Bench], head: dict[str, Bench], threshold: float,
            hot_ops: tuple[str, ...]) -> tuple[list[str], dict[str, str]]:  # fmt: skip
    """(Markdown lines, regressions: benchmark key -> description). A regression is a hot row
    slower than the threshold."""
    limit = 1.0 + threshold / 100.0
    keys = sorted(set(base) | set(head), key=lambda k: (
        (head.get(k) or base[k]).group, not is_hot(head.get(k) or base[k], hot_ops),
        (head.get(k) or base[k]).role != "subject", k))  # fmt: skip
    groups: dict[str, list[str]] = {}
    for k in keys:
        groups.setdefault((head.get(k) or base[k]).group, []).append(k)

    regressions: dict[str, str] = {}
    lines = ["| group | case | base median | head median | head / base | |",
             "|---|---|---:|---:|---:|---|"]  # fmt: skip
    drift_notes: list[str] = []
    for group, gkeys in groups.items():
        anchor_ratios = []
        for k in gkeys:
            b, h = base.get(k), head.get(k)
            ref = h or b
            assert ref is not None
            hot = is_hot(ref, hot_ops)
            ratio = h.median / b.median if b and h and b.median > 0 else None
            if ratio is not None and ref.role != "subject":
                anchor_ratios.append(ratio)
            if b is None:
                mark = "new"
            elif h is None:
                mark = "removed"
            elif ratio is not None and hot and ratio > limit:
                mark = f"**REGRESSION** (> +{threshold:g}%)"
                regressions[k] = (f"{group} / {ref.impl}: {fmt_time(b.median)} -> "
                                  f"{fmt_time(h.median)} ({(ratio - 1) * 100:+.1f}%)")  # fmt: skip
            elif ratio is not None and hot and ratio < 1 / limit:
                mark = "faster"
            else:
                mark = "gated" if hot else ""
            r = f"{ratio:.3f}{TIMES} ({(ratio - 1) * 100:+.1f}%)" if ratio is not None else "—"
            case = f"**{ref.impl}**" if hot else ref.impl
            lines.append(f"| {group} | {case} | {fmt_time(b.median if b else None)} | "
                         f"{fmt_time(h.median if h else None)} | {r} | {mark} |")  # fmt: skip
        if anchor_ratios:
            drift = math.exp(sum(math.log(r) for r in anchor_ratios) / len(anchor_ratios))
            drift_notes.append(f"{group}: {(drift - 1) * 100:+.1f}%")
    out = [*lines, ""]
    if drift_notes:
        out += ["Anchor drift (machine noise between the runs; anchors do not use fastmtls): "
                + "; ".join(drift_notes) + ".", ""]  # fmt: skip
    return out, regressions


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("base_json", metavar="BASE.json")
    ap.add_argument("head_json", metavar="HEAD.json")
    ap.add_argument("--threshold", type=float, default=15.0,
                    help="allowed slowdown of a hot-path benchmark, in percent (default 15)")
    ap.add_argument("--base", action="append", default=[], metavar="JSON",
                    help="another run of the base (repeatable; lowest median wins)")
    ap.add_argument("--head", action="append", default=[], metavar="JSON",
                    help="another run of the head (repeatable; lowest median wins)")
    ap.add_argument("--hot", default=",".join(DEFAULT_HOT),
                    help=f"comma-separated gated operations (default {','.join(DEFAULT_HOT)})")
    ap.add_argument("--summary", metavar="FILE", help="also append the report to FILE")
    ap.add_argument("--rerun-file", metavar="FILE",
                    help="write the pytest node ids of the regressed benchmarks to FILE")
    ap.add_argument("--title", default="Benchmarks: base vs head")
    args = ap.parse_args(argv)
    if args.threshold < 0:
        ap.error("--threshold must be >= 0")
    hot_ops = tuple(s.strip() for s in args.hot.split(",") if s.strip())

    runs: dict[str, list[dict[str, Bench]]] = {"base": [], "head": []}
    for side, paths in (("base", [args.base_json, *args.base]),
                        ("head", [args.head_json, *args.head])):  # fmt: skip
        for p in paths:
            run = load(p)
            if not run:
                print(f"bench_compare: {p} has no benchmarks (run pytest with "
                      "--benchmark-enable --benchmark-json=FILE)", file=sys.stderr)  # fmt: skip
                return 2
            runs[side].append(run)
    base, head = merge(runs["base"]), merge(runs["head"])

    table, regressions = compare(base, head, args.threshold, hot_ops)
    gated = [k for k in set(base) & set(head) if is_hot(head[k], hot_ops)]
    head_line = (f"Median per call; {len(runs['base'])} base and {len(runs['head'])} head run(s), "
                 f"lowest median of each. Gate: the **bold** fastmtls rows of "
                 f"{', '.join(hot_ops)} ({len(gated)} compared) fail the check when more than "
                 f"{args.threshold:g}% slower.")  # fmt: skip
    if regressions:
        verdict = [f"**{len(regressions)} hot-path regression(s) above {args.threshold:g}%:**",
                   "", *[f"- {r}" for r in regressions.values()], ""]  # fmt: skip
    elif not gated:
        verdict = ["No hot-path benchmark present in both runs: nothing gated.", ""]
    else:
        verdict = [f"No hot-path regression above {args.threshold:g}%.", ""]
    report = "\n".join([f"## {args.title}", "", head_line, "", *verdict, *table])
    sys.stdout.write(report)
    if args.summary:
        with open(args.summary, "a", encoding="utf-8") as f:
            f.write(report + "\n")
    if args.rerun_file:
        with open(args.rerun_file, "w", encoding="utf-8") as f:
            f.writelines(f"{k}\n" for k in regressions)
    return 1 if regressions else 0


if __name__ == "__main__":
    sys.exit(main())
