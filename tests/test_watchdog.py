"""Nothing of a killed run survives it by more than a few seconds, whatever runs next
(harness/nuclio/runners/watchdog.py, after testcontainers' Ryuk).

Real runs are killed with ``kill -9``, which no cleanup inside them survives: ``cvat-fn
serve`` and ``pytest --function`` with either runtime. Each test then polls, with a deadline
and without starting anything else, until no process, container or directory of the run is
left; before the watchdog a container stayed "Up" until the next docker start reaped it, and
a served cvat-sdk module's scratch directory until the next run swept it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from harness.nuclio.runners import labels
from tests.test_process_cleanup import alive, descendants

ROOT = Path(__file__).resolve().parents[1]
ECHO = ROOT / "tests" / "functions" / "echo"
DOCKER_ECHO = ROOT / "tests" / "functions" / "docker_echo"
SDK_MODULE = ROOT / "tests" / "sdk_functions" / "convert_rectangle" / "convert_rectangle.py"
GONE_WITHIN_S = 10.0
"""The watchdog's worst case is a 3 s grace for SIGTERM, a second container sweep a second
later, and the Docker Engine's removal; the deadline leaves room for a loaded machine."""


def poll(condition: Callable[[], bool], seconds: float) -> bool:
    """True as soon as ``condition`` holds; False if it does not within ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        if condition():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def env_with(tmpdir: Path) -> dict[str, str]:
    """This tree first on PYTHONPATH; temporary directories under ``tmpdir`` to be counted."""
    path = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(path), TMPDIR=str(tmpdir))


def start(command: list[str], tmpdir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env=env_with(tmpdir),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a process group of its own, as a terminal gives a command
    )


def first_line(proc: subprocess.Popen[str], seconds: float) -> str:
    """The first stdout line (serve prints its URL when the function is ready)."""
    line: list[str] = []
    assert proc.stdout is not None
    stdout = proc.stdout
    reader = threading.Thread(target=lambda: line.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(seconds)
    if not line or not line[0].strip():
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"nothing started:\n{err}")
    return line[0].strip()


def kill_9(proc: subprocess.Popen[str]) -> None:
    """SIGKILL, waited for; its pipes closed here (what it started may still hold them)."""
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(30) == -signal.SIGKILL
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


@pytest.fixture
def tmpdir_root(tmp_path: Path) -> Path:
    root = tmp_path / "tmp"
    root.mkdir()
    return root


# -- process runner ---------------------------------------------------------------------------


def test_kill_9_of_serve_leaves_no_process_within_seconds(tmpdir_root: Path) -> None:
    """The processor, its workers (and the watchdog itself): all gone; nothing run after.
    (This held before the watchdog too: the processor watches its parent's pid.)"""
    proc = start([sys.executable, "-m", "harness.cli", "serve", str(ECHO)], tmpdir_root)
    url = first_line(proc, 120)
    assert requests.post(url, json={"x": 1}, timeout=30).status_code == 200
    started = descendants(proc.pid)
    assert len(started) >= 3, "expected the processor and its two workers"
    kill_9(proc)
    assert poll(lambda: not any(alive(p) for p in started), GONE_WITHIN_S), [
        p for p in started if alive(p)
    ]


def test_kill_9_of_serve_of_an_sdk_module_leaves_no_directory(tmpdir_root: Path) -> None:
    """A served cvat-sdk module runs from a scratch directory: it goes with the processes,
    without the next run's sweep (before the watchdog, it stayed until then)."""
    command = [sys.executable, "-m", "harness.cli", "serve", str(SDK_MODULE)]
    proc = start(command, tmpdir_root)
    first_line(proc, 180)
    started = descendants(proc.pid)
    assert list(tmpdir_root.glob("cvat-fn-sdk-*")), "the module's scratch directory"
    kill_9(proc)

    def nothing_left() -> bool:
        return not any(alive(p) for p in started) and not list(tmpdir_root.iterdir())

    assert poll(nothing_left, GONE_WITHIN_S), list(tmpdir_root.iterdir())


def test_a_busy_worker_does_not_outlive_its_killed_processor(tmp_path: Path) -> None:
    """kill -9 of the processor alone, while a worker is inside a handler that would run a
    minute: the worker ends on its own (harness/nuclio/runtime/wrapper.py ``exit_with_parent``)."""
    from harness.nuclio.runners.process import ProcessRunner

    function = tmp_path / "hang"
    function.mkdir()
    marker = tmp_path / "handling"
    (function / "main.py").write_text(
        "import pathlib, time\n\n"
        "def handler(context, event):\n"
        f"    pathlib.Path({str(marker)!r}).touch()\n"
        "    time.sleep(60)\n"
        "    return 'late'\n"
    )
    (function / "function.yaml").write_text(
        "metadata: {name: hang}\nspec: {runtime: 'python:3.11', handler: main:handler,"
        " eventTimeout: 120s}\n"
    )
    with ProcessRunner().start(function) as running:
        processor = running.proc.pid  # type: ignore[attr-defined]
        workers = descendants(processor)
        threading.Thread(target=_post_quietly, args=(running.url,), daemon=True).start()
        assert poll(marker.exists, 30), "the request never reached a worker"
        os.kill(processor, signal.SIGKILL)
        assert poll(lambda: not any(alive(p) for p in workers), GONE_WITHIN_S)


def _post_quietly(url: str) -> None:
    with contextlib.suppress(requests.RequestException):
        requests.post(url, json={}, timeout=90)


# -- docker runner ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client() -> Any:
    from harness.nuclio.runners.docker import docker_available, docker_client

    reason = docker_available()
    if reason:
        pytest.skip(reason)
    return docker_client()


def _containers_of(client: Any, pid: int) -> list[Any]:
    # sparse: no inspect per container, which a removal under way would make fail
    found = client.containers.list(
        all=True, sparse=True, filters={"label": [f"{labels.PID}={pid}"]}
    )
    return list(found)


HOLD = """
import time

def test_hold(cvat_function):
    assert cvat_function.url
    time.sleep(300)
"""


def _pytest_run(tmpdir: Path) -> list[str]:
    """``pytest --function docker_echo --runtime docker`` with a test of the user's that
    holds the running function (the cvat_function fixture) until it is killed."""
    (tmpdir / "test_hold.py").write_text(HOLD)
    return [
        sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--function",
        str(DOCKER_ECHO), "--runtime", "docker", str(tmpdir / "test_hold.py"), "-k", "hold",
    ]  # fmt: skip


RUNS: dict[str, Callable[[Path], list[str]]] = {
    "serve": lambda tmpdir: [
        sys.executable, "-m", "harness.cli", "serve", str(DOCKER_ECHO), "--runtime", "docker",
    ],
    "pytest": _pytest_run,
}  # fmt: skip


@pytest.mark.docker
@pytest.mark.parametrize("run", list(RUNS))
def test_kill_9_of_a_docker_run_removes_its_container_within_seconds(
    client: Any, tmpdir_root: Path, run: str
) -> None:
    proc = start(RUNS[run](tmpdir_root), tmpdir_root)
    try:
        up = poll(lambda: any(c.status == "running" for c in _containers_of(client, proc.pid)), 300)
        assert up, "the run never had its container up"
    except BaseException:
        proc.kill()
        raise
    kill_9(proc)
    assert poll(lambda: not _containers_of(client, proc.pid), GONE_WITHIN_S), [
        (c.short_id, c.status) for c in _containers_of(client, proc.pid)
    ]


# -- the watchdog itself ----------------------------------------------------------------------

OWNER = """
import json, os, subprocess, sys, time
from harness.nuclio.runners import watchdog
kept = subprocess.Popen(["sleep", "300"], start_new_session=True)
ended = subprocess.Popen(["sleep", "300"], start_new_session=True)
watchdog.watch_group(kept.pid)
watchdog.watch_group(ended.pid)
watchdog.release_group(kept.pid)   # stopped by the owner, as far as the watchdog knows
os.mkdir(sys.argv[1])
watchdog.watch_path(sys.argv[1])
print(json.dumps({"kept": kept.pid, "ended": ended.pid,
                  "watchdog": watchdog.get().process.pid}), flush=True)
time.sleep(300)
"""


def test_the_watchdog_ends_what_it_was_given_and_nothing_released(tmp_path: Path) -> None:
    directory = tmp_path / "scratch"
    owner = start([sys.executable, "-c", OWNER, str(directory)], tmp_path)
    pids = json.loads(first_line(owner, 60))
    try:
        assert directory.is_dir()
        kill_9(owner)
        assert poll(lambda: not alive(pids["ended"]) and not directory.exists(), GONE_WITHIN_S)
        assert poll(lambda: not alive(pids["watchdog"]), GONE_WITHIN_S), "it exits when done"
        assert alive(pids["kept"]), "a released group was ended"
    finally:
        for pid in (pids["kept"], pids["ended"]):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_a_reused_pid_is_not_taken_for_the_group() -> None:
    """A group is ended only while its leader is the process registered (boot id and start
    time, labels.process_start), or gone with members left."""
    from harness.nuclio.runners import watchdog

    sleeper = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        start_time = labels.process_start(sleeper.pid)
        assert watchdog.end_groups({sleeper.pid: "another-boot/1"}) == []
        assert watchdog.end_groups({sleeper.pid: None}) == []
        assert sleeper.poll() is None
        assert watchdog.end_groups({sleeper.pid: start_time}) == [sleeper.pid]
        assert sleeper.wait(10) == -signal.SIGTERM
    finally:
        with contextlib.suppress(ProcessLookupError):
            sleeper.kill()
        sleeper.wait()


def test_an_owner_that_ends_normally_leaves_the_watchdog_nothing_to_do(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "from harness.nuclio.runners import watchdog;"
         " print(watchdog.get().process.pid)"],
        cwd=ROOT, env=env_with(tmp_path), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert poll(lambda: not alive(int(done.stdout)), GONE_WITHIN_S)
