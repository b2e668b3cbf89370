"""The checks' Hypothesis search reports the first failure it met, even one that does not
replay (a function under test has state), and no other error."""

from __future__ import annotations

import pytest
from hypothesis import strategies as st

from harness.suite.checks import CheckFailed
from harness.suite.checks.search import falsify


def test_a_failure_that_does_not_replay_is_still_the_checks_failure():
    calls = []

    def stateful(value: int) -> None:
        calls.append(value)
        if len(calls) == 3:  # only the third request ever fails
            raise CheckFailed(f"broke on call 3 with {value}")

    with pytest.raises(CheckFailed, match="broke on call 3"):
        falsify(st.integers(), 20, stateful)


def test_no_failure_runs_every_example():
    seen = []
    falsify(st.integers(0, 10**6), 7, seen.append)
    assert len(seen) == 7


def test_other_errors_are_not_hidden():
    def crash(value: int) -> None:
        raise KeyError("a bug in the check itself")

    with pytest.raises(KeyError):
        falsify(st.integers(), 5, crash)


def test_first_values_are_checked_before_any_drawn_one():
    seen: list[int] = []
    falsify(st.integers(100, 200), 3, seen.append, first=(1, 2))
    assert seen[:2] == [1, 2] and len(seen) == 5
