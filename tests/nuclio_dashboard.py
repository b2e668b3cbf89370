"""A STAND-IN for Nuclio's dashboard, for tests only: the real one (and the Nuclio platform
behind it) cannot run here, since its images cannot be pulled.

It serves the calls CVAT's lambda manager makes (cvat/apps/lambda_manager/views.py,
LambdaGateway, CVAT 2.73): ``GET /api/functions`` (LambdaGateway.list: an object keyed by
function name, each value a function's config and status, of the namespace named by the
``x-nuclio-function-namespace`` header), ``GET /api/functions/NAME`` (LambdaGateway.get) with
one function's, and ``POST /api/function_invocations``, which forwards the body to a function
really running under the harness, as Nuclio's dashboard does
(pkg/dashboard/resource/invocation.go, handleRequest: function name and namespace from
x-nuclio-* headers, path from x-nuclio-path, the other headers passed on). CVAT reads
``metadata.name``, ``metadata.annotations``, ``spec.description`` and ``status.httpPort``. It
records every request so tests can see what the harness (or CVAT) sent.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
import yaml


@dataclass
class Deployed:
    """One function the stand-in knows: its function.yaml, where it runs, its state."""

    directory: Path
    url: str | None = None
    namespace: str = "nuclio"
    state: str = "ready"

    def config(self) -> dict[str, Any]:
        raw = yaml.safe_load((self.directory / "function.yaml").read_text())
        port = int(self.url.rsplit(":", 1)[1]) if self.url else 0
        return {
            "metadata": {**raw["metadata"], "namespace": self.namespace},
            "spec": raw["spec"],
            "status": {"state": self.state, "httpPort": port},
        }


@dataclass
class StandInDashboard:
    url: str
    functions: dict[str, Deployed]
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)


@contextmanager
def stand_in_dashboard(functions: dict[str, Deployed]) -> Iterator[StandInDashboard]:
    recorded: list[tuple[str, str, dict[str, str]]] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for key, value in (headers or {"Content-Type": "application/json"}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            recorded.append(("GET", self.path, dict(self.headers.items())))
            path = urlsplit(self.path).path.rstrip("/")
            namespace = self.headers.get("x-nuclio-function-namespace", "nuclio")
            if path == "/api/functions":
                listed = {
                    name: deployed.config()
                    for name, deployed in functions.items()
                    if deployed.namespace == namespace
                }
                self._send(200, json.dumps(listed).encode())
                return
            name = path.removeprefix("/api/functions/")
            deployed = functions.get(name)
            if deployed is None or deployed.namespace != namespace:
                self._send(404, b'{"error": "function not found"}')
                return
            self._send(200, json.dumps(deployed.config()).encode())

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            recorded.append(("POST", self.path, dict(self.headers.items())))
            if self.path != "/api/function_invocations":
                self._send(404, b"not found")
                return
            name = self.headers.get("x-nuclio-function-name", "")
            deployed = functions.get(name)
            namespace = self.headers.get("x-nuclio-function-namespace", "nuclio")
            if not name or deployed is None or deployed.namespace != namespace:
                self._send(400, b"Function name must be provided")
                return
            assert deployed.url is not None
            path = self.headers.get("x-nuclio-path", "").lstrip("/")
            passed = {
                k: v
                for k, v in self.headers.items()
                if not k.lower().startswith("x-nuclio-")
                and k.lower() not in ("host", "content-length", "connection")
            }
            if "X-Nuclio-Log-Level" in self.headers:
                passed["X-Nuclio-Log-Level"] = self.headers["X-Nuclio-Log-Level"]
            answer = requests.post(f"{deployed.url}/{path}", data=body, headers=passed, timeout=120)
            headers = {
                k: v
                for k, v in answer.headers.items()
                if k.lower() not in ("content-length", "connection", "transfer-encoding")
            }
            self._send(answer.status_code, answer.content, headers)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield StandInDashboard(f"http://127.0.0.1:{server.server_address[1]}", functions, recorded)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
