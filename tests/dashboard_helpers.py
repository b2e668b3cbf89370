"""``cvat-fn dashboard`` as a real subprocess, and a plain HTTP client that calls it as CVAT's
lambda manager does (cvat/apps/lambda_manager/views.py ``LambdaGateway._http`` at CVAT 2.73.0:
the four x-nuclio-* headers on every call, plus ``x-nuclio-function-name`` and
``x-nuclio-path: /`` on ``POST /api/function_invocations``)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import requests

from tests.test_cli_invoke import child_env
from tests.test_process_cleanup import descendants, wait_gone

ROOT = Path(__file__).resolve().parents[1]
READY_TIMEOUT_S = 120.0


def cvat_headers(namespace: str = "nuclio", timeout_s: int = 120) -> dict[str, str]:
    """The headers LambdaGateway._http sends on every call to the dashboard."""
    return {
        "x-nuclio-project-name": "cvat",
        "x-nuclio-function-namespace": namespace,
        "x-nuclio-invoke-via": "domain-name",
        "X-Nuclio-Invoke-Timeout": f"{timeout_s}s",
    }


class Dashboard:
    """A running ``python -m harness.cli dashboard ...``, its output read as it comes."""

    def __init__(self, args: Sequence[str | Path], cwd: Path, tmp: Path) -> None:
        self.tmp = tmp
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "harness.cli", "dashboard", "--port", "0", *map(str, args)],
            cwd=cwd,
            env=dict(child_env(), TMPDIR=str(tmp)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._cond = threading.Condition()
        for stream, sink in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self._pump, args=(stream, sink), daemon=True).start()
        self.url = self.wait_line(r"^http://", stream="out").strip()
        self.session = requests.Session()

    def _pump(self, stream: Any, sink: list[str]) -> None:
        for line in stream:
            with self._cond:
                sink.append(line.rstrip("\n"))
                self._cond.notify_all()

    def wait_line(
        self, pattern: str, stream: str = "err", timeout: float = READY_TIMEOUT_S, since: int = 0
    ) -> str:
        """The first line (from index ``since``) matching ``pattern``; fails with the
        output so far after ``timeout``."""
        lines = self.out if stream == "out" else self.err
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in lines[since:]:
                    if re.search(pattern, line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise AssertionError(
                        f"no line matching {pattern!r}; stdout:\n" + "\n".join(self.out)
                        + "\nstderr:\n" + "\n".join(self.err)
                    )  # fmt: skip
                self._cond.wait(min(left, 0.5))

    def blocks(self) -> list[str]:
        """The verdict blocks printed so far: from a line starting "== " to an empty line."""
        done, current = [], None
        for line in list(self.out):
            if line.startswith("== "):
                current = [line]
            elif current is not None and line == "":
                done.append("\n".join(current))
                current = None
            elif current is not None:
                current.append(line)
        return done

    def wait_blocks(self, count: int, timeout: float = 60.0) -> list[str]:
        """The first ``count`` verdict blocks printed on stdout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.blocks()) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"fewer than {count} blocks:\n" + "\n".join(self.out))
                self._cond.wait(min(left, 0.5))
            return self.blocks()[:count]

    def functions(self) -> dict[str, Any]:
        reply = self.session.get(f"{self.url}/api/functions", headers=cvat_headers())
        reply.raise_for_status()
        result: dict[str, Any] = reply.json()
        return result

    def wait_state(self, name: str, timeout: float = READY_TIMEOUT_S) -> dict[str, Any]:
        """The function's attributes once it is ready or failed (Nuclio's status.state)."""
        deadline = time.monotonic() + timeout
        while True:
            attrs = self.functions().get(name)
            if attrs and attrs["status"]["state"] in ("ready", "error"):
                return dict(attrs)
            if time.monotonic() > deadline:
                raise AssertionError(f"{name} not ready: {attrs}\n" + "\n".join(self.err))
            time.sleep(0.1)

    def invoke(self, name: str, body: dict[str, Any], timeout_s: int = 120) -> requests.Response:
        """POST /api/function_invocations exactly as LambdaGateway._invoke_via_dashboard."""
        headers = {
            **cvat_headers(timeout_s=timeout_s),
            "x-nuclio-function-name": name,
            "x-nuclio-path": "/",
        }
        return self.session.post(
            f"{self.url}/api/function_invocations", json=body, headers=headers, timeout=300
        )

    def stop(self) -> None:
        """Ctrl-C, then: exit code 0, no process of its own left, no temporary directory."""
        below = descendants(self.proc.pid)
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGINT)
        try:
            code = self.proc.wait(60)
        finally:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.session.close()
        assert code == 0, "\n".join(self.err)
        left = wait_gone(below, 15)
        assert not left, f"processes left behind: {sorted(left)}"
        stray = sorted(p.name for p in self.tmp.glob("cvat-fn-*"))
        assert not stray, f"temporary directories left behind: {stray}"
