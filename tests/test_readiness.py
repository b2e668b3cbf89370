"""Readiness lasts spec.readinessTimeoutSeconds and not a second longer, as in Nuclio; a
function that is not ready by then fails with Nuclio's message and its own log lines
(pkg/platform/local/platform.go, waitForContainer: "Function wasn't ready in time. Logs:")."""

from __future__ import annotations

import time

import pytest

from harness.nuclio.runners.base import StartError
from harness.nuclio.runners.process import ProcessRunner
from tests.conftest import FUNCTIONS

SLOW = FUNCTIONS / "slow_init"


def test_a_runner_waits_readiness_timeout_seconds_then_fails_with_nuclios_message():
    started = time.monotonic()
    with pytest.raises(StartError) as failure:
        ProcessRunner().start(SLOW)
    waited = time.monotonic() - started
    message = str(failure.value)
    assert message.startswith("slow-init: Function wasn't ready in time (2s")
    assert "loading the model (4 s)" in message  # the function's own log line
    assert waited < 4, f"waited {waited:.1f}s, past the 2 s readinessTimeoutSeconds"


def test_the_suite_fails_starts_for_a_function_nuclio_would_not_deploy(pytester):
    result = pytester.runpytest_subprocess(
        "--function", str(SLOW), "-p", "no:cacheprovider", "-rA", "-k", "lint or starts"
    )
    result.stdout.fnmatch_lines(["PASSED *::lint", "FAILED *::starts*"])
    output = result.stdout.str()
    assert "Function wasn't ready in time (2s, spec.readinessTimeoutSeconds)" in output
    assert "loading the model (4 s)" in output
