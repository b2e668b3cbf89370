"""Shapes without a confidence: CVAT never reads one (cvat/apps/lambda_manager/views.py at
2.73.0: ``LambdaFunction.invoke`` hands the answer to ``DetectionResultConverter._parse_anno``,
which builds each shape from label, type, points, attributes, rotation, group and outside,
never ``confidence`` or ``score``), so a function may leave it out and still honour CVAT's
threshold by what it answers.

tests/functions/no_confidence answers faces at the request's threshold and a tag, with
``CONFIDENCE_LEFT_OUT`` choosing what carries a confidence:

- ``all``: no shape does. ``threshold`` cannot see whether the threshold is honoured: not
  applicable, skipped with that reason; every other check passes.
- ``some``: the faces do, the tag does not. ``threshold`` judges the faces and passes, with a
  warning (pytest's warnings summary) naming the shapes without one.
- ``grows``: none does, and from threshold 0.5 the tag changes label: ``threshold_monotone``
  still sees that a higher threshold no longer gives a subset, and fails.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.outcomes import by_check

FUNCTION = Path(__file__).parent / "functions" / "no_confidence"
FIXTURES = ("astronaut", "coffee")
GEOMETRY = {"astronaut": "passed", "coffee": "skipped"}
"""coffee's answer is a tag alone: nothing placed to compare under a transform."""
SKIP_REASON = "no shape carries a confidence on {}"


def suite(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, mode: str, *extra: str
) -> pytest.RunResult:
    monkeypatch.setenv("CONFIDENCE_LEFT_OUT", mode)
    return pytester.runpytest_subprocess(
        "--function", str(FUNCTION),
        "--cvat-fn-examples", "3",
        "-p", "no:cacheprovider",
        "-v", "-rA",
        *extra,
    )  # fmt: skip


def test_without_any_confidence_threshold_is_not_applicable_and_the_rest_passes(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = suite(pytester, monkeypatch, "all")
    outcomes = by_check(result)
    assert outcomes.pop("threshold") == {fx: "skipped" for fx in FIXTURES}, result.stdout.str()
    assert outcomes.pop("geometry") == GEOMETRY, outcomes
    assert {o for per in outcomes.values() for o in per.values()} == {"passed"}, outcomes
    assert outcomes["threshold_monotone"] == {fx: "passed" for fx in FIXTURES}
    text = result.stdout.str()
    for fixture in FIXTURES:
        assert SKIP_REASON.format(fixture) in text
    assert "CVAT never reads one" in text and "threshold_monotone still checks" in text
    assert "CheckWarning" not in text


def test_shapes_with_and_without_a_confidence_pass_with_a_warning_naming_them(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = pytester.path / "report.json"
    result = suite(pytester, monkeypatch, "some", "--cvat-fn-json", str(report))
    outcomes = by_check(result)
    # the astronaut's face carries one: judged; on coffee only the tag is left, with none
    assert outcomes["threshold"] == {"astronaut": "passed", "coffee": "skipped"}
    assert outcomes["threshold_monotone"] == {fx: "passed" for fx in FIXTURES}
    text = result.stdout.str()
    assert "failed" not in result.parseoutcomes(), text[-3000:]
    assert text.count("CheckWarning:") == 1, text[-3000:]
    # at each threshold tried: the face with a confidence, the tag ([1]) without
    warned = re.search(r"CheckWarning: astronaut: (\d+) of (\d+) shapes at the thresholds", text)
    assert warned, text[-3000:]
    tried = int(warned.group(1))
    assert int(warned.group(2)) == 2 * tried
    assert f"carry no confidence: [1] photo tag ({tried}x)" in text
    # the JSON report has it in the check's entry
    (entry,) = [
        c for c in json.loads(report.read_text())["functions"][0]["checks"]
        if c["check"] == "threshold" and c["fixture"] == "astronaut"
    ]  # fmt: skip
    assert entry["outcome"] == "passed"
    assert entry["message"].startswith("warning: astronaut: "), entry


def test_without_confidences_a_threshold_that_adds_shapes_still_fails_monotone(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = suite(pytester, monkeypatch, "grows")
    outcomes = by_check(result)
    assert outcomes.pop("geometry") == GEOMETRY, outcomes
    assert outcomes["threshold_monotone"] == {fx: "failed" for fx in FIXTURES}
    assert outcomes["threshold"] == {fx: "skipped" for fx in FIXTURES}
    failed = {f"{c}[{fx}]" for c, per in outcomes.items() for fx, o in per.items() if o != "passed"}
    assert failed == {f"{c}[{fx}]" for c in ("threshold", "threshold_monotone") for fx in FIXTURES}
    assert "not monotone: at threshold 0.95 the function returned tag portrait" in (
        result.stdout.str()
    )
