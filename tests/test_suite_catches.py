"""The built-in suite catches every deliberately broken function in tests/functions/broken_*
with exactly the check meant for it, and its report says why: what was sent, what came back
and the function's own log lines. Each case is a real inner ``pytest --function`` run.

The functions are the face detector sample plus one defect each, so every other check holds:
a failure anywhere else means a check fires on something that is not its business (or the
defect leaks), and a pass of the meant check means the suite missed the defect.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import pytest

FUNCTIONS = Path(__file__).parent / "functions"
FIXTURE = "astronaut"
PER_FIXTURE = (
    "answered",
    "schema",
    "labels",
    "coordinates",
    "threshold",
    "threshold_monotone",
    "geometry",
)


def suite_items(*fixtures: str, extra: tuple[str, ...] = ()) -> set[str]:
    """Every item the suite collects for a detector with these fixtures (``extra``: the
    answer checks a function gets for declaring attributes or skeletons)."""
    return {
        "lint",
        "starts",
        "latency[ready]",
        "latency[first_request]",
        *(f"{check}[{fixture}]" for fixture in fixtures for check in (*PER_FIXTURE, *extra)),
        "accuracy",
        "latency[warm]",
        "robustness",
        "concurrency",
    }


ASTRONAUT_SENT = re.compile(r"^sent: astronaut\.jpg \(512x512\), threshold (\S+)$", re.M)
ANSWER = re.compile(r"^got: HTTP (\d+) in \d+ ms: ", re.M)
LOG_LINE = re.compile(
    r"^function log for this request:\n  \[info\] \d+ face\(s\) at threshold", re.M
)


@dataclass
class InnerRun:
    """One inner suite run: every item's outcome and failure text, from its JUnit XML."""

    outcomes: dict[str, str] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    summary_failed: set[str] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=dict)

    def named(self, outcome: str) -> set[str]:
        return {item for item, seen in self.outcomes.items() if seen == outcome}


def run_suite(pytester: pytest.Pytester, name: str, examples: int = 4) -> InnerRun:
    xml = pytester.path / f"{name}.xml"
    result = pytester.runpytest_subprocess(
        "--function",
        str(FUNCTIONS / name),
        "-p",
        "no:cacheprovider",
        "--cvat-fn-examples",
        str(examples),
        "-rA",
        f"--junitxml={xml}",
    )
    run = InnerRun(counts=result.parseoutcomes())
    for case in ET.parse(xml).getroot().iter("testcase"):
        item = case.attrib["name"]
        assert case.attrib["classname"] == name, case.attrib
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        if problem is not None:
            run.outcomes[item] = problem.tag
            run.failures[item] = (problem.text or "") + (problem.attrib.get("message") or "")
        elif case.find("skipped") is not None:
            run.outcomes[item] = "skipped"
        else:
            run.outcomes[item] = "passed"
    # -rA's summary names the same failures by node id
    run.summary_failed = {
        line.split()[1].split("::", 1)[1] for line in result.outlines if line.startswith("FAILED ")
    }
    return run


@dataclass(frozen=True)
class Case:
    function: str
    check: str  # the one item that must fail
    says: tuple[str, ...]  # what its failure text must contain
    request: bool = True  # the failure concerns a request to the astronaut fixture
    examples: int = 4
    fixtures: tuple[str, ...] = (FIXTURE,)
    extra: tuple[str, ...] = ()
    also: tuple[str, ...] = ()
    """Other items the defect fails too (a box moved off its face moves wrongly under the
    geometry check's flips and regions as well)."""


CASES = [
    Case(
        "broken_schema",
        f"schema[{FIXTURE}]",
        ("schema error(s)", "[0].points: a rectangle needs 4 numbers, got 6"),
    ),
    Case(
        "broken_label",
        f"labels[{FIXTURE}]",
        (
            "labels finding(s) CVAT 2.73 would silently drop",
            '[0].label: CVAT will drop this shape: "person" is not among the function\'s'
            " labels (face)",
        ),
    ),
    Case(
        "broken_coordinates",
        f"coordinates[{FIXTURE}]",
        (
            "1 coordinates finding(s) CVAT 2.73 stores as sent, which cvat-fn fails",
            "[0].points: (521.6, 161) lies outside the 512x512 image (tolerance 1 px)",
        ),
        also=(f"geometry[{FIXTURE}]",),
    ),
    Case(
        "broken_ignores_threshold",
        f"threshold[{FIXTURE}]",
        ("threshold ignored", "the function returned [0] face with confidence 0.81"),
    ),
    Case(
        "broken_non_monotone",
        f"threshold_monotone[{FIXTURE}]",
        ("not monotone", "which it did not return at the lower threshold", "must give a subset"),
    ),
    Case(
        "broken_grey_crash",
        "robustness",
        ("not robust: the function failed on a frame CVAT can send", "expected a colour frame"),
        request=False,  # the frame is generated, not a fixture: checked in its own test
    ),
    Case(
        "broken_slow",
        "latency[warm]",
        ("slower than budgeted: p50", "> budget 200 ms", "5 warm requests of astronaut"),
        examples=3,
    ),
    Case(
        "broken_init",
        "starts",
        ("the function did not start", "weights/face-v2.onnx is missing"),
        request=False,
    ),
    Case(
        "broken_concurrency",
        "concurrency",
        ("not safe under concurrent requests", "differ from the sequential ones"),
        request=False,  # either fixture may be the one that differs: checked in its own test
        fixtures=(FIXTURE, "coffee-no-face"),  # two frames, so that swapping them shows
    ),
    Case(
        "broken_bmp",
        "robustness",
        (
            "not robust: the function failed on a frame CVAT can send (64x48 RGB BMP",
            "CVAT fails the whole job on HTTP 400",
            "got: HTTP 400",
            "unsupported format: BMP",
            "[warning] refusing a BMP frame",
        ),
        request=False,  # the frame is generated, not a fixture
    ),
    Case(
        "broken_attribute",
        f"attributes[{FIXTURE}]",
        (
            "1 attributes finding(s) CVAT 2.73 would silently drop",
            "[0].attributes[0].value: CVAT will store the attribute's default value instead of"
            " age='34.5'",
        ),
        extra=("attributes",),
    ),
    Case(
        "broken_attribute_null",
        f"attributes[{FIXTURE}]",
        (
            "1 attributes error(s) CVAT 2.73 would not accept",
            "[0].attributes[0].value: age=null: CVAT calls int(value) on it, which raises"
            " TypeError, and fails the request",
        ),
        extra=("attributes",),
    ),
    Case(
        "broken_skeleton",
        f"skeleton[{FIXTURE}]",
        (
            "1 skeleton finding(s) CVAT 2.73 would silently drop",
            "[1].elements[2].label: CVAT will drop this element: 'mouth' is not a sublabel of"
            " skeleton 'landmarks' (left-eye, right-eye)",
        ),
        extra=("skeleton",),
    ),
    Case(
        "broken_misses_box",
        "accuracy",
        ("accuracy below the minimums", "missed face at [176, 65, 272, 161]"),
        also=(f"geometry[{FIXTURE}]",),
    ),
]


@pytest.fixture(scope="module")
def runs() -> dict[str, InnerRun]:
    """Inner runs by function, shared by the tests that read the same run."""
    return {}


@pytest.fixture(params=CASES, ids=lambda case: case.function)
def case_run(
    request: pytest.FixtureRequest, pytester: pytest.Pytester, runs: dict[str, InnerRun]
) -> tuple[Case, InnerRun]:
    case: Case = request.param
    if case.function not in runs:
        runs[case.function] = run_suite(pytester, case.function, case.examples)
    return case, runs[case.function]


def test_only_the_meant_check_fails(case_run: tuple[Case, InnerRun]) -> None:
    case, run = case_run
    assert set(run.outcomes) == suite_items(*case.fixtures, extra=case.extra)
    assert run.named("failure") == {case.check, *case.also}, run.failures
    assert run.named("error") == set()
    assert run.summary_failed == {case.check, *case.also}
    assert run.counts.get("failed") == 1 + len(case.also)
    if case.function == "broken_init":
        # nothing can be checked on a function that never started; lint needs no start
        assert run.named("passed") == {"lint"}
        assert run.named("skipped") == set(run.outcomes) - {"lint", "starts"}
    else:
        # a frame without faces leaves the threshold and geometry checks nothing to judge
        vacuous = {
            f"{check}[{fixture}]"
            for fixture in case.fixtures
            if fixture != FIXTURE
            for check in ("threshold", "threshold_monotone", "geometry")
        }
        skipped = run.named("skipped")
        if case.function == "broken_concurrency":
            # its frames swap between requests sent at once, so a threshold sent beside the
            # face's frame may see the face on the frame without one: the threshold checks
            # there then have shapes to judge (and pass), or not, as the requests meet
            crossed = {
                f"{check}[{fixture}]"
                for fixture in case.fixtures
                if fixture != FIXTURE
                for check in ("threshold", "threshold_monotone")
            }
            assert (vacuous & set(run.outcomes)) - skipped <= crossed, skipped
            assert skipped <= vacuous, skipped
        else:
            assert skipped == vacuous & set(run.outcomes)
        assert run.named("passed") == set(run.outcomes) - {case.check, *case.also} - vacuous


def test_geometry_names_the_moved_boxes(
    pytester: pytest.Pytester, runs: dict[str, InnerRun]
) -> None:
    """The boxes the two defects move off the face also move wrongly under a mirror: the
    geometry check names how, with no expected answer needed."""
    for function, says in (
        ("broken_misses_box", "the shapes are at 0.5"),
        ("broken_coordinates", "mirrored about x = "),
    ):
        run = runs.get(function) or run_suite(pytester, function)
        assert says in run.failures[f"geometry[{FIXTURE}]"], run.failures


def test_the_failure_names_the_cause(case_run: tuple[Case, InnerRun]) -> None:
    case, run = case_run
    text = run.failures[case.check]
    for words in case.says:
        assert words in text, text
    if case.request:
        sent = ASTRONAUT_SENT.search(text)
        assert sent, f"the report does not say what was sent:\n{text}"
        assert ANSWER.search(text), f"the report does not say what came back:\n{text}"
        assert LOG_LINE.search(text), f"the report lacks the function's log lines:\n{text}"


def thresholds(text: str) -> list[float]:
    return [float(t) for t in re.findall(r"at (?:the lower )?threshold ([\d.]+)", text)]


def test_ignored_threshold_report_shows_the_request_at_that_threshold(
    pytester: pytest.Pytester, runs: dict[str, InnerRun]
) -> None:
    run = runs.get("broken_ignores_threshold") or run_suite(pytester, "broken_ignores_threshold")
    text = run.failures[f"threshold[{FIXTURE}]"]
    asked = thresholds(text)[0]
    sent = ASTRONAUT_SENT.search(text)
    assert sent and float(sent.group(1)) == asked
    assert asked > 0.81  # the face's confidence, which a threshold above must drop
    assert '"confidence": 0.81' in text


def test_non_monotone_report_names_both_thresholds(
    pytester: pytest.Pytester, runs: dict[str, InnerRun]
) -> None:
    run = runs.get("broken_non_monotone") or run_suite(pytester, "broken_non_monotone")
    text = run.failures[f"threshold_monotone[{FIXTURE}]"]
    high, low = thresholds(text)[:2]
    assert low < 0.4 <= high, text  # the function returns nothing below 0.4
    sent = ASTRONAUT_SENT.search(text)
    assert sent and float(sent.group(1)) == high  # the answer shown is the one with the face
    assert "(0 shapes there, 1 at" in text


def test_grey_crash_report_shows_the_frame_the_trace_and_the_log(
    pytester: pytest.Pytester, runs: dict[str, InnerRun]
) -> None:
    run = runs.get("broken_grey_crash") or run_suite(pytester, "broken_grey_crash")
    text = run.failures["robustness"]
    frame = re.search(r"^sent: (\d+)x(\d+) (1|L|LA) (PNG|JPEG|BMP|TIFF|WEBP) ", text, re.M)
    assert frame, f"the report does not say which frame was sent:\n{text}"
    assert f"got mode {frame.group(3)}" in text
    assert re.search(r"^got: HTTP 500 in \d+ ms: Exception caught in handler", text, re.M)
    assert "ValueError: expected a colour frame" in text  # the function's traceback
    assert "function log for this request:\n  [error] Exception caught in handler" in text


def test_concurrency_report_shows_both_answers(
    pytester: pytest.Pytester, runs: dict[str, InnerRun]
) -> None:
    run = runs.get("broken_concurrency") or run_suite(pytester, "broken_concurrency")
    text = run.failures["concurrency"]
    sent = re.search(r"^sent: (astronaut|coffee)\.jpg \((\d+x\d+)\), threshold 0\.5$", text, re.M)
    assert sent, f"the report does not say what was sent:\n{text}"
    fixture = "astronaut" if sent.group(1) == "astronaut" else "coffee-no-face"
    assert f"sequential answer for {fixture}: " in text
    assert re.search(r"^got: HTTP \d+ in \d+ ms: ", text, re.M)
    assert "function log for this request:" in text


def test_init_failure_carries_the_function_output(
    pytester: pytest.Pytester, runs: dict[str, InnerRun]
) -> None:
    run = runs.get("broken_init") or run_suite(pytester, "broken_init")
    text = run.failures["starts"]
    assert "loading face-v2.onnx" in text  # its log line before it raised
    assert "FileNotFoundError" in text
    assert "in init_context" in text  # the traceback points at the function's code
