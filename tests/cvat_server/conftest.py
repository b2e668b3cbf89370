"""Fixtures for the tests that run against a real CVAT server, started from ``CVAT_SOURCE``.

- ``cvat_server`` (session): a :class:`~tests.cvat_server.server.CvatServer`, started once
  (server.py says how); stopped at the end, leaving no process, port or directory.
- ``cvat_release`` (module, parametrised): the same server, then one for each release in
  ``CVAT_OTHER_SOURCES`` (source.py), each started when a module first asks for it and stopped
  when the module is done with it, so at most one other release runs beside the session's.
  Test ids name the release (``[2.22.0]``); the verdict corpus (test_verdicts.py) uses it.
- ``cvat`` (function): a :class:`~tests.cvat_server.client.CvatClient` logged in as the admin;
  CVAT's dashboard is unset again after the test.
- ``serve_functions`` (function): ``serve_functions(dir, ...)`` starts function directories with
  cvat-fn's process runner behind the dashboard stand-in (tests/nuclio_dashboard.py) and points
  CVAT at it; returns the stand-in (``.functions[name].url`` is each function's own address).

Without ``CVAT_SOURCE`` the tests are skipped with one reason naming it: a test module here
starts with ``import tests.cvat_server.requires_source  # noqa: F401`` (requires_source.py).
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.cvat_server.client import CvatClient
from tests.cvat_server.server import CvatServer, CvatStartError, start
from tests.cvat_server.source import ENV, OTHERS_ENV, SourceError, configured, others
from tests.cvat_server.standin import served
from tests.nuclio_dashboard import StandInDashboard

SKIP_REASON = f"{ENV} is not set (CVAT's server source, a directory or .tar.gz, to test against)"


def _served(request: pytest.FixtureRequest, source: str, env: str) -> Iterator[CvatServer]:
    """CVAT started from ``source`` (named by ``env``) until the fixture ends."""
    capture = request.config.pluginmanager.getplugin("capturemanager")

    def log(message: str) -> None:  # shown at once, past pytest's capture: a build takes minutes
        with capture.global_and_fixture_disabled():
            print(message, file=sys.stderr, flush=True)

    try:
        server = start(source, log=log, env=env)
    except (SourceError, CvatStartError) as exc:
        pytest.fail(str(exc), pytrace=False)
    built = f"venv built in {server.build_seconds:.0f}s" if server.venv_built else "venv cached"
    log(
        f"cvat-server: CVAT {server.release} at {server.url} ready in "
        f"{server.start_seconds:.0f}s ({built}), {server.rss_bytes() / 2**20:.0f} MB resident; "
        f"datumaro {server.datumaro}; steps {server.timings}"
    )
    yield server
    resident = server.rss_bytes()
    stopping = time.monotonic()
    server.stop()
    log(
        f"cvat-server: CVAT {server.release}: {resident / 2**20:.0f} MB resident at the end; "
        f"stopped in {time.monotonic() - stopping:.1f}s"
    )


@pytest.fixture(scope="session")
def cvat_server(request: pytest.FixtureRequest) -> Iterator[CvatServer]:
    """CVAT started from CVAT_SOURCE for the whole session."""
    source = configured()
    if not source:
        pytest.skip(SKIP_REASON)
    yield from _served(request, source, ENV)


def _release_params() -> list[object]:
    """CVAT_SOURCE, then each of CVAT_OTHER_SOURCES, with the release its name shows as id."""
    named = [(ENV, configured() or "")] + [
        (f"{OTHERS_ENV}[{i}]", s) for i, s in enumerate(others())
    ]
    params = []
    for env, source in named:
        shown = re.search(r"\d+\.\d+\.\d+", Path(source).name)
        params.append(pytest.param((env, source), id=shown.group(0) if shown else env))
    return params


@pytest.fixture(scope="module", params=_release_params())
def cvat_release(request: pytest.FixtureRequest) -> Iterator[CvatServer]:
    """The session's CVAT, then CVAT started from each of CVAT_OTHER_SOURCES for one module."""
    env, source = request.param
    if env == ENV:
        yield request.getfixturevalue("cvat_server")
    else:
        yield from _served(request, source, env)


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
