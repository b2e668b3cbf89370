"""A watchdog that outlives its owner: what a run started goes within seconds of the run,
even when the run is killed with ``kill -9``.

The model is testcontainers' Ryuk, a reaper that removes a session's labelled containers
as soon as its client's connection drops; here it is a small process instead of a
container, since it must also end host processes and remove host directories:

- On first use an owner (any process that starts something: pytest, ``cvat-fn serve``,
  the dashboard) starts ``python -m harness.nuclio.runners.watchdog`` detached, in a session of its
  own (so the terminal's Ctrl-C and hang-up reach only the owner), with the read end of a
  pipe as its stdin. Only the owner holds the write end (the pipe is not inheritable, so
  the owner's other children never keep it open).
- Through the pipe the owner tells it, one JSON line each, what to take care of: its
  labelled containers (this session's, labels.py), process groups (the process runner's
  processor and its workers), directories (scratch and work directories); and what it has
  stopped itself, so a pid reused later is never touched.
- The pipe reaches end of file when the owner ends, however it ends: the kernel closes the
  write end of a killed process. The watchdog then ends the groups (SIGTERM to the leader,
  so a processor stops its workers and removes its own files, then SIGKILL to whatever is
  left in the group after a grace period), removes the session's containers (after a kill
  twice, a second after the first time, for a create the engine finished after its client
  died), removes the directories and the socket directories of processors that are gone
  (harness.nuclio.runtime.sockdirs), and exits.

When the owner stopped everything itself (the normal case, and Ctrl-C or SIGTERM through
cleanup.py) the watchdog finds nothing left and exits (at once when the owner said at exit
that it ends normally). The reapers of the next run
(reaper.py, scratch.py) stay as a second line for a watchdog that could not start or was
itself killed.

For a long-running owner (``cvat-fn serve``, ``cvat-fn dashboard``) that starts processes
of its own::

    from harness.nuclio.runners import watchdog

    proc = subprocess.Popen(command, start_new_session=True)
    watchdog.watch_group(proc.pid)      # ended if this process dies, however it dies
    ...
    stop(proc); watchdog.release_group(proc.pid)
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import harness.nuclio.runners.labels as labels
from harness.nuclio.runners.pythonpath import harness_pythonpath

GROUP_GRACE_S = 3.0
"""How long a group has after SIGTERM before SIGKILL: a processor stops its workers and
removes its files in well under that."""
SETTLE_S = 1.0
"""The second container sweep comes this long after the first: a create request in flight
when the owner died may still be completed by the engine."""


class Watchdog:
    """The owner's side: the pipe to the watchdog process and what it was told."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._lock = threading.RLock()  # a signal handler may send while main holds it
        read, self._write = os.pipe()  # both ends non-inheritable (PEP 446)
        env = dict(os.environ, PYTHONPATH=harness_pythonpath(os.environ))
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "harness.nuclio.runners.watchdog"],
                stdin=read,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd="/",
                env=env,
                start_new_session=True,
            )
        finally:
            os.close(read)
        self._containers = False
        atexit.register(self.send, {"op": "exiting"})  # not sent when killed

    def send(self, message: dict[str, Any]) -> bool:
        """One message; False when the watchdog is gone (the next run's reapers remain), or
        from a forked child, whose watchdog this is not."""
        if os.getpid() != self.pid:
            return False
        data = (json.dumps(message) + "\n").encode()
        with self._lock:
            try:
                os.write(self._write, data)
            except OSError:
                return False
        return True

    def watch_containers(self) -> None:
        """Remove this session's containers (labels.py) when the owner ends."""
        if not self._containers:
            self._containers = self.send(
                {"op": "containers", "session": labels.session_id(), "pid": self.pid}
            )


_current: Watchdog | None = None
_current_lock = threading.RLock()  # re-entrant: cleanup may run from a signal handler


def get() -> Watchdog | None:
    """This process's watchdog, started on first use; None where it cannot start."""
    global _current
    with _current_lock:
        # a forked child has its parent's object but not its pipe's meaning: start its own
        if _current is None or _current.pid != os.getpid():
            try:
                _current = Watchdog()
            except OSError:
                _current = None
        return _current


def _started() -> Watchdog | None:
    """This process's watchdog if one was started (releasing starts none)."""
    dog = _current
    return dog if dog is not None and dog.pid == os.getpid() else None


def watch_containers() -> None:
    """Remove this process's labelled containers (labels.owner_labels) when it ends."""
    if (dog := get()) is not None:
        dog.watch_containers()


def watch_group(pid: int) -> None:
    """End process group ``pid`` (a process started with ``start_new_session=True`` and
    its children) when this process ends."""
    if (dog := get()) is not None:
        dog.send({"op": "group", "pid": pid, "start": labels.process_start(pid)})


def release_group(pid: int) -> None:
    """The group was stopped by its owner: forget it."""
    if (dog := _started()) is not None:
        dog.send({"op": "release-group", "pid": pid})


def watch_path(path: str | Path) -> None:
    """Remove directory ``path`` when this process ends."""
    if (dog := get()) is not None:
        dog.send({"op": "path", "path": os.path.abspath(path)})


def release_path(path: str | Path) -> None:
    """The directory was removed by its owner: forget it."""
    if (dog := _started()) is not None:
        dog.send({"op": "release-path", "path": os.path.abspath(path)})


# -- the watchdog process ---------------------------------------------------------------------


class Duties:
    """What the owner left in the watchdog's care."""

    def __init__(self) -> None:
        self.groups: dict[int, str | None] = {}  # pid -> its start (labels.process_start)
        self.paths: list[str] = []
        self.containers: tuple[str, int] | None = None  # (session, owner pid)
        self.exiting = False  # the owner said it ends normally (its cleanup ran or runs)

    def take(self, message: Any) -> None:
        if not isinstance(message, dict):
            return
        op = message.get("op")
        if op == "group" and isinstance(message.get("pid"), int):
            self.groups[message["pid"]] = message.get("start")
        elif op == "release-group":
            self.groups.pop(message.get("pid"), None)  # type: ignore[arg-type]
        elif op == "path" and isinstance(message.get("path"), str):
            if message["path"] not in self.paths:
                self.paths.append(message["path"])
        elif op == "release-path":
            with contextlib.suppress(ValueError):
                self.paths.remove(message.get("path"))  # type: ignore[arg-type]
        elif op == "exiting":
            self.exiting = True
        elif op == "containers":
            self.containers = (str(message.get("session")), int(message.get("pid") or 0))


def read_duties(stream: IO[bytes]) -> Duties:
    """Messages until end of file, which is the owner's end."""
    duties = Duties()
    for line in stream:
        with contextlib.suppress(ValueError):
            duties.take(json.loads(line))
    return duties


def _ours(pid: int, start: str | None) -> bool:
    """Whether group ``pid`` is still the one the owner started: its leader is the same
    process, or gone while members remain (the kernel keeps a group's number from being
    reused while the group has members)."""
    if start is None:
        return False  # not known when it was registered: never guess
    now = labels.process_start(pid)
    return now is None or now == start


def end_groups(groups: dict[int, str | None]) -> list[int]:
    """Ask each group still ours to stop: SIGTERM to its leader, which stops the rest as a
    processor stops its workers; a group whose leader is gone gets SIGKILL at once. Returns
    the groups signalled."""
    hit = []
    for pid, start in groups.items():
        if pid <= 1 or not _ours(pid, start):
            continue
        try:
            if labels.process_start(pid) is not None:
                os.kill(pid, signal.SIGTERM)
            else:
                os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            continue
        hit.append(pid)
    return hit


def kill_groups(groups: dict[int, str | None]) -> None:
    """SIGKILL to every process left in the groups still ours."""
    for pid, start in groups.items():
        if pid > 1 and _ours(pid, start):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)


def wait_groups_gone(pids: Iterable[int], timeout: float) -> list[int]:
    """Poll until no process is left in the groups, up to ``timeout``; those still there."""
    deadline = time.monotonic() + timeout
    left = list(pids)
    while left:
        left = [p for p in left if _group_alive(p)]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return left


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_containers(session: str, pid: int) -> list[str]:
    """Remove the containers labelled with the owner's session and pid."""
    try:
        import docker
        import docker.errors
    except ImportError:
        return []
    removed: list[str] = []
    try:
        client = docker.from_env(timeout=30)
        found = client.containers.list(
            all=True,
            sparse=True,  # no inspect of each: one being removed would fail the listing
            filters={"label": [f"{labels.SESSION}={session}", f"{labels.PID}={pid}"]},
        )
    except Exception:  # noqa: BLE001 - no engine, nothing of ours to remove
        return removed
    for container in found:
        with contextlib.suppress(Exception):
            container.remove(force=True, v=True)
            removed.append(container.name)
    return removed


def carry_out(duties: Duties) -> None:
    """Everything the owner left behind goes: groups, containers, directories."""
    signalled = end_groups(duties.groups)
    if duties.containers is not None:
        remove_containers(*duties.containers)
    left = wait_groups_gone(signalled, GROUP_GRACE_S)
    if left:
        kill_groups({p: duties.groups[p] for p in left})
        wait_groups_gone(left, GROUP_GRACE_S)
    for path in duties.paths:
        shutil.rmtree(path, ignore_errors=True)
    if duties.groups:
        from harness.nuclio.runtime import sockdirs

        sockdirs.sweep()  # the workers' socket directories of a processor killed above
    if duties.containers is not None and not duties.exiting:
        time.sleep(SETTLE_S)  # a killed owner may have had a create in flight
        remove_containers(*duties.containers)


def main() -> None:
    for signum in (signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)  # only the owner's end ends the watchdog
    carry_out(read_duties(sys.stdin.buffer))


if __name__ == "__main__":
    main()
