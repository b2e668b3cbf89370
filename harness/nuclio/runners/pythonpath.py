"""PYTHONPATH for the child Pythons the harness starts (workers, the watchdog, cvat-sdk loads).

A module of its own: the process runner imports the watchdog, and the watchdog needs this too.
"""

from __future__ import annotations

import os
from pathlib import Path


def harness_pythonpath(environ: dict[str, str] | os._Environ[str]) -> str:
    """PYTHONPATH for a child Python that finds this harness package first, installed or not.
    Relative entries are made absolute: workers run in the function's directory, not in this
    one."""
    import harness

    root = str(Path(harness.__file__).resolve().parents[1])
    rest = [os.path.abspath(p) for p in environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return os.pathsep.join([root, *rest])
