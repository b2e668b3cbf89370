"""The Nuclio dashboard address CVAT is started with, forwarding to the dashboard a test chooses.

CVAT reads ``CVAT_NUCLIO_HOST``/``PORT`` once, at start (cvat/settings/base.py, ``NUCLIO``),
while the server lives for the whole session and each test brings its own dashboard (the
stand-in in tests/nuclio_dashboard.py, or ``cvat-fn dashboard``). So CVAT is pointed at this
forwarder, on a port of its own, and ``target`` says where it forwards: method, path, query,
headers and body pass unchanged both ways. With no target it answers 503, which CVAT reports
as it reports a dashboard that is down.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class Forwarder:
    """A forwarding HTTP endpoint on 127.0.0.1 in this process; ``url`` is what CVAT calls."""

    def __init__(self, port: int = 0, timeout: float = 130.0) -> None:
        self.target: str | None = None  # e.g. http://127.0.0.1:8070, no trailing slash
        self.timeout = timeout  # above CVAT's own 120 s (CVAT_NUCLIO_DEFAULT_TIMEOUT)
        forwarder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                target = forwarder.target
                if target is None:
                    self._send(503, b'{"error": "no Nuclio dashboard chosen by the test"}', {})
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                try:
                    answer = requests.request(
                        self.command, target + self.path, data=body, headers=headers,
                        timeout=forwarder.timeout, allow_redirects=False,
                    )  # fmt: skip
                except requests.RequestException as exc:
                    self._send(502, f'{{"error": "{type(exc).__name__}"}}'.encode(), {})
                    return
                passed = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP}
                passed.pop("Content-Encoding", None)  # requests has decoded the body
                self._send(answer.status_code, answer.content, passed)

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                headers.setdefault("Content-Type", "application/json")
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _forward

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
