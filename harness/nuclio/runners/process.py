"""The default runner: the harness runtime as a host process, in the current Python environment."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO

import harness.nuclio.runners.cleanup as cleanup
import harness.nuclio.runners.failures as failures
import harness.nuclio.runners.wait as wait
import harness.nuclio.runners.watchdog as watchdog
from harness.nuclio.runners.base import LogBuffer, Runner, RunningFunction, StartError
from harness.nuclio.runners.pythonpath import harness_pythonpath
from harness.nuclio.runners.wrapper import ENV as WRAPPER_ENV
from harness.nuclio.runners.wrapper import check_wrapper
from harness.nuclio.spec import FunctionSpec, load_spec

STOP_GRACE_S = 5.0


def pump(stream: IO[bytes], logs: LogBuffer) -> None:
    """Copy a child's output into the log buffer line by line until it closes."""
    for raw in iter(stream.readline, b""):
        logs.append(raw.decode("utf-8", "replace"))
    stream.close()


class ProcessFunction(RunningFunction):
    proc: subprocess.Popen[bytes]
    workdir: str
    health_url: str
    _reader: threading.Thread
    _token: int

    def exit_code(self) -> int | None:
        return self.proc.poll()

    def stop(self) -> None:
        try:
            if self.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(STOP_GRACE_S)
        finally:
            # Whatever cut the graceful stop short: the group goes, workers of a crashed
            # processor included.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            cleanup.unregister(self._token)
        self._reader.join(2)
        shutil.rmtree(self.workdir, ignore_errors=True)
        watchdog.release_group(self.proc.pid)
        watchdog.release_path(self.workdir)


class ProcessRunner(Runner):
    """Starts the processor on 127.0.0.1 with free ports and waits for /ready."""

    name = "process"

    def __init__(
        self,
        python: str | None = None,
        *,
        port: int = 0,
        wrapper: str | Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.python = python or sys.executable
        self.port = port  # the HTTP trigger's port; 0 takes a free one
        # a worker script of the user's (Nuclio's own _nuclio_wrapper.py) instead of ours
        self.wrapper = check_wrapper(wrapper) if wrapper else None
        # added to the processor's (and so its workers') environment, e.g. the debugger's
        self.env = dict(env or {})

    def start(
        self,
        function_dir: Path,
        spec: FunctionSpec | None = None,
        *,
        readiness_timeout: float | None = None,
    ) -> RunningFunction:
        spec = spec or load_spec(function_dir)
        timeout = readiness_timeout or spec.readiness_timeout
        workdir = tempfile.mkdtemp(prefix="cvat-fn-")
        config_path = os.path.join(workdir, "runtime.json")
        ports_path = os.path.join(workdir, "ports.json")
        config = spec.runtime_config()
        config["python"] = self.python
        config["readiness_timeout"] = timeout
        with open(config_path, "w", encoding="utf-8") as handle:
            json.dump(config, handle)
        command = [
            self.python, "-m", "harness.nuclio.runtime", "--config", config_path,
            "--host", "127.0.0.1", "--port", str(self.port), "--health-port", "0",
            "--ports-file", ports_path, "--parent-pid", str(os.getpid()),
            "--remove-on-exit", workdir,
        ]  # fmt: skip
        env = dict(os.environ, PYTHONPATH=harness_pythonpath(os.environ))
        env.update(self.env)
        if self.wrapper:
            env[WRAPPER_ENV] = str(self.wrapper)
        started = time.monotonic()
        try:
            proc = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        except OSError as exc:
            shutil.rmtree(workdir, ignore_errors=True)
            raise StartError(f"{spec.name}: cannot run {self.python}: {exc.strerror}") from None
        # a kill -9 of this process runs no cleanup: the watchdog ends the group then
        watchdog.watch_group(proc.pid)
        watchdog.watch_path(workdir)
        running = ProcessFunction(url="", spec=spec)
        running.proc = proc
        running.workdir = workdir
        assert proc.stdout is not None
        running._reader = threading.Thread(
            target=pump, args=(proc.stdout, running.logs), daemon=True
        )
        running._token = cleanup.register(running.stop)
        running._reader.start()
        ports: dict[str, int] = {}

        def final_logs() -> str:
            running.stop()  # all of its output read, its workers gone
            return failures.explain(running.logs.text(), "process")

        try:
            wait.wait_ready(
                _health_probe(ports_path, ports),
                timeout=timeout,
                logs=final_logs,
                ended=lambda: _ended(proc),
            )
        except StartError as exc:
            running.stop()
            raise StartError(f"{spec.name}: {exc}") from None
        except BaseException:
            running.stop()
            raise
        running.url = f"http://127.0.0.1:{ports['http']}"
        running.health_url = f"http://127.0.0.1:{ports['health']}"
        running.ready_seconds = time.monotonic() - started
        return running


def _ended(proc: subprocess.Popen[bytes]) -> str | None:
    code = proc.poll()
    return None if code is None else f"the function exited (code {code})"


def _health_probe(ports_path: str, ports: dict[str, int]) -> Callable[[], bool]:
    """GET /ready on the health port, once the processor has written its ports file."""
    probes: list[Callable[[], bool]] = []

    def probe() -> bool:
        if not probes:
            if not os.path.exists(ports_path):
                return False
            with open(ports_path, encoding="utf-8") as handle:
                ports.update(json.load(handle))
            probes.append(wait.http_ok(f"http://127.0.0.1:{ports['health']}/ready"))
        return probes[0]()

    return probe
