"""Fixtures for cvat-fn's own tests: function directories and the runners that start them."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.nuclio.runners.base import Runner, RunningFunction
from harness.nuclio.runners.process import ProcessRunner

HERE = Path(__file__).parent
FUNCTIONS = HERE / "functions"
ROOT = HERE.parent


STARTED = pytest.StashKey[list[RunningFunction]]()
LOG_TAIL = 20_000  # characters of a function's output in a failed test's report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test that started functions shows their output: a runtime failure in CI is
    read from the function's log (which worker restarted, what it printed), not guessed."""
    report = yield
    if report.when == "call" and report.failed:
        for running in item.stash.get(STARTED, []):
            text = running.logs.text()
            if text:
                report.sections.append((f"function output ({running.url})", text[-LOG_TAIL:]))
    return report


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
def start(
    runner: Runner, request: pytest.FixtureRequest
) -> Iterator[Callable[..., RunningFunction]]:
    """Start function directories with the test's runner; all are stopped afterwards. A failed
    test's report shows what they printed (pytest_runtest_makereport below)."""
    started: list[RunningFunction] = []
    request.node.stash[STARTED] = started

    def _start(directory: Path, **kwargs: Any) -> RunningFunction:
        running = runner.start(directory, **kwargs)
        started.append(running)
        return running

    yield _start
    for running in started:
        running.stop()


@pytest.fixture
def launch(request: pytest.FixtureRequest) -> Iterator[Callable[..., RunningFunction]]:
    """Start function directories with the process runner (keyword arguments: its options),
    for tests of the runtime itself; stopped afterwards, their output in a failed report."""
    started: list[RunningFunction] = []
    request.node.stash[STARTED] = started

    def _launch(directory: Path, **options: Any) -> RunningFunction:
        running = ProcessRunner(**options).start(directory)
        started.append(running)
        return running

    yield _launch
    for running in started:
        running.stop()


@pytest.fixture(scope="module")
def echo(runner: Runner) -> Iterator[RunningFunction]:
    """tests/functions/echo started once per module and runner, for tests that only read."""
    with runner.start(FUNCTIONS / "echo") as running:
        yield running


@pytest.fixture(scope="session")
def images_removed_at_the_end() -> Iterator[list[str]]:
    """Image reference prefixes whose images are removed when the session ends, not when the
    module that built them ends: a model image's pip layer (the same Dockerfile and
    requirements.txt in every `cvat-fn new` repository) is then a build cache hit for the
    modules after it instead of half a minute of downloads each."""
    prefixes: list[str] = []
    yield prefixes
    if not prefixes:
        return
    listed = subprocess.run(
        ["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    ours = [ref for ref in listed.stdout.split() if ref.startswith(tuple(prefixes))]
    if ours:
        subprocess.run(["docker", "image", "rm", "--force", *ours], capture_output=True)


@pytest.fixture(scope="session")
def registry() -> Iterator[str]:
    """A real registry (Debian's docker-registry) on 127.0.0.1 for the session: ``HOST:PORT``."""
    from registry import local_registry, registry_unavailable

    reason = registry_unavailable()
    if reason:
        pytest.skip(reason)
    with local_registry() as address:
        yield address
