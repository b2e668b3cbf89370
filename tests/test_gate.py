"""cvat-fn test, the CI gate: exit 0 only when everything holds, reports written either way;
and the suite against a real container (--runtime docker)."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import FUNCTIONS, ROOT

SAMPLES = ROOT / "sample_functions"


def gate(directory: Path, report: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", "test", str(directory), "--report-dir", str(report),
         *extra],
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip


def junit_counts(path: Path) -> tuple[int, int]:
    suite = ET.parse(path).getroot()
    suite = suite if suite.tag == "testsuite" else suite[0]
    return int(suite.get("tests", 0)), int(suite.get("failures", 0)) + int(suite.get("errors", 0))


def test_gate_passes_a_sample_and_writes_every_report(tmp_path):
    done = gate(SAMPLES / "template_tracker", tmp_path, "--cvat-fn-examples", "4")
    assert done.returncode == 0, done.stdout + done.stderr
    tests, failed = junit_counts(tmp_path / "junit.xml")
    assert tests >= 10 and failed == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["verdict"] == "passed"
    assert (tmp_path / "report.html").read_text().count("data:image/png;base64,") >= 2
    assert "cvat-fn test: PASSED" in done.stderr


def test_gate_fails_a_broken_function_and_still_writes_junit(tmp_path):
    done = gate(FUNCTIONS / "init_fails", tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    tests, failed = junit_counts(tmp_path / "junit.xml")
    assert failed >= 1
    assert "model.xml is missing" in (tmp_path / "junit.xml").read_text()
    assert json.loads((tmp_path / "report.json").read_text())["verdict"] == "failed"
    assert "cvat-fn test: FAILED" in done.stderr


def test_gate_on_a_directory_without_function_yaml_is_one_line(tmp_path):
    done = gate(tmp_path, tmp_path / "report")
    assert done.returncode == 2
    assert "no function.yaml" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.docker
def test_suite_passes_against_a_real_container(pytester):
    from harness.nuclio.runners.docker import default_base_image, docker_available

    reason = docker_available()
    if reason:
        pytest.skip(reason)
    result = pytester.runpytest_subprocess(
        "--function", str(SAMPLES / "face_detector"),
        "--runtime", "docker",
        "--base-image", default_base_image(),
        "--cvat-fn-examples", "5",
        # the sample's budgets hold on an idle machine; here they must not make a busy one fail
        # the gate (tests/functions/broken_slow tests the latency check itself)
        "--budget", "p50_ms=2000", "--budget", "p95_ms=4000", "--budget", "p99_ms=6000",
        "-p", "no:cacheprovider",
        timeout=900,
    )  # fmt: skip
    # the threshold and geometry checks skip the two photos without a face: nothing to judge
    result.assert_outcomes(passed=23, skipped=6)


def test_the_gate_leaves_other_plugins_out_unless_pytest_is_asked_for_more(tmp_path):
    """Loading every installed pytest plugin cost half a second of each run; the built-in
    suite alone needs none of them. Any pytest argument (a plugin's option, a test file of
    the author's) brings them back."""
    import argparse

    import pytest as pytest_module

    import harness.suite.plugin
    from harness.commands.gate import _autoload_optional, pytest_invocation

    def invocation(*extra: str) -> tuple[list[str], list[object]]:
        args = argparse.Namespace(
            directory=SAMPLES / "face_detector", runtime="process", report_dir=tmp_path,
            base_image=None, function_url=None, pytest_args=list(extra),
        )  # fmt: skip
        return pytest_invocation(args)

    if not _autoload_optional(pytest_module.__version__):
        pytest.skip(f"pytest {pytest_module.__version__} has no --disable-plugin-autoload")
    arguments, plugins = invocation()
    assert "--disable-plugin-autoload" in arguments and plugins == [harness.suite.plugin]
    arguments, plugins = invocation("--timeout", "5")
    assert "--disable-plugin-autoload" not in arguments and plugins == []
    assert _autoload_optional("8.4.0") and not _autoload_optional("8.3.5")
