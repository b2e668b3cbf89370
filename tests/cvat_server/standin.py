"""Functions served by cvat-fn behind the Nuclio dashboard stand-in, for a real CVAT to call.

Nuclio's dashboard cannot run here (its images cannot be pulled): tests/nuclio_dashboard.py
is a STAND-IN for it. Behind it, each function runs under cvat-fn's process runner exactly as
``cvat-fn serve`` runs it: a Nuclio function directory as it is, a cvat-sdk module through the
scratch Nuclio directory ``cvat-fn serve`` and ``cvat-fn invoke`` use
(harness.sdk.export.scratch_function, what ``cvat-fn export-nuclio`` writes).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from harness.nuclio.runners.process import ProcessRunner
from harness.nuclio.spec import load_spec
from tests.nuclio_dashboard import Deployed, StandInDashboard, stand_in_dashboard


def function_dir(path: Path, stack: ExitStack) -> Path:
    """A Nuclio function directory for ``path``: itself, or a cvat-sdk module's scratch one."""
    if path.is_dir():
        return path
    from harness.sdk.export import scratch_function

    directory, scratch = scratch_function(str(path), [])
    stack.callback(scratch.remove)
    return Path(directory)


@contextmanager
def served(paths: list[Path], namespace: str = "nuclio") -> Iterator[StandInDashboard]:
    """Start every function (directory or cvat-sdk ``.py``) and the stand-in in front of them,
    listing each under its function.yaml ``metadata.name`` in ``namespace``."""
    runner = ProcessRunner()
    with ExitStack() as stack:
        deployed: dict[str, Deployed] = {}
        for path in paths:
            directory = function_dir(Path(path), stack)
            running = stack.enter_context(runner.start(directory))
            name = load_spec(directory).name
            deployed[name] = Deployed(directory, url=running.url, namespace=namespace)
        yield stack.enter_context(stand_in_dashboard(deployed))
