"""Hypothesis as the checks use it: find one failing example and report it as the check's
own failure. A function under test is stateful (a bad request can break the next one), so a
failure may not replay; the first CheckFailed found is what is reported, never Hypothesis's
"unreliable results" error, and there is no shrinking to send extra requests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from harness.checks import CheckFailed

T = TypeVar("T")


def falsify(
    strategy: st.SearchStrategy[T],
    examples: int,
    check: Callable[[T], Any],
    first: Sequence[T] = (),
) -> None:
    """Run ``check`` on the ``first`` values, then on up to ``examples`` drawn ones; raise
    the first CheckFailed."""
    for value in first:
        check(value)
    failures: list[CheckFailed] = []

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def search(value: T) -> None:
        try:
            check(value)
        except CheckFailed as exc:
            failures.append(exc)
            raise

    try:
        search()
    except Exception:
        if failures:
            raise failures[0] from None
        raise
