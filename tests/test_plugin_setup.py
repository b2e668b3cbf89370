"""How pytest sees the suite, in real inner runs: ``--function DIR`` and ``--function=DIR``
give the same rootdir and ini file, and ``-rs`` places each skip at its check's id."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

FUNCTIONS = Path(__file__).resolve().parent / "functions"
PROJECT_INI = "[pytest]\nmarkers =\n    mine: a marker of the user's project\n"
QUICK = ("-p", "no:cacheprovider", "-k", "lint")


def header(result: pytest.RunResult) -> list[str]:
    return [
        line
        for line in result.stdout.lines
        if line.startswith(("rootdir:", "configfile:", "warnings", "PytestConfigWarning"))
    ]


@pytest.fixture
def function_elsewhere(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A function directory outside the user's project (no ini file above it)."""
    target = tmp_path_factory.mktemp("elsewhere") / "echo"
    shutil.copytree(FUNCTIONS / "echo", target)
    return target


def test_spaced_function_keeps_the_projects_rootdir_and_ini(
    pytester: pytest.Pytester, function_elsewhere: Path
) -> None:
    pytester.makefile(".ini", pytest=PROJECT_INI)
    spaced = pytester.runpytest_subprocess("--function", str(function_elsewhere), *QUICK)
    joined = pytester.runpytest_subprocess(f"--function={function_elsewhere}", *QUICK)
    spaced.assert_outcomes(passed=1)
    spaced.stdout.fnmatch_lines([f"rootdir: {pytester.path}", "configfile: pytest.ini"])
    assert header(spaced) == header(joined)
    spaced.stdout.no_fnmatch_line("*PytestConfigWarning*")


def test_an_ini_file_in_the_function_directory_is_named_in_a_warning(
    pytester: pytest.Pytester,
) -> None:
    pytester.makefile(".ini", pytest=PROJECT_INI)
    function = pytester.path / "my_model"
    shutil.copytree(FUNCTIONS / "echo", function)
    (function / "pytest.ini").write_text("[pytest]\naddopts = -p no:randomly\n")
    result = pytester.runpytest_subprocess("--function", "my_model", *QUICK)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"rootdir: {pytester.path}", "configfile: pytest.ini"])
    result.stdout.fnmatch_lines(
        ["*PytestConfigWarning: --function my_model: pytest read *my_model*pytest.ini*"
         "write --function=my_model*"]
    )  # fmt: skip


def test_skips_are_placed_at_each_checks_id(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(
        "--function", str(FUNCTIONS / "init_fails"), "-p", "no:cacheprovider", "-rs"
    )
    result.stdout.fnmatch_lines(
        [
            "SKIPPED [[]1[]] init_fails::latency[[]ready[]]: the function did not start*",
            "SKIPPED [[]1[]] init_fails::accuracy: the function did not start*",
        ],
        consecutive=False,
    )
    result.stdout.no_fnmatch_line("*harness/suite/session.py*")


STARTED_BY_LINT = """
def pytest_runtest_setup(item):
    if item.name == "lint":
        fut = item.fut
        started = fut.running is not None or fut._starting is not None
        print("\\nFUNCTION STARTING BEFORE LINT:", started)
"""


@pytest.mark.parametrize(("selected", "starting"), [((), True), (("-k", "lint"), False)])
def test_the_function_starts_while_the_checks_are_planned_only_when_one_needs_it(
    pytester: pytest.Pytester, selected: tuple[str, ...], starting: bool
) -> None:
    """The start overlaps planning and lint (session.FunctionUnderTest.start_soon); a run
    of lint alone starts nothing."""
    pytester.makepyfile(started_by_lint=STARTED_BY_LINT)
    result = pytester.runpytest_subprocess(
        "--function", str(FUNCTIONS / "echo"), "-p", "started_by_lint", "-p", "no:cacheprovider",
        "-s", *selected,
    )  # fmt: skip
    result.stdout.fnmatch_lines([f"*FUNCTION STARTING BEFORE LINT: {starting}*"])
