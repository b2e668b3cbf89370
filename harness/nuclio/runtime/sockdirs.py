"""The workers' socket directories, and the sweep of those a killed processor left.

A processor removes its workers' directories when it stops; ``kill -9`` of the processor
escapes that. Each directory therefore holds an owner file (the processor's pid, its start
time and PID namespace), and the next processor sweeps ``cvat-fn-w*`` directories whose owner
has ended, as ``harness.nuclio.runners.scratch`` does for the runners' directories. They live in the
system temp directory, not a runner's (deeper) one, because a socket path must stay under
AF_UNIX's 108 bytes. This module runs inside function images: standard library only, 3.9+.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
from typing import List, Optional

PREFIX = "cvat-fn-w"
OWNER_FILE = "owner"
NAME = re.compile(r"^cvat-fn-w[0-9]+-")  # PREFIX, the worker's index, then mkdtemp's suffix


def is_socket_dir(name: str) -> bool:
    """Whether ``name`` is a worker's socket directory (a runner's ``cvat-fn-`` scratch
    directory may start with ``cvat-fn-w`` too, by chance of its random suffix)."""
    return NAME.match(name) is not None


def _process_start(pid: int) -> Optional[str]:
    """Field 22 of /proc/PID/stat (start time in clock ticks): tells a reused pid apart."""
    try:
        with open("/proc/{}/stat".format(pid), "rb") as f:
            # the command name may hold any bytes: split after its closing parenthesis
            return f.read().rsplit(b")", 1)[1].split()[19].decode("ascii", "replace")
    except (OSError, IndexError):
        return None


def _pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def make(index: int) -> str:
    """A new directory for worker ``index``'s sockets, with this process as its owner."""
    path = tempfile.mkdtemp(prefix="{}{}-".format(PREFIX, index))
    owner = "{} {} {}".format(os.getpid(), _process_start(os.getpid()) or "-", _pid_namespace())
    with open(os.path.join(path, OWNER_FILE), "w", encoding="utf-8") as f:
        f.write(owner)
    return path


def remove(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


def owner_gone(path: str) -> bool:
    """True only for our user's directory whose owner file names a process that has ended
    (in our PID namespace); anything else, or anything unreadable, is left alone."""
    try:
        info = os.lstat(path)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            return False
        with open(os.path.join(path, OWNER_FILE), encoding="utf-8") as f:
            pid_text, start, namespace = (f.read().split(" ", 2) + ["", ""])[:3]
        pid = int(pid_text)
    except (OSError, ValueError):
        return False
    if pid <= 0 or namespace.strip() != _pid_namespace():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    now = _process_start(pid)
    return start not in ("", "-") and now is not None and now != start


def sweep(root: Optional[str] = None) -> List[str]:
    """Remove the socket directories of processors that have ended; returns those removed."""
    root = root or tempfile.gettempdir()
    removed: List[str] = []
    try:
        names = os.listdir(root)
    except OSError:
        return removed
    for name in names:
        path = os.path.join(root, name)
        if is_socket_dir(name) and owner_gone(path):
            remove(path)
            removed.append(path)
    return removed
