"""Temporary directories that name their owner, so the next run removes what a killed run left.

A directory made here is removed by its owner (``remove``, or at exit and on SIGINT/SIGTERM
through ``cleanup``), and holds an owner file with the labels containers carry (labels.py).
``kill -9`` escapes both; the watchdog (watchdog.py) then removes it within seconds, and
where that could not run, the next :class:`ScratchDir` with the same prefix sweeps the
directories whose owner is gone, as the reaper does for containers. Directories of a live
owner, another host, another PID namespace or another user, and any without an owner file,
are left alone. Process groups the owner started and recorded with :meth:`ScratchDir.adopt`
(servers that do not watch their parent, such as a database) are killed by that sweep first.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import stat
import tempfile
from pathlib import Path

import harness.nuclio.runners.cleanup as cleanup
import harness.nuclio.runners.labels as labels
import harness.nuclio.runners.watchdog as watchdog

OWNER_FILE = ".cvat-fn-owner.json"
PROCESSES_FILE = ".cvat-fn-processes.json"


class ScratchDir:
    """A temporary directory of this process; ``remove`` is safe to call twice."""

    def __init__(self, prefix: str) -> None:
        sweep(prefix)
        self.path = Path(tempfile.mkdtemp(prefix=prefix))
        self._token = cleanup.register(self.remove)
        watchdog.watch_path(self.path)  # removed within seconds of a kill -9 of this process
        (self.path / OWNER_FILE).write_text(json.dumps(labels.owner_labels()), encoding="utf-8")

    def adopt(self, pid: int) -> None:
        """Record the process group led by ``pid`` (started with ``start_new_session``), so
        after ``kill -9`` of this process the watchdog ends it, or the next run's sweep where
        the watchdog was killed too; its owner still stops it normally."""
        path = self.path / PROCESSES_FILE
        try:
            groups = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            groups = []
        groups.append({"pid": pid, "start": labels.process_start(pid)})
        partial = path.with_suffix(".tmp")
        partial.write_text(json.dumps(groups), encoding="utf-8")
        partial.replace(path)  # a kill between the two writes leaves the previous list whole
        # the watchdog ends the group within seconds of a kill -9 of this process; the file
        # above is the next run's second line, for a watchdog killed too
        watchdog.watch_group(pid)

    def remove(self) -> None:
        cleanup.unregister(self._token)
        shutil.rmtree(self.path, ignore_errors=True)
        watchdog.release_path(self.path)


def sweep(prefix: str, root: str | Path | None = None) -> list[Path]:
    """Remove ``root/prefix*`` directories whose owner has ended; returns those removed."""
    removed = []
    for path in Path(root or tempfile.gettempdir()).glob(prefix + "*"):
        if owner_gone(path):
            end_adopted(path)
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def owner_gone(path: Path) -> bool:
    """True only for our user's directory whose owner file names a process that has ended."""
    try:
        info = path.lstat()
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            return False  # a file, a symlink, another user's
        owner = json.loads((path / OWNER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(owner, dict):
        return False
    return labels.owner_alive({str(k): str(v) for k, v in owner.items()}) is False


def end_adopted(path: Path) -> None:
    """SIGKILL the process groups a gone owner recorded in ``path``. A leader still running
    with another start time is a reused pid, not ours: left alone. A leader that has ended may
    have left its group behind (a server's workers), which the kernel keeps its id for."""
    try:
        groups = json.loads((path / PROCESSES_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    for group in groups if isinstance(groups, list) else []:
        try:
            pid, start = int(group["pid"]), group.get("start")
        except (TypeError, KeyError, ValueError):
            continue
        current = labels.process_start(pid)
        if pid <= 1 or (current is not None and start is not None and current != start):
            continue
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
