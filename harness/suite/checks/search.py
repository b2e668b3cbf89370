"""Hypothesis as the checks use it: find one failing example and report it as the check's
own failure. A function under test is stateful (a bad request can break the next one), so a
failure may not replay; the first CheckFailed found is what is reported, never Hypothesis's
"unreliable results" error, and there is no shrinking to send extra requests.

The examples are drawn before any is checked (:func:`drawn`): derandomized and never
shrunk, Hypothesis draws the same values whatever the checks answer, so the values a check
will try are known in advance and their requests can be sent ahead (harness.suite.checks.ahead)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from harness.suite.checks import CheckFailed

T = TypeVar("T")


def drawn(strategy: st.SearchStrategy[T], examples: int) -> list[T]:
    """The up to ``examples`` values Hypothesis draws from ``strategy``, in order; the same
    list on every call (derandomized, no database, no shrinking)."""
    values: list[T] = []
    check = values.append
    failures: list[CheckFailed] = []

    # Derandomized, Hypothesis seeds from this function's source: it is kept as the checks
    # ran it when they drew and checked at once, so they try the same values as then.
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

    if examples > 0:
        search()
    return values


def falsify(
    strategy: st.SearchStrategy[T],
    examples: int,
    check: Callable[[T], Any],
    first: Sequence[T] = (),
) -> None:
    """Run ``check`` on the ``first`` values, then on up to ``examples`` drawn ones; raise
    the first CheckFailed (or any other error) as it is."""
    for value in [*first, *drawn(strategy, examples)]:
        check(value)
