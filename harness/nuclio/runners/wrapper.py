"""A user-supplied worker script (``--wrapper PATH``), such as Nuclio's own _nuclio_wrapper.py.

The processor runs it as Nuclio's python runtime does (runtime.go, getWrapperScriptPath): the
path comes in NUCLIO_PYTHON_WRAPPER_PATH, and the script speaks Nuclio 1.13/1.14's protocol.
"""

from __future__ import annotations

from pathlib import Path

from harness.nuclio.runners.base import StartError

ENV = "NUCLIO_PYTHON_WRAPPER_PATH"
IN_CONTAINER = "/opt/cvat-fn-wrapper/_nuclio_wrapper.py"


class WrapperError(StartError):
    """--wrapper names no readable Python file."""


def check_wrapper(path: str | Path) -> Path:
    """The wrapper's absolute path; WrapperError saying what is wrong with it."""
    wrapper = Path(path).expanduser().resolve()
    if not wrapper.is_file():
        raise WrapperError(f"--wrapper {path}: no such file (give a _nuclio_wrapper.py)")
    return wrapper
