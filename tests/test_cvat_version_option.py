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


def test_the_stated_version_reaches_a_cvat_sdk_module() -> None:
    """--cvat-version overrides the cvat-fn.yaml beside a cvat-sdk module, as beside a
    function.yaml (harness.suite.session.FunctionUnderTest reads it for both)."""
    pytest.importorskip("cvat_sdk")
    from harness.sdk.suite import make_function
    from harness.suite.session import Options

    module = Path(__file__).parents[1] / "sample_functions/sdk_face_detector/haar_faces.py"
    _, fut = make_function(str(module), {}, Options(cvat_version="2.60"))
    try:
        assert fut.sdk_problem is None and fut.problem is None
        assert fut.config is not None and fut.config.cvat_version == "2.60"
    finally:
        fut.stop()
