"""Temporary directories that name their owner, so the next run removes what a killed run left.

A directory made here is removed by its owner (``remove``, or at exit and on SIGINT/SIGTERM
through ``cleanup``), and holds an owner file with the labels containers carry (labels.py).
``kill -9`` escapes both; the watchdog (watchdog.py) then removes it within seconds, and
where that could not run, the next :class:`ScratchDir` with the same prefix sweeps the
directories whose owner is gone, as the reaper does for containers. Directories of a live
owner, another host, another PID namespace or another user, and any without an owner file,
are left alone.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from pathlib import Path

from harness.runners import cleanup, labels, watchdog

OWNER_FILE = ".cvat-fn-owner.json"


class ScratchDir:
    """A temporary directory of this process; ``remove`` is safe to call twice."""

    def __init__(self, prefix: str) -> None:
        sweep(prefix)
        self.path = Path(tempfile.mkdtemp(prefix=prefix))
        self._token = cleanup.register(self.remove)
        watchdog.watch_path(self.path)  # removed within seconds of a kill -9 of this process
        (self.path / OWNER_FILE).write_text(json.dumps(labels.owner_labels()), encoding="utf-8")

    def remove(self) -> None:
        cleanup.unregister(self._token)
        shutil.rmtree(self.path, ignore_errors=True)
        watchdog.release_path(self.path)


def sweep(prefix: str, root: str | Path | None = None) -> list[Path]:
    """Remove ``root/prefix*`` directories whose owner has ended; returns those removed."""
    removed = []
    for path in Path(root or tempfile.gettempdir()).glob(prefix + "*"):
        if owner_gone(path):
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
