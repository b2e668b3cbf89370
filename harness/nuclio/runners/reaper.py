"""Remove containers left behind by runs that were killed before they could clean up.

The second line behind the watchdog (watchdog.py, which removes a killed run's containers
within seconds): where a watchdog could not run or was killed too, every container this
harness starts is labelled with its owner's pid (labels.py), and a later run removes those
whose owner is gone. Anything without our labels, or owned by a live process or another
host, is left alone.
"""

from __future__ import annotations

import contextlib
from typing import Any

import harness.nuclio.runners.labels as labels


def orphans(client: Any) -> list[Any]:
    """Our containers (running or not) whose owning process no longer exists."""
    found = client.containers.list(
        all=True, filters={"label": [f"{labels.MANAGED}=true", labels.SESSION, labels.PID]}
    )
    return [c for c in found if labels.owner_alive(c.labels or {}) is False]


def reap(client: Any) -> list[str]:
    """Remove orphaned containers; returns their names. Errors on one do not stop the rest."""
    import docker.errors

    removed = []
    for container in orphans(client):
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            container.remove(force=True, v=True)
            removed.append(container.name)
    return removed
