"""The concurrency check never has more requests in flight than the function's numWorkers:
a real HTTP server counts how many it is serving at once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from harness.nuclio.spec import FunctionSpec
from harness.suite.checks.concurrency import check_concurrency
from harness.suite.checks.target import Target
from harness.suite.config import Fixture, SuiteConfig

IMAGE = Path(__file__).parents[1] / "fixtures" / "images" / "astronaut.jpg"


class Counting(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.lock = threading.Lock()
        self.in_flight = 0
        self.most = 0
        self.hold_for = 1
        self.released = False
        self.arrived = threading.Condition(self.lock)


class Handler(BaseHTTPRequestHandler):
    server: Counting

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        self.rfile.read(int(self.headers["Content-Length"]))
        with self.server.lock:
            self.server.in_flight += 1
            self.server.most = max(self.server.most, self.server.in_flight)
            # hold it until as many requests as the function has workers are in flight (a
            # barrier, not a sleep), so that the client's parallelism shows in the count
            if self.server.in_flight >= self.server.hold_for:
                self.server.released = True
                self.server.arrived.notify_all()
            self.server.arrived.wait_for(lambda: self.server.released, timeout=5)
            self.server.in_flight -= 1
        body = b"[]"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[Counting]:
    srv = Counting()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.mark.parametrize("workers", [1, 3])
def test_never_more_in_flight_than_num_workers(server: Counting, workers: int) -> None:
    spec = FunctionSpec(directory=IMAGE.parent, raw={}, kind="detector", num_workers=workers)
    fixtures = [Fixture(name="astronaut", image=IMAGE, threshold=0.5)]
    url = f"http://127.0.0.1:{server.server_address[1]}"
    target = Target(url=url, spec=spec, config=SuiteConfig(path=None), fixtures=fixtures)
    target.answer(fixtures[0])  # the sequential answer, sent alone
    server.hold_for, server.released = workers, False
    sent = check_concurrency(target)
    assert sent >= workers
    assert server.most == workers
