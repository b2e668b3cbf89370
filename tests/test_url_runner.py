"""The url runner reaches a function that runs elsewhere, by its own URL or through Nuclio's
dashboard as CVAT does; it waits for readiness and never calls the handler to find it.

Nuclio's dashboard cannot run here: tests/nuclio_dashboard.py is a STAND-IN for it, in front of
a function really running under the harness (process runner).
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from harness.nuclio.runners import make_runner
from harness.nuclio.runners.base import RunningFunction, StartError
from harness.nuclio.runners.process import ProcessRunner
from harness.nuclio.runners.url import UrlRunner
from harness.suite.session import FunctionUnderTest, Options
from tests.conftest import FUNCTIONS, ROOT
from tests.nuclio_dashboard import Deployed, stand_in_dashboard

COUNTER = FUNCTIONS / "counter"


@pytest.fixture
def counter() -> Iterator[RunningFunction]:
    with ProcessRunner().start(COUNTER) as running:
        yield running


def calls(url: str, times: int) -> list[int]:
    return [requests.post(url, json={}, timeout=10).json()["calls"] for _ in range(times)]


def test_function_url_the_handler_is_called_once_per_request(counter):
    with UrlRunner(counter.url).start(COUNTER) as running:
        assert calls(running.url, 3) == [1, 2, 3]


def test_function_url_waits_for_the_port_to_open():
    with socket.socket() as probe:  # a free port, for the function to take later
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    found: list[RunningFunction] = []
    waiting = threading.Thread(
        target=lambda: found.append(
            UrlRunner(f"http://127.0.0.1:{port}").start(COUNTER, readiness_timeout=60)
        )
    )
    waiting.start()
    with ProcessRunner(port=port).start(COUNTER) as function:
        waiting.join(60)
        assert found, "the url runner gave up before the function listened"
        assert calls(found[0].url, 2) == [1, 2]
        assert function.url == found[0].url


def test_function_url_not_ready_in_time_says_so():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(StartError, match=r"Function wasn't ready in time \(1s"):
        UrlRunner(f"http://127.0.0.1:{port}").start(COUNTER, readiness_timeout=1)


def test_dashboard_invocations_carry_cvats_headers_and_call_once(counter):
    deployed = {"counter": Deployed(COUNTER, counter.url)}
    with stand_in_dashboard(deployed) as dashboard:
        runner = make_runner("url", dashboard=dashboard.url, function_name="counter")
        with runner.start(COUNTER) as running:
            assert calls(running.url, 3) == [1, 2, 3]
        invocations = [h for method, _, h in dashboard.requests if method == "POST"]
    assert len(invocations) == 3
    # cvat/apps/lambda_manager/views.py: LambdaGateway._http and _invoke_via_dashboard
    headers = {k.lower(): v for k, v in invocations[0].items()}
    assert headers["x-nuclio-function-name"] == "counter"
    assert headers["x-nuclio-path"] == "/"
    assert headers["x-nuclio-project-name"] == "cvat"
    assert headers["x-nuclio-function-namespace"] == "nuclio"
    assert headers["x-nuclio-invoke-via"] == "domain-name"
    assert headers["x-nuclio-invoke-timeout"] == "120s"


def test_dashboard_waits_for_the_ready_state_and_times_out_with_nuclios_message(counter):
    deployed = {"counter": Deployed(COUNTER, counter.url, state="building")}
    with stand_in_dashboard(deployed) as dashboard:
        runner = UrlRunner(dashboard=dashboard.url, function_name="counter")
        with pytest.raises(StartError, match=r"(?s)Function wasn.t ready in time.*said: building"):
            runner.start(COUNTER, readiness_timeout=1)
        deployed["counter"].state = "error"
        with pytest.raises(StartError, match="counter is in state 'error'"):
            runner.start(COUNTER, readiness_timeout=30)


def test_dashboard_unknown_function_is_named():
    with stand_in_dashboard({}) as dashboard:
        runner = UrlRunner(dashboard=dashboard.url, function_name="nobody", namespace="cvat")
        with pytest.raises(StartError, match="no function 'nobody' in namespace 'cvat'"):
            runner.start(COUNTER, readiness_timeout=1)


def test_the_suite_passes_through_the_stand_in_dashboard(pytester: pytest.Pytester):
    """The whole built-in suite, with no local function directory: kind, labels and numWorkers
    come from GET /api/functions/NAME, every request goes through the dashboard."""
    sample = ROOT / "sample_functions" / "face_detector"
    with ProcessRunner().start(sample) as function:
        deployed = {"face-detector": Deployed(sample, function.url, namespace="cvat")}
        with stand_in_dashboard(deployed) as dashboard:
            result = pytester.runpytest_subprocess(
                "--runtime", "url",
                "--nuclio-dashboard", dashboard.url,
                "--function-name", "face-detector",
                "--namespace", "cvat",
                "--cvat-fn-examples", "3",
                "-p", "no:cacheprovider",
                "-rA",
            )  # fmt: skip
            invocations = [p for method, p, _ in dashboard.requests if method == "POST"]
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0 and outcomes.get("error", 0) == 0, result.stdout.str()
    assert outcomes["passed"] >= 10
    result.stdout.fnmatch_lines(
        ["PASSED face-detector::lint", "PASSED face-detector::starts", "*concurrency*"]
    )
    assert len(invocations) >= 10
    assert not list(Path(pytester.path).glob("face-detector"))


CHATTY_HANDLER = """
def handler(context, event):
    for n in range(40):  # about 6 KB of log records: too much for the X-Nuclio-Logs header
        context.logger.info_with("chatty", n=n, padding="x" * 100)
    return context.Response(body="[]", content_type="application/json")
"""


@pytest.fixture
def chatty(tmp_path: Path) -> Path:
    """A detector whose every request logs more than Nuclio puts in X-Nuclio-Logs (4 KB,
    pkg/processor/trigger/http/trigger.go): its answers come without the header."""
    directory = tmp_path / "chatty"
    shutil.copytree(COUNTER, directory)
    (directory / "main.py").write_text(CHATTY_HANDLER)
    return directory


def test_through_the_dashboard_a_request_costs_its_own_time(chatty: Path):
    """Through a URL the function's output cannot be read, so a request whose answer lacks
    X-Nuclio-Logs must not wait for a note in that output (client.logged_since) that cannot
    arrive: the time the suite's client spends beyond each HTTP request stays small (it was
    2 s a request)."""
    with ProcessRunner().start(chatty) as function:
        deployed = {"counter": Deployed(chatty, function.url)}
        with stand_in_dashboard(deployed) as dashboard:
            remote = {"dashboard": dashboard.url, "function_name": "counter"}
            fut = FunctionUnderTest(chatty, Options(runtime="url", runner=remote))
            try:
                target = fut.target()
                client = target.client()
                beyond_the_request = []
                for _ in range(3):
                    started = time.perf_counter()
                    invocation = client.detect(ROOT / "fixtures" / "images" / "astronaut.jpg")
                    beyond_the_request.append(
                        time.perf_counter() - started - invocation.latency_s
                    )
                    assert invocation.status == 200 and invocation.logs == []
            finally:
                fut.stop()
    assert sum(beyond_the_request) < 1.5, beyond_the_request
    assert target.logs is None  # nothing to read: the runner sees no output


def test_with_the_process_runner_logs_too_long_for_the_header_come_from_the_output(chatty):
    """Where the output is captured, the records the header left out are still shown."""
    fut = FunctionUnderTest(chatty, Options())
    try:
        invocation = fut.target().client().detect(ROOT / "fixtures" / "images" / "astronaut.jpg")
    finally:
        fut.stop()
    assert invocation.status == 200
    assert [r["message"] for r in invocation.logs] == ["chatty"] * 40
