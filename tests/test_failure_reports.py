"""What a failure shows when the function's handler raises: the right check is blamed, and the
exception shows once, readable, from the function's own frames, with the log records' extra
fields as key=value. One real inner ``pytest --function`` run on
tests/functions/broken_always_raises (its handler raises on every request, as a new function's
does before its model is loaded), read from its JUnit XML and its HTML report.
"""

from __future__ import annotations

import html
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

FUNCTION = Path(__file__).parent / "functions" / "broken_always_raises"


@dataclass
class InnerRun:
    outcomes: dict[str, str]
    failures: dict[str, str]
    html: str


@pytest.fixture(scope="module")
def raising(tmp_path_factory: pytest.TempPathFactory) -> InnerRun:
    workdir = tmp_path_factory.mktemp("raising")
    xml, report = workdir / "junit.xml", workdir / "report.html"
    command = [sys.executable, "-m", "pytest", f"--function={FUNCTION}", "-p",
               "no:cacheprovider", "--cvat-fn-examples", "2", f"--junitxml={xml}",
               f"--cvat-fn-html={report}"]  # fmt: skip
    subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=300)
    outcomes, failures = {}, {}
    for case in ET.parse(xml).getroot().iter("testcase"):
        item = case.attrib["name"]
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        if problem is not None:
            outcomes[item] = problem.tag
            failures[item] = (problem.text or "") + problem.attrib.get("message", "")
        else:
            outcomes[item] = "skipped" if case.find("skipped") is not None else "passed"
    return InnerRun(outcomes, failures, html.unescape(report.read_text(encoding="utf-8")))


def test_robustness_points_at_answered_when_the_plain_request_already_fails(raising):
    assert raising.outcomes["answered[generated-scene]"] == "failure"
    assert raising.outcomes["robustness"] == "failure"
    said = raising.failures["robustness"]
    assert "the plain request (generated-scene) already fails with nothing sent before it" in said
    assert "see the answered check (answered[generated-scene])" in said
    assert "malformed request" not in said  # no invented cause
