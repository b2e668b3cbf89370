"""No runtime process outlives the run that started it: Ctrl-C, SIGTERM and kill -9 included."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import FUNCTIONS

INNER = """
import os, time
import pytest
from harness.nuclio.runners.process import ProcessRunner

@pytest.fixture
def echo():
    with ProcessRunner().start({function!r}) as running:
        yield running

def test_hold(echo):
    {write}
    time.sleep(120)
"""

DIRECT = """
import os, time
from harness.nuclio.runners.process import ProcessRunner

def test_hold():
    running = ProcessRunner().start({function!r})
    {write}
    time.sleep(120)
"""

WRITE = (
    "open({path!r} + '.tmp', 'w').write(f'{{running.proc.pid}} {{running.workdir}}');"
    " os.replace({path!r} + '.tmp', {path!r})"
)


def descendants(pid: int) -> set[int]:
    """All processes below pid, read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_gone(pids: set[int], seconds: float) -> set[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        left = {p for p in pids if alive(p)}
        if not left:
            return left
        time.sleep(0.05)
    return {p for p in pids if alive(p)}


def run_and_signal(
    pytester: pytest.Pytester, template: str, sig: int
) -> tuple[set[int], int, Path]:
    pidfile = str(pytester.path / "processor.pid")
    source = template.format(
        function=str(FUNCTIONS / "echo"),
        write=WRITE.format(path=pidfile).replace("running", "echo")
        if "def echo" in template
        else WRITE.format(path=pidfile),
    )
    pytester.makepyfile(test_inner=source)
    inner = pytester.popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_inner.py"],
        stdin=pytester.CLOSE_STDIN,
    )
    deadline = time.monotonic() + 60
    while not os.path.exists(pidfile):
        assert inner.poll() is None, inner.stdout.read().decode()
        assert time.monotonic() < deadline, "the inner run never started its function"
        time.sleep(0.05)
    pid_text, workdir = Path(pidfile).read_text().split()
    processor = int(pid_text)
    assert Path(workdir).is_dir()
    started = {processor} | descendants(processor)
    assert len(started) >= 3, "expected the processor and its two workers"
    os.kill(inner.pid, sig)
    inner.wait(30)
    return started, inner.returncode, Path(workdir)


def test_sigint_mid_run_leaves_no_runtime_process(pytester):
    started, code, workdir = run_and_signal(pytester, INNER, signal.SIGINT)
    assert code == 2  # pytest's "interrupted"
    assert wait_gone(started, 0) == set()
    assert not workdir.exists()


def test_sigterm_mid_run_leaves_no_runtime_process(pytester):
    started, code, workdir = run_and_signal(pytester, DIRECT, signal.SIGTERM)
    assert code == -signal.SIGTERM
    assert wait_gone(started, 0) == set()
    assert not workdir.exists()


def test_kill_9_of_the_runner_ends_the_function_soon(pytester):
    started, code, workdir = run_and_signal(pytester, DIRECT, signal.SIGKILL)
    assert code == -signal.SIGKILL
    # nothing can run in a killed process: the processor notices its parent is gone
    assert wait_gone(started, 10) == set()
    # and the runner's scratch directory goes with the processor
    assert not workdir.exists()
