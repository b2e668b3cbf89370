"""A function that already runs somewhere (``nuctl deploy``, a cluster, ``cvat-fn serve``):
nothing to start or stop, only a URL to reach. Its logs come per request (X-Nuclio-Logs)."""

from __future__ import annotations

import time
from pathlib import Path

import requests

from harness.runners.base import Runner, RunningFunction, StartError
from harness.spec import FunctionSpec, load_spec


class UrlFunction(RunningFunction):
    def stop(self) -> None:
        """Not ours to stop."""


class UrlRunner(Runner):
    name = "url"

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def start(
        self,
        function_dir: Path,
        spec: FunctionSpec | None = None,
        *,
        readiness_timeout: float | None = None,
    ) -> RunningFunction:
        spec = spec or load_spec(function_dir)
        started = time.monotonic()
        try:
            # Any HTTP answer means something listens; the checks judge what it says.
            requests.get(self.url, timeout=readiness_timeout or 10)
        except requests.RequestException as exc:
            raise StartError(f"{self.url} does not answer: {type(exc).__name__}") from None
        running = UrlFunction(url=self.url, spec=spec)
        running.ready_seconds = time.monotonic() - started
        return running
