"""A function that already runs somewhere (``nuctl deploy``, a cluster, ``cvat-fn serve``):
nothing to start or stop, only a way to reach it. Its logs come per request (X-Nuclio-Logs).

Two ways in. ``--function-url URL``: the function's own HTTP port; ready once the port accepts
connections (no request is sent: any request would call the handler). ``--nuclio-dashboard URL
--function-name NAME``: through Nuclio's dashboard, as CVAT's lambda manager reaches functions
(cvat/apps/lambda_manager/views.py, LambdaGateway._http and _invoke_via_dashboard): the
function's config from ``GET /api/functions/NAME``, ready when its state is ``ready``, and each
request sent as ``POST /api/function_invocations`` with CVAT's x-nuclio-* headers. A local
forwarder turns that into a plain URL, so the checks see the same thing as with any runner.
"""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
import yaml

import harness.nuclio.runners.wait as wait
from harness.nuclio.runners.base import Runner, RunningFunction, StartError
from harness.nuclio.spec import DEFAULT_READINESS_S, FunctionSpec, load_spec

CVAT_TIMEOUT_S = 120  # CVAT's settings.NUCLIO["DEFAULT_TIMEOUT"]
FAILED_STATES = ("error", "unhealthy")  # Nuclio's function states that will not turn ready
HOP_BY_HOP = {"connection", "content-length", "transfer-encoding", "keep-alive", "date", "server"}


def cvat_headers(namespace: str) -> dict[str, str]:
    """The headers CVAT's LambdaGateway._http sends the dashboard with every call."""
    return {
        "x-nuclio-project-name": "cvat",
        "x-nuclio-function-namespace": namespace,
        "x-nuclio-invoke-via": "domain-name",
        "X-Nuclio-Invoke-Timeout": f"{CVAT_TIMEOUT_S}s",
    }


class UrlFunction(RunningFunction):
    forwarder: ThreadingHTTPServer | None = None
    captures_logs = False  # only what each answer's X-Nuclio-Logs header carries

    def stop(self) -> None:
        """The function is not ours to stop; only the local forwarder, if any, goes."""
        if self.forwarder is not None:
            self.forwarder.shutdown()
            self.forwarder.server_close()
            self.forwarder = None


class UrlRunner(Runner):
    name = "url"

    def __init__(
        self,
        url: str | None = None,
        *,
        dashboard: str | None = None,
        function_name: str | None = None,
        namespace: str = "nuclio",
    ) -> None:
        if not url and not (dashboard and function_name):
            raise StartError("the url runner needs a URL, or a dashboard and a function name")
        self.url = url.rstrip("/") if url else None
        self.dashboard = dashboard.rstrip("/") if dashboard else None
        self.function_name = function_name
        self.namespace = namespace

    def start(
        self,
        function_dir: Path,
        spec: FunctionSpec | None = None,
        *,
        readiness_timeout: float | None = None,
    ) -> RunningFunction:
        spec = spec or load_spec(function_dir)
        timeout = readiness_timeout or spec.readiness_timeout or DEFAULT_READINESS_S
        if self.dashboard:
            return self._through_dashboard(spec, timeout)
        assert self.url is not None
        last = [""]
        seconds = wait.wait_ready(
            _accepts(self.url, last),
            timeout=timeout,
            logs=lambda: f"(not this runner's to see) last attempt: {self.url}: {last[0]}",
        )
        running = UrlFunction(url=self.url, spec=spec)
        running.ready_seconds = seconds
        return running

    def _through_dashboard(self, spec: FunctionSpec, timeout: float) -> RunningFunction:
        assert self.dashboard and self.function_name
        dashboard = Dashboard(self.dashboard, self.namespace)
        state = [""]

        def ready() -> bool:
            state[0] = dashboard.state(self.function_name or "")
            return state[0] == "ready"

        def ended() -> str | None:
            failed = state[0].split(" ")[0] in FAILED_STATES
            return f"{self.function_name} is in state {state[0]!r}" if failed else None

        try:
            seconds = wait.wait_ready(
                ready,
                timeout=timeout,
                ended=ended,
                logs=lambda: f"the dashboard at {self.dashboard} said: {state[0]}",
                poll=0.5,
            )
        except StartError as exc:
            raise StartError(f"{self.function_name}: {exc}") from None
        forwarder = start_forwarder(dashboard, self.function_name)
        running = UrlFunction(url=f"http://127.0.0.1:{forwarder.server_address[1]}", spec=spec)
        running.forwarder = forwarder
        running.ready_seconds = seconds
        return running


def _accepts(url: str, last: list[str]) -> Any:
    """A probe: does the URL's host:port accept a TCP connection?"""
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or (443 if parts.scheme == "https" else 80)

    def probe() -> bool:
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError as exc:
            last[0] = f"{type(exc).__name__}: {exc}"
            return False

    return probe


class Dashboard:
    """Nuclio's dashboard API, called with the headers CVAT sends."""

    def __init__(self, url: str, namespace: str) -> None:
        self.url = url.rstrip("/")
        self.namespace = namespace
        self.session = requests.Session()

    def function(self, name: str) -> dict[str, Any]:
        """``GET /api/functions/NAME``: the deployed function's config and status."""
        response = self.session.get(
            f"{self.url}/api/functions/{name}", headers=cvat_headers(self.namespace), timeout=10
        )
        if response.status_code == 404:
            raise LookupError(f"no function {name!r} in namespace {self.namespace!r}")
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    def state(self, name: str) -> str:
        """The function's state (``ready`` when it can serve), or what stands in the way."""
        try:
            status = self.function(name).get("status") or {}
        except (requests.RequestException, LookupError, ValueError) as exc:
            return f"unreachable ({exc})"
        message = status.get("message")
        return str(status.get("state") or "unknown") + (f" ({message})" if message else "")

    def invoke(
        self, name: str, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> requests.Response:
        """``POST /api/function_invocations`` as CVAT's _invoke_via_dashboard does."""
        sent = {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP | {"host"}}
        sent.update(cvat_headers(self.namespace))
        sent.update({"x-nuclio-function-name": name, "x-nuclio-path": path or "/"})
        return self.session.request(
            method,
            f"{self.url}/api/function_invocations",
            data=body,
            headers=sent,
            timeout=CVAT_TIMEOUT_S,
        )


def fetch_function_yaml(dashboard: str, name: str, namespace: str, into: Path) -> Path:
    """Write the deployed function's config as INTO/NAME/function.yaml; return that directory.

    Lets the suite run against a function with no local directory: kind, labels, numWorkers
    and the rest come from the dashboard, as CVAT reads them.
    """
    config = Dashboard(dashboard, namespace).function(name)
    directory = into / name
    directory.mkdir(parents=True, exist_ok=True)
    document = {"metadata": config.get("metadata") or {}, "spec": config.get("spec") or {}}
    (directory / "function.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
    return directory


def start_forwarder(dashboard: Dashboard, name: str) -> ThreadingHTTPServer:
    """A local HTTP server that sends each request on through the dashboard."""

    class Forward(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib's name
            pass

        def handle_any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
            try:
                answer = dashboard.invoke(
                    name, self.command, self.path, body, dict(self.headers.items())
                )
                status, content = answer.status_code, answer.content
                headers = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP}
            except requests.RequestException as exc:
                status, headers = 502, {"Content-Type": "text/plain"}
                content = f"the dashboard did not answer: {exc}".encode()
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any

    server = ThreadingHTTPServer(("127.0.0.1", 0), Forward)
    server.daemon_threads = True
    # listening already: requests queue until the thread serves them
    threading.Thread(target=server.serve_forever, name="dashboard-forwarder", daemon=True).start()
    return server
