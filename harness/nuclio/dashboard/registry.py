"""The functions a dashboard serves: each one's spec, lint verdict, state and running copy.

A function is started in the background, so the dashboard answers at once; a request for a
function that is starting (or restarting after a change) waits until it is ready. A function
whose function.yaml CVAT could not read is never listed: CVAT reads the whole list at once, and
one bad entry must not hide the others.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import queue
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.cvat.lint import LintFinding, lint_directory
from harness.nuclio.runners import RunnerUnavailable, make_runner
from harness.nuclio.runners.base import RunningFunction, StartError
from harness.nuclio.spec import FunctionSpec, SpecError, load_spec

# Nuclio's function states (pkg/functionconfig/types.go FunctionState)
BUILDING, READY, ERROR = "building", "ready", "error"
INFLIGHT_GRACE_S = 30.0
"""How long a restart lets requests already sent to the old copy finish."""


def listing_errors(findings: list[LintFinding]) -> list[LintFinding]:
    """Lint errors in what CVAT's function list reads (views.py ``LambdaFunction.__init__``:
    metadata.name, metadata.annotations, spec.description): such a function is left out."""
    return [
        f
        for f in findings
        if f.severity == "error"
        and (f.field.startswith("metadata") or f.field in ("spec.description", "file"))
    ]


@dataclass
class StartOptions:
    """How every served function is started: the runner, its options, the debugger's env."""

    runtime: str = "process"
    base_image: str | None = None
    runner: dict[str, Any] = field(default_factory=dict)
    debug_env: dict[str, str] = field(default_factory=dict)
    sdk_params: list[str] = field(default_factory=list)


class Pool:
    """Keep-alive HTTP connections to one running copy of a function, one per request in
    flight, so a request through the dashboard costs no new TCP connection."""

    def __init__(self, url: str) -> None:
        host, _, port = url.removeprefix("http://").rstrip("/").rpartition(":")
        self.host, self.port = host, int(port)
        self._idle: queue.LifoQueue[http.client.HTTPConnection] = queue.LifoQueue()
        self.closed = False

    def request(
        self, method: str, path: str, body: bytes, headers: Mapping[str, str], timeout: float
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """(status, headers, body); a kept connection the function closed meanwhile is
        replaced once."""
        for attempt in (0, 1):
            try:
                conn = self._idle.get_nowait()
                reused = True
            except queue.Empty:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
                reused = False
            try:
                conn.timeout = timeout
                if conn.sock is not None:
                    conn.sock.settimeout(timeout)
                conn.request(method, path, body=body, headers=dict(headers))
                response = conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                conn.close()
                if reused and attempt == 0:
                    continue
                raise
            except BaseException:
                conn.close()
                raise
            if response.will_close or self.closed:
                conn.close()
            else:
                self._idle.put(conn)
            return response.status, response.getheaders(), data
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.closed = True
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


class ServedFunction:
    """One path given to ``cvat-fn dashboard``: what CVAT sees of it and its running copy."""

    def __init__(self, given: str, options: StartOptions) -> None:
        self.given = given
        self.options = options
        self.cond = threading.Condition()
        self.name = Path(given).name or given
        self.spec: FunctionSpec | None = None
        self.unlisted: str | None = None
        """Why CVAT must not see it (a function.yaml its function list would choke on)."""
        self.state = BUILDING
        self.message = ""
        self.running: RunningFunction | None = None
        self.pool: Pool | None = None
        self.port = 0
        """The function's own port on the dashboard's host (CVAT's "direct" invoke method)."""
        self.inflight = 0
        self.watched: Path | None = None
        self._scratch: Any = None

    # --- what CVAT reads -------------------------------------------------------------------

    @property
    def listed(self) -> bool:
        return self.spec is not None and self.unlisted is None

    def attributes(self, namespace: str) -> dict[str, Any]:
        """The function as Nuclio's dashboard returns it (resource/function.go
        functionToAttributes: metadata, spec, status), with function.yaml's own fields."""
        assert self.spec is not None
        raw = self.spec.raw
        meta = dict(raw.get("metadata") or {})
        meta["name"] = self.spec.name
        meta["namespace"] = namespace
        meta["annotations"] = dict(self.spec.annotations)
        spec = dict(raw.get("spec") or {})
        spec["description"] = self.spec.description
        status: dict[str, Any] = {"state": self.state, "httpPort": self.port}
        if self.state == ERROR and self.message:
            status["message"] = self.message
        running = self.running
        if running is not None:  # where the function itself answers, without the dashboard
            status["internalInvocationUrls"] = [running.url.removeprefix("http://")]
        return {"metadata": meta, "spec": spec, "status": status}

    # --- loading and starting --------------------------------------------------------------

    def load(self) -> None:
        """Read (and lint) the function.yaml, making a scratch directory for a cvat-sdk
        module first; sets ``spec``, ``name`` and ``unlisted`` together, so a request during
        a reload never sees the function half gone."""
        self._remove_scratch()
        spec, unlisted = self._read()
        with self.cond:
            if spec is not None:
                self.name = spec.name
            self.spec, self.unlisted = spec, unlisted

    def _read(self) -> tuple[FunctionSpec | None, str | None]:
        from harness.sdk import looks_like_sdk_ref

        directory: Path
        try:
            if looks_like_sdk_ref(self.given):
                from harness.sdk import SdkUnavailable, scratch_directory

                module = Path(self.given.partition(":")[0])
                self.watched = module.resolve().parent if module.suffix == ".py" else Path.cwd()
                try:
                    directory, self._scratch = scratch_directory(
                        self.given, self.options.sdk_params
                    )
                except SdkUnavailable as exc:
                    return None, str(exc)
            else:
                directory = Path(self.given)
                where = directory if directory.is_dir() else directory.parent
                self.watched = Path(os.path.realpath(where))  # no RuntimeError on a loop
            spec = load_spec(directory)
        except SpecError as exc:
            return None, str(exc)
        broken = listing_errors(lint_directory(spec.path))
        return spec, "; ".join(str(f) for f in broken) if broken else None

    def start(self) -> None:
        """Start the function with the chosen runner; the state says how it went."""
        spec = self.spec
        if spec is None or self.unlisted:
            return
        debug = self.options.debug_env
        if debug:
            spec.num_workers = 1  # one worker, so the debugger sees every request
            spec.event_timeout = None  # a breakpoint must not be taken for a hung handler
        try:
            runner = make_runner(
                self.options.runtime,
                base_image=self.options.base_image,
                env=debug or None,
                **self.options.runner,
            )
            running = runner.start(spec.directory, spec)
        except (StartError, RunnerUnavailable) as exc:
            with self.cond:
                self.state, self.message = ERROR, str(exc)
                self.cond.notify_all()
            return
        with self.cond:
            self.running = running
            self.pool = Pool(running.url)
            self.state, self.message = READY, ""
            self.cond.notify_all()

    def hold(self) -> None:
        """From now on new requests wait (in :meth:`acquire`) for the restart to come."""
        with self.cond:
            self.state, self.message = BUILDING, ""

    def restart(self) -> None:
        """Stop the running copy (after the requests it is serving), read function.yaml
        again and start anew; requests arriving meanwhile wait in :meth:`acquire`."""
        self.hold()
        with self.cond:
            deadline = time.monotonic() + INFLIGHT_GRACE_S
            while self.inflight and time.monotonic() < deadline:
                self.cond.wait(deadline - time.monotonic())
        self._stop_running()
        self.load()
        if self.unlisted:
            with self.cond:
                self.state, self.message = ERROR, self.unlisted
                self.cond.notify_all()
            return
        self.start()

    # --- serving ---------------------------------------------------------------------------

    def acquire(self, timeout: float) -> tuple[Pool | None, str]:
        """Wait (up to ``timeout``) until the function is ready; (its pool, "") then, or
        (None, why not). The caller must :meth:`release` after a pool is handed out."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.state == BUILDING:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None, f"{self.name} is still starting after {timeout:g} s"
                self.cond.wait(left)
            if self.state != READY or self.pool is None:
                return None, self.message or f"{self.name} is not running"
            code = self.running.exit_code() if self.running else None
            if code is not None:
                return None, f"{self.name}: the function exited (code {code})"
            self.inflight += 1
            return self.pool, ""

    def release(self) -> None:
        with self.cond:
            self.inflight -= 1
            self.cond.notify_all()

    def stop(self) -> None:
        self._stop_running()
        self._remove_scratch()

    def _stop_running(self) -> None:
        with self.cond:
            running, pool = self.running, self.pool
            self.running, self.pool = None, None
        if pool is not None:
            pool.close()
        if running is not None:
            running.stop()

    def _remove_scratch(self) -> None:
        if self._scratch is not None:
            with contextlib.suppress(OSError):
                self._scratch.remove()
            self._scratch = None


class Registry:
    """Every served function, found by the name CVAT calls it by."""

    def __init__(self, functions: list[ServedFunction]) -> None:
        self.functions = functions

    def listed(self) -> list[ServedFunction]:
        return [f for f in self.functions if f.listed]

    def find(self, name: str) -> ServedFunction | None:
        return next((f for f in self.listed() if f.name == name), None)

    def load_all(self) -> None:
        """Load every function; a second one of the same name is left out, named."""
        seen: dict[str, str] = {}
        for fn in self.functions:
            fn.load()
            if fn.listed:
                if fn.name in seen:
                    fn.unlisted = f"the name {fn.name!r} is also {seen[fn.name]}'s"
                else:
                    seen[fn.name] = fn.given

    def start_all(self) -> list[threading.Thread]:
        """Start every listed function in the background."""
        threads = [
            threading.Thread(target=fn.start, name=f"start-{fn.name}", daemon=True)
            for fn in self.listed()
        ]
        for thread in threads:
            thread.start()
        return threads

    def stop_all(self) -> None:
        for fn in self.functions:
            fn.stop()
