"""What a failure shows when the function's handler raises: the right check is blamed, and the
exception shows once, readable, from the function's own frames, with the log records' extra
fields as key=value. One real inner ``pytest --function`` run on
tests/functions/broken_always_raises (its handler raises on every request, as a new function's
does before its model is loaded), read from its JUnit XML and its HTML report.
"""

from __future__ import annotations

import html
import re
import subprocess
import sys
import time
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
            failures[item] = problem.text or ""  # the full report (the message attribute is cut)
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


def shows_the_exception_once(text: str) -> None:
    """The handler's exception appears once, from main.py's frames, the wrapper's counted."""
    assert text.count("Traceback (most recent call last):") == 1, text
    assert text.count("AttributeError: 'NoneType' object has no attribute 'infer'") == 1, text
    # how many frames the wrapper adds depends on how it calls the handler; they are counted
    assert re.search(r"\((\d+) frame\(s\) of the runtime's wrapper left out: ", text), text
    assert 'broken_always_raises/main.py", line 16, in detect' in text, text
    assert "wrapper.py\", line" not in text and "\\n" not in text, text


def test_a_failed_item_shows_the_handler_exception_once_and_records_as_key_value(raising):
    said = raising.failures["answered[generated-scene]"]
    shows_the_exception_once(said)
    assert "[info] detecting size=" in said and " threshold=0.5 worker_id=0" in said, said
    assert "traceback=(shown above)" in said
    assert '{"' not in said  # no raw JSON of the records' extra fields


def test_the_html_report_shows_it_the_same_way(raising):
    section = raising.html.split("::answered[generated-scene]</div><pre>", 1)[1]
    shows_the_exception_once(section.split("</pre>", 1)[0])
    assert "[info] detecting size=" in raising.html and '{"size"' not in raising.html


def test_invoke_shows_the_handler_exception_once(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "invoke", "--function", str(FUNCTION),
         str(Path(__file__).parents[1] / "fixtures" / "images" / "astronaut.jpg")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    shows_the_exception_once(done.stdout)
    assert "[info] detecting size=" in done.stdout and '{"' not in done.stdout, done.stdout


WRAPPER_LEFT_OUT = re.compile(r"\((\d+) frame\(s\) of the runtime's wrapper left out: ")


def test_serve_prints_the_runtimes_records_readably():
    """serve prints each line of the function's output through format_line: the runtime's own
    record of the exception, as the process runner captured it, becomes readable lines."""
    from harness.cvat.client import FunctionClient
    from harness.nuclio.runners.process import ProcessRunner
    from harness.output.logformat import format_line

    with ProcessRunner().start(FUNCTION) as running:
        since = len(running.logs)
        FunctionClient(running.url, "detector").send({"image": ""}, "empty image", None)
        deadline = time.monotonic() + 10  # the output is copied asynchronously: wait for it
        while True:
            printed = "\n".join(format_line(line) for line in running.logs.lines(since))
            if WRAPPER_LEFT_OUT.search(printed) or time.monotonic() > deadline:
                break
            time.sleep(0.02)
    assert "Exception caught in handler" in printed and '{"' not in printed, printed
    assert printed.count("Traceback (most recent call last):") == 1, printed
    assert WRAPPER_LEFT_OUT.search(printed), printed
