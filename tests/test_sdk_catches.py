"""Each deliberately broken cvat-sdk function in tests/sdk_functions/ is caught by exactly the
check meant for it, in the SDK's own words; every other check holds. One real inner
``pytest --function a.py --function b.py ...`` session runs them all (each in its own worker
processes), which keeps this under a minute and a half on two cores.

The detectors are the SDK face detector sample plus one defect each (sdk_face_base.py), the
tracker is the SDK template tracker sample answering polygons.
"""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("cvat_sdk")

FUNCTIONS = Path(__file__).parent / "sdk_functions"
# Latency is the benchmarks' business: on a loaded machine only a stuck function fails these.
RELAXED = [
    *("--budget", "p50_ms=20000", "--budget", "p95_ms=30000", "--budget", "p99_ms=30000"),
    *("--budget", "first_request_s=60"),
]


@dataclass(frozen=True)
class Case:
    function: str
    check: str  # the one item that must fail
    says: tuple[str, ...]


CASES = [
    Case(
        "broken_preset_frame",
        "sdk_answer[astronaut]",
        ("[0]: function output shape with unexpected frame number (2)",),
    ),
    Case(
        "broken_preset_id", "sdk_answer[astronaut]", ("[0]: function output shape with preset id",)
    ),
    Case(
        "broken_mask_under_conv",
        "sdk_mask_to_poly[astronaut]",
        (
            "[1]: function output mask shape despite conv_mask_to_poly=True",
            "conv_mask_to_poly True",
        ),
    ),
    Case(
        "broken_skeleton",
        "sdk_answer[astronaut]",
        ("[1]: function output skeleton with fewer elements than expected (1 vs 2)",),
    ),
    Case(
        "broken_non_monotone",
        "sdk_threshold[astronaut]",
        ("not monotone: at conf_threshold", "a higher threshold must give a subset"),
    ),
    Case(
        "broken_grey_crash",
        "robustness",
        ("not robust: the function failed on a frame CVAT can send", "expected a colour frame"),
    ),
    Case(
        "broken_exit_on_grey",
        "robustness",
        ("not robust: the function failed on a frame CVAT can send",),
    ),
    Case(
        "broken_tracker_type",
        "sdk_track[cat-eye-and-nose]",
        ("function output shape of type 'polygon', but original shape was of type 'rectangle'",),
    ),
    Case(
        "broken_crash_on_load",
        "sdk_module",
        ("loading crashed the process (killed by SIGSEGV)",),
    ),
    Case(
        "broken_duplicate_ids",
        "sdk_module",
        ("BadFunctionError: label person has same ID as another label (0)",),
    ),
]


@dataclass
class InnerRun:
    outcomes: dict[str, dict[str, str]]  # function -> item -> passed/failed/skipped/error
    failures: dict[str, dict[str, str]]
    stdout: str


@pytest.fixture(scope="module")
def inner(tmp_path_factory: pytest.TempPathFactory) -> InnerRun:
    """The one inner session (a subprocess, as pytester's runpytest_subprocess runs one)."""
    workdir = tmp_path_factory.mktemp("sdk-catches")
    xml = workdir / "sdk.xml"
    args = []
    extra = [
        Case("ignores_threshold", "", ()),
        Case("broken_interactor_polygon", "", ()),
        Case("broken_unknown_label", "", ()),
    ]
    for case in [*CASES, *extra]:
        args += ["--function", str(FUNCTIONS / case.function / f"{case.function}.py")]
    command = [sys.executable, "-m", "pytest", *args, "-p", "no:cacheprovider"]
    command += ["--cvat-fn-examples", "3", f"--junitxml={xml}", "-W", "always", *RELAXED]
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=600)
    outcomes: dict[str, dict[str, str]] = defaultdict(dict)
    failures: dict[str, dict[str, str]] = defaultdict(dict)
    for case in ET.parse(xml).getroot().iter("testcase"):
        function, item = case.attrib["classname"], case.attrib["name"]
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        if problem is not None:
            outcomes[function][item] = problem.tag
            failures[function][item] = (problem.text or "") + problem.attrib.get("message", "")
        else:
            outcomes[function][item] = "skipped" if case.find("skipped") is not None else "passed"
    return InnerRun(outcomes, failures, result.stdout)


@pytest.mark.parametrize("case", CASES, ids=[c.function for c in CASES])
def test_caught_by_exactly_its_check(inner: InnerRun, case: Case) -> None:
    outcomes = inner.outcomes[case.function]
    assert outcomes.get(case.check) == "failure", outcomes
    others = {item: seen for item, seen in outcomes.items() if item != case.check}
    assert not {i for i, seen in others.items() if seen in ("failure", "error")}, others
    message = inner.failures[case.function][case.check]
    for text in case.says:
        assert text in message, message


def test_a_spec_the_sdk_refuses_stops_the_suite_before_anything_runs(inner: InnerRun) -> None:
    assert set(inner.outcomes["broken_duplicate_ids"]) == {"sdk_module"}
    assert set(inner.outcomes["broken_crash_on_load"]) == {"sdk_module"}  # pytest went on


def test_ignoring_conf_threshold_is_a_warning_not_a_failure(inner: InnerRun) -> None:
    outcomes = inner.outcomes["ignores_threshold"]
    assert outcomes["sdk_reads_threshold"] == "passed"
    assert not {i for i, seen in outcomes.items() if seen in ("failure", "error")}, outcomes
    assert "SdkWarning: detect() never read context.conf_threshold" in inner.stdout
    assert inner.stdout.count("never read context.conf_threshold") == 1  # only that function


def test_an_interactor_answering_no_mask_fails_sdk_interact(inner: InnerRun) -> None:
    """The SDK takes a polygon from an interaction function; CVAT's UI shows only masks.
    The schema check sees the same defect from CVAT's side (the UI drops the shape: a silent
    loss), and accuracy, expecting the mask, finds none."""
    outcomes = inner.outcomes["broken_interactor_polygon"]
    failed = {item for item, seen in outcomes.items() if seen in ("failure", "error")}
    assert failed == {
        "sdk_interact[astronaut-mission-patch]",
        "schema[astronaut-mission-patch]",
        "accuracy",
    }, outcomes
    message = inner.failures["broken_interactor_polygon"]["sdk_interact[astronaut-mission-patch]"]
    assert "no mask among the 1 shape(s) (polygon): CVAT's UI shows only masks" in message


def test_an_annotation_the_answer_cannot_name_fails_the_request_too(inner: InnerRun) -> None:
    """A tag of a label id the spec lacks: cvat-sdk refuses it (sdk_answer, in its words),
    and CVAT's Nuclio answer cannot name its label, so the request fails with the same
    message, under cvat-fn as in the exported function (harness/sdk/nuclio_main.py), and
    every check that needs an answer fails with it; none passes on a silently dropped tag."""
    outcomes = inner.outcomes["broken_unknown_label"]
    failed = {item for item, seen in outcomes.items() if seen in ("failure", "error")}
    assert failed == {
        "sdk_answer[astronaut]",
        "answered[astronaut]",
        "accuracy",
        "latency[warm]",
        "robustness",
    }, outcomes
    said = inner.failures["broken_unknown_label"]
    assert "[1]: function output tag with unknown label ID (7)" in said["sdk_answer[astronaut]"]
    assert "cvat-sdk would reject" in said["sdk_answer[astronaut]"]
    assert "HTTP 500" in said["answered[astronaut]"]
    assert "function output tag with unknown label ID (7)" in said["answered[astronaut]"]
