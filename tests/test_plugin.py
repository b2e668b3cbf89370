"""The pytest plugin in real inner pytest runs: out of the way without ``--function``, the
suite plus a user's own tests with it, and a usage error (not a traceback) for bad options."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.outcomes import by_check, checks_with

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_functions" / "face_detector"
# Small inner runs: the suite's checks are proven in test_suite_catches.py, here only wiring.
QUICK = ("-p", "no:cacheprovider", "--cvat-fn-examples", "2", "--budget", "warm_requests=3")

PLAIN_TEST = """
def test_plain():
    assert 1 + 1 == 2
"""


def test_without_function_the_plugin_stays_out_of_the_way(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain=PLAIN_TEST)
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*test_plain.py::test_plain PASSED*"])
    result.stdout.no_fnmatch_line("*::lint*")
    result.stdout.no_fnmatch_line("*::starts*")


def test_options_are_documented_in_help(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(
        ["*CVAT serverless functions (cvat-fn)*", "*--function=DIR*", "*--budget=NAME=VALUE*"]
    )


def test_cvat_function_fixture_without_function_skips(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_mine="""
        def test_uses_it(cvat_function):
            raise AssertionError("never reached")
        """
    )
    result = pytester.runpytest("-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*needs a function: run pytest --function DIR*"])


def test_own_test_with_cvat_function_runs_beside_the_suite(pytester: pytest.Pytester) -> None:
    # The user's project (its config, its tests) and a function elsewhere. (Both
    # "--function DIR" and "--function=DIR" keep the project's rootdir: test_plugin_setup.py.)
    pytester.makeini("[pytest]\n")
    # the image path is relative to the function's directory, as in its cvat-fn.yaml
    pytester.makepyfile(
        test_mine="""
        def test_finds_the_face(cvat_function):
            invocation = cvat_function.detect("../../fixtures/images/astronaut.jpg", threshold=0.3)
            assert invocation.ok, invocation.describe()
            faces = [s for s in invocation.shapes if s.label == "face"]
            assert faces, invocation.describe()
            xtl, ytl, xbr, ybr = faces[0].bbox()
            assert 150 < xtl < xbr < 300 and 40 < ytl < ybr < 190, faces[0]
            # the function's output reaches cvat_function.logs through a reader thread
            import time
            deadline = time.monotonic() + 10
            while "face(s) at threshold 0.3" not in "\\n".join(cvat_function.logs):
                assert time.monotonic() < deadline, cvat_function.logs
                time.sleep(0.05)
        """
    )
    result = pytester.runpytest_subprocess(f"--function={SAMPLE}", "test_mine.py", "-v", *QUICK)
    result.stdout.fnmatch_lines(
        [
            "test_mine.py::test_finds_the_face PASSED*",
            "*face_detector::accuracy PASSED*",
            "*face_detector::concurrency PASSED*",
        ],
        consecutive=False,
    )
    # the whole suite holds for the sample: the control for test_suite_catches.py; on the
    # two photos without a face the threshold and geometry checks have nothing to judge
    outcomes = by_check(result)
    assert checks_with(outcomes, "skipped") == {
        f"{check}[{photo}]"
        for check in ("threshold", "threshold_monotone", "geometry")
        for photo in ("coffee-no-face", "rocket-no-face")
    }
    assert checks_with(outcomes, "failed") == set()
    assert set(outcomes["answered"]) == {"astronaut", "coffee-no-face", "rocket-no-face"}
    assert set(outcomes) == {
        "test_finds_the_face",
        "lint",
        "starts",
        "latency",
        "answered",
        "schema",
        "labels",
        "coordinates",
        "threshold",
        "threshold_monotone",
        "geometry",
        "accuracy",
        "robustness",
        "concurrency",
    }


def test_missing_directory_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--function", "no_such_function")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--function no_such_function: no such directory*"])


def test_directory_without_function_yaml_is_a_usage_error(pytester: pytest.Pytester) -> None:
    (pytester.path / "not_a_function").mkdir()
    (pytester.path / "not_a_function" / "main.py").write_text("def handler(context, event): ...\n")
    result = pytester.runpytest("--function", "not_a_function")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--function not_a_function: *no function.yaml here*"])


@pytest.mark.parametrize("value", ["p50_ms=abc", "p50_ms"])
def test_unreadable_budget_is_a_usage_error(pytester: pytest.Pytester, value: str) -> None:
    result = pytester.runpytest("--function", str(SAMPLE), "--budget", value)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--budget {value!r}*"])


def test_unknown_budget_is_a_usage_error_naming_the_known_ones(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--function", str(SAMPLE), "--budget", "p42_ms=5")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--budget p42_ms: unknown (known: *p50_ms*warm_requests*"])


def test_runtime_nuctl_says_it_is_not_built(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(
        "--function", str(SAMPLE), "--runtime", "nuctl", "-p", "no:cacheprovider", "-rA"
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        ["*face_detector::starts: the function did not start:*", "*--runtime nuctl is not built*"]
    )
    outcomes = result.parseoutcomes()
    assert outcomes["failed"] == 1 and outcomes["passed"] == 1  # starts; lint needs no start
    assert outcomes["skipped"] == 2 + 3 * 7 + 4


def test_function_without_cvat_fn_yaml_runs_all_but_accuracy(pytester: pytest.Pytester) -> None:
    function = pytester.path / "face_detector"
    shutil.copytree(SAMPLE, function, ignore=shutil.ignore_patterns("__pycache__"))
    (function / "cvat-fn.yaml").unlink()
    result = pytester.runpytest_subprocess("--function", str(function), "-v", "-rs", *QUICK)
    result.stdout.fnmatch_lines(
        [
            "face_detector::accuracy SKIPPED (no expectations in cvat-fn.yaml*",
            "face_detector::concurrency PASSED*",
        ],
        consecutive=False,
    )
    # one generated fixture instead of the sample's three; everything runs but accuracy,
    # and the threshold and geometry checks, which find no face in it to judge
    outcomes = by_check(result)
    assert checks_with(outcomes, "skipped") == {
        "accuracy",
        "threshold[generated-scene]",
        "threshold_monotone[generated-scene]",
        "geometry[generated-scene]",
    }
    result.stdout.fnmatch_lines(["*geometry[[]generated-scene[]]: nothing found on the generated*"])
    assert checks_with(outcomes, "failed") == set()
    result.stdout.fnmatch_lines(["*face_detector::answered[[]generated-scene[]]*"])


def test_threshold_checks_skip_a_detector_that_never_finds_anything(pytester):
    """A detector answering [] honours every threshold vacuously: a skip that says so."""
    noop = Path(__file__).resolve().parents[1] / "bench" / "noop"
    result = pytester.runpytest_subprocess(
        f"--function={noop}", "--cvat-fn-examples", "3", "-p", "no:cacheprovider", "-rs", "-v"
    )
    outcomes = by_check(result)
    skipped = checks_with(outcomes, "skipped")
    assert {check.split("[")[0] for check in skipped} == {
        "threshold",
        "threshold_monotone",
        "geometry",
        "accuracy",
    }
    assert checks_with(outcomes, "failed") == set()
    # nothing at the fixture's own threshold, the lowest or the highest: none between is sent
    result.stdout.fnmatch_lines(["*no shapes on * at its own threshold, at the lowest (0.05)*"])


def test_budget_overrides_are_checked_like_cvat_fn_yaml(pytester):
    noop = Path(__file__).resolve().parents[1] / "bench" / "noop"
    result = pytester.runpytest_subprocess(f"--function={noop}", "--budget", "warm_requests=0")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--budget warm_requests=0: must be a whole number, at least 1*"])
