"""Threshold honoured (no confidence below it) and monotone (a higher threshold keeps a
subset), searched with Hypothesis over thresholds. CVAT leaves both to the function.

CVAT never reads a shape's ``confidence`` (cvat/apps/lambda_manager/views.py at 2.73.0:
``_parse_anno`` builds the shape from label, type, points, attributes and the rest, no
confidence or score), so a function may leave it out. Without one, whether the threshold is
honoured cannot be seen: ``threshold`` is not applicable then, and ``threshold_monotone``
still judges what shows (a higher threshold gives a subset)."""

from __future__ import annotations

import functools
import warnings
from collections import Counter

from hypothesis import strategies as st

from harness.cvat.client import Invocation
from harness.cvat.shapes import Shape
from harness.suite.checks import CheckFailed, CheckWarning, NotApplicable
from harness.suite.checks.search import drawn
from harness.suite.checks.target import Target
from harness.suite.config import Fixture
from harness.suite.scenario import frame_size
from harness.suite.similarity import SAME_SHAPE, match, where

THRESHOLDS = st.floats(min_value=0.05, max_value=0.95).map(lambda t: round(t, 2))
# Tried before any drawn ones, so the ends and the middle of the range are always covered.
FIXED = (0.05, 0.25, 0.5, 0.75, 0.95)
FIXED_PAIRS = ((0.05, 0.95), (0.25, 0.5), (0.5, 0.75), (0.75, 0.95), (0.05, 0.5))
PAIRS = st.tuples(THRESHOLDS, THRESHOLDS)


@functools.cache
def respected_thresholds(examples: int) -> tuple[float, ...]:
    """The thresholds check_respected tries, in order."""
    return (*FIXED, *drawn(THRESHOLDS, examples))


@functools.cache
def monotone_pairs(examples: int) -> tuple[tuple[float, float], ...]:
    """The threshold pairs check_monotone tries, in order."""
    return (*FIXED_PAIRS, *drawn(PAIRS, examples))


def thresholds_read(check: str, examples: int) -> list[float]:
    """The thresholds a passing ``threshold`` or ``threshold_monotone`` check reads, in
    order (for sending them ahead)."""
    if check == "threshold":
        return list(respected_thresholds(examples))
    pairs = map(sorted, monotone_pairs(examples))
    return [t for low, high in pairs if low != high for t in (low, high)]


def _answered(invocation: Invocation, threshold: float) -> list[Shape]:
    if invocation.error or invocation.status != 200:
        raise CheckFailed(
            f"no answer at threshold {threshold:g} (see the answered check)\n"
            + invocation.describe()
        )
    return invocation.shapes


def _nothing_to_check(target: Target, fixture: Fixture) -> None:
    """A detector that found nothing at any threshold tried honours every threshold
    vacuously: say so (a skip) rather than pass."""
    tried = [inv for (name, _), inv in target.at_threshold_cache() if name == fixture.name]
    if not any(inv.shapes for inv in tried):
        raise NotApplicable(
            f"no shapes at any of the {len(tried)} thresholds tried on {fixture.name}:"
            " nothing to check"
        )


def _ends_empty(target: Target, fixture: Fixture) -> None:
    reason = target.nothing_at_ends(fixture)
    if reason is not None:
        raise NotApplicable(reason)


def check_respected(target: Target, fixture: Fixture, examples: int) -> None:
    scored: list[str] = []  # shapes with a confidence, and without one ("[i] label type")
    unscored: list[str] = []

    def respected(threshold: float) -> None:
        invocation = target.at_threshold(fixture, threshold)
        for i, shape in enumerate(_answered(invocation, threshold)):
            if shape.confidence is None:
                unscored.append(f"[{i}] {shape.label} {shape.type}")
                continue
            scored.append(f"[{i}]")
            if shape.confidence < threshold:
                raise CheckFailed(
                    f"threshold ignored: at threshold {threshold:g} the function returned"
                    f" [{i}] {shape.label} with confidence {shape.confidence:g}\n"
                    + invocation.describe()
                )

    def run() -> None:
        scored.clear()
        unscored.clear()
        for threshold in respected_thresholds(examples):
            respected(threshold)

    target.judged_alone(lambda: _ends_empty(target, fixture))
    target.judged_alone(run)
    _nothing_to_check(target, fixture)
    _confidence_left_out(fixture, scored, unscored)


def _confidence_left_out(fixture: Fixture, scored: list[str], unscored: list[str]) -> None:
    """No shape with a confidence: nothing shows whether the threshold is honoured (a skip).
    Some with and some without: a warning naming those without (CVAT takes both)."""
    if not unscored:
        return
    if not scored:
        raise NotApplicable(
            f"no shape carries a confidence on {fixture.name} ({len(unscored)} shapes at the"
            " thresholds tried): CVAT never reads one, and without it whether the threshold is"
            " honoured cannot be seen (threshold_monotone still checks that a higher threshold"
            " gives a subset)"
        )
    named = Counter(unscored)
    shown = ", ".join(f"{name} ({times}x)" for name, times in list(named.items())[:3])
    if len(named) > 3:
        shown += f" and {len(named) - 3} more"
    warnings.warn(
        CheckWarning(
            f"{fixture.name}: {len(unscored)} of {len(scored) + len(unscored)} shapes at the"
            f" thresholds tried carry no confidence: {shown}; the threshold check cannot see"
            " whether those honour the threshold"
        ),
        stacklevel=1,
    )


def check_monotone(target: Target, fixture: Fixture, examples: int) -> None:
    size = frame_size(fixture)

    def monotone(pair: tuple[float, float]) -> None:
        low, high = sorted(pair)
        if low == high:
            return
        at_low = _answered(target.at_threshold(fixture, low), low)
        at_high_inv = target.at_threshold(fixture, high)
        at_high = _answered(at_high_inv, high)
        pairs = match(at_high, at_low, SAME_SHAPE, size, any_label=False)
        extra = sorted(set(range(len(at_high))) - {i for i, _, _ in pairs})
        if extra:
            raise CheckFailed(
                f"not monotone: at threshold {high:g} the function returned"
                f" {where(at_high[extra[0]])}, which it did not return at the lower threshold"
                f" {low:g} ({len(at_low)} shapes there, {len(at_high)} at {high:g}; none of the"
                f" same label and type at similarity {SAME_SHAPE:g} or more); a higher"
                " threshold must give a subset\n" + at_high_inv.describe()
            )

    def run() -> None:
        for pair in monotone_pairs(examples):
            monotone(pair)

    target.judged_alone(lambda: _ends_empty(target, fixture))
    target.judged_alone(run)
    _nothing_to_check(target, fixture)
