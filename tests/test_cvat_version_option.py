"""--cvat-version judges answers as a stated CVAT release does, and says which in the report;
an unreadable version is a usage error."""

from __future__ import annotations

from pathlib import Path

import pytest

BROKEN = Path(__file__).parent / "functions" / "broken_attribute"


def test_the_stated_version_is_the_one_judged_and_named(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(
        "--function",
        str(BROKEN),
        "--cvat-version",
        "2.60",
        "-k",
        "attributes",
        "-p",
        "no:cacheprovider",
    )
    result.stdout.fnmatch_lines(
        ["*1 attributes finding(s) CVAT 2.60 would silently drop*", "*age='34.5'*"]
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_an_unreadable_version_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--function", str(BROKEN), "--cvat-version", "latest")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--cvat-version: 'latest' is not a CVAT version*"])
