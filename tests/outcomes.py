"""Outcomes of an inner pytest run by check name, read from its ``-v`` lines, so that tests
say which check passed or skipped instead of adding up totals."""

from __future__ import annotations

import re
from collections import defaultdict

import pytest

LINE = re.compile(r"^(?:\S+?::)?(\S+?)(?:\[([^\]]*)\])? (PASSED|FAILED|SKIPPED|ERROR)\b")


def by_check(result: pytest.RunResult) -> dict[str, dict[str, str]]:
    """{check: {fixture or "": outcome}} for every item a ``-v`` run reported."""
    seen: dict[str, dict[str, str]] = defaultdict(dict)
    for line in result.outlines:
        m = LINE.match(line)
        if m and "::" in line.split()[0]:
            seen[m.group(1)][m.group(2) or ""] = m.group(3).lower()
    return dict(seen)


def checks_with(outcomes: dict[str, dict[str, str]], outcome: str) -> set[str]:
    """``check[fixture]`` (or ``check``) of every item with ``outcome``."""
    return {
        f"{check}[{fx}]" if fx else check
        for check, per in outcomes.items()
        for fx, seen in per.items()
        if seen == outcome
    }
