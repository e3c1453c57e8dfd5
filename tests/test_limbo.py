"""The x509-limbo conformance suite (../shared/limbo, or $FASTMTLS_LIMBO); skipped when absent."""

from __future__ import annotations

from typing import Any

import pytest
from limbo_runner import disagreements, load_cases, run_case, skip_reason, soft_ids

CASES = load_cases()
pytestmark = pytest.mark.skipif(not CASES, reason="x509-limbo suite not available")
SOFT = soft_ids()
KNOWN = disagreements()


def _expect(case: dict[str, Any]) -> bool:
    return bool(case["expected_result"] == "SUCCESS")


@pytest.mark.parametrize(
    "case", [c for c in CASES if not c["id"].startswith("bettertls::")], ids=lambda c: c["id"]
)
def test_limbo_case(case: dict[str, Any]) -> None:
    """Each non-BetterTLS case gives the expected result, unless listed as a disagreement."""
    why = skip_reason(case)
    if why:
        pytest.skip(why)
    result = run_case(case)
    if case["id"] in KNOWN:
        assert result.verified != _expect(case), f"stale disagreement entry: {case['id']}"
        return
    assert result.verified == _expect(case), f"{case['id']}: got {result.status}"
    if not _expect(case):
        assert result.status.startswith("FAILED:")


def test_limbo_bettertls() -> None:
    """Every BetterTLS case agrees with its expectation (soft-only expectations may go either
    way), unless listed as a disagreement; a listed case that agrees is a stale entry."""
    bad = []
    n = 0
    for case in CASES:
        if not case["id"].startswith("bettertls::") or skip_reason(case):
            continue
        n += 1
        r = run_case(case)
        if case["id"] in KNOWN:
            if r.verified == _expect(case):
                bad.append(f"stale disagreement entry: {case['id']}")
        elif r.verified != _expect(case) and case["id"] not in SOFT:
            bad.append(f"{case['id']}: expected {case['expected_result']}, got {r.status}")
    assert n > 0
    assert not bad, "\n".join(bad[:50])


def test_disagreements_file_names_real_cases() -> None:
    """Every listed disagreement is a case in the suite."""
    ids = {c["id"] for c in CASES}
    assert set(KNOWN) <= ids
