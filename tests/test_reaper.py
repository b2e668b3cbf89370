"""Containers outlive a killed run only until the next one: the reaper, and signal cleanup.

Real processes: a child Python starts a function in Docker, then is killed (SIGKILL, which
nothing can catch, or SIGTERM, which the cleanup registry handles).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from harness.nuclio.runners import labels, reaper
from harness.nuclio.runners.docker import (
    DockerRunner,
    default_base_image,
    docker_available,
    docker_client,
)

ROOT = Path(__file__).resolve().parents[1]
ECHO = ROOT / "tests" / "functions" / "docker_echo"

CHILD = """
import sys, time
from harness.nuclio.runners.docker import DockerRunner
running = DockerRunner(progress=lambda message: None).start(sys.argv[1])
print(running.container.id, flush=True)
time.sleep(600)
"""


def test_owner_alive_judges_only_our_labels() -> None:
    mine = labels.owner_labels()
    assert labels.owner_alive(mine) is True
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    assert labels.owner_alive({**mine, labels.PID: str(dead.pid)}) is False
    # A live pid that started at another time is a reused pid: its owner is gone.
    assert labels.owner_alive({**mine, labels.PID_START: "other-boot/1"}) is False
    assert labels.owner_alive({**mine, labels.HOST: socket.gethostname() + "-other"}) is None
    assert labels.owner_alive({labels.MANAGED: "true"}) is None  # e.g. inherited from an image
    assert labels.owner_alive({}) is None


@pytest.fixture(scope="module")
def client() -> Any:
    reason = docker_available()
    if reason:
        pytest.skip(reason)
    return docker_client()


def _start_child() -> tuple[subprocess.Popen[str], str]:
    """A Python process that started docker_echo and now sleeps; returns it and the container."""
    path = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path))
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(ECHO)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line: list[str] = []
    assert child.stdout is not None
    stdout = child.stdout
    reader = threading.Thread(target=lambda: line.append(stdout.readline()))
    reader.start()
    reader.join(300)
    if not line or not line[0].strip():
        child.kill()
        _, err = child.communicate()
        pytest.fail(f"the child did not start the function:\n{err}")
    return child, line[0].strip()


def _exists(client: Any, container_id: str) -> bool:
    import docker.errors

    try:
        client.containers.get(container_id)
    except docker.errors.NotFound:
        return False
    return True


@pytest.mark.docker
def test_kill_9_leftover_is_reaped_by_next_start_and_nothing_else(client: Any) -> None:
    import docker.errors

    base = default_base_image()
    unrelated = client.containers.run(base, ["sleep", "300"], detach=True)
    live_owner = client.containers.create(base, ["sleep", "300"], labels=labels.owner_labels())
    try:
        child, orphan_id = _start_child()
        child.send_signal(signal.SIGKILL)
        child.communicate()
        assert _exists(client, orphan_id), "SIGKILL cannot be caught: the container stays"
        assert client.containers.get(orphan_id).labels[labels.PID] == str(child.pid)

        runner = DockerRunner(client=client, progress=lambda message: None)
        with runner.start(ECHO):
            assert not _exists(client, orphan_id)
        assert _exists(client, unrelated.id), "a container without our labels was removed"
        assert _exists(client, live_owner.id), "a container whose owner lives was removed"
        assert reaper.reap(client) == []
    finally:
        for container in (unrelated, live_owner):
            with contextlib.suppress(docker.errors.APIError):
                container.remove(force=True)


@pytest.mark.docker
def test_sigterm_removes_the_container(client: Any) -> None:
    child, container_id = _start_child()
    child.send_signal(signal.SIGTERM)
    child.communicate(timeout=60)
    assert child.returncode == -signal.SIGTERM  # the default behaviour carries on after cleanup
    assert not _exists(client, container_id)


@pytest.mark.docker
def test_ctrl_c_removes_the_container(client: Any) -> None:
    child, container_id = _start_child()
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=60)
    assert "KeyboardInterrupt" in err
    assert not _exists(client, container_id)
