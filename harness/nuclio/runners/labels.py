"""The labels that mark what cvat-fn created in Docker, and who owns it.

Every container carries the session (one per process) and the owner's pid, so that what a
run killed with ``kill -9`` started can be removed by its watchdog (watchdog.py) or else by
the next run (the reaper), and nothing without these labels is ever touched. A pid means
something only on its host and in its PID namespace (two CI jobs on one Docker engine may
share a hostname, never a namespace), so both are part of the owner's identity.
"""

from __future__ import annotations

import functools
import os
import socket
import uuid
from pathlib import Path

PREFIX = "org.cvat-fn"
MANAGED = f"{PREFIX}.managed"
SESSION = f"{PREFIX}.session"
PID = f"{PREFIX}.pid"
PID_START = f"{PREFIX}.pid-start"
HOST = f"{PREFIX}.host"
PID_NS = f"{PREFIX}.pid-ns"
FUNCTION = f"{PREFIX}.function"


@functools.cache
def session_id() -> str:
    """One id for everything this run starts, so its containers can be listed together."""
    return uuid.uuid4().hex[:12]


def process_start(pid: int) -> str | None:
    """``boot-id/start-ticks`` of a process, so a reused pid is not taken for its owner."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None
    # Field 22 (starttime); the command name (field 2) may hold spaces, so split after ')'.
    fields = stat.rsplit(")", 1)[1].split()
    return f"{boot}/{fields[19]}"


def pid_namespace() -> str | None:
    """This process's PID namespace, e.g. ``pid:[4026531836]`` (None where /proc lacks it)."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


def owner_labels() -> dict[str, str]:
    """Labels for a container this process owns."""
    labels = {
        MANAGED: "true",
        SESSION: session_id(),
        PID: str(os.getpid()),
        HOST: socket.gethostname(),
    }
    start = process_start(os.getpid())
    if start:
        labels[PID_START] = start
    namespace = pid_namespace()
    if namespace:
        labels[PID_NS] = namespace
    return labels


def owner_alive(labels: dict[str, str]) -> bool | None:
    """Whether the process that owns a container still runs; None if not ours to judge.

    None for another host's or another PID namespace's containers (a shared engine) and for
    anything without our pid label.
    """
    if labels.get(MANAGED) != "true" or PID not in labels or SESSION not in labels:
        return None
    if labels.get(HOST) != socket.gethostname():
        return None
    if PID_NS in labels and labels[PID_NS] != pid_namespace():
        return None  # that pid is another namespace's; without the label, judged as before
    try:
        pid = int(labels[PID])
    except ValueError:
        return None
    if pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by another user
    recorded = labels.get(PID_START)
    if recorded is None:
        return True
    current = process_start(pid)
    return current is None or current == recorded
