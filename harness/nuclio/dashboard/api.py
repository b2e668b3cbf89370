"""The HTTP side: Nuclio's dashboard API, and each function's own port.

Followed from nuclio/nuclio (1.14) ``pkg/dashboard/resource/function.go`` (``GetAll``: a JSON
object keyed by function name; ``GetByID``; ``functionToAttributes``: metadata, spec, status)
and ``pkg/dashboard/resource/invocation.go`` (``handleRequest``: the function from
``X-Nuclio-Function-Name``, the path from ``X-Nuclio-Path``, ``X-Nuclio-Invoke-Timeout`` as a Go
duration, the caller's headers passed on; errors as ``{"error": "..."}``; the function's
answer passed back without its ``X-Nuclio-*`` headers), with ``pkg/platform/types.go``
``EnrichFunction`` for an unknown name (404 "Function not found: NAME @ NAMESPACE").

Each function also has a port of its own (``status.httpPort``), for CVAT's "direct" invoke
method, which POSTs straight to ``http://localhost:PORT/``. Both ways lead to the same
forwarding and the same live verdict.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from harness.nuclio.dashboard.registry import Registry, ServedFunction
from harness.nuclio.dashboard.verdicts import Exchange, Verdicts, exchange_headers
from harness.nuclio.spec import parse_duration

DEFAULT_INVOKE_TIMEOUT_S = 60.0
"""Nuclio's ``FunctionInvocationDefaultTimeout`` (pkg/platform/types.go): one minute."""
DIRECT_TIMEOUT_S = 120.0
"""CVAT's own (CVAT_NUCLIO_DEFAULT_TIMEOUT) for its "direct" calls, which name none."""
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}
OWN = {"server", "date"}
"""Response headers this server writes itself."""
LOG_LEVEL = "X-Nuclio-Log-Level"


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self.registry: Registry
        self.verdicts: Verdicts
        self.function: ServedFunction | None = None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

    def setup(self) -> None:
        super().setup()
        # headers and body go out in separate writes: without this, Nagle's algorithm and a
        # delayed ACK hold the body back for tens of milliseconds
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib's name
        pass

    def reply(self, status: int, body: bytes, headers: list[tuple[str, str]] | None = None) -> None:
        self.send_response(status)
        has_type = False
        for key, value in headers or [("Content-Type", "application/json")]:
            has_type = has_type or key.lower() == "content-type"
            self.send_header(key, value)
        if not has_type:
            self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def reply_json(self, status: int, document: Any) -> None:
        self.reply(status, json.dumps(document, default=str).encode())

    def error(self, status: int, message: str) -> None:
        """invocation.go ``writeErrorMessage``: ``{"error": "..."}``."""
        self.reply_json(status, {"error": message})

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def judge(self, exchange: Exchange) -> None:
        """CVAT's calls are POSTs; anything else (a probe, a browser) is passed on unjudged."""
        if exchange.method == "POST":
            self.server.verdicts.submit(exchange)

    def forward(
        self, fn: ServedFunction, path: str, timeout: float, via: str, nuclio: bool
    ) -> None:
        """Send the request on to the function, its answer back, and the exchange to be
        judged. ``nuclio``: answer as the dashboard does (X-Nuclio-* headers dropped)."""
        body = self.read_body()
        asked_logs = self.headers.get(LOG_LEVEL)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        headers["Content-Length"] = str(len(body))
        if nuclio:
            headers["X-Nuclio-Target"] = fn.name  # invoker.go sets it
        if not asked_logs:
            headers[LOG_LEVEL] = "debug"  # the request's own log lines, for the verdict
        spec = fn.spec
        exchange = Exchange(
            function=fn.name,
            kind=spec.kind if spec else None,
            labels=spec.labels if spec else None,
            via=via,
            method=self.command,
            body=body,
            headers=exchange_headers(dict(self.headers.items())),
            timeout_s=timeout,
        )
        pool, why = fn.acquire(timeout)
        if pool is None:
            first = why.splitlines()[0] if why else "not running"
            exchange.error = f"the function is not running: {first}"
            self.error(503, f"Failed to invoke function: {why}")
            self.judge(exchange)
            return
        running = fn.running
        logs = running.logs if running is not None else None
        mark = len(logs) if logs is not None else 0
        started = time.perf_counter()
        try:
            status, reply_headers, answer = pool.request(self.command, path, body, headers, timeout)
        except TimeoutError:
            exchange.error = f"no answer within {timeout:g} s (the caller's invoke timeout)"
            exchange.timed_out = True
            self.error(500, f"Failed to invoke function: {exchange.error}")
            return
        except OSError as exc:
            exchange.error = f"{type(exc).__name__}: {exc}"
            self.error(500, f"Failed to invoke function: Failed to send HTTP request: {exc}")
            return
        finally:
            fn.release()
            exchange.latency_s = time.perf_counter() - started
            if exchange.error is not None:
                self.judge(exchange)
        out: list[tuple[str, str]] = []
        for key, value in reply_headers:
            low = key.lower()
            if low == "x-nuclio-logs":
                exchange.logs_header = value
                if nuclio or not asked_logs:
                    continue
            elif low in HOP_BY_HOP or low in OWN or (nuclio and low.startswith("x-nuclio")):
                continue
            out.append((key, value))
        self.reply(status, answer, out)
        exchange.status, exchange.answer = status, answer
        exchange.log_source = logs
        exchange.log_marks = (mark, len(logs) if logs is not None else 0)
        self.judge(exchange)


class DashboardHandler(_Handler):
    """``/api/functions`` and ``/api/function_invocations``, as Nuclio's dashboard."""

    def namespace(self) -> str:
        # every served function answers in whatever namespace CVAT asks for
        return self.headers.get("X-Nuclio-Function-Namespace") or "nuclio"

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/api/functions":
            registry = self.server.registry
            self.reply_json(
                200, {fn.name: fn.attributes(self.namespace()) for fn in registry.listed()}
            )
        elif path.startswith("/api/functions/"):
            name = path.removeprefix("/api/functions/")
            fn = self.server.registry.find(name)
            if fn is None:
                # restful/resource.go writeStatusCodeAndErrorReason of getFunction's error
                self.reply_json(404, {"error": "Function not found", "errorStackTrace": ""})
            else:
                self.reply_json(200, fn.attributes(self.namespace()))
        elif path == "/api/function_invocations":
            self.invoke()
        else:
            self.error(404, f"no such resource: {path}")

    def do_POST(self) -> None:
        if self.path.split("?", 1)[0].rstrip("/") == "/api/function_invocations":
            self.invoke()
        else:
            self.read_body()
            self.error(404 if not self.path.startswith("/api/functions") else 405, "not served")

    do_PUT = do_PATCH = do_DELETE = do_POST

    def invoke(self) -> None:
        """invocation.go handleRequest."""
        name = self.headers.get("X-Nuclio-Function-Name") or ""
        if not name:
            self.read_body()
            self.error(400, "Function name must be provided")
            return
        raw_timeout = self.headers.get("X-Nuclio-Invoke-Timeout")
        try:
            timeout = parse_duration(raw_timeout) if raw_timeout else DEFAULT_INVOKE_TIMEOUT_S
        except ValueError:
            self.read_body()
            self.error(400, "Invalid invoke timeout")
            return
        fn = self.server.registry.find(name)
        if fn is None:
            self.read_body()
            self.error(404, f"Failed to invoke function: Function not found: {name} @ "
                       f"{self.namespace()}")  # fmt: skip
            return
        path = "/" + (self.headers.get("X-Nuclio-Path") or "").lstrip("/")
        self.forward(fn, path, timeout or DEFAULT_INVOKE_TIMEOUT_S, "dashboard", nuclio=True)


class FunctionPortHandler(_Handler):
    """A function's own port: every request goes on to the function as it came."""

    def handle_any(self) -> None:
        fn = self.server.function
        assert fn is not None
        if not fn.listed:
            self.read_body()
            self.error(404, f"{fn.name} is not served: {fn.unlisted}")
            return
        self.forward(fn, self.path, DIRECT_TIMEOUT_S, "direct", nuclio=False)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = handle_any


def serve(server: Server, name: str, on_error: Callable[[str], None]) -> threading.Thread:
    """Run ``server`` on a thread until :meth:`shutdown`."""

    def run() -> None:
        try:
            server.serve_forever(poll_interval=0.2)
        except Exception as exc:  # pragma: no cover - the dashboard goes on without it
            on_error(f"{name}: {exc}")

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread
