"""Fixtures for the tests that run against a real CVAT server, started from ``CVAT_SOURCE``.

- ``cvat_server`` (session): a :class:`~tests.cvat_server.server.CvatServer`, started once
  (server.py says how); stopped at the end, leaving no process, port or directory.
- ``cvat`` (function): a :class:`~tests.cvat_server.client.CvatClient` logged in as the admin;
  CVAT's dashboard is unset again after the test.
- ``serve_functions`` (function): ``serve_functions(dir, ...)`` starts function directories with
  cvat-fn's process runner behind the dashboard stand-in (tests/nuclio_dashboard.py) and points
  CVAT at it; returns the stand-in (``.functions[name].url`` is each function's own address).

Without ``CVAT_SOURCE`` every test here is skipped, with one reason naming it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.cvat_server.client import CvatClient
from tests.cvat_server.server import CvatServer, CvatStartError, start
from tests.cvat_server.source import ENV, SourceError, configured
from tests.cvat_server.standin import served
from tests.nuclio_dashboard import StandInDashboard

HERE = Path(__file__).parent
SKIP_REASON = f"{ENV} is not set (CVAT's server source, a directory or .tar.gz, to test against)"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if configured():
        return
    skip = pytest.mark.skip(reason=SKIP_REASON)
    for item in items:
        if HERE in Path(item.path).parents:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def cvat_server(request: pytest.FixtureRequest) -> Iterator[CvatServer]:
    """CVAT started from CVAT_SOURCE for the whole session."""
    source = configured()
    assert source, SKIP_REASON  # the items were marked skipped without it
    capture = request.config.pluginmanager.getplugin("capturemanager")

    def log(message: str) -> None:  # shown at once, past pytest's capture: a build takes minutes
        with capture.global_and_fixture_disabled():
            print(message, file=sys.stderr, flush=True)

    try:
        server = start(source, log=log)
    except (SourceError, CvatStartError) as exc:
        pytest.fail(str(exc), pytrace=False)
    built = f"venv built in {server.build_seconds:.0f}s" if server.venv_built else "venv cached"
    log(
        f"cvat-server: CVAT at {server.url} ready in {server.start_seconds:.0f}s ({built}), "
        f"{server.rss_bytes() / 2**20:.0f} MB resident; steps {server.timings}"
    )
    yield server
    server.stop()


@pytest.fixture
def cvat(cvat_server: CvatServer) -> Iterator[CvatClient]:
    """The admin's client; the dashboard CVAT uses is unset after the test."""
    yield cvat_server.client()
    cvat_server.use_dashboard(None)


@pytest.fixture
def serve_functions(cvat_server: CvatServer) -> Iterator[Callable[..., StandInDashboard]]:
    """``serve_functions(*directories)``: the functions served by cvat-fn behind the
    dashboard stand-in, CVAT pointed at it; all stopped after the test."""
    with ExitStack() as stack:

        def _serve(*directories: Path) -> StandInDashboard:
            dashboard = stack.enter_context(served(list(directories), cvat_server.namespace))
            cvat_server.use_dashboard(dashboard.url)
            return dashboard

        yield _serve
        cvat_server.use_dashboard(None)
