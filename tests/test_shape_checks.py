"""The checks that compare shapes (threshold_monotone, concurrency, accuracy) judge shapes
without area by harness.suite.similarity: detectors answering a single point, a horizontal polyline,
a collinear skeleton or a tag pass when their answers are the same and fail when they differ.

Each case is a real inner ``pytest --function`` run of tests/functions/shape_*, with one defect
switched on through ``SHAPE_DEFECT`` (Nuclio passes the environment to the function; see
tests/functions/shape_base.py). Only the three checks concerned are selected, to keep it short.
Each defect fails one check and only it: the other two, whose answers are identical, pass
(accuracy with precision and recall minimums of 1.0, so every expected shape was matched).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

FUNCTIONS = Path(__file__).parent / "functions"
FIXTURES = ("astronaut", "coffee")
CHECKS = ("threshold_monotone[astronaut]", "threshold_monotone[coffee]", "concurrency", "accuracy")
SELECTED = "threshold_monotone or concurrency or accuracy"


@dataclass(frozen=True)
class Kind:
    function: str
    right: str  # how the accuracy report names the expected shape on astronaut (512x512)
    moved: str  # how a report names the shape moved down by 0.4 of the frame


KINDS = [
    Kind("shape_point", "nose points at [128, 256]", "nose points at [128, 460.8]"),
    Kind(
        "shape_polyline",
        "horizon polyline at [102.4, 256, 256, 256, 409.6, 256]",
        "horizon polyline at [102.4, 460.8, 256, 460.8, 409.6, 460.8]",
    ),
    Kind(
        "shape_skeleton", "body at [153.6, 256, 358.4, 256]", "body at [153.6, 460.8, 358.4, 460.8]"
    ),
    Kind("shape_tag", "tag square", "tag wide"),
]


@dataclass
class InnerRun:
    outcomes: dict[str, str]
    failures: dict[str, str]


def run_checks(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, function: str, defect: str = ""
) -> InnerRun:
    monkeypatch.setenv("SHAPE_DEFECT", defect)
    xml = pytester.path / f"{function}-{defect or 'none'}.xml"
    pytester.runpytest_subprocess(
        "--function",
        str(FUNCTIONS / function),
        "-p",
        "no:cacheprovider",
        "--cvat-fn-examples",
        "4",
        "-k",
        SELECTED,
        f"--junitxml={xml}",
    )
    outcomes: dict[str, str] = {}
    failures: dict[str, str] = {}
    for case in ET.parse(xml).getroot().iter("testcase"):
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        item = case.attrib["name"]
        if problem is not None:
            outcomes[item] = problem.tag
            failures[item] = (problem.text or "") + (problem.attrib.get("message") or "")
        else:
            outcomes[item] = "skipped" if case.find("skipped") is not None else "passed"
    assert set(outcomes) == set(CHECKS), outcomes
    return InnerRun(outcomes, failures)


def failed(run: InnerRun) -> set[str]:
    return {item for item, outcome in run.outcomes.items() if outcome != "passed"}


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.function)
def test_a_shape_that_moves_at_a_higher_threshold_is_not_monotone(
    kind: Kind, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = run_checks(pytester, monkeypatch, kind.function, "moves-at-high-threshold")
    assert failed(run) == {f"threshold_monotone[{f}]" for f in FIXTURES}, run.failures
    text = run.failures["threshold_monotone[astronaut]"]
    assert f"the function returned {kind.moved}, which it did not return at the lower" in text
    assert "must give a subset" in text


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.function)
def test_answers_that_differ_under_load_fail_concurrency(
    kind: Kind, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = run_checks(pytester, monkeypatch, kind.function, "shared-scratch")
    assert failed(run) == {"concurrency"}, run.failures
    assert "not safe under concurrent requests" in run.failures["concurrency"]


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.function)
def test_accuracy_rejects_a_wrong_answer(
    kind: Kind, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = run_checks(pytester, monkeypatch, kind.function, "wrong")
    assert failed(run) == {"accuracy"}, run.failures
    text = run.failures["accuracy"]
    assert "precision 0.00 (minimum 1), recall 0.00 (minimum 1)" in text
    assert f"astronaut: missed {kind.right} (" in text
    assert f"astronaut: unexpected {kind.moved}" in text
    if kind.function == "shape_tag":
        assert "(tags returned: wide)" in text
    else:
        best = re.search(r"astronaut: missed .* \(best OKS ([\d.]+), need 0.5\)", text)
        assert best and float(best.group(1)) < 0.2, text


def test_shapes_in_a_random_order_are_the_same_answer(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a point, a polyline, a skeleton and a tag, shuffled anew for every request
    run = run_checks(pytester, monkeypatch, "shape_random_order")
    assert failed(run) == set(), run.failures
