"""The one shape every runner hands back, so checks never know where a function runs."""

from __future__ import annotations

import abc
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import ClassVar

from harness.nuclio.spec import FunctionSpec


class StartError(RuntimeError):
    """The function did not become ready; the message carries its traceback and logs."""


class LogBuffer:
    """Thread-safe store of a function's output lines, so a failure can quote them."""

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._lock = threading.Lock()

    def append(self, line: str) -> None:
        with self._lock:
            self._lines.append(line.rstrip("\n"))

    def lines(self, since: int = 0) -> list[str]:
        with self._lock:
            return self._lines[since:]

    def __len__(self) -> int:
        with self._lock:
            return len(self._lines)

    def text(self, since: int = 0) -> str:
        return "\n".join(self.lines(since))


@dataclass
class RunningFunction(abc.ABC):
    """A started function: where to reach it, what it printed, how to stop it."""

    url: str
    spec: FunctionSpec
    logs: LogBuffer = field(default_factory=LogBuffer)
    ready_seconds: float = 0.0
    captures_logs: ClassVar[bool] = True
    """False where the function's output cannot be seen (one running elsewhere): then `logs`
    stays empty and nothing should wait for a line to arrive in it."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop everything start made; safe to call twice."""

    def exit_code(self) -> int | None:
        """None while the function runs; its exit code once it has ended by itself."""
        return None

    def __enter__(self) -> RunningFunction:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class Runner(abc.ABC):
    """Starts a function directory somewhere and returns a RunningFunction."""

    name: str = ""

    @abc.abstractmethod
    def start(
        self,
        function_dir: Path,
        spec: FunctionSpec | None = None,
        *,
        readiness_timeout: float | None = None,
    ) -> RunningFunction:
        """Start and wait until ready (bounded by readiness_timeout or the spec's)."""
