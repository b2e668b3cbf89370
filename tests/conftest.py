"""Fixtures for cvat-fn's own tests: function directories and the runners that start them."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.nuclio.runners.base import Runner, RunningFunction
from harness.nuclio.runners.process import ProcessRunner

HERE = Path(__file__).parent
FUNCTIONS = HERE / "functions"
ROOT = HERE.parent


def _runners() -> list[Any]:
    params: list[Any] = ["process"]
    params.append(pytest.param("docker", marks=pytest.mark.docker))
    return params


def make_runner(name: str, wrapper: str | None = None) -> Runner:
    if name == "process":
        return ProcessRunner(wrapper=wrapper)
    from harness.nuclio.runners.docker import DockerRunner, docker_available

    reason = docker_available()
    if reason:
        pytest.skip(reason)
    return DockerRunner(wrapper=wrapper)


@pytest.fixture(params=_runners(), scope="module")
def runner(request: pytest.FixtureRequest) -> Runner:
    """Each runtime-contract test runs once per runner: the same rules hold in both.
    ``--wrapper PATH`` (the plugin's option) runs them with another worker script, such as
    Nuclio's own _nuclio_wrapper.py."""
    return make_runner(request.param, request.config.getoption("wrapper"))


def copy_function(
    tmp_path: Path, source: str, trigger: dict[str, Any] | None = None, **spec: Any
) -> Path:
    """A copy of tests/functions/<source> with function.yaml fields overridden."""
    target = tmp_path / source
    shutil.copytree(FUNCTIONS / source, target)
    data = yaml.safe_load((target / "function.yaml").read_text())
    data["spec"].update(spec)
    if trigger:
        data["spec"]["triggers"]["myHttpTrigger"].update(trigger)
    (target / "function.yaml").write_text(yaml.safe_dump(data))
    return target


@pytest.fixture
def start(runner: Runner) -> Iterator[Callable[..., RunningFunction]]:
    """Start function directories with the test's runner; all are stopped afterwards."""
    started: list[RunningFunction] = []

    def _start(directory: Path, **kwargs: Any) -> RunningFunction:
        running = runner.start(directory, **kwargs)
        started.append(running)
        return running

    yield _start
    for running in started:
        running.stop()


@pytest.fixture(scope="module")
def echo(runner: Runner) -> Iterator[RunningFunction]:
    """tests/functions/echo started once per module and runner, for tests that only read."""
    with runner.start(FUNCTIONS / "echo") as running:
        yield running


@pytest.fixture(scope="session")
def registry() -> Iterator[str]:
    """A real registry (Debian's docker-registry) on 127.0.0.1 for the session: ``HOST:PORT``."""
    from registry import local_registry, registry_unavailable

    reason = registry_unavailable()
    if reason:
        pytest.skip(reason)
    with local_registry() as address:
        yield address
