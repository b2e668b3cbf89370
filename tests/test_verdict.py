"""cvat-fn verdict: failed checks and why from a report.json; bad input is one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.commands.verdict import reasons


def verdict(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", "verdict", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_reason_skips_log_records_and_traceback_frames() -> None:
    message = (
        "m::starts: the function did not start:\n"
        '{"level": "info", "message": "starting workers"}\n'
        "worker 0: failed (WeightsError: weights file w.xml is unreadable)\n"
        "Traceback (most recent call last):\n"
        '  File "main.py", line 16, in init_context\n'
        "    context.user_data.model = ModelHandler()\n"
    )
    assert reasons(message) == [
        "the function did not start:",
        "worker 0: failed (WeightsError: weights file w.xml is unreadable)",
    ]


def test_the_reason_skips_log_records_printed_readably() -> None:
    """Start errors print the runtime's records as text (logformat.format_line), the worker's
    own stderr as it came: the worker's failure is the reason, not the records before it."""
    message = (
        "m::starts: the function did not start:\n"
        "faces: the function exited (code 1) (init_context failed?) before it was ready. Logs:\n"
        "2026-12-03 07:34:51.906 info  processor: starting workers function=faces workers=2\n"
        "2026-12-03 07:34:52,131 error worker 0: Exception raised while running init_context\n"
        "worker 0: failed (WeightsError: weights file w.xml is unreadable)\n"
    )
    assert reasons(message) == [
        "the function did not start:",
        "faces: the function exited (code 1) (init_context failed?) before it was ready. Logs:",
        "worker 0: failed (WeightsError: weights file w.xml is unreadable)",
    ]


def test_a_failed_report_names_the_check_and_exits_1(tmp_path: Path) -> None:
    report = {
        "verdict": "failed",
        "functions": [
            {
                "function": "faces",
                "verdict": "failed",
                "checks": [
                    {"check": "lint", "fixture": None, "outcome": "passed", "message": ""},
                    {
                        "check": "accuracy",
                        "fixture": "astronaut",
                        "outcome": "failed",
                        "message": "m::accuracy[astronaut]: recall 0.00 < 1.00",
                    },
                ],  # fmt: skip
            }
        ],
    }
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    done = verdict(str(path))
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        "faces: failed, 1 of 2 check(s) failed",
        "- accuracy [astronaut] (failed)",
        "    recall 0.00 < 1.00",
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "cannot read"), ("{not json", "not a cvat-fn JSON report"), ("[]", "no 'functions'")],
)
def test_bad_input_is_one_line(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "report.json"
    if content is not None:
        path.write_text(content)
    done = verdict(str(path))
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"cvat-fn verdict: {path}: ") and message in line
